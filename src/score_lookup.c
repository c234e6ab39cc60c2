/* Score files already in the cache (src/score_lookup.h). */
#include "src/score_lookup.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "src/cache.h"
#include "src/score.h"

int score_lookup_default(const model *m, const char *text, size_t text_len, const int *tokens, long n_tokens,
                         int bos, char *out, size_t len)
{
    if (!tokens || !text)
        return -1;
    static const unsigned tries[] = {1u << SCORE_KL, (1u << SCORE_KL) | (1u << SCORE_FISHER), 1u << SCORE_FISHER};
    for (size_t i = 0; i < sizeof tries / sizeof tries[0]; i++) {
        score_opts so;
        score_default_opts(m, &so);
        so.methods = tries[i];
        so.bos = bos;
        char key[17];
        if (score_key_for_text(m, text, text_len, tokens, n_tokens, &so, key) == 0)
            return -1; /* not even one window: nothing was ever scored on it */
        mx_error e = {0};
        if (cache_path_for_key(key, out, len, &e))
            return -1;
        FILE *f = fopen(out, "rb");
        if (f) {
            fclose(f);
            return 0;
        }
    }
    return -1;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

int score_lookup_newest(uint64_t model_hash, int n_modules, char *out, size_t len)
{
    char dir[4096];
    mx_error le = {0};
    if (cache_dir(dir, sizeof dir, &le))
        return -1;
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    struct dirent *de;
    time_t best = 0;
    int found = -1;
    while ((de = readdir(d))) {
        if (!ends_with(de->d_name, ".scores"))
            continue;
        char p[4096 + 300];
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        struct stat sb;
        if (stat(p, &sb) || (found == 0 && sb.st_mtime <= best))
            continue;
        score_table t;
        if (cache_read(p, &t, &le))
            continue;
        int match = t.model_hash == model_hash && t.n_modules == n_modules;
        score_table_free(&t);
        if (match && strlen(p) < len) {
            strcpy(out, p);
            best = sb.st_mtime;
            found = 0;
        }
    }
    closedir(d);
    return found;
}
