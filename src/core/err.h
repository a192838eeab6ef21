/* err.h - the one list of reasons a request can fail.
 *
 * The same table feeds logs (name), metrics, the HTTP status and the error
 * "type" strings of the OpenAI and Anthropic error shapes. Owns nothing:
 * the table is static data, read-only for the life of the process. */
#ifndef LX_CORE_ERR_H
#define LX_CORE_ERR_H

typedef enum {
    LX_E_NONE = 0,
    LX_E_BAD_REQUEST,
    LX_E_INVALID_JSON,
    LX_E_MISSING_FIELD,
    LX_E_INVALID_TYPE,
    LX_E_UNAUTHORIZED,
    LX_E_FORBIDDEN,
    LX_E_NOT_FOUND,
    LX_E_MODEL_NOT_FOUND,
    LX_E_METHOD_NOT_ALLOWED,
    LX_E_NOT_IMPLEMENTED,
    LX_E_UNSUPPORTED_MEDIA_TYPE,
    LX_E_REQUEST_TIMEOUT,
    LX_E_BODY_TOO_LARGE,
    LX_E_HEADERS_TOO_LARGE,
    LX_E_RATE_LIMITED,
    LX_E_INTERNAL,
    LX_E_UPSTREAM,
    LX_E_UPSTREAM_TIMEOUT,
    LX_E_UNAVAILABLE,
    LX_E_SHUTTING_DOWN,
    LX_E_CLIENT_GONE,
    LX_E_CONFLICT,        /* 409: a name already taken, a row still referenced */
    LX_E_BUDGET_EXCEEDED, /* 429: a key's, user's or team's budget for the period is spent */
    LX_E__COUNT
} lx_err_t;

typedef struct {
    const char *name;           /* stable machine name: logs, metrics, "code" */
    int status;                 /* HTTP status */
    const char *openai_type;    /* error.type in the OpenAI shape */
    const char *anthropic_type; /* error.type in the Anthropic shape */
    const char *message;        /* default human message */
} lx_err_info_t;

const lx_err_info_t *lx_err_info(lx_err_t e);

/* Maps an HTTP status from an upstream onto the closest reason. */
lx_err_t lx_err_from_status(int status);

#endif
