/* What each command does to a session's state: which settings it can replay on
 * another connection, what pins it to its connection, and what it read from
 * the statement before. Decides when the connection can go back to the pool. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "core/session.h"
#include "core/worker.h"
#include "protocol/charset.h"
#include "protocol/packet.h"

/* Session variables whose value belongs to one statement or to the connection,
 * not to the session: setting them pins. */
static bool var_is_connection_bound(const char *name)
{
    static const char *const bound[] = {"insert_id", "last_insert_id", "identity", "rand_seed1",
                                        "rand_seed2", "pseudo_thread_id", "gtid_next",
                                        "gtid_seq_no", "server_id", "skip_replication",
                                        "sql_log_bin", "transaction_read_only", "tx_read_only",
                                        "transaction_isolation", "tx_isolation", NULL};
    for (int i = 0; bound[i]; i++)
        if (strcmp(name, bound[i]) == 0) return true;
    return false;
}

static int pending_set(struct mx_session *s, const char *name, size_t nl, const char *v, size_t vl)
{
    if (!s->pending) {
        s->pending = calloc(1, sizeof *s->pending);
        if (!s->pending) return -1;
    }
    return vars_set(s->pending, name, nl, v, vl);
}

/* "utf8mb4", "'utf8mb4'", "utf8mb4 COLLATE utf8mb4_bin" -> collation id, or -1. */
static int names_collation(const char *v, size_t n)
{
    char cs[64], coll[64];
    size_t i = 0, k = 0;
    while (i < n && (v[i] == ' ' || v[i] == '\'' || v[i] == '"' || v[i] == '`')) i++;
    while (i < n && k + 1 < sizeof cs && v[i] != ' ' && v[i] != '\'' && v[i] != '"' && v[i] != '`')
        cs[k++] = v[i++];
    cs[k] = 0;
    while (i < n && (v[i] == ' ' || v[i] == '\'' || v[i] == '"' || v[i] == '`')) i++;
    if (strcasecmp(cs, "default") == 0 || !cs[0]) return -1;
    if (i < n) {
        if (n - i < 8 || strncasecmp(v + i, "collate", 7) != 0) return -1;
        i += 7;
        while (i < n && (v[i] == ' ' || v[i] == '\'' || v[i] == '"' || v[i] == '`')) i++;
        k = 0;
        while (i < n && k + 1 < sizeof coll && v[i] != ' ' && v[i] != '\'' && v[i] != '"' &&
               v[i] != '`')
            coll[k++] = v[i++];
        coll[k] = 0;
        int id = charset_collation_id(coll);
        const char *of = id >= 0 ? charset_name_of((uint16_t)id) : NULL;
        return of && strcasecmp(of, cs) == 0 && id < 256 ? id : -1;
    }
    int id = charset_default_collation(cs);
    return id >= 0 && id < 256 ? id : -1;
}

static bool has_word(const char *v, size_t n, const char *w)
{
    size_t wl = strlen(w);
    for (size_t i = 0; i + wl <= n; i++)
        if (strncasecmp(v + i, w, wl) == 0) return true;
    return false;
}

/* Counts pins a session did not hold yet, by reason. */
void sstate_count_pins(struct mx_session *s, uint32_t pins)
{
    uint32_t fresh = pins & ~s->pins;
    for (int i = 0; fresh && i < 32; i++, fresh >>= 1)
        if (fresh & 1) STAT_ADD(s->w->px->stats.pins[i], 1);
}

void sstate_on_query(struct mx_session *s, const struct cls_result *c, char *sql, size_t len,
                     bool whole)
{
    uint32_t pins = c->pins;
    if (!whole) pins |= CLS_PIN_UNSURE; /* only a prefix was classified */
    /* A SET or USE inside a multi-statement text may take effect even when a
     * later statement fails: not replayable, so the session stays put. */
    if (c->multi && (c->kind == CLS_SET || c->kind == CLS_USE)) {
        pins |= CLS_PIN_SESSION_VAR;
        if (c->kind == CLS_USE) s->schema_moved = true;
    }
    if (c->kind == CLS_SET && !c->multi) {
        for (int i = 0; i < c->n_assign; i++) {
            const struct cls_assign *a = &c->assign[i];
            switch (a->scope) {
            case CLS_SCOPE_SESSION:
                if (!a->value_is_literal || var_is_connection_bound(a->name)) {
                    pins |= CLS_PIN_SESSION_VAR;
                } else if (pending_set(s, a->name, strlen(a->name), a->value, a->value_len) != 0) {
                    pins |= CLS_PIN_SESSION_VAR;
                }
                break;
            case CLS_SCOPE_NAMES: {
                int id = names_collation(a->value, a->value_len);
                if (id < 0) pins |= CLS_PIN_SESSION_VAR;
                else s->pending_charset = id;
                break;
            }
            case CLS_SCOPE_TRANSACTION:
                if (strcmp(a->name, "transaction") == 0 && a->value_len < 200) {
                    char name[32], val[256];
                    bool iso = a->value_len >= 9 && strncasecmp(a->value, "isolation", 9) == 0;
                    snprintf(name, sizeof name, "!tx_%s", iso ? "isolation" : "access");
                    int vl = snprintf(val, sizeof val, "SESSION TRANSACTION %.*s",
                                      (int)a->value_len, a->value);
                    if (has_word(a->value, a->value_len, ",") ||
                        pending_set(s, name, strlen(name), val, (size_t)vl) != 0)
                        pins |= CLS_PIN_SESSION_VAR;
                }
                break;
            case CLS_SCOPE_CHARSET:
                pins |= CLS_PIN_SESSION_VAR;
                break;
            case CLS_SCOPE_GLOBAL:
            case CLS_SCOPE_USER:
            default:
                break;
            }
        }
    }
    if (c->sets_last_insert_id) pins |= CLS_PIN_SESSION_VAR;
    s->pending_unpins = c->unpins;
    s->soft_pin = s->soft_pin || (pins & SESS_SOFT_PINS);
    sstate_count_pins(s, pins & ~SESS_SOFT_PINS);
    s->pins |= pins & ~SESS_SOFT_PINS;

    /* Readers of the previous statement on a connection that did not run it:
     * answer from what mymux saw. (A read the rewrite cannot reach, e.g. a
     * comment inside the parentheses, runs as written.) */
    if (c->reads_prev && !s->be && whole && !c->multi &&
        (c->prev_found_rows || c->prev_row_count || c->prev_last_insert_id || c->prev_identity)) {
        struct cls_rewrite rw[3] = {{"FOUND_ROWS", (int64_t)s->last_found_rows},
                                    {"ROW_COUNT", s->last_row_count},
                                    {"LAST_INSERT_ID", (int64_t)s->last_insert_id}};
        bool nobs = (s->status & SERVER_STATUS_NO_BACKSLASH_ESCAPES) != 0;
        if (classify_rewrite_calls(sql, len, s->ansi_quotes, nobs, rw, 3) < 0)
            log_debug("rewrite_incomplete", "conn_id=%u", s->id);
    }
}

void sstate_on_command(struct mx_session *s, const uint8_t *p, size_t len)
{
    switch (p[0]) {
    case COM_STMT_PREPARE:
    case COM_STMT_EXECUTE:
    case COM_STMT_FETCH:
    case COM_STMT_RESET:
    case COM_STMT_CLOSE:
        break; /* mapped: see stmt.h */
    case COM_STMT_SEND_LONG_DATA:
        break; /* pinned per statement (session.c) */
    case COM_SET_OPTION:
        s->pins |= SESS_PIN_OPTION;
        break;
    case COM_FIELD_LIST:
    case COM_STATISTICS:
    case COM_INIT_DB:
    case COM_RESET_CONNECTION:
    case COM_PROCESS_INFO:
    case COM_REFRESH:
    case COM_DEBUG:
        break;
    default:
        s->pins |= CLS_PIN_UNSURE;
        break;
    }
    (void)len;
}

void sstate_on_finish(struct mx_session *s, const struct mx_resp *r)
{
    struct mx_backend *be = s->be;
    bool ok = !r->error;
    if (ok && s->pending) {
        for (uint16_t i = 0; i < s->pending->n; i++) {
            const struct mx_var *e = &s->pending->v[i];
            vars_set(&s->vars, e->name, strlen(e->name), e->value, strlen(e->value));
            if (be) vars_set(&be->vars, e->name, strlen(e->name), e->value, strlen(e->value));
            if (strcmp(e->name, "sql_mode") == 0)
                s->ansi_quotes = has_word(e->value, strlen(e->value), "ansi");
        }
    }
    if (s->pending) {
        vars_free(s->pending);
        free(s->pending);
        s->pending = NULL;
    }
    if (ok && s->pending_charset >= 0) {
        s->charset = (uint8_t)s->pending_charset;
        if (be) be->charset = s->charset;
        /* SET NAMES overrides the character_set_* variables set before it */
        static const char *const over[] = {"character_set_client", "character_set_connection",
                                           "character_set_results", "collation_connection", NULL};
        for (int i = 0; over[i]; i++) {
            vars_del(&s->vars, over[i]);
            if (be) vars_del(&be->vars, over[i]);
        }
    }
    s->pending_charset = -1;
    if (ok) s->pins &= ~s->pending_unpins;
    s->pending_unpins = 0;
    if (s->cmd == COM_RESET_CONNECTION && ok) sstate_reset(s);

    /* what the next statement may read of this one */
    if (r->insert_id) s->last_insert_id = r->insert_id;
    if (r->error) {
        s->last_row_count = -1;
    } else if (r->last_rs) {
        s->last_row_count = -1;
        s->last_found_rows = r->rs_rows;
    } else if (r->ok_seen) {
        s->last_row_count = (int64_t)r->affected;
    }
}

bool sstate_can_release(const struct mx_session *s)
{
    const struct mx_config *cfg = s->w->px->cfg;
    if (!cfg->pool_multiplex) return false;
    return sstate_is_clean(s);
}

bool sstate_is_clean(const struct mx_session *s)
{
    if (s->pins || s->soft_pin) return false;
    if ((s->status & SERVER_STATUS_IN_TRANS) || !(s->status & SERVER_STATUS_AUTOCOMMIT))
        return false;
    return true;
}

void sstate_abort(struct mx_session *s)
{
    if (s->pending) {
        vars_free(s->pending);
        free(s->pending);
        s->pending = NULL;
    }
    s->pending_charset = -1;
    s->pending_unpins = 0;
}

void sstate_reset(struct mx_session *s)
{
    sstate_abort(s);
    vars_free(&s->vars);
    s->pins = 0;
    s->soft_pin = false;
    if (s->schema_moved && s->be) s->be->schema_unknown = true;
    s->schema_moved = false;
    s->charset = s->hs_charset;
    s->ansi_quotes = false;
    s->last_insert_id = 0;
    s->last_row_count = -1;
    s->last_found_rows = 0;
}

int sstate_write_sync(struct mx_session *s, struct mx_backend *be)
{
    struct mx_buf *o = sock_out(&be->sock);
    if (!o) return -1;
    struct pkt_wr w;
    pkt_wr_init(&w, o->data + o->wpos, o->cap - o->wpos);
    int n = 0;
    if (be_write_closes(be, &w) != 0) return -1;
    enum sync_need need = vars_plan(&be->vars, &s->vars);
    be->sync_reset = need == SYNC_RESET_FIRST;
    uint8_t charset = be->charset;
    if (be->sync_reset) {
        size_t off = pkt_wr_begin(&w);
        pkt_wr_u8(&w, COM_RESET_CONNECTION);
        pkt_wr_end(&w, off, 0);
        be_expect(be, COM_RESET_CONNECTION, NULL);
        bstmts_clear(&be->stmts, &s->w->pcache);
        charset = be->hs_charset;
        n++;
    }
    const char *want = s->pending_schema[0] ? s->pending_schema : s->schema;
    /* after a USE inside a multi-statement the pinned connection's schema is
     * the session's, wherever it went */
    if (s->schema_moved && !s->pending_schema[0]) want = "";
    if (want[0] && (be->schema_unknown || strcmp(be->schema, want) != 0)) {
        size_t off = pkt_wr_begin(&w);
        pkt_wr_u8(&w, COM_INIT_DB);
        pkt_wr_bytes(&w, want, strlen(want));
        pkt_wr_end(&w, off, 0);
        be_expect(be, COM_INIT_DB, NULL);
        n++;
    }
    if (charset != s->charset) {
        const char *cs = charset_name_of(s->charset);
        const char *coll = charset_collation_name(s->charset);
        if (cs && coll) {
            char q[200];
            int ql = snprintf(q, sizeof q, "SET NAMES %s COLLATE %s", cs, coll);
            size_t off = pkt_wr_begin(&w);
            pkt_wr_u8(&w, COM_QUERY);
            pkt_wr_bytes(&w, q, (size_t)ql);
            pkt_wr_end(&w, off, 0);
            be_expect(be, COM_QUERY, NULL);
            n++;
        }
    }
    if (need != SYNC_NONE) {
        int k = vars_write_sync(&be->vars, &s->vars, be->sync_reset, &w);
        if (k < 0) return -1;
        for (int i = 0; i < k; i++) be_expect(be, COM_QUERY, NULL);
        n += k;
    }
    /* the statement the command runs, prepared on this connection if new to it */
    struct mx_pstmt *ps = s->exec_ps;
    if (ps && ps->sql_len && !bstmts_get(&be->stmts, ps)) {
        size_t off = pkt_wr_begin(&w);
        pkt_wr_u8(&w, COM_STMT_PREPARE);
        pkt_wr_bytes(&w, ps->sql, ps->sql_len);
        pkt_wr_end(&w, off, 0);
        be_expect(be, COM_STMT_PREPARE, ps);
        n++;
    }
    if (w.bad) return -1;
    o->wpos += (uint32_t)w.pos;
    if (n == 0 && buf_empty(o)) {
        buf_put(&be->sock.worker->bufs, o);
        be->sock.out = NULL;
    }
    if (n == 0 && be->sock.out) { /* only closes: they have no answers */
        int rc = sock_flush_out(&be->sock);
        if (rc < 0) return -1; /* in flight (rc 1): the command waits for the drain */
    }
    return n;
}

void sstate_synced(struct mx_session *s, struct mx_backend *be)
{
    const char *want = s->pending_schema[0] ? s->pending_schema : s->schema;
    if (want[0]) {
        snprintf(be->schema, sizeof be->schema, "%s", want);
        be->schema_unknown = false;
    }
    if (charset_name_of(s->charset)) be->charset = s->charset;
    if (!vars_same(&be->vars, &s->vars)) vars_copy(&be->vars, &s->vars);
    be->sync_reset = 0;
}
