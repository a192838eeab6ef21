/* sub.c - progress subscriptions: the task's row read every interval on
 * the subscriber's loop, a callback on each change of status or progress
 * (task.h). Reading the row rather than listening for notifications makes
 * a subscriber on one instance see what another instance writes, with no
 * connection of its own. */
#include "task/task.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>

#define MAX_DB_ERRORS 40 /* x interval: how long a database outage is waited out */

struct lx_task_sub {
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
};

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
    if (!s->done)
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
    event_active(s->timer, EV_TIMEOUT, 0);
    return s;
}

void lx_task_unsubscribe(lx_task_sub_t *s)
{
    if (s == NULL)
        return;
    event_free(s->timer);
    s->timer = NULL;
    s->dead = true;
    if (!s->in_flight && !s->busy) /* else freed by the answer, or after the callback */
        free(s);
}
