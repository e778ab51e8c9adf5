/* Unit tests for handshake packets (src/protocol/handshake.c): a real MariaDB
 * greeting and real client responses parse, what mymux writes parses back, and
 * every truncation either fails or yields fields inside the input.
 *
 * Captured from MariaDB 10.11.19 on 127.0.0.1 (user app/apppass, db test): the
 * greeting over a raw Python socket; the client packets through a small Python
 * TCP relay that logged each client-to-server packet: the `mariadb` CLI
 * (libmariadb 3.3.20) running "select 1", PyMySQL 1.0.2 connecting, `mariadb
 * --ssl` after the relay had set CLIENT_SSL in the greeting it passed on (the
 * first packet is then the SSLRequest), and a C program calling
 * mysql_change_user(m, "app", "apppass", "mysql") on a libmariadb connection
 * (its second packet). Inputs handed to a parser are heap copies of exactly
 * their length, so ASan sees any overread. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "protocol/handshake.h"
#include "protocol/packet.h"

/* the greeting MariaDB 10.11.19 sends on connect (raw socket, with header) */
static const uint8_t greeting_mariadb[] = {
    0x64, 0x00, 0x00, 0x00, 0x0a, 0x35, 0x2e, 0x35, 0x2e, 0x35, 0x2d, 0x31, 0x30, 0x2e, 0x31,
    0x31, 0x2e, 0x31, 0x39, 0x2d, 0x4d, 0x61, 0x72, 0x69, 0x61, 0x44, 0x42, 0x2d, 0x30, 0x2b,
    0x64, 0x65, 0x62, 0x31, 0x32, 0x75, 0x31, 0x00, 0x12, 0x00, 0x00, 0x00, 0x27, 0x42, 0x55,
    0x67, 0x25, 0x7d, 0x6c, 0x26, 0x00, 0xfe, 0xf7, 0x08, 0x02, 0x00, 0xff, 0x81, 0x15, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x1d, 0x00, 0x00, 0x00, 0x73, 0x35, 0x4c, 0x5e, 0x73, 0x47,
    0x49, 0x76, 0x39, 0x57, 0x2b, 0x6d, 0x00, 0x6d, 0x79, 0x73, 0x71, 0x6c, 0x5f, 0x6e, 0x61,
    0x74, 0x69, 0x76, 0x65, 0x5f, 0x70, 0x61, 0x73, 0x73, 0x77, 0x6f, 0x72, 0x64, 0x00,
};

/* HandshakeResponse41 the `mariadb` CLI (libmariadb 3.3.20) sent as app/apppass, db test (payload,
 * captured by a logging TCP relay) */
static const uint8_t resp_mariadb_cli[] = {
    0x8c, 0xa2, 0xbf, 0x00, 0x00, 0x00, 0x10, 0x00, 0x21, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1d, 0x00, 0x00, 0x00,
    0x61, 0x70, 0x70, 0x00, 0x14, 0xe6, 0xfa, 0x61, 0xd2, 0xaa, 0x45, 0x64, 0x88, 0x93, 0xfd, 0x8e,
    0xf0, 0x56, 0x1d, 0x22, 0x0a, 0xfa, 0xfc, 0xba, 0xa3, 0x74, 0x65, 0x73, 0x74, 0x00, 0x6d, 0x79,
    0x73, 0x71, 0x6c, 0x5f, 0x6e, 0x61, 0x74, 0x69, 0x76, 0x65, 0x5f, 0x70, 0x61, 0x73, 0x73, 0x77,
    0x6f, 0x72, 0x64, 0x00, 0x7e, 0x03, 0x5f, 0x6f, 0x73, 0x05, 0x4c, 0x69, 0x6e, 0x75, 0x78, 0x0c,
    0x5f, 0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74, 0x5f, 0x6e, 0x61, 0x6d, 0x65, 0x0a, 0x6c, 0x69, 0x62,
    0x6d, 0x61, 0x72, 0x69, 0x61, 0x64, 0x62, 0x04, 0x5f, 0x70, 0x69, 0x64, 0x04, 0x34, 0x32, 0x33,
    0x36, 0x0f, 0x5f, 0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74, 0x5f, 0x76, 0x65, 0x72, 0x73, 0x69, 0x6f,
    0x6e, 0x06, 0x33, 0x2e, 0x33, 0x2e, 0x32, 0x30, 0x09, 0x5f, 0x70, 0x6c, 0x61, 0x74, 0x66, 0x6f,
    0x72, 0x6d, 0x06, 0x78, 0x38, 0x36, 0x5f, 0x36, 0x34, 0x0c, 0x70, 0x72, 0x6f, 0x67, 0x72, 0x61,
    0x6d, 0x5f, 0x6e, 0x61, 0x6d, 0x65, 0x05, 0x6d, 0x79, 0x73, 0x71, 0x6c, 0x0c, 0x5f, 0x73, 0x65,
    0x72, 0x76, 0x65, 0x72, 0x5f, 0x68, 0x6f, 0x73, 0x74, 0x09, 0x31, 0x32, 0x37, 0x2e, 0x30, 0x2e,
    0x30, 0x2e, 0x31,
};

/* HandshakeResponse41 PyMySQL 1.0.2 sent as app/apppass, db test (payload, captured by a logging
 * TCP relay) */
static const uint8_t resp_pymysql[] = {
    0x0d, 0xa2, 0x3a, 0x00, 0xff, 0xff, 0xff, 0x00, 0x2d, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x61, 0x70, 0x70, 0x00, 0x14, 0xa3, 0x24, 0xc1, 0x3b, 0x5f, 0xb9, 0xe5, 0x13, 0x71, 0x1f, 0xa3,
    0x2b, 0x95, 0x35, 0xf4, 0xbc, 0xd7, 0xbb, 0x80, 0x60, 0x74, 0x65, 0x73, 0x74, 0x00, 0x6d, 0x79,
    0x73, 0x71, 0x6c, 0x5f, 0x6e, 0x61, 0x74, 0x69, 0x76, 0x65, 0x5f, 0x70, 0x61, 0x73, 0x73, 0x77,
    0x6f, 0x72, 0x64, 0x00, 0x35, 0x0c, 0x5f, 0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74, 0x5f, 0x6e, 0x61,
    0x6d, 0x65, 0x07, 0x70, 0x79, 0x6d, 0x79, 0x73, 0x71, 0x6c, 0x04, 0x5f, 0x70, 0x69, 0x64, 0x04,
    0x34, 0x32, 0x34, 0x31, 0x0f, 0x5f, 0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74, 0x5f, 0x76, 0x65, 0x72,
    0x73, 0x69, 0x6f, 0x6e, 0x05, 0x31, 0x2e, 0x30, 0x2e, 0x32,
};

/* SSLRequest the `mariadb --ssl` CLI sent after a relay set CLIENT_SSL in the greeting (payload,
 * captured by a logging TCP relay) */
static const uint8_t ssl_request_cli[] = {
    0x8c, 0xaa, 0xbf, 0x00, 0x00, 0x00, 0x10, 0x00, 0x21, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1d, 0x00, 0x00, 0x00,
};

/* COM_CHANGE_USER libmariadb 3.3.20 sent for mysql_change_user(m, "app", "apppass", "mysql")
 * (payload, captured by a logging TCP relay) */
static const uint8_t change_user_libmariadb[] = {
    0x11, 0x61, 0x70, 0x70, 0x00, 0x14, 0x9d, 0x2b, 0x37, 0xa7, 0x97, 0x02, 0xd0, 0xd9, 0x55,
    0x3d, 0x9d, 0x08, 0xfa, 0xcb, 0x80, 0xb6, 0xed, 0xf9, 0xa0, 0x1f, 0x6d, 0x79, 0x73, 0x71,
    0x6c, 0x00, 0x2d, 0x00, 0x6d, 0x79, 0x73, 0x71, 0x6c, 0x5f, 0x6e, 0x61, 0x74, 0x69, 0x76,
    0x65, 0x5f, 0x70, 0x61, 0x73, 0x73, 0x77, 0x6f, 0x72, 0x64, 0x00, 0x6b, 0x03, 0x5f, 0x6f,
    0x73, 0x05, 0x4c, 0x69, 0x6e, 0x75, 0x78, 0x0c, 0x5f, 0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74,
    0x5f, 0x6e, 0x61, 0x6d, 0x65, 0x0a, 0x6c, 0x69, 0x62, 0x6d, 0x61, 0x72, 0x69, 0x61, 0x64,
    0x62, 0x04, 0x5f, 0x70, 0x69, 0x64, 0x04, 0x34, 0x32, 0x35, 0x32, 0x0f, 0x5f, 0x63, 0x6c,
    0x69, 0x65, 0x6e, 0x74, 0x5f, 0x76, 0x65, 0x72, 0x73, 0x69, 0x6f, 0x6e, 0x06, 0x33, 0x2e,
    0x33, 0x2e, 0x32, 0x30, 0x09, 0x5f, 0x70, 0x6c, 0x61, 0x74, 0x66, 0x6f, 0x72, 0x6d, 0x06,
    0x78, 0x38, 0x36, 0x5f, 0x36, 0x34, 0x0c, 0x5f, 0x73, 0x65, 0x72, 0x76, 0x65, 0x72, 0x5f,
    0x68, 0x6f, 0x73, 0x74, 0x09, 0x31, 0x32, 0x37, 0x2e, 0x30, 0x2e, 0x30, 0x2e, 0x31,
};

/* The client capabilities libmariadb negotiated on the connection that sent
 * change_user_libmariadb (from its HandshakeResponse41). */
#define CHANGE_USER_CAPS 0x00bea28cu

static uint8_t *dup_exact(const void *p, size_t n)
{
    uint8_t *c = malloc(n ? n : 1);
    assert_non_null(c);
    if (n) memcpy(c, p, n);
    return c;
}

/* A field a parser returned points inside the input it was given. */
static void assert_inside(const void *field, size_t n, const uint8_t *in, size_t len)
{
    if (!field) {
        assert_int_equal(n, 0);
        return;
    }
    const uint8_t *f = field;
    assert_true(f >= in && f + n <= in + len);
}

/* ---- greeting ---- */

static void test_greeting_mariadb(void **state)
{
    (void)state;
    struct hs_greeting g;
    assert_int_equal(pkt_len(greeting_mariadb), sizeof greeting_mariadb - PKT_HDR);
    assert_int_equal(greeting_mariadb[3], 0);
    uint8_t *c = dup_exact(greeting_mariadb + PKT_HDR, sizeof greeting_mariadb - PKT_HDR);
    assert_int_equal(hs_parse_greeting(c, sizeof greeting_mariadb - PKT_HDR, &g), 0);
    assert_int_equal(g.proto, 10);
    assert_string_equal(g.version, "5.5.5-10.11.19-MariaDB-0+deb12u1");
    assert_int_equal(g.conn_id, 18);
    assert_int_equal(g.nonce_len, 20);
    assert_memory_equal(g.nonce, "'BUg%}l&s5L^sGIv9W+m", 20);
    assert_int_equal(g.caps, 0x81fff7fe);
    assert_true(g.caps & CLIENT_PROTOCOL_41);
    assert_true(g.caps & CLIENT_DEPRECATE_EOF);
    assert_false(g.caps & CLIENT_LONG_PASSWORD); /* MariaDB's way of saying "MariaDB" */
    assert_false(g.caps & CLIENT_SSL);
    assert_int_equal(g.charset, 8);
    assert_int_equal(g.status, SERVER_STATUS_AUTOCOMMIT);
    assert_string_equal(g.plugin, "mysql_native_password");
    free(c);
}

/* Every truncation of the captured greeting: -1 inside the fixed part, except
 * right after the low capability bytes (the short pre-4.1 form, accepted with an
 * 8-byte nonce); past the second nonce part a plugin name cut short (no NUL,
 * as some servers send it) is taken as it is. */
static void test_greeting_truncated(void **state)
{
    (void)state;
    const uint8_t *p = greeting_mariadb + PKT_HDR;
    size_t len = sizeof greeting_mariadb - PKT_HDR;
    const size_t short_form = 1 + 33 + 4 + 8 + 1 + 2; /* proto, version, id, nonce, filler, caps */
    const size_t nonce_end = short_form + 1 + 2 + 2 + 1 + 10 + 13;
    for (size_t cut = 0; cut < len; cut++) {
        struct hs_greeting g;
        uint8_t *c = dup_exact(p, cut);
        int rc = hs_parse_greeting(c, cut, &g);
        if (cut == short_form) {
            assert_int_equal(rc, 0);
            assert_int_equal(g.nonce_len, 8);
            assert_int_equal(g.caps, 0xf7fe);
            assert_string_equal(g.plugin, "");
        } else if (cut < nonce_end) {
            assert_int_equal(rc, -1);
        } else {
            assert_int_equal(rc, 0);
            assert_int_equal(g.nonce_len, 20);
            assert_int_equal(strlen(g.plugin), cut - nonce_end);
            assert_memory_equal(g.plugin, "mysql_native_password", cut - nonce_end);
        }
        free(c);
    }
}

/* An ERR in place of a greeting ("Too many connections", host blocked). */
static void test_greeting_err(void **state)
{
    (void)state;
    uint8_t buf[128];
    struct pkt_wr w;
    struct hs_greeting g;
    pkt_wr_init(&w, buf, sizeof buf);
    assert_int_equal(pkt_err(&w, 0, 1040, "08004", "Too many connections"), 0);
    uint8_t *c = dup_exact(buf + PKT_HDR, w.pos - PKT_HDR);
    assert_int_equal(hs_parse_greeting(c, w.pos - PKT_HDR, &g), -2);
    free(c);
    static const uint8_t v9[] = {9,   '3', '.', '2', '3', 0,   1,   0,   0, 0,
                                 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 0};
    assert_int_equal(hs_parse_greeting(v9, sizeof v9, &g), -1);
}

static void test_greeting_round_trip(void **state)
{
    (void)state;
    static const uint8_t nonce[20] = "ABCDEFGHIJKLMNOPQRST";
    static const char *versions[] = {"5.7.99-mymux", "", "11.4.2-MariaDB-log"};
    static const char *plugins[] = {"mysql_native_password", "caching_sha2_password", ""};
    for (size_t i = 0; i < 3; i++) {
        uint8_t buf[256];
        struct pkt_wr w;
        pkt_wr_init(&w, buf, sizeof buf);
        assert_int_equal(hs_write_greeting(&w, 0xdeadbeef, versions[i], nonce, MX_SERVER_CAPS, 45,
                                           SERVER_STATUS_AUTOCOMMIT, plugins[i]),
                         0);
        assert_int_equal(pkt_len(buf), w.pos - PKT_HDR);
        assert_int_equal(buf[3], 0);
        struct hs_greeting g;
        uint8_t *c = dup_exact(buf + PKT_HDR, w.pos - PKT_HDR);
        assert_int_equal(hs_parse_greeting(c, w.pos - PKT_HDR, &g), 0);
        assert_int_equal(g.proto, 10);
        assert_string_equal(g.version, versions[i]);
        assert_int_equal(g.conn_id, 0xdeadbeef);
        assert_int_equal(g.nonce_len, 20);
        assert_memory_equal(g.nonce, nonce, 20);
        assert_int_equal(g.caps, MX_SERVER_CAPS);
        assert_int_equal(g.charset, 45);
        assert_int_equal(g.status, SERVER_STATUS_AUTOCOMMIT);
        assert_string_equal(g.plugin, plugins[i]);
        free(c);
        /* too small a buffer: -1 */
        for (size_t cap = 0; cap < w.pos; cap++) {
            uint8_t *small = malloc(cap ? cap : 1);
            struct pkt_wr sw;
            pkt_wr_init(&sw, small, cap);
            assert_int_equal(
                hs_write_greeting(&sw, 1, versions[i], nonce, MX_SERVER_CAPS, 45, 2, plugins[i]),
                -1);
            free(small);
        }
    }
}

/* A version longer than the parser keeps is cut, not overrun. */
static void test_greeting_long_version(void **state)
{
    (void)state;
    static const uint8_t nonce[20] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10,
                                      11, 12, 13, 14, 15, 16, 17, 18, 19, 20};
    char version[300];
    memset(version, 'v', sizeof version - 1);
    version[sizeof version - 1] = 0;
    char plugin[100];
    memset(plugin, 'p', sizeof plugin - 1);
    plugin[sizeof plugin - 1] = 0;
    uint8_t buf[512];
    struct pkt_wr w;
    pkt_wr_init(&w, buf, sizeof buf);
    assert_int_equal(hs_write_greeting(&w, 7, version, nonce, MX_SERVER_CAPS, 45, 2, plugin), 0);
    struct hs_greeting g;
    assert_int_equal(hs_parse_greeting(buf + PKT_HDR, w.pos - PKT_HDR, &g), 0);
    assert_int_equal(strlen(g.version), sizeof g.version - 1);
    assert_int_equal(strlen(g.plugin), sizeof g.plugin - 1);
    assert_int_equal(g.conn_id, 7);
    assert_memory_equal(g.nonce, nonce, 20);
}

/* ---- HandshakeResponse41 ---- */

struct cut_range {
    size_t from, to; /* [from, to) */
    int rc;
};

/* Every truncation of p: the expected rc by range, and fields inside the input. */
static void check_response_cuts(const uint8_t *p, size_t len, const struct cut_range *ranges,
                                size_t n_ranges)
{
    for (size_t cut = 0; cut < len; cut++) {
        int want = 99;
        for (size_t i = 0; i < n_ranges; i++)
            if (cut >= ranges[i].from && cut < ranges[i].to) want = ranges[i].rc;
        assert_int_not_equal(want, 99);
        struct hs_response r;
        uint8_t *c = dup_exact(p, cut);
        int rc = hs_parse_response(c, cut, &r);
        if (rc != want) print_error("cut at %zu: %d, expected %d\n", cut, rc, want);
        assert_int_equal(rc, want);
        if (rc == 0) {
            assert_inside(r.auth, r.auth_len, c, cut);
            assert_inside(r.attrs, r.attrs_len, c, cut);
            assert_true(strlen(r.user) < sizeof r.user);
        }
        free(c);
    }
}

static void test_response_mariadb_cli(void **state)
{
    (void)state;
    struct hs_response r;
    size_t len = sizeof resp_mariadb_cli;
    uint8_t *c = dup_exact(resp_mariadb_cli, len);
    assert_int_equal(hs_parse_response(c, len, &r), 0);
    assert_false(r.ssl_request);
    assert_int_equal(r.caps, 0x00bfa28c);
    assert_true(r.caps & CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA);
    assert_int_equal(r.max_packet, 1024 * 1024);
    assert_int_equal(r.charset, 33);
    assert_string_equal(r.user, "app");
    assert_int_equal(r.auth_len, 20);
    assert_ptr_equal(r.auth, c + 37);
    assert_true(r.has_db);
    assert_string_equal(r.db, "test");
    assert_string_equal(r.plugin, "mysql_native_password");
    assert_ptr_equal(r.attrs, c + 84);
    assert_int_equal(r.attrs_len, len - 84);
    assert_int_equal(r.attrs[0], r.attrs_len - 1); /* their lenenc total */
    assert_memory_equal(r.attrs + 1, "\x03_os\x05Linux", 10);
    free(c);
    /* fixed 32, user to 36, auth to 57, db to 62, plugin to 84, attrs to the end */
    const struct cut_range ranges[] = {
        {0, 32, -1},  {32, 33, 0}, {33, 57, -1}, {57, 58, 0},
        {58, 62, -1}, {62, 63, 0}, {63, 84, -1}, {84, len, 0},
    };
    check_response_cuts(resp_mariadb_cli, len, ranges, sizeof ranges / sizeof ranges[0]);
}

static void test_response_pymysql(void **state)
{
    (void)state;
    struct hs_response r;
    size_t len = sizeof resp_pymysql;
    uint8_t *c = dup_exact(resp_pymysql, len);
    assert_int_equal(hs_parse_response(c, len, &r), 0);
    assert_false(r.ssl_request);
    assert_int_equal(r.caps, 0x003aa20d);
    assert_int_equal(r.max_packet, 0xffffff);
    assert_int_equal(r.charset, 45);
    assert_string_equal(r.user, "app");
    assert_int_equal(r.auth_len, 20);
    assert_true(r.has_db);
    assert_string_equal(r.db, "test");
    assert_string_equal(r.plugin, "mysql_native_password");
    assert_int_equal(r.attrs_len, 0x35 + 1);
    assert_int_equal(r.attrs[0], 0x35);
    assert_memory_equal(r.attrs + 1, "\x0c_client_name\x07pymysql", 21);
    free(c);
    const struct cut_range ranges[] = {
        {0, 32, -1},  {32, 33, 0}, {33, 57, -1}, {57, 58, 0},
        {58, 62, -1}, {62, 63, 0}, {63, 84, -1}, {84, len, 0},
    };
    check_response_cuts(resp_pymysql, len, ranges, sizeof ranges / sizeof ranges[0]);
}

/* An SSLRequest is the 32-byte fixed part alone. */
static void test_ssl_request(void **state)
{
    (void)state;
    struct hs_response r;
    assert_int_equal(sizeof ssl_request_cli, 32);
    uint8_t *c = dup_exact(ssl_request_cli, sizeof ssl_request_cli);
    assert_int_equal(hs_parse_response(c, sizeof ssl_request_cli, &r), 0);
    assert_true(r.ssl_request);
    assert_true(r.caps & CLIENT_SSL);
    assert_int_equal(r.caps, 0x00bfaa8c);
    assert_int_equal(r.charset, 33);
    assert_string_equal(r.user, "");
    assert_null(r.auth);
    free(c);
    for (size_t cut = 0; cut < 32; cut++) {
        c = dup_exact(ssl_request_cli, cut);
        assert_int_equal(hs_parse_response(c, cut, &r), -1);
        free(c);
    }
    /* without CLIENT_PROTOCOL_41 a response is refused (pre-4.1 clients) */
    uint8_t old[32];
    memcpy(old, ssl_request_cli, sizeof old);
    old[1] &= (uint8_t) ~(CLIENT_PROTOCOL_41 >> 8);
    assert_int_equal(hs_parse_response(old, sizeof old, &r), -1);
}

/* The other two ways of sending the auth data: a 1-byte length (SECURE_CONNECTION
 * without LENENC) and a C string (neither). */
static void test_response_auth_forms(void **state)
{
    (void)state;
    static const struct {
        uint32_t caps;
        const char *tail;
        size_t tail_n;
        size_t auth_len;
    } forms[] = {
        {CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION, "bob\0\x03xyz", 8, 3},
        {CLIENT_PROTOCOL_41, "bob\0xyz\0", 8, 3},
        {CLIENT_PROTOCOL_41 | CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA, "bob\0\x03xyz", 8, 3},
        {CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION, "bob\0\x00", 5, 0},
    };
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        uint8_t buf[64] = {0};
        wr32(buf, forms[i].caps);
        buf[8] = 45;
        memcpy(buf + 32, forms[i].tail, forms[i].tail_n);
        size_t len = 32 + forms[i].tail_n;
        struct hs_response r;
        uint8_t *c = dup_exact(buf, len);
        assert_int_equal(hs_parse_response(c, len, &r), 0);
        assert_string_equal(r.user, "bob");
        assert_int_equal(r.auth_len, forms[i].auth_len);
        if (forms[i].auth_len) assert_memory_equal(r.auth, "xyz", 3);
        assert_false(r.has_db);
        free(c);
        for (size_t cut = 33; cut < len; cut++) { /* the auth data cut: -1 */
            c = dup_exact(buf, cut);
            assert_int_equal(hs_parse_response(c, cut, &r), -1);
            free(c);
        }
    }
    /* an auth length past the end of the packet */
    uint8_t buf[40] = {0};
    wr32(buf, CLIENT_PROTOCOL_41 | CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA);
    memcpy(buf + 32, "bob\0\xfe\xff\xff\xff", 8);
    struct hs_response r;
    assert_int_equal(hs_parse_response(buf, sizeof buf, &r), -1);
}

/* What mymux writes to its backends parses back to what it was given. */
static void test_response_round_trip(void **state)
{
    (void)state;
    uint8_t auth[32];
    for (size_t i = 0; i < sizeof auth; i++)
        auth[i] = (uint8_t)(0xa0 + i);
    static const struct {
        uint32_t caps;
        const char *user, *db, *plugin;
        size_t auth_len;
    } rt[] = {
        {MX_BACKEND_BASE_CAPS, "app", "test", "mysql_native_password", 20},
        {MX_BACKEND_BASE_CAPS | CLIENT_DEPRECATE_EOF, "a_longer_user", NULL,
         "caching_sha2_password", 32},
        {MX_BACKEND_BASE_CAPS & ~CLIENT_CONNECT_ATTRS, "u", "", "mysql_native_password", 0},
    };
    for (size_t i = 0; i < sizeof rt / sizeof rt[0]; i++) {
        uint8_t buf[512];
        struct pkt_wr w;
        pkt_wr_init(&w, buf, sizeof buf);
        assert_int_equal(hs_write_response(&w, 1, rt[i].caps, 45, rt[i].user, auth, rt[i].auth_len,
                                           rt[i].db, rt[i].plugin),
                         0);
        assert_int_equal(pkt_len(buf), w.pos - PKT_HDR);
        assert_int_equal(buf[3], 1);
        struct hs_response r;
        uint8_t *c = dup_exact(buf + PKT_HDR, w.pos - PKT_HDR);
        assert_int_equal(hs_parse_response(c, w.pos - PKT_HDR, &r), 0);
        bool with_db = rt[i].db && *rt[i].db;
        assert_int_equal((r.caps & CLIENT_CONNECT_WITH_DB) != 0, with_db);
        assert_int_equal(r.caps & ~CLIENT_CONNECT_WITH_DB, rt[i].caps & ~CLIENT_CONNECT_WITH_DB);
        assert_int_equal(r.max_packet, PKT_MAX_PAYLOAD);
        assert_int_equal(r.charset, 45);
        assert_string_equal(r.user, rt[i].user);
        assert_int_equal(r.auth_len, rt[i].auth_len);
        if (rt[i].auth_len) assert_memory_equal(r.auth, auth, rt[i].auth_len);
        assert_int_equal(r.has_db, with_db);
        if (with_db) assert_string_equal(r.db, rt[i].db);
        assert_string_equal(r.plugin, rt[i].plugin);
        if (rt[i].caps & CLIENT_CONNECT_ATTRS) {
            assert_non_null(r.attrs);
            assert_int_equal(r.attrs[0], r.attrs_len - 1);
        } else {
            assert_null(r.attrs);
        }
        free(c);
    }
}

/* ---- COM_CHANGE_USER ---- */

static void test_change_user_libmariadb(void **state)
{
    (void)state;
    struct hs_response r;
    size_t len = sizeof change_user_libmariadb;
    uint8_t *c = dup_exact(change_user_libmariadb, len);
    assert_int_equal(hs_parse_change_user(c, len, CHANGE_USER_CAPS, &r), 0);
    assert_int_equal(r.caps, CHANGE_USER_CAPS);
    assert_string_equal(r.user, "app");
    assert_int_equal(r.auth_len, 20);
    assert_ptr_equal(r.auth, c + 6);
    assert_true(r.has_db);
    assert_string_equal(r.db, "mysql");
    assert_int_equal(r.charset, 45);
    assert_string_equal(r.plugin, "mysql_native_password");
    assert_int_equal(r.attrs_len, 1 + 0x6b);
    assert_ptr_equal(r.attrs, c + 56);
    free(c);

    /* command 1, user to 5, auth to 26, db to 32, charset to 34, plugin to 56 */
    for (size_t cut = 0; cut < len; cut++) {
        int want = cut < 26 ? -1 : cut < 27 ? 0 : cut < 32 ? -1 : cut < 35 ? 0 : cut < 56 ? -1 : 0;
        c = dup_exact(change_user_libmariadb, cut);
        int rc = hs_parse_change_user(c, cut, CHANGE_USER_CAPS, &r);
        if (rc != want) print_error("cut at %zu: %d, expected %d\n", cut, rc, want);
        assert_int_equal(rc, want);
        if (rc == 0) {
            assert_inside(r.auth, r.auth_len, c, cut);
            assert_inside(r.attrs, r.attrs_len, c, cut);
        }
        free(c);
    }
    /* not COM_CHANGE_USER */
    c = dup_exact(change_user_libmariadb, len);
    c[0] = COM_QUERY;
    assert_int_equal(hs_parse_change_user(c, len, CHANGE_USER_CAPS, &r), -1);
    free(c);
}

/* A minimal COM_CHANGE_USER (user and auth only), and an empty schema. */
static void test_change_user_minimal(void **state)
{
    (void)state;
    static const uint8_t min[] = {COM_CHANGE_USER, 'b', 'o', 'b', 0, 0};
    struct hs_response r;
    uint8_t *c = dup_exact(min, sizeof min);
    assert_int_equal(hs_parse_change_user(c, sizeof min, CLIENT_PROTOCOL_41, &r), 0);
    assert_string_equal(r.user, "bob");
    assert_int_equal(r.auth_len, 0);
    assert_false(r.has_db);
    free(c);
    static const uint8_t nodb[] = {COM_CHANGE_USER, 'b', 0, 1, 'x', 0, 0x21, 0};
    c = dup_exact(nodb, sizeof nodb);
    assert_int_equal(hs_parse_change_user(c, sizeof nodb, CLIENT_PROTOCOL_41, &r), 0);
    assert_int_equal(r.auth_len, 1);
    assert_false(r.has_db);
    assert_int_equal(r.charset, 0x21);
    free(c);
}

static void test_auth_switch(void **state)
{
    (void)state;
    static const uint8_t nonce[20] = "abcdefghijklmnopqrst";
    uint8_t buf[64];
    struct pkt_wr w;
    pkt_wr_init(&w, buf, sizeof buf);
    assert_int_equal(hs_write_auth_switch(&w, 2, "mysql_native_password", nonce), 0);
    static const char want[] = "\xfemysql_native_password\0abcdefghijklmnopqrst";
    assert_int_equal(pkt_len(buf), sizeof want); /* with the final NUL */
    assert_int_equal(buf[3], 2);
    assert_memory_equal(buf + PKT_HDR, want, sizeof want);
    for (size_t cap = 0; cap < w.pos; cap++) {
        pkt_wr_init(&w, buf, cap);
        assert_int_equal(hs_write_auth_switch(&w, 2, "mysql_native_password", nonce), -1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greeting_mariadb),
        cmocka_unit_test(test_greeting_truncated),
        cmocka_unit_test(test_greeting_err),
        cmocka_unit_test(test_greeting_round_trip),
        cmocka_unit_test(test_greeting_long_version),
        cmocka_unit_test(test_response_mariadb_cli),
        cmocka_unit_test(test_response_pymysql),
        cmocka_unit_test(test_ssl_request),
        cmocka_unit_test(test_response_auth_forms),
        cmocka_unit_test(test_response_round_trip),
        cmocka_unit_test(test_change_user_libmariadb),
        cmocka_unit_test(test_change_user_minimal),
        cmocka_unit_test(test_auth_switch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
