/* Copies of a worker's sessions for the admin side: taken by the worker on
 * its own thread when another thread asks (src/core/worker.c). */
#ifndef MX_SNAPSHOT_H
#define MX_SNAPSHOT_H

#include <stdbool.h>
#include <stdint.h>

struct mx_worker;

/* What the admin side may see of one session (copied by its worker). */
struct mx_session_info {
    uint32_t id;
    char user[64];
    char peer[64];
    char schema[64];
    int server;        /* backend server of its connection, -1 none */
    uint32_t pins;     /* enum cls_pin | SESS_PIN_* bits */
    bool in_trans;
    bool has_backend;
    int state;         /* enum sess_state */
    uint8_t cmd;       /* command in flight (when state is not idle) */
    uint64_t cmd_ms;   /* how long it has run */
    uint64_t age_ms;   /* since the session connected */
};
/* Asks worker w for a copy of its sessions (any thread but w's). Fills at most
 * max entries and returns how many, or -1 when the worker did not answer in
 * time. */
int worker_snapshot_sessions(struct mx_worker *w, struct mx_session_info *out, int max);

#endif
