/* The health endpoint for an upstream load balancer: HTTP 200 while mymux
 * serves, 503 once a graceful shutdown began (shutdown.health_listen). */
#ifndef MX_STATUS_HTTP_H
#define MX_STATUS_HTTP_H

#include <uv.h>

struct mx_proxy;

/* Listens on cfg->health_listen when set (on loop, the main thread's). */
int status_http_start(uv_loop_t *loop, struct mx_proxy *px);
void status_http_stop(void);

#endif
