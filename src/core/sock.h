/* Sockets: one TCP stream with its read buffer, its generated-output buffer and
 * exactly one write in flight; the same layer serves clients and backends, with
 * or without TLS underneath (protocol code above never knows which). */
#ifndef MX_SOCK_H
#define MX_SOCK_H

#include <stdbool.h>
#include <uv.h>

#include "core/buf.h"
#include "core/tls.h"

struct mx_worker;
struct mx_sock;

typedef void (*mx_sock_read_cb)(struct mx_sock *s, ssize_t status);
typedef void (*mx_sock_cb)(struct mx_sock *s);

struct mx_sock {
    uv_tcp_t tcp;          /* tcp.data points back to this struct */
    uv_write_t wreq;
    struct mx_worker *worker;
    struct mx_buf *in;     /* bytes received (see buf.h regions) */
    struct mx_buf *out;    /* packets mymux generated, written from out->rpos */
    void *owner;
    mx_sock_read_cb on_read; /* status > 0: bytes appended to in; < 0: EOF or error */
    mx_sock_cb on_drain;     /* the asynchronous write finished (not called on close) */
    mx_sock_cb on_close;     /* handle closed: the owner may free itself now */
    bool reading;          /* uv_read_start in force */
    bool writing;          /* a uv_write is in flight */
    bool out_in_flight;    /* ...and it writes from `out` */
    bool closing;
    bool wr_active;        /* a uv_write request is in flight (ours or TLS's own) */
    int write_error;       /* last write error, reported once */
    struct mx_tls *tls;    /* NULL: plain TCP. Else reads decrypt into `in` and
                              writes are encrypted into tls->tout (see sock.c) */
};

void sock_init(struct mx_sock *s, struct mx_worker *w, void *owner);
/* Starts or stops reading (idempotent). */
int sock_read_start(struct mx_sock *s);
void sock_read_stop(struct mx_sock *s);
/* Writes n bytes that stay valid until on_drain. Returns 0 when all were written
 * at once, 1 when a write is now in flight (on_drain follows), or a negative
 * UV error. Must not be called while s->writing. */
int sock_write(struct mx_sock *s, const uint8_t *p, size_t n);
/* The generated-output buffer (acquired on first use); append at out->wpos. */
struct mx_buf *sock_out(struct mx_sock *s);
/* Writes out[rpos, wpos): 0 done (buffer released), 1 in flight, < 0 error. */
int sock_flush_out(struct mx_sock *s);
/* Gives the read buffer back when it holds nothing. */
void sock_release_in(struct mx_sock *s);
void sock_close(struct mx_sock *s);

/* Puts TLS under the buffers from now on (ctx: a context reference the new
 * connection takes its own reference of). Bytes received and not parsed yet
 * (in[rpos, wpos)) are ciphertext and go to the engine. `pre` (may be NULL) is
 * sent in clear before the first TLS byte (a backend SSLRequest). The handshake
 * runs on the next loop iteration; writes queued before it ends wait for it.
 * Returns 0 or a negative UV error. */
int sock_tls_start(struct mx_sock *s, SSL_CTX *ctx, bool server, const uint8_t *pre,
                   size_t pre_n) __attribute__((warn_unused_result));
/* Why TLS failed on this socket ("" when it did not). */
const char *sock_tls_error(const struct mx_sock *s);

#endif
