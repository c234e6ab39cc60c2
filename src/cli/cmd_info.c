/* `mxalloc info MODEL [--json]`: a model's configuration and its table of
 * quantizable linear modules. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/cli/cli.h"
#include "src/cli/cmd.h"
#include "src/model.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: mxalloc info MODEL [--json]\n\n"
               "Print a model's architecture, dimensions and every quantizable linear\n"
               "module (Hugging Face names) with its shape and parameter count.\n"
               "MODEL is a llama2.c checkpoint, a Hugging Face directory (config.json +\n"
               "safetensors) or a GGUF file. The \"stored\" column is each module's type\n"
               "in the file (F32, BF16, Q4_K ...): quantized GGUF tensors are dequantized\n"
               "to fp32 on load, so every format is measured against that starting point.\n\n"
               "  --json   machine-readable output\n"
               "  --help   this text\n");
}

typedef struct totals {
    int64_t linear, kind[TF_NLIN], embedding, lm_head, norms, total;
} totals;

static void count(const model *m, totals *t)
{
    const tf_config *c = &m->cfg;
    memset(t, 0, sizeof *t);
    for (int i = 0; i < m->n_modules; i++) {
        t->linear += m->modules[i].params;
        t->kind[m->modules[i].kind] += m->modules[i].params;
    }
    t->embedding = (int64_t)c->vocab_size * c->dim;
    t->lm_head = m->weights.lm_head == m->weights.tok_emb ? 0 : t->embedding;
    t->norms = (int64_t)c->n_layers * (2 * c->dim + (c->qk_norm ? 2 * c->head_dim : 0)) + c->dim;
    t->total = t->linear + t->embedding + t->lm_head + t->norms;
}

/* A float as the shortest decimal that reads back to it (1e-06, not 9.99999997e-07). */
static double short_float(float f)
{
    char buf[32];
    for (int prec = 6; prec < 9; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, (double)f);
        if ((float)strtod(buf, NULL) == f)
            return strtod(buf, NULL);
    }
    return (double)f;
}

static const char *rope_name(int s)
{
    return s == TF_ROPE_INTERLEAVED ? "interleaved" : "half";
}

static int print_json(const model *m, const totals *t)
{
    const tf_config *c = &m->cfg;
    char hash[17];
    snprintf(hash, sizeof hash, "%016llx", (unsigned long long)m->content_hash);
    json_t *mods = json_array();
    for (int i = 0; i < m->n_modules; i++) {
        const model_module *x = &m->modules[i];
        json_array_append_new(mods, json_pack("{s:s,s:i,s:s,s:s,s:i,s:i,s:I}", "name", x->name, "layer",
                                              x->layer, "kind", model_kind_label(x->kind), "stored",
                                              x->stored, "rows", x->rows, "cols", x->cols, "params",
                                              (json_int_t)x->params));
    }
    json_t *kinds = json_object();
    for (int k = 0; k < TF_NLIN; k++)
        json_object_set_new(kinds, model_kind_label(k), json_integer(t->kind[k]));
    json_t *root = json_pack(
        "{s:s,s:s,s:s,s:s,"
        "s:{s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:s,s:f,s:f,s:b,s:b},"
        "s:o,s:{s:I,s:o,s:I,s:I,s:I,s:I}}",
        "path", m->path, "file_kind", model_file_kind_name(m->file_kind), "arch", m->arch_name,
        "content_hash", hash,
        "config", "dim", c->dim, "hidden_dim", c->hidden_dim, "n_layers", c->n_layers, "n_heads",
        c->n_heads, "n_kv_heads", c->n_kv_heads, "head_dim", c->head_dim, "vocab_size", c->vocab_size,
        "max_seq", c->max_seq, "rope_style", rope_name(c->rope_style), "rope_theta", short_float(c->rope_theta),
        "norm_eps", short_float(c->norm_eps), "tied_embeddings", m->weights.lm_head == m->weights.tok_emb,
        "qk_norm", c->qk_norm,
        "modules", mods,
        "totals", "linear", (json_int_t)t->linear, "linear_by_kind", kinds, "embedding",
        (json_int_t)t->embedding, "lm_head", (json_int_t)t->lm_head, "norms", (json_int_t)t->norms,
        "total", (json_int_t)t->total);
    if (!root) {
        fprintf(stderr, "mxalloc info: out of memory\n");
        return 1;
    }
    int rc = json_dumpf(root, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(9));
    json_decref(root);
    putchar('\n');
    return rc == 0 ? 0 : 1;
}

static void print_text(const model *m, const totals *t)
{
    const tf_config *c = &m->cfg;
    int tied = m->weights.lm_head == m->weights.tok_emb;
    printf("model:        %s\n", m->path);
    printf("format:       %s\n", model_file_kind_name(m->file_kind));
    printf("architecture: %s\n", m->arch_name);
    printf("content hash: %016llx\n", (unsigned long long)m->content_hash);
    printf("dim %d, hidden %d, layers %d, heads %d, kv heads %d, head_dim %d\n", c->dim, c->hidden_dim,
           c->n_layers, c->n_heads, c->n_kv_heads, c->head_dim);
    printf("vocab %d, trained context %d (a default: --ctx may exceed it)\n", c->vocab_size, c->max_seq);
    printf("rope %s, theta %g; rmsnorm eps %g; qk_norm %s; tied embeddings %s\n",
           rope_name(c->rope_style), (double)c->rope_theta, (double)c->norm_eps, c->qk_norm ? "yes" : "no",
           tied ? "yes" : "no");
    /* "stored": the type in the file, what quantization starts from. */
    printf("\n%-44s %-5s %-6s %7s %7s %12s\n", "module", "kind", "stored", "rows", "cols", "params");
    for (int i = 0; i < m->n_modules; i++) {
        const model_module *x = &m->modules[i];
        printf("%-44s %-5s %-6s %7d %7d %12lld\n", x->name, model_kind_label(x->kind), x->stored, x->rows,
               x->cols, (long long)x->params);
    }
    printf("\n%d quantizable modules, %lld parameters (", m->n_modules, (long long)t->linear);
    for (int k = 0; k < TF_NLIN; k++)
        printf("%s%s %lld", k ? ", " : "", model_kind_label(k), (long long)t->kind[k]);
    printf(")\n");
    char head[32];
    snprintf(head, sizeof head, tied ? "tied" : "%lld", (long long)t->lm_head);
    printf("embedding %lld, lm_head %s, norms %lld; total %lld parameters\n", (long long)t->embedding,
           head, (long long)t->norms, (long long)t->total);
}

int cmd_info(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    const char *path = NULL;
    int json = 0, ch, started = 0;
    while ((ch = cli_getopt("mxalloc info", argc, argv, NULL, opts, &started)) != -1) {
        switch (ch) {
        case 'j': json = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc)
        path = argv[optind++];
    if (optind < argc) {
        fprintf(stderr, "mxalloc info: one model at a time ('%s' and '%s')\n", path, argv[optind]);
        return 2;
    }
    if (!path) {
        usage(stderr);
        return 2;
    }
    model m;
    mx_error e = {0};
    if (model_load(path, &m, &e) < 0) {
        fprintf(stderr, "mxalloc info: %s\n", e.msg);
        return 1;
    }
    totals t;
    count(&m, &t);
    int rc = 0;
    if (json)
        rc = print_json(&m, &t);
    else
        print_text(&m, &t);
    model_free(&m);
    if (fflush(stdout) != 0)
        rc = 1;
    return rc;
}
