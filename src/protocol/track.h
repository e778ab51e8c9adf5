/* Session-state trackers: what a server with CLIENT_SESSION_TRACK says in an
 * OK packet about the session state a statement changed, and the OK rewritten
 * for a client that did not ask for it. */
#ifndef MX_TRACK_H
#define MX_TRACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum trk_type {
    TRK_SYSVAR = 0,       /* name, value */
    TRK_SCHEMA = 1,       /* name */
    TRK_STATE_CHANGE = 2, /* "1": some session state changed */
    TRK_GTIDS = 3,
    TRK_TRX_CHARS = 4,
    TRK_TRX_STATE = 5,
};

/* One tracker item. For TRK_SYSVAR: name and value; TRK_SCHEMA: name; other
 * types: value holds the item's data as sent. Pointers point into the packet. */
struct trk_item {
    uint8_t type;
    const uint8_t *name, *value;
    size_t name_len, value_len;
};

typedef void (*trk_item_cb)(void *arg, const struct trk_item *it);

/* p[0..len) is an OK packet (0x00, or 0xfe under CLIENT_DEPRECATE_EOF) sent to
 * a connection that negotiated CLIENT_SESSION_TRACK. Calls cb for each tracker
 * item, then rewrites the packet in place as the server sends it without
 * CLIENT_SESSION_TRACK: the info text (length-encoded, as MariaDB and MySQL
 * send it to every client) only if not empty, no state block, no
 * SERVER_SESSION_STATE_CHANGED flag. Returns the new length (<= len), or
 * -1 if the packet is malformed (nothing is rewritten then). */
int trk_rewrite_ok(uint8_t *p, size_t len, trk_item_cb cb, void *arg);

/* The value of a reported system variable as a literal for SET: a decimal
 * number as is, other text single-quoted. Returns the literal's length, or -1
 * if the value cannot be written so that every sql_mode reads it the same
 * (a quote, a backslash, a control or non-ASCII byte) or does not fit. */
int trk_value_literal(const uint8_t *v, size_t n, char *out, size_t cap);

#endif
