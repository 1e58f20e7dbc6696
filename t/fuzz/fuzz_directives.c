/*
 * fuzz_directives.c: libFuzzer harness for fe_config.[ch]: the directive
 * argument parsers fe_parse_int() / fe_parse_factor() and the clamp rules
 * of fe_limits_check().
 *
 * Input, two modes chosen by the first byte:
 *   text (first byte != 0xff): up to ten '\n'- (or NUL-) separated
 *     arguments: ServerLimit, ThreadLimit, ThreadsPerChild,
 *     MaxRequestWorkers, MinSpareThreads, MaxSpareThreads, StartServers,
 *     AsyncRequestWorkerFactor, then the first ServerLimit and ThreadLimit
 *     of a restart.  Each goes through its parser (checked against an
 *     independent grammar); parsed values fill an fe_limits_t (a parse
 *     error leaves the default), which goes through fe_limits_check().
 *   binary (first byte == 0xff): the struct fields straight from the bytes
 *     (any int, any double: NaN, inf, negatives), then the rest of the input
 *     as one more argument for both parsers.
 *
 * The first_* arguments follow the header's contract: 0 (or negative) on a
 * first start, otherwise a value an earlier check produced, i.e. within
 * [1, FE_MAX_SERVER_LIMIT] / [1, FE_MAX_THREAD_LIMIT].
 *
 * Invariants (abort() on violation, see FZ_CHECK):
 *  - parsers: accept exactly what the documented grammar accepts, with
 *    the same value; errors name the directive and quote the argument;
 *    fe_parse_factor() leaves *out untouched on error;
 *  - fe_limits_check(): every rule's postcondition (1 <= ServerLimit <=
 *    FE_MAX_SERVER_LIMIT, frozen on restart; same for ThreadLimit;
 *    1 <= ThreadsPerChild <= ThreadLimit; MaxRequestWorkers a positive
 *    multiple of ThreadsPerChild and == active_daemons_limit x
 *    ThreadsPerChild; 1 <= active_daemons_limit <= ServerLimit;
 *    1 <= StartServers <= active_daemons_limit; MinSpareThreads >= 1;
 *    MaxSpareThreads >= MinSpareThreads + ThreadsPerChild (saturated);
 *    AsyncRequestWorkerFactor >= 1);
 *  - valid values are left alone, every changed value (except the silent
 *    rule 10) is reported with its own tag, each tag at most once, at
 *    FE_DIAG_WARNING, as one untruncated line; the return value counts
 *    the reports; NULL diag gives the same count and result; the result
 *    is a fixed point (a second check, as a restart with the checked
 *    limits, reports nothing and changes nothing).
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>

#include <apr_general.h>
#include <apr_pools.h>

#include "policy/fe_config.h"
#include "fuzz_util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    (void)fz_apr_root();
    return 0;
}

/* ------------------------------------------------------------ parsers */

static const char *const int_directives[] = {
    "ServerLimit", "ThreadLimit", "ThreadsPerChild", "MaxRequestWorkers",
    "MinSpareThreads", "MaxSpareThreads", "StartServers"
};

/* The documented grammar of fe_parse_int(): an optional '-', then one or
 * more decimal digits and nothing else; the value must fit in an int.
 * Returns 1 (and *v) when accepted, 0 when rejected. */
static int oracle_int(const char *s, int *v)
{
    const char *p = s;
    int neg = 0, big = 0;
    long long acc = 0;

    if (*p == '-') {
        neg = 1;
        p++;
    }
    if (*p < '0' || *p > '9') {
        return 0;
    }
    for (; *p; p++) {
        if (*p < '0' || *p > '9') {
            return 0;
        }
        if (!big) {
            acc = acc * 10 + (*p - '0');
            big = acc > 4000000000LL;
        }
    }
    if (neg) {
        acc = -acc;
    }
    if (big || acc < INT_MIN || acc > INT_MAX) {
        return 0;
    }
    *v = (int)acc;
    return 1;
}

static int all_digits(const char **pp)
{
    const char *p = *pp;

    while (*p >= '0' && *p <= '9') {
        p++;
    }
    *pp = p;
    return 1;
}

/* The documented grammar of fe_parse_factor(): plain decimal notation,
 * digits [ '.' digits ] [ ('e'|'E') [sign] digits ], at least one mantissa
 * digit, no leading sign or blank; value finite, > 0, <= the maximum. */
static int oracle_factor(const char *s, double *v)
{
    const char *p = s, *m0;
    int mant_digits;
    char *end;
    double d;

    m0 = p;
    all_digits(&p);
    mant_digits = (int)(p - m0);
    if (*p == '.') {
        const char *f0 = ++p;

        all_digits(&p);
        mant_digits += (int)(p - f0);
    }
    if (mant_digits == 0) {
        return 0;
    }
    if (*p == 'e' || *p == 'E') {
        const char *e0;

        p++;
        if (*p == '+' || *p == '-') {
            p++;
        }
        e0 = p;
        all_digits(&p);
        if (p == e0) {
            return 0;
        }
    }
    if (*p != '\0') {
        return 0;
    }
    d = strtod(s, &end);
    if (*end != '\0' || !isfinite(d) || d > FE_MAX_WORKER_FACTOR
        || !(d > 0.0)) {
        return 0;
    }
    *v = d;
    return 1;
}

static void check_parse_int(const char *directive, const char *arg,
                            int *out_value, int *ok)
{
    int want = 0, got = 0x5a5a5a5a;
    int accept = oracle_int(arg, &want);
    const char *err = fe_parse_int(directive, arg, &got, fz_apr_root());

    FZ_CHECK((err == NULL) == accept, "fe_parse_int(%s, \"%s\") returned "
             "%s, the grammar says %s", directive, arg,
             err ? err : "success", accept ? "accept" : "reject");
    if (err == NULL) {
        FZ_CHECK(got == want, "fe_parse_int(\"%s\") gave %d, want %d",
                 arg, got, want);
        *out_value = got;
        *ok = 1;
    }
    else {
        FZ_CHECK(strstr(err, directive) != NULL && strstr(err, arg) != NULL,
                 "error for \"%s\" does not name %s and the argument: %s",
                 arg, directive, err);
        *ok = 0;
    }
}

static void check_parse_factor(const char *arg, double *out_value, int *ok)
{
    double want = 0.0, got = -12345.0;
    int accept = oracle_factor(arg, &want);
    const char *err = fe_parse_factor(arg, &got, fz_apr_root());

    FZ_CHECK((err == NULL) == accept, "fe_parse_factor(\"%s\") returned "
             "%s, the grammar says %s", arg, err ? err : "success",
             accept ? "accept" : "reject");
    if (err == NULL) {
        FZ_CHECK(got == want && got > 0.0 && got <= FE_MAX_WORKER_FACTOR,
                 "fe_parse_factor(\"%s\") gave %.17g, want %.17g", arg,
                 got, want);
        *out_value = got;
        *ok = 1;
    }
    else {
        FZ_CHECK(got == -12345.0, "fe_parse_factor(\"%s\") wrote *out "
                 "(%.17g) on error", arg, got);
        FZ_CHECK(strstr(err, "AsyncRequestWorkerFactor") != NULL
                 && strstr(err, arg) != NULL,
                 "error for \"%s\" does not name the directive and the "
                 "argument: %s", arg, err);
        *ok = 0;
    }
}

/* -------------------------------------------------------- clamp rules */

#define TAG_FIRST 10001
#define TAG_LAST  10016
#define NTAGS     (TAG_LAST - TAG_FIRST + 1)

typedef struct diag_rec {
    int n;
    int seen[NTAGS];
} diag_rec_t;

static void rec_diag(void *baton, int level, int tag, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

static void rec_diag(void *baton, int level, int tag, const char *fmt, ...)
{
    diag_rec_t *r = baton;
    char buf[2048];
    va_list ap;
    int len;

    va_start(ap, fmt);
    len = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    r->n++;
    FZ_CHECK(level == FE_DIAG_WARNING, "FE%d reported at level %d", tag,
             level);
    FZ_CHECK(tag >= TAG_FIRST && tag <= TAG_LAST, "unexpected tag FE%d: %s",
             tag, buf);
    FZ_CHECK(!r->seen[tag - TAG_FIRST], "FE%d reported twice: %s", tag, buf);
    r->seen[tag - TAG_FIRST] = 1;
    FZ_CHECK(len > 0 && strchr(buf, '\n') == NULL, "FE%d: empty or "
             "multi-line message: \"%s\"", tag, buf);
    /* fe_config.c formats into a 640-byte buffer: 639 characters means
     * the message was probably cut short */
    FZ_CHECK(len < 639, "FE%d: message truncated (%d chars): \"%s\"", tag,
             len, buf);
}

static int tag_seen(const diag_rec_t *r, int tag)
{
    return r->seen[tag - TAG_FIRST];
}

static void dump(const char *what, const fe_limits_t *l)
{
    fprintf(stderr, "%s: ServerLimit %d ThreadLimit %d ThreadsPerChild %d "
            "MaxRequestWorkers %d MinSpare %d MaxSpare %d StartServers %d "
            "factor %.17g adl %d\n", what, l->server_limit, l->thread_limit,
            l->threads_per_child, l->max_workers, l->min_spare_threads,
            l->max_spare_threads, l->start_servers, l->worker_factor,
            l->active_daemons_limit);
}

static int same_double(double a, double b)
{
    return memcmp(&a, &b, sizeof(a)) == 0 || (a == b);
}

static int same_limits(const fe_limits_t *a, const fe_limits_t *b)
{
    return a->server_limit == b->server_limit
        && a->thread_limit == b->thread_limit
        && a->threads_per_child == b->threads_per_child
        && a->max_workers == b->max_workers
        && a->min_spare_threads == b->min_spare_threads
        && a->max_spare_threads == b->max_spare_threads
        && a->start_servers == b->start_servers
        && same_double(a->worker_factor, b->worker_factor)
        && a->active_daemons_limit == b->active_daemons_limit;
}

/* Contract: 0 on a first start, else a value a check produced. */
static int first_limit(int v, int max)
{
    if (v <= 0) {
        return 0;
    }
    return (int)(((unsigned int)v - 1u) % (unsigned int)max) + 1;
}

#define LCHECK(cond, ...) do {                                              \
    if (!(cond)) {                                                          \
        dump("input ", &in);                                                \
        dump("output", l);                                                  \
        fprintf(stderr, "first_server_limit %d first_thread_limit %d, "     \
                "%d reported\n", fsl, ftl, got);                            \
    }                                                                       \
    FZ_CHECK(cond, __VA_ARGS__);                                            \
} while (0)

static void check_limits(const fe_limits_t *input, int fsl, int ftl)
{
    fe_limits_t in = *input, out = *input, quiet = *input, again;
    fe_limits_t *l = &out;
    diag_rec_t rec, rec2;
    long long lowest;
    int got, got_quiet, got_again;

    memset(&rec, 0, sizeof(rec));
    got = fe_limits_check(&out, fsl, ftl, rec_diag, &rec);

    LCHECK(got == rec.n, "returned %d but reported %d", got, rec.n);
    /* rules 1-3 */
    LCHECK(l->server_limit >= 1 && l->server_limit <= FE_MAX_SERVER_LIMIT,
           "ServerLimit %d out of range", l->server_limit);
    LCHECK(fsl <= 0 || l->server_limit == fsl, "ServerLimit not frozen");
    LCHECK(l->thread_limit >= 1 && l->thread_limit <= FE_MAX_THREAD_LIMIT,
           "ThreadLimit %d out of range", l->thread_limit);
    LCHECK(ftl <= 0 || l->thread_limit == ftl, "ThreadLimit not frozen");
    /* rule 4 */
    LCHECK(l->threads_per_child >= 1
           && l->threads_per_child <= l->thread_limit,
           "ThreadsPerChild %d not within [1, ThreadLimit]",
           l->threads_per_child);
    /* rules 5-7 */
    LCHECK(l->max_workers >= l->threads_per_child
           && l->max_workers % l->threads_per_child == 0,
           "MaxRequestWorkers %d not a positive multiple of ThreadsPerChild",
           l->max_workers);
    LCHECK(l->active_daemons_limit >= 1
           && l->active_daemons_limit <= l->server_limit,
           "active_daemons_limit %d not within [1, ServerLimit]",
           l->active_daemons_limit);
    LCHECK((long long)l->max_workers
           == (long long)l->active_daemons_limit * l->threads_per_child,
           "max_workers != active_daemons_limit * threads_per_child");
    /* rule 8 */
    LCHECK(l->start_servers >= 1
           && l->start_servers <= l->active_daemons_limit,
           "StartServers %d not within [1, active_daemons_limit]",
           l->start_servers);
    /* rules 9, 10 */
    LCHECK(l->min_spare_threads >= 1, "MinSpareThreads %d < 1",
           l->min_spare_threads);
    lowest = (long long)l->min_spare_threads + l->threads_per_child;
    if (lowest > INT_MAX) {
        lowest = INT_MAX;
    }
    LCHECK(l->max_spare_threads >= lowest, "MaxSpareThreads %d below "
           "MinSpareThreads + ThreadsPerChild", l->max_spare_threads);
    /* rule 11 */
    LCHECK(l->worker_factor >= 1.0, "AsyncRequestWorkerFactor %g < 1",
           l->worker_factor);

    /* valid values are left alone */
    if (in.server_limit >= 1 && in.server_limit <= FE_MAX_SERVER_LIMIT
        && (fsl <= 0 || fsl == in.server_limit)) {
        LCHECK(l->server_limit == in.server_limit, "valid ServerLimit "
               "changed");
    }
    if (in.thread_limit >= 1 && in.thread_limit <= FE_MAX_THREAD_LIMIT
        && (ftl <= 0 || ftl == in.thread_limit)) {
        LCHECK(l->thread_limit == in.thread_limit, "valid ThreadLimit "
               "changed");
    }
    if (in.threads_per_child >= 1
        && in.threads_per_child <= l->thread_limit) {
        LCHECK(l->threads_per_child == in.threads_per_child,
               "valid ThreadsPerChild changed");
    }
    if (in.max_workers >= l->threads_per_child
        && in.max_workers % l->threads_per_child == 0
        && in.max_workers / l->threads_per_child <= l->server_limit) {
        LCHECK(l->max_workers == in.max_workers, "valid MaxRequestWorkers "
               "changed");
    }
    if (in.start_servers >= 1
        && in.start_servers <= l->active_daemons_limit) {
        LCHECK(l->start_servers == in.start_servers, "valid StartServers "
               "changed");
    }
    if (in.min_spare_threads >= 1) {
        LCHECK(l->min_spare_threads == in.min_spare_threads,
               "valid MinSpareThreads changed");
    }
    if (in.max_spare_threads >= lowest) {
        LCHECK(l->max_spare_threads == in.max_spare_threads,
               "valid MaxSpareThreads changed");
    }
    if (in.worker_factor >= 1.0) {
        LCHECK(same_double(l->worker_factor, in.worker_factor),
               "valid AsyncRequestWorkerFactor changed");
    }

    /* every adjustment is reported, and every report is an adjustment */
    LCHECK((l->server_limit != in.server_limit)
           == (tag_seen(&rec, 10001) || tag_seen(&rec, 10002)
               || tag_seen(&rec, 10003)),
           "ServerLimit change and its report (FE10001-3) disagree");
    LCHECK((l->thread_limit != in.thread_limit)
           == (tag_seen(&rec, 10004) || tag_seen(&rec, 10005)
               || tag_seen(&rec, 10006)),
           "ThreadLimit change and its report (FE10004-6) disagree");
    LCHECK((l->threads_per_child != in.threads_per_child)
           == (tag_seen(&rec, 10007) || tag_seen(&rec, 10008)
               || tag_seen(&rec, 10016)),
           "ThreadsPerChild change and its report (FE10007/8/16) disagree");
    LCHECK((l->max_workers != in.max_workers)
           == (tag_seen(&rec, 10009) || tag_seen(&rec, 10010)
               || tag_seen(&rec, 10011)),
           "MaxRequestWorkers change and its report (FE10009-11) disagree");
    LCHECK((l->start_servers != in.start_servers)
           == (tag_seen(&rec, 10012) || tag_seen(&rec, 10013)),
           "StartServers change and its report (FE10012-13) disagree");
    LCHECK((l->min_spare_threads != in.min_spare_threads)
           == tag_seen(&rec, 10014),
           "MinSpareThreads change and its report (FE10014) disagree");
    LCHECK((!same_double(l->worker_factor, in.worker_factor))
           == tag_seen(&rec, 10015),
           "AsyncRequestWorkerFactor change and FE10015 disagree");

    /* without a diag callback: same count, same result */
    got_quiet = fe_limits_check(&quiet, fsl, ftl, NULL, NULL);
    LCHECK(got_quiet == got && same_limits(&quiet, l),
           "NULL diag gives %d reports / another result", got_quiet);

    /* fixed point, also as a restart with the checked limits */
    again = *l;
    memset(&rec2, 0, sizeof(rec2));
    got_again = fe_limits_check(&again, l->server_limit, l->thread_limit,
                                rec_diag, &rec2);
    LCHECK(got_again == 0 && same_limits(&again, l),
           "not a fixed point: a second check reported %d", got_again);
}

/* --------------------------------------------------------------- main */

#define NFIELDS 10

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fe_limits_t l;
    int fsl = 0, ftl = 0;
    char *buf;

    fe_limits_defaults(&l);
    if (size > 0 && data[0] == 0xff) {
        fz_reader_t r;
        size_t i;

        fz_init(&r, data + 1, size - 1);
        l.server_limit = fz_int(&r);
        l.thread_limit = fz_int(&r);
        l.threads_per_child = fz_int(&r);
        l.max_workers = fz_int(&r);
        l.min_spare_threads = fz_int(&r);
        l.max_spare_threads = fz_int(&r);
        l.start_servers = fz_int(&r);
        l.worker_factor = fz_double(&r);
        l.active_daemons_limit = fz_int(&r);    /* derived: must not matter */
        fsl = first_limit(fz_int(&r), FE_MAX_SERVER_LIMIT);
        ftl = first_limit(fz_int(&r), FE_MAX_THREAD_LIMIT);
        check_limits(&l, fsl, ftl);

        /* the rest, as one argument for both parsers */
        buf = malloc(r.n + 1);
        if (buf == NULL) {
            return 0;
        }
        for (i = 0; i < r.n; i++) {
            buf[i] = r.p[i] ? (char)r.p[i] : '0';
        }
        buf[r.n] = '\0';
        {
            int v, ok;
            double d;

            check_parse_int("ThreadsPerChild", buf, &v, &ok);
            check_parse_factor(buf, &d, &ok);
        }
        free(buf);
    }
    else {
        char *fields[NFIELDS];
        int nf = 0, v, ok;
        size_t i;
        double d;

        buf = malloc(size + 1);
        if (buf == NULL) {
            return 0;
        }
        memcpy(buf, data, size);
        buf[size] = '\0';
        fields[nf++] = buf;
        for (i = 0; i < size && nf < NFIELDS; i++) {
            if (buf[i] == '\n' || buf[i] == '\0') {
                buf[i] = '\0';
                fields[nf++] = buf + i + 1;
            }
        }
        /* a NUL in the last field ends it, as C would */
        for (i = 0; i < (size_t)nf; i++) {
            if (i < 7) {
                int *dst[7] = {
                    &l.server_limit, &l.thread_limit, &l.threads_per_child,
                    &l.max_workers, &l.min_spare_threads,
                    &l.max_spare_threads, &l.start_servers
                };

                check_parse_int(int_directives[i], fields[i], &v, &ok);
                if (ok) {
                    *dst[i] = v;
                }
            }
            else if (i == 7) {
                check_parse_factor(fields[i], &d, &ok);
                if (ok) {
                    l.worker_factor = d;
                }
            }
            else {
                check_parse_int(i == 8 ? "ServerLimit" : "ThreadLimit",
                                fields[i], &v, &ok);
                if (ok) {
                    if (i == 8) {
                        fsl = first_limit(v, FE_MAX_SERVER_LIMIT);
                    }
                    else {
                        ftl = first_limit(v, FE_MAX_THREAD_LIMIT);
                    }
                }
            }
        }
        free(buf);
        check_limits(&l, fsl, ftl);
    }
    apr_pool_clear(fz_apr_root());
    return 0;
}
