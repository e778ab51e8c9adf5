/* Binary upgrade: a new mymux process takes the listening sockets over from
 * the running one through a unix socket (SCM_RIGHTS), so that no connection
 * attempt is refused while the old process drains. */
#ifndef MX_UPGRADE_H
#define MX_UPGRADE_H

#include <uv.h>

struct mx_proxy;

#define MX_UPGRADE_MAX_FDS 64

/* At start-up, before the workers: asks a running process at path for its
 * listening sockets. Returns how many fds were received into fds (0 when no
 * process answered). */
int upgrade_receive(const char *path, int *fds, int max);

/* Serves path on loop (main thread): a new process that connects gets this
 * process's listeners, and this process then drains (graceful shutdown). */
int upgrade_listen(uv_loop_t *loop, struct mx_proxy *px, void (*on_handover)(void));
void upgrade_stop(void);

#endif
