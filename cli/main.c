/*
 * main.c - the vas command: reads the options every command shares (--json, --color), then
 * dispatches to a subcommand. Uses only the public header.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int usage(FILE *out)
{
    fprintf(out,
            "usage: vas [--json] [--color=auto|always|never] <command> [arguments]\n"
            "\n"
            "commands:\n"
            "  tour                          a guided tour of the Windows virtual memory manager\n"
            "  run [--check] FILE...         run scenario scripts (docs/scenario.md)\n"
            "  shell                         the scenario language, interactively\n"
            "  map SCRIPT [PROCESS]          VMMap's summary and details of a script's process\n"
            "  frag SCRIPT [PROCESS] [--pages]  the fragmentation view\n"
            "  physical SCRIPT               who owns each physical frame\n"
            "  query SCRIPT ADDRESS [PROCESS]   VirtualQuery at an address\n"
            "  stats SCRIPT [PROCESS]        the machine's and the process's figures\n"
            "  report --html FILE [SCRIPT...]   a self-contained HTML page of a machine\n"
            "  limits --reserve|--commit|--touch [options]   TestLimit against a machine\n"
            "  version                       print the version of vas\n"
            "  help                          print this help\n"
            "\n"
            "The views run SCRIPT (\"-\": standard input) and show its machine at the end.\n"
            "Colour is on for a terminal unless NO_COLOR is set. See man vas or docs/cli.md.\n");
    return out == stderr ? EXIT_USAGE : EXIT_OK;
}

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
} command;

static const command commands[] = {
    {"tour", cli_tour},   {"run", cli_run},   {"shell", cli_shell},     {"map", cli_view},
    {"frag", cli_view},   {"physical", cli_view}, {"query", cli_view},  {"stats", cli_view},
    {"report", cli_report}, {"limits", cli_limits},
};

/* Takes the shared options out of argv, wherever they are; -1 for a bad one. */
static int read_shared_options(int *argc, char **argv)
{
    int colour_mode = -1; /* -1 auto, 0 never, 1 always */
    int kept = 0;
    for (int i = 0; i < *argc; i++) {
        const char *a = argv[i];
        if (i > 0 && strcmp(a, "--json") == 0)
            cli.json = 1;
        else if (i > 0 && (strcmp(a, "--color=never") == 0 || strcmp(a, "--no-color") == 0))
            colour_mode = 0;
        else if (i > 0 && strcmp(a, "--color=always") == 0)
            colour_mode = 1;
        else if (i > 0 && strcmp(a, "--color=auto") == 0)
            colour_mode = -1;
        else if (i > 0 && strncmp(a, "--color", 7) == 0) {
            fprintf(stderr, "vas: %s: expected --color=auto, --color=always or --color=never\n", a);
            return -1;
        } else
            argv[kept++] = argv[i];
    }
    *argc = kept;
    argv[kept] = NULL;
    const char *no_color = getenv("NO_COLOR");
    if (colour_mode < 0)
        cli.colour = isatty(STDOUT_FILENO) && !(no_color && *no_color) && !cli.json;
    else
        cli.colour = colour_mode && !cli.json;
    return 0;
}

int main(int argc, char **argv)
{
    if (read_shared_options(&argc, argv) < 0)
        return EXIT_USAGE;
    if (argc < 2)
        return usage(stderr);
    const char *name = argv[1];
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(name, commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    if (strcmp(name, "version") == 0 || strcmp(name, "--version") == 0) {
        printf(cli.json ? "{\"version\": \"%s\"}\n" : "vas %s\n", vas_version());
        return EXIT_OK;
    }
    if (strcmp(name, "help") == 0 || strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0)
        return usage(stdout);
    fprintf(stderr, "vas: unknown command '%s'\n\n", name);
    return usage(stderr);
}
