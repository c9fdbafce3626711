#include "cli.h"
#include <stdio.h>
int cli_tour(int argc, char **argv) { (void)argc; (void)argv; printf("tour\n"); return 0; }
