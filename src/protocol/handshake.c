/* Handshake packets: build and parse the v10 greeting, HandshakeResponse41,
 * SSLRequest, auth switch and COM_CHANGE_USER. */
#include "protocol/handshake.h"

#include <stdio.h>
#include <string.h>

static void copy_str(char *dst, size_t cap, const void *src, size_t n)
{
    if (n >= cap) n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = 0;
}

int hs_write_greeting(struct pkt_wr *w, uint32_t conn_id, const char *version,
                      const uint8_t nonce[20], uint32_t caps, uint8_t charset, uint16_t status,
                      const char *plugin)
{
    size_t off = pkt_wr_begin(w);
    pkt_wr_u8(w, 10);
    pkt_wr_cstr(w, version);
    pkt_wr_u32(w, conn_id);
    pkt_wr_bytes(w, nonce, 8);
    pkt_wr_u8(w, 0);
    pkt_wr_u16(w, (uint16_t)caps);
    pkt_wr_u8(w, charset);
    pkt_wr_u16(w, status);
    pkt_wr_u16(w, (uint16_t)(caps >> 16));
    pkt_wr_u8(w, 21); /* auth plugin data length: 20 + NUL */
    pkt_wr_zero(w, 10);
    pkt_wr_bytes(w, nonce + 8, 12);
    pkt_wr_u8(w, 0);
    pkt_wr_cstr(w, plugin);
    pkt_wr_end(w, off, 0);
    return w->bad ? -1 : 0;
}

int hs_parse_greeting(const uint8_t *p, size_t len, struct hs_greeting *g)
{
    struct pkt_rd r;
    memset(g, 0, sizeof *g);
    pkt_rd_init(&r, p, len);
    g->proto = pkt_rd_u8(&r);
    if (g->proto == 0xff) return -2;
    if (g->proto != 10) return -1;
    size_t n;
    const char *v = pkt_rd_cstr(&r, &n);
    if (!v) return -1;
    copy_str(g->version, sizeof g->version, v, n);
    g->conn_id = pkt_rd_u32(&r);
    const uint8_t *n1 = pkt_rd_bytes(&r, 8);
    pkt_rd_u8(&r);
    g->caps = pkt_rd_u16(&r);
    if (r.bad || !n1) return -1;
    memcpy(g->nonce, n1, 8);
    g->nonce_len = 8;
    if (pkt_rd_left(&r) == 0) return 0;
    g->charset = pkt_rd_u8(&r);
    g->status = pkt_rd_u16(&r);
    g->caps |= (uint32_t)pkt_rd_u16(&r) << 16;
    uint8_t alen = pkt_rd_u8(&r);
    pkt_rd_bytes(&r, 10);
    if (r.bad) return -1;
    if (g->caps & CLIENT_SECURE_CONNECTION) {
        size_t n2 = alen > 8 ? (size_t)alen - 8 : 13;
        if (n2 > 13) n2 = 13;
        const uint8_t *part2 = pkt_rd_bytes(&r, n2);
        if (!part2) return -1;
        size_t take = n2 > 12 ? 12 : n2; /* the last byte is a NUL */
        memcpy(g->nonce + 8, part2, take);
        g->nonce_len = 8 + take;
    }
    if ((g->caps & CLIENT_PLUGIN_AUTH) && pkt_rd_left(&r) > 0) {
        const uint8_t *s = r.p + r.pos;
        size_t left = pkt_rd_left(&r);
        const uint8_t *nul = memchr(s, 0, left);
        copy_str(g->plugin, sizeof g->plugin, s, nul ? (size_t)(nul - s) : left);
    }
    return 0;
}

/* The rest of a HandshakeResponse41 or COM_CHANGE_USER after the fixed part. */
static int parse_auth_tail(struct pkt_rd *r, struct hs_response *out, bool change_user)
{
    size_t n;
    const char *user = pkt_rd_cstr(r, &n);
    if (!user) return -1;
    copy_str(out->user, sizeof out->user, user, n);
    if (change_user) {
        uint8_t alen = pkt_rd_u8(r);
        out->auth = pkt_rd_bytes(r, alen);
        out->auth_len = alen;
    } else if (out->caps & CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA) {
        out->auth = pkt_rd_lenenc_str(r, &out->auth_len);
    } else if (out->caps & CLIENT_SECURE_CONNECTION) {
        uint8_t alen = pkt_rd_u8(r);
        out->auth = pkt_rd_bytes(r, alen);
        out->auth_len = alen;
    } else {
        out->auth = (const uint8_t *)pkt_rd_cstr(r, &out->auth_len);
    }
    if (r->bad) return -1;
    if (change_user || (out->caps & CLIENT_CONNECT_WITH_DB)) {
        if (pkt_rd_left(r) == 0) return 0;
        const char *db = pkt_rd_cstr(r, &n);
        if (!db) return -1;
        copy_str(out->db, sizeof out->db, db, n);
        out->has_db = n > 0;
    }
    if (change_user) {
        if (pkt_rd_left(r) < 2) return 0;
        out->charset = (uint8_t)pkt_rd_u16(r);
    }
    if ((out->caps & CLIENT_PLUGIN_AUTH) && pkt_rd_left(r) > 0) {
        const char *pl = pkt_rd_cstr(r, &n);
        if (!pl) return -1;
        copy_str(out->plugin, sizeof out->plugin, pl, n);
    }
    size_t zstd = !change_user && (out->caps & CLIENT_ZSTD_COMPRESSION) && pkt_rd_left(r) > 0;
    if (zstd) out->zstd_level = r->p[r->pos + pkt_rd_left(r) - 1]; /* the last byte */
    if ((out->caps & CLIENT_CONNECT_ATTRS) && pkt_rd_left(r) > zstd) {
        out->attrs = r->p + r->pos;
        out->attrs_len = pkt_rd_left(r) - zstd;
    }
    return 0;
}

int hs_parse_response(const uint8_t *p, size_t len, struct hs_response *out)
{
    struct pkt_rd r;
    memset(out, 0, sizeof *out);
    pkt_rd_init(&r, p, len);
    out->caps = pkt_rd_u32(&r);
    if (r.bad || !(out->caps & CLIENT_PROTOCOL_41)) return -1;
    out->max_packet = pkt_rd_u32(&r);
    out->charset = pkt_rd_u8(&r);
    pkt_rd_bytes(&r, 23);
    if (r.bad) return -1;
    if (len == 32) {
        out->ssl_request = true;
        return 0;
    }
    return parse_auth_tail(&r, out, false);
}

int hs_parse_change_user(const uint8_t *p, size_t len, uint32_t caps, struct hs_response *out)
{
    struct pkt_rd r;
    memset(out, 0, sizeof *out);
    pkt_rd_init(&r, p, len);
    if (pkt_rd_u8(&r) != COM_CHANGE_USER) return -1;
    out->caps = caps;
    return parse_auth_tail(&r, out, true);
}

int hs_write_response(struct pkt_wr *w, uint8_t seq, uint32_t caps, uint8_t charset,
                      const char *user, const uint8_t *auth, size_t auth_len, const char *db,
                      const char *plugin)
{
    size_t off = pkt_wr_begin(w);
    if (db && *db) caps |= CLIENT_CONNECT_WITH_DB;
    else caps &= ~CLIENT_CONNECT_WITH_DB;
    pkt_wr_u32(w, caps);
    pkt_wr_u32(w, PKT_MAX_PAYLOAD);
    pkt_wr_u8(w, charset);
    pkt_wr_zero(w, 23);
    pkt_wr_cstr(w, user);
    pkt_wr_lenenc_str(w, auth, auth_len);
    if (caps & CLIENT_CONNECT_WITH_DB) pkt_wr_cstr(w, db);
    pkt_wr_cstr(w, plugin);
    if (caps & CLIENT_CONNECT_ATTRS) {
        static const char k1[] = "_client_name", v1[] = "mymux";
        static const char k2[] = "program_name", v2[] = "mymux";
        size_t total = 1 + sizeof k1 - 1 + 1 + sizeof v1 - 1 + 1 + sizeof k2 - 1 + 1 + sizeof v2 - 1;
        pkt_wr_lenenc(w, total);
        pkt_wr_lenenc_str(w, k1, sizeof k1 - 1);
        pkt_wr_lenenc_str(w, v1, sizeof v1 - 1);
        pkt_wr_lenenc_str(w, k2, sizeof k2 - 1);
        pkt_wr_lenenc_str(w, v2, sizeof v2 - 1);
    }
    pkt_wr_end(w, off, seq);
    return w->bad ? -1 : 0;
}

int hs_write_auth_switch(struct pkt_wr *w, uint8_t seq, const char *plugin,
                         const uint8_t nonce[20])
{
    size_t off = pkt_wr_begin(w);
    pkt_wr_u8(w, 0xfe);
    pkt_wr_cstr(w, plugin);
    pkt_wr_bytes(w, nonce, 20);
    pkt_wr_u8(w, 0);
    pkt_wr_end(w, off, seq);
    return w->bad ? -1 : 0;
}

uint32_t hs_version_number(const char *v, bool *mariadb, bool *tidb)
{
    *mariadb = strstr(v, "MariaDB") != NULL;
    *tidb = strstr(v, "TiDB") != NULL;
    if (*mariadb && strncmp(v, "5.5.5-", 6) == 0) v += 6;
    unsigned part[3] = {0, 0, 0};
    for (int i = 0; i < 3; i++) {
        if (*v < '0' || *v > '9') return 0;
        while (*v >= '0' && *v <= '9') {
            part[i] = part[i] * 10 + (unsigned)(*v++ - '0');
            if (part[i] > 99) return 0;
        }
        if (i < 2 && *v++ != '.') return 0;
    }
    return part[0] * 10000 + part[1] * 100 + part[2];
}
