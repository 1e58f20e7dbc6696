/**
 * @file fe_idlemem.h
 * @brief Give back the free pages of an idle connection's memory.
 *
 * An idle keep-alive connection keeps two APR memory nodes of 8 KiB: its
 * pool's first node (conn_rec, filters, socket: about 3.3 KiB used) and
 * its bucket allocator's (about 1.5 KiB used).  Every page of them was
 * written by its first request, so all of them stay resident, although
 * only the part below each node's first_avail holds anything.  The whole
 * pages above first_avail are free space of the node: APR hands them out
 * later as uninitialised memory, so they can be returned to the kernel
 * (MADV_DONTNEED) and come back zero-filled on the next use.  Nothing
 * moves and no pointer changes.  Debian's APR maps every node on its own
 * (page-aligned), so that is the second page of both nodes: an idle
 * connection keeps 8 KiB instead of 16.  Where APR takes nodes from
 * malloc they start anywhere in a page, and less is given back.
 *
 * Only for memory no other thread uses meanwhile: fastevent trims
 * connections parked in keep-alive, which only the listener can take out
 * of the pollset.
 *
 * Pure component: APR and libc only, no httpd headers, no clock.
 */
#ifndef FE_IDLEMEM_H
#define FE_IDLEMEM_H

#include <apr_allocator.h>
#include <apr_pools.h>

/**
 * The whole pages inside [first_avail, endp) with page size @a page (a
 * power of two): sets [*lo, *hi) and returns 1, or returns 0 when there
 * is no whole page.
 */
int fe_idlemem_range(apr_uintptr_t first_avail, apr_uintptr_t endp,
                     apr_uintptr_t page, apr_uintptr_t *lo,
                     apr_uintptr_t *hi);

/**
 * Release the free whole pages of the node pool @a p was created in (its
 * first node).  Returns the bytes released; 0 when there were none, or
 * when the node's header does not look like APR's (a debug APR build):
 * then nothing is touched.
 */
apr_size_t fe_idlemem_trim_pool(apr_pool_t *p);

/**
 * The same for an object APR placed at the start of a node taken straight
 * from an allocator, such as an apr_bucket_alloc_t.
 */
apr_size_t fe_idlemem_trim_block(void *obj);

#endif /* FE_IDLEMEM_H */
