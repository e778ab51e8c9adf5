/* systemd readiness notification (Type=notify) and the watchdog interval,
 * through libsystemd's sd_notify(3) and sd_watchdog_enabled(3). */
#include "core/notify.h"

#include <systemd/sd-daemon.h>

uint64_t notify_watchdog_ms(void)
{
    uint64_t us = 0;
    /* 0: no watchdog, or one meant for another process ($WATCHDOG_PID) */
    if (sd_watchdog_enabled(0, &us) <= 0) return 0;
    return us / 1000;
}

int notify_send(const char *state)
{
    /* 0 without $NOTIFY_SOCKET, a positive count once sent, -errno on failure;
     * the environment stays: a reload or the shutdown notifies again */
    int rc = sd_notify(0, state);
    return rc > 0 ? 1 : rc;
}
