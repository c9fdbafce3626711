/* script.c - (being written) */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>

cli_settings cli;

int parse_number(const char *text, uint64_t *value)
{
    if (!text || !isdigit((unsigned char)*text))
        return 0;
    char *end;
    errno = 0;
    unsigned long long n = strtoull(text, &end, 0);
    if (errno || end == text)
        return 0;
    int shift = 0;
    switch (toupper((unsigned char)*end)) {
    case 'K': shift = 10; end++; break;
    case 'M': shift = 20; end++; break;
    case 'G': shift = 30; end++; break;
    case 'T': shift = 40; end++; break;
    default: break;
    }
    if (*end || (shift && n > (UINT64_MAX >> shift)))
        return 0;
    *value = (uint64_t)n << shift;
    return 1;
}

int cli_run(int argc, char **argv) { return EXIT_USAGE; }
int cli_shell(int argc, char **argv) { return EXIT_USAGE; }
int cli_view(int argc, char **argv) { return EXIT_USAGE; }
int cli_report(int argc, char **argv) { return EXIT_USAGE; }
