/**
 * @file fe_work.h
 * @brief The hand-off between the listener and the workers
 *        (fdqueue/fe_work.c): the worker queue as the child uses it, the
 *        idle-worker count, and the keep-alive holds.
 *
 * Any thread may push; every push wakes an idle worker (in the queue or in
 * the keep-alive poll set) and, when work waits without an idle worker,
 * calls back workers holding a keep-alive connection.  The listener's
 * pushes of ready connections are paced to the CPUs instead
 * (fe_work_push_ready()).  Pushes never block.
 */
#ifndef FE_WORK_H
#define FE_WORK_H

#include "mpm_fastevent.h"

/** What fe_work_next() gave a worker: exactly one of the three is set. */
typedef struct fe_work {
    void *item;               /**< a connection (fe_conn_t) to run */
    fe_qnode_t *node;         /**< a due timer's node (fe_timer_t.qnode) */
    apr_uint64_t tag;         /**< a ready keep-alive connection's tag in
                                   the keep-alive set: claim it
                                   (connection/fe_park.h) */
} fe_work_t;

/** The queue of @a capacity entries, the call-back pipe of the holds, and
 *  (FastEventKeepAlivePoll on) the keep-alive set, in pruntime. */
apr_status_t fe_work_setup(fe_child_t *ch, unsigned int capacity);

/** Hand a connection (or a due timer's node) to a worker.  APR_SUCCESS,
 *  or APR_EOF once the queue is terminated: the caller still owns it. */
apr_status_t fe_work_push(fe_child_t *ch, void *item);
apr_status_t fe_work_push_urgent(fe_child_t *ch, fe_qnode_t *node);

/**
 * Listener: hand a ready connection to the workers, waking an idle one
 * only while the pace allows (policy/fe_connstate.h, "Wakeups paced to
 * the CPUs"); otherwise it waits in the queue for a running worker, or
 * for fe_work_pace().  As fe_work_push() when pacing is off, the child
 * stops, or workers hold keep-alive connections (they do not take from
 * the queue).  Same returns.
 */
apr_status_t fe_work_push_ready(fe_child_t *ch, void *item);

/**
 * Listener, at the top of every pass of its loop: count the running
 * workers, hand waiting connections to idle ones as the pace allows, and
 * set how many more this pass may wake.
 */
void fe_work_pace(fe_child_t *ch, apr_time_t now);

/** 1 while the child paces its wakeups now (any thread: the listener's
 *  decision read without a lock, for mod_status). */
int fe_work_pacing(fe_child_t *ch);

/** 1 while connections wait in the queue beside an idle worker (the
 *  listener's poll timeout then stays within FE_PACE_STALE). */
int fe_work_pace_pending(fe_child_t *ch);

/**
 * Worker: the next entry, blocking until there is one.  APR_SUCCESS;
 * APR_EINTR when the caller should look at the child's state and call
 * again; APR_EOF once the queue is terminated.
 */
apr_status_t fe_work_next(fe_child_t *ch, fe_work_t *w);

/** Idle workers now: blocked in the queue or waiting in the ka set. */
unsigned int fe_work_idlers(fe_child_t *ch);
/** Entries waiting now, without the lock (a snapshot). */
unsigned int fe_work_waiting(fe_child_t *ch);
/** Entries waiting now, under the queue's lock. */
unsigned int fe_work_length(fe_child_t *ch);

/** Wake every (or the longest-) blocked worker once: APR_EINTR. */
void fe_work_interrupt_all(fe_child_t *ch);
void fe_work_interrupt_one(fe_child_t *ch);
/** Ungraceful stop: the queue ends, and waiters in the set leave it. */
void fe_work_term(fe_child_t *ch);

/** The child stops: every holder gives its connection back now, and
 *  nobody holds again. */
void fe_hold_stop_all(fe_child_t *ch);

/**
 * Worker: wait on socket @a fd for its next request (up to @a wait, at
 * most 50 ms, from @a idle_since), as long as this worker is not needed
 * elsewhere.  Returns 1 when the socket became readable (or closed: the
 * hooks find out), 0 when the caller should park it.  @a tid is the
 * worker's index; it does not count as stuck meanwhile.
 */
int fe_hold_wait(fe_child_t *ch, int fd, apr_interval_time_t wait,
                 apr_time_t idle_since, int tid);

#endif /* FE_WORK_H */
