/* Unit tests for held diagnostics (src/protocol/diag.c): the rows of SHOW
 * WARNINGS as MariaDB 10.11 sends them, the reader forms mymux answers itself
 * and the ones it must leave to the server, and the answers' packets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "protocol/diag.h"
#include "protocol/packet.h"

/* A text-protocol row of lenenc strings. */
static size_t row(uint8_t *out, const char *const *fields, int n)
{
    struct pkt_wr w;
    pkt_wr_init(&w, out, 1024);
    for (int i = 0; i < n; i++) pkt_wr_lenenc_str(&w, fields[i], strlen(fields[i]));
    return w.pos;
}

static void test_rows_and_counts(void **state)
{
    (void)state;
    struct mx_diag d;
    diag_init(&d);
    uint8_t b[1024];
    const char *w1[] = {"Warning", "1292", "Truncated incorrect INTEGER value: 'x1'"};
    const char *n1[] = {"Note", "1050", "Table 'diag_t' already exists"};
    const char *e1[] = {"Error", "1054", "Unknown column 'nosuch' in 'SELECT'"};
    assert_int_equal(diag_add_row(&d, b, row(b, w1, 3)), 0);
    assert_int_equal(diag_add_row(&d, b, row(b, n1, 3)), 0);
    assert_int_equal(diag_add_row(&d, b, row(b, e1, 3)), 0);
    assert_int_equal(d.n, 3);
    assert_int_equal(d.c[0].level, DIAG_WARNING);
    assert_int_equal(d.c[1].level, DIAG_NOTE);
    assert_int_equal(d.c[2].level, DIAG_ERROR);
    assert_int_equal(d.c[2].code, 1054);
    assert_memory_equal(d.text + d.c[1].msg_off, n1[2], strlen(n1[2]));
    const char *cnt[] = {"7", "1", "10", "-1"};
    uint64_t found = 0;
    int64_t affected = 0;
    assert_int_equal(diag_set_counts(&d, b, row(b, cnt, 4), &found, &affected), 0);
    assert_int_equal(d.warn_count, 7);
    assert_int_equal(d.err_count, 1);
    assert_int_equal(found, 10);
    assert_int_equal(affected, -1);
    const char *cnt2[] = {"0", "0", "0", "3"};
    assert_int_equal(diag_set_counts(&d, b, row(b, cnt2, 4), &found, &affected), 0);
    assert_int_equal(affected, 3);
    /* SELECT LAST_INSERT_ID()'s row */
    uint64_t id = 0;
    const char *li[] = {"18446744073709551615"};
    assert_int_equal(diag_read_uint_row(b, row(b, li, 1), &id), 0);
    assert_true(id == UINT64_MAX);
    const char *li_bad[] = {"-1"};
    assert_int_equal(diag_read_uint_row(b, row(b, li_bad, 1), &id), -1);
    assert_int_equal(diag_read_uint_row(b, row(b, li, 1) - 1, &id), -1);
    assert_int_equal(diag_read_uint_row(b, row(b, cnt2, 2), &id), -1);
    const char *cnt_bad[] = {"0", "0", "0", "-"};
    assert_int_equal(diag_set_counts(&d, b, row(b, cnt_bad, 4), &found, &affected), -1);
    d.warn_count = 7;
    d.err_count = 1;
    /* malformed: an unknown level, a code that is not a number, too few fields */
    const char *bad1[] = {"Fatal", "1", "x"};
    const char *bad2[] = {"Warning", "12a", "x"};
    assert_int_equal(diag_add_row(&d, b, row(b, bad1, 3)), -1);
    assert_int_equal(diag_add_row(&d, b, row(b, bad2, 3)), -1);
    assert_int_equal(diag_add_row(&d, b, row(b, w1, 2)), -1);
    assert_int_equal(diag_set_counts(&d, b, row(b, cnt, 2), &found, &affected), -1);
    assert_int_equal(d.n, 3);
    diag_clear(&d);
    assert_int_equal(d.n, 0);
    assert_false(d.held);
    diag_free(&d);
}

static enum diag_query_kind kind_of(const char *sql)
{
    struct diag_query q;
    diag_parse_query(sql, strlen(sql), &q);
    return q.kind;
}

static void test_reader_forms(void **state)
{
    (void)state;
    assert_int_equal(kind_of("SHOW WARNINGS"), DQ_LIST_WARNINGS);
    assert_int_equal(kind_of("  show\n warnings ; "), DQ_LIST_WARNINGS);
    assert_int_equal(kind_of("SHOW ERRORS LIMIT 3"), DQ_LIST_ERRORS);
    assert_int_equal(kind_of("SHOW COUNT(*) WARNINGS"), DQ_COUNT_WARNINGS);
    assert_int_equal(kind_of("show count ( * ) errors"), DQ_COUNT_ERRORS);
    assert_int_equal(kind_of("SELECT @@warning_count"), DQ_VAR_WARNINGS);
    assert_int_equal(kind_of("SELECT @@session.error_count;"), DQ_VAR_ERRORS);
    assert_int_equal(kind_of("select @@LOCAL.Warning_Count"), DQ_VAR_WARNINGS);
    /* left to the server: anything more */
    assert_int_equal(kind_of("SHOW WARNINGS /* x */"), DQ_NONE);
    assert_int_equal(kind_of("SHOW WARNINGSX"), DQ_NONE);
    assert_int_equal(kind_of("SHOW WARNINGS LIMIT"), DQ_NONE);
    assert_int_equal(kind_of("SHOW WARNINGS LIMIT 1,"), DQ_NONE);
    assert_int_equal(kind_of("SHOW WARNINGS; SELECT 1"), DQ_NONE);
    assert_int_equal(kind_of("SELECT @@warning_count, 1"), DQ_NONE);
    assert_int_equal(kind_of("SELECT @@warning_count AS w"), DQ_NONE);
    assert_int_equal(kind_of("SELECT @@global.warning_count"), DQ_NONE);
    assert_int_equal(kind_of("SELECT @@warning_countx"), DQ_NONE);
    assert_int_equal(kind_of("SELECT @warning_count"), DQ_NONE);
    assert_int_equal(kind_of("SHOW COUNT(*) WARNINGS LIMIT 1"), DQ_NONE);
    struct diag_query q;
    diag_parse_query("SHOW WARNINGS LIMIT 2, 5", 24, &q);
    assert_int_equal(q.offset, 2);
    assert_int_equal(q.limit, 5);
    const char *s = "SHOW WARNINGS LIMIT 5 OFFSET 1";
    diag_parse_query(s, strlen(s), &q);
    assert_int_equal(q.offset, 1);
    assert_int_equal(q.limit, 5);
    s = "SELECT  @@Session.warning_count ";
    diag_parse_query(s, strlen(s), &q);
    assert_int_equal(q.name_len, strlen("@@Session.warning_count"));
    assert_memory_equal(q.name, "@@Session.warning_count", q.name_len);
}

/* Walks the packets of an answer; returns how many, checking sequence numbers. */
static int packets(const uint8_t *p, size_t n, uint8_t seq0, const uint8_t **last, size_t *last_len)
{
    int k = 0;
    size_t pos = 0;
    while (pos + 4 <= n) {
        size_t len = p[pos] | (size_t)p[pos + 1] << 8 | (size_t)p[pos + 2] << 16;
        assert_int_equal(p[pos + 3], (uint8_t)(seq0 + k));
        *last = p + pos + 4;
        *last_len = len;
        pos += 4 + len;
        k++;
    }
    assert_int_equal(pos, n);
    return k;
}

static void test_answers(void **state)
{
    (void)state;
    struct mx_diag d;
    diag_init(&d);
    uint8_t b[1024];
    const char *w1[] = {"Warning", "1292", "w one"};
    const char *e1[] = {"Error", "1054", "e one"};
    const char *w2[] = {"Warning", "1366", "w two"};
    diag_add_row(&d, b, row(b, w1, 3));
    diag_add_row(&d, b, row(b, e1, 3));
    diag_add_row(&d, b, row(b, w2, 3));
    d.warn_count = 5;
    d.err_count = 1;
    uint8_t out[4096];
    struct pkt_wr w;
    const uint8_t *last;
    size_t ll;
    struct diag_query q;
    /* SHOW WARNINGS, classic EOFs: count, 3 defs, EOF, 3 rows, EOF */
    diag_parse_query("SHOW WARNINGS", 13, &q);
    pkt_wr_init(&w, out, sizeof out);
    assert_int_equal(diag_write_answer(&w, 1, &d, &q, 45, false, 2, false), 0);
    assert_int_equal(packets(out, w.pos, 1, &last, &ll), 9);
    assert_int_equal(last[0], 0xfe);
    assert_int_equal(ll, 5);
    /* SHOW ERRORS LIMIT 5 with DEPRECATE_EOF: count, 3 defs, 1 row, OK */
    diag_parse_query("SHOW ERRORS LIMIT 5", 19, &q);
    pkt_wr_init(&w, out, sizeof out);
    assert_int_equal(diag_write_answer(&w, 1, &d, &q, 45, true, 2, false), 0);
    assert_int_equal(packets(out, w.pos, 1, &last, &ll), 6);
    assert_int_equal(last[0], 0xfe);
    assert_int_equal(ll, 7);
    /* SHOW WARNINGS LIMIT 1,1: only the error */
    diag_parse_query("SHOW WARNINGS LIMIT 1,1", 23, &q);
    pkt_wr_init(&w, out, sizeof out);
    assert_int_equal(diag_write_answer(&w, 1, &d, &q, 45, true, 2, false), 0);
    assert_int_equal(packets(out, w.pos, 1, &last, &ll), 6);
    assert_non_null(memmem(out, w.pos, "e one", 5));
    assert_null(memmem(out, w.pos, "w one", 5));
    /* the count, beyond the rows held */
    diag_parse_query("SELECT @@warning_count", 22, &q);
    pkt_wr_init(&w, out, sizeof out);
    assert_int_equal(diag_write_answer(&w, 1, &d, &q, 45, true, 2, false), 0);
    assert_int_equal(packets(out, w.pos, 1, &last, &ll), 4);
    assert_non_null(memmem(out, w.pos, "@@warning_count", 15));
    assert_non_null(memmem(out, w.pos, "\x01" "5", 2));
    /* binary rows for an EXECUTE: header 0, bitmap, 8-byte value */
    pkt_wr_init(&w, out, sizeof out);
    assert_int_equal(diag_write_answer(&w, 1, &d, &q, 45, true, 2, true), 0);
    assert_int_equal(packets(out, w.pos, 1, &last, &ll), 4);
    assert_non_null(memmem(out, w.pos, "\x0a\x00\x00\x03\x00\x00\x05\x00\x00\x00\x00\x00\x00\x00", 14));
    /* too small a buffer fails cleanly */
    pkt_wr_init(&w, out, 40);
    diag_parse_query("SHOW WARNINGS", 13, &q);
    assert_int_equal(diag_write_answer(&w, 1, &d, &q, 45, true, 2, false), -1);
    diag_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows_and_counts),
        cmocka_unit_test(test_reader_forms),
        cmocka_unit_test(test_answers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
