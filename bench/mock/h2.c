/* h2.c - HTTP/2 sessions on TLS connections (see h2.h). */
#include "h2.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <nghttp2/nghttp2.h>

#include "h1resp.h"
#include "stats.h"

#define OUT_HIGH  (1024 * 1024) /* stop producing frames while the TLS output holds this */
#define BODY_HIGH (256 * 1024)  /* stop reading a stream's inner connection above this */
#define BODY_LOW  (64 * 1024)

typedef struct h2_stream h2_stream_t;

struct mock_h2 {
    mock_tconn_t *c;
    nghttp2_session *s;
    h2_stream_t *streams; /* every open stream (freed by on_stream_close or mock_h2_free) */
    long open;
    unsigned requests, max_requests; /* streams begun; GOAWAY at max_requests */
    bool dying;                      /* mock_h2_free: stream closes are not ours to handle */
};

struct h2_stream {
    mock_h2_t *h;
    int32_t id;
    h2_stream_t *prev, *next;
    struct evbuffer *req;  /* the HTTP/1.1 request head being built */
    struct evbuffer *body; /* the request body, then the reply body to send */
    char *method, *path, *authority;
    struct bufferevent *inner;
    mock_h1resp_t resp;
    bool answered; /* response HEADERS submitted */
    bool eof;      /* the reply body is complete */
    bool deferred; /* the data source said DEFERRED */
    bool broken;   /* the reply was cut: reset the stream once the rest is sent */
};

static void flush(mock_h2_t *h);

static void stream_free(h2_stream_t *st)
{
    mock_h2_t *h = st->h;

    if (st->prev != NULL)
        st->prev->next = st->next;
    else
        h->streams = st->next;
    if (st->next != NULL)
        st->next->prev = st->prev;
    if (st->inner != NULL)
        bufferevent_free(st->inner);
    evbuffer_free(st->req);
    evbuffer_free(st->body);
    free(st->method);
    free(st->path);
    free(st->authority);
    mock_h1resp_free(&st->resp);
    h->open--;
    free(st);
}

static ssize_t on_send(nghttp2_session *s, const uint8_t *data, size_t len, int flags, void *arg)
{
    mock_h2_t *h = arg;
    struct evbuffer *out = bufferevent_get_output(h->c->bev);

    (void)s;
    (void)flags;
    if (evbuffer_get_length(out) > OUT_HIGH)
        return NGHTTP2_ERR_WOULDBLOCK; /* resumed by on_write */
    if (evbuffer_add(out, data, len) != 0)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    return (ssize_t)len;
}

static ssize_t on_read_body(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len,
                            uint32_t *flags, nghttp2_data_source *src, void *arg)
{
    h2_stream_t *st = src->ptr;
    size_t have = evbuffer_get_length(st->body);
    int n;

    (void)s;
    (void)id;
    (void)arg;
    if (have == 0 && st->broken)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* nghttp2 resets the stream */
    if (have == 0 && !st->eof) {
        st->deferred = true;
        return NGHTTP2_ERR_DEFERRED;
    }
    n = evbuffer_remove(st->body, buf, len);
    if (n < 0)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    if (st->eof && !st->broken && evbuffer_get_length(st->body) == 0)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    if (st->inner != NULL && evbuffer_get_length(st->body) < BODY_LOW)
        bufferevent_enable(st->inner, EV_READ);
    return n;
}

static void resume(h2_stream_t *st)
{
    if (st->deferred) {
        st->deferred = false;
        nghttp2_session_resume_data(st->h->s, st->id);
    }
}

/* Hop-by-hop headers of HTTP/1.1 that HTTP/2 forbids. */
static bool hop_by_hop(const char *n)
{
    return strcasecmp(n, "connection") == 0 || strcasecmp(n, "keep-alive") == 0 ||
           strcasecmp(n, "transfer-encoding") == 0 || strcasecmp(n, "proxy-connection") == 0 ||
           strcasecmp(n, "upgrade") == 0 || strcasecmp(n, "te") == 0;
}

static void answer(h2_stream_t *st)
{
    mock_h1resp_t *p = &st->resp;
    nghttp2_nv nva[MOCK_H1_MAX_HDRS + 1];
    char status[4];
    size_t n = 0;
    nghttp2_data_provider dp = {.source = {.ptr = st}, .read_callback = on_read_body};

    st->answered = true;
    if (p->status < 200 || p->status > 999) { /* no such final status in HTTP/2 */
        nghttp2_submit_rst_stream(st->h->s, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_INTERNAL_ERROR);
        return;
    }
    snprintf(status, sizeof(status), "%d", p->status);
    nva[n++] = (nghttp2_nv){(uint8_t *)":status", (uint8_t *)status, 7, 3, NGHTTP2_NV_FLAG_NONE};
    for (int i = 0; i < p->nhdr; i++) {
        if (hop_by_hop(p->names[i]))
            continue;
        for (char *c = p->names[i]; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        nva[n++] = (nghttp2_nv){(uint8_t *)p->names[i], (uint8_t *)p->values[i],
                                strlen(p->names[i]), strlen(p->values[i]), NGHTTP2_NV_FLAG_NONE};
    }
    nghttp2_submit_response(st->h->s, st->id, nva, n, &dp);
}

/* A complete reply that leaves its connection open for the next request. */
static bool reusable(const mock_h1resp_t *p)
{
    if (p->until_close)
        return false;
    for (int i = 0; i < p->nhdr; i++)
        if (strcasecmp(p->names[i], "connection") == 0 && strcasestr(p->values[i], "close"))
            return false;
    return true;
}

/* The inner connection ended or broke: the reply is complete, or the stream
 * is reset (after what was received of the body, like a cut connection). */
static void inner_end(h2_stream_t *st, bool ok)
{
    if (ok && reusable(&st->resp))
        mock_inner_put(st->h->c->w, st->inner);
    else
        bufferevent_free(st->inner);
    st->inner = NULL;
    if (!ok && !st->answered) {
        nghttp2_submit_rst_stream(st->h->s, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_INTERNAL_ERROR);
        return;
    }
    st->eof = true;
    st->broken = !ok;
    resume(st);
}

/* Parses what the inner connection sent; ends the inner side on a complete
 * or a malformed reply. Returns true if the inner connection is still on. */
static bool inner_consume(h2_stream_t *st, struct bufferevent *bev)
{
    mock_h1_rc_t rc;
    size_t before = evbuffer_get_length(st->body);

    while ((rc = mock_h1resp_parse(&st->resp, bufferevent_get_input(bev), st->body)) ==
           MOCK_H1_HEADERS)
        answer(st);
    if (rc == MOCK_H1_DONE || rc == MOCK_H1_ERROR) {
        inner_end(st, rc == MOCK_H1_DONE);
        return false;
    }
    if (evbuffer_get_length(st->body) != before)
        resume(st);
    return true;
}

static void inner_read(struct bufferevent *bev, void *arg)
{
    h2_stream_t *st = arg;
    mock_h2_t *h = st->h;

    if (inner_consume(st, bev) && evbuffer_get_length(st->body) > BODY_HIGH)
        bufferevent_disable(bev, EV_READ); /* on_read_body enables it again */
    flush(h);                              /* last: it may close the stream (and free st) */
}

static void inner_event(struct bufferevent *bev, short what, void *arg)
{
    h2_stream_t *st = arg;
    mock_h2_t *h = st->h;

    if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
        return;
    /* What is still buffered first (a reply and the close in one read). */
    if (inner_consume(st, bev))
        inner_end(st, st->answered && mock_h1resp_eof_ok(&st->resp));
    flush(h);
}

/* The request is complete: send it as HTTP/1.1 on a new inner connection. */
static int dispatch(h2_stream_t *st)
{
    struct evbuffer *out;

    if (st->method == NULL || st->path == NULL)
        return -1;
    st->inner = mock_inner_get(st->h->c->w);
    if (st->inner == NULL)
        return -1;
    st->resp.head = strcmp(st->method, "HEAD") == 0;
    out = bufferevent_get_output(st->inner);
    evbuffer_add_printf(out, "%s %s HTTP/1.1\r\nHost: %s\r\n", st->method, st->path,
                        st->authority ? st->authority : "localhost");
    evbuffer_add_buffer(out, st->req);
    evbuffer_add_printf(out, "Content-Length: %zu\r\n\r\n", evbuffer_get_length(st->body));
    evbuffer_add_buffer(out, st->body);
    bufferevent_setcb(st->inner, inner_read, NULL, inner_event, st);
    bufferevent_enable(st->inner, EV_READ | EV_WRITE);
    return 0;
}

static int on_begin_headers(nghttp2_session *s, const nghttp2_frame *f, void *arg)
{
    mock_h2_t *h = arg;
    h2_stream_t *st;

    if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    st = calloc(1, sizeof(*st));
    if (st == NULL)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    st->h = h;
    st->id = f->hd.stream_id;
    st->req = evbuffer_new();
    st->body = evbuffer_new();
    st->next = h->streams;
    if (h->streams != NULL)
        h->streams->prev = st;
    h->streams = st;
    h->open++;
    mock_stat_add(MOCK_ST_H2_STREAMS, 1);
    mock_stat_max_streams(h->open);
    if (++h->requests == h->max_requests) {
        mock_stat_add(MOCK_ST_H2_GOAWAY, 1);
        nghttp2_submit_goaway(s, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_NO_ERROR, NULL, 0);
    }
    if (st->req == NULL || st->body == NULL)
        return NGHTTP2_ERR_CALLBACK_FAILURE; /* stream_free on close */
    nghttp2_session_set_stream_user_data(s, st->id, st);
    return 0;
}

static int on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *arg)
{
    h2_stream_t *st = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
    char **slot = NULL;

    (void)flags;
    (void)arg;
    if (st == NULL || f->hd.type != NGHTTP2_HEADERS)
        return 0;
    if (namelen == 7 && memcmp(name, ":method", 7) == 0)
        slot = &st->method;
    else if (namelen == 5 && memcmp(name, ":path", 5) == 0)
        slot = &st->path;
    else if (namelen == 10 && memcmp(name, ":authority", 10) == 0)
        slot = &st->authority;
    if (slot != NULL) {
        free(*slot);
        *slot = strndup((const char *)value, valuelen);
        return 0;
    }
    if (namelen > 0 && name[0] == ':')
        return 0; /* :scheme */
    if ((namelen == 4 && memcmp(name, "host", 4) == 0) ||
        (namelen == 14 && memcmp(name, "content-length", 14) == 0))
        return 0; /* dispatch writes its own */
    if (namelen == 6 && memcmp(name, "expect", 6) == 0)
        return 0; /* the body is all here: no 100 Continue (not a final status in h2) */
    evbuffer_add(st->req, name, namelen);
    evbuffer_add(st->req, ": ", 2);
    evbuffer_add(st->req, value, valuelen);
    evbuffer_add(st->req, "\r\n", 2);
    return 0;
}

static int on_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data, size_t len,
                   void *arg)
{
    h2_stream_t *st = nghttp2_session_get_stream_user_data(s, id);

    (void)flags;
    (void)arg;
    if (st != NULL && st->inner == NULL)
        evbuffer_add(st->body, data, len);
    return 0;
}

static int on_frame_recv(nghttp2_session *s, const nghttp2_frame *f, void *arg)
{
    h2_stream_t *st;

    (void)arg;
    if (f->hd.type == NGHTTP2_RST_STREAM)
        mock_stat_add(MOCK_ST_H2_RST_RECV, 1);
    if ((f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA) ||
        !(f->hd.flags & NGHTTP2_FLAG_END_STREAM))
        return 0;
    st = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
    if (st != NULL && st->inner == NULL && !st->answered && dispatch(st) != 0)
        nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_INTERNAL_ERROR);
    return 0;
}

static int on_stream_close(nghttp2_session *s, int32_t id, uint32_t code, void *arg)
{
    h2_stream_t *st = nghttp2_session_get_stream_user_data(s, id);

    (void)code;
    if (((mock_h2_t *)arg)->dying)
        return 0;
    if (st != NULL) {
        nghttp2_session_set_stream_user_data(s, id, NULL);
        stream_free(st); /* closes the inner connection: the mock sees the client leave */
    }
    return 0;
}

/* Writes what the session has to send; closes the connection when the
 * session is over. */
static void flush(mock_h2_t *h)
{
    mock_tconn_t *c = h->c;

    if (nghttp2_session_send(h->s) != 0) {
        mock_tconn_close(c);
        return;
    }
    if (!nghttp2_session_want_read(h->s) && !nghttp2_session_want_write(h->s))
        mock_tconn_close_flushed(c);
}

static void on_read(struct bufferevent *bev, void *arg)
{
    mock_h2_t *h = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    size_t len = evbuffer_get_length(in);
    ssize_t n = nghttp2_session_mem_recv(h->s, evbuffer_pullup(in, -1), len);

    if (n < 0) {
        mock_tconn_close(h->c);
        return;
    }
    evbuffer_drain(in, (size_t)n);
    flush(h);
}

static void on_write(struct bufferevent *bev, void *arg)
{
    mock_h2_t *h = arg;

    (void)bev;
    if (nghttp2_session_want_write(h->s))
        flush(h);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    mock_h2_t *h = arg;

    (void)bev;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
        mock_tconn_close(h->c);
}

/* A GOAWAY with an error is nghttp2 ending the session: a protocol error
 * of the client, or too many streams it reset (CVE-2023-44487's limit). */
static int on_frame_sent(nghttp2_session *s, const nghttp2_frame *f, void *arg)
{
    (void)s;
    (void)arg;
    if (f->hd.type == NGHTTP2_GOAWAY && f->goaway.error_code != NGHTTP2_NO_ERROR)
        mock_stat_add(MOCK_ST_H2_GOAWAY_ERR, 1);
    return 0;
}

int mock_h2_start(mock_tconn_t *c, unsigned max_streams, unsigned max_requests)
{
    nghttp2_session_callbacks *cbs;
    nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, max_streams}};
    mock_h2_t *h = calloc(1, sizeof(*h));
    int rc;

    if (h == NULL || nghttp2_session_callbacks_new(&cbs) != 0) {
        free(h);
        return -1;
    }
    nghttp2_session_callbacks_set_send_callback(cbs, on_send);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
    nghttp2_session_callbacks_set_on_frame_send_callback(cbs, on_frame_sent);
    rc = nghttp2_session_server_new(&h->s, cbs, h);
    nghttp2_session_callbacks_del(cbs);
    if (rc != 0) {
        free(h);
        return -1;
    }
    h->c = c;
    h->max_requests = max_requests;
    c->h2 = h;
    if (nghttp2_submit_settings(h->s, NGHTTP2_FLAG_NONE, iv, 1) != 0)
        return -1; /* the caller's mock_tconn_close frees h */
    bufferevent_setcb(c->bev, on_read, on_write, on_event, h);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
        on_read(c->bev, h); /* the preface came with the handshake's last flight */
    else
        flush(h);
    return 0;
}

void mock_h2_free(mock_h2_t *h)
{
    h->dying = true;
    nghttp2_session_del(h->s);
    while (h->streams != NULL)
        stream_free(h->streams);
    free(h);
}
