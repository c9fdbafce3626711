/*
 * fuzz_ops.c - a libFuzzer target over sequences of libvas calls.
 *
 * The input is decoded into one machine (its layout, RAM, paging file and IncreaseUserVa are the
 * first two bytes) and then up to MAX_OPS operations, one opcode byte each followed by its
 * arguments: process create/destroy (native, WOW64, large-address-aware or not), VirtualAlloc,
 * VirtualAlloc2 with address requirements, NtAllocateVirtualMemory with zero_bits, VirtualFree and
 * NtFreeVirtualMemory (partial releases), VirtualProtect and NtProtectVirtualMemory (NULL old
 * protection too), VirtualQuery, NtQueryVirtualMemory (short buffers), region information,
 * counters, memory status, partitions, reads, writes, executes, kernel reads, translations and
 * page-table walks, calls through destroyed process handles, and sections: paging-file and
 * in-memory file sections, named and opened by name, views of every access at any offset and
 * base, unmaps, flushes, Read/WriteProcessMemory, and calls through closed section handles; and
 * system space: pool allocations and frees (bad ones too), kernel-mode reads and writes with any
 * process current, MDLs locked, mapped and unlocked, ProbeForRead/Write. Addresses and sizes come from
 * a tag byte: zero, small page or granule multiples, the bases of earlier allocations plus or
 * minus a little, the layout's boundaries (the shared user page, the top of user space, 2 GB,
 * 3 GB, 4 GB, 2^47, 2^63, 2^64 - 1 ...) or raw 64-bit values.
 *
 * After every call vas_check() must be 0, and a few things that hold for any arguments are
 * checked too: a failed call changes no counter, a Win32 failure sets an error, an NT failure
 * leaves the caller's base and size alone, a success returns aligned values, a query answers a
 * coherent region. Any violation aborts, which the fuzzer reports as a crash.
 *
 * Built as a libFuzzer binary with -DVAS_LIBFUZZER=ON (clang); always built into fuzz_replay,
 * which runs a directory of inputs through the same function (ctest fuzz_replay over corpus/).
 */
#include "vas.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_OPS 512
#define MAX_PROCS 4
#define RING 8
#define MAX_SECTIONS 6

typedef struct input {
    const uint8_t *data;
    size_t size, at;
} input;

typedef struct state {
    input in;
    vas_machine *machine;
    vas_process *procs[MAX_PROCS];
    vas_process *dead[MAX_PROCS];   /* destroyed handles: calls must fail with INVALID_HANDLE */
    int nprocs, ndead;
    uint64_t ring[RING];            /* recent allocation bases */
    unsigned ring_at;
    uint32_t page;
    uint64_t highest;               /* of the process the current call is on */
    vas_section *sections[MAX_SECTIONS]; /* open handles */
    vas_section *closed[MAX_SECTIONS];   /* closed handles: calls must fail with INVALID_HANDLE */
    int nsections, nclosed;
    uint64_t blocks[8];             /* pool blocks, with their tags */
    uint32_t block_tags[8];
    vas_mdl *mdls[4];
} state;

static void fail(const char *what, unsigned long long a, unsigned long long b)
{
    fprintf(stderr, "fuzz_ops: %s (0x%llx, 0x%llx)\n", what, a, b);
    abort();
}
#define REQUIRE(cond, a, b)                                                                    \
    do {                                                                                       \
        if (!(cond))                                                                           \
            fail(#cond, (unsigned long long)(a), (unsigned long long)(b));                     \
    } while (0)

/* ---- Decoding ------------------------------------------------------------------------------ */

static uint8_t u8(state *s) { return s->in.at < s->in.size ? s->in.data[s->in.at++] : 0; }
static uint16_t u16(state *s) { uint16_t v = u8(s); return (uint16_t)(v | u8(s) << 8); }
static uint32_t u32(state *s) { uint32_t v = u16(s); return v | (uint32_t)u16(s) << 16; }
static uint64_t u64(state *s) { uint64_t v = u32(s); return v | (uint64_t)u32(s) << 32; }
static bool more(const state *s) { return s->in.at < s->in.size; }

static const uint64_t boundaries[] = {
    0x10000, 0x400000, 0x7FFE0000, 0x7FFEFFFF, 0x7FFF0000, 0x7FFFFFFF, 0x80000000, 0xBFFF0000,
    0xC0000000, 0xFFFEFFFF, 0xFFFFFFFF, 0x100000000ull, 0x000007FFFFFEFFFFull, 0x000006FBFFFEFFFFull,
    0x00007FFFFFFE0000ull, 0x00007FFFFFFEFFFFull, 0x00007FFFFFFF0000ull, 0x0000800000000000ull,
    0xFFFF800000000000ull, 0x8000000000000000ull, 0xFFFFFFFFFFFFFFFFull, 0xFFFFFFFFFFFF0000ull};

/* An address: tag byte, then what the tag needs. */
static uint64_t address(state *s)
{
    uint8_t tag = u8(s);
    switch (tag % 10) {
    case 0: return 0;
    case 1: return (uint64_t)u16(s) * s->page;                         /* up to 256 MB (4 KB pages) */
    case 2: return (uint64_t)u16(s) << 16;                             /* granules up to 4 GB */
    case 3: return s->ring[u8(s) % RING] + (uint64_t)(int8_t)u8(s) * s->page;
    case 4: return s->ring[u8(s) % RING] + u8(s);
    case 5: return boundaries[u8(s) % (sizeof boundaries / sizeof boundaries[0])] + (uint64_t)(int8_t)u8(s);
    case 6: return s->highest + 1 - (uint64_t)u16(s) * s->page;
    case 7: return u64(s);
    case 8: return (uint64_t)u32(s);
    default: return s->ring[tag / 10 % RING];
    }
}

/* A size: tag byte, then what the tag needs. */
static uint64_t length(state *s, uint64_t at)
{
    uint8_t tag = u8(s);
    switch (tag % 10) {
    case 0: return 0;
    case 1: return (uint64_t)(tag / 10 + 1) * s->page;
    case 2: return (uint64_t)u16(s) * s->page;
    case 3: return (uint64_t)u16(s);
    case 4: return (uint64_t)u8(s) << 16;
    case 5: return boundaries[u8(s) % (sizeof boundaries / sizeof boundaries[0])] + (uint64_t)(int8_t)u8(s);
    case 6: return s->highest + 1 - at + (uint64_t)(int8_t)u8(s);      /* the end of user space */
    case 7: return u64(s);
    case 8: return UINT64_MAX - u8(s);
    default: return (uint64_t)(tag / 10) * s->page - 1;
    }
}

static const uint32_t protects[] = {
    VAS_PAGE_NOACCESS, VAS_PAGE_READONLY, VAS_PAGE_READWRITE, VAS_PAGE_EXECUTE, VAS_PAGE_EXECUTE_READ,
    VAS_PAGE_EXECUTE_READWRITE, VAS_PAGE_READWRITE | VAS_PAGE_GUARD, VAS_PAGE_READONLY | VAS_PAGE_GUARD,
    VAS_PAGE_READWRITE | VAS_PAGE_NOCACHE, VAS_PAGE_EXECUTE_READ | VAS_PAGE_WRITECOMBINE,
    VAS_PAGE_WRITECOPY, VAS_PAGE_EXECUTE_WRITECOPY, 0, VAS_PAGE_NOACCESS | VAS_PAGE_GUARD,
    VAS_PAGE_READWRITE | VAS_PAGE_GUARD | VAS_PAGE_NOCACHE, VAS_PAGE_READONLY | VAS_PAGE_EXECUTE};

static uint32_t protection(state *s)
{
    uint8_t tag = u8(s);
    return tag < 240 ? protects[tag % (sizeof protects / sizeof protects[0])] : u32(s);
}

static const uint32_t types[] = {
    VAS_MEM_RESERVE, VAS_MEM_COMMIT, VAS_MEM_RESERVE | VAS_MEM_COMMIT, VAS_MEM_RESET,
    VAS_MEM_RESET_UNDO, VAS_MEM_RESERVE | VAS_MEM_TOP_DOWN, VAS_MEM_RESERVE | VAS_MEM_COMMIT | VAS_MEM_TOP_DOWN,
    VAS_MEM_RESERVE | VAS_MEM_WRITE_WATCH, VAS_MEM_COMMIT | VAS_MEM_LARGE_PAGES,
    VAS_MEM_RESERVE | VAS_MEM_PHYSICAL, VAS_MEM_RESERVE | VAS_MEM_PHYSICAL | VAS_MEM_TOP_DOWN,
    VAS_MEM_RESERVE_PLACEHOLDER | VAS_MEM_RESERVE, VAS_AT_ROUND_TO_PAGE | VAS_MEM_COMMIT, 0,
    VAS_MEM_DECOMMIT, VAS_MEM_RELEASE};

static uint32_t alloc_type(state *s)
{
    uint8_t tag = u8(s);
    return tag < 240 ? types[tag % (sizeof types / sizeof types[0])] : u32(s);
}

static uint32_t free_type(state *s)
{
    static const uint32_t t[] = {VAS_MEM_RELEASE, VAS_MEM_DECOMMIT, 0, VAS_MEM_RELEASE | VAS_MEM_DECOMMIT,
                                 VAS_MEM_FREE, VAS_MEM_RELEASE | VAS_MEM_PRESERVE_PLACEHOLDER,
                                 VAS_MEM_COALESCE_PLACEHOLDERS | VAS_MEM_RELEASE};
    uint8_t tag = u8(s);
    return tag < 250 ? t[tag % (sizeof t / sizeof t[0])] : u32(s);
}

/* ---- Checks that hold for any arguments ------------------------------------------------------ */

typedef struct snapshot {
    vas_process_counters counters;
    vas_memory_status status;
} snapshot;

static snapshot take(state *s, vas_process *p)
{
    snapshot x;
    memset(&x, 0, sizeof x);
    vas_process_get_counters(p, &x.counters);
    vas_global_memory_status(s->machine, &x.status);
    return x;
}

/* A call that failed must leave no trace in the counters. */
static void unchanged(const snapshot *a, const snapshot *b)
{
    REQUIRE(a->counters.virtual_size == b->counters.virtual_size, a->counters.virtual_size, b->counters.virtual_size);
    REQUIRE(a->counters.commit_charge == b->counters.commit_charge, a->counters.commit_charge, b->counters.commit_charge);
    REQUIRE(a->counters.allocation_count == b->counters.allocation_count, 0, 0);
    REQUIRE(a->status.commit_total == b->status.commit_total, a->status.commit_total, b->status.commit_total);
}

static void remember(state *s, uint64_t base)
{
    s->ring[s->ring_at++ % RING] = base;
}

static void coherent(state *s, uint64_t address, const vas_memory_basic_information *m)
{
    REQUIRE(m->base_address == (address & ~(uint64_t)(s->page - 1)), m->base_address, address);
    REQUIRE(m->region_size && m->region_size % s->page == 0, m->region_size, address);
    REQUIRE(m->base_address + m->region_size - 1 <= s->highest, m->base_address, m->region_size);
    if (m->state == VAS_MEM_FREE) {
        REQUIRE(m->allocation_base == 0 && m->type == 0, m->allocation_base, m->type);
    } else {
        REQUIRE(m->state == VAS_MEM_COMMIT || m->state == VAS_MEM_RESERVE, m->state, address);
        REQUIRE(m->allocation_base <= m->base_address, m->allocation_base, m->base_address);
        REQUIRE((m->state == VAS_MEM_COMMIT) == (m->protect != 0) ||
                    (m->state == VAS_MEM_RESERVE && m->protect == VAS_PAGE_NOACCESS),
                m->state, m->protect);
    }
}

/* ---- Operations ------------------------------------------------------------------------------ */

static vas_process *pick(state *s)
{
    uint8_t tag = u8(s);
    vas_process *p;
    if (tag >= 248 && s->ndead)
        p = s->dead[tag % s->ndead];
    else if (s->nprocs)
        p = s->procs[tag % s->nprocs];
    else
        return NULL;
    vas_system_info si;
    vas_get_system_info(p, &si);
    s->highest = si.maximum_application_address ? si.maximum_application_address : 0x7FFEFFFF;
    return p;
}

static bool is_dead(const state *s, const vas_process *p)
{
    for (int i = 0; i < s->ndead; i++)
        if (s->dead[i] == p)
            return true;
    return false;
}

static void op_process_create(state *s)
{
    uint8_t how = u8(s);
    if (s->nprocs == MAX_PROCS)
        return;
    static const int bits[] = {0, 32, 64, 16};
    vas_process_config pc = {.name = how & 1 ? "fuzz.exe" : NULL, .bits = bits[how >> 1 & 3],
                             .large_address_aware = (how >> 3 & 3) - 1,
                             .dep = (how >> 5 & 1) ? -1 : 0, .tlb_entries = how >> 6 ? 4u << (how >> 6) : 0};
    vas_process *p = vas_process_create(s->machine, &pc);
    if (p)
        s->procs[s->nprocs++] = p;
    else
        REQUIRE(vas_last_error() != 0, how, 0);
}

static void op_process_destroy(state *s)
{
    uint8_t which = u8(s);
    if (!s->nprocs)
        return;
    int i = which % s->nprocs;
    vas_process_destroy(s->procs[i]);
    if (s->ndead < MAX_PROCS)
        s->dead[s->ndead++] = s->procs[i];
    s->procs[i] = s->procs[--s->nprocs];
}

static void op_alloc(state *s, int variant)
{
    vas_process *p = pick(s);
    uint64_t a = address(s), n = length(s, a), zero_bits = 0;
    uint32_t type = alloc_type(s), protect = protection(s);
    vas_address_requirements req = {0, 0, 0};
    bool with_req = false;
    if (variant == 1) {
        zero_bits = u8(s);
        if (zero_bits > 40)
            zero_bits = u64(s);
    } else if (variant == 2 || variant == 3) {
        with_req = u8(s) & 1;
        req.lowest_starting_address = address(s);
        req.highest_ending_address = address(s);
        req.alignment = length(s, 0);
    }
    snapshot before = take(s, p);
    uint64_t base = a, size = n, got;
    uint32_t status;
    switch (variant) {
    case 0:
        vas_set_last_error(0);
        got = vas_virtual_alloc(p, a, n, type, protect);
        status = got ? 0 : vas_last_error();
        REQUIRE(got || status, a, n);
        base = got;
        break;
    case 1:
        status = vas_nt_allocate_virtual_memory(p, &base, zero_bits, &size, type, protect);
        break;
    case 2:
        status = vas_nt_allocate_virtual_memory_ex(p, &base, &size, type, protect, with_req ? &req : NULL);
        break;
    default:
        vas_set_last_error(0);
        got = vas_virtual_alloc2(p, a, n, type, protect, with_req ? &req : NULL);
        status = got ? 0 : vas_last_error();
        REQUIRE(got || status, a, n);
        base = got;
        break;
    }
    if (status) {
        snapshot after = take(s, p);
        unchanged(&before, &after);
        if (variant == 1 || variant == 2)
            REQUIRE(base == a && size == n, base, size);
        return;
    }
    REQUIRE(!is_dead(s, p), 0, 0);
    REQUIRE(base % s->page == 0 && base, base, a);
    if (type & VAS_MEM_RESERVE || !a)
        REQUIRE(base % 0x10000 == 0, base, a);
    if (variant == 1 || variant == 2)
        REQUIRE(size % s->page == 0 && size && base + size - 1 <= s->highest, base, size);
    if (variant == 1 && zero_bits && zero_bits <= 21 && !a)
        REQUIRE(((base + size - 1) >> (32 - zero_bits)) == 0, base, zero_bits);
    if (with_req && req.highest_ending_address)
        REQUIRE(base + (variant == 2 ? size : 1) - 1 <= req.highest_ending_address, base, req.highest_ending_address);
    if (with_req && req.alignment)
        REQUIRE(base % req.alignment == 0, base, req.alignment);
    remember(s, base);
}

static void op_free(state *s, bool nt)
{
    vas_process *p = pick(s);
    uint64_t a = address(s), n = length(s, a), base = a, size = n;
    uint32_t type = free_type(s);
    snapshot before = take(s, p);
    uint32_t status;
    if (nt) {
        status = vas_nt_free_virtual_memory(p, &base, &size, type);
    } else {
        vas_set_last_error(0);
        status = vas_virtual_free(p, a, n, type) ? 0 : vas_last_error();
        REQUIRE(vas_last_error() || !status, a, n);
    }
    if (status) {
        snapshot after = take(s, p);
        unchanged(&before, &after);
        if (nt)
            REQUIRE(base == a && size == n, base, size);
    } else if (nt) {
        REQUIRE(base == (a & ~(uint64_t)(s->page - 1)) && size % s->page == 0, base, size);
    }
}

static void op_protect(state *s, bool nt)
{
    vas_process *p = pick(s);
    uint64_t a = address(s), n = length(s, a), base = a, size = n;
    uint32_t protect = protection(s), old = 0xDEADBEEFu;
    bool null_old = u8(s) == 0xFF;
    snapshot before = take(s, p);
    uint32_t status;
    if (nt) {
        status = vas_nt_protect_virtual_memory(p, &base, &size, protect, null_old ? NULL : &old);
    } else {
        vas_set_last_error(0);
        status = vas_virtual_protect(p, a, n, protect, null_old ? NULL : &old) ? 0 : vas_last_error();
    }
    snapshot after = take(s, p);
    unchanged(&before, &after); /* a protection change never changes these counters */
    if (!status) {
        REQUIRE(old != 0xDEADBEEFu && old != 0, old, a);
        if (nt)
            REQUIRE(base == (a & ~(uint64_t)(s->page - 1)) && size >= n && size % s->page == 0, base, size);
    } else if (nt) {
        REQUIRE(base == a && size == n, base, size);
    }
}

static void op_query(state *s, int variant)
{
    vas_process *p = pick(s);
    uint64_t a = address(s);
    vas_memory_basic_information m;
    memset(&m, 0x5A, sizeof m);
    if (variant == 0) {
        if (vas_virtual_query(p, a, &m, sizeof m) == sizeof m)
            coherent(s, a, &m);
        else
            REQUIRE(vas_last_error() != 0, a, 0);
    } else if (variant == 1) {
        size_t want = u8(s) & 1 ? sizeof m - 1 - u8(s) % 8 : sizeof m, got = 99;
        uint32_t status = vas_nt_query_virtual_memory(p, a, &m, want, &got);
        if (!status) {
            coherent(s, a, &m);
            REQUIRE(got == sizeof m, got, want);
        } else {
            REQUIRE(got == 99, got, status);
        }
    } else if (variant == 3) {
        /* The bulk walk: each region is what VirtualQuery says at its start (at a, the first). */
        vas_memory_basic_information many[16], one;
        size_t n = vas_query_regions(p, a, many, 1 + u8(s) % 16);
        if (!n)
            REQUIRE(vas_virtual_query(p, a, &one, sizeof one) == 0, a, vas_last_error());
        for (size_t i = 0; i < n; i++) {
            REQUIRE(vas_virtual_query(p, i ? many[i].base_address : a, &one, sizeof one) == sizeof one, a, i);
            REQUIRE(one.base_address == many[i].base_address && one.region_size == many[i].region_size &&
                        one.state == many[i].state && one.protect == many[i].protect &&
                        one.allocation_base == many[i].allocation_base && one.type == many[i].type &&
                        one.allocation_protect == many[i].allocation_protect,
                    many[i].base_address, i);
            REQUIRE(i == 0 || many[i].base_address == many[i - 1].base_address + many[i - 1].region_size,
                    many[i].base_address, i);
        }
    } else {
        vas_memory_region_information r;
        if (vas_nt_query_region_information(p, a, &r) == 0)
            REQUIRE(r.allocation_base <= a && a - r.allocation_base < r.region_size &&
                        r.commit_size <= r.region_size,
                    r.allocation_base, r.region_size);
    }
}

static uint8_t buffer[0x10000];

static void op_access(state *s)
{
    vas_process *p = pick(s);
    uint8_t kind = u8(s);
    uint64_t a = address(s);
    size_t n = u16(s) % (sizeof buffer + 1);
    vas_exception e;
    uint32_t status;
    switch (kind % 7) {
    case 0: status = vas_read(p, a, buffer, n, &e); break;
    case 1: memset(buffer, kind, n); status = vas_write(p, a, buffer, n, &e); break;
    case 2: status = vas_execute(p, a, buffer, n, &e); break;
    case 3: status = vas_kernel_read(s->machine, kind & 8 ? NULL : p, a, buffer, n, &e); break;
    case 4: {
        vas_translation t;
        status = vas_translate(p, a, (uint32_t)(kind >> 3) % 10, &t, &e);
        if (!status)
            REQUIRE(t.host && t.page_base == (a & ~(uint64_t)(s->page - 1)), t.page_base, a);
        break;
    }
    case 5: {
        vas_page_walk w;
        status = vas_page_table_walk(p, a, &w);
        if (!status)
            REQUIRE(w.levels <= 4, w.levels, a);
        break;
    }
    default: {
        uint64_t phys = 0;
        status = vas_virtual_to_physical(p, a, &phys);
        break;
    }
    }
    (void)status;
}

static void op_info(state *s)
{
    vas_process *p = pick(s);
    vas_process_counters c;
    if (vas_process_get_counters(p, &c)) {
        REQUIRE(c.peak_virtual_size >= c.virtual_size && c.peak_commit_charge >= c.commit_charge,
                c.virtual_size, c.commit_charge);
    }
    vas_memory_status ms;
    vas_global_memory_status(s->machine, &ms);
    REQUIRE(ms.commit_total <= ms.commit_limit && ms.commit_peak >= ms.commit_total, ms.commit_total, ms.commit_limit);
    vas_partition parts[8];
    size_t n = vas_get_partitions(p, parts, u8(s) % 9);
    REQUIRE(n <= 8, n, 0);
    char name[24];
    vas_protect_name(protection(s), name, 1 + u8(s) % sizeof name);
    (void)vas_status_name(u32(s));
    (void)vas_error_name(u32(s));
    REQUIRE(vas_nt_status_to_dos_error(VAS_STATUS_CONFLICTING_ADDRESSES) == VAS_ERROR_INVALID_ADDRESS, 0, 0);
}

/* ---- Sections ------------------------------------------------------------------------------- */

/* A mapped file's backing store in memory: reads and writes outside it fail, as a file that
   shrank would. */
typedef struct mem_file {
    size_t size;
    uint8_t bytes[];
} mem_file;

static int mem_read(void *file, uint64_t offset, void *out, size_t size)
{
    mem_file *f = file;
    if (offset > f->size || size > f->size - offset)
        return -1;
    memcpy(out, f->bytes + offset, size);
    return 0;
}

static int mem_write(void *file, uint64_t offset, const void *in, size_t size)
{
    mem_file *f = file;
    if (offset > f->size || size > f->size - offset)
        return -1;
    memcpy(f->bytes + offset, in, size);
    return 0;
}

static const vas_backing_ops mem_file_ops = {mem_read, mem_write, free};

static const uint32_t section_flags[] = {0, VAS_SEC_COMMIT, VAS_SEC_RESERVE, VAS_SEC_RESERVE | VAS_SEC_COMMIT,
                                         VAS_SEC_NOCACHE | VAS_SEC_COMMIT, VAS_SEC_IMAGE, VAS_SEC_LARGE_PAGES,
                                         VAS_SEC_FILE};
static const uint32_t map_access[] = {VAS_FILE_MAP_READ, VAS_FILE_MAP_WRITE, VAS_FILE_MAP_COPY, VAS_FILE_MAP_ALL_ACCESS,
                                      VAS_FILE_MAP_READ | VAS_FILE_MAP_EXECUTE, 0,
                                      VAS_FILE_MAP_COPY | VAS_FILE_MAP_EXECUTE, VAS_FILE_MAP_WRITE | VAS_FILE_MAP_EXECUTE};

static vas_section *pick_section(state *s)
{
    uint8_t which = u8(s);
    if (which & 0x80 && s->nclosed)
        return s->closed[which % s->nclosed];
    return s->nsections ? s->sections[which % s->nsections] : NULL;
}

static void keep_section(state *s, vas_section *h)
{
    if (!h)
        return;
    if (s->nsections < MAX_SECTIONS)
        s->sections[s->nsections++] = h;
    else
        vas_close_section(h);
}

/* CreateFileMapping (paging file or an in-memory file), OpenFileMapping, CloseHandle,
   MapViewOfFile, UnmapViewOfFile, FlushViewOfFile, Read/WriteProcessMemory. */
static void op_section(state *s, unsigned variant)
{
    static const char *const names[] = {NULL, "a", "b", "Local\\a"};
    vas_process *p = pick(s);
    switch (variant) {
    case 0: case 1: {
        uint32_t protect = protection(s) | section_flags[u8(s) % 8];
        uint64_t size = length(s, 0);
        const char *name = names[u8(s) % 4];
        if (variant == 0) {
            keep_section(s, vas_create_file_mapping(s->machine, NULL, protect, size, name));
        } else {
            size_t bytes = u16(s) * 16u;
            mem_file *f = calloc(1, sizeof *f + bytes);
            if (!f)
                return;
            f->size = bytes;
            keep_section(s, vas_create_file_mapping_ops(s->machine, &mem_file_ops, f, bytes, protect,
                                                        size > (1u << 20) ? 0 : size, name));
        }
        break;
    }
    case 2:
        keep_section(s, vas_open_file_mapping(s->machine, map_access[u8(s) % 8] | VAS_SECTION_QUERY,
                                              names[u8(s) % 4]));
        break;
    case 3: {
        uint8_t which = u8(s);
        if (!s->nsections)
            return;
        int i = which % s->nsections;
        REQUIRE(vas_close_section(s->sections[i]), i, 0);
        if (s->nclosed < MAX_SECTIONS)
            s->closed[s->nclosed++] = s->sections[i];
        s->sections[i] = s->sections[--s->nsections];
        break;
    }
    case 4: {
        vas_section *h = pick_section(s);
        uint32_t access = map_access[u8(s) % 8];
        uint64_t offset = u8(s) & 1 ? (uint64_t)(u8(s) % 4) << 16 : length(s, 0);
        uint64_t size = length(s, 0), base = u8(s) & 1 ? address(s) : 0;
        uint64_t view = vas_map_view_of_file(p, h, access, offset, size, base);
        REQUIRE(view ? view % 0x10000 == 0 : vas_last_error() != 0, view, vas_last_error());
        if (view)
            remember(s, view);
        break;
    }
    case 5:
        if (!vas_unmap_view_of_file(p, address(s)))
            REQUIRE(vas_last_error() != 0, 0, 0);
        break;
    case 6: {
        uint64_t a = address(s);
        vas_flush_view_of_file(p, a, length(s, a));
        break;
    }
    default: {
        uint64_t a = address(s);
        size_t n = u16(s) % (sizeof buffer + 1), done = 7777;
        int ok = u8(s) & 1 ? vas_read_process_memory(p, a, buffer, n, &done)
                           : vas_write_process_memory(p, a, buffer, n, &done);
        REQUIRE(ok ? done == n : vas_last_error() != 0, done, n);
        break;
    }
    }
}

/* ---- System space: pools, kernel accesses, MDLs, probes ---------------------------------------- */

static void op_kernel(state *s, unsigned variant)
{
    vas_process *p = pick(s);
    vas_exception e;
    switch (variant) {
    case 0: {
        unsigned i = u8(s) % 8;
        uint32_t tag = u8(s) & 1 ? 0x6C6F6F50u : u32(s);
        uint64_t size = u8(s) & 1 ? u16(s) : length(s, 0);
        uint64_t b = vas_pool_alloc(s->machine, u8(s) % 3, size, tag);
        REQUIRE(b ? b >= 0x80000000u : vas_last_error() != 0, b, size);
        if (b) {
            s->blocks[i] = b;
            s->block_tags[i] = tag;
            remember(s, b);
        }
        break;
    }
    case 1: {
        unsigned i = u8(s) % 8;
        uint32_t tag = u8(s) & 1 ? s->block_tags[i] : u32(s);
        if (!vas_pool_free(s->machine, u8(s) & 1 ? s->blocks[i] : address(s), tag))
            REQUIRE(vas_last_error() != 0, 0, 0);
        break;
    }
    case 2: case 3: {
        uint64_t a = u8(s) & 1 ? s->blocks[u8(s) % 8] + u8(s) : address(s);
        size_t n = u16(s) % (sizeof buffer + 1);
        vas_process *current = u8(s) & 1 ? NULL : p;
        if (variant == 2)
            (void)vas_kernel_read(s->machine, current, a, buffer, n, &e);
        else
            (void)vas_kernel_write(s->machine, current, a, buffer, n, &e);
        break;
    }
    case 4: {
        unsigned i = u8(s) % 4;
        if (s->mdls[i]) {
            vas_io_free_mdl(s->mdls[i]);
            s->mdls[i] = NULL;
        }
        uint64_t a = address(s);
        s->mdls[i] = vas_io_allocate_mdl(p, a, length(s, a));
        break;
    }
    case 5: {
        vas_mdl *mdl = s->mdls[u8(s) % 4];
        uint8_t how = u8(s);
        if (!mdl)
            break;
        if (how % 3 == 0)
            (void)vas_mm_probe_and_lock_pages(mdl, how & 8 ? VAS_EXCEPTION_WRITE_FAULT : VAS_EXCEPTION_READ_FAULT, &e);
        else if (how % 3 == 1)
            remember(s, vas_mm_get_system_address_for_mdl_safe(mdl));
        else
            vas_mm_unlock_pages(mdl);
        break;
    }
    default: {
        uint64_t a = address(s);
        uint64_t n = length(s, a);
        uint32_t alignment = 1u << (u8(s) % 6);
        if (variant == 6)
            (void)vas_probe_for_read(p, a, n, alignment, &e);
        else
            (void)vas_probe_for_write(p, a, n, alignment, &e);
        break;
    }
    }
}

/* ---- The target ------------------------------------------------------------------------------ */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const layouts[] = {"x64", "x64-win7", "x86", "ia64", "win9x", "x64", "x86", "bogus"};
    static const uint64_t rams[] = {1ull << 20, 2ull << 20, 4ull << 20, 16ull << 20}; /* small: quick to set up */
    static const uint64_t pagefiles[] = {0, VAS_NO_PAGEFILE, 1ull << 20, 64ull << 20};
    state s;
    memset(&s, 0, sizeof s);
    s.in = (input){data, size, 0};
    uint8_t config = u8(&s), user_va = u8(&s);
    vas_machine_config mc = {.layout = layouts[config & 7], .ram_bytes = rams[config >> 3 & 3],
                             .pagefile_bytes = pagefiles[config >> 5 & 3],
                             .increase_user_va_mb = 0};
    /* IncreaseUserVa: in range for x86 from 128 on; from 250 on for any layout (refused there). */
    if (user_va >= 250 || (user_va >= 128 && strcmp(mc.layout, "x86") == 0))
        mc.increase_user_va_mb = 2048 + (uint32_t)(user_va - 128) * 8;
    s.machine = vas_machine_create(&mc);
    if (!s.machine) {
        REQUIRE(vas_last_error() != 0, config, user_va);
        return 0;
    }
    vas_machine_info mi;
    vas_get_machine_info(s.machine, &mi);
    s.page = mi.page_size;
    s.highest = 0x7FFEFFFF;
    op_process_create(&s);
    for (int ops = 0; ops < MAX_OPS && more(&s); ops++) {
        uint8_t op = u8(&s);
        if (!s.nprocs && op % 16 > 1)
            op = 0;
        switch (op % 16) {
        case 0: op_process_create(&s); break;
        case 1: op_process_destroy(&s); break;
        case 2: case 3: op_alloc(&s, 0); break;
        case 4: op_alloc(&s, 1); break;
        case 5: op_alloc(&s, (op >> 4) & 1 ? 3 : 2); break;
        case 6: op_free(&s, false); break;
        case 7: op_free(&s, true); break;
        case 8: op_protect(&s, false); break;
        case 9: op_protect(&s, true); break;
        case 10: op_query(&s, 0); break;
        case 11: op_query(&s, 1); break;
        case 12: op_query(&s, 2 + (u8(&s) & 1)); break;
        case 13: case 14: op_access(&s); break;
        default:
            if (op >> 7) /* half of opcode 15 goes to sections, a quarter to system space */
                op_section(&s, (op >> 4) & 7);
            else if (op >> 6)
                op_kernel(&s, u8(&s) % 8);
            else
                op_info(&s);
            break;
        }
        int errors = vas_check(s.machine);
        REQUIRE(errors == 0, errors, op);
    }
    for (int i = 0; i < s.nsections; i++) /* half of them: the machine closes the rest */
        if (i % 2)
            vas_close_section(s.sections[i]);
    vas_machine_destroy(s.machine);
    return 0;
}
