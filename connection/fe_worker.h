/**
 * @file fe_worker.h
 * @brief The worker threads of a child (connection/fe_worker.c).
 */
#ifndef FE_WORKER_H
#define FE_WORKER_H

#include "mpm_fastevent.h"

/** Start argument of a worker thread. */
typedef struct fe_worker_arg {
    fe_child_t *ch;
    int tid;                  /**< its index among the child's workers */
} fe_worker_arg_t;

/** The thread's entry point; data is an fe_worker_arg_t. */
void *APR_THREAD_FUNC fe_worker_thread(apr_thread_t *thd, void *data);

#endif /* FE_WORKER_H */
