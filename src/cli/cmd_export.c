/* mxalloc export CFG.json --to llama-cpp|json: hand an assignment to other tools. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/file_write.h"
#include "src/cfg.h"
#include "src/cli/cli.h"
#include "src/cli/cmd.h"
#include "src/export.h"
#include "src/model.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: mxalloc export CFG.json --to llama-cpp|json [--out FILE] [--model MODEL] [--no-mxfp4]\n\n"
               "  --to llama-cpp   llama-quantize --tensor-type-file lines, one anchored\n"
               "                   '^blk\\.N\\.TENSOR\\.weight$=TYPE' per module (GGUF names), only\n"
               "                   types llama-quantize stores for the module's row width; the\n"
               "                   file's bits and the llama-quantize command go to stderr\n"
               "  --to json        the normalized config\n"
               "  --out FILE       write there (atomically) instead of standard output\n"
               "  --model MODEL    first check that the config belongs to this model (and\n"
               "                   take the module shapes from it)\n"
               "  --no-mxfp4       map mxfp4_e2m1 to q4_0 (llama.cpp builds without MXFP4)\n"
               "  --help           this text\n");
}

int cmd_export(int argc, char **argv)
{
    static const char prog[] = "mxalloc export";
    enum { O_TO = 1, O_OUT, O_MODEL, O_NO_MXFP4 };
    static const struct option opts[] = {
        {"to", required_argument, NULL, O_TO},        {"out", required_argument, NULL, O_OUT},
        {"model", required_argument, NULL, O_MODEL},  {"no-mxfp4", no_argument, NULL, O_NO_MXFP4},
        {"help", no_argument, NULL, 'h'},             {NULL, 0, NULL, 0}};
    const char *cfg_path = NULL, *to = NULL, *out = NULL, *model_path = NULL;
    int mxfp4 = 1, ch, started = 0;
    while ((ch = cli_getopt(prog, argc, argv, NULL, opts, &started)) != -1) {
        switch (ch) {
        case 'h': usage(stdout); return 0;
        case O_NO_MXFP4: mxfp4 = 0; break;
        case O_TO: to = optarg; break;
        case O_OUT: out = optarg; break;
        case O_MODEL: model_path = optarg; break;
        default: return 2;
        }
    }
    if (optind < argc)
        cfg_path = argv[optind++];
    if (optind < argc) {
        fprintf(stderr, "mxalloc export: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (!cfg_path || !to) {
        fprintf(stderr, "mxalloc export: %s\n", !cfg_path ? "missing the config file" : "missing --to");
        usage(stderr);
        return 2;
    }
    int llama = !strcmp(to, "llama-cpp") || !strcmp(to, "llama.cpp");
    if (!llama && strcmp(to, "json")) {
        fprintf(stderr, "mxalloc export: --to: '%s' is not llama-cpp or json\n", to);
        return 2;
    }
    mx_cfg c;
    mx_error e = {0};
    char *text = NULL;
    int rc = cfg_load(cfg_path, &c, &e);
    if (!rc)
        rc = cfg_refuse_prune(&c, cfg_path, "export", &e);
    if (!rc && model_path) {
        model m;
        rc = model_load(model_path, &m, &e);
        if (!rc) {
            rc = cfg_check_model(&c, &m, &e);
            for (int i = 0; !rc && i < m.n_modules; i++)
                if (cfg_find(&c, m.modules[i].name) >= 0)
                    rc = cfg_set_shape(&c, m.modules[i].name, m.modules[i].rows, m.modules[i].cols, &e);
            model_free(&m);
        }
    }
    if (!rc && llama && !strcmp(c.rounding, "gptq"))
        fprintf(stderr, "mxalloc export: warning: %s was quantized by GPTQ; llama-quantize rounds the weights "
                "itself, so the values differ from what ppl --config measured (mxalloc quantize --gptq-text "
                "writes the GPTQ values)\n", cfg_path);
    export_stats st;
    if (!rc)
        rc = llama ? export_llama_cpp(&c, mxfp4, &text, &st, &e)
                   : (text = cfg_to_text(&c, &e)) ? 0 : e.code ? e.code : ERR_NOMEM;
    if (!rc) {
        if (out)
            rc = fw_write_atomic(out, text, strlen(text), &e);
        else
            fputs(text, stdout);
    }
    if (!rc && llama) {
        fprintf(stderr, "llama-quantize will store %.4f bits per weight over these %.0f weights",
                st.bits, st.weights);
        if (st.n_approx)
            fprintf(stderr, "; %d module%s quantized by llama-quantize's own rounding (not the "
                    "values mxalloc measured: mxalloc quantize writes those)", st.n_approx,
                    st.n_approx == 1 ? " is" : "s are");
        fprintf(stderr, "\nrun: ");
        fprintf(stderr, export_llama_quantize_usage, out ? out : "TYPES.txt");
        fputc('\n', stderr);
    }
    if (rc)
        fprintf(stderr, "mxalloc export: %s\n", e.msg);
    free(text);
    cfg_free(&c);
    return rc ? 1 : 0;
}
