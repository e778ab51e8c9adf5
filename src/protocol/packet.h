/* MySQL packets: the 4-byte header, length-encoded integers and strings, and
 * builders for the packets mymux itself sends (OK, ERR, EOF). */
#ifndef MX_PACKET_H
#define MX_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define PKT_HDR 4
#define PKT_MAX_PAYLOAD 0xffffffu /* a payload of this length is continued by the next packet */

/* Commands (first payload byte of a client packet). */
enum {
    COM_SLEEP = 0x00, COM_QUIT = 0x01, COM_INIT_DB = 0x02, COM_QUERY = 0x03,
    COM_FIELD_LIST = 0x04, COM_CREATE_DB = 0x05, COM_DROP_DB = 0x06, COM_REFRESH = 0x07,
    COM_SHUTDOWN = 0x08, COM_STATISTICS = 0x09, COM_PROCESS_INFO = 0x0a, COM_CONNECT = 0x0b,
    COM_PROCESS_KILL = 0x0c, COM_DEBUG = 0x0d, COM_PING = 0x0e, COM_TIME = 0x0f,
    COM_DELAYED_INSERT = 0x10, COM_CHANGE_USER = 0x11, COM_BINLOG_DUMP = 0x12,
    COM_TABLE_DUMP = 0x13, COM_CONNECT_OUT = 0x14, COM_REGISTER_SLAVE = 0x15,
    COM_STMT_PREPARE = 0x16, COM_STMT_EXECUTE = 0x17, COM_STMT_SEND_LONG_DATA = 0x18,
    COM_STMT_CLOSE = 0x19, COM_STMT_RESET = 0x1a, COM_SET_OPTION = 0x1b,
    COM_STMT_FETCH = 0x1c, COM_DAEMON = 0x1d, COM_BINLOG_DUMP_GTID = 0x1e,
    COM_RESET_CONNECTION = 0x1f, COM_STMT_BULK_EXECUTE = 0xfa,
};

/* Capability flags. */
#define CLIENT_LONG_PASSWORD 0x00000001u /* MariaDB: CLIENT_MYSQL */
#define CLIENT_FOUND_ROWS 0x00000002u
#define CLIENT_LONG_FLAG 0x00000004u
#define CLIENT_CONNECT_WITH_DB 0x00000008u
#define CLIENT_NO_SCHEMA 0x00000010u
#define CLIENT_COMPRESS 0x00000020u
#define CLIENT_ODBC 0x00000040u
#define CLIENT_LOCAL_FILES 0x00000080u
#define CLIENT_IGNORE_SPACE 0x00000100u
#define CLIENT_PROTOCOL_41 0x00000200u
#define CLIENT_INTERACTIVE 0x00000400u
#define CLIENT_SSL 0x00000800u
#define CLIENT_IGNORE_SIGPIPE 0x00001000u
#define CLIENT_TRANSACTIONS 0x00002000u
#define CLIENT_RESERVED 0x00004000u
#define CLIENT_SECURE_CONNECTION 0x00008000u
#define CLIENT_MULTI_STATEMENTS 0x00010000u
#define CLIENT_MULTI_RESULTS 0x00020000u
#define CLIENT_PS_MULTI_RESULTS 0x00040000u
#define CLIENT_PLUGIN_AUTH 0x00080000u
#define CLIENT_CONNECT_ATTRS 0x00100000u
#define CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA 0x00200000u
#define CLIENT_CAN_HANDLE_EXPIRED_PASSWORDS 0x00400000u
#define CLIENT_SESSION_TRACK 0x00800000u
#define CLIENT_DEPRECATE_EOF 0x01000000u
#define CLIENT_OPTIONAL_RESULTSET_METADATA 0x02000000u
#define CLIENT_ZSTD_COMPRESSION 0x04000000u
#define CLIENT_QUERY_ATTRIBUTES 0x08000000u

/* Server status flags. */
#define SERVER_STATUS_IN_TRANS 0x0001
#define SERVER_STATUS_AUTOCOMMIT 0x0002
#define SERVER_MORE_RESULTS_EXISTS 0x0008
#define SERVER_STATUS_NO_GOOD_INDEX_USED 0x0010
#define SERVER_STATUS_NO_INDEX_USED 0x0020
#define SERVER_STATUS_CURSOR_EXISTS 0x0040
#define SERVER_STATUS_LAST_ROW_SENT 0x0080
#define SERVER_STATUS_DB_DROPPED 0x0100
#define SERVER_STATUS_NO_BACKSLASH_ESCAPES 0x0200
#define SERVER_STATUS_METADATA_CHANGED 0x0400
#define SERVER_QUERY_WAS_SLOW 0x0800
#define SERVER_PS_OUT_PARAMS 0x1000
#define SERVER_STATUS_IN_TRANS_READONLY 0x2000
#define SERVER_SESSION_STATE_CHANGED 0x4000
#define SERVER_STATUS_ANSI_QUOTES 0x8000 /* MariaDB only: sql_mode has ANSI_QUOTES */

static inline uint32_t pkt_len(const uint8_t *h)
{
    return (uint32_t)h[0] | ((uint32_t)h[1] << 8) | ((uint32_t)h[2] << 16);
}
static inline void pkt_put_hdr(uint8_t *h, uint32_t len, uint8_t seq)
{
    h[0] = (uint8_t)len;
    h[1] = (uint8_t)(len >> 8);
    h[2] = (uint8_t)(len >> 16);
    h[3] = seq;
}
static inline uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline void wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static inline void wr32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* A bounded reader over one payload: every read checks the bounds and sets
 * `bad` instead of running past the end. */
struct pkt_rd {
    const uint8_t *p;
    size_t len, pos;
    bool bad;
};
static inline void pkt_rd_init(struct pkt_rd *r, const uint8_t *p, size_t len)
{
    r->p = p;
    r->len = len;
    r->pos = 0;
    r->bad = false;
}
uint8_t pkt_rd_u8(struct pkt_rd *r);
uint16_t pkt_rd_u16(struct pkt_rd *r);
uint32_t pkt_rd_u24(struct pkt_rd *r);
uint32_t pkt_rd_u32(struct pkt_rd *r);
/* Length-encoded integer; *is_null set for 0xfb when is_null != NULL. */
uint64_t pkt_rd_lenenc(struct pkt_rd *r, bool *is_null);
/* Returns a pointer to n bytes (NULL and bad if short). */
const uint8_t *pkt_rd_bytes(struct pkt_rd *r, size_t n);
/* NUL-terminated string: returns start, *n = length (without NUL). */
const char *pkt_rd_cstr(struct pkt_rd *r, size_t *n);
const uint8_t *pkt_rd_lenenc_str(struct pkt_rd *r, size_t *n);
static inline size_t pkt_rd_left(const struct pkt_rd *r)
{
    return r->len - r->pos;
}

/* A bounded writer into a caller's buffer; `bad` on overflow. */
struct pkt_wr {
    uint8_t *p;
    size_t cap, pos;
    bool bad;
};
static inline void pkt_wr_init(struct pkt_wr *w, uint8_t *p, size_t cap)
{
    w->p = p;
    w->cap = cap;
    w->pos = 0;
    w->bad = false;
}
void pkt_wr_u8(struct pkt_wr *w, uint8_t v);
void pkt_wr_u16(struct pkt_wr *w, uint16_t v);
void pkt_wr_u24(struct pkt_wr *w, uint32_t v);
void pkt_wr_u32(struct pkt_wr *w, uint32_t v);
void pkt_wr_lenenc(struct pkt_wr *w, uint64_t v);
void pkt_wr_bytes(struct pkt_wr *w, const void *p, size_t n);
void pkt_wr_cstr(struct pkt_wr *w, const char *s); /* with the NUL */
void pkt_wr_lenenc_str(struct pkt_wr *w, const void *p, size_t n);
void pkt_wr_zero(struct pkt_wr *w, size_t n);
/* Starts a packet: reserves the header and returns its offset. */
size_t pkt_wr_begin(struct pkt_wr *w);
/* One command packet (sequence 0): the command byte, then len bytes of arg.
 * Returns -1 when it did not fit (w->bad). */
int pkt_command(struct pkt_wr *w, uint8_t cmd, const void *arg, size_t len);
/* Ends the packet begun at off: fills in the header with seq. */
void pkt_wr_end(struct pkt_wr *w, size_t off, uint8_t seq);

/* Appends whole packets. Return 0 or -1 on overflow. */
int pkt_ok(struct pkt_wr *w, uint8_t seq, uint64_t affected, uint64_t insert_id,
           uint16_t status, uint16_t warnings, const char *info);
int pkt_err(struct pkt_wr *w, uint8_t seq, uint16_t code, const char *sqlstate, const char *fmt,
            ...) __attribute__((format(printf, 5, 6)));
int pkt_eof(struct pkt_wr *w, uint8_t seq, uint16_t warnings, uint16_t status);
/* A column definition (ColumnDefinition41) of a column with no table. */
int pkt_coldef(struct pkt_wr *w, uint8_t seq, const char *name, size_t name_len,
               uint16_t charset, uint32_t length, uint8_t type, uint16_t flags, uint8_t decimals);

/* Parsed OK / EOF / ERR payloads. */
struct pkt_ok_info {
    uint64_t affected, insert_id;
    uint16_t status, warnings;
};
int pkt_parse_ok(const uint8_t *p, size_t len, struct pkt_ok_info *ok);
struct pkt_err_info {
    uint16_t code;
    char sqlstate[6];
    const char *msg;
    size_t msg_len;
};
int pkt_parse_err(const uint8_t *p, size_t len, struct pkt_err_info *err);

/* Size of a length-encoded integer from its first byte (1, 3, 4 or 9; 1 for NULL). */
static inline size_t pkt_lenenc_size(uint8_t b)
{
    return b < 0xfb ? 1 : b == 0xfc ? 3 : b == 0xfd ? 4 : b == 0xfe ? 9 : 1;
}

#endif
