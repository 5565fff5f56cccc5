/*
 * util.c — the monotonic clock and the directory listing that every tier
 * may use (util.h).
 */
#include "util.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double util__now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

long util__list_dir(const char *dir, const char *suffix, char ***names_out)
{
    DIR *dh = opendir(dir);
    if (dh == NULL)
        return -1;
    size_t slen = strlen(suffix);
    char **names = NULL;
    long n = 0;
    struct dirent *de;
    while ((de = readdir(dh)) != NULL) {
        size_t len = strlen(de->d_name);
        if (len <= slen || strcmp(de->d_name + len - slen, suffix) != 0)
            continue;
        char **grown = realloc(names, (size_t)(n + 1) * sizeof *names);
        if (grown == NULL)
            break;
        names = grown;
        if ((names[n] = strdup(de->d_name)) != NULL)
            n++;
    }
    closedir(dh);
    if (n > 0)
        qsort(names, (size_t)n, sizeof *names, by_name);
    *names_out = names;
    return n;
}

void util__free_names(char **names, long n)
{
    for (long i = 0; i < n; i++)
        free(names[i]);
    free(names);
}
