/**
 * @file fe_kaslot.h
 * @brief Names for connections in the keep-alive poll set, safe to hold
 *        after the connection is gone.
 *
 * A worker takes a ready connection out of the keep-alive poll set
 * (fdqueue/fe_kaset.c) without holding park.mutex, so by the time it
 * locks, the listener may have timed that connection out, closed it and
 * even reused its memory.  The poll set therefore carries a tag, not a pointer: a slot
 * index and the slot's arm generation.  Every arm, disarm, claim and
 * release bumps the generation, so a tag is good for exactly one claim,
 * and only while the arm that made it is the slot's latest.  Slots are
 * never freed while the child runs, so reading one through a stale tag is
 * always safe.
 *
 * The caller serialises every call on one table (park.mutex).
 *
 * Pure component: APR only, no httpd headers, no clock, no system calls.
 */
#ifndef FE_KASLOT_H
#define FE_KASLOT_H

#include <apr_pools.h>

typedef struct fe_kaslot {
    void *owner;                /**< NULL: free */
    apr_uint32_t gen;           /**< bumped by every change */
    apr_uint32_t next_free;     /**< index + 1 of the next free slot */
} fe_kaslot_t;

typedef struct fe_kaslots {
    fe_kaslot_t *slot;
    apr_uint32_t n;
    apr_uint32_t free;          /**< index + 1 of the first free, 0: none */
} fe_kaslots_t;

/** A table of @a n slots (n < 0xfffffff0), allocated from @a p. */
void fe_kaslots_init(fe_kaslots_t *t, apr_uint32_t n, apr_pool_t *p);

/**
 * Arm @a owner: bind it to a slot first when *@a id is 0 (then *id is
 * its slot + 1 until fe_kaslots_release), and return the tag of this arm,
 * never 0.  Returns 0 when no slot is free (*id stays 0).  Earlier tags
 * of the slot stop being claimable.
 */
apr_uint64_t fe_kaslots_arm(fe_kaslots_t *t, apr_uint32_t *id, void *owner);

/** Make every outstanding tag of slot @a id (0: none) unclaimable. */
void fe_kaslots_disarm(fe_kaslots_t *t, apr_uint32_t id);

/** Give slot *@a id back (0: none) and set *id to 0. */
void fe_kaslots_release(fe_kaslots_t *t, apr_uint32_t *id);

/**
 * The owner @a tag was armed for, when that arm is still the slot's latest
 * and unclaimed (then it is used up); else NULL.  Any 64-bit value may be
 * passed.
 */
void *fe_kaslots_claim(fe_kaslots_t *t, apr_uint64_t tag);

#endif
