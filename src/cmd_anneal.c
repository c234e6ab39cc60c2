/* PLACEHOLDER: replaced by the real implementation of `mxalloc anneal`. */
#include <stdio.h>
#include "src/cmd.h"
int cmd_anneal(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "mxalloc anneal: not built yet\n");
    return 1;
}
