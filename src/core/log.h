/* Logging: one line per event, `ts level=… event=… key=value ...`, on stderr or
 * in log.file (reopened on SIGUSR1). %s arguments are escaped: control
 * characters always, quotes and backslashes when the format quotes the
 * field ("%s"), so a client-sent string cannot forge a line or a field. */
#ifndef MX_LOG_H
#define MX_LOG_H

#include <stdarg.h>

enum mx_log_level { MX_LOG_DEBUG, MX_LOG_INFO, MX_LOG_WARN, MX_LOG_ERROR };

extern int mx_log_level;

/* Sets the level by name ("debug", "info", "warn", "error"); returns 0 or -1. */
int log_set_level(const char *name);

/* Makes the logger's own copy of stderr (call first in main). 0 or -errno. */
int log_init(void);
/* Sends every line to path from now on (appended, created 0640), or back to
 * stderr with NULL; the previous file is let go. 0, or -errno with nothing
 * changed. */
int log_open(const char *path);
/* Opens the current file again (after logrotate moved it); 0 without a file. */
int log_reopen(void);
void log_close(void);

/* event: a short word (connect, auth_fail, backend_down ...); fmt: "key=value ..." */
void log_event(enum mx_log_level lvl, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void log_vevent(enum mx_log_level lvl, const char *event, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

#define log_debug(ev, ...) \
    do { if (mx_log_level <= MX_LOG_DEBUG) log_event(MX_LOG_DEBUG, ev, __VA_ARGS__); } while (0)
#define log_info(ev, ...) log_event(MX_LOG_INFO, ev, __VA_ARGS__)
#define log_warn(ev, ...) log_event(MX_LOG_WARN, ev, __VA_ARGS__)
#define log_error(ev, ...) log_event(MX_LOG_ERROR, ev, __VA_ARGS__)

#endif
