# db/: the SQLite store (the only folder that includes sqlite3.h).
JUNCTION_SRCS += db/db_schema.c db/db_writer.c db/db_ckpt.c db/db_admin.c db/db_msgs.c db/db_rules.c db/db_frag.c db/db_access.c db/db_loc.c db/db_sip_users.c

# Raw SQLite batched inserts, the yardstick for `make bench`.
$(BUILD)/bench/sqlite_insert: bench/sqlite_insert.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LDFLAGS) $(shell pkg-config --libs sqlite3)

# The raw SQLite cost of a message's rows in junction's own schema, the
# yardstick beside the writer's CPU per row in `make bench`.
$(BUILD)/bench/sqlite_lifecycle: bench/sqlite_lifecycle.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LDFLAGS) $(shell pkg-config --libs sqlite3)
