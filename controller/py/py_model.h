/*
 * py_model.h — a Python model (a class in a *.py file, docs/python.md) as
 * the model library sees it: a twin_model_descriptor of ABI 1.2 built
 * from the class's declaration, whose functions call into the class.
 *
 * Two halves, so that the daemon never runs Python.  The declaration is
 * read by importing the file (pymodel__declare) in a process that may run
 * Python — the model library's vetting child, `twinctl check-model`, a
 * run — and crosses to the host as JSON; pymodel__open turns that JSON
 * into a descriptor with plain C and jansson.  The descriptor's functions
 * start the interpreter and import the file only when create() is first
 * called, which happens in the process that runs the simulation (the run
 * the daemon forks, `twinctl run`, a batch case), never in the daemon.
 * There the class's declaration is read again and must be the one the
 * descriptor was made from (the file changed in between: refused).
 *
 * Errors put one sentence into why naming the file, what is wrong and
 * what to do, as a plugin's refusal does.
 */
#ifndef TWIN_PY_MODEL_H
#define TWIN_PY_MODEL_H

#include <stddef.h>

#include "twin_model.h"

/* Whether this twinctl embeds Python (meson's `python` feature). */
int pymodel__available(void);

/* Whether path names a Python model file (*.py). */
int pymodel__is_py(const char *path);

/* Import path and return the declaration of its model classes as JSON
 * (an array, one object per class; malloc'd, one line), or NULL with one
 * sentence in why: an exception at import (its last traceback lines; a
 * missing module named, with how to install it), no model class, or a
 * declaration that is not of the documented form.  Starts the
 * interpreter in this process. */
char *pymodel__declare(const char *path, char *why, size_t why_len);

/* The descriptor of the index-th model class declared by json (from
 * pymodel__declare), whose functions run that class of path; NULL with
 * one sentence in why.  Runs no Python.  Close with
 * pymodel__close(pymodel__of(d)). */
typedef struct pymodel pymodel;
const twin_model_descriptor *pymodel__open(const char *path, const char *json,
                                           size_t index, char *why,
                                           size_t why_len);

/* How many model classes the file of pm declares. */
size_t pymodel__count(const pymodel *pm);

/* The Python model d belongs to, or NULL when d is another model's. */
pymodel *pymodel__of(const twin_model_descriptor *d);

/* The declaration of the file the model was made from (JSON, owned by
 * pm). */
const char *pymodel__json(const pymodel *pm);

void pymodel__close(pymodel **pm);

#endif
