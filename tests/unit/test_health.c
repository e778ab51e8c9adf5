/* Unit tests for the health state machine (src/health/health.c:
 * health_next_state): rise, fall, drain by the status check, and the states an
 * operator chose (maintenance, drain) that checks never override. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/proxy.h"
#include "core/worker.h"
#include "health/health.h"

#define RISE 2
#define FALL 3

/* Feeds outcomes to a server in state *st (as health.c does) and returns the new state. */
static int feed(struct health_track *t, int *st, enum health_outcome o)
{
    *st = health_next_state(t, *st, o, RISE, FALL);
    return *st;
}

static void test_up_goes_down_after_fall_failures(void **unused)
{
    struct health_track t = {0};
    int st = SRV_UP;
    assert_int_equal(feed(&t, &st, HC_FAIL), SRV_UP);
    assert_int_equal(feed(&t, &st, HC_FAIL), SRV_UP);
    assert_int_equal(feed(&t, &st, HC_FAIL), SRV_DOWN);
    assert_int_equal(feed(&t, &st, HC_FAIL), SRV_DOWN);
}

static void test_a_success_resets_the_failure_run(void **unused)
{
    struct health_track t = {0};
    int st = SRV_UP;
    feed(&t, &st, HC_FAIL);
    feed(&t, &st, HC_FAIL);
    assert_int_equal(feed(&t, &st, HC_OK), SRV_UP);
    feed(&t, &st, HC_FAIL);
    assert_int_equal(feed(&t, &st, HC_FAIL), SRV_UP);
    assert_int_equal(feed(&t, &st, HC_FAIL), SRV_DOWN);
}

static void test_down_comes_back_after_rise_successes(void **unused)
{
    struct health_track t = {0};
    int st = SRV_DOWN;
    assert_int_equal(feed(&t, &st, HC_OK), SRV_DOWN);
    assert_int_equal(feed(&t, &st, HC_FAIL), SRV_DOWN); /* breaks the run */
    assert_int_equal(feed(&t, &st, HC_OK), SRV_DOWN);
    assert_int_equal(feed(&t, &st, HC_OK), SRV_UP);
    assert_int_equal(feed(&t, &st, HC_OK), SRV_UP);
}

static void test_rise_and_fall_of_one(void **unused)
{
    struct health_track t = {0};
    int st = SRV_UP;
    assert_int_equal(health_next_state(&t, st, HC_FAIL, 1, 1), SRV_DOWN);
    assert_int_equal(health_next_state(&t, SRV_DOWN, HC_OK, 1, 1), SRV_UP);
    /* zero or negative settings count as 1 */
    memset(&t, 0, sizeof t);
    assert_int_equal(health_next_state(&t, SRV_UP, HC_FAIL, 0, 0), SRV_DOWN);
}

static void test_status_non_200_drains_at_once_and_200_brings_back_after_rise(void **unused)
{
    struct health_track t = {0};
    int st = SRV_UP;
    assert_int_equal(feed(&t, &st, HC_DRAIN), SRV_DRAINING);
    assert_true(t.drain_by_check);
    assert_int_equal(feed(&t, &st, HC_DRAIN), SRV_DRAINING);
    assert_int_equal(feed(&t, &st, HC_OK), SRV_DRAINING);
    assert_int_equal(feed(&t, &st, HC_OK), SRV_UP);
    assert_false(t.drain_by_check);
}

static void test_drained_server_that_stops_answering_goes_down(void **unused)
{
    struct health_track t = {0};
    int st = SRV_UP;
    feed(&t, &st, HC_DRAIN);
    feed(&t, &st, HC_FAIL);
    feed(&t, &st, HC_FAIL);
    assert_int_equal(feed(&t, &st, HC_FAIL), SRV_DOWN);
    assert_false(t.drain_by_check);
    /* and needs rise successes to come back, drain answers do not count */
    assert_int_equal(feed(&t, &st, HC_DRAIN), SRV_DOWN);
    assert_int_equal(feed(&t, &st, HC_OK), SRV_DOWN);
    assert_int_equal(feed(&t, &st, HC_OK), SRV_UP);
}

static void test_down_server_shutting_down_stays_down(void **unused)
{
    struct health_track t = {0};
    int st = SRV_DOWN;
    assert_int_equal(feed(&t, &st, HC_DRAIN), SRV_DOWN);
    assert_int_equal(feed(&t, &st, HC_OK), SRV_DOWN);
    assert_int_equal(feed(&t, &st, HC_DRAIN), SRV_DOWN); /* breaks the success run */
    assert_int_equal(feed(&t, &st, HC_OK), SRV_DOWN);
    assert_int_equal(feed(&t, &st, HC_OK), SRV_UP);
}

static void test_maintenance_is_never_left(void **unused)
{
    struct health_track t = {0};
    int st = SRV_MAINT;
    for (int i = 0; i < 10; i++)
        assert_int_equal(feed(&t, &st, HC_FAIL), SRV_MAINT);
    for (int i = 0; i < 10; i++)
        assert_int_equal(feed(&t, &st, HC_OK), SRV_MAINT);
    assert_int_equal(feed(&t, &st, HC_DRAIN), SRV_MAINT);
}

static void test_operator_drain_is_never_turned_up_or_down(void **unused)
{
    struct health_track t = {0};
    int st = SRV_DRAINING; /* set by an operator: the flag is not set */
    for (int i = 0; i < 10; i++)
        assert_int_equal(feed(&t, &st, HC_OK), SRV_DRAINING);
    for (int i = 0; i < 10; i++)
        assert_int_equal(feed(&t, &st, HC_FAIL), SRV_DRAINING);
    assert_int_equal(feed(&t, &st, HC_DRAIN), SRV_DRAINING);
    assert_false(t.drain_by_check);
}

static void test_operator_change_clears_the_check_drain(void **unused)
{
    struct health_track t = {0};
    int st = SRV_UP;
    feed(&t, &st, HC_DRAIN); /* drained by the check */
    st = SRV_MAINT;          /* operator: maintenance */
    assert_int_equal(feed(&t, &st, HC_OK), SRV_MAINT);
    assert_false(t.drain_by_check);
    st = SRV_DRAINING; /* operator: drain; checks must leave it alone now */
    for (int i = 0; i < 5; i++)
        assert_int_equal(feed(&t, &st, HC_OK), SRV_DRAINING);
}

static void test_up_after_operator_enables_counts_afresh(void **unused)
{
    struct health_track t = {0};
    int st = SRV_MAINT;
    feed(&t, &st, HC_FAIL);
    feed(&t, &st, HC_FAIL);
    st = SRV_UP; /* operator takes it out of maintenance: it is up until `fall` says otherwise */
    assert_int_equal(feed(&t, &st, HC_FAIL), SRV_DOWN); /* the run kept counting */
}

/* A check mymux could not run (out of descriptors) is neither a failure nor a
 * success: many of them in a row change no state, and the runs go on across them. */
static void test_skipped_checks_change_nothing(void **unused)
{
    struct health_track t = {0};
    int st = SRV_UP;
    feed(&t, &st, HC_FAIL);
    feed(&t, &st, HC_FAIL);
    for (int i = 0; i < 10; i++) assert_int_equal(feed(&t, &st, HC_SKIP), SRV_UP);
    assert_int_equal(feed(&t, &st, HC_FAIL), SRV_DOWN); /* the third failure in a row */
    for (int i = 0; i < 10; i++) assert_int_equal(feed(&t, &st, HC_SKIP), SRV_DOWN);
    feed(&t, &st, HC_OK);
    assert_int_equal(feed(&t, &st, HC_SKIP), SRV_DOWN);
    assert_int_equal(feed(&t, &st, HC_OK), SRV_UP);
}

static void test_state_names(void **unused)
{
    assert_string_equal(health_state_name(SRV_UP), "up");
    assert_string_equal(health_state_name(SRV_DOWN), "down");
    assert_string_equal(health_state_name(SRV_DRAINING), "draining");
    assert_string_equal(health_state_name(SRV_MAINT), "maintenance");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_up_goes_down_after_fall_failures),
        cmocka_unit_test(test_a_success_resets_the_failure_run),
        cmocka_unit_test(test_down_comes_back_after_rise_successes),
        cmocka_unit_test(test_rise_and_fall_of_one),
        cmocka_unit_test(test_status_non_200_drains_at_once_and_200_brings_back_after_rise),
        cmocka_unit_test(test_drained_server_that_stops_answering_goes_down),
        cmocka_unit_test(test_down_server_shutting_down_stays_down),
        cmocka_unit_test(test_maintenance_is_never_left),
        cmocka_unit_test(test_operator_drain_is_never_turned_up_or_down),
        cmocka_unit_test(test_operator_change_clears_the_check_drain),
        cmocka_unit_test(test_up_after_operator_enables_counts_afresh),
        cmocka_unit_test(test_skipped_checks_change_nothing),
        cmocka_unit_test(test_state_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
