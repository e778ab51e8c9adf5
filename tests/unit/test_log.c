/* Unit tests for src/core/log.c: one line per event, escaping of %s values,
 * the file, its reopen after a rename (logrotate), and the return to stderr. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"

static char dir[64];

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    static char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return buf;
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/mymux-test-log-XXXXXX");
    assert_non_null(mkdtemp(dir));
    assert_int_equal(log_init(), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char p[128];
    snprintf(p, sizeof p, "%s/a.log", dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/a.log.1", dir);
    unlink(p);
    rmdir(dir);
    return 0;
}

static void test_escaping(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/a.log", dir);
    assert_int_equal(log_open(path), 0);
    /* a user name that tries to end the line and start a forged one, and to
     * close its quoted field and add one */
    log_info("connect", "user=\"%s\" db=\"%s\" client=%s n=%d sz=%zu big=%llu pre=%.3s",
             "evil\n2026-01-01T00:00:00.000Z level=error event=forged",
             "x\" admin=\"1\\", "1.2.3.4:5\r\x01", -7, (size_t)42, 18446744073709551615ull,
             "abcdef");
    assert_int_equal(log_open(NULL), 0);
    const char *got = slurp(path);
    assert_non_null(got);
    const char *nl = strchr(got, '\n');
    assert_non_null(nl);
    assert_null(strchr(nl + 1, '\n')); /* exactly one line */
    assert_non_null(strstr(got, " level=info event=connect user=\"evil\\n2026-01-01T00:00:00.000Z "
                                "level=error event=forged\" db=\"x\\\" admin=\\\"1\\\\\" "
                                "client=1.2.3.4:5\\r\\x01 n=-7 sz=42 "
                                "big=18446744073709551615 pre=abc\n"));
}

static void test_reopen_after_rename(void **state)
{
    (void)state;
    char path[128], moved[128];
    snprintf(path, sizeof path, "%s/a.log", dir);
    snprintf(moved, sizeof moved, "%s/a.log.1", dir);
    unlink(path);
    assert_int_equal(log_open(path), 0);
    log_info("one", "k=%d", 1);
    assert_int_equal(rename(path, moved), 0);
    log_info("two", "k=%d", 2); /* still the old file: logrotate's window */
    assert_int_equal(log_reopen(), 0);
    log_info("three", "k=%d", 3);
    assert_int_equal(log_open(NULL), 0);
    log_info("four", "k=%d", 4); /* stderr: in neither file */
    const char *old = slurp(moved);
    assert_non_null(strstr(old, "event=one k=1\n"));
    assert_non_null(strstr(old, "event=two k=2\n"));
    assert_null(strstr(old, "event=three"));
    const char *cur = slurp(path);
    assert_non_null(cur);
    assert_non_null(strstr(cur, "event=three k=3\n"));
    assert_null(strstr(cur, "event=four"));
    assert_null(strstr(cur, "event=one"));
    log_close();
}

static void test_open_failure_keeps_the_old_target(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/a.log", dir);
    unlink(path);
    assert_int_equal(log_open(path), 0);
    assert_int_not_equal(log_open("/nonexistent-dir/x.log"), 0);
    log_info("kept", "k=%d", 5);
    assert_int_equal(log_open(NULL), 0);
    assert_non_null(strstr(slurp(path), "event=kept k=5\n"));
    log_close();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_reopen_after_rename),
        cmocka_unit_test(test_open_failure_keeps_the_old_target),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
