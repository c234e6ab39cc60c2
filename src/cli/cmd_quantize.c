/* mxalloc quantize: write the model with each linear module stored in the
 * format a config assigns it: a GGUF for llama.cpp, or a packed MX
 * safetensors directory (src/quantize.h). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/mx.h"
#include "src/cfg.h"
#include "src/cli/cli.h"
#include "src/gptq_set.h"
#include "src/cli/cmd.h"
#include "src/model.h"
#include "src/prune.h"
#include "src/quantize.h"
#include "src/tok.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mxalloc quantize MODEL CFG.json --out FILE.gguf [--tokenizer FILE] [--gptq-text FILE] [--json]\n"
            "       mxalloc quantize MODEL CFG.json --out DIR --layout mx [--tokenizer FILE] [--gptq-text FILE]\n"
            "                        [--json]\n\n"
            "Write MODEL with each linear module stored in the format CFG.json assigns it\n"
            "(modules it does not name stay as in MODEL). Both outputs hold exactly the\n"
            "quantized values `mxalloc ppl MODEL --config CFG.json` measures.\n\n"
            "  --out PATH        the GGUF file, or the directory for --layout mx (required)\n"
            "  --layout L        gguf (default): a GGUF v3 llama.cpp runs as it is: MXFP4 as\n"
            "                    GGUF MXFP4, MXINT8 as Q8_0, MXFP6/MXFP8/BF16 as BF16 holding\n"
            "                    the quantized values (llama.cpp has no such types), a row that\n"
            "                    is not whole blocks of 32 as BF16;\n"
            "                    mx: packed OCP MX safetensors with a quantization_config\n"
            "                    (AMD Quark's layout; see QUANTIZE in the manual)\n"
            "                    A config with a \"prune\" section (mxalloc prune) is written pruned:\n"
            "                    the GGUF holds only the kept rows and columns, head counts and\n"
            "                    feed_forward_length per layer (llama.cpp's deci architecture when\n"
            "                    layers differ); the mx layout refuses it\n"
            "  --tokenizer FILE  the tokenizer (default: the model's own, as for ppl)\n"
            "  --gptq-text FILE  the calibration text of a config made by GPTQ (`score --gptq`;\n"
            "                    required for one, checked against it): the MX modules are\n"
            "                    written with GPTQ's values, exactly\n"
            "  --json            print the file's bits per weight as JSON\n");
}

static void warn_line(void *user, const char *msg)
{
    (void)user;
    fprintf(stderr, "warning: %s\n", msg);
}

int cmd_quantize(int argc, char **argv)
{
    static const struct option opts[] = {
        {"out", required_argument, NULL, 'o'},       {"layout", required_argument, NULL, 'l'},
        {"tokenizer", required_argument, NULL, 't'}, {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},            {"gptq-text", required_argument, NULL, 'q'},
        {NULL, 0, NULL, 0}};
    const char *out = NULL, *layout = "gguf", *tok_path = NULL, *gptq_text = NULL;
    int json = 0, ch;
    optind = 0;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 'o': out = optarg; break;
        case 'l': layout = optarg; break;
        case 't': tok_path = optarg; break;
        case 'q': gptq_text = optarg; break;
        case 'j': json = 1; break;
        case 'h': usage(stdout); return 0;
        default:
            if (optopt)
                fprintf(stderr, "mxalloc quantize: option needs a value or is unknown: '%s'\n",
                        argv[optind - 1]);
            else
                fprintf(stderr, "mxalloc quantize: unknown option '%s'\n", argv[optind - 1]);
            usage(stderr);
            return 2;
        }
    }
    if (argc - optind != 2) {
        fprintf(stderr, "mxalloc quantize: expected MODEL and CFG.json\n");
        usage(stderr);
        return 2;
    }
    if (!out || !*out) {
        fprintf(stderr, "mxalloc quantize: --out PATH is required\n");
        usage(stderr);
        return 2;
    }
    int mx = !strcmp(layout, "mx");
    if (!mx && strcmp(layout, "gguf")) {
        fprintf(stderr, "mxalloc quantize: --layout: unknown layout '%s' (gguf, mx)\n", layout);
        return 2;
    }
    const char *model_path = argv[optind], *cfg_path = argv[optind + 1];
    int rc = 1;
    mx_error e = {0};
    model m;
    mx_cfg cfg;
    cfg_init(&cfg);
    tok *t = NULL;
    mx_format *fmts = NULL;
    gptq_set gs;
    int have_g = 0;
    unsigned char **masks = NULL;
    /* The config first: a bad one is refused before any work. */
    if (cfg_load(cfg_path, &cfg, &e)) {
        fprintf(stderr, "mxalloc quantize: %s\n", e.msg);
        return 1;
    }
    if (model_load(model_path, &m, &e)) {
        fprintf(stderr, "mxalloc quantize: %s\n", e.msg);
        cfg_free(&cfg);
        return 1;
    }
    fmts = malloc(sizeof *fmts * (size_t)(m.n_modules ? m.n_modules : 1));
    if (!fmts) {
        fprintf(stderr, "mxalloc quantize: out of memory\n");
        goto done;
    }
    if (cfg_formats_for_model(&cfg, &m, fmts, &e) || cfg_prune_masks(&cfg, &m, &masks, &e)) {
        fprintf(stderr, "mxalloc quantize: %s\n", e.msg);
        goto done;
    }
    if (masks && !strcmp(cfg.rounding, "gptq")) {
        fprintf(stderr, "mxalloc quantize: %s prunes blocks and was made by GPTQ: GPTQ does not apply to pruned "
                "modules\n", cfg_path);
        goto done;
    }
    if (masks && mx) {
        fprintf(stderr, "mxalloc quantize: %s prunes blocks: --layout mx cannot hold pruned shapes (config.json "
                "has one head count and intermediate size for every layer); use --layout gguf\n", cfg_path);
        goto done;
    }
    if ((rc = cli_gptq("mxalloc quantize", &m, cfg_path, gptq_text, tok_path, &gs, &have_g)))
        goto done;
    rc = 1;
    /* A GGUF source carries its tokenizer as metadata, copied as it is. */
    if (tok_path || m.file_kind != MODEL_FILE_GGUF) {
        t = tok_open(tok_path, model_path, m.cfg.vocab_size, &e);
        if (!t && (!mx || tok_path)) {
            fprintf(stderr, "mxalloc quantize: %s\n", e.msg);
            goto done;
        }
    }
    /* llama2.c: a tokenizer.bin found beside the model is the one to copy. */
    char found[4200];
    if (t && !tok_path && m.file_kind == MODEL_FILE_LLAMA2C) {
        const char *slash = strrchr(model_path, '/');
        snprintf(found, sizeof found, "%.*stokenizer.bin", slash ? (int)(slash - model_path + 1) : 0,
                 model_path);
        tok_path = found;
    }
    quant_opts o = {.tok = t, .tok_path = tok_path, .warn = warn_line, .gptq = have_g ? &gs : NULL, .prune = masks};
    quant_stats st;
    if ((mx ? quant_write_mx_dir(&m, fmts, &o, out, &st, &e) : quant_write_gguf(&m, fmts, &o, out, &st, &e)) < 0) {
        fprintf(stderr, "mxalloc quantize: %s\n", e.msg);
        goto done;
    }
    double lin = st.lin_params ? 8.0 * (double)st.lin_bytes / (double)st.lin_params : 0,
           full = st.lin_params_full ? 8.0 * (double)st.lin_bytes / (double)st.lin_params_full : 0,
           all = st.all_params ? 8.0 * (double)st.all_bytes / (double)st.all_params : 0,
           file = st.all_params ? 8.0 * (double)st.file_bytes / (double)st.all_params : 0;
    if (json)
        printf("{\"out\": \"%s\", \"layout\": \"%s\", \"linear_bits\": %.6f, \"all_bits\": %.6f, "
               "\"file_bits\": %.6f, \"file_bytes\": %llu, \"linear_params\": %llu, \"params\": %llu, "
               "\"widened\": %d, \"pruned\": %s, \"linear_params_unpruned\": %llu, \"unpruned_bits\": %.6f, "
               "\"zero_units\": %d}\n",
               out, layout, lin, all, file, (unsigned long long)st.file_bytes,
               (unsigned long long)st.lin_params, (unsigned long long)st.all_params, st.n_widened,
               masks ? "true" : "false", (unsigned long long)st.lin_params_full, full, st.n_zero_units);
    else {
        printf("wrote %s (%s, %llu bytes)\n"
               "bits per weight: %.4f over the block linears (%llu weights), %.4f over every tensor, "
               "%.4f counting the whole %s\n",
               out, mx ? "packed MX safetensors" : "GGUF", (unsigned long long)st.file_bytes, lin,
               (unsigned long long)st.lin_params, all, file, mx ? "model.safetensors" : "file");
        if (masks)
            printf("pruned: %llu of %llu linear weights kept, %.4f bits per weight of the unpruned linears\n",
                   (unsigned long long)st.lin_params, (unsigned long long)st.lin_params_full, full);
    }
    rc = fflush(stdout) ? 1 : 0;
done:
    if (have_g)
        gptq_set_free(&gs);
    tok_free(t);
    cfg_prune_masks_free(masks, m.cfg.n_layers * PRUNE_NPARTS);
    free(fmts);
    cfg_free(&cfg);
    model_free(&m);
    return rc;
}
