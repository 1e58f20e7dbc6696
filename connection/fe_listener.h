/**
 * @file fe_listener.h
 * @brief The listener thread of a child (connection/fe_listener.c).
 */
#ifndef FE_LISTENER_H
#define FE_LISTENER_H

#include "mpm_fastevent.h"

/** The pollset with this child's listening sockets.  Pre-condition: the
 *  child's runtime (queue, parking, accept caps) is set up. */
apr_status_t fe_listener_setup(fe_child_t *ch);

/** The thread's entry point; data is the fe_child_t. */
void *APR_THREAD_FUNC fe_listener_thread(apr_thread_t *thd, void *data);

/** Wake the listener from its poll (any thread): it re-plans its wakeup
 *  and looks at the stop flags and its capacity. */
void fe_listener_wakeup(fe_child_t *ch);

#endif /* FE_LISTENER_H */
