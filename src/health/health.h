/* Health checks: the scheduler that runs each backend's check on the control
 * loop and turns results into server states (up, down, draining). */
#ifndef MX_HEALTH_H
#define MX_HEALTH_H

#include <stdbool.h>
#include <uv.h>

struct mx_proxy;

/* What one check concluded. */
enum health_outcome {
    HC_OK,    /* the server answered as a healthy one */
    HC_FAIL,  /* no answer, refused, timeout, error, or a server that refuses work */
    HC_DRAIN, /* alive but shutting down gracefully (TiDB status port answered non-200) */
    HC_SKIP,  /* not run: mymux is out of descriptors; says nothing about the server */
};

/* Counters of one server's state machine (control thread only). */
struct health_track {
    int ok_run;          /* consecutive HC_OK */
    int fail_run;        /* consecutive HC_FAIL */
    bool drain_by_check; /* SRV_DRAINING was set by a check, not by an operator */
};

/* The state machine as a pure function. cur is the server's state now (enum
 * mx_srv_state, possibly changed by an operator since the last check). Updates
 * the counters in t and returns the state the server should have:
 * - SRV_MAINT is never left, and an operator's SRV_DRAINING is never left;
 * - HC_OK: DOWN, or DRAINING set by a check, becomes UP after `rise` in a row;
 * - HC_FAIL: UP, or DRAINING set by a check, becomes DOWN after `fall` in a row;
 * - HC_DRAIN: UP becomes DRAINING at once (one authoritative answer, and draining
 *   costs no client an error); a DOWN server stays down;
 * - HC_SKIP changes nothing, counters included. */
int health_next_state(struct health_track *t, int cur, enum health_outcome o, int rise, int fall);

/* Name of an enum mx_srv_state ("up", "down", "draining", "maint"). */
const char *health_state_name(int state);

/* Starts the checks of every backend whose health.type is not none on loop
 * (the control thread's, not yet running or running in the calling thread).
 * Returns 0 or a negative UV error. */
int health_start(uv_loop_t *loop, struct mx_proxy *px) __attribute__((warn_unused_result));
/* Stops the timers and aborts checks in flight (their handles close on the
 * loop; run it until it has no handles left). Call on the loop's thread. */
void health_stop(void);
/* Frees the scheduler's memory after the loop ran its close callbacks. */
void health_free(void);

#endif
