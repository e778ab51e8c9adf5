/* status check: HTTP/1.0 GET <status_path> on TiDB's status port. 200 means
 * serving; any other status means the server is shutting down gracefully
 * (TiDB answers 500 then), so it is drained, not failed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "health/check.h"

/* Sends GET path to the status port. */
static void check_http_get(struct check_conn *c, const char *path)
{
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

static void check_status_connect(struct check_conn *c)
{
    check_http_get(c, c->bc->health.status_path ? c->bc->health.status_path : "/status");
}

/* Concludes from the status line. */
static void check_status_conclude(struct check_conn *c)
{
    if (c->http_status == 200)
        check_finish_ok(c, c->http_latency_us);
    else
        check_finish(c, HC_DRAIN, c->http_latency_us, "HTTP %d", c->http_status);
}

/* Reads "HTTP/1.x NNN reason" into c->http_status and drops it from the input.
 * 1 when read, 0 when more is needed, -1 when the check has finished. */
static int check_status_line(struct check_conn *c)
{
    const uint8_t *nl = memchr(c->in, '\n', c->in_len);
    if (!nl) {
        if (c->in_len > 1024) {
            check_finish(c, HC_FAIL, 0, "bad HTTP answer");
            return -1;
        }
        return 0;
    }
    char line[64];
    size_t n = (size_t)(nl - c->in) < sizeof line - 1 ? (size_t)(nl - c->in) : sizeof line - 1;
    memcpy(line, c->in, n);
    line[n] = 0;
    int major, minor, code;
    char sp;
    if (sscanf(line, "HTTP/%d.%d %3d%c", &major, &minor, &code, &sp) < 3 || code < 100 ||
        code > 599) {
        check_finish(c, HC_FAIL, 0, "bad HTTP answer");
        return -1;
    }
    c->status_seen = true;
    c->http_status = code;
    c->http_latency_us = check_elapsed_us(c);
    if (!c->http_latency_us) c->http_latency_us = 1;
    c->phase = "HTTP body";
    check_consume(c, (size_t)(nl - c->in) + 1);
    return 1;
}

static void check_status_data(struct check_conn *c)
{
    if (!c->status_seen && check_status_line(c) <= 0) return;
    c->in_len = 0; /* the rest is not needed: read it to the server's close */
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

/* cpus probe: GET /metrics, Prometheus' text format, one sample per line:
 * "tidb_server_maxprocs 8" is the value of GOMAXPROCS, the CPUs TiDB uses. */
#define CPUS_METRIC "tidb_server_maxprocs"

static void check_cpus_connect(struct check_conn *c)
{
    check_http_get(c, "/metrics");
}

/* The value of one sample line, or 0 when the line is another metric's. */
static int check_cpus_sample(const uint8_t *line, size_t len)
{
    size_t m = sizeof CPUS_METRIC - 1;
    if (len <= m || memcmp(line, CPUS_METRIC, m) != 0 || (line[m] != ' ' && line[m] != '{'))
        return 0;
    char text[64];
    const uint8_t *sp = line + len;
    while (sp > line && sp[-1] != ' ' && sp[-1] != '}') sp--; /* the value is the last field */
    size_t n = (size_t)(line + len - sp);
    if (n == 0 || n >= sizeof text) return 0;
    memcpy(text, sp, n);
    text[n] = 0;
    char *end;
    double v = strtod(text, &end);
    if (end == text || (*end && *end != ' ' && *end != '\r') || !(v >= 1 && v <= 65536)) return 0;
    return (int)v;
}

static void check_cpus_data(struct check_conn *c)
{
    if (!c->status_seen) {
        if (check_status_line(c) <= 0) return;
        if (c->http_status != 200) {
            check_finish(c, HC_FAIL, 0, "GET /metrics: HTTP %d", c->http_status);
            return;
        }
    }
    const uint8_t *nl;
    while ((nl = memchr(c->in, '\n', c->in_len))) {
        size_t len = (size_t)(nl - c->in);
        int cpus = c->line_too_long ? 0 : check_cpus_sample(c->in, len);
        c->line_too_long = false;
        if (cpus > 0) {
            c->cpus = cpus;
            check_finish(c, HC_OK, 0, CPUS_METRIC " %d", cpus);
            return;
        }
        check_consume(c, len + 1);
    }
    if (c->in_len == sizeof c->in) { /* a line longer than the buffer: not ours */
        c->line_too_long = true;
        c->in_len = 0;
    }
}

static void check_cpus_eof(struct check_conn *c)
{
    if (c->status_seen)
        check_finish(c, HC_FAIL, 0, "GET /metrics: no " CPUS_METRIC);
    else
        check_finish(c, HC_FAIL, 0, "closed by server (%s)", c->phase);
}

const struct check_ops check_cpus_ops = {
    .on_connect = check_cpus_connect,
    .on_data = check_cpus_data,
    .on_eof = check_cpus_eof,
};
