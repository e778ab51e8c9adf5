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
#include <unistd.h>

#include <openssl/evp.h>
#include <yaml.h>

#define CONFIG_MAX_KEYS 24
#define CONFIG_MAX_WORKERS 1024
/* How much of a bad value an error message quotes back. */
#define CONFIG_ECHO "%.80s"

/* Accepted `balance` algorithms (HAProxy's names). The router gives them meaning;
 * checking here turns a typo into a load error instead of a surprise at run time. */
static const char *const config_balance_names[] = {
    "roundrobin", "static-rr", "leastconn", "first", "source", "random",
};

static const char *const config_log_levels[] = {"debug", "info", "warn", "error"};

/* State of one load: where errors go and what is being built. */
struct config_ctx {
    const char *name; /* file name used in messages */
    yaml_document_t *doc;
    struct mx_config *cfg;
    char *err;
    size_t errlen;
};

/* ---- errors ---- */

static int config_error_at(struct config_ctx *c, size_t line, size_t col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Writes "NAME:LINE:COL: message" (LINE and COL 1-based) and returns -1. */
static int config_error_at(struct config_ctx *c, size_t line, size_t col, const char *fmt, ...)
{
    if (c->err == NULL || c->errlen == 0) return -1;
    int n = snprintf(c->err, c->errlen, "%s:%zu:%zu: ", c->name, line, col);
    if (n >= 0 && (size_t)n < c->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
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
    char list[256];
    config_join(list, sizeof list, names, nnames);
    return config_error(c, n, "%s: expected one of %s, got '" CONFIG_ECHO "'", key, list, s);
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
                           const void *aval, const yaml_node_t *bn, const char *b,
                           const void *bval)
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
        if (end == NULL && slash[1] >= '0' && slash[1] <= '9') bits = 1001;
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
 * of KEYS[i] or NULL. Unknown and repeated keys are errors. WHERE ("in user",
 * "at top level") and LABEL ("user") go into messages. */
static int config_fields(struct config_ctx *c, const yaml_node_t *map, const char *label,
                         const char *where, const char *const *keys, size_t n, yaml_node_t **vals)
{
    yaml_node_t *knodes[CONFIG_MAX_KEYS];
    memset(knodes, 0, sizeof knodes);
    if (n > CONFIG_MAX_KEYS) return config_error(c, map, "%s: too many keys (raise CONFIG_MAX_KEYS)", label);
    for (size_t i = 0; i < n; i++)
        vals[i] = NULL;
    if (map->type != YAML_MAPPING_NODE)
        return config_error(c, map, "%s: expected a mapping, got %s", label, config_node_kind(map));
    for (yaml_node_pair_t *pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top;
         pr++) {
        yaml_node_t *k = yaml_document_get_node(c->doc, pr->key);
        yaml_node_t *v = yaml_document_get_node(c->doc, pr->value);
        if (k->type != YAML_SCALAR_NODE)
            return config_error(c, k, "expected a scalar key %s, got %s", where,
                                config_node_kind(k));
        size_t i;
        for (i = 0; i < n; i++)
            if (strcmp(config_scalar(k), keys[i]) == 0) break;
        if (i == n) {
            char list[400];
            config_join(list, sizeof list, keys, n);
            return config_error(c, k, "unknown key '" CONFIG_ECHO "' %s (expected one of: %s)",
                                config_scalar(k), where, list);
        }
        if (vals[i] != NULL)
            return config_error(c, k, "duplicate key '%s' %s (first at line %zu)", keys[i], where,
                                knodes[i]->start_mark.line + 1);
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

/* ---- sections ---- */

enum { U_NAME, U_PASSWORD, U_BACKEND_USER, U_BACKEND_PASSWORD, U_REQUIRE_TLS, U_MAX_CONN, U_N };
static const char *const config_user_keys[U_N] = {
    "name", "password", "backend_user", "backend_password", "require_tls", "max_connections",
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
    if (v[U_MAX_CONN] &&
        config_get_int(c, v[U_MAX_CONN], "max_connections", 0, INT_MAX, &u->max_connections) < 0)
        return -1;
    return 0;
}

enum { B_NAME, B_ADDRESS, B_WEIGHT, B_BACKUP, B_MAX_CONN, B_STATUS_PORT, B_N };
static const char *const config_backend_keys[B_N] = {
    "name", "address", "weight", "backup", "max_connections", "status_port",
};

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
    if (v[B_WEIGHT] && config_get_int(c, v[B_WEIGHT], "weight", 1, 1000000, &b->weight) < 0)
        return -1;
    if (v[B_BACKUP] && config_get_bool(c, v[B_BACKUP], "backup", &b->backup) < 0) return -1;
    if (v[B_MAX_CONN] &&
        config_get_int(c, v[B_MAX_CONN], "max_connections", 0, INT_MAX, &b->max_connections) < 0)
        return -1;
    if (v[B_STATUS_PORT] &&
        config_get_int(c, v[B_STATUS_PORT], "status_port", 0, 65535, &b->status_port) < 0)
        return -1;
    return 0;
}

/* Position of the first earlier item whose name node equals NAMES[i], or -1. */
static long config_find_dup(yaml_node_t **names, size_t i)
{
    for (size_t j = 0; j < i; j++)
        if (strcmp(config_scalar(names[j]), config_scalar(names[i])) == 0) return (long)j;
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
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *item = yaml_document_get_node(c->doc, seq->data.sequence.items.start[i]);
        if (config_parse_user(c, item, &cfg->users[i]) < 0) goto fail;
        names[i] = config_name_node(c, item);
        long d = config_find_dup(names, i);
        if (d >= 0) {
            config_error(c, names[i], "duplicate user name '" CONFIG_ECHO "' (first at line %zu)",
                         cfg->users[i].name, names[d]->start_mark.line + 1);
            goto fail;
        }
    }
    free(names);
    return 0;
fail:
    free(names);
    return -1;
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
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *item = yaml_document_get_node(c->doc, seq->data.sequence.items.start[i]);
        if (config_parse_backend(c, item, &cfg->backends[i]) < 0) goto fail;
        names[i] = config_name_node(c, item);
        long d = config_find_dup(names, i);
        if (d >= 0) {
            config_error(c, names[i],
                         "duplicate backend name '" CONFIG_ECHO "' (first at line %zu)",
                         cfg->backends[i].name, names[d]->start_mark.line + 1);
            goto fail;
        }
    }
    free(names);
    return 0;
fail:
    free(names);
    return -1;
}

enum { P_MAX, P_MIN_IDLE, P_IDLE, P_LIFETIME, P_WAIT, P_CONNECT, P_MULTIPLEX, P_PREPARED, P_N };
static const char *const config_pool_keys[P_N] = {
    "max_per_backend", "min_idle",        "idle_timeout", "max_lifetime",
    "wait_timeout",    "connect_timeout", "multiplex",    "max_prepared",
};

static int config_parse_pool(struct config_ctx *c, const yaml_node_t *map)
{
    struct mx_config *cfg = c->cfg;
    yaml_node_t *v[P_N];
    if (config_is_null(map)) return 0;
    if (config_fields(c, map, "pool", "in pool", config_pool_keys, P_N, v) < 0) return -1;
    if ((v[P_MAX] && config_get_int(c, v[P_MAX], "max_per_backend", 1, INT_MAX,
                                    &cfg->pool_max_per_backend) < 0) ||
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
        (v[P_PREPARED] && config_get_int(c, v[P_PREPARED], "max_prepared", 1, 65535,
                                         &cfg->pool_max_prepared) < 0))
        return -1;
    if (cfg->pool_min_idle > cfg->pool_max_per_backend)
        return config_error(c, v[P_MIN_IDLE] ? v[P_MIN_IDLE] : map,
                            "min_idle: must not exceed max_per_backend (%d), got %d",
                            cfg->pool_max_per_backend, cfg->pool_min_idle);
    return 0;
}

enum { L_MAX_CLIENTS, L_HANDSHAKE, L_CLIENT_IDLE, L_MAX_PACKET, L_N };
static const char *const config_limits_keys[L_N] = {
    "max_client_connections",
    "handshake_timeout",
    "client_idle_timeout",
    "max_packet_size",
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
         config_get_size(c, v[L_MAX_PACKET], "max_packet_size", 1024, &cfg->max_packet_size) < 0))
        return -1;
    return 0;
}

enum {
    K_LISTEN,
    K_WORKERS,
    K_SERVER_VERSION,
    K_LOG_LEVEL,
    K_USERS,
    K_BACKENDS,
    K_POOL,
    K_LIMITS,
    K_BALANCE,
    K_ADMIN_LISTEN,
    K_N
};
static const char *const config_top_keys[K_N] = {
    "listen",   "workers", "server_version", "log_level", "users",
    "backends", "pool",    "limits",         "balance",   "admin_listen",
};

static int config_parse_root(struct config_ctx *c, const yaml_node_t *root)
{
    struct mx_config *cfg = c->cfg;
    yaml_node_t *v[K_N];
    const char *at = "at top level";
    if (config_fields(c, root, "top level", at, config_top_keys, K_N, v) < 0 ||
        config_require(c, root, at, "listen", v[K_LISTEN]) < 0 ||
        config_require(c, root, at, "users", v[K_USERS]) < 0 ||
        config_require(c, root, at, "backends", v[K_BACKENDS]) < 0 ||
        config_get_hostport(c, v[K_LISTEN], "listen", &cfg->listen_host, &cfg->listen_port) < 0)
        return -1;
    if (v[K_WORKERS] &&
        config_get_int(c, v[K_WORKERS], "workers", 0, CONFIG_MAX_WORKERS, &cfg->workers) < 0)
        return -1;
    if (v[K_SERVER_VERSION] &&
        config_get_opt_string(c, v[K_SERVER_VERSION], "server_version", &cfg->server_version) < 0)
        return -1;
    if (v[K_LOG_LEVEL] && config_get_choice(c, v[K_LOG_LEVEL], "log_level", config_log_levels,
                                            sizeof config_log_levels / sizeof config_log_levels[0],
                                            &cfg->log_level) < 0)
        return -1;
    if (config_want_items(c, v[K_USERS], "users", "user") < 0 ||
        config_parse_users(c, v[K_USERS]) < 0)
        return -1;
    if (config_want_items(c, v[K_BACKENDS], "backends", "backend") < 0 ||
        config_parse_backends(c, v[K_BACKENDS]) < 0)
        return -1;
    if (v[K_POOL] && config_parse_pool(c, v[K_POOL]) < 0) return -1;
    if (v[K_LIMITS] && config_parse_limits(c, v[K_LIMITS]) < 0) return -1;
    if (v[K_BALANCE] &&
        config_get_choice(c, v[K_BALANCE], "balance", config_balance_names,
                          sizeof config_balance_names / sizeof config_balance_names[0],
                          &cfg->balance) < 0)
        return -1;
    if (v[K_ADMIN_LISTEN]) {
        if (config_get_opt_string(c, v[K_ADMIN_LISTEN], "admin_listen", &cfg->admin_listen) < 0)
            return -1;
        char *h = NULL, why[96];
        int port;
        if (cfg->admin_listen != NULL &&
            config_split_hostport(cfg->admin_listen, &h, &port, why, sizeof why) < 0)
            return config_error(c, v[K_ADMIN_LISTEN], "admin_listen: %s, got '" CONFIG_ECHO "'",
                                why, cfg->admin_listen);
        free(h);
    }
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
    cfg->pool_min_idle = 0;
    cfg->pool_idle_timeout_ms = 60000;
    cfg->pool_max_lifetime_ms = 3600000;
    cfg->pool_wait_timeout_ms = 10000;
    cfg->pool_connect_timeout_ms = 5000;
    cfg->pool_multiplex = true;
    cfg->pool_max_prepared = 256;
    cfg->max_client_connections = 10000;
    cfg->handshake_timeout_ms = 10000;
    cfg->client_idle_timeout_ms = 0;
    cfg->max_packet_size = 64 * 1024 * 1024;
    if (cfg->path == NULL || cfg->log_level == NULL || cfg->balance == NULL) {
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
    if (config_parse_root(&c, root) < 0) goto fail;
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
        free(cfg->backends[i].name);
        free(cfg->backends[i].host);
    }
    free(cfg->backends);
    free(cfg->path);
    free(cfg->listen_host);
    free(cfg->server_version);
    free(cfg->log_level);
    free(cfg->balance);
    free(cfg->admin_listen);
    free(cfg);
}

const struct mx_user *config_find_user(const struct mx_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_users; i++)
        if (strcmp(cfg->users[i].name, name) == 0) return &cfg->users[i];
    return NULL;
}
