/* PLACEHOLDER: replaced by the real implementation of `mxalloc score`. */
#include <stdio.h>
#include "src/cmd.h"
int cmd_score(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "mxalloc score: not built yet\n");
    return 1;
}
