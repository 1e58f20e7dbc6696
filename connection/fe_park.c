/*
 * fe_park.c: where a connection waits for the network, and the ways out.
 *
 * Owns: the timeout queues (keep-alive per KeepAliveTimeout, write
 * completion and wait-io per Timeout, the two lingering closes, new
 * connections without a whole request head) and their counts, all under
 * park.mutex; putting a connection in its queue and in the listener's
 * pollset or the keep-alive poll set (parking); taking it out again
 * (unparking); the slot table that names keep-alive connections in the
 * keep-alive set, and the claim of a ready one; handing a connection
 * that is ready, or whose wait is over, to a worker.
 *
 * A parked connection belongs to the listener: only the listener unparks
 * (under park.mutex), except that a worker claims a keep-alive connection
 * the keep-alive set reported to it.  Once fe_park() succeeded, the caller
 * must not touch the connection again.
 *
 * Must not: run connection hooks, read or write a connection's socket, or
 * close a connection (callers decide what a failure to park means).
 */
#include "mpm_fastevent.h"
#include "connection/fe_listener.h"
#include "connection/fe_park.h"
#include "fdqueue/fe_kaset.h"
#include "fdqueue/fe_work.h"
#include "scoreboard/fe_sb.h"
#include "policy/fe_deadline.h"
#include "policy/fe_tq.h"
#include "http_log.h"
#include "http_main.h"

#include <apr_atomic.h>

APLOG_USE_MODULE(mpm_fastevent);

/* Lingering close limit, as stock event: 30 s (short: fe_park.h). */
#define FE_LINGER_SECS        30

/* Wake the listener for an earlier deadline only when it is earlier than
 * planned by more than this: saves wakeups on busy servers. */
#define FE_WAKEUP_FUDGE apr_time_from_msec(100)

static int fe_count_servers(void)
{
    server_rec *s;
    int n = 0;

    for (s = ap_server_conf; s != NULL; s = s->next) {
        n++;
    }
    return n;
}

/* A new connection whose head keeps coming in (mod_reqtimeout's MinRate),
 * or whose body is being read without a worker, waits past the header
 * deadline's first term in one of the fresh_more queues, one per quantum
 * of the remaining wait (fe_tq_quantum()): it comes out a little early
 * and waits again for the rest, so it is late by less than 10 ms. */
static void fe_park_fresh_setup(fe_child_t *ch)
{
    fe_parking_t *pk = &ch->park;

    fe_tq_init(&pk->fresh_q, fe_g.head_deadline.timeout);
    fe_tqset_init(&pk->fresh_more, FE_TQ_QUANTA, ch->pruntime);
}

apr_status_t fe_park_setup(fe_child_t *ch)
{
    fe_parking_t *pk = &ch->park;
    int nserv = fe_count_servers();
    apr_status_t rv;

    rv = apr_thread_mutex_create(&pk->mutex, APR_THREAD_MUTEX_DEFAULT,
                                 ch->pruntime);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    fe_tqset_init(&pk->ka_qs, nserv + 1, ch->pruntime);
    fe_tqset_init(&pk->io_qs, nserv + 1, ch->pruntime);
    fe_tq_init(&pk->linger_q, apr_time_from_sec(FE_LINGER_SECS));
    fe_tq_init(&pk->short_linger_q, apr_time_from_sec(FE_SHORT_LINGER_SECS));
    /* A new connection waits here until its request head is in, holding
     * no worker, up to its header deadline (fe_g.head_deadline: what
     * mod_reqtimeout's header stage allows, or Timeout), so a flood of
     * silent or trickling (slowloris) connections costs descriptors, not
     * workers. */
    fe_park_fresh_setup(ch);
    /* A list that never expires: the suspended connections. */
    fe_tq_init(&pk->suspended_q, FE_TQ_NEVER);
    pk->next_wakeup = FE_TQ_NEVER;
    if (ch->ka.ep >= 0) {
        /* A slot per connection the child can hold (see the queue). */
        fe_kaslots_init(&pk->ka_slots,
                        ch->acc.hard_cap + ch->acc.fresh_cap + 16,
                        ch->pruntime);
    }
    return APR_SUCCESS;
}

/* ------------------------------------------------------- the keep-alive set */

/* Pre-condition: park.mutex held, cs being parked.  0 when armed in the
 * keep-alive set; -1 when it must wait in the pollset (no slot left, or
 * epoll refused). */
static int fe_park_ka_arm(fe_child_t *ch, fe_conn_t *cs)
{
    apr_uint64_t tag = fe_kaslots_arm(&ch->park.ka_slots, &cs->ka_slot, cs);

    if (tag == 0) {
        return -1;               /* no slot left */
    }
    return fe_kaset_arm(ch, fe_sock_fd(cs->sock), tag, &cs->ka_reg);
}

/* Pre-condition: park.mutex held.  An event already taken by a worker
 * becomes stale. */
static void fe_park_ka_disarm(fe_child_t *ch, fe_conn_t *cs)
{
    fe_kaslots_disarm(&ch->park.ka_slots, cs->ka_slot);
    fe_kaset_disarm(ch, fe_sock_fd(cs->sock), &cs->ka_reg);
}

void fe_park_release_slot(fe_child_t *ch, fe_conn_t *cs)
{
    if (cs->ka_slot == 0) {
        return;
    }
    apr_thread_mutex_lock(ch->park.mutex);
    fe_kaslots_release(&ch->park.ka_slots, &cs->ka_slot);
    apr_thread_mutex_unlock(ch->park.mutex);
}

/* Pre-condition: park.mutex held.  The connection an event names,
 * unparked and ready to run, or NULL when the event is stale (a worker
 * takes its event outside the lock, so by then the listener may have
 * timed the connection out and closed it: the slot's tag tells). */
static fe_conn_t *fe_park_claim_locked(fe_child_t *ch, apr_uint64_t tag)
{
    fe_conn_t *cs = fe_kaslots_claim(&ch->park.ka_slots, tag);

    if (cs == NULL || !cs->ka_parked) {
        return NULL;             /* stale (the second cannot happen) */
    }
    fe_unpark_claimed_locked(ch, cs);    /* stays registered, disarmed */
    fe_sb_publish_keepalive(ch);
    cs->pub.state = cs->resume_state;
    return cs;
}

fe_conn_t *fe_park_claim(fe_child_t *ch, apr_uint64_t tag)
{
    fe_conn_t *cs;

    apr_thread_mutex_lock(ch->park.mutex);
    cs = fe_park_claim_locked(ch, tag);
    apr_thread_mutex_unlock(ch->park.mutex);
    if (cs != NULL) {
        cs->ready_at = 0;        /* no hand-off to measure */
    }
    return cs;
}

void fe_park_ka_dispatch(fe_child_t *ch)
{
    apr_uint64_t tags[FE_KASET_BATCH];
    fe_conn_t *batch[FE_KASET_BATCH];
    int n, i, kept;

    do {
        n = fe_kaset_harvest(ch, tags, FE_KASET_BATCH);
        kept = 0;
        if (n > 0) {
            apr_thread_mutex_lock(ch->park.mutex);
            for (i = 0; i < n; i++) {
                batch[kept] = fe_park_claim_locked(ch, tags[i]);
                kept += batch[kept] != NULL;
            }
            apr_thread_mutex_unlock(ch->park.mutex);
        }
        for (i = 0; i < kept; i++) {
            fe_park_dispatch(ch, batch[i]);
        }
    } while (kept == FE_KASET_BATCH);
}

/* ------------------------------------------------------------ parking */

/* Pre-condition: park.mutex held.  Put cs in @a q and in the keep-alive
 * set (@a ka_set, when it is on and takes it) or the pollset.  On failure
 * cs is in neither. */
static apr_status_t fe_park_locked(fe_child_t *ch, fe_conn_t *cs,
                                   fe_tq_t *q, apr_time_t stamp, int ka_set)
{
    apr_status_t rv = APR_SUCCESS;

    fe_tq_append(q, &cs->tq, stamp);
    cs->in_pollset = 1;
    if (ka_set && ch->ka.ep >= 0 && fe_park_ka_arm(ch, cs) == 0) {
        cs->ka_parked = 1;       /* workers may take it from here on */
        fe_sb_publish_keepalive(ch);
    }
    else {
        rv = apr_pollset_add(ch->pollset, &cs->pfd);
    }
    if (rv != APR_SUCCESS) {
        fe_tq_remove(&cs->tq);
        cs->in_pollset = 0;
    }
    return rv;
}

static apr_int16_t fe_events_for(int sense)
{
    return sense == CONN_SENSE_WANT_WRITE
           ? APR_POLLOUT | APR_POLLHUP | APR_POLLERR
           : APR_POLLIN | APR_POLLHUP | APR_POLLERR;
}

/* Pre-condition: park.mutex held. */
static fe_tq_t *fe_queue_for(fe_child_t *ch, fe_conn_t *cs, int state)
{
    switch (state) {
    case CONN_STATE_KEEPALIVE:
        return fe_tqset_get(&ch->park.ka_qs, cs->ka_timeout);
    case CONN_STATE_LINGER_SHORT:
        return &ch->park.short_linger_q;
    case CONN_STATE_LINGER_NORMAL:
        return &ch->park.linger_q;
    default:
        return fe_tqset_get(&ch->park.io_qs, cs->io_timeout);
    }
}

apr_status_t fe_park(fe_conn_t *cs, int state, int sense, int resume,
                     apr_time_t stamp)
{
    fe_child_t *ch = cs->child;
    apr_status_t rv;
    int wake = 0;
    fe_tq_t *q;

    cs->pub.state = state;
    cs->pub.sense = CONN_SENSE_DEFAULT;
    cs->resume_state = resume;
    cs->pfd.reqevents = fe_events_for(sense);

    apr_thread_mutex_lock(ch->park.mutex);
    q = fe_queue_for(ch, cs, state);
    /* Idle keep-alive connections go to the set idle workers watch
     * (fdqueue/fe_kaset.c).  Other waits stay with the listener: they are
     * rarer, and measured no faster there (HTTP/2's ASYNC_WAITIO). */
    rv = fe_park_locked(ch, cs, q, stamp, state == CONN_STATE_KEEPALIVE);
    if (rv == APR_SUCCESS) {
        apr_time_t due = fe_tq_next_expiry(q);   /* head's, <= ours */

        if (state == CONN_STATE_KEEPALIVE
            && stamp + FE_IDLE_TRIM_AFTER < due) {
            due = stamp + FE_IDLE_TRIM_AFTER;     /* fe_trim_idle() */
        }
        ch->park.wc_count += state == CONN_STATE_WRITE_COMPLETION;
        ch->park.waitio_count += state == CONN_STATE_ASYNC_WAITIO;
        if (due != FE_TQ_NEVER
            && due + FE_WAKEUP_FUDGE < ch->park.next_wakeup) {
            ch->park.next_wakeup = due;
            wake = 1;
        }
    }
    apr_thread_mutex_unlock(ch->park.mutex);
    if (wake) {
        fe_listener_wakeup(ch);
    }
    return rv;
}

/* Pre-condition: park.mutex held.  The listener's next pass comes no
 * later than @a q's first expiry; 1 when that made it earlier. */
static int fe_plan_locked(fe_child_t *ch, const fe_tq_t *q)
{
    if (fe_tq_next_expiry(q) < ch->park.next_wakeup) {
        ch->park.next_wakeup = fe_tq_next_expiry(q);
        return 1;
    }
    return 0;
}

/* Pre-condition: park.mutex held, cs parked.  Like a new connection
 * waiting for its head: no worker, so not in the accept rule, but in the
 * fresh cap. */
static void fe_count_fresh_locked(fe_child_t *ch, fe_conn_t *cs)
{
    cs->in_fresh = 1;
    ch->park.fresh_count++;
}

void fe_park_fresh(fe_child_t *ch, fe_conn_t *cs)
{
    apr_status_t rv;

    apr_thread_mutex_lock(ch->park.mutex);
    rv = fe_park_locked(ch, cs, &ch->park.fresh_q, ch->loop_now, 0);
    if (rv == APR_SUCCESS) {
        fe_count_fresh_locked(ch, cs);
        fe_plan_locked(ch, &ch->park.fresh_q);
    }
    apr_thread_mutex_unlock(ch->park.mutex);
    if (rv != APR_SUCCESS) {
        fe_park_dispatch(ch, cs);    /* as a blocking read would take it */
    }
}

apr_time_t fe_park_due(const fe_conn_t *cs)
{
    fe_intake_clock_t ic;

    ic.accepted = cs->accepted_at;
    ic.bytes = cs->head_len;
    ic.head_end = cs->head_end;
    ic.head_done = cs->head_done;
    ic.last_read = cs->last_read;
    return fe_intake_due(&fe_g.head_deadline, &fe_g.body_deadline,
                         fe_g.body_idle, &ic);
}

/* Pre-condition: park.mutex held, @a due > @a now.  The fresh_more queue
 * for a wait until @a due. */
static fe_tq_t *fe_fresh_more_for(fe_child_t *ch, apr_time_t due,
                                  apr_time_t now)
{
    return fe_tqset_get(&ch->park.fresh_more, fe_tq_quantum(due - now));
}

int fe_park_fresh_extend_locked(fe_child_t *ch, fe_conn_t *cs,
                                apr_time_t now)
{
    apr_time_t due = fe_park_due(cs);
    fe_tq_t *q;

    if (ch->stop.dying || due <= now) {
        return 0;
    }
    q = fe_fresh_more_for(ch, due, now);
    fe_tq_append(q, &cs->tq, now);
    fe_plan_locked(ch, q);
    return 1;
}

apr_status_t fe_park_intake(fe_conn_t *cs, int sense)
{
    fe_child_t *ch = cs->child;
    apr_time_t now = apr_time_now(), due = fe_park_due(cs);
    apr_status_t rv;
    int wake = 0;
    fe_tq_t *q;

    cs->pub.state = CONN_STATE_PROCESSING;
    cs->pub.sense = CONN_SENSE_DEFAULT;
    cs->resume_state = CONN_STATE_PROCESSING;
    cs->pfd.reqevents = fe_events_for(sense);
    if (due <= now) {
        due = now + FE_TQ_QUANTUM_MIN;   /* expires at once: LATE/CLOSE */
    }
    apr_thread_mutex_lock(ch->park.mutex);
    q = fe_fresh_more_for(ch, due, now);
    rv = fe_park_locked(ch, cs, q, now, 0);
    if (rv == APR_SUCCESS) {
        fe_count_fresh_locked(ch, cs);
        wake = fe_plan_locked(ch, q);
    }
    apr_thread_mutex_unlock(ch->park.mutex);
    if (wake) {
        fe_listener_wakeup(ch);
    }
    return rv;
}

apr_status_t fe_park_rearm_locked(fe_child_t *ch, fe_conn_t *cs)
{
    apr_status_t rv;

    if (!cs->ka_parked || fe_park_ka_arm(ch, cs) == 0) {
        return APR_SUCCESS;
    }
    cs->ka_parked = 0;
    rv = apr_pollset_add(ch->pollset, &cs->pfd);
    if (rv != APR_SUCCESS) {
        fe_unpark_locked(ch, cs);
    }
    return rv;
}

void fe_park_ka_disarm_locked(fe_child_t *ch, fe_conn_t *cs)
{
    if (cs->ka_parked) {
        fe_park_ka_disarm(ch, cs);
    }
}

/* ------------------------------------------------------------ unparking */

void fe_unpark_claimed_locked(fe_child_t *ch, fe_conn_t *cs)
{
    /* A flag, not the queue: an expired entry is in no queue any more. */
    if (cs->in_fresh) {
        cs->in_fresh = 0;
        ch->park.fresh_count--;
    }
    fe_tq_remove(&cs->tq);
    if (cs->pub.state == CONN_STATE_WRITE_COMPLETION) {
        ch->park.wc_count--;
    }
    else if (cs->pub.state == CONN_STATE_ASYNC_WAITIO) {
        ch->park.waitio_count--;
    }
    cs->ka_parked = 0;
    cs->in_pollset = 0;
}

void fe_unpark_locked(fe_child_t *ch, fe_conn_t *cs)
{
    if (cs->ka_parked) {
        fe_park_ka_disarm(ch, cs);
    }
    else {
        apr_pollset_remove(ch->pollset, &cs->pfd);   /* NOTFOUND is fine */
    }
    fe_unpark_claimed_locked(ch, cs);
}

void fe_park_dispatch(fe_child_t *ch, fe_conn_t *cs)
{
    cs->ready_at = ch->loop_now;
    if (fe_work_push_ready(ch, cs) != APR_SUCCESS) {
        /* Only after the queue's termination: the child is exiting now. */
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, ch->s, FELOGNO(10137)
                     "dropping a ready connection: the child is exiting");
    }
}
