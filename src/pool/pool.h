/* Pools: per worker and backend server, idle connections keyed by user and
 * wire-format capabilities, a bounded FIFO of waiters for one, and the global
 * per-server cap shared by all workers. The pool knows nothing of sessions: a
 * borrower describes what it needs (struct mx_pool_req) and is told the outcome
 * through its waiter's callbacks (struct mx_pool_waiter). */
#ifndef MX_POOL_H
#define MX_POOL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/proxy.h"

/* Pointers only: the worker embeds a pool home without seeing connections. */
struct mx_backend;
struct mx_cred;
struct mx_vars;
struct be_error;
struct mx_worker;
struct mx_proxy;
struct mx_pcache;
struct mx_pool;
struct mx_pool_waiter;

/* What a borrower needs of a connection. The pointers are the borrower's and
 * stay valid while it waits (it cancels before they go). */
struct mx_pool_req {
    const struct mx_cred *cred;  /* user (key) and secret (for a new connection) */
    uint32_t key_caps;           /* the client's capabilities within MX_KEY_CAPS */
    const char *schema;          /* the schema its next command runs in ("" none) */
    uint8_t charset;             /* collation id it wants */
    const struct mx_vars *vars;  /* replayable settings it wants */
    const char *peer;            /* client address "ip:port" or "[ip]:port" */
};

/* The outcome of a borrow. Exactly one is called per pool_acquire (never
 * after pool_cancel_wait), possibly before pool_acquire returns. */
struct mx_pool_waiter_ops {
    /* be is the waiter's: attach it (be_attach) and go on */
    void (*ready)(struct mx_pool_waiter *w, struct mx_backend *be);
    /* no connection: e says why (queue full, wait timeout, login failed) */
    void (*failed)(struct mx_pool_waiter *w, const struct be_error *e);
    /* the server went away before a connection came: choose another */
    void (*reroute)(struct mx_pool_waiter *w);
    /* the first connection's login failed with e: true when the waiter took
     * another route itself; false to be told through failed */
    bool (*login_retry)(struct mx_pool_waiter *w, const struct be_error *e);
};

/* A borrower's place in a pool, embedded in its owner (the session). While
 * pool is set the waiter is either in the pool's FIFO or owns a connection
 * being opened for it (opening); pool_cancel_wait undoes both. */
struct mx_pool_waiter {
    const struct mx_pool_waiter_ops *ops;
    struct mx_pool_req req;       /* filled before each pool_acquire */
    struct mx_pool *pool;         /* the pool it waits on, NULL when not waiting */
    struct mx_pool_waiter *next;  /* FIFO link */
    struct mx_backend *opening;   /* a connection opened for it, logging in */
    uint64_t since_us;            /* when it joined the FIFO */
    struct mx_session *owner;     /* what a connection lent to it is attached to (opaque) */
};

/* What the pools of one worker share; filled by the worker before pool_init. */
struct mx_pool_home {
    struct mx_proxy *px;
    struct mx_worker *worker;     /* opaque here: for server_conn.c */
    int worker_id;                /* its share of each server's cap */
    const atomic_int *stopping;   /* the worker is closing: nothing goes back idle */
    struct mx_pcache *pcache;     /* the worker's statement texts */
    struct mx_pool *pools;        /* [MX_MAX_SERVERS]: this worker's pools, by server */
    const struct be_owner_ops *owner; /* how a connection tells its session (session.c) */
};

struct mx_pool {
    const struct mx_pool_home *home;
    struct mx_worker *worker;     /* home->worker, for server_conn.c */
    int server;                   /* index into cfg->backends */
    struct mx_backend *idle;      /* LIFO list of idle connections */
    /* What other threads read of a pool (the admin side; routers of other
     * workers): each field has one writer, this pool's worker, which adds with
     * a relaxed load and store (HOT_ADD, no read-modify-write); readers use
     * STAT_GET, or POOL_TOTAL for a server's sum over the workers. */
    mx_counter n_idle, n_busy, n_opening;
    mx_counter n_open;            /* connections of this pool, any state (its share of the cap) */
    uint64_t rate_since_ms;       /* pool.connect_rate window */
    int rate_used;
    struct mx_backend *all;       /* every connection of this pool (anext) */
    struct mx_pool_waiter *wait_head, *wait_tail; /* FIFO of waiters */
    mx_counter n_wait;
    uint64_t trim_seen;           /* worker pcache.released when idle maps were last trimmed */
    /* counters (the server's totals are their sums over the workers) */
    mx_counter borrows, waits, wait_us, connects, connect_errors, opened, closed, resets;
};

/* Field f of server srv's pools summed over the workers (any thread). */
#define POOL_TOTAL(px, srv, f) stats_pool_total(px, srv, offsetof(struct mx_pool, f))

void pool_init(struct mx_pool *p, const struct mx_pool_home *home, int server);
/* Closes every connection (shutdown). */
void pool_shutdown(struct mx_pool *p);

/* Gets a connection for waiter w (w->req filled, w->ops set) on this pool's
 * server: an idle one with the same user and key caps, a new one, or a place in
 * the queue. One of w's callbacks is called later, or at once (before
 * pool_acquire returns) for an idle connection or a refusal. */
void pool_acquire(struct mx_pool *p, struct mx_pool_waiter *w);
/* The waiter no longer waits (its owner closes): it leaves the FIFO, and a
 * connection being opened for it joins the pool when its login completes. No
 * callback follows. Idempotent. */
void pool_cancel_wait(struct mx_pool_waiter *w);
/* Whether a borrower with request r may use this connection (its user,
 * capabilities, schema and PROXY-header client), as a borrow from the idle list
 * would check. */
bool pool_fits(const struct mx_backend *be, const struct mx_pool_req *r);
/* The holder gives its connection back: reset if dirty, then idle. */
void pool_release(struct mx_backend *be);
/* Called from the close callback of a connection be_end ended. */
void pool_on_closed(struct mx_backend *be);
/* A login finished for a connection opened for a waiter. */
void pool_on_login(struct mx_backend *be, int err, const struct be_error *e);
/* Periodic: retries waiters (slots freed by other workers), expires waits, closes
 * connections idle too long or past their lifetime. */
void pool_tick(struct mx_pool *p, uint64_t now_ms);

#endif
