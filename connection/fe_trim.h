/**
 * @file fe_trim.h
 * @brief Idle keep-alive connections give back memory
 *        (connection/fe_trim.c).
 */
#ifndef FE_TRIM_H
#define FE_TRIM_H

#include "mpm_fastevent.h"

/** Listener: trim the connections idle for FE_IDLE_TRIM_AFTER that were
 *  not trimmed yet in this idle period, and plan the next pass. */
void fe_trim_idle(fe_child_t *ch, apr_time_t now);

#endif /* FE_TRIM_H */
