/*
 * cmd.h — the twinctl subcommands, one file each.  Each takes the
 * arguments after its name (argv[0] is the subcommand) and returns the
 * process exit status: 0 success, 1 the work failed, 2 bad usage or a
 * rejected input.
 */
#ifndef TWIN_CMD_H
#define TWIN_CMD_H

int cmd_run(int argc, char **argv);
int cmd_steady(int argc, char **argv);
int cmd_models(int argc, char **argv);
int cmd_check_model(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_submit(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_functions(int argc, char **argv);
int cmd_call(int argc, char **argv);
int cmd_batch(int argc, char **argv);
int cmd_plot(int argc, char **argv);

#endif
