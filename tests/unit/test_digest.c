/* Query digests: normalisation, and the per-worker table (merging, bounds,
 * handles that outlive an eviction, the latency histogram). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "admin/admin.h"
#include "admin/digest.h"
#include "core/config.h"
#include "core/proxy.h"
#include "core/worker.h"
#include "protocol/classify.h"

static void norm_is(const char *sql, const char *want)
{
    char out[DG_TEXT_MAX];
    size_t n = digest_normalize(sql, strlen(sql), NULL, out, sizeof out);
    if (strcmp(out, want) != 0) fail_msg("normalize(%s)\n  got  [%s]\n  want [%s]", sql, out, want);
    assert_int_equal(n, strlen(want));
}

static void test_literals(void **state)
{
    norm_is("SELECT 1", "SELECT ?");
    norm_is("select * from t where a = 'x' and b = \"y\"", "select * from t where a = ? and b = ?");
    norm_is("SELECT 'it''s', 'a\\'b', 3.14, 1e10, .5, 0x1F, 0b101", "SELECT ?, ?, ?, ?, ?, ?, ?");
    norm_is("SELECT x'AB', B'01', N'nat', _utf8mb4'abc'", "SELECT ?, ?, ?, ?");
    norm_is("SELECT * FROM t1 WHERE col_2 = 42", "SELECT * FROM t1 WHERE col_2 = ?");
    norm_is("SELECT `a 1`, `we``ird` FROM `t2`", "SELECT `a 1`, `we``ird` FROM `t2`");
    norm_is("SELECT a - 1, a = -1, f(-2.5), -3", "SELECT a - ?, a = ?, f(?), ?");
    norm_is("SELECT 1abc FROM t", "SELECT 1abc FROM t");
    norm_is("SELECT ? , ?", "SELECT ?, ?");
}

static void test_space_and_comments(void **state)
{
    norm_is("  SELECT\n\t a ,b\r\nFROM   t ;  ", "SELECT a, b FROM t");
    norm_is("SELECT /* hint */ a -- trailing\nFROM t # mysql comment\nWHERE b=1",
            "SELECT a FROM t WHERE b=?");
    norm_is("SELECT a--1 FROM t", "SELECT a-? FROM t"); /* a - (-1), not a comment */
    norm_is("SELECT f( a ,b )", "SELECT f(a, b)");
    norm_is("/* only a comment */", "");
    norm_is("SELECT 1 /* unterminated", "SELECT ?");
    norm_is("SELECT 'unterminated", "SELECT ?");
}

static void test_lists(void **state)
{
    norm_is("SELECT * FROM t WHERE id IN (1, 2, 3)", "SELECT * FROM t WHERE id IN (...)");
    norm_is("SELECT * FROM t WHERE id in (1)", "SELECT * FROM t WHERE id in (...)");
    norm_is("SELECT * FROM t WHERE id NOT IN ('a','b') AND x IN (?,?,?)",
            "SELECT * FROM t WHERE id NOT IN (...) AND x IN (...)");
    norm_is("INSERT INTO t (a, b) VALUES (1, 'x'), (2, 'y'),(3,'z')",
            "INSERT INTO t (a, b) VALUES (...)");
    norm_is("INSERT INTO t VALUES (1, NOW())", "INSERT INTO t VALUES (?, NOW())");
    norm_is("SELECT * FROM t WHERE id IN (SELECT id FROM u WHERE v IN (1,2))",
            "SELECT * FROM t WHERE id IN (SELECT id FROM u WHERE v IN (...))");
    norm_is("SELECT COUNT(*) FROM t WHERE (a, b) IN ((1, 2), (3, 4))",
            "SELECT COUNT(*) FROM t WHERE (a, b) IN ((?, ?), (?, ?))");
    norm_is("SELECT f(1, 2)", "SELECT f(?, ?)");
}

static void norm_lex_is(const struct cls_lex *lx, const char *sql, const char *want)
{
    char out[DG_TEXT_MAX];
    size_t n = digest_normalize(sql, strlen(sql), lx, out, sizeof out);
    if (strcmp(out, want) != 0) fail_msg("normalize(%s)\n  got  [%s]\n  want [%s]", sql, out, want);
    assert_int_equal(n, strlen(want));
}

/* The digest reads strings where the server ends them: a literal the default
 * reading would take for names must not survive into the text. */
static void test_sql_mode(void **state)
{
    const struct cls_lex nobs = {.no_backslash_escapes = true, .mariadb = true};
    const struct cls_lex ansi = {.ansi_quotes = true, .mariadb = true};
    /* 'x\' ends at the second quote under NO_BACKSLASH_ESCAPES: secret is a literal */
    norm_lex_is(&nobs, "SELECT 'x\\', 'secret' FROM t", "SELECT ?, ? FROM t");
    norm_lex_is(&nobs, "SELECT 'a\\' secret_word 'b'", "SELECT ? secret_word ?");
    norm_is("SELECT 'a\\' secret_word 'b'", "SELECT ??"); /* by default: a string, then b'' */
    norm_lex_is(&nobs, "SELECT * FROM t WHERE a IN ('\\', 'p4ss')", "SELECT * FROM t WHERE a IN (...)");
    /* ANSI_QUOTES: "x" is a name, kept; 'x' still a literal */
    norm_lex_is(&ansi, "SELECT \"col\" FROM \"t\" WHERE a = 'v'", "SELECT \"col\" FROM \"t\" WHERE a = ?");
    norm_is("SELECT \"col\" FROM t", "SELECT ? FROM t");
    /* a backtick inside a string ends nothing */
    norm_lex_is(&ansi, "SELECT 'it`s', `a'b` FROM t", "SELECT ?, `a'b` FROM t");
}

static void test_multibyte(void **state)
{
    const struct cls_lex gbk = {.charset = 28, .mariadb = true};   /* gbk_chinese_ci */
    const struct cls_lex sjis = {.charset = 13, .mariadb = true};  /* sjis_japanese_ci */
    /* 0xbf 0x5c is one gbk character: the 0x5c escapes nothing, the string ends at the
     * quote after it, and what follows is a second literal */
    norm_lex_is(&gbk, "SELECT '\xbf\\', 'secret'", "SELECT ?, ?");
    norm_lex_is(&gbk, "SELECT * FROM t WHERE a = '\xbf\\' OR b = 'p4ss'",
                "SELECT * FROM t WHERE a = ? OR b = ?");
    /* 0x95 0x5c in sjis likewise */
    norm_lex_is(&sjis, "SELECT '\x95\\', 'secret'", "SELECT ?, ?");
    /* a multi-byte name keeps its bytes, a string of them is a literal */
    norm_lex_is(&gbk, "SELECT \xc4\xe3 FROM t WHERE x = '\xc4\xe3'", "SELECT \xc4\xe3 FROM t WHERE x = ?");
    /* a character set mymux does not know, with a high byte: only the keyword stays */
    const struct cls_lex unknown = {.charset = 4000, .mariadb = true}; /* no such id */
    norm_lex_is(&unknown, "SELECT '\xbf\\', 'secret'", "SELECT ?");
    norm_lex_is(&unknown, "SELECT 'plain'", "SELECT ?");
}

static void test_executable_comments(void **state)
{
    /* run by MariaDB: its literals are replaced like any other */
    norm_is("SELECT /*! 'secret' */ 1", "SELECT ? ?");
    norm_is("SELECT /*M!100100 'secret', */ 1", "SELECT ?, ?");
    /* skipped by every server: gone */
    norm_is("SELECT /*T![x] 'secret', */ 1", "SELECT ?");
    /* a comment whose fate is unknown can change where strings are: keyword only */
    const struct cls_lex my = {.mariadb = false, .version = 0};
    norm_lex_is(&my, "SELECT /*!99999 ' */ 'secret' -- '", "SELECT ?");
}

static void test_bounds(void **state)
{
    /* output is cut, never overflowed */
    char big[5000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    char out[16];
    size_t n = digest_normalize(big, strlen(big), NULL, out, sizeof out);
    assert_true(n < sizeof out);
    assert_int_equal(strlen(out), n);
    /* deep nesting does not overflow the parenthesis stack */
    char deep[400];
    size_t k = 0;
    for (int i = 0; i < 150; i++) deep[k++] = '(';
    deep[k++] = '1';
    for (int i = 0; i < 150; i++) deep[k++] = ')';
    char o2[DG_TEXT_MAX];
    digest_normalize(deep, k, NULL, o2, sizeof o2);
    assert_non_null(strchr(o2, '?'));
    assert_int_equal(digest_normalize("x", 1, NULL, out, 0), 0);
}

/* A proxy with n workers and a digest bound. */
struct fake {
    struct mx_config cfg;
    struct mx_proxy px;
    struct mx_worker w[2];
};

static struct fake *fake_new(int digest_max, int id_base)
{
    struct fake *f = calloc(1, sizeof *f);
    f->cfg.digest_max = digest_max;
    f->cfg.slow_query_ms = 0;
    f->px.cfg = &f->cfg;
    f->px.workers = f->w;
    f->px.n_workers = 2;
    for (int i = 0; i < 2; i++) {
        f->w[i].id = id_base + i; /* each test uses its own worker ids: tables live per id */
        f->w[i].px = &f->px;
    }
    return f;
}

static void run(struct mx_worker *w, const char *sql, const char *user, const char *schema,
                uint64_t us, uint64_t rows, bool err)
{
    uint64_t h = digest_begin(w, sql, strlen(sql), NULL, user, schema);
    assert_true(h != 0);
    digest_end(w, h, us, rows, err);
}

static void test_table_merge(void **state)
{
    struct fake *f = fake_new(100, 0);
    /* collect sees workers [0, n_workers): this test owns ids 0 and 1 */
    run(&f->w[0], "SELECT 1", "app", "test", 1000, 1, false);
    run(&f->w[0], "SELECT 2", "app", "test", 3000, 1, false);
    run(&f->w[1], "select  5 -- other worker", "app", "test", 500, 1, true);
    run(&f->w[1], "SELECT 3", "app", "test", 2000, 1, false);
    run(&f->w[0], "SELECT 1", "other", "test", 100, 1, false);
    run(&f->w[0], "SELECT 1", "app", "test2", 100, 1, false);
    struct dg_row *rows;
    long n = digest_collect(&f->px, &rows);
    assert_int_equal(n, 4); /* SELECT ? app/test, select ? app/test, other, test2 */
    /* sorted by total time: SELECT ? app/test = 1000 + 3000 + 2000 */
    assert_string_equal(rows[0].text, "SELECT ?");
    assert_string_equal(rows[0].user, "app");
    assert_string_equal(rows[0].schema, "test");
    assert_int_equal(rows[0].count, 3);
    assert_int_equal(rows[0].sum_us, 6000);
    assert_int_equal(rows[0].max_us, 3000);
    assert_int_equal(rows[0].min_us, 1000);
    assert_int_equal(rows[0].rows, 3);
    assert_int_equal(rows[0].errors, 0);
    bool lower = false;
    for (long i = 0; i < n; i++)
        if (strcmp(rows[i].text, "select ?") == 0) {
            lower = true;
            assert_int_equal(rows[i].errors, 1);
        }
    assert_true(lower);
    free(rows);
    /* the histogram: 6 queries, sum of durations, buckets by upper bound */
    uint64_t c = 0;
    for (int b = 0; b <= DG_N_BUCKETS; b++) c += STAT_GET(f->px.stats.query_hist[b]);
    assert_int_equal(c, 6);
    assert_int_equal(STAT_GET(f->px.stats.query_hist[DG_HIST_SUM]), 6700);
    assert_int_equal(STAT_GET(f->px.stats.query_hist[1]), 2);  /* 100, 100 <= 100 us */
    assert_int_equal(STAT_GET(f->px.stats.query_hist[3]), 1);  /* 500 <= 500 us */
    assert_int_equal(STAT_GET(f->px.stats.query_hist[4]), 1);  /* 1000 <= 1 ms */
    assert_int_equal(STAT_GET(f->px.stats.query_hist[5]), 1);  /* 2000 <= 2.5 ms */
    assert_int_equal(STAT_GET(f->px.stats.query_hist[6]), 1);  /* 3000 <= 5 ms */
    free(f);
}

static void test_table_bound_and_stale_handle(void **state)
{
    /* two workers share digest_max 8: each worker keeps at most 4 */
    struct fake *f = fake_new(8, 10);
    struct mx_worker *w = &f->w[0];
    char sql[64];
    uint64_t first = digest_begin(w, "SELECT a FROM t0", 16, NULL, "u", "s");
    for (int i = 1; i < 40; i++) {
        snprintf(sql, sizeof sql, "SELECT a FROM t%d", i);
        run(w, sql, "u", "s", 10, 0, false);
    }
    /* the first digest was evicted while its statement ran: its handle is
     * stale and must not count into whatever now lives in its slot */
    digest_end(w, first, 1000000, 0, false);
    struct mx_proxy px2 = f->px;
    struct mx_worker ws[12];
    memset(ws, 0, sizeof ws);
    px2.workers = ws;
    px2.n_workers = 12; /* look at ids 0..11: includes 10 and 11 */
    struct dg_row *rows;
    long n = digest_collect(&px2, &rows);
    long mine = 0;
    for (long i = 0; i < n; i++) {
        if (strcmp(rows[i].user, "u") != 0) continue;
        mine++;
        assert_int_equal(rows[i].count, 1);
        assert_true(rows[i].max_us == 10);
    }
    assert_true(mine >= 1 && mine <= 4);
    free(rows);
    free(f);
}

/* A text sent again finds its digest by its raw bytes; the reading rules are part
 * of that key, and a raw entry whose digest was evicted is never used again. */
static void test_raw_text_cache(void **state)
{
    (void)state;
    struct fake *f = fake_new(2, 20); /* one digest per worker */
    struct mx_worker *w = &f->w[0];
    uint64_t a = digest_begin(w, "SELECT \"x\"", 11, NULL, "u", "s");
    assert_true(digest_begin(w, "SELECT \"x\"", 11, NULL, "u", "s") == a);
    assert_true(digest_begin(w, "SELECT \"x\"", 11, NULL, "v", "s") != a); /* evicts a */
    struct cls_lex ansi = {.ansi_quotes = true};
    uint64_t b = digest_begin(w, "SELECT \"x\"", 11, &ansi, "u", "s"); /* evicts v's */
    uint64_t again = digest_begin(w, "SELECT \"x\"", 11, NULL, "u", "s"); /* evicts b */
    assert_true(again != a && again != b); /* a's slot was reused twice since */
    digest_end(w, b, 7, 0, false);         /* stale: counts nowhere */
    digest_end(w, again, 5, 0, false);
    struct mx_proxy px2 = f->px;
    struct mx_worker ws[22];
    memset(ws, 0, sizeof ws);
    px2.workers = ws;
    px2.n_workers = 22;
    struct dg_row *rows;
    long n = digest_collect(&px2, &rows);
    bool seen = false;
    for (long i = 0; i < n; i++) {
        if (strcmp(rows[i].schema, "s") != 0) continue;
        assert_string_equal(rows[i].text, "SELECT ?"); /* read without ANSI_QUOTES */
        assert_int_equal(rows[i].count, 1);
        assert_int_equal(rows[i].sum_us, 5);
        seen = true;
    }
    assert_true(seen);
    free(rows);
    /* under ANSI_QUOTES the same bytes are an identifier: their own digest */
    uint64_t c = digest_begin(w, "SELECT \"x\"", 11, &ansi, "u", "s");
    digest_end(w, c, 9, 0, false);
    n = digest_collect(&px2, &rows);
    seen = false;
    for (long i = 0; i < n; i++)
        if (strcmp(rows[i].schema, "s") == 0 && strcmp(rows[i].text, "SELECT \"x\"") == 0)
            seen = rows[i].sum_us == 9;
    assert_true(seen);
    free(rows);
    free(f);
}

static void test_untracked_worker(void **state)
{
    struct fake *f = fake_new(10, DG_MAX_WORKERS); /* id out of range: no table */
    uint64_t h = digest_begin(&f->w[0], "SELECT 1", 8, NULL, "u", "");
    assert_true(h != 0);                              /* still counted in the histogram */
    digest_end(&f->w[0], h, 20000000, 0, false);      /* over the last bucket */
    assert_int_equal(STAT_GET(f->px.stats.query_hist[DG_N_BUCKETS]), 1);
    free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_literals),
        cmocka_unit_test(test_raw_text_cache),
        cmocka_unit_test(test_space_and_comments),
        cmocka_unit_test(test_lists),
        cmocka_unit_test(test_sql_mode),
        cmocka_unit_test(test_multibyte),
        cmocka_unit_test(test_executable_comments),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_table_merge),
        cmocka_unit_test(test_table_bound_and_stale_handle),
        cmocka_unit_test(test_untracked_worker),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
