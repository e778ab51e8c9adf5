/* Held diagnostics: parsing the server's SHOW WARNINGS, recognising the
 * readers, answering them (see diag.h). */
#include "protocol/diag.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "protocol/charset.h"
#include "protocol/packet.h"

enum { TYPE_LONG = 3, TYPE_LONGLONG = 8, TYPE_VAR_STRING = 253 };
enum { FLAG_NOT_NULL = 1, FLAG_UNSIGNED = 32, FLAG_BINARY = 128 };
#define COLLATION_BINARY 63

void diag_init(struct mx_diag *d)
{
    memset(d, 0, sizeof *d);
}

void diag_free(struct mx_diag *d)
{
    free(d->c);
    free(d->text);
    diag_init(d);
}

void diag_clear(struct mx_diag *d)
{
    d->held = false;
    d->n = 0;
    d->text_len = 0;
    d->warn_count = d->err_count = 0;
}

static int level_of(const uint8_t *p, size_t n)
{
    static const char *const names[] = {[DIAG_NOTE] = "Note", [DIAG_WARNING] = "Warning",
                                        [DIAG_ERROR] = "Error"};
    for (int i = 0; i < 3; i++)
        if (strlen(names[i]) == n && strncasecmp((const char *)p, names[i], n) == 0) return i;
    return -1;
}

static const char *level_name(uint8_t level)
{
    return level == DIAG_NOTE ? "Note" : level == DIAG_ERROR ? "Error" : "Warning";
}

/* A decimal in a text-protocol field. */
static int parse_uint(const uint8_t *p, size_t n, uint64_t *out)
{
    if (n == 0 || n > 20) return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') return -1;
        uint64_t next = v * 10 + (uint64_t)(p[i] - '0');
        if (next / 10 != v) return -1;
        v = next;
    }
    *out = v;
    return 0;
}

int diag_add_row(struct mx_diag *d, const uint8_t *p, size_t len)
{
    struct pkt_rd r;
    pkt_rd_init(&r, p, len);
    size_t ln, cn, mn;
    const uint8_t *lv = pkt_rd_lenenc_str(&r, &ln);
    const uint8_t *cv = pkt_rd_lenenc_str(&r, &cn);
    const uint8_t *mv = pkt_rd_lenenc_str(&r, &mn);
    uint64_t code;
    int level = lv ? level_of(lv, ln) : -1;
    if (r.bad || pkt_rd_left(&r) || level < 0 || parse_uint(cv, cn, &code) != 0 || code > 0xffff)
        return -1;
    if (mn > DIAG_MSG_MAX) mn = DIAG_MSG_MAX;
    if (d->n == d->cap) {
        uint16_t cap = d->cap ? (uint16_t)(d->cap * 2) : 8;
        if (cap < d->cap) return -1;
        struct diag_cond *c = realloc(d->c, cap * sizeof *c);
        if (!c) return -1;
        d->c = c;
        d->cap = cap;
    }
    if (d->text_len + mn > d->text_cap) {
        uint32_t cap = d->text_cap ? d->text_cap : 1024;
        while (cap < d->text_len + mn) cap *= 2;
        char *t = realloc(d->text, cap);
        if (!t) return -1;
        d->text = t;
        d->text_cap = cap;
    }
    memcpy(d->text + d->text_len, mv, mn);
    d->c[d->n++] = (struct diag_cond){(uint8_t)level, (uint16_t)code, (uint16_t)mn, d->text_len};
    d->text_len += (uint32_t)mn;
    return 0;
}

int diag_set_counts(struct mx_diag *d, const uint8_t *p, size_t len, uint64_t *found_rows,
                    int64_t *row_count)
{
    struct pkt_rd r;
    pkt_rd_init(&r, p, len);
    size_t n[4];
    const uint8_t *v[4];
    for (int i = 0; i < 4; i++) v[i] = pkt_rd_lenenc_str(&r, &n[i]);
    uint64_t w, e, f, rc;
    if (r.bad || pkt_rd_left(&r) || parse_uint(v[0], n[0], &w) != 0 ||
        parse_uint(v[1], n[1], &e) != 0 || parse_uint(v[2], n[2], &f) != 0)
        return -1;
    bool neg = n[3] > 0 && v[3][0] == '-';
    if (parse_uint(v[3] + neg, n[3] - neg, &rc) != 0 || rc > INT64_MAX) return -1;
    d->warn_count = w;
    d->err_count = e;
    *found_rows = f;
    *row_count = neg ? -(int64_t)rc : (int64_t)rc;
    return 0;
}

int diag_read_uint_row(const uint8_t *p, size_t len, uint64_t *v)
{
    struct pkt_rd r;
    pkt_rd_init(&r, p, len);
    size_t n;
    const uint8_t *f = pkt_rd_lenenc_str(&r, &n);
    if (r.bad || pkt_rd_left(&r)) return -1;
    return parse_uint(f, n, v);
}

/* ---- recognising the readers ---- */

struct scan {
    const char *p, *end;
};

static bool isalnum_ascii(char c)
{
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

static void skip_ws(struct scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static bool word(struct scan *s, const char *kw)
{
    skip_ws(s);
    size_t n = strlen(kw);
    if ((size_t)(s->end - s->p) < n || strncasecmp(s->p, kw, n) != 0) return false;
    const char *after = s->p + n;
    if (after < s->end && (isalnum_ascii(*after) || *after == '_' || *after == '$')) return false;
    s->p = after;
    return true;
}

static bool punct(struct scan *s, char c)
{
    skip_ws(s);
    if (s->p < s->end && *s->p == c) {
        s->p++;
        return true;
    }
    return false;
}

static bool number(struct scan *s, uint64_t *v)
{
    skip_ws(s);
    const char *start = s->p;
    while (s->p < s->end && *s->p >= '0' && *s->p <= '9') s->p++;
    if (s->p == start || (s->p < s->end && (isalnum_ascii(*s->p) || *s->p == '_'))) return false;
    return parse_uint((const uint8_t *)start, (size_t)(s->p - start), v) == 0;
}

static bool at_end(struct scan *s)
{
    punct(s, ';');
    skip_ws(s);
    return s->p == s->end;
}

/* [LIMIT n | LIMIT m, n | LIMIT n OFFSET m] */
static bool limit_clause(struct scan *s, struct diag_query *q)
{
    if (!word(s, "LIMIT")) return true;
    uint64_t a, b;
    if (!number(s, &a)) return false;
    if (punct(s, ',')) {
        if (!number(s, &b)) return false;
        q->offset = a;
        q->limit = b;
    } else if (word(s, "OFFSET")) {
        if (!number(s, &b)) return false;
        q->limit = a;
        q->offset = b;
    } else {
        q->limit = a;
    }
    return true;
}

void diag_parse_query(const char *sql, size_t len, struct diag_query *q)
{
    memset(q, 0, sizeof *q);
    q->limit = UINT64_MAX;
    struct scan s = {sql, sql + len};
    enum diag_query_kind k = DQ_NONE;
    if (word(&s, "SHOW")) {
        if (word(&s, "WARNINGS")) {
            k = DQ_LIST_WARNINGS;
        } else if (word(&s, "ERRORS")) {
            k = DQ_LIST_ERRORS;
        } else if (word(&s, "COUNT") && punct(&s, '(') && punct(&s, '*') && punct(&s, ')')) {
            if (word(&s, "WARNINGS")) k = DQ_COUNT_WARNINGS;
            else if (word(&s, "ERRORS")) k = DQ_COUNT_ERRORS;
        }
        if ((k == DQ_LIST_WARNINGS || k == DQ_LIST_ERRORS) && !limit_clause(&s, q)) k = DQ_NONE;
    } else if (word(&s, "SELECT")) {
        skip_ws(&s);
        const char *name = s.p;
        if (s.end - s.p > 2 && s.p[0] == '@' && s.p[1] == '@') {
            s.p += 2;
            struct scan save = s;
            if (!((word(&s, "session") || word(&s, "local")) && s.p < s.end && *s.p == '.'))
                s = save;
            else
                s.p++;
            if (word(&s, "warning_count")) k = DQ_VAR_WARNINGS;
            else if (word(&s, "error_count")) k = DQ_VAR_ERRORS;
            q->name = name;
            q->name_len = (size_t)(s.p - name);
        }
    }
    if (k != DQ_NONE && !at_end(&s)) k = DQ_NONE;
    q->kind = k;
}

/* ---- answering them ---- */

/* Bytes per character of a collation's character set (column lengths). */
static uint32_t mbmaxlen(uint16_t collation)
{
    const char *cs = charset_name_of(collation);
    if (!cs) return 4;
    static const struct {
        const char *name;
        uint8_t n;
    } multi[] = {{"utf8mb4", 4}, {"utf8mb3", 3}, {"utf8", 3}, {"utf16", 4}, {"utf16le", 4},
                 {"utf32", 4},   {"ucs2", 2},    {"gb18030", 4}, {"ujis", 3}, {"eucjpms", 3},
                 {"gbk", 2},     {"big5", 2},    {"sjis", 2}, {"cp932", 2}, {"gb2312", 2},
                 {"euckr", 2}};
    for (size_t i = 0; i < sizeof multi / sizeof multi[0]; i++)
        if (strcmp(cs, multi[i].name) == 0) return multi[i].n;
    return 1;
}

static void u64_field(struct pkt_wr *w, uint64_t v)
{
    char buf[24];
    int n = 0;
    do {
        buf[sizeof buf - 1 - n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    pkt_wr_lenenc_str(w, buf + sizeof buf - n, (size_t)n);
}

int diag_write_answer(struct pkt_wr *w, uint8_t seq, const struct mx_diag *d,
                      const struct diag_query *q, uint16_t charset, bool deprecate_eof,
                      uint16_t status, bool binary)
{
    bool list = q->kind == DQ_LIST_WARNINGS || q->kind == DQ_LIST_ERRORS;
    size_t off = pkt_wr_begin(w);
    pkt_wr_lenenc(w, list ? 3 : 1);
    pkt_wr_end(w, off, seq++);
    if (list) {
        uint32_t mb = mbmaxlen(charset);
        pkt_coldef(w, seq++, "Level", 5, charset, 7 * mb, TYPE_VAR_STRING, FLAG_NOT_NULL, 39);
        pkt_coldef(w, seq++, "Code", 4, COLLATION_BINARY, 4, TYPE_LONG,
                   FLAG_NOT_NULL | FLAG_UNSIGNED | FLAG_BINARY, 0);
        pkt_coldef(w, seq++, "Message", 7, charset, 512 * mb, TYPE_VAR_STRING, FLAG_NOT_NULL, 39);
    } else {
        const char *name = q->name;
        size_t nl = q->name_len;
        if (q->kind == DQ_COUNT_WARNINGS || q->kind == DQ_COUNT_ERRORS) {
            name = q->kind == DQ_COUNT_WARNINGS ? "@@session.warning_count"
                                                : "@@session.error_count";
            nl = strlen(name);
        }
        pkt_coldef(w, seq++, name, nl, COLLATION_BINARY, 21, TYPE_LONGLONG,
                   FLAG_UNSIGNED | FLAG_BINARY, 0);
    }
    if (!deprecate_eof && pkt_eof(w, seq++, 0, status) != 0) return -1;
    if (list) {
        uint64_t skip = q->offset, left = q->limit;
        for (uint16_t i = 0; d && i < d->n && left; i++) {
            const struct diag_cond *c = &d->c[i];
            if (q->kind == DQ_LIST_ERRORS && c->level != DIAG_ERROR) continue;
            if (skip) {
                skip--;
                continue;
            }
            left--;
            off = pkt_wr_begin(w);
            const char *lvl = level_name(c->level);
            if (binary) {
                pkt_wr_u8(w, 0x00);
                pkt_wr_u8(w, 0x00); /* NULL bitmap: (3 columns + 2) bits, none NULL */
            }
            pkt_wr_lenenc_str(w, lvl, strlen(lvl));
            if (binary) pkt_wr_u32(w, c->code);
            else u64_field(w, c->code);
            pkt_wr_lenenc_str(w, d->text + c->msg_off, c->msg_len);
            pkt_wr_end(w, off, seq++);
        }
    } else {
        bool errors = q->kind == DQ_COUNT_ERRORS || q->kind == DQ_VAR_ERRORS;
        uint64_t v = d ? (errors ? d->err_count : d->warn_count) : 0;
        off = pkt_wr_begin(w);
        if (binary) {
            pkt_wr_u8(w, 0x00);
            pkt_wr_u8(w, 0x00);
            pkt_wr_u32(w, (uint32_t)v);
            pkt_wr_u32(w, (uint32_t)(v >> 32));
        } else {
            u64_field(w, v);
        }
        pkt_wr_end(w, off, seq++);
    }
    if (deprecate_eof) {
        off = pkt_wr_begin(w);
        pkt_wr_u8(w, 0xfe);
        pkt_wr_lenenc(w, 0);
        pkt_wr_lenenc(w, 0);
        pkt_wr_u16(w, status);
        pkt_wr_u16(w, 0);
        pkt_wr_end(w, off, seq++);
    } else if (pkt_eof(w, seq++, 0, status) != 0) {
        return -1;
    }
    return w->bad ? -1 : 0;
}
