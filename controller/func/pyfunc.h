/*
 * pyfunc.h — Python function plugins: a .py file in a function directory
 * whose public, type-annotated functions with docstrings are its
 * manifest.  twinctl embeds no Python for them: every use runs the
 * deployment's interpreter (/usr/bin/python3, or bin/python3 of the
 * virtual environment TWIN_PYTHON_VENV names) as a child process on a
 * small runner script shipped with twinctl (pyfunc_runner.py), which
 * either prints the file's manifest or calls one function.  Loading a
 * file thus runs its import-time code in a process of its own too.
 *
 * The functions become fl_function entries of an fl_plugin with
 * `python` set, so that the registry, describe and the argument checks
 * (funcall.h) are the C plugins' own.  Types: float (FL_DOUBLE), int
 * (FL_LONG), bool (FL_BOOL), str (FL_STRING), list[float]
 * (FL_DOUBLE_ARRAY, with no length argument); a return value may also be
 * None (FL_VOID).  docs/functions.md describes the form.
 */
#ifndef TWIN_PYFUNC_H
#define TWIN_PYFUNC_H

#include <stddef.h>

#include <jansson.h>

#include "errors.h"
#include "funclib.h"

/* Seconds the runner may take to import a file and list its functions. */
#define PYFUNC_LOAD_SECONDS 20.0

/* Exit statuses of the runner (pyfunc_runner.py). */
#define PYFUNC_EXIT_IMPORT 3
#define PYFUNC_EXIT_RAISED 4
#define PYFUNC_EXIT_RETURN 5
#define PYFUNC_EXIT_EXEC 127

/* Where the runner script is (paths.c sets the build tree's or the
 * installed one); the default is the installed one. */
void pyfunc__set_runner(const char *path);
const char *pyfunc__runner(void);

/* The interpreter: TWIN_PYTHON_VENV's bin/python3, else
 * /usr/bin/python3.  Written into buf. */
const char *pyfunc__interpreter(char *buf, size_t len);

/* Python's name of a type ("float", "list[float]", "None"). */
const char *pyfunc__type_name(fl_type t);

/* Import path in a child process and build the plugin of its functions.
 * NULL with every problem in errs (a module that does not import: the
 * module named and how to install it). */
fl_plugin *pyfunc__open(const char *path, twin_errors *errs);

/* In a call's child process: run the runner on f with the arguments
 * readable on args_fd (a JSON object) and the result pipe as fd 3.
 * Never returns. */
void pyfunc__exec_call(const fl_function *f, int args_fd)
    __attribute__((noreturn));

/* The runner's answer (out, len bytes, as written to fd 3) and exit
 * status.  Returns the `ok` answer, or NULL with the reason in errs
 * (model_crashed at /function: the exception and where it was raised,
 * the wrong return type, the import that failed). */
json_t *pyfunc__answer(const fl_function *f, int exit_status,
                       const char *out, size_t len, twin_errors *errs);

#endif
