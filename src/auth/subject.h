/* subject.h - the names of limit subjects (allow.h, budget.h): a key, user
 * or team ('k', 'u', 't'), or one model entry of a key's, user's or team's
 * model_limits (model_limit.h).
 *
 * A subject has a 64-bit slot key and a text (the ai_limit_windows and
 * ai_spend subject):
 *   owner:  key = kind << 56 | id             text "key:12", "user:7", "team:3"
 *   model:  key = KIND << 56 | h56(id, name)  text "key:12@gpt-4o"
 * (KIND: the kind in upper case; h56: the low 56 bits of FNV-1a over the
 * id's 8 bytes and the name.) A model name too long for the text buffer
 * is written as its hash: "key:12@#<14 hex digits>" (a model name never
 * starts with '#'). Pure functions; no state. */
#ifndef LX_AUTH_SUBJECT_H
#define LX_AUTH_SUBJECT_H

#include "core/common.h"

#define LX_SUBJECT_MAX 96 /* the text buffer, NUL included */

/* The slot key: model NULL for the owner itself. */
uint64_t lx_subject_key(char kind, int64_t id, const char *model, size_t n);
/* The text into out (LX_SUBJECT_MAX bytes). */
void lx_subject_text(char out[LX_SUBJECT_MAX], char kind, int64_t id, const char *model, size_t n);
/* The slot key of a subject text; LX_ERROR when it is not one. */
int lx_subject_parse(const char *text, uint64_t *key);

#endif
