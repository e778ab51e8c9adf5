/* Unit tests for the router (src/router/balance.c, sticky.c): each algorithm's
 * distribution over many picks against a fake proxy, pools and config, through
 * balance_req (no session), with the tolerance each assertion states; backups, caps, slow start, affinity,
 * consistent hashing and the stick table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/clock.h"
#include "core/config.h"
#include "core/proxy.h"
#include "pool/pool.h"
#include "core/worker.h"
#include "router/balance.h"
#include "router/sticky.h"

#define NMAX 8

/* The fake world: one proxy, one worker's balancing state and pools, up to NMAX servers. */
static struct mx_config cfg, cfg2;
static struct mx_backend_cfg bcfg[NMAX], bcfg2[NMAX];
static char names[NMAX][16];
static struct mx_server servers[NMAX];
static struct mx_proxy px;
static struct balance_state *st;
static struct mx_pool pools[MX_MAX_SERVERS];
/* the router's worker (pools) and another one (other_pools, counted when
 * px.n_workers is 2): the load is what all workers lend */
static struct mx_pool other_pools[MX_MAX_SERVERS];
static struct mx_worker workers[2];

static void setup_world(size_t n, const char *algo)
{
    balance_free(st);
    st = NULL;
    memset(&cfg, 0, sizeof cfg);
    memset(bcfg, 0, sizeof bcfg);
    memset(servers, 0, sizeof servers);
    memset(&px, 0, sizeof px);
    memset(pools, 0, sizeof pools);
    memset(other_pools, 0, sizeof other_pools);
    for (size_t i = 0; i < NMAX; i++) {
        snprintf(names[i], sizeof names[i], "db%zu", i + 1);
        bcfg[i].name = names[i];
        bcfg[i].weight = 1;
        atomic_store(&servers[i].state, SRV_UP);
    }
    cfg.backends = bcfg;
    cfg.n_backends = n;
    cfg.balance = (char *)algo;
    cfg.pool_max_per_backend = 64;
    cfg.stick_expire_ms = 1800000;
    cfg.stick_size = 1000;
    px.cfg = &cfg;
    px.servers = servers;
    workers[0].pools = pools;
    workers[1].pools = other_pools;
    px.workers = workers;
    px.n_workers = 1;
    st = balance_new(&px, 0);
    assert_non_null(st);
}

static int teardown(void **state)
{
    (void)state;
    balance_free(st);
    st = NULL;
    return 0;
}

/* A client as the balancer sees it: its request and where it went last. */
struct client {
    int server;
    struct balance_req r;
    char user[64], peer[64];
};

static struct client *new_session(const char *peer, const char *user)
{
    struct client *s = calloc(1, sizeof *s);
    assert_non_null(s);
    s->server = -1;
    snprintf(s->peer, sizeof s->peer, "%s", peer ? peer : "10.0.0.1:40000");
    /* the name logged in with (not a backend_user) */
    snprintf(s->user, sizeof s->user, "%s", user ? user : "app");
    s->r.user = s->user;
    s->r.peer = s->peer;
    return s;
}

static int pick(struct client *s)
{
    s->r.last = s->server;
    return balance_pick(st, pools, &s->r);
}

/* What a session does at a borrow: pick, remember. */
static int borrow(struct client *s)
{
    int srv = pick(s);
    if (srv >= 0) s->server = srv;
    return srv;
}

static void end_session(struct client *s)
{
    balance_forget(&px, s->server);
    free(s);
}

/* A session that picks once and leaves (a new client per pick). */
static int pick_fresh(const char *peer, const char *user)
{
    struct client *s = new_session(peer, user);
    int srv = borrow(s);
    end_session(s);
    return srv;
}

static void count_fresh(int n, int *counts)
{
    for (int i = 0; i < n; i++) {
        int srv = pick_fresh(NULL, NULL);
        assert_true(srv >= 0 && srv < NMAX);
        counts[srv]++;
    }
}

#define assert_near(v, want, tol)                                                  \
    do {                                                                           \
        double v_ = (v), w_ = (want), t_ = (tol);                                  \
        if (v_ < w_ - t_ || v_ > w_ + t_) {                                        \
            print_error("%s = %f, want %f +- %f\n", #v, v_, w_, t_);               \
            fail();                                                                \
        }                                                                          \
    } while (0)

/* ---- algorithms ---- */

static void test_parse(void **state)
{
    (void)state;
    assert_int_equal(balance_algo_parse(NULL), BAL_ROUNDROBIN);
    assert_int_equal(balance_algo_parse("roundrobin"), BAL_ROUNDROBIN);
    assert_int_equal(balance_algo_parse("static-rr"), BAL_STATIC_RR);
    assert_int_equal(balance_algo_parse("random(2)"), BAL_RANDOM2);
    assert_int_equal(balance_algo_parse("leastlatency"), BAL_LEASTLATENCY);
    assert_int_equal(balance_algo_parse("user"), BAL_USER);
    assert_int_equal(balance_algo_parse("bogus"), -1);
}

/* Smooth weighted round robin is exact: equal weights give equal counts (+-0),
 * 3:1 gives 3:1, and no server gets more than its weight in a row. */
static void test_roundrobin(void **state)
{
    (void)state;
    setup_world(3, "roundrobin");
    int c[NMAX] = {0};
    count_fresh(3000, c);
    assert_int_equal(c[0], 1000);
    assert_int_equal(c[1], 1000);
    assert_int_equal(c[2], 1000);

    setup_world(2, "roundrobin");
    bcfg[0].weight = 3;
    int seq[8], d[NMAX] = {0};
    for (int i = 0; i < 8; i++) d[seq[i] = pick_fresh(NULL, NULL)]++;
    assert_int_equal(d[0], 6);
    assert_int_equal(d[1], 2);
    for (int i = 0; i + 1 < 8; i++) assert_false(seq[i] == 1 && seq[i + 1] == 1);
    memset(d, 0, sizeof d);
    count_fresh(4000, d);
    assert_int_equal(d[0], 3000);
    assert_int_equal(d[1], 1000);
}

/* roundrobin follows an operator's weight at the next pick; static-rr ignores it. */
static void test_dynamic_and_static_weights(void **state)
{
    (void)state;
    setup_world(2, "roundrobin");
    int c[NMAX] = {0};
    count_fresh(100, c);
    atomic_store(&servers[1].weight, 3);
    memset(c, 0, sizeof c);
    count_fresh(400, c);
    assert_near(c[0], 100, 1);
    assert_near(c[1], 300, 1);

    setup_world(2, "static-rr");
    bcfg[1].weight = 3;
    memset(c, 0, sizeof c);
    count_fresh(400, c);
    assert_int_equal(c[0], 100);
    assert_int_equal(c[1], 300);
    atomic_store(&servers[0].weight, 3); /* no effect on static-rr */
    memset(c, 0, sizeof c);
    count_fresh(400, c);
    assert_int_equal(c[0], 100);
    assert_int_equal(c[1], 300);
}

/* leastconn goes to the fewest busy connections per weight: sessions that keep
 * their connection end up spread by weight (+-1), starting from skewed counts. */
static void test_leastconn(void **state)
{
    (void)state;
    setup_world(3, "leastconn");
    atomic_store(&pools[0].n_busy, 10);
    int c[NMAX] = {0};
    for (int i = 0; i < 20; i++) {
        int srv = pick_fresh(NULL, NULL);
        c[srv]++;
        atomic_fetch_add(&pools[srv].n_busy, 1); /* it keeps the connection */
    }
    assert_int_equal(c[0], 0); /* 10 busy already: the others fill up to it */
    assert_int_equal(c[1], 10);
    assert_int_equal(c[2], 10);
    for (int i = 0; i < 30; i++) atomic_fetch_add(&pools[pick_fresh(NULL, NULL)].n_busy, 1);
    for (int i = 0; i < 3; i++) assert_near(atomic_load(&pools[i].n_busy), 20, 1);

    /* weights 2:1 */
    setup_world(2, "leastconn");
    bcfg[0].weight = 2;
    for (int i = 0; i < 300; i++) atomic_fetch_add(&pools[pick_fresh(NULL, NULL)].n_busy, 1);
    assert_near(atomic_load(&pools[0].n_busy), 200, 1);
    assert_near(atomic_load(&pools[1].n_busy), 100, 1);

    /* connections another worker lent count as load, and against the cap */
    setup_world(2, "leastconn");
    px.n_workers = 2;
    atomic_store(&other_pools[0].n_busy, 4);
    atomic_store(&pools[1].n_busy, 3);
    assert_int_equal(pick_fresh(NULL, NULL), 1);
    bcfg[1].max_connections = 3; /* full: the other worker's 4 do not make server 0 full */
    bcfg[0].max_connections = 5;
    assert_int_equal(pick_fresh(NULL, NULL), 0);
    atomic_store(&other_pools[0].n_busy, 5); /* now both full: the lighter per weight */
    assert_int_equal(pick_fresh(NULL, NULL), 1);

    /* sessions waiting in this worker's pool count as load */
    setup_world(2, "leastconn");
    pools[0].n_wait = 3;
    assert_int_equal(pick_fresh(NULL, NULL), 1);
    /* with no load at all, ties rotate */
    setup_world(2, "leastconn");
    memset(c, 0, sizeof c);
    count_fresh(100, c);
    assert_int_equal(c[0], 50);
}

/* first: config order, a server is used while it has room under its cap. */
static void test_first(void **state)
{
    (void)state;
    setup_world(3, "first");
    bcfg[0].max_connections = 2;
    bcfg[1].max_connections = 3;
    int want[] = {0, 0, 1, 1, 1, 2, 2};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        int srv = pick_fresh(NULL, NULL);
        assert_int_equal(srv, want[i]);
        atomic_fetch_add(&pools[srv].n_busy, 1);
    }
    /* room again on the first: it gets the next session, and a session whose
     * last server was the second goes back to the first */
    atomic_fetch_sub(&pools[0].n_busy, 1);
    struct client *s = new_session(NULL, NULL);
    s->server = 1;
    atomic_fetch_add(&servers[1].affine, 1);
    assert_int_equal(borrow(s), 0);
    end_session(s);
    /* every server full: still the first (the pool makes it wait) */
    setup_world(2, "first");
    bcfg[0].max_connections = 1;
    bcfg[1].max_connections = 1;
    atomic_store(&pools[0].n_busy, 1);
    atomic_store(&pools[1].n_busy, 1);
    assert_int_equal(pick_fresh(NULL, NULL), 0);
}

/* random: weighted 3:1 over 20000 picks, share of the first within 0.75 +- 0.02. */
static void test_random(void **state)
{
    (void)state;
    setup_world(2, "random");
    bcfg[0].weight = 3;
    int c[NMAX] = {0};
    count_fresh(20000, c);
    assert_near(c[0] / 20000.0, 0.75, 0.02);
    setup_world(4, "random");
    memset(c, 0, sizeof c);
    count_fresh(20000, c);
    for (int i = 0; i < 4; i++) assert_near(c[i] / 20000.0, 0.25, 0.02);
}

/* random(2): the less loaded of two draws. Sessions that keep their connection
 * stay within 2 of each other on 4 servers; a loaded server is avoided. */
static void test_random2(void **state)
{
    (void)state;
    setup_world(4, "random(2)");
    for (int i = 0; i < 400; i++) atomic_fetch_add(&pools[pick_fresh(NULL, NULL)].n_busy, 1);
    int lo = 1 << 30, hi = 0;
    for (int i = 0; i < 4; i++) {
        int b = atomic_load(&pools[i].n_busy);
        lo = b < lo ? b : lo;
        hi = b > hi ? b : hi;
    }
    assert_true(hi - lo <= 2);
    setup_world(2, "random(2)");
    atomic_store(&pools[0].n_busy, 5);
    int c[NMAX] = {0};
    count_fresh(1000, c);
    assert_int_equal(c[1], 1000); /* two distinct draws out of two: always the lighter */
    /* no load: like random, 0.5 +- 0.04 */
    setup_world(2, "random(2)");
    memset(c, 0, sizeof c);
    count_fresh(5000, c);
    assert_near(c[0] / 5000.0, 0.5, 0.04);
}

/* source: the IP, not the port, decides; 2000 addresses spread 0.5 +- 0.06 over
 * two servers and 0.75 +- 0.06 with weights 3:1. */
static void test_source(void **state)
{
    (void)state;
    setup_world(2, "source");
    char peer[64];
    int c[NMAX] = {0};
    for (int i = 0; i < 2000; i++) {
        snprintf(peer, sizeof peer, "10.%d.%d.%d:%d", i / 65536, (i / 256) % 256, i % 256,
                 1024 + i);
        int srv = pick_fresh(peer, NULL);
        c[srv]++;
        for (int port = 2000; port < 2010; port++) { /* same IP, other ports: same server */
            snprintf(peer, sizeof peer, "10.%d.%d.%d:%d", i / 65536, (i / 256) % 256, i % 256,
                     port);
            assert_int_equal(pick_fresh(peer, NULL), srv);
        }
    }
    assert_near(c[0] / 2000.0, 0.5, 0.06);
    /* IPv6 peers: the colons of the address are kept */
    assert_int_equal(pick_fresh("::1:5000", NULL), pick_fresh("::1:6000", NULL));

    setup_world(2, "source");
    bcfg[0].weight = 3;
    memset(c, 0, sizeof c);
    for (int i = 0; i < 2000; i++) {
        snprintf(peer, sizeof peer, "172.16.%d.%d:3306", i / 256, i % 256);
        c[pick_fresh(peer, NULL)]++;
    }
    assert_near(c[0] / 2000.0, 0.75, 0.06);
}

static int user_map(int n_users, int *out)
{
    char user[32];
    for (int i = 0; i < n_users; i++) {
        snprintf(user, sizeof user, "user%d", i);
        out[i] = pick_fresh(NULL, user);
    }
    return 0;
}

/* user: consistent hashing. 10000 users over 4 servers: each 0.25 +- 0.06.
 * Adding a 5th server (a reload: new snapshot) moves fewer than 1/5 + 0.05 of
 * them, all to the new server; a server going down moves only its users. */
static void test_user_consistent(void **state)
{
    (void)state;
    enum { U = 10000 };
    static int before[U], after[U];
    setup_world(4, "user");
    user_map(U, before);
    int c[NMAX] = {0};
    for (int i = 0; i < U; i++) c[before[i]]++;
    for (int i = 0; i < 4; i++) assert_near(c[i] / (double)U, 0.25, 0.06);

    cfg2 = cfg;
    memcpy(bcfg2, bcfg, sizeof bcfg);
    cfg2.backends = bcfg2;
    cfg2.n_backends = 5;
    px.cfg = &cfg2;
    user_map(U, after);
    int moved = 0;
    for (int i = 0; i < U; i++) {
        if (after[i] != before[i]) {
            moved++;
            assert_int_equal(after[i], 4);
        }
    }
    assert_true(moved > 0);
    assert_near(moved / (double)U, 0.2, 0.05);

    atomic_store(&servers[1].state, SRV_DOWN);
    int moved_down = 0;
    for (int i = 0; i < U; i++) {
        char user[32];
        snprintf(user, sizeof user, "user%d", i);
        int srv = pick_fresh(NULL, user);
        assert_int_not_equal(srv, 1);
        if (after[i] != 1) assert_int_equal(srv, after[i]);
        else moved_down++;
    }
    assert_true(moved_down > 0);
    /* and back up: the same map as before it went down */
    atomic_store(&servers[1].state, SRV_UP);
    int again[U];
    user_map(U, again);
    assert_memory_equal(again, after, sizeof again);

    /* a weight change moves keys only towards or away from the changed server */
    atomic_store(&servers[0].weight, 2);
    user_map(U, again);
    for (int i = 0; i < U; i++)
        if (again[i] != after[i]) assert_int_equal(again[i], 0);
}

/* leastlatency: an unsampled server first, then the lowest EWMA per weight,
 * and latency times load so that one fast server does not take everything. */
static void test_leastlatency(void **state)
{
    (void)state;
    setup_world(3, "leastlatency");
    atomic_store(&servers[0].ewma_us, 500);
    atomic_store(&servers[1].ewma_us, 100);
    assert_int_equal(pick_fresh(NULL, NULL), 2); /* no sample yet */
    atomic_store(&servers[2].ewma_us, 300);
    int c[NMAX] = {0};
    count_fresh(100, c);
    assert_int_equal(c[1], 100);
    bcfg[2].weight = 4; /* 300/4 < 100/1 */
    assert_int_equal(pick_fresh(NULL, NULL), 2);
    bcfg[2].weight = 1;
    atomic_store(&pools[1].n_busy, 3); /* 100 * 4 > 300 * 1 */
    assert_int_equal(pick_fresh(NULL, NULL), 2);
}

/* ---- common rules ---- */

/* Backups only when no primary is up; sessions go back to a primary once one is. */
static void test_backup(void **state)
{
    (void)state;
    setup_world(3, "roundrobin");
    bcfg[2].backup = true;
    int c[NMAX] = {0};
    count_fresh(300, c);
    assert_int_equal(c[2], 0);
    atomic_store(&servers[0].state, SRV_DOWN);
    memset(c, 0, sizeof c);
    count_fresh(300, c);
    assert_int_equal(c[1], 300);
    atomic_store(&servers[1].state, SRV_DRAINING);
    struct client *s = new_session(NULL, NULL);
    assert_int_equal(borrow(s), 2);
    assert_int_equal(borrow(s), 2);
    atomic_store(&servers[0].state, SRV_UP);
    assert_int_equal(borrow(s), 0); /* affinity does not hold a backup */
    end_session(s);
    atomic_store(&servers[0].state, SRV_MAINT);
    atomic_store(&servers[2].state, SRV_DOWN);
    assert_int_equal(pick_fresh(NULL, NULL), -1);
}

/* A server at its cap is used only when every server is. */
static void test_cap(void **state)
{
    (void)state;
    setup_world(2, "roundrobin");
    bcfg[0].max_connections = 2;
    atomic_store(&pools[0].n_busy, 2);
    int c[NMAX] = {0};
    count_fresh(100, c);
    assert_int_equal(c[1], 100);
    /* the cap reached with no idle connection in this worker's pool: full too */
    setup_world(2, "roundrobin");
    bcfg[0].max_connections = 2;
    atomic_store(&servers[0].open, 2);
    memset(c, 0, sizeof c);
    count_fresh(10, c);
    assert_int_equal(c[1], 10);
    pools[0].n_idle = 1;
    memset(c, 0, sizeof c);
    count_fresh(10, c);
    assert_int_equal(c[0], 5);
    /* every server full: all of them again */
    atomic_store(&pools[0].n_busy, 2);
    cfg.pool_max_per_backend = 5; /* 0 = the pool cap */
    atomic_store(&pools[1].n_busy, 5);
    memset(c, 0, sizeof c);
    count_fresh(100, c);
    assert_int_equal(c[0], 50);
}

/* Slow start: weight from ~1/10 to full over slow_start_ms. Two servers of
 * weight 1, the second up since t: its round-robin share is w/(1+w) with
 * w = 0.1 + 0.9 t/slow_start, +- 0.02. */
static void test_slow_start(void **state)
{
    (void)state;
    const double frac[] = {0.0, 0.5, 0.9, 2.0};
    for (size_t k = 0; k < sizeof frac / sizeof frac[0]; k++) {
        setup_world(2, "roundrobin");
        cfg.slow_start_ms = 100000;
        atomic_store(&servers[1].up_since_ms,
                     mx_now_ms() - (uint64_t)(frac[k] * cfg.slow_start_ms));
        int c[NMAX] = {0};
        count_fresh(2000, c);
        double f = frac[k] > 1 ? 1 : frac[k];
        double wgt = 0.1 + 0.9 * f;
        assert_near(c[1] / 2000.0, wgt / (1 + wgt), 0.02);
    }
    /* static-rr has no slow start */
    setup_world(2, "static-rr");
    cfg.slow_start_ms = 100000;
    atomic_store(&servers[1].up_since_ms, mx_now_ms());
    int c[NMAX] = {0};
    count_fresh(100, c);
    assert_int_equal(c[1], 50);
}

/* Affinity: a session stays on its last server while it is up and not over
 * 5/4 of its fair share + 1; after a recovery, sessions drift to the
 * recovered server as they borrow, and the split ends within that rule. */
static void test_affinity(void **state)
{
    (void)state;
    setup_world(2, "roundrobin");
    enum { N = 100 };
    struct client *ss[N];
    for (int i = 0; i < N; i++) ss[i] = new_session(NULL, NULL);
    for (int i = 0; i < N; i++) borrow(ss[i]);
    assert_int_equal(atomic_load(&servers[0].affine), 50);
    /* balanced: every session keeps its server */
    for (int r = 0; r < 5; r++)
        for (int i = 0; i < N; i++) assert_int_equal(borrow(ss[i]), i % 2);

    /* server 2 goes down: its sessions move at their next borrow */
    atomic_store(&servers[1].state, SRV_DOWN);
    for (int i = 0; i < N; i++) assert_int_equal(borrow(ss[i]), 0);
    assert_int_equal(atomic_load(&servers[0].affine), N);
    assert_int_equal(atomic_load(&servers[1].affine), 0);
    /* back up: load moves without reconnecting, until the rule holds */
    atomic_store(&servers[1].state, SRV_UP);
    for (int r = 0; r < 10; r++)
        for (int i = 0; i < N; i++) borrow(ss[i]);
    int a0 = atomic_load(&servers[0].affine), a1 = atomic_load(&servers[1].affine);
    assert_int_equal(a0 + a1, N);
    assert_true(a0 <= 5 * N / 8 + 1); /* 5/4 of the fair 50, plus one */
    assert_true(a1 >= 30);
    /* and it is stable: another round moves nobody */
    int where[N];
    for (int i = 0; i < N; i++) where[i] = ss[i]->server;
    for (int i = 0; i < N; i++) assert_int_equal(borrow(ss[i]), where[i]);
    for (int i = 0; i < N; i++) end_session(ss[i]);
    assert_int_equal(atomic_load(&servers[0].affine), 0);
    assert_int_equal(atomic_load(&servers[1].affine), 0);
}

/* A command mymux aims at one server (KILL QUERY) goes there. */
static void test_synthetic(void **state)
{
    (void)state;
    setup_world(2, "roundrobin");
    struct client *s = new_session(NULL, NULL);
    s->server = 1;
    s->r.to_last = true; /* KILL QUERY */
    for (int i = 0; i < 10; i++) assert_int_equal(pick(s), 1);
    free(s);
}

/* ---- stickiness ---- */

static void test_sticky_table(void **state)
{
    (void)state;
    struct sticky_table *t = sticky_new(3);
    assert_non_null(t);
    assert_int_equal(sticky_get(t, "a", 0, 100), -1);
    assert_int_equal(sticky_put(t, "a", 1, 0, 100), 0);
    assert_int_equal(sticky_put(t, "b", 2, 10, 100), 0);
    assert_int_equal(sticky_put(t, "c", 3, 20, 100), 0);
    assert_int_equal(sticky_get(t, "a", 50, 100), 1); /* refreshed to 150, most recent */
    assert_int_equal(sticky_put(t, "d", 4, 60, 100), 0); /* full: b, the LRU, goes */
    assert_int_equal(sticky_count(t), 3);
    assert_int_equal(sticky_get(t, "b", 60, 100), -1);
    assert_int_equal(sticky_get(t, "c", 120, 100), -1); /* put at 20: expired at 120 */
    assert_int_equal(sticky_count(t), 2);               /* ...and removed */
    assert_int_equal(sticky_get(t, "a", 149, 100), 1);  /* refreshed at 50, again now */
    assert_int_equal(sticky_get(t, "a", 248, 100), 1);
    assert_int_equal(sticky_get(t, "a", 348, 100), -1); /* 248 + 100: expired */
    assert_int_equal(sticky_put(t, "d", 7, 400, 100), 0); /* replace */
    assert_int_equal(sticky_get(t, "d", 401, 100), 7);
    sticky_del(t, "d");
    assert_int_equal(sticky_get(t, "d", 401, 100), -1);
    /* many keys through a small table: bounded */
    char k[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(k, sizeof k, "k%d", i);
        assert_int_equal(sticky_put(t, k, i, 1000, 100), 0);
    }
    assert_int_equal(sticky_count(t), 3);
    assert_int_equal(sticky_get(t, "k999", 1001, 100), 999);
    assert_int_equal(sticky_get(t, "k996", 1001, 100), -1);
    sticky_free(t);
}

/* stick on src: new sessions from one address go where the first went, across
 * ports; replaced when that server is down; expire. */
static void test_sticky_src(void **state)
{
    (void)state;
    setup_world(3, "roundrobin");
    cfg.stick_on = "src";
    balance_free(st);
    st = balance_new(&px, 0);
    assert_non_null(st);
    int first = pick_fresh("192.0.2.7:1000", NULL);
    for (int i = 0; i < 20; i++) {
        char peer[64];
        snprintf(peer, sizeof peer, "192.0.2.7:%d", 2000 + i);
        assert_int_equal(pick_fresh(peer, NULL), first);
    }
    /* other addresses still follow round robin */
    int c[NMAX] = {0};
    for (int i = 0; i < 300; i++) {
        char peer[64];
        snprintf(peer, sizeof peer, "198.51.100.%d:%d", i % 250, 3000 + i);
        c[pick_fresh(peer, NULL)]++;
    }
    for (int i = 0; i < 3; i++) assert_true(c[i] >= 90);
    /* down: ignored and replaced, and the replacement sticks after recovery */
    atomic_store(&servers[first].state, SRV_DOWN);
    int second = pick_fresh("192.0.2.7:4000", NULL);
    assert_int_not_equal(second, first);
    atomic_store(&servers[first].state, SRV_UP);
    for (int i = 0; i < 10; i++) assert_int_equal(pick_fresh("192.0.2.7:4001", NULL), second);
    /* a session whose server goes down moves, and its entry with it */
    struct client *s = new_session("192.0.2.7:5000", NULL);
    assert_int_equal(borrow(s), second);
    atomic_store(&servers[second].state, SRV_DOWN);
    int third = borrow(s);
    assert_int_not_equal(third, second);
    atomic_store(&servers[second].state, SRV_UP);
    assert_int_equal(borrow(s), third); /* sticky sessions stay where they are */
    end_session(s);
    assert_int_equal(pick_fresh("192.0.2.7:5001", NULL), third);
    /* expiry */
    cfg.stick_expire_ms = 30;
    int e = pick_fresh("203.0.113.9:1", NULL);
    usleep(80 * 1000);
    /* expired: round robin decides; it moves at least once in 3 tries */
    bool moved = false;
    for (int i = 0; i < 3 && !moved; i++) {
        usleep(40 * 1000);
        moved = pick_fresh("203.0.113.9:2", NULL) != e;
    }
    assert_true(moved);
}

/* stick on user: the key is the user name, whatever the address. */
static void test_sticky_user(void **state)
{
    (void)state;
    setup_world(2, "roundrobin");
    cfg.stick_on = "user";
    balance_free(st);
    st = balance_new(&px, 0);
    assert_non_null(st);
    int a = pick_fresh("10.0.0.1:1", "alice");
    int b = pick_fresh("10.0.0.1:2", "bob");
    assert_int_not_equal(a, b);
    for (int i = 0; i < 10; i++) {
        char peer[64];
        snprintf(peer, sizeof peer, "10.9.9.%d:7", i);
        assert_int_equal(pick_fresh(peer, "alice"), a);
        assert_int_equal(pick_fresh(peer, "bob"), b);
    }
}

/* A login whose first connection to a server failed: that server is no candidate
 * for the same login again (whatever the algorithm would say), a login that
 * avoided every server gets none, and the mask means nothing after the login. */
static void test_login_avoids_failed_servers(void **unused)
{
    (void)unused;
    static const char *const algos[] = {"roundrobin", "leastconn", "first", "source", "user"};
    for (size_t a = 0; a < sizeof algos / sizeof algos[0]; a++) {
        setup_world(3, algos[a]);
        for (int k = 0; k < 30; k++) {
            char peer[32];
            snprintf(peer, sizeof peer, "10.0.%d.1:4000", k);
            struct client *s = new_session(peer, NULL);
            int first = borrow(s);
            assert_true(first >= 0 && first < 3);
            s->r.avoid |= 1ull << first;
            int second = borrow(s);
            assert_true(second >= 0 && second < 3 && second != first);
            s->r.avoid |= 1ull << second;
            int third = borrow(s);
            assert_true(third >= 0 && third < 3 && third != first && third != second);
            s->r.avoid |= 1ull << third;
            assert_int_equal(pick(s), -1);
            s->r.avoid = 0; /* logged in: the mask is history */
            assert_true(borrow(s) >= 0);
            end_session(s);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_parse, teardown),
        cmocka_unit_test_teardown(test_roundrobin, teardown),
        cmocka_unit_test_teardown(test_dynamic_and_static_weights, teardown),
        cmocka_unit_test_teardown(test_leastconn, teardown),
        cmocka_unit_test_teardown(test_first, teardown),
        cmocka_unit_test_teardown(test_random, teardown),
        cmocka_unit_test_teardown(test_random2, teardown),
        cmocka_unit_test_teardown(test_source, teardown),
        cmocka_unit_test_teardown(test_user_consistent, teardown),
        cmocka_unit_test_teardown(test_leastlatency, teardown),
        cmocka_unit_test_teardown(test_backup, teardown),
        cmocka_unit_test_teardown(test_cap, teardown),
        cmocka_unit_test_teardown(test_slow_start, teardown),
        cmocka_unit_test_teardown(test_affinity, teardown),
        cmocka_unit_test_teardown(test_synthetic, teardown),
        cmocka_unit_test_teardown(test_sticky_table, teardown),
        cmocka_unit_test_teardown(test_sticky_src, teardown),
        cmocka_unit_test_teardown(test_sticky_user, teardown),
        cmocka_unit_test_teardown(test_login_avoids_failed_servers, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
