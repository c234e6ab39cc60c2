/* PLACEHOLDER: replaced by the real implementation of `mxalloc scores`. */
#include <stdio.h>
#include "src/cmd.h"
int cmd_scores(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "mxalloc scores: not built yet\n");
    return 1;
}
