/* How many connections mymux may hold to one backend server, all workers
 * together: the one rule every module asks (pool, router, admin, descriptors). */
#ifndef MX_POOL_CAP_H
#define MX_POOL_CAP_H

#include <stddef.h>

struct mx_config;
struct mx_server;

/* backends[i].max_connections when set; else pool.max_per_backend when given
 * as a number; else (auto) pool.per_cpu times the server's CPU count, from
 * backends[i].cpus or learned from its status port (sv->cpus, may be NULL);
 * else the fallback pool.max_per_backend (64). Always at least 1. */
int pool_server_cap(const struct mx_config *cfg, const struct mx_server *sv, size_t i);

#endif
