/*
 * norel.dll - a DLL without a base-relocation section (GNU ld always gives a DLL one, even with
 * --disable-reloc-section, so the build strips .reloc afterwards: the directory is then empty;
 * IMAGE_FILE_RELOCS_STRIPPED stays clear) and with kbase.dll's image base: it
 * loads at its base when that is free, and fails to load when kbase.dll is there first
 * (Windows: STATUS_CONFLICTING_ADDRESSES; vas_map_image: ERROR_INVALID_ADDRESS).
 */
#include "fixture.h"

static const char n_text[] = "norel: cannot move";
EXPORT const char *n_pointer = n_text;
EXPORT const char *n_get(void) { return n_pointer; }

int __stdcall dll_entry(void *module, unsigned reason, void *reserved)
{
    (void)module;
    (void)reason;
    (void)reserved;
    return 1;
}
