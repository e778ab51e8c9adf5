/* client_test: libmariadb client-API checks, run against mymux or MariaDB directly.
 *
 * Usage: client_test HOST PORT USER PASSWORD [TESTNAME...]
 *        client_test --list
 *
 * Runs the named subtests (all by default) and prints one line per test,
 * "ok NAME" or "FAIL NAME: reason"; exits 1 if any failed, 2 on bad usage.
 * Every subtest asserts what a client sees from a real server, so the same
 * binary validates the server directly and then the proxy in front of it.
 *
 * The server must have: database `test`; USER/PASSWORD with all privileges
 * (KILL, PROCESS, CREATE ROUTINE, FILE for LOCAL INFILE is not needed);
 * a second user other/otherpass; local_infile=ON; max_allowed_packet of at
 * least 32 MiB. Tables are named ct<pid>_* and dropped at the end.
 */
#include <errmsg.h>
#include <errno.h>
#include <mysql.h>
#include <mysqld_error.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *g_host, *g_user, *g_pass;
static unsigned int g_port;
static char g_tag[32];      /* "ct<pid>": prefix of every object this run creates */
static char g_reason[2048]; /* why the running subtest failed */

#define OTHER_USER "other"
#define OTHER_PASS "otherpass"
#define MiB (1024UL * 1024UL)

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        snprintf(g_reason, sizeof g_reason, __VA_ARGS__);                                          \
        goto fail;                                                                                 \
    } while (0)
#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) FAIL(__VA_ARGS__);                                                            \
    } while (0)
#define MERR(m) mysql_errno(m), mysql_error(m)
#define SERR(s) mysql_stmt_errno(s), mysql_stmt_error(s)
/* Run a statement; on error record it and leave the subtest. */
#define QUERY(m, ...)                                                                              \
    do {                                                                                           \
        if (query(m, __VA_ARGS__)) goto fail;                                                      \
    } while (0)
#define STMT_OK(s, call)                                                                           \
    do {                                                                                           \
        if (call) FAIL("line %d: %s: %u %s", __LINE__, #call, SERR(s));                            \
    } while (0)

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Connects to the server under test as USER, database `test`.
 * Returns NULL with g_reason set on failure. */
static MYSQL *conn_ex(const char *user, const char *pass, unsigned long flags, int local_infile,
                      unsigned long max_packet)
{
    MYSQL *m = mysql_init(NULL);
    unsigned int proto = MYSQL_PROTOCOL_TCP, timeout = 60;
    unsigned int li_uint = local_infile ? 1 : 0;

    if (!m) {
        snprintf(g_reason, sizeof g_reason, "mysql_init failed");
        return NULL;
    }
    mysql_options(m, MYSQL_OPT_PROTOCOL, &proto);
    mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &timeout);
    mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &timeout);
    mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    mysql_options(m, MYSQL_OPT_LOCAL_INFILE, &li_uint);
    if (max_packet) mysql_options(m, MYSQL_OPT_MAX_ALLOWED_PACKET, &max_packet);
    if (!mysql_real_connect(m, g_host, user, pass, "test", g_port, NULL, flags)) {
        snprintf(g_reason, sizeof g_reason, "connect as %s to %s:%u: %u %s", user, g_host, g_port,
                 MERR(m));
        mysql_close(m);
        return NULL;
    }
    return m;
}

static MYSQL *conn(unsigned long flags)
{
    return conn_ex(g_user, g_pass, flags, 0, 0);
}

/* Formats and runs one statement (mysql_real_query: the SQL may hold NULs
 * only through query_len, so use mysql_real_query directly for binary).
 * Returns 0, or -1 with g_reason set. The caller reads any result set. */
static int query(MYSQL *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int query(MYSQL *m, const char *fmt, ...)
{
    char sql[4096];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    if (mysql_real_query(m, sql, strlen(sql))) {
        snprintf(g_reason, sizeof g_reason, "query \"%.200s\": %u %s", sql, MERR(m));
        return -1;
    }
    return 0;
}

/* Runs a query returning one row and copies its first column into out
 * ("NULL" for SQL NULL). Returns 0 or -1 with g_reason set. */
static int query_str(MYSQL *m, char *out, size_t outlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int query_str(MYSQL *m, char *out, size_t outlen, const char *fmt, ...)
{
    char sql[4096];
    va_list ap;
    MYSQL_RES *r;
    MYSQL_ROW row;

    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    if (mysql_real_query(m, sql, strlen(sql))) {
        snprintf(g_reason, sizeof g_reason, "query \"%.200s\": %u %s", sql, MERR(m));
        return -1;
    }
    r = mysql_store_result(m);
    if (!r) {
        snprintf(g_reason, sizeof g_reason, "query \"%.200s\": no result set (%u %s)", sql,
                 MERR(m));
        return -1;
    }
    row = mysql_fetch_row(r);
    if (!row) {
        snprintf(g_reason, sizeof g_reason, "query \"%.200s\": no row", sql);
        mysql_free_result(r);
        return -1;
    }
    snprintf(out, outlen, "%s", row[0] ? row[0] : "NULL");
    mysql_free_result(r);
    return 0;
}

#define QSTR(m, buf, ...)                                                                          \
    do {                                                                                           \
        if (query_str(m, buf, sizeof buf, __VA_ARGS__)) goto fail;                                 \
    } while (0)
/* Asserts that a one-value query returns exactly `want`. */
#define QEXPECT(m, want, ...)                                                                      \
    do {                                                                                           \
        char qe_[256];                                                                             \
        QSTR(m, qe_, __VA_ARGS__);                                                                 \
        CHECK(strcmp(qe_, want) == 0, "line %d: expected \"%s\", got \"%s\"", __LINE__, want,      \
              qe_);                                                                                \
    } while (0)

static void bind_long(MYSQL_BIND *b, int *v)
{
    memset(b, 0, sizeof *b);
    b->buffer_type = MYSQL_TYPE_LONG;
    b->buffer = v;
}

static void bind_longlong(MYSQL_BIND *b, long long *v)
{
    memset(b, 0, sizeof *b);
    b->buffer_type = MYSQL_TYPE_LONGLONG;
    b->buffer = v;
}

static void bind_buf(MYSQL_BIND *b, enum enum_field_types t, void *buf, unsigned long cap,
                     unsigned long *len)
{
    memset(b, 0, sizeof *b);
    b->buffer_type = t;
    b->buffer = buf;
    b->buffer_length = cap;
    b->length = len;
}

static void fill_pattern(char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (char)('a' + (i * 7 + seed) % 26);
}

static MYSQL_STMT *prepare(MYSQL *m, const char *sql)
{
    MYSQL_STMT *s = mysql_stmt_init(m);
    if (!s) {
        snprintf(g_reason, sizeof g_reason, "stmt_init: %u %s", MERR(m));
        return NULL;
    }
    if (mysql_stmt_prepare(s, sql, strlen(sql))) {
        snprintf(g_reason, sizeof g_reason, "prepare \"%.200s\": %u %s", sql, SERR(s));
        mysql_stmt_close(s);
        return NULL;
    }
    return s;
}

/* ---- subtests: each returns 0, or -1 with g_reason set ---- */

static int t_text_query(void)
{
    MYSQL *m = conn(0);
    MYSQL_RES *r = NULL;
    MYSQL_ROW row;
    MYSQL_FIELD *f;
    unsigned long *len;
    int rc = -1;

    if (!m) goto fail;
    QUERY(m, "SELECT 1 AS a, 'abc' AS b, NULL AS c, 3.5 AS d, -9223372036854775807 AS e, "
             "X'00ff00' AS f");
    r = mysql_store_result(m);
    CHECK(r, "store_result: %u %s", MERR(m));
    CHECK(mysql_num_fields(r) == 6, "num_fields %u", mysql_num_fields(r));
    CHECK(mysql_num_rows(r) == 1, "num_rows %llu", (unsigned long long)mysql_num_rows(r));
    f = mysql_fetch_fields(r);
    CHECK(strcmp(f[1].name, "b") == 0 && strcmp(f[5].name, "f") == 0, "field names %s %s",
          f[1].name, f[5].name);
    CHECK(f[0].type == MYSQL_TYPE_LONG || f[0].type == MYSQL_TYPE_LONGLONG, "type a %d", f[0].type);
    CHECK(f[3].type == MYSQL_TYPE_NEWDECIMAL, "type d %d", f[3].type);
    row = mysql_fetch_row(r);
    len = mysql_fetch_lengths(r);
    CHECK(row && strcmp(row[0], "1") == 0 && strcmp(row[1], "abc") == 0 && row[2] == NULL &&
              strcmp(row[3], "3.5") == 0 && strcmp(row[4], "-9223372036854775807") == 0,
          "row values");
    CHECK(len[5] == 3 && memcmp(row[5], "\0\xff\0", 3) == 0, "binary value");
    CHECK(mysql_fetch_row(r) == NULL, "extra row");
    mysql_free_result(r);
    r = NULL;

    QUERY(m, "DROP TABLE IF EXISTS %s_text", g_tag);
    QUERY(m, "CREATE TABLE %s_text (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(20))", g_tag);
    QUERY(m, "INSERT INTO %s_text (v) VALUES ('x'), ('y'), ('z')", g_tag);
    CHECK(mysql_affected_rows(m) == 3, "affected %llu", (unsigned long long)mysql_affected_rows(m));
    CHECK(mysql_insert_id(m) == 1, "insert_id %llu", (unsigned long long)mysql_insert_id(m));
    CHECK(mysql_info(m) && strstr(mysql_info(m), "Records: 3"), "info \"%s\"",
          mysql_info(m) ? mysql_info(m) : "(null)");
    QUERY(m, "INSERT INTO %s_text (v) VALUES ('w')", g_tag);
    CHECK(mysql_insert_id(m) == 4, "insert_id %llu", (unsigned long long)mysql_insert_id(m));
    QUERY(m, "UPDATE %s_text SET v = 'q' WHERE id >= 3", g_tag);
    CHECK(mysql_affected_rows(m) == 2, "update affected %llu",
          (unsigned long long)mysql_affected_rows(m));
    QUERY(m, "SELECT id, v FROM %s_text ORDER BY id", g_tag);
    r = mysql_store_result(m);
    CHECK(r && mysql_num_rows(r) == 4, "select 4 rows");
    {
        const char *want[] = {"1x", "2y", "3q", "4q"};
        for (int i = 0; i < 4; i++) {
            char got[64];
            row = mysql_fetch_row(r);
            snprintf(got, sizeof got, "%s%s", row[0], row[1]);
            CHECK(strcmp(got, want[i]) == 0, "row %d: %s != %s", i, got, want[i]);
        }
    }
    mysql_free_result(r);
    r = NULL;
    /* An empty result set still carries its columns. */
    QUERY(m, "SELECT id, v FROM %s_text WHERE 1 = 0", g_tag);
    r = mysql_store_result(m);
    CHECK(r && mysql_num_rows(r) == 0 && mysql_num_fields(r) == 2, "empty result set");
    rc = 0;
fail:
    if (r) mysql_free_result(r);
    if (m) mysql_close(m);
    return rc;
}

static int t_binary_protocol(void)
{
    MYSQL *m = conn(0);
    MYSQL_STMT *s = NULL;
    MYSQL_RES *meta = NULL;
    MYSQL_BIND p[8], res[7];
    int id, i32;
    long long i64;
    double d;
    char str[64], blob[300];
    unsigned long str_len, blob_len;
    MYSQL_TIME dt, dtm;
    my_bool isnull[8];
    int rc = -1;
    char sql[512];

    if (!m) goto fail;
    QUERY(m, "DROP TABLE IF EXISTS %s_bin", g_tag);
    QUERY(m,
          "CREATE TABLE %s_bin (id INT PRIMARY KEY, i INT, bi BIGINT, d DOUBLE, "
          "s VARCHAR(64), b BLOB, dt DATE, dtm DATETIME(6))",
          g_tag);
    snprintf(sql, sizeof sql, "INSERT INTO %s_bin VALUES (?,?,?,?,?,?,?,?)", g_tag);
    if (!(s = prepare(m, sql))) goto fail;
    CHECK(mysql_stmt_param_count(s) == 8, "param_count %lu", mysql_stmt_param_count(s));

    for (int k = 0; k < 300; k++)
        blob[k] = (char)(k * 37); /* includes NUL and high bytes */
    memset(&dt, 0, sizeof dt);
    dt.year = 2024, dt.month = 2, dt.day = 29, dt.time_type = MYSQL_TIMESTAMP_DATE;
    memset(&dtm, 0, sizeof dtm);
    dtm.year = 2023, dtm.month = 12, dtm.day = 31, dtm.hour = 23, dtm.minute = 59;
    dtm.second = 58, dtm.second_part = 123456, dtm.time_type = MYSQL_TIMESTAMP_DATETIME;
    bind_long(&p[0], &id);
    bind_long(&p[1], &i32);
    bind_longlong(&p[2], &i64);
    memset(&p[3], 0, sizeof p[3]);
    p[3].buffer_type = MYSQL_TYPE_DOUBLE, p[3].buffer = &d;
    bind_buf(&p[4], MYSQL_TYPE_STRING, str, sizeof str, &str_len);
    bind_buf(&p[5], MYSQL_TYPE_BLOB, blob, sizeof blob, &blob_len);
    memset(&p[6], 0, sizeof p[6]);
    p[6].buffer_type = MYSQL_TYPE_DATE, p[6].buffer = &dt;
    memset(&p[7], 0, sizeof p[7]);
    p[7].buffer_type = MYSQL_TYPE_DATETIME, p[7].buffer = &dtm;
    memset(isnull, 0, sizeof isnull);
    for (int k = 0; k < 8; k++)
        p[k].is_null = &isnull[k];
    id = 1, i32 = -42, i64 = 1234567890123456789LL, d = 3.25;
    strcpy(str, "hello"), str_len = 5, blob_len = 300;
    STMT_OK(s, mysql_stmt_bind_param(s, p));
    STMT_OK(s, mysql_stmt_execute(s));
    CHECK(mysql_stmt_affected_rows(s) == 1, "affected %llu",
          (unsigned long long)mysql_stmt_affected_rows(s));
    /* Row 2: every column but the key NULL. */
    id = 2;
    for (int k = 1; k < 8; k++)
        isnull[k] = 1;
    STMT_OK(s, mysql_stmt_execute(s));
    mysql_stmt_close(s);
    s = NULL;

    /* The text protocol sees what the binary protocol stored. */
    QEXPECT(m, "-42|1234567890123456789|3.25|hello|300|2024-02-29|2023-12-31 23:59:58.123456",
            "SELECT CONCAT_WS('|', i, bi, d, s, LENGTH(b), dt, dtm) FROM %s_bin WHERE id = 1",
            g_tag);

    snprintf(sql, sizeof sql, "SELECT i, bi, d, s, b, dt, dtm FROM %s_bin WHERE id = ?", g_tag);
    if (!(s = prepare(m, sql))) goto fail;
    meta = mysql_stmt_result_metadata(s);
    CHECK(meta && mysql_num_fields(meta) == 7, "result metadata");
    {
        MYSQL_FIELD *f = mysql_fetch_fields(meta);
        enum enum_field_types want[] = {
            MYSQL_TYPE_LONG, MYSQL_TYPE_LONGLONG, MYSQL_TYPE_DOUBLE,  MYSQL_TYPE_VAR_STRING,
            MYSQL_TYPE_BLOB, MYSQL_TYPE_DATE,     MYSQL_TYPE_DATETIME};
        for (int k = 0; k < 7; k++)
            CHECK(f[k].type == want[k], "column %d type %d, expected %d", k, f[k].type, want[k]);
    }
    mysql_free_result(meta);
    meta = NULL;
    bind_long(&p[0], &id);
    p[0].is_null = NULL;
    STMT_OK(s, mysql_stmt_bind_param(s, p));
    bind_long(&res[0], &i32);
    bind_longlong(&res[1], &i64);
    memset(&res[2], 0, sizeof res[2]);
    res[2].buffer_type = MYSQL_TYPE_DOUBLE, res[2].buffer = &d;
    bind_buf(&res[3], MYSQL_TYPE_STRING, str, sizeof str, &str_len);
    bind_buf(&res[4], MYSQL_TYPE_BLOB, blob, sizeof blob, &blob_len);
    memset(&res[5], 0, sizeof res[5]);
    res[5].buffer_type = MYSQL_TYPE_DATE, res[5].buffer = &dt;
    memset(&res[6], 0, sizeof res[6]);
    res[6].buffer_type = MYSQL_TYPE_DATETIME, res[6].buffer = &dtm;
    for (int k = 0; k < 7; k++)
        res[k].is_null = &isnull[k];
    STMT_OK(s, mysql_stmt_bind_result(s, res));

    id = 1;
    memset(blob, 0, sizeof blob);
    memset(&dt, 0, sizeof dt);
    memset(&dtm, 0, sizeof dtm);
    STMT_OK(s, mysql_stmt_execute(s));
    STMT_OK(s, mysql_stmt_store_result(s));
    CHECK(mysql_stmt_num_rows(s) == 1, "num_rows %llu", (unsigned long long)mysql_stmt_num_rows(s));
    STMT_OK(s, mysql_stmt_fetch(s));
    for (int k = 0; k < 7; k++)
        CHECK(!isnull[k], "column %d NULL", k);
    CHECK(i32 == -42 && i64 == 1234567890123456789LL && d == 3.25, "numbers %d %lld %g", i32, i64,
          d);
    CHECK(str_len == 5 && memcmp(str, "hello", 5) == 0, "string len %lu", str_len);
    CHECK(blob_len == 300, "blob len %lu", blob_len);
    for (int k = 0; k < 300; k++)
        CHECK(blob[k] == (char)(k * 37), "blob byte %d", k);
    CHECK(dt.year == 2024 && dt.month == 2 && dt.day == 29, "date %u-%u-%u", dt.year, dt.month,
          dt.day);
    CHECK(dtm.year == 2023 && dtm.month == 12 && dtm.day == 31 && dtm.hour == 23 &&
              dtm.minute == 59 && dtm.second == 58 && dtm.second_part == 123456,
          "datetime %u-%u-%u %u:%u:%u.%lu", dtm.year, dtm.month, dtm.day, dtm.hour, dtm.minute,
          dtm.second, dtm.second_part);
    CHECK(mysql_stmt_fetch(s) == MYSQL_NO_DATA, "extra row");

    id = 2;
    STMT_OK(s, mysql_stmt_execute(s));
    STMT_OK(s, mysql_stmt_fetch(s));
    for (int k = 0; k < 7; k++)
        CHECK(isnull[k], "column %d not NULL in the NULL row", k);
    CHECK(mysql_stmt_fetch(s) == MYSQL_NO_DATA, "extra row");

    id = 3; /* no such row */
    STMT_OK(s, mysql_stmt_execute(s));
    CHECK(mysql_stmt_fetch(s) == MYSQL_NO_DATA, "row for missing id");
    rc = 0;
fail:
    if (meta) mysql_free_result(meta);
    if (s) mysql_stmt_close(s);
    if (m) mysql_close(m);
    return rc;
}

static int t_reexecute(void)
{
    MYSQL *m = conn(0);
    MYSQL_STMT *s = NULL;
    MYSQL_BIND p[2], res[1];
    int id;
    long long id64;
    int iv;
    char v[32];
    unsigned long vlen;
    int rc = -1;
    char sql[256];

    if (!m) goto fail;
    QUERY(m, "DROP TABLE IF EXISTS %s_re", g_tag);
    QUERY(m, "CREATE TABLE %s_re (id BIGINT PRIMARY KEY, v VARCHAR(32))", g_tag);
    snprintf(sql, sizeof sql, "INSERT INTO %s_re VALUES (?, ?)", g_tag);
    if (!(s = prepare(m, sql))) goto fail;
    bind_long(&p[0], &id);
    bind_buf(&p[1], MYSQL_TYPE_STRING, v, sizeof v, &vlen);
    STMT_OK(s, mysql_stmt_bind_param(s, p));
    id = 1, strcpy(v, "one"), vlen = 3;
    STMT_OK(s, mysql_stmt_execute(s));
    /* Same bindings, new values: sent with new_params_bound_flag = 0, so the
     * server (and any proxy) must remember the types from the last bind. */
    id = 2, strcpy(v, "two"), vlen = 3;
    STMT_OK(s, mysql_stmt_execute(s));
    /* Rebind with different types: types are sent again. */
    bind_longlong(&p[0], &id64);
    memset(&p[1], 0, sizeof p[1]);
    p[1].buffer_type = MYSQL_TYPE_LONG, p[1].buffer = &iv;
    STMT_OK(s, mysql_stmt_bind_param(s, p));
    id64 = 3000000000LL, iv = 333;
    STMT_OK(s, mysql_stmt_execute(s));
    id64 = 4000000000LL, iv = 444;
    STMT_OK(s, mysql_stmt_execute(s));
    mysql_stmt_close(s);
    s = NULL;
    QEXPECT(m, "1=one,2=two,3000000000=333,4000000000=444",
            "SELECT GROUP_CONCAT(id, '=', v ORDER BY id) FROM %s_re", g_tag);

    /* A SELECT re-executed with new values and the same bindings. */
    snprintf(sql, sizeof sql, "SELECT v FROM %s_re WHERE id = ?", g_tag);
    if (!(s = prepare(m, sql))) goto fail;
    bind_long(&p[0], &id);
    STMT_OK(s, mysql_stmt_bind_param(s, p));
    bind_buf(&res[0], MYSQL_TYPE_STRING, v, sizeof v, &vlen);
    STMT_OK(s, mysql_stmt_bind_result(s, res));
    for (int round = 0; round < 3; round++) {
        const char *want = round == 1 ? "two" : "one";
        id = round == 1 ? 2 : 1;
        STMT_OK(s, mysql_stmt_execute(s));
        STMT_OK(s, mysql_stmt_fetch(s));
        CHECK(vlen == strlen(want) && memcmp(v, want, vlen) == 0, "round %d: got %.*s", round,
              (int)vlen, v);
        if (round != 2) /* leave round 2 unfetched: the next execute must cope */
            CHECK(mysql_stmt_fetch(s) == MYSQL_NO_DATA, "extra row");
    }
    id = 2;
    STMT_OK(s, mysql_stmt_execute(s));
    STMT_OK(s, mysql_stmt_fetch(s));
    CHECK(vlen == 3 && memcmp(v, "two", 3) == 0, "after unfetched execute: %.*s", (int)vlen, v);
    rc = 0;
fail:
    if (s) mysql_stmt_close(s);
    if (m) mysql_close(m);
    return rc;
}

/* Opens a read-only cursor over `SELECT id, v FROM <t> ORDER BY id`. */
static MYSQL_STMT *open_cursor(MYSQL *m, const char *table, unsigned long prefetch, int *id, int *v,
                               MYSQL_BIND *res)
{
    char sql[256];
    unsigned long type = CURSOR_TYPE_READ_ONLY;
    MYSQL_STMT *s;

    snprintf(sql, sizeof sql, "SELECT id, v FROM %s ORDER BY id", table);
    if (!(s = prepare(m, sql))) return NULL;
    if (mysql_stmt_attr_set(s, STMT_ATTR_CURSOR_TYPE, &type) ||
        mysql_stmt_attr_set(s, STMT_ATTR_PREFETCH_ROWS, &prefetch) || mysql_stmt_execute(s)) {
        snprintf(g_reason, sizeof g_reason, "cursor execute: %u %s", SERR(s));
        mysql_stmt_close(s);
        return NULL;
    }
    if (!(m->server_status & SERVER_STATUS_CURSOR_EXISTS)) {
        snprintf(g_reason, sizeof g_reason,
                 "no SERVER_STATUS_CURSOR_EXISTS after execute (status 0x%x)", m->server_status);
        mysql_stmt_close(s);
        return NULL;
    }
    bind_long(&res[0], id);
    bind_long(&res[1], v);
    if (mysql_stmt_bind_result(s, res)) {
        snprintf(g_reason, sizeof g_reason, "bind_result: %u %s", SERR(s));
        mysql_stmt_close(s);
        return NULL;
    }
    return s;
}

static int t_cursor(void)
{
    MYSQL *m = conn(0);
    MYSQL_STMT *s1 = NULL, *s2 = NULL;
    MYSQL_BIND r1[2], r2[2];
    int id1, v1, id2, v2, n, frc;
    int rc = -1;
    char table[64];

    if (!m) goto fail;
    snprintf(table, sizeof table, "%s_cur", g_tag);
    QUERY(m, "DROP TABLE IF EXISTS %s", table);
    QUERY(m, "CREATE TABLE %s (id INT PRIMARY KEY, v INT)", table);
    QUERY(m,
          "INSERT INTO %s VALUES (1,10),(2,20),(3,30),(4,40),(5,50),(6,60),(7,70),(8,80),"
          "(9,90),(10,100)",
          table);

    if (!(s1 = open_cursor(m, table, 3, &id1, &v1, r1))) goto fail;
    for (n = 0; (frc = mysql_stmt_fetch(s1)) == 0; n++)
        CHECK(id1 == n + 1 && v1 == (n + 1) * 10, "row %d: %d %d", n, id1, v1);
    CHECK(frc == MYSQL_NO_DATA, "fetch: %d %u %s", frc, SERR(s1));
    CHECK(n == 10, "fetched %d rows", n);

    /* Re-execute: a new cursor from the start. */
    STMT_OK(s1, mysql_stmt_execute(s1));
    STMT_OK(s1, mysql_stmt_fetch(s1));
    CHECK(id1 == 1, "after re-execute first id %d", id1);

    /* Two cursors open at once, interleaved with a text query. */
    if (!(s2 = open_cursor(m, table, 2, &id2, &v2, r2))) goto fail;
    for (n = 2; n <= 10; n++) {
        STMT_OK(s2, mysql_stmt_fetch(s2));
        CHECK(id2 == n - 1, "cursor 2 row %d id %d", n, id2);
        if (n % 3 == 0) QEXPECT(m, "7", "SELECT 7");
        STMT_OK(s1, mysql_stmt_fetch(s1));
        CHECK(id1 == n && v1 == n * 10, "cursor 1 row %d id %d", n, id1);
    }
    CHECK(mysql_stmt_fetch(s1) == MYSQL_NO_DATA, "cursor 1 past end");
    STMT_OK(s2, mysql_stmt_fetch(s2));
    CHECK(id2 == 10, "cursor 2 last id %d", id2);
    CHECK(mysql_stmt_fetch(s2) == MYSQL_NO_DATA, "cursor 2 past end");
    rc = 0;
fail:
    if (s1) mysql_stmt_close(s1);
    if (s2) mysql_stmt_close(s2);
    if (m) mysql_close(m);
    return rc;
}

static int t_long_data(void)
{
    const size_t size = 1 * MiB, chunk = 64 * 1024;
    MYSQL *m = conn(0);
    MYSQL_STMT *s = NULL;
    MYSQL_RES *r = NULL;
    MYSQL_BIND p[2], res[1];
    char *data = malloc(size), *back = malloc(size + 16);
    int id;
    unsigned long blen;
    int rc = -1;
    char sql[256];

    if (!m || !data || !back) goto fail;
    for (size_t i = 0; i < size; i++)
        data[i] = (char)((i * 131 + i / 7) & 0xff);
    QUERY(m, "DROP TABLE IF EXISTS %s_ld", g_tag);
    QUERY(m, "CREATE TABLE %s_ld (id INT PRIMARY KEY, b LONGBLOB)", g_tag);
    snprintf(sql, sizeof sql, "INSERT INTO %s_ld VALUES (?, ?)", g_tag);
    if (!(s = prepare(m, sql))) goto fail;
    bind_long(&p[0], &id);
    bind_buf(&p[1], MYSQL_TYPE_LONG_BLOB, NULL, 0, NULL);
    STMT_OK(s, mysql_stmt_bind_param(s, p));
    id = 1;
    for (size_t off = 0; off < size; off += chunk)
        STMT_OK(s, mysql_stmt_send_long_data(s, 1, data + off, chunk));
    STMT_OK(s, mysql_stmt_execute(s));
    CHECK(mysql_stmt_affected_rows(s) == 1, "affected rows");
    mysql_stmt_close(s);
    s = NULL;

    QUERY(m, "SELECT b FROM %s_ld WHERE id = 1", g_tag);
    r = mysql_store_result(m);
    CHECK(r, "store_result: %u %s", MERR(m));
    {
        MYSQL_ROW row = mysql_fetch_row(r);
        unsigned long *len = mysql_fetch_lengths(r);
        CHECK(row && row[0], "no row");
        CHECK(len[0] == size, "text read back %lu bytes, sent %zu", len[0], size);
        CHECK(memcmp(row[0], data, size) == 0, "text read back differs");
    }
    mysql_free_result(r);
    r = NULL;

    snprintf(sql, sizeof sql, "SELECT b FROM %s_ld WHERE id = ?", g_tag);
    if (!(s = prepare(m, sql))) goto fail;
    STMT_OK(s, mysql_stmt_bind_param(s, p));
    bind_buf(&res[0], MYSQL_TYPE_LONG_BLOB, back, size + 16, &blen);
    STMT_OK(s, mysql_stmt_bind_result(s, res));
    STMT_OK(s, mysql_stmt_execute(s));
    STMT_OK(s, mysql_stmt_fetch(s));
    CHECK(blen == size && memcmp(back, data, size) == 0, "binary read back differs (%lu bytes)",
          blen);
    rc = 0;
fail:
    if (r) mysql_free_result(r);
    if (s) mysql_stmt_close(s);
    if (m) mysql_close(m);
    free(data);
    free(back);
    return rc;
}

static int t_stmt_reset(void)
{
    MYSQL *m = conn(0);
    MYSQL_STMT *s = NULL;
    MYSQL_BIND res[2], p[2];
    int id, v, n, frc;
    char str[64];
    unsigned long slen;
    int rc = -1;
    char table[64], sql[256];

    if (!m) goto fail;
    snprintf(table, sizeof table, "%s_rst", g_tag);
    QUERY(m, "DROP TABLE IF EXISTS %s", table);
    QUERY(m, "CREATE TABLE %s (id INT PRIMARY KEY, v INT)", table);
    QUERY(m, "INSERT INTO %s VALUES (1,10),(2,20),(3,30),(4,40),(5,50)", table);

    /* Reset closes an open cursor; the statement stays prepared. */
    if (!(s = open_cursor(m, table, 2, &id, &v, res))) goto fail;
    STMT_OK(s, mysql_stmt_fetch(s));
    STMT_OK(s, mysql_stmt_fetch(s));
    CHECK(id == 2, "second row id %d", id);
    STMT_OK(s, mysql_stmt_reset(s));
    QEXPECT(m, "1", "SELECT 1");
    STMT_OK(s, mysql_stmt_execute(s));
    for (n = 0; (frc = mysql_stmt_fetch(s)) == 0; n++)
        CHECK(id == n + 1, "after reset row %d id %d", n, id);
    CHECK(frc == MYSQL_NO_DATA && n == 5, "after reset fetched %d rows (rc %d)", n, frc);
    mysql_stmt_close(s);
    s = NULL;

    /* Reset discards long data sent so far. */
    QUERY(m, "DROP TABLE IF EXISTS %s_rst2", g_tag);
    QUERY(m, "CREATE TABLE %s_rst2 (id INT PRIMARY KEY, s VARCHAR(64))", g_tag);
    snprintf(sql, sizeof sql, "INSERT INTO %s_rst2 VALUES (?, ?)", g_tag);
    if (!(s = prepare(m, sql))) goto fail;
    bind_long(&p[0], &id);
    bind_buf(&p[1], MYSQL_TYPE_STRING, str, sizeof str, &slen);
    STMT_OK(s, mysql_stmt_bind_param(s, p));
    id = 1;
    STMT_OK(s, mysql_stmt_send_long_data(s, 1, "discarded-", 10));
    STMT_OK(s, mysql_stmt_reset(s));
    STMT_OK(s, mysql_stmt_send_long_data(s, 1, "kept", 4));
    STMT_OK(s, mysql_stmt_execute(s));
    QEXPECT(m, "kept", "SELECT s FROM %s_rst2 WHERE id = 1", g_tag);
    rc = 0;
fail:
    if (s) mysql_stmt_close(s);
    if (m) mysql_close(m);
    return rc;
}

static int t_stmt_close(void)
{
    MYSQL *m = conn(0);
    MYSQL_STMT *s = NULL, *many[50] = {0};
    MYSQL_BIND p[1], res[1];
    int in, out;
    int rc = -1;

    if (!m) goto fail;
    for (int round = 0; round < 3; round++) {
        if (!(s = prepare(m, "SELECT ? * 2"))) goto fail;
        bind_long(&p[0], &in);
        memset(&res[0], 0, sizeof res[0]);
        res[0].buffer_type = MYSQL_TYPE_LONG, res[0].buffer = &out;
        STMT_OK(s, mysql_stmt_bind_param(s, p));
        STMT_OK(s, mysql_stmt_bind_result(s, res));
        in = 21 + round;
        STMT_OK(s, mysql_stmt_execute(s));
        STMT_OK(s, mysql_stmt_fetch(s));
        CHECK(out == in * 2, "round %d: %d * 2 = %d", round, in, out);
        CHECK(mysql_stmt_close(s) == 0, "close: %u %s", MERR(m));
        s = NULL;
        QEXPECT(m, "1", "SELECT 1"); /* COM_STMT_CLOSE has no reply: stay in sync */
    }
    /* Many prepared at once, then all closed. */
    for (int k = 0; k < 50; k++) {
        char sql[64];
        snprintf(sql, sizeof sql, "SELECT %d + ?", k);
        if (!(many[k] = prepare(m, sql))) goto fail;
    }
    for (int k = 0; k < 50; k++) {
        mysql_stmt_close(many[k]);
        many[k] = NULL;
    }
    QEXPECT(m, "1", "SELECT 1");
    rc = 0;
fail:
    for (int k = 0; k < 50; k++)
        if (many[k]) mysql_stmt_close(many[k]);
    if (s) mysql_stmt_close(s);
    if (m) mysql_close(m);
    return rc;
}

static int t_multi_statements(void)
{
    MYSQL *m = conn(CLIENT_MULTI_STATEMENTS);
    MYSQL_RES *r = NULL;
    MYSQL_ROW row;
    int nrc, rc = -1;

    if (!m) goto fail;
    QUERY(m, "DROP TABLE IF EXISTS %s_ms", g_tag);
    QUERY(m, "CREATE TABLE %s_ms (id INT)", g_tag);
    QUERY(m, "SELECT 1 AS x; INSERT INTO %s_ms VALUES (1),(2); SELECT 'a', 'b'", g_tag);
    r = mysql_store_result(m);
    CHECK(r && (row = mysql_fetch_row(r)) && strcmp(row[0], "1") == 0, "result 1");
    mysql_free_result(r);
    r = NULL;
    CHECK(mysql_more_results(m), "no more results after result 1");
    CHECK((nrc = mysql_next_result(m)) == 0, "next_result 1: %d %u %s", nrc, MERR(m));
    CHECK(mysql_field_count(m) == 0 && mysql_affected_rows(m) == 2, "result 2: fields %u rows %llu",
          mysql_field_count(m), (unsigned long long)mysql_affected_rows(m));
    CHECK((nrc = mysql_next_result(m)) == 0, "next_result 2: %d %u %s", nrc, MERR(m));
    r = mysql_store_result(m);
    CHECK(r && mysql_num_fields(r) == 2 && (row = mysql_fetch_row(r)) && strcmp(row[1], "b") == 0,
          "result 3");
    mysql_free_result(r);
    r = NULL;
    CHECK(!mysql_more_results(m), "more results after the last");
    CHECK(mysql_next_result(m) == -1, "next_result at end");

    /* An error in the middle ends the batch; the connection stays usable. */
    QUERY(m, "SELECT 1; SELECT * FROM %s_no_such_table; SELECT 3", g_tag);
    r = mysql_store_result(m);
    CHECK(r, "first result of failing batch");
    mysql_free_result(r);
    r = NULL;
    nrc = mysql_next_result(m);
    CHECK(nrc > 0 && mysql_errno(m) == ER_NO_SUCH_TABLE, "expected 1146, got %d %u %s", nrc,
          MERR(m));
    CHECK(!mysql_more_results(m), "more results after error");
    QEXPECT(m, "42", "SELECT 42");
    QEXPECT(m, "2", "SELECT COUNT(*) FROM %s_ms", g_tag);
    rc = 0;
fail:
    if (r) mysql_free_result(r);
    if (m) mysql_close(m);
    return rc;
}

static int create_procs(MYSQL *m)
{
    QUERY(m, "DROP PROCEDURE IF EXISTS %s_p2", g_tag);
    QUERY(m,
          "CREATE PROCEDURE %s_p2(IN a INT) BEGIN SELECT a AS first; "
          "SELECT a + 1 AS second, 'x' AS third UNION ALL SELECT a + 2, 'y'; END",
          g_tag);
    QUERY(m, "DROP PROCEDURE IF EXISTS %s_pout", g_tag);
    QUERY(m,
          "CREATE PROCEDURE %s_pout(IN a INT, OUT b INT, INOUT c VARCHAR(20)) "
          "BEGIN SET b = a * 3; SET c = CONCAT(c, '!'); END",
          g_tag);
    return 0;
fail:
    return -1;
}

static int t_sp_text(void)
{
    MYSQL *m = conn(CLIENT_MULTI_RESULTS);
    MYSQL_RES *r = NULL;
    MYSQL_ROW row;
    int rc = -1, nrc;

    if (!m || create_procs(m)) goto fail;
    for (int round = 0; round < 2; round++) {
        int sets = 0, oks = 0;
        QUERY(m, "CALL %s_p2(%d)", g_tag, 7 + round);
        do {
            if (mysql_field_count(m) == 0) {
                oks++;
                continue;
            }
            r = mysql_store_result(m);
            CHECK(r, "store_result: %u %s", MERR(m));
            row = mysql_fetch_row(r);
            if (sets == 0) {
                CHECK(row && atoi(row[0]) == 7 + round && mysql_num_rows(r) == 1, "set 1");
            } else {
                CHECK(row && atoi(row[0]) == 8 + round && strcmp(row[1], "x") == 0 &&
                          mysql_num_rows(r) == 2,
                      "set 2");
            }
            sets++;
            mysql_free_result(r);
            r = NULL;
        } while ((nrc = mysql_next_result(m)) == 0);
        CHECK(nrc == -1, "next_result: %d %u %s", nrc, MERR(m));
        CHECK(sets == 2 && oks == 1, "CALL gave %d result sets and %d OKs", sets, oks);
    }
    QEXPECT(m, "1", "SELECT 1");
    rc = 0;
fail:
    if (r) mysql_free_result(r);
    if (m) mysql_close(m);
    return rc;
}

static int t_sp_binary(void)
{
    MYSQL *m = conn(CLIENT_MULTI_RESULTS);
    MYSQL_STMT *s = NULL;
    MYSQL_BIND p[1], res[2];
    int a, c1;
    char c2[16];
    unsigned long c2len;
    int rc = -1;
    char sql[128];

    if (!m || create_procs(m)) goto fail;
    snprintf(sql, sizeof sql, "CALL %s_p2(?)", g_tag);
    if (!(s = prepare(m, sql))) goto fail;
    bind_long(&p[0], &a);
    STMT_OK(s, mysql_stmt_bind_param(s, p));
    for (int round = 0; round < 2; round++) {
        int nrc;
        a = 7 + round * 10;
        STMT_OK(s, mysql_stmt_execute(s));
        CHECK(mysql_stmt_field_count(s) == 1, "set 1 field count %u", mysql_stmt_field_count(s));
        bind_long(&res[0], &c1);
        STMT_OK(s, mysql_stmt_bind_result(s, res));
        STMT_OK(s, mysql_stmt_fetch(s));
        CHECK(c1 == a, "set 1 value %d", c1);
        CHECK(mysql_stmt_fetch(s) == MYSQL_NO_DATA, "set 1 extra row");
        CHECK((nrc = mysql_stmt_next_result(s)) == 0, "next_result 1: %d %u %s", nrc, SERR(s));
        CHECK(mysql_stmt_field_count(s) == 2, "set 2 field count %u", mysql_stmt_field_count(s));
        bind_long(&res[0], &c1);
        bind_buf(&res[1], MYSQL_TYPE_STRING, c2, sizeof c2, &c2len);
        STMT_OK(s, mysql_stmt_bind_result(s, res));
        STMT_OK(s, mysql_stmt_fetch(s));
        CHECK(c1 == a + 1 && c2len == 1 && c2[0] == 'x', "set 2 row 1: %d %.*s", c1, (int)c2len,
              c2);
        STMT_OK(s, mysql_stmt_fetch(s));
        CHECK(c1 == a + 2 && c2[0] == 'y', "set 2 row 2: %d", c1);
        CHECK(mysql_stmt_fetch(s) == MYSQL_NO_DATA, "set 2 extra row");
        CHECK((nrc = mysql_stmt_next_result(s)) == 0, "next_result 2 (final OK): %d %u %s", nrc,
              SERR(s));
        CHECK(mysql_stmt_field_count(s) == 0, "final OK has %u fields", mysql_stmt_field_count(s));
        CHECK((nrc = mysql_stmt_next_result(s)) == -1, "next_result at end: %d", nrc);
    }
    mysql_stmt_close(s);
    s = NULL;

    /* OUT parameters come back as a result set flagged SERVER_PS_OUT_PARAMS. */
    snprintf(sql, sizeof sql, "CALL %s_pout(?, ?, ?)", g_tag);
    if (!(s = prepare(m, sql))) goto fail;
    {
        MYSQL_BIND op[3], or [3];
        int in = 5, outb = 0, dummy = 0;
        char cbuf[32] = "hey", cout[32];
        unsigned long clen = 3, coutlen = 0;
        int nrc;
        bind_long(&op[0], &in);
        bind_long(&op[1], &dummy);
        bind_buf(&op[2], MYSQL_TYPE_STRING, cbuf, sizeof cbuf, &clen);
        STMT_OK(s, mysql_stmt_bind_param(s, op));
        STMT_OK(s, mysql_stmt_execute(s));
        CHECK(m->server_status & SERVER_PS_OUT_PARAMS, "no SERVER_PS_OUT_PARAMS (0x%x)",
              m->server_status);
        CHECK(mysql_stmt_field_count(s) == 2, "out params field count %u",
              mysql_stmt_field_count(s));
        bind_long(& or [0], &outb);
        bind_buf(& or [1], MYSQL_TYPE_STRING, cout, sizeof cout, &coutlen);
        STMT_OK(s, mysql_stmt_bind_result(s, or));
        STMT_OK(s, mysql_stmt_fetch(s));
        CHECK(outb == 15 && coutlen == 4 && memcmp(cout, "hey!", 4) == 0, "out params %d %.*s",
              outb, (int)coutlen, cout);
        CHECK(mysql_stmt_fetch(s) == MYSQL_NO_DATA, "out params extra row");
        CHECK((nrc = mysql_stmt_next_result(s)) == 0, "next_result (final OK): %d %u %s", nrc,
              SERR(s));
        CHECK(mysql_stmt_next_result(s) == -1, "next_result at end");
    }
    QEXPECT(m, "1", "SELECT 1");
    rc = 0;
fail:
    if (s) mysql_stmt_close(s);
    if (m) mysql_close(m);
    return rc;
}

/* Procedures whose answers MariaDB shapes unusually: after a cursor of the
 * procedure's own, the results it sends carry SERVER_STATUS_CURSOR_EXISTS
 * (and LAST_ROW_SENT) although their rows follow as usual; a handler's
 * RESIGNAL ends a CALL with ERR after result sets; a RESIGNALled warning
 * is an OK with a warning count. */
static int create_cursor_procs(MYSQL *m)
{
    QUERY(m, "DROP TABLE IF EXISTS %s_spc", g_tag);
    QUERY(m, "CREATE TABLE %s_spc (a INT)", g_tag);
    QUERY(m, "INSERT INTO %s_spc VALUES (1), (2), (3)", g_tag);
    QUERY(m, "DROP PROCEDURE IF EXISTS %s_pc1", g_tag);
    QUERY(m,
          "CREATE PROCEDURE %s_pc1() BEGIN DECLARE a INT; DECLARE c CURSOR FOR SELECT 1; "
          "OPEN c; FETCH c INTO a; CLOSE c; SELECT a; END",
          g_tag);
    QUERY(m, "DROP PROCEDURE IF EXISTS %s_pc2", g_tag);
    QUERY(m,
          "CREATE PROCEDURE %s_pc2() BEGIN DECLARE done INT DEFAULT 0; DECLARE x, s INT "
          "DEFAULT 0; DECLARE c CURSOR FOR SELECT a FROM %s_spc; DECLARE CONTINUE HANDLER FOR "
          "NOT FOUND SET done = 1; OPEN c; l: LOOP FETCH c INTO x; IF done THEN LEAVE l; END IF; "
          "SET s = s + x; END LOOP; CLOSE c; SELECT s; SELECT a FROM %s_spc ORDER BY a; END",
          g_tag, g_tag, g_tag);
    QUERY(m, "DROP PROCEDURE IF EXISTS %s_pc3", g_tag);
    QUERY(m,
          "CREATE PROCEDURE %s_pc3() BEGIN DECLARE a INT; DECLARE c CURSOR FOR SELECT 7; "
          "OPEN c; FETCH c INTO a; SELECT a; CLOSE c; END",
          g_tag);
    QUERY(m, "DROP PROCEDURE IF EXISTS %s_psig", g_tag);
    QUERY(m,
          "CREATE PROCEDURE %s_psig() BEGIN DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN "
          "SELECT 'handler' AS h; RESIGNAL; END; SELECT 1 AS one; "
          "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'boom'; END",
          g_tag);
    QUERY(m, "DROP PROCEDURE IF EXISTS %s_pres", g_tag);
    QUERY(m,
          "CREATE PROCEDURE %s_pres() BEGIN DECLARE EXIT HANDLER FOR SQLEXCEPTION "
          "RESIGNAL SET MESSAGE_TEXT = 'resignalled'; DROP TABLE %s_no_such_table; END",
          g_tag, g_tag);
    QUERY(m, "DROP PROCEDURE IF EXISTS %s_pwarn", g_tag);
    QUERY(m,
          "CREATE PROCEDURE %s_pwarn() BEGIN DECLARE CONTINUE HANDLER FOR SQLWARNING BEGIN "
          "RESIGNAL; END; SIGNAL SQLSTATE '01000' SET MESSAGE_TEXT = 'a warning'; "
          "SELECT 2 AS two; END",
          g_tag);
    QUERY(m, "DROP PROCEDURE IF EXISTS %s_pcout", g_tag);
    QUERY(m,
          "CREATE PROCEDURE %s_pcout(OUT o INT) BEGIN DECLARE c CURSOR FOR SELECT 5; "
          "OPEN c; FETCH c INTO o; CLOSE c; SELECT o AS got; END",
          g_tag);
    return 0;
fail:
    return -1;
}

/* Appends to out, bounded. */
static void cat(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void cat(char *out, size_t cap, const char *fmt, ...)
{
    size_t n = strlen(out);
    va_list ap;
    if (n >= cap - 1) return;
    va_start(ap, fmt);
    vsnprintf(out + n, cap - n, fmt, ap);
    va_end(ap);
}

/* Runs a text statement and describes every answer it got, e.g.
 * "[a]1;[s]6;[a]1,2,3;ok/w0" or "[one]1;err1644 boom". Returns 0, or -1 when
 * the connection broke (g_reason set). */
static int text_answers(MYSQL *m, const char *sql, char *out, size_t cap)
{
    int nrc = 0;
    out[0] = '\0';
    if (mysql_real_query(m, sql, strlen(sql))) {
        cat(out, cap, "err%u %s", MERR(m));
        goto end;
    }
    do {
        if (out[0]) cat(out, cap, ";");
        if (mysql_field_count(m) == 0) {
            cat(out, cap, "ok/w%u", mysql_warning_count(m));
            continue;
        }
        MYSQL_RES *r = mysql_store_result(m);
        if (!r) {
            cat(out, cap, "store err%u", mysql_errno(m));
            goto end;
        }
        MYSQL_FIELD *f = mysql_fetch_fields(r);
        cat(out, cap, "[");
        for (unsigned i = 0; i < mysql_num_fields(r); i++)
            cat(out, cap, "%s%s", i ? "," : "", f[i].name);
        cat(out, cap, "]");
        MYSQL_ROW row;
        for (int k = 0; (row = mysql_fetch_row(r)); k++)
            for (unsigned i = 0; i < mysql_num_fields(r); i++)
                cat(out, cap, "%s%s", k || i ? "," : "", row[i] ? row[i] : "NULL");
        mysql_free_result(r);
    } while ((nrc = mysql_next_result(m)) == 0);
    if (nrc > 0) cat(out, cap, ";err%u %s", MERR(m));
end:
    if (mysql_errno(m) == CR_SERVER_LOST || mysql_errno(m) == CR_SERVER_GONE_ERROR) {
        snprintf(g_reason, sizeof g_reason, "%s: connection lost: %s", sql, out);
        return -1;
    }
    return 0;
}

static int t_sp_cursor_text(void)
{
    MYSQL *m = conn(CLIENT_MULTI_RESULTS | CLIENT_MULTI_STATEMENTS);
    char got[512], sql[128];
    int rc = -1;
    struct {
        const char *proc, *want;
    } cases[] = {
        {"pc1", "[a]1;ok/w0"},           {"pc2", "[s]6;[a]1,2,3;ok/w0"},
        {"pc3", "[a]7;ok/w0"},           {"psig", "[one]1;[h]handler;err1644 boom"},
        {"pres", "err1051 resignalled"}, {"pwarn", "[two]2;ok/w1"},
    };

    if (!m || create_cursor_procs(m)) goto fail;
    for (int round = 0; round < 2; round++)
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            snprintf(sql, sizeof sql, "CALL %s_%s()", g_tag, cases[i].proc);
            if (text_answers(m, sql, got, sizeof got)) goto fail;
            CHECK(strcmp(got, cases[i].want) == 0, "%s: got \"%s\", want \"%s\"", sql, got,
                  cases[i].want);
            QEXPECT(m, "1", "SELECT 1");
        }
    /* OUT parameter of a text CALL, set through a cursor, read back in a user variable */
    snprintf(sql, sizeof sql, "CALL %s_pcout(@o)", g_tag);
    if (text_answers(m, sql, got, sizeof got)) goto fail;
    CHECK(strcmp(got, "[got]5;ok/w0") == 0, "%s: got \"%s\"", sql, got);
    QEXPECT(m, "5", "SELECT @o");
    /* several statements in one text, a CALL with a cursor in the middle */
    QUERY(m, "SELECT 'x' AS before_call; CALL %s_pc1(); SELECT 'y' AS after_call", g_tag);
    {
        /* the first result was read by mysql_real_query; describe the rest */
        char tail[512] = "";
        int nrc;
        MYSQL_RES *r = mysql_store_result(m);
        CHECK(r, "multi: store_result %u %s", MERR(m));
        mysql_free_result(r);
        while ((nrc = mysql_next_result(m)) == 0) {
            if (mysql_field_count(m) == 0) {
                cat(tail, sizeof tail, "ok;");
                continue;
            }
            r = mysql_store_result(m);
            CHECK(r, "multi: store_result %u %s", MERR(m));
            MYSQL_ROW row = mysql_fetch_row(r);
            cat(tail, sizeof tail, "%s=%s;", mysql_fetch_fields(r)[0].name, row ? row[0] : "-");
            mysql_free_result(r);
        }
        CHECK(nrc == -1, "multi: next_result %d %u %s", nrc, MERR(m));
        CHECK(strcmp(tail, "a=1;ok;after_call=y;") == 0, "multi: got \"%s\"", tail);
    }
    QEXPECT(m, "1", "SELECT 1");
    rc = 0;
fail:
    if (m) mysql_close(m);
    return rc;
}

/* Executes a prepared CALL and describes its answers as text_answers does;
 * with `cursor`, the statement asks for a read-only cursor. */
static int binary_answers(MYSQL *m, MYSQL_STMT *s, int cursor, char *out, size_t cap)
{
    unsigned long type = cursor ? CURSOR_TYPE_READ_ONLY : CURSOR_TYPE_NO_CURSOR;
    int nrc = 0;
    out[0] = '\0';
    if (mysql_stmt_attr_set(s, STMT_ATTR_CURSOR_TYPE, &type)) {
        snprintf(g_reason, sizeof g_reason, "attr_set: %u %s", SERR(s));
        return -1;
    }
    if (mysql_stmt_execute(s)) {
        cat(out, cap, "err%u %s", SERR(s));
        goto end;
    }
    do {
        unsigned nf = mysql_stmt_field_count(s);
        if (out[0]) cat(out, cap, ";");
        if (nf == 0) {
            cat(out, cap, "ok/w%u", mysql_warning_count(m));
            continue;
        }
        char vals[8][64];
        unsigned long lens[8];
        my_bool nulls[8];
        MYSQL_BIND b[8];
        if (nf > 8) nf = 8;
        memset(b, 0, sizeof b);
        for (unsigned i = 0; i < nf; i++) {
            b[i].buffer_type = MYSQL_TYPE_STRING;
            b[i].buffer = vals[i];
            b[i].buffer_length = sizeof vals[i] - 1;
            b[i].length = &lens[i];
            b[i].is_null = &nulls[i];
        }
        MYSQL_RES *md = mysql_stmt_result_metadata(s);
        cat(out, cap, "%s[", (m->server_status & SERVER_PS_OUT_PARAMS) ? "out" : "");
        for (unsigned i = 0; md && i < nf; i++)
            cat(out, cap, "%s%s", i ? "," : "", mysql_fetch_fields(md)[i].name);
        cat(out, cap, "]");
        if (md) mysql_free_result(md);
        if (mysql_stmt_bind_result(s, b)) {
            cat(out, cap, "bind err%u", mysql_stmt_errno(s));
            goto end;
        }
        int frc, k = 0;
        while ((frc = mysql_stmt_fetch(s)) == 0 || frc == MYSQL_DATA_TRUNCATED) {
            for (unsigned i = 0; i < nf; i++)
                cat(out, cap, "%s%.*s", k || i ? "," : "", nulls[i] ? 4 : (int)lens[i],
                    nulls[i] ? "NULL" : vals[i]);
            k++;
        }
        if (frc != MYSQL_NO_DATA) {
            cat(out, cap, "fetch err%u %s", SERR(s));
            goto end;
        }
    } while ((nrc = mysql_stmt_next_result(s)) == 0);
    if (nrc > 0) cat(out, cap, ";err%u %s", SERR(s));
end:
    if (mysql_errno(m) == CR_SERVER_LOST || mysql_errno(m) == CR_SERVER_GONE_ERROR ||
        mysql_stmt_errno(s) == CR_SERVER_LOST) {
        snprintf(g_reason, sizeof g_reason, "connection lost: %s", out);
        return -1;
    }
    return 0;
}

static int t_sp_cursor_binary(void)
{
    MYSQL *m = conn(CLIENT_MULTI_RESULTS);
    MYSQL_STMT *s = NULL;
    char got[512], sql[128];
    int rc = -1;
    /* own_cursor: the procedure uses a cursor, so its results carry CURSOR_EXISTS;
     * libmariadb then takes them for a cursor of its own and fails with 2014 on a
     * direct connection too if the statement asked for one: those run without. */
    struct {
        const char *call, *want;
        int own_cursor;
    } cases[] = {
        {"pc1()", "[a]1;ok/w0", 1},
        {"pc2()", "[s]6;[a]1,2,3;ok/w0", 1},
        {"pc3()", "[a]7;ok/w0", 1},
        {"psig()", "[one]1;[h]handler;err1644 boom", 0},
        {"pres()", "err1051 resignalled", 0},
        {"pwarn()", "[two]2;ok/w1", 0},
        {"pcout(?)", "[got]5;out[o]5;ok/w0", 1},
        {"p2(?)", "[first]3;[second,third]4,x,5,y;ok/w0", 0},
    };

    if (!m || create_cursor_procs(m) || create_procs(m)) goto fail;
    for (int cursor = 0; cursor < 2; cursor++)
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            if (cursor && cases[i].own_cursor) continue;
            snprintf(sql, sizeof sql, "CALL %s_%s", g_tag, cases[i].call);
            if (!(s = prepare(m, sql))) goto fail;
            MYSQL_BIND p[3];
            int three = 3;
            unsigned long n = mysql_stmt_param_count(s);
            for (unsigned long k = 0; k < n && k < 3; k++)
                bind_long(&p[k], &three);
            if (n) STMT_OK(s, mysql_stmt_bind_param(s, p));
            for (int round = 0; round < 2; round++) {
                if (binary_answers(m, s, cursor, got, sizeof got)) goto fail;
                CHECK(strcmp(got, cases[i].want) == 0, "%s (cursor %d): got \"%s\", want \"%s\"",
                      sql, cursor, got, cases[i].want);
            }
            mysql_stmt_close(s);
            s = NULL;
            QEXPECT(m, "1", "SELECT 1");
        }
    rc = 0;
fail:
    if (s) mysql_stmt_close(s);
    if (m) mysql_close(m);
    return rc;
}

/* One column's metadata as a real server gives it. */
struct want_field {
    const char *name;
    enum enum_field_types type;
    unsigned long length;
    int is_unsigned;
};

static int check_fields(const char *what, MYSQL_FIELD *f, unsigned n, const struct want_field *w,
                        unsigned nw)
{
    if (n != nw) {
        snprintf(g_reason, sizeof g_reason, "%s: %u fields, want %u", what, n, nw);
        return -1;
    }
    for (unsigned i = 0; i < n; i++) {
        int uns = (f[i].flags & UNSIGNED_FLAG) != 0;
        if (strcmp(f[i].name, w[i].name) != 0 || f[i].type != w[i].type ||
            f[i].length != w[i].length || uns != w[i].is_unsigned) {
            snprintf(g_reason, sizeof g_reason,
                     "%s: field %u is \"%s\" type %d length %lu unsigned %d, want \"%s\" %d %lu %d",
                     what, i, f[i].name, f[i].type, f[i].length, uns, w[i].name, w[i].type,
                     w[i].length, w[i].is_unsigned);
            return -1;
        }
    }
    return 0;
}

/* Functions mymux answers itself (CONNECTION_ID(), and LAST_INSERT_ID(),
 * ROW_COUNT() on a connection that did not run the previous statement) keep
 * the column names and types the server gives them: text and prepared. */
static int t_rewrite_names(void)
{
    MYSQL *m = conn(0);
    MYSQL_RES *r = NULL;
    MYSQL_STMT *s = NULL;
    MYSQL_ROW row;
    int rc = -1;
    char sql[512], want[32];

    if (!m) goto fail;
    QUERY(m, "DROP TABLE IF EXISTS %s_rn", g_tag);
    QUERY(m, "CREATE TABLE %s_rn (id INT AUTO_INCREMENT PRIMARY KEY, v INT)", g_tag);
    QUERY(m, "INSERT INTO %s_rn (v) VALUES (10), (20)", g_tag);
    /* the first id of the INSERT, the rows it wrote */
    QUERY(m, "SELECT LAST_INSERT_ID(), last_insert_id ( ) + 1, ROW_COUNT() AS rc, "
             "CONNECTION_ID(), @@identity");
    {
        const struct want_field w[] = {{"LAST_INSERT_ID()", MYSQL_TYPE_LONGLONG, 21, 1},
                                       {"last_insert_id ( ) + 1", MYSQL_TYPE_LONGLONG, 22, 1},
                                       {"rc", MYSQL_TYPE_LONGLONG, 21, 0},
                                       {"CONNECTION_ID()", MYSQL_TYPE_LONG, 10, 1},
                                       {"@@identity", MYSQL_TYPE_LONGLONG, 21, 1}};
        CHECK(r = mysql_store_result(m), "store_result: %u %s", MERR(m));
        if (check_fields("text", mysql_fetch_fields(r), mysql_num_fields(r), w, 5)) goto fail;
        CHECK((row = mysql_fetch_row(r)), "no row");
        snprintf(want, sizeof want, "%lu", mysql_thread_id(m));
        CHECK(strcmp(row[0], "1") == 0 && strcmp(row[1], "2") == 0 && strcmp(row[2], "2") == 0 &&
                  strcmp(row[3], want) == 0 && strcmp(row[4], "1") == 0,
              "values %s %s %s %s %s (thread id %s)", row[0], row[1], row[2], row[3], row[4], want);
        mysql_free_result(r);
        r = NULL;
    }
    /* in WHERE, and in a derived table, whose columns take the item's name */
    QUERY(m,
          "SELECT v, d.`LAST_INSERT_ID()` FROM %s_rn, (SELECT LAST_INSERT_ID()) d "
          "WHERE id = LAST_INSERT_ID()",
          g_tag);
    {
        const struct want_field w[] = {{"v", MYSQL_TYPE_LONG, 11, 0},
                                       {"LAST_INSERT_ID()", MYSQL_TYPE_LONGLONG, 21, 1}};
        CHECK(r = mysql_store_result(m), "store_result: %u %s", MERR(m));
        if (check_fields("where", mysql_fetch_fields(r), mysql_num_fields(r), w, 2)) goto fail;
        CHECK((row = mysql_fetch_row(r)) && strcmp(row[0], "10") == 0 && strcmp(row[1], "1") == 0,
              "where: row %s", row ? row[0] : "none");
        mysql_free_result(r);
        r = NULL;
    }
    /* a prepared statement: the names come with the PREPARE answer */
    snprintf(sql, sizeof sql,
             "SELECT CONNECTION_ID(), connection_id ()  +  0 AS x, "
             "CONNECTION_ID()  =  CONNECTION_ID()");
    if (!(s = prepare(m, sql))) goto fail;
    {
        const struct want_field w[] = {
            {"CONNECTION_ID()", MYSQL_TYPE_LONG, 10, 1},
            {"x", MYSQL_TYPE_LONGLONG, 11, 1},
            {"CONNECTION_ID()  =  CONNECTION_ID()", MYSQL_TYPE_LONG, 1, 0}};
        MYSQL_RES *md = mysql_stmt_result_metadata(s);
        CHECK(md, "no metadata: %u %s", SERR(s));
        int frc = check_fields("prepared", mysql_fetch_fields(md), mysql_num_fields(md), w, 3);
        mysql_free_result(md);
        if (frc) goto fail;
        long long id = 0, x = 0;
        int eq = 0;
        MYSQL_BIND b[3];
        bind_longlong(&b[0], &id);
        bind_longlong(&b[1], &x);
        bind_long(&b[2], &eq);
        STMT_OK(s, mysql_stmt_execute(s));
        STMT_OK(s, mysql_stmt_bind_result(s, b));
        STMT_OK(s, mysql_stmt_fetch(s));
        CHECK((unsigned long)id == mysql_thread_id(m) && x == id && eq == 1,
              "prepared values %lld %lld %d, thread id %lu", id, x, eq, mysql_thread_id(m));
    }
    rc = 0;
fail:
    if (r) mysql_free_result(r);
    if (s) mysql_stmt_close(s);
    if (m) mysql_close(m);
    return rc;
}

static int check_server_packet(MYSQL *m, unsigned long need)
{
    char v[64];
    QSTR(m, v, "SELECT @@max_allowed_packet");
    CHECK(strtoul(v, NULL, 10) >= need, "server max_allowed_packet %s < %lu", v, need);
    return 0;
fail:
    return -1;
}

static int t_large_packet(void)
{
    const size_t size = 20 * MiB;
    MYSQL *m = conn_ex(g_user, g_pass, 0, 0, 64 * MiB);
    MYSQL_RES *r = NULL;
    MYSQL_STMT *s = NULL;
    MYSQL_BIND p[2], res[1];
    char *data = malloc(size), *q = malloc(size + 256), *back = malloc(size + 16);
    int id, rc = -1;
    unsigned long dlen = size, blen;
    char sql[256];

    if (!m || !data || !q || !back) goto fail;
    if (check_server_packet(m, 32 * MiB)) goto fail;
    fill_pattern(data, size, 3);
    QUERY(m, "DROP TABLE IF EXISTS %s_big", g_tag);
    QUERY(m, "CREATE TABLE %s_big (id INT PRIMARY KEY, b LONGBLOB)", g_tag);

    /* A 20 MiB COM_QUERY (two 16 MiB-split packets) and a 20 MiB text row back. */
    {
        int n = snprintf(q, 256, "INSERT INTO %s_big VALUES (1, '", g_tag);
        memcpy(q + n, data, size);
        memcpy(q + n + size, "')", 2);
        if (mysql_real_query(m, q, n + size + 2)) FAIL("20 MiB INSERT: %u %s", MERR(m));
    }
    CHECK(mysql_affected_rows(m) == 1, "20 MiB INSERT affected rows");
    QUERY(m, "SELECT b FROM %s_big WHERE id = 1", g_tag);
    r = mysql_store_result(m);
    CHECK(r, "store_result: %u %s", MERR(m));
    {
        MYSQL_ROW row = mysql_fetch_row(r);
        unsigned long *len = mysql_fetch_lengths(r);
        CHECK(row && len[0] == size && memcmp(row[0], data, size) == 0,
              "20 MiB text row read back wrong (%lu bytes)", row ? len[0] : 0);
    }
    mysql_free_result(r);
    r = NULL;

    /* A 20 MiB COM_STMT_EXECUTE parameter (not long data) and a binary row back. */
    snprintf(sql, sizeof sql, "INSERT INTO %s_big VALUES (?, ?)", g_tag);
    if (!(s = prepare(m, sql))) goto fail;
    fill_pattern(data, size, 11);
    bind_long(&p[0], &id);
    bind_buf(&p[1], MYSQL_TYPE_LONG_BLOB, data, size, &dlen);
    STMT_OK(s, mysql_stmt_bind_param(s, p));
    id = 2;
    STMT_OK(s, mysql_stmt_execute(s));
    mysql_stmt_close(s);
    s = NULL;
    snprintf(sql, sizeof sql, "SELECT b FROM %s_big WHERE id = ?", g_tag);
    if (!(s = prepare(m, sql))) goto fail;
    STMT_OK(s, mysql_stmt_bind_param(s, p));
    bind_buf(&res[0], MYSQL_TYPE_LONG_BLOB, back, size + 16, &blen);
    STMT_OK(s, mysql_stmt_bind_result(s, res));
    STMT_OK(s, mysql_stmt_execute(s));
    STMT_OK(s, mysql_stmt_fetch(s));
    CHECK(blen == size && memcmp(back, data, size) == 0, "20 MiB binary row wrong (%lu bytes)",
          blen);
    CHECK(mysql_stmt_fetch(s) == MYSQL_NO_DATA, "extra row");
    mysql_stmt_close(s);
    s = NULL;
    QEXPECT(m, "2", "SELECT COUNT(*) FROM %s_big", g_tag);
    rc = 0;
fail:
    if (r) mysql_free_result(r);
    if (s) mysql_stmt_close(s);
    if (m) mysql_close(m);
    free(data);
    free(q);
    free(back);
    return rc;
}

/* Packets whose payload is exactly 0xFFFFFF bytes must be followed by an
 * empty packet; this drives that case in both directions and both protocols. */
static int t_large_packet_boundary(void)
{
    const size_t maxp = 0xFFFFFF;
    MYSQL *m = conn_ex(g_user, g_pass, 0, 0, 64 * MiB);
    MYSQL_RES *r = NULL;
    MYSQL_STMT *s = NULL;
    MYSQL_BIND p[1], res[1];
    char *q = malloc(maxp + 16), *back = malloc(maxp + 16);
    int rc = -1;

    if (!m || !q || !back) goto fail;
    if (check_server_packet(m, 32 * MiB)) goto fail;
    /* COM_QUERY payload = 1 command byte + query: query of 0xFFFFFE bytes. */
    {
        const char *pre = "SELECT LENGTH('", *post = "') AS v";
        size_t qlen = maxp - 1, xlen = qlen - strlen(pre) - strlen(post);
        char want[32];
        memcpy(q, pre, strlen(pre));
        fill_pattern(q + strlen(pre), xlen, 5);
        memcpy(q + strlen(pre) + xlen, post, strlen(post));
        if (mysql_real_query(m, q, qlen)) FAIL("query of 0xFFFFFE bytes: %u %s", MERR(m));
        r = mysql_store_result(m);
        CHECK(r, "store_result: %u %s", MERR(m));
        MYSQL_ROW row = mysql_fetch_row(r);
        snprintf(want, sizeof want, "%zu", xlen);
        CHECK(row && strcmp(row[0], want) == 0, "LENGTH %s, want %s", row ? row[0] : "-", want);
        mysql_free_result(r);
        r = NULL;
    }
    /* Text row payload = 4-byte length prefix + value. */
    for (long delta = -1; delta <= 1; delta++) {
        size_t vlen = maxp - 4 + delta;
        QUERY(m, "SELECT REPEAT('z', %zu) AS v", vlen);
        r = mysql_store_result(m);
        CHECK(r, "store_result (%zu): %u %s", vlen, MERR(m));
        MYSQL_ROW row = mysql_fetch_row(r);
        unsigned long *len = mysql_fetch_lengths(r);
        CHECK(row && row[0] && len[0] == vlen, "text row of %zu bytes came back as %lu", vlen,
              row && row[0] ? len[0] : 0);
        CHECK(row[0][0] == 'z' && row[0][vlen - 1] == 'z', "text row content");
        mysql_free_result(r);
        r = NULL;
    }
    /* Binary row payload = 0x00 + 1-byte NULL bitmap + 4-byte length + value;
     * COM_STMT_EXECUTE payload = 18 bytes of header for one string param + value. */
    if (!(s = prepare(m, "SELECT CONCAT(?, '')"))) goto fail;
    for (long delta = -1; delta <= 1; delta++) {
        size_t vlen = maxp - 18 + delta;
        unsigned long plen = vlen, blen = 0;
        fill_pattern(q, vlen, (unsigned)delta + 7);
        bind_buf(&p[0], MYSQL_TYPE_STRING, q, vlen, &plen);
        STMT_OK(s, mysql_stmt_bind_param(s, p));
        bind_buf(&res[0], MYSQL_TYPE_STRING, back, maxp + 16, &blen);
        STMT_OK(s, mysql_stmt_bind_result(s, res));
        STMT_OK(s, mysql_stmt_execute(s));
        STMT_OK(s, mysql_stmt_fetch(s));
        CHECK(blen == vlen && memcmp(back, q, vlen) == 0, "binary echo of %zu bytes: got %lu", vlen,
              blen);
        CHECK(mysql_stmt_fetch(s) == MYSQL_NO_DATA, "extra row");
    }
    mysql_stmt_close(s);
    s = NULL;
    if (!(s = prepare(m, "SELECT REPEAT('y', ?)"))) goto fail;
    for (long delta = -1; delta <= 1; delta++) {
        int n = (int)(maxp - 6 + delta);
        unsigned long blen = 0;
        bind_long(&p[0], &n);
        STMT_OK(s, mysql_stmt_bind_param(s, p));
        bind_buf(&res[0], MYSQL_TYPE_STRING, back, maxp + 16, &blen);
        STMT_OK(s, mysql_stmt_bind_result(s, res));
        STMT_OK(s, mysql_stmt_execute(s));
        STMT_OK(s, mysql_stmt_fetch(s));
        CHECK(blen == (unsigned long)n && back[0] == 'y' && back[n - 1] == 'y',
              "binary row of %d bytes: got %lu", n, blen);
        CHECK(mysql_stmt_fetch(s) == MYSQL_NO_DATA, "extra row");
    }
    QEXPECT(m, "1", "SELECT 1");
    rc = 0;
fail:
    if (r) mysql_free_result(r);
    if (s) mysql_stmt_close(s);
    if (m) mysql_close(m);
    free(q);
    free(back);
    return rc;
}

static int write_infile(char *path, size_t pathlen, int lines)
{
    int fd;
    FILE *f;

    snprintf(path, pathlen, "/tmp/%s_infile_XXXXXX", g_tag);
    fd = mkstemp(path);
    if (fd < 0 || !(f = fdopen(fd, "w"))) {
        snprintf(g_reason, sizeof g_reason, "temp file: %s", strerror(errno));
        return -1;
    }
    for (int i = 1; i <= lines; i++)
        fprintf(f, "%d\tname %d\n", i, i);
    fclose(f);
    return 0;
}

static int t_local_infile(void)
{
    MYSQL *m = conn_ex(g_user, g_pass, 0, 1, 0);
    char path[256] = "", empty[256] = "";
    int rc = -1;

    if (!m) goto fail;
    if (write_infile(path, sizeof path, 1000) || write_infile(empty, sizeof empty, 0)) goto fail;
    QUERY(m, "DROP TABLE IF EXISTS %s_li", g_tag);
    QUERY(m, "CREATE TABLE %s_li (id INT PRIMARY KEY, name VARCHAR(32))", g_tag);
    QUERY(m, "LOAD DATA LOCAL INFILE '%s' INTO TABLE %s_li (id, name)", path, g_tag);
    CHECK(mysql_affected_rows(m) == 1000, "affected %llu",
          (unsigned long long)mysql_affected_rows(m));
    QEXPECT(m, "1000 500500 name 1000",
            "SELECT CONCAT(COUNT(*), ' ', SUM(id), ' ', (SELECT name FROM %s_li WHERE id = 1000)) "
            "FROM %s_li",
            g_tag, g_tag);
    QUERY(m, "LOAD DATA LOCAL INFILE '%s' INTO TABLE %s_li (id, name)", empty, g_tag);
    CHECK(mysql_affected_rows(m) == 0, "empty file: affected %llu",
          (unsigned long long)mysql_affected_rows(m));
    /* A file the client cannot open: the client answers with an empty
     * packet and reports an error; the connection stays in sync. */
    {
        char sql[256];
        snprintf(sql, sizeof sql,
                 "LOAD DATA LOCAL INFILE '/nonexistent/ct_no_file' INTO TABLE %s_li", g_tag);
        CHECK(mysql_query(m, sql) != 0, "LOAD DATA of a missing file succeeded");
    }
    QEXPECT(m, "1000", "SELECT COUNT(*) FROM %s_li", g_tag);
    rc = 0;
fail:
    if (path[0]) unlink(path);
    if (empty[0]) unlink(empty);
    if (m) mysql_close(m);
    return rc;
}

static int t_local_infile_refused(void)
{
    MYSQL *m = conn_ex(g_user, g_pass, 0, 0, 0);
    char path[256] = "";
    int rc = -1;

    if (!m) goto fail;
    if (write_infile(path, sizeof path, 10)) goto fail;
    QUERY(m, "DROP TABLE IF EXISTS %s_lr", g_tag);
    QUERY(m, "CREATE TABLE %s_lr (id INT PRIMARY KEY, name VARCHAR(32))", g_tag);
    {
        char sql[512];
        snprintf(sql, sizeof sql, "LOAD DATA LOCAL INFILE '%s' INTO TABLE %s_lr", path, g_tag);
        CHECK(mysql_query(m, sql) != 0, "LOAD DATA LOCAL succeeded without MYSQL_OPT_LOCAL_INFILE");
    }
    QEXPECT(m, "0", "SELECT COUNT(*) FROM %s_lr", g_tag);
    rc = 0;
fail:
    if (path[0]) unlink(path);
    if (m) mysql_close(m);
    return rc;
}

/* LOAD DATA LOCAL prepared on the server (Connector/C's test_conc525): each
 * EXECUTE makes the server ask for the file the text names, which the client
 * sends; a file the client cannot open fails that EXECUTE alone. */
static int t_local_infile_prepared(void)
{
    MYSQL *m = conn_ex(g_user, g_pass, 0, 1, 0);
    MYSQL_STMT *st = NULL;
    char path[256] = "", sql[512];
    int rc = -1;

    if (!m) goto fail;
    if (write_infile(path, sizeof path, 10)) goto fail;
    QUERY(m, "DROP TABLE IF EXISTS %s_lp", g_tag);
    QUERY(m, "CREATE TABLE %s_lp (id INT, name VARCHAR(32))", g_tag);
    st = mysql_stmt_init(m);
    CHECK(st, "mysql_stmt_init");
    snprintf(sql, sizeof sql, "LOAD DATA LOCAL INFILE '/nonexistent/ct_no_file' INTO TABLE %s_lp",
             g_tag);
    STMT_OK(st, mysql_stmt_prepare(st, sql, strlen(sql)));
    CHECK(mysql_stmt_execute(st) != 0, "EXECUTE of a LOAD DATA of a missing file succeeded");
    mysql_stmt_close(st);
    st = mysql_stmt_init(m);
    CHECK(st, "mysql_stmt_init");
    snprintf(sql, sizeof sql, "LOAD DATA LOCAL INFILE '%s' INTO TABLE %s_lp", path, g_tag);
    STMT_OK(st, mysql_stmt_prepare(st, sql, strlen(sql)));
    for (int i = 0; i < 2; i++) {
        STMT_OK(st, mysql_stmt_execute(st));
        CHECK(mysql_stmt_affected_rows(st) == 10, "execute %d: affected %llu", i,
              (unsigned long long)mysql_stmt_affected_rows(st));
    }
    QEXPECT(m, "20 110", "SELECT CONCAT(COUNT(*), ' ', SUM(id)) FROM %s_lp", g_tag);
    rc = 0;
fail:
    if (st) mysql_stmt_close(st);
    if (path[0]) unlink(path);
    if (m) mysql_close(m);
    return rc;
}

static int t_change_user(void)
{
    MYSQL *m = conn(0);
    char v[256];
    unsigned long id0;
    int rc = -1;

    if (!m) goto fail;
    id0 = mysql_thread_id(m);
    QUERY(m, "SET @ct_v = 1");
    QUERY(m, "CREATE TEMPORARY TABLE %s_tmp (a INT)", g_tag);
    CHECK(mysql_change_user(m, OTHER_USER, OTHER_PASS, NULL) == 0, "change_user to other: %u %s",
          MERR(m));
    QSTR(m, v, "SELECT CURRENT_USER()");
    CHECK(strncmp(v, OTHER_USER "@", strlen(OTHER_USER) + 1) == 0, "CURRENT_USER() = %s", v);
    QSTR(m, v, "SELECT USER()");
    CHECK(strncmp(v, OTHER_USER "@", strlen(OTHER_USER) + 1) == 0, "USER() = %s", v);
    QEXPECT(m, "NULL", "SELECT DATABASE()"); /* no database asked for: none */
    QEXPECT(m, "NULL", "SELECT @ct_v");      /* session state is gone */
    {
        char sql[128];
        snprintf(sql, sizeof sql, "SELECT * FROM test.%s_tmp", g_tag);
        CHECK(mysql_query(m, sql) != 0 && mysql_errno(m) == ER_NO_SUCH_TABLE,
              "temporary table survived change_user (%u)", mysql_errno(m));
    }
    snprintf(v, sizeof v, "%lu", id0);
    QEXPECT(m, v, "SELECT CONNECTION_ID()");
    CHECK(mysql_thread_id(m) == id0, "thread id changed %lu -> %lu", id0, mysql_thread_id(m));

    /* Back, naming a database: it becomes current. */
    CHECK(mysql_change_user(m, g_user, g_pass, "test") == 0, "change_user back: %u %s", MERR(m));
    QSTR(m, v, "SELECT CURRENT_USER()");
    CHECK(strncmp(v, g_user, strlen(g_user)) == 0 && v[strlen(g_user)] == '@',
          "CURRENT_USER() = %s", v);
    QEXPECT(m, "test", "SELECT DATABASE()");
    CHECK(mysql_change_user(m, OTHER_USER, OTHER_PASS, "mysql") == 0,
          "change_user with db mysql: %u %s", MERR(m));
    QEXPECT(m, "mysql", "SELECT DATABASE()");
    rc = 0;
fail:
    if (m) mysql_close(m);
    return rc;
}

static int t_change_user_bad(void)
{
    MYSQL *m = conn(0);
    char v[256];
    unsigned long id0;
    int rc = -1;

    if (!m) goto fail;
    id0 = mysql_thread_id(m);
    QUERY(m, "SET @ct_v = 1");
    CHECK(mysql_change_user(m, OTHER_USER, "wrongpass", NULL) != 0,
          "change_user with a wrong password succeeded");
    CHECK(mysql_errno(m) == ER_ACCESS_DENIED_ERROR, "expected 1045, got %u %s", MERR(m));
    CHECK(strstr(mysql_error(m), "Access denied"), "message: %s", mysql_error(m));
    /* Documented (Connector/C mysql_change_user(3)): when authorization fails
     * "the current user authentication will remain", and the session is reset
     * as for a new connection "regardless of if the operation was completed
     * successfully". MariaDB keeps the connection, its id and its database. */
    QSTR(m, v, "SELECT CURRENT_USER()");
    CHECK(strncmp(v, g_user, strlen(g_user)) == 0 && v[strlen(g_user)] == '@',
          "CURRENT_USER() after failed change_user = %s", v);
    QEXPECT(m, "test", "SELECT DATABASE()");
    QEXPECT(m, "NULL", "SELECT @ct_v");
    snprintf(v, sizeof v, "%lu", id0);
    QEXPECT(m, v, "SELECT CONNECTION_ID()");

    /* An unknown user gets the same error, and the session still goes on. */
    CHECK(mysql_change_user(m, "ct_no_such_user", "x", NULL) != 0,
          "change_user to an unknown user succeeded");
    CHECK(mysql_errno(m) == ER_ACCESS_DENIED_ERROR, "unknown user: expected 1045, got %u %s",
          MERR(m));
    QSTR(m, v, "SELECT CURRENT_USER()");
    CHECK(strncmp(v, g_user, strlen(g_user)) == 0, "CURRENT_USER() = %s", v);
    /* A good change_user after failures works. */
    CHECK(mysql_change_user(m, OTHER_USER, OTHER_PASS, "test") == 0,
          "change_user after failures: %u %s", MERR(m));
    QSTR(m, v, "SELECT CURRENT_USER()");
    CHECK(strncmp(v, OTHER_USER "@", strlen(OTHER_USER) + 1) == 0, "CURRENT_USER() = %s", v);
    rc = 0;
fail:
    if (m) mysql_close(m);
    return rc;
}

static int t_reset_connection(void)
{
    MYSQL *m = conn(0);
    char v[256], g[256];
    unsigned long id0;
    int rc = -1;

    if (!m) goto fail;
    id0 = mysql_thread_id(m);
    QUERY(m, "SET @ct_v = 5");
    QUERY(m, "SET SESSION sql_mode = 'ANSI_QUOTES'");
    QUERY(m, "CREATE TEMPORARY TABLE %s_tmp (a INT)", g_tag);
    QUERY(m, "BEGIN");
    CHECK(mysql_reset_connection(m) == 0, "reset_connection: %u %s", MERR(m));
    QEXPECT(m, "NULL", "SELECT @ct_v");
    QSTR(m, v, "SELECT @@SESSION.sql_mode");
    QSTR(m, g, "SELECT @@GLOBAL.sql_mode");
    CHECK(strcmp(v, g) == 0, "session sql_mode %s after reset, global %s", v, g);
    {
        char sql[128];
        snprintf(sql, sizeof sql, "SELECT * FROM %s_tmp", g_tag);
        CHECK(mysql_query(m, sql) != 0 && mysql_errno(m) == ER_NO_SUCH_TABLE,
              "temporary table survived reset (%u)", mysql_errno(m));
    }
    QEXPECT(m, "0", "SELECT @@in_transaction");
    QEXPECT(m, "test", "SELECT DATABASE()"); /* the database is kept */
    snprintf(v, sizeof v, "%lu", id0);
    QEXPECT(m, v, "SELECT CONNECTION_ID()");
    QEXPECT(m, "3", "SELECT 1 + 2");
    rc = 0;
fail:
    if (m) mysql_close(m);
    return rc;
}

static int t_thread_id(void)
{
    MYSQL *a = conn(0), *b = conn(0);
    char v[64];
    int rc = -1;

    if (!a || !b) goto fail;
    CHECK(mysql_thread_id(a) != 0, "thread id 0");
    snprintf(v, sizeof v, "%lu", mysql_thread_id(a));
    QEXPECT(a, v, "SELECT CONNECTION_ID()");
    snprintf(v, sizeof v, "%lu", mysql_thread_id(b));
    QEXPECT(b, v, "SELECT CONNECTION_ID()");
    CHECK(mysql_thread_id(a) != mysql_thread_id(b), "two sessions share id %lu",
          mysql_thread_id(a));
    rc = 0;
fail:
    if (a) mysql_close(a);
    if (b) mysql_close(b);
    return rc;
}

struct sleeper {
    MYSQL *m;
    char sql[128];
    atomic_int done;
    unsigned int err;
    char result[64];
};

static void *sleeper_run(void *arg)
{
    struct sleeper *sl = arg;
    if (mysql_query(sl->m, sl->sql)) {
        sl->err = mysql_errno(sl->m);
        snprintf(sl->result, sizeof sl->result, "%s", mysql_error(sl->m));
    } else {
        /* The kill may arrive as an error after the column definitions. */
        MYSQL_RES *r = mysql_store_result(sl->m);
        MYSQL_ROW row = r ? mysql_fetch_row(r) : NULL;
        sl->err = mysql_errno(sl->m);
        if (sl->err)
            snprintf(sl->result, sizeof sl->result, "%s", mysql_error(sl->m));
        else
            snprintf(sl->result, sizeof sl->result, "row %s", row && row[0] ? row[0] : "-");
        if (r) mysql_free_result(r);
    }
    atomic_store(&sl->done, 1);
    return NULL;
}

/* Starts SELECT SLEEP(20) on `sl->m` in a thread and waits (polling the
 * process list from `watcher`) until the server is running it. */
static int start_sleeper(struct sleeper *sl, MYSQL *watcher, pthread_t *th, int *started,
                         const char *mark)
{
    char cnt[32];
    double t0 = now_s();

    snprintf(sl->sql, sizeof sl->sql, "SELECT SLEEP(20) /* %s_%s */", g_tag, mark);
    atomic_store(&sl->done, 0);
    sl->err = 0;
    if (pthread_create(th, NULL, sleeper_run, sl)) {
        snprintf(g_reason, sizeof g_reason, "pthread_create failed");
        return -1;
    }
    *started = 1;
    for (;;) {
        if (query_str(watcher, cnt, sizeof cnt,
                      "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE "
                      "'SELECT SLEEP(20) /* %s\\_%s */%%'",
                      g_tag, mark))
            return -1;
        if (strcmp(cnt, "1") == 0) return 0;
        if (atomic_load(&sl->done)) {
            snprintf(g_reason, sizeof g_reason, "sleeper ended early: %u %s", sl->err, sl->result);
            return -1;
        }
        if (now_s() - t0 > 10) {
            snprintf(g_reason, sizeof g_reason, "sleeping query never seen in PROCESSLIST");
            return -1;
        }
        usleep(20000);
    }
}

static int wait_done(struct sleeper *sl, double limit)
{
    double t0 = now_s();
    while (!atomic_load(&sl->done)) {
        if (now_s() - t0 > limit) return -1;
        usleep(10000);
    }
    return 0;
}

static int t_kill_query(void)
{
    MYSQL *a = conn(0), *b = conn(0);
    struct sleeper sl;
    pthread_t th;
    int started = 0, rc = -1;
    double t0;

    memset(&sl, 0, sizeof sl);
    if (!a || !b) goto fail;
    sl.m = a;
    if (start_sleeper(&sl, b, &th, &started, "kq")) goto fail;
    t0 = now_s();
    QUERY(b, "KILL QUERY %lu", mysql_thread_id(a));
    CHECK(wait_done(&sl, 10) == 0, "query still running 10 s after KILL QUERY");
    CHECK(now_s() - t0 < 5, "KILL QUERY took %.1f s", now_s() - t0);
    CHECK(sl.err == ER_QUERY_INTERRUPTED, "killed query returned %u %s, expected 1317", sl.err,
          sl.result);
    pthread_join(th, NULL);
    started = 0;
    QEXPECT(a, "1", "SELECT 1"); /* the killed session goes on */
    CHECK(mysql_query(b, "KILL QUERY 4000000000") != 0 && mysql_errno(b) == ER_NO_SUCH_THREAD,
          "KILL QUERY of an unknown id: %u %s", MERR(b));
    QEXPECT(b, "1", "SELECT 1");
    rc = 0;
fail:
    if (started) {
        if (b) { /* end the sleeper early if the kill did not (g_reason kept) */
            char kill[64];
            snprintf(kill, sizeof kill, "KILL QUERY %lu", mysql_thread_id(a));
            mysql_query(b, kill);
        }
        pthread_join(th, NULL);
    }
    if (a) mysql_close(a);
    if (b) mysql_close(b);
    return rc;
}

static int t_kill_connection(void)
{
    MYSQL *a = conn(0), *b = conn(0);
    struct sleeper sl;
    pthread_t th;
    int started = 0, rc = -1;
    unsigned int e;

    memset(&sl, 0, sizeof sl);
    if (!a || !b) goto fail;
    /* An idle session killed: its next command fails. */
    QUERY(b, "KILL %lu", mysql_thread_id(a));
    CHECK(mysql_query(a, "SELECT 1") != 0, "killed idle session still answers");
    e = mysql_errno(a);
    CHECK(e == CR_SERVER_LOST || e == CR_SERVER_GONE_ERROR || e == ER_CONNECTION_KILLED ||
              e == 4031,
          "killed idle session: %u %s", MERR(a));
    mysql_close(a);

    /* A busy session killed: its query ends with an error, at once. */
    if (!(a = conn(0))) goto fail;
    sl.m = a;
    if (start_sleeper(&sl, b, &th, &started, "kc")) goto fail;
    QUERY(b, "KILL CONNECTION %lu", mysql_thread_id(a));
    CHECK(wait_done(&sl, 10) == 0, "query still running 10 s after KILL");
    CHECK(sl.err == ER_CONNECTION_KILLED || sl.err == CR_SERVER_LOST ||
              sl.err == CR_SERVER_GONE_ERROR || sl.err == ER_QUERY_INTERRUPTED,
          "killed busy session: %u %s", sl.err, sl.result);
    pthread_join(th, NULL);
    started = 0;
    CHECK(mysql_query(a, "SELECT 1") != 0, "killed busy session still answers");
    QEXPECT(b, "1", "SELECT 1");
    rc = 0;
fail:
    if (started) pthread_join(th, NULL);
    if (a) mysql_close(a);
    if (b) mysql_close(b);
    return rc;
}

static int t_ping(void)
{
    MYSQL *m = conn(0);
    int rc = -1;

    if (!m) goto fail;
    CHECK(mysql_ping(m) == 0, "ping: %u %s", MERR(m));
    QEXPECT(m, "1", "SELECT 1");
    CHECK(mysql_ping(m) == 0, "second ping: %u %s", MERR(m));
    CHECK(mysql_ping(m) == 0, "third ping: %u %s", MERR(m));
    QEXPECT(m, "2", "SELECT 2");
    rc = 0;
fail:
    if (m) mysql_close(m);
    return rc;
}

static int t_stat(void)
{
    MYSQL *m = conn(0);
    const char *st;
    int rc = -1;

    if (!m) goto fail;
    st = mysql_stat(m);
    CHECK(st && strstr(st, "Uptime"), "mysql_stat: %s (%u %s)", st ? st : "NULL", MERR(m));
    QEXPECT(m, "1", "SELECT 1");
    st = mysql_stat(m);
    CHECK(st && strstr(st, "Uptime"), "second mysql_stat: %s", st ? st : "NULL");
    rc = 0;
fail:
    if (m) mysql_close(m);
    return rc;
}

static int t_select_db(void)
{
    MYSQL *m = conn(0);
    int rc = -1;

    if (!m) goto fail;
    QEXPECT(m, "test", "SELECT DATABASE()");
    CHECK(mysql_select_db(m, "mysql") == 0, "select_db mysql: %u %s", MERR(m));
    QEXPECT(m, "mysql", "SELECT DATABASE()");
    CHECK(mysql_select_db(m, "ct_no_such_db") != 0 && mysql_errno(m) == ER_BAD_DB_ERROR,
          "select_db of a missing database: %u %s", MERR(m));
    QEXPECT(m, "mysql", "SELECT DATABASE()");
    CHECK(mysql_select_db(m, "test") == 0, "select_db test: %u %s", MERR(m));
    QEXPECT(m, "test", "SELECT DATABASE()");
    QUERY(m, "USE mysql");
    QEXPECT(m, "mysql", "SELECT DATABASE()");
    rc = 0;
fail:
    if (m) mysql_close(m);
    return rc;
}

static int t_list_fields(void)
{
    MYSQL *m = conn(0);
    MYSQL_RES *r = NULL;
    MYSQL_FIELD *f;
    char table[64];
    int rc = -1;

    if (!m) goto fail;
    snprintf(table, sizeof table, "%s_lf", g_tag);
    QUERY(m, "DROP TABLE IF EXISTS %s", table);
    QUERY(m, "CREATE TABLE %s (id INT NOT NULL, name VARCHAR(20) DEFAULT 'x', b BLOB)", table);
    r = mysql_list_fields(m, table, NULL);
    CHECK(r, "list_fields: %u %s", MERR(m));
    CHECK(mysql_num_fields(r) == 3, "%u fields", mysql_num_fields(r));
    f = mysql_fetch_fields(r);
    CHECK(strcmp(f[0].name, "id") == 0 && strcmp(f[1].name, "name") == 0 &&
              strcmp(f[2].name, "b") == 0,
          "names %s %s %s", f[0].name, f[1].name, f[2].name);
    CHECK(f[0].type == MYSQL_TYPE_LONG && f[1].type == MYSQL_TYPE_VAR_STRING &&
              f[2].type == MYSQL_TYPE_BLOB,
          "types %d %d %d", f[0].type, f[1].type, f[2].type);
    CHECK(strcmp(f[0].table, table) == 0, "table %s", f[0].table);
    CHECK(f[0].flags & NOT_NULL_FLAG, "id not NOT NULL");
    mysql_free_result(r);
    r = mysql_list_fields(m, table, "na%");
    CHECK(r && mysql_num_fields(r) == 1 && strcmp(mysql_fetch_fields(r)[0].name, "name") == 0,
          "wildcard list_fields");
    mysql_free_result(r);
    r = mysql_list_fields(m, "ct_no_such_table", NULL);
    CHECK(!r && mysql_errno(m) == ER_NO_SUCH_TABLE, "list_fields of missing table: %u %s", MERR(m));
    QEXPECT(m, "1", "SELECT 1");
    rc = 0;
fail:
    if (r) mysql_free_result(r);
    if (m) mysql_close(m);
    return rc;
}

/* Runs a two-statement batch; returns 1 if it ran as two statements,
 * 0 if the server refused it with a syntax error, -1 on anything else. */
static int run_batch(MYSQL *m)
{
    MYSQL_RES *r;
    int sets = 0;

    if (mysql_query(m, "SELECT 1; SELECT 2")) {
        if (mysql_errno(m) == ER_PARSE_ERROR) return 0;
        snprintf(g_reason, sizeof g_reason, "batch: %u %s", MERR(m));
        return -1;
    }
    do {
        r = mysql_store_result(m);
        if (r) {
            sets++;
            mysql_free_result(r);
        }
    } while (mysql_next_result(m) == 0);
    if (sets != 2) {
        snprintf(g_reason, sizeof g_reason, "batch gave %d result sets", sets);
        return -1;
    }
    return 1;
}

static int t_set_server_option(void)
{
    MYSQL *m = conn(0);
    int rc = -1, b;

    if (!m) goto fail;
    CHECK((b = run_batch(m)) == 0, "batch without multi statements: %d", b);
    QEXPECT(m, "1", "SELECT 1");
    CHECK(mysql_set_server_option(m, MYSQL_OPTION_MULTI_STATEMENTS_ON) == 0, "set option ON: %u %s",
          MERR(m));
    CHECK((b = run_batch(m)) == 1, "batch with multi statements ON: %d", b);
    QEXPECT(m, "1", "SELECT 1");
    CHECK(mysql_set_server_option(m, MYSQL_OPTION_MULTI_STATEMENTS_OFF) == 0,
          "set option OFF: %u %s", MERR(m));
    CHECK((b = run_batch(m)) == 0, "batch with multi statements OFF: %d", b);
    QEXPECT(m, "1", "SELECT 1");
    rc = 0;
fail:
    if (m) mysql_close(m);
    return rc;
}

static int t_warnings(void)
{
    MYSQL *m = conn(0);
    MYSQL_RES *r = NULL;
    MYSQL_ROW row;
    int rc = -1;

    if (!m) goto fail;
    QUERY(m, "DROP TABLE IF EXISTS %s_w", g_tag);
    QUERY(m, "CREATE TABLE %s_w (a TINYINT)", g_tag);
    QUERY(m, "SET SESSION sql_mode = ''");
    QUERY(m, "INSERT INTO %s_w VALUES (1000), (-1000)", g_tag);
    CHECK(mysql_warning_count(m) == 2, "INSERT warning_count %u", mysql_warning_count(m));
    QUERY(m, "SHOW WARNINGS");
    r = mysql_store_result(m);
    CHECK(r && mysql_num_rows(r) == 2, "SHOW WARNINGS rows");
    row = mysql_fetch_row(r);
    CHECK(strcmp(row[1], "1264") == 0, "warning code %s", row[1]);
    mysql_free_result(r);
    r = NULL;
    /* The count also travels in the result set's terminator. */
    QUERY(m, "SELECT CAST('abc' AS SIGNED)");
    r = mysql_store_result(m);
    CHECK(r, "store_result: %u %s", MERR(m));
    mysql_free_result(r);
    r = NULL;
    CHECK(mysql_warning_count(m) == 1, "SELECT warning_count %u", mysql_warning_count(m));
    QEXPECT(m, "1", "SELECT 1");
    CHECK(mysql_warning_count(m) == 0, "warning_count after clean query %u",
          mysql_warning_count(m));
    rc = 0;
fail:
    if (r) mysql_free_result(r);
    if (m) mysql_close(m);
    return rc;
}

static int t_syntax_error(void)
{
    MYSQL *m = conn(0);
    MYSQL_STMT *s = NULL;
    int rc = -1;

    if (!m) goto fail;
    CHECK(mysql_query(m, "SELEC 1") != 0, "bad syntax accepted");
    CHECK(mysql_errno(m) == ER_PARSE_ERROR && strcmp(mysql_sqlstate(m), "42000") == 0,
          "error %u sqlstate %s", mysql_errno(m), mysql_sqlstate(m));
    CHECK(strstr(mysql_error(m), "SELEC"), "message %s", mysql_error(m));
    QEXPECT(m, "1", "SELECT 1");
    s = mysql_stmt_init(m);
    CHECK(s && mysql_stmt_prepare(s, "SELEC ?", 7) != 0 && mysql_stmt_errno(s) == ER_PARSE_ERROR,
          "bad prepare: %u", s ? mysql_stmt_errno(s) : 0);
    mysql_stmt_close(s);
    s = NULL;
    CHECK(mysql_query(m, "SELECT * FROM ct_no_such_table_q") != 0 &&
              mysql_errno(m) == ER_NO_SUCH_TABLE && strcmp(mysql_sqlstate(m), "42S02") == 0,
          "missing table: %u %s", mysql_errno(m), mysql_sqlstate(m));
    if (!(s = prepare(m, "SELECT 5"))) goto fail;
    STMT_OK(s, mysql_stmt_execute(s));
    STMT_OK(s, mysql_stmt_store_result(s));
    CHECK(mysql_stmt_num_rows(s) == 1, "prepared after errors");
    QEXPECT(m, "2", "SELECT 2");
    rc = 0;
fail:
    if (s) mysql_stmt_close(s);
    if (m) mysql_close(m);
    return rc;
}

static int t_many_rows(void)
{
    const int n = 100000;
    const char *gen = "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < "
                      "100000) SELECT n, REPEAT('x', 100) FROM s";
    MYSQL *m = conn(0);
    MYSQL_RES *r = NULL;
    MYSQL_ROW row;
    MYSQL_STMT *s = NULL;
    MYSQL_BIND res[2];
    int rc = -1, count = 0, iv;
    long long sum = 0;
    char buf[128];
    unsigned long blen;

    if (!m) goto fail;
    QUERY(m, "SET SESSION max_recursive_iterations = 1000000");
    QUERY(m, "%s", gen);
    r = mysql_use_result(m);
    CHECK(r, "use_result: %u %s", MERR(m));
    while ((row = mysql_fetch_row(r))) {
        count++;
        sum += atoll(row[0]);
        CHECK(strlen(row[1]) == 100, "row %d width", count);
    }
    CHECK(mysql_errno(m) == 0, "fetch: %u %s", MERR(m));
    CHECK(count == n && sum == (long long)n * (n + 1) / 2, "%d rows, sum %lld", count, sum);
    mysql_free_result(r);
    r = NULL;

    /* Abandoned half way: free_result drains the rest, the session goes on. */
    QUERY(m, "%s", gen);
    r = mysql_use_result(m);
    CHECK(r, "use_result: %u %s", MERR(m));
    for (int i = 0; i < 10; i++)
        CHECK(mysql_fetch_row(r), "row %d", i);
    mysql_free_result(r);
    r = NULL;
    QEXPECT(m, "1", "SELECT 1");

    /* The same through the binary protocol, fetched unbuffered. */
    if (!(s = prepare(m, gen))) goto fail;
    bind_long(&res[0], &iv);
    bind_buf(&res[1], MYSQL_TYPE_STRING, buf, sizeof buf, &blen);
    STMT_OK(s, mysql_stmt_execute(s));
    STMT_OK(s, mysql_stmt_bind_result(s, res));
    count = 0, sum = 0;
    while (mysql_stmt_fetch(s) == 0) {
        count++;
        sum += iv;
    }
    CHECK(count == n && sum == (long long)n * (n + 1) / 2, "binary: %d rows, sum %lld", count, sum);
    rc = 0;
fail:
    if (r) mysql_free_result(r);
    if (s) mysql_stmt_close(s);
    if (m) mysql_close(m);
    return rc;
}

static int t_transaction(void)
{
    MYSQL *m = conn(0);
    int rc = -1;

    if (!m) goto fail;
    QUERY(m, "DROP TABLE IF EXISTS %s_tx", g_tag);
    QUERY(m, "CREATE TABLE %s_tx (id INT) ENGINE=InnoDB", g_tag);
    CHECK(mysql_autocommit(m, 0) == 0, "autocommit off: %u %s", MERR(m));
    QUERY(m, "INSERT INTO %s_tx VALUES (1)", g_tag);
    CHECK(m->server_status & SERVER_STATUS_IN_TRANS, "no SERVER_STATUS_IN_TRANS");
    CHECK(mysql_rollback(m) == 0, "rollback: %u %s", MERR(m));
    QEXPECT(m, "0", "SELECT COUNT(*) FROM %s_tx", g_tag);
    QUERY(m, "INSERT INTO %s_tx VALUES (2)", g_tag);
    CHECK(mysql_commit(m) == 0, "commit: %u %s", MERR(m));
    CHECK(mysql_autocommit(m, 1) == 0, "autocommit on: %u %s", MERR(m));
    CHECK(m->server_status & SERVER_STATUS_AUTOCOMMIT, "no SERVER_STATUS_AUTOCOMMIT");
    QEXPECT(m, "2", "SELECT SUM(id) FROM %s_tx", g_tag);
    rc = 0;
fail:
    if (m) mysql_close(m);
    return rc;
}

static int t_charset(void)
{
    MYSQL *m = conn(0);
    int rc = -1;

    if (!m) goto fail;
    CHECK(mysql_set_character_set(m, "latin1") == 0, "set latin1: %u %s", MERR(m));
    QEXPECT(m, "latin1", "SELECT @@character_set_client");
    QEXPECT(m, "E9", "SELECT HEX(CONVERT('\xe9' USING latin1))");
    CHECK(mysql_set_character_set(m, "utf8mb4") == 0, "set utf8mb4: %u %s", MERR(m));
    QEXPECT(m, "utf8mb4", "SELECT @@character_set_results");
    QEXPECT(m, "C3A9", "SELECT HEX('\xc3\xa9')");
    QEXPECT(m, "\xc3\xa9", "SELECT CONVERT(X'E9' USING latin1)");
    rc = 0;
fail:
    if (m) mysql_close(m);
    return rc;
}

static int t_compress(void)
{
    MYSQL *m = conn(CLIENT_COMPRESS);
    int rc = -1;

    if (!m) goto fail;
    /* Whether or not compression was granted, the session works. */
    QEXPECT(m, "3", "SELECT 1 + 2");
    QEXPECT(m, "100000", "SELECT LENGTH(REPEAT('a', 100000))");
    rc = 0;
fail:
    if (m) mysql_close(m);
    return rc;
}

static const struct ct_test {
    const char *name;
    int (*fn)(void);
} tests[] = {
    {"text_query", t_text_query},
    {"binary_protocol", t_binary_protocol},
    {"reexecute", t_reexecute},
    {"cursor", t_cursor},
    {"long_data", t_long_data},
    {"stmt_reset", t_stmt_reset},
    {"stmt_close", t_stmt_close},
    {"multi_statements", t_multi_statements},
    {"sp_text", t_sp_text},
    {"sp_binary", t_sp_binary},
    {"sp_cursor_text", t_sp_cursor_text},
    {"sp_cursor_binary", t_sp_cursor_binary},
    {"rewrite_names", t_rewrite_names},
    {"large_packet", t_large_packet},
    {"large_packet_boundary", t_large_packet_boundary},
    {"local_infile", t_local_infile},
    {"local_infile_refused", t_local_infile_refused},
    {"local_infile_prepared", t_local_infile_prepared},
    {"change_user", t_change_user},
    {"change_user_bad", t_change_user_bad},
    {"reset_connection", t_reset_connection},
    {"thread_id", t_thread_id},
    {"kill_query", t_kill_query},
    {"kill_connection", t_kill_connection},
    {"ping", t_ping},
    {"stat", t_stat},
    {"select_db", t_select_db},
    {"list_fields", t_list_fields},
    {"set_server_option", t_set_server_option},
    {"warnings", t_warnings},
    {"syntax_error", t_syntax_error},
    {"many_rows", t_many_rows},
    {"transaction", t_transaction},
    {"charset", t_charset},
    {"compress", t_compress},
};
#define NTESTS (sizeof tests / sizeof tests[0])

/* Drops every table and procedure this run created (names start with g_tag). */
static void cleanup(void)
{
    MYSQL *m = conn(0);
    MYSQL_RES *r;
    MYSQL_ROW row;
    char names[64][80];
    int n = 0;

    if (!m) return;
    if (query(m,
              "SELECT CONCAT('TABLE test.', table_name) FROM information_schema.tables WHERE "
              "table_schema = 'test' AND table_name LIKE '%s\\_%%' UNION ALL "
              "SELECT CONCAT('PROCEDURE test.', routine_name) FROM information_schema.routines "
              "WHERE routine_schema = 'test' AND routine_name LIKE '%s\\_%%'",
              g_tag, g_tag) == 0 &&
        (r = mysql_store_result(m))) {
        while ((row = mysql_fetch_row(r)) && n < 64)
            snprintf(names[n++], sizeof names[0], "%s", row[0]);
        mysql_free_result(r);
    }
    for (int i = 0; i < n; i++)
        if (query(m, "DROP %s", names[i])) fprintf(stderr, "cleanup: %s\n", g_reason);
    mysql_close(m);
}

int main(int argc, char **argv)
{
    int failed = 0, ran = 0;

    if (argc == 2 && strcmp(argv[1], "--list") == 0) {
        for (size_t i = 0; i < NTESTS; i++)
            printf("%s\n", tests[i].name);
        return 0;
    }
    if (argc < 5) {
        fprintf(stderr, "usage: %s HOST PORT USER PASSWORD [TESTNAME...]\n       %s --list\n",
                argv[0], argv[0]);
        return 2;
    }
    g_host = argv[1];
    g_port = (unsigned int)atoi(argv[2]);
    g_user = argv[3];
    g_pass = argv[4];
    snprintf(g_tag, sizeof g_tag, "ct%d", (int)getpid());
    for (int a = 5; a < argc; a++) {
        size_t i;
        for (i = 0; i < NTESTS && strcmp(tests[i].name, argv[a]); i++)
            ;
        if (i == NTESTS) {
            fprintf(stderr, "unknown test %s (see --list)\n", argv[a]);
            return 2;
        }
    }
    if (mysql_library_init(0, NULL, NULL)) {
        fprintf(stderr, "mysql_library_init failed\n");
        return 2;
    }
    for (size_t i = 0; i < NTESTS; i++) {
        int selected = argc == 5;
        for (int a = 5; a < argc && !selected; a++)
            selected = strcmp(tests[i].name, argv[a]) == 0;
        if (!selected) continue;
        g_reason[0] = '\0';
        ran++;
        double t0 = now_s();
        if (tests[i].fn() == 0) {
            printf("ok %s\n", tests[i].name);
            fprintf(stderr, "%s took %.2fs\n", tests[i].name, now_s() - t0);
        } else {
            printf("FAIL %s: %s\n", tests[i].name, g_reason[0] ? g_reason : "(no reason)");
            failed++;
        }
        fflush(stdout);
    }
    cleanup();
    mysql_library_end();
    return failed ? 1 : 0;
}
