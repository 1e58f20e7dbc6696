/**
 * @file fe_kaset.h
 * @brief The keep-alive poll set (fdqueue/fe_kaset.c): an epoll set of
 *        idle keep-alive sockets, armed one-shot, that idle workers wait
 *        on themselves.
 *
 * Events carry the caller's 64-bit tags (connection/fe_park.c's slot
 * table), never pointers.  Every function is a no-op (or fails) when the
 * set is off: ch->ka.ep < 0.
 */
#ifndef FE_KASET_H
#define FE_KASET_H

#include "mpm_fastevent.h"

/** Most events the listener takes in one harvest. */
#define FE_KASET_BATCH 64

/** Create the set (ch->ka; cleaned up with pruntime).  On failure it logs
 *  why and leaves ch->ka.ep -1: the listener watches every connection. */
apr_status_t fe_kaset_setup(fe_child_t *ch);

/** Pre-condition: park.mutex held.  Arm socket @a fd to report @a tag
 *  once; *@a reg says whether it is registered already (kept up to date).
 *  0 when armed, -1 when the caller must park it elsewhere. */
int fe_kaset_arm(fe_child_t *ch, int fd, apr_uint64_t tag,
                 unsigned char *reg);

/** Pre-condition: park.mutex held.  Drop the registration of @a fd. */
void fe_kaset_disarm(fe_child_t *ch, int fd, unsigned char *reg);

/** Listener, once the child stops: the tags of up to @a max connections
 *  ready now (never blocks). */
int fe_kaset_harvest(fe_child_t *ch, apr_uint64_t *tags, int max);

/** Wake one waiting worker, if any: the worker queue has an entry. */
void fe_kaset_kick(fe_child_t *ch);

/** The child stops: every waiter leaves the set for good (ka.listener). */
void fe_kaset_leave(fe_child_t *ch);

/** Why fe_kaset_wait() returned. */
typedef enum fe_kaset_wake {
    FE_KASET_READY,       /**< a connection is ready: *tag */
    FE_KASET_KICKED,      /**< the worker queue has an entry */
    FE_KASET_AGAIN,       /**< timeout or signal: look around, wait again */
    FE_KASET_STOPPING,    /**< the child stops: wait in the queue now */
    FE_KASET_FAILED       /**< the set cannot be waited on (logged) */
} fe_kaset_wake_e;

/** Worker: wait (up to a safety timeout) for the set. */
fe_kaset_wake_e fe_kaset_wait(fe_child_t *ch, apr_uint64_t *tag);

#endif /* FE_KASET_H */
