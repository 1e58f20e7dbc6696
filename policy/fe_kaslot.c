/*
 * fe_kaslot.c: the slot table of the keep-alive poll set (fe_kaslot.h).
 *
 * Owns: the slots, their generations and the free list.
 * Must not: include httpd headers, read the clock, make system calls, or
 * dereference an owner.
 */
#include "policy/fe_kaslot.h"

void fe_kaslots_init(fe_kaslots_t *t, apr_uint32_t n, apr_pool_t *p)
{
    apr_uint32_t i;

    t->slot = n > 0 ? apr_pcalloc(p, n * sizeof *t->slot) : NULL;
    t->n = n;
    for (i = 0; i < n; i++) {
        t->slot[i].next_free = i + 1 < n ? i + 2 : 0;
    }
    t->free = n > 0 ? 1 : 0;
}

static inline apr_uint64_t kaslot_tag(const fe_kaslots_t *t, apr_uint32_t i)
{
    return ((apr_uint64_t)t->slot[i].gen << 32) | i;
}

apr_uint64_t fe_kaslots_arm(fe_kaslots_t *t, apr_uint32_t *id, void *owner)
{
    fe_kaslot_t *s;

    if (*id == 0) {
        if (t->free == 0) {
            return 0;
        }
        *id = t->free;
        s = &t->slot[*id - 1];
        t->free = s->next_free;
        s->owner = owner;
        s->next_free = 0;
    }
    s = &t->slot[*id - 1];
    if (++s->gen == 0) {
        s->gen = 1;             /* keeps every tag non-zero */
    }
    return kaslot_tag(t, *id - 1);
}

void fe_kaslots_disarm(fe_kaslots_t *t, apr_uint32_t id)
{
    if (id != 0) {
        t->slot[id - 1].gen++;
    }
}

void fe_kaslots_release(fe_kaslots_t *t, apr_uint32_t *id)
{
    fe_kaslot_t *s;

    if (*id == 0) {
        return;
    }
    s = &t->slot[*id - 1];
    s->owner = NULL;
    s->gen++;
    s->next_free = t->free;
    t->free = *id;
    *id = 0;
}

void *fe_kaslots_claim(fe_kaslots_t *t, apr_uint64_t tag)
{
    apr_uint32_t i = (apr_uint32_t)(tag & 0xffffffffu);
    fe_kaslot_t *s;

    if (i >= t->n) {
        return NULL;
    }
    s = &t->slot[i];
    if (s->owner == NULL || s->gen != (apr_uint32_t)(tag >> 32)) {
        return NULL;
    }
    s->gen++;                   /* used up */
    return s->owner;
}
