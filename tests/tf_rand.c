#include "tests/tf_rand.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

float tf_rand_uniform(uint64_t *s)
{
    /* splitmix64 */
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (float)((double)(z >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

/* Fill the next n floats of the store at *p (offset + scale U(-1,1)) and
 * step past them; returns where they start. */
static float *take(float **p, size_t n, float scale, float offset, uint64_t *s)
{
    float *x = *p;
    for (size_t i = 0; i < n; i++)
        x[i] = offset + scale * tf_rand_uniform(s);
    *p += n;
    return x;
}

int tf_rand_model_init(tf_rand_model *m, const tf_config *c, int tied, uint64_t seed)
{
    memset(m, 0, sizeof *m);
    m->c = *c;
    size_t d = c->dim, V = c->vocab_size, L = c->n_layers, hd = c->head_dim;
    size_t per_layer = 2 * d + 2 * hd;
    for (int k = 0; k < TF_NLIN; k++) {
        int r, cc;
        tf_linear_shape(c, k, &r, &cc);
        per_layer += (size_t)r * cc;
    }
    size_t total = V * d + d + (tied ? 0 : V * d) + L * per_layer;
    m->store = malloc(total * sizeof(float));
    m->layers = calloc(L, sizeof *m->layers);
    if (!m->store || !m->layers) {
        tf_rand_model_free(m);
        return -1;
    }
    uint64_t s = seed * 0x2545F4914F6CDD1Dull + 1;
    float *p = m->store;
    m->w.tok_emb = take(&p, V * d, 1.0f, 0.0f, &s);
    m->w.final_norm = take(&p, d, 0.2f, 1.0f, &s);
    m->w.lm_head = tied ? m->w.tok_emb : take(&p, V * d, 1.0f, 0.0f, &s);
    for (size_t l = 0; l < L; l++) {
        tf_layer_weights *lw = &m->layers[l];
        lw->attn_norm = take(&p, d, 0.2f, 1.0f, &s);
        lw->ffn_norm = take(&p, d, 0.2f, 1.0f, &s);
        lw->q_norm = take(&p, hd, 0.3f, 1.0f, &s);
        lw->k_norm = take(&p, hd, 0.3f, 1.0f, &s);
        for (int k = 0; k < TF_NLIN; k++) {
            int r, cc;
            tf_linear_shape(c, k, &r, &cc);
            /* uniform(-a, a) has variance a^2/3: a = sqrt(3/cols) keeps unit gain;
             * q and k get more so the attention pattern is sharp */
            float a = sqrtf(3.0f / cc) * (k == TF_Q || k == TF_K ? 1.7f : 1.0f);
            float *w = take(&p, (size_t)r * cc, a, 0.0f, &s);
            lw->lin[k] = w;
            if (l < 64)
                m->lin[l][k] = w;
        }
    }
    m->w.layers = m->layers;
    return 0;
}

void tf_rand_model_free(tf_rand_model *m)
{
    free(m->store);
    free(m->layers);
    memset(m, 0, sizeof *m);
}
