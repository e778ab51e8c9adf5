/* stmt_churn: libmariadb clients that prepare, execute and close server-side statements in a
 * loop, for test_stmt_close.py (issue 16): what the backends' Prepared_stmt_count keeps after
 * clients closed their statements.
 *
 * Usage: stmt_churn HOST PORT USER PASSWORD THREADS CYCLES HOLD
 *
 * Each of THREADS clients connects (database "test"), prepares HOLD statements it keeps, then
 * CYCLES times prepares a text of its own ("SELECT ? + <thread> * 1000000 + <cycle>"),
 * executes it with the parameter 7, checks the value and closes it (mysql_stmt_close sends
 * COM_STMT_CLOSE). When every client is done it prints "held" and waits for a line on stdin;
 * then each client executes its held statements once more (checking their values), closes
 * them and disconnects, and it prints "ok". Any failure prints "fail ..." and exits 1.
 */
#include <mysql.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *g_host, *g_user, *g_pass;
static unsigned g_port;
static int g_cycles, g_hold;

struct client {
    int no;
    MYSQL *m;
    MYSQL_STMT **held;
    char err[512];
};

/* Executes st with the parameter 7 and checks that it answers want. */
static int run_stmt(struct client *c, MYSQL_STMT *st, long long want)
{
    long long in = 7, out = 0;
    MYSQL_BIND pb, rb;
    memset(&pb, 0, sizeof pb);
    memset(&rb, 0, sizeof rb);
    pb.buffer_type = MYSQL_TYPE_LONGLONG;
    pb.buffer = &in;
    rb.buffer_type = MYSQL_TYPE_LONGLONG;
    rb.buffer = &out;
    if (mysql_stmt_bind_param(st, &pb) || mysql_stmt_execute(st) || mysql_stmt_bind_result(st, &rb) ||
        mysql_stmt_fetch(st) != 0) {
        snprintf(c->err, sizeof c->err, "client %d: execute: %u %s", c->no, mysql_stmt_errno(st),
                 mysql_stmt_error(st));
        return -1;
    }
    while (mysql_stmt_fetch(st) == 0) {
    }
    mysql_stmt_free_result(st);
    if (out != want) {
        snprintf(c->err, sizeof c->err, "client %d: got %lld, want %lld", c->no, out, want);
        return -1;
    }
    return 0;
}

static MYSQL_STMT *prepare(struct client *c, long long base)
{
    char sql[96];
    snprintf(sql, sizeof sql, "SELECT ? + %lld", base);
    MYSQL_STMT *st = mysql_stmt_init(c->m);
    if (!st || mysql_stmt_prepare(st, sql, strlen(sql))) {
        snprintf(c->err, sizeof c->err, "client %d: prepare: %u %s", c->no, mysql_errno(c->m),
                 mysql_error(c->m));
        if (st) mysql_stmt_close(st);
        return NULL;
    }
    return st;
}

static long long held_base(int no, int i)
{
    return 900000000LL + (long long)no * 1000 + i;
}

static void *churn(void *arg)
{
    struct client *c = arg;
    c->m = mysql_init(NULL);
    if (!c->m || !mysql_real_connect(c->m, g_host, g_user, g_pass, "test", g_port, NULL, 0)) {
        snprintf(c->err, sizeof c->err, "client %d: connect: %s", c->no,
                 c->m ? mysql_error(c->m) : "oom");
        return NULL;
    }
    for (int i = 0; i < g_hold; i++)
        if (!(c->held[i] = prepare(c, held_base(c->no, i)))) return NULL;
    for (int i = 0; i < g_cycles; i++) {
        long long base = (long long)c->no * 1000000 + i;
        MYSQL_STMT *st = prepare(c, base);
        if (!st) return NULL;
        int rc = run_stmt(c, st, base + 7);
        mysql_stmt_close(st);
        if (rc) return NULL;
    }
    return NULL;
}

static void *finish(void *arg)
{
    struct client *c = arg;
    for (int i = 0; i < g_hold; i++) {
        if (run_stmt(c, c->held[i], held_base(c->no, i) + 7)) return NULL;
        mysql_stmt_close(c->held[i]);
        c->held[i] = NULL;
    }
    mysql_close(c->m);
    c->m = NULL;
    return NULL;
}

static int run_all(struct client *cl, int n, void *(*fn)(void *))
{
    pthread_t *t = calloc((size_t)n, sizeof *t);
    for (int i = 0; i < n; i++) pthread_create(&t[i], NULL, fn, &cl[i]);
    for (int i = 0; i < n; i++) pthread_join(t[i], NULL);
    free(t);
    for (int i = 0; i < n; i++) {
        if (cl[i].err[0]) {
            printf("fail %s\n", cl[i].err);
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 8) {
        fprintf(stderr, "usage: stmt_churn HOST PORT USER PASSWORD THREADS CYCLES HOLD\n");
        return 2;
    }
    g_host = argv[1];
    g_port = (unsigned)atoi(argv[2]);
    g_user = argv[3];
    g_pass = argv[4];
    int n = atoi(argv[5]);
    g_cycles = atoi(argv[6]);
    g_hold = atoi(argv[7]);
    setvbuf(stdout, NULL, _IOLBF, 0);
    mysql_library_init(0, NULL, NULL);
    struct client *cl = calloc((size_t)n, sizeof *cl);
    for (int i = 0; i < n; i++) {
        cl[i].no = i + 1;
        cl[i].held = calloc((size_t)g_hold + 1, sizeof *cl[i].held);
    }
    if (run_all(cl, n, churn)) return 1;
    printf("held\n");
    char line[16];
    if (!fgets(line, sizeof line, stdin)) return 1;
    if (run_all(cl, n, finish)) return 1;
    printf("ok\n");
    mysql_library_end();
    return 0;
}
