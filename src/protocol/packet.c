/* MySQL packet primitives: bounded readers and writers, OK/ERR/EOF builders. */
#include "protocol/packet.h"

#include <stdarg.h>
#include <stdio.h>

static bool rd_need(struct pkt_rd *r, size_t n)
{
    if (r->bad || r->len - r->pos < n) {
        r->bad = true;
        return false;
    }
    return true;
}

uint8_t pkt_rd_u8(struct pkt_rd *r)
{
    if (!rd_need(r, 1)) return 0;
    return r->p[r->pos++];
}

uint16_t pkt_rd_u16(struct pkt_rd *r)
{
    if (!rd_need(r, 2)) return 0;
    uint16_t v = rd16(r->p + r->pos);
    r->pos += 2;
    return v;
}

uint32_t pkt_rd_u24(struct pkt_rd *r)
{
    if (!rd_need(r, 3)) return 0;
    uint32_t v = pkt_len(r->p + r->pos);
    r->pos += 3;
    return v;
}

uint32_t pkt_rd_u32(struct pkt_rd *r)
{
    if (!rd_need(r, 4)) return 0;
    uint32_t v = rd32(r->p + r->pos);
    r->pos += 4;
    return v;
}

uint64_t pkt_rd_lenenc(struct pkt_rd *r, bool *is_null)
{
    if (is_null) *is_null = false;
    uint8_t b = pkt_rd_u8(r);
    if (r->bad) return 0;
    if (b < 0xfb) return b;
    if (b == 0xfb) {
        if (is_null) *is_null = true;
        return 0;
    }
    if (b == 0xfc) return pkt_rd_u16(r);
    if (b == 0xfd) return pkt_rd_u24(r);
    if (b == 0xfe) {
        uint64_t lo = pkt_rd_u32(r), hi = pkt_rd_u32(r);
        return lo | (hi << 32);
    }
    r->bad = true; /* 0xff is not a length */
    return 0;
}

const uint8_t *pkt_rd_bytes(struct pkt_rd *r, size_t n)
{
    if (!rd_need(r, n)) return NULL;
    const uint8_t *p = r->p + r->pos;
    r->pos += n;
    return p;
}

const char *pkt_rd_cstr(struct pkt_rd *r, size_t *n)
{
    if (r->bad || r->pos >= r->len) {
        r->bad = true;
        return NULL;
    }
    const uint8_t *start = r->p + r->pos;
    const uint8_t *nul = memchr(start, 0, r->len - r->pos);
    if (!nul) {
        r->bad = true;
        return NULL;
    }
    *n = (size_t)(nul - start);
    r->pos += *n + 1;
    return (const char *)start;
}

const uint8_t *pkt_rd_lenenc_str(struct pkt_rd *r, size_t *n)
{
    uint64_t len = pkt_rd_lenenc(r, NULL);
    if (r->bad || len > r->len - r->pos) {
        r->bad = true;
        return NULL;
    }
    *n = (size_t)len;
    return pkt_rd_bytes(r, *n);
}

static bool wr_need(struct pkt_wr *w, size_t n)
{
    if (w->bad || w->cap - w->pos < n) {
        w->bad = true;
        return false;
    }
    return true;
}

void pkt_wr_u8(struct pkt_wr *w, uint8_t v)
{
    if (wr_need(w, 1)) w->p[w->pos++] = v;
}

void pkt_wr_u16(struct pkt_wr *w, uint16_t v)
{
    if (!wr_need(w, 2)) return;
    wr16(w->p + w->pos, v);
    w->pos += 2;
}

void pkt_wr_u24(struct pkt_wr *w, uint32_t v)
{
    if (!wr_need(w, 3)) return;
    w->p[w->pos++] = (uint8_t)v;
    w->p[w->pos++] = (uint8_t)(v >> 8);
    w->p[w->pos++] = (uint8_t)(v >> 16);
}

void pkt_wr_u32(struct pkt_wr *w, uint32_t v)
{
    if (!wr_need(w, 4)) return;
    wr32(w->p + w->pos, v);
    w->pos += 4;
}

void pkt_wr_lenenc(struct pkt_wr *w, uint64_t v)
{
    if (v < 0xfb) {
        pkt_wr_u8(w, (uint8_t)v);
    } else if (v <= 0xffff) {
        pkt_wr_u8(w, 0xfc);
        pkt_wr_u16(w, (uint16_t)v);
    } else if (v <= 0xffffff) {
        pkt_wr_u8(w, 0xfd);
        pkt_wr_u24(w, (uint32_t)v);
    } else {
        pkt_wr_u8(w, 0xfe);
        pkt_wr_u32(w, (uint32_t)v);
        pkt_wr_u32(w, (uint32_t)(v >> 32));
    }
}

void pkt_wr_bytes(struct pkt_wr *w, const void *p, size_t n)
{
    if (!wr_need(w, n)) return;
    if (n) memcpy(w->p + w->pos, p, n);
    w->pos += n;
}

void pkt_wr_cstr(struct pkt_wr *w, const char *s)
{
    pkt_wr_bytes(w, s, strlen(s) + 1);
}

void pkt_wr_lenenc_str(struct pkt_wr *w, const void *p, size_t n)
{
    pkt_wr_lenenc(w, n);
    pkt_wr_bytes(w, p, n);
}

void pkt_wr_zero(struct pkt_wr *w, size_t n)
{
    if (!wr_need(w, n)) return;
    memset(w->p + w->pos, 0, n);
    w->pos += n;
}

size_t pkt_wr_begin(struct pkt_wr *w)
{
    size_t off = w->pos;
    pkt_wr_zero(w, PKT_HDR);
    return off;
}

void pkt_wr_end(struct pkt_wr *w, size_t off, uint8_t seq)
{
    if (w->bad) return;
    pkt_put_hdr(w->p + off, (uint32_t)(w->pos - off - PKT_HDR), seq);
}

int pkt_command(struct pkt_wr *w, uint8_t cmd, const void *arg, size_t len)
{
    size_t off = pkt_wr_begin(w);
    pkt_wr_u8(w, cmd);
    if (len) pkt_wr_bytes(w, arg, len);
    pkt_wr_end(w, off, 0);
    return w->bad ? -1 : 0;
}

int pkt_ok(struct pkt_wr *w, uint8_t seq, uint64_t affected, uint64_t insert_id,
           uint16_t status, uint16_t warnings, const char *info)
{
    size_t off = pkt_wr_begin(w);
    pkt_wr_u8(w, 0x00);
    pkt_wr_lenenc(w, affected);
    pkt_wr_lenenc(w, insert_id);
    pkt_wr_u16(w, status);
    pkt_wr_u16(w, warnings);
    if (info) pkt_wr_bytes(w, info, strlen(info));
    pkt_wr_end(w, off, seq);
    return w->bad ? -1 : 0;
}

int pkt_err(struct pkt_wr *w, uint8_t seq, uint16_t code, const char *sqlstate, const char *fmt,
            ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    if ((size_t)n >= sizeof msg) n = sizeof msg - 1;
    size_t off = pkt_wr_begin(w);
    pkt_wr_u8(w, 0xff);
    pkt_wr_u16(w, code);
    pkt_wr_u8(w, '#');
    pkt_wr_bytes(w, sqlstate, 5);
    pkt_wr_bytes(w, msg, (size_t)n);
    pkt_wr_end(w, off, seq);
    return w->bad ? -1 : 0;
}

int pkt_eof(struct pkt_wr *w, uint8_t seq, uint16_t warnings, uint16_t status)
{
    size_t off = pkt_wr_begin(w);
    pkt_wr_u8(w, 0xfe);
    pkt_wr_u16(w, warnings);
    pkt_wr_u16(w, status);
    pkt_wr_end(w, off, seq);
    return w->bad ? -1 : 0;
}

int pkt_coldef(struct pkt_wr *w, uint8_t seq, const char *name, size_t name_len,
               uint16_t charset, uint32_t length, uint8_t type, uint16_t flags, uint8_t decimals)
{
    size_t off = pkt_wr_begin(w);
    pkt_wr_lenenc_str(w, "def", 3);
    pkt_wr_lenenc_str(w, "", 0); /* schema */
    pkt_wr_lenenc_str(w, "", 0); /* table */
    pkt_wr_lenenc_str(w, "", 0); /* org_table */
    pkt_wr_lenenc_str(w, name, name_len);
    pkt_wr_lenenc_str(w, "", 0); /* org_name */
    pkt_wr_lenenc(w, 0x0c);
    pkt_wr_u16(w, charset);
    pkt_wr_u32(w, length);
    pkt_wr_u8(w, type);
    pkt_wr_u16(w, flags);
    pkt_wr_u8(w, decimals);
    pkt_wr_u16(w, 0);
    pkt_wr_end(w, off, seq);
    return w->bad ? -1 : 0;
}

int pkt_parse_ok(const uint8_t *p, size_t len, struct pkt_ok_info *ok)
{
    struct pkt_rd r;
    pkt_rd_init(&r, p, len);
    uint8_t h = pkt_rd_u8(&r);
    if (h != 0x00 && h != 0xfe) return -1;
    if (h == 0xfe && len < 7) { /* a classic EOF: warnings, status */
        ok->affected = ok->insert_id = 0;
        ok->warnings = pkt_rd_u16(&r);
        ok->status = pkt_rd_u16(&r);
        return r.bad ? -1 : 0;
    }
    ok->affected = pkt_rd_lenenc(&r, NULL);
    ok->insert_id = pkt_rd_lenenc(&r, NULL);
    ok->status = pkt_rd_u16(&r);
    ok->warnings = pkt_rd_u16(&r);
    return r.bad ? -1 : 0;
}

int pkt_parse_err(const uint8_t *p, size_t len, struct pkt_err_info *err)
{
    struct pkt_rd r;
    pkt_rd_init(&r, p, len);
    if (pkt_rd_u8(&r) != 0xff) return -1;
    err->code = pkt_rd_u16(&r);
    if (r.bad) return -1;
    memcpy(err->sqlstate, "HY000", 6);
    if (pkt_rd_left(&r) >= 6 && r.p[r.pos] == '#') {
        memcpy(err->sqlstate, r.p + r.pos + 1, 5);
        r.pos += 6;
    }
    err->msg = (const char *)r.p + r.pos;
    err->msg_len = pkt_rd_left(&r);
    return 0;
}
