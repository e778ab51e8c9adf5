/* libFuzzer target for the handshake parsers (src/protocol/handshake.c):
 * hs_parse_greeting, hs_parse_response and hs_parse_change_user on arbitrary
 * bytes; every pointer they return must lie inside the input, every string
 * they copy must be terminated. Input: [selector][caps x4] then the payload. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/handshake.h"

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x)) __builtin_trap();                                                                \
    } while (0)

static void check_inside(const uint8_t *f, size_t n, const uint8_t *in, size_t len)
{
    if (!f) {
        CHECK(n == 0 || len == 0);
        return;
    }
    CHECK(f >= in && f + n <= in + len);
}

static void check_response(const struct hs_response *r, const uint8_t *in, size_t len)
{
    CHECK(memchr(r->user, 0, sizeof r->user));
    CHECK(memchr(r->db, 0, sizeof r->db));
    CHECK(memchr(r->plugin, 0, sizeof r->plugin));
    check_inside(r->auth, r->auth_len, in, len);
    check_inside(r->attrs, r->attrs_len, in, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 5) return 0;
    uint8_t sel = data[0];
    uint32_t caps = rd32(data + 1);
    size_t len = size - 5;
    uint8_t *p = malloc(len ? len : 1); /* exact: ASan sees an overread */
    CHECK(p);
    memcpy(p, data + 5, len);
    switch (sel % 3) {
    case 0: {
        struct hs_greeting g;
        int rc = hs_parse_greeting(p, len, &g);
        CHECK(rc == 0 || rc == -1 || rc == -2);
        CHECK(memchr(g.version, 0, sizeof g.version));
        CHECK(memchr(g.plugin, 0, sizeof g.plugin));
        CHECK(g.nonce_len <= sizeof g.nonce);
        if (rc == 0) {
            /* what parsed writes back and parses again the same */
            uint8_t buf[512], nonce[20] = {0};
            struct pkt_wr w;
            struct hs_greeting g2;
            memcpy(nonce, g.nonce, g.nonce_len);
            pkt_wr_init(&w, buf, sizeof buf);
            CHECK(hs_write_greeting(&w, g.conn_id, g.version, nonce, g.caps, g.charset, g.status,
                                    g.plugin) == 0);
            CHECK(hs_parse_greeting(buf + PKT_HDR, w.pos - PKT_HDR, &g2) == 0);
            CHECK(strcmp(g.version, g2.version) == 0 && g.conn_id == g2.conn_id);
        }
        break;
    }
    case 1: {
        struct hs_response r;
        int rc = hs_parse_response(p, len, &r);
        CHECK(rc == 0 || rc == -1);
        if (rc == 0) check_response(&r, p, len);
        if (rc == 0 && r.ssl_request) CHECK(len == 32);
        break;
    }
    case 2: {
        struct hs_response r;
        int rc = hs_parse_change_user(p, len, caps, &r);
        CHECK(rc == 0 || rc == -1);
        if (rc == 0) check_response(&r, p, len);
        break;
    }
    }
    free(p);
    return 0;
}
