/* Connection-storm protection on the client side: accept rate (token bucket)
 * and handshakes in progress per worker, and repeated authentication failures
 * per client address (slowed, then refused for a while). */
#ifndef MX_GUARD_H
#define MX_GUARD_H

#include <stdbool.h>
#include <stdint.h>

struct mx_worker;
struct mx_session;
struct mx_proxy;

/* A new session may start its handshake now; otherwise it is queued and its
 * greeting goes out when a token and a handshake slot are free. */
bool guard_admit(struct mx_worker *w, struct mx_session *s);
/* A session left the handshake phase (logged in or closed): a slot is free. */
void guard_handshake_done(struct mx_session *s);
/* Periodic (worker tick and a short timer while sessions wait). */
void guard_tick(struct mx_worker *w);
/* The session closed while queued. */
void guard_forget(struct mx_session *s);

/* Authentication failures by client address, process-wide. */
enum guard_verdict { GUARD_OK, GUARD_SLOW, GUARD_BLOCKED };
enum guard_verdict guard_addr_check(struct mx_proxy *px, const char *ip);
void guard_addr_failed(struct mx_proxy *px, const char *ip);
void guard_addr_succeeded(struct mx_proxy *px, const char *ip);

#endif
