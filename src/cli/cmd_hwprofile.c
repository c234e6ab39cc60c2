/* mxalloc hwprofile [MODEL] [--shapes RxC,...]: time this machine's packed
 * linears per format and shape, write the cost table (src/hw_table.h). */
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "kernels/mx.h"
#include "src/cli/cli.h"
#include "src/cli/cmd.h"
#include "src/hw_table.h"
#include "src/hwprofile.h"
#include "src/model.h"

#define HWP_MAX_SHAPES 64
#define HWP_DEFAULT_CTX_CAP 2048 /* ppl's default window: the batch it runs */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mxalloc hwprofile [MODEL] [--shapes RxC[,RxC...]] [--batch B]\n"
            "                         [--formats LIST] [--samples N] [--out FILE]\n\n"
            "Time dequantize + GEMM of the packed linears (what `ppl --packed` runs) per\n"
            "format and module shape at a batch of B tokens on this machine, and write the\n"
            "cost table alloc/sweep/tui read with --hw-table (mxalloc(1), HARDWARE TABLE).\n"
            "With MODEL, its linears' shapes timed inside its forward pass (every linear in\n"
            "one format per pass) and an overhead row: the rest of that pass and the loss\n"
            "per token, which the linears' sum does not cover. --shapes alone: each\n"
            "shape timed in a loop of its own.\n\n"
            "  --shapes LIST   weight shapes ROWSxCOLS (out x in), instead of or besides\n"
            "                  MODEL's\n"
            "  --batch B       tokens per call (default: ppl's window for MODEL, its\n"
            "                  context up to %d; 512 without MODEL)\n"
            "  --formats LIST  formats to time (default: every format mxalloc knows)\n"
            "  --samples N     timed samples per cell, the median is kept (default 9)\n"
            "  --out FILE      write the table (atomically); default: standard output only\n",
            HWP_DEFAULT_CTX_CAP);
}

/* "64x172,32x64" into rows/cols after the n already there; 0 or 2 after a message. */
static int parse_shapes(const char *s, int *rows, int *cols, int *n)
{
    const char *p = s;
    while (*p) {
        size_t len = strcspn(p, ",");
        char item[64];
        int r, c, used = 0;
        if (len == 0 || len >= sizeof item) {
            fprintf(stderr, "mxalloc hwprofile: --shapes: bad list '%s' (want ROWSxCOLS,...)\n", s);
            return 2;
        }
        memcpy(item, p, len);
        item[len] = 0;
        if (sscanf(item, "%d%*[xX]%d%n", &r, &c, &used) != 2 || item[used] || r <= 0 || c <= 0 ||
            r > HW_TABLE_MAX_DIM || c > HW_TABLE_MAX_DIM) {
            fprintf(stderr, "mxalloc hwprofile: --shapes: '%s' is not ROWSxCOLS with sizes in 1..%d\n", item,
                    HW_TABLE_MAX_DIM);
            return 2;
        }
        int k = 0;
        while (k < *n && !(rows[k] == r && cols[k] == c))
            k++;
        if (k == *n) {
            if (*n == HWP_MAX_SHAPES) {
                fprintf(stderr, "mxalloc hwprofile: --shapes: more than %d shapes\n", HWP_MAX_SHAPES);
                return 2;
            }
            rows[*n] = r;
            cols[(*n)++] = c;
        }
        p += len + (p[len] == ',');
    }
    return 0;
}

/* "x86_64, Intel(R) Xeon(R) ..., 2 cpus, mx simd avx2" */
static void describe_machine(char *buf, size_t n)
{
    struct utsname u;
    char cpu[160] = "unknown cpu";
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[512];
        while (fgets(line, sizeof line, f))
            if (!strncmp(line, "model name", 10) && strchr(line, ':')) {
                const char *v = strchr(line, ':') + 1;
                v += strspn(v, " \t");
                snprintf(cpu, sizeof cpu, "%.*s", (int)strcspn(v, "\n"), v);
                break;
            }
        fclose(f);
    }
    char safe[160];
    err_escape(safe, sizeof safe, cpu);
    snprintf(buf, n, "%s, %s, %ld cpus, mx simd %s", uname(&u) ? "?" : u.machine, safe,
             sysconf(_SC_NPROCESSORS_ONLN), mx_simd_name(mx_simd_best()));
}

int cmd_hwprofile(int argc, char **argv)
{
    static const char prog[] = "mxalloc hwprofile";
    enum { O_SHAPES = 1, O_BATCH, O_FORMATS, O_SAMPLES, O_OUT };
    static const struct option opts[] = {
        {"shapes", required_argument, NULL, O_SHAPES},   {"batch", required_argument, NULL, O_BATCH},
        {"formats", required_argument, NULL, O_FORMATS}, {"samples", required_argument, NULL, O_SAMPLES},
        {"out", required_argument, NULL, O_OUT},         {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int rows[HWP_MAX_SHAPES], cols[HWP_MAX_SHAPES], n_shapes = 0, ch, started = 0;
    mx_format fmts[MX_NFORMATS];
    int n_fmts = 0;
    long batch = 0, samples = 0;
    const char *out_path = NULL;
    while ((ch = cli_getopt(prog, argc, argv, NULL, opts, &started)) != -1) {
        switch (ch) {
        case 'h': usage(stdout); return 0;
        case O_SHAPES:
            if (parse_shapes(optarg, rows, cols, &n_shapes))
                return 2;
            break;
        case O_BATCH:
            if (cli_long(prog, "--batch", optarg, 1, 1 << 20, &batch))
                return 2;
            break;
        case O_SAMPLES:
            if (cli_long(prog, "--samples", optarg, 1, 1000, &samples))
                return 2;
            break;
        case O_FORMATS:
            if (cli_format_list(prog, "--formats", optarg, fmts, &n_fmts))
                return 2;
            break;
        case O_OUT: out_path = optarg; break;
        default: usage(stderr); return 2;
        }
    }
    if (optind + 1 < argc) {
        fprintf(stderr, "%s: unexpected argument '%s'\n", prog, argv[optind + 1]);
        return 2;
    }
    const char *model_path = optind < argc ? argv[optind] : NULL;
    if (!model_path && !n_shapes) {
        fprintf(stderr, "%s: give a MODEL or --shapes\n", prog);
        usage(stderr);
        return 2;
    }
    if (!n_fmts) /* every format the packed path runs */
        for (int f = 0; f < MX_NFORMATS; f++)
            if (mx_traits_of((mx_format)f)->scale_type == MX_SCALE_E8M0)
                fmts[n_fmts++] = (mx_format)f;

    mx_error e = {0};
    model m;
    int have_m = 0, rc = 1;
    hw_table t;
    hw_table_init(&t);
    hwprof_opts o;
    hwprof_opts_init(&o);
    if (samples)
        o.samples = (int)samples;
    if (model_path) {
        if (model_load(model_path, &m, &e)) {
            fprintf(stderr, "%s: %s\n", prog, e.msg);
            return 1;
        }
        have_m = 1;
        if (!batch)
            batch = m.cfg.max_seq < HWP_DEFAULT_CTX_CAP ? m.cfg.max_seq : HWP_DEFAULT_CTX_CAP;
        int trained = model_extend_ctx(&m, batch);
        if (trained)
            fprintf(stderr, "warning: --batch %ld exceeds the model's trained context %d\n", batch, trained);
    }
    o.batch = batch ? (int)batch : 512;
    describe_machine(t.machine, sizeof t.machine);
    if (have_m && hwprof_model(&o, &m, fmts, n_fmts, &t, &e)) {
        fprintf(stderr, "%s: %s\n", prog, e.msg);
        goto out;
    }
    for (int s = 0; s < n_shapes; s++) /* bare shapes (those of MODEL are in already) */
        for (int i = 0; i < n_fmts; i++) {
            double us, bytes;
            if (hw_table_find(&t, fmts[i], rows[s], cols[s]))
                continue;
            if (hwprof_linear(&o, fmts[i], rows[s], cols[s], &us, &bytes, &e) ||
                hw_table_add(&t, fmts[i], rows[s], cols[s], o.batch, us, bytes, &e)) {
                fprintf(stderr, "%s: %s\n", prog, e.msg);
                goto out;
            }
        }
    char comment[4096 + 64];
    snprintf(comment, sizeof comment, "batch %d tokens per call, median of %d samples%s%s", o.batch, o.samples,
             have_m ? "; model " : "", have_m ? m.path : "");
    char *safe = malloc(sizeof comment);
    if (!safe) {
        fprintf(stderr, "%s: out of memory\n", prog);
        goto out;
    }
    err_escape(safe, sizeof comment, comment);
    printf("# machine: %s\n# %s\n%-16s %6s %6s %6s %12s %10s\n", t.machine, safe, "# format", "rows", "cols",
           "batch", "us_per_token", "bytes");
    for (int i = 0; i < t.n; i++)
        printf("%-16s %6d %6d %6d %12.6g %10.0f\n", mx_format_name(t.e[i].fmt), t.e[i].rows, t.e[i].cols, t.batch,
               t.e[i].us_per_token, t.e[i].bytes);
    if (!isnan(t.overhead_us))
        printf("overhead %d %.6g\n", t.batch, t.overhead_us);
    rc = 0;
    if (out_path) {
        if (hw_table_write(out_path, &t, safe, &e)) {
            fprintf(stderr, "%s: %s\n", prog, e.msg);
            rc = 1;
        } else {
            printf("wrote %s\n", out_path);
        }
    }
    free(safe);
    if (fflush(stdout))
        rc = 1;
out:
    hw_table_free(&t);
    if (have_m)
        model_free(&m);
    return rc;
}
