/* Admin HTTP listener: libmicrohttpd on its own thread, basic auth, optional
 * TLS, request bodies, and dispatch to the page, the metrics and the API. */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#include "admin/admin_int.h"
#include "core/log.h"
#include "core/upgrade.h"
#include "core/proxy.h"
#include "core/config.h"

#define HTTP_BODY_MAX (64 * 1024)
/* Bounds on clients that open connections and say little or nothing: each
 * one holds a slot until it sends a byte at least every HTTP_IDLE_S seconds,
 * and one address holds at most HTTP_PER_IP of the HTTP_CONNS slots, so a
 * flood of half-open requests from one host cannot lock out another. */
#define HTTP_CONNS 256u
#define HTTP_PER_IP 16u
#define HTTP_IDLE_S 10u

static struct MHD_Daemon *http_daemon;
static MHD_socket quiesced_fd = MHD_INVALID_SOCKET; /* given back by MHD_quiesce_daemon */
static char *http_cert, *http_key; /* PEM contents; MHD keeps pointers to them */
static char http_csrf[33];         /* 16 random bytes in hex, made at start */

/* Body of one request, gathered across MHD's calls. */
struct http_body {
    char *data;
    size_t len;
    bool too_big;
};

const char *adm_csrf_token(void)
{
    return http_csrf;
}

/* Copies the URL-decoded value of field `name` of an
 * application/x-www-form-urlencoded body into out; false when absent or
 * longer than out. */
static bool http_form_field(const char *body, const char *name, char *out, size_t outlen)
{
    size_t nl = strlen(name);
    for (const char *p = body; p && *p; p = strchr(p, '&'), p = p ? p + 1 : NULL) {
        if (strncmp(p, name, nl) != 0 || p[nl] != '=') continue;
        size_t n = 0;
        for (const char *v = p + nl + 1; *v && *v != '&'; v++) {
            if (n + 1 >= outlen) return false;
            unsigned hi, lo;
            if (*v == '+') {
                out[n++] = ' ';
            } else if (*v == '%' && sscanf(v + 1, "%1x%1x", &hi, &lo) == 2) {
                out[n++] = (char)(hi << 4 | lo);
                v += 2;
            } else {
                out[n++] = *v;
            }
        }
        out[n] = 0;
        return true;
    }
    return false;
}

const char *adm_arg(const struct adm_request *q, const char *name)
{
    return MHD_lookup_connection_value((struct MHD_Connection *)q->conn, MHD_GET_ARGUMENT_KIND,
                                       name);
}

void adm_reply_take(struct adm_reply *r, int status, const char *ctype, char *body, size_t len)
{
    free(r->body);
    r->status = status;
    r->ctype = ctype;
    r->body = body;
    r->len = len;
}

void adm_reply_json(struct adm_reply *r, int status, json_t *j)
{
    /* 15 significant digits: every double prints as the shortest decimal a
     * person would write for it (3.513, not 3.5129999999999999) */
    char *s = j ? json_dumps(j, JSON_INDENT(1) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15))
                : NULL;
    json_decref(j);
    if (!s) {
        static const char oom[] = "{\"error\": \"out of memory\"}";
        adm_reply_take(r, 500, "application/json", strdup(oom), sizeof oom - 1);
        return;
    }
    adm_reply_take(r, status, "application/json", s, strlen(s));
}

void adm_reply_error(struct adm_reply *r, int status, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    adm_reply_json(r, status, json_pack("{s:s, s:i}", "error", msg, "status", status));
}

static bool http_authorized(struct mx_proxy *px, struct MHD_Connection *c)
{
    const struct mx_config *cfg = px->cfg;
    if (!cfg->admin_user) return true;
    char *pass = NULL;
    char *user = MHD_basic_auth_get_username_password(c, &pass);
    bool ok = false;
    if (user && pass) {
        size_t ul = strlen(user), pl = strlen(pass);
        ok = ul == strlen(cfg->admin_user) && pl == strlen(cfg->admin_password) &&
             CRYPTO_memcmp(user, cfg->admin_user, ul) == 0 &&
             CRYPTO_memcmp(pass, cfg->admin_password, pl) == 0;
    }
    if (pass) {
        OPENSSL_cleanse(pass, strlen(pass));
        MHD_free(pass);
    }
    if (user) MHD_free(user);
    return ok;
}

/* The Host header names this listener: an IP literal (what a rebinding
 * attack cannot put there, since it needs a name it controls), localhost, or
 * one of admin.allowed_hosts; a port, if any, is digits. A request without
 * Host (HTTP/1.0) does not come from a browser and is let through. */
static bool http_host_ok(const struct mx_config *cfg, const char *host)
{
    if (!host) return true;
    char name[256];
    const char *port;
    size_t n;
    if (host[0] == '[') {
        const char *end = strchr(host, ']');
        if (!end) return false;
        n = (size_t)(end - host - 1);
        port = end + 1;
        if (n >= sizeof name) return false;
        memcpy(name, host + 1, n);
        name[n] = 0;
        struct in6_addr a6;
        if (inet_pton(AF_INET6, name, &a6) != 1) return false;
    } else {
        const char *colon = strchr(host, ':');
        n = colon ? (size_t)(colon - host) : strlen(host);
        port = host + n;
        if (n == 0 || n >= sizeof name) return false;
        memcpy(name, host, n);
        name[n] = 0;
    }
    if (*port) {
        if (*port++ != ':' || !*port || strlen(port) > 5) return false;
        for (const char *p = port; *p; p++)
            if (*p < '0' || *p > '9') return false;
    }
    if (host[0] == '[') return true;
    struct in_addr a4;
    if (inet_pton(AF_INET, name, &a4) == 1 || strcasecmp(name, "localhost") == 0) return true;
    for (char **h = cfg->admin_allowed_hosts; h && *h; h++)
        if (strcasecmp(name, *h) == 0) return true;
    return false;
}

/* A request that changes something comes from this listener's own pages, or
 * from a client that is no browser: a browser says where a request comes from
 * in Sec-Fetch-Site and Origin (every cross-origin POST carries Origin), and
 * anything but our own origin is refused, so a page elsewhere cannot drive
 * the API with the operator's credentials. Returns NULL or the reason. */
static const char *http_cross_site(struct MHD_Connection *c, bool tls, const char *host)
{
    const char *site = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Sec-Fetch-Site");
    if (site && strcasecmp(site, "same-origin") != 0 && strcasecmp(site, "none") != 0)
        return "Sec-Fetch-Site is not same-origin";
    const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
    if (!origin) return NULL;
    const char *scheme = tls ? "https://" : "http://";
    size_t sl = strlen(scheme);
    if (!host || strncasecmp(origin, scheme, sl) != 0 || strcasecmp(origin + sl, host) != 0)
        return "Origin is not this listener";
    return NULL;
}

static enum MHD_Result http_send(struct MHD_Connection *c, struct adm_reply *r)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(r->len, r->body, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(r->body);
        return MHD_NO;
    }
    r->body = NULL;
    MHD_add_response_header(resp, "Content-Type", r->ctype ? r->ctype : "text/plain");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    if (r->allow) MHD_add_response_header(resp, "Allow", r->allow);
    if (r->location) MHD_add_response_header(resp, "Location", r->location);
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result http_on_request(void *cls, struct MHD_Connection *c, const char *url,
                                       const char *method, const char *version,
                                       const char *upload, size_t *upload_size, void **con_cls)
{
    struct mx_proxy *px = cls;
    struct http_body *b = *con_cls;
    if (!b) { /* first call: headers only */
        b = calloc(1, sizeof *b);
        if (!b) return MHD_NO;
        *con_cls = b;
        return MHD_YES;
    }
    if (*upload_size) {
        if (!b->too_big && b->len + *upload_size <= HTTP_BODY_MAX) {
            char *d = realloc(b->data, b->len + *upload_size + 1);
            if (d) {
                memcpy(d + b->len, upload, *upload_size);
                b->len += *upload_size;
                d[b->len] = 0;
                b->data = d;
            } else {
                b->too_big = true;
            }
        } else {
            b->too_big = true;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    struct adm_reply r = {0};
    const struct mx_config *cfg = px->cfg;
    const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
    bool safe = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    const char *why = !http_host_ok(cfg, host) ? "Host is not an address of this listener"
                      : safe                   ? NULL
                                               : http_cross_site(c, http_cert != NULL, host);
    if (why) {
        log_warn("admin_refused", "method=%s url=%s reason=\"%s\"", method, url, why);
        adm_reply_error(&r, 403, "refused: %s", why);
        return http_send(c, &r);
    }
    if (!http_authorized(px, c)) {
        static const char denied[] = "{\"error\": \"authentication required\", \"status\": 401}";
        struct MHD_Response *resp = MHD_create_response_from_buffer(
            sizeof denied - 1, (void *)denied, MHD_RESPMEM_PERSISTENT);
        if (!resp) return MHD_NO;
        MHD_add_response_header(resp, "Content-Type", "application/json");
        enum MHD_Result ret = MHD_queue_basic_auth_fail_response(c, "mymux admin", resp);
        MHD_destroy_response(resp);
        return ret;
    }
    struct adm_request q = {method, url, b->data ? b->data : "", b->len, c, NULL};
    /* A state-changing request from a browser carries the token of this
     * process's page, in the form's csrf field or in X-CSRF-Token. A browser
     * is what says where a request comes from (Origin, Sec-Fetch-Site) or
     * names itself Mozilla/ (all do; a page cannot change it), so browsers
     * too old to send Origin on a form are covered; curl and scripts need no
     * token. Origin and Host were checked above. */
    const char *ctype = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    const char *ua = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "User-Agent");
    bool urlencoded = ctype && strncasecmp(ctype, "application/x-www-form-urlencoded", 33) == 0;
    char token[sizeof http_csrf + 1], value[32];
    bool page_form = false; /* the page's own form, token and all */
    if (!safe && ((ua && strncmp(ua, "Mozilla/", 8) == 0) ||
                  MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin") ||
                  MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Sec-Fetch-Site"))) {
        const char *t = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-CSRF-Token");
        if (!t && urlencoded && !b->too_big && http_form_field(q.body, "csrf", token, sizeof token))
            t = token;
        if (!t || strlen(t) != strlen(http_csrf) ||
            CRYPTO_memcmp(t, http_csrf, strlen(http_csrf)) != 0) {
            log_warn("admin_refused", "method=%s url=%s reason=\"%s\"", method, url,
                     t ? "wrong CSRF token" : "no CSRF token");
            adm_reply_error(&r, 403, "refused: %s (reload the page)",
                            t ? "wrong CSRF token" : "no CSRF token");
            return http_send(c, &r);
        }
        page_form = urlencoded;
        if (urlencoded && http_form_field(q.body, "value", value, sizeof value))
            q.form_value = value;
    }
    if (b->too_big) {
        adm_reply_error(&r, 413, "request body over %d bytes", HTTP_BODY_MAX);
    } else if (strcmp(url, "/") == 0 || strcmp(url, "/index.html") == 0) {
        if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
            adm_reply_error(&r, 405, "%s / is not allowed", method);
            r.allow = "GET, HEAD";
        } else {
            page_handle(px, &q, &r);
        }
    } else if (strcmp(url, "/metrics") == 0) {
        if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
            adm_reply_error(&r, 405, "%s /metrics is not allowed", method);
            r.allow = "GET, HEAD";
        } else {
            metrics_handle(px, &q, &r);
        }
    } else if (strncmp(url, "/api/", 5) == 0 || strcmp(url, "/api") == 0) {
        api_handle(px, &q, &r);
    } else {
        adm_reply_error(&r, 404, "no such page: %s", url);
    }
    if (!r.body) adm_reply_error(&r, 500, "no reply");
    /* the page's forms: after the action, back to the page (an error stays
     * on screen, as JSON, with its reason) */
    if (page_form && r.status >= 200 && r.status < 300) {
        char *done = strdup("done\n");
        if (done) {
            adm_reply_take(&r, 303, "text/plain", done, 5);
            r.location = "/";
        }
    }
    log_debug("admin_request", "method=%s url=%s status=%d", method, url, r.status);
    return http_send(c, &r);
}

static void http_on_done(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct http_body *b = *con_cls;
    if (b) {
        free(b->data);
        free(b);
    }
    *con_cls = NULL;
}

static char *http_read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *s = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            char *t = realloc(s, cap);
            if (!t) {
                free(s);
                fclose(f);
                return NULL;
            }
            s = t;
        }
        size_t got = fread(s + n, 1, 4096, f);
        n += got;
        if (got == 0) break;
    }
    fclose(f);
    s[n] = 0;
    return s;
}

/* libmicrohttpd's own messages (bind failures, protocol errors) as mymux log
 * lines, escaped like any other value, instead of raw lines on stderr. */
static void http_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r' || msg[n - 1] == ' ')) msg[--n] = 0;
    log_warn("admin_http", "msg=\"%s\"", msg);
}

/* Splits "host:port" / "[v6]:port" into a socket address. */
static int http_parse_listen(const char *listen, struct sockaddr_storage *ss, bool *v6)
{
    char host[256];
    const char *colon = strrchr(listen, ':');
    if (!colon || colon == listen) return -1;
    size_t hl = (size_t)(colon - listen);
    const char *h = listen;
    if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    if (hl >= sizeof host) return -1;
    memcpy(host, h, hl);
    host[hl] = 0;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE}, *res = NULL;
    if (getaddrinfo(hl ? host : NULL, colon + 1, &hints, &res) != 0 || !res) return -1;
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *v6 = res->ai_family == AF_INET6;
    freeaddrinfo(res);
    return 0;
}

int http_start(struct mx_proxy *px, int inherited_fd)
{
    const struct mx_config *cfg = px->cfg;
    struct sockaddr_storage ss;
    bool v6 = false;
    unsigned char rnd[16];
    if (RAND_bytes(rnd, sizeof rnd) != 1) {
        log_error("admin_failed", "msg=\"no random bytes for the CSRF token\"");
        return -1;
    }
    for (size_t i = 0; i < sizeof rnd; i++) snprintf(http_csrf + 2 * i, 3, "%02x", rnd[i]);
    if (inherited_fd >= 0 && !upgrade_fd_is(inherited_fd, cfg->admin_listen)) {
        log_warn("upgrade", "listen=%s msg=\"the inherited admin socket has another address; "
                 "binding the configured one\"", cfg->admin_listen);
        close(inherited_fd);
        inherited_fd = -1;
    }
    if (http_parse_listen(cfg->admin_listen, &ss, &v6) != 0) {
        log_error("admin_failed", "listen=%s msg=\"cannot resolve the admin address\"",
                  cfg->admin_listen);
        return -1;
    }
    /* MHD_USE_ITC: MHD_quiesce_daemon needs it to take the socket out of the
     * polling thread (binary upgrade) */
    unsigned flags =
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG | MHD_USE_ITC;
    if (v6) flags |= MHD_USE_IPv6;
    bool tls = cfg->admin_tls_cert && cfg->admin_tls_key;
    if (tls) {
        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
            log_error("admin_failed", "msg=\"admin TLS asked but libmicrohttpd has no TLS\"");
            return -1;
        }
        http_cert = http_read_file(cfg->admin_tls_cert);
        http_key = http_read_file(cfg->admin_tls_key);
        if (!http_cert || !http_key) {
            log_error("admin_failed", "msg=\"cannot read the admin TLS certificate or key\"");
            goto fail;
        }
        flags |= MHD_USE_TLS;
    }
    /* an inherited socket is already bound and listening; MHD takes it as is */
    struct MHD_OptionItem where[2] = {
        inherited_fd >= 0
            ? (struct MHD_OptionItem){MHD_OPTION_LISTEN_SOCKET, inherited_fd, NULL}
            : (struct MHD_OptionItem){MHD_OPTION_SOCK_ADDR, 0, &ss},
        {MHD_OPTION_END, 0, NULL}};
    http_daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, http_on_request, px,
        /* first, or MHD prints the messages of the options before it itself */
        MHD_OPTION_EXTERNAL_LOGGER, http_log, NULL, MHD_OPTION_ARRAY, where,
        MHD_OPTION_NOTIFY_COMPLETED, http_on_done, NULL, MHD_OPTION_CONNECTION_LIMIT, HTTP_CONNS,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, HTTP_PER_IP, MHD_OPTION_CONNECTION_TIMEOUT, HTTP_IDLE_S,
        tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, http_cert,
        MHD_OPTION_HTTPS_MEM_KEY, http_key, MHD_OPTION_END);
    if (!http_daemon) {
        log_error("admin_failed", "listen=%s msg=\"cannot start the admin listener\"",
                  cfg->admin_listen);
        goto fail;
    }
    log_info("admin_listen", "listen=%s tls=%d auth=%d inherited=%d", cfg->admin_listen,
             tls ? 1 : 0, cfg->admin_user ? 1 : 0, inherited_fd >= 0 ? 1 : 0);
    return 0;
fail:
    free(http_cert);
    free(http_key);
    http_cert = http_key = NULL;
    return -1;
}

int http_listen_fd(void)
{
    if (!http_daemon) return -1;
    const union MHD_DaemonInfo *i = MHD_get_daemon_info(http_daemon, MHD_DAEMON_INFO_LISTEN_FD);
    return i ? i->listen_fd : -1;
}

void http_quiesce(void)
{
    if (!http_daemon) return;
    /* MHD gives the socket back and no longer accepts on it; the polling thread
     * may still hold it until MHD_stop_daemon, which then leaves it alone, so
     * it is closed only after that (http_stop). */
    quiesced_fd = MHD_quiesce_daemon(http_daemon);
}

void http_stop(void)
{
    if (http_daemon) {
        MHD_stop_daemon(http_daemon);
        http_daemon = NULL;
    }
    if (quiesced_fd != MHD_INVALID_SOCKET) {
        close(quiesced_fd);
        quiesced_fd = MHD_INVALID_SOCKET;
    }
    if (http_key) OPENSSL_cleanse(http_key, strlen(http_key));
    free(http_cert);
    free(http_key);
    http_cert = http_key = NULL;
}
