/* cli.h - the vas command's subcommands and the settings every one of them follows. */
#ifndef VAS_CLI_H
#define VAS_CLI_H

#include "vas.h"

#include <stdint.h>

/* Exit codes of every command (docs/cli.md). */
enum {
    EXIT_OK = 0,
    EXIT_EXPECT_FAILED = 1,   /* a script's `expect` did not hold */
    EXIT_USAGE = 2,           /* bad command line */
    EXIT_SCRIPT_ERROR = 3,    /* a script that does not parse, or a line that cannot run */
    EXIT_IO_ERROR = 4,        /* a file that cannot be read or written */
    EXIT_PROBLEM = 5          /* vas itself disagreed with Windows (the tour's checks) */
};

/* Set by main from the command line and the environment before a command runs. */
typedef struct cli_settings {
    int json;                 /* --json: data as JSON */
    int colour;               /* colour on: --color=always, or a terminal without NO_COLOR */
} cli_settings;
extern cli_settings cli;

/* A number as scripts and options write it: decimal or 0x hex, with an optional K, M, G or T
   suffix (powers of 1024). 0 when text is not such a number or it does not fit 64 bits. */
int parse_number(const char *text, uint64_t *value);

struct view_process;
/* Runs a scenario held in a string (printing its transcript when echo is set), then, if every
   line ran, calls then() with its machine and processes before they go. Returns an exit code. */
typedef void (*script_then)(vas_machine *machine, const struct view_process *processes, size_t count,
                            void *context);
int script_run_string(const char *name, const char *text, int echo, script_then then, void *context);
/* Parses a scenario without running it (vas run --check): EXIT_OK or EXIT_SCRIPT_ERROR. */
int script_check_string(const char *name, const char *text);

int cli_tour(int argc, char **argv);
int cli_run(int argc, char **argv);       /* vas run FILE... */
int cli_shell(int argc, char **argv);     /* vas shell */
int cli_view(int argc, char **argv);      /* vas map|frag|physical|query|stats SCRIPT ... */
int cli_report(int argc, char **argv);    /* vas report --html FILE [SCRIPT...] */
int cli_limits(int argc, char **argv);    /* vas limits --reserve|--commit|--touch ... */

#endif
