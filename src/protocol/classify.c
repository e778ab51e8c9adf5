/* SQL classifier: a tokenizer that tells the session what a statement does to connection state. */
#include "protocol/classify.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "protocol/sqlmode.h"

/* ---- tokenizer ---------------------------------------------------------- */

enum cls_tok_type {
    TK_EOF,
    TK_WORD,    /* unquoted identifier or keyword */
    TK_QIDENT,  /* `ident`, or "ident" under ANSI_QUOTES */
    TK_STRING,  /* 'x', "x", X'..', B'..', N'..' */
    TK_NUMBER,
    TK_USERVAR, /* @name, @'name', @`name` */
    TK_SYSVAR,  /* @@[scope.]name */
    TK_PUNCT,   /* one character, or ":=" */
    TK_SEMI,
};

struct cls_tok {
    enum cls_tok_type type;
    const char *p; /* raw text */
    size_t len;
    const char *v; /* strings/quoted identifiers: between the quotes; variables: the name */
    size_t vlen;
    char quote;    /* quote character of TK_STRING / TK_QIDENT / quoted TK_USERVAR */
    bool adjacent; /* nothing (not even a space) between the previous token and this one */
};

/* Which executable-comment rules apply: the backend's, or every kind's at once. */
enum cls_backend { CLS_BK_MARIADB, CLS_BK_MYSQL, CLS_BK_UNKNOWN };

/* What happens to an executable comment's content. */
enum cls_fate { CLS_RUN, CLS_SKIP, CLS_DOUBT };

/* Lexer state is a small value: copying it saves a position to re-read from. */
struct cls_lexer {
    const char *s;
    size_t len;
    size_t end;      /* tokens starting at or after end read as TK_EOF (statement bound) */
    size_t pos;
    size_t prev_end; /* end of the previous token, for cls_tok.adjacent */
    bool ansi, nobs;
    const struct sqlm_charset *cs; /* character_set_client (NULL: ASCII rules only) */
    bool mb;                       /* cs has ASCII trail bytes: lead bytes take them along */
    enum cls_backend backend;
    uint32_t version;              /* 0: unknown */
    bool doubt_run;  /* this pass takes a comment of doubtful fate as run (else skipped) */
    uint32_t doubt_key;   /* marker and version of the first such comment (0: none yet) */
    bool doubt_mixed;     /* two of them whose fates could differ from each other */
    bool in_exec;    /* inside an executable comment: its closing  asterisk-slash is a space */
    bool bad;        /* unterminated string, identifier or comment */
};

static inline bool cls_isdigit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* ASCII identifier bytes, and every byte >= 0x80: the callers that need the
 * character set's view use cls_lx_ident(). */
static inline bool cls_isident(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || cls_isdigit(c) || c == '_' ||
           c == '$' || c >= 0x80;
}

static inline bool cls_isspace(unsigned char c)
{
    return sqlm_is_space(NULL, c);
}

static inline bool cls_lx_space(const struct cls_lexer *lx, unsigned char c)
{
    return sqlm_is_space(lx->cs, c);
}

/* A byte >= 0x80 is part of a name unless the character set makes it
 * whitespace (latin1 0xa0): USE\xa0db is USE db to the server. */
static inline bool cls_lx_ident(const struct cls_lexer *lx, unsigned char c)
{
    return cls_isident(c) && (c < 0x80 || !sqlm_is_space(lx->cs, c));
}

/* Length of the multi-byte character at pos (0: a byte of its own). */
static inline size_t cls_mb(const struct cls_lexer *lx, size_t pos)
{
    if (!lx->mb || (unsigned char)lx->s[pos] < 0x80)
        return 0;
    return sqlm_mb_len(lx->cs, (const unsigned char *)lx->s + pos,
                       (const unsigned char *)lx->s + lx->len);
}

static void cls_lex_init(struct cls_lexer *lx, const char *s, size_t len, const struct cls_lex *o,
                         enum cls_backend backend)
{
    memset(lx, 0, sizeof(*lx));
    lx->s = s;
    lx->len = len;
    lx->end = len;
    lx->ansi = o->ansi_quotes;
    lx->nobs = o->no_backslash_escapes;
    lx->cs = sqlm_charset_of(o->charset);
    lx->mb = lx->cs && lx->cs->mb != SQLM_MB_NONE;
    lx->backend = backend;
    lx->version = o->version;
    lx->doubt_run = true;
}

/* Oldest servers mymux expects when the version is unknown (MariaDB 10.2, MySQL 5.7). */
#define CLS_MIN_MARIADB 100200u
#define CLS_MIN_MYSQL 50700u

/* Fate of the content of an executable comment. marker: '!' for / *!, 'M' for
 * / *M!, 'T' for TiDB's / *T![feature]; ver: its version (-1 if none); six:
 * the version had six digits. MariaDB (verified on 10.11.19) runs / *!ver only
 * if ver <= its version and ver is not a MySQL 5.7+ one (50700..99999), and
 * / *M!ver if ver <= its version; MySQL runs / *!NNNNN if NNNNN <= its version
 * and reads / *M! and / *T! as comments; TiDB runs / *! whatever the version
 * (so what MySQL skips is a doubt when the backend is not MariaDB) and / *T!
 * for the features it has. */
static enum cls_fate cls_exec_fate(const struct cls_lexer *lx, char marker, long ver, bool six)
{
    uint32_t v = lx->version;
    switch (lx->backend) {
    case CLS_BK_MARIADB:
        if (marker == 'T')
            return CLS_SKIP;
        if (ver < 0)
            return CLS_RUN;
        if (marker == '!' && ver >= 50700 && ver <= 99999)
            return CLS_SKIP;
        if (v == 0)
            return (marker == '!' && ver < 50700) || (uint32_t)ver < CLS_MIN_MARIADB ? CLS_RUN
                                                                                  : CLS_DOUBT;
        return (uint32_t)ver <= v ? CLS_RUN : CLS_SKIP;
    case CLS_BK_MYSQL:
        if (marker == 'M')
            return CLS_SKIP;
        if (marker == 'T' || six)
            return CLS_DOUBT;
        if (ver < 0)
            return CLS_RUN;
        return (uint32_t)ver <= (v ? v : CLS_MIN_MYSQL) ? CLS_RUN : CLS_DOUBT;
    case CLS_BK_UNKNOWN:
        if (marker == '!' && !six && (ver < 0 || ver < 50700))
            return CLS_RUN;
        return CLS_DOUBT;
    }
    return CLS_DOUBT;
}

/* Skips a comment the server does not run, from q (just past its opening):
 * like the server's consume_comment(), one level of / * ... * / nests inside
 * a skipped versioned comment (nest), none inside a plain one; quotes mean
 * nothing. Returns the position past its end, or len with bad set. */
static size_t cls_skip_comment(struct cls_lexer *lx, size_t q, bool nest)
{
    const char *s = lx->s;
    size_t n = lx->len;
    for (size_t i = q; i + 1 < n; i++) {
        if (nest && s[i] == '/' && s[i + 1] == '*') {
            size_t e = cls_skip_comment(lx, i + 2, false);
            if (lx->bad)
                return n;
            i = e - 1;
        } else if (s[i] == '*' && s[i + 1] == '/') {
            return i + 2;
        }
    }
    lx->bad = true;
    return n;
}

/* At "/ *" (pos): an executable comment is entered or skipped as the server
 * would; a plain comment or optimizer hint is skipped. */
static void cls_skip_slash_star(struct cls_lexer *lx)
{
    const char *s = lx->s;
    size_t n = lx->len, q = lx->pos + 2;
    unsigned char c2 = q < n ? (unsigned char)s[q] : 0;
    unsigned char c3 = q + 1 < n ? (unsigned char)s[q + 1] : 0;
    if (!(c2 == '!' || ((c2 == 'M' || c2 == 'T') && c3 == '!'))) {
        lx->pos = cls_skip_comment(lx, q, false);
        return;
    }
    char marker = c2 == '!' ? '!' : (char)c2;
    q += c2 == '!' ? 1 : 2;
    size_t body = q; /* where skipping starts: the server skips the version as text */
    long ver = -1;
    bool six = false;
    uint32_t key;
    if (marker == 'T') {
        /* /T![feature]: the feature decides on TiDB; different features, different fates */
        uint32_t h = 0;
        if (q < n && s[q] == '[') {
            while (q < n && s[q] != ']')
                h = h * 31 + (unsigned char)s[q++];
            if (q < n)
                q++;
        }
        key = 3u << 24 | (h & 0xffffff);
    } else {
        size_t d = 0;
        while (d < 6 && q + d < n && cls_isdigit((unsigned char)s[q + d]))
            d++;
        if (d >= 5) {
            /* exactly five digits, or six: the server reads no more */
            six = d == 6;
            /* MariaDB reads six; MySQL five (a sixth is code, or a version digit in
             * later releases: two readings a single doubt cannot cover) */
            size_t take = lx->backend == CLS_BK_MARIADB || marker == 'M' ? d : 5;
            if (six && take == 5)
                lx->doubt_mixed = true;
            ver = 0;
            for (size_t i = 0; i < take; i++)
                ver = ver * 10 + (s[q + i] - '0');
            q += take;
        }
        key = (marker == 'M' ? 2u : 1u) << 24 | (uint32_t)(ver + 1);
    }
    enum cls_fate f = cls_exec_fate(lx, marker, ver, six);
    if (f == CLS_DOUBT) {
        if (lx->doubt_key == 0)
            lx->doubt_key = key;
        else if (lx->doubt_key != key)
            lx->doubt_mixed = true;
        f = lx->doubt_run ? CLS_RUN : CLS_SKIP;
    }
    if (f == CLS_RUN) {
        lx->pos = q;
        lx->in_exec = true;
    } else {
        lx->pos = cls_skip_comment(lx, body, true);
    }
}

/* Skips whitespace and comments, entering and leaving executable comments. */
static void cls_skip(struct cls_lexer *lx)
{
    const char *s = lx->s;
    size_t n = lx->len;
    while (lx->pos < n) {
        unsigned char c = (unsigned char)s[lx->pos];
        unsigned char c1 = lx->pos + 1 < n ? (unsigned char)s[lx->pos + 1] : 0;
        if (cls_lx_space(lx, c)) {
            lx->pos++;
        } else if (lx->in_exec && c == '*' && c1 == '/') {
            lx->pos += 2;
            lx->in_exec = false;
        } else if (c == '#' ||
                   (c == '-' && c1 == '-' &&
                    (lx->pos + 2 >= n || sqlm_is_dash_end(lx->cs, (unsigned char)s[lx->pos + 2])))) {
            /* to the end of the line (a NUL also ends it: then a syntax error) */
            while (lx->pos < n && s[lx->pos] != '\n' && s[lx->pos] != '\0')
                lx->pos++;
        } else if (c == '/' && c1 == '*') {
            cls_skip_slash_star(lx);
            if (lx->bad)
                return;
        } else {
            return;
        }
    }
}

/* Scans a quoted run starting at the quote; returns the position after the
 * closing quote, or len (and sets bad) if it never closes. A multi-byte
 * character is taken whole (in gbk '\xbf\x5c' is one character, not an
 * escape); a backslash escape takes exactly one byte after it, even a lead
 * byte, as the server's get_text() does. ident: a quoted identifier, which a
 * NUL byte ends in a syntax error. */
static size_t cls_scan_quoted(struct cls_lexer *lx, size_t pos, char q, bool escapes, bool ident)
{
    const char *s = lx->s;
    size_t n = lx->len;
    pos++;
    while (pos < n) {
        char c = s[pos];
        size_t m = cls_mb(lx, pos);
        if (m > 1) {
            pos += m;
        } else if (c == '\\' && escapes) {
            pos += 2;
        } else if (c == q) {
            if (pos + 1 < n && s[pos + 1] == q)
                pos += 2;
            else
                return pos + 1;
        } else if (c == '\0' && ident) {
            break;
        } else {
            pos++;
        }
    }
    lx->bad = true;
    return n;
}

/* End of an unquoted name from pos, as the server's scan_ident_*() read it: in
 * a multi-byte set a lead byte takes its trail byte along (which may be a '`'),
 * and a byte >= 0x80 that starts no character ends the name (at the name's
 * first byte it is a token of its own). */
static size_t cls_scan_name(const struct cls_lexer *lx, size_t pos, bool first)
{
    const char *s = lx->s;
    size_t n = lx->len;
    while (pos < n && cls_lx_ident(lx, (unsigned char)s[pos])) {
        if (lx->mb && (unsigned char)s[pos] >= 0x80) {
            size_t m = cls_mb(lx, pos);
            if (m < 2)
                return first ? pos + 1 : pos;
            pos += m;
        } else {
            pos++;
        }
        first = false;
    }
    return pos;
}

static void cls_next(struct cls_lexer *lx, struct cls_tok *t)
{
    cls_skip(lx);
    memset(t, 0, sizeof(*t));
    const char *s = lx->s;
    size_t n = lx->len, start = lx->pos;
    if (start >= n || start >= lx->end) {
        if (start >= n && lx->in_exec && lx->end == n)
            lx->bad = true; /* unterminated executable comment */
        t->type = TK_EOF;
        t->p = s + (start < n ? start : n);
        return;
    }
    t->adjacent = start == lx->prev_end && start > 0;
    t->p = s + start;
    unsigned char c = (unsigned char)s[start];
    unsigned char c1 = start + 1 < n ? (unsigned char)s[start + 1] : 0;
    size_t pos = start;

    if (c == '\'' || (c == '"' && !lx->ansi)) {
        t->type = TK_STRING;
        t->quote = (char)c;
        pos = cls_scan_quoted(lx, pos, (char)c, !lx->nobs, false);
        t->v = s + start + 1;
        t->vlen = pos - start - (lx->bad && pos == n ? 1 : 2);
    } else if (c == '`' || c == '"') {
        t->type = TK_QIDENT;
        t->quote = (char)c;
        pos = cls_scan_quoted(lx, pos, (char)c, false, true);
        t->v = s + start + 1;
        t->vlen = pos - start - (lx->bad && pos == n ? 1 : 2);
    } else if (c == '@' && c1 == '@') {
        /* the server reads a system variable's name byte by byte (no multi-byte) */
        t->type = TK_SYSVAR;
        pos += 2;
        while (pos < n && (cls_lx_ident(lx, (unsigned char)s[pos]) || s[pos] == '.'))
            pos++;
        t->v = s + start + 2;
        t->vlen = pos - start - 2;
    } else if (c == '@' && (c1 == '\'' || c1 == '"' || c1 == '`')) {
        /* @"v" under ANSI_QUOTES is an identifier: no escapes */
        bool str = c1 == '\'' || (c1 == '"' && !lx->ansi);
        t->type = TK_USERVAR;
        t->quote = (char)c1;
        pos = cls_scan_quoted(lx, pos + 1, (char)c1, str && !lx->nobs, !str);
        t->v = s + start + 2;
        t->vlen = pos - start - (lx->bad && pos == n ? 2 : 3);
    } else if (c == '@' && (cls_lx_ident(lx, c1) || c1 == '.')) {
        /* the server's host-name scan: ASCII alphanumerics, '.', '_', '$'; in a
         * multi-byte set a byte >= 0x80 is no letter and ends the name */
        t->type = TK_USERVAR;
        pos++;
        while (pos < n && (cls_lx_ident(lx, (unsigned char)s[pos]) || s[pos] == '.') &&
               !(lx->mb && (unsigned char)s[pos] >= 0x80))
            pos++;
        t->v = s + start + 1;
        t->vlen = pos - start - 1;
        if (t->vlen == 0) {
            t->type = TK_PUNCT;
            t->v = NULL;
        }
    } else if (cls_isdigit(c) || (c == '.' && cls_isdigit(c1))) {
        t->type = TK_NUMBER;
        if (c == '0' && (c1 == 'x' || c1 == 'X' || c1 == 'b' || c1 == 'B')) {
            pos += 2;
        } else {
            while (pos < n && cls_isdigit((unsigned char)s[pos]))
                pos++;
            if (pos < n && s[pos] == '.') {
                pos++;
                while (pos < n && cls_isdigit((unsigned char)s[pos]))
                    pos++;
            }
            if (pos + 1 < n && (s[pos] == 'e' || s[pos] == 'E')) {
                size_t q = pos + 1;
                if (q < n && (s[q] == '+' || s[q] == '-'))
                    q++;
                if (q < n && cls_isdigit((unsigned char)s[q])) {
                    pos = q;
                    while (pos < n && cls_isdigit((unsigned char)s[pos]))
                        pos++;
                }
            }
        }
        /* 0x1f stays a number; 1abc is an identifier */
        if (pos < n && cls_lx_ident(lx, (unsigned char)s[pos])) {
            bool hex = c == '0' && pos == start + 2;
            pos = cls_scan_name(lx, pos, false);
            if (!hex)
                t->type = TK_WORD;
        }
    } else if (cls_lx_ident(lx, c)) {
        pos = cls_scan_name(lx, pos, true);
        /* X'..', B'..', N'..' are string literals */
        if (pos == start + 1 && pos < n && s[pos] == '\'' && strchr("xXbBnN", c)) {
            t->type = TK_STRING;
            t->quote = '\'';
            bool nchar = c == 'n' || c == 'N';
            size_t q = cls_scan_quoted(lx, pos, '\'', nchar && !lx->nobs, false);
            t->v = s + pos + 1;
            t->vlen = q - pos - (lx->bad && q == n ? 1 : 2);
            pos = q;
        } else {
            t->type = TK_WORD;
        }
    } else if (c == ';') {
        t->type = TK_SEMI;
        pos++;
    } else if (c == ':' && c1 == '=') {
        t->type = TK_PUNCT;
        pos += 2;
    } else {
        t->type = TK_PUNCT;
        pos++;
    }
    t->len = pos - start;
    lx->pos = pos;
    lx->prev_end = pos;
}

static inline bool cls_kw(const struct cls_tok *t, const char *k)
{
    size_t kl = strlen(k);
    return t->type == TK_WORD && t->len == kl && strncasecmp(t->p, k, kl) == 0;
}

static inline bool cls_punct(const struct cls_tok *t, char c)
{
    return t->type == TK_PUNCT && t->len == 1 && t->p[0] == c;
}

static inline bool cls_is_name(const struct cls_tok *t)
{
    return t->type == TK_WORD || t->type == TK_QIDENT;
}

/* True if only whitespace lies between a and b (no comment, no comment edge). */
static bool cls_gap_ws(const char *a, const char *b)
{
    for (; a < b; a++)
        if (!cls_isspace((unsigned char)*a))
            return false;
    return true;
}

/* ---- whole-statement scan ----------------------------------------------- */

/* Functions whose empty call reads connection state (classify_rewrite_calls). */
enum cls_fn {
    CLS_FN_NONE,
    CLS_FN_FOUND_ROWS,
    CLS_FN_ROW_COUNT,
    CLS_FN_LAST_INSERT_ID, /* also @@identity, @@last_insert_id */
    CLS_FN_CONNECTION_ID,
    CLS_FN_COUNT
};

static const char *const cls_fn_names[CLS_FN_COUNT] = {
    NULL, "FOUND_ROWS", "ROW_COUNT", "LAST_INSERT_ID", "CONNECTION_ID",
};

static enum cls_fn cls_fn_of(const char *p, size_t n)
{
    for (int f = CLS_FN_NONE + 1; f < CLS_FN_COUNT; f++)
        if (strlen(cls_fn_names[f]) == n && strncasecmp(p, cls_fn_names[f], n) == 0)
            return (enum cls_fn)f;
    return CLS_FN_NONE;
}

/* What a statement contains anywhere (function calls, variables, clauses),
 * gathered token by token as the splitter reads it. */
struct cls_scan {
    int ntok;
    struct cls_tok first, second;
    struct cls_tok p1, p2, p3, p4; /* the four previous tokens */
    uint32_t pins, unpins;
    bool reads_prev, has_conn_id;
    bool prev_found_rows, prev_row_count, prev_last_insert_id, prev_identity, prev_diagnostics,
        sets_last_insert_id;
    bool has_into, lock_clause, read_lock, for_export, dml, analyze;
    bool uses_tables;   /* a keyword that names tables (see cls_result.uses_tables) */
    bool account_ctx;   /* statement names accounts: 'u'@'h' is not a user variable */
    bool compound;      /* may contain ';' inside BEGIN ... END blocks */
    bool exec_compound; /* compound statement run directly (BEGIN NOT ATOMIC, IF ...) */
    bool routine;       /* CREATE PROCEDURE/FUNCTION/TRIGGER/EVENT: the body does not run now */
    bool header_done;   /* CREATE/ALTER: past the part that could name a routine */
    bool pending_block; /* IF / REPEAT seen: a block unless a '(' (function) follows */
    int block;          /* BEGIN/IF/LOOP/... nesting inside a compound statement */
    int depth;          /* parentheses */
    bool set_ctx;       /* SET statement, before any FOR of SET STATEMENT: targets ahead */
    bool mariadb;       /* names resolve as on MariaDB (else TiDB/MySQL built-ins count too) */
    bool ddl;           /* CREATE / ALTER: expressions run only in a SELECT part */
    bool seen_select;   /* a SELECT keyword was read */
    bool with_head;     /* WITH ...: before the statement its common table expressions serve */
    enum cls_fn open_fn;    /* previous token: the '(' of an unqualified call of open_fn */
    const char *open_start; /* start of the function's name */
    bool open_ws;           /* only whitespace between name and '(' */
    /* Set for the one token that completes a read classify_rewrite_calls()
     * answers: FUNC ( ) or @@identity, spanning [ev_start, ev_end). ev_ok:
     * only whitespace inside, so that the span can be overwritten. */
    enum cls_fn ev_fn;
    const char *ev_start, *ev_end;
    bool ev_ok;
};

static bool cls_block_word(const struct cls_tok *t)
{
    return cls_kw(t, "BEGIN") || cls_kw(t, "LOOP") || cls_kw(t, "WHILE") || cls_kw(t, "CASE");
}

static void cls_scan_compound(struct cls_scan *sc, const struct cls_tok *t, int idx)
{
    if (idx == 0) {
        if (cls_kw(t, "IF") || cls_kw(t, "CASE") || cls_kw(t, "LOOP") || cls_kw(t, "WHILE") ||
            cls_kw(t, "REPEAT")) {
            sc->compound = sc->exec_compound = true;
            sc->block = 1;
        }
        return;
    }
    if (idx == 1 && !sc->compound) {
        if (cls_kw(&sc->first, "BEGIN") && cls_kw(t, "NOT")) {
            sc->compound = sc->exec_compound = true;
            sc->block = 1;
            return;
        }
        if (cls_is_name(&sc->first) && cls_punct(t, ':')) {
            sc->compound = sc->exec_compound = true; /* label: BEGIN ... */
            return;
        }
    }
    if (!sc->compound) {
        /* CREATE [OR REPLACE] [DEFINER = x] [SQL SECURITY y] [AGGREGATE] PROCEDURE ...:
         * look only at the header, so that a column named "event" is no routine */
        if (sc->header_done || !(cls_kw(&sc->first, "CREATE") || cls_kw(&sc->first, "ALTER")))
            return;
        if (cls_kw(t, "PROCEDURE") || cls_kw(t, "FUNCTION") || cls_kw(t, "TRIGGER") ||
            cls_kw(t, "EVENT") || cls_kw(t, "PACKAGE"))
            sc->compound = sc->routine = true;
        else if (idx >= 12 || (cls_punct(t, '(') && !cls_kw(&sc->p1, "CURRENT_USER")) ||
                 cls_kw(t, "TABLE") || cls_kw(t, "VIEW") || cls_kw(t, "INDEX") ||
                 cls_kw(t, "DATABASE") || cls_kw(t, "SCHEMA") || cls_kw(t, "USER") ||
                 cls_kw(t, "ROLE") || cls_kw(t, "SEQUENCE") || cls_kw(t, "SERVER") ||
                 cls_kw(t, "TABLESPACE"))
            sc->header_done = true;
        return;
    }
    if (sc->pending_block) {
        sc->pending_block = false;
        if (!cls_punct(t, '(') && !cls_kw(t, "NOT") && !cls_kw(t, "EXISTS"))
            sc->block++;
    }
    if (cls_kw(&sc->p1, "END"))
        return; /* END IF, END LOOP, END CASE ... close, they do not open */
    if (cls_kw(t, "END")) {
        if (sc->block > 0)
            sc->block--;
    } else if (cls_kw(t, "IF") || cls_kw(t, "REPEAT")) {
        sc->pending_block = true;
    } else if (cls_block_word(t)) {
        sc->block++;
    }
}

enum cls_sysvar_kind { CLS_SV_OTHER, CLS_SV_IDENTITY, CLS_SV_DIAG };

/* What a session system variable name (after @@) is to the previous-statement
 * readers. The scope may be none, session or local; global is not the session's. */
static enum cls_sysvar_kind cls_sysvar_kind(const char *v, size_t n)
{
    const char *dot = memchr(v, '.', n);
    if (dot) {
        size_t pl = (size_t)(dot - v);
        if (!((pl == 7 && strncasecmp(v, "session", 7) == 0) ||
              (pl == 5 && strncasecmp(v, "local", 5) == 0)))
            return CLS_SV_OTHER;
        n -= pl + 1;
        v = dot + 1;
    }
    static const struct {
        const char *name;
        enum cls_sysvar_kind kind;
    } names[] = {
        {"warning_count", CLS_SV_DIAG},
        {"error_count", CLS_SV_DIAG},
        {"identity", CLS_SV_IDENTITY},
        {"last_insert_id", CLS_SV_IDENTITY},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strlen(names[i].name) == n && strncasecmp(v, names[i].name, n) == 0)
            return names[i].kind;
    return CLS_SV_OTHER;
}

/* True if a name after token b (b2 before it) is the target of a SET
 * assignment: SET x, SET STATEMENT x, SET ..., x, SET SESSION x. */
static bool cls_set_target(const struct cls_scan *sc, const struct cls_tok *b,
                           const struct cls_tok *b2, bool word)
{
    if (!sc->set_ctx || sc->depth != 0)
        return false;
    bool head = b->p == sc->first.p || cls_punct(b, ',') ||
                (cls_kw(b, "STATEMENT") && b2->p == sc->first.p);
    if (head || !word)
        return head;
    return (cls_kw(b, "SESSION") || cls_kw(b, "LOCAL") || cls_kw(b, "GLOBAL") ||
            cls_kw(b, "PERSIST") || cls_kw(b, "PERSIST_ONLY")) &&
           (b2->p == sc->first.p || cls_punct(b2, ','));
}

/* A system variable read or written at [start, end), named v[0..n). */
static void cls_scan_sysvar(struct cls_scan *sc, const char *v, size_t n, const char *start,
                            const char *end, const struct cls_tok *b, const struct cls_tok *b2)
{
    enum cls_sysvar_kind k = cls_sysvar_kind(v, n);
    if (k == CLS_SV_OTHER)
        return;
    if (cls_set_target(sc, b, b2, false)) {
        if (k == CLS_SV_IDENTITY)
            sc->sets_last_insert_id = true;
        return;
    }
    sc->reads_prev = true;
    if (k == CLS_SV_DIAG) {
        sc->prev_diagnostics = true;
        return;
    }
    sc->prev_identity = true;
    sc->ev_fn = CLS_FN_LAST_INSERT_ID;
    sc->ev_start = start;
    sc->ev_end = end;
    sc->ev_ok = true;
}

/* The token after FUNC ( : an empty call reads, one with an argument does not
 * (except that LAST_INSERT_ID(expr) sets what the next empty call reads). */
static void cls_scan_call(struct cls_scan *sc, const struct cls_tok *t)
{
    enum cls_fn f = sc->open_fn;
    sc->open_fn = CLS_FN_NONE;
    if (!cls_punct(t, ')')) {
        if (f == CLS_FN_LAST_INSERT_ID)
            sc->sets_last_insert_id = true;
        return;
    }
    switch (f) {
    case CLS_FN_FOUND_ROWS: sc->prev_found_rows = true; break;
    case CLS_FN_ROW_COUNT: sc->prev_row_count = true; break;
    case CLS_FN_LAST_INSERT_ID: sc->prev_last_insert_id = true; break;
    default: break;
    }
    if (f != CLS_FN_CONNECTION_ID)
        sc->reads_prev = true;
    sc->ev_fn = f;
    sc->ev_start = sc->open_start;
    sc->ev_end = t->p + 1;
    sc->ev_ok = sc->open_ws && cls_gap_ws(sc->p1.p + 1, t->p);
}

static bool cls_name_eq(const char *p, size_t n, const char *k)
{
    return strlen(k) == n && strncasecmp(p, k, n) == 0;
}

/* True if a name followed by '(' is not called there, from the token b before
 * it: a table or CTE being given columns (INSERT INTO t (a), WITH c (a) AS),
 * a name after a literal or ')' (MATCH (a) AGAINST (...), '$' COLUMNS (...):
 * elsewhere a syntax error), a type after AS, JSON_TABLE in FROM. */
static bool cls_not_called(const struct cls_scan *sc, const struct cls_tok *f,
                           const struct cls_tok *b)
{
    static const char *const before[] = {
        "INTO",         "TABLE",     "INSERT", "REPLACE", "IGNORE", "LOW_PRIORITY",
        "HIGH_PRIORITY", "DELAYED", "AS",     "REFERENCES",
    };
    if (b->type == TK_STRING || b->type == TK_NUMBER || cls_punct(b, ')'))
        return true;
    for (size_t i = 0; i < sizeof(before) / sizeof(before[0]); i++)
        if (cls_kw(b, before[i]))
            return true;
    if (sc->with_head && sc->depth == 0 &&
        (cls_kw(b, "WITH") || cls_kw(b, "RECURSIVE") || cls_punct(b, ',')))
        return true;
    return f->type == TK_WORD && cls_kw(f, "JSON_TABLE") &&
           (cls_kw(b, "FROM") || cls_kw(b, "JOIN"));
}

/* A '(' after a name: a call of a built-in the server resolves it to, or of a
 * stored function (CLS_PIN_ROUTINE), or no call at all. How a name resolves
 * was measured on MariaDB 10.11 (see sqlm_function()): `GET_LOCK`(), GET_LOCK
 * (), LAST_INSERT_ID / * * / () are the built-ins; NOW () and `NOW`() are
 * stored functions named now; IF ( is grammar, `IF`() a stored function. */
static void cls_scan_paren(struct cls_scan *sc, const struct cls_tok *t)
{
    const struct cls_tok *f = &sc->p1;
    if (f->type != TK_WORD && f->type != TK_QIDENT)
        return;
    bool quoted = f->type == TK_QIDENT;
    bool qualified = cls_punct(&sc->p2, '.');
    const char *name = quoted ? f->v : f->p;
    size_t nlen = quoted ? f->vlen : f->len;
    bool matters = !sc->ddl || sc->seen_select; /* CREATE TABLE t (a INT) is no call */
    if (cls_not_called(sc, f, qualified ? &sc->p4 : &sc->p2))
        return;
    if (qualified) {
        if (matters)
            sc->pins |= CLS_PIN_ROUTINE; /* db.f(): a stored function, whatever its name */
        return;
    }
    enum sqlm_fn cls = quoted && memchr(name, f->quote, nlen)
                           ? SQLM_FN_UNKNOWN
                           : sqlm_function(name, nlen, sc->mariadb);
    bool builtin = cls == SQLM_FN_NATIVE ||
                   (!quoted && (cls == SQLM_FN_KEYWORD || (cls == SQLM_FN_KWFUNC && t->adjacent)));
    if (!builtin) {
        if (matters)
            sc->pins |= CLS_PIN_ROUTINE;
        return;
    }
    if (cls_name_eq(name, nlen, "GET_LOCK")) {
        sc->pins |= CLS_PIN_GET_LOCK;
    } else if (cls_name_eq(name, nlen, "RELEASE_ALL_LOCKS")) {
        sc->unpins |= CLS_PIN_GET_LOCK;
    } else if (cls_name_eq(name, nlen, "NEXTVAL") || cls_name_eq(name, nlen, "LASTVAL") ||
               cls_name_eq(name, nlen, "SETVAL")) {
        sc->pins |= CLS_PIN_SEQUENCE;
    } else {
        enum cls_fn fn = cls_fn_of(name, nlen);
        if (fn == CLS_FN_CONNECTION_ID)
            sc->has_conn_id = true;
        if (fn != CLS_FN_NONE) {
            sc->open_fn = fn;
            sc->open_start = f->p;
            sc->open_ws = cls_gap_ws(f->p + f->len, t->p);
        }
    }
}

/* SET profiling, SET @@session.profiling, SET STATEMENT profiling_history_size ... */
static bool cls_names_profiling(const struct cls_tok *t)
{
    const char *p = t->type == TK_SYSVAR || t->type == TK_QIDENT ? t->v : t->p;
    size_t n = t->type == TK_SYSVAR || t->type == TK_QIDENT ? t->vlen : t->len;
    if (t->type != TK_WORD && t->type != TK_SYSVAR && t->type != TK_QIDENT)
        return false;
    for (size_t i = 0; i + 9 <= n; i++)
        if (strncasecmp(p + i, "profiling", 9) == 0)
            return true;
    return false;
}

/* A keyword after which a statement names tables (idx: the token's place). */
static bool cls_names_tables(const struct cls_tok *t, int idx)
{
    static const char *const kws[] = {
        "FROM",     "JOIN",    "UPDATE",  "INSERT",   "REPLACE",  "DELETE",   "TRUNCATE",
        "TABLE",    "TABLES",  "LOAD",    "HANDLER",  "VIEW",     "INDEX",    "TRIGGER",
        "SEQUENCE", "OPTIMIZE", "REPAIR", "CHECKSUM", "DESCRIBE", "EXPLAIN",
    };
    for (size_t i = 0; i < sizeof kws / sizeof kws[0]; i++)
        if (cls_kw(t, kws[i])) return true;
    /* SHOW ... and DESC t read tables (SHOW WARNINGS/ERRORS is told apart by the caller) */
    return idx == 0 && (cls_kw(t, "SHOW") || cls_kw(t, "DESC") || cls_kw(t, "ANALYZE") ||
                        cls_kw(t, "CHECK"));
}

static void cls_scan_tok(struct cls_scan *sc, const struct cls_tok *t)
{
    int idx = sc->ntok++;
    if (idx == 0) {
        sc->first = *t;
        sc->account_ctx = cls_kw(t, "GRANT") || cls_kw(t, "REVOKE") || cls_kw(t, "CREATE") ||
                          cls_kw(t, "ALTER") || cls_kw(t, "DROP") || cls_kw(t, "RENAME") ||
                          cls_kw(t, "SHOW") || cls_kw(t, "SET");
    } else if (idx == 1) {
        sc->second = *t;
    }
    cls_scan_compound(sc, t, idx);
    sc->ev_fn = CLS_FN_NONE;
    if (idx == 0) {
        sc->set_ctx = cls_kw(t, "SET");
        sc->ddl = cls_kw(t, "CREATE") || cls_kw(t, "ALTER");
        sc->with_head = cls_kw(t, "WITH");
    }
    if (cls_kw(t, "SELECT"))
        sc->seen_select = true;
    if (sc->with_head && sc->depth == 0 &&
        (cls_kw(t, "SELECT") || cls_kw(t, "INSERT") || cls_kw(t, "UPDATE") ||
         cls_kw(t, "DELETE") || cls_kw(t, "REPLACE") || cls_kw(t, "VALUES") || cls_kw(t, "TABLE")))
        sc->with_head = false;
    if (cls_kw(&sc->first, "SET") && idx > 0 && cls_names_profiling(t))
        sc->pins |= CLS_PIN_PROFILING;
    if (cls_kw(t, "FOR") && cls_kw(&sc->p1, "VALUE") &&
        (cls_kw(&sc->p2, "NEXT") || cls_kw(&sc->p2, "PREVIOUS")))
        sc->pins |= CLS_PIN_SEQUENCE; /* NEXT VALUE FOR s, PREVIOUS VALUE FOR s */

    if (!sc->routine) {
        if (sc->open_fn != CLS_FN_NONE)
            cls_scan_call(sc, t);
        if (t->type == TK_WORD) {
            if (!sc->uses_tables && cls_names_tables(t, idx))
                sc->uses_tables = true;
            /* LIMIT with an offset: MariaDB's FOUND_ROWS() counts the skipped rows
             * too (MDEV-9390), which the rows relayed do not tell, so the next
             * statement stays on this connection as after SQL_CALC_FOUND_ROWS */
            if (cls_kw(t, "SQL_CALC_FOUND_ROWS") ||
                (cls_kw(t, "OFFSET") && !cls_kw(&sc->first, "SHOW")))
                sc->pins |= CLS_PIN_FOUND_ROWS;
            else if (cls_kw(t, "INTO"))
                sc->has_into = true;
            else if (cls_kw(t, "INSERT") || cls_kw(t, "UPDATE") || cls_kw(t, "DELETE") ||
                     cls_kw(t, "REPLACE"))
                sc->dml = true;
            else if (cls_kw(t, "ANALYZE"))
                sc->analyze = true;
            else if (sc->depth == 0 && cls_kw(t, "FOR") && cls_kw(&sc->second, "STATEMENT"))
                sc->set_ctx = false; /* SET STATEMENT ... FOR: the statement proper */
            if (cls_kw(&sc->p1, "FOR") && (cls_kw(t, "UPDATE") || cls_kw(t, "SHARE")))
                sc->lock_clause = true;
            if (cls_kw(&sc->p2, "LOCK") && cls_kw(&sc->p1, "IN") && cls_kw(t, "SHARE"))
                sc->lock_clause = true;
            if (cls_kw(&sc->p1, "READ") && cls_kw(t, "LOCK"))
                sc->read_lock = true;
            if (cls_kw(&sc->p1, "FOR") && cls_kw(t, "EXPORT"))
                sc->for_export = true;
            if ((cls_kw(t, "LAST_INSERT_ID") || cls_kw(t, "IDENTITY")) &&
                cls_set_target(sc, &sc->p1, &sc->p2, true))
                sc->sets_last_insert_id = true; /* SET [SESSION] last_insert_id = x */
        } else if (t->type == TK_USERVAR) {
            bool host = sc->account_ctx && t->adjacent &&
                        (sc->p1.type == TK_STRING || sc->p1.type == TK_QIDENT ||
                         sc->p1.type == TK_WORD);
            if (!host)
                sc->pins |= CLS_PIN_USER_VAR;
        } else if (t->type == TK_SYSVAR) {
            cls_scan_sysvar(sc, t->v, t->vlen, t->p, t->p + t->len, &sc->p1, &sc->p2);
        } else if (t->type == TK_QIDENT && t->adjacent && sc->p1.type == TK_SYSVAR &&
                   (sc->p1.vlen == 0 || sc->p1.v[sc->p1.vlen - 1] == '.')) {
            /* @@`identity`, @@session.`identity`: the name is quoted */
            char name[24];
            size_t pl = sc->p1.vlen;
            if (pl + t->vlen < sizeof(name) && !memchr(t->v, t->quote, t->vlen)) {
                memcpy(name, sc->p1.v, pl);
                memcpy(name + pl, t->v, t->vlen);
                cls_scan_sysvar(sc, name, pl + t->vlen, sc->p1.p, t->p + t->len, &sc->p2, &sc->p3);
            }
        } else if (cls_punct(t, '(')) {
            cls_scan_paren(sc, t);
            sc->depth++;
        } else if (cls_punct(t, ')')) {
            sc->depth--;
        } else if (cls_punct(t, ',') && cls_kw(&sc->p2, "LIMIT") && !cls_kw(&sc->first, "SHOW")) {
            sc->pins |= CLS_PIN_FOUND_ROWS; /* LIMIT offset, count: see OFFSET above */
        }
    }
    sc->p4 = sc->p3;
    sc->p3 = sc->p2;
    sc->p2 = sc->p1;
    sc->p1 = *t;
}

/* Reads one statement from lx into sc, up to a ';' outside blocks or the end.
 * Returns the offset where the statement ends; *last is the token that ended it. */
static size_t cls_scan_stmt(struct cls_lexer *lx, struct cls_scan *sc, struct cls_tok *last)
{
    memset(sc, 0, sizeof(*sc));
    sc->mariadb = lx->backend != CLS_BK_MYSQL;
    for (;;) {
        cls_next(lx, last);
        if (last->type == TK_EOF)
            return lx->len;
        if (last->type == TK_SEMI && sc->block <= 0)
            return (size_t)(last->p - lx->s);
        cls_scan_tok(sc, last);
    }
}

/* ---- statement heads ---------------------------------------------------- */

/* Copies a quoted token's content into out with its escapes undone. Returns
 * the length, or -1 if it does not fit. */
static long cls_unquote(const struct cls_tok *t, bool nobs, char *out, size_t cap)
{
    size_t o = 0;
    bool escapes = t->type == TK_STRING && !nobs && t->quote != '`';
    for (size_t i = 0; i < t->vlen; i++) {
        char c = t->v[i];
        if (c == '\\' && escapes && i + 1 < t->vlen) {
            char e = t->v[++i];
            switch (e) {
            case '0': c = '\0'; break;
            case 'b': c = '\b'; break;
            case 'n': c = '\n'; break;
            case 'r': c = '\r'; break;
            case 't': c = '\t'; break;
            case 'Z': c = '\032'; break;
            case '%':
            case '_':
                if (o + 1 >= cap)
                    return -1;
                out[o++] = '\\';
                c = e;
                break;
            default: c = e; break;
            }
        } else if (c == t->quote && i + 1 < t->vlen && t->v[i + 1] == t->quote) {
            i++;
        }
        if (o + 1 >= cap)
            return -1;
        out[o++] = c;
    }
    out[o] = '\0';
    return (long)o;
}

/* Skips a parenthesised group whose '(' was just read. False at the end. */
static bool cls_skip_group(struct cls_lexer *lx)
{
    struct cls_tok t;
    int depth = 1;
    for (;;) {
        cls_next(lx, &t);
        if (t.type == TK_EOF)
            return false;
        if (cls_punct(&t, '('))
            depth++;
        else if (cls_punct(&t, ')') && --depth == 0)
            return true;
    }
}

static void cls_read_form(struct cls_result *r, const struct cls_scan *sc)
{
    r->read_only = !sc->has_into && !sc->lock_clause;
}

/* True if t opens a query expression: SELECT, (, TABLE, VALUES, WITH. */
static bool cls_query_start(const struct cls_tok *t)
{
    return cls_kw(t, "SELECT") || cls_punct(t, '(') || cls_kw(t, "TABLE") ||
           cls_kw(t, "VALUES") || cls_kw(t, "WITH");
}

/* WITH [RECURSIVE] name [(cols)] AS (query) [, ...] main-statement */
static void cls_head_with(struct cls_lexer *lx, struct cls_result *r, const struct cls_scan *sc)
{
    struct cls_tok t;
    cls_next(lx, &t);
    if (cls_kw(&t, "RECURSIVE"))
        cls_next(lx, &t);
    for (;;) {
        if (!cls_is_name(&t))
            goto unsure;
        cls_next(lx, &t);
        if (cls_punct(&t, '(')) {
            if (!cls_skip_group(lx))
                goto unsure;
            cls_next(lx, &t);
        }
        if (!cls_kw(&t, "AS"))
            goto unsure;
        cls_next(lx, &t);
        if (!cls_punct(&t, '(') || !cls_skip_group(lx))
            goto unsure;
        cls_next(lx, &t);
        if (!cls_punct(&t, ','))
            break;
        cls_next(lx, &t);
    }
    if (cls_query_start(&t)) {
        r->kind = CLS_SELECT;
        cls_read_form(r, sc);
    }
    return; /* WITH ... UPDATE/DELETE/INSERT: an ordinary write */
unsure:
    r->pins |= CLS_PIN_UNSURE;
}

static void cls_head_use(struct cls_lexer *lx, struct cls_result *r)
{
    struct cls_tok t, u;
    cls_next(lx, &t);
    cls_next(lx, &u);
    if (cls_is_name(&t) && u.type == TK_EOF) {
        long n;
        if (t.type == TK_WORD) {
            n = t.len < sizeof(r->arg) ? (long)t.len : -1;
            if (n >= 0) {
                memcpy(r->arg, t.p, t.len);
                r->arg[t.len] = '\0';
            }
        } else {
            n = cls_unquote(&t, true, r->arg, sizeof(r->arg));
        }
        if (n > 0) {
            r->kind = CLS_USE;
            r->arg_len = (size_t)n;
            return;
        }
    }
    r->arg[0] = '\0';
    r->pins |= CLS_PIN_UNSURE;
}

/* After COMMIT / ROLLBACK [WORK]: AND [NO] CHAIN, [NO] RELEASE. */
static void cls_head_chain(struct cls_lexer *lx, struct cls_tok *t, struct cls_result *r)
{
    for (; t->type != TK_EOF; cls_next(lx, t)) {
        if (cls_kw(t, "AND")) {
            cls_next(lx, t);
            if (cls_kw(t, "CHAIN"))
                r->pins |= CLS_PIN_TRX;
            else if (!cls_kw(t, "NO"))
                r->pins |= CLS_PIN_UNSURE;
        } else if (cls_kw(t, "NO")) {
            cls_next(lx, t); /* NO CHAIN / NO RELEASE */
        } else if (cls_kw(t, "RELEASE")) {
            r->pins |= CLS_PIN_UNSURE; /* the server closes the connection */
        } else if (!cls_kw(t, "WORK") && !cls_kw(t, "CHAIN")) {
            r->pins |= CLS_PIN_UNSURE;
        }
    }
}

static bool cls_parse_u64(const struct cls_tok *t, uint64_t *out)
{
    if (t->type != TK_NUMBER)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < t->len; i++) {
        unsigned char c = (unsigned char)t->p[i];
        if (!cls_isdigit(c))
            return false;
        if (v > (UINT64_MAX - (c - '0')) / 10)
            return false;
        v = v * 10 + (c - '0');
    }
    *out = v;
    return true;
}

/* A KILL target: a number, or a string of digits only ('5', as DBD::mysql's
 * client-side placeholders write it: the server reads it as 5). */
static bool cls_parse_kill_target(const struct cls_tok *t, uint64_t *out)
{
    if (t->type == TK_STRING && t->len == t->vlen + 2 && t->p[0] == t->quote && t->vlen > 0 &&
        t->vlen <= 20) {
        struct cls_tok n = *t;
        n.type = TK_NUMBER;
        n.p = t->v;
        n.len = t->vlen;
        return cls_parse_u64(&n, out);
    }
    return cls_parse_u64(t, out);
}

/* A name of KILL USER's account, as the server reads it: unquoted, or quoted
 * without escapes or doubled quotes (those are left unread: the KILL is then
 * refused, never guessed). Copied into out (cap bytes with the NUL). */
static bool cls_account_part(const struct cls_tok *t, char *out, size_t cap, size_t *len)
{
    const char *v = t->p;
    size_t n = t->len;
    if (t->type == TK_STRING && t->p[0] != t->quote) return false; /* X'..', N'..' */
    if (t->type == TK_STRING || t->type == TK_QIDENT || (t->type == TK_USERVAR && t->quote)) {
        v = t->v;
        n = t->vlen;
        if (memchr(v, '\\', n) || memchr(v, t->quote, n)) return false;
    } else if (t->type == TK_USERVAR) {
        v = t->v;
        n = t->vlen;
    } else if (t->type != TK_WORD) {
        return false;
    }
    if (n == 0 || n >= cap) return false;
    memcpy(out, v, n);
    out[n] = 0;
    *len = n;
    return true;
}

/* KILL ... USER { CURRENT_USER[()] | name[@host] } up to the end of the statement. */
static bool cls_kill_user(struct cls_lexer *lx, struct cls_result *r)
{
    struct cls_tok t, h;
    cls_next(lx, &t);
    if (cls_kw(&t, "CURRENT_USER")) {
        cls_next(lx, &t);
        if (cls_punct(&t, '(')) {
            cls_next(lx, &t);
            if (!cls_punct(&t, ')')) return false;
            cls_next(lx, &t);
        }
        r->kill_current_user = true;
        return t.type == TK_EOF;
    }
    if (t.type == TK_USERVAR || !cls_account_part(&t, r->arg, sizeof r->arg, &r->arg_len))
        return false;
    cls_next(lx, &h);
    if (h.type == TK_USERVAR) { /* name@host and name@'host' lex as a variable */
        if (!cls_account_part(&h, r->kill_host, sizeof r->kill_host, &r->kill_host_len))
            return false;
        if (r->kill_host_len == 1 && r->kill_host[0] == '%') r->kill_host_len = 0;
        r->kill_host[r->kill_host_len] = 0;
        cls_next(lx, &h);
    }
    return h.type == TK_EOF;
}

/* KILL [HARD|SOFT] [CONNECTION|QUERY [ID]] n, or ? in a prepared text */
static void cls_head_kill(struct cls_lexer *lx, struct cls_result *r)
{
    struct cls_tok t, u;
    bool query = false, query_id = false;
    r->is_kill = true;
    cls_next(lx, &t);
    if (cls_kw(&t, "HARD") || cls_kw(&t, "SOFT"))
        cls_next(lx, &t);
    if (cls_kw(&t, "CONNECTION")) {
        cls_next(lx, &t);
    } else if (cls_kw(&t, "QUERY")) {
        query = true;
        cls_next(lx, &t);
        if (cls_kw(&t, "ID")) {
            query_id = true;
            cls_next(lx, &t);
        }
    }
    if (!query_id && cls_kw(&t, "USER")) {
        if (cls_kill_user(lx, r)) {
            r->kind = CLS_KILL;
            r->kill_query = query;
            r->kill_user = true;
            return;
        }
        r->pins |= CLS_PIN_UNSURE;
        return;
    }
    cls_next(lx, &u);
    uint64_t id = 0;
    bool param = cls_punct(&t, '?');
    if (u.type == TK_EOF && (param || cls_parse_kill_target(&t, &id))) {
        r->kind = CLS_KILL;
        r->kill_query = query;
        r->kill_query_id = query_id;
        r->kill_param = param;
        r->kill_id = id;
        return;
    }
    r->pins |= CLS_PIN_UNSURE; /* KILL USER x, KILL expr */
}

/* LOAD {DATA|XML} [LOW_PRIORITY|CONCURRENT] [LOCAL] INFILE 'file' ... */
static void cls_head_load(struct cls_lexer *lx, struct cls_result *r)
{
    struct cls_tok t;
    bool local = false;
    cls_next(lx, &t);
    bool xml = cls_kw(&t, "XML");
    if (!xml && !cls_kw(&t, "DATA"))
        return;
    for (;;) {
        cls_next(lx, &t);
        if (cls_kw(&t, "LOCAL"))
            local = true;
        else if (cls_kw(&t, "INFILE"))
            break;
        else if (!cls_kw(&t, "LOW_PRIORITY") && !cls_kw(&t, "CONCURRENT"))
            return;
    }
    if (!local)
        return;
    cls_next(lx, &t);
    long n = t.type == TK_STRING ? cls_unquote(&t, lx->nobs, r->arg, sizeof(r->arg)) : -1;
    if (n < 0) {
        r->arg[0] = '\0';
        r->pins |= CLS_PIN_UNSURE;
        return;
    }
    r->arg_len = (size_t)n;
    r->kind = xml ? CLS_LOAD_XML_LOCAL : CLS_LOAD_DATA_LOCAL;
}

/* ---- SET ---------------------------------------------------------------- */

static bool cls_niladic_function(const struct cls_tok *t)
{
    static const char *const names[] = {
        "CURRENT_DATE", "CURRENT_TIME",  "CURRENT_TIMESTAMP", "CURRENT_USER",
        "CURRENT_ROLE", "LOCALTIME",     "LOCALTIMESTAMP",    "UTC_DATE",
        "UTC_TIME",     "UTC_TIMESTAMP", "SYSDATE",
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (cls_kw(t, names[i]))
            return true;
    return false;
}

/* Stores a lower-cased name; false if it does not fit. */
static bool cls_set_name(struct cls_assign *a, const char *p, size_t n)
{
    if (n >= sizeof(a->name))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        a->name[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    a->name[n] = '\0';
    return true;
}

enum cls_value_form { CLS_VAL_SCALAR, CLS_VAL_NAMES, CLS_VAL_TRX };

/* Reads a SET value up to a top-level ',' (for TRX: to the end) and says
 * whether it is a literal the proxy can replay verbatim. t holds the first
 * token of the value and, on return, the token after it (',' or EOF). */
static bool cls_set_value(struct cls_lexer *lx, struct cls_tok *t, enum cls_value_form form,
                          const char **vp, size_t *vlen)
{
    int depth = 0, ntok = 0;
    bool literal = true, sign = false;
    const char *start = t->p, *end = t->p, *prev_end = t->p;
    for (; t->type != TK_EOF; cls_next(lx, t)) {
        if (cls_punct(t, '('))
            depth++;
        else if (cls_punct(t, ')'))
            depth--;
        else if (depth == 0 && cls_punct(t, ',') && form != CLS_VAL_TRX)
            break;
        if (ntok > 0 && !cls_gap_ws(prev_end, t->p))
            literal = false; /* a comment inside the value would not replay cleanly */
        switch (form) {
        case CLS_VAL_SCALAR:
            if (ntok == 0 && (cls_punct(t, '-') || cls_punct(t, '+')))
                sign = true;
            else if (ntok == (sign ? 1 : 0))
                literal = literal && (t->type == TK_NUMBER ||
                                      (!sign && t->type == TK_STRING) ||
                                      (!sign && t->type == TK_WORD && !cls_niladic_function(t)));
            else
                literal = false;
            break;
        case CLS_VAL_NAMES: /* cs [COLLATE coll] */
            if (ntok == 1)
                literal = literal && cls_kw(t, "COLLATE");
            else if (ntok == 0 || ntok == 2)
                literal = literal && (t->type == TK_WORD || t->type == TK_STRING ||
                                      t->type == TK_QIDENT);
            else
                literal = false;
            break;
        case CLS_VAL_TRX: /* words and commas */
            literal = literal && (t->type == TK_WORD || cls_punct(t, ','));
            break;
        }
        ntok++;
        end = prev_end = t->p + t->len;
    }
    if (ntok == 0 || (sign && ntok == 1) || (form == CLS_VAL_NAMES && ntok == 2))
        literal = false;
    *vp = start;
    *vlen = (size_t)(end - start);
    return literal;
}

/* Adds an assignment; the value is read from t on. Sets pins. */
static void cls_set_add(struct cls_lexer *lx, struct cls_tok *t, struct cls_result *r,
                        enum cls_scope scope, const char *name, size_t name_len,
                        enum cls_value_form form)
{
    const char *v;
    size_t vlen;
    bool literal = cls_set_value(lx, t, form, &v, &vlen);
    if (r->n_assign >= CLS_MAX_ASSIGN) {
        r->pins |= CLS_PIN_UNSURE;
        return;
    }
    struct cls_assign *a = &r->assign[r->n_assign];
    memset(a, 0, sizeof(*a));
    if (!cls_set_name(a, name, name_len)) {
        r->pins |= CLS_PIN_UNSURE;
        return;
    }
    r->n_assign++;
    a->scope = scope;
    a->value = v;
    a->value_len = vlen;
    a->value_is_literal = literal;
    if (scope == CLS_SCOPE_USER)
        r->pins |= CLS_PIN_USER_VAR;
    else if (scope != CLS_SCOPE_GLOBAL && !literal)
        r->pins |= CLS_PIN_SESSION_VAR;
}

static void cls_head(struct cls_lexer *lx, struct cls_result *r, const struct cls_scan *sc,
                     int nest);

/* SET STATEMENT a=1 [, ...] FOR stmt: only the inner statement counts. */
static void cls_head_set_statement(struct cls_lexer *lx, struct cls_result *r,
                                   const struct cls_scan *sc, int nest)
{
    struct cls_tok t;
    int depth = 0;
    for (;;) {
        cls_next(lx, &t);
        if (t.type == TK_EOF || nest > 0) {
            r->pins |= CLS_PIN_UNSURE;
            return;
        }
        if (cls_punct(&t, '('))
            depth++;
        else if (cls_punct(&t, ')'))
            depth--;
        else if (depth == 0 && cls_kw(&t, "FOR"))
            break;
    }
    cls_head(lx, r, sc, nest + 1);
}

static void cls_head_set(struct cls_lexer *lx, struct cls_result *r, const struct cls_scan *sc,
                         int nest)
{
    struct cls_tok t;
    enum cls_scope cur = CLS_SCOPE_SESSION;
    r->kind = CLS_SET;
    cls_next(lx, &t);
    if (cls_kw(&t, "STATEMENT")) {
        r->kind = CLS_OTHER;
        cls_head_set_statement(lx, r, sc, nest);
        return;
    }
    if (cls_kw(&t, "PASSWORD") || cls_kw(&t, "DEFAULT"))
        return; /* SET PASSWORD / SET DEFAULT ROLE: account state, not the session's */
    for (;;) {
        if (cls_kw(&t, "GLOBAL") || cls_kw(&t, "PERSIST") || cls_kw(&t, "PERSIST_ONLY")) {
            cur = CLS_SCOPE_GLOBAL;
            cls_next(lx, &t);
        } else if (cls_kw(&t, "SESSION") || cls_kw(&t, "LOCAL")) {
            cur = CLS_SCOPE_SESSION;
            cls_next(lx, &t);
            if (cls_kw(&t, "TRANSACTION")) {
                cls_next(lx, &t);
                cls_set_add(lx, &t, r, CLS_SCOPE_TRANSACTION, "transaction", 11, CLS_VAL_TRX);
                break;
            }
        }
        if (cls_kw(&t, "TRANSACTION")) {
            cls_next(lx, &t);
            if (cur == CLS_SCOPE_GLOBAL) {
                cls_set_add(lx, &t, r, CLS_SCOPE_GLOBAL, "transaction", 11, CLS_VAL_TRX);
            } else {
                /* applies to the next transaction only, and the server's status
                 * flags do not show it: keep the connection until then */
                cls_set_add(lx, &t, r, CLS_SCOPE_TRANSACTION, "next_transaction", 16,
                            CLS_VAL_TRX);
                r->pins |= CLS_PIN_NEXT_TRX;
            }
            break;
        }
        if (cls_kw(&t, "NAMES")) {
            cls_next(lx, &t);
            cls_set_add(lx, &t, r, CLS_SCOPE_NAMES, "names", 5, CLS_VAL_NAMES);
        } else if (cls_kw(&t, "CHARSET") || cls_kw(&t, "CHARACTER")) {
            if (cls_kw(&t, "CHARACTER")) {
                cls_next(lx, &t);
                if (!cls_kw(&t, "SET"))
                    goto unsure;
            }
            cls_next(lx, &t);
            cls_set_add(lx, &t, r, CLS_SCOPE_CHARSET, "character set", 13, CLS_VAL_NAMES);
        } else {
            enum cls_scope scope = cur;
            const char *name;
            size_t name_len;
            char dotted[64];
            if (t.type == TK_USERVAR) {
                scope = CLS_SCOPE_USER;
                name = t.v;
                name_len = t.vlen;
            } else if (t.type == TK_SYSVAR) {
                name = t.v;
                name_len = t.vlen;
                scope = CLS_SCOPE_SESSION;
                const char *dot = memchr(name, '.', name_len);
                if (dot) {
                    size_t pl = (size_t)(dot - name);
                    if (pl == 6 && strncasecmp(name, "global", 6) == 0)
                        scope = CLS_SCOPE_GLOBAL;
                    else if (!((pl == 7 && strncasecmp(name, "session", 7) == 0) ||
                               (pl == 5 && strncasecmp(name, "local", 5) == 0)))
                        goto unsure;
                    name_len -= pl + 1;
                    name = dot + 1;
                }
            } else if (t.type == TK_WORD) {
                name = t.p;
                name_len = t.len;
            } else if (t.type == TK_QIDENT && t.quote == '`') {
                name = t.v;
                name_len = t.vlen;
            } else {
                goto unsure; /* SET ROLE, SET RESOURCE GROUP, syntax we do not know */
            }
            if (t.type == TK_WORD && cls_kw(&t, "ROLE")) {
                r->pins |= CLS_PIN_ROLE;
                goto unsure;
            }
            if (t.type == TK_WORD && cls_kw(&t, "RESOURCE")) goto unsure;
            cls_next(lx, &t);
            if (cls_punct(&t, '.') && (scope == CLS_SCOPE_SESSION || scope == CLS_SCOPE_GLOBAL)) {
                /* structured variable: keycache.key_buffer_size */
                struct cls_tok u;
                cls_next(lx, &u);
                if (u.type != TK_WORD || name_len + 1 + u.len >= sizeof(dotted))
                    goto unsure;
                memcpy(dotted, name, name_len);
                dotted[name_len] = '.';
                memcpy(dotted + name_len + 1, u.p, u.len);
                name = dotted;
                name_len += 1 + u.len;
                cls_next(lx, &t);
            }
            if (!(cls_punct(&t, '=') || (t.type == TK_PUNCT && t.len == 2)))
                goto unsure;
            cls_next(lx, &t);
            cls_set_add(lx, &t, r, scope, name, name_len, CLS_VAL_SCALAR);
        }
        if (t.type == TK_EOF)
            break;
        if (!cls_punct(&t, ','))
            goto unsure;
        cls_next(lx, &t);
    }
    return;
unsure:
    r->pins |= CLS_PIN_UNSURE;
}

/* ---- dispatch ----------------------------------------------------------- */

/* Classifies one statement by its head; lx reads only that statement. */
static void cls_head(struct cls_lexer *lx, struct cls_result *r, const struct cls_scan *sc,
                     int nest)
{
    struct cls_tok t, u;
    cls_next(lx, &t);
    if (cls_punct(&t, '(')) {
        while (cls_punct(&t, '('))
            cls_next(lx, &t);
        if (cls_query_start(&t)) {
            r->kind = CLS_SELECT;
            cls_read_form(r, sc);
        } else {
            r->pins |= CLS_PIN_UNSURE;
        }
        return;
    }
    if (t.type != TK_WORD) {
        r->pins |= CLS_PIN_UNSURE;
        return;
    }
    if (sc->exec_compound) {
        r->pins |= CLS_PIN_UNSURE; /* BEGIN NOT ATOMIC, IF ..., label: a program runs now */
        return;
    }
    if (cls_kw(&t, "SELECT")) {
        r->kind = CLS_SELECT;
        cls_read_form(r, sc);
    } else if (cls_kw(&t, "WITH")) {
        cls_head_with(lx, r, sc);
    } else if (cls_kw(&t, "TABLE") || cls_kw(&t, "VALUES")) {
        cls_read_form(r, sc);
    } else if (cls_kw(&t, "SHOW")) {
        cls_read_form(r, sc);
        cls_next(lx, &u);
        if (cls_kw(&u, "COUNT")) {
            /* SHOW COUNT(*) WARNINGS */
            for (int i = 0; i < 4 && u.type != TK_EOF; i++)
                cls_next(lx, &u);
        }
        if (cls_kw(&u, "WARNINGS") || cls_kw(&u, "ERRORS")) {
            r->kind = CLS_SHOW_WARNINGS;
            r->reads_prev = r->prev_diagnostics = true;
        } else if (cls_kw(&u, "PROFILE") || cls_kw(&u, "PROFILES")) {
            r->reads_prev = true;
        }
    } else if (cls_kw(&t, "DESCRIBE") || cls_kw(&t, "DESC") || cls_kw(&t, "EXPLAIN")) {
        /* EXPLAIN ANALYZE runs the statement (TiDB: also DML) */
        r->read_only = !(sc->analyze && (sc->dml || sc->has_into || sc->lock_clause));
    } else if (cls_kw(&t, "USE")) {
        cls_head_use(lx, r);
    } else if (cls_kw(&t, "BEGIN")) {
        cls_next(lx, &u);
        if (u.type == TK_EOF || cls_kw(&u, "WORK") || cls_kw(&u, "PESSIMISTIC") ||
            cls_kw(&u, "OPTIMISTIC")) {
            r->kind = CLS_BEGIN;
            r->pins |= CLS_PIN_TRX;
        } else {
            r->pins |= CLS_PIN_UNSURE;
        }
    } else if (cls_kw(&t, "START")) {
        cls_next(lx, &u);
        if (cls_kw(&u, "TRANSACTION")) {
            r->kind = CLS_BEGIN;
            r->pins |= CLS_PIN_TRX;
        }
    } else if (cls_kw(&t, "COMMIT")) {
        r->kind = CLS_COMMIT;
        cls_next(lx, &u);
        cls_head_chain(lx, &u, r);
    } else if (cls_kw(&t, "ROLLBACK")) {
        cls_next(lx, &u);
        if (cls_kw(&u, "WORK"))
            cls_next(lx, &u);
        if (cls_kw(&u, "TO"))
            return; /* ROLLBACK TO SAVEPOINT: the transaction goes on */
        r->kind = CLS_ROLLBACK;
        cls_head_chain(lx, &u, r);
    } else if (cls_kw(&t, "SAVEPOINT")) {
        r->pins |= CLS_PIN_SAVEPOINT;
    } else if (cls_kw(&t, "XA")) {
        cls_next(lx, &u);
        if (cls_kw(&u, "COMMIT") || cls_kw(&u, "ROLLBACK"))
            r->unpins |= CLS_PIN_XA;
        else if (!cls_kw(&u, "RECOVER"))
            r->pins |= CLS_PIN_XA;
    } else if (cls_kw(&t, "LOCK")) {
        cls_next(lx, &u);
        if (cls_kw(&u, "TABLE") || cls_kw(&u, "TABLES")) {
            r->kind = CLS_LOCK_TABLES;
            r->pins |= CLS_PIN_LOCK_TABLES;
        } else {
            r->pins |= CLS_PIN_UNSURE; /* LOCK INSTANCE FOR BACKUP ... */
        }
    } else if (cls_kw(&t, "UNLOCK")) {
        cls_next(lx, &u);
        if (cls_kw(&u, "TABLE") || cls_kw(&u, "TABLES")) {
            r->kind = CLS_UNLOCK_TABLES;
            r->unpins |= CLS_PIN_LOCK_TABLES;
        }
    } else if (cls_kw(&t, "FLUSH")) {
        if (sc->read_lock || sc->for_export)
            r->pins |= CLS_PIN_LOCK_TABLES;
    } else if (cls_kw(&t, "GET")) {
        cls_next(lx, &u);
        if (cls_kw(&u, "CURRENT") || cls_kw(&u, "STACKED"))
            cls_next(lx, &u);
        if (cls_kw(&u, "DIAGNOSTICS"))
            r->reads_prev = r->prev_diagnostics = true;
    } else if (cls_kw(&t, "PREPARE") || cls_kw(&t, "DEALLOCATE")) {
        r->pins |= CLS_PIN_PREPARE;
    } else if (cls_kw(&t, "EXECUTE")) {
        cls_next(lx, &u);
        r->pins |= cls_kw(&u, "IMMEDIATE") ? CLS_PIN_UNSURE : CLS_PIN_PREPARE;
    } else if (cls_kw(&t, "DROP")) {
        cls_next(lx, &u);
        if (cls_kw(&u, "PREPARE"))
            r->pins |= CLS_PIN_PREPARE;
    } else if (cls_kw(&t, "HANDLER")) {
        cls_next(lx, &u); /* table name */
        for (int i = 0; i < 4; i++) {
            cls_next(lx, &u);
            if (cls_kw(&u, "OPEN")) {
                r->pins |= CLS_PIN_HANDLER;
                break;
            }
        }
    } else if (cls_kw(&t, "KILL")) {
        cls_head_kill(lx, r);
    } else if (cls_kw(&t, "LOAD")) {
        cls_head_load(lx, r);
    } else if (cls_kw(&t, "CREATE")) {
        cls_next(lx, &u);
        if (cls_kw(&u, "OR")) {
            cls_next(lx, &u); /* REPLACE */
            cls_next(lx, &u);
        }
        if (cls_kw(&u, "LOCAL"))
            cls_next(lx, &u);
        if (cls_kw(&u, "TEMPORARY"))
            r->pins |= CLS_PIN_TEMP_TABLE;
    } else if (cls_kw(&t, "CALL")) {
        r->pins |= CLS_PIN_ROUTINE; /* a procedure may do anything */
    } else if (cls_kw(&t, "BINLOG")) {
        r->pins |= CLS_PIN_UNSURE;
    } else if (cls_kw(&t, "BACKUP")) {
        /* BACKUP LOCK t, BACKUP STAGE x hold locks nobody tracks; BACKUP UNLOCK
         * releases one, but what else is held is not known: no unpin */
        cls_next(lx, &u);
        if (cls_kw(&u, "LOCK") || cls_kw(&u, "STAGE"))
            r->pins |= CLS_PIN_BACKUP_LOCK;
        else if (!cls_kw(&u, "UNLOCK"))
            r->pins |= CLS_PIN_UNSURE;
    } else if (cls_kw(&t, "SET")) {
        cls_head_set(lx, r, sc, nest);
    }
}

static void cls_merge_scan(struct cls_result *r, const struct cls_scan *sc)
{
    r->pins |= sc->pins;
    r->unpins |= sc->unpins;
    r->reads_prev = r->reads_prev || sc->reads_prev;
    /* a plan shows the functions by name (EXPLAIN EXTENDED's note 1003), never
     * their values: rewritten, the note would show mymux's expression */
    bool plan_only = !sc->analyze && (cls_kw(&sc->first, "EXPLAIN") ||
                                      cls_kw(&sc->first, "DESCRIBE") || cls_kw(&sc->first, "DESC"));
    if (!plan_only) {
        r->prev_found_rows = r->prev_found_rows || sc->prev_found_rows;
        r->prev_row_count = r->prev_row_count || sc->prev_row_count;
        r->prev_last_insert_id = r->prev_last_insert_id || sc->prev_last_insert_id;
        r->prev_identity = r->prev_identity || sc->prev_identity;
    }
    r->prev_diagnostics = r->prev_diagnostics || sc->prev_diagnostics;
    r->sets_last_insert_id = r->sets_last_insert_id || sc->sets_last_insert_id;
    r->has_connection_id = r->has_connection_id || sc->has_conn_id;
    r->uses_tables = r->uses_tables || sc->uses_tables;
}

/* Folds statement 2..n of a multi-statement text into the first one's result. */
static void cls_merge_next(struct cls_result *out, const struct cls_result *r)
{
    out->pins |= r->pins;
    out->unpins |= r->unpins;
    out->reads_prev = out->reads_prev || r->reads_prev;
    out->prev_found_rows = out->prev_found_rows || r->prev_found_rows;
    out->prev_row_count = out->prev_row_count || r->prev_row_count;
    out->prev_last_insert_id = out->prev_last_insert_id || r->prev_last_insert_id;
    out->prev_identity = out->prev_identity || r->prev_identity;
    out->prev_diagnostics = out->prev_diagnostics || r->prev_diagnostics;
    out->sets_last_insert_id = out->sets_last_insert_id || r->sets_last_insert_id;
    out->has_connection_id = out->has_connection_id || r->has_connection_id;
    out->uses_tables = out->uses_tables || r->uses_tables;
    out->read_only = out->read_only && r->read_only;
    out->is_kill = out->is_kill || r->is_kill;
    /* State changes mymux acts on itself are only reported for the first
     * statement: anything later is unsure. */
    if (r->n_assign > 0 || r->kind == CLS_USE || r->kind == CLS_KILL || r->is_kill ||
        r->kind == CLS_LOAD_DATA_LOCAL || r->kind == CLS_LOAD_XML_LOCAL)
        out->pins |= CLS_PIN_UNSURE;
}

/* One pass over the text under lx (doubtful comments taken as lx->doubt_run says). */
static void cls_classify_pass(struct cls_lexer *lx, struct cls_result *out)
{
    struct cls_scan sc;
    struct cls_tok last;
    struct cls_result next;
    int nstmt = 0;

    memset(out, 0, sizeof(*out));
    do {
        struct cls_lexer start = *lx;
        size_t end = cls_scan_stmt(lx, &sc, &last);
        if (sc.ntok == 0)
            continue;
        struct cls_result *r = nstmt == 0 ? out : &next;
        if (nstmt > 0) {
            /* assign[] is large: clear only what cls_merge_next reads */
            r->kind = CLS_OTHER;
            r->pins = r->unpins = 0;
            r->reads_prev = r->has_connection_id = r->read_only = r->is_kill = false;
            r->prev_found_rows = r->prev_row_count = r->prev_last_insert_id = false;
            r->prev_identity = r->prev_diagnostics = r->sets_last_insert_id = false;
            r->uses_tables = false;
            r->n_assign = 0;
        }
        start.end = end;
        cls_head(&start, r, &sc, 0);
        cls_merge_scan(r, &sc);
        if (nstmt > 0)
            cls_merge_next(out, r);
        nstmt++;
    } while (last.type != TK_EOF);

    out->multi = nstmt > 1;
    if (lx->bad)
        out->pins |= CLS_PIN_UNSURE;
    out->unpins &= ~out->pins; /* a pin taken in the same text wins */
}

/* True if two passes over the same text tell the caller the same thing. */
static bool cls_same(const struct cls_result *a, const struct cls_result *b)
{
    if (a->kind != b->kind || a->pins != b->pins || a->unpins != b->unpins ||
        a->multi != b->multi || a->reads_prev != b->reads_prev ||
        a->prev_found_rows != b->prev_found_rows || a->prev_row_count != b->prev_row_count ||
        a->prev_last_insert_id != b->prev_last_insert_id ||
        a->prev_identity != b->prev_identity || a->prev_diagnostics != b->prev_diagnostics ||
        a->sets_last_insert_id != b->sets_last_insert_id ||
        a->has_connection_id != b->has_connection_id || a->read_only != b->read_only ||
        a->arg_len != b->arg_len || memcmp(a->arg, b->arg, a->arg_len) != 0 ||
        a->kill_query != b->kill_query || a->kill_id != b->kill_id ||
        a->kill_query_id != b->kill_query_id || a->kill_param != b->kill_param ||
        a->kill_user != b->kill_user || a->kill_current_user != b->kill_current_user ||
        a->kill_host_len != b->kill_host_len ||
        memcmp(a->kill_host, b->kill_host, a->kill_host_len) != 0 || a->is_kill != b->is_kill ||
        a->n_assign != b->n_assign)
        return false;
    for (int i = 0; i < a->n_assign; i++) {
        const struct cls_assign *x = &a->assign[i], *y = &b->assign[i];
        if (x->scope != y->scope || strcmp(x->name, y->name) != 0 || x->value != y->value ||
            x->value_len != y->value_len || x->value_is_literal != y->value_is_literal)
            return false;
    }
    return true;
}

static bool cls_has_high_byte(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] >= 0x80)
            return true;
    return false;
}

static const struct cls_lex cls_lex_default = {0, false, false, 0, true};

/* Classifies under lx for a backend kind. A comment whose fate is a doubt is
 * read both ways; if the two readings differ, or two doubtful comments could
 * go different ways, the result pins. */
static void cls_classify(const char *sql, size_t len, const struct cls_lex *o,
                         enum cls_backend backend, struct cls_result *out)
{
    struct cls_lexer lx;
    static __thread struct cls_result other;

    memset(out, 0, sizeof(*out));
    if (!sql)
        return;
    cls_lex_init(&lx, sql, len, o, backend);
    cls_classify_pass(&lx, out);
    if (lx.doubt_key != 0 || lx.doubt_mixed) {
        bool mixed = lx.doubt_mixed;
        cls_lex_init(&lx, sql, len, o, backend);
        lx.doubt_run = false;
        cls_classify_pass(&lx, &other);
        if (mixed || lx.doubt_mixed || !cls_same(out, &other)) {
            out->pins |= other.pins | CLS_PIN_UNSURE;
            out->unpins &= other.unpins & ~out->pins;
        }
    }
    if (!lx.cs && cls_has_high_byte(sql, len))
        out->pins |= CLS_PIN_UNSURE; /* a character set whose lexing mymux does not know */
}

void classify_lex(const char *sql, size_t len, const struct cls_lex *lx, struct cls_result *out)
{
    if (!lx)
        lx = &cls_lex_default;
    cls_classify(sql, len, lx, lx->mariadb ? CLS_BK_MARIADB : CLS_BK_MYSQL, out);
}

bool classify_tokens(const char *sql, size_t len, const struct cls_lex *o,
                     bool (*cb)(const struct cls_token *t, void *arg), void *arg)
{
    static const enum cls_token_kind kinds[] = {
        [TK_WORD] = CLS_T_WORD,     [TK_QIDENT] = CLS_T_QNAME, [TK_STRING] = CLS_T_STRING,
        [TK_NUMBER] = CLS_T_NUMBER, [TK_USERVAR] = CLS_T_VAR,  [TK_SYSVAR] = CLS_T_VAR,
        [TK_PUNCT] = CLS_T_PUNCT,   [TK_SEMI] = CLS_T_SEMI,
    };
    if (!o)
        o = &cls_lex_default;
    if (!sql)
        return true;
    struct cls_lexer lx;
    cls_lex_init(&lx, sql, len, o, o->mariadb ? CLS_BK_MARIADB : CLS_BK_MYSQL);
    struct cls_tok t;
    for (;;) {
        cls_next(&lx, &t);
        if (t.type == TK_EOF)
            break;
        struct cls_token ct = {kinds[t.type], t.p, t.len, !t.adjacent};
        if (!cb(&ct, arg))
            break;
    }
    return !(lx.doubt_key != 0 || lx.doubt_mixed || (!lx.cs && cls_has_high_byte(sql, len)));
}

void classify(const char *sql, size_t len, bool ansi_quotes, bool no_backslash_escapes,
              struct cls_result *out)
{
    struct cls_lex lx = {0, ansi_quotes, no_backslash_escapes, 0, false};
    cls_classify(sql, len, &lx, CLS_BK_UNKNOWN, out);
}

/* ---- rewriting reads in place ------------------------------------------- */

/* The text to write for each function, and its length (-1: not rewritten). */
struct cls_values {
    char text[CLS_FN_COUNT][24];
    int len[CLS_FN_COUNT];
};

/* Writes the values over every read classify() reports for a function in v,
 * walking statements as classify() splits them. Returns the number written;
 * *failed is set if some read of such a function could not be written, or if
 * an executable comment of doubtful fate lies in the text (the reads depend on
 * it: the text is rewritten as if it ran). */
/* Whitespace and ordinary comments from p on; returns where they end. */
static const char *cls_skip_plain_gap(const char *p, const char *end)
{
    while (p < end) {
        if (cls_isspace((unsigned char)*p)) {
            p++;
        } else if (end - p >= 2 && p[0] == '/' && p[1] == '*') {
            const char *q = memmem(p + 2, (size_t)(end - p - 2), "*/", 2);
            if (!q) return end;
            p = q + 2;
        } else if (*p == '#' || (end - p >= 3 && p[0] == '-' && p[1] == '-' &&
                                 (p[2] == ' ' || p[2] == '\t' || p[2] == '\n' || p[2] == '\r'))) {
            const char *q = memchr(p, '\n', (size_t)(end - p));
            if (!q) return end;
            p = q + 1;
        } else {
            break;
        }
    }
    return p;
}

/* [p, end) is NAME ( ) with only whitespace and ordinary comments between
 * its tokens: the whole span can be overwritten. */
static bool cls_call_plain(const char *p, const char *end)
{
    if (p < end && *p == '`') {
        const char *q = memchr(p + 1, '`', (size_t)(end - p - 1));
        if (!q) return false;
        p = q + 1;
    } else {
        while (p < end && cls_isident((unsigned char)*p)) p++;
    }
    p = cls_skip_plain_gap(p, end);
    if (p >= end || *p != '(') return false;
    p = cls_skip_plain_gap(p + 1, end);
    return p + 1 == end && *p == ')';
}

/* Any executable comment: inside one, a nested comment's end closes it, so a
 * span with a comment in it could not be overwritten safely. */
static bool cls_has_exec_comment(const char *sql, size_t len)
{
    for (const char *p = sql; (p = memmem(p, len - (size_t)(p - sql), "/*", 2)) != NULL; p += 2) {
        size_t left = len - (size_t)(p - sql);
        if (left >= 3 && p[2] == '!') return true;
        if (left >= 4 && (p[2] == 'M' || p[2] == 'm' || p[2] == 'T' || p[2] == 't') && p[3] == '!')
            return true;
    }
    return false;
}

static int cls_rewrite(char *sql, size_t len, const struct cls_lex *o, enum cls_backend backend,
                       const struct cls_values *v, bool *failed)
{
    int exec_comments = -1; /* not looked for yet */
    struct cls_lexer lx;
    struct cls_scan sc;
    struct cls_tok t;
    int replaced = 0;

    *failed = false;
    if (!sql)
        return 0;
    cls_lex_init(&lx, sql, len, o, backend);
    memset(&sc, 0, sizeof(sc));
    sc.mariadb = backend != CLS_BK_MYSQL;
    for (;;) {
        cls_next(&lx, &t);
        if (t.type == TK_EOF)
            break;
        if (t.type == TK_SEMI && sc.block <= 0) {
            memset(&sc, 0, sizeof(sc));
            sc.mariadb = backend != CLS_BK_MYSQL;
            continue;
        }
        cls_scan_tok(&sc, &t);
        if (sc.ev_fn == CLS_FN_NONE || v->len[sc.ev_fn] < 0)
            continue;
        size_t at = (size_t)(sc.ev_start - sql), span = (size_t)(sc.ev_end - sc.ev_start);
        size_t nd = (size_t)v->len[sc.ev_fn];
        /* the number must stay a token of its own: 5x or x5 would read as a name */
        bool glued_before = at > 0 && cls_isident((unsigned char)sql[at - 1]);
        bool glued_after = nd == span && at + span < len &&
                           (cls_isident((unsigned char)sql[at + span]) || sql[at + span] == '.');
        if (!sc.ev_ok && sc.ev_fn != CLS_FN_CONNECTION_ID) {
            /* comments in the call (LAST_INSERT_ID, a comment, then ()): overwritten with it,
             * unless an executable comment could end inside the span */
            if (exec_comments < 0) exec_comments = cls_has_exec_comment(sql, len);
            sc.ev_ok = !exec_comments && cls_call_plain(sc.ev_start, sc.ev_end);
        }
        if (!sc.ev_ok || nd > span || glued_before || glued_after) {
            *failed = true;
            continue;
        }
        memcpy(sql + at, v->text[sc.ev_fn], nd);
        memset(sql + at + nd, ' ', span - nd);
        replaced++;
    }
    if (lx.doubt_key != 0 || lx.doubt_mixed)
        *failed = true;
    return replaced;
}

static int cls_rewrite_calls(char *sql, size_t len, const struct cls_lex *lx,
                             enum cls_backend backend, const struct cls_rewrite *rw, int n_rw)
{
    struct cls_values v;
    bool failed;

    for (int f = 0; f < CLS_FN_COUNT; f++)
        v.len[f] = -1;
    for (int i = 0; i < n_rw; i++) {
        enum cls_fn f = rw[i].func ? cls_fn_of(rw[i].func, strlen(rw[i].func)) : CLS_FN_NONE;
        if (f == CLS_FN_NONE)
            return -1;
        if (v.len[f] < 0)
            v.len[f] = snprintf(v.text[f], sizeof(v.text[f]), "%lld", (long long)rw[i].value);
    }
    int n = cls_rewrite(sql, len, lx, backend, &v, &failed);
    return failed ? -1 : n;
}

int classify_rewrite_calls_lex(char *sql, size_t len, const struct cls_lex *lx,
                               const struct cls_rewrite *rw, int n_rw)
{
    if (!lx)
        lx = &cls_lex_default;
    return cls_rewrite_calls(sql, len, lx, lx->mariadb ? CLS_BK_MARIADB : CLS_BK_MYSQL, rw, n_rw);
}

int classify_rewrite_calls(char *sql, size_t len, bool ansi_quotes, bool no_backslash_escapes,
                           const struct cls_rewrite *rw, int n_rw)
{
    struct cls_lex lx = {0, ansi_quotes, no_backslash_escapes, 0, false};
    return cls_rewrite_calls(sql, len, &lx, CLS_BK_UNKNOWN, rw, n_rw);
}

/* Kept apart from classify_rewrite_calls(): the id is unsigned, and a call
 * left as written is no failure here (the caller has nothing to fall back to). */
static int cls_rewrite_connection_id(char *sql, size_t len, const struct cls_lex *lx,
                                     enum cls_backend backend, uint64_t id)
{
    struct cls_values v;
    bool failed;

    for (int f = 0; f < CLS_FN_COUNT; f++)
        v.len[f] = -1;
    v.len[CLS_FN_CONNECTION_ID] = snprintf(v.text[CLS_FN_CONNECTION_ID],
                                           sizeof(v.text[CLS_FN_CONNECTION_ID]), "%llu",
                                           (unsigned long long)id);
    return cls_rewrite(sql, len, lx, backend, &v, &failed);
}

int classify_rewrite_connection_id_lex(char *sql, size_t len, const struct cls_lex *lx,
                                       uint64_t id)
{
    if (!lx)
        lx = &cls_lex_default;
    return cls_rewrite_connection_id(sql, len, lx, lx->mariadb ? CLS_BK_MARIADB : CLS_BK_MYSQL,
                                     id);
}

int classify_rewrite_connection_id(char *sql, size_t len, uint64_t id)
{
    return classify_rewrite_connection_id_mode(sql, len, false, false, id);
}

int classify_rewrite_connection_id_mode(char *sql, size_t len, bool ansi_quotes,
                                        bool no_backslash_escapes, uint64_t id)
{
    struct cls_lex lx = {0, ansi_quotes, no_backslash_escapes, 0, false};
    return cls_rewrite_connection_id(sql, len, &lx, CLS_BK_UNKNOWN, id);
}

/* ---- rewriting reads with their names and types kept --------------------
 * MariaDB names a select-list item without an alias by its text as written
 * (from its first token to its last, comments between them included), and
 * types FUNC() by the function. A read answered by mymux becomes
 * COALESCE(value, FUNC()) — the type of the pair is the function's (BIGINT(21)
 * UNSIGNED for LAST_INSERT_ID(), INT(10) UNSIGNED for CONNECTION_ID(), ...),
 * and COALESCE stops at the value, so the function is not evaluated — and
 * every select-list item holding one, unless it has an alias, is given its
 * text as written as alias (AS `text`, backticks doubled). @@identity, whose
 * metadata says it may be NULL, becomes IF(1, value, @@identity). */

#define CLS_NAME_DEPTH 32 /* parenthesis levels whose select lists are followed */
#define CLS_MAX_EDITS 64

/* One select list's current item, per parenthesis level. */
struct cls_item {
    bool in_list;         /* inside a SELECT (or RETURNING) list at this level */
    bool opts;            /* no item yet: SELECT options may come */
    const char *start;    /* first token of the item (NULL: none yet) */
    struct cls_tok last, prev; /* its last two tokens at this level (a group counts as its ')') */
    int ntok;
    bool has_read, saw_interval, saw_case;
};

struct cls_edit {
    size_t at, end;       /* replace [at, end) (an alias: end == at, inserted at at) */
    size_t from;          /* an alias: the item's text is [from, at) */
    enum cls_fn fn;       /* a value: which function (CLS_FN_NONE: an alias) */
};

static bool cls_kw_in(const struct cls_tok *t, const char *const *words)
{
    for (; *words; words++)
        if (cls_kw(t, *words))
            return true;
    return false;
}

static const char *const cls_select_opts[] = {
    "ALL", "DISTINCT", "DISTINCTROW", "HIGH_PRIORITY", "STRAIGHT_JOIN", "SQL_SMALL_RESULT",
    "SQL_BIG_RESULT", "SQL_BUFFER_RESULT", "SQL_CACHE", "SQL_NO_CACHE", "SQL_CALC_FOUND_ROWS",
    NULL};
/* Words that end a select list at its own level. */
static const char *const cls_list_ends[] = {
    "FROM", "INTO", "WHERE", "GROUP", "HAVING", "ORDER", "LIMIT", "WINDOW", "UNION", "EXCEPT",
    "INTERSECT", "FOR", "LOCK", "PROCEDURE", "OFFSET", "FETCH", "ON", NULL};
/* Words after which the next word or string continues the expression. */
static const char *const cls_operator_words[] = {
    "AND", "OR", "XOR", "NOT", "IS", "LIKE", "RLIKE", "REGEXP", "BETWEEN", "IN", "DIV", "MOD",
    "COLLATE", "BINARY", "INTERVAL", "CASE", "WHEN", "THEN", "ELSE", "ESCAPE", "SOUNDS", "ANY",
    "SOME", "EXISTS", "DATE", "TIME", "TIMESTAMP", "ROW", "SELECT", "DISTINCT", "ALL", NULL};
static const char *const cls_interval_units[] = {
    "MICROSECOND", "SECOND", "MINUTE", "HOUR", "DAY", "WEEK", "MONTH", "QUARTER", "YEAR",
    "SECOND_MICROSECOND", "MINUTE_MICROSECOND", "MINUTE_SECOND", "HOUR_MICROSECOND",
    "HOUR_SECOND", "HOUR_MINUTE", "DAY_MICROSECOND", "DAY_SECOND", "DAY_MINUTE", "DAY_HOUR",
    "YEAR_MONTH", NULL};

/* Whether the item ends with an alias (AS name, or a bare name or string after
 * an operand). In doubt it says yes: the item then keeps the rewritten text as
 * its name, where a second alias would be a syntax error. */
static bool cls_item_aliased(const struct cls_item *it)
{
    const struct cls_tok *l = &it->last, *p = &it->prev;
    if (it->ntok < 2)
        return false;
    if (l->type != TK_WORD && l->type != TK_QIDENT && l->type != TK_STRING)
        return false;
    if (cls_kw(p, "AS"))
        return true;
    if (l->type == TK_WORD) {
        if (cls_kw(l, "NULL") || cls_kw(l, "TRUE") || cls_kw(l, "FALSE"))
            return false;
        if (cls_kw(l, "UNKNOWN") && (cls_kw(p, "IS") || cls_kw(p, "NOT")))
            return false;
        /* INTERVAL 1 DAY, CASE ... END; but INTERVAL 1 DAY day names it day */
        if (it->saw_interval && cls_kw_in(l, cls_interval_units) &&
            !cls_kw_in(p, cls_interval_units))
            return false;
        if (it->saw_case && cls_kw(l, "END") && !cls_kw(p, "END"))
            return false;
    }
    if (l->type == TK_STRING &&
        (p->type == TK_STRING || (p->type == TK_WORD && p->len > 1 && p->p[0] == '_')))
        return false; /* 'a' 'b' is one string; _utf8mb4'a' an introducer */
    switch (p->type) {
    case TK_PUNCT:
        return p->len == 1 && p->p[0] == ')';
    case TK_NUMBER:
    case TK_STRING:
    case TK_QIDENT:
    case TK_USERVAR:
    case TK_SYSVAR:
        return true;
    case TK_WORD:
        return !cls_kw_in(p, cls_operator_words);
    default:
        return false;
    }
}

static void cls_item_tok(struct cls_item *it, const struct cls_tok *t)
{
    if (!it->in_list)
        return;
    if (!it->start)
        it->start = t->p;
    it->opts = false;
    it->prev = it->last;
    it->last = *t;
    it->ntok++;
    if (cls_kw(t, "INTERVAL"))
        it->saw_interval = true;
    if (cls_kw(t, "CASE"))
        it->saw_case = true;
}

/* An item can be named by an alias if its text holds no NUL byte and no byte
 * that could start a 4-byte UTF-8 character (MariaDB refuses those in names).
 * Without high_ok, no byte >= 0x80 at all: in gbk, big5, sjis, cp932 and
 * gb18030 a character's trail byte may be a backtick, which doubling would
 * turn into the end of the alias, and the rest of it into SQL nobody classified;
 * a character set mymux does not know may do the same. */
static bool cls_nameable(const char *p, size_t n, bool high_ok)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == 0 || c >= 0xf0 || (c >= 0x80 && !high_ok))
            return false;
    }
    return true;
}

/* Ends the item of it: records its alias if it holds a read and has none. */
static int cls_item_end(struct cls_item *it, const char *sql, bool high_ok, struct cls_edit *e,
                        int *ne)
{
    if (it->in_list && it->start && it->has_read && !cls_item_aliased(it)) {
        size_t from = (size_t)(it->start - sql), to = (size_t)(it->last.p + it->last.len - sql);
        if (cls_nameable(it->start, to - from, high_ok)) {
            if (*ne >= CLS_MAX_EDITS)
                return -1;
            e[(*ne)++] = (struct cls_edit){.at = to, .end = to, .from = from, .fn = CLS_FN_NONE};
        }
    }
    bool in_list = it->in_list;
    memset(it, 0, sizeof(*it));
    it->in_list = in_list;
    return 0;
}

/* Collects the edits: the reads of functions in v to replace, the aliases to
 * add. Returns the number, or -1 if there are too many, the text nests deeper
 * than followed, or it holds an executable comment (the server names an item
 * without the comment's markers). *incomplete: some read could not be replaced. */
static int cls_collect_edits(const char *sql, size_t len, const struct cls_lex *o,
                             enum cls_backend backend, const struct cls_values *v,
                             struct cls_edit *e, bool *incomplete)
{
    static __thread struct cls_item lv[CLS_NAME_DEPTH];
    struct cls_lexer lx;
    struct cls_scan sc;
    struct cls_tok t;
    int ne = 0, d = 0;

    *incomplete = false;
    if (cls_has_exec_comment(sql, len))
        return -1;
    memset(lv, 0, sizeof(lv));
    cls_lex_init(&lx, sql, len, o, backend);
    bool high_ok = lx.cs && !lx.mb; /* a character set whose trail bytes are not ASCII */
    memset(&sc, 0, sizeof(sc));
    sc.mariadb = backend != CLS_BK_MYSQL;
    for (;;) {
        cls_next(&lx, &t);
        if (t.type == TK_EOF || t.type == TK_SEMI) {
            for (; d >= 0; d--)
                if (cls_item_end(&lv[d], sql, high_ok, e, &ne) < 0)
                    return -1;
            memset(lv, 0, sizeof(lv));
            d = 0;
            if (t.type == TK_EOF)
                break;
            if (sc.block <= 0) {
                memset(&sc, 0, sizeof(sc));
                sc.mariadb = backend != CLS_BK_MYSQL;
                continue;
            }
        } else if (cls_punct(&t, '(')) {
            cls_item_tok(&lv[d], &t);
            if (++d >= CLS_NAME_DEPTH)
                return -1;
            memset(&lv[d], 0, sizeof(lv[d]));
        } else if (cls_punct(&t, ')')) {
            if (d > 0) {
                if (cls_item_end(&lv[d], sql, high_ok, e, &ne) < 0)
                    return -1;
                d--;
            }
            cls_item_tok(&lv[d], &t);
        } else if (cls_kw(&t, "SELECT") || cls_kw(&t, "RETURNING")) {
            if (cls_item_end(&lv[d], sql, high_ok, e, &ne) < 0)
                return -1;
            lv[d].in_list = lv[d].opts = true;
        } else if (lv[d].in_list && cls_punct(&t, ',')) {
            if (cls_item_end(&lv[d], sql, high_ok, e, &ne) < 0)
                return -1;
            lv[d].opts = false;
        } else if (lv[d].in_list && cls_kw_in(&t, cls_list_ends)) {
            if (cls_item_end(&lv[d], sql, high_ok, e, &ne) < 0)
                return -1;
            lv[d].in_list = false;
        } else if (!(lv[d].in_list && lv[d].opts && !lv[d].start &&
                     cls_kw_in(&t, cls_select_opts))) {
            cls_item_tok(&lv[d], &t);
        }
        cls_scan_tok(&sc, &t);
        if (sc.ev_fn == CLS_FN_NONE || v->len[sc.ev_fn] < 0)
            continue;
        size_t at = (size_t)(sc.ev_start - sql), end = (size_t)(sc.ev_end - sql);
        bool glued_before = at > 0 && cls_isident((unsigned char)sql[at - 1]);
        if (glued_before || !(sc.ev_ok || cls_call_plain(sc.ev_start, sc.ev_end))) {
            *incomplete = true;
            continue;
        }
        if (ne >= CLS_MAX_EDITS)
            return -1;
        e[ne++] = (struct cls_edit){.at = at, .end = end, .fn = sc.ev_fn};
        for (int k = 0; k <= d; k++)
            if (lv[k].in_list && lv[k].start)
                lv[k].has_read = true;
    }
    if (lx.doubt_key != 0 || lx.doubt_mixed)
        *incomplete = true;
    return ne;
}

/* The literal a read is answered with, typed as the function's result is. */
static int cls_value_literal(char *out, size_t cap, enum cls_fn fn, int64_t value)
{
    if (fn == CLS_FN_LAST_INSERT_ID || fn == CLS_FN_CONNECTION_ID)
        return snprintf(out, cap, "CAST(%llu AS UNSIGNED)", (unsigned long long)value);
    return snprintf(out, cap, "%lld", (long long)value);
}

long classify_rewrite_named(const char *sql, size_t len, const struct cls_lex *lx,
                            const struct cls_rewrite *rw, int n_rw, char *out, size_t cap,
                            bool *incomplete)
{
    struct cls_values v;
    int64_t val[CLS_FN_COUNT] = {0};
    static __thread struct cls_edit e[CLS_MAX_EDITS];

    *incomplete = false;
    if (!lx)
        lx = &cls_lex_default;
    for (int f = 0; f < CLS_FN_COUNT; f++)
        v.len[f] = -1;
    for (int i = 0; i < n_rw; i++) {
        enum cls_fn f = rw[i].func ? cls_fn_of(rw[i].func, strlen(rw[i].func)) : CLS_FN_NONE;
        if (f == CLS_FN_NONE)
            return -1;
        if (v.len[f] < 0) {
            v.len[f] = 0;
            val[f] = rw[i].value;
        }
    }
    int ne = cls_collect_edits(sql, len, lx, lx->mariadb ? CLS_BK_MARIADB : CLS_BK_MYSQL, &v, e,
                               incomplete);
    if (ne < 0)
        return -1;
    size_t pos = 0, o = 0;
    for (int i = 0; i < ne; i++) {
        /* edits come in text order: a value's span ends before the alias of its item */
        if (e[i].at < pos || o + (e[i].at - pos) > cap)
            return -1;
        memcpy(out + o, sql + pos, e[i].at - pos);
        o += e[i].at - pos;
        if (e[i].fn != CLS_FN_NONE) {
            char lit[48];
            int n = cls_value_literal(lit, sizeof(lit), e[i].fn, val[e[i].fn]);
            size_t span = e[i].end - e[i].at;
            /* @@identity may be NULL as far as the metadata says: IF(1, ...) keeps that */
            const char *head = sql[e[i].at] == '@' ? "IF(1," : "COALESCE(";
            size_t hl = strlen(head);
            if (o + hl + (size_t)n + 1 + span + 1 > cap)
                return -1;
            memcpy(out + o, head, hl);
            memcpy(out + o + hl, lit, (size_t)n);
            out[o + hl + (size_t)n] = ',';
            memcpy(out + o + hl + 1 + (size_t)n, sql + e[i].at, span);
            out[o + hl + 1 + (size_t)n + span] = ')';
            o += hl + 2 + (size_t)n + span;
            pos = e[i].end;
        } else {
            if (o + 5 > cap)
                return -1;
            memcpy(out + o, " AS `", 5);
            o += 5;
            for (size_t k = e[i].from; k < e[i].at; k++) {
                if (o + 2 > cap)
                    return -1;
                if (sql[k] == '`')
                    out[o++] = '`';
                out[o++] = sql[k];
            }
            if (o + 1 > cap)
                return -1;
            out[o++] = '`';
            pos = e[i].at;
        }
    }
    if (o + (len - pos) > cap)
        return -1;
    memcpy(out + o, sql + pos, len - pos);
    return (long)(o + len - pos);
}
