/* sub.c - progress subscriptions: a callback on each change of a task's
 * status or progress (task.h), on the subscriber's loop. Each change of the
 * row is announced by Postgres (NOTIFY llmux_task, '<public id>', from the
 * trigger of sql/018, whichever instance wrote it); a worker's events hub
 * LISTENs on the worker's own connection from its first subscription on and
 * wakes the subscribers of that id, which re-read the row at once. The row
 * is also read every interval (the safety net for notifications lost while
 * the connection was down); without a hub that is the only way. */
#include "db/pg.h"
#include "task/task.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>

#define HUB_BUCKETS 256

#define MAX_DB_ERRORS 40 /* x interval: how long a database outage is waited out */

struct lx_task_events {
    lx_pg_t *pg;
    bool listening;
    lx_task_sub_t *bucket[HUB_BUCKETS];
};

struct lx_task_sub {
    lx_task_sub_t *hprev, *hnext; /* in the hub's bucket */
    lx_task_events_t *hub;        /* NULL: no hub, or unlinked */
    struct event_base *base;
    lx_pg_t *pg;
    char id[LX_TASK_ID_MAX];
    lx_task_caller_t who;
    int interval_ms;
    lx_task_cb cb;
    void *arg;
    struct event *timer;
    char status[16];
    int progress;
    int errors;
    bool in_flight, busy, dead, done;
    bool again; /* woken while a read was in flight: read again after it */
};

static unsigned hash_id(const char *id)
{
    unsigned h = 2166136261u;
    for (; *id; id++)
        h = (h ^ (unsigned char)*id) * 16777619u;
    return h % HUB_BUCKETS;
}

static void hub_unlink(lx_task_sub_t *s)
{
    lx_task_events_t *hub = s->hub;
    if (hub == NULL)
        return;
    if (s->hprev)
        s->hprev->hnext = s->hnext;
    else
        hub->bucket[hash_id(s->id)] = s->hnext;
    if (s->hnext)
        s->hnext->hprev = s->hprev;
    s->hub = NULL;
}

static void on_notify(const char *payload, void *arg)
{
    lx_task_events_t *hub = arg;
    for (lx_task_sub_t *s = hub->bucket[hash_id(payload)]; s; s = s->hnext) {
        if (s->done || strcmp(s->id, payload) != 0)
            continue;
        if (s->in_flight) {
            s->again = true;
        } else {
            evtimer_del(s->timer);
            event_active(s->timer, EV_TIMEOUT, 0); /* read it now, off pg's callback */
        }
    }
}

lx_task_events_t *lx_task_events_new(lx_pg_t *pg)
{
    lx_task_events_t *hub = calloc(1, sizeof *hub);
    if (hub)
        hub->pg = pg;
    return hub;
}

void lx_task_events_free(lx_task_events_t *hub)
{
    if (hub == NULL)
        return;
    for (int i = 0; i < HUB_BUCKETS; i++)
        while (hub->bucket[i])
            hub_unlink(hub->bucket[i]);
    if (hub->listening)
        lx_pg_listen_stop(hub->pg);
    free(hub);
}

static void arm(lx_task_sub_t *s)
{
    struct timeval tv = {s->interval_ms / 1000, (s->interval_ms % 1000) * 1000};
    evtimer_add(s->timer, &tv);
}

/* Calls the subscriber; true if it unsubscribed (s is freed then). */
static bool notify(lx_task_sub_t *s, json_t *task, lx_err_t err)
{
    s->busy = true;
    s->cb(task, err, s->arg);
    s->busy = false;
    if (s->dead) {
        free(s);
        return true;
    }
    return false;
}

static void got(json_t *task, lx_err_t err, void *arg)
{
    lx_task_sub_t *s = arg;
    s->in_flight = false;
    if (s->dead) {
        json_decref(task);
        free(s);
        return;
    }
    if (err == LX_E_UNAVAILABLE && ++s->errors < MAX_DB_ERRORS) {
        arm(s);
        return;
    }
    if (err != LX_E_NONE) {
        s->done = true;
        notify(s, NULL, err);
        return;
    }
    s->errors = 0;
    const char *st = json_string_value(json_object_get(task, "status"));
    int progress = (int)json_integer_value(json_object_get(task, "progress"));
    bool again = s->again;
    s->again = false;
    if (st && (strcmp(st, s->status) != 0 || progress != s->progress)) {
        snprintf(s->status, sizeof s->status, "%s", st);
        s->progress = progress;
        s->done = lx_task_status_terminal(lx_task_status_parse(st));
        bool gone = notify(s, task, LX_E_NONE);
        json_decref(task);
        if (gone)
            return;
    } else {
        json_decref(task);
    }
    if (s->done)
        hub_unlink(s);
    else if (again)
        event_active(s->timer, EV_TIMEOUT, 0);
    else
        arm(s);
}

static void tick(evutil_socket_t fd, short ev, void *arg)
{
    lx_task_sub_t *s = arg;
    if (s->in_flight || s->done)
        return;
    if (lx_task_get(s->pg, s->id, &s->who, got, s) == LX_OK)
        s->in_flight = true;
    else
        arm(s);
}

lx_task_sub_t *lx_task_subscribe(struct event_base *base, lx_pg_t *pg, const char *public_id,
                                 const lx_task_caller_t *who, int interval_ms, lx_task_cb cb,
                                 void *arg)
{
    return lx_task_subscribe_events(base, pg, NULL, public_id, who, interval_ms, cb, arg);
}

lx_task_sub_t *lx_task_subscribe_events(struct event_base *base, lx_pg_t *pg, lx_task_events_t *hub,
                                        const char *public_id, const lx_task_caller_t *who,
                                        int interval_ms, lx_task_cb cb, void *arg)
{
    lx_task_sub_t *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    *s = (lx_task_sub_t){.base = base,
                         .pg = pg,
                         .who = *who,
                         .cb = cb,
                         .arg = arg,
                         .interval_ms = interval_ms > 0 ? interval_ms : 250,
                         .progress = -1};
    snprintf(s->id, sizeof s->id, "%s", public_id);
    s->timer = evtimer_new(base, tick, s);
    if (s->timer == NULL) {
        free(s);
        return NULL;
    }
    if (hub) {
        if (!hub->listening && lx_pg_listen(hub->pg, "llmux_task", on_notify, hub) == LX_OK)
            hub->listening = true;
        unsigned b = hash_id(s->id);
        s->hub = hub;
        s->hnext = hub->bucket[b];
        if (s->hnext)
            s->hnext->hprev = s;
        hub->bucket[b] = s;
    }
    /* The first read is queued after the LISTEN: no change is missed. */
    event_active(s->timer, EV_TIMEOUT, 0);
    return s;
}

void lx_task_unsubscribe(lx_task_sub_t *s)
{
    if (s == NULL)
        return;
    hub_unlink(s);
    event_free(s->timer);
    s->timer = NULL;
    s->dead = true;
    if (!s->in_flight && !s->busy) /* else freed by the answer, or after the callback */
        free(s);
}
