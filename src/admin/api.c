/* Admin JSON API: the documents (status, backends, pools, sessions, users,
 * digests) and the actions (drain, enable, disable, weight, recycle, kill, reload). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin_int.h"
#include "admin/digest.h"
#include "core/clock.h"
#include "core/log.h"
#include "session/session.h"
#include "core/reload.h"
#include "core/proxy.h"
#include "core/config.h"
#include "core/registry.h"
#include "core/snapshot.h"
#include "core/worker.h"
#include "pool/cap.h"
#include "pool/pool.h"

#define API_SESSIONS_MAX 100000 /* per worker, per request */

static double ms_of_us(uint64_t us)
{
    return (double)us / 1000.0;
}

/* Pool gauges of one server summed over the workers (relaxed loads of fields
 * each worker writes alone: each is a true count, not all of one instant). */
struct api_pool_sum {
    long idle, busy, opening, open, waiting;
};

static void api_pool_sum(struct mx_proxy *px, size_t srv, struct api_pool_sum *s)
{
    s->idle = (long)POOL_TOTAL(px, (int)srv, n_idle);
    s->busy = (long)POOL_TOTAL(px, (int)srv, n_busy);
    s->opening = (long)POOL_TOTAL(px, (int)srv, n_opening);
    s->open = (long)POOL_TOTAL(px, (int)srv, n_open);
    s->waiting = (long)POOL_TOTAL(px, (int)srv, n_wait);
}

static json_t *api_pins(const mx_counter *pins)
{
    json_t *o = json_object();
    for (int b = 0; b < 32; b++) {
        const char *n = adm_pin_name(b);
        if (n) json_object_set_new(o, n, json_integer((json_int_t)STAT_GET(pins[b])));
    }
    return o;
}

json_t *api_status(struct mx_proxy *px)
{
    const struct mx_config *cfg = px->cfg;
    struct adm_rates rt;
    adm_rates_get(&rt);
    uint64_t now = mx_now_ms();
    struct mx_stats tot;
    stats_proc_total(px, &tot);
    struct mx_stats *st = &tot;
    json_t *j = json_pack(
        "{s:s, s:I, s:I, s:i, s:i, s:I, s:I, s:I, s:f, s:I, s:I, s:I, s:f, s:f, s:I, s:I, s:I}",
        "version", MYMUX_VERSION, "uptime_s", (json_int_t)((now - px->started_ms) / 1000),
        "config_generation", (json_int_t)cfg->generation, "workers", px->n_workers,
        "sessions", atomic_load(&px->sessions_total), "accepted",
        (json_int_t)STAT_GET(st->accepted), "refused", (json_int_t)STAT_GET(st->refused),
        "queries", (json_int_t)STAT_GET(st->queries), "qps", rt.qps, "errors",
        (json_int_t)STAT_GET(st->errors), "bytes_in", (json_int_t)STAT_GET(st->bytes_in),
        "bytes_out", (json_int_t)STAT_GET(st->bytes_out), "bytes_in_per_s", rt.bytes_in_ps,
        "bytes_out_per_s", rt.bytes_out_ps, "auth_failures", (json_int_t)STAT_GET(st->auth_failures),
        "kills", (json_int_t)STAT_GET(st->kills), "handshake_timeouts",
        (json_int_t)STAT_GET(st->handshake_timeouts));
    if (j) {
        json_object_set_new(j, "auth_blocks", json_integer((json_int_t)STAT_GET(st->auth_blocks)));
        json_object_set_new(j, "accept_deferred",
                            json_integer((json_int_t)STAT_GET(st->accept_deferred)));
        json_object_set_new(j, "user_limit_refused",
                            json_integer((json_int_t)STAT_GET(st->user_limit_refused)));
        json_object_set_new(j, "queue_full", json_integer((json_int_t)STAT_GET(st->queue_full)));
    }
    if (j) json_object_set_new(j, "sessions_peak", json_integer(atomic_load(&px->sessions_peak)));
    if (j) json_object_set_new(j, "pins", api_pins(st->pins));
    return j;
}

static json_t *api_backend(struct mx_proxy *px, size_t i, const struct adm_rates *rt)
{
    const struct mx_backend_cfg *bc = &px->cfg->backends[i];
    struct mx_server *sv = &px->servers[i];
    struct api_pool_sum ps;
    api_pool_sum(px, i, &ps);
    int w = atomic_load(&sv->weight);
    int max = pool_server_cap(px->cfg, sv, i);
    int ok = atomic_load(&sv->check_ok);
    char detail[sizeof sv->check_detail];
    pthread_mutex_lock(&sv->check_lock);
    memcpy(detail, sv->check_detail, sizeof detail);
    pthread_mutex_unlock(&sv->check_lock);
    detail[sizeof detail - 1] = 0;
    /* transitions: the state changes its checks made; failed: checks that failed */
    json_t *check = json_pack("{s:o, s:f, s:s, s:I, s:I}", "ok",
                              ok < 0 ? json_null() : json_boolean(ok), "latency_ms",
                              ms_of_us(atomic_load(&sv->check_latency_us)), "detail",
                              ok < 0 ? "" : detail, "transitions",
                              (json_int_t)atomic_load(&sv->check_transitions), "failed",
                              (json_int_t)STAT_GET(sv->checks_failed));
    json_t *conns = json_pack("{s:i, s:I, s:I, s:I, s:I, s:i, s:i, s:i}", "open",
                              atomic_load(&sv->open), "idle", (json_int_t)ps.idle, "busy",
                              (json_int_t)ps.busy, "opening", (json_int_t)ps.opening, "lent",
                              (json_int_t)ps.busy, "max", max, "open_peak",
                              atomic_load(&sv->open_peak), "lent_peak",
                              atomic_load(&sv->busy_peak));
    uint64_t since = atomic_load(&sv->state_since_ms), now = mx_now_ms();
    if (!since || since > now) since = since ? now : px->started_ms;
    uint64_t waits = POOL_TOTAL(px, (int)i, waits), wait_us = POOL_TOTAL(px, (int)i, wait_us);
    char addr[300];
    snprintf(addr, sizeof addr, strchr(bc->host, ':') ? "[%s]:%d" : "%s:%d", bc->host, bc->port);
    json_t *j = json_pack(
        "{s:s, s:s, s:s, s:i, s:i, s:b, s:o, s:o, s:i, s:I, s:f, s:I, s:I, s:I, s:I, s:I, "
        "s:I, s:f, s:f, s:I, s:I, s:I, s:f}",
        "name", bc->name, "address", addr, "state",
        adm_state_name(atomic_load(&sv->state)), "weight", w > 0 ? w : bc->weight,
        "config_weight", bc->weight, "backup", bc->backup, "check", check, "connections", conns,
        "sessions", atomic_load(&sv->affine), "queries",
        (json_int_t)SRV_TOTAL(px, (int)i, sv, queries), "qps", i < 256 ? rt->srv_qps[i] : 0.0,
        "errors", (json_int_t)SRV_TOTAL(px, (int)i, sv, errors), "bytes_to_backend",
        (json_int_t)SRV_TOTAL(px, (int)i, sv, bytes_to_backend), "bytes_from_backend",
        (json_int_t)SRV_TOTAL(px, (int)i, sv, bytes_from_backend), "borrows",
        (json_int_t)POOL_TOTAL(px, (int)i, borrows),
        "waits", (json_int_t)waits, "queue", (json_int_t)ps.waiting, "wait_ms_total",
        ms_of_us(wait_us), "wait_ms_avg", waits ? ms_of_us(wait_us) / (double)waits : 0.0,
        "connects", (json_int_t)POOL_TOTAL(px, (int)i, connects), "connect_errors",
        (json_int_t)POOL_TOTAL(px, (int)i, connect_errors), "resets",
        (json_int_t)POOL_TOTAL(px, (int)i, resets),
        "response_ms", ms_of_us(atomic_load(&sv->ewma_us)));
    if (j) {
        /* time in the current state, and how often it changed (any cause) */
        json_object_set_new(j, "state_s", json_integer((json_int_t)((now - since) / 1000)));
        json_object_set_new(j, "transitions", json_integer(atomic_load(&sv->transitions)));
        json_object_set_new(j, "sessions_peak", json_integer(atomic_load(&sv->affine_peak)));
        /* the CPU count pool.max_per_backend: auto sizes the cap by (null: unknown) */
        int cpus = bc->cpus > 0 ? bc->cpus : atomic_load(&sv->cpus);
        json_object_set_new(j, "cpus", cpus > 0 ? json_integer(cpus) : json_null());
    }
    return j;
}

json_t *api_backends(struct mx_proxy *px)
{
    struct adm_rates rt;
    adm_rates_get(&rt);
    json_t *a = json_array();
    for (size_t i = 0; a && i < px->cfg->n_backends; i++)
        json_array_append_new(a, api_backend(px, i, &rt));
    return a;
}

json_t *api_pools(struct mx_proxy *px)
{
    json_t *a = json_array();
    for (int w = 0; a && w < px->n_workers; w++) {
        struct mx_pool *pools = px->workers[w].pools;
        if (!pools) continue;
        for (size_t i = 0; i < px->cfg->n_backends; i++) {
            struct mx_pool *p = &pools[i];
            json_array_append_new(
                a, json_pack("{s:i, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
                             "s:I}",
                             "worker", w, "backend", px->cfg->backends[i].name, "idle",
                             (json_int_t)STAT_GET(p->n_idle), "busy",
                             (json_int_t)STAT_GET(p->n_busy), "opening",
                             (json_int_t)STAT_GET(p->n_opening), "open",
                             (json_int_t)STAT_GET(p->n_open), "waiting",
                             (json_int_t)STAT_GET(p->n_wait), "borrows",
                             (json_int_t)STAT_GET(p->borrows), "waits",
                             (json_int_t)STAT_GET(p->waits), "wait_ms_total",
                             (json_int_t)(STAT_GET(p->wait_us) / 1000), "opened",
                             (json_int_t)STAT_GET(p->opened), "closed",
                             (json_int_t)STAT_GET(p->closed), "resets",
                             (json_int_t)STAT_GET(p->resets), "connect_errors",
                             (json_int_t)STAT_GET(p->connect_errors)));
        }
    }
    return a;
}

static json_t *api_pin_list(uint32_t pins)
{
    json_t *a = json_array();
    for (int b = 0; b < 32; b++) {
        if (!(pins & (1u << b))) continue;
        const char *n = adm_pin_name(b);
        json_array_append_new(a, json_string(n ? n : "other"));
    }
    return a;
}

json_t *api_sessions(struct mx_proxy *px)
{
    json_t *a = json_array();
    for (int w = 0; a && w < px->n_workers; w++) {
        size_t want = px->workers[w].n_sessions + 64;
        int max = want > API_SESSIONS_MAX ? API_SESSIONS_MAX : (int)want;
        struct mx_session_info *info = calloc((size_t)max, sizeof *info);
        if (!info) break;
        int n = worker_snapshot_sessions(&px->workers[w], info, max);
        for (int k = 0; k < n; k++) {
            struct mx_session_info *s = &info[k];
            bool busy = session_state_busy((enum sess_state)s->state);
            json_t *srv = s->server >= 0 && (size_t)s->server < px->cfg->n_backends
                              ? json_string(px->cfg->backends[s->server].name)
                              : json_null();
            json_array_append_new(
                a, json_pack("{s:I, s:i, s:s, s:s, s:s, s:o, s:b, s:o, s:b, s:s, s:o, s:I, s:I}",
                             "id", (json_int_t)s->id, "worker", w, "user", s->user, "client",
                             s->peer, "schema", s->schema, "backend", srv, "has_connection",
                             s->has_backend, "pins", api_pin_list(s->pins), "in_transaction",
                             s->in_trans, "state", adm_sess_state_name(s->state), "command",
                             busy ? json_string(adm_command_name(s->cmd)) : json_null(),
                             "command_ms", (json_int_t)s->cmd_ms, "age_ms",
                             (json_int_t)s->age_ms));
        }
        free(info);
    }
    return a;
}

json_t *api_users(struct mx_proxy *px)
{
    struct adm_rates rt;
    adm_rates_get(&rt);
    json_t *a = json_array();
    for (int i = 0; a && i < atomic_load(&px->n_ustats); i++) {
        struct mx_user_stats *u = &px->ustats[i];
        json_array_append_new(
            a, json_pack("{s:s, s:i, s:I, s:I, s:I, s:f, s:I, s:I, s:I}", "name", u->name,
                         "sessions", atomic_load(&u->sessions), "connects",
                         (json_int_t)STAT_GET(u->connects), "auth_failures",
                         (json_int_t)STAT_GET(u->auth_failures), "queries",
                         (json_int_t)USER_TOTAL(px, i, u, queries), "qps",
                         i < 256 ? rt.user_qps[i] : 0.0, "errors",
                         (json_int_t)USER_TOTAL(px, i, u, errors), "bytes_in",
                         (json_int_t)USER_TOTAL(px, i, u, bytes_in), "bytes_out",
                         (json_int_t)USER_TOTAL(px, i, u, bytes_out)));
    }
    return a;
}

json_t *api_digests(struct mx_proxy *px, long top)
{
    struct dg_row *rows;
    long n = digest_collect(px, &rows);
    if (n < 0) return NULL;
    json_t *a = json_array();
    for (long i = 0; a && i < n && i < top; i++) {
        struct dg_row *r = &rows[i];
        char id[17];
        snprintf(id, sizeof id, "%016llx", (unsigned long long)r->hash);
        json_array_append_new(
            a, json_pack("{s:s, s:s, s:s, s:s, s:I, s:f, s:f, s:f, s:f, s:I, s:I, s:I, s:I}",
                         "digest", id, "text", r->text, "user", r->user, "schema", r->schema,
                         "count", (json_int_t)r->count, "total_ms", ms_of_us(r->sum_us), "avg_ms",
                         ms_of_us(r->sum_us) / (double)r->count, "min_ms", ms_of_us(r->min_us),
                         "max_ms", ms_of_us(r->max_us), "rows", (json_int_t)r->rows, "errors",
                         (json_int_t)r->errors, "first_seen_ms", (json_int_t)r->first_ms,
                         "last_seen_ms", (json_int_t)r->last_ms));
    }
    free(rows);
    return a;
}

/* ---- actions ---- */

static long api_find_backend(struct mx_proxy *px, const char *name, size_t len)
{
    for (size_t i = 0; i < px->cfg->n_backends; i++) {
        const char *n = px->cfg->backends[i].name;
        if (strlen(n) == len && memcmp(n, name, len) == 0) return (long)i;
    }
    return -1;
}

static void api_set_state(struct mx_proxy *px, size_t i, int to, struct adm_reply *r)
{
    struct mx_server *sv = &px->servers[i];
    int from = atomic_exchange(&sv->state, to);
    if (from != to) srv_state_changed(sv, mx_now_ms());
    log_info("backend_state", "backend=%s from=%s to=%s reason=admin", px->cfg->backends[i].name,
             adm_state_name(from), adm_state_name(to));
    adm_reply_json(r, 200,
                   json_pack("{s:s, s:s, s:s}", "backend", px->cfg->backends[i].name, "from",
                             adm_state_name(from), "to", adm_state_name(to)));
}

/* The weight from ?value=N, or a JSON body {"weight": N} / {"value": N}. */
static int api_weight_arg(const struct adm_request *q, long *out, char *why, size_t whylen)
{
    const char *v = adm_arg(q, "value");
    if (!v) v = adm_arg(q, "weight");
    if (!v) v = q->form_value;
    if (v) {
        char *end;
        errno = 0;
        *out = strtol(v, &end, 10);
        if (errno || end == v || *end) {
            snprintf(why, whylen, "value must be an integer, got '%.64s'", v);
            return -1;
        }
        return 0;
    }
    if (!q->body_len) {
        snprintf(why, whylen, "missing weight: ?value=N or a JSON body {\"weight\": N}");
        return -1;
    }
    json_error_t je;
    json_t *j = json_loadb(q->body, q->body_len, 0, &je);
    if (!j) {
        snprintf(why, whylen, "body is not JSON: %s", je.text);
        return -1;
    }
    json_t *w = json_object_get(j, "weight");
    if (!w) w = json_object_get(j, "value");
    if (!json_is_integer(w)) {
        json_decref(j);
        snprintf(why, whylen, "body must be {\"weight\": <integer>}");
        return -1;
    }
    *out = (long)json_integer_value(w);
    json_decref(j);
    return 0;
}

static void api_backend_action(struct mx_proxy *px, const struct adm_request *q, const char *rest,
                               struct adm_reply *r)
{
    const char *slash = strchr(rest, '/');
    if (!slash || !slash[1]) {
        adm_reply_error(r, 404,
                        "expected /api/backends/<name>/{drain,enable,disable,weight,recycle}");
        return;
    }
    long i = api_find_backend(px, rest, (size_t)(slash - rest));
    if (i < 0) {
        adm_reply_error(r, 404, "no backend named '%.*s'", (int)(slash - rest), rest);
        return;
    }
    const char *act = slash + 1;
    if (strcmp(act, "drain") == 0) {
        api_set_state(px, (size_t)i, SRV_DRAINING, r);
    } else if (strcmp(act, "enable") == 0) {
        api_set_state(px, (size_t)i, SRV_UP, r);
    } else if (strcmp(act, "disable") == 0) {
        api_set_state(px, (size_t)i, SRV_MAINT, r);
    } else if (strcmp(act, "recycle") == 0) {
        /* every worker's pool sees the count move: idle connections opened
         * before it close on the next tick, busy ones when given back, and new
         * ones take the server's current globals */
        const char *name = px->cfg->backends[i].name;
        unsigned gen = atomic_fetch_add(&px->servers[i].recycle, 1) + 1;
        log_info("backend_recycle", "backend=%s recycle=%u reason=admin", name, gen);
        adm_reply_json(r, 200, json_pack("{s:s, s:I, s:i, s:I}", "backend", name, "recycle",
                                         (json_int_t)gen, "open",
                                         atomic_load(&px->servers[i].open), "busy",
                                         (json_int_t)POOL_TOTAL(px, (int)i, n_busy)));
    } else if (strcmp(act, "weight") == 0) {
        long v;
        char why[200];
        if (api_weight_arg(q, &v, why, sizeof why) < 0) {
            adm_reply_error(r, 400, "%s", why);
            return;
        }
        if (v < 0 || v > 65535) {
            adm_reply_error(r, 400, "weight must be 1..65535 (0 = back to the configured weight)");
            return;
        }
        const struct mx_backend_cfg *bc = &px->cfg->backends[i];
        int old = atomic_exchange(&px->servers[i].weight, (int)v);
        int eff = v > 0 ? (int)v : bc->weight;
        log_info("backend_weight", "backend=%s from=%d to=%d reason=admin", bc->name,
                 old > 0 ? old : bc->weight, eff);
        adm_reply_json(r, 200, json_pack("{s:s, s:i, s:i}", "backend", bc->name, "from",
                                         old > 0 ? old : bc->weight, "to", eff));
    } else {
        adm_reply_error(r, 404,
                        "unknown backend action '%s' (drain, enable, disable, weight, recycle)", act);
    }
}

static void api_kill(struct mx_proxy *px, const char *rest, struct adm_reply *r)
{
    char *end;
    errno = 0;
    unsigned long id = strtoul(rest, &end, 10);
    if (errno || end == rest || strcmp(end, "/kill") != 0 || id == 0 || id > UINT32_MAX) {
        adm_reply_error(r, 404, "expected /api/sessions/<id>/kill");
        return;
    }
    struct mx_reg_entry e;
    if (registry_get(px, (uint32_t)id, &e) != 0 || e.worker < 0 || e.worker >= px->n_workers) {
        adm_reply_error(r, 404, "no session %lu", id);
        return;
    }
    if (!worker_post_kill(&px->workers[e.worker], (uint32_t)id, -1, 0)) {
        adm_reply_error(r, 503, "too many kills in flight for worker %d; try again", e.worker);
        return;
    }
    log_info("admin_kill", "conn_id=%lu user=%s", id, e.user);
    adm_reply_json(r, 200, json_pack("{s:I, s:s, s:b}", "id", (json_int_t)id, "user", e.user,
                                     "killed", 1));
}

/* POST /api/reload: the same reload as SIGHUP (src/core/reload.c). */
static void api_reload(struct mx_proxy *px, struct adm_reply *r)
{
    char err[512];
    if (reload_config(px, err, sizeof err) != 0) {
        log_error("reload_failed", "error=\"%s\" via=api msg=\"the old configuration stays\"",
                  err);
        adm_reply_error(r, 400, "reload failed, the old configuration stays: %s", err);
        return;
    }
    adm_reply_json(r, 200, json_pack("{s:b, s:I}", "reloaded", 1, "generation",
                                     (json_int_t)px->cfg->generation));
}

static bool api_method(const struct adm_request *q, const char *want, struct adm_reply *r)
{
    if (strcmp(q->method, want) == 0 || (strcmp(want, "GET") == 0 && !strcmp(q->method, "HEAD")))
        return true;
    adm_reply_error(r, 405, "%s %s is not allowed (use %s)", q->method, q->url, want);
    r->allow = strcmp(want, "GET") == 0 ? "GET, HEAD" : "POST";
    return false;
}

void api_handle(struct mx_proxy *px, const struct adm_request *q, struct adm_reply *r)
{
    const char *u = q->url;
    if (strcmp(u, "/api") == 0 || strcmp(u, "/api/") == 0) {
        if (!api_method(q, "GET", r)) return;
        adm_reply_json(
            r, 200,
            json_pack("{s:[s,s,s,s,s,s,s,s,s,s,s,s]}", "endpoints", "GET /api/status",
                      "GET /api/backends", "GET /api/pools", "GET /api/sessions", "GET /api/users",
                      "GET /api/digests?top=N", "POST /api/backends/<name>/drain",
                      "POST /api/backends/<name>/enable", "POST /api/backends/<name>/disable",
                      "POST /api/backends/<name>/weight?value=N",
                      "POST /api/backends/<name>/recycle",
                      "POST /api/sessions/<id>/kill", "POST /api/reload"));
        return;
    }
    if (strcmp(u, "/api/status") == 0) {
        if (api_method(q, "GET", r)) adm_reply_json(r, 200, api_status(px));
    } else if (strcmp(u, "/api/backends") == 0) {
        if (api_method(q, "GET", r)) adm_reply_json(r, 200, api_backends(px));
    } else if (strcmp(u, "/api/pools") == 0) {
        if (api_method(q, "GET", r)) adm_reply_json(r, 200, api_pools(px));
    } else if (strcmp(u, "/api/sessions") == 0) {
        if (api_method(q, "GET", r)) adm_reply_json(r, 200, api_sessions(px));
    } else if (strcmp(u, "/api/users") == 0) {
        if (api_method(q, "GET", r)) adm_reply_json(r, 200, api_users(px));
    } else if (strcmp(u, "/api/digests") == 0) {
        if (!api_method(q, "GET", r)) return;
        long top = 100;
        const char *t = adm_arg(q, "top");
        if (t) {
            char *end;
            top = strtol(t, &end, 10);
            if (end == t || *end || top < 1) {
                adm_reply_error(r, 400, "top must be a positive integer");
                return;
            }
        }
        adm_reply_json(r, 200, api_digests(px, top));
    } else if (strcmp(u, "/api/reload") == 0) {
        if (api_method(q, "POST", r)) api_reload(px, r);
    } else if (strncmp(u, "/api/backends/", 14) == 0) {
        if (api_method(q, "POST", r)) api_backend_action(px, q, u + 14, r);
    } else if (strncmp(u, "/api/sessions/", 14) == 0) {
        if (api_method(q, "POST", r)) api_kill(px, u + 14, r);
    } else {
        adm_reply_error(r, 404, "no such endpoint: %s", u);
    }
}
