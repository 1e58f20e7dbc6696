/*
 * test_fdqueue.c: unit tests of the listener -> worker queue (fe_fdqueue.c).
 *
 * Owns: the checks of fe_fdqueue.h's contract, threaded ones included.
 * Must not: assert from helper threads (CUnit is not thread-safe: threads
 * record what they saw, the main thread asserts after the join) or rely
 * on sleeps for correctness (sleeps only give a thread time to block, and
 * every wait for that is a bounded poll of fe_queue_idlers()).
 *
 * Thread functions return instead of calling apr_thread_exit(): APR's
 * pthread_exit() happens in uninstrumented code, which leaves the redzones
 * of the instrumented frames poisoned and makes AddressSanitizer report a
 * false stack-buffer-underflow at thread teardown.
 */

#include <string.h>
#include <unistd.h>

#include <apr_atomic.h>
#include <apr_thread_proc.h>
#include <apr_time.h>

#include "fdqueue/fe_fdqueue.h"
#include "fe_test.h"

/* Items are small integers disguised as pointers (never NULL). */
static inline void *item_of(apr_uintptr_t i)
{
    return (void *)(i + 1);
}

static inline apr_uintptr_t index_of(void *item)
{
    return (apr_uintptr_t)item - 1;
}

/* Wait (at most ~2 s) until exactly @a n poppers are blocked. */
static int wait_idlers(fe_queue_t *q, unsigned int n)
{
    int i;

    for (i = 0; i < 2000; i++) {
        if (fe_queue_idlers(q) == n) {
            return 1;
        }
        apr_sleep(apr_time_from_msec(1));
    }
    return fe_queue_idlers(q) == n;
}

/* Wait for the blocked count to settle at @a n; if it does not, terminate
 * the queue so that the poppers still blocked return and the test fails
 * on its assertions instead of hanging in a join. */
static int settle_or_term(fe_queue_t *q, unsigned int n)
{
    if (wait_idlers(q, n)) {
        return 1;
    }
    fe_queue_term(q);
    return 0;
}

/* ------------------------------------------------------ popper threads */

typedef struct popper {
    fe_queue_t *q;
    apr_thread_t *thread;
    apr_status_t rv;
    void *item;
    fe_qnode_t *node;
    volatile apr_uint32_t done;
} popper_t;

static void *APR_THREAD_FUNC popper_main(apr_thread_t *thd, void *data)
{
    popper_t *p = data;

    p->rv = fe_queue_pop(p->q, &p->item, &p->node);
    apr_atomic_set32(&p->done, 1);
    (void)thd;
    return NULL;
}

static void popper_start(popper_t *p, fe_queue_t *q)
{
    memset(p, 0, sizeof(*p));
    p->q = q;
    p->rv = APR_EGENERAL;
    FE_ASSERT_EQ_INT(apr_thread_create(&p->thread, NULL, popper_main, p,
                                       fe_test_pool), APR_SUCCESS);
}

static void popper_join(popper_t *p)
{
    apr_status_t trv;

    FE_ASSERT_EQ_INT(apr_thread_join(&trv, p->thread), APR_SUCCESS);
}

/* --------------------------------------------------------------- cases */

static void test_create(void)
{
    fe_queue_t *q = (fe_queue_t *)&q;
    void *item;
    fe_qnode_t *node;

    FE_ASSERT_EQ_INT(fe_queue_create(&q, 0, fe_test_pool), APR_EINVAL);
    CU_ASSERT_PTR_NULL(q);

    FE_ASSERT_EQ_INT(fe_queue_create(&q, 17, fe_test_pool), APR_SUCCESS);
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    FE_ASSERT_EQ_INT(fe_queue_capacity(q), 17);
    FE_ASSERT_EQ_INT(fe_queue_length(q), 0);
    FE_ASSERT_EQ_INT(fe_queue_idlers(q), 0);
    FE_ASSERT_EQ_INT(fe_queue_trypop(q, &item, &node), APR_EAGAIN);
    CU_ASSERT_PTR_NULL(item);
    CU_ASSERT_PTR_NULL(node);
}

static void test_capacity_one(void)
{
    fe_queue_t *q;
    void *item;
    fe_qnode_t *node;

    FE_ASSERT_EQ_INT(fe_queue_create(&q, 1, fe_test_pool), APR_SUCCESS);
    FE_ASSERT_EQ_INT(fe_queue_push(q, item_of(1)), APR_SUCCESS);
    FE_ASSERT_EQ_INT(fe_queue_length(q), 1);
    FE_ASSERT_EQ_INT(fe_queue_push(q, item_of(2)), APR_EAGAIN);
    FE_ASSERT_EQ_INT(fe_queue_length(q), 1);
    FE_ASSERT_EQ_INT(fe_queue_pop(q, &item, &node), APR_SUCCESS);
    CU_ASSERT_PTR_EQUAL(item, item_of(1));
    CU_ASSERT_PTR_NULL(node);
    FE_ASSERT_EQ_INT(fe_queue_length(q), 0);
    FE_ASSERT_EQ_INT(fe_queue_push(q, item_of(3)), APR_SUCCESS);
    FE_ASSERT_EQ_INT(fe_queue_trypop(q, &item, &node), APR_SUCCESS);
    CU_ASSERT_PTR_EQUAL(item, item_of(3));
    FE_ASSERT_EQ_INT(fe_queue_trypop(q, &item, &node), APR_EAGAIN);
    /* NULL items are refused. */
    CU_ASSERT_NOT_EQUAL(fe_queue_push(q, NULL), APR_SUCCESS);
    FE_ASSERT_EQ_INT(fe_queue_length(q), 0);
}

static void test_fifo_wraparound(void)
{
    enum { CAP = 7 };
    fe_queue_t *q;
    void *item;
    fe_qnode_t *node;
    apr_uintptr_t next_in = 0, next_out = 0;
    apr_status_t rv;
    int round, i;

    FE_ASSERT_EQ_INT(fe_queue_create(&q, CAP, fe_test_pool), APR_SUCCESS);

    /* Full, then drained: FIFO order. */
    for (i = 0; i < CAP; i++) {
        FE_ASSERT_EQ_INT(fe_queue_push(q, item_of(next_in++)), APR_SUCCESS);
    }
    FE_ASSERT_EQ_INT(fe_queue_length(q), CAP);
    FE_ASSERT_EQ_INT(fe_queue_push(q, item_of(999999)), APR_EAGAIN);
    for (i = 0; i < CAP; i++) {
        FE_ASSERT_EQ_INT(fe_queue_pop(q, &item, &node), APR_SUCCESS);
        FE_ASSERT_EQ_U64(index_of(item), next_out++);
    }
    FE_ASSERT_EQ_INT(fe_queue_trypop(q, &item, &node), APR_EAGAIN);

    /* Top up to full, take a varying number: the ring wraps at every
     * position and order must hold throughout. */
    for (round = 0; round < 3 * CAP; round++) {
        while ((rv = fe_queue_push(q, item_of(next_in))) == APR_SUCCESS) {
            next_in++;
        }
        FE_ASSERT_EQ_INT(rv, APR_EAGAIN);
        FE_ASSERT_EQ_INT(fe_queue_length(q), CAP);
        for (i = 0; i <= round % CAP; i++) {
            FE_ASSERT_EQ_INT(fe_queue_trypop(q, &item, &node), APR_SUCCESS);
            CU_ASSERT_PTR_NULL(node);
            FE_ASSERT_EQ_U64(index_of(item), next_out++);
        }
    }
    while (fe_queue_trypop(q, &item, &node) == APR_SUCCESS) {
        FE_ASSERT_EQ_U64(index_of(item), next_out++);
    }
    FE_ASSERT_EQ_U64(next_out, next_in);
    FE_ASSERT_EQ_INT(fe_queue_length(q), 0);
    FE_ASSERT_EQ_INT(fe_queue_trypop(q, &item, &node), APR_EAGAIN);
}

static void test_urgent_first(void)
{
    enum { CAP = 3 };
    fe_queue_t *q;
    fe_qnode_t nodes[5];
    void *item;
    fe_qnode_t *node;
    int i;

    FE_ASSERT_EQ_INT(fe_queue_create(&q, CAP, fe_test_pool), APR_SUCCESS);
    for (i = 0; i < CAP; i++) {
        FE_ASSERT_EQ_INT(fe_queue_push(q, item_of(i)), APR_SUCCESS);
    }
    /* The urgent lane is unbounded: a full ring does not refuse it. */
    for (i = 0; i < 4; i++) {
        nodes[i].next = (fe_qnode_t *)&nodes[0]; /* garbage on purpose */
        FE_ASSERT_EQ_INT(fe_queue_push_urgent(q, &nodes[i]), APR_SUCCESS);
    }
    FE_ASSERT_EQ_INT(fe_queue_length(q), CAP + 4);

    for (i = 0; i < 2; i++) {
        FE_ASSERT_EQ_INT(fe_queue_trypop(q, &item, &node), APR_SUCCESS);
        CU_ASSERT_PTR_NULL(item);
        CU_ASSERT_PTR_EQUAL(node, &nodes[i]);
    }
    /* A node pushed now goes behind the older urgent nodes but still
     * ahead of every item. */
    FE_ASSERT_EQ_INT(fe_queue_push_urgent(q, &nodes[4]), APR_SUCCESS);
    for (i = 2; i < 4; i++) {
        FE_ASSERT_EQ_INT(fe_queue_trypop(q, &item, &node), APR_SUCCESS);
        CU_ASSERT_PTR_NULL(item);
        CU_ASSERT_PTR_EQUAL(node, &nodes[i]);
    }
    FE_ASSERT_EQ_INT(fe_queue_trypop(q, &item, &node), APR_SUCCESS);
    CU_ASSERT_PTR_EQUAL(node, &nodes[4]);
    CU_ASSERT_PTR_NULL(item);
    for (i = 0; i < CAP; i++) {
        FE_ASSERT_EQ_INT(fe_queue_trypop(q, &item, &node), APR_SUCCESS);
        CU_ASSERT_PTR_NULL(node);
        CU_ASSERT_PTR_EQUAL(item, item_of(i));
    }
    FE_ASSERT_EQ_INT(fe_queue_trypop(q, &item, &node), APR_EAGAIN);
    FE_ASSERT_EQ_INT(fe_queue_length(q), 0);
}

static void test_blocked_pop_gets_entries(void)
{
    fe_queue_t *q;
    popper_t p;
    fe_qnode_t n;

    FE_ASSERT_EQ_INT(fe_queue_create(&q, 4, fe_test_pool), APR_SUCCESS);

    popper_start(&p, q);
    CU_ASSERT_TRUE(wait_idlers(q, 1));
    FE_ASSERT_EQ_INT(fe_queue_push(q, item_of(42)), APR_SUCCESS);
    CU_ASSERT_TRUE(settle_or_term(q, 0));
    popper_join(&p);
    FE_ASSERT_EQ_INT(p.rv, APR_SUCCESS);
    CU_ASSERT_PTR_EQUAL(p.item, item_of(42));
    CU_ASSERT_PTR_NULL(p.node);

    popper_start(&p, q);
    CU_ASSERT_TRUE(wait_idlers(q, 1));
    FE_ASSERT_EQ_INT(fe_queue_push_urgent(q, &n), APR_SUCCESS);
    CU_ASSERT_TRUE(settle_or_term(q, 0));
    popper_join(&p);
    FE_ASSERT_EQ_INT(p.rv, APR_SUCCESS);
    CU_ASSERT_PTR_NULL(p.item);
    CU_ASSERT_PTR_EQUAL(p.node, &n);
    FE_ASSERT_EQ_INT(fe_queue_idlers(q), 0);
}

static void test_term_wakes_blocked(void)
{
    enum { N = 3 };
    fe_queue_t *q;
    popper_t p[N];
    fe_qnode_t n;
    void *item;
    fe_qnode_t *node;
    int i;

    FE_ASSERT_EQ_INT(fe_queue_create(&q, 4, fe_test_pool), APR_SUCCESS);
    for (i = 0; i < N; i++) {
        popper_start(&p[i], q);
    }
    CU_ASSERT_TRUE(wait_idlers(q, N));
    fe_queue_term(q);
    for (i = 0; i < N; i++) {
        popper_join(&p[i]);
        FE_ASSERT_EQ_INT(p[i].rv, APR_EOF);
        CU_ASSERT_PTR_NULL(p[i].item);
        CU_ASSERT_PTR_NULL(p[i].node);
    }
    FE_ASSERT_EQ_INT(fe_queue_idlers(q), 0);

    /* Everything after term is APR_EOF; term is idempotent. */
    FE_ASSERT_EQ_INT(fe_queue_push(q, item_of(1)), APR_EOF);
    FE_ASSERT_EQ_INT(fe_queue_push_urgent(q, &n), APR_EOF);
    FE_ASSERT_EQ_INT(fe_queue_pop(q, &item, &node), APR_EOF);
    FE_ASSERT_EQ_INT(fe_queue_trypop(q, &item, &node), APR_EOF);
    fe_queue_term(q);
    FE_ASSERT_EQ_INT(fe_queue_pop(q, &item, &node), APR_EOF);
    FE_ASSERT_EQ_INT(fe_queue_length(q), 0);
}

static void test_term_with_entries_left(void)
{
    fe_queue_t *q;
    fe_qnode_t n;
    void *item;
    fe_qnode_t *node;

    FE_ASSERT_EQ_INT(fe_queue_create(&q, 4, fe_test_pool), APR_SUCCESS);
    FE_ASSERT_EQ_INT(fe_queue_push(q, item_of(1)), APR_SUCCESS);
    FE_ASSERT_EQ_INT(fe_queue_push_urgent(q, &n), APR_SUCCESS);
    fe_queue_term(q);
    /* Termination is immediate: entries remain, nobody gets them. */
    FE_ASSERT_EQ_INT(fe_queue_pop(q, &item, &node), APR_EOF);
    CU_ASSERT_PTR_NULL(item);
    CU_ASSERT_PTR_NULL(node);
    FE_ASSERT_EQ_INT(fe_queue_trypop(q, &item, &node), APR_EOF);
    FE_ASSERT_EQ_INT(fe_queue_length(q), 2);
}

static void test_interrupt_all(void)
{
    enum { N = 5 };
    fe_queue_t *q;
    popper_t p[N], late;
    int i;

    FE_ASSERT_EQ_INT(fe_queue_create(&q, 4, fe_test_pool), APR_SUCCESS);

    /* An interrupt with nobody blocked is not remembered. */
    fe_queue_interrupt_all(q);
    fe_queue_interrupt_one(q);

    for (i = 0; i < N; i++) {
        popper_start(&p[i], q);
    }
    CU_ASSERT_TRUE(wait_idlers(q, N));
    fe_queue_interrupt_all(q);
    CU_ASSERT_TRUE(settle_or_term(q, 0));
    for (i = 0; i < N; i++) {
        popper_join(&p[i]);
        FE_ASSERT_EQ_INT(p[i].rv, APR_EINTR);
        CU_ASSERT_PTR_NULL(p[i].item);
        CU_ASSERT_PTR_NULL(p[i].node);
    }
    FE_ASSERT_EQ_INT(fe_queue_idlers(q), 0);

    /* Once only: a popper that blocks afterwards is not interrupted; it
     * takes the next item. */
    popper_start(&late, q);
    CU_ASSERT_TRUE(wait_idlers(q, 1));
    FE_ASSERT_EQ_INT(apr_atomic_read32(&late.done), 0);
    FE_ASSERT_EQ_INT(fe_queue_push(q, item_of(7)), APR_SUCCESS);
    CU_ASSERT_TRUE(settle_or_term(q, 0));
    popper_join(&late);
    FE_ASSERT_EQ_INT(late.rv, APR_SUCCESS);
    CU_ASSERT_PTR_EQUAL(late.item, item_of(7));
    FE_ASSERT_EQ_INT(fe_queue_idlers(q), 0);
}

static int count_done(popper_t *p, int n)
{
    int i, done = 0;

    for (i = 0; i < n; i++) {
        done += apr_atomic_read32(&p[i].done) != 0;
    }
    return done;
}

static void test_interrupt_one(void)
{
    enum { N = 3 };
    fe_queue_t *q;
    popper_t p[N];
    int i, eintr, eof, first;

    FE_ASSERT_EQ_INT(fe_queue_create(&q, 4, fe_test_pool), APR_SUCCESS);
    for (i = 0; i < N; i++) {
        popper_start(&p[i], q);
    }
    CU_ASSERT_TRUE(wait_idlers(q, N));
    fe_queue_interrupt_one(q);
    CU_ASSERT_TRUE(settle_or_term(q, N - 1));

    /* Exactly one finished, with APR_EINTR; the others stay blocked.
     * (done is set just after pop returns, so poll for it briefly.) */
    for (i = 0; i < 2000 && count_done(p, N) == 0; i++) {
        apr_sleep(apr_time_from_msec(1));
    }
    FE_ASSERT_EQ_INT(count_done(p, N), 1);
    for (i = 0, first = -1; i < N; i++) {
        if (apr_atomic_read32(&p[i].done)) {
            first = i;
        }
    }
    FE_ASSERT_EQ_INT(fe_queue_idlers(q), N - 1);

    fe_queue_interrupt_one(q);
    CU_ASSERT_TRUE(settle_or_term(q, N - 2));
    fe_queue_term(q);
    for (i = 0, eintr = 0, eof = 0; i < N; i++) {
        popper_join(&p[i]);
        eintr += p[i].rv == APR_EINTR;
        eof += p[i].rv == APR_EOF;
    }
    FE_ASSERT_EQ_INT(eintr, 2);
    FE_ASSERT_EQ_INT(eof, N - 2);
    /* rv is read only after the join (it is not published atomically) */
    CU_ASSERT_TRUE(first >= 0 && p[first].rv == APR_EINTR);
    FE_ASSERT_EQ_INT(fe_queue_idlers(q), 0);
}

/* A push goes straight to the most recently blocked popper; the older
 * one keeps waiting, and an interrupt takes the longest-blocked. */
static void test_handoff_lifo(void)
{
    fe_queue_t *q;
    popper_t older, newer;
    int i;

    FE_ASSERT_EQ_INT(fe_queue_create(&q, 4, fe_test_pool), APR_SUCCESS);
    popper_start(&older, q);
    CU_ASSERT_TRUE(wait_idlers(q, 1));
    popper_start(&newer, q);
    CU_ASSERT_TRUE(wait_idlers(q, 2));
    FE_ASSERT_EQ_INT(fe_queue_push(q, item_of(5)), APR_SUCCESS);
    /* handed over: never in the queue, one idler less at once */
    FE_ASSERT_EQ_INT(fe_queue_length(q), 0);
    FE_ASSERT_EQ_INT(fe_queue_idlers(q), 1);
    popper_join(&newer);
    FE_ASSERT_EQ_INT(newer.rv, APR_SUCCESS);
    CU_ASSERT_PTR_EQUAL(newer.item, item_of(5));
    for (i = 0; i < 50; i++) {
        apr_sleep(apr_time_from_msec(1));
    }
    FE_ASSERT_EQ_INT(apr_atomic_read32(&older.done), 0);
    fe_queue_interrupt_one(q);
    popper_join(&older);
    FE_ASSERT_EQ_INT(older.rv, APR_EINTR);
    CU_ASSERT_PTR_NULL(older.item);
    FE_ASSERT_EQ_INT(fe_queue_idlers(q), 0);
}

/* Pacing (fe_work.c): a lazy push waits in the ring beside blocked
 * poppers until fe_queue_release() hands it over, oldest first, to as
 * many as asked; it goes to a blocked popper at once only when the ring
 * is full. */
static void test_lazy_push_release(void)
{
    fe_queue_t *q;
    popper_t a, b;
    void *item;
    fe_qnode_t *node;

    FE_ASSERT_EQ_INT(fe_queue_create(&q, 2, fe_test_pool), APR_SUCCESS);
    /* nobody waits: the same as a push */
    FE_ASSERT_EQ_INT(fe_queue_push_lazy(q, item_of(1)), APR_SUCCESS);
    FE_ASSERT_EQ_INT(fe_queue_release(q, 5), 0);
    FE_ASSERT_EQ_INT(fe_queue_trypop(q, &item, &node), APR_SUCCESS);
    CU_ASSERT_PTR_EQUAL(item, item_of(1));

    popper_start(&a, q);
    CU_ASSERT_TRUE(wait_idlers(q, 1));
    popper_start(&b, q);
    CU_ASSERT_TRUE(wait_idlers(q, 2));
    FE_ASSERT_EQ_INT(fe_queue_push_lazy(q, item_of(2)), APR_SUCCESS);
    FE_ASSERT_EQ_INT(fe_queue_push_lazy(q, item_of(3)), APR_SUCCESS);
    /* both wait beside two blocked poppers, nobody was woken */
    FE_ASSERT_EQ_INT(fe_queue_items_waiting(q), 2);
    FE_ASSERT_EQ_INT(fe_queue_idlers(q), 2);
    apr_sleep(apr_time_from_msec(20));
    FE_ASSERT_EQ_INT(apr_atomic_read32(&a.done) + apr_atomic_read32(&b.done),
                     0);
    /* full ring: the next lazy push goes to the newest popper at once */
    FE_ASSERT_EQ_INT(fe_queue_push_lazy(q, item_of(4)), APR_SUCCESS);
    popper_join(&b);
    FE_ASSERT_EQ_INT(b.rv, APR_SUCCESS);
    CU_ASSERT_PTR_EQUAL(b.item, item_of(4));
    FE_ASSERT_EQ_INT(fe_queue_items_waiting(q), 2);
    /* release hands out the oldest, to at most @max poppers */
    FE_ASSERT_EQ_INT(fe_queue_release(q, 0), 0);
    FE_ASSERT_EQ_INT(fe_queue_release(q, 1), 1);
    popper_join(&a);
    FE_ASSERT_EQ_INT(a.rv, APR_SUCCESS);
    CU_ASSERT_PTR_EQUAL(a.item, item_of(2));
    /* nobody left to hand to: the last stays queued, in order */
    FE_ASSERT_EQ_INT(fe_queue_release(q, 3), 0);
    FE_ASSERT_EQ_INT(fe_queue_trypop(q, &item, &node), APR_SUCCESS);
    CU_ASSERT_PTR_EQUAL(item, item_of(3));
    FE_ASSERT_EQ_INT(fe_queue_length(q), 0);
    /* after termination: refused, nothing released */
    fe_queue_term(q);
    FE_ASSERT_EQ_INT(fe_queue_push_lazy(q, item_of(5)), APR_EOF);
    FE_ASSERT_EQ_INT(fe_queue_release(q, 3), 0);
}

/* An entry handed over before fe_queue_term() stays the popper's: it is
 * returned with APR_SUCCESS, never dropped. */
static void test_handoff_then_term(void)
{
    fe_queue_t *q;
    popper_t p;

    FE_ASSERT_EQ_INT(fe_queue_create(&q, 4, fe_test_pool), APR_SUCCESS);
    popper_start(&p, q);
    CU_ASSERT_TRUE(wait_idlers(q, 1));
    FE_ASSERT_EQ_INT(fe_queue_push(q, item_of(9)), APR_SUCCESS);
    fe_queue_term(q);
    popper_join(&p);
    FE_ASSERT_EQ_INT(p.rv, APR_SUCCESS);
    CU_ASSERT_PTR_EQUAL(p.item, item_of(9));
    FE_ASSERT_EQ_INT(fe_queue_length(q), 0);
}

/* Pushes racing interrupt_all and term: every item pushed successfully
 * is either returned by exactly one pop or still in the queue at the
 * end; none is lost or returned twice. */
enum { RT_POPPERS = 4, RT_ITEMS = 20000 };

typedef struct rt_popper {
    fe_queue_t *q;
    apr_thread_t *thread;
    unsigned char *seen;        /* RT_ITEMS counters */
    unsigned int taken, eintr;
    apr_status_t bad;           /* an unexpected status, or SUCCESS */
} rt_popper_t;

static void *APR_THREAD_FUNC rt_pop(apr_thread_t *thd, void *data)
{
    rt_popper_t *p = data;
    void *item;
    fe_qnode_t *node;
    apr_status_t rv;

    p->bad = APR_SUCCESS;
    while ((rv = fe_queue_pop(p->q, &item, &node)) != APR_EOF) {
        if (rv == APR_EINTR) {
            p->eintr++;
            continue;
        }
        if (rv != APR_SUCCESS || item == NULL || node != NULL
            || index_of(item) >= RT_ITEMS) {
            p->bad = rv != APR_SUCCESS ? rv : APR_EGENERAL;
            break;
        }
        if (p->seen[index_of(item)] < 255) {
            p->seen[index_of(item)]++;
        }
        p->taken++;
    }
    (void)thd;
    return NULL;
}

static void test_race_interrupt_term(void)
{
    fe_queue_t *q;
    rt_popper_t p[RT_POPPERS];
    unsigned char *pushed = apr_pcalloc(fe_test_pool, RT_ITEMS);
    unsigned int i, j, npushed = 0, ntaken = 0, left, dup = 0, lost = 0;
    void *item;
    fe_qnode_t *node;

    FE_ASSERT_EQ_INT(fe_queue_create(&q, 64, fe_test_pool), APR_SUCCESS);
    for (i = 0; i < RT_POPPERS; i++) {
        p[i].q = q;
        p[i].seen = apr_pcalloc(fe_test_pool, RT_ITEMS);
        p[i].taken = p[i].eintr = 0;
        CU_ASSERT_EQUAL_FATAL(apr_thread_create(&p[i].thread, NULL, rt_pop,
                                                &p[i], fe_test_pool),
                              APR_SUCCESS);
    }
    for (i = 0; i < RT_ITEMS; i++) {
        apr_status_t rv;

        while ((rv = fe_queue_push(q, item_of(i))) == APR_EAGAIN) {
            apr_thread_yield();              /* full: poppers catch up */
        }
        if (rv == APR_SUCCESS) {
            pushed[i] = 1;
            npushed++;
        }
        if (i % 97 == 0) {
            fe_queue_interrupt_all(q);
        }
        if (i % 89 == 0) {
            fe_queue_interrupt_one(q);
        }
        if (i == RT_ITEMS - 500) {
            fe_queue_term(q);        /* the last pushes all fail */
        }
    }
    for (i = 0; i < RT_POPPERS; i++) {
        apr_status_t trv;

        apr_thread_join(&trv, p[i].thread);
        FE_ASSERT_EQ_INT(p[i].bad, APR_SUCCESS);
        ntaken += p[i].taken;
    }
    left = fe_queue_length(q);
    for (i = 0; i < RT_ITEMS; i++) {
        unsigned int n = 0;

        for (j = 0; j < RT_POPPERS; j++) {
            n += p[j].seen[i];
        }
        dup += n > 1;
        lost += pushed[i] && n == 0;
        CU_ASSERT_FATAL(pushed[i] || n == 0);
    }
    FE_ASSERT_EQ_INT(dup, 0);
    FE_ASSERT_EQ_INT(ntaken + left, npushed);
    FE_ASSERT_EQ_INT(lost, left);     /* the only missing ones: queued */
    FE_ASSERT_EQ_INT(npushed, RT_ITEMS - 500 + 1);
    FE_ASSERT_EQ_INT(fe_queue_trypop(q, &item, &node), APR_EOF);
    FE_ASSERT_EQ_INT(fe_queue_idlers(q), 0);
}

/* ---------------------------------------- many producers, many consumers */

enum {
    MP_PRODUCERS = 4,
    MP_CONSUMERS = 4,
    MP_PER_PRODUCER = 20000,
    MP_TOTAL = MP_PRODUCERS * MP_PER_PRODUCER,
    MP_CAPACITY = 64
};

static char mp_stop_sentinel;
static volatile apr_uint32_t mp_consumers_done;

typedef struct mp_thread {
    fe_queue_t *q;
    apr_thread_t *thread;
    unsigned int id;
    apr_status_t rv;            /* first unexpected status, or SUCCESS */
    unsigned int taken;
    unsigned long long fulls;   /* APR_EAGAIN seen by a producer */
    unsigned char *seen;        /* consumer: MP_TOTAL counters */
} mp_thread_t;

static void *APR_THREAD_FUNC mp_producer(apr_thread_t *thd, void *data)
{
    mp_thread_t *t = data;
    apr_uintptr_t base = (apr_uintptr_t)t->id * MP_PER_PRODUCER;
    apr_uintptr_t i;
    apr_status_t rv;

    t->rv = APR_SUCCESS;
    for (i = 0; i < MP_PER_PRODUCER; i++) {
        while ((rv = fe_queue_push(t->q, item_of(base + i))) == APR_EAGAIN) {
            t->fulls++;
            apr_thread_yield();
        }
        if (rv != APR_SUCCESS) {
            t->rv = rv;
            break;
        }
    }
    (void)thd;
    return NULL;
}

static void *APR_THREAD_FUNC mp_consumer(apr_thread_t *thd, void *data)
{
    mp_thread_t *t = data;
    void *item;
    fe_qnode_t *node;
    apr_status_t rv;

    t->rv = APR_SUCCESS;
    for (;;) {
        rv = fe_queue_pop(t->q, &item, &node);
        if (rv != APR_SUCCESS || node != NULL || item == NULL) {
            t->rv = rv != APR_SUCCESS ? rv : APR_EGENERAL;
            break;
        }
        if (item == &mp_stop_sentinel) {
            break;
        }
        if (index_of(item) >= MP_TOTAL) {
            t->rv = APR_EGENERAL;
            break;
        }
        if (t->seen[index_of(item)] < 255) {
            t->seen[index_of(item)]++;
        }
        t->taken++;
    }
    apr_atomic_inc32(&mp_consumers_done);
    (void)thd;
    return NULL;
}

static void test_many_producers_consumers(void)
{
    fe_queue_t *q;
    mp_thread_t prod[MP_PRODUCERS], cons[MP_CONSUMERS];
    apr_status_t trv, rv;
    unsigned int i, c, total_taken = 0, missing = 0, dup = 0;
    unsigned long long sum = 0, expected_sum;

    FE_ASSERT_EQ_INT(fe_queue_create(&q, MP_CAPACITY, fe_test_pool),
                     APR_SUCCESS);
    apr_atomic_set32(&mp_consumers_done, 0);
    memset(prod, 0, sizeof(prod));
    memset(cons, 0, sizeof(cons));
    for (c = 0; c < MP_CONSUMERS; c++) {
        cons[c].q = q;
        cons[c].id = c;
        cons[c].seen = apr_pcalloc(fe_test_pool, MP_TOTAL);
        FE_ASSERT_EQ_INT(apr_thread_create(&cons[c].thread, NULL,
                                           mp_consumer, &cons[c],
                                           fe_test_pool), APR_SUCCESS);
    }
    for (i = 0; i < MP_PRODUCERS; i++) {
        prod[i].q = q;
        prod[i].id = i;
        FE_ASSERT_EQ_INT(apr_thread_create(&prod[i].thread, NULL,
                                           mp_producer, &prod[i],
                                           fe_test_pool), APR_SUCCESS);
    }
    for (i = 0; i < MP_PRODUCERS; i++) {
        FE_ASSERT_EQ_INT(apr_thread_join(&trv, prod[i].thread), APR_SUCCESS);
        FE_ASSERT_EQ_INT(prod[i].rv, APR_SUCCESS);
    }
    /* Every real item is in (or through) the FIFO now: one stop sentinel
     * per consumer lands behind all of them. */
    for (c = 0; c < MP_CONSUMERS; c++) {
        while ((rv = fe_queue_push(q, &mp_stop_sentinel)) == APR_EAGAIN) {
            apr_thread_yield();
        }
        FE_ASSERT_EQ_INT(rv, APR_SUCCESS);
    }
    /* A lost wakeup would leave a consumer blocked with entries queued:
     * give them 30 s, then terminate so that the joins cannot hang. */
    for (i = 0; i < 30000; i++) {
        if (apr_atomic_read32(&mp_consumers_done) == MP_CONSUMERS) {
            break;
        }
        apr_sleep(apr_time_from_msec(1));
    }
    if (apr_atomic_read32(&mp_consumers_done) != MP_CONSUMERS) {
        CU_FAIL("consumers did not finish: lost wakeup?");
        fe_queue_term(q);
    }
    for (c = 0; c < MP_CONSUMERS; c++) {
        FE_ASSERT_EQ_INT(apr_thread_join(&trv, cons[c].thread), APR_SUCCESS);
        FE_ASSERT_EQ_INT(cons[c].rv, APR_SUCCESS);
        total_taken += cons[c].taken;
    }
    FE_ASSERT_EQ_INT(total_taken, MP_TOTAL);
    for (i = 0; i < MP_TOTAL; i++) {
        unsigned int n = 0;

        for (c = 0; c < MP_CONSUMERS; c++) {
            n += cons[c].seen[i];
        }
        missing += n == 0;
        dup += n > 1;
        sum += (unsigned long long)i * n;
    }
    expected_sum = (unsigned long long)MP_TOTAL * (MP_TOTAL - 1) / 2;
    FE_ASSERT_EQ_INT(missing, 0);
    FE_ASSERT_EQ_INT(dup, 0);
    FE_ASSERT_EQ_U64(sum, expected_sum);
    FE_ASSERT_EQ_INT(fe_queue_length(q), 0);
    FE_ASSERT_EQ_INT(fe_queue_idlers(q), 0);
}

/* The queue lives in a pool of its own that is destroyed with it; under
 * valgrind this also proves the cleanup does not destroy twice. */
static void test_pool_cleanup(void)
{
    apr_pool_t *sub;
    fe_queue_t *q;
    int i;

    for (i = 0; i < 3; i++) {
        FE_ASSERT_EQ_INT(apr_pool_create(&sub, fe_test_pool), APR_SUCCESS);
        FE_ASSERT_EQ_INT(fe_queue_create(&q, 8, sub), APR_SUCCESS);
        FE_ASSERT_EQ_INT(fe_queue_push(q, item_of(1)), APR_SUCCESS);
        if (i == 1) {
            fe_queue_term(q);
        }
        if (i == 2) {
            apr_pool_clear(sub);
        }
        apr_pool_destroy(sub);
    }
}

int main(int argc, char **argv)
{
    static const fe_test_case_t cases[] = {
        {"create, capacity 0", test_create},
        {"capacity 1", test_capacity_one},
        {"fill/drain keeps FIFO order across wrap", test_fifo_wraparound},
        {"urgent nodes first, in FIFO order", test_urgent_first},
        {"blocked pop gets pushed entries", test_blocked_pop_gets_entries},
        {"term wakes blocked poppers with EOF", test_term_wakes_blocked},
        {"term is immediate with entries left", test_term_with_entries_left},
        {"interrupt_all wakes every blocked popper once",
         test_interrupt_all},
        {"interrupt_one wakes exactly one", test_interrupt_one},
        {"a push goes to the newest blocked popper", test_handoff_lifo},
        {"lazy push waits for a release (pacing)", test_lazy_push_release},
        {"an entry handed over before term is kept", test_handoff_then_term},
        {"pushes racing interrupts and term lose nothing",
         test_race_interrupt_term},
        {"many producers, many consumers", test_many_producers_consumers},
        {"pool cleanup", test_pool_cleanup},
        {NULL, NULL}
    };

    /* Last-resort guard: a lost wakeup must fail the run, not hang it. */
    alarm(120);
    return fe_test_main("fdqueue", cases, argc, argv);
}
