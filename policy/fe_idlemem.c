/*
 * fe_idlemem.c: give back the free pages of an idle connection's memory
 * (see fe_idlemem.h).
 *
 * Owns: finding the APR memory node an object was placed at the start of,
 * the checks that it really is one, and the page arithmetic.
 *
 * Must not: include httpd headers, read the clock, lock anything, or
 * touch memory below a node's first_avail (that is the connection's).
 */

#include <sys/mman.h>
#include <unistd.h>

#include "policy/fe_idlemem.h"

/* A connection pool's first node is 8 KiB; anything this large is not
 * what we expect to find and is left alone. */
#define FE_IDLEMEM_NODE_MAX ((apr_size_t)1 << 20)

int fe_idlemem_range(apr_uintptr_t first_avail, apr_uintptr_t endp,
                     apr_uintptr_t page, apr_uintptr_t *lo,
                     apr_uintptr_t *hi)
{
    apr_uintptr_t a, b;

    if (page == 0 || (page & (page - 1)) != 0 || endp <= first_avail) {
        return 0;
    }
    a = (first_avail + page - 1) & ~(page - 1);
    b = endp & ~(page - 1);
    if (a < first_avail || b <= a) {    /* wrapped, or no whole page */
        return 0;
    }
    *lo = a;
    *hi = b;
    return 1;
}

static apr_uintptr_t fe_idlemem_page(void)
{
    static apr_uintptr_t page;

    if (page == 0) {
        long v = sysconf(_SC_PAGESIZE);

        page = v > 0 ? (apr_uintptr_t)v : 4096;
    }
    return page;
}

/* The node @a obj was placed right after, if its header is consistent
 * with that: first_avail above obj, endp above first_avail, sane size. */
static apr_memnode_t *fe_idlemem_node_of(void *obj)
{
#if APR_POOL_DEBUG
    /* Pools are plain allocations there, with no node in front. */
    (void)obj;
    return NULL;
#else
    apr_memnode_t *node = (apr_memnode_t *)((char *)obj - APR_MEMNODE_T_SIZE);

    if (node->first_avail <= (char *)obj || node->endp < node->first_avail
        || (apr_size_t)(node->endp - (char *)node) > FE_IDLEMEM_NODE_MAX) {
        return NULL;
    }
    return node;
#endif
}

static apr_size_t fe_idlemem_release(const apr_memnode_t *node)
{
    apr_uintptr_t lo, hi;

    if (!fe_idlemem_range((apr_uintptr_t)node->first_avail,
                          (apr_uintptr_t)node->endp, fe_idlemem_page(),
                          &lo, &hi)) {
        return 0;
    }
    if (madvise((void *)lo, (size_t)(hi - lo), MADV_DONTNEED) != 0) {
        return 0;
    }
    return (apr_size_t)(hi - lo);
}

apr_size_t fe_idlemem_trim_pool(apr_pool_t *p)
{
    apr_memnode_t *node = fe_idlemem_node_of(p);

    /* A pool's nodes form a ring through next/ref: *ref points back at
     * the node itself.  APR_POOL_DEBUG builds place pools elsewhere and
     * fail this check. */
    if (node == NULL || node->next == NULL || node->ref == NULL
        || *node->ref != node) {
        return 0;
    }
    return fe_idlemem_release(node);
}

apr_size_t fe_idlemem_trim_block(void *obj)
{
    apr_memnode_t *node = fe_idlemem_node_of(obj);

    /* The bucket allocator's own node is the last of its block chain. */
    if (node == NULL || node->next != NULL) {
        return 0;
    }
    return fe_idlemem_release(node);
}

