/* Admin side placeholder: no listener yet (see admin.h). */
#include "admin/admin.h"

int admin_start(struct mx_proxy *px)
{
    (void)px;
    return 0;
}

void admin_stop(void)
{
}

uint64_t digest_begin(struct mx_worker *w, const char *sql, size_t len, const char *user,
                      const char *schema)
{
    (void)w, (void)sql, (void)len, (void)user, (void)schema;
    return 0;
}

void digest_end(struct mx_worker *w, uint64_t handle, uint64_t us, uint64_t rows, bool error)
{
    (void)w, (void)handle, (void)us, (void)rows, (void)error;
}
