/* Inside the admin side: requests and replies passed between the HTTP layer
 * (http.c) and the handlers (api.c, page.c, metrics.c), and the rates that the
 * sampler in admin.c computes once a second. */
#ifndef MX_ADMIN_INT_H
#define MX_ADMIN_INT_H

#include <jansson.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

struct mx_proxy;

struct adm_request {
    const char *method;  /* "GET", "POST", ... */
    const char *url;     /* path, without the query string */
    const char *body;    /* request body (POST), NUL-terminated; may be "" */
    size_t body_len;
    void *conn;          /* struct MHD_Connection *, for adm_arg */
    const char *form_value; /* "value" of a form body (the page's weight form), or NULL */
};

struct adm_reply {
    int status;
    const char *ctype;   /* static string */
    char *body;          /* malloc'd; owned by the reply */
    size_t len;
    const char *allow;   /* Allow header for 405 (static), or NULL */
    const char *location; /* Location header (static), or NULL */
};

/* A query-string argument, or NULL. */
const char *adm_arg(const struct adm_request *q, const char *name);

/* Fill a reply. adm_reply_json takes the reference to j. */
void adm_reply_json(struct adm_reply *r, int status, json_t *j);
void adm_reply_error(struct adm_reply *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void adm_reply_take(struct adm_reply *r, int status, const char *ctype, char *body, size_t len);

/* Rates from the 1-second sampler (0 until two samples exist). */
struct adm_rates {
    double qps, bytes_in_ps, bytes_out_ps;
    double srv_qps[256];   /* by backend index (the first 256) */
    double user_qps[256];  /* by user index */
};
void adm_rates_get(struct adm_rates *out);

/* api.c: the JSON documents (new references; NULL on out of memory). The
 * page renders these same documents, so it shows what the API says. */
json_t *api_status(struct mx_proxy *px);
json_t *api_backends(struct mx_proxy *px);
json_t *api_pools(struct mx_proxy *px);
json_t *api_sessions(struct mx_proxy *px);
json_t *api_users(struct mx_proxy *px);
json_t *api_digests(struct mx_proxy *px, long top);
/* Handles /api/... (any method). */
void api_handle(struct mx_proxy *px, const struct adm_request *q, struct adm_reply *r);

/* page.c: GET / */
void page_handle(struct mx_proxy *px, const struct adm_request *q, struct adm_reply *r);
/* metrics.c: GET /metrics */
void metrics_handle(struct mx_proxy *px, const struct adm_request *q, struct adm_reply *r);

/* The per-process token that the page's forms carry (hex, NUL-terminated):
 * a state-changing request from a browser must present it (http.c). */
const char *adm_csrf_token(void);

/* http.c */
int http_start(struct mx_proxy *px, int inherited_fd);
void http_stop(void);
int http_listen_fd(void);
void http_quiesce(void);

/* Names shared by the API, the page and the metrics. */
const char *adm_state_name(int state);     /* enum mx_srv_state */
const char *adm_pin_name(int bit);         /* bit of cls_pin / SESS_PIN_*, NULL if unused */
const char *adm_sess_state_name(int state);/* enum sess_state */
const char *adm_command_name(int cmd);     /* COM_* byte */

#endif
