/*
 * loopa.dll and loopb.dll import each other (an import loop), and loop.exe imports loopa.dll:
 * creating loop.exe's process must load each DLL once and stop. The import libraries come from
 * loopa.def and loopb.def (dlltool), since neither DLL can be linked before the other.
 */
#include "fixture.h"

IMPORT int lb_value(void);

EXPORT int la_value(void) { return 1 + lb_value(); }

int __stdcall dll_entry(void *module, unsigned reason, void *reserved)
{
    (void)module;
    (void)reason;
    (void)reserved;
    return 1;
}
