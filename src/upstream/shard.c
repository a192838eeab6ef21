/* shard.c - a lane's curl multis ("shards", multi_int.h): made when every
 * shard is full, each driven by the worker's loop through its own timer,
 * and the rule that picks one for a new transfer (shard.h). Shards beyond a
 * lane's first are kept while transfers run and freed when the worker goes
 * quiet (lx_up_shards_reset from lx_upstream_trim): the next burst makes
 * them again, at the cost of one curl_multi_init each. */
#include "upstream/multi_int.h"
#include "upstream/shard.h"

#include <stdlib.h>

/* Idle connections curl keeps beyond the transfers, on every shard. The
 * shards a burst makes kept 32 once, so that a new transfer of theirs
 * walked few idle ones; but 10,000 streams that end and start again in one
 * burst then closed and reopened about half of their connections (each a
 * connect(), whose ephemeral-port search is itself O(ports in use) in the
 * kernel, and one more loop turn before the request goes out), for a walk
 * of at most 512 connections saved. */
#define IDLE_CONNS_MAX 256L

/* HTTP/2 transfers a shard starts before it takes no new one. curl 7.88
 * ends every HTTP/2 stream with an RST_STREAM, even one the server closed
 * (http2_handle_stream_close clears stream->closed, so http2_data_done
 * resets the stream), and since the rapid-reset attacks of 2023
 * (CVE-2023-44487) servers count the resets a connection sends: nghttp2
 * allows a burst of 1,000 and 33 a second after it, then ends the
 * connection with a GOAWAY, and every stream on it breaks. A retired
 * shard's transfers run to their end while new ones go to another shard,
 * with connections of its own; when the last one ends, the shard gets a
 * fresh multi (its connections close) and takes transfers again. A lane
 * with a connection cap keeps its one shard (the cap holds on one multi). */
#define LX_UP_H2_SHARD_STREAMS 800

int lx_up_shard_pick(const lx_up_shard_load_t *load, int n, int cap, int max)
{
    int idle = -1, room = -1, least = 0;
    for (int i = 0; i < n; i++) {
        const lx_up_shard_load_t *s = &load[i];
        if (s->active < load[least].active)
            least = i;
        if (s->active >= cap)
            continue;
        if (s->idle > 0 && (idle < 0 || s->active < load[idle].active))
            idle = i;
        if (room < 0 || s->active < load[room].active)
            room = i;
    }
    if (idle >= 0)
        return idle;
    if (room >= 0)
        return room;
    return n < max ? n : least;
}

bool lx_up_h1_room(const lx_up_h1_load_t *l, bool stream, int cap, int stream_cap)
{
    return l->running < cap && (!stream || l->streams < stream_cap) &&
           l->setup < l->idle + LX_UP_H1_SETUP_MAX;
}

/* curl's MAXCONNECTS caps every connection in its cache, busy ones too: at
 * more concurrent transfers than that, each finished transfer closed one
 * (after a walk over all of them) and the next one connected again. What we
 * mean to cap is the idle ones, so the limit follows the transfers. */
void lx_up_shard_limit(shard_t *s)
{
    curl_multi_setopt(s->multi, CURLMOPT_MAXCONNECTS, (long)s->active + IDLE_CONNS_MAX);
    if (s->retired && s->active == 0)
        event_active(&s->recycle, EV_TIMEOUT, 1); /* not from inside curl */
}

void lx_up_shard_h2_started(shard_t *s)
{
    if (++s->h2_started >= LX_UP_H2_SHARD_STREAMS && s->lane->max_conns == 0)
        s->retired = true;
}

static void timer_event_cb(evutil_socket_t fd, short what, void *arg)
{
    shard_t *s = arg;
    int running;
    curl_multi_socket_action(s->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    lx_up_check_done(s);
}

static void kick_cb(evutil_socket_t fd, short what, void *arg)
{
    shard_t *s = arg;
    s->in_kick = true;
    timer_event_cb(fd, what, arg);
    s->in_kick = false;
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    shard_t *s = userp;
    if (timeout_ms < 0) {
        evtimer_del(&s->timer);
    } else if (timeout_ms == 0 && !s->in_kick) {
        /* "Now" (a new transfer): run it later in this loop pass, without a
         * timer and the epoll_wait(0) it costs. From inside a kick the timer
         * takes over, so that a curl that keeps asking cannot starve I/O. */
        evtimer_del(&s->timer);
        event_active(&s->kick, EV_TIMEOUT, 1);
    } else {
        struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
        evtimer_add(&s->timer, &tv);
    }
    return 0;
}

/* HTTP/2 lanes: transfers to one host share a connection
 * (CURLPIPE_MULTIPLEX), at most max_streams at a time on each; max_conns
 * caps the connections to one host (a transfer beyond waits in curl for a
 * free one). */
static CURLM *multi_new(shard_t *s)
{
    CURLM *m = curl_multi_init();
    if (m == NULL)
        return NULL;
    curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, lx_up_socket_cb);
    curl_multi_setopt(m, CURLMOPT_SOCKETDATA, s);
    curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(m, CURLMOPT_TIMERDATA, s);
    curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, (long)s->active + IDLE_CONNS_MAX);
    curl_multi_setopt(m, CURLMOPT_PIPELINING,
                      s->lane->h2 ? (long)CURLPIPE_MULTIPLEX : (long)CURLPIPE_NOTHING);
    curl_multi_setopt(m, CURLMOPT_MAX_CONCURRENT_STREAMS, (long)s->max_streams);
    curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, (long)s->max_conns);
    return m;
}

/* Gives s a new multi, closing the old one's connections; false if curl
 * cannot make one (s keeps its multi). */
static bool shard_fresh_multi(shard_t *s)
{
    CURLM *fresh = multi_new(s);
    if (fresh == NULL)
        return false;
    curl_multi_cleanup(s->multi); /* closes its connections: close_socket_cb */
    s->multi = fresh;
    evtimer_del(&s->timer);
    return true;
}

static void recycle_cb(evutil_socket_t fd, short what, void *arg)
{
    shard_t *s = arg;
    (void)fd;
    (void)what;
    if (s->retired && s->active == 0 && shard_fresh_multi(s)) {
        s->retired = false;
        s->h2_started = 0;
    }
}

static shard_t *shard_new(lx_upstream_t *u, lane_t *l)
{
    shard_t *s = lx_calloc(1, sizeof *s);
    *s = (shard_t){.u = u, .lane = l, .max_conns = l->max_conns, .max_streams = l->max_streams};
    s->multi = multi_new(s);
    if (s->multi == NULL) {
        free(s);
        return NULL;
    }
    evtimer_assign(&s->timer, u->base, timer_event_cb, s);
    event_assign(&s->kick, u->base, -1, 0, kick_cb, s);
    event_assign(&s->release, u->base, -1, 0, lx_up_ramp_release, s);
    event_assign(&s->recycle, u->base, -1, 0, recycle_cb, s);
    return s;
}

/* Only with no transfer on it: its idle connections close (close_socket_cb
 * drops their watches). */
static void shard_free(shard_t *s)
{
    evtimer_del(&s->timer);
    event_del(&s->kick);
    event_del(&s->release);
    event_del(&s->recycle);
    free(s->hosts);
    curl_multi_cleanup(s->multi);
    lx_up_watch_forget(s->u, s);
    free(s);
}

static bool lane_init(lx_upstream_t *u, lane_t *l, int max_conns, int max_streams, bool h2)
{
    *l = (lane_t){.max_conns = max_conns, .max_streams = max_streams, .h2 = h2};
    l->shards[0] = shard_new(u, l);
    if (l->shards[0] == NULL)
        return false;
    l->nshards = 1;
    return true;
}

int lx_up_lanes_init(lx_upstream_t *u)
{
    for (int h2 = 0; h2 <= 1; h2++) {
        if (!lane_init(u, &u->lanes[h2], 0, LX_TRANSPORT_STREAMS_DEFAULT, h2))
            return LX_ERROR;
        u->nlanes++;
    }
    return LX_OK;
}

lane_t *lx_up_lane_for(lx_upstream_t *u, const lx_transport_t *t, bool h2)
{
    int conns = t ? t->max_connections : 0;
    int streams = t && t->max_streams > 0 ? t->max_streams : LX_TRANSPORT_STREAMS_DEFAULT;
    for (int i = 0; i < u->nlanes; i++)
        if (u->lanes[i].max_conns == conns && u->lanes[i].max_streams == streams &&
            u->lanes[i].h2 == h2)
            return &u->lanes[i];
    if (u->nlanes < LX_UP_LANES_MAX && lane_init(u, &u->lanes[u->nlanes], conns, streams, h2))
        return &u->lanes[u->nlanes++];
    return &u->lanes[h2 ? 1 : 0];
}

shard_t *lx_up_shard_for(lane_t *l)
{
    if (l->nshards == 1 && !l->shards[0]->retired &&
        (l->max_conns > 0 || l->shards[0]->active < LX_UP_SHARD_TRANSFERS))
        return l->shards[0]; /* the common case, without the walk */
    lx_up_shard_load_t load[LX_UP_SHARDS_MAX];
    for (int i = 0; i < l->nshards; i++) /* a retired shard counts as full */
        load[i] = l->shards[i]->retired
                      ? (lx_up_shard_load_t){LX_UP_SHARD_TRANSFERS, 0}
                      : (lx_up_shard_load_t){l->shards[i]->active, l->shards[i]->nparked};
    int max = l->max_conns > 0 ? 1 : LX_UP_SHARDS_MAX;
    int i = lx_up_shard_pick(load, l->nshards, LX_UP_SHARD_TRANSFERS, max);
    if (i == l->nshards) {
        shard_t *s = shard_new(l->shards[0]->u, l);
        if (s == NULL)
            return l->shards[0];
        l->shards[l->nshards++] = s;
    }
    return l->shards[i];
}

void lx_up_shards_reset(lx_upstream_t *u, int keep_idle)
{
    for (int i = 0; i < u->nlanes; i++) {
        lane_t *l = &u->lanes[i];
        while (l->nshards > 1)
            shard_free(l->shards[--l->nshards]);
    }
    if (u->nparked <= keep_idle)
        return;
    for (int i = 0; i < u->nlanes; i++)
        shard_fresh_multi(u->lanes[i].shards[0]);
}

void lx_up_lanes_free(lx_upstream_t *u)
{
    for (int i = 0; i < u->nlanes; i++) {
        lane_t *l = &u->lanes[i];
        while (l->nshards > 0)
            shard_free(l->shards[--l->nshards]);
    }
}
