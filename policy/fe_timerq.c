/*
 * fe_timerq.c: the min-heap of timed callbacks (see fe_timerq.h).
 *
 * Must not: read clocks, lock, or call the callbacks (workers do).
 */
#include <stdlib.h>
#include "policy/fe_timerq.h"

static apr_status_t fe_timerq_cleanup(void *data)
{
    fe_timerq_t *q = data;

    free(q->heap);
    q->heap = NULL;
    q->n = q->cap = 0;
    return APR_SUCCESS;
}

void fe_timerq_init(fe_timerq_t *q, apr_pool_t *p)
{
    q->heap = NULL;
    q->n = 0;
    q->cap = 0;
    q->seq = 0;
    apr_pool_cleanup_register(p, q, fe_timerq_cleanup,
                              apr_pool_cleanup_null);
}

static int fe_timer_before(const fe_timer_t *a, const fe_timer_t *b)
{
    return a->when < b->when || (a->when == b->when && a->seq < b->seq);
}

static void fe_sift_up(fe_timerq_t *q, apr_size_t i)
{
    fe_timer_t *t = q->heap[i];

    while (i > 0) {
        apr_size_t parent = (i - 1) / 2;

        if (!fe_timer_before(t, q->heap[parent])) {
            break;
        }
        q->heap[i] = q->heap[parent];
        i = parent;
    }
    q->heap[i] = t;
}

static void fe_sift_down(fe_timerq_t *q, apr_size_t i)
{
    fe_timer_t *t = q->heap[i];

    for (;;) {
        apr_size_t child = 2 * i + 1;

        if (child >= q->n) {
            break;
        }
        if (child + 1 < q->n
            && fe_timer_before(q->heap[child + 1], q->heap[child])) {
            child++;
        }
        if (!fe_timer_before(q->heap[child], t)) {
            break;
        }
        q->heap[i] = q->heap[child];
        i = child;
    }
    q->heap[i] = t;
}

apr_status_t fe_timerq_push(fe_timerq_t *q, fe_timer_t *t)
{
    if (q->n == q->cap) {
        apr_size_t cap = q->cap ? 2 * q->cap : 16;
        fe_timer_t **heap = realloc(q->heap, cap * sizeof *heap);

        if (heap == NULL) {
            return APR_ENOMEM;
        }
        q->heap = heap;
        q->cap = cap;
    }
    t->seq = q->seq++;
    q->heap[q->n] = t;
    fe_sift_up(q, q->n++);
    return APR_SUCCESS;
}

apr_time_t fe_timerq_next(const fe_timerq_t *q)
{
    return q->n ? q->heap[0]->when : FE_TIMERQ_NEVER;
}

fe_timer_t *fe_timerq_pop_due(fe_timerq_t *q, apr_time_t now)
{
    fe_timer_t *t;

    if (q->n == 0 || q->heap[0]->when > now) {
        return NULL;
    }
    t = q->heap[0];
    q->heap[0] = q->heap[--q->n];
    if (q->n > 0) {
        fe_sift_down(q, 0);
    }
    return t;
}
