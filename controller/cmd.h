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

/* The flags for the broker connection's security, the same for every
 * command that connects as an orchestrator (submit, status, batch): getopt_long
 * values, their entries for the long options table, and their help.  The
 * password never comes from the command line: only its file, or
 * TWIN_MQTT_PASSWORD (mqtt.h). */
enum {
    MQTT_OPT_CA_FILE = 0x200,
    MQTT_OPT_CERT,
    MQTT_OPT_KEY,
    MQTT_OPT_USERNAME,
    MQTT_OPT_PASSWORD_FILE,
    MQTT_OPT_PASSWORD      /* refused: listed so that getopt_long does not
                            * take --password as short for --password-file
                            * (and a password for a file name) */
};

#define MQTT_SECURITY_LONGOPTS                                          \
    {"ca-file", required_argument, NULL, MQTT_OPT_CA_FILE},             \
    {"cert", required_argument, NULL, MQTT_OPT_CERT},                   \
    {"key", required_argument, NULL, MQTT_OPT_KEY},                     \
    {"username", required_argument, NULL, MQTT_OPT_USERNAME},           \
    {"password-file", required_argument, NULL, MQTT_OPT_PASSWORD_FILE}, \
    {"password", required_argument, NULL, MQTT_OPT_PASSWORD}

struct mqtt_options;

/* (cmd_submit.c) Take flag c of the above, with its argument, into o
 * (borrowed).  Returns 1 when it was one, 0 when it is not, -1 for
 * --password (refused: say MQTT_NO_PASSWORD_FLAG). */
int cmd__security_flag(int c, const char *arg, struct mqtt_options *o);

#define MQTT_NO_PASSWORD_FLAG                                           \
    "there is no --password: a command line is visible to every user of " \
    "the machine; put the password in a file for --password-file, or in " \
    "TWIN_MQTT_PASSWORD"

#define MQTT_SECURITY_USAGE                                             \
    "Connection security (a --broker URL ssl://HOST:PORT or mqtts:// uses\n" \
    "TLS and checks the broker's certificate and host name):\n"        \
    "      --ca-file FILE   CA certificates (PEM) to check the broker's\n" \
    "                       certificate against (default: the system's)\n" \
    "      --cert FILE      client certificate (PEM), if the broker asks\n" \
    "                       for one\n"                                  \
    "      --key FILE       its private key (PEM), if not in --cert's file\n" \
    "      --username NAME  log in as NAME; the password is the first line\n" \
    "                       of --password-file FILE, else\n"            \
    "                       $TWIN_MQTT_PASSWORD (never a flag: a command\n" \
    "                       line is visible to every user)\n"           \
    "      --password-file FILE\n"                                      \
    "                       the file whose first line is the password\n"

#endif
