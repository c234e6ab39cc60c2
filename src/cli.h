/* Small helpers shared by the subcommands' option parsing (binary only). */
#ifndef MXALLOC_CLI_H
#define MXALLOC_CLI_H

/* A whole decimal integer >= lo: 0, or -1 (nothing, trailing text, overflow, < lo). */
int cli_parse_long(const char *s, long lo, long *out);
/* A whole finite number: 0, or -1. */
int cli_parse_double(const char *s, double *out);

#endif
