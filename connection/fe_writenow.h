/**
 * @file fe_writenow.h
 * @brief Small responses are written before the handler returns
 *        (connection/fe_writenow.c).
 */
#ifndef FE_WRITENOW_H
#define FE_WRITENOW_H

#include "mpm_fastevent.h"

/** The FE_WRITE_NOW filter and the fixups hook that arms it. */
void fe_writenow_register(void);
/** Pre-connection: add the filter to a client connection we run. */
void fe_writenow_add(conn_rec *c, fe_conn_t *cs);
/** Write completion: pass on whatever the filter holds. */
apr_status_t fe_writenow_release(conn_rec *c);
/** A protocol switch: pass on what is held, and everything from now on. */
void fe_writenow_off(conn_rec *c);

#endif /* FE_WRITENOW_H */
