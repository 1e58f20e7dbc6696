/* test_hist.c: the log2 latency histogram (fe_hist.c). */
#include "fe_test.h"
#include "policy/fe_hist.h"

static void test_buckets(void)
{
    static const struct { apr_uint64_t v; unsigned int b; } rows[] = {
        {0, 0}, {1, 0}, {2, 1}, {3, 1}, {4, 2}, {7, 2}, {8, 3},
        {1023, 9}, {1024, 10}, {1u << 22, 22},
        {(apr_uint64_t)1 << 40, FE_HIST_BUCKETS - 1},
        {~(apr_uint64_t)0, FE_HIST_BUCKETS - 1},
    };
    size_t i;

    for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        FE_ASSERT_EQ_INT(fe_hist_bucket(rows[i].v), rows[i].b);
        /* every value lies below its bucket's bound (but the last) */
        if (rows[i].b < FE_HIST_BUCKETS - 1) {
            CU_ASSERT(rows[i].v < fe_hist_bound(rows[i].b));
        }
    }
}

static void test_percentiles(void)
{
    apr_uint64_t c[FE_HIST_BUCKETS] = { 0 };

    FE_ASSERT_EQ_U64(fe_hist_percentile(c, 50), 0);      /* empty */
    c[fe_hist_bucket(10)] = 98;                          /* [8,16) */
    c[fe_hist_bucket(5000)] = 2;                         /* [4096,8192) */
    FE_ASSERT_EQ_U64(fe_hist_percentile(c, 50), 16);
    FE_ASSERT_EQ_U64(fe_hist_percentile(c, 98), 16);
    FE_ASSERT_EQ_U64(fe_hist_percentile(c, 99), 8192);
    FE_ASSERT_EQ_U64(fe_hist_percentile(c, 100), 8192);
    /* nonsense percentages are clamped, never crash */
    FE_ASSERT_EQ_U64(fe_hist_percentile(c, 0), 16);
    FE_ASSERT_EQ_U64(fe_hist_percentile(c, 1000), 8192);
    c[FE_HIST_BUCKETS - 1] = 1000;                       /* the tail */
    FE_ASSERT_EQ_U64(fe_hist_percentile(c, 99),
                     fe_hist_bound(FE_HIST_BUCKETS - 1));
}

static void test_single_value(void)
{
    apr_uint64_t c[FE_HIST_BUCKETS] = { 0 };

    c[0] = 1;
    FE_ASSERT_EQ_U64(fe_hist_percentile(c, 50), 2);
    FE_ASSERT_EQ_U64(fe_hist_percentile(c, 99.9), 2);
}

/* Regression (fuzz_hist): p100 of 2^34+ values rounded past the total. */
static void test_huge_totals(void)
{
    apr_uint64_t c[FE_HIST_BUCKETS] = { 0 };
    int b;

    for (b = 0; b < 5; b++) {
        c[b] = 0xffffffffu;
    }
    FE_ASSERT_EQ_U64(fe_hist_percentile(c, 100), 32);
    FE_ASSERT_EQ_U64(fe_hist_percentile(c, 99.9999), 32);
}

static const fe_test_case_t cases[] = {
    {"bucket of a value", test_buckets},
    {"percentiles", test_percentiles},
    {"single value", test_single_value},
    {"huge totals (fuzz_hist regression)", test_huge_totals},
    {NULL, NULL}
};

int main(int argc, char **argv)
{
    return fe_test_main("hist", cases, argc, argv);
}
