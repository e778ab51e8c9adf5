/* Control thread: one event loop in its own thread for work off the query path
 * (health checks); stopped through a uv_async_t from the main thread. */
#include "core/control.h"

#include <stdbool.h>
#include <uv.h>

#include "core/log.h"
#include "core/resolve.h"
#include "core/proxy.h"
#include "health/health.h"

static struct {
    uv_loop_t loop;
    uv_async_t stop;
    uv_thread_t thread;
    bool running;
} control;

static void control_on_stop(uv_async_t *a)
{
    health_stop();
    resolve_stop();
    uv_close((uv_handle_t *)a, NULL);
    /* The loop ends once the checks' close callbacks have run. */
}

static void control_main(void *arg)
{
    uv_run(&control.loop, UV_RUN_DEFAULT);
}

int control_start(struct mx_proxy *px)
{
    int rc = uv_loop_init(&control.loop);
    if (rc < 0) goto fail_log;
    rc = uv_async_init(&control.loop, &control.stop, control_on_stop);
    if (rc < 0) goto fail_loop;
    /* Handles are set up before the thread runs the loop: no race. */
    rc = health_start(&control.loop, px);
    if (rc < 0) goto fail_handles;
    rc = resolve_start(&control.loop, px);
    if (rc < 0) goto fail_handles;
    rc = uv_thread_create(&control.thread, control_main, NULL);
    if (rc < 0) goto fail_handles;
    control.running = true;
    return 0;

fail_handles:
    health_stop();
    resolve_stop();
    uv_close((uv_handle_t *)&control.stop, NULL);
    uv_run(&control.loop, UV_RUN_DEFAULT);
    health_free();
fail_loop:
    uv_loop_close(&control.loop);
fail_log:
    log_error("control_failed", "err=\"%s\"", uv_strerror(rc));
    return rc;
}

void control_stop(void)
{
    if (!control.running) return;
    control.running = false;
    uv_async_send(&control.stop);
    uv_thread_join(&control.thread);
    uv_loop_close(&control.loop);
    health_free();
}
