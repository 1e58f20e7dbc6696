/*
 * fuzz_conn_next.c: libFuzzer harness for fe_connstate.[ch]: the pure
 * decisions of the connection state machine (fe_conn_after_hooks,
 * fe_conn_after_flush) and the accept capacity rule (fe_accept_limit,
 * fe_accept_allowed, fe_child_conn_cap, fe_child_fresh_cap,
 * fe_nofile_need).
 *
 * Input: a sequence of records, each starting with an opcode byte:
 *   0  fe_conn_after_hooks(rc_ok, state, aborted, &bad / NULL)
 *   1  fe_conn_after_flush(facts)
 *   2  fe_accept_allowed(facts) with arbitrary facts
 *   3  capacity functions with arbitrary threads / factor
 *   4  a short simulation of one child: accepts, closes and lingering
 *      closes driven by the input, the listener toggling "disabled" as
 *      fe_accept_allowed() says, with hard_cap = fe_child_conn_cap()
 *
 * Invariants (abort() on violation):
 *  - after_hooks returns one of WRITE_COMPLETION, ASYNC_WAITIO,
 *    SUSPENDED, LINGER, and state and *bad are what the table below says
 *    for [state][rc_ok][aborted]; the same with bad == NULL, and for any
 *    non-zero rc_ok;
 *  - after_flush returns a fe_next_e value, the one the 64-row table
 *    below gives for the facts (any non-zero fact counts as true);
 *    both tables are written from the documented rules (fe_connstate.h,
 *    docs/ARCHITECTURE.md section 4), not from fe_connstate.c;
 *  - fe_accept_allowed() is never true when conns >= hard_cap, nor when
 *    the non-lingering count reaches the limit (limit - limit/8 once
 *    disabled, at least 1), and is true otherwise; disabling never allows
 *    more;
 *  - fe_accept_limit() >= 1, >= 2 x threads (factor >= 1) up to its
 *    4e9 cap, monotonic in threads and factor;
 *  - fe_child_conn_cap() leaves room for twice the accept limit plus
 *    one per worker (up to its cap); fe_child_fresh_cap() is
 *    FE_FRESH_PER_CAP times it (up to the same cap); fe_nofile_need() is
 *    the two plus listeners and reserve, without wrapping;
 *  - simulation: conns never exceed hard_cap, non-lingering conns never
 *    exceed the accept limit, and an empty child always accepts.
 */
#include <math.h>

#include "policy/fe_connstate.h"
#include "fuzz_util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CAP_MAX 4000000000u

/* ------------------------------------------------------------- oracle */

/*
 * The expected results of the two state decisions are TABLES, written out
 * entry by entry from the documented rules -- the doc comments of
 * fe_connstate.h and the state-machine section of docs/ARCHITECTURE.md
 * ("4. The connection state machine") -- and not from fe_connstate.c, so
 * that a slip in the code is a disagreement here rather than a copy of
 * itself.  Each section quotes the sentence it comes from; where the text
 * leaves a point open, the comment says which reading the table takes.
 * LLVMFuzzerInitialize() checks the tables themselves for gaps and typos.
 */

/* fe_connstate.h, fe_conn_after_hooks, @return: "one of
 * FE_CS_WRITE_COMPLETION, FE_CS_ASYNC_WAITIO, FE_CS_SUSPENDED or
 * FE_CS_LINGER." */
static int is_hook_output(int s)
{
    return s == FE_CS_WRITE_COMPLETION || s == FE_CS_ASYNC_WAITIO
        || s == FE_CS_SUSPENDED || s == FE_CS_LINGER;
}

/* ---- fe_conn_after_hooks: [state][rc_ok][aborted] -> (state, bad)
 *
 * The sentences (fe_connstate.h unless said otherwise):
 *  (P) "a hook that left PROCESSING did not take the connection over, so
 *      it is closed (LINGER)"
 *  (K) "KEEPALIVE from a hook means "flush, then keep alive"
 *      (WRITE_COMPLETION)"
 *  (O) "any other state, a failing rc, or an aborted connection lingers"
 *  (S) "-- except that an aborted SUSPENDED connection stays with the
 *      module that suspended it (closing it under the module would be
 *      unsafe; the module closes it)."
 *  (B) @param bad: "set to 1 when the state or rc was unexpected (the
 *      caller logs it), else 0"
 *  (R) @return: "one of FE_CS_WRITE_COMPLETION, FE_CS_ASYNC_WAITIO,
 *      FE_CS_SUSPENDED or FE_CS_LINGER."
 *  (A) ARCHITECTURE.md, row PROCESSING, column "To": "WRITE_COMPLETION
 *      (also for KEEPALIVE left by a hook), ASYNC_WAITIO, SUSPENDED;
 *      LINGER if no hook took the connection, the hook failed, or the
 *      client aborted"
 *
 * Readings the table takes:
 *  - "any other state" in (O) means a state that is neither PROCESSING,
 *    KEEPALIVE nor one of the results (R): a hook that leaves
 *    WRITE_COMPLETION, ASYNC_WAITIO or SUSPENDED is followed (A), one that
 *    leaves LINGER lingers.  The "other" states -- HANDLER, LINGER_NORMAL,
 *    LINGER_SHORT, FE_CS_NUM (not a state) and anything out of range --
 *    are the unexpected ones of (B): bad = 1.
 *  - PROCESSING -> LINGER is a rule of its own (P), not an unexpected
 *    state: bad = 0.
 *  - aborted is neither "the state" nor "rc" (B): it never sets bad.
 *  - the exception (S) qualifies the aborted case: a failing rc lingers
 *    whatever the state, as (A)'s "the hook failed" says without
 *    exception.  (A) omits (S) for "the client aborted"; the header is
 *    the more specific text, so SUSPENDED + aborted + rc OK stays.
 */
typedef struct hooks_want {
    int out;
    int bad;
} hooks_want_t;

/* Row of every state outside FE_CS_KEEPALIVE..FE_CS_NUM. */
#define HOOKS_OUT_OF_RANGE (FE_CS_NUM + 1)

#define WC {FE_CS_WRITE_COMPLETION, 0}
#define AW {FE_CS_ASYNC_WAITIO, 0}
#define SU {FE_CS_SUSPENDED, 0}
#define L0 {FE_CS_LINGER, 0}         /* lingers by rule: bad = 0 */
#define L1 {FE_CS_LINGER, 1}         /* lingers, unexpected: bad = 1 */

static const hooks_want_t hooks_table[HOOKS_OUT_OF_RANGE + 1][2][2] = {
    /*                           rc failed          rc OK
     *                           live  aborted      live  aborted */
    /* (K) flush, then keep alive; (O) aborted or failing rc lingers */
    [FE_CS_KEEPALIVE]        = {{ L1,   L1 },      { WC,   L0 }},
    /* (P) no hook took it over: closed, and no unexpected state */
    [FE_CS_PROCESSING]       = {{ L1,   L1 },      { L0,   L0 }},
    /* (O) + (B) other state: lingers, unexpected */
    [FE_CS_HANDLER]          = {{ L1,   L1 },      { L1,   L1 }},
    /* (A)/(R) followed; (O) aborted or failing rc lingers */
    [FE_CS_WRITE_COMPLETION] = {{ L1,   L1 },      { WC,   L0 }},
    /* (A)/(R) followed; (S) aborted stays with the module; (O) failing rc
     * lingers */
    [FE_CS_SUSPENDED]        = {{ L1,   L1 },      { SU,   SU }},
    /* (A)/(R) lingers as asked: not unexpected */
    [FE_CS_LINGER]           = {{ L1,   L1 },      { L0,   L0 }},
    /* (O) + (B) other states: lingers, unexpected */
    [FE_CS_LINGER_NORMAL]    = {{ L1,   L1 },      { L1,   L1 }},
    [FE_CS_LINGER_SHORT]     = {{ L1,   L1 },      { L1,   L1 }},
    /* (A)/(R) followed; (O) aborted or failing rc lingers */
    [FE_CS_ASYNC_WAITIO]     = {{ L1,   L1 },      { AW,   L0 }},
    /* (O) + (B) not a state at all: lingers, unexpected */
    [FE_CS_NUM]              = {{ L1,   L1 },      { L1,   L1 }},
    [HOOKS_OUT_OF_RANGE]     = {{ L1,   L1 },      { L1,   L1 }},
};

#undef WC
#undef AW
#undef SU
#undef L0
#undef L1

static const hooks_want_t *hooks_expect(int rc_ok, int state, int aborted)
{
    int row = state >= FE_CS_KEEPALIVE && state <= FE_CS_NUM
              ? state : HOOKS_OUT_OF_RANGE;

    return &hooks_table[row][rc_ok != 0][aborted != 0];
}

/* ---- fe_conn_after_flush: the 6 facts -> fe_next_e
 *
 * fe_connstate.h, fe_conn_after_flush: "Order: an aborted connection
 * lingers; remaining output waits for writability; a read request from a
 * module (mod_http2 compat mode) waits for readability; a connection
 * without keep-alive lingers; pipelined input or a clogging input filter
 * goes back to the hooks; else keep-alive -- also in a stopping child".
 * ARCHITECTURE.md's WRITE_COMPLETION row says the same (without the
 * order, and without the clogging filter); the facts carry no "stopping",
 * so the last clause only means a stopping child is no exception.
 *
 * All 64 combinations, one row each, columns in the order of that
 * sentence: A aborted, O pending_output, R want_read, K keepalive,
 * I pending_input, C clogging.  A fact counts when non-zero.
 */
typedef struct flush_row {
    unsigned char a, o, r, k, i, c;
    fe_next_e want;
} flush_row_t;

#define LINGER  FE_NEXT_LINGER
#define W_WRITE FE_NEXT_WAIT_WRITE
#define W_READ  FE_NEXT_WAIT_READ
#define PROCESS FE_NEXT_PROCESS
#define KEEP    FE_NEXT_KEEPALIVE

static const flush_row_t flush_rows[] = {
    /* A  O  R  K  I  C */
    /* "an aborted connection lingers": whatever else holds (32 rows) */
    {1, 1, 1, 1, 1, 1, LINGER},
    {1, 1, 1, 1, 1, 0, LINGER},
    {1, 1, 1, 1, 0, 1, LINGER},
    {1, 1, 1, 1, 0, 0, LINGER},
    {1, 1, 1, 0, 1, 1, LINGER},
    {1, 1, 1, 0, 1, 0, LINGER},
    {1, 1, 1, 0, 0, 1, LINGER},
    {1, 1, 1, 0, 0, 0, LINGER},
    {1, 1, 0, 1, 1, 1, LINGER},
    {1, 1, 0, 1, 1, 0, LINGER},
    {1, 1, 0, 1, 0, 1, LINGER},
    {1, 1, 0, 1, 0, 0, LINGER},
    {1, 1, 0, 0, 1, 1, LINGER},
    {1, 1, 0, 0, 1, 0, LINGER},
    {1, 1, 0, 0, 0, 1, LINGER},
    {1, 1, 0, 0, 0, 0, LINGER},
    {1, 0, 1, 1, 1, 1, LINGER},
    {1, 0, 1, 1, 1, 0, LINGER},
    {1, 0, 1, 1, 0, 1, LINGER},
    {1, 0, 1, 1, 0, 0, LINGER},
    {1, 0, 1, 0, 1, 1, LINGER},
    {1, 0, 1, 0, 1, 0, LINGER},
    {1, 0, 1, 0, 0, 1, LINGER},
    {1, 0, 1, 0, 0, 0, LINGER},
    {1, 0, 0, 1, 1, 1, LINGER},
    {1, 0, 0, 1, 1, 0, LINGER},
    {1, 0, 0, 1, 0, 1, LINGER},
    {1, 0, 0, 1, 0, 0, LINGER},
    {1, 0, 0, 0, 1, 1, LINGER},
    {1, 0, 0, 0, 1, 0, LINGER},
    {1, 0, 0, 0, 0, 1, LINGER},
    {1, 0, 0, 0, 0, 0, LINGER},
    /* "remaining output waits for writability": not aborted, output left,
     * even without keep-alive or with a read request (16 rows) */
    {0, 1, 1, 1, 1, 1, W_WRITE},
    {0, 1, 1, 1, 1, 0, W_WRITE},
    {0, 1, 1, 1, 0, 1, W_WRITE},
    {0, 1, 1, 1, 0, 0, W_WRITE},
    {0, 1, 1, 0, 1, 1, W_WRITE},
    {0, 1, 1, 0, 1, 0, W_WRITE},
    {0, 1, 1, 0, 0, 1, W_WRITE},
    {0, 1, 1, 0, 0, 0, W_WRITE},
    {0, 1, 0, 1, 1, 1, W_WRITE},
    {0, 1, 0, 1, 1, 0, W_WRITE},
    {0, 1, 0, 1, 0, 1, W_WRITE},
    {0, 1, 0, 1, 0, 0, W_WRITE},
    {0, 1, 0, 0, 1, 1, W_WRITE},
    {0, 1, 0, 0, 1, 0, W_WRITE},
    {0, 1, 0, 0, 0, 1, W_WRITE},
    {0, 1, 0, 0, 0, 0, W_WRITE},
    /* "a read request from a module (mod_http2 compat mode) waits for
     * readability": all flushed, a module asked to read, even without
     * keep-alive or with pipelined input (8 rows) */
    {0, 0, 1, 1, 1, 1, W_READ},
    {0, 0, 1, 1, 1, 0, W_READ},
    {0, 0, 1, 1, 0, 1, W_READ},
    {0, 0, 1, 1, 0, 0, W_READ},
    {0, 0, 1, 0, 1, 1, W_READ},
    {0, 0, 1, 0, 1, 0, W_READ},
    {0, 0, 1, 0, 0, 1, W_READ},
    {0, 0, 1, 0, 0, 0, W_READ},
    /* "a connection without keep-alive lingers": even with pipelined input
     * or a clogging filter (4 rows) */
    {0, 0, 0, 0, 1, 1, LINGER},
    {0, 0, 0, 0, 1, 0, LINGER},
    {0, 0, 0, 0, 0, 1, LINGER},
    {0, 0, 0, 0, 0, 0, LINGER},
    /* "pipelined input or a clogging input filter goes back to the hooks"
     * (3 rows) */
    {0, 0, 0, 1, 1, 1, PROCESS},
    {0, 0, 0, 1, 1, 0, PROCESS},
    {0, 0, 0, 1, 0, 1, PROCESS},
    /* "else keep-alive" (1 row) */
    {0, 0, 0, 1, 0, 0, KEEP},
};

#undef LINGER
#undef W_WRITE
#undef W_READ
#undef PROCESS
#undef KEEP

#define NFLUSH_ROWS (sizeof(flush_rows) / sizeof(flush_rows[0]))

static unsigned int flush_key(int a, int o, int r, int k, int i, int c)
{
    return (a != 0) << 5 | (o != 0) << 4 | (r != 0) << 3 | (k != 0) << 2
           | (i != 0) << 1 | (c != 0);
}

/* flush_rows indexed by flush_key(), filled by LLVMFuzzerInitialize(). */
static fe_next_e flush_want[64];

static fe_next_e flush_expect(const fe_flush_facts_t *f)
{
    return flush_want[flush_key(f->aborted, f->pending_output, f->want_read,
                                f->keepalive, f->pending_input,
                                f->clogging)];
}

/* The tables themselves, once: every after_hooks entry is a documented
 * result (R) with bad 0 or 1 (a row left out would read as KEEPALIVE);
 * every flush combination appears exactly once, and the outcomes add up
 * to what the order sentence gives when applied to 64 combinations: 32
 * aborted linger, of the other 32 half have output left (16), of the
 * remaining 16 half have a read request (8), of the remaining 8 half lack
 * keep-alive (4 linger), and of the last 4, 3 have input or clogging and
 * 1 keeps alive. */
static void check_tables(void)
{
    unsigned int seen[64] = {0}, count[FE_NEXT_LINGER + 1] = {0};
    size_t n;
    int s, ok, ab;

    for (s = 0; s <= HOOKS_OUT_OF_RANGE; s++) {
        for (ok = 0; ok <= 1; ok++) {
            for (ab = 0; ab <= 1; ab++) {
                const hooks_want_t *w = &hooks_table[s][ok][ab];

                FZ_CHECK(is_hook_output(w->out) && (w->bad == 0
                                                    || w->bad == 1),
                         "hooks_table[%d][%d][%d] = {%d, %d}: a row is "
                         "missing or wrong", s, ok, ab, w->out, w->bad);
            }
        }
    }
    FZ_CHECK(NFLUSH_ROWS == 64, "flush_rows has %zu rows, not 64",
             (size_t)NFLUSH_ROWS);
    for (n = 0; n < NFLUSH_ROWS; n++) {
        const flush_row_t *w = &flush_rows[n];
        unsigned int key = flush_key(w->a, w->o, w->r, w->k, w->i, w->c);

        FZ_CHECK(seen[key]++ == 0, "flush_rows: row %zu repeats a "
                 "combination", n);
        FZ_CHECK(w->want >= FE_NEXT_WAIT_WRITE && w->want <= FE_NEXT_LINGER,
                 "flush_rows: row %zu has no valid outcome", n);
        flush_want[key] = w->want;
        count[w->want]++;
    }
    FZ_CHECK(count[FE_NEXT_LINGER] == 32 + 4
             && count[FE_NEXT_WAIT_WRITE] == 16
             && count[FE_NEXT_WAIT_READ] == 8 && count[FE_NEXT_PROCESS] == 3
             && count[FE_NEXT_KEEPALIVE] == 1,
             "flush_rows: outcome counts %u/%u/%u/%u/%u (linger, write, "
             "read, process, keep-alive) differ from 36/16/8/3/1",
             count[FE_NEXT_LINGER], count[FE_NEXT_WAIT_WRITE],
             count[FE_NEXT_WAIT_READ], count[FE_NEXT_PROCESS],
             count[FE_NEXT_KEEPALIVE]);
}

/* ------------------------------------------------------------- checks */

static void op_after_hooks(fz_reader_t *r)
{
    uint8_t flags = fz_u8(r);
    int rc_ok = flags & 1, aborted = (flags >> 1) & 1;
    int state = (flags & 4) ? fz_int(r) : (int)(fz_u8(r) % (FE_CS_NUM + 2));
    const hooks_want_t *want = hooks_expect(rc_ok, state, aborted);
    int bad = -1, got, got2;

    got = fe_conn_after_hooks(rc_ok, state, aborted, &bad);
    got2 = fe_conn_after_hooks(rc_ok, state, aborted, NULL);
    FZ_CHECK(is_hook_output(got), "after_hooks(rc_ok %d, state %d, aborted "
             "%d) = %d, not an allowed state", rc_ok, state, aborted, got);
    FZ_CHECK(got == want->out && bad == want->bad, "after_hooks(rc_ok %d, "
             "state %d, aborted %d) = %d bad %d; the table says %d bad %d",
             rc_ok, state, aborted, got, bad, want->out, want->bad);
    FZ_CHECK(got2 == got, "after_hooks with bad == NULL differs");
    /* rc_ok is a truth value: any non-zero means OK/DONE */
    FZ_CHECK(fe_conn_after_hooks(rc_ok ? 2 : 0, state, aborted, NULL) == got,
             "after_hooks treats rc_ok 2 unlike 1");
}

static void op_after_flush(fz_reader_t *r)
{
    uint8_t flags = fz_u8(r);
    fe_flush_facts_t f;
    fe_next_e got, want;

    /* truth values, sometimes other than 0/1 */
    f.aborted = (flags & 1) ? (int)(fz_u8(r) & 3) : 0;
    f.pending_output = (flags >> 1) & 1;
    f.pending_input = (flags >> 2) & 1;
    f.want_read = (flags >> 3) & 1;
    f.clogging = (flags >> 4) & 1;
    f.keepalive = (flags >> 5) & 1;
    if (flags & 0x40) {
        f.pending_output *= -1;
        f.keepalive *= 7;
    }
    got = fe_conn_after_flush(&f);
    want = flush_expect(&f);
    FZ_CHECK(got >= FE_NEXT_WAIT_WRITE && got <= FE_NEXT_LINGER,
             "after_flush returned %d", (int)got);
    FZ_CHECK(got == want, "after_flush(aborted %d output %d input %d "
             "want_read %d clogging %d keepalive %d) = %d, the table "
             "says %d",
             f.aborted, f.pending_output, f.pending_input, f.want_read,
             f.clogging, f.keepalive, (int)got, (int)want);
}

/* What fe_connstate.h promises, checked for one set of facts. */
static void check_allowed(const fe_accept_facts_t *f)
{
    unsigned int limit = fe_accept_limit(f->threads, f->factor);
    unsigned int eff = limit, active;
    int got = fe_accept_allowed(f);

    FZ_CHECK(got == 0 || got == 1, "fe_accept_allowed returned %d", got);
    if (f->disabled) {
        eff = limit - limit / 8;
        if (eff < 1) {
            eff = 1;
        }
    }
    active = f->conns > f->lingering ? f->conns - f->lingering : 0;
    FZ_CHECK(!(got && f->conns >= f->hard_cap), "accept allowed with conns "
             "%u >= hard_cap %u", f->conns, f->hard_cap);
    FZ_CHECK(got == (f->conns < f->hard_cap && active < eff),
             "accept_allowed(conns %u lingering %u threads %u factor %.17g "
             "hard_cap %u disabled %d) = %d; limit %u, effective %u", f->conns,
             f->lingering, f->threads, f->factor, f->hard_cap, f->disabled,
             got, limit, eff);
    if (f->disabled) {
        fe_accept_facts_t g = *f;

        g.disabled = 0;
        FZ_CHECK(!got || fe_accept_allowed(&g), "disabled allows more than "
                 "enabled");
    }
}

static void check_capacity(unsigned int threads, double factor,
                           unsigned int listeners, unsigned int reserve)
{
    unsigned int limit = fe_accept_limit(threads, factor);
    unsigned int cap = fe_child_conn_cap(threads, factor);
    unsigned long need = fe_nofile_need(threads, factor, listeners, reserve);
    unsigned int fresh = fe_child_fresh_cap(threads, factor);
    unsigned long long want_cap, want_fresh;
    unsigned int t1 = threads < 1 ? 1 : threads;

    FZ_CHECK(limit >= 1 && limit <= CAP_MAX, "accept_limit(%u, %.17g) = %u",
             threads, factor, limit);
    if (factor >= 1.0) {
        unsigned long long floor2 = 2ull * t1;

        FZ_CHECK(limit >= (floor2 < CAP_MAX ? floor2 : CAP_MAX),
                 "accept_limit(%u, %.17g) = %u < 2 x threads", threads,
                 factor, limit);
        if (isfinite(factor) && factor < 1e6) {
            /* not far above the exact value either */
            double exact = (double)t1 * (factor + 1.0);

            FZ_CHECK(limit >= CAP_MAX || (double)limit <= exact + 1.0,
                     "accept_limit(%u, %.17g) = %u > %.17g", threads, factor,
                     limit, exact);
        }
    }
    else {
        /* below 1 (or NaN) acts as 1 */
        FZ_CHECK(limit == fe_accept_limit(threads, 1.0),
                 "factor %.17g does not act as 1", factor);
    }
    /* monotonic */
    if (threads < 0xffffffffu) {
        FZ_CHECK(fe_accept_limit(threads + 1, factor) >= limit,
                 "accept_limit not monotonic in threads at %u", threads);
    }
    if (factor >= 1.0 && isfinite(factor)) {
        FZ_CHECK(fe_accept_limit(threads, factor * 1.5 + 0.25) >= limit,
                 "accept_limit not monotonic in factor at %.17g", factor);
    }
    want_cap = 2ull * limit + threads + 16;
    if (want_cap > CAP_MAX) {
        want_cap = CAP_MAX;
    }
    FZ_CHECK(cap == want_cap, "child_conn_cap(%u, %.17g) = %u, want %llu",
             threads, factor, cap, want_cap);
    FZ_CHECK(cap >= limit, "child_conn_cap %u below accept limit %u", cap,
             limit);
    /* fe_connstate.h: "FE_FRESH_PER_CAP x fe_child_conn_cap()", saturated
     * like the conn cap (3 x 4e9 does not fit); not the function's own
     * result, which would let a slip in it through the nofile check */
    want_fresh = (unsigned long long)FE_FRESH_PER_CAP * cap;
    if (want_fresh > CAP_MAX) {
        want_fresh = CAP_MAX;
    }
    FZ_CHECK(fresh == want_fresh, "child_fresh_cap(%u, %.17g) = %u, want "
             "%llu", threads, factor, fresh, want_fresh);
    FZ_CHECK(need == (unsigned long)cap + want_fresh + listeners + reserve
             && need >= cap, "nofile_need(%u, %.17g, %u, %u) = %lu", threads,
             factor, listeners, reserve, need);
}

static void op_accept(fz_reader_t *r)
{
    fe_accept_facts_t f;

    f.conns = fz_uint(r);
    f.lingering = fz_uint(r);
    f.threads = fz_uint(r);
    f.factor = fz_double(r);
    f.hard_cap = fz_uint(r);
    f.disabled = fz_u8(r) & 1;
    check_allowed(&f);
}

static void op_capacity(fz_reader_t *r)
{
    unsigned int threads = fz_uint(r);
    double factor = fz_double(r);
    unsigned int listeners = fz_uint(r), reserve = fz_uint(r);

    check_capacity(threads, factor, listeners, reserve);
}

/* One child for a while: the listener re-evaluates fe_accept_allowed()
 * after every event and disables itself when it says no. */
static void op_simulate(fz_reader_t *r)
{
    fe_accept_facts_t f;
    unsigned int limit, steps, i;

    f.threads = 1 + fz_u8(r) % 64;
    f.factor = 1.0 + fz_u8(r) / 16.0;
    f.hard_cap = fe_child_conn_cap(f.threads, f.factor);
    f.conns = 0;
    f.lingering = 0;
    f.disabled = 0;
    limit = fe_accept_limit(f.threads, f.factor);
    steps = 1 + fz_u8(r);
    FZ_CHECK(fe_accept_allowed(&f), "an empty child refuses to accept");
    for (i = 0; i < steps && !fz_empty(r); i++) {
        uint8_t ev = fz_u8(r);
        unsigned int n = 1 + (ev >> 3);

        while (n--) {
            switch (ev & 7) {
            case 0: case 1: case 2:      /* a connection arrives */
                if (fe_accept_allowed(&f)) {
                    f.conns++;
                }
                break;
            case 3:                      /* a keep-alive connection closes */
                if (f.conns > f.lingering) {
                    f.conns--;
                }
                break;
            case 4: case 5:              /* one starts a lingering close */
                if (f.conns > f.lingering) {
                    f.lingering++;
                }
                break;
            default:                     /* a lingering close ends */
                if (f.lingering > 0) {
                    f.lingering--;
                    f.conns--;
                }
                break;
            }
            f.disabled = !fe_accept_allowed(&f);
            FZ_CHECK(f.conns <= f.hard_cap, "conns %u above hard_cap %u",
                     f.conns, f.hard_cap);
            FZ_CHECK(f.conns - f.lingering <= limit, "%u non-lingering "
                     "conns above the accept limit %u", f.conns - f.lingering,
                     limit);
            check_allowed(&f);
            if (f.conns == 0) {
                FZ_CHECK(!f.disabled, "an empty child stays disabled");
            }
        }
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    check_tables();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_reader_t r;
    int ops = 0;

    fz_init(&r, data, size);
    while (!fz_empty(&r) && ops++ < 256) {
        switch (fz_u8(&r) % 5) {
        case 0: op_after_hooks(&r); break;
        case 1: op_after_flush(&r); break;
        case 2: op_accept(&r);      break;
        case 3: op_capacity(&r);    break;
        default: op_simulate(&r);   break;
        }
    }
    return 0;
}
