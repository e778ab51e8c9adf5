/* The registry of client connection ids, shared by all workers: what KILL,
 * CONNECTION_ID() and SHOW PROCESSLIST's translation need to find a session
 * of any worker (src/core/registry.c). */
#ifndef MX_REGISTRY_H
#define MX_REGISTRY_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct mx_proxy;

/* Registry of client connection ids (for KILL and CONNECTION_ID()). */
struct mx_reg_entry {
    uint32_t id;               /* 0 = empty */
    int worker;
    char user[96];             /* login name (MariaDB allows 80 characters) */
    char backend_user[96];     /* the user its backend connections log in as */
    char host[64];             /* the client's address without port (KILL USER name@host) */
    atomic_int server;         /* backend server of the attached connection, -1 none */
    atomic_uint backend_tid;   /* its thread id on that server */
    atomic_int busy;           /* a command is running */
    atomic_ullong kill_until_ms; /* a KILL QUERY for backend_tid is on its way until then
                                    (mx_now_ms): the session keeps that connection */
};

int registry_init(struct mx_proxy *px, size_t cap);
/* A new client connection id: cfg->instance_id in the high 8 bits (so that
 * instances behind one load balancer hand out disjoint ids, as TiDB's global
 * connection ids carry their server id), a counter in the low 24 that skips 0
 * and, once it has wrapped, the ids still registered. */
uint32_t registry_next_id(struct mx_proxy *px);
/* e is owned by the caller (a session) and must stay valid until registry_remove. */
int registry_add(struct mx_proxy *px, struct mx_reg_entry *e);
void registry_remove(struct mx_proxy *px, struct mx_reg_entry *e);
/* Copies the entry for id into *out; returns 0 or -1 when unknown. */
int registry_get(struct mx_proxy *px, uint32_t id, struct mx_reg_entry *out);
/* registry_get after marking the entry's kill_until_ms (a KILL QUERY is about to
 * be sent to its backend thread): what the copy says of busy and backend_tid
 * was read after the mark, so a session whose statement ends later sees it. */
int registry_mark_kill(struct mx_proxy *px, uint32_t id, uint64_t until_ms,
                       struct mx_reg_entry *out);
/* The session of mymux user `user` whose attached connection to server is backend
 * thread tid (what SHOW PROCESSLIST shows); 0 and *out, or -1. A scan: KILL only. */
/* Copies into out (at most max) the entries of sessions logged in as user, from
 * host when host is not empty; returns how many there are in all. */
size_t registry_find_user(struct mx_proxy *px, const char *user, const char *host,
                          struct mx_reg_entry *out, size_t max);
int registry_find_backend_thread(struct mx_proxy *px, int server, uint32_t tid, const char *user,
                                 struct mx_reg_entry *out);

#endif
