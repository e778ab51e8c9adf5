/* Balancing: which backend server serves a borrower's next borrow. */
#ifndef MX_BALANCE_H
#define MX_BALANCE_H

#include <stdbool.h>
#include <stdint.h>

struct mx_proxy;
struct mx_pool;
struct balance_state;

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

/* What the balancer reads of a borrower (a session, or a test). */
struct balance_req {
    int last;          /* server of its previous borrow (affinity, stickiness), -1 none */
    uint64_t avoid;    /* no candidates (bit i: server i): servers a login failed on */
    bool to_last;      /* the command is aimed at `last` (KILL QUERY): there if it is up */
    const char *user;  /* the name the client logged in with ("user" hashing, stick on user) */
    const char *peer;  /* client address "ip:port" ("source" hashing, stick on src) */
};

/* Per-worker state, touched only by its worker's thread: built from px's
 * current configuration (and rebuilt by balance_pick when a reload swaps it).
 * worker_id seeds its random choices and spreads ties. NULL when out of memory. */
struct balance_state *balance_new(struct mx_proxy *px, int worker_id)
    __attribute__((warn_unused_result));
void balance_free(struct balance_state *st);

/* Called at each borrow of a borrower that holds no connection; pools are the
 * worker's (its waiting, opening and idle counts weigh in). Returns the server
 * to borrow from, or -1 when none is usable. The caller stores the result as its
 * `last`; the affinity count of the servers (mx_server.affine) follows. */
int balance_pick(struct balance_state *st, const struct mx_pool *pools,
                 const struct balance_req *r);

/* A borrower whose last server was `server` forgets it (it closes, or its
 * server went away): that server's affinity count drops. Call instead of any
 * other forgetting of `last`; a server < 0 is ignored. */
void balance_forget(struct mx_proxy *px, int server);

#endif
