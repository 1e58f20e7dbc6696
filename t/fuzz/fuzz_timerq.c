/*
 * fuzz_timerq.c: libFuzzer harness for fe_timerq.[ch] (the min-heap of
 * timed callbacks), driving push / pop_due / next against a model.
 *
 * Input: records of an opcode byte and operands; due times and "now" are
 * fuzzed int64 values (equal times are frequent on purpose: the heap must
 * keep insertion order among them).
 *
 * Invariants (abort() on violation), from fe_timerq.h:
 *  - fe_timerq_next() is the earliest pending due time, FE_TIMERQ_NEVER
 *    when none;
 *  - fe_timerq_pop_due(now) returns the earliest timer by (when, insertion
 *    order) if it is due (when <= now), else NULL, and never a timer that
 *    was not pushed or was already popped;
 *  - push assigns increasing seq numbers and never fails for lack of room
 *    in this test;
 *  - the heap array is freed by the pool cleanup (LeakSanitizer checks).
 */
#include <apr_general.h>
#include <apr_pools.h>

#include "policy/fe_timerq.h"
#include "fuzz_util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NT 48

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    (void)fz_apr_root();
    return 0;
}

static fe_timer_t timer[NT];
static int pending[NT];

/* The model's earliest pending timer, or -1. */
static int model_first(void)
{
    int i, best = -1;

    for (i = 0; i < NT; i++) {
        if (!pending[i]) {
            continue;
        }
        if (best < 0 || timer[i].when < timer[best].when
            || (timer[i].when == timer[best].when
                && timer[i].seq < timer[best].seq)) {
            best = i;
        }
    }
    return best;
}

static apr_time_t fz_when(fz_reader_t *r)
{
    uint8_t sel = fz_u8(r);

    switch (sel % 4) {
    case 0:  return (apr_time_t)(sel >> 2);           /* few distinct */
    case 1:  return (apr_time_t)fz_u16(r);
    default: return fz_i64(r);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    fe_timerq_t tq;
    fz_reader_t r;
    apr_uint64_t last_seq = 0;
    int npending = 0, pushed = 0, ops = 0, i;

    if (apr_pool_create(&p, fz_apr_root()) != APR_SUCCESS) {
        abort();
    }
    memset(timer, 0, sizeof(timer));
    memset(pending, 0, sizeof(pending));
    fe_timerq_init(&tq, p);
    fz_init(&r, data, size);

    while (!fz_empty(&r) && ops++ < 1024) {
        uint8_t op = fz_u8(&r);
        int first = model_first();

        switch (op % 3) {
        case 0:                                         /* push */
            i = fz_u8(&r) % NT;
            if (pending[i]) {
                break;                  /* the caller owns it: no double push */
            }
            timer[i].when = fz_when(&r);
            timer[i].baton = &timer[i];
            FZ_CHECK(fe_timerq_push(&tq, &timer[i]) == APR_SUCCESS,
                     "push failed with %d pending", npending);
            FZ_CHECK(pushed == 0 || timer[i].seq > last_seq,
                     "seq %llu not above the previous %llu",
                     (unsigned long long)timer[i].seq,
                     (unsigned long long)last_seq);
            last_seq = timer[i].seq;
            pushed++;
            pending[i] = 1;
            npending++;
            break;
        case 1:                                         /* pop_due */
            {
                apr_time_t now = (op & 0x80) ? fz_when(&r)
                                 : (first >= 0 ? timer[first].when : 0);
                fe_timer_t *t = fe_timerq_pop_due(&tq, now);

                if (first < 0 || timer[first].when > now) {
                    FZ_CHECK(t == NULL, "pop_due(%lld) returned a timer (due "
                             "%lld) with none due", (long long)now,
                             t ? (long long)t->when : 0LL);
                }
                else {
                    FZ_CHECK(t == &timer[first], "pop_due(%lld) returned "
                             "timer %d (when %lld seq %llu), the earliest is "
                             "%d (when %lld seq %llu)", (long long)now,
                             t ? (int)(t - timer) : -1,
                             t ? (long long)t->when : 0LL,
                             t ? (unsigned long long)t->seq : 0ULL, first,
                             (long long)timer[first].when,
                             (unsigned long long)timer[first].seq);
                    FZ_CHECK(t->baton == t, "timer %d clobbered", first);
                    pending[first] = 0;
                    npending--;
                }
            }
            break;
        default:                                        /* next */
            break;
        }
        first = model_first();
        FZ_CHECK(fe_timerq_next(&tq) == (first < 0 ? FE_TIMERQ_NEVER
                                                   : timer[first].when),
                 "next() %lld, model %lld", (long long)fe_timerq_next(&tq),
                 first < 0 ? (long long)FE_TIMERQ_NEVER
                           : (long long)timer[first].when);
        FZ_CHECK(tq.n == (apr_size_t)npending, "heap holds %zu, model %d",
                 (size_t)tq.n, npending);
    }
    /* drain: everything comes out in (when, seq) order */
    while (npending > 0) {
        int first = model_first();
        fe_timer_t *t = fe_timerq_pop_due(&tq, APR_INT64_MAX);

        FZ_CHECK(t == &timer[first], "drain: got %d, want %d",
                 t ? (int)(t - timer) : -1, first);
        pending[first] = 0;
        npending--;
    }
    FZ_CHECK(fe_timerq_pop_due(&tq, APR_INT64_MAX) == NULL, "drained heap "
             "still returns timers");
    apr_pool_destroy(p);        /* the cleanup frees the array */
    return 0;
}
