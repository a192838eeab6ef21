/* signin.h - sign-in by JWT bearer token: telling a token from an API key,
 * verifying it (core/jwt.h) and mapping its claims to the snapshot's user
 * and team, for the AI endpoints and the admin API.
 *
 * Ownership: one lx_signin_t per process, made by the main thread before
 * the workers start (lx_signin_start) and read-only afterwards; any worker
 * reads it without a lock through lx_signin(). It borrows the config's
 * strings (the config outlives it). Nothing here logs or keeps the token;
 * every message is client-safe (no token, no claim value, no secret). */
#ifndef LX_AI_SIGNIN_H
#define LX_AI_SIGNIN_H

#include "ai/registry.h"
#include "core/jwt.h"

typedef struct {
    lx_jwt_keyset_t *ks; /* NULL: sign-in by JWT is off */
    lx_jwt_policy_t pol;
} lx_signin_t;

/* Start-up (main thread): builds the process's key set from cfg.
 * LX_ERROR with a message naming the setting. */
int lx_signin_start(const lx_config_t *cfg, char *err, size_t errlen);
/* After the workers have stopped. */
void lx_signin_stop(void);
/* The process's sign-in (ks NULL when off). */
const lx_signin_t *lx_signin(void);

/* A bearer with the shape of a compact JWS: three base64url parts joined
 * by two dots, the first two non-empty (an empty third part is an
 * unsecured token, refused by the verifier). llmux API keys ("lx-" +
 * base62) never have that shape. */
bool lx_signin_looks_jwt(lx_str_t bearer);

/* Verifies token at now_s. LX_OK with the claims in *res; LX_ERROR with a
 * message naming the reason ("invalid token (expired): ...") in msg. */
int lx_signin_verify(const lx_signin_t *si, lx_str_t token, int64_t now_s, lx_jwt_result_t *res,
                     char *msg, size_t cap);

/* Verifications this thread answered from its cache of verified tokens
 * (signin.c): for tests. */
uint64_t lx_signin_cache_hits(void);

/* Who a verified token is on the AI endpoints: the user record named by
 * the user claim (must exist and be active), and the team named by the
 * team claim (must exist and be active) or else the user's own team. */
typedef struct {
    const lx_principal_t *user;              /* borrowed from the snapshot */
    const lx_principal_t *team;              /* NULL: none */
    lx_allow_set_t allow;                    /* {NULL, user's slot, team's slot} */
    lx_spend_set_t spend;                    /* {NULL, user's spend, team's spend} */
    const lx_model_limits_t *mls[LX_LEVELS]; /* {NULL, user's, team's} overrides */
} lx_signin_who_t;

/* LX_OK with *who filled, or LX_ERROR with a client-safe reason in *why. */
int lx_signin_map(const lx_snapshot_t *s, const lx_jwt_result_t *res, lx_signin_who_t *who,
                  const char **why);

#endif
