/* The hardware cost table: for one device and one batch size, the measured
 * (or hand-written) time of dequantize + GEMM of a linear module per format
 * and shape, per token, and the bytes that call moves. `mxalloc hwprofile`
 * writes it; alloc, sweep and the workbench read it (--hw-table) to predict
 * and limit an allocation's latency. Pure data and its text file.
 *
 * The file (man/mxalloc.1, HARDWARE TABLE): UTF-8 text, one record a line,
 * fields separated by blanks, '#' starts a comment (to the end of the line),
 * blank lines ignored.
 *   FORMAT ROWS COLS BATCH US_PER_TOKEN BYTES
 *       FORMAT any format name (written canonical, mx_format_name); ROWS x
 *       COLS the weight shape ([out][in]); BATCH the tokens of one call, the
 *       same on every line; US_PER_TOKEN the call's time over BATCH, in
 *       microseconds, finite and >= 0; BYTES moved by one call (packed
 *       weights read + fp32 activations read and written), >= 0.
 *   overhead BATCH US_PER_TOKEN
 *       optional, at most once: the rest of the forward pass (embedding,
 *       norms, attention, lm_head and the loss) per token at that batch, for
 *       the model hwprofile measured.
 * A format may appear once per shape. "# machine: TEXT" names the device. */
#ifndef MXALLOC_HW_TABLE_H
#define MXALLOC_HW_TABLE_H

#include <stddef.h>

#include "kernels/err.h"
#include "kernels/mx.h"

#define HW_TABLE_MAX_ROWS 100000
#define HW_TABLE_MAX_DIM (1 << 24)

typedef struct hw_entry {
    mx_format fmt;
    int rows, cols;
    double us_per_token;
    double bytes;
} hw_entry;

typedef struct hw_table {
    int batch;              /* 0 until a row or the overhead sets it */
    int n;
    hw_entry *e;
    double overhead_us;     /* per token; NAN when the file has none */
    char machine[256];      /* "# machine:" text, "" when absent */
} hw_table;

void hw_table_init(hw_table *t);
void hw_table_free(hw_table *t);
/* Add one row (the same checks as the parser: batch agrees, no duplicate
 * format x shape, finite non-negative numbers). 0 or ERR_ARG/ERR_NOMEM. */
int hw_table_add(hw_table *t, mx_format f, int rows, int cols, int batch, double us_per_token,
                 double bytes, mx_error *e);
/* Parse text (len bytes, need not end with NUL) into an initialized, empty
 * t; errors are ERR_FORMAT "NAME:LINE: what" (t is then emptied). */
int hw_table_parse(hw_table *t, const char *text, size_t len, const char *name, mx_error *e);
/* hw_table_init + read + parse the file. */
int hw_table_read(const char *path, hw_table *t, mx_error *e);
/* Write t atomically (temp file + rename), after a header naming the
 * columns, the machine and each line of comment (may be NULL). */
int hw_table_write(const char *path, const hw_table *t, const char *comment, mx_error *e);
/* The row of f at rows x cols, or NULL. */
const hw_entry *hw_table_find(const hw_table *t, mx_format f, int rows, int cols);

#endif
