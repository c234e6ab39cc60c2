/* libFuzzer target: workbench command lines (`:` line and --script) through
 * ui_cmd_parse, the one parser both use (ui/ui_cmd.c). The input is a script:
 * each line is parsed on its own. A rejected line must leave a one-line
 * message; an accepted one sane fields. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz_util.h"
#include "ui/ui_cmd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    char *line = buf;
    while (line) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        ui_cmd cmd;
        char err[256] = "";
        int rc = ui_cmd_parse(line, &cmd, err, sizeof err);
        if (rc < 0) {
            if (!err[0] || strchr(err, '\n'))
                abort();
        } else if (rc == 0) {
            if (cmd.id < 0 || cmd.id >= UI_CMD_COUNT || cmd.argc < 0 ||
                cmd.argc > UI_CMD_MAXARGS)
                abort();
            for (int i = 0; i < cmd.argc; i++)
                if (!memchr(cmd.argv[i], 0, UI_CMD_ARGLEN))
                    abort();
            (void)strlen(ui_cmd_name(cmd.id));
            (void)strlen(ui_cmd_usage(cmd.id));
        }
        char words[UI_CMD_MAXARGS][UI_CMD_ARGLEN];
        int nw = ui_cmd_split(line, words, UI_CMD_MAXARGS);
        if (nw > UI_CMD_MAXARGS)
            abort();
        line = nl ? nl + 1 : NULL;
    }
    free(buf);
    return 0;
}
