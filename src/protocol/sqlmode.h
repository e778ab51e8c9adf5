/* How the server reads SQL text, as data: sql_mode flags, the lexical classes of the
 * client character set, and the names it resolves to built-in functions. */
#ifndef MX_SQLMODE_H
#define MX_SQLMODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Multi-byte character sets in which a trail byte can be ASCII ('\\', '`', '@' ...):
 * there a lead byte takes the next byte(s) with it, in strings and identifiers. */
enum sqlm_mb {
    SQLM_MB_NONE,    /* single-byte, or multi-byte with trail bytes >= 0x80 only (utf8, EUC) */
    SQLM_MB_GBK,     /* lead 81-fe, trail 40-7e 80-fe */
    SQLM_MB_BIG5,    /* lead a1-f9, trail 40-7e a1-fe */
    SQLM_MB_SJIS,    /* sjis, cp932: lead 81-9f e0-fc, trail 40-7e 80-fc */
    SQLM_MB_GB18030, /* gbk's pairs, and 81-fe 30-39 81-fe 30-39 (MySQL 8 only) */
};

/* What the lexer needs to know of a character set beyond ASCII. */
struct sqlm_charset {
    const char *name;
    enum sqlm_mb mb;
    bool del_cntrl;    /* 0x7f is a control character: "--\x7f" starts a comment */
    const char *space; /* bytes >= 0x80 the server skips as whitespace (latin1: a0) */
    const char *cntrl; /* bytes >= 0x80 that are control characters, not space */
};

/* The character set of a collation id (0: utf8mb4), or NULL if mymux does not
 * know how the server lexes it. */
const struct sqlm_charset *sqlm_charset_of(uint16_t collation_id);

/* Whitespace between tokens. */
bool sqlm_is_space(const struct sqlm_charset *cs, unsigned char c);

/* A byte after "--" that makes it a comment: whitespace or a control character. */
bool sqlm_is_dash_end(const struct sqlm_charset *cs, unsigned char c);

/* Length of the multi-byte character at p (2 or 4) if p[0..end) starts one in a
 * set of enum sqlm_mb other than NONE; otherwise 0 (the byte stands alone). */
size_t sqlm_mb_len(const struct sqlm_charset *cs, const unsigned char *p, const unsigned char *end);

/* How the server resolves NAME(...) written without a schema. */
enum sqlm_fn {
    SQLM_FN_UNKNOWN = 0, /* a stored function or UDF: can do anything */
    SQLM_FN_NATIVE,      /* built-in however written: `NAME`(), NAME (), NAME/ * * /() */
    SQLM_FN_KEYWORD,     /* grammar when unquoted (IF(, LEFT (, IN (, VALUES (, NEXTVAL (),
                            a stored function when quoted */
    SQLM_FN_KWFUNC,      /* built-in only unquoted with '(' right after the name (COUNT(,
                            NOW(); NOW () and `NOW`() are stored functions) */
};

/* Class of a function name on MariaDB (mariadb) or on TiDB/MySQL. */
enum sqlm_fn sqlm_function(const char *name, size_t len, bool mariadb);

#endif
