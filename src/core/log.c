/* Logging: key=value event lines, each written with one write() so lines from
 * different threads never interleave; to stderr or to log.file, which SIGUSR1
 * reopens (logrotate). Values from the format's %s arguments are escaped: no
 * control character passes (a newline could forge a line), and inside a
 * quoted field ("%s") neither a quote nor a backslash does. */
#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

int mx_log_level = MX_LOG_INFO;

static const char *level_names[] = {"debug", "info", "warn", "error"};

/* The descriptor every line goes to: a private copy of stderr made by
 * log_init, onto which log_open dup3()s the file, so that writers in other
 * threads never see a closed or reused descriptor number. -1 before
 * log_init: stderr itself. */
static int log_fd = -1;
static pthread_mutex_t log_path_lock = PTHREAD_MUTEX_INITIALIZER; /* guards log_path */
static char *log_path;

int log_set_level(const char *name)
{
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(name, level_names[i]) == 0) {
            mx_log_level = i;
            return 0;
        }
    }
    return -1;
}

int log_init(void)
{
    if (log_fd >= 0) return 0;
    int fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
    if (fd < 0) return -errno;
    log_fd = fd;
    return 0;
}

/* Points log_fd at path (NULL: stderr). Caller holds log_path_lock. */
static int log_point(const char *path)
{
    if (log_fd < 0) return -EINVAL;
    int src = STDERR_FILENO;
    if (path) {
        src = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
        if (src < 0) return -errno;
    }
    int rc = dup3(src, log_fd, O_CLOEXEC) < 0 ? -errno : 0;
    if (path) close(src);
    return rc;
}

int log_open(const char *path)
{
    pthread_mutex_lock(&log_path_lock);
    int rc = log_point(path);
    if (rc == 0) {
        free(log_path);
        log_path = path ? strdup(path) : NULL;
    }
    pthread_mutex_unlock(&log_path_lock);
    return rc;
}

int log_reopen(void)
{
    pthread_mutex_lock(&log_path_lock);
    int rc = log_path ? log_point(log_path) : 0;
    pthread_mutex_unlock(&log_path_lock);
    return rc;
}

void log_close(void)
{
    pthread_mutex_lock(&log_path_lock);
    free(log_path);
    log_path = NULL;
    pthread_mutex_unlock(&log_path_lock);
}

/* Appends s (at most max bytes of it) to out[*n..cap), escaped. */
static void log_put_str(char *out, size_t *n, size_t cap, const char *s, size_t max, bool quoted)
{
    static const char hex[] = "0123456789abcdef";
    if (!s) s = "(null)";
    for (size_t i = 0; i < max && s[i] && *n + 4 < cap; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '\n') {
            out[(*n)++] = '\\';
            out[(*n)++] = 'n';
        } else if (ch == '\r') {
            out[(*n)++] = '\\';
            out[(*n)++] = 'r';
        } else if (ch == '\t') {
            out[(*n)++] = '\\';
            out[(*n)++] = 't';
        } else if (ch < 0x20 || ch == 0x7f) {
            out[(*n)++] = '\\';
            out[(*n)++] = 'x';
            out[(*n)++] = hex[ch >> 4];
            out[(*n)++] = hex[ch & 15];
        } else if (quoted && (ch == '"' || ch == '\\')) {
            out[(*n)++] = '\\';
            out[(*n)++] = (char)ch;
        } else {
            out[(*n)++] = (char)ch;
        }
    }
}

/* vsnprintf, except that %s and %.*s arguments are escaped (log_put_str),
 * quoted when the conversion stands between two double quotes. Returns the
 * length written into out (always NUL-terminated, cap > 0). */
static size_t log_format(char *out, size_t cap, const char *fmt, va_list ap)
{
    size_t n = 0;
    const char *p = fmt;
    while (*p && n + 1 < cap) {
        if (*p != '%') {
            out[n++] = *p++;
            continue;
        }
        const char *start = p++;
        if (*p == '%') {
            out[n++] = '%';
            p++;
            continue;
        }
        while (*p && strchr("-+ #0", *p)) p++;
        int width = -1, prec = -1;
        if (*p == '*') {
            width = va_arg(ap, int);
            p++;
        } else {
            while (*p >= '0' && *p <= '9') p++;
        }
        if (*p == '.') {
            p++;
            if (*p == '*') {
                prec = va_arg(ap, int);
                p++;
            } else {
                prec = 0;
                while (*p >= '0' && *p <= '9') prec = prec * 10 + (*p++ - '0');
            }
        }
        int lng = 0; /* 1 l, 2 ll, 3 z, 4 j, 5 t, 6 L, -1 h, -2 hh */
        if (*p == 'h') lng = p[1] == 'h' ? (p += 2, -2) : (p++, -1);
        else if (*p == 'l') lng = p[1] == 'l' ? (p += 2, 2) : (p++, 1);
        else if (*p == 'z') lng = (p++, 3);
        else if (*p == 'j') lng = (p++, 4);
        else if (*p == 't') lng = (p++, 5);
        else if (*p == 'L') lng = (p++, 6);
        char conv = *p ? *p++ : 0;
        if (conv == 's') {
            const char *s = va_arg(ap, const char *);
            bool quoted = start > fmt && start[-1] == '"' && *p == '"';
            log_put_str(out, &n, cap, s, prec >= 0 ? (size_t)prec : (size_t)-1, quoted);
            continue;
        }
        /* any other conversion: printf it alone, star arguments already taken */
        char spec[48];
        size_t sl = 0;
        int stars = 0;
        spec[sl++] = '%';
        for (const char *q = start + 1; q < p && sl + 12 < sizeof spec; q++) {
            if (*q != '*') {
                spec[sl++] = *q;
                continue;
            }
            /* the first star is the width when the width was one, else the precision */
            int v = stars++ == 0 && width != -1 ? width : prec;
            sl += (size_t)snprintf(spec + sl, sizeof spec - sl, "%d", v);
        }
        spec[sl] = 0;
        char tmp[64];
        int m;
        switch (conv) {
        case 'd': case 'i': case 'u': case 'x': case 'X': case 'o': case 'c':
            if (lng == 2) m = snprintf(tmp, sizeof tmp, spec, va_arg(ap, long long));
            else if (lng == 1) m = snprintf(tmp, sizeof tmp, spec, va_arg(ap, long));
            else if (lng == 3) m = snprintf(tmp, sizeof tmp, spec, va_arg(ap, size_t));
            else if (lng == 4) m = snprintf(tmp, sizeof tmp, spec, va_arg(ap, intmax_t));
            else if (lng == 5) m = snprintf(tmp, sizeof tmp, spec, va_arg(ap, ptrdiff_t));
            else m = snprintf(tmp, sizeof tmp, spec, va_arg(ap, int));
            break;
        case 'f': case 'F': case 'g': case 'G': case 'e': case 'E':
            if (lng == 6) m = snprintf(tmp, sizeof tmp, spec, va_arg(ap, long double));
            else m = snprintf(tmp, sizeof tmp, spec, va_arg(ap, double));
            break;
        case 'p': m = snprintf(tmp, sizeof tmp, spec, va_arg(ap, void *)); break;
        default: m = 0; break; /* not a conversion this logger knows: dropped */
        }
        if (m < 0) m = 0;
        if ((size_t)m >= sizeof tmp) m = sizeof tmp - 1;
        for (int i = 0; i < m && n + 1 < cap; i++) out[n++] = tmp[i];
    }
    out[n] = 0;
    return n;
}

void log_vevent(enum mx_log_level lvl, const char *event, const char *fmt, va_list ap)
{
    if ((int)lvl < mx_log_level) return;
    char line[1024];
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ level=%s event=%s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, (int)(tv.tv_usec / 1000), level_names[lvl], event);
    if (n < 0) n = 0;
    size_t len = (size_t)n + log_format(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    line[len++] = '\n';
    ssize_t w = write(log_fd >= 0 ? log_fd : STDERR_FILENO, line, len);
    (void)w;
}

void log_event(enum mx_log_level lvl, const char *event, const char *fmt, ...)
{
    if ((int)lvl < mx_log_level) return;
    va_list ap;
    va_start(ap, fmt);
    log_vevent(lvl, event, fmt, ap);
    va_end(ap);
}
