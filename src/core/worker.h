/* Workers: one event loop per thread with its own listener (SO_REUSEPORT), its
 * own sessions and its own backend pools; and the process-wide state they share. */
#ifndef MX_WORKER_H
#define MX_WORKER_H

#include <pthread.h>
#include <sys/socket.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdint.h>
#include <uv.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/proxy.h"
#include "protocol/classify.h"
#include "pool/pool.h"
#include "pool/stmt.h"

struct mx_session;
struct mx_pool;
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

/* What the admin side may see of one session (copied by its worker). */
struct mx_session_info {
    uint32_t id;
    char user[64];
    char peer[64];
    char schema[64];
    int server;        /* backend server of its connection, -1 none */
    uint32_t pins;     /* enum cls_pin | SESS_PIN_* bits */
    bool in_trans;
    bool has_backend;
    int state;         /* enum sess_state */
    uint8_t cmd;       /* command in flight (when state is not idle) */
    uint64_t cmd_ms;   /* how long it has run */
    uint64_t age_ms;   /* since the session connected */
};
/* Asks worker w for a copy of its sessions (any thread but w's). Fills at most
 * max entries and returns how many, or -1 when the worker did not answer in
 * time. */
int worker_snapshot_sessions(struct mx_worker *w, struct mx_session_info *out, int max);

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
int worker_fd_reserve(const struct mx_config *cfg);
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
bool worker_post_kill(struct mx_worker *w, uint32_t victim, int reply_to, uint32_t requester);
/* Closes session `victim` of w now: w's own thread only. */
void worker_kill_now(struct mx_worker *w, uint32_t victim);

/* Registry of client connection ids (for KILL and CONNECTION_ID()). */
struct mx_reg_entry {
    uint32_t id;               /* 0 = empty */
    int worker;
    char user[96];             /* login name (MariaDB allows 80 characters) */
    char backend_user[96];     /* the user its backend connections log in as */
    atomic_int server;         /* backend server of the attached connection, -1 none */
    atomic_uint backend_tid;   /* its thread id on that server */
    atomic_int busy;           /* a command is running */
    atomic_ullong kill_until_ms; /* a KILL QUERY for backend_tid is on its way until then
                                    (mx_now_ms): the session keeps that connection */
};

int registry_init(struct mx_proxy *px, size_t cap);
/* A new client connection id: cfg->instance_id in the high 8 bits (so that
 * instances behind one load balancer hand out disjoint ids, as TiDB's global
 * connection ids carry their server id), a counter in the low 24 that skips 0
 * and, once it has wrapped, the ids still registered. */
uint32_t registry_next_id(struct mx_proxy *px);
/* e is owned by the caller (a session) and must stay valid until registry_remove. */
int registry_add(struct mx_proxy *px, struct mx_reg_entry *e);
void registry_remove(struct mx_proxy *px, struct mx_reg_entry *e);
/* Copies the entry for id into *out; returns 0 or -1 when unknown. */
int registry_get(struct mx_proxy *px, uint32_t id, struct mx_reg_entry *out);
/* registry_get after marking the entry's kill_until_ms (a KILL QUERY is about to
 * be sent to its backend thread): what the copy says of busy and backend_tid
 * was read after the mark, so a session whose statement ends later sees it. */
int registry_mark_kill(struct mx_proxy *px, uint32_t id, uint64_t until_ms,
                       struct mx_reg_entry *out);
/* The session of mymux user `user` whose attached connection to server is backend
 * thread tid (what SHOW PROCESSLIST shows); 0 and *out, or -1. A scan: KILL only. */
int registry_find_backend_thread(struct mx_proxy *px, int server, uint32_t tid, const char *user,
                                 struct mx_reg_entry *out);

#endif
