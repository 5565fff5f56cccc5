/*
 * fuzz_request.c — libFuzzer harness: a request payload as it arrives on
 * a request topic.  Parsed as intake.c parses it, its envelope checked
 * with request__check_envelope; a run request's inline "scenario" is
 * composed against the real model and instance libraries with the limits
 * the daemon uses.  Every rejection is checked to reach the wire whole.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <jansson.h>

#include "fuzz_support.h"
#include "request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *req = json_loadb((const char *)data, size,
                             JSON_REJECT_DUPLICATES, NULL);
    if (req == NULL || !json_is_object(req)) {
        json_decref(req);
        return 0;
    }
    twin_errors errs = {0}, inner = {0};
    const char *id = NULL;
    req_type type = REQ__COUNT;
    int rc = request__check_envelope(req, &errs, &id, &type);
    fuzz__check_errors(&errs, "request__check_envelope");
    if ((rc == 0) != (errs.count == 0) ||
        (id != NULL && !request__topic_safe(id)) ||
        (unsigned)type > REQ__COUNT)
        abort(); /* the envelope's answer contradicts itself */
    if (type < REQ__COUNT && request__type_name(type)[0] == '?')
        abort();
    const json_t *member = json_object_get(req, "scenario");
    if (type == REQ_RUN && json_is_object(member)) {
        scenario *sc = scenario__compose(member, fuzz__models(),
                                         fuzz__instances(), &fuzz__limits,
                                         &inner);
        fuzz__check_errors(&inner, "scenario__compose");
        if (sc != NULL)
            fuzz__check_scenario(sc);
        else if (inner.count == 0 && inner.lost == 0)
            abort(); /* refused without a reason */
        scenario__free(&sc);
    }
    errors__clear(&inner);
    errors__clear(&errs);
    json_decref(req);
    return 0;
}
