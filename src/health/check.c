/* Check connections: connect with an overall timeout, read into one buffer,
 * write small requests, report once, close; shared by the three check types. */
#include "health/check.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/config.h"
#include "protocol/packet.h"

static void check_on_close(uv_handle_t *h)
{
    struct check_conn *c = h->data;
    if (--c->handles == 0) free(c);
}

unsigned check_elapsed_us(const struct check_conn *c)
{
    uint64_t us = (uv_hrtime() - c->t0_ns) / 1000;
    return us > UINT32_MAX ? UINT32_MAX : (unsigned)us;
}

static void check_vfinish(struct check_conn *c, enum health_outcome o, unsigned latency_us,
                          const char *fmt, va_list ap)
{
    if (c->finished) return;
    c->finished = true;
    struct health_result r = {.outcome = o,
                              .latency_us = latency_us ? latency_us : check_elapsed_us(c),
                              .cpus = c->cpus};
    vsnprintf(r.detail, sizeof r.detail, fmt, ap);
    /* Server text goes into key="value" log lines: no quotes, no control bytes. */
    for (char *q = r.detail; *q; q++)
        if (*q == '"')
            *q = '\'';
        else if ((unsigned char)*q < 0x20)
            *q = ' ';
    uv_timer_stop(&c->timer);
    check_done_cb done = c->done;
    c->done = NULL;
    if (done) done(c->arg, &r);
    /* Closing the stream cancels a write still queued; its callback runs before
     * the close callback, so c outlives it. */
    uv_close((uv_handle_t *)&c->tcp, check_on_close);
    uv_close((uv_handle_t *)&c->timer, check_on_close);
}

void check_finish(struct check_conn *c, enum health_outcome o, unsigned latency_us, const char *fmt,
                  ...)
{
    va_list ap;
    va_start(ap, fmt);
    check_vfinish(c, o, latency_us, fmt, ap);
    va_end(ap);
}

void check_finish_ok(struct check_conn *c, unsigned latency_us)
{
    if (!latency_us) latency_us = check_elapsed_us(c);
    double ms = latency_us / 1000.0;
    check_finish(c, HC_OK, latency_us, ms < 100 ? "ok %.1fms" : "ok %.0fms", ms);
}

void check_abort(struct check_conn *c)
{
    c->done = NULL;
    check_finish(c, HC_FAIL, 1, "aborted");
}

/* The detail for a failed connect or read: short words for the usual cases. */
static const char *check_err_word(int err)
{
    switch (err) {
    case UV_ECONNREFUSED:
        return "refused";
    case UV_ECONNRESET:
        return "reset";
    case UV_ETIMEDOUT:
        return "timeout";
    case UV_EHOSTUNREACH:
        return "host unreachable";
    case UV_ENETUNREACH:
        return "network unreachable";
    case UV_EOF:
        return "closed by server";
    default:
        return uv_strerror(err);
    }
}

static void check_on_timeout(uv_timer_t *t)
{
    struct check_conn *c = t->data;
    if (c->ops->on_timeout) {
        c->ops->on_timeout(c);
        return;
    }
    check_finish(c, HC_FAIL, 0, "timeout (%s)", c->phase);
}

/* A connect that failed before reaching the loop is reported from the loop,
 * so that check_start never calls done before it returns. */
static void check_on_early_fail(uv_timer_t *t)
{
    struct check_conn *c = t->data;
    check_finish(c, c->local_fail ? HC_SKIP : HC_FAIL, 0, "%s", c->phase);
}

static void check_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    struct check_conn *c = h->data;
    buf->base = (char *)c->in + c->in_len;
    buf->len = sizeof c->in - c->in_len;
}

static void check_on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct check_conn *c = s->data;
    if (c->finished || n == 0) return;
    if (n < 0) {
        if (n == UV_EOF && c->ops->on_eof) {
            c->ops->on_eof(c);
            return;
        }
        check_finish(c, HC_FAIL, 0, "%s (%s)", check_err_word((int)n), c->phase);
        return;
    }
    c->in_len += (size_t)n;
    c->ops->on_data(c);
    if (!c->finished && c->in_len == sizeof c->in)
        check_finish(c, HC_FAIL, 0, "answer too large (%s)", c->phase);
}

static void check_on_connect(uv_connect_t *req, int status)
{
    struct check_conn *c = req->data;
    if (c->finished) return;
    if (status < 0) {
        check_finish(c, HC_FAIL, 0, "%s", check_err_word(status));
        return;
    }
    c->connected = true;
    uv_tcp_nodelay(&c->tcp, 1);
    int rc = uv_read_start((uv_stream_t *)&c->tcp, check_alloc, check_on_read);
    if (rc < 0) {
        check_finish(c, HC_FAIL, 0, "read: %s", uv_strerror(rc));
        return;
    }
    c->ops->on_connect(c);
}

void check_connect(struct check_conn *c, const char *host, int port)
{
    c->t0_ns = uv_hrtime();
    c->phase = "connect";
    struct sockaddr_storage ss;
    int rc = 0;
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)&ss) != 0 &&
        uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss) != 0) {
        /* A host name: resolved synchronously; the control thread serves no client. */
        char ps[8];
        snprintf(ps, sizeof ps, "%d", port);
        struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai = NULL;
        if (getaddrinfo(host, ps, &hints, &ai) != 0 || !ai) {
            rc = -1;
        } else {
            memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
            freeaddrinfo(ai);
        }
    }
    if (rc == 0) {
        c->creq.data = c;
        rc = uv_tcp_connect(&c->creq, &c->tcp, (struct sockaddr *)&ss, check_on_connect);
        if (rc < 0) c->phase = check_err_word(rc);
        c->local_fail = rc == UV_EMFILE || rc == UV_ENFILE;
    } else {
        c->phase = "cannot resolve host";
    }
    if (rc != 0) {
        uv_timer_start(&c->timer, check_on_early_fail, 0, 0);
        return;
    }
    int timeout = c->bc->health.timeout_ms > 0 ? c->bc->health.timeout_ms : 1000;
    uv_timer_start(&c->timer, check_on_timeout, (uint64_t)timeout, 0);
}

static void check_on_write(uv_write_t *req, int status)
{
    struct check_conn *c = req->data;
    c->writing = false;
    if (status < 0 && !c->finished)
        check_finish(c, HC_FAIL, 0, "write: %s (%s)", check_err_word(status), c->phase);
}

int check_send(struct check_conn *c, const void *p, size_t n)
{
    if (c->finished) return -1;
    uv_buf_t b = uv_buf_init((char *)p, (unsigned)n);
    int w = c->writing ? UV_EAGAIN : uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    if (w == (int)n) return 0;
    if (w < 0 && w != UV_EAGAIN) {
        check_finish(c, HC_FAIL, 0, "write: %s (%s)", check_err_word(w), c->phase);
        return -1;
    }
    if (w < 0) w = 0;
    if (c->writing || n - (size_t)w > sizeof c->out) {
        /* Requests and answers alternate, so this cannot happen with a sane server. */
        check_finish(c, HC_FAIL, 0, "write would block (%s)", c->phase);
        return -1;
    }
    memcpy(c->out, (const uint8_t *)p + w, n - (size_t)w);
    b = uv_buf_init((char *)c->out, (unsigned)(n - (size_t)w));
    c->wreq.data = c;
    int rc = uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, check_on_write);
    if (rc < 0) {
        check_finish(c, HC_FAIL, 0, "write: %s (%s)", check_err_word(rc), c->phase);
        return -1;
    }
    c->writing = true;
    return 0;
}

void check_consume(struct check_conn *c, size_t n)
{
    if (n >= c->in_len) {
        c->in_len = 0;
        return;
    }
    memmove(c->in, c->in + n, c->in_len - n);
    c->in_len -= n;
}

static struct check_conn *check_open(uv_loop_t *loop, const struct mx_config *cfg,
                                     const struct mx_backend_cfg *bc, void *arg,
                                     check_done_cb done, const struct check_ops *ops, int port)
{
    struct check_conn *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->loop = loop;
    c->cfg = cfg;
    c->bc = bc;
    c->arg = arg;
    c->done = done;
    c->ops = ops;
    uv_tcp_init(loop, &c->tcp);
    uv_timer_init(loop, &c->timer);
    c->tcp.data = c;
    c->timer.data = c;
    c->handles = 2;
    check_connect(c, bc->host, port);
    return c;
}

static int check_status_port(const struct mx_backend_cfg *bc)
{
    return bc->status_port > 0 ? bc->status_port : 10080;
}

struct check_conn *check_start(uv_loop_t *loop, const struct mx_config *cfg,
                               const struct mx_backend_cfg *bc, void *arg, check_done_cb done)
{
    switch (bc->health.type) {
    case MX_CHECK_MYSQL:
        return check_open(loop, cfg, bc, arg, done, &check_mysql_ops, bc->port);
    case MX_CHECK_STATUS:
        return check_open(loop, cfg, bc, arg, done, &check_status_ops, check_status_port(bc));
    default:
        return check_open(loop, cfg, bc, arg, done, &check_tcp_ops, bc->port);
    }
}

struct check_conn *check_start_cpus(uv_loop_t *loop, const struct mx_config *cfg,
                                    const struct mx_backend_cfg *bc, void *arg, check_done_cb done)
{
    return check_open(loop, cfg, bc, arg, done, &check_cpus_ops, check_status_port(bc));
}

void check_finish_err(struct check_conn *c, const uint8_t *p, size_t len)
{
    struct pkt_err_info ei;
    if (pkt_parse_err(p, len, &ei) != 0) {
        check_finish(c, HC_FAIL, 0, "malformed ERR (%s)", c->phase);
        return;
    }
    int n = ei.msg_len > 90 ? 90 : (int)ei.msg_len;
    check_finish(c, HC_FAIL, 0, "ERR %u %.*s", ei.code, n, ei.msg);
}
