/* The client session's state machine: its one setter, the table of moves it
 * may make, state names and the debug builds' magic. */
#include <stdlib.h>

#include "core/fsm_trace.h"
#include "core/log.h"
#include "session/session.h"

static const char *const ss_names[SS_N_STATES] = {
    [SS_HANDSHAKE] = "handshake", [SS_AUTH_SWITCH] = "auth_switch", [SS_AUTH_FULL] = "auth_full",
    [SS_AUTH_RSA] = "auth_rsa",   [SS_CONNECTING] = "connecting",   [SS_IDLE] = "idle",
    [SS_WAIT_BACKEND] = "wait_backend", [SS_SYNC] = "sync",         [SS_FORWARD] = "forward",
    [SS_DISCARD] = "discard",
    [SS_RESPONSE] = "response",   [SS_DIAG] = "diag",               [SS_INFILE] = "infile",
    [SS_LOCAL] = "local",         [SS_KILL_WAIT] = "kill_wait",     [SS_CLOSING] = "closing",
};

const char *session_state_name(enum sess_state st)
{
    return (unsigned)st < SS_N_STATES && ss_names[st] ? ss_names[st] : "invalid";
}

#define B(st) (1u << (st))

/* For each state, the states it may move to (docs/ARCHITECTURE.md has the same
 * table). Every state may close; nothing leaves SS_CLOSING. */
static const uint32_t ss_moves[SS_N_STATES] = {
    /* the greeting goes out after a queue or a PROXY header; the response may
     * finish the login, ask for a switch or for caching_sha2's full exchange */
    [SS_HANDSHAKE] = B(SS_HANDSHAKE) | B(SS_AUTH_SWITCH) | B(SS_AUTH_FULL) | B(SS_CONNECTING),
    /* a refused COM_CHANGE_USER answers locally */
    [SS_AUTH_SWITCH] = B(SS_AUTH_FULL) | B(SS_CONNECTING) | B(SS_LOCAL),
    [SS_AUTH_FULL] = B(SS_AUTH_RSA) | B(SS_CONNECTING) | B(SS_LOCAL),
    [SS_AUTH_RSA] = B(SS_CONNECTING) | B(SS_LOCAL),
    /* the login's connection is ready and synced: OK, then commands */
    [SS_CONNECTING] = B(SS_LOCAL) | B(SS_IDLE),
    /* a command: answered here, sent over the held connection (synced or not),
     * waiting for one, a KILL waiting for another worker, a COM_CHANGE_USER */
    /* (a command too large, or no server for it: dropped) */
    [SS_IDLE] = B(SS_IDLE) | B(SS_LOCAL) | B(SS_WAIT_BACKEND) | B(SS_SYNC) | B(SS_FORWARD) |
                B(SS_KILL_WAIT) | B(SS_AUTH_SWITCH) | B(SS_AUTH_FULL) | B(SS_CONNECTING) |
                B(SS_DIAG) | B(SS_DISCARD),
    /* lent a connection: synced, or sent at once; a failure drops the command;
     * a KILL USER's own KILL QUERYs (internal, as a diagnostics fetch) */
    [SS_WAIT_BACKEND] = B(SS_WAIT_BACKEND) | B(SS_SYNC) | B(SS_FORWARD) | B(SS_LOCAL) |
                        B(SS_IDLE) | B(SS_DISCARD) | B(SS_DIAG),
    [SS_SYNC] = B(SS_SYNC) | B(SS_FORWARD) | B(SS_LOCAL) | B(SS_IDLE) | B(SS_DISCARD) |
                B(SS_DIAG),
    /* sent: its answer (or none: the next command); too large or lost midway;
     * a KILL QUERY no longer due */
    [SS_FORWARD] = B(SS_FORWARD) | B(SS_RESPONSE) | B(SS_IDLE) | B(SS_LOCAL) | B(SS_DISCARD) |
                   B(SS_DIAG),
    /* complete; its conditions or locks asked for; LOCAL INFILE data; an
     * EXECUTE prepared again (ERR 1615); failed before any of it reached the client */
    [SS_RESPONSE] = B(SS_IDLE) | B(SS_DIAG) | B(SS_INFILE) | B(SS_SYNC) | B(SS_LOCAL) |
                    B(SS_DISCARD),
    /* the rest read: its error is answered (a failure meanwhile replaces the error) */
    [SS_DISCARD] = B(SS_DISCARD) | B(SS_LOCAL),
    [SS_DIAG] = B(SS_IDLE) | B(SS_DIAG) | B(SS_LOCAL),
    /* the empty packet went out: the answer; the backend lost: the rest is dropped */
    [SS_INFILE] = B(SS_INFILE) | B(SS_RESPONSE) | B(SS_DISCARD),
    [SS_LOCAL] = B(SS_IDLE),
    [SS_KILL_WAIT] = B(SS_LOCAL),
    [SS_CLOSING] = 0,
};

bool session_transition_ok(enum sess_state from, enum sess_state to)
{
    if ((unsigned)from >= SS_N_STATES || (unsigned)to >= SS_N_STATES) return false;
    if (from == SS_CLOSING) return false;
    if (to == SS_CLOSING) return true;
    return (ss_moves[from] & B(to)) != 0;
}

void session_check(const struct mx_session *s)
{
#ifndef NDEBUG
    if (s->magic != MX_SESSION_MAGIC) {
        log_error("session_magic", "s=%p magic=0x%08x (0x%08x: freed)", (const void *)s, s->magic,
                  MX_SESSION_FREED);
        abort();
    }
#else
    (void)s;
#endif
}

void session_set_state(struct mx_session *s, enum sess_state st)
{
#ifdef MX_STATE_TRACE
    fsm_trace("ss", session_state_name(s->state), session_state_name(st),
              session_transition_ok(s->state, st));
#elif !defined(NDEBUG)
    session_check(s);
    if (!session_transition_ok(s->state, st)) {
        log_error("session_bad_transition", "conn_id=%u from=%s to=%s", s->id,
                  session_state_name(s->state), session_state_name(st));
        abort();
    }
#endif
    s->state = st;
}
