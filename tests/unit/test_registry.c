/* Unit tests for the connection-id registry (src/core/registry.c): it grows past
 * the size the start-up configuration gave it (a reload may allow more clients),
 * and removal keeps every other entry reachable. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/proxy.h"
#include "core/registry.h"
#include "core/worker.h"

static void test_grows_and_removes(void **state)
{
    (void)state;
    struct mx_proxy *px = calloc(1, sizeof *px);
    assert_non_null(px);
    assert_int_equal(registry_init(px, 4), 0); /* sized for 4 clients */
    size_t first_cap = px->reg_cap;
    enum { N = 5000 };
    struct mx_reg_entry *e = calloc(N, sizeof *e);
    assert_non_null(e);
    for (int i = 0; i < N; i++) {
        e[i].id = (uint32_t)(i * 7 + 1);
        e[i].worker = i % 3;
        snprintf(e[i].user, sizeof e[i].user, "u%d", i);
        assert_int_equal(registry_add(px, &e[i]), 0);
    }
    assert_true(px->reg_cap > first_cap);
    assert_true(px->reg_n * 2 <= px->reg_cap);
    struct mx_reg_entry out;
    for (int i = 0; i < N; i++) {
        assert_int_equal(registry_get(px, e[i].id, &out), 0);
        assert_int_equal(out.worker, i % 3);
        char want[16];
        snprintf(want, sizeof want, "u%d", i);
        assert_string_equal(out.user, want);
    }
    for (int i = 0; i < N; i += 2) registry_remove(px, &e[i]);
    assert_int_equal(px->reg_n, N / 2);
    for (int i = 0; i < N; i++)
        assert_int_equal(registry_get(px, e[i].id, &out), i % 2 ? 0 : -1);
    assert_int_equal(registry_get(px, 2, &out), -1);
    free(e);
    free(px->reg);
    free(px);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_grows_and_removes)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
