/* reprepare_client: one binary-protocol prepared statement executed N times,
 * for test_reprepare.py (a backend answering COM_STMT_EXECUTE with ERR 1615
 * behind mymux).
 *
 * Usage: reprepare_client HOST PORT USER PASSWORD N
 *
 * Prepares `SELECT ?`, binds one LONGLONG parameter and one LONGLONG result
 * once, then executes with the values 1..N (changing only the bound variable,
 * so only the first EXECUTE carries the parameter types) and checks that each
 * answer is one row holding the value. An execute that fails does not stop the
 * run. Prints one line per execute:
 *     exec I ok VALUE
 *     exec I err ERRNO SQLSTATE MESSAGE
 *     exec I bad REASON           (an answer, but not the expected row)
 * then "ok" when every execute succeeded, else "FAIL". Exits 0 / 1; 2 when it
 * could not connect or prepare (with "FAIL setup: ..."), 3 on bad usage.
 */
#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: %s HOST PORT USER PASSWORD N\n", argv[0]);
        return 3;
    }
    const char *host = argv[1], *user = argv[3], *pass = argv[4];
    unsigned int port = (unsigned int)strtoul(argv[2], NULL, 10);
    long n = strtol(argv[5], NULL, 10);
    if (n < 1) {
        fprintf(stderr, "N must be at least 1\n");
        return 3;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);

    MYSQL *m = mysql_init(NULL);
    if (!m) {
        printf("FAIL setup: mysql_init\n");
        return 2;
    }
    unsigned int proto = MYSQL_PROTOCOL_TCP, timeout = 30;
    mysql_options(m, MYSQL_OPT_PROTOCOL, &proto);
    mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &timeout);
    mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &timeout);
    mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    if (!mysql_real_connect(m, host, user, pass, NULL, port, NULL, 0)) {
        printf("FAIL setup: connect: %u %s\n", mysql_errno(m), mysql_error(m));
        mysql_close(m);
        return 2;
    }
    MYSQL_STMT *st = mysql_stmt_init(m);
    const char *sql = "SELECT ?";
    if (!st || mysql_stmt_prepare(st, sql, (unsigned long)strlen(sql))) {
        printf("FAIL setup: prepare: %u %s\n", st ? mysql_stmt_errno(st) : mysql_errno(m),
               st ? mysql_stmt_error(st) : mysql_error(m));
        mysql_close(m);
        return 2;
    }
    if (mysql_stmt_param_count(st) != 1 || mysql_stmt_field_count(st) != 1) {
        printf("FAIL setup: prepare: %lu params, %u columns (want 1, 1)\n",
               mysql_stmt_param_count(st), mysql_stmt_field_count(st));
        mysql_stmt_close(st);
        mysql_close(m);
        return 2;
    }

    long long in = 0, out = 0;
    my_bool out_null = 0, out_err = 0;
    unsigned long out_len = 0;
    MYSQL_BIND pb, rb;
    memset(&pb, 0, sizeof pb);
    memset(&rb, 0, sizeof rb);
    pb.buffer_type = MYSQL_TYPE_LONGLONG;
    pb.buffer = &in;
    rb.buffer_type = MYSQL_TYPE_LONGLONG;
    rb.buffer = &out;
    rb.is_null = &out_null;
    rb.error = &out_err;
    rb.length = &out_len;
    if (mysql_stmt_bind_param(st, &pb) || mysql_stmt_bind_result(st, &rb)) {
        printf("FAIL setup: bind: %u %s\n", mysql_stmt_errno(st), mysql_stmt_error(st));
        mysql_stmt_close(st);
        mysql_close(m);
        return 2;
    }

    int failed = 0;
    for (long i = 1; i <= n; i++) {
        in = i;
        out = -1;
        out_null = 0;
        if (mysql_stmt_execute(st)) {
            printf("exec %ld err %u %s %s\n", i, mysql_stmt_errno(st), mysql_stmt_sqlstate(st),
                   mysql_stmt_error(st));
            failed++;
            continue;
        }
        int rc = mysql_stmt_fetch(st);
        if (rc != 0) {
            printf("exec %ld bad fetch returned %d: %u %s\n", i, rc, mysql_stmt_errno(st),
                   mysql_stmt_error(st));
            failed++;
            mysql_stmt_free_result(st);
            continue;
        }
        long long got = out;
        my_bool got_null = out_null;
        rc = mysql_stmt_fetch(st);
        if (rc != MYSQL_NO_DATA) {
            printf("exec %ld bad second fetch returned %d (want no data)\n", i, rc);
            failed++;
        } else if (got_null || got != i) {
            printf("exec %ld bad value %lld%s (want %ld)\n", i, got, got_null ? " NULL" : "", i);
            failed++;
        } else {
            printf("exec %ld ok %lld\n", i, got);
        }
        mysql_stmt_free_result(st);
    }
    mysql_stmt_close(st);
    mysql_close(m);
    printf("%s\n", failed ? "FAIL" : "ok");
    return failed ? 1 : 0;
}
