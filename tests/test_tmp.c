/* One temporary directory for a whole cmocka group (see test_tmp.h). */
#include "tests/test_tmp.h"

#include "tests/testmodel.h"

char tmp_dir[256];

int tmp_setup(void **state)
{
    (void)state;
    return tm_tmpdir(tmp_dir, sizeof tmp_dir) ? -1 : 0;
}

int tmp_teardown(void **state)
{
    (void)state;
    tm_rmtree(tmp_dir);
    return 0;
}
