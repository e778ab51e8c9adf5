/* Stick table: key (client address or user) -> backend server with an expiry, bounded by LRU. */
#include "router/sticky.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* One key. Entries are on a hash chain and on the LRU list (head = most recent);
 * since every use pushes the expiry forward by the same amount, the LRU tail is
 * also the entry that expires first. */
struct sticky_entry {
    struct sticky_entry *hnext;       /* hash chain */
    struct sticky_entry *lprev, *lnext;
    uint64_t hash;
    uint64_t expires_ms;
    int server;
    char key[];
};

struct sticky_table {
    pthread_mutex_t lock; /* consulted once per session, never per query */
    struct sticky_entry **buckets;
    size_t mask;          /* buckets - 1 (a power of two) */
    size_t n, cap;
    struct sticky_entry *head, *tail;
};

static uint64_t sticky_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a, then a 64-bit finalizer */
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

struct sticky_table *sticky_new(size_t cap)
{
    if (cap == 0) cap = 1;
    struct sticky_table *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    size_t nb = 16;
    while (nb < cap && nb < ((size_t)1 << 24)) nb <<= 1;
    t->buckets = calloc(nb, sizeof *t->buckets);
    if (!t->buckets) {
        free(t);
        return NULL;
    }
    t->mask = nb - 1;
    t->cap = cap;
    pthread_mutex_init(&t->lock, NULL);
    return t;
}

void sticky_free(struct sticky_table *t)
{
    if (!t) return;
    struct sticky_entry *e = t->head;
    while (e) {
        struct sticky_entry *next = e->lnext;
        free(e);
        e = next;
    }
    pthread_mutex_destroy(&t->lock);
    free(t->buckets);
    free(t);
}

static void lru_unlink(struct sticky_table *t, struct sticky_entry *e)
{
    if (e->lprev) e->lprev->lnext = e->lnext;
    else t->head = e->lnext;
    if (e->lnext) e->lnext->lprev = e->lprev;
    else t->tail = e->lprev;
    e->lprev = e->lnext = NULL;
}

static void lru_push_front(struct sticky_table *t, struct sticky_entry *e)
{
    e->lprev = NULL;
    e->lnext = t->head;
    if (t->head) t->head->lprev = e;
    else t->tail = e;
    t->head = e;
}

/* The entry for key, or NULL; *link is where it hangs on its chain. */
static struct sticky_entry *find(struct sticky_table *t, const char *key, uint64_t h,
                                 struct sticky_entry ***link)
{
    struct sticky_entry **pp = &t->buckets[h & t->mask];
    for (; *pp; pp = &(*pp)->hnext) {
        if ((*pp)->hash == h && strcmp((*pp)->key, key) == 0) break;
    }
    if (link) *link = pp;
    return *pp;
}

static void remove_entry(struct sticky_table *t, struct sticky_entry *e)
{
    struct sticky_entry **pp;
    find(t, e->key, e->hash, &pp);
    if (*pp == e) *pp = e->hnext;
    lru_unlink(t, e);
    t->n--;
    free(e);
}

int sticky_get(struct sticky_table *t, const char *key, uint64_t now_ms, uint64_t expire_ms)
{
    uint64_t h = sticky_hash(key);
    int server = -1;
    pthread_mutex_lock(&t->lock);
    struct sticky_entry *e = find(t, key, h, NULL);
    if (e && e->expires_ms <= now_ms) {
        remove_entry(t, e);
    } else if (e) {
        server = e->server;
        e->expires_ms = now_ms + expire_ms;
        lru_unlink(t, e);
        lru_push_front(t, e);
    }
    pthread_mutex_unlock(&t->lock);
    return server;
}

int sticky_put(struct sticky_table *t, const char *key, int server, uint64_t now_ms,
               uint64_t expire_ms)
{
    uint64_t h = sticky_hash(key);
    int rc = 0;
    pthread_mutex_lock(&t->lock);
    struct sticky_entry **link;
    struct sticky_entry *e = find(t, key, h, &link);
    if (e) {
        lru_unlink(t, e);
        goto store;
    }
    /* make room: expired entries first (they sit at the tail), then the LRU one */
    while (t->tail && (t->tail->expires_ms <= now_ms || t->n >= t->cap)) remove_entry(t, t->tail);
    size_t klen = strlen(key);
    e = malloc(sizeof *e + klen + 1);
    if (!e) {
        rc = -1;
        goto out;
    }
    memcpy(e->key, key, klen + 1);
    e->hash = h;
    find(t, key, h, &link); /* the removals above may have changed the chain */
    e->hnext = NULL;
    *link = e;
    t->n++;
store:
    e->server = server;
    e->expires_ms = now_ms + expire_ms;
    lru_push_front(t, e);
out:
    pthread_mutex_unlock(&t->lock);
    return rc;
}

void sticky_del(struct sticky_table *t, const char *key)
{
    uint64_t h = sticky_hash(key);
    pthread_mutex_lock(&t->lock);
    struct sticky_entry *e = find(t, key, h, NULL);
    if (e) remove_entry(t, e);
    pthread_mutex_unlock(&t->lock);
}

size_t sticky_count(struct sticky_table *t)
{
    pthread_mutex_lock(&t->lock);
    size_t n = t->n;
    pthread_mutex_unlock(&t->lock);
    return n;
}
