/* Binary upgrade: listening sockets (SQL, health, admin) handed from the old
 * process to the new one over a unix socket with SCM_RIGHTS; the kernel keeps
 * their accept queues, so connections that arrive during the switch are
 * accepted by the new process. */
#include "core/upgrade.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "admin/admin.h"
#include "core/log.h"
#include "core/status_http.h"
#include "core/proxy.h"
#include "core/config.h"
#include "core/worker.h"

static uv_pipe_t server;
static bool serving;
static struct mx_proxy *g_px;
static void (*g_handover)(void);
static char g_path[108];

/* The message that goes with the sockets: "mymux-listeners2 sql=N health=H
 * admin=A", the descriptors in that order. The first format was
 * "mymux-listeners" with SQL listeners only. */
#define UPGRADE_TAG "mymux-listeners2"

int upgrade_receive(const char *path, struct mx_inherited *in)
{
    in->n_sql = 0;
    in->health_fd = in->admin_fd = -1;
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) return 0;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    if (connect(s, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(s);
        return 0; /* nobody there: a fresh start */
    }
    struct timeval tv = {.tv_sec = 5};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char tag[96] = {0};
    int fds[MX_UPGRADE_MAX_FDS + 2];
    char cbuf[CMSG_SPACE(sizeof fds)];
    struct iovec iov = {.iov_base = tag, .iov_len = sizeof tag - 1};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                         .msg_controllen = sizeof cbuf};
    ssize_t n = recvmsg(s, &msg, MSG_CMSG_CLOEXEC);
    int got = 0;
    if (n > 0) {
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
            if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
            int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
            for (int i = 0; i < k; i++) {
                int fd;
                memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
                if (got < MX_UPGRADE_MAX_FDS + 2) fds[got++] = fd;
                else close(fd);
            }
        }
    }
    close(s);
    int n_sql = got, n_health = 0, n_admin = 0;
    if (n > 0 && strncmp(tag, UPGRADE_TAG " ", sizeof UPGRADE_TAG) == 0 &&
        (sscanf(tag + sizeof UPGRADE_TAG, "sql=%d health=%d admin=%d", &n_sql, &n_health,
                &n_admin) != 3 ||
         n_sql < 0 || n_health < 0 || n_health > 1 || n_admin < 0 || n_admin > 1 ||
         n_sql + n_health + n_admin != got || n_sql > MX_UPGRADE_MAX_FDS)) {
        log_error("upgrade_failed", "path=%s msg=\"the running process sent a message this "
                  "version does not read\" sockets=%d", path, got);
        for (int i = 0; i < got; i++) close(fds[i]);
        return 0;
    }
    if (n_sql > MX_UPGRADE_MAX_FDS) { /* previous format, more than we keep */
        for (int i = MX_UPGRADE_MAX_FDS; i < n_sql; i++) close(fds[i]);
        n_sql = MX_UPGRADE_MAX_FDS;
    }
    memcpy(in->sql, fds, sizeof(int) * (size_t)n_sql);
    in->n_sql = n_sql;
    if (n_health) in->health_fd = fds[n_sql];
    if (n_admin) in->admin_fd = fds[n_sql + n_health];
    log_info("upgrade_received", "path=%s listeners=%d health=%d admin=%d", path, n_sql, n_health,
             n_admin);
    return n_sql + n_health + n_admin;
}

bool upgrade_fd_is(int fd, const char *addr)
{
    char host[256];
    const char *colon = strrchr(addr, ':');
    if (!colon) return false;
    size_t hl = (size_t)(colon - addr);
    const char *h = addr;
    if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    if (hl >= sizeof host) return false;
    memcpy(host, h, hl);
    host[hl] = 0;
    struct sockaddr_storage have;
    socklen_t have_len = sizeof have;
    if (getsockname(fd, (struct sockaddr *)&have, &have_len) != 0) return false;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV}, *res = NULL;
    if (getaddrinfo(hl ? host : NULL, colon + 1, &hints, &res) != 0) return false;
    bool same = false;
    for (struct addrinfo *r = res; r && !same; r = r->ai_next) {
        if (r->ai_family != have.ss_family) continue;
        if (r->ai_family == AF_INET) {
            const struct sockaddr_in *a = (const void *)r->ai_addr, *b = (const void *)&have;
            same = a->sin_port == b->sin_port && a->sin_addr.s_addr == b->sin_addr.s_addr;
        } else if (r->ai_family == AF_INET6) {
            const struct sockaddr_in6 *a = (const void *)r->ai_addr, *b = (const void *)&have;
            same = a->sin6_port == b->sin6_port &&
                   memcmp(&a->sin6_addr, &b->sin6_addr, sizeof a->sin6_addr) == 0;
        }
    }
    freeaddrinfo(res);
    return same;
}

static void on_client_closed(uv_handle_t *h)
{
    free(h);
}

static void on_connect(uv_stream_t *srv, int status)
{
    if (status < 0) return;
    uv_pipe_t *c = malloc(sizeof *c);
    if (!c) return;
    uv_pipe_init(srv->loop, c, 0);
    if (uv_accept(srv, (uv_stream_t *)c) != 0) {
        uv_close((uv_handle_t *)c, on_client_closed);
        return;
    }
    int fds[MX_UPGRADE_MAX_FDS + 2], n = 0;
    for (int i = 0; i < g_px->n_workers && n < MX_UPGRADE_MAX_FDS; i++) {
        uv_os_fd_t fd;
        if (uv_fileno((uv_handle_t *)&g_px->workers[i].listener, &fd) == 0) fds[n++] = fd;
    }
    int n_sql = n;
    int health_fd = status_http_fd(), admin_fd = admin_listen_fd();
    if (health_fd >= 0) fds[n++] = health_fd;
    if (admin_fd >= 0) fds[n++] = admin_fd;
    uv_os_fd_t cfd;
    uv_fileno((uv_handle_t *)c, &cfd);
    char cbuf[CMSG_SPACE(sizeof fds)];
    memset(cbuf, 0, sizeof cbuf);
    char tag[96];
    snprintf(tag, sizeof tag, UPGRADE_TAG " sql=%d health=%d admin=%d", n_sql,
             health_fd >= 0 ? 1 : 0, admin_fd >= 0 ? 1 : 0);
    struct iovec iov = {.iov_base = tag, .iov_len = strlen(tag) + 1};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                         .msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)n)};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)n);
    memcpy(CMSG_DATA(cm), fds, sizeof(int) * (size_t)n);
    ssize_t w = n_sql ? sendmsg(cfd, &msg, MSG_NOSIGNAL) : -1;
    uv_close((uv_handle_t *)c, on_client_closed);
    if (w < 0) {
        log_warn("upgrade_failed", "error=\"%s\"", n_sql ? strerror(errno) : "no listeners");
        return;
    }
    log_info("upgrade_handover",
             "listeners=%d health=%d admin=%d msg=\"a new process took the listeners; draining\"",
             n_sql, health_fd >= 0 ? 1 : 0, admin_fd >= 0 ? 1 : 0);
    upgrade_stop();
    /* The new process answers the load balancer and the operator now: stop
     * accepting on those sockets (its copies stay open in the new process). */
    status_http_stop();
    admin_quiesce();
    if (g_handover) g_handover();
}

int upgrade_listen(uv_loop_t *loop, struct mx_proxy *px, void (*on_handover)(void))
{
    g_px = px;
    g_handover = on_handover;
    const char *path = px->cfg->upgrade_socket;
    if (!path) return 0;
    snprintf(g_path, sizeof g_path, "%s", path);
    unlink(path); /* a leftover, or the old process's name for its socket */
    uv_pipe_init(loop, &server, 0);
    int rc = uv_pipe_bind(&server, path);
    if (rc == 0) rc = uv_listen((uv_stream_t *)&server, 4, on_connect);
    if (rc != 0) {
        log_error("upgrade_listen_failed", "path=%s err=%s", path, uv_strerror(rc));
        uv_close((uv_handle_t *)&server, NULL);
        return -1;
    }
    serving = true;
    return 0;
}

void upgrade_stop(void)
{
    if (serving && !uv_is_closing((uv_handle_t *)&server)) uv_close((uv_handle_t *)&server, NULL);
    serving = false;
}
