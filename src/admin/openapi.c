/* openapi.c - GET /openapi.json. */
#include "admin/openapi.h"

int lx_openapi_handler(lx_req_t *req, void *arg)
{
    (void)arg;
    lx_req_reply(req, 200, "application/json", lx_openapi_json, lx_openapi_json_len);
    return LX_OK;
}
