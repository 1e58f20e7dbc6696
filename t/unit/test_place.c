/* test_place.c: the CPU placement rule of the children (fe_place.c). */
#include "fe_test.h"
#include "policy/fe_place.h"

static void test_rank(void)
{
    unsigned char live[8] = { 1, 0, 1, 1, 0, 0, 1, 0 };
    int count = -1;

    FE_ASSERT_EQ_INT(fe_place_rank(live, 8, 0, &count), 0);
    FE_ASSERT_EQ_INT(count, 4);
    FE_ASSERT_EQ_INT(fe_place_rank(live, 8, 3, &count), 2);
    FE_ASSERT_EQ_INT(fe_place_rank(live, 8, 6, &count), 3);
    /* a child not yet in the scoreboard counts itself */
    FE_ASSERT_EQ_INT(fe_place_rank(live, 8, 1, &count), 1);
    FE_ASSERT_EQ_INT(count, 5);
    FE_ASSERT_EQ_INT(fe_place_rank(live, 8, 7, &count), 4);
    FE_ASSERT_EQ_INT(count, 5);
    /* outside the table */
    FE_ASSERT_EQ_INT(fe_place_rank(live, 8, 8, &count), FE_PLACE_ANY);
    FE_ASSERT_EQ_INT(count, 0);
    FE_ASSERT_EQ_INT(fe_place_rank(live, 8, -1, &count), FE_PLACE_ANY);
    FE_ASSERT_EQ_INT(fe_place_rank(NULL, 8, 0, &count), FE_PLACE_ANY);
    FE_ASSERT_EQ_INT(fe_place_rank(live, 0, 0, &count), FE_PLACE_ANY);
}

static void test_table(void)
{
    static const struct { int ncpus, nchildren, rank, cpu; } rows[] = {
        {2, 2, 0, 0}, {2, 2, 1, 1},
        /* one child left over: it runs anywhere */
        {2, 3, 0, 0}, {2, 3, 1, 1}, {2, 3, 2, FE_PLACE_ANY},
        {2, 4, 2, 0}, {2, 4, 3, 1},
        {4, 6, 3, 3}, {4, 6, 4, FE_PLACE_ANY}, {4, 6, 5, FE_PLACE_ANY},
        /* fewer children than CPUs: nobody is pinned */
        {2, 1, 0, FE_PLACE_ANY}, {8, 3, 0, FE_PLACE_ANY},
        {8, 7, 6, FE_PLACE_ANY},
        /* one CPU: nothing to choose */
        {1, 5, 0, FE_PLACE_ANY},
        /* nonsense */
        {0, 4, 0, FE_PLACE_ANY}, {-2, 4, 0, FE_PLACE_ANY},
        {2, 2, 2, FE_PLACE_ANY}, {2, 2, -1, FE_PLACE_ANY},
        {2, 0, 0, FE_PLACE_ANY},
    };
    size_t i;

    for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        FE_ASSERT_EQ_INT(fe_place_cpu(rows[i].ncpus, rows[i].nchildren,
                                      rows[i].rank), rows[i].cpu);
    }
}

/* Every CPU carries the same number of pinned children, and fewer than
 * ncpus children stay unpinned. */
static void test_balance_sweep(void)
{
    int ncpus, n, r;

    for (ncpus = 1; ncpus <= 64; ncpus++) {
        for (n = 1; n <= 200; n++) {
            int per_cpu[64] = { 0 }, any = 0, c;

            for (r = 0; r < n; r++) {
                int cpu = fe_place_cpu(ncpus, n, r);

                if (cpu == FE_PLACE_ANY) {
                    any++;
                    continue;
                }
                CU_ASSERT_FATAL(cpu >= 0 && cpu < ncpus);
                per_cpu[cpu]++;
            }
            if (ncpus < 2 || n < ncpus) {
                FE_ASSERT_EQ_INT(any, n);
                continue;
            }
            FE_ASSERT_EQ_INT(any, n % ncpus);
            for (c = 0; c < ncpus; c++) {
                FE_ASSERT_EQ_INT(per_cpu[c], n / ncpus);
            }
        }
    }
}

static const fe_test_case_t cases[] = {
    {"rank among live children", test_rank},
    {"placement table", test_table},
    {"every CPU gets the same share (sweep)", test_balance_sweep},
    {NULL, NULL}
};

int main(int argc, char **argv)
{
    return fe_test_main("place", cases, argc, argv);
}
