/* Balancing algorithms, backups, connection caps, slow start, session affinity and stickiness. */
#include "router/balance.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/config.h"
#include "core/proxy.h"
#include "pool/cap.h"
#include "pool/pool.h"
#include "router/sticky.h"

/* Weights are scaled by this so that slow start can give a weight-1 server a
 * tenth of its share. */
#define BAL_WSCALE 1000
/* Ring points per unit of weight (consistent hashing), and the ring's bound. */
#define BAL_POINTS_PER_WEIGHT 160
#define BAL_MAX_POINTS 200000
/* Affinity gives way when the last server holds more than 5/4 of its fair share
 * of the sessions, plus one (see affinity_holds). */
#define BAL_AFF_NUM 5
#define BAL_AFF_DEN 4

struct balance_point {
    uint64_t hash;
    int server;
};

/* Per-worker state: touched only by its worker's thread. */
struct balance_state {
    struct mx_proxy *px;
    const struct mx_config *cfg; /* the snapshot this state was built for */
    size_t n;                    /* cfg->n_backends */
    int algo;                    /* enum balance_algo */
    int64_t *cur;                /* [n] smooth weighted round robin: current weights */
    int64_t *ew;                 /* [n] scratch: effective weight of each candidate, 0 = not one */
    int64_t *load;               /* [n] scratch: busy + in flight */
    uint8_t *tier;               /* [n] scratch: up and in the tier in use */
    uint32_t tie;                /* rotates the start of scans, to spread ties */
    uint64_t rng;                /* xorshift64* */
    struct balance_point *ring;  /* consistent hashing (source, user), sorted by hash */
    size_t n_ring;
    int *ring_w;                 /* [n] weights the ring was built with */
    struct sticky_table *stick;  /* shared by the workers of the proxy; NULL = off */
    struct mx_proxy *stick_px;
};

/* ---- shared stick tables: one per proxy, referenced by its workers ---- */

struct stick_ref {
    struct mx_proxy *px;
    struct sticky_table *t;
    int refs;
    struct stick_ref *next;
};
static pthread_mutex_t stick_refs_lock = PTHREAD_MUTEX_INITIALIZER;
static struct stick_ref *stick_refs;

static struct sticky_table *stick_acquire(struct mx_proxy *px, size_t cap)
{
    pthread_mutex_lock(&stick_refs_lock);
    struct stick_ref *r = stick_refs;
    while (r && r->px != px) r = r->next;
    if (!r && (r = calloc(1, sizeof *r)) != NULL) {
        r->px = px;
        r->t = sticky_new(cap);
        if (!r->t) {
            free(r);
            r = NULL;
        } else {
            r->next = stick_refs;
            stick_refs = r;
        }
    }
    if (r) r->refs++;
    pthread_mutex_unlock(&stick_refs_lock);
    return r ? r->t : NULL;
}

static void stick_release(struct mx_proxy *px)
{
    pthread_mutex_lock(&stick_refs_lock);
    struct stick_ref **pp = &stick_refs;
    while (*pp && (*pp)->px != px) pp = &(*pp)->next;
    struct stick_ref *r = *pp;
    if (r && --r->refs == 0) {
        *pp = r->next;
        sticky_free(r->t);
        free(r);
    }
    pthread_mutex_unlock(&stick_refs_lock);
}

/* ---- helpers ---- */

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

static uint64_t hash_str(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
    return mix64(h);
}

static uint64_t rng_next(struct balance_state *st)
{
    uint64_t x = st->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    st->rng = x;
    return x * 0x2545f4914f6cdd1dull;
}

int balance_algo_parse(const char *name)
{
    static const char *const names[] = {
        [BAL_ROUNDROBIN] = "roundrobin", [BAL_STATIC_RR] = "static-rr",
        [BAL_LEASTCONN] = "leastconn",   [BAL_FIRST] = "first",
        [BAL_RANDOM] = "random",         [BAL_RANDOM2] = "random(2)",
        [BAL_SOURCE] = "source",         [BAL_USER] = "user",
        [BAL_LEASTLATENCY] = "leastlatency",
    };
    if (!name) return BAL_ROUNDROBIN;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(name, names[i]) == 0) return (int)i;
    return -1;
}

/* The weight set in the config or by an operator (unscaled, >= 1). */
static int base_weight(const struct mx_proxy *px, const struct mx_config *cfg, size_t i)
{
    int w = atomic_load_explicit(&px->servers[i].weight, memory_order_relaxed);
    if (w <= 0) w = cfg->backends[i].weight;
    return w > 0 ? w : 1;
}

/* ---- state ---- */

static void state_clear(struct balance_state *st)
{
    free(st->cur);
    free(st->ew);
    free(st->load);
    free(st->tier);
    free(st->ring);
    free(st->ring_w);
    st->cur = st->ew = st->load = NULL;
    st->tier = NULL;
    st->ring = NULL;
    st->ring_w = NULL;
    st->n_ring = 0;
    st->cfg = NULL;
}

/* (Re)builds st for cfg (a snapshot of px). */
static int state_build(struct balance_state *st, struct mx_proxy *px, const struct mx_config *cfg)
{
    state_clear(st);
    size_t n = cfg->n_backends ? cfg->n_backends : 1;
    st->cur = calloc(n, sizeof *st->cur);
    st->ew = calloc(n, sizeof *st->ew);
    st->load = calloc(n, sizeof *st->load);
    st->tier = calloc(n, sizeof *st->tier);
    st->ring_w = calloc(n, sizeof *st->ring_w);
    if (!st->cur || !st->ew || !st->load || !st->tier || !st->ring_w) {
        state_clear(st);
        return UV_ENOMEM;
    }
    st->n = cfg->n_backends;
    int algo = balance_algo_parse(cfg->balance);
    st->algo = algo < 0 ? BAL_ROUNDROBIN : algo;
    if (cfg->stick_on && !st->stick) {
        st->stick = stick_acquire(px, cfg->stick_size > 0 ? (size_t)cfg->stick_size : 100000);
        st->stick_px = st->stick ? px : NULL;
    }
    st->cfg = cfg;
    return 0;
}

struct balance_state *balance_new(struct mx_proxy *px, int worker_id)
{
    struct balance_state *st = calloc(1, sizeof *st);
    if (!st) return NULL;
    /* a fixed seed per worker: random choices need no unpredictability here, and
     * a run can be repeated */
    st->rng = mix64(0x9e3779b97f4a7c15ull ^ ((uint64_t)worker_id << 32)) | 1;
    st->tie = (uint32_t)worker_id;
    st->px = px;
    if (state_build(st, px, px->cfg) != 0) {
        free(st);
        return NULL;
    }
    return st;
}

void balance_free(struct balance_state *st)
{
    if (!st) return;
    state_clear(st);
    if (st->stick) stick_release(st->stick_px);
    free(st);
}

/* ---- consistent hashing ring ---- */

static int point_cmp(const void *a, const void *b)
{
    const struct balance_point *x = a, *y = b;
    return x->hash < y->hash ? -1 : x->hash > y->hash ? 1 : x->server - y->server;
}

/* Points of a server are hashes of its name, so they do not move when other
 * servers are added, removed or re-weighted: only ~1/n of the keys move. */
static int ring_build(struct balance_state *st, const struct mx_proxy *px)
{
    const struct mx_config *cfg = st->cfg;
    uint64_t total_w = 0;
    for (size_t i = 0; i < st->n; i++) total_w += (uint64_t)(st->ring_w[i] = base_weight(px, cfg, i));
    uint64_t per = BAL_POINTS_PER_WEIGHT;
    while (per > 1 && total_w * per > BAL_MAX_POINTS) per /= 2;
    size_t count = 0;
    for (size_t i = 0; i < st->n; i++) {
        uint64_t p = (uint64_t)st->ring_w[i] * per;
        if (total_w * per > BAL_MAX_POINTS) p = p * BAL_MAX_POINTS / (total_w * per);
        count += p ? p : 1;
    }
    struct balance_point *ring = malloc(count * sizeof *ring);
    if (!ring) return -1;
    size_t k = 0;
    for (size_t i = 0; i < st->n; i++) {
        uint64_t p = (uint64_t)st->ring_w[i] * per;
        if (total_w * per > BAL_MAX_POINTS) p = p * BAL_MAX_POINTS / (total_w * per);
        if (!p) p = 1;
        const char *name = cfg->backends[i].name ? cfg->backends[i].name : "";
        uint64_t h = hash_str(name, strlen(name));
        for (uint64_t j = 0; j < p; j++) {
            ring[k].hash = mix64(h + (j + 1) * 0x9e3779b97f4a7c15ull);
            ring[k].server = (int)i;
            k++;
        }
    }
    qsort(ring, count, sizeof *ring, point_cmp);
    free(st->ring);
    st->ring = ring;
    st->n_ring = count;
    return 0;
}

/* The first candidate clockwise from key's hash; -1 if the ring cannot be built. */
static int ring_pick(struct balance_state *st, const struct mx_proxy *px, const char *key,
                     size_t len)
{
    bool stale = st->ring == NULL;
    for (size_t i = 0; i < st->n && !stale; i++) stale = st->ring_w[i] != base_weight(px, st->cfg, i);
    if (stale && ring_build(st, px) != 0) return -1;
    uint64_t h = hash_str(key, len);
    size_t lo = 0, hi = st->n_ring;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (st->ring[mid].hash < h) lo = mid + 1;
        else hi = mid;
    }
    for (size_t k = 0; k < st->n_ring; k++) {
        int srv = st->ring[(lo + k) % st->n_ring].server;
        if (st->ew[srv]) return srv;
    }
    return -1;
}

/* ---- algorithms over the candidates (st->ew[i] > 0) ---- */

/* nginx's smooth weighted round robin: each candidate gains its weight, the
 * largest is chosen and loses the total. Spreads a 3:1 as a,a,b,a rather than
 * a,a,a,b, and a changed weight counts from the next pick. */
static int pick_swrr(struct balance_state *st, const int64_t *weight)
{
    int64_t total = 0;
    int best = -1;
    for (size_t i = 0; i < st->n; i++) {
        if (!st->ew[i]) continue;
        st->cur[i] += weight[i];
        total += weight[i];
        if (best < 0 || st->cur[i] > st->cur[best]) best = (int)i;
    }
    if (best >= 0) st->cur[best] -= total;
    return best;
}

/* a's load per weight is below b's (loads counted with the session to place). */
static bool lighter(const struct balance_state *st, int a, int b)
{
    return (st->load[a] + 1) * st->ew[b] < (st->load[b] + 1) * st->ew[a];
}

static int pick_leastconn(struct balance_state *st)
{
    int best = -1;
    size_t start = st->n ? st->tie++ % st->n : 0;
    for (size_t k = 0; k < st->n; k++) {
        size_t i = (start + k) % st->n;
        if (st->ew[i] && (best < 0 || lighter(st, (int)i, best))) best = (int)i;
    }
    return best;
}

static int pick_random(struct balance_state *st)
{
    int64_t total = 0;
    for (size_t i = 0; i < st->n; i++) total += st->ew[i];
    if (total <= 0) return -1;
    int64_t r = (int64_t)(rng_next(st) % (uint64_t)total);
    for (size_t i = 0; i < st->n; i++) {
        if (r < st->ew[i]) return (int)i;
        r -= st->ew[i];
    }
    return -1;
}

/* Power of two choices: two weighted draws (the second among the others when
 * there are others), the less loaded wins. */
static int pick_random2(struct balance_state *st)
{
    int a = pick_random(st);
    if (a < 0) return a;
    int64_t wa = st->ew[a];
    st->ew[a] = 0;
    int b = pick_random(st);
    st->ew[a] = wa;
    if (b < 0) return a;
    return lighter(st, b, a) ? b : a;
}

static int pick_leastlatency(struct balance_state *st, const struct mx_proxy *px)
{
    int best = -1;
    uint64_t best_lat = 0;
    size_t start = st->n ? st->tie++ % st->n : 0;
    for (size_t k = 0; k < st->n; k++) {
        size_t i = (start + k) % st->n;
        if (!st->ew[i]) continue;
        uint64_t lat = atomic_load_explicit(&px->servers[i].ewma_us, memory_order_relaxed);
        if (!lat) return (int)i; /* no sample yet: try it */
        /* expected wait: latency times the queue it joins, per unit of weight */
        if (best < 0 ||
            (unsigned __int128)lat * (uint64_t)(st->load[i] + 1) * (uint64_t)st->ew[best] <
                (unsigned __int128)best_lat * (uint64_t)(st->load[best] + 1) * (uint64_t)st->ew[i]) {
            best = (int)i;
            best_lat = lat;
        }
    }
    return best;
}

static int pick_first(struct balance_state *st)
{
    for (size_t i = 0; i < st->n; i++)
        if (st->ew[i]) return (int)i;
    return -1;
}

/* ---- common rules ---- */

/* The client's IP from "ip:port" (any IPv6 colons before the port stay). */
static size_t peer_ip_len(const char *peer)
{
    const char *colon = strrchr(peer, ':');
    return colon ? (size_t)(colon - peer) : strlen(peer);
}

/* The stick key of r in buf ("" when stickiness is off or the key is empty). */
static const char *stick_key(const struct mx_config *cfg, const struct balance_req *r, char *buf,
                             size_t cap)
{
    buf[0] = 0;
    if (!cfg->stick_on) return buf;
    if (strcmp(cfg->stick_on, "user") == 0) {
        snprintf(buf, cap, "u:%s", r->user);
    } else {
        size_t len = peer_ip_len(r->peer);
        if (len) snprintf(buf, cap, "a:%.*s", (int)len, r->peer);
    }
    return buf;
}

/* Whether an unpinned session stays on `last`: unless last holds more than 5/4
 * of its fair share of the sessions (by weight) plus one. The margin keeps
 * sessions from hopping back and forth; the ratio lets load flow to a new or
 * recovered server as sessions borrow, without clients reconnecting. */
static bool affinity_holds(const struct balance_state *st, const struct mx_proxy *px, int last)
{
    int64_t total_aff = 0, total_w = 0, mine = 0;
    for (size_t i = 0; i < st->n; i++) {
        if (!st->tier[i]) continue;
        int a = atomic_load_explicit(&px->servers[i].affine, memory_order_relaxed);
        if (a < 0) a = 0;
        total_aff += a;
        total_w += st->ew[i];
        if ((int)i == last) mine = a;
    }
    if (total_w <= 0) return true;
    /* mine > 5/4 * total_aff * w_last / total_w + 1 */
    return BAL_AFF_DEN * mine * total_w <=
           BAL_AFF_NUM * total_aff * st->ew[last] + BAL_AFF_DEN * total_w;
}

static void move_affinity(struct mx_proxy *px, size_t n, int from, int to)
{
    if (from == to) return;
    if (from >= 0 && (size_t)from < n) atomic_fetch_sub(&px->servers[from].affine, 1);
    if (to >= 0)
        stat_peak(&px->servers[to].affine_peak, atomic_fetch_add(&px->servers[to].affine, 1) + 1);
}

int balance_pick(struct balance_state *st, const struct mx_pool *pools,
                 const struct balance_req *r)
{
    if (!st) return -1;
    struct mx_proxy *px = st->px;
    const struct mx_config *cfg = px->cfg;
    if (st->cfg != cfg && state_build(st, px, cfg) != 0) return -1;
    size_t n = st->n;
    int last = r->last >= 0 && (size_t)r->last < n ? r->last : -1;

    /* servers whose first connection failed during this login are no candidates */
    uint64_t avoid = r->avoid;
    /* the tier: primaries if any is up, else backups */
    bool primary_up = false;
    for (size_t i = 0; i < n; i++)
        if (!cfg->backends[i].backup && atomic_load(&px->servers[i].state) == SRV_UP &&
            !(i < 64 && (avoid >> i & 1)))
            primary_up = true;
    /* a command mymux aims at one server (KILL QUERY) goes there */
    if (r->to_last && last >= 0 && atomic_load(&px->servers[last].state) == SRV_UP)
        return last;

    uint64_t now = mx_now_ms();
    size_t n_tier = 0, n_room = 0;
    for (size_t i = 0; i < n; i++) {
        struct mx_server *sv = &px->servers[i];
        st->tier[i] = atomic_load(&sv->state) == SRV_UP && cfg->backends[i].backup != primary_up &&
                      !(i < 64 && (avoid >> i & 1));
        st->ew[i] = 0;
        if (!st->tier[i]) {
            st->cur[i] = 0; /* back from down: no burst of saved-up credit */
            continue;
        }
        n_tier++;
        int64_t ew = (int64_t)base_weight(px, cfg, i) * BAL_WSCALE;
        uint64_t up = atomic_load_explicit(&sv->up_since_ms, memory_order_relaxed);
        if (cfg->slow_start_ms > 0 && up && now >= up && now - up < (uint64_t)cfg->slow_start_ms &&
            st->algo != BAL_STATIC_RR) {
            /* from a tenth of the weight to all of it, linearly */
            ew = ew / 10 + (ew - ew / 10) * (int64_t)(now - up) / cfg->slow_start_ms;
        }
        st->ew[i] = ew > 0 ? ew : 1;
        /* connections lent by every worker: the cap is the server's, not this worker's share */
        int64_t load = (int64_t)POOL_TOTAL(px, (int)i, n_busy);
        if (pools) load += (int64_t)(STAT_GET(pools[i].n_wait) + STAT_GET(pools[i].n_opening));
        st->load[i] = load < 0 ? 0 : load;
        int cap = pool_server_cap(cfg, sv, i);
        /* full: every connection lent, or the cap reached with none idle here
         * (idle ones of other workers cannot serve this one) */
        bool full = cap > 0 && (st->load[i] >= cap ||
                                (atomic_load_explicit(&sv->open, memory_order_relaxed) >= cap &&
                                 !(pools && STAT_GET(pools[i].n_idle))));
        if (!full) n_room++;
        else st->ew[i] = -st->ew[i]; /* a candidate only if all are full */
    }
    if (!n_tier) return -1;
    /* candidates: servers of the tier with room, or all of the tier when none has */
    for (size_t i = 0; i < n; i++) {
        if (st->ew[i] >= 0) continue;
        if (n_room) {
            st->ew[i] = 0;
            st->tier[i] = 2; /* in the tier (fair share) but full */
        } else {
            st->ew[i] = -st->ew[i];
        }
    }

    char key[160];
    stick_key(cfg, r, key, sizeof key);
    bool sticky = st->stick && key[0];
    uint64_t expire = cfg->stick_expire_ms > 0 ? (uint64_t)cfg->stick_expire_ms : 1800000;

    int pick = -1;
    if (last >= 0 && st->ew[last] && st->algo != BAL_FIRST &&
        (sticky || affinity_holds(st, px, last)))
        return last;
    if (sticky && last < 0) {
        int srv = sticky_get(st->stick, key, now, expire);
        if (srv >= 0 && (size_t)srv < n && st->tier[srv]) pick = srv; /* full or not: it sticks */
    }
    if (pick < 0) {
        switch (st->algo) {
        case BAL_STATIC_RR: {
            int64_t *sw = st->load; /* reused as scratch: static weights */
            for (size_t i = 0; i < n; i++)
                sw[i] = (int64_t)(cfg->backends[i].weight > 0 ? cfg->backends[i].weight : 1);
            pick = pick_swrr(st, sw);
            break;
        }
        case BAL_LEASTCONN: pick = pick_leastconn(st); break;
        case BAL_FIRST: pick = pick_first(st); break;
        case BAL_RANDOM: pick = pick_random(st); break;
        case BAL_RANDOM2: pick = pick_random2(st); break;
        case BAL_SOURCE: pick = ring_pick(st, px, r->peer, peer_ip_len(r->peer)); break;
        case BAL_USER: pick = ring_pick(st, px, r->user, strlen(r->user)); break;
        case BAL_LEASTLATENCY: pick = pick_leastlatency(st, px); break;
        default: pick = pick_swrr(st, st->ew); break;
        }
        if (pick < 0) pick = pick_first(st); /* out of memory for the ring */
        /* a first borrow, or a move: the stick entry follows */
        if (sticky && pick >= 0) (void)sticky_put(st->stick, key, pick, now, expire);
    }
    if (pick >= 0) move_affinity(px, n, last, pick);
    return pick;
}

void balance_forget(struct mx_proxy *px, int server)
{
    if (server >= 0 && (size_t)server < px->cfg->n_backends)
        atomic_fetch_sub(&px->servers[server].affine, 1);
}
