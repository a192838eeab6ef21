/* router.c - placeholder until the admin API lands: every admin path is
 * refused in the same way a missing one is. */
#include "admin/admin.h"

int lx_admin_handler(lx_req_t *req, void *arg)
{
    lx_req_reply_error(req, LX_E_NOT_FOUND, "no such admin route", NULL);
    return LX_OK;
}
