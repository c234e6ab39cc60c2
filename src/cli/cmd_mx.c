/* `mxalloc mx`: fake-quantize, pack or unpack raw little-endian float32 data
 * in one number format, treating the input as rows of 32 values (one MX
 * block each). Output is written atomically (fw_write_atomic). */
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/mx.h"
#include "src/cli/cli.h"
#include "src/cli/cmd.h"
#include "src/file_map.h"
#include "src/file_write.h"

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
            "                   mxfp6_e2m3, mxfp4_e2m1, or a label or alias (mxfp4, e2m1,\n"
            "                   int8, ...: see mxalloc(1), FORMATS)\n"
            "  -i, --in IN      input file\n"
            "  -o, --out OUT    output file (written via a temporary file and rename)\n"
            "      --packed     write the packed encoding instead: element codes, then\n"
            "                   one E8M0 scale byte per block (see mxalloc(1))\n"
            "      --unpack     read a packed IN and write its float32 values\n"
            "      --simd PATH  auto, scalar, avx2 or avx512 (default: $MXALLOC_SIMD, else auto)\n"
            "      --json       print a summary object on stdout\n"
            "  -h, --help       this help\n");
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
    int started = 0;
    while ((c = cli_getopt("mxalloc mx", argc, argv, "f:i:o:", opts, &started)) != -1) {
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
    if (cli_format("mxalloc mx", "--format", fmt_s, &f))
        return 2;
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
            return simd_from[0] == '-' ? 2 : 1; /* an option is usage, the environment is not */
        }
        if (!mx_simd_supported(path)) {
            fprintf(stderr, "mxalloc mx: %s: this CPU cannot run the %s path\n", simd_from, simd_s);
            return 1;
        }
    }

    size_t len = 0;
    char *raw = NULL;
    mx_error e = {0};
    /* a regular file only: `--in /dev/zero` must not read forever */
    if (fw_check_dest(out_path, &e) || fm_read_all(in_path, &raw, &len, &e)) {
        fprintf(stderr, "mxalloc mx: %s\n", e.msg);
        return 1;
    }
    uint8_t *data = (uint8_t *)raw;
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
    if (fw_write_atomic(out_path, out, out_len, &e)) {
        fprintf(stderr, "mxalloc mx: %s\n", e.msg);
        rc = 1;
    } else if (json) {
        printf("{\"format\": \"%s\", \"mode\": \"%s\", \"values\": %zu, \"blocks\": %zu, ", mx_format_name(f),
               unpack ? "unpack" : packed ? "pack" : "fake_quant", n, blockf ? rows : 0);
        printf("\"bytes_in\": %zu, \"bytes_out\": %zu, \"simd\": \"%s\", ", len, out_len,
               mx_simd_name(packed || unpack        ? MX_SIMD_SCALAR /* the codec is scalar */
                            : path == MX_SIMD_AUTO ? mx_simd_best_for(f, rows, cols)
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
