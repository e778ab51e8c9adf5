/* Backend connections: connect, log in, run mymux's own commands (reset, state
 * sync) and relay the answers to a client's commands. */
#ifndef MX_SERVER_CONN_H
#define MX_SERVER_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include "core/sock.h"
#include "protocol/packet.h"
#include "protocol/response.h"
#include "pool/sync.h"
#include "pool/stmt.h"

struct mx_session;
struct mx_pool;
struct mx_pool_waiter;
struct mx_backend;

/* What mymux knows of a user's secret: enough to log in to a backend. */
struct mx_cred {
    char user[128];
    char *plain;            /* heap; NULL if unknown */
    bool have_native1;
    uint8_t native1[20];    /* SHA1(pw) */
    bool have_sha2_1;
    uint8_t sha2_1[32];     /* SHA256(pw) */
};
void cred_clear(struct mx_cred *c);
void cred_copy(struct mx_cred *dst, const struct mx_cred *src);

/* Where a backend connection is. Only be_set_state() changes it, along the
 * moves of the table in server_conn.c (checked in debug builds). */
enum be_state {
    BE_CONNECTING = 0, /* TCP connect in progress; pool->all, be->session the waiter (calloc
                        * leaves a new connection here) */
    BE_GREETING,       /* waiting for the server's handshake */
    BE_AUTH,           /* handshake response sent: OK, ERR, auth switch or more data next */
    BE_IDLE,           /* in pool->idle, nobody's */
    BE_INTERNAL,       /* running mymux's own commands (reset, sync), for be->session or none */
    BE_RELAY,          /* attached to be->session, relaying its command's answer */
    BE_ATTACHED,       /* attached to be->session, no answer outstanding (or LOCAL INFILE
                        * data being forwarded) */
    BE_CLOSING,        /* socket closing; freed in the close callback */
    BE_N_STATES
};

/* Completion of a login or of a batch of internal commands: err == 0 on success;
 * otherwise e describes the error (code/state/message, possibly from the server). */
struct be_error {
    uint16_t code;
    char sqlstate[6];
    char msg[256];
    bool local; /* mymux ran out of descriptors: says nothing about the server */
};
typedef void (*be_done_cb)(struct mx_backend *be, int err, const struct be_error *e);
/* e from the payload of a server's ERR packet (its message cut at 200 bytes);
 * false, e untouched, when it is not a well-formed one. */
bool be_error_from_err(struct be_error *e, const uint8_t *p, size_t len);

#define MX_BE_MAGIC 0x4d584245u      /* "MXBE" */
#define MX_BE_FREED 0xdeadbe00u

/* How a connection speaks to the session it is lent to: server_conn.c knows a
 * session as this table and an opaque pointer (session.c fills it; the pool's
 * home carries it). */
struct be_owner_ops {
    /* bytes arrived while attached or relaying */
    void (*data)(struct mx_session *s, struct mx_backend *be);
    /* its output went out while attached or relaying */
    void (*drain)(struct mx_session *s, struct mx_backend *be);
    /* it ended under mymux: the one entry point (see be_lost) */
    void (*lost)(struct mx_session *s, struct mx_backend *be, const struct be_error *why);
    /* whether s holds be as its connection (the debug checks of the seam) */
    bool (*holds)(const struct mx_session *s, const struct mx_backend *be);
};

struct mx_backend {
    struct mx_sock sock;
    enum be_state state;          /* written by be_set_state() only */
#ifndef NDEBUG
    uint32_t magic;               /* MX_BE_MAGIC while alive, MX_BE_FREED once freed */
#endif
    struct mx_pool *pool;
    struct mx_session *session;   /* attached session */
    struct mx_pool_waiter *waiter; /* while it logs in: the waiter it was opened for (pool.c) */
    struct mx_backend *next, *prev; /* pool->idle or pool->all links */
    struct mx_backend *anext, *aprev;
    char user[128];
    char client_ip[64];           /* send_proxy: the client this connection speaks for ("" none) */
    struct sockaddr_storage client_addr, addr;
    uint32_t key_caps;            /* client caps this connection was opened with */
    uint32_t caps;                /* negotiated */
    uint32_t thread_id;
    uint8_t charset;              /* current collation id */
    uint16_t status;              /* server status of the last answer seen */
    uint8_t hs_charset;           /* collation of its handshake (restored by a reset) */
    struct mx_vars vars;          /* replayable settings in force on it */
    int sync_reset;               /* the sync in flight starts with a reset */
    char schema[256];             /* current schema ("" none) */
    bool schema_unknown;
    bool dirty;                   /* holds state no other session may see: reset first
                                   * (at release, or by the holder's next sync) */
    bool diag_dirty;              /* its diagnostics area may hold warnings or errors */
    int32_t prep_mismatch;        /* parameters its last PREPARE of a known text announced
                                     when they differ from the text's (-1: none) */
    bool broken;                  /* must not be reused */
    bool lost;                    /* be_lost ran: its end was reported to its owner */
    bool track;                   /* the server's session trackers report its state */
    bool track_armed;             /* ...and they are switched on (a reset switches them off) */
    bool track_doubt;             /* an answer ended in ERR: its state changes, if any, are
                                     reported with the next OK, whoever's statement that is */
    bool in_idle;                 /* on pool->idle */
    bool busy;                    /* counted in pool->n_busy */
    uint64_t created_ms, idle_since_ms;
    unsigned recycle;             /* the server's recycle count when it was opened */
    struct mx_cred cred;          /* kept until login completes */
    uint8_t seq;                  /* login sequence */
    char plugin[64];
    uint8_t nonce[20];
    struct mx_resp resp;          /* the answer being relayed */
    struct {                      /* internal commands whose answers are expected */
        uint8_t cmd;
        uint8_t cols;             /* COM_QUERY: the columns of the result it reads (0: OK) */
        struct mx_pstmt *ps;      /* COM_STMT_PREPARE: the statement being prepared */
    } iq[16];
    int iq_n, iq_pos;
    bool iq_started;
    struct mx_resp iresp;         /* tracker for the internal answer in progress */
    struct mx_bstmts stmts;       /* statements prepared on this connection */
    uint32_t close_ids[16];       /* server statements to close with the next write */
    int n_close;
    uint64_t trim_seen;           /* worker pcache.released when its map was last trimmed */
    be_done_cb done;              /* login / internal completion */
    /* rows of the answers to internal commands, for the one who asked (idx: the
     * command's place among them); cleared when all answers are in */
    void (*row_cb)(void *arg, int idx, const uint8_t *p, size_t len);
    void *row_arg;
    struct be_error err;
    uv_timer_t timer;             /* connect/login timeout */
    int connect_rc;               /* uv_tcp_connect's own failure, reported by the timer */
};

/* The name of a state, for logs and the abort of an impossible move. */
const char *be_state_name(enum be_state st);
/* Whether the table allows a connection in `from` to move to `to`. */
bool be_transition_ok(enum be_state from, enum be_state to);
/* The one writer of be->state. In debug builds (no NDEBUG) a move the table
 * does not allow, a connection whose magic is wrong, or a broken connection
 * made idle logs what it saw and aborts. */
void be_set_state(struct mx_backend *be, enum be_state st);
/* Debug builds: aborts unless be is a live backend connection. */
void be_check(const struct mx_backend *be);

/* Opens a connection to the pool's server logged in with cred; done is called
 * with the result. The backend counts toward the server's global cap already. */
struct mx_backend *be_open(struct mx_pool *pool, const struct mx_cred *cred, uint32_t key_caps,
                           uint8_t charset, const char *client_peer, be_done_cb done);
/* Records that an internal command with cmd was written into be->sock.out and
 * its answer must be consumed (ps: the statement of a COM_STMT_PREPARE). More
 * than 16 at once mark the connection broken: the writer must not send them. */
void be_expect(struct mx_backend *be, uint8_t cmd, struct mx_pstmt *ps);
/* The same for a COM_QUERY whose answer is a result set of `cols` columns. Any
 * other shape of answer to an internal command gives the connection up. */
void be_expect_rows(struct mx_backend *be, uint8_t cols);
/* Sends the internal commands written into be->sock.out (each announced with
 * be_expect) and calls done when all answers are in (first error reported). */
int be_run_internal(struct mx_backend *be, int n, be_done_cb done);
/* Server statements evicted from the map are closed with the next write. */
void be_close_stmt_later(struct mx_backend *be, uint32_t backend_id);
/* Appends the pending COM_STMT_CLOSE packets (no answers) to w: statements
 * evicted or dropped, and statements no client holds beyond the newest
 * pool.max_prepared_unused of them (at most 64 of those per call). */
int be_write_closes(struct mx_backend *be, struct pkt_wr *w);
/* An idle connection sends the closes be_write_closes would: 0 done (or
 * nothing to do), 1 more remain for a later call, -1 it must be closed instead. */
int be_trim_idle(struct mx_backend *be);
/* mymux's record of the connection after a COM_RESET_CONNECTION: the server
 * dropped its prepared statements, variables and trackers and went back to the
 * handshake's character set; the schema stays. */
void be_forget_reset(struct mx_backend *be);
/* How a connection ends. Two functions, one below the other:
 * - be_lost: it failed under mymux (I/O error, the server closing it, a
 *   connect, login or internal-command deadline, an answer that breaks the
 *   protocol), in any state. It is marked broken and then:
 *   - lent to a session (attached, relaying, or running mymux's commands for
 *     it): the session is told through its owner ops' lost (session.c:
 *     session_backend_lost), its one entry
 *     point, and lets go of it there (detach_backend -> pool_release ->
 *     be_end); a pending internal completion is not called;
 *   - logging in, or in a reset for nobody: its completion callback (the
 *     pool's) gets the error;
 *   then be_end. A session whose client write still reads the connection's
 *   buffer keeps it (reads stopped) until that write is out, then gives it
 *   back, which ends it. Idempotent.
 * - be_end: the one function that takes a connection out of service, whoever
 *   decided (be_lost; a session giving up a connection itself: a query
 *   deadline, a malformed answer, its client gone, state a reset cannot clear,
 *   all through pool_release of a broken connection; the pool retiring one):
 *   it is disarmed (lost, broken, no callbacks, no deadline), detached from its
 *   session (which must have let go: debug builds abort otherwise) and closed;
 *   pool_on_closed and the memory follow in the close callbacks. Idempotent. */
void be_lost(struct mx_backend *be, const struct be_error *e);
void be_end(struct mx_backend *be);
/* Session s goes away: connections of pool p being opened for it (a login in
 * progress, where s->be is not set yet) are nobody's from now on; they join
 * the idle list when their login completes. */
void be_forget_session(struct mx_pool *p, const struct mx_session *s);

#endif
