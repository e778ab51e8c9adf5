/* Health scheduler: per backend a timer on the control loop runs the configured
 * check every interval; results go through the rise/fall/drain state machine
 * into px->servers[i].state, with one log line per state change. */
#include "health/health.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/proxy.h"
#include "core/config.h"
#include "health/check.h"
#include "pool/cap.h"

/* One backend slot (control thread only). Slots are stable across reloads. */
struct health_srv {
    size_t idx;
    uv_timer_t tick;
    struct check_conn *running; /* the check in flight, or NULL */
    struct health_track track;
    int last_outcome;      /* -1 before the first result */
    bool tick_open;        /* tick initialised (closed by health_stop) */
    int type, interval_ms; /* what the tick runs now (MX_CHECK_NONE: stopped) */
    struct check_conn *cpus_probe; /* asking its status port for its CPU count, or NULL */
    uint64_t cpus_next_ms;         /* when to ask again after a probe that found none */
    bool cpus_failed_logged;
    bool cpus_recheck; /* back up after being down: ask again, keep the old count meanwhile */
};

static struct {
    uv_loop_t *loop;
    struct mx_proxy *px;
    struct health_srv *srv; /* [MX_MAX_SERVERS] */
    uv_timer_t watch;       /* notices a reloaded configuration */
    uint64_t generation;    /* of the configuration the timers follow */
    bool watch_open;
} health;

const char *health_state_name(int state)
{
    switch (state) {
    case SRV_UP:
        return "up";
    case SRV_DOWN:
        return "down";
    case SRV_DRAINING:
        return "draining";
    case SRV_MAINT:
        return "maintenance";
    default:
        return "?";
    }
}

int health_next_state(struct health_track *t, int cur, enum health_outcome o, int rise, int fall)
{
    if (rise < 1) rise = 1;
    if (fall < 1) fall = 1;
    if (o == HC_SKIP) return cur;
    /* A drain this machine did not set is an operator's (or the flag is stale). */
    if (cur != SRV_DRAINING) t->drain_by_check = false;
    switch (o) {
    case HC_OK:
        t->fail_run = 0;
        if (t->ok_run < rise) t->ok_run++;
        break;
    case HC_FAIL:
        t->ok_run = 0;
        if (t->fail_run < fall) t->fail_run++;
        break;
    case HC_DRAIN:
        /* Alive and answering, so not a failure; but not a success either. */
        t->ok_run = 0;
        t->fail_run = 0;
        break;
    case HC_SKIP:
        break;
    }
    switch (cur) {
    case SRV_MAINT:
        return cur; /* the operator's choice */
    case SRV_DRAINING:
        if (!t->drain_by_check) return cur; /* an operator's drain */
        if (o == HC_OK && t->ok_run >= rise) {
            t->drain_by_check = false;
            return SRV_UP;
        }
        if (o == HC_FAIL && t->fail_run >= fall) {
            t->drain_by_check = false;
            return SRV_DOWN;
        }
        return cur;
    case SRV_UP:
        if (o == HC_DRAIN) {
            t->drain_by_check = true;
            return SRV_DRAINING;
        }
        if (o == HC_FAIL && t->fail_run >= fall) return SRV_DOWN;
        return cur;
    case SRV_DOWN:
        if (o == HC_OK && t->ok_run >= rise) return SRV_UP;
        return cur;
    default:
        return cur;
    }
}

static void health_on_result(void *arg, const struct health_result *r)
{
    struct health_srv *hs = arg;
    hs->running = NULL;
    struct mx_server *s = &health.px->servers[hs->idx];
    const struct mx_config *cfg = atomic_load(&health.px->cfg);
    if (hs->idx >= cfg->n_backends || cfg->backends[hs->idx].health.type == MX_CHECK_NONE)
        return; /* removed, or its checks switched off, by a reload meanwhile */
    const struct mx_backend_cfg *bc = &cfg->backends[hs->idx];
    if (r->outcome == HC_SKIP) { /* the server's state and counters stay as they are */
        if (hs->last_outcome != (int)HC_SKIP)
            log_warn("check_skipped", "backend=%s detail=\"%s\" msg=\"mymux is out of "
                     "descriptors; the check is not counted\"", bc->name, r->detail);
        hs->last_outcome = (int)HC_SKIP;
        return;
    }
    atomic_store(&s->check_ok, r->outcome == HC_OK ? 1 : 0);
    atomic_store(&s->check_latency_us, r->latency_us);
    pthread_mutex_lock(&s->check_lock);
    snprintf(s->check_detail, sizeof s->check_detail, "%s", r->detail);
    pthread_mutex_unlock(&s->check_lock);
    if (r->outcome == HC_OK) { /* leastlatency's first estimate, until traffic gives one */
        uint_least64_t none = 0;
        atomic_compare_exchange_strong(&s->ewma_us, &none, (uint_least64_t)r->latency_us + 1);
    }
    if (r->outcome == HC_FAIL) STAT_ADD(s->checks_failed, 1);
    if (r->outcome != HC_OK && (int)r->outcome != hs->last_outcome)
        log_debug("check_failed", "backend=%s detail=\"%s\"", bc->name, r->detail);
    hs->last_outcome = (int)r->outcome;

    int cur = atomic_load(&s->state);
    int next = health_next_state(&hs->track, cur, r->outcome, bc->health.rise, bc->health.fall);
    if (next == cur) return;
    /* An operator may have changed the state since it was read: theirs wins. */
    if (!atomic_compare_exchange_strong(&s->state, &cur, next)) {
        hs->track.drain_by_check = false;
        return;
    }
    uint64_t now = mx_now_ms();
    if (next == SRV_UP) atomic_store(&s->up_since_ms, now);
    if (next == SRV_UP && cur == SRV_DOWN) { /* perhaps restarted: its CPUs are asked again */
        hs->cpus_recheck = true;
        hs->cpus_next_ms = 0;
    }
    srv_state_changed(s, now);
    atomic_fetch_add(&s->check_transitions, 1);
    char reason[160];
    if (r->outcome == HC_OK)
        snprintf(reason, sizeof reason, "%d successful checks, last: %s", hs->track.ok_run,
                 r->detail);
    else if (r->outcome == HC_FAIL)
        snprintf(reason, sizeof reason, "%d failed checks, last: %s", hs->track.fail_run,
                 r->detail);
    else
        snprintf(reason, sizeof reason, "shutting down gracefully: %s", r->detail);
    /* a server lost is an operator's concern; one coming back is news */
    log_event(next == SRV_DOWN ? MX_LOG_WARN : MX_LOG_INFO, "backend_state",
              "backend=%s from=%s to=%s reason=\"%s\"", bc->name, health_state_name(cur),
              health_state_name(next), reason);
}

/* pool.max_per_backend: auto sizes a server's cap by its CPU count. A server
 * with a status port (TiDB's) says it: the probe asks until it has an answer,
 * every 30 s, and again when the server comes back up (it may have restarted
 * on other hardware). Other servers keep the fallback unless backends[].cpus
 * states it. */
#define CPUS_RETRY_MS 30000

static void health_on_cpus(void *arg, const struct health_result *r)
{
    struct health_srv *hs = arg;
    hs->cpus_probe = NULL;
    const struct mx_config *cfg = atomic_load(&health.px->cfg);
    if (hs->idx >= cfg->n_backends) return;
    const struct mx_backend_cfg *bc = &cfg->backends[hs->idx];
    struct mx_server *s = &health.px->servers[hs->idx];
    if (r->outcome != HC_OK || r->cpus <= 0) {
        hs->cpus_next_ms = mx_now_ms() + CPUS_RETRY_MS;
        if (!hs->cpus_failed_logged)
            log_info("backend_cpus_unknown", "backend=%s detail=\"%s\" cap=%d msg=\"its status "
                     "port did not give its CPU count; pool.max_per_backend: auto keeps the "
                     "fallback\"", bc->name, r->detail, pool_server_cap(cfg, s, hs->idx));
        hs->cpus_failed_logged = true;
        return;
    }
    hs->cpus_failed_logged = false;
    hs->cpus_recheck = false;
    int was = atomic_exchange(&s->cpus, r->cpus);
    if (was != r->cpus)
        log_info("backend_cpus", "backend=%s cpus=%d cap=%d source=status_port", bc->name,
                 r->cpus, pool_server_cap(cfg, s, hs->idx));
}

static bool health_wants_cpus(const struct mx_config *cfg, const struct mx_backend_cfg *bc)
{
    return cfg->pool_max_auto && bc->max_connections <= 0 && bc->cpus <= 0 &&
           (bc->status_port > 0 || bc->health.type == MX_CHECK_STATUS);
}

static void health_ask_cpus(struct health_srv *hs, const struct mx_config *cfg)
{
    const struct mx_backend_cfg *bc = &cfg->backends[hs->idx];
    struct mx_server *s = &health.px->servers[hs->idx];
    if (hs->cpus_probe || !health_wants_cpus(cfg, bc) ||
        (atomic_load(&s->cpus) > 0 && !hs->cpus_recheck) || mx_now_ms() < hs->cpus_next_ms)
        return;
    hs->cpus_probe = check_start_cpus(health.loop, cfg, bc, hs, health_on_cpus);
}

static void health_on_tick(uv_timer_t *t)
{
    struct health_srv *hs = t->data;
    const struct mx_config *cfg = atomic_load(&health.px->cfg);
    if (hs->idx >= cfg->n_backends) return;
    health_ask_cpus(hs, cfg);
    if (hs->running) return; /* a check slower than the interval: skip this round */
    /* The check keeps pointers into cfg: old snapshots stay valid until exit. */
    hs->running = check_start(health.loop, cfg, &cfg->backends[hs->idx], hs, health_on_result);
}

/* Makes every slot's timer follow cfg: started, restarted with a new interval
 * or type (counters reset), or stopped. */
static void health_apply(const struct mx_config *cfg)
{
    size_t checked = 0;
    for (size_t i = 0; i < MX_MAX_SERVERS; i++) {
        struct health_srv *hs = &health.srv[i];
        const struct mx_check_cfg *hc = i < cfg->n_backends ? &cfg->backends[i].health : NULL;
        int type = hc ? (int)hc->type : MX_CHECK_NONE;
        int interval = hc && hc->interval_ms > 0 ? hc->interval_ms : 2000;
        if (type != MX_CHECK_NONE) checked++;
        if (type == hs->type && (type == MX_CHECK_NONE || interval == hs->interval_ms)) continue;
        if (type != hs->type) {
            memset(&hs->track, 0, sizeof hs->track);
            hs->last_outcome = -1;
        }
        hs->type = type;
        hs->interval_ms = interval;
        if (type == MX_CHECK_NONE) {
            if (hs->tick_open) uv_timer_stop(&hs->tick);
            continue;
        }
        if (!hs->tick_open) {
            uv_timer_init(health.loop, &hs->tick);
            hs->tick.data = hs;
            hs->tick_open = true;
        }
        /* The first checks are spread over 100 ms so that backends are not all
         * probed in the same instant. */
        uv_timer_start(&hs->tick, health_on_tick, (uint64_t)(i * 100 / MX_MAX_SERVERS),
                       (uint64_t)interval);
    }
    health.generation = cfg->generation;
    log_info("health_checks", "generation=%llu backends=%zu checked=%zu",
             (unsigned long long)cfg->generation, cfg->n_backends, checked);
}

static void health_on_watch(uv_timer_t *t)
{
    const struct mx_config *cfg = atomic_load(&health.px->cfg);
    if (cfg->generation != health.generation) health_apply(cfg);
}

int health_start(uv_loop_t *loop, struct mx_proxy *px)
{
    health.loop = loop;
    health.px = px;
    health.srv = calloc(MX_MAX_SERVERS, sizeof *health.srv);
    if (!health.srv) return UV_ENOMEM;
    const struct mx_config *cfg = atomic_load(&px->cfg);
    for (size_t i = 0; i < MX_MAX_SERVERS; i++) {
        health.srv[i].idx = i;
        health.srv[i].last_outcome = -1;
        health.srv[i].type = MX_CHECK_NONE;
        if (i < cfg->n_backends && atomic_load(&px->servers[i].state) == SRV_UP)
            atomic_store(&px->servers[i].up_since_ms, mx_now_ms());
    }
    health_apply(cfg);
    uv_timer_init(loop, &health.watch);
    health.watch_open = true;
    uv_timer_start(&health.watch, health_on_watch, 500, 500);
    return 0;
}

void health_stop(void)
{
    if (health.watch_open) uv_close((uv_handle_t *)&health.watch, NULL);
    health.watch_open = false;
    for (size_t i = 0; health.srv && i < MX_MAX_SERVERS; i++) {
        struct health_srv *hs = &health.srv[i];
        if (hs->running) check_abort(hs->running);
        hs->running = NULL;
        if (hs->cpus_probe) check_abort(hs->cpus_probe);
        hs->cpus_probe = NULL;
        if (hs->tick_open) uv_close((uv_handle_t *)&hs->tick, NULL);
        hs->tick_open = false;
    }
}

/* Frees what health_start allocated, once the loop has closed every handle. */
void health_free(void)
{
    free(health.srv);
    health.srv = NULL;
}
