/*
 * layout.c - the address-space layouts of Windows and the partitions they cut.
 *
 * Data structure: a static table of layouts (one per machine kind), and a function that turns a
 * layout plus a process's width and large-address-awareness into the shape of that process's
 * address space: its lowest and highest user addresses, the highest address an allocation may
 * reach, and its partitions.
 *
 * Invariants of every shape:
 *   1. The partitions are listed lowest first, touch end to end, start at 0 and end at the top
 *      of the process's addressable range (2^32 - 1 for 32-bit kinds, 2^64 - 1 for 64-bit).
 *   2. The user partition is [lowest, highest]; lowest is 64 KB aligned, highest + 1 is too.
 *   3. vad_limit = highest + 1 - 64 KB: the top 64 KB of user space holds no allocation
 *      (NT's MM_HIGHEST_VAD_ADDRESS), so allocations end at or below it.
 *
 * The numbers are Windows' own (Windows via C/C++ table 13-1; Microsoft's "Memory limits for
 * Windows releases"; ../shared/spec/nt-memory-manager.md section 3).
 */
#include "internal.h"

#include <string.h>

static const layout layouts[] = {
    {"x64", PT_X64, "x64, Windows 8.1 and later (128 TB user space)", 0x1000, 64, false,
     0x00007FFFFFFEFFFFull, 0xFFFF800000000000ull},
    {"x64-win7", PT_X64, "x64, Windows Vista to Windows 8 (8 TB user space)", 0x1000, 64, false,
     0x000007FFFFFEFFFFull, 0xFFFF080000000000ull},
    {"x86", PT_X86, "x86 (32-bit), 2 GB user space, 3 GB with IncreaseUserVa and /LARGEADDRESSAWARE",
     0x1000, 32, false, 0x7FFEFFFFull, 0x80000000ull},
    {"ia64", PT_IA64, "IA-64 (Itanium), 8 KB pages, 7 TB user space", 0x2000, 64, false,
     0x000006FBFFFEFFFFull, 0x000006FC00000000ull},
    {"win9x", PT_X86, "Windows 95/98 (32-bit, shared area from 2 GB to 3 GB)", 0x1000, 32, true,
     0x7FFFFFFFull, 0xC0000000ull},
};

const layout *layout_find(const char *name)
{
    if (!name)
        return &layouts[0];
    for (size_t i = 0; i < sizeof layouts / sizeof layouts[0]; i++)
        if (strcmp(layouts[i].name, name) == 0)
            return &layouts[i];
    return NULL;
}

static void add(address_space_shape *s, vas_partition_kind kind, const char *name, uint64_t first,
                uint64_t last)
{
    if (first > last || s->partition_count == MAX_PARTITIONS)
        return;
    s->partitions[s->partition_count++] = (vas_partition){kind, name, first, last};
}

static const char *const NULL_NAME = "NULL-pointer assignment";
static const char *const USER_NAME = "User mode";
static const char *const OFF_LIMITS_NAME = "64-KB off-limits";
static const char *const KERNEL_NAME = "Kernel mode";

uint32_t layout_shape(const layout *l, uint32_t increase_user_va_mb, int bits,
                      bool large_address_aware, address_space_shape *s)
{
    memset(s, 0, sizeof *s);
    if (bits != 32 && bits != 64)
        return VAS_STATUS_INVALID_PARAMETER;
    if (bits == 64 && l->native_bits == 32)
        return VAS_STATUS_NOT_SUPPORTED;

    if (l->win9x) {
        /* Windows 98: no 64 KB off-limits partition, and user code can reach the shared area. */
        s->lowest = 0x00400000;
        s->highest = 0x7FFFFFFF;
        add(s, VAS_PARTITION_NULL, NULL_NAME, 0, 0x00000FFF);
        add(s, VAS_PARTITION_DOS, "MS-DOS/16-bit Windows compatibility", 0x00001000, 0x003FFFFF);
        add(s, VAS_PARTITION_USER, USER_NAME, 0x00400000, 0x7FFFFFFF);
        add(s, VAS_PARTITION_SHARED, "Shared memory-mapped files", 0x80000000, 0xBFFFFFFF);
        add(s, VAS_PARTITION_KERNEL, KERNEL_NAME, 0xC0000000, 0xFFFFFFFF);
        s->vad_limit = s->highest + 1 - GRANULARITY;
        return VAS_STATUS_SUCCESS;
    }

    s->lowest = GRANULARITY;
    uint64_t top = bits == 32 ? 0xFFFFFFFFull : UINT64_MAX;
    uint64_t kernel_start;     /* where kernel mode begins, as seen by this process */
    if (l->native_bits == 32) {
        /* x86: the boundary moves with IncreaseUserVa, but only for large-address-aware images. */
        uint64_t boundary = (uint64_t)(increase_user_va_mb ? increase_user_va_mb : 2048) << 20;
        kernel_start = boundary;
        s->highest = (large_address_aware ? boundary : 0x80000000ull) - GRANULARITY - 1;
    } else if (bits == 32) {
        /* WOW64: 2 GB, or 4 GB when large-address-aware; the 64-bit kernel lies far above. */
        kernel_start = top + 1;
        s->highest = large_address_aware ? 0xFFFEFFFFull : 0x7FFEFFFFull;
    } else {
        kernel_start = l->system_range_start;
        s->highest = large_address_aware ? l->user_last : 0x7FFEFFFFull;
    }
    s->vad_limit = s->highest + 1 - GRANULARITY;

    add(s, VAS_PARTITION_NULL, NULL_NAME, 0, GRANULARITY - 1);
    add(s, VAS_PARTITION_USER, USER_NAME, GRANULARITY, s->highest);
    add(s, VAS_PARTITION_OFF_LIMITS, OFF_LIMITS_NAME, s->highest + 1, s->highest + GRANULARITY);
    uint64_t after = s->highest + GRANULARITY + 1; /* first address past the off-limits block */
    if (bits == 32) {
        /* 32-bit code ends at 4 GB: x86's kernel follows, WOW64's is out of reach entirely. */
        if (after < kernel_start)
            add(s, VAS_PARTITION_UNUSABLE, "Not available to this process", after, kernel_start - 1);
        if (kernel_start <= top)
            add(s, VAS_PARTITION_KERNEL, KERNEL_NAME, kernel_start, top);
        return VAS_STATUS_SUCCESS;
    }
    /* 64-bit: the rest of the lower canonical half, the hole the CPU refuses, then the kernel. */
    uint64_t lower_half_end = l->page_size == 0x2000 ? kernel_start - 1 : 0x00007FFFFFFFFFFFull;
    if (after <= lower_half_end)
        add(s, VAS_PARTITION_UNUSABLE, "Not available to this process", after, lower_half_end);
    if (l->page_size == 0x1000) {
        /* x64 system space is the canonical upper half (Windows 7 names 0xFFFF0800'00000000 as
           its system range start, but addresses below 0xFFFF8000'00000000 are not canonical). */
        add(s, VAS_PARTITION_NONCANONICAL, "Non-canonical (refused by the CPU)",
            0x0000800000000000ull, 0xFFFF7FFFFFFFFFFFull);
        kernel_start = 0xFFFF800000000000ull;
    }
    add(s, VAS_PARTITION_KERNEL, KERNEL_NAME, kernel_start, top);
    return VAS_STATUS_SUCCESS;
}
