/* Worker threads: each runs its own loop with its own SO_REUSEPORT listener,
 * sessions and pools; other threads reach it only through its uv_async_t. */
#include "core/proxy.h"
#include "core/config.h"
#include "core/snapshot.h"
#include "core/worker.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/guard.h"
#include "core/log.h"
#include "session/session.h"
#include "pool/cap.h"
#include "pool/pool.h"
#include "router/balance.h"
#include "protocol/packet.h"

static void on_connection(uv_stream_t *server, int status)
{
    struct mx_worker *w = server->data;
    if (status < 0) {
        log_warn("accept_error", "worker=%d err=%s", w->id, uv_strerror(status));
        return;
    }
    if (atomic_load(&w->stopping)) return;
    session_accept(w, server);
}

static void close_walk_cb(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h)) uv_close(h, NULL);
}

/* Copies what the admin side may see of each session (on the worker's thread). */
static void fill_snapshot(struct mx_worker *w)
{
    uint64_t now_us = mx_now_us(), now = now_us / 1000;
    int n = 0;
    for (struct mx_session *s = w->sessions; s && n < w->snap_max; s = s->next) {
        struct mx_session_info *i = &w->snap_out[n++];
        memset(i, 0, sizeof *i);
        i->id = s->id;
        snprintf(i->user, sizeof i->user, "%.63s", s->reg ? s->reg->user : s->cred.user);
        snprintf(i->peer, sizeof i->peer, "%s", s->peer);
        snprintf(i->schema, sizeof i->schema, "%.63s", s->schema);
        i->server = s->be ? s->be->pool->server : -1;
        i->has_backend = s->be != NULL;
        i->pins = s->pins | (s->soft_pin ? SESS_SOFT_PINS : 0);
        i->in_trans = (s->status & SERVER_STATUS_IN_TRANS) != 0;
        i->state = s->state;
        i->cmd = s->cmd;
        bool busy = session_state_busy((enum sess_state)s->state);
        i->cmd_ms = busy ? (now_us - s->cmd_started_us) / 1000 : 0;
        i->age_ms = now - s->started_ms;
    }
    w->snap_n = n;
}

int worker_snapshot_sessions(struct mx_worker *w, struct mx_session_info *out, int max)
{
    int n = -1;
    pthread_mutex_lock(&w->msg_lock);
    while (w->snap_want) { /* one request at a time */
        pthread_mutex_unlock(&w->msg_lock);
        usleep(1000);
        pthread_mutex_lock(&w->msg_lock);
    }
    w->snap_out = out;
    w->snap_max = max;
    w->snap_want = true;
    w->snap_done = false;
    uv_async_send(&w->wake);
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 1;
    while (!w->snap_done) {
        if (pthread_cond_timedwait(&w->snap_cond, &w->msg_lock, &dl) != 0) break;
    }
    if (w->snap_done) n = w->snap_n;
    w->snap_want = false;
    w->snap_out = NULL;
    pthread_mutex_unlock(&w->msg_lock);
    return n;
}

/* Tells w that the KILL its session `requester` asked for is done. A full queue
 * drops the message: the requester answers on its own timer then. */
static void post_kill_done(struct mx_worker *w, uint32_t requester)
{
    pthread_mutex_lock(&w->msg_lock);
    if (w->n_done < (int)(sizeof w->kills_done / sizeof w->kills_done[0]))
        w->kills_done[w->n_done++] = requester;
    pthread_mutex_unlock(&w->msg_lock);
    uv_async_send(&w->wake);
}

void worker_kill_now(struct mx_worker *w, uint32_t victim)
{
    for (struct mx_session *s = w->sessions; s; s = s->next) {
        if (s->id == victim) {
            log_info("killed", "conn_id=%u", s->id);
            if (s->be && s->state != SS_IDLE) s->be->broken = true;
            session_close(s, "killed");
            return;
        }
    }
}

static void on_wake(uv_async_t *a)
{
    struct mx_worker *w = a->data;
    struct mx_kill_msg kills[64];
    uint32_t done[64];
    int n, n_done;
    pthread_mutex_lock(&w->msg_lock);
    n = w->n_kill;
    memcpy(kills, w->kills, (size_t)n * sizeof kills[0]);
    w->n_kill = 0;
    n_done = w->n_done;
    memcpy(done, w->kills_done, (size_t)n_done * sizeof done[0]);
    w->n_done = 0;
    if (w->snap_want && !w->snap_done && w->snap_out) {
        fill_snapshot(w);
        w->snap_done = true;
        pthread_cond_signal(&w->snap_cond);
    }
    pthread_mutex_unlock(&w->msg_lock);
    for (int i = 0; i < n; i++) {
        worker_kill_now(w, kills[i].victim);
        if (kills[i].reply_to >= 0) post_kill_done(&w->px->workers[kills[i].reply_to], kills[i].requester);
    }
    for (int i = 0; i < n_done; i++) {
        for (struct mx_session *s = w->sessions; s; s = s->next) {
            if (s->id == done[i]) {
                session_kill_done(s);
                break;
            }
        }
    }
    if (atomic_load(&w->draining) == 1) {
        atomic_store(&w->draining, 2);
        w->drain_since_ms = mx_now_ms();
        if (!uv_is_closing((uv_handle_t *)&w->listener))
            uv_close((uv_handle_t *)&w->listener, NULL);
        log_info("draining", "worker=%d sessions=%zu", w->id, w->n_sessions);
    }
    if (atomic_load(&w->stopping) == 1) {
        atomic_store(&w->stopping, 2);
        if (!uv_is_closing((uv_handle_t *)&w->listener))
            uv_close((uv_handle_t *)&w->listener, NULL);
        while (w->sessions) session_close(w->sessions, "shutdown");
        for (size_t i = 0; i < w->px->cfg->n_backends; i++) pool_shutdown(&w->pools[i]);
        uv_timer_stop(&w->tick);
        uv_close((uv_handle_t *)&w->tick, NULL);
        uv_close((uv_handle_t *)&w->guard_timer, NULL);
        uv_close((uv_handle_t *)&w->wake, NULL);
    }
}

/* Graceful shutdown, step by step (called by the tick). */
static void drain_tick(struct mx_worker *w, uint64_t now)
{
    uint64_t grace = (uint64_t)w->px->cfg->shutdown_grace_ms;
    if (!w->shutting_down && now - w->drain_since_ms >= grace) {
        w->shutting_down = true;
        /* idle sessions outside a transaction have nothing to finish */
        for (struct mx_session *s = w->sessions, *n; s; s = n) {
            n = s->next;
            if (s->state == SS_IDLE && !(s->status & SERVER_STATUS_IN_TRANS)) {
                s->close_after_write = true;
                s->seq = 0; /* read as the answer to the client's next command */
                session_reply_err(s, 1053, "08S01", "Server shutdown in progress");
                if (s->state != SS_CLOSING && !s->sock.writing) session_close(s, "shutdown");
            }
        }
    }
    if (now - w->drain_since_ms >= 2 * grace)
        while (w->sessions) session_close(w->sessions, "shutdown_deadline");
    if (!w->sessions) worker_stop(w);
}

static void on_tick(uv_timer_t *t)
{
    struct mx_worker *w = t->data;
    uint64_t now = mx_now_ms();
    atomic_store(&w->tick_ms, now);
    for (size_t i = 0; i < w->px->cfg->n_backends; i++) pool_tick(&w->pools[i], now);
    guard_tick(w);
    size_t freed = bufpool_trim(&w->bufs, now);
    if (freed)
        log_info("buffers_trimmed", "worker=%d freed=%zu kept=%zu out=%zu", w->id, freed,
                 w->bufs.n_free, w->bufs.n_out);
    if (atomic_load(&w->draining) == 2 && !atomic_load(&w->stopping)) drain_tick(w, now);
}

static void worker_main(void *arg)
{
    struct mx_worker *w = arg;
    uv_run(&w->loop, UV_RUN_DEFAULT);
    uv_walk(&w->loop, close_walk_cb, NULL);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    atomic_store(&w->done, 1);
}

/* libuv 1.44 has no SO_REUSEPORT flag: make the socket, bind, then adopt it. */
static int open_listener(struct mx_worker *w, const struct mx_config *cfg)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    if (uv_ip4_addr(cfg->listen_host, cfg->listen_port, (struct sockaddr_in *)&ss) != 0 &&
        uv_ip6_addr(cfg->listen_host, cfg->listen_port, (struct sockaddr_in6 *)&ss) != 0)
        return UV_EINVAL;
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return -errno;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    socklen_t sl = ss.ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
    if (bind(fd, (struct sockaddr *)&ss, sl) != 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    uv_tcp_init(&w->loop, &w->listener);
    w->listener.data = w;
    int rc = uv_tcp_open(&w->listener, fd);
    if (rc == 0) rc = uv_listen((uv_stream_t *)&w->listener, 4096, on_connection);
    return rc;
}

int worker_listen_probe(const struct mx_config *cfg)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    if (uv_ip4_addr(cfg->listen_host, cfg->listen_port, (struct sockaddr_in *)&ss) != 0 &&
        uv_ip6_addr(cfg->listen_host, cfg->listen_port, (struct sockaddr_in6 *)&ss) != 0)
        return UV_EINVAL;
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    /* SO_REUSEADDR but not SO_REUSEPORT: connections in TIME_WAIT do not
     * count, a listening socket does, whoever owns it */
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    socklen_t sl =
        ss.ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
    int rc = bind(fd, (struct sockaddr *)&ss, sl) == 0 ? 0 : -errno;
    close(fd);
    return rc;
}

int worker_fd_reserve(const struct mx_config *cfg, const struct mx_server *servers)
{
    int reserve = 32; /* admin connections come and go, the resolver, a log reopen */
    for (size_t i = 0; i < cfg->n_backends; i++) {
        reserve += pool_server_cap(cfg, servers ? &servers[i] : NULL, i) +
                   1; /* + its health check in flight */
    }
    return reserve;
}

bool worker_fd_room(const struct mx_proxy *px, int clients)
{
    int limit = atomic_load(&px->fd_limit); /* set last, once the base is known */
    if (limit <= 0) return true;
    int usable = limit - atomic_load(&px->fd_base);
    int room = usable - worker_fd_reserve(px->cfg, px->servers);
    /* a limit too small for the reserve (main.c warns): clients get half */
    if (room < usable / 2) room = usable / 2;
    return clients <= room;
}

int worker_start(struct mx_worker *w, struct mx_proxy *px, int id, int listen_fd)
{
    const struct mx_config *cfg = px->cfg;
    w->id = id;
    w->px = px;
    uv_loop_init(&w->loop);
    bufpool_init(&w->bufs, 4096);
    pcache_init(&w->pcache, 4096);
    pthread_mutex_init(&w->msg_lock, NULL);
    pthread_cond_init(&w->snap_cond, NULL);
    w->pools = calloc(MX_MAX_SERVERS, sizeof *w->pools); /* reloads may add servers */
    if (!w->pools) return UV_ENOMEM;
    /* a block of its own, aligned, so that no other worker's data shares its lines */
    size_t hot_size = (sizeof *w->hot + 63) & ~(size_t)63;
    w->hot = aligned_alloc(64, hot_size);
    if (!w->hot) return UV_ENOMEM;
    memset(w->hot, 0, hot_size);
    w->pool_home = (struct mx_pool_home){.px = px, .worker = w, .worker_id = id,
                                         .stopping = &w->stopping, .pcache = &w->pcache,
                                         .pools = w->pools, .owner = &session_owner_ops};
    for (size_t i = 0; i < MX_MAX_SERVERS; i++) pool_init(&w->pools[i], &w->pool_home, (int)i);
    w->balance = balance_new(px, id);
    if (!w->balance) return UV_ENOMEM;
    int rc;
    if (listen_fd >= 0) { /* handed over by the process we replace: same accept queue */
        uv_tcp_init(&w->loop, &w->listener);
        w->listener.data = w;
        rc = uv_tcp_open(&w->listener, listen_fd);
        if (rc == 0) rc = uv_listen((uv_stream_t *)&w->listener, 4096, on_connection);
    } else {
        rc = open_listener(w, cfg);
    }
    if (rc < 0) return rc;
    uv_async_init(&w->loop, &w->wake, on_wake);
    w->wake.data = w;
    uv_timer_init(&w->loop, &w->tick);
    w->tick.data = w;
    uv_timer_init(&w->loop, &w->guard_timer);
    w->guard_timer.data = w;
    uv_idle_init(&w->loop, &w->spin);
    w->spin.data = w;
    uv_timer_start(&w->tick, on_tick, 100, 100);
    return uv_thread_create(&w->thread, worker_main, w);
}

void worker_drain(struct mx_worker *w)
{
    int expected = 0;
    if (atomic_compare_exchange_strong(&w->draining, &expected, 1)) uv_async_send(&w->wake);
}

void worker_stop(struct mx_worker *w)
{
    int expected = 0;
    if (atomic_compare_exchange_strong(&w->stopping, &expected, 1)) uv_async_send(&w->wake);
}

void worker_join(struct mx_worker *w)
{
    uv_thread_join(&w->thread);
    uv_loop_close(&w->loop);
    bufpool_destroy(&w->bufs);
    pcache_destroy(&w->pcache);
    free(w->pools);
    free(w->hot); /* the admin side, which sums it, has stopped before the workers */
    w->hot = NULL;
    balance_free(w->balance);
    w->balance = NULL;
}

/* While an idle handle is active libuv polls with a zero timeout: the thread
 * spins on epoll instead of sleeping, and an answer that arrives within the
 * spin costs no wake-up. */
static void on_spin(uv_idle_t *h)
{
    struct mx_worker *w = h->data;
    if (mx_now_us() < w->spin_until_us) return;
    uv_idle_stop(h);
    w->spinning = false;
}

void worker_busy_poll(struct mx_worker *w)
{
    int us = w->px->cfg->busy_poll_us;
    if (us <= 0) return;
    w->spin_until_us = mx_now_us() + (uint64_t)us;
    if (w->spinning) return;
    w->spinning = true;
    uv_idle_start(&w->spin, on_spin);
}

bool worker_post_kill(struct mx_worker *w, uint32_t victim, int reply_to, uint32_t requester)
{
    bool posted = false;
    pthread_mutex_lock(&w->msg_lock);
    if (w->n_kill < (int)(sizeof w->kills / sizeof w->kills[0])) {
        w->kills[w->n_kill++] = (struct mx_kill_msg){victim, reply_to, requester};
        posted = true;
    }
    pthread_mutex_unlock(&w->msg_lock);
    if (posted) uv_async_send(&w->wake);
    return posted;
}
