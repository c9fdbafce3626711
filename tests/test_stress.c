/*
 * test_stress.c - a seeded random stress test of the region API against a reference model.
 *
 *   test_stress [calls [seed [layout]]]    default: 1,000,000 calls, seed from the clock (printed)
 *
 * One process gets a 64 MB window at the bottom of its user space; everything above the window
 * is filled with fixed reservations ("fences") so that system-placed allocations land in the
 * window too and collide all the time. Random calls (reserve, reserve+commit, commit, decommit,
 * protect, release, NT partial release, query, MEM_RESET, top-down, with often unaligned or plainly
 * bad addresses, sizes, types and protections) go to the library and to a reference model: an
 * array with one entry per page of the window (state, protection, allocation base, allocation
 * protection). The model applies Windows' rules in the simplest way that can be seen to be right
 * (spec/windows-behavior.md groups A-F and nt-memory-manager.md section 4); it knows nothing of
 * the library's tree or runs. Every call's result, error code, written-back base and size and old
 * protection must match; after every call the process counters must match and two addresses are
 * queried field by field; every few thousand calls the whole address space is walked with
 * VirtualQuery and vas_check() runs.
 *
 * The calls are shared out between four machines, one per layout (x64; x86; ia64, with 8 KB pages;
 * Windows 95/98, with its own answers, spec section 3 item 1), each with a commit limit drawn
 * from the seed; a layout name as third argument runs that machine alone.
 *
 * Where Windows' behaviour is not pinned down by the spec, the model takes the library's
 * documented choice ("unpinned" below): a system-placed allocation larger than the user space
 * above its lowest address is a parameter error (87), not a failed search (8); a write-copy
 * protection is refused (87) before the address is looked at; MEM_RESET at address 0 finds no
 * allocation (487); and which of several parameter errors NtAllocateVirtualMemory names first
 * is not compared (only the Win32 error they map to). Decommitting past an allocation's end is
 * STATUS_UNABLE_TO_FREE_VM (87), as ReactOS's NtFreeVirtualMemory apitest, run against Windows,
 * expects. Two corners are left out because nobody knows what Windows does there: a protection
 * change that would put PAGE_GUARD or PAGE_NOACCESS on a page committed with a cache modifier,
 * and a MEM_COMMIT over committed pages whose cache modifiers differ from the new ones. The
 * generator steers around them.
 */
#include "check.h"

#include <stdbool.h>
#include <time.h>

/* ---- Random numbers (splitmix64) ---------------------------------------------------------- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static uint64_t below(uint64_t n) { return n ? rnd() % n : 0; }
static bool chance(unsigned percent) { return below(100) < percent; }

/* ---- Windows facts the model needs ------------------------------------------------------- */

#define GRAN 0x10000ull
#define KUSER 0x7FFE0000ull
#define STATUS_PRIVILEGE_NOT_HELD 0xC0000061u
#define CACHE_BITS (VAS_PAGE_NOCACHE | VAS_PAGE_WRITECOMBINE)

/* RtlNtStatusToDosError for the statuses the model produces (spec fact 137). */
static uint32_t dos_error(uint32_t status)
{
    switch (status) {
    case VAS_STATUS_SUCCESS: return 0;
    case VAS_STATUS_INVALID_PARAMETER: case VAS_STATUS_INVALID_PARAMETER_2:
    case VAS_STATUS_INVALID_PARAMETER_3: case VAS_STATUS_INVALID_PARAMETER_4:
    case VAS_STATUS_INVALID_PARAMETER_5: case VAS_STATUS_INVALID_PAGE_PROTECTION:
    case VAS_STATUS_UNABLE_TO_FREE_VM:
        return VAS_ERROR_INVALID_PARAMETER;
    case VAS_STATUS_CONFLICTING_ADDRESSES: case VAS_STATUS_NOT_COMMITTED:
    case VAS_STATUS_FREE_VM_NOT_AT_BASE: case VAS_STATUS_MEMORY_NOT_ALLOCATED:
    case VAS_STATUS_UNABLE_TO_DECOMMIT_VM: case VAS_STATUS_INVALID_ADDRESS:
        return VAS_ERROR_INVALID_ADDRESS;
    case VAS_STATUS_NO_MEMORY: return VAS_ERROR_NOT_ENOUGH_MEMORY;
    case VAS_STATUS_COMMITMENT_LIMIT: return VAS_ERROR_COMMITMENT_LIMIT;
    case VAS_STATUS_ACCESS_VIOLATION: return VAS_ERROR_NOACCESS;
    case VAS_STATUS_INFO_LENGTH_MISMATCH: return VAS_ERROR_BAD_LENGTH;
    case STATUS_PRIVILEGE_NOT_HELD: return 1314;
    default: return 0xFFFFFFFFu;
    }
}

/* NtAllocateVirtualMemory's allocation types (winnt.h; VirtualAlloc's documentation). */
static bool type_valid(uint32_t t)
{
    const uint32_t known = VAS_MEM_COMMIT | VAS_MEM_RESERVE | VAS_MEM_RESET | VAS_MEM_RESET_UNDO |
                           VAS_MEM_TOP_DOWN | VAS_MEM_WRITE_WATCH | VAS_MEM_PHYSICAL | VAS_MEM_LARGE_PAGES;
    if (t & ~known)
        return false;
    if (!(t & (VAS_MEM_COMMIT | VAS_MEM_RESERVE | VAS_MEM_RESET | VAS_MEM_RESET_UNDO)))
        return false;
    if ((t & VAS_MEM_RESET) && t != VAS_MEM_RESET)
        return false;
    if ((t & VAS_MEM_RESET_UNDO) && t != VAS_MEM_RESET_UNDO)
        return false;
    if ((t & VAS_MEM_WRITE_WATCH) && !(t & VAS_MEM_RESERVE))
        return false;
    if ((t & VAS_MEM_LARGE_PAGES) && !(t & VAS_MEM_COMMIT))
        return false;
    if ((t & VAS_MEM_PHYSICAL) && (t & ~(VAS_MEM_RESERVE | VAS_MEM_TOP_DOWN | VAS_MEM_PHYSICAL)))
        return false;
    if ((t & VAS_MEM_PHYSICAL) && !(t & VAS_MEM_RESERVE))
        return false;
    return true;
}

/* Protections of private memory (facts 7, 8, 10, 11, 37; MiMakeProtectionMask). */
static bool is_write_copy(uint32_t p) { return p & (VAS_PAGE_WRITECOPY | VAS_PAGE_EXECUTE_WRITECOPY) & 0xFF; }

/* A valid protection value; write-copy ones are valid values, refused for private memory only
   once the range is known to be private (NtProtectVirtualMemory, NtAllocateVirtualMemory). */
static bool protect_valid(uint32_t p)
{
    static const uint32_t ok[] = {VAS_PAGE_NOACCESS, VAS_PAGE_READONLY, VAS_PAGE_READWRITE, VAS_PAGE_WRITECOPY,
                                  VAS_PAGE_EXECUTE, VAS_PAGE_EXECUTE_READ, VAS_PAGE_EXECUTE_READWRITE,
                                  VAS_PAGE_EXECUTE_WRITECOPY};
    uint32_t base = p & 0xFF, mods = p & ~0xFFu;
    bool found = false;
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        found |= base == ok[i];
    if (!found || (mods & ~(VAS_PAGE_GUARD | CACHE_BITS)))
        return false;
    if (base == VAS_PAGE_NOACCESS && mods)
        return false;
    if ((mods & CACHE_BITS) == CACHE_BITS)
        return false;
    if ((mods & VAS_PAGE_GUARD) && (mods & CACHE_BITS))
        return false;
    return true;
}

/* ---- The reference model ----------------------------------------------------------------- */

enum { FREE = 0, RESERVED = 1, COMMITTED = 2 };

typedef struct fixed_alloc {       /* an allocation outside the window that never changes */
    uint64_t start, end, committed_end;
    uint32_t allocation_protect, protect;
} fixed_alloc;

typedef struct model {
    uint64_t page;                 /* page size */
    uint64_t lowest, highest, vad_limit;
    uint64_t w0, wend;             /* the window, [w0, wend) */
    size_t np;                     /* its pages */
    uint8_t *state;
    uint32_t *protect;             /* committed pages: PAGE_*; else 0 */
    uint32_t *base;                /* allocated pages: page index of the allocation's first page */
    uint32_t *aprot;               /* allocated pages: the allocation protection */
    uint32_t *run;                 /* scratch: free pages from here on */
    uint64_t committed, allocated, allocations; /* window pages and allocations */
    uint64_t commit_limit;
    bool win9x;                    /* Windows 95/98's answers (spec section 3, item 1) */
    fixed_alloc fixed[3];
    int nfixed;
    uint64_t fixed_bytes;
} model;

static model M;

static uint64_t down(uint64_t x, uint64_t a) { return x & ~(a - 1); }
static uint64_t up(uint64_t x, uint64_t a) { return (x + a - 1) & ~(a - 1); } /* callers keep x small */
static uint64_t addr_of(size_t p) { return M.w0 + p * M.page; }
static size_t page_of(uint64_t a) { return (size_t)((a - M.w0) / M.page); }
static bool in_window(uint64_t a) { return a >= M.w0 && a < M.wend; }

/* The allocation holding window page p (allocated): its first page and its end page. */
static void extent(size_t p, size_t *first, size_t *end)
{
    size_t e = p;
    while (e < M.np && M.state[e] != FREE && M.base[e] == M.base[p])
        e++;
    *first = M.base[p];
    *end = e;
}

static void set_page(size_t p, int state, uint32_t protect)
{
    M.committed += (state == COMMITTED) - (M.state[p] == COMMITTED);
    M.allocated += (state != FREE) - (M.state[p] != FREE);
    M.state[p] = (uint8_t)state;
    M.protect[p] = state == COMMITTED ? protect : 0;
}

/* Finds [start, end) inside one allocation of the window; false when it is not. */
static bool within_one(uint64_t start, uint64_t end, size_t *first, size_t *alloc_end)
{
    if (!in_window(start) || M.state[page_of(start)] == FREE)
        return false;
    extent(page_of(start), first, alloc_end);
    return end <= addr_of(*alloc_end);
}

/* NtAllocateVirtualMemory (zero_bits 0). */
static uint32_t m_allocate(uint64_t *pbase, uint64_t *psize, uint32_t type, uint32_t protect)
{
    uint64_t addr = *pbase, size = *psize;
    if (!type_valid(type))
        return VAS_STATUS_INVALID_PARAMETER_5;
    bool reset = type == VAS_MEM_RESET;   /* fact 56: the protection is ignored */
    if (reset && M.win9x)
        return VAS_STATUS_INVALID_PARAMETER_5; /* no MEM_RESET on Windows 95/98 */
    if (size == 0)
        return VAS_STATUS_INVALID_PARAMETER_4;
    if (!reset && !protect_valid(protect)) /* unpinned for write-copy on the commit path */
        return VAS_STATUS_INVALID_PAGE_PROTECTION;
    if (type & VAS_MEM_LARGE_PAGES)
        return STATUS_PRIVILEGE_NOT_HELD;
    if (addr) {
        if (addr >= M.vad_limit)
            return VAS_STATUS_INVALID_PARAMETER_2;
        if (size > M.vad_limit - addr)
            return VAS_STATUS_INVALID_PARAMETER_4;
    } else if (size > M.vad_limit - M.lowest) {  /* unpinned: the library's bound for address 0 */
        return VAS_STATUS_INVALID_PARAMETER_4;
    }
    if (reset || (addr && !(type & VAS_MEM_RESERVE))) {
        /* MEM_RESET or MEM_COMMIT inside a reservation: page rounding, one allocation (fact 58,
           checklist 3); MEM_COMMIT over committed pages changes their protection (fact 17). */
        uint64_t start = down(addr, M.page), end = up(addr + size, M.page);
        size_t first, alloc_end;
        if (!within_one(start, end, &first, &alloc_end)) /* unpinned for MEM_RESET at 0 */
            return VAS_STATUS_CONFLICTING_ADDRESSES;
        if (!reset && is_write_copy(protect))
            return VAS_STATUS_INVALID_PAGE_PROTECTION; /* private memory */
        size_t a = page_of(start), b = page_of(end);
        if (!reset) {
            uint64_t fresh = 0;
            for (size_t p = a; p < b; p++)
                fresh += M.state[p] != COMMITTED;
            if (fresh * M.page > M.commit_limit - M.committed * M.page)
                return VAS_STATUS_COMMITMENT_LIMIT;
            for (size_t p = a; p < b; p++)
                set_page(p, COMMITTED, protect);
        }
        *pbase = start;
        *psize = end - start;
        return VAS_STATUS_SUCCESS;
    }
    /* A new reservation. */
    if (is_write_copy(protect))
        return VAS_STATUS_INVALID_PAGE_PROTECTION;
    uint64_t start, end;
    if (addr) {
        start = down(addr, GRAN); /* fact 4 */
        end = up(addr + size, M.page);
        if (start < M.lowest || end > M.wend) /* the NULL partition, or into the fences */
            return VAS_STATUS_CONFLICTING_ADDRESSES;
        for (size_t p = page_of(start); p < page_of(end); p++)
            if (M.state[p] != FREE)
                return VAS_STATUS_CONFLICTING_ADDRESSES;
    } else {
        /* First fit from the bottom, or from the top with MEM_TOP_DOWN (checklist 6). */
        uint64_t length = up(size, M.page);
        if (length > M.wend - M.w0)
            return VAS_STATUS_NO_MEMORY;
        size_t pages = (size_t)(length / M.page), step = (size_t)(GRAN / M.page);
        size_t n = 0;
        for (size_t p = M.np; p-- > 0;)
            M.run[p] = (uint32_t)(n = M.state[p] == FREE ? n + 1 : 0);
        size_t slots = M.np / step, found = SIZE_MAX;
        for (size_t k = 0; k < slots; k++) {
            size_t s = (type & VAS_MEM_TOP_DOWN) ? (slots - 1 - k) * step : k * step;
            if (M.run[s] >= pages) {
                found = s;
                break;
            }
        }
        if (found == SIZE_MAX)
            return VAS_STATUS_NO_MEMORY;
        start = addr_of(found);
        end = start + length;
    }
    bool commit = type & VAS_MEM_COMMIT;
    if (commit && end - start > M.commit_limit - M.committed * M.page)
        return VAS_STATUS_COMMITMENT_LIMIT;
    size_t a = page_of(start);
    for (size_t p = a; p < page_of(end); p++) {
        set_page(p, commit ? COMMITTED : RESERVED, protect);
        M.base[p] = (uint32_t)a;
        M.aprot[p] = protect;
    }
    M.allocations++;
    *pbase = start;
    *psize = end - start;
    return VAS_STATUS_SUCCESS;
}

/* NtFreeVirtualMemory (facts 20-32, checklist 11-13). */
static uint32_t m_free(uint64_t *pbase, uint64_t *psize, uint32_t free_type)
{
    uint64_t addr = *pbase, size = *psize;
    if (free_type != VAS_MEM_DECOMMIT && free_type != VAS_MEM_RELEASE)
        return VAS_STATUS_INVALID_PARAMETER_4;
    if (addr > M.highest)
        return VAS_STATUS_INVALID_PARAMETER_2;
    if (size > M.highest + 1 - addr)
        return VAS_STATUS_INVALID_PARAMETER_3;
    uint64_t start = down(addr, M.page), end;
    if (!in_window(start) || M.state[page_of(start)] == FREE)
        return VAS_STATUS_MEMORY_NOT_ALLOCATED;
    size_t first, alloc_end;
    extent(page_of(start), &first, &alloc_end);
    bool release = free_type == VAS_MEM_RELEASE;
    if (size == 0) {
        if (page_of(start) != first)
            return VAS_STATUS_FREE_VM_NOT_AT_BASE;
        end = addr_of(alloc_end);
    } else {
        end = up(addr + size, M.page);
        if (end > addr_of(alloc_end)) /* for a decommit too: ReactOS's NtFreeVirtualMemory
                                         apitest, run against Windows, expects this status */
            return VAS_STATUS_UNABLE_TO_FREE_VM;
    }
    size_t a = page_of(start), b = page_of(end);
    for (size_t p = a; p < b; p++)
        set_page(p, release ? FREE : RESERVED, 0);
    if (release) {
        /* What is left after the hole is an allocation of its own (fact 32). */
        for (size_t p = b; p < alloc_end; p++)
            M.base[p] = (uint32_t)b;
        M.allocations += (a > first) + (b < alloc_end) - 1;
    }
    *pbase = start;
    *psize = release || size ? end - start : 0; /* fact 25, current Windows */
    return VAS_STATUS_SUCCESS;
}

/* NtProtectVirtualMemory (facts 34-44, checklist 19). *old is written as Windows writes it. */
static uint32_t m_protect(uint64_t *pbase, uint64_t *psize, uint32_t protect, uint32_t *old, bool null_old)
{
    uint64_t addr = *pbase, size = *psize;
    if (!protect_valid(protect))
        return VAS_STATUS_INVALID_PAGE_PROTECTION;
    if (null_old)
        return VAS_STATUS_ACCESS_VIOLATION;
    if (addr > M.highest)
        return VAS_STATUS_INVALID_PARAMETER_2;
    if (size == 0 || size > M.highest + 1 - addr)
        return VAS_STATUS_INVALID_PARAMETER_3;
    uint64_t start = down(addr, M.page), end = up(addr + size, M.page);
    size_t first, alloc_end;
    if (!within_one(start, end, &first, &alloc_end)) {
        *old = VAS_PAGE_NOACCESS;
        return VAS_STATUS_CONFLICTING_ADDRESSES;
    }
    if (is_write_copy(protect))
        return VAS_STATUS_INVALID_PAGE_PROTECTION; /* private memory */
    size_t a = page_of(start), b = page_of(end);
    for (size_t p = a; p < b; p++) {
        if (M.state[p] != COMMITTED) {
            *old = VAS_PAGE_NOACCESS;
            return VAS_STATUS_NOT_COMMITTED;
        }
    }
    *old = M.protect[a];
    for (size_t p = a; p < b; p++) /* cache modifiers stay as committed (facts 43, 44) */
        M.protect[p] = (protect & ~CACHE_BITS) | (M.protect[p] & CACHE_BITS);
    *pbase = start;
    *psize = end - start;
    return VAS_STATUS_SUCCESS;
}

/* NtQueryVirtualMemory(MemoryBasicInformation) (facts 2, 16, 47, checklist 15-18). */
static uint32_t m_query(uint64_t addr, vas_memory_basic_information *mbi)
{
    if (addr > M.highest)
        return VAS_STATUS_INVALID_PARAMETER;
    uint64_t page = down(addr, M.page);
    memset(mbi, 0, sizeof *mbi);
    mbi->base_address = page;
    if (in_window(page) && M.state[page_of(page)] != FREE) {
        size_t p = page_of(page), e = p;
        while (e < M.np && M.state[e] == M.state[p] && M.protect[e] == M.protect[p] &&
               M.base[e] == M.base[p])
            e++;
        mbi->allocation_base = addr_of(M.base[p]);
        mbi->allocation_protect = M.aprot[p];
        mbi->region_size = addr_of(e) - page;
        mbi->state = M.state[p] == COMMITTED ? VAS_MEM_COMMIT : VAS_MEM_RESERVE;
        mbi->protect = M.protect[p] ? M.protect[p] : M.win9x ? VAS_PAGE_NOACCESS : 0; /* fact 2 */
        mbi->type = VAS_MEM_PRIVATE;
        return VAS_STATUS_SUCCESS;
    }
    for (int i = 0; i < M.nfixed; i++) {
        const fixed_alloc *f = &M.fixed[i];
        if (page < f->start || page >= f->end)
            continue;
        bool committed = page < f->committed_end;
        mbi->allocation_base = f->start;
        mbi->allocation_protect = f->allocation_protect;
        mbi->region_size = (committed ? f->committed_end : f->end) - page;
        mbi->state = committed ? VAS_MEM_COMMIT : VAS_MEM_RESERVE;
        mbi->protect = committed ? f->protect : M.win9x ? VAS_PAGE_NOACCESS : 0;
        mbi->type = VAS_MEM_PRIVATE;
        return VAS_STATUS_SUCCESS;
    }
    /* Free: up to the next allocation, or the end of user space. */
    uint64_t next = M.highest + 1;
    if (page < M.wend) {
        size_t p = page < M.w0 ? 0 : page_of(page);
        while (p < M.np && M.state[p] == FREE)
            p++;
        next = addr_of(p); /* the first fence starts at the window's end */
    } else {
        for (int i = 0; i < M.nfixed; i++)
            if (M.fixed[i].start > page && M.fixed[i].start < next)
                next = M.fixed[i].start;
    }
    mbi->region_size = next - page;
    mbi->protect = VAS_PAGE_NOACCESS;
    mbi->state = VAS_MEM_FREE;
    return VAS_STATUS_SUCCESS;
}

/* MemoryRegionInformation (fact 53). */
static uint32_t m_region(uint64_t addr, vas_memory_region_information *ri)
{
    if (addr > M.highest)
        return VAS_STATUS_INVALID_PARAMETER;
    if (!in_window(addr) || M.state[page_of(addr)] == FREE)
        return VAS_STATUS_INVALID_ADDRESS; /* the generator asks only inside the window */
    size_t first, end, committed = 0;
    extent(page_of(addr), &first, &end);
    for (size_t p = first; p < end; p++)
        committed += M.state[p] == COMMITTED;
    *ri = (vas_memory_region_information){addr_of(first), M.aprot[first], VAS_MEM_PRIVATE,
                                          (end - first) * M.page, committed * M.page};
    return VAS_STATUS_SUCCESS;
}

/* ---- Checking ---------------------------------------------------------------------------- */

static vas_machine *machine;
static vas_process *proc;
static uint64_t op_index, seed;
static const char *layout, *only_layout;
static char op_text[256];
static bool failed;

static void mismatch(const char *what, uint64_t actual, uint64_t expected)
{
    if (failed)
        return;
    failed = true;
    fprintf(stderr, "test_stress: mismatch at call %llu on %s (seed %llu): %s\n  call: %s\n"
            "  library: 0x%llx, model: 0x%llx\n  rerun: test_stress %llu %llu %s\n",
            (unsigned long long)op_index, layout, (unsigned long long)seed, what, op_text,
            (unsigned long long)actual, (unsigned long long)expected,
            (unsigned long long)op_index + 1, (unsigned long long)seed, layout);
    check_failures_in_test++;
}
#define SAME(what, actual, expected)                                                           \
    do {                                                                                       \
        uint64_t a_ = (uint64_t)(actual), e_ = (uint64_t)(expected);                           \
        if (a_ != e_)                                                                          \
            mismatch(what, a_, e_);                                                            \
    } while (0)

static void same_mbi(const char *what, const vas_memory_basic_information *a,
                     const vas_memory_basic_information *e)
{
    char buf[128];
#define FIELD(f) do { snprintf(buf, sizeof buf, "%s: " #f, what); SAME(buf, a->f, e->f); } while (0)
    FIELD(base_address);
    FIELD(allocation_base);
    FIELD(allocation_protect);
    FIELD(region_size);
    FIELD(state);
    FIELD(protect);
    FIELD(type);
#undef FIELD
}

static void check_query(uint64_t addr)
{
    vas_memory_basic_information mbi, want = {0};
    memset(&mbi, 0xA5, sizeof mbi);
    uint32_t status = m_query(addr, &want);
    if (chance(50)) {
        vas_set_last_error(0xDEADBEEFu);
        size_t n = vas_virtual_query(proc, addr, &mbi, sizeof mbi);
        SAME("VirtualQuery result", n, status ? 0 : sizeof mbi);
        SAME("VirtualQuery error", status ? vas_last_error() : 0, dos_error(status));
    } else {
        size_t length = 12345;
        uint32_t got = vas_nt_query_virtual_memory(proc, addr, &mbi, sizeof mbi, &length);
        SAME("NtQueryVirtualMemory status", got, status);
        SAME("NtQueryVirtualMemory length", length, status ? 12345 : sizeof mbi);
    }
    if (!status)
        same_mbi("query", &mbi, &want);
}

static void check_region(uint64_t addr)
{
    vas_memory_region_information ri, want = {0};
    memset(&ri, 0xA5, sizeof ri);
    uint32_t status = m_region(addr, &want);
    SAME("region information status", vas_nt_query_region_information(proc, addr, &ri), status);
    if (!status) {
        SAME("region allocation_base", ri.allocation_base, want.allocation_base);
        SAME("region allocation_protect", ri.allocation_protect, want.allocation_protect);
        SAME("region region_type", ri.region_type, want.region_type);
        SAME("region region_size", ri.region_size, want.region_size);
        SAME("region commit_size", ri.commit_size, want.commit_size);
    }
}

static void check_counters(void)
{
    vas_process_counters c;
    SAME("get_counters", vas_process_get_counters(proc, &c), 1);
    SAME("commit_charge", c.commit_charge, M.committed * M.page);
    SAME("virtual_size", c.virtual_size, M.allocated * M.page + M.fixed_bytes);
    SAME("allocation_count", c.allocation_count, M.allocations + (uint64_t)M.nfixed);
    SAME("peak_commit_charge >= commit_charge", c.peak_commit_charge >= c.commit_charge, 1);
}

/* Walks the whole address space, region by region, as VMMap does. */
static void check_everything(void)
{
    uint64_t addr = 0;
    while (!failed) {
        check_query(addr);
        vas_memory_basic_information want = {0};
        m_query(addr, &want);
        if (want.state != VAS_MEM_FREE && in_window(addr))
            check_region(addr);
        if (want.base_address + want.region_size > M.highest)
            break;
        addr = want.base_address + want.region_size;
    }
    SAME("vas_check", vas_check(machine), 0);
    vas_memory_status ms;
    vas_global_memory_status(machine, &ms);
    SAME("commit_total", ms.commit_total, M.committed * M.page);
    SAME("commit_limit", ms.commit_limit, M.commit_limit);
}

/* ---- Random arguments -------------------------------------------------------------------- */

static const uint32_t good_protects[] = {VAS_PAGE_NOACCESS, VAS_PAGE_READONLY, VAS_PAGE_READWRITE,
                                         VAS_PAGE_EXECUTE, VAS_PAGE_EXECUTE_READ,
                                         VAS_PAGE_EXECUTE_READWRITE};
static const uint32_t bad_protects[] = {0, VAS_PAGE_WRITECOPY, VAS_PAGE_EXECUTE_WRITECOPY,
    VAS_PAGE_READONLY | VAS_PAGE_EXECUTE, VAS_PAGE_READWRITE | VAS_PAGE_EXECUTE_READ,
    VAS_PAGE_NOACCESS | VAS_PAGE_GUARD, VAS_PAGE_NOACCESS | VAS_PAGE_NOCACHE,
    VAS_PAGE_READWRITE | VAS_PAGE_NOCACHE | VAS_PAGE_WRITECOMBINE,
    VAS_PAGE_READWRITE | VAS_PAGE_GUARD | VAS_PAGE_NOCACHE, VAS_PAGE_READWRITE | 0x800,
    VAS_PAGE_GUARD, VAS_PAGE_NOCACHE, 0xFFFFFFFFu};

static uint32_t pick_protect(void)
{
    unsigned r = (unsigned)below(100);
    if (r < 5)
        return chance(70) ? bad_protects[below(sizeof bad_protects / sizeof bad_protects[0])]
                          : (uint32_t)rnd();
    uint32_t p = good_protects[below(6)];
    if (p == VAS_PAGE_NOACCESS)
        return p;
    if (r < 15)
        p |= VAS_PAGE_GUARD;
    else if (r < 18)
        p |= VAS_PAGE_NOCACHE;
    else if (r < 20)
        p |= VAS_PAGE_WRITECOMBINE;
    return p;
}

static bool in_fixed(uint64_t a)
{
    for (int i = 0; i < M.nfixed; i++)
        if (a >= M.fixed[i].start && a < M.fixed[i].end)
            return true;
    return false;
}

/* An address outside the window and outside the fences: the NULL partition, the top of user
   space, or beyond it. */
static uint64_t wild_address_any(void)
{
    switch (below(10)) {
    case 0: return below(M.lowest);
    case 1: return M.lowest - 1 - below(16);
    case 2: return M.highest - below(3);
    case 3: return M.highest + 1 + below(3);
    case 4: return UINT64_MAX - below(0x20000);
    case 5: return (1ull << 47) + below(0x2000) - 0x1000;
    case 6: return (1ull << 32) - below(0x20000);
    case 7: return 1ull << 63;
    case 8: {
        uint64_t top = M.fixed[M.nfixed - 1].end; /* the free tail of user space, if any */
        return top <= M.highest ? top + below(M.highest + 1 - top) : M.highest + 1 + below(1000);
    }
    default: return rnd();
    }
}

static uint64_t wild_address(void)
{
    uint64_t a;
    do
        a = wild_address_any();
    while (in_fixed(a));
    return a;
}

static uint64_t pick_address(void)
{
    unsigned r = (unsigned)below(100);
    if (r < 35) {
        uint64_t a = addr_of(below(M.np));
        return chance(25) ? a + below(M.page) : a;
    }
    if (r < 65) { /* an allocation's base, or a page of one */
        size_t p = below(M.np);
        uint64_t a = M.state[p] != FREE ? addr_of(chance(70) ? M.base[p] : p) : addr_of(p);
        return chance(15) ? a + below(M.page) : a;
    }
    if (r < 80)
        return M.w0 + below((M.wend - M.w0) / GRAN) * GRAN;
    if (r < 90)
        return 0;
    return wild_address();
}

static uint64_t pick_size(uint64_t addr)
{
    unsigned r = (unsigned)below(100);
    uint64_t pages;
    if (r < 40)
        pages = 1 + below(4);
    else if (r < 70)
        pages = 1 + below(64);
    else if (r < 87)
        pages = 1 + below(1024);
    else if (r < 95)
        pages = 1 + below(M.np);
    else {
        switch (below(8)) {
        case 0: return 0;
        case 1: return UINT64_MAX - below(3);
        case 2: return 1ull << 63;
        case 3: return M.vad_limit - addr + below(3) - 1; /* the boundary of the size checks */
        case 4: return M.highest + 1 - addr + below(3) - 1;
        case 5: return M.vad_limit - M.lowest + below(3) - 1;
        case 6: return M.vad_limit + below(3) - 1;
        default: return rnd() >> below(64);
        }
    }
    uint64_t size = pages * M.page;
    if (chance(30))
        size -= below(M.page);
    if (chance(10))
        size += below(M.page);
    return size;
}

/* True when [start, end) holds a committed page whose cache modifiers differ from `cache`
   (or, with any_cache, that has any cache modifier at all): the corners the model leaves out. */
static bool touches_cache_corner(uint64_t addr, uint64_t size, uint32_t cache, bool any_cache)
{
    if (!in_window(addr) || size == 0 || size > M.wend - addr)
        return false;
    size_t a = page_of(down(addr, M.page)), b = page_of(up(addr + size, M.page));
    for (size_t p = a; p < b && p < M.np; p++) {
        if (M.state[p] != COMMITTED)
            continue;
        uint32_t c = M.protect[p] & CACHE_BITS;
        if (any_cache ? c != 0 : c != cache)
            return true;
    }
    return false;
}

/* A range that stays inside one allocation (committed pages only, with want_committed), with
   unaligned ends now and then; false when the dice found no such page. */
static bool pick_inside(bool want_committed, uint64_t *addr, uint64_t *size)
{
    size_t p = below(M.np);
    for (int tries = 0; tries < 32; tries++, p = below(M.np))
        if (M.state[p] == (want_committed ? COMMITTED : RESERVED) ||
            (!want_committed && M.state[p] == COMMITTED))
            break;
    if (M.state[p] == FREE || (want_committed && M.state[p] != COMMITTED))
        return false;
    size_t first, end;
    extent(p, &first, &end);
    size_t a = want_committed ? p : first + below(end - first), b = a + 1;
    uint64_t limit = 1 + below(chance(50) ? 8 : end - a);
    while (b < end && b - a < limit && (!want_committed || M.state[b] == COMMITTED))
        b++;
    *addr = addr_of(a) + (chance(20) ? below(M.page) : 0);
    uint64_t bytes = addr_of(b) - *addr;
    *size = bytes - (chance(20) ? below(bytes < M.page ? bytes : M.page) : 0);
    if (chance(3))
        *size += M.page; /* one page too far */
    return true;
}

/* A range of free pages starting 64 KB aligned, for a reservation that may succeed. */
static bool pick_free(uint64_t *addr, uint64_t *size)
{
    size_t step = (size_t)(GRAN / M.page), p = below(M.np / step) * step;
    if (M.state[p] != FREE)
        return false;
    size_t e = p + 1;
    uint64_t limit = 1 + below(chance(60) ? 16 : M.np);
    while (e < M.np && e - p < limit && M.state[e] == FREE)
        e++;
    *addr = addr_of(p) + (chance(20) ? below(GRAN) : 0);
    *size = addr_of(e) > *addr ? addr_of(e) - *addr : 1;
    return true;
}

/* ---- One call ---------------------------------------------------------------------------- */

static uint32_t do_allocate(void)
{
    static const uint32_t good_types[] = {
        VAS_MEM_RESERVE, VAS_MEM_RESERVE, VAS_MEM_COMMIT, VAS_MEM_COMMIT, VAS_MEM_COMMIT,
        VAS_MEM_RESERVE | VAS_MEM_COMMIT, VAS_MEM_RESERVE | VAS_MEM_COMMIT,
        VAS_MEM_RESERVE | VAS_MEM_TOP_DOWN, VAS_MEM_RESERVE | VAS_MEM_COMMIT | VAS_MEM_TOP_DOWN,
        VAS_MEM_COMMIT | VAS_MEM_TOP_DOWN, VAS_MEM_RESERVE | VAS_MEM_WRITE_WATCH, VAS_MEM_RESET};
    static const uint32_t bad_types[] = {
        0, VAS_MEM_DECOMMIT, VAS_MEM_RELEASE, VAS_MEM_FREE, VAS_MEM_RESET | VAS_MEM_COMMIT,
        VAS_MEM_RESET | VAS_MEM_RESERVE, VAS_MEM_RESET | VAS_MEM_TOP_DOWN, VAS_MEM_WRITE_WATCH,
        VAS_MEM_WRITE_WATCH | VAS_MEM_COMMIT, VAS_MEM_LARGE_PAGES | VAS_MEM_RESERVE,
        VAS_MEM_PHYSICAL | VAS_MEM_COMMIT, VAS_MEM_PHYSICAL, VAS_AT_ROUND_TO_PAGE | VAS_MEM_RESERVE,
        VAS_MEM_TOP_DOWN, 0x80000000u | VAS_MEM_COMMIT, VAS_MEM_RESERVE_PLACEHOLDER | VAS_MEM_RESERVE};
    uint32_t type = chance(95) ? good_types[below(sizeof good_types / sizeof good_types[0])]
                  : chance(80) ? bad_types[below(sizeof bad_types / sizeof bad_types[0])]
                               : ((uint32_t)rnd() | 0x80000000u);
    uint64_t addr = pick_address(), size = pick_size(addr);
    if (chance(50)) {
        if ((type & VAS_MEM_RESERVE) && chance(70))
            pick_free(&addr, &size);
        else if (!(type & VAS_MEM_RESERVE))
            pick_inside(false, &addr, &size);
    }
    uint32_t protect = pick_protect();
    if (type & VAS_MEM_COMMIT && addr && !(type & VAS_MEM_RESERVE) &&
        touches_cache_corner(addr, size, protect & CACHE_BITS, false))
        protect &= ~CACHE_BITS, type = VAS_MEM_RESET; /* leave the corner, keep the call */
    bool nt = chance(15);
    snprintf(op_text, sizeof op_text, "%s(0x%llx, 0x%llx, type 0x%x, protect 0x%x)",
             nt ? "NtAllocateVirtualMemory" : "VirtualAlloc", (unsigned long long)addr,
             (unsigned long long)size, type, protect);
    uint64_t want_base = addr, want_size = size;
    uint32_t status = m_allocate(&want_base, &want_size, type, protect);
    if (nt) {
        uint64_t b = addr, s = size;
        uint32_t got = vas_nt_allocate_virtual_memory(proc, &b, 0, &s, type, protect);
        /* Which of several parameter errors comes first is not pinned: compare the Win32 class. */
        SAME("NtAllocateVirtualMemory error class", dos_error(got), dos_error(status));
        SAME("NtAllocateVirtualMemory base", b, status ? addr : want_base);
        SAME("NtAllocateVirtualMemory size", s, status ? size : want_size);
    } else {
        vas_set_last_error(0xDEADBEEFu);
        uint64_t got = vas_virtual_alloc(proc, addr, size, type, protect);
        uint32_t error = M.win9x && size == 0 ? VAS_ERROR_NOT_ENOUGH_MEMORY : dos_error(status);
        SAME("VirtualAlloc result", got, status ? 0 : want_base);
        SAME("VirtualAlloc error", status ? vas_last_error() : 0, error);
    }
    if (!status) {
        check_query(want_base);
        check_query(want_base + want_size - 1);
    }
    return status;
}

static uint32_t do_free(void)
{
    uint32_t type;
    unsigned r = (unsigned)below(100);
    type = r < 45 ? VAS_MEM_RELEASE : r < 95 ? VAS_MEM_DECOMMIT
         : r < 97 ? 0 : r < 98 ? VAS_MEM_DECOMMIT | VAS_MEM_RELEASE : (uint32_t)rnd();
    uint64_t addr = pick_address(), size;
    bool nt = chance(40);
    if (type == VAS_MEM_RELEASE && !nt)
        size = chance(90) ? 0 : pick_size(addr);
    else if (!chance(40) || !pick_inside(false, &addr, &size))
        size = chance(30) ? 0 : pick_size(addr);
    snprintf(op_text, sizeof op_text, "%s(0x%llx, 0x%llx, 0x%x)",
             nt ? "NtFreeVirtualMemory" : "VirtualFree", (unsigned long long)addr,
             (unsigned long long)size, type);
    uint64_t want_base = addr, want_size = size;
    uint32_t status;
    if (!nt && type == VAS_MEM_RELEASE && size != 0)
        status = VAS_STATUS_INVALID_PARAMETER; /* fact 23: Win32 releases whole allocations */
    else
        status = m_free(&want_base, &want_size, type);
    if (nt) {
        uint64_t b = addr, s = size;
        SAME("NtFreeVirtualMemory status", vas_nt_free_virtual_memory(proc, &b, &s, type), status);
        SAME("NtFreeVirtualMemory base", b, status ? addr : want_base);
        SAME("NtFreeVirtualMemory size", s, status ? size : want_size);
    } else {
        vas_set_last_error(0xDEADBEEFu);
        int got = vas_virtual_free(proc, addr, size, type);
        SAME("VirtualFree result", got, status ? 0 : 1);
        SAME("VirtualFree error", status ? vas_last_error() : 0, dos_error(status));
    }
    if (!status) {
        check_query(want_base);
        if (want_size)
            check_query(want_base + want_size);
    }
    return status;
}

static uint32_t do_protect(void)
{
    uint64_t addr = pick_address(), size = pick_size(addr);
    if (chance(60))
        pick_inside(true, &addr, &size);
    uint32_t protect = pick_protect();
    bool null_old = chance(1);
    if (protect_valid(protect) &&
        ((protect & 0xFF) == VAS_PAGE_NOACCESS || (protect & VAS_PAGE_GUARD)) &&
        touches_cache_corner(addr, size, 0, true))
        protect = (protect & ~(VAS_PAGE_GUARD | 0xFFu)) | VAS_PAGE_READONLY;
    bool nt = chance(25);
    snprintf(op_text, sizeof op_text, "%s(0x%llx, 0x%llx, 0x%x%s)",
             nt ? "NtProtectVirtualMemory" : "VirtualProtect", (unsigned long long)addr,
             (unsigned long long)size, protect, null_old ? ", NULL" : "");
    uint64_t want_base = addr, want_size = size;
    uint32_t want_old = 0xDEADBEEFu, old = 0xDEADBEEFu;
    uint32_t status = m_protect(&want_base, &want_size, protect, &want_old, null_old);
    if (nt) {
        uint64_t b = addr, s = size;
        SAME("NtProtectVirtualMemory status",
             vas_nt_protect_virtual_memory(proc, &b, &s, protect, null_old ? NULL : &old), status);
        SAME("NtProtectVirtualMemory base", b, status ? addr : want_base);
        SAME("NtProtectVirtualMemory size", s, status ? size : want_size);
    } else {
        vas_set_last_error(0xDEADBEEFu);
        int got = vas_virtual_protect(proc, addr, size, protect, null_old ? NULL : &old);
        uint32_t error = M.win9x && status == VAS_STATUS_NOT_COMMITTED ? VAS_ERROR_INVALID_PARAMETER
                                                                      : dos_error(status);
        SAME("VirtualProtect result", got, status ? 0 : 1);
        SAME("VirtualProtect error", status ? vas_last_error() : 0, error);
    }
    SAME("old protection", old, want_old);
    if (!status) {
        check_query(want_base);
        check_query(want_base + want_size - M.page);
    }
    return status;
}

static void do_query(void)
{
    uint64_t addr;
    unsigned r = (unsigned)below(100);
    if (r < 70)
        addr = pick_address();
    else if (r < 85) /* inside a fence or the shared user page: fixed answers */
        addr = M.fixed[below((uint64_t)M.nfixed)].start + below(3 * GRAN);
    else
        addr = wild_address();
    snprintf(op_text, sizeof op_text, "query(0x%llx)", (unsigned long long)addr);
    check_query(addr);
    if (chance(3) && addr <= M.highest) { /* a short buffer (fact 50) */
        vas_memory_basic_information mbi;
        size_t length = 777;
        SAME("short query status",
             vas_nt_query_virtual_memory(proc, addr, &mbi, sizeof mbi - 1, &length),
             VAS_STATUS_INFO_LENGTH_MISMATCH);
        SAME("short query length", length, 777);
        vas_set_last_error(0);
        SAME("short VirtualQuery", vas_virtual_query(proc, addr, &mbi, sizeof mbi - 1), 0);
        SAME("short VirtualQuery error", vas_last_error(), VAS_ERROR_BAD_LENGTH);
    }
    if (in_window(addr))
        check_region(addr);
}

/* ---- The run ----------------------------------------------------------------------------- */

static uint64_t calls = 1000000;

/* How often each status came back, to show what the run covered. */
static struct { uint32_t status; uint64_t count; } seen[32];

static void count_status(uint32_t status)
{
    for (size_t i = 0; i < sizeof seen / sizeof seen[0]; i++) {
        if (seen[i].count && seen[i].status != status)
            continue;
        seen[i].status = status;
        seen[i].count++;
        return;
    }
}

static void setup(int index)
{
    /* Commit limits from tight (the window cannot be all committed) to roomy. */
    static const uint64_t rams[] = {4ull << 20, 16ull << 20, 256ull << 20};
    static const uint64_t pagefiles[] = {4ull << 20, 8ull << 20, 512ull << 20};
    uint64_t ram = rams[(seed + (uint64_t)index) % 3], pagefile = pagefiles[(seed + (uint64_t)index) % 3];
    vas_machine_config mc = {.layout = layout, .ram_bytes = ram, .pagefile_bytes = pagefile};
    machine = vas_machine_create(&mc);
    proc = vas_process_create(machine, NULL);
    if (!machine || !proc) {
        mismatch("machine and process creation", 0, 1);
        return;
    }
    vas_system_info si;
    vas_get_system_info(proc, &si);
    memset(&M, 0, sizeof M);
    M.win9x = strcmp(layout, "win9x") == 0;
    M.page = si.page_size;
    M.lowest = si.minimum_application_address;
    M.highest = si.maximum_application_address;
    M.vad_limit = M.highest + 1 - GRAN; /* MM_HIGHEST_VAD_ADDRESS + 1 */
    M.w0 = M.lowest;
    M.wend = M.w0 + (64ull << 20);
    M.np = (size_t)((M.wend - M.w0) / M.page);
    M.state = calloc(M.np, 1);
    M.protect = calloc(M.np, sizeof *M.protect);
    M.base = calloc(M.np, sizeof *M.base);
    M.aprot = calloc(M.np, sizeof *M.aprot);
    M.run = calloc(M.np, sizeof *M.run);
    /* RAM less what the system keeps (1/64 of it, at least a page), plus the paging file. */
    uint64_t reserve = ram / 64 > M.page ? (ram / 64 + M.page - 1) / M.page * M.page : M.page;
    M.commit_limit = ram - reserve + pagefile;
    /* The fences: everything from the window's end to the highest VAD address, around the
       shared user page of NT (one committed read-only page in a 64 KB allocation). */
    if (M.win9x) {
        M.fixed[M.nfixed++] = (fixed_alloc){M.wend, M.vad_limit, M.wend, VAS_PAGE_NOACCESS, 0};
    } else {
        M.fixed[M.nfixed++] = (fixed_alloc){M.wend, KUSER, M.wend, VAS_PAGE_NOACCESS, 0};
        M.fixed[M.nfixed++] = (fixed_alloc){KUSER, KUSER + GRAN, KUSER + M.page, VAS_PAGE_READONLY,
                                            VAS_PAGE_READONLY};
        if (M.vad_limit > KUSER + GRAN)
            M.fixed[M.nfixed++] = (fixed_alloc){KUSER + GRAN, M.vad_limit, KUSER + GRAN,
                                                VAS_PAGE_NOACCESS, 0};
    }
    for (int i = 0; i < M.nfixed; i++) {
        fixed_alloc *f = &M.fixed[i];
        M.fixed_bytes += f->end - f->start;
        if (f->start == KUSER)
            continue;
        uint64_t got = vas_virtual_alloc(proc, f->start, f->end - f->start, VAS_MEM_RESERVE,
                                         VAS_PAGE_NOACCESS);
        SAME("fence reservation", got, f->start);
    }
}

static void teardown(void)
{
    vas_machine_destroy(machine);
    free(M.state);
    free(M.protect);
    free(M.base);
    free(M.aprot);
    free(M.run);
}

static void run_layout(int index, uint64_t n)
{
    rng_state = seed * 0x100000001B3ull + (uint64_t)index; /* each layout its own sequence */
    memset(seen, 0, sizeof seen);
    setup(index);
    if (failed)
        return;
    check_everything();
    uint64_t counts[4] = {0}, successes[4] = {0};
    for (op_index = 0; op_index < n && !failed; op_index++) {
        unsigned r = (unsigned)below(100), kind = r < 42 ? 0 : r < 62 ? 1 : r < 82 ? 2 : 3;
        uint32_t status = kind == 0 ? do_allocate() : kind == 1 ? do_free()
                        : kind == 2 ? do_protect() : (do_query(), 0);
        counts[kind]++;
        if (kind != 3)
            count_status(status);
        successes[kind] += status == VAS_STATUS_SUCCESS;
        check_counters();
        check_query(addr_of(below(M.np)));
        if (op_index % 4096 == 4095)
            check_everything();
    }
    if (!failed)
        check_everything();
    printf("test_stress: %s (page 0x%llx, commit limit %llu MB): calls (succeeded): allocate %llu "
           "(%llu), free %llu (%llu), protect %llu (%llu), query %llu; at the end %llu "
           "allocations, %llu pages committed\n", layout, (unsigned long long)M.page,
           (unsigned long long)(M.commit_limit >> 20),
           (unsigned long long)counts[0], (unsigned long long)successes[0],
           (unsigned long long)counts[1], (unsigned long long)successes[1],
           (unsigned long long)counts[2], (unsigned long long)successes[2],
           (unsigned long long)counts[3], (unsigned long long)M.allocations,
           (unsigned long long)M.committed);
    printf("test_stress: %s statuses:", layout);
    for (size_t i = 0; i < sizeof seen / sizeof seen[0] && seen[i].count; i++)
        printf(" %s %llu", vas_status_name(seen[i].status), (unsigned long long)seen[i].count);
    printf("\n");
    teardown();
}

static void stress(void)
{
    static const char *const layouts[] = {"x64", "x86", "ia64", "win9x"};
    printf("test_stress: seed %llu, %llu calls\n", (unsigned long long)seed, (unsigned long long)calls);
    fflush(stdout);
    for (int i = 0; i < 4 && !failed; i++) {
        layout = layouts[i];
        if (only_layout && strcmp(only_layout, layout) != 0)
            continue;
        run_layout(i, only_layout ? calls : calls / 4 + (i < (int)(calls % 4)));
    }
}

static const check_test tests[] = {TEST(stress)};

int main(int argc, char **argv)
{
    seed = (uint64_t)time(NULL);
    if (argc > 1)
        calls = strtoull(argv[1], NULL, 0);
    if (argc > 2)
        seed = strtoull(argv[2], NULL, 0);
    if (argc > 3)
        only_layout = argv[3];
    return check_run(tests, sizeof tests / sizeof tests[0], 1, argv);
}
