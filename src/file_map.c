#include "src/file_map.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Open a regular file for reading into *fd: 0, or ERR_IO with e set (open_err
 * prefixes the open(2) error). O_NONBLOCK: opening a FIFO must not wait for a
 * writer; only regular files are read, so /dev/zero or a pipe cannot make a
 * reader run or grow forever. */
static int open_regular(const char *path, const char *open_err, struct stat *st, int *fd, mx_error *e)
{
    *fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (*fd < 0)
        return err_set(e, ERR_IO, "%s: %s%s", path, open_err, strerror(errno));
    int en = fstat(*fd, st) != 0 ? errno : 0;
    if (en || !S_ISREG(st->st_mode)) {
        close(*fd);
        *fd = -1;
        return err_set(e, ERR_IO, "%s: %s", path, en ? strerror(en) : S_ISDIR(st->st_mode) ? "is a directory"
                                                                    : "not a regular file");
    }
    return 0;
}

int fm_open(file_map *f, const char *path, mx_error *e)
{
    memset(f, 0, sizeof *f);
    snprintf(f->path, sizeof f->path, "%s", path);
    struct stat st;
    int fd, rc = open_regular(path, "", &st, &fd, e);
    if (rc)
        return rc;
    f->size = (uint64_t)st.st_size;
    if (f->size > 0) {
        /* Loaders read every byte (conversion, hash): fault the pages in up front. */
        void *p = mmap(NULL, (size_t)f->size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
        if (p == MAP_FAILED) {
            int en = errno;
            close(fd);
            return err_set(e, ERR_IO, "%s: mmap: %s", path, strerror(en));
        }
        f->data = p;
    }
    close(fd);
    return 0;
}

void fm_close(file_map *f)
{
    if (f->data)
        munmap((void *)f->data, (size_t)f->size);
    f->data = NULL;
    f->size = 0;
}

int fm_has(const file_map *f, uint64_t off, uint64_t len)
{
    return off <= f->size && len <= f->size - off;
}

int fm_mul(uint64_t a, uint64_t b, uint64_t *out)
{
    if (a && b > UINT64_MAX / a)
        return 0;
    *out = a * b;
    return 1;
}

int fm_add(uint64_t a, uint64_t b, uint64_t *out)
{
    if (b > UINT64_MAX - a)
        return 0;
    *out = a + b;
    return 1;
}

uint32_t fm_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint64_t fm_le64(const uint8_t *p)
{
    return (uint64_t)fm_le32(p) | (uint64_t)fm_le32(p + 4) << 32;
}

int fm_read_all(const char *path, char **out, size_t *len, mx_error *e)
{
    struct stat st;
    int fd, rc = open_regular(path, "cannot open: ", &st, &fd, e);
    if (rc)
        return rc;
    if ((uint64_t)st.st_size >= SIZE_MAX) {
        close(fd);
        return err_set(e, ERR_NOMEM, "%s: too large", path);
    }
    size_t cap = (size_t)st.st_size, n = 0;
    char *buf = malloc(cap + 1);
    int en = 0;
    /* Read what fstat announced; a file that grows meanwhile is cut there. */
    while (buf && n < cap) {
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            en = errno;
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    if (!buf)
        return err_set(e, ERR_NOMEM, "%s: out of memory", path);
    if (en) {
        free(buf);
        return err_set(e, ERR_IO, "%s: read error: %s", path, strerror(en));
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}
