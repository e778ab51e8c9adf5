/* The PROXY protocol on accepted connections: a peer in proxy_protocol.trusted
 * (a load balancer) must start with a v1 or v2 header, read before the greeting
 * (MySQL servers speak first), and the session then takes the original client's
 * address as its own (logs, source hashing, the authentication-failure guard,
 * the admin API). Anyone else is never asked for one: a header from an untrusted
 * peer is just a malformed handshake. */
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "session/session.h"
#include "core/proxy.h"
#include "core/config.h"
#include "core/worker.h"
#include "protocol/proxy_proto.h"

static void addr_text(const struct sockaddr_storage *ss, char *out, size_t cap)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (ss->ss_family == AF_INET) {
        uv_ip4_name((const struct sockaddr_in *)ss, ip, sizeof ip);
        port = ntohs(((const struct sockaddr_in *)ss)->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        uv_ip6_name((const struct sockaddr_in6 *)ss, ip, sizeof ip);
        port = ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
    }
    snprintf(out, cap, "%s:%d", ip, port);
}

bool session_proxy_expected(struct mx_session *s)
{
    const struct mx_config *cfg = s->w->px->cfg;
    if (!cfg->proxy_trusted) return false;
    struct sockaddr_storage ss;
    int sl = sizeof ss;
    if (uv_tcp_getpeername(&s->sock.tcp, (struct sockaddr *)&ss, &sl) != 0) return false;
    if (!pp_trusted((const char *const *)cfg->proxy_trusted, (struct sockaddr *)&ss)) return false;
    s->proxy_wait = true;
    uv_timer_start(&s->timer, session_deny_timer_cb(), (uint64_t)cfg->handshake_timeout_ms, 0);
    if (sock_read_start(&s->sock) < 0) {
        session_close(s, "read_error");
        return true;
    }
    return true;
}

void session_proxy_input(struct mx_session *s)
{
    struct mx_buf *b = s->sock.in;
    if (!b) return;
    struct pp_result r;
    int rc = pp_parse(b->data + b->rpos, b->wpos - b->rpos, &r);
    if (rc == PP_NEED) {
        if (buf_free_tail(b) == 0) buf_compact(b);
        return;
    }
    if (rc != PP_DONE) {
        log_info("proxy_header_bad", "conn_id=%u lb=%s", s->id, s->peer);
        session_close(s, "proxy_header_bad");
        return;
    }
    b->rpos += (uint32_t)r.hdr_len;
    b->ppos = b->rpos;
    s->proxy_wait = false;
    sock_read_stop(&s->sock); /* the greeting goes first; admission starts reading */
    char lb[sizeof s->peer];
    snprintf(lb, sizeof lb, "%s", s->peer);
    if (!r.local) addr_text(&r.src, s->peer, sizeof s->peer);
    log_info("proxy_header", "conn_id=%u client=%s lb=%s version=%d", s->id, s->peer, lb,
             r.version);
    if (buf_empty(b)) sock_release_in(&s->sock);
    session_accept_admit(s);
}

void session_proxy_timeout(struct mx_session *s)
{
    log_info("proxy_header_timeout", "conn_id=%u lb=%s", s->id, s->peer);
    s->proxy_wait = false;
    session_close(s, "proxy_header_timeout");
}
