/*
 * fuzz_conn_next.c: libFuzzer harness for fe_connstate.[ch]: the pure
 * decisions of the connection state machine (fe_conn_after_hooks,
 * fe_conn_after_flush) and the accept capacity rule (fe_accept_limit,
 * fe_accept_allowed, fe_child_conn_cap, fe_nofile_need).
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
 *    SUSPENDED, LINGER and follows fe_connstate.h's rules (model below),
 *    with *bad set exactly for an unexpected state or a failing rc;
 *  - after_flush returns a fe_next_e value, following the documented
 *    order (model below);
 *  - fe_accept_allowed() is never true when conns >= hard_cap, nor when
 *    the non-lingering count reaches the limit (limit - limit/8 once
 *    disabled, at least 1), and is true otherwise; disabling never allows
 *    more;
 *  - fe_accept_limit() >= 1, >= 2 x threads (factor >= 1) up to its
 *    4e9 cap, monotonic in threads and factor;
 *  - fe_child_conn_cap() leaves room for twice the accept limit plus
 *    one per worker (up to its cap); fe_nofile_need() adds listeners and
 *    reserve without wrapping;
 *  - simulation: conns never exceed hard_cap, non-lingering conns never
 *    exceed the accept limit, and an empty child always accepts.
 */
#include <math.h>

#include "policy/fe_connstate.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CAP_MAX 4000000000u

/* ------------------------------------------------------------- models */

static int is_hook_output(int s)
{
    return s == FE_CS_WRITE_COMPLETION || s == FE_CS_ASYNC_WAITIO
        || s == FE_CS_SUSPENDED || s == FE_CS_LINGER;
}

/* fe_connstate.h: PROCESSING -> LINGER (no hook took it over);
 * KEEPALIVE -> WRITE_COMPLETION; WRITE_COMPLETION, ASYNC_WAITIO, SUSPENDED
 * and LINGER stay; any other state is unexpected and lingers; a failing rc
 * is unexpected and lingers; an aborted connection lingers unless the
 * result is SUSPENDED. */
static int model_after_hooks(int rc_ok, int state, int aborted, int *bad)
{
    int out, unexpected = 0;

    if (state == FE_CS_PROCESSING) {
        out = FE_CS_LINGER;
    }
    else if (state == FE_CS_KEEPALIVE) {
        out = FE_CS_WRITE_COMPLETION;
    }
    else if (state == FE_CS_WRITE_COMPLETION || state == FE_CS_ASYNC_WAITIO
             || state == FE_CS_SUSPENDED || state == FE_CS_LINGER) {
        out = state;
    }
    else {
        out = FE_CS_LINGER;
        unexpected = 1;
    }
    if (!rc_ok) {
        out = FE_CS_LINGER;
        unexpected = 1;
    }
    if (aborted && out != FE_CS_SUSPENDED) {
        out = FE_CS_LINGER;
    }
    *bad = unexpected;
    return out;
}

static fe_next_e model_after_flush(const fe_flush_facts_t *f)
{
    if (f->aborted) {
        return FE_NEXT_LINGER;
    }
    if (f->pending_output) {
        return FE_NEXT_WAIT_WRITE;
    }
    if (f->want_read) {
        return FE_NEXT_WAIT_READ;
    }
    if (!f->keepalive) {
        return FE_NEXT_LINGER;
    }
    if (f->pending_input || f->clogging) {
        return FE_NEXT_PROCESS;
    }
    return FE_NEXT_KEEPALIVE;
}

/* ------------------------------------------------------------- checks */

static void op_after_hooks(fz_reader_t *r)
{
    uint8_t flags = fz_u8(r);
    int rc_ok = flags & 1, aborted = (flags >> 1) & 1;
    int state = (flags & 4) ? fz_int(r) : (int)(fz_u8(r) % (FE_CS_NUM + 2));
    int bad = -1, want_bad, want, got, got2;

    want = model_after_hooks(rc_ok, state, aborted, &want_bad);
    got = fe_conn_after_hooks(rc_ok, state, aborted, &bad);
    got2 = fe_conn_after_hooks(rc_ok, state, aborted, NULL);
    FZ_CHECK(is_hook_output(got), "after_hooks(rc_ok %d, state %d, aborted "
             "%d) = %d, not an allowed state", rc_ok, state, aborted, got);
    FZ_CHECK(got == want && bad == want_bad, "after_hooks(rc_ok %d, state "
             "%d, aborted %d) = %d bad %d; the rules say %d bad %d", rc_ok,
             state, aborted, got, bad, want, want_bad);
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
    want = model_after_flush(&f);
    FZ_CHECK(got >= FE_NEXT_WAIT_WRITE && got <= FE_NEXT_LINGER,
             "after_flush returned %d", (int)got);
    FZ_CHECK(got == want, "after_flush(aborted %d output %d input %d "
             "want_read %d clogging %d keepalive %d) = %d, want %d",
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
    unsigned long long want_cap;
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
    FZ_CHECK(need == (unsigned long)cap + fe_child_fresh_cap(threads, factor)
                     + listeners + reserve
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
