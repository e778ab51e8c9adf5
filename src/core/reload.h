/* Reload: a new configuration snapshot swapped in without dropping sessions. */
#ifndef MX_RELOAD_H
#define MX_RELOAD_H

#include <stddef.h>

struct mx_proxy;

/* Reads the configuration file again and swaps the new snapshot in. Backends
 * keep their slot by name (new ones get a free slot, removed ones are put in
 * maintenance so their sessions move at their next transaction boundary).
 * Changes that need a restart (listen address, workers) are logged and kept
 * as before. Thread-safe. Returns 0, or -1 with the reason in err (the old
 * configuration stays). */
int reload_config(struct mx_proxy *px, char *err, size_t errlen);

#endif
