/* Sockets: read straight into the connection's buffer, write with uv_try_write
 * first and uv_write for the rest, one write in flight, buffers returned when idle;
 * with TLS, ciphertext passes through the engine under those same buffers. */
#include "core/sock.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/worker.h"

/* TLS reads land here first: libuv calls alloc_cb and read_cb back to back on
 * the worker's thread, and the bytes go to the engine before read_cb returns. */
static __thread uint8_t tls_rx[MX_BUF_SIZE];

/* Largest plaintext encrypted at once: one TLS record. */
#define TLS_CHUNK 16384

static void tls_run(struct mx_sock *s);
static void tls_push(struct mx_sock *s);

void sock_init(struct mx_sock *s, struct mx_worker *w, void *owner)
{
    memset(s, 0, sizeof *s);
    s->worker = w;
    s->owner = owner;
    s->tcp.data = s;
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct mx_sock *s = h->data;
    if (s->tls) {
        *buf = uv_buf_init((char *)tls_rx, sizeof tls_rx);
        return;
    }
    if (!s->in) s->in = buf_get(&s->worker->bufs);
    if (!s->in) {
        *buf = uv_buf_init(NULL, 0);
        return;
    }
    if (buf_free_tail(s->in) == 0) buf_compact(s->in);
    *buf = uv_buf_init((char *)s->in->data + s->in->wpos, buf_free_tail(s->in));
}

static void read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    struct mx_sock *s = st->data;
    if (s->closing) return;
    if (nread > 0 && s->tls) {
        if (tls_feed(s->tls, tls_rx, (size_t)nread) != TLS_OK) {
            sock_read_stop(s);
            s->on_read(s, UV_ENOMEM);
            return;
        }
        tls_run(s);
        return;
    }
    if (nread > 0) {
        s->in->wpos += (uint32_t)nread;
        s->on_read(s, nread);
        return;
    }
    if (nread == 0) { /* EAGAIN */
        sock_release_in(s);
        return;
    }
    if (nread == UV_ENOBUFS) { /* buffer full: the owner has to consume first */
        sock_read_stop(s);
        return;
    }
    sock_read_stop(s);
    s->on_read(s, nread);
}

static void pump_start(struct mx_sock *s);

int sock_read_start(struct mx_sock *s)
{
    if (s->closing) return 0;
    if (s->tls) {
        struct mx_tls *t = s->tls;
        /* input the engine holds raises no read event: deliver it from the pump */
        if (t->rx_blocked || t->eof || t->failed || tls_has_input(t)) pump_start(s);
        t->rx_blocked = false;
        if (t->eof || t->failed) {
            s->reading = true; /* the pump reports it */
            return 0;
        }
    }
    if (s->reading) return 0;
    int rc = uv_read_start((uv_stream_t *)&s->tcp, alloc_cb, read_cb);
    if (rc == 0) s->reading = true;
    return rc;
}

void sock_read_stop(struct mx_sock *s)
{
    if (!s->reading) return;
    uv_read_stop((uv_stream_t *)&s->tcp);
    s->reading = false;
}

/* The owner's write (sock_write / sock_flush_out) is complete. */
static void owner_write_done(struct mx_sock *s, int status)
{
    s->writing = false;
    if (s->out_in_flight) {
        s->out_in_flight = false;
        buf_put(&s->worker->bufs, s->out);
        s->out = NULL;
    }
    if (s->closing) return;
    if (status < 0) s->write_error = status;
    s->on_drain(s);
}

static void write_cb(uv_write_t *req, int status)
{
    struct mx_sock *s = req->data;
    s->wr_active = false;
    struct mx_tls *t = s->tls;
    if (t && t->tout_in_flight) {
        /* TLS ciphertext: the owner hears of it through tls_run */
        t->tout_in_flight = false;
        t->tout->rpos = t->tout->wpos = 0;
        if (s->closing) return;
        if (status < 0 && !t->failed) {
            t->failed = true;
            snprintf(t->err, sizeof t->err, "TLS write: %s", uv_strerror(status));
            s->write_error = status;
        }
        tls_run(s);
        return;
    }
    owner_write_done(s, status);
    /* a plain write (a backend's SSLRequest) held TLS output back */
    if (t && !s->closing) tls_run(s);
}

int sock_write(struct mx_sock *s, const uint8_t *p, size_t n)
{
    if (s->closing) return UV_ECANCELED;
    if (s->write_error) return s->write_error;
    if (s->tls) {
        struct mx_tls *t = s->tls;
        if (t->failed) return s->write_error ? s->write_error : UV_EPROTO;
        t->tx_p = p;
        t->tx_n = n;
        tls_push(s);
        if (t->failed) {
            t->reported = true; /* the caller hears it now */
            t->tx_n = 0;
            return s->write_error ? s->write_error : UV_EPROTO;
        }
        if (t->tx_n == 0 && !s->wr_active && !(t->tout && t->tout->wpos > t->tout->rpos) &&
            tls_out_pending(t) == 0)
            return 0;
        s->writing = true;
        return 1;
    }
    uv_buf_t b = uv_buf_init((char *)p, (unsigned)n);
    int w = uv_try_write((uv_stream_t *)&s->tcp, &b, 1);
    if (w == (int)n) return 0;
    if (w < 0 && w != UV_EAGAIN) return w;
    if (w < 0) w = 0;
    b = uv_buf_init((char *)p + w, (unsigned)(n - (size_t)w));
    s->wreq.data = s;
    int rc = uv_write(&s->wreq, (uv_stream_t *)&s->tcp, &b, 1, write_cb);
    if (rc < 0) return rc;
    s->writing = true;
    s->wr_active = true;
    return 1;
}

struct mx_buf *sock_out(struct mx_sock *s)
{
    if (!s->out) s->out = buf_get(&s->worker->bufs);
    return s->out;
}

int sock_flush_out(struct mx_sock *s)
{
    struct mx_buf *o = s->out;
    if (!o) return 0;
    int rc = sock_write(s, o->data + o->rpos, o->wpos - o->rpos);
    if (rc == 1) {
        s->out_in_flight = true;
        return 1;
    }
    buf_put(&s->worker->bufs, o);
    s->out = NULL;
    return rc;
}

void sock_release_in(struct mx_sock *s)
{
    if (s->in && buf_empty(s->in)) {
        buf_put(&s->worker->bufs, s->in);
        s->in = NULL;
    }
}

static void close_cb(uv_handle_t *h)
{
    struct mx_sock *s = h->data;
    if (s->in) buf_put(&s->worker->bufs, s->in);
    if (s->out) buf_put(&s->worker->bufs, s->out);
    s->in = s->out = NULL;
    if (s->tls) {
        if (s->tls->tout) buf_put(&s->worker->bufs, s->tls->tout);
        tls_engine_free(s->tls);
        free(s->tls);
        s->tls = NULL;
    }
    s->on_close(s);
}

static void pump_closed(uv_handle_t *h)
{
    struct mx_sock *s = h->data;
    uv_close((uv_handle_t *)&s->tcp, close_cb);
}

/* Sends what fits of the engine's output now, without waiting (a close_notify
 * or an alert on the way out). */
static void tls_flush_now(struct mx_sock *s)
{
    struct mx_tls *t = s->tls;
    if (s->wr_active) return;
    uint8_t tmp[1024];
    size_t n;
    while ((n = tls_take(t, tmp, sizeof tmp)) > 0) {
        uv_buf_t b = uv_buf_init((char *)tmp, (unsigned)n);
        if (uv_try_write((uv_stream_t *)&s->tcp, &b, 1) != (int)n) break;
    }
}

void sock_close(struct mx_sock *s)
{
    if (s->closing) return;
    s->closing = true;
    sock_read_stop(s);
    if (s->tls) {
        struct mx_tls *t = s->tls;
        if (!t->failed && !(t->tout && t->tout->wpos > t->tout->rpos)) {
            tls_shutdown(t);
            tls_flush_now(s);
        }
        uv_idle_stop(&t->pump);
        /* the idle handle closes first; the socket's close callback frees all */
        uv_close((uv_handle_t *)&t->pump, pump_closed);
        return;
    }
    uv_close((uv_handle_t *)&s->tcp, close_cb);
}

/* ---- TLS under the buffers ----
 * Read side: ciphertext -> engine (rbio) -> plaintext appended to `in`, then
 * on_read as for plain TCP. When `in` is full the rest stays in the engine and
 * reading stops until the owner calls sock_read_start again.
 * Write side: the owner's plaintext (valid until on_drain) is encrypted one
 * record at a time into `tout`, a buffer from the worker's free list that is the
 * one write in flight; the next record is encrypted when it is out. */

static void tls_fail(struct mx_sock *s, int code)
{
    struct mx_tls *t = s->tls;
    if (t->failed) return;
    t->failed = true;
    if (!t->err[0]) snprintf(t->err, sizeof t->err, "TLS: %s", uv_strerror(code));
    if (code != UV_EPROTO && !s->write_error) s->write_error = code;
    sock_read_stop(s);
    tls_flush_now(s); /* the alert OpenSSL queued tells the peer why */
    log_info("tls_error", "msg=\"%s\"", t->err);
}

static void pump_cb(uv_idle_t *h)
{
    struct mx_sock *s = h->data;
    uv_idle_stop(h);
    s->tls->pump_on = false;
    if (!s->closing) tls_run(s);
}

static void pump_start(struct mx_sock *s)
{
    struct mx_tls *t = s->tls;
    if (t->pump_on || s->closing) return;
    t->pump_on = true;
    uv_idle_start(&t->pump, pump_cb);
}

/* Moves ciphertext to the socket and encrypts more of the owner's data while
 * nothing is in flight. Calls no callback: completion sets drain_due. */
static void tls_push(struct mx_sock *s)
{
    struct mx_tls *t = s->tls;
    while (!t->failed && !s->closing && !s->wr_active) {
        if (tls_out_pending(t) > 0) {
            if (!t->tout) t->tout = buf_get(&s->worker->bufs);
            if (!t->tout) {
                tls_fail(s, UV_ENOMEM);
                return;
            }
            struct mx_buf *o = t->tout;
            if (o->rpos == o->wpos) o->rpos = o->wpos = 0;
            o->wpos += (uint32_t)tls_take(t, o->data + o->wpos, o->cap - o->wpos);
        }
        struct mx_buf *o = t->tout;
        if (o && o->wpos > o->rpos) {
            uv_buf_t b = uv_buf_init((char *)o->data + o->rpos, o->wpos - o->rpos);
            int w = uv_try_write((uv_stream_t *)&s->tcp, &b, 1);
            if (w == UV_EAGAIN) w = 0;
            if (w < 0) {
                tls_fail(s, w);
                return;
            }
            o->rpos += (uint32_t)w;
            if (o->rpos < o->wpos) {
                b = uv_buf_init((char *)o->data + o->rpos, o->wpos - o->rpos);
                s->wreq.data = s;
                int rc = uv_write(&s->wreq, (uv_stream_t *)&s->tcp, &b, 1, write_cb);
                if (rc < 0) {
                    tls_fail(s, rc);
                    return;
                }
                s->wr_active = true;
                t->tout_in_flight = true;
                return;
            }
            o->rpos = o->wpos = 0;
            continue;
        }
        if (t->tx_n == 0) break;
        size_t took;
        int r = tls_write(t, t->tx_p, t->tx_n < TLS_CHUNK ? t->tx_n : TLS_CHUNK, &took);
        if (r == TLS_OK) {
            t->tx_p += took;
            t->tx_n -= took;
            continue;
        }
        if (r == TLS_WANT) {
            if (tls_out_pending(t) > 0) continue; /* handshake output */
            break; /* the handshake waits for the peer */
        }
        tls_fail(s, UV_EPROTO);
        return;
    }
    if (t->failed || s->wr_active) return;
    if (t->tout && t->tout->wpos == t->tout->rpos) { /* idle: give the buffer back */
        buf_put(&s->worker->bufs, t->tout);
        t->tout = NULL;
    }
    if (s->writing && t->tx_n == 0 && tls_out_pending(t) == 0) t->drain_due = true;
}

/* Decrypts what was received into `in` while the owner reads; drives the
 * handshake. Returns the plaintext bytes added. */
static size_t tls_pull(struct mx_sock *s)
{
    struct mx_tls *t = s->tls;
    size_t total = 0;
    if (t->failed || t->eof) return 0;
    if (!SSL_is_init_finished(t->ssl)) {
        int r = tls_handshake(t);
        if (r == TLS_ERR) {
            tls_fail(s, UV_EPROTO);
            return 0;
        }
        if (r == TLS_WANT) return 0;
    }
    while (s->reading) {
        if (!s->in) s->in = buf_get(&s->worker->bufs);
        if (!s->in) {
            tls_fail(s, UV_ENOMEM);
            break;
        }
        if (buf_free_tail(s->in) == 0) buf_compact(s->in);
        if (buf_free_tail(s->in) == 0) {
            /* the owner consumes first; the rest waits in the engine */
            t->rx_blocked = true;
            sock_read_stop(s);
            break;
        }
        size_t got;
        int r = tls_read(t, s->in->data + s->in->wpos, buf_free_tail(s->in), &got);
        if (r == TLS_OK) {
            s->in->wpos += (uint32_t)got;
            total += got;
            continue;
        }
        if (r == TLS_EOF) t->eof = true;
        else if (r == TLS_ERR) tls_fail(s, UV_EPROTO);
        break;
    }
    if (total == 0) sock_release_in(s);
    return total;
}

/* Everything that may move after an event: input, output, then the owner's
 * callbacks (data, a finished write, an error or the end of the stream). */
static void tls_run(struct mx_sock *s)
{
    struct mx_tls *t = s->tls;
    size_t got = tls_pull(s);
    if (!s->closing) tls_push(s);
    if (got > 0 && !s->closing) {
        s->on_read(s, (ssize_t)got);
        t = s->tls;
    }
    if (s->closing) return;
    if (t->drain_due) {
        t->drain_due = false;
        owner_write_done(s, 0);
        if (s->closing) return;
    }
    if (t->failed && !t->reported) {
        t->reported = true;
        if (s->writing) {
            owner_write_done(s, s->write_error ? s->write_error : UV_EPROTO);
        } else {
            s->on_read(s, UV_EPROTO);
        }
        return;
    }
    if (t->eof && s->reading && !t->reported) {
        t->reported = true;
        sock_read_stop(s);
        s->on_read(s, UV_EOF);
    }
}

int sock_tls_start(struct mx_sock *s, SSL_CTX *ctx, bool server, const uint8_t *pre,
                   size_t pre_n)
{
    if (s->tls || s->closing) return UV_EINVAL;
    struct mx_tls *t = malloc(sizeof *t);
    if (!t) return UV_ENOMEM;
    if (tls_engine_init(t, ctx, server) != 0) {
        free(t);
        return UV_ENOMEM;
    }
    if (uv_idle_init(s->tcp.loop, &t->pump) != 0) {
        tls_engine_free(t);
        free(t);
        return UV_ENOMEM;
    }
    t->pump.data = s;
    if (pre_n) {
        t->tout = buf_get(&s->worker->bufs);
        if (!t->tout || pre_n > t->tout->cap) {
            /* the idle handle is initialized: it is closed with the socket */
            s->tls = t;
            return UV_ENOMEM;
        }
        memcpy(t->tout->data, pre, pre_n);
        t->tout->wpos = (uint32_t)pre_n;
    }
    s->tls = t;
    /* bytes the peer sent after its upgrade request are already TLS */
    struct mx_buf *b = s->in;
    if (b && b->wpos > b->rpos) {
        if (tls_feed(t, b->data + b->rpos, b->wpos - b->rpos) != TLS_OK) return UV_ENOMEM;
        b->wpos = b->ppos = b->rpos;
    }
    if (!s->writing) tls_push(s); /* the clear prefix */
    pump_start(s);
    return 0;
}

const char *sock_tls_error(const struct mx_sock *s)
{
    return s->tls ? s->tls->err : "";
}
