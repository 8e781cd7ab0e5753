# bench/: the benchmarks (bench/README.md).  Nothing here is part of `make
# test`; every output goes under $(BUILD)/bench/.
#
#   make bench        the message-path figures (bench/run_core.mjs): junction CPU
#                     per message at a fixed rate (SIP -> SMPP, SMPP -> SMPP, and
#                     with receipts), the highest FULL SIP -> SMPP rate, RSS with
#                     1,000,000 messages queued for a dead connector
#   make bench-sweep  the SIP -> SMPP rate sweep beside raw SQLite (run_bench.mjs)
#   make bench-store  store-only: envelopes committed per second (FULL) beside
#                     raw batched SQLite inserts (bench_store.c)
#   make bench-rates  rate tables: 1,000,000-prefix sheet load time, lookups/s on
#                     one core beside a naive scan, memory (bench_rates.c)
#   make bench-smpp   SMPP customer -> junction -> SMSC with a delivery report
#                     back per message, beside Kannel (Debian's kannel: bearerbox
#                     + smsbox, installed here when missing) on the same kind of
#                     SMSC peer (bench/run_smpp.mjs)
#   make bench-trace  the trace bus per call, then SMPP -> SMPP with and without
#                     one active trace in one run, and the ratio (run_trace.mjs)
#   make bench-sip    junction's SIP proxy beside Kamailio, stateless and stateful
#                     (bench/run_sip.mjs)
#   make bench-sip-view  the SIP message view's parse + forwarding edits beside
#                     libosip2's parse + to_str, ns per message and the ratio
#   make bench-amqp   AMQP in -> SMPP with receipts out as AMQP events, the event
#                     publisher with confirms, the HTTP send API; each beside
#                     its raw limit in the same run (run_amqp.mjs)
#   make bench-tools  only build the peers: smsc_fast, esme_fast, bench_store,
#                     amqp_load
#
# BENCH_ARGS passes options to the script, e.g.
#   make bench BENCH_ARGS="--seconds=5 --queued=200000 --no-write"
#   make bench-sweep BENCH_ARGS="--rates=1000,4000 --seconds=3 --no-write"
#   make bench-store BENCH_ARGS="--count 500000 --inflight 10000"
BENCH_ARGS ?=
BENCH_TOOLS := $(BUILD)/bench/smsc_fast $(BUILD)/bench/esme_fast $(BUILD)/bench/bench_store \
               $(BUILD)/bench/sqlite_insert $(BUILD)/bench/sqlite_lifecycle $(BUILD)/bench/amqp_load

.PHONY: bench-tools bench-sweep bench-store

# The two SMPP peers link only libc: they must not share junction's costs.
$(BUILD)/bench/smsc_fast: bench/smsc_fast.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LDFLAGS)

$(BUILD)/bench/esme_fast: bench/esme_fast.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LDFLAGS)

# The AMQP load tool links librabbitmq and libc only.
$(BUILD)/bench/amqp_load: bench/amqp_load.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LDFLAGS) -lrabbitmq

$(BUILD)/bench/bench_store: bench/bench_store.c $(BUILD)/libjunction.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libjunction.a $(LDFLAGS) $(LDLIBS)

bench-tools: $(BENCH_TOOLS)

BENCH_ENV = JUNCTION_BIN=$(abspath $(BUILD)/junction) \
	  JUNCTIONCTL_BIN=$(abspath $(BUILD)/junctionctl) \
	  SQLITE_INSERT_BIN=$(abspath $(BUILD)/bench/sqlite_insert) \
	  SMSC_FAST_BIN=$(abspath $(BUILD)/bench/smsc_fast) \
	  SQLITE_LIFECYCLE_BIN=$(abspath $(BUILD)/bench/sqlite_lifecycle) \
	  ESME_FAST_BIN=$(abspath $(BUILD)/bench/esme_fast) \
	  AMQP_LOAD_BIN=$(abspath $(BUILD)/bench/amqp_load) \
	  BENCH_STORE_BIN=$(abspath $(BUILD)/bench/bench_store)

bench: all bench-tools
	$(BENCH_ENV) node bench/run_core.mjs $(BENCH_ARGS)

# Kannel (bearerbox, smsbox) and ab (apache2-utils) for bench-smpp, from
# Debian, when missing; nothing else is downloaded.  The Debian kannel
# service is never started: run_smpp.mjs runs its own boxes.
BENCH_SMPP_PKGS := kannel apache2-utils
.PHONY: bench-smpp bench-smpp-deps
bench-smpp-deps:
	@missing=""; for p in $(BENCH_SMPP_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

bench-smpp: all bench-tools bench-smpp-deps
	$(BENCH_ENV) node bench/run_smpp.mjs $(BENCH_ARGS)

# make bench-amqp: AMQP in -> SMPP with receipts out as events, the event
# publisher's drain, the HTTP send API, each beside its raw limit in the same
# run (run_amqp.mjs, a private RabbitMQ node).  wrk from Debian when missing.
# BENCH_ARGS="--count=N --lat-rate=R --lat-seconds=S --fill=N --raw-count=N
#             --http-seconds=S --http-conns=N --parts=a,b,c --store --no-write".
BENCH_AMQP_PKGS := wrk
.PHONY: bench-amqp bench-amqp-deps
bench-amqp-deps:
	@missing=""; for p in $(BENCH_AMQP_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

bench-amqp: all bench-tools bench-amqp-deps
	$(BENCH_ENV) node bench/run_amqp.mjs $(BENCH_ARGS)

bench-sweep: all bench-tools
	$(BENCH_ENV) node bench/run_bench.mjs $(BENCH_ARGS)

bench-store: $(BUILD)/bench/bench_store $(BUILD)/bench/sqlite_insert
	$(BUILD)/bench/bench_store --raw $(abspath $(BUILD)/bench/sqlite_insert) $(BENCH_ARGS)

# make bench-trace: the trace bus's cost per hook (off) and per packet (on)
# (trace_cost.c), then the message path with and without one active trace in
# one run, the ratio recorded in bench/RESULTS.md (run_trace.mjs, ~1 min).
# BENCH_ARGS="--count=N --rounds=N --no-write".
$(BUILD)/bench/trace_cost: $(BUILD)/bench/trace_cost.o $(BUILD)/libjunction.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

.PHONY: bench-trace
bench-trace: all bench-tools $(BUILD)/bench/trace_cost
	$(BUILD)/bench/trace_cost | tee $(BUILD)/bench/trace_cost.txt
	$(BENCH_ENV) node bench/run_trace.mjs --micro=$(abspath $(BUILD)/bench/trace_cost.txt) $(BENCH_ARGS)

# make bench-rates: the rate-table half of the router benchmark (bench_rates.c):
# load time of a 1,000,000-prefix sheet, lookups/s on one core beside a naive
# scan, memory.  BENCH_ARGS="--prefixes N --sample N --seconds S".
$(BUILD)/bench/bench_rates: $(BUILD)/bench/bench_rates.o $(BUILD)/libjunction.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

.PHONY: bench-rates
bench-rates: $(BUILD)/bench/bench_rates
	$(BUILD)/bench/bench_rates $(BENCH_ARGS)

# make bench-router: the compiled rule engine with a 1,000,000-prefix rate
# table (CSV load, 15% least-cost routes) beside a linear scan; load times,
# RSS (bench_router.c; bench/README.md).
# BENCH_ARGS="--prefixes N --lcr-share PCT --seconds S --seed N".
$(BUILD)/bench/bench_router: $(BUILD)/bench/bench_router.o $(BUILD)/libjunction.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

.PHONY: bench-router
bench-router: $(BUILD)/bench/bench_router
	$(BUILD)/bench/bench_router $(BENCH_ARGS)

# make bench-sip-view: the SIP message view's parse + forwarding edits
# beside libosip2's parse + to_str of the same MESSAGE, ns per message and
# the ratio, on one thread (sip_view_bench.c, ~5 s).
# BENCH_ARGS="--count N --rounds R".
$(BUILD)/bench/sip_view_bench: $(BUILD)/bench/sip_view_bench.o $(BUILD)/libjunction.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

.PHONY: bench-sip-view
bench-sip-view: $(BUILD)/bench/sip_view_bench
	$(BUILD)/bench/sip_view_bench $(BENCH_ARGS)

# make bench-sip: junction's SIP proxy beside Kamailio, stateless and
# stateful, the same SIPp MESSAGE and INVITE-ACK-BYE flows at fixed rates
# through each (bench/run_sip.mjs, bench/kamailio-*.cfg, bench/sipp/sip_*.xml):
# the top rate under 0.1 % failures, CPU µs per call, p99, RSS / PSS.
# Kamailio and SIPp from Debian when missing (.ci/deps.sh, JUNCTION_DEPS=bench).
# BENCH_ARGS="--rates=a,b,c --step-s=S --cpu-rate=R --cpu-s=S --flows=message,call
#             --modes=stateless,stateful --proxies=junction,kamailio --no-write".
.PHONY: bench-sip bench-sip-deps
bench-sip-deps:
	@JUNCTION_DEPS=bench sh .ci/deps.sh

bench-sip: all bench-sip-deps
	$(BENCH_ENV) node bench/run_sip.mjs $(BENCH_ARGS)
