/* Collation ids of the MySQL protocol: id <-> collation name <-> character set. */
#ifndef MX_CHARSET_H
#define MX_CHARSET_H

#include <stdint.h>

/* Collation name for a protocol collation id (handshake, column definitions),
 * or NULL if the id is unknown. */
const char *charset_collation_name(uint16_t id);

/* Character set name of a collation id ("utf8mb4"), or NULL if unknown.
 * MariaDB names the 3-byte UTF-8 set "utf8mb3". */
const char *charset_name_of(uint16_t id);

/* Id of a collation by name, case-insensitive; the MySQL 5.x spelling
 * "utf8_..." is accepted for "utf8mb3_...". -1 if unknown. */
int charset_collation_id(const char *collation_name);

/* Id of the default collation of a character set, case-insensitive ("utf8" is
 * accepted for "utf8mb3"). MariaDB's defaults (utf8mb4 -> 45
 * utf8mb4_general_ci, not MySQL 8.0's 255). -1 if unknown. */
int charset_default_collation(const char *charset_name);

#endif
