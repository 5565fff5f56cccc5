/*
 * cli_opts.h — the options several twinctl commands share, parsed and
 * documented in one place: where the libraries are (--models,
 * --instances, --scenarios, --function-dir) and how to reach the broker
 * (--broker, --prefix and the connection's security flags), and the
 * format of a result file (--format, --compress).
 *
 * A command puts the long-option entries below in its getopt_long table
 * (where they stood before: the order decides how an ambiguous
 * abbreviation is reported), the help text in its usage, and hands each
 * option getopt_long returns to cli_opts__library() or
 * cli_opts__security(); what they refuse they say themselves, as
 * "twinctl CMD: ...".  The commands' own options stay in their files.
 */
#ifndef TWIN_CLI_OPTS_H
#define TWIN_CLI_OPTS_H

#include <getopt.h>

#include "mqtt.h"
#include "errors.h"
#include "paths.h"
#include "rows_out.h"

#include <jansson.h>

#define CLI_DEFAULT_BROKER "tcp://127.0.0.1:1883"

/* getopt_long values of the shared options (above every short option). */
enum {
    CLI_OPT_MODELS = 0x300,
    CLI_OPT_INSTANCES,
    CLI_OPT_SCENARIOS,
    CLI_OPT_FUNCTION_DIR,
    CLI_OPT_CA_FILE,
    CLI_OPT_CERT,
    CLI_OPT_KEY,
    CLI_OPT_USERNAME,
    CLI_OPT_PASSWORD_FILE,
    CLI_OPT_PASSWORD,      /* refused: listed so that getopt_long does not
                            * take --password as short for --password-file
                            * (and a password for a file name) */
    CLI_OPT_REFUSED,       /* cli_opts__getopt: a library option refused */
    CLI_OPT_FORMAT,
    CLI_OPT_COMPRESS,
    CLI_OPT_PYTHON_VENV
};

/* ---- the libraries --------------------------------------------------------- */

#define CLI_MODELS_LONGOPT {"models", required_argument, NULL, CLI_OPT_MODELS}
#define CLI_INSTANCES_LONGOPT                                           \
    {"instances", required_argument, NULL, CLI_OPT_INSTANCES}
#define CLI_SCENARIOS_LONGOPT                                           \
    {"scenarios", required_argument, NULL, CLI_OPT_SCENARIOS}
#define CLI_FUNCTION_DIR_LONGOPT                                        \
    {"function-dir", required_argument, NULL, CLI_OPT_FUNCTION_DIR}
/* The virtual environment of Python models: sets TWIN_PYTHON_VENV, which
 * the processes that run them inherit (docs/python.md). */
#define CLI_PYTHON_VENV_LONGOPT                                         \
    {"python-venv", required_argument, NULL, CLI_OPT_PYTHON_VENV}

/* The options of a command that composes scenarios here (run, steady,
 * batch, plot): a scenario's functions may name the function library's. */
#define CLI_LIBRARY_LONGOPTS                                            \
    CLI_MODELS_LONGOPT, CLI_INSTANCES_LONGOPT, CLI_SCENARIOS_LONGOPT,   \
    CLI_FUNCTION_DIR_LONGOPT, CLI_PYTHON_VENV_LONGOPT

/* Their help, in the column of run, batch and plot. */
#define CLI_LIBRARY_USAGE                                               \
    "      --models DIR     load model plugins from DIR too (repeatable;\n" \
    "                       also TWIN_MODEL_PATH=DIR:DIR)\n"           \
    "      --instances DIR  instance library (default: instance-library/)\n" \
    "      --scenarios DIR  where scenario names are looked up\n"          \
    "      --function-dir DIR  function plugins, C or Python, that a\n"   \
    "                       scenario's functions may name (repeatable;\n" \
    "                       also TWIN_FUNCTION_PATH)\n"                  \
    "      --python-venv DIR  Python models and functions: the virtual\n" \
    "                       environment whose packages they import\n"    \
    "                       (also TWIN_PYTHON_VENV; docs/python.md)\n"

/* Take option c, with its argument, into p (arg is borrowed).  Returns 1
 * when it was one of the library options, 0 when it is not, -1 for one
 * --models too many (PATHS_MAX_MODEL_DIRS), said as "twinctl CMD: too
 * many --models".  With cmd NULL such a directory is left out without a
 * word, as `serve` and `models` always did. */
int cli_opts__library(const char *cmd, int c, const char *arg,
                      twin_paths *p);

/* getopt_long(argc, argv, shortopts, longopts, NULL) that takes the
 * library options itself (cli_opts__library(cmd, ..., p)) and returns
 * the next other one: -1 at the end, CLI_OPT_REFUSED for a library
 * option refused (said). */
int cli_opts__getopt(const char *cmd, int argc, char **argv,
                     const char *shortopts, const struct option *longopts,
                     twin_paths *p);

/* The libraries of a command that composes a scenario here (run,
 * steady): where they are (the options above) and what was loaded. */
typedef struct cli_library {
    twin_paths paths;
    model_lib models;
    instance_lib instances;
    func_lib functions;      /* loaded by cli_opts__compose when needed */
} cli_library;

struct scenario;

/* Compose doc against lib: the function library is loaded first when a
 * "functions" entry names a function that is no built-in (fn_library.h).
 * NULL with every problem in errs. */
struct scenario *cli_opts__compose(cli_library *lib, const json_t *doc,
                                   int quiet, twin_errors *errs);

/* The scenario document name (a file, or a name in the scenario
 * directory) into *doc, and the libraries it is composed against.  Returns 0, 2 for a document that cannot be read ("twinctl
 * CMD: WHY [bad_json]" said), 1 when no model could be loaded (said). */
int cli_opts__load(const char *cmd, const char *name, cli_library *lib,
                   int quiet, json_t **doc);

/* "twinctl CMD: scenario NAME rejected, N problems:" and each of them. */
void cli_opts__rejected(const char *cmd, const char *name,
                        const twin_errors *errs);

void cli_opts__free_library(cli_library *lib);

/* ---- result files ---------------------------------------------------------- */

/* --format and --compress (run, submit, batch). */
#define CLI_FILE_LONGOPTS                                               \
    {"format", required_argument, NULL, CLI_OPT_FORMAT},                \
    {"compress", optional_argument, NULL, CLI_OPT_COMPRESS}
#define CLI_FILE_USAGE                                                  \
    "      --format F       the rows' file format: csv, mat (MAT v4, the\n" \
    "                       Modelica tools' layout), hdf5 or none (no\n" \
    "                       rows; default: from the file's extension,\n" \
    "                       .mat, .h5 or .hdf5, else csv)\n"            \
    "      --compress[=N]   HDF5: deflate the rows at level N (1-9,\n"   \
    "                       default 1; off unless given)\n"

/* What --format and --compress said. */
typedef struct cli_file {
    int format_given;
    rows_format format;
    rows_options options;
} cli_file;

/* Take option c, with its argument, into f.  Returns 1 when it was one of
 * them, 0 when it is not, -1 for a bad value (said as "twinctl CMD: ..."). */
int cli_opts__file(const char *cmd, int c, const char *arg, cli_file *f);

/* The format of the rows written to path (NULL: stdout): --format's, else
 * path's extension's.  Returns 0, or -1 (said) for a binary format to
 * stdout. */
int cli_opts__file_format(const char *cmd, const cli_file *f,
                          const char *path, rows_format *format);

/* ---- the broker ------------------------------------------------------------ */

/* --broker's default: $TWIN_BROKER when set and not empty, else
 * CLI_DEFAULT_BROKER. */
const char *cli_opts__broker(void);

/* The help of --broker and --prefix (submit, status). */
#define CLI_BROKER_USAGE                                                \
    "      --broker URL     broker (default $TWIN_BROKER, else\n"      \
    "                       " CLI_DEFAULT_BROKER ")\n"                 \
    "      --prefix P       topic prefix (default twin)\n"

/* A topic prefix holds no + or # and is not empty; else "twinctl CMD: the
 * prefix 'P' cannot hold + or # or be empty" is said and -1 returned. */
int cli_opts__prefix(const char *cmd, const char *prefix);

/* --encoding E (submit, batch): the encoding of a run's result messages
 * to ask for, "cbor" (the default: no text between the solver's doubles
 * and the rows written) or "json".  Returns 0 with *out set to arg, or
 * says what is wrong ("twinctl CMD: ...") and returns -1. */
int cli_opts__encoding(const char *cmd, const char *arg, const char **out);

#define CLI_ENCODING_USAGE                                              \
    "      --encoding E     result messages in E: cbor (the default) or\n" \
    "                       json (what controllers before CBOR send)\n"

/* The flags for the broker connection's security, the same for every
 * command that connects as an orchestrator (submit, status, batch).  The
 * password never comes from the command line: only its file, or
 * TWIN_MQTT_PASSWORD (mqtt.h). */
#define CLI_SECURITY_LONGOPTS                                           \
    {"ca-file", required_argument, NULL, CLI_OPT_CA_FILE},             \
    {"cert", required_argument, NULL, CLI_OPT_CERT},                   \
    {"key", required_argument, NULL, CLI_OPT_KEY},                     \
    {"username", required_argument, NULL, CLI_OPT_USERNAME},           \
    {"password-file", required_argument, NULL, CLI_OPT_PASSWORD_FILE}, \
    {"password", required_argument, NULL, CLI_OPT_PASSWORD}

#define CLI_SECURITY_USAGE                                              \
    "Connection security (a --broker URL ssl://HOST:PORT or mqtts:// uses\n" \
    "TLS and checks the broker's certificate and host name):\n"        \
    "      --ca-file FILE   CA certificates (PEM) to check the broker's\n" \
    "                       certificate against (default: the system's)\n" \
    "      --cert FILE      client certificate (PEM), if the broker asks\n" \
    "                       for one\n"                                  \
    "      --key FILE       its private key (PEM), if not in --cert's file\n" \
    "      --username NAME  log in as NAME; the password is the first line\n" \
    "                       of --password-file FILE, else\n"            \
    "                       $TWIN_MQTT_PASSWORD (never a flag: a command\n" \
    "                       line is visible to every user)\n"           \
    "      --password-file FILE\n"                                      \
    "                       the file whose first line is the password\n"

/* Take security flag c, with its argument, into o (borrowed).  Returns 1
 * when it was one, 0 when it is not, -1 for --password: refused, and
 * said as "twinctl CMD: there is no --password: ...". */
int cli_opts__security(const char *cmd, int c, const char *arg,
                       mqtt_options *o);

#endif
