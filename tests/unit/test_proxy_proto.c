/* Unit tests for the PROXY protocol module (src/protocol/proxy_proto.c): the
 * v1 and v2 examples of HAProxy's specification (proxy-protocol.txt, written
 * out byte by byte from its text), every truncation of each, malformed and
 * foreign first bytes, the v2 builder parsed back, and CIDR matching at its
 * edges. Inputs are heap copies of exactly their length, so ASan sees any
 * read past what the socket layer would have received. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <cmocka.h>

#include "protocol/proxy_proto.h"

#define SIG 0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a

/* pp_parse on an exact-length heap copy of the first n bytes. */
static int parse_n(const void *p, size_t n, struct pp_result *r)
{
    uint8_t *c = malloc(n ? n : 1);
    assert_non_null(c);
    memcpy(c, p, n);
    int rc = pp_parse(c, n, r);
    free(c);
    return rc;
}

/* Every proper prefix of a valid header asks for more; the whole one parses. */
static void check_truncations(const void *p, size_t hdr_len)
{
    struct pp_result r;
    for (size_t n = 0; n < hdr_len; n++)
        assert_int_equal(parse_n(p, n, &r), PP_NEED);
    assert_int_equal(parse_n(p, hdr_len, &r), PP_DONE);
    assert_int_equal(r.hdr_len, hdr_len);
}

static void check_in4(const struct sockaddr_storage *ss, const char *addr, uint16_t port)
{
    const struct sockaddr_in *s = (const struct sockaddr_in *)ss;
    struct in_addr want;
    assert_int_equal(ss->ss_family, AF_INET);
    assert_int_equal(inet_pton(AF_INET, addr, &want), 1);
    assert_memory_equal(&s->sin_addr, &want, 4);
    assert_int_equal(ntohs(s->sin_port), port);
}

static void check_in6(const struct sockaddr_storage *ss, const char *addr, uint16_t port)
{
    const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)ss;
    struct in6_addr want;
    assert_int_equal(ss->ss_family, AF_INET6);
    assert_int_equal(inet_pton(AF_INET6, addr, &want), 1);
    assert_memory_equal(&s->sin6_addr, &want, 16);
    assert_int_equal(ntohs(s->sin6_port), port);
}

/* ---- v1 ---- */

static void test_v1_spec_examples(void **state)
{
    struct pp_result r;
    /* the longest lines of section 2.1 */
    const char *t4 = "PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n";
    check_truncations(t4, strlen(t4));
    assert_int_equal(strlen(t4), 56);
    assert_int_equal(parse_n(t4, strlen(t4), &r), PP_DONE);
    assert_int_equal(r.version, 1);
    assert_false(r.local);
    check_in4(&r.src, "255.255.255.255", 65535);
    check_in4(&r.dst, "255.255.255.255", 65535);

    const char *t6 = "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
                     "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
    assert_int_equal(strlen(t6), 104);
    check_truncations(t6, strlen(t6));
    assert_int_equal(parse_n(t6, strlen(t6), &r), PP_DONE);
    check_in6(&r.src, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535);

    const char *unk = "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
                      "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
    assert_int_equal(strlen(unk), PP_V1_MAX);
    check_truncations(unk, strlen(unk));
    assert_int_equal(parse_n(unk, strlen(unk), &r), PP_DONE);
    assert_true(r.local);
    assert_int_equal(r.src.ss_family, AF_UNSPEC);

    /* the shortest one */
    check_truncations("PROXY UNKNOWN\r\n", 15);
    assert_int_equal(parse_n("PROXY UNKNOWN\r\n", 15, &r), PP_DONE);
    assert_true(r.local);

    /* section 2.1's example with the request that follows it: untouched */
    const char *ex = "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n"
                     "GET / HTTP/1.1\r\nHost: 192.168.0.11\r\n\r\n";
    size_t hl = strlen("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n");
    check_truncations(ex, hl);
    assert_int_equal(parse_n(ex, strlen(ex), &r), PP_DONE);
    assert_int_equal(r.hdr_len, hl);
    check_in4(&r.src, "192.168.0.1", 56324);
    check_in4(&r.dst, "192.168.0.11", 443);

    /* IPv6, compressed notation, port 0 */
    const char *v6 = "PROXY TCP6 2001:db8::1 ::ffff:10.0.0.1 0 3306\r\n";
    check_truncations(v6, strlen(v6));
    assert_int_equal(parse_n(v6, strlen(v6), &r), PP_DONE);
    check_in6(&r.src, "2001:db8::1", 0);
    check_in6(&r.dst, "::ffff:10.0.0.1", 3306);
}

static void test_v1_bad(void **state)
{
    static const char *bad[] = {
        "PROXY TCP4 1.2.3.4 5.6.7.8 80\r\n",       /* a field missing */
        "PROXY TCP4 1.2.3.4 5.6.7.8 80 81 82\r\n", /* one too many */
        "PROXY TCP4 1.2.3.4  5.6.7.8 80 81\r\n",   /* two spaces */
        "PROXY TCP4 1.2.3.4 5.6.7.8 80 81 \r\n",   /* trailing space */
        "PROXY  TCP4 1.2.3.4 5.6.7.8 80 81\r\n",
        "PROXY TCP5 1.2.3.4 5.6.7.8 80 81\r\n",
        "PROXY tcp4 1.2.3.4 5.6.7.8 80 81\r\n",
        "PROXY TCP4 1.2.3.4 5.6.7.8 080 81\r\n",   /* leading zero */
        "PROXY TCP4 1.2.3.4 5.6.7.8 80 65536\r\n", /* port range */
        "PROXY TCP4 1.2.3.4 5.6.7.8 80 -1\r\n",
        "PROXY TCP4 1.2.3.4 5.6.7.8 +80 81\r\n",
        "PROXY TCP4 1.2.3.4 5.6.7.8 80 123456\r\n",
        "PROXY TCP4 ::1 ::1 80 81\r\n", /* family mismatch */
        "PROXY TCP6 1.2.3.4 5.6.7.8 80 81\r\n",
        "PROXY TCP4 1.2.3 5.6.7.8 80 81\r\n",
        "PROXY TCP4 01.2.3.4 5.6.7.8 80 81\r\n",
        "PROXY TCP4 1.2.3.256 5.6.7.8 80 81\r\n",
        "PROXY TCP4 1.2.3.4 5.6.7.8 80 81\n",  /* LF without CR */
        "PROXY TCP4 1.2.3.4 5.6.7.8 80 81\rX", /* CR without LF */
        "PROXY TCP4 1.2.3.4\t5.6.7.8 80 81\r\n",
        "PROXY UNKNOWNX\r\n",
        "PROXY\r\n",
        "PROXY \r\n",
        "PROXY TCP4\r\n",
        "PROXY TCP4 \xff.2.3.4 5.6.7.8 80 81\r\n",
    };
    struct pp_result r;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (parse_n(bad[i], strlen(bad[i]), &r) != PP_BAD) fail_msg("accepted: %s", bad[i]);
    }
    /* UNKNOWN with anything after it is to be ignored (spec) */
    assert_int_equal(parse_n("PROXY UNKNOWN whatever\r\n", 24, &r), PP_DONE);
    assert_true(r.local);
}

static void test_v1_oversized(void **state)
{
    char line[200];
    struct pp_result r;
    memset(line, 'a', sizeof(line));
    memcpy(line, "PROXY UNKNOWN ", 14);
    /* no CRLF: more is needed until 107 bytes, then it can never be valid */
    assert_int_equal(parse_n(line, PP_V1_MAX - 1, &r), PP_NEED);
    assert_int_equal(parse_n(line, PP_V1_MAX, &r), PP_BAD);
    assert_int_equal(parse_n(line, sizeof(line), &r), PP_BAD);
    /* a 107-byte line is the longest allowed, a 108-byte one is too long */
    memcpy(line + PP_V1_MAX - 2, "\r\n", 2);
    assert_int_equal(parse_n(line, PP_V1_MAX, &r), PP_DONE);
    assert_int_equal(r.hdr_len, PP_V1_MAX);
    memset(line + PP_V1_MAX - 2, 'a', 2);
    memcpy(line + PP_V1_MAX - 1, "\r\n", 2);
    assert_int_equal(parse_n(line, PP_V1_MAX - 1, &r), PP_NEED);
    assert_int_equal(parse_n(line, PP_V1_MAX, &r), PP_BAD);
    assert_int_equal(parse_n(line, PP_V1_MAX + 1, &r), PP_BAD);
}

/* ---- not a PROXY header at all ---- */

static void test_garbage(void **state)
{
    struct pp_result r;
    static const struct {
        const char *p;
        size_t n;
    } g[] = {
        {"GET / HTTP/1.1\r\n", 16},
        {"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11}, /* a TLS ClientHello */
        {"\x20\x00\x00\x01\x85\xa6\xff\x01", 8},              /* a MySQL handshake response */
        {"PROXZ", 5},
        {"proxy TCP4", 10},
        {"PROXYTCP4", 9},
        {"\r\n\r\n\0\r\nQUIX\n", 12},
        {"\r\n\r\n\0\r\nQUIT\r", 12},
        {"\r\n\r\n\x01", 5},
        {"\n", 1},
        {"\0", 1},
    };
    for (size_t i = 0; i < sizeof(g) / sizeof(g[0]); i++)
        if (parse_n(g[i].p, g[i].n, &r) != PP_BAD) fail_msg("accepted garbage %zu", i);
    /* decided on the first byte that can differ */
    assert_int_equal(parse_n("G", 1, &r), PP_BAD);
    assert_int_equal(parse_n("PROX", 4, &r), PP_NEED);
    assert_int_equal(parse_n("PROXx", 5, &r), PP_BAD);
    assert_int_equal(parse_n("\r\n\r\n", 4, &r), PP_NEED);
    assert_int_equal(parse_n("\r\n\r\r", 4, &r), PP_BAD);
    /* random bytes: never a crash, never a header unless they spell one */
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (int it = 0; it < 20000; it++) {
        uint8_t b[64];
        size_t n = 1 + (size_t)(x % 64);
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            b[i] = (uint8_t)x;
        }
        if (it & 1) memcpy(b, "PROXY ", n < 6 ? n : 6);
        if (it % 3 == 0 && n >= 16) {
            memcpy(b, "\r\n\r\n\0\r\nQUIT\n", 12);
        }
        int rc = parse_n(b, n, &r);
        assert_true(rc == PP_BAD || rc == PP_NEED || rc == PP_DONE);
        if (rc == PP_DONE) assert_true(r.hdr_len <= n);
    }
}

/* ---- v2 ---- */

/* Section 2.2: PROXY, TCP over IPv4, 192.168.0.1:56324 -> 192.168.0.11:443. */
static const uint8_t v2_tcp4[] = {
    SIG, 0x21, 0x11, 0x00, 0x0c, 192, 168, 0, 1, 192, 168, 0, 11, 0xdc, 0x04, 0x01, 0xbb,
};

/* PROXY, TCP over IPv6, [2001:db8::1]:56324 -> [2001:db8::2]:3306. */
/* clang-format off */
static const uint8_t v2_tcp6[] = {
    SIG, 0x21, 0x21, 0x00, 0x24,
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,
    0xdc, 0x04, 0x0c, 0xea,
};
/* clang-format on */

/* LOCAL (a health check of the balancer itself), no addresses. */
static const uint8_t v2_local[] = {SIG, 0x20, 0x00, 0x00, 0x00};

/* LOCAL with an address block anyway: to be skipped and ignored. */
static const uint8_t v2_local_addr[] = {
    SIG, 0x20, 0x11, 0x00, 0x0c, 10, 0, 0, 1, 10, 0, 0, 2, 0x00, 0x50, 0x00, 0x51,
};

/* PROXY TCP4 with TLVs (section 2.2.x): ALPN "h2", AUTHORITY "db.example",
 * NOOP with 3 bytes, UNIQUE_ID, SSL (client used TLS, certificate verified,
 * sub-TLV VERSION "TLSv1.3"), a custom type 0xea; then MySQL bytes follow. */
/* clang-format off */
static const uint8_t v2_tlv[] = {
    SIG, 0x21, 0x11, 0x00, 12 + 5 + 13 + 6 + 7 + 18 + 5,
    127, 0, 0, 1, 127, 0, 0, 2, 0x30, 0x39, 0x0c, 0xea,
    0x01, 0x00, 0x02, 'h', '2',                                           /* ALPN */
    0x02, 0x00, 0x0a, 'd', 'b', '.', 'e', 'x', 'a', 'm', 'p', 'l', 'e',   /* AUTHORITY */
    0x04, 0x00, 0x03, 0x00, 0x00, 0x00,                                   /* NOOP */
    0x05, 0x00, 0x04, 0xde, 0xad, 0xbe, 0xef,                             /* UNIQUE_ID */
    0x20, 0x00, 0x0f, 0x01, 0x00, 0x00, 0x00, 0x00,                       /* SSL: client, verify */
    0x21, 0x00, 0x07, 'T', 'L', 'S', 'v', '1', '.', '3',                  /*   VERSION */
    0xea, 0x00, 0x02, 0x01, 0x02,                                         /* custom */
    0x0b, 0x00, 0x00, 0x01,                                               /* MySQL follows */
};
/* clang-format on */

static void test_v2_spec(void **state)
{
    struct pp_result r;
    check_truncations(v2_tcp4, sizeof(v2_tcp4));
    assert_int_equal(parse_n(v2_tcp4, sizeof(v2_tcp4), &r), PP_DONE);
    assert_int_equal(r.version, 2);
    assert_int_equal(r.hdr_len, 28);
    assert_false(r.local);
    check_in4(&r.src, "192.168.0.1", 56324);
    check_in4(&r.dst, "192.168.0.11", 443);

    check_truncations(v2_tcp6, sizeof(v2_tcp6));
    assert_int_equal(parse_n(v2_tcp6, sizeof(v2_tcp6), &r), PP_DONE);
    assert_int_equal(r.hdr_len, 52);
    check_in6(&r.src, "2001:db8::1", 56324);
    check_in6(&r.dst, "2001:db8::2", 3306);

    check_truncations(v2_local, sizeof(v2_local));
    assert_int_equal(parse_n(v2_local, sizeof(v2_local), &r), PP_DONE);
    assert_true(r.local);
    assert_int_equal(r.hdr_len, 16);
    assert_int_equal(r.src.ss_family, AF_UNSPEC);

    check_truncations(v2_local_addr, sizeof(v2_local_addr));
    assert_int_equal(parse_n(v2_local_addr, sizeof(v2_local_addr), &r), PP_DONE);
    assert_true(r.local);
    assert_int_equal(r.hdr_len, 28);
    assert_int_equal(r.src.ss_family, AF_UNSPEC);

    /* PROXY with UNSPEC: accepted, the connection's own addresses apply */
    static const uint8_t unspec[] = {SIG, 0x21, 0x00, 0x00, 0x00};
    assert_int_equal(parse_n(unspec, sizeof(unspec), &r), PP_DONE);
    assert_true(r.local);
}

static void test_v2_tlvs(void **state)
{
    struct pp_result r;
    size_t hl = PP_V2_HDR + v2_tlv[15];
    assert_int_equal(hl + 4, sizeof(v2_tlv));
    check_truncations(v2_tlv, hl);
    assert_int_equal(parse_n(v2_tlv, sizeof(v2_tlv), &r), PP_DONE);
    assert_int_equal(r.hdr_len, hl);
    check_in4(&r.src, "127.0.0.1", 12345);
    check_in4(&r.dst, "127.0.0.2", 3306);

    /* the longest header accepted, and one byte more */
    uint8_t *big = calloc(1, PP_V2_MAX + 1);
    memcpy(big, v2_tcp4, sizeof(v2_tcp4));
    size_t len = PP_V2_MAX - PP_V2_HDR;
    big[14] = (uint8_t)(len >> 8);
    big[15] = (uint8_t)len;
    assert_int_equal(parse_n(big, PP_V2_MAX - 1, &r), PP_NEED);
    assert_int_equal(parse_n(big, PP_V2_MAX, &r), PP_DONE);
    assert_int_equal(r.hdr_len, PP_V2_MAX);
    len++;
    big[14] = (uint8_t)(len >> 8);
    big[15] = (uint8_t)len;
    assert_int_equal(parse_n(big, PP_V2_HDR, &r), PP_BAD); /* refused before waiting */
    big[14] = big[15] = 0xff;
    assert_int_equal(parse_n(big, PP_V2_HDR, &r), PP_BAD);
    free(big);
}

static void test_v2_bad(void **state)
{
    struct pp_result r;
    uint8_t b[sizeof(v2_tcp6)];
    static const struct {
        size_t off;
        uint8_t val;
    } mut[] = {
        {0, 0x0c},  {11, 0x0b},             /* signature */
        {12, 0x11},                         /* version 1 in binary */
        {12, 0x31},                         /* version 3 */
        {12, 0x22},                         /* command 2 */
        {12, 0x2f}, {13, 0x31},             /* AF_UNIX over STREAM */
        {13, 0x12},                         /* UDP over IPv4 */
        {13, 0x22},                         /* UDP over IPv6 */
        {13, 0x13}, {13, 0x41}, {15, 0x0b}, /* TCP4 with fewer than 12 address bytes */
    };
    for (size_t i = 0; i < sizeof(mut) / sizeof(mut[0]); i++) {
        memcpy(b, v2_tcp4, sizeof(v2_tcp4));
        b[mut[i].off] = mut[i].val;
        if (parse_n(b, sizeof(v2_tcp4), &r) != PP_BAD) fail_msg("accepted mutation %zu", i);
        /* refused as soon as the fixed part is in */
        if (mut[i].off >= 12 && parse_n(b, PP_V2_HDR, &r) != PP_BAD)
            fail_msg("waited on mutation %zu", i);
    }
    /* TCP6 announcing only IPv4-sized addresses */
    memcpy(b, v2_tcp6, sizeof(v2_tcp6));
    b[15] = 12;
    assert_int_equal(parse_n(b, 28, &r), PP_BAD);
    b[15] = 35;
    assert_int_equal(parse_n(b, PP_V2_HDR, &r), PP_BAD);
    /* LOCAL may carry any family (its addresses are ignored) */
    memcpy(b, v2_local_addr, sizeof(v2_local_addr));
    b[13] = 0x31;
    assert_int_equal(parse_n(b, sizeof(v2_local_addr), &r), PP_DONE);
    assert_true(r.local);
}

/* ---- v2 builder ---- */

static struct sockaddr_storage mk(const char *addr, uint16_t port)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    if (strchr(addr, ':')) {
        struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;
        s->sin6_family = AF_INET6;
        assert_int_equal(inet_pton(AF_INET6, addr, &s->sin6_addr), 1);
        s->sin6_port = htons(port);
    } else {
        struct sockaddr_in *s = (struct sockaddr_in *)&ss;
        s->sin_family = AF_INET;
        assert_int_equal(inet_pton(AF_INET, addr, &s->sin_addr), 1);
        s->sin_port = htons(port);
    }
    return ss;
}

#define SA(x) ((const struct sockaddr *)&(x))

static void test_build_v2(void **state)
{
    uint8_t out[PP_V2_BUILD_MAX];
    struct pp_result r;

    /* the spec's IPv4 example, byte for byte */
    struct sockaddr_storage s4 = mk("192.168.0.1", 56324), d4 = mk("192.168.0.11", 443);
    assert_int_equal(pp_build_v2(out, sizeof(out), SA(s4), SA(d4)), sizeof(v2_tcp4));
    assert_memory_equal(out, v2_tcp4, sizeof(v2_tcp4));

    struct sockaddr_storage s6 = mk("2001:db8::1", 56324), d6 = mk("2001:db8::2", 3306);
    assert_int_equal(pp_build_v2(out, sizeof(out), SA(s6), SA(d6)), sizeof(v2_tcp6));
    assert_memory_equal(out, v2_tcp6, sizeof(v2_tcp6));
    assert_int_equal(parse_n(out, sizeof(v2_tcp6), &r), PP_DONE);
    check_in6(&r.src, "2001:db8::1", 56324);

    /* mixed families: IPv6 with the IPv4 side mapped */
    assert_int_equal(pp_build_v2(out, sizeof(out), SA(s4), SA(d6)), 52);
    assert_int_equal(parse_n(out, 52, &r), PP_DONE);
    check_in6(&r.src, "::ffff:192.168.0.1", 56324);
    check_in6(&r.dst, "2001:db8::2", 3306);

    /* IPv4-mapped on both sides (a dual-stack listener): sent as IPv4 */
    struct sockaddr_storage m1 = mk("::ffff:10.1.2.3", 40000), m2 = mk("::ffff:10.0.0.9", 3306);
    assert_int_equal(pp_build_v2(out, sizeof(out), SA(m1), SA(m2)), 28);
    assert_int_equal(parse_n(out, 28, &r), PP_DONE);
    check_in4(&r.src, "10.1.2.3", 40000);
    check_in4(&r.dst, "10.0.0.9", 3306);
    assert_int_equal(pp_build_v2(out, sizeof(out), SA(m1), SA(d4)), 28);

    /* LOCAL */
    assert_int_equal(pp_build_v2(out, sizeof(out), NULL, NULL), 16);
    assert_memory_equal(out, v2_local, sizeof(v2_local));

    /* too small, unsupported */
    assert_int_equal(pp_build_v2(out, 27, SA(s4), SA(d4)), -1);
    assert_int_equal(pp_build_v2(out, 51, SA(s6), SA(d6)), -1);
    assert_int_equal(pp_build_v2(out, 15, NULL, NULL), -1);
    assert_int_equal(pp_build_v2(out, sizeof(out), SA(s4), NULL), -1);
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    assert_int_equal(pp_build_v2(out, sizeof(out), (struct sockaddr *)&un, SA(d4)), -1);
}

/* ---- trusted networks ---- */

static bool trusted1(const char *cidr, const char *peer)
{
    const char *list[] = {cidr, NULL};
    struct sockaddr_storage p = mk(peer, 1);
    return pp_trusted(list, SA(p));
}

static void test_cidr(void **state)
{
    /* /0 */
    assert_true(trusted1("0.0.0.0/0", "1.2.3.4"));
    assert_true(trusted1("0.0.0.0/0", "255.255.255.255"));
    assert_true(trusted1("0.0.0.0/0", "::ffff:1.2.3.4")); /* a mapped peer is IPv4 */
    assert_false(trusted1("0.0.0.0/0", "2001:db8::1"));
    assert_true(trusted1("::/0", "2001:db8::1"));
    assert_true(trusted1("::/0", "1.2.3.4"));      /* as ::ffff:1.2.3.4 */
    assert_true(trusted1("1.2.3.4/0", "9.9.9.9")); /* host bits past the prefix ignored */
    /* /32 */
    assert_true(trusted1("10.0.0.1/32", "10.0.0.1"));
    assert_false(trusted1("10.0.0.1/32", "10.0.0.0"));
    assert_false(trusted1("10.0.0.1/32", "10.0.0.2"));
    assert_true(trusted1("10.0.0.1", "10.0.0.1")); /* bare address */
    assert_false(trusted1("10.0.0.1", "10.0.0.3"));
    assert_true(trusted1("10.0.0.1/32", "::ffff:10.0.0.1"));
    /* odd prefixes, byte edges */
    assert_true(trusted1("10.0.0.0/8", "10.255.255.255"));
    assert_false(trusted1("10.0.0.0/8", "11.0.0.0"));
    assert_false(trusted1("10.0.0.0/8", "9.255.255.255"));
    assert_true(trusted1("192.168.1.77/23", "192.168.0.5"));
    assert_true(trusted1("192.168.0.0/23", "192.168.1.255"));
    assert_false(trusted1("192.168.0.0/23", "192.168.2.0"));
    assert_true(trusted1("172.16.0.0/12", "172.31.255.255"));
    assert_false(trusted1("172.16.0.0/12", "172.32.0.0"));
    assert_true(trusted1("10.0.0.0/31", "10.0.0.1"));
    assert_false(trusted1("10.0.0.0/31", "10.0.0.2"));
    assert_true(trusted1("128.0.0.0/1", "200.1.1.1"));
    assert_false(trusted1("128.0.0.0/1", "127.255.255.255"));
    /* /128 */
    assert_true(trusted1("2001:db8::1/128", "2001:db8::1"));
    assert_false(trusted1("2001:db8::1/128", "2001:db8::"));
    assert_false(trusted1("2001:db8::1/128", "2001:db8::3"));
    assert_true(trusted1("2001:db8::/32", "2001:db8:ffff::1"));
    assert_false(trusted1("2001:db8::/32", "2001:db9::1"));
    assert_true(trusted1("fe80::/10", "febf::1"));
    assert_false(trusted1("fe80::/10", "fec0::1"));
    assert_true(trusted1("::1", "::1"));
    assert_false(trusted1("::1", "127.0.0.1"));
    /* IPv4-mapped: IPv4 networks see mapped peers, mapped networks see IPv4 peers */
    assert_true(trusted1("10.0.0.0/8", "::ffff:10.1.2.3"));
    assert_false(trusted1("10.0.0.0/8", "::ffff:11.1.2.3"));
    assert_false(trusted1("10.0.0.0/8", "::10.1.2.3")); /* compatible, not mapped */
    assert_true(trusted1("::ffff:10.0.0.0/104", "10.9.9.9"));
    assert_true(trusted1("::ffff:10.0.0.0/104", "::ffff:10.9.9.9"));
    assert_false(trusted1("::ffff:10.0.0.0/104", "11.9.9.9"));
    assert_true(trusted1("::ffff:0:0/96", "1.2.3.4"));
    assert_false(trusted1("10.0.0.0/8", "2001:db8::1"));

    /* malformed entries match nothing and do not hide good ones */
    static const char *badc[] = {
        "10.0.0.0/33",
        "::/129",
        "10.0.0.0/",
        "/8",
        "abc",
        "10.0.0.0/8x",
        "10.0.0.0/-1",
        "10.0.0.0/08",
        "",
        "10.0.0/8",
        "10.0.0.0 /8",
        "10.0.0.0/8/8",
        "10.0.0.0/+8",
        "1.2.3.4.5/32",
        "0123456789012345678901234567890123456789012345678901234567890123/8"};
    struct pp_cidr c;
    for (size_t i = 0; i < sizeof(badc) / sizeof(badc[0]); i++) {
        if (pp_cidr_parse(badc[i], &c) != -1) fail_msg("parsed %s", badc[i]);
        assert_false(trusted1(badc[i], "10.0.0.1"));
    }
    assert_int_equal(pp_cidr_parse("10.1.0.0/16", &c), 0);
    assert_int_equal(c.family, AF_INET);
    assert_int_equal(c.bits, 16);
    assert_int_equal(pp_cidr_parse("::/0", &c), 0);
    assert_int_equal(c.family, AF_INET6);
    assert_int_equal(c.bits, 0);

    const char *list[] = {"nonsense", "10.0.0.0/8", "2001:db8::/32", NULL};
    struct sockaddr_storage p1 = mk("10.2.3.4", 1), p2 = mk("2001:db8::9", 1),
                            p3 = mk("192.168.0.1", 1);
    assert_true(pp_trusted(list, SA(p1)));
    assert_true(pp_trusted(list, SA(p2)));
    assert_false(pp_trusted(list, SA(p3)));
    assert_false(pp_trusted(NULL, SA(p1))); /* no list: nobody */
    const char *empty[] = {NULL};
    assert_false(pp_trusted(empty, SA(p1)));
    assert_false(pp_trusted(list, NULL));
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    const char *all[] = {"0.0.0.0/0", "::/0", NULL};
    assert_false(pp_trusted(all, (struct sockaddr *)&un));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v1_spec_examples),
        cmocka_unit_test(test_v1_bad),
        cmocka_unit_test(test_v1_oversized),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_v2_spec),
        cmocka_unit_test(test_v2_tlvs),
        cmocka_unit_test(test_v2_bad),
        cmocka_unit_test(test_build_v2),
        cmocka_unit_test(test_cidr),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
