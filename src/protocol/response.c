/* Response tracking: a state machine over packet headers and first bytes that
 * finds where the answer to one command ends (OK/ERR/EOF, more results, cursors). */
#include "protocol/response.h"

#include "protocol/packet.h"

void resp_begin(struct mx_resp *r, uint8_t cmd, bool deprecate_eof)
{
    memset(r, 0, sizeof *r);
    r->cmd = cmd;
    r->deprecate_eof = deprecate_eof;
    switch (cmd) {
    case COM_STMT_FETCH: r->state = RS_ROWS; break;
    case COM_FIELD_LIST: r->state = RS_FIELDS; break;
    case COM_STATISTICS: r->state = RS_ONE; break;
    default: r->state = RS_FIRST; break;
    }
}

bool resp_cmd_has_reply(uint8_t cmd)
{
    return cmd != COM_STMT_CLOSE && cmd != COM_STMT_SEND_LONG_DATA && cmd != COM_QUIT;
}

/* An EOF packet (classic), or the OK that replaces it under DEPRECATE_EOF. */
static bool is_terminator(const struct mx_resp *r, uint32_t len, const uint8_t *p)
{
    if (len == 0 || p[0] != 0xfe) return false;
    return r->deprecate_eof ? len < PKT_MAX_PAYLOAD : len < 9;
}

/* A column definition (Protocol::ColumnDefinition41): its catalog is always
 * "def" on MySQL, MariaDB and TiDB, so anything else where one is due (an
 * EOF or rows after fewer definitions than announced) breaks the answer. */
static bool is_coldef(uint32_t len, const uint8_t *p)
{
    return len >= 4 && p[0] == 3 && p[1] == 'd' && p[2] == 'e' && p[3] == 'f';
}

/* A classic 5-byte EOF (flags only), or an OK-format packet. */
static uint8_t term_kind(const uint8_t *p, uint32_t len)
{
    return p[0] == 0xfe && len < 7 ? RESP_TERM_EOF : RESP_TERM_OK;
}

/* Status flags of a terminator that does not end a result (prepare, field list). */
static void record_status(struct mx_resp *r, const uint8_t *p, uint32_t len)
{
    r->term = term_kind(p, len);
    struct pkt_ok_info ok;
    if (pkt_parse_ok(p, len < RESP_PEEK ? len : RESP_PEEK, &ok) == 0) {
        r->status = ok.status;
        r->has_status = true;
    }
}

static int on_error(struct mx_resp *r, const uint8_t *p, size_t avail)
{
    r->error = true;
    r->err_code = avail >= 3 ? rd16(p + 1) : 0;
    r->state = RS_IDLE;
    return RESP_DONE;
}

/* Records the status of an OK or terminator and decides if more results follow. */
static int on_end_of_result(struct mx_resp *r, const uint8_t *p, size_t avail, uint32_t len)
{
    struct pkt_ok_info ok;
    if (pkt_parse_ok(p, avail < len ? avail : len, &ok) != 0) return RESP_BAD;
    r->term = term_kind(p, len);
    r->last_rs = r->state == RS_ROWS;
    r->status = ok.status;
    r->has_status = true;
    r->db_dropped = r->db_dropped || (ok.status & SERVER_STATUS_DB_DROPPED);
    r->warnings = ok.warnings;
    if (p[0] == 0x00) {
        r->ok_seen = true;
        r->affected = ok.affected;
        r->insert_id = ok.insert_id;
    }
    r->results++;
    if (ok.status & SERVER_MORE_RESULTS_EXISTS) {
        r->state = RS_FIRST;
        return RESP_MORE;
    }
    r->state = RS_IDLE;
    return RESP_DONE;
}

static int need_bytes(uint32_t len, size_t avail, size_t want, size_t *need)
{
    size_t w = want < len ? want : len;
    if (avail >= w) return 0;
    *need = w;
    return RESP_NEED;
}

/* An OK-format packet is wanted whole when its trackers are to be read. */
static int need_whole_ok(struct mx_resp *r, uint32_t len, const uint8_t *p, size_t avail,
                         size_t *need)
{
    if (!r->whole_ok || term_kind(p, len) == RESP_TERM_EOF) return 0;
    if (need_bytes(len, avail, len, need) == 0) return 0;
    r->cont = false;
    return RESP_NEED;
}

int resp_feed(struct mx_resp *r, uint32_t len, const uint8_t *p, size_t avail, size_t *need)
{
    r->term = RESP_TERM_NONE;
    if (r->cont) { /* continuation of a 16 MiB packet: opaque */
        r->cont = len == PKT_MAX_PAYLOAD;
        return RESP_MORE;
    }
    if (need_bytes(len, avail, RESP_PEEK, need)) return RESP_NEED;
    if (len >= 0xfb && len < PKT_MAX_PAYLOAD && r->state == RS_FIRST && p[0] == 0xfb &&
        need_bytes(len, avail, len, need))
        return RESP_NEED;
    r->cont = len == PKT_MAX_PAYLOAD;
    if (len == 0 && r->state != RS_ROWS) return RESP_BAD;

    switch (r->state) {
    case RS_IDLE:
        return RESP_BAD;

    case RS_ONE:
        r->state = RS_IDLE;
        if (p[0] == 0xff) return on_error(r, p, avail);
        return RESP_DONE;

    case RS_FIRST:
        if (p[0] == 0xff) return on_error(r, p, avail);
        if (p[0] == 0x00) {
            if (r->cmd == COM_STMT_PREPARE) {
                if (len < 12) return RESP_BAD;
                r->stmt_id = rd32(p + 1);
                r->num_cols = rd16(p + 5);
                r->num_params = rd16(p + 7);
                r->warnings = rd16(p + 10);
                r->prep_cols = r->num_cols;
                if (r->num_params) {
                    r->left = r->num_params;
                    r->state = RS_PREP_PARAMS;
                    return RESP_MORE;
                }
                if (r->num_cols) {
                    r->left = r->num_cols;
                    r->state = RS_PREP_COLS;
                    return RESP_MORE;
                }
                r->state = RS_IDLE;
                return RESP_DONE;
            }
            if (need_whole_ok(r, len, p, avail, need)) return RESP_NEED;
            return on_end_of_result(r, p, avail, len);
        }
        if (p[0] == 0xfe && len < 9) { /* EOF as a reply (COM_SET_OPTION, old servers) */
            if (need_whole_ok(r, len, p, avail, need)) return RESP_NEED;
            return on_end_of_result(r, p, avail, len);
        }
        if (p[0] == 0xfb) { /* LOCAL INFILE request: whole packet wanted for the name */
            if (need_bytes(len, avail, len, need)) {
                r->cont = false;
                return RESP_NEED;
            }
            r->infile_name = p + 1;
            r->infile_len = len - 1;
            r->state = RS_INFILE;
            return RESP_INFILE;
        }
        {
            struct pkt_rd rd;
            pkt_rd_init(&rd, p, avail);
            uint64_t ncols = pkt_rd_lenenc(&rd, NULL);
            if (rd.bad || ncols == 0 || ncols > RESP_MAX_COLUMNS) return RESP_BAD;
            r->left = ncols;
            r->rs_rows = 0;
            r->state = RS_COLDEFS;
        }
        return RESP_MORE;

    case RS_COLDEFS:
        if (p[0] == 0xff) return on_error(r, p, avail); /* the client reads it as one */
        if (!is_coldef(len, p)) return RESP_BAD;
        if (--r->left == 0) r->state = r->deprecate_eof ? RS_ROWS : RS_COLDEF_EOF;
        return RESP_MORE;

    case RS_COLDEF_EOF: {
        if (!is_terminator(r, len, p)) return RESP_BAD;
        if (need_whole_ok(r, len, p, avail, need)) return RESP_NEED;
        struct pkt_ok_info ok;
        if (pkt_parse_ok(p, len, &ok) != 0) return RESP_BAD;
        r->term = term_kind(p, len);
        r->status = ok.status;
        r->has_status = true;
        /* A cursor opened: rows come by FETCH. Only an EXECUTE that asked for one
         * opens one, and a cursor is the whole answer. MariaDB 10.11 also leaves
         * the flag set on the results a stored procedure sends after using a cursor
         * of its own (CALL, text or binary, cursor asked or not): those carry
         * MORE_RESULTS (the CALL's final OK follows) and their rows come inline. */
        if ((ok.status & SERVER_STATUS_CURSOR_EXISTS) &&
            !(ok.status & SERVER_MORE_RESULTS_EXISTS) && r->cmd == COM_STMT_EXECUTE &&
            r->cursor_asked) {
            r->cursor = true;
            r->results++;
            r->state = RS_IDLE;
            return RESP_DONE;
        }
        r->state = RS_ROWS;
        return RESP_MORE;
    }

    case RS_ROWS:
        if (len > 0 && p[0] == 0xff) return on_error(r, p, avail);
        if (len > 0 && is_terminator(r, len, p)) {
            if (need_whole_ok(r, len, p, avail, need)) return RESP_NEED;
            return on_end_of_result(r, p, avail, len);
        }
        r->rows++;
        r->rs_rows++;
        return RESP_MORE;

    case RS_PREP_PARAMS:
        if (!is_coldef(len, p)) return RESP_BAD;
        if (--r->left == 0) {
            if (!r->deprecate_eof) {
                r->state = RS_PREP_PARAMS_EOF;
            } else if (r->prep_cols) {
                r->left = r->prep_cols;
                r->state = RS_PREP_COLS;
            } else {
                r->state = RS_IDLE;
                return RESP_DONE;
            }
        }
        return RESP_MORE;

    case RS_PREP_PARAMS_EOF:
        if (!is_terminator(r, len, p)) return RESP_BAD;
        if (need_whole_ok(r, len, p, avail, need)) return RESP_NEED;
        record_status(r, p, len);
        if (r->prep_cols) {
            r->left = r->prep_cols;
            r->state = RS_PREP_COLS;
            return RESP_MORE;
        }
        r->state = RS_IDLE;
        return RESP_DONE;

    case RS_PREP_COLS:
        if (!is_coldef(len, p)) return RESP_BAD;
        if (--r->left == 0) {
            if (!r->deprecate_eof) {
                r->state = RS_PREP_COLS_EOF;
                return RESP_MORE;
            }
            r->state = RS_IDLE;
            return RESP_DONE;
        }
        return RESP_MORE;

    case RS_PREP_COLS_EOF:
        if (!is_terminator(r, len, p)) return RESP_BAD;
        if (need_whole_ok(r, len, p, avail, need)) return RESP_NEED;
        record_status(r, p, len);
        r->state = RS_IDLE;
        return RESP_DONE;

    case RS_FIELDS:
        if (p[0] == 0xff) return on_error(r, p, avail);
        if (is_terminator(r, len, p)) {
            if (need_whole_ok(r, len, p, avail, need)) return RESP_NEED;
            record_status(r, p, len);
            r->state = RS_IDLE;
            return RESP_DONE;
        }
        if (!is_coldef(len, p)) return RESP_BAD;
        return RESP_MORE;

    case RS_INFILE:
        return RESP_BAD; /* the server speaks only after the client's empty packet */
    }
    return RESP_BAD;
}

void resp_infile_done(struct mx_resp *r)
{
    r->state = RS_FIRST; /* OK or ERR, possibly with MORE_RESULTS */
}
