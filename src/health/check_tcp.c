/* tcp check: connect and read the greeting; an ERR greeting (1040 Too many
 * connections, 1129 host blocked) is a failure. The connection is then closed.
 * TiDB counts such a close as a load balancer's probe and logs nothing; MySQL
 * and MariaDB count it in Aborted_connects (and MariaDB logs a warning): there
 * the mysql check, which logs in and says COM_QUIT, is the quiet one. */
#include "health/check.h"
#include "protocol/handshake.h"
#include "protocol/packet.h"

static void check_tcp_connect(struct check_conn *c)
{
    c->phase = "greeting";
}

static void check_tcp_data(struct check_conn *c)
{
    if (c->in_len < PKT_HDR) return;
    uint32_t len = pkt_len(c->in);
    if (len > sizeof c->in - PKT_HDR) {
        check_finish(c, HC_FAIL, 0, "greeting too large");
        return;
    }
    if (c->in_len < PKT_HDR + len) return;
    const uint8_t *p = c->in + PKT_HDR;
    struct hs_greeting g;
    int rc = hs_parse_greeting(p, len, &g);
    if (rc == -2) {
        check_finish_err(c, p, len);
        return;
    }
    if (rc != 0) {
        check_finish(c, HC_FAIL, 0, "malformed greeting");
        return;
    }
    check_finish_ok(c, 0);
}

static void check_tcp_eof(struct check_conn *c)
{
    check_finish(c, HC_FAIL, 0, "closed by server (greeting)");
}

const struct check_ops check_tcp_ops = {
    .on_connect = check_tcp_connect,
    .on_data = check_tcp_data,
    .on_eof = check_tcp_eof,
};
