/* Stick table: which backend server a client address or user went to, with an
 * expiry, shared by all workers (HAProxy's `stick on src`). */
#ifndef MX_STICKY_H
#define MX_STICKY_H

#include <stddef.h>
#include <stdint.h>

struct sticky_table;

/* A table of at most `cap` entries (the least recently used goes when full).
 * Returns NULL on allocation failure. */
struct sticky_table *sticky_new(size_t cap) __attribute__((warn_unused_result));
void sticky_free(struct sticky_table *t);

/* The server stored for key, or -1 when absent or expired (an expired entry is
 * removed). A hit is refreshed: it expires expire_ms after now_ms and becomes
 * the most recently used. Any thread. */
int sticky_get(struct sticky_table *t, const char *key, uint64_t now_ms, uint64_t expire_ms);

/* Stores (or replaces) key -> server, expiring expire_ms after now_ms. Returns 0,
 * or -1 when out of memory (the key is then not stored). Any thread. */
int sticky_put(struct sticky_table *t, const char *key, int server, uint64_t now_ms,
               uint64_t expire_ms);

/* Removes key if present. Any thread. */
void sticky_del(struct sticky_table *t, const char *key);

/* Number of entries (including expired ones not yet removed). */
size_t sticky_count(struct sticky_table *t);

#endif
