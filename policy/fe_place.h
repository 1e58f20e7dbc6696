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

/**
 * Whether a child keeps the place fe_place_cpu() gave it: not while other
 * programs use the server's CPUs (@a shared, the parent's measurement for
 * FastEventSchedBatch auto) and the child hands requests to a backend
 * (@a proxying: PHP-FPM through mod_proxy_fcgi, within the last
 * FE_PACE_PROXY_QUIET seconds).  Then the child's work comes and goes
 * with the backend's, which runs anywhere, and a child held on one CPU
 * beside a busy program cannot move to the CPU its sibling left idle:
 * beside one busy loop per CPU, HTTPS requests to PHP-FPM had a p99 of
 * 0.1-1 s placed against event's 0.03 s, and 0.04-0.06 s unplaced (bench
 * tls_fpm50).  Static work keeps its place there (bench tls_ka50: p99
 * 0.44x event's placed, 1.16x unplaced).
 */
int fe_place_keep(int shared, int proxying);

#endif /* FE_PLACE_H */
