/* Start-up probe: a blocking connect with a short timeout to each backend, the
 * greeting read and parsed, the connection closed. Runs before the workers. */
#include "core/probe.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "core/resolve.h"
#include "core/proxy.h"
#include "core/config.h"
#include "protocol/handshake.h"

static int read_greeting(const char *host, int port, struct hs_greeting *g)
{
    char ps[8];
    snprintf(ps, sizeof ps, "%d", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai;
    if (getaddrinfo(host, ps, &hints, &ai) != 0) return -1;
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        freeaddrinfo(ai);
        return -1;
    }
    fcntl(fd, F_SETFL, O_NONBLOCK);
    int rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
    struct pollfd pfd = {.fd = fd, .events = POLLOUT};
    if (rc != 0 && poll(&pfd, 1, 1000) != 1) goto fail;
    uint8_t buf[1024];
    size_t got = 0;
    while (got < 4 || got < 4 + pkt_len(buf)) {
        pfd.events = POLLIN;
        if (poll(&pfd, 1, 2000) != 1) goto fail;
        ssize_t n = read(fd, buf + got, sizeof buf - got);
        if (n <= 0) goto fail;
        got += (size_t)n;
        if (got == sizeof buf) break;
    }
    close(fd);
    if (4 + pkt_len(buf) > got) return -1;
    return hs_parse_greeting(buf + 4, pkt_len(buf), g);
fail:
    close(fd);
    return -1;
}

void probe_backends(struct mx_proxy *px)
{
    const struct mx_config *cfg = px->cfg;
    resolve_init(px);
    uint32_t caps = 0xffffffffu;
    bool any = false;
    for (size_t i = 0; i < cfg->n_backends; i++) {
        struct hs_greeting g;
        if (read_greeting(cfg->backends[i].host, cfg->backends[i].port, &g) != 0) {
            log_warn("probe_failed", "backend=%s address=%s:%d", cfg->backends[i].name,
                     cfg->backends[i].host, cfg->backends[i].port);
            continue;
        }
        px->servers[i].caps = g.caps;
        caps &= g.caps;
        if (!any) snprintf(px->server_version, sizeof px->server_version, "%s", g.version);
        any = true;
        log_info("probe", "backend=%s version=\"%s\" caps=0x%08x", cfg->backends[i].name,
                 g.version, g.caps);
    }
    px->backend_caps = any ? caps : 0;
    if (!any) snprintf(px->server_version, sizeof px->server_version, "8.0.11-mymux-%s", MYMUX_VERSION);
}
