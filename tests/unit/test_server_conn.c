/* Unit tests for the backend connection's state machine (src/pool/server_conn.c):
 * the moves be_transition_ok allows are exactly the documented ones, and in
 * debug builds be_set_state stops the process on any other. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "session/session.h"
#include "pool/pool.h"
#include "pool/server_conn.h"

/* The table of docs/ARCHITECTURE.md, written out again: a move added to or
 * dropped from the code's table without this list fails the test. */
static const enum be_state allowed[][2] = {
    {BE_CONNECTING, BE_GREETING}, {BE_CONNECTING, BE_CLOSING},
    {BE_GREETING, BE_AUTH},       {BE_GREETING, BE_CLOSING},
    {BE_AUTH, BE_ATTACHED},       {BE_AUTH, BE_CLOSING},
    {BE_IDLE, BE_ATTACHED},       {BE_IDLE, BE_IDLE},          {BE_IDLE, BE_CLOSING},
    {BE_ATTACHED, BE_ATTACHED},   {BE_ATTACHED, BE_IDLE},      {BE_ATTACHED, BE_INTERNAL},
    {BE_ATTACHED, BE_RELAY},      {BE_ATTACHED, BE_CLOSING},
    {BE_INTERNAL, BE_ATTACHED},   {BE_INTERNAL, BE_IDLE},      {BE_INTERNAL, BE_CLOSING},
    {BE_RELAY, BE_ATTACHED},      {BE_RELAY, BE_CLOSING},
};

static bool listed(enum be_state from, enum be_state to)
{
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
        if (allowed[i][0] == from && allowed[i][1] == to) return true;
    return false;
}

static void test_table_is_the_documented_one(void **state)
{
    (void)state;
    for (int f = 0; f < BE_N_STATES; f++)
        for (int t = 0; t < BE_N_STATES; t++) {
            bool ok = be_transition_ok((enum be_state)f, (enum be_state)t);
            if (ok != listed((enum be_state)f, (enum be_state)t))
                fail_msg("%s -> %s: code says %d", be_state_name((enum be_state)f),
                         be_state_name((enum be_state)t), ok);
        }
}

static void test_impossible_moves_are_refused(void **state)
{
    (void)state;
    assert_false(be_transition_ok(BE_CLOSING, BE_IDLE));     /* nothing comes back */
    assert_false(be_transition_ok(BE_CLOSING, BE_CLOSING));
    assert_false(be_transition_ok(BE_IDLE, BE_RELAY));       /* relay needs a session */
    assert_false(be_transition_ok(BE_CONNECTING, BE_ATTACHED)); /* no login skipped */
    assert_false(be_transition_ok(BE_RELAY, BE_IDLE));       /* mid-answer: never kept */
    assert_false(be_transition_ok(BE_RELAY, BE_INTERNAL));
    assert_false(be_transition_ok(BE_N_STATES, BE_IDLE));
    assert_false(be_transition_ok(BE_IDLE, (enum be_state)-1));
}

/* A login reaches an idle connection only through every step of it. */
static void test_walk_of_a_life(void **state)
{
    (void)state;
    static const enum be_state life[] = {BE_CONNECTING, BE_GREETING, BE_AUTH,     BE_ATTACHED,
                                         BE_INTERNAL,   BE_ATTACHED, BE_RELAY,    BE_ATTACHED,
                                         BE_IDLE,       BE_ATTACHED, BE_INTERNAL, BE_IDLE,
                                         BE_CLOSING};
    struct mx_backend *be = calloc(1, sizeof *be);
    assert_non_null(be);
#ifndef NDEBUG
    be->magic = MX_BE_MAGIC;
#endif
    assert_int_equal(be->state, BE_CONNECTING); /* what calloc leaves */
    for (size_t i = 1; i < sizeof life / sizeof life[0]; i++) {
        assert_true(be_transition_ok(life[i - 1], life[i]));
        be_set_state(be, life[i]);
        assert_int_equal(be->state, life[i]);
    }
    free(be);
}

/* A session that closes lets go of the connection logging in for it, and of
 * nothing else: its own lent connection is detach_backend's, another
 * session's is not its business. */
/* The pool's home as a worker fills it: how a connection tells its session. */
static const struct mx_pool_home home = {.owner = &session_owner_ops};

static void test_forget_session(void **state)
{
    (void)state;
    struct mx_pool p;
    memset(&p, 0, sizeof p);
    p.home = &home;
    struct mx_session *s = calloc(1, sizeof *s), *other = calloc(1, sizeof *other);
    struct mx_backend *b[4];
    for (int i = 0; i < 4; i++) {
        b[i] = calloc(1, sizeof *b[i]);
        assert_non_null(b[i]);
        b[i]->anext = p.all;
        p.all = b[i];
    }
    b[0]->state = BE_CONNECTING, b[0]->session = s;   /* opening for s */
    b[1]->state = BE_AUTH, b[1]->session = s;         /* a retry's, also for s */
    b[2]->state = BE_ATTACHED, b[2]->session = s;     /* lent to s */
    s->be = b[2];
    b[3]->state = BE_GREETING, b[3]->session = other; /* someone else's login */
    be_forget_session(&p, s);
    assert_null(b[0]->session);
    assert_null(b[1]->session);
    assert_ptr_equal(b[2]->session, s);
    assert_ptr_equal(b[3]->session, other);
    for (int i = 0; i < 4; i++) free(b[i]);
    free(s);
    free(other);
}

static void test_names(void **state)
{
    (void)state;
    for (int st = 0; st < BE_N_STATES; st++)
        assert_string_not_equal(be_state_name((enum be_state)st), "invalid");
    assert_string_equal(be_state_name(BE_RELAY), "relay");
    assert_string_equal(be_state_name(BE_N_STATES), "invalid");
}

#if !defined(NDEBUG) && !defined(MX_STATE_TRACE)
/* Runs fn on a fresh connection in a child: true if the child aborted. */
static bool child_aborts(void (*fn)(struct mx_backend *))
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct mx_backend *be = calloc(1, sizeof *be);
        if (!be) _exit(2);
        be->magic = MX_BE_MAGIC;
        fn(be);
        _exit(0);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    return WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT;
}

static void skip_login(struct mx_backend *be) { be_set_state(be, BE_RELAY); }
static void reopen(struct mx_backend *be)
{
    be_set_state(be, BE_CLOSING);
    be_set_state(be, BE_GREETING);
}
static void keep_broken(struct mx_backend *be)
{
    be_set_state(be, BE_GREETING);
    be_set_state(be, BE_AUTH);
    be_set_state(be, BE_ATTACHED);
    be->broken = true;
    be_set_state(be, BE_IDLE);
}
static void freed(struct mx_backend *be)
{
    be->magic = MX_BE_FREED;
    be_set_state(be, BE_GREETING);
}
static void fine(struct mx_backend *be) { be_set_state(be, BE_GREETING); }
/* be_end on a connection its session still holds as s->be: the session would use
 * it after the close (the session lets go first, in detach_backend) */
static void end_while_held(struct mx_backend *be)
{
    be_set_state(be, BE_GREETING);
    be_set_state(be, BE_AUTH);
    be_set_state(be, BE_ATTACHED);
    struct mx_session *s = calloc(1, sizeof *s);
    static struct mx_pool p = {.home = &home};
    if (!s) _exit(2);
    s->be = be;
    be->session = s;
    be->pool = &p;
    be_end(be);
}

static void test_setter_aborts_in_debug_builds(void **state)
{
    (void)state;
    assert_false(child_aborts(fine));
    assert_true(child_aborts(skip_login));
    assert_true(child_aborts(reopen));
    assert_true(child_aborts(keep_broken));
    assert_true(child_aborts(freed));
    assert_true(child_aborts(end_while_held));
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_is_the_documented_one),
        cmocka_unit_test(test_impossible_moves_are_refused),
        cmocka_unit_test(test_walk_of_a_life),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_forget_session),
#if !defined(NDEBUG) && !defined(MX_STATE_TRACE)
        cmocka_unit_test(test_setter_aborts_in_debug_builds),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
