/* MX format traits (names, labels, aliases, element specs, GGUF targets),
 * parsing, per-format constants and storage sizes. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "kernels/mx_impl.h"
#include "kernels/names.h"

/* Indexed by mx_format; fp32/bf16 rows unused (bits only). OCP MX v1.0 tables. */
static const mx_spec specs[MX_NFORMATS] = {
    [MX_FP8_E4M3] = {8, 4, 3, 7, -6, 8, 448.0f, 0xE00000u, 1},
    [MX_FP8_E5M2] = {8, 5, 2, 15, -14, 15, 57344.0f, 0xE00000u, 1},
    [MX_INT8] = {8, 0, 6, 0, 0, 0, 127.0f / 64.0f, 0xFE0000u, 0},
    [MX_FP6_E3M2] = {6, 3, 2, 3, -2, 4, 28.0f, 0xE00000u, 1},
    [MX_FP6_E2M3] = {6, 2, 3, 1, 0, 2, 7.5f, 0xF00000u, 1},
    [MX_FP4_E2M1] = {4, 2, 1, 1, 0, 2, 6.0f, 0xC00000u, 1},
    [MX_NVFP4] = {4, 2, 1, 1, 0, 2, 6.0f, 0xC00000u, 1}, /* its elements are E2M1 */
};

/* The traits table (kernels/mx.h describes every column). The mse rows have
 * no aliases of their own: "+mse" after any name of their base (parse_name). */
#define OCP(f) f, MX_SCALE_OCP_FLOOR, MX_SCALE_E8M0
#define MSE(f) f, MX_SCALE_MSE, MX_SCALE_E8M0
static const mx_traits traits[MX_NFORMATS] = {
    [MX_FP32] = {"fp32", "fp32", 'F', {"f32", "float32"}, 32, 0, 8, 23, 127, "f32", OCP(MX_FP32)},
    [MX_BF16] = {"bf16", "bf16", 'B', {"bfloat16"}, 16, 0, 8, 7, 127, "bf16", OCP(MX_BF16)},
    [MX_FP8_E4M3] = {"mxfp8_e4m3", "e4m3", '8', {"mxfp8", "fp8_e4m3"}, 8, MX_BLOCK, 4, 3, 8, "q8_0", OCP(MX_FP8_E4M3)},
    [MX_FP8_E5M2] = {"mxfp8_e5m2", "e5m2", 'E', {"fp8_e5m2"}, 8, MX_BLOCK, 5, 2, 15, "q8_0", OCP(MX_FP8_E5M2)},
    [MX_INT8] = {"mxint8", "int8", 'I', {"i8"}, 8, MX_BLOCK, 0, 6, 0, "q8_0", OCP(MX_INT8)},
    [MX_FP6_E3M2] = {"mxfp6_e3m2", "e3m2", '5', {"fp6_e3m2"}, 6, MX_BLOCK, 3, 2, 4, "q6_K", OCP(MX_FP6_E3M2)},
    [MX_FP6_E2M3] = {"mxfp6_e2m3", "e2m3", '6', {"mxfp6", "fp6_e2m3"}, 6, MX_BLOCK, 2, 3, 2, "q6_K", OCP(MX_FP6_E2M3)},
    [MX_FP4_E2M1] = {"mxfp4_e2m1", "e2m1", '4', {"mxfp4", "fp4", "fp4_e2m1"}, 4, MX_BLOCK, 2, 1, 2, "mxfp4", OCP(MX_FP4_E2M1)},
    [MX_FP8_E4M3_MSE] = {"mxfp8_e4m3+mse", "e4m3+", 'h', {NULL}, 8, MX_BLOCK, 4, 3, 8, "q8_0", MSE(MX_FP8_E4M3)},
    [MX_FP8_E5M2_MSE] = {"mxfp8_e5m2+mse", "e5m2+", 'e', {NULL}, 8, MX_BLOCK, 5, 2, 15, "q8_0", MSE(MX_FP8_E5M2)},
    [MX_INT8_MSE] = {"mxint8+mse", "int8+", 'j', {NULL}, 8, MX_BLOCK, 0, 6, 0, "q8_0", MSE(MX_INT8)},
    [MX_FP6_E3M2_MSE] = {"mxfp6_e3m2+mse", "e3m2+", 't', {NULL}, 6, MX_BLOCK, 3, 2, 4, "q6_K", MSE(MX_FP6_E3M2)},
    [MX_FP6_E2M3_MSE] = {"mxfp6_e2m3+mse", "e2m3+", 's', {NULL}, 6, MX_BLOCK, 2, 3, 2, "q6_K", MSE(MX_FP6_E2M3)},
    [MX_FP4_E2M1_MSE] = {"mxfp4_e2m1+mse", "e2m1+", 'q', {NULL}, 4, MX_BLOCK, 2, 1, 2, "mxfp4", MSE(MX_FP4_E2M1)},
    [MX_NVFP4] = {"nvfp4", "nvf4", 'n', {"nv_fp4"}, 4, MX_NVFP4_BLOCK, 2, 1, 2, "mxfp4", MX_NVFP4, MX_SCALE_OCP_FLOOR,
                  MX_SCALE_E4M3_TENSOR},
    [MX_NVFP4_MSE] = {"nvfp4+mse", "nvf4+", 'v', {NULL}, 4, MX_NVFP4_BLOCK, 2, 1, 2, "mxfp4", MX_NVFP4, MX_SCALE_MSE,
                      MX_SCALE_E4M3_TENSOR},
};
#undef OCP
#undef MSE

static const char *const scale_mode_names[MX_NSCALE_MODES] = {"ocp-floor", "mse"};

const char *mx_scale_mode_name(mx_scale_mode m)
{
    return names_get(scale_mode_names, MX_NSCALE_MODES, (int)m);
}

/* Names that would fit two rows: refused with the choice spelled out. */
static const struct {
    const char *name, *why;
} ambiguous[] = {
    {"fp8", "'fp8' is ambiguous: mxfp8_e4m3 (alias mxfp8) or mxfp8_e5m2"},
    {"fp6", "'fp6' is ambiguous: mxfp6_e2m3 (alias mxfp6) or mxfp6_e3m2"},
    {"e2", "'e2' is ambiguous: mxfp6_e2m3 (e2m3) or mxfp4_e2m1 (e2m1)"},
};

const mx_spec *mx_spec_of(mx_format f)
{
    if ((unsigned)f >= MX_NFORMATS || f == MX_FP32 || f == MX_BF16)
        return NULL;
    return &specs[traits[f].base];
}

const mx_traits *mx_traits_of(mx_format f)
{
    return (unsigned)f < MX_NFORMATS ? &traits[f] : NULL;
}

const char *mx_format_name(mx_format f)
{
    return (unsigned)f < MX_NFORMATS ? traits[f].name : "?";
}

const char *mx_format_label(mx_format f)
{
    return (unsigned)f < MX_NFORMATS ? traits[f].label : "?";
}

mx_format mx_format_base(mx_format f)
{
    return (unsigned)f < MX_NFORMATS ? traits[f].base : MX_FP32;
}

mx_scale_mode mx_format_scale_mode(mx_format f)
{
    return (unsigned)f < MX_NFORMATS ? traits[f].scale_mode : MX_SCALE_OCP_FLOOR;
}

/* The row of base b with scale mode m (b itself for ocp-floor); -1 if none. */
static int with_mode(int b, mx_scale_mode m)
{
    for (int i = 0; i < MX_NFORMATS; i++)
        if (traits[i].base == (mx_format)b && traits[i].scale_mode == m)
            return i;
    return -1;
}

/* A name, label or alias, then an optional "+MODE" (a block format's scale
 * mode): "mxfp4+mse", "e2m1+" (the mse label), "fp4+ocp-floor". */
int mx_format_parse(const char *s, mx_format *out)
{
    if (!s)
        return -1;
    const char *plus = strchr(s, '+');
    if (plus && plus[1]) {
        char head[32];
        size_t n = (size_t)(plus - s);
        mx_format b;
        int m = names_find(scale_mode_names, MX_NSCALE_MODES, plus + 1);
        if (n >= sizeof head || m < 0)
            return -1;
        memcpy(head, s, n);
        head[n] = 0;
        /* "+ocp-floor" means OCP's rule: not NVFP4's */
        if (strchr(head, '+') || mx_format_parse(head, &b) || traits[b].scale_mode != MX_SCALE_OCP_FLOOR ||
            !mx_is_block_format(b) || (traits[b].scale_type != MX_SCALE_E8M0 && m == MX_SCALE_OCP_FLOOR))
            return -1;
        int i = with_mode(b, (mx_scale_mode)m);
        return i < 0 ? -1 : (*out = (mx_format)i, 0);
    }
    for (int i = 0; i < MX_NFORMATS; i++) {
        const mx_traits *t = &traits[i];
        int hit = !strcasecmp(s, t->name) || !strcasecmp(s, t->label);
        for (int a = 0; !hit && t->aliases[a]; a++)
            hit = !strcasecmp(s, t->aliases[a]);
        if (hit) {
            *out = (mx_format)i;
            return 0;
        }
    }
    return -1;
}

static char valid_buf[512];

/* Append "sep name" to valid_buf (truncating, never overflowing). */
static void add_name(size_t *n, const char *sep, const char *name)
{
    if (*n >= sizeof valid_buf)
        return;
    int k = snprintf(valid_buf + *n, sizeof valid_buf - *n, "%s %s", sep, name);
    *n += k > 0 ? (size_t)k : 0;
}

static void build_valid(void)
{
    size_t n = 0;
    const char *sep = "valid:";
    for (int i = 0; i < MX_NFORMATS; i++, sep = ",")
        add_name(&n, sep, traits[i].name);
    sep = "; also";
    for (int i = 0; i < MX_NFORMATS; i++) {
        if (traits[i].scale_mode != MX_SCALE_OCP_FLOOR) { /* "+mse" after any name, said once below */
            if (!strstr(traits[i].name, traits[i].label)) /* "nvf4+" is not in "nvfp4+mse" */
                add_name(&n, sep, traits[i].label), sep = ",";
            continue;
        }
        if (strcmp(traits[i].label, traits[i].name)) /* fp32, bf16 are their own label */
            add_name(&n, sep, traits[i].label), sep = ",";
        for (int a = 0; traits[i].aliases[a]; a++)
            add_name(&n, sep, traits[i].aliases[a]), sep = ",";
    }
    add_name(&n, ";", "any block format's name + \"+mse\" (error-minimizing scales)");
}

const char *mx_format_valid_names(const char *bad)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    for (size_t i = 0; bad && i < sizeof ambiguous / sizeof *ambiguous; i++)
        if (!strcasecmp(bad, ambiguous[i].name))
            return ambiguous[i].why;
    pthread_once(&once, build_valid);
    return valid_buf;
}

int mx_format_parse_list(const char *list, mx_format out[MX_NFORMATS], char *bad, size_t bad_len)
{
    int n = 0;
    const char *p = list ? list : "";
    if (bad_len)
        bad[0] = 0;
    while (*p) {
        size_t len = strcspn(p, ",");
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)(len < sizeof name ? len : sizeof name - 1), p);
        p += len + (p[len] == ',');
        if (!len)
            continue; /* "a,,b" and a trailing comma, as strtok did */
        mx_format f;
        if (len >= sizeof name || mx_format_parse(name, &f)) {
            if (bad_len)
                snprintf(bad, bad_len, "%s", name);
            return -1;
        }
        for (int i = 0; i < n; i++)
            if (out[i] == f) {
                if (bad_len)
                    snprintf(bad, bad_len, "%s", traits[f].name);
                return -2;
            }
        out[n++] = f;
    }
    return n ? n : -3;
}

int mx_gguf_target_of(mx_format f, size_t cols, mx_gguf_target *out)
{
    static const mx_gguf_target f32 = {0, "F32", 32.0}, bf16 = {30, "BF16", 16.0}, q8_0 = {8, "Q8_0", 8.5},
                                mxfp4 = {39, "MXFP4", 4.25}, nvfp4 = {40, "NVFP4", 4.5};
    if ((unsigned)f >= MX_NFORMATS)
        return -1;
    /* a scale mode changes the scale bytes, never where they are stored */
    mx_format b = traits[f].base;
    int whole = cols > 0 && cols % MX_BLOCK == 0;
    *out = b == MX_FP32 ? f32 : b == MX_FP4_E2M1 && whole ? mxfp4 : b == MX_INT8 && whole ? q8_0 : bf16;
    if (b == MX_NVFP4 && cols % (4 * MX_NVFP4_BLOCK) == 0)
        *out = nvfp4;
    return 0;
}

static const char *const target_names[MX_NTARGETS] = {"mx", "llama-cpp"};

const char *mx_target_name(mx_target t)
{
    return names_get(target_names, MX_NTARGETS, (int)t);
}

int mx_target_parse(const char *s, mx_target *out)
{
    int t = names_find(target_names, MX_NTARGETS, s);
    if (t < 0 && s && (!strcasecmp(s, "llama.cpp") || !strcasecmp(s, "gguf")))
        t = MX_TARGET_LLAMA_CPP;
    return t < 0 ? -1 : (*out = (mx_target)t, 0);
}

double mx_target_bits(mx_target t, mx_format f, size_t rows, size_t cols)
{
    if ((unsigned)f >= MX_NFORMATS || (unsigned)t >= MX_NTARGETS)
        return NAN;
    if (t == MX_TARGET_MX)
        return mx_bits_per_weight(f, rows, cols);
    mx_gguf_target g;
    mx_gguf_target_of(f, cols, &g);
    if ((traits[f].base == MX_FP4_E2M1 || traits[f].base == MX_INT8 || traits[f].base == MX_NVFP4) && g.type == 30)
        return NAN; /* the BF16 fallback: bf16 itself is better at that cost */
    return g.bits;
}

int mx_element_bits(mx_format f)
{
    return (unsigned)f < MX_NFORMATS ? traits[f].bits : 0;
}

int mx_is_nvfp4(mx_format f)
{
    return (unsigned)f < MX_NFORMATS && traits[f].scale_type == MX_SCALE_E4M3_TENSOR;
}

int mx_is_block_format(mx_format f)
{
    return (unsigned)f < MX_NFORMATS && traits[f].block > 0;
}

int mx_emax_elem(mx_format f)
{
    const mx_spec *sp = mx_spec_of(f);
    return sp ? sp->emax : 0;
}

float mx_element_max(mx_format f)
{
    const mx_spec *sp = mx_spec_of(f);
    return sp ? sp->maxval : 0.0f;
}

static size_t blocks_per_row(mx_format f, size_t cols)
{
    size_t b = (size_t)traits[f].block;
    return (cols + b - 1) / b;
}

/* An empty matrix reports the full-block figure rather than dividing by zero. */
double mx_bits_per_weight(mx_format f, size_t rows, size_t cols)
{
    double eb = mx_element_bits(f);
    if (!mx_is_block_format(f))
        return eb;
    int tensor = traits[f].scale_type == MX_SCALE_E4M3_TENSOR;
    if (rows == 0 || cols == 0)
        return eb + 8.0 / traits[f].block;
    return eb + 8.0 * (double)blocks_per_row(f, cols) / (double)cols + (tensor ? 32.0 / ((double)rows * (double)cols) : 0);
}

size_t mx_packed_row_bytes(mx_format f, size_t cols)
{
    return (cols * (size_t)mx_element_bits(f) + 7) / 8;
}

size_t mx_packed_size(mx_format f, size_t rows, size_t cols)
{
    size_t n = rows * mx_packed_row_bytes(f, cols);
    if (mx_is_block_format(f))
        n += rows * blocks_per_row(f, cols) + (traits[f].scale_type == MX_SCALE_E4M3_TENSOR ? 4 : 0);
    return n;
}

static const char *const simd_names[MX_NSIMD] = {"auto", "scalar", "avx2", "avx512"};

const char *mx_simd_name(mx_simd s)
{
    return names_get(simd_names, MX_NSIMD, (int)s);
}

int mx_simd_parse(const char *s, mx_simd *out)
{
    int i = names_find(simd_names, MX_NSIMD, s);
    return i < 0 ? -1 : (*out = (mx_simd)i, 0);
}
