/*
 * fuzz_tq.c: libFuzzer harness for fe_tq.[ch] (timeout queues), driving a
 * sequence of append / remove / expire / next_expiry operations on three
 * queues and sixteen nodes against a simple array model.
 *
 * Input: a byte per queue selecting its timeout (any int64, negatives
 * included), then records: opcode byte, operands.  The clock ("now") is
 * fuzzed too: it moves forwards, backwards, or jumps to the extremes of
 * apr_time_t.
 *
 * Invariants (abort() on violation), from fe_tq.h:
 *  - after every operation each queue is a well-formed doubly linked list
 *    (head->prev and tail->next NULL, prev/next agree, ->q set, count
 *    right) holding exactly the model's nodes in the model's order with
 *    the model's stamps; a node in no queue has ->q NULL;
 *  - fe_tq_append() of a node already queued (a contract violation that
 *    non-FE_DEBUG builds tolerate) moves it to the new queue's tail;
 *    fe_tq_remove() of a node in no queue is a no-op;
 *  - fe_tq_expire() returns exactly the model's due prefix (stamp +
 *    timeout <= now, or stamp more than timeout ahead of now; all with
 *    @a all), oldest first, ->q NULL, the count matching;
 *  - fe_tq_next_expiry() is head stamp + timeout saturated at FE_TQ_NEVER
 *    (FE_TQ_NEVER when empty); right after fe_tq_expire() it is at most
 *    now + 2 x timeout (saturated);
 *  - negative timeouts act as 0, also when written to q->timeout directly.
 */
#include <apr.h>

#include "policy/fe_tq.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NQ 3
#define NN 16

typedef struct model_q {
    int ids[NN];
    apr_time_t stamps[NN];
    int n;
} model_q_t;

static fe_tq_t q[NQ];
static fe_tq_node_t node[NN];
static model_q_t mq[NQ];
static int where[NN];           /* queue index, -1 when in none */

static __int128 eff_timeout(const fe_tq_t *t)
{
    return t->timeout < 0 ? 0 : t->timeout;
}

static int model_due(apr_time_t stamp, __int128 timeout, apr_time_t now)
{
    return (__int128)stamp + timeout <= now
        || ((__int128)stamp > now && (__int128)stamp - now > timeout);
}

static int qidx(const fe_tq_t *t)
{
    return t == NULL ? -1 : (int)(t - q);
}

static void model_remove(int id)
{
    int qi = where[id], i;
    model_q_t *m;

    if (qi < 0) {
        return;
    }
    m = &mq[qi];
    for (i = 0; i < m->n && m->ids[i] != id; i++)
        ;
    FZ_CHECK(i < m->n, "model lost node %d", id);
    memmove(&m->ids[i], &m->ids[i + 1], (size_t)(m->n - i - 1) * sizeof(int));
    memmove(&m->stamps[i], &m->stamps[i + 1],
            (size_t)(m->n - i - 1) * sizeof(apr_time_t));
    m->n--;
    where[id] = -1;
}

static void check_queue(int qi)
{
    const fe_tq_t *t = &q[qi];
    const model_q_t *m = &mq[qi];
    const fe_tq_node_t *n, *prev = NULL;
    int i = 0;

    FZ_CHECK(t->count == (unsigned int)m->n, "queue %d: count %u, model %d",
             qi, t->count, m->n);
    FZ_CHECK((t->head == NULL) == (m->n == 0) && (t->tail == NULL)
             == (m->n == 0), "queue %d: head/tail vs emptiness", qi);
    for (n = t->head; n != NULL; prev = n, n = n->next, i++) {
        FZ_CHECK(i < m->n, "queue %d: more nodes than the model's %d (a "
                 "cycle?)", qi, m->n);
        FZ_CHECK(n == &node[m->ids[i]], "queue %d position %d: node %d, "
                 "model %d", qi, i, (int)(n - node), m->ids[i]);
        FZ_CHECK(n->prev == prev, "queue %d position %d: bad prev", qi, i);
        FZ_CHECK(n->q == t, "queue %d position %d: ->q is queue %d", qi, i,
                 qidx(n->q));
        FZ_CHECK(n->stamp == m->stamps[i], "queue %d position %d: stamp "
                 "%lld, model %lld", qi, i, (long long)n->stamp,
                 (long long)m->stamps[i]);
    }
    FZ_CHECK(i == m->n, "queue %d: %d nodes, model %d", qi, i, m->n);
    FZ_CHECK(t->tail == prev, "queue %d: tail is not the last node", qi);
}

static void check_all(void)
{
    int i;

    for (i = 0; i < NQ; i++) {
        check_queue(i);
    }
    for (i = 0; i < NN; i++) {
        FZ_CHECK(qidx(node[i].q) == where[i], "node %d: ->q is queue %d, "
                 "model %d", i, qidx(node[i].q), where[i]);
        FZ_CHECK(fe_tq_queued(&node[i]) == (where[i] >= 0),
                 "fe_tq_queued(node %d) wrong", i);
    }
}

static void check_next_expiry(int qi)
{
    apr_time_t got = fe_tq_next_expiry(&q[qi]);
    __int128 want;

    if (mq[qi].n == 0) {
        want = FE_TQ_NEVER;
    }
    else {
        want = (__int128)mq[qi].stamps[0] + eff_timeout(&q[qi]);
        if (want > FE_TQ_NEVER) {
            want = FE_TQ_NEVER;
        }
    }
    FZ_CHECK((__int128)got == want, "queue %d: next_expiry %lld, want %lld",
             qi, (long long)got, (long long)want);
}

static apr_time_t next_now(fz_reader_t *r, apr_time_t now)
{
    uint8_t sel = fz_u8(r);

    switch (sel % 5) {
    case 0:
        return now;
    case 1:                               /* forwards, saturating */
        {
            apr_time_t d = (apr_time_t)fz_u16(r) * 97;

            return now > APR_INT64_MAX - d ? APR_INT64_MAX : now + d;
        }
    case 2:                               /* backwards a little */
        {
            apr_time_t d = (apr_time_t)fz_u8(r) * 1000;

            return now < APR_INT64_MIN + d ? APR_INT64_MIN : now - d;
        }
    default:
        return fz_i64(r);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_reader_t r;
    apr_time_t now = 1000000;
    int i, ops = 0;

    fz_init(&r, data, size);
    memset(node, 0, sizeof(node));
    memset(mq, 0, sizeof(mq));
    for (i = 0; i < NN; i++) {
        where[i] = -1;
    }
    for (i = 0; i < NQ; i++) {
        fe_tq_init(&q[i], fz_i64(&r));
        FZ_CHECK(q[i].timeout >= 0, "fe_tq_init kept a negative timeout");
    }
    check_all();

    while (!fz_empty(&r) && ops++ < 512) {
        uint8_t op = fz_u8(&r);
        int qi = (op >> 4) % NQ, id = fz_u8(&r) % NN;

        now = next_now(&r, now);
        switch (op % 6) {
        case 0:
        case 1:                                 /* append */
            model_remove(id);
            fe_tq_append(&q[qi], &node[id], now);
            mq[qi].ids[mq[qi].n] = id;
            mq[qi].stamps[mq[qi].n] = now;
            mq[qi].n++;
            where[id] = qi;
            break;
        case 2:                                 /* remove */
            model_remove(id);
            fe_tq_remove(&node[id]);
            break;
        case 3:                                 /* expire */
        case 4:
            {
                int all = (op & 8) != 0 && (op % 6) == 4;
                unsigned int count = 12345;
                fe_tq_node_t *chain;
                __int128 timeout = eff_timeout(&q[qi]);
                int k = 0;

                chain = fe_tq_expire(&q[qi], now, all,
                                     (op & 0x40) ? NULL : &count);
                while (k < mq[qi].n
                       && (all || model_due(mq[qi].stamps[k], timeout, now))) {
                    k++;
                }
                if (!(op & 0x40)) {
                    FZ_CHECK(count == (unsigned int)k, "expire(queue %d, now "
                             "%lld, all %d): count %u, model %d", qi,
                             (long long)now, all, count, k);
                }
                for (i = 0; i < k; i++) {
                    int want = mq[qi].ids[i];

                    FZ_CHECK(chain == &node[want], "expire(queue %d, now "
                             "%lld, timeout %lld, all %d): chain position %d "
                             "is node %d, model %d (stamp %lld)", qi,
                             (long long)now, (long long)q[qi].timeout, all,
                             i, chain ? (int)(chain - node) : -1, want,
                             (long long)mq[qi].stamps[i]);
                    FZ_CHECK(chain->q == NULL, "expired node %d still has "
                             "->q", want);
                    chain = chain->next;
                    where[want] = -1;
                }
                FZ_CHECK(chain == NULL, "expire(queue %d, now %lld, timeout "
                         "%lld): chain longer than the model's %d (next: node "
                         "%d, stamp %lld)", qi, (long long)now,
                         (long long)q[qi].timeout, k, (int)(chain - node),
                         (long long)chain->stamp);
                memmove(mq[qi].ids, mq[qi].ids + k,
                        (size_t)(mq[qi].n - k) * sizeof(int));
                memmove(mq[qi].stamps, mq[qi].stamps + k,
                        (size_t)(mq[qi].n - k) * sizeof(apr_time_t));
                mq[qi].n -= k;
                /* fe_tq.h: whatever expire leaves is due by now + 2t */
                if (!all && mq[qi].n > 0) {
                    __int128 bound = (__int128)now + 2 * timeout;
                    apr_time_t next = fe_tq_next_expiry(&q[qi]);

                    if (bound > FE_TQ_NEVER) {
                        bound = FE_TQ_NEVER;
                    }
                    FZ_CHECK((__int128)next <= bound, "after expire at %lld "
                             "(timeout %lld) the head is due at %lld, later "
                             "than now + 2 x timeout", (long long)now,
                             (long long)timeout, (long long)next);
                }
            }
            break;
        default:                                /* set the timeout */
            if (op & 8) {
                q[qi].timeout = fz_i64(&r);     /* by hand, maybe < 0 */
            }
            else {
                check_next_expiry(qi);
            }
            break;
        }
        check_all();
        check_next_expiry(qi);
    }
    return 0;
}
