/* isolation_ps: one libmariadb client session driven line by line, for the session isolation
 * battery (test_isolation.py, issue 9): the binary protocol's way of changing session state.
 *
 * Usage: isolation_ps HOST PORT USER PASSWORD DATABASE
 *
 * Connects over TCP, prints "ready", then reads commands from stdin, one per line, fields
 * separated by tabs, and answers each with one line on stdout:
 *   q SQL                 text query (COM_QUERY); every result is read
 *   prep SQL              mysql_stmt_prepare; answers "ok SLOT ID" (ID: the statement id the
 *                         client was given)
 *   exec SLOT [PARAM...]  mysql_stmt_execute of a prepared slot, parameters bound as strings
 *   exec_id ID            COM_STMT_EXECUTE of statement ID with no parameters, through a
 *                         handle libmariadb did not prepare: what a client that kept an id after
 *                         a reset, or made one up, would send (libmariadb itself refuses to reuse
 *                         a statement after mysql_reset_connection or mysql_change_user)
 *   reset                 mysql_reset_connection (COM_RESET_CONNECTION)
 *   autocommit 0|1        mysql_autocommit
 *   change_user USER PASSWORD DATABASE
 *                         mysql_change_user (COM_CHANGE_USER)
 *   quit
 * Answers: "ok" (no result set), "ok<TAB>VALUE" (the first column of the first row, "\N" for
 * NULL or for no row), "err<TAB>CODE<TAB>MESSAGE". Exits 0 after quit or end of input, 1 if it
 * cannot connect, 2 on bad usage. Valid against MariaDB directly as well as through mymux.
 */
#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SLOTS 64
#define MAX_FIELDS 16
#define MAX_PARAMS 8
#define VALUE_LEN 4096

static MYSQL_STMT *g_slots[MAX_SLOTS];
static int g_nslots;

static void answer_err(unsigned int code, const char *msg)
{
    printf("err\t%u\t", code);
    for (const char *p = msg; *p; p++) putchar(*p == '\n' || *p == '\t' ? ' ' : *p);
    putchar('\n');
}

static void answer_value(const char *v, unsigned long len, int is_null)
{
    if (is_null) {
        printf("ok\t\\N\n");
        return;
    }
    printf("ok\t");
    fwrite(v, 1, len, stdout);
    putchar('\n');
}

/* Text query: answers with the first value of the first result that has rows. */
static void cmd_query(MYSQL *m, const char *sql)
{
    int answered = 0;
    if (mysql_real_query(m, sql, strlen(sql))) {
        answer_err(mysql_errno(m), mysql_error(m));
        return;
    }
    for (;;) {
        MYSQL_RES *r = mysql_store_result(m);
        if (r) {
            MYSQL_ROW row = mysql_fetch_row(r);
            if (!answered) {
                unsigned long *len = row ? mysql_fetch_lengths(r) : NULL;
                answer_value(row ? row[0] : NULL, len ? len[0] : 0, !row || !row[0]);
                answered = 1;
            }
            mysql_free_result(r);
        } else if (mysql_field_count(m) && !answered) {
            answer_err(mysql_errno(m), mysql_error(m));
            return;
        }
        int more = mysql_next_result(m);
        if (more > 0) {
            if (!answered) answer_err(mysql_errno(m), mysql_error(m));
            return;
        }
        if (more < 0) break;
    }
    if (!answered) printf("ok\n");
}

static void cmd_prepare(MYSQL *m, const char *sql)
{
    if (g_nslots == MAX_SLOTS) {
        answer_err(0, "too many statements");
        return;
    }
    MYSQL_STMT *s = mysql_stmt_init(m);
    if (!s) {
        answer_err(mysql_errno(m), mysql_error(m));
        return;
    }
    if (mysql_stmt_prepare(s, sql, strlen(sql))) {
        answer_err(mysql_stmt_errno(s), mysql_stmt_error(s));
        mysql_stmt_close(s);
        return;
    }
    g_slots[g_nslots] = s;
    printf("ok\t%d\t%lu\n", g_nslots++, s->stmt_id);
}

/* Executes s with params (strings) and answers with the first value of its first row. */
static void execute(MYSQL_STMT *s, char **params, int nparams)
{
    MYSQL_BIND pb[MAX_PARAMS], rb[MAX_FIELDS];
    static char values[MAX_FIELDS][VALUE_LEN];
    unsigned long lens[MAX_FIELDS];
    my_bool nulls[MAX_FIELDS];
    int answered = 0;

    if ((int)mysql_stmt_param_count(s) != nparams || nparams > MAX_PARAMS) {
        answer_err(0, "wrong number of parameters");
        return;
    }
    memset(pb, 0, sizeof pb);
    for (int i = 0; i < nparams; i++) {
        pb[i].buffer_type = MYSQL_TYPE_STRING;
        pb[i].buffer = params[i];
        pb[i].buffer_length = strlen(params[i]);
    }
    if ((nparams && mysql_stmt_bind_param(s, pb)) || mysql_stmt_execute(s)) {
        answer_err(mysql_stmt_errno(s), mysql_stmt_error(s));
        return;
    }
    for (;;) {
        unsigned int nf = mysql_stmt_field_count(s);
        if (nf > 0) {
            if (nf > MAX_FIELDS) { /* bind_result needs a bind for every column */
                if (!answered) answer_err(0, "too many columns");
                mysql_stmt_free_result(s);
                return;
            }
            memset(rb, 0, sizeof rb);
            for (unsigned int i = 0; i < nf; i++) {
                rb[i].buffer_type = MYSQL_TYPE_STRING;
                rb[i].buffer = values[i];
                rb[i].buffer_length = VALUE_LEN;
                rb[i].length = &lens[i];
                rb[i].is_null = &nulls[i];
            }
            if (mysql_stmt_bind_result(s, rb) || mysql_stmt_store_result(s)) {
                if (!answered) answer_err(mysql_stmt_errno(s), mysql_stmt_error(s));
                return;
            }
            int rc = mysql_stmt_fetch(s);
            if (!answered) {
                if (rc == 0 || rc == MYSQL_DATA_TRUNCATED)
                    answer_value(values[0], lens[0], nulls[0]);
                else
                    answer_value(NULL, 0, 1);
                answered = 1;
            }
            mysql_stmt_free_result(s);
        }
        if (!mysql_stmt_more_results(s)) break;
        int more = mysql_stmt_next_result(s);
        if (more > 0) {
            if (!answered) answer_err(mysql_stmt_errno(s), mysql_stmt_error(s));
            return;
        }
        if (more < 0) break;
    }
    if (!answered) printf("ok\n");
}

static void cmd_exec(char **f, int n)
{
    int slot = atoi(f[1]);
    if (slot < 0 || slot >= g_nslots) {
        answer_err(0, "no such slot");
        return;
    }
    execute(g_slots[slot], f + 2, n - 2);
}

/* A handle that believes statement id is prepared: COM_STMT_EXECUTE goes out as is. It is
 * never closed (libmariadb would send COM_STMT_CLOSE for an id it does not own). */
static void cmd_exec_id(MYSQL *m, const char *id)
{
    MYSQL_STMT *s = mysql_stmt_init(m);
    if (!s) {
        answer_err(mysql_errno(m), mysql_error(m));
        return;
    }
    s->stmt_id = strtoul(id, NULL, 10);
    s->state = MYSQL_STMT_PREPARED;
    s->param_count = 0;
    s->field_count = 0;
    execute(s, NULL, 0);
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: %s HOST PORT USER PASSWORD DATABASE\n", argv[0]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    MYSQL *m = mysql_init(NULL);
    unsigned int proto = MYSQL_PROTOCOL_TCP, timeout = 60;
    mysql_options(m, MYSQL_OPT_PROTOCOL, &proto);
    mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &timeout);
    mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &timeout);
    mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    if (!mysql_real_connect(m, argv[1], argv[3], argv[4], argv[5], (unsigned)atoi(argv[2]), NULL,
                            0)) {
        answer_err(mysql_errno(m), mysql_error(m));
        return 1;
    }
    printf("ready\n");

    static char line[65536];
    while (fgets(line, sizeof line, stdin)) {
        char *f[2 + MAX_PARAMS + 1];
        int n = 0;
        line[strcspn(line, "\n")] = '\0';
        for (char *p = line; n < (int)(sizeof f / sizeof f[0]);) {
            f[n++] = p;
            p = strchr(p, '\t');
            if (!p) break;
            *p++ = '\0';
        }
        if (!strcmp(f[0], "quit")) break;
        if (!strcmp(f[0], "q") && n == 2)
            cmd_query(m, f[1]);
        else if (!strcmp(f[0], "prep") && n == 2)
            cmd_prepare(m, f[1]);
        else if (!strcmp(f[0], "exec") && n >= 2)
            cmd_exec(f, n);
        else if (!strcmp(f[0], "exec_id") && n == 2)
            cmd_exec_id(m, f[1]);
        else if (!strcmp(f[0], "reset") && n == 1) {
            if (mysql_reset_connection(m))
                answer_err(mysql_errno(m), mysql_error(m));
            else
                printf("ok\n");
        } else if (!strcmp(f[0], "autocommit") && n == 2) {
            if (mysql_autocommit(m, (my_bool)atoi(f[1])))
                answer_err(mysql_errno(m), mysql_error(m));
            else
                printf("ok\n");
        } else if (!strcmp(f[0], "change_user") && n == 4) {
            if (mysql_change_user(m, f[1], f[2], f[3]))
                answer_err(mysql_errno(m), mysql_error(m));
            else
                printf("ok\n");
        } else
            answer_err(0, "bad command");
    }
    mysql_close(m);
    return 0;
}
