/* Handshake: the server greeting (v10) and the client's handshake response,
 * both directions, and COM_CHANGE_USER's payload. */
#ifndef MX_HANDSHAKE_H
#define MX_HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/packet.h"

/* What mymux offers its clients. Everything else is stripped: compression (until
 * built), session tracking, query attributes, optional metadata, zstd.
 * CLIENT_SSL is not here on purpose: it is added at run time only when tls.cert
 * is configured and loaded (session_auth.c). CLIENT_LONG_PASSWORD tells MariaDB
 * clients that this is a MySQL server, so they do not use MariaDB extended
 * capabilities. */
#define MX_SERVER_CAPS                                                                         \
    (CLIENT_LONG_PASSWORD | CLIENT_FOUND_ROWS | CLIENT_LONG_FLAG | CLIENT_CONNECT_WITH_DB |    \
     CLIENT_NO_SCHEMA | CLIENT_ODBC | CLIENT_LOCAL_FILES | CLIENT_IGNORE_SPACE |                \
     CLIENT_PROTOCOL_41 | CLIENT_INTERACTIVE | CLIENT_IGNORE_SIGPIPE | CLIENT_TRANSACTIONS |    \
     CLIENT_RESERVED | CLIENT_SECURE_CONNECTION | CLIENT_MULTI_STATEMENTS |                     \
     CLIENT_MULTI_RESULTS | CLIENT_PS_MULTI_RESULTS | CLIENT_PLUGIN_AUTH |                      \
     CLIENT_CONNECT_ATTRS | CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA |                             \
     CLIENT_CAN_HANDLE_EXPIRED_PASSWORDS | CLIENT_DEPRECATE_EOF)

/* Client capabilities that change the wire format or the meaning of results:
 * a backend connection must have exactly the client's bits here (pool key). */
#define MX_KEY_CAPS                                                                            \
    (CLIENT_FOUND_ROWS | CLIENT_IGNORE_SPACE | CLIENT_DEPRECATE_EOF | CLIENT_MULTI_STATEMENTS | \
     CLIENT_MULTI_RESULTS | CLIENT_PS_MULTI_RESULTS | CLIENT_INTERACTIVE | CLIENT_NO_SCHEMA |     \
     CLIENT_ODBC)

/* Capabilities mymux always asks for on its backend connections. CLIENT_SSL is
 * added per connection when backends[].tls.mode asks for TLS and the server
 * offers it (server_conn.c). */
#define MX_BACKEND_BASE_CAPS                                                                    \
    (CLIENT_LONG_PASSWORD | CLIENT_LONG_FLAG | CLIENT_LOCAL_FILES | CLIENT_PROTOCOL_41 |         \
     CLIENT_TRANSACTIONS | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH |                       \
     CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA | CLIENT_CONNECT_ATTRS | CLIENT_CONNECT_WITH_DB)

struct hs_greeting {
    uint8_t proto;
    char version[128];
    uint32_t conn_id;
    uint8_t nonce[20];
    size_t nonce_len;
    uint32_t caps;
    uint8_t charset;
    uint16_t status;
    char plugin[64];
};

struct hs_response {
    uint32_t caps;
    uint32_t max_packet;
    uint8_t charset;
    bool ssl_request;  /* a 32-byte SSLRequest, not a full response */
    char user[128];
    const uint8_t *auth;
    size_t auth_len;
    char db[256];
    bool has_db;
    char plugin[64];
    const uint8_t *attrs; /* raw connection attributes (lenenc length + pairs) */
    size_t attrs_len;
    uint8_t zstd_level; /* CLIENT_ZSTD_COMPRESSION: the level byte at the end (0: none) */
};

/* Appends the v10 greeting packet (seq 0). */
int hs_write_greeting(struct pkt_wr *w, uint32_t conn_id, const char *version,
                      const uint8_t nonce[20], uint32_t caps, uint8_t charset, uint16_t status,
                      const char *plugin);
/* Parses a server greeting; 0 or -1 (with an ERR greeting: -2). */
int hs_parse_greeting(const uint8_t *p, size_t len, struct hs_greeting *g);
/* A server version string as major*10000 + minor*100 + patch (101119 for
 * "10.11.19-MariaDB", also behind MariaDB's "5.5.5-" prefix; 80011 for
 * "8.0.11-TiDB-v7.5.0"), 0 if unreadable. *mariadb, *tidb: what it names. */
uint32_t hs_version_number(const char *v, bool *mariadb, bool *tidb);
/* Parses HandshakeResponse41 (or an SSLRequest); 0 or -1. */
int hs_parse_response(const uint8_t *p, size_t len, struct hs_response *r);
/* Appends a HandshakeResponse41 with seq. */
int hs_write_response(struct pkt_wr *w, uint8_t seq, uint32_t caps, uint8_t charset,
                      const char *user, const uint8_t *auth, size_t auth_len, const char *db,
                      const char *plugin);
/* Parses COM_CHANGE_USER (payload includes the command byte) into r (caps taken
 * from the session's negotiated capabilities). */
int hs_parse_change_user(const uint8_t *p, size_t len, uint32_t caps, struct hs_response *r);
/* Appends an auth switch request (0xfe plugin\0 nonce\0). */
int hs_write_auth_switch(struct pkt_wr *w, uint8_t seq, const char *plugin,
                         const uint8_t nonce[20]);

#endif
