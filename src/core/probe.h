/* Start-up probe: read each backend's greeting once for its version and capabilities. */
#ifndef MX_PROBE_H
#define MX_PROBE_H

struct mx_proxy;

/* Fills px->server_version (from the first backend that answers, unless none
 * does: then a MySQL 8.0-compatible default) and px->backend_caps. */
void probe_backends(struct mx_proxy *px);

#endif
