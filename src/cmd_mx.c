/* `mxalloc mx`: fake-quantize, pack or unpack raw little-endian float32 data
 * in one number format, treating the input as rows of 32 values (one MX
 * block each). Output is written atomically (temp file + rename). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kernels/mx.h"
#include "src/cmd.h"

#define MX_SYNOPSIS "usage: mxalloc mx --format F --in IN --out OUT [--packed | --unpack] [--simd PATH] [--json]\n"

/* After a usage error: the synopsis only. */
static int usage_error(void)
{
    fprintf(stderr, MX_SYNOPSIS "(mxalloc mx --help for details)\n");
    return 2;
}

static void usage(FILE *f)
{
    fprintf(f,
            MX_SYNOPSIS
            "\n"
            "Fake-quantize raw little-endian float32 data in format F: IN holds rows of 32\n"
            "values (its length must be a multiple of 32 values), each row one MX block;\n"
            "OUT receives the quantized-then-dequantized float32 values.\n"
            "\n"
            "  -f, --format F   fp32, bf16, mxfp8_e4m3, mxfp8_e5m2, mxint8, mxfp6_e3m2,\n"
            "                   mxfp6_e2m3, mxfp4_e2m1 (aliases mxfp8, mxfp6, mxfp4)\n"
            "  -i, --in IN      input file\n"
            "  -o, --out OUT    output file (written via a temporary file and rename)\n"
            "      --packed     write the packed encoding instead: element codes, then\n"
            "                   one E8M0 scale byte per block (see mxalloc(1))\n"
            "      --unpack     read a packed IN and write its float32 values\n"
            "      --simd PATH  auto, scalar, avx2 or avx512 (default: $MXALLOC_SIMD, else auto)\n"
            "      --json       print a summary object on stdout\n"
            "  -h, --help       this help\n");
}

/* Whole file into memory; NULL with errno set on failure. */
static uint8_t *read_all(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
        cap = (size_t)st.st_size + 1;
    uint8_t *buf = malloc(cap);
    if (!buf) {
        close(fd);
        errno = ENOMEM;
        return NULL;
    }
    for (;;) {
        if (n == cap) {
            uint8_t *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                close(fd);
                errno = ENOMEM;
                return NULL;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            free(buf);
            close(fd);
            errno = e;
            return NULL;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    *len = n;
    return buf;
}

/* Write via OUT.XXXXXX in the same directory, then rename over OUT. */
static int write_atomic(const char *path, const void *data, size_t len)
{
    size_t pl = strlen(path);
    char *tmp = malloc(pl + 8);
    if (!tmp) {
        errno = ENOMEM;
        return -1;
    }
    memcpy(tmp, path, pl);
    memcpy(tmp + pl, ".XXXXXX", 8);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        int e = errno;
        free(tmp);
        errno = e;
        return -1;
    }
    mode_t um = umask(0);
    umask(um);
    const uint8_t *p = data;
    size_t left = len;
    int ok = fchmod(fd, 0666 & ~um) == 0;
    while (ok && left) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            ok = 0;
            break;
        }
        p += w;
        left -= (size_t)w;
    }
    int e = errno;
    if (ok && fsync(fd) != 0) {
        ok = 0;
        e = errno;
    }
    if (close(fd) != 0 && ok) {
        ok = 0;
        e = errno;
    }
    if (ok && rename(tmp, path) != 0) {
        ok = 0;
        e = errno;
    }
    if (!ok)
        unlink(tmp);
    free(tmp);
    errno = e;
    return ok ? 0 : -1;
}

static void list_formats(FILE *f)
{
    for (int i = 0; i < MX_NFORMATS; i++)
        fprintf(f, "%s%s", i ? ", " : "", mx_format_name((mx_format)i));
}

static void json_num(const char *key, double v, int last)
{
    if (isfinite(v))
        printf("\"%s\": %.9g%s", key, v, last ? "" : ", ");
    else
        printf("\"%s\": null%s", key, last ? "" : ", ");
}

int cmd_mx(int argc, char **argv)
{
    enum { OPT_PACKED = 256, OPT_UNPACK, OPT_SIMD, OPT_JSON };
    static const struct option opts[] = {
        {"format", required_argument, NULL, 'f'}, {"in", required_argument, NULL, 'i'},
        {"out", required_argument, NULL, 'o'},    {"packed", no_argument, NULL, OPT_PACKED},
        {"unpack", no_argument, NULL, OPT_UNPACK}, {"simd", required_argument, NULL, OPT_SIMD},
        {"json", no_argument, NULL, OPT_JSON},    {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *fmt_s = NULL, *in_path = NULL, *out_path = NULL, *simd_s = NULL;
    int packed = 0, unpack = 0, json = 0, c;
    static char prog[] = "mxalloc mx"; /* getopt's messages name argv[0] */
    if (argc > 0)
        argv[0] = prog;
    optind = 0; /* full getopt reset: argv here is the subcommand's */
    while ((c = getopt_long(argc, argv, "f:i:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'f': fmt_s = optarg; break;
        case 'i': in_path = optarg; break;
        case 'o': out_path = optarg; break;
        case OPT_PACKED: packed = 1; break;
        case OPT_UNPACK: unpack = 1; break;
        case OPT_SIMD: simd_s = optarg; break;
        case OPT_JSON: json = 1; break;
        case 'h': usage(stdout); return 0;
        default: return usage_error();
        }
    }
    if (optind < argc) {
        fprintf(stderr, "mxalloc mx: unexpected argument '%s'\n", argv[optind]);
        return usage_error();
    }
    if (!fmt_s || !in_path || !out_path) {
        fprintf(stderr, "mxalloc mx: %s is required\n", !fmt_s ? "--format" : !in_path ? "--in" : "--out");
        return usage_error();
    }
    if (packed && unpack) {
        fprintf(stderr, "mxalloc mx: --packed and --unpack exclude each other\n");
        return 2;
    }
    mx_format f;
    if (mx_format_parse(fmt_s, &f)) {
        fprintf(stderr, "mxalloc mx: unknown format '%s' (one of: ", fmt_s);
        list_formats(stderr);
        fprintf(stderr, "; aliases mxfp8, mxfp6, mxfp4)\n");
        return 1;
    }
    mx_simd path = MX_SIMD_AUTO;
    const char *simd_from = "--simd";
    if (!simd_s) {
        simd_s = getenv("MXALLOC_SIMD");
        simd_from = "MXALLOC_SIMD";
    }
    if (simd_s && *simd_s) {
        if (mx_simd_parse(simd_s, &path)) {
            fprintf(stderr, "mxalloc mx: %s: unknown path '%s' (auto, scalar, avx2, avx512)\n", simd_from,
                    simd_s);
            return 1;
        }
        if (!mx_simd_supported(path)) {
            fprintf(stderr, "mxalloc mx: %s: this CPU cannot run the %s path\n", simd_from, simd_s);
            return 1;
        }
    }

    size_t len = 0;
    uint8_t *data = read_all(in_path, &len);
    if (!data) {
        fprintf(stderr, "mxalloc mx: %s: %s\n", in_path, strerror(errno));
        return 1;
    }
    int blockf = mx_is_block_format(f);
    size_t rows, cols = MX_BLOCK;
    size_t row_in = unpack ? mx_packed_size(f, 1, cols) : cols * sizeof(float);
    if (len % row_in) {
        if (unpack)
            fprintf(stderr, "mxalloc mx: %s: %zu bytes is not a whole number of packed %s rows of %d values (%zu bytes each)\n",
                    in_path, len, mx_format_name(f), MX_BLOCK, row_in);
        else
            fprintf(stderr, "mxalloc mx: %s: %zu bytes is not a multiple of %d float32 values (%zu bytes)\n",
                    in_path, len, MX_BLOCK, row_in);
        free(data);
        return 1;
    }
    rows = len / row_in;
    size_t n = rows * cols;
    float *vals = malloc(n ? n * sizeof *vals : 1);
    uint8_t *out = NULL;
    size_t out_len = 0;
    double sq = 0, maxerr = 0;
    size_t nerr = 0;
    if (!vals) {
        fprintf(stderr, "mxalloc mx: out of memory for %zu values\n", n);
        free(data);
        return 1;
    }
    if (unpack) {
        if (mx_unpack(f, data, len, rows, cols, vals)) {
            fprintf(stderr, "mxalloc mx: %s: truncated packed data\n", in_path);
            free(data);
            free(vals);
            return 1;
        }
        out = (uint8_t *)vals;
        out_len = n * sizeof *vals;
    } else {
        const float *in = (const float *)data; /* malloc alignment suffices; the host is little-endian */
        if (packed) {
            out_len = mx_packed_size(f, rows, cols);
            out = malloc(out_len ? out_len : 1);
            if (!out) {
                fprintf(stderr, "mxalloc mx: out of memory for %zu bytes\n", out_len);
                free(data);
                free(vals);
                return 1;
            }
            mx_pack(f, in, rows, cols, out);
        } else {
            mx_fake_quant_with(path, 0, f, in, vals, rows, cols);
            for (size_t i = 0; i < n; i++) {
                double e = (double)vals[i] - (double)in[i];
                if (!isfinite(e))
                    continue;
                sq += e * e;
                if (fabs(e) > maxerr)
                    maxerr = fabs(e);
                nerr++;
            }
            out = (uint8_t *)vals;
            out_len = n * sizeof *vals;
        }
    }
    int rc = 0;
    if (write_atomic(out_path, out, out_len)) {
        fprintf(stderr, "mxalloc mx: %s: %s\n", out_path, strerror(errno));
        rc = 1;
    } else if (json) {
        printf("{\"format\": \"%s\", \"mode\": \"%s\", \"values\": %zu, \"blocks\": %zu, ", mx_format_name(f),
               unpack ? "unpack" : packed ? "pack" : "fake_quant", n, blockf ? rows : 0);
        printf("\"bytes_in\": %zu, \"bytes_out\": %zu, \"simd\": \"%s\", ", len, out_len,
               mx_simd_name(packed || unpack        ? MX_SIMD_SCALAR /* the codec is scalar */
                            : path == MX_SIMD_AUTO ? mx_simd_best()
                                                   : path));
        json_num("bits_per_weight", mx_bits_per_weight(f, rows, cols), 0);
        json_num("rmse", !unpack && !packed && nerr ? sqrt(sq / (double)nerr) : NAN, 0);
        json_num("max_abs_err", !unpack && !packed && nerr ? maxerr : NAN, 1);
        printf("}\n");
    }
    if (out != (uint8_t *)vals)
        free(out);
    free(vals);
    free(data);
    return rc;
}
