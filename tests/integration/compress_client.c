/* libmariadb with MYSQL_OPT_COMPRESS through mymux: text protocol, prepared
 * statements, results over 16 MiB. Usage: compress_client host port user pass db */
#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BIG (17u * 1024 * 1024)

static MYSQL *db;

static void die(const char *what)
{
    printf("compress_client: FAIL %s: %s\n", what, mysql_error(db));
    exit(1);
}

static void stmt_die(MYSQL_STMT *st, const char *what)
{
    printf("compress_client: FAIL %s: %s\n", what, mysql_stmt_error(st));
    exit(1);
}

int main(int argc, char **argv)
{
    if (argc < 6) return 2;
    db = mysql_init(NULL);
    unsigned long maxp = 1024ul * 1024 * 1024;
    mysql_optionsv(db, MYSQL_OPT_COMPRESS, NULL);
    mysql_optionsv(db, MYSQL_OPT_MAX_ALLOWED_PACKET, &maxp);
    if (!mysql_real_connect(db, argv[1], argv[3], argv[4], argv[5], (unsigned)atoi(argv[2]), NULL,
                            0))
        die("connect");
    /* the session must really be compressed: the client library says so */
    if (!db->net.compress) die("not compressed");

    /* text protocol, many small round trips */
    for (int i = 0; i < 200; i++) {
        char q[128];
        snprintf(q, sizeof q, "SELECT %d, REPEAT('ab', %d)", i, i * 37);
        if (mysql_query(db, q)) die("query");
        MYSQL_RES *r = mysql_store_result(db);
        if (!r) die("store");
        MYSQL_ROW row = mysql_fetch_row(r);
        unsigned long *len = mysql_fetch_lengths(r);
        if (!row || atoi(row[0]) != i || len[1] != (unsigned long)i * 74) die("small result");
        mysql_free_result(r);
    }

    /* a text result larger than 16 MiB */
    char q[128];
    snprintf(q, sizeof q, "SELECT REPEAT('x', %u), 'tail'", BIG);
    if (mysql_query(db, q)) die("big query");
    MYSQL_RES *r = mysql_store_result(db);
    if (!r) die("big store");
    MYSQL_ROW row = mysql_fetch_row(r);
    unsigned long *len = mysql_fetch_lengths(r);
    if (!row || len[0] != BIG || row[0][0] != 'x' || row[0][BIG - 1] != 'x' ||
        strcmp(row[1], "tail") != 0)
        die("big result");
    mysql_free_result(r);

    /* multi-statement */
    if (mysql_query(db, "DROP TABLE IF EXISTS cz_c") ||
        mysql_query(db, "CREATE TABLE cz_c (id INT PRIMARY KEY, v LONGTEXT)"))
        die("create");

    /* prepared statements: insert with parameters, select back, a large value */
    MYSQL_STMT *st = mysql_stmt_init(db);
    const char *ins = "INSERT INTO cz_c VALUES (?, REPEAT(?, ?))";
    if (mysql_stmt_prepare(st, ins, strlen(ins))) stmt_die(st, "prepare insert");
    for (int i = 1; i <= 50; i++) {
        int id = i, n = i == 50 ? 3 * 1024 * 1024 : i * 100;
        char ch[2] = {(char)('a' + i % 26), 0};
        unsigned long chl = 1;
        MYSQL_BIND b[3];
        memset(b, 0, sizeof b);
        b[0].buffer_type = MYSQL_TYPE_LONG;
        b[0].buffer = &id;
        b[1].buffer_type = MYSQL_TYPE_STRING;
        b[1].buffer = ch;
        b[1].length = &chl;
        b[2].buffer_type = MYSQL_TYPE_LONG;
        b[2].buffer = &n;
        if (mysql_stmt_bind_param(st, b) || mysql_stmt_execute(st)) stmt_die(st, "insert");
    }
    mysql_stmt_close(st);

    st = mysql_stmt_init(db);
    const char *sel = "SELECT id, LENGTH(v), v FROM cz_c WHERE id = ?";
    if (mysql_stmt_prepare(st, sel, strlen(sel))) stmt_die(st, "prepare select");
    char *buf = malloc(4 * 1024 * 1024);
    for (int i = 1; i <= 50; i++) {
        int id = i, got_id = 0;
        long long got_len = 0;
        unsigned long vlen = 0;
        MYSQL_BIND p[1], o[3];
        memset(p, 0, sizeof p);
        memset(o, 0, sizeof o);
        p[0].buffer_type = MYSQL_TYPE_LONG;
        p[0].buffer = &id;
        o[0].buffer_type = MYSQL_TYPE_LONG;
        o[0].buffer = &got_id;
        o[1].buffer_type = MYSQL_TYPE_LONGLONG;
        o[1].buffer = &got_len;
        o[2].buffer_type = MYSQL_TYPE_STRING;
        o[2].buffer = buf;
        o[2].buffer_length = 4 * 1024 * 1024;
        o[2].length = &vlen;
        if (mysql_stmt_bind_param(st, p) || mysql_stmt_execute(st) ||
            mysql_stmt_bind_result(st, o) || mysql_stmt_store_result(st))
            stmt_die(st, "select");
        if (mysql_stmt_fetch(st) != 0) stmt_die(st, "fetch");
        long long want = i == 50 ? 3 * 1024 * 1024 : i * 100;
        if (got_id != i || got_len != want || vlen != (unsigned long)want ||
            buf[0] != (char)('a' + i % 26))
            stmt_die(st, "prepared result");
        mysql_stmt_free_result(st);
    }
    mysql_stmt_close(st);
    free(buf);
    if (mysql_query(db, "DROP TABLE cz_c")) die("drop");
    mysql_close(db);
    printf("compress_client: ok\n");
    return 0;
}
