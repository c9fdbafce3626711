/*
 * json.h - a small JSON writer for the vas tool's --json output. It tracks nesting so that
 * commas come out right; keys and strings are escaped. Numbers that are addresses, sizes or
 * Windows codes are written as JSON numbers when below 2^53 and as decimal strings above, so that
 * no reader loses precision (documented in docs/cli.md).
 */
#ifndef VAS_CLI_JSON_H
#define VAS_CLI_JSON_H

#include <stdint.h>
#include <stdio.h>

#define JSON_MAX_DEPTH 16

typedef struct json_writer {
    FILE *out;
    int depth;
    int need_comma[JSON_MAX_DEPTH];
} json_writer;

/* Set: every document on one line (JSON Lines), as `vas --json run` prints its stream. */
extern int json_one_line;

void json_begin(json_writer *w, FILE *out);
void json_end(json_writer *w);                        /* a newline after the document */
void json_object_begin(json_writer *w, const char *key); /* key NULL inside arrays / at the top */
void json_object_end(json_writer *w);
void json_array_begin(json_writer *w, const char *key);
void json_array_end(json_writer *w);
void json_string(json_writer *w, const char *key, const char *value); /* NULL value: null */
void json_u64(json_writer *w, const char *key, uint64_t value);
void json_i64(json_writer *w, const char *key, int64_t value);
void json_bool(json_writer *w, const char *key, int value);
/* An address as a hex string, "0x7ffe0000": what a reader compares with WinDbg or VMMap. */
void json_hex(json_writer *w, const char *key, uint64_t value);

#endif
