/* Every allocation a module makes can fail: linked with -Wl,--wrap for malloc,
 * calloc, realloc and strdup (CMakeLists.txt), the k-th allocation from mymux's
 * own code returns NULL, for k = 1, 2, ... until a run needs no more. Each
 * run must report the failure (an error return or NULL), leave the structure
 * usable and free, and leak nothing (the sanitizer build checks leaks). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/proxy.h"
#include "core/registry.h"
#include "core/worker.h"
#include "pool/stmt.h"
#include "pool/sync.h"
#include "protocol/diag.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);

static long fail_at;  /* the allocation that fails (1-based); 0 = none */
static long counted;  /* allocations since the run began */

static bool fail_now(void)
{
    return fail_at && ++counted == fail_at;
}

void *__wrap_malloc(size_t n)
{
    return fail_now() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t m)
{
    return fail_now() ? NULL : __real_calloc(n, m);
}

void *__wrap_realloc(void *p, size_t n)
{
    return fail_now() ? NULL : __real_realloc(p, n);
}

char *__wrap_strdup(const char *s)
{
    return fail_now() ? NULL : __real_strdup(s);
}

/* Runs body with the k-th allocation failing, k = 1.. until body made fewer
 * than k allocations (then it ran with none failing, and must have succeeded).
 * body returns whether it succeeded; a failed run must have seen a failure. */
static void each_failure(bool (*body)(void), long max_k)
{
    for (long k = 1; k <= max_k; k++) {
        fail_at = k;
        counted = 0;
        bool ok = body();
        long made = counted;
        fail_at = 0;
        if (made < k) { /* nothing failed: the whole run must have worked */
            if (!ok) fail_msg("failed with no allocation failing (k=%ld)", k);
            if (k == 1) fail_msg("no allocation was seen: the wrapping does not work");
            return;
        }
        (void)ok; /* a failure at k may or may not be fatal to the run: no crash, no leak */
    }
    fail_msg("still allocating after %ld allocations", max_k);
}

/* ---- configuration: every allocation while loading one full file ---- */

static const char *const CONF =
    "listen: 127.0.0.1:6033\n"
    "workers: 2\n"
    "busy_poll: 20us\n"
    "users:\n"
    "  - name: app\n"
    "    password: apppass\n"
    "  - name: other\n"
    "    password: x\n"
    "    backend_user: app\n"
    "    backend_password: apppass\n"
    "backends:\n"
    "  - name: a\n"
    "    address: 127.0.0.1:3306\n"
    "  - name: b\n"
    "    address: localhost:3307\n"
    "    weight: 3\n"
    "pool:\n"
    "  max_per_backend: 8\n"
    "admin:\n"
    "  listen: 127.0.0.1:8080\n"
    "  allowed_hosts: [a.example, b.example]\n"
    "log:\n"
    "  slow_query: 2s\n";

static bool load_config(void)
{
    struct mx_config *cfg = NULL;
    char err[512];
    int rc = config_load_string("t.yaml", CONF, strlen(CONF), &cfg, err, sizeof err);
    if (rc == 0) {
        config_free(cfg);
        return true;
    }
    assert_null(cfg);
    assert_true(err[0] != 0); /* the failure is said */
    return false;
}

static void test_config_load(void **state)
{
    (void)state;
    each_failure(load_config, 10000);
}

/* ---- prepared statements: the worker's cache, a session's table, a backend's map ---- */

static bool statements(void)
{
    struct mx_pcache c;
    pcache_init(&c, 64);
    struct mx_stmts t;
    stmts_init(&t);
    struct mx_bstmts m;
    memset(&m, 0, sizeof m);
    bool ok = true;
    for (int i = 0; i < 20; i++) {
        char sql[32];
        int n = snprintf(sql, sizeof sql, "SELECT %d", i);
        uint64_t key = pstmt_key("u", "s", sql, (size_t)n);
        struct mx_pstmt *ps = pcache_find(&c, key, "u", "s", sql, (size_t)n);
        if (!ps) ps = pcache_add(&c, key, "u", "s", sql, (size_t)n);
        if (!ps) {
            ok = false;
            continue;
        }
        if (!stmts_add(&t, ps)) ok = false;
        uint32_t evicted;
        if (!bstmts_add(&m, &c, ps, (uint32_t)i + 1, 8, &evicted)) ok = false;
        pstmt_unref(&c, ps);
    }
    bstmts_free(&m, &c);
    stmts_free(&t, &c);
    pcache_destroy(&c);
    return ok;
}

static void test_statements(void **state)
{
    (void)state;
    each_failure(statements, 10000);
}

/* ---- session settings and diagnostics ---- */

static bool settings(void)
{
    struct mx_vars a, b;
    vars_init(&a);
    vars_init(&b);
    bool ok = true;
    static const char *const names[] = {"time_zone", "sql_mode", "autocommit", "wait_timeout"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (vars_set(&a, names[i], strlen(names[i]), "'x'", 3) != 0) ok = false;
    if (vars_copy(&b, &a) != 0) ok = false;
    else if (ok && !vars_same(&a, &b)) fail_msg("a copy that succeeded differs");
    vars_free(&a);
    vars_free(&b);
    return ok;
}

static void test_settings(void **state)
{
    (void)state;
    each_failure(settings, 10000);
}

static bool diagnostics(void)
{
    struct mx_diag d;
    diag_init(&d);
    bool ok = true;
    /* SHOW WARNINGS rows: Level, Code, Message as length-encoded strings */
    static const uint8_t row[] = {7, 'W', 'a', 'r', 'n', 'i', 'n', 'g', 4, '1', '2', '9', '2',
                                  5, 'h', 'e', 'l', 'l', 'o'};
    for (int i = 0; i < 40; i++)
        if (diag_add_row(&d, row, sizeof row) != 0) ok = false;
    diag_free(&d);
    return ok;
}

static void test_diagnostics(void **state)
{
    (void)state;
    each_failure(diagnostics, 10000);
}

/* ---- buffers and the connection-id registry ---- */

static bool buffers(void)
{
    struct mx_bufpool bp;
    bufpool_init(&bp, 4);
    struct mx_buf *b[8];
    bool ok = true;
    for (int i = 0; i < 8; i++) {
        b[i] = buf_get(&bp);
        if (!b[i]) ok = false;
    }
    for (int i = 0; i < 8; i++)
        if (b[i]) buf_put(&bp, b[i]);
    bufpool_destroy(&bp);
    return ok;
}

static void test_buffers(void **state)
{
    (void)state;
    each_failure(buffers, 10000);
}

static bool registry(void)
{
    struct mx_config cfg;
    memset(&cfg, 0, sizeof cfg);
    struct mx_proxy px;
    memset(&px, 0, sizeof px);
    px.cfg = &cfg;
    if (registry_init(&px, 4) != 0) return false;
    static struct mx_reg_entry e[300];
    bool ok = true;
    int added = 0;
    for (int i = 0; i < 300; i++) { /* past several doublings of the table */
        memset(&e[i], 0, sizeof e[i]);
        e[i].id = (uint32_t)i + 1;
        if (registry_add(&px, &e[i]) == 0) added++;
        else ok = false;
    }
    /* whatever was added is found, whatever was refused is not */
    for (int i = 0; i < 300; i++) {
        struct mx_reg_entry out;
        if (registry_get(&px, e[i].id, &out) == 0) registry_remove(&px, &e[i]);
    }
    struct mx_reg_entry out;
    assert_int_not_equal(registry_get(&px, 1, &out), 0);
    assert_true(added <= 300);
    free(px.reg);
    pthread_mutex_destroy(&px.reg_lock);
    return ok;
}

static void test_registry(void **state)
{
    (void)state;
    each_failure(registry, 10000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_load),  cmocka_unit_test(test_statements),
        cmocka_unit_test(test_settings),     cmocka_unit_test(test_diagnostics),
        cmocka_unit_test(test_buffers),      cmocka_unit_test(test_registry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
