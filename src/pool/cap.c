/* The per-server connection cap. Why auto is per_cpu (8) connections per
 * backend CPU: a sweep of 512 sysbench clients over one 2-core MariaDB
 * (bench/run.sh, issue 13) gave its best throughput with 8 to 16 connections
 * (4 to 8 per core) and lost a fifth at 64 and more, where the server's
 * threads only contend; a TiDB server waits on TiKV for part of each query,
 * so the upper end of that range is taken. */
#include "pool/cap.h"

#include <stdatomic.h>

#include "core/config.h"
#include "core/proxy.h"

int pool_server_cap(const struct mx_config *cfg, const struct mx_server *sv, size_t i)
{
    const struct mx_backend_cfg *bc = &cfg->backends[i];
    if (bc->max_connections > 0) return bc->max_connections;
    if (cfg->pool_max_auto) {
        int cpus = bc->cpus;
        if (cpus <= 0 && sv) cpus = atomic_load_explicit(&sv->cpus, memory_order_relaxed);
        if (cpus > 0) {
            long cap = (long)cpus * cfg->pool_per_cpu;
            return cap > 100000 ? 100000 : (int)cap;
        }
    }
    return cfg->pool_max_per_backend > 0 ? cfg->pool_max_per_backend : 1;
}
