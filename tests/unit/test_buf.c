/* Buffers: the free list keeps what the last minute needed and no more. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "core/buf.h"

/* Takes n buffers out and gives them back: the list then holds n. */
static void burst(struct mx_bufpool *bp, size_t n)
{
    struct mx_buf **v = calloc(n, sizeof *v);
    assert_non_null(v);
    for (size_t i = 0; i < n; i++) assert_non_null(v[i] = buf_get(bp));
    for (size_t i = 0; i < n; i++) buf_put(bp, v[i]);
    free(v);
}

static void test_trim_after_a_minute(void **state)
{
    struct mx_bufpool bp;
    bufpool_init(&bp, 4096);
    uint64_t t = 1000;
    assert_int_equal(bufpool_trim(&bp, t), 0); /* starts the first window */
    burst(&bp, 300);
    assert_int_equal(bp.n_free, 300);
    /* while the burst's window is one of the last BUF_WINDOWS closed ones
     * (the last minute), its need is remembered: nothing goes */
    for (int i = 1; i <= BUF_WINDOWS; i++) {
        t += BUF_WINDOW_MS;
        assert_int_equal(bufpool_trim(&bp, t), 0);
        assert_int_equal(bp.n_free, 300);
    }
    /* the window of the burst leaves the minute: the list empties */
    t += BUF_WINDOW_MS;
    assert_int_equal(bufpool_trim(&bp, t), 300);
    assert_int_equal(bp.n_free, 0);
    bufpool_destroy(&bp);
}

static void test_trim_keeps_what_is_needed(void **state)
{
    struct mx_bufpool bp;
    bufpool_init(&bp, 4096);
    uint64_t t = 1000;
    bufpool_trim(&bp, t);
    burst(&bp, 100);
    /* a steady 40 out, window after window: 60 of the free ones go once the
     * burst is a minute old, 40 stay for the next burst of that size */
    struct mx_buf *held[40];
    for (int i = 0; i < 40; i++) held[i] = buf_get(&bp);
    for (int i = 0; i <= BUF_WINDOWS; i++) bufpool_trim(&bp, t += BUF_WINDOW_MS);
    assert_int_equal(bp.n_out, 40);
    assert_int_equal(bp.n_free, 0); /* the 40 out are all the minute needed */
    for (int i = 0; i < 40; i++) buf_put(&bp, held[i]);
    assert_int_equal(bp.n_free, 40);
    /* no trim inside a window */
    assert_int_equal(bufpool_trim(&bp, t + BUF_WINDOW_MS - 1), 0);
    assert_int_equal(bp.n_free, 40);
    /* a new peak inside the current window is kept for a minute */
    burst(&bp, 70);
    t += BUF_WINDOW_MS;
    assert_int_equal(bufpool_trim(&bp, t), 0);
    assert_int_equal(bp.n_free, 70);
    bufpool_destroy(&bp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trim_after_a_minute),
        cmocka_unit_test(test_trim_keeps_what_is_needed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
