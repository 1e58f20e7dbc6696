/*
 * fe_fdqueue.c: the listener -> worker hand-off queue (see fe_fdqueue.h).
 *
 * Owns: the bounded ring of opaque items, the unbounded intrusive urgent
 * lane, the one mutex + condvar that guard them, the count of blocked
 * poppers (the child's idle-worker figure), the interrupt bookkeeping and
 * the terminated flag.
 *
 * Must not: include httpd headers, read the clock, allocate after
 * fe_queue_create() (push and pop never touch a pool), block in push, or
 * know what the items are (it never dereferences an item or a node beyond
 * the ->next link).
 *
 * Interrupts: every popper that blocks links a waiter record that lives on
 * its own stack into q->waiters.  fe_queue_interrupt_all() flags every
 * record linked at that moment, fe_queue_interrupt_one() flags the oldest
 * record not yet flagged; both then broadcast.  A woken popper returns
 * APR_EINTR only when its own record is flagged and there is nothing to
 * take, so a spurious wakeup never yields APR_EINTR, an interrupt never
 * leaks to a popper that blocks later, and nothing is lost.
 */

#include <apr_atomic.h>
#include <apr_thread_mutex.h>
#include <apr_thread_cond.h>

#include "fe_fdqueue.h"

/* One blocked popper; lives on the popper's stack while it waits. */
typedef struct fe_queue_waiter {
    struct fe_queue_waiter *prev;
    struct fe_queue_waiter *next;
    int interrupted;
} fe_queue_waiter_t;

struct fe_queue {
    apr_thread_mutex_t *mutex;
    apr_thread_cond_t *cond;

    /* Bounded ring: nelts items starting at ring[out]; ring[in] is the
     * next free slot. */
    void **ring;
    unsigned int capacity;
    unsigned int in;
    unsigned int out;
    unsigned int nelts;

    /* Urgent lane: intrusive FIFO through fe_qnode_t.next. */
    fe_qnode_t *urgent_head;
    fe_qnode_t *urgent_tail;
    unsigned int urgent_count;

    /* Blocked poppers, oldest first.  idlers mirrors their number; it is
     * written under the mutex but read without it by fe_queue_idlers(). */
    fe_queue_waiter_t *waiters_head;
    fe_queue_waiter_t *waiters_tail;
    volatile apr_uint32_t idlers;

    int terminated;
};

/* ----------------------------------------------------------- helpers */

static inline void queue_waiter_link(fe_queue_t *q, fe_queue_waiter_t *w)
{
    w->next = NULL;
    w->prev = q->waiters_tail;
    w->interrupted = 0;
    if (q->waiters_tail != NULL) {
        q->waiters_tail->next = w;
    }
    else {
        q->waiters_head = w;
    }
    q->waiters_tail = w;
    apr_atomic_inc32(&q->idlers);
}

static inline void queue_waiter_unlink(fe_queue_t *q, fe_queue_waiter_t *w)
{
    if (w->prev != NULL) {
        w->prev->next = w->next;
    }
    else {
        q->waiters_head = w->next;
    }
    if (w->next != NULL) {
        w->next->prev = w->prev;
    }
    else {
        q->waiters_tail = w->prev;
    }
    w->prev = w->next = NULL;
    apr_atomic_dec32(&q->idlers);
}

/* Wake one blocked popper because an entry arrived.  Called with the
 * mutex held; skips the syscall when nobody waits (the hot path). */
static inline void queue_wake_for_entry(fe_queue_t *q)
{
    if (q->waiters_head != NULL) {
        apr_thread_cond_signal(q->cond);
    }
}

/* Take the next entry, urgent lane first.  Called with the mutex held. */
static inline apr_status_t queue_take(fe_queue_t *q, void **item,
                                      fe_qnode_t **node)
{
    if (q->urgent_head != NULL) {
        fe_qnode_t *n = q->urgent_head;

        q->urgent_head = n->next;
        if (q->urgent_head == NULL) {
            q->urgent_tail = NULL;
        }
        q->urgent_count--;
        n->next = NULL;
        *node = n;
        return APR_SUCCESS;
    }
    if (q->nelts > 0) {
        *item = q->ring[q->out];
        q->ring[q->out] = NULL;
        q->out = (q->out + 1 == q->capacity) ? 0 : q->out + 1;
        q->nelts--;
        return APR_SUCCESS;
    }
    return APR_EAGAIN;
}

/* Whether a ring of n slots can be sized without overflow (only ever
 * false where apr_size_t is narrower than 64 bits). */
static inline int queue_ring_size_ok(apr_size_t n)
{
    return n <= APR_SIZE_MAX / sizeof(void *);
}

static apr_status_t queue_cleanup(void *data)
{
    fe_queue_t *q = data;

    /* The destroy calls also unregister APR's own cleanups for these
     * objects (apr_pool_cleanup_run), so nothing is destroyed twice. */
    if (q->cond != NULL) {
        apr_thread_cond_destroy(q->cond);
        q->cond = NULL;
    }
    if (q->mutex != NULL) {
        apr_thread_mutex_destroy(q->mutex);
        q->mutex = NULL;
    }
    return APR_SUCCESS;
}

/* ---------------------------------------------------------------- API */

apr_status_t fe_queue_create(fe_queue_t **qp, unsigned int capacity,
                             apr_pool_t *p)
{
    fe_queue_t *q;
    apr_status_t rv;

    *qp = NULL;
    if (capacity == 0 || !queue_ring_size_ok(capacity)) {
        return APR_EINVAL;
    }
    q = apr_pcalloc(p, sizeof(*q));
    if (q == NULL) {
        return APR_ENOMEM;
    }
    q->ring = apr_pcalloc(p, (apr_size_t)capacity * sizeof(void *));
    if (q->ring == NULL) {
        return APR_ENOMEM;
    }
    q->capacity = capacity;

    rv = apr_thread_mutex_create(&q->mutex, APR_THREAD_MUTEX_DEFAULT, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = apr_thread_cond_create(&q->cond, p);
    if (rv != APR_SUCCESS) {
        apr_thread_mutex_destroy(q->mutex);
        return rv;
    }
    apr_pool_cleanup_register(p, q, queue_cleanup, apr_pool_cleanup_null);
    *qp = q;
    return APR_SUCCESS;
}

apr_status_t fe_queue_push(fe_queue_t *q, void *item)
{
    apr_status_t rv;

    if (item == NULL) {
        return APR_EINVAL;
    }
    rv = apr_thread_mutex_lock(q->mutex);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (q->terminated) {
        rv = APR_EOF;
    }
    else if (q->nelts == q->capacity) {
        rv = APR_EAGAIN;
    }
    else {
        q->ring[q->in] = item;
        q->in = (q->in + 1 == q->capacity) ? 0 : q->in + 1;
        q->nelts++;
        queue_wake_for_entry(q);
    }
    apr_thread_mutex_unlock(q->mutex);
    return rv;
}

apr_status_t fe_queue_push_urgent(fe_queue_t *q, fe_qnode_t *node)
{
    apr_status_t rv;

    if (node == NULL) {
        return APR_EINVAL;
    }
    rv = apr_thread_mutex_lock(q->mutex);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (q->terminated) {
        rv = APR_EOF;
    }
    else {
        node->next = NULL;
        if (q->urgent_tail != NULL) {
            q->urgent_tail->next = node;
        }
        else {
            q->urgent_head = node;
        }
        q->urgent_tail = node;
        q->urgent_count++;
        queue_wake_for_entry(q);
    }
    apr_thread_mutex_unlock(q->mutex);
    return rv;
}

apr_status_t fe_queue_pop(fe_queue_t *q, void **item, fe_qnode_t **node)
{
    fe_queue_waiter_t w;
    apr_status_t rv;

    *item = NULL;
    *node = NULL;
    rv = apr_thread_mutex_lock(q->mutex);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (q->terminated) {
        apr_thread_mutex_unlock(q->mutex);
        return APR_EOF;
    }
    rv = queue_take(q, item, node);
    if (rv == APR_EAGAIN) {
        queue_waiter_link(q, &w);
        for (;;) {
            rv = apr_thread_cond_wait(q->cond, q->mutex);
            if (rv != APR_SUCCESS) {
                break;
            }
            /* Order matters: termination wins over remaining entries,
             * an entry wins over an interrupt, and anything else
             * (a spurious wakeup, a wakeup meant for someone else, an
             * entry somebody already took) means wait again. */
            if (q->terminated) {
                rv = APR_EOF;
                break;
            }
            rv = queue_take(q, item, node);
            if (rv == APR_SUCCESS) {
                break;
            }
            if (w.interrupted) {
                rv = APR_EINTR;
                break;
            }
        }
        queue_waiter_unlink(q, &w);
    }
    apr_thread_mutex_unlock(q->mutex);
    return rv;
}

apr_status_t fe_queue_trypop(fe_queue_t *q, void **item, fe_qnode_t **node)
{
    apr_status_t rv;

    *item = NULL;
    *node = NULL;
    rv = apr_thread_mutex_lock(q->mutex);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = q->terminated ? APR_EOF : queue_take(q, item, node);
    apr_thread_mutex_unlock(q->mutex);
    return rv;
}

void fe_queue_interrupt_all(fe_queue_t *q)
{
    fe_queue_waiter_t *w;
    int any = 0;

    if (apr_thread_mutex_lock(q->mutex) != APR_SUCCESS) {
        return;
    }
    for (w = q->waiters_head; w != NULL; w = w->next) {
        if (!w->interrupted) {
            w->interrupted = 1;
            any = 1;
        }
    }
    if (any) {
        apr_thread_cond_broadcast(q->cond);
    }
    apr_thread_mutex_unlock(q->mutex);
}

void fe_queue_interrupt_one(fe_queue_t *q)
{
    fe_queue_waiter_t *w;

    if (apr_thread_mutex_lock(q->mutex) != APR_SUCCESS) {
        return;
    }
    for (w = q->waiters_head; w != NULL; w = w->next) {
        if (!w->interrupted) {
            break;
        }
    }
    if (w != NULL) {
        /* A condvar cannot target one thread: wake them all, only the
         * flagged one returns, the others wait again. */
        w->interrupted = 1;
        apr_thread_cond_broadcast(q->cond);
    }
    apr_thread_mutex_unlock(q->mutex);
}

void fe_queue_term(fe_queue_t *q)
{
    if (apr_thread_mutex_lock(q->mutex) != APR_SUCCESS) {
        return;
    }
    if (!q->terminated) {
        q->terminated = 1;
        apr_thread_cond_broadcast(q->cond);
    }
    apr_thread_mutex_unlock(q->mutex);
}

unsigned int fe_queue_idlers(fe_queue_t *q)
{
    return apr_atomic_read32(&q->idlers);
}

unsigned int fe_queue_length(fe_queue_t *q)
{
    unsigned int n;

    if (apr_thread_mutex_lock(q->mutex) != APR_SUCCESS) {
        return 0;
    }
    n = q->nelts + q->urgent_count;
    apr_thread_mutex_unlock(q->mutex);
    return n;
}

unsigned int fe_queue_waiting(fe_queue_t *q)
{
    return *(volatile unsigned int *)&q->nelts
           + *(volatile unsigned int *)&q->urgent_count;
}

unsigned int fe_queue_capacity(const fe_queue_t *q)
{
    return q->capacity;
}
