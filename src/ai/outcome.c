/* outcome.c - building and rendering lx_outcome_t (outcome.h). */
#include "ai/outcome.h"

#include <stdarg.h>
#include <stdio.h>

void lx_outcome_ok(lx_outcome_t *o)
{
    o->status = 200;
    o->err = LX_E_NONE;
    o->side = LX_SIDE_NONE;
    o->param = NULL;
    o->detail = NULL;
    o->retry_after[0] = '\0';
    o->message[0] = '\0';
}

void lx_outcome_fail(lx_outcome_t *o, lx_side_t side, int status, lx_err_t e, const char *param,
                     const char *fmt, ...)
{
    o->status = status ? status : lx_err_info(e)->status;
    o->err = e;
    o->side = side;
    o->param = param;
    o->detail = NULL;
    o->retry_after[0] = '\0';
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(o->message, sizeof o->message, fmt, ap);
    va_end(ap);
}

void lx_outcome_retry_after_ms(lx_outcome_t *o, int64_t wait_ms)
{
    snprintf(o->retry_after, sizeof o->retry_after, "%lld",
             (long long)(wait_ms > 0 ? (wait_ms + 999) / 1000 : 1));
}

const char *lx_outcome_code(const lx_outcome_t *o)
{
    return o->err == LX_E_NONE ? "" : lx_err_info(o->err)->name;
}

void lx_outcome_reply(lx_req_t *req, const lx_outcome_t *o)
{
    if (o->retry_after[0])
        lx_req_set_header(req, "Retry-After", o->retry_after);
    lx_req_reply_error_status(req, o->status, o->err, o->message[0] ? o->message : NULL, o->param);
}
