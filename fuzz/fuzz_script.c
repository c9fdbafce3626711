/*
 * fuzz_script.c - a libFuzzer target over the scenario language (cli/script.c): the input is a
 * script.
 *
 * Every input is parsed (script_check_string), which must end in EXIT_OK or EXIT_SCRIPT_ERROR
 * whatever the bytes. Inputs that parse are also run on the default machine, quietly, unless
 * they hold a `machine` line or a `touch` (which could ask for many gigabytes of simulated RAM or
 * touch them page by page) or a word that reaches the host's files (`file=` of a section,
 * `report`, `image`): the run must end with one of the documented exit codes, and
 * AddressSanitizer and UBSan watch every command's handler on the way.
 *
 * Seed corpus: fuzz/script_corpus/ (and examples/), replayed by ctest as fuzz_script_replay.
 */
#include "cli.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = 0;
    if (strlen(text) == size) { /* scripts are text: vas refuses a zero byte before parsing */
        int status = script_check_string("fuzz", text);
        if (status != EXIT_OK && status != EXIT_SCRIPT_ERROR)
            abort();
        static const char *const unsafe[] = {"machine", "touch", "file", "report", "image"};
        bool safe = true;
        for (size_t i = 0; i < sizeof unsafe / sizeof unsafe[0]; i++)
            safe = safe && !strstr(text, unsafe[i]);
        if (status == EXIT_OK && safe) {
            status = script_run_string("fuzz", text, 0, NULL, NULL);
            if (status != EXIT_OK && status != EXIT_EXPECT_FAILED && status != EXIT_SCRIPT_ERROR &&
                status != EXIT_IO_ERROR)
                abort();
        }
    }
    free(text);
    return 0;
}
