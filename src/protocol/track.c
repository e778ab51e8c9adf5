/* Session-state tracker items of OK packets, and the OK as a client without
 * CLIENT_SESSION_TRACK expects it. */
#include "protocol/track.h"

#include <string.h>

#include "protocol/packet.h"

/* The items of a state block; -1 if malformed. */
static int parse_items(const uint8_t *p, size_t n, trk_item_cb cb, void *arg)
{
    struct pkt_rd r;
    pkt_rd_init(&r, p, n);
    while (pkt_rd_left(&r) > 0) {
        struct trk_item it = {.type = pkt_rd_u8(&r)};
        size_t dl = 0;
        const uint8_t *d = pkt_rd_lenenc_str(&r, &dl);
        if (r.bad) return -1;
        struct pkt_rd in;
        pkt_rd_init(&in, d, dl);
        switch (it.type) {
        case TRK_SYSVAR:
            it.name = pkt_rd_lenenc_str(&in, &it.name_len);
            it.value = pkt_rd_lenenc_str(&in, &it.value_len);
            break;
        case TRK_SCHEMA:
            it.name = pkt_rd_lenenc_str(&in, &it.name_len);
            break;
        default:
            it.value = d;
            it.value_len = dl;
            break;
        }
        if (in.bad) return -1;
        if (cb) cb(arg, &it);
    }
    return 0;
}

int trk_rewrite_ok(uint8_t *p, size_t len, trk_item_cb cb, void *arg)
{
    struct pkt_rd r;
    pkt_rd_init(&r, p, len);
    uint8_t h = pkt_rd_u8(&r);
    if (h != 0x00 && h != 0xfe) return -1;
    pkt_rd_lenenc(&r, NULL); /* affected rows */
    pkt_rd_lenenc(&r, NULL); /* last insert id */
    size_t status_at = r.pos;
    uint16_t status = pkt_rd_u16(&r);
    pkt_rd_u16(&r); /* warnings */
    if (r.bad) return -1;
    size_t head = r.pos;
    if (pkt_rd_left(&r) == 0) { /* no info, no state */
        if (status & SERVER_SESSION_STATE_CHANGED) return -1;
        return (int)len;
    }
    size_t info_len = 0;
    pkt_rd_lenenc_str(&r, &info_len);
    if (r.bad) return -1;
    size_t info_end = r.pos;
    if (status & SERVER_SESSION_STATE_CHANGED) {
        size_t sl = 0;
        const uint8_t *st = pkt_rd_lenenc_str(&r, &sl);
        if (r.bad || parse_items(st, sl, cb, arg) != 0) return -1;
    }
    if (pkt_rd_left(&r) != 0) return -1;
    status &= (uint16_t)~SERVER_SESSION_STATE_CHANGED;
    p[status_at] = (uint8_t)status;
    p[status_at + 1] = (uint8_t)(status >> 8);
    /* the info text keeps its length prefix: that is what MariaDB and MySQL
     * send to every client (libmariadb reads it so), only an empty one goes */
    return (int)(info_len ? info_end : head);
}

int trk_value_literal(const uint8_t *v, size_t n, char *out, size_t cap)
{
    bool number = n > 0 && n < 20;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < 0x20 || v[i] >= 0x7f || v[i] == '\'' || v[i] == '\\') return -1;
        if (!(v[i] >= '0' && v[i] <= '9') && !(i == 0 && v[i] == '-' && n > 1)) number = false;
    }
    if (n + 3 > cap) return -1;
    size_t k = 0;
    if (!number) out[k++] = '\'';
    memcpy(out + k, v, n);
    k += n;
    if (!number) out[k++] = '\'';
    out[k] = 0;
    return (int)k;
}
