/* libFuzzer target for the SQL classifier (src/protocol/classify.c): classify()
 * and the in-place rewriters on arbitrary text, under both quoting modes.
 * Input: [flags] then the statement text (not NUL-terminated). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/classify.h"

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x)) __builtin_trap();                                                                \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    bool ansi = data[0] & 1, nobs = data[0] & 2;
    size_t len = size - 1;
    char *sql = malloc(len ? len : 1); /* exact, no NUL: ASan sees an overread */
    CHECK(sql);
    memcpy(sql, data + 1, len);

    static struct cls_result c;
    classify(sql, len, ansi, nobs, &c);
    CHECK(c.arg_len < sizeof c.arg);
    CHECK(c.n_assign >= 0 && c.n_assign <= CLS_MAX_ASSIGN);
    for (int i = 0; i < c.n_assign; i++) {
        const struct cls_assign *a = &c.assign[i];
        CHECK(memchr(a->name, 0, sizeof a->name));
        if (a->value) CHECK(a->value >= sql && a->value + a->value_len <= sql + len);
    }

    /* rewriting keeps the length and leaves the text classifiable */
    int n = classify_rewrite_connection_id_mode(sql, len, ansi, nobs, 123456789u);
    CHECK(n >= 0);
    static const struct cls_rewrite rw[] = {
        {"FOUND_ROWS", 42}, {"ROW_COUNT", -1}, {"LAST_INSERT_ID", 7}, {"CONNECTION_ID", 99}};
    (void)classify_rewrite_calls(sql, len, ansi, nobs, rw, 4);
    classify(sql, len, ansi, nobs, &c);
    free(sql);
    return 0;
}
