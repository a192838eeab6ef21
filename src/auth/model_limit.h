/* model_limit.h - per-model overrides of a key's, user's or team's limits
 * ("model_limits": {"<model>": {"rpm", "rpd", "tpm", "budget_usd"}}, sql/014,
 * validated by src/admin/model_limits.c), parsed once per snapshot into
 * arrays so that a request finds its entry with a short scan (at most 64
 * entries an owner) and no allocation.
 *
 * Each entry is its own subject (subject.h: "key:12@gpt-4o"), on top of
 * the owner's own limits: an allowance slot (allow.h) when it has rpm, rpd
 * or tpm, and always a spend slot (budget.h) with its budget_usd (none:
 * no budget) over the owner's budget_period.
 *
 * Matching: an entry applies to a request when its name is the model name
 * the client sent, or the resolved catalog model's full name
 * ("provider/public") or its public name; an alias or a group matches by
 * the name sent (and an alias by its own full and public names). At most
 * one entry of an owner applies: the one named as sent, else by the full
 * name, else by the public name.
 *
 * Ownership: an lx_model_limits_t belongs to the snapshot that built it
 * (its names are freed with it); the slots belong to allow.c / budget.c
 * (process lifetime). */
#ifndef LX_AUTH_MODEL_LIMIT_H
#define LX_AUTH_MODEL_LIMIT_H

#include "auth/allow.h"
#include "auth/budget.h"

typedef struct {
    char *name; /* as configured (NUL-terminated) */
    size_t n;
    int rpm, rpd, tpm; /* 0: none */
    double budget_usd; /* < 0: none */
    lx_allow_t *allow; /* NULL: no rpm/rpd/tpm (or the table is full) */
    lx_spend_t *spend; /* NULL: the table is full */
} lx_model_limit_t;

typedef struct {
    lx_model_limit_t *v;
    int n;
} lx_model_limits_t;

/* Parses json (the column's text; NULL, "{}" or bad: no entries) into out
 * and claims the entries' slots for the owner (kind 'k', 'u' or 't', id)
 * with its budget period. Off the loops (snapshot build). */
void lx_model_limits_build(lx_model_limits_t *out, const char *json, char kind, int64_t id,
                           lx_period_t period);
void lx_model_limits_free(lx_model_limits_t *ml);

/* The entry of ml (may be NULL) that applies to a request for `sent`
 * resolved to a catalog model of that full and public name (NULL: none,
 * e.g. a group): NULL when none applies. No allocation. */
const lx_model_limit_t *lx_model_limits_match(const lx_model_limits_t *ml, lx_str_t sent,
                                              const char *full, const char *public_name);

#endif
