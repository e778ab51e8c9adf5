/* libFuzzer target for the tracker OK rewrite (src/protocol/track.c): any bytes
 * as an OK from a server with CLIENT_SESSION_TRACK. The rewrite must never
 * read or write outside the packet, never grow it, and leave an OK that is
 * itself valid and unchanged by a second rewrite (no tracker data, no flag). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/packet.h"
#include "protocol/track.h"

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x)) __builtin_trap();                                                                \
    } while (0)

static void touch(void *arg, const struct trk_item *it)
{
    size_t *sum = arg;
    for (size_t i = 0; i < it->name_len; i++) *sum += it->name[i];
    for (size_t i = 0; i < it->value_len; i++) *sum += it->value[i];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *p = malloc(size ? size : 1);
    memcpy(p, data, size);
    size_t sum = 0;
    int n = trk_rewrite_ok(p, size, touch, &sum);
    CHECK(n == -1 || (n >= 0 && (size_t)n <= size));
    if (n >= 0) {
        struct pkt_ok_info ok;
        CHECK(pkt_parse_ok(p, (size_t)n, &ok) == 0 || n < 7);
        if (n >= 7) CHECK(!(ok.status & SERVER_SESSION_STATE_CHANGED));
        uint8_t *q = malloc((size_t)n ? (size_t)n : 1);
        memcpy(q, p, (size_t)n);
        int m = trk_rewrite_ok(q, (size_t)n, NULL, NULL);
        CHECK(m == n && memcmp(p, q, (size_t)n) == 0);
        free(q);
    }
    free(p);
    char lit[64];
    int k = trk_value_literal(data, size, lit, sizeof lit);
    CHECK(k == -1 || ((size_t)k < sizeof lit && lit[k] == 0));
    return 0;
}
