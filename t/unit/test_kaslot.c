/* test_kaslot.c: the slot table of the keep-alive poll set (fe_kaslot.c). */
#include "fe_test.h"
#include "policy/fe_kaslot.h"

static int owners[8];

static void test_arm_claim_once(void)
{
    fe_kaslots_t t;
    apr_uint32_t id = 0;
    apr_uint64_t tag;

    fe_kaslots_init(&t, 4, fe_test_pool);
    tag = fe_kaslots_arm(&t, &id, &owners[0]);
    CU_ASSERT(tag != 0);
    CU_ASSERT(id != 0);
    CU_ASSERT_PTR_EQUAL(fe_kaslots_claim(&t, tag), &owners[0]);
    /* a readiness is delivered once */
    CU_ASSERT_PTR_NULL(fe_kaslots_claim(&t, tag));
    /* re-armed: the old tag stays dead, the new one works, same slot */
    {
        apr_uint32_t before = id;
        apr_uint64_t tag2 = fe_kaslots_arm(&t, &id, &owners[0]);

        FE_ASSERT_EQ_INT(id, before);
        CU_ASSERT(tag2 != tag);
        CU_ASSERT_PTR_NULL(fe_kaslots_claim(&t, tag));
        CU_ASSERT_PTR_EQUAL(fe_kaslots_claim(&t, tag2), &owners[0]);
    }
}

/* The listener timed the connection out (disarm) after a worker took its
 * event: the worker's claim must fail. */
static void test_disarm_kills_tag(void)
{
    fe_kaslots_t t;
    apr_uint32_t id = 0;
    apr_uint64_t tag, tag2;

    fe_kaslots_init(&t, 2, fe_test_pool);
    tag = fe_kaslots_arm(&t, &id, &owners[1]);
    fe_kaslots_disarm(&t, id);
    CU_ASSERT_PTR_NULL(fe_kaslots_claim(&t, tag));
    /* disarm then arm again (the idle trim): only the new tag counts */
    fe_kaslots_disarm(&t, id);
    tag2 = fe_kaslots_arm(&t, &id, &owners[1]);
    CU_ASSERT_PTR_NULL(fe_kaslots_claim(&t, tag));
    CU_ASSERT_PTR_EQUAL(fe_kaslots_claim(&t, tag2), &owners[1]);
    fe_kaslots_disarm(&t, 0);           /* no slot: nothing happens */
}

/* A slot released and reused by another connection: tags of the first
 * never reach the second. */
static void test_release_reuse(void)
{
    fe_kaslots_t t;
    apr_uint32_t a = 0, b = 0;
    apr_uint64_t ta, tb;

    fe_kaslots_init(&t, 1, fe_test_pool);
    ta = fe_kaslots_arm(&t, &a, &owners[2]);
    fe_kaslots_release(&t, &a);
    FE_ASSERT_EQ_INT(a, 0);
    CU_ASSERT_PTR_NULL(fe_kaslots_claim(&t, ta));
    tb = fe_kaslots_arm(&t, &b, &owners[3]);
    FE_ASSERT_EQ_INT(b, 1);             /* the same, only slot */
    CU_ASSERT_PTR_NULL(fe_kaslots_claim(&t, ta));
    CU_ASSERT_PTR_EQUAL(fe_kaslots_claim(&t, tb), &owners[3]);
    fe_kaslots_release(&t, &a);         /* already released: no-op */
    FE_ASSERT_EQ_INT(t.free, 0);
}

static void test_exhaustion_and_junk(void)
{
    fe_kaslots_t t, none;
    apr_uint32_t id[3] = { 0, 0, 0 };

    fe_kaslots_init(&t, 2, fe_test_pool);
    CU_ASSERT(fe_kaslots_arm(&t, &id[0], &owners[0]) != 0);
    CU_ASSERT(fe_kaslots_arm(&t, &id[1], &owners[1]) != 0);
    FE_ASSERT_EQ_U64(fe_kaslots_arm(&t, &id[2], &owners[2]), 0);
    FE_ASSERT_EQ_INT(id[2], 0);
    fe_kaslots_release(&t, &id[0]);
    CU_ASSERT(fe_kaslots_arm(&t, &id[2], &owners[2]) != 0);
    /* junk: the eventfd tags, out-of-range indexes, zero */
    CU_ASSERT_PTR_NULL(fe_kaslots_claim(&t, (apr_uint64_t)-1));
    CU_ASSERT_PTR_NULL(fe_kaslots_claim(&t, (apr_uint64_t)-2));
    CU_ASSERT_PTR_NULL(fe_kaslots_claim(&t, 0));
    CU_ASSERT_PTR_NULL(fe_kaslots_claim(&t, ((apr_uint64_t)1 << 32) | 7));
    fe_kaslots_init(&none, 0, fe_test_pool);
    FE_ASSERT_EQ_U64(fe_kaslots_arm(&none, &id[0], &owners[0]), 0);
    CU_ASSERT_PTR_NULL(fe_kaslots_claim(&none, 1));
}

/* Random operations against a model: a claim succeeds exactly when the
 * tag is the latest arm of a still-bound, unclaimed slot. */
static void test_random_model(void)
{
    enum { N = 8, TAGS = 64, STEPS = 200000 };
    fe_kaslots_t t;
    apr_uint32_t id[N] = { 0 };
    apr_uint64_t live[N] = { 0 };        /* the claimable tag, 0: none */
    apr_uint64_t seen[TAGS] = { 0 };     /* tags handed out, some stale */
    int owner_of[TAGS];
    unsigned int seed = 12345, step;

    fe_kaslots_init(&t, N - 2, fe_test_pool);   /* fewer slots than conns */
    for (step = 0; step < STEPS; step++) {
        int c, k;
        seed = seed * 1103515245u + 12345u;
        c = (int)((seed >> 8) % N);
        switch ((seed >> 20) % 4) {
        case 0: {                                       /* arm */
            apr_uint64_t tag = fe_kaslots_arm(&t, &id[c], &owners[c]);

            if (tag == 0) {
                CU_ASSERT_FATAL(id[c] == 0);
                break;
            }
            live[c] = tag;
            k = (int)((seed >> 12) % TAGS);
            seen[k] = tag;
            owner_of[k] = c;
            break;
        }
        case 1:                                         /* disarm */
            fe_kaslots_disarm(&t, id[c]);
            live[c] = 0;
            break;
        case 2:                                         /* release */
            fe_kaslots_release(&t, &id[c]);
            live[c] = 0;
            break;
        default: {                                      /* claim */
            void *got;

            k = (int)((seed >> 12) % TAGS);
            if (seen[k] == 0) {
                break;
            }
            got = fe_kaslots_claim(&t, seen[k]);
            if (live[owner_of[k]] == seen[k]) {
                CU_ASSERT_PTR_EQUAL_FATAL(got, &owners[owner_of[k]]);
                live[owner_of[k]] = 0;
            }
            else {
                CU_ASSERT_PTR_NULL_FATAL(got);
            }
            break;
        }
        }
    }
}

static const fe_test_case_t cases[] = {
    {"a tag is claimed once", test_arm_claim_once},
    {"disarm makes a taken event stale", test_disarm_kills_tag},
    {"a released slot's tags never reach its next owner", test_release_reuse},
    {"exhaustion and junk tags", test_exhaustion_and_junk},
    {"random operations against a model", test_random_model},
    {NULL, NULL}
};

int main(int argc, char **argv)
{
    return fe_test_main("kaslot", cases, argc, argv);
}
