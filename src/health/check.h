/* Checks: one short-lived connection per check, on the control loop. The
 * connection plumbing (connect, overall timeout, reads, writes, close) is in
 * check.c; what is said on it is in check_tcp.c, check_mysql.c, check_status.c. */
#ifndef MX_CHECK_H
#define MX_CHECK_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "health/health.h"
#include "protocol/response.h"

struct mx_config;
struct mx_backend_cfg;

struct health_result {
    enum health_outcome outcome;
    unsigned latency_us; /* connect to the decisive answer */
    char detail[120];    /* "ok 0.4ms", "timeout", "refused", "ERR 1040 ...", "HTTP 500" */
    int cpus;            /* the cpus probe's finding (tidb_server_maxprocs), 0 none */
};

typedef void (*check_done_cb)(void *arg, const struct health_result *r);

struct check_conn;

/* What a check type does on its connection. */
struct check_ops {
    /* Connected: send the first request, if any. */
    void (*on_connect)(struct check_conn *c);
    /* Bytes arrived: in[0, in_len) holds what is not consumed yet. Consume by
     * check_consume(); finish with check_finish(). */
    void (*on_data)(struct check_conn *c);
    /* The peer closed the connection (the check has not finished). */
    void (*on_eof)(struct check_conn *c);
    /* Optional: the overall timeout fired (default: a failure "timeout (phase)"). */
    void (*on_timeout)(struct check_conn *c);
};

/* Phases of the mysql check (check_mysql.c). */
enum check_my_phase {
    CMY_GREETING, /* waiting for the server greeting */
    CMY_AUTH,     /* handshake response sent: OK, ERR, switch or more data */
    CMY_QUERY,    /* the query's answer, through the response tracker */
    CMY_PING,     /* COM_PING's OK (TiDB answers ERR while shutting down) */
};

#define CHECK_IN_CAP 16384

struct check_conn {
    uv_tcp_t tcp;
    uv_timer_t timer; /* the whole check must end within health.timeout */
    uv_connect_t creq;
    uv_write_t wreq;
    uv_loop_t *loop;
    const struct check_ops *ops;
    const struct mx_config *cfg;
    const struct mx_backend_cfg *bc;
    check_done_cb done;
    void *arg;
    uint64_t t0_ns; /* connect started (uv_hrtime) */
    int handles;    /* open handles; freed when it reaches 0 */
    bool connected, finished;
    bool local_fail; /* the connect failed for want of descriptors (HC_SKIP) */
    const char *phase; /* for the timeout's detail */
    uint8_t in[CHECK_IN_CAP];
    size_t in_len;
    uint8_t out[2048]; /* an asynchronous write's bytes (rare: writes are tiny) */
    bool writing;
    /* mysql check */
    enum check_my_phase my;
    uint8_t seq;
    uint8_t nonce[20];
    char plugin[64];
    uint32_t caps;
    const char *user, *password;
    struct mx_resp resp;
    uint64_t skip; /* bytes of an oversized payload still to discard */
    /* status check */
    bool status_seen;
    int http_status;
    unsigned http_latency_us;
    /* cpus probe */
    bool line_too_long; /* skipping the rest of a line longer than in[] */
    int cpus;
};

/* Starts the check configured for backend bc. done is called exactly once
 * unless the check is aborted. Returns NULL only when out of memory. */
struct check_conn *check_start(uv_loop_t *loop, const struct mx_config *cfg,
                               const struct mx_backend_cfg *bc, void *arg, check_done_cb done);
/* Asks backend bc's status port for its CPU count (GET /metrics, the gauge
 * tidb_server_maxprocs): HC_OK with r->cpus set, or HC_FAIL. Same contract. */
struct check_conn *check_start_cpus(uv_loop_t *loop, const struct mx_config *cfg,
                                    const struct mx_backend_cfg *bc, void *arg, check_done_cb done);
/* Cancels a check in flight without calling done (shutdown). */
void check_abort(struct check_conn *c);

/* For the check types: */
/* Opens the connection to host:port with the overall timeout from bc->health. */
void check_connect(struct check_conn *c, const char *host, int port);
/* Writes n bytes (copied when they cannot all be written at once). 0 or -1 (finished). */
int check_send(struct check_conn *c, const void *p, size_t n);
/* Drops the first n bytes of the input. */
void check_consume(struct check_conn *c, size_t n);
/* Microseconds since connect started. */
unsigned check_elapsed_us(const struct check_conn *c);
/* Ends the check: reports the outcome (latency_us 0 = now) and closes. */
void check_finish(struct check_conn *c, enum health_outcome o, unsigned latency_us, const char *fmt,
                  ...) __attribute__((format(printf, 4, 5)));
/* "ok 0.4ms" */
void check_finish_ok(struct check_conn *c, unsigned latency_us);
/* A failure from an ERR packet's payload: "ERR 1040 Too many connections". */
void check_finish_err(struct check_conn *c, const uint8_t *p, size_t len);

extern const struct check_ops check_tcp_ops, check_mysql_ops, check_status_ops, check_cpus_ops;

#endif
