/*
 * test_alloc.c - Windows facts of groups A and M (../shared/spec/windows-behavior.md):
 * VirtualAlloc's parameters, alignment and protections; zero_bits, MEM_TOP_DOWN and
 * VirtualAlloc2's address requirements. Black-box: vas.h only.
 *
 * The spec keeps back every third fact; tests named fact_03, fact_06, fact_09, fact_12 and
 * fact_120 check what Microsoft documents for VirtualAlloc / NtAllocateVirtualMemory instead
 * (the gap's exact wording is unknown, the behaviour is not). Every failing call is also
 * checked to change nothing (facts.h).
 */
#include "facts.h"

/* Fact 8's whitelist: exactly one base value, and not a write-copy one. */
static int valid_private_protection(uint32_t p)
{
    return p && p <= 0xFF && !(p & (p - 1)) && p != VAS_PAGE_WRITECOPY && p != VAS_PAGE_EXECUTE_WRITECOPY;
}

static uint64_t max_address(vas_process *p)
{
    vas_system_info si;
    vas_get_system_info(p, &si);
    return si.maximum_application_address;
}

/* ---- A. VirtualAlloc: parameters, alignment, protections ---------------------------------- */

static void fact_01_zero_size_fails(void)
{
    fx f = fx_open();
    CHECK_FAILS_CLEAN(&f, vas_virtual_alloc(f.p, 0, 0, VAS_MEM_RESERVE, VAS_PAGE_NOACCESS),
                      VAS_ERROR_INVALID_PARAMETER);
    CHECK_FAILS_CLEAN(&f, vas_virtual_alloc(f.p, 0, 0, VAS_MEM_RESERVE | VAS_MEM_COMMIT, VAS_PAGE_READWRITE),
                      VAS_ERROR_INVALID_PARAMETER);
    /* VirtualAllocEx on another process. */
    fx other = {f.m, vas_process_create(f.m, NULL)};
    CHECK(other.p);
    CHECK_FAILS_CLEAN(&other, vas_virtual_alloc(other.p, 0, 0, VAS_MEM_RESERVE, VAS_PAGE_NOACCESS),
                      VAS_ERROR_INVALID_PARAMETER);
    fx_close(&f);
}

static void fact_02_reserve_rounds_size_to_pages(void)
{
    fx f = fx_open();
    vas_process_counters before = counters_of(f.p);
    uint64_t a = vas_virtual_alloc(f.p, 0, 0xFFFC, VAS_MEM_RESERVE, VAS_PAGE_NOACCESS);
    CHECK(a != 0);
    CHECK_EQ(a % GRAN, 0);
    /* Uncommitted pages report Protect 0, not PAGE_NOACCESS. */
    CHECK_MBI(vq(f.p, a), a, a, VAS_PAGE_NOACCESS, 0x10000, VAS_MEM_RESERVE, 0, VAS_MEM_PRIVATE);
    vas_process_counters after = counters_of(f.p);
    CHECK_EQ(after.virtual_size, before.virtual_size + 0x10000);
    CHECK_EQ(after.allocation_count, before.allocation_count + 1);
    CHECK_EQ(after.commit_charge, before.commit_charge);

    /* Pages, not granules: 0x1001 bytes reserve two pages and the rest of the granule is free. */
    uint64_t base = 0, size = 0x1001;
    CHECK_EQ(vas_nt_allocate_virtual_memory(f.p, &base, 0, &size, VAS_MEM_RESERVE, VAS_PAGE_READWRITE),
             VAS_STATUS_SUCCESS);
    CHECK_EQ(size, 0x2000);
    CHECK_EQ(base % GRAN, 0);
    CHECK_MBI(vq(f.p, base), base, base, VAS_PAGE_READWRITE, 0x2000, VAS_MEM_RESERVE, 0, VAS_MEM_PRIVATE);
    CHECK_EQ(vq(f.p, base + 0x2000).state, VAS_MEM_FREE);

    /* The same through VirtualAllocEx / VirtualQueryEx on another process, which sees only its own. */
    vas_process *other = vas_process_create(f.m, NULL);
    CHECK(other != NULL);
    uint64_t b = vas_virtual_alloc(other, 0, 0xFFFC, VAS_MEM_RESERVE, VAS_PAGE_NOACCESS);
    CHECK(b != 0);
    CHECK_MBI(vq(other, b), b, b, VAS_PAGE_NOACCESS, 0x10000, VAS_MEM_RESERVE, 0, VAS_MEM_PRIVATE);
    CHECK_EQ(counters_of(other).allocation_count, before.allocation_count + 1);
    fx_close(&f);
}

/* Documented (VirtualAlloc, lpAddress): a freed 64 KB-aligned address can be reserved again
   exactly, and a reservation's address is rounded down to the allocation granularity while its
   end covers every page the range touches. */
static void fact_03_reserve_again_at_freed_address(void)
{
    fx f = fx_open();
    uint64_t a = vas_virtual_alloc(f.p, 0, 0x2000, VAS_MEM_RESERVE | VAS_MEM_COMMIT, VAS_PAGE_EXECUTE_READWRITE);
    CHECK(a != 0);
    CHECK_EQ(a % GRAN, 0);
    CHECK(vas_virtual_free(f.p, a, 0, VAS_MEM_RELEASE));
    CHECK_EQ(vas_virtual_alloc(f.p, a, 0x1000, VAS_MEM_RESERVE | VAS_MEM_COMMIT, VAS_PAGE_EXECUTE_READWRITE), a);
    CHECK_MBI(vq(f.p, a), a, a, VAS_PAGE_EXECUTE_READWRITE, 0x1000, VAS_MEM_COMMIT,
              VAS_PAGE_EXECUTE_READWRITE, VAS_MEM_PRIVATE);
    CHECK(vas_virtual_free(f.p, a, 0, VAS_MEM_RELEASE));

    /* An unaligned free address: the base is its granule, the end the page after the last byte. */
    CHECK_EQ(vas_virtual_alloc(f.p, a + 0x1234, 0x1000, VAS_MEM_RESERVE, VAS_PAGE_NOACCESS), a);
    CHECK_MBI(vq(f.p, a), a, a, VAS_PAGE_NOACCESS, 0x3000, VAS_MEM_RESERVE, 0, VAS_MEM_PRIVATE);
    CHECK(vas_virtual_free(f.p, a, 0, VAS_MEM_RELEASE));
    uint64_t base = a + 0x1234, size = 0x1000;
    CHECK_EQ(vas_nt_allocate_virtual_memory(f.p, &base, 0, &size, VAS_MEM_RESERVE, VAS_PAGE_NOACCESS),
             VAS_STATUS_SUCCESS);
    CHECK_EQ(base, a);
    CHECK_EQ(size, 0x3000);
    fx_close(&f);
}

static void fact_04_requested_base_is_its_granule(void)
{
    fx f = fx_open();
    uint64_t a = 0, size = 0x1000;
    CHECK_EQ(vas_nt_allocate_virtual_memory(f.p, &a, 0, &size, VAS_MEM_RESERVE | VAS_MEM_COMMIT,
                                            VAS_PAGE_EXECUTE_READWRITE), VAS_STATUS_SUCCESS);
    CHECK_EQ(a % GRAN, 0);
    CHECK_EQ(vq(f.p, a + 0x1000).state, VAS_MEM_FREE); /* free, but in a's granule */
    static const uint64_t zero_bits[] = {0, 12};
    for (size_t i = 0; i < 2; i++) {
        uint64_t b = a + 0x1000, s = 0x1000;
        CHECK_NT_FAILS(&f, vas_nt_allocate_virtual_memory(f.p, &b, zero_bits[i], &s, VAS_MEM_RESERVE | VAS_MEM_COMMIT,
                                                          VAS_PAGE_EXECUTE_READWRITE),
                       VAS_STATUS_CONFLICTING_ADDRESSES);
        CHECK_EQ(b, a + 0x1000); /* unchanged on failure */
        CHECK_EQ(s, 0x1000);
    }
    CHECK_FAILS_CLEAN(&f, vas_virtual_alloc(f.p, a + 0x1000, 0x1000, VAS_MEM_RESERVE | VAS_MEM_COMMIT,
                                            VAS_PAGE_EXECUTE_READWRITE), VAS_ERROR_INVALID_ADDRESS);
    CHECK_FAILS_CLEAN(&f, vas_virtual_alloc(f.p, a + 0xF000, 0x1000, VAS_MEM_RESERVE, VAS_PAGE_NOACCESS),
                      VAS_ERROR_INVALID_ADDRESS);
    fx_close(&f);
}

static void fact_05_at_round_to_page_refused(void)
{
    fx f = fx_open();
    uint64_t a = vas_virtual_alloc(f.p, 0, 0x2000, VAS_MEM_RESERVE | VAS_MEM_COMMIT, VAS_PAGE_EXECUTE_READWRITE);
    CHECK(a != 0);
    CHECK(vas_virtual_free(f.p, a, 0, VAS_MEM_RELEASE));
    /* At the free address and at an occupied one. */
    CHECK_FAILS_CLEAN(&f, vas_virtual_alloc(f.p, a, 0x1000, VAS_MEM_RESERVE | VAS_MEM_COMMIT | VAS_AT_ROUND_TO_PAGE,
                                            VAS_PAGE_EXECUTE_READWRITE), VAS_ERROR_INVALID_PARAMETER);
    CHECK_EQ(vas_virtual_alloc(f.p, a, 0x1000, VAS_MEM_RESERVE | VAS_MEM_COMMIT, VAS_PAGE_EXECUTE_READWRITE), a);
    CHECK_FAILS_CLEAN(&f, vas_virtual_alloc(f.p, a, 0x1000, VAS_MEM_RESERVE | VAS_MEM_COMMIT | VAS_AT_ROUND_TO_PAGE,
                                            VAS_PAGE_EXECUTE_READWRITE), VAS_ERROR_INVALID_PARAMETER);
    uint64_t b = a + 0x1000, s = 0x1000;
    snapshot before;
    snap_take(&f, &before);
    uint32_t status = vas_nt_allocate_virtual_memory(f.p, &b, 0, &s, VAS_MEM_RESERVE | VAS_MEM_COMMIT | VAS_AT_ROUND_TO_PAGE,
                                                     VAS_PAGE_EXECUTE_READWRITE);
    CHECK(status == VAS_STATUS_INVALID_PARAMETER_5 || status == VAS_STATUS_INVALID_PARAMETER);
    CHECK_UNCHANGED(&f, &before);
    CHECK_EQ(b, a + 0x1000);
    CHECK_EQ(s, 0x1000);
    fx_close(&f);
}

/* Documented (VirtualAlloc): flProtect must be a valid protection even to reserve, the type
   must name MEM_COMMIT, MEM_RESERVE, MEM_RESET or MEM_RESET_UNDO, and a reservation cannot
   overlap another one (ERROR_INVALID_ADDRESS). */
static void fact_06_invalid_protection_type_or_overlap(void)
{
    fx f = fx_open();
    CHECK_FAILS_CLEAN(&f, vas_virtual_alloc(f.p, 0, 0x1000, VAS_MEM_RESERVE, 0), VAS_ERROR_INVALID_PARAMETER);
    CHECK_FAILS_CLEAN(&f, vas_virtual_alloc(f.p, 0, 0x1000, VAS_MEM_COMMIT, 0), VAS_ERROR_INVALID_PARAMETER);
    CHECK_FAILS_CLEAN(&f, vas_virtual_alloc(f.p, 0, 0x1000, 0, VAS_PAGE_READWRITE), VAS_ERROR_INVALID_PARAMETER);
    CHECK_FAILS_CLEAN(&f, vas_virtual_alloc(f.p, 0, 0x1000, VAS_MEM_TOP_DOWN, VAS_PAGE_READWRITE),
                      VAS_ERROR_INVALID_PARAMETER);
    CHECK_FAILS_CLEAN(&f, vas_virtual_alloc(f.p, 0, 0x1000, VAS_MEM_RESERVE | VAS_MEM_FREE, VAS_PAGE_READWRITE),
                      VAS_ERROR_INVALID_PARAMETER);
    uint64_t a = vas_virtual_alloc(f.p, 0, 0x20000, VAS_MEM_RESERVE, VAS_PAGE_READWRITE);
    CHECK(a != 0);
    CHECK_FAILS_CLEAN(&f, vas_virtual_alloc(f.p, a, 0x1000, VAS_MEM_RESERVE, VAS_PAGE_READWRITE),
                      VAS_ERROR_INVALID_ADDRESS);
    CHECK_FAILS_CLEAN(&f, vas_virtual_alloc(f.p, a + GRAN, 0x1000, VAS_MEM_RESERVE | VAS_MEM_COMMIT, VAS_PAGE_READWRITE),
                      VAS_ERROR_INVALID_ADDRESS);
    /* A range that starts free but runs into the reservation. */
    uint64_t b = vas_virtual_alloc(f.p, 0, 0x10000, VAS_MEM_RESERVE, VAS_PAGE_READWRITE);
    CHECK(b != 0);
    CHECK(vas_virtual_free(f.p, b, 0, VAS_MEM_RELEASE));
    if (b + GRAN == a || b == a + 0x20000) {
        uint64_t low = b < a ? b : a + 0x10000;
        CHECK_FAILS_CLEAN(&f, vas_virtual_alloc(f.p, low, 0x20000, VAS_MEM_RESERVE, VAS_PAGE_READWRITE),
                          VAS_ERROR_INVALID_ADDRESS);
    }
    fx_close(&f);
}

static void fact_07_two_base_protections_refused(void)
{
    fx f = fx_open();
    uint64_t a = vas_virtual_alloc(f.p, 0, 0x10000, VAS_MEM_RESERVE, VAS_PAGE_NOACCESS);
    CHECK(a != 0);
    CHECK_FAILS_CLEAN(&f, vas_virtual_alloc(f.p, a, 0x1000, VAS_MEM_COMMIT, VAS_PAGE_READONLY | VAS_PAGE_EXECUTE),
                      VAS_ERROR_INVALID_PARAMETER);
    CHECK_MBI(vq(f.p, a), a, a, VAS_PAGE_NOACCESS, 0x10000, VAS_MEM_RESERVE, 0, VAS_MEM_PRIVATE);
    fx_close(&f);
}

static void fact_08_private_protection_whitelist(void)
{
    fx f = fx_open();
    int accepted = 0;
    for (uint32_t p = 0; p <= 0xFF; p++) {
        if (!valid_private_protection(p)) {
            CHECK_FAILS_CLEAN(&f, vas_virtual_alloc(f.p, 0, PAGE, VAS_MEM_COMMIT, p), VAS_ERROR_INVALID_PARAMETER);
            continue;
        }
        accepted++;
        uint64_t a = vas_virtual_alloc(f.p, 0, PAGE, VAS_MEM_COMMIT, p);
        CHECK(a != 0);
        CHECK_MBI(vq(f.p, a), a, a, p, PAGE, VAS_MEM_COMMIT, p, VAS_MEM_PRIVATE);
        CHECK_EQ(vas_virtual_alloc(f.p, a, PAGE, VAS_MEM_COMMIT, p), a); /* committing again */
        CHECK(vas_virtual_free(f.p, a, 0, VAS_MEM_RELEASE));
    }
    CHECK_EQ(accepted, 6);
    fx_close(&f);
}

/* Documented (VirtualAlloc, MEM_COMMIT): with a NULL address MEM_COMMIT reserves and commits
   in one step; the allocation starts on a granule and covers whole pages only. */
static void fact_09_commit_without_address_reserves(void)
{
    fx f = fx_open();
    vas_process_counters before = counters_of(f.p);
    uint64_t a = vas_virtual_alloc(f.p, 0, 0x1800, VAS_MEM_COMMIT, VAS_PAGE_READWRITE);
    CHECK(a != 0);
    CHECK_EQ(a % GRAN, 0);
    CHECK_MBI(vq(f.p, a), a, a, VAS_PAGE_READWRITE, 0x2000, VAS_MEM_COMMIT, VAS_PAGE_READWRITE, VAS_MEM_PRIVATE);
    vas_memory_basic_information rest = vq(f.p, a + 0x2000);
    CHECK_EQ(rest.state, VAS_MEM_FREE);
    CHECK_EQ(rest.allocation_base, 0);
    vas_process_counters after = counters_of(f.p);
    CHECK_EQ(after.allocation_count, before.allocation_count + 1);
    CHECK_EQ(after.virtual_size, before.virtual_size + 0x2000);
    CHECK_EQ(after.commit_charge, before.commit_charge + 0x2000);

    uint64_t base = 0, size = 0x1800;
    CHECK_EQ(vas_nt_allocate_virtual_memory(f.p, &base, 0, &size, VAS_MEM_COMMIT, VAS_PAGE_READONLY),
             VAS_STATUS_SUCCESS);
    CHECK(base != 0 && base != a);
    CHECK_EQ(size, 0x2000);
    CHECK_MBI(vq(f.p, base), base, base, VAS_PAGE_READONLY, 0x2000, VAS_MEM_COMMIT, VAS_PAGE_READONLY, VAS_MEM_PRIVATE);
    fx_close(&f);
}

static void fact_10_execute_and_access_mixing_rule(void)
{
    fx f = fx_open();
    uint64_t base = vas_virtual_alloc(f.p, 0, PAGE, VAS_MEM_RESERVE | VAS_MEM_COMMIT, VAS_PAGE_NOACCESS);
    CHECK(base != 0);
    static const uint32_t xs[] = {0, VAS_PAGE_EXECUTE, VAS_PAGE_EXECUTE_READ, VAS_PAGE_EXECUTE_READWRITE,
                                  VAS_PAGE_EXECUTE_WRITECOPY};
    static const uint32_t ys[] = {0, VAS_PAGE_NOACCESS, VAS_PAGE_READONLY, VAS_PAGE_READWRITE, VAS_PAGE_WRITECOPY};
    uint32_t current = VAS_PAGE_NOACCESS;
    for (size_t i = 0; i < 5; i++) {
        for (size_t j = 0; j < 5; j++) {
            uint32_t prot = xs[i] | ys[j], old = 0xDEADBEEF;
            int valid = (xs[i] != 0) != (ys[j] != 0) &&
                        !(prot & (VAS_PAGE_WRITECOPY | VAS_PAGE_EXECUTE_WRITECOPY));
            if (valid) {
                CHECK_EQ(vas_virtual_alloc(f.p, base, PAGE, VAS_MEM_COMMIT, prot), base);
                CHECK_EQ(vq(f.p, base).protect, prot);
                CHECK(vas_virtual_protect(f.p, base, PAGE, prot, &old));
                CHECK_EQ(old, prot);
                current = prot;
            } else {
                CHECK_FAILS_CLEAN(&f, vas_virtual_alloc(f.p, base, PAGE, VAS_MEM_COMMIT, prot),
                                  VAS_ERROR_INVALID_PARAMETER);
                CHECK_FAILS_CLEAN(&f, vas_virtual_protect(f.p, base, PAGE, prot, &old), VAS_ERROR_INVALID_PARAMETER);
            }
            CHECK_MBI(vq(f.p, base), base, base, VAS_PAGE_NOACCESS, PAGE, VAS_MEM_COMMIT, current, VAS_MEM_PRIVATE);
        }
    }
    fx_close(&f);
}

static void fact_11_nocache_accepted(void)
{
    fx f = fx_open();
    uint64_t a = vas_virtual_alloc(f.p, 0, 0x2000, VAS_MEM_COMMIT, VAS_PAGE_READWRITE | VAS_PAGE_NOCACHE);
    CHECK(a != 0);
    CHECK_MBI(vq(f.p, a), a, a, 0x204, 0x2000, VAS_MEM_COMMIT, 0x204, VAS_MEM_PRIVATE);
    fx_close(&f);
}

/* Documented (memory protection constants): PAGE_WRITECOMBINE is a modifier like
   PAGE_NOCACHE; neither goes with PAGE_NOACCESS, PAGE_GUARD or the other, and PAGE_GUARD does
   not go with PAGE_NOACCESS. */
static void fact_12_modifier_combinations(void)
{
    fx f = fx_open();
    uint64_t a = vas_virtual_alloc(f.p, 0, 0x1000, VAS_MEM_COMMIT, VAS_PAGE_READWRITE | VAS_PAGE_WRITECOMBINE);
    CHECK(a != 0);
    CHECK_MBI(vq(f.p, a), a, a, 0x404, 0x1000, VAS_MEM_COMMIT, 0x404, VAS_MEM_PRIVATE);
    uint64_t g = vas_virtual_alloc(f.p, 0, 0x1000, VAS_MEM_COMMIT, VAS_PAGE_EXECUTE_READ | VAS_PAGE_NOCACHE);
    CHECK(g != 0);
    CHECK_EQ(vq(f.p, g).protect, VAS_PAGE_EXECUTE_READ | VAS_PAGE_NOCACHE);
    static const uint32_t refused[] = {
        VAS_PAGE_READWRITE | VAS_PAGE_NOCACHE | VAS_PAGE_WRITECOMBINE,
        VAS_PAGE_NOACCESS | VAS_PAGE_NOCACHE,
        VAS_PAGE_NOACCESS | VAS_PAGE_WRITECOMBINE,
        VAS_PAGE_NOACCESS | VAS_PAGE_GUARD,
        VAS_PAGE_READWRITE | VAS_PAGE_GUARD | VAS_PAGE_NOCACHE,
        VAS_PAGE_READWRITE | VAS_PAGE_GUARD | VAS_PAGE_WRITECOMBINE,
        VAS_PAGE_GUARD, VAS_PAGE_NOCACHE, VAS_PAGE_WRITECOMBINE, /* a modifier alone */
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        CHECK_FAILS_CLEAN(&f, vas_virtual_alloc(f.p, 0, 0x1000, VAS_MEM_COMMIT, refused[i]), VAS_ERROR_INVALID_PARAMETER);
        CHECK_FAILS_CLEAN(&f, vas_virtual_alloc(f.p, 0, 0x1000, VAS_MEM_RESERVE, refused[i]), VAS_ERROR_INVALID_PARAMETER);
    }
    fx_close(&f);
}

static void fact_13_write_watch_needs_reserve(void)
{
    fx f = fx_open();
    CHECK_FAILS_CLEAN(&f, vas_virtual_alloc(f.p, 0, 0x10000, VAS_MEM_WRITE_WATCH, VAS_PAGE_READWRITE),
                      VAS_ERROR_INVALID_PARAMETER);
    CHECK_FAILS_CLEAN(&f, vas_virtual_alloc(f.p, 0, 0x10000, VAS_MEM_COMMIT | VAS_MEM_WRITE_WATCH, VAS_PAGE_READWRITE),
                      VAS_ERROR_INVALID_PARAMETER);
    uint64_t a = vas_virtual_alloc(f.p, 0, 0x10000, VAS_MEM_RESERVE | VAS_MEM_WRITE_WATCH, VAS_PAGE_NOACCESS);
    CHECK(a != 0);
    CHECK_MBI(vq(f.p, a), a, a, VAS_PAGE_NOACCESS, 0x10000, VAS_MEM_RESERVE, 0, VAS_MEM_PRIVATE);
    uint64_t b = vas_virtual_alloc(f.p, 0, 0x10000, VAS_MEM_RESERVE | VAS_MEM_COMMIT | VAS_MEM_WRITE_WATCH,
                                   VAS_PAGE_READWRITE);
    CHECK(b != 0);
    CHECK_MBI(vq(f.p, b), b, b, VAS_PAGE_READWRITE, 0x10000, VAS_MEM_COMMIT, VAS_PAGE_READWRITE, VAS_MEM_PRIVATE);
    fx_close(&f);
}

static void fact_14_null_process_handle(void)
{
    fx f = fx_open();
    uint64_t a = vas_virtual_alloc(f.p, 0, 0x8000, VAS_MEM_COMMIT, VAS_PAGE_EXECUTE_READWRITE);
    CHECK(a != 0);
    CHECK_FAILS_CLEAN(&f, vas_virtual_free(NULL, a, 0, VAS_MEM_RELEASE), VAS_ERROR_INVALID_HANDLE);
    CHECK_FAILS_CLEAN(&f, vas_virtual_alloc(NULL, 0, 0x8000, VAS_MEM_COMMIT, VAS_PAGE_EXECUTE_READWRITE),
                      VAS_ERROR_INVALID_HANDLE);
    uint32_t old = 0;
    CHECK_FAILS_CLEAN(&f, vas_virtual_protect(NULL, a, 0x1000, VAS_PAGE_READONLY, &old), VAS_ERROR_INVALID_HANDLE);
    vas_memory_basic_information mbi;
    CHECK_FAILS_CLEAN(&f, vas_virtual_query(NULL, a, &mbi, sizeof mbi), VAS_ERROR_INVALID_HANDLE);

    uint64_t base = 0, size = 0x1000;
    CHECK_NT_FAILS(&f, vas_nt_allocate_virtual_memory_ex(NULL, &base, &size, VAS_MEM_RESERVE | VAS_MEM_COMMIT,
                                                         VAS_PAGE_EXECUTE_READWRITE, NULL),
                   VAS_STATUS_INVALID_HANDLE);
    CHECK_EQ(base, 0);
    base = a;
    size = 0;
    CHECK_NT_FAILS(&f, vas_nt_free_virtual_memory(NULL, &base, &size, VAS_MEM_RELEASE), VAS_STATUS_INVALID_HANDLE);
    size = 0x1000;
    CHECK_NT_FAILS(&f, vas_nt_protect_virtual_memory(NULL, &base, &size, VAS_PAGE_READONLY, &old),
                   VAS_STATUS_INVALID_HANDLE);
    /* With the real process both work. */
    CHECK(vas_virtual_free(f.p, a, 0, VAS_MEM_RELEASE));
    CHECK_EQ(vq(f.p, a).state, VAS_MEM_FREE);
    fx_close(&f);
}

/* ---- M. zero_bits, MEM_TOP_DOWN, address requirements ------------------------------------- */

static void check_zero_bits(fx *f, int mask_allowed)
{
    for (uint64_t z = 1; z <= 20; z++) {
        uint64_t base = 0, size = 0x1000;
        uint32_t status = vas_nt_allocate_virtual_memory(f->p, &base, z, &size,
                                                         VAS_MEM_RESERVE | VAS_MEM_COMMIT | VAS_MEM_TOP_DOWN,
                                                         VAS_PAGE_READWRITE);
        CHECK(status == VAS_STATUS_SUCCESS || status == VAS_STATUS_NO_MEMORY);
        if (z <= 14)
            CHECK_EQ(status, VAS_STATUS_SUCCESS); /* there is room below 256 KB and up */
        if (status == VAS_STATUS_SUCCESS) {
            CHECK_EQ(base >> (32 - z), 0);
            CHECK_EQ(size, 0x1000);
            size = 0;
            CHECK_EQ(vas_nt_free_virtual_memory(f->p, &base, &size, VAS_MEM_RELEASE), VAS_STATUS_SUCCESS);
        }
    }
    uint64_t base = 0, size = 0x1000;
    snapshot before;
    snap_take(f, &before);
    uint32_t status = vas_nt_allocate_virtual_memory(f->p, &base, 21, &size, VAS_MEM_RESERVE | VAS_MEM_COMMIT,
                                                     VAS_PAGE_EXECUTE_READWRITE);
    CHECK(status == VAS_STATUS_NO_MEMORY || status == VAS_STATUS_INVALID_PARAMETER);
    CHECK_UNCHANGED(f, &before);
    for (uint64_t z = 22; z <= 31; z++) {
        status = vas_nt_allocate_virtual_memory(f->p, &base, z, &size, VAS_MEM_RESERVE | VAS_MEM_COMMIT,
                                                VAS_PAGE_EXECUTE_READWRITE);
        CHECK(status == VAS_STATUS_INVALID_PARAMETER_3 || status == VAS_STATUS_INVALID_PARAMETER);
        CHECK_UNCHANGED(f, &before);
    }
    CHECK_EQ(base, 0);
    CHECK_EQ(size, 0x1000);

    /* Above 31, zero_bits is a mask on 64-bit and WOW64: only its leading zeros matter. */
    const uint64_t mask = 0x1aaaaaaa, limit = 0x20000000;
    status = vas_nt_allocate_virtual_memory(f->p, &base, mask, &size, VAS_MEM_RESERVE | VAS_MEM_COMMIT | VAS_MEM_TOP_DOWN,
                                            VAS_PAGE_READWRITE);
    if (!mask_allowed) {
        CHECK_EQ(status, VAS_STATUS_INVALID_PARAMETER_3);
        CHECK_UNCHANGED(f, &before);
        return;
    }
    CHECK_EQ(status, VAS_STATUS_SUCCESS);
    CHECK(base != 0 && base + size <= limit);
    CHECK((base & ~mask) != 0); /* not a bit mask on the address itself */
    /* Top-down under the cap: the highest room below it. */
    CHECK_EQ(base, limit - GRAN);
    size = 0;
    CHECK_EQ(vas_nt_free_virtual_memory(f->p, &base, &size, VAS_MEM_RELEASE), VAS_STATUS_SUCCESS);
    /* 32 leading zeros: below 4 GB; the mask's other bits do not matter. */
    static const uint64_t masks[] = {0xFFFFFFFFull, 0x80000001ull};
    for (size_t i = 0; i < 2; i++) {
        base = 0;
        size = 0x1000;
        CHECK_EQ(vas_nt_allocate_virtual_memory(f->p, &base, masks[i], &size, VAS_MEM_RESERVE | VAS_MEM_TOP_DOWN,
                                                VAS_PAGE_READWRITE), VAS_STATUS_SUCCESS);
        CHECK(base + size <= 0x100000000ull);
        size = 0;
        CHECK_EQ(vas_nt_free_virtual_memory(f->p, &base, &size, VAS_MEM_RELEASE), VAS_STATUS_SUCCESS);
    }
}

static void fact_119_zero_bits(void)
{
    fx f = fx_open();
    check_zero_bits(&f, 1);
    fx_close(&f);
    f = fx_open_layout("x64", 32, 1); /* WOW64, large-address-aware */
    check_zero_bits(&f, 1);
    fx_close(&f);
    f = fx_open_layout("x86", 0, 0); /* 32-bit native: no masks */
    check_zero_bits(&f, 0);
    fx_close(&f);
}

/* Documented (NtAllocateVirtualMemory, ZeroBits): the cap holds for bottom-up placement too,
   and when no room is left below it the call fails with STATUS_NO_MEMORY, changing nothing. */
static void fact_120_zero_bits_bottom_up(void)
{
    fx f = fx_open();
    vas_system_info si;
    vas_get_system_info(f.p, &si);
    /* Fill everything from the lowest address up to 256 MB. */
    uint64_t low = si.minimum_application_address;
    CHECK_EQ(vas_virtual_alloc(f.p, low, 0x10000000 - low, VAS_MEM_RESERVE, VAS_PAGE_NOACCESS), low);
    uint64_t base = 0, size = 0x1000;
    CHECK_NT_FAILS(&f, vas_nt_allocate_virtual_memory(f.p, &base, 4, &size, VAS_MEM_RESERVE, VAS_PAGE_READWRITE),
                   VAS_STATUS_NO_MEMORY);
    CHECK_EQ(base, 0);
    CHECK_FAILS_CLEAN(&f, vas_virtual_alloc(f.p, 0x10000000 - GRAN, 0x1000, VAS_MEM_RESERVE, VAS_PAGE_READWRITE),
                      VAS_ERROR_INVALID_ADDRESS);
    CHECK_EQ(vas_nt_allocate_virtual_memory(f.p, &base, 3, &size, VAS_MEM_RESERVE, VAS_PAGE_READWRITE),
             VAS_STATUS_SUCCESS);
    CHECK_EQ(base, 0x10000000); /* the lowest room, and below 512 MB */
    CHECK_EQ(size, 0x1000);
    fx_close(&f);
}

/* Documented (VirtualAlloc, MEM_TOP_DOWN: "at the highest possible address"): top-down
   reservations come highest first, just below the 64 KB that no allocation may use; bottom-up
   ones lowest first. */
static void doc_top_down_highest_first(void)
{
    static const char *const layouts[] = {"x64", "x86", "x64-win7"};
    for (size_t i = 0; i < 3; i++) {
        fx f = fx_open_layout(layouts[i], 0, 0);
        vas_system_info si;
        vas_get_system_info(f.p, &si);
        uint64_t top = si.maximum_application_address + 1 - GRAN; /* allocations end at or below */
        uint64_t a1 = vas_virtual_alloc(f.p, 0, 0x10000, VAS_MEM_RESERVE | VAS_MEM_TOP_DOWN, VAS_PAGE_NOACCESS);
        uint64_t a2 = vas_virtual_alloc(f.p, 0, 0x10000, VAS_MEM_RESERVE | VAS_MEM_TOP_DOWN, VAS_PAGE_NOACCESS);
        uint64_t a3 = vas_virtual_alloc(f.p, 0, 0x1000, VAS_MEM_RESERVE | VAS_MEM_COMMIT | VAS_MEM_TOP_DOWN,
                                        VAS_PAGE_READWRITE);
        CHECK_EQ(a1, top - GRAN);
        CHECK_EQ(a2, a1 - GRAN);
        CHECK_EQ(a3, a2 - GRAN);
        CHECK_MBI(vq(f.p, a3), a3, a3, VAS_PAGE_READWRITE, 0x1000, VAS_MEM_COMMIT, VAS_PAGE_READWRITE, VAS_MEM_PRIVATE);
        /* The highest hole is taken again. */
        CHECK(vas_virtual_free(f.p, a2, 0, VAS_MEM_RELEASE));
        CHECK_EQ(vas_virtual_alloc(f.p, 0, 0x8000, VAS_MEM_RESERVE | VAS_MEM_TOP_DOWN, VAS_PAGE_NOACCESS), a2);
        /* Bottom-up starts at the lowest user address. */
        uint64_t b1 = vas_virtual_alloc(f.p, 0, 0x1000, VAS_MEM_RESERVE, VAS_PAGE_NOACCESS);
        uint64_t b2 = vas_virtual_alloc(f.p, 0, 0x1000, VAS_MEM_RESERVE, VAS_PAGE_NOACCESS);
        CHECK_EQ(b1, si.minimum_application_address);
        CHECK_EQ(b2, b1 + GRAN);
        fx_close(&f);
    }
}

/* Address requirements as VirtualAlloc2 / NtAllocateVirtualMemoryEx take them. (A second
   requirements parameter, a parameter of type 0 or >= Max, and a count with a NULL array cannot
   be expressed through vas.h, which takes at most one requirements structure.) */
static void fact_121_address_requirements(void)
{
    fx f = fx_open();
    uint64_t max = max_address(f.p);
    vas_address_requirements r = {0, 0, 0};
    uint64_t a, size;

    /* Zeroed requirements: no constraint, and MEM_RESERVE|MEM_COMMIT is fine. */
    a = 0;
    size = 0x1000;
    CHECK_EQ(vas_nt_allocate_virtual_memory_ex(f.p, &a, &size, VAS_MEM_RESERVE | VAS_MEM_COMMIT,
                                               VAS_PAGE_EXECUTE_READWRITE, &r), VAS_STATUS_SUCCESS);
    size = 0;
    CHECK_EQ(vas_nt_free_virtual_memory(f.p, &a, &size, VAS_MEM_RELEASE), VAS_STATUS_SUCCESS);

    /* HighestEndingAddress: one less than a page multiple, and not above the maximum. */
    static const uint64_t bad_highest[] = {0x20001000 + 1, 0x20001000 - 2, 0x20000800 - 1};
    for (size_t i = 0; i < 3; i++) {
        r.highest_ending_address = bad_highest[i];
        a = 0;
        size = 0x10000;
        CHECK_NT_FAILS(&f, vas_nt_allocate_virtual_memory_ex(f.p, &a, &size, VAS_MEM_RESERVE,
                                                             VAS_PAGE_EXECUTE_READWRITE, &r),
                       VAS_STATUS_INVALID_PARAMETER);
        CHECK_EQ(a, 0);
        CHECK_EQ(size, 0x10000);
        CHECK_FAILS_CLEAN(&f, vas_virtual_alloc2(f.p, 0, 0x10000, VAS_MEM_RESERVE, VAS_PAGE_EXECUTE_READWRITE, &r),
                          VAS_ERROR_INVALID_PARAMETER);
    }
    r.highest_ending_address = max + 0x1000;
    CHECK_FAILS_CLEAN(&f, vas_virtual_alloc2(f.p, 0, 0x10000, VAS_MEM_RESERVE, VAS_PAGE_EXECUTE_READWRITE, &r),
                      VAS_ERROR_INVALID_PARAMETER);
    r.highest_ending_address = max;
    a = vas_virtual_alloc2(f.p, 0, 0x10000, VAS_MEM_RESERVE, VAS_PAGE_EXECUTE_READWRITE, &r);
    CHECK(a != 0);
    CHECK(vas_virtual_free(f.p, a, 0, VAS_MEM_RELEASE));

    r.highest_ending_address = 0x20001000 - 1;
    a = 0;
    size = 0x40000;
    CHECK_EQ(vas_nt_allocate_virtual_memory_ex(f.p, &a, &size, VAS_MEM_RESERVE, VAS_PAGE_EXECUTE_READWRITE, &r),
             VAS_STATUS_SUCCESS);
    CHECK_EQ(a & 0xFFFF, 0);
    CHECK(a + size <= 0x20001000);
    CHECK_EQ(size, 0x40000);
    /* Requirements are for placing a reservation: not with MEM_COMMIT alone, nor with a base. */
    uint64_t b = a, s = size;
    CHECK_NT_FAILS(&f, vas_nt_allocate_virtual_memory_ex(f.p, &b, &s, VAS_MEM_COMMIT, VAS_PAGE_EXECUTE_READWRITE, &r),
                   VAS_STATUS_INVALID_PARAMETER);
    CHECK_EQ(b, a);
    size = 0;
    CHECK_EQ(vas_nt_free_virtual_memory(f.p, &a, &size, VAS_MEM_RELEASE), VAS_STATUS_SUCCESS);
    size = 0x40000;
    CHECK_NT_FAILS(&f, vas_nt_allocate_virtual_memory_ex(f.p, &a, &size, VAS_MEM_RESERVE, VAS_PAGE_EXECUTE_READWRITE, &r),
                   VAS_STATUS_INVALID_PARAMETER);
    CHECK_FAILS_CLEAN(&f, vas_virtual_alloc2(f.p, a, 0x40000, VAS_MEM_RESERVE | VAS_MEM_COMMIT, VAS_PAGE_READWRITE, &r),
                      VAS_ERROR_INVALID_PARAMETER);

    /* Alignment: 0 or a power of two of at least 64 KB. */
    r.alignment = 0x10000;
    a = 0;
    size = 0x1000;
    CHECK_EQ(vas_nt_allocate_virtual_memory_ex(f.p, &a, &size, VAS_MEM_RESERVE, VAS_PAGE_EXECUTE_READWRITE, &r),
             VAS_STATUS_SUCCESS);
    CHECK_EQ(a & 0xFFFF, 0);
    CHECK(a + size < 0x20001000);
    size = 0;
    CHECK_EQ(vas_nt_free_virtual_memory(f.p, &a, &size, VAS_MEM_RELEASE), VAS_STATUS_SUCCESS);
    r.alignment = 0x20000000;
    a = 0;
    size = 0x2000;
    CHECK_NT_FAILS(&f, vas_nt_allocate_virtual_memory_ex(f.p, &a, &size, VAS_MEM_RESERVE, VAS_PAGE_EXECUTE_READWRITE, &r),
                   VAS_STATUS_NO_MEMORY);
    CHECK_FAILS_CLEAN(&f, vas_virtual_alloc2(f.p, 0, 0x2000, VAS_MEM_RESERVE, VAS_PAGE_EXECUTE_READWRITE, &r),
                      VAS_ERROR_NOT_ENOUGH_MEMORY);
    r.highest_ending_address = 0;
    static const uint64_t bad_alignment[] = {0x8000, 0x30000, 1, 0x1000, 0x10001};
    for (size_t i = 0; i < sizeof bad_alignment / sizeof bad_alignment[0]; i++) {
        r.alignment = bad_alignment[i];
        CHECK_FAILS_CLEAN(&f, vas_virtual_alloc2(f.p, 0, 0x1000, VAS_MEM_RESERVE, VAS_PAGE_EXECUTE_READWRITE, &r),
                          VAS_ERROR_INVALID_PARAMETER);
    }
    r.alignment = 0x40000;
    a = vas_virtual_alloc2(f.p, 0, 0x1000, VAS_MEM_RESERVE, VAS_PAGE_EXECUTE_READWRITE, &r);
    CHECK(a != 0);
    CHECK_EQ(a & 0x3FFFF, 0);
    CHECK(vas_virtual_free(f.p, a, 0, VAS_MEM_RELEASE));
    r.alignment = 0;

    /* LowestStartingAddress: 64 KB aligned, not above the maximum, not above the highest. */
    static const uint64_t bad_lowest[] = {0x20001000, 0x20000FFF, 0x20001001};
    for (size_t i = 0; i < 3; i++) {
        r.lowest_starting_address = bad_lowest[i];
        CHECK_FAILS_CLEAN(&f, vas_virtual_alloc2(f.p, 0, 0x1000, VAS_MEM_RESERVE, VAS_PAGE_READWRITE, &r),
                          VAS_ERROR_INVALID_PARAMETER);
    }
    r.lowest_starting_address = (max + 1) & ~(GRAN - 1);
    if (r.lowest_starting_address <= max)
        r.lowest_starting_address += GRAN;
    CHECK_FAILS_CLEAN(&f, vas_virtual_alloc2(f.p, 0, 0x1000, VAS_MEM_RESERVE, VAS_PAGE_READWRITE, &r),
                      VAS_ERROR_INVALID_PARAMETER);
    r.lowest_starting_address = 0x30000000;
    r.highest_ending_address = 0x20000000;
    CHECK_FAILS_CLEAN(&f, vas_virtual_alloc2(f.p, 0, 0x1000, VAS_MEM_RESERVE, VAS_PAGE_READWRITE, &r),
                      VAS_ERROR_INVALID_PARAMETER);
    r.lowest_starting_address = 0x20000000;
    r.highest_ending_address = 0;
    a = vas_virtual_alloc2(f.p, 0, 0x1000, VAS_MEM_RESERVE, VAS_PAGE_READWRITE, &r);
    CHECK(a >= 0x20000000);
    CHECK_EQ(a % GRAN, 0);
    r.highest_ending_address = 0x2FFFFFFF;
    uint64_t c = vas_virtual_alloc2(f.p, 0, 0x1000, VAS_MEM_RESERVE, VAS_PAGE_READWRITE, &r);
    CHECK(c >= 0x20000000 && c + 0x1000 <= 0x30000000);
    CHECK(c != a);
    uint64_t d = vas_virtual_alloc2(f.p, 0, 0x1000, VAS_MEM_RESERVE | VAS_MEM_TOP_DOWN, VAS_PAGE_READWRITE, &r);
    CHECK(d >= 0x20000000 && d + 0x1000 <= 0x30000000);
    fx_close(&f);
}

static const check_test tests[] = {
    TEST(fact_01_zero_size_fails),
    TEST(fact_02_reserve_rounds_size_to_pages),
    TEST(fact_03_reserve_again_at_freed_address),
    TEST(fact_04_requested_base_is_its_granule),
    TEST(fact_05_at_round_to_page_refused),
    TEST(fact_06_invalid_protection_type_or_overlap),
    TEST(fact_07_two_base_protections_refused),
    TEST(fact_08_private_protection_whitelist),
    TEST(fact_09_commit_without_address_reserves),
    TEST(fact_10_execute_and_access_mixing_rule),
    TEST(fact_11_nocache_accepted),
    TEST(fact_12_modifier_combinations),
    TEST(fact_13_write_watch_needs_reserve),
    TEST(fact_14_null_process_handle),
    TEST(fact_119_zero_bits),
    TEST(fact_120_zero_bits_bottom_up),
    TEST(doc_top_down_highest_first),
    TEST(fact_121_address_requirements),
};

CHECK_MAIN(tests)
