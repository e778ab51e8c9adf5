/* Balancing algorithms. Today: weighted round robin over servers that are up,
 * backups only when no primary is. */
#include "router/balance.h"

#include "core/session.h"
#include "core/worker.h"

int balance_pick(struct mx_worker *w, struct mx_session *s)
{
    struct mx_proxy *px = w->px;
    const struct mx_config *cfg = px->cfg;
    if (s->server >= 0 && (size_t)s->server < cfg->n_backends &&
        atomic_load(&px->servers[s->server].state) == SRV_UP)
        return s->server; /* affinity: stay where the session was */
    for (int pass = 0; pass < 2; pass++) {
        unsigned total = 0;
        for (size_t i = 0; i < cfg->n_backends; i++)
            if (cfg->backends[i].backup == (pass == 1) && atomic_load(&px->servers[i].state) == SRV_UP)
                total += (unsigned)cfg->backends[i].weight;
        if (!total) continue;
        unsigned t = atomic_fetch_add(&px->rr, 1) % total;
        for (size_t i = 0; i < cfg->n_backends; i++) {
            if (cfg->backends[i].backup != (pass == 1) || !atomic_load(&px->servers[i].state) == SRV_UP) continue;
            if (t < (unsigned)cfg->backends[i].weight) return (int)i;
            t -= (unsigned)cfg->backends[i].weight;
        }
    }
    return -1;
}
