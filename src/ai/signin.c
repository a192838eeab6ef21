/* signin.c - sign-in by JWT (signin.h): the process's key set, the token
 * shape test, verification messages and the claims-to-records mapping. */
#include "ai/signin.h"
#include "core/crypto.h"
#include "core/jwt_conf.h"

#include <stdio.h>

static lx_signin_t signin;

/* Tokens verified on this thread, by the SHA-256 of the token: a client
 * sends the same token with every request, and checking its signature
 * again costs more than the rest of llmux's work on a request (RS256
 * about 17 us, ES256 about 59 us here; `openssl speed rsa2048
 * ecdsap256`). Only successes are kept. A hit checks exp again (a cached
 * token expires on time); nbf and iat were satisfied and stay so; the key
 * set and the policy never change after start-up. Direct-mapped, per
 * thread: no lock. */
#define SIGNIN_CACHE 64
typedef struct {
    unsigned char h[32];
    bool used;
    lx_jwt_result_t res;
} signin_cached_t;
static _Thread_local signin_cached_t tl_cache[SIGNIN_CACHE];
static _Thread_local uint64_t tl_hits;

uint64_t lx_signin_cache_hits(void)
{
    return tl_hits;
}

int lx_signin_start(const lx_config_t *cfg, char *err, size_t errlen)
{
    return lx_jwt_conf_build(cfg, &signin.ks, &signin.pol, err, errlen);
}

void lx_signin_stop(void)
{
    lx_jwt_keyset_free(signin.ks);
    memset(&signin, 0, sizeof signin);
}

const lx_signin_t *lx_signin(void)
{
    return &signin;
}

bool lx_signin_looks_jwt(lx_str_t b)
{
    if (b.n < 5 || b.n > LX_JWT_MAX_TOKEN)
        return false;
    int dots = 0;
    size_t part = 0;
    for (size_t i = 0; i < b.n; i++) {
        char c = b.p[i];
        if (c == '.') {
            if (part == 0 || ++dots > 2)
                return false;
            part = 0;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return false;
        part++;
    }
    return dots == 2; /* an empty signature: an unsecured JWS ("alg": "none"), refused */
}

int lx_signin_verify(const lx_signin_t *si, lx_str_t token, int64_t now_s, lx_jwt_result_t *res,
                     char *msg, size_t cap)
{
    if (si->ks == NULL) {
        memset(res, 0, sizeof *res);
        snprintf(msg, cap,
                 "sign-in by JWT is not configured on this server (set jwt.issuer, "
                 "jwt.audience and a key: see README)");
        return LX_ERROR;
    }
    unsigned char h[32];
    lx_sha256(token.p, token.n, h);
    signin_cached_t *c = &tl_cache[(h[0] | (unsigned)h[1] << 8) % SIGNIN_CACHE];
    if (c->used && memcmp(c->h, h, sizeof h) == 0 &&
        c->res.exp > now_s - LX_MIN(si->pol.leeway_s, (int64_t)86400 * 365)) {
        tl_hits++;
        *res = c->res;
        return LX_OK;
    }
    if (lx_jwt_verify(si->ks, &si->pol, token.p, token.n, now_s, res) == LX_OK) {
        memcpy(c->h, h, sizeof h);
        c->res = *res;
        c->used = true;
        return LX_OK;
    }
    snprintf(msg, cap, "invalid token (%s): %s", lx_jwt_reason_name(res->reason), res->message);
    return LX_ERROR;
}

int lx_signin_map(const lx_snapshot_t *s, const lx_jwt_result_t *res, lx_signin_who_t *who,
                  const char **why)
{
    memset(who, 0, sizeof *who);
    const lx_principal_t *u = lx_snapshot_user(s, lx_str(res->user));
    if (u == NULL) {
        *why = "invalid token (unknown_user): the token's user has no user record here (create "
               "it with POST /api/v1/admin/ai/users)";
        return LX_ERROR;
    }
    if (!u->active) {
        *why = "invalid token (user_disabled): the token's user is disabled";
        return LX_ERROR;
    }
    const lx_principal_t *t = NULL;
    if (res->team[0]) {
        t = lx_snapshot_team(s, lx_str(res->team));
        if (t == NULL) {
            *why = "invalid token (unknown_team): the token's team is not a known team";
            return LX_ERROR;
        }
    } else if (u->team_id) {
        t = lx_snapshot_team_by_id(s, u->team_id);
    }
    if (t && !t->active) {
        *why = "invalid token (team_disabled): the token's team is disabled";
        return LX_ERROR;
    }
    who->user = u;
    who->team = t;
    who->allow.s[1] = u->slot;
    who->allow.s[2] = t ? t->slot : NULL;
    who->spend.s[1] = u->spend;
    who->spend.s[2] = t ? t->spend : NULL;
    who->mls[1] = u->ml.n ? &u->ml : NULL;
    who->mls[2] = t && t->ml.n ? &t->ml : NULL;
    return LX_OK;
}
