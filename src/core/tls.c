/* TLS engine and contexts: OpenSSL between two memory BIOs, so the socket layer
 * moves ciphertext and the protocol code above it never sees TLS; contexts are
 * built from the configuration snapshot and swapped on reload.
 *
 * TLS 1.0 and 1.1 (tls.min_version: TLSv1 or TLSv1.1): OpenSSL 3 refuses them
 * at its default security level 1, because they sign the handshake with SHA-1
 * (and MD5+SHA-1), and Debian's /etc/ssl/openssl.cnf asks for level 2 and
 * MinProtocol TLSv1.2. mymux then sets security level 0 on the client-facing
 * context and, unless tls.ciphers is set, the cipher list "DEFAULT:@SECLEVEL=0",
 * which keeps the CBC-SHA1 suites these versions need (ECDHE-RSA-AES128-SHA,
 * AES256-SHA, ...). An operator's own tls.ciphers must then name such suites
 * and end with ":@SECLEVEL=0". The protocol version bounds set here override
 * openssl.cnf's MinProtocol. */
#include "core/tls.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "core/config.h"
#include "core/log.h"
#include "core/proxy.h"

/* ---- engine ---- */

static void tls_set_err(struct mx_tls *t, const char *what)
{
    unsigned long e = ERR_peek_last_error();
    long vr = t->ssl ? SSL_get_verify_result(t->ssl) : X509_V_OK;
    if (vr != X509_V_OK)
        snprintf(t->err, sizeof t->err, "%s: certificate verify failed: %s", what,
                 X509_verify_cert_error_string(vr));
    else if (e)
        snprintf(t->err, sizeof t->err, "%s: %s", what, ERR_reason_error_string(e)
                                                            ? ERR_reason_error_string(e)
                                                            : "unknown error");
    else
        snprintf(t->err, sizeof t->err, "%s failed", what);
    ERR_clear_error();
}

int tls_engine_init(struct mx_tls *t, SSL_CTX *ctx, bool server)
{
    memset(t, 0, sizeof *t);
    t->slot = -1;
    t->ssl = SSL_new(ctx);
    t->rbio = BIO_new(BIO_s_mem());
    t->wbio = BIO_new(BIO_s_mem());
    if (!t->ssl || !t->rbio || !t->wbio) {
        if (t->ssl) SSL_free(t->ssl);
        BIO_free(t->rbio);
        BIO_free(t->wbio);
        t->ssl = NULL;
        return -1;
    }
    /* an empty read BIO means "wait", not EOF */
    BIO_set_mem_eof_return(t->rbio, -1);
    BIO_set_mem_eof_return(t->wbio, -1);
    SSL_set_bio(t->ssl, t->rbio, t->wbio); /* the SSL owns them now */
    if (server) SSL_set_accept_state(t->ssl);
    else SSL_set_connect_state(t->ssl);
    return 0;
}

void tls_engine_free(struct mx_tls *t)
{
    if (t->ssl) SSL_free(t->ssl);
    t->ssl = NULL;
    t->rbio = t->wbio = NULL;
}

int tls_feed(struct mx_tls *t, const uint8_t *p, size_t n)
{
    while (n > 0) {
        int w = BIO_write(t->rbio, p, n > INT32_MAX ? INT32_MAX : (int)n);
        if (w <= 0) return TLS_ERR;
        p += w;
        n -= (size_t)w;
    }
    return TLS_OK;
}

/* Maps an SSL_* failure to the engine's results. */
static int tls_result(struct mx_tls *t, int r, const char *what)
{
    int e = SSL_get_error(t->ssl, r);
    switch (e) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
        return TLS_WANT;
    case SSL_ERROR_ZERO_RETURN:
        return TLS_EOF;
    default:
        tls_set_err(t, what);
        return TLS_ERR;
    }
}

int tls_read(struct mx_tls *t, uint8_t *out, size_t cap, size_t *got)
{
    *got = 0;
    size_t n = 0;
    int r = SSL_read_ex(t->ssl, out, cap, &n);
    if (r == 1) {
        *got = n;
        return TLS_OK;
    }
    return tls_result(t, r, SSL_is_init_finished(t->ssl) ? "TLS read" : "TLS handshake");
}

int tls_write(struct mx_tls *t, const uint8_t *p, size_t n, size_t *took)
{
    *took = 0;
    size_t w = 0;
    int r = SSL_write_ex(t->ssl, p, n, &w);
    if (r == 1) {
        *took = w;
        return TLS_OK;
    }
    return tls_result(t, r, SSL_is_init_finished(t->ssl) ? "TLS write" : "TLS handshake");
}

int tls_handshake(struct mx_tls *t)
{
    int r = SSL_do_handshake(t->ssl);
    if (r == 1) return TLS_OK;
    int rc = tls_result(t, r, "TLS handshake");
    return rc == TLS_EOF ? TLS_ERR : rc;
}

size_t tls_out_pending(const struct mx_tls *t)
{
    return BIO_ctrl_pending(t->wbio);
}

size_t tls_take(struct mx_tls *t, uint8_t *out, size_t cap)
{
    if (cap == 0 || BIO_ctrl_pending(t->wbio) == 0) return 0;
    int r = BIO_read(t->wbio, out, cap > INT32_MAX ? INT32_MAX : (int)cap);
    return r > 0 ? (size_t)r : 0;
}

bool tls_has_input(const struct mx_tls *t)
{
    return BIO_ctrl_pending(t->rbio) > 0 || SSL_pending(t->ssl) > 0;
}

void tls_shutdown(struct mx_tls *t)
{
    if (t->ssl && SSL_is_init_finished(t->ssl)) SSL_shutdown(t->ssl);
    ERR_clear_error();
}

bool tls_session_reused(const struct mx_tls *t)
{
    return t->ssl && SSL_session_reused(t->ssl);
}

/* ---- contexts ---- */

static int version_of(const char *name)
{
    if (!name) return 0;
    if (strcmp(name, "TLSv1") == 0) return TLS1_VERSION;
    if (strcmp(name, "TLSv1.1") == 0) return TLS1_1_VERSION;
    if (strcmp(name, "TLSv1.2") == 0) return TLS1_2_VERSION;
    if (strcmp(name, "TLSv1.3") == 0) return TLS1_3_VERSION;
    return 0;
}

static void ssl_err(char *err, size_t errlen, const char *what, const char *file)
{
    unsigned long e = ERR_peek_last_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    snprintf(err, errlen, "%s%s%s: %s", what, file ? " " : "", file ? file : "",
             r ? r : "failed");
    ERR_clear_error();
}

SSL_CTX *tls_server_ctx_new(const struct mx_config *cfg, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        ssl_err(err, errlen, "SSL_CTX_new", NULL);
        return NULL;
    }
    int minv = version_of(cfg->tls_min_version);
    int maxv = version_of(cfg->tls_max_version);
    if (!minv) minv = TLS1_2_VERSION;
    if (minv < TLS1_2_VERSION) {
        /* legacy clients: see the comment at the top of this file */
        SSL_CTX_set_security_level(ctx, 0);
        if (!cfg->tls_ciphers && SSL_CTX_set_cipher_list(ctx, "DEFAULT:@SECLEVEL=0") != 1) {
            ssl_err(err, errlen, "tls ciphers", NULL);
            goto fail;
        }
    }
    if (SSL_CTX_set_min_proto_version(ctx, minv) != 1 ||
        SSL_CTX_set_max_proto_version(ctx, maxv) != 1) {
        ssl_err(err, errlen, "tls versions", NULL);
        goto fail;
    }
    if (cfg->tls_ciphers && SSL_CTX_set_cipher_list(ctx, cfg->tls_ciphers) != 1) {
        ssl_err(err, errlen, "tls.ciphers", NULL);
        goto fail;
    }
    if (cfg->tls_ciphersuites && SSL_CTX_set_ciphersuites(ctx, cfg->tls_ciphersuites) != 1) {
        ssl_err(err, errlen, "tls.ciphersuites", NULL);
        goto fail;
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert) != 1) {
        ssl_err(err, errlen, "tls.cert", cfg->tls_cert);
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_key, SSL_FILETYPE_PEM) != 1) {
        ssl_err(err, errlen, "tls.key", cfg->tls_key);
        goto fail;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        ssl_err(err, errlen, "tls.key does not match tls.cert", NULL);
        goto fail;
    }
    if (cfg->tls_ca) {
        /* client certificates are optional, but checked when presented */
        if (SSL_CTX_load_verify_locations(ctx, cfg->tls_ca, NULL) != 1) {
            ssl_err(err, errlen, "tls.ca", cfg->tls_ca);
            goto fail;
        }
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(cfg->tls_ca);
        if (names) SSL_CTX_set_client_CA_list(ctx, names);
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    }
    /* resumption: TLS 1.2 session ids in the context's cache and tickets (1.2
     * and 1.3); the id context lets cached sessions be used with client certs */
    static const unsigned char sid_ctx[] = "mymux";
    SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof sid_ctx - 1);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
    SSL_CTX_sess_set_cache_size(ctx, 20000);
    SSL_CTX_set_timeout(ctx, 3600);
    SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

/* Sessions kept per backend slot for the next connection's resumption. */
static struct {
    SSL_SESSION *sess;
} bsess[MX_MAX_SERVERS];
static pthread_mutex_t bsess_lock = PTHREAD_MUTEX_INITIALIZER;

static int on_new_backend_session(SSL *ssl, SSL_SESSION *sess)
{
    intptr_t slot = (intptr_t)SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)) - 1;
    if (slot < 0 || slot >= MX_MAX_SERVERS || !SSL_SESSION_is_resumable(sess)) return 0;
    pthread_mutex_lock(&bsess_lock);
    SSL_SESSION *old = bsess[slot].sess;
    bsess[slot].sess = sess; /* we keep the reference OpenSSL gives us */
    pthread_mutex_unlock(&bsess_lock);
    if (old) SSL_SESSION_free(old);
    return 1;
}

SSL_CTX *tls_client_ctx_new(const struct mx_backend_tls_cfg *bt, int slot, char *err,
                            size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        ssl_err(err, errlen, "SSL_CTX_new", NULL);
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (bt->mode >= MX_BTLS_VERIFY_CA) {
        int ok = bt->ca ? SSL_CTX_load_verify_locations(ctx, bt->ca, NULL)
                        : SSL_CTX_set_default_verify_paths(ctx);
        if (ok != 1) {
            ssl_err(err, errlen, "backend tls.ca", bt->ca);
            goto fail;
        }
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    }
    if (bt->cert) {
        if (SSL_CTX_use_certificate_chain_file(ctx, bt->cert) != 1) {
            ssl_err(err, errlen, "backend tls.cert", bt->cert);
            goto fail;
        }
        if (SSL_CTX_use_PrivateKey_file(ctx, bt->key ? bt->key : bt->cert, SSL_FILETYPE_PEM) !=
                1 ||
            SSL_CTX_check_private_key(ctx) != 1) {
            ssl_err(err, errlen, "backend tls.key", bt->key);
            goto fail;
        }
    }
    SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (slot >= 0) {
        SSL_CTX_set_app_data(ctx, (void *)(intptr_t)(slot + 1));
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
        SSL_CTX_sess_set_new_cb(ctx, on_new_backend_session);
    }
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

static bool is_ip(const char *s)
{
    unsigned char b[16];
    return inet_pton(AF_INET, s, b) == 1 || inet_pton(AF_INET6, s, b) == 1;
}

int tls_backend_prepare(struct mx_tls *t, const struct mx_backend_tls_cfg *bt, int slot)
{
    const char *name = bt->server_name;
    if (name && *name && !is_ip(name) && SSL_set_tlsext_host_name(t->ssl, name) != 1) return -1;
    if (bt->mode == MX_BTLS_VERIFY_IDENTITY && name && *name) {
        X509_VERIFY_PARAM *vp = SSL_get0_param(t->ssl);
        int ok = is_ip(name) ? X509_VERIFY_PARAM_set1_ip_asc(vp, name)
                             : X509_VERIFY_PARAM_set1_host(vp, name, 0);
        if (ok != 1) return -1;
    }
    t->slot = slot;
    if (slot >= 0 && slot < MX_MAX_SERVERS) {
        pthread_mutex_lock(&bsess_lock);
        SSL_SESSION *s = bsess[slot].sess;
        if (s) SSL_set_session(t->ssl, s); /* takes its own reference */
        pthread_mutex_unlock(&bsess_lock);
    }
    return 0;
}

/* The contexts in force. Guarded by ctx_lock: taking a reference is one lock
 * per TLS connection, never per packet. */
static pthread_mutex_t ctx_lock = PTHREAD_MUTEX_INITIALIZER;
static SSL_CTX *server_ctx;
static SSL_CTX *backend_ctx[MX_MAX_SERVERS];
static const struct mx_config *built_from; /* the snapshot they were built from */
static bool built;

int tls_reload_from(struct mx_proxy *px, const struct mx_config *cfg, char *err, size_t errlen)
{
    (void)px;
    SSL_CTX *nsrv = NULL, *nbk[MX_MAX_SERVERS] = {0};
    if (cfg->tls_cert && cfg->tls_key) {
        nsrv = tls_server_ctx_new(cfg, err, errlen);
        if (!nsrv) return -1;
    }
    size_t nb = cfg->n_backends < MX_MAX_SERVERS ? cfg->n_backends : MX_MAX_SERVERS;
    for (size_t i = 0; i < nb; i++) {
        const struct mx_backend_tls_cfg *bt = &cfg->backends[i].tls;
        if (bt->mode == MX_BTLS_OFF) continue;
        char e[200];
        nbk[i] = tls_client_ctx_new(bt, (int)i, e, sizeof e);
        if (!nbk[i]) {
            snprintf(err, errlen, "backend %s: %s", cfg->backends[i].name, e);
            for (size_t k = 0; k < i; k++)
                if (nbk[k]) SSL_CTX_free(nbk[k]);
            if (nsrv) SSL_CTX_free(nsrv);
            return -1;
        }
    }
    SSL_CTX *osrv, *obk[MX_MAX_SERVERS];
    pthread_mutex_lock(&ctx_lock);
    osrv = server_ctx;
    server_ctx = nsrv;
    memcpy(obk, backend_ctx, sizeof obk);
    memcpy(backend_ctx, nbk, sizeof nbk);
    built_from = cfg;
    built = true;
    pthread_mutex_unlock(&ctx_lock);
    /* open connections hold their own references */
    if (osrv) SSL_CTX_free(osrv);
    for (int i = 0; i < MX_MAX_SERVERS; i++)
        if (obk[i]) SSL_CTX_free(obk[i]);
    /* a backend's settings may have changed: start without old sessions */
    pthread_mutex_lock(&bsess_lock);
    for (int i = 0; i < MX_MAX_SERVERS; i++) {
        if (bsess[i].sess) SSL_SESSION_free(bsess[i].sess);
        bsess[i].sess = NULL;
    }
    pthread_mutex_unlock(&bsess_lock);
    return 0;
}

int tls_reload(struct mx_proxy *px)
{
    char err[256];
    struct mx_config *cfg = atomic_load(&px->cfg);
    if (tls_reload_from(px, cfg, err, sizeof err) != 0) {
        log_error("tls_reload", "msg=\"%s; keeping the previous certificates\"", err);
        /* do not retry on every connection */
        pthread_mutex_lock(&ctx_lock);
        built_from = cfg;
        built = true;
        pthread_mutex_unlock(&ctx_lock);
        return -1;
    }
    log_info("tls_loaded", "client_tls=%s cert=\"%s\"", cfg->tls_cert ? "on" : "off",
             cfg->tls_cert ? cfg->tls_cert : "");
    return 0;
}

/* Builds the contexts when none were built for the current snapshot. */
static void ensure_built(struct mx_proxy *px)
{
    struct mx_config *cfg = atomic_load(&px->cfg);
    pthread_mutex_lock(&ctx_lock);
    bool fresh = built && built_from == cfg;
    pthread_mutex_unlock(&ctx_lock);
    if (fresh) return;
    static pthread_mutex_t build_lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&build_lock);
    pthread_mutex_lock(&ctx_lock);
    fresh = built && built_from == cfg;
    pthread_mutex_unlock(&ctx_lock);
    if (!fresh) tls_reload(px);
    pthread_mutex_unlock(&build_lock);
}

SSL_CTX *tls_server_ctx(struct mx_proxy *px)
{
    ensure_built(px);
    pthread_mutex_lock(&ctx_lock);
    SSL_CTX *c = server_ctx;
    if (c) SSL_CTX_up_ref(c);
    pthread_mutex_unlock(&ctx_lock);
    return c;
}

SSL_CTX *tls_backend_ctx(struct mx_proxy *px, int slot)
{
    if (slot < 0 || slot >= MX_MAX_SERVERS) return NULL;
    ensure_built(px);
    pthread_mutex_lock(&ctx_lock);
    SSL_CTX *c = backend_ctx[slot];
    if (c) SSL_CTX_up_ref(c);
    pthread_mutex_unlock(&ctx_lock);
    return c;
}

void tls_cleanup(void)
{
    pthread_mutex_lock(&ctx_lock);
    if (server_ctx) SSL_CTX_free(server_ctx);
    server_ctx = NULL;
    for (int i = 0; i < MX_MAX_SERVERS; i++) {
        if (backend_ctx[i]) SSL_CTX_free(backend_ctx[i]);
        backend_ctx[i] = NULL;
    }
    built = false;
    built_from = NULL;
    pthread_mutex_unlock(&ctx_lock);
    pthread_mutex_lock(&bsess_lock);
    for (int i = 0; i < MX_MAX_SERVERS; i++) {
        if (bsess[i].sess) SSL_SESSION_free(bsess[i].sess);
        bsess[i].sess = NULL;
    }
    pthread_mutex_unlock(&bsess_lock);
}
