/* Client connection handling: commands read from the client, classified, sent
 * over the session's backend connection, and answers streamed back with
 * backpressure (one write in flight per socket, the reader paused meanwhile). */
#include "core/session.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/worker.h"
#include "pool/pool.h"
#include "protocol/charset.h"
#include "protocol/classify.h"
#include "protocol/handshake.h"
#include "protocol/packet.h"
#include "router/balance.h"

static void process_input(struct mx_session *s);
static void forward_command(struct mx_session *s);
static void relay_response(struct mx_session *s);
static void start_backend_command(struct mx_session *s);

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
    free(s);
}

static void on_sock_closed(struct mx_sock *sock)
{
    struct mx_session *s = sock->owner;
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
    be->session = NULL;
    /* state that cannot be replayed, or a diagnostics area the next session
     * could read, goes away with a reset before anyone else gets it */
    be->dirty = be->dirty || !sstate_can_release(s) || s->last_diag;
    if (broken || be->state == BE_RELAY || be->state == BE_INTERNAL ||
        (be->sock.in && !buf_empty(be->sock.in)) || be->sock.writing) {
        be->broken = true;
        pool_release(be);
        return;
    }
    pool_release(be);
}

void session_close(struct mx_session *s, const char *why)
{
    if (s->state == SS_CLOSING) return;
    log_debug("disconnect", "conn_id=%u client=%s reason=%s", s->id, s->peer, why);
    s->state = SS_CLOSING;
    uv_timer_stop(&s->timer);
    if (s->wait_pool) pool_cancel_wait(s->wait_pool, s);
    if (s->be) {
        struct mx_backend *be = s->be;
        if (be->state == BE_CONNECTING || be->state == BE_GREETING || be->state == BE_AUTH) {
            be->session = NULL; /* it joins the pool when its login completes */
            s->be = NULL;
        } else {
            detach_backend(s, false);
        }
    }
    if (s->reg) registry_remove(s->w->px, s->reg);
    s->reg = NULL;
    /* unlink from the worker */
    if (s->prev) s->prev->next = s->next;
    else if (s->w->sessions == s) s->w->sessions = s->next;
    if (s->next) s->next->prev = s->prev;
    s->w->n_sessions--;
    if (s->counted) atomic_fetch_sub(&s->w->px->sessions_total, 1);
    s->counted = false;
    cred_clear(&s->cred);
    free(s->defer_err);
    s->defer_err = NULL;
    sstate_abort(s);
    vars_free(&s->vars);
    if (s->saved_cred) {
        cred_clear(s->saved_cred);
        free(s->saved_cred);
        s->saved_cred = NULL;
    }
    sock_close(&s->sock);
}

/* ---- client input ---- */

static void on_timer(uv_timer_t *t)
{
    struct mx_session *s = t->data;
    if (s->state <= SS_AUTH_RSA) {
        log_info("handshake_timeout", "conn_id=%u client=%s", s->id, s->peer);
        session_fail(s, 1043, "08S01", "Bad handshake: timed out");
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
    while (b && s->state <= SS_AUTH_RSA && b->wpos - b->rpos >= PKT_HDR) {
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
    if (status < 0) {
        if (s->state == SS_RESPONSE || s->state == SS_FORWARD || s->state == SS_INFILE) {
            /* the client left mid-command: the backend connection is in an
             * unknown place in its answer, so it is not reused */
            if (s->be) {
                s->be->broken = true;
            }
        }
        session_close(s, status == UV_EOF ? "client_closed" : uv_strerror((int)status));
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
        s->state = SS_IDLE;
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

/* The command in flight fails before reaching the backend: the rest of its
 * packets are read and dropped, then the error goes to the client. */
static void fail_command(struct mx_session *s, const struct be_error *e)
{
    if (!s->defer_err) s->defer_err = malloc(sizeof *s->defer_err);
    if (!s->defer_err) {
        session_fail(s, e->code, e->sqlstate, e->msg);
        return;
    }
    *s->defer_err = *e;
    sstate_abort(s);
    s->pending_schema[0] = 0;
    s->synthetic_len = 0;
    s->kill_after = 0;
    if (s->reg) atomic_store(&s->reg->busy, 0);
    s->state = SS_FORWARD;
    s->discard = true;
    forward_command(s);
}

/* The dropped command's packets are all consumed: send its error. */
static void discard_done(struct mx_session *s)
{
    struct be_error *e = s->defer_err;
    s->defer_err = NULL;
    s->discard = false;
    s->state = SS_LOCAL;
    bool alive = session_reply_err(s, e->code, e->sqlstate, "%s", e->msg);
    free(e);
    if (!alive) return;
    if (!s->sock.writing) {
        s->state = SS_IDLE;
        process_input(s);
    }
}

/* ---- backend state sync ---- */

static void sync_done(struct mx_backend *be, int err, const struct be_error *e);

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
        fail_command(s, e);
        return;
    }
    sstate_synced(s, be);
    be->state = BE_ATTACHED;
    if (s->state == SS_CONNECTING) {
        s->status = be->status & (SERVER_STATUS_AUTOCOMMIT | SERVER_STATUS_IN_TRANS |
                                  SERVER_STATUS_NO_BACKSLASH_ESCAPES);
        if (s->pending_schema[0]) snprintf(s->schema, sizeof s->schema, "%s", s->pending_schema);
        s->pending_schema[0] = 0;
        s->state = SS_LOCAL;
        if (sstate_can_release(s)) detach_backend(s, false);
        if (!session_reply_ok(s)) return;
        if (!s->sock.writing) {
            s->state = SS_IDLE;
            process_input(s);
        }
        return;
    }
    s->state = SS_FORWARD;
    forward_command(s);
}

/* Brings the backend to the session's state, then continues. */
static void sync_and_go(struct mx_session *s)
{
    struct mx_backend *be = s->be;
    int n = sstate_write_sync(s, be);
    if (n < 0) {
        session_fail(s, 1105, "HY000", "mymux: cannot build state sync");
        return;
    }
    if (n == 0) {
        sync_done(be, 0, NULL);
        return;
    }
    s->state = s->state == SS_CONNECTING ? SS_CONNECTING : SS_SYNC;
    if (be_run_internal(be, n, sync_done) < 0) {
        /* be_run_internal failed: the connection closes and reports through done */
        return;
    }
}

void session_backend_ready(struct mx_session *s, struct mx_backend *be)
{
    s->wait_pool = NULL;
    s->be = be;
    be_attach(be, s);
    if (s->reg) {
        atomic_store(&s->reg->backend_tid, be->thread_id);
        atomic_store(&s->reg->server, s->server);
    }
    sync_and_go(s);
}

void session_backend_failed(struct mx_session *s, const struct be_error *e)
{
    s->wait_pool = NULL;
    s->be = NULL;
    if (s->state == SS_CONNECTING) {
        session_fail(s, e->code, e->sqlstate, e->msg);
        return;
    }
    fail_command(s, e);
}

/* Borrows a connection to the chosen server (or uses the one held). */
static void need_backend(struct mx_session *s)
{
    if (s->be) {
        sync_and_go(s);
        return;
    }
    int srv = balance_pick(s->w, s);
    if (srv < 0) {
        struct be_error e = {.code = 1105, .sqlstate = "HY000"};
        snprintf(e.msg, sizeof e.msg, "mymux: no backend server is available");
        session_backend_failed(s, &e);
        return;
    }
    s->server = srv;
    if (s->state != SS_CONNECTING) s->state = SS_WAIT_BACKEND;
    pool_acquire(&s->w->pools[srv], s);
}

void session_authenticated(struct mx_session *s)
{
    uv_timer_stop(&s->timer);
    s->state = SS_CONNECTING;
    need_backend(s);
}

/* ---- commands ---- */

static bool reply_local_err(struct mx_session *s, uint16_t code, const char *state,
                            const char *msg)
{
    s->state = SS_LOCAL;
    if (!session_reply_err(s, code, state, "%s", msg)) return false;
    if (!s->sock.writing) s->state = SS_IDLE;
    return true;
}

/* Consumes the whole current packet (header at rpos) from the client buffer. */
static void drop_packet(struct mx_session *s, uint32_t len)
{
    struct mx_buf *b = s->sock.in;
    b->rpos += PKT_HDR + len;
    b->ppos = b->rpos;
}

static void handle_kill(struct mx_session *s, bool query, uint64_t id)
{
    struct mx_reg_entry t;
    if (id > UINT32_MAX || registry_get(s->w->px, (uint32_t)id, &t) != 0) {
        char m[64];
        snprintf(m, sizeof m, "Unknown thread id: %llu", (unsigned long long)id);
        reply_local_err(s, 1094, "HY000", m);
        return;
    }
    bool owner = strcmp(t.user, s->reg ? s->reg->user : "") == 0;
    int tserver = atomic_load(&t.server);
    if (!owner && tserver < 0) {
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
    if (!query && owner) worker_post_kill(&s->w->px->workers[t.worker], (uint32_t)id);
    if (!query && !owner) s->kill_after = (uint32_t)id;
    if ((busy || !owner) && server >= 0) {
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
            s->state = SS_LOCAL;
            session_reply_ok(s);
            if (!s->sock.writing) s->state = SS_IDLE;
            return;
        }
        /* the synthetic command is written by forward_command from `synthetic` */
        s->synthetic_len = (uint16_t)ql;
        memcpy(s->synthetic, q, (size_t)ql);
        start_backend_command(s);
        return;
    }
    s->state = SS_LOCAL;
    session_reply_ok(s);
    if (s->state != SS_CLOSING && !s->sock.writing) s->state = SS_IDLE;
}

static void start_backend_command(struct mx_session *s)
{
    s->cmd_started_ms = mx_now_ms();
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
    const struct mx_config *cfg = s->w->px->cfg;
    if ((uint64_t)len >= (uint64_t)cfg->max_packet_size && len != PKT_MAX_PAYLOAD) {
        session_fail(s, 1153, "08S01", "Got a packet bigger than 'max_allowed_packet' bytes");
        return false;
    }
    uint8_t *p = h + PKT_HDR;
    s->seq = h[3];
    s->cmd = p[0];
    s->is_use = false;
    s->infile_ok = false;
    s->synthetic_len = 0;
    s->kill_after = 0;
    s->pending_schema[0] = 0;
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
        s->state = SS_LOCAL;
        if (!session_reply_ok(s)) return false;
        if (s->sock.writing) return false;
        s->state = SS_IDLE;
        return true;
    case COM_CHANGE_USER:
        if (len > want) {
            session_fail(s, 1047, "08S01", "mymux: COM_CHANGE_USER too large");
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
    case COM_INIT_DB: {
        size_t n = len - 1 < sizeof s->pending_schema - 1 ? len - 1 : sizeof s->pending_schema - 1;
        memcpy(s->pending_schema, p + 1, n);
        s->pending_schema[n] = 0;
        break;
    }
    case COM_QUERY: {
        struct cls_result *c = &s->w->cls;
        bool nobs = (s->status & SERVER_STATUS_NO_BACKSLASH_ESCAPES) != 0;
        classify((const char *)p + 1, want - 1, s->ansi_quotes, nobs, c);
        if (c->kind == CLS_KILL && !c->multi) {
            drop_packet(s, len);
            handle_kill(s, c->kill_query, c->kill_id);
            return s->state == SS_IDLE;
        }
        if (c->kind == CLS_LOAD_DATA_LOCAL || c->kind == CLS_LOAD_XML_LOCAL) {
            if (!(s->caps & CLIENT_LOCAL_FILES)) {
                drop_packet(s, len);
                return reply_local_err(s, 1148, "42000",
                                       "The used command is not allowed with this MariaDB version");
            }
            s->infile_ok = true;
            s->infile_hash = fnv1a(c->arg, c->arg_len);
        }
        if (c->kind == CLS_USE && !c->multi && c->arg_len < sizeof s->pending_schema) {
            memcpy(s->pending_schema, c->arg, c->arg_len);
            s->pending_schema[c->arg_len] = 0;
            s->is_use = true;
        }
        if (c->has_connection_id && len == want)
            classify_rewrite_connection_id_mode((char *)p + 1, len - 1, s->ansi_quotes, nobs, s->id);
        sstate_on_query(s, c, (char *)p + 1, want - 1, len == want);
        break;
    }
    default:
        sstate_on_command(s, p, want);
        break;
    }
    /* forward this packet and any continuation packets */
    s->fwd_left = (uint64_t)len + PKT_HDR;
    s->fwd_cont = len == PKT_MAX_PAYLOAD;
    b->ppos = b->rpos;
    start_backend_command(s);
    return false;
}

/* Handles every complete command in the client's buffer while idle. */
static void process_input(struct mx_session *s)
{
    while (s->state == SS_IDLE) {
        struct mx_buf *b = s->sock.in;
        if (!b || b->wpos - b->rpos < PKT_HDR) {
            if (b && buf_empty(b)) sock_release_in(&s->sock);
            else if (b && buf_free_tail(b) < PKT_HDR) buf_compact(b);
            if (s->state == SS_IDLE) {
                sock_read_start(&s->sock);
                const struct mx_config *cfg = s->w->px->cfg;
                if (cfg->client_idle_timeout_ms > 0)
                    uv_timer_start(&s->timer, on_timer, (uint64_t)cfg->client_idle_timeout_ms, 0);
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
        be->state = BE_ATTACHED;
        s->state = SS_IDLE;
        if (s->reg) atomic_store(&s->reg->busy, 0);
        process_input(s);
        return;
    }
    resp_begin(&be->resp, s->cmd, (s->caps & CLIENT_DEPRECATE_EOF) != 0);
    be->state = BE_RELAY;
    s->state = SS_RESPONSE;
    s->body_left = 0;
    s->resp_done = false;
    s->resp_started = false;
    sock_read_start(&be->sock);
    if (be->sock.in && be->sock.in->wpos > be->sock.in->ppos) relay_response(s);
}

/* Sends the client's bytes of the current command (or LOCAL INFILE data) to the backend. */
static void forward_command(struct mx_session *s)
{
    struct mx_backend *be = s->be;
    if (!s->discard && (!be || be->sock.writing)) return;
    if (s->synthetic_len) { /* a command mymux wrote itself instead of the client's */
        struct mx_buf *o = sock_out(&be->sock);
        struct pkt_wr w;
        pkt_wr_init(&w, o->data + o->wpos, o->cap - o->wpos);
        size_t off = pkt_wr_begin(&w);
        pkt_wr_u8(&w, COM_QUERY);
        pkt_wr_bytes(&w, s->synthetic, s->synthetic_len);
        pkt_wr_end(&w, off, 0);
        o->wpos += (uint32_t)w.pos;
        s->synthetic_len = 0;
        s->state = SS_FORWARD;
        int rc = sock_flush_out(&be->sock);
        if (rc < 0) {
            session_backend_lost(s, be, rc);
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
            uint32_t len = pkt_len(b->data + b->ppos);
            s->fwd_left = (uint64_t)len + PKT_HDR;
            if (s->state == SS_INFILE) s->fwd_cont = len != 0;
            else s->fwd_cont = len == PKT_MAX_PAYLOAD;
            continue;
        }
        if (b->ppos > b->rpos && s->discard) {
            b->rpos = b->ppos;
        } else if (b->ppos > b->rpos) {
            int rc = sock_write(&be->sock, b->data + b->rpos, b->ppos - b->rpos);
            if (rc < 0) {
                session_backend_lost(s, be, rc);
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
        if (s->discard) {
            discard_done(s);
            return;
        }
        if (s->state == SS_INFILE) { /* the empty packet went out: the answer follows */
            resp_infile_done(&be->resp);
            s->state = SS_RESPONSE;
            be->state = BE_RELAY;
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
    if (s->state == SS_FORWARD || s->state == SS_INFILE) {
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
    be->state = BE_ATTACHED;
    if (s->reg) atomic_store(&s->reg->busy, 0);
    if (!r->error || r->ok_seen) s->status = be->status = r->status;
    if (!r->error && s->pending_schema[0]) {
        snprintf(s->schema, sizeof s->schema, "%s", s->pending_schema);
        snprintf(be->schema, sizeof be->schema, "%s", s->pending_schema);
        be->schema_unknown = false;
    } else if (s->cmd == COM_QUERY && s->pins) {
        /* a statement we could not follow may have changed the schema */
    }
    s->pending_schema[0] = 0;
    sstate_on_finish(s, r);
    s->last_diag = r->warnings || r->error;
    bool release = sstate_can_release(s) && !s->last_diag;
    s->soft_pin = false;
    struct mx_reg_entry t;
    if (s->kill_after && !r->error && registry_get(s->w->px, s->kill_after, &t) == 0)
        worker_post_kill(&s->w->px->workers[t.worker], s->kill_after);
    s->kill_after = 0;
    s->state = SS_IDLE;
    struct mx_buf *bb = be->sock.in;
    if (bb && buf_empty(bb)) sock_release_in(&be->sock);
    if (release) detach_backend(s, false);
    process_input(s);
}

/* LOCAL INFILE asked by the server: allowed only for the file the statement named. */
static bool infile_allowed(struct mx_session *s, const struct mx_resp *r)
{
    return s->infile_ok && (s->caps & CLIENT_LOCAL_FILES) &&
           fnv1a(r->infile_name, r->infile_len) == s->infile_hash;
}

static void relay_response(struct mx_session *s)
{
    struct mx_backend *be = s->be;
    if (!be || s->sock.writing) return;
    struct mx_buf *b = be->sock.in;
    bool infile = false;
    while (b && !s->resp_done) {
        if (s->body_left) {
            uint64_t n = b->wpos - b->ppos;
            if (n > s->body_left) n = s->body_left;
            b->ppos += (uint32_t)n;
            s->body_left -= n;
            if (s->body_left) break;
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
        if (rc == RESP_BAD) {
            log_warn("backend_protocol_error", "conn_id=%u backend_thread=%u cmd=%u", s->id,
                     be->thread_id, s->cmd);
            be->broken = true;
            if (s->resp_started || b->ppos > b->rpos) {
                session_close(s, "backend_protocol_error");
            } else {
                session_fail(s, 2027, "HY000", "mymux: malformed packet from the backend");
            }
            return;
        }
        if (rc == RESP_INFILE) {
            if (!infile_allowed(s, &be->resp)) {
                log_warn("infile_refused", "conn_id=%u", s->id);
                be->broken = true;
                session_fail(s, 1148, "42000",
                             "mymux: the server asked for a file the statement did not name");
                return;
            }
            infile = true;
        }
        b->ppos += PKT_HDR + got;
        s->body_left = len - got;
        if (rc == RESP_DONE && s->body_left == 0) s->resp_done = true;
        if (rc == RESP_DONE && s->body_left) {
            /* finish passing its body first */
            uint64_t n = b->wpos - b->ppos;
            (void)n;
        }
        if (infile) break;
    }
    if (b && b->ppos > b->rpos) {
        s->resp_started = true;
        int rc = sock_write(&s->sock, b->data + b->rpos, b->ppos - b->rpos);
        if (rc < 0) {
            be->broken = true;
            session_close(s, "client_write_error");
            return;
        }
        if (rc == 1) {
            sock_read_stop(&be->sock); /* backpressure: the client is slow */
            if (infile) {
                s->state = SS_INFILE;
                be->state = BE_ATTACHED;
            }
            return;
        }
        b->rpos = b->ppos;
    }
    if (infile || s->state == SS_INFILE) {
        /* the client now sends the file, then an empty packet */
        s->state = SS_INFILE;
        be->state = BE_ATTACHED;
        sock_read_stop(&be->sock);
        s->fwd_left = 0;
        s->fwd_cont = true;
        if (s->sock.in) s->sock.in->ppos = s->sock.in->rpos;
        forward_command(s);
        return;
    }
    if (s->resp_done && s->body_left == 0) {
        if (b && b->wpos > b->ppos) {
            log_warn("backend_protocol_error", "conn_id=%u extra bytes after an answer", s->id);
            be->broken = true;
            session_close(s, "backend_protocol_error");
            return;
        }
        finish_command(s);
        return;
    }
    if (b) {
        if (buf_empty(b)) b->rpos = b->ppos = b->wpos = 0;
        else if (buf_free_tail(b) < RESP_PEEK + PKT_HDR) buf_compact(b);
    }
    sock_read_start(&be->sock);
}

void session_on_backend_data(struct mx_session *s, struct mx_backend *be)
{
    if (!s) return;
    if (s->state == SS_RESPONSE) {
        relay_response(s);
        return;
    }
    /* data from a backend while no answer is expected: only an error can come
     * unasked (the server closing the connection); give it up */
    if (s->state == SS_FORWARD && be->sock.in) {
        /* an early answer (e.g. packet too large): let the relay handle it */
        resp_begin(&be->resp, s->cmd, (s->caps & CLIENT_DEPRECATE_EOF) != 0);
        be->state = BE_RELAY;
        s->state = SS_RESPONSE;
        s->fwd_left = 0;
        s->fwd_cont = false;
        relay_response(s);
        return;
    }
    sock_read_stop(&be->sock);
}

void session_backend_lost(struct mx_session *s, struct mx_backend *be, int status)
{
    if (!s) {
        be_close(be);
        return;
    }
    log_warn("backend_lost", "conn_id=%u backend_thread=%u state=%d err=%s", s->id, be->thread_id,
             s->state, uv_strerror(status));
    be->broken = true;
    bool mid = s->resp_started && s->state == SS_RESPONSE;
    detach_backend(s, true);
    if (mid) {
        session_close(s, "backend_lost");
        return;
    }
    if (s->state == SS_IDLE) {
        /* nothing was in flight: the session's server state is gone with it */
        session_close(s, "backend_lost");
        return;
    }
    session_fail(s, 2013, "HY000", "mymux: lost connection to the backend server during query");
}

/* ---- accept ---- */

void session_accept(struct mx_worker *w, uv_stream_t *listener)
{
    struct mx_session *s = calloc(1, sizeof *s);
    if (!s) return;
    sock_init(&s->sock, w, s);
    s->sock.on_read = on_client_read;
    s->sock.on_drain = on_sock_drain;
    s->sock.on_close = on_sock_closed;
    s->w = w;
    s->server = -1;
    s->pending_charset = -1;
    s->last_row_count = -1;
    uv_tcp_init(&w->loop, &s->sock.tcp);
    uv_timer_init(&w->loop, &s->timer);
    s->timer.data = s;
    if (uv_accept(listener, (uv_stream_t *)&s->sock.tcp) != 0) {
        s->state = SS_CLOSING;
        sock_close(&s->sock);
        return;
    }
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
    s->id = atomic_fetch_add(&w->px->next_conn_id, 1);
    s->next = w->sessions;
    if (w->sessions) w->sessions->prev = s;
    w->sessions = s;
    w->n_sessions++;
    const struct mx_config *cfg = w->px->cfg;
    if (atomic_fetch_add(&w->px->sessions_total, 1) >= cfg->max_client_connections) {
        atomic_fetch_sub(&w->px->sessions_total, 1);
        s->counted = false;
        s->seq = 0xff; /* the ERR goes out with sequence 0 */
        log_warn("too_many_connections", "client=%s", s->peer);
        session_fail(s, 1040, "08004", "Too many connections");
        return;
    }
    s->counted = true;
    uv_timer_start(&s->timer, on_timer, (uint64_t)cfg->handshake_timeout_ms, 0);
    session_send_greeting(s);
}
