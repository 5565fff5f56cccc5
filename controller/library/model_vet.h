/*
 * model_vet.h — vetting model plugins in a child process before the host
 * loads them.
 *
 * A plugin's code runs for the first time in a child: dlopen, the entry
 * point, reading the whole descriptor (every string and count), and one
 * call at the start values (create from the default parameters, init,
 * outputs and derivatives or tick, event indicators and each event,
 * destroy), under a
 * time limit per plugin and resource limits.  A plugin that crashes,
 * hangs or has a descriptor the host would refuse gets a verdict saying
 * which phase and why; only a fit one is loaded into the host.  All the
 * plugins of one call are vetted in one child, which reports per plugin
 * over a pipe; when it dies the parent knows which plugin it was vetting
 * and starts another child for the plugins after it.  Verdicts are kept
 * by (path, device, inode, size, mtime), so a reload vets only the files
 * that changed.
 */
#ifndef TWIN_MODEL_VET_H
#define TWIN_MODEL_VET_H

#include <stddef.h>

#define MODVET_SECONDS 5.0   /* each plugin's time limit in the child */

typedef enum modvet_kind {
    MODVET_FIT,       /* loads, checks and runs at its start values */
    MODVET_REFUSED,   /* a problem the host's own checks find (safe) */
    MODVET_DIED,      /* crashed, hung or exited while being vetted */
} modvet_kind;

typedef struct modvet_file {
    const char *path;   /* for the messages */
    int fd;             /* open on the file: the child loads through it */
    modvet_kind kind;   /* the verdict */
    char why[1024];     /* when not fit: one sentence naming the file */
    int transient;      /* a time limit or no process: not kept, a
                         * reload vets the file again */
    char *decl;         /* a fit Python model (*.py): its declaration as
                         * the child imported it (JSON, py_model.h), for
                         * the host to build its descriptor without
                         * running Python; free with modvet__forget */
} modvet_file;

/* The largest declaration a Python model may report. */
#define MODVET_MAX_DECL (1u << 20)

/* Free what a verdict holds (decl). */
void modvet__forget(modvet_file *f);

/* Vet files[0..n) (the cached verdicts without a child), each under a
 * time limit of seconds.  Fills every verdict. */
void modvet__vet(modvet_file *files, size_t n, double seconds);

/* How many vetting children this process has started (for tests). */
unsigned long modvet__children(void);

#endif
