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
#include "pool/cap.h"

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
    assert_true(cfg->pool_max_auto);
    assert_int_equal(cfg->pool_per_cpu, 8);
    assert_int_equal(b->cpus, 0);
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
                 "t.yaml:7:5: unknown key 'adress' in backend (did you mean 'address'?) (expected one of: name, address, "
                 "weight, backup, max_connections, status_port, health, tls, compress, "
                 "send_proxy, maintenance, session_tracking, lock_check, cpus)\n"
                 "t.yaml:6:5: missing required key 'address' in backend");
    expect_error(BASE "listn: 1\n",
                 "t.yaml:8:1: unknown key 'listn' at top level (did you mean 'listen'?) (expected one of: listen, "
                 "workers, server_version, log_level, users, backends, health, pool, limits, "
                 "balance, shutdown, tls, compression, proxy_protocol, admin, log, "
                 "admin_listen, instance_id, busy_poll)");
    expect_error("listen: 127.0.0.1:6033\n"
                 "users:\n"
                 "  - name: app\n"
                 "    pasword: x\n" BASE_BACKENDS,
                 "t.yaml:4:5: unknown key 'pasword' in user (did you mean 'password'?) (expected one "
                 "of: name, password, backend_user, backend_password, require_tls, "
                 "max_connections, kill_others, query_timeout)\n"
                 "t.yaml:3:5: missing required key 'password' in user");
    expect_error(BASE "pool:\n  max: 3\n",
                 "t.yaml:9:3: unknown key 'max' in pool (expected one of: max_per_backend, "
                 "min_idle, idle_timeout, max_lifetime, wait_timeout, connect_timeout, "
                 "multiplex, max_prepared, connect_rate, max_connecting, max_waiting, query_timeout, "
                 "max_prepared_unused, per_cpu)");
    expect_error(BASE "limits: {max_packet: 3}\n",
                 "t.yaml:8:10: unknown key 'max_packet' in limits (expected one of: "
                 "max_client_connections, handshake_timeout, client_idle_timeout, "
                 "max_packet_size, accept_rate, accept_burst, max_handshakes, auth_failures)");
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
    expect_error(BASE "pool:\n  max_per_backend: lots\n",
                 "t.yaml:9:20: max_per_backend: expected auto or a positive integer, got 'lots'");
    expect_error(BASE "pool:\n  per_cpu: 0\n",
                 "t.yaml:9:12: per_cpu: expected an integer between 1 and 1024, got '0'");
    expect_error(BASE "    cpus: many\n",
                 "t.yaml:8:11: cpus: expected a non-negative integer, got 'many'");
    {
        /* a number is the cap; auto (the default) sizes it by CPUs */
        struct mx_config *cfg = load_ok(BASE "    cpus: 3\npool:\n  max_per_backend: 12\n");
        assert_false(cfg->pool_max_auto);
        assert_int_equal(cfg->pool_max_per_backend, 12);
        assert_int_equal(pool_server_cap(cfg, NULL, 0), 12);
        config_free(cfg);
        cfg = load_ok(BASE "    cpus: 3\npool:\n  max_per_backend: auto\n  per_cpu: 5\n");
        assert_true(cfg->pool_max_auto);
        assert_int_equal(pool_server_cap(cfg, NULL, 0), 15);
        cfg->backends[0].cpus = 0; /* unknown: the fallback */
        assert_int_equal(pool_server_cap(cfg, NULL, 0), 64);
        cfg->backends[0].max_connections = 2; /* the backend's own cap wins */
        assert_int_equal(pool_server_cap(cfg, NULL, 0), 2);
        config_free(cfg);
    }
    expect_error(BASE "pool:\n  multiplex: maybe\n",
                 "t.yaml:9:14: multiplex: expected true/false (or yes/no, on/off), got 'maybe'");
    expect_error(BASE "log_level: verbose\n",
                 "t.yaml:8:12: log_level: expected one of debug, info, warn, error, got "
                 "'verbose'");
    expect_error(BASE "balance: round-robin\n",
                 "t.yaml:8:10: balance: expected one of roundrobin, static-rr, leastconn, "
                 "first, random, random(2), source, user, leastlatency, got 'round-robin' (did you mean 'roundrobin'?)");

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
    /* The new sections, written out with their defaults. */
    assert_int_equal(cfg->health.type, MX_CHECK_TCP);
    assert_int_equal(cfg->backends[0].health.interval_ms, 2000);
    assert_int_equal(cfg->backends[0].health.rise, 2);
    assert_int_equal(cfg->backends[0].tls.mode, MX_BTLS_OFF);
    assert_string_equal(cfg->balance, "roundrobin");
    assert_null(cfg->stick_on);
    assert_int_equal(cfg->shutdown_grace_ms, 30000);
    assert_null(cfg->tls_cert);
    assert_string_equal(cfg->tls_min_version, "TLSv1.2");
    assert_true(cfg->compress_enabled);
    assert_int_equal(cfg->accept_burst, 0);
    assert_int_equal(cfg->auth_fail_block_ms, 300000);
    assert_null(cfg->proxy_trusted);
    assert_null(cfg->admin_listen);
    assert_int_equal(cfg->digest_max, 5000);
    assert_int_equal(cfg->slow_query_ms, 1000);
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

/* ---- health, backend TLS, balance, shutdown, TLS, compression, storm limits,
 * PROXY protocol, admin, log ---- */

/* BASE up to the first backend's address, so a test can add backend keys (line 8 on). */
#define BACKEND_HEAD                                                                               \
    "listen: 127.0.0.1:6033\n" BASE_USERS "backends:\n"                                            \
    "  - name: db1\n"                                                                              \
    "    address: 127.0.0.1:3306\n"

/* Readable files standing in for certificates, keys and CAs (only access() looks at them). */
static char tls_dir[64];
static char ca_path[128], cert_path[128], key_path[128];

static int make_tls_files(void **state)
{
    (void)state;
    snprintf(tls_dir, sizeof tls_dir, "/tmp/test_config_tls_XXXXXX");
    if (mkdtemp(tls_dir) == NULL) return -1;
    snprintf(ca_path, sizeof ca_path, "%s/ca.pem", tls_dir);
    snprintf(cert_path, sizeof cert_path, "%s/cert.pem", tls_dir);
    snprintf(key_path, sizeof key_path, "%s/key.pem", tls_dir);
    const char *paths[] = {ca_path, cert_path, key_path};
    for (size_t i = 0; i < 3; i++) {
        FILE *f = fopen(paths[i], "w");
        if (f == NULL) return -1;
        fputs("-----BEGIN PLACEHOLDER-----\n", f);
        fclose(f);
    }
    return 0;
}

static int remove_tls_files(void **state)
{
    (void)state;
    unlink(ca_path);
    unlink(cert_path);
    unlink(key_path);
    rmdir(tls_dir);
    return 0;
}

static void test_new_defaults(void **state)
{
    (void)state;
    struct mx_config *cfg = load_ok(BASE);
    const struct mx_check_cfg *h = &cfg->health;
    assert_int_equal(h->type, MX_CHECK_TCP);
    assert_int_equal(h->interval_ms, 2000);
    assert_int_equal(h->timeout_ms, 1000);
    assert_int_equal(h->rise, 2);
    assert_int_equal(h->fall, 3);
    assert_null(h->user);
    assert_null(h->password);
    assert_string_equal(h->query, "SELECT 1");
    assert_string_equal(h->status_path, "/status");

    const struct mx_backend_cfg *b = &cfg->backends[0];
    assert_int_equal(b->health.type, MX_CHECK_TCP);
    assert_int_equal(b->health.interval_ms, 2000);
    assert_int_equal(b->health.timeout_ms, 1000);
    assert_int_equal(b->health.rise, 2);
    assert_int_equal(b->health.fall, 3);
    assert_null(b->health.user);
    assert_string_equal(b->health.query, "SELECT 1");
    assert_ptr_not_equal(b->health.query, h->query); /* its own copy */
    assert_string_equal(b->health.status_path, "/status");
    assert_int_equal(b->status_port, 0);
    assert_int_equal(b->tls.mode, MX_BTLS_OFF);
    assert_null(b->tls.ca);
    assert_null(b->tls.cert);
    assert_null(b->tls.key);
    assert_string_equal(b->tls.server_name, "127.0.0.1");
    assert_false(b->compress);
    assert_false(b->send_proxy);
    assert_false(b->maintenance);

    assert_string_equal(cfg->balance, "roundrobin");
    assert_int_equal(cfg->slow_start_ms, 0);
    assert_null(cfg->stick_on);
    assert_int_equal(cfg->stick_expire_ms, 30 * 60000);
    assert_int_equal(cfg->stick_size, 100000);

    assert_int_equal(cfg->shutdown_grace_ms, 30000);
    assert_null(cfg->health_listen);
    assert_null(cfg->upgrade_socket);

    assert_null(cfg->tls_cert);
    assert_null(cfg->tls_key);
    assert_null(cfg->tls_ca);
    assert_string_equal(cfg->tls_min_version, "TLSv1.2");
    assert_null(cfg->tls_max_version);
    assert_null(cfg->tls_ciphers);
    assert_null(cfg->tls_ciphersuites);
    assert_false(cfg->tls_require);

    assert_true(cfg->compress_enabled);
    assert_true(cfg->compress_zstd);
    assert_int_equal(cfg->compress_level, 6);

    assert_int_equal(cfg->accept_rate, 0);
    assert_int_equal(cfg->accept_burst, 0);
    assert_int_equal(cfg->max_handshakes, 1000);
    assert_int_equal(cfg->auth_fail_max, 10);
    assert_int_equal(cfg->auth_fail_window_ms, 60000);
    assert_int_equal(cfg->auth_fail_block_ms, 300000);
    assert_int_equal(cfg->pool_connect_rate, 0);
    assert_int_equal(cfg->pool_max_connecting, 16);
    assert_int_equal(cfg->pool_max_waiting, 10000);

    assert_null(cfg->proxy_trusted);

    assert_null(cfg->admin_listen);
    assert_null(cfg->admin_user);
    assert_null(cfg->admin_password);
    assert_null(cfg->admin_tls_cert);
    assert_null(cfg->admin_tls_key);
    assert_int_equal(cfg->digest_max, 5000);
    assert_int_equal(cfg->slow_query_ms, 1000);
    assert_false(cfg->log_queries);
    config_free(cfg);

    /* Null sections are absent sections. */
    cfg = load_ok(BASE "health:\nshutdown: ~\ntls:\ncompression:\nproxy_protocol:\nadmin:\nlog:\n"
                       "balance: ~\n");
    assert_string_equal(cfg->balance, "roundrobin");
    assert_int_equal(cfg->backends[0].health.interval_ms, 2000);
    assert_null(cfg->proxy_trusted);
    config_free(cfg);
}

/* Each backend's health: built-in defaults, then the global section (wherever it
 * sits in the file), then the backend's own keys. */
static void test_health(void **state)
{
    (void)state;
    struct mx_config *cfg = load_ok("listen: 127.0.0.1:6033\n" BASE_USERS "backends:\n"
                                    "  - name: db1\n"
                                    "    address: 127.0.0.1:3306\n"
                                    "  - name: db2\n"
                                    "    address: 127.0.0.1:3307\n"
                                    "    health: {type: status, interval: 5s, user: mon2}\n"
                                    "  - name: db3\n"
                                    "    address: 127.0.0.1:3308\n"
                                    "    status_port: 20080\n"
                                    "    health:\n"
                                    "      timeout: 500ms\n"
                                    "      query: SELECT 2\n"
                                    "      password: ~\n"
                                    "health:\n"
                                    "  type: mysql\n"
                                    "  interval: 3s\n"
                                    "  timeout: 1500\n"
                                    "  rise: 1\n"
                                    "  fall: 5\n"
                                    "  user: monitor\n"
                                    "  password: monpass\n"
                                    "  query: SELECT @@version\n"
                                    "  status_path: /health\n");
    const struct mx_check_cfg *g = &cfg->health;
    assert_int_equal(g->type, MX_CHECK_MYSQL);
    assert_int_equal(g->interval_ms, 3000);
    assert_int_equal(g->timeout_ms, 1500);
    assert_int_equal(g->rise, 1);
    assert_int_equal(g->fall, 5);
    assert_string_equal(g->user, "monitor");
    assert_string_equal(g->password, "monpass");
    assert_string_equal(g->query, "SELECT @@version");
    assert_string_equal(g->status_path, "/health");

    const struct mx_check_cfg *h = &cfg->backends[0].health;
    assert_int_equal(h->type, MX_CHECK_MYSQL);
    assert_int_equal(h->interval_ms, 3000);
    assert_int_equal(h->timeout_ms, 1500);
    assert_int_equal(h->rise, 1);
    assert_int_equal(h->fall, 5);
    assert_string_equal(h->user, "monitor");
    assert_string_equal(h->password, "monpass");
    assert_string_equal(h->query, "SELECT @@version");
    assert_string_equal(h->status_path, "/health");
    assert_int_equal(cfg->backends[0].status_port, 0);

    h = &cfg->backends[1].health;
    assert_int_equal(h->type, MX_CHECK_STATUS);
    assert_int_equal(h->interval_ms, 5000);
    assert_int_equal(h->timeout_ms, 1500);
    assert_int_equal(h->fall, 5);
    assert_string_equal(h->user, "mon2");
    assert_string_equal(h->password, "monpass");
    assert_string_equal(h->status_path, "/health");
    assert_int_equal(cfg->backends[1].status_port, 10080); /* status check, no port given */

    h = &cfg->backends[2].health;
    assert_int_equal(h->type, MX_CHECK_MYSQL);
    assert_int_equal(h->interval_ms, 3000);
    assert_int_equal(h->timeout_ms, 500);
    assert_string_equal(h->query, "SELECT 2");
    assert_string_equal(h->password, "monpass"); /* null keeps what it overrides */
    assert_int_equal(cfg->backends[2].status_port, 20080);
    config_free(cfg);

    /* A global status check gives every backend without a port the default one. */
    cfg = load_ok(BASE "health: {type: status}\n");
    assert_int_equal(cfg->backends[0].health.type, MX_CHECK_STATUS);
    assert_int_equal(cfg->backends[0].status_port, 10080);
    config_free(cfg);
    cfg = load_ok(BACKEND_HEAD "    health: {type: none}\n");
    assert_int_equal(cfg->backends[0].health.type, MX_CHECK_NONE);
    assert_int_equal(cfg->health.type, MX_CHECK_TCP);
    config_free(cfg);

    expect_error(BASE "health:\n  timeout: 2s\n",
                 "t.yaml:9:12: timeout: must be less than interval (2000 ms), got 2000 ms");
    expect_error(BASE "health:\n  interval: 500\n",
                 "t.yaml:9:13: interval: must be more than timeout (1000 ms), got 500 ms");
    /* The global section is fine; the backend's override breaks the rule. */
    expect_error(BACKEND_HEAD "    health: {interval: 1s}\n",
                 "t.yaml:8:24: interval: must be more than timeout (1000 ms), got 1000 ms");
    expect_error(BACKEND_HEAD "    health:\n      timeout: 3s\n",
                 "t.yaml:9:16: timeout: must be less than interval (2000 ms), got 3000 ms");
    expect_error(BASE "health:\n  rise: 0\n",
                 "t.yaml:9:9: rise: expected an integer between 1 and 2147483647, got '0'");
    expect_error(BASE "health:\n  fall: 0\n",
                 "t.yaml:9:9: fall: expected an integer between 1 and 2147483647, got '0'");
    expect_error(BASE "health:\n  type: http\n",
                 "t.yaml:9:9: type: expected one of none, tcp, mysql, status, got 'http'");
    expect_error(BASE "health:\n  status_path: health\n",
                 "t.yaml:9:16: status_path: expected a path starting with '/', got 'health'");
    expect_error(BASE "health:\n  query: ''\n", "t.yaml:9:10: query: expected a non-empty string");
    expect_error(BASE "health: tcp\n", "t.yaml:8:9: health: expected a mapping, got a scalar");
    expect_error(BACKEND_HEAD "    health:\n      intervall: 1s\n",
                 "t.yaml:9:7: unknown key 'intervall' in backend health (did you mean 'interval'?) (expected one of: type, "
                 "interval, timeout, rise, fall, user, password, query, status_path)");
}

static void test_backend_tls_and_flags(void **state)
{
    (void)state;
    char buf[1024], want[512];
    snprintf(buf, sizeof buf,
             BACKEND_HEAD "    compress: true\n"
                          "    send_proxy: yes\n"
                          "    maintenance: on\n"
                          "    session_tracking: off\n"
                          "    lock_check: true\n"
                          "    tls:\n"
                          "      mode: verify_identity\n"
                          "      ca: %s\n"
                          "      cert: %s\n"
                          "      key: %s\n"
                          "      server_name: db1.internal\n"
                          "  - name: db2\n"
                          "    address: db2.example:3306\n"
                          "    tls: {mode: required}\n",
             ca_path, cert_path, key_path);
    struct mx_config *cfg = load_ok(buf);
    const struct mx_backend_cfg *b = &cfg->backends[0];
    assert_true(b->compress);
    assert_true(b->send_proxy);
    assert_true(b->maintenance);
    assert_int_equal(b->session_tracking, MX_TRACK_OFF);
    assert_int_equal(cfg->backends[1].session_tracking, MX_TRACK_AUTO);
    assert_true(b->lock_check);
    assert_false(cfg->backends[1].lock_check);
    assert_int_equal(b->tls.mode, MX_BTLS_VERIFY_IDENTITY);
    assert_string_equal(b->tls.ca, ca_path);
    assert_string_equal(b->tls.cert, cert_path);
    assert_string_equal(b->tls.key, key_path);
    assert_string_equal(b->tls.server_name, "db1.internal");
    b = &cfg->backends[1];
    assert_int_equal(b->tls.mode, MX_BTLS_REQUIRED);
    assert_null(b->tls.ca);
    assert_string_equal(b->tls.server_name, "db2.example");
    assert_false(b->compress);
    config_free(cfg);

    static const char *const modes[] = {"off", "preferred", "required"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(buf, sizeof buf, BACKEND_HEAD "    tls: {mode: %s}\n", modes[i]);
        cfg = load_ok(buf);
        assert_int_equal(cfg->backends[0].tls.mode, (int)i);
        config_free(cfg);
    }

    expect_error(BACKEND_HEAD "    tls:\n      mode: verify_ca\n",
                 "t.yaml:9:13: mode: verify_ca needs ca (the CA file to verify the server with)");
    expect_error(BACKEND_HEAD "    tls:\n      mode: verify_identity\n",
                 "t.yaml:9:13: mode: verify_identity needs ca (the CA file to verify the server "
                 "with)");
    expect_error(BACKEND_HEAD "    tls:\n      mode: on\n",
                 "t.yaml:9:13: mode: expected one of off, preferred, required, verify_ca, "
                 "verify_identity, got 'on'");
    snprintf(buf, sizeof buf, BACKEND_HEAD "    tls:\n      cert: %s\n", cert_path);
    expect_error(buf, "t.yaml:9:13: cert: given without key (cert and key go together)");
    snprintf(buf, sizeof buf, BACKEND_HEAD "    tls:\n      key: %s\n", key_path);
    expect_error(buf, "t.yaml:9:12: key: given without cert (cert and key go together)");
    expect_error(BACKEND_HEAD "    tls:\n      mode: verify_ca\n      ca: /nonexistent/ca.pem\n",
                 "t.yaml:10:11: ca: cannot read '/nonexistent/ca.pem': No such file or "
                 "directory");
    snprintf(buf, sizeof buf, BACKEND_HEAD "    tls:\n      cert: %s\n      key: %s/nokey\n",
             cert_path, tls_dir);
    snprintf(want, sizeof want,
             "t.yaml:10:12: key: cannot read '%s/nokey': No such file or directory", tls_dir);
    expect_error(buf, want);
    expect_error(BACKEND_HEAD "    tls: {sni: x}\n",
                 "t.yaml:8:11: unknown key 'sni' in backend tls (expected one of: mode, ca, "
                 "cert, key, server_name)");
    expect_error(BACKEND_HEAD "    send_proxy: v2\n",
                 "t.yaml:8:17: send_proxy: expected true/false (or yes/no, on/off), got 'v2'");
    expect_error(BACKEND_HEAD "    compress: 1\n",
                 "t.yaml:8:15: compress: expected true/false (or yes/no, on/off), got '1'");
    expect_error(BACKEND_HEAD "    maintenance: maybe\n",
                 "t.yaml:8:18: maintenance: expected true/false (or yes/no, on/off), got "
                 "'maybe'");
    expect_error(BACKEND_HEAD "    session_tracking: yes\n",
                 "t.yaml:8:23: session_tracking: expected one of auto, on, off, got 'yes'");
}

static void test_balance(void **state)
{
    (void)state;
    static const char *const names[] = {
        "roundrobin", "static-rr", "leastconn", "first",        "random",
        "random(2)",  "source",    "user",      "leastlatency",
    };
    char buf[512];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(buf, sizeof buf, BASE "balance: %s\n", names[i]);
        struct mx_config *cfg = load_ok(buf);
        assert_string_equal(cfg->balance, names[i]);
        assert_null(cfg->stick_on);
        config_free(cfg);
        snprintf(buf, sizeof buf, BASE "balance:\n  algorithm: %s\n", names[i]);
        cfg = load_ok(buf);
        assert_string_equal(cfg->balance, names[i]);
        config_free(cfg);
    }

    struct mx_config *cfg = load_ok(BASE "balance:\n"
                                         "  algorithm: leastconn\n"
                                         "  slow_start: 30s\n"
                                         "  stick:\n"
                                         "    on: user\n"
                                         "    expire: 10m\n"
                                         "    size: 5000\n");
    assert_string_equal(cfg->balance, "leastconn");
    assert_int_equal(cfg->slow_start_ms, 30000);
    assert_string_equal(cfg->stick_on, "user");
    assert_int_equal(cfg->stick_expire_ms, 600000);
    assert_int_equal(cfg->stick_size, 5000);
    config_free(cfg);

    /* The mapping form without an algorithm keeps the default one. */
    cfg = load_ok(BASE "balance: {slow_start: 10s, stick: {on: src}}\n");
    assert_string_equal(cfg->balance, "roundrobin");
    assert_int_equal(cfg->slow_start_ms, 10000);
    assert_string_equal(cfg->stick_on, "src");
    assert_int_equal(cfg->stick_expire_ms, 30 * 60000);
    assert_int_equal(cfg->stick_size, 100000);
    config_free(cfg);

    expect_error(BASE "balance: {stick: {expire: 1m}}\n",
                 "t.yaml:8:18: missing required key 'on' in balance.stick");
    expect_error(BASE "balance:\n  stick:\n    on: ip\n",
                 "t.yaml:10:9: on: expected one of src, user, got 'ip'");
    expect_error(BASE "balance:\n  stick:\n    on: src\n    size: 0\n",
                 "t.yaml:11:11: size: expected an integer between 1 and 2147483647, got '0'");
    expect_error(BASE "balance:\n  stick:\n    on: src\n    expire: 0\n",
                 "t.yaml:11:13: expire: must be at least 1 ms, got '0'");
    expect_error(BASE "balance: [roundrobin]\n",
                 "t.yaml:8:10: balance: expected an algorithm name or a mapping, got a sequence");
    expect_error(BASE "balance:\n  algorithm: rr\n",
                 "t.yaml:9:14: algorithm: expected one of roundrobin, static-rr, leastconn, "
                 "first, random, random(2), source, user, leastlatency, got 'rr'");
    expect_error(BASE "balance:\n  slowstart: 1s\n",
                 "t.yaml:9:3: unknown key 'slowstart' in balance (did you mean 'slow_start'?) (expected one of: algorithm, "
                 "slow_start, stick)");
    expect_error(BASE "balance: {stick: {on: src, ttl: 1m}}\n",
                 "t.yaml:8:28: unknown key 'ttl' in balance.stick (expected one of: on, expire, "
                 "size)");
}

static void test_shutdown(void **state)
{
    (void)state;
    struct mx_config *cfg = load_ok(BASE "shutdown:\n"
                                         "  grace_period: 1m\n"
                                         "  health_listen: 0.0.0.0:8081\n"
                                         "  upgrade_socket: /run/mymux/upgrade.sock\n"
                                         "  accept_grace: 5s\n");
    assert_int_equal(cfg->shutdown_grace_ms, 60000);
    assert_int_equal(cfg->accept_grace_ms, 5000);
    assert_string_equal(cfg->health_listen, "0.0.0.0:8081");
    assert_string_equal(cfg->upgrade_socket, "/run/mymux/upgrade.sock");
    config_free(cfg);
    cfg = load_ok(BASE "shutdown: {grace_period: 0}\n");
    assert_int_equal(cfg->shutdown_grace_ms, 0);
    assert_int_equal(cfg->accept_grace_ms, 0); /* the default: close at once, as before */
    config_free(cfg);

    expect_error(BASE "shutdown:\n  health_listen: nope\n",
                 "t.yaml:9:18: health_listen: expected host:port, got 'nope'");
    char path[121], buf[512];
    memset(path, 'a', sizeof path - 1);
    path[0] = '/';
    path[sizeof path - 1] = '\0';
    snprintf(buf, sizeof buf, BASE "shutdown:\n  upgrade_socket: %s\n", path);
    expect_error(buf, "t.yaml:9:19: upgrade_socket: a unix socket path is at most 107 bytes, got "
                      "120");
    expect_error(BASE "shutdown:\n  upgrade_socket: ''\n",
                 "t.yaml:9:19: upgrade_socket: expected a non-empty string");
    expect_error(BASE "shutdown:\n  grace: 1s\n",
                 "t.yaml:9:3: unknown key 'grace' in shutdown (expected one of: grace_period, "
                 "health_listen, upgrade_socket, accept_grace)");
}

static void test_client_tls(void **state)
{
    (void)state;
    char buf[1024], want[512];
    snprintf(buf, sizeof buf,
             BASE "tls:\n"
                  "  cert: %s\n"
                  "  key: %s\n"
                  "  ca: %s\n"
                  "  min_version: TLSv1.3\n"
                  "  max_version: TLSv1.3\n"
                  "  ciphers: ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-GCM-SHA256\n"
                  "  ciphersuites: TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384\n"
                  "  require: true\n",
             cert_path, key_path, ca_path);
    struct mx_config *cfg = load_ok(buf);
    assert_string_equal(cfg->tls_cert, cert_path);
    assert_string_equal(cfg->tls_key, key_path);
    assert_string_equal(cfg->tls_ca, ca_path);
    assert_string_equal(cfg->tls_min_version, "TLSv1.3");
    assert_string_equal(cfg->tls_max_version, "TLSv1.3");
    assert_string_equal(cfg->tls_ciphers,
                        "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-GCM-SHA256");
    assert_string_equal(cfg->tls_ciphersuites, "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384");
    assert_true(cfg->tls_require);
    config_free(cfg);

    /* Versions without certificates are allowed (TLS stays off); TLSv1 < TLSv1.1. */
    cfg = load_ok(BASE "tls:\n  min_version: TLSv1\n  max_version: TLSv1.1\n");
    assert_string_equal(cfg->tls_min_version, "TLSv1");
    assert_string_equal(cfg->tls_max_version, "TLSv1.1");
    assert_null(cfg->tls_cert);
    config_free(cfg);

    snprintf(buf, sizeof buf, BASE "tls:\n  cert: %s\n", cert_path);
    expect_error(buf, "t.yaml:9:9: cert: given without key (cert and key go together)");
    snprintf(buf, sizeof buf, BASE "tls:\n  key: %s\n", key_path);
    expect_error(buf, "t.yaml:9:8: key: given without cert (cert and key go together)");
    expect_error(BASE "tls:\n  cert: /nonexistent/cert.pem\n",
                 "t.yaml:9:9: cert: cannot read '/nonexistent/cert.pem': No such file or "
                 "directory");
    snprintf(buf, sizeof buf, BASE "tls:\n  cert: %s\n  key: %s\n  ca: %s/ca2.pem\n", cert_path,
             key_path, tls_dir);
    snprintf(want, sizeof want,
             "t.yaml:11:7: ca: cannot read '%s/ca2.pem': No such file or directory", tls_dir);
    expect_error(buf, want);
    expect_error(BASE "tls:\n  min_version: TLSv1.4\n",
                 "t.yaml:9:16: min_version: expected one of TLSv1, TLSv1.1, TLSv1.2, TLSv1.3, "
                 "got 'TLSv1.4'");
    expect_error(BASE "tls:\n  max_version: tls1.3\n",
                 "t.yaml:9:16: max_version: expected one of TLSv1, TLSv1.1, TLSv1.2, TLSv1.3, "
                 "got 'tls1.3' (did you mean 'TLSv1.3'?)");
    expect_error(BASE "tls:\n  min_version: TLSv1.3\n  max_version: TLSv1.2\n",
                 "t.yaml:9:16: min_version: TLSv1.3 is newer than max_version (TLSv1.2)");
    expect_error(BASE "tls:\n  max_version: TLSv1.1\n",
                 "t.yaml:9:16: max_version: TLSv1.1 is older than min_version (TLSv1.2, the "
                 "default)");
    expect_error(BASE "tls:\n  require: true\n",
                 "t.yaml:9:12: require: needs cert and key (TLS is off without them)");
    snprintf(buf, sizeof buf, BASE "tls:\n  ca: %s\n", ca_path);
    expect_error(buf, "t.yaml:9:7: ca: needs cert and key (TLS is off without them)");
    snprintf(buf, sizeof buf, BASE "tls:\n  cert: %s\n  key: %s\n  ciphers: NOPE\n", cert_path,
             key_path);
    expect_error(buf, "t.yaml:11:12: ciphers: OpenSSL knows none of these ciphers, got 'NOPE'");
    snprintf(buf, sizeof buf, BASE "tls:\n  cert: %s\n  key: %s\n  ciphersuites: TLS_NOPE\n",
             cert_path, key_path);
    expect_error(buf, "t.yaml:11:17: ciphersuites: expected TLS 1.3 suite names separated by ':' "
                      "(as TLS_AES_128_GCM_SHA256), got 'TLS_NOPE'");
    expect_error(BASE "tls:\n  required: true\n",
                 "t.yaml:9:3: unknown key 'required' in tls (did you mean 'require'?) (expected one of: cert, key, ca, "
                 "min_version, max_version, ciphers, ciphersuites, require)");
}

static void test_compression_limits_pool(void **state)
{
    (void)state;
    struct mx_config *cfg = load_ok(BASE "compression:\n"
                                         "  enabled: false\n"
                                         "  zstd: no\n"
                                         "  level: 9\n"
                                         "limits:\n"
                                         "  accept_rate: 200\n"
                                         "  max_handshakes: 50\n"
                                         "  auth_failures:\n"
                                         "    max: 3\n"
                                         "    window: 30s\n"
                                         "    block: 10m\n"
                                         "pool:\n"
                                         "  connect_rate: 50\n"
                                         "  max_connecting: 4\n"
                                         "  max_waiting: 0\n");
    assert_false(cfg->compress_enabled);
    assert_false(cfg->compress_zstd);
    assert_int_equal(cfg->compress_level, 9);
    assert_int_equal(cfg->accept_rate, 200);
    assert_int_equal(cfg->accept_burst, 200); /* defaults to the rate */
    assert_int_equal(cfg->max_handshakes, 50);
    assert_int_equal(cfg->auth_fail_max, 3);
    assert_int_equal(cfg->auth_fail_window_ms, 30000);
    assert_int_equal(cfg->auth_fail_block_ms, 600000);
    assert_int_equal(cfg->pool_connect_rate, 50);
    assert_int_equal(cfg->pool_max_connecting, 4);
    assert_int_equal(cfg->pool_max_waiting, 0);
    config_free(cfg);

    cfg = load_ok(BASE "limits: {accept_rate: 100, accept_burst: 500}\ncompression: {level: 1}\n");
    assert_int_equal(cfg->accept_rate, 100);
    assert_int_equal(cfg->accept_burst, 500);
    assert_int_equal(cfg->compress_level, 1);
    assert_true(cfg->compress_enabled);
    config_free(cfg);

    expect_error(BASE "compression:\n  level: 10\n",
                 "t.yaml:9:10: level: expected an integer between 1 and 9, got '10'");
    expect_error(BASE "compression:\n  level: 0\n",
                 "t.yaml:9:10: level: expected an integer between 1 and 9, got '0'");
    expect_error(BASE "compression:\n  zstd: maybe\n",
                 "t.yaml:9:9: zstd: expected true/false (or yes/no, on/off), got 'maybe'");
    expect_error(BASE "compression:\n  zlib: true\n",
                 "t.yaml:9:3: unknown key 'zlib' in compression (expected one of: enabled, zstd, "
                 "level)");
    expect_error(BASE "limits:\n  accept_burst: 0\n",
                 "t.yaml:9:17: accept_burst: expected an integer between 1 and 2147483647, got "
                 "'0'");
    expect_error(BASE "limits:\n  accept_rate: -5\n",
                 "t.yaml:9:16: accept_rate: expected a non-negative integer, got '-5'");
    expect_error(BASE "limits:\n  max_handshakes: 0\n",
                 "t.yaml:9:19: max_handshakes: expected an integer between 1 and 2147483647, "
                 "got '0'");
    expect_error(BASE "limits:\n  auth_failures: {maximum: 3}\n",
                 "t.yaml:9:19: unknown key 'maximum' in limits.auth_failures (expected one of: "
                 "max, window, block)");
    expect_error(BASE "limits:\n  auth_failures:\n    block: 0\n",
                 "t.yaml:10:12: block: must be at least 1 ms, got '0'");
    expect_error(BASE "limits:\n  auth_failures: 5\n",
                 "t.yaml:9:18: auth_failures: expected a mapping, got a scalar");
    expect_error(BASE "pool:\n  max_connecting: 0\n",
                 "t.yaml:9:19: max_connecting: expected an integer between 1 and 2147483647, "
                 "got '0'");
    expect_error(BASE "pool:\n  connect_rate: fast\n",
                 "t.yaml:9:17: connect_rate: expected a non-negative integer, got 'fast'");
}

static void test_proxy_protocol(void **state)
{
    (void)state;
    struct mx_config *cfg = load_ok(BASE "proxy_protocol:\n"
                                         "  trusted:\n"
                                         "    - 10.0.0.0/8\n"
                                         "    - 192.168.1.7\n"
                                         "    - fd00::/8\n"
                                         "    - ::1\n"
                                         "    - 0.0.0.0/0\n"
                                         "    - '::ffff:10.1.2.3/128'\n");
    char **t = cfg->proxy_trusted;
    assert_non_null(t);
    assert_string_equal(t[0], "10.0.0.0/8");
    assert_string_equal(t[1], "192.168.1.7/32");
    assert_string_equal(t[2], "fd00::/8");
    assert_string_equal(t[3], "::1/128");
    assert_string_equal(t[4], "0.0.0.0/0");
    assert_string_equal(t[5], "::ffff:10.1.2.3/128");
    assert_null(t[6]);
    config_free(cfg);

    cfg = load_ok(BASE "proxy_protocol: {trusted: []}\n");
    assert_null(cfg->proxy_trusted);
    config_free(cfg);
    cfg = load_ok(BASE "proxy_protocol:\n  trusted:\n");
    assert_null(cfg->proxy_trusted);
    config_free(cfg);

    expect_error(BASE "proxy_protocol:\n  trusted:\n    - 10.0.0.0/8\n    - 10.0.0.0/33\n",
                 "t.yaml:11:7: trusted: prefix length must be between 0 and 32 for IPv4, got "
                 "'10.0.0.0/33'");
    expect_error(BASE "proxy_protocol:\n  trusted:\n    - fd00::/129\n",
                 "t.yaml:10:7: trusted: prefix length must be between 0 and 128 for IPv6, got "
                 "'fd00::/129'");
    expect_error(BASE "proxy_protocol:\n  trusted:\n    - 10.0.0.0/99999\n",
                 "t.yaml:10:7: trusted: prefix length must be between 0 and 32 for IPv4, got "
                 "'10.0.0.0/99999'");
    static const char *const bad[] = {"10.0.0/8", "10.0.0.0/",   "10.0.0.0/8/8", "lb.example",
                                      "/8",       "10.0.0.0/-1", "10.0.0.0/+8",  "fd00::/x"};
    char buf[512], want[512];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(buf, sizeof buf, BASE "proxy_protocol:\n  trusted:\n    - '%s'\n", bad[i]);
        snprintf(want, sizeof want,
                 "t.yaml:10:7: trusted: expected an IPv4 or IPv6 address with an optional "
                 "/prefix (as 10.0.0.0/8 or fd00::/8), got '%s'",
                 bad[i]);
        expect_error(buf, want);
    }
    expect_error(BASE "proxy_protocol:\n  trusted: 10.0.0.0/8\n",
                 "t.yaml:9:12: trusted: expected a sequence of addresses or CIDRs, got a scalar");
    expect_error(BASE "proxy_protocol:\n  trusted:\n    - [10.0.0.0/8]\n",
                 "t.yaml:10:7: trusted: expected a scalar, got a sequence");
    expect_error(BASE "proxy_protocol:\n  networks: []\n",
                 "t.yaml:9:3: unknown key 'networks' in proxy_protocol (expected one of: "
                 "trusted)");
}

static void test_admin_and_log(void **state)
{
    (void)state;
    char buf[1024];
    snprintf(buf, sizeof buf,
             BASE "admin:\n"
                  "  listen: 127.0.0.1:8080\n"
                  "  user: admin\n"
                  "  password: s3cret\n"
                  "  tls_cert: %s\n"
                  "  tls_key: %s\n"
                  "  digest_max: 100\n"
                  "log:\n"
                  "  level: warn\n"
                  "  slow_query: 250ms\n"
                  "  query_text: yes\n"
                  "  file: /var/log/mymux/mymux.log\n",
             cert_path, key_path);
    struct mx_config *cfg = load_ok(buf);
    assert_string_equal(cfg->admin_listen, "127.0.0.1:8080");
    assert_string_equal(cfg->admin_user, "admin");
    assert_string_equal(cfg->admin_password, "s3cret");
    assert_string_equal(cfg->admin_tls_cert, cert_path);
    assert_string_equal(cfg->admin_tls_key, key_path);
    assert_int_equal(cfg->digest_max, 100);
    assert_string_equal(cfg->log_level, "warn");
    assert_int_equal(cfg->slow_query_ms, 250);
    assert_true(cfg->log_queries);
    assert_string_equal(cfg->log_file, "/var/log/mymux/mymux.log");
    config_free(cfg);

    /* The top-level spellings still work, beside the sections' other keys. */
    cfg = load_ok(BASE "admin_listen: '[::1]:8080'\nlog_level: error\nadmin: {digest_max: 7}\n"
                       "log: {slow_query: 0}\n");
    assert_string_equal(cfg->admin_listen, "[::1]:8080");
    assert_string_equal(cfg->log_level, "error");
    assert_int_equal(cfg->digest_max, 7);
    assert_int_equal(cfg->slow_query_ms, 0);
    assert_null(cfg->log_file); /* stderr by default */
    assert_int_equal(cfg->instance_id, 0);
    assert_null(cfg->admin_allowed_hosts);
    assert_false(cfg->admin_allow_unauthenticated);
    config_free(cfg);

    /* issue 12: instance_id, allowed Host names, an exposed listener allowed explicitly */
    cfg = load_ok(BASE "instance_id: 255\nadmin:\n  listen: 0.0.0.0:8080\n"
                       "  allowed_hosts: [a.example, B.example]\n  allow_unauthenticated: true\n");
    assert_int_equal(cfg->instance_id, 255);
    assert_string_equal(cfg->admin_allowed_hosts[0], "a.example");
    assert_string_equal(cfg->admin_allowed_hosts[1], "B.example");
    assert_null(cfg->admin_allowed_hosts[2]);
    assert_true(cfg->admin_allow_unauthenticated);
    config_free(cfg);
    cfg = load_ok(BASE "admin:\n  listen: 0.0.0.0:8080\n  user: ops\n  password: pw\n");
    config_free(cfg);
    expect_error(BASE "admin:\n  listen: 0.0.0.0:8080\n",
                 "t.yaml:9:11: admin listen: '0.0.0.0:8080' is reachable from other machines and "
                 "admin.user/password are not set; set them, listen on 127.0.0.1, or set "
                 "admin.allow_unauthenticated: true");
    expect_error(BASE "instance_id: 256\n",
                 "t.yaml:8:14: instance_id: expected an integer between 0 and 255, got '256'");

    /* issue 13: busy_poll in microseconds, bounded */
    cfg = load_ok(BASE);
    assert_int_equal(cfg->busy_poll_us, 0);
    config_free(cfg);
    cfg = load_ok(BASE "busy_poll: 50us\n");
    assert_int_equal(cfg->busy_poll_us, 50);
    config_free(cfg);
    cfg = load_ok(BASE "busy_poll: 2ms\n");
    assert_int_equal(cfg->busy_poll_us, 2000);
    config_free(cfg);
    expect_error(BASE "busy_poll: 20ms\n",
                 "t.yaml:8:12: busy_poll: 20000 us is more than the 10 ms a spin may last");
    expect_error(BASE "busy_poll: 5s\n",
                 "t.yaml:8:12: busy_poll: expected a duration (microseconds, or a number with "
                 "unit us or ms), got '5s'");

    expect_error(BASE "admin_listen: 127.0.0.1:8080\nadmin:\n  listen: 127.0.0.1:8081\n",
                 "t.yaml:10:11: admin.listen: same setting as admin_listen (line 8); give only "
                 "one of them");
    expect_error(BASE "admin:\n  listen: 127.0.0.1:8081\nadmin_listen: 127.0.0.1:8080\n",
                 "t.yaml:10:15: admin_listen: same setting as admin.listen (line 9); give only "
                 "one of them");
    expect_error(BASE "log_level: debug\nlog:\n  level: warn\n",
                 "t.yaml:10:10: log.level: same setting as log_level (line 8); give only one of "
                 "them");
    expect_error(BASE "admin:\n  listen: 8080\n",
                 "t.yaml:9:11: listen: expected host:port, got '8080'");
    expect_error(BASE "admin:\n  user: admin\n",
                 "t.yaml:9:9: user: given without password (user and password go together)");
    expect_error(BASE "admin:\n  password: x\n",
                 "t.yaml:9:13: password: given without user (user and password go together)");
    snprintf(buf, sizeof buf, BASE "admin:\n  tls_key: %s\n", key_path);
    expect_error(buf, "t.yaml:9:12: tls_key: given without tls_cert (tls_cert and tls_key go "
                      "together)");
    expect_error(BASE "admin:\n  tls_cert: /nonexistent/admin.pem\n",
                 "t.yaml:9:13: tls_cert: cannot read '/nonexistent/admin.pem': No such file or "
                 "directory");
    expect_error(BASE "admin:\n  digest_max: 0\n",
                 "t.yaml:9:15: digest_max: expected an integer between 1 and 2147483647, got "
                 "'0'");
    expect_error(BASE "log:\n  level: trace\n",
                 "t.yaml:9:10: level: expected one of debug, info, warn, error, got 'trace'");
    expect_error(BASE "log:\n  slow_query: soon\n",
                 "t.yaml:9:15: slow_query: expected a duration (milliseconds, or a number with "
                 "unit ms, s, m or h), got 'soon'");
    expect_error(BASE "log:\n  query_text: sometimes\n",
                 "t.yaml:9:15: query_text: expected true/false (or yes/no, on/off), got "
                 "'sometimes'");
    expect_error(BASE "admin:\n  port: 1\n",
                 "t.yaml:9:3: unknown key 'port' in admin (expected one of: listen, user, "
                 "password, tls_cert, tls_key, digest_max, allowed_hosts, "
                 "allow_unauthenticated)");
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
        cmocka_unit_test(test_new_defaults),
        cmocka_unit_test(test_health),
        cmocka_unit_test(test_backend_tls_and_flags),
        cmocka_unit_test(test_balance),
        cmocka_unit_test(test_shutdown),
        cmocka_unit_test(test_client_tls),
        cmocka_unit_test(test_compression_limits_pool),
        cmocka_unit_test(test_proxy_protocol),
        cmocka_unit_test(test_admin_and_log),
    };
    return cmocka_run_group_tests(tests, make_tls_files, remove_tls_files);
}
