/**
 * @file fe_deadline.h
 * @brief The header deadline of a new connection: how long the listener
 *        waits for its request head, as mod_reqtimeout would allow it.
 *
 * With mod_reqtimeout loaded, the deadline follows its "header=" stage
 * (RequestReadTimeout header=timeout[-maxtimeout][,MinRate=rate], default
 * header=20-40,MinRate=500): timeout seconds from the start, one more
 * second for every rate bytes received, at most maxtimeout; header=0 turns
 * it off.  Without it, or turned off, the core's Timeout applies.
 *
 * Pure component: APR only, no httpd headers, no clock (times are
 * parameters).
 */
#ifndef FE_DEADLINE_H
#define FE_DEADLINE_H

#include <apr.h>
#include <apr_pools.h>
#include <apr_time.h>

/** mod_reqtimeout's default header stage (2.4.39 and later). */
#define FE_DEADLINE_RT_TIMEOUT  20
#define FE_DEADLINE_RT_MAX      40
#define FE_DEADLINE_RT_MIN_RATE 500
/** ... and its default body stage: 20 s, MinRate 500, no cap. */
#define FE_DEADLINE_RT_BODY     20

/** A MinRate without a maximum: extensions up to this (11.6 days). */
#define FE_DEADLINE_NO_MAX apr_time_from_sec(1000000)

typedef struct fe_deadline {
    apr_interval_time_t timeout;  /**< from the start, > 0 */
    apr_interval_time_t max;      /**< cap of the extensions; == timeout:
                                       no extension */
    apr_interval_time_t per_byte; /**< extension per byte received, in
                                       microseconds x 2^-10 (0: none) */
} fe_deadline_t;

/** A fixed deadline of @a timeout (the core's Timeout). */
void fe_deadline_fixed(fe_deadline_t *d, apr_interval_time_t timeout);

/** mod_reqtimeout's default header stage. */
void fe_deadline_reqtimeout_default(fe_deadline_t *d);

/** mod_reqtimeout's default body stage. */
void fe_deadline_reqtimeout_body(fe_deadline_t *d);

/**
 * Read the stage @a stage ("header" or "body") out of the arguments of
 * one RequestReadTimeout directive (e.g. "header=20-40,MinRate=500
 * body=20").  Stages it does not name leave @a d as it is.  Sets *@a off
 * to 1 when it says stage=0 (no limit), to 0 when it sets one.  A MinRate
 * without a maximum extends without a cap, as in mod_reqtimeout.
 * @return NULL, or an error message (from @a p) naming what is wrong; @a d
 *         is unchanged then.
 */
const char *fe_deadline_parse(const char *args, const char *stage,
                              fe_deadline_t *d, int *off, apr_pool_t *p);

/**
 * When a connection that started at @a start and has sent @a bytes so far
 * runs out of time: start + timeout + the extension for @a bytes, capped at
 * start + max.  Never overflows.
 */
apr_time_t fe_deadline_at(const fe_deadline_t *d, apr_time_t start,
                          apr_size_t bytes);

/** Where a request being read without a worker stands. */
typedef struct fe_intake_clock {
    apr_time_t accepted;      /**< the connection's start */
    apr_size_t bytes;         /**< all bytes of the request so far */
    apr_size_t head_end;      /**< bytes of its head; 0 while incomplete */
    apr_time_t head_done;     /**< when the head was complete */
    apr_time_t last_read;     /**< when bytes last came */
} fe_intake_clock_t;

/**
 * When a request being read without a worker runs out of time: while its
 * head is incomplete, the header deadline @a head from accept with the
 * bytes so far; then the body's: @a body from the head's completion with
 * the body bytes so far (mod_reqtimeout's body stage), or, with
 * @a body_idle, @a body's timeout after the last read (the core's
 * Timeout between two reads).
 */
apr_time_t fe_intake_due(const fe_deadline_t *head, const fe_deadline_t *body,
                         int body_idle, const fe_intake_clock_t *ic);

#endif /* FE_DEADLINE_H */
