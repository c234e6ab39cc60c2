/* libFuzzer target: a hardware cost table (src/hw_table.c) through
 * hw_table_parse. A table it accepts must write (hw_table_write) and read
 * back to the same rows. The input is the file's text. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "src/hw_table.h"
#include "tests/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hw_table t;
    hw_table_init(&t);
    mx_error e = {0};
    if (fuzz_check_msg(hw_table_parse(&t, (const char *)data, size, "fuzz.hw", &e), &e))
        return 0;
    const char *p = fuzz_path(0, "again.hw");
    if (hw_table_write(p, &t, "fuzz", &e))
        abort();
    hw_table r;
    mx_error e2 = {0};
    if (hw_table_read(p, &r, &e2)) {
        fprintf(stderr, "fuzz_hw_table: hw_table_write output does not read: %s\n", e2.msg);
        abort();
    }
    if (r.n != t.n || r.batch != t.batch || isnan(r.overhead_us) != isnan(t.overhead_us))
        abort();
    for (int i = 0; i < t.n; i++)
        if (!hw_table_find(&r, t.e[i].fmt, t.e[i].rows, t.e[i].cols))
            abort();
    hw_table_free(&r);
    hw_table_free(&t);
    return 0;
}
