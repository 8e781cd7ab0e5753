# tests/: cmocka unit tests (one binary per tests/unit/test_<module>.c, each
# linked against libjunction.a) and the Node.js integration suite
# (tests/integration/*.test.mjs, each starting junction and real peers).

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(BUILD)/libjunction.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(shell pkg-config --libs cmocka)

# test_trace counts the allocations of the code under test.
$(BUILD)/tests/test_trace: LDFLAGS += -Wl,--wrap=malloc -Wl,--wrap=calloc -Wl,--wrap=realloc
# test_alloc_faults makes the Nth allocation fail and tracks every block
# until it is freed.
$(BUILD)/tests/test_alloc_faults: LDFLAGS += -Wl,--wrap=malloc -Wl,--wrap=calloc \
  -Wl,--wrap=realloc -Wl,--wrap=strdup -Wl,--wrap=free

.PHONY: unit-bins unit integration
unit-bins: $(UNIT_BINS)

# Each unit test binary runs as its own process; any failure fails the run.
unit: $(UNIT_BINS)
	@fail=0; for t in $(UNIT_BINS); do \
	  echo "== $$t"; $$t || fail=1; \
	done; exit $$fail

tests/integration/node_modules: tests/integration/package.json
	cd tests/integration && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

integration: tests/integration/node_modules
	cd tests/integration && JUNCTION_BIN=$(abspath $(BUILD))/junction \
	  JUNCTIONCTL_BIN=$(abspath $(BUILD))/junctionctl \
	  node --test --test-concurrency=1 --test-reporter=spec $(if $(TESTS),$(TESTS),*.test.mjs)

# test_rt_match counts the match path's allocations.
$(BUILD)/tests/test_rt_match: LDFLAGS += -Wl,--wrap=malloc -Wl,--wrap=calloc -Wl,--wrap=realloc
