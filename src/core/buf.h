/* Buffers: fixed-size I/O buffers borrowed from a per-worker free list and
 * given back when a connection has nothing pending, so idle connections hold none. */
#ifndef MX_BUF_H
#define MX_BUF_H

#include <stddef.h>
#include <stdint.h>

#define MX_BUF_SIZE (16 * 1024)

/* Regions: [0, rpos) consumed; [rpos, ppos) parsed, waiting to be sent;
 * [ppos, wpos) received, not parsed yet; [wpos, cap) free. */
struct mx_buf {
    struct mx_buf *next; /* free list link */
    uint32_t cap;
    uint32_t rpos, ppos, wpos;
    uint8_t data[];
};

/* The free list keeps at most what the last minute needed: the most buffers
 * out at once in each of the last BUF_WINDOWS windows of BUF_WINDOW_MS. */
#define BUF_WINDOW_MS 10000
#define BUF_WINDOWS 6

struct mx_bufpool {
    struct mx_buf *free;
    size_t n_free, n_out, max_free;
    size_t peak_out;              /* most out at once in the current window */
    size_t win_peak[BUF_WINDOWS]; /* ...in the windows before it */
    unsigned win_i;               /* next win_peak slot to fill */
    uint64_t win_start_ms;        /* start of the current window (0: not started) */
};

void bufpool_init(struct mx_bufpool *bp, size_t max_free);
void bufpool_destroy(struct mx_bufpool *bp);
/* Called periodically (the worker's tick) with the loop's clock: at the end of
 * each window, frees the buffers beyond what the last minute needed and hands
 * freed memory back to the system. Returns the number of buffers freed. */
size_t bufpool_trim(struct mx_bufpool *bp, uint64_t now_ms);
/* Returns an empty buffer (NULL when out of memory). */
struct mx_buf *buf_get(struct mx_bufpool *bp);
void buf_put(struct mx_bufpool *bp, struct mx_buf *b);

/* Moves unsent and unparsed bytes to the front. */
void buf_compact(struct mx_buf *b);
static inline uint32_t buf_free_tail(const struct mx_buf *b)
{
    return b->cap - b->wpos;
}
static inline int buf_empty(const struct mx_buf *b)
{
    return b->rpos == b->wpos;
}

#endif
