/**
 * @file fe_timer.h
 * @brief ap_mpm_register_timed_callback() and suspended connections
 *        (connection/fe_timer.c).
 */
#ifndef FE_TIMER_H
#define FE_TIMER_H

#include "mpm_fastevent.h"

/** The heap and its mutex, before child_init (modules may register timed
 *  callbacks from child_init on). */
apr_status_t fe_timers_setup(fe_child_t *ch);

/** The mpm_register_timed_callback hook: any thread of a running child. */
apr_status_t fe_register_timed_callback(apr_time_t t,
                                        ap_mpm_callback_fn_t *fn,
                                        void *baton);

/** Listener: hand the due timers to the workers. */
void fe_timers_dispatch(fe_child_t *ch, apr_time_t now);

/** Listener, right before polling: when to wake up, the earlier of
 *  @a other and the next timer (published for registrations). */
apr_time_t fe_timers_plan(fe_child_t *ch, apr_time_t other);

/** Worker: run the timer of @a node, then resume the suspended
 *  connections it completed. */
void fe_timer_run(fe_child_t *ch, fe_qnode_t *node);

/** Worker: a handler returned SUSPENDED; the module owns cs now. */
void fe_conn_suspend(fe_conn_t *cs);

#endif /* FE_TIMER_H */
