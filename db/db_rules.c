/*
 * db_rules.c - routing rules and rate tables in the store.
 *
 * rules: one row per rule of the engine (router/rt_engine.h,
 * docs/routing.md).  body holds the rule's whole JSON as the admin gave it
 * (id included); id, name, priority, enabled and description are repeated
 * in columns so that lists sort and names stay unique in SQL.  On every
 * write the columns are taken from the body, so the two never disagree.
 * db/ does not compile rules (it does not depend on router/): the core
 * compiles a candidate set before it writes, and again from the store
 * after.
 *
 * rates: the rows of every named rate table (docs/rates.md).  A table is
 * replaced as a whole in one transaction, as a rate sheet is imported.
 *
 * Migration 4 carries the v3 routes rows over as rules (db_rules_carry).
 *
 * Threads: any, on the admin connection under its lock (db_admin.c);
 * db_rules_carry on the migrating connection at db_open.
 */
#include <stdlib.h>
#include <string.h>

#include "db/db_int.h"
#include "gw_errors.h"
#include "gw_log.h"

/* ---- the carry-over of v3 routes (migration 4) ------------------------- */

/* A list of one string, or NULL for an empty one. */
static json_t *db_rules_one(const char *s)
{
    return s != NULL && s[0] != '\0' ? json_pack("[s]", s) : NULL;
}

/* The rule equivalent to one v3 route row. */
static json_t *db_rules_from_route(sqlite3_stmt *st, long long priority)
{
    const char *name = (const char *)sqlite3_column_text(st, 1);
    const char *source = (const char *)sqlite3_column_text(st, 3);
    const char *src_prefix = (const char *)sqlite3_column_text(st, 4);
    const char *dst_prefix = (const char *)sqlite3_column_text(st, 5);
    const char *dst_regex = (const char *)sqlite3_column_text(st, 6);
    const char *target = (const char *)sqlite3_column_text(st, 7);
    json_t *rule, *filters, *dst, *targets = json_array();
    const char *p = target != NULL ? target : "";

    while (*p != '\0') { /* "a,b,c": failover in that order */
        const char *comma = strchr(p, ',');
        size_t n = comma != NULL ? (size_t)(comma - p) : strlen(p);
        if (n > 0)
            json_array_append_new(targets, json_stringn(p, n));
        p += n + (comma != NULL);
    }
    rule = json_pack("{s:I, s:s, s:I, s:b, s:s, s:{s:{s:s, s:o}}}", "id",
                     (json_int_t)sqlite3_column_int64(st, 0), "name", name != NULL ? name : "",
                     "priority", (json_int_t)priority, "enabled", sqlite3_column_int(st, 8) != 0,
                     "description", "carried over from the v3 routes table", "action", "route",
                     "strategy", "failover", "targets", targets);
    if (rule == NULL)
        return NULL;
    if (source != NULL && source[0] != '\0')
        json_object_set_new(rule, "source", json_pack("{s:o}", "connector", db_rules_one(source)));
    filters = json_object();
    dst = json_object();
    if (dst_prefix != NULL && dst_prefix[0] != '\0')
        json_object_set_new(dst, "prefix", db_rules_one(dst_prefix));
    if (dst_regex != NULL && dst_regex[0] != '\0')
        json_object_set_new(dst, "regex", json_string(dst_regex));
    if (json_object_size(dst) > 0)
        json_object_set(filters, "dst", dst);
    if (src_prefix != NULL && src_prefix[0] != '\0')
        json_object_set_new(filters, "src", json_pack("{s:o}", "prefix", db_rules_one(src_prefix)));
    if (json_object_size(filters) > 0)
        json_object_set(rule, "filters", filters);
    json_decref(dst);
    json_decref(filters);
    return rule;
}

/* Insert rule (whose body is its JSON) on db.  0, GW_EEXIST, GW_ESTORE. */
static int db_rules_insert(sqlite3 *db, const json_t *rule, int update)
{
    static const char *const sql[2] = {
        "INSERT INTO rules(id, name, priority, enabled, description, body, created_at,"
        " updated_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
        "UPDATE rules SET name = ?2, priority = ?3, enabled = ?4, description = ?5, body = ?6,"
        " updated_at = ?7 WHERE id = ?1",
    };
    sqlite3_stmt *st = db_prepare(db, sql[update != 0], "write rule");
    char *body = json_dumps(rule, JSON_COMPACT);
    const json_t *en = json_object_get(rule, "enabled");
    int rc = GW_ESTORE;

    if (st == NULL || body == NULL)
        goto out;
    sqlite3_bind_int64(st, 1, json_integer_value(json_object_get(rule, "id")));
    db_bind_text(st, 2, json_string_value(json_object_get(rule, "name")));
    sqlite3_bind_int64(st, 3, json_integer_value(json_object_get(rule, "priority")));
    sqlite3_bind_int(st, 4, en == NULL || json_is_true(en));
    db_bind_text(st, 5, json_string_value(json_object_get(rule, "description")));
    sqlite3_bind_text(st, 6, body, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, gw_now_ms());
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        rc = update && sqlite3_changes(db) == 0 ? GW_ENOTFOUND : 0;
    } else {
        int ext = sqlite3_extended_errcode(db);
        rc = ext == SQLITE_CONSTRAINT_PRIMARYKEY || ext == SQLITE_CONSTRAINT_UNIQUE ||
                     ext == SQLITE_CONSTRAINT_NOTNULL
                 ? GW_EEXIST
                 : GW_ESTORE;
        if (rc == GW_ESTORE)
            GW_ERR("db", "write rule: %s", sqlite3_errmsg(db));
    }
out:
    free(body);
    sqlite3_finalize(st);
    return rc;
}

int db_rules_carry(sqlite3 *db)
{
    /* The engine refuses two enabled rules with one priority; v3 sorted
     * ties by id.  Walking in that order and lifting a tie to one above
     * the previous rule keeps the order exactly. */
    sqlite3_stmt *st = db_prepare(db,
        "SELECT id, name, priority, source, src_prefix, dst_prefix, dst_regex, target, enabled"
        " FROM routes ORDER BY priority, id", "carry routes");
    long long prev = 0;
    int first = 1, rc = 0, n = 0;

    if (st == NULL)
        return GW_ESTORE;
    while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
        long long prio = sqlite3_column_int64(st, 2);
        if (!first && prio <= prev)
            prio = prev + 1;
        first = 0;
        prev = prio;
        json_t *rule = db_rules_from_route(st, prio);
        rc = rule != NULL ? db_rules_insert(db, rule, 0) : GW_ENOMEM;
        json_decref(rule);
        n++;
    }
    sqlite3_finalize(st);
    if (rc == 0 && n > 0)
        GW_INFO("db", "%d route(s) carried over as rules", n);
    return rc;
}

/* ---- rules ------------------------------------------------------------- */

json_t *db_rules_list(void)
{
    sqlite3 *db = db_admin_lock_conn();
    sqlite3_stmt *st = db != NULL ? db_prepare(db, "SELECT body FROM rules ORDER BY priority, id",
                                               "list rules")
                                  : NULL;
    json_t *arr = st != NULL ? json_array() : NULL;

    while (arr != NULL && sqlite3_step(st) == SQLITE_ROW) {
        json_t *rule = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
        if (rule == NULL || json_array_append_new(arr, rule) < 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    sqlite3_finalize(st);
    db_admin_unlock();
    return arr;
}

int db_rules_write(const json_t *put, const json_t *delete_ids, int replace_all)
{
    sqlite3 *db = db_admin_lock_conn();
    size_t i;
    json_t *v;
    int rc = GW_ESTORE;

    if (db == NULL || sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        goto out_unlock;
    rc = 0;
    if (replace_all && sqlite3_exec(db, "DELETE FROM rules", NULL, NULL, NULL) != SQLITE_OK)
        rc = GW_ESTORE;
    json_array_foreach(delete_ids, i, v) {
        if (rc != 0)
            break;
        sqlite3_stmt *st = db_prepare(db, "DELETE FROM rules WHERE id = ?1", "delete rule");
        if (st == NULL) {
            rc = GW_ESTORE;
            break;
        }
        sqlite3_bind_int64(st, 1, json_integer_value(v));
        rc = sqlite3_step(st) != SQLITE_DONE ? GW_ESTORE
             : sqlite3_changes(db) == 0      ? GW_ENOTFOUND
                                             : 0;
        sqlite3_finalize(st);
    }
    json_array_foreach(put, i, v) {
        if (rc != 0)
            break;
        rc = db_rules_insert(db, v, 1);
        if (rc == GW_ENOTFOUND)
            rc = db_rules_insert(db, v, 0);
    }
    if (rc == 0 && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        rc = GW_ESTORE;
    if (rc != 0)
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
out_unlock:
    db_admin_unlock();
    return rc;
}

/* ---- rate tables ------------------------------------------------------- */

int db_rates_replace(const char *table, db_rate_next_fn next, void *arg)
{
    sqlite3 *db = db_admin_lock_conn();
    sqlite3_stmt *del = NULL, *ins = NULL;
    db_rate_row_t row;
    int rc = GW_ESTORE, more;

    if (db == NULL || sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        goto out_unlock;
    del = db_prepare(db, "DELETE FROM rates WHERE table_name = ?1", "replace rates");
    ins = db_prepare(db,
        "INSERT INTO rates(table_name, prefix, connector, cost, currency, valid_from, valid_to)"
        " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)", "replace rates");
    if (del == NULL || ins == NULL)
        goto out_rollback;
    sqlite3_bind_text(del, 1, table, -1, SQLITE_STATIC);
    if (sqlite3_step(del) != SQLITE_DONE)
        goto out_rollback;
    sqlite3_bind_text(ins, 1, table, -1, SQLITE_STATIC);
    while ((more = next(arg, &row)) > 0) {
        db_bind_text(ins, 2, row.prefix);
        db_bind_text(ins, 3, row.connector);
        sqlite3_bind_double(ins, 4, row.cost);
        db_bind_text(ins, 5, row.currency);
        sqlite3_bind_int64(ins, 6, row.valid_from);
        sqlite3_bind_int64(ins, 7, row.valid_to);
        if (sqlite3_step(ins) != SQLITE_DONE)
            goto out_rollback;
        sqlite3_reset(ins);
    }
    if (more < 0 || sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        goto out_rollback;
    rc = 0;
    goto out_finalize;

out_rollback:
    GW_ERR("db", "replace rate table %s: %s", table, sqlite3_errmsg(db));
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
out_finalize:
    sqlite3_finalize(del);
    sqlite3_finalize(ins);
out_unlock:
    db_admin_unlock();
    return rc;
}

int db_rates_delete(const char *table)
{
    sqlite3 *db = db_admin_lock_conn();
    sqlite3_stmt *st = db != NULL ? db_prepare(db, "DELETE FROM rates WHERE table_name = ?1",
                                               "delete rates")
                                  : NULL;
    int rc = GW_ESTORE;

    if (st != NULL) {
        sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_DONE)
            rc = sqlite3_changes(db) == 0 ? GW_ENOTFOUND : 0;
    }
    sqlite3_finalize(st);
    db_admin_unlock();
    return rc;
}

int db_rates_foreach(db_rate_fn fn, void *arg)
{
    sqlite3 *db = db_admin_lock_conn();
    sqlite3_stmt *st = db != NULL ? db_prepare(db,
        "SELECT table_name, prefix, connector, cost, currency, valid_from, valid_to FROM rates"
        " ORDER BY table_name, rowid", "read rates") : NULL;
    int rc = st != NULL ? 0 : GW_ESTORE;

    while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
        db_rate_row_t row = {
            .prefix = (const char *)sqlite3_column_text(st, 1),
            .connector = (const char *)sqlite3_column_text(st, 2),
            .cost = sqlite3_column_double(st, 3),
            .currency = (const char *)sqlite3_column_text(st, 4),
            .valid_from = sqlite3_column_int64(st, 5),
            .valid_to = sqlite3_column_int64(st, 6),
        };
        rc = fn(arg, (const char *)sqlite3_column_text(st, 0), &row);
    }
    sqlite3_finalize(st);
    db_admin_unlock();
    return rc;
}
