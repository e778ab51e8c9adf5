/* Prometheus text exposition (format 0.0.4) of the process, backend, pool,
 * user and query-latency counters. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin_int.h"
#include "admin/digest.h"
#include "core/clock.h"
#include "core/proxy.h"
#include "core/config.h"
#include "core/worker.h"
#include "pool/cap.h"
#include "pool/pool.h"

/* Writes s as a label value (backslash, quote and newline escaped). */
static void m_label(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"') {
            fputc('\\', f);
            fputc(*s, f);
        } else if (*s == '\n') {
            fputs("\\n", f);
        } else {
            fputc(*s, f);
        }
    }
}

static void m_head(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void m_one(FILE *f, const char *name, const char *type, const char *help, double v)
{
    m_head(f, name, type, help);
    fprintf(f, "%s %.15g\n", name, v);
}

/* name{key="val"} v */
static void m_lab(FILE *f, const char *name, const char *key, const char *val, double v)
{
    fprintf(f, "%s{%s=\"", name, key);
    m_label(f, val);
    fprintf(f, "\"} %.15g\n", v);
}

/* Per-backend series: value of field for each server. */
#define M_SRV(f, px, NAME, TYPE, HELP, expr)                                                  \
    do {                                                                                      \
        m_head(f, NAME, TYPE, HELP);                                                          \
        for (size_t i_ = 0; i_ < (px)->cfg->n_backends; i_++) {                               \
            struct mx_server *sv = &(px)->servers[i_];                                        \
            (void)sv;                                                                         \
            m_lab(f, NAME, "backend", (px)->cfg->backends[i_].name, (double)(expr));          \
        }                                                                                     \
    } while (0)

#define M_USR(f, px, NAME, TYPE, HELP, expr)                                                  \
    do {                                                                                      \
        m_head(f, NAME, TYPE, HELP);                                                          \
        for (int i_ = 0; i_ < atomic_load(&(px)->n_ustats); i_++) {                                \
            struct mx_user_stats *u = &(px)->ustats[i_];                                      \
            m_lab(f, NAME, "user", u->name, (double)(expr));                                  \
        }                                                                                     \
    } while (0)

static void m_pools(FILE *f, struct mx_proxy *px)
{
    static const char *const kinds[] = {"idle", "busy", "opening"};
    const char *name = "mymux_backend_connections";
    m_head(f, name, "gauge", "Backend connections by state, summed over workers.");
    for (size_t i = 0; i < px->cfg->n_backends; i++) {
        long v[3] = {(long)POOL_TOTAL(px, (int)i, n_idle), (long)POOL_TOTAL(px, (int)i, n_busy),
                     (long)POOL_TOTAL(px, (int)i, n_opening)};
        for (int k = 0; k < 3; k++) {
            fprintf(f, "%s{backend=\"", name);
            m_label(f, px->cfg->backends[i].name);
            fprintf(f, "\",state=\"%s\"} %ld\n", kinds[k], v[k]);
        }
    }
    m_head(f, "mymux_backend_waiting_sessions", "gauge",
           "Sessions queued for a backend connection.");
    for (size_t i = 0; i < px->cfg->n_backends; i++) {
        double wait = (double)POOL_TOTAL(px, (int)i, n_wait);
        m_lab(f, "mymux_backend_waiting_sessions", "backend", px->cfg->backends[i].name,
              wait);
    }
}

static void m_states(FILE *f, struct mx_proxy *px)
{
    const char *name = "mymux_backend_state";
    m_head(f, name, "gauge", "1 for the backend's current state (up, down, draining, maint).");
    for (size_t i = 0; i < px->cfg->n_backends; i++) {
        int st = atomic_load(&px->servers[i].state);
        for (int s = SRV_UP; s <= SRV_MAINT; s++) {
            fprintf(f, "%s{backend=\"", name);
            m_label(f, px->cfg->backends[i].name);
            fprintf(f, "\",state=\"%s\"} %d\n", adm_state_name(s), st == s);
        }
    }
    name = "mymux_backend_check_success";
    m_head(f, name, "gauge", "Result of the last health check (1 ok, 0 failed; absent if none ran).");
    for (size_t i = 0; i < px->cfg->n_backends; i++) {
        int ok = atomic_load(&px->servers[i].check_ok);
        if (ok >= 0) m_lab(f, name, "backend", px->cfg->backends[i].name, ok);
    }
    name = "mymux_backend_check_latency_seconds";
    m_head(f, name, "gauge", "Duration of the last health check.");
    for (size_t i = 0; i < px->cfg->n_backends; i++) {
        if (atomic_load(&px->servers[i].check_ok) >= 0)
            m_lab(f, name, "backend", px->cfg->backends[i].name,
                  atomic_load(&px->servers[i].check_latency_us) / 1e6);
    }
}

static void m_histogram(FILE *f, const struct mx_stats *st)
{
    const char *name = "mymux_query_duration_seconds";
    m_head(f, name, "histogram", "Duration of client queries and executes, as seen by mymux.");
    uint64_t cum = 0;
    for (int b = 0; b < DG_N_BUCKETS; b++) {
        cum += STAT_GET(st->query_hist[b]);
        fprintf(f, "%s_bucket{le=\"%g\"} %llu\n", name, (double)dg_buckets_us[b] / 1e6,
                (unsigned long long)cum);
    }
    cum += STAT_GET(st->query_hist[DG_N_BUCKETS]);
    fprintf(f, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)cum);
    fprintf(f, "%s_sum %.15g\n", name, STAT_GET(st->query_hist[DG_HIST_SUM]) / 1e6);
    fprintf(f, "%s_count %llu\n", name, (unsigned long long)cum);
}

void metrics_handle(struct mx_proxy *px, const struct adm_request *q, struct adm_reply *r)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) {
        adm_reply_error(r, 500, "out of memory");
        return;
    }
    const struct mx_config *cfg = px->cfg;
    struct mx_stats tot;
    stats_proc_total(px, &tot);
    struct mx_stats *st = &tot;
    uint64_t now = mx_now_ms();

    m_head(f, "mymux_info", "gauge", "Version of this mymux.");
    fprintf(f, "mymux_info{version=\"%s\"} 1\n", MYMUX_VERSION);
    m_one(f, "mymux_uptime_seconds", "gauge", "Seconds since mymux started.",
          (double)(now - px->started_ms) / 1000.0);
    m_one(f, "mymux_config_generation", "gauge", "Generation of the configuration in use.",
          (double)cfg->generation);
    m_one(f, "mymux_workers", "gauge", "Worker threads.", px->n_workers);
    m_one(f, "mymux_client_sessions", "gauge", "Client sessions open now.",
          atomic_load(&px->sessions_total));
    m_one(f, "mymux_client_connections_accepted_total", "counter", "Client connections accepted.",
          (double)STAT_GET(st->accepted));
    m_one(f, "mymux_client_connections_refused_total", "counter",
          "Client connections refused by a limit.", (double)STAT_GET(st->refused));
    m_one(f, "mymux_auth_failures_total", "counter", "Failed client authentications.",
          (double)STAT_GET(st->auth_failures));
    m_one(f, "mymux_handshake_timeouts_total", "counter", "Client handshakes that timed out.",
          (double)STAT_GET(st->handshake_timeouts));
    m_one(f, "mymux_auth_blocks_total", "counter",
          "Client addresses blocked after repeated authentication failures.",
          (double)STAT_GET(st->auth_blocks));
    m_one(f, "mymux_accept_deferred_total", "counter",
          "Connections whose greeting waited for the accept rate or handshake limit.",
          (double)STAT_GET(st->accept_deferred));
    m_one(f, "mymux_user_limit_refused_total", "counter",
          "Logins refused by a user's max_connections.", (double)STAT_GET(st->user_limit_refused));
    m_one(f, "mymux_backend_queue_full_total", "counter",
          "Commands refused because the wait queue for a backend was full.",
          (double)STAT_GET(st->queue_full));
    m_one(f, "mymux_tls_handshakes_total", "counter", "Client TLS handshakes completed.", 0);
    m_one(f, "mymux_kills_total", "counter", "Sessions killed (KILL or the admin API).",
          (double)STAT_GET(st->kills));
    m_one(f, "mymux_queries_total", "counter", "Client queries and executes answered.",
          (double)STAT_GET(st->queries));
    m_one(f, "mymux_query_errors_total", "counter", "Queries answered with an error.",
          (double)STAT_GET(st->errors));
    m_one(f, "mymux_client_received_bytes_total", "counter", "Bytes received from clients.",
          (double)STAT_GET(st->bytes_in));
    m_one(f, "mymux_client_sent_bytes_total", "counter", "Bytes sent to clients.",
          (double)STAT_GET(st->bytes_out));

    uint64_t conn_err = 0;
    for (size_t i = 0; i < cfg->n_backends; i++) conn_err += POOL_TOTAL(px, (int)i, connect_errors);
    m_head(f, "mymux_errors_total", "counter", "Errors by kind.");
    fprintf(f, "mymux_errors_total{kind=\"query\"} %llu\n",
            (unsigned long long)STAT_GET(st->errors));
    fprintf(f, "mymux_errors_total{kind=\"auth\"} %llu\n",
            (unsigned long long)STAT_GET(st->auth_failures));
    fprintf(f, "mymux_errors_total{kind=\"refused\"} %llu\n",
            (unsigned long long)STAT_GET(st->refused));
    fprintf(f, "mymux_errors_total{kind=\"handshake_timeout\"} %llu\n",
            (unsigned long long)STAT_GET(st->handshake_timeouts));
    fprintf(f, "mymux_errors_total{kind=\"backend_connect\"} %llu\n",
            (unsigned long long)conn_err);

    m_head(f, "mymux_pins_total", "counter",
           "Times a session was pinned to its backend connection, by reason.");
    for (int b = 0; b < 32; b++) {
        const char *n = adm_pin_name(b);
        if (n) m_lab(f, "mymux_pins_total", "reason", n, (double)STAT_GET(st->pins[b]));
    }
    m_histogram(f, st);

    m_states(f, px);
    M_SRV(f, px, "mymux_backend_weight", "gauge", "Effective balancing weight.",
          atomic_load(&sv->weight) > 0 ? atomic_load(&sv->weight) : cfg->backends[i_].weight);
    M_SRV(f, px, "mymux_backend_connections_open", "gauge",
          "Backend connections open or opening, all workers.", atomic_load(&sv->open));
    M_SRV(f, px, "mymux_backend_connections_max", "gauge", "Cap of backend connections.",
          pool_server_cap(cfg, sv, i_));
    M_SRV(f, px, "mymux_backend_connections_lent", "gauge",
          "Backend connections lent to sessions now.", POOL_TOTAL(px, (int)i_, n_busy));
    m_pools(f, px);
    M_SRV(f, px, "mymux_backend_sessions", "gauge", "Sessions whose affinity is this backend.",
          atomic_load(&sv->affine));
    M_SRV(f, px, "mymux_backend_response_time_seconds", "gauge",
          "Query response time, exponentially weighted.", atomic_load(&sv->ewma_us) / 1e6);
    M_SRV(f, px, "mymux_backend_state_changes_total", "counter",
          "Changes of this backend's state, any cause.", atomic_load(&sv->transitions));
    M_SRV(f, px, "mymux_backend_check_state_changes_total", "counter",
          "Changes of this backend's state made by its health checks.",
          atomic_load(&sv->check_transitions));
    M_SRV(f, px, "mymux_backend_check_failures_total", "counter",
          "Health checks of this backend that failed.", STAT_GET(sv->checks_failed));
    M_SRV(f, px, "mymux_backend_queries_total", "counter", "Queries sent to this backend.",
          SRV_TOTAL(px, (int)i_, sv, queries));
    M_SRV(f, px, "mymux_backend_errors_total", "counter", "Queries this backend answered with an error.",
          SRV_TOTAL(px, (int)i_, sv, errors));
    M_SRV(f, px, "mymux_backend_sent_bytes_total", "counter", "Bytes sent to this backend.",
          SRV_TOTAL(px, (int)i_, sv, bytes_to_backend));
    M_SRV(f, px, "mymux_backend_received_bytes_total", "counter", "Bytes received from this backend.",
          SRV_TOTAL(px, (int)i_, sv, bytes_from_backend));
    M_SRV(f, px, "mymux_backend_borrows_total", "counter", "Connections borrowed from the pool.",
          POOL_TOTAL(px, (int)i_, borrows));
    M_SRV(f, px, "mymux_backend_borrow_waits_total", "counter",
          "Borrows that had to wait for a connection.", POOL_TOTAL(px, (int)i_, waits));
    M_SRV(f, px, "mymux_backend_borrow_wait_seconds_total", "counter",
          "Time sessions spent waiting for a connection.", POOL_TOTAL(px, (int)i_, wait_us) / 1e6);
    M_SRV(f, px, "mymux_backend_connects_total", "counter", "Backend connections opened.",
          POOL_TOTAL(px, (int)i_, connects));
    M_SRV(f, px, "mymux_backend_connect_errors_total", "counter",
          "Backend connections that failed to open or log in.", POOL_TOTAL(px, (int)i_, connect_errors));
    M_SRV(f, px, "mymux_backend_resets_total", "counter", "COM_RESET_CONNECTION sent.",
          POOL_TOTAL(px, (int)i_, resets));

    M_USR(f, px, "mymux_user_sessions", "gauge", "Client sessions of this user now.",
          atomic_load(&u->sessions));
    M_USR(f, px, "mymux_user_connects_total", "counter", "Logins of this user.",
          STAT_GET(u->connects));
    M_USR(f, px, "mymux_user_auth_failures_total", "counter", "Failed logins of this user.",
          STAT_GET(u->auth_failures));
    M_USR(f, px, "mymux_user_queries_total", "counter", "Queries of this user.",
          USER_TOTAL(px, i_, u, queries));
    M_USR(f, px, "mymux_user_errors_total", "counter", "Queries of this user that failed.",
          USER_TOTAL(px, i_, u, errors));
    M_USR(f, px, "mymux_user_received_bytes_total", "counter", "Bytes received from this user.",
          USER_TOTAL(px, i_, u, bytes_in));
    M_USR(f, px, "mymux_user_sent_bytes_total", "counter", "Bytes sent to this user.",
          USER_TOTAL(px, i_, u, bytes_out));
    if (fclose(f) != 0 || !buf) {
        free(buf);
        adm_reply_error(r, 500, "out of memory");
        return;
    }
    adm_reply_take(r, 200, "text/plain; version=0.0.4; charset=utf-8", buf, len);
}
