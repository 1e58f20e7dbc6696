/**
 * @file fe_hist.h
 * @brief Log2 latency histograms, cheap enough to fill on every hand-off.
 *
 * Bucket 0 counts values below 2 (microseconds, say), bucket i >= 1 counts
 * values in [2^i, 2^(i+1)), and the last bucket everything above.  A
 * percentile is reported as the upper bound of the bucket it falls in, so
 * it is exact to a factor of two, which is what a "is the hand-off fast"
 * metric needs.
 *
 * Pure component: no locking (callers add atomically), no clocks.
 */
#ifndef FE_HIST_H
#define FE_HIST_H

#include <apr.h>

#define FE_HIST_BUCKETS 24

/** The bucket @a v falls in. */
unsigned int fe_hist_bucket(apr_uint64_t v);

/** Upper bound of bucket @a b (2^(b+1); the last bucket: its lower bound). */
apr_uint64_t fe_hist_bound(unsigned int b);

/**
 * The value below which @a pct percent (0 < pct <= 100) of the counted
 * values lie, as a bucket bound; 0 when nothing was counted.
 */
apr_uint64_t fe_hist_percentile(const apr_uint64_t *counts, double pct);

#endif /* FE_HIST_H */
