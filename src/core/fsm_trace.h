/* Debugging aid for the state machines: with -DMX_STATE_TRACE (cmake
 * -DMYMUX_STATE_TRACE=ON) every move of a session or backend connection is
 * appended to the file $MYMUX_STATE_TRACE as "kind from to ok", and an
 * impossible move is recorded instead of aborting, so that one run of the test
 * suite shows whether the tables hold every move it makes. */
#ifndef MX_FSM_TRACE_H
#define MX_FSM_TRACE_H

#ifdef MX_STATE_TRACE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline void fsm_trace(const char *kind, const char *from, const char *to, int ok)
{
    static int fd = -2;
    if (fd == -2) {
        const char *path = getenv("MYMUX_STATE_TRACE");
        fd = path ? open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644) : -1;
    }
    if (fd < 0) return;
    char line[96];
    int n = snprintf(line, sizeof line, "%s %s %s %d\n", kind, from, to, ok);
    if (n > 0 && write(fd, line, (size_t)n) < 0) return;
}
#endif

#endif
