/*
 * fe_config.c: the sizing directives' defaults, their argument parsers and
 * the clamp rules of fe_limits_check().
 *
 * Owns: turning a directive argument into a number (or a readable error),
 * and turning a possibly inconsistent fe_limits_t into a consistent one,
 * reporting each adjustment once through the caller's fe_diag_fn with its
 * own FE100xx tag (registry: docs/log-tags.md, FE10001..FE10049).
 *
 * Must not: include httpd headers, log by itself, read the clock, keep
 * state between calls, or allocate anything but error strings from the
 * caller's pool.  Restart awareness comes in as arguments (the first
 * ServerLimit and ThreadLimit), never from a static.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include "policy/fe_config.h"

/* One tag per rule and direction; numbers are never reused. */
enum {
    TAG_SERVER_LIMIT_HIGH  = 10001,   /* rule 1 */
    TAG_SERVER_LIMIT_LOW   = 10002,   /* rule 1 */
    TAG_SERVER_LIMIT_FROZEN = 10003,  /* rule 2 */
    TAG_THREAD_LIMIT_HIGH  = 10004,   /* rule 3 */
    TAG_THREAD_LIMIT_LOW   = 10005,   /* rule 3 */
    TAG_THREAD_LIMIT_FROZEN = 10006,  /* rule 3 */
    TAG_TPC_HIGH           = 10007,   /* rule 4 */
    TAG_TPC_LOW            = 10008,   /* rule 4 */
    TAG_WORKERS_LOW        = 10009,   /* rule 5 */
    TAG_WORKERS_ROUNDED    = 10010,   /* rule 6 */
    TAG_WORKERS_SERVER_LIMIT = 10011, /* rule 7 */
    TAG_START_LOW          = 10012,   /* rule 8 */
    TAG_START_HIGH         = 10013,   /* rule 8 */
    TAG_MIN_SPARE_LOW      = 10014,   /* rule 9 */
    TAG_FACTOR_LOW         = 10015,   /* rule 11 */
    TAG_TPC_ABOVE_MAX      = 10016    /* rule 4, ThreadLimit at its cap */
};


void fe_limits_defaults(fe_limits_t *l)
{
    l->server_limit = FE_DEFAULT_SERVER_LIMIT;
    l->thread_limit = FE_DEFAULT_THREAD_LIMIT;
    l->threads_per_child = FE_DEFAULT_THREADS_PER_CHILD;
    l->max_workers = FE_DEFAULT_MAX_WORKERS;
    l->min_spare_threads = FE_DEFAULT_MIN_SPARE_THREADS;
    l->max_spare_threads = FE_DEFAULT_MAX_SPARE_THREADS;
    l->start_servers = FE_DEFAULT_START_SERVERS;
    l->worker_factor = FE_DEFAULT_WORKER_FACTOR;
    l->cpu_affinity = 1;
    l->ka_poll = 0;
    l->sched_batch = FE_SCHED_BATCH_AUTO;
    l->ka_hold = FE_HOLD_AUTO;
    l->proxy_reserve = FE_DEFAULT_PROXY_RESERVE;
    l->body_buffer = FE_DEFAULT_BODY_BUFFER;
    l->active_daemons_limit = FE_DEFAULT_MAX_WORKERS
                              / FE_DEFAULT_THREADS_PER_CHILD;
}

/* ------------------------------------------------------------- parsers */

/*
 * Whitespace is rejected, not skipped: httpd has already split the line
 * into arguments, so a blank inside one can only come from quoting
 * ("ThreadsPerChild ' 25'"), which is more likely a mistake than intent.
 * strtol() itself would skip leading blanks, hence the explicit check that
 * the text starts with a digit (after an optional '-').
 */
const char *fe_parse_int(const char *directive, const char *arg, int *out,
                         apr_pool_t *p)
{
    const char *digits;
    char *end;
    long v;

    if (arg == NULL) {
        arg = "";
    }
    digits = (arg[0] == '-') ? arg + 1 : arg;
    if (!apr_isdigit(*digits)) {
        return apr_psprintf(p, "%s takes a whole number, not '%s'",
                            directive, arg);
    }
    errno = 0;
    v = strtol(arg, &end, 10);
    if (*end != '\0') {
        return apr_psprintf(p, "%s takes a whole number, not '%s'",
                            directive, arg);
    }
    if (errno == ERANGE || v < INT_MIN || v > INT_MAX) {
        return apr_psprintf(p, "%s '%s' is out of range: use a whole number "
                            "from %d to %d", directive, arg, INT_MIN,
                            INT_MAX);
    }
    *out = (int)v;
    return NULL;
}

/*
 * Plain decimal notation only: a digit or '.' first, then digits, '.',
 * exponent letters and signs.  This keeps strtod()'s extras out ("nan",
 * "inf", "0x1p1", leading blanks), and a leading '-' along with them, since
 * the factor must be positive anyway.
 */
static int looks_decimal(const char *s)
{
    if (!apr_isdigit(*s) && *s != '.') {
        return 0;
    }
    return s[strspn(s, "0123456789.eE+-")] == '\0';
}

const char *fe_parse_affinity(const char *arg, int *out, apr_pool_t *p)
{
    if (arg != NULL && (!strcasecmp(arg, "auto") || !strcasecmp(arg, "on"))) {
        *out = 1;
        return NULL;
    }
    if (arg != NULL && !strcasecmp(arg, "off")) {
        *out = 0;
        return NULL;
    }
    return apr_psprintf(p, "FastEventCPUAffinity takes auto or off, not "
                        "'%s'", arg != NULL ? arg : "");
}

const char *fe_parse_reserve(const char *arg, int *out, apr_pool_t *p)
{
    const char *s = arg != NULL ? arg : "";
    int v = 0, digits = 0;

    if (!strcasecmp(s, "off")) {
        *out = 0;
        return NULL;
    }
    while (*s >= '0' && *s <= '9' && digits < 3) {
        v = v * 10 + (*s++ - '0');
        digits++;
    }
    if (*s == '%') {
        s++;
    }
    if (digits == 0 || *s != '\0' || v > FE_MAX_PROXY_RESERVE) {
        return apr_psprintf(p, "FastEventProxyReserve takes off or a "
                            "percentage of each child's workers from 0 to "
                            "%d (e.g. 25%%), not '%s'", FE_MAX_PROXY_RESERVE,
                            arg != NULL ? arg : "");
    }
    *out = v;
    return NULL;
}

/* One of a directive's words, in any case: NULL and *out set, or an
 * error message that names the directive, the value and the choices. */
typedef struct fe_word {
    const char *name;
    int v;
} fe_word_t;

static const char *fe_parse_word(const char *directive, const fe_word_t *w,
                                 size_t n, const char *arg, int *out,
                                 apr_pool_t *p)
{
    size_t i;

    for (i = 0; arg != NULL && i < n; i++) {
        if (!strcasecmp(arg, w[i].name)) {
            *out = w[i].v;
            return NULL;
        }
    }
    return apr_psprintf(p, "%s takes auto, on or off, not '%s'", directive,
                        arg != NULL ? arg : "");
}

const char *fe_parse_sched(const char *arg, int *out, apr_pool_t *p)
{
    static const fe_word_t words[] = {
        {"auto", FE_SCHED_BATCH_AUTO}, {"on", FE_SCHED_BATCH_ON},
        {"off", FE_SCHED_BATCH_OFF},
    };

    return fe_parse_word("FastEventSchedBatch", words,
                         sizeof words / sizeof words[0], arg, out, p);
}

const char *fe_parse_hold(const char *arg, int *out, apr_pool_t *p)
{
    static const fe_word_t words[] = {
        {"auto", FE_HOLD_AUTO}, {"on", FE_HOLD_ON}, {"off", FE_HOLD_OFF},
    };

    return fe_parse_word("FastEventKeepAliveHold", words,
                         sizeof words / sizeof words[0], arg, out, p);
}

int fe_hold_mode_allows(int mode, int tls)
{
    return mode == FE_HOLD_ON || (mode == FE_HOLD_AUTO && !tls);
}

const char *fe_parse_size(const char *arg, long *out, apr_pool_t *p)
{
    const char *s = arg != NULL ? arg : "";
    long v = 0, unit = 1;
    int digits = 0;

    if (!strcasecmp(s, "off")) {
        *out = 0;
        return NULL;
    }
    while (*s >= '0' && *s <= '9' && v <= FE_MAX_BODY_BUFFER) {
        v = v * 10 + (*s++ - '0');
        digits++;
    }
    if (*s == 'k' || *s == 'K') {
        unit = 1024;
        s++;
    }
    else if (*s == 'm' || *s == 'M') {
        unit = 1024 * 1024;
        s++;
    }
    if (digits == 0 || *s != '\0' || v > FE_MAX_BODY_BUFFER / unit) {
        return apr_psprintf(p, "FastEventBodyBuffer takes off or a size "
                            "in bytes up to 64M, with an optional K or M "
                            "suffix (e.g. 128K), not '%s'",
                            arg != NULL ? arg : "");
    }
    *out = v * unit;
    return NULL;
}

static const char *not_positive(const char *arg, apr_pool_t *p)
{
    return apr_psprintf(p, "AsyncRequestWorkerFactor takes a positive number "
                        "such as 2 or 1.5, not '%s'", arg);
}

const char *fe_parse_factor(const char *arg, double *out, apr_pool_t *p)
{
    char *end;
    double v;

    if (arg == NULL) {
        arg = "";
    }
    if (!looks_decimal(arg)) {
        return not_positive(arg, p);
    }
    v = strtod(arg, &end);
    if (end == arg || *end != '\0') {
        return not_positive(arg, p);
    }
    if (!isfinite(v) || v > FE_MAX_WORKER_FACTOR) {
        return apr_psprintf(p, "AsyncRequestWorkerFactor '%s' is too large: "
                            "the maximum is %g", arg, FE_MAX_WORKER_FACTOR);
    }
    if (!(v > 0.0)) {           /* "0", or an underflow such as "1e-999" */
        return not_positive(arg, p);
    }
    *out = v;
    return NULL;
}

/* --------------------------------------------------------- clamp rules */

typedef struct check_ctx {
    fe_diag_fn *diag;
    void *baton;
    int first_server_limit;     /* > 0 on a restart */
    int first_thread_limit;     /* > 0 on a restart */
    int reported;
} check_ctx_t;

static void report(check_ctx_t *cx, int tag, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Count the adjustment and hand one formatted line to the diag callback. */
static void report(check_ctx_t *cx, int tag, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    cx->reported++;
    if (cx->diag == NULL) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    cx->diag(cx->baton, FE_DIAG_WARNING, tag, "%s", msg);
}

/* Rules 1 and 3: a compiled-in range [1, max]. */
static void clamp_range(check_ctx_t *cx, const char *name, int *value,
                        int max, int tag_high, int tag_low)
{
    if (*value > max) {
        report(cx, tag_high, "%s of %d exceeds compile-time limit of %d, "
               "decreasing to match: %s %d is above the compiled-in maximum "
               "%d: using %s %d; set %s to %d or less", name, *value, max,
               name, *value, max, name, max, name, max);
        *value = max;
    }
    else if (*value < 1) {
        report(cx, tag_low, "%s of %d not allowed, increasing to 1: %s %d "
               "is below the minimum 1: using %s 1; set %s to 1 or more",
               name, *value, name, *value, name, name);
        *value = 1;
    }
}

/*
 * Rules 2 and 3: ServerLimit and ThreadLimit size the scoreboard, which is
 * created once at the first start and kept across restarts.
 */
static void freeze(check_ctx_t *cx, const char *name, int *value, int first,
                   int tag)
{
    if (first <= 0 || *value == first) {
        return;
    }
    report(cx, tag, "changing %s to %d from original value of %d not "
           "allowed during restart: %s %d differs from %s %d the server "
           "started with, and %s cannot change on a graceful or ordinary "
           "restart: keeping %s %d; a full stop/start of the server is "
           "needed to use %s %d", name, *value, first, name, *value, name,
           first, name, name, first, name, *value);
    *value = first;
}

/* Rule 4: ThreadsPerChild into [1, ThreadLimit]. */
static void check_threads_per_child(fe_limits_t *l, check_ctx_t *cx)
{
    int tpc = l->threads_per_child, tl = l->thread_limit;
    const char *note = cx->first_thread_limit > 0
                       ? " (a new ThreadLimit needs a full stop/start)" : "";

    if (tpc > tl && tpc <= FE_MAX_THREAD_LIMIT) {
        report(cx, TAG_TPC_HIGH, "ThreadsPerChild of %d exceeds ThreadLimit "
               "of %d, decreasing to match: ThreadsPerChild %d is above "
               "ThreadLimit %d: using ThreadsPerChild %d; raise ThreadLimit "
               "to %d%s or lower ThreadsPerChild to %d", tpc, tl, tpc, tl,
               tl, tpc, note, tl);
        l->threads_per_child = tl;
    }
    else if (tpc > tl) {
        report(cx, TAG_TPC_ABOVE_MAX, "ThreadsPerChild of %d exceeds "
               "ThreadLimit of %d, decreasing to match: ThreadsPerChild %d "
               "is above ThreadLimit %d (which cannot exceed %d): using "
               "ThreadsPerChild %d; lower ThreadsPerChild to %d or less",
               tpc, tl, tpc, tl, FE_MAX_THREAD_LIMIT, tl, tl);
        l->threads_per_child = tl;
    }
    else if (tpc < 1) {
        report(cx, TAG_TPC_LOW, "ThreadsPerChild of %d not allowed, "
               "increasing to 1: ThreadsPerChild %d is below the minimum 1: "
               "using ThreadsPerChild 1; set ThreadsPerChild to 1 or more",
               tpc, tpc);
        l->threads_per_child = 1;
    }
}

/* Rule 5: one process always brings ThreadsPerChild workers. */
static void check_workers_floor(fe_limits_t *l, check_ctx_t *cx)
{
    int tpc = l->threads_per_child;

    if (l->max_workers >= tpc) {
        return;
    }
    report(cx, TAG_WORKERS_LOW, "MaxRequestWorkers of %d is less than "
           "ThreadsPerChild of %d, increasing to match: MaxRequestWorkers %d "
           "is less than the %d workers of one process (ThreadsPerChild %d): "
           "using MaxRequestWorkers %d; set MaxRequestWorkers to %d or more, "
           "or lower ThreadsPerChild", l->max_workers, tpc, l->max_workers,
           tpc, tpc, tpc, tpc);
    l->max_workers = tpc;
}

/* Rule 6: whole processes only. */
static void check_workers_multiple(fe_limits_t *l, check_ctx_t *cx)
{
    int tpc = l->threads_per_child;
    int n = l->max_workers / tpc, rest = l->max_workers % tpc;
    long long up = ((long long)n + 1) * tpc;   /* n may be INT_MAX */
    char alt[32] = "";

    if (rest == 0) {
        return;
    }
    if (up <= INT_MAX) {
        snprintf(alt, sizeof(alt), " or %lld", up);
    }
    report(cx, TAG_WORKERS_ROUNDED, "MaxRequestWorkers of %d is not an "
           "integer multiple of ThreadsPerChild of %d, decreasing to nearest "
           "multiple %d: MaxRequestWorkers %d is not a multiple of "
           "ThreadsPerChild %d (%d x %d + %d): using MaxRequestWorkers %d "
           "(%d processes); set MaxRequestWorkers to %d%s", l->max_workers,
           tpc, n * tpc, l->max_workers, tpc, n, tpc, rest, n * tpc, n,
           n * tpc, alt);
    l->max_workers = n * tpc;
}

/*
 * Rule 7: active_daemons_limit processes must fit below ServerLimit.  Stock
 * event only caps active_daemons_limit and keeps the larger
 * MaxRequestWorkers; lowering it too keeps the two figures consistent, so
 * what mod_status and the spawn policy see is what can actually run.
 */
static void check_active_daemons(fe_limits_t *l, check_ctx_t *cx)
{
    int tpc = l->threads_per_child, sl = l->server_limit;
    int need = l->max_workers / tpc;
    const char *note = cx->first_server_limit > 0
                       ? " (a new ServerLimit needs a full stop/start)" : "";
    char fix[160];

    l->active_daemons_limit = need;
    if (need <= sl) {
        return;
    }
    if (need <= FE_MAX_SERVER_LIMIT) {
        snprintf(fix, sizeof(fix), "raise ServerLimit to %d to allow %d%s",
                 need, l->max_workers, note);
    }
    else {
        snprintf(fix, sizeof(fix), "raise ThreadsPerChild to allow %d, as "
                 "ServerLimit cannot exceed %d", l->max_workers,
                 FE_MAX_SERVER_LIMIT);
    }
    report(cx, TAG_WORKERS_SERVER_LIMIT, "MaxRequestWorkers of %d would "
           "require %d servers and exceed ServerLimit of %d, decreasing to "
           "%d: MaxRequestWorkers %d needs %d processes of ThreadsPerChild "
           "%d, but ServerLimit %d allows only %d: using MaxRequestWorkers "
           "%d (%d x %d); %s", l->max_workers, need, sl, sl * tpc,
           l->max_workers, need, tpc, sl, sl, sl * tpc, sl, tpc, fix);
    l->active_daemons_limit = sl;
    l->max_workers = sl * tpc;
}

/* Rule 8: StartServers into [1, active_daemons_limit]. */
static void check_start_servers(fe_limits_t *l, check_ctx_t *cx)
{
    int adl = l->active_daemons_limit;

    if (l->start_servers < 1) {
        report(cx, TAG_START_LOW, "StartServers of %d not allowed, "
               "increasing to 1: StartServers %d is below the minimum 1: "
               "using StartServers 1; set StartServers to 1 or more",
               l->start_servers, l->start_servers);
        l->start_servers = 1;
    }
    else if (l->start_servers > adl) {
        report(cx, TAG_START_HIGH, "StartServers %d is above the process "
               "limit %d that MaxRequestWorkers %d and ThreadsPerChild %d "
               "give (%d / %d): using StartServers %d; lower StartServers to "
               "%d or raise MaxRequestWorkers", l->start_servers, adl,
               l->max_workers, l->threads_per_child, l->max_workers,
               l->threads_per_child, adl, adl);
        l->start_servers = adl;
    }
}

/* Rule 9. */
static void check_min_spare(fe_limits_t *l, check_ctx_t *cx)
{
    if (l->min_spare_threads >= 1) {
        return;
    }
    report(cx, TAG_MIN_SPARE_LOW, "MinSpareThreads of %d not allowed, "
           "increasing to 1: MinSpareThreads %d is below the minimum 1: "
           "using MinSpareThreads 1; set MinSpareThreads to 1 or more",
           l->min_spare_threads, l->min_spare_threads);
    l->min_spare_threads = 1;
}

/*
 * Rule 10, silent as in stock event: retiring one process must not push
 * the idle count below MinSpareThreads, or the parent would retire and
 * respawn a process every tick.  Saturates instead of overflowing.
 */
static void floor_max_spare(fe_limits_t *l)
{
    int lowest;

    if (l->min_spare_threads > INT_MAX - l->threads_per_child) {
        lowest = INT_MAX;
    }
    else {
        lowest = l->min_spare_threads + l->threads_per_child;
    }
    if (l->max_spare_threads < lowest) {
        l->max_spare_threads = lowest;
    }
}

/* Rule 11; "!(x >= 1)" also catches a NaN set by hand. */
static void check_worker_factor(fe_limits_t *l, check_ctx_t *cx)
{
    if (l->worker_factor >= 1.0) {
        return;
    }
    report(cx, TAG_FACTOR_LOW, "AsyncRequestWorkerFactor %g is below the "
           "minimum 1: using AsyncRequestWorkerFactor 1; set "
           "AsyncRequestWorkerFactor to 1 or more", l->worker_factor);
    l->worker_factor = 1.0;
}

int fe_limits_check(fe_limits_t *l, int first_server_limit,
                    int first_thread_limit, fe_diag_fn *diag, void *baton)
{
    check_ctx_t cx;

    cx.diag = diag;
    cx.baton = baton;
    cx.first_server_limit = first_server_limit;
    cx.first_thread_limit = first_thread_limit;
    cx.reported = 0;

    clamp_range(&cx, "ServerLimit", &l->server_limit, FE_MAX_SERVER_LIMIT,
                TAG_SERVER_LIMIT_HIGH, TAG_SERVER_LIMIT_LOW);      /* 1 */
    freeze(&cx, "ServerLimit", &l->server_limit, first_server_limit,
           TAG_SERVER_LIMIT_FROZEN);                               /* 2 */
    clamp_range(&cx, "ThreadLimit", &l->thread_limit, FE_MAX_THREAD_LIMIT,
                TAG_THREAD_LIMIT_HIGH, TAG_THREAD_LIMIT_LOW);      /* 3 */
    freeze(&cx, "ThreadLimit", &l->thread_limit, first_thread_limit,
           TAG_THREAD_LIMIT_FROZEN);                               /* 3 */
    check_threads_per_child(l, &cx);                               /* 4 */
    check_workers_floor(l, &cx);                                   /* 5 */
    check_workers_multiple(l, &cx);                                /* 6 */
    check_active_daemons(l, &cx);                                  /* 7 */
    check_start_servers(l, &cx);                                   /* 8 */
    check_min_spare(l, &cx);                                       /* 9 */
    floor_max_spare(l);                                            /* 10 */
    check_worker_factor(l, &cx);                                   /* 11 */
    return cx.reported;
}
