/*
 * test_idlemem.c: unit tests of fe_idlemem.c (an idle connection's free
 * pages given back).
 *
 * Owns: the page arithmetic, and the proof on real APR pools and
 * allocator nodes that exactly the free whole pages are released (they
 * read back as zeros) while the bytes in use are kept, and that the
 * memory stays usable afterwards.
 * Must not: depend on any other component.
 */

#include <string.h>
#include <unistd.h>

#include <apr_allocator.h>
#include <apr_pools.h>

#include "policy/fe_idlemem.h"
#include "fe_test.h"

#define PG ((apr_uintptr_t)4096)

static void test_range(void)
{
    apr_uintptr_t lo = 0, hi = 0;

    /* Used part ends inside the first page: one whole page after it. */
    CU_ASSERT_TRUE(fe_idlemem_range(0x10000 + 100, 0x12000 + 100, PG,
                                    &lo, &hi));
    FE_ASSERT_EQ_U64(lo, 0x11000);
    FE_ASSERT_EQ_U64(hi, 0x12000);
    /* Aligned both ends: all of it. */
    CU_ASSERT_TRUE(fe_idlemem_range(0x10000, 0x12000, PG, &lo, &hi));
    FE_ASSERT_EQ_U64(lo, 0x10000);
    FE_ASSERT_EQ_U64(hi, 0x12000);
    /* Less than a whole page free. */
    CU_ASSERT_FALSE(fe_idlemem_range(0x10010, 0x11ff0, PG, &lo, &hi));
    CU_ASSERT_FALSE(fe_idlemem_range(0x10800, 0x11800, PG, &lo, &hi));
    /* Nothing free, or a bad header. */
    CU_ASSERT_FALSE(fe_idlemem_range(0x12000, 0x12000, PG, &lo, &hi));
    CU_ASSERT_FALSE(fe_idlemem_range(0x13000, 0x12000, PG, &lo, &hi));
    /* Rounding up must not wrap around. */
    CU_ASSERT_FALSE(fe_idlemem_range(~(apr_uintptr_t)0 - 10,
                                     ~(apr_uintptr_t)0, PG, &lo, &hi));
    /* Page sizes that are not powers of two are refused. */
    CU_ASSERT_FALSE(fe_idlemem_range(0x10000, 0x20000, 3000, &lo, &hi));
    CU_ASSERT_FALSE(fe_idlemem_range(0x10000, 0x20000, 0, &lo, &hi));
}

/* All bytes of [a, b) equal c. */
static int all_are(const char *a, const char *b, int c)
{
    for (; a < b; a++) {
        if (*a != (char)c) {
            return 0;
        }
    }
    return 1;
}

/* A pool with little in use gives back its free whole pages; what it
 * holds is untouched; it allocates normally afterwards. */
static void test_trim_pool(void)
{
    apr_allocator_t *a;
    apr_pool_t *p;
    apr_memnode_t *node;
    char *used, *fa;
    apr_uintptr_t lo, hi;
    apr_size_t got;
    long page = sysconf(_SC_PAGESIZE);

    CU_ASSERT_FATAL(apr_allocator_create(&a) == APR_SUCCESS);
    CU_ASSERT_FATAL(apr_pool_create_ex(&p, NULL, NULL, a) == APR_SUCCESS);
    apr_allocator_owner_set(a, p);
    node = (apr_memnode_t *)((char *)p - APR_MEMNODE_T_SIZE);
    used = apr_palloc(p, 200);
    memset(used, 'u', 200);
    fa = node->first_avail;
    /* Dirty the free space as earlier requests would have. */
    memset(fa, 'x', (size_t)(node->endp - fa));
    CU_ASSERT_FATAL(fe_idlemem_range((apr_uintptr_t)fa,
                                     (apr_uintptr_t)node->endp,
                                     (apr_uintptr_t)page, &lo, &hi));
    got = fe_idlemem_trim_pool(p);
    FE_ASSERT_EQ_U64(got, hi - lo);
    CU_ASSERT(got >= (apr_size_t)page);
    CU_ASSERT_TRUE(all_are((char *)lo, (char *)hi, 0));       /* released */
    CU_ASSERT_TRUE(all_are(fa, (char *)lo, 'x'));             /* partial */
    CU_ASSERT_TRUE(all_are(used, used + 200, 'u'));           /* in use */
    CU_ASSERT_PTR_EQUAL(node->first_avail, fa);
    /* Still a working pool: fill the rest of the node and beyond. */
    used = apr_palloc(p, (apr_size_t)(node->endp - node->first_avail));
    memset(used, 'v', 64);
    used = apr_palloc(p, 20000);
    memset(used, 'w', 20000);
    apr_pool_clear(p);
    FE_ASSERT_EQ_U64(fe_idlemem_trim_pool(p) > 0, 1);
    apr_pool_destroy(p);                  /* owner: destroys a as well */
}

/* An object placed at the start of an allocator node, the way APR places
 * an apr_bucket_alloc_t. */
static void test_trim_block(void)
{
    apr_allocator_t *a;
    apr_memnode_t *node;
    char *obj;
    apr_uintptr_t lo, hi;

    CU_ASSERT_FATAL(apr_allocator_create(&a) == APR_SUCCESS);
    node = apr_allocator_alloc(a, 8192 - APR_MEMNODE_T_SIZE);
    CU_ASSERT_FATAL(node != NULL);
    obj = node->first_avail;
    CU_ASSERT_PTR_EQUAL(obj, (char *)node + APR_MEMNODE_T_SIZE);
    node->first_avail += 1500;
    memset(obj, 'o', 1500);
    memset(node->first_avail, 'x', (size_t)(node->endp - node->first_avail));
    if (fe_idlemem_range((apr_uintptr_t)node->first_avail,
                         (apr_uintptr_t)node->endp,
                         (apr_uintptr_t)sysconf(_SC_PAGESIZE), &lo, &hi)) {
        FE_ASSERT_EQ_U64(fe_idlemem_trim_block(obj), hi - lo);
        CU_ASSERT_TRUE(all_are((char *)lo, (char *)hi, 0));
    }
    else {
        FE_ASSERT_EQ_U64(fe_idlemem_trim_block(obj), 0);
    }
    CU_ASSERT_TRUE(all_are(obj, obj + 1500, 'o'));
    /* A node that is not the last of a chain is not the object's own. */
    node->next = node;
    FE_ASSERT_EQ_U64(fe_idlemem_trim_block(obj), 0);
    node->next = NULL;
    apr_allocator_free(a, node);
    apr_allocator_destroy(a);
}

/* Headers that do not look like APR's are left alone. */
static void test_bad_headers(void)
{
    static union {
        apr_memnode_t n;
        char bytes[3 * 4096];
    } buf;
    char *obj = buf.bytes + APR_MEMNODE_T_SIZE;

    memset(&buf, 0, sizeof buf);
    /* first_avail below the object */
    buf.n.first_avail = buf.bytes;
    buf.n.endp = buf.bytes + sizeof buf;
    FE_ASSERT_EQ_U64(fe_idlemem_trim_block(obj), 0);
    /* endp below first_avail */
    buf.n.first_avail = obj + 100;
    buf.n.endp = obj + 50;
    FE_ASSERT_EQ_U64(fe_idlemem_trim_block(obj), 0);
    /* absurd size */
    buf.n.endp = buf.bytes + ((apr_size_t)1 << 30);
    FE_ASSERT_EQ_U64(fe_idlemem_trim_block(obj), 0);
    /* a pool header whose ring does not point back */
    buf.n.endp = buf.bytes + sizeof buf;
    buf.n.next = &buf.n;
    buf.n.ref = NULL;
    FE_ASSERT_EQ_U64(fe_idlemem_trim_pool((apr_pool_t *)obj), 0);
    buf.n.ref = &buf.n.next;
    buf.n.next = NULL;
    FE_ASSERT_EQ_U64(fe_idlemem_trim_pool((apr_pool_t *)obj), 0);
}

int main(int argc, char **argv)
{
    static const fe_test_case_t cases[] = {
        {"page range arithmetic", test_range},
        {"pool: free pages released, data kept", test_trim_pool},
        {"allocator block: the same", test_trim_block},
        {"headers not APR's are left alone", test_bad_headers},
        {NULL, NULL}
    };

    return fe_test_main("idlemem", cases, argc, argv);
}
