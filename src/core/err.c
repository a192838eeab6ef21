/* err.c - the reason table. */
#include "core/err.h"

static const lx_err_info_t table[LX_E__COUNT] = {
    [LX_E_NONE] = {"ok", 200, "", "", "ok"},
    [LX_E_BAD_REQUEST] = {"bad_request", 400, "invalid_request_error", "invalid_request_error",
                          "invalid request"},
    [LX_E_INVALID_JSON] = {"invalid_json", 400, "invalid_request_error", "invalid_request_error",
                           "request body is not valid JSON"},
    [LX_E_MISSING_FIELD] = {"missing_field", 400, "invalid_request_error", "invalid_request_error",
                            "a required field is missing"},
    [LX_E_INVALID_TYPE] = {"invalid_type", 400, "invalid_request_error", "invalid_request_error",
                           "a field has the wrong type"},
    [LX_E_UNAUTHORIZED] = {"invalid_api_key", 401, "invalid_request_error", "authentication_error",
                           "invalid or missing API key"},
    [LX_E_FORBIDDEN] = {"forbidden", 403, "permission_error", "permission_error",
                        "this key may not use that resource"},
    [LX_E_NOT_FOUND] = {"not_found", 404, "invalid_request_error", "not_found_error",
                        "no such route"},
    [LX_E_MODEL_NOT_FOUND] = {"model_not_found", 404, "invalid_request_error", "not_found_error",
                              "model not found"},
    [LX_E_METHOD_NOT_ALLOWED] = {"method_not_allowed", 405, "invalid_request_error",
                                 "invalid_request_error", "method not allowed"},
    [LX_E_NOT_IMPLEMENTED] = {"not_implemented", 501, "invalid_request_error",
                              "invalid_request_error", "not implemented"},
    [LX_E_UNSUPPORTED_MEDIA_TYPE] = {"unsupported_media_type", 415, "invalid_request_error",
                                     "invalid_request_error", "unsupported media type"},
    [LX_E_REQUEST_TIMEOUT] = {"request_timeout", 408, "invalid_request_error",
                              "invalid_request_error", "request head not received in time"},
    [LX_E_BODY_TOO_LARGE] = {"request_too_large", 413, "invalid_request_error", "request_too_large",
                             "request body too large"},
    [LX_E_HEADERS_TOO_LARGE] = {"headers_too_large", 431, "invalid_request_error",
                                "invalid_request_error", "request headers too large"},
    [LX_E_RATE_LIMITED] = {"rate_limit_exceeded", 429, "rate_limit_error", "rate_limit_error",
                           "rate limit exceeded"},
    [LX_E_INTERNAL] = {"internal_error", 500, "server_error", "api_error", "internal error"},
    [LX_E_UPSTREAM] = {"upstream_error", 502, "server_error", "api_error", "upstream error"},
    [LX_E_UPSTREAM_TIMEOUT] = {"upstream_timeout", 504, "server_error", "api_error",
                               "upstream timed out"},
    [LX_E_UNAVAILABLE] = {"unavailable", 503, "server_error", "overloaded_error",
                          "service unavailable"},
    [LX_E_SHUTTING_DOWN] = {"shutting_down", 503, "server_error", "overloaded_error",
                            "server is shutting down"},
    [LX_E_CLIENT_GONE] = {"client_gone", 499, "", "", "client closed the connection"},
    [LX_E_CONFLICT] = {"conflict", 409, "invalid_request_error", "invalid_request_error",
                       "conflict with the current state"},
    /* Anthropic has no quota type: its SDKs raise RateLimitError for 429
     * with rate_limit_error, the message names the budget. */
    [LX_E_BUDGET_EXCEEDED] = {"budget_exceeded", 429, "insufficient_quota", "rate_limit_error",
                              "budget exceeded"},
};

const lx_err_info_t *lx_err_info(lx_err_t e)
{
    if ((unsigned)e >= LX_E__COUNT)
        e = LX_E_INTERNAL;
    return &table[e];
}

lx_err_t lx_err_from_status(int status)
{
    switch (status) {
    case 400:
    case 422:
        return LX_E_BAD_REQUEST;
    case 401:
        return LX_E_UNAUTHORIZED;
    case 403:
        return LX_E_FORBIDDEN;
    case 404:
        return LX_E_NOT_FOUND;
    case 408:
        return LX_E_REQUEST_TIMEOUT;
    case 413:
        return LX_E_BODY_TOO_LARGE;
    case 429:
        return LX_E_RATE_LIMITED;
    case 503:
    case 529:
        return LX_E_UNAVAILABLE;
    case 504:
        return LX_E_UPSTREAM_TIMEOUT;
    default:
        return status >= 500 ? LX_E_UPSTREAM : LX_E_BAD_REQUEST;
    }
}
