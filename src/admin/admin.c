/* Admin side start and stop, the 1-second rate sampler, and the names the
 * API, the page and the metrics share. */
#include "admin/admin.h"

#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "admin/admin_int.h"
#include "core/log.h"
#include "session/session.h"
#include "core/proxy.h"
#include "core/config.h"

/* ---- rates ---- */

struct adm_sample {
    uint64_t ms;
    uint64_t queries, bytes_in, bytes_out;
    uint64_t srv_queries[256], user_queries[256];
};

static struct {
    pthread_t thread;
    pthread_mutex_t lock; /* guards rates, stop */
    pthread_cond_t cond;
    bool running, stop;
    struct adm_rates rates;
    struct adm_sample last;
    bool have_last;
} adm = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

static uint64_t adm_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void adm_take_sample(struct mx_proxy *px, struct adm_sample *s)
{
    const struct mx_config *cfg = px->cfg;
    s->ms = adm_mono_ms();
    struct mx_stats tot;
    stats_proc_total(px, &tot);
    s->queries = STAT_GET(tot.queries);
    s->bytes_in = STAT_GET(tot.bytes_in);
    s->bytes_out = STAT_GET(tot.bytes_out);
    for (size_t i = 0; i < cfg->n_backends && i < 256; i++)
        s->srv_queries[i] = SRV_TOTAL(px, (int)i, &px->servers[i], queries);
    for (int i = 0; i < atomic_load(&px->n_ustats) && i < 256; i++)
        s->user_queries[i] = USER_TOTAL(px, i, &px->ustats[i], queries);
}

static double adm_rate(uint64_t now, uint64_t then, double secs)
{
    return now >= then ? (double)(now - then) / secs : 0.0;
}

static void *adm_sampler(void *arg)
{
    struct mx_proxy *px = arg;
    pthread_mutex_lock(&adm.lock);
    while (!adm.stop) {
        struct adm_sample s;
        adm_take_sample(px, &s);
        if (adm.have_last && s.ms > adm.last.ms) {
            double secs = (double)(s.ms - adm.last.ms) / 1000.0;
            struct adm_rates *r = &adm.rates;
            r->qps = adm_rate(s.queries, adm.last.queries, secs);
            r->bytes_in_ps = adm_rate(s.bytes_in, adm.last.bytes_in, secs);
            r->bytes_out_ps = adm_rate(s.bytes_out, adm.last.bytes_out, secs);
            for (int i = 0; i < 256; i++) {
                r->srv_qps[i] = adm_rate(s.srv_queries[i], adm.last.srv_queries[i], secs);
                r->user_qps[i] = adm_rate(s.user_queries[i], adm.last.user_queries[i], secs);
            }
        }
        adm.last = s;
        adm.have_last = true;
        struct timespec dl;
        clock_gettime(CLOCK_REALTIME, &dl);
        dl.tv_sec += 1;
        while (!adm.stop && pthread_cond_timedwait(&adm.cond, &adm.lock, &dl) == 0) {
        }
    }
    pthread_mutex_unlock(&adm.lock);
    return NULL;
}

void adm_rates_get(struct adm_rates *out)
{
    pthread_mutex_lock(&adm.lock);
    *out = adm.rates;
    pthread_mutex_unlock(&adm.lock);
}

/* ---- start and stop ---- */

int admin_start(struct mx_proxy *px, int inherited_fd)
{
    if (!px->cfg->admin_listen) {
        if (inherited_fd >= 0) close(inherited_fd);
        return 0;
    }
    adm.stop = false;
    if (pthread_create(&adm.thread, NULL, adm_sampler, px) != 0) {
        log_error("admin_failed", "msg=\"cannot start the sampler thread\"");
        return -1;
    }
    adm.running = true;
    if (http_start(px, inherited_fd) != 0) {
        admin_stop();
        return -1;
    }
    return 0;
}

int admin_listen_fd(void)
{
    return http_listen_fd();
}

void admin_quiesce(void)
{
    http_quiesce();
}

void admin_stop(void)
{
    http_stop();
    if (!adm.running) return;
    pthread_mutex_lock(&adm.lock);
    adm.stop = true;
    pthread_cond_signal(&adm.cond);
    pthread_mutex_unlock(&adm.lock);
    pthread_join(adm.thread, NULL);
    adm.running = false;
}

/* ---- names ---- */

const char *adm_state_name(int state)
{
    switch (state) {
    case SRV_UP: return "up";
    case SRV_DOWN: return "down";
    case SRV_DRAINING: return "draining";
    case SRV_MAINT: return "maint";
    default: return "unknown";
    }
}

const char *adm_pin_name(int bit)
{
    static const char *const names[32] = {
        [0] = "transaction",  [1] = "lock_tables", [2] = "get_lock",   [3] = "temporary_table",
        [4] = "user_variable", [5] = "text_prepare", [6] = "found_rows", [7] = "handler",
        [8] = "xa",           [9] = "savepoint",   [10] = "unsure",    [11] = "session_variable",
        [12] = "routine",     [13] = "sequence",   [14] = "backup_lock", [15] = "profiling",
        [16] = "next_transaction", [17] = "role",
        [20] = "prepared_statement", [21] = "long_data", [22] = "cursor", [23] = "set_option",
        [24] = "server_state",
    };
    _Static_assert(CLS_PIN_NEXT_TRX == 1u << 16 && SESS_PIN_PREPARED == 1u << 20 &&
                       SESS_PIN_OPTION == 1u << 23,
                   "pin names follow enum cls_pin and SESS_PIN_*");
    return bit >= 0 && bit < 32 ? names[bit] : NULL;
}

const char *adm_sess_state_name(int state)
{
    static const char *const names[] = {
        [SS_HANDSHAKE] = "handshake",   [SS_AUTH_SWITCH] = "auth",  [SS_AUTH_FULL] = "auth",
        [SS_AUTH_RSA] = "auth",         [SS_CONNECTING] = "connecting", [SS_IDLE] = "idle",
        [SS_WAIT_BACKEND] = "waiting",  [SS_SYNC] = "sync",         [SS_FORWARD] = "query",
        [SS_DISCARD] = "query",
        [SS_RESPONSE] = "response",     [SS_DIAG] = "diagnostics",     [SS_INFILE] = "infile",     [SS_LOCAL] = "local",
        [SS_KILL_WAIT] = "kill",
        [SS_CLOSING] = "closing",
    };
    if (state < 0 || (size_t)state >= sizeof names / sizeof names[0] || !names[state])
        return "unknown";
    return names[state];
}

const char *adm_command_name(int cmd)
{
    static const char *const names[0x20] = {
        "sleep",         "quit",         "init_db",       "query",         "field_list",
        "create_db",     "drop_db",      "refresh",       "shutdown",      "statistics",
        "process_info",  "connect",      "process_kill",  "debug",         "ping",
        "time",          "delayed_insert", "change_user", "binlog_dump",   "table_dump",
        "connect_out",   "register_slave", "stmt_prepare", "stmt_execute", "stmt_send_long_data",
        "stmt_close",    "stmt_reset",   "set_option",    "stmt_fetch",    "daemon",
        "binlog_dump_gtid", "reset_connection",
    };
    if (cmd >= 0 && cmd < 0x20) return names[cmd];
    if (cmd == 0xfa) return "stmt_bulk_execute";
    return "unknown";
}
