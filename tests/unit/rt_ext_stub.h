/*
 * rt_ext_stub.h - TEMPORARY: building a stub rate table for the engine's
 * tests until the rates branch merges (see rt_ext_stub.c).
 */
#ifndef RT_EXT_STUB_H
#define RT_EXT_STUB_H

#include "router/rt_ext.h"

rt_rates_t *rt_stub_rates_new(const char *name);
int rt_stub_rates_add(rt_rates_t *t, const char *prefix, const char *connector, double cost,
                      const char *currency, int64_t from, int64_t to);
void rt_stub_rates_free(rt_rates_t *t);

#endif
