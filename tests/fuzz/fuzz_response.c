/* libFuzzer target for the response tracker (src/protocol/response.c): arbitrary
 * bytes walked the way the session walks a backend buffer, whole and split in
 * two; the walks must agree and the tracker must keep its RESP_NEED contract.
 * Input: [cmd selector][flags][split lo][split hi] then the server's bytes. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/packet.h"
#include "protocol/response.h"

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x)) __builtin_trap();                                                                \
    } while (0)

struct walk {
    int end_rc;
    size_t end_at, packets;
    bool need_too_big;
    uint64_t rows, results, affected, insert_id;
    uint16_t status, err_code;
    bool error;
    uint32_t stmt_id;
    uint16_t num_params, num_cols;
    int state;
};

/* Walks s[0..n) arriving as s[0..split) then the rest, showing resp_feed() at
 * most cap - 4 bytes of a payload, each time an exact heap copy. A LOCAL INFILE
 * request is followed, as in the session, by resp_infile_done() and more bytes. */
static void walk(uint8_t cmd, bool deof, const uint8_t *s, size_t n, size_t split, size_t cap,
                 struct walk *w)
{
    struct mx_resp r;
    size_t pos = 0;
    uint64_t body_left = 0;
    int ended = RESP_MORE;
    size_t limits[2] = {split < n ? split : n, n};
    memset(w, 0, sizeof *w);
    w->end_rc = RESP_MORE;
    resp_begin(&r, cmd, deof);
    for (int k = 0; k < 2; k++) {
        size_t lim = limits[k];
        for (;;) {
            if (body_left) {
                size_t take = lim - pos < body_left ? lim - pos : (size_t)body_left;
                pos += take;
                body_left -= take;
                if (body_left) break;
                if (ended == RESP_INFILE) {
                    resp_infile_done(&r);
                    ended = RESP_MORE;
                }
                if (ended != RESP_MORE) goto out;
                continue;
            }
            if (lim - pos < PKT_HDR) break;
            uint32_t len = pkt_len(s + pos);
            size_t got = lim - pos - PKT_HDR;
            if (got > len) got = len;
            if (got > cap - PKT_HDR) got = cap - PKT_HDR;
            uint8_t *copy = malloc(got ? got : 1);
            CHECK(copy);
            memcpy(copy, s + pos + PKT_HDR, got);
            size_t need = 0;
            int rc = resp_feed(&r, len, copy, got, &need);
            if (rc == RESP_INFILE) {
                CHECK(r.infile_name >= copy && r.infile_name + r.infile_len <= copy + got);
                r.infile_name = NULL;
            }
            free(copy);
            if (rc == RESP_NEED) {
                CHECK(need > got && need <= len);
                if (need > cap - PKT_HDR) {
                    w->need_too_big = true;
                    goto out;
                }
                break;
            }
            if (rc == RESP_BAD) {
                w->end_rc = RESP_BAD;
                w->end_at = pos;
                goto out;
            }
            CHECK(rc == RESP_MORE || rc == RESP_DONE || rc == RESP_INFILE);
            w->packets++;
            pos += PKT_HDR + got;
            body_left = len - got;
            if (rc == RESP_INFILE) {
                ended = RESP_INFILE;
                if (!body_left) {
                    resp_infile_done(&r);
                    ended = RESP_MORE;
                }
            } else if (rc == RESP_DONE) {
                CHECK(r.state == RS_IDLE);
                ended = rc;
                if (!body_left) goto out;
            }
        }
    }
out:
    if (ended != RESP_MORE) {
        w->end_rc = ended;
        w->end_at = pos;
    }
    w->rows = r.rows;
    w->results = r.results;
    w->affected = r.affected;
    w->insert_id = r.insert_id;
    w->status = r.status;
    w->err_code = r.err_code;
    w->error = r.error;
    w->stmt_id = r.stmt_id;
    w->num_params = r.num_params;
    w->num_cols = r.num_cols;
    w->state = r.state;
}

static const uint8_t cmds[] = {COM_QUERY,      COM_STMT_PREPARE, COM_STMT_EXECUTE,
                               COM_STMT_FETCH, COM_FIELD_LIST,   COM_STATISTICS,
                               COM_SET_OPTION, COM_PING,         COM_STMT_RESET,
                               COM_INIT_DB,    COM_CHANGE_USER,  COM_RESET_CONNECTION};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4) return 0;
    uint8_t cmd = cmds[data[0] % sizeof cmds];
    bool deof = data[1] & 1;
    size_t cap = (data[1] & 2) ? RESP_PEEK + PKT_HDR : 4096;
    const uint8_t *s = data + 4;
    size_t n = size - 4;
    size_t split = n ? (size_t)(data[2] | data[3] << 8) % (n + 1) : 0;
    struct walk whole, part;
    walk(cmd, deof, s, n, n, cap, &whole);
    walk(cmd, deof, s, n, split, cap, &part);
    /* bytes arriving in two reads must not change where or how the answer ends */
    CHECK(whole.end_rc == part.end_rc);
    CHECK(whole.end_at == part.end_at);
    CHECK(whole.packets == part.packets);
    CHECK(whole.need_too_big == part.need_too_big);
    CHECK(whole.rows == part.rows && whole.results == part.results);
    CHECK(whole.status == part.status && whole.error == part.error);
    CHECK(whole.err_code == part.err_code && whole.affected == part.affected);
    CHECK(whole.insert_id == part.insert_id && whole.stmt_id == part.stmt_id);
    CHECK(whole.num_params == part.num_params && whole.num_cols == part.num_cols);
    CHECK(whole.state == part.state);
    return 0;
}
