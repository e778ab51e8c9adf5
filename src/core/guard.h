/* Connection-storm protection on the client side: accept rate (token bucket)
 * and handshakes in progress per worker and per client address, and repeated
 * authentication failures per client address and per user name (slowed, then
 * refused for a while). */
#ifndef MX_GUARD_H
#define MX_GUARD_H

#include <stdbool.h>
#include <stdint.h>

struct mx_worker;
struct mx_session;
struct mx_proxy;

/* A new session may start its handshake now; otherwise it is queued and its
 * greeting goes out when a token and a handshake slot are free, and its address
 * holds less than its share of the worker's slots (guard_addr_share). */
bool guard_admit(struct mx_worker *w, struct mx_session *s);
/* A session left the handshake phase (logged in or closed): a slot is free. */
void guard_handshake_done(struct mx_session *s);
/* Periodic (worker tick and a short timer while sessions wait). */
void guard_tick(struct mx_worker *w);
/* The session closed while queued. */
void guard_forget(struct mx_session *s);
/* How many of a worker's `slots` handshake slots one client address may hold:
 * three quarters (at least one), so others always find room. */
int guard_addr_share(int slots);

/* Authentication failures by client address and by user name, process-wide.
 * GUARD_BLOCKED: the address is refused (1129) without a check; GUARD_HELD:
 * the user name failed too often elsewhere and this address has failed as
 * well, so the attempt is refused as a failure (1045) without a check; GUARD_SLOW: a
 * failure is answered late. */
enum guard_verdict { GUARD_OK, GUARD_SLOW, GUARD_BLOCKED, GUARD_HELD };
enum guard_outcome { GUARD_PASSED, GUARD_FAILED, GUARD_UNDECIDED };
/* Whether the address is blocked now (checked at accept). */
enum guard_verdict guard_addr_check(struct mx_proxy *px, const char *ip);
/* Before a password is checked: the attempt is counted as a failure in
 * advance (pending), so parallel attempts, on any worker, cannot get more
 * checks than the rule leaves. Every call that returns GUARD_OK or
 * GUARD_HELD must be followed by guard_auth_end with the outcome (HELD: FAILED). */
enum guard_verdict guard_auth_begin(struct mx_proxy *px, const char *ip, const char *user);
/* The check's outcome: FAILED counts for the address and the user name (and
 * may start the address's block), PASSED clears only the user name's own
 * failures, UNDECIDED (another exchange follows) counts nothing. Returns
 * GUARD_SLOW when a failure should be answered late. */
enum guard_verdict guard_auth_end(struct mx_proxy *px, const char *ip, const char *user,
                                  enum guard_outcome o);
/* A failure without a check (COM_CHANGE_USER past its tries). */
void guard_addr_failed(struct mx_proxy *px, const char *ip, const char *user);

#endif
