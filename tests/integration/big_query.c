/* libmariadb client for test_packet_limit.py: sends one query of a given size between
 * two SELECT CONNECTION_ID() and prints "id <n>", "err <errno>" or "ok", "id <n>". */
#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int print_id(MYSQL *m)
{
    if (mysql_query(m, "SELECT CONNECTION_ID()")) {
        printf("lost %u\n", mysql_errno(m));
        return 1;
    }
    MYSQL_RES *r = mysql_store_result(m);
    MYSQL_ROW row = r ? mysql_fetch_row(r) : NULL;
    printf("id %s\n", row && row[0] ? row[0] : "?");
    if (r) mysql_free_result(r);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: %s host port user password bytes\n", argv[0]);
        return 2;
    }
    size_t n = strtoul(argv[5], NULL, 10);
    unsigned long maxp = 1024ul * 1024 * 1024;
    MYSQL *m = mysql_init(NULL);
    mysql_options(m, MYSQL_OPT_MAX_ALLOWED_PACKET, &maxp);
    if (!mysql_real_connect(m, argv[1], argv[3], argv[4], NULL, (unsigned)atoi(argv[2]), NULL,
                            0)) {
        printf("connect %u %s\n", mysql_errno(m), mysql_error(m));
        return 1;
    }
    if (print_id(m)) return 1;
    /* SELECT LENGTH('xxx...'): n bytes of text */
    const char *head = "SELECT LENGTH('", *tail = "')";
    char *q = malloc(n);
    if (!q) return 1;
    size_t hl = strlen(head), tl = strlen(tail);
    memcpy(q, head, hl);
    memset(q + hl, 'x', n - hl - tl);
    memcpy(q + n - tl, tail, tl);
    if (mysql_real_query(m, q, n)) {
        printf("err %u\n", mysql_errno(m));
    } else {
        MYSQL_RES *r = mysql_store_result(m);
        if (r) mysql_free_result(r);
        printf("ok\n");
    }
    free(q);
    print_id(m);
    mysql_close(m);
    return 0;
}
