/* Session-state sync: a small set of replayable settings per session and per
 * backend connection, compared by digest and reconciled with one SET. */
#include "pool/sync.h"

#include <stdlib.h>
#include <string.h>

#include "protocol/charset.h"

static uint64_t digest(const char *n, const char *v)
{
    uint64_t h = 1469598103934665603ull;
    for (const char *p = n; *p; p++) h = (h ^ (uint8_t)*p) * 1099511628211ull;
    h = (h ^ 0xff) * 1099511628211ull;
    for (const char *p = v; *p; p++) h = (h ^ (uint8_t)*p) * 1099511628211ull;
    return h * 0x9e3779b97f4a7c15ull;
}

void vars_init(struct mx_vars *vs)
{
    memset(vs, 0, sizeof *vs);
}

void vars_free(struct mx_vars *vs)
{
    for (uint16_t i = 0; i < vs->n; i++) {
        free(vs->v[i].name);
        free(vs->v[i].value);
    }
    free(vs->v);
    vars_init(vs);
}

static int find(const struct mx_vars *vs, const char *name)
{
    for (uint16_t i = 0; i < vs->n; i++)
        if (strcmp(vs->v[i].name, name) == 0) return i;
    return -1;
}

int vars_set(struct mx_vars *vs, const char *name, size_t nl, const char *value, size_t vl)
{
    char *n = strndup(name, nl), *v = strndup(value, vl);
    if (!n || !v) goto fail;
    int i = find(vs, n);
    if (i >= 0) {
        vs->hash -= vs->v[i].h;
        free(vs->v[i].value);
        free(n);
        vs->v[i].value = v;
        vs->v[i].h = digest(vs->v[i].name, v);
        vs->hash += vs->v[i].h;
        return 0;
    }
    if (vs->n == vs->cap) {
        uint16_t cap = vs->cap ? (uint16_t)(vs->cap * 2) : 4;
        struct mx_var *nv = realloc(vs->v, cap * sizeof *nv);
        if (!nv) goto fail;
        vs->v = nv;
        vs->cap = cap;
    }
    struct mx_var *e = &vs->v[vs->n++];
    e->name = n;
    e->value = v;
    e->h = digest(n, v);
    vs->hash += e->h;
    return 0;
fail:
    free(n);
    free(v);
    return -1;
}

const char *vars_get(const struct mx_vars *vs, const char *name)
{
    int i = vs ? find(vs, name) : -1;
    return i >= 0 ? vs->v[i].value : NULL;
}

void vars_del(struct mx_vars *vs, const char *name)
{
    int i = find(vs, name);
    if (i < 0) return;
    vs->hash -= vs->v[i].h;
    free(vs->v[i].name);
    free(vs->v[i].value);
    vs->v[i] = vs->v[--vs->n];
}

int vars_copy(struct mx_vars *dst, const struct mx_vars *src)
{
    vars_free(dst);
    for (uint16_t i = 0; i < src->n; i++) {
        const struct mx_var *e = &src->v[i];
        if (vars_set(dst, e->name, strlen(e->name), e->value, strlen(e->value)) != 0) return -1;
    }
    return 0;
}

enum sync_need vars_plan(const struct mx_vars *have, const struct mx_vars *want)
{
    if (vars_same(have, want)) return SYNC_NONE;
    for (uint16_t i = 0; i < have->n; i++) {
        const struct mx_var *e = &have->v[i];
        if (e->name[0] == '!' && find(want, e->name) < 0) return SYNC_RESET_FIRST;
    }
    return SYNC_SET;
}

static bool wants_same(const struct mx_vars *have, const struct mx_var *e)
{
    int i = find(have, e->name);
    return i >= 0 && strcmp(have->v[i].value, e->value) == 0;
}

/* The value a character set variable returns to when a session stops setting
 * it: its own collation's (the handshake's or SET NAMES'), not the server's
 * default. NULL for other variables. */
static const char *charset_revert(const char *name, uint8_t charset)
{
    if (strcmp(name, "character_set_client") == 0 || strcmp(name, "character_set_connection") == 0 ||
        strcmp(name, "character_set_results") == 0)
        return charset_name_of(charset);
    if (strcmp(name, "collation_connection") == 0) return charset_collation_name(charset);
    return NULL;
}

int vars_write_sync(const struct mx_vars *have, const struct mx_vars *want, bool from_scratch,
                    uint8_t charset, struct pkt_wr *w)
{
    int packets = 0;
    /* whole clauses go one per statement: they cannot share a SET */
    for (uint16_t i = 0; i < want->n; i++) {
        const struct mx_var *e = &want->v[i];
        if (e->name[0] != '!' || (!from_scratch && wants_same(have, e))) continue;
        size_t off = pkt_wr_begin(w);
        pkt_wr_u8(w, COM_QUERY);
        pkt_wr_bytes(w, "SET ", 4);
        pkt_wr_bytes(w, e->value, strlen(e->value));
        pkt_wr_end(w, off, 0);
        packets++;
    }
    /* plain variables: one SET with every assignment and revert */
    size_t off = 0;
    int items = 0;
    for (int pass = 0; pass < 2; pass++) {
        const struct mx_vars *list = pass == 0 ? want : have;
        for (uint16_t i = 0; list && i < list->n; i++) {
            const struct mx_var *e = &list->v[i];
            if (e->name[0] == '!') continue;
            if (pass == 0 && !from_scratch && wants_same(have, e)) continue;
            if (pass == 1 && (from_scratch || find(want, e->name) >= 0)) continue;
            if (items == 0) {
                off = pkt_wr_begin(w);
                pkt_wr_u8(w, COM_QUERY);
                pkt_wr_bytes(w, "SET ", 4);
            } else {
                pkt_wr_bytes(w, ", ", 2);
            }
            pkt_wr_bytes(w, "@@session.", 10);
            pkt_wr_bytes(w, e->name, strlen(e->name));
            pkt_wr_bytes(w, " = ", 3);
            const char *cs = pass == 1 ? charset_revert(e->name, charset) : NULL;
            if (pass == 0) {
                pkt_wr_bytes(w, e->value, strlen(e->value));
            } else if (cs) {
                pkt_wr_u8(w, '\'');
                pkt_wr_bytes(w, cs, strlen(cs));
                pkt_wr_u8(w, '\'');
            } else {
                pkt_wr_bytes(w, "DEFAULT", 7);
            }
            items++;
        }
    }
    if (items) {
        pkt_wr_end(w, off, 0);
        packets++;
    }
    return w->bad ? -1 : packets;
}
