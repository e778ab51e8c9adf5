/* Unit tests for session-state tracker parsing and the OK rewrite
 * (src/protocol/track.c). The packets were captured from MariaDB 10.11.19
 * (Debian 12) by PyMySQL logged in with CLIENT_SESSION_TRACK, after
 * SET SESSION session_track_state_change=1, session_track_system_variables='*',
 * session_track_schema=1, session_track_transaction_info=OFF. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "protocol/packet.h"
#include "protocol/track.h"

static size_t unhex(const char *h, uint8_t *out)
{
    size_t n = 0;
    for (; h[0] && h[1]; h += 2) {
        unsigned v;
        sscanf(h, "%2x", &v);
        out[n++] = (uint8_t)v;
    }
    return n;
}

struct seen {
    char text[1024];
};

static void collect(void *arg, const struct trk_item *it)
{
    struct seen *s = arg;
    size_t k = strlen(s->text);
    snprintf(s->text + k, sizeof s->text - k, "%u:%.*s=%.*s;", it->type, (int)it->name_len,
             it->name ? (const char *)it->name : "", (int)it->value_len,
             it->value ? (const char *)it->value : "");
}

static void rewrite(const char *hex, const char *want_hex, const char *want_items)
{
    uint8_t p[512], w[512];
    size_t n = unhex(hex, p), wn = unhex(want_hex, w);
    struct seen s = {{0}};
    int r = trk_rewrite_ok(p, n, collect, &s);
    assert_int_equal(r, (int)wn);
    assert_memory_equal(p, w, wn);
    assert_string_equal(s.text, want_items);
}

static void test_sysvar_schema_state(void **st)
{
    (void)st;
    /* set time_zone='+08:00' */
    rewrite("00000002400000001600110974696d655f7a6f6e65062b30383a3030020131", "00000002000000",
            "0:time_zone=+08:00;2:=1;");
    /* use d2 */
    rewrite("0000000240000000080103026432020131", "00000002000000", "1:d2=;2:=1;");
    /* set @v=1: only "something changed" */
    rewrite("000000024000000003020131", "00000002000000", "2:=1;");
    /* insert with a trigger that sets a user variable: affected rows kept */
    rewrite("0001000240000000080103026432020131", "00010002000000", "1:d2=;2:=1;");
}

static void test_info_without_state(void **st)
{
    (void)st;
    /* update ... : the info text as every client gets it, length prefix and
     * all (the same bytes MariaDB sends without CLIENT_SESSION_TRACK) */
    const char *in = "0000002200000028526f7773206d6174636865643a203220204368616e6765643a20302020"
                     "5761726e696e67733a2030";
    rewrite(in, in, "");
    /* info and state: the state goes */
    rewrite("00000002400000016105010302643" "2", "000000020000000161", "1:d2=;");
    /* a bare OK stays as it is */
    rewrite("00000002000000", "00000002000000", "");
}

static void test_own_tracker_set(void **st)
{
    (void)st;
    rewrite("00000002400000006500211e73657373696f6e5f747261636b5f73797374656d5f7661726961626c6573"
            "012a00231e73657373696f6e5f747261636b5f7472616e73616374696f6e5f696e666f034f4646001814"
            "73657373696f6e5f747261636b5f736368656d61024f4e020131",
            "00000002000000",
            "0:session_track_system_variables=*;0:session_track_transaction_info=OFF;"
            "0:session_track_schema=ON;2:=1;");
}

static void test_malformed(void **st)
{
    (void)st;
    uint8_t p[64];
    /* flag set, state block missing */
    size_t n = unhex("0000000240000000", p);
    assert_int_equal(trk_rewrite_ok(p, n, NULL, NULL), -1);
    /* state block longer than the packet */
    n = unhex("00000002400000000009020131", p);
    assert_int_equal(trk_rewrite_ok(p, n, NULL, NULL), -1);
    /* item longer than its block */
    n = unhex("000000024000000003020531", p);
    assert_int_equal(trk_rewrite_ok(p, n, NULL, NULL), -1);
    /* bytes after the state block */
    n = unhex("00000002400000000003020131ff", p);
    assert_int_equal(trk_rewrite_ok(p, n, NULL, NULL), -1);
    /* not an OK */
    n = unhex("ff1500", p);
    assert_int_equal(trk_rewrite_ok(p, n, NULL, NULL), -1);
    /* truncated anywhere: never read past the end */
    uint8_t full[64];
    size_t fn = unhex("00000002400000001600110974696d655f7a6f6e65062b30383a3030020131", full);
    for (size_t cut = 1; cut < fn; cut++) {
        uint8_t *q = malloc(cut);
        memcpy(q, full, cut);
        int r = trk_rewrite_ok(q, cut, NULL, NULL);
        assert_true(r == -1 || r == (int)cut);
        free(q);
    }
}

static void test_value_literal(void **st)
{
    (void)st;
    char out[64];
    assert_int_equal(trk_value_literal((const uint8_t *)"42", 2, out, sizeof out), 2);
    assert_string_equal(out, "42");
    assert_int_equal(trk_value_literal((const uint8_t *)"-1", 2, out, sizeof out), 2);
    assert_int_equal(trk_value_literal((const uint8_t *)"+08:00", 6, out, sizeof out), 8);
    assert_string_equal(out, "'+08:00'");
    assert_int_equal(trk_value_literal((const uint8_t *)"", 0, out, sizeof out), 2);
    assert_string_equal(out, "''");
    assert_int_equal(trk_value_literal((const uint8_t *)"-", 1, out, sizeof out), 3);
    assert_int_equal(trk_value_literal((const uint8_t *)"a'b", 3, out, sizeof out), -1);
    assert_int_equal(trk_value_literal((const uint8_t *)"a\\b", 3, out, sizeof out), -1);
    assert_int_equal(trk_value_literal((const uint8_t *)"\xc3\xa9", 2, out, sizeof out), -1);
    assert_int_equal(trk_value_literal((const uint8_t *)"abcdef", 6, out, 8), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sysvar_schema_state), cmocka_unit_test(test_info_without_state),
        cmocka_unit_test(test_own_tracker_set),     cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_value_literal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
