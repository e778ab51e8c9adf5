/* Client connection handling: commands read from the client, classified, sent
 * over the session's backend connection, and answers streamed back with
 * backpressure (one write in flight per socket, the reader paused meanwhile). */
#include "session/session.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin.h"
#include "core/clock.h"
#include "core/guard.h"
#include "core/log.h"
#include "core/proxy.h"
#include "core/config.h"
#include "core/registry.h"
#include "core/worker.h"
#include "pool/pool.h"
#include "protocol/charset.h"
#include "protocol/classify.h"
#include "protocol/handshake.h"
#include "protocol/packet.h"
#include "router/balance.h"

static void process_input(struct mx_session *s);
static void finish_release(struct mx_session *s);
static int fetch_diagnostics(struct mx_session *s, struct mx_backend *be);
static bool diag_stays_on_server(const struct mx_session *s);
static void finish_answer(struct mx_session *s);
static void answered_backend_lost(struct mx_session *s);
static struct mx_session *internal_owner(struct mx_backend *be);
static int insert_id_fetch(struct mx_session *s, struct mx_backend *be);
static int answer_diagnostics(struct mx_session *s, const char *sql, size_t n, uint32_t len,
                              bool binary);
static void forward_command(struct mx_session *s);
static void relay_response(struct mx_session *s);
static void fail_answer(struct mx_session *s, const struct be_error *e, const char *why);
static bool lock_check_on(const struct mx_session *s, const struct mx_backend *be);
static void start_backend_command(struct mx_session *s);
static void kill_batch_send(struct mx_session *s);
static void kill_batch_finish(struct mx_session *s);
static void finish_release(struct mx_session *s);

/* This worker's share of the session's user's counters (NULL: none kept). */
static struct mx_user_hot *user_hot(const struct mx_session *s)
{
    if (!s->ustats) return NULL;
    ptrdiff_t i = s->ustats - s->w->px->ustats;
    return i >= 0 && i < MX_MAX_USER_STATS ? &s->w->hot->user[i] : NULL;
}

/* The session's query deadline in ms: its user's, else the pool's (0: none). */
static int query_timeout_of(const struct mx_session *s)
{
    return s->query_timeout_ms >= 0 ? s->query_timeout_ms : s->w->px->cfg->pool_query_timeout_ms;
}

/* Whether the server empties its diagnostics area before statement c even if
 * c raises nothing: MariaDB and MySQL when it uses tables, TiDB always. */
static bool clears_diagnostics(const struct mx_session *s, const struct cls_result *c)
{
    const struct mx_server *sv = s->server >= 0 ? &s->w->px->servers[s->server] : NULL;
    return c->uses_tables || (sv && atomic_load(&sv->tidb));
}
static void stmt_forget_command(struct mx_session *s);
static int stmt_bind_to_backend(struct mx_session *s, struct mx_backend *be);

static uint64_t fnv1a(const void *p, size_t n)
{
    const uint8_t *b = p;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

/* ---- replies mymux writes itself ---- */

static struct pkt_wr out_writer(struct mx_session *s)
{
    struct pkt_wr w;
    struct mx_buf *o = sock_out(&s->sock);
    if (!o) {
        pkt_wr_init(&w, NULL, 0);
        w.bad = true;
        return w;
    }
    pkt_wr_init(&w, o->data + o->wpos, o->cap - o->wpos);
    return w;
}

static void out_commit(struct mx_session *s, const struct pkt_wr *w)
{
    if (!w->bad) s->sock.out->wpos += (uint32_t)w->pos;
}

bool session_flush(struct mx_session *s)
{
    if (s->sock.writing) return true; /* drain will pick it up */
    int rc = sock_flush_out(&s->sock);
    if (rc < 0) {
        session_close(s, "write_error");
        return false;
    }
    return true;
}

bool session_reply_err(struct mx_session *s, uint16_t code, const char *state, const char *fmt,
                       ...)
{
    /* 2000-2999 are client library codes: libraries refuse them from a server
     * (libmariadb reports "malformed packet"), so mymux's own connection errors
     * go out as ER_UNKNOWN_ERROR with their message. */
    if (code >= 2000 && code < 3000) code = 1105;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    struct pkt_wr w = out_writer(s);
    pkt_err(&w, (uint8_t)(s->seq + 1), code, state, "%s", msg);
    out_commit(s, &w);
    return session_flush(s);
}

bool session_reply_ok(struct mx_session *s)
{
    struct pkt_wr w = out_writer(s);
    pkt_ok(&w, (uint8_t)(s->seq + 1), 0, 0, s->status, 0, NULL);
    out_commit(s, &w);
    return session_flush(s);
}

void session_fail(struct mx_session *s, uint16_t code, const char *state, const char *msg)
{
    if (s->state == SS_CLOSING) return;
    s->close_after_write = true;
    session_reply_err(s, code, state, "%s", msg);
    if (s->state != SS_CLOSING && !s->sock.writing) session_close(s, "error");
}

/* ---- life cycle ---- */

static void free_session_cb(uv_handle_t *h)
{
    struct mx_session *s = h->data;
    session_check(s);
#ifndef NDEBUG
    s->magic = MX_SESSION_FREED;
#endif
    free(s);
}

static void on_sock_closed(struct mx_sock *sock)
{
    struct mx_session *s = sock->owner;
    if (s->fd_counted) atomic_fetch_sub(&s->w->px->client_fds, 1);
    s->fd_counted = false;
    uv_close((uv_handle_t *)&s->timer, free_session_cb);
}

/* Gives the backend connection back (or closes it when it cannot be reused). */
static void detach_backend(struct mx_session *s, bool broken)
{
    struct mx_backend *be = s->be;
    if (!be) return;
    s->be = NULL;
    if (s->reg) {
        atomic_store(&s->reg->server, -1);
        atomic_store(&s->reg->busy, 0);
    }
    /* state that cannot be replayed, or a diagnostics area the next session
     * could read, goes away with a reset before anyone else gets it */
    be->dirty = be->dirty || !sstate_is_clean(s) || be->diag_dirty ||
                be->track_doubt || !s->w->px->cfg->pool_multiplex ||
                (s->lock_doubt && lock_check_on(s, be)); /* locks not asked for: reset */
    s->lock_doubt = false;
    if (s->schema_moved) be->schema_unknown = true; /* mymux cannot tell where it went */
    /* state a reset does not clear goes with the connection */
    if (s->pins & (CLS_PIN_PROFILING | CLS_PIN_ROLE)) broken = true;
    if (broken || be->state == BE_RELAY || be->state == BE_INTERNAL ||
        (be->sock.in && !buf_empty(be->sock.in)) || be->sock.writing)
        be->broken = true;
    pool_release(be);
}

void session_drop_backend(struct mx_session *s)
{
    if (s->be) s->be->dirty = true; /* the server would reset the session here */
    detach_backend(s, false);
}

/* ---- borrowing: what the router and the pool are told of a session ---- */

/* The server for s's next borrow (balance_pick), or -1. */
static int pick_server(struct mx_session *s)
{
    struct balance_req r = {
        .last = s->server,
        /* servers whose first connection failed during this login */
        .avoid = s->state == SS_CONNECTING ? s->login_avoid : 0,
        .to_last = s->synthetic_len != 0,
        /* the name the client logged in with (cred.user may be its backend_user) */
        .user = s->reg_entry.user[0] ? s->reg_entry.user : s->cred.user,
        .peer = s->peer,
    };
    return balance_pick(s->w->balance, s->w->pools, &r);
}

/* s forgets its server: its affinity no longer counts, s->server becomes -1.
 * Idempotent. */
static void forget_server(struct mx_session *s)
{
    balance_forget(s->w->px, s->server);
    s->server = -1;
}

void session_close(struct mx_session *s, const char *why)
{
    if (s->state == SS_CLOSING) return;
    session_log_end(s, why);
    session_set_state(s, SS_CLOSING);
    uv_timer_stop(&s->timer);
    pool_cancel_wait(&s->waiter); /* also cuts a connection logging in for it */
    detach_backend(s, false);
    /* a connection still logging in for it joins the pool when its login completes */
    if (s->server >= 0 && s->server < MX_MAX_SERVERS) be_forget_session(&s->w->pools[s->server], s);
    if (s->reg) registry_remove(s->w->px, s->reg);
    s->reg = NULL;
    forget_server(s);
    guard_forget(s);
    /* unlink from the worker */
    if (s->prev) s->prev->next = s->next;
    else if (s->w->sessions == s) s->w->sessions = s->next;
    if (s->next) s->next->prev = s->prev;
    s->w->n_sessions--;
    if (s->counted) atomic_fetch_sub(&s->w->px->sessions_total, 1);
    if (s->ustats) atomic_fetch_sub(&s->ustats->sessions, 1);
    s->ustats = NULL;
    s->counted = false;
    cred_clear(&s->cred);
    free(s->defer_err);
    s->defer_err = NULL;
    free(s->kb);
    s->kb = NULL;
    sstate_abort(s);
    vars_free(&s->vars);
    diag_free(&s->diag);
    stmt_forget_command(s);
    stmts_free(&s->stmts, &s->w->pcache);
    if (s->saved_cred) {
        cred_clear(s->saved_cred);
        free(s->saved_cred);
        s->saved_cred = NULL;
    }
    sock_close(&s->sock);
}

/* ---- client input ---- */

static void on_timer(uv_timer_t *t);
static void query_timed_out(struct mx_session *s);
uv_timer_cb session_deny_timer_cb(void)
{
    return on_timer;
}

static void on_timer(uv_timer_t *t)
{
    struct mx_session *s = t->data;
    session_check(s);
    if (s->proxy_wait) {
        session_proxy_timeout(s);
        return;
    }
    if (s->deny_pending) { /* the delayed refusal of a repeated failure */
        s->deny_pending = false;
        session_deny_now(s, s->deny_used_password);
        return;
    }
    if (session_state_auth(s->state)) {
        log_info("handshake_timeout", "conn_id=%u client=%s", s->id, s->peer);
        STAT_ADD(s->w->px->stats.handshake_timeouts, 1);
        if (s->guard_queued) s->seq = 0xff; /* no greeting went out: the ERR is packet 0 */
        session_fail(s, 1043, "08S01", "Bad handshake: timed out");
        return;
    }
    if (s->state == SS_KILL_WAIT) { /* the other worker's answer was lost: the kill is posted */
        session_kill_done(s);
        return;
    }
    if (s->state == SS_DISCARD) { /* the client stopped mid-command */
        log_info("idle_timeout", "conn_id=%u client=%s", s->id, s->peer);
        session_close(s, "idle_timeout");
        return;
    }
    if (s->state == SS_FORWARD || s->state == SS_RESPONSE || s->state == SS_SYNC ||
        s->state == SS_DIAG) {
        query_timed_out(s);
        return;
    }
    if (s->state == SS_IDLE) {
        log_info("idle_timeout", "conn_id=%u client=%s", s->id, s->peer);
        session_close(s, "idle_timeout");
    }
}

/* A whole packet at in->rpos during authentication. */
static void auth_input(struct mx_session *s)
{
    struct mx_buf *b = s->sock.in;
    while (b && session_state_auth(s->state) && b->wpos - b->rpos >= PKT_HDR) {
        uint32_t len = pkt_len(b->data + b->rpos);
        if (len + PKT_HDR > b->cap) {
            session_fail(s, 1043, "08S01", "Bad handshake: packet too large");
            return;
        }
        if (b->wpos - b->rpos < len + PKT_HDR) {
            buf_compact(b);
            return;
        }
        const uint8_t *h = b->data + b->rpos;
        b->rpos += PKT_HDR + len;
        b->ppos = b->rpos;
        session_auth_packet(s, h + PKT_HDR, len, h[3]);
        b = s->sock.in;
    }
    if (b && s->state != SS_CLOSING && buf_empty(b) && !s->sock.writing) sock_release_in(&s->sock);
}

static void on_client_read(struct mx_sock *sock, ssize_t status)
{
    struct mx_session *s = sock->owner;
    session_check(s);
    if (status == UV_EPROTO && sock->z && sock->z->bad_frame && !sock->writing &&
        (s->state == SS_IDLE || s->state == SS_FORWARD || s->state == SS_DISCARD)) {
        /* the frames in are unreadable, the way out still works: the client is told
         * why, as a server tells it (the command in flight never ran whole) */
        if (s->be && (s->state == SS_FORWARD || s->state == SS_DISCARD)) s->be->broken = true;
        session_fail(s, 1157, "08S01", "Couldn't uncompress communication packet");
        return;
    }
    if (status < 0) {
        if (s->state == SS_RESPONSE || s->state == SS_FORWARD || s->state == SS_DISCARD ||
            s->state == SS_INFILE) {
            /* the client left mid-command: the backend connection is in an
             * unknown place in its answer, so it is not reused */
            if (s->be) {
                s->be->broken = true;
            }
        }
        session_close(s, status == UV_EOF ? "client_closed" : uv_strerror((int)status));
        return;
    }
    if (s->proxy_wait) {
        session_proxy_input(s);
        return;
    }
    switch (s->state) {
    case SS_HANDSHAKE:
    case SS_AUTH_SWITCH:
    case SS_AUTH_FULL:
    case SS_AUTH_RSA:
        auth_input(s);
        break;
    case SS_IDLE:
        process_input(s);
        break;
    case SS_FORWARD:
    case SS_DISCARD:
    case SS_INFILE:
        forward_command(s);
        break;
    default:
        /* pipelined input stays in the buffer until the current command is
         * done; a full buffer stops the reads (alloc_cb hands out nothing) */
        break;
    }
}

static void on_client_drain(struct mx_session *s)
{
    if (s->sock.write_error) {
        if (s->be) s->be->broken = true;
        session_close(s, "write_error");
        return;
    }
    if (s->sock.out) { /* local output queued while the relay write was in flight */
        if (!session_flush(s)) return;
        if (s->sock.writing) return;
    }
    if (s->close_after_write) {
        session_close(s, "error_sent");
        return;
    }
    switch (s->state) {
    case SS_RESPONSE:
    case SS_INFILE:
        relay_response(s);
        break;
    case SS_LOCAL:
        session_set_state(s, SS_IDLE);
        process_input(s);
        break;
    case SS_IDLE:
        process_input(s);
        break;
    default:
        break;
    }
}

static void on_sock_drain(struct mx_sock *sock)
{
    struct mx_session *s = sock->owner;
    if (s->state == SS_RESPONSE && s->be && s->be->sock.in) {
        struct mx_buf *b = s->be->sock.in;
        b->rpos = b->ppos; /* the relayed bytes are out */
    }
    on_client_drain(s);
}

/* ---- a command that cannot run ---- */

/* Puts the session into discard mode for the command in flight (its
 * fwd_left / fwd_cont say what is left of it): forward_command() reads and
 * drops the rest, then discard_done() answers e. The client gets
 * client_idle_timeout to send the rest. Returns false when the session failed
 * instead (out of memory). */
static bool discard_begin(struct mx_session *s, const struct be_error *e)
{
    if (!s->defer_err) s->defer_err = malloc(sizeof *s->defer_err);
    if (!s->defer_err) {
        session_fail(s, e->code, e->sqlstate, e->msg);
        return false;
    }
    *s->defer_err = *e;
    sstate_abort(s);
    stmt_forget_command(s);
    s->pending_schema[0] = 0;
    s->synthetic_len = 0;
    s->kq_victim = 0;
    s->kill_after = 0;
    if (s->reg) atomic_store(&s->reg->busy, 0);
    session_set_state(s, SS_DISCARD);
    int idle = s->w->px->cfg->client_idle_timeout_ms;
    if (idle > 0) uv_timer_start(&s->timer, on_timer, (uint64_t)idle, 0);
    else uv_timer_stop(&s->timer);
    return true;
}

/* The command in flight fails before reaching the backend: the rest of its
 * packets are read and dropped, then the error goes to the client. */
static void fail_command(struct mx_session *s, const struct be_error *e)
{
    if (discard_begin(s, e)) forward_command(s);
}

static const struct be_error err_too_large = {
    .code = 1153, .sqlstate = "08S01",
    .msg = "Got a packet bigger than 'max_allowed_packet' bytes"};

/* Refuses the command whose first packet (payload len) is at rpos before any
 * of it is forwarded: all its packets are read and dropped first, because a
 * client still writing does not read the answer, and a close with its bytes
 * unread is a reset, not an error it can report. close: the session ends
 * after the error (the protocol leaves no way on), else it goes on. */
static void refuse_command(struct mx_session *s, uint32_t len, const struct be_error *e,
                           bool close)
{
    struct mx_buf *b = s->sock.in;
    b->ppos = b->rpos;
    s->fwd_left = (uint64_t)len + PKT_HDR;
    s->fwd_cont = len == PKT_MAX_PAYLOAD;
    if (close) s->close_after_write = true;
    fail_command(s, e);
}

/* The command in flight reached limits.max_packet_size after part of it went
 * to the backend. That connection holds half a command, so it is closed (the
 * server runs no command it has not read whole); the rest is dropped as it
 * arrives and the client gets 1153. A session whose state lived on that
 * connection ends after the error. Returns false when the session failed. */
static bool command_too_large(struct mx_session *s)
{
    /* what classifying it pinned (any text longer than the buffer is unsure) is void */
    s->pins = s->cmd_pins_before;
    s->soft_pin = s->cmd_soft_before;
    bool clean = sstate_is_clean(s) && !(s->status & SERVER_STATUS_IN_TRANS);
    log_info("packet_too_large", "conn_id=%u bytes=%llu limit=%d", s->id,
             (unsigned long long)s->cmd_bytes, s->w->px->cfg->max_packet_size);
    if (s->be) detach_backend(s, true);
    if (!clean) s->close_after_write = true;
    return discard_begin(s, &err_too_large);
}

/* The dropped command's packets are all consumed: send its error. */
static void discard_done(struct mx_session *s)
{
    struct be_error *e = s->defer_err;
    s->defer_err = NULL;
    s->discard_infile = false;
    session_set_state(s, SS_LOCAL);
    bool alive = session_reply_err(s, e->code, e->sqlstate, "%s", e->msg);
    free(e);
    if (!alive) return;
    if (s->close_after_write && !s->sock.writing) {
        session_close(s, "error_sent");
        return;
    }
    if (!s->sock.writing) {
        session_set_state(s, SS_IDLE);
        process_input(s);
    }
}

/* ---- backend state sync ---- */

static void sync_done(struct mx_backend *be, int err, const struct be_error *e);

/* The connection died under mymux's own commands: it is closed after the
 * caller returns, so the session lets go of it now. State only it held is gone
 * with it, and so is the session: false then (the session is failing). */
static bool drop_dead_backend(struct mx_session *s)
{
    bool held_state = !sstate_is_clean(s);
    detach_backend(s, true);
    if (!held_state) return true;
    session_fail(s, 2013, "HY000", "Lost connection to the backend, and the session's state with it");
    return false;
}

static void sync_done(struct mx_backend *be, int err, const struct be_error *e)
{
    struct mx_session *s = be->session;
    if (!s) {
        pool_release(be);
        return;
    }
    if (err) {
        if (s->state == SS_CONNECTING) {
            session_fail(s, e->code, e->sqlstate, e->msg);
            return;
        }
        if (be->broken && !drop_dead_backend(s)) return;
        fail_command(s, e);
        return;
    }
    sstate_synced(s, be);
    be_set_state(be, BE_ATTACHED);
    if (s->state == SS_CONNECTING) {
        s->status = be->status & (SERVER_STATUS_AUTOCOMMIT | SERVER_STATUS_IN_TRANS |
                                  SERVER_STATUS_NO_BACKSLASH_ESCAPES | SERVER_STATUS_ANSI_QUOTES);
        if (s->pending_schema[0]) snprintf(s->schema, sizeof s->schema, "%s", s->pending_schema);
        s->pending_schema[0] = 0;
        session_set_state(s, SS_LOCAL);
        if (sstate_can_release(s)) detach_backend(s, false);
        if (!session_reply_ok(s)) return;
        if (!session_compress_begin(s)) return;
        if (!s->sock.writing) {
            session_set_state(s, SS_IDLE);
            process_input(s);
        }
        return;
    }
    int brc = stmt_bind_to_backend(s, be);
    /* An EXECUTE whose packet is whole in the buffer stays there until its
     * answer begins, so that an ERR 1615 (needs re-prepare) can be answered by
     * preparing again and re-sending it once. */
    struct mx_buf *ib = s->sock.in;
    s->exec_retained = brc == 0 && s->cmd == COM_STMT_EXECUTE && s->exec_ps && !s->out_cmd_ready &&
                       ib && ib->wpos - ib->rpos >= PKT_HDR &&
                       pkt_len(ib->data + ib->rpos) < PKT_MAX_PAYLOAD &&
                       ib->wpos - ib->rpos >= pkt_len(ib->data + ib->rpos) + PKT_HDR;
    if (s->exec_retained) s->exec_pkt_len = pkt_len(ib->data + ib->rpos) + PKT_HDR;
    if (brc < 0) {
        struct be_error e = {.code = brc == -2 ? 1105 : 1243, .sqlstate = "HY000"};
        snprintf(e.msg, sizeof e.msg, "%s",
                 brc == -2 ? "mymux: cannot re-send parameter types for an EXECUTE larger than "
                             "16 KiB on another connection; bind the parameters again"
                           : "mymux: the statement could not be prepared on the backend");
        if (brc == -1 && be->prep_mismatch >= 0 && s->exec_ps) {
            e.code = 1105;
            snprintf(e.msg, sizeof e.msg,
                     "mymux: the backend now prepares this statement with %d parameter(s), the "
                     "client's has %u; prepare it again",
                     be->prep_mismatch, s->exec_ps->num_params);
        }
        be->prep_mismatch = -1;
        fail_command(s, &e);
        return;
    }
    session_set_state(s, SS_FORWARD);
    forward_command(s);
}

/* Brings the backend to the session's state, then continues. */
static void sync_and_go(struct mx_session *s)
{
    struct mx_backend *be = s->be;
    int n = sstate_write_sync(s, be);
    if (n < 0) {
        /* a connection given up while it was lent (its server went away), or
         * a sync that does not fit: nothing of the command went out, so it
         * fails as on a lost connection and a session that held nothing
         * there goes on */
        log_warn("sync_failed", "conn_id=%u backend_thread=%u broken=%d", s->id, be->thread_id,
                 be->broken);
        be->broken = true;
        if (s->state == SS_CONNECTING) {
            session_fail(s, 2013, "HY000", "mymux: lost connection to the backend server");
            return;
        }
        if (!drop_dead_backend(s)) return;
        struct be_error e = {.code = 1105, .sqlstate = "HY000"};
        snprintf(e.msg, sizeof e.msg, "mymux: lost connection to the backend server before the "
                                      "query was sent; the session goes on");
        fail_command(s, &e);
        return;
    }
    if (n == 0) {
        sync_done(be, 0, NULL);
        return;
    }
    if (s->state != SS_CONNECTING) session_set_state(s, SS_SYNC);
    if (be_run_internal(be, n, sync_done) < 0) {
        /* be_run_internal failed: the connection closes and reports through done */
        return;
    }
}

/* The pool answers a borrow through s->waiter (session_waiter_ops). */
static struct mx_session *waiter_session(struct mx_pool_waiter *w)
{
    return (struct mx_session *)((char *)w - offsetof(struct mx_session, waiter));
}

static void waiter_ready(struct mx_pool_waiter *w, struct mx_backend *be)
{
    session_backend_ready(waiter_session(w), be);
}

static void waiter_failed(struct mx_pool_waiter *w, const struct be_error *e)
{
    session_backend_failed(waiter_session(w), e);
}

static void waiter_reroute(struct mx_pool_waiter *w)
{
    session_reroute(waiter_session(w));
}

static bool waiter_login_retry(struct mx_pool_waiter *w, const struct be_error *e)
{
    return session_login_retry(waiter_session(w), e);
}

static const struct mx_pool_waiter_ops session_waiter_ops = {
    .ready = waiter_ready,
    .failed = waiter_failed,
    .reroute = waiter_reroute,
    .login_retry = waiter_login_retry,
};

void session_pool_req(const struct mx_session *s, struct mx_pool_req *r)
{
    r->cred = &s->cred;
    r->key_caps = s->caps & MX_KEY_CAPS;
    /* the schema its next command runs in: a login's or USE's first */
    r->schema = s->pending_schema[0] ? s->pending_schema : s->schema;
    r->charset = s->charset;
    r->vars = &s->vars;
    r->peer = s->peer;
}

/* Asks server srv's pool of this worker for a connection; the answer comes
 * through session_waiter_ops. */
static void borrow_from(struct mx_session *s, int srv)
{
    s->waiter.ops = &session_waiter_ops;
    s->waiter.owner = s;
    session_pool_req(s, &s->waiter.req);
    pool_acquire(&s->w->pools[srv], &s->waiter);
}

void session_backend_ready(struct mx_session *s, struct mx_backend *be)
{
    session_check(s);
    be_check(be); /* the pool attached it to s (be->session, BE_ATTACHED) */
    s->be = be;
    if (s->reg) {
        atomic_store(&s->reg->backend_tid, be->thread_id);
        atomic_store(&s->reg->server, s->server);
    }
    sync_and_go(s);
}

void session_backend_failed(struct mx_session *s, const struct be_error *e)
{
    session_check(s);
    s->be = NULL;
    if (s->state == SS_CONNECTING) {
        session_fail(s, e->code, e->sqlstate, e->msg);
        return;
    }
    fail_command(s, e);
}

/* The login's first connection to s->server failed before the client sent a
 * command (refused, lost, a bad greeting or public key, a server that is full
 * or blocks mymux's address): the client has said nothing that cannot go elsewhere, so
 * another eligible server gets the login, each server once. False when the
 * error is not of that kind or no server is left; the caller fails the login. */
bool session_login_retry(struct mx_session *s, const struct be_error *e)
{
    session_check(s);
    if (s->state != SS_CONNECTING || e->local || s->server < 0 || s->server >= MX_MAX_SERVERS)
        return false;
    if (e->code != 2003 && e->code != 2013 && e->code != 2027 && e->code != 2061 &&
        e->code != 1040 && e->code != 1129)
        return false;
    s->be = NULL;
    s->login_avoid |= 1ull << s->server;
    int from = s->server, srv = pick_server(s);
    if (srv < 0) return false;
    const struct mx_config *cfg = s->w->px->cfg;
    log_info("login_retry", "conn_id=%u from=%s to=%s code=%u", s->id,
             (size_t)from < cfg->n_backends ? cfg->backends[from].name : "?",
             (size_t)srv < cfg->n_backends ? cfg->backends[srv].name : "?", e->code);
    s->server = srv;
    borrow_from(s, srv);
    return true;
}

/* Borrows a connection to the chosen server (or uses the one held). */
static void need_backend(struct mx_session *s)
{
    if (s->be) {
        sync_and_go(s);
        return;
    }
    int srv = pick_server(s);
    if (srv < 0) {
        struct be_error e = {.code = 1105, .sqlstate = "HY000"};
        snprintf(e.msg, sizeof e.msg, "mymux: no backend server is available");
        session_backend_failed(s, &e);
        return;
    }
    s->server = srv;
    if (s->state != SS_CONNECTING) session_set_state(s, SS_WAIT_BACKEND);
    borrow_from(s, srv);
}

void session_reroute(struct mx_session *s)
{
    session_check(s);
    forget_server(s); /* its server went away: let the balancer choose again */
    need_backend(s);
}

void session_authenticated(struct mx_session *s)
{
    uv_timer_stop(&s->timer);
    guard_handshake_done(s);
    session_set_state(s, SS_CONNECTING);
    need_backend(s);
}

/* ---- commands ---- */

static bool reply_local_err(struct mx_session *s, uint16_t code, const char *state,
                            const char *msg)
{
    session_set_state(s, SS_LOCAL);
    if (!session_reply_err(s, code, state, "%s", msg)) return false;
    if (!s->sock.writing) session_set_state(s, SS_IDLE);
    return true;
}

/* Consumes the whole current packet (header at rpos) from the client buffer. */
static void drop_packet(struct mx_session *s, uint32_t len)
{
    struct mx_buf *b = s->sock.in;
    uint64_t total = (uint64_t)PKT_HDR + len, here = b->wpos - b->rpos;
    s->skip_cont = len == PKT_MAX_PAYLOAD;
    if (total <= here) {
        b->rpos += (uint32_t)total;
    } else { /* the rest is read and dropped by process_input */
        s->skip_left = total - here;
        b->rpos = b->wpos;
    }
    b->ppos = b->rpos;
}

/* Drops what is left of a command answered without forwarding it. Returns
 * false while more bytes are needed. */
static bool skip_dropped(struct mx_session *s)
{
    struct mx_buf *b = s->sock.in;
    while (b && (s->skip_left || s->skip_cont)) {
        uint32_t here = b->wpos - b->rpos;
        if (s->skip_left) {
            uint32_t n = s->skip_left < here ? (uint32_t)s->skip_left : here;
            b->rpos += n;
            b->ppos = b->rpos;
            s->skip_left -= n;
            if (s->skip_left) return false;
            continue;
        }
        if (here < PKT_HDR) return false;
        uint32_t len = pkt_len(b->data + b->rpos);
        s->skip_cont = len == PKT_MAX_PAYLOAD;
        s->skip_left = (uint64_t)len + PKT_HDR;
    }
    return true;
}

/* How long a KILL waits for another worker to close its victim before it answers
 * anyway (the close itself was posted). */
#define KILL_WAIT_MS 2000

/* How long a session whose statement ends keeps its connection once a KILL
 * QUERY for it is on its way (registry_mark_kill). */
#define KILL_MARK_MS 5000

static void handle_kill(struct mx_session *s, bool query, uint64_t id)
{
    struct mx_reg_entry t;
    /* not a mymux id: a backend thread id from the process list, accepted for
     * the requester's own sessions on the server it is on (mymux ids first) */
    if (id <= UINT32_MAX && registry_get(s->w->px, (uint32_t)id, &t) != 0 && s->reg &&
        registry_find_backend_thread(s->w->px, s->server, (uint32_t)id, s->reg->user, &t) == 0)
        id = t.id;
    else if (id > UINT32_MAX || registry_get(s->w->px, (uint32_t)id, &t) != 0) {
        char m[64];
        snprintf(m, sizeof m, "Unknown thread id: %llu", (unsigned long long)id);
        reply_local_err(s, 1094, "HY000", m);
        return;
    }
    /* Another user's session is the backend's to allow (KILL needs a privilege
     * there), unless both log in to it as the same backend user: then it cannot
     * tell them apart. A user with kill_others may, as if it were the owner. */
    const struct mx_user *me = config_find_user(s->w->px->cfg, s->reg ? s->reg->user : "");
    bool owner = strcmp(t.user, s->reg ? s->reg->user : "") == 0 || (me && me->kill_others);
    int tserver = atomic_load(&t.server);
    bool same_backend_user = s->reg && strcmp(t.backend_user, s->reg->backend_user) == 0;
    if (!owner && (tserver < 0 || same_backend_user)) {
        char m[64];
        snprintf(m, sizeof m, "You are not owner of thread %llu", (unsigned long long)id);
        reply_local_err(s, 1095, "HY000", m);
        return;
    }
    if ((uint32_t)id == s->id && !query) { /* KILL of oneself: close like a server would */
        session_fail(s, 1927, "70100", "Connection was killed");
        return;
    }
    int server = tserver;
    unsigned tid = atomic_load(&t.backend_tid);
    bool busy = atomic_load(&t.busy);
    /* Another user's session: the backend decides (KILL needs a privilege
     * there), and the session is closed only once it agreed. */
    bool via_backend = (busy || !owner) && server >= 0;
    if (!query && owner) {
        /* A server has shut the victim's socket when it answers KILL, so that
         * its client finds the connection gone at its next command (and may
         * reconnect) rather than losing that command: the answer waits until
         * the victim's worker has closed it. A busy victim's client is waiting
         * on an answer and sees the close whenever it comes. */
        struct mx_worker *tw = &s->w->px->workers[t.worker];
        if (tw == s->w) {
            worker_kill_now(tw, (uint32_t)id);
        } else if (!via_backend && worker_post_kill(tw, (uint32_t)id, s->w->id, s->id)) {
            session_set_state(s, SS_KILL_WAIT);
            uv_timer_start(&s->timer, on_timer, KILL_WAIT_MS, 0);
            return;
        } else if (!worker_post_kill(tw, (uint32_t)id, -1, 0)) {
            log_warn("kill_queue_full", "conn_id=%u target=%llu", s->id, (unsigned long long)id);
            reply_local_err(s, 1105, "HY000", "mymux: too many KILLs in flight; try again");
            return;
        }
    }
    if (!query && !owner) s->kill_after = (uint32_t)id;
    if (via_backend) {
        /* stop the statement on the backend: KILL QUERY over our own connection */
        char q[64];
        int ql = snprintf(q, sizeof q, "KILL QUERY %u", tid);
        s->cmd = COM_QUERY;
        s->fwd_left = 0;
        s->fwd_cont = false;
        s->pending_schema[0] = 0;
        s->is_use = false;
        s->server = server;
        if (s->be && s->be->pool->server != server) {
            /* our connection is elsewhere: answer locally, the kill is best effort */
            session_set_state(s, SS_LOCAL);
            session_reply_ok(s);
            if (!s->sock.writing) session_set_state(s, SS_IDLE);
            return;
        }
        /* the synthetic command is written by forward_command from `synthetic` */
        s->synthetic_len = (uint16_t)ql;
        memcpy(s->synthetic, q, (size_t)ql);
        s->kq_victim = (uint32_t)id;
        s->kq_tid = tid;
        s->kq_owner = owner;
        start_backend_command(s);
        return;
    }
    session_set_state(s, SS_LOCAL);
    session_reply_ok(s);
    if (s->state != SS_CLOSING && !s->sock.writing) session_set_state(s, SS_IDLE);
}

/* KILL [CONNECTION|QUERY] USER (MariaDB's form): the sessions logged in to
 * mymux as that user are its victims, not the backend user's connections (which
 * the pool shares). Statements still running are stopped by KILL QUERY on
 * their backend threads, sent over the requester's connection to that server
 * (rounds of KILL_BATCH_ROUND internal commands), each only while its victim is
 * still busy on that thread (the mark of kill_query_still_due); then the
 * victims' connections are closed by their workers. */
#define KILL_BATCH_ROUND 8

struct mx_kill_victim {
    uint32_t id;
    int worker;
    unsigned tid; /* busy on this backend thread of kb->server, 0 if not */
};

struct mx_kill_batch {
    bool query;       /* KILL QUERY USER: the connections stay */
    bool self;        /* the requester is one of the victims (KILL CONNECTION) */
    int server;       /* where the statements are stopped */
    uint64_t rows;    /* the answer's affected rows: sessions the KILL reached */
    size_t n, next;   /* victims, and the first whose statement is not yet stopped */
    struct mx_kill_victim v[];
};

/* The answer to a KILL USER once its statements are stopped: connections
 * closed (KILL CONNECTION), OK with the count, the requester closed if it was
 * one of them. */
static void kill_batch_answer(struct mx_session *s)
{
    struct mx_kill_batch *kb = s->kb;
    s->kb = NULL;
    if (!kb->query) {
        for (size_t i = 0; i < kb->n; i++) {
            struct mx_worker *tw = &s->w->px->workers[kb->v[i].worker];
            if (tw == s->w) worker_kill_now(tw, kb->v[i].id);
            else if (!worker_post_kill(tw, kb->v[i].id, -1, 0))
                log_warn("kill_queue_full", "conn_id=%u target=%u", s->id, kb->v[i].id);
        }
    }
    log_info("kill_user", "conn_id=%u query=%d sessions=%llu", s->id, kb->query,
             (unsigned long long)kb->rows);
    if (kb->self) s->close_after_write = true;
    struct pkt_wr w = out_writer(s);
    pkt_ok(&w, (uint8_t)(s->seq + 1), kb->rows, 0, s->status, 0, NULL);
    out_commit(s, &w);
    bool self = kb->self;
    free(kb);
    if (!session_flush(s)) return;
    if (self && s->state != SS_CLOSING && !s->sock.writing) session_close(s, "killed");
}

static void kill_batch_done(struct mx_backend *be, int err, const struct be_error *e)
{
    (void)e; /* 1094: the statement ended meanwhile, which is what was asked */
    struct mx_session *s = be->session;
    if (!s) {
        pool_release(be);
        return;
    }
    if (err && be->broken) {
        if (!drop_dead_backend(s)) return;
        s->kb->next = s->kb->n; /* the rest cannot be stopped from here */
    }
    if (s->be && s->kb->next < s->kb->n) {
        kill_batch_send(s);
        return;
    }
    kill_batch_finish(s);
}

/* The KILL USER's statements are stopped, or cannot be any more: answer, then
 * go on as after any command. */
static void kill_batch_finish(struct mx_session *s)
{
    uv_timer_stop(&s->timer);
    if (s->reg) atomic_store(&s->reg->busy, 0);
    kill_batch_answer(s);
    if (s->state == SS_CLOSING) return;
    if (s->be) {
        finish_release(s);
    } else {
        session_set_state(s, SS_IDLE);
        process_input(s);
    }
}

/* Writes the next round of KILL QUERY on the session's connection and starts
 * it; with none left due, answers. */
static void kill_batch_send(struct mx_session *s)
{
    struct mx_kill_batch *kb = s->kb;
    struct mx_backend *be = s->be;
    struct mx_buf *o = be->broken || be->iq_n ? NULL : sock_out(&be->sock);
    struct pkt_wr w;
    int n = 0;
    if (o) pkt_wr_init(&w, o->data + o->wpos, o->cap - o->wpos);
    while (o && kb->next < kb->n && n < KILL_BATCH_ROUND) {
        struct mx_kill_victim *v = &kb->v[kb->next++];
        struct mx_reg_entry t;
        if (!v->tid || be->pool->server != kb->server ||
            registry_mark_kill(s->w->px, v->id, mx_now_ms() + KILL_MARK_MS, &t) != 0 ||
            !atomic_load(&t.busy) || atomic_load(&t.server) != kb->server ||
            atomic_load(&t.backend_tid) != v->tid)
            continue; /* nothing running there any more */
        char q[48];
        int ql = snprintf(q, sizeof q, "KILL QUERY %u", v->tid);
        if (pkt_command(&w, COM_QUERY, q, (size_t)ql) != 0) break;
        be_expect(be, COM_QUERY, NULL);
        n++;
    }
    if (n > 0 && !w.bad) {
        o->wpos += (uint32_t)w.pos;
        session_set_state(s, SS_DIAG);
        (void)be_run_internal(be, n, kill_batch_done); /* a failure to write reports there */
        return;
    }
    if (n > 0) { /* cannot happen with rounds this small: give the connection up */
        be->broken = true;
        (void)be_run_internal(be, n, kill_batch_done);
        return;
    }
    kb->next = kb->n;
    kill_batch_finish(s);
}

#define KILL_USER_REFUSED                                                                          \
    "Operation KILL USER failed for %s@%s (mymux: another user's sessions may be killed only "     \
    "by a user with kill_others)"

static void handle_kill_user(struct mx_session *s, const struct cls_result *c)
{
    const char *me_name = s->reg ? s->reg->user : "";
    const char *name = c->kill_current_user ? me_name : c->arg;
    const char *host = c->kill_current_user ? "" : c->kill_host;
    size_t total = registry_find_user(s->w->px, name, host, NULL, 0);
    struct mx_reg_entry *found = total ? calloc(total, sizeof *found) : NULL;
    struct mx_kill_batch *kb = calloc(1, sizeof *kb + (total + 1) * sizeof kb->v[0]);
    if ((total && !found) || !kb) {
        free(found);
        free(kb);
        reply_local_err(s, 1041, "HY000", "Out of memory");
        return;
    }
    size_t n = registry_find_user(s->w->px, name, host, found, total);
    if (n > total) n = total;
    const struct mx_user *me = config_find_user(s->w->px->cfg, me_name);
    if (n && strcmp(name, me_name) != 0 && !(me && me->kill_others)) {
        free(found);
        free(kb);
        char m[sizeof c->arg + sizeof c->kill_host + 160];
        snprintf(m, sizeof m, KILL_USER_REFUSED, name, host[0] ? host : "%");
        reply_local_err(s, 1396, "HY000", m);
        return;
    }
    kb->query = c->kill_query;
    kb->server = s->be ? s->be->pool->server : -1;
    bool stop_any = false; /* a statement to stop on kb->server */
    for (size_t i = 0; i < n; i++) {
        struct mx_reg_entry *t = &found[i];
        kb->rows++;
        if (t->id == s->id) { /* its own statement is this KILL */
            kb->self = !kb->query;
            continue;
        }
        struct mx_kill_victim *v = &kb->v[kb->n++];
        v->id = t->id;
        v->worker = t->worker;
        int server = atomic_load(&t->server);
        if (!atomic_load(&t->busy) || server < 0) continue;
        if (kb->server < 0) kb->server = server;
        if (server == kb->server) {
            v->tid = atomic_load(&t->backend_tid);
            stop_any = stop_any || v->tid;
        } else {
            log_warn("kill_user_unreached", "conn_id=%u target=%u (its statement runs on "
                     "another server than the KILL's connection)", s->id, t->id);
        }
    }
    free(found);
    s->kb = kb;
    if (!stop_any) { /* nothing runs: no backend needed */
        session_set_state(s, SS_LOCAL);
        kill_batch_answer(s);
        if (s->state == SS_LOCAL && !s->sock.writing) session_set_state(s, SS_IDLE);
        return;
    }
    s->cmd = COM_QUERY;
    s->fwd_left = 0;
    s->fwd_cont = false;
    s->pending_schema[0] = 0;
    s->is_use = false;
    s->server = kb->server;
    start_backend_command(s); /* forward_command runs the batch */
}

/* The backend has not finished answering within the query deadline: the
 * statement fails, the connection is given up (the server sees it close), and
 * the session goes on unless its state was on that connection. Three deadlines
 * in a row take the server down until its health checks bring it back. */
static void query_timed_out(struct mx_session *s)
{
    struct mx_backend *be = s->be;
    int qt = query_timeout_of(s);
    int server = be ? be->pool->server : s->server;
    const char *name = server >= 0 && (size_t)server < s->w->px->cfg->n_backends
                           ? s->w->px->cfg->backends[server].name
                           : "?";
    log_warn("query_timeout", "conn_id=%u backend=%s ms=%d state=%d", s->id, name, qt, s->state);
    if (server >= 0) {
        struct mx_server *sv = &s->w->px->servers[server];
        STAT_ADD(sv->errors, 1);
        if (atomic_fetch_add(&sv->timeouts_in_row, 1) + 1 == 3) {
            int up = SRV_UP;
            if (atomic_compare_exchange_strong(&sv->state, &up, SRV_DOWN)) {
                srv_state_changed(sv, mx_now_ms());
                log_warn("backend_state", "backend=%s from=up to=down reason=\"3 queries in a row "
                         "timed out (pool.query_timeout %d ms)\"", name, qt);
            }
        }
    }
    char msg[200];
    snprintf(msg, sizeof msg, "mymux: backend %s did not answer within query_timeout (%d ms)",
             name, qt);
    struct be_error e = {.code = 1969, .sqlstate = "70100"};
    snprintf(e.msg, sizeof e.msg, "%s", msg);
    fail_answer(s, &e, "query_timeout");
}

void session_kill_done(struct mx_session *s)
{
    if (s->state != SS_KILL_WAIT) return;
    uv_timer_stop(&s->timer);
    session_set_state(s, SS_LOCAL);
    session_reply_ok(s);
    if (s->state == SS_LOCAL && !s->sock.writing) {
        session_set_state(s, SS_IDLE);
        process_input(s);
    }
}

static void start_backend_command(struct mx_session *s)
{
    s->cmd_started_us = mx_now_us();
    int qt = query_timeout_of(s);
    if (qt > 0) uv_timer_start(&s->timer, on_timer, (uint64_t)qt, 0);
    if (s->reg) atomic_store(&s->reg->busy, 1);
    need_backend(s);
}

static const char *cmd_refused(uint8_t cmd)
{
    switch (cmd) {
    case COM_BINLOG_DUMP:
    case COM_BINLOG_DUMP_GTID:
    case COM_REGISTER_SLAVE:
    case COM_TABLE_DUMP:
        return "mymux does not relay replication commands; connect to the server directly";
    case COM_SHUTDOWN:
        return "mymux does not relay COM_SHUTDOWN";
    case COM_CONNECT_OUT:
    case COM_DAEMON:
    case COM_CONNECT:
    case COM_TIME:
    case COM_DELAYED_INSERT:
    case COM_SLEEP:
    case COM_STMT_BULK_EXECUTE:
        return "Unknown command";
    default:
        return NULL;
    }
}

/* ---- prepared statements ---- */

/* Cursors and long data belong to one statement on one connection: the
 * session stays there while any statement has some. */
static void stmt_update_pins(struct mx_session *s)
{
    bool cursor = false, long_data = false;
    for (uint32_t i = 0; i < s->stmts.n; i++) {
        if (!s->stmts.v[i].id) continue;
        cursor |= s->stmts.v[i].cursor_open;
        long_data |= s->stmts.v[i].long_data;
    }
    s->pins &= ~(SESS_PIN_CURSOR | SESS_PIN_LONG_DATA);
    if (cursor) s->pins |= SESS_PIN_CURSOR;
    if (long_data) s->pins |= SESS_PIN_LONG_DATA;
}

/* What an answer did to the statement it was about. */
static void stmt_finish(struct mx_session *s, const struct mx_resp *r)
{
    struct mx_sstmt *st = s->exec_id ? stmts_get(&s->stmts, s->exec_id) : NULL;
    if (!st) return;
    switch (s->cmd) {
    case COM_STMT_EXECUTE:
        st->cursor_open = !r->error && r->cursor;
        st->long_data = false;
        break;
    case COM_STMT_FETCH:
        if (r->error || (r->status & SERVER_STATUS_LAST_ROW_SENT)) st->cursor_open = false;
        break;
    case COM_STMT_RESET:
        if (!r->error) st->cursor_open = st->long_data = false;
        break;
    default:
        break;
    }
    stmt_update_pins(s);
}

static bool stmts_use(const struct mx_session *s, const struct mx_pstmt *ps)
{
    return stmts_uses(&s->stmts, ps);
}

static void stmt_forget_command(struct mx_session *s)
{
    struct mx_pcache *c = &s->w->pcache;
    if (s->exec_ps) pstmt_unref(c, s->exec_ps);
    s->exec_ps = NULL;
    s->exec_id = 0;
    s->exec_needs_types = false;
    s->exec_retained = s->exec_retried = s->exec_first = false;
    s->out_cmd_ready = false;
    if (s->prep_ps) pstmt_unref(c, s->prep_ps);
    s->prep_ps = NULL;
}

/* KILL that mymux cannot translate to the backend's ids: refused, never forwarded. */
#define KILL_REFUSED                                                                               \
    "mymux: KILL takes a literal connection id (or a prepared statement's parameter) in a "      \
    "statement of its own, not an expression or a multi-statement: ids are mymux's, not the "   \
    "backend's"
#define KILL_USER_PREPARED_REFUSED                                                                 \
    "mymux: KILL USER runs as a text statement, not a prepared one"
#define KILL_QUERY_ID_REFUSED                                                                      \
    "mymux: KILL QUERY ID takes a server's query id, which mymux cannot tell apart from "         \
    "another client's; use KILL QUERY with the connection id"

/* The refusal of a KILL mymux cannot run in its own id space, or NULL. */
static const char *kill_refusal(const struct cls_result *c, bool prepared)
{
    if (!c->is_kill) return NULL;
    if (c->kind == CLS_KILL && c->kill_query_id) return KILL_QUERY_ID_REFUSED;
    if (c->kind != CLS_KILL || c->multi || (c->kill_param && !prepared)) return KILL_REFUSED;
    if (c->kill_user && prepared) return KILL_USER_PREPARED_REFUSED;
    return NULL;
}

/* Classifies sql as the session's backend will read it. */
static void classify_session(struct mx_session *s, const char *sql, size_t n, struct cls_result *c)
{
    struct cls_lex lx;
    sstate_lex(s, &lx);
    classify_lex(sql, n, &lx, c);
}

/* What each EXECUTE of a prepared text pins: as the text would, and any SET
 * or USE (its values are parameters mymux never reads). */
static uint32_t prepared_pins(struct mx_session *s, const char *sql, size_t n)
{
    struct cls_result *c = &s->w->cls;
    classify_session(s, sql, n, c);
    uint32_t pins = c->pins;
    s->prep_clears_diag = !c->prev_diagnostics && clears_diagnostics(s, c);
    bool local = c->kind == CLS_LOAD_DATA_LOCAL || c->kind == CLS_LOAD_XML_LOCAL;
    s->prep_infile_hash = local && !c->multi ? fnv1a(c->arg, c->arg_len) | 1 : 0;
    if (c->multi || c->kind == CLS_SET || c->kind == CLS_USE || c->sets_last_insert_id)
        pins |= CLS_PIN_SESSION_VAR;
    return pins;
}

/* COM_STMT_PREPARE always goes to a backend, so that the client gets the
 * metadata as it is now (a table may have changed since another client
 * prepared the same text). The text is shared through the worker's cache, so a
 * backend connection prepares it once whoever asks; a second server statement
 * made by this PREPARE is closed again. A text too long to read whole before
 * forwarding is not shared: the session stays on that connection. */
/* The command in flight is a LOAD DATA LOCAL whose text names the file of hash h
 * (fnv1a | 1): the server may ask for that file, and for no other. */
static void infile_expect(struct mx_session *s, uint64_t h)
{
    s->infile_ok = true;
    s->n_infile = 0;
    s->infile_hash[s->n_infile++] = h;
}

/* The LOCAL files named by statements after the first of a multi-statement
 * text (the classifier describes the first one): the text after each ';' that
 * is followed by LOAD is classified on its own, under the session's reading.
 * A ';' inside a string or comment can only add a name the client's own text
 * holds, and the client reads its own files; the list guards against a server
 * that asks for a file nobody named. */
static int infile_names_later(struct mx_session *s, const char *sql, size_t n)
{
    static _Thread_local struct cls_result r; /* large; the worker's own is in use */
    struct cls_lex lx;
    int found = 0;
    bool lexed = false;
    for (size_t i = 0; i < n && s->n_infile < sizeof s->infile_hash / sizeof s->infile_hash[0];
         i++) {
        if (sql[i] != ';') continue;
        size_t j = i + 1;
        while (j < n && (sql[j] == ' ' || sql[j] == '\t' || sql[j] == '\n' || sql[j] == '\r')) j++;
        if (n - j < 4 || strncasecmp(sql + j, "LOAD", 4) != 0) continue;
        if (!lexed) sstate_lex(s, &lx);
        lexed = true;
        classify_lex(sql + j, n - j, &lx, &r);
        if (r.kind != CLS_LOAD_DATA_LOCAL && r.kind != CLS_LOAD_XML_LOCAL) continue;
        s->infile_hash[s->n_infile++] = fnv1a(r.arg, r.arg_len) | 1;
        s->infile_ok = true;
        found++;
    }
    return found;
}

/* LOAD ... LOCAL from a client that did not negotiate CLIENT_LOCAL_FILES: the
 * error its server would give (MariaDB 10.11 answers 4166, MySQL 5.7 1148). */
static bool infile_refuse_local(struct mx_session *s)
{
    struct cls_lex lx;
    sstate_lex(s, &lx);
    if (lx.mariadb)
        return reply_local_err(s, 4166, "HY000",
                               "The used command is not allowed because the MariaDB server or "
                               "client has disabled the local infile capability");
    return reply_local_err(s, 1148, "42000", "The used command is not allowed with this MySQL version");
}

static bool stmt_prepare(struct mx_session *s, const uint8_t *p, uint32_t len, uint32_t want)
{
    struct mx_pcache *c = &s->w->pcache;
    struct mx_pstmt *ps;
    if (len != want) {
        ps = pcache_add(&(struct mx_pcache){0}, 0, s->cred.user, s->schema, "", 0);
        s->pins |= SESS_PIN_PREPARED;
        s->prep_pins = CLS_PIN_UNSURE;
        s->prep_clears_diag = true;
        s->prep_kill = 0;
    } else {
        char *sql = (char *)p + 1;
        size_t n = len - 1;
        const struct cls_result *cr = &s->w->cls;
        s->prep_pins = prepared_pins(s, sql, n);
        const char *refused = kill_refusal(cr, true);
        if (refused) {
            drop_packet(s, len);
            return reply_local_err(s, 1105, "HY000", refused);
        }
        /* the server prepares it (the client gets its metadata); EXECUTE is mymux's */
        s->prep_kill = !cr->is_kill ? 0 : cr->kill_param ? STMT_KILL_PARAM : STMT_KILL_LITERAL;
        s->prep_kill_query = cr->kill_query;
        s->prep_kill_id = cr->kill_id;
        if (cr->prev_last_insert_id) s->reads_insert_id = true;
        if (cr->has_connection_id && sstate_rewrite(s, cr, true)) {
            /* the session's id, as in a text query: the packet may have grown and moved */
            p = s->sock.in->data + s->sock.in->rpos + PKT_HDR;
            sql = (char *)p + 1;
            n = pkt_len(p - PKT_HDR) - 1;
            len = (uint32_t)n + 1;
        }
        uint64_t key = pstmt_key(s->cred.user, s->schema, sql, n);
        struct mx_pstmt *shared = pcache_find(c, key, s->cred.user, s->schema, sql, n);
        if (shared && stmts_use(s, shared)) ps = pstmt_private(shared);
        else if (shared) ps = (pstmt_ref(shared), shared);
        else ps = pcache_add(c, key, s->cred.user, s->schema, sql, n);
    }
    if (!ps) {
        drop_packet(s, len);
        return reply_local_err(s, 1041, "HY000", "Out of memory");
    }
    s->prep_ps = ps;
    s->prep_patched = false;
    return true; /* forwarded by the caller */
}

/* The first packet of a backend's PREPARE answer for the client: the client
 * gets mymux's id, the connection's map gets the server's. */
static void stmt_prepared(struct mx_session *s, struct mx_backend *be, uint8_t *payload)
{
    struct mx_resp *r = &be->resp;
    struct mx_pstmt *ps = s->prep_ps;
    s->prep_patched = true;
    struct mx_sstmt *st = stmts_add(&s->stmts, ps);
    if (!st) return;
    st->pins = s->prep_pins;
    st->clears_diag = s->prep_clears_diag;
    st->infile_hash = s->prep_infile_hash;
    st->kill = s->prep_kill;
    st->kill_query = s->prep_kill_query;
    st->kill_id = s->prep_kill_id;
    ps->num_params = r->num_params;
    ps->num_cols = r->num_cols;
    uint32_t evicted = 0;
    struct mx_bstmt *bs = bstmts_get(&be->stmts, ps);
    if (!bs) {
        bstmts_add(&be->stmts, &s->w->pcache, ps, r->stmt_id,
                   (uint32_t)s->w->px->cfg->pool_max_prepared, &evicted);
        if (evicted) be_close_stmt_later(be, evicted);
    } else {
        /* The connection had the text prepared already, perhaps before its tables
         * were dropped and made again: the new statement is what the client was
         * just told, so it replaces the old one (which the server would reprepare
         * on the fly; long data sent before that EXECUTE did not survive it in
         * mariadb-client-test's test_long_data_str1 after test_long_data_str, each
         * dropping its database). No other session
         * can be using the old one: a cursor or long data keeps its session on
         * the connection, and a session's second PREPARE of a text gets a copy. */
        be_close_stmt_later(be, bs->backend_id);
        bs->backend_id = r->stmt_id;
        bs->types_hash = 0;
    }
    wr32(payload + 1, st->id);
    s->last_stmt_id = st->id;
}

/* The connection id a prepared KILL ?'s EXECUTE (payload p, want bytes, whole)
 * sends: an integer type, or a string of digits as a text KILL takes it (what
 * libmariadb's and DBD::mysql's string binds send). Types come with the packet
 * or from the statement's earlier EXECUTE. 0, or -1 for anything else. */
static int stmt_kill_param(struct mx_sstmt *st, const uint8_t *p, uint32_t want, uint64_t *out)
{
    if (st->ps->num_params != 1 || want < 12 || (p[10] & 1)) return -1; /* one, not NULL */
    if (p[11] == 1 && want >= 14) { /* kept for the EXECUTEs that do not send them again */
        if (!st->types) st->types = malloc(2);
        if (!st->types) return -1;
        memcpy(st->types, p + 12, 2);
        st->types_n = 1;
    }
    const uint8_t *type = p[11] == 1 ? p + 12 : st->types_n == 1 ? st->types : NULL;
    const uint8_t *v = p + 12 + (p[11] == 1 ? 2 : 0), *end = p + want;
    if (!type || v > end) return -1;
    bool is_unsigned = type[1] & 0x80;
    uint32_t size = 0;
    switch (type[0]) {
    case 1: size = 1; break;  /* TINY */
    case 2: size = 2; break;  /* SHORT */
    case 3: case 9: size = 4; break; /* LONG, INT24 */
    case 8: size = 8; break;  /* LONGLONG */
    case 15: case 249: case 250: case 251: case 252: case 253: case 254: { /* strings */
        if (v >= end || *v >= 251 || *v == 0 || *v > 20 || v + 1 + *v > end) return -1;
        uint64_t n = 0;
        for (uint32_t i = 1; i <= *v; i++) {
            if (v[i] < '0' || v[i] > '9') return -1;
            uint64_t d = (uint64_t)(v[i] - '0');
            if (n > (UINT64_MAX - d) / 10) return -1;
            n = n * 10 + d;
        }
        *out = n;
        return 0;
    }
    default: return -1;
    }
    if (v + size > end) return -1;
    uint64_t n = 0;
    for (uint32_t i = 0; i < size; i++) n |= (uint64_t)v[i] << (8 * i);
    if (!is_unsigned && size < 8 && (n >> (8 * size - 1))) return -1; /* negative */
    if (!is_unsigned && size == 8 && (n >> 63)) return -1;
    *out = n;
    return 0;
}

/* COM_STMT_EXECUTE, SEND_LONG_DATA, FETCH, RESET, CLOSE: finds the client's
 * statement and decides where the command goes. Returns 1 to forward, 0 when
 * answered (or dropped) here and processing may go on, -1 to stop. */
static int stmt_route(struct mx_session *s, const uint8_t *p, uint32_t len, uint32_t want)
{
    uint8_t cmd = p[0];
    if (want < 5) {
        drop_packet(s, len);
        return reply_local_err(s, 1047, "08S01", "mymux: malformed statement command") ? 0 : -1;
    }
    uint32_t id = rd32(p + 1);
    if (id == 0xffffffffu) id = s->last_stmt_id;
    struct mx_sstmt *st = stmts_get(&s->stmts, id);
    if (!st) {
        if (cmd == COM_STMT_CLOSE || cmd == COM_STMT_SEND_LONG_DATA) { /* no answer expected */
            drop_packet(s, len);
            return 0;
        }
        char m[96];
        snprintf(m, sizeof m, "Unknown prepared statement handler (%u) given to mymux", id);
        drop_packet(s, len);
        return reply_local_err(s, 1243, "HY000", m) ? 0 : -1;
    }
    struct mx_bstmt *bs = s->be ? bstmts_get(&s->be->stmts, st->ps) : NULL;
    switch (cmd) {
    case COM_STMT_CLOSE:
        if (bs && (st->cursor_open || st->long_data)) {
            /* its cursor or long data lives on this connection: close it there */
            wr32((uint8_t *)p + 1, bs->backend_id);
            bstmts_del(&s->be->stmts, &s->w->pcache, st->ps);
            stmts_del(&s->stmts, &s->w->pcache, id);
            stmt_update_pins(s);
            return 1;
        }
        drop_packet(s, len);
        stmts_del(&s->stmts, &s->w->pcache, id);
        stmt_update_pins(s);
        return 0;
    case COM_STMT_RESET:
    case COM_STMT_FETCH:
        if (!bs) {
            drop_packet(s, len);
            if (cmd == COM_STMT_RESET) {
                session_set_state(s, SS_LOCAL);
                if (!session_reply_ok(s)) return -1;
                if (s->sock.writing) return -1;
                session_set_state(s, SS_IDLE);
                return 0;
            }
            char m[96];
            snprintf(m, sizeof m, "The statement (%u) has no open cursor.", id);
            return reply_local_err(s, 1421, "HY000", m) ? 0 : -1;
        }
        wr32((uint8_t *)p + 1, bs->backend_id);
        s->exec_id = id;
        return 1;
    case COM_STMT_SEND_LONG_DATA:
        st->long_data = true;
        s->pins |= SESS_PIN_LONG_DATA;
        break;
    case COM_STMT_EXECUTE: {
        if (st->kill) { /* run here, as a text KILL would be: never in the backend's ids */
            uint64_t kid = st->kill_id;
            if (st->kill == STMT_KILL_PARAM &&
                (len != want || st->long_data || stmt_kill_param(st, p, want, &kid) != 0)) {
                drop_packet(s, len);
                return reply_local_err(s, 1105, "HY000",
                                       "mymux: KILL ? takes one connection id, an integer")
                           ? 0
                           : -1;
            }
            drop_packet(s, len);
            handle_kill(s, st->kill_query, kid);
            return 0;
        }
        /* a prepared diagnostics reader (no cursor asked): answered as in text */
        if (s->diag.held && want >= 10 && p[5] == 0 && st->ps->sql_len) {
            int rc = answer_diagnostics(s, st->ps->sql, st->ps->sql_len, len, true);
            if (rc != 0) return rc > 0 ? 0 : -1;
        }
        s->clears_diag = st->clears_diag;
        if (st->infile_hash) infile_expect(s, st->infile_hash);
        s->exec_cursor = want > 5 && (p[5] & 0x07); /* CURSOR_TYPE_READ_ONLY and kin */
        s->soft_pin = s->soft_pin || (st->pins & SESS_SOFT_PINS);
        sstate_count_pins(s, st->pins & ~SESS_SOFT_PINS);
        s->pins |= st->pins & ~SESS_SOFT_PINS;
        uint16_t n = st->ps->num_params;
        if (n) {
            uint32_t nb = (n + 7u) / 8u;
            if (want < 11 + nb || (p[10 + nb] == 1 && want < 11 + nb + 2u * n)) {
                if (len == want) { /* the whole packet is here and too short */
                    drop_packet(s, len);
                    return reply_local_err(s, 1047, "08S01", "mymux: malformed COM_STMT_EXECUTE")
                               ? 0
                               : -1;
                }
                /* so many parameters that their types do not fit in the buffer:
                 * mymux cannot keep them, so the session stays on this connection */
                free(st->types);
                st->types = NULL;
                st->types_n = 0;
                st->types_hash = 0;
                s->pins |= SESS_PIN_PREPARED;
            } else if (p[10 + nb] == 1) {
                if (st->types && st->types_n != n) { /* the count changed since */
                    free(st->types);
                    st->types = NULL;
                }
                if (!st->types) st->types = malloc(2u * n);
                st->types_n = st->types ? n : 0;
                if (!st->types) {
                    drop_packet(s, len);
                    return reply_local_err(s, 1041, "HY000", "Out of memory") ? 0 : -1;
                }
                memcpy(st->types, p + 11 + nb, 2u * n);
                st->types_hash = stmt_types_hash(st->types, 2u * n);
            } else {
                s->exec_needs_types = true;
            }
        }
        break;
    }
    default:
        break;
    }
    s->exec_ps = st->ps;
    pstmt_ref(st->ps);
    s->exec_id = id;
    if (cmd == COM_STMT_EXECUTE) {
        struct cls_lex lx;
        sstate_lex(s, &lx);
        s->digest = digest_begin(s->w, st->ps->sql, st->ps->sql_len, &lx,
                                 s->reg ? s->reg->user : s->cred.user, s->schema);
    }
    return 1;
}

/* After the sync: give the command the connection's statement id, or rewrite
 * an EXECUTE that relies on parameter types this connection never saw. */
static int stmt_bind_to_backend(struct mx_session *s, struct mx_backend *be)
{
    if (!s->exec_ps) return 0;
    struct mx_bstmt *bs = bstmts_get(&be->stmts, s->exec_ps);
    struct mx_sstmt *st = stmts_get(&s->stmts, s->exec_id);
    struct mx_buf *b = s->sock.in;
    if (!bs || !st || !b) return -1;
    uint8_t *h = b->data + b->rpos;
    uint32_t len = pkt_len(h);
    if (s->cmd == COM_STMT_EXECUTE && s->exec_needs_types && bs->types_hash != st->types_hash) {
        uint16_t n = st->ps->num_params;
        uint32_t nb = (n + 7u) / 8u, at = 10 + nb; /* the new-params-bound flag */
        struct mx_buf *o = sock_out(&be->sock);
        if (!st->types || st->types_n != n || !o || b->wpos - b->rpos < len + PKT_HDR ||
            len == PKT_MAX_PAYLOAD ||
            o->cap - o->wpos < len + PKT_HDR + 2u * n || len < at + 1)
            return -2;
        uint8_t *q = o->data + o->wpos, *src = h + PKT_HDR;
        pkt_put_hdr(q, len + 2u * n, h[3]);
        memcpy(q + PKT_HDR, src, at);
        wr32(q + PKT_HDR + 1, bs->backend_id);
        q[PKT_HDR + at] = 1;
        memcpy(q + PKT_HDR + at + 1, st->types, 2u * n);
        memcpy(q + PKT_HDR + at + 1 + 2u * n, src + at + 1, len - at - 1);
        o->wpos += len + PKT_HDR + 2u * n;
        b->rpos += len + PKT_HDR;
        b->ppos = b->rpos;
        s->fwd_left = 0;
        s->fwd_cont = false;
        s->out_cmd_ready = true;
    } else {
        wr32(h + PKT_HDR + 1, bs->backend_id);
    }
    if (s->cmd == COM_STMT_EXECUTE) bs->types_hash = st->types_hash;
    return 0;
}

/* One command at rpos (header complete, payload at least partly in). Returns
 * false when processing must stop (waiting for more bytes, or a state change). */
static bool handle_command(struct mx_session *s)
{
    struct mx_buf *b = s->sock.in;
    uint8_t *h = b->data + b->rpos;
    uint32_t len = pkt_len(h);
    uint32_t have = b->wpos - b->rpos - PKT_HDR;
    uint32_t want = len < b->cap - PKT_HDR ? len : b->cap - PKT_HDR;
    if (have < want) {
        if (buf_free_tail(b) < want - have) buf_compact(b);
        return false;
    }
    if (len == 0) {
        session_fail(s, 1047, "08S01", "mymux: empty command packet");
        return false;
    }
    if (h[3] != 0) { /* a command starts a new exchange: a server closes on anything else */
        session_fail(s, 1156, "08S01", "Got packets out of order");
        return false;
    }
    const struct mx_config *cfg = s->w->px->cfg;
    uint8_t *p = h + PKT_HDR;
    s->seq = h[3];
    s->cmd = p[0];
    s->cmd_bytes = len;
    s->cmd_pins_before = s->pins;
    s->cmd_soft_before = s->soft_pin;
    /* the whole command counts, as the server counts it: a first packet of
     * 16 MiB - 1 at or above the limit is refused here, a command that grows
     * past it by its continuation packets in forward_command() */
    if ((uint64_t)len >= (uint64_t)cfg->max_packet_size) {
        log_info("packet_too_large", "conn_id=%u bytes=%u limit=%d", s->id, len,
                 cfg->max_packet_size);
        refuse_command(s, len, &err_too_large, false);
        return false;
    }
    if (s->w->shutting_down && !(s->status & SERVER_STATUS_IN_TRANS) && p[0] != COM_QUIT) {
        drop_packet(s, len);
        s->close_after_write = true;
        session_reply_err(s, 1053, "08S01", "Server shutdown in progress");
        if (s->state != SS_CLOSING && !s->sock.writing) session_close(s, "shutdown");
        return false;
    }
    s->is_use = false;
    s->trk_explainable = false;
    s->infile_ok = false;
    s->n_infile = 0;
    s->synthetic_len = 0;
    s->kq_victim = 0;
    s->kq_gone_ok = false;
    s->kill_after = 0;
    free(s->kb);
    s->kb = NULL;
    s->digest = 0;
    s->pending_schema[0] = 0;
    s->clears_diag = false;
    const char *refused = cmd_refused(s->cmd);
    if (refused) {
        drop_packet(s, len);
        return reply_local_err(s, s->cmd == COM_SHUTDOWN ? 1227 : 1047,
                               s->cmd == COM_SHUTDOWN ? "42000" : "08S01", refused);
    }
    switch (s->cmd) {
    case COM_QUIT:
        session_close(s, "quit");
        return false;
    case COM_PING:
        drop_packet(s, len);
        session_set_state(s, SS_LOCAL);
        if (!session_reply_ok(s)) return false;
        if (s->sock.writing) return false;
        session_set_state(s, SS_IDLE);
        return true;
    case COM_CHANGE_USER:
        if (len > want) {
            static const struct be_error e = {.code = 1047, .sqlstate = "08S01",
                                              .msg = "mymux: COM_CHANGE_USER too large"};
            refuse_command(s, len, &e, true);
            return false;
        }
        drop_packet(s, len);
        session_change_user(s, p, len);
        return false;
    case COM_PROCESS_KILL:
        if (len < 5) {
            drop_packet(s, len);
            return reply_local_err(s, 1047, "08S01", "malformed COM_PROCESS_KILL");
        }
        drop_packet(s, len);
        handle_kill(s, false, rd32(p + 1));
        return s->state == SS_IDLE;
    case COM_STMT_PREPARE:
        if (!stmt_prepare(s, p, len, want)) return false;
        if (!s->prep_ps) return s->state == SS_IDLE;
        s->clears_diag = s->prep_clears_diag; /* preparing opens the tables (test_bug36004) */
        /* a rewrite may have changed its length and moved it */
        h = b->data + b->rpos;
        p = h + PKT_HDR;
        len = want = pkt_len(h);
        break;
    case COM_STMT_EXECUTE:
    case COM_STMT_SEND_LONG_DATA:
    case COM_STMT_FETCH:
    case COM_STMT_RESET:
    case COM_STMT_CLOSE: {
        int rc = stmt_route(s, p, len, want);
        if (rc <= 0) return rc == 0 && s->state == SS_IDLE;
        break;
    }
    case COM_INIT_DB: {
        size_t n = len - 1 < sizeof s->pending_schema - 1 ? len - 1 : sizeof s->pending_schema - 1;
        memcpy(s->pending_schema, p + 1, n);
        s->pending_schema[n] = 0;
        s->trk_explainable = true; /* the server reports the schema it took */
        break;
    }
    case COM_QUERY: {
        struct cls_result *c = &s->w->cls;
        classify_session(s, (const char *)p + 1, want - 1, c);
        const char *refused = kill_refusal(c, false);
        if (refused) { /* its target would be read in the backend's id space */
            drop_packet(s, len);
            return reply_local_err(s, 1105, "HY000", refused);
        }
        if (c->kind == CLS_KILL) {
            drop_packet(s, len);
            if (c->kill_user) handle_kill_user(s, c);
            else handle_kill(s, c->kill_query, c->kill_id);
            return s->state == SS_IDLE;
        }
        if (c->prev_diagnostics && s->diag.held && len == want) {
            int rc = answer_diagnostics(s, (const char *)p + 1, len - 1, len, false);
            if (rc != 0) return rc > 0 && s->state == SS_IDLE;
        }
        if (c->kind == CLS_LOAD_DATA_LOCAL || c->kind == CLS_LOAD_XML_LOCAL) {
            if (!(s->caps & CLIENT_LOCAL_FILES)) {
                drop_packet(s, len);
                return infile_refuse_local(s);
            }
            infile_expect(s, fnv1a(c->arg, c->arg_len) | 1);
        }
        if (c->multi && len == want && infile_names_later(s, (const char *)p + 1, want - 1) &&
            !(s->caps & CLIENT_LOCAL_FILES)) {
            /* refused before anything runs (the server would run the statements
             * before it first): the connection stays usable */
            drop_packet(s, len);
            return infile_refuse_local(s);
        }
        if (c->kind == CLS_USE && !c->multi && c->arg_len < sizeof s->pending_schema) {
            memcpy(s->pending_schema, c->arg, c->arg_len);
            s->pending_schema[c->arg_len] = 0;
            s->is_use = true;
        }
        sstate_on_query(s, c, (char *)p + 1, want - 1, len == want);
        if (!c->prev_diagnostics) s->clears_diag = clears_diagnostics(s, c);
        struct cls_lex lx;
        sstate_lex(s, &lx); /* the classifier's reading, also for the digest */
        s->digest = digest_begin(s->w, (const char *)p + 1, want - 1, &lx,
                                 s->reg ? s->reg->user : s->cred.user, s->schema);
        if (c->prev_last_insert_id) s->reads_insert_id = true;
        /* the text as the client wrote it is classified and digested; the backend
         * gets the values mymux answers for (the packet may grow and move) */
        if (len == want && sstate_rewrite(s, c, false)) {
            h = b->data + b->rpos;
            p = h + PKT_HDR;
            len = want = pkt_len(h);
        }
        s->prev_overwritten = false; /* this statement is the connection's last one now */
        break;
    }
    default:
        sstate_on_command(s, p, want);
        break;
    }
    if (s->cmd >= COM_STMT_PREPARE && s->cmd <= COM_STMT_RESET) sstate_on_command(s, p, want);
    /* forward this packet and any continuation packets */
    s->fwd_left = (uint64_t)len + PKT_HDR;
    s->fwd_cont = len == PKT_MAX_PAYLOAD;
    b->ppos = b->rpos;
    start_backend_command(s);
    return false;
}

/* How long the session may stay idle before mymux closes it (0: for ever):
 * limits.client_idle_timeout, or the session's own wait_timeout if shorter. The
 * server would end a session idle past its wait_timeout; through the pool its
 * backend connection is not the session's, so the client side keeps the rule. */
static uint64_t idle_limit_ms(const struct mx_session *s)
{
    uint64_t idle = (uint64_t)s->w->px->cfg->client_idle_timeout_ms;
    uint64_t own = (uint64_t)s->wait_timeout_s * 1000;
    if (own > 0 && (idle == 0 || own < idle)) idle = own;
    return idle;
}

/* Handles every complete command in the client's buffer while idle. */
static void process_input(struct mx_session *s)
{
    while (s->state == SS_IDLE) {
        struct mx_buf *b = s->sock.in;
        bool skipped = skip_dropped(s);
        if (!skipped && b && buf_empty(b)) b->rpos = b->ppos = b->wpos = 0;
        if (!skipped || !b || b->wpos - b->rpos < PKT_HDR) {
            if (b && buf_empty(b)) sock_release_in(&s->sock);
            else if (b && buf_free_tail(b) < PKT_HDR) buf_compact(b);
            if (s->state == SS_IDLE) {
                sock_read_start(&s->sock);
                uint64_t idle = idle_limit_ms(s);
                if (idle > 0) uv_timer_start(&s->timer, on_timer, idle, 0);
                else uv_timer_stop(&s->timer); /* the last command's deadline */
            }
            return;
        }
        if (!handle_command(s)) {
            if (s->state == SS_IDLE) sock_read_start(&s->sock);
            return;
        }
    }
}

/* ---- forwarding the command ---- */

static void begin_response(struct mx_session *s)
{
    struct mx_backend *be = s->be;
    if (!resp_cmd_has_reply(s->cmd)) {
        stmt_forget_command(s);
        be_set_state(be, BE_ATTACHED);
        session_set_state(s, SS_IDLE);
        if (s->reg) atomic_store(&s->reg->busy, 0);
        process_input(s);
        return;
    }
    resp_begin(&be->resp, s->cmd, (s->caps & CLIENT_DEPRECATE_EOF) != 0);
    be->resp.whole_ok = be->track;
    worker_busy_poll(s->w);
    be->resp.cursor_asked = s->cmd == COM_STMT_EXECUTE && s->exec_cursor;
    if (s->exec_retained && s->sock.in) /* sent, but kept until the answer begins */
        s->sock.in->rpos = s->sock.in->ppos - s->exec_pkt_len;
    s->exec_first = s->cmd == COM_STMT_EXECUTE && s->exec_ps;
    be_set_state(be, BE_RELAY);
    session_set_state(s, SS_RESPONSE);
    s->body_left = 0;
    s->resp_done = false;
    s->last_pkt_done = false;
    s->resp_started = false;
    sock_read_start(&be->sock);
    if (be->sock.in && be->sock.in->wpos > be->sock.in->ppos) relay_response(s);
}


/* The KILL QUERY about to go out names the backend thread its victim was busy
 * on when the KILL came, and meanwhile this session may have waited for a
 * connection. Sent now only if the victim is still busy on that thread: the
 * mark made first keeps the victim on that connection should its statement end
 * before the server runs the KILL, so the KILL can never reach a statement of
 * a session the connection was lent to next. True when it may go out; else the
 * KILL is answered here (an owner's: OK, nothing left to stop; another user's
 * cannot be authorised any more) and the session goes on. */
static bool kill_query_still_due(struct mx_session *s)
{
    struct mx_reg_entry t;
    if (!s->kq_victim) return true;
    uint32_t victim = s->kq_victim;
    s->kq_victim = 0;
    if (registry_mark_kill(s->w->px, victim, mx_now_ms() + KILL_MARK_MS, &t) == 0 &&
        atomic_load(&t.busy) && atomic_load(&t.server) == s->server &&
        atomic_load(&t.backend_tid) == s->kq_tid) {
        s->kq_gone_ok = s->kq_owner;
        return true;
    }
    log_info("kill_query_skipped", "conn_id=%u target=%u (its statement ended)", s->id, victim);
    s->synthetic_len = 0;
    s->kq_victim = 0;
    s->kill_after = 0;
    if (s->reg) atomic_store(&s->reg->busy, 0);
    session_set_state(s, SS_LOCAL);
    if (sstate_can_release(s)) detach_backend(s, false);
    if (s->kq_owner) {
        if (!session_reply_ok(s)) return false;
    } else if (!session_reply_err(s, 1105, "HY000",
                                  "mymux: thread %u left its backend connection before the "
                                  "server could authorise the KILL; try again", victim)) {
        return false;
    }
    if (s->state == SS_LOCAL && !s->sock.writing) {
        session_set_state(s, SS_IDLE);
        process_input(s);
    }
    return false;
}

/* A write to the backend failed: the connection ends through the seam, which
 * tells this session (session_backend_lost). */
static void backend_write_failed(struct mx_backend *be, int rc)
{
    struct be_error e = {.code = 2013, .sqlstate = "HY000"};
    snprintf(e.msg, sizeof e.msg, "lost connection to backend while writing: %s", uv_strerror(rc));
    be_lost(be, &e);
}

/* The owner's KILL QUERY went out while its victim was busy on the thread, but
 * the thread ended before the server ran it: the server answers 1094 Unknown
 * thread id. A server answers a KILL of its own thread atomically, and here the
 * victim's statement is over (for KILL CONNECTION its worker closes it too), so
 * the ERR (whole in the buffer at ppos, body length len) becomes the OK that
 * kill_query_still_due gives when it sees the end first. Seen in lock_kill of
 * MariaDB's suite under load: KILL of a session whose ALTER TABLE ended as its
 * worker closed it. Returns the new body length. */
static uint32_t kill_gone_ok(struct mx_session *s, struct mx_backend *be, struct mx_buf *b,
                             uint32_t len)
{
    uint8_t *pk = b->data + b->ppos, *body = pk + PKT_HDR;
    const uint32_t n = 7; /* OK, 0 rows, no insert id, status, no warnings */
    memmove(body + n, body + len, b->wpos - (b->ppos + PKT_HDR + len));
    b->wpos -= len - n;
    body[0] = 0;
    body[1] = body[2] = 0;
    body[3] = (uint8_t)s->status;
    body[4] = (uint8_t)(s->status >> 8);
    body[5] = body[6] = 0;
    pk[0] = (uint8_t)n;
    pk[1] = pk[2] = 0;
    be->resp.error = false;
    be->resp.err_code = 0;
    be->resp.ok_seen = true;
    be->resp.affected = 0;
    be->diag_dirty = true; /* the server's diagnostics area holds the 1094 */
    log_info("kill_query_thread_gone", "conn_id=%u backend_thread=%u", s->id, be->thread_id);
    return n;
}

/* Sends the client's bytes of the current command (or LOCAL INFILE data) to the backend. */
static void forward_command(struct mx_session *s)
{
    struct mx_backend *be = s->be;
    if (s->state != SS_DISCARD && (!be || be->sock.writing)) return;
    if (s->kb && s->state != SS_DISCARD) {
        kill_batch_send(s);
        return;
    }
    if (s->synthetic_len && !kill_query_still_due(s)) return;
    if (s->synthetic_len) { /* a command mymux wrote itself instead of the client's */
        struct mx_buf *o = sock_out(&be->sock);
        if (!o) {
            session_fail(s, 1041, "HY000", "Out of memory");
            return;
        }
        struct pkt_wr w;
        pkt_wr_init(&w, o->data + o->wpos, o->cap - o->wpos);
        pkt_command(&w, COM_QUERY, s->synthetic, s->synthetic_len);
        o->wpos += (uint32_t)w.pos;
        s->synthetic_len = 0;
        s->out_cmd_ready = true;
    }
    if (s->out_cmd_ready) { /* the command is in the backend's output, not the client's buffer */
        s->out_cmd_ready = false;
        session_set_state(s, SS_FORWARD);
        int rc = sock_flush_out(&be->sock);
        if (rc < 0) {
            backend_write_failed(be, rc);
            return;
        }
        begin_response(s);
        return;
    }
    struct mx_buf *b = s->sock.in;
    for (;;) {
        if (!b) break;
        /* take as much of the current packet as has arrived */
        if (s->fwd_left) {
            uint64_t n = b->wpos - b->ppos;
            if (n > s->fwd_left) n = s->fwd_left;
            b->ppos += (uint32_t)n;
            s->fwd_left -= n;
        }
        if (s->fwd_left == 0 && s->fwd_cont && b->wpos - b->ppos >= PKT_HDR) {
            const uint8_t *hdr = b->data + b->ppos;
            uint32_t len = pkt_len(hdr);
            bool infile = s->state == SS_INFILE || s->discard_infile;
            if (!infile) { /* LOCAL INFILE data is no command packet */
                s->cmd_bytes += len;
                if (s->state != SS_DISCARD &&
                    s->cmd_bytes >= (uint64_t)s->w->px->cfg->max_packet_size &&
                    !command_too_large(s))
                    return;
            }
            if (s->state == SS_DISCARD) s->seq = hdr[3]; /* the error follows the last packet */
            s->fwd_left = (uint64_t)len + PKT_HDR;
            if (infile) s->fwd_cont = len != 0;
            else s->fwd_cont = len == PKT_MAX_PAYLOAD;
            continue;
        }
        if (b->ppos > b->rpos && s->state == SS_DISCARD) {
            b->rpos = b->ppos;
        } else if (b->ppos > b->rpos) {
            uint32_t nbytes = b->ppos - b->rpos;
            HOT_ADD(s->w->hot->proc.bytes_in, nbytes);
            HOT_ADD(s->w->hot->srv[be->pool->server].bytes_to_backend, nbytes);
            struct mx_user_hot *uh = user_hot(s);
            if (uh) HOT_ADD(uh->bytes_in, nbytes);
            s->log_bytes_in += nbytes;
            int rc = sock_write(&be->sock, b->data + b->rpos, b->ppos - b->rpos);
            if (rc < 0) {
                backend_write_failed(be, rc);
                return;
            }
            if (rc == 1) {
                sock_read_stop(&s->sock); /* backpressure: the write holds our buffer */
                return;
            }
            b->rpos = b->ppos;
        }
        break;
    }
    if (s->fwd_left == 0 && !s->fwd_cont) {
        if (s->state == SS_DISCARD) {
            discard_done(s);
            return;
        }
        if (s->state == SS_INFILE) { /* the empty packet went out: the answer follows */
            resp_infile_done(&be->resp);
            session_set_state(s, SS_RESPONSE);
            s->last_pkt_done = false;
            be_set_state(be, BE_RELAY);
            sock_read_start(&be->sock);
            relay_response(s);
            return;
        }
        begin_response(s);
        return;
    }
    /* more client bytes are needed */
    if (b && buf_empty(b)) {
        b->rpos = b->ppos = b->wpos = 0;
    } else if (b && buf_free_tail(b) == 0) {
        buf_compact(b);
    }
    sock_read_start(&s->sock);
}

void session_on_backend_drain(struct mx_session *s, struct mx_backend *be)
{
    if (!s) return;
    session_check(s);
    if (s->state == SS_FORWARD || s->state == SS_DISCARD || s->state == SS_INFILE) {
        struct mx_buf *b = s->sock.in;
        if (b) b->rpos = b->ppos;
        forward_command(s);
    }
}

/* ---- streaming the answer ---- */

static void finish_command(struct mx_session *s)
{
    struct mx_backend *be = s->be;
    struct mx_resp *r = &be->resp;
    be_set_state(be, BE_ATTACHED);
    struct mx_proxy *px = s->w->px;
    struct mx_server *sv = &px->servers[be->pool->server];
    struct mx_hot *hot = s->w->hot;
    struct mx_srv_hot *sh = &hot->srv[be->pool->server];
    struct mx_user_hot *uh = user_hot(s);
    uint64_t us = mx_now_us() - s->cmd_started_us;
    HOT_ADD(hot->proc.queries, 1);
    HOT_ADD(sh->queries, 1);
    if (uh) HOT_ADD(uh->queries, 1);
    s->log_queries++;
    if (s->digest) digest_end(s->w, s->digest, us, r->rows ? r->rows : r->affected, r->error);
    s->digest = 0;
    if (atomic_load_explicit(&sv->timeouts_in_row, memory_order_relaxed))
        atomic_store_explicit(&sv->timeouts_in_row, 0, memory_order_relaxed);
    if (r->error) {
        HOT_ADD(hot->proc.errors, 1);
        HOT_ADD(sh->errors, 1);
        if (uh) HOT_ADD(uh->errors, 1);
    }
    /* response time, weighted 1/8 for the newest (leastlatency): this worker's
     * own average, published to the server's at most once per loop millisecond
     * and only when it moved by more than 1/16, so that the workers do not all
     * write that line at every query */
    uint64_t old = sh->ewma_us, avg = old ? old - old / 8 + us / 8 : us + 1;
    sh->ewma_us = avg;
    uint64_t pub = atomic_load_explicit(&sv->ewma_us, memory_order_relaxed);
    uint64_t now_ms = uv_now(&s->w->loop);
    if (!pub || (now_ms != sh->ewma_pub_ms && (avg > pub + pub / 16 || avg + pub / 16 < pub))) {
        sh->ewma_pub_ms = now_ms;
        atomic_store_explicit(&sv->ewma_us, avg, memory_order_relaxed);
    }
    if (s->reg) atomic_store(&s->reg->busy, 0);
    bool was_in_trx = (s->status & SERVER_STATUS_IN_TRANS) != 0;
    /* More-results describes the answer in flight, not the session after it:
     * an answer that ends in ERR (a procedure's error after its result sets)
     * leaves the last terminator's flag, which mymux's own answers (SHOW
     * WARNINGS) must not repeat, or the client waits for a result that never comes */
    if (r->has_status)
        s->status = be->status =
            r->status & (uint16_t)~(SERVER_SESSION_STATE_CHANGED | SERVER_MORE_RESULTS_EXISTS);
    /* a transaction is a pin too, counted once per transaction the server opened */
    if (!was_in_trx && (s->status & SERVER_STATUS_IN_TRANS))
        HOT_ADD(hot->proc.pins[__builtin_ctz(CLS_PIN_TRX)], 1);
    if (!r->error && s->pending_schema[0]) {
        snprintf(s->schema, sizeof s->schema, "%s", s->pending_schema);
        snprintf(be->schema, sizeof be->schema, "%s", s->pending_schema);
        be->schema_unknown = false;
    }
    if (r->db_dropped) {
        /* DROP DATABASE of the current schema: the server now has none (every
         * server says so in this flag, trackers or not), unless a USE later in
         * the same text moved it (then the trackers tell, or nobody knows) */
        if (!s->schema_moved) s->schema[0] = 0;
        be->schema[0] = 0;
        be->schema_unknown = s->schema_moved;
    }
    s->pending_schema[0] = 0;
    if (s->cmd == COM_STMT_EXECUTE && r->error && s->exec_ps) {
        struct mx_bstmt *bs = bstmts_get(&be->stmts, s->exec_ps);
        if (bs) bs->types_hash = 0; /* unknown what the server kept */
    }
    /* any statement may reach a routine or trigger that takes a user lock,
     * which no tracker reports; a failed one may have taken it before failing */
    if (s->cmd == COM_QUERY || s->cmd == COM_STMT_EXECUTE) s->lock_doubt = true;
    stmt_finish(s, r);
    stmt_forget_command(s);
    sstate_on_finish(s, r);
    if (be->broken) { /* not to be trusted with another command: its conditions are lost */
        answered_backend_lost(s);
        return;
    }
    /* The conditions a statement raised are read now, while the connection is
     * still the session's, so that it can go back at once: the session answers
     * the readers itself from then on (answer_diagnostics). A connection the
     * session keeps for good holds its own diagnostics area: the server answers
     * every reader there, GET DIAGNOSTICS too, and nothing of mymux's runs in
     * between (no row counter, ROW_COUNT() or FOUND_ROWS() of its statements). */
    if (r->warnings || r->error) {
        bool kept = diag_stays_on_server(s);
        if (!kept && fetch_diagnostics(s, be) == 0) return;
        if (kept) diag_clear(&s->diag); /* the readers go to the server */
        be->diag_dirty = true; /* not read: a reset clears them before anyone else */
    } else if (s->clears_diag) {
        diag_clear(&s->diag);
    }
    finish_answer(s);
}

/* The statement's diagnostics are dealt with: the insert id is made sure of
 * (on a connection the session keeps for good the server answers LAST_INSERT_ID()
 * itself), then the connection may go (finish_release). */
static void finish_answer(struct mx_session *s)
{
    if (s->insert_id_unsure && !diag_stays_on_server(s) && insert_id_fetch(s, s->be) == 0)
        return;
    finish_release(s);
}

/* The server's LAST_INSERT_ID() right after the statement: the OK's insert id
 * if the statement generated it, else what the connection held before, which
 * is another session's on a shared connection: the session's own stands then.
 * (An explicit value equal to what the connection held reads as generated.) */
static void on_insert_id_row(void *arg, int idx, const uint8_t *p, size_t len)
{
    struct mx_session *s = arg;
    uint64_t v;
    if (idx == 0 && diag_read_uint_row(p, len, &v) == 0) {
        if (v != s->last_insert_id) s->last_insert_id = s->insert_id_before;
        s->insert_id_unsure = false;
    }
}

static void insert_id_done(struct mx_backend *be, int err, const struct be_error *e)
{
    (void)e;
    struct mx_session *s = internal_owner(be);
    if (!s) return;
    if (s->insert_id_unsure) /* not answered: the OK's value stands */
        log_debug("insert_id_unread", "conn_id=%u", s->id);
    s->insert_id_unsure = false;
    if (err && be->broken) {
        answered_backend_lost(s);
        return;
    }
    finish_release(s);
}

/* Starts the n internal commands written on be that read what the session's
 * statement left (their rows go to row_cb), in SS_DIAG: they change FOUND_ROWS()
 * and ROW_COUNT() there, which the session answers from then on. A failure to
 * write reports through done. */
static void run_session_reads(struct mx_session *s, struct mx_backend *be, int n,
                              void (*row_cb)(void *, int, const uint8_t *, size_t),
                              be_done_cb done)
{
    s->prev_overwritten = true;
    be->row_cb = row_cb;
    be->row_arg = s;
    session_set_state(s, SS_DIAG);
    (void)be_run_internal(be, n, done);
}

/* Asks be the server's LAST_INSERT_ID() (it also sets FOUND_ROWS() and
 * ROW_COUNT() there, which the session answers from then on); 0 on success. */
static int insert_id_fetch(struct mx_session *s, struct mx_backend *be)
{
    if (be->broken || be->iq_n) return -1;
    struct mx_buf *o = sock_out(&be->sock);
    if (!o) return -1;
    static const char q[] = "SELECT LAST_INSERT_ID()";
    struct pkt_wr w;
    pkt_wr_init(&w, o->data + o->wpos, o->cap - o->wpos);
    pkt_command(&w, COM_QUERY, q, sizeof q - 1);
    if (w.bad) return -1;
    o->wpos += (uint32_t)w.pos;
    be_expect_rows(be, 1);
    run_session_reads(s, be, 1, on_insert_id_row, insert_id_done);
    return 0;
}

/* Whether the session keeps its connection until a reset, or for good
 * (multiplexing off, a server that stays up): then the server's own
 * diagnostics area is the session's. A transaction or a soft pin ends, and the
 * connection goes back then with conditions mymux has not read. */
static bool diag_stays_on_server(const struct mx_session *s)
{
    const struct mx_server *sv = &s->w->px->servers[s->be->pool->server];
    if (atomic_load(&sv->state) != SRV_UP) return false;
    return s->pins || !s->w->px->cfg->pool_multiplex;
}

/* The session an internal command ran for, or NULL when it has gone meanwhile
 * (the connection then goes back to the pool). */
static struct mx_session *internal_owner(struct mx_backend *be)
{
    struct mx_session *s = be->session;
    if (!s) pool_release(be);
    return s;
}

/* The connection broke under mymux's own command after the statement's
 * answer went to the client: the session goes on without it. */
static void answered_backend_lost(struct mx_session *s)
{
    if (!drop_dead_backend(s)) return;
    session_set_state(s, SS_IDLE);
    process_input(s);
}

/* The answer to the diagnostics fetch is in (or the connection is gone). */
static void diag_done(struct mx_backend *be, int err, const struct be_error *e)
{
    (void)e;
    struct mx_session *s = internal_owner(be);
    if (!s) return;
    if (err && be->broken) {
        /* the statement's answer is with the client; its conditions are lost */
        answered_backend_lost(s);
        return;
    }
    if (err) be->diag_dirty = true; /* the server's area holds what mymux did not read */
    finish_answer(s);
}

static void on_diag_row(void *arg, int idx, const uint8_t *p, size_t len)
{
    struct mx_session *s = arg;
    int rc = idx == 0   ? diag_set_counts(&s->diag, p, len, &s->last_found_rows,
                                          &s->last_row_count)
             : idx == 1 ? diag_add_row(&s->diag, p, len)
                        : 0;
    if (rc != 0) log_debug("diagnostics_row_dropped", "conn_id=%u", s->id);
}

/* Writes the diagnostics fetch (diag.h) on be and starts it; 0 on success. */
static int fetch_diagnostics(struct mx_session *s, struct mx_backend *be)
{
    if (be->broken || be->iq_n) return -1;
    struct mx_buf *o = sock_out(&be->sock);
    if (!o) return -1;
    static const char *const q[] = {DIAG_FETCH_COUNTS, DIAG_FETCH_LIST, DIAG_FETCH_CLEAR};
    struct pkt_wr w;
    pkt_wr_init(&w, o->data + o->wpos, o->cap - o->wpos);
    for (size_t i = 0; i < sizeof q / sizeof q[0]; i++) {
        pkt_command(&w, COM_QUERY, q[i], strlen(q[i]));
    }
    if (w.bad) return -1;
    o->wpos += (uint32_t)w.pos;
    be_expect_rows(be, 4);
    be_expect_rows(be, 3);
    be_expect(be, COM_QUERY, NULL);
    diag_clear(&s->diag);
    s->diag.held = true;
    run_session_reads(s, be, 3, on_diag_row, diag_done);
    return 0;
}

/* Answers a diagnostics reader from what the session holds. Returns 1 when
 * answered (the packet consumed), 0 when it is not a form mymux answers, -1 when
 * the session failed. */
static int answer_diagnostics(struct mx_session *s, const char *sql, size_t n, uint32_t len,
                              bool binary)
{
    struct diag_query q;
    diag_parse_query(sql, n, &q);
    if (q.kind == DQ_NONE) return 0;
    drop_packet(s, len);
    session_set_state(s, SS_LOCAL);
    struct pkt_wr w = out_writer(s);
    if (diag_write_answer(&w, (uint8_t)(s->seq + 1), &s->diag, &q, s->charset,
                          (s->caps & CLIENT_DEPRECATE_EOF) != 0, s->status, binary) != 0) {
        session_fail(s, 1105, "HY000", "mymux: diagnostics answer too large");
        return -1;
    }
    out_commit(s, &w);
    /* what the server's ROW_COUNT() and FOUND_ROWS() say after such a reader:
     * -1 after any result set; a one-row count or SELECT is found rows */
    s->last_row_count = -1;
    if (q.kind != DQ_LIST_WARNINGS && q.kind != DQ_LIST_ERRORS) s->last_found_rows = 1;
    if (!session_flush(s)) return -1;
    if (!s->sock.writing) session_set_state(s, SS_IDLE);
    return 1;
}

/* backends[].lock_check: MariaDB's trackers report no GET_LOCK(), and a lock
 * taken inside a stored function reached through a view, or by a trigger, is
 * not in the statement's text either. Where the server has the
 * metadata_lock_info plugin it can say: before a connection goes back, the
 * session asks how many user locks its connection holds, and keeps the
 * connection (pinned, as for a GET_LOCK it can see) if any, or if the server
 * cannot answer. */
#define LOCK_CHECK_QUERY                                                                  \
    "SELECT COUNT(*) FROM information_schema.METADATA_LOCK_INFO "                         \
    "WHERE THREAD_ID = CONNECTION_ID() AND LOCK_TYPE = 'User lock'"

static bool lock_check_on(const struct mx_session *s, const struct mx_backend *be)
{
    const struct mx_config *cfg = s->w->px->cfg;
    return (size_t)be->pool->server < cfg->n_backends &&
           cfg->backends[be->pool->server].lock_check;
}

static void on_lock_row(void *arg, int idx, const uint8_t *p, size_t len)
{
    struct mx_session *s = arg;
    /* one row, one column: the count as a length-encoded string */
    if (idx == 0) s->locks_held = !(len == 2 && p[0] == 1 && p[1] == '0');
}

static void locks_done(struct mx_backend *be, int err, const struct be_error *e)
{
    struct mx_session *s = internal_owner(be);
    if (!s) return;
    if (err && be->broken) { /* gone, and whatever it held with it */
        if (!drop_dead_backend(s)) return;
        s->lock_doubt = false;
        session_set_state(s, SS_IDLE);
        process_input(s);
        return;
    }
    s->lock_doubt = false;
    if (err || s->locks_held) {
        if (err)
            log_warn("lock_check_failed", "conn_id=%u backend=%s code=%u msg=\"%s\"", s->id,
                     s->w->px->cfg->backends[be->pool->server].name, e ? e->code : 0,
                     e ? e->msg : "");
        sstate_count_pins(s, CLS_PIN_GET_LOCK);
        s->pins |= CLS_PIN_GET_LOCK;
    }
    finish_release(s);
}

/* Writes the user-lock question on be and starts it; 0 on success. */
static int check_user_locks(struct mx_session *s, struct mx_backend *be)
{
    if (be->broken || be->iq_n) return -1;
    struct mx_buf *o = sock_out(&be->sock);
    if (!o) return -1;
    struct pkt_wr w;
    pkt_wr_init(&w, o->data + o->wpos, o->cap - o->wpos);
    if (pkt_command(&w, COM_QUERY, LOCK_CHECK_QUERY, sizeof LOCK_CHECK_QUERY - 1) != 0) return -1;
    o->wpos += (uint32_t)w.pos;
    be_expect_rows(be, 1);
    s->locks_held = true; /* until a row says otherwise */
    be->row_cb = on_lock_row;
    be->row_arg = s;
    session_set_state(s, SS_DIAG);
    (void)be_run_internal(be, 1, locks_done); /* a failure to write reports there */
    return 0;
}

/* The rest of finishing a command: give the connection back if the session
 * holds nothing on it, then go on with the client's next command. */
static void finish_release(struct mx_session *s)
{
    struct mx_backend *be = s->be;
    struct mx_resp *r = &be->resp;
    struct mx_server *sv = &s->w->px->servers[be->pool->server];
    /* a server going away (down, draining, maintenance) is left at the first
     * clean point even without multiplexing */
    bool leaving = atomic_load(&sv->state) != SRV_UP;
    bool release = sstate_can_release(s) || (leaving && sstate_is_clean(s));
    /* a KILL QUERY for the statement that just ended may still be on its way:
     * the connection stays this session's until its next command at least */
    uint64_t kill_until = release && s->reg ? atomic_load(&s->reg->kill_until_ms) : 0;
    if (kill_until && mx_now_ms() < kill_until) { /* the clock only when a KILL marked it */
        log_debug("kill_mark_keeps_connection", "conn_id=%u", s->id);
        release = false;
    }
    if (release && s->lock_doubt && lock_check_on(s, be)) {
        if (check_user_locks(s, be) == 0) return; /* locks_done comes back here */
        sstate_count_pins(s, CLS_PIN_GET_LOCK); /* cannot ask: the doubt pins */
        s->pins |= CLS_PIN_GET_LOCK;
        s->lock_doubt = false;
        release = false;
    }
    s->soft_pin = false;
    struct mx_reg_entry t;
    if (s->kill_after && !r->error && registry_get(s->w->px, s->kill_after, &t) == 0 &&
        !worker_post_kill(&s->w->px->workers[t.worker], s->kill_after, -1, 0))
        log_warn("kill_queue_full", "conn_id=%u target=%u", s->id, s->kill_after);
    s->kill_after = 0;
    session_set_state(s, SS_IDLE);
    struct mx_buf *bb = be->sock.in;
    if (bb && buf_empty(bb)) sock_release_in(&be->sock);
    if (release) detach_backend(s, false);
    if (s->w->shutting_down && !(s->status & SERVER_STATUS_IN_TRANS) && !s->sock.in) {
        /* its transaction is done and nothing else is queued: goodbye */
        s->close_after_write = true;
        session_reply_err(s, 1053, "08S01", "Server shutdown in progress");
        return;
    }
    process_input(s);
}

/* LOCAL INFILE asked by the server: allowed only for a file a statement of the
 * text named. */
static bool infile_allowed(struct mx_session *s, const struct mx_resp *r)
{
    if (!s->infile_ok || !(s->caps & CLIENT_LOCAL_FILES)) return false;
    uint64_t h = fnv1a(r->infile_name, r->infile_len) | 1;
    for (int i = 0; i < s->n_infile; i++)
        if (s->infile_hash[i] == h) return true;
    return false;
}

/* Forgets the server statement of the EXECUTE in flight on be (closed with
 * be's next write), so that the next use prepares it again. */
static void stmt_drop_on_backend(struct mx_session *s, struct mx_backend *be)
{
    struct mx_bstmt *bs = bstmts_get(&be->stmts, s->exec_ps);
    if (!bs) return;
    be_close_stmt_later(be, bs->backend_id);
    bstmts_del(&be->stmts, &s->w->pcache, s->exec_ps);
}

/* The retained EXECUTE is sent again after a fresh COM_STMT_PREPARE of its
 * text; the old server statement is closed. Once per EXECUTE. */
static void stmt_reprepare(struct mx_session *s, struct mx_backend *be)
{
    s->exec_retried = true;
    stmt_drop_on_backend(s, be);
    STAT_ADD(s->w->px->servers[be->pool->server].reprepares, 1);
    log_info("reprepare", "conn_id=%u backend_thread=%u", s->id, be->thread_id);
    struct mx_buf *ib = s->sock.in;
    ib->ppos = ib->rpos;
    s->fwd_left = s->exec_pkt_len;
    s->fwd_cont = false;
    be_set_state(be, BE_ATTACHED);
    session_set_state(s, SS_SYNC);
    sync_and_go(s);
}

static void relay_response(struct mx_session *s)
{
    struct mx_backend *be = s->be;
    if (!be || s->sock.writing) return;
    struct mx_buf *b = be->sock.in;
    bool infile = false, refused = false, bad = false;
    uint8_t refused_seq = 0;
    while (b && !s->resp_done) {
        if (s->body_left) {
            uint64_t n = b->wpos - b->ppos;
            if (n > s->body_left) n = s->body_left;
            b->ppos += (uint32_t)n;
            s->body_left -= n;
            if (s->body_left) break;
            if (s->last_pkt_done) s->resp_done = true; /* the final packet has passed */
            continue;
        }
        uint32_t avail = b->wpos - b->ppos;
        if (avail < PKT_HDR) break;
        uint32_t len = pkt_len(b->data + b->ppos);
        uint32_t got = avail - PKT_HDR < len ? avail - PKT_HDR : len;
        size_t need = 0;
        int rc = resp_feed(&be->resp, len, b->data + b->ppos + PKT_HDR, got, &need);
        if (rc == RESP_NEED) {
            if (need + PKT_HDR > b->cap) {
                be->broken = true;
                session_fail(s, 1105, "HY000", "mymux: backend packet header too large");
                return;
            }
            break;
        }
        if (rc == RESP_BAD) { /* what was accepted goes out first, then the error */
            bad = true;
            break;
        }
        if (rc == RESP_INFILE) {
            if (!infile_allowed(s, &be->resp)) {
                /* the packets before the request go out first; the error takes
                 * the request's place and number */
                log_warn("infile_refused", "conn_id=%u", s->id);
                be->broken = true;
                refused = true;
                refused_seq = b->data[b->ppos + 3];
                break;
            }
            infile = true;
        }
        if (be->resp.term != RESP_TERM_NONE && be->track) {
            /* the trackers' report, taken out of what the client sees */
            int nl = sstate_track_packet(s, b->data + b->ppos + PKT_HDR, len, be->resp.term);
            if (nl < 0 || got != len) {
                log_warn("backend_protocol_error", "conn_id=%u bad session tracker data", s->id);
                be->broken = true;
                session_close(s, "backend_protocol_error");
                return;
            }
            if ((uint32_t)nl != len) {
                uint8_t *pk = b->data + b->ppos;
                memmove(pk + PKT_HDR + nl, pk + PKT_HDR + len, b->wpos - (b->ppos + PKT_HDR + len));
                b->wpos -= len - (uint32_t)nl;
                len = got = (uint32_t)nl;
                pk[0] = (uint8_t)len;
                pk[1] = (uint8_t)(len >> 8);
                pk[2] = (uint8_t)(len >> 16);
            }
        }
        if (s->kq_gone_ok) {
            s->kq_gone_ok = false;
            if (rc == RESP_DONE && got == len && len >= 7 && b->data[b->ppos + PKT_HDR] == 0xff &&
                rd16(b->data + b->ppos + PKT_HDR + 1) == 1094)
                len = got = kill_gone_ok(s, be, b, len);
        }
        if (s->exec_first) { /* the first packet of an EXECUTE's answer */
            s->exec_first = false;
            bool retained = s->exec_retained;
            s->exec_retained = false;
            bool reprepare = len > 0 && got == len && got >= 3 &&
                             b->data[b->ppos + PKT_HDR] == 0xff &&
                             rd16(b->data + b->ppos + PKT_HDR + 1) == 1615;
            if (reprepare && retained && !s->exec_retried) {
                /* ER_NEED_REPREPARE: prepare again on this connection, send it again */
                b->ppos += PKT_HDR + got;
                b->rpos = b->ppos;
                stmt_reprepare(s, be);
                return;
            }
            if (reprepare) /* twice: the client gets it; the next EXECUTE prepares anew */
                stmt_drop_on_backend(s, be);
            if (retained) s->sock.in->rpos = s->sock.in->ppos; /* the EXECUTE's bytes are done */
        }
        if (s->prep_ps && !s->prep_patched && be->resp.cmd == COM_STMT_PREPARE &&
            be->resp.stmt_id && got >= 5)
            stmt_prepared(s, be, b->data + b->ppos + PKT_HDR);
        s->resp_seq = b->data[b->ppos + 3];
        s->resp_cont = len == PKT_MAX_PAYLOAD;
        b->ppos += PKT_HDR + got;
        s->body_left = len - got;
        /* the answer ends with this packet, once its body has passed too */
        s->last_pkt_done = rc == RESP_DONE;
        if (rc == RESP_DONE && s->body_left == 0) s->resp_done = true;
        if (infile) break;
    }
    /* the server is done with the statement: a KILL from a client that has read
     * this answer finds the session idle (closed at once), not busy (the backend's
     * KILL QUERY, answered before the victim's worker gets to close it) */
    if (s->resp_done && s->reg) atomic_store(&s->reg->busy, 0);
    if (b && b->ppos > b->rpos) {
        s->resp_started = true;
        uint32_t nbytes = b->ppos - b->rpos;
        HOT_ADD(s->w->hot->proc.bytes_out, nbytes);
        HOT_ADD(s->w->hot->srv[be->pool->server].bytes_from_backend, nbytes);
        struct mx_user_hot *uh = user_hot(s);
        if (uh) HOT_ADD(uh->bytes_out, nbytes);
        s->log_bytes_out += nbytes;
        int rc = sock_write(&s->sock, b->data + b->rpos, b->ppos - b->rpos);
        if (rc < 0) {
            be->broken = true;
            session_close(s, "client_write_error");
            return;
        }
        if (rc == 1) {
            sock_read_stop(&be->sock); /* backpressure: the client is slow */
            if (bad) goto bad;
            if (refused) goto refuse;
            if (infile) {
                session_set_state(s, SS_INFILE);
                be_set_state(be, BE_ATTACHED);
            }
            return;
        }
        b->rpos = b->ppos;
    }
    if (bad) goto bad;
    if (refused) goto refuse;
    if (infile || s->state == SS_INFILE) {
        /* the client now sends the file, then an empty packet */
        session_set_state(s, SS_INFILE);
        be_set_state(be, BE_ATTACHED);
        /* reads go on: a server that stops the statement answers (or closes)
         * while the file still comes, and would wait on a full socket for good */
        sock_read_start(&be->sock);
        s->fwd_left = 0;
        s->fwd_cont = true;
        if (s->sock.in) s->sock.in->ppos = s->sock.in->rpos;
        forward_command(s);
        return;
    }
    if (s->resp_done && s->body_left == 0) {
        if (b && b->wpos > b->ppos) {
            /* more than the answer: the server is out of step with mymux (a stray
             * packet, such as an answer to a COM_STMT_CLOSE, which has none). The
             * answer is whole and with the client; the connection is given up
             * (finish_command), the session goes on unless its state was there. */
            log_warn("backend_protocol_error",
                     "conn_id=%u extra bytes after an answer; the connection is given up", s->id);
            be->broken = true;
        }
        finish_command(s);
        return;
    }
    if (b) {
        if (buf_empty(b)) b->rpos = b->ppos = b->wpos = 0;
        else if (buf_free_tail(b) < RESP_PEEK + PKT_HDR) buf_compact(b);
    }
    sock_read_start(&be->sock);
    return;
bad:
    log_warn("backend_protocol_error", "conn_id=%u backend_thread=%u cmd=%u", s->id,
             be->thread_id, s->cmd);
    be->broken = true;
    {
        struct be_error e = {.code = 1105, .sqlstate = "HY000"};
        snprintf(e.msg, sizeof e.msg, "mymux: malformed answer from the backend server");
        fail_answer(s, &e, "backend_protocol_error");
    }
    return;
refuse:
    /* the server waits for a file on a connection now broken; a server that
     * asks for what nobody named is not trusted with the session either */
    s->seq = (uint8_t)(refused_seq - 1);
    session_fail(s, 1148, "42000", "mymux: the server asked for a file the statement did not name");
}

void session_on_backend_data(struct mx_session *s, struct mx_backend *be)
{
    if (!s) return;
    session_check(s);
    if (s->state == SS_RESPONSE) {
        relay_response(s);
        return;
    }
    /* data from a backend while no answer is expected: only an error can come
     * unasked (the server closing the connection); give it up */
    if (s->state == SS_FORWARD && be->sock.in) {
        /* an early answer (e.g. packet too large): let the relay handle it */
        resp_begin(&be->resp, s->cmd, (s->caps & CLIENT_DEPRECATE_EOF) != 0);
        be->resp.whole_ok = be->track;
        be->resp.cursor_asked = s->cmd == COM_STMT_EXECUTE && s->exec_cursor;
        be_set_state(be, BE_RELAY);
        session_set_state(s, SS_RESPONSE);
        s->fwd_left = 0;
        s->fwd_cont = false;
        s->body_left = 0;
        s->resp_done = s->last_pkt_done = false;
        relay_response(s);
        return;
    }
    if (s->state == SS_INFILE && be->sock.in) {
        /* the server answers before the file ended: it stopped the statement
         * (its thread killed, the server going away), since a statement that
         * fails otherwise reads the whole file first. The rest of the file is
         * read and dropped, then the client gets the server's error. */
        struct mx_buf *b = be->sock.in;
        struct be_error e = {.code = 2013, .sqlstate = "HY000"};
        snprintf(e.msg, sizeof e.msg, "mymux: the backend server ended the LOAD DATA early");
        uint32_t avail = b->wpos - b->rpos;
        if (avail >= PKT_HDR && pkt_len(b->data + b->rpos) <= avail - PKT_HDR &&
            b->data[b->rpos + PKT_HDR] == 0xff)
            be_error_from_err(&e, b->data + b->rpos + PKT_HDR, pkt_len(b->data + b->rpos));
        log_warn("infile_answered_early", "conn_id=%u backend_thread=%u code=%u", s->id,
                 be->thread_id, e.code);
        fail_answer(s, &e, "backend_answered_early");
        return;
    }
    sock_read_stop(&be->sock);
}

/* Where a column definition is due, an error cannot come yet: PyMySQL parses
 * whatever packet comes there as a definition. The definitions still due are
 * sent (nameless, of type NULL) with the EOF after them, so that the error takes
 * the place of the first row, where every client reads a server's. False when
 * they do not fit in the output buffer with room left for the error. */
static bool pad_definitions(struct mx_session *s, const struct mx_resp *r)
{
    if (r->state != RS_COLDEFS && r->state != RS_COLDEF_EOF) return true;
    struct mx_buf *o = sock_out(&s->sock);
    if (!o || o->cap - o->wpos < 1024) return false;
    struct pkt_wr w;
    pkt_wr_init(&w, o->data + o->wpos, o->cap - o->wpos - 1024);
    uint8_t seq = s->resp_seq;
    for (uint64_t i = r->state == RS_COLDEFS ? r->left : 0; i > 0 && !w.bad; i--)
        pkt_coldef(&w, ++seq, "?", 1, 63 /* binary */, 0, 6 /* NULL */, 0, 0);
    if (!r->deprecate_eof)
        pkt_eof(&w, ++seq, 0, (uint16_t)(s->status & ~SERVER_MORE_RESULTS_EXISTS));
    if (w.bad) return false;
    o->wpos += (uint32_t)w.pos;
    s->resp_seq = seq;
    return true;
}

/* The answer to the command in flight cannot be completed: the backend was
 * lost, missed the deadline or broke the protocol, and its connection is given
 * up. Before any of the answer reached the client, the statement fails with e
 * and a session that held nothing on that connection goes on (the next
 * statement borrows elsewhere); one that held state ends after the error.
 * After part of it, the session ends, but first gets e in place of the next
 * packet where the client is between packets, as a server stopping a query
 * mid-result (KILL QUERY, max_statement_time) sends it: libmariadb, PyMySQL
 * and the other drivers read an ERR wherever a definition or row is due. */
static void fail_answer(struct mx_session *s, const struct be_error *e, const char *why)
{
    struct mx_backend *be = s->be;
    if (be) be->broken = true;
    if (s->exec_retained) { /* an EXECUTE kept for a second try: it is answered now */
        s->exec_retained = false;
        if (s->sock.in) s->sock.in->rpos = s->sock.in->ppos;
    }
    if (s->state == SS_DIAG) { /* the client has the whole answer: nothing more fits */
        detach_backend(s, true);
        session_close(s, why);
        return;
    }
    if (s->state == SS_INFILE) {
        /* The client is sending its file and reads nothing until the end: the
         * rest is read and dropped, then it gets the error, and the session
         * goes on unless it held state on the connection (the server rolled
         * the statement back with it). */
        bool ends = !sstate_is_clean(s) || (s->status & SERVER_STATUS_IN_TRANS);
        detach_backend(s, true);
        s->discard_infile = true;
        if (!discard_begin(s, e)) return;
        if (ends) s->close_after_write = true;
        forward_command(s);
        return;
    }
    bool held = !sstate_is_clean(s) || (s->status & SERVER_STATUS_IN_TRANS);
    if (!(s->resp_started && s->state == SS_RESPONSE)) {
        detach_backend(s, true);
        if (held) {
            session_fail(s, e->code, e->sqlstate, e->msg); /* its server state is gone */
            return;
        }
        fail_command(s, e);
        return;
    }
    /* inside a packet no error fits in the stream */
    if (s->body_left || s->resp_cont || !be || !pad_definitions(s, &be->resp)) {
        session_close(s, why);
        return;
    }
    /* a relay write still in flight reads the connection's buffer: the session
     * lets go of the connection when it closes, after the write and the error */
    if (!s->sock.writing) detach_backend(s, true);
    s->seq = s->resp_seq;
    session_fail(s, e->code, e->sqlstate, e->msg);
}

void session_backend_lost(struct mx_session *s, struct mx_backend *be, const struct be_error *why)
{
    session_check(s);
    log_warn("backend_lost", "conn_id=%u backend_thread=%u state=%s code=%u err=\"%s\"", s->id,
             be->thread_id, session_state_name(s->state), why->code, why->msg);
    be->broken = true;
    switch (s->state) {
    case SS_CONNECTING: /* the login's own sync: the login fails */
        detach_backend(s, true);
        session_fail(s, why->code, why->sqlstate, why->msg);
        return;
    case SS_SYNC: /* nothing of the command went out yet */
        if (!drop_dead_backend(s)) return;
        fail_command(s, why);
        return;
    case SS_DIAG: /* the answer is with the client; its conditions or locks are lost */
        if (!drop_dead_backend(s)) return;
        if (s->kb) { /* a KILL USER stopping statements: the rest cannot be stopped */
            kill_batch_finish(s);
            return;
        }
        s->lock_doubt = false;
        session_set_state(s, SS_IDLE);
        process_input(s);
        return;
    case SS_IDLE:
    case SS_LOCAL:     /* no answer of the backend's is due: nothing of a command fails */
    case SS_KILL_WAIT: {
        bool clean = sstate_is_clean(s) && !(s->status & SERVER_STATUS_IN_TRANS);
        detach_backend(s, true);
        if (!clean) session_close(s, "backend_lost"); /* its server state is gone */
        return;
    }
    default:
        break;
    }
    bool held = !sstate_is_clean(s) || (s->status & SERVER_STATUS_IN_TRANS) ||
                (s->resp_started && s->state == SS_RESPONSE);
    struct be_error e = {.code = 2013, .sqlstate = "HY000"};
    snprintf(e.msg, sizeof e.msg, "mymux: lost connection to the backend server during query%s",
             held ? "" : "; the session goes on");
    /* what the client still sends of a command or file being forwarded is dropped */
    bool sending = s->state == SS_FORWARD || s->state == SS_INFILE || s->state == SS_DISCARD;
    s->fwd_cont = s->fwd_cont && sending;
    if (!sending) s->fwd_left = 0;
    fail_answer(s, &e, "backend_lost");
}

/* ---- accept ---- */

void session_accept(struct mx_worker *w, uv_stream_t *listener)
{
    struct mx_session *s = calloc(1, sizeof *s);
    if (!s) return;
#ifndef NDEBUG
    s->magic = MX_SESSION_MAGIC;
#endif
    sock_init(&s->sock, w, s);
    s->sock.on_read = on_client_read;
    s->sock.on_drain = on_sock_drain;
    s->sock.on_close = on_sock_closed;
    s->w = w;
    s->server = -1;
    s->pending_charset = -1;
    s->last_row_count = -1;
    s->started_ms = mx_now_ms();
    uv_tcp_init(&w->loop, &s->sock.tcp);
    uv_timer_init(&w->loop, &s->timer);
    s->timer.data = s;
    if (uv_accept(listener, (uv_stream_t *)&s->sock.tcp) != 0) {
        session_set_state(s, SS_CLOSING);
        sock_close(&s->sock);
        return;
    }
    s->fd_counted = true;
    int fds = atomic_fetch_add(&w->px->client_fds, 1) + 1;
    uv_tcp_nodelay(&s->sock.tcp, 1);
    struct sockaddr_storage ss;
    int sl = sizeof ss;
    char ip[48] = "?";
    int port = 0;
    if (uv_tcp_getpeername(&s->sock.tcp, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET) {
            uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof ip);
            port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        } else {
            uv_ip6_name((struct sockaddr_in6 *)&ss, ip, sizeof ip);
            port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        }
    }
    snprintf(s->peer, sizeof s->peer, "%s:%d", ip, port);
    s->id = registry_next_id(w->px);
    s->next = w->sessions;
    if (w->sessions) w->sessions->prev = s;
    w->sessions = s;
    w->n_sessions++;
    HOT_ADD(w->hot->proc.accepted, 1);
    if (!worker_fd_room(w->px, fds)) {
        /* refused before the descriptors kept for backends and health checks
         * are touched, as a server answers when it is full */
        STAT_ADD(w->px->stats.refused, 1);
        s->seq = 0xff; /* the ERR goes out with sequence 0 */
        log_warn("too_many_connections", "client=%s reason=descriptors open=%d limit=%d",
                 s->peer, fds, atomic_load(&w->px->fd_limit));
        session_fail(s, 1040, "08004", "Too many connections");
        return;
    }
    if (session_proxy_expected(s)) return; /* admitted once the PROXY header is read */
    session_accept_admit(s);
}

void session_accept_admit(struct mx_session *s)
{
    struct mx_worker *w = s->w;
    const struct mx_config *cfg = w->px->cfg;
    char ip[sizeof s->peer];
    snprintf(ip, sizeof ip, "%s", s->peer);
    char *colon = strrchr(ip, ':');
    if (colon) *colon = 0;
    if (atomic_fetch_add(&w->px->sessions_total, 1) >= cfg->max_client_connections) {
        atomic_fetch_sub(&w->px->sessions_total, 1);
        STAT_ADD(w->px->stats.refused, 1);
        s->counted = false;
        s->seq = 0xff; /* the ERR goes out with sequence 0 */
        log_warn("too_many_connections", "client=%s", s->peer);
        session_fail(s, 1040, "08004", "Too many connections");
        return;
    }
    s->counted = true;
    stat_peak(&w->px->sessions_peak, atomic_load(&w->px->sessions_total));
    if (guard_addr_check(w->px, ip) == GUARD_BLOCKED) {
        s->seq = 0xff;
        log_info("client_refused", "client=%s reason=blocked", s->peer);
        char m[128];
        snprintf(m, sizeof m, "Host '%s' is blocked because of many connection errors", ip);
        session_fail(s, 1129, "HY000", m);
        return;
    }
    uv_timer_start(&s->timer, on_timer, (uint64_t)cfg->handshake_timeout_ms, 0);
    guard_admit(w, s); /* the greeting goes out now, or when the storm allows */
}

static bool session_holds(const struct mx_session *s, const struct mx_backend *be)
{
    return s->be == be;
}

const struct be_owner_ops session_owner_ops = {
    .data = session_on_backend_data,
    .drain = session_on_backend_drain,
    .lost = session_backend_lost,
    .holds = session_holds,
};
