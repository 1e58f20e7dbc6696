/**
 * @file fe_diag.h
 * @brief How pure components report to the administrator.
 *
 * Pure code never calls ap_log_error(); it calls a fe_diag_fn that the
 * httpd glue turns into a tagged log line (FE + five digits, registry in
 * docs/log-tags.md).  Levels mirror syslog/APLOG numbering so the glue can
 * pass them straight through.
 */
#ifndef FE_DIAG_H
#define FE_DIAG_H

#define FE_DIAG_EMERG   0
#define FE_DIAG_ALERT   1
#define FE_DIAG_CRIT    2
#define FE_DIAG_ERR     3
#define FE_DIAG_WARNING 4
#define FE_DIAG_NOTICE  5
#define FE_DIAG_INFO    6
#define FE_DIAG_DEBUG   7

/** @param tag the FE log tag number (e.g. 10001 for FE10001). */
typedef void fe_diag_fn(void *baton, int level, int tag, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

#endif /* FE_DIAG_H */
