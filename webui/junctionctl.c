/*
 * junctionctl.c - the command-line client of the MI (JSON-RPC 2.0).
 *
 *   junctionctl [--socket PATH | --url http://127.0.0.1:8080] [--json]
 *               <area> <verb> [key=value ...]
 *   junctionctl [...] call METHOD ['JSON-PARAMS']
 *   junctionctl [...] trace key=value ... [--count N] [--seconds S]
 *   junctionctl [...] users add NAME ROLE | users passwd NAME
 *   junctionctl [...] diagnose
 *
 * "<area> <verb>" calls the method "area.verb" (an argument that already
 * holds a dot, "routes.list", is taken as the method).  Each key=value
 * becomes a member of the params object; a value that parses as JSON
 * (a number, true/false/null, an object, an array, a "quoted string")
 * keeps its type, anything else is a string: priority=10 is a number,
 * conf='{"host":"127.0.0.1"}' an object.  Where the MI expects text it
 * takes a number as its digits, so to=447700900123 needs no quotes.
 *
 * The default transport is the MI UNIX socket: --socket, else
 * $JUNCTION_MI_SOCKET, else var/junction.sock.  --url speaks HTTP to
 * POST /mi on a loopback address.
 *
 * "trace" followed by filters (or nothing but bounds) is the live trace
 * console of ctl_trace.c; "trace list", "trace stop id=1" stay plain calls.
 *
 * "diagnose" is the self-diagnosis of ctl_diagnose.c.  Such commands, which
 * junctionctl runs itself instead of as one plain call, are rows of
 * web_ctl_cmds[].
 *
 * Exit status: 0 with a result, 1 with a JSON-RPC error (printed to stderr
 * with its code), 2 for usage and connection errors; diagnose exits with
 * its status instead (0 OK, 1 WARNING, 2 CRITICAL, 3 no answer).
 *
 * Thread: one; the program makes one request and exits (the trace console
 * polls until it ends).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "webui/ctl.h"

#define WEB_CTL_DEFAULT_SOCKET "var/junction.sock"

enum { WEB_CTL_OK = 0, WEB_CTL_RPC_ERROR = 1, WEB_CTL_USAGE = 2 };

static void web_ctl_usage(FILE *out)
{
    fputs("usage: junctionctl [--socket PATH | --url http://127.0.0.1:8080] [--json]\n"
          "                   <area> <verb> [key=value ...]\n"
          "       junctionctl [options] call METHOD ['JSON-PARAMS']\n"
          "       junctionctl [options] trace key=value ... [--count N] [--seconds S]\n"
          "       junctionctl [options] users add NAME ROLE | users passwd NAME\n"
          "                 (the password from the terminal, or the first line of stdin)\n"
          "       junctionctl [options] diagnose\n"
          "\n"
          "Calls the JSON-RPC method area.verb of a running junction.\n"
          "  --socket PATH  MI UNIX socket (default $JUNCTION_MI_SOCKET or " WEB_CTL_DEFAULT_SOCKET ")\n"
          "  --url URL      use HTTP POST /mi instead (loopback addresses only), with\n"
          "                 the API token in $JUNCTION_TOKEN (tokens create name=x role=admin)\n"
          "  --json         print the raw JSON result\n"
          "  -h, --help     this text\n"
          "Values that parse as JSON keep their type (priority=10, enabled=false,\n"
          "conf='{\"host\":\"127.0.0.1\"}').\n"
          "Examples:\n"
          "  junctionctl system version\n"
          "  junctionctl routes add name=uk priority=10 dst_prefix='\"44\"' target=smsc1\n"
          "  junctionctl system listMethods\n"
          "  junctionctl call routes.delete '{\"id\": 3}'\n"
          "  junctionctl trace to=4915112345678   (filters: to, from, env_id, call_id,\n"
          "                                       connector, peer; Ctrl-C ends it)\n"
          "  junctionctl diagnose                 (per area and problem: cause and advice)\n"
          "Exit status: 0 ok, 1 the MI returned an error, 2 usage or connection error;\n"
          "diagnose: 0 OK, 1 WARNING, 2 CRITICAL, 3 no answer.\n",
          out);
}

/* The params object from key=value words.  Returns a new reference or
 * NULL after printing why. */
static json_t *web_ctl_params_kv(char **words, int n)
{
    json_t *params = json_object();
    int i;

    if (params == NULL)
        return NULL;
    for (i = 0; i < n; i++) {
        char *eq = strchr(words[i], '=');
        json_t *v;

        if (eq == NULL || eq == words[i]) {
            fprintf(stderr, "junctionctl: expected key=value, got '%s'\n", words[i]);
            json_decref(params);
            return NULL;
        }
        v = json_loads(eq + 1, JSON_DECODE_ANY, NULL);
        if (v == NULL)
            v = json_string(eq + 1);
        if (v == NULL) {
            fprintf(stderr, "junctionctl: value of %.*s is not valid UTF-8\n",
                    (int)(eq - words[i]), words[i]);
            json_decref(params);
            return NULL;
        }
        *eq = '\0';
        json_object_set_new(params, words[i], v);
        *eq = '=';
    }
    return params;
}

/* A bound of the trace console: "--name N" or "--name=N" at words[*i].
 * Returns 1 when it was one (stored in *out, *i moved on), 0 when the
 * word is something else, -1 after printing why it is wrong. */
static int web_ctl_trace_bound(char **words, int n, int *i, const char *name, long *out)
{
    size_t len = strlen(name);
    const char *v = NULL;
    char *end;

    if (strncmp(words[*i], name, len) != 0)
        return 0;
    if (words[*i][len] == '=')
        v = words[*i] + len + 1;
    else if (words[*i][len] == '\0' && *i + 1 < n)
        v = words[++*i];
    else if (words[*i][len] != '\0')
        return 0;
    if (v == NULL || (*out = strtol(v, &end, 10)) < 0 || *end != '\0' || end == v) {
        fprintf(stderr, "junctionctl: %s takes a number\n", name);
        return -1;
    }
    return 1;
}

/* `junctionctl trace ...`: words are what follows "trace".  Returns the
 * exit status. */
static int web_ctl_trace_main(const web_ctl_opts_t *o, char **words, int n)
{
    long count = 0, seconds = 0;
    char **kv = calloc((size_t)n + 1, sizeof *kv);
    json_t *params;
    int i, nkv = 0, b;

    if (kv == NULL)
        return WEB_CTL_USAGE;
    for (i = 0; i < n; i++) {
        b = web_ctl_trace_bound(words, n, &i, "--count", &count);
        if (b == 0)
            b = web_ctl_trace_bound(words, n, &i, "--seconds", &seconds);
        if (b < 0) {
            free(kv);
            return WEB_CTL_USAGE;
        }
        if (b == 0)
            kv[nkv++] = words[i];
    }
    params = web_ctl_params_kv(kv, nkv);
    free(kv);
    if (params == NULL)
        return WEB_CTL_USAGE;
    return web_ctl_trace(o, params, count, seconds);
}

/* 1 when argv (after the options) asks for the trace console. */
static int web_ctl_is_trace(int argc, char **argv)
{
    return strcmp(argv[0], "trace") == 0 &&
           (argc == 1 || strchr(argv[1], '=') != NULL || strncmp(argv[1], "--", 2) == 0);
}

/* `junctionctl diagnose`: words are what follows it (nothing). */
static int web_ctl_diagnose_main(const web_ctl_opts_t *o, char **words, int n)
{
    (void)words;
    if (n > 0) {
        fprintf(stderr, "junctionctl: diagnose takes no arguments\n");
        return 3; /* unknown: 2 would read as CRITICAL */
    }
    return web_ctl_diagnose(o);
}

/* Commands junctionctl runs itself instead of as one plain call. */
typedef struct web_ctl_cmd {
    const char *name;
    /* 1 when argv (after the options) is this command; NULL: the first
     * word is name */
    int (*match)(int argc, char **argv);
    /* words: what follows the name; returns the exit status */
    int (*run)(const web_ctl_opts_t *o, char **words, int n);
} web_ctl_cmd_t;

static const web_ctl_cmd_t web_ctl_cmds[] = {
    { "trace", web_ctl_is_trace, web_ctl_trace_main },
    { "diagnose", NULL, web_ctl_diagnose_main },
};

/* The request text for argv after the options.  Returns malloc'd compact
 * JSON or NULL after printing why. */
static char *web_ctl_request(int argc, char **argv)
{
    json_error_t jerr;
    json_t *params, *req;
    char method[256], *text;
    int rest;

    if (argc >= 2 && strcmp(argv[0], "call") == 0) {
        snprintf(method, sizeof method, "%s", argv[1]);
        if (argc > 3) {
            fprintf(stderr, "junctionctl: call takes METHOD and one JSON argument\n");
            return NULL;
        }
        params = argc == 3 ? json_loads(argv[2], 0, &jerr) : json_object();
        if (params == NULL) {
            fprintf(stderr, "junctionctl: params are not valid JSON: %s\n", jerr.text);
            return NULL;
        }
        if (!json_is_object(params) && !json_is_array(params)) {
            fprintf(stderr, "junctionctl: params must be a JSON object or array\n");
            json_decref(params);
            return NULL;
        }
    } else {
        if (strchr(argv[0], '.') != NULL) {
            snprintf(method, sizeof method, "%s", argv[0]);
            rest = 1;
        } else if (argc >= 2 && strchr(argv[1], '=') == NULL) {
            snprintf(method, sizeof method, "%s.%s", argv[0], argv[1]);
            rest = 2;
        } else {
            fprintf(stderr, "junctionctl: expected <area> <verb>, e.g. 'routes list'\n");
            return NULL;
        }
        params = web_ctl_params_kv(argv + rest, argc - rest);
        if (params == NULL)
            return NULL;
    }
    req = json_pack("{s:s, s:i, s:s, s:o}", "jsonrpc", "2.0", "id", 1, "method", method,
                    "params", params);
    if (req == NULL) {
        fprintf(stderr, "junctionctl: out of memory\n");
        return NULL;
    }
    text = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    return text;
}

/* Interpret the reply text: print the result or the error.  Returns the
 * exit status. */
static int web_ctl_reply(const web_ctl_opts_t *o, const char *text)
{
    json_error_t jerr;
    json_t *reply, *err, *result;
    int rc = WEB_CTL_OK;

    if (*text == '\0') {
        fprintf(stderr, "junctionctl: the daemon sent no reply\n");
        return WEB_CTL_USAGE;
    }
    reply = json_loads(text, 0, &jerr);
    if (!json_is_object(reply)) {
        fprintf(stderr, "junctionctl: the reply is not a JSON-RPC object: %s\n",
                reply ? "wrong type" : jerr.text);
        json_decref(reply);
        return WEB_CTL_USAGE;
    }
    err = json_object_get(reply, "error");
    result = json_object_get(reply, "result");
    if (err != NULL) {
        json_t *data = json_object_get(err, "data");
        char *d = data ? json_dumps(data, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;

        fprintf(stderr, "junctionctl: error %lld: %s%s%s\n",
                (long long)json_integer_value(json_object_get(err, "code")),
                json_string_value(json_object_get(err, "message")) ?
                    json_string_value(json_object_get(err, "message")) : "(no message)",
                d ? " " : "", d ? d : "");
        free(d);
        rc = WEB_CTL_RPC_ERROR;
    } else if (o->json) {
        char *out = json_dumps(result ? result : json_null(), JSON_ENCODE_ANY | JSON_INDENT(2));

        if (out != NULL)
            printf("%s\n", out);
        free(out);
    } else if (o->explain && json_is_object(result) && json_object_get(result, "decision")) {
        web_ctl_print_explain(stdout, result);
    } else {
        web_ctl_print(stdout, result);
    }
    json_decref(reply);
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "socket", required_argument, NULL, 's' },
        { "url", required_argument, NULL, 'u' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    web_ctl_opts_t o = { 0 };
    char err[512], *req, *reply;
    int c, rc;

    while ((c = getopt_long(argc, argv, "+s:u:jh", longopts, NULL)) != -1) {
        switch (c) {
        case 's': o.socket = optarg; break;
        case 'u': o.url = optarg; break;
        case 'j': o.json = 1; break;
        case 'h': web_ctl_usage(stdout); return WEB_CTL_OK;
        default: web_ctl_usage(stderr); return WEB_CTL_USAGE;
        }
    }
    if (o.socket != NULL && o.url != NULL) {
        fprintf(stderr, "junctionctl: give --socket or --url, not both\n");
        return WEB_CTL_USAGE;
    }
    if (optind >= argc) {
        web_ctl_usage(stderr);
        return WEB_CTL_USAGE;
    }
    if (o.socket == NULL && o.url == NULL) {
        o.socket = getenv("JUNCTION_MI_SOCKET");
        if (o.socket == NULL || *o.socket == '\0')
            o.socket = WEB_CTL_DEFAULT_SOCKET;
    }
    for (size_t i = 0; i < sizeof web_ctl_cmds / sizeof web_ctl_cmds[0]; i++) {
        const web_ctl_cmd_t *cmd = &web_ctl_cmds[i];

        if (cmd->match ? cmd->match(argc - optind, argv + optind)
                       : strcmp(argv[optind], cmd->name) == 0)
            return cmd->run(&o, argv + optind + 1, argc - optind - 1);
    }
    /* routes test (or call routes.test) prints the explanation readably */
    o.explain = (argc - optind >= 2 && strcmp(argv[optind], "routes") == 0 &&
                 strcmp(argv[optind + 1], "test") == 0) ||
                strcmp(argv[optind], "routes.test") == 0 ||
                (argc - optind >= 2 && strcmp(argv[optind + 1], "routes.test") == 0);
    {
        int uargc;
        char **uargv;
        int u = web_ctl_users_words(argc - optind, argv + optind, &uargc, &uargv);
        if (u < 0)
            return WEB_CTL_USAGE;
        req = u > 0 ? web_ctl_request(uargc, uargv) : web_ctl_request(argc - optind, argv + optind);
    }
    if (req == NULL)
        return WEB_CTL_USAGE;
    reply = o.url ? web_ctl_call_http(o.url, req, err, sizeof err)
                  : web_ctl_call_socket(o.socket, req, err, sizeof err);
    free(req);
    if (reply == NULL) {
        fprintf(stderr, "junctionctl: %s\n", err);
        return WEB_CTL_USAGE;
    }
    rc = web_ctl_reply(&o, reply);
    free(reply);
    return rc;
}
