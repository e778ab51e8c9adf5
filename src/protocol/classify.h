/* SQL classification: a tokenizer (not a parser) that tells the session what a
 * statement does to connection state: what it pins, what replayable state it
 * sets, and the few statements mymux must act on itself. */
#ifndef MX_CLASSIFY_H
#define MX_CLASSIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Why a statement pins the session to its backend connection (bit set). */
enum cls_pin {
    CLS_PIN_TRX = 1u << 0,        /* BEGIN / START TRANSACTION (the server flag stays the truth) */
    CLS_PIN_LOCK_TABLES = 1u << 1,/* LOCK TABLES / FLUSH TABLES ... WITH READ LOCK */
    CLS_PIN_GET_LOCK = 1u << 2,   /* GET_LOCK(), IS_USED_LOCK..., named locks */
    CLS_PIN_TEMP_TABLE = 1u << 3, /* CREATE TEMPORARY TABLE */
    CLS_PIN_USER_VAR = 1u << 4,   /* @var assignment (SET @x, SELECT ... INTO @x, := ) */
    CLS_PIN_PREPARE = 1u << 5,    /* text PREPARE / EXECUTE / DEALLOCATE */
    CLS_PIN_FOUND_ROWS = 1u << 6, /* SQL_CALC_FOUND_ROWS */
    CLS_PIN_HANDLER = 1u << 7,    /* HANDLER ... OPEN */
    CLS_PIN_XA = 1u << 8,         /* XA START etc. */
    CLS_PIN_SAVEPOINT = 1u << 9,  /* SAVEPOINT */
    CLS_PIN_UNSURE = 1u << 10,    /* anything the classifier cannot be sure about */
    CLS_PIN_SESSION_VAR = 1u << 11,/* SET of a session var whose value is not a readable literal */
    CLS_PIN_ROUTINE = 1u << 12,   /* CALL, or a function that is not a known built-in (stored
                                     function, UDF, schema-qualified db.f()): it can set
                                     variables, take locks, create temporary tables */
    CLS_PIN_SEQUENCE = 1u << 13,  /* NEXTVAL / LASTVAL / SETVAL (s), NEXT|PREVIOUS VALUE FOR s:
                                     LASTVAL is the session's, nobody tracks it */
    CLS_PIN_BACKUP_LOCK = 1u << 14,/* BACKUP LOCK t / BACKUP STAGE (BACKUP UNLOCK does not unpin) */
    CLS_PIN_PROFILING = 1u << 15, /* any SET of profiling / profiling_history_size: SHOW PROFILES
                                     would show this session's statements to the next one, and
                                     COM_RESET_CONNECTION keeps that history (MariaDB 10.11,
                                     verified): the connection is closed, not reset */
    CLS_PIN_NEXT_TRX = 1u << 16,  /* SET TRANSACTION ... without SESSION/GLOBAL: the next
                                     transaction's characteristics, not the server's status flag */
    CLS_PIN_ROLE = 1u << 17,      /* SET ROLE: COM_RESET_CONNECTION does not clear it on MariaDB
                                     10.11 (verified), so the connection is closed, not reset */
};

/* Statement kinds mymux itself cares about. */
enum cls_kind {
    CLS_OTHER = 0,
    CLS_SELECT,        /* plain SELECT (incl. WITH ... SELECT, parenthesised) */
    CLS_SET,           /* SET ... (assignments in cls_result.assign) */
    CLS_USE,           /* USE db (name in arg) */
    CLS_BEGIN,         /* BEGIN / START TRANSACTION [READ ONLY|READ WRITE|WITH CONSISTENT SNAPSHOT] */
    CLS_COMMIT,        /* COMMIT [WORK] [AND NO CHAIN] */
    CLS_ROLLBACK,      /* ROLLBACK (not ROLLBACK TO SAVEPOINT) */
    CLS_LOCK_TABLES,
    CLS_UNLOCK_TABLES,
    CLS_KILL,          /* KILL [CONNECTION|QUERY] n  (kill_query, kill_id) */
    CLS_LOAD_DATA_LOCAL,/* LOAD DATA [LOW_PRIORITY|CONCURRENT] LOCAL INFILE 'file' (file in arg) */
    CLS_LOAD_XML_LOCAL, /* LOAD XML LOCAL INFILE 'file' */
    CLS_SHOW_WARNINGS, /* SHOW WARNINGS / SHOW ERRORS / SHOW COUNT(*) WARNINGS|ERRORS */
    CLS_REPLICATION,   /* statements mymux refuses: none today, reserved */
};

/* Scope of a SET assignment. */
enum cls_scope { CLS_SCOPE_SESSION, CLS_SCOPE_GLOBAL, CLS_SCOPE_USER, CLS_SCOPE_NAMES,
                 CLS_SCOPE_CHARSET, CLS_SCOPE_TRANSACTION };

/* One assignment of a SET statement. Pointers point into the classified text.
 * name: lower-cased copy in name_buf (without @@session. etc.).
 * value: the literal's text as written (quoted string with its quotes, number,
 * identifier like ON/OFF/DEFAULT, or for NAMES "utf8mb4 [COLLATE x]"). */
struct cls_assign {
    enum cls_scope scope;
    char name[64];
    const char *value;
    size_t value_len;
    bool value_is_literal; /* value is a literal the proxy can replay verbatim */
};

#define CLS_MAX_ASSIGN 16

struct cls_result {
    enum cls_kind kind;
    uint32_t pins;           /* enum cls_pin bits this statement sets */
    uint32_t unpins;         /* enum cls_pin bits it clears: UNLOCK TABLES, RELEASE_ALL_LOCKS(),
                                XA COMMIT/ROLLBACK. Never DROP TEMPORARY TABLE, RELEASE_LOCK()
                                or DEALLOCATE PREPARE: others may remain. A bit the same text
                                both sets and clears is reported in pins only. */
    bool multi;              /* two or more statements (a trailing ';' makes none): pins,
                                unpins and the flags cover all of them, read_only is true only
                                if all are; kind, arg, kill_* and assign[] are the first's. A
                                later SET, USE, KILL or LOAD ... LOCAL adds CLS_PIN_UNSURE.
                                ';' inside a stored routine's BEGIN ... END does not split. */
    /* Readers of what the previous statement left on the connection, found
     * outside strings and comments (and outside routine bodies, which run
     * later): with transaction multiplexing they must be answered from what
     * mymux saw. Calls qualified by a schema (db.FOUND_ROWS()) are stored
     * functions, and @@global.x is not the session's: neither counts. */
    bool reads_prev;          /* any prev_* below, or SHOW PROFILE[S] (which no single
                                 previous statement answers: only the connection can) */
    bool prev_found_rows;     /* FOUND_ROWS() */
    bool prev_row_count;      /* ROW_COUNT() */
    bool prev_last_insert_id; /* LAST_INSERT_ID() without an argument */
    bool prev_identity;       /* @@[session.|local.]identity / last_insert_id */
    bool prev_diagnostics;    /* SHOW WARNINGS/ERRORS, SHOW COUNT(*) WARNINGS|ERRORS,
                                 GET [CURRENT|STACKED] DIAGNOSTICS,
                                 @@[session.|local.]warning_count / error_count */
    bool sets_last_insert_id; /* LAST_INSERT_ID(expr), SET [@@]last_insert_id|identity = x:
                                 the value later LAST_INSERT_ID() calls return changes */
    bool has_connection_id;  /* CONNECTION_ID() appears outside quotes/comments */
    bool uses_tables;        /* names a table, a derived table, a view or an I_S-backed SHOW
                                (a keyword reading: FROM, JOIN, UPDATE, INSERT, TABLE, ...).
                                MariaDB and MySQL empty the diagnostics area only before
                                such a statement; one without tables keeps the warnings of
                                the one before unless it raises conditions of its own */
    bool read_only;          /* SELECT/SHOW/... that does not write (routing hint) */
    /* CLS_USE: schema; CLS_LOAD_*_LOCAL: file name (unquoted, escapes undone) */
    char arg[512];
    size_t arg_len;
    /* CLS_KILL */
    bool kill_query;
    uint64_t kill_id;
    bool kill_query_id;      /* MariaDB KILL QUERY ID n: kill_id is a query id, not a thread id */
    bool kill_param;         /* KILL [QUERY] ?: the id is a prepared statement's parameter */
    bool kill_user;          /* MariaDB KILL [QUERY] USER name[@host]: the name is in arg */
    bool kill_current_user;  /* ... USER CURRENT_USER[()]: the requester's own name */
    char kill_host[64];      /* ...@host, empty for any host ('%' is any host too) */
    size_t kill_host_len;
    bool is_kill;            /* any KILL statement, also one that is not CLS_KILL because its
                                target was not understood (KILL expr, KILL USER with an escaped name): such a
                                statement must not be forwarded with a backend's id space */
    /* CLS_SET */
    struct cls_assign assign[CLS_MAX_ASSIGN];
    int n_assign;
};

/* How the server reads the text: the classifier must read it the same way. */
struct cls_lex {
    uint16_t charset;          /* collation id of character_set_client (0: utf8mb4) */
    bool ansi_quotes;          /* sql_mode has ANSI_QUOTES: "x" is an identifier */
    bool no_backslash_escapes; /* sql_mode has NO_BACKSLASH_ESCAPES */
    uint32_t version;          /* backend version as major*10000+minor*100+patch (101119 =
                                  10.11.19, 80030 = 8.0.30); 0 = unknown */
    bool mariadb;              /* the backend is MariaDB (its executable-comment rules apply) */
};

/* Classifies sql[0..len) read as the server reads it under lx (NULL: utf8mb4,
 * default sql_mode, MariaDB of unknown version). Never fails: anything not
 * understood sets CLS_PIN_UNSURE. That includes a character set mymux does not
 * know when the text has a byte >= 0x80, and an executable comment whose fate
 * the version does not decide (version 0; on a non-MariaDB backend a comment
 * MySQL would skip and TiDB might run; /T![feature] on TiDB) if the text
 * classifies differently with it run and skipped. */
void classify_lex(const char *sql, size_t len, const struct cls_lex *lx, struct cls_result *out);

/* The classifier's tokens, for callers that must read text exactly as it
 * does (query digests). Comments the server skips are no tokens; an
 * executable comment the server runs gives its content's tokens. */
enum cls_token_kind {
    CLS_T_WORD,   /* unquoted identifier or keyword (also 1abc) */
    CLS_T_QNAME,  /* `name`, or "name" under ANSI_QUOTES */
    CLS_T_STRING, /* 'x', "x", X'..', B'..', N'..' (quotes included; unterminated: to the end) */
    CLS_T_NUMBER, /* 12, 1.5e3, .5, 0x1F, 0b101 (no sign) */
    CLS_T_VAR,    /* @name, @'name', @@[scope.]name */
    CLS_T_PUNCT,  /* one character, or ":=" */
    CLS_T_SEMI,   /* ; */
};

struct cls_token {
    enum cls_token_kind kind;
    const char *p; /* in the text */
    size_t len;
    bool gap;      /* whitespace or a comment separates it from the token before */
};

/* Calls cb for each token of sql[0..len) read under lx (NULL: utf8mb4, default
 * sql_mode, MariaDB of unknown version) until the end or until cb returns
 * false. Returns true if the reading is the server's for certain; false if it
 * may not be: a byte >= 0x80 in a character set mymux does not know, or an
 * executable comment whose fate the version does not decide (read as run). */
bool classify_tokens(const char *sql, size_t len, const struct cls_lex *lx,
                     bool (*cb)(const struct cls_token *t, void *arg), void *arg);

/* classify_lex() with utf8mb4 and a MariaDB of unknown version (the old
 * interface, for callers that do not know the session's character set). */
void classify(const char *sql, size_t len, bool ansi_quotes, bool no_backslash_escapes,
              struct cls_result *out);

/* sql_mode value -> the two flags the lexer depends on. v is the server's form
 * ("STRICT_TRANS_TABLES,ANSI_QUOTES"), a SET literal ('ORACLE', "ansi,db2",
 * `ansi`, a bare word) or a number (the server's bits). Combination modes expand
 * as the server expands them (ANSI, POSTGRESQL, DB2, MAXDB set ANSI_QUOTES).
 * Returns 0, or -1 if not understood: an unknown name, an escape in the literal,
 * and ORACLE or MSSQL, whose grammar the classifier does not read (the caller
 * pins). The flags are written only on 0. */
int cls_sql_mode_flags(const char *v, size_t n, bool *ansi_quotes, bool *no_backslash_escapes)
    __attribute__((warn_unused_result));

/* A value to put in place of calls to func() in classify_rewrite_calls(). */
struct cls_rewrite {
    const char *func; /* "FOUND_ROWS", "ROW_COUNT", "LAST_INSERT_ID", "CONNECTION_ID" */
    int64_t value;
};

/* Replaces in place, in sql[0..len) read under the session's sql_mode, every
 * call FUNC() of a function named in rw[0..n_rw) (any case, whitespace allowed
 * before and inside the empty parentheses) by its decimal value padded with
 * spaces to the call's length. With "LAST_INSERT_ID" in rw, @@identity and
 * @@last_insert_id (also @@session. / @@local.) are replaced by the same value,
 * except as the target of a SET. Left alone: strings, comments, calls with an
 * argument (LAST_INSERT_ID(5)), schema-qualified calls, stored routine bodies.
 * The whole text is rewritten, every statement of it: whether an earlier
 * statement of the same text changes a value (INSERT ...; SELECT
 * LAST_INSERT_ID()) is for the caller to judge from classify().
 * Returns the number of places replaced, or -1 if some place the classifier
 * reports as a read could not be: its value's text is longer than the call,
 * would run into the next token, or a comment lies inside the call
 * (FOUND_ROWS(/ * * /), a call split by an executable comment's end). Such
 * places are left as written, the others are still replaced: on -1 the caller
 * must not forward the text as if answered. An unknown func name also
 * returns -1 (and nothing is replaced). */
int classify_rewrite_calls_lex(char *sql, size_t len, const struct cls_lex *lx,
                               const struct cls_rewrite *rw, int n_rw)
    __attribute__((warn_unused_result));

/* classify_rewrite_calls_lex() with utf8mb4 and a MariaDB of unknown version. */
int classify_rewrite_calls(char *sql, size_t len, bool ansi_quotes, bool no_backslash_escapes,
                           const struct cls_rewrite *rw, int n_rw)
    __attribute__((warn_unused_result));

/* Rewrites every CONNECTION_ID() outside quotes/comments in sql (in place) to the
 * decimal id padded with spaces to the same length. Returns the number replaced. */
int classify_rewrite_connection_id(char *sql, size_t len, uint64_t id);

/* The same under the session's sql_mode: with NO_BACKSLASH_ESCAPES a string
 * can end where the default mode sees an escaped quote, so the default-mode
 * call above could otherwise rewrite text inside a string. CONNECTION_ID()
 * inside a stored routine body (CREATE PROCEDURE ...) is left alone: it runs
 * later, on whatever connection calls it. An id longer than the call's text
 * (more than 15 digits for "CONNECTION_ID()") is not written. */
int classify_rewrite_connection_id_lex(char *sql, size_t len, const struct cls_lex *lx,
                                       uint64_t id);

/* Writes into out[0..cap) the text sql[0..len) (read under lx, NULL: utf8mb4,
 * default sql_mode) with every read classify_rewrite_calls_lex() would replace
 * answered with the value of rw, keeping what the server would have told the
 * client about it: each read FUNC() becomes COALESCE(value, FUNC()), which has
 * the function's type and never evaluates it (@@identity: IF(1, value,
 * @@identity), which keeps its nullable metadata), and every select-list item that
 * holds one (of any SELECT at any depth, or a RETURNING list) and has no alias
 * gets its text as written as alias, AS `item` with backticks doubled, which
 * is the name MariaDB gives it. Items an alias could not name (a NUL byte, a
 * byte >= 0xf0; any byte >= 0x80 in a character set whose trail bytes may be
 * ASCII, or one mymux does not know) keep the rewritten text as their name. Returns the length
 * written, or -1 if the text holds an executable comment (the server names
 * items without its markers), nests more than 32 parentheses, has more than
 * 64 places to edit, or does not fit in cap: the caller then falls back to
 * classify_rewrite_calls_lex(). *incomplete as a -1 of that function: some
 * read could not be replaced and runs as written. */
long classify_rewrite_named(const char *sql, size_t len, const struct cls_lex *lx,
                            const struct cls_rewrite *rw, int n_rw, char *out, size_t cap,
                            bool *incomplete) __attribute__((warn_unused_result));

/* classify_rewrite_connection_id_lex() with utf8mb4 and a MariaDB of unknown version. */
int classify_rewrite_connection_id_mode(char *sql, size_t len, bool ansi_quotes,
                                        bool no_backslash_escapes, uint64_t id);

#endif
