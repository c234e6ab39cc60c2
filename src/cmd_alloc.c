/* PLACEHOLDER: replaced by the real implementation of `mxalloc alloc`. */
#include <stdio.h>
#include "src/cmd.h"
int cmd_alloc(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "mxalloc alloc: not built yet\n");
    return 1;
}
