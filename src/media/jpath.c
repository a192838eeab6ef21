/* jpath.c - JSON field paths ("data.id", "output.0"). */
#include "media/jpath.h"

#include "core/common.h"

#include <stdlib.h>
#include <string.h>

static bool seg_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '$' || c == '@';
}

const char *lx_jpath_problem(const char *path)
{
    if (path == NULL || *path == '\0')
        return "must not be empty";
    size_t n = strlen(path);
    if (n > LX_JPATH_MAX_LEN)
        return "is longer than 256 characters";
    int segs = 0;
    size_t seg_len = 0;
    for (size_t i = 0; i <= n; i++) {
        char c = path[i];
        if (c == '.' || c == '\0') {
            if (seg_len == 0)
                return "has an empty segment (a leading, trailing or doubled '.')";
            if (++segs > LX_JPATH_MAX_SEGMENTS)
                return "has more than 16 segments";
            seg_len = 0;
        } else if (!seg_char(c)) {
            return "may hold only letters, digits, '_', '-', '$', '@' between dots";
        } else if (++seg_len > 64) {
            return "has a segment longer than 64 characters";
        }
    }
    return NULL;
}

json_t *lx_jpath_get(const json_t *doc, const char *path)
{
    if (lx_jpath_problem(path) != NULL)
        return NULL;
    const json_t *cur = doc;
    const char *p = path;
    while (cur != NULL) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (json_is_object(cur)) {
            cur = json_object_getn(cur, p, n);
        } else if (json_is_array(cur)) {
            size_t idx = 0;
            for (size_t i = 0; i < n; i++) {
                if (p[i] < '0' || p[i] > '9' || idx > 100000)
                    return NULL;
                idx = idx * 10 + (size_t)(p[i] - '0');
            }
            cur = json_array_get(cur, idx);
        } else {
            return NULL;
        }
        if (dot == NULL)
            break;
        p = dot + 1;
    }
    return (json_t *)cur;
}
