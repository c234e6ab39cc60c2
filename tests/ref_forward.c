/* Float64 reference forward pass (see ref_forward.h). Deliberately plain:
 * token-by-token decoding with a KV cache, as a llama2.c-style run loop. */
#include "tests/ref_forward.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct ref_state {
    const tf_config *c;
    const tf_weights *w;
    int cap;            /* positions in the cache */
    double *kcache;     /* [layer][pos][n_kv_heads*head_dim] */
    double *vcache;
    double *x, *xb, *q, *att_out, *proj, *hb, *hb2, *scores;
} ref_state;

/* y = W x for W [rows][cols] float, x double */
static void matvec(double *y, const float *W, const double *x, int rows, int cols)
{
    for (int r = 0; r < rows; r++) {
        double s = 0;
        const float *row = W + (size_t)r * cols;
        for (int k = 0; k < cols; k++)
            s += (double)row[k] * x[k];
        y[r] = s;
    }
}

static void rmsnorm(double *out, const double *x, const float *g, int d, double eps)
{
    double ms = 0;
    for (int i = 0; i < d; i++)
        ms += x[i] * x[i];
    ms /= d;
    double inv = 1.0 / sqrt(ms + eps);
    for (int i = 0; i < d; i++)
        out[i] = x[i] * inv * (double)g[i];
}

/* rotate one head vector v (length hd) at position pos */
static void rotate(double *v, int hd, int pos, double theta, int style)
{
    for (int i = 0; i < hd / 2; i++) {
        double ang = pos * pow(theta, -(2.0 * i) / hd);
        double cs = cos(ang), sn = sin(ang);
        int a = style == TF_ROPE_INTERLEAVED ? 2 * i : i;
        int b = style == TF_ROPE_INTERLEAVED ? 2 * i + 1 : i + hd / 2;
        double va = v[a], vb = v[b];
        v[a] = va * cs - vb * sn;
        v[b] = va * sn + vb * cs;
    }
}

static void free_state(ref_state *s)
{
    free(s->kcache);
    free(s->vcache);
    free(s->x);
    free(s->xb);
    free(s->q);
    free(s->att_out);
    free(s->proj);
    free(s->hb);
    free(s->hb2);
    free(s->scores);
}

static int init_state(ref_state *s, const tf_config *c, const tf_weights *w, int cap)
{
    memset(s, 0, sizeof *s);
    s->c = c;
    s->w = w;
    s->cap = cap;
    size_t kvd = (size_t)c->n_kv_heads * c->head_dim, qdim = (size_t)c->n_heads * c->head_dim;
    size_t big = (size_t)c->dim > qdim ? (size_t)c->dim : qdim;
    s->kcache = calloc((size_t)c->n_layers * cap * kvd, sizeof(double));
    s->vcache = calloc((size_t)c->n_layers * cap * kvd, sizeof(double));
    s->x = calloc((size_t)c->dim, sizeof(double));
    s->xb = calloc(big, sizeof(double));
    s->q = calloc(qdim, sizeof(double));
    s->att_out = calloc(qdim, sizeof(double));
    s->proj = calloc(big > (size_t)c->vocab_size ? big : (size_t)c->vocab_size, sizeof(double));
    s->hb = calloc((size_t)c->hidden_dim, sizeof(double));
    s->hb2 = calloc((size_t)c->hidden_dim, sizeof(double));
    s->scores = calloc((size_t)cap, sizeof(double));
    if (!s->kcache || !s->vcache || !s->x || !s->xb || !s->q || !s->att_out || !s->proj ||
        !s->hb || !s->hb2 || !s->scores) {
        free_state(s);
        return -1;
    }
    return 0;
}

/* Decode token `tok` at position pos; logits (vocab doubles) into out. */
static void step(ref_state *s, int tok, int pos, double *out)
{
    const tf_config *c = s->c;
    const tf_weights *w = s->w;
    int dim = c->dim, hd = c->head_dim, nkv = c->n_kv_heads;
    int kvd = nkv * hd, qdim = c->n_heads * hd;
    double eps = c->norm_eps, theta = c->rope_theta;
    for (int i = 0; i < dim; i++)
        s->x[i] = w->tok_emb[(size_t)tok * dim + i];

    for (int l = 0; l < c->n_layers; l++) {
        const tf_layer_weights *L = &w->layers[l];
        double *kc = s->kcache + ((size_t)l * s->cap + pos) * kvd;
        double *vc = s->vcache + ((size_t)l * s->cap + pos) * kvd;
        rmsnorm(s->xb, s->x, L->attn_norm, dim, eps);
        matvec(s->q, L->lin[TF_Q], s->xb, qdim, dim);
        matvec(kc, L->lin[TF_K], s->xb, kvd, dim);
        matvec(vc, L->lin[TF_V], s->xb, kvd, dim);
        for (int h = 0; h < c->n_heads; h++) {
            double *qh = s->q + h * hd;
            if (c->qk_norm) {
                double tmp[hd];
                rmsnorm(tmp, qh, L->q_norm, hd, eps);
                memcpy(qh, tmp, sizeof tmp);
            }
            rotate(qh, hd, pos, theta, c->rope_style);
        }
        for (int h = 0; h < nkv; h++) {
            double *kh = kc + h * hd;
            if (c->qk_norm) {
                double tmp[hd];
                rmsnorm(tmp, kh, L->k_norm, hd, eps);
                memcpy(kh, tmp, sizeof tmp);
            }
            rotate(kh, hd, pos, theta, c->rope_style);
        }
        int per_kv = c->n_heads / nkv;
        for (int h = 0; h < c->n_heads; h++) {
            int kvh = h / per_kv;
            const double *qh = s->q + h * hd;
            double mx = -INFINITY;
            for (int t = 0; t <= pos; t++) {
                const double *kt = s->kcache + ((size_t)l * s->cap + t) * kvd + kvh * hd;
                double dot = 0;
                for (int i = 0; i < hd; i++)
                    dot += qh[i] * kt[i];
                s->scores[t] = dot / sqrt((double)hd);
                if (s->scores[t] > mx)
                    mx = s->scores[t];
            }
            double z = 0;
            for (int t = 0; t <= pos; t++) {
                s->scores[t] = exp(s->scores[t] - mx);
                z += s->scores[t];
            }
            double *o = s->att_out + h * hd;
            for (int i = 0; i < hd; i++)
                o[i] = 0;
            for (int t = 0; t <= pos; t++) {
                const double *vt = s->vcache + ((size_t)l * s->cap + t) * kvd + kvh * hd;
                double p = s->scores[t] / z;
                for (int i = 0; i < hd; i++)
                    o[i] += p * vt[i];
            }
        }
        matvec(s->proj, L->lin[TF_O], s->att_out, dim, qdim);
        for (int i = 0; i < dim; i++)
            s->x[i] += s->proj[i];

        rmsnorm(s->xb, s->x, L->ffn_norm, dim, eps);
        matvec(s->hb, L->lin[TF_GATE], s->xb, c->hidden_dim, dim);
        matvec(s->hb2, L->lin[TF_UP], s->xb, c->hidden_dim, dim);
        for (int i = 0; i < c->hidden_dim; i++) {
            double gv = s->hb[i];
            s->hb[i] = gv / (1.0 + exp(-gv)) * s->hb2[i];
        }
        matvec(s->proj, L->lin[TF_DOWN], s->hb, dim, c->hidden_dim);
        for (int i = 0; i < dim; i++)
            s->x[i] += s->proj[i];
    }
    rmsnorm(s->xb, s->x, w->final_norm, dim, eps);
    matvec(out, w->lm_head, s->xb, c->vocab_size, dim);
}

int ref_forward(const tf_config *c, const tf_weights *w, const int *tokens, int n, double *out)
{
    ref_state s;
    if (n <= 0 || init_state(&s, c, w, n))
        return -1;
    for (int p = 0; p < n; p++) {
        if (tokens[p] < 0 || tokens[p] >= c->vocab_size) {
            free_state(&s);
            return -1;
        }
        step(&s, tokens[p], p, out + (size_t)p * c->vocab_size);
    }
    free_state(&s);
    return 0;
}

double ref_nll_sum(const tf_config *c, const tf_weights *w, const int *tokens, int n,
                   const int *targets)
{
    ref_state s;
    if (n <= 0 || init_state(&s, c, w, n))
        return -1.0;
    double *lg = malloc(sizeof(double) * (size_t)c->vocab_size);
    double total = 0;
    for (int p = 0; p < n && lg; p++) {
        if (tokens[p] < 0 || tokens[p] >= c->vocab_size || targets[p] < 0 ||
            targets[p] >= c->vocab_size) {
            total = -1.0;
            break;
        }
        step(&s, tokens[p], p, lg);
        double mx = lg[0];
        for (int v = 1; v < c->vocab_size; v++)
            if (lg[v] > mx)
                mx = lg[v];
        double z = 0;
        for (int v = 0; v < c->vocab_size; v++)
            z += exp(lg[v] - mx);
        total += mx + log(z) - lg[targets[p]];
    }
    if (!lg)
        total = -1.0;
    free(lg);
    free_state(&s);
    return total;
}
