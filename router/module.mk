# router/: the rule engine (pure: no I/O, no store).
JUNCTION_SRCS += router/rt.c
# The compiled engine (rt_engine.h): compile, match, explain, swap, zones.
JUNCTION_SRCS += router/rt_compile.c router/rt_compile_action.c router/rt_match.c router/rt_explain.c router/rt_set.c \
                 router/rt_trie.c router/rt_tz.c
