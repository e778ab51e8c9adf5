/* Unit tests for the client session's state machine (src/session/session_fsm.c):
 * the moves session_transition_ok allows are exactly the documented ones, and
 * in debug builds session_set_state stops the process on any other. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "session/session.h"

/* The table of docs/ARCHITECTURE.md written out again, closing aside (every
 * state but SS_CLOSING may close). */
static const enum sess_state allowed[][2] = {
    {SS_HANDSHAKE, SS_HANDSHAKE},     {SS_HANDSHAKE, SS_AUTH_SWITCH},
    {SS_HANDSHAKE, SS_AUTH_FULL},     {SS_HANDSHAKE, SS_CONNECTING},
    {SS_AUTH_SWITCH, SS_AUTH_FULL},   {SS_AUTH_SWITCH, SS_CONNECTING},
    {SS_AUTH_SWITCH, SS_LOCAL},       {SS_AUTH_FULL, SS_AUTH_RSA},
    {SS_AUTH_FULL, SS_CONNECTING},    {SS_AUTH_FULL, SS_LOCAL},
    {SS_AUTH_RSA, SS_CONNECTING},     {SS_AUTH_RSA, SS_LOCAL},
    {SS_CONNECTING, SS_LOCAL},        {SS_CONNECTING, SS_IDLE},
    {SS_IDLE, SS_IDLE},               {SS_IDLE, SS_LOCAL},
    {SS_IDLE, SS_WAIT_BACKEND},       {SS_IDLE, SS_SYNC},
    {SS_IDLE, SS_FORWARD},            {SS_IDLE, SS_KILL_WAIT},
    {SS_IDLE, SS_AUTH_SWITCH},        {SS_IDLE, SS_AUTH_FULL},
    {SS_IDLE, SS_CONNECTING},         {SS_IDLE, SS_DIAG},
    {SS_WAIT_BACKEND, SS_WAIT_BACKEND}, {SS_WAIT_BACKEND, SS_SYNC},
    {SS_WAIT_BACKEND, SS_FORWARD},    {SS_WAIT_BACKEND, SS_LOCAL},
    {SS_WAIT_BACKEND, SS_IDLE},       {SS_SYNC, SS_SYNC},
    {SS_SYNC, SS_FORWARD},            {SS_SYNC, SS_LOCAL},
    {SS_SYNC, SS_IDLE},               {SS_FORWARD, SS_FORWARD},
    {SS_FORWARD, SS_RESPONSE},        {SS_FORWARD, SS_IDLE},
    {SS_FORWARD, SS_LOCAL},           {SS_RESPONSE, SS_IDLE},
    {SS_RESPONSE, SS_DIAG},           {SS_RESPONSE, SS_INFILE},
    {SS_RESPONSE, SS_SYNC},           {SS_RESPONSE, SS_LOCAL},
    {SS_RESPONSE, SS_DISCARD},        {SS_IDLE, SS_DISCARD},
    {SS_WAIT_BACKEND, SS_DISCARD},    {SS_SYNC, SS_DISCARD},
    {SS_FORWARD, SS_DISCARD},         {SS_DISCARD, SS_DISCARD},
    {SS_DISCARD, SS_LOCAL},
    {SS_DIAG, SS_IDLE},               {SS_DIAG, SS_DIAG},
    {SS_DIAG, SS_LOCAL},              {SS_INFILE, SS_INFILE},
    {SS_INFILE, SS_RESPONSE},         {SS_LOCAL, SS_IDLE},
    {SS_WAIT_BACKEND, SS_DIAG},       {SS_SYNC, SS_DIAG},
    {SS_FORWARD, SS_DIAG},
    {SS_INFILE, SS_DISCARD},
    {SS_KILL_WAIT, SS_LOCAL},
};

static bool listed(enum sess_state from, enum sess_state to)
{
    if (from == SS_CLOSING) return false;
    if (to == SS_CLOSING) return true;
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
        if (allowed[i][0] == from && allowed[i][1] == to) return true;
    return false;
}

static void test_table_is_the_documented_one(void **state)
{
    (void)state;
    for (int f = 0; f < SS_N_STATES; f++)
        for (int t = 0; t < SS_N_STATES; t++) {
            bool ok = session_transition_ok((enum sess_state)f, (enum sess_state)t);
            if (ok != listed((enum sess_state)f, (enum sess_state)t))
                fail_msg("%s -> %s: code says %d", session_state_name((enum sess_state)f),
                         session_state_name((enum sess_state)t), ok);
        }
}

static void test_impossible_moves_are_refused(void **state)
{
    (void)state;
    assert_false(session_transition_ok(SS_CLOSING, SS_IDLE));       /* nothing comes back */
    assert_false(session_transition_ok(SS_HANDSHAKE, SS_IDLE));     /* no command unauthenticated */
    assert_false(session_transition_ok(SS_HANDSHAKE, SS_FORWARD));
    assert_false(session_transition_ok(SS_AUTH_RSA, SS_AUTH_SWITCH));
    assert_false(session_transition_ok(SS_LOCAL, SS_RESPONSE));     /* no answer without a command */
    assert_false(session_transition_ok(SS_KILL_WAIT, SS_FORWARD));
    assert_false(session_transition_ok(SS_N_STATES, SS_IDLE));
    assert_false(session_transition_ok(SS_IDLE, (enum sess_state)-1));
    assert_true(session_transition_ok(SS_RESPONSE, SS_CLOSING));
    assert_false(session_transition_ok(SS_DISCARD, SS_RESPONSE)); /* dropped: never answered */
    assert_false(session_transition_ok(SS_INFILE, SS_LOCAL));     /* the file's end is the server's */
}

/* A session's life: login, a query over a connection that needed a sync, its
 * answer and diagnostics, a local answer, then the end. */
static void test_walk_of_a_life(void **state)
{
    (void)state;
    static const enum sess_state life[] = {
        SS_HANDSHAKE, SS_AUTH_SWITCH, SS_CONNECTING, SS_LOCAL,    SS_IDLE,
        SS_WAIT_BACKEND, SS_SYNC,     SS_FORWARD,    SS_RESPONSE, SS_DIAG,
        SS_IDLE,      SS_FORWARD,     SS_RESPONSE,   SS_INFILE,   SS_RESPONSE,
        SS_IDLE,      SS_KILL_WAIT,   SS_LOCAL,      SS_IDLE,     SS_CLOSING};
    struct mx_session *s = calloc(1, sizeof *s);
    assert_non_null(s);
#ifndef NDEBUG
    s->magic = MX_SESSION_MAGIC;
#endif
    assert_int_equal(s->state, SS_HANDSHAKE); /* what calloc leaves */
    for (size_t i = 1; i < sizeof life / sizeof life[0]; i++) {
        session_set_state(s, life[i]);
        assert_int_equal(s->state, life[i]);
    }
    free(s);
}

static void test_names_and_groups(void **state)
{
    (void)state;
    for (int st = 0; st < SS_N_STATES; st++)
        assert_string_not_equal(session_state_name((enum sess_state)st), "invalid");
    assert_string_equal(session_state_name(SS_KILL_WAIT), "kill_wait");
    assert_true(session_state_auth(SS_AUTH_RSA));
    assert_false(session_state_auth(SS_CONNECTING));
    assert_false(session_state_busy(SS_IDLE));
    assert_false(session_state_busy(SS_CONNECTING));
    assert_false(session_state_busy(SS_AUTH_FULL));
    assert_true(session_state_busy(SS_RESPONSE));
}

#if !defined(NDEBUG) && !defined(MX_STATE_TRACE)
static bool child_aborts(void (*fn)(struct mx_session *))
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct mx_session *s = calloc(1, sizeof *s);
        if (!s) _exit(2);
        s->magic = MX_SESSION_MAGIC;
        fn(s);
        _exit(0);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    return WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT;
}

static void fine(struct mx_session *s) { session_set_state(s, SS_CONNECTING); }
static void skip_auth(struct mx_session *s) { session_set_state(s, SS_IDLE); }
static void revive(struct mx_session *s)
{
    session_set_state(s, SS_CLOSING);
    session_set_state(s, SS_HANDSHAKE);
}
static void freed(struct mx_session *s)
{
    s->magic = MX_SESSION_FREED;
    session_set_state(s, SS_CONNECTING);
}

static void test_setter_aborts_in_debug_builds(void **state)
{
    (void)state;
    assert_false(child_aborts(fine));
    assert_true(child_aborts(skip_auth));
    assert_true(child_aborts(revive));
    assert_true(child_aborts(freed));
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_is_the_documented_one),
        cmocka_unit_test(test_impossible_moves_are_refused),
        cmocka_unit_test(test_walk_of_a_life),
        cmocka_unit_test(test_names_and_groups),
#if !defined(NDEBUG) && !defined(MX_STATE_TRACE)
        cmocka_unit_test(test_setter_aborts_in_debug_builds),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
