/*
 * fe_timer.c: ap_mpm_register_timed_callback() and suspended connections.
 *
 * Any thread may register a callback (a module's own threads included).
 * Timers wait in a heap (fe_timerq) under timer_mutex; the listener moves
 * due ones to the worker queue's urgent lane, and a worker runs them:
 * callbacks never run on the listener.
 *
 * Suspended connections: a handler that returns SUSPENDED (mod_dialup)
 * owns its connection until it completes the request from a timed
 * callback, which leaves the connection in WRITE_COMPLETION (or LINGER)
 * through ap_process_request_after_handler().  httpd 2.4 has no API to
 * hand it back, so after each callback returns the worker looks for
 * suspended connections whose state moved on and resumes them.  Checking
 * only then (never from another thread) means the module's code has
 * finished with the connection.
 *
 * Must not: run callbacks under timer_mutex (a callback may register
 * another one).
 */
#include "mpm_fastevent.h"
#include "connection/fe_listener.h"
#include "connection/fe_timer.h"
#include "fdqueue/fe_work.h"
#include "policy/fe_timerq.h"
#include "http_log.h"
#include "http_main.h"
#include "ap_mpm.h"

#include <apr_atomic.h>

APLOG_USE_MODULE(mpm_fastevent);

/* Wake the listener for a new timer only when it is due earlier than the
 * listener's planned wakeup by more than this. */
#define FE_TIMER_FUDGE apr_time_from_msec(5)

apr_status_t fe_timers_setup(fe_child_t *ch)
{
    apr_status_t rv;

    rv = apr_pool_create(&ch->timers.pool, ap_server_conf->process->pconf);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    apr_pool_tag(ch->timers.pool, "timers");
    fe_timerq_init(&ch->timers.heap, ch->timers.pool);
    ch->timers.poll_until = FE_TQ_NEVER;
    return apr_thread_mutex_create(&ch->timers.mutex,
                                   APR_THREAD_MUTEX_DEFAULT, ch->timers.pool);
}

apr_status_t fe_register_timed_callback(apr_time_t t,
                                        ap_mpm_callback_fn_t *fn,
                                        void *baton)
{
    fe_child_t *ch = fe_this_child;
    fe_timer_t *te;
    apr_status_t rv;
    int wake;

    if (ch == NULL || ch->timers.mutex == NULL) {
        return APR_ENOTIMPL;      /* not in a running child */
    }
    apr_thread_mutex_lock(ch->timers.mutex);
    te = ch->timers.free;
    if (te != NULL) {
        ch->timers.free = (fe_timer_t *)te->baton;
    }
    else {
        te = apr_palloc(ch->timers.pool, sizeof *te);
    }
    te->when = apr_time_now() + (t > 0 ? t : 0);
    te->fn = fn;
    te->baton = baton;
    rv = fe_timerq_push(&ch->timers.heap, te);
    /* Decided under the lock the listener plans its wakeup with, so the
     * listener either sees this timer or we see its plan: no lost wake. */
    wake = rv == APR_SUCCESS
           && te->when + FE_TIMER_FUDGE < ch->timers.poll_until;
    apr_thread_mutex_unlock(ch->timers.mutex);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, ch->s, FELOGNO(10150)
                     "out of memory for a timed callback");
        return rv;
    }
    if (wake) {
        fe_listener_wakeup(ch);
    }
    return APR_SUCCESS;
}

/* Listener: move due timers to the workers.  They are taken out of the
 * heap under the lock and pushed outside it, in their order. */
void fe_timers_dispatch(fe_child_t *ch, apr_time_t now)
{
    fe_qnode_t *due = NULL, **tail = &due;
    fe_timer_t *te;

    apr_thread_mutex_lock(ch->timers.mutex);
    while ((te = fe_timerq_pop_due(&ch->timers.heap, now)) != NULL) {
        te->qnode.next = NULL;
        *tail = &te->qnode;
        tail = &te->qnode.next;
    }
    apr_thread_mutex_unlock(ch->timers.mutex);
    while (due != NULL) {
        fe_qnode_t *node = due;

        due = node->next;
        fe_work_push_urgent(ch, node);      /* clears node->next */
    }
}

/* Listener, right before polling: the time to wake up, the earlier of
 * @a other and the next timer, published as poll_until. */
apr_time_t fe_timers_plan(fe_child_t *ch, apr_time_t other)
{
    apr_time_t next;

    apr_thread_mutex_lock(ch->timers.mutex);
    next = fe_timerq_next(&ch->timers.heap);
    next = other < next ? other : next;
    ch->timers.poll_until = next;
    apr_thread_mutex_unlock(ch->timers.mutex);
    return next;
}

/* Worker: resume the suspended connections a callback completed. */
static void fe_resume_completed(fe_child_t *ch)
{
    fe_tq_node_t *n, *next, *ready = NULL;

    if (apr_atomic_read32(&ch->count.suspended) == 0) {
        return;
    }
    apr_thread_mutex_lock(ch->park.mutex);
    for (n = ch->park.suspended_q.head; n != NULL; n = next) {
        fe_conn_t *cs = fe_conn_of_tq(n);

        next = n->next;
        if (cs->pub.state != CONN_STATE_SUSPENDED) {
            fe_tq_remove(n);
            n->next = ready;
            ready = n;
        }
    }
    apr_thread_mutex_unlock(ch->park.mutex);
    for (n = ready; n != NULL; n = next) {
        fe_conn_t *cs = fe_conn_of_tq(n);

        next = n->next;
        n->next = NULL;
        cs->async_suspended = 0;
        apr_atomic_dec32(&ch->count.suspended);
        cs->ready_at = 0;                 /* not a listener hand-off */
        if (cs->pub.state != CONN_STATE_WRITE_COMPLETION) {
            cs->pub.state = CONN_STATE_LINGER;
        }
        if (fe_work_push(ch, cs) != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, ch->s, FELOGNO(10151)
                         "child exiting: a resumed connection is dropped");
        }
    }
}

void fe_timer_run(fe_child_t *ch, fe_qnode_t *node)
{
    fe_timer_t *te = FE_CONTAINER_OF(node, fe_timer_t, qnode);
    fe_timer_fn *fn = te->fn;
    void *baton = te->baton;

    apr_thread_mutex_lock(ch->timers.mutex);
    te->baton = ch->timers.free;           /* recycle before running */
    ch->timers.free = te;
    apr_thread_mutex_unlock(ch->timers.mutex);
    fn(baton);
    fe_resume_completed(ch);
}

/*
 * Worker: a handler returned SUSPENDED; the module owns cs now.  Its
 * callback may already have completed the request on another worker
 * before we got here, and missed it in the list: checked under the same
 * lock as that scan, so either the scan or this check resumes it.
 */
void fe_conn_suspend(fe_conn_t *cs)
{
    fe_child_t *ch = cs->child;
    cs->async_suspended = 1;
    apr_atomic_inc32(&ch->count.suspended);
    apr_thread_mutex_lock(ch->park.mutex);
    fe_tq_append(&ch->park.suspended_q, &cs->tq, apr_time_now());
    apr_thread_mutex_unlock(ch->park.mutex);
    fe_resume_completed(ch);
}
