# router/: the rule engine (pure: no I/O, no store).
JUNCTION_SRCS += router/rt.c router/rt_rates.c router/rt_rates_seal.c router/rt_rates_csv.c \
                 router/rt_pick.c router/rt_bucket.c
FUZZ_TARGETS  += tests/fuzz/fuzz_rates_csv.c
