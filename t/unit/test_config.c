/*
 * test_config.c: unit tests of fe_config.c: stock event's defaults, the
 * integer and factor parsers, and every clamp rule of fe_limits_check()
 * with the tag and wording of the warning it reports.
 *
 * Diag calls are captured by rec_diag(), which formats each one with
 * vsnprintf() so the tests see the text the administrator would see.
 */
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "policy/fe_config.h"
#include "fe_test.h"

/* ---------------------------------------------------------- diag capture */

#define REC_MAX 8

typedef struct rec {
    int n;                      /* calls seen, even beyond REC_MAX */
    int level[REC_MAX];
    int tag[REC_MAX];
    char text[REC_MAX][1024];
} rec_t;

static void rec_diag(void *baton, int level, int tag, const char *fmt, ...)
{
    rec_t *r = baton;
    va_list ap;

    if (r->n < REC_MAX) {
        r->level[r->n] = level;
        r->tag[r->n] = tag;
        va_start(ap, fmt);
        vsnprintf(r->text[r->n], sizeof(r->text[0]), fmt, ap);
        va_end(ap);
    }
    r->n++;
}

/* CU_ASSERT that @a hay contains @a needle, printing both if not. */
static void assert_says(const char *hay, const char *needle)
{
    int found = strstr(hay, needle) != NULL;

    if (!found) {
        fprintf(stderr, "  expected \"%s\" in \"%s\"\n", needle, hay);
    }
    CU_ASSERT_TRUE(found);
}

/* ------------------------------------------------------------ defaults */

static void test_defaults(void)
{
    fe_limits_t l;

    memset(&l, 0xa5, sizeof(l));
    fe_limits_defaults(&l);
    FE_ASSERT_EQ_INT(l.server_limit, 16);
    FE_ASSERT_EQ_INT(l.thread_limit, 64);
    FE_ASSERT_EQ_INT(l.threads_per_child, 25);
    FE_ASSERT_EQ_INT(l.max_workers, 400);
    FE_ASSERT_EQ_INT(l.min_spare_threads, 75);
    FE_ASSERT_EQ_INT(l.max_spare_threads, 250);
    FE_ASSERT_EQ_INT(l.start_servers, 3);
    CU_ASSERT_DOUBLE_EQUAL(l.worker_factor, 2.0, 0.0);
    FE_ASSERT_EQ_INT(l.active_daemons_limit, 16);
    FE_ASSERT_EQ_INT(l.cpu_affinity, 1);
    FE_ASSERT_EQ_INT(l.ka_poll, 0);
    FE_ASSERT_EQ_INT(l.sched_batch, FE_SCHED_BATCH_AUTO);
    FE_ASSERT_EQ_INT(l.proxy_reserve, 25);
}

/* The defaults and Debian's shipped values are consistent as they are. */
static void test_consistent_configs(void)
{
    fe_limits_t l, before;
    rec_t r = {0};

    memset(&l, 0, sizeof l);        /* memcmp below sees the padding */

    fe_limits_defaults(&l);
    before = l;
    FE_ASSERT_EQ_INT(fe_limits_check(&l, 0, 0, rec_diag, &r), 0);
    FE_ASSERT_EQ_INT(r.n, 0);
    CU_ASSERT_TRUE(memcmp(&l, &before, sizeof(l)) == 0);

    /* mods-available/mpm_event.conf, and again as a graceful restart */
    l.start_servers = 2;
    l.min_spare_threads = 25;
    l.max_spare_threads = 75;
    l.max_workers = 150;
    FE_ASSERT_EQ_INT(fe_limits_check(&l, 0, 0, rec_diag, &r), 0);
    FE_ASSERT_EQ_INT(fe_limits_check(&l, 16, 64, rec_diag, &r), 0);
    FE_ASSERT_EQ_INT(r.n, 0);
    FE_ASSERT_EQ_INT(l.max_workers, 150);
    FE_ASSERT_EQ_INT(l.active_daemons_limit, 6);
    FE_ASSERT_EQ_INT(l.max_spare_threads, 75);
}

/* -------------------------------------------------------- fe_parse_int */

typedef struct int_case {
    const char *arg;
    const char *err;            /* NULL: must parse to @a want */
    int want;
} int_case_t;

/*
 * Whitespace is rejected (httpd has already split the arguments), as are
 * '+', hex, exponents and anything strtol() would stop short of.
 */
static const int_case_t int_cases[] = {
    {"25", NULL, 25},
    {"0", NULL, 0},
    {"-5", NULL, -5},
    {"007", NULL, 7},
    {"2147483647", NULL, INT_MAX},
    {"-2147483648", NULL, INT_MIN},
    {"", "takes a whole number, not ''", 0},
    {"abc", "ThreadsPerChild takes a whole number, not 'abc'", 0},
    {"25x", "takes a whole number, not '25x'", 0},
    {"1e99", "takes a whole number, not '1e99'", 0},
    {"2.5", "takes a whole number, not '2.5'", 0},
    {" 25", "takes a whole number, not ' 25'", 0},
    {"25 ", "takes a whole number, not '25 '", 0},
    {"+25", "takes a whole number, not '+25'", 0},
    {"-", "takes a whole number, not '-'", 0},
    {"--5", "takes a whole number, not '--5'", 0},
    {"0x10", "takes a whole number, not '0x10'", 0},
    {"99999999999999",
     "ThreadsPerChild '99999999999999' is out of range", 0},
    {"2147483648", "'2147483648' is out of range", 0},
    {"-2147483649", "'-2147483649' is out of range", 0},
    {"99999999999999999999999", "is out of range", 0},
    {NULL, NULL, 0}
};

static void test_parse_int(void)
{
    const int_case_t *c;

    for (c = int_cases; c->arg != NULL; c++) {
        int out = 12345;
        const char *err = fe_parse_int("ThreadsPerChild", c->arg, &out,
                                       fe_test_pool);

        if (c->err == NULL) {
            if (err != NULL) {
                fprintf(stderr, "  '%s': unexpected error %s\n", c->arg, err);
            }
            CU_ASSERT_PTR_NULL(err);
            FE_ASSERT_EQ_INT(out, c->want);
        }
        else {
            CU_ASSERT_PTR_NOT_NULL_FATAL(err);
            assert_says(err, c->err);
            FE_ASSERT_EQ_INT(out, 12345);   /* untouched on error */
        }
    }
}

/* --------------------------------------------------- fe_parse_affinity */

static void test_parse_reserve(void)
{
    static const struct { const char *arg; int want; } ok[] = {
        {"off", 0}, {"OFF", 0}, {"0", 0}, {"25", 25}, {"25%", 25},
        {"90", 90}, {"90%", 90}, {"5", 5},
    };
    static const char *const bad[] = { "", "on", "91", "100", "-1", "25 %",
                                       "2.5", "%", "25%%", "0100", "x" };
    size_t i;

    for (i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int out = 42;

        CU_ASSERT_PTR_NULL(fe_parse_reserve(ok[i].arg, &out, fe_test_pool));
        FE_ASSERT_EQ_INT(out, ok[i].want);
    }
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int out = 42;
        const char *err = fe_parse_reserve(bad[i], &out, fe_test_pool);

        CU_ASSERT_PTR_NOT_NULL_FATAL(err);
        assert_says(err, "FastEventProxyReserve takes off or a percentage");
        FE_ASSERT_EQ_INT(out, 42);
    }
    {
        int out = 42;

        CU_ASSERT_PTR_NOT_NULL(fe_parse_reserve(NULL, &out, fe_test_pool));
        FE_ASSERT_EQ_INT(out, 42);
    }
}

static void test_parse_size(void)
{
    static const struct { const char *arg; long want; } ok[] = {
        {"off", 0}, {"Off", 0}, {"0", 0}, {"100000", 100000},
        {"128K", 131072}, {"128k", 131072}, {"1M", 1048576},
        {"64M", 67108864}, {"65536K", 67108864}, {"67108864", 67108864},
    };
    static const char *const bad[] = { "", "on", "-1", "1.5M", "1G", "64M1",
                                       "65M", "65537K", "67108865", "K",
                                       "128 K", "99999999999999999999" };
    size_t i;

    for (i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        long out = 42;

        CU_ASSERT_PTR_NULL(fe_parse_size(ok[i].arg, &out, fe_test_pool));
        FE_ASSERT_EQ_INT(out, ok[i].want);
    }
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        long out = 42;
        const char *err = fe_parse_size(bad[i], &out, fe_test_pool);

        CU_ASSERT_PTR_NOT_NULL_FATAL(err);
        assert_says(err, "FastEventBodyBuffer takes off or a size");
        FE_ASSERT_EQ_INT(out, 42);
    }
}

/* A directive of three words, auto, on and off (in any case): each maps
 * to its value; anything else, or no value, is refused with a message
 * that starts "NAME takes auto, on or off" and leaves *out alone. */
static void check_auto_on_off(const char *(*parse)(const char *, int *,
                                                   apr_pool_t *),
                              const char *name, int v_auto, int v_on,
                              int v_off)
{
    const struct { const char *arg; int want; } ok[] = {
        {"auto", v_auto}, {"AUTO", v_auto}, {"on", v_on}, {"On", v_on},
        {"off", v_off}, {"OFF", v_off},
    };
    static const char *const bad[] = { "", "1", "yes", "autoo", "of" };
    char want[80];
    size_t i;

    for (i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int out = 42;

        CU_ASSERT_PTR_NULL(parse(ok[i].arg, &out, fe_test_pool));
        FE_ASSERT_EQ_INT(out, ok[i].want);
    }
    snprintf(want, sizeof want, "%s takes auto, on or off", name);
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int out = 42;
        const char *err = parse(bad[i], &out, fe_test_pool);

        CU_ASSERT_PTR_NOT_NULL_FATAL(err);
        assert_says(err, want);
        FE_ASSERT_EQ_INT(out, 42);
    }
    {
        int out = 42;

        CU_ASSERT_PTR_NOT_NULL(parse(NULL, &out, fe_test_pool));
        FE_ASSERT_EQ_INT(out, 42);
    }
}

static void test_parse_sched(void)
{
    check_auto_on_off(fe_parse_sched, "FastEventSchedBatch",
                      FE_SCHED_BATCH_AUTO, FE_SCHED_BATCH_ON,
                      FE_SCHED_BATCH_OFF);
}

/* FastEventKeepAliveHold: the words, the default, and who may hold:
 * auto plain HTTP only, on both, off neither. */
static void test_hold_mode(void)
{
    fe_limits_t l;

    check_auto_on_off(fe_parse_hold, "FastEventKeepAliveHold", FE_HOLD_AUTO,
                      FE_HOLD_ON, FE_HOLD_OFF);
    fe_limits_defaults(&l);
    FE_ASSERT_EQ_INT(l.ka_hold, FE_HOLD_AUTO);
    CU_ASSERT_TRUE(fe_hold_mode_allows(FE_HOLD_AUTO, 0));
    CU_ASSERT_FALSE(fe_hold_mode_allows(FE_HOLD_AUTO, 1));
    CU_ASSERT_TRUE(fe_hold_mode_allows(FE_HOLD_ON, 0));
    CU_ASSERT_TRUE(fe_hold_mode_allows(FE_HOLD_ON, 1));
    CU_ASSERT_FALSE(fe_hold_mode_allows(FE_HOLD_OFF, 0));
    CU_ASSERT_FALSE(fe_hold_mode_allows(FE_HOLD_OFF, 1));
}

static void test_parse_affinity(void)
{
    static const struct { const char *arg; int want; } ok[] = {
        {"auto", 1}, {"AUTO", 1}, {"on", 1}, {"On", 1}, {"off", 0},
        {"OFF", 0},
    };
    static const char *const bad[] = { "", "yes", "0", "1", "auto ",
                                       "of", "offf", "cpu0" };
    size_t i;

    for (i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int out = 42;

        CU_ASSERT_PTR_NULL(fe_parse_affinity(ok[i].arg, &out, fe_test_pool));
        FE_ASSERT_EQ_INT(out, ok[i].want);
    }
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int out = 42;
        const char *err = fe_parse_affinity(bad[i], &out, fe_test_pool);

        CU_ASSERT_PTR_NOT_NULL_FATAL(err);
        assert_says(err, "FastEventCPUAffinity takes auto or off, not '");
        assert_says(err, bad[i]);
        FE_ASSERT_EQ_INT(out, 42);
    }
    {
        int out = 42;

        CU_ASSERT_PTR_NOT_NULL(fe_parse_affinity(NULL, &out, fe_test_pool));
        FE_ASSERT_EQ_INT(out, 42);
    }
}

/* ----------------------------------------------------- fe_parse_factor */

typedef struct factor_case {
    const char *arg;
    const char *err;            /* NULL: must parse to @a want */
    double want;
} factor_case_t;

#define NOT_POSITIVE "takes a positive number such as 2 or 1.5, not "

static const factor_case_t factor_cases[] = {
    {"1.5", NULL, 1.5},
    {"2", NULL, 2.0},
    {"0.5", NULL, 0.5},         /* accepted here, raised by rule 11 */
    {".5", NULL, 0.5},
    {"1e2", NULL, 100.0},
    {"1000", NULL, 1000.0},
    {"0", NOT_POSITIVE "'0'", 0},
    {"0.0", NOT_POSITIVE "'0.0'", 0},
    {"-1", NOT_POSITIVE "'-1'", 0},
    {"nan", NOT_POSITIVE "'nan'", 0},
    {"inf", NOT_POSITIVE "'inf'", 0},
    {"2x", "AsyncRequestWorkerFactor " NOT_POSITIVE "'2x'", 0},
    {"", NOT_POSITIVE "''", 0},
    {" 2", NOT_POSITIVE "' 2'", 0},
    {"2 ", NOT_POSITIVE "'2 '", 0},
    {"0x2", NOT_POSITIVE "'0x2'", 0},
    {"1.5.2", NOT_POSITIVE "'1.5.2'", 0},
    {"1e-999", NOT_POSITIVE "'1e-999'", 0},
    {"1000.5", "'1000.5' is too large", 0},
    {"1e999", "'1e999' is too large", 0},
    {NULL, NULL, 0}
};

static void test_parse_factor(void)
{
    const factor_case_t *c;

    for (c = factor_cases; c->arg != NULL; c++) {
        double out = 42.0;
        const char *err = fe_parse_factor(c->arg, &out, fe_test_pool);

        if (c->err == NULL) {
            if (err != NULL) {
                fprintf(stderr, "  '%s': unexpected error %s\n", c->arg, err);
            }
            CU_ASSERT_PTR_NULL(err);
            CU_ASSERT_DOUBLE_EQUAL(out, c->want, 0.0);
        }
        else {
            CU_ASSERT_PTR_NOT_NULL_FATAL(err);
            assert_says(err, c->err);
            CU_ASSERT_DOUBLE_EQUAL(out, 42.0, 0.0);
        }
    }
}

/* ------------------------------------------------------ clamp rules */

/* Every field of fe_limits_t; -1 in an expectation means "default". */
typedef struct lim {
    int sl, tl, tpc, mrw, mins, maxs, start;
    double factor;
} lim_t;

#define D (-1)

typedef struct clamp_case {
    const char *name;
    lim_t in;                   /* D: keep the default */
    int first_sl, first_tl;     /* 0: first start */
    lim_t want;                 /* D: the default */
    int want_adl;
    int tags[4];                /* expected tags in order, 0-terminated */
    const char *says[5];        /* substrings of the first warning */
} clamp_case_t;

static const clamp_case_t clamp_cases[] = {
    {"rule 1: ServerLimit above the cap",
     {30000, D, D, D, D, D, D, D}, 0, 0,
     {20000, D, D, D, D, D, D, D}, 16, {10001},
     {"ServerLimit 30000", "maximum 20000", "using ServerLimit 20000"}},
    {"rule 1: ServerLimit 0, isolated",
     {0, D, D, 25, D, D, 1, D}, 0, 0,
     {1, D, D, 25, D, D, 1, D}, 1, {10002},
     {"ServerLimit 0", "using ServerLimit 1", "1 or more"}},
    {"rule 1: ServerLimit -5 cascades into rules 7 and 8",
     {-5, D, D, D, D, D, D, D}, 0, 0,
     {1, D, D, 25, D, D, 1, D}, 1, {10002, 10011, 10013},
     {"ServerLimit -5", "using ServerLimit 1"}},
    {"rule 2: ServerLimit changed on restart",
     {32, D, D, D, D, D, D, D}, 16, 64,
     {16, D, D, D, D, D, D, D}, 16, {10003},
     {"ServerLimit 32", "ServerLimit 16", "graceful or ordinary restart",
      "full stop/start", "keeping ServerLimit 16"}},
    {"rule 2: clamped first, then equal to the first value",
     {30000, D, D, D, D, D, D, D}, 20000, 64,
     {20000, D, D, D, D, D, D, D}, 16, {10001},
     {"ServerLimit 30000"}},
    {"rule 3: ThreadLimit above the cap",
     {D, 200000, D, D, D, D, D, D}, 0, 0,
     {D, 100000, D, D, D, D, D, D}, 16, {10004},
     {"ThreadLimit 200000", "maximum 100000", "using ThreadLimit 100000"}},
    {"rule 3: ThreadLimit 0 cascades into rules 4 and 7",
     {D, 0, D, D, D, D, D, D}, 0, 0,
     {D, 1, 1, 16, D, D, D, D}, 16, {10005, 10007, 10011},
     {"ThreadLimit 0", "using ThreadLimit 1"}},
    {"rule 3: ThreadLimit changed on restart",
     {D, 128, D, D, D, D, D, D}, 16, 64,
     {D, 64, D, D, D, D, D, D}, 16, {10006},
     {"ThreadLimit 128", "ThreadLimit 64", "graceful or ordinary restart",
      "full stop/start", "keeping ThreadLimit 64"}},
    {"rule 4: ThreadsPerChild above ThreadLimit",
     {D, D, 100, 640, D, D, D, D}, 0, 0,
     {D, D, 64, 640, D, D, D, D}, 10, {10007},
     {"ThreadsPerChild 100", "ThreadLimit 64", "using ThreadsPerChild 64",
      "raise ThreadLimit to 100"}},
    {"rule 4: ThreadsPerChild above ThreadLimit's own cap",
     {D, 100000, 200000, 200000, D, D, 1, D}, 0, 0,
     {D, 100000, 100000, 200000, D, 100075, 1, D}, 2, {10016},
     {"ThreadsPerChild 200000", "ThreadLimit 100000",
      "lower ThreadsPerChild"}},
    {"rule 4: ThreadsPerChild 0",
     {D, D, 0, 16, D, D, D, D}, 0, 0,
     {D, D, 1, 16, D, D, D, D}, 16, {10008},
     {"ThreadsPerChild 0", "using ThreadsPerChild 1"}},
    {"rule 5: MaxRequestWorkers below ThreadsPerChild",
     {D, D, D, 10, D, D, 1, D}, 0, 0,
     {D, D, D, 25, D, D, 1, D}, 1, {10009},
     {"MaxRequestWorkers 10", "ThreadsPerChild 25",
      "using MaxRequestWorkers 25"}},
    {"rule 5: negative MaxRequestWorkers",
     {D, D, D, -400, D, D, 1, D}, 0, 0,
     {D, D, D, 25, D, D, 1, D}, 1, {10009},
     {"MaxRequestWorkers -400"}},
    {"rule 6: 150 / 25 is whole",
     {D, D, D, 150, D, D, D, D}, 0, 0,
     {D, D, D, 150, D, D, D, D}, 6, {0}, {NULL}},
    {"rule 6: 160 / 25 rounds down to 150",
     {D, D, D, 160, D, D, D, D}, 0, 0,
     {D, D, D, 150, D, D, D, D}, 6, {10010},
     {"MaxRequestWorkers 160", "ThreadsPerChild 25", "6 x 25 + 10",
      "using MaxRequestWorkers 150", "150 or 175"}},
    {"rule 7: the example in fe_config.h",
     {4, D, D, 1000, D, D, D, D}, 0, 0,
     {4, D, D, 100, D, D, D, D}, 4, {10011},
     {"MaxRequestWorkers 1000", "ServerLimit 4", "ThreadsPerChild 25",
      "using MaxRequestWorkers 100 (4 x 25)", "raise ServerLimit to 40"}},
    {"rule 7: on a restart the fix needs a full stop/start",
     {4, D, D, 1000, D, D, D, D}, 4, 64,
     {4, D, D, 100, D, D, D, D}, 4, {10011},
     {"raise ServerLimit to 40 to allow 1000", "full stop/start"}},
    {"rule 6+7: INT_MAX workers, no overflow, fix is ThreadsPerChild",
     {D, D, D, INT_MAX, D, D, D, D}, 0, 0,
     {D, D, D, 400, D, D, D, D}, 16, {10010, 10011},
     {"MaxRequestWorkers 2147483647", "using MaxRequestWorkers 2147483625",
      "(85899345 x 25 + 22)"}},
    {"rule 8: StartServers 0",
     {D, D, D, D, D, D, 0, D}, 0, 0,
     {D, D, D, D, D, D, 1, D}, 16, {10012},
     {"StartServers 0", "using StartServers 1"}},
    {"rule 8: StartServers above active_daemons_limit",
     {D, D, D, 150, D, D, 20, D}, 0, 0,
     {D, D, D, 150, D, D, 6, D}, 6, {10013},
     {"StartServers 20", "MaxRequestWorkers 150", "ThreadsPerChild 25",
      "150 / 25", "using StartServers 6"}},
    {"rule 9: MinSpareThreads 0",
     {D, D, D, D, 0, D, D, D}, 0, 0,
     {D, D, D, D, 1, D, D, D}, 16, {10014},
     {"MinSpareThreads 0", "using MinSpareThreads 1"}},
    {"rule 10: MaxSpareThreads floor is silent",
     {D, D, D, D, D, 10, D, D}, 0, 0,
     {D, D, D, D, D, 100, D, D}, 16, {0}, {NULL}},
    {"rule 10: floor follows a raised MinSpareThreads",
     {D, D, D, D, -3, 0, D, D}, 0, 0,
     {D, D, D, D, 1, 26, D, D}, 16, {10014}, {"MinSpareThreads -3"}},
    {"rule 10: floor saturates instead of overflowing",
     {D, D, D, D, INT_MAX, D, D, D}, 0, 0,
     {D, D, D, D, INT_MAX, INT_MAX, D, D}, 16, {0}, {NULL}},
    {"rule 11: factor 0.5 raised to 1",
     {D, D, D, D, D, D, D, 0.5}, 0, 0,
     {D, D, D, D, D, D, D, 1.0}, 16, {10015},
     {"AsyncRequestWorkerFactor 0.5", "using AsyncRequestWorkerFactor 1"}},
    {"rule 11: factor 0.95 raised to 1",
     {D, D, D, D, D, D, D, 0.95}, 0, 0,
     {D, D, D, D, D, D, D, 1.0}, 16, {10015},
     {"AsyncRequestWorkerFactor 0.95"}},
    {"rule 11: factor 1.5 stays",
     {D, D, D, D, D, D, D, 1.5}, 0, 0,
     {D, D, D, D, D, D, D, 1.5}, 16, {0}, {NULL}},
    {"rule 11: factor 1 stays",
     {D, D, D, D, D, D, D, 1.0}, 0, 0,
     {D, D, D, D, D, D, D, 1.0}, 16, {0}, {NULL}},
    {NULL, {0}, 0, 0, {0}, 0, {0}, {NULL}}
};

static void apply(fe_limits_t *l, const lim_t *v)
{
    fe_limits_defaults(l);
    l->server_limit = v->sl == D ? l->server_limit : v->sl;
    l->thread_limit = v->tl == D ? l->thread_limit : v->tl;
    l->threads_per_child = v->tpc == D ? l->threads_per_child : v->tpc;
    l->max_workers = v->mrw == D ? l->max_workers : v->mrw;
    l->min_spare_threads = v->mins == D ? l->min_spare_threads : v->mins;
    l->max_spare_threads = v->maxs == D ? l->max_spare_threads : v->maxs;
    l->start_servers = v->start == D ? l->start_servers : v->start;
    l->worker_factor = v->factor == D ? l->worker_factor : v->factor;
}

static void check_tags(const clamp_case_t *c, const rec_t *r, int got)
{
    int i, want = 0;

    while (want < 4 && c->tags[want] != 0) {
        want++;
    }
    FE_ASSERT_EQ_INT(got, want);
    FE_ASSERT_EQ_INT(r->n, want);
    for (i = 0; i < want && i < r->n; i++) {
        FE_ASSERT_EQ_INT(r->tag[i], c->tags[i]);
        FE_ASSERT_EQ_INT(r->level[i], FE_DIAG_WARNING);
    }
    for (i = 0; i < 5 && c->says[i] != NULL && r->n > 0; i++) {
        assert_says(r->text[0], c->says[i]);
    }
}

static void run_clamp_case(const clamp_case_t *c)
{
    fe_limits_t l, want, again;
    rec_t r = {0};
    int got;

    /* memcmp below compares padding too: start from zeroed structs */
    memset(&l, 0, sizeof l);
    memset(&want, 0, sizeof want);
    memset(&again, 0, sizeof again);

    apply(&l, &c->in);
    apply(&want, &c->want);
    got = fe_limits_check(&l, c->first_sl, c->first_tl, rec_diag, &r);
    check_tags(c, &r, got);
    FE_ASSERT_EQ_INT(l.server_limit, want.server_limit);
    FE_ASSERT_EQ_INT(l.thread_limit, want.thread_limit);
    FE_ASSERT_EQ_INT(l.threads_per_child, want.threads_per_child);
    FE_ASSERT_EQ_INT(l.max_workers, want.max_workers);
    FE_ASSERT_EQ_INT(l.min_spare_threads, want.min_spare_threads);
    FE_ASSERT_EQ_INT(l.max_spare_threads, want.max_spare_threads);
    FE_ASSERT_EQ_INT(l.start_servers, want.start_servers);
    CU_ASSERT_DOUBLE_EQUAL(l.worker_factor, want.worker_factor, 0.0);
    FE_ASSERT_EQ_INT(l.active_daemons_limit, c->want_adl);

    /* The result is a fixed point, also as a restart with the same limits */
    again = l;
    memset(&r, 0, sizeof(r));
    FE_ASSERT_EQ_INT(fe_limits_check(&again, l.server_limit, l.thread_limit,
                                     rec_diag, &r), 0);
    FE_ASSERT_EQ_INT(r.n, 0);
    CU_ASSERT_TRUE(memcmp(&again, &l, sizeof(l)) == 0);

    /* Without a diag callback: same count, same result */
    apply(&again, &c->in);
    FE_ASSERT_EQ_INT(fe_limits_check(&again, c->first_sl, c->first_tl,
                                     NULL, NULL), got);
    CU_ASSERT_TRUE(memcmp(&again, &l, sizeof(l)) == 0);
}

static void test_clamp_rules(void)
{
    const clamp_case_t *c;

    for (c = clamp_cases; c->name != NULL; c++) {
        unsigned int before = CU_get_number_of_failures();

        run_clamp_case(c);
        if (CU_get_number_of_failures() != before) {
            fprintf(stderr, "  ^ in case \"%s\"\n", c->name);
        }
    }
}

/* Every message says what is used instead and stays on one line. */
static void test_messages_single_line(void)
{
    const clamp_case_t *c;

    for (c = clamp_cases; c->name != NULL; c++) {
        fe_limits_t l;
        rec_t r = {0};
        int i;

        apply(&l, &c->in);
        fe_limits_check(&l, c->first_sl, c->first_tl, rec_diag, &r);
        for (i = 0; i < r.n && i < REC_MAX; i++) {
            CU_ASSERT_PTR_NULL(strchr(r.text[i], '\n'));
            CU_ASSERT_TRUE(strstr(r.text[i], "using ") != NULL
                           || strstr(r.text[i], "keeping ") != NULL);
            CU_ASSERT_TRUE(strlen(r.text[i]) < sizeof(r.text[i]) - 1);
        }
    }
}

/* Each message starts with stock event's phrase for the same adjustment
 * (its restart-time wording, AH00498-AH00520), word for word: admins'
 * log watchers look for those. */
static void test_event_phrases(void)
{
    static const struct {
        lim_t in;
        int first_sl, first_tl;
        const char *phrase;
    } cases[] = {
        {{30000, D, D, D, D, D, D, D}, 0, 0,
         "ServerLimit of 30000 exceeds compile-time limit of 20000, "
         "decreasing to match"},
        {{0, D, D, D, D, D, D, D}, 0, 0,
         "ServerLimit of 0 not allowed, increasing to 1"},
        {{32, D, D, D, D, D, D, D}, 16, 64,
         "changing ServerLimit to 32 from original value of 16 not allowed "
         "during restart"},
        {{D, 200000, D, D, D, D, D, D}, 0, 0,
         "ThreadLimit of 200000 exceeds compile-time limit of 100000, "
         "decreasing to match"},
        {{D, D, 100, 640, D, D, D, D}, 0, 0,
         "ThreadsPerChild of 100 exceeds ThreadLimit of 64, decreasing to "
         "match"},
        {{D, D, 0, 16, D, D, D, D}, 0, 0,
         "ThreadsPerChild of 0 not allowed, increasing to 1"},
        {{D, D, D, 10, D, D, 1, D}, 0, 0,
         "MaxRequestWorkers of 10 is less than ThreadsPerChild of 25, "
         "increasing to match"},
        {{D, D, D, 160, D, D, D, D}, 0, 0,
         "MaxRequestWorkers of 160 is not an integer multiple of "
         "ThreadsPerChild of 25, decreasing to nearest multiple 150"},
        {{4, D, D, 1000, D, D, D, D}, 0, 0,
         "MaxRequestWorkers of 1000 would require 40 servers and exceed "
         "ServerLimit of 4, decreasing to 100"},
        {{D, D, D, D, D, D, 0, D}, 0, 0,
         "StartServers of 0 not allowed, increasing to 1"},
        {{D, D, D, D, 0, D, D, D}, 0, 0,
         "MinSpareThreads of 0 not allowed, increasing to 1"},
    };
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fe_limits_t l;
        rec_t r = {0};

        apply(&l, &cases[i].in);
        fe_limits_check(&l, cases[i].first_sl, cases[i].first_tl, rec_diag,
                        &r);
        CU_ASSERT_TRUE(r.n >= 1);
        if (r.n >= 1) {
            assert_says(r.text[0], cases[i].phrase);
            CU_ASSERT_PTR_EQUAL(strstr(r.text[0], cases[i].phrase),
                                r.text[0]);
        }
    }
}

/* Restart freezing keeps the first values even when both change. */
static void test_restart_freeze_both(void)
{
    fe_limits_t l;
    rec_t r = {0};

    fe_limits_defaults(&l);
    l.server_limit = 64;
    l.thread_limit = 32;
    l.threads_per_child = 32;
    l.max_workers = 64 * 32;
    FE_ASSERT_EQ_INT(fe_limits_check(&l, 16, 64, rec_diag, &r), 3);
    FE_ASSERT_EQ_INT(r.n, 3);
    FE_ASSERT_EQ_INT(r.tag[0], 10003);
    FE_ASSERT_EQ_INT(r.tag[1], 10006);
    FE_ASSERT_EQ_INT(r.tag[2], 10011);
    FE_ASSERT_EQ_INT(l.server_limit, 16);
    FE_ASSERT_EQ_INT(l.thread_limit, 64);
    FE_ASSERT_EQ_INT(l.threads_per_child, 32);
    FE_ASSERT_EQ_INT(l.max_workers, 16 * 32);   /* capped by rule 7 */
    FE_ASSERT_EQ_INT(l.active_daemons_limit, 16);

    /* on the first start the same values are taken as they are */
    fe_limits_defaults(&l);
    l.server_limit = 64;
    l.thread_limit = 32;
    l.threads_per_child = 32;
    l.max_workers = 64 * 32;
    FE_ASSERT_EQ_INT(fe_limits_check(&l, 0, 0, NULL, NULL), 0);
    FE_ASSERT_EQ_INT(l.server_limit, 64);
    FE_ASSERT_EQ_INT(l.active_daemons_limit, 64);
}

/* Regression (fuzz_directives, UBSan): rounding MaxRequestWorkers to
 * whole processes overflowed int with ThreadsPerChild 1 and
 * MaxRequestWorkers INT_MAX. */
static void test_workers_int_max(void)
{
    fe_limits_t l;

    memset(&l, 0, sizeof l);
    fe_limits_defaults(&l);
    l.threads_per_child = 1;
    l.max_workers = 2147483647;
    fe_limits_check(&l, 0, 0, NULL, NULL);
    FE_ASSERT_EQ_INT(l.max_workers, l.active_daemons_limit
                                    * l.threads_per_child);
    CU_ASSERT(l.active_daemons_limit <= l.server_limit);
}

static const fe_test_case_t cases[] = {
    {"defaults are stock event's", test_defaults},
    {"consistent configs report nothing", test_consistent_configs},
    {"fe_parse_int", test_parse_int},
    {"fe_parse_factor", test_parse_factor},
    {"fe_parse_affinity", test_parse_affinity},
    {"FastEventProxyReserve values", test_parse_reserve},
    {"FastEventBodyBuffer sizes", test_parse_size},
    {"FastEventSchedBatch values", test_parse_sched},
    {"FastEventKeepAliveHold values and modes", test_hold_mode},
    {"clamp rules, tags and wording", test_clamp_rules},
    {"stock event's phrases lead each message", test_event_phrases},
    {"warnings are single lines", test_messages_single_line},
    {"restart freezes ServerLimit and ThreadLimit", test_restart_freeze_both},
    {"MaxRequestWorkers INT_MAX (fuzz regression)", test_workers_int_max},
    {NULL, NULL}
};

int main(int argc, char **argv)
{
    return fe_test_main("config", cases, argc, argv);
}
