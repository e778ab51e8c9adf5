/* status check: HTTP/1.0 GET <status_path> on TiDB's status port. 200 means
 * serving; any other status means the server is shutting down gracefully
 * (TiDB answers 500 then), so it is drained, not failed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "health/check.h"

static void check_status_connect(struct check_conn *c)
{
    const char *path = c->bc->health.status_path ? c->bc->health.status_path : "/status";
    int port = c->bc->status_port > 0 ? c->bc->status_port : 10080;
    char req[1024];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.0\r\nHost: %s:%d\r\nUser-Agent: mymux-health\r\n"
                     "Accept: */*\r\nConnection: close\r\n\r\n",
                     path, c->bc->host, port);
    if (n < 0 || (size_t)n >= sizeof req) {
        check_finish(c, HC_FAIL, 0, "status_path too long");
        return;
    }
    c->phase = "HTTP status line";
    check_send(c, req, (size_t)n);
}

/* Concludes from the status line. */
static void check_status_conclude(struct check_conn *c)
{
    if (c->http_status == 200)
        check_finish_ok(c, c->http_latency_us);
    else
        check_finish(c, HC_DRAIN, c->http_latency_us, "HTTP %d", c->http_status);
}

static void check_status_data(struct check_conn *c)
{
    if (c->status_seen) { /* the rest is not needed: read it to the server's close */
        c->in_len = 0;
        return;
    }
    const uint8_t *nl = memchr(c->in, '\n', c->in_len);
    if (!nl) {
        if (c->in_len > 1024) check_finish(c, HC_FAIL, 0, "bad HTTP answer");
        return;
    }
    /* "HTTP/1.x NNN reason" */
    char line[64];
    size_t n = (size_t)(nl - c->in) < sizeof line - 1 ? (size_t)(nl - c->in) : sizeof line - 1;
    memcpy(line, c->in, n);
    line[n] = 0;
    int major, minor, code;
    char sp;
    if (sscanf(line, "HTTP/%d.%d %3d%c", &major, &minor, &code, &sp) < 3 || code < 100 ||
        code > 599) {
        check_finish(c, HC_FAIL, 0, "bad HTTP answer");
        return;
    }
    c->status_seen = true;
    c->http_status = code;
    c->http_latency_us = check_elapsed_us(c);
    if (!c->http_latency_us) c->http_latency_us = 1;
    c->phase = "HTTP body";
    c->in_len = 0;
}

static void check_status_eof(struct check_conn *c)
{
    if (!c->status_seen) {
        check_finish(c, HC_FAIL, 0, "closed by server (%s)", c->phase);
        return;
    }
    check_status_conclude(c);
}

static void check_status_timeout(struct check_conn *c)
{
    if (c->status_seen) { /* a body that does not end: the status line decides */
        check_status_conclude(c);
        return;
    }
    check_finish(c, HC_FAIL, 0, "timeout (%s)", c->phase);
}

const struct check_ops check_status_ops = {
    .on_connect = check_status_connect,
    .on_data = check_status_data,
    .on_eof = check_status_eof,
    .on_timeout = check_status_timeout,
};
