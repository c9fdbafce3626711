/*
 * print.h - plain-text output for the vas command: headings, wrapped prose, aligned tables, and
 * labels for sizes and addresses.
 *
 * A label is a small struct returned by value, so several may appear in one printf call:
 * printf("%s at %s", size_label(n).s, address_label(a, 64).s) is well-defined C11, since the
 * temporaries live until the end of the full expression.
 */
#ifndef VAS_CLI_PRINT_H
#define VAS_CLI_PRINT_H

#include <stddef.h>
#include <stdint.h>

#define PRINT_WIDTH 78 /* prose wraps at this column */

typedef struct label {
    char s[48];
} label;

/* "64 KB", "768 MB", or exact sums of units: "2 GB - 128 KB", "128 TB - 2 GB - 64 KB"
   (a "~" in front if three terms are not enough). Units are powers of 1024, as on Windows. */
label size_label(uint64_t bytes);
/* "0x7FFE0000" for a 32-bit process, "0x00000000`7FFE0000" (WinDbg style) for a 64-bit one. */
label address_label(uint64_t address, int bits);

/* "1. Title" and a rule under it, with a blank line before. */
void print_heading(int number, const char *title);
/* printf-formatted prose, wrapped at PRINT_WIDTH, then a blank line. "\n" starts a new line; a
   line that starts with a space is preformatted (code, say) and printed as it is. */
void print_text(const char *format, ...) __attribute__((format(printf, 1, 2)));

/* ---- Tables ------------------------------------------------------------------------------
 * table_begin(&t, "Address", ">Size", NULL); table_row(&t, a, b); table_print(&t);
 * A header starting with '>' right-aligns its column. Cells are copied, so a row may be built
 * from temporaries. Rows past TABLE_MAX_ROWS are counted and reported, not printed. */
#define TABLE_MAX_COLUMNS 8
#define TABLE_MAX_ROWS 40
#define TABLE_CELL_SIZE 48

typedef struct table {
    size_t columns, rows, dropped_rows;
    const char *headers[TABLE_MAX_COLUMNS];
    char cells[TABLE_MAX_ROWS][TABLE_MAX_COLUMNS][TABLE_CELL_SIZE];
} table;

void table_begin(table *t, ...);   /* the headers, then NULL */
void table_row(table *t, ...);     /* exactly t->columns strings */
void table_print(const table *t);  /* indented by two spaces, then a blank line */

#endif
