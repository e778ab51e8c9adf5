/* Pools: per worker and backend server, idle connections keyed by user and
 * wire-format capabilities, a bounded FIFO of sessions waiting for one, and the
 * global per-server cap shared by all workers. */
#ifndef MX_POOL_H
#define MX_POOL_H

#include <stdint.h>


#include "pool/server_conn.h"

struct mx_worker;

struct mx_pool {
    struct mx_worker *worker;
    int server;                   /* index into cfg->backends */
    struct mx_backend *idle;      /* LIFO list of idle connections */
    size_t n_idle, n_busy, n_opening;
    size_t n_open;                /* connections of this pool, any state (its share of the cap) */
    uint64_t rate_since_ms;       /* pool.connect_rate window */
    int rate_used;
    struct mx_backend *all;       /* every connection of this pool (anext) */
    struct mx_session *wait_head, *wait_tail; /* FIFO of waiting sessions */
    size_t n_wait;
    uint64_t trim_seen;           /* worker pcache.released when idle maps were last trimmed */
    /* counters */
    uint64_t borrows, waits, wait_ms_total, opened, closed, resets, connect_errors;
};

void pool_init(struct mx_pool *p, struct mx_worker *w, int server);
/* Closes every connection (shutdown). */
void pool_shutdown(struct mx_pool *p);

/* Gets a connection for session s on this pool's server: an idle one with the
 * same user and key caps, a new one, or a place in the queue. The session's
 * session_backend_ready() / session_backend_failed() is called later, or at once
 * (before pool_acquire returns) for an idle connection. */
void pool_acquire(struct mx_pool *p, struct mx_session *s);
/* The session no longer waits (it closed). */
void pool_cancel_wait(struct mx_pool *p, struct mx_session *s);
/* Whether the session may use this connection (its user, capabilities, schema
 * and PROXY-header client), as a borrow from the idle list would check. */
bool pool_fits(const struct mx_backend *be, const struct mx_session *s);
/* The session gives its connection back: reset if dirty, then idle. */
void pool_release(struct mx_backend *be);
/* Called by be_close when a connection is gone. */
void pool_on_closed(struct mx_backend *be);
/* A login finished for a connection opened for a waiting session. */
void pool_on_login(struct mx_backend *be, int err, const struct be_error *e);
/* Periodic: retries waiters (slots freed by other workers), expires waits, closes
 * connections idle too long or past their lifetime. */
void pool_tick(struct mx_pool *p, uint64_t now_ms);


#endif
