/* Handling of backend connections: TCP connect, greeting, TLS upgrade when the
 * backend's tls.mode asks for it, login with mysql_native_password or
 * caching_sha2_password (RSA full auth included), internal commands whose
 * answers mymux consumes, and the relay hand-off. */
#include "pool/server_conn.h"

#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/fsm_trace.h"
#include "core/log.h"
#include "core/resolve.h"
#include "core/tls.h"
#include "core/proxy.h"
#include "core/config.h"
#include "core/worker.h"
#include "pool/pool.h"
#include "protocol/auth.h"
#include "protocol/handshake.h"
#include "protocol/proxy_proto.h"
#include "pool/stmt.h"

/* ---- the state machine ---- */

static const char *const be_state_names[BE_N_STATES] = {
    [BE_CONNECTING] = "connecting", [BE_GREETING] = "greeting", [BE_AUTH] = "auth",
    [BE_IDLE] = "idle",             [BE_INTERNAL] = "internal", [BE_RELAY] = "relay",
    [BE_ATTACHED] = "attached",     [BE_CLOSING] = "closing",
};

const char *be_state_name(enum be_state st)
{
    return (unsigned)st < BE_N_STATES && be_state_names[st] ? be_state_names[st] : "invalid";
}

/* Every move a backend connection may make (docs/ARCHITECTURE.md has the same
 * table). Any state may close; nothing leaves BE_CLOSING. */
static const struct {
    uint8_t from, to;
} be_moves[] = {
    {BE_CONNECTING, BE_GREETING}, /* TCP connected */
    {BE_GREETING, BE_AUTH},       /* handshake response sent */
    {BE_AUTH, BE_ATTACHED},       /* logged in: the pool lends it or makes it idle */
    {BE_IDLE, BE_ATTACHED},       /* lent from the idle list */
    {BE_IDLE, BE_IDLE},           /* a reset without a session ended, now on the list */
    {BE_ATTACHED, BE_ATTACHED},   /* lent after login; back from LOCAL INFILE data */
    {BE_ATTACHED, BE_IDLE},       /* given back clean, or logged in for nobody */
    {BE_ATTACHED, BE_INTERNAL},   /* a state sync for its session, a reset at release */
    {BE_ATTACHED, BE_RELAY},      /* the command went out: its answer is relayed */
    {BE_INTERNAL, BE_ATTACHED},   /* mymux's commands answered, for its session */
    {BE_INTERNAL, BE_IDLE},       /* ...for nobody (a reset): the pool files it */
    {BE_RELAY, BE_ATTACHED},      /* the answer is complete, or LOCAL INFILE data is due */
};

bool be_transition_ok(enum be_state from, enum be_state to)
{
    if ((unsigned)from >= BE_N_STATES || (unsigned)to >= BE_N_STATES) return false;
    if (from == BE_CLOSING) return false;
    if (to == BE_CLOSING) return true;
    for (size_t i = 0; i < sizeof be_moves / sizeof be_moves[0]; i++)
        if (be_moves[i].from == from && be_moves[i].to == to) return true;
    return false;
}

void be_check(const struct mx_backend *be)
{
#ifndef NDEBUG
    if (be->magic != MX_BE_MAGIC) {
        log_error("backend_magic", "be=%p magic=0x%08x (0x%08x: freed)", (const void *)be,
                  be->magic, MX_BE_FREED);
        abort();
    }
#else
    (void)be;
#endif
}

void be_set_state(struct mx_backend *be, enum be_state st)
{
#ifdef MX_STATE_TRACE
    fsm_trace("be", be_state_name(be->state), be_state_name(st),
              be_transition_ok(be->state, st) && !(st == BE_IDLE && be->broken));
#elif !defined(NDEBUG)
    be_check(be);
    if (!be_transition_ok(be->state, st)) {
        log_error("backend_bad_transition", "thread_id=%u from=%s to=%s", be->thread_id,
                  be_state_name(be->state), be_state_name(st));
        abort();
    }
    if (st == BE_IDLE && be->broken) { /* a broken connection is never kept */
        log_error("backend_broken_idle", "thread_id=%u from=%s", be->thread_id,
                  be_state_name(be->state));
        abort();
    }
#endif
    be->state = st;
}

/* ---- credentials ---- */

void cred_clear(struct mx_cred *c)
{
    if (c->plain) {
        memset(c->plain, 0, strlen(c->plain));
        free(c->plain);
    }
    memset(c, 0, sizeof *c);
}

void cred_copy(struct mx_cred *dst, const struct mx_cred *src)
{
    *dst = *src;
    dst->plain = src->plain ? strdup(src->plain) : NULL;
}

/* A failure in any state: the error is recorded and the connection ends
 * through be_lost. */
static void be_fail(struct mx_backend *be, uint16_t code, const char *state, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void be_fail(struct mx_backend *be, uint16_t code, const char *state, const char *fmt, ...)
{
    if (be->state == BE_CLOSING || be->lost) return;
    be->err.code = code;
    memcpy(be->err.sqlstate, state, 6);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(be->err.msg, sizeof be->err.msg, fmt, ap);
    va_end(ap);
    struct be_error e = be->err;
    be_lost(be, &e);
}

/* Lent to a session, which holds it as s->be (a login in progress is the
 * pool's: the session has no pointer to it yet). */
static bool be_lent(const struct mx_backend *be)
{
    return be->session &&
           (be->state == BE_ATTACHED || be->state == BE_RELAY || be->state == BE_INTERNAL);
}

/* Nothing of be is reported or taken back from here on: it is marked lost and
 * broken, its callbacks and deadline go. Returns the completion that was
 * pending (be_lost tells it; be_end drops it). */
static be_done_cb be_disarm(struct mx_backend *be)
{
    be->lost = true;
    be->broken = true;
    be->row_cb = NULL;
    be->row_arg = NULL;
    be_done_cb done = be->done;
    be->done = NULL;
    uv_timer_stop(&be->timer);
    return done;
}

void be_lost(struct mx_backend *be, const struct be_error *e)
{
    be_check(be);
    if (be->state == BE_CLOSING || be->lost) return;
    be_done_cb done = be_disarm(be);
    if (be_lent(be)) {
        struct mx_session *s = be->session;
        const struct be_owner_ops *ops = be->pool->home->owner;
        ops->lost(s, be, e);
        if (be->state != BE_CLOSING) {
            /* kept while the client's write reads its buffer; given back after */
#ifndef NDEBUG
            if (be->session != s || !ops->holds(s, be)) {
                log_error("backend_lost_dangling", "thread_id=%u state=%s", be->thread_id,
                          be_state_name(be->state));
                abort();
            }
#endif
            sock_read_stop(&be->sock);
            return;
        }
        /* it let go (detach_backend -> pool_release), which ended it: be_end below is a no-op */
    } else if (done) {
        done(be, -1, e);
    }
    be_end(be);
}

void be_forget_session(struct mx_pool *p, const struct mx_session *s)
{
    for (struct mx_backend *be = p->all; be; be = be->anext) {
        if (be->session != s || p->home->owner->holds(s, be)) continue;
#ifndef NDEBUG
        if (be->state != BE_CONNECTING && be->state != BE_GREETING && be->state != BE_AUTH) {
            log_error("backend_orphan", "thread_id=%u state=%s", be->thread_id,
                      be_state_name(be->state));
            abort();
        }
#endif
        be->session = NULL;
    }
}

bool be_error_from_err(struct be_error *e, const uint8_t *p, size_t len)
{
    struct pkt_err_info ei;
    if (pkt_parse_err(p, len, &ei) != 0) return false;
    e->code = ei.code;
    memcpy(e->sqlstate, ei.sqlstate, sizeof e->sqlstate);
    int n = (int)(ei.msg_len > 200 ? 200 : ei.msg_len);
    snprintf(e->msg, sizeof e->msg, "%.*s", n, ei.msg);
    return true;
}

static void be_fail_from_err(struct mx_backend *be, const uint8_t *p, size_t len)
{
    struct be_error e = {0};
    if (!be_error_from_err(&e, p, len)) {
        be_fail(be, 2027, "HY000", "malformed error packet from backend");
        return;
    }
    be_fail(be, e.code, e.sqlstate, "%s", e.msg);
}

/* The timer is closed after the socket; the memory goes when both are done. */
static void timer_closed(uv_handle_t *h)
{
    struct mx_backend *be = h->data;
    be_check(be);
#ifndef NDEBUG
    be->magic = MX_BE_FREED;
#endif
    free(be);
}

static void on_closed(struct mx_sock *s)
{
    struct mx_backend *be = s->owner;
    pool_on_closed(be);
    cred_clear(&be->cred);
    vars_free(&be->vars);
    bstmts_free(&be->stmts, &be->sock.worker->pcache);
    for (int i = be->iq_pos; i < be->iq_n; i++)
        if (be->iq[i].ps) pstmt_unref(&be->sock.worker->pcache, be->iq[i].ps);
    be->iq_n = be->iq_pos = 0;
    uv_close((uv_handle_t *)&be->timer, timer_closed);
}

void be_forget_reset(struct mx_backend *be)
{
    bstmts_clear(&be->stmts, &be->sock.worker->pcache);
    be->n_close = 0;
    vars_free(&be->vars);
    be->charset = be->hs_charset;
    be->track_armed = false;
    be->track_doubt = false;
}

void be_end(struct mx_backend *be)
{
    be_check(be);
    if (be->state == BE_CLOSING) return;
#ifndef NDEBUG
    /* a session still holding it would use it after the close: it lets go first */
    if (be->session && be->pool->home->owner->holds(be->session, be)) {
        log_error("backend_end_attached", "thread_id=%u state=%s", be->thread_id,
                  be_state_name(be->state));
        abort();
    }
#endif
    be_disarm(be);
    be->session = NULL;
    be_set_state(be, BE_CLOSING);
    sock_close(&be->sock);
}

/* Sends what sits in sock.out; on failure the connection is given up. */
static bool be_flush(struct mx_backend *be)
{
    int rc = sock_flush_out(&be->sock);
    if (rc < 0) {
        be_fail(be, 2013, "HY000", "lost connection to backend while writing: %s", uv_strerror(rc));
        return false;
    }
    return true;
}

/* The capabilities of the login: what mymux wants and the server offers. */
static uint32_t be_login_caps(const struct mx_backend *be, uint32_t server_caps)
{
    uint32_t want = MX_BACKEND_BASE_CAPS | (be->key_caps & MX_KEY_CAPS);
    if (be->track) want |= CLIENT_SESSION_TRACK; /* towards the backend only */
    /* the compressed protocol per hop: only where backends[].compress asks for it */
    if (be->pool->worker->px->cfg->backends[be->pool->server].compress) want |= CLIENT_COMPRESS;
    /* the login names no schema; the SSLRequest must carry the same bits as the
     * response that follows it (hs_write_response clears this one) */
    return want & server_caps & ~CLIENT_CONNECT_WITH_DB;
}

/* Builds the auth token for plugin with what cred knows; returns its length or -1. */
static int make_token(const struct mx_cred *c, const char *plugin, const uint8_t nonce[20],
                      uint8_t *out)
{
    if (strcmp(plugin, "mysql_native_password") == 0) {
        if (c->plain) {
            if (!*c->plain) return 0;
            auth_native_token(c->plain, strlen(c->plain), nonce, out);
            return 20;
        }
        if (c->have_native1) {
            auth_native_token_from_stage1(c->native1, nonce, out);
            return 20;
        }
        return -1;
    }
    if (strcmp(plugin, "caching_sha2_password") == 0) {
        if (c->plain) {
            if (!*c->plain) return 0;
            auth_sha2_token(c->plain, strlen(c->plain), nonce, out);
            return 32;
        }
        if (c->have_sha2_1) {
            auth_sha2_token_from_stage1(c->sha2_1, nonce, out);
            return 32;
        }
        return -1;
    }
    if (strcmp(plugin, "mysql_clear_password") == 0) {
        return -1; /* never send a password in clear over plain TCP */
    }
    return -1;
}

static const char *be_name(const struct mx_backend *be)
{
    return be->pool->worker->px->cfg->backends[be->pool->server].name;
}

/* An I/O failure during login: TLS says why when it was TLS. */
static void be_fail_io(struct mx_backend *be, const char *what, int status)
{
    const char *te = sock_tls_error(&be->sock);
    if (te[0])
        be_fail(be, 2026, "HY000", "TLS connection to backend %s failed: %s", be_name(be), te);
    else
        be_fail(be, 2013, "HY000", "lost connection to backend %s: %s", what,
                uv_strerror(status));
}

static const char *const btls_mode_names[] = {"off", "preferred", "required", "verify_ca",
                                              "verify_identity"};

/* After the greeting: upgrades to TLS when the backend's tls.mode asks for it.
 * Returns false when the connection failed. */
static bool maybe_start_tls(struct mx_backend *be, const struct hs_greeting *g)
{
    struct mx_proxy *px = be->pool->worker->px;
    const struct mx_backend_tls_cfg *bt = &px->cfg->backends[be->pool->server].tls;
    if (bt->mode == MX_BTLS_OFF) return true;
    if (!(g->caps & CLIENT_SSL)) {
        if (bt->mode == MX_BTLS_PREFERRED) return true;
        be_fail(be, 2026, "HY000", "backend %s does not offer TLS, and its tls.mode is %s",
                be_name(be), btls_mode_names[bt->mode]);
        return false;
    }
    SSL_CTX *ctx = tls_backend_ctx(px, be->pool->server);
    if (!ctx) {
        be_fail(be, 2026, "HY000", "no TLS context for backend %s (see the tls_reload log line)",
                be_name(be));
        return false;
    }
    /* SSLRequest: the first 32 bytes of a HandshakeResponse41, with CLIENT_SSL */
    uint8_t req[PKT_HDR + 32];
    struct pkt_wr w;
    pkt_wr_init(&w, req, sizeof req);
    size_t off = pkt_wr_begin(&w);
    pkt_wr_u32(&w, be_login_caps(be, g->caps) | CLIENT_SSL);
    pkt_wr_u32(&w, PKT_MAX_PAYLOAD);
    pkt_wr_u8(&w, be->charset);
    for (int i = 0; i < 23; i++) pkt_wr_u8(&w, 0);
    pkt_wr_end(&w, off, ++be->seq);
    int rc = sock_tls_start(&be->sock, ctx, false, req, w.pos);
    SSL_CTX_free(ctx);
    if (rc < 0 || tls_backend_prepare(be->sock.tls, bt, be->pool->server) != 0) {
        be_fail(be, 2026, "HY000", "cannot start TLS to backend %s", be_name(be));
        return false;
    }
    return true;
}

static void send_response(struct mx_backend *be, const struct hs_greeting *g)
{
    const char *plugin = g->plugin[0] ? g->plugin : "mysql_native_password";
    uint8_t tok[64];
    int n = make_token(&be->cred, plugin, be->nonce, tok);
    if (n < 0) { /* answer with what we can; the server will switch */
        plugin = be->cred.have_sha2_1 ? "caching_sha2_password" : "mysql_native_password";
        n = make_token(&be->cred, plugin, be->nonce, tok);
        if (n < 0) n = 0;
    }
    snprintf(be->plugin, sizeof be->plugin, "%s", plugin);
    be->caps = be_login_caps(be, g->caps);
    if (be->sock.tls) be->caps |= CLIENT_SSL;
    struct mx_buf *o = sock_out(&be->sock);
    if (!o) {
        be_fail(be, 1041, "HY000", "out of memory logging in to backend %s", be_name(be));
        return;
    }
    struct pkt_wr w;
    pkt_wr_init(&w, o->data + o->wpos, o->cap - o->wpos);
    hs_write_response(&w, ++be->seq, be->caps, be->charset, be->cred.user, tok, (size_t)n, NULL,
                      plugin);
    o->wpos += (uint32_t)w.pos;
    be_set_state(be, BE_AUTH);
    be_flush(be);
}

static void send_auth_data(struct mx_backend *be, const uint8_t *p, size_t n)
{
    struct mx_buf *o = sock_out(&be->sock);
    if (!o) {
        be_fail(be, 1041, "HY000", "out of memory logging in to backend %s", be_name(be));
        return;
    }
    struct pkt_wr w;
    pkt_wr_init(&w, o->data + o->wpos, o->cap - o->wpos);
    size_t off = pkt_wr_begin(&w);
    pkt_wr_bytes(&w, p, n);
    pkt_wr_end(&w, off, ++be->seq);
    o->wpos += (uint32_t)w.pos;
    be_flush(be);
}

static void login_done(struct mx_backend *be)
{
    uv_timer_stop(&be->timer);
    /* Keep only what re-authentication could need: nothing. */
    cred_clear(&be->cred);
    be_set_state(be, BE_ATTACHED);
    be_done_cb done = be->done;
    be->done = NULL;
    if (done) done(be, 0, NULL);
}

/* What the greeting tells of the server: its version (for the classifier's
 * executable comments) and whether its trackers can report session state. */
static void learn_server(struct mx_backend *be, const struct hs_greeting *g)
{
    struct mx_server *sv = &be->pool->worker->px->servers[be->pool->server];
    bool mariadb = false, tidb = false;
    uint32_t version = hs_version_number(g->version, &mariadb, &tidb);
    if (atomic_load(&sv->version) != version) atomic_store(&sv->version, version);
    if (atomic_load(&sv->mariadb) != mariadb) atomic_store(&sv->mariadb, mariadb);
    if (atomic_load(&sv->tidb) != tidb) atomic_store(&sv->tidb, tidb);
    enum mx_tracking t = be->pool->worker->px->cfg->backends[be->pool->server].session_tracking;
    be->track = (g->caps & CLIENT_SESSION_TRACK) &&
                (t == MX_TRACK_ON || (t == MX_TRACK_AUTO && !tidb));
    if (t == MX_TRACK_ON && !be->track)
        log_warn("session_tracking_unavailable", "backend=%s version=\"%s\"", be_name(be),
                 g->version);
}

/* One whole login packet from the server. */
static void on_login_packet(struct mx_backend *be, const uint8_t *p, size_t len, uint8_t seq)
{
    be->seq = seq;
    if (be->state == BE_GREETING) {
        struct hs_greeting g;
        int rc = hs_parse_greeting(p, len, &g);
        if (rc == -2) {
            be_fail_from_err(be, p, len);
            return;
        }
        if (rc != 0 || g.nonce_len < 20 || !(g.caps & CLIENT_PROTOCOL_41)) {
            be_fail(be, 2027, "08S01", "malformed greeting from backend");
            return;
        }
        be->thread_id = g.conn_id;
        memcpy(be->nonce, g.nonce, 20);
        learn_server(be, &g);
        if (!maybe_start_tls(be, &g)) return;
        send_response(be, &g);
        return;
    }
    /* BE_AUTH */
    if (len == 0) {
        be_fail(be, 2027, "08S01", "empty packet from backend during login");
        return;
    }
    switch (p[0]) {
    case 0x00: {
        struct pkt_ok_info ok;
        if (pkt_parse_ok(p, len, &ok) == 0) be->status = ok.status;
        if (be->caps & CLIENT_COMPRESS) { /* frames from the next command on */
            int zrc = sock_compress_start(&be->sock, ZS_ZLIB,
                                          be->pool->worker->px->cfg->compress_level, true);
            if (zrc < 0) {
                be_fail(be, 2027, "HY000", "cannot start compression to backend %s",
                        be_name(be));
                return;
            }
        }
        login_done(be);
        return;
    }
    case 0xff:
        be_fail_from_err(be, p, len);
        return;
    case 0xfe: { /* auth switch */
        struct pkt_rd r;
        pkt_rd_init(&r, p + 1, len - 1);
        size_t n;
        const char *pl = pkt_rd_cstr(&r, &n);
        const uint8_t *nonce = pkt_rd_bytes(&r, 20);
        if (!pl || !nonce || n >= sizeof be->plugin) {
            be_fail(be, 2027, "08S01", "malformed auth switch from backend");
            return;
        }
        memcpy(be->plugin, pl, n);
        be->plugin[n] = 0;
        memcpy(be->nonce, nonce, 20);
        uint8_t tok[64];
        int t = make_token(&be->cred, be->plugin, be->nonce, tok);
        if (t < 0) {
            be_fail(be, 1045, "28000",
                    "mymux cannot log in to the backend as '%s' with plugin %s: it knows no "
                    "suitable password",
                    be->cred.user, be->plugin);
            return;
        }
        send_auth_data(be, tok, (size_t)t);
        return;
    }
    case 0x01: /* more data: caching_sha2 */
        if (len == 2 && p[1] == 3) return; /* fast auth ok: OK follows */
        if (len == 2 && p[1] == 4) {       /* full auth: ask for the public key */
            if (!be->cred.plain) {
                be_fail(be, 1045, "28000",
                        "the backend wants caching_sha2_password full authentication for '%s', "
                        "which needs the plaintext password in mymux's configuration",
                        be->cred.user);
                return;
            }
            if (be->sock.tls) { /* inside TLS the password goes in clear, NUL-ended */
                size_t n = strlen(be->cred.plain);
                if (n > 1000) {
                    be_fail(be, 1045, "28000", "password too long for the backend login");
                    return;
                }
                uint8_t pw[1024];
                memcpy(pw, be->cred.plain, n + 1);
                send_auth_data(be, pw, n + 1);
                memset(pw, 0, sizeof pw);
                return;
            }
            uint8_t req = 0x02;
            send_auth_data(be, &req, 1);
            return;
        }
        if (be->cred.plain) { /* the public key */
            uint8_t enc[1024];
            int n = auth_rsa_encrypt_password((const char *)p + 1, len - 1, be->cred.plain,
                                              strlen(be->cred.plain), be->nonce, enc, sizeof enc);
            if (n < 0) {
                be_fail(be, 2061, "HY000", "RSA encryption of the password for the backend failed");
                return;
            }
            send_auth_data(be, enc, (size_t)n);
            return;
        }
        be_fail(be, 2027, "08S01", "unexpected auth data from backend");
        return;
    default:
        be_fail(be, 2027, "08S01", "unexpected packet 0x%02x from backend during login", p[0]);
    }
}

/* Answers to internal commands (reset, sync, prepare), each tracked like a
 * relayed answer but consumed here; the first error is kept for the caller. */
static void on_internal_packet(struct mx_backend *be, const uint8_t *p, size_t len)
{
    if (be->iq_pos >= be->iq_n) {
        be_fail(be, 2027, "08S01", "unexpected answer to an internal command");
        return;
    }
    uint8_t cmd = be->iq[be->iq_pos].cmd;
    if (be->iresp.state == RS_IDLE) resp_begin(&be->iresp, cmd, (be->caps & CLIENT_DEPRECATE_EOF) != 0);
    bool first = be->iresp.results == 0 && be->iresp.rows == 0 && !be->iq_started;
    if (first && cmd == COM_QUERY && len && p[0] != 0x00 && p[0] != 0xff) {
        /* a result set: only where one was asked for, with the columns asked for
         * (anything else would be tracked as whatever it claims to be) */
        uint8_t cols = be->iq[be->iq_pos].cols;
        if (!cols || len != 1 || p[0] != cols) {
            be_fail(be, 2027, "08S01", "unexpected answer 0x%02x to an internal command", p[0]);
            return;
        }
    }
    be->iq_started = true;
    size_t need = 0;
    uint64_t rows_before = be->iresp.rows;
    int rc = resp_feed(&be->iresp, (uint32_t)len, p, len, &need);
    if (rc == RESP_MORE && be->iresp.rows > rows_before && be->row_cb)
        be->row_cb(be->row_arg, be->iq_pos, p, len);
    if (rc == RESP_BAD || rc == RESP_NEED || rc == RESP_INFILE) {
        be_fail(be, 2027, "08S01", "unexpected answer 0x%02x to an internal command",
                len ? p[0] : 0);
        return;
    }
    if (first && len && p[0] == 0xff && be->err.code == 0) be_error_from_err(&be->err, p, len);
    if (rc != RESP_DONE) return;
    be->iq_started = false;
    if (!be->iresp.error) {
        be->status = be->iresp.status ? be->iresp.status : be->status;
        struct mx_pstmt *ps = be->iq[be->iq_pos].ps;
        if (cmd == COM_STMT_PREPARE && ps) {
            uint32_t evicted = 0;
            struct mx_pcache *c = &be->sock.worker->pcache;
            if (!ps->num_params && !ps->num_cols) {
                ps->num_params = be->iresp.num_params;
                ps->num_cols = be->iresp.num_cols;
            }
            if (be->iresp.num_params != ps->num_params) {
                /* the server reads the text otherwise now (a schema change, another
                 * server behind the pool): the client's statement binds another
                 * number of parameters, so this one cannot serve it */
                log_warn("prepare_mismatch", "thread_id=%u params=%u client_params=%u",
                         be->thread_id, be->iresp.num_params, ps->num_params);
                be->prep_mismatch = be->iresp.num_params;
                be_close_stmt_later(be, be->iresp.stmt_id);
            } else {
                bstmts_add(&be->stmts, c, ps, be->iresp.stmt_id,
                           (uint32_t)be->sock.worker->px->cfg->pool_max_prepared, &evicted);
                if (evicted) be_close_stmt_later(be, evicted);
            }
        }
    }
    if (be->iq[be->iq_pos].ps) pstmt_unref(&be->sock.worker->pcache, be->iq[be->iq_pos].ps);
    be->iq[be->iq_pos].ps = NULL;
    if (++be->iq_pos < be->iq_n) return;
    be->iq_n = be->iq_pos = 0;
    uv_timer_stop(&be->timer);
    be->row_cb = NULL;
    be->row_arg = NULL;
    if (be->broken && !be->session) { /* a reset's answers left it unfit to keep */
        be_fail(be, 2027, "HY000", "backend connection given up after mymux's own commands");
        return;
    }
    be_set_state(be, be->session ? BE_ATTACHED : BE_IDLE);
    be_done_cb done = be->done;
    be->done = NULL;
    int err = be->err.code ? -1 : 0;
    struct be_error e = be->err;
    memset(&be->err, 0, sizeof be->err);
    if (done) done(be, err, err ? &e : NULL);
}

/* Data from the server outside of a relay: whole packets only (they are small). */
static void consume_packets(struct mx_backend *be)
{
    struct mx_buf *b = be->sock.in;
    while (b && b->wpos - b->rpos >= PKT_HDR && be->state != BE_CLOSING) {
        uint8_t *h = b->data + b->rpos;
        uint32_t len = pkt_len(h);
        if (len + PKT_HDR > b->cap) {
            be_fail(be, 2027, "08S01", "oversized packet from backend during login");
            return;
        }
        if (b->wpos - b->rpos < len + PKT_HDR) {
            if (buf_free_tail(b) < len + PKT_HDR - (b->wpos - b->rpos)) buf_compact(b);
            return;
        }
        b->rpos += len + PKT_HDR;
        b->ppos = b->rpos;
        if (be->state == BE_GREETING || be->state == BE_AUTH)
            on_login_packet(be, h + PKT_HDR, len, h[3]);
        else if (be->state == BE_INTERNAL)
            on_internal_packet(be, h + PKT_HDR, len);
        else {
            be_fail(be, 2027, "08S01", "unexpected data from an idle backend connection");
            return;
        }
        b = be->sock.in;
    }
    if (b && buf_empty(b)) sock_release_in(&be->sock);
}

static void on_read(struct mx_sock *s, ssize_t status)
{
    struct mx_backend *be = s->owner;
    be_check(be);
    if (status < 0) {
        if (be->state == BE_IDLE) log_debug("backend_closed", "thread_id=%u", be->thread_id);
        be_fail_io(be, "while reading", (int)status);
        return;
    }
    if (be->state == BE_RELAY || be->state == BE_ATTACHED) {
        be->pool->home->owner->data(be->session, be);
        return;
    }
    consume_packets(be);
}

static void on_drain(struct mx_sock *s)
{
    struct mx_backend *be = s->owner;
    be_check(be);
    if (s->write_error) {
        be_fail_io(be, "while writing", s->write_error);
        return;
    }
    if (be->state == BE_RELAY || be->state == BE_ATTACHED)
        be->pool->home->owner->drain(be->session, be);
}

static void on_timeout(uv_timer_t *t)
{
    struct mx_backend *be = t->data;
    be_check(be);
    if (be->connect_rc == UV_EMFILE || be->connect_rc == UV_ENFILE) {
        /* mymux's limit, not the server's fault: nothing takes the server down */
        be->err.local = true;
        log_warn("out_of_descriptors", "backend=%s err=\"%s\"", be_name(be),
                 uv_strerror(be->connect_rc));
        be_fail(be, 1040, "08004", "mymux: out of file descriptors connecting to backend %s",
                be_name(be));
        return;
    }
    be_fail(be, 2013, "HY000", "timeout while connecting to backend %s",
            be->pool->worker->px->cfg->backends[be->pool->server].name);
}

static void on_connect(uv_connect_t *req, int status)
{
    struct mx_backend *be = req->data;
    free(req);
    if (be->state == BE_CLOSING) return;
    if (status < 0) {
        be_fail(be, 2003, "HY000", "cannot connect to backend %s: %s",
                be->pool->worker->px->cfg->backends[be->pool->server].name, uv_strerror(status));
        return;
    }
    uv_tcp_nodelay(&be->sock.tcp, 1);
    be_set_state(be, BE_GREETING);
    if (be->client_ip[0]) { /* PROXY v2 first: the server sees the client's address */
        struct mx_buf *o = sock_out(&be->sock);
        int n = o ? pp_build_v2(o->data + o->wpos, o->cap - o->wpos,
                                (struct sockaddr *)&be->client_addr, (struct sockaddr *)&be->addr)
                  : -1;
        if (n < 0) {
            be_fail(be, 2013, "HY000", "cannot build the PROXY header for backend %s",
                    be->pool->worker->px->cfg->backends[be->pool->server].name);
            return;
        }
        o->wpos += (uint32_t)n;
        if (!be_flush(be)) return;
    }
    int rc = sock_read_start(&be->sock);
    if (rc < 0) be_fail(be, 2013, "HY000", "cannot read from backend: %s", uv_strerror(rc));
}

/* "ip:port" (IPv6 as [ip]:port or ip:port) into an address; 0 or -1. */
static int parse_peer(const char *peer, struct sockaddr_storage *ss, char *ip, size_t ipcap)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%s", peer);
    char *colon = strrchr(buf, ':');
    if (!colon) return -1;
    *colon = 0;
    int port = atoi(colon + 1);
    char *h = buf;
    if (*h == '[') {
        h++;
        char *e = strchr(h, ']');
        if (e) *e = 0;
    }
    snprintf(ip, ipcap, "%s", h);
    if (uv_ip4_addr(h, port, (struct sockaddr_in *)ss) == 0) return 0;
    if (uv_ip6_addr(h, port, (struct sockaddr_in6 *)ss) == 0) return 0;
    return -1;
}

struct mx_backend *be_open(struct mx_pool *pool, const struct mx_cred *cred, uint32_t key_caps,
                           uint8_t charset, const char *client_peer, be_done_cb done)
{
    struct mx_worker *w = pool->worker;
    const struct mx_backend_cfg *bc = &w->px->cfg->backends[pool->server];
    struct mx_backend *be = calloc(1, sizeof *be);
    if (!be) return NULL;
    be->prep_mismatch = -1;
    sock_init(&be->sock, w, be);
    be->sock.on_read = on_read;
    be->sock.on_drain = on_drain;
    be->sock.on_close = on_closed;
#ifndef NDEBUG
    be->magic = MX_BE_MAGIC;
#endif
    be->pool = pool;
    be->key_caps = key_caps;
    be->charset = charset;
    be->hs_charset = charset;
    vars_init(&be->vars);
    be->done = done;
    be->created_ms = mx_now_ms();
    be->recycle = atomic_load(&w->px->servers[pool->server].recycle);
    cred_copy(&be->cred, cred);
    snprintf(be->user, sizeof be->user, "%s", cred->user);
    uv_tcp_init(&w->loop, &be->sock.tcp);
    uv_timer_init(&w->loop, &be->timer);
    be->timer.data = be;

    struct sockaddr_storage ss;
    int rc;
    if (uv_ip4_addr(bc->host, bc->port, (struct sockaddr_in *)&ss) != 0 &&
        uv_ip6_addr(bc->host, bc->port, (struct sockaddr_in6 *)&ss) != 0) {
        /* a host name: the control thread's cached resolution, never DNS here */
        if (!resolve_lookup(w->px, pool->server, bc->host, &ss)) {
            log_warn("backend_unresolved", "backend=%s host=%s", bc->name, bc->host);
            uv_timer_start(&be->timer, on_timeout, 0, 0);
            return be;
        }
        if (ss.ss_family == AF_INET) ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)bc->port);
        else ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)bc->port);
    }
    memcpy(&be->addr, &ss, sizeof ss);
    if (bc->send_proxy && client_peer &&
        parse_peer(client_peer, &be->client_addr, be->client_ip, sizeof be->client_ip) != 0)
        be->client_ip[0] = 0;
    uv_connect_t *req = malloc(sizeof *req);
    rc = req ? 0 : UV_ENOMEM;
    if (req) {
        req->data = be;
        rc = uv_tcp_connect(req, &be->sock.tcp, (struct sockaddr *)&ss, on_connect);
    }
    if (rc < 0) {
        free(req);
        be->connect_rc = rc;
        uv_timer_start(&be->timer, on_timeout, 0, 0);
        return be;
    }
    uv_timer_start(&be->timer, on_timeout, (uint64_t)w->px->cfg->pool_connect_timeout_ms, 0);
    return be;
}

void be_expect(struct mx_backend *be, uint8_t cmd, struct mx_pstmt *ps)
{
    if (be->iq_n >= (int)(sizeof be->iq / sizeof be->iq[0])) {
        /* an answer nobody expects would desynchronise the connection: it is given
         * up (its writer checks be->broken before sending) */
        log_warn("internal_commands_overflow", "thread_id=%u limit=%zu", be->thread_id,
                 sizeof be->iq / sizeof be->iq[0]);
        be->broken = true;
        return;
    }
    be->iq[be->iq_n].cmd = cmd;
    be->iq[be->iq_n].cols = 0;
    be->iq[be->iq_n].ps = ps;
    if (ps) pstmt_ref(ps);
    be->iq_n++;
}

void be_expect_rows(struct mx_backend *be, uint8_t cols)
{
    be_expect(be, COM_QUERY, NULL);
    if (!be->broken) be->iq[be->iq_n - 1].cols = cols;
}

void be_close_stmt_later(struct mx_backend *be, uint32_t backend_id)
{
    if (be->n_close < (int)(sizeof be->close_ids / sizeof be->close_ids[0]))
        be->close_ids[be->n_close++] = backend_id;
    else
        be->broken = true; /* too many to remember: drop the connection instead */
}

/* COM_STMT_CLOSE packets written at once at most: what a trim leaves waits for
 * the next write (or the pool's tick), so that a sync never outgrows its buffer. */
#define BE_TRIM_BATCH 64

static void write_close(struct pkt_wr *w, uint32_t id)
{
    size_t off = pkt_wr_begin(w);
    pkt_wr_u8(w, COM_STMT_CLOSE);
    pkt_wr_u32(w, id);
    pkt_wr_end(w, off, 0);
}

int be_write_closes(struct mx_backend *be, struct pkt_wr *w)
{
    for (int i = 0; i < be->n_close; i++) write_close(w, be->close_ids[i]);
    if (w->bad) return -1;
    be->n_close = 0;
    /* statements no client holds any longer, beyond the connection's cache;
     * only a client letting go of one makes more, so the map is looked at
     * only when the worker's count of those moved */
    struct mx_worker *wk = be->sock.worker;
    uint64_t released = wk->pcache.released;
    if (be->trim_seen == released) return 0;
    uint32_t keep = (uint32_t)wk->px->cfg->pool_max_prepared_unused, ids[BE_TRIM_BATCH];
    uint32_t n = bstmts_trim(&be->stmts, &wk->pcache, keep, ids, BE_TRIM_BATCH);
    for (uint32_t i = 0; i < n; i++) write_close(w, ids[i]);
    if (n < BE_TRIM_BATCH) be->trim_seen = released; /* else more remain */
    return w->bad ? -1 : 0;
}

int be_trim_idle(struct mx_backend *be)
{
    uint32_t keep = (uint32_t)be->sock.worker->px->cfg->pool_max_prepared_unused;
    if (be->n_close == 0 &&
        (be->trim_seen == be->sock.worker->pcache.released || bstmts_unheld(&be->stmts) <= keep))
        return 0;
    if (be->state != BE_IDLE || be->sock.writing) return 1;
    struct mx_buf *o = sock_out(&be->sock);
    if (!o) return -1;
    struct pkt_wr w;
    pkt_wr_init(&w, o->data + o->wpos, o->cap - o->wpos);
    if (be_write_closes(be, &w) != 0) return -1;
    o->wpos += (uint32_t)w.pos;
    /* an idle connection is lent only with nothing in flight (the closes have
     * no answers; a server that does not take 600 bytes at once is let go) */
    if (sock_flush_out(&be->sock) != 0) return -1;
    return bstmts_unheld(&be->stmts) > keep ? 1 : 0;
}

static void on_internal_timeout(uv_timer_t *t)
{
    struct mx_backend *be = t->data;
    be_check(be);
    be_fail(be, 2013, "HY000", "backend %s did not answer mymux's own commands within %d ms",
            be->pool->worker->px->cfg->backends[be->pool->server].name,
            be->pool->worker->px->cfg->pool_connect_timeout_ms);
}

int be_run_internal(struct mx_backend *be, int n, be_done_cb done)
{
    (void)n;
    /* a server that does not answer them is given up like one that does not
     * greet: the session is not left waiting on it */
    uv_timer_start(&be->timer, on_internal_timeout,
                   (uint64_t)be->pool->worker->px->cfg->pool_connect_timeout_ms, 0);
    be_set_state(be, BE_INTERNAL);
    be->iq_pos = 0;
    be->iq_started = false;
    be->iresp.state = RS_IDLE;
    be->done = done;
    memset(&be->err, 0, sizeof be->err);
    if (!be_flush(be)) return -1;
    return sock_read_start(&be->sock);
}
