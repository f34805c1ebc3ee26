/* quotetape — command-line plumbing shared by every subcommand.
 *
 * The cli/ layer only parses arguments and wires stages together; stage
 * logic lives in the stage libraries. Each subcommand is
 * `int qt_cmd_<name>(int argc, char **argv)` with argv[0] the command name,
 * returning a process exit code (qt_exit_code). */
#ifndef QT_CLI_H
#define QT_CLI_H

#include <getopt.h>
#include <signal.h>
#include <stddef.h>

#include "core/error.h"
#include "core/kafka.h"
#include "core/tape.h"

/* Options every Kafka-using command takes, for getopt_long tables. */
#define QT_CLI_KAFKA_SHORT "b:X:F:"
#define QT_CLI_LOG_SHORT "vq"
#define QT_CLI_COMMON_LONG                                                                      \
    {"brokers", required_argument, 0, 'b'}, {"property", required_argument, 0, 'X'},            \
        {"config", required_argument, 0, 'F'}, {"verbose", no_argument, 0, 'v'},               \
        {"quiet", no_argument, 0, 'q'}, {"help", no_argument, 0, 'h'}

/* Handles -b -X -F -v -q. Returns 1 if c was one of them (and handled),
 * 0 if not, or -1 after printing an error (exit with QT_EUSAGE/ECONFIG). */
int qt_cli_common(int c, const char *arg, qt_kopts *k, qt_err *rc);

/* Prints "quotetape: error: <err>" and returns the exit code for rc. */
int qt_cli_fail(qt_err rc, const char *err);

/* Prints "quotetape CMD: <msg>; see 'quotetape CMD --help'" for a usage error
 * and returns the usage exit code. */
int qt_cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Installs SIGINT/SIGTERM handlers that set the flag returned (and do
 * nothing else); SIGPIPE is ignored. */
volatile sig_atomic_t *qt_cli_stop_flag(void);

/* Parses a comma-separated list ("SPY,QQQ") into a NULL-terminated array of
 * strings in one allocation; *n gets the count. Free with free(). NULL on an
 * empty element or allocation failure. */
char **qt_cli_split_list(const char *s, size_t *n);

/* Builds a tape selection from --symbols S,.. --from POS --to POS (each may
 * be NULL), resolving positions against t. *syms holds the symbol array;
 * the caller frees it with free(). --to before --from is QT_ERANGE. */
qt_err qt_cli_tape_selection(qt_tape *t, const char *symbols, const char *from, const char *to,
                             qt_tape_sel *sel, char ***syms, char *err, size_t errsz);

/* The --serve key pair, from QUOTETAPE_SERVE_KEY / _SECRET only (never the
 * command line, where ps would show it); both or neither, and --auth needs
 * them. *key and *secret are NULL when unset. Returns 0, or the usage exit
 * code after printing why (naming cmd). */
int qt_cli_serve_keys(const char *cmd, int auth, const char **key, const char **secret);

/* Subcommands. */
int qt_cmd_import(int argc, char **argv);
int qt_cmd_export(int argc, char **argv);
int qt_cmd_info(int argc, char **argv);
int qt_cmd_broker(int argc, char **argv);
int qt_cmd_replay(int argc, char **argv);
int qt_cmd_window(int argc, char **argv);
int qt_cmd_view(int argc, char **argv);
int qt_cmd_chart(int argc, char **argv);
int qt_cmd_demo(int argc, char **argv);
int qt_cmd_record(int argc, char **argv);
int qt_cmd_sync(int argc, char **argv);

#endif
