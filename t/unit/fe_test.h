/*
 * fe_test.h: shared scaffolding for the CUnit unit tests of the pure
 * components.  Each test gets a fresh APR pool (fe_test_pool) created by
 * fe_test_setup() and destroyed by fe_test_teardown(); the FE_ASSERT_EQ_*
 * wrappers print both operands on failure.
 *
 * A test program defines its cases and a table, then calls
 * fe_test_main("suite name", table, argc, argv), which runs them and exits
 * non-zero when anything failed.
 */
#ifndef FE_TEST_H
#define FE_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <CUnit/Basic.h>
#include <apr_general.h>
#include <apr_pools.h>

static apr_pool_t *fe_test_pool;

static int fe_test_setup(void)
{
    return apr_pool_create(&fe_test_pool, NULL) == APR_SUCCESS ? 0 : -1;
}

static int fe_test_teardown(void)
{
    apr_pool_destroy(fe_test_pool);
    fe_test_pool = NULL;
    return 0;
}

typedef struct fe_test_case {
    const char *name;
    void (*fn)(void);
} fe_test_case_t;

#define FE_ASSERT_EQ_INT(a, b) do {                                         \
    long long fe_a_ = (long long)(a), fe_b_ = (long long)(b);               \
    if (fe_a_ != fe_b_)                                                     \
        fprintf(stderr, "  %s:%d: %s == %lld, expected %s == %lld\n",       \
                __FILE__, __LINE__, #a, fe_a_, #b, fe_b_);                  \
    CU_ASSERT_EQUAL(fe_a_, fe_b_);                                          \
} while (0)

#define FE_ASSERT_EQ_U64(a, b) do {                                         \
    unsigned long long fe_a_ = (unsigned long long)(a);                     \
    unsigned long long fe_b_ = (unsigned long long)(b);                     \
    if (fe_a_ != fe_b_)                                                     \
        fprintf(stderr, "  %s:%d: %s == %llu, expected %s == %llu\n",       \
                __FILE__, __LINE__, #a, fe_a_, #b, fe_b_);                  \
    CU_ASSERT_EQUAL(fe_a_, fe_b_);                                          \
} while (0)

/* Each case runs with a pool of its own (CUnit's per-test setup). */
static void fe_test_case_setup(void)
{
    fe_test_setup();
}

static void fe_test_case_teardown(void)
{
    fe_test_teardown();
}

static int fe_test_main(const char *suite_name, const fe_test_case_t *cases,
                        int argc, char **argv)
{
    CU_pSuite suite;
    unsigned int failures;
    (void)argc;
    (void)argv;

    apr_initialize();
    atexit(apr_terminate);
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    suite = CU_add_suite_with_setup_and_teardown(suite_name, NULL, NULL,
                                                 fe_test_case_setup,
                                                 fe_test_case_teardown);
    if (suite == NULL)
        return 1;
    for (; cases->name != NULL; cases++) {
        if (CU_add_test(suite, cases->name, cases->fn) == NULL)
            return 1;
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    failures = CU_get_number_of_failures()
               + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failures ? 1 : 0;
}

#endif /* FE_TEST_H */
