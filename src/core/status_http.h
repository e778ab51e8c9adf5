/* The health endpoint for an upstream load balancer: HTTP 200 while mymux
 * serves, 503 once a graceful shutdown began (shutdown.health_listen). */
#ifndef MX_STATUS_HTTP_H
#define MX_STATUS_HTTP_H

#include <uv.h>

struct mx_proxy;

/* Listens on cfg->health_listen when set (on loop, the main thread's), on
 * inherited_fd when a binary upgrade handed one over (-1: none; closed when
 * the configuration no longer names its address). */
int status_http_start(uv_loop_t *loop, struct mx_proxy *px, int inherited_fd);
/* The listening socket's fd, for a binary upgrade; -1 when not listening. */
int status_http_fd(void);
void status_http_stop(void);

#endif
