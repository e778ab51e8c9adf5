/* Admin side: the HTTP listener with the stats page, Prometheus metrics and the
 * JSON API, and the per-worker query digests it reports. */
#ifndef MX_ADMIN_H
#define MX_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mx_proxy;
struct mx_worker;

/* Starts the admin listener when cfg->admin_listen is set (its own thread),
 * on inherited_fd when a binary upgrade handed one over (-1: none; closed when
 * the configuration no longer names its address). Returns 0, or -1 with the
 * reason logged. */
int admin_start(struct mx_proxy *px, int inherited_fd);
void admin_stop(void);

/* Binary upgrade: the admin listening socket (-1 when none), and stop
 * accepting on it once a new process has its copy (requests in progress
 * finish). */
int admin_listen_fd(void);
void admin_quiesce(void);

/* Query digests, per worker (no lock on the query path). digest_begin is
 * called when a statement is about to run (lx: how the session's server reads
 * its text, see digest_normalize()) and returns a handle for digest_end, which
 * records its outcome; 0 means "not tracked". */
struct cls_lex;
uint64_t digest_begin(struct mx_worker *w, const char *sql, size_t len, const struct cls_lex *lx,
                      const char *user, const char *schema);
void digest_end(struct mx_worker *w, uint64_t handle, uint64_t us, uint64_t rows, bool error);

#endif
