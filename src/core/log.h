/* Logging: one line per event on stderr, `ts level event key=value ...`. */
#ifndef MX_LOG_H
#define MX_LOG_H

enum mx_log_level { MX_LOG_DEBUG, MX_LOG_INFO, MX_LOG_WARN, MX_LOG_ERROR };

extern int mx_log_level;

/* Sets the level by name ("debug", "info", "warn", "error"); returns 0 or -1. */
int log_set_level(const char *name);

/* event: a short word (connect, auth_fail, backend_down ...); fmt: "key=value ..." */
void log_event(enum mx_log_level lvl, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_debug(ev, ...) \
    do { if (mx_log_level <= MX_LOG_DEBUG) log_event(MX_LOG_DEBUG, ev, __VA_ARGS__); } while (0)
#define log_info(ev, ...) log_event(MX_LOG_INFO, ev, __VA_ARGS__)
#define log_warn(ev, ...) log_event(MX_LOG_WARN, ev, __VA_ARGS__)
#define log_error(ev, ...) log_event(MX_LOG_ERROR, ev, __VA_ARGS__)

#endif
