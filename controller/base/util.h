/*
 * util.h — small helpers shared by every tier: the one monotonic clock,
 * listing a directory.
 */
#ifndef TWIN_UTIL_H
#define TWIN_UTIL_H

#include <stddef.h>

/* The names (not paths) of the entries of dir ending in suffix, sorted so
 * that every host sees the same order.  Returns the count and a malloc'd
 * array of malloc'd names in *names (free with util__free_names), or -1
 * when the directory cannot be read. */
/* Seconds on the monotonic clock (CLOCK_MONOTONIC): for deadlines,
 * durations and rates, never for dates.  The one clock of the controller;
 * pace.c alone keeps a timespec of it, to sleep to an absolute tick. */
double util__now(void);

long util__list_dir(const char *dir, const char *suffix, char ***names);
void util__free_names(char **names, long n);

#endif
