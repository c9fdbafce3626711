/* cli.h - the vas command's subcommands. */
#ifndef VAS_CLI_H
#define VAS_CLI_H

#include "vas.h"

int cli_tour(int argc, char **argv);

#endif
