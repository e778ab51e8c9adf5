/* Unit tests for the prepared-statement mapping (src/pool/stmt.c): which server
 * statements a backend map gives up once no client holds them (bstmts_trim). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pool/stmt.h"

struct fixture {
    struct mx_pcache c;
    struct mx_stmts t;   /* one client's statements */
    struct mx_bstmts m;  /* one backend connection's map */
    struct mx_pstmt *ps[8];
    uint32_t cid[8];     /* client ids */
};

/* n texts, each prepared by the client and mapped on the backend as server id 100+i. */
static void setup_n(struct fixture *f, int n)
{
    memset(f, 0, sizeof *f);
    pcache_init(&f->c, 16);
    stmts_init(&f->t);
    for (int i = 0; i < n; i++) {
        char sql[32];
        int len = snprintf(sql, sizeof sql, "SELECT %d", i);
        uint64_t key = pstmt_key("app", "test", sql, (size_t)len);
        f->ps[i] = pcache_add(&f->c, key, "app", "test", sql, (size_t)len);
        assert_non_null(f->ps[i]);
        struct mx_sstmt *s = stmts_add(&f->t, f->ps[i]);
        assert_non_null(s);
        f->cid[i] = s->id;
        uint32_t ev = 1;
        assert_non_null(bstmts_add(&f->m, &f->c, f->ps[i], 100 + (uint32_t)i, 256, &ev));
        assert_int_equal(ev, 0);
        pstmt_unref(&f->c, f->ps[i]); /* pcache_add's reference for the caller */
    }
}

static void teardown_f(struct fixture *f)
{
    stmts_free(&f->t, &f->c);
    bstmts_free(&f->m, &f->c);
    pcache_destroy(&f->c);
}

static void test_held_statements_stay(void **state)
{
    (void)state;
    struct fixture f;
    setup_n(&f, 4);
    uint32_t ids[8];
    uint64_t released = f.c.released;
    assert_int_equal(bstmts_trim(&f.m, &f.c, 0, ids, 8), 0);
    assert_int_equal(f.m.n, 4);
    assert_int_equal(f.c.released, released);
    teardown_f(&f);
}

static void test_released_beyond_keep_go_oldest_first(void **state)
{
    (void)state;
    struct fixture f;
    setup_n(&f, 5);
    /* statement 3 used most recently, then 0 */
    assert_non_null(bstmts_get(&f.m, f.ps[0]));
    assert_non_null(bstmts_get(&f.m, f.ps[3]));
    uint64_t released = f.c.released;
    for (int i = 0; i < 4; i++) stmts_del(&f.t, &f.c, f.cid[i]); /* 4 stays held */
    assert_int_equal(f.c.released, released + 4);
    assert_int_equal(bstmts_unheld(&f.m), 4);
    uint32_t ids[8];
    /* keep 2 of the released: 3 and 0 (most recent); 1 and 2 are closed */
    uint32_t n = bstmts_trim(&f.m, &f.c, 2, ids, 8);
    assert_int_equal(n, 2);
    assert_true((ids[0] == 101 && ids[1] == 102) || (ids[0] == 102 && ids[1] == 101));
    assert_int_equal(f.m.n, 3);
    assert_non_null(bstmts_get(&f.m, f.ps[0]));
    assert_non_null(bstmts_get(&f.m, f.ps[3]));
    assert_non_null(bstmts_get(&f.m, f.ps[4]));
    assert_int_equal(bstmts_trim(&f.m, &f.c, 2, ids, 8), 0);
    teardown_f(&f);
}

static void test_trim_is_batched(void **state)
{
    (void)state;
    struct fixture f;
    setup_n(&f, 6);
    for (int i = 0; i < 6; i++) stmts_del(&f.t, &f.c, f.cid[i]);
    uint32_t ids[8];
    assert_int_equal(bstmts_trim(&f.m, &f.c, 0, ids, 4), 4);
    assert_int_equal(bstmts_unheld(&f.m), 2);
    assert_int_equal(bstmts_trim(&f.m, &f.c, 0, ids, 4), 2);
    assert_int_equal(f.m.n, 0);
    /* texts nobody holds leave the worker cache with the last map entry */
    assert_int_equal(f.c.n, 0);
    teardown_f(&f);
}

static void test_a_new_client_holds_a_cached_text_again(void **state)
{
    (void)state;
    struct fixture f;
    setup_n(&f, 2);
    stmts_del(&f.t, &f.c, f.cid[0]);
    assert_int_equal(bstmts_unheld(&f.m), 1);
    /* the same text prepared again finds the shared statement */
    struct mx_pstmt *ps = pcache_find(&f.c, f.ps[0]->key, "app", "test", "SELECT 0", 8);
    assert_ptr_equal(ps, f.ps[0]);
    assert_non_null(stmts_add(&f.t, ps));
    assert_int_equal(bstmts_unheld(&f.m), 0);
    uint32_t ids[4];
    assert_int_equal(bstmts_trim(&f.m, &f.c, 0, ids, 4), 0);
    teardown_f(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_held_statements_stay),
        cmocka_unit_test(test_released_beyond_keep_go_oldest_first),
        cmocka_unit_test(test_trim_is_batched),
        cmocka_unit_test(test_a_new_client_holds_a_cached_text_again),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
