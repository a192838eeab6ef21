/* jwt_conf.c - the "jwt" settings checked and turned into a key set and a
 * verification policy (start-up only: the JWKS file is read here). */
#include "core/jwt_conf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_JWKS_BYTES (1 << 20)

bool lx_jwt_conf_on(const lx_config_t *cfg)
{
    return cfg->jwt.hs256_secret != NULL || cfg->jwt.jwks_file != NULL;
}

static bool claim_name_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 64)
        return false;
    for (const char *c = s; *c; c++)
        if ((unsigned char)*c < 0x21 || *c == '"' || *c == '\\' || (unsigned char)*c == 0x7f)
            return false;
    return true;
}

static int read_jwks(const char *path, char **out, size_t *n, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return lx_config_fail(err, errlen, "jwt.jwks_file: cannot open '%s'", path);
    char *buf = lx_alloc(MAX_JWKS_BYTES + 1);
    size_t got = fread(buf, 1, MAX_JWKS_BYTES + 1, f);
    bool bad = ferror(f) != 0;
    fclose(f);
    if (bad || got > MAX_JWKS_BYTES) {
        free(buf);
        return lx_config_fail(err, errlen, "jwt.jwks_file: '%s' %s", path,
                              bad ? "cannot be read" : "is larger than 1 MiB");
    }
    buf[got] = '\0';
    *out = buf;
    *n = got;
    return LX_OK;
}

int lx_jwt_conf_build(const lx_config_t *cfg, lx_jwt_keyset_t **out, lx_jwt_policy_t *pol,
                      char *err, size_t errlen)
{
    const lx_jwt_conf_t *j = &cfg->jwt;
    *out = NULL;
    memset(pol, 0, sizeof *pol);
    if (!lx_jwt_conf_on(cfg)) {
        if (j->hs256_kid)
            return lx_config_fail(err, errlen, "jwt.hs256_kid: set without jwt.hs256_secret");
        return LX_OK;
    }
    if (j->issuer == NULL || j->issuer[0] == '\0')
        return lx_config_fail(err, errlen,
                              "jwt.issuer: required when JWT sign-in is on (the iss tokens "
                              "must carry)");
    if (j->audience == NULL || j->audience[0] == '\0')
        return lx_config_fail(err, errlen,
                              "jwt.audience: required when JWT sign-in is on (the aud tokens "
                              "must carry)");
    const char *names[3] = {j->user_claim, j->team_claim, j->role_claim};
    static const char *const fields[3] = {"jwt.user_claim", "jwt.team_claim", "jwt.role_claim"};
    for (int i = 0; i < 3; i++)
        if (names[i] && !claim_name_ok(names[i]))
            return lx_config_fail(err, errlen,
                                  "%s: 1 to 64 printable characters without spaces or quotes",
                                  fields[i]);
    lx_jwt_keyset_t *ks = lx_jwt_keyset_new();
    char why[200];
    if (j->hs256_secret &&
        lx_jwt_keyset_add_hmac(ks, j->hs256_kid, (const unsigned char *)j->hs256_secret,
                               strlen(j->hs256_secret), why, sizeof why) != LX_OK) {
        lx_jwt_keyset_free(ks);
        return lx_config_fail(err, errlen, "jwt.hs256_secret: %s", why);
    }
    if (j->jwks_file) {
        char *text = NULL;
        size_t n = 0;
        if (read_jwks(j->jwks_file, &text, &n, err, errlen) != LX_OK) {
            lx_jwt_keyset_free(ks);
            return LX_ERROR;
        }
        int rc = lx_jwt_keyset_add_jwks(ks, text, n, why, sizeof why);
        free(text);
        if (rc != LX_OK) {
            lx_jwt_keyset_free(ks);
            return lx_config_fail(err, errlen, "jwt.jwks_file: %s", why);
        }
    }
    pol->issuer = j->issuer;
    pol->audience = j->audience;
    pol->leeway_s = j->leeway_s;
    pol->user_claim = j->user_claim;
    pol->team_claim = j->team_claim;
    pol->role_claim = j->role_claim;
    *out = ks;
    return LX_OK;
}

void lx_jwt_conf_free(lx_jwt_conf_t *j)
{
    if (j->hs256_secret)
        explicit_bzero(j->hs256_secret, strlen(j->hs256_secret));
    free(j->hs256_secret);
    free(j->hs256_kid);
    free(j->jwks_file);
    free(j->issuer);
    free(j->audience);
    free(j->user_claim);
    free(j->team_claim);
    free(j->role_claim);
    memset(j, 0, sizeof *j);
}
