/*
 * mod_fe_childinit.c: TEST ONLY.  A module whose child_init fails, as a
 * module does when a resource it needs in every child is missing: it logs
 * why and makes the child exit with the status httpd's MPMs read as "a
 * resource shortage" (APEXIT_CHILDSICK).  t/dropin/run.py checks that the
 * parent then gives up with a clear message instead of respawning
 * children for ever.  Never load this outside the test suite.
 *
 *   FeTestChildInitExit 7       exit status of every child (7: APEXIT_CHILDSICK)
 */
#include <stdlib.h>

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "mpm_common.h"

module AP_MODULE_DECLARE_DATA fe_childinit_module;

static int fe_exit_status;      /* 0: do nothing */

static const char *fe_cmd_exit(cmd_parms *cmd, void *dummy, const char *arg)
{
    fe_exit_status = atoi(arg);
    return NULL;
}

static int fe_pre_config(apr_pool_t *pconf, apr_pool_t *plog,
                         apr_pool_t *ptemp)
{
    fe_exit_status = 0;
    return OK;
}

static void fe_child_init(apr_pool_t *p, server_rec *s)
{
    if (fe_exit_status != 0) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s,
                     "mod_fe_childinit: child_init fails on purpose (exit %d)",
                     fe_exit_status);
        exit(fe_exit_status);
    }
}

static void fe_register_hooks(apr_pool_t *p)
{
    ap_hook_pre_config(fe_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(fe_child_init, NULL, NULL, APR_HOOK_MIDDLE);
}

static const command_rec fe_cmds[] = {
    AP_INIT_TAKE1("FeTestChildInitExit", fe_cmd_exit, NULL, RSRC_CONF,
                  "exit status every child exits with from child_init"),
    { NULL }
};

AP_DECLARE_MODULE(fe_childinit) = {
    STANDARD20_MODULE_STUFF,
    NULL, NULL, NULL, NULL,
    fe_cmds,
    fe_register_hooks
};
