/* loopb.dll: the other half of the import loop (see loopa.c). */
#include "fixture.h"

IMPORT int la_value(void);

EXPORT int lb_value(void) { return 2 + la_value(); }

int __stdcall dll_entry(void *module, unsigned reason, void *reserved)
{
    (void)module;
    (void)reason;
    (void)reserved;
    return 1;
}
