/* Backend host names, resolved off the worker loops: once at start-up (before
 * the workers run) and then every RESOLVE_TTL_MS on the control thread with
 * libuv's thread-pool getaddrinfo. A worker opening a connection copies the
 * cached address (resolve_lookup) and never blocks on DNS. */
#ifndef MX_RESOLVE_H
#define MX_RESOLVE_H

#include <stdbool.h>
#include <sys/socket.h>
#include <uv.h>

struct mx_proxy;

#define RESOLVE_TTL_MS 5000

/* Sets up the cache and resolves every configured host name now (blocking:
 * call before the workers start). */
void resolve_init(struct mx_proxy *px);
/* Refreshes the cache from loop (the control thread's) until resolve_stop. */
int resolve_start(uv_loop_t *loop, struct mx_proxy *px);
void resolve_stop(void);
/* The address last resolved for server slot i if it was resolved for host
 * (the configured name; a reload may change it). Any thread. */
bool resolve_lookup(struct mx_proxy *px, int i, const char *host, struct sockaddr_storage *out);

#endif
