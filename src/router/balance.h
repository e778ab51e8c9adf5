/* Balancing: which backend server serves a session's next borrow. */
#ifndef MX_BALANCE_H
#define MX_BALANCE_H

struct mx_worker;
struct mx_session;

/* Returns a server index, or -1 when none is usable. */
int balance_pick(struct mx_worker *w, struct mx_session *s);

#endif
