# router/: the rule engine (pure: no I/O, no store).
JUNCTION_SRCS += router/rt.c
