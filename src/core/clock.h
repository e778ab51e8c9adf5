/* Monotonic time for the whole process: milliseconds for timeouts and ages,
 * microseconds for latencies. Both read the same clock as libuv's timers
 * (uv_hrtime, CLOCK_MONOTONIC); a command takes one reading when it starts and
 * one when it ends. */
#ifndef MX_CLOCK_H
#define MX_CLOCK_H

#include <stdint.h>
#include <uv.h>

static inline uint64_t mx_now_us(void)
{
    return uv_hrtime() / 1000;
}

static inline uint64_t mx_now_ms(void)
{
    return uv_hrtime() / 1000000;
}

#endif
