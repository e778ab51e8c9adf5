/* Client sessions: the handshake and authentication mymux terminates, then each
 * command classified, sent over a borrowed backend connection, and its answer
 * streamed back. */
#ifndef MX_SESSION_H
#define MX_SESSION_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "core/sock.h"
#include "core/registry.h"
#include "pool/pool.h"
#include "pool/server_conn.h"
#include "pool/sync.h"
#include "protocol/diag.h"
#include "protocol/classify.h"
#include "protocol/response.h"

struct mx_worker;
struct mx_pool;
struct mx_reg_entry;

/* Where a client session is. Only session_set_state() changes it, along the
 * moves of the table in session_fsm.c (checked in debug builds). */
enum sess_state {
    SS_HANDSHAKE = 0, /* greeting sent (or queued by the guard, or a PROXY header awaited);
                       * waiting for the handshake response (calloc leaves a new session here) */
    SS_AUTH_SWITCH,   /* auth switch request sent; waiting for the client's token */
    SS_AUTH_FULL,     /* caching_sha2 full auth asked; waiting for a key request or password */
    SS_AUTH_RSA,      /* public key sent; waiting for the encrypted password */
    SS_CONNECTING,    /* authenticated; first backend connection being set up */
    SS_IDLE,          /* waiting for a command */
    SS_WAIT_BACKEND,  /* command held until a backend connection is ready (pool wait) */
    SS_SYNC,          /* backend being brought to the session's schema and charset */
    SS_FORWARD,       /* command packets being forwarded to the backend */
    SS_DISCARD,       /* the command failed before it reached a backend: the rest of its
                       * packets is read and dropped, then s->defer_err answers it */
    SS_RESPONSE,      /* backend answer being streamed to the client */
    SS_DIAG,          /* answer relayed; reading the conditions (or user locks) it left */
    SS_INFILE,        /* client sending a LOCAL INFILE's contents to the backend */
    SS_LOCAL,         /* a reply mymux generated is being written */
    SS_KILL_WAIT,     /* KILL of a session on another worker: waiting until it is closed */
    SS_CLOSING,       /* closing: freed in the close callback */
    SS_N_STATES
};

/* The name of a state (logs, the abort of an impossible move). */
const char *session_state_name(enum sess_state st);
/* Whether the table allows a session in `from` to move to `to`. */
bool session_transition_ok(enum sess_state from, enum sess_state to);
/* Still authenticating the client (no command yet). */
static inline bool session_state_auth(enum sess_state st)
{
    return st == SS_HANDSHAKE || st == SS_AUTH_SWITCH || st == SS_AUTH_FULL || st == SS_AUTH_RSA;
}
/* Running a command of the client's (counted busy on the admin side). */
static inline bool session_state_busy(enum sess_state st)
{
    return !session_state_auth(st) && st != SS_CONNECTING && st != SS_IDLE;
}

#define MX_SESSION_MAGIC 0x4d585353u /* "MXSS" */
#define MX_SESSION_FREED 0xdead5500u

struct mx_session {
    struct mx_sock sock;
    enum sess_state state;           /* written by session_set_state() only */
#ifndef NDEBUG
    uint32_t magic;                  /* MX_SESSION_MAGIC while alive, MX_SESSION_FREED after */
#endif
    struct mx_worker *w;
    uint32_t id;                     /* client-visible connection id */
    struct mx_reg_entry *reg;        /* &reg_entry once registered */
    struct mx_session *next, *prev;  /* worker->sessions */
    struct mx_pool_waiter waiter;    /* its place in a pool while it waits for a connection */
    uv_timer_t timer;                /* handshake timeout, idle timeout */
    char peer[64];                   /* client address "ip:port" */

    /* authentication */
    uint8_t nonce[20];
    uint8_t seq;                     /* sequence id of the last client packet */
    uint32_t caps;                   /* negotiated with the client */
    uint8_t zstd_level;              /* the client's zstd level (CLIENT_ZSTD_COMPRESSION) */
    uint8_t charset;                 /* collation id */
    char plugin[32];                 /* plugin of the auth exchange in progress */
    bool changing_user;              /* the exchange is a COM_CHANGE_USER */
    uint8_t change_user_failures;    /* refused COM_CHANGE_USERs: after 3, all are refused */
    struct mx_cred *saved_cred;      /* identity before COM_CHANGE_USER */
    bool sha2_fast_failed;
    struct mx_cred cred;             /* user name and what we learned of the secret */
    char schema[192];                /* current schema ("" none): 64 characters of up to 3 bytes */
    bool schema_utf8;                /* ...as the trackers reported it (utf8), else the
                                        client's bytes in its character set */
    char pending_schema[192];        /* schema of the handshake / INIT_DB / USE in flight */

    /* backend */
    struct mx_backend *be;
    int server;                      /* index of the chosen backend server */
    uint16_t status;                 /* server status of the last answer */

    /* the command in flight */
    uint8_t cmd;
    bool is_use;                     /* COM_QUERY that is a USE */
    bool infile_ok;                  /* the statement named a LOCAL file */
    uint8_t n_infile;                /* LOCAL files the text names (a multi-statement: several) */
    uint64_t infile_hash[8];
    uint64_t fwd_left;               /* bytes of the current packet still to forward */
    bool fwd_cont;                   /* another packet of the same command follows */
    uint64_t cmd_bytes;              /* payload bytes of the command's packets so far */
    uint64_t body_left;              /* bytes of the current response packet to pass */
    bool resp_done;                  /* the answer is complete (bytes may still be in flight) */
    bool last_pkt_done;              /* the packet whose body is passing ends the answer */
    uint64_t skip_left;              /* bytes of a dropped command still to read */
    bool skip_cont;                  /* ...and a continuation packet follows */
    bool resp_started;               /* bytes of the answer reached the client */
    bool lock_doubt;                 /* statements ran on the held connection since its user
                                        locks were last asked for (backends[].lock_check) */
    bool locks_held;                 /* ...and the answer: the server counts some */
    uint8_t resp_seq;                /* sequence id of the last answer packet relayed */
    bool resp_cont;                  /* ...which was 16 MiB: a continuation is due next */
    bool close_after_write;
    uint32_t pins;                   /* why the session keeps its connection (cls_pin and SESS_PIN bits) */
    bool soft_pin;                   /* keep the connection for the next command only */
    uint32_t cmd_pins_before;        /* pins and soft_pin as the command in flight found them */
    bool cmd_soft_before;            /* (a command refused half-sent never ran: its pins go) */
    struct mx_diag diag;             /* the conditions the last statement that raised any left,
                                        read from the server before the connection went back */
    bool clears_diag;                /* the statement in flight empties them on the server even
                                        if it raises none (it uses tables; on TiDB: any) */
    bool prep_clears_diag;           /* ...and the statement being prepared would */
    uint64_t prep_infile_hash;       /* ...and the file it names if a LOAD DATA LOCAL (0: not) */
    uint8_t hs_charset;              /* collation id of the handshake (what a reset restores) */
    bool ansi_quotes;                /* sql_mode has ANSI_QUOTES: "x" is an identifier */
    struct mx_vars vars;             /* replayable settings */
    struct mx_vars *pending;         /* settings of the SET in flight, applied on success */
    int pending_charset;             /* collation of a SET NAMES in flight, -1 none */
    bool schema_moved;               /* a USE inside a multi-statement: the schema is the pinned connection's */
    uint32_t pending_unpins;         /* pins the command in flight clears on success */
    bool pending_global;             /* the command in flight is a SET GLOBAL: on success the
                                        server's pooled connections hold the old values */
    /* what the server's session trackers said of the command in flight */
    bool trk_changed;                /* SERVER_SESSION_STATE_CHANGED was seen */
    bool trk_explainable;            /* a command whose every change mymux can replay */
    bool trk_unreplayable;           /* a reported value mymux cannot write back */
    bool trk_has_schema;
    char trk_schema[192];            /* the current schema the server reported */
    struct mx_vars *trk_vars;        /* reported system variables, as SET literals */
    uint64_t last_insert_id;         /* what LAST_INSERT_ID() returns on this session */
    bool insert_id_unsure;           /* last_insert_id is an OK's insert id that may be an
                                        explicit value (the server kept the one before):
                                        read back on the spot (insert_id_fetch) */
    uint64_t insert_id_before;       /* ...and that one, the session's before the statement */
    bool reads_insert_id;            /* the session has asked LAST_INSERT_ID() in SQL: only then
                                        is an insert id made sure of (it costs a query) */
    int64_t last_row_count;          /* ROW_COUNT() */
    uint64_t last_found_rows;        /* FOUND_ROWS() after a SELECT without SQL_CALC_FOUND_ROWS */
    bool prev_overwritten;           /* mymux's own statements ran after the session's last one
                                        on its connection: FOUND_ROWS() and ROW_COUNT() there
                                        are no longer the session's (answer them from above) */
    uint64_t cmd_started_us;
    int query_timeout_ms;            /* the user's query_timeout (-1: pool.query_timeout) */
    uint32_t wait_timeout_s;         /* the session's own SET wait_timeout (0: not set), which
                                        mymux keeps on the client side: a pooled backend
                                        connection is not the session's to time out */
    uint64_t started_ms;             /* when the client connected */
    uint64_t digest;                 /* query digest handle of the statement in flight */
    char synthetic[64];              /* a command mymux sends instead of the client's */
    uint32_t kq_victim;              /* the synthetic is KILL QUERY of this session's... */
    unsigned kq_tid;                 /* ...backend thread, on server s->server */
    bool kq_owner;                   /* ...asked by its owner (else it authorises a KILL) */
    bool kq_gone_ok;                 /* in flight: its ERR 1094 is answered OK (see relay) */
    uint16_t synthetic_len;
    struct mx_kill_batch *kb;        /* KILL USER under way (session.c), NULL otherwise */
    bool counted;                    /* counted in px->sessions_total */
    bool fd_counted;                 /* its socket counted in px->client_fds */
    uint64_t login_avoid;            /* servers whose first connection failed this login */
    bool proxy_wait;                 /* a trusted load balancer's PROXY header is awaited */
    bool discard_infile;             /* SS_DISCARD of LOCAL INFILE data, up to an empty packet */
    struct be_error *defer_err;      /* SS_DISCARD: the error that answers the command */
    uint32_t kill_after;             /* KILL of another user's session, once the backend agreed */
    struct mx_reg_entry reg_entry;
    struct mx_user_stats *ustats;    /* this user's counters (NULL before auth) */
    struct mx_session *guard_next;   /* worker's queue of sessions waiting for a greeting */
    bool guard_queued;
    bool in_handshake;               /* counted in worker->handshaking */
    bool hs_addr_counted;            /* ...and in its address's share (guard.c) */
    bool deny_pending;               /* a refusal is delayed (repeated failures) */
    bool deny_used_password;

    /* prepared statements (ids are mymux's) */
    struct mx_stmts stmts;
    uint32_t last_stmt_id;           /* for MariaDB's statement id -1 */
    struct mx_pstmt *prep_ps;        /* client COM_STMT_PREPARE in flight (a reference) */
    bool prep_patched;               /* its answer's statement id was rewritten */
    uint32_t prep_pins;              /* what each EXECUTE of it will pin */
    uint8_t prep_kill;               /* it is a KILL (STMT_KILL_*): see mx_sstmt */
    bool prep_kill_query;
    uint64_t prep_kill_id;
    struct mx_pstmt *exec_ps;        /* statement the command needs on the backend (a reference) */
    uint32_t exec_id;                /* its client id */
    bool exec_needs_types;           /* EXECUTE re-using types the backend may not hold */
    bool out_cmd_ready;              /* the command was rewritten into the backend's output */
    bool exec_retained;              /* the EXECUTE's bytes stay until its answer begins */
    bool exec_retried;               /* ...and were already sent again after ERR 1615 */
    bool exec_first;                 /* the EXECUTE's answer has not begun yet */
    bool exec_cursor;                /* the EXECUTE's flags ask for a cursor */
    uint32_t exec_pkt_len;

    /* for the disconnect log line (session_log.c) */
    uint64_t log_bytes_in, log_bytes_out, log_queries;
};

/* session_fsm.c: the one writer of s->state. In debug builds (no NDEBUG) a
 * move the table does not allow, or a session whose magic is wrong, logs both
 * state names and aborts. */
void session_set_state(struct mx_session *s, enum sess_state st);
/* Debug builds: aborts unless s is a live session. */
void session_check(const struct mx_session *s);

/* session_log.c: the `disconnect` line (info), called once by session_close. */
void session_log_end(const struct mx_session *s, const char *why);

/* Session pins beyond enum cls_pin (classify.h). */
#define SESS_PIN_PREPARED (1u << 20) /* binary prepared statements (until mapped) */
#define SESS_PIN_LONG_DATA (1u << 21)/* COM_STMT_SEND_LONG_DATA pending an execute */
#define SESS_PIN_CURSOR (1u << 22)   /* a cursor is open */
#define SESS_PIN_OPTION (1u << 23)   /* COM_SET_OPTION changed the connection */
#define SESS_PIN_TRACKED (1u << 24)  /* the server reported a state change mymux cannot replay */
/* Pins that last for one more command only; the server's flags decide after. */
#define SESS_SOFT_PINS (CLS_PIN_TRX | CLS_PIN_SAVEPOINT | CLS_PIN_FOUND_ROWS)

/* session_state.c: what commands do to the session's state. */
/* A COM_QUERY about to run (sql may be rewritten in place when whole). */
void sstate_on_query(struct mx_session *s, const struct cls_result *c, char *sql, size_t len,
                     bool whole);
/* Any other command about to run. */
/* Rewrites the whole command packet at the client buffer's rpos (COM_QUERY, or
 * COM_STMT_PREPARE with prepare: CONNECTION_ID() only) as classified in c:
 * CONNECTION_ID() and the readers of the previous statement mymux answers get
 * their values, with the column names and types the server would have given
 * (classify_rewrite_named), or, when that cannot be built or does not fit the
 * buffer, the values padded in place. Returns true if the packet changed
 * length (and may have moved: the caller reads it again from rpos). */
bool sstate_rewrite(struct mx_session *s, const struct cls_result *c, bool prepare);
void sstate_on_command(struct mx_session *s, const uint8_t *payload, size_t len);
/* The answer is complete. */
void sstate_on_finish(struct mx_session *s, const struct mx_resp *r);
/* Counts pins the session did not hold yet (stats.pins by reason). */
void sstate_count_pins(struct mx_session *s, uint32_t pins);
/* A status-carrying packet (enum resp_term) of an answer from a backend whose
 * trackers are on: records what they report and rewrites the packet in place
 * as the client expects it. Returns its new length, or -1 if malformed. */
int sstate_track_packet(struct mx_session *s, uint8_t *p, uint32_t len, int term);
/* How the session's backend reads its next statement (see classify.h). */
void sstate_lex(const struct mx_session *s, struct cls_lex *lx);
/* Forgets what the trackers said of the command in flight. */
void sstate_track_clear(struct mx_session *s);
/* Whether the session may give its connection back now. */
bool sstate_can_release(const struct mx_session *s);
/* Whether it holds nothing a connection change would lose (multiplexing aside). */
bool sstate_is_clean(const struct mx_session *s);
/* The command failed before reaching a backend: forget what it would have set. */
void sstate_abort(struct mx_session *s);
/* Back to a fresh session (COM_RESET_CONNECTION, COM_CHANGE_USER). */
void sstate_reset(struct mx_session *s);
/* Writes into be's output the commands that bring it to s's state; returns the
 * number of answers to expect or -1. */
int sstate_write_sync(struct mx_session *s, struct mx_backend *be);
/* The sync commands all succeeded: be now has s's state. */
void sstate_synced(struct mx_session *s, struct mx_backend *be);

/* Accepted connection: set up the session and send the greeting. */
void session_accept(struct mx_worker *w, uv_stream_t *listener);
/* From the pool. */
/* What a borrow for s asks of the pool (pointers into s). */
void session_pool_req(const struct mx_session *s, struct mx_pool_req *r);
void session_backend_ready(struct mx_session *s, struct mx_backend *be);
void session_backend_failed(struct mx_session *s, const struct be_error *e);
/* A login's first backend connection failed: true when another server took it. */
bool session_login_retry(struct mx_session *s, const struct be_error *e);
/* Gives the backend connection back to be reset first (COM_CHANGE_USER). */
void session_drop_backend(struct mx_session *s);
/* The server it waited for went away: borrow from another one. */
void session_reroute(struct mx_session *s);
/* From the backend connection attached to s. */
void session_on_backend_data(struct mx_session *s, struct mx_backend *be);
void session_on_backend_drain(struct mx_session *s, struct mx_backend *be);
/* The one entry point by which the session learns that its connection ended
 * (be_lost, server_conn.c): the command in flight fails, or the session ends
 * when its state was on that connection. It lets go of be (detach_backend),
 * except while a client write still reads be's buffer: then it gives it back
 * once that write is out. */
void session_backend_lost(struct mx_session *s, struct mx_backend *be, const struct be_error *why);
/* The three above and the holds check, as server_conn.c calls them. */
extern const struct be_owner_ops session_owner_ops;
/* Closes the session (idempotent). */
void session_close(struct mx_session *s, const char *why);
/* The session another worker was asked to close for s's KILL is closed. */
void session_kill_done(struct mx_session *s);
/* Sends ERR (code, sqlstate, message) and closes. */
void session_fail(struct mx_session *s, uint16_t code, const char *state, const char *msg);

/* session_auth.c: the handshake phase. */
void session_send_greeting(struct mx_session *s);
/* A whole packet from the client during authentication. */
void session_auth_packet(struct mx_session *s, const uint8_t *p, size_t len, uint8_t seq);
/* Sends the access-denied error (session_auth.c). */
void session_deny_now(struct mx_session *s, bool used_password);
/* The session timer's callback (it also fires delayed refusals). */
uv_timer_cb session_deny_timer_cb(void);
/* COM_CHANGE_USER: authenticate again (payload includes the command byte). */
void session_change_user(struct mx_session *s, const uint8_t *p, size_t len);
/* Authentication (or change user) finished: attach a backend, select the schema,
 * then OK (in session.c). */
void session_authenticated(struct mx_session *s);
/* After the handshake's final OK: the compressed protocol if negotiated (false: closed). */
bool session_compress_begin(struct mx_session *s);
/* PROXY protocol (session_proxy.c): true when the peer is trusted and its
 * header is now awaited (admission follows once it is read). */
bool session_proxy_expected(struct mx_session *s);
void session_proxy_input(struct mx_session *s);
void session_proxy_timeout(struct mx_session *s);
/* The rest of accepting: limits, the address guard, then the greeting. */
void session_accept_admit(struct mx_session *s);

/* Appends a packet to the client's output and flushes it. Returns false if the
 * session was closed. */
bool session_reply_err(struct mx_session *s, uint16_t code, const char *state, const char *fmt,
                       ...) __attribute__((format(printf, 4, 5)));
bool session_reply_ok(struct mx_session *s);
bool session_flush(struct mx_session *s);

#endif
