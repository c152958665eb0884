/* fuzz_specimport.c: libFuzzer target for the spec parser (revision pages and canonical JSON):
 * any input must give either a spec or an error with a reason, never a crash or a leak. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "specimport.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    specimport_error_t err;
    json_t *r = specimport_parse("fuzz.txt", (const char *)data, size, &err);
    if (!r) {
        if (!err.reason[0])
            __builtin_trap(); /* every refusal says why */
        return 0;
    }
    json_t *ordered = specimport_ordered(json_object_get(r, "spec"));
    char *text = json_dumps(ordered, 0);
    if (text) {
        /* canonical output must read back */
        json_t *again = specimport_parse("again.json", text, strlen(text), &err);
        if (!again)
            __builtin_trap();
        json_decref(again);
    }
    free(text);
    json_decref(ordered);
    json_decref(r);
    return 0;
}
