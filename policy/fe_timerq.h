/**
 * @file fe_timerq.h
 * @brief Timed callbacks waiting to fall due: a binary min-heap.
 *
 * Ordered by (when, seq): equal times keep insertion order, so callbacks
 * registered for the same instant run in the order they were registered.
 *
 * Pure component: APR only, no clock reads, no locking (callers hold the
 * timer mutex).  The heap array grows with realloc() and is freed by a
 * pool cleanup.
 */
#ifndef FE_TIMERQ_H
#define FE_TIMERQ_H

#include <apr_pools.h>
#include <apr_time.h>
#include "fdqueue/fe_fdqueue.h"

/** Returned by fe_timerq_next() when no timer is pending. */
#define FE_TIMERQ_NEVER ((apr_time_t)APR_INT64_MAX)

typedef void fe_timer_fn(void *baton);

/** One timed callback; the caller owns the memory. */
typedef struct fe_timer {
    apr_time_t when;          /**< due time */
    apr_uint64_t seq;         /**< insertion order, set by push */
    fe_timer_fn *fn;
    void *baton;
    fe_qnode_t qnode;         /**< for the worker queue's urgent lane */
} fe_timer_t;

typedef struct fe_timerq {
    fe_timer_t **heap;
    apr_size_t n;
    apr_size_t cap;
    apr_uint64_t seq;
} fe_timerq_t;

/** Initialise an empty heap; its array is freed when @a p is cleared. */
void fe_timerq_init(fe_timerq_t *q, apr_pool_t *p);

/**
 * Add @a t (its when, fn and baton set).
 * @return APR_SUCCESS, or APR_ENOMEM when the array cannot grow.
 */
apr_status_t fe_timerq_push(fe_timerq_t *q, fe_timer_t *t);

/** The earliest due time, or FE_TIMERQ_NEVER when empty. */
apr_time_t fe_timerq_next(const fe_timerq_t *q);

/** Remove and return the earliest timer if it is due at @a now (when <=
 * now), else NULL. */
fe_timer_t *fe_timerq_pop_due(fe_timerq_t *q, apr_time_t now);

#endif /* FE_TIMERQ_H */
