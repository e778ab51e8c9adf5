/* What each command does to a session's state: which settings it can replay on
 * another connection, what pins it to its connection, and what it read from
 * the statement before. Decides when the connection can go back to the pool. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "session/session.h"
#include "core/proxy.h"
#include "core/config.h"
#include "core/worker.h"
#include "protocol/charset.h"
#include "protocol/packet.h"
#include "protocol/track.h"

/* Session variables whose value belongs to one statement or to the connection,
 * not to the session: setting them pins. */
static bool var_is_connection_bound(const char *name)
{
    static const char *const bound[] = {"insert_id", "last_insert_id", "identity", "rand_seed1",
                                        "rand_seed2", "pseudo_thread_id", "gtid_next",
                                        "gtid_seq_no", "server_id", "skip_replication",
                                        "sql_log_bin", "transaction_read_only", "tx_read_only",
                                        "transaction_isolation", "tx_isolation", "profiling",
                                        "profiling_history_size", NULL};
    if (strncmp(name, "session_track_", 14) == 0) return true; /* mymux's own trackers */
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

/* Text every character set and sql_mode read the same way: printable ASCII
 * (lead bytes of multi-byte characters are >= 0x80), without the characters
 * whose meaning the sql_mode or an executable comment changes. */
static bool plain_text(const char *sql, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)sql[i];
        if (ch >= 0x7f || (ch < 0x20 && ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r'))
            return false;
        if (ch == '\\' || ch == '"' || ch == '`' || ch == '#') return false;
        if (i + 1 < len && ((ch == '/' && sql[i + 1] == '*') || (ch == '-' && sql[i + 1] == '-')))
            return false;
    }
    return true;
}

/* A SET whose every assignment is a session setting mymux can replay. */
static bool sets_session_only(const struct cls_result *c)
{
    for (int i = 0; i < c->n_assign; i++) {
        enum cls_scope sc = c->assign[i].scope;
        if (sc != CLS_SCOPE_SESSION && sc != CLS_SCOPE_NAMES && sc != CLS_SCOPE_TRANSACTION &&
            sc != CLS_SCOPE_GLOBAL)
            return false;
    }
    return c->n_assign > 0;
}

/* How the session's backend reads its next statement: the client character
 * set (character_set_client if the session set it, else its collation), the
 * sql_mode flags (MariaDB states ANSI_QUOTES in every status; elsewhere mymux
 * follows the session's SETs), the server's version for executable comments. */
void sstate_lex(const struct mx_session *s, struct cls_lex *lx)
{
    memset(lx, 0, sizeof *lx);
    lx->charset = s->charset;
    const char *v = vars_get(&s->vars, "character_set_client");
    if (v) {
        char cs[64];
        size_t k = 0;
        for (; *v && k + 1 < sizeof cs; v++)
            if (*v != '\'' && *v != '"' && *v != ' ') cs[k++] = *v;
        cs[k] = 0;
        int id = charset_default_collation(cs);
        /* unknown to mymux: a collation id no charset has, which the lexer
         * treats as a doubt for any byte >= 0x80 */
        lx->charset = id >= 0 ? (uint16_t)id : 0xffff;
    }
    lx->no_backslash_escapes = (s->status & SERVER_STATUS_NO_BACKSLASH_ESCAPES) != 0;
    const struct mx_config *cfg = s->w->px->cfg;
    if (s->server >= 0 && (size_t)s->server < cfg->n_backends) {
        const struct mx_server *sv = &s->w->px->servers[s->server];
        lx->version = atomic_load_explicit(&sv->version, memory_order_relaxed);
        lx->mariadb = atomic_load_explicit(&sv->mariadb, memory_order_relaxed);
    }
    lx->ansi_quotes = lx->mariadb ? (s->status & SERVER_STATUS_ANSI_QUOTES) != 0 : s->ansi_quotes;
}

/* A sql_mode the session now has: the lexer's flags follow it; a value mymux
 * cannot read pins (the next statement could be read otherwise). */
static void sql_mode_set(struct mx_session *s, const char *v)
{
    bool aq = false, nobs = false;
    if (cls_sql_mode_flags(v, strlen(v), &aq, &nobs) == 0) {
        s->ansi_quotes = aq;
        return;
    }
    sstate_count_pins(s, CLS_PIN_UNSURE);
    s->pins |= CLS_PIN_UNSURE;
}

/* Counts pins a session did not hold yet, by reason. */
void sstate_count_pins(struct mx_session *s, uint32_t pins)
{
    uint32_t fresh = pins & ~s->pins;
    for (int i = 0; fresh && i < 32; i++, fresh >>= 1)
        if (fresh & 1) HOT_ADD(s->w->hot->proc.pins[i], 1);
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
                s->pending_global = true;
                break;
            case CLS_SCOPE_USER:
            default:
                break;
            }
        }
    }
    if (c->sets_last_insert_id) pins |= CLS_PIN_SESSION_VAR;
    s->trk_explainable = whole && !c->multi && plain_text(sql, len) &&
                         ((c->kind == CLS_SET && sets_session_only(c)) || c->kind == CLS_USE);
    s->pending_unpins = c->unpins;
    s->soft_pin = s->soft_pin || (pins & SESS_SOFT_PINS);
    sstate_count_pins(s, pins & ~SESS_SOFT_PINS);
    s->pins |= pins & ~SESS_SOFT_PINS;
}

/* Replaces the payload after the command byte of the packet at b->rpos (whole
 * in b) with text[0..n): the bytes behind the packet move, the buffer is
 * compacted if its free tail is too short (*compacted). Returns false, b
 * untouched, if the result would not fit. */
static bool resize_packet(struct mx_buf *b, const char *text, size_t n, bool *compacted)
{
    uint32_t len = pkt_len(b->data + b->rpos), nlen = (uint32_t)n + 1;
    *compacted = false;
    if (n + 1 >= PKT_MAX_PAYLOAD) return false;
    if (nlen > len && buf_free_tail(b) < nlen - len) {
        if (b->wpos - b->rpos + (nlen - len) > b->cap) return false;
        buf_compact(b);
        *compacted = true;
    }
    uint8_t *h = b->data + b->rpos;
    uint8_t *end = h + PKT_HDR + len;
    size_t behind = (size_t)(b->data + b->wpos - end);
    if (b->ppos > (uint32_t)(end - b->data)) b->ppos = b->ppos + nlen - len;
    memmove(h + PKT_HDR + nlen, end, behind);
    b->wpos = b->wpos + nlen - len;
    memcpy(h + PKT_HDR + 1, text, n);
    h[0] = (uint8_t)nlen;
    h[1] = (uint8_t)(nlen >> 8);
    h[2] = (uint8_t)(nlen >> 16);
    return true;
}

bool sstate_rewrite(struct mx_session *s, const struct cls_result *c, bool prepare)
{
    /* where each function's value comes from: CONNECTION_ID() is the session's id
     * everywhere; readers of the previous statement on a connection that did not
     * run it are answered from what mymux saw (a text query only) */
    struct cls_rewrite rw[4];
    int n = 0;
    bool prev =
        !prepare && c->reads_prev && (!s->be || s->prev_overwritten) && !c->multi &&
        (c->prev_found_rows || c->prev_row_count || c->prev_last_insert_id || c->prev_identity);
    if (prev) {
        rw[n++] = (struct cls_rewrite){"FOUND_ROWS", (int64_t)s->last_found_rows};
        rw[n++] = (struct cls_rewrite){"ROW_COUNT", s->last_row_count};
        rw[n++] = (struct cls_rewrite){"LAST_INSERT_ID", (int64_t)s->last_insert_id};
    }
    if (c->has_connection_id) rw[n++] = (struct cls_rewrite){"CONNECTION_ID", (int64_t)s->id};
    if (n == 0) return false;

    struct mx_buf *b = s->sock.in;
    uint32_t len = pkt_len(b->data + b->rpos);
    char *sql = (char *)b->data + b->rpos + PKT_HDR + 1;
    struct cls_lex lx;
    sstate_lex(s, &lx);
    /* the new text is built here, then put in the client's buffer in place of
     * the old: one per worker thread, as large as a packet the buffer holds whole */
    static __thread char scratch[MX_BUF_SIZE];
    bool incomplete = false;
    long nl =
        classify_rewrite_named(sql, len - 1, &lx, rw, n, scratch, sizeof scratch, &incomplete);
    bool compacted;
    if (nl >= 0 && resize_packet(b, scratch, (size_t)nl, &compacted)) {
        if (compacted) log_debug("rewrite_compacted", "conn_id=%u", s->id);
        if (incomplete) log_debug("rewrite_incomplete", "conn_id=%u", s->id);
        return true;
    }
    /* the same values at the same length: the columns are named after them */
    log_debug("rewrite_unnamed", "conn_id=%u", s->id);
    if (prev && classify_rewrite_calls_lex(sql, len - 1, &lx, rw, 3) < 0)
        log_debug("rewrite_incomplete", "conn_id=%u", s->id);
    if (c->has_connection_id) classify_rewrite_connection_id_lex(sql, len - 1, &lx, s->id);
    return false;
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
    case COM_RESET_CONNECTION:
        s->trk_explainable = true; /* it clears everything */
        break;
    case COM_INIT_DB:
    case COM_FIELD_LIST:
    case COM_STATISTICS:
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

/* ---- the server's session trackers (backends with be->track) ---- */

static bool is_charset_var(const char *n)
{
    return strncmp(n, "character_set_", 14) == 0 || strncmp(n, "collation_", 10) == 0;
}

static void on_tracker_item(void *arg, const struct trk_item *it)
{
    struct mx_session *s = arg;
    switch (it->type) {
    case TRK_STATE_CHANGE:
        s->trk_changed = true;
        break;
    case TRK_SCHEMA:
        if (it->name_len >= sizeof s->trk_schema || memchr(it->name, 0, it->name_len)) {
            s->trk_unreplayable = true;
            break;
        }
        memcpy(s->trk_schema, it->name, it->name_len);
        s->trk_schema[it->name_len] = 0;
        s->trk_has_schema = true;
        break;
    case TRK_SYSVAR: {
        char name[64], lit[512];
        if (it->name_len == 0 || it->name_len >= sizeof name) {
            s->trk_unreplayable = true;
            break;
        }
        memcpy(name, it->name, it->name_len);
        name[it->name_len] = 0;
        /* a character set variable set to NULL is reported empty */
        int n = it->value_len == 0 && is_charset_var(name)
                    ? snprintf(lit, sizeof lit, "NULL")
                    : trk_value_literal(it->value, it->value_len, lit, sizeof lit);
        if (!s->trk_vars) s->trk_vars = calloc(1, sizeof *s->trk_vars);
        if (n < 0 || !s->trk_vars || vars_set(s->trk_vars, name, strlen(name), lit, (size_t)n) != 0)
            s->trk_unreplayable = true;
        break;
    }
    default: /* trackers mymux did not turn on: whatever they say is unexplained */
        s->trk_changed = true;
        break;
    }
}

int sstate_track_packet(struct mx_session *s, uint8_t *p, uint32_t len, int term)
{
    if (term == RESP_TERM_EOF) { /* flags only; the data comes with the next OK */
        if (len >= 5 && (p[4] & (SERVER_SESSION_STATE_CHANGED >> 8))) {
            s->trk_changed = true;
            p[4] &= (uint8_t)~(SERVER_SESSION_STATE_CHANGED >> 8);
        }
        return (int)len;
    }
    /* an OK says what changed item by item: a schema alone (DROP DATABASE of
     * the current one reports an empty schema and no state change) is no
     * change that needs explaining, it is the new truth */
    return trk_rewrite_ok(p, len, on_tracker_item, s);
}

/* Errors raised before a statement runs: it changed nothing. */
static bool err_changes_nothing(uint16_t code)
{
    static const uint16_t before[] = {1049, 1054, 1064, 1115, 1146, 1193, 1231, 1232, 1273, 1298};
    for (size_t i = 0; i < sizeof before / sizeof before[0]; i++)
        if (code == before[i]) return true;
    return false;
}

static bool pending_has(const struct mx_session *s, const char *name)
{
    return vars_get(s->pending, name) != NULL;
}

static bool is_trx_var(const char *n)
{
    return strcmp(n, "tx_isolation") == 0 || strcmp(n, "transaction_isolation") == 0 ||
           strcmp(n, "tx_read_only") == 0 || strcmp(n, "transaction_read_only") == 0;
}

/* A reported variable the statement in flight set, or set as a consequence
 * of what it set (a character set's collation, SET NAMES, SET TRANSACTION). */
static bool var_explained(const struct mx_session *s, const char *name)
{
    if (pending_has(s, name)) return true;
    if (s->pending_charset >= 0 && is_charset_var(name)) return true;
    if (is_trx_var(name)) return pending_has(s, "!tx_isolation") || pending_has(s, "!tx_access");
    char twin[80];
    if (strncmp(name, "collation_", 10) == 0) {
        snprintf(twin, sizeof twin, "character_set_%s", name + 10);
        return pending_has(s, twin);
    }
    if (strncmp(name, "character_set_", 14) == 0) {
        snprintf(twin, sizeof twin, "collation_%s", name + 14);
        return pending_has(s, twin);
    }
    return false;
}

/* Reported variables mymux keeps another way: the autocommit status flag,
 * SET NAMES as the session's collation, SET TRANSACTION as its clause. */
static bool var_kept_elsewhere(const struct mx_session *s, const char *name)
{
    if (strcmp(name, "autocommit") == 0) return true;
    if (s->pending_charset >= 0 && is_charset_var(name)) return true;
    return is_trx_var(name) && !pending_has(s, name);
}

/* What the server reported of the command that ended: its schema is the
 * truth; its other changes are replayable only if the statement explains them
 * all, otherwise the session keeps its connection until a reset. */
static void track_finish(struct mx_session *s, struct mx_backend *be, const struct mx_resp *r)
{
    bool doubt = be->track_doubt;
    be->track_doubt = r->error && !err_changes_nothing(r->err_code);
    if (s->trk_has_schema) {
        s->schema_utf8 = true; /* the server's own form: character_set_system */
        snprintf(s->schema, sizeof s->schema, "%s", s->trk_schema);
        snprintf(be->schema, sizeof be->schema, "%s", s->trk_schema);
        be->schema_unknown = false;
        s->schema_moved = false;
    }
    if (s->trk_changed || s->trk_vars) {
        bool explained = s->trk_explainable && !doubt && !s->trk_unreplayable && !r->error;
        for (uint16_t i = 0; explained && s->trk_vars && i < s->trk_vars->n; i++)
            explained = var_explained(s, s->trk_vars->v[i].name);
        for (uint16_t i = 0; explained && s->trk_vars && i < s->trk_vars->n; i++) {
            const struct mx_var *e = &s->trk_vars->v[i];
            if (var_kept_elsewhere(s, e->name)) continue;
            vars_set(&s->vars, e->name, strlen(e->name), e->value, strlen(e->value));
            vars_set(&be->vars, e->name, strlen(e->name), e->value, strlen(e->value));
            if (strcmp(e->name, "sql_mode") == 0) sql_mode_set(s, e->value);
        }
        if (!explained) {
            sstate_count_pins(s, SESS_PIN_TRACKED);
            s->pins |= SESS_PIN_TRACKED;
        }
    }
    sstate_track_clear(s);
}

void sstate_track_clear(struct mx_session *s)
{
    s->trk_changed = s->trk_explainable = s->trk_unreplayable = s->trk_has_schema = false;
    if (s->trk_vars) {
        vars_free(s->trk_vars);
        free(s->trk_vars);
        s->trk_vars = NULL;
    }
}

/* A SET GLOBAL succeeded on the session's server. A direct client's next
 * connection starts from the new globals; a pooled connection took its
 * session values from the globals when it was opened. So the server's pools
 * are recycled, as by the admin API: idle connections opened before close on
 * the next tick, busy ones when given back (a pinned session keeps its own,
 * as a direct session keeps its values). */
static void global_changed(struct mx_session *s)
{
    const struct mx_config *cfg = s->w->px->cfg;
    if (s->server < 0 || (size_t)s->server >= cfg->n_backends) return;
    unsigned gen = atomic_fetch_add(&s->w->px->servers[s->server].recycle, 1) + 1;
    log_info("backend_recycle", "backend=%s recycle=%u reason=set_global",
             cfg->backends[s->server].name, gen);
}

/* The seconds of a wait_timeout value as the session's settings hold it (a
 * literal, perhaps quoted), or 0 for anything else (DEFAULT: the server's). */
static uint32_t wait_timeout_of(const struct mx_vars *vs)
{
    const char *v = vars_get(vs, "wait_timeout");
    if (!v) return 0;
    if (*v == '\'' || *v == '"') v++;
    uint64_t n = 0;
    for (; *v >= '0' && *v <= '9'; v++)
        if ((n = n * 10 + (uint64_t)(*v - '0')) > 31536000) n = 31536000; /* the server's max */
    if (*v && *v != '\'' && *v != '"') return 0;
    return (uint32_t)n;
}

void sstate_on_finish(struct mx_session *s, const struct mx_resp *r)
{
    struct mx_backend *be = s->be;
    bool ok = !r->error;
    bool vars_moved = ok && (s->pending || s->trk_vars);
    if (ok && s->pending) {
        for (uint16_t i = 0; i < s->pending->n; i++) {
            const struct mx_var *e = &s->pending->v[i];
            vars_set(&s->vars, e->name, strlen(e->name), e->value, strlen(e->value));
            if (be) vars_set(&be->vars, e->name, strlen(e->name), e->value, strlen(e->value));
            if (strcmp(e->name, "sql_mode") == 0) sql_mode_set(s, e->value);
        }
    }
    if (ok && (s->cmd == COM_INIT_DB || s->is_use)) s->schema_utf8 = false; /* the client's */
    if (be && be->track) track_finish(s, be, r);
    if (vars_moved) s->wait_timeout_s = wait_timeout_of(&s->vars);
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
    if (ok && s->pending_global) global_changed(s);
    s->pending_global = false;
    if (s->cmd == COM_RESET_CONNECTION && ok) {
        sstate_reset(s);
        if (be) be_forget_reset(be);
    }

    /* what the next statement may read of this one */
    /* An OK's insert id is the first id the statement generated, which is
     * LAST_INSERT_ID() from then on, or, when it generated none, the explicit
     * value of the last row's AUTO_INCREMENT column, which leaves
     * LAST_INSERT_ID() as it was (MariaDB's and MySQL's mysql_insert). The
     * packet does not say which: unless it is the value already known, the
     * server is asked at once (insert_id_fetch), but only by a session that
     * reads LAST_INSERT_ID() in SQL at all. The others (drivers and ORMs read the
     * OK's id) would pay a query per INSERT for a value they never ask: their
     * first LAST_INSERT_ID() right after an explicit value is the OK's. */
    if (r->insert_id && r->insert_id != s->last_insert_id) {
        s->insert_id_before = s->last_insert_id;
        s->last_insert_id = r->insert_id;
        s->insert_id_unsure = s->reads_insert_id;
    }
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

/* autocommit is off because the session said so in a SET mymux replays
 * (PyMySQL and mysqlclient send SET autocommit=0 at connect). */
static bool autocommit_off_replayed(const struct mx_session *s)
{
    const char *v = vars_get(&s->vars, "autocommit");
    if (!v) return false;
    if (*v == '\'' || *v == '"') v++;
    return strncmp(v, "0", 1) == 0 || strncasecmp(v, "off", 3) == 0 ||
           strncasecmp(v, "false", 5) == 0;
}

bool sstate_is_clean(const struct mx_session *s)
{
    if (s->pins || s->soft_pin) return false;
    /* the server's flag says exactly when a transaction is open, autocommit
     * or not; between transactions autocommit=0 is a setting like any other */
    if (s->status & SERVER_STATUS_IN_TRANS) return false;
    if (!(s->status & SERVER_STATUS_AUTOCOMMIT) && !autocommit_off_replayed(s)) return false;
    return true;
}

void sstate_abort(struct mx_session *s)
{
    sstate_track_clear(s);
    if (s->pending) {
        vars_free(s->pending);
        free(s->pending);
        s->pending = NULL;
    }
    s->pending_charset = -1;
    s->pending_unpins = 0;
    s->pending_global = false;
}

void sstate_reset(struct mx_session *s)
{
    sstate_abort(s);
    vars_free(&s->vars);
    s->wait_timeout_s = 0;
    s->pins = 0;
    s->soft_pin = false;
    if (s->schema_moved && s->be) s->be->schema_unknown = true;
    s->schema_moved = false;
    s->charset = s->hs_charset;
    s->ansi_quotes = false;
    /* the server forgets the session's prepared statements */
    stmts_free(&s->stmts, &s->w->pcache);
    s->last_insert_id = 0;
    s->insert_id_unsure = false;
    s->last_row_count = -1;
    s->last_found_rows = 0;
    diag_clear(&s->diag);
}

static bool charset_is_utf8(uint16_t collation)
{
    const char *cs = charset_name_of(collation);
    return cs && strncmp(cs, "utf8", 4) == 0;
}

static void write_init_db(struct pkt_wr *w, struct mx_backend *be, const char *schema)
{
    pkt_command(w, COM_INIT_DB, schema, strlen(schema));
    be_expect(be, COM_INIT_DB, NULL);
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
    if (be->dirty) need = SYNC_RESET_FIRST; /* and every variable is written again */
    be->sync_reset = need == SYNC_RESET_FIRST;
    uint8_t charset = be->charset;
    if (be->sync_reset) {
        pkt_command(&w, COM_RESET_CONNECTION, NULL, 0);
        be_expect(be, COM_RESET_CONNECTION, NULL);
        bstmts_clear(&be->stmts, &s->w->pcache);
        charset = be->hs_charset;
        be->track_armed = false;
        n++;
    }
    if (be->track && !be->track_armed) {
        /* the trackers, on this connection only (the server's globals stay);
         * transaction_info stays off: with it, every result inside a
         * transaction would carry the state-changed flag and hold its data
         * back, so the flag could no longer tell a routine's change apart */
        static const char q[] = "SET session_track_state_change = 1, "
                                "session_track_system_variables = '*', "
                                "session_track_schema = 1, session_track_transaction_info = OFF";
        pkt_command(&w, COM_QUERY, q, sizeof q - 1);
        be_expect(be, COM_QUERY, NULL);
        be->track_armed = true;
        n++;
    }
    const char *want = s->pending_schema[0] ? s->pending_schema : s->schema;
    /* after a USE inside a multi-statement the pinned connection's schema is
     * the session's, wherever it went */
    if (s->schema_moved && !s->pending_schema[0]) want = "";
    bool init_db = want[0] && (be->schema_unknown || strcmp(be->schema, want) != 0);
    /* the server reads COM_INIT_DB's name in the connection's character set:
     * a name with bytes >= 0x80 (the client's, in its own character set) goes
     * after SET NAMES, so that `tést` from a latin1 client is not read in the
     * pooled connection's utf8mb4 */
    bool names_first = false;
    for (const char *c = want; init_db && *c; c++)
        if ((unsigned char)*c >= 0x80) names_first = true;
    if (names_first && !s->pending_schema[0] && s->schema_utf8 && !charset_is_utf8(s->charset)) {
        /* ...but a name the trackers reported is utf8: read in utf8 first */
        names_first = false;
        if (!charset_is_utf8(charset)) {
            static const char q[] = "SET NAMES utf8mb4";
            pkt_command(&w, COM_QUERY, q, sizeof q - 1);
            be_expect(be, COM_QUERY, NULL);
            n++;
            charset = (uint8_t)charset_default_collation("utf8mb4");
        }
    }
    if (init_db && !names_first) {
        write_init_db(&w, be, want);
        n++;
    }
    if (charset != s->charset) {
        const char *cs = charset_name_of(s->charset);
        const char *coll = charset_collation_name(s->charset);
        if (cs && coll) {
            char q[200];
            int ql = snprintf(q, sizeof q, "SET NAMES %s COLLATE %s", cs, coll);
            pkt_command(&w, COM_QUERY, q, (size_t)ql);
            be_expect(be, COM_QUERY, NULL);
            n++;
        }
    }
    if (init_db && names_first) {
        write_init_db(&w, be, want);
        n++;
    }
    if (need != SYNC_NONE) {
        int k = vars_write_sync(&be->vars, &s->vars, be->sync_reset, s->charset, &w);
        if (k < 0) return -1;
        for (int i = 0; i < k; i++) be_expect(be, COM_QUERY, NULL);
        n += k;
    }
    /* the statement the command runs, prepared on this connection if new to it */
    struct mx_pstmt *ps = s->exec_ps;
    if (ps && ps->sql_len && !bstmts_get(&be->stmts, ps)) {
        pkt_command(&w, COM_STMT_PREPARE, ps->sql, ps->sql_len);
        be_expect(be, COM_STMT_PREPARE, ps);
        n++;
    }
    if (w.bad || be->broken) return -1;
    if (n > 0 && be->track && be->track_doubt) {
        /* what an ERR left behind would be reported with these answers: the
         * session keeps the connection, whatever it was */
        sstate_count_pins(s, SESS_PIN_TRACKED);
        s->pins |= SESS_PIN_TRACKED;
        be->track_doubt = false;
    }
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
    if (s->state == SS_CONNECTING && s->pending_schema[0]) s->schema_utf8 = false; /* login */
    const char *want = s->pending_schema[0] ? s->pending_schema : s->schema;
    if (want[0]) {
        snprintf(be->schema, sizeof be->schema, "%s", want);
        be->schema_unknown = false;
    }
    if (charset_name_of(s->charset)) be->charset = s->charset;
    if (!vars_same(&be->vars, &s->vars)) vars_copy(&be->vars, &s->vars);
    if (be->sync_reset) be->dirty = false;
    be->sync_reset = 0;
}
