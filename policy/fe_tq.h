/**
 * @file fe_tq.h
 * @brief Timeout queues: one FIFO per fixed timeout value.
 *
 * Every queue has a single timeout, so appending at the tail keeps the
 * queue sorted by expiry and expiring is O(number expired): pop from the
 * head until the first entry that is not due.
 *
 * Pure component: APR types only, no httpd headers, no clock reads (the
 * caller passes @a now), no locking (the caller holds its own mutex).
 */
#ifndef FE_TQ_H
#define FE_TQ_H

#include <apr.h>
#include <apr_pools.h>
#include <apr_time.h>

/** Returned by fe_tq_next_expiry() for an empty queue. */
#define FE_TQ_NEVER ((apr_time_t)APR_INT64_MAX)

typedef struct fe_tq fe_tq_t;

/** Link embedded in the caller's connection struct.  Zero it before use. */
typedef struct fe_tq_node {
    struct fe_tq_node *prev;
    struct fe_tq_node *next;
    fe_tq_t *q;              /**< queue it is in, NULL when in none */
    apr_time_t stamp;        /**< time it was appended */
} fe_tq_node_t;

struct fe_tq {
    fe_tq_node_t *head;      /**< oldest entry */
    fe_tq_node_t *tail;      /**< newest entry */
    apr_interval_time_t timeout; /**< >= 0; negative values act as 0 */
    unsigned int count;
    fe_tq_node_t *settled;   /**< newest entry fe_tq_settle() returned
                                  that is still queued; NULL: none */
};

/** Initialise an empty queue with the given timeout. */
void fe_tq_init(fe_tq_t *q, apr_interval_time_t timeout);

/**
 * Append @a n (which must not be in any queue), stamped @a now.  FE_DEBUG
 * builds assert that; other builds unlink it from its old queue first.
 */
void fe_tq_append(fe_tq_t *q, fe_tq_node_t *n, apr_time_t now);

/** Unlink @a n from whatever queue it is in; a no-op when in none. */
void fe_tq_remove(fe_tq_node_t *n);

/** Non-zero when @a n is in a queue. */
int fe_tq_queued(const fe_tq_node_t *n);

/**
 * When the oldest entry falls due: stamp + timeout, saturating at
 * FE_TQ_NEVER on overflow (such an entry never expires by time);
 * FE_TQ_NEVER when empty.
 *
 * This does not know now, so it ignores the clock-went-backwards rule of
 * fe_tq_expire(): after a backwards jump it can lie far in the future
 * although fe_tq_expire() would return the entry at once.  Call
 * fe_tq_expire() first: whatever it leaves is due by now + 2 * timeout.
 */
apr_time_t fe_tq_next_expiry(const fe_tq_t *q);

/**
 * Unlink every due entry and return them as a NULL-terminated chain
 * through ->next, oldest first (their ->q is NULL on return; ->prev is
 * not meaningful).  Read ->next before re-appending a node of the chain.
 *
 * An entry is due when stamp + timeout <= now, or when its stamp lies
 * more than timeout ahead of now (the clock went backwards: the real wait
 * is unknown, so it is treated as expired rather than kept forever; with
 * timeout 0 this means any stamp ahead of now).  The scan stops at the
 * first entry that is not due, so after a small backwards jump a later
 * entry that is due can wait behind an earlier one that is not (for less
 * than two timeouts).
 * With @a all non-zero every entry is returned regardless of time.
 * @a count, when not NULL, receives the number returned.
 */
fe_tq_node_t *fe_tq_expire(fe_tq_t *q, apr_time_t now, int all,
                           unsigned int *count);

/**
 * Settling: a second, independent pass over the same queue that visits
 * every entry once when it has waited long enough for something cheaper
 * than expiry (fastevent gives back an idle connection's free memory).
 * The entries visited are always a prefix of the queue, so a cursor
 * (q->settled) marks where the next visit starts; removing or expiring
 * an entry keeps the cursor valid.
 *
 * Returns the oldest entry not yet visited if it was stamped at or
 * before @a upto, and marks it visited; NULL otherwise.  O(1).
 */
fe_tq_node_t *fe_tq_settle(fe_tq_t *q, apr_time_t upto);

/** Stamp of the oldest entry fe_tq_settle() has not visited yet;
 *  FE_TQ_NEVER when there is none. */
apr_time_t fe_tq_unsettled_stamp(const fe_tq_t *q);

/**
 * A set of timeout queues, one per distinct timeout value (keep-alive
 * connections, say, wait as long as the KeepAliveTimeout of the virtual
 * host that served their last request).  Sized once: the number of
 * distinct values is at most the number of virtual hosts plus one.
 */
typedef struct fe_tqset {
    fe_tq_t *qs;
    int n, cap;
} fe_tqset_t;

/** An empty set with room for @a cap queues (cap >= 1) from @a p. */
void fe_tqset_init(fe_tqset_t *set, int cap, apr_pool_t *p);

/**
 * The queue of @a set for @a timeout, created on first use.  When the set
 * is full (it cannot be when sized as above) the last queue is returned.
 */
fe_tq_t *fe_tqset_get(fe_tqset_t *set, apr_interval_time_t timeout);

/** The entries of every queue of @a set. */
unsigned int fe_tqset_count(const fe_tqset_t *set);

/**
 * Waits of any length in a set of few queues: @a wait rounded down to a
 * multiple of FE_TQ_QUANTUM_MIN below FE_TQ_QUANTUM_LINEAR, above that to
 * a power of 5/4 times FE_TQ_QUANTUM_LINEAR; never below
 * FE_TQ_QUANTUM_MIN.  A connection parked for the quantum of its wait
 * comes out early (never more than a fifth of the wait) and is parked
 * again for what is left, so it is late by less than FE_TQ_QUANTUM_MIN.
 * At most FE_TQ_QUANTA distinct values up to 2^40 us (12.7 days).
 */
apr_interval_time_t fe_tq_quantum(apr_interval_time_t wait);

#define FE_TQ_QUANTUM_MIN    ((apr_interval_time_t)10000)          /* 10 ms */
#define FE_TQ_QUANTUM_LINEAR (256 * FE_TQ_QUANTUM_MIN)             /* 2.56 s */
#define FE_TQ_QUANTA         320

#endif /* FE_TQ_H */
