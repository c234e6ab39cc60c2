/* PLACEHOLDER: replaced by the real implementation of `mxalloc export`. */
#include <stdio.h>
#include "src/cmd.h"
int cmd_export(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "mxalloc export: not built yet\n");
    return 1;
}
