/* limits.c - (being written) */
#include "cli.h"
int cli_limits(int argc, char **argv) { return EXIT_USAGE; }
