/* Query digests inside the admin side: normalisation, the latency buckets and
 * the merged copy of every worker's table that the API, page and metrics read. */
#ifndef MX_ADMIN_DIGEST_H
#define MX_ADMIN_DIGEST_H

#include <stddef.h>
#include <stdint.h>

struct mx_proxy;

#define DG_TEXT_MAX 1024 /* normalised text kept per digest (longer ones are cut) */
#define DG_NAME_MAX 64   /* user and schema names kept per digest */
#define DG_MAX_WORKERS 1024
#define DG_N_BUCKETS 17 /* finite buckets of the latency histogram */

/* Upper bounds of the latency histogram buckets, in microseconds (ascending).
 * px->stats.query_hist[i] counts queries in (bucket i-1, bucket i]; index
 * DG_N_BUCKETS counts those above the last one; index DG_HIST_SUM is the sum in us. */
#define DG_HIST_SUM (DG_N_BUCKETS + 1)
extern const uint64_t dg_buckets_us[DG_N_BUCKETS];

struct cls_lex;

/* Writes the digest text of sql[0, len), read as the server reads it under lx
 * (the session's character set and sql_mode; NULL: utf8mb4, default mode), into
 * out (NUL-terminated, at most cap bytes with the NUL): comments dropped,
 * whitespace folded to one space, literals (strings, numbers, hex and bit
 * values, introducers) replaced by ?, lists of literals after IN / VALUES
 * collapsed to (...) and repeated VALUES rows to one. Text the classifier
 * cannot read for certain (a byte >= 0x80 in a character set mymux does not
 * know, an executable comment of doubtful fate) keeps only its leading
 * keyword: "SELECT ?". Returns the length written. Pure; no allocation. */
size_t digest_normalize(const char *sql, size_t len, const struct cls_lex *lx, char *out,
                        size_t cap);

/* One digest, merged across workers. */
struct dg_row {
    uint64_t hash;
    char text[DG_TEXT_MAX];
    char user[DG_NAME_MAX];
    char schema[DG_NAME_MAX];
    uint64_t count, sum_us, min_us, max_us, rows, errors;
    uint64_t first_ms, last_ms; /* wall clock, ms since the epoch */
};

/* Copies every worker's digests (any thread; no lock taken on the workers,
 * each slot is read under its sequence counter), merges equal (text, user,
 * schema) across workers and sorts by total time, highest first. Returns the
 * number of rows and sets *out (malloc'd, caller frees; NULL when 0), or -1
 * when out of memory. */
long digest_collect(struct mx_proxy *px, struct dg_row **out);

#endif
