/* One temporary directory for a whole cmocka group: pass tmp_setup and
 * tmp_teardown to cmocka_run_group_tests and write below tmp_dir. */
#ifndef MXALLOC_TEST_TMP_H
#define MXALLOC_TEST_TMP_H

/* The group's directory, made by tmp_setup (tm_tmpdir). */
extern char tmp_dir[256];

/* Makes tmp_dir. Returns 0, -1 when it cannot (cmocka then fails the group). */
int tmp_setup(void **state);

/* Removes tmp_dir and everything below it. Returns 0. */
int tmp_teardown(void **state);

#endif
