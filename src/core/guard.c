/* Connection-storm protection: a token bucket and a handshake bound per worker
 * with a share per client address (queued sessions get their greeting later,
 * so a storm of connects cannot starve established sessions and one address's
 * slow clients cannot starve other addresses' logins), and small tables of the
 * client addresses and user names that failed authentication too often. */
#include "core/guard.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "session/session.h"
#include "core/proxy.h"
#include "core/config.h"
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

/* ---- handshakes in progress per (worker, client address) ----
 * Only entries with a count are live; they empty out in any order, so a
 * lookup reads its whole probe run. A run with no free slot leaves the
 * address untracked (the session's hs_addr_counted stays false and nothing
 * is given back). */

#define HS_SLOTS 4096
#define HS_PROBE 16
static struct hs_entry {
    char ip[64];
    int worker;
    int count;
} hs_addrs[HS_SLOTS];
static pthread_mutex_t hs_lock = PTHREAD_MUTEX_INITIALIZER;

static uint64_t key_hash(const char *k, int salt)
{
    uint64_t h = 1469598103934665603ull ^ (uint64_t)(unsigned)salt;
    for (const char *p = k; *p; p++)
        h = (h ^ (uint8_t)*p) * 1099511628211ull;
    return h;
}

static void session_ip(const struct mx_session *s, char *out, size_t cap)
{
    snprintf(out, cap, "%s", s->peer);
    char *colon = strrchr(out, ':');
    if (colon) *colon = 0;
}

int guard_addr_share(int slots)
{
    int v = slots - slots / 4;
    return v > 0 ? v : 1;
}

/* Takes one of the address's slots on this worker if it holds less than its
 * share; false when it holds its share already. */
static bool hs_addr_take(struct mx_worker *w, struct mx_session *s)
{
    char ip[64];
    session_ip(s, ip, sizeof ip);
    int limit = guard_addr_share(share(w->px->cfg->max_handshakes, w));
    uint64_t h = key_hash(ip, w->id);
    bool ok = true;
    pthread_mutex_lock(&hs_lock);
    struct hs_entry *free_e = NULL, *e = NULL;
    for (int i = 0; i < HS_PROBE; i++) {
        struct hs_entry *c = &hs_addrs[(h + (uint64_t)i) % HS_SLOTS];
        if (c->count == 0) {
            if (!free_e) free_e = c;
            continue;
        }
        if (c->worker == w->id && strcmp(c->ip, ip) == 0) {
            e = c;
            break;
        }
    }
    if (e && e->count >= limit) {
        ok = false;
    } else if (e || free_e) {
        if (!e) {
            e = free_e;
            snprintf(e->ip, sizeof e->ip, "%s", ip);
            e->worker = w->id;
        }
        e->count++;
        s->hs_addr_counted = true;
    }
    pthread_mutex_unlock(&hs_lock);
    return ok;
}

static void hs_addr_release(struct mx_session *s)
{
    if (!s->hs_addr_counted) return;
    s->hs_addr_counted = false;
    char ip[64];
    session_ip(s, ip, sizeof ip);
    uint64_t h = key_hash(ip, s->w->id);
    pthread_mutex_lock(&hs_lock);
    for (int i = 0; i < HS_PROBE; i++) {
        struct hs_entry *c = &hs_addrs[(h + (uint64_t)i) % HS_SLOTS];
        if (c->count > 0 && c->worker == s->w->id && strcmp(c->ip, ip) == 0) {
            c->count--;
            break;
        }
    }
    pthread_mutex_unlock(&hs_lock);
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
    if (!w->guard_head && can_start(w) && hs_addr_take(w, s)) {
        start(w, s);
        return true;
    }
    s->guard_next = NULL;
    s->guard_queued = true;
    if (w->guard_tail) w->guard_tail->guard_next = s;
    else w->guard_head = s;
    w->guard_tail = s;
    /* sessions ahead may be waiting only for their own address's share */
    if (w->guard_head != s) guard_tick(w);
    if (!s->guard_queued) return true;
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
    hs_addr_release(s);
}

/* In order, every queued session whose address is under its share starts
 * while the worker has room; the others keep their place. */
void guard_tick(struct mx_worker *w)
{
    struct mx_session *prev = NULL, *s = w->guard_head;
    while (s && can_start(w)) {
        struct mx_session *next = s->guard_next;
        if (!hs_addr_take(w, s)) {
            prev = s;
            s = next;
            continue;
        }
        if (prev) prev->guard_next = next;
        else w->guard_head = next;
        if (w->guard_tail == s) w->guard_tail = prev;
        s->guard_queued = false;
        start(w, s); /* may close s; prev and next stay queued */
        s = next;
    }
}

/* ---- authentication failures by address and by user name ----
 * Two tables of the same entries: client addresses, and the user names
 * clients asked for (known or not, so the guard tells nothing about which
 * exist). A check takes a failure in advance (pending) and gives it back when
 * it passes, so the rule holds over attempts that run in parallel on several
 * workers. A success never clears an address: a user who knows one password
 * must not wipe out the failures of guesses at another. */

#define AF_SLOTS 1024
#define AF_WAYS 8
struct af_entry {
    char key[136];
    int failures, pending;
    uint64_t window_start, blocked_until, last_ms;
    bool logged;
};
static struct af_entry af_addrs[AF_SLOTS], af_users[AF_SLOTS];
static pthread_mutex_t af_lock = PTHREAD_MUTEX_INITIALIZER;

/* An 8-way set: a pending or blocked entry is never the one that makes room,
 * or a stream of new names could wipe out the failures of an attack. */
static struct af_entry *af_find(struct af_entry *tab, const char *key, bool create, uint64_t now)
{
    uint64_t h = key_hash(key, 0);
    struct af_entry *victim = NULL;
    for (int i = 0; i < AF_WAYS; i++) {
        struct af_entry *e = &tab[(h + (uint64_t)i) % AF_SLOTS];
        if (e->key[0] && strcmp(e->key, key) == 0) return e;
        if (e->pending > 0 || e->blocked_until > now) continue;
        if (!victim || e->last_ms < victim->last_ms) victim = e;
    }
    if (!create || !victim) return NULL;
    memset(victim, 0, sizeof *victim);
    snprintf(victim->key, sizeof victim->key, "%s", key);
    victim->last_ms = now;
    return victim;
}

/* Failures older than the window are forgotten. */
static void af_age(struct af_entry *e, uint64_t now, int window_ms)
{
    if (e->failures > 0 && now - e->window_start >= (uint64_t)window_ms) {
        e->failures = 0;
        e->logged = false;
    }
    e->last_ms = now;
}

/* Checks one at a time may run while failures stay below max; once an
 * address reached it, one check at a time (the first after a block ends
 * starts the next block if it fails). */
static int af_room(const struct af_entry *e, int max)
{
    int r = max - e->failures;
    return r > 0 ? r : 1;
}

static void af_fail(struct mx_proxy *px, struct af_entry *e, uint64_t now, bool is_addr)
{
    const struct mx_config *cfg = px->cfg;
    if (e->failures == 0) e->window_start = now;
    if (e->failures < INT32_MAX) e->failures++;
    if (!is_addr || e->failures < cfg->auth_fail_max || e->blocked_until > now) return;
    e->blocked_until = now + (uint64_t)cfg->auth_fail_block_ms;
    STAT_ADD(px->stats.auth_blocks, 1);
    if (!e->logged) { /* once per window */
        e->logged = true;
        log_warn("client_blocked", "client=%s failures=%d block_ms=%d", e->key, e->failures,
                 cfg->auth_fail_block_ms);
    }
}

enum guard_verdict guard_addr_check(struct mx_proxy *px, const char *ip)
{
    uint64_t now = mx_now_ms();
    enum guard_verdict v = GUARD_OK;
    (void)px;
    pthread_mutex_lock(&af_lock);
    struct af_entry *e = af_find(af_addrs, ip, false, now);
    if (e && e->blocked_until > now) v = GUARD_BLOCKED;
    pthread_mutex_unlock(&af_lock);
    return v;
}

enum guard_verdict guard_auth_begin(struct mx_proxy *px, const char *ip, const char *user)
{
    const struct mx_config *cfg = px->cfg;
    uint64_t now = mx_now_ms();
    enum guard_verdict v = GUARD_OK;
    pthread_mutex_lock(&af_lock);
    struct af_entry *a = af_find(af_addrs, ip, true, now);
    struct af_entry *u = af_find(af_users, user, true, now);
    if (!a || !u) { /* every way of the set is in a check or blocked: refuse, do not guess */
        v = GUARD_BLOCKED;
        goto out;
    }
    af_age(a, now, cfg->auth_fail_window_ms);
    af_age(u, now, cfg->auth_fail_window_ms);
    if (a->blocked_until > now || a->pending >= af_room(a, cfg->auth_fail_max)) {
        v = GUARD_BLOCKED;
        goto out;
    }
    /* A user name guessed at from many addresses: once it failed `max` times
     * more than this address did (so at least that often elsewhere), an
     * address that failed itself gets no more checks for it; one that never
     * failed still does, so the account's own clients are not locked out, and
     * an address whose own failures made the count has its block for them. */
    if (a->failures > 0 && u->failures - a->failures >= cfg->auth_fail_max) v = GUARD_HELD;
    a->pending++;
    u->pending++;
out:
    pthread_mutex_unlock(&af_lock);
    return v;
}

static enum guard_verdict af_end(struct mx_proxy *px, const char *ip, const char *user,
                                 enum guard_outcome o, bool took)
{
    const struct mx_config *cfg = px->cfg;
    uint64_t now = mx_now_ms();
    enum guard_verdict v = GUARD_OK;
    int slow = (cfg->auth_fail_max + 1) / 2;
    pthread_mutex_lock(&af_lock);
    struct af_entry *a = af_find(af_addrs, ip, false, now);
    struct af_entry *u = af_find(af_users, user, false, now);
    if (took && a && a->pending > 0) a->pending--;
    if (took && u && u->pending > 0) u->pending--;
    if (o == GUARD_FAILED) {
        if (!a) a = af_find(af_addrs, ip, true, now);
        if (!u) u = af_find(af_users, user, true, now);
        if (a) {
            af_age(a, now, cfg->auth_fail_window_ms);
            af_fail(px, a, now, true);
            if (a->failures >= slow) v = GUARD_SLOW;
        }
        if (u) {
            af_age(u, now, cfg->auth_fail_window_ms);
            af_fail(px, u, now, false);
            if (u->failures >= slow) v = GUARD_SLOW;
        }
    } else if (o == GUARD_PASSED && u) {
        u->failures = 0;
    }
    pthread_mutex_unlock(&af_lock);
    return v;
}

enum guard_verdict guard_auth_end(struct mx_proxy *px, const char *ip, const char *user,
                                  enum guard_outcome o)
{
    return af_end(px, ip, user, o, true);
}

void guard_addr_failed(struct mx_proxy *px, const char *ip, const char *user)
{
    (void)af_end(px, ip, user, GUARD_FAILED, false);
}
