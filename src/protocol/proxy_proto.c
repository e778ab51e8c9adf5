/* PROXY protocol v1/v2 header parsing, v2 header building and trusted-network CIDR matching. */
#include "protocol/proxy_proto.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#define PP_V1_PREFIX "PROXY "
#define PP_SIG_LEN 12

static bool prefix_ok(const uint8_t *b, size_t n, const char *want, size_t wlen)
{
    return memcmp(b, want, n < wlen ? n : wlen) == 0;
}

/* "0" or 1-65535 without leading zeros, as the spec asks (no octal confusion). */
static int parse_port(const char *s, size_t len, uint16_t *port)
{
    uint32_t v = 0;
    if (len == 0 || len > 5 || (s[0] == '0' && len > 1)) return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (uint32_t)(s[i] - '0');
    }
    if (v > 65535) return -1;
    *port = (uint16_t)v;
    return 0;
}

static int set_addr(struct sockaddr_storage *ss, int family, const char *s, size_t len,
                    uint16_t port_host)
{
    char tmp[64];
    if (len == 0 || len >= sizeof(tmp)) return -1;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    memset(ss, 0, sizeof(*ss));
    if (family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)ss;
        if (inet_pton(AF_INET, tmp, &sin->sin_addr) != 1) return -1;
        sin->sin_family = AF_INET;
        sin->sin_port = htons(port_host);
    } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
        if (inet_pton(AF_INET6, tmp, &sin6->sin6_addr) != 1) return -1;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(port_host);
    }
    return 0;
}

/* v1: "PROXY TCP4 src dst sport dport\r\n", TCP6 alike, or "PROXY UNKNOWN...\r\n". */
static int parse_v1(const uint8_t *b, size_t n, struct pp_result *res)
{
    size_t lim = n < PP_V1_MAX ? n : PP_V1_MAX, eol = 0;
    bool found = false;

    for (size_t i = 0; i < lim; i++) {
        if (b[i] == '\r') {
            if (i + 1 >= PP_V1_MAX) return PP_BAD; /* no room left for the LF */
            if (i + 1 == n) return PP_NEED;
            if (b[i + 1] != '\n') return PP_BAD;
            eol = i;
            found = true;
            break;
        }
        if (b[i] < 0x20 || b[i] > 0x7e) return PP_BAD; /* not a text line */
    }
    if (!found) return n >= PP_V1_MAX ? PP_BAD : PP_NEED;

    const char *line = (const char *)b;
    const char *f[6]; /* "PROXY", proto, src, dst, sport, dport */
    size_t flen[6], nf = 0, start = 0;
    for (size_t i = 0; i <= eol && nf < 6; i++) {
        if (i == eol || line[i] == ' ') {
            f[nf] = line + start;
            flen[nf] = i - start;
            nf++;
            start = i + 1;
        }
    }
    memset(res, 0, sizeof(*res));
    res->version = 1;
    res->hdr_len = eol + 2;
    /* UNKNOWN: whatever follows is to be ignored. */
    if (nf >= 2 && flen[1] == 7 && memcmp(f[1], "UNKNOWN", 7) == 0) {
        res->local = true;
        return PP_DONE;
    }
    int family;
    if (nf >= 2 && flen[1] == 4 && memcmp(f[1], "TCP4", 4) == 0)
        family = AF_INET;
    else if (nf >= 2 && flen[1] == 4 && memcmp(f[1], "TCP6", 4) == 0)
        family = AF_INET6;
    else
        return PP_BAD;
    /* Exactly four more fields, single spaces, nothing after the last. */
    if (nf != 6 || f[5] + flen[5] != line + eol) return PP_BAD;
    uint16_t sport, dport;
    if (parse_port(f[4], flen[4], &sport) < 0 || parse_port(f[5], flen[5], &dport) < 0)
        return PP_BAD;
    if (set_addr(&res->src, family, f[2], flen[2], sport) < 0 ||
        set_addr(&res->dst, family, f[3], flen[3], dport) < 0)
        return PP_BAD;
    return PP_DONE;
}

/* v2: signature, version/command, family/transport, length, addresses, TLVs. */
static int parse_v2(const uint8_t *b, size_t n, struct pp_result *res)
{
    if (n < PP_V2_HDR) return PP_NEED;
    uint8_t ver = b[12] >> 4, cmd = b[12] & 0x0f, fam = b[13];
    size_t len = ((size_t)b[14] << 8) | b[15];

    if (ver != 2 || cmd > 1) return PP_BAD;
    if (PP_V2_HDR + len > PP_V2_MAX) return PP_BAD;
    /* Reject a PROXY header of a kind we cannot use before waiting for it. */
    if (cmd == 1) {
        if (fam == 0x11 && len < 12) return PP_BAD; /* TCP over IPv4 */
        if (fam == 0x21 && len < 36) return PP_BAD; /* TCP over IPv6 */
        if (fam != 0x11 && fam != 0x21 && fam != 0x00) return PP_BAD;
    }
    if (n < PP_V2_HDR + len) return PP_NEED;

    memset(res, 0, sizeof(*res));
    res->version = 2;
    res->hdr_len = PP_V2_HDR + len;
    const uint8_t *a = b + PP_V2_HDR;
    if (cmd == 0 || fam == 0x00) {
        /* LOCAL (the balancer's own health check), or UNSPEC: addresses, if
         * any, are to be ignored and the connection's own used. */
        res->local = true;
    } else if (fam == 0x11) {
        struct sockaddr_in *s = (struct sockaddr_in *)&res->src,
                           *d = (struct sockaddr_in *)&res->dst;
        s->sin_family = d->sin_family = AF_INET;
        memcpy(&s->sin_addr, a, 4);
        memcpy(&d->sin_addr, a + 4, 4);
        memcpy(&s->sin_port, a + 8, 2);
        memcpy(&d->sin_port, a + 10, 2);
    } else {
        struct sockaddr_in6 *s = (struct sockaddr_in6 *)&res->src,
                            *d = (struct sockaddr_in6 *)&res->dst;
        s->sin6_family = d->sin6_family = AF_INET6;
        memcpy(&s->sin6_addr, a, 16);
        memcpy(&d->sin6_addr, a + 16, 16);
        memcpy(&s->sin6_port, a + 32, 2);
        memcpy(&d->sin6_port, a + 34, 2);
    }
    /* Whatever follows the addresses (TLVs) is skipped. */
    return PP_DONE;
}

int pp_parse(const uint8_t *buf, size_t n, struct pp_result *res)
{
    if (n == 0) return PP_NEED;
    if (buf[0] == 'P') {
        if (!prefix_ok(buf, n, PP_V1_PREFIX, sizeof(PP_V1_PREFIX) - 1)) return PP_BAD;
        if (n < sizeof(PP_V1_PREFIX) - 1) return PP_NEED;
        return parse_v1(buf, n, res);
    }
    if (!prefix_ok(buf, n, PP_V2_SIG, PP_SIG_LEN)) return PP_BAD;
    return parse_v2(buf, n, res);
}

/* The address of sa as 16 bytes (IPv4 mapped) and its port; *v4 when it is
 * an IPv4 address or an IPv4-mapped one. Returns -1 for other families. */
static int addr16(const struct sockaddr *sa, uint8_t a[16], uint8_t port[2], bool *v4)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s = (const struct sockaddr_in *)sa;
        memset(a, 0, 10);
        a[10] = a[11] = 0xff;
        memcpy(a + 12, &s->sin_addr, 4);
        if (port) memcpy(port, &s->sin_port, 2);
        *v4 = true;
        return 0;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)sa;
        memcpy(a, &s->sin6_addr, 16);
        if (port) memcpy(port, &s->sin6_port, 2);
        *v4 = IN6_IS_ADDR_V4MAPPED(&s->sin6_addr);
        return 0;
    }
    return -1;
}

int pp_build_v2(uint8_t *out, size_t cap, const struct sockaddr *src, const struct sockaddr *dst)
{
    uint8_t sa[16], da[16], sp[2], dp[2];
    bool s4, d4;
    size_t alen;

    if (cap < PP_V2_HDR) return -1;
    memcpy(out, PP_V2_SIG, PP_SIG_LEN);
    if (!src) {
        out[12] = 0x20; /* v2, LOCAL */
        out[13] = 0x00; /* UNSPEC */
        out[14] = out[15] = 0;
        return PP_V2_HDR;
    }
    if (!dst || addr16(src, sa, sp, &s4) < 0 || addr16(dst, da, dp, &d4) < 0) return -1;
    alen = s4 && d4 ? 12 : 36;
    if (cap < PP_V2_HDR + alen) return -1;
    out[12] = 0x21; /* v2, PROXY */
    out[13] = alen == 12 ? 0x11 : 0x21;
    out[14] = 0;
    out[15] = (uint8_t)alen;
    uint8_t *p = out + PP_V2_HDR;
    if (alen == 12) {
        memcpy(p, sa + 12, 4);
        memcpy(p + 4, da + 12, 4);
        p += 8;
    } else {
        memcpy(p, sa, 16);
        memcpy(p + 16, da, 16);
        p += 32;
    }
    memcpy(p, sp, 2);
    memcpy(p + 2, dp, 2);
    return (int)(PP_V2_HDR + alen);
}

int pp_cidr_parse(const char *s, struct pp_cidr *out)
{
    char tmp[64];
    const char *slash = strchr(s, '/');
    size_t alen = slash ? (size_t)(slash - s) : strlen(s);
    int max;

    if (alen == 0 || alen >= sizeof(tmp)) return -1;
    memcpy(tmp, s, alen);
    tmp[alen] = '\0';
    memset(out, 0, sizeof(*out));
    if (inet_pton(AF_INET, tmp, out->addr) == 1) {
        out->family = AF_INET;
        max = 32;
    } else if (inet_pton(AF_INET6, tmp, out->addr) == 1) {
        out->family = AF_INET6;
        max = 128;
    } else {
        return -1;
    }
    out->bits = (uint8_t)max;
    if (!slash) return 0;
    const char *d = slash + 1;
    size_t dlen = strlen(d);
    if (dlen == 0 || dlen > 3 || (d[0] == '0' && dlen > 1)) return -1;
    int v = 0;
    for (size_t i = 0; i < dlen; i++) {
        if (d[i] < '0' || d[i] > '9') return -1;
        v = v * 10 + (d[i] - '0');
    }
    if (v > max) return -1;
    out->bits = (uint8_t)v;
    return 0;
}

static bool prefix_eq(const uint8_t *a, const uint8_t *b, unsigned bits)
{
    unsigned full = bits / 8, rem = bits % 8;
    if (memcmp(a, b, full) != 0) return false;
    if (!rem) return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rem));
    return ((a[full] ^ b[full]) & mask) == 0;
}

bool pp_cidr_match(const struct pp_cidr *c, const struct sockaddr *peer)
{
    uint8_t a[16];
    bool v4;

    if (!peer || addr16(peer, a, NULL, &v4) < 0) return false;
    if (c->family == AF_INET) return v4 && prefix_eq(a + 12, c->addr, c->bits);
    return prefix_eq(a, c->addr, c->bits);
}

bool pp_trusted(const char *const *cidrs, const struct sockaddr *peer)
{
    struct pp_cidr c;

    if (!cidrs) return false;
    for (; *cidrs; cidrs++)
        if (pp_cidr_parse(*cidrs, &c) == 0 && pp_cidr_match(&c, peer)) return true;
    return false;
}
