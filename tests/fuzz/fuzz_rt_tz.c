/*
 * fuzz_rt_tz.c - libFuzzer target for the TZif reader (router/rt_tz.c):
 * any bytes as a zone file must parse or be refused, never read out of
 * bounds; a parsed zone answers offsets for times before, inside and past
 * its table (the footer rule), at the extremes too.
 *
 *   make fuzz && build-fuzz/fuzz/fuzz_rt_tz -max_total_time=60 tests/fuzz/corpus/fuzz_rt_tz
 */
#include <stdint.h>
#include <stdlib.h>

#include "router/rt_tz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int64_t when[] = { INT64_MIN, -4000000000000LL, -2208988800LL, 0,
                                    1774746000, 4109878800LL, 253402300800LL, INT64_MAX };
    char err[128];
    rt_tz_t *z = rt_tz_parse("Fuzz/Zone", data, size, NULL, err, sizeof err);
    if (z != NULL) {
        for (size_t i = 0; i < sizeof when / sizeof when[0]; i++)
            (void)rt_tz_offset(z, when[i]);
        rt_tz_free(z);
    }
    return 0;
}
