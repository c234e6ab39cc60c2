/* PLACEHOLDER: replaced by the real implementation of `mxalloc mx`. */
#include <stdio.h>
#include "src/cmd.h"
int cmd_mx(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "mxalloc mx: not built yet\n");
    return 1;
}
