/*
 * funclib.h — function plugins: shared objects of plain C functions,
 * each described by a manifest (contract twin.functions/1) that gives
 * every function's name, C symbol, signature, units and documentation.
 *
 * The registry loads manifests (*.json) from the configured function
 * directories only, checks each one completely (every problem named, with
 * a JSON Pointer into the manifest), dlopens the library the manifest
 * names beside it and finds every symbol.  A manifest with any problem is
 * refused whole.  The call itself (arguments checked against the
 * signature, libffi, a child process) is funcall.h's.  docs/functions.md
 * describes the manifest for plugin writers.
 */
#ifndef TWIN_FUNCLIB_H
#define TWIN_FUNCLIB_H

#include <stddef.h>

#include <ffi.h>
#include <jansson.h>

#include "errors.h"

#define FUNCLIB_CONTRACT "twin.functions/1"
#define FUNCLIB_MAX_ARGS 32

/* The C types a function plugin may use, with the C type each stands
 * for.  Integers: int (C int), long (C long), size_t (C size_t). */
typedef enum fl_type {
    FL_VOID,          /* return only: void */
    FL_DOUBLE,        /* double */
    FL_INT,           /* int */
    FL_LONG,          /* long */
    FL_SIZE,          /* size_t */
    FL_DOUBLE_ARRAY,  /* const double * (with "out": double *) */
    FL_INT_ARRAY,     /* const int * */
    FL_BOOL,          /* Python functions only: bool */
    FL_STRING,        /* Python functions only: str */
    FL__COUNT
} fl_type;

typedef struct fl_arg {
    char *name;
    char *unit;              /* "" when none */
    char *doc;
    fl_type type;
    int out;                 /* double array the function writes */
    int length;              /* arrays: index of their length argument */
    int length_of;           /* integers: index of the first array whose
                              * length this is, or -1 */
    int filled;              /* a length some input array fills, or a
                              * Python parameter with a default: the
                              * request may leave it out */
    double min, max;         /* scalars and array elements; ±inf: none */
    size_t min_length, max_length;  /* arrays */
} fl_arg;

struct fl_plugin;

typedef struct fl_function {
    char *name;              /* as requests name it */
    char *symbol;            /* the C symbol */
    char *doc;
    fl_type ret;
    char *ret_unit, *ret_doc;
    fl_arg *args;
    size_t n_args;
    void (*fn)(void);        /* from dlsym */
    ffi_cif cif;             /* prepared once, at load time */
    ffi_type *atypes[FUNCLIB_MAX_ARGS];
    char *signature;         /* "double lmtd(double dt_a, double dt_b)" */
    const struct fl_plugin *plugin;
} fl_function;

typedef struct fl_plugin {
    char *manifest;          /* path of the manifest (NULL from parse) */
    char *library;           /* file name of the shared object */
    char *library_path;      /* where it was loaded from (NULL from parse) */
    char *doc;               /* the manifest's "doc", or NULL */
    void *handle;            /* from dlopen */
    int python;              /* a .py file (pyfunc.h): library_path is
                              * the file, called through its runner */
    fl_function *fns;
    size_t n_fns;
} fl_plugin;

typedef struct func_lib {
    fl_plugin **plugins;
    size_t n_plugins;
} func_lib;

/* "double", "int", "double[]", ... (Python's names: pyfunc.h) */
const char *funclib__type_name(fl_type t);
int funclib__is_array(fl_type t);
int funclib__is_integer(fl_type t);

/* A name a call can use: ASCII letters, digits and _, not starting with
 * a digit, at most 128 characters (C identifiers). */
int funclib__valid_name(const char *s);

/* Check a manifest document and build the plugin it describes.  handle is
 * the dlopen handle of its library (every symbol is looked up in it), or
 * NULL to check the document alone.  Every problem goes to errs, its path
 * a JSON Pointer into the manifest.  Returns the plugin (owning nothing of
 * doc; handle is stored but not owned until funclib__open sets it), or
 * NULL when there was any problem. */
fl_plugin *funclib__parse(const json_t *doc, void *handle, twin_errors *errs);

/* Load one manifest: read it, dlopen the library it names (a file name in
 * the manifest's own directory, never a path), check it.  NULL with every
 * problem in errs (a problem with the file itself has path ""). */
fl_plugin *funclib__open(const char *manifest_path, twin_errors *errs);

void funclib__close(fl_plugin **p);

/* Load every *.json manifest of dir, and every *.py file as a Python
 * function plugin (pyfunc.h) but those whose name starts with _ (modules
 * the others may import).  A refused manifest is reported
 * through log (a line naming the file and how many problems, then a line
 * per problem) and skipped; so is a function whose name is already
 * loaded, with the file it came from.  Returns the number of functions
 * loaded, or -1 when the directory cannot be read. */
typedef void (*funclib_log_fn)(void *ctx, const char *message);
int funclib__load_dir(func_lib *lib, const char *dir, funclib_log_fn log,
                      void *log_ctx);

const fl_function *funclib__find(const func_lib *lib, const char *name);

/* Every function, in load order. */
size_t funclib__count(const func_lib *lib);
const fl_function *funclib__at(const func_lib *lib, size_t i);

/* The describe entry of a function: name, kind "plugin", library,
 * signature, doc, params (name, type, unit, doc, min, max, length /
 * length_of / out where they apply), returns (type, unit, doc). */
json_t *funclib__describe(const fl_function *f);

void funclib__free(func_lib *lib);

#endif
