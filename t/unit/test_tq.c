/*
 * test_tq.c: unit tests of the timeout queues (fe_tq.c).
 *
 * Owns: the checks of fe_tq.h's contract, expiry boundaries included.
 * Must not: read the clock (every "now" is a literal) or depend on any
 * other component.
 */

#include <string.h>
#include <unistd.h>

#include "policy/fe_tq.h"
#include "fe_test.h"

#define NNODES 8

static fe_tq_node_t nodes[NNODES];

static void reset_nodes(void)
{
    memset(nodes, 0, sizeof(nodes));
}

/* Check that q holds exactly the nodes at the given indices, in order,
 * walking both directions, and that count and ->q agree. */
static void check_order(const fe_tq_t *q, const int *idx, unsigned int n)
{
    const fe_tq_node_t *it;
    unsigned int i;

    FE_ASSERT_EQ_INT(q->count, n);
    for (i = 0, it = q->head; it != NULL && i < n; it = it->next, i++) {
        CU_ASSERT_PTR_EQUAL(it, &nodes[idx[i]]);
        CU_ASSERT_PTR_EQUAL(it->q, q);
    }
    FE_ASSERT_EQ_INT(i, n);
    CU_ASSERT_PTR_NULL(it);
    for (i = n, it = q->tail; it != NULL && i > 0; it = it->prev, i--) {
        CU_ASSERT_PTR_EQUAL(it, &nodes[idx[i - 1]]);
    }
    FE_ASSERT_EQ_INT(i, 0);
    CU_ASSERT_PTR_NULL(it);
    if (n == 0) {
        CU_ASSERT_PTR_NULL(q->head);
        CU_ASSERT_PTR_NULL(q->tail);
    }
}

/* Check a chain returned by fe_tq_expire against the expected indices. */
static void check_chain(fe_tq_node_t *chain, const int *idx, unsigned int n)
{
    unsigned int i;

    for (i = 0; chain != NULL && i < n; chain = chain->next, i++) {
        CU_ASSERT_PTR_EQUAL(chain, &nodes[idx[i]]);
        CU_ASSERT_PTR_NULL(chain->q);
        CU_ASSERT_FALSE(fe_tq_queued(chain));
    }
    FE_ASSERT_EQ_INT(i, n);
    CU_ASSERT_PTR_NULL(chain);
}

static void test_empty(void)
{
    fe_tq_t q;
    unsigned int count = 99;

    fe_tq_init(&q, 1000);
    FE_ASSERT_EQ_INT(q.count, 0);
    FE_ASSERT_EQ_INT(q.timeout, 1000);
    FE_ASSERT_EQ_INT(fe_tq_next_expiry(&q), FE_TQ_NEVER);
    CU_ASSERT_PTR_NULL(fe_tq_expire(&q, APR_INT64_MAX, 0, &count));
    FE_ASSERT_EQ_INT(count, 0);
    count = 99;
    CU_ASSERT_PTR_NULL(fe_tq_expire(&q, 0, 1, &count));
    FE_ASSERT_EQ_INT(count, 0);
    /* count may be NULL */
    CU_ASSERT_PTR_NULL(fe_tq_expire(&q, 0, 1, NULL));
}

static void test_append_order(void)
{
    static const int order[] = {0, 1, 2, 3};
    fe_tq_t q;
    int i;

    reset_nodes();
    fe_tq_init(&q, 100);
    for (i = 0; i < 4; i++) {
        CU_ASSERT_FALSE(fe_tq_queued(&nodes[i]));
        fe_tq_append(&q, &nodes[i], 10 + i);
        CU_ASSERT_TRUE(fe_tq_queued(&nodes[i]));
        FE_ASSERT_EQ_INT(nodes[i].stamp, 10 + i);
    }
    check_order(&q, order, 4);
    FE_ASSERT_EQ_INT(fe_tq_next_expiry(&q), 110);
}

static void test_remove(void)
{
    static const int after_mid[] = {0, 1, 3, 4};
    static const int after_head[] = {1, 3, 4};
    static const int after_tail[] = {1, 3};
    static const int after_all[] = {0};
    fe_tq_t q;
    int i;

    reset_nodes();
    fe_tq_init(&q, 100);
    for (i = 0; i < 5; i++) {
        fe_tq_append(&q, &nodes[i], i);
    }

    fe_tq_remove(&nodes[2]);
    CU_ASSERT_FALSE(fe_tq_queued(&nodes[2]));
    check_order(&q, after_mid, 4);

    fe_tq_remove(&nodes[0]);
    check_order(&q, after_head, 3);
    FE_ASSERT_EQ_INT(fe_tq_next_expiry(&q), 101);

    fe_tq_remove(&nodes[4]);
    check_order(&q, after_tail, 2);

    /* Removing a node that is in no queue is a no-op, twice over. */
    fe_tq_remove(&nodes[4]);
    fe_tq_remove(&nodes[7]);
    check_order(&q, after_tail, 2);

    fe_tq_remove(&nodes[1]);
    fe_tq_remove(&nodes[3]);
    check_order(&q, after_all, 0);
    FE_ASSERT_EQ_INT(fe_tq_next_expiry(&q), FE_TQ_NEVER);

    /* The emptied queue is usable again. */
    fe_tq_append(&q, &nodes[0], 7);
    check_order(&q, after_all, 1);
}

static void test_expire_boundary(void)
{
    static const int first[] = {0, 1};
    static const int rest[] = {2, 3};
    fe_tq_t q;
    fe_tq_node_t *chain;
    unsigned int count;

    reset_nodes();
    fe_tq_init(&q, 100);
    fe_tq_append(&q, &nodes[0], 1000);
    fe_tq_append(&q, &nodes[1], 1005);
    fe_tq_append(&q, &nodes[2], 1006);
    fe_tq_append(&q, &nodes[3], 1050);
    FE_ASSERT_EQ_INT(fe_tq_next_expiry(&q), 1100);

    /* Nothing is due before stamp + timeout. */
    count = 99;
    CU_ASSERT_PTR_NULL(fe_tq_expire(&q, 1000, 0, &count));
    FE_ASSERT_EQ_INT(count, 0);
    CU_ASSERT_PTR_NULL(fe_tq_expire(&q, 1099, 0, &count));
    FE_ASSERT_EQ_INT(count, 0);
    FE_ASSERT_EQ_INT(q.count, 4);

    /* stamp + timeout == now is due; 1006 + 100 > 1105 is not. */
    chain = fe_tq_expire(&q, 1105, 0, &count);
    FE_ASSERT_EQ_INT(count, 2);
    check_chain(chain, first, 2);
    check_order(&q, rest, 2);
    FE_ASSERT_EQ_INT(fe_tq_next_expiry(&q), 1106);

    /* The rest once their time comes. */
    chain = fe_tq_expire(&q, 1150, 0, &count);
    FE_ASSERT_EQ_INT(count, 2);
    check_chain(chain, rest, 2);
    check_order(&q, rest, 0);
    FE_ASSERT_EQ_INT(fe_tq_next_expiry(&q), FE_TQ_NEVER);
}

static void test_timeout_zero(void)
{
    static const int one[] = {0};
    fe_tq_t q;
    unsigned int count;

    reset_nodes();
    fe_tq_init(&q, 0);
    fe_tq_append(&q, &nodes[0], 500);
    FE_ASSERT_EQ_INT(fe_tq_next_expiry(&q), 500);
    check_chain(fe_tq_expire(&q, 500, 0, &count), one, 1);
    FE_ASSERT_EQ_INT(count, 1);

    /* With timeout 0 any stamp ahead of now is "more than timeout ahead"
     * (the clock-went-backwards rule), so it is due as well. */
    fe_tq_append(&q, &nodes[0], 500);
    check_chain(fe_tq_expire(&q, 499, 0, &count), one, 1);
    FE_ASSERT_EQ_INT(count, 1);
}

static void test_negative_timeout(void)
{
    static const int both[] = {0, 1};
    fe_tq_t q, ref;
    unsigned int count;

    reset_nodes();
    fe_tq_init(&q, -5000);
    FE_ASSERT_EQ_INT(q.timeout, 0);
    fe_tq_append(&q, &nodes[0], 500);
    fe_tq_append(&q, &nodes[1], 500);
    FE_ASSERT_EQ_INT(fe_tq_next_expiry(&q), 500);
    check_chain(fe_tq_expire(&q, 500, 0, &count), both, 2);
    FE_ASSERT_EQ_INT(count, 2);

    /* Also when the field is written directly, bypassing fe_tq_init: a
     * negative timeout must neither pull the expiry earlier nor make an
     * entry stamped just ahead of now (by less than 5000) survive. */
    fe_tq_append(&q, &nodes[0], 500);
    q.timeout = -5000;
    FE_ASSERT_EQ_INT(fe_tq_next_expiry(&q), 500);
    check_chain(fe_tq_expire(&q, 498, 0, &count), both, 1);
    FE_ASSERT_EQ_INT(count, 1);

    /* Same answers as timeout 0 for stamps around now. */
    fe_tq_init(&ref, 0);
    fe_tq_append(&q, &nodes[0], 500);
    fe_tq_append(&ref, &nodes[1], 500);
    FE_ASSERT_EQ_INT(fe_tq_next_expiry(&q), fe_tq_next_expiry(&ref));
    check_chain(fe_tq_expire(&q, 400, 0, &count), both, 1);
    check_chain(fe_tq_expire(&ref, 400, 0, &count), both + 1, 1);
}

static void test_huge_timeout(void)
{
    static const int one[] = {0};
    fe_tq_t q;
    unsigned int count;
    apr_time_t stamp = APR_INT64_C(1700000000000000);

    reset_nodes();
    fe_tq_init(&q, APR_INT64_MAX - 10);
    fe_tq_append(&q, &nodes[0], stamp);
    FE_ASSERT_EQ_INT(fe_tq_next_expiry(&q), FE_TQ_NEVER);
    CU_ASSERT_PTR_NULL(fe_tq_expire(&q, stamp, 0, &count));
    CU_ASSERT_PTR_NULL(fe_tq_expire(&q, stamp + 1000000, 0, &count));
    CU_ASSERT_PTR_NULL(fe_tq_expire(&q, APR_INT64_MAX - 1, 0, &count));
    CU_ASSERT_PTR_NULL(fe_tq_expire(&q, APR_INT64_MAX, 0, &count));
    /* now before stamp, but by less than the timeout: not expired */
    CU_ASSERT_PTR_NULL(fe_tq_expire(&q, 0, 0, &count));
    FE_ASSERT_EQ_INT(count, 0);
    FE_ASSERT_EQ_INT(q.count, 1);

    /* No saturation below the limit: the exact sum is reported. */
    fe_tq_remove(&nodes[0]);
    FE_ASSERT_EQ_INT(q.count, 0);
    fe_tq_append(&q, &nodes[0], 10);
    FE_ASSERT_EQ_INT(fe_tq_next_expiry(&q), APR_INT64_MAX);
    fe_tq_remove(&nodes[0]);
    fe_tq_append(&q, &nodes[0], 5);
    FE_ASSERT_EQ_INT(fe_tq_next_expiry(&q), APR_INT64_MAX - 5);
    CU_ASSERT_PTR_NULL(fe_tq_expire(&q, APR_INT64_MAX - 6, 0, &count));
    check_chain(fe_tq_expire(&q, APR_INT64_MAX - 5, 0, &count), one, 1);
}

static void test_clock_backwards(void)
{
    static const int both[] = {0, 1};
    static const int last[] = {2};
    fe_tq_t q;
    unsigned int count;

    reset_nodes();
    fe_tq_init(&q, 100);
    /* Stamped in the "future" relative to the now passed below. */
    fe_tq_append(&q, &nodes[0], 1000000);
    fe_tq_append(&q, &nodes[1], 1000050);
    fe_tq_append(&q, &nodes[2], 5000);

    /* Stamp ahead of now by no more than the timeout: not due. */
    CU_ASSERT_PTR_NULL(fe_tq_expire(&q, 1000000 - 100, 0, &count));
    FE_ASSERT_EQ_INT(count, 0);

    /* Far ahead: due, oldest first; the scan then stops at the ordinary
     * entry that is not due yet (5000 + 100 > 5099). */
    check_chain(fe_tq_expire(&q, 5099, 0, &count), both, 2);
    FE_ASSERT_EQ_INT(count, 2);
    check_order(&q, last, 1);
    check_chain(fe_tq_expire(&q, 5100, 0, &count), last, 1);

    /* Extreme values must not overflow the difference. */
    fe_tq_append(&q, &nodes[3], APR_INT64_MAX);
    check_chain(fe_tq_expire(&q, APR_INT64_MIN, 0, &count), (int[]){3}, 1);
    fe_tq_append(&q, &nodes[3], APR_INT64_MIN);
    check_chain(fe_tq_expire(&q, APR_INT64_MIN + 100, 0, &count),
                (int[]){3}, 1);
}

static void test_expire_all(void)
{
    static const int order[] = {0, 1, 2, 3, 4};
    fe_tq_t q;
    unsigned int count;
    int i;

    reset_nodes();
    fe_tq_init(&q, APR_INT64_MAX);
    for (i = 0; i < 5; i++) {
        fe_tq_append(&q, &nodes[i], 1000 + i);
    }
    CU_ASSERT_PTR_NULL(fe_tq_expire(&q, 2000, 0, &count));
    check_chain(fe_tq_expire(&q, 0, 1, &count), order, 5);
    FE_ASSERT_EQ_INT(count, 5);
    check_order(&q, order, 0);
}

static void test_reappend_after_expire(void)
{
    static const int first[] = {0, 1};
    static const int again[] = {2, 1, 0};
    fe_tq_t q, other;
    fe_tq_node_t *chain, *n;
    unsigned int count;

    reset_nodes();
    fe_tq_init(&q, 10);
    fe_tq_init(&other, 1000);
    fe_tq_append(&q, &nodes[0], 100);
    fe_tq_append(&q, &nodes[1], 101);
    fe_tq_append(&q, &nodes[2], 115);  /* ahead of now, by < timeout */
    chain = fe_tq_expire(&q, 111, 0, &count);
    check_chain(chain, first, 2);

    /* Walk the chain the way a caller would: read next before reuse. */
    while (chain != NULL) {
        n = chain;
        chain = chain->next;
        fe_tq_append(&q, n, 300 - (int)(n - nodes));
    }
    /* nodes[0] went back in first (stamp 300), then nodes[1] (299): the
     * queue keeps append order, not stamp order. */
    check_order(&q, (int[]){2, 0, 1}, 3);
    fe_tq_remove(&nodes[0]);
    fe_tq_append(&q, &nodes[0], 400);
    check_order(&q, again, 3);

    /* Move between queues. */
    fe_tq_remove(&nodes[1]);
    fe_tq_append(&other, &nodes[1], 500);
    CU_ASSERT_PTR_EQUAL(nodes[1].q, &other);
    FE_ASSERT_EQ_INT(q.count, 2);
    FE_ASSERT_EQ_INT(other.count, 1);
    FE_ASSERT_EQ_INT(fe_tq_next_expiry(&other), 1500);
    chain = fe_tq_expire(&q, 1000, 0, &count);
    FE_ASSERT_EQ_INT(count, 2);
    check_chain(chain, (int[]){2, 0}, 2);
    FE_ASSERT_EQ_INT(other.count, 1);
}

/* Visit order: each entry once, oldest first, only when stamped at or
 * before upto. */
static void test_settle_order(void)
{
    fe_tq_t q;
    int i;

    reset_nodes();
    fe_tq_init(&q, 5000);
    CU_ASSERT_PTR_NULL(fe_tq_settle(&q, 1000000));
    FE_ASSERT_EQ_INT(fe_tq_unsettled_stamp(&q), FE_TQ_NEVER);
    for (i = 0; i < 4; i++) {
        fe_tq_append(&q, &nodes[i], 10 * (i + 1));     /* 10 20 30 40 */
    }
    CU_ASSERT_PTR_NULL(fe_tq_settle(&q, 9));
    FE_ASSERT_EQ_INT(fe_tq_unsettled_stamp(&q), 10);
    CU_ASSERT_PTR_EQUAL(fe_tq_settle(&q, 25), &nodes[0]);
    CU_ASSERT_PTR_EQUAL(fe_tq_settle(&q, 25), &nodes[1]);
    CU_ASSERT_PTR_NULL(fe_tq_settle(&q, 25));
    FE_ASSERT_EQ_INT(fe_tq_unsettled_stamp(&q), 30);
    CU_ASSERT_PTR_EQUAL(fe_tq_settle(&q, 40), &nodes[2]);
    CU_ASSERT_PTR_EQUAL(fe_tq_settle(&q, 40), &nodes[3]);
    CU_ASSERT_PTR_NULL(fe_tq_settle(&q, 1000000));
    FE_ASSERT_EQ_INT(fe_tq_unsettled_stamp(&q), FE_TQ_NEVER);
    /* Settling leaves the queue itself alone. */
    check_order(&q, (int[]){0, 1, 2, 3}, 4);
    fe_tq_append(&q, &nodes[4], 50);
    CU_ASSERT_PTR_EQUAL(fe_tq_settle(&q, 50), &nodes[4]);
}

/* Removing entries, the last visited one included, never makes an entry
 * visited twice or skipped. */
static void test_settle_remove(void)
{
    fe_tq_t q;
    int i;

    reset_nodes();
    fe_tq_init(&q, 5000);
    for (i = 0; i < 5; i++) {
        fe_tq_append(&q, &nodes[i], 10 * (i + 1));     /* 10 .. 50 */
    }
    CU_ASSERT_PTR_EQUAL(fe_tq_settle(&q, 20), &nodes[0]);
    CU_ASSERT_PTR_EQUAL(fe_tq_settle(&q, 20), &nodes[1]);
    fe_tq_remove(&nodes[1]);            /* the last visited */
    CU_ASSERT_PTR_EQUAL(q.settled, &nodes[0]);
    fe_tq_remove(&nodes[3]);            /* one not visited yet */
    CU_ASSERT_PTR_EQUAL(fe_tq_settle(&q, 100), &nodes[2]);
    CU_ASSERT_PTR_EQUAL(fe_tq_settle(&q, 100), &nodes[4]);
    CU_ASSERT_PTR_NULL(fe_tq_settle(&q, 100));
    fe_tq_remove(&nodes[0]);            /* head, visited */
    fe_tq_remove(&nodes[4]);            /* tail, last visited */
    CU_ASSERT_PTR_EQUAL(q.settled, &nodes[2]);
    fe_tq_remove(&nodes[2]);            /* the only one left */
    CU_ASSERT_PTR_NULL(q.settled);
    check_order(&q, NULL, 0);
    /* A node that comes back is new: visited again. */
    fe_tq_append(&q, &nodes[1], 60);
    fe_tq_append(&q, &nodes[0], 70);
    CU_ASSERT_PTR_EQUAL(fe_tq_settle(&q, 100), &nodes[1]);
    CU_ASSERT_PTR_EQUAL(fe_tq_settle(&q, 100), &nodes[0]);
    CU_ASSERT_PTR_NULL(fe_tq_settle(&q, 100));
}

/* Expiry cuts a prefix: the cursor survives when it lies beyond it and is
 * reset when it lay inside. */
static void test_settle_expire(void)
{
    fe_tq_t q;
    unsigned int count;
    int i;

    reset_nodes();
    fe_tq_init(&q, 100);
    for (i = 0; i < 6; i++) {
        fe_tq_append(&q, &nodes[i], 10 * (i + 1));     /* 10 .. 60 */
    }
    CU_ASSERT_PTR_EQUAL(fe_tq_settle(&q, 30), &nodes[0]);
    CU_ASSERT_PTR_EQUAL(fe_tq_settle(&q, 30), &nodes[1]);
    CU_ASSERT_PTR_EQUAL(fe_tq_settle(&q, 30), &nodes[2]);
    check_chain(fe_tq_expire(&q, 110, 0, &count), (int[]){0}, 1);
    CU_ASSERT_PTR_EQUAL(q.settled, &nodes[2]);
    CU_ASSERT_PTR_EQUAL(fe_tq_settle(&q, 40), &nodes[3]);
    check_chain(fe_tq_expire(&q, 145, 0, &count), (int[]){1, 2, 3}, 3);
    CU_ASSERT_PTR_NULL(q.settled);
    CU_ASSERT_PTR_EQUAL(fe_tq_settle(&q, 1000), &nodes[4]);
    CU_ASSERT_PTR_EQUAL(fe_tq_settle(&q, 1000), &nodes[5]);
    CU_ASSERT_PTR_NULL(fe_tq_settle(&q, 1000));
    check_chain(fe_tq_expire(&q, 0, 1, &count), (int[]){4, 5}, 2);
    CU_ASSERT_PTR_NULL(q.settled);
    FE_ASSERT_EQ_INT(fe_tq_unsettled_stamp(&q), FE_TQ_NEVER);
}

/* Random operations against a model: every entry is visited exactly once
 * per stay in the queue, and the visited ones are always a prefix. */
static void test_settle_sweep(void)
{
    fe_tq_t q;
    int visited[NNODES], stays[NNODES], in[NNODES];
    unsigned int seed = 12345, step;
    apr_time_t now = 0;
    int i;

    reset_nodes();
    memset(visited, 0, sizeof visited);
    memset(stays, 0, sizeof stays);
    memset(in, 0, sizeof in);
    fe_tq_init(&q, 40);
    for (step = 0; step < 20000; step++) {
        unsigned int r;
        fe_tq_node_t *n;

        seed = seed * 1103515245u + 12345u;
        r = (seed >> 16) % 100;
        i = (int)((seed >> 8) % NNODES);
        now++;
        if (r < 40) {
            if (!in[i]) {
                fe_tq_append(&q, &nodes[i], now);
                in[i] = 1;
                stays[i]++;
            }
        }
        else if (r < 60) {
            if (in[i]) {
                fe_tq_remove(&nodes[i]);
                in[i] = 0;
                CU_ASSERT(visited[i] <= stays[i]);
                visited[i] = stays[i];      /* a stay ends */
            }
        }
        else if (r < 90) {
            while ((n = fe_tq_settle(&q, now - 5)) != NULL) {
                int k = (int)(n - nodes);

                CU_ASSERT(in[k]);
                CU_ASSERT(n->stamp <= now - 5);
                CU_ASSERT_EQUAL(visited[k], stays[k] - 1);   /* once */
                visited[k] = stays[k];
            }
        }
        else {
            fe_tq_node_t *chain = fe_tq_expire(&q, now, 0, NULL);

            while (chain != NULL) {
                int k = (int)(chain - nodes);

                chain = chain->next;
                in[k] = 0;
                visited[k] = stays[k];
            }
        }
        /* Visited entries form a prefix of the queue. */
        {
            const fe_tq_node_t *it;
            int seen_unvisited = 0, ok = 1;

            for (it = q.head; it != NULL; it = it->next) {
                int k = (int)(it - nodes);
                int v = visited[k] == stays[k];

                if (v && seen_unvisited) {
                    ok = 0;
                }
                seen_unvisited |= !v;
            }
            CU_ASSERT(ok);
        }
    }
}

/* A set hands out one queue per distinct timeout, the same one for the
 * same timeout, and counts the entries of all of them; when full (it
 * cannot be when sized one per virtual host) it answers with its last
 * queue rather than failing. */
static void test_set(void)
{
    fe_tqset_t set;
    fe_tq_t *a, *b, *c;

    reset_nodes();
    fe_tqset_init(&set, 2, fe_test_pool);
    FE_ASSERT_EQ_INT(fe_tqset_count(&set), 0);
    a = fe_tqset_get(&set, 5);
    b = fe_tqset_get(&set, 15);
    CU_ASSERT_PTR_NOT_EQUAL(a, b);
    CU_ASSERT_PTR_EQUAL(fe_tqset_get(&set, 5), a);
    FE_ASSERT_EQ_INT(a->timeout, 5);
    FE_ASSERT_EQ_INT(b->timeout, 15);
    FE_ASSERT_EQ_INT(set.n, 2);
    c = fe_tqset_get(&set, 99);          /* full */
    CU_ASSERT_PTR_EQUAL(c, &set.qs[1]);
    FE_ASSERT_EQ_INT(set.n, 2);
    fe_tq_append(a, &nodes[0], 1);
    fe_tq_append(a, &nodes[1], 2);
    fe_tq_append(b, &nodes[2], 3);
    FE_ASSERT_EQ_INT(fe_tqset_count(&set), 3);
    fe_tq_remove(&nodes[1]);
    FE_ASSERT_EQ_INT(fe_tqset_count(&set), 2);
}

/* Quanta: never above the wait (nor below the minimum), within 10 ms of
 * it below 2.56 s and a fifth of it above, few distinct values up to
 * 2^40 us. */
static void test_quantum(void)
{
    apr_interval_time_t w, q, last = 0;
    int distinct = 0;

    FE_ASSERT_EQ_INT(fe_tq_quantum(0), FE_TQ_QUANTUM_MIN);
    FE_ASSERT_EQ_INT(fe_tq_quantum(-5), FE_TQ_QUANTUM_MIN);
    FE_ASSERT_EQ_INT(fe_tq_quantum(15000), 10000);
    FE_ASSERT_EQ_INT(fe_tq_quantum(2559999), 2550000);
    FE_ASSERT_EQ_INT(fe_tq_quantum(2560000), 2560000);
    FE_ASSERT_EQ_INT(fe_tq_quantum(3199999), 2560000);
    FE_ASSERT_EQ_INT(fe_tq_quantum(3200000), 3200000);
    for (w = 1; w < ((apr_interval_time_t)1 << 40); w += w / 97 + 1) {
        q = fe_tq_quantum(w);
        if (w >= FE_TQ_QUANTUM_MIN
            && (q > w || (w < FE_TQ_QUANTUM_LINEAR
                          ? w - q >= FE_TQ_QUANTUM_MIN : q * 5 < w * 4))) {
            CU_FAIL("quantum above the wait, or too far below it");
            fprintf(stderr, "  wait %lld -> %lld\n", (long long)w,
                    (long long)q);
            return;
        }
        if (q < last) {
            CU_FAIL("quantum not monotonic");
            return;
        }
        distinct += q != last;
        last = q;
    }
    CU_ASSERT(distinct <= FE_TQ_QUANTA);
}

int main(int argc, char **argv)
{
    static const fe_test_case_t cases[] = {
        {"empty queue", test_empty},
        {"wait quanta", test_quantum},
        {"append order and count", test_append_order},
        {"remove head/middle/tail/unqueued", test_remove},
        {"expire at the boundary", test_expire_boundary},
        {"timeout 0 expires at once", test_timeout_zero},
        {"negative timeout acts as 0", test_negative_timeout},
        {"huge timeout saturates", test_huge_timeout},
        {"clock going backwards expires", test_clock_backwards},
        {"all=1 returns everything", test_expire_all},
        {"re-append after expire", test_reappend_after_expire},
        {"settle: order, once each", test_settle_order},
        {"settle: removals keep the cursor", test_settle_remove},
        {"settle: expiry keeps or resets the cursor", test_settle_expire},
        {"settle: random sweep against a model", test_settle_sweep},
        {"sets: one queue per timeout, counted together", test_set},
        {NULL, NULL}
    };

    /* Last-resort guard: a corrupted list must fail the run, not hang. */
    alarm(60);
    return fe_test_main("tq", cases, argc, argv);
}
