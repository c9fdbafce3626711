/*
 * test_state.c - Windows facts of groups B, C and F (../shared/spec/windows-behavior.md): the
 * reserve/commit state machine, decommit and release (Win32 and NT level, including NT's
 * partial release) and MEM_RESET. Black-box: vas.h only.
 *
 * Tests named after a number the spec keeps back (15, 18, 21, 24, 27, 30, 57) check what
 * Microsoft documents for VirtualAlloc / VirtualFree, or what Wine's NtFreeVirtualMemory tests
 * assert next to the published facts. Every failing call is also checked to change nothing.
 */
#include "facts.h"

static uint64_t reserve(fx *f, uint64_t address, uint64_t size, uint32_t protect)
{
    uint64_t a = vas_virtual_alloc(f->p, address, size, VAS_MEM_RESERVE, protect);
    CHECK(a != 0);
    return a;
}

static uint64_t reserve_commit(fx *f, uint64_t size, uint32_t protect)
{
    uint64_t a = vas_virtual_alloc(f->p, 0, size, VAS_MEM_RESERVE | VAS_MEM_COMMIT, protect);
    CHECK(a != 0);
    return a;
}

/* NtFreeVirtualMemory expecting success and the rounded range written back. */
#define CHECK_NT_FREE(f, address, size, type, want_base, want_size)                           \
    do {                                                                                      \
        uint64_t b_ = (address), s_ = (size);                                                 \
        CHECK_EQ(vas_nt_free_virtual_memory((f)->p, &b_, &s_, (type)), VAS_STATUS_SUCCESS);   \
        CHECK_EQ(b_, (want_base));                                                            \
        CHECK_EQ(s_, (want_size));                                                            \
    } while (0)

/* NtFreeVirtualMemory expecting `status`, nothing changed, and address and size untouched. */
#define CHECK_NT_FREE_FAILS(f, address, size, type, status)                                   \
    do {                                                                                      \
        uint64_t b_ = (address), s_ = (size);                                                 \
        CHECK_NT_FAILS((f), vas_nt_free_virtual_memory((f)->p, &b_, &s_, (type)), (status));  \
        CHECK_EQ(b_, (address));                                                              \
        CHECK_EQ(s_, (size));                                                                 \
    } while (0)

/* ---- B. Reserve / commit state machine ---------------------------------------------------- */

/* Documented (VirtualAlloc, MEM_COMMIT): inside a reservation a commit covers every page the
   range touches and returns the page-rounded base; committing memory that is not wholly inside
   one reservation fails with ERROR_INVALID_ADDRESS. */
static void fact_15_commit_inside_a_reservation(void)
{
    fx f = fx_open();
    uint64_t a = reserve(&f, 0, 0x10000, VAS_PAGE_NOACCESS);
    CHECK_EQ(vas_virtual_alloc(f.p, a + 0x2010, 0x10, VAS_MEM_COMMIT, VAS_PAGE_READWRITE), a + 0x2000);
    CHECK_MBI(vq(f.p, a), a, a, VAS_PAGE_NOACCESS, 0x2000, VAS_MEM_RESERVE, 0, VAS_MEM_PRIVATE);
    CHECK_MBI(vq(f.p, a + 0x2000), a + 0x2000, a, VAS_PAGE_NOACCESS, 0x1000, VAS_MEM_COMMIT, VAS_PAGE_READWRITE,
              VAS_MEM_PRIVATE);
    CHECK_MBI(vq(f.p, a + 0x3000), a + 0x3000, a, VAS_PAGE_NOACCESS, 0xD000, VAS_MEM_RESERVE, 0, VAS_MEM_PRIVATE);
    /* Two bytes across a page boundary: two pages, and NT writes the rounded range back. */
    uint64_t base = a + 0x4FFF, size = 2;
    CHECK_EQ(vas_nt_allocate_virtual_memory(f.p, &base, 0, &size, VAS_MEM_COMMIT, VAS_PAGE_READONLY), VAS_STATUS_SUCCESS);
    CHECK_EQ(base, a + 0x4000);
    CHECK_EQ(size, 0x2000);
    CHECK_MBI(vq(f.p, a + 0x4000), a + 0x4000, a, VAS_PAGE_NOACCESS, 0x2000, VAS_MEM_COMMIT, VAS_PAGE_READONLY,
              VAS_MEM_PRIVATE);

    /* Past the end of the reservation. */
    CHECK_FAILS_CLEAN(&f, vas_virtual_alloc(f.p, a + 0xF000, 0x2000, VAS_MEM_COMMIT, VAS_PAGE_READWRITE),
                      VAS_ERROR_INVALID_ADDRESS);
    base = a + 0xF000;
    size = 0x2000;
    CHECK_NT_FAILS(&f, vas_nt_allocate_virtual_memory(f.p, &base, 0, &size, VAS_MEM_COMMIT, VAS_PAGE_READWRITE),
                   VAS_STATUS_CONFLICTING_ADDRESSES);
    CHECK_EQ(base, a + 0xF000);
    CHECK_EQ(size, 0x2000);
    /* Across two neighbouring reservations. */
    CHECK_EQ(reserve(&f, a + 0x10000, 0x10000, VAS_PAGE_NOACCESS), a + 0x10000);
    CHECK_FAILS_CLEAN(&f, vas_virtual_alloc(f.p, a + 0xF000, 0x2000, VAS_MEM_COMMIT, VAS_PAGE_READWRITE),
                      VAS_ERROR_INVALID_ADDRESS);
    /* In free memory. */
    uint64_t free_address = reserve(&f, 0, 0x10000, VAS_PAGE_NOACCESS);
    CHECK(vas_virtual_free(f.p, free_address, 0, VAS_MEM_RELEASE));
    CHECK_FAILS_CLEAN(&f, vas_virtual_alloc(f.p, free_address, 0x1000, VAS_MEM_COMMIT, VAS_PAGE_READWRITE),
                      VAS_ERROR_INVALID_ADDRESS);
    fx_close(&f);
}

static void fact_16_region_size_is_the_run_from_the_page(void)
{
    fx f = fx_open();
    uint64_t a = reserve(&f, 0, 0xFFFC, VAS_PAGE_NOACCESS);
    CHECK_EQ(vas_virtual_alloc(f.p, a, 0x1000, VAS_MEM_COMMIT, VAS_PAGE_NOACCESS), a);
    CHECK_EQ(vas_virtual_alloc(f.p, a + 0x1000, 0x1000, VAS_MEM_RESET, VAS_PAGE_NOACCESS), a + 0x1000);
    CHECK_MBI(vq(f.p, a), a, a, VAS_PAGE_NOACCESS, 0x1000, VAS_MEM_COMMIT, VAS_PAGE_NOACCESS, VAS_MEM_PRIVATE);
    CHECK_MBI(vq(f.p, a + 0x1000), a + 0x1000, a, VAS_PAGE_NOACCESS, 0xF000, VAS_MEM_RESERVE, 0, VAS_MEM_PRIVATE);
    /* The run starts at the queried page, whatever the byte. */
    CHECK_MBI(vq(f.p, a + 0x5123), a + 0x5000, a, VAS_PAGE_NOACCESS, 0xB000, VAS_MEM_RESERVE, 0, VAS_MEM_PRIVATE);
    /* Protection splits runs as state does. */
    CHECK_EQ(vas_virtual_alloc(f.p, a + 0x3000, 0x2000, VAS_MEM_COMMIT, VAS_PAGE_READONLY), a + 0x3000);
    CHECK_EQ(vas_virtual_alloc(f.p, a + 0x5000, 0x1000, VAS_MEM_COMMIT, VAS_PAGE_READWRITE), a + 0x5000);
    CHECK_MBI(vq(f.p, a + 0x1000), a + 0x1000, a, VAS_PAGE_NOACCESS, 0x2000, VAS_MEM_RESERVE, 0, VAS_MEM_PRIVATE);
    CHECK_MBI(vq(f.p, a + 0x3000), a + 0x3000, a, VAS_PAGE_NOACCESS, 0x2000, VAS_MEM_COMMIT, VAS_PAGE_READONLY,
              VAS_MEM_PRIVATE);
    CHECK_MBI(vq(f.p, a + 0x4FFF), a + 0x4000, a, VAS_PAGE_NOACCESS, 0x1000, VAS_MEM_COMMIT, VAS_PAGE_READONLY,
              VAS_MEM_PRIVATE);
    CHECK_MBI(vq(f.p, a + 0x5000), a + 0x5000, a, VAS_PAGE_NOACCESS, 0x1000, VAS_MEM_COMMIT, VAS_PAGE_READWRITE,
              VAS_MEM_PRIVATE);
    /* Bounded by the allocation: a neighbour in the same state does not extend the run. */
    CHECK_EQ(reserve(&f, a + 0x10000, 0x10000, VAS_PAGE_NOACCESS), a + 0x10000);
    CHECK_MBI(vq(f.p, a + 0x6000), a + 0x6000, a, VAS_PAGE_NOACCESS, 0xA000, VAS_MEM_RESERVE, 0, VAS_MEM_PRIVATE);
    CHECK_MBI(vq(f.p, a + 0x10000), a + 0x10000, a + 0x10000, VAS_PAGE_NOACCESS, 0x10000, VAS_MEM_RESERVE, 0,
              VAS_MEM_PRIVATE);
    fx_close(&f);
}

static void fact_17_commit_over_partly_committed_range(void)
{
    fx f = fx_open();
    uint64_t a = reserve_commit(&f, 0x10000, VAS_PAGE_READWRITE);
    const uint8_t mark = 0x42;
    CHECK_EQ(vas_write(f.p, a + 0x10, &mark, 1, NULL), VAS_STATUS_SUCCESS);
    uint32_t old = 0;
    CHECK(vas_virtual_protect(f.p, a + 0x2000, 0x3000, VAS_PAGE_NOACCESS, &old));
    CHECK(vas_virtual_free(f.p, a + 0x1000, 0x1000, VAS_MEM_DECOMMIT));
    CHECK_EQ(vq(f.p, a + 0x1000).state, VAS_MEM_RESERVE);
    CHECK_EQ(vas_virtual_alloc(f.p, a, 0x10000, VAS_MEM_COMMIT, VAS_PAGE_NOACCESS), a);
    /* Every page, newly committed or not, now has the new protection. */
    CHECK_MBI(vq(f.p, a), a, a, VAS_PAGE_READWRITE, 0x10000, VAS_MEM_COMMIT, VAS_PAGE_NOACCESS, VAS_MEM_PRIVATE);
    old = 0;
    CHECK(vas_virtual_protect(f.p, a, 6 * PAGE, VAS_PAGE_READWRITE, &old));
    CHECK_EQ(old, VAS_PAGE_NOACCESS);
    CHECK_MBI(vq(f.p, a), a, a, VAS_PAGE_READWRITE, 6 * PAGE, VAS_MEM_COMMIT, VAS_PAGE_READWRITE, VAS_MEM_PRIVATE);
    /* Committing a committed page kept its contents (documented: commit without checking). */
    uint8_t back = 0;
    CHECK_EQ(vas_read(f.p, a + 0x10, &back, 1, NULL), VAS_STATUS_SUCCESS);
    CHECK_EQ(back, mark);
    /* A completely decommitted reservation commits again, reading as zero. */
    CHECK(vas_virtual_free(f.p, a, 0x10000, VAS_MEM_DECOMMIT));
    CHECK_MBI(vq(f.p, a), a, a, VAS_PAGE_READWRITE, 0x10000, VAS_MEM_RESERVE, 0, VAS_MEM_PRIVATE);
    CHECK_EQ(vas_virtual_alloc(f.p, a, 0x10000, VAS_MEM_COMMIT, VAS_PAGE_READWRITE), a);
    CHECK_MBI(vq(f.p, a), a, a, VAS_PAGE_READWRITE, 0x10000, VAS_MEM_COMMIT, VAS_PAGE_READWRITE, VAS_MEM_PRIVATE);
    back = 0xFF;
    CHECK_EQ(vas_read(f.p, a + 0x10, &back, 1, NULL), VAS_STATUS_SUCCESS);
    CHECK_EQ(back, 0);
    fx_close(&f);
}

/* Documented (Creating Guard Pages; VirtualAlloc): PAGE_GUARD is accepted when committing,
   both at reservation and inside one, and over pages already committed; not with
   PAGE_NOACCESS. */
static void fact_18_guard_pages_commit(void)
{
    fx f = fx_open();
    uint32_t guard_rw = VAS_PAGE_READWRITE | VAS_PAGE_GUARD, old = 0;
    uint64_t a = reserve_commit(&f, 0x1000, guard_rw);
    CHECK_MBI(vq(f.p, a), a, a, 0x104, 0x1000, VAS_MEM_COMMIT, 0x104, VAS_MEM_PRIVATE);
    CHECK(vas_virtual_protect(f.p, a, 0x1000, VAS_PAGE_READWRITE, &old));
    CHECK_EQ(old, 0x104);
    CHECK(vas_virtual_protect(f.p, a, 0x1000, guard_rw, &old));
    CHECK_EQ(old, VAS_PAGE_READWRITE);

    /* A stack: reserved, its top committed, a guard page below. */
    uint64_t s = reserve(&f, 0, 0x40000, VAS_PAGE_READWRITE), top = s + 0x40000;
    CHECK_EQ(vas_virtual_alloc(f.p, top - 0x3000, 0x3000, VAS_MEM_COMMIT, VAS_PAGE_READWRITE), top - 0x3000);
    CHECK_EQ(vas_virtual_alloc(f.p, top - 0x4000, 0x1000, VAS_MEM_COMMIT, guard_rw), top - 0x4000);
    CHECK_MBI(vq(f.p, top - 0x4000), top - 0x4000, s, VAS_PAGE_READWRITE, 0x1000, VAS_MEM_COMMIT, 0x104, VAS_MEM_PRIVATE);
    /* Committing PAGE_GUARD over a committed page moves the guard there. */
    CHECK_EQ(vas_virtual_alloc(f.p, top - 0x2000, 0x1000, VAS_MEM_COMMIT, guard_rw), top - 0x2000);
    CHECK_MBI(vq(f.p, top - 0x3000), top - 0x3000, s, VAS_PAGE_READWRITE, 0x1000, VAS_MEM_COMMIT, VAS_PAGE_READWRITE,
              VAS_MEM_PRIVATE);
    CHECK_MBI(vq(f.p, top - 0x2000), top - 0x2000, s, VAS_PAGE_READWRITE, 0x1000, VAS_MEM_COMMIT, 0x104,
              VAS_MEM_PRIVATE);
    CHECK_MBI(vq(f.p, top - 0x1000), top - 0x1000, s, VAS_PAGE_READWRITE, 0x1000, VAS_MEM_COMMIT, VAS_PAGE_READWRITE,
              VAS_MEM_PRIVATE);
    /* Any base protection but PAGE_NOACCESS takes the guard. */
    uint64_t x = reserve_commit(&f, 0x1000, VAS_PAGE_EXECUTE_READ | VAS_PAGE_GUARD);
    CHECK_EQ(vq(f.p, x).protect, VAS_PAGE_EXECUTE_READ | VAS_PAGE_GUARD);
    CHECK_FAILS_CLEAN(&f, vas_virtual_alloc(f.p, s, 0x1000, VAS_MEM_COMMIT, VAS_PAGE_NOACCESS | VAS_PAGE_GUARD),
                      VAS_ERROR_INVALID_PARAMETER);
    fx_close(&f);
}

static void fact_19_allocation_protect_is_fixed(void)
{
    fx f = fx_open();
    uint64_t a = reserve_commit(&f, 0x2000, VAS_PAGE_NOACCESS);
    static const uint32_t sequence[] = {VAS_PAGE_READONLY, VAS_PAGE_READWRITE, VAS_PAGE_EXECUTE_READWRITE,
                                        VAS_PAGE_EXECUTE, VAS_PAGE_READWRITE | VAS_PAGE_GUARD, VAS_PAGE_NOACCESS};
    for (size_t i = 0; i < sizeof sequence / sizeof sequence[0]; i++) {
        uint32_t old;
        CHECK(vas_virtual_protect(f.p, a, 0x1000, sequence[i], &old));
        CHECK_EQ(vq(f.p, a).allocation_protect, VAS_PAGE_NOACCESS);
        CHECK_EQ(vq(f.p, a).protect, sequence[i]);
    }
    /* Decommitting and committing with another protection does not change it either. */
    CHECK(vas_virtual_free(f.p, a, 0x2000, VAS_MEM_DECOMMIT));
    CHECK_EQ(vas_virtual_alloc(f.p, a, 0x2000, VAS_MEM_COMMIT, VAS_PAGE_READWRITE), a);
    CHECK_MBI(vq(f.p, a), a, a, VAS_PAGE_NOACCESS, 0x2000, VAS_MEM_COMMIT, VAS_PAGE_READWRITE, VAS_MEM_PRIVATE);

    /* An allocation made PAGE_READWRITE|PAGE_GUARD keeps 0x104 once the guard is gone, whether
       an access consumed it or VirtualProtect removed it. */
    uint64_t g = reserve_commit(&f, 0x1000, VAS_PAGE_READWRITE | VAS_PAGE_GUARD);
    uint32_t value = 0, old;
    vas_exception e;
    CHECK_EQ(vas_read(f.p, g, &value, sizeof value, &e), VAS_STATUS_GUARD_PAGE_VIOLATION);
    CHECK_EQ(e.address, g);
    CHECK_MBI(vq(f.p, g), g, g, 0x104, 0x1000, VAS_MEM_COMMIT, VAS_PAGE_READWRITE, VAS_MEM_PRIVATE);
    CHECK_EQ(vas_read(f.p, g, &value, sizeof value, NULL), VAS_STATUS_SUCCESS);
    CHECK(vas_virtual_protect(f.p, g, 0x1000, VAS_PAGE_READWRITE | VAS_PAGE_GUARD, &old));
    CHECK_EQ(old, VAS_PAGE_READWRITE);
    CHECK(vas_virtual_protect(f.p, g, 0x1000, VAS_PAGE_READWRITE, &old));
    CHECK_EQ(old, 0x104);
    CHECK_MBI(vq(f.p, g), g, g, 0x104, 0x1000, VAS_MEM_COMMIT, VAS_PAGE_READWRITE, VAS_MEM_PRIVATE);
    fx_close(&f);
}

/* ---- C. VirtualFree / NtFreeVirtualMemory ------------------------------------------------- */

static void fact_20_free_type_zero_refused(void)
{
    fx f = fx_open();
    uint64_t a = reserve(&f, 0, 0xFFFC, VAS_PAGE_NOACCESS);
    CHECK_EQ(vas_virtual_alloc(f.p, a, 0x1000, VAS_MEM_COMMIT, VAS_PAGE_NOACCESS), a);
    CHECK_FAILS_CLEAN(&f, vas_virtual_free(f.p, a, 0x10000, 0), VAS_ERROR_INVALID_PARAMETER);
    CHECK_FAILS_CLEAN(&f, vas_virtual_free(f.p, a, 0, 0), VAS_ERROR_INVALID_PARAMETER);
    /* The same on another process (VirtualFreeEx). */
    fx other = {f.m, vas_process_create(f.m, NULL)};
    CHECK(other.p);
    uint64_t b = vas_virtual_alloc(other.p, 0, 0x10000, VAS_MEM_RESERVE, VAS_PAGE_NOACCESS);
    CHECK(b != 0);
    CHECK_FAILS_CLEAN(&other, vas_virtual_free(other.p, b, 0x10000, 0), VAS_ERROR_INVALID_PARAMETER);
    fx_close(&f);
}

/* Documented (VirtualFree, dwFreeType): exactly one of MEM_DECOMMIT and MEM_RELEASE
   (MEM_FREE is a state, not a free type); MEM_DECOMMIT with size 0 at the base decommits the
   whole allocation. */
static void fact_21_free_type_is_decommit_or_release(void)
{
    fx f = fx_open();
    uint64_t a = reserve_commit(&f, 0x10000, VAS_PAGE_READWRITE);
    CHECK_FAILS_CLEAN(&f, vas_virtual_free(f.p, a, 0, VAS_MEM_FREE), VAS_ERROR_INVALID_PARAMETER);
    CHECK_FAILS_CLEAN(&f, vas_virtual_free(f.p, a, 0, VAS_MEM_DECOMMIT | VAS_MEM_RELEASE), VAS_ERROR_INVALID_PARAMETER);
    CHECK_FAILS_CLEAN(&f, vas_virtual_free(f.p, a, 0x1000, VAS_MEM_DECOMMIT | VAS_MEM_RELEASE),
                      VAS_ERROR_INVALID_PARAMETER);
    vas_process_counters before = counters_of(f.p);
    CHECK(vas_virtual_free(f.p, a, 0, VAS_MEM_DECOMMIT));
    CHECK_MBI(vq(f.p, a), a, a, VAS_PAGE_READWRITE, 0x10000, VAS_MEM_RESERVE, 0, VAS_MEM_PRIVATE);
    vas_process_counters after = counters_of(f.p);
    CHECK_EQ(after.commit_charge, before.commit_charge - 0x10000);
    CHECK_EQ(after.virtual_size, before.virtual_size);
    CHECK_EQ(after.allocation_count, before.allocation_count);
    fx_close(&f);
}

static void fact_22_decommit_of_uncommitted_pages_succeeds(void)
{
    fx f = fx_open();
    uint64_t a = reserve(&f, 0, 0xFFFC, VAS_PAGE_NOACCESS);
    CHECK_EQ(vas_virtual_alloc(f.p, a, 0x1000, VAS_MEM_COMMIT, VAS_PAGE_NOACCESS), a);
    CHECK(vas_virtual_free(f.p, a, 0x10000, VAS_MEM_DECOMMIT));
    CHECK_MBI(vq(f.p, a), a, a, VAS_PAGE_NOACCESS, 0x10000, VAS_MEM_RESERVE, 0, VAS_MEM_PRIVATE);
    /* Nothing committed at all: still fine, still nothing changes. */
    vas_set_last_error(0x1234);
    CHECK(vas_virtual_free(f.p, a + 0x4000, 0x3000, VAS_MEM_DECOMMIT));
    CHECK_EQ(vas_last_error(), 0x1234); /* success leaves the last error alone */
    CHECK_MBI(vq(f.p, a), a, a, VAS_PAGE_NOACCESS, 0x10000, VAS_MEM_RESERVE, 0, VAS_MEM_PRIVATE);
    fx_close(&f);
}

static void fact_23_win32_release_needs_size_zero(void)
{
    fx f = fx_open();
    uint64_t a = reserve(&f, 0, 0xFFFC, VAS_PAGE_NOACCESS);
    CHECK_FAILS_CLEAN(&f, vas_virtual_free(f.p, a, 1, VAS_MEM_RELEASE), VAS_ERROR_INVALID_PARAMETER);
    CHECK_FAILS_CLEAN(&f, vas_virtual_free(f.p, a, 0x10000, VAS_MEM_RELEASE), VAS_ERROR_INVALID_PARAMETER);
    vas_process_counters before = counters_of(f.p);
    CHECK(vas_virtual_free(f.p, a, 0, VAS_MEM_RELEASE));
    CHECK_MBI(vq(f.p, a), a, 0, 0, vq(f.p, a).region_size, VAS_MEM_FREE, VAS_PAGE_NOACCESS, 0);
    vas_process_counters after = counters_of(f.p);
    CHECK_EQ(after.virtual_size, before.virtual_size - 0x10000);
    CHECK_EQ(after.allocation_count, before.allocation_count - 1);
    fx_close(&f);
}

/* Wine's NtAllocateVirtualMemory test, next to fact 25: a decommit covers every page its
   range touches, and NT writes the rounded range back. */
static void fact_24_nt_decommit_rounds_the_range(void)
{
    fx f = fx_open();
    uint64_t a = reserve_commit(&f, 0x10000, VAS_PAGE_EXECUTE_READWRITE);
    CHECK_NT_FREE(&f, a + 0x1FFF, 2, VAS_MEM_DECOMMIT, a + 0x1000, 0x2000);
    CHECK_MBI(vq(f.p, a), a, a, VAS_PAGE_EXECUTE_READWRITE, 0x1000, VAS_MEM_COMMIT, VAS_PAGE_EXECUTE_READWRITE,
              VAS_MEM_PRIVATE);
    CHECK_MBI(vq(f.p, a + 0x1000), a + 0x1000, a, VAS_PAGE_EXECUTE_READWRITE, 0x2000, VAS_MEM_RESERVE, 0,
              VAS_MEM_PRIVATE);
    CHECK_MBI(vq(f.p, a + 0x3000), a + 0x3000, a, VAS_PAGE_EXECUTE_READWRITE, 0xD000, VAS_MEM_COMMIT,
              VAS_PAGE_EXECUTE_READWRITE, VAS_MEM_PRIVATE);
    fx_close(&f);
}

static void fact_25_size_zero_needs_the_first_page(void)
{
    fx f = fx_open();
    uint64_t a = reserve_commit(&f, 0x10000, VAS_PAGE_EXECUTE_READWRITE);
    CHECK_NT_FREE_FAILS(&f, a + 0x1001, 0, VAS_MEM_DECOMMIT, VAS_STATUS_FREE_VM_NOT_AT_BASE);
    /* Any address in the first page names the allocation. Current Windows reports size 0 for
       this decommit; Windows 10 1709 and earlier 0x10000 (spec section 3, item 7). */
    uint64_t b = a + 0xFFE, s = 0;
    CHECK_EQ(vas_nt_free_virtual_memory(f.p, &b, &s, VAS_MEM_DECOMMIT), VAS_STATUS_SUCCESS);
    CHECK_EQ(b, a);
    CHECK(s == 0 || s == 0x10000);
    CHECK_MBI(vq(f.p, a), a, a, VAS_PAGE_EXECUTE_READWRITE, 0x10000, VAS_MEM_RESERVE, 0, VAS_MEM_PRIVATE);
    CHECK_NT_FREE_FAILS(&f, a + 0x1001, 0, VAS_MEM_RELEASE, VAS_STATUS_FREE_VM_NOT_AT_BASE);
    CHECK_NT_FREE(&f, a + 0xFFF, 0, VAS_MEM_RELEASE, a, 0x10000);
    CHECK_EQ(vq(f.p, a).state, VAS_MEM_FREE);
    fx_close(&f);
}

static void fact_26_release_at_a_non_base_address(void)
{
    fx f = fx_open();
    uint64_t a = reserve_commit(&f, 0x10000, VAS_PAGE_READWRITE);
    CHECK_NT_FREE_FAILS(&f, a + 0x1000, 0, VAS_MEM_RELEASE, VAS_STATUS_FREE_VM_NOT_AT_BASE);
    CHECK_FAILS_CLEAN(&f, vas_virtual_free(f.p, a + 0x1000, 0, VAS_MEM_RELEASE), VAS_ERROR_INVALID_ADDRESS);
    CHECK_FAILS_CLEAN(&f, vas_virtual_free(f.p, a + 0x1000, 0, VAS_MEM_DECOMMIT), VAS_ERROR_INVALID_ADDRESS);
    fx_close(&f);
}

/* Wine's NtFreeVirtualMemory test: a range that runs past the end of the allocation cannot be
   released (STATUS_UNABLE_TO_FREE_VM, Win32 87), and address and size are left as passed. */
static void fact_27_release_past_the_end(void)
{
    fx f = fx_open();
    uint64_t a = reserve_commit(&f, 0x10000, VAS_PAGE_READWRITE);
    CHECK_NT_FREE_FAILS(&f, a, 0x11000, VAS_MEM_RELEASE, VAS_STATUS_UNABLE_TO_FREE_VM);
    CHECK_NT_FREE_FAILS(&f, a + 0x1001, 0xFFFF, VAS_MEM_RELEASE, VAS_STATUS_UNABLE_TO_FREE_VM);
    CHECK_NT_FREE_FAILS(&f, a + 0x1001, 0xFFFF, VAS_MEM_DECOMMIT, VAS_STATUS_UNABLE_TO_FREE_VM);
    CHECK_FAILS_CLEAN(&f, vas_virtual_free(f.p, a, 0x11000, VAS_MEM_DECOMMIT), VAS_ERROR_INVALID_PARAMETER);
    fx_close(&f);
}

/* Facts 28-32 are one sequence on a committed 0x10000 allocation A; each test replays the
   steps before its own. */
static uint64_t partial_release_setup(fx *f, int steps)
{
    uint64_t a = reserve_commit(f, 0x10000, VAS_PAGE_READWRITE);
    if (steps >= 1)
        CHECK_NT_FREE(f, a + 0x1001, 0xFFF, VAS_MEM_RELEASE, a + 0x1000, 0x1000);
    if (steps >= 2)
        CHECK_NT_FREE(f, a + 1, 0xFFF, VAS_MEM_RELEASE, a, 0x1000);
    if (steps >= 3) {
        uint64_t b = a, s = 0x1000;
        CHECK_EQ(vas_nt_allocate_virtual_memory(f->p, &b, 0, &s, VAS_MEM_RESERVE | VAS_MEM_COMMIT, VAS_PAGE_READWRITE),
                 VAS_STATUS_SUCCESS);
    }
    return a;
}

static void fact_28_nt_release_of_a_sub_range(void)
{
    fx f = fx_open();
    uint64_t a = partial_release_setup(&f, 0);
    vas_process_counters before = counters_of(f.p);
    CHECK_NT_FREE(&f, a + 0x1001, 0xFFF, VAS_MEM_RELEASE, a + 0x1000, 0x1000);
    /* A hole in the middle: the head and the tail are allocations of their own. */
    CHECK_MBI(vq(f.p, a), a, a, VAS_PAGE_READWRITE, 0x1000, VAS_MEM_COMMIT, VAS_PAGE_READWRITE, VAS_MEM_PRIVATE);
    CHECK_MBI(vq(f.p, a + 0x1000), a + 0x1000, 0, 0, 0x1000, VAS_MEM_FREE, VAS_PAGE_NOACCESS, 0);
    CHECK_MBI(vq(f.p, a + 0x2000), a + 0x2000, a + 0x2000, VAS_PAGE_READWRITE, 0xE000, VAS_MEM_COMMIT,
              VAS_PAGE_READWRITE, VAS_MEM_PRIVATE);
    vas_process_counters after = counters_of(f.p);
    CHECK_EQ(after.allocation_count, before.allocation_count + 1);
    CHECK_EQ(after.virtual_size, before.virtual_size - 0x1000);
    CHECK_EQ(after.commit_charge, before.commit_charge - 0x1000);
    /* Pages A and A+0x2000 stay writable; the hole is not. */
    const uint8_t one = 1;
    vas_exception e;
    CHECK_EQ(vas_write(f.p, a, &one, 1, NULL), VAS_STATUS_SUCCESS);
    CHECK_EQ(vas_write(f.p, a + 0x2000, &one, 1, NULL), VAS_STATUS_SUCCESS);
    CHECK_EQ(vas_write(f.p, a + 0x1000, &one, 1, &e), VAS_STATUS_ACCESS_VIOLATION);
    CHECK_EQ(e.access, VAS_EXCEPTION_WRITE_FAULT);
    CHECK_EQ(e.address, a + 0x1000);

    CHECK_NT_FREE(&f, a + 1, 0xFFF, VAS_MEM_RELEASE, a, 0x1000);
    CHECK_EQ(vq(f.p, a).state, VAS_MEM_FREE);
    CHECK_EQ(vq(f.p, a).region_size, 0x2000);
    CHECK_MBI(vq(f.p, a + 0x2000), a + 0x2000, a + 0x2000, VAS_PAGE_READWRITE, 0xE000, VAS_MEM_COMMIT,
              VAS_PAGE_READWRITE, VAS_MEM_PRIVATE);
    CHECK_EQ(vas_write(f.p, a + 0x2000, &one, 1, NULL), VAS_STATUS_SUCCESS);
    uint8_t back = 0;
    CHECK_EQ(vas_read(f.p, a + 0x2000, &back, 1, NULL), VAS_STATUS_SUCCESS);
    CHECK_EQ(back, 1);
    CHECK_EQ(vas_write(f.p, a, &one, 1, NULL), VAS_STATUS_ACCESS_VIOLATION);
    fx_close(&f);
}

static void fact_29_released_hole_can_be_reserved_again(void)
{
    fx f = fx_open();
    uint64_t a = partial_release_setup(&f, 2);
    uint64_t b = a, s = 0x1000;
    CHECK_EQ(vas_nt_allocate_virtual_memory(f.p, &b, 0, &s, VAS_MEM_RESERVE | VAS_MEM_COMMIT, VAS_PAGE_READWRITE),
             VAS_STATUS_SUCCESS);
    CHECK_EQ(b, a);
    CHECK_EQ(s, 0x1000);
    CHECK_MBI(vq(f.p, a), a, a, VAS_PAGE_READWRITE, 0x1000, VAS_MEM_COMMIT, VAS_PAGE_READWRITE, VAS_MEM_PRIVATE);
    CHECK_MBI(vq(f.p, a + 0x1000), a + 0x1000, 0, 0, 0x1000, VAS_MEM_FREE, VAS_PAGE_NOACCESS, 0);
    fx_close(&f);
}

/* Wine's NtFreeVirtualMemory test, after fact 29: on the one-page allocation at A, a decommit
   or release of 0x10000 bytes runs past its end: STATUS_UNABLE_TO_FREE_VM for both. */
static void fact_30_free_past_a_small_allocation(void)
{
    fx f = fx_open();
    uint64_t a = partial_release_setup(&f, 3);
    CHECK_NT_FREE_FAILS(&f, a, 0x10000, VAS_MEM_DECOMMIT, VAS_STATUS_UNABLE_TO_FREE_VM);
    CHECK_NT_FREE_FAILS(&f, a, 0x10000, VAS_MEM_RELEASE, VAS_STATUS_UNABLE_TO_FREE_VM);
    CHECK_FAILS_CLEAN(&f, vas_virtual_free(f.p, a, 0x10000, VAS_MEM_DECOMMIT), VAS_ERROR_INVALID_PARAMETER);
    fx_close(&f);
}

static void fact_31_freeing_free_memory(void)
{
    fx f = fx_open();
    uint64_t a = partial_release_setup(&f, 3);
    CHECK_NT_FREE_FAILS(&f, a + 0x1000, 0, VAS_MEM_RELEASE, VAS_STATUS_MEMORY_NOT_ALLOCATED);
    CHECK_NT_FREE_FAILS(&f, a + 0x1000, 0x1000, VAS_MEM_DECOMMIT, VAS_STATUS_MEMORY_NOT_ALLOCATED);
    CHECK_FAILS_CLEAN(&f, vas_virtual_free(f.p, a + 0x1000, 0, VAS_MEM_RELEASE), VAS_ERROR_INVALID_ADDRESS);
    CHECK_FAILS_CLEAN(&f, vas_virtual_free(f.p, a + 0x1000, 0x1000, VAS_MEM_DECOMMIT), VAS_ERROR_INVALID_ADDRESS);
    /* Releasing twice (Win32). */
    uint64_t b = reserve(&f, 0, 0x10000, VAS_PAGE_NOACCESS);
    CHECK(vas_virtual_free(f.p, b, 0, VAS_MEM_RELEASE));
    CHECK_FAILS_CLEAN(&f, vas_virtual_free(f.p, b, 0, VAS_MEM_RELEASE), VAS_ERROR_INVALID_ADDRESS);
    fx_close(&f);
}

static void fact_32_the_tail_is_an_allocation_of_its_own(void)
{
    fx f = fx_open();
    uint64_t a = partial_release_setup(&f, 3);
    CHECK_NT_FREE(&f, a + 0x2000, 0, VAS_MEM_RELEASE, a + 0x2000, 0xE000);
    CHECK_MBI(vq(f.p, a + 0x1000), a + 0x1000, 0, 0, vq(f.p, a + 0x1000).region_size, VAS_MEM_FREE,
              VAS_PAGE_NOACCESS, 0);
    CHECK(vq(f.p, a + 0x1000).region_size >= 0xF000);
    CHECK_NT_FREE(&f, a, 0x1000, VAS_MEM_RELEASE, a, 0x1000);
    CHECK_EQ(vq(f.p, a).state, VAS_MEM_FREE);
    fx_close(&f);
}

/* ---- F. MEM_RESET ------------------------------------------------------------------------ */

static void fact_56_reset_keeps_state_and_protection(void)
{
    fx f = fx_open();
    uint64_t a = reserve_commit(&f, 0x1000, VAS_PAGE_READWRITE);
    uint8_t data[20];
    memset(data, 0x55, sizeof data);
    CHECK_EQ(vas_write(f.p, a, data, sizeof data, NULL), VAS_STATUS_SUCCESS);
    vas_process_counters before = counters_of(f.p);
    CHECK_EQ(vas_virtual_alloc(f.p, a, 0x1000, VAS_MEM_RESET, VAS_PAGE_NOACCESS), a);
    CHECK_MBI(vq(f.p, a), a, a, VAS_PAGE_READWRITE, 0x1000, VAS_MEM_COMMIT, VAS_PAGE_READWRITE, VAS_MEM_PRIVATE);
    /* The data is either still there or zero, and the page is still readable. */
    uint32_t word = 0xDEADBEEF;
    CHECK_EQ(vas_read(f.p, a, &word, sizeof word, NULL), VAS_STATUS_SUCCESS);
    CHECK(word == 0x55555555u || word == 0);
    vas_process_counters after = counters_of(f.p);
    CHECK_EQ(after.commit_charge, before.commit_charge);
    CHECK_EQ(after.virtual_size, before.virtual_size);
    fx_close(&f);
}

/* Documented (VirtualAlloc, MEM_RESET): it stands alone, and on reserved pages it changes
   nothing (the test behind fact 16 resets a reserved page and finds it still reserved). */
static void fact_57_reset_of_reserved_pages(void)
{
    fx f = fx_open();
    uint64_t a = reserve(&f, 0, 0x10000, VAS_PAGE_NOACCESS);
    CHECK_EQ(vas_virtual_alloc(f.p, a, 0x1000, VAS_MEM_COMMIT, VAS_PAGE_READWRITE), a);
    CHECK_EQ(vas_virtual_alloc(f.p, a + 0x1000, 0x1000, VAS_MEM_RESET, VAS_PAGE_NOACCESS), a + 0x1000);
    CHECK_MBI(vq(f.p, a + 0x1000), a + 0x1000, a, VAS_PAGE_NOACCESS, 0xF000, VAS_MEM_RESERVE, 0, VAS_MEM_PRIVATE);
    CHECK_EQ(vas_virtual_alloc(f.p, a, 0x10000, VAS_MEM_RESET, VAS_PAGE_READONLY), a);
    CHECK_MBI(vq(f.p, a), a, a, VAS_PAGE_NOACCESS, 0x1000, VAS_MEM_COMMIT, VAS_PAGE_READWRITE, VAS_MEM_PRIVATE);
    static const uint32_t with[] = {VAS_MEM_COMMIT, VAS_MEM_RESERVE, VAS_MEM_TOP_DOWN, VAS_MEM_RESET_UNDO};
    for (size_t i = 0; i < 4; i++)
        CHECK_FAILS_CLEAN(&f, vas_virtual_alloc(f.p, a, 0x1000, VAS_MEM_RESET | with[i], VAS_PAGE_READWRITE),
                          VAS_ERROR_INVALID_PARAMETER);
    fx_close(&f);
}

static void fact_58_reset_past_the_end_of_the_allocation(void)
{
    fx f = fx_open();
    uint64_t a = reserve(&f, 0, 0xFFFC, VAS_PAGE_NOACCESS);
    CHECK_EQ(vas_virtual_alloc(f.p, a, 0x1000, VAS_MEM_COMMIT, VAS_PAGE_READWRITE), a);
    CHECK_FAILS_CLEAN(&f, vas_virtual_alloc(f.p, a + 0xF000, 0x2000, VAS_MEM_RESET, VAS_PAGE_NOACCESS),
                      VAS_ERROR_INVALID_ADDRESS);
    /* In free memory. */
    CHECK(vas_virtual_free(f.p, a, 0, VAS_MEM_RELEASE));
    CHECK_FAILS_CLEAN(&f, vas_virtual_alloc(f.p, a, 0x1000, VAS_MEM_RESET, VAS_PAGE_NOACCESS),
                      VAS_ERROR_INVALID_ADDRESS);
    fx_close(&f);
}

/* Fact 59 (MEM_RESET on section views) is out of scope here: views and sections come with the
   section issue. */

static const check_test tests[] = {
    TEST(fact_15_commit_inside_a_reservation),
    TEST(fact_16_region_size_is_the_run_from_the_page),
    TEST(fact_17_commit_over_partly_committed_range),
    TEST(fact_18_guard_pages_commit),
    TEST(fact_19_allocation_protect_is_fixed),
    TEST(fact_20_free_type_zero_refused),
    TEST(fact_21_free_type_is_decommit_or_release),
    TEST(fact_22_decommit_of_uncommitted_pages_succeeds),
    TEST(fact_23_win32_release_needs_size_zero),
    TEST(fact_24_nt_decommit_rounds_the_range),
    TEST(fact_25_size_zero_needs_the_first_page),
    TEST(fact_26_release_at_a_non_base_address),
    TEST(fact_27_release_past_the_end),
    TEST(fact_28_nt_release_of_a_sub_range),
    TEST(fact_29_released_hole_can_be_reserved_again),
    TEST(fact_30_free_past_a_small_allocation),
    TEST(fact_31_freeing_free_memory),
    TEST(fact_32_the_tail_is_an_allocation_of_its_own),
    TEST(fact_56_reset_keeps_state_and_protection),
    TEST(fact_57_reset_of_reserved_pages),
    TEST(fact_58_reset_past_the_end_of_the_allocation),
};

CHECK_MAIN(tests)
