/* Measuring this machine's cost table (src/hw_table.h): the time of the
 * packed path's dequantize + GEMM (src/packed.h, the call `ppl --packed`
 * makes) per format and module shape at a batch of tokens, inside a model's
 * forward pass (with the rest of that pass as the overhead) or, for a bare
 * shape, in a loop of its own. Medians of repeated samples: the models are
 * small and the timings noisy. */
#ifndef MXALLOC_HWPROFILE_H
#define MXALLOC_HWPROFILE_H

#include "kernels/err.h"
#include "kernels/mx.h"
#include "src/hw_table.h"
#include "src/model.h"

typedef struct hwprof_opts {
    int batch;            /* tokens per call (ppl's window: --ctx) */
    int samples;          /* timed samples per cell, the median is kept (default 9) */
    double sample_s;      /* each sample repeats the call for at least this long (default 0.004 s) */
} hwprof_opts;

void hwprof_opts_init(hwprof_opts *o);

/* One cell: dequantize + GEMM of a rows x cols linear in f on batch tokens
 * (seeded random weights and inputs). *us_per_token: the median sample's time
 * per call over batch, in microseconds; *bytes: what one call moves (packed
 * weights read, fp32 inputs read and outputs written). 0 or ERR_*. */
int hwprof_linear(const hwprof_opts *o, mx_format f, int rows, int cols, double *us_per_token,
                  double *bytes, mx_error *e);

/* Every format fmts[0..n_fmts) on m's own shapes, timed where ppl --packed
 * runs them: inside m's forward pass at o->batch tokens (seeded random
 * tokens), every block linear packed in that format, o->samples passes after
 * one warm-up. Per module the median pass's time; per shape the mean of its
 * modules'; the row's us_per_token is that over the batch. The overhead (the
 * passes' time outside the block linears: embedding, norms, RoPE, attention,
 * lm_head, loss) is the median over all passes into t->overhead_us. Rows
 * are added to t. 0 or ERR_*. */
int hwprof_model(const hwprof_opts *o, const model *m, const mx_format *fmts, int n_fmts, hw_table *t,
                 mx_error *e);

/* The distinct (rows, cols) of m's block linears, in module order, into
 * rows[], cols[] (room for m->n_modules); returns their count. */
int hwprof_model_shapes(const model *m, int *rows, int *cols);

#endif
