/**
 * @file fe_fdlimit.h
 * @brief The open-files limit against the configuration
 *        (process/fe_fdlimit.c).
 */
#ifndef FE_FDLIMIT_H
#define FE_FDLIMIT_H

#include "mpm_fastevent.h"

/** When is the limit checked: on the console during the preflight
 *  (-t included), or in the error log when a generation starts. */
typedef enum fe_nofile_when {
    FE_NOFILE_PREFLIGHT,
    FE_NOFILE_GENERATION
} fe_nofile_when_e;

/** Raise the soft limit as far as needed and allowed, or warn. */
void fe_check_nofile(server_rec *s, fe_nofile_when_e when);

#endif /* FE_FDLIMIT_H */
