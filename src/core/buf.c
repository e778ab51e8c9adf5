/* Buffers: a per-worker free list of fixed-size I/O buffers (no lock: one loop owns it). */
#include "core/buf.h"

#include <stdlib.h>
#include <string.h>

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
    bp->n_out++;
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

void buf_compact(struct mx_buf *b)
{
    if (b->rpos == 0) return;
    uint32_t n = b->wpos - b->rpos;
    if (n) memmove(b->data, b->data + b->rpos, n);
    b->ppos -= b->rpos;
    b->wpos = n;
    b->rpos = 0;
}
