/* Sockets: one TCP stream with its read buffer, its generated-output buffer and
 * exactly one write in flight; the same layer serves clients and backends, with
 * or without TLS underneath (protocol code above never knows which). */
#ifndef MX_SOCK_H
#define MX_SOCK_H

#include <stdbool.h>
#include <uv.h>

#include "core/buf.h"
#include "core/tls.h"
#include "protocol/compress.h"

struct mx_worker;
struct mx_sock;

/* The compressed protocol between TLS (or TCP) and the buffers: frames received
 * gather in `zin` and are decoded into the socket's `in`; the owner's writes are
 * encoded into `zout`, the one lower write in flight. Allocated once when a
 * connection negotiates compression; its buffers come from the worker's list. */
struct mx_zsock {
    struct mx_zstream dec, enc; /* paired: one sequence counter */
    struct mx_buf *zin;         /* compressed bytes not decoded yet */
    struct mx_buf *zout;        /* frames being written */
    const uint8_t *tx_p;        /* the owner's write still to encode */
    size_t tx_n;
    bool busy;                  /* an owner write goes through the encoder */
    bool dec_more;              /* the decoder may hold output */
    bool pump_on;
    bool bad_frame;             /* the decoder refused the peer's input: writing still works */
    bool client_role;           /* towards a server: each command restarts the ids */
    struct mx_buf *plain_out;   /* `out` queued before compression: sent as is */
    uv_idle_t pump;             /* delivers decoded input that raised no read event */
    /* packets of the outgoing stream (client role): where commands start */
    uint8_t o_hdr[4];
    uint8_t o_hgot;
    bool o_cont;
    bool o_first;               /* no packet of the current owner write seen yet */
    uint32_t o_left;
};

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
    struct mx_zsock *z;    /* NULL: no compression. Else above TLS, below the buffers */
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
/* Puts the compressed protocol above TLS/TCP and under the buffers from now on:
 * bytes written after this call are framed, bytes received are decoded. Bytes
 * already received and not parsed (in[ppos, wpos)) are taken as frames. Call it
 * right after queueing the last uncompressed packet (the handshake's OK); a
 * write already in flight goes out as it is. level: zlib -1..9, zstd 0..22.
 * client_role: this side sends commands (a backend connection): the frame
 * sequence restarts at 0 with every packet numbered 0. Idempotent. Returns 0
 * or a negative error (ZS_ENOMEM, ZS_EINVAL, UV_ENOMEM). */
int sock_compress_start(struct mx_sock *s, enum zs_algo algo, int level, bool client_role)
    __attribute__((warn_unused_result));

/* Why TLS failed on this socket ("" when it did not). */
const char *sock_tls_error(const struct mx_sock *s);

#endif
