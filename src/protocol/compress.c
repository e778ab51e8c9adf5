/* Compressed protocol framing: streaming zlib/zstd frame decoder and encoder. */
#include "protocol/compress.h"

#include <stdlib.h>
#include <string.h>

#include <zstd.h>

/* Stands in for a NULL buffer of length 0, so no arithmetic is done on NULL. */
static uint8_t zs_none[1];

/* The largest zstd window a peer may make us allocate: one whole frame. */
#define ZS_ZSTD_WINDOWLOG_MAX 24

static inline uint32_t le24(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16);
}

static inline void put_le24(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
}

static inline size_t min_sz(size_t a, size_t b)
{
    return a < b ? a : b;
}

static void zs_clear(struct mx_zstream *z, enum zs_algo algo, bool encoder)
{
    memset(z, 0, sizeof(*z));
    z->algo = algo;
    z->encoder = encoder;
    z->seq = &z->own_seq;
    z->dstate = ZD_HDR;
    z->threshold = ZS_THRESHOLD_DEFAULT;
}

int zs_init_decoder(struct mx_zstream *z, enum zs_algo algo)
{
    zs_clear(z, algo, false);
    if (algo == ZS_ZLIB) {
        int rc = inflateInit(&z->zl);
        if (rc != Z_OK) return rc == Z_MEM_ERROR ? ZS_ENOMEM : ZS_EINVAL;
    } else if (algo == ZS_ZSTD) {
        ZSTD_DCtx *d = ZSTD_createDCtx();
        if (!d) return ZS_ENOMEM;
        if (ZSTD_isError(ZSTD_DCtx_setParameter(d, ZSTD_d_windowLogMax, ZS_ZSTD_WINDOWLOG_MAX))) {
            ZSTD_freeDCtx(d);
            return ZS_EINVAL;
        }
        z->zctx = d;
    } else {
        return ZS_EINVAL;
    }
    z->lib_ready = true;
    return 0;
}

/* zlib's window only needs to cover one frame: smaller frames, smaller state. */
static int zlib_window_bits(size_t frame_max)
{
    int wb = 9;
    while (wb < 15 && ((size_t)1 << wb) < frame_max)
        wb++;
    return wb;
}

int zs_init_encoder(struct mx_zstream *z, enum zs_algo algo, int level, size_t frame_max)
{
    zs_clear(z, algo, true);
    if (frame_max == 0) frame_max = ZS_FRAME_DEFAULT;
    if (frame_max > ZS_PAYLOAD_MAX) return ZS_EINVAL;
    if (algo == ZS_ZLIB) {
        if (level < Z_DEFAULT_COMPRESSION || level > Z_BEST_COMPRESSION) return ZS_EINVAL;
    } else if (algo == ZS_ZSTD) {
        if (level < 0 || level > ZSTD_maxCLevel()) return ZS_EINVAL;
    } else {
        return ZS_EINVAL;
    }
    z->level = level;
    z->stage = malloc(frame_max);
    if (!z->stage) return ZS_ENOMEM;
    z->stage_cap = (uint32_t)frame_max;

    if (algo == ZS_ZLIB) {
        int rc = deflateInit2(&z->zl, level, Z_DEFLATED, zlib_window_bits(frame_max), 8,
                              Z_DEFAULT_STRATEGY);
        if (rc != Z_OK) goto fail;
    } else {
        ZSTD_CCtx *c = ZSTD_createCCtx();
        if (!c) goto fail;
        if (ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, level))) {
            ZSTD_freeCCtx(c);
            goto fail;
        }
        z->zctx = c;
    }
    z->lib_ready = true;
    return 0;
fail:
    free(z->stage);
    z->stage = NULL;
    z->stage_cap = 0;
    return ZS_ENOMEM;
}

void zs_free(struct mx_zstream *z)
{
    if (z->lib_ready) {
        if (z->algo == ZS_ZLIB) {
            if (z->encoder)
                deflateEnd(&z->zl);
            else
                inflateEnd(&z->zl);
        } else if (z->encoder) {
            ZSTD_freeCCtx(z->zctx);
        } else {
            ZSTD_freeDCtx(z->zctx);
        }
    }
    free(z->stage);
    z->stage = NULL;
    z->zctx = NULL;
    z->lib_ready = false;
    z->stage_cap = z->stage_len = 0;
}

void zs_set_threshold(struct mx_zstream *z, size_t min_len)
{
    z->threshold = min_len > ZS_PAYLOAD_MAX ? ZS_PAYLOAD_MAX : (uint32_t)min_len;
}

void zs_pair(struct mx_zstream *a, struct mx_zstream *b)
{
    b->seq = a->seq;
}

void zs_reset_seq(struct mx_zstream *z)
{
    *z->seq = 0;
}

uint8_t zs_seq(const struct mx_zstream *z)
{
    return *z->seq;
}

/* ---- decoding ---- */

/* Follows the packet headers of the decoded stream, to know where packets end. */
static void track_packets(struct mx_zstream *z, const uint8_t *p, size_t n)
{
    while (n) {
        if (z->pk_left) {
            size_t k = min_sz(n, z->pk_left);
            z->pk_left -= (uint32_t)k;
            p += k;
            n -= k;
            continue;
        }
        z->pk_hdr[z->pk_got++] = *p++;
        n--;
        if (z->pk_got == 4) {
            z->pk_got = 0;
            z->pk_left = le24(z->pk_hdr);
            z->pk_cont = z->pk_left == ZS_PAYLOAD_MAX;
        }
    }
}

static bool at_packet_boundary(const struct mx_zstream *z)
{
    return z->pk_got == 0 && z->pk_left == 0 && !z->pk_cont;
}

/* A complete header is in z->hdr: check it and set up the payload. */
static int start_frame(struct mx_zstream *z)
{
    uint32_t clen = le24(z->hdr), ulen = le24(z->hdr + 4);
    uint8_t seq = z->hdr[3];

    if (seq != *z->seq && !(seq == 0 && at_packet_boundary(z))) return ZS_ESEQ;
    *z->seq = (uint8_t)(seq + 1);
    z->in_left = clen;
    if (ulen == 0) {
        z->dstate = ZD_RAW;
        return 0;
    }
    z->out_left = ulen;
    if (z->algo == ZS_ZLIB) {
        if (inflateReset(&z->zl) != Z_OK) return ZS_EDATA;
    } else if (ZSTD_isError(ZSTD_DCtx_reset(z->zctx, ZSTD_reset_session_only))) {
        return ZS_EDATA;
    }
    z->dstate = ZD_INFLATE;
    return 0;
}

/* One call into the decompressor. Returns 1 when the payload is complete, 0
 * after progress or when blocked on input or output (*stuck set), or an error. */
static int inflate_step(struct mx_zstream *z, const uint8_t *in, size_t n, size_t *ip, uint8_t *out,
                        size_t outcap, size_t *op, bool *stuck)
{
    size_t ain = min_sz(z->in_left, n - *ip);
    uint8_t sink; /* past the announced length: any byte landing here is corrupt */
    uint8_t *dst = z->out_left ? out + *op : &sink;
    size_t aout = z->out_left ? min_sz(z->out_left, outcap - *op) : 1;
    size_t used, made;
    bool end;

    *stuck = false;
    if (z->out_left && aout == 0) {
        *stuck = true; /* output full */
        return 0;
    }
    if (z->algo == ZS_ZLIB) {
        z->zl.next_in = (Bytef *)(uintptr_t)(in + *ip);
        z->zl.avail_in = (uInt)ain;
        z->zl.next_out = dst;
        z->zl.avail_out = (uInt)aout;
        int rc = inflate(&z->zl, Z_NO_FLUSH);
        if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) return ZS_EDATA;
        used = ain - z->zl.avail_in;
        made = aout - z->zl.avail_out;
        end = rc == Z_STREAM_END;
    } else {
        ZSTD_inBuffer ib = {in + *ip, ain, 0};
        ZSTD_outBuffer ob = {dst, aout, 0};
        size_t rc = ZSTD_decompressStream(z->zctx, &ob, &ib);
        if (ZSTD_isError(rc)) return ZS_EDATA;
        used = ib.pos;
        made = ob.pos;
        end = rc == 0;
    }
    if (made && !z->out_left) return ZS_EDATA; /* longer than announced */
    if (made) track_packets(z, dst, made);
    *ip += used;
    z->in_left -= (uint32_t)used;
    if (z->out_left) {
        *op += made;
        z->out_left -= (uint32_t)made;
    }
    if (end) return z->in_left || z->out_left ? ZS_EDATA : 1;
    if (used || made) return 0;
    /* No progress: waiting for input is fine, anything else is a broken payload. */
    if (z->in_left && *ip == n) {
        *stuck = true;
        return 0;
    }
    return ZS_EDATA;
}

int zs_decode(struct mx_zstream *z, const uint8_t *in, size_t n, size_t *consumed, uint8_t *out,
              size_t outcap, size_t *produced)
{
    size_t ip = 0, op = 0;
    int rc = 0;

    if (!in) in = zs_none, n = 0;
    if (!out) out = zs_none, outcap = 0;
    if (z->encoder) {
        rc = ZS_EINVAL;
        goto out;
    }
    for (;;) {
        switch (z->dstate) {
        case ZD_HDR:
            if (ip == n) goto out;
            while (z->hdr_got < ZS_HDR && ip < n)
                z->hdr[z->hdr_got++] = in[ip++];
            if (z->hdr_got < ZS_HDR) goto out;
            z->hdr_got = 0;
            if ((rc = start_frame(z)) < 0) goto fail;
            break;
        case ZD_RAW: {
            if (z->in_left == 0) {
                z->dstate = ZD_HDR;
                break;
            }
            size_t k = min_sz(z->in_left, min_sz(n - ip, outcap - op));
            if (k == 0) goto out;
            memcpy(out + op, in + ip, k);
            track_packets(z, out + op, k);
            ip += k;
            op += k;
            z->in_left -= (uint32_t)k;
            break;
        }
        case ZD_INFLATE: {
            bool stuck;
            rc = inflate_step(z, in, n, &ip, out, outcap, &op, &stuck);
            if (rc < 0) goto fail;
            if (rc == 1) z->dstate = ZD_HDR;
            rc = 0;
            if (stuck) goto out;
            break;
        }
        case ZD_FAILED:
            rc = z->err;
            goto out;
        }
    }
fail:
    z->dstate = ZD_FAILED;
    z->err = rc;
out:
    *consumed = ip;
    *produced = op;
    return rc;
}

/* ---- encoding ---- */

/* Writes one frame of src[0, len) at dst, which has room for ZS_HDR + len.
 * Compressed when that is allowed and makes it shorter, as is otherwise.
 * Returns the frame's length. */
static size_t put_frame(struct mx_zstream *z, const uint8_t *src, uint32_t len, uint8_t *dst)
{
    size_t clen = 0;

    if (len >= z->threshold && len > 1) {
        if (z->algo == ZS_ZLIB) {
            if (deflateReset(&z->zl) == Z_OK) {
                z->zl.next_in = (Bytef *)(uintptr_t)src;
                z->zl.avail_in = len;
                z->zl.next_out = dst + ZS_HDR;
                z->zl.avail_out = len - 1;
                if (deflate(&z->zl, Z_FINISH) == Z_STREAM_END) clen = z->zl.total_out;
            }
        } else {
            size_t r = ZSTD_compress2(z->zctx, dst + ZS_HDR, len - 1, src, len);
            if (!ZSTD_isError(r)) clen = r;
        }
    }
    uint8_t seq = (*z->seq)++;
    if (clen) {
        put_le24(dst, (uint32_t)clen);
        dst[3] = seq;
        put_le24(dst + 4, len);
        return ZS_HDR + clen;
    }
    /* Too short, or incompressible (or the library failed): as is. */
    put_le24(dst, len);
    dst[3] = seq;
    put_le24(dst + 4, 0);
    memcpy(dst + ZS_HDR, src, len);
    return ZS_HDR + (size_t)len;
}

int zs_encode(struct mx_zstream *z, const uint8_t *in, size_t n, size_t *consumed, uint8_t *out,
              size_t outcap, size_t *produced, bool flush)
{
    size_t ip = 0, op = 0;
    int rc = 0;

    if (!in) in = zs_none, n = 0;
    if (!out) out = zs_none, outcap = 0;
    if (!z->encoder || !z->stage) {
        rc = ZS_EINVAL;
        goto out;
    }
    for (;;) {
        /* A whole frame straight from the caller's bytes: no copy. */
        if (z->stage_len == 0 && n - ip >= z->stage_cap) {
            if (outcap - op < ZS_HDR + (size_t)z->stage_cap) {
                rc = ZS_OUT_FULL;
                goto out;
            }
            op += put_frame(z, in + ip, z->stage_cap, out + op);
            ip += z->stage_cap;
            continue;
        }
        size_t k = min_sz(n - ip, z->stage_cap - z->stage_len);
        memcpy(z->stage + z->stage_len, in + ip, k);
        z->stage_len += (uint32_t)k;
        ip += k;
        bool full = z->stage_len == z->stage_cap;
        if (!full && !(flush && ip == n && z->stage_len)) goto out;
        if (outcap - op < ZS_HDR + (size_t)z->stage_len) {
            rc = ZS_OUT_FULL;
            goto out;
        }
        op += put_frame(z, z->stage, z->stage_len, out + op);
        z->stage_len = 0;
    }
out:
    *consumed = ip;
    *produced = op;
    return rc;
}
