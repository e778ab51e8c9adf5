/* ps_test: binary-protocol prepared statements from several clients sharing a
 * small pool of backend connections (transaction-level multiplexing, issue 3).
 *
 * Usage: ps_test HOST PORT USER PASSWORD NAME
 *        ps_test --list
 *
 * Every client is its own MYSQL* (several in one thread, interleaved statement
 * by statement, or one per thread). Each subtest checks every result every
 * client gets. Prints "ok NAME" or "FAIL NAME: reason"; exits 1 on failure,
 * 2 on bad usage. Tables are named ps<pid>_* in database `test` and dropped at
 * the end. Valid against MariaDB directly as well.
 */
#include <errmsg.h>
#include <mysql.h>
#include <mysqld_error.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *g_host, *g_user, *g_pass;
static unsigned int g_port;
static char g_table[64];
static __thread char g_reason[2048];

#define NROWS 50

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        snprintf(g_reason, sizeof g_reason, __VA_ARGS__);                                          \
        goto fail;                                                                                 \
    } while (0)
#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) FAIL(__VA_ARGS__);                                                            \
    } while (0)
#define SERR(s) mysql_stmt_errno(s), mysql_stmt_error(s)
#define MERR(m) mysql_errno(m), mysql_error(m)
#define STMT_OK(s, call)                                                                           \
    do {                                                                                           \
        if (call) FAIL("line %d: %s: %u %s", __LINE__, #call, SERR(s));                            \
    } while (0)

static MYSQL *conn(void)
{
    MYSQL *m = mysql_init(NULL);
    unsigned int proto = MYSQL_PROTOCOL_TCP, timeout = 60;
    if (!m) {
        snprintf(g_reason, sizeof g_reason, "mysql_init failed");
        return NULL;
    }
    mysql_options(m, MYSQL_OPT_PROTOCOL, &proto);
    mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &timeout);
    mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &timeout);
    mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    if (!mysql_real_connect(m, g_host, g_user, g_pass, "test", g_port, NULL, 0)) {
        snprintf(g_reason, sizeof g_reason, "connect: %u %s", MERR(m));
        mysql_close(m);
        return NULL;
    }
    return m;
}

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
    MYSQL_RES *r = mysql_store_result(m);
    if (r) mysql_free_result(r);
    return 0;
}

/* First column of the first row of a text query, as a number (-1 on error). */
static long long query_num(MYSQL *m, const char *sql)
{
    if (mysql_query(m, sql)) {
        snprintf(g_reason, sizeof g_reason, "query \"%s\": %u %s", sql, MERR(m));
        return -1;
    }
    MYSQL_RES *r = mysql_store_result(m);
    MYSQL_ROW row = r ? mysql_fetch_row(r) : NULL;
    long long v = row && row[mysql_num_fields(r) - 1] ? atoll(row[mysql_num_fields(r) - 1]) : -1;
    if (r) mysql_free_result(r);
    if (v < 0) snprintf(g_reason, sizeof g_reason, "query \"%s\": no value", sql);
    return v;
}

/* 0 if the text query's value is want, else -1 with g_reason set. */
static int expect_num(MYSQL *m, const char *sql, long long want)
{
    long long v = query_num(m, sql);
    if (v == want) return 0;
    if (v >= 0)
        snprintf(g_reason, sizeof g_reason, "query \"%s\": %lld, want %lld", sql, v, want);
    return -1;
}

static MYSQL_STMT *prepare(MYSQL *m, const char *sql)
{
    MYSQL_STMT *s = mysql_stmt_init(m);
    if (!s) {
        snprintf(g_reason, sizeof g_reason, "stmt_init: %u %s", MERR(m));
        return NULL;
    }
    if (mysql_stmt_prepare(s, sql, strlen(sql))) {
        snprintf(g_reason, sizeof g_reason, "prepare \"%s\": %u %s", sql, SERR(s));
        mysql_stmt_close(s);
        return NULL;
    }
    return s;
}

/* ------------------------------------------------------------------ clients */

/* One client: a statement every client prepares with the same text, and one
 * whose text is its own. Parameters are bound once; executions change only
 * the values (new_params_bound_flag = 0 after the first). */
struct client {
    int k;
    MYSQL *m;
    MYSQL_STMT *same, *own;
    /* same: SELECT id, v, n FROM t WHERE id = ? */
    int p_id;
    int r_id, r_n;
    char r_v[33];
    unsigned long r_v_len;
    /* own: SELECT CONCAT(?, '-c<k>'), ? * <k> */
    char p_s[64];
    unsigned long p_s_len;
    long long p_ll;
    char r_s[80];
    unsigned long r_s_len;
    long long r_ll;
    MYSQL_BIND pb_same[1], rb_same[3], pb_own[2], rb_own[2];
};

static int client_prepare_own(struct client *c)
{
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT CONCAT(?, '-c%d'), ? * %d", c->k, c->k);
    if (!(c->own = prepare(c->m, sql))) return -1;
    memset(c->pb_own, 0, sizeof c->pb_own);
    c->pb_own[0].buffer_type = MYSQL_TYPE_STRING;
    c->pb_own[0].buffer = c->p_s;
    c->pb_own[0].length = &c->p_s_len;
    c->pb_own[1].buffer_type = MYSQL_TYPE_LONGLONG;
    c->pb_own[1].buffer = &c->p_ll;
    memset(c->rb_own, 0, sizeof c->rb_own);
    c->rb_own[0].buffer_type = MYSQL_TYPE_STRING;
    c->rb_own[0].buffer = c->r_s;
    c->rb_own[0].buffer_length = sizeof c->r_s - 1;
    c->rb_own[0].length = &c->r_s_len;
    c->rb_own[1].buffer_type = MYSQL_TYPE_LONGLONG;
    c->rb_own[1].buffer = &c->r_ll;
    if (mysql_stmt_bind_param(c->own, c->pb_own) || mysql_stmt_bind_result(c->own, c->rb_own)) {
        snprintf(g_reason, sizeof g_reason, "client %d bind own: %u %s", c->k, SERR(c->own));
        return -1;
    }
    return 0;
}

static int client_open_same(struct client *c, int k)
{
    char sql[128];
    memset(c, 0, sizeof *c);
    c->k = k;
    if (!(c->m = conn())) return -1;
    snprintf(sql, sizeof sql, "SELECT id, v, n FROM %s WHERE id = ?", g_table);
    if (!(c->same = prepare(c->m, sql))) return -1;
    c->pb_same[0].buffer_type = MYSQL_TYPE_LONG;
    c->pb_same[0].buffer = &c->p_id;
    c->rb_same[0].buffer_type = MYSQL_TYPE_LONG;
    c->rb_same[0].buffer = &c->r_id;
    c->rb_same[1].buffer_type = MYSQL_TYPE_STRING;
    c->rb_same[1].buffer = c->r_v;
    c->rb_same[1].buffer_length = sizeof c->r_v - 1;
    c->rb_same[1].length = &c->r_v_len;
    c->rb_same[2].buffer_type = MYSQL_TYPE_LONG;
    c->rb_same[2].buffer = &c->r_n;
    if (mysql_stmt_bind_param(c->same, c->pb_same) ||
        mysql_stmt_bind_result(c->same, c->rb_same)) {
        snprintf(g_reason, sizeof g_reason, "client %d bind same: %u %s", k, SERR(c->same));
        return -1;
    }
    return 0;
}

static int client_open(struct client *c, int k)
{
    return client_open_same(c, k) || client_prepare_own(c) ? -1 : 0;
}

static void client_close(struct client *c)
{
    if (c->same) mysql_stmt_close(c->same);
    if (c->own) mysql_stmt_close(c->own);
    if (c->m) mysql_close(c->m);
    memset(c, 0, sizeof *c);
}

/* One execution of each statement with values of round r; checks the rows. */
static int client_round(struct client *c, int r)
{
    int want = (r * 7 + c->k * 13) % NROWS + 1, rc;
    c->p_id = want;
    STMT_OK(c->same, mysql_stmt_execute(c->same));
    rc = mysql_stmt_fetch(c->same);
    CHECK(rc == 0, "client %d round %d: fetch same: %d %u %s", c->k, r, rc, SERR(c->same));
    c->r_v[c->r_v_len < sizeof c->r_v ? c->r_v_len : sizeof c->r_v - 1] = 0;
    char v[33];
    snprintf(v, sizeof v, "v%d", want);
    CHECK(c->r_id == want && c->r_n == want * 10 && strcmp(c->r_v, v) == 0,
          "client %d round %d: asked id %d, got id %d v '%s' n %d", c->k, r, want, c->r_id, c->r_v,
          c->r_n);
    rc = mysql_stmt_fetch(c->same);
    CHECK(rc == MYSQL_NO_DATA, "client %d round %d: second row from same: %d", c->k, r, rc);

    c->p_s_len = (unsigned long)snprintf(c->p_s, sizeof c->p_s, "r%dk%d", r, c->k);
    c->p_ll = r + 1000;
    STMT_OK(c->own, mysql_stmt_execute(c->own));
    rc = mysql_stmt_fetch(c->own);
    CHECK(rc == 0, "client %d round %d: fetch own: %d %u %s", c->k, r, rc, SERR(c->own));
    c->r_s[c->r_s_len < sizeof c->r_s ? c->r_s_len : sizeof c->r_s - 1] = 0;
    char s[80];
    snprintf(s, sizeof s, "r%dk%d-c%d", r, c->k, c->k);
    CHECK(strcmp(c->r_s, s) == 0 && c->r_ll == (long long)(r + 1000) * c->k,
          "client %d round %d: own statement gave '%s' %lld, want '%s' %lld", c->k, r, c->r_s,
          c->r_ll, s, (long long)(r + 1000) * c->k);
    rc = mysql_stmt_fetch(c->own);
    CHECK(rc == MYSQL_NO_DATA, "client %d round %d: second row from own: %d", c->k, r, rc);
    return 0;
fail:
    return -1;
}

/* ----------------------------------------------------------------- subtests */

/* Four clients in one thread, statement by statement in turn: the same text
 * and each its own, parameter types bound once; now and then a RESET, and a
 * CLOSE and re-PREPARE of a client's own statement. */
static int t_interleaved(void)
{
    enum { K = 4, ROUNDS = 60 };
    struct client c[K];
    int opened = 0;
    memset(c, 0, sizeof c);
    for (; opened < K; opened++)
        if (client_open(&c[opened], opened)) goto fail;
    for (int r = 0; r < ROUNDS; r++) {
        for (int k = 0; k < K; k++) {
            int kk = (r % 2) ? K - 1 - k : k; /* change the order every round */
            if (client_round(&c[kk], r)) goto fail;
        }
        if (r % 10 == 3) STMT_OK(c[r % K].same, mysql_stmt_reset(c[r % K].same));
        if (r % 15 == 7) {
            struct client *x = &c[(r + 1) % K];
            mysql_stmt_close(x->own);
            x->own = NULL;
            if (client_prepare_own(x)) goto fail;
        }
        if (r % 20 == 11) /* a text query in between */
            if (expect_num(c[r % K].m, "SELECT 41 + 1", 42)) goto fail;
    }
    for (int k = 0; k < K; k++) client_close(&c[k]);
    return 0;
fail:
    for (int k = 0; k < opened + 1 && k < K; k++) client_close(&c[k]);
    return -1;
}

struct thr {
    pthread_t t;
    int k;
    int rc;
    char reason[2048];
};

static void *thr_main(void *arg)
{
    struct thr *t = arg;
    struct client c;
    t->rc = -1;
    if (client_open(&c, t->k) == 0) {
        int r = 0;
        for (; r < 150; r++)
            if (client_round(&c, r)) break;
        if (r == 150) t->rc = 0;
    }
    client_close(&c);
    if (t->rc) snprintf(t->reason, sizeof t->reason, "%s", g_reason);
    return NULL;
}

/* Six threads, each its own client, all at once. */
static int t_threads(void)
{
    enum { T = 6 };
    struct thr th[T];
    int started = 0, bad = -1;
    for (; started < T; started++) {
        th[started].k = started;
        th[started].rc = -1;
        th[started].reason[0] = 0;
        if (pthread_create(&th[started].t, NULL, thr_main, &th[started])) break;
    }
    for (int i = 0; i < started; i++) {
        pthread_join(th[i].t, NULL);
        if (th[i].rc && bad < 0) bad = i;
    }
    CHECK(started == T, "pthread_create failed");
    CHECK(bad < 0, "thread %d: %.1900s", bad, th[bad].reason);
    return 0;
fail:
    return -1;
}

/* Two clients with read-only cursors (prefetch 3) over the same statement text,
 * fetched alternately, with re-used parameter types and a RESET that closes a
 * cursor. Needs a pool of at least 2 (an open cursor keeps its connection). */
static int t_cursor(void)
{
    enum { K = 2 };
    MYSQL *m[K] = {0};
    MYSQL_STMT *s[K] = {0};
    int p[K], id[K];
    char v[K][33];
    unsigned long vl[K];
    MYSQL_BIND pb[K][1], rb[K][2];
    char sql[128];
    unsigned long type = CURSOR_TYPE_READ_ONLY, prefetch = 3;
    snprintf(sql, sizeof sql, "SELECT id, v FROM %s WHERE id >= ? ORDER BY id", g_table);
    for (int k = 0; k < K; k++) {
        if (!(m[k] = conn())) goto fail;
        if (!(s[k] = prepare(m[k], sql))) goto fail;
        STMT_OK(s[k], mysql_stmt_attr_set(s[k], STMT_ATTR_CURSOR_TYPE, &type));
        STMT_OK(s[k], mysql_stmt_attr_set(s[k], STMT_ATTR_PREFETCH_ROWS, &prefetch));
        memset(pb[k], 0, sizeof pb[k]);
        memset(rb[k], 0, sizeof rb[k]);
        pb[k][0].buffer_type = MYSQL_TYPE_LONG;
        pb[k][0].buffer = &p[k];
        rb[k][0].buffer_type = MYSQL_TYPE_LONG;
        rb[k][0].buffer = &id[k];
        rb[k][1].buffer_type = MYSQL_TYPE_STRING;
        rb[k][1].buffer = v[k];
        rb[k][1].buffer_length = 32;
        rb[k][1].length = &vl[k];
        STMT_OK(s[k], mysql_stmt_bind_param(s[k], pb[k]));
        STMT_OK(s[k], mysql_stmt_bind_result(s[k], rb[k]));
    }
    for (int round = 0; round < 3; round++) {
        int start[K] = {1 + round, 21 + round}, next[K], done[K] = {0, 0};
        for (int k = 0; k < K; k++) {
            p[k] = start[k];
            next[k] = start[k];
            STMT_OK(s[k], mysql_stmt_execute(s[k]));
            CHECK(m[k]->server_status & SERVER_STATUS_CURSOR_EXISTS,
                  "round %d client %d: no cursor after execute", round, k);
        }
        if (round == 1) {
            /* a cursor closed early by RESET; the statement stays usable */
            STMT_OK(s[0], mysql_stmt_fetch(s[0]));
            CHECK(id[0] == start[0], "round %d client 0 first id %d", round, id[0]);
            STMT_OK(s[0], mysql_stmt_reset(s[0]));
            STMT_OK(s[0], mysql_stmt_execute(s[0]));
        }
        while (!done[0] || !done[1]) {
            for (int k = 0; k < K; k++) {
                if (done[k]) continue;
                int rc = mysql_stmt_fetch(s[k]);
                if (rc == MYSQL_NO_DATA) {
                    CHECK(next[k] == NROWS + 1, "round %d client %d: cursor ended at id %d",
                          round, k, next[k]);
                    done[k] = 1;
                    continue;
                }
                CHECK(rc == 0, "round %d client %d: fetch: %d %u %s", round, k, rc, SERR(s[k]));
                v[k][vl[k] < 32 ? vl[k] : 32] = 0;
                char want[33];
                snprintf(want, sizeof want, "v%d", next[k]);
                CHECK(id[k] == next[k] && strcmp(v[k], want) == 0,
                      "round %d client %d: cursor row id %d v '%s', want %d", round, k, id[k],
                      v[k], next[k]);
                next[k]++;
                if (next[k] % 7 == 0) /* a text query on the same client between fetches */
                    if (expect_num(m[k], "SELECT 7", 7)) goto fail;
            }
        }
    }
    for (int k = 0; k < K; k++) {
        mysql_stmt_close(s[k]);
        mysql_close(m[k]);
    }
    return 0;
fail:
    for (int k = 0; k < K; k++) {
        if (s[k]) mysql_stmt_close(s[k]);
        if (m[k]) mysql_close(m[k]);
    }
    return -1;
}

/* Three clients send long data in chunks, interleaved chunk by chunk, then
 * execute; then the same statement with an inline value (types re-bound). */
static int t_long_data(void)
{
    enum { K = 3, CHUNKS = 4 };
    MYSQL *m[K] = {0};
    MYSQL_STMT *s[K] = {0};
    char *data[K] = {0};
    size_t size[K];
    long long len[K];
    char left[K][16], right[K][16];
    unsigned long leftl[K], rightl[K];
    MYSQL_BIND pb[K][1], rb[K][3];
    const char *sql = "SELECT LENGTH(b), LEFT(b, 10), RIGHT(b, 10) FROM (SELECT ? AS b) t";
    for (int k = 0; k < K; k++) {
        size[k] = 200000 + (size_t)k * 1111;
        data[k] = malloc(size[k]);
        CHECK(data[k], "malloc");
        for (size_t i = 0; i < size[k]; i++) data[k][i] = (char)('a' + (k * 5 + i % 7) % 26);
        memcpy(data[k], "BEGIN-", 6);
        data[k][6] = (char)('0' + k);
        memcpy(data[k] + size[k] - 6, "-END-", 5);
        data[k][size[k] - 1] = (char)('0' + k);
        if (!(m[k] = conn())) goto fail;
        if (!(s[k] = prepare(m[k], sql))) goto fail;
        memset(pb[k], 0, sizeof pb[k]);
        memset(rb[k], 0, sizeof rb[k]);
        pb[k][0].buffer_type = MYSQL_TYPE_BLOB;
        rb[k][0].buffer_type = MYSQL_TYPE_LONGLONG;
        rb[k][0].buffer = &len[k];
        rb[k][1].buffer_type = MYSQL_TYPE_STRING;
        rb[k][1].buffer = left[k];
        rb[k][1].buffer_length = 15;
        rb[k][1].length = &leftl[k];
        rb[k][2].buffer_type = MYSQL_TYPE_STRING;
        rb[k][2].buffer = right[k];
        rb[k][2].buffer_length = 15;
        rb[k][2].length = &rightl[k];
        STMT_OK(s[k], mysql_stmt_bind_param(s[k], pb[k]));
        STMT_OK(s[k], mysql_stmt_bind_result(s[k], rb[k]));
    }
    for (int round = 0; round < 3; round++) {
        for (int c = 0; c < CHUNKS; c++)
            for (int k = 0; k < K; k++) {
                size_t per = size[k] / CHUNKS, off = per * (size_t)c;
                size_t n = c == CHUNKS - 1 ? size[k] - off : per;
                STMT_OK(s[k], mysql_stmt_send_long_data(s[k], 0, data[k] + off, n));
            }
        /* in the order the clients started sending: pending long data keeps a client's
         * connection, so with fewer connections than clients a later client waits for an
         * earlier one's EXECUTE */
        for (int k = 0; k < K; k++) {
            STMT_OK(s[k], mysql_stmt_execute(s[k]));
            int rc = mysql_stmt_fetch(s[k]);
            CHECK(rc == 0, "round %d client %d: fetch: %d %u %s", round, k, rc, SERR(s[k]));
            left[k][leftl[k] < 15 ? leftl[k] : 15] = 0;
            right[k][rightl[k] < 15 ? rightl[k] : 15] = 0;
            CHECK(len[k] == (long long)size[k] && memcmp(left[k], data[k], 10) == 0 &&
                      memcmp(right[k], data[k] + size[k] - 10, 10) == 0,
                  "round %d client %d: long data came back as %lld bytes '%s'...'%s', sent %zu "
                  "bytes '%.10s'...'%.10s'",
                  round, k, len[k], left[k], right[k], size[k], data[k], data[k] + size[k] - 10);
            CHECK(mysql_stmt_fetch(s[k]) == MYSQL_NO_DATA, "round %d client %d: extra row", round,
                  k);
        }
    }
    /* an inline value now: every client binds a short string */
    {
        char in[K][16];
        unsigned long inl[K];
        for (int k = 0; k < K; k++) {
            inl[k] = (unsigned long)snprintf(in[k], sizeof in[k], "inline-%d", k);
            pb[k][0].buffer_type = MYSQL_TYPE_STRING;
            pb[k][0].buffer = in[k];
            pb[k][0].length = &inl[k];
            STMT_OK(s[k], mysql_stmt_bind_param(s[k], pb[k]));
        }
        for (int k = 0; k < K; k++) {
            STMT_OK(s[k], mysql_stmt_execute(s[k]));
            STMT_OK(s[k], mysql_stmt_fetch(s[k]));
            left[k][leftl[k] < 15 ? leftl[k] : 15] = 0;
            CHECK(len[k] == (long long)inl[k] && strcmp(left[k], in[k]) == 0,
                  "client %d inline: %lld '%s'", k, len[k], left[k]);
            CHECK(mysql_stmt_fetch(s[k]) == MYSQL_NO_DATA, "client %d: extra row", k);
        }
    }
    for (int k = 0; k < K; k++) {
        mysql_stmt_close(s[k]);
        mysql_close(m[k]);
        free(data[k]);
    }
    return 0;
fail:
    for (int k = 0; k < K; k++) {
        if (s[k]) mysql_stmt_close(s[k]);
        if (m[k]) mysql_close(m[k]);
        free(data[k]);
    }
    return -1;
}

/* Statement ids belong to their client: B executing A's id (or an id nobody
 * has) must never run A's statement. */
static int t_foreign_id(void)
{
    MYSQL *a = NULL, *b = NULL;
    MYSQL_STMT *sa = NULL, *sb = NULL;
    char out[64];
    unsigned long outl = 0;
    MYSQL_BIND rb[1];
    unsigned long b_id = 0;
    if (!(a = conn()) || !(b = conn())) goto fail;
    if (!(sa = prepare(a, "SELECT 'secret-of-a'"))) goto fail;
    if (!(sb = prepare(b, "SELECT 'b-own-stmt'"))) goto fail;
    STMT_OK(sa, mysql_stmt_execute(sa));
    STMT_OK(sa, mysql_stmt_store_result(sa));
    mysql_stmt_free_result(sa);
    b_id = sb->stmt_id;
    unsigned long ids[] = {sa->stmt_id, sa->stmt_id + 1, 424242};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        sb->stmt_id = ids[i];
        memset(rb, 0, sizeof rb);
        rb[0].buffer_type = MYSQL_TYPE_STRING;
        rb[0].buffer = out;
        rb[0].buffer_length = sizeof out - 1;
        rb[0].length = &outl;
        out[0] = 0;
        if (mysql_stmt_execute(sb) == 0) {
            mysql_stmt_bind_result(sb, rb);
            int rc = mysql_stmt_fetch(sb);
            out[rc == 0 && outl < sizeof out ? outl : 0] = 0;
            while (rc == 0 || rc == MYSQL_DATA_TRUNCATED) rc = mysql_stmt_fetch(sb);
            CHECK(strcmp(out, "secret-of-a") != 0,
                  "client B executing statement id %lu ran client A's statement ('%s')", ids[i],
                  out);
            CHECK(ids[i] == b_id && strcmp(out, "b-own-stmt") == 0,
                  "client B executing id %lu (its own is %lu) got '%s'", ids[i], b_id, out);
        } else {
            CHECK(mysql_stmt_errno(sb) == ER_UNKNOWN_STMT_HANDLER,
                  "client B executing foreign id %lu: error %u %s (want %d)", ids[i], SERR(sb),
                  ER_UNKNOWN_STMT_HANDLER);
        }
        mysql_stmt_reset(sb);
    }
    sb->stmt_id = b_id;
    /* both clients still work */
    if (expect_num(b, "SELECT 5", 5)) goto fail; /* B still works */
    STMT_OK(sa, mysql_stmt_execute(sa));
    memset(rb, 0, sizeof rb);
    rb[0].buffer_type = MYSQL_TYPE_STRING;
    rb[0].buffer = out;
    rb[0].buffer_length = sizeof out - 1;
    rb[0].length = &outl;
    STMT_OK(sa, mysql_stmt_bind_result(sa, rb));
    STMT_OK(sa, mysql_stmt_fetch(sa));
    out[outl < sizeof out ? outl : 0] = 0;
    CHECK(strcmp(out, "secret-of-a") == 0, "client A's own statement gave '%s'", out);
    mysql_stmt_close(sa);
    mysql_stmt_close(sb);
    mysql_close(a);
    mysql_close(b);
    return 0;
fail:
    if (sa) mysql_stmt_close(sa);
    if (sb) {
        if (b_id) sb->stmt_id = b_id;
        mysql_stmt_close(sb);
    }
    if (a) mysql_close(a);
    if (b) mysql_close(b);
    return -1;
}

/* Ten clients prepare the same text: the backend holds it once per connection
 * (Prepared_stmt_count grows by at most the pool size, printed for the caller,
 * which knows the pool), and all execute it interleaved. */
static int t_many_same(void)
{
    enum { K = 10 };
    struct client c[K];
    long long before, after;
    MYSQL *m = conn();
    memset(c, 0, sizeof c);
    if (!m) return -1;
    before = query_num(m, "SHOW GLOBAL STATUS LIKE 'Prepared_stmt_count'");
    if (before < 0) goto fail;
    for (int k = 0; k < K; k++)
        if (client_open_same(&c[k], k)) goto fail;
    for (int r = 0; r < 5; r++)
        for (int k = 0; k < K; k++) {
            int want = (r * 7 + k * 13) % NROWS + 1, rc;
            c[k].p_id = want;
            STMT_OK(c[k].same, mysql_stmt_execute(c[k].same));
            rc = mysql_stmt_fetch(c[k].same);
            CHECK(rc == 0 && c[k].r_id == want && c[k].r_n == want * 10,
                  "client %d round %d: fetch %d id %d n %d, want id %d", k, r, rc, c[k].r_id,
                  c[k].r_n, want);
            CHECK(mysql_stmt_fetch(c[k].same) == MYSQL_NO_DATA, "client %d: extra row", k);
        }
    after = query_num(m, "SHOW GLOBAL STATUS LIKE 'Prepared_stmt_count'");
    if (after < 0) goto fail;
    printf("prepared_stmt_count_growth %lld\n", after - before);
    for (int k = 0; k < K; k++) client_close(&c[k]);
    mysql_close(m);
    return 0;
fail:
    for (int k = 0; k < K; k++) client_close(&c[k]);
    mysql_close(m);
    return -1;
}

static const struct {
    const char *name;
    int (*fn)(void);
} TESTS[] = {
    {"interleaved", t_interleaved}, {"threads", t_threads},         {"cursor", t_cursor},
    {"long_data", t_long_data},     {"foreign_id", t_foreign_id}, {"many_same", t_many_same},
};
#define NTESTS (sizeof TESTS / sizeof TESTS[0])

static int setup(void)
{
    MYSQL *m = conn();
    if (!m) return -1;
    int rc = query(m, "DROP TABLE IF EXISTS %s", g_table) ||
             query(m, "CREATE TABLE %s (id INT PRIMARY KEY, v VARCHAR(32), n INT)", g_table);
    for (int i = 1; !rc && i <= NROWS; i++)
        rc = query(m, "INSERT INTO %s VALUES (%d, 'v%d', %d)", g_table, i, i, i * 10);
    mysql_close(m);
    return rc ? -1 : 0;
}

static void teardown(void)
{
    MYSQL *m = conn();
    if (!m) return;
    query(m, "DROP TABLE IF EXISTS %s", g_table);
    mysql_close(m);
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--list") == 0) {
        for (size_t i = 0; i < NTESTS; i++) printf("%s\n", TESTS[i].name);
        return 0;
    }
    if (argc != 6) {
        fprintf(stderr, "usage: ps_test HOST PORT USER PASSWORD NAME | --list\n");
        return 2;
    }
    g_host = argv[1];
    g_port = (unsigned int)atoi(argv[2]);
    g_user = argv[3];
    g_pass = argv[4];
    const char *name = argv[5];
    size_t t = 0;
    while (t < NTESTS && strcmp(TESTS[t].name, name) != 0) t++;
    if (t == NTESTS) {
        fprintf(stderr, "ps_test: unknown test %s\n", name);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    snprintf(g_table, sizeof g_table, "ps%d_t", (int)getpid());
    if (mysql_library_init(0, NULL, NULL)) {
        printf("FAIL %s: mysql_library_init\n", name);
        return 1;
    }
    int rc = setup();
    if (rc == 0) rc = TESTS[t].fn();
    if (rc == 0) printf("ok %s\n", name);
    else printf("FAIL %s: %s\n", name, g_reason);
    teardown();
    mysql_library_end();
    return rc ? 1 : 0;
}
