/* PLACEHOLDER: replaced by the real implementation of `mxalloc sweep`. */
#include <stdio.h>
#include "src/cmd.h"
int cmd_sweep(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "mxalloc sweep: not built yet\n");
    return 1;
}
