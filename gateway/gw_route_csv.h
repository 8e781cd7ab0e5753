/*
 * gw_route_csv.h - routing rules as a spreadsheet: the flat CSV form of
 * routes.import / routes.export (docs/mi.md, docs/routing.md "Rules as a
 * sheet").  Pure conversions between CSV text and rule JSON; no MI, no
 * store, no compiler: the MI (gw_route_mi.c) compiles what gw_rcsv_parse
 * gives and maps the compiler's errors back to lines with
 * gw_rcsv_compile_errors.
 *
 *   gw_rcsv_parse           CSV text -> a rule array (+ the line of each)
 *   gw_rcsv_compile_errors  rt_compile's errors -> line-numbered errors
 *   gw_rcsv_export          a rule array -> CSV text + the rules that do
 *                           not fit the flat form
 *
 * An error is {"line", "field", "reason", "text"} ("line 4: strategy: ..."),
 * the form rates.import answers.  Threads: any (no shared state).
 */
#ifndef GW_ROUTE_CSV_H
#define GW_ROUTE_CSV_H

#include <stddef.h>

#include <jansson.h>

#define GW_RCSV_ERRORS_MAX 32 /* errors kept in *errors; *total counts them all */

/* Read a rule sheet.  0 with *rules (a new array of rule objects) and
 * *lines (a new array, the sheet line of each rule, same order); or
 * GW_EINVAL with *errors (a new array of at most GW_RCSV_ERRORS_MAX, *total
 * counting every one) and *rules = *lines = NULL; or GW_ENOMEM.  The caller
 * frees what it got (json_decref). */
int gw_rcsv_parse(const char *text, size_t len, json_t **rules, json_t **lines,
                  json_t **errors, size_t *total);

/* The compiler's errors (rt_compile's [{rule, path, message}]) of a set
 * gw_rcsv_parse made, as sheet errors: the rule's line and the column the
 * path belongs to.  A new array, or NULL (out of memory). */
json_t *gw_rcsv_compile_errors(const json_t *cerrs, const json_t *rules, const json_t *lines);

/* Write rules (in their order) as a sheet with the header row.  0 with *csv
 * (malloc'd, NUL-terminated; the caller frees) and *skipped (a new array of
 * {id, name, reason} for each rule the flat form cannot hold); GW_ENOMEM. */
int gw_rcsv_export(const json_t *rules, char **csv, size_t *len, json_t **skipped);

#endif
