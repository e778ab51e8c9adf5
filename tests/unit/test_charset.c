/* Unit tests for the collation table (src/protocol/charset.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "protocol/charset.h"

static void test_by_id(void **state)
{
    (void)state;
    assert_string_equal(charset_collation_name(8), "latin1_swedish_ci");
    assert_string_equal(charset_name_of(8), "latin1");
    assert_string_equal(charset_collation_name(33), "utf8mb3_general_ci");
    assert_string_equal(charset_name_of(33), "utf8mb3");
    assert_string_equal(charset_collation_name(45), "utf8mb4_general_ci");
    assert_string_equal(charset_collation_name(46), "utf8mb4_bin");
    assert_string_equal(charset_collation_name(63), "binary");
    assert_string_equal(charset_collation_name(224), "utf8mb4_unicode_ci");
    assert_string_equal(charset_collation_name(28), "gbk_chinese_ci");
    assert_string_equal(charset_collation_name(83), "utf8mb3_bin");
    assert_string_equal(charset_collation_name(192), "utf8mb3_unicode_ci");
    /* MySQL 8.0 ids added by hand */
    assert_string_equal(charset_collation_name(255), "utf8mb4_0900_ai_ci");
    assert_string_equal(charset_name_of(255), "utf8mb4");
    assert_string_equal(charset_collation_name(309), "utf8mb4_0900_bin");
    assert_string_equal(charset_collation_name(278), "utf8mb4_0900_as_cs");
    /* MariaDB 10.10+ uca1400 ids */
    assert_string_equal(charset_name_of(2304), "utf8mb4");
    assert_non_null(charset_collation_name(2304));
    assert_null(charset_collation_name(0));
    assert_null(charset_name_of(0));
    assert_null(charset_collation_name(251));
    assert_null(charset_collation_name(65535));
}

static void test_by_name(void **state)
{
    (void)state;
    assert_int_equal(charset_collation_id("utf8mb4_general_ci"), 45);
    assert_int_equal(charset_collation_id("UTF8MB4_BIN"), 46);
    assert_int_equal(charset_collation_id("utf8mb4_0900_ai_ci"), 255);
    assert_int_equal(charset_collation_id("utf8_general_ci"), 33);
    assert_int_equal(charset_collation_id("utf8mb3_general_ci"), 33);
    assert_int_equal(charset_collation_id("utf8_bin"), 83);
    assert_int_equal(charset_collation_id("binary"), 63);
    assert_int_equal(charset_collation_id("utf8mb4_uca1400_ai_ci"), 2304);
    assert_int_equal(charset_collation_id("no_such_collation"), -1);
    assert_int_equal(charset_collation_id("utf8"), -1);
    assert_int_equal(charset_collation_id(""), -1);
    assert_int_equal(charset_collation_id(NULL), -1);
}

static void test_default(void **state)
{
    (void)state;
    assert_int_equal(charset_default_collation("utf8mb4"), 45);
    assert_int_equal(charset_default_collation("UTF8MB4"), 45);
    assert_int_equal(charset_default_collation("latin1"), 8);
    assert_int_equal(charset_default_collation("utf8"), 33);
    assert_int_equal(charset_default_collation("utf8mb3"), 33);
    assert_int_equal(charset_default_collation("binary"), 63);
    assert_int_equal(charset_default_collation("gbk"), 28);
    assert_int_equal(charset_default_collation("gb18030"), 248);
    assert_int_equal(charset_default_collation("nope"), -1);
    assert_int_equal(charset_default_collation(NULL), -1);
}

/* Every default collation's id maps back to its character set, and every
 * name maps back to its own id (names are unique). */
static void test_round_trip(void **state)
{
    (void)state;
    int n = 0;
    for (unsigned id = 1; id < 4096; id++) {
        const char *name = charset_collation_name((uint16_t)id);
        if (!name)
            continue;
        n++;
        assert_int_equal(charset_collation_id(name), (int)id);
        const char *cs = charset_name_of((uint16_t)id);
        assert_non_null(cs);
        int def = charset_default_collation(cs);
        assert_true(def > 0);
        assert_string_equal(charset_name_of((uint16_t)def), cs);
    }
    assert_true(n > 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_by_id),
        cmocka_unit_test(test_by_name),
        cmocka_unit_test(test_default),
        cmocka_unit_test(test_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
