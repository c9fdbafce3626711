/*
 * shrd.dll - a DLL with a shared writable section: GCC's `shared` attribute puts s_shared in a
 * section .shr that GNU as and ld mark IMAGE_SCN_MEM_SHARED (0xD0000040: initialised data,
 * shared, read, write). Loaded, that section is PAGE_READWRITE and one set of pages for every
 * process; its .data beside it stays PAGE_WRITECOPY (private to each process).
 */
#include "fixture.h"

__attribute__((section(".shr"), shared)) EXPORT int s_shared[1024] = {0x53485244, 2, 3};
EXPORT int s_private[1024] = {0x50525654, 5, 6};

EXPORT int s_get(int i) { return s_shared[i & 1023] + s_private[i & 1023]; }

int __stdcall dll_entry(void *module, unsigned reason, void *reserved)
{
    (void)module;
    (void)reason;
    (void)reserved;
    return 1;
}
