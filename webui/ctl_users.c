/*
 * ctl_users.c - `junctionctl users add NAME ROLE` and `users passwd NAME`.
 *
 * The password is never an argument (ps and shell history would keep it):
 * on a terminal it is asked for twice with echo off; otherwise the first
 * line of standard input is the password, for scripts
 * (`printf '%s\n' "$pw" | junctionctl users add ops operator`).  The words
 * become the usual key=value words of users.add / users.passwd, the
 * password as a JSON string so that digits stay text.
 *
 * Thread: junctionctl's only thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "webui/ctl.h"

#define WEB_CTL_PW_MAX 256

/* One line from stdin without its newline, echo off on a terminal.
 * 0, or -1 at EOF / a line too long. */
static int web_ctl_read_pw(const char *prompt, char *out, size_t len)
{
    struct termios old, quiet;
    int tty = isatty(STDIN_FILENO), rc = 0;
    size_t n;

    if (tty) {
        fputs(prompt, stderr);
        fflush(stderr);
        if (tcgetattr(STDIN_FILENO, &old) == 0) {
            quiet = old;
            quiet.c_lflag &= ~(tcflag_t)ECHO;
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
        } else {
            tty = 0;
        }
    }
    if (fgets(out, (int)len, stdin) == NULL)
        rc = -1;
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fputc('\n', stderr);
    }
    if (rc == 0) {
        n = strlen(out);
        if (n > 0 && out[n - 1] == '\n')
            out[--n] = '\0';
        else if (n == len - 1)
            rc = -1; /* longer than the buffer */
    }
    return rc;
}

/* A "key=<JSON string of value>" word; malloc'd or NULL. */
static char *web_ctl_kv_string(const char *key, const char *value)
{
    json_t *s = json_string(value);
    char *j = s != NULL ? json_dumps(s, JSON_ENCODE_ANY) : NULL, *w = NULL;

    json_decref(s);
    if (j != NULL && asprintf(&w, "%s=%s", key, j) < 0)
        w = NULL;
    free(j);
    return w;
}

int web_ctl_users_words(int argc, char **argv, int *out_argc, char ***out_argv)
{
    char pw[WEB_CTL_PW_MAX], again[WEB_CTL_PW_MAX], **w;
    int add, i, n = 0, named;

    *out_argv = NULL;
    if (argc < 2 || strcmp(argv[0], "users") != 0)
        return 0;
    add = strcmp(argv[1], "add") == 0;
    if (!add && strcmp(argv[1], "passwd") != 0)
        return 0;
    for (i = 2; i < argc; i++)
        if (strncmp(argv[i], "password=", 9) == 0)
            return 0; /* given as a word already: the plain path */
    named = argc > 2 && strchr(argv[2], '=') == NULL;
    if (add && (!named || argc < 4 || strchr(argv[3], '=') != NULL)) {
        fprintf(stderr, "junctionctl: users add NAME ROLE (viewer, operator or admin); the "
                        "password is read from the terminal or the first line of stdin\n");
        return -1;
    }
    if (web_ctl_read_pw("new password: ", pw, sizeof pw) != 0 || pw[0] == '\0') {
        fprintf(stderr, "junctionctl: no password read\n");
        return -1;
    }
    if (isatty(STDIN_FILENO)) {
        if (web_ctl_read_pw("again: ", again, sizeof again) != 0 || strcmp(pw, again) != 0) {
            fprintf(stderr, "junctionctl: the passwords differ\n");
            return -1;
        }
    }
    w = calloc((size_t)argc + 3, sizeof *w);
    if (w == NULL)
        return -1;
    w[n++] = argv[0];
    w[n++] = argv[1];
    i = 2;
    if (named)
        w[n++] = web_ctl_kv_string("name", argv[i++]);
    if (add)
        w[n++] = web_ctl_kv_string("role", argv[i++]);
    for (; i < argc; i++)
        w[n++] = strdup(argv[i]);
    w[n++] = web_ctl_kv_string("password", pw);
    memset(pw, 0, sizeof pw);
    memset(again, 0, sizeof again);
    for (i = 2; i < n; i++)
        if (w[i] == NULL) {
            fprintf(stderr, "junctionctl: out of memory\n");
            return -1;
        }
    *out_argc = n;
    *out_argv = w;
    return 1;
}
