/* Atomic output files (temp file + fsync + rename) and the removal of stale
 * temporary files left by killed runs. */
#include "src/file_write.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define STALE_AGE_S (24 * 3600) /* no write of ours takes a day */
#define MAX_LINK_HOPS 40

/* Follow symlinks at path (not only in its directories) to the file a write
 * should replace; that file may not exist yet. Malloc'ed, or NULL with e set. */
static char *resolve_dest(const char *path, struct stat *st, int *exists, mx_error *e)
{
    char *cur = strdup(path);
    if (!cur) {
        err_set(e, ERR_NOMEM, "out of memory");
        return NULL;
    }
    for (int hop = 0;; hop++) {
        if (lstat(cur, st) != 0) {
            if (errno == ENOENT) {
                *exists = 0;
                return cur;
            }
            err_set(e, ERR_IO, "%s: %s", path, strerror(errno));
            free(cur);
            return NULL;
        }
        if (!S_ISLNK(st->st_mode)) {
            *exists = 1;
            return cur;
        }
        if (hop == MAX_LINK_HOPS) {
            err_set(e, ERR_IO, "%s: too many levels of symbolic links", path);
            free(cur);
            return NULL;
        }
        char target[PATH_MAX];
        ssize_t n = readlink(cur, target, sizeof target - 1);
        if (n < 0 || n == (ssize_t)sizeof target - 1) {
            err_set(e, ERR_IO, "%s: cannot read the symbolic link", path);
            free(cur);
            return NULL;
        }
        target[n] = 0;
        char *next;
        const char *slash = strrchr(cur, '/');
        if (target[0] == '/' || !slash)
            next = strdup(target);
        else {
            size_t dl = (size_t)(slash - cur) + 1;
            next = malloc(dl + (size_t)n + 1);
            if (next) {
                memcpy(next, cur, dl);
                memcpy(next + dl, target, (size_t)n + 1);
            }
        }
        free(cur);
        if (!next) {
            err_set(e, ERR_NOMEM, "out of memory");
            return NULL;
        }
        cur = next;
    }
}

/* dir and base of p (dir "." when p has no slash); malloc'ed dir. */
static char *split_dir(const char *p, const char **base)
{
    const char *slash = strrchr(p, '/');
    *base = slash ? slash + 1 : p;
    if (!slash)
        return strdup(".");
    if (slash == p)
        return strdup("/");
    return strndup(p, (size_t)(slash - p));
}

/* The resolved destination, refused unless it is (or will be) a regular
 * file, and the directory it is in (*dir malloc'ed, *base inside dest). */
static char *checked_dest(const char *path, struct stat *st, int *exists, char **dir,
                          const char **base, mx_error *e)
{
    *dir = NULL;
    if (!path[0]) {
        err_set(e, ERR_ARG, "empty output file name");
        return NULL;
    }
    char *dest = resolve_dest(path, st, exists, e);
    if (dest && *exists && !S_ISREG(st->st_mode)) {
        if (S_ISDIR(st->st_mode))
            err_set(e, ERR_IO, "%s: is a directory", path);
        else
            err_set(e, ERR_IO, "%s: not a regular file (device, FIFO or socket): refusing to "
                    "replace it", path);
        free(dest);
        return NULL;
    }
    if (dest && !(*dir = split_dir(dest, base))) {
        err_set(e, ERR_NOMEM, "out of memory");
        free(dest);
        return NULL;
    }
    return dest;
}

int fw_check_dest(const char *path, mx_error *e)
{
    struct stat st;
    int exists, rc = 0;
    const char *base;
    char *dir, *dest = checked_dest(path, &st, &exists, &dir, &base, e);
    if (!dest)
        rc = e ? e->code : ERR_IO;
    else if (access(dir, W_OK | X_OK) != 0)
        rc = err_set(e, ERR_IO, "%s: cannot write in directory %s: %s", path, dir, strerror(errno));
    free(dir);
    free(dest);
    return rc;
}

int fw_is_temp_name(const char *name, const char *base, long *pid)
{
    const char *p;
    if (base) {
        size_t bl = strlen(base);
        if (!bl || strncmp(name, base, bl) || strncmp(name + bl, ".tmp.", 5))
            return 0;
        p = name + bl + 5;
    } else {
        p = strstr(name, ".tmp.");
        if (!p || p == name)
            return 0;
        /* the last ".tmp." is ours: a base may contain the text too */
        for (const char *q; (q = strstr(p + 1, ".tmp."));)
            p = q;
        p += 5;
    }
    long v = 0;
    const char *d = p;
    while (*d >= '0' && *d <= '9' && d - p < 10)
        v = v * 10 + (*d++ - '0');
    if (d == p || *d != '.' || v <= 0)
        return 0;
    d++;
    for (int i = 0; i < 6; i++, d++)
        if (!((*d >= '0' && *d <= '9') || (*d >= 'a' && *d <= 'z') || (*d >= 'A' && *d <= 'Z')))
            return 0;
    if (*d)
        return 0;
    if (pid)
        *pid = v;
    return 1;
}

int fw_clean_stale(const char *dir, const char *base)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int removed = 0;
    time_t now = time(NULL);
    long self = (long)getpid();
    struct dirent *de;
    while ((de = readdir(d))) {
        long pid;
        if (!fw_is_temp_name(de->d_name, base, &pid) || pid == self)
            continue;
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
            continue;
        int gone = pid > INT_MAX || (kill((pid_t)pid, 0) != 0 && errno == ESRCH);
        if ((gone || now - st.st_mtime > STALE_AGE_S) && unlinkat(dirfd(d), de->d_name, 0) == 0)
            removed++;
    }
    closedir(d);
    return removed;
}

int fw_write_atomic(const char *path, const void *buf, size_t len, mx_error *e)
{
    struct stat st;
    int exists;
    const char *base;
    char *dir, *dest = checked_dest(path, &st, &exists, &dir, &base, e);
    if (!dest)
        return e ? e->code : ERR_IO;
    fw_clean_stale(dir, base);
    free(dir);
    size_t n = strlen(dest) + 40;
    char *tmp = malloc(n);
    if (!tmp) {
        free(dest);
        return err_set(e, ERR_NOMEM, "out of memory");
    }
    snprintf(tmp, n, "%s.tmp.%ld.XXXXXX", dest, (long)getpid());
    int fd = mkstemp(tmp);
    if (fd < 0) {
        int rc = err_set(e, ERR_IO, "%s: cannot create a file there: %s", path, strerror(errno));
        free(tmp);
        free(dest);
        return rc;
    }
    /* mkstemp creates 0600: keep the replaced file's mode, else the umask's. */
    mode_t mode;
    if (exists)
        mode = st.st_mode & 07777;
    else {
        mode_t um = umask(0);
        umask(um);
        mode = 0666 & ~um;
    }
    (void)fchmod(fd, mode);
    const unsigned char *p = buf;
    size_t left = len;
    int err = 0;
    while (left && !err) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            err = w < 0 ? errno : EIO;
        else {
            p += w;
            left -= (size_t)w;
        }
    }
    if (!err && fsync(fd) != 0)
        err = errno;
    if (close(fd) != 0 && !err)
        err = errno;
    if (!err && rename(tmp, dest) != 0)
        err = errno;
    if (err)
        unlink(tmp);
    free(tmp);
    free(dest);
    if (err)
        return err_set(e, ERR_IO, "%s: cannot write: %s", path, strerror(err));
    return 0;
}
