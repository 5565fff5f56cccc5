/*
 * signals.c — plant signals bound to inputs (signals.h): the scenario's
 * {"signal": {...}} read and checked, and one payload decoded.  Kept out
 * of scenario.c, which calls signals__parse for an input whose profile
 * is a signal.
 */
#include "signals.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jptr.h"
#include "measured.h"
#include "scenario.h"

#define TOPIC_MAX 1024

static const char *const members[] = {"topic", "pointer", "scale", "offset",
                                      "max_age", "timestamp", "on_stale"};

/* An MQTT topic a run may bind: not empty, no wildcard, no NUL, not a
 * broker's $ topic, at most TOPIC_MAX bytes.  NULL or the reason. */
static const char *bad_topic(const json_t *t)
{
    const char *s = json_string_value(t);
    size_t n = json_string_length(t);
    if (n == 0)
        return "a signal's \"topic\" is not empty";
    if (strlen(s) != n)
        return "a signal's \"topic\" holds no NUL character";
    if (n > TOPIC_MAX)
        return "a signal's \"topic\" is at most 1024 bytes";
    if (strpbrk(s, "+#") != NULL)
        return "a signal's \"topic\" is one topic, without the wildcards "
               "'+' and '#'";
    if (s[0] == '$')
        return "a signal's \"topic\" is not one of the broker's own ($...)";
    return NULL;
}

/* A JSON Pointer member (pointer, timestamp): a string, well-formed. */
static char *pointer_member(const json_t *spec, const char *key,
                            const char *path, twin_errors *errs, int *oom)
{
    const json_t *v = json_object_get(spec, key);
    if (v == NULL)
        return NULL;
    if (!json_is_string(v) || !jptr__valid(json_string_value(v)) ||
        strlen(json_string_value(v)) != json_string_length(v)) {
        errors__add_at(errs, json_is_string(v) ? TWIN_E_OUT_OF_RANGE
                                               : TWIN_E_WRONG_TYPE, path, key,
                "\"%s\" is a JSON Pointer (RFC 6901): \"\" or \"/member/0"
                "/...\", with '~' written '~0' and '/' in a name '~1'", key);
        return NULL;
    }
    char *s = strdup(json_string_value(v));
    if (s == NULL)
        *oom = 1;
    return s;
}

enum { ANY, NONZERO, POSITIVE };

/* A number member: finite, and as rule says (ANY, NONZERO, POSITIVE). */
static void number_member(const json_t *spec, const char *key, int rule,
                          const char *path, twin_errors *errs, double *out)
{
    const json_t *v = json_object_get(spec, key);
    if (v == NULL)
        return;
    if (!json_is_number(v)) {
        errors__add_at(errs, TWIN_E_WRONG_TYPE, path, key,
                       "\"%s\" is a number", key);
        return;
    }
    double d = json_number_value(v);
    if (!isfinite(d) || (rule == POSITIVE && !(d > 0)) ||
        (rule == NONZERO && d == 0))
        errors__add_at(errs, TWIN_E_OUT_OF_RANGE, path, key,
                rule == POSITIVE
                ? "\"%s\" is a number of seconds > 0"
                : rule == NONZERO ? "\"%s\" is a finite number other than 0"
                                  : "\"%s\" is a finite number", key);
    else
        *out = d;
}

sc_signal *signals__parse(const json_t *spec, const char *path,
                          twin_errors *errs)
{
    size_t before = errs->count;
    int oom = 0;
    if (!json_is_object(spec)) {
        errors__add(errs, TWIN_E_WRONG_TYPE, path, "\"signal\" is an object: "
                    "{\"topic\": \"plant/TK-101/valve\", \"pointer\": "
                    "\"/value\", ...}");
        return NULL;
    }
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)spec, k, v) {
        size_t i;
        for (i = 0; i < sizeof members / sizeof members[0]; i++)
            if (strcmp(k, members[i]) == 0)
                break;
        if (i == sizeof members / sizeof members[0])
            errors__add_at(errs, TWIN_E_OUT_OF_RANGE, path, k, "a signal "
                           "has no member \"%s\"; it takes topic, pointer, "
                           "scale, offset, max_age, timestamp and on_stale",
                           k);
    }
    sc_signal *sig = calloc(1, sizeof *sig);
    if (sig == NULL)
        return NULL;
    sig->scale = 1;
    sig->max_age = INFINITY;
    const json_t *topic = json_object_get(spec, "topic");
    const char *why;
    if (topic == NULL)
        errors__add(errs, TWIN_E_MISSING_FIELD, path, "a signal needs its "
                    "\"topic\": the MQTT topic the plant publishes it to");
    else if (!json_is_string(topic))
        errors__add_at(errs, TWIN_E_WRONG_TYPE, path, "topic", "%s",
                "a signal's \"topic\" is a string");
    else if ((why = bad_topic(topic)) != NULL)
        errors__add_at(errs, TWIN_E_OUT_OF_RANGE, path, "topic", "%s",
                       why);
    else if ((sig->topic = strdup(json_string_value(topic))) == NULL)
        oom = 1;
    sig->pointer = pointer_member(spec, "pointer", path, errs, &oom);
    sig->timestamp = pointer_member(spec, "timestamp", path, errs, &oom);
    number_member(spec, "scale", NONZERO, path, errs, &sig->scale);
    number_member(spec, "offset", ANY, path, errs, &sig->offset);
    number_member(spec, "max_age", POSITIVE, path, errs, &sig->max_age);
    const json_t *st = json_object_get(spec, "on_stale");
    if (st != NULL) {
        const char *s = json_string_value(st);
        if (s != NULL && strcmp(s, "hold") == 0)
            sig->on_stale = SC_STALE_HOLD;
        else if (s != NULL && strcmp(s, "default") == 0)
            sig->on_stale = SC_STALE_DEFAULT;
        else
            errors__add_at(errs, s ? TWIN_E_OUT_OF_RANGE
                                   : TWIN_E_WRONG_TYPE, path, "on_stale",
                           "%s", "\"on_stale\" is \"hold\" (keep the last "
                           "value) or \"default\" (go back to the input's "
                           "default)");
    }
    if (st != NULL && isinf(sig->max_age) && errs->count == before)
        errors__add_at(errs, TWIN_E_MISSING_FIELD, path, "on_stale", "%s",
                "\"on_stale\" says what a stale signal does, and a signal "
                "is stale only past its \"max_age\": give one");
    if (oom || errs->count != before)
        signals__free(&sig);
    return sig;
}

void signals__free(sc_signal **sig)
{
    if (*sig == NULL)
        return;
    free((*sig)->topic);
    free((*sig)->pointer);
    free((*sig)->timestamp);
    free(*sig);
    *sig = NULL;
}

/* The number at ptr in doc; what names it in why (e.g. "the value"). */
static int number_at(const json_t *doc, const char *ptr, const char *what,
                     double *out, char *why, size_t why_len)
{
    char inner[384];
    const json_t *v = ptr ? jptr__get(doc, ptr, inner, sizeof inner) : doc;
    if (v == NULL) {
        snprintf(why, why_len, "%s: %s", what, inner);
        return -1;
    }
    if (json_is_boolean(v))
        *out = json_is_true(v);
    else if (json_is_number(v))
        *out = json_number_value(v);
    else {
        static const char *const types[] = {"an object", "an array",
                                            "a string", "a number",
                                            "a number", "true", "false",
                                            "null"};
        snprintf(why, why_len, "%s%s%s is %s, not a number", what,
                 ptr ? " at " : "", ptr ? ptr : "",
                 types[json_typeof(v)]);
        return -1;
    }
    return 0;
}

int signals__decode(const sc_signal *sig, const char *payload, size_t len,
                    double *value, double *stamp, char *why, size_t why_len)
{
    json_error_t jerr;
    json_t *doc = json_loadb(payload, len, JSON_DECODE_ANY |
                             JSON_REJECT_DUPLICATES, &jerr);
    double raw = NAN;
    int rc = -1;
    *stamp = NAN;
    if (doc == NULL) {
        snprintf(why, why_len, "the payload is not %s: %s",
                 sig->pointer ? "JSON" : "a number (JSON number text)",
                 jerr.text);
        goto exit;
    }
    if (number_at(doc, sig->pointer, sig->pointer ? "the value"
                                                  : "the payload",
                  &raw, why, why_len) != 0)
        goto exit;
    if (sig->timestamp != NULL &&
        number_at(doc, sig->timestamp, "the time stamp", stamp, why,
                  why_len) != 0)
        goto exit;
    if (sig->timestamp != NULL && !isfinite(*stamp)) {
        snprintf(why, why_len, "the time stamp is not finite");
        goto exit;
    }
    *value = raw * sig->scale + sig->offset;
    if (!isfinite(*value)) {
        snprintf(why, why_len, "the value %g × %g + %g is not finite", raw,
                 sig->scale, sig->offset);
        goto exit;
    }
    rc = 0;
exit:
    json_decref(doc);
    return rc;
}

size_t signals__count(const scenario *sc)
{
    size_t n = 0;
    for (size_t i = 0; i < sc->n_inputs; i++)
        n += sc->inputs[i].profile.kind == SC_PROFILE_SIGNAL;
    for (size_t i = 0; i < sc->n_measured; i++)
        n += sc->measured[i].sig != NULL;
    return n;
}

const sc_signal *signals__at(const scenario *sc, size_t i, const char **name,
                             const char **section, int *measured)
{
    for (size_t k = 0; k < sc->n_inputs; k++)
        if (sc->inputs[k].profile.kind == SC_PROFILE_SIGNAL && i-- == 0) {
            *name = sc->inputs[k].name;
            *section = "/inputs";
            *measured = 0;
            return sc->inputs[k].profile.signal;
        }
    for (size_t k = 0; k < sc->n_measured; k++)
        if (sc->measured[k].sig != NULL && i-- == 0) {
            *name = sc->measured[k].name;
            *section = "/measured";
            *measured = 1;
            return sc->measured[k].sig;
        }
    return NULL;
}
