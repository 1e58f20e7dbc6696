/*
 * fuzz_util.h: shared scaffolding of the libFuzzer harnesses in fuzz/
 * (docs/hardening.md): a byte reader that never reads past the input and
 * pads with zeros, and FZ_CHECK(), which prints the violated invariant and
 * abort()s so that libFuzzer saves the input as a crash artifact.
 *
 * Harnesses are built with clang -fsanitize=fuzzer,address,undefined and
 * linked with the pure sources (fe_*.c of PURE_SRCS) and APR only.
 */
#ifndef FUZZ_UTIL_H
#define FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <apr_general.h>
#include <apr_pools.h>

/* Print the failed invariant (and the harness's context line, if any)
 * and abort: libFuzzer then writes crash-<sha1> with the input. */
#define FZ_CHECK(cond, ...) do {                                            \
    if (!(cond)) {                                                          \
        fprintf(stderr, "\nFUZZ INVARIANT VIOLATED at %s:%d: %s\n  ",       \
                __FILE__, __LINE__, #cond);                                 \
        fprintf(stderr, __VA_ARGS__);                                       \
        fputc('\n', stderr);                                                \
        abort();                                                            \
    }                                                                       \
} while (0)

typedef struct fz_reader {
    const uint8_t *p;
    size_t n;
} fz_reader_t;

static inline void fz_init(fz_reader_t *r, const uint8_t *data, size_t size)
{
    r->p = data;
    r->n = size;
}

static inline int fz_empty(const fz_reader_t *r)
{
    return r->n == 0;
}

/* Up to @a len bytes into @a out, zero-padded when the input runs out. */
static inline void fz_bytes(fz_reader_t *r, void *out, size_t len)
{
    size_t k = r->n < len ? r->n : len;

    memset(out, 0, len);
    if (k) {
        memcpy(out, r->p, k);
    }
    r->p += k;
    r->n -= k;
}

static inline uint8_t fz_u8(fz_reader_t *r)
{
    uint8_t v;

    fz_bytes(r, &v, sizeof(v));
    return v;
}

static inline uint16_t fz_u16(fz_reader_t *r)
{
    uint16_t v;

    fz_bytes(r, &v, sizeof(v));
    return v;
}

static inline uint32_t fz_u32(fz_reader_t *r)
{
    uint32_t v;

    fz_bytes(r, &v, sizeof(v));
    return v;
}

static inline uint64_t fz_u64(fz_reader_t *r)
{
    uint64_t v;

    fz_bytes(r, &v, sizeof(v));
    return v;
}

/* An int that is usually small (so that the interesting comparisons
 * happen) but can be anything: one selector byte, then the value. */
static inline int fz_int(fz_reader_t *r)
{
    uint8_t sel = fz_u8(r);

    switch (sel & 3) {
    case 0:  return (int8_t)fz_u8(r);
    case 1:  return (int16_t)fz_u16(r);
    case 2:  return (int)(fz_u16(r) % 2048);
    default: return (int)fz_u32(r);
    }
}

/* An unsigned int, same idea. */
static inline unsigned int fz_uint(fz_reader_t *r)
{
    uint8_t sel = fz_u8(r);

    switch (sel & 3) {
    case 0:  return fz_u8(r);
    case 1:  return fz_u16(r);
    case 2:  return fz_u16(r) % 2048u;
    default: return fz_u32(r);
    }
}

/* A double: usually a decimal-looking value, sometimes raw bits (NaN,
 * infinities, negatives, denormals). */
static inline double fz_double(fz_reader_t *r)
{
    uint8_t sel = fz_u8(r);
    uint64_t bits;
    double d;

    switch (sel & 3) {
    case 0:  return fz_u8(r) / 8.0;
    case 1:  return fz_u16(r) / 100.0;
    case 2:  return (double)(int16_t)fz_u16(r);
    default:
        bits = fz_u64(r);
        memcpy(&d, &bits, sizeof(d));
        return d;
    }
}

/* A 64-bit time/interval: small, near the extremes, or anything. */
static inline int64_t fz_i64(fz_reader_t *r)
{
    uint8_t sel = fz_u8(r);

    switch (sel & 3) {
    case 0:  return (int64_t)(int8_t)fz_u8(r);
    case 1:  return (int64_t)fz_u16(r) * 1000;
    case 2:  return (sel & 4) ? INT64_MAX - (int64_t)fz_u16(r)
                              : INT64_MIN + (int64_t)fz_u16(r);
    default: return (int64_t)fz_u64(r);
    }
}

/* The APR root pool of the harnesses that need one, created at first use
 * (their LLVMFuzzerInitialize calls it, so APR starts before any input). */
static inline apr_pool_t *fz_apr_root(void)
{
    static apr_pool_t *root;

    if (root == NULL && (apr_initialize() != APR_SUCCESS
                         || apr_pool_create(&root, NULL) != APR_SUCCESS)) {
        abort();
    }
    return root;
}

#endif /* FUZZ_UTIL_H */
