/*
 * jptr.h — resolving an RFC 6901 JSON Pointer in a jansson document.
 *
 * jansson has none.  This one is strict: a pointer is "" (the whole
 * document) or a series of "/token"; in a token "~1" stands for "/" and
 * "~0" for "~", and any other "~" is an error; an array index is "0" or
 * a decimal number without leading zeros, within the array ("-", the
 * element after the last, names nothing to read).  Used where hostile
 * bytes are read (a plant signal's payload, docs/live-twin.md), so it
 * never allocates and never reads past the pointer's text.
 */
#ifndef TWIN_JPTR_H
#define TWIN_JPTR_H

#include <jansson.h>

/* Is ptr a well-formed pointer (syntax only: "", or "/..." with only
 * "~0" and "~1" escapes)?  1 or 0. */
int jptr__valid(const char *ptr);

/* The value ptr names in doc, or NULL with a sentence in why (the
 * pointer is malformed, a member is missing, an index is out of range or
 * not a number, or the path runs into a number, string, true, false or
 * null). */
const json_t *jptr__get(const json_t *doc, const char *ptr, char *why,
                        size_t why_len);

#endif
