/* main.c - `polyp`: dispatches to the subcommands listed in cli.h. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

typedef struct command {
    const char *name;
    const char *help;
    int (*fn)(int argc, char **argv);
} command;

#define POLYP_CLI_ENTRY(name, help) {#name, help, polyp_cmd_##name},
static const command commands[] = {POLYP_CLI_COMMANDS(POLYP_CLI_ENTRY)};
#undef POLYP_CLI_ENTRY

static void usage(FILE *out) {
    fprintf(out,
            "polyp %s - CoralNet 1.0's point-annotation engine\n\n"
            "usage: polyp <command> [options]   (polyp <command> --help for details)\n\n"
            "commands:\n",
            POLYP_VERSION_STRING);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].help);
    fprintf(out, "\n  --version  print the version\n  --help     this text\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
        printf("polyp %s\n", POLYP_VERSION_STRING);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(cmd, commands[i].name) != 0) continue;
        return commands[i].fn(argc - 1, argv + 1);
    }
    fprintf(stderr, "polyp: unknown command '%s' (polyp --help lists them)\n", cmd);
    return 2;
}
