/* cli.h - the polyp command-line tool: subcommands and the helpers they share. */
#ifndef POLYP_CLI_H
#define POLYP_CLI_H

#include "polyp.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

/* Each subcommand: argv[0] is the subcommand name; returns the process exit status.
 * Every one accepts --help. Every listed command is always built: a missing one is a link
 * error, never a command that turns out to be absent at run time. */
#define POLYP_CLI_COMMANDS(X)                                                            \
    X(extract, "extract features of annotated points: photos + points CSV -> .featurevector") \
    X(train, "train a classifier on feature files and annotations")                     \
    X(classify, "score points with a trained classifier -> CoralNet export CSV")        \
    X(evaluate, "accuracy, per-label metrics, confusion matrix and Alleviate curve")    \
    X(points, "generate CoralNet's random, stratified or grid points")                  \
    X(cover, "percent cover per image and overall (mean, SE) from labels or suggestions") \
    X(status, "check a (sharded) extract run's outputs: done / missing / corrupt / foreign") \
    X(testnet, "write the seeded, untrained test network (safetensors)")

#define POLYP_CLI_DECLARE(name, help) int polyp_cmd_##name(int argc, char **argv);
POLYP_CLI_COMMANDS(POLYP_CLI_DECLARE)
#undef POLYP_CLI_DECLARE

/* Prints "polyp <cmd>: <message>" as one line on stderr; returns 1 (the exit status). */
int cli_fail(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Same, with a library error's message. */
int cli_fail_err(const char *cmd, const polyp_error *err);

/* Writes a whole file atomically: to "<path>.tmp-<pid>-<host>", fsync, then rename over path,
 * so a crash or Ctrl-C never leaves a half-written file under the final name. The host in
 * the name keeps two tasks on different nodes of a shared filesystem (same pid, same image)
 * from writing one temporary file; both then rename identical, complete bytes into place. */
bool cli_write_file_atomic(const char *path, const void *data, size_t size, polyp_error *err);

/* This machine's host name with anything but [A-Za-z0-9._-] replaced by '_' (at most 64
 * characters; "_" when unknown): the <host> of cli_write_file_atomic's temporary names. */
void cli_host_tag(char *buf, size_t cap);

/* Reads a whole file (polyp_free the result): the core's polyp_read_file. */
bool cli_read_file(const char *path, void **data, size_t *size, polyp_error *err);

/* Parses a non-negative integer option value; false (with a message) when malformed. */
bool cli_parse_size(const char *cmd, const char *opt, const char *value, size_t *out);

/* Progress line on stderr, redrawn in place on a terminal and printed at most every few
 * seconds otherwise: "<what> 12/340 images, 51.3 patches/s, ETA 1m20s". */
typedef struct cli_progress {
    const char *what;
    size_t total;
    double start, last_print;
    bool tty;
} cli_progress;
void cli_progress_begin(cli_progress *p, const char *what, size_t total);
void cli_progress_update(cli_progress *p, size_t done, double units_per_s, const char *unit);
void cli_progress_end(cli_progress *p);
double cli_now(void); /* monotonic seconds */

/* Set by SIGINT/SIGTERM handlers installed with cli_install_signal_handlers(). */
extern volatile int cli_interrupted;
void cli_install_signal_handlers(void);

#endif /* POLYP_CLI_H */
