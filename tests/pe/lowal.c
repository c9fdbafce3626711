/*
 * lowal.dll - a "low alignment" image: SectionAlignment = FileAlignment = 0x200, below the page,
 * so that every section's RVA equals its file offset and the file maps one to one. Windows then
 * cannot give sections protections of their own (several share a page) and maps the whole image
 * PAGE_EXECUTE_WRITECOPY. No uninitialised data (it would break RVA = file offset).
 */
#include "fixture.h"

EXPORT int l_value = 0x4C4F5741;                       /* "LOWA" */
static const char l_text[] = "lowal: a low-alignment image";
EXPORT const char *l_pointer = l_text;
EXPORT const char *l_get(void) { return l_pointer + l_value; }

int __stdcall dll_entry(void *module, unsigned reason, void *reserved)
{
    (void)module;
    (void)reason;
    (void)reserved;
    return 1;
}
