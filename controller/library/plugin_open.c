/*
 * plugin_open.c — dlopen of a shared object by its device and inode
 * (plugin_open.h).
 *
 * glibc finds an already-loaded object first by name (the name given to
 * dlopen and every other name it was opened by), then by device and
 * inode.  Each object opened here is opened through "/proc/self/fd/N" of
 * a descriptor of our own that stays open as long as the object is
 * loaded, so every such name in the process belongs to an open descriptor
 * and a descriptor just opened on a new file has a name no loaded object
 * has.  Objects are counted here by (device, inode): a second open of the
 * same file shares the handle.  When the last user closes an object and
 * glibc still keeps it (another object depends on it, or it is marked
 * NODELETE) its descriptor is kept open for the life of the process, so
 * its name keeps meaning that file.
 */
#include "plugin_open.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct loaded {
    struct loaded *next;
    void *handle;
    int fd;             /* ours; its name is the object's */
    dev_t dev;
    ino_t ino;
    unsigned refs;
} loaded;

static loaded *objects;
static int *kept;          /* descriptors of objects glibc kept */
static size_t n_kept;

void plugin_open__name(int fd, char *name, size_t len)
{
    snprintf(name, len, "/proc/self/fd/%d", fd);
}

/* dlerror() names the object by the name it was given: name the file. */
static void say_dlerror(const char *path, const char *name, char *why,
                        size_t why_len)
{
    const char *e = dlerror();
    size_t n = strlen(name);
    if (e == NULL)
        e = "unknown error";
    else if (strncmp(e, name, n) == 0 && strncmp(e + n, ": ", 2) == 0)
        e += n + 2;
    snprintf(why, why_len, "cannot load %s: %s", path, e);
}

void *plugin_open__fd(int fd, const char *path, char *why, size_t why_len)
{
    struct stat st;
    char name[64];
    if (fstat(fd, &st) != 0) {
        snprintf(why, why_len, "cannot load %s: %s", path, strerror(errno));
        return NULL;
    }
    for (loaded *o = objects; o; o = o->next)
        if (o->dev == st.st_dev && o->ino == st.st_ino) {
            o->refs++;
            return o->handle;
        }
    loaded *o = calloc(1, sizeof *o);
    if (o == NULL) {
        snprintf(why, why_len, "cannot load %s: out of memory", path);
        return NULL;
    }
    o->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (o->fd < 0) {
        snprintf(why, why_len, "cannot load %s: %s", path, strerror(errno));
        free(o);
        return NULL;
    }
    plugin_open__name(o->fd, name, sizeof name);
    /* Without /proc (a bare container) only the name is left, and with
     * it the old behaviour: a file renamed over a loaded one is not seen
     * until the old one is unloaded. */
    char local[4096];
    const char *by = name;
    if (access(name, R_OK) != 0) {
        /* dlopen needs a slash to load a file rather than search. */
        snprintf(local, sizeof local, "%s%s",
                 strchr(path, '/') ? "" : "./", path);
        by = local;
    }
    o->handle = dlopen(by, RTLD_NOW | RTLD_LOCAL);
    if (o->handle == NULL) {
        say_dlerror(path, by, why, why_len);
        close(o->fd);
        free(o);
        return NULL;
    }
    o->dev = st.st_dev;
    o->ino = st.st_ino;
    o->refs = 1;
    o->next = objects;
    objects = o;
    return o->handle;
}

static int by_number(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

size_t plugin_open__fds(int *fds, size_t max)
{
    size_t n = 0;
    for (loaded *o = objects; o; o = o->next, n++)
        if (n < max)
            fds[n] = o->fd;
    for (size_t i = 0; i < n_kept; i++, n++)
        if (n < max)
            fds[n] = kept[i];
    if (n > 0 && max > 0)
        qsort(fds, n < max ? n : max, sizeof *fds, by_number);
    return n;
}

/* glibc keeps the object: so its name must keep meaning this file. */
static void keep(int fd)
{
    int *more = realloc(kept, (n_kept + 1) * sizeof *kept);
    if (more == NULL)
        return; /* the descriptor stays open all the same */
    kept = more;
    kept[n_kept++] = fd;
}

void plugin_open__close(void *handle)
{
    loaded **p = &objects;
    while (*p && (*p)->handle != handle)
        p = &(*p)->next;
    loaded *o = *p;
    if (o == NULL || --o->refs > 0)
        return;
    *p = o->next;
    char name[64];
    plugin_open__name(o->fd, name, sizeof name);
    dlclose(o->handle);
    void *still = dlopen(name, RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
    if (still != NULL) {
        dlclose(still);
        keep(o->fd);
    } else
        close(o->fd);
    free(o);
}
