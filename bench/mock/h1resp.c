/* h1resp.c - incremental HTTP/1.1 response parser (see h1resp.h). */
#include "h1resp.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>

enum { S_STATUS = 0, S_HDR, S_LEN, S_CSIZE, S_CDATA, S_CEND, S_TRAILER, S_CLOSE, S_DONE };

#define MAX_LINE 65536

/* A CRLF (or LF) line, or NULL; *err on an over-long line. */
static char *line(struct evbuffer *in, bool *err)
{
    size_t n;
    char *l = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF);

    if (l == NULL && evbuffer_get_length(in) > MAX_LINE)
        *err = true;
    return l;
}

static mock_h1_rc_t headers_done(mock_h1resp_t *p)
{
    const char *te = NULL, *cl = NULL;

    for (int i = 0; i < p->nhdr; i++) {
        if (strcasecmp(p->names[i], "transfer-encoding") == 0)
            te = p->values[i];
        else if (strcasecmp(p->names[i], "content-length") == 0)
            cl = p->values[i];
    }
    if (p->head || (p->status >= 100 && p->status < 200) || p->status == 204 || p->status == 304) {
        p->state = S_DONE;
    } else if (te != NULL && strcasestr(te, "chunked") != NULL) {
        p->state = S_CSIZE;
    } else if (cl != NULL) {
        char *end;
        p->left = strtoll(cl, &end, 10);
        if (end == cl || p->left < 0)
            return MOCK_H1_ERROR;
        p->state = p->left > 0 ? S_LEN : S_DONE;
    } else {
        p->until_close = true;
        p->state = S_CLOSE;
    }
    return MOCK_H1_HEADERS;
}

static void take(struct evbuffer *in, struct evbuffer *body, mock_h1resp_t *p)
{
    size_t have = evbuffer_get_length(in);
    size_t n = (long long)have < p->left ? have : (size_t)p->left;

    evbuffer_remove_buffer(in, body, n);
    p->left -= (long long)n;
}

mock_h1_rc_t mock_h1resp_parse(mock_h1resp_t *p, struct evbuffer *in, struct evbuffer *body)
{
    bool err = false;
    char *l;

    for (;;) {
        switch (p->state) {
        case S_STATUS:
            if ((l = line(in, &err)) == NULL)
                return err ? MOCK_H1_ERROR : MOCK_H1_MORE;
            if (strncmp(l, "HTTP/1.", 7) != 0 || strlen(l) < 12 || !isdigit((unsigned char)l[9])) {
                free(l);
                return MOCK_H1_ERROR;
            }
            p->status = atoi(l + 9);
            free(l);
            p->state = S_HDR;
            break;
        case S_HDR: {
            char *colon, *v;
            if ((l = line(in, &err)) == NULL)
                return err ? MOCK_H1_ERROR : MOCK_H1_MORE;
            if (*l == '\0') {
                free(l);
                return headers_done(p);
            }
            colon = strchr(l, ':');
            if (colon == NULL || p->nhdr == MOCK_H1_MAX_HDRS) {
                free(l);
                return MOCK_H1_ERROR;
            }
            *colon = '\0';
            for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
                ;
            p->names[p->nhdr] = l;
            p->values[p->nhdr] = strdup(v);
            if (p->values[p->nhdr] == NULL) {
                free(l);
                return MOCK_H1_ERROR;
            }
            p->nhdr++;
            break;
        }
        case S_LEN:
            take(in, body, p);
            if (p->left > 0)
                return MOCK_H1_MORE;
            p->state = S_DONE;
            break;
        case S_CSIZE: {
            char *end;
            if ((l = line(in, &err)) == NULL)
                return err ? MOCK_H1_ERROR : MOCK_H1_MORE;
            p->left = strtoll(l, &end, 16);
            if (end == l || p->left < 0) {
                free(l);
                return MOCK_H1_ERROR;
            }
            free(l);
            p->state = p->left > 0 ? S_CDATA : S_TRAILER;
            break;
        }
        case S_CDATA:
            take(in, body, p);
            if (p->left > 0)
                return MOCK_H1_MORE;
            p->state = S_CEND;
            break;
        case S_CEND:
            if ((l = line(in, &err)) == NULL)
                return err ? MOCK_H1_ERROR : MOCK_H1_MORE;
            free(l);
            p->state = S_CSIZE;
            break;
        case S_TRAILER:
            if ((l = line(in, &err)) == NULL)
                return err ? MOCK_H1_ERROR : MOCK_H1_MORE;
            if (*l == '\0')
                p->state = S_DONE;
            free(l);
            break;
        case S_CLOSE:
            evbuffer_add_buffer(body, in);
            return MOCK_H1_MORE;
        default:
            return MOCK_H1_DONE;
        }
    }
}

bool mock_h1resp_eof_ok(const mock_h1resp_t *p)
{
    return p->state == S_CLOSE || p->state == S_DONE;
}

void mock_h1resp_free(mock_h1resp_t *p)
{
    for (int i = 0; i < p->nhdr; i++) {
        free(p->names[i]);
        free(p->values[i]);
    }
    p->nhdr = 0;
}
