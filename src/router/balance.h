/* Balancing: which backend server serves a session's next borrow. */
#ifndef MX_BALANCE_H
#define MX_BALANCE_H

struct mx_worker;
struct mx_session;

/* Algorithms, by their `balance:` names. */
enum balance_algo {
    BAL_ROUNDROBIN,   /* "roundrobin": smooth weighted, weights read at each pick */
    BAL_STATIC_RR,    /* "static-rr": smooth weighted over the configured weights only */
    BAL_LEASTCONN,    /* "leastconn": fewest (busy + in flight + 1) / weight */
    BAL_FIRST,        /* "first": first server in config order with room */
    BAL_RANDOM,       /* "random": weighted random */
    BAL_RANDOM2,      /* "random(2)": the less loaded of two weighted random draws */
    BAL_SOURCE,       /* "source": consistent hash of the client IP */
    BAL_USER,         /* "user": consistent hash of the user name */
    BAL_LEASTLATENCY, /* "leastlatency": lowest ewma_us * (load + 1) / weight, unsampled first */
};

/* The algorithm named `name` (NULL = roundrobin); -1 when unknown. */
int balance_algo_parse(const char *name);

/* Per-worker state (w->balance_state): call once the worker has w->px set and
 * before its loop runs; returns 0 or UV_ENOMEM. balance_worker_free undoes it
 * (idempotent). balance_pick builds the state itself if this was not called. */
int balance_worker_init(struct mx_worker *w) __attribute__((warn_unused_result));
void balance_worker_free(struct mx_worker *w);

/* Called at each borrow of a session that holds no connection. Returns the
 * server to borrow from, or -1 when none is usable. The caller stores the result
 * in s->server; the affinity count of the servers (mx_server.affine) follows. */
int balance_pick(struct mx_worker *w, struct mx_session *s);

/* The session forgets its server: its affinity no longer counts
 * (mx_server.affine) and s->server becomes -1. Call when the session closes,
 * and instead of any other `s->server = -1` (e.g. a reroute). Idempotent. */
void balance_session_end(struct mx_session *s);

#endif
