/* PLACEHOLDER: replaced by the real implementation of `mxalloc info`. */
#include <stdio.h>
#include "src/cmd.h"
int cmd_info(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "mxalloc info: not built yet\n");
    return 1;
}
