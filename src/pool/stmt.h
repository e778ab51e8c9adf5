/* Prepared-statement mapping: clients see statement ids owned by mymux; each
 * backend connection that runs a statement prepares it lazily and its own id
 * is mapped. One statement text (per user and schema) is prepared once per
 * backend connection however many clients prepare it. */
#ifndef MX_STMT_H
#define MX_STMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A statement text known to a worker, shared by its sessions. */
struct mx_pstmt {
    uint64_t key;            /* digest of user, schema and text */
    char *user, *schema, *sql;
    uint32_t sql_len;
    uint16_t num_params, num_cols;
    uint32_t refs;           /* sessions' statements + backend maps + the cache */
    uint32_t clients;        /* client statements (mx_sstmt) naming it; 0: a backend
                                keeps it only as a cache entry (bstmts_trim) */
    struct mx_pstmt *hnext;  /* worker cache chain */
};

/* The worker's cache of statement texts (an empty text: not shareable). */
struct mx_pcache {
    struct mx_pstmt **tab;
    size_t cap, n;
    uint64_t released;       /* counts statements whose last client let go: backend
                                maps compare it to know when to trim */
};

/* A client's prepared statement. */
struct mx_sstmt {
    uint32_t id;             /* client-visible; 0 = free slot */
    struct mx_pstmt *ps;
    uint8_t *types;          /* 2 * types_n bytes from the last EXECUTE that sent them */
    uint16_t types_n;        /* parameters types holds (a backend may change num_params) */
    uint64_t types_hash;     /* 0 = never sent */
    bool cursor_open;        /* an EXECUTE opened a cursor that FETCH reads */
    bool long_data;          /* SEND_LONG_DATA waits for the next EXECUTE */
    uint32_t pins;           /* what each EXECUTE pins (classified at PREPARE) */
    bool clears_diag;        /* each EXECUTE empties the diagnostics area (it uses tables) */
    uint64_t infile_hash;    /* a LOAD DATA LOCAL: the hash of the file name its text gives,
                                which each EXECUTE lets the server ask for; 0 = none */
    /* KILL [QUERY] n or ?: mymux runs each EXECUTE itself, in its own id space
     * (the server only prepared the text, for its metadata) */
    uint8_t kill;            /* 0, STMT_KILL_LITERAL (kill_id) or STMT_KILL_PARAM */
    bool kill_query;
    uint64_t kill_id;
};

enum { STMT_KILL_LITERAL = 1, STMT_KILL_PARAM = 2 };

struct mx_stmts {
    struct mx_sstmt *v;
    uint32_t n, cap;
    uint32_t next_id;
};

/* A statement prepared on one backend connection. */
struct mx_bstmt {
    struct mx_pstmt *ps;
    uint32_t backend_id;
    uint64_t types_hash;     /* parameter types the server holds for it (0 none) */
    uint64_t used;           /* LRU tick */
};

struct mx_bstmts {
    struct mx_bstmt *v;
    uint32_t n, cap;
    uint64_t tick;
};

uint64_t pstmt_key(const char *user, const char *schema, const char *sql, size_t len);
void pcache_init(struct mx_pcache *c, size_t cap);
void pcache_destroy(struct mx_pcache *c);
/* Finds a text; NULL if unknown. */
struct mx_pstmt *pcache_find(struct mx_pcache *c, uint64_t key, const char *user,
                             const char *schema, const char *sql, size_t len);
/* Creates (and caches) a statement text; returns it with one reference for the caller. */
struct mx_pstmt *pcache_add(struct mx_pcache *c, uint64_t key, const char *user,
                            const char *schema, const char *sql, size_t len);
/* A copy that is not shared (the same text prepared twice by one session:
 * each needs its own server statement for cursors and long data). */
struct mx_pstmt *pstmt_private(const struct mx_pstmt *src);
void pstmt_ref(struct mx_pstmt *ps);
void pstmt_unref(struct mx_pcache *c, struct mx_pstmt *ps);

/* Session table. */
void stmts_init(struct mx_stmts *t);
void stmts_free(struct mx_stmts *t, struct mx_pcache *c);
struct mx_sstmt *stmts_add(struct mx_stmts *t, struct mx_pstmt *ps);
struct mx_sstmt *stmts_get(struct mx_stmts *t, uint32_t id);
bool stmts_uses(const struct mx_stmts *t, const struct mx_pstmt *ps);
void stmts_del(struct mx_stmts *t, struct mx_pcache *c, uint32_t id);

/* Backend map. */
void bstmts_free(struct mx_bstmts *m, struct mx_pcache *c);
struct mx_bstmt *bstmts_get(struct mx_bstmts *m, const struct mx_pstmt *ps);
/* Adds a mapping; when the map is full, *evicted gets the backend id of the
 * least recently used statement (to be closed on the server), else 0. */
struct mx_bstmt *bstmts_add(struct mx_bstmts *m, struct mx_pcache *c, struct mx_pstmt *ps,
                            uint32_t backend_id, uint32_t limit, uint32_t *evicted);
void bstmts_del(struct mx_bstmts *m, struct mx_pcache *c, struct mx_pstmt *ps);
/* Forgets the statements no client holds beyond the `keep` most recently used
 * of them, at most max_ids at a time (the rest stays for the next call), and
 * stores their server ids in ids for COM_STMT_CLOSE. Returns how many. */
uint32_t bstmts_trim(struct mx_bstmts *m, struct mx_pcache *c, uint32_t keep, uint32_t *ids,
                     uint32_t max_ids);
/* Statements of the map no client holds. */
uint32_t bstmts_unheld(const struct mx_bstmts *m);
/* Forgets everything (after a reset of the connection). */
void bstmts_clear(struct mx_bstmts *m, struct mx_pcache *c);

uint64_t stmt_types_hash(const uint8_t *types, size_t n);

#endif
