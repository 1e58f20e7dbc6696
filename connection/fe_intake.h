/**
 * @file fe_intake.h
 * @brief A worker reads a TLS connection's handshake and request without
 *        blocking (connection/fe_intake.c).
 */
#ifndef FE_INTAKE_H
#define FE_INTAKE_H

#include "mpm_fastevent.h"

/** What fe_intake_step() found. */
typedef enum fe_intake {
    FE_INTAKE_GO,             /**< the request is in (or the core must
                                   answer what came): process it */
    FE_INTAKE_WAIT,           /**< more to come: park (fe_park_intake()) */
    FE_INTAKE_CLOSE           /**< the client left, or the handshake
                                   failed, before any request byte */
} fe_intake_e;

/** 1 when a new connection's request should be read by fe_intake: a TLS
 *  connection mod_ssl set up (pre_connection ran). */
int fe_intake_wanted(conn_rec *c);

/** Put FE_INTAKE on cs's connection and start reading through it. */
void fe_intake_start(fe_conn_t *cs);

/** A TLS keep-alive connection is back with its next request: read it
 *  the same way, its deadlines counted from now. */
void fe_intake_next(fe_conn_t *cs);

/** Worker: read what is there without blocking (the handshake, the head,
 *  a body up to FastEventBodyBuffer). */
fe_intake_e fe_intake_step(fe_conn_t *cs);

/** Register the FE_INTAKE input filter. */
void fe_intake_register_hooks(void);

#endif /* FE_INTAKE_H */
