/* Unit tests for the compressed protocol codec (src/protocol/compress.c):
 * round trips with zlib and zstd at every size boundary, fed in every split;
 * sequence checking; corrupt payloads; and frames captured from a real
 * MariaDB decoded back to the packets it sent (and re-encoded byte for byte).
 *
 * How the captured frames were obtained: MariaDB 10.11.19 (Debian 12) started
 * throwaway with --no-defaults on 127.0.0.1:3397 (anonymous users dropped,
 * app/apppass created). A 20-line Python relay listened on 3398, forwarded to
 * 3397 and logged every chunk it passed in hex with its direction. Through it:
 *   mariadb --compress -h127.0.0.1 -P3398 -uapp -papppass --skip-ssl \
 *       -e "SELECT REPEAT('a',1000); SELECT 1"
 *   mariadb --compress ... -e "SELECT REPEAT('b',40000); SELECT LENGTH('xx...x')"
 * (the second query carries 30000 'x'). Greeting, handshake response and
 * the server's OK (all sent before compression starts) are left out; the
 * arrays below are the chunks that followed, whole, as the relay saw them
 * (cap_r_repeat_b is three chunks, one frame each). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>
#include <zstd.h>

#include "protocol/compress.h"

/* ---- captured frames ---- */

/* client: COM_QUERY SELECT REPEAT('a',1000) */
static const uint8_t cap_q_repeat_a[] = {
    0x1c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x18, 0x00, 0x00, 0x00, 0x03,
    0x53, 0x45, 0x4c, 0x45, 0x43, 0x54, 0x20, 0x52, 0x45, 0x50, 0x45, 0x41,
    0x54, 0x28, 0x27, 0x61, 0x27, 0x2c, 0x31, 0x30, 0x30, 0x30, 0x29,
};
/* server: its result set */
static const uint8_t cap_r_repeat_a[] = {
    0x56, 0x00, 0x00, 0x01, 0x32, 0x04, 0x00, 0x78, 0x9c, 0x63, 0x62, 0x60, 0x60, 0x64, 0x64, 0x54,
    0x67, 0x60, 0x60, 0x62, 0x4e, 0x49, 0x4d, 0x63, 0x60, 0x60, 0x10, 0x08, 0x72, 0x0d, 0x70, 0x75,
    0x0c, 0xd1, 0x50, 0x4f, 0x54, 0xd7, 0x31, 0x34, 0x30, 0x30, 0xd0, 0x64, 0x60, 0xe0, 0x51, 0x64,
    0xd8, 0xc1, 0xcd, 0xc0, 0xf0, 0x97, 0x81, 0x01, 0xa8, 0x8e, 0x95, 0x81, 0x81, 0xf9, 0x1f, 0x50,
    0x39, 0xc3, 0x6b, 0x66, 0x06, 0x96, 0x3f, 0x2f, 0x98, 0x13, 0x47, 0xc1, 0x28, 0x18, 0x05, 0xc3,
    0x1e, 0x00, 0xf3, 0x3d, 0x2b, 0x38, 0xdf, 0x03, 0x00, 0x25, 0xb4, 0x87, 0x15,
};
/* client: COM_QUERY SELECT 1 */
static const uint8_t cap_q_select1[] = {
    0x0d, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09, 0x00, 0x00,
    0x00, 0x03, 0x53, 0x45, 0x4c, 0x45, 0x43, 0x54, 0x20, 0x31,
};
/* server: its result set */
static const uint8_t cap_r_select1[] = {
    0x36, 0x00, 0x00, 0x01, 0x3a, 0x00, 0x00, 0x78, 0x9c, 0x63, 0x62, 0x60, 0x60, 0x64, 0x64, 0x94,
    0x60, 0x60, 0x60, 0x62, 0x4e, 0x49, 0x4d, 0x63, 0x00, 0xf2, 0x0c, 0x19, 0x18, 0x78, 0xec, 0x19,
    0x18, 0x81, 0x4c, 0xe6, 0x46, 0x20, 0xc1, 0xc0, 0x0a, 0x64, 0xfc, 0x03, 0xca, 0x03, 0x21, 0x03,
    0x0b, 0xa3, 0x21, 0x90, 0xcb, 0x0a, 0xe6, 0x02, 0x00, 0x7b, 0x4d, 0x04, 0x9e,
};
/* client: COM_QUIT */
static const uint8_t cap_q_quit[] = {
    0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01,
};
/* client: COM_QUERY SELECT REPEAT('b',40000) */
static const uint8_t cap_q_repeat_b[] = {
    0x1d, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x19, 0x00, 0x00, 0x00, 0x03,
    0x53, 0x45, 0x4c, 0x45, 0x43, 0x54, 0x20, 0x52, 0x45, 0x50, 0x45, 0x41,
    0x54, 0x28, 0x27, 0x62, 0x27, 0x2c, 0x34, 0x30, 0x30, 0x30, 0x30, 0x29,
};
/* server: its result set, 3 frames */
static const uint8_t cap_r_repeat_b[] = {
    0x69, 0x00, 0x00, 0x01, 0x00, 0x40, 0x00, 0x78, 0x9c, 0xed, 0xca, 0xb1, 0x09, 0xc2, 0x50, 0x00,
    0x05, 0xc0, 0xf7, 0x13, 0xd3, 0xd9, 0x38, 0x82, 0xd5, 0x8f, 0x60, 0x61, 0xe1, 0x00, 0x11, 0x49,
    0x2f, 0xe2, 0x04, 0x41, 0x1d, 0xc3, 0x49, 0x32, 0xa9, 0x88, 0x98, 0x1d, 0x6c, 0xef, 0xea, 0x6b,
    0x92, 0x52, 0x4a, 0x9f, 0x34, 0xed, 0xfd, 0xf1, 0x4c, 0xb2, 0xb9, 0x8e, 0x97, 0xf1, 0x74, 0xeb,
    0xeb, 0x54, 0xf7, 0xc7, 0xc3, 0x62, 0x97, 0xac, 0xb7, 0x19, 0x5e, 0x5d, 0xde, 0x49, 0x4d, 0xba,
    0xa4, 0xfd, 0x2e, 0x3f, 0xe7, 0x39, 0xab, 0xcf, 0x30, 0x4f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0x9f, 0x7e, 0xc7, 0xdc, 0x73, 0x4d,
    0x2f, 0x00, 0x00, 0x02, 0x82, 0x5c, 0x00, 0x78, 0x9c, 0xed, 0xc1, 0x01, 0x0d, 0x00, 0x00, 0x00,
    0xc2, 0xa0, 0xae, 0xef, 0x1f, 0xc2, 0x1e, 0x0e, 0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xe0,
    0xc7, 0x00, 0x24, 0xc7, 0x6b, 0xd2, 0x09, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00,
    0x05, 0xfe, 0x00, 0x00, 0x02, 0x00,
};
/* client: COM_QUERY SELECT LENGTH('x...x') (30000 x) */
static const uint8_t cap_q_length[] = {
    0x50, 0x00, 0x00, 0x00, 0x46, 0x75, 0x00, 0x78, 0x9c, 0xed, 0xc1, 0xb1, 0x0d, 0x80, 0x20,
    0x10, 0x00, 0x40, 0x12, 0x17, 0xb1, 0x03, 0xd6, 0xd0, 0x7c, 0xa4, 0x20, 0x36, 0xb0, 0x0a,
    0x09, 0xe3, 0xbb, 0x84, 0xe5, 0xdd, 0x5d, 0x2b, 0xa5, 0x63, 0x44, 0x8f, 0x7b, 0x9e, 0x3d,
    0xde, 0x67, 0xb6, 0x92, 0x37, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0xc0, 0x4f, 0x72, 0xfd, 0x00, 0x70, 0x77, 0xf6, 0xa6,
};
/* server: its result set */
static const uint8_t cap_r_length[] = {
    0x49, 0x00, 0x00, 0x01, 0x3e, 0x01, 0x00, 0x78, 0x9c, 0x63, 0x62, 0x60, 0x60, 0x64, 0x64, 0x94,
    0x60, 0x64, 0x60, 0x62, 0x4e, 0x49, 0x4d, 0x63, 0x60, 0x60, 0xf8, 0xf3, 0x9f, 0xc1, 0xc7, 0xd5,
    0xcf, 0x3d, 0xc4, 0x43, 0x43, 0xbd, 0x62, 0x64, 0x02, 0x06, 0x06, 0x1e, 0x7b, 0x06, 0x2e, 0x60,
    0x50, 0x30, 0x37, 0x02, 0x09, 0x06, 0x56, 0x20, 0xe3, 0x1f, 0x03, 0x03, 0x13, 0x03, 0x1b, 0x03,
    0x03, 0x0b, 0xab, 0xb1, 0x01, 0x10, 0x00, 0x85, 0x58, 0xc1, 0x42, 0x00, 0x1f, 0x96, 0x7d, 0x14,
};

/* ---- helpers ---- */

struct vec {
    uint8_t *p;
    size_t len, cap;
};

static void vec_add(struct vec *v, const uint8_t *p, size_t n)
{
    if (v->len + n > v->cap) {
        size_t cap = v->cap ? v->cap : 1024;
        while (cap < v->len + n)
            cap *= 2;
        v->p = realloc(v->p, cap);
        assert_non_null(v->p);
        v->cap = cap;
    }
    if (n) memcpy(v->p + v->len, p, n);
    v->len += n;
}

static void vec_free(struct vec *v)
{
    free(v->p);
    memset(v, 0, sizeof(*v));
}

static size_t min_sz(size_t a, size_t b)
{
    return a < b ? a : b;
}

static uint32_t le24(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16);
}

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Incompressible bytes. */
static void fill_random(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)rnd();
}

/* Random but compressible: runs and words from a small alphabet. */
static void fill_text(uint8_t *p, size_t n)
{
    static const char *words[] = {"SELECT ", "id", ", ",    "name",     " FROM t", " WHERE ",
                                  "=",       "42", "'abc'", "\x00\x01", "NULL",    "\xfe"};
    size_t i = 0;
    while (i < n) {
        const char *w = words[rnd() % 12];
        size_t wl = strlen(w) ? strlen(w) : 1;
        for (size_t k = 0; k < wl && i < n; k++)
            p[i++] = (uint8_t)w[k];
    }
}

/* Feeds data to the encoder in chunks of `chunk` bytes (flush on the last one,
 * or on each when flush_each), collecting frames through an output buffer of
 * outcap bytes that is drained whenever the encoder says it is full. */
static void encode_all(struct mx_zstream *z, const uint8_t *data, size_t n, size_t chunk,
                       size_t outcap, bool flush_each, struct vec *res)
{
    uint8_t *out = malloc(outcap);
    size_t off = 0;
    assert_non_null(out);
    do {
        size_t k = min_sz(chunk, n - off), left = k;
        const uint8_t *p = data + off;
        bool flush = flush_each || off + k == n;
        for (;;) {
            size_t c = 99, prod = 99;
            int rc = zs_encode(z, p, left, &c, out, outcap, &prod, flush);
            assert_true(rc == 0 || rc == ZS_OUT_FULL);
            assert_true(c <= left && prod <= outcap);
            vec_add(res, out, prod);
            p += c;
            left -= c;
            if (rc == 0) break;
            assert_true(c > 0 || prod > 0); /* an empty buffer always makes progress */
        }
        assert_int_equal(left, 0);
        off += k;
    } while (off < n);
    assert_int_equal(zs_pending(z), 0);
    free(out);
}

/* Feeds compressed bytes in chunks of `chunk`, draining an output buffer of
 * outcap bytes. Returns the decoder's last result. */
static int decode_all(struct mx_zstream *z, const uint8_t *in, size_t n, size_t chunk,
                      size_t outcap, struct vec *res)
{
    uint8_t *out = malloc(outcap ? outcap : 1);
    size_t off = 0;
    int rc = 0;
    assert_non_null(out);
    do {
        size_t k = min_sz(chunk, n - off), left = k;
        const uint8_t *p = in + off;
        for (;;) {
            size_t c = 99, prod = 99;
            rc = zs_decode(z, p, left, &c, out, outcap, &prod);
            assert_true(c <= left && prod <= outcap);
            vec_add(res, out, prod);
            p += c;
            left -= c;
            if (rc < 0) goto done;
            assert_int_equal(rc, 0);
            if (left == 0 && prod < outcap) break;
            assert_true(c > 0 || prod > 0 || left == 0);
            if (left && !c && !prod) fail_msg("decoder made no progress");
        }
        off += k;
    } while (off < n);
done:
    free(out);
    return rc;
}

/* Walks a stream of frames: every frame complete and well formed, sequence
 * ids consecutive from seq0. Returns the number of frames; counts the
 * compressed ones and the largest uncompressed payload. */
static size_t walk_frames(const uint8_t *p, size_t n, uint8_t seq0, size_t *ncomp, size_t *maxu)
{
    size_t i = 0, nf = 0, nc = 0, mu = 0;
    uint8_t seq = seq0;
    while (i < n) {
        assert_true(n - i >= ZS_HDR);
        uint32_t clen = le24(p + i), ulen = le24(p + i + 4);
        assert_int_equal(p[i + 3], seq);
        seq++;
        assert_true(n - i - ZS_HDR >= clen);
        if (ulen) {
            nc++;
            assert_true(clen < ulen); /* compressed only when it shrinks */
        }
        size_t u = ulen ? ulen : clen;
        if (u > mu) mu = u;
        i += ZS_HDR + clen;
        nf++;
    }
    if (ncomp) *ncomp = nc;
    if (maxu) *maxu = mu;
    return nf;
}

/* Each library's default level (0 is "store" for zlib, "default" for zstd). */
static int dflt(int algo)
{
    return algo == ZS_ZLIB ? -1 : 0;
}

static void init_pair(struct mx_zstream *enc, struct mx_zstream *dec, enum zs_algo algo, int level,
                      size_t frame_max)
{
    assert_int_equal(zs_init_encoder(enc, algo, level, frame_max), 0);
    assert_int_equal(zs_init_decoder(dec, algo), 0);
}

/* Encodes data, checks the frames, decodes them and compares. */
static void round_trip(enum zs_algo algo, const uint8_t *data, size_t n, size_t frame_max,
                       size_t enc_chunk, size_t dec_chunk, size_t dec_outcap)
{
    struct mx_zstream enc, dec;
    struct vec frames = {0}, back = {0};
    size_t fm = frame_max ? frame_max : ZS_FRAME_DEFAULT, maxu;

    init_pair(&enc, &dec, algo, algo == ZS_ZLIB ? 6 : 3, frame_max);
    encode_all(&enc, data, n, enc_chunk, ZS_HDR + fm, false, &frames);
    size_t nf = walk_frames(frames.p, frames.len, 0, NULL, &maxu);
    assert_true(maxu <= fm);
    assert_int_equal(nf, (n + fm - 1) / fm); /* full frames, then the rest */
    assert_int_equal(zs_seq(&enc), (uint8_t)nf);

    assert_int_equal(decode_all(&dec, frames.p, frames.len, dec_chunk, dec_outcap, &back), 0);
    assert_int_equal(back.len, n);
    if (n) assert_memory_equal(back.p, data, n);
    assert_int_equal(dec.dstate, ZD_HDR);
    assert_int_equal(dec.hdr_got, 0);
    assert_int_equal(zs_seq(&dec), (uint8_t)nf);
    zs_free(&enc);
    zs_free(&dec);
    vec_free(&frames);
    vec_free(&back);
}

/* ---- round trips ---- */

static void test_sizes(void **state)
{
    static const size_t sizes[] = {
        0,     1,     49, 50, 51, ZS_FRAME_DEFAULT - 1, ZS_FRAME_DEFAULT, ZS_FRAME_DEFAULT + 1,
        16384, 100000};
    uint8_t *buf = malloc(100000);
    assert_non_null(buf);
    for (int algo = ZS_ZLIB; algo <= ZS_ZSTD; algo++) {
        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
            for (int kind = 0; kind < 2; kind++) {
                if (kind)
                    fill_random(buf, sizes[i]);
                else
                    fill_text(buf, sizes[i]);
                /* as a socket layer would: 16 KiB reads and buffers */
                round_trip(algo, buf, sizes[i], 0, 16384, 16384, 16384);
                /* odd chunks and a small output buffer */
                round_trip(algo, buf, sizes[i], 0, 1000, 333, 77);
            }
        }
    }
    free(buf);
}

/* 16 MiB - 1 and 16 MiB + 5 bytes, with default frames and with the largest
 * frames the header allows (so one packet spans two frames of 16 MiB - 1 and 6). */
static void test_sizes_16m(void **state)
{
    size_t n = ZS_PAYLOAD_MAX + 6;
    uint8_t *buf = malloc(n);
    assert_non_null(buf);
    for (int algo = ZS_ZLIB; algo <= ZS_ZSTD; algo++) {
        fill_text(buf, n);
        round_trip(algo, buf, ZS_PAYLOAD_MAX, 0, 16384, 16384, 16384);
        round_trip(algo, buf, n, 0, 16384, 16384, 16384);
        round_trip(algo, buf, ZS_PAYLOAD_MAX, ZS_PAYLOAD_MAX, 16384, 16384, 16384);
        round_trip(algo, buf, n, ZS_PAYLOAD_MAX, 1 << 20, 16384, 16384);
    }
    /* incompressible: a raw frame of exactly 16 MiB - 1, then one of 6 */
    fill_random(buf, n);
    struct mx_zstream enc, dec;
    struct vec frames = {0}, back = {0};
    init_pair(&enc, &dec, ZS_ZLIB, 1, ZS_PAYLOAD_MAX);
    encode_all(&enc, buf, n, 16384, ZS_HDR + ZS_PAYLOAD_MAX, false, &frames);
    assert_int_equal(frames.len, 2 * ZS_HDR + n);
    assert_int_equal(le24(frames.p), ZS_PAYLOAD_MAX);
    assert_int_equal(le24(frames.p + 4), 0);
    assert_int_equal(le24(frames.p + ZS_HDR + ZS_PAYLOAD_MAX), 6);
    assert_int_equal(decode_all(&dec, frames.p, frames.len, 16384, 16384, &back), 0);
    assert_int_equal(back.len, n);
    assert_memory_equal(back.p, buf, n);
    zs_free(&enc);
    zs_free(&dec);
    vec_free(&frames);
    vec_free(&back);
    free(buf);
}

/* A zlib payload of exactly 16 MiB - 1 compressed bytes (stored blocks),
 * inflated through 16 KiB buffers: nothing needs the frame whole. */
static void test_max_compressed_payload(void **state)
{
    size_t u = ZS_PAYLOAD_MAX - 6 - 5 * 256, cap = ZS_PAYLOAD_MAX + 4096;
    uint8_t *raw = malloc(ZS_PAYLOAD_MAX), *frame = malloc(ZS_HDR + cap);
    uLongf clen = 0;
    assert_non_null(raw);
    assert_non_null(frame);
    fill_random(raw, ZS_PAYLOAD_MAX);
    /* level 0 adds 5 bytes per 64 KiB block and 6 per stream: find the size */
    for (; u < ZS_PAYLOAD_MAX; u++) {
        clen = cap;
        assert_int_equal(compress2(frame + ZS_HDR, &clen, raw, u, 0), Z_OK);
        if (clen >= ZS_PAYLOAD_MAX) break;
    }
    assert_int_equal(clen, ZS_PAYLOAD_MAX);
    frame[0] = frame[1] = frame[2] = 0xff;
    frame[3] = 0;
    frame[4] = (uint8_t)u;
    frame[5] = (uint8_t)(u >> 8);
    frame[6] = (uint8_t)(u >> 16);

    struct mx_zstream dec;
    struct vec back = {0};
    assert_int_equal(zs_init_decoder(&dec, ZS_ZLIB), 0);
    assert_int_equal(decode_all(&dec, frame, ZS_HDR + clen, 16384, 16384, &back), 0);
    assert_int_equal(back.len, u);
    assert_memory_equal(back.p, raw, u);
    zs_free(&dec);
    vec_free(&back);
    free(raw);
    free(frame);
}

/* Below the threshold as is, at it compressed; the threshold is settable. */
static void test_threshold(void **state)
{
    uint8_t a[200], out[300];
    size_t c, prod;
    memset(a, 'a', sizeof(a));
    for (int algo = ZS_ZLIB; algo <= ZS_ZSTD; algo++) {
        struct mx_zstream z;
        assert_int_equal(zs_init_encoder(&z, algo, dflt(algo), 0), 0);
        assert_int_equal(zs_encode(&z, a, 49, &c, out, sizeof(out), &prod, true), 0);
        assert_int_equal(prod, ZS_HDR + 49);
        assert_int_equal(le24(out + 4), 0);
        assert_int_equal(out[3], 0);
        assert_memory_equal(out + ZS_HDR, a, 49);
        assert_int_equal(zs_encode(&z, a, 50, &c, out, sizeof(out), &prod, true), 0);
        assert_true(prod < ZS_HDR + 50);
        assert_int_equal(le24(out + 4), 50);
        assert_int_equal(out[3], 1);
        zs_set_threshold(&z, 100);
        assert_int_equal(zs_encode(&z, a, 99, &c, out, sizeof(out), &prod, true), 0);
        assert_int_equal(le24(out + 4), 0);
        assert_int_equal(zs_encode(&z, a, 100, &c, out, sizeof(out), &prod, true), 0);
        assert_int_equal(le24(out + 4), 100);
        zs_reset_seq(&z);
        assert_int_equal(zs_encode(&z, a, 1, &c, out, sizeof(out), &prod, true), 0);
        assert_int_equal(out[3], 0);
        zs_free(&z);
    }
}

/* Several MySQL packets gathered into one compressed frame. */
static void test_packets_in_one_frame(void **state)
{
    uint8_t stream[4 + 60 + 4 + 200 + 4 + 5];
    size_t off = 0, plen[3] = {60, 200, 5};
    for (int i = 0; i < 3; i++) {
        stream[off] = (uint8_t)plen[i];
        stream[off + 1] = stream[off + 2] = 0;
        stream[off + 3] = (uint8_t)(i + 1);
        fill_text(stream + off + 4, plen[i]);
        off += 4 + plen[i];
    }
    for (int algo = ZS_ZLIB; algo <= ZS_ZSTD; algo++) {
        struct mx_zstream enc, dec;
        struct vec frames = {0}, back = {0};
        size_t nc;
        init_pair(&enc, &dec, algo, dflt(algo), 0);
        /* packet by packet, as a session forwards them, flushed at the end */
        size_t p = 0;
        for (int i = 0; i < 3; i++) {
            size_t c, prod;
            uint8_t out[ZS_HDR + ZS_FRAME_DEFAULT];
            assert_int_equal(
                zs_encode(&enc, stream + p, 4 + plen[i], &c, out, sizeof(out), &prod, i == 2), 0);
            assert_int_equal(c, 4 + plen[i]);
            assert_int_equal(prod, i == 2 ? prod : 0); /* nothing before the flush */
            vec_add(&frames, out, prod);
            p += c;
        }
        assert_int_equal(walk_frames(frames.p, frames.len, 0, &nc, NULL), 1);
        assert_int_equal(nc, 1);
        assert_int_equal(le24(frames.p + 4), sizeof(stream));
        assert_int_equal(decode_all(&dec, frames.p, frames.len, 1, 1, &back), 0);
        assert_int_equal(back.len, sizeof(stream));
        assert_memory_equal(back.p, stream, sizeof(stream));
        zs_free(&enc);
        zs_free(&dec);
        vec_free(&frames);
        vec_free(&back);
    }
}

/* A small stream of raw and compressed frames (and a packet spanning them)
 * decoded when split in two at every offset, and byte by byte into a 1-byte
 * output buffer; encoding byte by byte gives the same frames as at once. */
static void test_every_split(void **state)
{
    uint8_t data[700];
    fill_text(data, 300);
    fill_random(data + 300, 100);
    fill_text(data + 400, 300);
    for (int algo = ZS_ZLIB; algo <= ZS_ZSTD; algo++) {
        struct mx_zstream enc, dec;
        struct vec whole = {0}, bytewise = {0}, back = {0};
        size_t nc;
        init_pair(&enc, &dec, algo, dflt(algo), 128);
        encode_all(&enc, data, sizeof(data), sizeof(data), ZS_HDR + 128, false, &whole);
        zs_free(&enc);
        assert_int_equal(zs_init_encoder(&enc, algo, dflt(algo), 128), 0);
        encode_all(&enc, data, sizeof(data), 1, ZS_HDR + 128, false, &bytewise);
        assert_int_equal(whole.len, bytewise.len);
        assert_memory_equal(whole.p, bytewise.p, whole.len);
        size_t nf = walk_frames(whole.p, whole.len, 0, &nc, NULL);
        assert_int_equal(nf, 6);
        assert_true(nc >= 2 && nc < nf); /* both kinds present */

        for (size_t s = 0; s <= whole.len; s++) {
            struct mx_zstream d;
            assert_int_equal(zs_init_decoder(&d, algo), 0);
            back.len = 0;
            assert_int_equal(decode_all(&d, whole.p, s, whole.len, 64, &back), 0);
            assert_int_equal(decode_all(&d, whole.p + s, whole.len - s, whole.len, 64, &back), 0);
            assert_int_equal(back.len, sizeof(data));
            assert_memory_equal(back.p, data, sizeof(data));
            zs_free(&d);
        }
        back.len = 0;
        assert_int_equal(decode_all(&dec, whole.p, whole.len, 1, 1, &back), 0);
        assert_int_equal(back.len, sizeof(data));
        assert_memory_equal(back.p, data, sizeof(data));
        zs_free(&enc);
        zs_free(&dec);
        vec_free(&whole);
        vec_free(&bytewise);
        vec_free(&back);
    }
}

/* The encoder waits for room for a whole frame; a full buffer is reported. */
static void test_out_full(void **state)
{
    uint8_t data[1000], out[ZS_HDR + 64 + 10];
    size_t c, prod;
    struct mx_zstream z;
    fill_random(data, sizeof(data));
    assert_int_equal(zs_init_encoder(&z, ZS_ZLIB, 6, 64), 0);
    /* room for one raw frame of 64 (taken straight from the input), not two */
    assert_int_equal(zs_encode(&z, data, sizeof(data), &c, out, sizeof(out), &prod, false),
                     ZS_OUT_FULL);
    assert_int_equal(prod, ZS_HDR + 64);
    assert_int_equal(c, 64);
    assert_int_equal(zs_pending(&z), 0);
    /* gathered in the stage until a flush finds no room */
    assert_int_equal(zs_encode(&z, data + 64, 30, &c, out, ZS_HDR + 29, &prod, true), ZS_OUT_FULL);
    assert_int_equal(c, 30);
    assert_int_equal(prod, 0);
    assert_int_equal(zs_pending(&z), 30);
    assert_int_equal(zs_encode(&z, NULL, 0, &c, out, ZS_HDR + 30, &prod, true), 0);
    assert_int_equal(prod, ZS_HDR + 30);
    assert_memory_equal(out + ZS_HDR, data + 64, 30);
    assert_int_equal(zs_pending(&z), 0);
    assert_int_equal(zs_encode(&z, data + 94, 70, &c, out, sizeof(out), &prod, false), 0);
    assert_int_equal(zs_pending(&z), 6);
    /* too little room: the stage fills up, nothing is written, the rest waits */
    size_t off = 64 + 30 + 70;
    assert_int_equal(
        zs_encode(&z, data + off, sizeof(data) - off, &c, out, ZS_HDR + 10, &prod, true),
        ZS_OUT_FULL);
    assert_int_equal(prod, 0);
    assert_int_equal(c, 58);
    assert_int_equal(zs_pending(&z), 64);
    zs_free(&z);
}

/* ---- sequence ids ---- */

/* Two frames of one packet each, seq 0 and 1. */
static size_t two_frames(enum zs_algo algo, uint8_t *buf, size_t cap)
{
    uint8_t pkts[2][4 + 80];
    struct mx_zstream z;
    size_t c, prod, total = 0;
    assert_int_equal(zs_init_encoder(&z, algo, dflt(algo), 0), 0);
    for (int i = 0; i < 2; i++) {
        pkts[i][0] = 80;
        pkts[i][1] = pkts[i][2] = 0;
        pkts[i][3] = (uint8_t)i;
        memset(pkts[i] + 4, 'x' + i, 80);
        assert_int_equal(
            zs_encode(&z, pkts[i], sizeof(pkts[i]), &c, buf + total, cap - total, &prod, true), 0);
        total += prod;
    }
    zs_free(&z);
    return total;
}

static void test_seq_checked(void **state)
{
    uint8_t buf[512], out[512];
    for (int algo = ZS_ZLIB; algo <= ZS_ZSTD; algo++) {
        size_t n = two_frames(algo, buf, sizeof(buf)), f1 = ZS_HDR + le24(buf), c, prod;
        struct mx_zstream d;

        /* in order */
        assert_int_equal(zs_init_decoder(&d, algo), 0);
        assert_int_equal(zs_decode(&d, buf, n, &c, out, sizeof(out), &prod), 0);
        assert_int_equal(prod, 2 * 84);
        assert_int_equal(zs_seq(&d), 2);
        zs_free(&d);

        /* second frame with a wrong id: the first packet comes out, then the error,
         * and the stream stays dead */
        buf[f1 + 3] = 5;
        assert_int_equal(zs_init_decoder(&d, algo), 0);
        assert_int_equal(zs_decode(&d, buf, n, &c, out, sizeof(out), &prod), ZS_ESEQ);
        assert_int_equal(prod, 84);
        assert_int_equal(c, f1 + ZS_HDR);
        assert_int_equal(zs_decode(&d, buf + c, n - c, &c, out, sizeof(out), &prod), ZS_ESEQ);
        assert_int_equal(prod, 0);
        zs_free(&d);

        /* a first frame that is not 0 */
        buf[f1 + 3] = 1;
        buf[3] = 1;
        assert_int_equal(zs_init_decoder(&d, algo), 0);
        assert_int_equal(zs_decode(&d, buf, n, &c, out, sizeof(out), &prod), ZS_ESEQ);
        assert_int_equal(prod, 0);
        zs_free(&d);
        buf[3] = 0;

        /* 0 again at a packet boundary: a new command, accepted */
        buf[f1 + 3] = 0;
        assert_int_equal(zs_init_decoder(&d, algo), 0);
        assert_int_equal(zs_decode(&d, buf, n, &c, out, sizeof(out), &prod), 0);
        assert_int_equal(prod, 2 * 84);
        assert_int_equal(zs_seq(&d), 1);
        zs_free(&d);
    }
}

/* 0 in the middle of a packet is no new command. */
static void test_seq_restart_mid_packet(void **state)
{
    uint8_t pkt[4 + 300], buf[1024], out[1024];
    struct mx_zstream enc, dec;
    size_t c, prod, n = 0;
    pkt[0] = 0x2c; /* 300 */
    pkt[1] = 0x01;
    pkt[2] = 0;
    pkt[3] = 0;
    fill_text(pkt + 4, 300);
    init_pair(&enc, &dec, ZS_ZLIB, 6, 100); /* the packet spans 4 frames */
    assert_int_equal(zs_encode(&enc, pkt, sizeof(pkt), &c, buf, sizeof(buf), &n, true), 0);
    size_t f2 = ZS_HDR + le24(buf);
    f2 += ZS_HDR + le24(buf + f2);
    assert_int_equal(buf[f2 + 3], 2);
    buf[f2 + 3] = 0;
    assert_int_equal(zs_decode(&dec, buf, n, &c, out, sizeof(out), &prod), ZS_ESEQ);
    assert_int_equal(prod, 200);
    zs_free(&enc);
    zs_free(&dec);

    /* 0 after a packet of 16 MiB - 1 (continued by the next one) is no boundary */
    struct mx_zstream d;
    uint8_t *big = malloc(ZS_PAYLOAD_MAX + 4 + 3 * ZS_HDR + 64);
    assert_non_null(big);
    assert_int_equal(zs_init_decoder(&d, ZS_ZLIB), 0);
    uint8_t *p = big;
    p[0] = p[1] = p[2] = 0xff; /* raw frame: the 4-byte header of a maximal packet */
    p[3] = 0;
    p[4] = p[5] = p[6] = 0;
    p[7] = p[8] = p[9] = 0xff;
    p[10] = 0;
    p += ZS_HDR + 4;
    p[-4 - ZS_HDR] = 4; /* that frame holds just the 4 bytes */
    p[-4 - ZS_HDR + 1] = p[-4 - ZS_HDR + 2] = 0;
    /* then the payload in one raw frame of 16 MiB - 1 */
    p[0] = p[1] = p[2] = 0xff;
    p[3] = 1;
    p[4] = p[5] = p[6] = 0;
    memset(p + ZS_HDR, 'z', ZS_PAYLOAD_MAX);
    p += ZS_HDR + ZS_PAYLOAD_MAX;
    /* then a frame with id 0 */
    p[0] = 4;
    p[1] = p[2] = 0;
    p[3] = 0;
    p[4] = p[5] = p[6] = 0;
    p[7] = p[8] = p[9] = 0;
    p[10] = 1;
    p += ZS_HDR + 4;
    struct vec back = {0};
    assert_int_equal(decode_all(&d, big, (size_t)(p - big), 1 << 20, 16384, &back), ZS_ESEQ);
    assert_int_equal(back.len, 4 + ZS_PAYLOAD_MAX);
    zs_free(&d);
    vec_free(&back);
    free(big);
}

/* A decoder and an encoder paired on one connection count together: the
 * answer continues the command's ids, as MariaDB's does. */
static void test_pair(void **state)
{
    uint8_t buf[512], out[512];
    struct mx_zstream enc, dec;
    size_t c, prod, n = two_frames(ZS_ZSTD, buf, sizeof(buf));
    init_pair(&enc, &dec, ZS_ZSTD, 3, 0);
    zs_pair(&dec, &enc);
    assert_int_equal(zs_decode(&dec, buf, n, &c, out, sizeof(out), &prod), 0);
    assert_int_equal(zs_seq(&enc), 2);
    assert_int_equal(zs_encode(&enc, out, 10, &c, buf, sizeof(buf), &prod, true), 0);
    assert_int_equal(buf[3], 2);
    assert_int_equal(zs_seq(&dec), 3);
    zs_reset_seq(&enc);
    assert_int_equal(zs_seq(&dec), 0);
    zs_free(&enc);
    zs_free(&dec);
}

/* ---- corrupt input ---- */

static void test_corrupt(void **state)
{
    uint8_t data[2000], out[4096];
    fill_text(data, sizeof(data));
    for (int algo = ZS_ZLIB; algo <= ZS_ZSTD; algo++) {
        struct mx_zstream enc, d;
        struct vec f = {0}, back = {0};
        size_t c, prod;
        init_pair(&enc, &d, algo, dflt(algo), 4096);
        zs_free(&d);
        encode_all(&enc, data, sizeof(data), sizeof(data), sizeof(out), false, &f);
        assert_int_equal(walk_frames(f.p, f.len, 0, NULL, NULL), 1);
        uint32_t clen = le24(f.p);

        /* every byte of the payload flipped: zlib's checksum catches all; zstd
         * (no checksum, as MySQL sends it) must at least not crash or overrun */
        for (size_t i = ZS_HDR; i < f.len; i++) {
            f.p[i] ^= 0x5a;
            assert_int_equal(zs_init_decoder(&d, algo), 0);
            back.len = 0;
            int rc = decode_all(&d, f.p, f.len, f.len, 512, &back);
            if (algo == ZS_ZLIB) assert_int_equal(rc, ZS_EDATA);
            if (rc == 0) assert_int_equal(back.len, sizeof(data));
            assert_true(back.len <= sizeof(data));
            zs_free(&d);
            f.p[i] ^= 0x5a;
        }
        /* announced length too long, too short */
        for (int delta = -1; delta <= 1; delta += 2) {
            f.p[4] = (uint8_t)(f.p[4] + delta);
            assert_int_equal(zs_init_decoder(&d, algo), 0);
            back.len = 0;
            assert_int_equal(decode_all(&d, f.p, f.len, 100, 100, &back), ZS_EDATA);
            assert_true(back.len <= sizeof(data));
            zs_free(&d);
            f.p[4] = (uint8_t)(f.p[4] - delta);
        }
        /* the payload cut short (the header says one byte less), and a
         * trailing byte after the compressed stream */
        uint8_t *g = malloc(f.len + 1);
        memcpy(g, f.p, f.len);
        g[0] = (uint8_t)(clen - 1);
        g[1] = (uint8_t)((clen - 1) >> 8);
        assert_int_equal(zs_init_decoder(&d, algo), 0);
        back.len = 0;
        assert_int_equal(decode_all(&d, g, f.len - 1, 7, 100, &back), ZS_EDATA);
        zs_free(&d);
        g[0] = (uint8_t)(clen + 1);
        g[1] = (uint8_t)((clen + 1) >> 8);
        g[f.len] = 0;
        assert_int_equal(zs_init_decoder(&d, algo), 0);
        back.len = 0;
        assert_int_equal(decode_all(&d, g, f.len + 1, 7, 100, &back), ZS_EDATA);
        assert_int_equal(back.len, sizeof(data));
        assert_int_equal(zs_decode(&d, NULL, 0, &c, out, sizeof(out), &prod), ZS_EDATA);
        zs_free(&d);
        free(g);

        /* a compressed frame with an empty payload */
        uint8_t empty[ZS_HDR] = {0, 0, 0, 0, 10, 0, 0};
        assert_int_equal(zs_init_decoder(&d, algo), 0);
        assert_int_equal(zs_decode(&d, empty, sizeof(empty), &c, out, sizeof(out), &prod),
                         ZS_EDATA);
        zs_free(&d);

        /* random garbage as payloads: errors, never a crash */
        for (int iter = 0; iter < 2000; iter++) {
            uint8_t junk[ZS_HDR + 64];
            size_t jl = 1 + rnd() % 64;
            fill_random(junk + ZS_HDR, jl);
            junk[0] = (uint8_t)jl;
            junk[1] = junk[2] = 0;
            junk[3] = 0;
            junk[4] = (uint8_t)(1 + rnd() % 255);
            junk[5] = (uint8_t)(rnd() % 4);
            junk[6] = 0;
            assert_int_equal(zs_init_decoder(&d, algo), 0);
            back.len = 0;
            int rc = decode_all(&d, junk, ZS_HDR + jl, 1 + rnd() % 16, 1 + rnd() % 64, &back);
            assert_true(rc == ZS_EDATA || (rc == 0 && back.len == le24(junk + 4)));
            zs_free(&d);
        }
        zs_free(&enc);
        vec_free(&f);
        vec_free(&back);
    }
}

/* ---- interoperability ---- */

/* Payloads are what MySQL's one-shot calls make and take: compress() and
 * uncompress() for zlib, ZSTD_compress() and ZSTD_decompress() for zstd. */
static void test_one_shot_interop(void **state)
{
    uint8_t data[5000], out[8192], comp[8192], back[5000];
    fill_text(data, sizeof(data));
    for (int algo = ZS_ZLIB; algo <= ZS_ZSTD; algo++) {
        struct mx_zstream enc, dec;
        size_t c, prod, clen;
        init_pair(&enc, &dec, algo, algo == ZS_ZLIB ? -1 : 3, 8192);
        assert_int_equal(zs_encode(&enc, data, sizeof(data), &c, out, sizeof(out), &prod, true), 0);
        assert_int_equal(le24(out + 4), sizeof(data));
        if (algo == ZS_ZLIB) {
            uLongf bl = sizeof(back);
            assert_int_equal(uncompress(back, &bl, out + ZS_HDR, le24(out)), Z_OK);
            assert_int_equal(bl, sizeof(data));
            uLongf cl = sizeof(comp) - ZS_HDR;
            assert_int_equal(compress(comp + ZS_HDR, &cl, data, sizeof(data)), Z_OK);
            clen = cl;
        } else {
            assert_int_equal(ZSTD_getFrameContentSize(out + ZS_HDR, le24(out)), sizeof(data));
            assert_int_equal(ZSTD_decompress(back, sizeof(back), out + ZS_HDR, le24(out)),
                             sizeof(data));
            clen = ZSTD_compress(comp + ZS_HDR, sizeof(comp) - ZS_HDR, data, sizeof(data), 3);
            assert_false(ZSTD_isError(clen));
        }
        assert_memory_equal(back, data, sizeof(data));
        comp[0] = (uint8_t)clen;
        comp[1] = (uint8_t)(clen >> 8);
        comp[2] = 0;
        comp[3] = 0;
        comp[4] = (uint8_t)sizeof(data);
        comp[5] = (uint8_t)(sizeof(data) >> 8);
        comp[6] = 0;
        struct vec v = {0};
        assert_int_equal(decode_all(&dec, comp, ZS_HDR + clen, 3, 1000, &v), 0);
        assert_int_equal(v.len, sizeof(data));
        assert_memory_equal(v.p, data, sizeof(data));
        vec_free(&v);
        zs_free(&enc);
        zs_free(&dec);
    }
}

/* The decoded MySQL packets of a stream: count, and the payload of packet i. */
static size_t packets(const struct vec *v, size_t want, const uint8_t **payload, size_t *len,
                      uint8_t *seq)
{
    size_t i = 0, n = 0;
    while (i < v->len) {
        assert_true(v->len - i >= 4);
        uint32_t l = le24(v->p + i);
        assert_true(v->len - i - 4 >= l);
        if (n == want) {
            *payload = v->p + i + 4;
            *len = l;
            *seq = v->p[i + 3];
        }
        i += 4 + l;
        n++;
    }
    return n;
}

struct cap_chunk {
    const uint8_t *p;
    size_t n;
    bool from_client;
};

#define CHUNK(a, c)                                                                                \
    {                                                                                              \
        a, sizeof(a), c                                                                            \
    }

/* One relay log's compressed chunks, in the order they crossed. */
static const struct cap_chunk cap_session1[] = {
    CHUNK(cap_q_repeat_a, true), CHUNK(cap_r_repeat_a, false), CHUNK(cap_q_select1, true),
    CHUNK(cap_r_select1, false), CHUNK(cap_q_quit, true),
};
static const struct cap_chunk cap_session2[] = {
    CHUNK(cap_q_repeat_b, true),
    CHUNK(cap_r_repeat_b, false),
    CHUNK(cap_q_length, true),
    CHUNK(cap_r_length, false),
};

/* Decodes a captured session the way mymux sits in it: the client-side
 * decoder and the server-side one share the counter (both see one
 * connection's frames). Each chunk is also fed split at every offset.
 * Returns the decoded chunks. */
static void decode_session(const struct cap_chunk *ch, size_t n, struct vec *outv)
{
    struct mx_zstream dc, ds;
    assert_int_equal(zs_init_decoder(&dc, ZS_ZLIB), 0);
    assert_int_equal(zs_init_decoder(&ds, ZS_ZLIB), 0);
    zs_pair(&dc, &ds);
    for (size_t i = 0; i < n; i++) {
        struct mx_zstream *z = ch[i].from_client ? &dc : &ds;
        uint8_t seq_before = zs_seq(z);
        memset(&outv[i], 0, sizeof(outv[i]));
        assert_int_equal(decode_all(z, ch[i].p, ch[i].n, 16384, 16384, &outv[i]), 0);
        assert_int_equal(z->dstate, ZD_HDR);
        assert_int_equal(z->hdr_got, 0);
        uint8_t seq_after = zs_seq(z);
        /* again, split at every offset, from the same counter */
        for (size_t s = 0; s <= ch[i].n; s++) {
            struct mx_zstream d;
            struct vec v = {0};
            assert_int_equal(zs_init_decoder(&d, ZS_ZLIB), 0);
            *d.seq = seq_before;
            assert_int_equal(decode_all(&d, ch[i].p, s, 16384, 1000, &v), 0);
            assert_int_equal(decode_all(&d, ch[i].p + s, ch[i].n - s, 16384, 1000, &v), 0);
            assert_int_equal(v.len, outv[i].len);
            assert_memory_equal(v.p, outv[i].p, v.len);
            assert_int_equal(zs_seq(&d), seq_after);
            zs_free(&d);
            vec_free(&v);
        }
    }
    zs_free(&dc);
    zs_free(&ds);
}

static void check_query(const struct vec *v, const char *sql, size_t sqllen)
{
    const uint8_t *p;
    size_t len;
    uint8_t seq;
    assert_int_equal(packets(v, 0, &p, &len, &seq), 1);
    assert_int_equal(seq, 0);
    assert_int_equal(len, 1 + sqllen);
    assert_int_equal(p[0], 0x03);
    assert_memory_equal(p + 1, sql, sqllen);
}

static void test_capture_decode(void **state)
{
    struct vec v[5];
    const uint8_t *p;
    size_t len;
    uint8_t seq;

    decode_session(cap_session1, 5, v);
    check_query(&v[0], "SELECT REPEAT('a',1000)", 23);
    /* column count, column definition, EOF, the row, EOF */
    assert_int_equal(packets(&v[1], 3, &p, &len, &seq), 5);
    assert_int_equal(seq, 4);
    assert_int_equal(len, 3 + 1000);
    assert_memory_equal(p, "\xfc\xe8\x03", 3);
    for (size_t i = 0; i < 1000; i++)
        assert_int_equal(p[3 + i], 'a');
    assert_int_equal(packets(&v[1], 4, &p, &len, &seq), 5);
    assert_int_equal(p[0], 0xfe);
    check_query(&v[2], "SELECT 1", 8);
    assert_int_equal(packets(&v[3], 3, &p, &len, &seq), 5);
    assert_int_equal(len, 2);
    assert_memory_equal(p,
                        "\x01"
                        "1",
                        2);
    assert_int_equal(packets(&v[4], 0, &p, &len, &seq), 1);
    assert_int_equal(len, 1);
    assert_int_equal(p[0], 0x01); /* COM_QUIT */
    for (int i = 0; i < 5; i++)
        vec_free(&v[i]);

    decode_session(cap_session2, 4, v);
    check_query(&v[0], "SELECT REPEAT('b',40000)", 24);
    /* the 40000-byte row spans the server's three frames */
    assert_int_equal(packets(&v[1], 3, &p, &len, &seq), 5);
    assert_int_equal(len, 3 + 40000);
    assert_memory_equal(p, "\xfc\x40\x9c", 3);
    for (size_t i = 0; i < 40000; i++)
        assert_int_equal(p[3 + i], 'b');
    char *sql = malloc(30000 + 20);
    memcpy(sql, "SELECT LENGTH('", 15);
    memset(sql + 15, 'x', 30000);
    memcpy(sql + 15 + 30000, "')", 2);
    check_query(&v[2], sql, 30017);
    free(sql);
    assert_int_equal(packets(&v[3], 3, &p, &len, &seq), 5);
    assert_int_equal(len, 6);
    assert_memory_equal(p,
                        "\x05"
                        "30000",
                        6);
    for (int i = 0; i < 4; i++)
        vec_free(&v[i]);
}

/* Re-encoding what was decoded gives the captured bytes exactly: same frame
 * cuts (flushing where MariaDB ended a frame), same threshold, same ids, and
 * zlib's default level gives the same deflate stream as MariaDB's compress().
 * A client-side encoder (reset per command) and a server-side one paired with
 * the decoder of the commands. */
static void reencode_session(const struct cap_chunk *ch, size_t n)
{
    struct mx_zstream cl, sv, sd;
    assert_int_equal(zs_init_encoder(&cl, ZS_ZLIB, -1, 65536), 0);
    assert_int_equal(zs_init_encoder(&sv, ZS_ZLIB, -1, 65536), 0);
    assert_int_equal(zs_init_decoder(&sd, ZS_ZLIB), 0);
    zs_pair(&sd, &sv);
    for (size_t i = 0; i < n; i++) {
        struct vec dec = {0}, enc = {0};
        struct mx_zstream d;
        assert_int_equal(zs_init_decoder(&d, ZS_ZLIB), 0);
        *d.seq = ch[i].from_client ? 0 : zs_seq(&sv);
        assert_int_equal(decode_all(&d, ch[i].p, ch[i].n, ch[i].n, 1 << 16, &dec), 0);
        zs_free(&d);
        struct mx_zstream *e = ch[i].from_client ? &cl : &sv;
        if (ch[i].from_client) zs_reset_seq(&cl);
        size_t off = 0;
        for (size_t f = 0; f < ch[i].n;) { /* one flush per captured frame */
            uint32_t clen = le24(ch[i].p + f), ulen = le24(ch[i].p + f + 4);
            size_t u = ulen ? ulen : clen;
            encode_all(e, dec.p + off, u, u, ZS_HDR + 65536, true, &enc);
            off += u;
            f += ZS_HDR + clen;
        }
        assert_int_equal(enc.len, ch[i].n);
        assert_memory_equal(enc.p, ch[i].p, ch[i].n);
        if (ch[i].from_client) { /* the server side reads the command */
            struct vec v = {0};
            assert_int_equal(decode_all(&sd, ch[i].p, ch[i].n, ch[i].n, 1 << 16, &v), 0);
            vec_free(&v);
        }
        vec_free(&dec);
        vec_free(&enc);
    }
    zs_free(&cl);
    zs_free(&sv);
    zs_free(&sd);
}

static void test_capture_reencode(void **state)
{
    reencode_session(cap_session1, 5);
    reencode_session(cap_session2, 4);
}

/* ---- arguments ---- */

static void test_invalid(void **state)
{
    struct mx_zstream z;
    uint8_t b[16];
    size_t c, p;
    assert_int_equal(zs_init_encoder(&z, ZS_ZLIB, 10, 0), ZS_EINVAL);
    zs_free(&z);
    assert_int_equal(zs_init_encoder(&z, ZS_ZLIB, -2, 0), ZS_EINVAL);
    assert_int_equal(zs_init_encoder(&z, ZS_ZSTD, 23, 0), ZS_EINVAL);
    assert_int_equal(zs_init_encoder(&z, ZS_ZSTD, 3, ZS_PAYLOAD_MAX + 1), ZS_EINVAL);
    assert_int_equal(zs_init_encoder(&z, (enum zs_algo)7, 3, 0), ZS_EINVAL);
    assert_int_equal(zs_init_decoder(&z, (enum zs_algo)0), ZS_EINVAL);
    zs_free(&z);
    assert_int_equal(zs_init_decoder(&z, ZS_ZSTD), 0);
    assert_int_equal(zs_encode(&z, b, 1, &c, b, sizeof(b), &p, true), ZS_EINVAL);
    zs_free(&z);
    assert_int_equal(zs_init_encoder(&z, ZS_ZSTD, 22, 0), 0);
    assert_int_equal(zs_decode(&z, b, 1, &c, b, sizeof(b), &p), ZS_EINVAL);
    zs_free(&z);
    zs_free(&z); /* twice is fine */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_sizes_16m),
        cmocka_unit_test(test_max_compressed_payload),
        cmocka_unit_test(test_threshold),
        cmocka_unit_test(test_packets_in_one_frame),
        cmocka_unit_test(test_every_split),
        cmocka_unit_test(test_out_full),
        cmocka_unit_test(test_seq_checked),
        cmocka_unit_test(test_seq_restart_mid_packet),
        cmocka_unit_test(test_pair),
        cmocka_unit_test(test_corrupt),
        cmocka_unit_test(test_one_shot_interop),
        cmocka_unit_test(test_capture_decode),
        cmocka_unit_test(test_capture_reencode),
        cmocka_unit_test(test_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
