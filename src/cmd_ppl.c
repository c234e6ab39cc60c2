/* PLACEHOLDER: replaced by the real implementation of `mxalloc ppl`. */
#include <stdio.h>
#include "src/cmd.h"
int cmd_ppl(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "mxalloc ppl: not built yet\n");
    return 1;
}
