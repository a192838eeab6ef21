/* shard.h - which curl multi ("shard") of a lane a new transfer goes on,
 * and whether an http2 "auto" transfer goes on HTTP/1.1: pure rules,
 * without curl, so that they can be tested alone (multi_int.h and multi.c
 * have the why). */
#ifndef LX_UPSTREAM_SHARD_H
#define LX_UPSTREAM_SHARD_H

#include <stdbool.h>

/* Transfers a shard takes before a new one goes elsewhere. Over HTTP/1.1
 * that is up to 256 busy connections a new transfer of the shard walks
 * past (~24,000 instructions; 10,000 in one multi: ~929,000); over HTTP/2
 * a few connections' worth at the default 100 streams a connection. */
#define LX_UP_SHARD_TRANSFERS 256

typedef struct {
    int active; /* transfers on the shard */
    int idle;   /* idle connections in its cache */
} lx_up_shard_load_t;

/* The index of the shard a new transfer goes on, among the n (>= 1) of
 * load, each taking at most cap transfers, with at most max shards:
 * - a shard with room and an idle connection (keep-alive reuse), the one
 *   with the fewest transfers (ties: the lowest index);
 * - else a shard with room, the one with the fewest transfers (ties: the
 *   lowest index);
 * - else n (make a new shard) while n < max;
 * - else the shard with the fewest transfers. */
int lx_up_shard_pick(const lx_up_shard_load_t *load, int n, int cap, int max);

/* HTTP/1.1 connections over TLS a lane sets up at once beyond its idle
 * ones, under http2 "auto" (multi.c's lane_for has the why). */
#define LX_UP_H1_SETUP_MAX 8

/* A lane's HTTP/1.1 transfers over TLS: running, of them streams, of them
 * still waiting for a connection (setup), and the lane's idle connections. */
typedef struct {
    int running, streams, setup, idle;
} lx_up_h1_load_t;

/* Whether an "auto" transfer over TLS (a stream or not) may go on HTTP/1.1
 * (else HTTP/2): fewer than cap running, fewer than stream_cap streams if
 * it is one, and fewer waiting for a connection than the idle ones plus
 * LX_UP_H1_SETUP_MAX. */
bool lx_up_h1_room(const lx_up_h1_load_t *l, bool stream, int cap, int stream_cap);

#endif
