/* test_sched.c: when the children run under SCHED_BATCH (fe_sched.c). */
#include "fe_test.h"
#include "policy/fe_sched.h"

static void test_foreign(void)
{
    /* 2 CPUs, 1 s at 100 Hz: 200 jiffies */
    FE_ASSERT_EQ_INT(fe_sched_foreign(200, 200, 200), 0);   /* all ours */
    FE_ASSERT_EQ_INT(fe_sched_foreign(200, 200, 100), 50);  /* a hog */
    FE_ASSERT_EQ_INT(fe_sched_foreign(30, 200, 10), 10);
    FE_ASSERT_EQ_INT(fe_sched_foreign(19, 200, 0), 9);      /* rounds down */
    /* our processes counted more than the CPUs (jiffies of a child that
     * ran on other CPUs, rounding): nobody else */
    FE_ASSERT_EQ_INT(fe_sched_foreign(100, 200, 150), 0);
    /* nothing to say */
    FE_ASSERT_EQ_INT(fe_sched_foreign(0, 0, 0), 0);
    FE_ASSERT_EQ_INT(fe_sched_foreign(300, 200, 0), 0);
    /* no overflow with large counters */
    FE_ASSERT_EQ_INT(fe_sched_foreign(1ULL << 60, 1ULL << 61, 0), 50);
}

static void test_hysteresis(void)
{
    fe_sched_state_t st;
    int i;

    fe_sched_init(&st);
    FE_ASSERT_EQ_INT(st.batch, 1);
    FE_ASSERT_EQ_INT(fe_sched_next(&st, 0), 1);
    FE_ASSERT_EQ_INT(fe_sched_next(&st, FE_SCHED_FOREIGN_HIGH - 1), 1);
    /* one busy sample: off at once */
    FE_ASSERT_EQ_INT(fe_sched_next(&st, FE_SCHED_FOREIGN_HIGH), 0);
    /* quiet samples: back on after FE_SCHED_QUIET_SAMPLES in a row */
    for (i = 1; i < FE_SCHED_QUIET_SAMPLES; i++) {
        FE_ASSERT_EQ_INT(fe_sched_next(&st, 0), 0);
    }
    FE_ASSERT_EQ_INT(fe_sched_next(&st, 0), 1);
    /* a middling sample (between LOW and HIGH) breaks the quiet run but
     * does not turn batch off */
    FE_ASSERT_EQ_INT(fe_sched_next(&st, 50), 0);
    for (i = 1; i < FE_SCHED_QUIET_SAMPLES; i++) {
        FE_ASSERT_EQ_INT(fe_sched_next(&st, 0), 0);
    }
    FE_ASSERT_EQ_INT(fe_sched_next(&st, FE_SCHED_FOREIGN_LOW), 0);
    for (i = 1; i < FE_SCHED_QUIET_SAMPLES; i++) {
        FE_ASSERT_EQ_INT(fe_sched_next(&st, FE_SCHED_FOREIGN_LOW - 1), 0);
    }
    FE_ASSERT_EQ_INT(fe_sched_next(&st, 1), 1);
    FE_ASSERT_EQ_INT(fe_sched_next(&st, FE_SCHED_FOREIGN_LOW + 1), 1);
}

static const fe_test_case_t cases[] = {
    {"share of the CPUs other programs used", test_foreign},
    {"off at once, on after a quiet stretch", test_hysteresis},
    {NULL, NULL}
};

int main(int argc, char **argv)
{
    return fe_test_main("sched", cases, argc, argv);
}
