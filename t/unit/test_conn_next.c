/*
 * test_conn_next.c: unit tests of the connection state decisions and the
 * accept capacity rule (fe_connstate.c).
 *
 * Owns: the checks of fe_connstate.h's contract: fe_conn_after_hooks for
 * every state (and out-of-range ones) x rc x aborted, fe_conn_after_flush
 * for all 2^6 fact combinations against a reference written here from the
 * header's stated order, fe_accept_limit and fe_accept_allowed with their
 * boundaries (hysteresis, lingering, hard cap, saturation).
 * Must not: depend on any other component, or copy the implementation: the
 * expectations come from the header, written independently.
 */

#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "policy/fe_connstate.h"
#include "fe_test.h"

#define NELTS(a) (sizeof(a) / sizeof((a)[0]))

static const char *state_name(int s)
{
    static const char *const names[] = {
        "KEEPALIVE", "PROCESSING", "HANDLER", "WRITE_COMPLETION",
        "SUSPENDED", "LINGER", "LINGER_NORMAL", "LINGER_SHORT",
        "ASYNC_WAITIO"
    };

    return s >= 0 && s < (int)NELTS(names) ? names[s] : "(out of range)";
}

static const char *next_name(int n)
{
    switch (n) {
    case FE_NEXT_WAIT_WRITE: return "WAIT_WRITE";
    case FE_NEXT_WAIT_READ:  return "WAIT_READ";
    case FE_NEXT_PROCESS:    return "PROCESS";
    case FE_NEXT_KEEPALIVE:  return "KEEPALIVE";
    case FE_NEXT_LINGER:     return "LINGER";
    }
    return "(invalid fe_next_e)";
}

/* ======================================================= after the hooks */

/*
 * Expected (output state, bad) for each state, in four columns:
 *   [0] rc ok,     live     [1] rc ok,     aborted
 *   [2] rc failed, live     [3] rc failed, aborted
 * Derived from the header:
 *  - PROCESSING: no hook took the connection over -> LINGER.  This is a
 *    documented rule, not an unexpected state: bad = 0.
 *  - KEEPALIVE -> WRITE_COMPLETION ("flush, then keep alive"), bad = 0.
 *  - WRITE_COMPLETION, ASYNC_WAITIO, SUSPENDED, LINGER are the documented
 *    return values: a hook leaving them is honoured as is, bad = 0.
 *  - any other state (HANDLER, LINGER_NORMAL, LINGER_SHORT, out of range)
 *    -> LINGER with bad = 1.
 *  - a failing rc -> LINGER with bad = 1, whatever the state.
 *  - aborted (with rc ok) -> LINGER, bad unchanged (aborted alone is not
 *    "unexpected") -- EXCEPT SUSPENDED, which stays SUSPENDED: the header
 *    says only "an aborted connection lingers", but the implementation
 *    deliberately keeps a suspended connection with the module that
 *    suspended it (closing it under the module would be a use-after-free
 *    hazard).  The header does not document that exception; see the
 *    SUSPENDED row.
 */
typedef struct hooks_out {
    int state;
    int bad;
} hooks_out_t;

typedef struct hooks_case {
    int state;
    hooks_out_t want[4];
} hooks_case_t;

#define L0 {FE_CS_LINGER, 0}
#define L1 {FE_CS_LINGER, 1}

static const hooks_case_t hooks_cases[] = {
    /* state                     ok/live                      ok/aborted
     *                           failed/live  failed/aborted */
    {FE_CS_KEEPALIVE,          {{FE_CS_WRITE_COMPLETION, 0}, L0, L1, L1}},
    {FE_CS_PROCESSING,         {L0,                          L0, L1, L1}},
    {FE_CS_HANDLER,            {L1,                          L1, L1, L1}},
    {FE_CS_WRITE_COMPLETION,   {{FE_CS_WRITE_COMPLETION, 0}, L0, L1, L1}},
    {FE_CS_SUSPENDED,          {{FE_CS_SUSPENDED, 0},
                                {FE_CS_SUSPENDED, 0},            L1, L1}},
    {FE_CS_LINGER,             {L0,                          L0, L1, L1}},
    {FE_CS_LINGER_NORMAL,      {L1,                          L1, L1, L1}},
    {FE_CS_LINGER_SHORT,       {L1,                          L1, L1, L1}},
    {FE_CS_ASYNC_WAITIO,       {{FE_CS_ASYNC_WAITIO, 0},     L0, L1, L1}},
    {FE_CS_NUM,                {L1,                          L1, L1, L1}},
    {-1,                       {L1,                          L1, L1, L1}},
    {99,                       {L1,                          L1, L1, L1}},
    {INT_MIN,                  {L1,                          L1, L1, L1}},
    {INT_MAX,                  {L1,                          L1, L1, L1}},
};

#undef L0
#undef L1

/* The table names every state 0..FE_CS_NUM exactly once. */
static void test_hooks_table_complete(void)
{
    int s;

    for (s = 0; s <= FE_CS_NUM; s++) {
        size_t i, seen = 0;

        for (i = 0; i < NELTS(hooks_cases); i++) {
            seen += hooks_cases[i].state == s;
        }
        if (seen != 1) {
            fprintf(stderr, "  state %d (%s) listed %zu times\n", s,
                    state_name(s), seen);
        }
        FE_ASSERT_EQ_INT(seen, 1);
    }
}

static void test_hooks_all(void)
{
    size_t i;
    int col;

    for (i = 0; i < NELTS(hooks_cases); i++) {
        const hooks_case_t *c = &hooks_cases[i];

        for (col = 0; col < 4; col++) {
            int rc_ok = col < 2;
            int aborted = col & 1;
            const hooks_out_t *w = &c->want[col];
            int bad_a = 42, bad_b = -7;   /* must be overwritten */
            int got, got_again, got_null;

            got = fe_conn_after_hooks(rc_ok, c->state, aborted, &bad_a);
            got_again = fe_conn_after_hooks(rc_ok, c->state, aborted, &bad_b);
            got_null = fe_conn_after_hooks(rc_ok, c->state, aborted, NULL);
            if (got != w->state || bad_a != w->bad) {
                fprintf(stderr, "  state %d (%s), rc_ok %d, aborted %d: "
                        "got %s bad %d, want %s bad %d\n",
                        c->state, state_name(c->state), rc_ok, aborted,
                        state_name(got), bad_a, state_name(w->state), w->bad);
            }
            FE_ASSERT_EQ_INT(got, w->state);
            FE_ASSERT_EQ_INT(bad_a, w->bad);
            FE_ASSERT_EQ_INT(bad_b, w->bad);
            FE_ASSERT_EQ_INT(got_again, w->state);
            FE_ASSERT_EQ_INT(got_null, w->state);
        }
    }
}

/* Whatever comes in, only the four documented states come out, and bad is
 * exactly 0 or 1. */
static void test_hooks_output_range(void)
{
    int s, rc_ok, aborted;

    for (s = -3; s <= FE_CS_NUM + 3; s++) {
        for (rc_ok = 0; rc_ok <= 1; rc_ok++) {
            for (aborted = 0; aborted <= 1; aborted++) {
                int bad = 5;
                int out = fe_conn_after_hooks(rc_ok, s, aborted, &bad);

                CU_ASSERT_TRUE(out == FE_CS_WRITE_COMPLETION
                               || out == FE_CS_ASYNC_WAITIO
                               || out == FE_CS_SUSPENDED
                               || out == FE_CS_LINGER);
                CU_ASSERT_TRUE(bad == 0 || bad == 1);
                /* a failing rc always lingers and is always reported */
                if (!rc_ok) {
                    FE_ASSERT_EQ_INT(out, FE_CS_LINGER);
                    FE_ASSERT_EQ_INT(bad, 1);
                }
            }
        }
    }
}

/* ======================================================= after a flush */

enum {
    F_ABORTED  = 1 << 0,
    F_OUTPUT   = 1 << 1,
    F_INPUT    = 1 << 2,
    F_WANTREAD = 1 << 3,
    F_CLOGGING = 1 << 4,
    F_KEEPALIVE = 1 << 5,
    F_ALL      = (1 << 6) - 1
};

/* Build the facts for a bit mask; a set fact gets the value `truth`. */
static fe_flush_facts_t facts_of(unsigned int m, int truth)
{
    fe_flush_facts_t f;

    memset(&f, 0, sizeof(f));
    f.aborted        = (m & F_ABORTED)   ? truth : 0;
    f.pending_output = (m & F_OUTPUT)    ? truth : 0;
    f.pending_input  = (m & F_INPUT)     ? truth : 0;
    f.want_read      = (m & F_WANTREAD)  ? truth : 0;
    f.clogging       = (m & F_CLOGGING)  ? truth : 0;
    f.keepalive      = (m & F_KEEPALIVE) ? truth : 0;
    return f;
}

/*
 * Reference decision table, in the order the header states it; the first
 * matching row wins:
 *   1. aborted                          -> LINGER
 *   2. output remains                   -> WAIT_WRITE
 *   3. a module asked to read           -> WAIT_READ
 *   4. no keep-alive                    -> LINGER
 *   5. pipelined input or clogging      -> PROCESS
 *   6. otherwise                        -> KEEPALIVE
 *      (a stopping child is no exception: the response just sent
 *      promised keep-alive, the listener closes the connection later, so
 *      the facts do not even carry "dying")
 * Works on the bit mask, not on the struct, so it shares nothing with the
 * implementation.
 */
static fe_next_e reference_after_flush(unsigned int m)
{
    int aborted = (m & F_ABORTED) != 0;
    int output = (m & F_OUTPUT) != 0;
    int want_read = (m & F_WANTREAD) != 0;
    int keepalive = (m & F_KEEPALIVE) != 0;
    int more_input = (m & (F_INPUT | F_CLOGGING)) != 0;

    if (aborted)        return FE_NEXT_LINGER;      /* 1 */
    else if (output)    return FE_NEXT_WAIT_WRITE;  /* 2 */
    else if (want_read) return FE_NEXT_WAIT_READ;   /* 3 */
    else if (!keepalive) return FE_NEXT_LINGER;     /* 4 */
    else if (more_input) return FE_NEXT_PROCESS;    /* 5 */
    else                return FE_NEXT_KEEPALIVE;   /* 6 */
}

static void describe_mask(unsigned int m)
{
    fprintf(stderr, "  facts:%s%s%s%s%s%s%s\n",
            m == 0 ? " (none)" : "",
            (m & F_ABORTED) ? " aborted" : "",
            (m & F_OUTPUT) ? " pending_output" : "",
            (m & F_INPUT) ? " pending_input" : "",
            (m & F_WANTREAD) ? " want_read" : "",
            (m & F_CLOGGING) ? " clogging" : "",
            (m & F_KEEPALIVE) ? " keepalive" : "");
}

/* All 64 combinations against the reference. */
static void test_flush_exhaustive(void)
{
    unsigned int m;

    for (m = 0; m <= F_ALL; m++) {
        fe_flush_facts_t f = facts_of(m, 1);
        fe_flush_facts_t copy = f;
        fe_next_e got = fe_conn_after_flush(&f);
        fe_next_e want = reference_after_flush(m);

        if (got != want) {
            describe_mask(m);
            fprintf(stderr, "  got %s, want %s\n", next_name(got),
                    next_name(want));
        }
        FE_ASSERT_EQ_INT(got, want);
        CU_ASSERT_TRUE(memcmp(&f, &copy, sizeof(f)) == 0);
    }
}

/* The facts are C booleans: any non-zero value counts as true. */
static void test_flush_truthiness(void)
{
    static const int truths[] = {2, -1, INT_MAX, INT_MIN};
    unsigned int m;
    size_t t;

    for (t = 0; t < NELTS(truths); t++) {
        for (m = 0; m <= F_ALL; m++) {
            fe_flush_facts_t f = facts_of(m, truths[t]);
            fe_next_e got = fe_conn_after_flush(&f);
            fe_next_e want = reference_after_flush(m);

            if (got != want) {
                describe_mask(m);
                fprintf(stderr, "  true == %d: got %s, want %s\n", truths[t],
                        next_name(got), next_name(want));
            }
            FE_ASSERT_EQ_INT(got, want);
        }
    }
}

/* A check on the reference itself: how many of the 64 combinations end
 * where.  aborted: 32 linger; then output: 16 wait-write; want_read: 8
 * wait-read; no keep-alive: 4 linger; of the last 4 (input and clogging
 * free) 3 process, 1 keeps alive. */
static void test_flush_histogram(void)
{
    unsigned int m, count[FE_NEXT_LINGER + 1];

    memset(count, 0, sizeof(count));
    for (m = 0; m <= F_ALL; m++) {
        fe_flush_facts_t f = facts_of(m, 1);
        fe_next_e n = fe_conn_after_flush(&f);

        CU_ASSERT_TRUE(n >= FE_NEXT_WAIT_WRITE && n <= FE_NEXT_LINGER);
        if (n >= FE_NEXT_WAIT_WRITE && n <= FE_NEXT_LINGER) {
            count[n]++;
        }
    }
    FE_ASSERT_EQ_INT(count[FE_NEXT_LINGER], 32 + 4);
    FE_ASSERT_EQ_INT(count[FE_NEXT_WAIT_WRITE], 16);
    FE_ASSERT_EQ_INT(count[FE_NEXT_WAIT_READ], 8);
    FE_ASSERT_EQ_INT(count[FE_NEXT_PROCESS], 3);
    FE_ASSERT_EQ_INT(count[FE_NEXT_KEEPALIVE], 1);
}

/* Hand-written rows pinning each precedence the header states. */
typedef struct flush_case {
    const char *name;
    unsigned int mask;
    fe_next_e want;
} flush_case_t;

static const flush_case_t flush_cases[] = {
    {"nothing set: no keep-alive", 0, FE_NEXT_LINGER},
    {"keep-alive only", F_KEEPALIVE, FE_NEXT_KEEPALIVE},
    {"aborted beats everything", F_ALL, FE_NEXT_LINGER},
    {"aborted beats pending output", F_ABORTED | F_OUTPUT | F_KEEPALIVE,
     FE_NEXT_LINGER},
    {"output beats want_read", F_OUTPUT | F_WANTREAD | F_KEEPALIVE,
     FE_NEXT_WAIT_WRITE},
    {"output waits even without keep-alive", F_OUTPUT, FE_NEXT_WAIT_WRITE},
    {"want_read waits even without keep-alive", F_WANTREAD,
     FE_NEXT_WAIT_READ},
    {"want_read beats pipelined input", F_WANTREAD | F_INPUT | F_KEEPALIVE,
     FE_NEXT_WAIT_READ},
    {"no keep-alive beats pipelined input", F_INPUT | F_CLOGGING,
     FE_NEXT_LINGER},
    {"pipelined input", F_INPUT | F_KEEPALIVE, FE_NEXT_PROCESS},
    {"clogging filter", F_CLOGGING | F_KEEPALIVE, FE_NEXT_PROCESS},
    {"pipelined input and clogging", F_INPUT | F_CLOGGING | F_KEEPALIVE,
     FE_NEXT_PROCESS},
    {NULL, 0, FE_NEXT_LINGER}
};

static void test_flush_precedence(void)
{
    const flush_case_t *c;

    for (c = flush_cases; c->name != NULL; c++) {
        fe_flush_facts_t f = facts_of(c->mask, 1);
        fe_next_e got = fe_conn_after_flush(&f);

        if (got != c->want) {
            fprintf(stderr, "  case \"%s\": got %s, want %s\n", c->name,
                    next_name(got), next_name(c->want));
        }
        FE_ASSERT_EQ_INT(got, c->want);
        /* and the reference agrees with the hand-written row */
        FE_ASSERT_EQ_INT(reference_after_flush(c->mask), c->want);
    }
}

/* ======================================================== accept limit */

typedef struct limit_case {
    const char *name;
    unsigned int threads;
    double factor;
    unsigned int want;
} limit_case_t;

static void test_accept_limit(void)
{
    const limit_case_t cases[] = {
        {"25 x (1.0 + 1)", 25, 1.0, 50},
        {"25 x (1.5 + 1) = 62.5 -> 62", 25, 1.5, 62},
        {"25 x (2.0 + 1)", 25, 2.0, 75},
        {"25 x (2.5 + 1) = 87.5 -> 87", 25, 2.5, 87},
        {"1 x (1 + 1)", 1, 1.0, 2},
        {"1 x (1.5 + 1) = 2.5 -> 2", 1, 1.5, 2},
        {"1 x (2 + 1)", 1, 2.0, 3},
        {"1 x (2.5 + 1) = 3.5 -> 3", 1, 2.5, 3},
        {"3 x (1.5 + 1) = 7.5 -> 7", 3, 1.5, 7},
        {"threads 0 -> 1, factor 1", 0, 1.0, 2},
        {"threads 0 -> 1, factor 2", 0, 2.0, 3},
        {"threads 0 -> 1, factor 2.5", 0, 2.5, 3},
        {"factor 0.999 -> 1", 25, 0.999, 50},
        {"factor 0.5 -> 1", 25, 0.5, 50},
        {"factor 0 -> 1", 25, 0.0, 50},
        {"factor -0 -> 1", 25, -0.0, 50},
        {"factor -1 -> 1", 25, -1.0, 50},
        {"factor -2 -> 1 (no zero/negative limit)", 25, -2.0, 50},
        {"factor -inf -> 1", 25, -INFINITY, 50},
        {"factor NaN -> 1", 25, NAN, 50},
        {"factor -NaN -> 1", 25, -NAN, 50},
        {"threads 0, factor NaN", 0, NAN, 2},
        {"threads 0, factor -1", 0, -1.0, 2},
        {"factor just above 1", 4, 1.0 + DBL_EPSILON, 8},
        {"config maxima: 100000 x (1000 + 1)", 100000, 1000.0, 100100000u},
        {"exactly 4e9 (2e9 x 2)", 2000000000u, 1.0, 4000000000u},
        {"just below the cap", 1999999999u, 1.0, 3999999998u},
        {"just above the cap saturates", 2000000001u, 1.0, 4000000000u},
        {"UINT_MAX threads saturate", UINT_MAX, 1.0, 4000000000u},
        {"huge factor saturates", 25, 1e12, 4000000000u},
        {"DBL_MAX factor saturates", 1, DBL_MAX, 4000000000u},
        {"factor +inf saturates", 1, INFINITY, 4000000000u},
        {"UINT_MAX x DBL_MAX saturates", UINT_MAX, DBL_MAX, 4000000000u},
    };
    size_t i;

    for (i = 0; i < NELTS(cases); i++) {
        unsigned int got = fe_accept_limit(cases[i].threads, cases[i].factor);

        if (got != cases[i].want) {
            fprintf(stderr, "  case \"%s\": got %u, want %u\n",
                    cases[i].name, got, cases[i].want);
        }
        FE_ASSERT_EQ_U64(got, cases[i].want);
    }
}

/* Never below 1 (in fact never below 2), never above the saturation, and
 * monotonic in threads. */
static void test_accept_limit_bounds(void)
{
    static const double factors[] = {
        -INFINITY, -1.0, 0.0, 0.5, 1.0, 1.25, 1.5, 2.0, 2.5, 3.75, 10.0,
        1000.0, 1e9, INFINITY
    };
    static const unsigned int threads[] = {
        0, 1, 2, 3, 7, 8, 25, 64, 1000, 100000, 1000000, 2000000000u,
        UINT_MAX
    };
    size_t i, j;

    for (i = 0; i < NELTS(factors); i++) {
        unsigned int prev = 0;

        for (j = 0; j < NELTS(threads); j++) {
            unsigned int got = fe_accept_limit(threads[j], factors[i]);

            CU_ASSERT_TRUE(got >= 2);
            CU_ASSERT_TRUE(got <= 4000000000u);
            CU_ASSERT_TRUE(got >= prev);
            prev = got;
        }
    }
}

/* ====================================================== accept allowed */

static int allowed(unsigned int conns, unsigned int lingering,
                   unsigned int threads, double factor,
                   unsigned int hard_cap, int disabled)
{
    fe_accept_facts_t f;
    fe_accept_facts_t copy;
    int r;

    memset(&f, 0, sizeof(f));
    f.conns = conns;
    f.lingering = lingering;
    f.threads = threads;
    f.factor = factor;
    f.hard_cap = hard_cap;
    f.disabled = disabled;
    copy = f;
    r = fe_accept_allowed(&f);
    CU_ASSERT_TRUE(memcmp(&f, &copy, sizeof(f)) == 0);
    return r;
}

typedef struct allow_case {
    const char *name;
    unsigned int conns, lingering, threads;
    double factor;
    unsigned int hard_cap;
    int disabled;
    int want;
} allow_case_t;

#define CAP 1000000u   /* a hard cap out of the way */

static const allow_case_t allow_cases[] = {
    /* limit 75 = 25 x (2 + 1) */
    {"empty", 0, 0, 25, 2.0, CAP, 0, 1},
    {"one below the limit", 74, 0, 25, 2.0, CAP, 0, 1},
    {"at the limit", 75, 0, 25, 2.0, CAP, 0, 0},
    {"above the limit", 76, 0, 25, 2.0, CAP, 0, 0},
    {"far above the limit", 5000, 0, 25, 2.0, CAP, 0, 0},
    /* lingering connections do not count */
    {"100 open, 26 lingering: 74 active", 100, 26, 25, 2.0, CAP, 0, 1},
    {"100 open, 25 lingering: 75 active", 100, 25, 25, 2.0, CAP, 0, 0},
    {"1074 open, 1000 lingering: 74 active", 1074, 1000, 25, 2.0, CAP, 0, 1},
    {"all lingering", 500, 500, 25, 2.0, CAP, 0, 1},
    /* the hard cap counts every connection and refuses regardless */
    {"hard cap reached, 1 active", 80, 79, 25, 2.0, 80, 0, 0},
    {"hard cap exceeded, 0 active", 90, 90, 25, 2.0, 80, 0, 0},
    {"one below the hard cap, 1 active", 79, 78, 25, 2.0, 80, 0, 1},
    {"hard cap 0 refuses an empty child", 0, 0, 25, 2.0, 0, 0, 0},
    {"hard cap 1, empty", 0, 0, 25, 2.0, 1, 0, 1},
    {"hard cap 1, one open", 1, 1, 25, 2.0, 1, 0, 0},
    {"hard cap reached while disabled", 80, 79, 25, 2.0, 80, 1, 0},
    {"hard cap below the limit", 10, 0, 25, 2.0, 10, 0, 0},
    /* hysteresis, limit 75: 75 - 75/8 = 66 */
    {"disabled, 65 active", 65, 0, 25, 2.0, CAP, 1, 1},
    {"disabled, 66 active", 66, 0, 25, 2.0, CAP, 1, 0},
    {"disabled, 74 active (enabled would accept)", 74, 0, 25, 2.0, CAP, 1, 0},
    {"disabled, 75 active", 75, 0, 25, 2.0, CAP, 1, 0},
    {"disabled, 165 open, 100 lingering", 165, 100, 25, 2.0, CAP, 1, 1},
    {"disabled, 166 open, 100 lingering", 166, 100, 25, 2.0, CAP, 1, 0},
    {"enabled, 66 active", 66, 0, 25, 2.0, CAP, 0, 1},
    /* hysteresis, limit 62 = 25 x 2.5: 62 - 7 = 55 */
    {"limit 62, disabled, 54 active", 54, 0, 25, 1.5, CAP, 1, 1},
    {"limit 62, disabled, 55 active", 55, 0, 25, 1.5, CAP, 1, 0},
    {"limit 62, enabled, 61 active", 61, 0, 25, 1.5, CAP, 0, 1},
    {"limit 62, enabled, 62 active", 62, 0, 25, 1.5, CAP, 0, 0},
    /* hysteresis, limit 8 = 4 x 2: 8 - 1 = 7 */
    {"limit 8, disabled, 6 active", 6, 0, 4, 1.0, CAP, 1, 1},
    {"limit 8, disabled, 7 active", 7, 0, 4, 1.0, CAP, 1, 0},
    {"limit 8, enabled, 7 active", 7, 0, 4, 1.0, CAP, 0, 1},
    /* the smallest reachable limit is 2 (1 thread x (1 + 1)): 2/8 == 0,
     * so hysteresis leaves it at 2 */
    {"limit 2, enabled, 1 active", 1, 0, 1, 1.0, CAP, 0, 1},
    {"limit 2, enabled, 2 active", 2, 0, 1, 1.0, CAP, 0, 0},
    {"limit 2, disabled, 1 active", 1, 0, 1, 1.0, CAP, 1, 1},
    {"limit 2, disabled, 2 active", 2, 0, 1, 1.0, CAP, 1, 0},
    {"limit 2 via threads 0", 1, 0, 0, NAN, CAP, 1, 1},
    {"limit 2 via threads 0, full", 2, 0, 0, NAN, CAP, 1, 0},
    /* limit 3 (1 x 3): 3 - 0 = 3 */
    {"limit 3, disabled, 2 active", 2, 0, 1, 2.0, CAP, 1, 1},
    {"limit 3, disabled, 3 active", 3, 0, 1, 2.0, CAP, 1, 0},
    /* conns < lingering must not underflow into a huge active count */
    {"3 open, 10 lingering", 3, 10, 25, 2.0, CAP, 0, 1},
    {"3 open, 10 lingering, disabled", 3, 10, 25, 2.0, CAP, 1, 1},
    {"0 open, UINT_MAX lingering", 0, UINT_MAX, 25, 2.0, CAP, 0, 1},
    {"limit 2, 1 open, 2 lingering, disabled", 1, 2, 1, 1.0, CAP, 1, 1},
    /* saturated limit 4e9; hysteresis 4e9 - 5e8 = 3.5e9 */
    {"saturated, 3999999999 active", 3999999999u, 0, UINT_MAX, 1.0,
     UINT_MAX, 0, 1},
    {"saturated, 4000000000 active", 4000000000u, 0, UINT_MAX, 1.0,
     UINT_MAX, 0, 0},
    {"saturated, disabled, 3499999999 active", 3499999999u, 0, UINT_MAX,
     1.0, UINT_MAX, 1, 1},
    {"saturated, disabled, 3500000000 active", 3500000000u, 0, UINT_MAX,
     1.0, UINT_MAX, 1, 0},
    {"UINT_MAX open, hard cap UINT_MAX", UINT_MAX, UINT_MAX, 25, 2.0,
     UINT_MAX, 0, 0},
    {"UINT_MAX - 1 open, all lingering", UINT_MAX - 1, UINT_MAX - 1, 25,
     2.0, UINT_MAX, 0, 1},
    {NULL, 0, 0, 0, 0.0, 0, 0, 0}
};

static void test_accept_allowed_cases(void)
{
    const allow_case_t *c;

    for (c = allow_cases; c->name != NULL; c++) {
        int got = allowed(c->conns, c->lingering, c->threads, c->factor,
                          c->hard_cap, c->disabled);

        if (got != c->want) {
            fprintf(stderr, "  case \"%s\": got %d, want %d\n", c->name, got,
                    c->want);
        }
        FE_ASSERT_EQ_INT(got, c->want);
    }
}

/* The disabled flag is a C boolean too. */
static void test_accept_disabled_truthiness(void)
{
    FE_ASSERT_EQ_INT(allowed(66, 0, 25, 2.0, CAP, 2), 0);
    FE_ASSERT_EQ_INT(allowed(65, 0, 25, 2.0, CAP, -1), 1);
    FE_ASSERT_EQ_INT(allowed(66, 0, 25, 2.0, CAP, -1), 0);
}

/*
 * Sweep against a reference written from the header: the limit is
 * floor(threads' x (factor' + 1)) computed in integers (the factors here
 * are multiples of 1/4, so exact), threads' = max(threads, 1) and
 * factor' = max(factor, 1) with NaN -> 1; while disabled, accept only when
 * active is below 7/8 of the limit, i.e. 8 x active < 7 x limit.
 */
static void test_accept_allowed_sweep(void)
{
    static const unsigned int threads[] = {0, 1, 2, 3, 4, 7, 8, 9, 25};
    static const double factors[] = {NAN, 0.5, 1.0, 1.25, 1.5, 2.0, 2.5,
                                     3.75};
    static const unsigned int lingers[] = {0, 1, 5, 200};
    size_t ti, fi, li;
    unsigned long mismatches = 0;

    for (ti = 0; ti < NELTS(threads); ti++) {
        for (fi = 0; fi < NELTS(factors); fi++) {
            unsigned long long t = threads[ti] ? threads[ti] : 1;
            double fac = factors[fi] >= 1.0 ? factors[fi] : 1.0;
            unsigned long long quarters = (unsigned long long)(fac * 4.0);
            unsigned long long limit = t * (quarters + 4) / 4;

            FE_ASSERT_EQ_U64(fe_accept_limit(threads[ti], factors[fi]), limit);
            for (li = 0; li < NELTS(lingers); li++) {
                unsigned int ling = lingers[li];
                unsigned int caps[5];
                unsigned int conns, ci;
                int disabled;

                caps[0] = 0;
                caps[1] = 1;
                caps[2] = (unsigned int)limit;
                caps[3] = (unsigned int)limit + ling + 5;
                caps[4] = UINT_MAX;
                for (ci = 0; ci < NELTS(caps); ci++) {
                    for (conns = 0; conns <= limit + ling + 10; conns++) {
                        for (disabled = 0; disabled <= 1; disabled++) {
                            unsigned long long active =
                                conns > ling ? conns - ling : 0;
                            int want, got;

                            if (conns >= caps[ci]) {
                                want = 0;
                            }
                            else if (disabled) {
                                want = 8 * active < 7 * limit;
                            }
                            else {
                                want = active < limit;
                            }
                            got = allowed(conns, ling, threads[ti],
                                          factors[fi], caps[ci], disabled);
                            if (got != want && mismatches++ < 10) {
                                fprintf(stderr, "  threads %u factor %g "
                                        "(limit %llu) conns %u lingering %u "
                                        "hard_cap %u disabled %d: got %d, "
                                        "want %d\n", threads[ti],
                                        factors[fi], limit, conns, ling,
                                        caps[ci], disabled, got, want);
                            }
                            CU_ASSERT_EQUAL(got, want);
                        }
                    }
                }
            }
        }
    }
    FE_ASSERT_EQ_INT(mismatches, 0);
}

/* Hysteresis as a whole: going up, the child accepts until the limit;
 * once disabled it stays refused down to (limit - limit/8) and accepts
 * again below it. */
static void test_accept_hysteresis_cycle(void)
{
    unsigned int active;
    int disabled = 0;
    unsigned int paused_at = 0, resumed_at = 0;

    for (active = 0; active <= 80; active++) {
        if (!allowed(active, 0, 25, 2.0, CAP, disabled) && !disabled) {
            disabled = 1;
            paused_at = active;
        }
    }
    FE_ASSERT_EQ_INT(paused_at, 75);
    for (active = 80; active-- > 0;) {
        if (allowed(active, 0, 25, 2.0, CAP, disabled) && disabled) {
            disabled = 0;
            resumed_at = active;
        }
    }
    FE_ASSERT_EQ_INT(resumed_at, 65);
    FE_ASSERT_EQ_INT(disabled, 0);
}

/* The per-child cap and the open-files arithmetic the parent checks
 * RLIMIT_NOFILE against (fe_parent.c). */
static void test_conn_cap_and_nofile(void)
{
    /* 25 threads x (2 + 1) = 75 accepted; 2 x 75 + 25 + 16 = 191 */
    FE_ASSERT_EQ_INT(fe_child_conn_cap(25, 2.0), 191);
    /* 64 x (4 + 1) = 320; 640 + 64 + 16 = 720 */
    FE_ASSERT_EQ_INT(fe_child_conn_cap(64, 4.0), 720);
    /* threads 0 acts as 1: limit 2 -> 4 + 0 + 16 */
    FE_ASSERT_EQ_INT(fe_child_conn_cap(0, 1.0), 20);
    /* saturates instead of wrapping */
    FE_ASSERT_EQ_U64(fe_child_conn_cap(4000000000u, 1000.0), 4000000000u);
    FE_ASSERT_EQ_INT(fe_child_fresh_cap(25, 2.0), 3 * 191);
    FE_ASSERT_EQ_U64(fe_child_fresh_cap(4000000000u, 1000.0), 4000000000u);
    FE_ASSERT_EQ_U64(fe_nofile_need(25, 2.0, 2, 64), 191 + 573 + 2 + 64);
    FE_ASSERT_EQ_U64(fe_nofile_need(64, 4.0, 1, 64), 720 + 2160 + 1 + 64);
}

/* ---------------------------------------------------------- holds */

static fe_hold_facts_t hold_facts(unsigned int threads, unsigned int idle,
                                  unsigned int waiting, unsigned int conns,
                                  int stopping)
{
    fe_hold_facts_t f;

    f.threads = threads;
    f.idle = idle;
    f.waiting = waiting;
    f.conns = conns;
    f.stopping = stopping;
    return f;
}

static void test_hold_reserve(void)
{
    FE_ASSERT_EQ_INT(fe_hold_reserve(0), 0);
    FE_ASSERT_EQ_INT(fe_hold_reserve(15), 0);
    FE_ASSERT_EQ_INT(fe_hold_reserve(16), 1);
    FE_ASSERT_EQ_INT(fe_hold_reserve(25), 1);
    FE_ASSERT_EQ_INT(fe_hold_reserve(64), 4);
    FE_ASSERT_EQ_INT(fe_hold_reserve(4000000000u), 250000000);
}

static void test_hold_allowed_cases(void)
{
    /* threads, idle, waiting, conns (-1: as many as threads), stopping */
    static const struct {
        unsigned int threads, idle, waiting;
        long long conns;
        int stopping, want;
    } t[] = {
        /* 25 threads: reserve 1, so two idle workers free of queue work */
        { 25, 2, 0, -1, 0, 1 },
        { 25, 1, 0, -1, 0, 0 },
        { 25, 3, 1, -1, 0, 1 },
        { 25, 3, 2, -1, 0, 0 },
        /* more waiting than idle: never, and no unsigned wrap-around */
        { 25, 3, 4000000000u, -1, 0, 0 },
        { 25, 0, 0, -1, 0, 0 },
        /* a small child (reserve 0) still keeps one idle worker */
        { 3, 1, 0, -1, 0, 1 },
        { 3, 1, 1, -1, 0, 0 },
        /* more connections than workers: holds would be called back */
        { 25, 20, 0, 26, 0, 0 },
        { 25, 20, 0, 25, 0, 1 },
        { 25, 20, 0, 0, 0, 1 },
        { 25, 20, 0, 4000000000u, 0, 0 },
        /* stopping wins over everything */
        { 25, 25, 0, -1, 1, 0 },
        { 25, 25, 0, -1, 7, 0 },
    };
    size_t i;

    for (i = 0; i < sizeof t / sizeof t[0]; i++) {
        fe_hold_facts_t f = hold_facts(t[i].threads, t[i].idle,
                                       t[i].waiting,
                                       t[i].conns < 0 ? t[i].threads
                                       : (unsigned int)t[i].conns,
                                       t[i].stopping);

        FE_ASSERT_EQ_INT(fe_hold_allowed(&f), t[i].want);
    }
}

/* Exhaustive over a small grid against the stated rule. */
static void test_hold_allowed_sweep(void)
{
    unsigned int t, i, w, c;
    int st;

    for (t = 0; t <= 40; t++) {
        for (i = 0; i <= 12; i++) {
            for (w = 0; w <= 12; w++) {
                for (c = 0; c <= 45; c += 3) {
                    for (st = 0; st <= 1; st++) {
                        fe_hold_facts_t f = hold_facts(t, i, w, c, st);
                        int want = !st && c <= t && i > w
                                   && i - w > t / 16;

                        if (fe_hold_allowed(&f) != want) {
                            CU_FAIL("fe_hold_allowed differs from the rule");
                            fprintf(stderr, "t=%u i=%u w=%u c=%u st=%d\n",
                                    t, i, w, c, st);
                            return;
                        }
                    }
                }
            }
        }
    }
}

static void test_hold_recall(void)
{
    /* nothing waits beyond the idle workers: nobody is called back */
    FE_ASSERT_EQ_INT(fe_hold_recall(20, 2, 2, 0), 0);
    FE_ASSERT_EQ_INT(fe_hold_recall(20, 5, 0, 0), 0);
    /* 3 entries, 1 idle: 2 holders called back */
    FE_ASSERT_EQ_INT(fe_hold_recall(20, 1, 3, 0), 2);
    /* 1 call already on its way: 1 more */
    FE_ASSERT_EQ_INT(fe_hold_recall(20, 1, 3, 1), 1);
    FE_ASSERT_EQ_INT(fe_hold_recall(20, 1, 3, 2), 0);
    FE_ASSERT_EQ_INT(fe_hold_recall(20, 1, 3, 9), 0);
    /* never more than the holders not yet called */
    FE_ASSERT_EQ_INT(fe_hold_recall(2, 0, 10, 0), 2);
    FE_ASSERT_EQ_INT(fe_hold_recall(2, 0, 10, 1), 1);
    FE_ASSERT_EQ_INT(fe_hold_recall(2, 0, 10, 2), 0);
    FE_ASSERT_EQ_INT(fe_hold_recall(0, 0, 10, 0), 0);
    /* extremes do not wrap */
    FE_ASSERT_EQ_U64(fe_hold_recall(4000000000u, 0, 4000000000u, 0),
                     4000000000u);
    FE_ASSERT_EQ_INT(fe_hold_recall(4000000000u, 4000000000u, 0, 0), 0);
}

/* Calling back what fe_hold_recall() says, as often as asked, clears a
 * backlog without calling back more holders than entries wait. */
static void test_hold_recall_converges(void)
{
    unsigned int holders, idle, waiting;

    for (holders = 0; holders <= 30; holders++) {
        for (waiting = 0; waiting <= 30; waiting++) {
            for (idle = 0; idle <= 5; idle++) {
                unsigned int calls = 0, round;

                for (round = 0; round < 5; round++) {
                    calls += fe_hold_recall(holders, idle, waiting, calls);
                }
                {
                    unsigned int need = waiting > idle ? waiting - idle : 0;
                    unsigned int want = need < holders ? need : holders;

                    if (calls != want) {
                        CU_FAIL("recall did not converge to the need");
                        fprintf(stderr, "h=%u i=%u w=%u calls=%u\n",
                                holders, idle, waiting, calls);
                        return;
                    }
                }
            }
        }
    }
}

static void test_client_done(void)
{
    unsigned int m;

    /* HTTP/1.1 with "close", no body: done */
    FE_ASSERT_EQ_INT(fe_client_done(1, 1, 0, 0), 1);
    /* HTTP/1.1 without "close": it may send another request */
    FE_ASSERT_EQ_INT(fe_client_done(1, 0, 0, 0), 0);
    FE_ASSERT_EQ_INT(fe_client_done(1, 0, 1, 0), 0);
    /* HTTP/1.0: done unless it asked for keep-alive */
    FE_ASSERT_EQ_INT(fe_client_done(0, 0, 0, 0), 1);
    FE_ASSERT_EQ_INT(fe_client_done(0, 0, 1, 0), 0);
    FE_ASSERT_EQ_INT(fe_client_done(0, 1, 1, 0), 1);
    /* a body (possibly unread, possibly still coming) always lingers */
    for (m = 0; m < 8; m++) {
        FE_ASSERT_EQ_INT(fe_client_done(m & 1, (m >> 1) & 1, (m >> 2) & 1,
                                        1), 0);
    }
    /* any non-zero is true */
    FE_ASSERT_EQ_INT(fe_client_done(7, 9, 0, 0), 1);
    FE_ASSERT_EQ_INT(fe_client_done(0, 0, 0, 5), 0);
}

static void test_write_now(void)
{
    apr_size_t held, len, unsent, buf;

    /* hold: below FE_WRITE_HOLD_MAX in all, never wrapping */
    FE_ASSERT_EQ_INT(fe_write_hold_ok(0, 0), 1);
    FE_ASSERT_EQ_INT(fe_write_hold_ok(0, FE_WRITE_HOLD_MAX - 1), 1);
    FE_ASSERT_EQ_INT(fe_write_hold_ok(0, FE_WRITE_HOLD_MAX), 0);
    FE_ASSERT_EQ_INT(fe_write_hold_ok(300, FE_WRITE_HOLD_MAX - 301), 1);
    FE_ASSERT_EQ_INT(fe_write_hold_ok(300, FE_WRITE_HOLD_MAX - 300), 0);
    FE_ASSERT_EQ_INT(fe_write_hold_ok(FE_WRITE_HOLD_MAX, 0), 0);
    FE_ASSERT_EQ_INT(fe_write_hold_ok(100, (apr_size_t)-1), 0);
    FE_ASSERT_EQ_INT(fe_write_hold_ok((apr_size_t)-1, 100), 0);

    /* fits: half the send buffer, unsent bytes included */
    FE_ASSERT_EQ_INT(fe_write_now_fits(1300, 0, 16384), 1);
    FE_ASSERT_EQ_INT(fe_write_now_fits(8192, 0, 16384), 1);
    FE_ASSERT_EQ_INT(fe_write_now_fits(8192, 1, 16384), 0);
    FE_ASSERT_EQ_INT(fe_write_now_fits(1300, 7000, 16384), 0);
    FE_ASSERT_EQ_INT(fe_write_now_fits(1000, 7192, 16384), 1);
    FE_ASSERT_EQ_INT(fe_write_now_fits(0, 9000, 16384), 0);
    /* unknown buffer: never */
    FE_ASSERT_EQ_INT(fe_write_now_fits(10, 0, 0), 0);
    /* larger than FE_WRITE_NOW_MAX: never, whatever the buffer */
    FE_ASSERT_EQ_INT(fe_write_now_fits(FE_WRITE_NOW_MAX + 1, 0,
                                       (apr_size_t)1 << 30), 0);
    FE_ASSERT_EQ_INT(fe_write_now_fits((apr_size_t)-1, 0,
                                       (apr_size_t)-1), 0);
    /* sweep against the rule written out */
    for (len = 0; len <= 3 * FE_WRITE_NOW_MAX; len += 997) {
        for (unsent = 0; unsent <= 40000; unsent += 1231) {
            for (buf = 0; buf <= 65536; buf += 4096) {
                int want = buf > 0 && len <= FE_WRITE_NOW_MAX
                           && unsent + len <= buf / 2;

                FE_ASSERT_EQ_INT(fe_write_now_fits(len, unsent, buf), want);
            }
        }
    }
    for (held = 0; held <= 2 * FE_WRITE_NOW_MAX; held += 511) {
        for (len = 0; len <= 2 * FE_WRITE_NOW_MAX; len += 509) {
            FE_ASSERT_EQ_INT(fe_write_hold_ok(held, len),
                             held + len < FE_WRITE_HOLD_MAX);
        }
    }
}

static void test_accept_defer(void)
{
    unsigned int a, t, r;
    int d;

    /* 25 workers: defer from 22 connections (room 3 = 25/8) on, to a
     * sibling with room 5 or more */
    FE_ASSERT_EQ_INT(fe_accept_defer(22, 25, 5, 0), 1);
    FE_ASSERT_EQ_INT(fe_accept_defer(22, 25, 4, 0), 0);
    FE_ASSERT_EQ_INT(fe_accept_defer(21, 25, 25, 0), 0);
    FE_ASSERT_EQ_INT(fe_accept_defer(25, 25, 2, 0), 1);
    FE_ASSERT_EQ_INT(fe_accept_defer(30, 25, 2, 0), 1);
    /* no room at all: any sibling with a free worker takes them */
    FE_ASSERT_EQ_INT(fe_accept_defer(40, 25, 1, 0), 1);
    FE_ASSERT_EQ_INT(fe_accept_defer(25, 25, 1, 0), 1);
    FE_ASSERT_EQ_INT(fe_accept_defer(24, 25, 2, 0), 0);
    FE_ASSERT_EQ_INT(fe_accept_defer(40, 25, 0, 0), 0);
    /* hysteresis: once deferring, until room 7 > 25/4 */
    FE_ASSERT_EQ_INT(fe_accept_defer(19, 25, 25, 1), 1);
    FE_ASSERT_EQ_INT(fe_accept_defer(18, 25, 25, 1), 0);
    /* ... but not when the siblings lost their room */
    FE_ASSERT_EQ_INT(fe_accept_defer(19, 25, 7, 1), 0);
    FE_ASSERT_EQ_INT(fe_accept_defer(19, 25, 8, 1), 1);
    /* no workers: nothing to balance */
    FE_ASSERT_EQ_INT(fe_accept_defer(5, 0, 9, 0), 0);
    /* no wrap-around at the extremes */
    FE_ASSERT_EQ_INT(fe_accept_defer(4000000000u, 4000000000u, 9, 1), 1);
    FE_ASSERT_EQ_INT(fe_accept_defer(0, 4000000000u, 4000000000u, 1), 0);
    /* two children never defer to each other: if A defers to B, B has
     * more room than A, so B does not defer to A */
    for (t = 1; t <= 40; t++) {
        unsigned int x, y;

        for (x = 0; x <= 50; x++) {
            for (y = 0; y <= 50; y++) {
                unsigned int rx = x < t ? t - x : 0, ry = y < t ? t - y : 0;

                for (d = 0; d <= 3; d++) {
                    if (fe_accept_defer(x, t, ry, d & 1)
                        && fe_accept_defer(y, t, rx, d >> 1)) {
                        CU_FAIL("two children defer to each other");
                        fprintf(stderr, "t=%u x=%u y=%u d=%d\n", t, x, y, d);
                        return;
                    }
                }
            }
        }
    }
    /* sweep against the rule */
    for (t = 0; t <= 40; t++) {
        for (a = 0; a <= 50; a++) {
            for (r = 0; r <= 30; r++) {
                for (d = 0; d <= 1; d++) {
                    unsigned int room = a < t ? t - a : 0;
                    int want = t > 0 && room <= (d ? t / 4 : t / 8)
                               && r >= room + (room == 0 ? 1 : 2);

                    if (fe_accept_defer(a, t, r, d) != want) {
                        CU_FAIL("fe_accept_defer differs from the rule");
                        fprintf(stderr, "a=%u t=%u r=%u d=%d\n", a, t, r, d);
                        return;
                    }
                }
            }
        }
    }
}

/* Overflow: only with a stuck backlog, half the workers idle, under twice
 * the limit and the hard cap. */
static void test_accept_overflow(void)
{
    fe_accept_facts_t f = { 0 };
    unsigned int conns;

    f.threads = 25;
    f.factor = 2.0;                     /* limit 75, twice 150 */
    f.hard_cap = 191;
    f.conns = 80;
    f.disabled = 1;
    CU_ASSERT_FALSE(fe_accept_allowed(&f));
    CU_ASSERT_TRUE(fe_accept_overflow(&f, 25, 1));
    CU_ASSERT_TRUE(fe_accept_overflow(&f, 13, 1));
    CU_ASSERT_FALSE(fe_accept_overflow(&f, 12, 1));     /* busy workers */
    CU_ASSERT_FALSE(fe_accept_overflow(&f, 25, 0));     /* no backlog */
    for (conns = 0; conns < 400; conns++) {
        f.conns = conns;
        FE_ASSERT_EQ_INT(fe_accept_overflow(&f, 25, 1), conns < 150);
    }
    f.hard_cap = 100;                   /* the hard cap wins if lower */
    f.conns = 99;
    CU_ASSERT_TRUE(fe_accept_overflow(&f, 25, 1));
    f.conns = 100;
    CU_ASSERT_FALSE(fe_accept_overflow(&f, 25, 1));
    f.threads = 0;
    f.conns = 0;
    CU_ASSERT_FALSE(fe_accept_overflow(&f, 25, 1));
}

/* The state letter of a /proc task stat line, for the stuck mark. */
static void test_task_state(void)
{
    static const struct { const char *line; int want; } rows[] = {
        {"1234 (apache2) R 1 2 3", 1},
        {"1234 (apache2) S 1 2 3", 0},
        {"1234 (apache2) D 1 2 3", 0},
        {"1234 (apache2) T 1", 0},
        {"1234 (a) b) R 5 6", 1},      /* ')' in the name: the last one */
        {"1234 (a) R (x) S 1", 0},      /* ... really the last one */
        {"1234 (apache2) R", 1},        /* end of line right after */
        {"1234 (apache2) Rx 1", 0},     /* not a single letter */
        {"1234 (apache2)R 1", 0},       /* no space */
        {"1234 apache2 R 1", 0},        /* no parentheses */
        {"", 0},
        {"1234 (apache2) ", 0},
    };
    size_t i;

    for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        if (fe_task_state_running(rows[i].line) != rows[i].want) {
            fprintf(stderr, "  row %zu: %s\n", i, rows[i].line);
        }
        FE_ASSERT_EQ_INT(fe_task_state_running(rows[i].line), rows[i].want);
    }
    FE_ASSERT_EQ_INT(fe_task_state_running(NULL), 0);
}

/* Backend pacing: proxied requests give way only while the server serves
 * other requests too and the share is used up; with the reserve off (0)
 * never. */
static void test_backend_pacing(void)
{
    static const struct {
        unsigned int busy, places;
        int mixed;
        unsigned int ahead;
        int want;
    } rows[] = {
        /* busy places mixed ahead -> may start */
        { 0, 18, 0, 0, 1 },          /* nobody in a backend */
        { 17, 18, 1, 0, 1 },         /* below the share: always */
        { 18, 18, 0, 0, 1 },         /* share used, only proxied requests */
        { 18, 18, 1, 0, 0 },         /* share used, other requests come */
        { 24, 18, 0, 0, 1 },         /* a server that only proxies */
        { 24, 18, 1, 0, 0 },
        { 24, 25, 1, 0, 1 },         /* reserve off: places = all */
        { 17, 18, 1, 1, 0 },         /* a place, but one waits for it */
        { 0, 18, 1, 3, 0 },          /* first come, first served */
        { 17, 18, 0, 1, 1 },         /* only proxied: no line kept */
        { 30, 18, 0, 5, 1 },
    };
    size_t i;

    for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        FE_ASSERT_EQ_INT(fe_backend_may_start(rows[i].busy, rows[i].places,
                                              rows[i].mixed, rows[i].ahead),
                         rows[i].want);
    }
    /* others: this second's count or the last whole second's, whichever
     * is larger; nothing from two seconds ago */
    FE_ASSERT_EQ_INT(fe_backend_others(100, 3, 9, 100), 9);
    FE_ASSERT_EQ_INT(fe_backend_others(100, 5, 1, 100), 5);
    FE_ASSERT_EQ_INT(fe_backend_others(100, 5, 9, 101), 5);
    FE_ASSERT_EQ_INT(fe_backend_others(100, 5, 9, 102), 0);
    FE_ASSERT_EQ_INT(fe_backend_others(100, 5, 9, 99), 0);   /* clock back */
    FE_ASSERT_EQ_INT(fe_backend_others(0xffffffffu, 4, 0, 0), 4);
    /* another child's second with other requests: this second or the
     * last, as above; none yet is 0 */
    FE_ASSERT_EQ_INT(fe_sec_recent(100, 100, 2), 1);
    FE_ASSERT_EQ_INT(fe_sec_recent(100, 101, 2), 1);
    FE_ASSERT_EQ_INT(fe_sec_recent(100, 102, 2), 0);
    FE_ASSERT_EQ_INT(fe_sec_recent(100, 99, 2), 0);         /* clock back */
    FE_ASSERT_EQ_INT(fe_sec_recent(0, 0, 2), 0);
    FE_ASSERT_EQ_INT(fe_sec_recent(0, 1, 2), 0);
    FE_ASSERT_EQ_INT(fe_sec_recent(0xffffffffu, 0, 2), 1);
    FE_ASSERT_EQ_INT(fe_sec_recent(100, 109, FE_PACE_PROXY_QUIET), 1);
    FE_ASSERT_EQ_INT(fe_sec_recent(100, 110, FE_PACE_PROXY_QUIET), 0);
    FE_ASSERT_EQ_INT(fe_backend_places(25, 25), 18);   /* 75 % of 25 */
    FE_ASSERT_EQ_INT(fe_backend_places(25, 0), 25);    /* off */
    FE_ASSERT_EQ_INT(fe_backend_places(25, -3), 25);
    FE_ASSERT_EQ_INT(fe_backend_places(1, 90), 1);     /* at least one */
    FE_ASSERT_EQ_INT(fe_backend_places(100, 90), 10);
    FE_ASSERT_EQ_INT(fe_backend_places(64, 100), 1);
    FE_ASSERT_EQ_INT(fe_backend_places(4000000000u, 10), 3600000000u);
}

/* ------------------------------------------------ wakeups paced to CPUs */

static void test_pace_wakeups(void)
{
    /* width alive idle holders stale -> may wake */
    FE_ASSERT_EQ_INT(fe_pace_wakeups(2, 25, 25, 0, 0), 2);   /* all idle */
    FE_ASSERT_EQ_INT(fe_pace_wakeups(2, 25, 24, 0, 0), 1);   /* one runs */
    FE_ASSERT_EQ_INT(fe_pace_wakeups(2, 25, 23, 0, 0), 0);   /* width used */
    FE_ASSERT_EQ_INT(fe_pace_wakeups(2, 25, 10, 0, 0), 0);   /* over it */
    FE_ASSERT_EQ_INT(fe_pace_wakeups(2, 25, 20, 3, 1), 1);   /* 1 running */
    FE_ASSERT_EQ_INT(fe_pace_wakeups(1, 25, 20, 0, 5), 1);   /* all stale */
    FE_ASSERT_EQ_INT(fe_pace_wakeups(1, 25, 20, 10, 10), 1); /* over-count */
    FE_ASSERT_EQ_U64(fe_pace_wakeups(0, 25, 0, 0, 0), UINT_MAX); /* off */
}

static void test_pace_stale(void)
{
    apr_time_t now = apr_time_from_sec(1000);
    apr_time_t since[6];

    since[0] = 0;                                    /* idle */
    since[1] = now;                                  /* just started */
    since[2] = now - FE_PACE_STALE + 1;              /* not yet */
    since[3] = now - FE_PACE_STALE;                  /* stale */
    since[4] = now - apr_time_from_sec(5);           /* stale */
    since[5] = now + apr_time_from_msec(1);          /* other clock: no */
    FE_ASSERT_EQ_INT(fe_pace_stale(since, 6, now), 2);
    FE_ASSERT_EQ_INT(fe_pace_stale(since, 0, now), 0);
}

static void test_pace_judge(void)
{
    fe_pace_judge_t j;
    apr_time_t t = apr_time_from_sec(100);
    apr_interval_time_t b;

    fe_pace_judge_init(&j);
    CU_ASSERT_TRUE(j.on);                      /* a child starts paced */
    /* no runs measured: no change */
    CU_ASSERT_TRUE(fe_pace_judge(&j, 0, 0, t));
    /* blocked half the time or less: stays on */
    CU_ASSERT_TRUE(fe_pace_judge(&j, 1000, 0, t));
    CU_ASSERT_TRUE(fe_pace_judge(&j, 1000, 500, t));
    /* more: off for FE_PACE_RETRY */
    CU_ASSERT_FALSE(fe_pace_judge(&j, 1000, 501, t));
    FE_ASSERT_EQ_U64(j.retry_at, t + FE_PACE_RETRY);
    /* while off, runs say nothing (unpaced ones block on each other) */
    CU_ASSERT_FALSE(fe_pace_judge(&j, 1000, 0, t + 1));
    CU_ASSERT_FALSE(fe_pace_judge(&j, 0, 0, t + FE_PACE_RETRY - 1));
    CU_ASSERT_TRUE(fe_pace_judge(&j, 0, 0, t + FE_PACE_RETRY));
    /* failing again: off twice as long, doubling up to the cap */
    t += FE_PACE_RETRY;
    CU_ASSERT_FALSE(fe_pace_judge(&j, 1000, 900, t));
    FE_ASSERT_EQ_U64(j.retry_at, t + 2 * FE_PACE_RETRY);
    for (b = 0; b < 20; b++) {
        t = j.retry_at;
        CU_ASSERT_TRUE(fe_pace_judge(&j, 0, 0, t));
        CU_ASSERT_FALSE(fe_pace_judge(&j, 1000, 1000, t));
        CU_ASSERT_TRUE(j.retry_at - t <= FE_PACE_RETRY_MAX);
    }
    FE_ASSERT_EQ_U64(j.retry_at - t, FE_PACE_RETRY_MAX);
    /* a window that passes resets the back-off */
    t = j.retry_at;
    CU_ASSERT_TRUE(fe_pace_judge(&j, 0, 0, t));
    CU_ASSERT_TRUE(fe_pace_judge(&j, 1000, 100, t));
    CU_ASSERT_FALSE(fe_pace_judge(&j, 1000, 999, t));
    FE_ASSERT_EQ_U64(j.retry_at, t + FE_PACE_RETRY);
    /* blocked over wall (clocks read apart) is all blocked; huge sums
     * do not overflow */
    fe_pace_judge_init(&j);
    CU_ASSERT_FALSE(fe_pace_judge(&j, 10, 20, t));
    fe_pace_judge_init(&j);
    CU_ASSERT_TRUE(fe_pace_judge(&j, UINT64_MAX, UINT64_MAX / 4, t));
    CU_ASSERT_FALSE(fe_pace_judge(&j, UINT64_MAX, UINT64_MAX / 4 * 3, t));
}

static const fe_test_case_t cases[] = {
    {"after hooks: table names every state once", test_hooks_table_complete},
    {"after hooks: state x rc x aborted, bad flag", test_hooks_all},
    {"after hooks: only documented outputs", test_hooks_output_range},
    {"after flush: 64 combinations vs reference", test_flush_exhaustive},
    {"after flush: any non-zero is true", test_flush_truthiness},
    {"after flush: outcome counts", test_flush_histogram},
    {"after flush: stated precedences", test_flush_precedence},
    {"accept limit: table", test_accept_limit},
    {"accept limit: bounds and monotonic", test_accept_limit_bounds},
    {"accept allowed: table", test_accept_allowed_cases},
    {"accept allowed: disabled is a boolean", test_accept_disabled_truthiness},
    {"accept allowed: sweep vs reference", test_accept_allowed_sweep},
    {"accept allowed: hysteresis cycle", test_accept_hysteresis_cycle},
    {"conn cap and open files", test_conn_cap_and_nofile},
    {"client done: table", test_client_done},
    {"accept defer: table and sweep", test_accept_defer},
    {"accept overflow: stuck backlog, idle workers", test_accept_overflow},
    {"write now: hold and fit rules", test_write_now},
    {"hold: reserve", test_hold_reserve},
    {"hold: allowed table", test_hold_allowed_cases},
    {"hold: allowed sweep vs rule", test_hold_allowed_sweep},
    {"hold: recall table", test_hold_recall},
    {"hold: recall converges to the need", test_hold_recall_converges},
    {"stuck mark: task state line", test_task_state},
    {"backend pacing: share and waiting work", test_backend_pacing},
    {"wakeups paced: how many may wake", test_pace_wakeups},
    {"wakeups paced: stale workers", test_pace_stale},
    {"wakeups paced: judged on blocked time", test_pace_judge},
    {NULL, NULL}
};

int main(int argc, char **argv)
{
    return fe_test_main("conn_next", cases, argc, argv);
}
