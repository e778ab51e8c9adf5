/* What the threads of one process share: the configuration snapshot, the
 * runtime state of each backend server, and the process-wide counters. Workers,
 * the control thread and the admin side all read these; nothing here belongs
 * to one loop. */
#ifndef MX_PROXY_H
#define MX_PROXY_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct mx_config;
struct mx_worker;
struct mx_reg_entry;

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
    atomic_int waiting;     /* sessions waiting for a connection to it, all workers */
    atomic_int affine;      /* sessions whose affinity is this server */
    atomic_uint_least64_t up_since_ms; /* when it last came up (slow start) */
    atomic_uint_least64_t state_since_ms; /* when state last changed (0: since start) */
    atomic_uint transitions; /* state changes, any cause */
    atomic_uint check_transitions; /* ...of them, those its health checks made */
    mx_counter checks_failed; /* health checks that failed */
    /* highest open, lent (the pools' n_busy summed over workers), affine seen */
    atomic_int open_peak, busy_peak, affine_peak;
    atomic_uint_least64_t ewma_us;     /* response time, exponentially weighted */
    uint32_t caps;          /* capabilities from its greeting (0 = not probed) */
    atomic_uint version;    /* from its last greeting: hs_version_number(), 0 unknown */
    atomic_bool mariadb;    /* ...and whether it is MariaDB */
    atomic_bool tidb;       /* ...or TiDB */
    atomic_int cpus;        /* its CPU count as its status port reports it (0 unknown):
                               sets the connection cap under pool.max_per_backend: auto */
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
    pthread_mutex_t check_lock; /* check_detail, which the admin thread reads */
    /* traffic */
    /* borrows, waits, connects, resets: per worker in its pools (POOL_TOTAL) */
    mx_counter queries, errors, bytes_to_backend, bytes_from_backend, reprepares;
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

/* The counters the query path writes, one set per worker (struct mx_worker.hot):
 * each has one writer, its worker, which adds with a plain load and store
 * (HOT_ADD), so that no cache line is written by two workers on the query path.
 * Readers add the workers' shares to the process-wide field of the same name
 * (stats_*_total), which the rarer writers keep using (STAT_ADD). */
struct mx_srv_hot {
    mx_counter queries, errors, bytes_to_backend, bytes_from_backend;
    uint64_t ewma_us;     /* this worker's response-time average (only it reads it) */
    uint64_t ewma_pub_ms; /* when it last published it to mx_server.ewma_us */
};
struct mx_user_hot {
    mx_counter queries, errors, bytes_in, bytes_out;
};
struct mx_hot {
    struct mx_stats proc; /* queries, errors, bytes, pins, the latency histogram, ... */
    struct mx_srv_hot srv[MX_MAX_SERVERS];
    struct mx_user_hot user[MX_MAX_USER_STATS];
};
#define HOT_ADD(c, n)                                                                              \
    atomic_store_explicit(&(c), atomic_load_explicit(&(c), memory_order_relaxed) + (uint64_t)(n),  \
                          memory_order_relaxed)
struct mx_proxy;
/* The process's counters: px->stats plus every worker's share. */
void stats_proc_total(const struct mx_proxy *px, struct mx_stats *out);
/* A server's (a user's) counter: the shared field plus the workers' shares of the
 * field of struct mx_srv_hot (mx_user_hot) at offset off. */
uint64_t stats_srv_total(const struct mx_proxy *px, int server, const mx_counter *shared,
                         size_t off);
uint64_t stats_user_total(const struct mx_proxy *px, int user, const mx_counter *shared,
                          size_t off);
/* A pool counter (the mx_counter at offset off of struct mx_pool) of server
 * `server`, summed over the workers' pools (pool/pool.h POOL_TOTAL). */
uint64_t stats_pool_total(const struct mx_proxy *px, int server, size_t off);
#define SRV_TOTAL(px, i, sv, f) stats_srv_total(px, i, &(sv)->f, offsetof(struct mx_srv_hot, f))
#define USER_TOTAL(px, i, u, f) stats_user_total(px, i, &(u)->f, offsetof(struct mx_user_hot, f))

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

/* The counters of user `name` (created if new; NULL when the table is full). */
struct mx_user_stats *ustats_for(struct mx_proxy *px, const char *name);

#endif
