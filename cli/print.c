/*
 * print.c - plain-text output for the vas command: headings, prose wrapped at PRINT_WIDTH,
 * tables whose columns size themselves to their widest cell, and size and address labels.
 * Everything goes to stdout; nothing depends on the terminal, so output is the same bytes on
 * every run.
 */
#include "print.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* ---- Labels ------------------------------------------------------------------------------ */

label size_label(uint64_t bytes)
{
    static const char *const units[] = {"bytes", "KB", "MB", "GB", "TB", "PB", "EB"};
    enum { LAST_UNIT = 6, MAX_TERMS = 3 };
    char terms[sizeof(label) - 1] = ""; /* room for the "~" */
    size_t used = 0;
    uint64_t rest = bytes;
    bool negative = false; /* whether the next term is subtracted */
    /* Each term is the multiple of the largest unit that fits, rounded to whichever side leaves
       less; rounding up turns the remainder into something to subtract. */
    for (int term = 0; term < MAX_TERMS && (rest || term == 0); term++) {
        int unit = 0;
        while (unit < LAST_UNIT && rest >> (10 * (unit + 1)))
            unit++;
        uint64_t unit_bytes = 1ull << (10 * unit), count = rest >> (10 * unit);
        uint64_t past_lower = rest - (count << (10 * unit)), short_of_upper = unit_bytes - past_lower;
        bool round_up = past_lower && short_of_upper < past_lower;
        if (round_up) {
            count++;
            if (count == 1024 && unit < LAST_UNIT) {
                count = 1;
                unit++;
            }
        }
        const char *joiner = term == 0 ? "" : negative ? " - " : " + ";
        int n = snprintf(terms + used, sizeof terms - used, "%s%" PRIu64 " %s", joiner, count, units[unit]);
        if (n < 0 || (size_t)n >= sizeof terms - used)
            break;
        used += (size_t)n;
        rest = round_up ? short_of_upper : past_lower;
        negative ^= round_up;
    }
    label l;
    snprintf(l.s, sizeof l.s, "%s%s", rest ? "~" : "", terms);
    return l;
}

label address_label(uint64_t address, int bits)
{
    label l;
    if (bits == 32)
        snprintf(l.s, sizeof l.s, "0x%08" PRIX64, address);
    else
        snprintf(l.s, sizeof l.s, "0x%08" PRIX64 "`%08" PRIX64, address >> 32, address & 0xFFFFFFFFu);
    return l;
}

/* ---- Headings and prose ------------------------------------------------------------------ */

void print_heading(int number, const char *title)
{
    int length = printf("\n%d. %s\n", number, title) - 2;
    for (int i = 0; i < length; i++)
        putchar('=');
    printf("\n\n");
}

void print_text(const char *format, ...)
{
    char text[4096];
    va_list args;
    va_start(args, format);
    vsnprintf(text, sizeof text, format, args);
    va_end(args);

    size_t column = 0;
    for (const char *p = text; *p;) {
        if (column == 0 && *p == ' ') { /* a preformatted line: printed as it is */
            size_t line = strcspn(p, "\n");
            printf("%.*s\n", (int)line, p);
            p += line + (p[line] == '\n');
            continue;
        }
        if (*p == '\n') {
            putchar('\n');
            column = 0;
            p++;
            continue;
        }
        if (*p == ' ') {
            p++;
            continue;
        }
        size_t word = strcspn(p, " \n");
        if (column && column + 1 + word > PRINT_WIDTH) {
            putchar('\n');
            column = 0;
        } else if (column) {
            putchar(' ');
            column++;
        }
        fwrite(p, 1, word, stdout);
        column += word;
        p += word;
    }
    if (column)
        putchar('\n');
    putchar('\n');
}

/* ---- Tables ------------------------------------------------------------------------------ */

void table_begin(table *t, ...)
{
    memset(t, 0, sizeof *t);
    va_list args;
    va_start(args, t);
    for (const char *header; t->columns < TABLE_MAX_COLUMNS && (header = va_arg(args, const char *));)
        t->headers[t->columns++] = header;
    va_end(args);
}

void table_row(table *t, ...)
{
    if (t->rows == TABLE_MAX_ROWS) {
        t->dropped_rows++;
        return;
    }
    va_list args;
    va_start(args, t);
    for (size_t c = 0; c < t->columns; c++)
        snprintf(t->cells[t->rows][c], TABLE_CELL_SIZE, "%s", va_arg(args, const char *));
    va_end(args);
    t->rows++;
}

static const char *header_text(const char *header) { return header[0] == '>' ? header + 1 : header; }

/* One line of the table: cells padded to their column's width, two spaces apart, no trailing
   spaces (empty cells at the end of a line are left out). */
static void print_line(const table *t, const size_t *widths, const char *const *cells)
{
    size_t columns = t->columns;
    while (columns > 1 && cells[columns - 1][0] == '\0' && t->headers[columns - 1][0] != '>')
        columns--;
    printf("  ");
    for (size_t c = 0; c < columns; c++) {
        bool last = c + 1 == columns, right = t->headers[c][0] == '>';
        int width = (int)widths[c];
        if (right)
            printf("%*s", width, cells[c]);
        else
            printf("%-*s", last ? 0 : width, cells[c]);
        printf("%s", last ? "\n" : "  ");
    }
}

void table_print(const table *t)
{
    size_t widths[TABLE_MAX_COLUMNS];
    const char *cells[TABLE_MAX_COLUMNS];
    char rules[TABLE_MAX_COLUMNS][TABLE_CELL_SIZE];
    for (size_t c = 0; c < t->columns; c++) {
        widths[c] = strlen(header_text(t->headers[c]));
        for (size_t r = 0; r < t->rows; r++)
            if (strlen(t->cells[r][c]) > widths[c])
                widths[c] = strlen(t->cells[r][c]);
        size_t rule = widths[c] < TABLE_CELL_SIZE ? widths[c] : TABLE_CELL_SIZE - 1;
        memset(rules[c], '-', rule);
        rules[c][rule] = '\0';
        cells[c] = header_text(t->headers[c]);
    }
    print_line(t, widths, cells);
    for (size_t c = 0; c < t->columns; c++)
        cells[c] = rules[c];
    print_line(t, widths, cells);
    for (size_t r = 0; r < t->rows; r++) {
        for (size_t c = 0; c < t->columns; c++)
            cells[c] = t->cells[r][c];
        print_line(t, widths, cells);
    }
    if (t->dropped_rows)
        printf("  (%zu more rows not shown)\n", t->dropped_rows);
    putchar('\n');
}
