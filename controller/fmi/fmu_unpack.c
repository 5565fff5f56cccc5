/*
 * fmu_unpack.c — an .fmu archive unpacked into a private cache with
 * libzip, one directory per archive content.
 *
 * The cache entry is named after the SHA-256 of the file's bytes
 * (OpenSSL's libcrypto, already linked for TLS): a collision-resistant
 * hash, so that no archive, however crafted, can take another's entry,
 * and a changed file is a new entry even when its size and time are the
 * old ones.  The file is opened once: the bytes hashed are the bytes
 * unpacked (libzip reads the same descriptor).
 *
 * Concurrent runs and processes: an archive is unpacked into a fresh
 * temporary directory beside the entry (mkdtemp), which is renamed onto
 * the entry's name when complete.  rename(2) is atomic, so an entry that
 * exists is whole; the loser of a race finds the name taken, removes its
 * own copy and uses the winner's.
 *
 * What an archive may not do: name an entry that leaves the directory
 * (an absolute name, a ".." component, a backslash, a drive letter), be a
 * symbolic link, hold an entry twice, be encrypted, or hold more than
 * FMU_MAX_ENTRIES entries or FMU_MAX_UNPACKED bytes unpacked (declared or
 * actual).  Files are created with O_EXCL | O_NOFOLLOW under directories
 * made here, so nothing is written outside the temporary directory.
 *
 * Where the cache is: fmu_unpack__cache_root (fmu.h; docs/fmi.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <zip.h>

#include "fmu.h"

char *fmu_unpack__cache_root(void)
{
    const char *env = getenv(FMU_CACHE_ENV);
    char *out = NULL;
    if (env != NULL && env[0] != '\0')
        return strdup(env);
    const char *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    int n;
    if (xdg != NULL && xdg[0] == '/')
        n = asprintf(&out, "%s/twinctl/fmu", xdg);
    else if (home != NULL && home[0] == '/')
        n = asprintf(&out, "%s/.cache/twinctl/fmu", home);
    else {
        const char *tmp = getenv("TMPDIR");
        n = asprintf(&out, "%s/twinctl-fmu-%lu",
                     tmp != NULL && tmp[0] == '/' ? tmp : "/tmp",
                     (unsigned long)getuid());
    }
    return n < 0 ? NULL : out;
}

/* mkdir -p for the cache root, private to the user. */
static int make_dirs(const char *path)
{
    char buf[4096];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof buf)
        return -1;
    memcpy(buf, path, len + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0700) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(buf, 0700) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

/* The SHA-256 of what fd reads, as 64 hex digits into hex[65]. */
static int hash_fd(int fd, char hex[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    unsigned char buf[65536];
    int rc = -1;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
        goto out;
    for (off_t at = 0;; ) {
        ssize_t n = pread(fd, buf, sizeof buf, at);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            goto out;
        if (n == 0)
            break;
        if (EVP_DigestUpdate(ctx, buf, (size_t)n) != 1)
            goto out;
        at += n;
    }
    if (EVP_DigestFinal_ex(ctx, md, &md_len) != 1 || md_len != 32)
        goto out;
    for (unsigned i = 0; i < md_len; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    rc = 0;
out:
    EVP_MD_CTX_free(ctx);
    return rc;
}

static int remove_one(const char *path, const struct stat *st, int flag,
                      struct FTW *ftw)
{
    (void)st; (void)flag; (void)ftw;
    remove(path);
    return 0;
}

static void remove_tree(const char *dir)
{
    nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Whether an entry's name stays inside the directory: relative, no ".."
 * component, no backslash, no drive letter, no empty name. */
static int name_is_safe(const char *name)
{
    if (name[0] == '\0' || name[0] == '/' || strchr(name, '\\') != NULL)
        return 0;
    if (name[1] == ':')
        return 0;
    const char *p = name;
    while (*p) {
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == 2 && p[0] == '.' && p[1] == '.')
            return 0;
        p += len;
        if (*p == '/')
            p++;
    }
    return 1;
}

/* Create the directories of name's path under dir (name is safe). */
static int make_parents(const char *dir, const char *name)
{
    char buf[4096];
    int n = snprintf(buf, sizeof buf, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= sizeof buf)
        return -1;
    for (char *p = buf + strlen(dir) + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return -1;
        struct stat st;
        if (lstat(buf, &st) != 0 || !S_ISDIR(st.st_mode))
            return -1;
        *p = '/';
    }
    return 0;
}

/* Copy entry i into dir/name, counting the bytes against *total. */
static int extract_file(zip_t *z, zip_uint64_t i, const char *dir,
                        const char *name, uint64_t *total, const char *path,
                        char *why, size_t why_len)
{
    char out[4096];
    snprintf(out, sizeof out, "%s/%s", dir, name);
    if (make_parents(dir, name) != 0) {
        snprintf(why, why_len, "%s: cannot make the folders of entry "
                 "\"%.200s\" in the FMU cache: %s", path, name,
                 strerror(errno));
        return -1;
    }
    int fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                  0644);
    if (fd < 0) {
        snprintf(why, why_len, errno == EEXIST
                 ? "%s: the archive holds entry \"%.200s\" twice (or as a "
                   "file and a folder): not a valid FMU"
                 : "%s: cannot write entry \"%.200s\" into the FMU cache: %s",
                 path, name, strerror(errno));
        return -1;
    }
    zip_file_t *zf = zip_fopen_index(z, i, 0);
    int rc = -1;
    if (zf == NULL) {
        snprintf(why, why_len, "%s: cannot read entry \"%.200s\" of the "
                 "archive: %s", path, name, zip_strerror(z));
        goto out;
    }
    char buf[65536];
    for (;;) {
        zip_int64_t n = zip_fread(zf, buf, sizeof buf);
        if (n < 0) {
            snprintf(why, why_len, "%s: entry \"%.200s\" of the archive is "
                     "damaged: %s", path, name, zip_file_strerror(zf));
            goto out;
        }
        if (n == 0)
            break;
        *total += (uint64_t)n;
        if (*total > FMU_MAX_UNPACKED) {
            snprintf(why, why_len, "%s: the archive unpacks to more than "
                     "%llu bytes: refused as a zip bomb", path,
                     (unsigned long long)FMU_MAX_UNPACKED);
            goto out;
        }
        for (zip_int64_t off = 0; off < n;) {
            ssize_t w = write(fd, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                snprintf(why, why_len, "%s: cannot write entry \"%.200s\" "
                         "into the FMU cache: %s", path, name,
                         strerror(errno));
                goto out;
            }
            off += w;
        }
    }
    rc = 0;
out:
    if (zf != NULL)
        zip_fclose(zf);
    if (close(fd) != 0 && rc == 0) {
        snprintf(why, why_len, "%s: cannot write entry \"%.200s\" into the "
                 "FMU cache: %s", path, name, strerror(errno));
        rc = -1;
    }
    return rc;
}

/* Check every entry, then unpack them all into dir. */
static int extract_all(zip_t *z, const char *dir, const char *path,
                       char *why, size_t why_len)
{
    zip_int64_t n = zip_get_num_entries(z, 0);
    if (n < 0 || (uint64_t)n > FMU_MAX_ENTRIES) {
        snprintf(why, why_len, "%s: the archive has %lld entries, more "
                 "than the %d an FMU may have: refused as a zip bomb",
                 path, (long long)n, FMU_MAX_ENTRIES);
        return -1;
    }
    uint64_t declared = 0;
    for (zip_int64_t i = 0; i < n; i++) {
        zip_stat_t st;
        if (zip_stat_index(z, (zip_uint64_t)i, 0, &st) != 0 ||
            !(st.valid & ZIP_STAT_NAME) || !(st.valid & ZIP_STAT_SIZE)) {
            snprintf(why, why_len, "%s: entry %lld of the archive cannot "
                     "be read: %s", path, (long long)i, zip_strerror(z));
            return -1;
        }
        if (!name_is_safe(st.name)) {
            snprintf(why, why_len, "%s: the archive's entry \"%.200s\" "
                     "names a place outside the FMU (an absolute name or "
                     "\"..\"): refused", path, st.name);
            return -1;
        }
        zip_uint8_t opsys;
        zip_uint32_t attr;
        if (zip_file_get_external_attributes(z, (zip_uint64_t)i, 0, &opsys,
                                             &attr) == 0 &&
            opsys == ZIP_OPSYS_UNIX && S_ISLNK((attr >> 16) & 0xffff)) {
            snprintf(why, why_len, "%s: the archive's entry \"%.200s\" is "
                     "a symbolic link, which an FMU may not hold: refused",
                     path, st.name);
            return -1;
        }
        if ((st.valid & ZIP_STAT_ENCRYPTION_METHOD) &&
            st.encryption_method != ZIP_EM_NONE) {
            snprintf(why, why_len, "%s: the archive's entry \"%.200s\" is "
                     "encrypted: an FMU is not", path, st.name);
            return -1;
        }
        declared += st.size;
        if (declared > FMU_MAX_UNPACKED) {
            snprintf(why, why_len, "%s: the archive declares more than "
                     "%llu bytes unpacked: refused as a zip bomb", path,
                     (unsigned long long)FMU_MAX_UNPACKED);
            return -1;
        }
    }
    uint64_t total = 0;
    for (zip_int64_t i = 0; i < n; i++) {
        const char *name = zip_get_name(z, (zip_uint64_t)i, 0);
        size_t len = strlen(name);
        if (name[len - 1] == '/') {
            char sub[4096];
            snprintf(sub, sizeof sub, "%.*s/x", (int)(len - 1), name);
            if (make_parents(dir, sub) != 0) {
                snprintf(why, why_len, "%s: cannot make folder \"%.200s\" "
                         "in the FMU cache: %s", path, name,
                         strerror(errno));
                return -1;
            }
            continue;
        }
        if (extract_file(z, (zip_uint64_t)i, dir, name, &total, path, why,
                         why_len) != 0)
            return -1;
    }
    return 0;
}

int fmu_unpack__open(const char *path, int given, char **dir, char *why,
                     size_t why_len)
{
    char hex[65];
    char *root = NULL, *entry = NULL, *tmp = NULL;
    zip_t *z = NULL;
    int rc = -1;
    *dir = NULL;
    int fd = given >= 0 ? fcntl(given, F_DUPFD_CLOEXEC, 3)
                        : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(why, why_len, "%s: cannot open the FMU: %s", path,
                 strerror(errno));
        return -1;
    }
    if (hash_fd(fd, hex) != 0) {
        snprintf(why, why_len, "%s: cannot read the FMU: %s", path,
                 strerror(errno));
        goto out;
    }
    root = fmu_unpack__cache_root();
    if (root == NULL || make_dirs(root) != 0) {
        snprintf(why, why_len, "%s: cannot make the FMU cache %s: %s "
                 "(set %s to a writable directory)", path,
                 root ? root : "(none)", strerror(errno), FMU_CACHE_ENV);
        goto out;
    }
    if (asprintf(&entry, "%s/%s", root, hex) < 0) {
        entry = NULL;
        goto oom;
    }
    struct stat st;
    if (stat(entry, &st) == 0 && S_ISDIR(st.st_mode)) {
        *dir = entry;
        entry = NULL;
        rc = 0;
        goto out;
    }
    if (asprintf(&tmp, "%s/.unpack-%.16s-XXXXXX", root, hex) < 0) {
        tmp = NULL;
        goto oom;
    }
    if (mkdtemp(tmp) == NULL) {
        snprintf(why, why_len, "%s: cannot make a folder in the FMU cache "
                 "%s: %s", path, root, strerror(errno));
        free(tmp);
        tmp = NULL;
        goto out;
    }
    if (lseek(fd, 0, SEEK_SET) != 0)
        goto oom;
    int zerr = 0;
    int zfd = dup(fd);
    z = zfd < 0 ? NULL : zip_fdopen(zfd, ZIP_RDONLY, &zerr);
    if (z == NULL) {
        zip_error_t ze;
        zip_error_init_with_code(&ze, zerr);
        snprintf(why, why_len, "%s: not a zip archive, so not an FMU: %s",
                 path, zfd < 0 ? strerror(errno) : zip_error_strerror(&ze));
        zip_error_fini(&ze);
        if (zfd >= 0)
            close(zfd);
        goto out;
    }
    if (extract_all(z, tmp, path, why, why_len) != 0)
        goto out;
    if (chmod(tmp, 0755) != 0 || rename(tmp, entry) != 0) {
        /* Another run won the race: its entry is whole; use it. */
        if (stat(entry, &st) != 0 || !S_ISDIR(st.st_mode)) {
            snprintf(why, why_len, "%s: cannot move the unpacked FMU into "
                     "the cache %s: %s", path, entry, strerror(errno));
            goto out;
        }
    } else {
        free(tmp);
        tmp = NULL;
    }
    *dir = entry;
    entry = NULL;
    rc = 0;
    goto out;
oom:
    snprintf(why, why_len, "%s: out of memory or a failing read while "
             "unpacking the FMU", path);
out:
    if (z != NULL)
        zip_discard(z);
    if (tmp != NULL) {
        remove_tree(tmp);
        free(tmp);
    }
    free(entry);
    free(root);
    close(fd);
    return rc;
}
