/* Connection-id registry: which worker holds client connection n, as whom, and
 * on which backend thread its statement runs (KILL). Locked; never on the query
 * path. Entries live in their sessions; the table holds pointers. */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "core/config.h"
#include "core/proxy.h"
#include "core/registry.h"
#include "core/worker.h"

int registry_init(struct mx_proxy *px, size_t cap)
{
    size_t n = 64;
    while (n < cap * 2) n <<= 1;
    px->reg = calloc(n, sizeof *px->reg);
    if (!px->reg) return -1;
    px->reg_cap = n;
    pthread_mutex_init(&px->reg_lock, NULL);
    return 0;
}

static size_t slot_of(const struct mx_proxy *px, uint32_t id)
{
    return (id * 2654435761u) & (px->reg_cap - 1);
}

static void put(struct mx_proxy *px, struct mx_reg_entry *e)
{
    size_t mask = px->reg_cap - 1, k = slot_of(px, e->id);
    while (px->reg[k]) k = (k + 1) & mask;
    px->reg[k] = e;
}

/* Twice the slots, every entry placed again (under the lock). */
static int grow(struct mx_proxy *px)
{
    struct mx_reg_entry **old = px->reg;
    size_t old_cap = px->reg_cap;
    struct mx_reg_entry **tab = calloc(old_cap * 2, sizeof *tab);
    if (!tab) return -1;
    px->reg = tab;
    px->reg_cap = old_cap * 2;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i]) put(px, old[i]);
    free(old);
    return 0;
}

uint32_t registry_next_id(struct mx_proxy *px)
{
    uint32_t high = (uint32_t)atomic_load(&px->cfg)->instance_id << 24;
    for (;;) {
        uint32_t n = atomic_fetch_add(&px->next_conn_id, 1);
        uint32_t id = high | (n & 0xffffffu);
        if ((n & 0xffffffu) == 0) continue;
        /* before the first wrap no id can be in use; after it, fewer sessions
         * live than there are ids, so the search ends */
        struct mx_reg_entry e;
        if (n <= 0xffffffu || registry_get(px, id, &e) != 0) return id;
    }
}

int registry_add(struct mx_proxy *px, struct mx_reg_entry *e)
{
    int rc = 0;
    pthread_mutex_lock(&px->reg_lock);
    /* at most half full, so that probes stay short and a free slot exists */
    if ((px->reg_n + 1) * 2 > px->reg_cap && grow(px) != 0) rc = -1;
    if (rc == 0) {
        put(px, e);
        px->reg_n++;
    }
    pthread_mutex_unlock(&px->reg_lock);
    return rc;
}

/* Removal with backward shift, so that probing never meets a false hole. */
void registry_remove(struct mx_proxy *px, struct mx_reg_entry *e)
{
    pthread_mutex_lock(&px->reg_lock);
    size_t mask = px->reg_cap - 1, k = slot_of(px, e->id);
    for (size_t i = 0; i < px->reg_cap && px->reg[k]; i++, k = (k + 1) & mask) {
        if (px->reg[k] != e) continue;
        size_t hole = k;
        for (size_t j = (k + 1) & mask; px->reg[j]; j = (j + 1) & mask) {
            size_t home = slot_of(px, px->reg[j]->id);
            bool between = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
            if (!between) {
                px->reg[hole] = px->reg[j];
                hole = j;
            }
        }
        px->reg[hole] = NULL;
        px->reg_n--;
        break;
    }
    pthread_mutex_unlock(&px->reg_lock);
}

/* What a caller may read of entry e, copied under the lock (the entry is its
 * session's and may go once the lock is released). */
static void copy_entry(struct mx_reg_entry *out, const struct mx_reg_entry *e)
{
    out->id = e->id;
    out->worker = e->worker;
    memcpy(out->user, e->user, sizeof out->user);
    memcpy(out->backend_user, e->backend_user, sizeof out->backend_user);
    memcpy(out->host, e->host, sizeof out->host);
    atomic_store(&out->server, atomic_load(&e->server));
    atomic_store(&out->backend_tid, atomic_load(&e->backend_tid));
    atomic_store(&out->busy, atomic_load(&e->busy));
}

static int registry_get_marked(struct mx_proxy *px, uint32_t id, uint64_t until_ms,
                               struct mx_reg_entry *out)
{
    int rc = -1;
    pthread_mutex_lock(&px->reg_lock);
    size_t mask = px->reg_cap - 1, k = slot_of(px, id);
    for (size_t i = 0; i < px->reg_cap && px->reg[k]; i++, k = (k + 1) & mask) {
        struct mx_reg_entry *e = px->reg[k];
        if (e->id != id) continue;
        if (until_ms) atomic_store(&e->kill_until_ms, until_ms); /* before busy is read */
        copy_entry(out, e);
        rc = 0;
        break;
    }
    pthread_mutex_unlock(&px->reg_lock);
    return rc;
}

int registry_get(struct mx_proxy *px, uint32_t id, struct mx_reg_entry *out)
{
    return registry_get_marked(px, id, 0, out);
}

int registry_mark_kill(struct mx_proxy *px, uint32_t id, uint64_t until_ms,
                       struct mx_reg_entry *out)
{
    return registry_get_marked(px, id, until_ms, out);
}

size_t registry_find_user(struct mx_proxy *px, const char *user, const char *host,
                          struct mx_reg_entry *out, size_t max)
{
    size_t n = 0;
    pthread_mutex_lock(&px->reg_lock);
    for (size_t k = 0; k < px->reg_cap; k++) {
        struct mx_reg_entry *e = px->reg[k];
        if (!e || strcmp(e->user, user) != 0 || (host[0] && strcmp(e->host, host) != 0))
            continue;
        if (n < max) {
            copy_entry(&out[n], e);
        }
        n++;
    }
    pthread_mutex_unlock(&px->reg_lock);
    return n;
}

int registry_find_backend_thread(struct mx_proxy *px, int server, uint32_t tid, const char *user,
                                 struct mx_reg_entry *out)
{
    uint32_t id = 0;
    pthread_mutex_lock(&px->reg_lock);
    for (size_t k = 0; k < px->reg_cap && !id; k++) {
        struct mx_reg_entry *e = px->reg[k];
        if (e && atomic_load(&e->server) == server && atomic_load(&e->backend_tid) == tid &&
            strcmp(e->user, user) == 0)
            id = e->id;
    }
    pthread_mutex_unlock(&px->reg_lock);
    return id ? registry_get(px, id, out) : -1;
}

/* Per-user counters live in a fixed table so that reloads can add users while
 * workers hold pointers into it. Lookups happen at login, not per query. */
struct mx_user_stats *ustats_for(struct mx_proxy *px, const char *name)
{
    int n = atomic_load(&px->n_ustats);
    for (int i = 0; i < n; i++)
        if (strcmp(px->ustats[i].name, name) == 0) return &px->ustats[i];
    pthread_mutex_lock(&px->reg_lock);
    n = atomic_load(&px->n_ustats);
    struct mx_user_stats *u = NULL;
    for (int i = 0; i < n; i++)
        if (strcmp(px->ustats[i].name, name) == 0) u = &px->ustats[i];
    if (!u && n < MX_MAX_USER_STATS) {
        u = &px->ustats[n];
        snprintf(u->name, sizeof u->name, "%s", name);
        atomic_store(&px->n_ustats, n + 1);
    }
    pthread_mutex_unlock(&px->reg_lock);
    return u;
}
