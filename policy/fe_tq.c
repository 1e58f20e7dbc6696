/*
 * fe_tq.c: timeout queues, one FIFO per fixed timeout (see fe_tq.h).
 *
 * Owns: the doubly linked intrusive list of fe_tq_node_t, its count, and
 * the expiry arithmetic (saturation on overflow, the clock-went-backwards
 * rule, negative timeouts acting as 0); sets of queues, one per timeout.
 *
 * Must not: read the clock (the caller passes now), lock anything (the
 * caller holds its own mutex), allocate memory (but fe_tqset_init(), once,
 * from the caller's pool), include httpd headers, or touch the caller's
 * struct beyond the embedded fe_tq_node_t.
 */

#include "policy/fe_tq.h"

#ifdef FE_DEBUG
#include <assert.h>
#endif

/* The timeout actually applied: negative values act as 0, also when the
 * caller wrote q->timeout directly instead of going through fe_tq_init. */
static inline apr_interval_time_t tq_timeout(const fe_tq_t *q)
{
    return q->timeout < 0 ? 0 : q->timeout;
}

/* Non-zero when stamp + timeout does not fit in an apr_time_t (timeout is
 * never negative here, so only the upper bound can be crossed). */
static inline int tq_overflows(apr_time_t stamp, apr_interval_time_t timeout)
{
    return stamp > FE_TQ_NEVER - timeout;
}

/* stamp + timeout, saturating at FE_TQ_NEVER. */
static inline apr_time_t tq_due_time(apr_time_t stamp,
                                     apr_interval_time_t timeout)
{
    return tq_overflows(stamp, timeout) ? FE_TQ_NEVER : stamp + timeout;
}

/* Whether the entry stamped @a stamp is due at @a now. */
static inline int tq_is_due(apr_time_t stamp, apr_interval_time_t timeout,
                            apr_time_t now)
{
    /* A due time past the end of apr_time_t is never reached. */
    if (!tq_overflows(stamp, timeout) && stamp + timeout <= now) {
        return 1;
    }
    /* Clock went backwards: stamp lies more than timeout ahead of now.
     * The difference is computed unsigned so that it cannot overflow. */
    if (stamp > now
        && (apr_uint64_t)stamp - (apr_uint64_t)now > (apr_uint64_t)timeout) {
        return 1;
    }
    return 0;
}

/* Forget the links of a node that left its queue.  Debug builds poison
 * them (an address in the never-mapped first page) so that a stale walk
 * faults at once instead of wandering through a live list. */
static inline void tq_clear_links(fe_tq_node_t *n, int keep_next)
{
#ifdef FE_DEBUG
    fe_tq_node_t *const poison = (fe_tq_node_t *)(apr_uintptr_t)0xdead;

    n->prev = poison;
    if (!keep_next) {
        n->next = poison;
    }
#else
    n->prev = NULL;
    if (!keep_next) {
        n->next = NULL;
    }
#endif
    n->q = NULL;
}

void fe_tq_init(fe_tq_t *q, apr_interval_time_t timeout)
{
    q->head = NULL;
    q->tail = NULL;
    q->timeout = timeout < 0 ? 0 : timeout;
    q->count = 0;
    q->settled = NULL;
}

void fe_tq_append(fe_tq_t *q, fe_tq_node_t *n, apr_time_t now)
{
#ifdef FE_DEBUG
    assert(n->q == NULL);
#else
    /* Contract violation; stay consistent rather than corrupt a list. */
    if (n->q != NULL) {
        fe_tq_remove(n);
    }
#endif
    n->stamp = now;
    n->q = q;
    n->next = NULL;
    n->prev = q->tail;
    if (q->tail != NULL) {
        q->tail->next = n;
    }
    else {
        q->head = n;
    }
    q->tail = n;
    q->count++;
}

void fe_tq_remove(fe_tq_node_t *n)
{
    fe_tq_t *q = n->q;

    if (q == NULL) {
        return;
    }
    if (q->settled == n) {
        q->settled = n->prev;           /* the visited prefix shrinks */
    }
    if (n->prev != NULL) {
        n->prev->next = n->next;
    }
    else {
        q->head = n->next;
    }
    if (n->next != NULL) {
        n->next->prev = n->prev;
    }
    else {
        q->tail = n->prev;
    }
    q->count--;
    tq_clear_links(n, 0);
}

int fe_tq_queued(const fe_tq_node_t *n)
{
    return n->q != NULL;
}

apr_time_t fe_tq_next_expiry(const fe_tq_t *q)
{
    if (q->head == NULL) {
        return FE_TQ_NEVER;
    }
    return tq_due_time(q->head->stamp, tq_timeout(q));
}

fe_tq_node_t *fe_tq_expire(fe_tq_t *q, apr_time_t now, int all,
                           unsigned int *count)
{
    apr_interval_time_t timeout = tq_timeout(q);
    fe_tq_node_t *first = q->head;
    fe_tq_node_t *n = first;
    fe_tq_node_t *last = NULL;
    unsigned int expired = 0;
    int settled_gone = 0;

    /* The due entries are a prefix of the list: walk it, then cut it off
     * whole.  The walk stops at the first entry that is not due, so the
     * cost is the number expired (plus one). */
    while (n != NULL && (all || tq_is_due(n->stamp, timeout, now))) {
        last = n;
        n = n->next;
        settled_gone |= last == q->settled;
        tq_clear_links(last, 1);
        expired++;
    }
    if (last == NULL) {
        first = NULL;
    }
    else {
        last->next = NULL;
        q->head = n;
        if (n != NULL) {
            n->prev = NULL;
        }
        else {
            q->tail = NULL;
        }
        q->count -= expired;
        if (settled_gone) {
            q->settled = NULL;          /* the visited prefix expired */
        }
    }
    if (count != NULL) {
        *count = expired;
    }
    return first;
}

static inline fe_tq_node_t *tq_first_unsettled(const fe_tq_t *q)
{
    return q->settled != NULL ? q->settled->next : q->head;
}

fe_tq_node_t *fe_tq_settle(fe_tq_t *q, apr_time_t upto)
{
    fe_tq_node_t *n = tq_first_unsettled(q);

    if (n == NULL || n->stamp > upto) {
        return NULL;
    }
    q->settled = n;
    return n;
}

apr_time_t fe_tq_unsettled_stamp(const fe_tq_t *q)
{
    const fe_tq_node_t *n = tq_first_unsettled(q);

    return n != NULL ? n->stamp : FE_TQ_NEVER;
}

/* ------------------------------------------------------------ sets */

void fe_tqset_init(fe_tqset_t *set, int cap, apr_pool_t *p)
{
    set->qs = apr_pcalloc(p, (apr_size_t)cap * sizeof *set->qs);
    set->n = 0;
    set->cap = cap;
}

fe_tq_t *fe_tqset_get(fe_tqset_t *set, apr_interval_time_t timeout)
{
    int i;

    for (i = 0; i < set->n; i++) {
        if (set->qs[i].timeout == timeout) {
            return &set->qs[i];
        }
    }
    if (set->n == set->cap) {
        return &set->qs[set->n - 1];
    }
    fe_tq_init(&set->qs[set->n], timeout);
    return &set->qs[set->n++];
}

unsigned int fe_tqset_count(const fe_tqset_t *set)
{
    unsigned int n = 0;
    int i;

    for (i = 0; i < set->n; i++) {
        n += set->qs[i].count;
    }
    return n;
}

apr_interval_time_t fe_tq_quantum(apr_interval_time_t wait)
{
    apr_interval_time_t q = FE_TQ_QUANTUM_LINEAR;

    if (wait < FE_TQ_QUANTUM_LINEAR) {
        wait -= wait % FE_TQ_QUANTUM_MIN;
        return wait > FE_TQ_QUANTUM_MIN ? wait : FE_TQ_QUANTUM_MIN;
    }
    while (q <= wait / 5 * 4 && q < ((apr_interval_time_t)1 << 40)) {
        q = q * 5 / 4;
    }
    return q;
}
