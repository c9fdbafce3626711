/*
 * rbase.dll - built with kbase.dll's image base, so that loaded after it it must be relocated.
 * Full of absolute addresses: a table of 1536 pointers over three pages of .data (HIGHLOW or
 * DIR64 fixups in many blocks), pointers to code, and one pointer that straddles a page
 * boundary (at offset 0xFFE of its page) so that a fixup spans two pages. 32-bit code also
 * holds absolute addresses in .text.
 */
#include "fixture.h"

static const char r_text[] = "rbase: relocate me";
static int r_values[64];

EXPORT int r_sum(int i);

EXPORT const void *r_table[1536] = {
#define R4(n) &r_values[(n) & 63], r_text + ((n) & 15), (const void *)r_sum, &r_table[n]
#define R16(n) R4(n), R4(n + 1), R4(n + 2), R4(n + 3)
#define R64(n) R16(n), R16(n + 4), R16(n + 8), R16(n + 12)
#define R256(n) R64(n), R64(n + 16), R64(n + 32), R64(n + 48)
    R256(0), R256(64), R256(128), R256(192), R256(256), R256(320),
};

/* A pointer at offset 0xFFE of a page: its fixup's bytes lie in two pages. */
struct straddle {
    char pad[0x1000 - 2];
    const char *across;
    const char *after;
} __attribute__((packed, aligned(0x1000)));
EXPORT struct straddle r_straddle = {{1}, r_text, r_text + 1};

EXPORT int r_sum(int i) { return r_values[i & 63] + (int)(__INTPTR_TYPE__)r_table[i % 1536] + r_text[i & 7]; }

int __stdcall dll_entry(void *module, unsigned reason, void *reserved)
{
    (void)module;
    (void)reason;
    (void)reserved;
    return 1;
}
