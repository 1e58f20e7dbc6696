/*
 * fuzz_hist.c: libFuzzer harness for fe_hist.[ch], the log2 latency
 * histograms behind the hand-off p50/p99 metrics.
 *
 * Input: values to bucket, then a histogram (24 counts) and percentiles.
 *
 * Invariants (abort() on violation), from fe_hist.h:
 *  - fe_hist_bucket(v) < FE_HIST_BUCKETS; bucket 0 holds v < 2, bucket i
 *    (1 <= i < last) holds [2^i, 2^(i+1)), the last bucket everything from
 *    2^(FE_HIST_BUCKETS-1) up;
 *  - fe_hist_bound(b) is 2^(b+1), the last bucket's lower bound for the
 *    last one (and beyond);
 *  - fe_hist_percentile(): 0 for an empty histogram; otherwise the bound
 *    of the first bucket whose running count reaches ceil(total x pct /
 *    100) (at least 1; pct clamped into (0, 100], NaN as 0); monotonic in
 *    pct; the 100th percentile is the bound of the highest non-empty
 *    bucket.
 */
#include <math.h>

#include "policy/fe_hist.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned int ref_bucket(apr_uint64_t v)
{
    unsigned int b;

    if (v < 2) {
        return 0;
    }
    for (b = 63; !(v >> b); b--)
        ;
    return b < FE_HIST_BUCKETS - 1 ? b : FE_HIST_BUCKETS - 1;
}

/* The bucket holding the @a rank-th smallest value (1-based). */
static unsigned int bucket_of_rank(const apr_uint64_t *counts,
                                   apr_uint64_t rank)
{
    apr_uint64_t seen = 0;
    unsigned int b;

    for (b = 0; b < FE_HIST_BUCKETS; b++) {
        seen += counts[b];
        if (seen >= rank) {
            return b;
        }
    }
    return FE_HIST_BUCKETS - 1;
}

static double pct_of(fz_reader_t *r)
{
    uint8_t sel = fz_u8(r);

    switch (sel % 3) {
    case 0:  return (double)(sel >> 2) * 2.0;       /* 0..126 */
    case 1:  return fz_u16(r) / 500.0;              /* 0..131, fine steps */
    default: return fz_double(r);                   /* anything */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_reader_t r;
    apr_uint64_t counts[FE_HIST_BUCKETS];
    apr_uint64_t total = 0;
    unsigned int b, i, highest = 0;
    int nvalues;

    fz_init(&r, data, size);

    /* buckets and bounds */
    nvalues = fz_u8(&r) % 16;
    for (i = 0; i < (unsigned int)nvalues; i++) {
        apr_uint64_t v = (fz_u8(&r) & 1) ? fz_u64(&r)
                                         : (apr_uint64_t)1 << (fz_u8(&r) % 64);

        b = fe_hist_bucket(v);
        FZ_CHECK(b == ref_bucket(v), "bucket(%llu) = %u, want %u",
                 (unsigned long long)v, b, ref_bucket(v));
        if (b + 1 < FE_HIST_BUCKETS) {
            FZ_CHECK(v < fe_hist_bound(b), "%llu not below bound(%u) = %llu",
                     (unsigned long long)v, b,
                     (unsigned long long)fe_hist_bound(b));
        }
        else {
            FZ_CHECK(v >= fe_hist_bound(b), "%llu below the last bound",
                     (unsigned long long)v);
        }
    }
    b = fz_u8(&r);
    FZ_CHECK(fe_hist_bound(b) == ((apr_uint64_t)1
                                  << (b < FE_HIST_BUCKETS - 1
                                      ? b + 1 : FE_HIST_BUCKETS - 1)),
             "bound(%u) = %llu", b, (unsigned long long)fe_hist_bound(b));

    /* a histogram: mostly small counts, sometimes huge */
    for (b = 0; b < FE_HIST_BUCKETS; b++) {
        uint8_t sel = fz_u8(&r);

        counts[b] = (sel & 0xc0) == 0xc0 ? fz_u32(&r)
                    : (sel & 0x80) ? 0 : (apr_uint64_t)(sel & 0x3f);
        total += counts[b];
        if (counts[b]) {
            highest = b;
        }
    }
    if (total == 0) {
        FZ_CHECK(fe_hist_percentile(counts, 50.0) == 0, "empty: not 0");
        return 0;
    }
    FZ_CHECK(fe_hist_percentile(counts, 100.0) == fe_hist_bound(highest),
             "p100 %llu is not the highest bucket's bound %llu",
             (unsigned long long)fe_hist_percentile(counts, 100.0),
             (unsigned long long)fe_hist_bound(highest));
    {
        double prev_pct = 0.0;
        apr_uint64_t prev = fe_hist_percentile(counts, 1e-9);

        for (i = 0; i < 8 && !fz_empty(&r); i++) {
            double pct = pct_of(&r), cp;
            apr_uint64_t got = fe_hist_percentile(counts, pct);
            apr_uint64_t rank_lo, rank_hi, lo, hi;
            long double exact, x;

            /* the header's reading of pct: the smallest count that
             * reaches pct percent, at least 1.  The implementation
             * computes it in double with a 1e-6 slack, so allow the ranks
             * within that slack and a double's rounding of the exact
             * value. */
            cp = !(pct > 0.0) ? 0.0 : pct > 100.0 ? 100.0 : pct;
            exact = (long double)total * cp / 100.0L;
            x = ceill(exact - 1e-6L - exact * 1e-15L);
            rank_lo = x < 1.0L ? 1 : (apr_uint64_t)x;
            x = ceill(exact + exact * 1e-15L);
            rank_hi = x < 1.0L ? 1 : (apr_uint64_t)x;
            lo = fe_hist_bound(bucket_of_rank(counts, rank_lo));
            hi = fe_hist_bound(bucket_of_rank(counts, rank_hi));
            FZ_CHECK(got >= lo && got <= hi, "percentile(%.17g) of %llu "
                     "values = %llu; ranks %llu..%llu lie in buckets with "
                     "bounds %llu..%llu", pct, (unsigned long long)total,
                     (unsigned long long)got, (unsigned long long)rank_lo,
                     (unsigned long long)rank_hi, (unsigned long long)lo,
                     (unsigned long long)hi);
            if (cp >= prev_pct) {
                FZ_CHECK(got >= prev, "percentile not monotonic: p%.17g = "
                         "%llu < p%.17g = %llu", pct, (unsigned long long)got,
                         prev_pct, (unsigned long long)prev);
            }
            prev_pct = cp;
            prev = got;
        }
    }
    return 0;
}
