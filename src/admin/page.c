/* The HTML stats page: one self-refreshing page, no script, rendered from the
 * same JSON documents the API serves (so both always say the same). Cells
 * carry data-k="section.name.field" so tests and scrapers can find values;
 * those shown in units (bytes, durations) carry the exact integer in data-v.
 * Its actions (drain, enable, disable, recycle, weight, kill) are plain HTML forms that
 * POST to the API with this process's CSRF token; the API sends the browser
 * back here (http.c). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin_int.h"
#include "core/proxy.h"
#include "core/config.h"

static void h_esc(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fputc(*s, f);
        }
    }
}

/* The value of j as text: integers exactly, reals with one decimal. */
static void h_val(FILE *f, const json_t *j)
{
    if (json_is_integer(j)) {
        fprintf(f, "%lld", (long long)json_integer_value(j));
    } else if (json_is_real(j)) {
        fprintf(f, "%.1f", json_real_value(j));
    } else if (json_is_string(j)) {
        h_esc(f, json_string_value(j));
    } else if (json_is_true(j)) {
        fputs("yes", f);
    } else if (json_is_false(j)) {
        fputs("no", f);
    } else {
        fputs("-", f);
    }
}

/* Byte counts and durations the way an operator reads them (1.5 MiB,
 * 2d 03h), for fields whose names say they are such; the exact integer goes
 * to data-v. Returns false for anything else (printed by h_val). */
static bool h_human(FILE *f, const char *field, const json_t *v)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0) return false;
    unsigned long long n = (unsigned long long)json_integer_value(v);
    if (strncmp(field, "bytes", 5) == 0) {
        static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
        double d = (double)n;
        int u = 0;
        while (d >= 1024.0 && u < 5) {
            d /= 1024.0;
            u++;
        }
        if (u == 0)
            fprintf(f, "%llu B", n);
        else
            fprintf(f, "%.1f %s", d, unit[u]);
        return true;
    }
    if (strcmp(field, "uptime_s") == 0 || strcmp(field, "state_s") == 0) {
        unsigned long long dd = n / 86400, hh = n / 3600 % 24, mm = n / 60 % 60, ss = n % 60;
        if (dd)
            fprintf(f, "%llud %02lluh", dd, hh);
        else if (hh)
            fprintf(f, "%lluh %02llum", hh, mm);
        else if (mm)
            fprintf(f, "%llum %02llus", mm, ss);
        else
            fprintf(f, "%llus", ss);
        return true;
    }
    return false;
}

static void h_data_v(FILE *f, const char *field, const json_t *v)
{
    if (json_is_integer(v) && (strncmp(field, "bytes", 5) == 0 || strcmp(field, "uptime_s") == 0 ||
                               strcmp(field, "state_s") == 0))
        fprintf(f, " data-v=\"%lld\"", (long long)json_integer_value(v));
}

/* <td data-k="sec.key.field" class=cls>value</td> */
static void h_td(FILE *f, const char *sec, const char *key, const char *field, const json_t *v,
                 const char *cls)
{
    fputs("<td data-k=\"", f);
    h_esc(f, sec);
    fputc('.', f);
    h_esc(f, key);
    fputc('.', f);
    h_esc(f, field);
    fputc('"', f);
    h_data_v(f, field, v);
    if (cls) fprintf(f, " class=\"%s\"", cls);
    fputc('>', f);
    if (!h_human(f, field, v)) h_val(f, v);
    fputs("</td>", f);
}

/* Readable from 1024 px: headers wrap, long statements break, the summary
 * flows onto more lines; test_admin_page measures it in Chromium. */
static const char h_style[] =
    "body{font:13px/1.35 system-ui,sans-serif;margin:8px;color:#222;background:#fafafa}"
    "h1{font-size:18px;margin:0 0 4px}h2{font-size:15px;margin:16px 0 4px}"
    "table{border-collapse:collapse;background:#fff;max-width:100%}"
    "th,td{border:1px solid #ccc;padding:2px 5px;text-align:right;white-space:nowrap}"
    "th{background:#e8e8f0;white-space:normal;font-weight:600}td.l,th.l{text-align:left}"
    "td.up{background:#c8f0c8}td.down{background:#f4b8b8}td.draining{background:#f8e0a0}"
    "td.maint{background:#c8d8f8}td.bad{color:#b00;font-weight:bold}"
    "td.detail{white-space:normal;max-width:12em;overflow-wrap:anywhere}"
    ".sum{display:flex;flex-wrap:wrap;gap:4px 16px}.sum b{font-size:15px}"
    "td.sql{text-align:left;white-space:normal;max-width:32em;overflow-wrap:anywhere;"
    "font-family:monospace}"
    "td.acts{white-space:normal;min-width:12em}"
    "form.act{display:inline-block;margin:0 2px 1px 0}form.act input[name=value]{width:3em}"
    "button{font:inherit;padding:0 4px}"
    ".note{color:#666}";

/* <form> posting to action (with the CSRF token); `label` is the button. A
 * weight form also has the value field, filled with the current weight. */
static void h_form(FILE *f, const char *action, const char *label, const json_t *weight)
{
    fputs("<form class=act method=post action=\"", f);
    h_esc(f, action);
    fputs("\"><input type=hidden name=csrf value=\"", f);
    h_esc(f, adm_csrf_token());
    fputs("\">", f);
    if (weight)
        fprintf(f, "<input name=value inputmode=numeric aria-label=weight value=\"%lld\">",
                (long long)json_integer_value(weight));
    fputs("<button>", f);
    h_esc(f, label);
    fputs("</button></form>", f);
}

static void h_summary(FILE *f, json_t *st)
{
    static const struct { const char *k, *label; } items[] = {
        {"uptime_s", "uptime"},         {"config_generation", "config generation"},
        {"workers", "workers"},       {"sessions", "client sessions"},
        {"sessions_peak", "peak sessions"},
        {"qps", "queries/s"},         {"queries", "queries"},
        {"errors", "errors"},         {"accepted", "connections accepted"},
        {"refused", "refused"},       {"auth_failures", "auth failures"},
        {"bytes_in", "bytes in"},     {"bytes_out", "bytes out"},
    };
    fputs("<div class=sum>", f);
    for (size_t i = 0; i < sizeof items / sizeof items[0]; i++) {
        const json_t *v = json_object_get(st, items[i].k);
        fprintf(f, "<div>%s<br><b data-k=\"status.%s\"", items[i].label, items[i].k);
        h_data_v(f, items[i].k, v);
        fputc('>', f);
        if (!h_human(f, items[i].k, v)) h_val(f, v);
        fputs("</b></div>", f);
    }
    fputs("</div>\n", f);
    /* reasons in rows of PAGE_PINS_PER_ROW (names over counts), so that the
     * table fits 1024 px */
    enum { PAGE_PINS_PER_ROW = 9 };
    fputs("<h2>Pins by reason</h2><table>", f);
    json_t *pins = json_object_get(st, "pins");
    const char *names[64];
    json_t *vals[64];
    size_t n = 0;
    const char *k;
    json_t *v;
    json_object_foreach(pins, k, v) {
        if (n < 64) names[n] = k, vals[n++] = v;
    }
    for (size_t row = 0; row < n; row += PAGE_PINS_PER_ROW) {
        size_t end = row + PAGE_PINS_PER_ROW < n ? row + PAGE_PINS_PER_ROW : n;
        fputs("<tr>", f);
        for (size_t i = row; i < end; i++) {
            fputs("<th>", f);
            h_esc(f, names[i]);
            fputs("</th>", f);
        }
        fputs("</tr><tr>", f);
        for (size_t i = row; i < end; i++) h_td(f, "pins", "all", names[i], vals[i], NULL);
        fputs("</tr>", f);
    }
    fputs("</table>\n", f);
}

/* Two tables per backend, so that each fits 1024 px: its state, checks and
 * the operator's actions; then its connections and traffic. */
static void h_backends(FILE *f, json_t *bs)
{
    fputs("<h2>Backends</h2><table><tr><th class=l>name</th><th class=l>address</th>"
          "<th>state</th><th>for</th><th>state changes</th><th>weight</th><th>check</th>"
          "<th>check ms</th><th>changes by checks</th><th>failed checks</th>"
          "<th class=l>detail</th><th class=l>actions</th></tr>\n",
          f);
    size_t i;
    json_t *b;
    json_array_foreach(bs, i, b) {
        const char *name = json_string_value(json_object_get(b, "name"));
        json_t *st = json_object_get(b, "state"), *chk = json_object_get(b, "check");
        json_t *ok = json_object_get(chk, "ok");
        fputs("<tr>", f);
        h_td(f, "backends", name, "name", json_object_get(b, "name"), "l");
        h_td(f, "backends", name, "address", json_object_get(b, "address"), "l");
        h_td(f, "backends", name, "state", st, json_string_value(st));
        h_td(f, "backends", name, "state_s", json_object_get(b, "state_s"), NULL);
        h_td(f, "backends", name, "transitions", json_object_get(b, "transitions"), NULL);
        h_td(f, "backends", name, "weight", json_object_get(b, "weight"), NULL);
        json_t *oks = json_string(json_is_null(ok) ? "-" : json_is_true(ok) ? "ok" : "failed");
        h_td(f, "backends", name, "check", oks, json_is_false(ok) ? "bad" : NULL);
        json_decref(oks);
        h_td(f, "backends", name, "check_ms", json_object_get(chk, "latency_ms"), NULL);
        h_td(f, "backends", name, "check_transitions", json_object_get(chk, "transitions"), NULL);
        h_td(f, "backends", name, "checks_failed", json_object_get(chk, "failed"), NULL);
        h_td(f, "backends", name, "check_detail", json_object_get(chk, "detail"), "detail");
        fputs("<td class=\"l acts\">", f);
        static const char *const acts[] = {"drain", "enable", "disable", "recycle"};
        char action[300];
        for (size_t a = 0; a < sizeof acts / sizeof acts[0]; a++) {
            snprintf(action, sizeof action, "/api/backends/%s/%s", name ? name : "", acts[a]);
            h_form(f, action, acts[a], NULL);
        }
        snprintf(action, sizeof action, "/api/backends/%s/weight", name ? name : "");
        h_form(f, action, "set weight", json_object_get(b, "weight"));
        fputs("</td></tr>\n", f);
    }
    fputs("</table>\n", f);

    fputs("<h2>Backend connections and traffic</h2><table><tr><th class=l>name</th>"
          "<th>sessions</th><th>peak sessions</th><th>idle</th><th>busy</th><th>peak lent</th>"
          "<th>opening</th><th>open</th><th>peak open</th><th>max</th><th>queue</th>"
          "<th>waits</th><th>avg wait ms</th><th>qps</th><th>queries</th><th>errors</th>"
          "<th>bytes to</th><th>bytes from</th><th>resp ms</th></tr>\n",
          f);
    json_array_foreach(bs, i, b) {
        const char *name = json_string_value(json_object_get(b, "name"));
        json_t *cn = json_object_get(b, "connections");
        fputs("<tr>", f);
        h_td(f, "backends", name, "name", json_object_get(b, "name"), "l");
        h_td(f, "backends", name, "sessions", json_object_get(b, "sessions"), NULL);
        h_td(f, "backends", name, "sessions_peak", json_object_get(b, "sessions_peak"), NULL);
        h_td(f, "backends", name, "idle", json_object_get(cn, "idle"), NULL);
        h_td(f, "backends", name, "busy", json_object_get(cn, "busy"), NULL);
        h_td(f, "backends", name, "lent_peak", json_object_get(cn, "lent_peak"), NULL);
        h_td(f, "backends", name, "opening", json_object_get(cn, "opening"), NULL);
        h_td(f, "backends", name, "open", json_object_get(cn, "open"), NULL);
        h_td(f, "backends", name, "open_peak", json_object_get(cn, "open_peak"), NULL);
        h_td(f, "backends", name, "max", json_object_get(cn, "max"), NULL);
        h_td(f, "backends", name, "queue", json_object_get(b, "queue"), NULL);
        h_td(f, "backends", name, "waits", json_object_get(b, "waits"), NULL);
        h_td(f, "backends", name, "wait_ms_avg", json_object_get(b, "wait_ms_avg"), NULL);
        h_td(f, "backends", name, "qps", json_object_get(b, "qps"), NULL);
        h_td(f, "backends", name, "queries", json_object_get(b, "queries"), NULL);
        json_t *err = json_object_get(b, "errors");
        h_td(f, "backends", name, "errors", err, json_integer_value(err) ? "bad" : NULL);
        h_td(f, "backends", name, "bytes_to_backend", json_object_get(b, "bytes_to_backend"),
             NULL);
        h_td(f, "backends", name, "bytes_from_backend", json_object_get(b, "bytes_from_backend"),
             NULL);
        h_td(f, "backends", name, "response_ms", json_object_get(b, "response_ms"), NULL);
        fputs("</tr>\n", f);
    }
    fputs("</table>\n", f);
}

static void h_users(FILE *f, json_t *us)
{
    static const char *const cols[] = {"sessions", "connects", "auth_failures", "queries", "qps",
                                       "errors", "bytes_in", "bytes_out"};
    fputs("<h2>Users</h2><table><tr><th class=l>user</th>", f);
    for (size_t c = 0; c < sizeof cols / sizeof cols[0]; c++) fprintf(f, "<th>%s</th>", cols[c]);
    fputs("</tr>\n", f);
    size_t i;
    json_t *u;
    json_array_foreach(us, i, u) {
        const char *name = json_string_value(json_object_get(u, "name"));
        fputs("<tr>", f);
        h_td(f, "users", name, "name", json_object_get(u, "name"), "l");
        for (size_t c = 0; c < sizeof cols / sizeof cols[0]; c++)
            h_td(f, "users", name, cols[c], json_object_get(u, cols[c]), NULL);
        fputs("</tr>\n", f);
    }
    fputs("</table>\n", f);
}

static void h_sessions(FILE *f, json_t *ss)
{
    size_t n = json_array_size(ss), shown = n < 50 ? n : 50;
    fprintf(f, "<h2>Sessions <span class=note data-k=\"sessions.count\">%zu</span></h2>", n);
    if (!n) return;
    fputs("<table><tr><th>id</th><th class=l>user</th><th class=l>client</th>"
          "<th class=l>schema</th><th class=l>backend</th><th class=l>state</th>"
          "<th class=l>command</th><th>command ms</th><th class=l>pinned by</th><th>age s</th>"
          "<th class=l>action</th></tr>\n",
          f);
    for (size_t i = 0; i < shown; i++) {
        json_t *s = json_array_get(ss, i);
        char key[24];
        snprintf(key, sizeof key, "%lld", (long long)json_integer_value(json_object_get(s, "id")));
        fputs("<tr>", f);
        h_td(f, "sessions", key, "id", json_object_get(s, "id"), NULL);
        h_td(f, "sessions", key, "user", json_object_get(s, "user"), "l");
        h_td(f, "sessions", key, "client", json_object_get(s, "client"), "l");
        h_td(f, "sessions", key, "schema", json_object_get(s, "schema"), "l");
        h_td(f, "sessions", key, "backend", json_object_get(s, "backend"), "l");
        h_td(f, "sessions", key, "state", json_object_get(s, "state"), "l");
        h_td(f, "sessions", key, "command", json_object_get(s, "command"), "l");
        h_td(f, "sessions", key, "command_ms", json_object_get(s, "command_ms"), NULL);
        char pins[512] = "";
        size_t k;
        json_t *p;
        json_array_foreach(json_object_get(s, "pins"), k, p) {
            size_t l = strlen(pins);
            snprintf(pins + l, sizeof pins - l, "%s%s", l ? " " : "", json_string_value(p));
        }
        json_t *pj = json_string(pins[0] ? pins : "-");
        h_td(f, "sessions", key, "pins", pj, "l");
        json_decref(pj);
        json_t *age = json_integer(json_integer_value(json_object_get(s, "age_ms")) / 1000);
        h_td(f, "sessions", key, "age_s", age, NULL);
        json_decref(age);
        char action[64];
        snprintf(action, sizeof action, "/api/sessions/%s/kill", key);
        fputs("<td class=l>", f);
        h_form(f, action, "kill", NULL);
        fputs("</td></tr>\n", f);
    }
    fputs("</table>\n", f);
    if (shown < n) fprintf(f, "<p class=note>%zu more in /api/sessions</p>\n", n - shown);
}

static void h_digests(FILE *f, json_t *ds)
{
    fputs("<h2>Top queries by total time</h2>", f);
    if (!json_array_size(ds)) {
        fputs("<p class=note>none yet</p>\n", f);
        return;
    }
    fputs("<table><tr><th class=l>digest</th><th class=l>user</th><th class=l>schema</th>"
          "<th>count</th><th>total ms</th><th>avg ms</th><th>max ms</th><th>rows</th>"
          "<th>errors</th><th class=l>statement</th></tr>\n",
          f);
    size_t i;
    json_t *d;
    json_array_foreach(ds, i, d) {
        const char *key = json_string_value(json_object_get(d, "digest"));
        char k2[64];
        snprintf(k2, sizeof k2, "%s", key ? key : "?");
        fputs("<tr>", f);
        h_td(f, "digests", k2, "digest", json_object_get(d, "digest"), "l");
        h_td(f, "digests", k2, "user", json_object_get(d, "user"), "l");
        h_td(f, "digests", k2, "schema", json_object_get(d, "schema"), "l");
        h_td(f, "digests", k2, "count", json_object_get(d, "count"), NULL);
        h_td(f, "digests", k2, "total_ms", json_object_get(d, "total_ms"), NULL);
        h_td(f, "digests", k2, "avg_ms", json_object_get(d, "avg_ms"), NULL);
        h_td(f, "digests", k2, "max_ms", json_object_get(d, "max_ms"), NULL);
        h_td(f, "digests", k2, "rows", json_object_get(d, "rows"), NULL);
        h_td(f, "digests", k2, "errors", json_object_get(d, "errors"), NULL);
        h_td(f, "digests", k2, "text", json_object_get(d, "text"), "sql");
        fputs("</tr>\n", f);
    }
    fputs("</table>\n", f);
}

void page_handle(struct mx_proxy *px, const struct adm_request *q, struct adm_reply *r)
{
    long refresh = 2;
    const char *rs = adm_arg(q, "refresh");
    if (rs) refresh = strtol(rs, NULL, 10);
    json_t *st = api_status(px), *bs = api_backends(px), *us = api_users(px),
           *ss = api_sessions(px), *ds = api_digests(px, 20);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f || !st || !bs || !us || !ss || !ds) {
        if (f) fclose(f);
        free(buf);
        json_decref(st), json_decref(bs), json_decref(us), json_decref(ss), json_decref(ds);
        adm_reply_error(r, 500, "out of memory");
        return;
    }
    fputs("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">", f);
    if (refresh > 0) fprintf(f, "<meta http-equiv=\"refresh\" content=\"%ld\">", refresh);
    fprintf(f, "<title>mymux %s</title><style>%s</style></head><body>\n", MYMUX_VERSION, h_style);
    fprintf(f, "<h1>mymux <span data-k=\"status.version\">%s</span></h1>\n", MYMUX_VERSION);
    fputs("<p class=note>Refreshes every ", f);
    if (refresh > 0) fprintf(f, "%ld s", refresh);
    else fputs("(off)", f);
    fputs(" &middot; JSON: <a href=\"/api\">/api</a> &middot; Prometheus: "
          "<a href=\"/metrics\">/metrics</a></p>\n", f);
    h_summary(f, st);
    h_backends(f, bs);
    h_users(f, us);
    h_sessions(f, ss);
    h_digests(f, ds);
    fputs("</body></html>\n", f);
    json_decref(st), json_decref(bs), json_decref(us), json_decref(ss), json_decref(ds);
    if (fclose(f) != 0 || !buf) {
        free(buf);
        adm_reply_error(r, 500, "out of memory");
        return;
    }
    adm_reply_take(r, 200, "text/html; charset=utf-8", buf, len);
}
