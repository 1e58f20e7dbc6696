/**
 * @file fe_fdqueue.h
 * @brief The hand-off between the listener thread and the worker threads.
 *
 * A bounded FIFO of opaque items (connections) plus an unbounded intrusive
 * "urgent" lane (timer events) that poppers serve first.  A popper that
 * finds nothing blocks on a semaphore of its own, and a push hands its
 * entry straight to the most recently blocked popper (no shared condition
 * variable, no second trip through the mutex); the queue counts how many
 * are blocked, which is the child's idle-worker figure.
 *
 * Pure component: APR only, no httpd headers, no clock reads.  Thread-safe:
 * any thread may push, any thread may pop.
 *
 * Lifetime: fe_queue_create() registers a cleanup on the pool that destroys
 * the mutex; owners never destroy the queue by hand.  Call
 * fe_queue_term() and join every popper before that pool goes away.
 */
#ifndef FE_FDQUEUE_H
#define FE_FDQUEUE_H

#include <apr_pools.h>
#include <apr_errno.h>

typedef struct fe_queue fe_queue_t;

/** Link for the urgent lane; embed it in the caller's own struct. */
typedef struct fe_qnode {
    struct fe_qnode *next;
} fe_qnode_t;

/**
 * Create a queue that holds at most @a capacity items (capacity >= 1).
 * @return APR_SUCCESS, APR_EINVAL for capacity 0, APR_ENOTIMPL where
 *         unnamed POSIX semaphores do not work, or the APR error of the
 *         mutex creation.
 */
apr_status_t fe_queue_create(fe_queue_t **q, unsigned int capacity,
                             apr_pool_t *p);

/**
 * Append @a item (must not be NULL), or hand it to the most recently
 * blocked popper if there is one (then it never enters the queue).  Never
 * blocks.
 * @return APR_SUCCESS; APR_EAGAIN when the queue is full and nobody
 *         waits; APR_EOF after fe_queue_term(); APR_EINVAL for a NULL
 *         item.  On failure the
 *         caller still owns @a item.
 */
apr_status_t fe_queue_push(fe_queue_t *q, void *item);

/**
 * As fe_queue_push(), but @a item waits in the queue even while poppers
 * are blocked: for a pusher that counts on a popper already running to
 * take it next, or on fe_queue_release() later.  When the queue is full
 * it is handed to a blocked popper after all.  Same returns.
 */
apr_status_t fe_queue_push_lazy(fe_queue_t *q, void *item);

/**
 * Hand up to @a max queued items (oldest first; not the urgent lane) to
 * blocked poppers, the most recently blocked first.  @return how many.
 */
unsigned int fe_queue_release(fe_queue_t *q, unsigned int max);

/**
 * Append @a node to the urgent lane (unbounded, FIFO, served before the
 * items).  The queue owns node->next until the node is popped (it is NULL
 * again then).  @return APR_SUCCESS, APR_EOF after fe_queue_term(), or
 * APR_EINVAL for a NULL node.
 */
apr_status_t fe_queue_push_urgent(fe_queue_t *q, fe_qnode_t *node);

/**
 * Take the next entry, blocking while the queue is empty.  Exactly one of
 * *item / *node is set non-NULL on APR_SUCCESS (urgent nodes first); both
 * are set to NULL on any other return.
 * @return APR_SUCCESS; APR_EINTR when woken by fe_queue_interrupt_*()
 *         (final: entries pushed afterwards go to other poppers or wait in
 *         the queue); APR_EOF once
 *         fe_queue_term() was called (even if entries remain: termination
 *         is immediate, the caller owns the clean-up of whatever was left;
 *         an entry handed to this popper before the termination is still
 *         returned with APR_SUCCESS).  Spurious wakeups are never reported.
 */
apr_status_t fe_queue_pop(fe_queue_t *q, void **item, fe_qnode_t **node);

/** Non-blocking pop: as fe_queue_pop() but APR_EAGAIN when empty. */
apr_status_t fe_queue_trypop(fe_queue_t *q, void **item, fe_qnode_t **node);

/**
 * Wake every popper blocked right now; each returns APR_EINTR once.  Not
 * remembered: poppers that block afterwards are not affected, and with
 * nobody blocked this is a no-op.
 */
void fe_queue_interrupt_all(fe_queue_t *q);

/**
 * Wake one blocked popper (the longest-blocked one), if any; it returns
 * APR_EINTR.  Not remembered either.
 */
void fe_queue_interrupt_one(fe_queue_t *q);

/** Terminate: every popper still blocked (not yet handed an entry) and
 *  every future pop returns APR_EOF. Idempotent. */
void fe_queue_term(fe_queue_t *q);

/**
 * Number of poppers blocked in fe_queue_pop() now (idle workers).  Read
 * without the lock: a snapshot that may be stale by the time it is used.
 */
unsigned int fe_queue_idlers(fe_queue_t *q);

/** Number of items plus urgent nodes waiting now. */
unsigned int fe_queue_length(fe_queue_t *q);

/** As fe_queue_length() but without the lock: a snapshot for hot paths,
 *  which may be stale (or torn between the two lanes) by the time it is
 *  used. */
unsigned int fe_queue_waiting(fe_queue_t *q);

/** As fe_queue_waiting() but the items (connections) only, not the
 *  urgent lane: a snapshot without the lock. */
unsigned int fe_queue_items_waiting(fe_queue_t *q);

/** The capacity given at creation. */
unsigned int fe_queue_capacity(const fe_queue_t *q);

#endif /* FE_FDQUEUE_H */
