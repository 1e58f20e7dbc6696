/*
 * fe_hist.c: log2 histograms and their percentiles (see fe_hist.h).
 *
 * Must not: lock, read clocks, or allocate.
 */
#include "policy/fe_hist.h"

unsigned int fe_hist_bucket(apr_uint64_t v)
{
    unsigned int b = 0;

    while (v >= 2 && b < FE_HIST_BUCKETS - 1) {
        v >>= 1;
        b++;
    }
    return b;
}

apr_uint64_t fe_hist_bound(unsigned int b)
{
    if (b >= FE_HIST_BUCKETS - 1) {
        return (apr_uint64_t)1 << (FE_HIST_BUCKETS - 1);
    }
    return (apr_uint64_t)1 << (b + 1);
}

apr_uint64_t fe_hist_percentile(const apr_uint64_t *counts, double pct)
{
    apr_uint64_t total = 0, seen = 0, want;
    unsigned int b;

    for (b = 0; b < FE_HIST_BUCKETS; b++) {
        total += counts[b];
    }
    if (total == 0) {
        return 0;
    }
    if (!(pct > 0.0)) {
        pct = 0.0;
    }
    if (pct > 100.0) {
        pct = 100.0;
    }
    /* the smallest count that reaches pct percent, at least 1 */
    want = (apr_uint64_t)((double)total * pct / 100.0 + 0.999999);
    want = want ? want : 1;
    want = want > total ? total : want;   /* double rounding, huge totals */
    for (b = 0; b < FE_HIST_BUCKETS; b++) {
        seen += counts[b];
        if (seen >= want) {
            return fe_hist_bound(b);
        }
    }
    return fe_hist_bound(FE_HIST_BUCKETS - 1);
}
