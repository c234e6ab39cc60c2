/* Workbench commands: the `:` line and --script share one parser. Pure: no
 * curses, no model; semantic checks (module and format names) happen when the
 * command is executed against the workbench state (ui_exec.h). */
#ifndef MXALLOC_UI_CMD_H
#define MXALLOC_UI_CMD_H

#include <stddef.h>

#define UI_CMD_MAXARGS 8
#define UI_CMD_ARGLEN 512

typedef enum ui_cmd_id {
    UI_CMD_BUDGET = 0, /* budget B */
    UI_CMD_PIN,        /* pin NAME FMT */
    UI_CMD_UNPIN,      /* unpin NAME|all */
    UI_CMD_FORMATS,    /* formats LIST|all */
    UI_CMD_GROUP,      /* group qkv|gateup on|off */
    UI_CMD_TARGET,     /* target mx|llama-cpp : what the bits count (alloc --target) */
    UI_CMD_LATENCY,    /* latency MS|off : limit the predicted latency (tui --hw-table) */
    UI_CMD_METHOD,     /* method kl|fisher|gamma : which score drives the solver */
    UI_CMD_SCORE,      /* score [--method kl|fisher|both] */
    UI_CMD_ANNEAL,     /* anneal dmx|gamma [--steps N] [--refine N] [--seed N] */
    UI_CMD_PRUNE,      /* prune on|off|weight W : joint pruning + formats (number: W; flag: on/off; argv[0] the verb) */
    UI_CMD_EVAL,       /* eval */
    UI_CMD_GENERATE,   /* generate [N] [PROMPT] : N in number (0 = default), PROMPT joined in argv[0] */
    UI_CMD_CANCEL,     /* cancel */
    UI_CMD_EXPORT,     /* export FILE [--to llama-cpp|json] */
    UI_CMD_LOAD_SCORES,/* load-scores FILE */
    UI_CMD_SHOW,       /* show [NAME] : print the allocation (script mode) */
    UI_CMD_KEEP,       /* keep [NAME] : keep the current allocation as a candidate */
    UI_CMD_USE,        /* use NAME|ilp : make a candidate (or the solver's answer) current */
    UI_CMD_CANDS,      /* cands : list the candidates */
    UI_CMD_FIND,       /* find TEXT : modules whose name contains TEXT */
    UI_CMD_STATUS,     /* status : scores, method, text, formats, groups, target in use */
    UI_CMD_UNDO,       /* undo : the constraints before the last edit */
    UI_CMD_REDO,       /* redo */
    UI_CMD_HELP,       /* help */
    UI_CMD_QUIT,       /* quit */
    UI_CMD_COUNT
} ui_cmd_id;

typedef struct ui_cmd {
    ui_cmd_id id;
    int argc;                                  /* words after the command name */
    char argv[UI_CMD_MAXARGS][UI_CMD_ARGLEN];
    double number;                             /* budget B */
    int flag;                                  /* group: 1 on / 0 off */
    int to_llama;                              /* export --to llama-cpp */
    long steps, refine, seed;                  /* anneal options; -1: not given */
} ui_cmd;

/* Parse one line. Returns 0 with *out filled, 1 for a blank or '#' comment
 * line, -1 with a one-line message in err (usage of the command named). */
int ui_cmd_parse(const char *line, ui_cmd *out, char *err, size_t err_len);

/* Command names, in ui_cmd_id order (for help and completion). */
const char *ui_cmd_name(ui_cmd_id id);
/* One-line usage ("budget B  -- set the average bits per weight"). */
const char *ui_cmd_usage(ui_cmd_id id);

/* Split a line into words (whitespace; "double" or 'single' quotes group).
 * Returns the word count (at most max) or -1 on an unterminated quote or a
 * word longer than UI_CMD_ARGLEN-1. */
int ui_cmd_split(const char *line, char words[][UI_CMD_ARGLEN], int max);

#endif
