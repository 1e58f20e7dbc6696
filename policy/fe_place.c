/*
 * fe_place.c: the CPU placement rule of the children (see fe_place.h).
 */
#include "policy/fe_place.h"

#include <stddef.h>

int fe_place_rank(const unsigned char *live, int n, int self, int *count)
{
    int i, rank = 0, total = 0;

    *count = 0;
    if (live == NULL || self < 0 || self >= n) {
        return FE_PLACE_ANY;
    }
    for (i = 0; i < n; i++) {
        if (i == self || live[i]) {
            rank += i < self;
            total++;
        }
    }
    *count = total;
    return rank;
}

int fe_place_cpu(int ncpus, int nchildren, int rank)
{
    int pinned;

    if (ncpus < 2 || nchildren < ncpus || rank < 0 || rank >= nchildren) {
        return FE_PLACE_ANY;
    }
    pinned = nchildren - nchildren % ncpus;
    return rank < pinned ? rank % ncpus : FE_PLACE_ANY;
}
