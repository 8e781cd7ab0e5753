/*
 * fuzz_sip_digest.c - libFuzzer target for what a peer controls in digest
 * authentication (adapters/sip/sip_digest.c): the Proxy-Authorization
 * value parser, and what is done with whatever it accepts - the response
 * verified against an HA1 and the nonce checked and used in a table.
 *
 *   make fuzz && build-fuzz/fuzz/fuzz_sip_digest tests/fuzz/corpus/fuzz_sip_digest
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/sip/sip_digest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static sip_nonces_t *t;
    static const char ha1[] = "939e7578ed9e3c518a452acee763bce9";
    sip_digest_cred_t c;
    const char *why = NULL;
    char *text;

    if (t == NULL && (t = sip_nonces_new(NULL)) == NULL)
        return 0;
    if ((text = malloc(size + 1)) == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    if (sip_digest_parse(text, &c, &why) == 0) {
        sip_digest_verify(&c, ha1, "MESSAGE");
        sip_nonce_check(t, c.nonce, c.realm, 1000);
        sip_nonce_use(t, c.nonce, c.realm, 1000, c.nc_value);
    }
    free(text);
    return 0;
}
