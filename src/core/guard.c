/* Connection-storm protection: a token bucket and a handshake bound per worker
 * (queued sessions get their greeting later, so a storm of connects cannot
 * starve established sessions), and a small table of client addresses that
 * failed authentication too often. */
#include "core/guard.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/session.h"
#include "core/worker.h"
#include "pool/pool.h"

static int share(int total, const struct mx_worker *w)
{
    int n = w->px->n_workers;
    int v = total / n + (w->id < total % n ? 1 : 0);
    return v > 0 ? v : 1;
}

static void refill(struct mx_worker *w, uint64_t now)
{
    const struct mx_config *cfg = w->px->cfg;
    if (cfg->accept_rate <= 0) return;
    int rate = share(cfg->accept_rate, w), burst = share(cfg->accept_burst, w);
    if (!w->guard_last_ms) {
        w->guard_tokens = burst;
        w->guard_last_ms = now;
        return;
    }
    uint64_t el = now - w->guard_last_ms;
    int add = (int)(el * (uint64_t)rate / 1000);
    if (add > 0) {
        w->guard_tokens = w->guard_tokens + add > burst ? burst : w->guard_tokens + add;
        w->guard_last_ms += (uint64_t)add * 1000 / (uint64_t)rate;
    }
}

static bool can_start(struct mx_worker *w)
{
    const struct mx_config *cfg = w->px->cfg;
    if (w->handshaking >= share(cfg->max_handshakes, w)) return false;
    if (cfg->accept_rate > 0) {
        refill(w, mx_now_ms());
        if (w->guard_tokens <= 0) return false;
    }
    return true;
}

static void start(struct mx_worker *w, struct mx_session *s)
{
    if (w->px->cfg->accept_rate > 0) w->guard_tokens--;
    w->handshaking++;
    s->in_handshake = true;
    session_send_greeting(s);
}

static void on_guard_timer(uv_timer_t *t)
{
    struct mx_worker *w = t->data;
    guard_tick(w);
    if (!w->guard_head) uv_timer_stop(t);
}

bool guard_admit(struct mx_worker *w, struct mx_session *s)
{
    if (!w->guard_head && can_start(w)) {
        start(w, s);
        return true;
    }
    s->guard_next = NULL;
    s->guard_queued = true;
    if (w->guard_tail) w->guard_tail->guard_next = s;
    else w->guard_head = s;
    w->guard_tail = s;
    STAT_ADD(w->px->stats.accept_deferred, 1);
    if (!uv_is_active((uv_handle_t *)&w->guard_timer))
        uv_timer_start(&w->guard_timer, on_guard_timer, 10, 10);
    return false;
}

void guard_forget(struct mx_session *s)
{
    struct mx_worker *w = s->w;
    if (s->guard_queued) {
        struct mx_session **pp = &w->guard_head, *prev = NULL;
        while (*pp && *pp != s) {
            prev = *pp;
            pp = &(*pp)->guard_next;
        }
        if (*pp) {
            *pp = s->guard_next;
            if (w->guard_tail == s) w->guard_tail = prev;
        }
        s->guard_queued = false;
    }
    guard_handshake_done(s);
}

void guard_handshake_done(struct mx_session *s)
{
    if (!s->in_handshake) return;
    s->in_handshake = false;
    s->w->handshaking--;
}

void guard_tick(struct mx_worker *w)
{
    while (w->guard_head && can_start(w)) {
        struct mx_session *s = w->guard_head;
        w->guard_head = s->guard_next;
        if (!w->guard_head) w->guard_tail = NULL;
        s->guard_queued = false;
        start(w, s);
    }
}

/* ---- authentication failures by address ---- */

#define ADDR_SLOTS 1024
static struct addr_entry {
    char ip[48];
    int failures;
    uint64_t window_start, blocked_until;
    bool logged;
} addrs[ADDR_SLOTS];
static pthread_mutex_t addr_lock = PTHREAD_MUTEX_INITIALIZER;

static struct addr_entry *addr_find(const char *ip, bool create, uint64_t now)
{
    uint64_t h = 1469598103934665603ull;
    for (const char *p = ip; *p; p++) h = (h ^ (uint8_t)*p) * 1099511628211ull;
    struct addr_entry *victim = NULL;
    for (int i = 0; i < 8; i++) { /* 8-way set: the stalest entry makes room */
        struct addr_entry *e = &addrs[(h + (uint64_t)i) % ADDR_SLOTS];
        if (strcmp(e->ip, ip) == 0) return e;
        if (!victim || e->window_start < victim->window_start) victim = e;
    }
    if (!create) return NULL;
    memset(victim, 0, sizeof *victim);
    snprintf(victim->ip, sizeof victim->ip, "%s", ip);
    victim->window_start = now;
    return victim;
}

enum guard_verdict guard_addr_check(struct mx_proxy *px, const char *ip)
{
    const struct mx_config *cfg = px->cfg;
    uint64_t now = mx_now_ms();
    enum guard_verdict v = GUARD_OK;
    pthread_mutex_lock(&addr_lock);
    struct addr_entry *e = addr_find(ip, false, now);
    if (e && e->blocked_until > now) v = GUARD_BLOCKED;
    else if (e && now - e->window_start < (uint64_t)cfg->auth_fail_window_ms &&
             e->failures >= (cfg->auth_fail_max + 1) / 2)
        v = GUARD_SLOW;
    pthread_mutex_unlock(&addr_lock);
    return v;
}

void guard_addr_failed(struct mx_proxy *px, const char *ip)
{
    const struct mx_config *cfg = px->cfg;
    uint64_t now = mx_now_ms();
    pthread_mutex_lock(&addr_lock);
    struct addr_entry *e = addr_find(ip, true, now);
    if (now - e->window_start >= (uint64_t)cfg->auth_fail_window_ms) {
        e->window_start = now;
        e->failures = 0;
        e->logged = false;
    }
    if (++e->failures >= cfg->auth_fail_max && e->blocked_until <= now) {
        e->blocked_until = now + (uint64_t)cfg->auth_fail_block_ms;
        STAT_ADD(px->stats.auth_blocks, 1);
        if (!e->logged) { /* once per window */
            e->logged = true;
            log_warn("client_blocked", "client=%s failures=%d block_ms=%d", ip, e->failures,
                     cfg->auth_fail_block_ms);
        }
    }
    pthread_mutex_unlock(&addr_lock);
}

void guard_addr_succeeded(struct mx_proxy *px, const char *ip)
{
    (void)px;
    pthread_mutex_lock(&addr_lock);
    struct addr_entry *e = addr_find(ip, false, 0);
    if (e && e->blocked_until == 0) e->failures = 0;
    pthread_mutex_unlock(&addr_lock);
}
