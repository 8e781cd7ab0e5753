# router/: the rule engine (pure: no I/O, no store).
# Rate tables (rt_rates.h), strategies (rt_pick.h), the token bucket (rt_bucket.h).
JUNCTION_SRCS += router/rt_csv.c router/rt_rates.c router/rt_rates_seal.c router/rt_rates_csv.c \
                 router/rt_pick.c router/rt_bucket.c
# The compiled engine (rt_engine.h): compile, match, explain, swap, zones.
JUNCTION_SRCS += router/rt_compile.c router/rt_compile_action.c router/rt_match.c router/rt_explain.c router/rt_set.c \
                 router/rt_trie.c router/rt_tz.c
# Fuzzed: the rate sheet reader, the TZif reader and the rule compiler with the match path.
FUZZ_TARGETS  += tests/fuzz/fuzz_rates_csv.c tests/fuzz/fuzz_rt_tz.c tests/fuzz/fuzz_rt_rules.c
