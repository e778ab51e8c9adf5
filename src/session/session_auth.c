/* The handshake mymux terminates: greeting, HandshakeResponse41, auth switch,
 * caching_sha2 full auth over RSA, and COM_CHANGE_USER, verified against the
 * configured users without asking a backend. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/guard.h"
#include "core/log.h"
#include "session/session.h"
#include "core/tls.h"
#include "core/proxy.h"
#include "core/config.h"
#include "core/registry.h"
#include "core/worker.h"
#include "pool/pool.h"
#include "protocol/auth.h"
#include "protocol/charset.h"
#include "protocol/handshake.h"

#define PLUGIN_NATIVE "mysql_native_password"
#define PLUGIN_SHA2 "caching_sha2_password"

/* Users with a caching_sha2 hash in the file: SHA256(SHA256(pw)) learned from a
 * successful full authentication, so later logins can use fast auth. */
static struct {
    char user[128];
    uint8_t stage2[32];
} sha2_cache[256];
static int sha2_cache_n;
static pthread_mutex_t sha2_cache_lock = PTHREAD_MUTEX_INITIALIZER;

static bool sha2_cache_get(const char *user, uint8_t stage2[32])
{
    bool found = false;
    pthread_mutex_lock(&sha2_cache_lock);
    for (int i = 0; i < sha2_cache_n; i++) {
        if (strcmp(sha2_cache[i].user, user) == 0) {
            memcpy(stage2, sha2_cache[i].stage2, 32);
            found = true;
            break;
        }
    }
    pthread_mutex_unlock(&sha2_cache_lock);
    return found;
}

static void sha2_cache_put(const char *user, const uint8_t stage2[32])
{
    pthread_mutex_lock(&sha2_cache_lock);
    int i;
    for (i = 0; i < sha2_cache_n; i++)
        if (strcmp(sha2_cache[i].user, user) == 0) break;
    if (i == sha2_cache_n && sha2_cache_n < (int)(sizeof sha2_cache / sizeof sha2_cache[0]))
        sha2_cache_n++;
    if (i < sha2_cache_n) {
        snprintf(sha2_cache[i].user, sizeof sha2_cache[i].user, "%s", user);
        memcpy(sha2_cache[i].stage2, stage2, 32);
    }
    pthread_mutex_unlock(&sha2_cache_lock);
}

/* An unknown user is walked through the same exchange as the configured users
 * who store caching_sha2 hashes when there are any (switch, full-auth request,
 * public key, then the refusal), else as a plaintext user: the packets before
 * the 1045 do not tell whether the name exists. */
static bool sha2_users_exist(const struct mx_config *cfg)
{
    for (size_t i = 0; i < cfg->n_users; i++)
        if (cfg->users[i].pw_kind == MX_PW_SHA2) return true;
    return false;
}

/* Whether clients may upgrade to TLS: a certificate is configured and loaded. */
static bool tls_offered(const struct mx_session *s)
{
    if (!s->w->px->cfg->tls_cert) return false;
    SSL_CTX *ctx = tls_server_ctx(s->w->px);
    if (!ctx) return false;
    SSL_CTX_free(ctx);
    return true;
}

static uint32_t offered_caps(const struct mx_session *s)
{
    uint32_t caps = MX_SERVER_CAPS;
    uint32_t be = s->w->px->backend_caps;
    if (be) caps &= ~(MX_KEY_CAPS & ~be); /* never offer a format a backend lacks */
    if (s->sock.tls || tls_offered(s)) caps |= CLIENT_SSL;
    const struct mx_config *cfg = s->w->px->cfg;
    if (cfg->compress_enabled) {
        caps |= CLIENT_COMPRESS; /* per hop: never part of the backend key */
        if (cfg->compress_zstd) caps |= CLIENT_ZSTD_COMPRESSION;
    }
    return caps;
}

/* After the final OK of authentication (queued already, and sent as is): the
 * compressed protocol from here on when the client asked for it. zstd wins
 * when both bits are set. False when the session was closed. */
bool session_compress_begin(struct mx_session *s)
{
    if (!(s->caps & (CLIENT_COMPRESS | CLIENT_ZSTD_COMPRESSION)) || s->sock.z) return true;
    bool zstd = (s->caps & CLIENT_ZSTD_COMPRESSION) != 0;
    int level = zstd ? s->zstd_level : s->w->px->cfg->compress_level;
    if (zstd && level > 22) level = 0;
    int rc = sock_compress_start(&s->sock, zstd ? ZS_ZSTD : ZS_ZLIB, level, false);
    if (rc < 0) {
        log_warn("compress_failed", "conn_id=%u client=%s rc=%d", s->id, s->peer, rc);
        session_close(s, "oom");
        return false;
    }
    log_debug("compress_start", "conn_id=%u client=%s algo=%s", s->id, s->peer,
              zstd ? "zstd" : "zlib");
    return true;
}

/* The SSLRequest: TLS starts on this socket; the real HandshakeResponse comes
 * next, encrypted, with sequence id 2. */
static void start_tls(struct mx_session *s)
{
    SSL_CTX *ctx = s->sock.tls ? NULL : tls_server_ctx(s->w->px);
    if (!ctx) {
        session_fail(s, 1043, "08S01",
                     s->sock.tls ? "Bad handshake: a second SSLRequest"
                                 : "Bad handshake: mymux was not configured for TLS");
        return;
    }
    int rc = sock_tls_start(&s->sock, ctx, true, NULL, 0);
    SSL_CTX_free(ctx); /* the connection holds its own reference */
    if (rc < 0) {
        session_fail(s, 1043, "08S01", "Bad handshake: cannot start TLS");
        return;
    }
    log_debug("tls_start", "conn_id=%u client=%s", s->id, s->peer);
}

/* tls.require, or the user's require_tls, refuses a client that came in plain. */
static bool insecure_refused(struct mx_session *s, const struct mx_user *u)
{
    if (s->sock.tls) return false;
    if (!s->w->px->cfg->tls_require && !(u && u->require_tls)) return false;
    log_info("insecure_refused", "conn_id=%u client=%s user=\"%s\"", s->id, s->peer,
             s->cred.user);
    session_fail(s, 3159, "HY000",
                 "Connections using insecure transport are prohibited while "
                 "--require_secure_transport=ON.");
    return true;
}

void session_send_greeting(struct mx_session *s)
{
    auth_make_nonce(s->nonce);
    snprintf(s->plugin, sizeof s->plugin, "%s", PLUGIN_NATIVE);
    struct mx_buf *o = sock_out(&s->sock);
    if (!o) {
        session_close(s, "oom");
        return;
    }
    struct pkt_wr w;
    pkt_wr_init(&w, o->data + o->wpos, o->cap - o->wpos);
    hs_write_greeting(&w, s->id, s->w->px->server_version, s->nonce, offered_caps(s),
                      s->w->px->default_charset, SERVER_STATUS_AUTOCOMMIT, PLUGIN_NATIVE);
    o->wpos += (uint32_t)w.pos;
    session_set_state(s, SS_HANDSHAKE);
    s->status = SERVER_STATUS_AUTOCOMMIT;
    if (!session_flush(s)) return;
    sock_read_start(&s->sock);
}

static void client_ip(const struct mx_session *s, char *out, size_t cap)
{
    snprintf(out, cap, "%s", s->peer);
    char *colon = strrchr(out, ':');
    if (colon) *colon = 0;
}

/* A password check failed (counted by the guard since guard_auth_begin). An
 * address or user name that keeps failing is answered slowly, then the
 * address is refused for a while (limits.auth_failures). */
static void auth_failed(struct mx_session *s, bool used_password)
{
    char ip[64];
    client_ip(s, ip, sizeof ip);
    log_info("auth_failed", "conn_id=%u client=%s user=\"%s\"", s->id, s->peer, s->cred.user);
    STAT_ADD(s->w->px->stats.auth_failures, 1);
    if (config_find_user(s->w->px->cfg, s->cred.user)) {
        struct mx_user_stats *us = ustats_for(s->w->px, s->cred.user);
        if (us) STAT_ADD(us->auth_failures, 1);
    }
    if (guard_auth_end(s->w->px, ip, s->cred.user, GUARD_FAILED) != GUARD_OK) {
        s->deny_pending = true;
        s->deny_used_password = used_password;
        sock_read_stop(&s->sock);
        uv_timer_start(&s->timer, session_deny_timer_cb(), 1000, 0);
        return;
    }
    session_deny_now(s, used_password);
}

static void restore_cred(struct mx_session *s);
static void change_user_refused(struct mx_session *s, uint16_t code, const char *state,
                                const char *msg);

/* Before any password check, at handshake and at COM_CHANGE_USER alike: the
 * guard takes a failure in advance. False when the attempt was answered
 * without a check: the address is blocked (1129, whatever the password), or
 * the name failed too often and so did this address (a failure, 1045). */
static bool auth_gate(struct mx_session *s, bool used_password)
{
    char ip[64];
    client_ip(s, ip, sizeof ip);
    enum guard_verdict v = guard_auth_begin(s->w->px, ip, s->cred.user);
    if (v == GUARD_HELD) {
        auth_failed(s, used_password);
        return false;
    }
    if (v != GUARD_BLOCKED) return true;
    log_info("client_refused", "conn_id=%u client=%s user=\"%s\" reason=blocked", s->id,
             s->peer, s->cred.user);
    char m[128];
    snprintf(m, sizeof m, "Host '%s' is blocked because of many connection errors", ip);
    if (s->changing_user) {
        restore_cred(s);
        change_user_refused(s, 1129, "HY000", m);
        return false;
    }
    session_fail(s, 1129, "HY000", m);
    return false;
}

/* The check ended without a failure (passed, or another exchange follows). */
static void auth_gate_end(struct mx_session *s, enum guard_outcome o)
{
    char ip[64];
    client_ip(s, ip, sizeof ip);
    (void)guard_auth_end(s->w->px, ip, s->cred.user, o);
}

/* A failure found before a check could run (a malformed full-auth answer). */
static void auth_failed_unchecked(struct mx_session *s)
{
    if (auth_gate(s, true)) auth_failed(s, true);
}

void session_deny_now(struct mx_session *s, bool used_password)
{
    char ip[64];
    client_ip(s, ip, sizeof ip);
    char msg[300];
    snprintf(msg, sizeof msg, "Access denied for user '%s'@'%s' (using password: %s)",
             s->cred.user, ip, used_password ? "YES" : "NO");
    if (s->changing_user) {
        restore_cred(s);
        change_user_refused(s, 1045, "28000", msg);
        return;
    }
    session_fail(s, 1045, "28000", msg);
}

/* A refused COM_CHANGE_USER: the session stays as it was before it. */
static void restore_cred(struct mx_session *s)
{
    s->changing_user = false;
    cred_clear(&s->cred);
    s->cred = *s->saved_cred;
    free(s->saved_cred);
    s->saved_cred = NULL;
}

/* A COM_CHANGE_USER refused: the server resets the session even then, so the
 * old user keeps a fresh session with its schema. Counted as MariaDB counts
 * them: a connection gets three tries. */
static void change_user_refused(struct mx_session *s, uint16_t code, const char *state,
                                const char *msg)
{
    if (s->change_user_failures < UINT8_MAX) s->change_user_failures++;
    session_drop_backend(s);
    sstate_reset(s);
    s->status = SERVER_STATUS_AUTOCOMMIT;
    session_set_state(s, SS_LOCAL);
    if (!session_reply_err(s, code, state, "%s", msg)) return;
    if (!s->sock.writing) session_set_state(s, SS_IDLE);
    sock_read_start(&s->sock);
}

static void send_raw(struct mx_session *s, const uint8_t *p, size_t n)
{
    struct mx_buf *o = sock_out(&s->sock);
    if (!o) {
        session_close(s, "oom");
        return;
    }
    struct pkt_wr w;
    pkt_wr_init(&w, o->data + o->wpos, o->cap - o->wpos);
    size_t off = pkt_wr_begin(&w);
    pkt_wr_bytes(&w, p, n);
    pkt_wr_end(&w, off, ++s->seq);
    o->wpos += (uint32_t)w.pos;
    session_flush(s);
}

static void auth_switch(struct mx_session *s, const char *plugin)
{
    snprintf(s->plugin, sizeof s->plugin, "%s", plugin);
    struct mx_buf *o = sock_out(&s->sock);
    if (!o) {
        session_close(s, "oom");
        return;
    }
    struct pkt_wr w;
    pkt_wr_init(&w, o->data + o->wpos, o->cap - o->wpos);
    hs_write_auth_switch(&w, ++s->seq, plugin, s->nonce);
    o->wpos += (uint32_t)w.pos;
    session_set_state(s, SS_AUTH_SWITCH);
    session_flush(s);
}

/* COM_CHANGE_USER accepted: the server resets the session before it answers,
 * so the old identity's locks and temporary tables are gone when the client
 * reads the OK (bug31418 of MariaDB's client tests takes a lock, changes user
 * and asks IS_FREE_LOCK at once). A connection the new identity may use stays
 * and is reset within the login's sync, before the OK; any other goes back to
 * the pool, which resets it there (or closes it, when a reset cannot clear
 * what it holds). */
static void keep_for_reset(struct mx_session *s)
{
    struct mx_backend *be = s->be;
    struct mx_pool_req req;
    session_pool_req(s, &req);
    if (be && be->state == BE_ATTACHED && !be->broken && !s->schema_moved &&
        !(s->pins & (CLS_PIN_PROFILING | CLS_PIN_ROLE)) && pool_fits(be, &req)) {
        be->dirty = true; /* reset by the login's sync, or by the pool if it ends first */
        return;
    }
    session_drop_backend(s);
}

/* The user's secret is proven: record what the backend login needs. */
static void accept_user(struct mx_session *s, const struct mx_user *u)
{
    if (u->require_tls && insecure_refused(s, u)) return;
    struct mx_cred *c = &s->cred;
    if (u->backend_user) snprintf(c->user, sizeof c->user, "%s", u->backend_user);
    else snprintf(c->user, sizeof c->user, "%s", u->name);
    if (u->backend_password) {
        free(c->plain);
        c->plain = strdup(u->backend_password);
        c->have_native1 = c->have_sha2_1 = false;
    } else if (u->pw_kind == MX_PW_PLAIN && !c->plain) {
        c->plain = strdup(u->password);
    }
    if ((u->backend_password || u->pw_kind == MX_PW_PLAIN) && !c->plain) {
        session_fail(s, 1041, "HY000", "Out of memory");
        return;
    }
    if (s->reg) registry_remove(s->w->px, s->reg);
    s->reg = NULL;
    struct mx_reg_entry *e = &s->reg_entry;
    s->query_timeout_ms = u->query_timeout_ms;
    e->id = s->id;
    e->worker = s->w->id;
    snprintf(e->user, sizeof e->user, "%s", u->name);
    snprintf(e->backend_user, sizeof e->backend_user, "%s", u->backend_user ? u->backend_user : u->name);
    client_ip(s, e->host, sizeof e->host);
    atomic_store(&e->server, s->be ? s->server : -1);
    atomic_store(&e->backend_tid, s->be ? s->be->thread_id : 0);
    atomic_store(&e->busy, 0);
    atomic_store(&e->kill_until_ms, 0);
    if (registry_add(s->w->px, e) == 0) s->reg = e;
    else log_warn("registry_add_failed", "conn_id=%u (out of memory: KILL cannot reach it)", s->id);
    if (s->ustats) atomic_fetch_sub(&s->ustats->sessions, 1);
    s->ustats = NULL;
    s->ustats = ustats_for(s->w->px, u->name);
    if (s->ustats) {
        if (u->max_connections > 0 && atomic_load(&s->ustats->sessions) >= u->max_connections) {
            STAT_ADD(s->w->px->stats.user_limit_refused, 1);
            s->ustats = NULL;
            char m[200];
            snprintf(m, sizeof m, "Too many connections (user '%.64s' has %d, its limit)",
                     u->name, u->max_connections);
            log_info("user_limit", "conn_id=%u user=\"%s\" max=%d", s->id, u->name,
                     u->max_connections);
            session_fail(s, 1040, "08004", m);
            return;
        }
        atomic_fetch_add(&s->ustats->sessions, 1);
        STAT_ADD(s->ustats->connects, 1);
    }
    log_info("connect", "conn_id=%u client=%s user=\"%s\" db=\"%s\"", s->id, s->peer, u->name,
             s->pending_schema);
    if (s->changing_user) {
        /* a new identity: the old connection state goes with the old user */
        s->changing_user = false;
        cred_clear(s->saved_cred);
        free(s->saved_cred);
        s->saved_cred = NULL;
        s->schema[0] = 0;
        s->status = SERVER_STATUS_AUTOCOMMIT;
        keep_for_reset(s);
    }
    s->hs_charset = s->charset;
    sstate_reset(s);
    session_authenticated(s);
}

/* Secrets no password matches, checked for a user name that is not
 * configured, so that it costs what a configured one costs: a random
 * SHA1(SHA1()) and SHA256(SHA256()), and a caching_sha2 string with a random
 * salt and digest whose round count is that of the first configured
 * caching_sha2 user (the crypt is what takes time). Made once per process. */
static struct {
    uint8_t native2[20], sha2[32];
    char crypt_tail[20 + 43];
} dummy;
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

static void dummy_init(void)
{
    static const char b64[] = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    uint8_t r[AUTH_NONCE_LEN];
    auth_make_nonce(r);
    memcpy(dummy.native2, r, 20);
    memcpy(dummy.crypt_tail, r, 20); /* printable, no '$': a valid salt */
    auth_make_nonce(r);
    memcpy(dummy.sha2, r, 20);
    auth_make_nonce(r);
    memcpy(dummy.sha2 + 20, r, 12);
    for (int i = 0; i < 43; i++) {
        if (i % AUTH_NONCE_LEN == 0) auth_make_nonce(r);
        dummy.crypt_tail[20 + i] = b64[r[i % AUTH_NONCE_LEN] % 64];
    }
}

static void dummy_crypt(const struct mx_config *cfg, char out[71])
{
    const char *prefix = "$A$005$";
    for (size_t i = 0; i < cfg->n_users; i++) {
        const char *h = cfg->users[i].sha2_hash;
        if (cfg->users[i].pw_kind == MX_PW_SHA2 && h && strlen(h) == 70) {
            prefix = h;
            break;
        }
    }
    memcpy(out, prefix, 7);
    memcpy(out + 7, dummy.crypt_tail, sizeof dummy.crypt_tail);
    out[70] = 0;
}

static bool verify_native(struct mx_session *s, const struct mx_user *u, const uint8_t *tok,
                          size_t len)
{
    if (!u) { /* the work of a wrong password, against a secret nobody has */
        (void)auth_native_verify(dummy.native2, false, s->nonce, tok, len, NULL);
        return false;
    }
    if (u->pw_kind == MX_PW_SHA2) return false;
    bool empty = u->pw_kind == MX_PW_PLAIN && u->password[0] == 0;
    uint8_t stage1[20];
    if (!auth_native_verify(u->native_stage2, empty, s->nonce, tok, len, stage1)) return false;
    if (!empty) {
        s->cred.have_native1 = true;
        memcpy(s->cred.native1, stage1, 20);
    }
    return true;
}

static bool verify_sha2_fast(struct mx_session *s, const struct mx_user *u, const uint8_t *tok,
                             size_t len, bool *need_full)
{
    *need_full = false;
    if (!u) {
        /* look like a caching_sha2 user with a cold cache when there are
         * such users (then full auth decides, against the dummy crypt), else
         * like a plaintext user */
        *need_full = sha2_users_exist(s->w->px->cfg);
        if (!*need_full) {
            uint8_t st2[32];
            auth_sha2_stage2((const char *)dummy.sha2, sizeof dummy.sha2, st2);
            (void)auth_sha2_verify(st2, s->nonce, tok, len, NULL);
        }
        return false;
    }
    uint8_t stage2[32];
    if (u->pw_kind == MX_PW_PLAIN) {
        auth_sha2_stage2(u->password, strlen(u->password), stage2);
    } else if (u->pw_kind == MX_PW_SHA2) {
        if (!sha2_cache_get(u->name, stage2)) {
            *need_full = true;
            return false;
        }
    } else {
        return false;
    }
    uint8_t stage1[32];
    if (u->pw_kind == MX_PW_PLAIN && u->password[0] == 0) return len == 0 || (len == 1 && !tok[0]);
    if (!auth_sha2_verify(stage2, s->nonce, tok, len, stage1)) {
        if (u->pw_kind == MX_PW_SHA2) *need_full = true; /* cache may be stale */
        return false;
    }
    s->cred.have_sha2_1 = true;
    memcpy(s->cred.sha2_1, stage1, 32);
    return true;
}

/* A token for s->plugin has arrived (first response or after a switch). */
static void check_token(struct mx_session *s, const struct mx_user *u, const uint8_t *tok,
                        size_t len)
{
    pthread_once(&dummy_once, dummy_init);
    if (!auth_gate(s, len > 0)) return;
    if (strcmp(s->plugin, PLUGIN_NATIVE) == 0) {
        if (verify_native(s, u, tok, len)) {
            auth_gate_end(s, GUARD_PASSED);
            accept_user(s, u);
        } else {
            auth_failed(s, len > 0);
        }
        return;
    }
    bool need_full;
    if (verify_sha2_fast(s, u, tok, len, &need_full)) {
        auth_gate_end(s, GUARD_PASSED);
        uint8_t ok = 3; /* fast auth success, then OK */
        send_raw(s, (const uint8_t[]){0x01, ok}, 2);
        accept_user(s, u);
        return;
    }
    if (need_full && len > 0) {
        /* not a failure yet: the full authentication is the check */
        auth_gate_end(s, GUARD_UNDECIDED);
        send_raw(s, (const uint8_t[]){0x01, 0x04}, 2); /* perform full authentication */
        session_set_state(s, SS_AUTH_FULL);
        return;
    }
    auth_failed(s, len > 0);
}

/* Which plugin the user's stored secret can verify. */
static const char *plugin_for(const struct mx_session *s, const struct mx_user *u,
                              const char *client_plugin)
{
    if (!u) {
        if (sha2_users_exist(s->w->px->cfg)) return PLUGIN_SHA2;
        return strcmp(client_plugin, PLUGIN_SHA2) == 0 ? PLUGIN_SHA2 : PLUGIN_NATIVE;
    }
    switch (u->pw_kind) {
    case MX_PW_NATIVE: return PLUGIN_NATIVE;
    case MX_PW_SHA2: return PLUGIN_SHA2;
    case MX_PW_PLAIN:
    default:
        return strcmp(client_plugin, PLUGIN_SHA2) == 0 ? PLUGIN_SHA2 : PLUGIN_NATIVE;
    }
}

static void start_auth(struct mx_session *s, const struct hs_response *r)
{
    const struct mx_user *u = config_find_user(s->w->px->cfg, r->user);
    snprintf(s->cred.user, sizeof s->cred.user, "%s", r->user);
    const char *cp = r->plugin[0] ? r->plugin : PLUGIN_NATIVE;
    const char *want = plugin_for(s, u, cp);
    /* A client that names a plugin other than the greeting's may send no data
     * and wait for a switch (libmariadb does): ask with our nonce. */
    bool empty_pw = u && u->pw_kind == MX_PW_PLAIN && !u->password[0];
    if (strcmp(cp, want) != 0 || (r->auth_len == 0 && !empty_pw && strcmp(cp, PLUGIN_NATIVE) != 0)) {
        auth_switch(s, want);
        return;
    }
    snprintf(s->plugin, sizeof s->plugin, "%s", want);
    check_token(s, u, r->auth, r->auth_len);
}

static void full_auth_password(struct mx_session *s, const char *pw, size_t n)
{
    pthread_once(&dummy_once, dummy_init);
    if (!auth_gate(s, true)) return;
    const struct mx_user *u = config_find_user(s->w->px->cfg, s->cred.user);
    bool ok = false;
    if (u && u->pw_kind == MX_PW_SHA2) {
        ok = auth_sha2_crypt_check(u->sha2_hash, pw, n);
    } else if (u && u->pw_kind == MX_PW_PLAIN) {
        ok = strlen(u->password) == n && memcmp(u->password, pw, n) == 0;
    } else { /* an unknown name pays for the crypt a configured one pays for */
        char fake[71];
        dummy_crypt(s->w->px->cfg, fake);
        (void)auth_sha2_crypt_check(fake, pw, n);
    }
    if (!ok) {
        auth_failed(s, true);
        return;
    }
    auth_gate_end(s, GUARD_PASSED);
    uint8_t stage2[32];
    auth_sha2_stage2(pw, n, stage2);
    sha2_cache_put(u->name, stage2);
    free(s->cred.plain);
    s->cred.plain = strndup(pw, n);
    accept_user(s, u);
}

void session_auth_packet(struct mx_session *s, const uint8_t *p, size_t len, uint8_t seq)
{
    s->seq = seq;
    switch (s->state) {
    case SS_HANDSHAKE: {
        struct hs_response r;
        if (hs_parse_response(p, len, &r) != 0) {
            log_info("bad_handshake", "conn_id=%u client=%s", s->id, s->peer);
            session_fail(s, 1043, "08S01", "Bad handshake");
            return;
        }
        if (r.ssl_request) {
            start_tls(s);
            return;
        }
        snprintf(s->cred.user, sizeof s->cred.user, "%s", r.user);
        if (s->w->px->cfg->tls_require && insecure_refused(s, NULL)) return;
        s->caps = r.caps & offered_caps(s);
        s->zstd_level = r.zstd_level;
        s->charset = charset_name_of(r.charset) ? r.charset : s->w->px->default_charset;
        if (r.has_db && (s->caps & CLIENT_CONNECT_WITH_DB))
            snprintf(s->pending_schema, sizeof s->pending_schema, "%.191s", r.db);
        start_auth(s, &r);
        return;
    }
    case SS_AUTH_SWITCH: {
        const struct mx_user *u = config_find_user(s->w->px->cfg, s->cred.user);
        check_token(s, u, p, len);
        return;
    }
    case SS_AUTH_FULL:
        if (len == 1 && p[0] == 0x02) { /* public key request */
            size_t n;
            const char *pem = auth_rsa_public_pem(&n);
            if (!pem) {
                session_fail(s, 1045, "28000", "mymux has no RSA key for caching_sha2_password");
                return;
            }
            uint8_t buf[2048];
            if (n + 1 > sizeof buf) {
                session_fail(s, 1045, "28000", "RSA key too large");
                return;
            }
            buf[0] = 0x01;
            memcpy(buf + 1, pem, n);
            send_raw(s, buf, n + 1);
            session_set_state(s, SS_AUTH_RSA);
            return;
        }
        if (s->sock.tls) { /* over TLS the client sends its password in clear, NUL-ended */
            size_t n = len;
            if (n > 0 && p[n - 1] == 0) n--;
            if (memchr(p, 0, n) || n >= 512) {
                auth_failed_unchecked(s);
                return;
            }
            full_auth_password(s, (const char *)p, n);
            return;
        }
        /* a password in clear text is accepted only over TLS, which this
         * connection does not have */
        session_fail(s, 1045, "28000",
                     "caching_sha2_password full authentication needs TLS or the RSA public key "
                     "exchange (use --get-server-public-key)");
        return;
    case SS_AUTH_RSA: {
        char pw[512];
        int n = auth_rsa_decrypt_password(p, len, s->nonce, pw, sizeof pw);
        if (n < 0) {
            auth_failed_unchecked(s);
            return;
        }
        full_auth_password(s, pw, (size_t)n);
        memset(pw, 0, sizeof pw);
        return;
    }
    default:
        session_close(s, "unexpected_auth_packet");
    }
}

void session_change_user(struct mx_session *s, const uint8_t *p, size_t len)
{
    struct hs_response r;
    if (s->change_user_failures >= 3) {
        /* as MariaDB: no fourth try on this connection (and a failure for the
         * address's and the named user's guard); the session is reset as by
         * any refusal */
        char ip[64];
        client_ip(s, ip, sizeof ip);
        log_info("auth_failed", "conn_id=%u client=%s change_user_tries=%u", s->id, s->peer,
                 s->change_user_failures);
        STAT_ADD(s->w->px->stats.auth_failures, 1);
        bool named = hs_parse_change_user(p, len, s->caps, &r) == 0;
        guard_addr_failed(s->w->px, ip, named ? r.user : "");
        change_user_refused(s, 1047, "08S01", "Unknown command");
        return;
    }
    if (hs_parse_change_user(p, len, s->caps, &r) != 0) {
        session_fail(s, 1047, "08S01", "mymux: malformed COM_CHANGE_USER");
        return;
    }
    /* the old credentials come back if the new user is refused */
    if (!s->saved_cred) s->saved_cred = malloc(sizeof *s->saved_cred);
    if (!s->saved_cred) {
        session_fail(s, 1041, "HY000", "Out of memory");
        return;
    }
    *s->saved_cred = s->cred;
    memset(&s->cred, 0, sizeof s->cred);
    s->changing_user = true;
    if (r.charset && charset_name_of(r.charset)) s->charset = r.charset;
    s->pending_schema[0] = 0;
    if (r.has_db) snprintf(s->pending_schema, sizeof s->pending_schema, "%.191s", r.db);
    start_auth(s, &r);
}
