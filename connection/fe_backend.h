/**
 * @file fe_backend.h
 * @brief A saturated backend gets at most a share of a child's workers
 *        (connection/fe_backend.c).
 */
#ifndef FE_BACKEND_H
#define FE_BACKEND_H

#include "mpm_fastevent.h"

/** The handler hook that paces proxied requests. */
void fe_backend_register_hooks(void);

/** Child, before its threads start: the line's mutex (none when
 *  FastEventProxyReserve is off). */
apr_status_t fe_backend_setup(fe_child_t *ch);

/** 1 when the child, or any child of the server, handed a request to
 *  mod_proxy within the last FE_PACE_PROXY_QUIET seconds up to @a now:
 *  its workers wait on a backend (no pacing, fdqueue/fe_work.c).  Any
 *  thread. */
int fe_backend_proxying(fe_child_t *ch, apr_time_t now);

#endif /* FE_BACKEND_H */
