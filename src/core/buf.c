/* Buffers: a per-worker free list of fixed-size I/O buffers (no lock: one loop owns it). */
#include "core/buf.h"

#include <stdlib.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

void bufpool_init(struct mx_bufpool *bp, size_t max_free)
{
    memset(bp, 0, sizeof *bp);
    bp->max_free = max_free;
}

void bufpool_destroy(struct mx_bufpool *bp)
{
    while (bp->free) {
        struct mx_buf *b = bp->free;
        bp->free = b->next;
        free(b);
    }
    bp->n_free = 0;
}

struct mx_buf *buf_get(struct mx_bufpool *bp)
{
    struct mx_buf *b = bp->free;
    if (b) {
        bp->free = b->next;
        bp->n_free--;
    } else {
        b = malloc(sizeof *b + MX_BUF_SIZE);
        if (!b) return NULL;
        b->cap = MX_BUF_SIZE;
    }
    b->next = NULL;
    b->rpos = b->ppos = b->wpos = 0;
    if (++bp->n_out > bp->peak_out) bp->peak_out = bp->n_out;
    return b;
}

void buf_put(struct mx_bufpool *bp, struct mx_buf *b)
{
    if (!b) return;
    bp->n_out--;
    if (bp->n_free >= bp->max_free) {
        free(b);
        return;
    }
    b->next = bp->free;
    bp->free = b;
    bp->n_free++;
}

size_t bufpool_trim(struct mx_bufpool *bp, uint64_t now_ms)
{
    if (bp->win_start_ms == 0) bp->win_start_ms = now_ms;
    if (now_ms - bp->win_start_ms < BUF_WINDOW_MS) return 0;
    bp->win_start_ms = now_ms;
    bp->win_peak[bp->win_i] = bp->peak_out;
    bp->win_i = (bp->win_i + 1) % BUF_WINDOWS;
    bp->peak_out = bp->n_out;
    size_t need = bp->n_out;
    for (unsigned i = 0; i < BUF_WINDOWS; i++)
        if (bp->win_peak[i] > need) need = bp->win_peak[i];
    size_t keep = need - bp->n_out, freed = 0;
    while (bp->n_free > keep) {
        struct mx_buf *b = bp->free;
        bp->free = b->next;
        bp->n_free--;
        free(b);
        freed++;
    }
#ifdef __GLIBC__
    /* freed chunks in the middle of an arena stay resident until trimmed;
     * this walks every arena under its lock, so only after a release */
    if (freed) malloc_trim(0);
#endif
    return freed;
}

void buf_compact(struct mx_buf *b)
{
    if (b->rpos == 0) return;
    uint32_t n = b->wpos - b->rpos;
    if (n) memmove(b->data, b->data + b->rpos, n);
    b->ppos -= b->rpos;
    b->wpos = n;
    b->rpos = 0;
}
