/*
 * test_protect.c - Windows facts of group D (../shared/spec/windows-behavior.md):
 * VirtualProtect and NtProtectVirtualMemory on private memory, PAGE_NOCACHE's stickiness
 * (facts 43, 44) and the old protection written back when a call fails. Black-box: vas.h only.
 *
 * Tests named after a number the spec keeps back (33, 36, 39, 42, 45) check what Microsoft
 * documents for VirtualProtect, or what Wine's tests assert next to the published facts. Every
 * failing call is also checked to change nothing.
 */
#include "facts.h"

static uint64_t reserve_commit(fx *f, uint64_t size, uint32_t protect)
{
    uint64_t a = vas_virtual_alloc(f->p, 0, size, VAS_MEM_RESERVE | VAS_MEM_COMMIT, protect);
    CHECK(a != 0);
    return a;
}

static int valid_private_protection(uint32_t p)
{
    return p && p <= 0xFF && !(p & (p - 1)) && p != VAS_PAGE_WRITECOPY && p != VAS_PAGE_EXECUTE_WRITECOPY;
}

/* Wine's VirtualProtect table on a committed PAGE_NOACCESS page: each valid single protection
   is taken and reported, every other value fails with 87; old is always the previous one. */
static void fact_33_protection_table(void)
{
    fx f = fx_open();
    uint64_t a = reserve_commit(&f, PAGE, VAS_PAGE_NOACCESS);
    for (uint32_t p = 0; p <= 0xFF; p++) {
        uint32_t old = 0xDEADBEEF;
        if (valid_private_protection(p)) {
            CHECK(vas_virtual_protect(f.p, a, PAGE, p, &old));
            CHECK_EQ(old, VAS_PAGE_NOACCESS);
            CHECK_MBI(vq(f.p, a), a, a, VAS_PAGE_NOACCESS, PAGE, VAS_MEM_COMMIT, p, VAS_MEM_PRIVATE);
        } else {
            CHECK_FAILS_CLEAN(&f, vas_virtual_protect(f.p, a, PAGE, p, &old), VAS_ERROR_INVALID_PARAMETER);
        }
        old = 0xDEADBEEF;
        CHECK(vas_virtual_protect(f.p, a, PAGE, VAS_PAGE_NOACCESS, &old));
        CHECK_EQ(old, valid_private_protection(p) ? p : VAS_PAGE_NOACCESS);
        CHECK_MBI(vq(f.p, a), a, a, VAS_PAGE_NOACCESS, PAGE, VAS_MEM_COMMIT, VAS_PAGE_NOACCESS, VAS_MEM_PRIVATE);
    }
    fx_close(&f);
}

static void fact_34_reserved_memory_cannot_be_protected(void)
{
    fx f = fx_open();
    uint64_t a = vas_virtual_alloc(f.p, 0, 0xFFFC, VAS_MEM_RESERVE, VAS_PAGE_NOACCESS);
    CHECK(a != 0);
    uint32_t old = 0xDEADBEEF;
    CHECK_FAILS_CLEAN(&f, vas_virtual_protect(f.p, a, 0xFFFC, VAS_PAGE_READONLY, &old), VAS_ERROR_INVALID_ADDRESS);
    CHECK_EQ(old, VAS_PAGE_NOACCESS);
    uint64_t base = a, size = 0x10000;
    old = 0;
    CHECK_NT_FAILS(&f, vas_nt_protect_virtual_memory(f.p, &base, &size, VAS_PAGE_READONLY, &old),
                   VAS_STATUS_NOT_COMMITTED);
    CHECK_EQ(old, VAS_PAGE_NOACCESS); /* current Windows writes it (spec section 3, item 8) */
    CHECK_EQ(base, a);
    CHECK_EQ(size, 0x10000);
    /* VirtualProtectEx on another process. */
    fx other = {f.m, vas_process_create(f.m, NULL)};
    CHECK(other.p);
    uint64_t b = vas_virtual_alloc(other.p, 0, 0xFFFC, VAS_MEM_RESERVE, VAS_PAGE_NOACCESS);
    CHECK(b != 0);
    CHECK_FAILS_CLEAN(&other, vas_virtual_protect(other.p, b, 0xFFFC, VAS_PAGE_READONLY, &old),
                      VAS_ERROR_INVALID_ADDRESS);
    fx_close(&f);
}

static void fact_35_partly_committed_range_cannot_be_protected(void)
{
    fx f = fx_open();
    uint64_t a = vas_virtual_alloc(f.p, 0, 0xFFFC, VAS_MEM_RESERVE, VAS_PAGE_NOACCESS);
    CHECK(a != 0);
    CHECK_EQ(vas_virtual_alloc(f.p, a, 0x1000, VAS_MEM_COMMIT, VAS_PAGE_NOACCESS), a);
    uint32_t old = 0xDEADBEEF;
    CHECK_FAILS_CLEAN(&f, vas_virtual_protect(f.p, a, 0xFFFC, VAS_PAGE_READONLY, &old), VAS_ERROR_INVALID_ADDRESS);
    CHECK_EQ(old, VAS_PAGE_NOACCESS);
    /* The committed page alone can be. */
    CHECK(vas_virtual_protect(f.p, a, 0x1000, VAS_PAGE_READONLY, &old));
    CHECK_EQ(old, VAS_PAGE_NOACCESS);
    CHECK(vas_virtual_protect(f.p, a, 0x1000, VAS_PAGE_READWRITE, &old));
    CHECK_EQ(old, VAS_PAGE_READONLY);
    CHECK_MBI(vq(f.p, a), a, a, VAS_PAGE_NOACCESS, 0x1000, VAS_MEM_COMMIT, VAS_PAGE_READWRITE, VAS_MEM_PRIVATE);
    fx_close(&f);
}

/* Documented (VirtualProtect): the region covers every page with a byte in the range, and
   the old protection returned is that of the first page. */
static void fact_36_protect_covers_touched_pages(void)
{
    fx f = fx_open();
    uint64_t a = reserve_commit(&f, 0x4000, VAS_PAGE_READWRITE);
    uint32_t old = 0;
    CHECK(vas_virtual_protect(f.p, a + 0x800, 0x1000, VAS_PAGE_READONLY, &old));
    CHECK_EQ(old, VAS_PAGE_READWRITE);
    CHECK_MBI(vq(f.p, a), a, a, VAS_PAGE_READWRITE, 0x2000, VAS_MEM_COMMIT, VAS_PAGE_READONLY, VAS_MEM_PRIVATE);
    CHECK_MBI(vq(f.p, a + 0x2000), a + 0x2000, a, VAS_PAGE_READWRITE, 0x2000, VAS_MEM_COMMIT, VAS_PAGE_READWRITE,
              VAS_MEM_PRIVATE);
    uint64_t base = a + 0x1800, size = 0x1000;
    CHECK_EQ(vas_nt_protect_virtual_memory(f.p, &base, &size, VAS_PAGE_EXECUTE_READWRITE, &old), VAS_STATUS_SUCCESS);
    CHECK_EQ(old, VAS_PAGE_READONLY); /* page 1's */
    CHECK_EQ(base, a + 0x1000);
    CHECK_EQ(size, 0x2000);
    CHECK_MBI(vq(f.p, a + 0x1000), a + 0x1000, a, VAS_PAGE_READWRITE, 0x2000, VAS_MEM_COMMIT,
              VAS_PAGE_EXECUTE_READWRITE, VAS_MEM_PRIVATE);
    fx_close(&f);
}

static void fact_37_invalid_new_protections(void)
{
    fx f = fx_open();
    uint64_t a = reserve_commit(&f, 0x1000, VAS_PAGE_READWRITE);
    uint32_t old = 0;
    CHECK_FAILS_CLEAN(&f, vas_virtual_protect(f.p, a, 0x1000, VAS_PAGE_READWRITE | VAS_PAGE_EXECUTE_WRITECOPY, &old),
                      VAS_ERROR_INVALID_PARAMETER);
    CHECK_FAILS_CLEAN(&f, vas_virtual_protect(f.p, a, 0x1000, 0, &old), VAS_ERROR_INVALID_PARAMETER);
    uint64_t base = a, size = 0x1000;
    CHECK_NT_FAILS(&f, vas_nt_protect_virtual_memory(f.p, &base, &size, 0, &old), VAS_STATUS_INVALID_PAGE_PROTECTION);
    CHECK_EQ(base, a);
    CHECK_EQ(size, 0x1000);
    CHECK_MBI(vq(f.p, a), a, a, VAS_PAGE_READWRITE, 0x1000, VAS_MEM_COMMIT, VAS_PAGE_READWRITE, VAS_MEM_PRIVATE);
    fx_close(&f);
}

static void fact_38_null_old_protect_pointer(void)
{
    fx f = fx_open();
    uint64_t a = reserve_commit(&f, PAGE, VAS_PAGE_NOACCESS);
    CHECK_FAILS_CLEAN(&f, vas_virtual_protect(f.p, a, PAGE, VAS_PAGE_READONLY, NULL), VAS_ERROR_NOACCESS);
    uint32_t old = 0xDEADBEEF;
    CHECK(vas_virtual_protect(f.p, a, PAGE, VAS_PAGE_NOACCESS, &old));
    CHECK_EQ(old, VAS_PAGE_NOACCESS);
    uint64_t base = a, size = PAGE;
    CHECK_NT_FAILS(&f, vas_nt_protect_virtual_memory(f.p, &base, &size, VAS_PAGE_READONLY, NULL),
                   VAS_STATUS_ACCESS_VIOLATION);
    old = 0xDEADBEEF;
    CHECK_EQ(vas_nt_protect_virtual_memory(f.p, &base, &size, VAS_PAGE_NOACCESS, &old), VAS_STATUS_SUCCESS);
    CHECK_EQ(old, VAS_PAGE_NOACCESS);
    fx_close(&f);
}

/* Documented (Creating Guard Pages; memory protection constants): VirtualProtect sets and
   clears PAGE_GUARD on committed pages; PAGE_GUARD needs a base protection other than
   PAGE_NOACCESS and no cache modifier. */
static void fact_39_guard_set_by_protect(void)
{
    fx f = fx_open();
    uint64_t a = reserve_commit(&f, 0x2000, VAS_PAGE_READWRITE);
    uint32_t old = 0;
    CHECK(vas_virtual_protect(f.p, a, 0x1000, VAS_PAGE_READWRITE | VAS_PAGE_GUARD, &old));
    CHECK_EQ(old, VAS_PAGE_READWRITE);
    CHECK_MBI(vq(f.p, a), a, a, VAS_PAGE_READWRITE, 0x1000, VAS_MEM_COMMIT, 0x104, VAS_MEM_PRIVATE);
    CHECK_MBI(vq(f.p, a + 0x1000), a + 0x1000, a, VAS_PAGE_READWRITE, 0x1000, VAS_MEM_COMMIT, VAS_PAGE_READWRITE,
              VAS_MEM_PRIVATE);
    CHECK(vas_virtual_protect(f.p, a, 0x1000, VAS_PAGE_READWRITE, &old));
    CHECK_EQ(old, 0x104);
    CHECK_MBI(vq(f.p, a), a, a, VAS_PAGE_READWRITE, 0x2000, VAS_MEM_COMMIT, VAS_PAGE_READWRITE, VAS_MEM_PRIVATE);
    static const uint32_t refused[] = {VAS_PAGE_GUARD, VAS_PAGE_NOACCESS | VAS_PAGE_GUARD,
                                       VAS_PAGE_READONLY | VAS_PAGE_GUARD | VAS_PAGE_NOCACHE,
                                       VAS_PAGE_READONLY | VAS_PAGE_GUARD | VAS_PAGE_WRITECOMBINE};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        CHECK_FAILS_CLEAN(&f, vas_virtual_protect(f.p, a, 0x1000, refused[i], &old), VAS_ERROR_INVALID_PARAMETER);
    fx_close(&f);
}

static void fact_40_old_is_the_first_page_across_runs(void)
{
    fx f = fx_open();
    uint64_t a = 0, size = 16 * PAGE;
    CHECK_EQ(vas_nt_allocate_virtual_memory(f.p, &a, 0, &size, VAS_MEM_RESERVE | VAS_MEM_COMMIT, VAS_PAGE_READWRITE),
             VAS_STATUS_SUCCESS);
    uint32_t old = 0;
    uint64_t base = a;
    size = 16 * PAGE;
    CHECK_EQ(vas_nt_protect_virtual_memory(f.p, &base, &size, VAS_PAGE_READONLY, &old), VAS_STATUS_SUCCESS);
    CHECK_EQ(old, VAS_PAGE_READWRITE);
    size = 8 * PAGE;
    CHECK_EQ(vas_nt_protect_virtual_memory(f.p, &base, &size, VAS_PAGE_READWRITE, &old), VAS_STATUS_SUCCESS);
    CHECK_EQ(old, VAS_PAGE_READONLY);
    base = a + 8 * PAGE;
    old = 0;
    CHECK_EQ(vas_nt_protect_virtual_memory(f.p, &base, &size, VAS_PAGE_EXECUTE_READWRITE, &old), VAS_STATUS_SUCCESS);
    CHECK_EQ(old, VAS_PAGE_READONLY);
    CHECK_MBI(vq(f.p, a), a, a, VAS_PAGE_READWRITE, 8 * PAGE, VAS_MEM_COMMIT, VAS_PAGE_READWRITE, VAS_MEM_PRIVATE);
    CHECK_MBI(vq(f.p, a + 8 * PAGE), a + 8 * PAGE, a, VAS_PAGE_READWRITE, 8 * PAGE, VAS_MEM_COMMIT,
              VAS_PAGE_EXECUTE_READWRITE, VAS_MEM_PRIVATE);
    base = a;
    size = 16 * PAGE;
    CHECK_EQ(vas_nt_protect_virtual_memory(f.p, &base, &size, VAS_PAGE_EXECUTE_READ, &old), VAS_STATUS_SUCCESS);
    CHECK_EQ(old, VAS_PAGE_READWRITE);
    CHECK_EQ(base, a);
    CHECK_EQ(size, 16 * PAGE);
    CHECK_MBI(vq(f.p, a), a, a, VAS_PAGE_READWRITE, 16 * PAGE, VAS_MEM_COMMIT, VAS_PAGE_EXECUTE_READ, VAS_MEM_PRIVATE);
    fx_close(&f);
}

static void fact_41_nt_protect_rounds_the_range(void)
{
    fx f = fx_open();
    uint64_t p = reserve_commit(&f, PAGE, VAS_PAGE_READWRITE);
    uint64_t base = p + 1, size = 1;
    uint32_t old = 0;
    CHECK_EQ(vas_nt_protect_virtual_memory(f.p, &base, &size, VAS_PAGE_READONLY, &old), VAS_STATUS_SUCCESS);
    CHECK_EQ(old, VAS_PAGE_READWRITE);
    CHECK_EQ(base, p);
    CHECK_EQ(size, PAGE);
    CHECK_MBI(vq(f.p, p), p, p, VAS_PAGE_READWRITE, PAGE, VAS_MEM_COMMIT, VAS_PAGE_READONLY, VAS_MEM_PRIVATE);
    fx_close(&f);
}

/* Wine's NtProtectVirtualMemory test: on memory that is not allocated the call fails and
   current Windows writes PAGE_NOACCESS to the old protection (spec section 3, item 8). */
static void fact_42_free_memory_cannot_be_protected(void)
{
    fx f = fx_open();
    uint64_t base = 0, size = PAGE;
    uint32_t old = 0;
    CHECK_NT_FAILS(&f, vas_nt_protect_virtual_memory(f.p, &base, &size, VAS_PAGE_READONLY, &old),
                   VAS_STATUS_CONFLICTING_ADDRESSES); /* at NULL, as Windows x64 answers */
    CHECK_EQ(old, VAS_PAGE_NOACCESS);
    CHECK_EQ(base, 0);
    CHECK_EQ(size, PAGE);
    /* A released allocation. */
    uint64_t a = reserve_commit(&f, 0x10000, VAS_PAGE_READWRITE);
    CHECK(vas_virtual_free(f.p, a, 0, VAS_MEM_RELEASE));
    old = 0xDEADBEEF;
    CHECK_FAILS_CLEAN(&f, vas_virtual_protect(f.p, a, PAGE, VAS_PAGE_READONLY, &old), VAS_ERROR_INVALID_ADDRESS);
    CHECK_EQ(old, VAS_PAGE_NOACCESS);
    base = a;
    old = 0xDEADBEEF;
    snapshot before;
    snap_take(&f, &before);
    uint32_t status = vas_nt_protect_virtual_memory(f.p, &base, &size, VAS_PAGE_READONLY, &old);
    CHECK(status != VAS_STATUS_SUCCESS);
    CHECK_EQ(vas_nt_status_to_dos_error(status), VAS_ERROR_INVALID_ADDRESS);
    CHECK_EQ(old, VAS_PAGE_NOACCESS);
    CHECK_UNCHANGED(&f, &before);
    fx_close(&f);
}

static void fact_43_nocache_is_sticky(void)
{
    fx f = fx_open();
    uint64_t a = reserve_commit(&f, 0x2000, VAS_PAGE_READWRITE | VAS_PAGE_NOCACHE);
    uint32_t old = 0;
    CHECK(vas_virtual_protect(f.p, a, 0x1000, VAS_PAGE_READWRITE, &old));
    CHECK_EQ(old, 0x204);
    CHECK_MBI(vq(f.p, a), a, a, 0x204, 0x2000, VAS_MEM_COMMIT, 0x204, VAS_MEM_PRIVATE); /* no split */
    CHECK(vas_virtual_protect(f.p, a, 0x1000, VAS_PAGE_READONLY, &old));
    CHECK_EQ(old, 0x204);
    CHECK_MBI(vq(f.p, a), a, a, 0x204, 0x1000, VAS_MEM_COMMIT, 0x202, VAS_MEM_PRIVATE);
    CHECK_MBI(vq(f.p, a + 0x1000), a + 0x1000, a, 0x204, 0x1000, VAS_MEM_COMMIT, 0x204, VAS_MEM_PRIVATE);
    fx_close(&f);
}

static void fact_44_nocache_cannot_be_added(void)
{
    fx f = fx_open();
    uint64_t a = reserve_commit(&f, 0x2000, VAS_PAGE_READWRITE);
    CHECK_MBI(vq(f.p, a), a, a, VAS_PAGE_READWRITE, 0x2000, VAS_MEM_COMMIT, VAS_PAGE_READWRITE, VAS_MEM_PRIVATE);
    uint32_t old = 0;
    CHECK(vas_virtual_protect(f.p, a, 0x1000, VAS_PAGE_READONLY | VAS_PAGE_NOCACHE, &old));
    CHECK_EQ(old, VAS_PAGE_READWRITE);
    CHECK_MBI(vq(f.p, a), a, a, VAS_PAGE_READWRITE, 0x1000, VAS_MEM_COMMIT, VAS_PAGE_READONLY, VAS_MEM_PRIVATE);
    fx_close(&f);
}

/* Documented (VirtualProtect): the pages must lie in one reservation; a range crossing into a
   neighbouring allocation or into free memory fails (ERROR_INVALID_ADDRESS), writes
   PAGE_NOACCESS as the old protection and changes no page. */
static void fact_45_protect_must_stay_in_one_allocation(void)
{
    fx f = fx_open();
    uint64_t a = reserve_commit(&f, 0x10000, VAS_PAGE_READWRITE);
    uint64_t b = vas_virtual_alloc(f.p, a + 0x10000, 0x10000, VAS_MEM_RESERVE | VAS_MEM_COMMIT, VAS_PAGE_READWRITE);
    CHECK_EQ(b, a + 0x10000);
    uint32_t old = 0xDEADBEEF;
    CHECK_FAILS_CLEAN(&f, vas_virtual_protect(f.p, a + 0xF000, 0x2000, VAS_PAGE_READONLY, &old),
                      VAS_ERROR_INVALID_ADDRESS);
    CHECK_EQ(old, VAS_PAGE_NOACCESS);
    uint64_t base = a + 0xF000, size = 0x2000;
    old = 0xDEADBEEF;
    CHECK_NT_FAILS(&f, vas_nt_protect_virtual_memory(f.p, &base, &size, VAS_PAGE_READONLY, &old),
                   VAS_STATUS_CONFLICTING_ADDRESSES);
    CHECK_EQ(old, VAS_PAGE_NOACCESS);
    CHECK_EQ(base, a + 0xF000);
    CHECK_EQ(size, 0x2000);
    /* Past the end into free memory. */
    uint64_t c = reserve_commit(&f, 0x3000, VAS_PAGE_READWRITE);
    CHECK_EQ(vq(f.p, c + 0x3000).state, VAS_MEM_FREE);
    old = 0xDEADBEEF;
    CHECK_FAILS_CLEAN(&f, vas_virtual_protect(f.p, c, 0x4000, VAS_PAGE_READONLY, &old), VAS_ERROR_INVALID_ADDRESS);
    CHECK_EQ(old, VAS_PAGE_NOACCESS);
    fx_close(&f);
}

/* VirtualProtectFromApp behaves like VirtualProtect (fact 46); vas.h has VirtualProtect only,
   so the fact's cases are checked through it. */
static void fact_46_protect_from_app_cases(void)
{
    fx f = fx_open();
    uint64_t a = reserve_commit(&f, 0x1000, VAS_PAGE_READWRITE);
    uint32_t old = 0;
    CHECK(vas_virtual_protect(f.p, a, 0x1000, VAS_PAGE_READONLY, &old));
    CHECK_EQ(old, VAS_PAGE_READWRITE);
    old = 0xDEADBEEF;
    CHECK_FAILS_CLEAN(&f, vas_virtual_protect(f.p, a, 0x100000, VAS_PAGE_READWRITE, &old), VAS_ERROR_INVALID_ADDRESS);
    CHECK_EQ(old, VAS_PAGE_NOACCESS);
    CHECK_FAILS_CLEAN(&f, vas_virtual_protect(f.p, a, 0x1000, VAS_PAGE_READWRITE, NULL), VAS_ERROR_NOACCESS);
    CHECK_FAILS_CLEAN(&f, vas_virtual_protect(f.p, a, 0x1000, VAS_PAGE_GUARD, &old), VAS_ERROR_INVALID_PARAMETER);
    CHECK_MBI(vq(f.p, a), a, a, VAS_PAGE_READWRITE, 0x1000, VAS_MEM_COMMIT, VAS_PAGE_READONLY, VAS_MEM_PRIVATE);
    fx_close(&f);
}

static const check_test tests[] = {
    TEST(fact_33_protection_table),
    TEST(fact_34_reserved_memory_cannot_be_protected),
    TEST(fact_35_partly_committed_range_cannot_be_protected),
    TEST(fact_36_protect_covers_touched_pages),
    TEST(fact_37_invalid_new_protections),
    TEST(fact_38_null_old_protect_pointer),
    TEST(fact_39_guard_set_by_protect),
    TEST(fact_40_old_is_the_first_page_across_runs),
    TEST(fact_41_nt_protect_rounds_the_range),
    TEST(fact_42_free_memory_cannot_be_protected),
    TEST(fact_43_nocache_is_sticky),
    TEST(fact_44_nocache_cannot_be_added),
    TEST(fact_45_protect_must_stay_in_one_allocation),
    TEST(fact_46_protect_from_app_cases),
};

CHECK_MAIN(tests)
