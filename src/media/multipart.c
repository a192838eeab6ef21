/* multipart.c - multipart/form-data text fields (routes.h), for the form
 * the openai SDK sends to POST /v1/videos. Pure: the body is borrowed; the
 * result is a new JSON object of strings. */
#include "media/routes.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *find(const char *p, const char *end, const char *s, size_t n)
{
    for (; p + n <= end; p++)
        if (memcmp(p, s, n) == 0)
            return p;
    return NULL;
}

/* The boundary parameter of a Content-Type, copied into out. */
static int boundary(const char *ct, char *out, size_t cap)
{
    if (ct == NULL || strncasecmp(ct, "multipart/form-data", 19) != 0)
        return LX_ERROR;
    const char *b = strcasestr(ct, "boundary=");
    if (b == NULL)
        return LX_ERROR;
    b += 9;
    bool quoted = *b == '"';
    if (quoted)
        b++;
    size_t n = 0;
    while (b[n] && b[n] != (quoted ? '"' : ';') && !(b[n] == ' ' && !quoted))
        n++;
    if (n == 0 || n > 70 || n + 3 > cap)
        return LX_ERROR;
    out[0] = '-', out[1] = '-';
    memcpy(out + 2, b, n);
    out[n + 2] = '\0';
    return LX_OK;
}

json_t *lx_media_multipart(const char *content_type, const char *body, size_t len, char *bad_field,
                           size_t bad_len)
{
    char delim[80];
    bad_field[0] = '\0';
    if (boundary(content_type, delim, sizeof delim) != LX_OK)
        return NULL;
    size_t dl = strlen(delim);
    const char *end = body + len;
    const char *p = find(body, end, delim, dl);
    if (p == NULL)
        return NULL;
    json_t *out = json_object();
    for (;;) {
        p += dl;
        if (p + 2 <= end && p[0] == '-' && p[1] == '-')
            return out; /* the closing delimiter */
        if (p + 2 > end || p[0] != '\r' || p[1] != '\n')
            break;
        p += 2;
        const char *hend = find(p, end, "\r\n\r\n", 4);
        if (hend == NULL)
            break;
        char name[64] = "";
        bool file = false;
        for (const char *h = p; h < hend;) {
            const char *eol = find(h, hend + 2, "\r\n", 2);
            size_t hl = (size_t)(eol - h);
            if (hl > 20 && strncasecmp(h, "Content-Disposition:", 20) == 0) {
                const char *nm = find(h, h + hl, "name=\"", 6);
                if (nm) {
                    nm += 6;
                    const char *q = memchr(nm, '"', (size_t)(h + hl - nm));
                    if (q && (size_t)(q - nm) < sizeof name) {
                        memcpy(name, nm, (size_t)(q - nm));
                        name[q - nm] = '\0';
                    }
                }
                file = find(h, h + hl, "filename=", 9) != NULL;
            }
            h = eol + 2;
        }
        const char *v = hend + 4;
        char ndelim[84];
        snprintf(ndelim, sizeof ndelim, "\r\n%s", delim);
        const char *vend = find(v, end, ndelim, dl + 2);
        if (vend == NULL || name[0] == '\0')
            break;
        if (file) {
            snprintf(bad_field, bad_len, "%s", name);
            break;
        }
        json_object_set_new(out, name, json_stringn(v, (size_t)(vend - v)));
        p = vend + 2;
    }
    json_decref(out);
    return NULL;
}
