/* Subcommands of the mxalloc binary: one file src/cmd_NAME.c each.
 * Each returns the process exit status: 0 ok, 1 error, 2 usage. */
#ifndef MXALLOC_CMD_H
#define MXALLOC_CMD_H

int cmd_mx(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_ppl(int argc, char **argv);
int cmd_score(int argc, char **argv);
int cmd_scores(int argc, char **argv);
int cmd_alloc(int argc, char **argv);
int cmd_sweep(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_anneal(int argc, char **argv);
int cmd_prune(int argc, char **argv);
int cmd_tui(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_hwprofile(int argc, char **argv);

#endif
