/* Health endpoint: reads one request (any path), answers 200 "ready" or 503
 * "draining", closes. Tiny on purpose: load balancers only read the status. */
#include "core/status_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/upgrade.h"
#include "core/proxy.h"
#include "core/config.h"

struct hconn {
    uv_tcp_t tcp;
    uv_write_t wr;
    char buf[2048];
    size_t len;
    char out[160];
};

static uv_tcp_t listener;
static bool listening;
static struct mx_proxy *g_px;

static void hconn_closed(uv_handle_t *h)
{
    free(h->data);
}

static void written(uv_write_t *w, int status)
{
    (void)status;
    struct hconn *c = w->data;
    uv_close((uv_handle_t *)&c->tcp, hconn_closed);
}

static void alloc_cb(uv_handle_t *h, size_t sz, uv_buf_t *b)
{
    (void)sz;
    struct hconn *c = h->data;
    *b = uv_buf_init(c->buf + c->len, (unsigned)(sizeof c->buf - c->len - 1));
}

static void read_cb(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
    (void)b;
    struct hconn *c = st->data;
    if (n < 0) {
        uv_close((uv_handle_t *)&c->tcp, hconn_closed);
        return;
    }
    c->len += (size_t)n;
    c->buf[c->len] = 0;
    if (!strstr(c->buf, "\r\n\r\n") && !strstr(c->buf, "\n\n") && c->len < sizeof c->buf - 1)
        return;
    uv_read_stop(st);
    bool draining = atomic_load(&g_px->stopping);
    const char *body = draining ? "draining\n" : "ready\n";
    int len = snprintf(c->out, sizeof c->out,
                       "HTTP/1.0 %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                       "Connection: close\r\n\r\n%s",
                       draining ? "503 Service Unavailable" : "200 OK", strlen(body), body);
    uv_buf_t out = uv_buf_init(c->out, (unsigned)len);
    c->wr.data = c;
    if (uv_write(&c->wr, st, &out, 1, written) != 0) uv_close((uv_handle_t *)&c->tcp, hconn_closed);
}

static void on_conn(uv_stream_t *server, int status)
{
    if (status < 0) return;
    struct hconn *c = calloc(1, sizeof *c);
    if (!c) return;
    uv_tcp_init(server->loop, &c->tcp);
    c->tcp.data = c;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0 ||
        uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb) != 0)
        uv_close((uv_handle_t *)&c->tcp, hconn_closed);
}

static uv_timer_t retry;
static bool retry_on;
static int tries;
static uv_loop_t *g_loop;

static int try_listen(void);

/* During a binary upgrade the old process holds the port for a moment. */
static void on_retry(uv_timer_t *t)
{
    (void)t;
    if (try_listen() == UV_EADDRINUSE && ++tries < 50) return;
    uv_timer_stop(&retry);
}

int status_http_start(uv_loop_t *loop, struct mx_proxy *px, int inherited_fd)
{
    g_px = px;
    g_loop = loop;
    if (!px->cfg->health_listen) {
        if (inherited_fd >= 0) close(inherited_fd);
        return 0;
    }
    if (inherited_fd >= 0) {
        if (!upgrade_fd_is(inherited_fd, px->cfg->health_listen)) {
            log_warn("upgrade", "listen=%s msg=\"the inherited health socket has another "
                     "address; binding the configured one\"", px->cfg->health_listen);
            close(inherited_fd);
        } else {
            uv_tcp_init(loop, &listener);
            int rc = uv_tcp_open(&listener, inherited_fd);
            if (rc == 0) rc = uv_listen((uv_stream_t *)&listener, 128, on_conn);
            if (rc == 0) {
                listening = true;
                log_info("health_listen", "listen=%s inherited=1", px->cfg->health_listen);
                return 0;
            }
            log_error("health_listen_failed", "listen=%s inherited=1 err=%s",
                      px->cfg->health_listen, uv_strerror(rc));
            uv_close((uv_handle_t *)&listener, NULL);
            return -1;
        }
    }
    int rc = try_listen();
    if (rc == UV_EADDRINUSE) {
        uv_timer_init(loop, &retry);
        retry_on = true;
        uv_timer_start(&retry, on_retry, 100, 100);
        return 0;
    }
    return rc == 0 ? 0 : -1;
}

static int try_listen(void)
{
    uv_loop_t *loop = g_loop;
    const char *addr = g_px->cfg->health_listen;
    char host[256];
    snprintf(host, sizeof host, "%s", addr);
    char *colon = strrchr(host, ':');
    if (!colon) return -1;
    *colon = 0;
    int port = atoi(colon + 1);
    char *h = host;
    if (*h == '[') {
        h++;
        char *e = strchr(h, ']');
        if (e) *e = 0;
    }
    struct sockaddr_storage ss;
    if (uv_ip4_addr(h, port, (struct sockaddr_in *)&ss) != 0 &&
        uv_ip6_addr(h, port, (struct sockaddr_in6 *)&ss) != 0)
        return -1;
    uv_tcp_init(loop, &listener);
    int rc = uv_tcp_bind(&listener, (struct sockaddr *)&ss, 0);
    if (rc == 0) rc = uv_listen((uv_stream_t *)&listener, 128, on_conn);
    if (rc != 0) {
        if (rc != UV_EADDRINUSE || tries >= 49)
            log_error("health_listen_failed", "listen=%s err=%s", addr, uv_strerror(rc));
        uv_close((uv_handle_t *)&listener, NULL);
        return rc;
    }
    listening = true;
    log_info("health_listen", "listen=%s", addr);
    return 0;
}

int status_http_fd(void)
{
    uv_os_fd_t fd;
    if (!listening || uv_fileno((uv_handle_t *)&listener, &fd) != 0) return -1;
    return fd;
}

void status_http_stop(void)
{
    if (retry_on) {
        uv_timer_stop(&retry);
        uv_close((uv_handle_t *)&retry, NULL);
        retry_on = false;
    }
    if (listening && !uv_is_closing((uv_handle_t *)&listener))
        uv_close((uv_handle_t *)&listener, NULL);
    listening = false;
}
