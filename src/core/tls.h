/* TLS: the OpenSSL engine that sits under the socket buffers (memory BIOs), the
 * contexts built from the configuration (one for clients, one per backend), and
 * their reload. */
#ifndef MX_TLS_H
#define MX_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <openssl/ssl.h>
#include <uv.h>

struct mx_proxy;
struct mx_config;
struct mx_backend_tls_cfg;
struct mx_buf;

/* Results of the engine calls. */
enum { TLS_OK = 0, TLS_WANT = 1, TLS_EOF = 2, TLS_ERR = -1 };

/* One TLS connection: an SSL object between two memory BIOs. The engine part
 * (ssl, rbio, wbio, err) knows nothing of sockets; the rest is the socket
 * layer's state (src/core/sock.c). */
struct mx_tls {
    SSL *ssl;
    BIO *rbio;             /* ciphertext received from the peer, not yet decrypted */
    BIO *wbio;             /* ciphertext produced, not yet moved to `tout` */
    char err[160];         /* why the engine failed (verify result or OpenSSL's reason) */
    int slot;              /* backend slot whose session is kept, -1 none */
    /* sock.c */
    struct mx_buf *tout;   /* ciphertext being written (the one write in flight) */
    const uint8_t *tx_p;   /* the owner's plaintext not yet encrypted (valid until on_drain) */
    size_t tx_n;
    uv_idle_t pump;        /* runs deferred work: input already received, a finished write */
    bool pump_on;
    bool tout_in_flight;   /* the uv_write in flight writes from tout */
    bool rx_blocked;       /* plaintext waits because the read buffer was full */
    bool drain_due;        /* the owner's write finished: call on_drain from the pump */
    bool failed;           /* fatal error: report once from the pump */
    bool eof;              /* close_notify or EOF seen */
    bool reported;
};

/* Engine. server: accept side. sni: host name for the client side (NULL none).
 * Returns 0 or -1 (out of memory). */
int tls_engine_init(struct mx_tls *t, SSL_CTX *ctx, bool server) __attribute__((warn_unused_result));
void tls_engine_free(struct mx_tls *t);
/* Ciphertext from the peer. */
int tls_feed(struct mx_tls *t, const uint8_t *p, size_t n);
/* Decrypts into out: TLS_OK (*got > 0), TLS_WANT (needs more ciphertext; the
 * handshake may have produced output), TLS_EOF (close_notify), TLS_ERR (t->err). */
int tls_read(struct mx_tls *t, uint8_t *out, size_t cap, size_t *got);
/* Encrypts up to n bytes: TLS_OK (*took > 0), TLS_WANT (handshake not done:
 * feed the peer's answer and retry with the same pointer), TLS_ERR. */
int tls_write(struct mx_tls *t, const uint8_t *p, size_t n, size_t *took);
/* Drives the handshake: TLS_OK done, TLS_WANT, TLS_ERR. */
int tls_handshake(struct mx_tls *t);
/* Ciphertext waiting to be sent, and taking it (returns the bytes copied). */
size_t tls_out_pending(const struct mx_tls *t);
size_t tls_take(struct mx_tls *t, uint8_t *out, size_t cap);
/* Received input not decrypted yet (ciphertext or a decrypted record). */
bool tls_has_input(const struct mx_tls *t);
/* Queues a close_notify alert. */
void tls_shutdown(struct mx_tls *t);

/* Contexts. */
/* The client-facing context for cfg: certificate, key, optional CA (client
 * certificates are then verified when presented), versions, ciphers, session
 * cache and tickets. NULL with err filled on failure. */
SSL_CTX *tls_server_ctx_new(const struct mx_config *cfg, char *err, size_t errlen);
/* A backend context: verification per mode, client certificate, sessions kept
 * for slot (-1: none). */
SSL_CTX *tls_client_ctx_new(const struct mx_backend_tls_cfg *bt, int slot, char *err,
                            size_t errlen);
/* Builds every context from cfg (after its backends are in slot order) and
 * swaps them in; connections keep the context they started with (OpenSSL
 * counts references). On failure nothing changes; returns 0 or -1 with err. */
int tls_reload_from(struct mx_proxy *px, const struct mx_config *cfg, char *err, size_t errlen);
/* Same from px->cfg, failures logged: call at startup and after each reload. */
int tls_reload(struct mx_proxy *px);
/* A reference to the client-facing context (SSL_CTX_free it after SSL_new), or
 * NULL when TLS is not configured. Contexts are built on first use, and again
 * when px->cfg changed since they were built, if tls_reload was not called. */
SSL_CTX *tls_server_ctx(struct mx_proxy *px);
/* A reference to backend slot's context, NULL when its tls.mode is off. */
SSL_CTX *tls_backend_ctx(struct mx_proxy *px, int slot);
/* Client side: asks to resume the slot's last session; sets SNI and the
 * identity to verify. Returns 0 or -1. */
int tls_backend_prepare(struct mx_tls *t, const struct mx_backend_tls_cfg *bt, int slot);
/* Whether the connection resumed a session. */
bool tls_session_reused(const struct mx_tls *t);
/* Frees the contexts (exit). */
void tls_cleanup(void);

#endif
