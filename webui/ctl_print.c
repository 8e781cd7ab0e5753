/*
 * ctl_print.c - junctionctl's human output.
 *
 * An array of objects becomes a table: one column per key in the order
 * keys first appear, upper-case headers, columns aligned on display width
 * (UTF-8 code points), a nested object shown as "k=v k=v" in its cell and
 * cells longer than WEB_CTL_CELL_MAX cut with an ellipsis (--json shows
 * everything).  An object becomes aligned "key: value" lines; nested
 * objects and tables are indented under their key.  null prints "ok".
 * A trace record is one line of a timeline: the time since the first
 * record (whose wall clock a "#" line shows once), the protocol (SIP,
 * SMPP, AMQP, or ROUTE / STATE / LOG inside junction), the direction as an
 * arrow ("<- in" from the far side, "-> out" to it), connector and peer,
 * the summary, then the ids that tie the journey together.
 *
 * Thread: junctionctl's only thread.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "webui/ctl.h"

#define WEB_CTL_CELL_MAX 64

/* Display width of UTF-8 text: one per code point. */
static size_t web_ctl_width(const char *s)
{
    size_t w = 0;

    for (; *s; s++)
        w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

/* Cut s (malloc'd, may be reallocated) to max code points plus an
 * ellipsis.  Returns the string to use. */
static char *web_ctl_cut(char *s, size_t max)
{
    size_t w = 0, i;
    char *r;

    for (i = 0; s[i]; i++) {
        if (((unsigned char)s[i] & 0xC0) != 0x80 && ++w > max)
            break;
    }
    if (s[i] == '\0')
        return s;
    r = realloc(s, i + 4);
    if (r == NULL)
        return s;
    memcpy(r + i, "\xe2\x80\xa6", 4);
    return r;
}

static int web_ctl_is_table(const json_t *v)
{
    size_t i;
    json_t *e;

    if (!json_is_array(v) || json_array_size(v) == 0)
        return 0;
    json_array_foreach(v, i, e) {
        if (!json_is_object(e))
            return 0;
    }
    return 1;
}

/* One value as text, malloc'd (NULL only when out of memory): strings
 * as they are, null as "-", an object as "k=v k=v", an array of scalars
 * comma-separated, anything deeper as compact JSON. */
static char *web_ctl_text(const json_t *v, int depth)
{
    char *out = NULL, *item;
    size_t len = 0, i;
    const char *key;
    json_t *e;
    FILE *f;

    if (json_is_string(v))
        return strdup(json_string_value(v));
    if (json_is_null(v) || v == NULL)
        return strdup("-");
    if (!json_is_object(v) && !json_is_array(v))
        return json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    if (depth > 0)
        return json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    f = open_memstream(&out, &len);
    if (f == NULL)
        return NULL;
    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, key, e) {
            item = web_ctl_text(e, depth + 1);
            fprintf(f, "%s%s=%s", ftell(f) ? " " : "", key, item ? item : "?");
            free(item);
        }
    } else {
        json_array_foreach(v, i, e) {
            item = web_ctl_text(e, depth + 1);
            fprintf(f, "%s%s", i ? "," : "", item ? item : "?");
            free(item);
        }
    }
    fclose(f);
    return out;
}

/* Print an array of objects as an aligned table, indent spaces in. */
static void web_ctl_table(FILE *out, const json_t *rows, int indent)
{
    json_t *cols = json_array(), *row, *v;
    size_t nrows = json_array_size(rows), ncols, r, c, *width = NULL;
    char **cell = NULL;
    const char *key;

    if (cols == NULL)
        return;
    json_array_foreach(rows, r, row) {
        json_object_foreach(row, key, v) {
            int seen = 0;
            for (c = 0; c < json_array_size(cols) && !seen; c++)
                seen = strcmp(json_string_value(json_array_get(cols, c)), key) == 0;
            if (!seen)
                json_array_append_new(cols, json_string(key));
        }
    }
    ncols = json_array_size(cols);
    cell = calloc(nrows * ncols + 1, sizeof *cell);
    width = calloc(ncols + 1, sizeof *width);
    if (cell == NULL || width == NULL)
        goto out_free;
    for (c = 0; c < ncols; c++)
        width[c] = web_ctl_width(json_string_value(json_array_get(cols, c)));
    for (r = 0; r < nrows; r++) {
        row = json_array_get(rows, r);
        for (c = 0; c < ncols; c++) {
            v = json_object_get(row, json_string_value(json_array_get(cols, c)));
            char *t = v ? web_ctl_text(v, 0) : strdup("");
            t = t ? web_ctl_cut(t, WEB_CTL_CELL_MAX) : NULL;
            cell[r * ncols + c] = t;
            if (t != NULL && web_ctl_width(t) > width[c])
                width[c] = web_ctl_width(t);
        }
    }
    fprintf(out, "%*s", indent, "");
    for (c = 0; c < ncols; c++) {
        const char *h = json_string_value(json_array_get(cols, c));
        for (const char *p = h; *p; p++)
            fputc(toupper((unsigned char)*p), out);
        if (c + 1 < ncols)
            fprintf(out, "%*s", (int)(width[c] - web_ctl_width(h) + 2), "");
    }
    fputc('\n', out);
    for (r = 0; r < nrows; r++) {
        fprintf(out, "%*s", indent, "");
        for (c = 0; c < ncols; c++) {
            const char *t = cell[r * ncols + c] ? cell[r * ncols + c] : "?";
            fputs(t, out);
            if (c + 1 < ncols)
                fprintf(out, "%*s", (int)(width[c] - web_ctl_width(t) + 2), "");
        }
        fputc('\n', out);
    }
out_free:
    if (cell != NULL)
        for (r = 0; r < nrows * ncols; r++)
            free(cell[r]);
    free(cell);
    free(width);
    json_decref(cols);
}

/* Print an object as "key: value" lines, indent spaces in. */
static void web_ctl_object(FILE *out, const json_t *obj, int indent)
{
    size_t keyw = 0;
    const char *key;
    json_t *v;

    json_object_foreach((json_t *)obj, key, v) {
        if (web_ctl_width(key) > keyw)
            keyw = web_ctl_width(key);
    }
    json_object_foreach((json_t *)obj, key, v) {
        if (json_is_object(v) && json_object_size(v) > 0) {
            fprintf(out, "%*s%s:\n", indent, "", key);
            web_ctl_object(out, v, indent + 2);
        } else if (web_ctl_is_table(v)) {
            fprintf(out, "%*s%s:\n", indent, "", key);
            web_ctl_table(out, v, indent + 2);
        } else {
            char *t = web_ctl_text(v, 0);
            fprintf(out, "%*s%s:%*s %s\n", indent, "", key,
                    (int)(keyw - web_ctl_width(key)), "", t ? t : "?");
            free(t);
        }
    }
}

void web_ctl_print(FILE *out, const json_t *result)
{
    size_t i;
    json_t *e;
    char *t;

    if (result == NULL || json_is_null(result)) {
        fputs("ok\n", out);
    } else if (web_ctl_is_table(result)) {
        web_ctl_table(out, result, 0);
    } else if (json_is_array(result)) {
        if (json_array_size(result) == 0)
            fputs("(none)\n", out);
        json_array_foreach(result, i, e) {
            t = web_ctl_text(e, 0);
            fprintf(out, "%s\n", t ? t : "?");
            free(t);
        }
    } else if (json_is_object(result)) {
        if (json_object_size(result) == 0)
            fputs("ok\n", out);
        web_ctl_object(out, result, 0);
    } else {
        t = web_ctl_text(result, 0);
        fprintf(out, "%s\n", t ? t : "?");
        free(t);
    }
}

/* A member of a trace record as text, "" when absent. */
static const char *web_ctl_rec_str(const json_t *rec, const char *key)
{
    const char *s = json_string_value(json_object_get(rec, key));

    return s ? s : "";
}

/* The protocol column of a record kind. */
static const char *web_ctl_trace_proto(const char *kind)
{
    static const struct { const char *kind, *proto; } map[] = {
        { "packet", "SIP" }, { "pdu", "SMPP" },  { "publish", "AMQP" },
        { "route", "ROUTE" }, { "state", "STATE" }, { "log", "LOG" }, { "http", "HTTP" },
    };
    size_t i;

    for (i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(map[i].kind, kind) == 0)
            return map[i].proto;
    return kind;
}

void web_ctl_print_trace(FILE *out, const json_t *rec, long long *t0_us)
{
    const json_t *us = json_object_get(rec, "time_us");
    long long t = us ? (long long)json_integer_value(us)
                     : 1000LL * (long long)json_integer_value(json_object_get(rec, "time"));
    const char *kind = web_ctl_rec_str(rec, "kind"), *conn = web_ctl_rec_str(rec, "connector");
    const char *peer = web_ctl_rec_str(rec, "peer"), *dir = web_ctl_rec_str(rec, "dir");
    const char *arrow = strcmp(dir, "in") == 0 ? "<- in " : strcmp(dir, "out") == 0 ? "-> out" : "  .   ";
    char where[160];
    time_t secs;
    struct tm tm;

    if (*t0_us == 0) {
        /* the first record: the wall clock once, then times relative to it */
        *t0_us = t;
        secs = (time_t)(t / 1000000);
        gmtime_r(&secs, &tm);
        fprintf(out, "# %04d-%02d-%02d %02d:%02d:%02d.%03lld UTC = +0.0 ms\n", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                (t / 1000) % 1000);
    }
    snprintf(where, sizeof where, "%s%s%s", conn, *conn && *peer ? " " : "", peer);
    fprintf(out, "%+10.1f ms  %-5s %s  %-28s %s", (double)(t - *t0_us) / 1000.0,
            web_ctl_trace_proto(kind), arrow, *where ? where : "-",
            web_ctl_rec_str(rec, "summary"));
    /* the ids that tie the journey together, after what happened */
    if (*web_ctl_rec_str(rec, "env_id"))
        fprintf(out, "  env=%s", web_ctl_rec_str(rec, "env_id"));
    if (*web_ctl_rec_str(rec, "call_id") && strcmp(kind, "packet") == 0)
        fprintf(out, "  call-id=%s", web_ctl_rec_str(rec, "call_id"));
    if (*web_ctl_rec_str(rec, "system_id") && strcmp(kind, "pdu") == 0)
        fprintf(out, "  system_id=%s", web_ctl_rec_str(rec, "system_id"));
    if (*web_ctl_rec_str(rec, "smpp_msgid"))
        fprintf(out, "  msgid=%s", web_ctl_rec_str(rec, "smpp_msgid"));
    if (json_object_get(rec, "amqp_tag"))
        fprintf(out, "  tag=%lld", (long long)json_integer_value(json_object_get(rec, "amqp_tag")));
    fputc('\n', out);
}
