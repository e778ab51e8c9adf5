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
static ssize_t z_decode_some(struct mx_sock *s);
static void z_deliver(struct mx_sock *s);
static void z_pump_start(struct mx_sock *s);
static void z_lower_done(struct mx_sock *s, int status);
static int z_push(struct mx_sock *s);

/* Where received bytes land: `in`, or the compressed input under it. */
static inline struct mx_buf **rx_buf(struct mx_sock *s)
{
    return s->z ? &s->z->zin : &s->in;
}

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
    struct mx_buf **dst = rx_buf(s);
    if (!*dst) *dst = buf_get(&s->worker->bufs);
    if (!*dst) {
        *buf = uv_buf_init(NULL, 0);
        return;
    }
    if (buf_free_tail(*dst) == 0) buf_compact(*dst);
    *buf = uv_buf_init((char *)(*dst)->data + (*dst)->wpos, buf_free_tail(*dst));
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
        (*rx_buf(s))->wpos += (uint32_t)nread;
        if (s->z) {
            z_deliver(s);
            return;
        }
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
    if (s->z && ((s->z->zin && !buf_empty(s->z->zin)) || s->z->dec_more)) z_pump_start(s);
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
    if (s->z && s->z->busy) {
        if (!s->closing) {
            z_lower_done(s, status); /* a frame is out: encode more, or finish */
            return;
        }
        s->z->busy = false;
    }
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

/* The write below compression: plain TCP or TLS. */
static int lower_write(struct mx_sock *s, const uint8_t *p, size_t n)
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

int sock_write(struct mx_sock *s, const uint8_t *p, size_t n)
{
    if (!s->z) return lower_write(s, p, n);
    if (s->z->plain_out) { /* the packet queued before compression began */
        bool plain = s->out == s->z->plain_out && p == s->out->data + s->out->rpos;
        s->z->plain_out = NULL;
        if (plain) return lower_write(s, p, n);
    }
    if (s->closing) return UV_ECANCELED;
    if (s->write_error) return s->write_error;
    struct mx_zsock *z = s->z;
    z->tx_p = p;
    z->tx_n = n;
    z->busy = true;
    z->o_first = true;
    int rc = z_push(s);
    if (rc == 1) {
        s->writing = true;
        return 1;
    }
    z->busy = false;
    z->tx_n = 0;
    return rc;
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
    if (s->z && s->z->zin && buf_empty(s->z->zin)) {
        buf_put(&s->worker->bufs, s->z->zin);
        s->z->zin = NULL;
    }
}

static void close_cb(uv_handle_t *h)
{
    struct mx_sock *s = h->data;
    if (s->in) buf_put(&s->worker->bufs, s->in);
    if (s->out) buf_put(&s->worker->bufs, s->out);
    s->in = s->out = NULL;
    if (s->z) {
        struct mx_zsock *z = s->z;
        if (z->zin) buf_put(&s->worker->bufs, z->zin);
        if (z->zout) buf_put(&s->worker->bufs, z->zout);
        zs_free(&z->dec);
        zs_free(&z->enc);
        free(z);
        s->z = NULL;
    }
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

/* The last stage of closing: the TLS pump, then the socket. */
static void close_lower(struct mx_sock *s)
{
    if (s->tls) {
        /* the idle handle closes first; the socket's close callback frees all */
        uv_close((uv_handle_t *)&s->tls->pump, pump_closed);
        return;
    }
    uv_close((uv_handle_t *)&s->tcp, close_cb);
}

static void zpump_closed(uv_handle_t *h)
{
    close_lower(h->data);
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
    }
    if (s->z) {
        uv_idle_stop(&s->z->pump);
        uv_close((uv_handle_t *)&s->z->pump, zpump_closed);
        return;
    }
    close_lower(s);
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
        struct mx_buf **dst = rx_buf(s);
        if (!*dst) *dst = buf_get(&s->worker->bufs);
        if (!*dst) {
            tls_fail(s, UV_ENOMEM);
            break;
        }
        struct mx_buf *in = *dst;
        if (buf_free_tail(in) == 0) buf_compact(in);
        if (buf_free_tail(in) == 0) {
            /* the owner consumes first; the rest waits in the engine */
            t->rx_blocked = true;
            sock_read_stop(s);
            break;
        }
        size_t got;
        int r = tls_read(t, in->data + in->wpos, buf_free_tail(in), &got);
        if (r == TLS_OK) {
            in->wpos += (uint32_t)got;
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
    if (s->z && !s->closing) {
        ssize_t g = z_decode_some(s);
        if (g < 0) {
            sock_read_stop(s);
            s->on_read(s, g);
            return;
        }
        got = (size_t)g;
    }
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

/* ---- compression above TLS/TCP ----
 * Read side: received frames gather in zin and are decoded into `in` as far as
 * it has room; what remains waits (in zin, or inside the decompressor) until
 * the owner reads again, and is then delivered from an idle pump because no
 * read event will announce it. Write side: the owner's bytes (valid until
 * on_drain) are encoded into zout, one frame buffer from the worker's list,
 * which is the one lower write in flight; the next frames are encoded when it
 * is out. Each owner write ends with a flush, so nothing lingers in the
 * encoder between writes. */

/* Decodes what zin holds into `in`. Returns the bytes added or an error. */
static ssize_t z_decode_some(struct mx_sock *s)
{
    struct mx_zsock *z = s->z;
    size_t total = 0;
    for (;;) {
        struct mx_buf *zi = z->zin;
        size_t avail = zi ? zi->wpos - zi->rpos : 0;
        if (avail == 0 && !z->dec_more) break;
        if (!s->in) s->in = buf_get(&s->worker->bufs);
        if (!s->in) return UV_ENOMEM;
        if (buf_free_tail(s->in) == 0) buf_compact(s->in);
        size_t cap = buf_free_tail(s->in);
        if (cap == 0) break; /* the owner consumes first */
        size_t used = 0, made = 0;
        int rc = zs_decode(&z->dec, avail ? zi->data + zi->rpos : NULL, avail, &used,
                           s->in->data + s->in->wpos, cap, &made);
        if (rc < 0) {
            log_info("compress_error", "msg=\"%s\"",
                     rc == ZS_ESEQ ? "frame out of sequence" : "bad compressed frame");
            z->bad_frame = true;
            return UV_EPROTO;
        }
        if (zi) zi->rpos += (uint32_t)used;
        if (zi) zi->ppos = zi->rpos;
        s->in->wpos += (uint32_t)made;
        total += made;
        z->dec_more = made == cap;
        if (used == 0 && made == 0) break;
    }
    if (total == 0) sock_release_in(s);
    else if (z->zin && buf_empty(z->zin)) {
        buf_put(&s->worker->bufs, z->zin);
        z->zin = NULL;
    }
    return (ssize_t)total;
}

static void z_deliver(struct mx_sock *s)
{
    ssize_t got = z_decode_some(s);
    if (got < 0) {
        sock_read_stop(s);
        s->on_read(s, got);
        return;
    }
    if (got > 0) s->on_read(s, got);
}

static void zpump_cb(uv_idle_t *h)
{
    struct mx_sock *s = h->data;
    uv_idle_stop(h);
    s->z->pump_on = false;
    if (!s->closing && s->reading) z_deliver(s);
}

static void z_pump_start(struct mx_sock *s)
{
    if (s->z->pump_on || s->closing) return;
    s->z->pump_on = true;
    uv_idle_start(&s->z->pump, zpump_cb);
}

static inline uint32_t z_le24(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16);
}

/* Client role: how many of the next bytes to encode before looking at the
 * packets again; restarts the frame ids where a command begins (a packet
 * numbered 0 that does not continue a 16 MiB one). May flush pending frame
 * bytes first: returns 0 (go on with *lim), ZS_OUT_FULL (zout must drain). */
static int z_client_step(struct mx_zsock *z, uint8_t *out, size_t outcap, size_t *produced,
                         size_t *lim)
{
    *produced = 0;
    *lim = z->tx_n;
    if (z->o_left) { /* inside a packet */
        if (*lim > z->o_left) *lim = z->o_left;
        return 0;
    }
    if (z->o_hgot == 0 && z->tx_n >= 4) {
        uint32_t len = z_le24(z->tx_p);
        bool cmd = z->tx_p[3] == 0 && !z->o_cont;
        /* Only the first command of a write restarts the ids; commands written
         * together (a state sync) share its frame, and the server numbers the
         * answers to the later ones from 0 again, which the decoder accepts at a
         * packet boundary. */
        if (cmd && z->o_first && (zs_pending(&z->enc) || zs_seq(&z->enc) != 0)) {
            if (zs_pending(&z->enc)) {
                size_t c;
                int rc = zs_encode(&z->enc, NULL, 0, &c, out, outcap, produced, true);
                if (rc != 0) return rc;
            }
            zs_reset_seq(&z->enc);
        }
        z->o_cont = len == ZS_PAYLOAD_MAX;
        z->o_left = len + 4;
        z->o_first = false;
        if (*lim > z->o_left) *lim = z->o_left;
        return 0;
    }
    /* a header split across writes: no restart here */
    *lim = 1;
    z->o_first = false;
    z->o_hdr[z->o_hgot++] = *z->tx_p;
    if (z->o_hgot == 4) {
        z->o_hgot = 0;
        uint32_t len = z_le24(z->o_hdr);
        z->o_cont = len == ZS_PAYLOAD_MAX;
        z->o_left = len + 1; /* the byte taken now is the header's last */
    }
    return 0;
}

/* Encodes and writes the owner's bytes. Returns 0 when all are out, 1 when a
 * lower write is in flight, or a negative error. */
static int z_push(struct mx_sock *s)
{
    struct mx_zsock *z = s->z;
    for (;;) {
        if (!z->zout) z->zout = buf_get(&s->worker->bufs);
        if (!z->zout) return UV_ENOMEM;
        struct mx_buf *o = z->zout;
        int rc = 0;
        if (z->tx_n || zs_pending(&z->enc)) {
            size_t lim = z->tx_n, took = 0, made = 0;
            if (z->client_role && z->tx_n) {
                rc = z_client_step(z, o->data + o->wpos, o->cap - o->wpos, &made, &lim);
                o->wpos += (uint32_t)made;
                made = 0;
            }
            if (rc == 0) {
                rc = zs_encode(&z->enc, z->tx_p, lim, &took, o->data + o->wpos,
                               o->cap - o->wpos, &made, lim == z->tx_n);
                o->wpos += (uint32_t)made;
                z->tx_p += took;
                z->tx_n -= took;
                if (z->client_role && z->o_left) z->o_left -= (uint32_t)took;
                if (z->client_role && lim == 1 && took == 0 && z->o_hgot) {
                    /* the header byte was not taken: count it again next time */
                    z->o_hgot--;
                }
            }
            if (rc < 0) return rc;
        }
        if (o->wpos > o->rpos) {
            int w = lower_write(s, o->data + o->rpos, o->wpos - o->rpos);
            if (w < 0) return w;
            if (w == 1) return 1;
            o->rpos = o->wpos = 0;
            continue;
        }
        if (rc == ZS_OUT_FULL) return ZS_EINVAL; /* an empty buffer always makes progress */
        if (z->tx_n == 0 && zs_pending(&z->enc) == 0) {
            buf_put(&s->worker->bufs, z->zout);
            z->zout = NULL;
            return 0;
        }
    }
}

/* A lower write of frames finished. */
static void z_lower_done(struct mx_sock *s, int status)
{
    struct mx_zsock *z = s->z;
    if (z->zout) z->zout->rpos = z->zout->wpos = 0;
    s->writing = false;
    int rc = status < 0 ? status : z_push(s);
    if (rc == 1) {
        s->writing = true;
        return;
    }
    z->busy = false;
    z->tx_n = 0;
    owner_write_done(s, rc < 0 ? rc : 0);
}

int sock_compress_start(struct mx_sock *s, enum zs_algo algo, int level, bool client_role)
{
    if (s->z) return 0;
    if (s->closing) return UV_EINVAL;
    struct mx_zsock *z = calloc(1, sizeof *z);
    if (!z) return UV_ENOMEM;
    int rc = zs_init_decoder(&z->dec, algo);
    if (rc == 0) rc = zs_init_encoder(&z->enc, algo, level, 0);
    if (rc == 0 && uv_idle_init(s->tcp.loop, &z->pump) != 0) rc = UV_ENOMEM;
    if (rc < 0) {
        zs_free(&z->dec);
        zs_free(&z->enc);
        free(z);
        return rc;
    }
    zs_pair(&z->dec, &z->enc);
    z->pump.data = s;
    z->client_role = client_role;
    s->z = z;
    /* the last plain packet may still wait in `out` behind a write in flight */
    if (s->out && s->out->wpos > s->out->rpos && !s->out_in_flight) z->plain_out = s->out;
    /* bytes received after the last plain packet are frames already */
    struct mx_buf *b = s->in;
    if (b && b->wpos > b->ppos) {
        z->zin = buf_get(&s->worker->bufs);
        if (!z->zin) return UV_ENOMEM;
        memcpy(z->zin->data, b->data + b->ppos, b->wpos - b->ppos);
        z->zin->wpos = b->wpos - b->ppos;
        b->wpos = b->ppos;
        z_pump_start(s);
    }
    return 0;
}
