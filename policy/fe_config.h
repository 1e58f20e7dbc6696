/**
 * @file fe_config.h
 * @brief The MPM's sizing directives: defaults, parsing and the clamp rules.
 *
 * Pure component: APR only.  Directive handlers in mod_mpm_fastevent.c call
 * the parsers; the check_config hook calls fe_limits_check(), which clamps
 * inconsistent values the way stock event does and reports each adjustment
 * once through the diag callback, naming the directives and the arithmetic.
 */
#ifndef FE_CONFIG_H
#define FE_CONFIG_H

#include <apr_pools.h>
#include "policy/fe_diag.h"

/* Stock event's defaults and compile-time caps. */
#define FE_DEFAULT_SERVER_LIMIT      16
#define FE_MAX_SERVER_LIMIT          20000
#define FE_DEFAULT_THREAD_LIMIT      64
#define FE_MAX_THREAD_LIMIT          100000
#define FE_DEFAULT_THREADS_PER_CHILD 25
#define FE_DEFAULT_START_SERVERS     3
#define FE_DEFAULT_MIN_SPARE_THREADS 75
#define FE_DEFAULT_MAX_SPARE_THREADS 250
#define FE_DEFAULT_MAX_WORKERS       400   /* ServerLimit 16 x 25 */
#define FE_DEFAULT_WORKER_FACTOR     2.0
#define FE_MAX_WORKER_FACTOR         1000.0
#define FE_DEFAULT_PROXY_RESERVE     25    /* percent */
#define FE_MAX_PROXY_RESERVE         90
/* FastEventSchedBatch */
#define FE_SCHED_BATCH_OFF           0
#define FE_SCHED_BATCH_ON            1
#define FE_SCHED_BATCH_AUTO          2     /* the default */
/* FastEventKeepAliveHold */
#define FE_HOLD_OFF                  0
#define FE_HOLD_ON                   1     /* TLS connections too */
#define FE_HOLD_AUTO                 2     /* the default: plain HTTP only */
#define FE_DEFAULT_BODY_BUFFER       (128 * 1024)   /* bytes */
#define FE_MAX_BODY_BUFFER           (64 * 1024 * 1024)

/** The sizing directives of one configuration cycle. */
typedef struct fe_limits {
    int server_limit;        /**< ServerLimit */
    int thread_limit;        /**< ThreadLimit */
    int threads_per_child;   /**< ThreadsPerChild */
    int max_workers;         /**< MaxRequestWorkers (MaxClients) */
    int min_spare_threads;   /**< MinSpareThreads */
    int max_spare_threads;   /**< MaxSpareThreads */
    int start_servers;       /**< StartServers */
    double worker_factor;    /**< AsyncRequestWorkerFactor, real-valued */
    int cpu_affinity;        /**< FastEventCPUAffinity: 1 auto, 0 off */
    int ka_poll;             /**< FastEventKeepAlivePoll: 1 on, 0 off */
    int sched_batch;         /**< FastEventSchedBatch: FE_SCHED_BATCH_* */
    int ka_hold;             /**< FastEventKeepAliveHold: FE_HOLD_* */
    int proxy_reserve;       /**< FastEventProxyReserve: percent of a
                                  child's workers kept from proxy handlers
                                  while other work waits; 0: off */
    long body_buffer;        /**< FastEventBodyBuffer: request bodies of
                                  at most this many bytes are read before
                                  a worker runs the request; 0: off */
    /** Derived by fe_limits_check(): max_workers / threads_per_child. */
    int active_daemons_limit;
} fe_limits_t;

/** Fill @a l with stock event's defaults. */
void fe_limits_defaults(fe_limits_t *l);

/**
 * Parse a whole decimal integer directive argument.
 * Rejects empty strings, signs other than a leading '-', trailing junk and
 * overflow.  Leading or trailing whitespace is rejected too (httpd has
 * already split the arguments, so a blank can only come from quoting).
 * Negative values parse; fe_limits_check() clamps them.
 * @return NULL on success (and *out set), otherwise an error
 * message allocated from @a p that names @a directive and the bad value.
 */
const char *fe_parse_int(const char *directive, const char *arg, int *out,
                         apr_pool_t *p);

/**
 * Parse AsyncRequestWorkerFactor: a positive real number (e.g. "1.5").
 * Rejects junk, NaN/inf, values <= 0 and values above
 * FE_MAX_WORKER_FACTOR.  Only plain decimal notation is accepted (no
 * whitespace, sign, hex or "nan"/"inf"); values in (0, 1) parse and are
 * raised to 1 by fe_limits_check().  @return NULL or an error message from
 * @a p; *out is untouched on error.
 */
const char *fe_parse_factor(const char *arg, double *out, apr_pool_t *p);

/**
 * FastEventProxyReserve: "off", or a percentage from 0 to 90 of each
 * child's workers ("25" or "25%"); off and 0 are the same.
 * @return NULL, or an error message from @a p.
 */
const char *fe_parse_reserve(const char *arg, int *out, apr_pool_t *p);

/**
 * FastEventBodyBuffer: "off" (0), or a size in bytes with an optional
 * K or M suffix (any case; 1024-based), at most FE_MAX_BODY_BUFFER.
 * @return NULL, or an error message from @a p.
 */
const char *fe_parse_size(const char *arg, long *out, apr_pool_t *p);

/**
 * FastEventSchedBatch: "auto" (FE_SCHED_BATCH_AUTO), "on", "off", in any
 * case.  @return NULL, or an error message from @a p.
 */
const char *fe_parse_sched(const char *arg, int *out, apr_pool_t *p);

/**
 * FastEventKeepAliveHold: "auto" (FE_HOLD_AUTO), "on", "off", in any
 * case.  @return NULL, or an error message from @a p.
 */
const char *fe_parse_hold(const char *arg, int *out, apr_pool_t *p);

/** 1 when a worker may hold a keep-alive connection under @a mode
 *  (FE_HOLD_*): @a tls says whether the connection is TLS. */
int fe_hold_mode_allows(int mode, int tls);

/**
 * Parse FastEventCPUAffinity: "auto" (or "on") gives 1, "off" gives 0,
 * in any case.  @return NULL or an error message from @a p that names
 * the directive, the value and the choices; *out is untouched on error.
 */
const char *fe_parse_affinity(const char *arg, int *out, apr_pool_t *p);

/**
 * Clamp @a l into a consistent configuration, in stock event's order:
 *  1. ServerLimit into [1, FE_MAX_SERVER_LIMIT];
 *  2. on a restart (first_server_limit > 0) a changed ServerLimit is
 *     refused: the first value is kept;
 *  3. ThreadLimit likewise into [1, FE_MAX_THREAD_LIMIT], frozen on restart
 *     (first_thread_limit > 0);
 *  4. ThreadsPerChild into [1, ThreadLimit];
 *  5. MaxRequestWorkers >= ThreadsPerChild;
 *  6. MaxRequestWorkers rounded down to a multiple of ThreadsPerChild;
 *  7. active_daemons_limit = MaxRequestWorkers / ThreadsPerChild, capped at
 *     ServerLimit, and then MaxRequestWorkers lowered to
 *     active_daemons_limit * ThreadsPerChild (event keeps the higher value;
 *     we keep the two consistent);
 *  8. StartServers into [1, active_daemons_limit];
 *  9. MinSpareThreads >= 1;
 * 10. MaxSpareThreads >= MinSpareThreads + ThreadsPerChild (silently, as
 *     event does);
 * 11. AsyncRequestWorkerFactor >= 1 (values below 1 raised to 1).
 * Every adjustment except rule 10 reports once through @a diag at
 * FE_DIAG_WARNING with its own tag, a message naming each directive
 * involved, the configured value, the arithmetic and the value used, e.g.
 * "MaxRequestWorkers 1000 needs 40 processes of ThreadsPerChild 25, but
 * ServerLimit 4 allows only 4: using MaxRequestWorkers 100 (4 x 25); raise
 * ServerLimit to 40 to allow 1000".  @a diag may be NULL.
 * Tags: FE10001..FE10015, listed in docs/log-tags.md.
 * On the first start pass 0 for both first_* arguments and remember the
 * checked l->server_limit and l->thread_limit (the values after this call)
 * in retained data; pass those on every later restart.
 * @return the number of adjustments reported (with or without @a diag).
 */
int fe_limits_check(fe_limits_t *l, int first_server_limit,
                    int first_thread_limit, fe_diag_fn *diag, void *baton);

#endif /* FE_CONFIG_H */
