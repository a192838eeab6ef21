/* closer.c - final replies on connections taken over from evhtp.
 *
 * A 408/413/431/400 decided before the request was read must reach the client
 * even though we will not read the rest of what it sends. Closing a socket
 * with unread input makes the kernel send RST, which can destroy the reply in
 * flight, so we write the reply, shut down our side, and keep reading and
 * discarding briefly (nginx's lingering close: at most 7 s in all) before
 * freeing. The server owns every lingerer and frees the rest at shutdown. */
#include "http/internal.h"

#include <stdlib.h>
#include <sys/socket.h>

struct lingerer {
    struct lingerer *prev, *next;
    lx_http_server_t *srv;
    struct bufferevent *bev;
    struct event deadline; /* a client that keeps sending cannot keep us lingering */
};

static void linger_free(struct lingerer *l)
{
    l->srv->nlingering--;
    if (l->prev)
        l->prev->next = l->next;
    else
        l->srv->lingering = l->next;
    if (l->next)
        l->next->prev = l->prev;
    event_del(&l->deadline);
    bufferevent_free(l->bev);
    free(l);
}

static void discard_cb(struct bufferevent *bev, void *arg)
{
    struct evbuffer *in = bufferevent_get_input(bev);
    evbuffer_drain(in, evbuffer_get_length(in));
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
    linger_free(arg);
}

static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    linger_free(arg);
}

static void written_cb(struct bufferevent *bev, void *arg)
{
    struct lingerer *l = arg;
    shutdown(bufferevent_getfd(bev), SHUT_WR);
    struct timeval tv = {2, 0};
    bufferevent_set_timeouts(bev, &tv, NULL);
    bufferevent_setcb(bev, discard_cb, NULL, event_cb, l);
    bufferevent_setwatermark(bev, EV_READ, 0, 0);
    bufferevent_enable(bev, EV_READ);
}

void lx_closer_start(lx_http_server_t *srv, struct bufferevent *bev, struct evbuffer *response)
{
    if (srv->nlingering >= LX_MAX_LINGERING) {
        /* A flood of refused or broken connections must not hold a file
         * each for seconds: one try to send, then close. */
        evbuffer_write(response, bufferevent_getfd(bev));
        evbuffer_free(response);
        bufferevent_free(bev);
        return;
    }
    srv->nlingering++;
    struct lingerer *l = lx_calloc(1, sizeof *l);
    l->srv = srv;
    l->bev = bev;
    l->next = srv->lingering;
    if (srv->lingering)
        srv->lingering->prev = l;
    srv->lingering = l;
    struct timeval wtv = {5, 0};
    bufferevent_set_timeouts(bev, NULL, &wtv);
    struct timeval total = {7, 0};
    evtimer_assign(&l->deadline, srv->base, deadline_cb, l);
    evtimer_add(&l->deadline, &total);
    bufferevent_setcb(bev, NULL, written_cb, event_cb, l);
    bufferevent_write_buffer(bev, response);
    evbuffer_free(response);
    bufferevent_enable(bev, EV_WRITE);
}

void lx_closer_free_all(lx_http_server_t *srv)
{
    while (srv->lingering)
        linger_free(srv->lingering);
}
