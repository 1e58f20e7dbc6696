/*
 * fe_fdqueue.c: the listener -> worker hand-off queue (see fe_fdqueue.h).
 *
 * Owns: the bounded ring of opaque items, the unbounded intrusive urgent
 * lane, the one mutex that guards them, the blocked poppers' records (the
 * child's idle-worker figure) and the terminated flag.
 *
 * Must not: include httpd headers, read the clock, allocate after
 * fe_queue_create() (push and pop never touch a pool), block in push, or
 * know what the items are (it never dereferences an item or a node beyond
 * the ->next link).
 *
 * Direct hand-off: every popper that blocks links a waiter record that
 * lives on its own stack into q->waiters and sleeps on the record's own
 * semaphore, not on a shared condition variable.  A push that finds a
 * waiter unlinks the most recently blocked one (its stack and caches are
 * the warmest), puts the entry in its record, and posts its semaphore
 * after unlocking: the woken popper returns without taking the mutex
 * again.  So a hand-off costs one wake and one wait, where a condition
 * variable signalled under the lock made the woken popper block on the
 * mutex the pusher still held (measured: 6.7 futex calls per request with
 * 1000 keep-alive connections, against 2).  fe_queue_push() puts entries
 * in the ring only when nobody waits; fe_queue_push_lazy() leaves them
 * there for a popper that is still running (it takes the ring before it
 * blocks) or for fe_queue_release(), so with lazy pushes the ring and the
 * waiters can both be non-empty.
 *
 * Interrupts and termination unlink waiters the same way with a result
 * (APR_EINTR, APR_EOF) instead of an entry.  fe_queue_interrupt_one()
 * takes the longest-blocked waiter, fe_queue_interrupt_all() and
 * fe_queue_term() every one linked at that moment.  A popper returns only
 * what its record was given, so a spurious wakeup never yields anything,
 * an interrupt never leaks to a popper that blocks later, and nothing is
 * lost: an entry handed over before fe_queue_term() is the popper's.
 */

#include <apr_atomic.h>
#include <apr_thread_mutex.h>

#include <errno.h>
#include <stdlib.h>
#include <semaphore.h>

#include "fdqueue/fe_fdqueue.h"

/* One blocked popper; lives on the popper's stack while it waits.  Once
 * a waker unlinked it, only the popper touches it again. */
typedef struct fe_queue_waiter {
    struct fe_queue_waiter *prev;
    struct fe_queue_waiter *next;
    sem_t wake;                 /* posted once, after the record is filled */
    apr_status_t rv;            /* APR_SUCCESS, APR_EINTR or APR_EOF */
    void *item;
    fe_qnode_t *node;
} fe_queue_waiter_t;

struct fe_queue {
    apr_thread_mutex_t *mutex;

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

    /* Blocked poppers, oldest first (hand-offs take the tail, interrupts
     * the head).  idlers mirrors their number; it is written under the
     * mutex but read without it by fe_queue_idlers(). */
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

/* Unlink the waiter @a w and give it @a rv and an entry; the caller
 * posts w->wake after unlocking (see queue_wake_list) -- never before,
 * since the popper may return and its stack go the moment it is posted. */
static inline void queue_give(fe_queue_t *q, fe_queue_waiter_t *w,
                              apr_status_t rv, void *item, fe_qnode_t *node)
{
    queue_waiter_unlink(q, w);
    w->rv = rv;
    w->item = item;
    w->node = node;
}

/* Post the waiters unlinked under the lock, chained through ->next (set
 * again after the unlink); called without the lock. */
static void queue_wake_list(fe_queue_waiter_t *w)
{
    while (w != NULL) {
        fe_queue_waiter_t *next = w->next;

        sem_post(&w->wake);            /* w may be gone after this */
        w = next;
    }
}

/* Give every linked waiter @a rv; returns them chained for
 * queue_wake_list().  Called with the mutex held. */
static fe_queue_waiter_t *queue_give_all(fe_queue_t *q, apr_status_t rv)
{
    fe_queue_waiter_t *list = NULL, *w;

    while ((w = q->waiters_tail) != NULL) {
        queue_give(q, w, rv, NULL, NULL);
        w->next = list;
        list = w;
    }
    return list;
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

    /* The destroy call also unregisters APR's own cleanup for the mutex
     * (apr_pool_cleanup_run), so nothing is destroyed twice. */
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
    {
        /* Unnamed semaphores are a stub on some systems (macOS): find out
         * here, not in the first pop. */
        sem_t probe;

        if (sem_init(&probe, 0, 0) != 0) {
            return APR_ENOTIMPL;
        }
        sem_destroy(&probe);
    }

    rv = apr_thread_mutex_create(&q->mutex, APR_THREAD_MUTEX_DEFAULT, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    apr_pool_cleanup_register(p, q, queue_cleanup, apr_pool_cleanup_null);
    *qp = q;
    return APR_SUCCESS;
}

/* fe_queue_push() and fe_queue_push_lazy(): @a lazy keeps the item in
 * the ring while there is room, whoever waits. */
static apr_status_t queue_push(fe_queue_t *q, void *item, int lazy)
{
    fe_queue_waiter_t *w = NULL;
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
    else if (q->waiters_tail != NULL
             && (!lazy || q->nelts == q->capacity)) {
        w = q->waiters_tail;
        queue_give(q, w, APR_SUCCESS, item, NULL);
    }
    else if (q->nelts == q->capacity) {
        rv = APR_EAGAIN;
    }
    else {
        q->ring[q->in] = item;
        q->in = (q->in + 1 == q->capacity) ? 0 : q->in + 1;
        q->nelts++;
    }
    apr_thread_mutex_unlock(q->mutex);
    if (w != NULL) {
        sem_post(&w->wake);
    }
    return rv;
}

apr_status_t fe_queue_push(fe_queue_t *q, void *item)
{
    return queue_push(q, item, 0);
}

apr_status_t fe_queue_push_lazy(fe_queue_t *q, void *item)
{
    return queue_push(q, item, 1);
}

unsigned int fe_queue_release(fe_queue_t *q, unsigned int max)
{
    fe_queue_waiter_t *list = NULL, *w;
    unsigned int n = 0;

    if (max == 0 || apr_thread_mutex_lock(q->mutex) != APR_SUCCESS) {
        return 0;
    }
    while (n < max && !q->terminated && q->nelts > 0
           && (w = q->waiters_tail) != NULL) {
        void *item = q->ring[q->out];

        q->ring[q->out] = NULL;
        q->out = (q->out + 1 == q->capacity) ? 0 : q->out + 1;
        q->nelts--;
        queue_give(q, w, APR_SUCCESS, item, NULL);
        w->next = list;
        list = w;
        n++;
    }
    apr_thread_mutex_unlock(q->mutex);
    queue_wake_list(list);
    return n;
}

apr_status_t fe_queue_push_urgent(fe_queue_t *q, fe_qnode_t *node)
{
    fe_queue_waiter_t *w = NULL;
    apr_status_t rv;

    if (node == NULL) {
        return APR_EINVAL;
    }
    rv = apr_thread_mutex_lock(q->mutex);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    node->next = NULL;
    if (q->terminated) {
        rv = APR_EOF;
    }
    else if (q->waiters_tail != NULL) {
        w = q->waiters_tail;
        queue_give(q, w, APR_SUCCESS, NULL, node);
    }
    else {
        if (q->urgent_tail != NULL) {
            q->urgent_tail->next = node;
        }
        else {
            q->urgent_head = node;
        }
        q->urgent_tail = node;
        q->urgent_count++;
    }
    apr_thread_mutex_unlock(q->mutex);
    if (w != NULL) {
        sem_post(&w->wake);
    }
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
    if (rv != APR_EAGAIN) {
        apr_thread_mutex_unlock(q->mutex);
        return rv;
    }
    if (sem_init(&w.wake, 0, 0) != 0) {
        apr_thread_mutex_unlock(q->mutex);
        return APR_FROM_OS_ERROR(errno);
    }
    queue_waiter_link(q, &w);
    apr_thread_mutex_unlock(q->mutex);
    /* Woken only by whoever unlinked the record and filled it in: a
     * signal's EINTR is not a wakeup. */
    while (sem_wait(&w.wake) != 0) {
        if (errno != EINTR) {
            /* Cannot happen with a valid semaphore; returning would leave
             * our record linked on a stack frame about to be reused. */
            abort();
        }
    }
    sem_destroy(&w.wake);
    *item = w.item;
    *node = w.node;
    return w.rv;
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
    fe_queue_waiter_t *list;

    if (apr_thread_mutex_lock(q->mutex) != APR_SUCCESS) {
        return;
    }
    list = queue_give_all(q, APR_EINTR);
    apr_thread_mutex_unlock(q->mutex);
    queue_wake_list(list);
}

void fe_queue_interrupt_one(fe_queue_t *q)
{
    fe_queue_waiter_t *w;

    if (apr_thread_mutex_lock(q->mutex) != APR_SUCCESS) {
        return;
    }
    w = q->waiters_head;
    if (w != NULL) {
        queue_give(q, w, APR_EINTR, NULL, NULL);
    }
    apr_thread_mutex_unlock(q->mutex);
    if (w != NULL) {
        sem_post(&w->wake);
    }
}

void fe_queue_term(fe_queue_t *q)
{
    fe_queue_waiter_t *list = NULL;

    if (apr_thread_mutex_lock(q->mutex) != APR_SUCCESS) {
        return;
    }
    if (!q->terminated) {
        q->terminated = 1;
        list = queue_give_all(q, APR_EOF);
    }
    apr_thread_mutex_unlock(q->mutex);
    queue_wake_list(list);
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

unsigned int fe_queue_items_waiting(fe_queue_t *q)
{
    return *(volatile unsigned int *)&q->nelts;
}

unsigned int fe_queue_capacity(const fe_queue_t *q)
{
    return q->capacity;
}
