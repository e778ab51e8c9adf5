/* Sums of the per-worker counters (core/proxy.h: struct mx_hot) with the
 * process-wide ones, for the admin side. Readers run on other threads than the
 * writers: every field is read with a relaxed atomic load, so a sum is a
 * consistent count of each counter though not of all of them at one instant. */
#include <string.h>

#include "core/proxy.h"
#include "core/worker.h"
#include "pool/pool.h"

void stats_proc_total(const struct mx_proxy *px, struct mx_stats *out)
{
    const size_t n = sizeof *out / sizeof(mx_counter);
    const mx_counter *base = (const mx_counter *)&px->stats;
    mx_counter *o = (mx_counter *)out;
    for (size_t k = 0; k < n; k++) {
        uint64_t v = STAT_GET(base[k]);
        for (int i = 0; i < px->n_workers; i++) {
            const struct mx_hot *h = px->workers[i].hot;
            if (h) v += STAT_GET(((const mx_counter *)&h->proc)[k]);
        }
        atomic_store_explicit(&o[k], v, memory_order_relaxed);
    }
}

/* The shared counter plus, in every worker's block, the counter at offset off
 * of entry idx of the array at array_off (entries stride bytes apart). */
static uint64_t sum_shares(const struct mx_proxy *px, const mx_counter *shared, size_t array_off,
                           size_t stride, int idx, size_t off)
{
    uint64_t v = STAT_GET(*shared);
    for (int i = 0; i < px->n_workers; i++) {
        const char *h = (const char *)px->workers[i].hot;
        if (h) v += STAT_GET(*(const mx_counter *)(h + array_off + (size_t)idx * stride + off));
    }
    return v;
}

uint64_t stats_srv_total(const struct mx_proxy *px, int server, const mx_counter *shared,
                         size_t off)
{
    if (server < 0 || server >= MX_MAX_SERVERS) return STAT_GET(*shared);
    return sum_shares(px, shared, offsetof(struct mx_hot, srv), sizeof(struct mx_srv_hot), server,
                      off);
}

uint64_t stats_user_total(const struct mx_proxy *px, int user, const mx_counter *shared,
                          size_t off)
{
    if (user < 0 || user >= MX_MAX_USER_STATS) return STAT_GET(*shared);
    return sum_shares(px, shared, offsetof(struct mx_hot, user), sizeof(struct mx_user_hot), user,
                      off);
}

uint64_t stats_pool_total(const struct mx_proxy *px, int server, size_t off)
{
    if (server < 0 || server >= MX_MAX_SERVERS) return 0;
    uint64_t v = 0;
    for (int i = 0; i < px->n_workers; i++) {
        const struct mx_pool *pools = px->workers[i].pools;
        if (pools) v += STAT_GET(*(const mx_counter *)((const char *)&pools[server] + off));
    }
    return v;
}
