/**
 * @file fe_place.h
 * @brief Which CPU a child process runs on (FastEventCPUAffinity auto).
 *
 * When a generation has at least as many children as the server may use
 * CPUs, each child is kept on one CPU: child k (children of the
 * generation counted in slot order, from 0) on CPU k mod N.  A process
 * then never has threads on two CPUs at once, so the kernel sends no TLB
 * shootdown to another CPU when it unmaps memory (Debian's APR maps every
 * allocator node on its own, and the core maps every static file it
 * sends), its wakeups stay on one CPU, and its caches stay warm.  The
 * children left over when the count is not a multiple of N run anywhere,
 * so every CPU carries the same number of pinned children, and the
 * listeners' accept balancing (fe_accept_defer) spreads connections
 * evenly over children.  With fewer children than CPUs nothing is
 * pinned: a child may need more than one CPU.
 *
 * Children keep their places when they hand requests to a backend beside
 * busy programs (PHP-FPM next door) too.  Letting them go there (until
 * 2026-12-08) bought no better tail in the end: left to the kernel, the
 * children's threads and PHP-FPM's workers could gather on one CPU while
 * a busy program had the other, and a listener waited up to 460 ms for
 * its turn; placed, they share the CPUs evenly by construction and use
 * less CPU per request (docs/performance.md, cause 8).
 *
 * Pure component: no httpd headers, no clock, no system calls.
 */
#ifndef FE_PLACE_H
#define FE_PLACE_H

/** A child that may run on any of the server's CPUs. */
#define FE_PLACE_ANY (-1)

/**
 * The rank of child @a self among the children marked in @a live
 * (@a n slots; @a self counts as live whatever live[self] says) and, in
 * *@a count, how many there are.  Ranks follow slot order from 0.
 * Returns FE_PLACE_ANY (and *count 0) when @a self is not in [0, n).
 */
int fe_place_rank(const unsigned char *live, int n, int self, int *count);

/**
 * The CPU (an index into the @a ncpus CPUs the server may use) for the
 * child of rank @a rank among @a nchildren, or FE_PLACE_ANY.  Pinned
 * only when ncpus >= 2 and nchildren >= ncpus, and only the first
 * nchildren - nchildren % ncpus ranks; nonsense arguments give
 * FE_PLACE_ANY.
 */
int fe_place_cpu(int ncpus, int nchildren, int rank);

#endif /* FE_PLACE_H */
