/* Prepared-statement mapping: the worker's cache of statement texts and their
 * texts, each session's table of client ids, and each backend
 * connection's map to server ids with an LRU bound. */
#include "pool/stmt.h"

#include <stdlib.h>
#include <string.h>

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ull;
    return (h ^ 0xff) * 1099511628211ull;
}

uint64_t pstmt_key(const char *user, const char *schema, const char *sql, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    h = mix(h, user, strlen(user));
    h = mix(h, schema, strlen(schema));
    h = mix(h, sql, len);
    return h ? h : 1;
}

uint64_t stmt_types_hash(const uint8_t *types, size_t n)
{
    uint64_t h = mix(1469598103934665603ull, types, n);
    return h ? h : 1;
}

void pcache_init(struct mx_pcache *c, size_t cap)
{
    size_t n = 64;
    while (n < cap) n <<= 1;
    c->tab = calloc(n, sizeof *c->tab);
    c->cap = c->tab ? n : 0;
    c->n = 0;
    c->released = 0;
}

static void pstmt_free(struct mx_pstmt *ps)
{
    free(ps->user);
    free(ps->schema);
    free(ps->sql);
    free(ps);
}

void pcache_destroy(struct mx_pcache *c)
{
    for (size_t i = 0; i < c->cap; i++) {
        struct mx_pstmt *ps = c->tab[i], *next;
        for (; ps; ps = next) {
            next = ps->hnext;
            pstmt_free(ps);
        }
    }
    free(c->tab);
    c->tab = NULL;
    c->cap = c->n = 0;
}

struct mx_pstmt *pcache_find(struct mx_pcache *c, uint64_t key, const char *user,
                             const char *schema, const char *sql, size_t len)
{
    if (!c->cap) return NULL;
    for (struct mx_pstmt *ps = c->tab[key & (c->cap - 1)]; ps; ps = ps->hnext) {
        if (ps->key == key && ps->sql_len == len && memcmp(ps->sql, sql, len) == 0 &&
            strcmp(ps->user, user) == 0 && strcmp(ps->schema, schema) == 0)
            return ps;
    }
    return NULL;
}

struct mx_pstmt *pcache_add(struct mx_pcache *c, uint64_t key, const char *user,
                            const char *schema, const char *sql, size_t len)
{
    struct mx_pstmt *ps = calloc(1, sizeof *ps);
    if (!ps) return NULL;
    ps->key = key;
    ps->user = strdup(user);
    ps->schema = strdup(schema);
    ps->sql = malloc(len + 1);
    if (!ps->user || !ps->schema || !ps->sql) {
        pstmt_free(ps);
        return NULL;
    }
    memcpy(ps->sql, sql, len);
    ps->sql[len] = 0;
    ps->sql_len = (uint32_t)len;
    ps->refs = 1;
    if (c->cap) { /* the cache holds a reference of its own */
        size_t b = key & (c->cap - 1);
        ps->hnext = c->tab[b];
        c->tab[b] = ps;
        c->n++;
        ps->refs++;
    }
    return ps;
}

struct mx_pstmt *pstmt_private(const struct mx_pstmt *src)
{
    struct mx_pstmt *ps = calloc(1, sizeof *ps);
    if (!ps) return NULL;
    ps->key = src->key;
    ps->user = strdup(src->user);
    ps->schema = strdup(src->schema);
    ps->sql = malloc(src->sql_len + 1);
    if (!ps->user || !ps->schema || !ps->sql) {
        pstmt_free(ps);
        return NULL;
    }
    memcpy(ps->sql, src->sql, src->sql_len + 1);
    ps->sql_len = src->sql_len;
    ps->num_params = src->num_params;
    ps->num_cols = src->num_cols;
    ps->refs = 1;
    return ps;
}

void pstmt_ref(struct mx_pstmt *ps)
{
    ps->refs++;
}

void pstmt_unref(struct mx_pcache *c, struct mx_pstmt *ps)
{
    if (!ps || --ps->refs > 1) return;
    if (ps->refs == 1 && c->cap) {
        /* only the cache holds it: drop it from the cache */
        struct mx_pstmt **pp = &c->tab[ps->key & (c->cap - 1)];
        while (*pp && *pp != ps) pp = &(*pp)->hnext;
        if (!*pp) return; /* not cached: a caller still holds it */
        *pp = ps->hnext;
        c->n--;
        ps->refs = 0;
    }
    if (ps->refs == 0) pstmt_free(ps);
}

/* A client statement stops naming ps. */
static void stmt_let_go(struct mx_pcache *c, struct mx_pstmt *ps)
{
    if (ps->clients && --ps->clients == 0) c->released++;
    pstmt_unref(c, ps);
}

void stmts_init(struct mx_stmts *t)
{
    memset(t, 0, sizeof *t);
}

void stmts_free(struct mx_stmts *t, struct mx_pcache *c)
{
    uint32_t next_id = t->next_id;
    for (uint32_t i = 0; i < t->n; i++) {
        if (!t->v[i].id) continue;
        stmt_let_go(c, t->v[i].ps);
        free(t->v[i].types);
    }
    free(t->v);
    stmts_init(t);
    t->next_id = next_id; /* as the server's: ids of dropped statements are not reused */
}

struct mx_sstmt *stmts_add(struct mx_stmts *t, struct mx_pstmt *ps)
{
    uint32_t slot = t->n;
    for (uint32_t i = 0; i < t->n; i++)
        if (!t->v[i].id) {
            slot = i;
            break;
        }
    if (slot == t->n) {
        if (t->n == t->cap) {
            uint32_t cap = t->cap ? t->cap * 2 : 8;
            struct mx_sstmt *nv = realloc(t->v, cap * sizeof *nv);
            if (!nv) return NULL;
            t->v = nv;
            t->cap = cap;
        }
        t->n++;
    }
    struct mx_sstmt *s = &t->v[slot];
    memset(s, 0, sizeof *s);
    s->id = ++t->next_id;
    if (!s->id) s->id = ++t->next_id;
    s->ps = ps;
    pstmt_ref(ps);
    ps->clients++;
    return s;
}

struct mx_sstmt *stmts_get(struct mx_stmts *t, uint32_t id)
{
    if (!id) return NULL;
    for (uint32_t i = 0; i < t->n; i++)
        if (t->v[i].id == id) return &t->v[i];
    return NULL;
}

bool stmts_uses(const struct mx_stmts *t, const struct mx_pstmt *ps)
{
    for (uint32_t i = 0; i < t->n; i++)
        if (t->v[i].id && t->v[i].ps == ps) return true;
    return false;
}

void stmts_del(struct mx_stmts *t, struct mx_pcache *c, uint32_t id)
{
    struct mx_sstmt *s = stmts_get(t, id);
    if (!s) return;
    stmt_let_go(c, s->ps);
    free(s->types);
    memset(s, 0, sizeof *s);
}

void bstmts_free(struct mx_bstmts *m, struct mx_pcache *c)
{
    bstmts_clear(m, c);
    free(m->v);
    memset(m, 0, sizeof *m);
}

uint32_t bstmts_unheld(const struct mx_bstmts *m)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < m->n; i++) n += m->v[i].ps->clients == 0;
    return n;
}

uint32_t bstmts_trim(struct mx_bstmts *m, struct mx_pcache *c, uint32_t keep, uint32_t *ids,
                     uint32_t max_ids)
{
    uint32_t unheld = bstmts_unheld(m), n = 0;
    /* the least recently used first; maps are small (pool.max_prepared) and
     * this runs only when a statement lost its last client */
    while (unheld > keep && n < max_ids) {
        uint32_t lru = m->n;
        for (uint32_t i = 0; i < m->n; i++)
            if (m->v[i].ps->clients == 0 && (lru == m->n || m->v[i].used < m->v[lru].used)) lru = i;
        ids[n++] = m->v[lru].backend_id;
        pstmt_unref(c, m->v[lru].ps);
        m->v[lru] = m->v[--m->n];
        unheld--;
    }
    return n;
}

void bstmts_clear(struct mx_bstmts *m, struct mx_pcache *c)
{
    for (uint32_t i = 0; i < m->n; i++) pstmt_unref(c, m->v[i].ps);
    m->n = 0;
}

struct mx_bstmt *bstmts_get(struct mx_bstmts *m, const struct mx_pstmt *ps)
{
    for (uint32_t i = 0; i < m->n; i++) {
        if (m->v[i].ps == ps) {
            m->v[i].used = ++m->tick;
            return &m->v[i];
        }
    }
    return NULL;
}

struct mx_bstmt *bstmts_add(struct mx_bstmts *m, struct mx_pcache *c, struct mx_pstmt *ps,
                            uint32_t backend_id, uint32_t limit, uint32_t *evicted)
{
    *evicted = 0;
    struct mx_bstmt *e = NULL;
    if (limit && m->n >= limit) {
        uint32_t lru = 0;
        for (uint32_t i = 1; i < m->n; i++)
            if (m->v[i].used < m->v[lru].used) lru = i;
        e = &m->v[lru];
        *evicted = e->backend_id;
        pstmt_unref(c, e->ps);
    } else {
        if (m->n == m->cap) {
            uint32_t cap = m->cap ? m->cap * 2 : 8;
            struct mx_bstmt *nv = realloc(m->v, cap * sizeof *nv);
            if (!nv) return NULL;
            m->v = nv;
            m->cap = cap;
        }
        e = &m->v[m->n++];
    }
    e->ps = ps;
    pstmt_ref(ps);
    e->backend_id = backend_id;
    e->types_hash = 0;
    e->used = ++m->tick;
    return e;
}

void bstmts_del(struct mx_bstmts *m, struct mx_pcache *c, struct mx_pstmt *ps)
{
    for (uint32_t i = 0; i < m->n; i++) {
        if (m->v[i].ps != ps) continue;
        pstmt_unref(c, ps);
        m->v[i] = m->v[--m->n];
        return;
    }
}
