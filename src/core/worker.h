/* Workers: one event loop per thread with its own listener (SO_REUSEPORT), its
 * own sessions and its own backend pools. What the threads share is in
 * core/proxy.h, the connection-id registry in core/registry.h, the copies of
 * sessions for the admin side in core/snapshot.h. */
#ifndef MX_WORKER_H
#define MX_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "core/buf.h"
#include "protocol/classify.h"
#include "pool/pool.h"
#include "pool/stmt.h"

struct mx_config;
struct mx_server;
struct mx_proxy;
struct mx_session;
struct mx_session_info;
struct balance_state;

/* A KILL for another worker: close session `victim`, then tell worker
 * `reply_to` (-1: nobody) so that its session `requester` can answer. */
struct mx_kill_msg {
    uint32_t victim;
    int reply_to;
    uint32_t requester;
};

struct mx_worker {
    int id;
    struct mx_proxy *px;
    uv_loop_t loop;
    uv_thread_t thread;
    uv_tcp_t listener;
    uv_async_t wake;           /* messages from other threads */
    uv_timer_t tick;           /* periodic housekeeping (pool waiters, idle timeouts) */
    struct mx_bufpool bufs;
    struct mx_hot *hot;        /* the query path's counters, this worker's share (proxy.h) */
    struct mx_pool *pools;     /* [MX_MAX_SERVERS]: a reload may add servers */
    struct mx_pool_home pool_home; /* what its pools share (pool/pool.h) */
    struct mx_session *sessions; /* all sessions of this worker (doubly linked) */
    size_t n_sessions;
    pthread_mutex_t msg_lock;  /* guards kills, kills_done and the snapshot request */
    struct mx_kill_msg kills[64]; /* sessions to close, posted by other threads */
    int n_kill;
    uint32_t kills_done[64];   /* sessions here whose KILL another worker carried out */
    int n_done;
    atomic_int stopping;       /* 1: close everything now; 2: closing */
    atomic_int draining;       /* graceful shutdown asked (listener closed) */
    uint64_t drain_since_ms;
    bool shutting_down;        /* the grace period is over: idle sessions are refused */
    atomic_int done;           /* the loop has ended */
    _Atomic uint64_t tick_ms;  /* the last 100 ms tick: the loop is alive (systemd watchdog) */
    uv_idle_t spin;            /* busy_poll: active while the loop must not sleep */
    uint64_t spin_until_us;
    bool spinning;
    struct cls_result cls;     /* scratch for the classifier (used synchronously) */
    struct mx_pcache pcache;   /* statement texts prepared through this worker */
    /* storm protection (guard.c) */
    struct mx_session *guard_head, *guard_tail; /* sessions waiting for their greeting */
    int guard_tokens;
    uint64_t guard_last_ms;
    int handshaking;           /* sessions between greeting and login */
    uv_timer_t guard_timer;
    struct balance_state *balance; /* router/balance.c: per-worker balancing state */
    /* a snapshot requested by another thread (guarded by msg_lock) */
    pthread_cond_t snap_cond;
    struct mx_session_info *snap_out;
    int snap_max, snap_n;
    bool snap_want, snap_done;
};

/* listen_fd >= 0: a listening socket inherited from an upgraded process. */
int worker_start(struct mx_worker *w, struct mx_proxy *px, int id, int listen_fd);
/* Before the first worker of a fresh start (nothing inherited): 0 when nobody
 * listens on cfg's address, UV_EADDRINUSE when a process does (SO_REUSEPORT
 * would let this one share its port and split its clients), another negative
 * errno otherwise. Checked, not held: two instances started at the same
 * instant can both pass. */
int worker_listen_probe(const struct mx_config *cfg);
/* Descriptors kept for backend connections and health checks: every backend's
 * connection cap (max_connections, else pool.max_per_backend), one check per
 * backend, and a margin for the admin side, the resolver and logs. */
int worker_fd_reserve(const struct mx_config *cfg, const struct mx_server *servers);
/* Whether `clients` open client sockets leave the reserve untouched. */
bool worker_fd_room(const struct mx_proxy *px, int clients);
void worker_stop(struct mx_worker *w);
/* Graceful shutdown: stop accepting; sessions finish their transactions; after
 * cfg->shutdown_grace_ms commands outside a transaction get "shutting down";
 * after twice that the rest is closed; the loop ends when no session is left. */
void worker_drain(struct mx_worker *w);
void worker_join(struct mx_worker *w);
/* Asks worker w to close session `id` (any thread). */
/* Asks w to close session `victim` and, if reply_to >= 0, to tell worker reply_to
 * once it did so that session `requester` there can answer its client. Returns
 * false (nothing posted) when w's queue is full. Any thread. */
/* busy_poll: a command went to a backend; the loop polls without sleeping
 * until its answer is likely in (bounded by busy_poll). */
void worker_busy_poll(struct mx_worker *w);
bool worker_post_kill(struct mx_worker *w, uint32_t victim, int reply_to, uint32_t requester);
/* Closes session `victim` of w now: w's own thread only. */
void worker_kill_now(struct mx_worker *w, uint32_t victim);

#endif
