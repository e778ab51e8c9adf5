/* Reload: builds the new snapshot, maps its backends onto the existing server
 * slots by name, swaps it in atomically; old snapshots stay valid until exit
 * because workers may still be reading them. */
#include "core/reload.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/config.h"
#include "core/log.h"
#include "core/tls.h"
#include "core/proxy.h"

static pthread_mutex_t reload_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const state_names[] = {"up", "down", "draining", "maintenance"};

/* Orders nc->backends by slot: old slots keep their names, a removed backend
 * leaves a placeholder, new backends take free slots. */
static int map_slots(struct mx_proxy *px, const struct mx_config *old, struct mx_config *nc,
                     char *err, size_t errlen)
{
    size_t n_slots = old->n_backends;
    int slot_of[MX_MAX_SERVERS * 2];
    if (nc->n_backends > MX_MAX_SERVERS) {
        snprintf(err, errlen, "at most %d backends", MX_MAX_SERVERS);
        return -1;
    }
    for (size_t i = 0; i < nc->n_backends; i++) {
        slot_of[i] = -1;
        for (size_t k = 0; k < old->n_backends; k++)
            if (strcmp(old->backends[k].name, nc->backends[i].name) == 0) slot_of[i] = (int)k;
        if (slot_of[i] < 0) {
            if (n_slots >= MX_MAX_SERVERS) {
                snprintf(err, errlen, "no free backend slot (at most %d, removed ones included)",
                         MX_MAX_SERVERS);
                return -1;
            }
            slot_of[i] = (int)n_slots++;
        }
    }
    struct mx_backend_cfg *arr = calloc(n_slots, sizeof *arr);
    if (!arr) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    bool used[MX_MAX_SERVERS] = {0};
    for (size_t i = 0; i < nc->n_backends; i++) {
        arr[slot_of[i]] = nc->backends[i];
        used[slot_of[i]] = true;
    }
    for (size_t k = 0; k < n_slots; k++) {
        if (used[k]) continue;
        /* removed: a placeholder that names it, takes no traffic, is not checked */
        arr[k].name = strdup(old->backends[k].name);
        arr[k].host = strdup(old->backends[k].host);
        if (!arr[k].name || !arr[k].host) {
            for (size_t j = 0; j <= k; j++)
                if (!used[j]) {
                    free(arr[j].name);
                    free(arr[j].host);
                }
            free(arr);
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        arr[k].port = old->backends[k].port;
        arr[k].weight = 0;
        arr[k].health.type = MX_CHECK_NONE;
    }
    free(nc->backends);
    nc->backends = arr;
    nc->n_backends = n_slots;
    for (size_t k = 0; k < n_slots; k++) {
        struct mx_server *sv = &px->servers[k];
        int was_removed = atomic_load(&sv->removed);
        if (!used[k]) {
            if (!was_removed) {
                int from = atomic_exchange(&sv->state, SRV_MAINT);
                if (from != SRV_MAINT) srv_state_changed(sv, mx_now_ms());
                atomic_store(&sv->removed, 1);
                log_info("backend_state", "backend=%s from=%s to=maintenance reason=removed",
                         arr[k].name, state_names[from & 3]);
            }
        } else if (k >= old->n_backends || was_removed) {
            atomic_store(&sv->removed, 0);
            atomic_store(&sv->check_ok, -1);
            atomic_store(&sv->up_since_ms, mx_now_ms());
            atomic_store(&sv->state, arr[k].maintenance ? SRV_MAINT : SRV_UP);
            srv_state_changed(sv, mx_now_ms());
            log_info("backend_added", "backend=%s address=%s:%d", arr[k].name, arr[k].host,
                     arr[k].port);
        }
    }
    return 0;
}

int reload_config(struct mx_proxy *px, char *err, size_t errlen)
{
    pthread_mutex_lock(&reload_lock);
    struct mx_config *old = px->cfg, *nc = NULL;
    int rc = -1;
    if (px->n_old_cfgs >= (int)(sizeof px->old_cfgs / sizeof px->old_cfgs[0])) {
        snprintf(err, errlen, "too many reloads in one process lifetime; restart it");
        goto out;
    }
    if (config_load(old->path, &nc, err, errlen) != 0) goto out;
    if (strcmp(nc->listen_host, old->listen_host) != 0 || nc->listen_port != old->listen_port)
        log_warn("reload", "msg=\"listen address changes need a restart; keeping %s:%d\"",
                 old->listen_host, old->listen_port);
    if (nc->workers != old->workers)
        log_warn("reload", "msg=\"the number of workers changes only with a restart\"");
    if (map_slots(px, old, nc, err, errlen) != 0) {
        config_free(nc);
        goto out;
    }
    nc->generation = old->generation + 1;
    if (nc->log_level) log_set_level(nc->log_level);
    px->old_cfgs[px->n_old_cfgs++] = old;
    atomic_store(&px->cfg, nc);
    tls_reload(px); /* new certificates for new connections; a bad one is logged and kept out */
    for (size_t i = 0; i < nc->n_users; i++) ustats_for(px, nc->users[i].name);
    log_info("reloaded", "generation=%llu backends=%zu users=%zu",
             (unsigned long long)nc->generation, nc->n_backends, nc->n_users);
    rc = 0;
out:
    pthread_mutex_unlock(&reload_lock);
    return rc;
}
