/* Unit tests for the pool (src/pool/pool.c) through its request and waiter:
 * borrowing a new connection, reuse of an idle one by key and by settings, the
 * FIFO of waiters, cancelling (in the queue and while the connection opened for
 * the waiter logs in), refusals (queue full, wait timeout), reroute, resets and
 * the cap's counters. No session and no loop: the backend connection's own
 * functions are replaced at link time (-Wl,--wrap, see CMakeLists.txt) by
 * fakes that record what the pool asked, and the test plays the connection's
 * side (login done, reset answered, close callback). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/clock.h"
#include "core/config.h"
#include "core/proxy.h"
#include "core/worker.h"
#include "core/buf.h"
#include "pool/pool.h"
#include "pool/server_conn.h"
#include "pool/stmt.h"
#include "pool/sync.h"

/* ---- the fake world: one proxy, one worker, one server ---- */

static struct mx_config cfg;
static struct mx_backend_cfg bcfg;
static struct mx_server server;
static struct mx_proxy px;
static atomic_int stopping;
static struct mx_pcache pcache;
static struct mx_pool pools[MX_MAX_SERVERS];
static struct mx_pool_home home;
static struct mx_worker worker; /* px.workers: what the admin side sums */
static struct mx_pool *P = &pools[0];

/* ---- fakes for what the pool calls of server_conn.c and sock.c ---- */

#define MAXBE 32
static struct mx_backend *made[MAXBE]; /* every connection opened, in order */
static int n_made;
static struct mx_backend *closing[MAXBE]; /* be_end asked, close callback not run yet */
static int n_closing;
static bool open_fails;                 /* be_open runs out of memory */
static be_done_cb reset_done[MAXBE];    /* by index in made: a reset the pool sent */
static int resets_sent;
static union {
    struct mx_buf b;
    uint8_t space[sizeof(struct mx_buf) + 64];
} outbuf;

static int index_of(const struct mx_backend *be)
{
    for (int i = 0; i < n_made; i++)
        if (made[i] == be) return i;
    fail_msg("unknown connection %p", (const void *)be);
    return -1;
}

struct mx_backend *__wrap_be_open(struct mx_pool *pool, const struct mx_cred *cred,
                                  uint32_t key_caps, uint8_t charset, const char *client_peer,
                                  be_done_cb done);
struct mx_backend *__wrap_be_open(struct mx_pool *pool, const struct mx_cred *cred,
                                  uint32_t key_caps, uint8_t charset, const char *client_peer,
                                  be_done_cb done)
{
    (void)client_peer;
    if (open_fails) return NULL;
    assert_true(n_made < MAXBE);
    struct mx_backend *be = calloc(1, sizeof *be);
    assert_non_null(be);
    be->pool = pool;
    be->state = BE_CONNECTING; /* the fake plays server_conn.c's part */
#ifndef NDEBUG
    be->magic = MX_BE_MAGIC;
#endif
    be->key_caps = key_caps;
    be->charset = be->hs_charset = charset;
    be->done = done;
    be->created_ms = mx_now_ms();
    be->recycle = atomic_load(&px.servers[pool->server].recycle);
    snprintf(be->user, sizeof be->user, "%s", cred->user);
    made[n_made++] = be;
    return be;
}

/* As the real one: closing is asynchronous, the pool hears of it later. */
void __wrap_be_end(struct mx_backend *be);
void __wrap_be_end(struct mx_backend *be)
{
    if (be->state == BE_CLOSING) return;
    be->state = BE_CLOSING;
    assert_true(n_closing < MAXBE);
    closing[n_closing++] = be;
}

void __wrap_be_expect(struct mx_backend *be, uint8_t cmd, struct mx_pstmt *ps);
void __wrap_be_expect(struct mx_backend *be, uint8_t cmd, struct mx_pstmt *ps)
{
    (void)be;
    (void)ps;
    assert_int_equal(cmd, 0x1f); /* COM_RESET_CONNECTION: the only one the pool sends */
}

void __wrap_be_forget_reset(struct mx_backend *be);
void __wrap_be_forget_reset(struct mx_backend *be)
{
    (void)be;
}

int __wrap_be_run_internal(struct mx_backend *be, int n, be_done_cb done);
int __wrap_be_run_internal(struct mx_backend *be, int n, be_done_cb done)
{
    assert_int_equal(n, 1);
    reset_done[index_of(be)] = done;
    resets_sent++;
    return 0;
}

int __wrap_be_trim_idle(struct mx_backend *be);
int __wrap_be_trim_idle(struct mx_backend *be)
{
    (void)be;
    return 0;
}

struct mx_buf *__wrap_sock_out(struct mx_sock *s);
struct mx_buf *__wrap_sock_out(struct mx_sock *s)
{
    (void)s;
    outbuf.b.cap = 64;
    outbuf.b.rpos = outbuf.b.ppos = outbuf.b.wpos = 0;
    return &outbuf.b;
}

int __wrap_sock_read_start(struct mx_sock *s);
int __wrap_sock_read_start(struct mx_sock *s)
{
    (void)s;
    return 0;
}

/* The loop runs the close callbacks of the connections be_end was asked for. */
static void run_closes(void)
{
    while (n_closing) {
        struct mx_backend *be = closing[--n_closing];
        pool_on_closed(be);
    }
}

/* ---- a borrower: a waiter and what it was told ---- */

struct borrower {
    struct mx_pool_waiter w; /* first: the callbacks cast back */
    struct mx_cred cred;
    struct mx_vars vars;
    char schema[64];
    char peer[64];
    int ready, failed, rerouted, retried;
    bool retry_takes_it;     /* what login_retry answers */
    struct mx_backend *be;
    struct be_error err;
};

static void on_ready(struct mx_pool_waiter *w, struct mx_backend *be)
{
    struct borrower *b = (struct borrower *)w;
    assert_null(w->pool); /* out of the pool before it is told */
    b->ready++;
    b->be = be;
    be->session = (struct mx_session *)b; /* what be_attach does: it is the holder's */
}

static void on_failed(struct mx_pool_waiter *w, const struct be_error *e)
{
    struct borrower *b = (struct borrower *)w;
    assert_null(w->pool);
    b->failed++;
    b->err = *e;
}

static void on_reroute(struct mx_pool_waiter *w)
{
    assert_null(w->pool);
    ((struct borrower *)w)->rerouted++;
}

static bool on_login_retry(struct mx_pool_waiter *w, const struct be_error *e)
{
    struct borrower *b = (struct borrower *)w;
    (void)e;
    assert_null(w->pool);
    b->retried++;
    return b->retry_takes_it;
}

static const struct mx_pool_waiter_ops ops = {on_ready, on_failed, on_reroute, on_login_retry};

static void borrower_init(struct borrower *b, const char *user, const char *schema)
{
    memset(b, 0, sizeof *b);
    snprintf(b->cred.user, sizeof b->cred.user, "%s", user);
    snprintf(b->schema, sizeof b->schema, "%s", schema);
    snprintf(b->peer, sizeof b->peer, "127.0.0.1:5000");
    vars_init(&b->vars);
    b->w.ops = &ops;
    b->w.req = (struct mx_pool_req){.cred = &b->cred, .key_caps = 0x200, .schema = b->schema,
                                     .charset = 45, .vars = &b->vars, .peer = b->peer};
}

static void acquire(struct borrower *b)
{
    pool_acquire(P, &b->w);
}

/* The connection opened last finishes its login (err: fails with code err). */
static struct mx_backend *login_last(int err)
{
    assert_true(n_made > 0);
    struct mx_backend *be = made[n_made - 1];
    be->state = BE_ATTACHED; /* what login_done leaves */
    if (err) {
        struct be_error e = {.code = (uint16_t)err, .sqlstate = "HY000"};
        snprintf(e.msg, sizeof e.msg, "login failed");
        pool_on_login(be, -1, &e);
        __wrap_be_end(be); /* be_fail closes it after telling */
    } else {
        pool_on_login(be, 0, NULL);
    }
    return be;
}

/* The holder gives it back, as detach_backend does. */
static void give_back(struct borrower *b)
{
    assert_non_null(b->be);
    struct mx_backend *be = b->be;
    b->be = NULL;
    be->session = NULL;
    pool_release(be);
}

/* The counters agree with each other and with the server's share of the cap. */
static void assert_counts(size_t idle, size_t busy, size_t opening, size_t open)
{
    assert_int_equal(P->n_idle, idle);
    assert_int_equal(P->n_busy, busy);
    assert_int_equal(P->n_opening, opening);
    assert_int_equal(P->n_open, open);
    assert_int_equal(atomic_load(&server.open), (int)open);
    /* what another thread reads: the sum over workers, and a peak never below the gauge */
    assert_int_equal(POOL_TOTAL(&px, 0, n_busy), busy);
    assert_int_equal(POOL_TOTAL(&px, 0, n_idle), idle);
    assert_true(atomic_load(&server.busy_peak) >= (int)busy);
    size_t listed = 0;
    for (struct mx_backend *be = P->idle; be; be = be->next) listed++;
    assert_int_equal(listed, idle);
}

static int setup(void **state)
{
    (void)state;
    memset(&cfg, 0, sizeof cfg);
    memset(&bcfg, 0, sizeof bcfg);
    memset(&server, 0, sizeof server);
    memset(&px, 0, sizeof px);
    memset(&pcache, 0, sizeof pcache);
    bcfg.name = "db1";
    bcfg.weight = 1;
    cfg.backends = &bcfg;
    cfg.n_backends = 1;
    cfg.pool_max_per_backend = 2;
    cfg.pool_max_waiting = 4;
    cfg.pool_wait_timeout_ms = 1000;
    cfg.pool_idle_timeout_ms = 3600000;
    cfg.pool_max_lifetime_ms = 3600000;
    cfg.pool_multiplex = true;
    atomic_store(&server.state, SRV_UP);
    px.cfg = &cfg;
    px.servers = &server;
    px.n_workers = 1;
    memset(&worker, 0, sizeof worker);
    worker.pools = pools;
    px.workers = &worker;
    atomic_store(&stopping, 0);
    home = (struct mx_pool_home){.px = &px, .worker = NULL, .worker_id = 0,
                                 .stopping = &stopping, .pcache = &pcache, .pools = pools};
    for (int i = 0; i < MX_MAX_SERVERS; i++) pool_init(&pools[i], &home, i);
    n_made = n_closing = resets_sent = 0;
    open_fails = false;
    memset(reset_done, 0, sizeof reset_done);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    run_closes();
    for (int i = 0; i < n_made; i++) free(made[i]);
    n_made = 0;
    return 0;
}

/* ---- tests ---- */

/* A first borrow opens a connection; the waiter hears when its login ends;
 * given back, it is idle, and the next borrower of the same key gets it at
 * once without a new connection. */
static void test_open_then_reuse(void **state)
{
    (void)state;
    struct borrower a, b;
    borrower_init(&a, "app", "db");
    borrower_init(&b, "app", "db");
    acquire(&a);
    assert_int_equal(n_made, 1);
    assert_int_equal(a.ready, 0);
    assert_ptr_equal(a.w.pool, P);       /* still the pool's while it logs in */
    assert_ptr_equal(a.w.opening, made[0]);
    assert_counts(0, 0, 1, 1);
    struct mx_backend *be = login_last(0);
    assert_int_equal(a.ready, 1);
    assert_ptr_equal(a.be, be);
    assert_null(be->waiter);
    assert_counts(0, 1, 0, 1);
    snprintf(be->schema, sizeof be->schema, "db");
    give_back(&a);
    assert_counts(1, 0, 0, 1);
    assert_int_equal(be->state, BE_IDLE);
    acquire(&b);
    assert_int_equal(b.ready, 1); /* before pool_acquire returned */
    assert_ptr_equal(b.be, be);
    assert_int_equal(n_made, 1);
    assert_int_equal(P->borrows, 2);
    assert_counts(0, 1, 0, 1);
    give_back(&b);
}

/* Idle connections are matched by user, key capabilities and schema; among
 * those that fit, one already in the wanted schema wins. A borrower without a
 * schema never gets one that has a schema. */
static void test_idle_match(void **state)
{
    (void)state;
    cfg.pool_max_per_backend = 8;
    struct borrower a, b, c;
    borrower_init(&a, "app", "one");
    borrower_init(&b, "app", "two");
    acquire(&a);
    struct mx_backend *be1 = login_last(0);
    acquire(&b);
    struct mx_backend *be2 = login_last(0);
    snprintf(be1->schema, sizeof be1->schema, "one");
    snprintf(be2->schema, sizeof be2->schema, "two");
    give_back(&a);
    give_back(&b);
    assert_counts(2, 0, 0, 2);

    borrower_init(&c, "app", "one"); /* be2 is newer (LIFO head), be1 has the schema */
    acquire(&c);
    assert_ptr_equal(c.be, be1);
    give_back(&c);

    borrower_init(&c, "other", "one"); /* another user: a connection of its own */
    acquire(&c);
    assert_int_equal(c.ready, 0);
    assert_int_equal(n_made, 3);
    struct mx_backend *other = login_last(0);
    assert_ptr_equal(other, c.be);
    give_back(&c);

    borrower_init(&c, "app", "one");
    c.w.req.key_caps = 0x400; /* other wire-format capabilities */
    acquire(&c);
    assert_int_equal(c.ready, 0);
    assert_int_equal(n_made, 4);
    login_last(0);
    give_back(&c);

    borrower_init(&c, "app", ""); /* no schema: none of those in a schema */
    acquire(&c);
    assert_int_equal(c.ready, 0);
    assert_int_equal(n_made, 5);
    struct mx_backend *fresh = login_last(0);
    assert_ptr_equal(c.be, fresh);
    give_back(&c);
    assert_true(pool_fits(fresh, &c.w.req));
    assert_false(pool_fits(be1, &c.w.req));
    be1->schema[0] = 0;
    be1->schema_unknown = true; /* mymux cannot tell where it went: no use either */
    assert_false(pool_fits(be1, &c.w.req));
}

/* A PROXY-header connection speaks for one client address: only that client's
 * borrowers may use it (IPv4 and bracketed IPv6 forms). */
static void test_fits_proxy_client(void **state)
{
    (void)state;
    struct borrower a;
    borrower_init(&a, "app", "db");
    acquire(&a);
    struct mx_backend *be = login_last(0);
    snprintf(be->client_ip, sizeof be->client_ip, "127.0.0.1");
    assert_true(pool_fits(be, &a.w.req));
    snprintf(a.peer, sizeof a.peer, "127.0.0.10:5000");
    assert_false(pool_fits(be, &a.w.req));
    snprintf(be->client_ip, sizeof be->client_ip, "::1");
    snprintf(a.peer, sizeof a.peer, "[::1]:5000");
    assert_true(pool_fits(be, &a.w.req));
    snprintf(a.peer, sizeof a.peer, "[::10]:5000");
    assert_false(pool_fits(be, &a.w.req));
    snprintf(a.peer, sizeof a.peer, "127.0.0.1:5000");
    be->client_ip[0] = 0;
    give_back(&a);
}

/* At the cap, borrowers wait in a FIFO and are served in order as
 * connections come back. */
static void test_fifo(void **state)
{
    (void)state;
    struct borrower a, b, c, d;
    borrower_init(&a, "app", "db");
    borrower_init(&b, "app", "db");
    borrower_init(&c, "app", "db");
    borrower_init(&d, "app", "db");
    acquire(&a);
    login_last(0);
    acquire(&b);
    login_last(0);
    acquire(&c);
    acquire(&d);
    assert_int_equal(n_made, 2); /* the cap */
    assert_int_equal(P->n_wait, 2);
    assert_int_equal(atomic_load(&server.waiting), 2);
    assert_ptr_equal(c.w.pool, P);
    struct mx_backend *ab = a.be, *bb = b.be;
    give_back(&b); /* b's connection goes to the first in the queue */
    assert_int_equal(c.ready, 1);
    assert_ptr_equal(c.be, bb);
    assert_int_equal(d.ready, 0);
    give_back(&a);
    assert_int_equal(d.ready, 1);
    assert_ptr_equal(d.be, ab);
    assert_int_equal(P->n_wait, 0);
    assert_int_equal(atomic_load(&server.waiting), 0);
    assert_int_equal(P->waits, 2);
    assert_counts(0, 2, 0, 2);
    give_back(&c);
    give_back(&d);
    assert_counts(2, 0, 0, 2);
}

/* A cancelled waiter leaves the queue and hears nothing; the next one gets
 * the connection. Cancelling twice, or when not waiting, does nothing. */
static void test_cancel_in_queue(void **state)
{
    (void)state;
    cfg.pool_max_per_backend = 1;
    struct borrower a, c, d;
    borrower_init(&a, "app", "db");
    borrower_init(&c, "app", "db");
    borrower_init(&d, "app", "db");
    acquire(&a);
    login_last(0);
    acquire(&c);
    acquire(&d);
    pool_cancel_wait(&c.w);
    assert_null(c.w.pool);
    pool_cancel_wait(&c.w);
    assert_int_equal(P->n_wait, 1);
    give_back(&a);
    assert_int_equal(c.ready + c.failed + c.rerouted, 0);
    assert_int_equal(d.ready, 1);
    pool_cancel_wait(&d.w); /* it holds a connection, it waits for nothing */
    assert_int_equal(P->n_busy, 1);
    give_back(&d);
}

/* A waiter cancelled while its connection logs in: a login that succeeds
 * makes the connection idle (or serves the next waiter), one that fails tells
 * nobody and gives the slot back. */
static void test_cancel_while_opening(void **state)
{
    (void)state;
    cfg.pool_max_per_backend = 1;
    struct borrower a, b;
    borrower_init(&a, "app", "db");
    borrower_init(&b, "app", "db");
    acquire(&a);
    assert_non_null(a.w.opening);
    pool_cancel_wait(&a.w);
    assert_null(a.w.pool);
    assert_null(made[0]->waiter);
    struct mx_backend *be = login_last(0);
    assert_int_equal(a.ready + a.failed, 0);
    assert_counts(1, 0, 0, 1);
    assert_int_equal(be->state, BE_IDLE);

    /* the same with a second borrower queued behind: it gets the connection */
    acquire(&b);
    assert_ptr_equal(b.be, be);
    give_back(&b);

    /* and a failed login of a cancelled waiter */
    cfg.pool_max_per_backend = 2;
    borrower_init(&a, "other", "db");
    acquire(&a);
    assert_int_equal(n_made, 2);
    pool_cancel_wait(&a.w);
    login_last(2013);
    assert_int_equal(a.ready + a.failed + a.retried + a.rerouted, 0);
    assert_int_equal(P->connect_errors, 1);
    run_closes();
    assert_counts(1, 0, 0, 1);
}

/* A failed login is offered to login_retry first; the waiter hears of the
 * failure only when it does not take another route. */
static void test_login_failure(void **state)
{
    (void)state;
    struct borrower a;
    borrower_init(&a, "app", "db");
    acquire(&a);
    login_last(1045);
    assert_int_equal(a.retried, 1);
    assert_int_equal(a.failed, 1);
    assert_int_equal(a.err.code, 1045);
    run_closes();
    assert_counts(0, 0, 0, 0);

    borrower_init(&a, "app", "db");
    a.retry_takes_it = true;
    acquire(&a);
    login_last(2003); /* no health checks: the server is not taken down */
    assert_int_equal(a.retried, 1);
    assert_int_equal(a.failed, 0);
    assert_int_equal(atomic_load(&server.state), SRV_UP);
    run_closes();
    assert_counts(0, 0, 0, 0);

    borrower_init(&a, "app", "db");
    open_fails = true; /* out of memory: told at once, the slot comes back */
    acquire(&a);
    assert_int_equal(a.failed, 1);
    assert_int_equal(a.err.code, 1040);
    assert_counts(0, 0, 0, 0);
}

/* With health checks on, a server that refuses the connection is taken down
 * at once and the waiter is sent elsewhere (it sent nothing yet). */
static void test_unreachable_reroutes(void **state)
{
    (void)state;
    bcfg.health.type = MX_CHECK_TCP;
    struct borrower a;
    borrower_init(&a, "app", "db");
    acquire(&a);
    login_last(2003);
    assert_int_equal(atomic_load(&server.state), SRV_DOWN);
    assert_int_equal(atomic_load(&server.transitions), 1);
    assert_int_equal(a.rerouted, 1);
    assert_int_equal(a.retried + a.failed, 0);
    run_closes();
    assert_counts(0, 0, 0, 0);
}

/* The queue is bounded: past pool.max_waiting a borrower is refused at once
 * with "Too many connections". */
static void test_queue_full(void **state)
{
    (void)state;
    cfg.pool_max_per_backend = 1;
    cfg.pool_max_waiting = 2;
    struct borrower a, w1, w2, w3;
    borrower_init(&a, "app", "db");
    borrower_init(&w1, "app", "db");
    borrower_init(&w2, "app", "db");
    borrower_init(&w3, "app", "db");
    acquire(&a);
    login_last(0);
    acquire(&w1);
    acquire(&w2);
    acquire(&w3);
    assert_int_equal(w3.failed, 1);
    assert_int_equal(w3.err.code, 1040);
    assert_non_null(strstr(w3.err.msg, "pool.max_waiting"));
    assert_null(w3.w.pool);
    assert_int_equal(P->n_wait, 2);
    assert_int_equal(STAT_GET(px.stats.queue_full), 1);
    pool_cancel_wait(&w1.w);
    pool_cancel_wait(&w2.w);
    give_back(&a);
}

/* The tick fails waits older than pool.wait_timeout, in order, and sends
 * waiters of a server that is no longer up elsewhere. */
static void test_tick_timeout_and_reroute(void **state)
{
    (void)state;
    cfg.pool_max_per_backend = 1;
    struct borrower a, w1, w2;
    borrower_init(&a, "app", "db");
    borrower_init(&w1, "app", "db");
    borrower_init(&w2, "app", "db");
    acquire(&a);
    login_last(0);
    acquire(&w1);
    uint64_t now = mx_now_ms();
    pool_tick(P, now);
    assert_int_equal(w1.failed, 0);
    pool_tick(P, now + 1001);
    assert_int_equal(w1.failed, 1);
    assert_int_equal(w1.err.code, 9001);
    assert_null(w1.w.pool);
    assert_int_equal(P->n_wait, 0);

    acquire(&w2);
    atomic_store(&server.state, SRV_DOWN);
    pool_tick(P, mx_now_ms());
    assert_int_equal(w2.rerouted, 1);
    assert_int_equal(w2.failed, 0);
    assert_int_equal(P->n_wait, 0);
    assert_int_equal(atomic_load(&server.waiting), 0);
    give_back(&a); /* a server not up gets nothing back: closed */
    run_closes();
    assert_counts(0, 0, 0, 0);
}

/* A dirty connection is reset before it is idle again; a waiter queued
 * meanwhile gets it once the reset is answered. A broken one is closed, and
 * its slot serves the waiter with a new connection. */
static void test_release_reset_and_broken(void **state)
{
    (void)state;
    cfg.pool_max_per_backend = 1;
    struct borrower a, b, c;
    borrower_init(&a, "app", "db");
    borrower_init(&b, "app", "db");
    borrower_init(&c, "app", "db");
    acquire(&a);
    struct mx_backend *be = login_last(0);
    be->dirty = true;
    give_back(&a);
    assert_int_equal(resets_sent, 1);
    assert_int_equal(P->resets, 1);
    assert_counts(0, 0, 0, 1);
    acquire(&b); /* nothing idle while the reset runs */
    assert_int_equal(b.ready, 0);
    reset_done[index_of(be)](be, 0, NULL);
    assert_false(be->dirty);
    assert_int_equal(b.ready, 1);
    assert_ptr_equal(b.be, be);

    be->broken = true;
    acquire(&c);
    give_back(&b);
    assert_int_equal(c.ready, 0);
    run_closes(); /* the close frees the slot: c gets a new connection */
    assert_int_equal(n_made, 2);
    struct mx_backend *second = login_last(0);
    assert_ptr_equal(second, c.be);
    assert_counts(0, 1, 0, 1);
    give_back(&c);
    assert_int_equal(P->closed, 1);
}

/* Shutdown: nothing goes back idle once the worker stops. */
static void test_release_while_stopping(void **state)
{
    (void)state;
    struct borrower a;
    borrower_init(&a, "app", "db");
    acquire(&a);
    login_last(0);
    atomic_store(&stopping, 1);
    give_back(&a);
    run_closes();
    assert_counts(0, 0, 0, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_then_reuse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idle_match, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fits_proxy_client, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fifo, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_in_queue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_while_opening, setup, teardown),
        cmocka_unit_test_setup_teardown(test_login_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unreachable_reroutes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tick_timeout_and_reroute, setup, teardown),
        cmocka_unit_test_setup_teardown(test_release_reset_and_broken, setup, teardown),
        cmocka_unit_test_setup_teardown(test_release_while_stopping, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
