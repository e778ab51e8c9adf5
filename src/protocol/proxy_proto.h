/* The PROXY protocol (HAProxy, versions 1 and 2): parsing the header a trusted
 * load balancer puts in front of a connection, building the v2 header mymux
 * sends to backends that want one (TiDB's proxy-protocol.networks), and the
 * CIDR match that decides which peers are trusted to send one.
 *
 * MySQL servers speak first, so on a listener with trusted networks the
 * socket layer must wait for the header (with a timeout) before sending the
 * greeting to a trusted peer, and must not look for one from anyone else. */
#ifndef MX_PROXY_PROTO_H
#define MX_PROXY_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define PP_V1_MAX 107                    /* longest v1 line the spec allows, CRLF included */
#define PP_V2_HDR 16                     /* v2 fixed part: signature, ver/cmd, family, length */
#define PP_V2_MAX 4096                   /* longest v2 header (TLVs included) accepted */
#define PP_V2_BUILD_MAX 52               /* longest header pp_build_v2() writes (TCP over IPv6) */
#define PP_V2_SIG "\r\n\r\n\0\r\nQUIT\n" /* 12 bytes */

enum pp_rc {
    PP_BAD = -1, /* not a PROXY header, or a malformed one: close the connection */
    PP_NEED = 0, /* a valid beginning: read more and call again with all bytes */
    PP_DONE = 1, /* a complete header of hdr_len bytes */
};

struct pp_result {
    int version;    /* 1 or 2 */
    bool local;     /* no addresses (v2 LOCAL or UNSPEC, v1 UNKNOWN): use the socket's own */
    size_t hdr_len; /* bytes of the header; the MySQL stream starts after them */
    /* the original client (src) and the address it connected to (dst), as
     * sockaddr_in or sockaddr_in6 with the port set; AF_UNSPEC when local */
    struct sockaddr_storage src, dst;
};

/* Parses a PROXY header from the first n bytes of a connection.
 * Returns PP_DONE with *res filled, PP_NEED while the bytes so far are a
 * proper beginning of a header (never more than PP_V1_MAX bytes for v1 or
 * PP_V2_MAX for v2), PP_BAD otherwise. Bytes after the header are not looked
 * at. v1: TCP4, TCP6, UNKNOWN; v2: PROXY over TCP/IPv4 and TCP/IPv6, LOCAL
 * with any family; TLVs are skipped. */
int pp_parse(const uint8_t *buf, size_t n, struct pp_result *res)
    __attribute__((warn_unused_result));

/* Writes a v2 header to out (cap bytes): the PROXY command for a TCP
 * connection from src to dst (sockaddr_in or sockaddr_in6, mixed families are
 * sent as IPv6 with IPv4-mapped addresses, IPv4-mapped pairs as IPv4); or,
 * when src is NULL, the LOCAL command (for health checks). Returns the
 * header's length (at most PP_V2_BUILD_MAX) or -1 (unsupported family, or cap
 * too small). */
int pp_build_v2(uint8_t *out, size_t cap, const struct sockaddr *src, const struct sockaddr *dst)
    __attribute__((warn_unused_result));

/* One trusted network. */
struct pp_cidr {
    int family;       /* AF_INET or AF_INET6 */
    uint8_t addr[16]; /* network address (4 bytes used for AF_INET) */
    uint8_t bits;     /* prefix length */
};

/* Parses "addr/n" (or a bare address, meaning /32 or /128). Bits past the
 * prefix may be set and are ignored. Returns 0, or -1 for anything else. */
int pp_cidr_parse(const char *s, struct pp_cidr *out) __attribute__((warn_unused_result));

/* True when peer lies in c. An IPv4 peer is matched against IPv6 networks as
 * its IPv4-mapped address (::ffff:a.b.c.d), an IPv4-mapped IPv6 peer against
 * IPv4 networks as the IPv4 address, so a dual-stack listener behaves like
 * two separate ones. */
bool pp_cidr_match(const struct pp_cidr *c, const struct sockaddr *peer);

/* True when peer lies in one of the networks of the NULL-terminated list
 * (cfg->proxy_trusted; NULL means none). Entries that do not parse match
 * nothing; the config check rejects them with pp_cidr_parse(). */
bool pp_trusted(const char *const *cidrs, const struct sockaddr *peer);

#endif
