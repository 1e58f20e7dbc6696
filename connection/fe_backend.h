/**
 * @file fe_backend.h
 * @brief A saturated backend gets at most a share of a child's workers
 *        (connection/fe_backend.c).
 */
#ifndef FE_BACKEND_H
#define FE_BACKEND_H

/** The handler hook that paces proxied requests. */
void fe_backend_register_hooks(void);

#endif /* FE_BACKEND_H */
