/* Configuration loading: parses one YAML file into an immutable struct mx_config snapshot. */
#include "core/config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <yaml.h>

#define CONFIG_MAX_KEYS 24
#define CONFIG_MAX_WORKERS 1024
/* How much of a bad value an error message quotes back. */
#define CONFIG_ECHO "%.80s"

/* Accepted `balance` algorithms (HAProxy's names). The router gives them meaning;
 * checking here turns a typo into a load error instead of a surprise at run time. */
static const char *const config_balance_names[] = {
    "roundrobin", "static-rr", "leastconn", "first",        "random",
    "random(2)",  "source",    "user",      "leastlatency",
};

static const char *const config_log_levels[] = {"debug", "info", "warn", "error"};

/* State of one load: where errors go and what is being built. */
struct config_ctx {
    const char *name; /* file name used in messages */
    yaml_document_t *doc;
    struct mx_config *cfg;
    char *err;
    size_t errlen;
    int n_errors;     /* errors written to err so far, one per line */
    const yaml_node_t *admin_listen_node, *health_listen_node; /* for the same-address check */
};

/* ---- errors ---- */

static int config_error_at(struct config_ctx *c, size_t line, size_t col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Adds "NAME:LINE:COL: message" (LINE and COL 1-based) to the errors, one per
 * line in err (as many as fit), and returns -1. The parse goes on with the next
 * section or list item, so that one run reports every error it can. */
static int config_error_at(struct config_ctx *c, size_t line, size_t col, const char *fmt, ...)
{
    c->n_errors++;
    if (c->err == NULL || c->errlen == 0) return -1;
    size_t used = c->n_errors > 1 ? strlen(c->err) : 0;
    if (used + 2 >= c->errlen) return -1;
    char *at = c->err + used;
    size_t room = c->errlen - used;
    int n = snprintf(at, room, "%s%s:%zu:%zu: ", used ? "\n" : "", c->name, line, col);
    if (n >= 0 && (size_t)n < room) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(at + n, room - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* Error at a node's start, libyaml's marks being 0-based. */
#define config_error(c, node, ...)                                                                 \
    config_error_at((c), (node)->start_mark.line + 1, (node)->start_mark.column + 1, __VA_ARGS__)

static const char *config_node_kind(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_SCALAR_NODE:
        return "a scalar";
    case YAML_SEQUENCE_NODE:
        return "a sequence";
    case YAML_MAPPING_NODE:
        return "a mapping";
    default:
        return "nothing";
    }
}

/* ---- scalars ---- */

static const char *config_scalar(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

/* A plain (unquoted) null, ~ or empty value: YAML's null. Quoted strings never are. */
static bool config_is_null(const yaml_node_t *n)
{
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *s = config_scalar(n);
    return s[0] == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
           strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0;
}

/* Checks that N is a scalar with no embedded NUL (it would silently cut C strings). */
static int config_want_scalar(struct config_ctx *c, const yaml_node_t *n, const char *key)
{
    if (n->type != YAML_SCALAR_NODE)
        return config_error(c, n, "%s: expected a scalar, got %s", key, config_node_kind(n));
    if (strlen(config_scalar(n)) != n->data.scalar.length)
        return config_error(c, n, "%s: contains a NUL character", key);
    return 0;
}

static int config_strdup(struct config_ctx *c, const yaml_node_t *n, const char *s, char **dst)
{
    char *p = strdup(s);
    if (p == NULL) return config_error(c, n, "out of memory");
    free(*dst);
    *dst = p;
    return 0;
}

/* Optional string: null leaves *dst as it is (absent, or its default). */
static int config_get_opt_string(struct config_ctx *c, const yaml_node_t *n, const char *key,
                                 char **dst)
{
    if (config_want_scalar(c, n, key) < 0) return -1;
    if (config_is_null(n)) return 0;
    return config_strdup(c, n, config_scalar(n), dst);
}

/* Required non-empty string. */
static int config_get_string(struct config_ctx *c, const yaml_node_t *n, const char *key,
                             char **dst)
{
    if (config_want_scalar(c, n, key) < 0) return -1;
    if (config_is_null(n) || n->data.scalar.length == 0)
        return config_error(c, n, "%s: expected a non-empty string", key);
    return config_strdup(c, n, config_scalar(n), dst);
}

/* Parses a run of decimal digits into *v; returns the first byte after them, or
 * NULL when there are none or the value passes limit. */
static const char *config_digits(const char *s, uint64_t limit, uint64_t *v)
{
    uint64_t x = 0;
    const char *p = s;
    for (; *p >= '0' && *p <= '9'; p++) {
        x = x * 10 + (uint64_t)(*p - '0');
        if (x > limit) return NULL;
    }
    if (p == s) return NULL;
    *v = x;
    return p;
}

/* Integer in [min, max]; a null value keeps the default. */
static int config_get_int(struct config_ctx *c, const yaml_node_t *n, const char *key, int min,
                          int max, int *dst)
{
    if (config_want_scalar(c, n, key) < 0) return -1;
    if (config_is_null(n)) return 0;
    const char *s = config_scalar(n);
    uint64_t v;
    const char *end = config_digits(s, (uint64_t)INT_MAX + 1, &v);
    if (end == NULL && s[0] >= '0' && s[0] <= '9')
        return config_error(c, n,
                            "%s: expected an integer between %d and %d, got '" CONFIG_ECHO "'", key,
                            min, max, s);
    if (end == NULL || *end != '\0')
        return config_error(c, n, "%s: expected a %s integer, got '" CONFIG_ECHO "'", key,
                            min > 0 ? "positive" : "non-negative", s);
    if (v < (uint64_t)min || v > (uint64_t)max)
        return config_error(c, n,
                            "%s: expected an integer between %d and %d, got '" CONFIG_ECHO "'", key,
                            min, max, s);
    *dst = (int)v;
    return 0;
}

static int config_get_bool(struct config_ctx *c, const yaml_node_t *n, const char *key, bool *dst)
{
    static const char *const yes[] = {"true", "yes", "on"};
    static const char *const no[] = {"false", "no", "off"};
    if (config_want_scalar(c, n, key) < 0) return -1;
    if (config_is_null(n)) return 0;
    const char *s = config_scalar(n);
    for (size_t i = 0; i < 3; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *dst = true;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *dst = false;
            return 0;
        }
    }
    return config_error(c, n, "%s: expected true/false (or yes/no, on/off), got '" CONFIG_ECHO "'",
                        key, s);
}

struct config_unit {
    const char *name;
    uint64_t mult;
};

/* NUMBER [UNIT] with UNIT from UNITS (case-insensitive, optional space between);
 * the result must lie in [min, INT_MAX]. what names the kind in messages. */
static int config_get_scaled(struct config_ctx *c, const yaml_node_t *n, const char *key,
                             const struct config_unit *units, size_t nunits, const char *what,
                             int min, int *dst)
{
    if (config_want_scalar(c, n, key) < 0) return -1;
    if (config_is_null(n)) return 0;
    const char *s = config_scalar(n);
    uint64_t v;
    /* Digits beyond INT_MAX are too large whatever the unit; the limit also keeps
     * v * mult below 2^64. */
    const char *p = config_digits(s, INT_MAX, &v);
    if (p == NULL && s[0] >= '0' && s[0] <= '9') goto too_large;
    if (p == NULL) goto bad;
    while (*p == ' ')
        p++;
    for (size_t i = 0; i < nunits; i++) {
        if (strcasecmp(p, units[i].name) != 0) continue;
        v *= units[i].mult;
        if (v > INT_MAX) goto too_large;
        if (v < (uint64_t)min)
            return config_error(c, n, "%s: must be at least %d %s, got '" CONFIG_ECHO "'", key, min,
                                units[0].name, s);
        *dst = (int)v;
        return 0;
    }
    goto bad;
too_large:
    return config_error(c, n, "%s: too large (at most %d %s), got '" CONFIG_ECHO "'", key, INT_MAX,
                        units[0].name, s);
bad:
    return config_error(c, n, "%s: expected %s, got '" CONFIG_ECHO "'", key, what, s);
}

/* Durations: integer milliseconds, or with unit ms|s|m|h. */
static int config_get_duration(struct config_ctx *c, const yaml_node_t *n, const char *key, int min,
                               int *dst)
{
    static const struct config_unit units[] = {
        {"ms", 1}, {"", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000},
    };
    return config_get_scaled(c, n, key, units, sizeof units / sizeof units[0],
                             "a duration (milliseconds, or a number with unit ms, s, m or h)", min,
                             dst);
}

/* Short durations: integer microseconds, or a number with unit us or ms. */
static int config_get_micros(struct config_ctx *c, const yaml_node_t *n, const char *key, int min,
                             int *dst)
{
    static const struct config_unit units[] = {{"us", 1}, {"", 1}, {"ms", 1000}};
    return config_get_scaled(c, n, key, units, sizeof units / sizeof units[0],
                             "a duration (microseconds, or a number with unit us or ms)", min,
                             dst);
}

/* Sizes: integer bytes, or KiB|MiB|GiB, KB|MB|GB, k|m|g, all powers of 1024. */
static int config_get_size(struct config_ctx *c, const yaml_node_t *n, const char *key, int min,
                           int *dst)
{
    static const struct config_unit units[] = {
        {"bytes", 1},         {"", 1},        {"b", 1},           {"k", 1024},
        {"kb", 1024},         {"kib", 1024},  {"m", 1024 * 1024}, {"mb", 1024 * 1024},
        {"mib", 1024 * 1024}, {"g", 1 << 30}, {"gb", 1 << 30},    {"gib", 1 << 30},
    };
    return config_get_scaled(c, n, key, units, sizeof units / sizeof units[0],
                             "a size (bytes, or a number with unit KiB, MiB or GiB)", min, dst);
}

/* Writes "a, b, c" into BUF (truncated when it does not fit). */
static void config_join(char *buf, size_t len, const char *const *names, size_t n)
{
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && off < len; i++)
        off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? ", " : "", names[i]);
}

/* The edit distance between a and b (insertions, deletions, substitutions and
 * swaps of neighbours, case ignored), or a large number past 63 bytes. */
static size_t config_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63) return 1000;
    size_t d[64][64];
    for (size_t i = 0; i <= la; i++) d[i][0] = i;
    for (size_t j = 0; j <= lb; j++) d[0][j] = j;
    for (size_t i = 1; i <= la; i++) {
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
            size_t v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v) v = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < v) v = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) == tolower((unsigned char)b[j - 1]) &&
                d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    }
    return d[la][lb];
}

/* " (did you mean 'x'?)" for the one of NAMES nearest to s, when it is near
 * enough to be a typo (a third of its length, at most 3 edits) and no other is
 * as near (TLSv1.4 could be any of three); "" else. */
static const char *config_suggest(char *buf, size_t len, const char *s,
                                  const char *const *names, size_t n)
{
    size_t best = 1000, at = n, ls = strlen(s);
    bool tie = false;
    for (size_t i = 0; i < n; i++) {
        size_t dist = config_distance(s, names[i]);
        if (dist < best) {
            best = dist, at = i, tie = false;
        } else if (dist == best) {
            tie = true;
        }
    }
    size_t room = ls / 3 > 3 ? 3 : ls / 3 ? ls / 3 : 1;
    if (at == n || tie || best > room) return "";
    snprintf(buf, len, " (did you mean '%s'?)", names[at]);
    return buf;
}

/* One of NAMES: *idx gets its position; a null value keeps *idx. */
static int config_get_enum(struct config_ctx *c, const yaml_node_t *n, const char *key,
                           const char *const *names, size_t nnames, int *idx)
{
    if (config_want_scalar(c, n, key) < 0) return -1;
    if (config_is_null(n)) return 0;
    const char *s = config_scalar(n);
    for (size_t i = 0; i < nnames; i++) {
        if (strcmp(s, names[i]) == 0) {
            *idx = (int)i;
            return 0;
        }
    }
    char list[256], hint[96];
    config_join(list, sizeof list, names, nnames);
    return config_error(c, n, "%s: expected one of %s, got '" CONFIG_ECHO "'%s", key, list, s,
                        config_suggest(hint, sizeof hint, s, names, nnames));
}

/* One of NAMES; stores the canonical copy. */
static int config_get_choice(struct config_ctx *c, const yaml_node_t *n, const char *key,
                             const char *const *names, size_t nnames, char **dst)
{
    int i = -1;
    if (config_get_enum(c, n, key, names, nnames, &i) < 0) return -1;
    return i < 0 ? 0 : config_strdup(c, n, names[i], dst);
}

/* Splits "host:port" or "[v6]:port". Returns 0, or -1 with a message in err. */
static int config_split_hostport(const char *s, char **host, int *port, char *err, size_t errlen)
{
    const char *h = s, *hend, *p;
    if (s[0] == '[') {
        h = s + 1;
        hend = strchr(h, ']');
        if (hend == NULL || hend[1] != ':') goto bad;
        char v6[INET6_ADDRSTRLEN + 1];
        struct in6_addr a;
        size_t hl = (size_t)(hend - h);
        if (hl >= sizeof v6) goto bad;
        memcpy(v6, h, hl);
        v6[hl] = '\0';
        if (inet_pton(AF_INET6, v6, &a) != 1) {
            snprintf(err, errlen, "expected an IPv6 address in brackets");
            return -1;
        }
        p = hend + 2;
    } else {
        hend = strrchr(s, ':');
        if (hend == NULL) goto bad;
        if (memchr(s, ':', (size_t)(hend - s)) != NULL) {
            snprintf(err, errlen,
                     "expected host:port (IPv6 addresses go in brackets, as [::1]:6033)");
            return -1;
        }
        p = hend + 1;
    }
    if (hend == h) goto bad;
    for (const char *q = h; q < hend; q++)
        if (isspace((unsigned char)*q)) goto bad;
    if (s[0] != '[' && strspn(h, "0123456789.") == (size_t)(hend - h)) {
        /* digits and dots: an IPv4 address or nothing (no host name looks so) */
        char v4[INET_ADDRSTRLEN + 1];
        struct in_addr a;
        size_t hl = (size_t)(hend - h);
        if (hl >= sizeof v4) goto bad_v4;
        memcpy(v4, h, hl);
        v4[hl] = '\0';
        if (inet_pton(AF_INET, v4, &a) != 1) goto bad_v4;
    }
    uint64_t v;
    const char *pend = config_digits(p, 100000, &v);
    if (pend == NULL || *pend != '\0') goto bad;
    if (v < 1 || v > 65535) {
        snprintf(err, errlen, "port must be between 1 and 65535");
        return -1;
    }
    *host = strndup(h, (size_t)(hend - h));
    if (*host == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    *port = (int)v;
    return 0;
bad_v4:
    snprintf(err, errlen, "expected an IPv4 address (four numbers from 0 to 255)");
    return -1;
bad:
    snprintf(err, errlen, "expected host:port");
    return -1;
}

/* Required "host:port" into a fresh *host and *port. */
static int config_get_hostport(struct config_ctx *c, const yaml_node_t *n, const char *key,
                               char **host, int *port)
{
    if (config_want_scalar(c, n, key) < 0) return -1;
    const char *s = config_scalar(n);
    char why[96];
    char *h = NULL;
    if (config_is_null(n)) return config_error(c, n, "%s: expected host:port, got null", key);
    if (config_split_hostport(s, &h, port, why, sizeof why) < 0)
        return config_error(c, n, "%s: %s, got '" CONFIG_ECHO "'", key, why, s);
    free(*host);
    *host = h;
    return 0;
}

/* Optional "host:port" kept as the string given (the listener resolves it later). */
static int config_get_addr_string(struct config_ctx *c, const yaml_node_t *n, const char *key,
                                  char **dst)
{
    if (config_get_opt_string(c, n, key, dst) < 0) return -1;
    if (config_is_null(n)) return 0;
    char *h = NULL, why[96];
    int port;
    if (config_split_hostport(*dst, &h, &port, why, sizeof why) < 0)
        return config_error(c, n, "%s: %s, got '" CONFIG_ECHO "'", key, why, *dst);
    free(h);
    return 0;
}

/* Optional path of a file mymux must read (certificate, key, CA): checked now so a
 * typo fails the load instead of the first TLS handshake. */
static int config_get_file(struct config_ctx *c, const yaml_node_t *n, const char *key, char **dst)
{
    if (config_get_opt_string(c, n, key, dst) < 0) return -1;
    if (config_is_null(n)) return 0;
    if (access(*dst, R_OK) != 0)
        return config_error(c, n, "%s: cannot read '" CONFIG_ECHO "': %s", key, *dst,
                            strerror(errno));
    return 0;
}

/* Two settings that only make sense together (cert and key, user and password):
 * an error at whichever one is set alone. AN/BN are their value nodes. */
static int config_together(struct config_ctx *c, const yaml_node_t *an, const char *a,
                           const void *aval, const yaml_node_t *bn, const char *b, const void *bval)
{
    if (aval != NULL && bval == NULL)
        return config_error(c, an, "%s: given without %s (%s and %s go together)", a, b, a, b);
    if (bval != NULL && aval == NULL)
        return config_error(c, bn, "%s: given without %s (%s and %s go together)", b, a, a, b);
    return 0;
}

/* Two spellings of one setting (an old top-level key and its place in a section):
 * both present is an error at the later one. */
static int config_alias_conflict(struct config_ctx *c, const yaml_node_t *an, const char *a,
                                 const yaml_node_t *bn, const char *b)
{
    if (an == NULL || bn == NULL) return 0;
    if (an->start_mark.index > bn->start_mark.index) {
        const yaml_node_t *tn = an;
        const char *t = a;
        an = bn, a = b;
        bn = tn, b = t;
    }
    return config_error(c, bn, "%s: same setting as %s (line %zu); give only one of them", b, a,
                        an->start_mark.line + 1);
}

/* "a.b.c.d[/n]" or "v6[/n]" into a fresh "addr/n" (a bare address is one host).
 * Returns 0, or -1 with a message in err. */
static int config_split_cidr(const char *s, char **out, char *err, size_t errlen)
{
    const char *slash = strchr(s, '/');
    size_t alen = slash ? (size_t)(slash - s) : strlen(s);
    char addr[INET6_ADDRSTRLEN + 1];
    uint8_t bin[16];
    uint64_t bits, max;
    if (alen == 0 || alen >= sizeof addr) goto bad;
    memcpy(addr, s, alen);
    addr[alen] = '\0';
    if (inet_pton(AF_INET, addr, bin) == 1)
        max = 32;
    else if (inet_pton(AF_INET6, addr, bin) == 1)
        max = 128;
    else
        goto bad;
    bits = max;
    if (slash != NULL) {
        const char *end = config_digits(slash + 1, 1000, &bits);
        if (end == NULL && slash[1] >= '0' && slash[1] <= '9')
            bits = 1001;
        else if (end == NULL || *end != '\0')
            goto bad;
        if (bits > max) {
            snprintf(err, errlen, "prefix length must be between 0 and %d for %s", (int)max,
                     max == 32 ? "IPv4" : "IPv6");
            return -1;
        }
    }
    if (asprintf(out, "%s/%d", addr, (int)bits) < 0) {
        *out = NULL;
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
bad:
    snprintf(err, errlen,
             "expected an IPv4 or IPv6 address with an optional /prefix (as 10.0.0.0/8 or "
             "fd00::/8)");
    return -1;
}

/* ---- mappings ---- */

/* Reads mapping MAP whose allowed keys are KEYS[0..n): VALS[i] gets the value node
 * of KEYS[i] or NULL. Unknown and repeated keys are errors, recorded while the
 * known keys are still read (so that one run reports the errors of their
 * values too; config_load fails on any error); -1 only when MAP is no mapping.
 * WHERE ("in user", "at top level") and LABEL ("user") go into messages. */
static int config_fields(struct config_ctx *c, const yaml_node_t *map, const char *label,
                         const char *where, const char *const *keys, size_t n, yaml_node_t **vals)
{
    yaml_node_t *knodes[CONFIG_MAX_KEYS];
    memset(knodes, 0, sizeof knodes);
    if (n > CONFIG_MAX_KEYS)
        return config_error(c, map, "%s: too many keys (raise CONFIG_MAX_KEYS)", label);
    for (size_t i = 0; i < n; i++)
        vals[i] = NULL;
    if (map->type != YAML_MAPPING_NODE)
        return config_error(c, map, "%s: expected a mapping, got %s", label, config_node_kind(map));
    for (yaml_node_pair_t *pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top;
         pr++) {
        yaml_node_t *k = yaml_document_get_node(c->doc, pr->key);
        yaml_node_t *v = yaml_document_get_node(c->doc, pr->value);
        if (k->type != YAML_SCALAR_NODE) {
            config_error(c, k, "expected a scalar key %s, got %s", where, config_node_kind(k));
            continue;
        }
        size_t i;
        for (i = 0; i < n; i++)
            if (strcmp(config_scalar(k), keys[i]) == 0) break;
        if (i == n) {
            char list[400], hint[96];
            config_join(list, sizeof list, keys, n);
            config_error(c, k, "unknown key '" CONFIG_ECHO "' %s%s (expected one of: %s)",
                         config_scalar(k), where,
                         config_suggest(hint, sizeof hint, config_scalar(k), keys, n), list);
            continue;
        }
        if (vals[i] != NULL) {
            config_error(c, k, "duplicate key '%s' %s (first at line %zu)", keys[i], where,
                         knodes[i]->start_mark.line + 1);
            continue;
        }
        vals[i] = v;
        knodes[i] = k;
    }
    return 0;
}

static int config_require(struct config_ctx *c, const yaml_node_t *map, const char *where,
                          const char *key, const yaml_node_t *v)
{
    if (v == NULL) return config_error(c, map, "missing required key '%s' %s", key, where);
    return 0;
}

/* A sequence with at least one item; null counts as empty. */
static int config_want_items(struct config_ctx *c, const yaml_node_t *n, const char *key,
                             const char *item)
{
    if (config_is_null(n)) return config_error(c, n, "%s: expected at least one %s", key, item);
    if (n->type != YAML_SEQUENCE_NODE)
        return config_error(c, n, "%s: expected a sequence of %ss, got %s", key, item,
                            config_node_kind(n));
    if (n->data.sequence.items.top == n->data.sequence.items.start)
        return config_error(c, n, "%s: expected at least one %s", key, item);
    return 0;
}

/* ---- passwords ---- */

static int config_sha1(const void *data, size_t len, uint8_t out[20])
{
    unsigned int outlen = 0;
    if (EVP_Digest(data, len, out, &outlen, EVP_sha1(), NULL) != 1 || outlen != 20) return -1;
    return 0;
}

static int config_hexval(char ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    ch = (char)tolower((unsigned char)ch);
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    return -1;
}

/* MySQL's caching_sha2_password authentication_string: "$A$" + 3-digit round count
 * (thousands) + "$" + 20-byte salt + 43-character crypt-base64 SHA-256 digest. */
static bool config_is_sha2_hash(const char *s, size_t len)
{
    if (len != 70 || strncmp(s, "$A$", 3) != 0 || s[6] != '$') return false;
    for (size_t i = 3; i < 6; i++)
        if (!isdigit((unsigned char)s[i])) return false;
    for (size_t i = 27; i < 70; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '.' && s[i] != '/') return false;
    return true;
}

/* The password key: plaintext, "*"+40 hex (native hash) or "$A$..." (sha2 hash).
 * A value that starts like a hash but is not one is an error: it is surely a
 * mangled hash, and treating it as a plaintext password would lock everyone out.
 * Messages never quote the value. */
static int config_get_password(struct config_ctx *c, const yaml_node_t *n, struct mx_user *u)
{
    if (config_want_scalar(c, n, "password") < 0) return -1;
    if (config_is_null(n))
        return config_error(c, n,
                            "password: expected a plaintext password, '*' + 40 hex "
                            "digits, or a '$A$005$...' hash, got null");
    const char *s = config_scalar(n);
    size_t len = n->data.scalar.length;
    if (s[0] == '*') {
        bool ok = len == 41;
        for (size_t i = 0; ok && i < 20; i++) {
            int hi = config_hexval(s[1 + 2 * i]), lo = config_hexval(s[2 + 2 * i]);
            ok = hi >= 0 && lo >= 0;
            if (ok) u->native_stage2[i] = (uint8_t)(hi << 4 | lo);
        }
        if (!ok)
            return config_error(c, n,
                                "password: starts with '*' but is not a "
                                "mysql_native_password hash ('*' + 40 hex digits)");
        u->pw_kind = MX_PW_NATIVE;
        return 0;
    }
    if (strncmp(s, "$A$", 3) == 0) {
        if (!config_is_sha2_hash(s, len))
            return config_error(c, n,
                                "password: starts with '$A$' but is not a "
                                "caching_sha2_password hash ('$A$' + 3 digits + '$' + "
                                "20-byte salt + 43-character digest, 70 characters; "
                                "quote it)");
        u->pw_kind = MX_PW_SHA2;
        return config_strdup(c, n, s, &u->sha2_hash);
    }
    u->pw_kind = MX_PW_PLAIN;
    uint8_t stage1[20];
    if (config_sha1(s, len, stage1) < 0 || config_sha1(stage1, 20, u->native_stage2) < 0)
        return config_error(c, n, "password: SHA1 unavailable");
    return config_strdup(c, n, s, &u->password);
}

/* ---- health checks (the global section, and per backend) ---- */

static const char *const config_check_types[] = {
    [MX_CHECK_NONE] = "none",
    [MX_CHECK_TCP] = "tcp",
    [MX_CHECK_MYSQL] = "mysql",
    [MX_CHECK_STATUS] = "status",
};

enum { H_TYPE, H_INTERVAL, H_TIMEOUT, H_RISE, H_FALL, H_USER, H_PASSWORD, H_QUERY, H_PATH, H_N };
static const char *const config_check_keys[H_N] = {
    "type", "interval", "timeout", "rise", "fall", "user", "password", "query", "status_path",
};

static void config_check_free(struct mx_check_cfg *h)
{
    free(h->user);
    if (h->password != NULL) OPENSSL_cleanse(h->password, strlen(h->password));
    free(h->password);
    free(h->query);
    free(h->status_path);
    memset(h, 0, sizeof *h);
}

/* Deep copy of SRC into the empty *DST (a backend starts from the global section). */
static int config_check_copy(struct config_ctx *c, const yaml_node_t *at, struct mx_check_cfg *dst,
                             const struct mx_check_cfg *src)
{
    *dst = *src;
    dst->user = dst->password = dst->query = dst->status_path = NULL;
    if ((src->user && config_strdup(c, at, src->user, &dst->user) < 0) ||
        (src->password && config_strdup(c, at, src->password, &dst->password) < 0) ||
        (src->query && config_strdup(c, at, src->query, &dst->query) < 0) ||
        (src->status_path && config_strdup(c, at, src->status_path, &dst->status_path) < 0))
        return -1;
    return 0;
}

/* Applies the keys of MAP (a `health:` mapping, global or a backend's) over *h, which
 * holds what they override, then checks the result. WHERE is "in health" or
 * "in backend health". */
static int config_parse_check(struct config_ctx *c, const yaml_node_t *map, const char *where,
                              struct mx_check_cfg *h)
{
    yaml_node_t *v[H_N];
    int type = (int)h->type;
    if (config_is_null(map)) return 0;
    if (config_fields(c, map, "health", where, config_check_keys, H_N, v) < 0) return -1;
    if ((v[H_TYPE] &&
         config_get_enum(c, v[H_TYPE], "type", config_check_types,
                         sizeof config_check_types / sizeof config_check_types[0], &type) < 0) ||
        (v[H_INTERVAL] &&
         config_get_duration(c, v[H_INTERVAL], "interval", 1, &h->interval_ms) < 0) ||
        (v[H_TIMEOUT] && config_get_duration(c, v[H_TIMEOUT], "timeout", 1, &h->timeout_ms) < 0) ||
        (v[H_RISE] && config_get_int(c, v[H_RISE], "rise", 1, INT_MAX, &h->rise) < 0) ||
        (v[H_FALL] && config_get_int(c, v[H_FALL], "fall", 1, INT_MAX, &h->fall) < 0) ||
        (v[H_USER] && config_get_opt_string(c, v[H_USER], "user", &h->user) < 0) ||
        (v[H_PASSWORD] && config_get_opt_string(c, v[H_PASSWORD], "password", &h->password) < 0))
        return -1;
    h->type = (enum mx_check_type)type;
    if (v[H_QUERY] && !config_is_null(v[H_QUERY]) &&
        config_get_string(c, v[H_QUERY], "query", &h->query) < 0)
        return -1;
    if (v[H_PATH] && !config_is_null(v[H_PATH])) {
        if (config_get_string(c, v[H_PATH], "status_path", &h->status_path) < 0) return -1;
        if (h->status_path[0] != '/')
            return config_error(c, v[H_PATH],
                                "status_path: expected a path starting with '/', got '" CONFIG_ECHO
                                "'",
                                h->status_path);
    }
    /* A check still running when the next is due would overlap it. Blame the key
     * this mapping set; a backend may break the rule by changing either one. */
    if (h->timeout_ms >= h->interval_ms) {
        if (v[H_TIMEOUT] != NULL)
            return config_error(c, v[H_TIMEOUT],
                                "timeout: must be less than interval (%d ms), got %d ms",
                                h->interval_ms, h->timeout_ms);
        return config_error(c, v[H_INTERVAL] ? v[H_INTERVAL] : map,
                            "interval: must be more than timeout (%d ms), got %d ms", h->timeout_ms,
                            h->interval_ms);
    }
    return 0;
}

/* ---- TLS towards a backend ---- */

static const char *const config_btls_modes[] = {
    [MX_BTLS_OFF] = "off",
    [MX_BTLS_PREFERRED] = "preferred",
    [MX_BTLS_REQUIRED] = "required",
    [MX_BTLS_VERIFY_CA] = "verify_ca",
    [MX_BTLS_VERIFY_IDENTITY] = "verify_identity",
};

enum { BT_MODE, BT_CA, BT_CERT, BT_KEY, BT_SERVER_NAME, BT_N };
static const char *const config_btls_keys[BT_N] = {"mode", "ca", "cert", "key", "server_name"};

static int config_parse_backend_tls(struct config_ctx *c, const yaml_node_t *map,
                                    struct mx_backend_tls_cfg *t)
{
    yaml_node_t *v[BT_N];
    int mode = (int)t->mode;
    if (config_is_null(map)) return 0;
    if (config_fields(c, map, "tls", "in backend tls", config_btls_keys, BT_N, v) < 0) return -1;
    if ((v[BT_MODE] &&
         config_get_enum(c, v[BT_MODE], "mode", config_btls_modes,
                         sizeof config_btls_modes / sizeof config_btls_modes[0], &mode) < 0) ||
        (v[BT_CA] && config_get_file(c, v[BT_CA], "ca", &t->ca) < 0) ||
        (v[BT_CERT] && config_get_file(c, v[BT_CERT], "cert", &t->cert) < 0) ||
        (v[BT_KEY] && config_get_file(c, v[BT_KEY], "key", &t->key) < 0) ||
        (v[BT_SERVER_NAME] &&
         config_get_opt_string(c, v[BT_SERVER_NAME], "server_name", &t->server_name) < 0) ||
        config_together(c, v[BT_CERT], "cert", t->cert, v[BT_KEY], "key", t->key) < 0)
        return -1;
    t->mode = (enum mx_btls_mode)mode;
    if ((t->mode == MX_BTLS_VERIFY_CA || t->mode == MX_BTLS_VERIFY_IDENTITY) && t->ca == NULL)
        return config_error(c, v[BT_MODE],
                            "mode: %s needs ca (the CA file to verify the server with)",
                            config_btls_modes[t->mode]);
    return 0;
}

/* ---- users and backends ---- */

enum {
    U_NAME,
    U_PASSWORD,
    U_BACKEND_USER,
    U_BACKEND_PASSWORD,
    U_REQUIRE_TLS,
    U_MAX_CONN,
    U_KILL_OTHERS,
    U_QUERY_TIMEOUT,
    U_N
};
static const char *const config_user_keys[U_N] = {
    "name",        "password",        "backend_user", "backend_password",
    "require_tls", "max_connections", "kill_others",  "query_timeout",
};

static int config_parse_user(struct config_ctx *c, const yaml_node_t *map, struct mx_user *u)
{
    yaml_node_t *v[U_N];
    if (config_fields(c, map, "user", "in user", config_user_keys, U_N, v) < 0 ||
        config_require(c, map, "in user", "name", v[U_NAME]) < 0 ||
        config_require(c, map, "in user", "password", v[U_PASSWORD]) < 0 ||
        config_get_string(c, v[U_NAME], "name", &u->name) < 0 ||
        config_get_password(c, v[U_PASSWORD], u) < 0)
        return -1;
    if (v[U_BACKEND_USER] &&
        config_get_opt_string(c, v[U_BACKEND_USER], "backend_user", &u->backend_user) < 0)
        return -1;
    if (u->backend_user == NULL && config_strdup(c, map, u->name, &u->backend_user) < 0) return -1;
    if (v[U_BACKEND_PASSWORD] && config_get_opt_string(c, v[U_BACKEND_PASSWORD], "backend_password",
                                                       &u->backend_password) < 0)
        return -1;
    if (v[U_REQUIRE_TLS] &&
        config_get_bool(c, v[U_REQUIRE_TLS], "require_tls", &u->require_tls) < 0)
        return -1;
    if (v[U_KILL_OTHERS] &&
        config_get_bool(c, v[U_KILL_OTHERS], "kill_others", &u->kill_others) < 0)
        return -1;
    if (v[U_MAX_CONN] &&
        config_get_int(c, v[U_MAX_CONN], "max_connections", 0, INT_MAX, &u->max_connections) < 0)
        return -1;
    u->query_timeout_ms = -1;
    if (v[U_QUERY_TIMEOUT] && config_get_duration(c, v[U_QUERY_TIMEOUT], "query_timeout", 0,
                                                  &u->query_timeout_ms) < 0)
        return -1;
    return 0;
}

enum {
    B_NAME,
    B_ADDRESS,
    B_WEIGHT,
    B_BACKUP,
    B_MAX_CONN,
    B_STATUS_PORT,
    B_HEALTH,
    B_TLS,
    B_COMPRESS,
    B_SEND_PROXY,
    B_MAINTENANCE,
    B_TRACKING,
    B_LOCK_CHECK,
    B_CPUS,
    B_N
};
static const char *const config_backend_keys[B_N] = {
    "name",   "address", "weight",   "backup",     "max_connections", "status_port",
    "health", "tls",     "compress", "send_proxy", "maintenance",     "session_tracking",
    "lock_check",       "cpus",
};
static const char *const config_tracking_names[] = {"auto", "on", "off"};

/* One backend. Its health settings start as a copy of the global section
 * (c->cfg->health, parsed first) and take this backend's overrides. */
static int config_parse_backend(struct config_ctx *c, const yaml_node_t *map,
                                struct mx_backend_cfg *b)
{
    yaml_node_t *v[B_N];
    b->weight = 1;
    if (config_fields(c, map, "backend", "in backend", config_backend_keys, B_N, v) < 0 ||
        config_require(c, map, "in backend", "name", v[B_NAME]) < 0 ||
        config_require(c, map, "in backend", "address", v[B_ADDRESS]) < 0 ||
        config_get_string(c, v[B_NAME], "name", &b->name) < 0 ||
        config_get_hostport(c, v[B_ADDRESS], "address", &b->host, &b->port) < 0)
        return -1;
    b->addr_line = (int)v[B_ADDRESS]->start_mark.line + 1;
    b->addr_col = (int)v[B_ADDRESS]->start_mark.column + 1;
    if (v[B_WEIGHT] && config_get_int(c, v[B_WEIGHT], "weight", 1, 1000000, &b->weight) < 0)
        return -1;
    if (v[B_BACKUP] && config_get_bool(c, v[B_BACKUP], "backup", &b->backup) < 0) return -1;
    if (v[B_MAX_CONN] &&
        config_get_int(c, v[B_MAX_CONN], "max_connections", 0, INT_MAX, &b->max_connections) < 0)
        return -1;
    if (v[B_STATUS_PORT] &&
        config_get_int(c, v[B_STATUS_PORT], "status_port", 0, 65535, &b->status_port) < 0)
        return -1;
    if (v[B_CPUS] && config_get_int(c, v[B_CPUS], "cpus", 0, 65536, &b->cpus) < 0) return -1;
    if (config_check_copy(c, map, &b->health, &c->cfg->health) < 0 ||
        (v[B_HEALTH] && config_parse_check(c, v[B_HEALTH], "in backend health", &b->health) < 0))
        return -1;
    if (b->health.type == MX_CHECK_STATUS && b->status_port == 0) b->status_port = 10080;
    if (v[B_TLS] && config_parse_backend_tls(c, v[B_TLS], &b->tls) < 0) return -1;
    if (b->tls.server_name == NULL && config_strdup(c, map, b->host, &b->tls.server_name) < 0)
        return -1;
    if ((v[B_COMPRESS] && config_get_bool(c, v[B_COMPRESS], "compress", &b->compress) < 0) ||
        (v[B_SEND_PROXY] &&
         config_get_bool(c, v[B_SEND_PROXY], "send_proxy", &b->send_proxy) < 0) ||
        (v[B_MAINTENANCE] &&
         config_get_bool(c, v[B_MAINTENANCE], "maintenance", &b->maintenance) < 0) ||
        (v[B_LOCK_CHECK] && config_get_bool(c, v[B_LOCK_CHECK], "lock_check", &b->lock_check) < 0))
        return -1;
    int tracking = MX_TRACK_AUTO;
    if (v[B_TRACKING] && config_get_enum(c, v[B_TRACKING], "session_tracking",
                                         config_tracking_names, 3, &tracking) < 0)
        return -1;
    b->session_tracking = (enum mx_tracking)tracking;
    return 0;
}

/* Position of the first earlier item whose name node equals NAMES[i], or -1. */
static long config_find_dup(yaml_node_t **names, size_t i)
{
    for (size_t j = 0; j < i; j++)
        if (names[j] && strcmp(config_scalar(names[j]), config_scalar(names[i])) == 0)
            return (long)j;
    return -1;
}

/* Name node of an item already parsed (it has a name key). */
static yaml_node_t *config_name_node(struct config_ctx *c, const yaml_node_t *map)
{
    for (yaml_node_pair_t *pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top;
         pr++)
        if (strcmp(config_scalar(yaml_document_get_node(c->doc, pr->key)), "name") == 0)
            return yaml_document_get_node(c->doc, pr->value);
    return NULL;
}

static int config_parse_users(struct config_ctx *c, const yaml_node_t *seq)
{
    struct mx_config *cfg = c->cfg;
    size_t n = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
    yaml_node_t **names = calloc(n, sizeof *names);
    cfg->users = calloc(n, sizeof *cfg->users);
    if (names == NULL || cfg->users == NULL) {
        free(names);
        return config_error(c, seq, "out of memory");
    }
    cfg->n_users = n; /* zeroed entries free cleanly if we stop half-way */
    bool bad = false;
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *item = yaml_document_get_node(c->doc, seq->data.sequence.items.start[i]);
        if (config_parse_user(c, item, &cfg->users[i]) < 0) {
            bad = true; /* the next items are still checked */
            continue;
        }
        names[i] = config_name_node(c, item);
        long d = config_find_dup(names, i);
        if (d >= 0) {
            config_error(c, names[i], "duplicate user name '" CONFIG_ECHO "' (first at line %zu)",
                         cfg->users[i].name, names[d]->start_mark.line + 1);
            bad = true;
        }
    }
    free(names);
    return bad ? -1 : 0;
}

static int config_parse_backends(struct config_ctx *c, const yaml_node_t *seq)
{
    struct mx_config *cfg = c->cfg;
    size_t n = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
    yaml_node_t **names = calloc(n, sizeof *names);
    cfg->backends = calloc(n, sizeof *cfg->backends);
    if (names == NULL || cfg->backends == NULL) {
        free(names);
        return config_error(c, seq, "out of memory");
    }
    cfg->n_backends = n;
    bool bad = false;
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *item = yaml_document_get_node(c->doc, seq->data.sequence.items.start[i]);
        if (config_parse_backend(c, item, &cfg->backends[i]) < 0) {
            bad = true; /* the next items are still checked */
            continue;
        }
        names[i] = config_name_node(c, item);
        long d = config_find_dup(names, i);
        if (d >= 0) {
            config_error(c, names[i],
                         "duplicate backend name '" CONFIG_ECHO "' (first at line %zu)",
                         cfg->backends[i].name, names[d]->start_mark.line + 1);
            bad = true;
        }
    }
    free(names);
    return bad ? -1 : 0;
}

/* ---- pool and client limits ---- */

enum {
    P_MAX,
    P_MIN_IDLE,
    P_IDLE,
    P_LIFETIME,
    P_WAIT,
    P_CONNECT,
    P_MULTIPLEX,
    P_PREPARED,
    P_CONNECT_RATE,
    P_MAX_CONNECTING,
    P_MAX_WAITING,
    P_QUERY_TIMEOUT,
    P_PREPARED_UNUSED,
    P_PER_CPU,
    P_N
};
static const char *const config_pool_keys[P_N] = {
    "max_per_backend", "min_idle",        "idle_timeout", "max_lifetime",
    "wait_timeout",    "connect_timeout", "multiplex",    "max_prepared",
    "connect_rate",    "max_connecting",  "max_waiting",  "query_timeout",
    "max_prepared_unused", "per_cpu",
};

static int config_parse_pool(struct config_ctx *c, const yaml_node_t *map)
{
    struct mx_config *cfg = c->cfg;
    yaml_node_t *v[P_N];
    if (config_is_null(map)) return 0;
    if (config_fields(c, map, "pool", "in pool", config_pool_keys, P_N, v) < 0) return -1;
    if (v[P_MAX] && v[P_MAX]->type == YAML_SCALAR_NODE &&
        strcmp(config_scalar(v[P_MAX]), "auto") == 0) {
        cfg->pool_max_auto = true;
    } else if (v[P_MAX] && !config_is_null(v[P_MAX])) {
        if (v[P_MAX]->type == YAML_SCALAR_NODE &&
            !(config_scalar(v[P_MAX])[0] >= '0' && config_scalar(v[P_MAX])[0] <= '9'))
            return config_error(c, v[P_MAX],
                                "max_per_backend: expected auto or a positive integer, got '" CONFIG_ECHO
                                "'", config_scalar(v[P_MAX]));
        if (config_get_int(c, v[P_MAX], "max_per_backend", 1, INT_MAX,
                           &cfg->pool_max_per_backend) < 0)
            return -1;
        cfg->pool_max_auto = false;
    }
    if ((v[P_PER_CPU] &&
         config_get_int(c, v[P_PER_CPU], "per_cpu", 1, 1024, &cfg->pool_per_cpu) < 0) ||
        (v[P_MIN_IDLE] &&
         config_get_int(c, v[P_MIN_IDLE], "min_idle", 0, INT_MAX, &cfg->pool_min_idle) < 0) ||
        (v[P_IDLE] &&
         config_get_duration(c, v[P_IDLE], "idle_timeout", 0, &cfg->pool_idle_timeout_ms) < 0) ||
        (v[P_LIFETIME] && config_get_duration(c, v[P_LIFETIME], "max_lifetime", 0,
                                              &cfg->pool_max_lifetime_ms) < 0) ||
        (v[P_WAIT] &&
         config_get_duration(c, v[P_WAIT], "wait_timeout", 0, &cfg->pool_wait_timeout_ms) < 0) ||
        (v[P_CONNECT] && config_get_duration(c, v[P_CONNECT], "connect_timeout", 1,
                                             &cfg->pool_connect_timeout_ms) < 0) ||
        (v[P_MULTIPLEX] &&
         config_get_bool(c, v[P_MULTIPLEX], "multiplex", &cfg->pool_multiplex) < 0) ||
        (v[P_PREPARED] &&
         config_get_int(c, v[P_PREPARED], "max_prepared", 1, 65535, &cfg->pool_max_prepared) < 0) ||
        (v[P_CONNECT_RATE] && config_get_int(c, v[P_CONNECT_RATE], "connect_rate", 0, INT_MAX,
                                             &cfg->pool_connect_rate) < 0) ||
        (v[P_MAX_CONNECTING] && config_get_int(c, v[P_MAX_CONNECTING], "max_connecting", 1, INT_MAX,
                                               &cfg->pool_max_connecting) < 0) ||
        (v[P_MAX_WAITING] && config_get_int(c, v[P_MAX_WAITING], "max_waiting", 0, INT_MAX,
                                            &cfg->pool_max_waiting) < 0) ||
        (v[P_QUERY_TIMEOUT] && config_get_duration(c, v[P_QUERY_TIMEOUT], "query_timeout", 0,
                                                   &cfg->pool_query_timeout_ms) < 0) ||
        (v[P_PREPARED_UNUSED] &&
         config_get_int(c, v[P_PREPARED_UNUSED], "max_prepared_unused", 0, 65535,
                        &cfg->pool_max_prepared_unused) < 0))
        return -1;
    if (!cfg->pool_max_auto && cfg->pool_min_idle > cfg->pool_max_per_backend)
        return config_error(c, v[P_MIN_IDLE] ? v[P_MIN_IDLE] : map,
                            "min_idle: must not exceed max_per_backend (%d), got %d",
                            cfg->pool_max_per_backend, cfg->pool_min_idle);
    return 0;
}

enum { AU_MAX, AU_WINDOW, AU_BLOCK, AU_N };
static const char *const config_auth_fail_keys[AU_N] = {"max", "window", "block"};

static int config_parse_auth_failures(struct config_ctx *c, const yaml_node_t *map)
{
    struct mx_config *cfg = c->cfg;
    yaml_node_t *v[AU_N];
    if (config_is_null(map)) return 0;
    if (config_fields(c, map, "auth_failures", "in limits.auth_failures", config_auth_fail_keys,
                      AU_N, v) < 0 ||
        (v[AU_MAX] && config_get_int(c, v[AU_MAX], "max", 1, INT_MAX, &cfg->auth_fail_max) < 0) ||
        (v[AU_WINDOW] &&
         config_get_duration(c, v[AU_WINDOW], "window", 1, &cfg->auth_fail_window_ms) < 0) ||
        (v[AU_BLOCK] &&
         config_get_duration(c, v[AU_BLOCK], "block", 1, &cfg->auth_fail_block_ms) < 0))
        return -1;
    return 0;
}

enum {
    L_MAX_CLIENTS,
    L_HANDSHAKE,
    L_CLIENT_IDLE,
    L_MAX_PACKET,
    L_ACCEPT_RATE,
    L_ACCEPT_BURST,
    L_MAX_HANDSHAKES,
    L_AUTH_FAILURES,
    L_N
};
static const char *const config_limits_keys[L_N] = {
    "max_client_connections", "handshake_timeout", "client_idle_timeout",
    "max_packet_size",        "accept_rate",       "accept_burst",
    "max_handshakes",         "auth_failures",
};

static int config_parse_limits(struct config_ctx *c, const yaml_node_t *map)
{
    struct mx_config *cfg = c->cfg;
    yaml_node_t *v[L_N];
    if (config_is_null(map)) return 0;
    if (config_fields(c, map, "limits", "in limits", config_limits_keys, L_N, v) < 0) return -1;
    if ((v[L_MAX_CLIENTS] && config_get_int(c, v[L_MAX_CLIENTS], "max_client_connections", 1,
                                            INT_MAX, &cfg->max_client_connections) < 0) ||
        (v[L_HANDSHAKE] && config_get_duration(c, v[L_HANDSHAKE], "handshake_timeout", 1,
                                               &cfg->handshake_timeout_ms) < 0) ||
        (v[L_CLIENT_IDLE] && config_get_duration(c, v[L_CLIENT_IDLE], "client_idle_timeout", 0,
                                                 &cfg->client_idle_timeout_ms) < 0) ||
        (v[L_MAX_PACKET] &&
         config_get_size(c, v[L_MAX_PACKET], "max_packet_size", 1024, &cfg->max_packet_size) < 0) ||
        (v[L_ACCEPT_RATE] &&
         config_get_int(c, v[L_ACCEPT_RATE], "accept_rate", 0, INT_MAX, &cfg->accept_rate) < 0) ||
        (v[L_ACCEPT_BURST] && config_get_int(c, v[L_ACCEPT_BURST], "accept_burst", 1, INT_MAX,
                                             &cfg->accept_burst) < 0) ||
        (v[L_MAX_HANDSHAKES] && config_get_int(c, v[L_MAX_HANDSHAKES], "max_handshakes", 1, INT_MAX,
                                               &cfg->max_handshakes) < 0) ||
        (v[L_AUTH_FAILURES] && config_parse_auth_failures(c, v[L_AUTH_FAILURES]) < 0))
        return -1;
    return 0;
}

/* ---- balance ---- */

enum { ST_ON, ST_EXPIRE, ST_SIZE, ST_N };
static const char *const config_stick_keys[ST_N] = {"on", "expire", "size"};
static const char *const config_stick_on[] = {"src", "user"};

static int config_parse_stick(struct config_ctx *c, const yaml_node_t *map)
{
    struct mx_config *cfg = c->cfg;
    yaml_node_t *v[ST_N];
    if (config_is_null(map)) return 0;
    if (config_fields(c, map, "stick", "in balance.stick", config_stick_keys, ST_N, v) < 0 ||
        config_require(c, map, "in balance.stick", "on", v[ST_ON]) < 0 ||
        config_get_choice(c, v[ST_ON], "on", config_stick_on,
                          sizeof config_stick_on / sizeof config_stick_on[0], &cfg->stick_on) < 0 ||
        (v[ST_EXPIRE] &&
         config_get_duration(c, v[ST_EXPIRE], "expire", 1, &cfg->stick_expire_ms) < 0) ||
        (v[ST_SIZE] && config_get_int(c, v[ST_SIZE], "size", 1, INT_MAX, &cfg->stick_size) < 0))
        return -1;
    return 0;
}

enum { BA_ALGORITHM, BA_SLOW_START, BA_STICK, BA_N };
static const char *const config_balance_keys[BA_N] = {"algorithm", "slow_start", "stick"};

/* `balance: NAME`, or the mapping form with slow start and stickiness. */
static int config_parse_balance(struct config_ctx *c, const yaml_node_t *n)
{
    struct mx_config *cfg = c->cfg;
    const size_t nalg = sizeof config_balance_names / sizeof config_balance_names[0];
    yaml_node_t *v[BA_N];
    if (n->type == YAML_SEQUENCE_NODE)
        return config_error(c, n, "balance: expected an algorithm name or a mapping, got %s",
                            config_node_kind(n));
    if (n->type != YAML_MAPPING_NODE)
        return config_get_choice(c, n, "balance", config_balance_names, nalg, &cfg->balance);
    if (config_fields(c, n, "balance", "in balance", config_balance_keys, BA_N, v) < 0 ||
        (v[BA_ALGORITHM] && config_get_choice(c, v[BA_ALGORITHM], "algorithm", config_balance_names,
                                              nalg, &cfg->balance) < 0) ||
        (v[BA_SLOW_START] &&
         config_get_duration(c, v[BA_SLOW_START], "slow_start", 0, &cfg->slow_start_ms) < 0) ||
        (v[BA_STICK] && config_parse_stick(c, v[BA_STICK]) < 0))
        return -1;
    return 0;
}

/* ---- shutdown ---- */

enum { SD_GRACE, SD_HEALTH_LISTEN, SD_UPGRADE_SOCKET, SD_ACCEPT_GRACE, SD_N };
static const char *const config_shutdown_keys[SD_N] = {"grace_period", "health_listen",
                                                       "upgrade_socket", "accept_grace"};

static int config_parse_shutdown(struct config_ctx *c, const yaml_node_t *map)
{
    struct mx_config *cfg = c->cfg;
    yaml_node_t *v[SD_N];
    if (config_is_null(map)) return 0;
    if (config_fields(c, map, "shutdown", "in shutdown", config_shutdown_keys, SD_N, v) < 0 ||
        (v[SD_GRACE] &&
         config_get_duration(c, v[SD_GRACE], "grace_period", 0, &cfg->shutdown_grace_ms) < 0) ||
        (v[SD_ACCEPT_GRACE] &&
         config_get_duration(c, v[SD_ACCEPT_GRACE], "accept_grace", 0,
                             &cfg->accept_grace_ms) < 0) ||
        (v[SD_HEALTH_LISTEN] &&
         config_get_addr_string(c, v[SD_HEALTH_LISTEN], "health_listen", &cfg->health_listen) < 0))
        return -1;
    if (cfg->health_listen) c->health_listen_node = v[SD_HEALTH_LISTEN];
    if (v[SD_UPGRADE_SOCKET] && !config_is_null(v[SD_UPGRADE_SOCKET])) {
        struct sockaddr_un sun;
        if (config_get_string(c, v[SD_UPGRADE_SOCKET], "upgrade_socket", &cfg->upgrade_socket) < 0)
            return -1;
        if (strlen(cfg->upgrade_socket) >= sizeof sun.sun_path)
            return config_error(c, v[SD_UPGRADE_SOCKET],
                                "upgrade_socket: a unix socket path is at most %zu bytes, got %zu",
                                sizeof sun.sun_path - 1, strlen(cfg->upgrade_socket));
    }
    return 0;
}

/* ---- client TLS ---- */

static const char *const config_tls_versions[] = {"TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"};

/* Position of a version name in config_tls_versions (the names are checked on input). */
static int config_tls_version_rank(const char *name)
{
    for (size_t i = 0; i < sizeof config_tls_versions / sizeof config_tls_versions[0]; i++)
        if (strcmp(name, config_tls_versions[i]) == 0) return (int)i;
    return -1;
}

/* Asks OpenSSL whether it knows at least one cipher of the lists, as it will at
 * startup: a list with no known name would leave no cipher at all. */
static int config_check_ciphers(struct config_ctx *c, const yaml_node_t *ciphers_node,
                                const yaml_node_t *suites_node)
{
    struct mx_config *cfg = c->cfg;
    int rc = 0;
    if (cfg->tls_ciphers == NULL && cfg->tls_ciphersuites == NULL) return 0;
    SSL_CTX *ctx = SSL_CTX_new(TLS_method());
    if (ctx == NULL)
        return config_error(c, ciphers_node ? ciphers_node : suites_node, "out of memory");
    if (cfg->tls_ciphers != NULL && SSL_CTX_set_cipher_list(ctx, cfg->tls_ciphers) != 1)
        rc = config_error(c, ciphers_node,
                          "ciphers: OpenSSL knows none of these ciphers, got '" CONFIG_ECHO "'",
                          cfg->tls_ciphers);
    else if (cfg->tls_ciphersuites != NULL &&
             SSL_CTX_set_ciphersuites(ctx, cfg->tls_ciphersuites) != 1)
        rc = config_error(c, suites_node,
                          "ciphersuites: expected TLS 1.3 suite names separated by ':' (as "
                          "TLS_AES_128_GCM_SHA256), got '" CONFIG_ECHO "'",
                          cfg->tls_ciphersuites);
    SSL_CTX_free(ctx);
    ERR_clear_error();
    return rc;
}

enum {
    T_CERT,
    T_KEY,
    T_CA,
    T_MIN_VERSION,
    T_MAX_VERSION,
    T_CIPHERS,
    T_CIPHERSUITES,
    T_REQUIRE,
    T_N
};
static const char *const config_tls_keys[T_N] = {
    "cert", "key", "ca", "min_version", "max_version", "ciphers", "ciphersuites", "require",
};

static int config_parse_tls(struct config_ctx *c, const yaml_node_t *map)
{
    struct mx_config *cfg = c->cfg;
    const size_t nver = sizeof config_tls_versions / sizeof config_tls_versions[0];
    yaml_node_t *v[T_N];
    if (config_is_null(map)) return 0;
    if (config_fields(c, map, "tls", "in tls", config_tls_keys, T_N, v) < 0 ||
        (v[T_CERT] && config_get_file(c, v[T_CERT], "cert", &cfg->tls_cert) < 0) ||
        (v[T_KEY] && config_get_file(c, v[T_KEY], "key", &cfg->tls_key) < 0) ||
        (v[T_CA] && config_get_file(c, v[T_CA], "ca", &cfg->tls_ca) < 0) ||
        (v[T_MIN_VERSION] &&
         config_get_choice(c, v[T_MIN_VERSION], "min_version", config_tls_versions, nver,
                           &cfg->tls_min_version) < 0) ||
        (v[T_MAX_VERSION] &&
         config_get_choice(c, v[T_MAX_VERSION], "max_version", config_tls_versions, nver,
                           &cfg->tls_max_version) < 0) ||
        (v[T_CIPHERS] &&
         config_get_opt_string(c, v[T_CIPHERS], "ciphers", &cfg->tls_ciphers) < 0) ||
        (v[T_CIPHERSUITES] &&
         config_get_opt_string(c, v[T_CIPHERSUITES], "ciphersuites", &cfg->tls_ciphersuites) < 0) ||
        (v[T_REQUIRE] && config_get_bool(c, v[T_REQUIRE], "require", &cfg->tls_require) < 0) ||
        config_together(c, v[T_CERT], "cert", cfg->tls_cert, v[T_KEY], "key", cfg->tls_key) < 0 ||
        config_check_ciphers(c, v[T_CIPHERS], v[T_CIPHERSUITES]) < 0)
        return -1;
    if (cfg->tls_max_version != NULL && config_tls_version_rank(cfg->tls_min_version) >
                                            config_tls_version_rank(cfg->tls_max_version)) {
        if (v[T_MIN_VERSION] != NULL && !config_is_null(v[T_MIN_VERSION]))
            return config_error(c, v[T_MIN_VERSION],
                                "min_version: %s is newer than max_version (%s)",
                                cfg->tls_min_version, cfg->tls_max_version);
        return config_error(c, v[T_MAX_VERSION],
                            "max_version: %s is older than min_version (%s, the default)",
                            cfg->tls_max_version, cfg->tls_min_version);
    }
    /* Without a certificate TLS is off: these would refuse every client, or do nothing. */
    if (cfg->tls_cert == NULL && cfg->tls_require)
        return config_error(c, v[T_REQUIRE],
                            "require: needs cert and key (TLS is off without them)");
    if (cfg->tls_cert == NULL && cfg->tls_ca != NULL)
        return config_error(c, v[T_CA], "ca: needs cert and key (TLS is off without them)");
    return 0;
}

/* ---- compression ---- */

enum { CM_ENABLED, CM_ZSTD, CM_LEVEL, CM_N };
static const char *const config_compression_keys[CM_N] = {"enabled", "zstd", "level"};

static int config_parse_compression(struct config_ctx *c, const yaml_node_t *map)
{
    struct mx_config *cfg = c->cfg;
    yaml_node_t *v[CM_N];
    if (config_is_null(map)) return 0;
    if (config_fields(c, map, "compression", "in compression", config_compression_keys, CM_N, v) <
            0 ||
        (v[CM_ENABLED] &&
         config_get_bool(c, v[CM_ENABLED], "enabled", &cfg->compress_enabled) < 0) ||
        (v[CM_ZSTD] && config_get_bool(c, v[CM_ZSTD], "zstd", &cfg->compress_zstd) < 0) ||
        (v[CM_LEVEL] && config_get_int(c, v[CM_LEVEL], "level", 1, 9, &cfg->compress_level) < 0))
        return -1;
    return 0;
}

/* ---- PROXY protocol ---- */

enum { PP_TRUSTED, PP_N };
static const char *const config_proxy_keys[PP_N] = {"trusted"};

/* `trusted:` into cfg->proxy_trusted, each entry "addr/n"; empty or null = off. */
static int config_parse_proxy_protocol(struct config_ctx *c, const yaml_node_t *map)
{
    struct mx_config *cfg = c->cfg;
    yaml_node_t *v[PP_N];
    if (config_is_null(map)) return 0;
    if (config_fields(c, map, "proxy_protocol", "in proxy_protocol", config_proxy_keys, PP_N, v) <
        0)
        return -1;
    const yaml_node_t *seq = v[PP_TRUSTED];
    if (seq == NULL || config_is_null(seq)) return 0;
    if (seq->type != YAML_SEQUENCE_NODE)
        return config_error(c, seq, "trusted: expected a sequence of addresses or CIDRs, got %s",
                            config_node_kind(seq));
    size_t n = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
    if (n == 0) return 0;
    cfg->proxy_trusted = calloc(n + 1, sizeof *cfg->proxy_trusted);
    if (cfg->proxy_trusted == NULL) return config_error(c, seq, "out of memory");
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *item = yaml_document_get_node(c->doc, seq->data.sequence.items.start[i]);
        char why[128];
        if (config_want_scalar(c, item, "trusted") < 0) return -1;
        if (config_split_cidr(config_scalar(item), &cfg->proxy_trusted[i], why, sizeof why) < 0)
            return config_error(c, item, "trusted: %s, got '" CONFIG_ECHO "'", why,
                                config_scalar(item));
    }
    return 0;
}

/* ---- admin and logging ---- */

enum {
    A_LISTEN,
    A_USER,
    A_PASSWORD,
    A_TLS_CERT,
    A_TLS_KEY,
    A_DIGEST_MAX,
    A_ALLOWED_HOSTS,
    A_ALLOW_UNAUTH,
    A_N
};
static const char *const config_admin_keys[A_N] = {
    "listen", "user", "password", "tls_cert", "tls_key", "digest_max", "allowed_hosts",
    "allow_unauthenticated",
};

/* `admin.allowed_hosts:` a sequence of host names (no port) that the Host
 * header may carry; IP literals and localhost are always accepted. */
static int config_parse_allowed_hosts(struct config_ctx *c, const yaml_node_t *seq)
{
    struct mx_config *cfg = c->cfg;
    if (config_is_null(seq)) return 0;
    if (seq->type != YAML_SEQUENCE_NODE)
        return config_error(c, seq, "allowed_hosts: expected a sequence of host names, got %s",
                            config_node_kind(seq));
    size_t n = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
    if (n == 0) return 0;
    cfg->admin_allowed_hosts = calloc(n + 1, sizeof *cfg->admin_allowed_hosts);
    if (cfg->admin_allowed_hosts == NULL) return config_error(c, seq, "out of memory");
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *item = yaml_document_get_node(c->doc, seq->data.sequence.items.start[i]);
        if (config_want_scalar(c, item, "allowed_hosts") < 0) return -1;
        const char *h = config_scalar(item);
        if (!*h || strpbrk(h, ":/ \t[]@")) /* a name, not host:port or a URL */
            return config_error(c, item,
                                "allowed_hosts: expected a host name without port, got '" CONFIG_ECHO
                                "'",
                                h);
        cfg->admin_allowed_hosts[i] = strdup(h);
        if (cfg->admin_allowed_hosts[i] == NULL) return config_error(c, item, "out of memory");
    }
    return 0;
}

/* A listen address only this machine can reach: 127.0.0.0/8, ::1, localhost. */
static bool config_loopback_listen(const char *addr)
{
    char *h = NULL, why[96];
    int port;
    if (config_split_hostport(addr, &h, &port, why, sizeof why) < 0) return false;
    struct in_addr a4;
    struct in6_addr a6;
    bool lo = strcasecmp(h, "localhost") == 0 ||
              (inet_pton(AF_INET, h, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127) ||
              (inet_pton(AF_INET6, h, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6));
    free(h);
    return lo;
}

/* `admin:`; LEGACY is the top-level admin_listen node (or NULL), the same setting. */
static int config_parse_admin(struct config_ctx *c, const yaml_node_t *map,
                              const yaml_node_t *legacy)
{
    struct mx_config *cfg = c->cfg;
    yaml_node_t *v[A_N];
    if (config_is_null(map)) return 0;
    if (config_fields(c, map, "admin", "in admin", config_admin_keys, A_N, v) < 0 ||
        config_alias_conflict(c, legacy, "admin_listen", v[A_LISTEN], "admin.listen") < 0 ||
        (v[A_LISTEN] && config_get_addr_string(c, v[A_LISTEN], "listen", &cfg->admin_listen) < 0) ||
        (v[A_USER] && config_get_opt_string(c, v[A_USER], "user", &cfg->admin_user) < 0) ||
        (v[A_PASSWORD] &&
         config_get_opt_string(c, v[A_PASSWORD], "password", &cfg->admin_password) < 0) ||
        (v[A_TLS_CERT] &&
         config_get_file(c, v[A_TLS_CERT], "tls_cert", &cfg->admin_tls_cert) < 0) ||
        (v[A_TLS_KEY] && config_get_file(c, v[A_TLS_KEY], "tls_key", &cfg->admin_tls_key) < 0) ||
        (v[A_DIGEST_MAX] &&
         config_get_int(c, v[A_DIGEST_MAX], "digest_max", 1, INT_MAX, &cfg->digest_max) < 0) ||
        config_together(c, v[A_USER], "user", cfg->admin_user, v[A_PASSWORD], "password",
                        cfg->admin_password) < 0 ||
        config_together(c, v[A_TLS_CERT], "tls_cert", cfg->admin_tls_cert, v[A_TLS_KEY], "tls_key",
                        cfg->admin_tls_key) < 0 ||
        (v[A_ALLOWED_HOSTS] && config_parse_allowed_hosts(c, v[A_ALLOWED_HOSTS]) < 0) ||
        (v[A_ALLOW_UNAUTH] && config_get_bool(c, v[A_ALLOW_UNAUTH], "allow_unauthenticated",
                                              &cfg->admin_allow_unauthenticated) < 0))
        return -1;
    if (v[A_LISTEN] && cfg->admin_listen) c->admin_listen_node = v[A_LISTEN];
    return 0;
}

/* The admin API changes servers and kills sessions: on an address other
 * machines reach it needs credentials, unless the operator says otherwise. */
static void config_check_admin_exposure(struct config_ctx *c)
{
    const struct mx_config *cfg = c->cfg;
    if (!c->admin_listen_node || !cfg->admin_listen || cfg->admin_user ||
        cfg->admin_allow_unauthenticated || config_loopback_listen(cfg->admin_listen))
        return;
    config_error(c, c->admin_listen_node,
                 "admin listen: '" CONFIG_ECHO "' is reachable from other machines and admin.user/"
                 "password are not set; set them, listen on 127.0.0.1, or set "
                 "admin.allow_unauthenticated: true",
                 cfg->admin_listen);
}

enum { LG_LEVEL, LG_SLOW_QUERY, LG_QUERY_TEXT, LG_FILE, LG_N };
static const char *const config_log_keys[LG_N] = {"level", "slow_query", "query_text", "file"};

/* `log:`; LEGACY is the top-level log_level node (or NULL), the same setting. */
static int config_parse_log(struct config_ctx *c, const yaml_node_t *map, const yaml_node_t *legacy)
{
    struct mx_config *cfg = c->cfg;
    yaml_node_t *v[LG_N];
    if (config_is_null(map)) return 0;
    if (config_fields(c, map, "log", "in log", config_log_keys, LG_N, v) < 0 ||
        config_alias_conflict(c, legacy, "log_level", v[LG_LEVEL], "log.level") < 0 ||
        (v[LG_LEVEL] && config_get_choice(c, v[LG_LEVEL], "level", config_log_levels,
                                          sizeof config_log_levels / sizeof config_log_levels[0],
                                          &cfg->log_level) < 0) ||
        (v[LG_SLOW_QUERY] &&
         config_get_duration(c, v[LG_SLOW_QUERY], "slow_query", 0, &cfg->slow_query_ms) < 0) ||
        (v[LG_QUERY_TEXT] &&
         config_get_bool(c, v[LG_QUERY_TEXT], "query_text", &cfg->log_queries) < 0))
        return -1;
    if (v[LG_FILE] && !config_is_null(v[LG_FILE]) &&
        config_get_string(c, v[LG_FILE], "file", &cfg->log_file) < 0)
        return -1;
    return 0;
}

/* ---- top level ---- */

enum {
    K_LISTEN,
    K_WORKERS,
    K_SERVER_VERSION,
    K_LOG_LEVEL,
    K_USERS,
    K_BACKENDS,
    K_HEALTH,
    K_POOL,
    K_LIMITS,
    K_BALANCE,
    K_SHUTDOWN,
    K_TLS,
    K_COMPRESSION,
    K_PROXY_PROTOCOL,
    K_ADMIN,
    K_LOG,
    K_ADMIN_LISTEN,
    K_INSTANCE_ID,
    K_BUSY_POLL,
    K_N
};
static const char *const config_top_keys[K_N] = {
    "listen",      "workers",        "server_version", "log_level", "users",        "backends",
    "health",      "pool",           "limits",         "balance",   "shutdown",     "tls",
    "compression", "proxy_protocol", "admin",          "log",       "admin_listen",
    "instance_id", "busy_poll",
};

static bool config_wildcard(const char *h)
{
    return strcmp(h, "0.0.0.0") == 0 || strcmp(h, "::") == 0 || strcmp(h, "*") == 0;
}

/* An HTTP listener on the SQL listener's address would fail at start-up (or,
 * with a wildcard, take its port): refused here. */
static void config_check_not_listen(struct config_ctx *c, const yaml_node_t *n, const char *addr,
                                    const char *key)
{
    if (!n || !addr) return;
    char *h = NULL, why[96];
    int port;
    if (config_split_hostport(addr, &h, &port, why, sizeof why) < 0) return;
    const struct mx_config *cfg = c->cfg;
    if (port == cfg->listen_port &&
        (strcasecmp(h, cfg->listen_host) == 0 || config_wildcard(h) ||
         config_wildcard(cfg->listen_host)))
        config_error(c, n, "%s: '" CONFIG_ECHO "' is the SQL listen address (%s:%d); give it "
                     "another port", key, addr, cfg->listen_host, cfg->listen_port);
    free(h);
}

/* listen, then every section even after one failed, so that a run reports
 * every error; a later check that needs an earlier value is skipped when that
 * value did not parse. */
static int config_parse_root(struct config_ctx *c, const yaml_node_t *root)
{
    struct mx_config *cfg = c->cfg;
    yaml_node_t *v[K_N];
    const char *at = "at top level";
    if (config_fields(c, root, "top level", at, config_top_keys, K_N, v) < 0) return -1;
    int errors = c->n_errors;
    bool listen_ok = false;
    if (config_require(c, root, at, "listen", v[K_LISTEN]) == 0 &&
        config_get_hostport(c, v[K_LISTEN], "listen", &cfg->listen_host, &cfg->listen_port) == 0) {
        listen_ok = true;
        cfg->listen_line = (int)v[K_LISTEN]->start_mark.line + 1;
        cfg->listen_col = (int)v[K_LISTEN]->start_mark.column + 1;
    }
    if (config_require(c, root, at, "users", v[K_USERS]) == 0 &&
        config_want_items(c, v[K_USERS], "users", "user") == 0)
        config_parse_users(c, v[K_USERS]);
    if (v[K_WORKERS])
        config_get_int(c, v[K_WORKERS], "workers", 0, CONFIG_MAX_WORKERS, &cfg->workers);
    if (v[K_SERVER_VERSION])
        config_get_opt_string(c, v[K_SERVER_VERSION], "server_version", &cfg->server_version);
    if (v[K_LOG_LEVEL])
        config_get_choice(c, v[K_LOG_LEVEL], "log_level", config_log_levels,
                          sizeof config_log_levels / sizeof config_log_levels[0], &cfg->log_level);
    /* The global health section before the backends, which start from it. */
    if (v[K_HEALTH]) config_parse_check(c, v[K_HEALTH], "in health", &cfg->health);
    if (config_require(c, root, at, "backends", v[K_BACKENDS]) == 0 &&
        config_want_items(c, v[K_BACKENDS], "backends", "backend") == 0)
        config_parse_backends(c, v[K_BACKENDS]);
    if (v[K_POOL]) config_parse_pool(c, v[K_POOL]);
    if (v[K_LIMITS]) config_parse_limits(c, v[K_LIMITS]);
    if (v[K_BALANCE]) config_parse_balance(c, v[K_BALANCE]);
    if (v[K_SHUTDOWN]) config_parse_shutdown(c, v[K_SHUTDOWN]);
    if (v[K_TLS]) config_parse_tls(c, v[K_TLS]);
    if (v[K_COMPRESSION]) config_parse_compression(c, v[K_COMPRESSION]);
    if (v[K_PROXY_PROTOCOL]) config_parse_proxy_protocol(c, v[K_PROXY_PROTOCOL]);
    if (v[K_ADMIN_LISTEN] &&
        config_get_addr_string(c, v[K_ADMIN_LISTEN], "admin_listen", &cfg->admin_listen) == 0 &&
        cfg->admin_listen)
        c->admin_listen_node = v[K_ADMIN_LISTEN];
    if (v[K_ADMIN]) config_parse_admin(c, v[K_ADMIN], v[K_ADMIN_LISTEN]);
    if (v[K_LOG]) config_parse_log(c, v[K_LOG], v[K_LOG_LEVEL]);
    if (v[K_INSTANCE_ID])
        config_get_int(c, v[K_INSTANCE_ID], "instance_id", 0, 255, &cfg->instance_id);
    if (v[K_BUSY_POLL] &&
        config_get_micros(c, v[K_BUSY_POLL], "busy_poll", 0, &cfg->busy_poll_us) == 0 &&
        cfg->busy_poll_us > 10000)
        config_error(c, v[K_BUSY_POLL], "busy_poll: %d us is more than the 10 ms a spin may last",
                     cfg->busy_poll_us);
    config_check_admin_exposure(c);
    if (listen_ok) {
        config_check_not_listen(c, c->admin_listen_node, cfg->admin_listen, "admin listen");
        config_check_not_listen(c, c->health_listen_node, cfg->health_listen,
                                "shutdown.health_listen");
    }
    if (c->n_errors > errors) return -1;
    if (cfg->accept_burst < 0) cfg->accept_burst = cfg->accept_rate;
    if (cfg->workers == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        cfg->workers = n < 1 ? 1 : n > CONFIG_MAX_WORKERS ? CONFIG_MAX_WORKERS : (int)n;
    }
    return 0;
}

/* ---- loading ---- */

static struct mx_config *config_new(const char *name)
{
    struct mx_config *cfg = calloc(1, sizeof *cfg);
    if (cfg == NULL) return NULL;
    cfg->generation = 1;
    cfg->path = strdup(name);
    cfg->log_level = strdup("info");
    cfg->balance = strdup("roundrobin");
    cfg->pool_max_per_backend = 64;
    cfg->pool_max_auto = true;
    cfg->pool_per_cpu = 8;
    cfg->pool_min_idle = 0;
    cfg->pool_idle_timeout_ms = 60000;
    cfg->pool_max_lifetime_ms = 3600000;
    cfg->pool_wait_timeout_ms = 10000;
    cfg->pool_query_timeout_ms = 3600000;
    cfg->pool_connect_timeout_ms = 5000;
    cfg->pool_multiplex = true;
    cfg->pool_max_prepared = 256;
    cfg->pool_max_prepared_unused = 16;
    cfg->max_client_connections = 10000;
    cfg->handshake_timeout_ms = 10000;
    cfg->client_idle_timeout_ms = 0;
    cfg->max_packet_size = 64 * 1024 * 1024;
    cfg->health.type = MX_CHECK_TCP;
    cfg->health.interval_ms = 2000;
    cfg->health.timeout_ms = 1000;
    cfg->health.rise = 2;
    cfg->health.fall = 3;
    cfg->health.query = strdup("SELECT 1");
    cfg->health.status_path = strdup("/status");
    cfg->slow_start_ms = 0;
    cfg->stick_expire_ms = 30 * 60000;
    cfg->stick_size = 100000;
    cfg->shutdown_grace_ms = 30000;
    cfg->tls_min_version = strdup("TLSv1.2");
    cfg->compress_enabled = true;
    cfg->compress_zstd = true;
    cfg->compress_level = 6;
    cfg->accept_rate = 0;
    cfg->accept_burst = -1; /* = accept_rate unless given; resolved at the end of the load */
    cfg->max_handshakes = 1000;
    cfg->auth_fail_max = 10;
    cfg->auth_fail_window_ms = 60000;
    cfg->auth_fail_block_ms = 300000;
    cfg->pool_connect_rate = 0;
    cfg->pool_max_connecting = 16;
    cfg->pool_max_waiting = 10000;
    cfg->digest_max = 5000;
    cfg->slow_query_ms = 1000;
    cfg->log_queries = false;
    if (cfg->path == NULL || cfg->log_level == NULL || cfg->balance == NULL ||
        cfg->health.query == NULL || cfg->health.status_path == NULL ||
        cfg->tls_min_version == NULL) {
        config_free(cfg);
        return NULL;
    }
    return cfg;
}

static int config_syntax_error(struct config_ctx *c, const yaml_parser_t *p)
{
    const yaml_mark_t *m = p->error == YAML_READER_ERROR ? &p->mark : &p->problem_mark;
    if (p->context != NULL)
        return config_error_at(c, m->line + 1, m->column + 1,
                               "YAML syntax error: %s (%s at line %zu column %zu)",
                               p->problem ? p->problem : "unknown", p->context,
                               p->context_mark.line + 1, p->context_mark.column + 1);
    return config_error_at(c, m->line + 1, m->column + 1, "YAML syntax error: %s",
                           p->problem ? p->problem : "unknown");
}

/* Loads the first (and only) document from P into *out. */
static int config_parse(const char *name, yaml_parser_t *p, struct mx_config **out, char *err,
                        size_t errlen)
{
    struct config_ctx c = {.name = name, .err = err, .errlen = errlen};
    yaml_document_t doc, extra;
    bool have_doc = false;
    int rc = -1;

    *out = NULL;
    if (err != NULL && errlen > 0) err[0] = '\0';
    if (!yaml_parser_load(p, &doc)) {
        config_syntax_error(&c, p);
        goto fail;
    }
    have_doc = true;
    c.doc = &doc;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (root == NULL) {
        config_error_at(&c, 1, 1,
                        "empty configuration (expected a mapping with listen, users "
                        "and backends)");
        goto fail;
    }
    if (!yaml_parser_load(p, &extra)) {
        config_syntax_error(&c, p);
        goto fail;
    }
    yaml_node_t *second = yaml_document_get_root_node(&extra);
    if (second != NULL) config_error(&c, second, "expected a single YAML document, found another");
    yaml_document_delete(&extra);
    if (second != NULL) goto fail;

    c.cfg = config_new(name);
    if (c.cfg == NULL) {
        config_error_at(&c, 1, 1, "out of memory");
        goto fail;
    }
    if (config_parse_root(&c, root) < 0 || c.n_errors > 0) goto fail;
    *out = c.cfg;
    c.cfg = NULL;
    rc = 0;
fail:
    config_free(c.cfg);
    if (have_doc) yaml_document_delete(&doc);
    return rc;
}

int config_load_string(const char *name, const char *yaml, size_t len, struct mx_config **out,
                       char *err, size_t errlen)
{
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p)) {
        *out = NULL;
        if (err != NULL && errlen > 0) snprintf(err, errlen, "%s: out of memory", name);
        return -1;
    }
    yaml_parser_set_input_string(&p, (const unsigned char *)yaml, len);
    int rc = config_parse(name, &p, out, err, errlen);
    yaml_parser_delete(&p);
    return rc;
}

int config_load(const char *path, struct mx_config **out, char *err, size_t errlen)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        if (err != NULL && errlen > 0)
            snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p)) {
        fclose(f);
        if (err != NULL && errlen > 0) snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    yaml_parser_set_input_file(&p, f);
    int rc = config_parse(path, &p, out, err, errlen);
    if (rc == 0 && ferror(f)) {
        config_free(*out);
        *out = NULL;
        if (err != NULL && errlen > 0) snprintf(err, errlen, "%s: read error", path);
        rc = -1;
    }
    yaml_parser_delete(&p);
    fclose(f);
    return rc;
}

void config_free(struct mx_config *cfg)
{
    if (cfg == NULL) return;
    for (size_t i = 0; i < cfg->n_users; i++) {
        struct mx_user *u = &cfg->users[i];
        free(u->name);
        if (u->password != NULL) OPENSSL_cleanse(u->password, strlen(u->password));
        free(u->password);
        free(u->sha2_hash);
        free(u->backend_user);
        if (u->backend_password != NULL)
            OPENSSL_cleanse(u->backend_password, strlen(u->backend_password));
        free(u->backend_password);
    }
    free(cfg->users);
    for (size_t i = 0; i < cfg->n_backends; i++) {
        struct mx_backend_cfg *b = &cfg->backends[i];
        free(b->name);
        free(b->host);
        config_check_free(&b->health);
        free(b->tls.ca);
        free(b->tls.cert);
        free(b->tls.key);
        free(b->tls.server_name);
    }
    free(cfg->backends);
    config_check_free(&cfg->health);
    free(cfg->path);
    free(cfg->listen_host);
    free(cfg->server_version);
    free(cfg->log_level);
    free(cfg->balance);
    free(cfg->stick_on);
    free(cfg->health_listen);
    free(cfg->log_file);
    free(cfg->upgrade_socket);
    free(cfg->tls_cert);
    free(cfg->tls_key);
    free(cfg->tls_ca);
    free(cfg->tls_min_version);
    free(cfg->tls_max_version);
    free(cfg->tls_ciphers);
    free(cfg->tls_ciphersuites);
    if (cfg->proxy_trusted != NULL)
        for (char **p = cfg->proxy_trusted; *p != NULL; p++)
            free(*p);
    free(cfg->proxy_trusted);
    free(cfg->admin_listen);
    free(cfg->admin_user);
    if (cfg->admin_password != NULL)
        OPENSSL_cleanse(cfg->admin_password, strlen(cfg->admin_password));
    free(cfg->admin_password);
    free(cfg->admin_tls_cert);
    free(cfg->admin_tls_key);
    if (cfg->admin_allowed_hosts != NULL)
        for (char **p = cfg->admin_allowed_hosts; *p != NULL; p++) free(*p);
    free(cfg->admin_allowed_hosts);
    free(cfg);
}

const struct mx_user *config_find_user(const struct mx_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_users; i++)
        if (strcmp(cfg->users[i].name, name) == 0) return &cfg->users[i];
    return NULL;
}
