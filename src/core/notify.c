/* systemd readiness notification: one datagram to $NOTIFY_SOCKET (a path, or
 * an abstract name written with a leading '@'), as sd_notify(3) describes. */
#include "core/notify.h"

#include <errno.h>
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

uint64_t notify_watchdog_ms(void)
{
    const char *us = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
    if (!us || !*us) return 0;
    if (pid && *pid && strtol(pid, NULL, 10) != (long)getpid()) return 0;
    unsigned long long v = strtoull(us, NULL, 10);
    return v / 1000;
}

int notify_send(const char *state)
{
    const char *path = getenv("NOTIFY_SOCKET");
    if (!path || !*path) return 0;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t len = strlen(path);
    if ((path[0] != '/' && path[0] != '@') || len >= sizeof sa.sun_path) return -EINVAL;
    memcpy(sa.sun_path, path, len);
    if (path[0] == '@') sa.sun_path[0] = 0; /* abstract namespace */
    socklen_t sl = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    ssize_t n = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa, sl);
    int rc = n < 0 ? -errno : 1;
    close(fd);
    return rc;
}
