# make bench: build, then the SIP MESSAGE -> SMPP benchmark beside raw SQLite
# batched inserts (bench/run_bench.mjs); prints a markdown report and records
# it in bench/RESULTS.md (build/bench/sqlite_insert is built by db/module.mk).
# BENCH_ARGS passes options, e.g.
#   make bench BENCH_ARGS="--rates=500,1000 --seconds=4 --no-write"
BENCH_ARGS ?=

bench: all $(BUILD)/bench/sqlite_insert
	JUNCTION_BIN=$(abspath $(BUILD)/junction) SQLITE_INSERT_BIN=$(abspath $(BUILD)/bench/sqlite_insert) \
	  node bench/run_bench.mjs $(BENCH_ARGS)

# make bench-trace: the trace bus's cost per hook (off) and per packet (on).
$(BUILD)/bench/trace_cost: $(BUILD)/bench/trace_cost.o $(BUILD)/libjunction.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

.PHONY: bench-trace
bench-trace: $(BUILD)/bench/trace_cost
	$(BUILD)/bench/trace_cost
