/* Files and messages: err_set/err_prefix escaping and separators,
 * fm_read_all on non-regular files, fw_write_atomic onto symlinks, devices,
 * FIFOs and directories, and the removal of stale temporary files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "kernels/err.h"
#include "src/file_map.h"
#include "src/file_write.h"
#include "tests/test_tmp.h"

static void spit(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static char *slurp(const char *path)
{
    char *buf;
    size_t n;
    mx_error e = {0};
    assert_int_equal(fm_read_all(path, &buf, &n, &e), 0);
    return buf;
}

/* A pid that surely belongs to no process: a child that has been reaped. */
static long dead_pid(void)
{
    pid_t p = fork();
    assert_true(p >= 0);
    if (p == 0)
        _exit(0);
    assert_int_equal(waitpid(p, NULL, 0), p);
    return (long)p;
}

static void test_err_escape(void **state)
{
    (void)state;
    mx_error e = {0};
    assert_int_equal(err_set(&e, ERR_FORMAT, "module %s: bad", "a\nb\x1b[31mc\x7f"), ERR_FORMAT);
    assert_string_equal(e.msg, "module a\\x0ab\\x1b[31mc\\x7f: bad");
    /* UTF-8 passes unchanged */
    err_set(&e, ERR_IO, "caf\xc3\xa9");
    assert_string_equal(e.msg, "caf\xc3\xa9");
    /* the message may quote itself (it used to be formatted in place) */
    err_set(&e, ERR_IO, "inner");
    err_set(&e, ERR_IO, "outer: %s", e.msg);
    assert_string_equal(e.msg, "outer: inner");
    /* truncation never splits an escape */
    char small[7];
    err_escape(small, sizeof small, "ab\ncd");
    assert_string_equal(small, "ab\\x0a");
    err_escape(small, 5, "ab\ncd");
    assert_string_equal(small, "ab");
}

static void test_err_prefix(void **state)
{
    (void)state;
    mx_error e = {0};
    err_set(&e, ERR_FORMAT, "\"formats\" is not an object");
    err_prefix(&e, "%s: ", "cfg.json");
    assert_string_equal(e.msg, "cfg.json: \"formats\" is not an object");
    err_set(&e, ERR_FORMAT, "x");
    err_prefix(&e, "%s", "f\nile");
    assert_string_equal(e.msg, "f\\x0aile: x");
    assert_int_equal(e.code, ERR_FORMAT);
}

static void test_read_all_non_regular(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t n;
    mx_error e = {0};
    alarm(20); /* a FIFO used to block the open: fail instead of hanging */
    assert_int_equal(fm_read_all(tmp_dir, &buf, &n, &e), ERR_IO);
    assert_non_null(strstr(e.msg, "is a directory"));
    assert_int_equal(fm_read_all("/dev/zero", &buf, &n, &e), ERR_IO);
    assert_non_null(strstr(e.msg, "not a regular file"));
    char fifo[300];
    snprintf(fifo, sizeof fifo, "%s/fifo", tmp_dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_int_equal(fm_read_all(fifo, &buf, &n, &e), ERR_IO);
    assert_non_null(strstr(e.msg, "not a regular file"));
    file_map fm;
    assert_int_equal(fm_open(&fm, fifo, &e), ERR_IO);
    assert_null(buf);
    unlink(fifo);
    alarm(0);
}

/* A write through link left it a link and put want into target. */
static void expect_link_to(const char *link, const char *target, const char *want)
{
    struct stat st;
    assert_int_equal(lstat(link, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    char *got = slurp(target);
    assert_string_equal(got, want);
    free(got);
}

static void test_write_symlink(void **state)
{
    (void)state;
    char target[300], link[300], rel[300];
    snprintf(target, sizeof target, "%s/target.txt", tmp_dir);
    snprintf(link, sizeof link, "%s/link.txt", tmp_dir);
    snprintf(rel, sizeof rel, "%s/rel.txt", tmp_dir);
    spit(target, "old\n");
    assert_int_equal(chmod(target, 0640), 0);
    assert_int_equal(symlink(target, link), 0);
    assert_int_equal(symlink("target.txt", rel), 0); /* relative to the link's directory */
    mx_error e = {0};
    assert_int_equal(fw_write_atomic(link, "new\n", 4, &e), 0);
    expect_link_to(link, target, "new\n");
    struct stat st;
    assert_int_equal(stat(target, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0640); /* the replaced file's mode is kept */
    assert_int_equal(fw_write_atomic(rel, "rel\n", 4, &e), 0);
    expect_link_to(rel, target, "rel\n");
    /* a dangling link: the write creates its target */
    char dang[300], dtarget[300];
    snprintf(dang, sizeof dang, "%s/dangling", tmp_dir);
    snprintf(dtarget, sizeof dtarget, "%s/created.txt", tmp_dir);
    assert_int_equal(symlink(dtarget, dang), 0);
    assert_int_equal(fw_write_atomic(dang, "c", 1, &e), 0);
    expect_link_to(dang, dtarget, "c");
}

static void test_write_refuses_non_regular(void **state)
{
    (void)state;
    char fifo[300], sub[300], link[300];
    snprintf(fifo, sizeof fifo, "%s/out.fifo", tmp_dir);
    snprintf(sub, sizeof sub, "%s/subdir", tmp_dir);
    snprintf(link, sizeof link, "%s/to-fifo", tmp_dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_int_equal(mkdir(sub, 0700), 0);
    assert_int_equal(symlink(fifo, link), 0);
    mx_error e = {0};
    struct stat st;
    assert_int_equal(fw_write_atomic(fifo, "x", 1, &e), ERR_IO);
    assert_non_null(strstr(e.msg, "not a regular file"));
    assert_int_equal(lstat(fifo, &st), 0);
    assert_true(S_ISFIFO(st.st_mode));
    assert_int_equal(fw_write_atomic(link, "x", 1, &e), ERR_IO);
    assert_int_equal(lstat(fifo, &st), 0);
    assert_true(S_ISFIFO(st.st_mode));
    assert_int_equal(fw_write_atomic(sub, "x", 1, &e), ERR_IO);
    assert_non_null(strstr(e.msg, "is a directory"));
    assert_int_equal(lstat(sub, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(fw_check_dest(fifo, &e), ERR_IO);
    assert_int_equal(fw_check_dest("/dev/null", &e), ERR_IO);
    assert_int_equal(fw_write_atomic("/dev/null", "x", 1, &e), ERR_IO);
    assert_int_equal(stat("/dev/null", &st), 0);
    assert_true(S_ISCHR(st.st_mode));
    char nodir[300];
    snprintf(nodir, sizeof nodir, "%s/missing/x", tmp_dir);
    assert_int_equal(fw_check_dest(nodir, &e), ERR_IO);
    assert_non_null(strstr(e.msg, nodir));
    unlink(link);
    unlink(fifo);
}

static void test_temp_names(void **state)
{
    (void)state;
    long pid = 0;
    assert_true(fw_is_temp_name("a.scores.tmp.1234.aZ09xy", "a.scores", &pid));
    assert_int_equal(pid, 1234);
    assert_true(fw_is_temp_name("a.scores.tmp.1234.aZ09xy", NULL, &pid));
    assert_true(fw_is_temp_name("x.tmp.y.tmp.7.abcdef", NULL, &pid));
    assert_int_equal(pid, 7);
    assert_false(fw_is_temp_name("a.scores.tmp.1234.aZ09x", "a.scores", NULL));
    assert_false(fw_is_temp_name("a.scores.tmp.1234.aZ09xyz", "a.scores", NULL));
    assert_false(fw_is_temp_name("a.scores.tmp.12a4.aZ09xy", "a.scores", NULL));
    assert_false(fw_is_temp_name("a.scores.tmpABCDEF", "a.scores", NULL));
    assert_false(fw_is_temp_name("b.scores.tmp.1234.aZ09xy", "a.scores", NULL));
    assert_false(fw_is_temp_name(".tmp.1234.aZ09xy", NULL, NULL));
    assert_false(fw_is_temp_name("a.tmp.0.aZ09xy", NULL, NULL));
    assert_false(fw_is_temp_name("a.tmp..aZ09xy", NULL, NULL));
}

static void test_stale_temps(void **state)
{
    (void)state;
    char sub[300], p[400];
    snprintf(sub, sizeof sub, "%s/stale", tmp_dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    long dead = dead_pid();
    const char *names[] = {"out.json.tmp.%ld.abcdef", "other.json.tmp.%ld.abcdef",
                           "out.json.tmpABCDEF", "out.json.tmp.%ld.abcde"};
    for (int i = 0; i < 4; i++) {
        char name[100];
        snprintf(name, sizeof name, names[i], dead);
        snprintf(p, sizeof p, "%s/%s", sub, name);
        spit(p, "partial");
    }
    /* a live writer's temp file (our parent) stays */
    snprintf(p, sizeof p, "%s/out.json.tmp.%ld.qwerty", sub, (long)getppid());
    spit(p, "being written");
    snprintf(p, sizeof p, "%s/out.json", sub);
    mx_error e = {0};
    assert_int_equal(fw_write_atomic(p, "{}\n", 3, &e), 0);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "test $(ls %s | wc -l) -eq 5", sub); /* out.json + 4 kept */
    assert_int_equal(system(cmd), 0);
    snprintf(p, sizeof p, "%s/out.json.tmp.%ld.abcdef", sub, dead);
    assert_int_not_equal(access(p, F_OK), 0);
    /* any base: what the cache directory gets */
    assert_int_equal(fw_clean_stale(sub, NULL), 1); /* other.json's */
    snprintf(p, sizeof p, "%s/out.json.tmp.%ld.qwerty", sub, (long)getppid());
    assert_int_equal(access(p, F_OK), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_err_escape),
        cmocka_unit_test(test_err_prefix),
        cmocka_unit_test(test_read_all_non_regular),
        cmocka_unit_test(test_write_symlink),
        cmocka_unit_test(test_write_refuses_non_regular),
        cmocka_unit_test(test_temp_names),
        cmocka_unit_test(test_stale_temps),
    };
    return cmocka_run_group_tests(tests, tmp_setup, tmp_teardown);
}
