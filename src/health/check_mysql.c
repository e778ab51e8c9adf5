/* mysql check: log in as the monitor user (mysql_native_password or
 * caching_sha2_password, auth switch and RSA full auth included), run the query
 * to the end of its answer, COM_PING (TiDB answers it with an error while it
 * shuts down), then COM_QUIT, so the server logs no aborted connection. */
#include <stdio.h>
#include <string.h>

#include "core/config.h"
#include "health/check.h"
#include "protocol/auth.h"
#include "protocol/handshake.h"
#include "protocol/packet.h"

#define CHECK_MY_CAPS                                                                              \
    (CLIENT_LONG_PASSWORD | CLIENT_LONG_FLAG | CLIENT_PROTOCOL_41 | CLIENT_TRANSACTIONS |          \
     CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH | CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA |       \
     CLIENT_CONNECT_ATTRS | CLIENT_MULTI_RESULTS | CLIENT_PS_MULTI_RESULTS | CLIENT_DEPRECATE_EOF)

/* Who logs in: health.user/password, else the first configured user's backend
 * identity. Returns 0, or -1 when no plaintext password is known. */
static int check_my_identity(struct check_conn *c)
{
    const struct mx_check_cfg *hc = &c->bc->health;
    if (hc->user) {
        c->user = hc->user;
        c->password = hc->password ? hc->password : "";
        return 0;
    }
    if (c->cfg->n_users == 0) return -1;
    const struct mx_user *u = &c->cfg->users[0];
    c->user = u->backend_user ? u->backend_user : u->name;
    c->password = u->backend_password ? u->backend_password : u->password;
    return c->password ? 0 : -1;
}

/* The token for plugin; its length, or -1 for a plugin the check cannot use. */
static int check_my_token(struct check_conn *c, const char *plugin, uint8_t out[32])
{
    size_t n = strlen(c->password);
    if (strcmp(plugin, "mysql_native_password") == 0) {
        if (!n) return 0;
        auth_native_token(c->password, n, c->nonce, out);
        return AUTH_NATIVE_LEN;
    }
    if (strcmp(plugin, "caching_sha2_password") == 0) {
        if (!n) return 0;
        auth_sha2_token(c->password, n, c->nonce, out);
        return AUTH_SHA2_LEN;
    }
    return -1;
}

/* Sends one packet with payload p[0, n) and sequence id seq. */
static int check_my_send(struct check_conn *c, uint8_t seq, const void *p, size_t n)
{
    uint8_t buf[1100];
    if (n + PKT_HDR > sizeof buf) {
        check_finish(c, HC_FAIL, 0, "request too large (%s)", c->phase);
        return -1;
    }
    pkt_put_hdr(buf, (uint32_t)n, seq);
    memcpy(buf + PKT_HDR, p, n);
    return check_send(c, buf, n + PKT_HDR);
}

static void check_my_greeting(struct check_conn *c, const uint8_t *p, size_t len)
{
    struct hs_greeting g;
    int rc = hs_parse_greeting(p, len, &g);
    if (rc == -2) {
        check_finish_err(c, p, len);
        return;
    }
    if (rc != 0 || g.nonce_len < 20 || !(g.caps & CLIENT_PROTOCOL_41)) {
        check_finish(c, HC_FAIL, 0, "malformed greeting");
        return;
    }
    if (check_my_identity(c) != 0) {
        check_finish(c, HC_FAIL, 0, "no plaintext password for the monitor user");
        return;
    }
    memcpy(c->nonce, g.nonce, 20);
    const char *plugin = g.plugin[0] ? g.plugin : "mysql_native_password";
    uint8_t tok[32];
    int n = check_my_token(c, plugin, tok);
    if (n < 0) { /* answer with native; the server switches to its plugin */
        plugin = "mysql_native_password";
        n = check_my_token(c, plugin, tok);
    }
    snprintf(c->plugin, sizeof c->plugin, "%s", plugin);
    c->caps = CHECK_MY_CAPS & g.caps;
    uint8_t buf[1024];
    struct pkt_wr w;
    pkt_wr_init(&w, buf, sizeof buf);
    if (hs_write_response(&w, ++c->seq, c->caps, 45 /* utf8mb4_general_ci */, c->user, tok,
                          (size_t)n, NULL, plugin) != 0) {
        check_finish(c, HC_FAIL, 0, "monitor user name too long");
        return;
    }
    c->my = CMY_AUTH;
    c->phase = "login";
    check_send(c, buf, w.pos);
}

static void check_my_send_query(struct check_conn *c)
{
    const char *q = c->bc->health.query ? c->bc->health.query : "SELECT 1";
    size_t n = strlen(q);
    uint8_t buf[1024];
    if (n + 1 > sizeof buf) {
        check_finish(c, HC_FAIL, 0, "health query too long");
        return;
    }
    buf[0] = COM_QUERY;
    memcpy(buf + 1, q, n);
    c->my = CMY_QUERY;
    c->phase = "query";
    resp_begin(&c->resp, COM_QUERY, (c->caps & CLIENT_DEPRECATE_EOF) != 0);
    check_my_send(c, 0, buf, n + 1);
}

static void check_my_auth(struct check_conn *c, const uint8_t *p, size_t len)
{
    if (len == 0) {
        check_finish(c, HC_FAIL, 0, "empty packet (login)");
        return;
    }
    switch (p[0]) {
    case 0x00:
        check_my_send_query(c);
        return;
    case 0xff:
        check_finish_err(c, p, len);
        return;
    case 0xfe: { /* auth switch: plugin\0 nonce */
        struct pkt_rd r;
        pkt_rd_init(&r, p + 1, len - 1);
        size_t n;
        const char *pl = pkt_rd_cstr(&r, &n);
        const uint8_t *nonce = pkt_rd_bytes(&r, 20);
        if (!pl || !nonce || n >= sizeof c->plugin) {
            check_finish(c, HC_FAIL, 0, "malformed auth switch");
            return;
        }
        memcpy(c->plugin, pl, n);
        c->plugin[n] = 0;
        memcpy(c->nonce, nonce, 20);
        uint8_t tok[32];
        int t = check_my_token(c, c->plugin, tok);
        if (t < 0) {
            check_finish(c, HC_FAIL, 0, "auth plugin %s not supported", c->plugin);
            return;
        }
        check_my_send(c, ++c->seq, tok, (size_t)t);
        return;
    }
    case 0x01:                             /* caching_sha2_password more data */
        if (len == 2 && p[1] == 3) return; /* fast auth succeeded: OK follows */
        if (len == 2 && p[1] == 4) {       /* full auth: ask for the RSA public key */
            uint8_t req = 0x02;
            check_my_send(c, ++c->seq, &req, 1);
            return;
        }
        { /* the public key (PEM) */
            uint8_t enc[1024];
            int n = auth_rsa_encrypt_password((const char *)p + 1, len - 1, c->password,
                                              strlen(c->password), c->nonce, enc, sizeof enc);
            if (n < 0) {
                check_finish(c, HC_FAIL, 0, "RSA encryption of the password failed");
                return;
            }
            check_my_send(c, ++c->seq, enc, (size_t)n);
        }
        return;
    default:
        check_finish(c, HC_FAIL, 0, "unexpected packet 0x%02x (login)", p[0]);
    }
}

/* One packet (or the first avail bytes of an oversized one) of the query's answer. */
static void check_my_query(struct check_conn *c, const uint8_t *p, uint32_t len, size_t avail)
{
    size_t need = 0;
    int rc = resp_feed(&c->resp, len, p, avail, &need);
    if (rc == RESP_BAD || rc == RESP_NEED || rc == RESP_INFILE) {
        check_finish(c, HC_FAIL, 0, "unexpected answer to the health query");
        return;
    }
    if (rc != RESP_DONE) return;
    if (c->resp.error) {
        check_finish_err(c, p, avail);
        return;
    }
    uint8_t cmd = COM_PING;
    c->my = CMY_PING;
    c->phase = "ping";
    check_my_send(c, 0, &cmd, 1);
}

static void check_my_ping(struct check_conn *c, const uint8_t *p, size_t len)
{
    if (len && p[0] == 0xff) {
        check_finish_err(c, p, len);
        return;
    }
    if (!len || p[0] != 0x00) {
        check_finish(c, HC_FAIL, 0, "unexpected answer to COM_PING");
        return;
    }
    unsigned us = check_elapsed_us(c);
    uint8_t quit = COM_QUIT;
    if (check_my_send(c, 0, &quit, 1) != 0) return;
    check_finish_ok(c, us ? us : 1);
}

static void check_my_connect(struct check_conn *c)
{
    c->my = CMY_GREETING;
    c->phase = "greeting";
}

static void check_my_data(struct check_conn *c)
{
    size_t pos = 0;
    while (!c->finished) {
        if (c->skip) { /* the rest of an oversized row: not needed */
            size_t take = c->in_len - pos < c->skip ? c->in_len - pos : (size_t)c->skip;
            pos += take;
            c->skip -= take;
            if (c->skip) break;
            continue;
        }
        if (c->in_len - pos < PKT_HDR) break;
        const uint8_t *h = c->in + pos;
        uint32_t len = pkt_len(h);
        size_t have = c->in_len - pos - PKT_HDR;
        size_t avail = len;
        if (have < len) {
            if (PKT_HDR + (size_t)len <= sizeof c->in) break; /* fits once compacted */
            if (c->my != CMY_QUERY) {
                check_finish(c, HC_FAIL, 0, "packet too large (%s)", c->phase);
                return;
            }
            if (have < RESP_PEEK) break;
            avail = have;
            c->skip = len - have;
        }
        c->seq = h[3];
        const uint8_t *p = h + PKT_HDR;
        pos += PKT_HDR + avail;
        switch (c->my) {
        case CMY_GREETING:
            check_my_greeting(c, p, avail);
            break;
        case CMY_AUTH:
            check_my_auth(c, p, avail);
            break;
        case CMY_QUERY:
            check_my_query(c, p, len, avail);
            break;
        case CMY_PING:
            check_my_ping(c, p, avail);
            break;
        }
    }
    check_consume(c, pos);
}

static void check_my_eof(struct check_conn *c)
{
    check_finish(c, HC_FAIL, 0, "closed by server (%s)", c->phase);
}

const struct check_ops check_mysql_ops = {
    .on_connect = check_my_connect,
    .on_data = check_my_data,
    .on_eof = check_my_eof,
};
