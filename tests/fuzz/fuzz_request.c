/*
 * fuzz_request.c — libFuzzer harness: a request payload as it arrives on
 * a request topic.  Parsed as intake.c parses it, its envelope checked
 * with request__check_envelope; a run or steady request's inline
 * "scenario" is composed against the real model and instance libraries
 * with the limits the daemon uses, and a steady request's "options" and
 * "inputs" read against it.  Every rejection is checked to reach the
 * wire whole, and the request itself written as the controller writes
 * its messages (json_out.c: a set answer echoes its values) must read
 * back to the same JSON.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <jansson.h>

#include "fuzz_support.h"
#include "json_out.h"
#include "request.h"
#include "steady.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *req = json_loadb((const char *)data, size,
                             JSON_REJECT_DUPLICATES, NULL);
    if (req == NULL || !json_is_object(req)) {
        json_decref(req);
        return 0;
    }
    /* The controller's text of it reads back to the same document. */
    char *text = json_out__dumps(req);
    json_t *back = text ? json_loads(text, JSON_REJECT_DUPLICATES, NULL)
                        : NULL;
    if (text == NULL || !json_equal(req, back))
        abort();
    json_decref(back);
    free(text);
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
    if ((type == REQ_RUN || type == REQ_STEADY) && json_is_object(member)) {
        scenario *sc = scenario__compose(member, fuzz__models(),
                                         fuzz__instances(), &fuzz__limits,
                                         &inner);
        fuzz__check_errors(&inner, "scenario__compose");
        if (sc != NULL)
            fuzz__check_scenario(sc);
        else if (inner.count == 0 && inner.lost == 0)
            abort(); /* refused without a reason */
        if (sc != NULL && type == REQ_STEADY) {
            /* What a steady request adds: options and held inputs. */
            steady_options o;
            steady__defaults(&o);
            size_t before = inner.count;
            int bad = steady__read_options(json_object_get(req, "options"),
                                           "/options", &o, &inner) != 0;
            bad |= steady__hold_inputs(sc, json_object_get(req, "inputs"),
                                       "/inputs", &inner) != 0;
            fuzz__check_errors(&inner, "steady");
            if (bad != (inner.count + inner.lost > before))
                abort(); /* a problem without its reason, or the reverse */
        }
        scenario__free(&sc);
    }
    errors__clear(&inner);
    errors__clear(&errs);
    json_decref(req);
    return 0;
}
