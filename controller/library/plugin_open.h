/*
 * plugin_open.h — dlopen of a shared object by what the file is (its
 * device and inode), not by its name.
 *
 * dlopen() returns the handle it already has when the name it is given
 * matches a loaded object's, even when that name now leads to another
 * file: a plugin replaced by rename(2) and reloaded kept the old code.
 * Here a plugin is loaded through "/proc/self/fd/N" of a descriptor
 * opened on the file, a name no other loaded object can have, and objects
 * are shared by (device, inode): the same file is mapped once, a new file
 * at the same path is a new object.  Without /proc the plugin is loaded
 * by its path, as before.
 */
#ifndef TWIN_PLUGIN_OPEN_H
#define TWIN_PLUGIN_OPEN_H

#include <stddef.h>

/* dlopen (RTLD_NOW | RTLD_LOCAL) the file fd is open on; fd stays the
 * caller's.  Returns the handle (give it to plugin_open__close), or NULL
 * with one sentence naming path in why. */
void *plugin_open__fd(int fd, const char *path, char *why, size_t why_len);

/* The name to give dlopen for fd ("/proc/self/fd/N"). */
void plugin_open__name(int fd, char *name, size_t len);

/* The descriptors the loaded objects' names stand for, sorted, into
 * fds[0..max); returns how many there are.  A child process that loads
 * plugins itself must keep them open: a name whose descriptor is closed
 * could be taken by the next file opened. */
size_t plugin_open__fds(int *fds, size_t max);

/* Release a handle from plugin_open__fd; the object is unmapped when it
 * was the last one. */
void plugin_open__close(void *handle);

#endif
