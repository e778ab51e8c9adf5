/* The line a session leaves when it ends: who, how long, how much, where.
 * Kept out of session.c so that the session code only counts and calls. */
#include <inttypes.h>

#include "core/clock.h"
#include "core/log.h"
#include "session/session.h"
#include "core/proxy.h"
#include "core/config.h"
#include "core/worker.h"

void session_log_end(const struct mx_session *s, const char *why)
{
    if (mx_log_level > MX_LOG_INFO) return;
    const struct mx_config *cfg = s->w->px->cfg;
    const char *backend = s->server >= 0 && (size_t)s->server < cfg->n_backends
                              ? cfg->backends[s->server].name
                              : "";
    uint64_t now = mx_now_ms();
    uint64_t ms = s->started_ms && now >= s->started_ms ? now - s->started_ms : 0;
    /* user and schema are the client's words: quoted, so the logger escapes them */
    log_info("disconnect",
             "conn_id=%u client=%s user=\"%s\" db=\"%s\" duration_ms=%" PRIu64
             " bytes_in=%" PRIu64 " bytes_out=%" PRIu64 " queries=%" PRIu64
             " backend=\"%s\" reason=\"%s\"",
             s->id, s->peer, s->cred.user, s->schema, ms, s->log_bytes_in, s->log_bytes_out,
             s->log_queries, backend, why ? why : "");
}
