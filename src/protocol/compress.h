/* The MySQL compressed protocol (CLIENT_COMPRESS, CLIENT_ZSTD_COMPRESSION) as a
 * streaming codec between a socket and the packet layer, one struct per
 * connection per direction.
 *
 * A frame is a 7-byte header and a payload:
 *   3 bytes  length of the payload as sent (at most ZS_PAYLOAD_MAX)
 *   1 byte   compressed sequence id (independent of the packets' own ids)
 *   3 bytes  length of the payload once decompressed; 0 = sent as is
 * The payload, once decompressed, is a slice of the ordinary packet stream:
 * one frame may carry several packets, and one packet may span several frames.
 * With zlib each compressed payload is one zlib stream, with zstd one zstd
 * frame; each frame is independent of the ones before.
 *
 * Sequence ids: like MySQL's own NET, one counter per connection serves both
 * directions. A client's command frames count 0, 1, ... and the answer's
 * frames continue from there; each new command starts again at 0. Pair the
 * decoder and the encoder of one connection with zs_pair() so that they share
 * the counter; call zs_reset_seq() before encoding a new command towards a
 * server. The decoder checks every frame's id and also accepts 0 at a packet
 * boundary of the decoded stream, which is where a new command starts (a
 * client may send two commands back to back, e.g. COM_STMT_CLOSE then
 * COM_QUERY, each starting at 0).
 *
 * Memory: all library state is allocated by zs_init_*(): the zlib decoder
 * takes about 40 KiB (its window is allocated on the first frame); the zlib
 * encoder about 200 KiB for the default 16 KiB frames (256 KiB for frames of
 * 32 KiB and more) plus its staging buffer; zstd contexts grow once to the
 * largest frame seen (the decoder's window is capped at 16 MiB) and are
 * reused. Nothing is allocated per packet or per frame by this module. */
#ifndef MX_COMPRESS_H
#define MX_COMPRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <zlib.h>

#define ZS_HDR 7                              /* frame header */
#define ZS_PAYLOAD_MAX 0xffffffu              /* 16 MiB - 1: the 3-byte length's limit */
#define ZS_THRESHOLD_DEFAULT 50               /* shorter frames are sent as is */
#define ZS_FRAME_DEFAULT (16 * 1024 - ZS_HDR) /* a raw frame fills a 16 KiB buffer */

enum zs_algo {
    ZS_ZLIB = 1, /* CLIENT_COMPRESS */
    ZS_ZSTD = 2, /* CLIENT_ZSTD_COMPRESSION */
};

/* Results besides 0. Below libuv's range, so they pass through the same int. */
enum {
    ZS_OUT_FULL = 1,   /* zs_encode: drain the output and call again */
    ZS_ESEQ = -5101,   /* a frame arrived with the wrong compressed sequence id */
    ZS_EDATA = -5102,  /* a payload does not decompress to what its header says */
    ZS_ENOMEM = -5103, /* the compression library could not allocate its state */
    ZS_EINVAL = -5104, /* bad algorithm, level or frame size; or the wrong direction */
};

enum zs_dstate {
    ZD_HDR,     /* collecting a frame header (hdr_got bytes so far) */
    ZD_RAW,     /* copying an uncompressed payload (in_left bytes to go) */
    ZD_INFLATE, /* decompressing a payload (in_left in, out_left out to go) */
    ZD_FAILED,  /* an error was returned; every later call returns it again */
};

struct mx_zstream {
    enum zs_algo algo;
    bool encoder;
    bool lib_ready; /* zl or zctx holds initialised library state */
    uint8_t own_seq;
    uint8_t *seq; /* &own_seq, or the paired stream's counter */
    z_stream zl;
    void *zctx; /* ZSTD_CCtx * or ZSTD_DCtx * */

    /* decoder */
    enum zs_dstate dstate;
    int err; /* the error ZD_FAILED repeats */
    uint8_t hdr[ZS_HDR];
    uint8_t hdr_got;
    uint32_t in_left, out_left;
    /* packet boundaries of the decoded stream (for the sequence restart rule) */
    uint8_t pk_hdr[4];
    uint8_t pk_got;   /* bytes of the next packet header seen */
    bool pk_cont;     /* the last packet was 16 MiB - 1: the next continues it */
    uint32_t pk_left; /* payload bytes of the current packet still to come */

    /* encoder */
    int level;
    uint32_t threshold; /* payloads shorter than this are sent uncompressed */
    uint8_t *stage;     /* uncompressed bytes of the frame being gathered */
    uint32_t stage_len, stage_cap;
};

/* Prepares z to decode frames of the given algorithm. z needs no prior
 * initialisation. Returns 0, ZS_EINVAL or ZS_ENOMEM; after a failure z holds
 * nothing and zs_free() is still safe to call. */
int zs_init_decoder(struct mx_zstream *z, enum zs_algo algo) __attribute__((warn_unused_result));

/* Prepares z to encode frames. level: zlib -1 (default, 6) to 9; zstd 0
 * (default, 3) or 1 to 22 — the handshake's zstd level byte. frame_max: the
 * uncompressed bytes gathered into one frame, 1 to ZS_PAYLOAD_MAX, 0 for
 * ZS_FRAME_DEFAULT; the encoder keeps a staging buffer of that size. The
 * threshold starts at ZS_THRESHOLD_DEFAULT. Returns 0, ZS_EINVAL or
 * ZS_ENOMEM (z then holds nothing). */
int zs_init_encoder(struct mx_zstream *z, enum zs_algo algo, int level, size_t frame_max)
    __attribute__((warn_unused_result));

/* Frees the library state and buffers; z may then be initialised again.
 * Safe on a zeroed struct and after a failed init. */
void zs_free(struct mx_zstream *z);

/* Frames whose uncompressed payload is shorter than min_len are sent as is
 * (MySQL's MIN_COMPRESS_LENGTH is 50). Encoder only. */
void zs_set_threshold(struct mx_zstream *z, size_t min_len);

/* Makes b use a's sequence counter (b's own is no longer read), so that the
 * decoder and the encoder of one connection count frames together. Both must
 * stay at their addresses while paired. */
void zs_pair(struct mx_zstream *a, struct mx_zstream *b);

/* The next frame's sequence id is 0: call before encoding each new command. */
void zs_reset_seq(struct mx_zstream *z);

/* The id the next frame will carry (or is expected to carry). */
uint8_t zs_seq(const struct mx_zstream *z);

/* Decodes compressed bytes as they arrive from the socket.
 * Takes up to n bytes from in and writes up to outcap decoded bytes to out;
 * sets *consumed and *produced. It stops when all of in is consumed or out is
 * full: call again with in + *consumed once the output is drained. A frame
 * header split across reads and a payload larger than out are both fine; no
 * frame is held whole. When *produced == outcap more output may be pending
 * inside the decompressor: call again, with n == 0 if nothing new arrived.
 * Returns 0, ZS_ESEQ (a frame out of sequence), ZS_EDATA (a payload that
 * does not decompress, or to another length than its header says, or with
 * bytes after its end) or ZS_EINVAL (z is an encoder). On error *produced
 * still counts what was written, for ZS_EDATA perhaps part of the bad frame:
 * close the connection rather than forward it. After an error the stream is
 * dead: every later call returns the same error. */
int zs_decode(struct mx_zstream *z, const uint8_t *in, size_t n, size_t *consumed, uint8_t *out,
              size_t outcap, size_t *produced) __attribute__((warn_unused_result));

/* Encodes bytes of the packet stream into frames.
 * Gathers in into the current frame; a frame is written to out when it holds
 * frame_max bytes, or, when flush is set, as soon as all of in is taken (the
 * socket layer flushes at the end of each write, so no latency is added).
 * Frames shorter than the threshold, or that do not shrink, are sent as is.
 * A frame is only written when out has room for ZS_HDR + the frame's bytes,
 * so an empty output buffer of ZS_HDR + frame_max bytes always makes progress.
 * Sets *consumed (bytes of in taken) and *produced (bytes written to out).
 * Returns 0 when all of in is taken and, if flush was set, written out;
 * ZS_OUT_FULL when out ran out of room: send out, then call again with
 * in + *consumed, n - *consumed and the same flush; ZS_EINVAL for a decoder. */
int zs_encode(struct mx_zstream *z, const uint8_t *in, size_t n, size_t *consumed, uint8_t *out,
              size_t outcap, size_t *produced, bool flush) __attribute__((warn_unused_result));

/* Uncompressed bytes gathered for the next frame and not yet written. */
static inline size_t zs_pending(const struct mx_zstream *z)
{
    return z->stage_len;
}

#endif
