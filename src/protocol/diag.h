/* Diagnostics a statement left (warnings, notes, errors), held by mymux so that
 * a session can give its backend connection back and still answer SHOW
 * WARNINGS, SHOW ERRORS, SHOW COUNT(*) ... and @@warning_count / @@error_count
 * as the server would have. Pure protocol code: parsing the server's answers,
 * recognising the readers, writing the result sets. */
#ifndef MX_DIAG_H
#define MX_DIAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/packet.h"

/* What mymux asks the server, in this order, once a statement left conditions:
 * their true counts with what FOUND_ROWS() and ROW_COUNT() say of the statement
 * (the fetch itself changes both on the server), the conditions (at most the
 * session's max_error_count of them), and a statement that empties the
 * diagnostics area (it names a table: MariaDB and MySQL clear the area only
 * before statements that use tables; TiDB before every statement) so that the
 * next borrower finds none. The clear also leaves MariaDB's row counter for
 * warnings (the "at row N" of a CALL's parameter conversion, which reports what
 * the previous statement left) at 0, as a statement that uses tables and reads
 * no rows does: a derived table, or any SELECT that runs, sets it to 1, and
 * WHERE 0 keeps information_schema from filling the table. */
#define DIAG_FETCH_COUNTS "SELECT @@warning_count, @@error_count, FOUND_ROWS(), ROW_COUNT()"
#define DIAG_FETCH_LIST "SHOW WARNINGS"
#define DIAG_FETCH_CLEAR "DO (SELECT 1 FROM information_schema.COLLATIONS WHERE 0)"

/* Held messages longer than this are cut. The server's errors and warnings stay
 * under 512 bytes, but its notes do not: EXPLAIN EXTENDED's note 1003 is the
 * whole rewritten query (a cut one failed derived_cond_pushdown and a dozen more
 * optimizer tests of MariaDB's suite). msg_len holds up to this. */
#define DIAG_MSG_MAX 65535

enum diag_level { DIAG_NOTE, DIAG_WARNING, DIAG_ERROR };

struct diag_cond {
    uint8_t level;    /* enum diag_level */
    uint16_t code;
    uint16_t msg_len;
    uint32_t msg_off; /* into mx_diag.text */
};

struct mx_diag {
    bool held;                 /* these are the session's diagnostics (else: none kept) */
    struct diag_cond *c;
    uint16_t n, cap;
    char *text;
    uint32_t text_len, text_cap;
    uint64_t warn_count;       /* @@warning_count: all conditions, also beyond max_error_count */
    uint64_t err_count;        /* @@error_count */
};

void diag_init(struct mx_diag *d);
void diag_free(struct mx_diag *d);
/* Forgets the conditions (d stays usable, its memory kept). */
void diag_clear(struct mx_diag *d);
/* One row of DIAG_FETCH_LIST's answer (text protocol: Level, Code, Message).
 * Returns 0, or -1 if malformed or out of memory (d unchanged then). */
int diag_add_row(struct mx_diag *d, const uint8_t *p, size_t len);
/* The row of DIAG_FETCH_COUNTS' answer: the counts go to d, FOUND_ROWS() and
 * ROW_COUNT() to *found_rows and *row_count. Returns 0 or -1 (malformed). */
int diag_set_counts(struct mx_diag *d, const uint8_t *p, size_t len, uint64_t *found_rows,
                    int64_t *row_count);

/* The row of a one-column answer holding an unsigned decimal (SELECT
 * LAST_INSERT_ID()) into *v. Returns 0 or -1 (malformed). */
int diag_read_uint_row(const uint8_t *p, size_t len, uint64_t *v);

/* The readers mymux answers itself, in the forms it recognises exactly. */
enum diag_query_kind {
    DQ_NONE,           /* not one of them (forwarded) */
    DQ_LIST_WARNINGS,  /* SHOW WARNINGS [LIMIT [offset,] n | LIMIT n OFFSET m] */
    DQ_LIST_ERRORS,    /* SHOW ERRORS [LIMIT ...] */
    DQ_COUNT_WARNINGS, /* SHOW COUNT(*) WARNINGS */
    DQ_COUNT_ERRORS,   /* SHOW COUNT(*) ERRORS */
    DQ_VAR_WARNINGS,   /* SELECT @@[session.|local.]warning_count */
    DQ_VAR_ERRORS,     /* SELECT @@[session.|local.]error_count */
};

struct diag_query {
    enum diag_query_kind kind;
    uint64_t offset, limit;    /* list forms; limit UINT64_MAX when absent */
    const char *name;          /* DQ_VAR_*: the column name, as written */
    size_t name_len;
};

/* Recognises sql[0..len) as one of the readers above (keywords in any case,
 * whitespace anywhere between tokens, one trailing ';'). Anything else,
 * including comments, aliases and several items, is DQ_NONE. */
void diag_parse_query(const char *sql, size_t len, struct diag_query *q);

/* Writes the result set answering q from d: column definitions, rows (text
 * protocol, or binary for a COM_STMT_EXECUTE) and the final EOF/OK, starting
 * with sequence seq. Text columns are announced in collation `charset` (the
 * client's results character set). Returns 0, or -1 when w overflowed. */
int diag_write_answer(struct pkt_wr *w, uint8_t seq, const struct mx_diag *d,
                      const struct diag_query *q, uint16_t charset, bool deprecate_eof,
                      uint16_t status, bool binary);

#endif
