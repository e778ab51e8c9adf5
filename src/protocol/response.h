/* Response tracking: where does the backend's answer to one command end?
 * Fed packet by packet with only the first bytes of each payload, so that rows
 * of any size stream through without being held. */
#ifndef MX_RESPONSE_H
#define MX_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes of a payload the tracker wants to see (enough for OK/EOF/ERR headers,
 * a column count and a prepare-OK). */
#define RESP_PEEK 32

/* The most columns a result set may announce: what a prepared statement can
 * describe (16 bits; MySQL and MariaDB allow 4,096 per table). A count above
 * it (2^64-1 from a broken server) is a protocol violation, not a wait. */
#define RESP_MAX_COLUMNS 0xffffu

enum resp_state {
    RS_IDLE,        /* no command outstanding */
    RS_FIRST,       /* expecting the first packet of a (next) result */
    RS_COLDEFS,     /* column definitions remain (`left`) */
    RS_COLDEF_EOF,  /* EOF after column definitions (no DEPRECATE_EOF) */
    RS_ROWS,        /* rows until EOF/OK terminator or ERR */
    RS_PREP_PARAMS, /* prepare: parameter definitions remain */
    RS_PREP_PARAMS_EOF,
    RS_PREP_COLS,   /* prepare: column definitions remain */
    RS_PREP_COLS_EOF,
    RS_FIELDS,      /* COM_FIELD_LIST: definitions until EOF/ERR */
    RS_ONE,         /* exactly one packet (COM_STATISTICS) */
    RS_INFILE,      /* server asked for a local file; client is sending it */
};

enum resp_rc {
    RESP_NEED = -2, /* show me more bytes of this payload (see *need) */
    RESP_BAD = -1,  /* protocol violation */
    RESP_MORE = 0,  /* packet accepted, response continues */
    RESP_DONE = 1,  /* packet accepted and it ends the response */
    RESP_INFILE = 2,/* LOCAL INFILE request: the client sends data next */
};

/* What the packet just fed was, when it carried status flags. */
enum resp_term {
    RESP_TERM_NONE,
    RESP_TERM_OK,  /* OK format (0x00, or 0xfe under DEPRECATE_EOF): may carry trackers */
    RESP_TERM_EOF, /* a classic 5-byte EOF: flags only */
};

struct mx_resp {
    enum resp_state state;
    uint8_t cmd;
    bool deprecate_eof;
    bool whole_ok;   /* set by the caller: OK-format packets are asked for whole (RESP_NEED) */
    bool cursor_asked; /* set by the caller: a COM_STMT_EXECUTE whose flags ask for a cursor */
    bool cursor;     /* the answer ended with a cursor opened (rows come by COM_STMT_FETCH) */
    uint8_t term;    /* enum resp_term of the packet just fed */
    bool cont;       /* the next packet continues a 16 MiB one */
    uint64_t left;   /* definitions left in this block */
    uint16_t prep_cols;
    uint16_t status; /* status flags of the last OK/EOF seen */
    bool has_status; /* the answer carried status flags (not e.g. COM_STATISTICS) */
    bool db_dropped; /* one of its results said SERVER_STATUS_DB_DROPPED (the last
                        one of a multi-statement answer need not) */
    uint16_t warnings;
    bool error;      /* the response ended with ERR */
    uint16_t err_code;
    bool ok_seen;    /* at least one OK (no result set) */
    uint64_t affected, insert_id;
    uint64_t rows;   /* rows streamed */
    uint64_t rs_rows;/* rows of the current / last result set */
    bool last_rs;    /* the answer ended with a result set (not an OK) */
    uint64_t results;/* result sets completed */
    /* COM_STMT_PREPARE answer */
    uint32_t stmt_id;
    uint16_t num_params, num_cols;
    /* LOCAL INFILE: the file name the server asked for (payload after 0xfb) */
    const uint8_t *infile_name;
    size_t infile_len;
};

/* Starts tracking the answer to command cmd. */
void resp_begin(struct mx_resp *r, uint8_t cmd, bool deprecate_eof);
/* Whether cmd gets an answer at all (STMT_CLOSE, SEND_LONG_DATA, QUIT do not). */
bool resp_cmd_has_reply(uint8_t cmd);

/* Feeds one packet: len is the payload length from the header, p the first
 * avail bytes of the payload (avail >= min(len, RESP_PEEK) unless asked for
 * more through *need). Returns an enum resp_rc. */
int resp_feed(struct mx_resp *r, uint32_t len, const uint8_t *p, size_t avail, size_t *need);

/* After the client finished sending a LOCAL INFILE: expect the final OK/ERR. */
void resp_infile_done(struct mx_resp *r);

#endif
