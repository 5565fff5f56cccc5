/*
 * json_out.h — every message the controller sends, as compact JSON text
 * whose numbers are written as its result rows are (csv.h): the shortest
 * of %.15g and %.17g that reads back to the same double (0.7, not
 * jansson's 0.69999999999999996).  A real that looks like an integer
 * keeps jansson's ".0", so the receiver still tells 1.0 from 1.
 * Members in their order in the object, strings UTF-8 as jansson keeps
 * them, with the escapes JSON requires.
 */
#ifndef TWIN_JSON_OUT_H
#define TWIN_JSON_OUT_H

#include <jansson.h>

/* The text of v (any JSON value), malloc'd; NULL for want of memory. */
char *json_out__dumps(const json_t *v);

#endif
