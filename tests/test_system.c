/*
 * test_system.c - system space, the paged and nonpaged pools, and the driver's view of user
 * memory (issue 7), black-box through vas.h, on the layouts x64, x64-win7, x86 (2 GB, and 3 GB
 * with IncreaseUserVa 3072 and a large-address-aware process), IA-64 and Windows 95/98.
 *
 *   test_system [test]
 *
 * Where the expectations come from:
 *   - system space (issue 7 section 1; vas.h "System space and pools"): one range per machine,
 *     from MmSystemRangeStart up (x64 8.1+ 0xFFFF8000'00000000, x64 Vista..8 0xFFFF0800'00000000,
 *     x86 0x80000000, or 0xC0000000 with IncreaseUserVa 3072, Windows 95/98 0xC0000000, IA-64
 *     the layout's boundary); a page allocated there is at the same address with the same bytes
 *     whatever process is current; user-mode accesses to it raise STATUS_ACCESS_VIOLATION with
 *     ExceptionInformation[0] the access kind (execute reported as a read where DEP is off) and
 *     [1] the exact address; kernel-mode accesses to system pages that are not valid fault, and
 *     kernel accesses to user addresses with no current process fault;
 *   - the pools (ExAllocatePoolWithTag / ExFreePoolWithTag, POOL_HEADER): blocks in units of 8
 *     bytes (x86, Windows 95/98) or 16 (64-bit), one unit of header just before the returned
 *     address holding the block's size in units (header included) in its low 16 bits, the pool
 *     type + 1 in byte 2 (0 once freed) and the tag in bytes 4..7 (src/system.c write_header);
 *     requests whose rounded size plus header do not fit a page take whole pages, page aligned,
 *     without a header (big pool allocations); a pool page whose blocks are all freed is
 *     decommitted; pool pages are charged to commit; nonpaged pool pages are resident and locked,
 *     paged pool pages are part of the system working set and are paged out and back;
 *   - poolmon's per-tag counts: allocations, frees, bytes in use (headers and rounding included)
 *     per tag and pool type;
 *   - bad frees (Windows: BAD_POOL_CALLER 0xC2; here a failure that changes nothing): the wrong
 *     tag ERROR_INVALID_PARAMETER (87), a block freed twice ERROR_INVALID_BLOCK (9), an address
 *     that is no block ERROR_INVALID_ADDRESS (487); bad pool type or size 0 87; a request no pool
 *     can hold ERROR_NOT_ENOUGH_MEMORY (8) or ERROR_COMMITMENT_LIMIT (1455); a NULL machine
 *     ERROR_INVALID_HANDLE (6);
 *   - the driver's view (issue 7 section 3): a user address used while another process is
 *     current resolves in that process (the write lands there, or faults); KeStackAttachProcess /
 *     KeUnstackDetachProcess make the right process current and restore the caller's;
 *   - ProbeForRead / ProbeForWrite (ntoskrnl ex/probe.c): nothing for length 0; alignment checked
 *     first (STATUS_DATATYPE_MISALIGNMENT), then the range: it must end at or below
 *     MmUserProbeAddress, which is the highest user address + 1 (the start of the 64 KB
 *     off-limits block: 0x7FFF0000 on x86 with 2 GB), and must not wrap, else
 *     STATUS_ACCESS_VIOLATION, nothing touched. ProbeForRead touches nothing; ProbeForWrite reads
 *     and rewrites one byte of every page in order (the first at the address itself, the others
 *     at their page start), so a read-only page raises an access violation of the write kind, a
 *     guard page STATUS_GUARD_PAGE_VIOLATION (raised by the read, which comes first) and
 *     committed pages never touched become resident. Invalid alignments (not 1, 2, 4, 8, 16) are
 *     STATUS_INVALID_PARAMETER (Windows only asserts).
 * After every scenario vas_check(machine) == 0. MDLs are not tested here.
 */
#include "facts.h"

#include <stdbool.h>

#define TAG(a, b, c, d) ((uint32_t)(uint8_t)(a) | (uint32_t)(uint8_t)(b) << 8 | (uint32_t)(uint8_t)(c) << 16 | \
                         (uint32_t)(uint8_t)(d) << 24)
#define KB 1024ull
#define MB (1024ull * 1024ull)

/* ---- Layouts ---------------------------------------------------------------------------------- */

typedef struct layout_case {
    const char *label;
    const char *layout;
    uint32_t increase_user_va_mb;
    uint64_t system_range_start; /* MmSystemRangeStart of the layout */
} layout_case;

static const layout_case LAYOUTS[] = {
    {"x64", "x64", 0, 0xFFFF800000000000ull},
    {"x64-win7", "x64-win7", 0, 0xFFFF080000000000ull},
    {"x86", "x86", 0, 0x80000000ull},
    {"x86 3 GB", "x86", 3072, 0xC0000000ull},
    {"ia64", "ia64", 0, 0x000006FC00000000ull},
    {"win9x", "win9x", 0, 0xC0000000ull},
};
#define LAYOUT_COUNT (sizeof LAYOUTS / sizeof LAYOUTS[0])

/* Failures inside a per-layout loop name their layout. */
static int case_failures_;
static const char *case_label_;

static void case_begin(const char *label)
{
    case_label_ = label;
    case_failures_ = check_failures_in_test;
}

static void case_end(void)
{
    if (check_failures_in_test != case_failures_)
        fprintf(stderr, "    ^ in layout %s\n", case_label_);
}

typedef struct env {
    const layout_case *lc;
    vas_machine *m;
    vas_process *a, *b;
    uint64_t page, unit, srs;
    bool is32, dep;
} env;

static vas_machine *machine_for(const layout_case *lc, uint64_t ram, uint64_t pagefile)
{
    vas_machine_config mc = {0};
    mc.layout = lc->layout;
    mc.increase_user_va_mb = lc->increase_user_va_mb;
    mc.ram_bytes = ram;
    mc.pagefile_bytes = pagefile;
    vas_machine *m = vas_machine_create(&mc);
    if (!m) {
        fprintf(stderr, "test_system: cannot create a %s machine (error %u)\n", lc->label, vas_last_error());
        exit(2);
    }
    return m;
}

/* A native process; large-address-aware on the x86 3 GB layout so it has the 3 GB. */
static vas_process *process_for(vas_machine *m, const layout_case *lc, const char *name)
{
    vas_process_config pc = {0};
    pc.name = name;
    pc.large_address_aware = lc->increase_user_va_mb ? 1 : 0;
    vas_process *p = vas_process_create(m, &pc);
    if (!p) {
        fprintf(stderr, "test_system: cannot create a process on %s (error %u)\n", lc->label, vas_last_error());
        exit(2);
    }
    return p;
}

static env env_open_with(const layout_case *lc, uint64_t ram, uint64_t pagefile)
{
    env e = {0};
    e.lc = lc;
    e.m = machine_for(lc, ram, pagefile);
    e.a = process_for(e.m, lc, "a.exe");
    e.b = process_for(e.m, lc, "b.exe");
    vas_machine_info mi;
    vas_get_machine_info(e.m, &mi);
    e.page = mi.page_size;
    e.is32 = mi.native_bits == 32;
    e.unit = e.is32 ? 8 : 16;
    e.srs = mi.system_range_start;
    e.dep = strcmp(lc->layout, "win9x") != 0;
    return e;
}

static env env_open(const layout_case *lc) { return env_open_with(lc, 0, 0); }

static void env_close(env *e)
{
    CHECK_EQ(vas_check(e->m), 0);
    vas_machine_destroy(e->m);
    e->m = NULL;
}

static uint64_t round_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

/* What a request of `size` takes from its pool, as poolmon counts it. */
static uint64_t charged_bytes(const env *e, uint64_t size)
{
    uint64_t need = round_up(size, e->unit) + e->unit;
    return need <= e->page ? need : round_up(size, e->page);
}

static bool is_small(const env *e, uint64_t size) { return round_up(size, e->unit) + e->unit <= e->page; }

static vas_pool_status pool_status(vas_machine *m)
{
    vas_pool_status s;
    memset(&s, 0xCC, sizeof s);
    vas_get_pool_status(m, &s);
    return s;
}

static vas_paging_status paging_status(vas_machine *m)
{
    vas_paging_status s;
    vas_get_paging_status(m, &s);
    return s;
}

/* A distinct byte pattern per seed. */
static void fill_pattern(uint8_t *buffer, size_t size, uint32_t seed)
{
    uint32_t x = seed * 2654435761u + 12345u;
    for (size_t i = 0; i < size; i++) {
        x = x * 1103515245u + 12345u;
        buffer[i] = (uint8_t)(x >> 16);
    }
}

/* Writes a block's pattern in kernel mode (current NULL); true on success. */
static bool kwrite_pattern(vas_machine *m, uint64_t address, size_t size, uint32_t seed)
{
    uint8_t *buffer = malloc(size);
    if (!buffer)
        return false;
    fill_pattern(buffer, size, seed);
    vas_exception ex;
    uint32_t status = vas_kernel_write(m, NULL, address, buffer, size, &ex);
    free(buffer);
    return status == VAS_STATUS_SUCCESS;
}

/* Reads a block in kernel mode with `current` and compares it with its pattern. */
static bool kread_matches(vas_machine *m, vas_process *current, uint64_t address, size_t size, uint32_t seed)
{
    uint8_t *want = malloc(size), *got = malloc(size);
    bool same = false;
    if (want && got) {
        fill_pattern(want, size, seed);
        vas_exception ex;
        same = vas_kernel_read(m, current, address, got, size, &ex) == VAS_STATUS_SUCCESS &&
               memcmp(want, got, size) == 0;
    }
    free(want);
    free(got);
    return same;
}

/* The exception a faulting access must report. */
#define CHECK_EXCEPTION(ex, code_, access_, address_)                                          \
    do {                                                                                      \
        CHECK_EQ((ex).code, (code_));                                                         \
        CHECK_EQ((ex).access, (access_));                                                     \
        CHECK_EQ((ex).address, (address_));                                                   \
    } while (0)

/* The partition of `kind` in a process's address space (first of that kind). */
static bool partition_of(vas_process *p, vas_partition_kind kind, vas_partition *out)
{
    vas_partition parts[16];
    size_t n = vas_get_partitions(p, parts, 16);
    for (size_t i = 0; i < n && i < 16; i++)
        if (parts[i].kind == kind) {
            *out = parts[i];
            return true;
        }
    return false;
}

/* ---- Pool state, for "a failed call changes nothing" ------------------------------------------- */

#define TAGS_MAX 64

typedef struct pool_snap {
    size_t tag_count;
    vas_pool_tag_info tags[TAGS_MAX];
    vas_pool_status ps;
    vas_memory_status ms;
    vas_physical_status phys;
} pool_snap;

static void pool_snap_take(vas_machine *m, pool_snap *s)
{
    memset(s, 0, sizeof *s);
    s->tag_count = vas_pool_tags(m, s->tags, TAGS_MAX);
    vas_get_pool_status(m, &s->ps);
    vas_global_memory_status(m, &s->ms);
    vas_get_physical_status(m, &s->phys);
}

/* strict: also the resident pages and the physical lists (a request that tried to make RAM
   resident may have trimmed working sets on the way, as Windows would). */
static void pool_unchanged_(vas_machine *m, const pool_snap *before, bool strict, const char *file, int line)
{
    static pool_snap after;
    pool_snap_take(m, &after);
    int errors = 0;
    if (after.tag_count != before->tag_count) {
        fprintf(stderr, "%s:%d: the pool tags went from %zu to %zu entries\n", file, line, before->tag_count,
                after.tag_count);
        errors++;
    }
    for (size_t i = 0; i < before->tag_count && i < after.tag_count && i < TAGS_MAX; i++) {
        const vas_pool_tag_info *x = &before->tags[i], *y = &after.tags[i];
        if (x->tag != y->tag || x->pool_type != y->pool_type || x->allocs != y->allocs || x->frees != y->frees ||
            x->bytes != y->bytes) {
            fprintf(stderr, "%s:%d: pool tag entry %zu changed\n", file, line, i);
            errors++;
        }
    }
    vas_pool_status ps = after.ps;
    if (!strict)
        ps.resident = before->ps.resident;
    if (memcmp(&before->ps, &ps, sizeof ps) != 0) {
        fprintf(stderr, "%s:%d: the pool status changed\n", file, line);
        errors++;
    }
    if (before->ms.commit_total != after.ms.commit_total || before->ms.commit_limit != after.ms.commit_limit ||
        (strict && before->ms.avail_phys != after.ms.avail_phys)) {
        fprintf(stderr, "%s:%d: the machine's memory status changed\n", file, line);
        errors++;
    }
    if (strict && (before->phys.zeroed + before->phys.free != after.phys.zeroed + after.phys.free ||
                   before->phys.active != after.phys.active)) {
        fprintf(stderr, "%s:%d: the physical memory lists changed\n", file, line);
        errors++;
    }
    if (vas_check(m) != 0) {
        fprintf(stderr, "%s:%d: vas_check failed\n", file, line);
        errors++;
    }
    check_failures_in_test += errors;
}
#define CHECK_POOL_UNCHANGED(m, before) pool_unchanged_((m), (before), true, __FILE__, __LINE__)
#define CHECK_POOL_UNCHANGED_BUT_RAM(m, before) pool_unchanged_((m), (before), false, __FILE__, __LINE__)

static pool_snap pool_before_;

/* A pool call that must return 0 with vas_last_error() == error and change nothing. */
#define CHECK_POOL_FAILS_CLEAN(m, call, error)                                                \
    do {                                                                                      \
        pool_snap_take((m), &pool_before_);                                                   \
        CHECK_FAILS(call, error);                                                             \
        CHECK_POOL_UNCHANGED((m), &pool_before_);                                             \
    } while (0)

/* ==== 1. System space =========================================================================== */

/* vas_get_machine_info and vas_get_pool_status agree on MmSystemRangeStart, which is Windows'
   for the layout; both pools lie in system space, inside the Kernel partition every native
   process reports, disjoint, and start empty. */
static void test_system_range_start(void)
{
    for (size_t k = 0; k < LAYOUT_COUNT; k++) {
        const layout_case *lc = &LAYOUTS[k];
        case_begin(lc->label);
        env e = env_open(lc);
        vas_machine_info mi;
        vas_get_machine_info(e.m, &mi);
        vas_pool_status ps = pool_status(e.m);
        CHECK_EQ(mi.system_range_start, lc->system_range_start);
        CHECK_EQ(ps.system_range_start, mi.system_range_start);
        uint64_t top = e.is32 ? 0xFFFFFFFFull : UINT64_MAX;
        vas_partition kernel = {0};
        CHECK(partition_of(e.a, VAS_PARTITION_KERNEL, &kernel));
        for (int t = 0; t < 2; t++) {
            CHECK(ps.size[t] > 0);
            CHECK_EQ(ps.base[t] % e.page, 0);
            CHECK_EQ(ps.size[t] % e.page, 0);
            CHECK(ps.base[t] >= ps.system_range_start);
            CHECK(ps.size[t] - 1 <= top - ps.base[t]);
            /* Every pool byte is kernel mode as the processes see it (not the x64 hole, not the
               Windows 95/98 shared area). */
            CHECK(ps.base[t] >= kernel.first);
            CHECK(ps.base[t] + (ps.size[t] - 1) <= kernel.last);
            CHECK_EQ(ps.committed[t], 0);
            CHECK_EQ(ps.blocks[t], 0);
        }
        CHECK(ps.base[0] + ps.size[0] <= ps.base[1] || ps.base[1] + ps.size[1] <= ps.base[0]);
        CHECK_EQ(vas_pool_tags(e.m, NULL, 0), 0);
        env_close(&e);
        case_end();
    }
    /* A NULL machine: nothing. */
    vas_pool_status s;
    memset(&s, 0xCC, sizeof s);
    vas_get_pool_status(NULL, &s);
    CHECK_EQ(s.system_range_start, 0);
    CHECK_EQ(s.base[0], 0);
    CHECK_EQ(vas_pool_tags(NULL, NULL, 0), 0);
}

/* A pool block is at the same address with the same bytes whichever process is current (or
   none), for writes made from any of them. */
static void test_system_pages_same_in_every_process(void)
{
    for (size_t k = 0; k < LAYOUT_COUNT; k++) {
        const layout_case *lc = &LAYOUTS[k];
        case_begin(lc->label);
        env e = env_open(lc);
        vas_process *procs[4] = {e.a, e.b, NULL, NULL}; /* procs[2]: no current process */
        size_t n = 3;
        if (!e.is32) { /* and a WOW64 process where there is one */
            vas_process_config pc = {0};
            pc.bits = 32;
            pc.name = "wow.exe";
            procs[3] = vas_process_create(e.m, &pc);
            if (strcmp(lc->layout, "ia64") != 0 || procs[3])
                CHECK(procs[3] != NULL);
            if (procs[3])
                n = 4;
        }
        for (int type = 0; type < 2; type++) {
            uint32_t tag = TAG('S', 'h', 'r', '0' + type);
            uint64_t block = vas_pool_alloc(e.m, type, 200, tag);
            CHECK(block != 0);
            CHECK(block >= e.srs);
            for (size_t w = 0; w < n; w++) {
                vas_process *writer = procs[w];
                uint8_t data[200];
                fill_pattern(data, sizeof data, (uint32_t)(k * 100 + type * 10 + w));
                vas_exception ex;
                CHECK_EQ(vas_kernel_write(e.m, writer, block, data, sizeof data, &ex), VAS_STATUS_SUCCESS);
                CHECK_EQ(ex.code, VAS_STATUS_SUCCESS);
                for (size_t r = 0; r < n; r++) {
                    vas_process *reader = procs[r];
                    uint8_t got[200];
                    memset(got, 0, sizeof got);
                    CHECK_EQ(vas_kernel_read(e.m, reader, block, got, sizeof got, &ex), VAS_STATUS_SUCCESS);
                    CHECK(memcmp(got, data, sizeof data) == 0);
                }
            }
            /* A process created after the block was written sees it too. */
            vas_process *late = process_for(e.m, lc, "late.exe");
            uint8_t want[200], got[200];
            fill_pattern(want, sizeof want, (uint32_t)(k * 100 + type * 10 + n - 1));
            vas_exception ex;
            CHECK_EQ(vas_kernel_read(e.m, late, block, got, sizeof got, &ex), VAS_STATUS_SUCCESS);
            CHECK(memcmp(got, want, sizeof got) == 0);
            vas_process_destroy(late);
            CHECK(vas_pool_free(e.m, block, tag));
        }
        env_close(&e);
        case_end();
    }
}

/* User-mode reads, writes and executes of pool addresses raise STATUS_ACCESS_VIOLATION with the
   access kind and the exact address, from every process, and move no byte. */
static void test_user_mode_denied(void)
{
    for (size_t k = 0; k < LAYOUT_COUNT; k++) {
        const layout_case *lc = &LAYOUTS[k];
        case_begin(lc->label);
        env e = env_open(lc);
        vas_process *procs[3] = {e.a, e.b, NULL};
        size_t n = 2;
        if (!e.is32 && strcmp(lc->layout, "ia64") != 0) {
            vas_process_config pc = {0};
            pc.bits = 32;
            procs[2] = vas_process_create(e.m, &pc);
            CHECK(procs[2] != NULL);
            n = procs[2] ? 3 : 2;
        }
        for (int type = 0; type < 2; type++) {
            uint64_t block = vas_pool_alloc(e.m, type, 64, TAG('U', 's', 'r', 'x'));
            CHECK(block != 0);
            CHECK(kwrite_pattern(e.m, block, 64, 7));
            uint64_t at = block + 5; /* not page or unit aligned: the exact address is reported */
            for (size_t i = 0; i < n; i++) {
                vas_process *p = procs[i];
                /* DEP is on by default everywhere but Windows 95/98, where an instruction fetch
                   is reported as a read */
                uint32_t exec_kind = e.dep ? VAS_EXCEPTION_EXECUTE_FAULT : VAS_EXCEPTION_READ_FAULT;
                vas_process_counters before = counters_of(p);
                uint8_t buffer[8] = {0xA5, 0xA5, 0xA5, 0xA5, 0xA5, 0xA5, 0xA5, 0xA5};
                vas_exception ex;
                memset(&ex, 0, sizeof ex);
                CHECK_EQ(vas_read(p, at, buffer, sizeof buffer, &ex), VAS_STATUS_ACCESS_VIOLATION);
                CHECK_EXCEPTION(ex, VAS_STATUS_ACCESS_VIOLATION, VAS_EXCEPTION_READ_FAULT, at);
                CHECK_EQ(buffer[0], 0xA5); /* a faulting read fills nothing */
                memset(&ex, 0, sizeof ex);
                CHECK_EQ(vas_write(p, at, buffer, sizeof buffer, &ex), VAS_STATUS_ACCESS_VIOLATION);
                CHECK_EXCEPTION(ex, VAS_STATUS_ACCESS_VIOLATION, VAS_EXCEPTION_WRITE_FAULT, at);
                memset(&ex, 0, sizeof ex);
                CHECK_EQ(vas_execute(p, at, buffer, sizeof buffer, &ex), VAS_STATUS_ACCESS_VIOLATION);
                CHECK_EXCEPTION(ex, VAS_STATUS_ACCESS_VIOLATION, exec_kind, at);
                /* The first byte of the block and its header too. */
                memset(&ex, 0, sizeof ex);
                CHECK_EQ(vas_read(p, block - e.unit, buffer, 1, &ex), VAS_STATUS_ACCESS_VIOLATION);
                CHECK_EXCEPTION(ex, VAS_STATUS_ACCESS_VIOLATION, VAS_EXCEPTION_READ_FAULT, block - e.unit);
                vas_process_counters after = counters_of(p);
                CHECK_EQ(after.access_violations, before.access_violations + 4);
            }
            CHECK(kread_matches(e.m, NULL, block, 64, 7)); /* the writes moved nothing */
            CHECK(vas_pool_free(e.m, block, TAG('U', 's', 'r', 'x')));
        }
        /* System space as a whole, not only the pools: its first byte. */
        vas_exception ex;
        uint8_t byte = 0;
        CHECK_EQ(vas_read(e.a, e.srs, &byte, 1, &ex), VAS_STATUS_ACCESS_VIOLATION);
        CHECK_EXCEPTION(ex, VAS_STATUS_ACCESS_VIOLATION, VAS_EXCEPTION_READ_FAULT, e.srs);
        env_close(&e);
        case_end();
    }
}

/* Kernel accesses fault where nothing is valid: unallocated system space, pool pages never
   committed or decommitted, user addresses with no current process, user addresses the current
   process does not have. A faulting kernel read fills nothing, a faulting kernel write changes
   nothing. */
static void test_kernel_faults(void)
{
    for (size_t k = 0; k < LAYOUT_COUNT; k++) {
        const layout_case *lc = &LAYOUTS[k];
        case_begin(lc->label);
        env e = env_open(lc);
        vas_pool_status ps = pool_status(e.m);
        uint64_t top_page = (e.is32 ? 0xFFFFFFFFull : (uint64_t)-1) / e.page * e.page;
        if (!strcmp(lc->layout, "ia64"))
            top_page = ps.base[1] + ps.size[1] + 64 * e.page; /* above the pools */
        uint64_t holes[] = {e.srs, e.srs + e.page + 3, ps.base[0] + ps.size[0] - e.page,
                            ps.base[1] + ps.size[1] - 8, top_page};
        for (size_t i = 0; i < sizeof holes / sizeof holes[0]; i++) {
            vas_process *currents[3] = {NULL, e.a, e.b};
            for (int c = 0; c < 3; c++) {
                uint8_t buffer[4] = {1, 2, 3, 4};
                vas_exception ex;
                CHECK_EQ(vas_kernel_read(e.m, currents[c], holes[i], buffer, 4, &ex), VAS_STATUS_ACCESS_VIOLATION);
                CHECK_EXCEPTION(ex, VAS_STATUS_ACCESS_VIOLATION, VAS_EXCEPTION_READ_FAULT, holes[i]);
                CHECK_EQ(buffer[0], 1);
                CHECK_EQ(vas_kernel_write(e.m, currents[c], holes[i], buffer, 4, &ex), VAS_STATUS_ACCESS_VIOLATION);
                CHECK_EXCEPTION(ex, VAS_STATUS_ACCESS_VIOLATION, VAS_EXCEPTION_WRITE_FAULT, holes[i]);
            }
        }
        /* A decommitted pool page faults again. */
        uint64_t block = vas_pool_alloc(e.m, VAS_PAGED_POOL, 32, TAG('D', 'e', 'c', 'm'));
        CHECK(block != 0);
        CHECK(kwrite_pattern(e.m, block, 32, 1));
        CHECK(vas_pool_free(e.m, block, TAG('D', 'e', 'c', 'm')));
        uint8_t byte;
        vas_exception ex;
        CHECK_EQ(vas_kernel_read(e.m, NULL, block, &byte, 1, &ex), VAS_STATUS_ACCESS_VIOLATION);
        CHECK_EXCEPTION(ex, VAS_STATUS_ACCESS_VIOLATION, VAS_EXCEPTION_READ_FAULT, block);

        /* User addresses: A's buffer is reachable with A current, not with none, not from B. */
        uint64_t user = vas_virtual_alloc(e.a, 0, 2 * e.page, VAS_MEM_COMMIT | VAS_MEM_RESERVE, VAS_PAGE_READWRITE);
        CHECK(user != 0);
        uint8_t word[8] = {9, 8, 7, 6, 5, 4, 3, 2}, got[8];
        CHECK_EQ(vas_kernel_write(e.m, e.a, user + 12, word, 8, &ex), VAS_STATUS_SUCCESS);
        CHECK_EQ(vas_read(e.a, user + 12, got, 8, &ex), VAS_STATUS_SUCCESS);
        CHECK(memcmp(got, word, 8) == 0);
        memset(got, 0xEE, sizeof got);
        CHECK_EQ(vas_kernel_read(e.m, NULL, user + 12, got, 8, &ex), VAS_STATUS_ACCESS_VIOLATION);
        CHECK_EXCEPTION(ex, VAS_STATUS_ACCESS_VIOLATION, VAS_EXCEPTION_READ_FAULT, user + 12);
        CHECK_EQ(got[0], 0xEE);
        CHECK_EQ(vas_kernel_write(e.m, NULL, user + 12, got, 8, &ex), VAS_STATUS_ACCESS_VIOLATION);
        CHECK_EXCEPTION(ex, VAS_STATUS_ACCESS_VIOLATION, VAS_EXCEPTION_WRITE_FAULT, user + 12);
        CHECK_EQ(vas_kernel_read(e.m, NULL, 0, got, 1, &ex), VAS_STATUS_ACCESS_VIOLATION);
        CHECK_EXCEPTION(ex, VAS_STATUS_ACCESS_VIOLATION, VAS_EXCEPTION_READ_FAULT, 0);
        vas_memory_basic_information mbi;
        CHECK_EQ(vas_virtual_query(e.b, user, &mbi, sizeof mbi), sizeof mbi);
        if (mbi.state == VAS_MEM_FREE) {
            CHECK_EQ(vas_kernel_read(e.m, e.b, user + 12, got, 8, &ex), VAS_STATUS_ACCESS_VIOLATION);
            CHECK_EXCEPTION(ex, VAS_STATUS_ACCESS_VIOLATION, VAS_EXCEPTION_READ_FAULT, user + 12);
        }
        /* Page protections apply in kernel mode too: a read-only user page refuses a kernel write. */
        uint32_t old;
        CHECK(vas_virtual_protect(e.a, user + e.page, e.page, VAS_PAGE_READONLY, &old));
        CHECK_EQ(vas_kernel_write(e.m, e.a, user + e.page + 4, word, 4, &ex), VAS_STATUS_ACCESS_VIOLATION);
        CHECK_EXCEPTION(ex, VAS_STATUS_ACCESS_VIOLATION, VAS_EXCEPTION_WRITE_FAULT, user + e.page + 4);
        /* An invalid machine, a process of another machine. */
        CHECK_EQ(vas_kernel_read(NULL, NULL, e.srs, got, 1, &ex), VAS_STATUS_INVALID_HANDLE);
        env other = env_open(lc);
        CHECK_EQ(vas_kernel_read(e.m, other.a, user, got, 1, &ex), VAS_STATUS_INVALID_HANDLE);
        env_close(&other);
        env_close(&e);
        case_end();
    }
}

/* A kernel access that straddles from user space into system space. Observed: it is resolved in
   the current process from its first byte, and faults in the user half, at the first byte that
   is not valid there: every NT layout keeps the top 64 KB of the user half (the off-limits
   block, and on x64 the non-canonical hole above it) unmapped, so no access can run from valid
   user bytes into system space. With no current process it faults at its first byte. This is
   what ProbeForRead / ProbeForWrite rely on: a range they accept ends at or below
   MmUserProbeAddress (the off-limits block's start), so a probed user buffer can never reach
   system space, and an unprobed one faults before it does. The same holds for an access that
   runs from a valid pool block into an uncommitted pool page: it faults at that page, moving
   nothing. */
static void test_kernel_access_straddles(void)
{
    for (size_t k = 0; k < LAYOUT_COUNT; k++) {
        const layout_case *lc = &LAYOUTS[k];
        case_begin(lc->label);
        env e = env_open(lc);
        uint8_t buffer[32];
        vas_exception ex;
        uint64_t from = e.srs - 16;
        for (int c = 0; c < 2; c++) {
            vas_process *current = c ? e.a : NULL;
            memset(buffer, 0x5A, sizeof buffer);
            CHECK_EQ(vas_kernel_read(e.m, current, from, buffer, 32, &ex), VAS_STATUS_ACCESS_VIOLATION);
            CHECK_EXCEPTION(ex, VAS_STATUS_ACCESS_VIOLATION, VAS_EXCEPTION_READ_FAULT, from);
            CHECK_EQ(buffer[0], 0x5A);
            CHECK_EQ(buffer[31], 0x5A);
            CHECK_EQ(vas_kernel_write(e.m, current, from, buffer, 32, &ex), VAS_STATUS_ACCESS_VIOLATION);
            CHECK_EXCEPTION(ex, VAS_STATUS_ACCESS_VIOLATION, VAS_EXCEPTION_WRITE_FAULT, from);
        }
        if (strcmp(lc->layout, "win9x") != 0) {
            /* The read-only KUSER_SHARED_DATA page is the last valid user page of every NT
               process; a kernel read running off its end faults at the next page, filling
               nothing. */
            const uint64_t kuser = 0x7FFE0000ull;
            vas_memory_basic_information mbi;
            CHECK_EQ(vas_virtual_query(e.a, kuser, &mbi, sizeof mbi), sizeof mbi);
            CHECK_EQ(mbi.state, VAS_MEM_COMMIT);
            memset(buffer, 0x5A, sizeof buffer);
            CHECK_EQ(vas_kernel_read(e.m, e.a, kuser + e.page - 8, buffer, 16, &ex), VAS_STATUS_ACCESS_VIOLATION);
            CHECK_EXCEPTION(ex, VAS_STATUS_ACCESS_VIOLATION, VAS_EXCEPTION_READ_FAULT, kuser + e.page);
            CHECK_EQ(buffer[0], 0x5A);
        }
        /* From a valid pool block into the pool page after it, never committed. */
        uint64_t block = vas_pool_alloc(e.m, VAS_NONPAGED_POOL, e.page, TAG('S', 't', 'r', 'd'));
        CHECK(block != 0);
        CHECK_EQ(block % e.page, 0);
        CHECK(kwrite_pattern(e.m, block, (size_t)e.page, 3));
        memset(buffer, 0x5A, sizeof buffer);
        CHECK_EQ(vas_kernel_read(e.m, e.b, block + e.page - 8, buffer, 16, &ex), VAS_STATUS_ACCESS_VIOLATION);
        CHECK_EXCEPTION(ex, VAS_STATUS_ACCESS_VIOLATION, VAS_EXCEPTION_READ_FAULT, block + e.page);
        CHECK_EQ(buffer[0], 0x5A);
        uint8_t zeros[16] = {0};
        CHECK_EQ(vas_kernel_write(e.m, e.b, block + e.page - 8, zeros, 16, &ex), VAS_STATUS_ACCESS_VIOLATION);
        CHECK_EXCEPTION(ex, VAS_STATUS_ACCESS_VIOLATION, VAS_EXCEPTION_WRITE_FAULT, block + e.page);
        CHECK(kread_matches(e.m, NULL, block, (size_t)e.page, 3)); /* the faulting write moved nothing */
        CHECK(vas_pool_free(e.m, block, TAG('S', 't', 'r', 'd')));
        env_close(&e);
        case_end();
    }
}

/* ==== 2. Pools ================================================================================== */

/* Small blocks: unit aligned, rounded to units, one unit of header before them holding the size
   in units (header included), the pool type + 1 and the tag. */
static void test_pool_headers(void)
{
    for (size_t k = 0; k < LAYOUT_COUNT; k++) {
        const layout_case *lc = &LAYOUTS[k];
        case_begin(lc->label);
        env e = env_open(lc);
        uint64_t u = e.unit, pg = e.page;
        uint64_t sizes[] = {1, u - 1, u, u + 1, 100, 1000, pg / 2, pg - 2 * u, pg - 2 * u + 1, pg - u};
        for (int type = 0; type < 2; type++) {
            for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
                uint64_t size = sizes[i];
                uint32_t tag = TAG('H', 'd', 'r', 'A' + (int)i);
                CHECK(is_small(&e, size));
                uint64_t block = vas_pool_alloc(e.m, type, size, tag);
                CHECK(block != 0);
                CHECK_EQ(block % u, 0);
                CHECK(block % pg != 0); /* its header is in the same page, before it */
                vas_pool_status ps = pool_status(e.m);
                CHECK(block - u >= ps.base[type] && block + size <= ps.base[type] + ps.size[type]);
                uint8_t header[16];
                memset(header, 0xEE, sizeof header);
                vas_exception ex;
                CHECK_EQ(vas_kernel_read(e.m, NULL, block - u, header, (size_t)u, &ex), VAS_STATUS_SUCCESS);
                uint64_t units = (round_up(size, u) + u) / u;
                CHECK_EQ((uint32_t)header[0] | (uint32_t)header[1] << 8, units);
                CHECK_EQ(header[2], type + 1);
                uint32_t got_tag;
                memcpy(&got_tag, header + 4, 4);
                CHECK_EQ(got_tag, tag);
                /* The whole block is there to write, up to its rounded end. */
                CHECK(kwrite_pattern(e.m, block, (size_t)round_up(size, u), (uint32_t)i));
                vas_pool_tag_info info[TAGS_MAX];
                size_t n = vas_pool_tags(e.m, info, TAGS_MAX);
                bool found = false;
                for (size_t j = 0; j < n && j < TAGS_MAX; j++)
                    if (info[j].tag == tag && info[j].pool_type == type) {
                        found = true;
                        CHECK_EQ(info[j].allocs, 1);
                        CHECK_EQ(info[j].frees, 0);
                        CHECK_EQ(info[j].bytes, round_up(size, u) + u);
                    }
                CHECK(found);
                CHECK(kread_matches(e.m, e.a, block, (size_t)round_up(size, u), (uint32_t)i));
                CHECK(vas_pool_free(e.m, block, tag));
            }
            vas_pool_status ps = pool_status(e.m);
            CHECK_EQ(ps.committed[type], 0);
            CHECK_EQ(ps.blocks[type], 0);
        }
        /* A freed block's header, while its page lives on: the pool type byte is 0. */
        uint64_t first = vas_pool_alloc(e.m, VAS_PAGED_POOL, 40, TAG('F', 'r', 'e', 'e'));
        uint64_t second = vas_pool_alloc(e.m, VAS_PAGED_POOL, 40, TAG('F', 'r', 'e', 'e'));
        CHECK(first && second);
        CHECK(vas_pool_free(e.m, first, TAG('F', 'r', 'e', 'e')));
        uint8_t header[16];
        vas_exception ex;
        CHECK_EQ(vas_kernel_read(e.m, NULL, first - u, header, (size_t)u, &ex), VAS_STATUS_SUCCESS);
        CHECK_EQ(header[2], 0);
        CHECK(vas_pool_free(e.m, second, TAG('F', 'r', 'e', 'e')));
        env_close(&e);
        case_end();
    }
}

/* Requests that do not fit a page with their header take whole pages, page aligned, with no
   header: the pool page before them is not even committed. */
static void test_pool_big_blocks(void)
{
    for (size_t k = 0; k < LAYOUT_COUNT; k++) {
        const layout_case *lc = &LAYOUTS[k];
        case_begin(lc->label);
        env e = env_open(lc);
        uint64_t u = e.unit, pg = e.page;
        uint64_t sizes[] = {pg - u + 1, pg, pg + 1, 3 * pg, 5 * pg - 7, 64 * KB + 1};
        for (int type = 0; type < 2; type++) {
            for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
                uint64_t size = sizes[i];
                uint32_t tag = TAG('B', 'i', 'g', 'A' + (int)i);
                CHECK(!is_small(&e, size));
                vas_pool_status before = pool_status(e.m);
                uint64_t block = vas_pool_alloc(e.m, type, size, tag);
                CHECK(block != 0);
                CHECK_EQ(block % pg, 0);
                vas_pool_status after = pool_status(e.m);
                CHECK_EQ(after.committed[type] - before.committed[type], round_up(size, pg));
                CHECK_EQ(after.blocks[type], before.blocks[type] + 1);
                CHECK(kwrite_pattern(e.m, block, (size_t)round_up(size, pg), (uint32_t)i));
                CHECK(kread_matches(e.m, e.b, block, (size_t)round_up(size, pg), (uint32_t)i));
                vas_pool_tag_info info[TAGS_MAX];
                size_t n = vas_pool_tags(e.m, info, TAGS_MAX);
                for (size_t j = 0; j < n && j < TAGS_MAX; j++)
                    if (info[j].tag == tag && info[j].pool_type == type)
                        CHECK_EQ(info[j].bytes, round_up(size, pg));
                CHECK(vas_pool_free(e.m, block, tag));
                vas_pool_status freed = pool_status(e.m);
                CHECK_EQ(freed.committed[type], before.committed[type]);
                uint8_t byte;
                vas_exception ex;
                CHECK_EQ(vas_kernel_read(e.m, NULL, block, &byte, 1, &ex), VAS_STATUS_ACCESS_VIOLATION);
            }
        }
        /* Between two small blocks' pages, a big one does not share a page. */
        uint64_t small = vas_pool_alloc(e.m, VAS_NONPAGED_POOL, 24, TAG('M', 'i', 'x', 'd'));
        uint64_t big = vas_pool_alloc(e.m, VAS_NONPAGED_POOL, 2 * pg, TAG('M', 'i', 'x', 'd'));
        CHECK(small && big);
        CHECK(big / pg != small / pg);
        CHECK(vas_pool_free(e.m, big, TAG('M', 'i', 'x', 'd')));
        CHECK(vas_pool_free(e.m, small, TAG('M', 'i', 'x', 'd')));
        env_close(&e);
        case_end();
    }
}

/* Two small blocks from the same page are adjacent; a freed block's space is reused; a page whose
   blocks are all freed is decommitted. */
static void test_pool_adjacent_and_reuse(void)
{
    for (size_t k = 0; k < LAYOUT_COUNT; k++) {
        const layout_case *lc = &LAYOUTS[k];
        case_begin(lc->label);
        env e = env_open(lc);
        uint64_t u = e.unit, pg = e.page;
        for (int type = 0; type < 2; type++) {
            uint32_t tag = TAG('A', 'd', 'j', '0' + type);
            uint64_t a = vas_pool_alloc(e.m, type, 40, tag);
            uint64_t b = vas_pool_alloc(e.m, type, 100, tag);
            uint64_t c = vas_pool_alloc(e.m, type, 1, tag);
            CHECK(a && b && c);
            CHECK_EQ(b, a + round_up(40, u) + u);
            CHECK_EQ(c, b + round_up(100, u) + u);
            CHECK_EQ(a / pg, c / pg);
            vas_pool_status ps = pool_status(e.m);
            CHECK_EQ(ps.committed[type], pg);
            CHECK_EQ(ps.blocks[type], 3);
            CHECK(kwrite_pattern(e.m, a, 40, 1));
            CHECK(kwrite_pattern(e.m, b, 100, 2));
            CHECK(kwrite_pattern(e.m, c, 1, 3));
            /* b goes; a block of its size or smaller takes its place. */
            CHECK(vas_pool_free(e.m, b, tag));
            uint64_t d = vas_pool_alloc(e.m, type, 96, tag);
            CHECK_EQ(d, b);
            CHECK(kwrite_pattern(e.m, d, 96, 4));
            CHECK(kread_matches(e.m, NULL, a, 40, 1)); /* its neighbours untouched */
            CHECK(kread_matches(e.m, NULL, c, 1, 3));
            /* Filling the page: the next block goes to a new page. */
            uint64_t rest = pg - (c + round_up(1, u) - (a - u)) - u; /* what is left, less a header */
            uint64_t e1 = vas_pool_alloc(e.m, type, rest, tag);
            CHECK_EQ(e1, c + round_up(1, u) + u);
            uint64_t f = vas_pool_alloc(e.m, type, 8, tag);
            CHECK(f != 0);
            CHECK(f / pg != a / pg);
            ps = pool_status(e.m);
            CHECK_EQ(ps.committed[type], 2 * pg);
            /* Freeing every block of the first page decommits it. */
            CHECK(vas_pool_free(e.m, a, tag));
            CHECK(vas_pool_free(e.m, c, tag));
            CHECK(vas_pool_free(e.m, d, tag));
            ps = pool_status(e.m);
            CHECK_EQ(ps.committed[type], 2 * pg);
            vas_memory_status before = status_of(e.m);
            CHECK(vas_pool_free(e.m, e1, tag));
            ps = pool_status(e.m);
            CHECK_EQ(ps.committed[type], pg);
            CHECK_EQ(before.commit_total - status_of(e.m).commit_total, pg);
            uint8_t byte;
            vas_exception ex;
            CHECK_EQ(vas_kernel_read(e.m, NULL, a, &byte, 1, &ex), VAS_STATUS_ACCESS_VIOLATION);
            CHECK_EXCEPTION(ex, VAS_STATUS_ACCESS_VIOLATION, VAS_EXCEPTION_READ_FAULT, a);
            CHECK(vas_pool_free(e.m, f, tag));
            ps = pool_status(e.m);
            CHECK_EQ(ps.committed[type], 0);
            CHECK_EQ(ps.blocks[type], 0);
            CHECK_EQ(ps.resident, 0); /* decommitted pages left the system working set */
        }
        env_close(&e);
        case_end();
    }
}

/* Pool pages are charged to commit, machine-wide, and given back when they go. */
static void test_pool_commit_charge(void)
{
    for (size_t k = 0; k < LAYOUT_COUNT; k++) {
        const layout_case *lc = &LAYOUTS[k];
        case_begin(lc->label);
        env e = env_open(lc);
        uint64_t pg = e.page;
        vas_memory_status start = status_of(e.m);
        vas_pool_status ps0 = pool_status(e.m);
        uint64_t blocks[2][40];
        for (int type = 0; type < 2; type++) {
            uint32_t tag = TAG('C', 'm', 't', '0' + type);
            for (int i = 0; i < 40; i++) {
                uint64_t size = i % 4 == 3 ? 2 * pg + 5 : 200 + (uint64_t)i * 10;
                vas_memory_status before = status_of(e.m);
                vas_pool_status pb = pool_status(e.m);
                blocks[type][i] = vas_pool_alloc(e.m, type, size, tag);
                CHECK(blocks[type][i] != 0);
                vas_pool_status pa = pool_status(e.m);
                vas_memory_status after = status_of(e.m);
                /* The machine's commit grows exactly by the pool pages committed. */
                CHECK_EQ(after.commit_total - before.commit_total, pa.committed[type] - pb.committed[type]);
                if (!is_small(&e, size))
                    CHECK_EQ(pa.committed[type] - pb.committed[type], 3 * pg);
            }
        }
        vas_pool_status full = pool_status(e.m);
        vas_memory_status mid = status_of(e.m);
        CHECK_EQ(mid.commit_total - start.commit_total,
                 full.committed[0] + full.committed[1] - ps0.committed[0] - ps0.committed[1]);
        CHECK(full.committed[0] >= 10 * 3 * pg);
        CHECK(full.committed[1] >= 10 * 3 * pg);
        CHECK(mid.commit_peak >= mid.commit_total);
        for (int type = 0; type < 2; type++)
            for (int i = 0; i < 40; i++)
                CHECK(vas_pool_free(e.m, blocks[type][i], TAG('C', 'm', 't', '0' + type)));
        vas_memory_status end = status_of(e.m);
        CHECK_EQ(end.commit_total, start.commit_total);
        vas_pool_status ps = pool_status(e.m);
        CHECK_EQ(ps.committed[0], 0);
        CHECK_EQ(ps.committed[1], 0);
        CHECK_EQ(ps.resident, 0);
        env_close(&e);
        case_end();
    }
}

/* Freed pool pages give their RAM back: after nonpaged and paged blocks of half of RAM come and
   go, the system working set is empty, the frames are available again (a process can make all
   of them resident), and no paging-file slot is left behind. */
static void test_pool_frees_give_ram_back(void)
{
    for (size_t k = 0; k < LAYOUT_COUNT; k++) {
        const layout_case *lc = &LAYOUTS[k];
        case_begin(lc->label);
        env e = env_open_with(lc, 8 * MB, 32 * MB);
        vas_physical_status before;
        vas_get_physical_status(e.m, &before);
        vas_memory_status ms0 = status_of(e.m);
        uint64_t blocks[2][16];
        for (int type = 0; type < 2; type++)
            for (int i = 0; i < 16; i++) {
                blocks[type][i] = vas_pool_alloc(e.m, type, 128 * KB, TAG('R', 'a', 'm', '0' + type));
                CHECK(blocks[type][i] != 0);
                CHECK(kwrite_pattern(e.m, blocks[type][i], 128 * KB, (uint32_t)i));
            }
        vas_pool_status full = pool_status(e.m);
        CHECK(full.resident >= full.committed[0]);
        CHECK_EQ(full.committed[0], 2 * MB);
        for (int type = 0; type < 2; type++)
            for (int i = 0; i < 16; i++)
                CHECK(vas_pool_free(e.m, blocks[type][i], TAG('R', 'a', 'm', '0' + type)));
        vas_pool_status ps = pool_status(e.m);
        CHECK_EQ(ps.committed[0] + ps.committed[1], 0);
        CHECK_EQ(ps.resident, 0);
        vas_physical_status after;
        vas_get_physical_status(e.m, &after);
        CHECK(after.active <= before.active + 2); /* page tables may stay */
        CHECK(status_of(e.m).avail_phys + 2 * e.page >= ms0.avail_phys);
        CHECK_EQ(status_of(e.m).commit_total, ms0.commit_total);
        CHECK_EQ(paging_status(e.m).pagefile_used, 0);
        env_close(&e);
        case_end();
    }
}

/* ---- Per-tag tracking against a model ------------------------------------------------------------ */

typedef struct model_tag {
    uint32_t tag;
    int type;
    uint64_t allocs, frees, bytes;
} model_tag;

typedef struct live_block {
    uint64_t address, size;
    uint32_t tag, seed;
    int type;
} live_block;

static uint64_t rng_state;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static model_tag *model_entry(model_tag *model, size_t *count, uint32_t tag, int type)
{
    for (size_t i = 0; i < *count; i++)
        if (model[i].tag == tag && model[i].type == type)
            return &model[i];
    model[*count] = (model_tag){tag, type, 0, 0, 0};
    return &model[(*count)++];
}

static void check_model(vas_machine *m, const model_tag *model, size_t count, const live_block *live, size_t lives)
{
    vas_pool_tag_info info[TAGS_MAX];
    size_t n = vas_pool_tags(m, info, TAGS_MAX);
    CHECK_EQ(n, count);
    for (size_t i = 0; i < count; i++) {
        bool found = false;
        for (size_t j = 0; j < n && j < TAGS_MAX; j++)
            if (info[j].tag == model[i].tag && info[j].pool_type == model[i].type) {
                found = true;
                CHECK_EQ(info[j].allocs, model[i].allocs);
                CHECK_EQ(info[j].frees, model[i].frees);
                CHECK_EQ(info[j].bytes, model[i].bytes);
            }
        CHECK(found);
    }
    vas_pool_status ps = pool_status(m);
    uint64_t blocks[2] = {0, 0};
    for (size_t i = 0; i < lives; i++)
        blocks[live[i].type]++;
    CHECK_EQ(ps.blocks[0], blocks[0]);
    CHECK_EQ(ps.blocks[1], blocks[1]);
}

/* A random sequence of allocations and frees over four tags and both pools: poolmon's counts
   are exact after every call, blocks never overlap (every block keeps its own bytes), and all
   of it goes back to nothing. */
static void test_pool_tags_model(void)
{
    static const size_t picks[] = {0, 2, 4}; /* x64, x86, ia64 */
    for (size_t pi = 0; pi < sizeof picks / sizeof picks[0]; pi++) {
        const layout_case *lc = &LAYOUTS[picks[pi]];
        case_begin(lc->label);
        env e = env_open(lc);
        rng_state = 0x9E3779B97F4A7C15ull + pi;
        const uint32_t tags[4] = {TAG('P', 'r', 'o', 'c'), TAG('F', 'i', 'l', 'e'), TAG('I', 'r', 'p', ' '),
                                  TAG('M', 'm', 'S', 't')};
        model_tag model[8];
        size_t model_count = 0;
        enum { LIVE_MAX = 160, OPS = 1500 };
        live_block live[LIVE_MAX];
        size_t lives = 0;
        int failures_before = check_failures_in_test;
        for (uint32_t op = 0; op < OPS && check_failures_in_test == failures_before; op++) {
            bool alloc = lives == 0 || (lives < LIVE_MAX && rng() % 3 != 0);
            if (alloc) {
                uint64_t r = rng() % 10, size;
                if (r < 7)
                    size = 1 + rng() % 300;
                else if (r < 9)
                    size = 300 + rng() % (e.page - 300);
                else
                    size = e.page + rng() % (2 * e.page);
                int type = (int)(rng() % 2);
                uint32_t tag = tags[rng() % 4];
                uint64_t address = vas_pool_alloc(e.m, type, size, tag);
                CHECK(address != 0);
                if (!address)
                    break;
                live[lives] = (live_block){address, size, tag, op, type};
                CHECK(kwrite_pattern(e.m, address, (size_t)size, op));
                lives++;
                model_tag *t = model_entry(model, &model_count, tag, type);
                t->allocs++;
                t->bytes += charged_bytes(&e, size);
            } else {
                size_t i = (size_t)(rng() % lives);
                live_block b = live[i];
                CHECK(kread_matches(e.m, NULL, b.address, (size_t)b.size, b.seed));
                CHECK(vas_pool_free(e.m, b.address, b.tag));
                live[i] = live[--lives];
                model_tag *t = model_entry(model, &model_count, b.tag, b.type);
                t->frees++;
                t->bytes -= charged_bytes(&e, b.size);
            }
            check_model(e.m, model, model_count, live, lives);
        }
        for (size_t i = 0; i < lives; i++) {
            CHECK(kread_matches(e.m, e.a, live[i].address, (size_t)live[i].size, live[i].seed));
            CHECK(vas_pool_free(e.m, live[i].address, live[i].tag));
            model_tag *t = model_entry(model, &model_count, live[i].tag, live[i].type);
            t->frees++;
            t->bytes -= charged_bytes(&e, live[i].size);
        }
        lives = 0;
        check_model(e.m, model, model_count, live, lives);
        for (size_t i = 0; i < model_count; i++) {
            CHECK_EQ(model[i].bytes, 0);
            CHECK_EQ(model[i].allocs, model[i].frees);
        }
        vas_pool_status ps = pool_status(e.m);
        CHECK_EQ(ps.committed[0], 0);
        CHECK_EQ(ps.committed[1], 0);
        env_close(&e);
        case_end();
    }
}

/* ---- Bad frees and bad requests ------------------------------------------------------------------- */

/* Every bad free is refused with its error and changes nothing: the tags, the pools, commit,
   physical memory, the blocks' bytes. */
static void test_pool_bad_frees(void)
{
    for (size_t k = 0; k < LAYOUT_COUNT; k++) {
        const layout_case *lc = &LAYOUTS[k];
        case_begin(lc->label);
        env e = env_open(lc);
        uint64_t u = e.unit, pg = e.page;
        const uint32_t tag = TAG('G', 'o', 'o', 'd'), other = TAG('B', 'a', 'd', '!');
        uint64_t small[2], big[2], gone[2];
        for (int type = 0; type < 2; type++) {
            small[type] = vas_pool_alloc(e.m, type, 48, tag);
            big[type] = vas_pool_alloc(e.m, type, 3 * pg, tag);
            gone[type] = vas_pool_alloc(e.m, type, 48, tag);
            CHECK(small[type] && big[type] && gone[type]);
            CHECK(kwrite_pattern(e.m, small[type], 48, (uint32_t)(10 + type)));
            CHECK(kwrite_pattern(e.m, big[type], (size_t)(3 * pg), (uint32_t)(20 + type)));
            CHECK(vas_pool_free(e.m, gone[type], tag));
        }
        /* An unrelated block keeps the page of `gone` alive so its header is still there. */
        uint64_t user = vas_virtual_alloc(e.a, 0, pg, VAS_MEM_COMMIT | VAS_MEM_RESERVE, VAS_PAGE_READWRITE);
        CHECK(user != 0);
        vas_pool_status ps = pool_status(e.m);
        for (int type = 0; type < 2; type++) {
            /* The wrong tag. */
            CHECK_POOL_FAILS_CLEAN(e.m, vas_pool_free(e.m, small[type], other), VAS_ERROR_INVALID_PARAMETER);
            CHECK_POOL_FAILS_CLEAN(e.m, vas_pool_free(e.m, big[type], other), VAS_ERROR_INVALID_PARAMETER);
            /* Freed twice. */
            CHECK_POOL_FAILS_CLEAN(e.m, vas_pool_free(e.m, gone[type], tag), VAS_ERROR_INVALID_BLOCK);
            /* Inside a block: one byte in, one unit in, its header, a later page of a big block. */
            CHECK_POOL_FAILS_CLEAN(e.m, vas_pool_free(e.m, small[type] + 1, tag), VAS_ERROR_INVALID_ADDRESS);
            CHECK_POOL_FAILS_CLEAN(e.m, vas_pool_free(e.m, small[type] + u, tag), VAS_ERROR_INVALID_ADDRESS);
            CHECK_POOL_FAILS_CLEAN(e.m, vas_pool_free(e.m, small[type] - u, tag), VAS_ERROR_INVALID_ADDRESS);
            CHECK_POOL_FAILS_CLEAN(e.m, vas_pool_free(e.m, big[type] + pg, tag), VAS_ERROR_INVALID_ADDRESS);
            CHECK_POOL_FAILS_CLEAN(e.m, vas_pool_free(e.m, big[type] + 16, tag), VAS_ERROR_INVALID_ADDRESS);
            /* The page start of a small block's page (where its header is). */
            CHECK_POOL_FAILS_CLEAN(e.m, vas_pool_free(e.m, small[type] / pg * pg, tag), VAS_ERROR_INVALID_ADDRESS);
            /* A pool address that is no block: a page never committed, the pool's last byte. */
            CHECK_POOL_FAILS_CLEAN(e.m, vas_pool_free(e.m, ps.base[type] + ps.size[type] - pg, tag),
                                   VAS_ERROR_INVALID_ADDRESS);
            CHECK_POOL_FAILS_CLEAN(e.m, vas_pool_free(e.m, ps.base[type] + ps.size[type] - pg + u, tag),
                                   VAS_ERROR_INVALID_ADDRESS);
        }
        /* A system address outside the pools, a user address, a user block, 0. */
        CHECK_POOL_FAILS_CLEAN(e.m, vas_pool_free(e.m, e.srs, tag), VAS_ERROR_INVALID_ADDRESS);
        CHECK_POOL_FAILS_CLEAN(e.m, vas_pool_free(e.m, e.srs + u, tag), VAS_ERROR_INVALID_ADDRESS);
        CHECK_POOL_FAILS_CLEAN(e.m, vas_pool_free(e.m, user, tag), VAS_ERROR_INVALID_ADDRESS);
        fx owner = {e.m, e.a}; /* and the process whose address it is is unchanged too */
        CHECK_FAILS_CLEAN(&owner, vas_pool_free(e.m, user, tag), VAS_ERROR_INVALID_ADDRESS);
        CHECK_POOL_FAILS_CLEAN(e.m, vas_pool_free(e.m, user + u, tag), VAS_ERROR_INVALID_ADDRESS);
        CHECK_POOL_FAILS_CLEAN(e.m, vas_pool_free(e.m, 0x10000, tag), VAS_ERROR_INVALID_ADDRESS);
        CHECK_POOL_FAILS_CLEAN(e.m, vas_pool_free(e.m, 0, tag), VAS_ERROR_INVALID_ADDRESS);
        CHECK_POOL_FAILS_CLEAN(e.m, vas_pool_free(e.m, 0, 0), VAS_ERROR_INVALID_ADDRESS);
        /* A NULL machine. */
        CHECK_FAILS(vas_pool_free(NULL, small[0], tag), VAS_ERROR_INVALID_HANDLE);
        /* The blocks are intact and still free normally. */
        for (int type = 0; type < 2; type++) {
            CHECK(kread_matches(e.m, NULL, small[type], 48, (uint32_t)(10 + type)));
            CHECK(kread_matches(e.m, NULL, big[type], (size_t)(3 * pg), (uint32_t)(20 + type)));
            CHECK(vas_pool_free(e.m, small[type], tag));
            CHECK(vas_pool_free(e.m, big[type], tag));
            /* and then a second free of each is told apart */
            CHECK_POOL_FAILS_CLEAN(e.m, vas_pool_free(e.m, small[type], tag), VAS_ERROR_INVALID_BLOCK);
            CHECK_POOL_FAILS_CLEAN(e.m, vas_pool_free(e.m, big[type], tag), VAS_ERROR_INVALID_BLOCK);
        }
        vas_pool_tag_info info[TAGS_MAX];
        size_t n = vas_pool_tags(e.m, info, TAGS_MAX);
        CHECK_EQ(n, 2); /* 'Good' in each pool, no entry for the tag only used in bad frees */
        for (size_t i = 0; i < n && i < TAGS_MAX; i++) {
            CHECK_EQ(info[i].tag, tag);
            CHECK_EQ(info[i].allocs, 3);
            CHECK_EQ(info[i].frees, 3);
            CHECK_EQ(info[i].bytes, 0);
        }
        env_close(&e);
        case_end();
    }
}

/* Bad allocation requests fail with their error and change nothing (no tag entry appears). */
static void test_pool_bad_allocs(void)
{
    for (size_t k = 0; k < LAYOUT_COUNT; k++) {
        const layout_case *lc = &LAYOUTS[k];
        case_begin(lc->label);
        env e = env_open(lc);
        const uint32_t tag = TAG('H', 'u', 'g', 'e');
        uint64_t keep = vas_pool_alloc(e.m, VAS_PAGED_POOL, 64, TAG('K', 'e', 'e', 'p'));
        CHECK(keep != 0);
        vas_pool_status ps = pool_status(e.m);
        CHECK_POOL_FAILS_CLEAN(e.m, vas_pool_alloc(e.m, -1, 64, tag), VAS_ERROR_INVALID_PARAMETER);
        CHECK_POOL_FAILS_CLEAN(e.m, vas_pool_alloc(e.m, 2, 64, tag), VAS_ERROR_INVALID_PARAMETER);
        CHECK_POOL_FAILS_CLEAN(e.m, vas_pool_alloc(e.m, 1000, 64, tag), VAS_ERROR_INVALID_PARAMETER);
        CHECK_FAILS(vas_pool_alloc(NULL, VAS_PAGED_POOL, 64, tag), VAS_ERROR_INVALID_HANDLE);
        for (int type = 0; type < 2; type++) {
            CHECK_POOL_FAILS_CLEAN(e.m, vas_pool_alloc(e.m, type, 0, tag), VAS_ERROR_INVALID_PARAMETER);
            uint64_t huge[] = {UINT64_MAX, UINT64_MAX - e.page, 1ull << 62, ps.size[type] + 1,
                               ps.size[type] + e.page, ps.size[type]};
            for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
                pool_snap_take(e.m, &pool_before_);
                vas_set_last_error(0xDEADBEEFu);
                uint64_t got = vas_pool_alloc(e.m, type, huge[i], tag);
                uint32_t error = vas_last_error();
                CHECK_EQ(got, 0);
                if (error != VAS_ERROR_NOT_ENOUGH_MEMORY && error != VAS_ERROR_COMMITMENT_LIMIT)
                    fprintf(stderr, "%s:%d: vas_pool_alloc(%s pool, %#llx bytes) failed with %u (%s)\n", __FILE__,
                            __LINE__, type ? "paged" : "nonpaged", (unsigned long long)huge[i], error,
                            vas_error_name(error));
                CHECK(error == VAS_ERROR_NOT_ENOUGH_MEMORY || error == VAS_ERROR_COMMITMENT_LIMIT);
                CHECK_POOL_UNCHANGED_BUT_RAM(e.m, &pool_before_);
                if (got)
                    vas_pool_free(e.m, got, tag);
            }
        }
        CHECK(vas_pool_free(e.m, keep, TAG('K', 'e', 'e', 'p')));
        env_close(&e);
        case_end();
    }
    /* A small machine: more nonpaged pool than RAM cannot be resident, so it fails (the commit
       limit allows it), and nothing is left behind: no commit, no locked page, no tag entry. */
    {
        env e = env_open_with(&LAYOUTS[2], 4 * MB, 64 * MB);
        uint64_t keep = vas_pool_alloc(e.m, VAS_NONPAGED_POOL, 3 * e.page, TAG('K', 'e', 'e', 'p'));
        CHECK(keep != 0);
        CHECK(kwrite_pattern(e.m, keep, (size_t)(3 * e.page), 77));
        pool_snap_take(e.m, &pool_before_);
        vas_set_last_error(0xDEADBEEFu);
        uint64_t got = vas_pool_alloc(e.m, VAS_NONPAGED_POOL, 8 * MB, TAG('T', 'o', 'o', 'B'));
        uint32_t error = vas_last_error();
        CHECK_EQ(got, 0);
        CHECK(error == VAS_ERROR_NOT_ENOUGH_MEMORY || error == VAS_ERROR_COMMITMENT_LIMIT);
        pool_snap after;
        pool_snap_take(e.m, &after);
        CHECK_EQ(after.tag_count, pool_before_.tag_count);
        CHECK_EQ(after.ps.committed[0], pool_before_.ps.committed[0]);
        CHECK_EQ(after.ps.blocks[0], pool_before_.ps.blocks[0]);
        CHECK_EQ(after.ms.commit_total, pool_before_.ms.commit_total);
        CHECK(after.ps.resident >= after.ps.committed[0]);
        CHECK(kread_matches(e.m, NULL, keep, (size_t)(3 * e.page), 77));
        /* and the pool still works */
        uint64_t fine = vas_pool_alloc(e.m, VAS_NONPAGED_POOL, 64 * KB, TAG('F', 'i', 'n', 'e'));
        CHECK(fine != 0);
        CHECK(vas_pool_free(e.m, fine, TAG('F', 'i', 'n', 'e')));
        CHECK(vas_pool_free(e.m, keep, TAG('K', 'e', 'e', 'p')));
        env_close(&e);
    }
}

/* ---- Memory pressure ---------------------------------------------------------------------------- */

/* A 4 MB machine: nonpaged blocks, then twice RAM of paged pool, then a process touching four
   times RAM. Paged pool goes out to the paging file (pages written, the system working set
   smaller than the pool), nonpaged pool never does: reading every nonpaged block reads nothing
   from the paging file and brings nothing in (the system working set does not move), and the
   paged blocks come back intact on a kernel-mode read. */
static void test_pool_pressure(void)
{
    static const size_t picks[] = {2, 0}; /* x86, x64 */
    for (size_t pi = 0; pi < sizeof picks / sizeof picks[0]; pi++) {
        const layout_case *lc = &LAYOUTS[picks[pi]];
        case_begin(lc->label);
        env e = env_open_with(lc, 4 * MB, 64 * MB);
        uint64_t pg = e.page;
        enum { NP_SMALL = 32, NP_BIG = 3, PG_BIG = 128, PG_SMALL = 48 };
        uint64_t np[NP_SMALL + NP_BIG], np_size[NP_SMALL + NP_BIG];
        uint64_t pp[PG_BIG + PG_SMALL], pp_size[PG_BIG + PG_SMALL];
        const uint32_t np_tag = TAG('N', 'p', 'g', 'd'), pp_tag = TAG('P', 'g', 'd', ' ');
        bool ok = true;
        for (int i = 0; i < NP_SMALL + NP_BIG; i++) {
            np_size[i] = i < NP_SMALL ? 24 + (uint64_t)i * 37 : (uint64_t)(i - NP_SMALL + 1) * pg + 100;
            np[i] = vas_pool_alloc(e.m, VAS_NONPAGED_POOL, np_size[i], np_tag);
            ok = ok && np[i] && kwrite_pattern(e.m, np[i], (size_t)np_size[i], 1000u + (uint32_t)i);
        }
        CHECK(ok);
        vas_paging_status pg0 = paging_status(e.m);
        for (int i = 0; i < PG_BIG + PG_SMALL && ok; i++) {
            pp_size[i] = i < PG_BIG ? 64 * KB : 100 + (uint64_t)i * 29;
            pp[i] = vas_pool_alloc(e.m, VAS_PAGED_POOL, pp_size[i], pp_tag);
            ok = pp[i] && kwrite_pattern(e.m, pp[i], (size_t)pp_size[i], 2000u + (uint32_t)i);
            CHECK(ok);
        }
        if (!ok) {
            env_close(&e);
            case_end();
            continue;
        }
        vas_pool_status ps1 = pool_status(e.m);
        vas_paging_status pg1 = paging_status(e.m);
        CHECK(ps1.committed[1] >= 2 * 4 * MB);
        /* The paged pool alone did not fit: part of it went to the paging file. */
        CHECK(pg1.pages_written > pg0.pages_written);
        CHECK(ps1.resident < ps1.committed[0] + ps1.committed[1]);
        CHECK(ps1.resident >= ps1.committed[0]);

        /* A process touches four times RAM. */
        uint64_t region = 16 * MB;
        uint64_t base = vas_virtual_alloc(e.a, 0, region, VAS_MEM_COMMIT | VAS_MEM_RESERVE, VAS_PAGE_READWRITE);
        CHECK(base != 0);
        for (uint64_t off = 0; base && off < region; off += pg) {
            uint64_t word = base + off;
            vas_exception ex;
            if (vas_write(e.a, base + off, &word, sizeof word, &ex) != VAS_STATUS_SUCCESS) {
                CHECK_EQ(ex.code, 0);
                break;
            }
        }
        vas_pool_status ps2 = pool_status(e.m);
        vas_paging_status pg2 = paging_status(e.m);
        CHECK(pg2.pages_written > pg1.pages_written);
        CHECK(ps2.resident < ps1.resident); /* the system working set shrank */
        CHECK(ps2.resident >= ps2.committed[0]); /* but never below the nonpaged pool */

        /* Nonpaged pool: every block intact, nothing read from the paging file, nothing brought
           in, from any process or none. */
        for (int round = 0; round < 2; round++) {
            vas_process *current = round ? e.b : NULL;
            vas_paging_status before = paging_status(e.m);
            vas_pool_status psb = pool_status(e.m);
            vas_physical_status physb;
            vas_get_physical_status(e.m, &physb);
            for (int i = 0; i < NP_SMALL + NP_BIG; i++)
                CHECK(kread_matches(e.m, current, np[i], (size_t)np_size[i], 1000u + (uint32_t)i));
            vas_paging_status after = paging_status(e.m);
            vas_pool_status psa = pool_status(e.m);
            vas_physical_status physa;
            vas_get_physical_status(e.m, &physa);
            CHECK_EQ(after.reads, before.reads);
            CHECK_EQ(psa.resident, psb.resident);
            CHECK_EQ(physa.active, physb.active);
            CHECK_EQ(physa.standby, physb.standby);
            CHECK(physa.active * physa.page_size >= psa.committed[0]);
            /* more pressure between the rounds: the process reads all its pages back */
            for (uint64_t off = 0; base && off < region; off += pg) {
                uint64_t word = 0;
                vas_exception ex;
                CHECK_EQ(vas_read(e.a, base + off, &word, sizeof word, &ex), VAS_STATUS_SUCCESS);
                if (word != base + off) {
                    CHECK_EQ(word, base + off);
                    break;
                }
            }
        }
        /* Paged pool: back from the paging file, intact. */
        vas_paging_status before = paging_status(e.m);
        for (int i = 0; i < PG_BIG + PG_SMALL; i++)
            CHECK(kread_matches(e.m, e.a, pp[i], (size_t)pp_size[i], 2000u + (uint32_t)i));
        vas_paging_status after = paging_status(e.m);
        CHECK(after.reads > before.reads);
        /* and the nonpaged blocks once more, after all that */
        vas_paging_status before2 = paging_status(e.m);
        for (int i = 0; i < NP_SMALL + NP_BIG; i++)
            CHECK(kread_matches(e.m, NULL, np[i], (size_t)np_size[i], 1000u + (uint32_t)i));
        CHECK_EQ(paging_status(e.m).reads, before2.reads);
        CHECK_EQ(vas_check(e.m), 0);
        for (int i = 0; i < NP_SMALL + NP_BIG; i++)
            CHECK(vas_pool_free(e.m, np[i], np_tag));
        for (int i = 0; i < PG_BIG + PG_SMALL; i++)
            CHECK(vas_pool_free(e.m, pp[i], pp_tag));
        vas_pool_status ps3 = pool_status(e.m);
        CHECK_EQ(ps3.committed[0], 0);
        CHECK_EQ(ps3.committed[1], 0);
        CHECK_EQ(ps3.resident, 0);
        /* with the process's memory gone too, the paging file is empty again */
        CHECK(vas_virtual_free(e.a, base, 0, VAS_MEM_RELEASE));
        CHECK_EQ(paging_status(e.m).pagefile_used, 0);
        env_close(&e);
        case_end();
    }
}

/* ==== 3. The driver's view ======================================================================= */

/* The wrong way: the request records A's buffer address; the completion runs with B current.
   Where B has a writable page at that address the bytes land in B's memory and A's buffer is
   unchanged; where B has nothing there the write faults; where B has it read-only it faults
   too. */
static void test_driver_wrong_way(void)
{
    for (size_t k = 0; k < LAYOUT_COUNT; k++) {
        const layout_case *lc = &LAYOUTS[k];
        case_begin(lc->label);
        env e = env_open(lc);
        uint64_t pg = e.page;
        /* 1. Process A allocates its buffer and fills it. */
        uint64_t request = vas_virtual_alloc(e.a, 0, 4 * pg, VAS_MEM_COMMIT | VAS_MEM_RESERVE, VAS_PAGE_READWRITE);
        CHECK(request != 0);
        uint8_t a_bytes[64], b_bytes[64], done[64], got[64];
        memset(a_bytes, 'A', sizeof a_bytes);
        memset(b_bytes, 'B', sizeof b_bytes);
        memset(done, 'D', sizeof done);
        vas_exception ex;
        CHECK_EQ(vas_write(e.a, request + 100, a_bytes, sizeof a_bytes, &ex), VAS_STATUS_SUCCESS);
        /* 2. B happens to have a writable page at the same address. */
        uint64_t b_buffer = vas_virtual_alloc(e.b, request, 4 * pg, VAS_MEM_COMMIT | VAS_MEM_RESERVE,
                                              VAS_PAGE_READWRITE);
        CHECK_EQ(b_buffer, request);
        CHECK_EQ(vas_write(e.b, request + 100, b_bytes, sizeof b_bytes, &ex), VAS_STATUS_SUCCESS);
        /* 3. The completion runs with B current and writes the recorded address. */
        CHECK_EQ(vas_kernel_write(e.m, e.b, request + 100, done, sizeof done, &ex), VAS_STATUS_SUCCESS);
        /* 4. The result is in B's memory; A's buffer never got it. */
        CHECK_EQ(vas_read(e.a, request + 100, got, sizeof got, &ex), VAS_STATUS_SUCCESS);
        CHECK(memcmp(got, a_bytes, sizeof got) == 0);
        CHECK_EQ(vas_read(e.b, request + 100, got, sizeof got, &ex), VAS_STATUS_SUCCESS);
        CHECK(memcmp(got, done, sizeof got) == 0);

        /* The same with a B that has nothing there: the completion faults, B stays as it was. */
        vas_process *c = process_for(e.m, lc, "c.exe");
        vas_memory_basic_information mbi;
        CHECK_EQ(vas_virtual_query(c, request, &mbi, sizeof mbi), sizeof mbi);
        CHECK_EQ(mbi.state, VAS_MEM_FREE);
        memset(&ex, 0, sizeof ex);
        CHECK_EQ(vas_kernel_write(e.m, c, request + 100, done, sizeof done, &ex), VAS_STATUS_ACCESS_VIOLATION);
        CHECK_EXCEPTION(ex, VAS_STATUS_ACCESS_VIOLATION, VAS_EXCEPTION_WRITE_FAULT, request + 100);
        CHECK_EQ(vas_virtual_query(c, request, &mbi, sizeof mbi), sizeof mbi);
        CHECK_EQ(mbi.state, VAS_MEM_FREE);
        /* reserved only: a fault too */
        uint64_t reserved = vas_virtual_alloc(c, request, 4 * pg, VAS_MEM_RESERVE, VAS_PAGE_READWRITE);
        CHECK_EQ(reserved, request);
        CHECK_EQ(vas_kernel_write(e.m, c, request + 100, done, sizeof done, &ex), VAS_STATUS_ACCESS_VIOLATION);
        CHECK_EXCEPTION(ex, VAS_STATUS_ACCESS_VIOLATION, VAS_EXCEPTION_WRITE_FAULT, request + 100);
        /* read-only there: the write faults with the write kind */
        CHECK_EQ(vas_virtual_alloc(c, request, pg, VAS_MEM_COMMIT, VAS_PAGE_READONLY), request);
        CHECK_EQ(vas_kernel_write(e.m, c, request + 100, done, sizeof done, &ex), VAS_STATUS_ACCESS_VIOLATION);
        CHECK_EXCEPTION(ex, VAS_STATUS_ACCESS_VIOLATION, VAS_EXCEPTION_WRITE_FAULT, request + 100);
        CHECK_EQ(vas_read(c, request + 100, got, sizeof got, &ex), VAS_STATUS_SUCCESS);
        CHECK_EQ(got[0], 0);
        /* A still has its own bytes */
        CHECK_EQ(vas_read(e.a, request + 100, got, sizeof got, &ex), VAS_STATUS_SUCCESS);
        CHECK(memcmp(got, a_bytes, sizeof got) == 0);
        env_close(&e);
        case_end();
    }
}

/* The right way: from B's context, attach to A, write, detach. A's buffer has the bytes, B's is
   untouched, B is current again. Attaches nest. */
/* The MDL way: A's buffer probed and locked for a write while A is current, mapped at a system
   address, and completed through it later while B is current: the bytes land in A's buffer.
   Locked pages stay resident when A's working set is emptied, and stay valid (and readable
   through the system address) even after A releases the buffer; unlocking frees them. */
static void test_driver_mdl(void)
{
    for (size_t k = 0; k < LAYOUT_COUNT; k++) {
        const layout_case *lc = &LAYOUTS[k];
        case_begin(lc->label);
        env e = env_open(lc);
        uint64_t pg = e.page;
        uint64_t buffer = vas_virtual_alloc(e.a, 0, 3 * pg, VAS_MEM_COMMIT | VAS_MEM_RESERVE, VAS_PAGE_READWRITE);
        CHECK_EQ(vas_virtual_alloc(e.b, buffer, 3 * pg, VAS_MEM_COMMIT | VAS_MEM_RESERVE, VAS_PAGE_READWRITE),
                 buffer);
        vas_exception ex;
        vas_mdl *mdl = vas_io_allocate_mdl(e.a, buffer + 16, 2 * pg);
        CHECK(mdl != NULL);
        CHECK_EQ(vas_mm_probe_and_lock_pages(mdl, VAS_EXCEPTION_WRITE_FAULT, &ex), VAS_STATUS_SUCCESS);
        uint64_t sys = vas_mm_get_system_address_for_mdl_safe(mdl);
        vas_pool_status ps;
        vas_get_pool_status(e.m, &ps);
        CHECK(sys >= ps.system_range_start);
        CHECK_EQ(sys % pg, 16);
        /* The completion, with B current, through the system address. */
        uint8_t done[64], got[64];
        memset(done, 'm', sizeof done);
        CHECK_EQ(vas_kernel_write(e.m, e.b, sys + pg - 8, done, sizeof done, &ex), VAS_STATUS_SUCCESS);
        CHECK_EQ(vas_read(e.a, buffer + 16 + pg - 8, got, sizeof got, &ex), VAS_STATUS_SUCCESS);
        CHECK(memcmp(got, done, sizeof got) == 0);
        CHECK_EQ(vas_read(e.b, buffer + 16 + pg - 8, got, sizeof got, &ex), VAS_STATUS_SUCCESS);
        CHECK(got[0] == 0 && got[63] == 0);
        /* Past the described buffer: an access violation. */
        CHECK_EQ(vas_kernel_read(e.m, NULL, sys + 2 * pg - 4, got, 8, &ex), VAS_STATUS_ACCESS_VIOLATION);
        /* Locked pages stay when the working set is emptied. */
        uint64_t before = 0, after = 0;
        CHECK_EQ(vas_virtual_to_physical(e.a, buffer + pg, &before), VAS_STATUS_SUCCESS);
        CHECK(vas_empty_working_set(e.a));
        vas_process_counters c;
        CHECK(vas_process_get_counters(e.a, &c));
        CHECK(c.working_set_size >= 2 * pg);
        CHECK_EQ(vas_virtual_to_physical(e.a, buffer + pg, &after), VAS_STATUS_SUCCESS);
        CHECK_EQ(after, before);
        /* A lets the buffer go: the pages stay valid behind the system address. */
        CHECK(vas_virtual_free(e.a, buffer, 0, VAS_MEM_RELEASE));
        CHECK_EQ(vas_check(e.m), 0);
        CHECK_EQ(vas_kernel_read(e.m, NULL, sys + pg - 8, got, sizeof got, &ex), VAS_STATUS_SUCCESS);
        CHECK(memcmp(got, done, sizeof got) == 0);
        vas_physical_status before_unlock, after_unlock;
        vas_get_physical_status(e.m, &before_unlock);
        vas_mm_unlock_pages(mdl);
        vas_get_physical_status(e.m, &after_unlock);
        CHECK_EQ(before_unlock.active - after_unlock.active, 3); /* 2 pages from offset 16 span 3 */
        CHECK_EQ(vas_kernel_read(e.m, NULL, sys, got, 1, &ex), VAS_STATUS_ACCESS_VIOLATION);
        vas_io_free_mdl(mdl);
        /* A lock for a read of a read-only page works; for a write it raises, locking nothing. */
        uint64_t ro = vas_virtual_alloc(e.a, 0, pg, VAS_MEM_COMMIT | VAS_MEM_RESERVE, VAS_PAGE_READONLY);
        vas_mdl *r = vas_io_allocate_mdl(e.a, ro, pg);
        CHECK_EQ(vas_mm_probe_and_lock_pages(r, VAS_EXCEPTION_WRITE_FAULT, &ex), VAS_STATUS_ACCESS_VIOLATION);
        CHECK_EQ(ex.access, VAS_EXCEPTION_WRITE_FAULT);
        CHECK(vas_mm_get_system_address_for_mdl_safe(r) == 0); /* not locked */
        CHECK_EQ(vas_mm_probe_and_lock_pages(r, VAS_EXCEPTION_READ_FAULT, &ex), VAS_STATUS_SUCCESS);
        uint64_t rs = vas_mm_get_system_address_for_mdl_safe(r);
        CHECK(rs != 0);
        CHECK_EQ(vas_kernel_write(e.m, NULL, rs, done, 4, &ex), VAS_STATUS_ACCESS_VIOLATION);
        /* The process dies with the pages locked: they stay until the unlock. */
        vas_process_destroy(e.a);
        e.a = NULL;
        CHECK_EQ(vas_check(e.m), 0);
        CHECK_EQ(vas_kernel_read(e.m, NULL, rs, got, 4, &ex), VAS_STATUS_SUCCESS);
        vas_io_free_mdl(r); /* unlocks and frees */
        CHECK_EQ(vas_check(e.m), 0);
        /* Bad handles and arguments. */
        CHECK(vas_io_allocate_mdl(e.b, buffer, 0) == NULL);
        CHECK_EQ(vas_mm_probe_and_lock_pages(NULL, VAS_EXCEPTION_READ_FAULT, &ex), VAS_STATUS_INVALID_HANDLE);
        CHECK(vas_mm_get_system_address_for_mdl_safe(NULL) == 0);
        vas_mm_unlock_pages(NULL);
        vas_io_free_mdl(NULL);
        env_close(&e);
    }
}

static void test_driver_attach(void)
{
    for (size_t k = 0; k < LAYOUT_COUNT; k++) {
        const layout_case *lc = &LAYOUTS[k];
        case_begin(lc->label);
        env e = env_open(lc);
        uint64_t pg = e.page;
        uint64_t request = vas_virtual_alloc(e.a, 0, pg, VAS_MEM_COMMIT | VAS_MEM_RESERVE, VAS_PAGE_READWRITE);
        CHECK_EQ(vas_virtual_alloc(e.b, request, pg, VAS_MEM_COMMIT | VAS_MEM_RESERVE, VAS_PAGE_READWRITE), request);
        uint8_t a_bytes[32], b_bytes[32], done[32], got[32];
        memset(a_bytes, 'a', sizeof a_bytes);
        memset(b_bytes, 'b', sizeof b_bytes);
        memset(done, 'd', sizeof done);
        vas_exception ex;
        CHECK_EQ(vas_write(e.a, request + 8, a_bytes, sizeof a_bytes, &ex), VAS_STATUS_SUCCESS);
        CHECK_EQ(vas_write(e.b, request + 8, b_bytes, sizeof b_bytes, &ex), VAS_STATUS_SUCCESS);

        vas_process *current = e.b; /* the completion runs in B's thread */
        vas_apc_state state;
        vas_ke_stack_attach_process(&current, e.a, &state);
        CHECK(current == e.a);
        CHECK(state.previous == e.b);
        CHECK_EQ(vas_kernel_write(e.m, current, request + 8, done, sizeof done, &ex), VAS_STATUS_SUCCESS);
        /* nested: attach to C and back */
        vas_process *c = process_for(e.m, lc, "c.exe");
        vas_apc_state inner;
        vas_ke_stack_attach_process(&current, c, &inner);
        CHECK(current == c);
        CHECK(inner.previous == e.a);
        CHECK_EQ(vas_kernel_write(e.m, current, request + 8, done, sizeof done, &ex), VAS_STATUS_ACCESS_VIOLATION);
        vas_ke_unstack_detach_process(&current, &inner);
        CHECK(current == e.a);
        vas_ke_unstack_detach_process(&current, &state);
        CHECK(current == e.b);

        CHECK_EQ(vas_read(e.a, request + 8, got, sizeof got, &ex), VAS_STATUS_SUCCESS);
        CHECK(memcmp(got, done, sizeof got) == 0);
        CHECK_EQ(vas_read(e.b, request + 8, got, sizeof got, &ex), VAS_STATUS_SUCCESS);
        CHECK(memcmp(got, b_bytes, sizeof got) == 0);
        /* With B current again, the same address is B's. */
        CHECK_EQ(vas_kernel_read(e.m, current, request + 8, got, sizeof got, &ex), VAS_STATUS_SUCCESS);
        CHECK(memcmp(got, b_bytes, sizeof got) == 0);
        /* Attaching from no process at all (a system thread) and back to none. */
        vas_process *none = NULL;
        vas_ke_stack_attach_process(&none, e.a, &state);
        CHECK(none == e.a);
        CHECK_EQ(vas_kernel_read(e.m, none, request + 8, got, sizeof got, &ex), VAS_STATUS_SUCCESS);
        CHECK(memcmp(got, done, sizeof got) == 0);
        vas_ke_unstack_detach_process(&none, &state);
        CHECK(none == NULL);
        /* NULL arguments are ignored. */
        vas_ke_stack_attach_process(NULL, e.a, &state);
        vas_ke_unstack_detach_process(NULL, &state);
        current = e.b;
        vas_ke_stack_attach_process(&current, e.a, NULL);
        CHECK(current == e.b);
        env_close(&e);
        case_end();
    }
}

/* ==== 4. ProbeForRead / ProbeForWrite ============================================================ */

/* The layouts probed: NT ones (ProbeForRead/Write are NT kernel routines). */
static const size_t PROBE_LAYOUTS[] = {0, 1, 2, 3, 4};

/* MmUserProbeAddress as the process reports its partitions: the highest user address + 1,
   where the 64 KB off-limits block starts. */
static uint64_t probe_limit_of(vas_process *p)
{
    vas_system_info si;
    vas_get_system_info(p, &si);
    vas_partition user = {0}, off = {0};
    CHECK(partition_of(p, VAS_PARTITION_USER, &user));
    CHECK(partition_of(p, VAS_PARTITION_OFF_LIMITS, &off));
    CHECK_EQ(user.last, si.maximum_application_address);
    CHECK_EQ(off.first, user.last + 1);
    return si.maximum_application_address + 1;
}

static void test_probe_length_zero_and_alignment(void)
{
    for (size_t pi = 0; pi < sizeof PROBE_LAYOUTS / sizeof PROBE_LAYOUTS[0]; pi++) {
        const layout_case *lc = &LAYOUTS[PROBE_LAYOUTS[pi]];
        case_begin(lc->label);
        env e = env_open(lc);
        uint64_t limit = probe_limit_of(e.a);
        vas_exception ex;
        /* Length 0: nothing, wherever, however misaligned. */
        uint64_t anywhere[] = {0, 1, 0x10001, limit, limit + 3, e.srs, e.srs + 1, UINT64_MAX};
        for (size_t i = 0; i < sizeof anywhere / sizeof anywhere[0]; i++) {
            memset(&ex, 0xCC, sizeof ex);
            CHECK_EQ(vas_probe_for_read(e.a, anywhere[i], 0, 4, &ex), VAS_STATUS_SUCCESS);
            CHECK_EQ(ex.code, VAS_STATUS_SUCCESS);
            memset(&ex, 0xCC, sizeof ex);
            CHECK_EQ(vas_probe_for_write(e.a, anywhere[i], 0, 8, &ex), VAS_STATUS_SUCCESS);
            CHECK_EQ(ex.code, VAS_STATUS_SUCCESS);
            CHECK_EQ(vas_probe_for_write(e.a, anywhere[i], 0, 1, NULL), VAS_STATUS_SUCCESS);
        }
        /* Misalignment, checked before the range (even beyond the limit). */
        struct { uint64_t address; uint32_t alignment; } mis[] = {
            {0x10001, 2}, {0x10002, 4}, {0x10004, 8}, {0x10008, 16}, {limit + 2, 4}, {e.srs + 1, 2}};
        for (size_t i = 0; i < sizeof mis / sizeof mis[0]; i++) {
            memset(&ex, 0, sizeof ex);
            CHECK_EQ(vas_probe_for_read(e.a, mis[i].address, 4, mis[i].alignment, &ex),
                     VAS_STATUS_DATATYPE_MISALIGNMENT);
            CHECK_EQ(ex.code, VAS_STATUS_DATATYPE_MISALIGNMENT);
            memset(&ex, 0, sizeof ex);
            CHECK_EQ(vas_probe_for_write(e.a, mis[i].address, 4, mis[i].alignment, &ex),
                     VAS_STATUS_DATATYPE_MISALIGNMENT);
            CHECK_EQ(ex.code, VAS_STATUS_DATATYPE_MISALIGNMENT);
        }
        /* Every valid alignment at an address aligned for all of them. */
        uint32_t good[] = {1, 2, 4, 8, 16};
        for (size_t i = 0; i < 5; i++)
            CHECK_EQ(vas_probe_for_read(e.a, 0x20000, 64, good[i], &ex), VAS_STATUS_SUCCESS);
        /* Length 0 is nothing, whatever the alignment (vas.h: "nothing for length 0"; Windows
           only asserts the alignment, in checked builds). */
        uint32_t odd[] = {0, 3, 32};
        for (size_t i = 0; i < 3; i++) {
            CHECK_EQ(vas_probe_for_read(e.a, 0x20000, 0, odd[i], &ex), VAS_STATUS_SUCCESS);
            CHECK_EQ(vas_probe_for_write(e.a, 0x20000, 0, odd[i], &ex), VAS_STATUS_SUCCESS);
        }
        /* Invalid alignments. */
        uint32_t bad[] = {0, 3, 32, 6, 64, 0x80000000u};
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            memset(&ex, 0, sizeof ex);
            CHECK_EQ(vas_probe_for_read(e.a, 0x20000, 4, bad[i], &ex), VAS_STATUS_INVALID_PARAMETER);
            CHECK_EQ(ex.code, VAS_STATUS_INVALID_PARAMETER);
            CHECK_EQ(vas_probe_for_write(e.a, 0x20000, 4, bad[i], &ex), VAS_STATUS_INVALID_PARAMETER);
        }
        env_close(&e);
        case_end();
    }
}

/* The range check: ranges ending at or below MmUserProbeAddress pass ProbeForRead whatever is
   mapped there (it touches nothing); one byte more, a range starting at or above it, a kernel
   range, a wrapping range: STATUS_ACCESS_VIOLATION, and ProbeForWrite touches nothing then. */
static void test_probe_limits(void)
{
    static const uint64_t expected_limits[] = {0x00007FFFFFFF0000ull, 0x000007FFFFFF0000ull, 0x7FFF0000ull,
                                               0xBFFF0000ull, 0x000006FBFFFF0000ull};
    for (size_t pi = 0; pi < sizeof PROBE_LAYOUTS / sizeof PROBE_LAYOUTS[0]; pi++) {
        const layout_case *lc = &LAYOUTS[PROBE_LAYOUTS[pi]];
        case_begin(lc->label);
        env e = env_open(lc);
        uint64_t limit = probe_limit_of(e.a), pg = e.page;
        CHECK_EQ(limit, expected_limits[pi]);
        vas_exception ex;
        /* Up to the limit: fine (ProbeForRead checks the range only). */
        CHECK_EQ(vas_probe_for_read(e.a, limit - 4, 4, 4, &ex), VAS_STATUS_SUCCESS);
        CHECK_EQ(vas_probe_for_read(e.a, limit - 0x10000, 0x10000, 1, &ex), VAS_STATUS_SUCCESS);
        CHECK_EQ(vas_probe_for_read(e.a, 0, 1, 1, &ex), VAS_STATUS_SUCCESS); /* even NULL */
        CHECK_EQ(vas_probe_for_read(e.a, 0, limit, 1, &ex), VAS_STATUS_SUCCESS);
        CHECK_EQ(vas_probe_for_read(e.a, 0x7FFE0000ull, 0x3B8, 4, &ex), VAS_STATUS_SUCCESS); /* KUSER_SHARED_DATA */
        /* Past it. */
        struct { uint64_t address, length; } past[] = {
            {limit - 4, 5}, {limit - 1, 2}, {limit, 1}, {limit, pg}, {0, limit + 1}, {e.srs, 4},
            {e.srs - 4, 8}, {UINT64_MAX - 3, 4}, {0x10000, UINT64_MAX}, {limit - 8, UINT64_MAX - 16}};
        for (size_t i = 0; i < sizeof past / sizeof past[0]; i++) {
            memset(&ex, 0, sizeof ex);
            CHECK_EQ(vas_probe_for_read(e.a, past[i].address, past[i].length, 1, &ex), VAS_STATUS_ACCESS_VIOLATION);
            CHECK_EQ(ex.code, VAS_STATUS_ACCESS_VIOLATION);
            memset(&ex, 0, sizeof ex);
            CHECK_EQ(vas_probe_for_write(e.a, past[i].address, past[i].length, 1, &ex), VAS_STATUS_ACCESS_VIOLATION);
            CHECK_EQ(ex.code, VAS_STATUS_ACCESS_VIOLATION);
        }
        /* ProbeForWrite of a committed range running past the limit touches none of it. */
        uint64_t user = vas_virtual_alloc(e.a, 0, 2 * pg, VAS_MEM_COMMIT | VAS_MEM_RESERVE, VAS_PAGE_READWRITE);
        CHECK(user != 0);
        vas_process_counters before = counters_of(e.a);
        CHECK_EQ(vas_probe_for_write(e.a, user, limit - user + 1, 1, &ex), VAS_STATUS_ACCESS_VIOLATION);
        vas_process_counters after = counters_of(e.a);
        CHECK_EQ(after.working_set_size, before.working_set_size);
        uint64_t physical;
        CHECK_EQ(vas_virtual_to_physical(e.a, user, &physical), VAS_STATUS_INVALID_ADDRESS);
        /* ProbeForRead of a committed, free or reserved range below the limit: fine, nothing
           touched. */
        CHECK_EQ(vas_probe_for_read(e.a, user, 2 * pg, 1, &ex), VAS_STATUS_SUCCESS);
        CHECK_EQ(vas_virtual_to_physical(e.a, user, &physical), VAS_STATUS_INVALID_ADDRESS);
        CHECK_EQ(vas_probe_for_read(e.a, 0x10000000ull, 16 * pg, 1, &ex), VAS_STATUS_SUCCESS);
        /* A NULL process. */
        CHECK(vas_probe_for_read(NULL, user, 4, 4, &ex) != VAS_STATUS_SUCCESS);
        env_close(&e);
        case_end();
    }
}

/* ProbeForWrite touches each page for writing, in order: never-touched committed pages come in
   (resident, zero); read-only, no-access, reserved and free pages raise an access violation;
   guard pages raise STATUS_GUARD_PAGE_VIOLATION and lose their guard. */
static void test_probe_for_write_pages(void)
{
    for (size_t pi = 0; pi < sizeof PROBE_LAYOUTS / sizeof PROBE_LAYOUTS[0]; pi++) {
        const layout_case *lc = &LAYOUTS[PROBE_LAYOUTS[pi]];
        case_begin(lc->label);
        env e = env_open(lc);
        uint64_t pg = e.page, physical;
        vas_exception ex;
        /* Committed, never touched. */
        uint64_t fresh = vas_virtual_alloc(e.a, 0, 4 * pg, VAS_MEM_COMMIT | VAS_MEM_RESERVE, VAS_PAGE_READWRITE);
        CHECK(fresh != 0);
        for (int i = 0; i < 4; i++)
            CHECK_EQ(vas_virtual_to_physical(e.a, fresh + (uint64_t)i * pg, &physical), VAS_STATUS_INVALID_ADDRESS);
        vas_process_counters before = counters_of(e.a);
        CHECK_EQ(vas_probe_for_write(e.a, fresh + 16, 2 * pg, 8, &ex), VAS_STATUS_SUCCESS); /* pages 0..2 */
        CHECK_EQ(ex.code, VAS_STATUS_SUCCESS);
        vas_process_counters after = counters_of(e.a);
        for (int i = 0; i < 3; i++)
            CHECK_EQ(vas_virtual_to_physical(e.a, fresh + (uint64_t)i * pg, &physical), VAS_STATUS_SUCCESS);
        CHECK_EQ(vas_virtual_to_physical(e.a, fresh + 3 * pg, &physical), VAS_STATUS_INVALID_ADDRESS);
        CHECK_EQ(after.working_set_size - before.working_set_size, 3 * pg);
        uint8_t got[16];
        CHECK_EQ(vas_read(e.a, fresh + 16, got, sizeof got, &ex), VAS_STATUS_SUCCESS);
        CHECK_EQ(got[0] | got[15], 0);
        /* ProbeForRead brings nothing in. */
        CHECK_EQ(vas_probe_for_read(e.a, fresh + 3 * pg, pg, 1, &ex), VAS_STATUS_SUCCESS);
        CHECK_EQ(vas_virtual_to_physical(e.a, fresh + 3 * pg, &physical), VAS_STATUS_INVALID_ADDRESS);

        /* Read-only: the write kind, at the address itself for the first page ... */
        uint64_t ro = vas_virtual_alloc(e.a, 0, 2 * pg, VAS_MEM_COMMIT | VAS_MEM_RESERVE, VAS_PAGE_READWRITE);
        CHECK(ro != 0);
        uint32_t old;
        CHECK(vas_virtual_protect(e.a, ro + pg, pg, VAS_PAGE_READONLY, &old));
        memset(&ex, 0, sizeof ex);
        CHECK_EQ(vas_probe_for_write(e.a, ro + pg + 8, 8, 8, &ex), VAS_STATUS_ACCESS_VIOLATION);
        CHECK_EXCEPTION(ex, VAS_STATUS_ACCESS_VIOLATION, VAS_EXCEPTION_WRITE_FAULT, ro + pg + 8);
        /* ... at the page's start for a later page, the pages before it touched already. */
        memset(&ex, 0, sizeof ex);
        CHECK_EQ(vas_probe_for_write(e.a, ro + pg - 8, 16, 8, &ex), VAS_STATUS_ACCESS_VIOLATION);
        CHECK_EXCEPTION(ex, VAS_STATUS_ACCESS_VIOLATION, VAS_EXCEPTION_WRITE_FAULT, ro + pg);
        CHECK_EQ(vas_virtual_to_physical(e.a, ro, &physical), VAS_STATUS_SUCCESS);
        /* Execute-read, no-access. */
        uint64_t xr = vas_virtual_alloc(e.a, 0, pg, VAS_MEM_COMMIT | VAS_MEM_RESERVE, VAS_PAGE_EXECUTE_READ);
        CHECK_EQ(vas_probe_for_write(e.a, xr, 4, 4, &ex), VAS_STATUS_ACCESS_VIOLATION);
        CHECK_EXCEPTION(ex, VAS_STATUS_ACCESS_VIOLATION, VAS_EXCEPTION_WRITE_FAULT, xr);
        uint64_t na = vas_virtual_alloc(e.a, 0, pg, VAS_MEM_COMMIT | VAS_MEM_RESERVE, VAS_PAGE_NOACCESS);
        CHECK_EQ(vas_probe_for_write(e.a, na + 4, 4, 4, &ex), VAS_STATUS_ACCESS_VIOLATION);
        CHECK_EQ(ex.address, na + 4);
        CHECK_EQ(ex.access, VAS_EXCEPTION_READ_FAULT); /* the read of the byte comes first */
        /* Reserved and free pages. */
        uint64_t rs = vas_virtual_alloc(e.a, 0, pg, VAS_MEM_RESERVE, VAS_PAGE_READWRITE);
        CHECK_EQ(vas_probe_for_write(e.a, rs, 4, 4, &ex), VAS_STATUS_ACCESS_VIOLATION);
        CHECK_EQ(ex.address, rs);
        uint64_t fr = vas_virtual_alloc(e.a, 0, pg, VAS_MEM_RESERVE, VAS_PAGE_READWRITE);
        CHECK(fr && vas_virtual_free(e.a, fr, 0, VAS_MEM_RELEASE)); /* now free */
        CHECK_EQ(vas_probe_for_write(e.a, fr + 12, 4, 4, &ex), VAS_STATUS_ACCESS_VIOLATION);
        CHECK_EQ(ex.address, fr + 12);
        /* ProbeForRead of all of these is fine. */
        CHECK_EQ(vas_probe_for_read(e.a, na, pg, 1, &ex), VAS_STATUS_SUCCESS);
        CHECK_EQ(vas_probe_for_read(e.a, rs, pg, 1, &ex), VAS_STATUS_SUCCESS);

        /* Guard pages: the guard goes with the exception; the next probe passes. */
        uint64_t gd = vas_virtual_alloc(e.a, 0, 2 * pg, VAS_MEM_COMMIT | VAS_MEM_RESERVE,
                                        VAS_PAGE_READWRITE | VAS_PAGE_GUARD);
        CHECK(gd != 0);
        memset(&ex, 0, sizeof ex);
        CHECK_EQ(vas_probe_for_write(e.a, gd + 8, 8, 8, &ex), VAS_STATUS_GUARD_PAGE_VIOLATION);
        CHECK_EQ(ex.code, VAS_STATUS_GUARD_PAGE_VIOLATION);
        CHECK_EQ(ex.address, gd + 8);
        vas_memory_basic_information mbi = vq(e.a, gd);
        CHECK_EQ(mbi.protect, VAS_PAGE_READWRITE);
        CHECK_EQ(mbi.region_size, pg);
        CHECK_EQ(vq(e.a, gd + pg).protect, VAS_PAGE_READWRITE | VAS_PAGE_GUARD);
        CHECK_EQ(vas_probe_for_write(e.a, gd + 8, 8, 8, &ex), VAS_STATUS_SUCCESS);
        /* a range into the second guard page: the first page passes, the second raises */
        memset(&ex, 0, sizeof ex);
        CHECK_EQ(vas_probe_for_write(e.a, gd, pg + 8, 8, &ex), VAS_STATUS_GUARD_PAGE_VIOLATION);
        CHECK_EQ(ex.address, gd + pg);
        CHECK_EQ(vq(e.a, gd + pg).protect, VAS_PAGE_READWRITE);
        CHECK_EQ(vas_probe_for_write(e.a, gd, 2 * pg, 8, &ex), VAS_STATUS_SUCCESS);
        /* ProbeForRead does not touch a guard page. */
        uint64_t gd2 = vas_virtual_alloc(e.a, 0, pg, VAS_MEM_COMMIT | VAS_MEM_RESERVE,
                                         VAS_PAGE_READWRITE | VAS_PAGE_GUARD);
        CHECK_EQ(vas_probe_for_read(e.a, gd2, pg, 1, &ex), VAS_STATUS_SUCCESS);
        CHECK_EQ(vq(e.a, gd2).protect, VAS_PAGE_READWRITE | VAS_PAGE_GUARD);
        /* ProbeForWrite keeps the bytes. */
        uint8_t bytes[8] = {1, 2, 3, 4, 5, 6, 7, 8};
        CHECK_EQ(vas_write(e.a, fresh + 3 * pg + 100, bytes, 8, &ex), VAS_STATUS_SUCCESS);
        CHECK_EQ(vas_probe_for_write(e.a, fresh + 3 * pg + 100, 8, 4, &ex), VAS_STATUS_SUCCESS);
        CHECK_EQ(vas_read(e.a, fresh + 3 * pg + 100, got, 8, &ex), VAS_STATUS_SUCCESS);
        CHECK(memcmp(got, bytes, 8) == 0);
        env_close(&e);
        case_end();
    }
}

static const check_test tests[] = {
    TEST(test_system_range_start),
    TEST(test_system_pages_same_in_every_process),
    TEST(test_user_mode_denied),
    TEST(test_kernel_faults),
    TEST(test_kernel_access_straddles),
    TEST(test_pool_headers),
    TEST(test_pool_big_blocks),
    TEST(test_pool_adjacent_and_reuse),
    TEST(test_pool_commit_charge),
    TEST(test_pool_frees_give_ram_back),
    TEST(test_pool_tags_model),
    TEST(test_pool_bad_frees),
    TEST(test_pool_bad_allocs),
    TEST(test_pool_pressure),
    TEST(test_driver_wrong_way),
    TEST(test_driver_attach),
    TEST(test_driver_mdl),
    TEST(test_probe_length_zero_and_alignment),
    TEST(test_probe_limits),
    TEST(test_probe_for_write_pages),
};

CHECK_MAIN(tests)
