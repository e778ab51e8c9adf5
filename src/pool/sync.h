/* Session-state sync: the replayable state a session has set (session
 * variables, transaction characteristics) and the statements that bring a
 * backend connection from its state to the session's. */
#ifndef MX_SYNC_H
#define MX_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/packet.h"

/* One replayable setting. Plain session variables have a name and the literal
 * as the client wrote it and are reverted with `name = DEFAULT`. Entries whose
 * name starts with '!' are whole SET clauses (e.g. "SESSION TRANSACTION
 * ISOLATION LEVEL READ COMMITTED") that have no DEFAULT form: a connection that
 * carries one the next session does not want is reset first. */
struct mx_var {
    char *name;
    char *value;
    uint64_t h;
};

struct mx_vars {
    struct mx_var *v;
    uint16_t n, cap;
    uint64_t hash; /* order-independent digest of all entries */
};

void vars_init(struct mx_vars *vs);
void vars_free(struct mx_vars *vs);
/* Sets name (lower-cased by the caller) to value; returns 0 or -1 (no memory). */
int vars_set(struct mx_vars *vs, const char *name, size_t nl, const char *value, size_t vl);
void vars_del(struct mx_vars *vs, const char *name);
/* The value set for name, or NULL. */
const char *vars_get(const struct mx_vars *vs, const char *name);
int vars_copy(struct mx_vars *dst, const struct mx_vars *src);
static inline bool vars_same(const struct mx_vars *a, const struct mx_vars *b)
{
    return a->n == b->n && a->hash == b->hash;
}

/* What it takes to bring a connection with `have` to `want`. */
enum sync_need { SYNC_NONE, SYNC_SET, SYNC_RESET_FIRST };
enum sync_need vars_plan(const struct mx_vars *have, const struct mx_vars *want);

/* Appends COM_QUERY packets (sequence 0) that turn `have` into `want` (or, with
 * from_scratch, that apply all of `want` to a freshly reset connection). A
 * character set variable no longer wanted returns to charset's (the session's
 * collation), not to the server's default.
 * Returns the number of packets written, or -1 when w overflowed. */
int vars_write_sync(const struct mx_vars *have, const struct mx_vars *want, bool from_scratch,
                    uint8_t charset, struct pkt_wr *w);

#endif
