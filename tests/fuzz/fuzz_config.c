/*
 * fuzz_config.c — libFuzzer harness: the daemon's configuration file.
 * config__load reads a file, so each input is written to one memory file
 * (memfd) and loaded through /proc/self/fd over the defaults, as
 * `twinctl serve --config` does; then what the daemon asks of a loaded
 * configuration is asked, and it is freed.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fd = -1;
static char path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (fd < 0) {
        fd = memfd_create("twinctl-config", 0);
        if (fd < 0) {
            perror("fuzz: memfd_create");
            abort();
        }
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) != 0 ||
        pwrite(fd, data, size, 0) != (ssize_t)size) {
        perror("fuzz: writing the configuration");
        abort();
    }
    twin_config c;
    twin_errors errs = {0};
    config__defaults(&c);
    config__load(&c, path, &errs);
    config__model_allowed(&c, "tank");
    config__free(&c);
    errors__clear(&errs);
    return 0;
}
