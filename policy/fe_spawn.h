/**
 * @file fe_spawn.h
 * @brief The parent's process-count policy, one decision per tick.
 *
 * Pure component: no httpd headers.  The parent scans the scoreboard,
 * fills an fe_spawn_in_t and acts on the fe_spawn_plan_t.  The policy is
 * stock event's (§2.5 of the contract brief) with an exponential spawn
 * rate:
 *  - too many idle threads (idle > max_spare) and room for the connections
 *    (below): retire one process, but only
 *    when no process is still stopping (active == total) or more than
 *    active_daemons_limit slots are free, and (unlike stock event) only
 *    when the other processes could hold the connections with a quarter
 *    of their room to spare: conns <= (active - 1) x conns_per_daemon x
 *    3/4 (no guard when conns_per_daemon <= 0).  Idle threads are normal
 *    with many keep-alive connections and short requests; retiring a
 *    process there closes its connections and sends them to the others,
 *    which then need a new process.  Rate back to 1 either way;
 *  - too few idle threads (idle < min_spare):
 *      - busy threads >= max_workers: warn FE_SPAWN_WARN_MAXWORKERS (no idle
 *        at all) or FE_SPAWN_WARN_NEAR_MAX (within MinSpareThreads);
 *        rate 1;
 *      - else no free scoreboard slot: warn FE_SPAWN_WARN_SB_FULL; rate 1;
 *      - else spawn min(free_slots, rate, active_daemons_limit -
 *        active_daemons) processes; when that is 0 (at the cap) rate 1 and
 *        hold_off + 1; when the rate is >= 8 warn FE_SPAWN_WARN_BUSY; then
 *        if hold_off > 0 decrement it, else double the rate up to
 *        max_rate;
 *  - enough idle threads (idle >= min_spare) but short of connection
 *    room: the active processes' accept limits add up to less than 8/7
 *    of the connections they hold (conns x 8 > active x conns_per_daemon
 *    x 7) below active_daemons_limit: spawn as many processes as bring
 *    the room back above that, at most min(free_slots, max_rate,
 *    active_daemons_limit - active_daemons); no warning, rate 1, no
 *    retire.  Short requests on many keep-alive connections leave most
 *    workers idle, so the idle count alone never asks for the processes
 *    that would accept them, and they wait in the kernel's backlog.  The
 *    retire guard (3/4 of the others' room) keeps the two rules apart;
 *  - otherwise, with too many idle threads, retire as above;
 *  - otherwise rate back to 1.
 *
 * Notes for the caller (fe_spawn.c implements the rules above):
 *  - at the cap the hold_off + 1 and the decrement cancel: hold_off comes
 *    back unchanged, the rate is 1 and BUSY is not reported;
 *  - NEAR_MAX is only reachable if busy_threads counts the way stock
 *    event's "active" count does (ready *and* busy workers, status from
 *    SERVER_READY up to but excluding SERVER_GRACEFUL).  With strictly busy
 *    workers, busy >= max_workers implies idle == 0;
 *  - with several listener buckets pass per-bucket min_spare, max_spare,
 *    max_workers and max_rate (each divided by the bucket count), as event
 *    does; free_slots feeds both the spawn count and the retire test
 *    (event uses ServerLimit - total_daemons there);
 *  - warnings come every tick the condition holds: the glue logs
 *    MAXWORKERS/NEAR_MAX once (a retained flag); tags FE10050..FE10053;
 *  - negative counts are read as 0, total_daemons below active_daemons as
 *    active_daemons, and a retire is never planned with no active process.
 */
#ifndef FE_SPAWN_H
#define FE_SPAWN_H

#define FE_SPAWN_MAX_RATE 32

enum {
    FE_SPAWN_WARN_NONE = 0,
    FE_SPAWN_WARN_MAXWORKERS, /**< every worker busy at MaxRequestWorkers */
    FE_SPAWN_WARN_NEAR_MAX,   /**< idle < MinSpareThreads at the limit */
    FE_SPAWN_WARN_SB_FULL,    /**< no free slot below ServerLimit */
    FE_SPAWN_WARN_BUSY        /**< spawning at a high rate */
};

typedef struct fe_spawn_in {
    int idle_threads;     /**< idle workers of accepting current-gen procs */
    int busy_threads;     /**< busy workers (any generation, not dead) */
    int free_slots;       /**< scoreboard slots with no process */
    int active_daemons;   /**< processes not stopping */
    int total_daemons;    /**< all live processes, stopping included */
    int active_daemons_limit; /**< MaxRequestWorkers / ThreadsPerChild */
    int min_spare;        /**< MinSpareThreads */
    int max_spare;        /**< MaxSpareThreads */
    int max_workers;      /**< MaxRequestWorkers */
    int max_rate;         /**< rate cap, FE_SPAWN_MAX_RATE normally */
    int rate;             /**< current spawn rate, >= 1 */
    int hold_off;         /**< ticks to wait before doubling again */
    int conns;            /**< connections held by active processes (not
                               lingering), for the retire guard */
    int conns_per_daemon; /**< connections one process takes (its accept
                               limit); 0: no retire guard */
} fe_spawn_in_t;

typedef struct fe_spawn_plan {
    int spawn;            /**< processes to start now, >= 0 */
    int retire_one;       /**< 1: gracefully stop one process */
    int rate;             /**< the new spawn rate */
    int hold_off;         /**< the new hold_off */
    int warn;             /**< FE_SPAWN_WARN_* */
} fe_spawn_plan_t;

/** Decide this tick's action; never fails, tolerates nonsense input. */
void fe_spawn_decide(const fe_spawn_in_t *in, fe_spawn_plan_t *plan);

/**
 * Every listener bucket keeps a process to accept its connections (the
 * kernel hands each bucket's socket its share of new connections, which
 * nobody else takes).  With @a bucket_daemons processes serving the
 * bucket (not stopping): a planned retire that would leave none is
 * dropped; with none, and no spawn planned, one is started when a slot is
 * free (@a free_slots) and the process limit has room (@a room).
 */
void fe_spawn_keep_bucket(fe_spawn_plan_t *plan, int bucket_daemons,
                          int free_slots, int room);

#endif /* FE_SPAWN_H */
