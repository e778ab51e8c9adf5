/* Binary upgrade: a new mymux process takes the listening sockets over from
 * the running one through a unix socket (SCM_RIGHTS) — the SQL listeners, the
 * health endpoint and the admin listener — so that no connection attempt is
 * refused while the old process drains. */
#ifndef MX_UPGRADE_H
#define MX_UPGRADE_H

#include <stdbool.h>
#include <uv.h>

struct mx_proxy;

#define MX_UPGRADE_MAX_FDS 64

/* The sockets a new process received; -1 / 0 where none came. */
struct mx_inherited {
    int sql[MX_UPGRADE_MAX_FDS];
    int n_sql;
    int health_fd;
    int admin_fd;
};

/* At start-up, before the workers: asks a running process at path for its
 * listening sockets and fills in (all -1/0 when no process answered). Returns
 * the number of sockets received. A process of the previous format (SQL
 * listeners only, tag "mymux-listeners") is understood too. */
int upgrade_receive(const char *path, struct mx_inherited *in);

/* True when fd is a socket bound to addr ("host:port", "[v6]:port"). An
 * inherited socket whose address the new configuration changed is not used. */
bool upgrade_fd_is(int fd, const char *addr);

/* Serves path on loop (main thread): a new process that connects gets this
 * process's listeners, this process stops accepting on the health and admin
 * sockets, and then drains (graceful shutdown) through on_handover. */
int upgrade_listen(uv_loop_t *loop, struct mx_proxy *px, void (*on_handover)(void));
void upgrade_stop(void);

#endif
