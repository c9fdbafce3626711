/*
 * kbase.dll - the "kernel32-like" DLL: imported by app.exe and by ubase.dll. Its sections
 * cover each kind of protection a compiler gives: .text (code: PAGE_EXECUTE_READ), .rdata and
 * .edata (read-only data: PAGE_READONLY), .data (initialised writable data: PAGE_WRITECOPY),
 * .bss (uninitialised, no raw data, two pages: PAGE_WRITECOPY, zero), .xdat (writable code:
 * PAGE_EXECUTE_WRITECOPY), .reloc. Its .data holds absolute pointers, so it has relocations.
 */
#include "fixture.h"

EXPORT int k_counter = 0x4B424153;                     /* "KBAS" */
static const char k_name[] = "kbase: the kernel32-like fixture";
EXPORT const char *k_table[4] = {k_name, k_name + 1, k_name + 2, 0};
EXPORT int k_scratch[2048];                            /* .bss: 8 KB of zeros */

/* A section that is writable and executable (IMAGE_SCN_MEM_EXECUTE|READ|WRITE). */
__asm__(".section .xdat,\"wx\"\n"
        ".globl k_thunk_bytes\n"
        "k_thunk_bytes:\n"
        ".byte 0xC3, 0x90, 0x90, 0x90\n"
        ".long 0x58444154\n"
        ".text\n");

EXPORT int k_add(int a, int b) { return a + b + k_counter; }
EXPORT const char *k_get(int i) { return k_table[i & 3]; }
EXPORT int *k_buffer(void) { return k_scratch; }

int __stdcall dll_entry(void *module, unsigned reason, void *reserved)
{
    (void)module;
    (void)reason;
    (void)reserved;
    return 1;
}
