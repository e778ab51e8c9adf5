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
    int max_connections;     /* 0 = unlimited */
};

struct mx_backend_cfg {
    char *name;
    char *host;   /* numeric IPv4/IPv6 or host name */
    int port;
    int weight;   /* default 1 */
    bool backup;  /* default false */
    int max_connections; /* 0 = pool.max_per_backend */
    int status_port;     /* TiDB status port, 0 = none */
};

struct mx_config {
    char *path;           /* the file this came from */
    uint64_t generation;  /* bumped on each reload */

    char *listen_host;    /* "listen: host:port" */
    int listen_port;
    int workers;          /* 0 in the file = one per core (resolved at load) */

    char *server_version; /* NULL = take from the backends */
    char *log_level;      /* "debug" | "info" | "warn" | "error"; default "info" */

    struct mx_user *users;
    size_t n_users;
    struct mx_backend_cfg *backends;
    size_t n_backends;

    /* pool: */
    int pool_max_per_backend;   /* default 64 */
    int pool_min_idle;          /* default 0 */
    int pool_idle_timeout_ms;   /* default 60000 */
    int pool_max_lifetime_ms;   /* default 3600000 */
    int pool_wait_timeout_ms;   /* default 10000: how long a session waits for a connection */
    int pool_connect_timeout_ms;/* default 5000 */
    bool pool_multiplex;        /* default true (issue 3) */
    int pool_max_prepared;      /* default 256: statements prepared per backend connection (LRU) */

    /* client side limits (issue 5 extends) */
    int max_client_connections;   /* default 10000 */
    int handshake_timeout_ms;     /* default 10000 */
    int client_idle_timeout_ms;   /* default 0 = none */
    int max_packet_size;          /* default 64 MiB: larger client packets are refused */

    /* routing */
    char *balance;               /* default "roundrobin" */

    /* admin (issue 6) */
    char *admin_listen;          /* NULL = off */
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
