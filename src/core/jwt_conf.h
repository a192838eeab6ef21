/* jwt_conf.h - the key set and policy of JWT sign-in, from the "jwt"
 * settings (config.h: lx_jwt_conf_t).
 *
 * Ownership: lx_jwt_conf_build runs at start-up only (it reads the JWKS
 * file, blocking); the key set it returns is the caller's, immutable from
 * then on and freed with lx_jwt_keyset_free after the last reader. The
 * policy it fills borrows cfg's strings: cfg must outlive it. Errors name
 * the setting and never hold the secret. */
#ifndef LX_CORE_JWT_CONF_H
#define LX_CORE_JWT_CONF_H

#include "core/config.h"
#include "core/jwt.h"

/* True when sign-in by JWT is configured (a secret or a JWKS file). */
bool lx_jwt_conf_on(const lx_config_t *cfg);

/* Checks the settings and builds the key set (*out; NULL when sign-in is
 * off) and the policy (*pol). LX_ERROR with a message naming the field. */
int lx_jwt_conf_build(const lx_config_t *cfg, lx_jwt_keyset_t **out, lx_jwt_policy_t *pol,
                      char *err, size_t errlen);

/* Frees the strings of j (the secret wiped first); for lx_config_free. */
void lx_jwt_conf_free(lx_jwt_conf_t *j);

#endif
