/*
 * main.c - the vas command: dispatches to its subcommands. Uses only the public header.
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>

static int usage(FILE *out)
{
    fprintf(out,
            "usage: vas <command> [options]\n"
            "\n"
            "commands:\n"
            "  tour       a guided tour of the Windows virtual memory manager\n"
            "  version    print the version of vas\n"
            "  help       print this help\n");
    return out == stderr ? 2 : 0;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage(stderr);
    const char *command = argv[1];
    if (strcmp(command, "tour") == 0)
        return cli_tour(argc - 1, argv + 1);
    if (strcmp(command, "version") == 0 || strcmp(command, "--version") == 0) {
        printf("vas %s\n", vas_version());
        return 0;
    }
    if (strcmp(command, "help") == 0 || strcmp(command, "--help") == 0 || strcmp(command, "-h") == 0)
        return usage(stdout);
    fprintf(stderr, "vas: unknown command '%s'\n\n", command);
    return usage(stderr);
}
