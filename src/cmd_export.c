/* mxalloc export CFG.json --to llama-cpp|json: hand an assignment to other tools. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/cache.h"
#include "src/cfg.h"
#include "src/cmd.h"
#include "src/export.h"
#include "src/model.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: mxalloc export CFG.json --to llama-cpp|json [--out FILE] [--model MODEL] [--no-mxfp4]\n\n"
               "  --to llama-cpp   llama-quantize --tensor-type-file lines, one\n"
               "                   'blk\\.N\\.TENSOR\\.weight=TYPE' per module (GGUF names)\n"
               "  --to json        the normalized config\n"
               "  --out FILE       write there (atomically) instead of standard output\n"
               "  --model MODEL    first check that the config belongs to this model\n"
               "  --no-mxfp4       map mxfp4_e2m1 to q4_0 (llama.cpp builds without MXFP4)\n"
               "  --help           this text\n");
}

int cmd_export(int argc, char **argv)
{
    const char *cfg_path = NULL, *to = NULL, *out = NULL, *model_path = NULL;
    int mxfp4 = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **dst = NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--no-mxfp4")) {
            mxfp4 = 0;
            continue;
        }
        if (!strcmp(a, "--to"))
            dst = &to;
        else if (!strcmp(a, "--out"))
            dst = &out;
        else if (!strcmp(a, "--model"))
            dst = &model_path;
        if (dst) {
            if (i + 1 >= argc) {
                fprintf(stderr, "mxalloc export: %s needs a value\n", a);
                return 2;
            }
            *dst = argv[++i];
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "mxalloc export: unknown option '%s' (see --help)\n", a);
            return 2;
        } else if (!cfg_path) {
            cfg_path = a;
        } else {
            fprintf(stderr, "mxalloc export: unexpected argument '%s'\n", a);
            return 2;
        }
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
    if (!rc && model_path) {
        model m;
        rc = model_load(model_path, &m, &e);
        if (!rc) {
            rc = cfg_check_model(&c, &m, &e);
            model_free(&m);
        }
    }
    if (!rc)
        rc = llama ? export_llama_cpp(&c, mxfp4, &text, &e)
                   : (text = cfg_to_text(&c, &e)) ? 0 : e.code ? e.code : ERR_NOMEM;
    if (!rc) {
        if (out)
            rc = cache_write_atomic(out, text, strlen(text), &e);
        else
            fputs(text, stdout);
    }
    if (rc)
        fprintf(stderr, "mxalloc export: %s\n", e.msg);
    free(text);
    cfg_free(&c);
    return rc ? 1 : 0;
}
