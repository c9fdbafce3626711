/*
 * json.c - the JSON writer behind the vas tool's --json output.
 *
 * The writer is a stack of open containers: depth counts the objects and arrays open, and
 * need_comma[d] says whether the container at depth d already holds a member, so the next one
 * must be preceded by a comma. Invariant: every value is written by emit_prefix (comma, new line,
 * indentation and key) followed by the value itself; containers print their closing bracket on
 * a line of their own, so documents are indented two spaces a level and diff line by line.
 *
 * Numbers: JSON readers commonly hold numbers as IEEE doubles, which are exact only below 2^53.
 * Sizes and counters past that (a 128 TB free block is not; 2^64 - 1 is) are written as decimal
 * strings, so no reader ever rounds them. Addresses are always hex strings (json_hex).
 *
 * Strings are UTF-8: quotes, backslashes and control characters are escaped, and bytes that are
 * not valid UTF-8 become U+FFFD, so the output is valid JSON whatever a path holds.
 */
#include "json.h"

#include <assert.h>
#include <inttypes.h>
#include <stdbool.h>

#define JSON_EXACT_LIMIT (UINT64_C(1) << 53) /* the first integer a double may not hold exactly */

int json_one_line;

void json_begin(json_writer *w, FILE *out)
{
    w->out = out;
    w->depth = 0;
    w->need_comma[0] = 0;
}

void json_end(json_writer *w)
{
    assert(w->depth == 0 && "json_end with a container still open");
    fputc('\n', w->out);
}

static void write_string(json_writer *w, const char *s);

/* Everything a value needs before it: the comma after the previous member, a new line indented
   to the current depth (none for the document itself), and the key inside objects. */
static void emit_prefix(json_writer *w, const char *key)
{
    if (w->need_comma[w->depth])
        fputc(',', w->out);
    if (w->depth > 0 && !json_one_line)
        fprintf(w->out, "\n%*s", 2 * w->depth, "");
    if (key) {
        write_string(w, key);
        fputs(json_one_line ? ":" : ": ", w->out);
    }
    w->need_comma[w->depth] = 1;
}

static void open_container(json_writer *w, const char *key, char bracket)
{
    emit_prefix(w, key);
    fputc(bracket, w->out);
    assert(w->depth + 1 < JSON_MAX_DEPTH && "JSON nested deeper than JSON_MAX_DEPTH");
    w->depth++;
    w->need_comma[w->depth] = 0;
}

static void close_container(json_writer *w, char bracket)
{
    assert(w->depth > 0 && "closing a JSON container that is not open");
    int had_members = w->need_comma[w->depth];
    w->depth--;
    if (had_members && !json_one_line) /* an empty container stays on one line: {} or [] */
        fprintf(w->out, "\n%*s", 2 * w->depth, "");
    fputc(bracket, w->out);
}

void json_object_begin(json_writer *w, const char *key) { open_container(w, key, '{'); }
void json_object_end(json_writer *w) { close_container(w, '}'); }
void json_array_begin(json_writer *w, const char *key) { open_container(w, key, '['); }
void json_array_end(json_writer *w) { close_container(w, ']'); }

/* The length of the valid UTF-8 sequence at s (1 to 4), or 0 if the bytes there are not one:
   a stray continuation byte, a truncated sequence, an overlong form, a surrogate, or a code
   point past U+10FFFF. */
static int utf8_sequence_length(const unsigned char *s)
{
    unsigned char c = s[0];
    int length;
    uint32_t code, minimum;
    if (c < 0x80)
        return 1;
    if ((c & 0xE0) == 0xC0) {
        length = 2, code = c & 0x1F, minimum = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        length = 3, code = c & 0x0F, minimum = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        length = 4, code = c & 0x07, minimum = 0x10000;
    } else {
        return 0;
    }
    for (int i = 1; i < length; i++) {
        if ((s[i] & 0xC0) != 0x80) /* also stops at the terminating NUL */
            return 0;
        code = code << 6 | (s[i] & 0x3F);
    }
    if (code < minimum || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF))
        return 0;
    return length;
}

static void write_string(json_writer *w, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    fputc('"', w->out);
    while (*p) {
        if (*p == '"' || *p == '\\') {
            fputc('\\', w->out);
            fputc(*p++, w->out);
        } else if (*p < 0x20 || *p == 0x7F) {
            fprintf(w->out, "\\u%04x", *p++);
        } else {
            int length = utf8_sequence_length(p);
            if (length == 0) {
                fputs("\\ufffd", w->out);
                p++;
            } else {
                fwrite(p, 1, (size_t)length, w->out);
                p += length;
            }
        }
    }
    fputc('"', w->out);
}

void json_string(json_writer *w, const char *key, const char *value)
{
    emit_prefix(w, key);
    if (value)
        write_string(w, value);
    else
        fputs("null", w->out);
}

void json_u64(json_writer *w, const char *key, uint64_t value)
{
    emit_prefix(w, key);
    if (value < JSON_EXACT_LIMIT)
        fprintf(w->out, "%" PRIu64, value);
    else
        fprintf(w->out, "\"%" PRIu64 "\"", value);
}

void json_i64(json_writer *w, const char *key, int64_t value)
{
    emit_prefix(w, key);
    bool exact = value > -(int64_t)JSON_EXACT_LIMIT && value < (int64_t)JSON_EXACT_LIMIT;
    if (exact)
        fprintf(w->out, "%" PRId64, value);
    else
        fprintf(w->out, "\"%" PRId64 "\"", value);
}

void json_bool(json_writer *w, const char *key, int value)
{
    emit_prefix(w, key);
    fputs(value ? "true" : "false", w->out);
}

void json_hex(json_writer *w, const char *key, uint64_t value)
{
    emit_prefix(w, key);
    fprintf(w->out, "\"0x%" PRIx64 "\"", value);
}
