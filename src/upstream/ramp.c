/* ramp.c - the HTTP/2 connection ramp (multi_int.h; the why is at
 * ramp_host_t): transfers held outside curl so that a burst to one host
 * opens the connections its streams need and no more. */
#include "upstream/multi_int.h"

#include <string.h>

static void ramp_unlink(call_t *c)
{
    ramp_host_t *h = c->host;
    if (c->qprev)
        c->qprev->qnext = c->qnext;
    else
        h->head = c->qnext;
    if (c->qnext)
        c->qnext->qprev = c->qprev;
    else
        h->tail = c->qprev;
    c->qprev = c->qnext = NULL;
    c->held = false;
    h->held--;
}

static int ramp_streams(const shard_t *l)
{
    return l->max_streams > 0 ? l->max_streams : 1;
}

/* Whether one more of h's transfers may go into the multi now. */
static bool ramp_open(const shard_t *l, const ramp_host_t *h)
{
    if (h->http1)
        return true;
    int cap = ramp_streams(l);
    int want = (h->waiting + h->held + cap - 1) / cap;
    return h->waiting < (want > 0 ? want : 1);
}

/* A transfer of c's host stopped waiting for its connection (it has one,
 * or it ended): held ones may go in, from the shard's release event. */
static void ramp_left(call_t *c)
{
    ramp_host_t *h = c->host;
    h->waiting--;
    if (h->held > 0)
        event_active(&c->shard->release, EV_TIMEOUT, 1);
}

/* The ramp of url's host in l, made at first use; NULL when the URL's
 * host part is too long or l has RAMP_HOSTS_MAX hosts already. */
ramp_host_t *lx_up_ramp_host(shard_t *l, const char *url)
{
    const char *sep = strstr(url, "://");
    if (sep == NULL)
        return NULL;
    size_t n = (size_t)(strchrnul(sep + 3, '/') - url);
    if (n >= RAMP_KEY_MAX)
        return NULL;
    for (int i = 0; i < l->nhosts; i++)
        if (strncmp(l->hosts[i].key, url, n) == 0 && l->hosts[i].key[n] == '\0')
            return &l->hosts[i];
    if (l->nhosts == RAMP_HOSTS_MAX)
        return NULL;
    if (l->hosts == NULL)
        l->hosts = lx_calloc(RAMP_HOSTS_MAX, sizeof *l->hosts);
    ramp_host_t *h = &l->hosts[l->nhosts++];
    memcpy(h->key, url, n);
    h->key[n] = '\0';
    return h;
}

int lx_up_ramp_prereq(void *clientp, char *primary_ip, char *local_ip, int primary_port,
                      int local_port)
{
    call_t *c = clientp;
    ramp_host_t *h = c->host;
    if (h && !c->on_conn) {
        if (h->first_port == 0 || h->first_inflight == 0)
            h->first_port = local_port;
        else if (local_port == h->first_port)
            h->mux_seen = true; /* a second transfer on the first connection */
        else if (!h->mux_seen)
            lx_up_ramp_http1(c); /* a new connection while the first is busy */
        if (local_port == h->first_port)
            h->first_inflight++;
        c->port = local_port;
        c->on_conn = true;
        ramp_left(c);
    }
    return CURL_PREREQFUNC_OK;
}

void lx_up_ramp_http1(call_t *c)
{
    ramp_host_t *h = c->host;
    if (h == NULL || h->http1)
        return;
    h->http1 = true;
    if (h->held > 0)
        event_active(&c->shard->release, EV_TIMEOUT, 1);
}

/* Adds held calls of every host of l while their ramp allows. */
void lx_up_ramp_release(evutil_socket_t fd, short what, void *arg)
{
    shard_t *l = arg;
    for (int i = 0; i < l->nhosts; i++) {
        ramp_host_t *h = &l->hosts[i];
        while (h->head && ramp_open(l, h)) {
            call_t *c = h->head;
            ramp_unlink(c);
            if (curl_multi_add_handle(l->multi, c->easy) != CURLM_OK) {
                c->host = NULL;
                lx_up_finish(c, CURLE_FAILED_INIT);
                continue;
            }
            c->in_multi = true;
            h->waiting++;
        }
    }
}

bool lx_up_ramp_hold(call_t *c)
{
    ramp_host_t *rh = c->host;
    if (rh == NULL || (rh->held == 0 && ramp_open(c->shard, rh)))
        return false;
    c->held = true; /* in line for a connection */
    c->qprev = rh->tail;
    if (rh->tail)
        rh->tail->qnext = c;
    else
        rh->head = c;
    rh->tail = c;
    rh->held++;
    if (ramp_open(c->shard, rh))
        event_active(&c->shard->release, EV_TIMEOUT, 1);
    return true;
}

void lx_up_ramp_forget(call_t *c)
{
    if (c->host && c->port != 0 && c->port == c->host->first_port)
        c->host->first_inflight--;
    if (c->held)
        ramp_unlink(c);
    else if (c->host && c->in_multi && !c->on_conn)
        ramp_left(c);
}
