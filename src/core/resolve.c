/* Backend host-name cache (see resolve.h). */
#include "core/resolve.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/proxy.h"
#include "core/config.h"

static struct {
    struct mx_proxy *px;
    uv_loop_t *loop;
    uv_timer_t timer;
    bool running;
    int pending; /* getaddrinfo requests in flight */
} rs;

struct lookup {
    uv_getaddrinfo_t req;
    int slot;
    char host[sizeof(((struct mx_server *)0)->addr_host)];
};

static bool is_literal(const char *host)
{
    struct sockaddr_storage ss;
    return uv_ip4_addr(host, 0, (struct sockaddr_in *)&ss) == 0 ||
           uv_ip6_addr(host, 0, (struct sockaddr_in6 *)&ss) == 0;
}

/* The first IPv4 answer if there is one (a server listening on 127.0.0.1 is not
 * reached through localhost's ::1), else the first. */
static const struct addrinfo *pick(const struct addrinfo *ai)
{
    for (const struct addrinfo *a = ai; a; a = a->ai_next)
        if (a->ai_family == AF_INET) return a;
    return ai;
}

static void store(struct mx_server *sv, const char *host, const struct addrinfo *all)
{
    const struct addrinfo *ai = pick(all);
    pthread_mutex_lock(&sv->addr_lock);
    bool changed = !sv->addr_ok || strcmp(sv->addr_host, host) != 0 ||
                   memcmp(&sv->addr, ai->ai_addr, ai->ai_addrlen) != 0;
    snprintf(sv->addr_host, sizeof sv->addr_host, "%s", host);
    memset(&sv->addr, 0, sizeof sv->addr);
    memcpy(&sv->addr, ai->ai_addr, ai->ai_addrlen);
    sv->addr_ok = true;
    pthread_mutex_unlock(&sv->addr_lock);
    if (changed) {
        char ip[INET6_ADDRSTRLEN] = "";
        if (ai->ai_family == AF_INET)
            uv_ip4_name((const struct sockaddr_in *)ai->ai_addr, ip, sizeof ip);
        else
            uv_ip6_name((const struct sockaddr_in6 *)ai->ai_addr, ip, sizeof ip);
        log_info("resolved", "host=%s address=%s", host, ip);
    }
}

void resolve_init(struct mx_proxy *px)
{
    rs.px = px;
    for (int i = 0; i < MX_MAX_SERVERS; i++) pthread_mutex_init(&px->servers[i].addr_lock, NULL);
    const struct mx_config *cfg = px->cfg;
    for (size_t i = 0; i < cfg->n_backends; i++) {
        const char *host = cfg->backends[i].host;
        if (is_literal(host)) continue;
        struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai = NULL;
        int rc = getaddrinfo(host, NULL, &hints, &ai);
        if (rc == 0 && ai) store(&px->servers[i], host, ai);
        else log_warn("resolve_failed", "host=%s err=\"%s\"", host, gai_strerror(rc));
        if (ai) freeaddrinfo(ai);
    }
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *ai)
{
    struct lookup *l = req->data;
    rs.pending--;
    if (status == 0 && ai) store(&rs.px->servers[l->slot], l->host, ai);
    else if (status != UV_ECANCELED)
        log_warn("resolve_failed", "host=%s err=\"%s\"", l->host, uv_strerror(status));
    if (ai) uv_freeaddrinfo(ai);
    free(l);
}

static void on_tick(uv_timer_t *t)
{
    (void)t;
    const struct mx_config *cfg = atomic_load(&rs.px->cfg);
    for (size_t i = 0; i < cfg->n_backends && i < MX_MAX_SERVERS; i++) {
        const char *host = cfg->backends[i].host;
        if (is_literal(host) || rs.pending >= MX_MAX_SERVERS) continue;
        struct lookup *l = calloc(1, sizeof *l);
        if (!l) continue;
        l->slot = (int)i;
        snprintf(l->host, sizeof l->host, "%s", host);
        l->req.data = l;
        struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
        if (uv_getaddrinfo(rs.loop, &l->req, on_resolved, l->host, NULL, &hints) == 0)
            rs.pending++;
        else
            free(l);
    }
}

int resolve_start(uv_loop_t *loop, struct mx_proxy *px)
{
    rs.px = px;
    rs.loop = loop;
    int rc = uv_timer_init(loop, &rs.timer);
    if (rc < 0) return rc;
    rs.running = true;
    return uv_timer_start(&rs.timer, on_tick, RESOLVE_TTL_MS, RESOLVE_TTL_MS);
}

void resolve_stop(void)
{
    if (!rs.running) return;
    rs.running = false;
    uv_timer_stop(&rs.timer);
    uv_close((uv_handle_t *)&rs.timer, NULL);
    /* lookups in flight finish (or are cancelled) before the loop ends */
}

bool resolve_lookup(struct mx_proxy *px, int i, const char *host, struct sockaddr_storage *out)
{
    if (i < 0 || i >= MX_MAX_SERVERS) return false;
    struct mx_server *sv = &px->servers[i];
    pthread_mutex_lock(&sv->addr_lock);
    bool ok = sv->addr_ok && strcmp(sv->addr_host, host) == 0;
    if (ok) *out = sv->addr;
    pthread_mutex_unlock(&sv->addr_lock);
    return ok;
}
