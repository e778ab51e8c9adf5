/* systemd readiness (Type=notify) and watchdog, through libsystemd. */
#ifndef MX_NOTIFY_H
#define MX_NOTIFY_H

#include <stdint.h>

/* Sends state ("READY=1", "RELOADING=1", "STOPPING=1", "STATUS=…", lines
 * joined by '\n') when $NOTIFY_SOCKET is set. Returns 1 when sent, 0 when not
 * run by systemd, a negative errno on failure. */
int notify_send(const char *state);

/* The watchdog interval systemd asks for (WatchdogSec=, $WATCHDOG_USEC, for
 * this process by $WATCHDOG_PID), in ms; 0 when none. */
uint64_t notify_watchdog_ms(void);

#endif
