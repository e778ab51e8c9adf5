/* libFuzzer target for the SQL classifier (src/protocol/classify.c): classify_lex()
 * and the in-place rewriters on arbitrary text under every lexing setting, and a
 * differential check of where strings, quoted identifiers and comments begin and
 * end against a reference tokenizer written separately below.
 * Input: [flags] [setting] then the statement text (not NUL-terminated).
 * flags: bit 0 ANSI_QUOTES, bit 1 NO_BACKSLASH_ESCAPES, bit 2 MariaDB;
 * setting: low nibble a character set, high nibble a backend version. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The tokenizer is static: the target compiles the classifier into itself. */
#include "protocol/classify.c"

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x)) __builtin_trap();                                                                \
    } while (0)

/* ---- reference tokenizer ------------------------------------------------ */

/* Multi-byte characters by table rather than by range tests: lead[b] says which
 * sets b leads in, trail[b] which sets it may follow a lead in. */
enum { REF_GBK = 1, REF_BIG5 = 2, REF_SJIS = 4, REF_GB18030 = 8 };
static unsigned char ref_lead[256], ref_trail[256], ref_digit4[256];

static void ref_tables(void)
{
    static bool done;
    if (done) return;
    done = true;
    for (int b = 0; b < 256; b++) {
        if (b >= 0x81 && b <= 0xfe) ref_lead[b] |= REF_GBK | REF_GB18030;
        if (b >= 0xa1 && b <= 0xf9) ref_lead[b] |= REF_BIG5;
        if ((b >= 0x81 && b <= 0x9f) || (b >= 0xe0 && b <= 0xfc)) ref_lead[b] |= REF_SJIS;
        if ((b >= 0x40 && b <= 0x7e) || (b >= 0x80 && b <= 0xfe)) ref_trail[b] |= REF_GBK | REF_GB18030;
        if ((b >= 0x40 && b <= 0x7e) || (b >= 0xa1 && b <= 0xfe)) ref_trail[b] |= REF_BIG5;
        if ((b >= 0x40 && b <= 0x7e) || (b >= 0x80 && b <= 0xfc)) ref_trail[b] |= REF_SJIS;
        ref_digit4[b] = b >= '0' && b <= '9';
    }
}

struct ref {
    const unsigned char *s;
    size_t n;
    int set;     /* REF_* or 0 */
    const struct sqlm_charset *cs;
    bool ansi, nobs;
    size_t spans[64][2]; /* quote position, position past the closing quote */
    int nspans;
    bool bad, unsupported;
};

static size_t ref_char(const struct ref *r, size_t i)
{
    const unsigned char *s = r->s;
    if (!r->set || i + 1 >= r->n || !(ref_lead[s[i]] & r->set)) return 1;
    if (ref_trail[s[i + 1]] & r->set) return 2;
    if (r->set == REF_GB18030 && i + 3 < r->n && ref_digit4[s[i + 1]] &&
        (ref_lead[s[i + 2]] & REF_GB18030) && ref_digit4[s[i + 3]])
        return 4;
    return 1;
}

static bool ref_name_byte(const struct ref *r, unsigned char c)
{
    if (c >= 0x80) return !sqlm_is_space(r->cs, c);
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           c == '_' || c == '$';
}

/* From the quote at q: records the span, returns the position after it. */
static size_t ref_quoted(struct ref *r, size_t q, bool escapes, bool ident)
{
    size_t i = q + 1;
    unsigned char quote = r->s[q];
    while (i < r->n) {
        size_t w = ref_char(r, i);
        unsigned char c = r->s[i];
        if (w > 1) { i += w; continue; }
        if (escapes && c == '\\') { i += 2; continue; }
        if (ident && c == 0) break;
        if (c == quote) {
            if (i + 1 < r->n && r->s[i + 1] == quote) { i += 2; continue; }
            if (r->nspans < 64) {
                r->spans[r->nspans][0] = q;
                r->spans[r->nspans][1] = i + 1;
            }
            r->nspans++;
            return i + 1;
        }
        i++;
    }
    r->bad = true;
    return r->n;
}

static void ref_scan(struct ref *r)
{
    const unsigned char *s = r->s;
    size_t n = r->n, i = 0;
    while (i < n && !r->bad) {
        unsigned char c = s[i], d = i + 1 < n ? s[i + 1] : 0;
        if (sqlm_is_space(r->cs, c)) {
            i++;
        } else if (c == '#' || (c == '-' && d == '-' && (i + 2 >= n || sqlm_is_dash_end(r->cs, s[i + 2])))) {
            while (i < n && s[i] != '\n' && s[i] != 0) i++;
        } else if (c == '/' && d == '*') {
            if (i + 2 < n && (s[i + 2] == '!' || s[i + 2] == 'M' || s[i + 2] == 'T')) {
                r->unsupported = true; /* executable comments: the rules under test */
                return;
            }
            const unsigned char *e = NULL;
            for (size_t k = i + 2; k + 1 < n; k++)
                if (s[k] == '*' && s[k + 1] == '/') { e = s + k; break; }
            if (!e) { r->bad = true; return; }
            i = (size_t)(e - s) + 2;
        } else if (c == '\'' || c == '"' || c == '`') {
            bool str = c == '\'' || (c == '"' && !r->ansi);
            i = ref_quoted(r, i, str && !r->nobs, !str);
        } else if (c == '@' && d == '@') {
            i += 2;
            while (i < n && (ref_name_byte(r, s[i]) || s[i] == '.')) i++;
        } else if (c == '@' && (d == '\'' || d == '"' || d == '`')) {
            bool str = d == '\'' || (d == '"' && !r->ansi);
            i = ref_quoted(r, i + 1, str && !r->nobs, !str);
        } else if (c == '@') {
            i++;
            while (i < n && (ref_name_byte(r, s[i]) || s[i] == '.') && !(r->set && s[i] >= 0x80)) i++;
        } else if (ref_name_byte(r, c)) {
            size_t start = i;
            while (i < n && ref_name_byte(r, s[i])) {
                size_t w = ref_char(r, i);
                if (r->set && s[i] >= 0x80 && w == 1) {
                    if (i == start) i++;
                    break;
                }
                i += w;
            }
            if (i == start + 1 && i < n && s[i] == '\'' && strchr("xXbBnN", c))
                i = ref_quoted(r, i, (c == 'n' || c == 'N') && !r->nobs, false);
        } else {
            i++;
        }
    }
}

/* The classifier's tokens, reduced to the same spans. */
static void cls_spans(const char *sql, size_t len, const struct cls_lex *o, struct ref *out)
{
    struct cls_lexer lx;
    struct cls_tok t;
    cls_lex_init(&lx, sql, len, o, o->mariadb ? CLS_BK_MARIADB : CLS_BK_MYSQL);
    for (;;) {
        cls_next(&lx, &t);
        if (t.type == TK_EOF) break;
        size_t q;
        if (t.type == TK_STRING || t.type == TK_QIDENT)
            q = (size_t)(t.v - 1 - sql);
        else if (t.type == TK_USERVAR && t.quote)
            q = (size_t)(t.p + 1 - sql);
        else
            continue;
        if (lx.bad) break;
        if (out->nspans < 64) {
            out->spans[out->nspans][0] = q;
            out->spans[out->nspans][1] = (size_t)(t.p + t.len - sql);
        }
        out->nspans++;
    }
    out->bad = lx.bad;
}

/* ---- target ------------------------------------------------------------- */

static const uint16_t charsets[16] = {0, 28, 1, 13, 95, 248, 8, 51, 87, 88, 33, 45, 63, 11, 999, 7};
static const uint32_t versions[16] = {0, 101119, 100200, 110402, 80030, 80011, 50744, 100600,
                                      0, 101119, 80034, 90000, 100000, 50700, 99999, 1};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    ref_tables();
    struct cls_lex o = {charsets[data[1] & 15], data[0] & 1, (data[0] & 2) != 0,
                        versions[data[1] >> 4], (data[0] & 4) != 0};
    size_t len = size - 2;
    char *sql = malloc(len ? len : 1); /* exact, no NUL: ASan sees an overread */
    CHECK(sql);
    memcpy(sql, data + 2, len);

    static struct cls_result c;
    classify_lex(sql, len, &o, &c);
    CHECK(c.arg_len < sizeof c.arg);
    CHECK(c.n_assign >= 0 && c.n_assign <= CLS_MAX_ASSIGN);
    for (int i = 0; i < c.n_assign; i++) {
        const struct cls_assign *a = &c.assign[i];
        CHECK(memchr(a->name, 0, sizeof a->name));
        if (a->value) CHECK(a->value >= sql && a->value + a->value_len <= sql + len);
    }
    CHECK((c.pins & ~((1u << 20) - 1)) == 0);

    /* differential: where quoted runs begin and end, and whether one is left open */
    const struct sqlm_charset *cs = sqlm_charset_of(o.charset);
    if (cs) {
        static struct ref a, b;
        memset(&a, 0, sizeof a);
        a.s = (const unsigned char *)sql;
        a.n = len;
        a.cs = cs;
        a.ansi = o.ansi_quotes;
        a.nobs = o.no_backslash_escapes;
        a.set = cs->mb == SQLM_MB_GBK ? REF_GBK : cs->mb == SQLM_MB_BIG5 ? REF_BIG5
              : cs->mb == SQLM_MB_SJIS ? REF_SJIS : cs->mb == SQLM_MB_GB18030 ? REF_GB18030 : 0;
        ref_scan(&a);
        if (!a.unsupported) {
            memset(&b, 0, sizeof b);
            cls_spans(sql, len, &o, &b);
            CHECK(a.bad == b.bad);
            if (!a.bad) {
                CHECK(a.nspans == b.nspans);
                for (int i = 0; i < a.nspans && i < 64; i++)
                    CHECK(a.spans[i][0] == b.spans[i][0] && a.spans[i][1] == b.spans[i][1]);
            }
        }
    }

    /* rewriting keeps the length and leaves the text classifiable */
    int n = classify_rewrite_connection_id_lex(sql, len, &o, 123456789u);
    CHECK(n >= 0);
    static const struct cls_rewrite rw[] = {
        {"FOUND_ROWS", 42}, {"ROW_COUNT", -1}, {"LAST_INSERT_ID", 7}, {"CONNECTION_ID", 99}};
    (void)classify_rewrite_calls_lex(sql, len, &o, rw, 4);
    classify_lex(sql, len, &o, &c);
    /* the old entry points still work */
    classify(sql, len, o.ansi_quotes, o.no_backslash_escapes, &c);
    free(sql);
    return 0;
}
