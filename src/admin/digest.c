/* Query digests: statement normalisation and per-worker digest tables that
 * the query path updates without a lock and the admin side reads. */
#include "admin/digest.h"

#include <ctype.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin/admin.h"
#include "core/log.h"
#include "core/proxy.h"
#include "core/config.h"
#include "core/worker.h"
#include "protocol/classify.h"

_Static_assert(sizeof(((struct mx_stats *)0)->query_hist) ==
                   (DG_N_BUCKETS + 2) * sizeof(mx_counter),
               "query_hist holds the buckets, the overflow and the sum");

const uint64_t dg_buckets_us[DG_N_BUCKETS] = {
    50,    100,    250,    500,     1000,    2500,    5000,    10000,   25000,
    50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000,
};

/* ---- normalisation ---- */

struct dg_out {
    char *p;
    size_t len, cap; /* cap excludes the NUL */
    bool full;
};

static bool dg_put(struct dg_out *o, const char *s, size_t n)
{
    if (o->full || o->len + n > o->cap) {
        o->full = true;
        return false;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
    return true;
}

/* Is the word that ends just before out[pos] (spaces skipped) `w`? */
static bool dg_word_before(const struct dg_out *o, size_t pos, const char *w)
{
    while (pos > 0 && o->p[pos - 1] == ' ') pos--;
    size_t end = pos;
    while (pos > 0 && (isalnum((unsigned char)o->p[pos - 1]) || o->p[pos - 1] == '_')) pos--;
    size_t n = strlen(w);
    return end - pos == n && strncasecmp(o->p + pos, w, n) == 0;
}

/* Does the output before pos end with "(...)," or "(...), "? Returns where that
 * comma starts, or 0. */
static size_t dg_after_row(const struct dg_out *o, size_t pos)
{
    while (pos > 0 && o->p[pos - 1] == ' ') pos--;
    if (pos < 6 || o->p[pos - 1] != ',') return 0;
    size_t comma = pos - 1, q = comma;
    while (q > 0 && o->p[q - 1] == ' ') q--;
    if (q >= 5 && memcmp(o->p + q - 5, "(...)", 5) == 0) return comma;
    return 0;
}

#define DG_DEPTH 64

/* The normaliser reads the classifier's tokens (classify_tokens()), so a
 * string ends where the server ends it whatever the sql_mode and character
 * set: no literal can pass for a name. */
struct dg_norm {
    struct dg_out o;
    size_t open_pos[DG_DEPTH];
    bool lit_only[DG_DEPTH]; /* the parenthesis holds literals only so far */
    int depth;               /* parentheses open (tracked up to DG_DEPTH) */
    bool space;              /* a space is due before the next token (after a comma) */
    bool sign_held;          /* a '-' or '+' that a number right after it makes a literal */
    struct cls_token sign;
    bool intro;              /* the last token was a word like _utf8mb4 (an introducer) */
    size_t intro_at;         /* where it starts in the output */
    bool intro_lit_only;     /* lit_only of its parenthesis before it */
    bool last_semi;          /* the last token was ';' */
    size_t tokens;
    size_t first_word;       /* output length of a leading keyword (0: none) */
};

static bool *dg_lit_only(struct dg_norm *n)
{
    return n->depth > 0 && n->depth <= DG_DEPTH ? &n->lit_only[n->depth - 1] : NULL;
}

/* Writes one token (a literal as ?), with the spacing and list folding rules. */
static void dg_emit(struct dg_norm *n, const char *p, size_t len, bool gap, bool lit)
{
    struct dg_out *o = &n->o;
    char c = p[0];
    bool one = len == 1 && !lit;
    char prev = o->len ? o->p[o->len - 1] : 0;
    bool close = one && c == ')', comma = one && c == ',', qmark = one && c == '?';
    if ((gap || n->space) && o->len && prev != '(' && prev != ' ' && !close && !comma)
        dg_put(o, " ", 1);
    n->space = false;
    bool *lo;
    if (lit || qmark) {
        dg_put(o, "?", 1);
    } else if (close) {
        lo = dg_lit_only(n);
        if (lo && *lo) {
            size_t at = n->open_pos[n->depth - 1], row;
            if ((row = dg_after_row(o, at)) != 0) {
                o->len = row; /* a repeated row of literals: keep one */
            } else if (dg_word_before(o, at, "IN") || dg_word_before(o, at, "VALUES") ||
                       dg_word_before(o, at, "VALUE")) {
                o->len = at;
                dg_put(o, "(...)", 5);
            } else {
                dg_put(o, ")", 1);
            }
        } else {
            dg_put(o, ")", 1);
        }
        if (n->depth > 0) n->depth--;
        if ((lo = dg_lit_only(n)) != NULL) *lo = false;
        return;
    } else {
        dg_put(o, p, len);
    }
    if (one && c == '(') {
        if ((lo = dg_lit_only(n)) != NULL) *lo = false;
        if (n->depth < DG_DEPTH) {
            n->open_pos[n->depth] = o->len - 1;
            n->lit_only[n->depth] = true;
        }
        n->depth++;
        return;
    }
    if (comma) n->space = true;
    if (!lit && !comma && !qmark && (lo = dg_lit_only(n)) != NULL) *lo = false;
}

static bool dg_token(const struct cls_token *t, void *arg)
{
    struct dg_norm *n = arg;
    if (n->o.full) return false;
    bool intro = n->intro;
    n->intro = false;
    n->last_semi = t->kind == CLS_T_SEMI;
    if (n->tokens++ == 0 && t->kind == CLS_T_WORD) {
        size_t k = 0;
        while (k < t->len && isalpha((unsigned char)t->p[k])) k++;
        if (k == t->len) n->first_word = t->len;
    }
    if (n->sign_held) {
        n->sign_held = false;
        if (t->kind == CLS_T_NUMBER && !t->gap) { /* a signed literal */
            dg_emit(n, "?", 1, n->sign.gap, true);
            return true;
        }
        dg_emit(n, n->sign.p, 1, n->sign.gap, false);
    }
    switch (t->kind) {
    case CLS_T_STRING:
    case CLS_T_NUMBER:
        if (intro) { /* _utf8mb4'x' and _binary 0x41 are one literal */
            bool *lo;
            n->o.len = n->intro_at;
            if ((lo = dg_lit_only(n)) != NULL) *lo = n->intro_lit_only;
            dg_emit(n, "?", 1, false, true);
        } else {
            dg_emit(n, t->p, t->len, t->gap, true);
        }
        return true;
    case CLS_T_PUNCT:
        if (t->len == 1 && (t->p[0] == '-' || t->p[0] == '+')) {
            char prev = n->o.len ? n->o.p[n->o.len - 1] : 0;
            if (prev == 0 || strchr("(,=<>+-*/%", prev) != NULL) {
                n->sign_held = true;
                n->sign = *t;
                return true;
            }
        }
        break;
    case CLS_T_WORD:
        if (t->len > 1 && t->p[0] == '_') {
            bool *lo = dg_lit_only(n);
            n->intro_lit_only = lo && *lo;
            dg_emit(n, t->p, t->len, t->gap, false);
            n->intro = !n->o.full;
            n->intro_at = n->o.len - t->len;
            return true;
        }
        break;
    default:
        break;
    }
    dg_emit(n, t->p, t->len, t->gap, false);
    return true;
}

size_t digest_normalize(const char *s, size_t len, const struct cls_lex *lx, char *out,
                        size_t cap)
{
    if (cap == 0) return 0;
    struct dg_norm n;
    memset(&n, 0, sizeof n);
    n.o = (struct dg_out){out, 0, cap - 1, false};
    bool sure = classify_tokens(s, len, lx, dg_token, &n);
    if (n.sign_held && !n.o.full) dg_emit(&n, n.sign.p, 1, n.sign.gap, false);
    struct dg_out *o = &n.o;
    if (!sure) {
        /* the server may read the text otherwise: nothing of it but a leading
         * keyword is kept, since a literal could pass for anything */
        o->full = false;
        o->len = n.first_word <= o->len ? n.first_word : 0;
        dg_put(o, o->len ? " ?" : "?", o->len ? 2 : 1);
    }
    while (o->len && o->p[o->len - 1] == ' ') o->len--;
    if (sure && n.last_semi && o->len && o->p[o->len - 1] == ';') {
        o->len--; /* a trailing statement separator is not part of the digest */
        while (o->len && o->p[o->len - 1] == ' ') o->len--;
    }
    out[o->len] = 0;
    return o->len;
}

/* ---- per-worker tables ---- */

/* One digest of one worker. The worker is the only writer; readers copy it
 * between two equal even values of seq (a sequence lock), so the query path
 * never waits. gen changes each time the slot is given to another digest, so
 * a handle of the evicted digest no longer matches. */
struct dg_slot {
    atomic_uint seq;
    uint32_t gen;
    uint32_t next; /* hash chain: slot index + 1, 0 = end */
    bool used;
    uint64_t hash;
    uint64_t count, sum_us, min_us, max_us, rows, errors, first_ms, last_ms;
    char user[DG_NAME_MAX];
    char schema[DG_NAME_MAX];
    char text[DG_TEXT_MAX];
};

/* A text the worker has digested before, as its client sent it: the key hashes
 * the raw bytes with everything the normalisation and the digest depend on (the
 * reading rules, user, schema), so that the same statement sent again finds its
 * slot without being tokenised a second time. A key that collides only
 * misattributes statistics, never changes what a client sees. */
#define DG_RAW_SLOTS 4096 /* direct-mapped, per worker */
struct dg_raw {
    uint64_t key;    /* 0 = empty */
    uint64_t handle; /* digest_begin's handle; stale when its slot was reused */
};

struct dg_table {
    uint32_t cap, n_used, clock, mask;
    uint32_t *buckets; /* [mask + 1]: slot index + 1 */
    struct dg_slot *slots;
    struct dg_raw *raw; /* [DG_RAW_SLOTS] */
    uint64_t wall_base_ms, loop_base_ms; /* wall clock = base + the loop's time since */
    char scratch[DG_TEXT_MAX];
};

static _Atomic(struct dg_table *) dg_tables[DG_MAX_WORKERS];

static uint64_t dg_clock_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* First and last seen, in wall-clock ms, from the loop's cached time: no clock
 * reading per query. */
static uint64_t dg_wall_ms(struct mx_worker *w, const struct dg_table *t)
{
    return t->wall_base_ms + (uv_now(&w->loop) - t->loop_base_ms);
}

/* Hashes n bytes eight at a time (the raw-text key: much cheaper than the
 * tokeniser it saves). */
static uint64_t dg_mix(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, b, 8);
        h = (h ^ v) * 0x9e3779b97f4a7c15ULL;
        h ^= h >> 29;
        b += 8;
        n -= 8;
    }
    uint64_t v = 0;
    memcpy(&v, b, n);
    h = (h ^ v ^ ((uint64_t)n << 56)) * 0x9e3779b97f4a7c15ULL;
    return h ^ (h >> 32);
}

static uint64_t dg_raw_key(const char *sql, size_t len, const struct cls_lex *lx,
                           const char *user, size_t ul, const char *schema, size_t sl)
{
    uint64_t h = dg_mix(0x243f6a8885a308d3ULL ^ len, sql, len);
    if (lx) {
        uint64_t rules = (uint64_t)lx->charset | (uint64_t)lx->ansi_quotes << 16 |
                         (uint64_t)lx->no_backslash_escapes << 17 | (uint64_t)lx->mariadb << 18 |
                         (uint64_t)lx->version << 24;
        h = dg_mix(h, &rules, sizeof rules);
    } else {
        h = dg_mix(h, "-", 1);
    }
    h = dg_mix(h, user, ul);
    h = dg_mix(h ^ ul, schema, sl);
    return h ? h : 1;
}

static uint64_t dg_fnv(uint64_t h, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static void dg_write_begin(struct dg_slot *sl)
{
    atomic_store_explicit(&sl->seq, atomic_load_explicit(&sl->seq, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
}

static void dg_write_end(struct dg_slot *sl)
{
    atomic_store_explicit(&sl->seq, atomic_load_explicit(&sl->seq, memory_order_relaxed) + 1,
                          memory_order_release);
}

/* The table of worker w, created on its first query (on w's thread). Its size
 * is the configured bound shared out between the workers. */
static struct dg_table *dg_table_of(struct mx_worker *w)
{
    if (w->id < 0 || w->id >= DG_MAX_WORKERS) return NULL;
    struct dg_table *t = atomic_load_explicit(&dg_tables[w->id], memory_order_relaxed);
    if (t) return t;
    int max = w->px->cfg->digest_max > 0 ? w->px->cfg->digest_max : 5000;
    int nw = w->px->n_workers > 0 ? w->px->n_workers : 1;
    uint32_t cap = (uint32_t)((max + nw - 1) / nw);
    if (cap < 1) cap = 1;
    uint32_t nb = 16;
    while (nb < 2 * cap) nb <<= 1;
    t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->cap = cap;
    t->mask = nb - 1;
    t->buckets = calloc(nb, sizeof *t->buckets);
    t->slots = calloc(cap, sizeof *t->slots);
    t->raw = calloc(DG_RAW_SLOTS, sizeof *t->raw);
    if (!t->buckets || !t->slots || !t->raw) {
        free(t->buckets);
        free(t->slots);
        free(t->raw);
        free(t);
        return NULL;
    }
    t->wall_base_ms = dg_clock_wall_ms();
    t->loop_base_ms = uv_now(&w->loop);
    atomic_store_explicit(&dg_tables[w->id], t, memory_order_release);
    return t;
}

/* A slot for a new digest: a free one, or the least recently seen of a few
 * (unlinked from its chain). */
static uint32_t dg_take_slot(struct dg_table *t)
{
    if (t->n_used < t->cap) return t->n_used++;
    uint32_t victim = t->clock % t->cap;
    for (uint32_t k = 1; k < 8 && k < t->cap; k++) {
        uint32_t j = (t->clock + k) % t->cap;
        if (t->slots[j].last_ms < t->slots[victim].last_ms) victim = j;
    }
    t->clock = (victim + 1) % t->cap;
    struct dg_slot *v = &t->slots[victim];
    uint32_t *link = &t->buckets[v->hash & t->mask];
    while (*link && *link != victim + 1) link = &t->slots[*link - 1].next;
    if (*link) *link = v->next;
    return victim;
}

/* Handle: generation in the high half, slot index + 1 in the low half. A
 * handle whose low half is 0 counts in the histogram only. */
#define DG_UNTRACKED ((uint64_t)UINT32_MAX << 32)

uint64_t digest_begin(struct mx_worker *w, const char *sql, size_t len, const struct cls_lex *lx,
                      const char *user, const char *schema)
{
    struct dg_table *t = dg_table_of(w);
    if (!t) return DG_UNTRACKED;
    if (!user) user = "";
    if (!schema) schema = "";
    size_t ul = strnlen(user, DG_NAME_MAX - 1), sl = strnlen(schema, DG_NAME_MAX - 1);
    uint64_t key = dg_raw_key(sql, len, lx, user, ul, schema, sl);
    struct dg_raw *raw = &t->raw[key & (DG_RAW_SLOTS - 1)];
    if (raw->key == key) {
        uint32_t k = (uint32_t)raw->handle;
        if (k && k <= t->cap && t->slots[k - 1].gen == (uint32_t)(raw->handle >> 32))
            return raw->handle;
    }
    size_t tl = digest_normalize(sql, len, lx, t->scratch, sizeof t->scratch);
    uint64_t h = dg_fnv(0xcbf29ce484222325ULL, t->scratch, tl + 1);
    h = dg_fnv(h, user, ul);
    h = dg_fnv(h, "", 1);
    h = dg_fnv(h, schema, sl);
    for (uint32_t k = t->buckets[h & t->mask]; k; k = t->slots[k - 1].next) {
        struct dg_slot *e = &t->slots[k - 1];
        if (e->hash == h && strcmp(e->text, t->scratch) == 0 && strncmp(e->user, user, ul) == 0 &&
            e->user[ul] == 0 && strncmp(e->schema, schema, sl) == 0 && e->schema[sl] == 0) {
            raw->key = key;
            raw->handle = ((uint64_t)e->gen << 32) | k;
            return raw->handle;
        }
    }
    uint32_t idx = dg_take_slot(t);
    struct dg_slot *e = &t->slots[idx];
    dg_write_begin(e);
    e->gen = e->gen + 1 == UINT32_MAX ? 1 : e->gen + 1;
    e->used = true;
    e->hash = h;
    e->count = e->sum_us = e->max_us = e->rows = e->errors = 0;
    e->min_us = UINT64_MAX;
    e->first_ms = e->last_ms = dg_wall_ms(w, t);
    memcpy(e->text, t->scratch, tl + 1);
    memcpy(e->user, user, ul);
    e->user[ul] = 0;
    memcpy(e->schema, schema, sl);
    e->schema[sl] = 0;
    dg_write_end(e);
    e->next = t->buckets[h & t->mask];
    t->buckets[h & t->mask] = idx + 1;
    raw->key = key;
    raw->handle = ((uint64_t)e->gen << 32) | (idx + 1);
    return raw->handle;
}

/* Double quotes in digest text would end the log field early. */
static void dg_log_slow(struct mx_worker *w, const struct dg_slot *e, uint64_t us, uint64_t rows,
                        bool error)
{
    char text[256];
    snprintf(text, sizeof text, "%.255s", e ? e->text : "");
    for (char *p = text; *p; p++)
        if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20) *p = '\'';
    log_warn("slow_query", "worker=%d user=%s schema=%s ms=%llu rows=%llu error=%d digest=\"%s\"",
             w->id, e ? e->user : "-", e && e->schema[0] ? e->schema : "-",
             (unsigned long long)(us / 1000), (unsigned long long)rows, error ? 1 : 0, text);
}

void digest_end(struct mx_worker *w, uint64_t handle, uint64_t us, uint64_t rows, bool error)
{
    struct mx_stats *st = w->hot ? &w->hot->proc : &w->px->stats; /* this worker's share */
    int b = 0;
    while (b < DG_N_BUCKETS && us > dg_buckets_us[b]) b++;
    if (w->hot) {
        HOT_ADD(st->query_hist[b], 1);
        HOT_ADD(st->query_hist[DG_HIST_SUM], us);
    } else {
        STAT_ADD(st->query_hist[b], 1);
        STAT_ADD(st->query_hist[DG_HIST_SUM], us);
    }
    struct dg_slot *e = NULL;
    uint32_t k = (uint32_t)handle;
    struct dg_table *t = k ? dg_table_of(w) : NULL;
    if (t && k <= t->cap && t->slots[k - 1].gen == (uint32_t)(handle >> 32)) {
        e = &t->slots[k - 1];
        dg_write_begin(e);
        e->count++;
        e->sum_us += us;
        if (us > e->max_us) e->max_us = us;
        if (us < e->min_us) e->min_us = us;
        e->rows += rows;
        if (error) e->errors++;
        e->last_ms = dg_wall_ms(w, t);
        dg_write_end(e);
    }
    int slow = w->px->cfg->slow_query_ms;
    if (slow > 0 && us >= (uint64_t)slow * 1000) dg_log_slow(w, e, us, rows, error);
}

/* ---- the admin side's copy ---- */

/* Copies slot e into r; false when it changed under us too often or is unused. */
static bool dg_read_slot(struct dg_slot *e, struct dg_row *r)
{
    for (int tries = 0; tries < 100; tries++) {
        unsigned s1 = atomic_load_explicit(&e->seq, memory_order_acquire);
        if (s1 & 1) continue;
        bool used = e->used;
        r->hash = e->hash;
        r->count = e->count;
        r->sum_us = e->sum_us;
        r->min_us = e->min_us;
        r->max_us = e->max_us;
        r->rows = e->rows;
        r->errors = e->errors;
        r->first_ms = e->first_ms;
        r->last_ms = e->last_ms;
        memcpy(r->user, e->user, sizeof r->user);
        memcpy(r->schema, e->schema, sizeof r->schema);
        memcpy(r->text, e->text, sizeof r->text);
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&e->seq, memory_order_relaxed) != s1) continue;
        r->user[sizeof r->user - 1] = r->schema[sizeof r->schema - 1] = 0;
        r->text[sizeof r->text - 1] = 0;
        return used && r->count > 0;
    }
    return false;
}

static int dg_cmp_key(const void *a, const void *b)
{
    const struct dg_row *x = a, *y = b;
    if (x->hash != y->hash) return x->hash < y->hash ? -1 : 1;
    int c = strcmp(x->text, y->text);
    if (!c) c = strcmp(x->user, y->user);
    if (!c) c = strcmp(x->schema, y->schema);
    return c;
}

static int dg_cmp_total(const void *a, const void *b)
{
    const struct dg_row *x = a, *y = b;
    if (x->sum_us != y->sum_us) return x->sum_us > y->sum_us ? -1 : 1;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    return strcmp(x->text, y->text);
}

long digest_collect(struct mx_proxy *px, struct dg_row **out)
{
    *out = NULL;
    size_t total = 0;
    int nw = px->n_workers < DG_MAX_WORKERS ? px->n_workers : DG_MAX_WORKERS;
    for (int w = 0; w < nw; w++) {
        struct dg_table *t = atomic_load_explicit(&dg_tables[w], memory_order_acquire);
        if (t) total += t->cap;
    }
    if (!total) return 0;
    struct dg_row *rows = malloc(total * sizeof *rows);
    if (!rows) return -1;
    size_t n = 0;
    for (int w = 0; w < nw; w++) {
        struct dg_table *t = atomic_load_explicit(&dg_tables[w], memory_order_acquire);
        if (!t) continue;
        for (uint32_t i = 0; i < t->cap && n < total; i++)
            if (dg_read_slot(&t->slots[i], &rows[n])) n++;
    }
    qsort(rows, n, sizeof *rows, dg_cmp_key);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (m > 0 && dg_cmp_key(&rows[m - 1], &rows[i]) == 0) {
            struct dg_row *d = &rows[m - 1], *s = &rows[i];
            d->count += s->count;
            d->sum_us += s->sum_us;
            d->rows += s->rows;
            d->errors += s->errors;
            if (s->max_us > d->max_us) d->max_us = s->max_us;
            if (s->min_us < d->min_us) d->min_us = s->min_us;
            if (s->first_ms < d->first_ms) d->first_ms = s->first_ms;
            if (s->last_ms > d->last_ms) d->last_ms = s->last_ms;
        } else {
            if (m != i) rows[m] = rows[i];
            m++;
        }
    }
    qsort(rows, m, sizeof *rows, dg_cmp_total);
    if (!m) {
        free(rows);
        return 0;
    }
    *out = rows;
    return (long)m;
}
