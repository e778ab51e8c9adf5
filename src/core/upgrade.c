/* Binary upgrade: listening sockets handed from the old process to the new one
 * over a unix socket with SCM_RIGHTS; the kernel keeps their accept queues, so
 * connections that arrive during the switch are accepted by the new process. */
#include "core/upgrade.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/log.h"
#include "core/status_http.h"
#include "core/worker.h"

static uv_pipe_t server;
static bool serving;
static struct mx_proxy *g_px;
static void (*g_handover)(void);
static char g_path[108];

int upgrade_receive(const char *path, int *fds, int max)
{
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
    char tag[16];
    char cbuf[CMSG_SPACE(sizeof(int) * MX_UPGRADE_MAX_FDS)];
    struct iovec iov = {.iov_base = tag, .iov_len = sizeof tag};
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
                if (got < max) fds[got++] = fd;
                else close(fd);
            }
        }
    }
    close(s);
    log_info("upgrade_received", "path=%s listeners=%d", path, got);
    return got;
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
    int fds[MX_UPGRADE_MAX_FDS], n = 0;
    for (int i = 0; i < g_px->n_workers && n < MX_UPGRADE_MAX_FDS; i++) {
        uv_os_fd_t fd;
        if (uv_fileno((uv_handle_t *)&g_px->workers[i].listener, &fd) == 0) fds[n++] = fd;
    }
    uv_os_fd_t cfd;
    uv_fileno((uv_handle_t *)c, &cfd);
    char cbuf[CMSG_SPACE(sizeof(int) * MX_UPGRADE_MAX_FDS)];
    memset(cbuf, 0, sizeof cbuf);
    char tag[] = "mymux-listeners";
    struct iovec iov = {.iov_base = tag, .iov_len = sizeof tag};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                         .msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)n)};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)n);
    memcpy(CMSG_DATA(cm), fds, sizeof(int) * (size_t)n);
    ssize_t w = n ? sendmsg(cfd, &msg, MSG_NOSIGNAL) : -1;
    uv_close((uv_handle_t *)c, on_client_closed);
    if (w < 0) {
        log_warn("upgrade_failed", "error=\"%s\"", n ? strerror(errno) : "no listeners");
        return;
    }
    log_info("upgrade_handover", "listeners=%d msg=\"a new process took the listeners; draining\"",
             n);
    upgrade_stop();
    status_http_stop(); /* the new process answers the load balancer now */
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
