/* jsonw.c - JSON string escaping into evbuffers. */
#include "jsonw.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>

/* Length of the valid UTF-8 sequence at p (avail bytes left), or 0 if invalid. */
static size_t utf8_len(const unsigned char *p, size_t avail)
{
    unsigned char c = p[0];
    size_t need;
    unsigned cp;

    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (avail < need)
        return 0;
    for (size_t i = 1; i < need; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((need == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (need == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    return need;
}

static bool needs_escape(unsigned char c)
{
    return c < 0x20 || c == '"' || c == '\\' || c >= 0x80;
}

void mock_jw_str(struct evbuffer *out, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, run = 0;

    MOCK_LIT(out, "\"");
    while (i < n) {
        unsigned char c = p[i];
        if (!needs_escape(c)) {
            i++;
            continue;
        }
        if (i > run)
            evbuffer_add(out, s + run, i - run);
        if (c >= 0x80) {
            size_t k = utf8_len(p + i, n - i);
            if (k > 0) {
                evbuffer_add(out, s + i, k);
                i += k;
            } else {
                MOCK_LIT(out, "\\ufffd");
                i++;
            }
        } else {
            char esc[8];
            switch (c) {
            case '"':
                MOCK_LIT(out, "\\\"");
                break;
            case '\\':
                MOCK_LIT(out, "\\\\");
                break;
            case '\n':
                MOCK_LIT(out, "\\n");
                break;
            case '\r':
                MOCK_LIT(out, "\\r");
                break;
            case '\t':
                MOCK_LIT(out, "\\t");
                break;
            default:
                snprintf(esc, sizeof(esc), "\\u%04x", (unsigned)c);
                evbuffer_add(out, esc, 6);
                break;
            }
            i++;
        }
        run = i;
    }
    if (n > run)
        evbuffer_add(out, s + run, n - run);
    MOCK_LIT(out, "\"");
}

void mock_jw_cstr(struct evbuffer *out, const char *s)
{
    if (s == NULL)
        MOCK_LIT(out, "null");
    else
        mock_jw_str(out, s, strlen(s));
}

void mock_jw_raw(struct evbuffer *out, const char *s)
{
    evbuffer_add(out, s, strlen(s));
}
