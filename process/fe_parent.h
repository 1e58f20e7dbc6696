/**
 * @file fe_parent.h
 * @brief The parent process (process/fe_parent.c).
 */
#ifndef FE_PARENT_H
#define FE_PARENT_H

#include "mpm_fastevent.h"

/** The mpm hook: run one generation (start children, maintain them,
 *  handle restarts and stops).  OK to start the next generation, DONE to
 *  exit. */
int fe_mpm_run(apr_pool_t *pconf, apr_pool_t *plog, server_rec *s);

#endif /* FE_PARENT_H */
