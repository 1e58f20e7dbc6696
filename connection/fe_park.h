/**
 * @file fe_park.h
 * @brief Where a connection waits for the network, and the ways out of
 *        it (connection/fe_park.c).
 *
 * Parked connections sit in a timeout queue (ch->park, under park.mutex)
 * and in the listener's pollset or the keep-alive poll set.  They belong
 * to the listener, which unparks them when they are ready or their time
 * is up and hands them to a worker (fe_park_dispatch); a worker may claim
 * a keep-alive connection the keep-alive set reported to it.
 */
#ifndef FE_PARK_H
#define FE_PARK_H

#include "mpm_fastevent.h"

/** A short lingering close lasts at most this, as under stock event. */
#define FE_SHORT_LINGER_SECS  2

/** An idle keep-alive connection gives back the free pages of its memory
 *  once it has waited this long (connection/fe_trim.c). */
#define FE_IDLE_TRIM_AFTER    apr_time_from_sec(1)

/** The mutex, the queues and (keep-alive set on) the slot table, from
 *  pruntime.  Pre-condition: fe_work_setup() and the accept caps ran. */
apr_status_t fe_park_setup(fe_child_t *ch);

/**
 * Worker: hand @a cs to the listener until its socket is ready for
 * @a sense (a CONN_SENSE_* value) or its queue's timeout passes; then a
 * worker runs it again in @a resume.  @a stamp is the time the wait
 * counts from; @a state picks the queue.  On APR_SUCCESS cs is no longer
 * the caller's; on failure (the pollset's error) it still is.
 */
apr_status_t fe_park(fe_conn_t *cs, int state, int sense, int resume,
                     apr_time_t stamp);

/** Listener: a new connection waits for its request head (fresh_q).  If
 *  it cannot be parked it goes to a worker at once. */
void fe_park_fresh(fe_child_t *ch, fe_conn_t *cs);

/** Pre-condition: park.mutex held; @a cs, a connection whose request is
 *  read without a worker and whose wait in a fresh queue expired (out of
 *  its queue, still in the pollset).  When its deadline (fe_park_due())
 *  is still ahead of @a now, it waits on (1); else 0 and the caller ends
 *  the wait. */
int fe_park_fresh_extend_locked(fe_child_t *ch, fe_conn_t *cs,
                                apr_time_t now);

/** When the request cs is reading without a worker runs out of time:
 *  the header deadline, then the body's (policy/fe_deadline.h). */
apr_time_t fe_park_due(const fe_conn_t *cs);

/**
 * Worker: @a cs, whose request fe_intake reads without blocking, waits
 * for its socket to be ready for @a sense until fe_park_due(); it counts
 * with the new connections waiting for their heads (the fresh cap, not
 * the accept rule).  Then a worker runs it again (PROCESSING), or the
 * listener's kill order ends it (LATE: the core answers what came; CLOSE).
 * On APR_SUCCESS cs is no longer the caller's.
 */
apr_status_t fe_park_intake(fe_conn_t *cs, int sense);

/** Listener: hand a connection that left its wait (or never waited) to a
 *  worker, stamped for the hand-off metric. */
void fe_park_dispatch(fe_child_t *ch, fe_conn_t *cs);

/** Pre-condition: park.mutex held, cs parked.  Post: cs in neither the
 *  pollset (or keep-alive set) nor a timeout queue; the caller hands it
 *  to a worker or closes it. */
void fe_unpark_locked(fe_child_t *ch, fe_conn_t *cs);

/** Pre-condition: park.mutex held, cs parked and its wait already out of
 *  the pollset or the keep-alive set.  The bookkeeping of leaving the
 *  timeout queue. */
void fe_unpark_claimed_locked(fe_child_t *ch, fe_conn_t *cs);

/** Worker: the keep-alive connection a keep-alive set event names,
 *  unparked and ready to run; NULL when the event is stale. */
fe_conn_t *fe_park_claim(fe_child_t *ch, apr_uint64_t tag);

/** Listener, once the child stops: hand the ready connections of the
 *  keep-alive set to the workers. */
void fe_park_ka_dispatch(fe_child_t *ch);

/** Pre-condition: park.mutex held, cs parked.  Take it out of the
 *  keep-alive set for a while, still parked (memory trimming). */
void fe_park_ka_disarm_locked(fe_child_t *ch, fe_conn_t *cs);

/** Pre-condition: park.mutex held, cs parked.  Put it back in the
 *  keep-alive set, or else the pollset; on failure it is unparked and the
 *  caller closes it. */
apr_status_t fe_park_rearm_locked(fe_child_t *ch, fe_conn_t *cs);

/** The connection is closing (not parked): its keep-alive slot goes
 *  back.  Takes park.mutex. */
void fe_park_release_slot(fe_child_t *ch, fe_conn_t *cs);

#endif /* FE_PARK_H */
