/* Sockets: read straight into the connection's buffer, write with uv_try_write
 * first and uv_write for the rest, one write in flight, buffers returned when idle. */
#include "core/sock.h"

#include <string.h>

#include "core/worker.h"

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

int sock_read_start(struct mx_sock *s)
{
    if (s->reading || s->closing) return 0;
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

static void write_cb(uv_write_t *req, int status)
{
    struct mx_sock *s = req->data;
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

int sock_write(struct mx_sock *s, const uint8_t *p, size_t n)
{
    if (s->closing) return UV_ECANCELED;
    if (s->write_error) return s->write_error;
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
    s->on_close(s);
}

void sock_close(struct mx_sock *s)
{
    if (s->closing) return;
    s->closing = true;
    sock_read_stop(s);
    uv_close((uv_handle_t *)&s->tcp, close_cb);
}
