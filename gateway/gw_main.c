/*
 * gw_main.c - junction: start-up, the main loop, signals, shutdown.
 *
 * Start-up order: parameters (tables, file, stored values, flags) ->
 * logging -> store (migrations) -> first-start admin user -> routing table
 * -> MI commands -> writer, core and worker-pool threads -> adapters ->
 * connectors -> recovery of queued messages -> HTTP and the MI socket.
 * The main thread then runs a libevent loop for signals and the MI socket.
 *
 * Shutdown (SIGTERM/SIGINT): stop accepting, let the store commit what it
 * holds (so every accepted message is answered), stop the adapters (they
 * drain and unbind), stop the worker pool (it runs what it holds), close
 * connectors, stop the core and the writer.
 * SIGHUP re-reads routes and connectors from the database.
 * Under systemd (Type=notify, docs/junction.service) the manager hears
 * READY=1 once everything listens, RELOADING=1 / READY=1 around a SIGHUP
 * reload and STOPPING=1 at shutdown (gw_notify.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <event2/event.h>
#include <event2/thread.h>

#include "../db/db.h"
#include "gw_route.h"
#include "../webui/web.h"
#include "gw_adapter.h"
#include "gw_addr.h"
#include "gw_auth.h"
#include "gw_config.h"
#include "gw_core.h"
#include "gw_diag.h"
#include "gw_errors.h"
#include "gw_log.h"
#include "gw_mi.h"
#include "gw_notify.h"
#include "gw_trace.h"
#include "gw_version.h"
#include "gw_work.h"

static struct event_base *gw_main_base;

static void gw_main_usage(FILE *f)
{
    fprintf(f, "usage: junction [-c FILE] [-o name=value]... [-t] [-l] [-V]\n"
               "  -c FILE        configuration file (libconfig syntax) over the embedded defaults\n"
               "  -o name=value  set one parameter (after the file); repeatable\n"
               "  -t             check the configuration and exit\n"
               "  -l             list every parameter with its default and exit\n"
               "  -V             print the version and exit\n");
}

static void gw_main_print_param(const gw_param_t *p, void *arg)
{
    char v[512];

    (void)arg;
    gw_param_get(p, v, sizeof(v));
    printf("%-24s %-24s %s%s\n", p->name, v, p->help ? p->help : "",
           p->flags & GW_PARAM_RUNTIME ? " (runtime)" : "");
}

static void gw_main_register_adapter(const gw_adapter_t *a, void *arg)
{
    int *rc = arg;

    if (a->params && gw_params_register(a->params) != 0)
        *rc = GW_EINVAL;
}

static void gw_main_register_mi(const gw_adapter_t *a, void *arg)
{
    int *rc = arg;

    if (a->mi_cmds && gw_mi_register(a->mi_cmds) != 0)
        *rc = GW_EEXIST;
}

static void gw_main_init_adapter(const gw_adapter_t *a, void *arg)
{
    int *rc = arg;

    if (*rc == 0 && a->init && a->init(gw_main_base) != 0) {
        GW_ERR("main", "adapter %s failed to initialise", a->name);
        *rc = GW_ERROR;
    }
}

static void gw_main_start_adapter(const gw_adapter_t *a, void *arg)
{
    int *rc = arg;

    if (*rc == 0 && a->start && a->start() != 0) {
        GW_ERR("main", "adapter %s failed to start", a->name);
        *rc = GW_ERROR;
    }
}

static void gw_main_stop_adapter(const gw_adapter_t *a, void *arg)
{
    (void)arg;
    if (a->stop)
        a->stop();
}

static void gw_main_destroy_adapter(const gw_adapter_t *a, void *arg)
{
    (void)arg;
    if (a->destroy)
        a->destroy();
}

/* Stored runtime values (params.set) win over the file; flags win over
 * both, so they are applied again afterwards by the caller. */
static void gw_main_apply_stored_params(void)
{
    json_t *stored = db_params_list(), *v;
    const gw_param_t *p;
    const char *name;
    char err[256];

    json_object_foreach(stored, name, v) {
        p = gw_param_find(name);
        if (p && (p->flags & GW_PARAM_RUNTIME) && json_is_string(v) &&
            gw_param_set(p, json_string_value(v), err, sizeof(err)) != 0)
            GW_WARN("main", "stored parameter ignored: %s", err);
    }
    json_decref(stored);
}

/* Write pass into path, readable by its owner only (0600, replaced if it
 * is there).  0 or GW_ERROR (logged). */
static int gw_main_write_secret(const char *path, const char *pass)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    size_t len = strlen(pass);
    int rc = GW_OK;

    if (fd < 0) {
        GW_ERR("main", "%s: %s", path, strerror(errno));
        return GW_ERROR;
    }
    if (fchmod(fd, 0600) != 0 || write(fd, pass, len) != (ssize_t)len || write(fd, "\n", 1) != 1 ||
        fsync(fd) != 0) {
        GW_ERR("main", "%s: %s", path, strerror(errno));
        rc = GW_ERROR;
    }
    close(fd);
    return rc;
}

/* The first start makes the admin user with a random password, which goes
 * to a file beside the database (mode 0600), named on stdout: never
 * printed, so it stays out of terminals, logs and CI output. */
static int gw_main_first_start(void)
{
    unsigned char raw[12];
    char pass[2 * sizeof(raw) + 1], path[sizeof gw_config.db_path + 32], *slash;
    int rc;

    if (db_users_count() != 0)
        return GW_OK;
    randombytes_buf(raw, sizeof(raw));
    sodium_bin2hex(pass, sizeof(pass), raw, sizeof(raw));
    snprintf(path, sizeof path, "%s", gw_config.db_path);
    slash = strrchr(path, '/');
    snprintf(slash ? slash + 1 : path, sizeof path - (size_t)(slash ? slash + 1 - path : 0),
             "admin-password");
    rc = gw_main_write_secret(path, pass);
    if (rc == 0)
        rc = db_user_add(gw_config.admin_user, pass, "admin", 1); /* the first login changes it */
    sodium_memzero(pass, sizeof pass);
    if (rc != 0)
        return rc;
    printf("first start: created web UI / MI user \"%s\"; its password is in %s (mode 0600)\n",
           gw_config.admin_user, path);
    return GW_OK;
}

static void gw_main_on_signal(evutil_socket_t sig, short what, void *arg)
{
    json_t *resp, *e;

    (void)what;
    (void)arg;
    if (sig == SIGHUP) {
        /* through the MI, so gw_mi_lock serialises it with MI reloads */
        GW_INFO("main", "SIGHUP: reloading routes and connectors from the database");
        gw_notify_reloading();
        resp = gw_mi_call("system.reload", NULL);
        gw_notify("READY=1");
        e = json_object_get(resp, "error");
        if (e)
            GW_ERR("main", "%s", json_string_value(json_object_get(e, "message")));
        json_decref(resp);
        return;
    }
    GW_INFO("main", "%s: shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    gw_notify("STOPPING=1");
    event_base_loopbreak(gw_main_base);
}

/* The text of parameter name into buf ("" when there is none). */
static const char *gw_main_param_text(const char *name, char *buf, size_t len)
{
    const gw_param_t *p = gw_param_find(name);

    buf[0] = '\0';
    if (p != NULL)
        gw_param_get(p, buf, len);
    return buf;
}

static void gw_main_print_listeners(void)
{
    /* host, port, what, scheme; a row whose port is 0 or whose switch
     * (the fifth) is off is not listening; an empty host is http.listen's */
    const char *rows[][5] = {
        { "sip.listen", "sip.port", "SIP (UDP and TCP)", "", NULL },
        { "sip.listen6", "sip.port", "SIP over IPv6", "", NULL },
        { "sip.listen", "sip.tls_port", "SIP over TLS", "", NULL },
        { "smpp.listen", "smpp.port", "SMPP server", "", NULL },
        { "http.listen", "http.port", "web UI and MI (POST /mi)", "http://", "http.enabled" },
        { "http.tls_listen", "http.tls_port", "web UI and MI over HTTPS", "https://", NULL },
    };
    char host[128], port[16], on[16];
    size_t i;

    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        gw_main_param_text(rows[i][1], port, sizeof(port));
        if (port[0] == '\0' || strcmp(port, "0") == 0)
            continue;
        if (rows[i][4] && strcmp(gw_main_param_text(rows[i][4], on, sizeof(on)), "yes") != 0)
            continue;
        if (gw_main_param_text(rows[i][0], host, sizeof(host))[0] == '\0') {
            if (strcmp(rows[i][0], "sip.listen6") == 0)
                continue; /* no IPv6 address beside sip.listen */
            gw_main_param_text("http.listen", host, sizeof(host));
        }
        printf(strchr(host, ':') ? "  %-26s %s[%s]:%s\n" : "  %-26s %s%s:%s\n", rows[i][2],
               rows[i][3], host, port);
    }
    printf("  %-26s %s\n  %-26s %s\n", "MI socket (junctionctl)", gw_config.mi_socket, "database",
           gw_config.db_path);
    fflush(stdout);
}

/* Parse flags and parameters; returns 1 to exit 0 now, 0 to go on, < 0 on
 * error (already reported). */
static int gw_main_config(int argc, char **argv)
{
    const char *file = NULL;
    char err[512];
    int opt, check = 0, list = 0, rc = 0, i;

    if (gw_params_register(gw_config_params) != 0 || gw_params_register_hooks(gw_config_hooks) != 0 ||
        gw_params_register(gw_addr_params) != 0 || gw_params_register(db_params) != 0 ||
        gw_params_register(web_params) != 0 || gw_params_register(gw_trace_params) != 0 ||
        gw_params_register(gw_auth_params) != 0 || gw_params_register(gw_diag_params) != 0 ||
        gw_params_register(gw_work_params) != 0)
        return GW_EINVAL;
    gw_adapters_foreach(gw_main_register_adapter, &rc);
    if (rc != 0)
        return rc;
    while ((opt = getopt(argc, argv, "c:o:tlVh")) != -1) {
        switch (opt) {
        case 'c': file = optarg; break;
        case 'o': break; /* applied after the file */
        case 't': check = 1; break;
        case 'l': list = 1; break;
        case 'V': puts("junction " JUNCTION_VERSION); return 1;
        case 'h': gw_main_usage(stdout); return 1;
        default: gw_main_usage(stderr); return GW_EINVAL;
        }
    }
    if (optind < argc) {
        gw_main_usage(stderr);
        return GW_EINVAL;
    }
    if (gw_config_load_file(file, err, sizeof(err)) != 0) {
        fprintf(stderr, "junction: %s\n", err);
        return GW_EINVAL;
    }
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-o") == 0 && i + 1 < argc &&
            gw_config_apply_override(argv[++i], err, sizeof(err)) != 0) {
            fprintf(stderr, "junction: %s\n", err);
            return GW_EINVAL;
        }
    }
    if (list) {
        gw_params_foreach(gw_main_print_param, NULL);
        return 1;
    }
    if (check) {
        printf("configuration ok\n");
        return 1;
    }
    return 0;
}

static int gw_main_apply_log(void)
{
    int level = gw_log_level_parse(gw_config.log_level);

    if (level < 0 || gw_log_apply_spec(gw_config.log_modules) != 0) {
        fprintf(stderr, "junction: log.level or log.modules is invalid\n");
        return GW_EINVAL;
    }
    gw_log_set_level(level);
    return GW_OK;
}

int main(int argc, char **argv)
{
    struct event *sigs[3];
    const int signums[3] = { SIGTERM, SIGINT, SIGHUP };
    char err[256] = "";
    int rc, i;

    signal(SIGPIPE, SIG_IGN);
    /* a file size limit (RLIMIT_FSIZE) is a full disk to SQLite (EFBIG), not a
     * reason to die: new messages are refused, accepted ones stay */
    signal(SIGXFSZ, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);
    rc = gw_main_config(argc, argv);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    if (sodium_init() < 0 || evthread_use_pthreads() != 0 || gw_main_apply_log() != 0)
        return 1;
    if (db_open(gw_config.db_path) != 0) {
        GW_ERR("main", "cannot open the database %s", gw_config.db_path);
        return 1;
    }
    gw_main_apply_stored_params();
    for (i = 1; i < argc; i++) /* flags win over stored values */
        if (strcmp(argv[i], "-o") == 0 && i + 1 < argc)
            gw_config_apply_override(argv[++i], err, sizeof(err));
    if (gw_main_apply_log() != 0 || gw_main_first_start() != 0) {
        rc = GW_ERROR;
        goto out_db;
    }
    {
        json_t *errors = NULL;
        if (gw_rules_reload(&errors) != 0) {
            char *text = errors != NULL ? json_dumps(errors, JSON_COMPACT) : NULL;
            GW_ERR("main", "routing rules not loaded: %s", text != NULL ? text : "out of memory");
            free(text);
        }
        json_decref(errors);
    }
    rc = gw_mi_cmds_init();
    if (rc == 0)
        rc = gw_trace_init();
    if (rc == 0)
        rc = gw_auth_mi_init();
    if (rc == 0)
        rc = gw_work_mi_init();
    gw_adapters_foreach(gw_main_register_mi, &rc);
    gw_main_base = event_base_new();
    if (rc != 0 || gw_main_base == NULL) {
        rc = GW_ERROR;
        goto out_base;
    }
    for (i = 0; i < 3; i++) {
        sigs[i] = evsignal_new(gw_main_base, signums[i], gw_main_on_signal, NULL);
        evsignal_add(sigs[i], NULL);
    }
    if (db_writer_start() != 0 || gw_core_start() != 0 || gw_work_start() != 0) {
        rc = GW_ERROR;
        goto out_core;
    }
    /* before any adapter can accept: the queues start from the store */
    if (gw_core_recover() < 0) {
        rc = GW_ERROR;
        goto out_core;
    }
    rc = 0;
    gw_adapters_foreach(gw_main_init_adapter, &rc);
    gw_adapters_foreach(gw_main_start_adapter, &rc);
    if (rc != 0) {
        rc = GW_ERROR;
        goto out_adapters;
    }
    gw_connectors_reload();
    if (gw_diag_start(gw_main_base) != 0 || web_start() != 0 ||
        gw_mi_sock_start(gw_main_base, gw_config.mi_socket) != 0) {
        rc = GW_ERROR;
        goto out_web;
    }
    printf("junction %s is running (pid %d); listening on:\n", JUNCTION_VERSION, (int)getpid());
    gw_main_print_listeners();
    GW_INFO("main", "ready");
    if (gw_notify("READY=1") != 0) /* a Type=notify unit would time the start out */
        GW_WARN("main", "cannot tell the service manager at $NOTIFY_SOCKET that junction is ready");
    event_base_dispatch(gw_main_base);
    rc = 0;
out_web:
    gw_core_stop_accepting();
    gw_trace_stop_all(); /* long polls of trace.list end now, not after their wait */
    gw_mi_sock_stop();
    web_stop();
    gw_diag_stop();
    db_writer_flush(); /* every accepted message gets its answer */
out_adapters:
    gw_core_stop_accepting();
    gw_adapters_foreach(gw_main_stop_adapter, NULL);
    gw_work_stop(); /* after the adapters: late answers find their queues closed */
    gw_connectors_close_all();
    gw_adapters_foreach(gw_main_destroy_adapter, NULL);
out_core:
    gw_work_stop(); /* when start-up failed before the adapters */
    gw_core_stop();
    db_writer_stop();
    for (i = 0; i < 3; i++)
        event_free(sigs[i]);
out_base:
    if (gw_main_base)
        event_base_free(gw_main_base);
    gw_rules_shutdown(); /* the running rules and, with them, their rate tables */
out_db:
    gw_trace_stop_all();
    db_close();
    GW_INFO("main", "stopped");
    return rc == 0 ? 0 : 1;
}
