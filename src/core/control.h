/* Control thread: its own event loop for work off the query path (health
 * checks now; admin HTTP, reload and counter aggregation later). */
#ifndef MX_CONTROL_H
#define MX_CONTROL_H

struct mx_proxy;

/* Starts the control thread. Call after the workers started. Returns 0 or a
 * negative UV error (nothing is left running then). */
int control_start(struct mx_proxy *px) __attribute__((warn_unused_result));
/* Stops it and waits for the thread to end; safe when not started. Call
 * before the workers are joined. */
void control_stop(void);

#endif
