/*
 * fuzz_fdqueue.c: libFuzzer harness for fe_fdqueue.[ch], single-threaded:
 * a sequence of push / push_urgent / trypop / interrupt / term / length
 * operations on one queue against a model (two FIFOs).  The threaded
 * behaviour (blocking pop, wakeups) is test_fdqueue's and check-tsan's
 * business; this one hammers the ring arithmetic, the urgent lane and the
 * status codes with arbitrary capacities and orders.
 *
 * Input: capacity byte (capacity = 1 + byte % 64, or 0 to check EINVAL),
 * then opcode records.
 *
 * Invariants (abort() on violation), from fe_fdqueue.h:
 *  - fe_queue_create(capacity 0) is APR_EINVAL with *q NULL;
 *  - push: APR_SUCCESS while fewer than capacity items wait, then
 *    APR_EAGAIN; APR_EINVAL for NULL; APR_EOF after term;
 *  - push_urgent: unbounded, APR_EINVAL for NULL, APR_EOF after term;
 *  - trypop: urgent nodes first (FIFO, ->next NULL again), then items
 *    (FIFO), exactly one of *item / *node set on success and both NULL
 *    otherwise; APR_EAGAIN when empty; APR_EOF after term even with
 *    entries left;
 *  - length == items + urgent nodes (model); idlers 0 (nobody blocks);
 *    capacity as created; interrupts with nobody blocked change nothing;
 *  - the pool cleanup destroys the mutex and condvar exactly once (ASan
 *    and LeakSanitizer watch).
 */
#include <apr_general.h>
#include <apr_pools.h>

#include "fdqueue/fe_fdqueue.h"
#include "fuzz_util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NNODES 32
#define MAXQ 4096

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    (void)fz_apr_root();
    return 0;
}

static fe_qnode_t nodes[NNODES];
static int node_queued[NNODES];

/* model: items are small integers disguised as pointers (never NULL) */
static uintptr_t items[MAXQ];
static int ihead, icount;
static int urgent[NNODES * 4];
static int uhead, ucount;

static void *item_ptr(uintptr_t v)
{
    return (void *)(v + 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    fe_queue_t *q = (fe_queue_t *)&q;
    fz_reader_t r;
    unsigned int capacity;
    uintptr_t next_item = 0;
    int terminated = 0, ops = 0;
    apr_status_t rv;
    uint8_t cb;

    if (apr_pool_create(&p, fz_apr_root()) != APR_SUCCESS) {
        abort();
    }
    fz_init(&r, data, size);
    cb = fz_u8(&r);
    if (cb == 0) {
        rv = fe_queue_create(&q, 0, p);
        FZ_CHECK(rv == APR_EINVAL && q == NULL, "capacity 0: rv %d, q %p",
                 rv, (void *)q);
        apr_pool_destroy(p);
        return 0;
    }
    capacity = 1u + cb % 64u;
    rv = fe_queue_create(&q, capacity, p);
    FZ_CHECK(rv == APR_SUCCESS && q != NULL, "create(%u) failed: %d",
             capacity, rv);
    FZ_CHECK(fe_queue_capacity(q) == capacity, "capacity %u, want %u",
             fe_queue_capacity(q), capacity);
    memset(nodes, 0, sizeof(nodes));
    memset(node_queued, 0, sizeof(node_queued));
    ihead = icount = uhead = ucount = 0;

    while (!fz_empty(&r) && ops++ < 2048) {
        uint8_t op = fz_u8(&r);

        switch (op % 8) {
        case 0: case 1: case 2:                         /* push */
            {
                unsigned int n = 1 + (op >> 3) % 8;

                while (n--) {
                    rv = fe_queue_push(q, item_ptr(next_item));
                    if (terminated) {
                        FZ_CHECK(rv == APR_EOF, "push after term: %d", rv);
                    }
                    else if ((unsigned int)icount == capacity) {
                        FZ_CHECK(rv == APR_EAGAIN, "push to a full queue "
                                 "(%d of %u): %d", icount, capacity, rv);
                    }
                    else {
                        FZ_CHECK(rv == APR_SUCCESS, "push (%d of %u): %d",
                                 icount, capacity, rv);
                        items[(ihead + icount) % MAXQ] = next_item;
                        icount++;
                    }
                    next_item++;
                }
            }
            break;
        case 3:                                         /* push_urgent */
            {
                int i = (op >> 3) % NNODES;

                if (op & 0x80) {
                    FZ_CHECK(fe_queue_push_urgent(q, NULL) == APR_EINVAL,
                             "push_urgent(NULL) accepted");
                    FZ_CHECK(fe_queue_push(q, NULL) == APR_EINVAL,
                             "push(NULL) accepted");
                    break;
                }
                if (node_queued[i]) {
                    break;      /* the queue owns it: no double push */
                }
                nodes[i].next = (fe_qnode_t *)&nodes[(i + 1) % NNODES];
                rv = fe_queue_push_urgent(q, &nodes[i]);
                if (terminated) {
                    FZ_CHECK(rv == APR_EOF, "push_urgent after term: %d", rv);
                }
                else {
                    FZ_CHECK(rv == APR_SUCCESS, "push_urgent: %d", rv);
                    urgent[(uhead + ucount) % (NNODES * 4)] = i;
                    ucount++;
                    node_queued[i] = 1;
                }
            }
            break;
        case 4: case 5:                                 /* trypop */
            {
                void *item = (void *)&item;
                fe_qnode_t *node = (fe_qnode_t *)&node;

                rv = fe_queue_trypop(q, &item, &node);
                if (terminated) {
                    FZ_CHECK(rv == APR_EOF && item == NULL && node == NULL,
                             "trypop after term: %d", rv);
                }
                else if (ucount > 0) {
                    int want = urgent[uhead];

                    FZ_CHECK(rv == APR_SUCCESS && item == NULL
                             && node == &nodes[want], "trypop: rv %d, node "
                             "%d, item %p; want urgent node %d", rv,
                             node ? (int)(node - nodes) : -1, item, want);
                    FZ_CHECK(node->next == NULL, "popped node keeps ->next");
                    node_queued[want] = 0;
                    uhead = (uhead + 1) % (NNODES * 4);
                    ucount--;
                }
                else if (icount > 0) {
                    uintptr_t want = items[ihead];

                    FZ_CHECK(rv == APR_SUCCESS && node == NULL
                             && item == item_ptr(want), "trypop: rv %d, "
                             "item %p, node %p; want item %p", rv, item,
                             (void *)node, item_ptr(want));
                    ihead = (ihead + 1) % MAXQ;
                    icount--;
                }
                else {
                    FZ_CHECK(rv == APR_EAGAIN && item == NULL && node == NULL,
                             "trypop on an empty queue: %d", rv);
                }
            }
            break;
        case 6:                                         /* interrupts */
            if (op & 8) {
                fe_queue_interrupt_all(q);
            }
            else {
                fe_queue_interrupt_one(q);
            }
            break;
        default:                                        /* term (rare) */
            if ((op & 0xf8) == 0xf8) {
                fe_queue_term(q);
                fe_queue_term(q);                       /* idempotent */
                terminated = 1;
            }
            break;
        }
        FZ_CHECK(fe_queue_length(q) == (unsigned int)(icount + ucount),
                 "length %u, model %d items + %d urgent", fe_queue_length(q),
                 icount, ucount);
        FZ_CHECK(fe_queue_idlers(q) == 0, "idlers %u with nobody blocked",
                 fe_queue_idlers(q));
    }
    apr_pool_destroy(p);        /* the cleanup destroys mutex and condvar */
    return 0;
}
