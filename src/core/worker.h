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
#include "protocol/classify.h"
#include "pool/stmt.h"

struct mx_session;
struct mx_pool;

typedef _Atomic uint64_t mx_counter;
/* Counters have one writer each, or tolerate relaxed increments: no lock. */
#define STAT_ADD(c, n) atomic_fetch_add_explicit(&(c), (uint64_t)(n), memory_order_relaxed)
#define STAT_GET(c) atomic_load_explicit(&(c), memory_order_relaxed)

enum mx_srv_state {
    SRV_UP,       /* takes new borrows */
    SRV_DOWN,     /* failed its checks: no borrows, idle connections closed */
    SRV_DRAINING, /* no new borrows; sessions leave at their next transaction boundary */
    SRV_MAINT,    /* disabled by an operator */
};

/* Runtime state of one backend server, shared by all workers. Written by the
 * control thread (checks, admin actions) and by workers (counters). */
struct mx_server {
    atomic_int state;       /* enum mx_srv_state */
    atomic_int weight;      /* effective weight: config or admin override (0 = none) */
    atomic_int open;        /* backend connections open or opening, all workers */
    atomic_int busy;        /* connections lent to sessions right now */
    atomic_int waiting;     /* sessions waiting for a connection to it, all workers */
    atomic_int affine;      /* sessions whose affinity is this server */
    atomic_uint_least64_t up_since_ms; /* when it last came up (slow start) */
    atomic_uint_least64_t state_since_ms; /* when state last changed (0: since start) */
    atomic_uint transitions; /* state changes, any cause */
    atomic_uint check_transitions; /* ...of them, those its health checks made */
    mx_counter checks_failed; /* health checks that failed */
    atomic_int open_peak, busy_peak, affine_peak; /* highest open, busy, affine seen */
    atomic_uint_least64_t ewma_us;     /* response time, exponentially weighted */
    uint32_t caps;          /* capabilities from its greeting (0 = not probed) */
    atomic_uint version;    /* from its last greeting: hs_version_number(), 0 unknown */
    atomic_bool mariadb;    /* ...and whether it is MariaDB */
    atomic_bool tidb;       /* ...or TiDB */
    atomic_int removed;     /* dropped from the configuration by a reload */
    atomic_int timeouts_in_row; /* query deadlines missed since its last finished answer */
    /* its host name resolved off the worker loops (core/resolve.c) */
    pthread_mutex_t addr_lock;
    char addr_host[256];    /* the name addr was resolved for */
    struct sockaddr_storage addr;
    bool addr_ok;
    atomic_uint recycle;    /* pool recycles asked (admin): connections opened before the
                               last one are closed when idle (src/pool/pool.c) */
    /* last health check (control thread) */
    atomic_int check_ok;    /* 1 ok, 0 failed, -1 not run */
    atomic_uint check_latency_us;
    char check_detail[128]; /* short text, written by the control thread only */
    /* traffic */
    mx_counter queries, errors, bytes_to_backend, bytes_from_backend, borrows, waits,
        wait_us, connects, connect_errors, resets, reprepares;
};

/* Raises *peak to v if v is higher (a gauge's highest value; lock-free, called
 * where the gauge grows: once per connection or borrow, never per packet). */
static inline void stat_peak(atomic_int *peak, int v)
{
    int p = atomic_load_explicit(peak, memory_order_relaxed);
    while (v > p && !atomic_compare_exchange_weak_explicit(peak, &p, v, memory_order_relaxed,
                                                           memory_order_relaxed)) {
    }
}

/* Records that sv->state just changed (time in state, transitions). */
static inline void srv_state_changed(struct mx_server *sv, uint64_t now_ms)
{
    atomic_store_explicit(&sv->state_since_ms, now_ms, memory_order_relaxed);
    atomic_fetch_add_explicit(&sv->transitions, 1, memory_order_relaxed);
}

/* Per configured user (matched by name), all workers. */
struct mx_user_stats {
    char name[128];
    atomic_int sessions;
    mx_counter connects, auth_failures, queries, errors, bytes_in, bytes_out;
};

/* Process-wide counters. */
struct mx_stats {
    mx_counter accepted, refused, auth_failures, queries, errors, bytes_in, bytes_out;
    mx_counter pins[32];    /* by reason: bit index of enum cls_pin / SESS_PIN_* */
    mx_counter kills, handshake_timeouts, accept_deferred, auth_blocks, user_limit_refused,
        queue_full;
    /* query latency histogram (admin/digest.c): one per bucket of dg_buckets_us, then
     * those over the last bucket, then the sum of durations in microseconds */
    mx_counter query_hist[17 + 2]; /* DG_N_BUCKETS + 2 (checked in digest.c) */
};

#define MX_MAX_SERVERS 64   /* backend slots, configured and added by reloads */
#define MX_MAX_USER_STATS 256

/* Process-wide state. */
struct mx_proxy {
    struct mx_config *_Atomic cfg; /* current snapshot; a reload swaps it, old ones stay valid */
    struct mx_config *old_cfgs[64]; /* snapshots replaced by reloads (freed at exit) */
    int n_old_cfgs;
    struct mx_server *servers; /* [cfg->n_backends] */
    struct mx_worker *workers;
    int n_workers;
    char server_version[128];
    uint32_t backend_caps;     /* capabilities every backend offers */
    uint8_t default_charset;
    atomic_uint next_conn_id;
    struct mx_stats stats;
    struct mx_user_stats *ustats; /* [MX_MAX_USER_STATS], by user name */
    atomic_int n_ustats;
    uint64_t started_ms;
    atomic_uint rr;            /* round-robin cursor */
    atomic_int sessions_total; /* client sessions, all workers */
    atomic_int sessions_peak;  /* the highest sessions_total seen */
    /* descriptors (worker_fd_room): the RLIMIT_NOFILE soft limit (0 = not
     * enforced), what mymux held before serving, client sockets open now */
    atomic_int fd_limit, fd_base;
    atomic_int client_fds;
    atomic_int stopping;       /* graceful shutdown in progress (health endpoint says so) */
    /* connection-id registry for KILL: guarded by reg_lock (not on the query path) */
    pthread_mutex_t reg_lock;
    struct mx_reg_entry **reg; /* open hash table of entries owned by sessions */
    size_t reg_cap, reg_n;     /* grows past half full (a reload may allow more clients) */
};

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
    struct mx_pool *pools;     /* [cfg->n_backends] */
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
    void *balance_state;       /* router/balance.c: per-worker balancing state */
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
/* busy_poll: a command went to a backend; the loop polls without sleeping
 * until its answer is likely in (bounded by busy_poll). */
void worker_busy_poll(struct mx_worker *w);
bool worker_post_kill(struct mx_worker *w, uint32_t victim, int reply_to, uint32_t requester);
/* Closes session `victim` of w now: w's own thread only. */
void worker_kill_now(struct mx_worker *w, uint32_t victim);

/* Registry of client connection ids (for KILL and CONNECTION_ID()). */
struct mx_reg_entry {
    uint32_t id;               /* 0 = empty */
    int worker;
    char user[96];             /* login name (MariaDB allows 80 characters) */
    char backend_user[96];     /* the user its backend connections log in as */
    char host[64];             /* the client's address without port (KILL USER name@host) */
    atomic_int server;         /* backend server of the attached connection, -1 none */
    atomic_uint backend_tid;   /* its thread id on that server */
    atomic_int busy;           /* a command is running */
    atomic_ullong kill_until_ms; /* a KILL QUERY for backend_tid is on its way until then
                                    (mx_now_ms): the session keeps that connection */
};
/* The counters of user `name` (created if new; NULL when the table is full). */
struct mx_user_stats *ustats_for(struct mx_proxy *px, const char *name);

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
/* Copies into out (at most max) the entries of sessions logged in as user, from
 * host when host is not empty; returns how many there are in all. */
size_t registry_find_user(struct mx_proxy *px, const char *user, const char *host,
                          struct mx_reg_entry *out, size_t max);
int registry_find_backend_thread(struct mx_proxy *px, int server, uint32_t tid, const char *user,
                                 struct mx_reg_entry *out);

#endif
