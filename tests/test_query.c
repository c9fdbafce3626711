/*
 * test_query.c - Windows facts of group E (../shared/spec/windows-behavior.md): VirtualQuery
 * and NtQueryVirtualMemory (free records, RegionSize runs, buffer checks, addresses beyond user
 * space, the limits), MemoryRegionInformation, and the KUSER_SHARED_DATA page every NT process
 * starts with. Black-box: vas.h only.
 *
 * Tests named after a number the spec keeps back (48, 51) check what Wine's tests and
 * Microsoft's documentation say next to the published facts; tests named nt_checklist_N
 * check item N of nt-memory-manager.md section 4.
 */
#include "facts.h"

#define KUSER 0x7FFE0000ull

static uint64_t max_address(vas_process *p)
{
    vas_system_info si;
    vas_get_system_info(p, &si);
    return si.maximum_application_address;
}

static void fact_47_free_memory_record(void)
{
    fx f = fx_open();
    uint64_t a = vas_virtual_alloc(f.p, 0, 0x10000, VAS_MEM_RESERVE | VAS_MEM_COMMIT, VAS_PAGE_READWRITE);
    CHECK(a != 0);
    uint64_t b = vas_virtual_alloc(f.p, a + 0x20000, 0x10000, VAS_MEM_RESERVE, VAS_PAGE_READWRITE);
    CHECK_EQ(b, a + 0x20000);
    CHECK(vas_virtual_free(f.p, a, 0, VAS_MEM_RELEASE));
    /* Up to the next allocation; the base is the queried page. */
    CHECK_MBI(vq(f.p, a), a, 0, 0, 0x20000, VAS_MEM_FREE, VAS_PAGE_NOACCESS, 0);
    CHECK_MBI(vq(f.p, a + 0x1234), a + 0x1000, 0, 0, 0x1F000, VAS_MEM_FREE, VAS_PAGE_NOACCESS, 0);
    /* The rest of a granule after a small allocation is free too. */
    uint64_t c = vas_virtual_alloc(f.p, a, 0x3000, VAS_MEM_RESERVE, VAS_PAGE_READWRITE);
    CHECK_EQ(c, a);
    CHECK_MBI(vq(f.p, a + 0x3000), a + 0x3000, 0, 0, 0x1D000, VAS_MEM_FREE, VAS_PAGE_NOACCESS, 0);
    fx_close(&f);
}

/* Wine's NtQueryVirtualMemory tests (and spec section 4): an address above the highest user
   address is refused with STATUS_INVALID_PARAMETER, Win32 87; the highest address itself is
   an ordinary query. */
static void check_beyond_user_space(fx *f, const uint64_t *bad, size_t n)
{
    uint64_t max = max_address(f->p);
    vas_memory_basic_information m;
    for (size_t i = 0; i < n; i++) {
        size_t len = 0xDEAD;
        memset(&m, 0xCC, sizeof m);
        CHECK_NT_FAILS(f, vas_nt_query_virtual_memory(f->p, bad[i], &m, sizeof m, &len), VAS_STATUS_INVALID_PARAMETER);
        CHECK_EQ(len, 0xDEAD);
        CHECK_FAILS_CLEAN(f, vas_virtual_query(f->p, bad[i], &m, sizeof m), VAS_ERROR_INVALID_PARAMETER);
    }
    m = vq(f->p, max);
    CHECK_EQ(m.base_address, max & ~(PAGE - 1));
    CHECK_EQ(m.base_address + m.region_size, max + 1);
}

static void fact_48_queries_beyond_user_space(void)
{
    fx f = fx_open();
    CHECK_EQ(max_address(f.p), 0x00007FFFFFFEFFFFull);
    const uint64_t x64[] = {0x00007FFFFFFF0000ull, 0x00007FFFFFFFFFFFull, 0x0000800000000000ull,
                            0xFFFF800000000000ull, 0xFFFFF78000000000ull, UINT64_MAX};
    check_beyond_user_space(&f, x64, sizeof x64 / sizeof x64[0]);
    CHECK_MBI(vq(f.p, 0x00007FFFFFFEFFFFull), 0x00007FFFFFFEF000ull, 0, 0, 0x1000, VAS_MEM_FREE, VAS_PAGE_NOACCESS, 0);
    fx_close(&f);

    f = fx_open_layout("x86", 0, 0);
    const uint64_t x86[] = {0x7FFF0000, 0x7FFFFFFF, 0x80000000, 0xFFDF0000, 0xFFFFFFFF};
    check_beyond_user_space(&f, x86, sizeof x86 / sizeof x86[0]);
    /* On x86 the shared page's allocation reaches the top of user space. */
    CHECK_MBI(vq(f.p, 0x7FFEFFFF), 0x7FFEF000, KUSER, VAS_PAGE_READONLY, 0x1000, VAS_MEM_RESERVE, 0, VAS_MEM_PRIVATE);
    fx_close(&f);
}

static void fact_49_limit_values(void)
{
    static const struct {
        const char *layout;
        int bits, aware;
        uint64_t max;
    } cases[] = {
        {"x86", 0, 0, 0x7FFEFFFF},              /* 32-bit native */
        {"x64", 32, 0, 0x7FFEFFFF},             /* WOW64 */
        {"x64", 32, 1, 0xFFFEFFFF},             /* WOW64, large-address-aware */
        {"x64", 0, 0, 0x00007FFFFFFEFFFFull},   /* 64-bit native */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fx f = fx_open_layout(cases[i].layout, cases[i].bits, cases[i].aware);
        vas_system_info si;
        memset(&si, 0xCC, sizeof si);
        vas_get_system_info(f.p, &si);
        CHECK_EQ(si.maximum_application_address, cases[i].max);
        CHECK_EQ(si.minimum_application_address, 0x10000);
        CHECK_EQ(si.page_size, PAGE);
        CHECK_EQ(si.allocation_granularity, GRAN);
        fx_close(&f);
    }
}

static void fact_50_short_buffer(void)
{
    fx f = fx_open();
    uint64_t a = vas_virtual_alloc(f.p, 0, 0x1000, VAS_MEM_COMMIT, VAS_PAGE_READWRITE);
    CHECK(a != 0);
    vas_memory_basic_information m, untouched;
    memset(&m, 0xCC, sizeof m);
    memset(&untouched, 0xCC, sizeof untouched);
    size_t len = 0xDEAD;
    CHECK_NT_FAILS(&f, vas_nt_query_virtual_memory(f.p, a, &m, sizeof m - 1, &len), VAS_STATUS_INFO_LENGTH_MISMATCH);
    CHECK_EQ(len, 0xDEAD);
    CHECK(memcmp(&m, &untouched, sizeof m) == 0);
    CHECK_NT_FAILS(&f, vas_nt_query_virtual_memory(f.p, a, &m, 0, &len), VAS_STATUS_INFO_LENGTH_MISMATCH);
    CHECK_FAILS_CLEAN(&f, vas_virtual_query(f.p, a, &m, sizeof m - 1), VAS_ERROR_BAD_LENGTH);
    CHECK_FAILS_CLEAN(&f, vas_virtual_query(f.p, a, &m, 0), VAS_ERROR_BAD_LENGTH);
    CHECK(memcmp(&m, &untouched, sizeof m) == 0);
    fx_close(&f);
}

/* NtQueryVirtualMemory writes the bytes it returned to the optional length; a NULL buffer is
   an access violation (Win32 ERROR_NOACCESS by the mapping of group Q); a larger buffer is
   fine and only sizeof(MEMORY_BASIC_INFORMATION) bytes are written. */
static void fact_51_buffer_and_return_length(void)
{
    fx f = fx_open();
    uint64_t a = vas_virtual_alloc(f.p, 0, 0x1000, VAS_MEM_COMMIT, VAS_PAGE_READWRITE);
    CHECK(a != 0);
    size_t len = 0xDEAD;
    CHECK_NT_FAILS(&f, vas_nt_query_virtual_memory(f.p, a, NULL, sizeof(vas_memory_basic_information), &len),
                   VAS_STATUS_ACCESS_VIOLATION);
    CHECK_EQ(len, 0xDEAD);
    CHECK_FAILS_CLEAN(&f, vas_virtual_query(f.p, a, NULL, sizeof(vas_memory_basic_information)), VAS_ERROR_NOACCESS);

    struct {
        vas_memory_basic_information m;
        unsigned char tail[16];
    } big;
    memset(&big, 0xCC, sizeof big);
    CHECK_EQ(vas_nt_query_virtual_memory(f.p, a, &big.m, sizeof big, &len), VAS_STATUS_SUCCESS);
    CHECK_EQ(len, sizeof big.m);
    CHECK_MBI(big.m, a, a, VAS_PAGE_READWRITE, 0x1000, VAS_MEM_COMMIT, VAS_PAGE_READWRITE, VAS_MEM_PRIVATE);
    for (size_t i = 0; i < sizeof big.tail; i++)
        CHECK_EQ(big.tail[i], 0xCC);
    CHECK_EQ(vas_nt_query_virtual_memory(f.p, a, &big.m, sizeof big.m, NULL), VAS_STATUS_SUCCESS);
    CHECK_EQ(vas_virtual_query(f.p, a, &big.m, sizeof big), sizeof big.m);
    fx_close(&f);
}

/* Fact 52 (loaded modules, thread stacks, the process heap) waits for the image, stack and
   heap issues; so do facts 54 and 55 (thread stacks). */

static void fact_53_region_information(void)
{
    fx f = fx_open();
    vas_memory_region_information ri;
    uint64_t a = 0, size = 0x10000;
    CHECK_EQ(vas_nt_allocate_virtual_memory(f.p, &a, 0, &size, VAS_MEM_RESERVE, VAS_PAGE_READWRITE), VAS_STATUS_SUCCESS);
    memset(&ri, 0x11, sizeof ri);
    CHECK_EQ(vas_nt_query_region_information(f.p, a, &ri), VAS_STATUS_SUCCESS);
    CHECK_EQ(ri.allocation_base, a);
    CHECK_EQ(ri.allocation_protect, VAS_PAGE_READWRITE);
    CHECK_EQ(ri.region_type, VAS_MEM_PRIVATE);
    CHECK_EQ(ri.region_size, 0x10000);
    CHECK_EQ(ri.commit_size, 0);
    size = 0;
    CHECK_EQ(vas_nt_free_virtual_memory(f.p, &a, &size, VAS_MEM_RELEASE), VAS_STATUS_SUCCESS);

    a = 0;
    size = 0x10000;
    CHECK_EQ(vas_nt_allocate_virtual_memory(f.p, &a, 0, &size, VAS_MEM_RESERVE | VAS_MEM_COMMIT, VAS_PAGE_READWRITE),
             VAS_STATUS_SUCCESS);
    memset(&ri, 0x11, sizeof ri);
    CHECK_EQ(vas_nt_query_region_information(f.p, a, &ri), VAS_STATUS_SUCCESS);
    CHECK_EQ(ri.allocation_base, a);
    CHECK_EQ(ri.region_size, 0x10000);
    CHECK_EQ(ri.commit_size, 0x10000);
    uint64_t base = a + 0x1000, len = 0x1000;
    uint32_t old;
    CHECK_EQ(vas_nt_protect_virtual_memory(f.p, &base, &len, VAS_PAGE_NOACCESS, &old), VAS_STATUS_SUCCESS);
    static const uint64_t offsets[] = {0, 0x1000, 0x1FFF, 0xFFFF};
    for (size_t i = 0; i < 4; i++) {
        memset(&ri, 0x11, sizeof ri);
        CHECK_EQ(vas_nt_query_region_information(f.p, a + offsets[i], &ri), VAS_STATUS_SUCCESS);
        CHECK_EQ(ri.allocation_base, a);
        CHECK_EQ(ri.allocation_protect, VAS_PAGE_READWRITE);
        CHECK_EQ(ri.region_type, VAS_MEM_PRIVATE);
        CHECK_EQ(ri.region_size, 0x10000);
        CHECK_EQ(ri.commit_size, 0x10000);
    }
    /* CommitSize counts the committed bytes only. */
    CHECK(vas_virtual_free(f.p, a + 0x2000, 0x3000, VAS_MEM_DECOMMIT));
    CHECK_EQ(vas_nt_query_region_information(f.p, a + 0x3000, &ri), VAS_STATUS_SUCCESS);
    CHECK_EQ(ri.commit_size, 0xD000);
    CHECK_EQ(ri.region_size, 0x10000);

    /* Released: STATUS_INVALID_ADDRESS and the buffer untouched (unlike VirtualQuery, fact 47). */
    size = 0;
    CHECK_EQ(vas_nt_free_virtual_memory(f.p, &a, &size, VAS_MEM_RELEASE), VAS_STATUS_SUCCESS);
    memset(&ri, 0xCC, sizeof ri);
    CHECK_NT_FAILS(&f, vas_nt_query_region_information(f.p, a, &ri), VAS_STATUS_INVALID_ADDRESS);
    CHECK_EQ(ri.allocation_base, 0xCCCCCCCCCCCCCCCCull);
    CHECK_EQ(ri.allocation_protect, 0xCCCCCCCC);
    CHECK_EQ(ri.region_type, 0xCCCCCCCC);
    CHECK_EQ(ri.region_size, 0xCCCCCCCCCCCCCCCCull);
    CHECK_EQ(ri.commit_size, 0xCCCCCCCCCCCCCCCCull);
    /* The rest of a granule after a small allocation is not part of it. */
    a = 0;
    size = 0x8000;
    CHECK_EQ(vas_nt_allocate_virtual_memory(f.p, &a, 0, &size, VAS_MEM_RESERVE, VAS_PAGE_READWRITE), VAS_STATUS_SUCCESS);
    CHECK_NT_FAILS(&f, vas_nt_query_region_information(f.p, a + 0x8000, &ri), VAS_STATUS_INVALID_ADDRESS);
    CHECK_EQ(vas_nt_query_region_information(f.p, a + 0x7FFF, &ri), VAS_STATUS_SUCCESS);
    CHECK_EQ(ri.region_size, 0x8000);
    fx_close(&f);
}

/* nt-memory-manager.md section 4, items 18 and 55: KUSER_SHARED_DATA at 0x7FFE0000 is one
   committed read-only page in every NT process; the rest of its 64 KB is reserved. It is the
   system's: not charged to the process, and not the process's to change. */
static void nt_checklist_18_kuser_shared_data(void)
{
    static const struct {
        const char *layout;
        int bits;
    } cases[] = {{"x64", 0}, {"x86", 0}, {"x64", 32}, {"x64-win7", 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fx f = fx_open_layout(cases[i].layout, cases[i].bits, 0);
        CHECK_MBI(vq(f.p, KUSER), KUSER, KUSER, VAS_PAGE_READONLY, 0x1000, VAS_MEM_COMMIT, VAS_PAGE_READONLY,
                  VAS_MEM_PRIVATE);
        CHECK_MBI(vq(f.p, KUSER + 0x1000), KUSER + 0x1000, KUSER, VAS_PAGE_READONLY, 0xF000, VAS_MEM_RESERVE, 0,
                  VAS_MEM_PRIVATE);
        vas_process_counters c = counters_of(f.p);
        CHECK_EQ(c.allocation_count, 1);
        CHECK_EQ(c.virtual_size, 0x10000);
        CHECK_EQ(c.commit_charge, 0);
        CHECK_EQ(status_of(f.m).commit_total, 0);
        /* Nothing can be placed over it: a conflict where allocations may go (x64), and beyond
           the highest address an allocation may reach on 2 GB layouts (the top 64 KB). */
        uint32_t error = KUSER + GRAN > max_address(f.p) ? VAS_ERROR_INVALID_PARAMETER : VAS_ERROR_INVALID_ADDRESS;
        CHECK_FAILS_CLEAN(&f, vas_virtual_alloc(f.p, KUSER, 0x1000, VAS_MEM_RESERVE, VAS_PAGE_READWRITE), error);
        CHECK_FAILS_CLEAN(&f, vas_virtual_alloc(f.p, KUSER + 0x8000, 0x1000, VAS_MEM_RESERVE | VAS_MEM_COMMIT,
                                                VAS_PAGE_READWRITE), error);
        /* Protecting or freeing it fails and changes nothing. */
        snapshot before;
        snap_take(&f, &before);
        uint32_t old;
        CHECK(!vas_virtual_protect(f.p, KUSER, 0x1000, VAS_PAGE_READWRITE, &old));
        CHECK(!vas_virtual_free(f.p, KUSER, 0, VAS_MEM_RELEASE));
        CHECK(!vas_virtual_free(f.p, KUSER, 0x1000, VAS_MEM_DECOMMIT));
        CHECK_UNCHANGED(&f, &before);
        fx_close(&f);
    }
}

/* nt-memory-manager.md section 4, items 15 and 16: a VirtualQuery walk tiles user space from
   0 to the highest user address with maximal runs: free records stop at the next allocation,
   records inside one allocation differ from their neighbours, and the walk's sum of allocation
   sizes is the process's virtual size. */
static void nt_checklist_16_walk_tiles_user_space(void)
{
    fx f = fx_open();
    uint64_t max = max_address(f.p);
    snapshot s;
    snap_take(&f, &s);
    CHECK_EQ(s.count, 4);
    CHECK_MBI(s.regions[0], 0, 0, 0, KUSER, VAS_MEM_FREE, VAS_PAGE_NOACCESS, 0);
    CHECK_MBI(s.regions[1], KUSER, KUSER, VAS_PAGE_READONLY, 0x1000, VAS_MEM_COMMIT, VAS_PAGE_READONLY, VAS_MEM_PRIVATE);
    CHECK_MBI(s.regions[2], KUSER + 0x1000, KUSER, VAS_PAGE_READONLY, 0xF000, VAS_MEM_RESERVE, 0, VAS_MEM_PRIVATE);
    CHECK_MBI(s.regions[3], KUSER + 0x10000, 0, 0, max + 1 - (KUSER + 0x10000), VAS_MEM_FREE, VAS_PAGE_NOACCESS, 0);

    /* A mixture of allocations, then the walk's invariants. */
    uint64_t a = vas_virtual_alloc(f.p, 0, 0x40000, VAS_MEM_RESERVE, VAS_PAGE_READWRITE);
    CHECK(a != 0);
    uint64_t b = vas_virtual_alloc(f.p, a + 0x40000, 0x20000, VAS_MEM_RESERVE, VAS_PAGE_NOACCESS);
    CHECK_EQ(b, a + 0x40000); /* adjacent to a, in the same state as a's tail */
    CHECK(vas_virtual_alloc(f.p, a + 0x3000, 0x5000, VAS_MEM_COMMIT, VAS_PAGE_READWRITE) != 0);
    CHECK(vas_virtual_alloc(f.p, a + 0x9000, 0x1000, VAS_MEM_COMMIT, VAS_PAGE_READONLY) != 0);
    CHECK(vas_virtual_alloc(f.p, 0, 0x1000, VAS_MEM_COMMIT, VAS_PAGE_EXECUTE_READ) != 0);
    CHECK(vas_virtual_alloc(f.p, 0, 0x30000, VAS_MEM_RESERVE | VAS_MEM_COMMIT | VAS_MEM_TOP_DOWN, VAS_PAGE_READWRITE) != 0);
    snap_take(&f, &s);
    CHECK(s.count > 4 && s.count < SNAP_MAX);
    uint64_t expected = 0, allocated = 0;
    for (size_t i = 0; i < s.count; i++) {
        const vas_memory_basic_information *r = &s.regions[i];
        CHECK_EQ(r->base_address, expected);
        CHECK(r->region_size > 0 && r->region_size % PAGE == 0);
        expected = r->base_address + r->region_size;
        if (r->state == VAS_MEM_FREE) {
            CHECK(r->allocation_base == 0 && r->protect == VAS_PAGE_NOACCESS && r->type == 0);
        } else {
            allocated += r->region_size;
            CHECK(r->state == VAS_MEM_COMMIT ? r->protect != 0 : r->protect == 0);
        }
        if (i == 0)
            continue;
        const vas_memory_basic_information *q = &s.regions[i - 1];
        CHECK(!(q->state == VAS_MEM_FREE && r->state == VAS_MEM_FREE)); /* free runs are maximal */
        if (q->state != VAS_MEM_FREE && q->allocation_base == r->allocation_base)
            CHECK(q->state != r->state || q->protect != r->protect);
    }
    CHECK_EQ(expected, max + 1);
    CHECK_EQ(allocated, counters_of(f.p).virtual_size);
    /* a's reserved tail and b are two records even though they look alike. */
    CHECK_MBI(vq(f.p, a + 0xA000), a + 0xA000, a, VAS_PAGE_READWRITE, 0x36000, VAS_MEM_RESERVE, 0, VAS_MEM_PRIVATE);
    CHECK_MBI(vq(f.p, b), b, b, VAS_PAGE_NOACCESS, 0x20000, VAS_MEM_RESERVE, 0, VAS_MEM_PRIVATE);
    fx_close(&f);
}

/* Region by region with facts.h's mbi_equal (field by field: the struct has padding). */
static int mbi_all_equal(const vas_memory_basic_information *a, const vas_memory_basic_information *b, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (!mbi_equal(&a[i], &b[i]))
            return 0;
    return 1;
}

/* vas_query_regions returns, in one call, what the VirtualQuery walk returns region by region:
   over every layout, after a pseudo-random mix of reservations, commits, decommits, protections,
   releases, views (SEC_RESERVE ones, whose regions also end where the section's commit changes)
   and threads; from the bottom of user space, from addresses inside regions, with small and large
   buffers. Then its failures. */
static void query_regions_matches_the_walk(void)
{
    static const char *const layouts[] = {"x64", "x64-win7", "x86", "ia64", "win9x"};
    for (size_t l = 0; l < 5; l++) {
        fx f = fx_open_layout(layouts[l], 0, 0);
        vas_system_info si;
        vas_get_system_info(f.p, &si);
        uint64_t page = si.page_size, seed = 12345 + l;
        uint64_t bases[64] = {0};
        vas_section *s = vas_create_file_mapping(f.m, NULL, VAS_PAGE_READWRITE | VAS_SEC_RESERVE, 64 * page, NULL);
        uint64_t view = s ? vas_map_view_of_file(f.p, s, VAS_FILE_MAP_WRITE, 0, 0, 0) : 0;
        if (view)
            CHECK(vas_virtual_alloc(f.p, view + 8 * page, 8 * page, VAS_MEM_COMMIT, VAS_PAGE_READWRITE) != 0);
        vas_thread_info thread;
        vas_thread_create(f.p, 0, 0, &thread); /* none on win9x-less layouts is fine too */
        for (int step = 0; step < 400; step++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            uint64_t r = seed >> 33, slot = r % 64, pages = 1 + (r >> 8) % 40;
            uint32_t old;
            if (!bases[slot]) {
                bases[slot] = vas_virtual_alloc(f.p, 0, pages * page, VAS_MEM_RESERVE, VAS_PAGE_READWRITE);
            } else if (r % 5 == 0) {
                CHECK(vas_virtual_free(f.p, bases[slot], 0, VAS_MEM_RELEASE));
                bases[slot] = 0;
            } else if (r % 5 == 1) {
                vas_virtual_alloc(f.p, bases[slot] + (r % 3) * page, page * (1 + r % 4), VAS_MEM_COMMIT,
                                  VAS_PAGE_READWRITE);
            } else if (r % 5 == 2) {
                vas_virtual_protect(f.p, bases[slot], page, (r & 64) ? VAS_PAGE_READONLY : VAS_PAGE_NOACCESS, &old);
            } else {
                vas_virtual_free(f.p, bases[slot] + page, page, VAS_MEM_DECOMMIT);
            }
        }
        /* The walk, one VirtualQuery at a time. */
        enum { MAX_REGIONS = 1024 };
        static vas_memory_basic_information walk[MAX_REGIONS], bulk[MAX_REGIONS];
        size_t count = 0;
        for (uint64_t a = 0; count < MAX_REGIONS && vas_virtual_query(f.p, a, &walk[count], sizeof walk[0]);) {
            a = walk[count].base_address + walk[count].region_size;
            count++;
            if (a > si.maximum_application_address || a == 0)
                break;
        }
        CHECK(count > 10 && count < MAX_REGIONS);
        CHECK_EQ(vas_query_regions(f.p, 0, bulk, MAX_REGIONS), count);
        CHECK(mbi_all_equal(walk, bulk, count));
        /* In slices of 7, each starting inside the region the last one ended before. */
        for (size_t i = 0; i < count; i += 7) {
            uint64_t inside = walk[i].base_address + (walk[i].region_size > page ? page : 0);
            size_t want = count - i < 7 ? count - i : 7;
            vas_memory_basic_information slice[7];
            CHECK_EQ(vas_query_regions(f.p, inside + 1, slice, 7), want);
            vas_memory_basic_information first;
            CHECK(vas_virtual_query(f.p, inside + 1, &first, sizeof first));
            CHECK(mbi_equal(&slice[0], &first));
            CHECK(mbi_all_equal(&slice[1], &walk[i + 1], want - 1));
        }
        /* Failures, as VirtualQuery's; nothing changes. */
        CHECK_FAILS(vas_query_regions(f.p, si.maximum_application_address + 1, bulk, 4), VAS_ERROR_INVALID_PARAMETER);
        CHECK_FAILS(vas_query_regions(f.p, ~0ull, bulk, 4), VAS_ERROR_INVALID_PARAMETER);
        CHECK_FAILS(vas_query_regions(f.p, 0, NULL, 4), VAS_ERROR_NOACCESS);
        CHECK_EQ(vas_query_regions(f.p, 0, NULL, 0), 0);
        CHECK_FAILS(vas_query_regions(NULL, 0, bulk, 4), VAS_ERROR_INVALID_HANDLE);
        CHECK_EQ(vas_query_regions(f.p, 0, bulk, MAX_REGIONS), count);
        if (view)
            CHECK(vas_unmap_view_of_file(f.p, view));
        if (s)
            CHECK(vas_close_section(s));
        fx_close(&f);
    }
}

static const check_test tests[] = {
    TEST(query_regions_matches_the_walk),
    TEST(fact_47_free_memory_record),
    TEST(fact_48_queries_beyond_user_space),
    TEST(fact_49_limit_values),
    TEST(fact_50_short_buffer),
    TEST(fact_51_buffer_and_return_length),
    TEST(fact_53_region_information),
    TEST(nt_checklist_18_kuser_shared_data),
    TEST(nt_checklist_16_walk_tiles_user_space),
};

CHECK_MAIN(tests)
