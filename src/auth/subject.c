/* subject.c - limit subject keys and texts (subject.h). */
#include "auth/subject.h"

#include <stdio.h>
#include <stdlib.h>

#define MASK56 0x00ffffffffffffffull

static uint64_t h56(int64_t id, const char *name, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    uint64_t v = (uint64_t)id;
    for (int i = 0; i < 8; i++, v >>= 8)
        h = (h ^ (v & 0xff)) * 0x100000001b3ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)name[i]) * 0x100000001b3ull;
    return h & MASK56;
}

static char upper(char kind)
{
    return (char)(kind - 'a' + 'A');
}

uint64_t lx_subject_key(char kind, int64_t id, const char *model, size_t n)
{
    if (model == NULL)
        return (uint64_t)(unsigned char)kind << 56 | ((uint64_t)id & MASK56);
    return (uint64_t)(unsigned char)upper(kind) << 56 | h56(id, model, n);
}

static const char *kind_name(char kind)
{
    return kind == 'k' ? "key" : kind == 'u' ? "user" : "team";
}

void lx_subject_text(char out[LX_SUBJECT_MAX], char kind, int64_t id, const char *model, size_t n)
{
    int w = snprintf(out, LX_SUBJECT_MAX, "%s:%lld", kind_name(kind), (long long)id);
    if (model == NULL)
        return;
    if ((size_t)w + 1 + n < LX_SUBJECT_MAX)
        snprintf(out + w, LX_SUBJECT_MAX - (size_t)w, "@%.*s", (int)n, model);
    else
        snprintf(out + w, LX_SUBJECT_MAX - (size_t)w, "@#%014llx",
                 (unsigned long long)h56(id, model, n));
}

int lx_subject_parse(const char *text, uint64_t *key)
{
    const char *colon = strchr(text, ':');
    if (colon == NULL)
        return LX_ERROR;
    char kind;
    size_t n = (size_t)(colon - text);
    if (n == 3 && strncmp(text, "key", 3) == 0)
        kind = 'k';
    else if (n == 4 && strncmp(text, "user", 4) == 0)
        kind = 'u';
    else if (n == 4 && strncmp(text, "team", 4) == 0)
        kind = 't';
    else
        return LX_ERROR;
    char *end;
    long long id = strtoll(colon + 1, &end, 10);
    if (end == colon + 1 || id <= 0 || (*end != '\0' && *end != '@'))
        return LX_ERROR;
    if (*end == '\0') {
        *key = lx_subject_key(kind, id, NULL, 0);
        return LX_OK;
    }
    const char *name = end + 1;
    if (*name == '\0')
        return LX_ERROR;
    if (*name != '#') {
        *key = lx_subject_key(kind, id, name, strlen(name));
        return LX_OK;
    }
    char *hend;
    unsigned long long h = strtoull(name + 1, &hend, 16);
    if (hend == name + 1 || *hend != '\0')
        return LX_ERROR;
    *key = (uint64_t)(unsigned char)upper(kind) << 56 | (h & MASK56);
    return LX_OK;
}
