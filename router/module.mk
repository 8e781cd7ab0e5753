# router/: the rule engine (pure: no I/O, no store).
JUNCTION_SRCS += router/rt.c
# The compiled engine (rt_engine.h): compile, match, explain, swap, zones.
JUNCTION_SRCS += router/rt_compile.c router/rt_compile_action.c router/rt_match.c router/rt_explain.c router/rt_set.c \
                 router/rt_trie.c router/rt_tz.c
# Fuzzed: the TZif reader and the rule compiler with the match path.
FUZZ_TARGETS  += tests/fuzz/fuzz_rt_tz.c tests/fuzz/fuzz_rt_rules.c
# Until the rates branch merges, fuzz_rt_rules links the test stand-ins of
# rt_rates/rt_pick/rt_bucket (tests/unit/rt_ext_stub.c).
$(BUILD)/fuzz/fuzz_rt_rules: $(if $(wildcard router/rt_rates.c),,$(BUILD)/tests/unit/rt_ext_stub.o)
