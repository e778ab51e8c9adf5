/* mymux: command line, start-up (config, backend probe, workers) and signals. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netdb.h>
#include <openssl/crypto.h>
#include <yaml.h>
#include <zlib.h>
#include <zstd.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <limits.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "admin/admin.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/control.h"
#include "core/log.h"
#include "core/notify.h"
#include "core/probe.h"
#include "core/reload.h"
#include "core/status_http.h"
#include "core/tls.h"
#include "core/upgrade.h"
#include "core/proxy.h"
#include "core/registry.h"
#include "core/worker.h"
#include "protocol/auth.h"
#include "protocol/handshake.h"

/* Exit status when the listening address belongs to another process. */
#define MX_EXIT_ADDR_IN_USE 3

static struct mx_proxy px;
static int signals_seen;
static uv_timer_t exit_poll;
static uv_timer_t accept_grace;
static uv_timer_t watchdog;
static uint64_t watchdog_ms;
/* SIGUSR2's upgrade: the binary's path as it was at start (a package upgrade
 * puts the new one there) and the command line to run it with */
static char exe_path[PATH_MAX];
static char **exe_argv;
static uv_process_t successor;
static bool successor_running;

/* systemd's watchdog: WATCHDOG=1 at half its interval, only while the main
 * loop runs (this timer) and every worker's loop has ticked within that half
 * (at least 500 ms): a worker stuck in a callback stops the pings, and systemd
 * restarts mymux. */
static void on_watchdog(uv_timer_t *t)
{
    (void)t;
    uint64_t now = mx_now_ms();
    for (int i = 0; i < px.n_workers; i++) {
        struct mx_worker *w = &px.workers[i];
        if (atomic_load(&w->done)) continue; /* ended during a drain: not stuck */
        /* its tick is every 100 ms: half a short interval would be too strict */
        uint64_t limit = watchdog_ms / 2 > 500 ? watchdog_ms / 2 : 500;
        if (now - atomic_load(&w->tick_ms) > limit) {
            log_warn("watchdog", "worker=%d msg=\"its loop has not run for %llu ms; no ping\"",
                     i, (unsigned long long)(now - atomic_load(&w->tick_ms)));
            return;
        }
    }
    notify_send("WATCHDOG=1");
}

/* --check-config, beyond what loading checks: what only this machine can
 * tell. The listen address must be one of its own (a bind to port 0 there
 * works); a backend host name that does not resolve is a warning (DNS may
 * know it by the time mymux starts). Prints each finding with file:line:col;
 * returns the number of errors. */
static int check_machine(const struct mx_config *cfg, const char *path)
{
    int errors = 0;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE}, *res = NULL;
    int gai = getaddrinfo(cfg->listen_host, "0", &hints, &res);
    if (gai != 0) {
        fprintf(stderr, "mymux: %s:%d:%d: listen: cannot resolve '%s': %s\n", path,
                cfg->listen_line, cfg->listen_col, cfg->listen_host, gai_strerror(gai));
        errors++;
    } else {
        int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && bind(fd, res->ai_addr, res->ai_addrlen) != 0 && errno == EADDRNOTAVAIL) {
            fprintf(stderr, "mymux: %s:%d:%d: listen: %s is not an address of this machine\n",
                    path, cfg->listen_line, cfg->listen_col, cfg->listen_host);
            errors++;
        }
        if (fd >= 0) close(fd);
        freeaddrinfo(res);
    }
    for (size_t i = 0; i < cfg->n_backends; i++) {
        const struct mx_backend_cfg *b = &cfg->backends[i];
        struct addrinfo h2 = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *r2 = NULL;
        gai = getaddrinfo(b->host, NULL, &h2, &r2);
        if (gai != 0)
            fprintf(stderr, "mymux: %s:%d:%d: warning: backend %s: cannot resolve '%s': %s\n",
                    path, b->addr_line, b->addr_col, b->name, b->host, gai_strerror(gai));
        else
            freeaddrinfo(r2);
    }
    return errors;
}

/* RLIMIT_NOFILE's soft limit up to the hard one (a soft 1024 is common and
 * thousands of clients need more); both are logged. Returns the soft limit in
 * force, or 0 when it cannot be read. */
static int raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
    rlim_t was = rl.rlim_cur;
    if (rl.rlim_cur != rl.rlim_max) {
        struct rlimit want = {.rlim_cur = rl.rlim_max, .rlim_max = rl.rlim_max};
        /* an unlimited hard limit still stops at the kernel's fs.nr_open */
        if (setrlimit(RLIMIT_NOFILE, &want) != 0 && rl.rlim_max == RLIM_INFINITY) {
            want.rlim_cur = 1048576;
            if (want.rlim_cur > was) (void)setrlimit(RLIMIT_NOFILE, &want);
        }
        if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
    }
    log_info("fd_limit", "soft=%llu hard=%llu was=%llu", (unsigned long long)rl.rlim_cur,
             (unsigned long long)rl.rlim_max, (unsigned long long)was);
    return rl.rlim_cur > INT_MAX ? INT_MAX : (int)rl.rlim_cur;
}

/* Descriptors open now (listeners, loops, log, admin), for the client budget. */
static int count_open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d) return 64; /* a guess that errs on the safe side */
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n - 1; /* the directory's own descriptor */
}

static void print_version(void)
{
    printf("mymux %s\n", MYMUX_VERSION);
    printf("  build: %s%s\n", MYMUX_BUILD_TYPE,
           MYMUX_SANITIZED ? ", AddressSanitizer + UndefinedBehaviorSanitizer" : "");
    printf("  libuv %s, %s, libyaml %s, zlib %s, zstd %s, libmicrohttpd %s, jansson %s\n",
           uv_version_string(), OpenSSL_version(OPENSSL_VERSION), yaml_get_version_string(),
           zlibVersion(), ZSTD_versionString(), MHD_get_version(), JANSSON_VERSION);
    /* sd-daemon has no version call: the one built against */
    printf("  libsystemd %s (built against)\n", MYMUX_LIBSYSTEMD_VERSION);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mymux -c FILE            run in the foreground, log to stderr\n"
            "       mymux --check-config -c FILE   validate the configuration and exit\n"
            "       mymux --version\n");
}

/* During a graceful shutdown: the main loop ends once every worker has. */
static void on_exit_poll(uv_timer_t *t)
{
    for (int i = 0; i < px.n_workers; i++)
        if (!atomic_load(&px.workers[i].done)) return;
    uv_stop(t->loop);
}

/* Stop accepting, let sessions finish, exit when the last one is gone. */
static void start_drain(void)
{
    for (int i = 0; i < px.n_workers; i++) worker_drain(&px.workers[i]);
    uv_timer_start(&exit_poll, on_exit_poll, 50, 50);
}

static void on_accept_grace_end(uv_timer_t *t)
{
    (void)t;
    log_info("accept_grace_end", "msg=\"closing the listeners\"");
    start_drain();
}

/* After a binary upgrade's handover: the new process accepts now. No
 * STOPPING=1: under systemd the service goes on, in the new process, which
 * says MAINPID= with its READY=1. */
static void handed_over(void)
{
    if (atomic_exchange(&px.stopping, 1)) return;
    notify_send("STATUS=handed over to a new process; draining");
    upgrade_stop();
    start_drain();
}

static void on_successor_exit(uv_process_t *p, int64_t status, int term_signal)
{
    successor_running = false;
    if (!atomic_load(&px.stopping)) { /* it never took the listeners: this one serves on */
        log_error("upgrade_failed", "pid=%d status=%lld signal=%d msg=\"the new process exited "
                  "before taking the listeners over; this one goes on\"", p->pid,
                  (long long)status, term_signal);
        notify_send("READY=1\nSTATUS=upgrade failed; serving");
    }
    uv_close((uv_handle_t *)p, NULL);
}

/* SIGUSR2: the binary upgrade started from inside, which is how it works
 * under systemd. The binary now at this one's path runs as a child, with the
 * same command line, in the unit's cgroup; it takes every listener over
 * through shutdown.upgrade_socket as any successor, and its READY=1 carries
 * MAINPID= (NotifyAccess=all), so systemd follows it when this one exits.
 * The watchdog is its job from then on: WATCHDOG_PID, which names this
 * process, is not passed on. */
static void upgrade_exec(void)
{
    if (!px.cfg->upgrade_socket) {
        log_error("upgrade_failed", "msg=\"SIGUSR2 starts a binary upgrade, which needs "
                  "shutdown.upgrade_socket\"");
        return;
    }
    if (successor_running || atomic_load(&px.stopping)) {
        log_warn("upgrade_failed", "msg=\"an upgrade or a shutdown is already under way\"");
        return;
    }
    extern char **environ;
    size_t n = 0;
    while (environ[n]) n++;
    char **env = calloc(n + 1, sizeof *env);
    if (!env) return;
    for (size_t i = 0, k = 0; i < n; i++)
        if (strncmp(environ[i], "WATCHDOG_PID=", 13) != 0) env[k++] = environ[i];
    uv_stdio_container_t stdio[3] = {{.flags = UV_INHERIT_FD, .data.fd = 0},
                                     {.flags = UV_INHERIT_FD, .data.fd = 1},
                                     {.flags = UV_INHERIT_FD, .data.fd = 2}};
    uv_process_options_t o = {.exit_cb = on_successor_exit, .file = exe_path, .args = exe_argv,
                              .env = env, .stdio_count = 3, .stdio = stdio};
    notify_send("RELOADING=1\nSTATUS=starting the new binary");
    int rc = uv_spawn(uv_default_loop(), &successor, &o);
    free(env);
    if (rc != 0) {
        log_error("upgrade_failed", "binary=\"%s\" err=\"%s\"", exe_path, uv_strerror(rc));
        notify_send("READY=1\nSTATUS=upgrade failed; serving");
        return;
    }
    successor_running = true;
    uv_unref((uv_handle_t *)&successor); /* the child must not keep this loop alive */
    log_info("upgrade_exec", "pid=%d binary=\"%s\"", successor.pid, exe_path);
}

/* SIGTERM/SIGINT: the health endpoint says 503 at once; the listeners stay
 * open for shutdown.accept_grace, so that a load balancer that has not yet
 * seen the 503 sends no client into a refused connection, then the drain. */
static void begin_graceful_shutdown(void)
{
    if (atomic_exchange(&px.stopping, 1)) return;
    upgrade_stop();
    if (px.cfg->accept_grace_ms > 0) {
        uv_timer_start(&accept_grace, on_accept_grace_end, (uint64_t)px.cfg->accept_grace_ms, 0);
        return;
    }
    start_drain();
}

static void on_signal(uv_signal_t *h, int signum)
{
    (void)h;
    if (signum == SIGUSR2) {
        upgrade_exec();
        return;
    }
    if (signum == SIGUSR1) {
        /* logrotate moved the file: open the configured name again (a reload
         * through the API may have changed it) */
        int rc = log_open(px.cfg->log_file);
        if (rc != 0)
            log_error("log_reopen_failed",
                      "file=\"%s\" err=\"%s\" msg=\"lines go to the old file\"",
                      px.cfg->log_file, uv_strerror(rc));
        else
            log_info("log_reopened", "file=\"%s\"", px.cfg->log_file ? px.cfg->log_file : "");
        return;
    }
    if (signum == SIGHUP) {
        char err[512];
        notify_send("RELOADING=1");
        if (reload_config(&px, err, sizeof err) != 0) {
            log_error("reload_failed", "error=\"%s\" msg=\"the old configuration stays\"", err);
            notify_send("READY=1\nSTATUS=reload failed, the old configuration stays");
            return;
        }
        notify_send("READY=1\nSTATUS=serving");
        /* the file named now (maybe another), opened again as after SIGUSR1 */
        int rc = log_open(px.cfg->log_file);
        if (rc != 0)
            log_error("log_reopen_failed",
                      "file=\"%s\" err=\"%s\" msg=\"lines go to the old file\"",
                      px.cfg->log_file, uv_strerror(rc));
        return;
    }
    if (++signals_seen > 1) {
        log_info("shutdown", "signal=%d mode=immediate", signum);
        _exit(1);
    }
    log_info("shutdown", "signal=%d mode=graceful grace_ms=%d accept_grace_ms=%d", signum,
             px.cfg->shutdown_grace_ms, px.cfg->accept_grace_ms);
    notify_send("STOPPING=1\nSTATUS=draining");
    begin_graceful_shutdown();
}

int main(int argc, char **argv)
{
    const char *path = NULL;
    bool check = false;
    static const struct option opts[] = {{"config", required_argument, 0, 'c'},
                                         {"check-config", no_argument, 0, 'k'},
                                         {"version", no_argument, 0, 'v'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int o;
    while ((o = getopt_long(argc, argv, "c:hv", opts, NULL)) != -1) {
        switch (o) {
        case 'c': path = optarg; break;
        case 'k': check = true; break;
        case 'v': print_version(); return 0;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "mymux: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    if (!path) {
        usage(stderr);
        return 2;
    }
    /* until the loop's handlers are installed, a logrotate SIGUSR1 or an early
     * SIGHUP must not kill a process that is starting */
    signal(SIGUSR1, SIG_IGN);
    signal(SIGUSR2, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    ssize_t el = readlink("/proc/self/exe", exe_path, sizeof exe_path - 1);
    if (el > 0 && (size_t)el < sizeof exe_path - 1)
        exe_path[el] = 0;
    else
        snprintf(exe_path, sizeof exe_path, "%s", argv[0]);
    exe_argv = argv;
    if (log_init() != 0) {
        fprintf(stderr, "mymux: cannot duplicate stderr for the log\n");
        return 1;
    }
    static char err[16384]; /* every error of the file, one per line */
    struct mx_config *cfg;
    if (config_load(path, &cfg, err, sizeof err) != 0) {
        /* one line per error, each "mymux: file:line:col: message" */
        for (char *line = err, *next; line && *line; line = next) {
            next = strchr(line, '\n');
            if (next) *next++ = 0;
            fprintf(stderr, "mymux: %s\n", line);
        }
        return 1;
    }
    if (check) {
        int errors = check_machine(cfg, path);
        config_free(cfg);
        if (errors) return 1;
        printf("mymux: %s: configuration OK\n", path);
        return 0;
    }
    if (cfg->log_level) log_set_level(cfg->log_level);
    if (cfg->log_file) {
        int rc = log_open(cfg->log_file);
        if (rc != 0) {
            fprintf(stderr, "mymux: log.file %s: %s\n", cfg->log_file, uv_strerror(rc));
            return 1;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    int fd_limit = raise_fd_limit();
    if (auth_rsa_init() != 0) {
        log_error("startup", "msg=\"cannot generate the RSA key\"");
        return 1;
    }

    px.cfg = cfg;
    px.servers = calloc(MX_MAX_SERVERS, sizeof *px.servers);
    if (!px.servers) {
        log_error("startup", "msg=\"out of memory\"");
        return 1;
    }
    for (int i = 0; i < MX_MAX_SERVERS; i++) pthread_mutex_init(&px.servers[i].check_lock, NULL);
    if (cfg->n_backends > MX_MAX_SERVERS) {
        fprintf(stderr, "mymux: at most %d backends\n", MX_MAX_SERVERS);
        return 1;
    }
    atomic_store(&px.next_conn_id, 1);
    px.default_charset = 45; /* utf8mb4_general_ci */
    for (size_t i = 0; i < cfg->n_backends; i++) {
        atomic_store(&px.servers[i].state, cfg->backends[i].maintenance ? SRV_MAINT : SRV_UP);
        atomic_store(&px.servers[i].check_ok, -1);
    }
    px.ustats = calloc(MX_MAX_USER_STATS, sizeof *px.ustats);
    if (registry_init(&px, (size_t)cfg->max_client_connections) != 0) return 1;
    if (tls_reload(&px) != 0 && cfg->tls_cert) {
        log_error("startup", "msg=\"the TLS certificate or key does not load (see tls_reload)\"");
        return 1;
    }
    for (size_t i = 0; i < cfg->n_users; i++) ustats_for(&px, cfg->users[i].name);
    px.started_ms = mx_now_ms();
    probe_backends(&px);
    if (cfg->server_version) snprintf(px.server_version, sizeof px.server_version, "%s", cfg->server_version);

    px.n_workers = cfg->workers > 0 ? cfg->workers : 1;
    px.workers = calloc((size_t)px.n_workers, sizeof *px.workers);
    if (!px.workers) {
        log_error("startup", "msg=\"out of memory\"");
        return 1;
    }
    struct mx_inherited inh = {.n_sql = 0, .health_fd = -1, .admin_fd = -1};
    if (cfg->upgrade_socket) upgrade_receive(cfg->upgrade_socket, &inh);
    char listen_addr[300];
    snprintf(listen_addr, sizeof listen_addr, strchr(cfg->listen_host, ':') ? "[%s]:%d" : "%s:%d",
             cfg->listen_host, cfg->listen_port);
    if (inh.n_sql > 0 && !upgrade_fd_is(inh.sql[0], listen_addr)) {
        log_warn("upgrade", "listen=%s msg=\"the inherited SQL listeners have another address; "
                 "binding the configured one\"", listen_addr);
        for (int i = 0; i < inh.n_sql; i++) close(inh.sql[i]);
        inh.n_sql = 0;
    }
    for (int i = inh.n_sql - 1; i >= px.n_workers; i--) {
        /* more listeners than workers: their queues could not be served */
        log_warn("upgrade", "msg=\"closing an inherited listener: fewer workers than before\"");
        close(inh.sql[i]);
    }
    if (inh.n_sql == 0) {
        /* SO_REUSEPORT would let this process join another's listener and take
         * half of its clients: only a process taking the sockets over may */
        int rc = worker_listen_probe(cfg);
        if (rc == UV_EADDRINUSE) {
            log_error("listen_failed",
                      "listen=%s err=\"address already in use\" msg=\"another process listens "
                      "on this address; stop it, or take its sockets over with "
                      "shutdown.upgrade_socket\"", listen_addr);
            _exit(MX_EXIT_ADDR_IN_USE);
        }
    }
    for (int i = 0; i < px.n_workers; i++) {
        int rc = worker_start(&px.workers[i], &px, i, i < inh.n_sql ? inh.sql[i] : -1);
        if (rc < 0) {
            log_error("listen_failed", "listen=%s err=%s", listen_addr, uv_strerror(rc));
            _exit(1);
        }
    }
    if (control_start(&px) < 0) _exit(1);
    log_info("started", "version=%s listen=%s:%d workers=%d backends=%zu server_version=\"%s\"",
             MYMUX_VERSION, cfg->listen_host, cfg->listen_port, px.n_workers, cfg->n_backends,
             px.server_version);

    if (admin_start(&px, inh.admin_fd) != 0) _exit(1);

    uv_loop_t *loop = uv_default_loop();
    uv_timer_init(loop, &exit_poll);
    uv_timer_init(loop, &accept_grace);
    if (status_http_start(loop, &px, inh.health_fd) != 0) _exit(1);
    if (upgrade_listen(loop, &px, handed_over) != 0) _exit(1);
    uv_signal_t sig_term, sig_int, sig_hup, sig_usr1, sig_usr2;
    uv_signal_init(loop, &sig_term);
    uv_signal_init(loop, &sig_int);
    uv_signal_init(loop, &sig_hup);
    uv_signal_init(loop, &sig_usr1);
    uv_signal_init(loop, &sig_usr2);
    uv_signal_start(&sig_term, on_signal, SIGTERM);
    uv_signal_start(&sig_int, on_signal, SIGINT);
    uv_signal_start(&sig_hup, on_signal, SIGHUP);
    uv_signal_start(&sig_usr1, on_signal, SIGUSR1);
    uv_signal_start(&sig_usr2, on_signal, SIGUSR2);
    /* every listener is up (health and admin too): systemd may order the
     * units that need mymux after this */
    char ready[64];
    snprintf(ready, sizeof ready, "READY=1\nMAINPID=%ld\nSTATUS=serving", (long)getpid());
    if (notify_send(ready) < 0) log_warn("notify_failed", "msg=\"cannot reach NOTIFY_SOCKET\"");
    uv_timer_init(loop, &watchdog);
    watchdog_ms = notify_watchdog_ms();
    if (watchdog_ms >= 2) {
        for (int i = 0; i < px.n_workers; i++) atomic_store(&px.workers[i].tick_ms, mx_now_ms());
        uv_timer_start(&watchdog, on_watchdog, watchdog_ms / 2, watchdog_ms / 2);
    }
    /* from here clients are refused before they touch the descriptors kept
     * for backends and health checks (worker_fd_room) */
    atomic_store(&px.fd_base, count_open_fds() - atomic_load(&px.client_fds));
    atomic_store(&px.fd_limit, fd_limit);
    if (fd_limit > 0) {
        int base = atomic_load(&px.fd_base);
        int reserve = worker_fd_reserve(cfg, px.servers), room = fd_limit - base - reserve;
        if (room < (fd_limit - base) / 2)
            log_warn("fd_limit", "soft=%d at_start=%d reserve=%d msg=\"the reserve for backend "
                     "connections does not fit; clients get half of what is left\"", fd_limit,
                     base, reserve);
        else
            log_info("fd_budget", "limit=%d at_start=%d reserve=%d clients=%d", fd_limit,
                     base, reserve, room);
    }
    uv_run(loop, UV_RUN_DEFAULT);

    control_stop();
    admin_stop();
    for (int i = 0; i < px.n_workers; i++) worker_join(&px.workers[i]);
    uv_close((uv_handle_t *)&sig_term, NULL);
    uv_close((uv_handle_t *)&sig_int, NULL);
    uv_close((uv_handle_t *)&sig_hup, NULL);
    uv_close((uv_handle_t *)&sig_usr1, NULL);
    uv_close((uv_handle_t *)&sig_usr2, NULL);
    /* the new process lives on; only the handle goes */
    if (successor_running) uv_close((uv_handle_t *)&successor, NULL);
    uv_close((uv_handle_t *)&exit_poll, NULL);
    uv_close((uv_handle_t *)&accept_grace, NULL);
    uv_close((uv_handle_t *)&watchdog, NULL);
    status_http_stop();
    upgrade_stop();
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    free(px.workers);
    free(px.servers);
    free(px.ustats);
    free(px.reg);
    auth_rsa_cleanup();
    tls_cleanup();
    for (int i = 0; i < px.n_old_cfgs; i++) config_free(px.old_cfgs[i]);
    config_free(px.cfg);
    log_info("stopped", "msg=bye");
    log_close();
    return 0;
}
