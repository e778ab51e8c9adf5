/* Configuration: the immutable snapshot built from one YAML file. */
#ifndef MX_CONFIG_H
#define MX_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How a user's password is stored in the file. */
enum mx_pw_kind {
    MX_PW_PLAIN,  /* plaintext: front side any plugin, backend any plugin */
    MX_PW_NATIVE, /* "*" + 40 hex: SHA1(SHA1(pw)); mysql_native_password only */
    MX_PW_SHA2,   /* "$A$005$" + 20-byte salt + 43 chars sha256-crypt (MySQL's
                     caching_sha2_password authentication_string) */
};

struct mx_user {
    char *name;
    enum mx_pw_kind pw_kind;
    char *password;          /* MX_PW_PLAIN: the plaintext; else NULL */
    uint8_t native_stage2[20]; /* SHA1(SHA1(pw)): filled for PLAIN and NATIVE */
    char *sha2_hash;         /* MX_PW_SHA2: the "$A$005$..." string; else NULL */
    char *backend_user;      /* log in to backends as this user (default: name) */
    char *backend_password;  /* plaintext for backend_user; NULL = same as front */
    bool require_tls;        /* issue 5 */
    bool kill_others;        /* may KILL sessions of other users that share its backend user
                                (the backend cannot tell them apart); default false */
    int max_connections;     /* 0 = unlimited */
    int query_timeout_ms;    /* -1 = pool.query_timeout; 0 = none */
};

/* Health check settings (global `health:` section, overridable per backend
 * under `backends[].health:` with the same keys). */
enum mx_check_type { MX_CHECK_NONE, MX_CHECK_TCP, MX_CHECK_MYSQL, MX_CHECK_STATUS };
struct mx_check_cfg {
    enum mx_check_type type; /* default MX_CHECK_TCP */
    int interval_ms;         /* default 2000 */
    int timeout_ms;          /* default 1000 */
    int rise;                /* default 2: successes before a down server is up */
    int fall;                /* default 3: failures before an up server is down */
    char *user;              /* mysql check: monitor user (NULL = first configured user) */
    char *password;          /* mysql check: its plaintext password */
    char *query;             /* mysql check: default "SELECT 1" */
    char *status_path;       /* status check: default "/status" */
};

/* TLS towards one backend (`backends[].tls:`). */
enum mx_btls_mode { MX_BTLS_OFF, MX_BTLS_PREFERRED, MX_BTLS_REQUIRED, MX_BTLS_VERIFY_CA,
                    MX_BTLS_VERIFY_IDENTITY };
struct mx_backend_tls_cfg {
    enum mx_btls_mode mode;  /* default MX_BTLS_OFF */
    char *ca;                /* CA file for verify_ca / verify_identity */
    char *cert, *key;        /* client certificate */
    char *server_name;       /* SNI and identity check (default: host) */
};

/* backends[].session_tracking: auto uses the server's session-state trackers
 * when its greeting offers CLIENT_SESSION_TRACK and its version is not TiDB's
 * (TiDB reports no session state); off leaves the classifier alone to judge,
 * as for TiDB. */
enum mx_tracking { MX_TRACK_AUTO, MX_TRACK_ON, MX_TRACK_OFF };

struct mx_backend_cfg {
    char *name;
    char *host;   /* numeric IPv4/IPv6 or host name */
    int port;
    int addr_line, addr_col; /* where `address` is in the file (for --check-config) */
    int weight;   /* default 1 */
    bool backup;  /* default false */
    int max_connections; /* 0 = pool.max_per_backend */
    int cpus;            /* its CPU count, for pool.max_per_backend: auto (0 = unknown:
                            learned from the status port's tidb_server_maxprocs if it has one) */
    int status_port;     /* TiDB status port, 0 = none (default 10080 when health.type is status) */
    struct mx_check_cfg health;   /* global health section, with this backend's overrides */
    struct mx_backend_tls_cfg tls;
    bool compress;       /* compressed protocol towards this backend (default false) */
    bool send_proxy;     /* send a PROXY v2 header first (TiDB proxy-protocol.networks) */
    bool maintenance;    /* start in maintenance (default false) */
    enum mx_tracking session_tracking; /* learn session state from the server's trackers */
    bool lock_check;     /* ask MariaDB's metadata_lock_info for user locks before a
                            connection goes back (routines and triggers that take them) */
};

struct mx_config {
    char *path;           /* the file this came from */
    uint64_t generation;  /* bumped on each reload */

    char *listen_host;    /* "listen: host:port" */
    int listen_port;
    int workers;          /* 0 in the file = one per core (resolved at load) */

    char *server_version; /* NULL = take from the backends */
    char *log_level;      /* "debug" | "info" | "warn" | "error"; default "info" */
    int listen_line, listen_col; /* where `listen` is in the file (for --check-config) */
    char *log_file;       /* log.file: append lines here (reopened on SIGUSR1); NULL = stderr */

    struct mx_user *users;
    size_t n_users;
    struct mx_backend_cfg *backends;
    size_t n_backends;

    /* pool: */
    int pool_max_per_backend;   /* the cap when given, or auto's cap for a backend whose CPU
                                   count is unknown: 64 (see pool/cap.c) */
    bool pool_max_auto;         /* default true: pool.max_per_backend: auto */
    int pool_per_cpu;           /* default 8: auto's connections per backend CPU */
    int pool_min_idle;          /* default 0 */
    int pool_idle_timeout_ms;   /* default 60000 */
    int pool_max_lifetime_ms;   /* default 3600000 */
    int pool_wait_timeout_ms;   /* default 10000: how long a session waits for a connection */
    int pool_query_timeout_ms;  /* default 3600000: how long a backend may take to answer a
                                   client's command (0 = no limit) */
    int pool_connect_timeout_ms;/* default 5000 */
    bool pool_multiplex;        /* default true (issue 3) */
    int pool_max_prepared;      /* default 256: statements prepared per backend connection (LRU) */
    int pool_max_prepared_unused; /* default 16: of those, statements no client holds any more */

    /* client side limits (issue 5 extends) */
    int max_client_connections;   /* default 10000 */
    int handshake_timeout_ms;     /* default 10000 */
    int client_idle_timeout_ms;   /* default 0 = none */
    int max_packet_size;          /* default 64 MiB: larger client packets are refused */

    /* routing (`balance:` is either a string, the algorithm, or a mapping
     * with these keys) */
    char *balance;               /* default "roundrobin"; also static-rr, leastconn, first,
                                    random, random(2), source, user, leastlatency */
    int slow_start_ms;           /* balance.slow_start: default 0 (off) */
    char *stick_on;              /* balance.stick.on: NULL (off), "src" or "user" */
    int stick_expire_ms;         /* balance.stick.expire: default 30 min */
    int stick_size;              /* balance.stick.size: default 100000 entries */

    /* shutdown and reload */
    int shutdown_grace_ms;       /* shutdown.grace_period: default 30s: sessions in a
                                    transaction get this long to finish */
    int accept_grace_ms;         /* shutdown.accept_grace: default 0: after SIGTERM the
                                    listeners keep accepting this long while the health
                                    endpoint says 503, then the drain begins */
    char *health_listen;         /* shutdown.health_listen: host:port of an HTTP endpoint
                                    answering 200 while serving, 503 while draining; NULL off */
    char *upgrade_socket;        /* shutdown.upgrade_socket: unix socket path for handing
                                    listeners to a new process; NULL off */

    /* client TLS (`tls:` section) */
    char *tls_cert, *tls_key, *tls_ca; /* NULL = TLS off */
    char *tls_min_version;       /* default "TLSv1.2" (TLSv1, TLSv1.1, TLSv1.2, TLSv1.3) */
    char *tls_max_version;       /* default NULL (the library's newest) */
    char *tls_ciphers;           /* TLS 1.2 and below cipher list; NULL = OpenSSL default */
    char *tls_ciphersuites;      /* TLS 1.3 suites; NULL = default */
    bool tls_require;            /* tls.require: every client must use TLS (default false) */

    /* compressed protocol (`compression:`) */
    bool compress_enabled;       /* offer CLIENT_COMPRESS to clients (default true) */
    bool compress_zstd;          /* offer CLIENT_ZSTD_COMPRESSION (default true) */
    int compress_level;          /* zlib level, default 6 */

    /* connection-storm protection (`limits:` section, continued) */
    int accept_rate;             /* limits.accept_rate: new connections per second (0 = off) */
    int accept_burst;            /* limits.accept_burst: default = accept_rate */
    int max_handshakes;          /* limits.max_handshakes: handshakes in progress (default 1000) */
    int auth_fail_max;           /* limits.auth_failures.max: failures per address (default 10) */
    int auth_fail_window_ms;     /* limits.auth_failures.window: default 60s */
    int auth_fail_block_ms;      /* limits.auth_failures.block: default 300s */
    int pool_connect_rate;       /* pool.connect_rate: new backend connections per second per
                                    server (0 = unlimited) */
    int pool_max_connecting;     /* pool.max_connecting: concurrent connects per server (default 16) */
    int pool_max_waiting;        /* pool.max_waiting: sessions queued per server (default 10000) */

    /* PROXY protocol from load balancers (`proxy_protocol:`) */
    char **proxy_trusted;        /* proxy_protocol.trusted: CIDR list; NULL-terminated; NULL = off */

    /* admin (issue 6, `admin:` section; `admin_listen` at top level also accepted) */
    char *admin_listen;          /* NULL = off */
    char *admin_user, *admin_password; /* basic auth; NULL = none */
    char *admin_tls_cert, *admin_tls_key;
    int digest_max;              /* admin.digest_max: query digests kept (default 5000) */
    char **admin_allowed_hosts;  /* admin.allowed_hosts: names accepted in Host besides IP
                                    literals and localhost; NULL-terminated; NULL = none */
    bool admin_allow_unauthenticated; /* admin.allow_unauthenticated: a non-loopback listen
                                         without user/password starts (default false) */
    int instance_id;             /* instance_id: 0-255, the high 8 bits of every client
                                    connection id (default 0) */
    int slow_query_ms;           /* log.slow_query: default 1000 (0 = off) */
    int busy_poll_us;            /* busy_poll: after a command goes to a backend, the worker
                                    polls without sleeping for up to this long (default 0 = off) */
    bool log_queries;            /* log.query_text: literals in logs (default false) */

    /* The global `health:` section as resolved (defaults, then the section): what a
     * backend without its own overrides gets, e.g. one added at run time. */
    struct mx_check_cfg health;
};

/* Loads and validates PATH. On success returns 0 and *out owns a new config.
 * On failure returns -1 and writes "FILE:LINE:COL: message" into err. */
int config_load(const char *path, struct mx_config **out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Same, from a string (name is used in messages); used by tests. */
int config_load_string(const char *name, const char *yaml, size_t len, struct mx_config **out,
                       char *err, size_t errlen) __attribute__((warn_unused_result));

void config_free(struct mx_config *cfg);

/* Looks a user up by name; NULL if absent. */
const struct mx_user *config_find_user(const struct mx_config *cfg, const char *name);

#endif
