/* PLACEHOLDER: replaced by the real implementation of `mxalloc tui`. */
#include <stdio.h>
#include "src/cmd.h"
int cmd_tui(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "mxalloc tui: not built yet\n");
    return 1;
}
