/**
 * @file fe_child.h
 * @brief A child process (process/fe_child.c).
 */
#ifndef FE_CHILD_H
#define FE_CHILD_H

#include "mpm_fastevent.h"

/**
 * The life of a child process in scoreboard slot @a slot serving listener
 * bucket @a bucket: start, serve until told to stop, stop.  Returns the
 * process's exit code (0, APEXIT_CHILDSICK or APEXIT_CHILDFATAL) once
 * everything it owns is released; the caller exits with it.
 */
int fe_child_main(int slot, int bucket);

/** How a child stops. */
typedef enum fe_stop {
    FE_STOP_GRACEFUL,         /**< finish what is in flight, then exit */
    FE_STOP_NOW               /**< shut in-flight sockets down and exit */
} fe_stop_e;

/** Start stopping (any thread).  Idempotent, and it can only escalate
 *  (graceful -> now). */
void fe_child_signal_stop(fe_child_t *ch, fe_stop_e how);

#endif /* FE_CHILD_H */
