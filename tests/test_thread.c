/*
 * test_thread.c - threads, their stacks and TEBs, and the PEB, black-box through vas.h: on x64,
 * x86 (also 3 GB user space with a large-address-aware process), WOW64 (32-bit processes on x64,
 * also large-address-aware) and IA-64 (8 KB pages).
 *
 *   test_thread [test]
 *
 * Where the expectations come from:
 *   - the stack's layout (nt-memory-manager.md "Stack guard-page growth" and "Numbers to
 *     honour"; windows-behavior.md facts 52 and 55; kernel32's BaseCreateStack): the reserve is
 *     rounded up to 64 KB and the commit to pages; when a commit is given and is at least the
 *     reserve, the reserve becomes the commit rounded up to 1 MB; the top `commit` bytes are
 *     committed PAGE_READWRITE and, when the reserve has room for it, one more page below them
 *     is committed PAGE_READWRITE|PAGE_GUARD. BaseCreateStack has no other cap: when the commit
 *     fills the whole reserve there is no guard page at all, and when it leaves exactly one page
 *     the guard is the bottom page (test_stack_commit_fills_the_reserve pins both);
 *     NT_TIB.StackBase is the top of the reservation, StackLimit the lowest committed page
 *     that is not the guard, DeallocationStack the reservation's base;
 *   - defaults: 1 MB reserve / 4 KB commit on x86 and x64, 4 MB / 16 KB on IA-64 ("Numbers to
 *     honour"); an image's SizeOfStackReserve / SizeOfStackCommit when the process has one,
 *     and at least 256 KB of reserve for an executable's first thread (kernel32's CreateProcess
 *     passes max(SizeOfStackReserve, 256 KB) to BaseCreateStack; CreateThread does not);
 *   - growth (MiCheckForUserStackOverflow): a touch of the guard page commits it, the page below
 *     becomes the new guard, StackLimit becomes the touched page and the access goes on with no
 *     exception. When the new guard would be the bottom page or the one above it (the page below
 *     the touched one, less one more page, is at or below DeallocationStack), the page just above
 *     the bottom one is committed PAGE_READWRITE without a guard, StackLimit becomes that page,
 *     and the access raises STATUS_STACK_OVERFLOW (0xC00000FD) without being performed. The
 *     bottom page is never committed (unless BaseCreateStack put the guard there itself). A touch of a reserved stack page below the guard is a
 *     plain access violation: only the guard page grows the stack;
 *   - the PEB and TEBs (MiCreatePebOrTeb, checklist 54): private, committed PAGE_READWRITE,
 *     secured (no VirtualProtect, no VirtualFree), page granular, top-down below the highest
 *     address an allocation may reach (the highest user address less 64 KB) - for 32-bit
 *     processes below KUSER_SHARED_DATA (0x7FFE0000; for the x86 3 GB layout the top of the
 *     3 GB is accepted too, as MM_HIGHEST_VAD_ADDRESS would give); the PEB with random_seed 0 takes the top
 *     page there (x86: PEB 0x7FFDF000, first TEB 0x7FFDE000), with a seed one of the 16 pages
 *     of that 64 KB window; TEBs take the next free pages top-down. NT_TIB in the TEB:
 *     64-bit ExceptionList +0x00, StackBase +0x08, StackLimit +0x10, Self +0x30,
 *     ClientId.UniqueThread +0x48, ProcessEnvironmentBlock +0x60, DeallocationStack +0x1478;
 *     32-bit +0x00, +0x04, +0x08, +0x18, +0x24, +0x30, DeallocationStack +0xE0C. A WOW64
 *     thread's TEB seen by its 32-bit code is the 32-bit one (32-bit layout at info.teb);
 *   - sizes Windows gives the TEB allocation (test_teb_allocation_size, kept apart because it
 *     is a detail): x64 2 pages (sizeof(TEB) 0x1838), x86 1 page, IA-64 one 8 KB page, WOW64
 *     3 pages (the 64-bit TEB, then the 32-bit TEB at +0x2000, which info.teb names);
 *   - a NULL out pointer: ERROR_NOACCESS (998), as a system call meets it;
 *   - bad sizes (NtAllocateVirtualMemory under BaseCreateStack): a reserve no address space
 *     holds (more than the highest allocation address less the lowest, or one that overflows
 *     when rounded) is STATUS_INVALID_PARAMETER_4, ERROR_INVALID_PARAMETER (87); a reserve that
 *     would fit an empty address space but finds no free range is STATUS_NO_MEMORY,
 *     ERROR_NOT_ENOUGH_MEMORY (8); every failure changes nothing;
 *   - commit charge: a thread charges its TEB's pages and its stack's committed pages (the
 *     guard page included, being committed), each growth one page more; an exit or the
 *     process's end gives it all back.
 * Processes made from an image use a tiny PE32/PE32+ file this test writes into a temporary
 * directory (removed at the end).
 */
#include "facts.h"

#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

#define KiB (1ull << 10)
#define MiB (1ull << 20)
#define KUSER 0x7FFE0000ull

/* ---- Architectures -------------------------------------------------------------------------- */

typedef struct arch {
    const char *name;
    const char *layout;
    uint32_t increase_user_va_mb;
    int bits, laa;
    bool wide;                   /* 64-bit TEB layout */
    uint64_t page;
    uint64_t reserve, commit;    /* the defaults of a process without an image */
    uint64_t teb_pages;          /* what Windows allocates for a TEB */
    uint64_t teb_offset;         /* where info.teb lies in that allocation */
} arch;

static const arch arches[] = {
    {"x64", "x64", 0, 0, 0, true, 0x1000, 1 * MiB, 4 * KiB, 2, 0},
    {"x86", "x86", 0, 0, 0, false, 0x1000, 1 * MiB, 4 * KiB, 1, 0},
    {"x86 3 GB large-address-aware", "x86", 3072, 0, 1, false, 0x1000, 1 * MiB, 4 * KiB, 1, 0},
    {"WOW64", "x64", 0, 32, 0, false, 0x1000, 1 * MiB, 4 * KiB, 3, 0x2000},
    {"WOW64 large-address-aware", "x64", 0, 32, 1, false, 0x1000, 1 * MiB, 4 * KiB, 3, 0x2000},
    {"ia64", "ia64", 0, 0, 0, true, 0x2000, 4 * MiB, 16 * KiB, 1, 0},
};
#define ARCHES (sizeof arches / sizeof arches[0])

typedef struct env {
    fx f;
    const arch *a;
    uint64_t page;
    uint64_t lowest, highest;    /* minimum and maximum application addresses */
    uint64_t bound;              /* the end of the PEB/TEB window */
    uint64_t bound_alt;          /* another bound Windows may use (x86 3 GB: below the top too) */
} env;

static env env_open_with(const arch *a, const vas_process_config *given)
{
    env e;
    memset(&e, 0, sizeof e);
    vas_machine_config mc = {0};
    mc.layout = a->layout;
    mc.increase_user_va_mb = a->increase_user_va_mb;
    mc.ram_bytes = 64 * MiB;
    vas_process_config pc = given ? *given : (vas_process_config){0};
    pc.bits = a->bits;
    pc.large_address_aware = a->laa;
    e.f = fx_open_with(&mc, &pc);
    e.a = a;
    vas_system_info si;
    vas_get_system_info(e.f.p, &si);
    e.page = si.page_size;
    e.lowest = si.minimum_application_address;
    e.highest = si.maximum_application_address;
    CHECK_EQ(e.page, a->page);
    uint64_t top = e.highest + 1 - GRAN; /* the highest VAD address + 1 */
    e.bound = vas_process_bits(e.f.p) == 32 ? (top < KUSER ? top : KUSER) : top;
    e.bound_alt = top;
    return e;
}

static env env_open(const arch *a) { return env_open_with(a, NULL); }
static void env_close(env *e) { fx_close(&e->f); }

/* A pointer-sized field of the TEB (or anything) read as the process's code would. */
static uint64_t read_ptr(const env *e, uint64_t address, bool wide)
{
    uint8_t b[8] = {0};
    vas_exception x;
    uint32_t status = vas_read(e->f.p, address, b, wide ? 8 : 4, &x);
    if (status) {
        fprintf(stderr, "%s: reading 0x%" PRIx64 " gave 0x%x\n", e->a->name, address, status);
        check_failures_in_test++;
        return 0xBAD0BAD0BAD0BAD0ull;
    }
    uint64_t v = 0;
    for (int i = (wide ? 8 : 4) - 1; i >= 0; i--)
        v = v << 8 | b[i];
    return v;
}

static vas_thread_info new_thread(const env *e, uint64_t reserve, uint64_t commit)
{
    vas_thread_info info;
    memset(&info, 0xCC, sizeof info);
    vas_set_last_error(0xDEADBEEFu);
    if (!vas_thread_create(e->f.p, reserve, commit, &info)) {
        fprintf(stderr, "%s: vas_thread_create(0x%" PRIx64 ", 0x%" PRIx64 ") failed, error %u\n", e->a->name,
                reserve, commit, vas_last_error());
        check_failures_in_test++;
        memset(&info, 0, sizeof info);
    }
    return info;
}

static vas_thread_info info_of(const env *e, uint32_t id)
{
    vas_thread_info info;
    memset(&info, 0xCC, sizeof info);
    if (!vas_thread_get_info(e->f.p, id, &info)) {
        fprintf(stderr, "%s: vas_thread_get_info(%u) failed, error %u\n", e->a->name, id, vas_last_error());
        check_failures_in_test++;
    }
    return info;
}

static vas_process_info process_info(const env *e)
{
    vas_process_info pi;
    memset(&pi, 0xCC, sizeof pi);
    CHECK(vas_process_get_info(e->f.p, &pi));
    return pi;
}

/* The allocation holding address: its base and size (a VirtualQuery walk of it). */
static void allocation_of(const env *e, uint64_t address, uint64_t *base, uint64_t *size)
{
    vas_memory_basic_information m = vq(e->f.p, address);
    *base = m.allocation_base;
    uint64_t at = m.allocation_base, end = at;
    for (;;) {
        vas_memory_basic_information r;
        if (vas_virtual_query(e->f.p, at, &r, sizeof r) != sizeof r || r.allocation_base != *base ||
            r.state == VAS_MEM_FREE)
            break;
        end = r.base_address + r.region_size;
        at = end;
    }
    *size = end - *base;
}

#define NAMED(e, what) fprintf(stderr, "  (%s: %s)\n", (e)->a->name, what)

/* A failing check inside a loop over architectures names the architecture. */
#define CHECK_EQ_A(e, actual, expected)                                                       \
    do {                                                                                      \
        int before_ = check_failures_in_test;                                                 \
        CHECK_EQ(actual, expected);                                                           \
        if (check_failures_in_test != before_)                                                \
            NAMED(e, "");                                                                     \
    } while (0)

/* The stack right after creation: reserve R (a multiple of 64 KB), the top C bytes committed
   PAGE_READWRITE, one PAGE_READWRITE|PAGE_GUARD page below them, the rest reserved. */
static void check_fresh_stack(const env *e, const vas_thread_info *t, uint64_t reserve, uint64_t commit)
{
    uint64_t P = e->page, B = t->deallocation_stack, T = t->stack_base;
    int before = check_failures_in_test;
    CHECK_EQ(B % GRAN, 0);
    CHECK_EQ(T - B, reserve);
    CHECK_EQ(t->stack_limit, T - commit);
    if (reserve > commit + P)
        CHECK_MBI(vq(e->f.p, B), B, B, VAS_PAGE_READWRITE, reserve - commit - P, VAS_MEM_RESERVE, 0,
                  VAS_MEM_PRIVATE);
    CHECK_MBI(vq(e->f.p, T - commit - P), T - commit - P, B, VAS_PAGE_READWRITE, P, VAS_MEM_COMMIT,
              VAS_PAGE_READWRITE | VAS_PAGE_GUARD, VAS_MEM_PRIVATE);
    CHECK_MBI(vq(e->f.p, T - commit), T - commit, B, VAS_PAGE_READWRITE, commit, VAS_MEM_COMMIT,
              VAS_PAGE_READWRITE, VAS_MEM_PRIVATE);
    CHECK(vq(e->f.p, T).allocation_base != B); /* the reservation ends at StackBase */
    if (check_failures_in_test != before)
        fprintf(stderr, "  (%s: stack reserve 0x%" PRIx64 " commit 0x%" PRIx64 ": base 0x%" PRIx64
                        " limit 0x%" PRIx64 " deallocation 0x%" PRIx64 ")\n",
                e->a->name, reserve, commit, T, t->stack_limit, B);
}

/* NT_TIB in the TEB agrees with the thread's info. */
static void check_tib(const env *e, const vas_thread_info *t)
{
    bool w = e->a->wide;
    int before = check_failures_in_test;
    uint64_t ones = w ? UINT64_MAX : 0xFFFFFFFFull;
    uint64_t exception_list = read_ptr(e, t->teb + 0x00, w);
    CHECK(exception_list == 0 || exception_list == ones); /* no handler yet, or EXCEPTION_CHAIN_END */
    CHECK_EQ(read_ptr(e, t->teb + (w ? 0x08 : 0x04), w), t->stack_base);
    CHECK_EQ(read_ptr(e, t->teb + (w ? 0x10 : 0x08), w), t->stack_limit);
    CHECK_EQ(read_ptr(e, t->teb + (w ? 0x30 : 0x18), w), t->teb);
    CHECK_EQ(read_ptr(e, t->teb + (w ? 0x60 : 0x30), w), process_info(e).peb);
    if (check_failures_in_test != before)
        NAMED(e, "NT_TIB");
}

/* ---- The stack's layout ------------------------------------------------------------------- */

/* CreateThread with no sizes: the defaults, rounded; the first stack of an empty address space
   is its lowest 64 KB-aligned range (reservations go bottom-up, first fit: checklist 6). */
static void test_stack_layout_default(void)
{
    for (size_t i = 0; i < ARCHES; i++) {
        env e = env_open(&arches[i]);
        vas_thread_info t = new_thread(&e, 0, 0);
        CHECK(t.thread_id != 0);
        check_fresh_stack(&e, &t, e.a->reserve, e.a->commit);
        CHECK_EQ_A(&e, t.deallocation_stack, e.lowest);
        vas_thread_info again = info_of(&e, t.thread_id);
        CHECK(memcmp(&again, &t, sizeof t) == 0);
        vas_process_info pi = process_info(&e);
        CHECK_EQ_A(&e, pi.thread_count, 1);
        CHECK_EQ_A(&e, pi.image_base, 0);
        env_close(&e);
    }
}

/* Explicit sizes, rounded as BaseCreateStack rounds them. */
static void test_stack_sizes_round(void)
{
    for (size_t i = 0; i < ARCHES; i++) {
        const arch *a = &arches[i];
        uint64_t P = a->page;
        static const struct {
            uint64_t reserve, commit;
        } asks[] = {
            {0x12345, 0x1001},      /* 64 KB-rounded reserve, page-rounded commit */
            {0x10000, 0},           /* the default commit */
            {0, 0x3000},            /* the default reserve */
            {0x300000, 0x180001},   /* big ones */
            {0x10000, 0x20000},     /* commit >= reserve: reserve = commit rounded up to 1 MB */
            {0x100000, 0x100001},   /* the same, just over */
            {0, 0x480000},          /* commit >= the default reserve: rounded up to 1 MB */
            {1, 1},                 /* commit >= reserve again: 1 MB, one page */
        };
        for (size_t k = 0; k < sizeof asks / sizeof asks[0]; k++) {
            env e = env_open(a);
            uint64_t commit = asks[k].commit ? (asks[k].commit + P - 1) / P * P : a->commit;
            uint64_t reserve = asks[k].reserve ? asks[k].reserve : a->reserve;
            if (asks[k].commit && asks[k].commit >= reserve)
                reserve = (asks[k].commit + MiB - 1) / MiB * MiB;
            reserve = (reserve + GRAN - 1) / GRAN * GRAN;
            vas_thread_info t = new_thread(&e, asks[k].reserve, asks[k].commit);
            check_fresh_stack(&e, &t, reserve, commit);
            check_tib(&e, &t);
            env_close(&e);
        }
    }
}

/* BaseCreateStack puts a guard page only where the reserve has room for one: a commit that
   fills the whole reservation leaves no guard (and no growth), one that leaves one page makes
   the bottom page the guard, whose touch overflows at once. (If the library instead keeps a
   guard and a reserved bottom page in every stack, these fail: a discrepancy to report.) */
static void test_stack_commit_fills_the_reserve(void)
{
    for (size_t i = 0; i < ARCHES; i++) {
        env e = env_open(&arches[i]);
        uint64_t P = e.page;
        /* 1 MB asked for both: commit >= reserve, reserve = 1 MB rounded to 1 MB = 1 MB. */
        vas_thread_info t = new_thread(&e, MiB, MiB);
        uint64_t B = t.deallocation_stack;
        CHECK_EQ_A(&e, t.stack_base - B, MiB);
        CHECK_EQ_A(&e, t.stack_limit, B);
        CHECK_MBI(vq(e.f.p, B), B, B, VAS_PAGE_READWRITE, MiB, VAS_MEM_COMMIT, VAS_PAGE_READWRITE, VAS_MEM_PRIVATE);
        /* The reserve less one page: the guard is the bottom page. */
        vas_thread_info u = new_thread(&e, 0x20000, 0x20000 - P);
        uint64_t C = u.deallocation_stack;
        CHECK_EQ_A(&e, u.stack_base - C, 0x20000);
        CHECK_EQ_A(&e, u.stack_limit, C + P);
        CHECK_MBI(vq(e.f.p, C), C, C, VAS_PAGE_READWRITE, P, VAS_MEM_COMMIT, VAS_PAGE_READWRITE | VAS_PAGE_GUARD,
                  VAS_MEM_PRIVATE);
        uint8_t b[8] = {1, 2, 3, 4, 5, 6, 7, 8};
        vas_exception x;
        memset(&x, 0, sizeof x);
        CHECK_EQ_A(&e, vas_write(e.f.p, C + P - 8, b, 8, &x), VAS_STATUS_STACK_OVERFLOW);
        CHECK_EQ_A(&e, x.code, VAS_STATUS_STACK_OVERFLOW);
        env_close(&e);
    }
}

/* ---- The TEB -------------------------------------------------------------------------------- */

/* The TEB: private, committed, PAGE_READWRITE, secured, top-down just below the bound; its
   NT_TIB tells the stack. A process without an image has no PEB: the field is 0 there. */
static void test_teb_nt_tib(void)
{
    for (size_t i = 0; i < ARCHES; i++) {
        env e = env_open(&arches[i]);
        vas_thread_info t = new_thread(&e, 0, 0);
        vas_memory_basic_information m = vq(e.f.p, t.teb);
        CHECK_EQ_A(&e, m.state, VAS_MEM_COMMIT);
        CHECK_EQ_A(&e, m.protect, VAS_PAGE_READWRITE);
        CHECK_EQ_A(&e, m.allocation_protect, VAS_PAGE_READWRITE);
        CHECK_EQ_A(&e, m.type, VAS_MEM_PRIVATE);
        CHECK_EQ_A(&e, t.teb % e.page, 0);
        uint64_t base, size;
        allocation_of(&e, t.teb, &base, &size);
        CHECK(size >= e.page && size % e.page == 0);
        uint64_t peb = process_info(&e).peb;
        uint64_t end = peb ? peb : e.bound;
        if (base + size != end && !(peb == 0 && base + size == e.bound_alt && e.a->increase_user_va_mb)) {
            fprintf(stderr, "%s: the first TEB's allocation [0x%" PRIx64 ", 0x%" PRIx64 ") does not end at 0x%" PRIx64
                            "\n", e.a->name, base, base + size, end);
            check_failures_in_test++;
        }
        check_tib(&e, &t);
        /* Secured: no protection change, no free, no decommit; nothing changes. */
        snapshot before;
        snap_take(&e.f, &before);
        uint32_t old;
        CHECK(!vas_virtual_protect(e.f.p, t.teb, e.page, VAS_PAGE_READONLY, &old));
        CHECK(!vas_virtual_free(e.f.p, base, 0, VAS_MEM_RELEASE));
        CHECK(!vas_virtual_free(e.f.p, t.teb, e.page, VAS_MEM_DECOMMIT));
        CHECK_UNCHANGED(&e.f, &before);
        /* It is the thread's, writable by its code. */
        uint8_t b[4] = {9, 8, 7, 6}, r[4];
        CHECK_EQ_A(&e, vas_write(e.f.p, t.teb + 0x100, b, 4, NULL), 0);
        CHECK_EQ_A(&e, vas_read(e.f.p, t.teb + 0x100, r, 4, NULL), 0);
        CHECK(memcmp(b, r, 4) == 0);
        env_close(&e);
    }
}

/* More of the TEB Windows fills: ClientId.UniqueThread and DeallocationStack (which the guard
   page handler reads). */
static void test_teb_client_id_and_deallocation_stack(void)
{
    for (size_t i = 0; i < ARCHES; i++) {
        env e = env_open(&arches[i]);
        vas_thread_info t = new_thread(&e, 0, 0);
        bool w = e.a->wide;
        CHECK_EQ_A(&e, read_ptr(&e, t.teb + (w ? 0x48 : 0x24), w), t.thread_id);
        CHECK_EQ_A(&e, read_ptr(&e, t.teb + (w ? 0x1478 : 0xE0C), w), t.deallocation_stack);
        env_close(&e);
    }
}

/* The TEB allocation's size, as Windows makes it (a detail, kept apart). */
static void test_teb_allocation_size(void)
{
    for (size_t i = 0; i < ARCHES; i++) {
        env e = env_open(&arches[i]);
        vas_thread_info t = new_thread(&e, 0, 0);
        uint64_t base, size;
        allocation_of(&e, t.teb, &base, &size);
        int before = check_failures_in_test;
        CHECK_EQ(size, e.a->teb_pages * e.page);
        CHECK_EQ(t.teb - base, e.a->teb_offset);
        if (check_failures_in_test != before)
            fprintf(stderr, "  (%s: the TEB allocation is [0x%" PRIx64 ", +0x%" PRIx64 "), info.teb 0x%" PRIx64 ")\n",
                    e.a->name, base, size, t.teb);
        env_close(&e);
    }
}

/* ---- Growth ------------------------------------------------------------------------------- */

static void check_limit(const env *e, uint32_t id, uint64_t expected)
{
    vas_thread_info t = info_of(e, id);
    int before = check_failures_in_test;
    CHECK_EQ(t.stack_limit, expected);
    CHECK_EQ(read_ptr(e, t.teb + (e->a->wide ? 0x10 : 0x08), e->a->wide), expected);
    if (check_failures_in_test != before)
        NAMED(e, "StackLimit");
}

/* A write or read on the guard page: no exception, the page is committed, the guard moves one
   page down, StackLimit follows; one guard fault and one more page charged each time. */
static void test_stack_growth(void)
{
    for (size_t i = 0; i < ARCHES; i++) {
        env e = env_open(&arches[i]);
        uint64_t P = e.page;
        vas_thread_info t = new_thread(&e, 0, 0);
        uint64_t B = t.deallocation_stack, T = t.stack_base, guard = t.stack_limit - P;
        vas_process_counters c0 = counters_of(e.f.p);
        /* A push: 8 bytes at the top of the guard page. */
        uint8_t push[8] = {0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88}, r[8];
        vas_exception x;
        memset(&x, 0, sizeof x);
        CHECK_EQ_A(&e, vas_write(e.f.p, guard + P - 8, push, 8, &x), 0);
        CHECK_EQ_A(&e, vas_read(e.f.p, guard + P - 8, r, 8, &x), 0);
        CHECK(memcmp(push, r, 8) == 0);
        CHECK_MBI(vq(e.f.p, guard), guard, B, VAS_PAGE_READWRITE, T - guard, VAS_MEM_COMMIT, VAS_PAGE_READWRITE,
                  VAS_MEM_PRIVATE);
        CHECK_MBI(vq(e.f.p, guard - P), guard - P, B, VAS_PAGE_READWRITE, P, VAS_MEM_COMMIT,
                  VAS_PAGE_READWRITE | VAS_PAGE_GUARD, VAS_MEM_PRIVATE);
        CHECK_MBI(vq(e.f.p, B), B, B, VAS_PAGE_READWRITE, guard - P - B, VAS_MEM_RESERVE, 0, VAS_MEM_PRIVATE);
        check_limit(&e, t.thread_id, guard);
        vas_process_counters c1 = counters_of(e.f.p);
        CHECK_EQ_A(&e, c1.guard_page_faults - c0.guard_page_faults, 1);
        CHECK_EQ_A(&e, c1.access_violations, c0.access_violations);
        CHECK_EQ_A(&e, c1.commit_charge - c0.commit_charge, P);
        /* A read of the new guard grows it too, and reads zeros. */
        guard -= P;
        memset(r, 0xEE, 8);
        CHECK_EQ_A(&e, vas_read(e.f.p, guard, r, 8, &x), 0);
        CHECK(r[0] == 0 && r[7] == 0);
        CHECK_MBI(vq(e.f.p, guard - P), guard - P, B, VAS_PAGE_READWRITE, P, VAS_MEM_COMMIT,
                  VAS_PAGE_READWRITE | VAS_PAGE_GUARD, VAS_MEM_PRIVATE);
        check_limit(&e, t.thread_id, guard);
        /* A write from the guard page into the committed page above: one growth, all bytes. */
        guard -= P;
        uint8_t wide[16];
        for (int k = 0; k < 16; k++)
            wide[k] = (uint8_t)(0xC0 + k);
        uint8_t back[16];
        CHECK_EQ_A(&e, vas_write(e.f.p, guard + P - 8, wide, 16, &x), 0);
        CHECK_EQ_A(&e, vas_read(e.f.p, guard + P - 8, back, 16, &x), 0);
        CHECK(memcmp(wide, back, 16) == 0);
        check_limit(&e, t.thread_id, guard);
        vas_process_counters c2 = counters_of(e.f.p);
        CHECK_EQ_A(&e, c2.guard_page_faults - c0.guard_page_faults, 3);
        CHECK_EQ_A(&e, c2.commit_charge - c0.commit_charge, 3 * P);
        check_tib(&e, &(vas_thread_info){t.thread_id, t.teb, T, guard, B});
        env_close(&e);
    }
}

/* Only the guard page grows the stack: a touch of a reserved page below it is an access
   violation, and so is an access that starts there and runs into the guard (its first byte
   faults first); neither consumes the guard. */
static void test_touch_below_guard(void)
{
    for (size_t i = 0; i < ARCHES; i++) {
        env e = env_open(&arches[i]);
        uint64_t P = e.page;
        vas_thread_info t = new_thread(&e, 0, 0);
        uint64_t B = t.deallocation_stack, guard = t.stack_limit - P;
        vas_process_counters c0 = counters_of(e.f.p);
        uint8_t b[16] = {0};
        vas_exception x;
        memset(&x, 0, sizeof x);
        CHECK_EQ_A(&e, vas_write(e.f.p, guard - 2 * P + 16, b, 8, &x), VAS_STATUS_ACCESS_VIOLATION);
        CHECK_EQ_A(&e, x.code, VAS_STATUS_ACCESS_VIOLATION);
        CHECK_EQ_A(&e, x.access, VAS_EXCEPTION_WRITE_FAULT);
        CHECK_EQ_A(&e, x.address, guard - 2 * P + 16);
        memset(&x, 0, sizeof x);
        CHECK_EQ_A(&e, vas_read(e.f.p, guard - P, b, 8, &x), VAS_STATUS_ACCESS_VIOLATION);
        CHECK_EQ_A(&e, x.access, VAS_EXCEPTION_READ_FAULT);
        memset(&x, 0, sizeof x);
        CHECK_EQ_A(&e, vas_write(e.f.p, guard - 8, b, 16, &x), VAS_STATUS_ACCESS_VIOLATION);
        CHECK_EQ_A(&e, x.address, guard - 8);
        CHECK_EQ_A(&e, vas_read(e.f.p, B, b, 1, &x), VAS_STATUS_ACCESS_VIOLATION);
        CHECK_MBI(vq(e.f.p, guard), guard, B, VAS_PAGE_READWRITE, P, VAS_MEM_COMMIT,
                  VAS_PAGE_READWRITE | VAS_PAGE_GUARD, VAS_MEM_PRIVATE);
        check_limit(&e, t.thread_id, guard + P);
        vas_process_counters c1 = counters_of(e.f.p);
        CHECK_EQ_A(&e, c1.guard_page_faults, c0.guard_page_faults);
        CHECK_EQ_A(&e, c1.access_violations - c0.access_violations, 4);
        CHECK_EQ_A(&e, c1.commit_charge, c0.commit_charge);
        env_close(&e);
    }
}

/* Down to the bottom, page by page, through the guard: the guard hit on the third page from the
   bottom raises STATUS_STACK_OVERFLOW (the access is not performed), commits the second page
   without a guard and makes it StackLimit; the bottom page stays reserved for good. */
static void walk_to_overflow(const env *e, vas_thread_info t, uint64_t reserve, uint64_t commit)
{
    uint64_t P = e->page, B = t.deallocation_stack, T = t.stack_base, guard = t.stack_limit - P;
    vas_process_counters c0 = counters_of(e->f.p);
    uint64_t hits = 0;
    vas_exception x;
    uint8_t push[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    int failures = check_failures_in_test;
    while (guard >= B + 3 * P && check_failures_in_test == failures) {
        memset(&x, 0, sizeof x);
        CHECK_EQ(vas_write(e->f.p, guard + P - 8, push, 8, &x), 0);
        hits++;
        CHECK_MBI(vq(e->f.p, guard - P), guard - P, B, VAS_PAGE_READWRITE, P, VAS_MEM_COMMIT,
                  VAS_PAGE_READWRITE | VAS_PAGE_GUARD, VAS_MEM_PRIVATE);
        check_limit(e, t.thread_id, guard);
        guard -= P;
    }
    if (check_failures_in_test != failures) {
        fprintf(stderr, "  (%s: growth stopped at 0x%" PRIx64 ", %" PRIu64 " pages above the bottom 0x%" PRIx64 ")\n",
                e->a->name, guard, (guard - B) / P, B);
        return;
    }
    CHECK_EQ(guard, B + 2 * P);
    memset(&x, 0, sizeof x);
    CHECK_EQ(vas_write(e->f.p, guard + P - 8, push, 8, &x), VAS_STATUS_STACK_OVERFLOW);
    hits++;
    CHECK_EQ(x.code, VAS_STATUS_STACK_OVERFLOW);
    CHECK_EQ(x.access, VAS_EXCEPTION_WRITE_FAULT);
    CHECK_EQ(x.address, guard + P - 8);
    CHECK_MBI(vq(e->f.p, B), B, B, VAS_PAGE_READWRITE, P, VAS_MEM_RESERVE, 0, VAS_MEM_PRIVATE);
    CHECK_MBI(vq(e->f.p, B + P), B + P, B, VAS_PAGE_READWRITE, T - B - P, VAS_MEM_COMMIT, VAS_PAGE_READWRITE,
              VAS_MEM_PRIVATE);
    check_limit(e, t.thread_id, B + P);
    /* The overflowing push did not happen; pushing again works, on both pages left. */
    uint8_t r[8];
    CHECK_EQ(vas_read(e->f.p, guard + P - 8, r, 8, &x), 0);
    CHECK(r[0] == 0 && r[7] == 0);
    CHECK_EQ(vas_write(e->f.p, guard + P - 8, push, 8, &x), 0);
    CHECK_EQ(vas_write(e->f.p, B + P, push, 8, &x), 0);
    /* The bottom page: an access violation, every time, and never committed. */
    memset(&x, 0, sizeof x);
    CHECK_EQ(vas_write(e->f.p, B + P - 4, push, 8, &x), VAS_STATUS_ACCESS_VIOLATION);
    CHECK_EQ(x.address, B + P - 4);
    CHECK_EQ(vas_read(e->f.p, B, r, 1, &x), VAS_STATUS_ACCESS_VIOLATION);
    CHECK_EQ(vq(e->f.p, B).state, VAS_MEM_RESERVE);
    check_limit(e, t.thread_id, B + P);
    vas_process_counters c1 = counters_of(e->f.p);
    CHECK_EQ(c1.guard_page_faults - c0.guard_page_faults, hits);
    CHECK_EQ(c1.commit_charge - c0.commit_charge, (T - B - P) - (commit + P));
    CHECK_EQ(c1.access_violations - c0.access_violations, 2);
    if (check_failures_in_test != failures)
        fprintf(stderr, "  (%s: overflow of a 0x%" PRIx64 "/0x%" PRIx64 " stack at 0x%" PRIx64 ")\n", e->a->name,
                reserve, commit, B);
}

static void test_stack_overflow(void)
{
    for (size_t i = 0; i < ARCHES; i++) {
        env e = env_open(&arches[i]);
        walk_to_overflow(&e, new_thread(&e, 0, 0), e.a->reserve, e.a->commit);
        /* A small one with a bigger commit, next to it. */
        walk_to_overflow(&e, new_thread(&e, 0x20000, 3 * e.page), 0x20000, 3 * e.page);
        env_close(&e);
    }
}

/* ---- Several threads ------------------------------------------------------------------------ */

static void test_several_threads(void)
{
    for (size_t i = 0; i < ARCHES; i++) {
        env e = env_open(&arches[i]);
        vas_thread_info t[4];
        uint64_t teb_base[4], teb_size[4];
        for (int k = 0; k < 3; k++) {
            t[k] = new_thread(&e, 0, 0);
            allocation_of(&e, t[k].teb, &teb_base[k], &teb_size[k]);
            check_tib(&e, &t[k]);
        }
        CHECK(t[0].thread_id != t[1].thread_id && t[1].thread_id != t[2].thread_id &&
              t[0].thread_id != t[2].thread_id);
        /* TEBs: top-down, each allocation right below the previous one. Stacks: bottom-up,
           each right above the previous one (1 MB and 4 MB are 64 KB multiples). */
        CHECK_EQ_A(&e, teb_base[1] + teb_size[1], teb_base[0]);
        CHECK_EQ_A(&e, teb_base[2] + teb_size[2], teb_base[1]);
        CHECK_EQ_A(&e, t[1].deallocation_stack, t[0].stack_base);
        CHECK_EQ_A(&e, t[2].deallocation_stack, t[1].stack_base);
        CHECK_EQ_A(&e, process_info(&e).thread_count, 3);

        /* The middle one exits: its TEB and stack are free, the others untouched. */
        vas_process_counters c0 = counters_of(e.f.p);
        CHECK(vas_thread_exit(e.f.p, t[1].thread_id));
        vas_process_counters c1 = counters_of(e.f.p);
        CHECK_EQ_A(&e, c0.commit_charge - c1.commit_charge, teb_size[1] + e.a->commit + e.page);
        CHECK_EQ_A(&e, c0.virtual_size - c1.virtual_size, teb_size[1] + e.a->reserve);
        CHECK_EQ_A(&e, c0.allocation_count - c1.allocation_count, 2);
        vas_memory_basic_information m = vq(e.f.p, teb_base[1]);
        CHECK_EQ_A(&e, m.state, VAS_MEM_FREE);
        CHECK_EQ_A(&e, m.base_address, teb_base[1]);
        CHECK_EQ_A(&e, m.region_size, teb_size[1]);
        m = vq(e.f.p, t[1].deallocation_stack);
        CHECK_EQ_A(&e, m.state, VAS_MEM_FREE);
        CHECK_EQ_A(&e, m.region_size, e.a->reserve);
        CHECK_EQ_A(&e, process_info(&e).thread_count, 2);
        vas_thread_info gone;
        CHECK_FAILS(vas_thread_get_info(e.f.p, t[1].thread_id, &gone), VAS_ERROR_INVALID_PARAMETER);
        CHECK_FAILS_CLEAN(&e.f, vas_thread_exit(e.f.p, t[1].thread_id), VAS_ERROR_INVALID_PARAMETER);
        vas_thread_info still = info_of(&e, t[0].thread_id);
        CHECK(memcmp(&still, &t[0], sizeof still) == 0);
        still = info_of(&e, t[2].thread_id);
        CHECK(memcmp(&still, &t[2], sizeof still) == 0);
        check_tib(&e, &t[0]);
        check_tib(&e, &t[2]);

        /* A new thread takes the freed places: the highest free TEB pages, the lowest free
           stack range. */
        t[3] = new_thread(&e, 0, 0);
        CHECK_EQ_A(&e, t[3].teb, t[1].teb);
        CHECK_EQ_A(&e, t[3].deallocation_stack, t[1].deallocation_stack);
        CHECK(t[3].thread_id != t[0].thread_id && t[3].thread_id != t[2].thread_id);
        check_fresh_stack(&e, &t[3], e.a->reserve, e.a->commit);

        /* Unknown ids. */
        CHECK_FAILS_CLEAN(&e.f, vas_thread_exit(e.f.p, 0), VAS_ERROR_INVALID_PARAMETER);
        CHECK_FAILS_CLEAN(&e.f, vas_thread_exit(e.f.p, 0x7FFFFFF1u), VAS_ERROR_INVALID_PARAMETER);
        CHECK_FAILS(vas_thread_get_info(e.f.p, 0x7FFFFFF1u, &gone), VAS_ERROR_INVALID_PARAMETER);
        env_close(&e);
    }
}

/* Thread ids belong to their process: another process's id is unknown here. */
static void test_thread_ids_are_per_process(void)
{
    env e = env_open(&arches[0]);
    vas_process *q = vas_process_create(e.f.m, NULL);
    CHECK(q != NULL);
    vas_thread_info a = new_thread(&e, 0, 0), b;
    CHECK(vas_thread_create(q, 0, 0, &b));
    CHECK(a.thread_id != b.thread_id); /* Windows draws both from one table of ids */
    CHECK_FAILS(vas_thread_exit(q, a.thread_id), VAS_ERROR_INVALID_PARAMETER);
    CHECK(vas_thread_exit(q, b.thread_id));
    vas_process_destroy(q);
    env_close(&e);
}

/* ---- Commit charge and the end of a process ------------------------------------------------- */

static void test_commit_charge(void)
{
    for (size_t i = 0; i < ARCHES; i++) {
        env e = env_open(&arches[i]);
        uint64_t P = e.page;
        vas_process_counters c0 = counters_of(e.f.p);
        vas_memory_status s0 = status_of(e.f.m);
        vas_thread_info t = new_thread(&e, 0x40000, 5 * P);
        uint64_t teb_base, teb_size;
        allocation_of(&e, t.teb, &teb_base, &teb_size);
        vas_process_counters c1 = counters_of(e.f.p);
        CHECK_EQ_A(&e, c1.commit_charge - c0.commit_charge, teb_size + 6 * P);
        CHECK_EQ_A(&e, status_of(e.f.m).commit_total - s0.commit_total, teb_size + 6 * P);
        CHECK_EQ_A(&e, c1.virtual_size - c0.virtual_size, teb_size + 0x40000);
        CHECK_EQ_A(&e, c1.allocation_count - c0.allocation_count, 2);
        /* Growth: one page each. */
        uint8_t b = 1;
        for (int k = 0; k < 4; k++)
            CHECK_EQ_A(&e, vas_write(e.f.p, t.stack_limit - P - (uint64_t)k * P, &b, 1, NULL), 0);
        vas_process_counters c2 = counters_of(e.f.p);
        CHECK_EQ_A(&e, c2.commit_charge - c1.commit_charge, 4 * P);
        CHECK_EQ_A(&e, c2.peak_commit_charge >= c2.commit_charge, 1);
        CHECK(vas_thread_exit(e.f.p, t.thread_id));
        vas_process_counters c3 = counters_of(e.f.p);
        CHECK_EQ_A(&e, c3.commit_charge, c0.commit_charge);
        CHECK_EQ_A(&e, c3.virtual_size, c0.virtual_size);
        CHECK_EQ_A(&e, c3.allocation_count, c0.allocation_count);
        CHECK_EQ_A(&e, status_of(e.f.m).commit_total, s0.commit_total);
        env_close(&e);
    }
}

/* Destroying a process with live threads (grown stacks, written TEBs) frees everything. */
static void test_process_destroy_frees_threads(void)
{
    for (size_t i = 0; i < ARCHES; i++) {
        env e = env_open(&arches[i]);
        vas_memory_status s0 = status_of(e.f.m);
        vas_process_config pc = {0};
        pc.bits = e.a->bits;
        pc.large_address_aware = e.a->laa;
        vas_process *q = vas_process_create(e.f.m, &pc);
        CHECK(q != NULL);
        for (int k = 0; k < 5; k++) {
            vas_thread_info t;
            CHECK(vas_thread_create(q, 0x20000 * (uint64_t)(k + 1), 0, &t));
            uint8_t b = 7;
            CHECK_EQ(vas_write(q, t.stack_limit - e.page, &b, 1, NULL), 0);
            CHECK_EQ(vas_write(q, t.teb + 0x80, &b, 1, NULL), 0);
        }
        CHECK(status_of(e.f.m).commit_total > s0.commit_total);
        CHECK_EQ(vas_check(e.f.m), 0);
        vas_process_destroy(q);
        CHECK_EQ(vas_check(e.f.m), 0);
        CHECK_EQ_A(&e, status_of(e.f.m).commit_total, s0.commit_total);
        CHECK_EQ_A(&e, status_of(e.f.m).process_count, s0.process_count);
        env_close(&e);
    }
}

/* ---- Bad input -------------------------------------------------------------------------------- */

static void test_bad_input(void)
{
    for (size_t i = 0; i < ARCHES; i++) {
        env e = env_open(&arches[i]);
        vas_thread_info t;
        uint64_t space = e.highest + 1 - GRAN - e.lowest; /* the most one reservation may take */
        /* No place for the answer: a NULL out pointer is what a system call probing it meets as
           STATUS_ACCESS_VIOLATION, ERROR_NOACCESS (998), the convention of vas.h's other
           out-pointer calls (MemoryRegionInformation). */
        CHECK_FAILS_CLEAN(&e.f, vas_thread_create(e.f.p, 0, 0, NULL), VAS_ERROR_NOACCESS);
        /* Reserves no address space holds: STATUS_INVALID_PARAMETER_4, as NtAllocateVirtualMemory
           answers BaseCreateStack. */
        CHECK_FAILS_CLEAN(&e.f, vas_thread_create(e.f.p, UINT64_MAX, 0, &t), VAS_ERROR_INVALID_PARAMETER);
        CHECK_FAILS_CLEAN(&e.f, vas_thread_create(e.f.p, UINT64_MAX - 0x8000, 0, &t), VAS_ERROR_INVALID_PARAMETER);
        CHECK_FAILS_CLEAN(&e.f, vas_thread_create(e.f.p, 1ull << 63, 0, &t), VAS_ERROR_INVALID_PARAMETER);
        CHECK_FAILS_CLEAN(&e.f, vas_thread_create(e.f.p, space + GRAN, 0, &t), VAS_ERROR_INVALID_PARAMETER);
        /* A commit beyond the space: the reserve follows it (rounded to 1 MB) and no space holds
           that either. */
        CHECK_FAILS_CLEAN(&e.f, vas_thread_create(e.f.p, 0, UINT64_MAX, &t), VAS_ERROR_INVALID_PARAMETER);
        CHECK_FAILS_CLEAN(&e.f, vas_thread_create(e.f.p, 0x10000, 1ull << 62, &t), VAS_ERROR_INVALID_PARAMETER);
        /* A reserve an empty address space would hold, but not this one (its TEB and
           KUSER_SHARED_DATA are at the top): no room, STATUS_NO_MEMORY. */
        CHECK_FAILS_CLEAN(&e.f, vas_thread_create(e.f.p, space, 0, &t), VAS_ERROR_NOT_ENOUGH_MEMORY);
        /* Bad handles and ids. */
        CHECK_FAILS(vas_thread_create(NULL, 0, 0, &t), VAS_ERROR_INVALID_HANDLE);
        CHECK_FAILS(vas_thread_get_info(NULL, 1, &t), VAS_ERROR_INVALID_HANDLE);
        CHECK_FAILS(vas_thread_exit(NULL, 1), VAS_ERROR_INVALID_HANDLE);
        vas_thread_info ok = new_thread(&e, 0, 0);
        CHECK_FAILS(vas_thread_get_info(e.f.p, ok.thread_id, NULL), VAS_ERROR_NOACCESS);
        CHECK_FAILS(vas_process_get_info(NULL, &(vas_process_info){0}), VAS_ERROR_INVALID_HANDLE);
        CHECK_FAILS(vas_process_get_info(e.f.p, NULL), VAS_ERROR_NOACCESS);
        env_close(&e);
    }
}

/* Failing to find room for the stack leaves no TEB behind (whichever of the two is placed
   first), and changes nothing else. */
static void test_failure_leaves_nothing(void)
{
    env e = env_open(&arches[1]); /* x86: a small space to fill */
    /* Reserve everything from the bottom to 0x7FF00000: 14 granules are left below the bound. */
    uint64_t a = vas_virtual_alloc(e.f.p, 0, 0x7FF00000ull - e.lowest, VAS_MEM_RESERVE, VAS_PAGE_READWRITE);
    CHECK_EQ(a, e.lowest);
    vas_thread_info t;
    CHECK_FAILS_CLEAN(&e.f, vas_thread_create(e.f.p, 0, 0, &t), VAS_ERROR_NOT_ENOUGH_MEMORY); /* 1 MB */
    CHECK_FAILS_CLEAN(&e.f, vas_thread_create(e.f.p, 0xF0000, 0, &t), VAS_ERROR_NOT_ENOUGH_MEMORY);
    /* 0xE0000 would take the 14 granules, leaving no page for the TEB (or, the TEB placed
       first at 0x7FFDF000, 13 granules for the stack): it fails either way. */
    CHECK_FAILS_CLEAN(&e.f, vas_thread_create(e.f.p, 0xE0000, 0, &t), VAS_ERROR_NOT_ENOUGH_MEMORY);
    vas_thread_info ok = new_thread(&e, 0xD0000, 0);
    CHECK_EQ(ok.deallocation_stack, 0x7FF00000ull);
    CHECK_EQ(ok.teb, 0x7FFDF000ull);
    env_close(&e);
}

/* ---- Determinism and the PEB ---------------------------------------------------------------- */

static void test_determinism(void)
{
    for (size_t i = 0; i < ARCHES; i++) {
        env e1 = env_open(&arches[i]), e2 = env_open(&arches[i]);
        for (int k = 0; k < 4; k++) {
            uint64_t reserve = 0x10000ull << k, commit = (uint64_t)k * e1.page;
            vas_thread_info a = new_thread(&e1, reserve, commit), b = new_thread(&e2, reserve, commit);
            CHECK_EQ_A(&e1, a.teb, b.teb);
            CHECK_EQ_A(&e1, a.stack_base, b.stack_base);
            CHECK_EQ_A(&e1, a.stack_limit, b.stack_limit);
            CHECK_EQ_A(&e1, a.deallocation_stack, b.deallocation_stack);
        }
        env_close(&e1);
        env_close(&e2);
    }
}

/* A tiny executable: headers, one code section, one data section; no relocations, no imports. */
static char temp_dir[4096];

static void remove_temp_dir(void)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/app.exe", temp_dir);
    unlink(path);
    rmdir(temp_dir);
}

static void put16(uint8_t *o, uint32_t at, uint32_t v) { o[at] = (uint8_t)v, o[at + 1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *o, uint32_t at, uint32_t v) { put16(o, at, v & 0xFFFF), put16(o, at + 2, v >> 16); }
static void put64(uint8_t *o, uint32_t at, uint64_t v) { put32(o, at, (uint32_t)v), put32(o, at + 4, (uint32_t)(v >> 32)); }

static const char *write_exe(const char *name, bool pe32_plus, uint16_t machine, uint32_t section_alignment,
                             uint64_t image_base, uint64_t stack_reserve, uint64_t stack_commit, bool laa)
{
    static char path[4200];
    if (!temp_dir[0]) {
        const char *tmp = getenv("TMPDIR");
        snprintf(temp_dir, sizeof temp_dir, "%s/vas_test_thread_XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(temp_dir)) {
            perror("mkdtemp");
            exit(2);
        }
        atexit(remove_temp_dir);
    }
    uint8_t o[0x800];
    memset(o, 0, sizeof o);
    const uint32_t nt = 0x40, optional = pe32_plus ? 240 : 224, sa = section_alignment;
    o[0] = 'M', o[1] = 'Z';
    put32(o, 0x3C, nt);
    memcpy(o + nt, "PE\0\0", 4);
    put16(o, nt + 4, machine);
    put16(o, nt + 6, 2);
    put16(o, nt + 20, optional);
    put16(o, nt + 22, 0x0003u | (laa ? 0x0020u : 0) | (pe32_plus ? 0 : 0x0100u)); /* relocs stripped, exe */
    uint32_t h = nt + 24;
    put16(o, h, pe32_plus ? 0x20B : 0x10B);
    put32(o, h + 16, sa);                 /* entry point: the code */
    put32(o, h + 20, sa);
    if (pe32_plus) {
        put64(o, h + 24, image_base);
    } else {
        put32(o, h + 24, 2 * sa);
        put32(o, h + 28, (uint32_t)image_base);
    }
    put32(o, h + 32, sa);
    put32(o, h + 36, 0x200);
    put16(o, h + 40, 4), put16(o, h + 48, 4);
    put32(o, h + 56, 3 * sa);             /* SizeOfImage */
    put32(o, h + 60, 0x200);              /* SizeOfHeaders */
    put16(o, h + 68, 3);
    put16(o, h + 70, 0x0100);             /* NX_COMPAT */
    if (pe32_plus) {
        put64(o, h + 72, stack_reserve), put64(o, h + 80, stack_commit);
        put64(o, h + 88, 0x100000), put64(o, h + 96, 0x1000);
        put32(o, h + 108, 16);
    } else {
        put32(o, h + 72, (uint32_t)stack_reserve), put32(o, h + 76, (uint32_t)stack_commit);
        put32(o, h + 80, 0x100000), put32(o, h + 84, 0x1000);
        put32(o, h + 92, 16);
    }
    uint32_t table = h + optional;
    static const char *names[2] = {".text", ".data"};
    static const uint32_t characteristics[2] = {0x60000020u, 0xC0000040u};
    for (uint32_t s = 0; s < 2; s++) {
        uint32_t t = table + 40 * s;
        memcpy(o + t, names[s], strlen(names[s]));
        put32(o, t + 8, 0x100);
        put32(o, t + 12, (s + 1) * sa);
        put32(o, t + 16, 0x200);
        put32(o, t + 20, 0x200 + 0x200 * s);
        put32(o, t + 36, characteristics[s]);
    }
    o[0x200] = 0xC3; /* ret */
    snprintf(path, sizeof path, "%s/%s", temp_dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(o, 1, 0x600, f) != 0x600 || fclose(f) != 0) {
        perror(path);
        exit(2);
    }
    return path;
}

typedef struct image_case {
    const char *name;
    const char *layout;
    bool pe32_plus;
    uint16_t machine;
    uint32_t section_alignment;
    uint64_t image_base;
    bool laa;
    bool wide;
    uint64_t page;
} image_case;

static const image_case image_cases[] = {
    {"x64 PE32+", "x64", true, 0x8664, 0x1000, 0x140000000ull, false, true, 0x1000},
    {"x86 PE32", "x86", false, 0x014C, 0x1000, 0x400000ull, false, false, 0x1000},
    {"WOW64 PE32", "x64", false, 0x014C, 0x1000, 0x400000ull, false, false, 0x1000},
    {"WOW64 PE32 large-address-aware", "x64", false, 0x014C, 0x1000, 0x400000ull, true, false, 0x1000},
};
#define IMAGE_CASES (sizeof image_cases / sizeof image_cases[0])

typedef struct image_env {
    vas_machine *m;
    vas_process *p;
    vas_system_info si;
    uint64_t bound;
} image_env;

static bool image_open(const image_case *c, uint64_t reserve, uint64_t commit, uint64_t seed, image_env *ie)
{
    memset(ie, 0, sizeof *ie);
    vas_machine_config mc = {0};
    mc.layout = c->layout;
    mc.ram_bytes = 64 * MiB;
    ie->m = vas_machine_create(&mc);
    if (!ie->m) {
        fprintf(stderr, "%s: no machine (error %u)\n", c->name, vas_last_error());
        check_failures_in_test++;
        return false;
    }
    const char *path = write_exe("app.exe", c->pe32_plus, c->machine, c->section_alignment, c->image_base,
                                 reserve, commit, c->laa);
    vas_process_config pc = {0};
    pc.random_seed = seed;
    ie->p = vas_process_create_from_image(ie->m, path, &pc);
    if (!ie->p) {
        fprintf(stderr, "%s: vas_process_create_from_image failed, error %u\n", c->name, vas_last_error());
        check_failures_in_test++;
        vas_machine_destroy(ie->m);
        return false;
    }
    vas_get_system_info(ie->p, &ie->si);
    uint64_t top = ie->si.maximum_application_address + 1 - GRAN;
    ie->bound = vas_process_bits(ie->p) == 32 && top > KUSER ? KUSER : top;
    return true;
}

static void image_close(image_env *ie)
{
    CHECK_EQ(vas_check(ie->m), 0);
    vas_machine_destroy(ie->m);
}

/* A process made from an image: its PEB with random_seed 0 is the top page below the bound, its
   first TEB right below; the image's stack sizes are every thread's defaults, and the first
   thread's reserve is at least 256 KB (CreateProcess). */
static void test_image_process_peb_and_main_thread(void)
{
    for (size_t i = 0; i < IMAGE_CASES; i++) {
        const image_case *c = &image_cases[i];
        image_env ie;
        if (!image_open(c, 0x10000, 0x2000, 0, &ie))
            continue;
        uint64_t P = c->page;
        vas_process_info pi;
        memset(&pi, 0, sizeof pi);
        CHECK(vas_process_get_info(ie.p, &pi));
        CHECK_EQ(vas_process_bits(ie.p), c->pe32_plus ? 64 : 32);
        CHECK_EQ(pi.image_base, c->image_base);
        CHECK_EQ(pi.thread_count, 1);
        CHECK(pi.main_thread_id != 0);
        CHECK_EQ(pi.peb, ie.bound - P);
        CHECK_MBI(vq(ie.p, pi.peb), pi.peb, pi.peb, VAS_PAGE_READWRITE, P, VAS_MEM_COMMIT, VAS_PAGE_READWRITE,
                  VAS_MEM_PRIVATE);
        vas_thread_info first;
        memset(&first, 0, sizeof first);
        CHECK(vas_thread_get_info(ie.p, pi.main_thread_id, &first));
        vas_memory_basic_information tm = vq(ie.p, first.teb);
        CHECK(tm.allocation_base < pi.peb);
        uint64_t teb_end = tm.allocation_base;
        for (vas_memory_basic_information r = tm; r.allocation_base == tm.allocation_base && r.state != VAS_MEM_FREE;) {
            teb_end = r.base_address + r.region_size;
            if (vas_virtual_query(ie.p, teb_end, &r, sizeof r) != sizeof r)
                break;
        }
        CHECK_EQ(teb_end, pi.peb);
        /* NT_TIB with the PEB. */
        env e = {.f = {ie.m, ie.p}, .page = P};
        arch a = {c->name, c->layout, 0, 0, 0, c->wide, P, 0, 0, 0, 0};
        e.a = &a;
        check_tib(&e, &first);
        /* The first thread: 64 KB asked, 256 KB given; 8 KB committed. */
        CHECK_EQ(first.stack_base - first.deallocation_stack, 0x40000);
        CHECK_EQ(first.stack_base - first.stack_limit, 0x2000);
        /* Other threads: the image's sizes as they are. */
        vas_thread_info t;
        memset(&t, 0, sizeof t);
        CHECK(vas_thread_create(ie.p, 0, 0, &t));
        CHECK_EQ(t.stack_base - t.deallocation_stack, 0x10000);
        CHECK_EQ(t.stack_base - t.stack_limit, 0x2000);
        CHECK(vas_thread_create(ie.p, 0, 0x3000, &t)); /* commit < the image's reserve: that reserve */
        CHECK_EQ(t.stack_base - t.deallocation_stack, 0x10000);
        CHECK_EQ(t.stack_base - t.stack_limit, 0x3000);
        CHECK(vas_thread_create(ie.p, 0x30000, 0, &t)); /* the image's commit */
        CHECK_EQ(t.stack_base - t.deallocation_stack, 0x30000);
        CHECK_EQ(t.stack_base - t.stack_limit, 0x2000);
        CHECK(vas_thread_create(ie.p, 0, 0x10000, &t)); /* commit >= the image's reserve: 1 MB */
        CHECK_EQ(t.stack_base - t.deallocation_stack, MiB);
        /* The main thread may exit like any other. */
        CHECK(vas_thread_exit(ie.p, pi.main_thread_id));
        CHECK_EQ(vq(ie.p, first.teb).state, VAS_MEM_FREE);
        CHECK_EQ(vq(ie.p, first.deallocation_stack).state, VAS_MEM_FREE);
        image_close(&ie);
    }
}

/* With a seed the PEB takes one of the 16 pages of the 64 KB window below the bound (not
   always the same one), the same seed the same page; with 0 always the top page. */
static void test_peb_randomisation(void)
{
    for (size_t i = 0; i < IMAGE_CASES; i++) {
        const image_case *c = &image_cases[i];
        uint64_t seen[16] = {0}, first_peb = 0;
        int distinct = 0;
        for (uint64_t seed = 0; seed <= 40; seed++) {
            image_env ie;
            if (!image_open(c, 0x100000, 0x1000, seed, &ie))
                break;
            vas_process_info pi;
            memset(&pi, 0, sizeof pi);
            CHECK(vas_process_get_info(ie.p, &pi));
            if (seed == 0) {
                CHECK_EQ(pi.peb, ie.bound - c->page);
            } else {
                CHECK(pi.peb < ie.bound && pi.peb >= ie.bound - GRAN && pi.peb % c->page == 0);
                uint64_t slot = (ie.bound - pi.peb) / c->page - 1;
                if (slot < 16 && !seen[slot]++)
                    distinct++;
                if (seed == 1)
                    first_peb = pi.peb;
            }
            vas_thread_info first;
            memset(&first, 0, sizeof first);
            CHECK(vas_thread_get_info(ie.p, pi.main_thread_id, &first));
            CHECK(first.teb < pi.peb || first.teb >= pi.peb + c->page);
            CHECK(first.teb >= ie.bound - 2 * GRAN && first.teb < ie.bound);
            image_close(&ie);
        }
        if (distinct < 2) {
            fprintf(stderr, "%s: 40 seeds put the PEB on %d page(s) of the window\n", c->name, distinct);
            check_failures_in_test++;
        }
        image_env again;
        if (image_open(c, 0x100000, 0x1000, 1, &again)) {
            vas_process_info pi;
            CHECK(vas_process_get_info(again.p, &pi));
            CHECK_EQ(pi.peb, first_peb);
            image_close(&again);
        }
    }
}

/* The WOW64 and x86 windows: PEB 0x7FFDF000 and the first TEB right below, as Windows places
   them with no randomisation (nt-memory-manager.md section 2). */
static void test_peb_x86_address(void)
{
    image_env ie;
    if (!image_open(&image_cases[1], 0x100000, 0x1000, 0, &ie))
        return;
    vas_process_info pi;
    CHECK(vas_process_get_info(ie.p, &pi));
    CHECK_EQ(pi.peb, 0x7FFDF000ull);
    vas_thread_info first;
    CHECK(vas_thread_get_info(ie.p, pi.main_thread_id, &first));
    CHECK_EQ(first.teb, 0x7FFDE000ull);
    image_close(&ie);
}

static const check_test tests[] = {
    TEST(test_stack_layout_default),
    TEST(test_stack_sizes_round),
    TEST(test_stack_commit_fills_the_reserve),
    TEST(test_teb_nt_tib),
    TEST(test_teb_client_id_and_deallocation_stack),
    TEST(test_teb_allocation_size),
    TEST(test_stack_growth),
    TEST(test_touch_below_guard),
    TEST(test_stack_overflow),
    TEST(test_several_threads),
    TEST(test_thread_ids_are_per_process),
    TEST(test_commit_charge),
    TEST(test_process_destroy_frees_threads),
    TEST(test_bad_input),
    TEST(test_failure_leaves_nothing),
    TEST(test_determinism),
    TEST(test_image_process_peb_and_main_thread),
    TEST(test_peb_randomisation),
    TEST(test_peb_x86_address),
};

CHECK_MAIN(tests)
