/* Unit tests for src/core/config.c: values, defaults, and exact error positions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/config.h"

#ifndef MYMUX_SOURCE_DIR
#define MYMUX_SOURCE_DIR "."
#endif

/* The smallest valid file; tests append keys to it. */
#define BASE_USERS                                                                                 \
    "users:\n"                                                                                     \
    "  - name: app\n"                                                                              \
    "    password: apppass\n"
#define BASE_BACKENDS                                                                              \
    "backends:\n"                                                                                  \
    "  - name: db1\n"                                                                              \
    "    address: 127.0.0.1:3306\n"
#define BASE "listen: 127.0.0.1:6033\n" BASE_USERS BASE_BACKENDS

/* SHA1(SHA1("apppass")) */
static const char *const APPPASS_HASH = "*90BE3C2682EBF3427EDA20315D6EAB9E31FD1023";

/* A well-formed caching_sha2_password string (the salt has YAML-hostile ':' and '#'). */
#define SHA2_HASH                                                                                  \
    "$A$005$ab:cd#ef gh/ij.kl'mn"                                                                  \
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"

static struct mx_config *load_ok(const char *yaml)
{
    struct mx_config *cfg = NULL;
    char err[512] = "";
    int rc = config_load_string("t.yaml", yaml, strlen(yaml), &cfg, err, sizeof err);
    if (rc != 0) fail_msg("unexpected error: %s", err);
    assert_non_null(cfg);
    return cfg;
}

static void expect_error(const char *yaml, const char *want)
{
    struct mx_config *cfg = (struct mx_config *)1;
    char err[512] = "";
    int rc = config_load_string("t.yaml", yaml, strlen(yaml), &cfg, err, sizeof err);
    assert_int_equal(rc, -1);
    assert_null(cfg);
    assert_string_equal(err, want);
}

static void hex20(const uint8_t b[20], char out[41])
{
    for (int i = 0; i < 20; i++)
        snprintf(out + 2 * i, 3, "%02X", b[i]);
}

static void test_full_file(void **state)
{
    (void)state;
    struct mx_config *cfg = load_ok("listen: 0.0.0.0:7000\n"
                                    "workers: 3\n"
                                    "server_version: 8.0.36-mymux\n"
                                    "log_level: debug\n"
                                    "users:\n"
                                    "  - name: app\n"
                                    "    password: apppass\n"
                                    "    backend_user: app_be\n"
                                    "    backend_password: bepass\n"
                                    "    require_tls: yes\n"
                                    "    max_connections: 50\n"
                                    "  - name: ro\n"
                                    "    password: '*90be3c2682ebf3427eda20315d6eab9e31fd1023'\n"
                                    "    backend_password: ropass\n"
                                    "  - name: s2\n"
                                    "    password: \"" SHA2_HASH "\"\n"
                                    "backends:\n"
                                    "  - name: db1\n"
                                    "    address: 10.0.0.1:3307\n"
                                    "    weight: 3\n"
                                    "    backup: off\n"
                                    "    max_connections: 20\n"
                                    "    status_port: 10080\n"
                                    "  - name: db2\n"
                                    "    address: db2.example:3308\n"
                                    "    backup: on\n"
                                    "pool:\n"
                                    "  max_per_backend: 32\n"
                                    "  min_idle: 2\n"
                                    "  idle_timeout: 30s\n"
                                    "  max_lifetime: 2h\n"
                                    "  wait_timeout: 1500ms\n"
                                    "  connect_timeout: 3000\n"
                                    "  multiplex: false\n"
                                    "limits:\n"
                                    "  max_client_connections: 500\n"
                                    "  handshake_timeout: 1m\n"
                                    "  client_idle_timeout: 8h\n"
                                    "  max_packet_size: 16MiB\n"
                                    "balance: leastconn\n"
                                    "admin_listen: 127.0.0.1:8080\n");

    assert_string_equal(cfg->path, "t.yaml");
    assert_int_equal(cfg->generation, 1);
    assert_string_equal(cfg->listen_host, "0.0.0.0");
    assert_int_equal(cfg->listen_port, 7000);
    assert_int_equal(cfg->workers, 3);
    assert_string_equal(cfg->server_version, "8.0.36-mymux");
    assert_string_equal(cfg->log_level, "debug");

    assert_int_equal(cfg->n_users, 3);
    const struct mx_user *u = &cfg->users[0];
    char hex[41];
    assert_string_equal(u->name, "app");
    assert_int_equal(u->pw_kind, MX_PW_PLAIN);
    assert_string_equal(u->password, "apppass");
    hex20(u->native_stage2, hex);
    assert_string_equal(hex, APPPASS_HASH + 1);
    assert_null(u->sha2_hash);
    assert_string_equal(u->backend_user, "app_be");
    assert_string_equal(u->backend_password, "bepass");
    assert_true(u->require_tls);
    assert_int_equal(u->max_connections, 50);

    u = &cfg->users[1];
    assert_string_equal(u->name, "ro");
    assert_int_equal(u->pw_kind, MX_PW_NATIVE);
    assert_null(u->password);
    hex20(u->native_stage2, hex);
    assert_string_equal(hex, APPPASS_HASH + 1);
    assert_string_equal(u->backend_user, "ro");
    assert_string_equal(u->backend_password, "ropass");
    assert_false(u->require_tls);
    assert_int_equal(u->max_connections, 0);

    u = &cfg->users[2];
    assert_int_equal(u->pw_kind, MX_PW_SHA2);
    assert_string_equal(u->sha2_hash, SHA2_HASH);
    assert_null(u->password);
    assert_null(u->backend_password);

    assert_int_equal(cfg->n_backends, 2);
    const struct mx_backend_cfg *b = &cfg->backends[0];
    assert_string_equal(b->name, "db1");
    assert_string_equal(b->host, "10.0.0.1");
    assert_int_equal(b->port, 3307);
    assert_int_equal(b->weight, 3);
    assert_false(b->backup);
    assert_int_equal(b->max_connections, 20);
    assert_int_equal(b->status_port, 10080);
    b = &cfg->backends[1];
    assert_string_equal(b->name, "db2");
    assert_string_equal(b->host, "db2.example");
    assert_int_equal(b->port, 3308);
    assert_int_equal(b->weight, 1);
    assert_true(b->backup);
    assert_int_equal(b->max_connections, 0);
    assert_int_equal(b->status_port, 0);

    assert_int_equal(cfg->pool_max_per_backend, 32);
    assert_int_equal(cfg->pool_min_idle, 2);
    assert_int_equal(cfg->pool_idle_timeout_ms, 30000);
    assert_int_equal(cfg->pool_max_lifetime_ms, 7200000);
    assert_int_equal(cfg->pool_wait_timeout_ms, 1500);
    assert_int_equal(cfg->pool_connect_timeout_ms, 3000);
    assert_false(cfg->pool_multiplex);
    assert_int_equal(cfg->max_client_connections, 500);
    assert_int_equal(cfg->handshake_timeout_ms, 60000);
    assert_int_equal(cfg->client_idle_timeout_ms, 8 * 3600000);
    assert_int_equal(cfg->max_packet_size, 16 << 20);
    assert_string_equal(cfg->balance, "leastconn");
    assert_string_equal(cfg->admin_listen, "127.0.0.1:8080");

    assert_ptr_equal(config_find_user(cfg, "ro"), &cfg->users[1]);
    assert_null(config_find_user(cfg, "nobody"));
    config_free(cfg);
}

static void test_defaults(void **state)
{
    (void)state;
    struct mx_config *cfg = load_ok(BASE);
    assert_int_equal(cfg->generation, 1);
    assert_string_equal(cfg->listen_host, "127.0.0.1");
    assert_int_equal(cfg->listen_port, 6033);
    assert_int_equal(cfg->workers, (int)sysconf(_SC_NPROCESSORS_ONLN));
    assert_null(cfg->server_version);
    assert_string_equal(cfg->log_level, "info");
    const struct mx_user *u = &cfg->users[0];
    assert_string_equal(u->backend_user, "app");
    assert_null(u->backend_password);
    assert_false(u->require_tls);
    assert_int_equal(u->max_connections, 0);
    const struct mx_backend_cfg *b = &cfg->backends[0];
    assert_int_equal(b->weight, 1);
    assert_false(b->backup);
    assert_int_equal(b->max_connections, 0);
    assert_int_equal(b->status_port, 0);
    assert_int_equal(cfg->pool_max_per_backend, 64);
    assert_int_equal(cfg->pool_min_idle, 0);
    assert_int_equal(cfg->pool_idle_timeout_ms, 60000);
    assert_int_equal(cfg->pool_max_lifetime_ms, 3600000);
    assert_int_equal(cfg->pool_wait_timeout_ms, 10000);
    assert_int_equal(cfg->pool_connect_timeout_ms, 5000);
    assert_true(cfg->pool_multiplex);
    assert_int_equal(cfg->max_client_connections, 10000);
    assert_int_equal(cfg->handshake_timeout_ms, 10000);
    assert_int_equal(cfg->client_idle_timeout_ms, 0);
    assert_int_equal(cfg->max_packet_size, 64 << 20);
    assert_string_equal(cfg->balance, "roundrobin");
    assert_null(cfg->admin_listen);
    config_free(cfg);
}

/* null, ~ and empty mean "absent" for optional values; quoted "null" is a string. */
static void test_nulls(void **state)
{
    (void)state;
    struct mx_config *cfg = load_ok(BASE "server_version: ~\n"
                                         "admin_listen:\n"
                                         "log_level: null\n"
                                         "pool:\n"
                                         "limits: ~\n");
    assert_null(cfg->server_version);
    assert_null(cfg->admin_listen);
    assert_string_equal(cfg->log_level, "info");
    assert_int_equal(cfg->pool_max_per_backend, 64);
    config_free(cfg);

    cfg = load_ok(BASE "server_version: 'null'\n");
    assert_string_equal(cfg->server_version, "null");
    config_free(cfg);
}

static void test_workers_zero(void **state)
{
    (void)state;
    struct mx_config *cfg =
        load_ok("listen: 127.0.0.1:6033\nworkers: 0\n" BASE_USERS BASE_BACKENDS);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    assert_true(ncpu >= 1);
    assert_int_equal(cfg->workers, ncpu);
    assert_true(cfg->workers >= 1);
    config_free(cfg);
}

static void test_ipv6_listen(void **state)
{
    (void)state;
    struct mx_config *cfg = load_ok("listen: '[::1]:6033'\n" BASE_USERS "backends:\n"
                                    "  - name: db1\n"
                                    "    address: \"[fe80::1:2]:3306\"\n");
    assert_string_equal(cfg->listen_host, "::1");
    assert_int_equal(cfg->listen_port, 6033);
    assert_string_equal(cfg->backends[0].host, "fe80::1:2");
    assert_int_equal(cfg->backends[0].port, 3306);
    config_free(cfg);

    expect_error("listen: ::1:6033\n" BASE_USERS BASE_BACKENDS,
                 "t.yaml:1:9: listen: expected host:port (IPv6 addresses go in brackets, as "
                 "[::1]:6033), got '::1:6033'");
    expect_error("listen: '[::zz]:6033'\n" BASE_USERS BASE_BACKENDS,
                 "t.yaml:1:9: listen: expected an IPv6 address in brackets, got '[::zz]:6033'");
    expect_error("listen: '[::1]6033'\n" BASE_USERS BASE_BACKENDS,
                 "t.yaml:1:9: listen: expected host:port, got '[::1]6033'");
}

static void test_host_port_errors(void **state)
{
    (void)state;
    expect_error("listen: 127.0.0.1:6033\n" BASE_USERS "backends:\n"
                 "  - name: db1\n"
                 "    address: 127.0.0.1:3307\n"
                 "  - name: db2\n"
                 "    address: 127.0.0.1\n",
                 "t.yaml:9:14: address: expected host:port, got '127.0.0.1'");
    expect_error("listen: 127.0.0.1:0\n" BASE_USERS BASE_BACKENDS,
                 "t.yaml:1:9: listen: port must be between 1 and 65535, got '127.0.0.1:0'");
    expect_error("listen: 127.0.0.1:65536\n" BASE_USERS BASE_BACKENDS,
                 "t.yaml:1:9: listen: port must be between 1 and 65535, got '127.0.0.1:65536'");
    expect_error("listen: :6033\n" BASE_USERS BASE_BACKENDS,
                 "t.yaml:1:9: listen: expected host:port, got ':6033'");
    expect_error("listen: host:http\n" BASE_USERS BASE_BACKENDS,
                 "t.yaml:1:9: listen: expected host:port, got 'host:http'");
    expect_error("listen:\n" BASE_USERS BASE_BACKENDS,
                 "t.yaml:1:8: listen: expected host:port, got null");
    expect_error(BASE "admin_listen: localhost\n",
                 "t.yaml:8:15: admin_listen: expected host:port, got 'localhost'");
    struct mx_config *cfg = load_ok("listen: 127.0.0.1:65535\n" BASE_USERS BASE_BACKENDS);
    assert_int_equal(cfg->listen_port, 65535);
    config_free(cfg);
}

static void test_unknown_keys(void **state)
{
    (void)state;
    expect_error("listen: 127.0.0.1:6033\n" BASE_USERS "backends:\n"
                 "  - name: db1\n"
                 "    adress: 127.0.0.1:3307\n",
                 "t.yaml:7:5: unknown key 'adress' in backend (expected one of: name, address, "
                 "weight, backup, max_connections, status_port)");
    expect_error(BASE "listn: 1\n",
                 "t.yaml:8:1: unknown key 'listn' at top level (expected one of: listen, "
                 "workers, server_version, log_level, users, backends, pool, limits, balance, "
                 "admin_listen)");
    expect_error("listen: 127.0.0.1:6033\n"
                 "users:\n"
                 "  - name: app\n"
                 "    pasword: x\n" BASE_BACKENDS,
                 "t.yaml:4:5: unknown key 'pasword' in user (expected one of: name, password, "
                 "backend_user, backend_password, require_tls, max_connections)");
    expect_error(BASE "pool:\n  max: 3\n",
                 "t.yaml:9:3: unknown key 'max' in pool (expected one of: max_per_backend, "
                 "min_idle, idle_timeout, max_lifetime, wait_timeout, connect_timeout, "
                 "multiplex, max_prepared)");
    expect_error(BASE "limits: {max_packet: 3}\n",
                 "t.yaml:8:10: unknown key 'max_packet' in limits (expected one of: "
                 "max_client_connections, handshake_timeout, client_idle_timeout, "
                 "max_packet_size)");
    expect_error(BASE "listen: 127.0.0.1:6034\n",
                 "t.yaml:8:1: duplicate key 'listen' at top level (first at line 1)");
}

static void test_missing_keys(void **state)
{
    (void)state;
    expect_error(BASE_USERS BASE_BACKENDS,
                 "t.yaml:1:1: missing required key 'listen' at top level");
    expect_error("listen: 127.0.0.1:6033\n" BASE_BACKENDS,
                 "t.yaml:1:1: missing required key 'users' at top level");
    expect_error("# comment\n\nlisten: 127.0.0.1:6033\n" BASE_USERS,
                 "t.yaml:3:1: missing required key 'backends' at top level");
    expect_error("listen: 127.0.0.1:6033\n"
                 "users:\n"
                 "  - name: app\n"
                 "  - name: other\n"
                 "    password: x\n" BASE_BACKENDS,
                 "t.yaml:3:5: missing required key 'password' in user");
    expect_error("listen: 127.0.0.1:6033\n"
                 "users:\n"
                 "  - password: x\n" BASE_BACKENDS,
                 "t.yaml:3:5: missing required key 'name' in user");
    expect_error("listen: 127.0.0.1:6033\n" BASE_USERS "backends:\n"
                 "  - name: db1\n",
                 "t.yaml:6:5: missing required key 'address' in backend");
    expect_error("listen: 127.0.0.1:6033\n" BASE_USERS "backends:\n"
                 "  - {address: '127.0.0.1:1'}\n",
                 "t.yaml:6:5: missing required key 'name' in backend");
    expect_error("listen: 127.0.0.1:6033\nusers: []\n" BASE_BACKENDS,
                 "t.yaml:2:8: users: expected at least one user");
    expect_error("listen: 127.0.0.1:6033\n" BASE_USERS "backends: ~\n",
                 "t.yaml:5:11: backends: expected at least one backend");
    expect_error("listen: 127.0.0.1:6033\nusers:\n  name: app\n" BASE_BACKENDS,
                 "t.yaml:3:3: users: expected a sequence of users, got a mapping");
    expect_error("listen: 127.0.0.1:6033\nusers:\n  - app\n" BASE_BACKENDS,
                 "t.yaml:3:5: user: expected a mapping, got a scalar");
    expect_error("listen: 127.0.0.1:6033\nusers:\n  - name: ''\n    password: x\n" BASE_BACKENDS,
                 "t.yaml:3:11: name: expected a non-empty string");
    expect_error(BASE "pool: 3\n", "t.yaml:8:7: pool: expected a mapping, got a scalar");
    expect_error(BASE "workers: [1]\n", "t.yaml:8:10: workers: expected a scalar, got a sequence");
    expect_error("", "t.yaml:1:1: empty configuration (expected a mapping with listen, users and "
                     "backends)");
    expect_error("- a\n", "t.yaml:1:1: top level: expected a mapping, got a sequence");
    expect_error(BASE "---\nlisten: x\n",
                 "t.yaml:9:1: expected a single YAML document, found another");
}

static void test_duplicate_names(void **state)
{
    (void)state;
    expect_error("listen: 127.0.0.1:6033\n"
                 "users:\n"
                 "  - name: app\n"
                 "    password: a\n"
                 "  - name: app\n"
                 "    password: b\n" BASE_BACKENDS,
                 "t.yaml:5:11: duplicate user name 'app' (first at line 3)");
    expect_error("listen: 127.0.0.1:6033\n" BASE_USERS "backends:\n"
                 "  - name: db1\n"
                 "    address: 127.0.0.1:3306\n"
                 "  - name: db2\n"
                 "    address: 127.0.0.1:3307\n"
                 "  - address: 127.0.0.1:3308\n"
                 "    name: db1\n",
                 "t.yaml:11:11: duplicate backend name 'db1' (first at line 6)");
}

static void test_syntax_error(void **state)
{
    (void)state;
    expect_error("listen: 127.0.0.1:6033\n"
                 "users: [a, b\n",
                 "t.yaml:3:1: YAML syntax error: did not find expected ',' or ']' (while "
                 "parsing a flow sequence at line 2 column 8)");
    expect_error("listen: 127.0.0.1:6033\n"
                 "  workers: 2\n",
                 "t.yaml:2:10: YAML syntax error: mapping values are not allowed in this context");
    expect_error("listen: 'unterminated\n",
                 "t.yaml:2:1: YAML syntax error: found unexpected end of stream (while scanning "
                 "a quoted scalar at line 1 column 9)");
}

static void test_integers_and_bools(void **state)
{
    (void)state;
    expect_error("listen: 127.0.0.1:6033\nworkers: two\n" BASE_USERS BASE_BACKENDS,
                 "t.yaml:2:10: workers: expected a non-negative integer, got 'two'");
    expect_error(BASE "workers: -1\n",
                 "t.yaml:8:10: workers: expected a non-negative integer, got '-1'");
    expect_error(BASE "workers: 99999999999\n",
                 "t.yaml:8:10: workers: expected an integer between 0 and 1024, got "
                 "'99999999999'");
    expect_error(BASE "pool:\n  max_per_backend: 0\n",
                 "t.yaml:9:20: max_per_backend: expected an integer between 1 and 2147483647, "
                 "got '0'");
    expect_error(BASE "pool:\n  max_per_backend: 4\n  min_idle: 5\n",
                 "t.yaml:10:13: min_idle: must not exceed max_per_backend (4), got 5");
    expect_error(BASE "pool:\n  multiplex: maybe\n",
                 "t.yaml:9:14: multiplex: expected true/false (or yes/no, on/off), got 'maybe'");
    expect_error(BASE "log_level: verbose\n",
                 "t.yaml:8:12: log_level: expected one of debug, info, warn, error, got "
                 "'verbose'");
    expect_error(BASE "balance: round-robin\n",
                 "t.yaml:8:10: balance: expected one of roundrobin, static-rr, leastconn, "
                 "first, source, random, got 'round-robin'");

    static const char *const yes[] = {"true", "yes", "on", "True", "YES"};
    static const char *const no[] = {"false", "no", "off", "False", "OFF"};
    char buf[512];
    for (size_t i = 0; i < 5; i++) {
        snprintf(buf, sizeof buf, BASE "pool:\n  multiplex: %s\n", no[i]);
        struct mx_config *cfg = load_ok(buf);
        assert_false(cfg->pool_multiplex);
        config_free(cfg);
        snprintf(buf, sizeof buf,
                 "listen: 127.0.0.1:6033\n" BASE_USERS "    require_tls: %s\n" BASE_BACKENDS,
                 yes[i]);
        cfg = load_ok(buf);
        assert_true(cfg->users[0].require_tls);
        config_free(cfg);
    }
}

static void test_durations_and_sizes(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int ms;
    } durations[] = {
        {"0", 0},
        {"250", 250},
        {"250ms", 250},
        {"2s", 2000},
        {"3m", 180000},
        {"2h", 7200000},
        {"5 s", 5000},
        {"10S", 10000},
        {"596h", 596 * 3600000},
        {"2147483647", 2147483647},
    };
    char buf[512];
    for (size_t i = 0; i < sizeof durations / sizeof durations[0]; i++) {
        snprintf(buf, sizeof buf, BASE "pool:\n  idle_timeout: %s\n", durations[i].text);
        struct mx_config *cfg = load_ok(buf);
        assert_int_equal(cfg->pool_idle_timeout_ms, durations[i].ms);
        config_free(cfg);
    }
    static const struct {
        const char *text;
        int bytes;
    } sizes[] = {
        {"1024", 1024},      {"4KiB", 4096},     {"4KB", 4096},        {"4k", 4096},
        {"16MiB", 16 << 20}, {"16MB", 16 << 20}, {"16m", 16 << 20},    {"1GiB", 1 << 30},
        {"1GB", 1 << 30},    {"1g", 1 << 30},    {"64 MiB", 64 << 20}, {"2000b", 2000},
    };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        snprintf(buf, sizeof buf, BASE "limits:\n  max_packet_size: %s\n", sizes[i].text);
        struct mx_config *cfg = load_ok(buf);
        assert_int_equal(cfg->max_packet_size, sizes[i].bytes);
        config_free(cfg);
    }

    expect_error(BASE "pool:\n  idle_timeout: 10 seconds\n",
                 "t.yaml:9:17: idle_timeout: expected a duration (milliseconds, or a number with "
                 "unit ms, s, m or h), got '10 seconds'");
    expect_error(BASE "pool:\n  idle_timeout: 1.5s\n",
                 "t.yaml:9:17: idle_timeout: expected a duration (milliseconds, or a number with "
                 "unit ms, s, m or h), got '1.5s'");
    expect_error(BASE "pool:\n  max_lifetime: 600h\n",
                 "t.yaml:9:17: max_lifetime: too large (at most 2147483647 ms), got '600h'");
    expect_error(BASE "pool:\n  max_lifetime: 99999999999999999999999h\n",
                 "t.yaml:9:17: max_lifetime: too large (at most 2147483647 ms), got "
                 "'99999999999999999999999h'");
    expect_error(BASE "pool:\n  connect_timeout: 0\n",
                 "t.yaml:9:20: connect_timeout: must be at least 1 ms, got '0'");
    expect_error(BASE "limits:\n  max_packet_size: 2GiB\n",
                 "t.yaml:9:20: max_packet_size: too large (at most 2147483647 bytes), got '2GiB'");
    expect_error(BASE "limits:\n  max_packet_size: 64TiB\n",
                 "t.yaml:9:20: max_packet_size: expected a size (bytes, or a number with unit "
                 "KiB, MiB or GiB), got '64TiB'");
    expect_error(BASE "limits:\n  max_packet_size: 100\n",
                 "t.yaml:9:20: max_packet_size: must be at least 1024 bytes, got '100'");
}

static void test_passwords(void **state)
{
    (void)state;
    struct mx_config *cfg = load_ok("listen: 127.0.0.1:6033\n"
                                    "users:\n"
                                    "  - name: plain\n"
                                    "    password: 'p@ss: #word'\n"
                                    "  - name: empty\n"
                                    "    password: ''\n"
                                    "  - name: native\n"
                                    "    password: '*0123456789ABCDEFabcdef0123456789abcdef01'\n"
                                    "  - name: sha2\n"
                                    "    password: \"" SHA2_HASH "\"\n"
                                    "  - name: dollar\n"
                                    "    password: $B$notahash\n" BASE_BACKENDS);
    char hex[41];
    const struct mx_user *u = config_find_user(cfg, "plain");
    assert_int_equal(u->pw_kind, MX_PW_PLAIN);
    assert_string_equal(u->password, "p@ss: #word");
    u = config_find_user(cfg, "empty");
    assert_int_equal(u->pw_kind, MX_PW_PLAIN);
    assert_string_equal(u->password, "");
    hex20(u->native_stage2, hex); /* SHA1(SHA1("")) */
    assert_string_equal(hex, "BE1BDEC0AA74B4DCB079943E70528096CCA985F8");
    u = config_find_user(cfg, "native");
    assert_int_equal(u->pw_kind, MX_PW_NATIVE);
    assert_null(u->password);
    assert_null(u->sha2_hash);
    hex20(u->native_stage2, hex);
    assert_string_equal(hex, "0123456789ABCDEFABCDEF0123456789ABCDEF01");
    u = config_find_user(cfg, "sha2");
    assert_int_equal(u->pw_kind, MX_PW_SHA2);
    assert_string_equal(u->sha2_hash, SHA2_HASH);
    assert_int_equal(strlen(u->sha2_hash), 70);
    u = config_find_user(cfg, "dollar");
    assert_int_equal(u->pw_kind, MX_PW_PLAIN);
    assert_string_equal(u->password, "$B$notahash");
    config_free(cfg);

    static const char *const bad_native[] = {
        "'*0123'",
        "'*0123456789ABCDEF0123456789ABCDEF0123456G'",
        "'*0123456789ABCDEF0123456789ABCDEF012345678'",
        "'*0123456789ABCDEF0123456789ABCDEF01234567890'",
    };
    char buf[512];
    for (size_t i = 0; i < sizeof bad_native / sizeof bad_native[0]; i++) {
        snprintf(buf, sizeof buf,
                 "listen: 127.0.0.1:6033\nusers:\n  - name: a\n    password: %s\n" BASE_BACKENDS,
                 bad_native[i]);
        expect_error(buf, "t.yaml:4:15: password: starts with '*' but is not a "
                          "mysql_native_password hash ('*' + 40 hex digits)");
    }
    static const char *const bad_sha2[] = {
        "'$A$005$short'",
        "\"$A$0x5$ab:cd#ef gh/ij.kl'mn0123456789abcdefghijklmnopqrstuvwxyzABCDEFG\"",
        "\"$A$005!ab:cd#ef gh/ij.kl'mn0123456789abcdefghijklmnopqrstuvwxyzABCDEFG\"",
        "\"$A$005$ab:cd#ef gh/ij.kl'mn0123456789abcdefghijklmnopqrstuvwxyzABCDEF!\"",
        "\"$A$005$ab:cd#ef gh/ij.kl'mn0123456789abcdefghijklmnopqrstuvwxyzABCDEFGH\"",
    };
    for (size_t i = 0; i < sizeof bad_sha2 / sizeof bad_sha2[0]; i++) {
        snprintf(buf, sizeof buf,
                 "listen: 127.0.0.1:6033\nusers:\n  - name: a\n    password: %s\n" BASE_BACKENDS,
                 bad_sha2[i]);
        expect_error(buf, "t.yaml:4:15: password: starts with '$A$' but is not a "
                          "caching_sha2_password hash ('$A$' + 3 digits + '$' + 20-byte salt + "
                          "43-character digest, 70 characters; quote it)");
    }
    expect_error("listen: 127.0.0.1:6033\nusers:\n  - name: a\n    password:\n" BASE_BACKENDS,
                 "t.yaml:4:14: password: expected a plaintext password, '*' + 40 hex digits, or a "
                 "'$A$005$...' hash, got null");
    expect_error(
        "listen: 127.0.0.1:6033\nusers:\n  - name: a\n    password: \"a\\0b\"\n" BASE_BACKENDS,
        "t.yaml:4:15: password: contains a NUL character");
}

static void test_example_file(void **state)
{
    (void)state;
    struct mx_config *cfg = NULL;
    char err[512] = "";
    int rc = config_load(MYMUX_SOURCE_DIR "/conf/mymux.yaml", &cfg, err, sizeof err);
    if (rc != 0) fail_msg("conf/mymux.yaml: %s", err);
    assert_string_equal(cfg->listen_host, "127.0.0.1");
    assert_int_equal(cfg->listen_port, 6033);
    assert_int_equal(cfg->n_users, 1);
    assert_string_equal(cfg->users[0].name, "app");
    assert_string_equal(cfg->users[0].password, "apppass");
    assert_int_equal(cfg->n_backends, 1);
    assert_string_equal(cfg->backends[0].host, "127.0.0.1");
    assert_int_equal(cfg->backends[0].port, 3306);
    assert_true(cfg->workers >= 1);
    config_free(cfg);
}

static void test_load_file_errors(void **state)
{
    (void)state;
    struct mx_config *cfg = (struct mx_config *)1;
    char err[512] = "";
    assert_int_equal(config_load("/nonexistent/mymux.yaml", &cfg, err, sizeof err), -1);
    assert_null(cfg);
    assert_string_equal(err, "/nonexistent/mymux.yaml: cannot open: No such file or directory");

    char path[] = "/tmp/test_config_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    static const char body[] = BASE "workers: many\n";
    assert_int_equal(write(fd, body, sizeof body - 1), (ssize_t)(sizeof body - 1));
    close(fd);
    char want[600];
    snprintf(want, sizeof want, "%s:8:10: workers: expected a non-negative integer, got 'many'",
             path);
    assert_int_equal(config_load(path, &cfg, err, sizeof err), -1);
    assert_string_equal(err, want);
    /* A short buffer truncates instead of overflowing. */
    char tiny[8];
    assert_int_equal(config_load(path, &cfg, tiny, sizeof tiny), -1);
    assert_int_equal(strlen(tiny), 7);
    unlink(path);
}

/* Anchors and aliases are plain YAML; an alias repeating a user is a duplicate. */
static void test_aliases(void **state)
{
    (void)state;
    struct mx_config *cfg = load_ok("listen: 127.0.0.1:6033\n"
                                    "users:\n"
                                    "  - name: a\n"
                                    "    password: &pw secret\n"
                                    "  - name: b\n"
                                    "    password: *pw\n" BASE_BACKENDS);
    assert_string_equal(cfg->users[1].password, "secret");
    config_free(cfg);
    expect_error("listen: 127.0.0.1:6033\n"
                 "users:\n"
                 "  - &u\n"
                 "    name: a\n"
                 "    password: x\n"
                 "  - *u\n" BASE_BACKENDS,
                 "t.yaml:4:11: duplicate user name 'a' (first at line 4)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_file),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_nulls),
        cmocka_unit_test(test_workers_zero),
        cmocka_unit_test(test_ipv6_listen),
        cmocka_unit_test(test_host_port_errors),
        cmocka_unit_test(test_unknown_keys),
        cmocka_unit_test(test_missing_keys),
        cmocka_unit_test(test_duplicate_names),
        cmocka_unit_test(test_syntax_error),
        cmocka_unit_test(test_integers_and_bools),
        cmocka_unit_test(test_durations_and_sizes),
        cmocka_unit_test(test_passwords),
        cmocka_unit_test(test_example_file),
        cmocka_unit_test(test_load_file_errors),
        cmocka_unit_test(test_aliases),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
