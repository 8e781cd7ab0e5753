/*
 * fuzz_rates_csv.c - libFuzzer target for rate sheets (router/rt_rates_csv.c):
 * a sheet arrives through the MI (rates.import) from whoever holds a login,
 * so every byte sequence must give either a table or errors, never a crash.
 * When a sheet loads, the table must survive the round trip: its export
 * parses again, seals, and exports to the same text (else abort).
 *
 *   make fuzz && build-fuzz/fuzz/fuzz_rates_csv tests/fuzz/corpus/fuzz_rates_csv
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "router/rt_rates.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rt_csv_errors_t errs;
    rt_rate_hit_t hits[4];
    rt_rates_t *t = rt_rates_new("fuzz"), *u = NULL;
    char *out1 = NULL, *out2 = NULL, err[160];
    size_t len1 = 0, len2 = 0;

    if (t == NULL)
        return 0;
    if (rt_rates_parse_csv((const char *)data, size, t, &errs) != 0) {
        if (rt_rates_count(t) != 0)
            abort();  /* a refused sheet imports nothing */
        goto out;
    }
    if (rt_rates_seal(t, err, sizeof err) != 0)
        goto out;
    (void)rt_rates_lookup(t, "4915123456789", 1767225600, hits, 4);
    if (size > 0) {  /* the sheet's last bytes as a number */
        char num[24];
        size_t n = size < sizeof num - 1 ? size : sizeof num - 1;
        memcpy(num, data + size - n, n);
        num[n] = '\0';
        (void)rt_rates_lookup(t, num, 0, hits, 4);
    }
    if (rt_rates_export_csv(t, &out1, &len1) != 0)
        goto out;
    if ((u = rt_rates_new("again")) == NULL)
        goto out;
    if (rt_rates_parse_csv(out1, len1, u, &errs) != 0 || rt_rates_seal(u, err, sizeof err) != 0)
        abort();
    if (rt_rates_export_csv(u, &out2, &len2) != 0)
        goto out;
    if (len1 != len2 || memcmp(out1, out2, len1) != 0)
        abort();
out:
    free(out1);
    free(out2);
    rt_rates_free(u);
    rt_rates_free(t);
    return 0;
}
