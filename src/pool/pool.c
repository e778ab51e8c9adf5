/* Herding backend connections: idle lists, borrowing, the FIFO of waiters for
 * a connection, the global per-server cap, and retirement. Borrowers are known
 * only by their request and waiter (pool.h), never as sessions. */
#include "pool/pool.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/config.h"
#include "core/log.h"
#include "core/proxy.h"
#include "pool/cap.h"
#include "pool/server_conn.h"
#include "pool/stmt.h"
#include "pool/sync.h"
#include "protocol/handshake.h"

#define PX(p) ((p)->home->px)
#define SRV(p) (&PX(p)->servers[(p)->server])

static void serve_waiters(struct mx_pool *p);
static void lend(struct mx_pool *p, struct mx_backend *be, struct mx_pool_waiter *w);

static int server_cap(struct mx_pool *p)
{
    return pool_server_cap(PX(p)->cfg, SRV(p), p->server);
}

/* Each worker owns a fixed share of the server's cap, so that a session only
 * ever waits for connections its own loop will release (no cross-thread
 * wake-ups, no lock). The shares add up to the cap. */
static int worker_share(struct mx_pool *p)
{
    int cap = server_cap(p), n = PX(p)->n_workers, id = p->home->worker_id;
    int share = cap / n + (id < cap % n ? 1 : 0);
    return share > 0 ? share : 1;
}

static int share_of(const struct mx_pool *p, int total)
{
    int n = PX(p)->n_workers, id = p->home->worker_id;
    int v = total / n + (id < total % n ? 1 : 0);
    return v > 0 ? v : 1;
}

/* New backend connections are bounded in number being opened at once and in
 * rate (pool.max_connecting, pool.connect_rate), so a storm in front never
 * becomes a storm behind. */
static bool may_connect(struct mx_pool *p)
{
    const struct mx_config *cfg = PX(p)->cfg;
    if (cfg->pool_max_connecting > 0 && STAT_GET(p->n_opening) >= (uint64_t)share_of(p, cfg->pool_max_connecting))
        return false;
    if (cfg->pool_connect_rate > 0) {
        uint64_t now = mx_now_ms();
        int rate = share_of(p, cfg->pool_connect_rate);
        if (now - p->rate_since_ms >= 1000) {
            p->rate_since_ms = now;
            p->rate_used = 0;
        }
        if (p->rate_used >= rate) return false;
    }
    return true;
}

/* Takes a slot under the server's cap (all workers together); false when full.
 * A worker past its share borrows room the others do not use, and gives it
 * back when they have sessions waiting (pool_release). */
static bool slot_take(struct mx_pool *p)
{
    if (!may_connect(p)) return false;
    struct mx_server *sv = SRV(p);
    int cap = server_cap(p);
    int cur = atomic_load(&sv->open);
    while (cur < cap) {
        if (atomic_compare_exchange_weak(&sv->open, &cur, cur + 1)) {
            stat_peak(&sv->open_peak, cur + 1);
            p->rate_used++;
            HOT_ADD(p->n_open, 1);
            return true;
        }
    }
    return false;
}

/* Whether this worker should give room back: sessions of other workers wait
 * for this server while it holds more than its share, or while the cap is
 * reached and none of its own sessions waits (its idle connections are better
 * used there; with a cap below the number of workers the shares overlap). */
static bool owes_slots(struct mx_pool *p)
{
    if (atomic_load(&SRV(p)->waiting) <= (int)STAT_GET(p->n_wait)) return false;
    return STAT_GET(p->n_open) > (uint64_t)worker_share(p) ||
           (STAT_GET(p->n_wait) == 0 && atomic_load(&SRV(p)->open) >= server_cap(p));
}

static void slot_give(struct mx_pool *p)
{
    HOT_ADD(p->n_open, -1);
    atomic_fetch_sub(&SRV(p)->open, 1);
}

void pool_init(struct mx_pool *p, const struct mx_pool_home *home, int server)
{
    memset(p, 0, sizeof *p);
    p->home = home;
    p->worker = home->worker;
    p->server = server;
}

static void idle_unlink(struct mx_pool *p, struct mx_backend *be)
{
    if (be->prev) be->prev->next = be->next;
    else p->idle = be->next;
    if (be->next) be->next->prev = be->prev;
    be->next = be->prev = NULL;
    be->in_idle = false;
    HOT_ADD(p->n_idle, -1);
}

static void idle_push(struct mx_pool *p, struct mx_backend *be)
{
    be->prev = NULL;
    be->next = p->idle;
    if (p->idle) p->idle->prev = be;
    p->idle = be;
    HOT_ADD(p->n_idle, 1);
    be->in_idle = true;
    be_set_state(be, BE_IDLE);
    be->session = NULL;
    be->idle_since_ms = mx_now_ms();
}

static void all_link(struct mx_pool *p, struct mx_backend *be)
{
    be->aprev = NULL;
    be->anext = p->all;
    if (p->all) p->all->aprev = be;
    p->all = be;
}

static void all_unlink(struct mx_pool *p, struct mx_backend *be)
{
    if (be->aprev) be->aprev->anext = be->anext;
    else if (p->all == be) p->all = be->anext;
    if (be->anext) be->anext->aprev = be->aprev;
    be->anext = be->aprev = NULL;
}

/* A borrower without a schema must not get a connection that has one: no
 * statement can take a connection back to "no database". */
static bool key_matches(const struct mx_backend *be, const struct mx_pool_req *r)
{
    if (be->client_ip[0]) { /* a PROXY header named one client: only its sessions share it */
        size_t n = strlen(be->client_ip);
        const char *peer = r->peer[0] == '[' ? r->peer + 1 : r->peer;
        if (strncmp(peer, be->client_ip, n) != 0 || (peer[n] != ':' && peer[n] != ']')) return false;
    }
    return be->key_caps == r->key_caps && strcmp(be->user, r->cred->user) == 0 &&
           (r->schema[0] || (!be->schema[0] && !be->schema_unknown));
}

/* Opened before the operator's last recycle of its server: it may carry the
 * server's old globals, so it is closed instead of reused. */
static bool recycled(const struct mx_pool *p, const struct mx_backend *be)
{
    return be->recycle != atomic_load(&SRV(p)->recycle);
}

bool pool_fits(const struct mx_backend *be, const struct mx_pool_req *r)
{
    return key_matches(be, r) && !recycled(be->pool, be);
}

/* An idle connection that fits r, preferring one whose schema, character set
 * and settings already match (no sync needed). */
static struct mx_backend *idle_find(struct mx_pool *p, const struct mx_pool_req *r)
{
    struct mx_backend *best = NULL;
    for (struct mx_backend *be = p->idle; be; be = be->next) {
        if (!pool_fits(be, r)) continue; /* the tick closes those that are recycled */
        if (strcmp(be->schema, r->schema) == 0 && be->charset == r->charset &&
            vars_same(&be->vars, r->vars))
            return be;
        if (!best) best = be;
    }
    return best;
}

static void wait_push(struct mx_pool *p, struct mx_pool_waiter *w)
{
    w->next = NULL;
    w->pool = p;
    w->since_us = mx_now_us();
    if (p->wait_tail) p->wait_tail->next = w;
    else p->wait_head = w;
    p->wait_tail = w;
    HOT_ADD(p->n_wait, 1);
    atomic_fetch_add(&SRV(p)->waiting, 1);
    HOT_ADD(p->waits, 1);
}

/* Takes w out of p's FIFO (if there); w->pool stays for the caller to clear. */
static void wait_unlink(struct mx_pool *p, struct mx_pool_waiter *w)
{
    struct mx_pool_waiter **pp = &p->wait_head, *prev = NULL;
    while (*pp && *pp != w) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    if (!*pp) return;
    *pp = w->next;
    if (p->wait_tail == w) p->wait_tail = prev;
    w->next = NULL;
    HOT_ADD(p->n_wait, -1);
    atomic_fetch_sub(&SRV(p)->waiting, 1);
}

void pool_cancel_wait(struct mx_pool_waiter *w)
{
    if (!w->pool) return;
    if (w->opening) { /* it logs in for nobody now; pool_on_login makes it idle */
        w->opening->waiter = NULL;
        w->opening = NULL;
    } else {
        wait_unlink(w->pool, w);
    }
    w->pool = NULL;
}

/* w is done with the pool: its next callback may borrow again. */
static void waiter_leave(struct mx_pool_waiter *w)
{
    w->pool = NULL;
    w->opening = NULL;
    w->next = NULL;
}

void pool_on_login(struct mx_backend *be, int err, const struct be_error *e)
{
    struct mx_pool *p = be->pool;
    HOT_ADD(p->n_opening, -1);
    struct mx_pool_waiter *w = be->waiter;
    be->waiter = NULL;
    if (w) waiter_leave(w);
    HOT_ADD(p->connects, 1);
    if (err) {
        HOT_ADD(p->connect_errors, 1);
        const struct mx_config *cfg = PX(p)->cfg;
        log_warn("backend_login_failed", "backend=%s user=%s code=%u msg=\"%s\"",
                 cfg->backends[p->server].name, be->user, e->code, e->msg);
        /* The server did not even accept a connection: with health checks on, it
         * is taken down now (the checks bring it back) and the session, which
         * sent nothing yet, tries another server. */
        /* mymux's own descriptors running out says nothing about the server */
        bool unreachable = !e->local && (e->code == 2003 || e->code == 2013);
        if (unreachable && cfg->backends[p->server].health.type != MX_CHECK_NONE) {
            int up = SRV_UP;
            if (atomic_compare_exchange_strong(&SRV(p)->state, &up, SRV_DOWN)) {
                srv_state_changed(SRV(p), mx_now_ms());
                log_warn("backend_state",
                         "backend=%s from=up to=down reason=\"connection failed: %s\"",
                         cfg->backends[p->server].name, e->msg);
            }
            if (w) {
                w->ops->reroute(w);
                return;
            }
        }
        if (w && w->ops->login_retry(w, e)) return;
        if (w) w->ops->failed(w, e);
        return;
    }
    HOT_ADD(p->opened, 1);
    if (w) {
        lend(p, be, w);
    } else { /* its session left while it logged in: someone else may want it */
        idle_push(p, be);
        serve_waiters(p);
    }
}

static void on_login_cb(struct mx_backend *be, int err, const struct be_error *e)
{
    pool_on_login(be, err, e);
}

/* Opens a connection for w (a slot was taken); w stays on the pool (opening)
 * until the login completes. */
static void open_for(struct mx_pool *p, struct mx_pool_waiter *w)
{
    HOT_ADD(p->n_opening, 1);
    const struct mx_pool_req *r = &w->req;
    struct mx_backend *be = be_open(p, r->cred, r->key_caps, r->charset, r->peer, on_login_cb);
    if (!be) {
        HOT_ADD(p->n_opening, -1);
        slot_give(p);
        waiter_leave(w);
        struct be_error e = {.code = 1040, .sqlstate = "08004"};
        strcpy(e.msg, "mymux: out of memory opening a backend connection");
        w->ops->failed(w, &e);
        return;
    }
    all_link(p, be);
    be->waiter = w;
    w->pool = p;
    w->opening = be;
}

/* Frees a slot held by an idle connection of another key, if any. */
static bool evict_one_idle(struct mx_pool *p)
{
    if (!may_connect(p)) return false;
    struct mx_backend *victim = NULL;
    for (struct mx_backend *be = p->idle; be; be = be->next) victim = be; /* oldest */
    if (!victim) return false;
    idle_unlink(p, victim);
    be_end(victim);
    return true;
}

/* Hands a connection (idle, or just logged in) to waiter w. */
static void lend(struct mx_pool *p, struct mx_backend *be, struct mx_pool_waiter *w)
{
    HOT_ADD(p->n_busy, 1);
    be->busy = true;
    HOT_ADD(p->borrows, 1);
    /* the lent count is the workers' n_busy summed: read, never written, here */
    stat_peak(&SRV(p)->busy_peak, (int)POOL_TOTAL(PX(p), p->server, n_busy));
    be->session = w->owner;
    be_set_state(be, BE_ATTACHED);
    waiter_leave(w);
    w->ops->ready(w, be);
}

void pool_acquire(struct mx_pool *p, struct mx_pool_waiter *w)
{
    w->pool = NULL;
    w->opening = NULL;
    struct mx_backend *be = idle_find(p, &w->req);
    if (be) {
        idle_unlink(p, be);
        lend(p, be, w);
        return;
    }
    if (!p->wait_head && (slot_take(p) || (evict_one_idle(p) && slot_take(p)))) {
        open_for(p, w);
        return;
    }
    const struct mx_config *cfg = PX(p)->cfg;
    if (STAT_GET(p->n_wait) >= (uint64_t)share_of(p, cfg->pool_max_waiting > 0 ? cfg->pool_max_waiting : 1)) {
        STAT_ADD(PX(p)->stats.queue_full, 1);
        struct be_error e = {.code = 1040, .sqlstate = "08004"};
        snprintf(e.msg, sizeof e.msg,
                 "Too many connections: mymux already has %" PRIu64 " sessions waiting for backend %s "
                 "(pool.max_waiting)",
                 STAT_GET(p->n_wait), cfg->backends[p->server].name);
        w->ops->failed(w, &e);
        return;
    }
    wait_push(p, w);
}

/* Serves waiters while connections or slots are available. */
static void serve_waiters(struct mx_pool *p)
{
    while (p->wait_head) {
        struct mx_pool_waiter *w = p->wait_head;
        struct mx_backend *be = idle_find(p, &w->req);
        if (!be && !slot_take(p) && !(evict_one_idle(p) && slot_take(p))) return;
        wait_unlink(p, w);
        uint64_t waited_us = mx_now_us() - w->since_us;
        HOT_ADD(p->wait_us, waited_us);
        if (be) {
            idle_unlink(p, be);
            lend(p, be, w);
        } else {
            open_for(p, w);
        }
    }
}

static void on_reset_done(struct mx_backend *be, int err, const struct be_error *e)
{
    struct mx_pool *p = be->pool;
    if (err) {
        log_warn("backend_reset_failed", "thread_id=%u code=%u", be->thread_id, e->code);
        be_end(be);
        return;
    }
    be->dirty = false;
    be->diag_dirty = false;
    idle_push(p, be);
    serve_waiters(p);
}

/* Rebalancing: after scale-out or recovery the balancer sends borrows to the
 * new server, and connections to a server holding more than its weighted share
 * (plus one) of this worker's connections are retired as they come back idle (never
 * below min_idle), so the old server's connection count follows the load. */
static bool over_share(struct mx_pool *p)
{
    struct mx_proxy *px = PX(p);
    const struct mx_config *cfg = px->cfg;
    if (cfg->n_backends < 2 || STAT_GET(p->n_idle) < (uint64_t)cfg->pool_min_idle + 1) return false;
    uint64_t conns = 0, weights = 0;
    for (size_t i = 0; i < cfg->n_backends; i++) {
        if (atomic_load(&px->servers[i].state) != SRV_UP || cfg->backends[i].backup) continue;
        int wt = atomic_load(&px->servers[i].weight);
        weights += (uint64_t)(wt > 0 ? wt : cfg->backends[i].weight);
        conns += STAT_GET(p->home->pools[i].n_open);
    }
    int mine = atomic_load(&SRV(p)->weight);
    uint64_t wt = (uint64_t)(mine > 0 ? mine : cfg->backends[p->server].weight);
    if (!weights || cfg->backends[p->server].backup) return false;
    /* more than its weighted share of this worker's connections, plus one */
    return STAT_GET(p->n_open) * weights > conns * wt + weights;
}

void pool_release(struct mx_backend *be)
{
    struct mx_pool *p = be->pool;
    HOT_ADD(p->n_busy, -1);
    be->busy = false;
    be->session = NULL;
    const struct mx_config *cfg = PX(p)->cfg;
    if (be->broken || atomic_load(p->home->stopping) || atomic_load(&SRV(p)->state) != SRV_UP ||
        mx_now_ms() - be->created_ms > (uint64_t)cfg->pool_max_lifetime_ms || recycled(p, be) ||
        over_share(p) || (owes_slots(p) && !p->wait_head)) {
        be_end(be);
        return;
    }
    if (be->dirty) {
        /* COM_RESET_CONNECTION clears variables, temporary tables, locks,
         * prepared statements and the transaction; charset returns to the
         * handshake's, and the schema is kept. */
        struct mx_buf *o = sock_out(&be->sock);
        if (!o) {
            be_end(be);
            return;
        }
        pkt_put_hdr(o->data + o->wpos, 1, 0);
        o->data[o->wpos + 4] = COM_RESET_CONNECTION;
        o->wpos += 5;
        be_expect(be, COM_RESET_CONNECTION, NULL);
        be_forget_reset(be); /* nothing reads it before the answer; a failure closes it */
        HOT_ADD(p->resets, 1);
        if (be_run_internal(be, 1, on_reset_done) < 0) be_end(be);
        return;
    }
    idle_push(p, be);
    sock_read_start(&be->sock); /* notice a server that closes it */
    serve_waiters(p);
}

void pool_on_closed(struct mx_backend *be)
{
    struct mx_pool *p = be->pool;
    if (be->in_idle) idle_unlink(p, be);
    all_unlink(p, be);
    if (be->busy) HOT_ADD(p->n_busy, -1);
    HOT_ADD(p->closed, 1);
    slot_give(p);
    serve_waiters(p);
}

void pool_tick(struct mx_pool *p, uint64_t now)
{
    const struct mx_config *cfg = PX(p)->cfg;
    /* sessions waiting for a server that went away look elsewhere */
    while (p->wait_head && atomic_load(&SRV(p)->state) != SRV_UP) {
        struct mx_pool_waiter *w = p->wait_head;
        wait_unlink(p, w);
        waiter_leave(w);
        w->ops->reroute(w);
    }
    /* waits that lasted too long */
    while (p->wait_head &&
           now - p->wait_head->since_us / 1000 >= (uint64_t)cfg->pool_wait_timeout_ms) {
        struct mx_pool_waiter *w = p->wait_head;
        wait_unlink(p, w);
        waiter_leave(w);
        struct be_error e = {.code = 9001, .sqlstate = "HY000"};
        snprintf(e.msg, sizeof e.msg,
                 "mymux: waited %d ms for a connection to backend %s and none became free "
                 "(its cap: %d connections)",
                 cfg->pool_wait_timeout_ms, cfg->backends[p->server].name, server_cap(p));
        w->ops->failed(w, &e);
    }
    serve_waiters(p);
    /* a worker holding borrowed room that others wait for gives an idle one back */
    if (owes_slots(p) && p->idle) {
        struct mx_backend *old = p->idle;
        while (old->next) old = old->next;
        idle_unlink(p, old);
        be_end(old);
    }
    /* statements whose last client let go are closed on idle connections too
     * (busy ones close theirs with their next write), so the server keeps at
     * most pool.max_prepared_unused of them per connection */
    struct mx_pcache *pc = p->home->pcache;
    if (p->trim_seen != pc->released) {
        uint64_t seen = pc->released;
        bool more = false;
        for (struct mx_backend *be = p->idle, *next; be; be = next) {
            next = be->next;
            int rc = be_trim_idle(be);
            if (rc < 0) {
                idle_unlink(p, be);
                be_end(be);
            }
            more = more || rc > 0;
        }
        if (!more) p->trim_seen = seen;
    }
    /* idle connections past their idle timeout or lifetime, opened before an
     * operator's recycle, or to a server that is no longer up */
    bool gone = atomic_load(&SRV(p)->state) != SRV_UP;
    struct mx_backend *be = p->idle, *next;
    for (; be; be = next) {
        next = be->next;
        if (gone || now - be->idle_since_ms > (uint64_t)cfg->pool_idle_timeout_ms ||
            now - be->created_ms > (uint64_t)cfg->pool_max_lifetime_ms || recycled(p, be)) {
            idle_unlink(p, be);
            be_end(be);
        }
    }
}

void pool_shutdown(struct mx_pool *p)
{
    for (struct mx_backend *be = p->all, *n; be; be = n) {
        n = be->anext;
        be_end(be);
    }
}
