/*
 * test_commit.c - commit charge, as nt-memory-manager.md section 4 describes it (items 4, 13,
 * 38, 39; the tests are named after those items): committed private pages are charged once,
 * whether touched or not; reserving charges nothing; decommit and release give back exactly
 * the pages that were committed; the limit is RAM (less the 1/64 the system keeps) plus paging
 * files, machine-wide, and a call
 * that would pass it fails with ERROR_COMMITMENT_LIMIT (STATUS_COMMITMENT_LIMIT) having
 * reserved and committed nothing. Black-box: vas.h only.
 *
 * The machine is small (16 MB of RAM, no paging file) so the limit is easy to reach.
 */
#include "facts.h"

#define RAM (16ull << 20)
#define LIMIT (RAM - RAM / 64) /* the system keeps 1/64 of RAM for itself */

static fx small_machine(void)
{
    vas_machine_config mc = {0};
    mc.ram_bytes = RAM;
    mc.pagefile_bytes = VAS_NO_PAGEFILE;
    return fx_open_with(&mc, NULL);
}

/* The process's charge and the machine's total, which move together here (one process). */
#define CHECK_CHARGE(f, bytes)                                                                \
    do {                                                                                      \
        CHECK_EQ(counters_of((f)->p).commit_charge, (bytes));                                 \
        CHECK_EQ(status_of((f)->m).commit_total, (bytes));                                    \
        CHECK_EQ(status_of((f)->m).avail_commit, LIMIT - (bytes));                            \
    } while (0)

static void nt_checklist_38_limit_is_ram_plus_paging_files(void)
{
    fx f = small_machine();
    vas_memory_status s = status_of(f.m);
    CHECK_EQ(s.total_phys, RAM);
    CHECK_EQ(s.commit_limit, LIMIT);
    CHECK_EQ(s.commit_total, 0);
    CHECK_EQ(s.commit_peak, 0);
    CHECK_EQ(s.avail_commit, LIMIT);
    CHECK_EQ(s.process_count, 1);
    vas_machine_info mi;
    vas_get_machine_info(f.m, &mi);
    CHECK_EQ(mi.ram_bytes, RAM);
    CHECK_EQ(mi.pagefile_bytes, 0);
    fx_close(&f);

    vas_machine_config mc = {0};
    mc.ram_bytes = RAM;
    mc.pagefile_bytes = 8ull << 20;
    f = fx_open_with(&mc, NULL);
    CHECK_EQ(status_of(f.m).commit_limit, LIMIT + (8ull << 20));
    CHECK_EQ(status_of(f.m).avail_commit, LIMIT + (8ull << 20));
    fx_close(&f);
}

static void nt_checklist_39_committed_pages_are_charged_reserved_are_not(void)
{
    fx f = small_machine();
    vas_process_counters c0 = counters_of(f.p);
    /* A reservation far larger than the limit costs no commit. */
    uint64_t a = vas_virtual_alloc(f.p, 0, 1ull << 30, VAS_MEM_RESERVE, VAS_PAGE_READWRITE);
    CHECK(a != 0);
    CHECK_CHARGE(&f, 0);
    CHECK_EQ(counters_of(f.p).virtual_size, c0.virtual_size + (1ull << 30));
    /* Committed pages are charged at once, never touched or not. */
    CHECK_EQ(vas_virtual_alloc(f.p, a + 0x12345, 0x4000, VAS_MEM_COMMIT, VAS_PAGE_READWRITE), a + 0x12000);
    CHECK_CHARGE(&f, 0x5000);
    uint64_t b = vas_virtual_alloc(f.p, 0, 0x3000, VAS_MEM_COMMIT, VAS_PAGE_NOACCESS);
    CHECK(b != 0);
    CHECK_CHARGE(&f, 0x8000); /* PAGE_NOACCESS pages are committed memory too */
    /* Touching committed pages brings them in but charges nothing more. */
    uint8_t byte = 7;
    for (uint64_t page = 0; page < 4; page++)
        CHECK_EQ(vas_write(f.p, a + 0x12000 + page * PAGE, &byte, 1, NULL), VAS_STATUS_SUCCESS);
    CHECK_CHARGE(&f, 0x8000);
    vas_process_counters c = counters_of(f.p);
    CHECK_EQ(c.peak_commit_charge, 0x8000);
    CHECK_EQ(c.virtual_size, c0.virtual_size + (1ull << 30) + 0x3000);
    CHECK_EQ(status_of(f.m).commit_peak, 0x8000);
    fx_close(&f);
}

static void nt_checklist_4_recommit_is_not_charged_twice(void)
{
    fx f = small_machine();
    uint64_t a = vas_virtual_alloc(f.p, 0, 0x10000, VAS_MEM_RESERVE, VAS_PAGE_READWRITE);
    CHECK(a != 0);
    CHECK_EQ(vas_virtual_alloc(f.p, a, 0x4000, VAS_MEM_COMMIT, VAS_PAGE_READWRITE), a);
    CHECK_CHARGE(&f, 0x4000);
    CHECK_EQ(vas_virtual_alloc(f.p, a + 0x2000, 0x6000, VAS_MEM_COMMIT, VAS_PAGE_READONLY), a + 0x2000);
    CHECK_CHARGE(&f, 0x8000); /* pages 4..7 only */
    CHECK_EQ(vas_virtual_alloc(f.p, a, 0x8000, VAS_MEM_COMMIT, VAS_PAGE_EXECUTE_READ), a);
    CHECK_CHARGE(&f, 0x8000);
    uint64_t base = a, size = 0x8000;
    CHECK_EQ(vas_nt_allocate_virtual_memory(f.p, &base, 0, &size, VAS_MEM_COMMIT, VAS_PAGE_READWRITE), VAS_STATUS_SUCCESS);
    CHECK_CHARGE(&f, 0x8000);
    /* Neither protection changes nor MEM_RESET move the charge. */
    uint32_t old;
    CHECK(vas_virtual_protect(f.p, a, 0x8000, VAS_PAGE_NOACCESS, &old));
    CHECK_EQ(vas_virtual_alloc(f.p, a, 0x10000, VAS_MEM_RESET, VAS_PAGE_NOACCESS), a);
    CHECK_CHARGE(&f, 0x8000);
    CHECK_EQ(counters_of(f.p).peak_commit_charge, 0x8000);
    fx_close(&f);
}

static void nt_checklist_13_decommit_and_release_return_committed_pages(void)
{
    fx f = small_machine();
    uint64_t a = vas_virtual_alloc(f.p, 0, 0x20000, VAS_MEM_RESERVE, VAS_PAGE_READWRITE);
    CHECK(a != 0);
    /* Committed: pages 1-3, 6, 8-15 (12 pages). */
    CHECK(vas_virtual_alloc(f.p, a + 0x1000, 0x3000, VAS_MEM_COMMIT, VAS_PAGE_READWRITE) != 0);
    CHECK(vas_virtual_alloc(f.p, a + 0x6000, 0x1000, VAS_MEM_COMMIT, VAS_PAGE_READONLY) != 0);
    CHECK(vas_virtual_alloc(f.p, a + 0x8000, 0x8000, VAS_MEM_COMMIT, VAS_PAGE_READWRITE) != 0);
    CHECK_CHARGE(&f, 0xC000);
    /* Decommit pages 0-6: 4 of them were committed. */
    CHECK(vas_virtual_free(f.p, a, 0x7000, VAS_MEM_DECOMMIT));
    CHECK_CHARGE(&f, 0x8000);
    CHECK(vas_virtual_free(f.p, a, 0x7000, VAS_MEM_DECOMMIT)); /* again: nothing to give back */
    CHECK_CHARGE(&f, 0x8000);
    /* NT release of pages 12-13 (committed) and then of the tail 14-31 (2 committed). */
    uint64_t base = a + 0xC000, size = 0x2000;
    CHECK_EQ(vas_nt_free_virtual_memory(f.p, &base, &size, VAS_MEM_RELEASE), VAS_STATUS_SUCCESS);
    CHECK_CHARGE(&f, 0x6000);
    base = a + 0xE000;
    size = 0;
    CHECK_EQ(vas_nt_free_virtual_memory(f.p, &base, &size, VAS_MEM_RELEASE), VAS_STATUS_SUCCESS);
    CHECK_EQ(size, 0x12000);
    CHECK_CHARGE(&f, 0x4000);
    /* Releasing the head gives back its pages 8-11. */
    CHECK(vas_virtual_free(f.p, a, 0, VAS_MEM_RELEASE));
    CHECK_CHARGE(&f, 0);
    CHECK_EQ(counters_of(f.p).peak_commit_charge, 0xC000);
    CHECK_EQ(status_of(f.m).commit_peak, 0xC000);
    /* A destroyed process gives back everything it still had. */
    CHECK(vas_virtual_alloc(f.p, 0, 0x5000, VAS_MEM_COMMIT, VAS_PAGE_READWRITE) != 0);
    CHECK_CHARGE(&f, 0x5000);
    vas_process_destroy(f.p);
    CHECK_EQ(status_of(f.m).commit_total, 0);
    CHECK_EQ(status_of(f.m).process_count, 0);
    CHECK_EQ(vas_check(f.m), 0);
    vas_machine_destroy(f.m);
}

static void nt_checklist_38_exceeding_the_limit_commits_nothing(void)
{
    fx f = small_machine();
    uint64_t big = vas_virtual_alloc(f.p, 0, LIMIT - 0x3000, VAS_MEM_COMMIT, VAS_PAGE_READWRITE);
    CHECK(big != 0);
    CHECK_CHARGE(&f, LIMIT - 0x3000);
    /* Reserve+commit past the limit: no reservation is left behind. */
    CHECK_FAILS_CLEAN(&f, vas_virtual_alloc(f.p, 0, 0x4000, VAS_MEM_RESERVE | VAS_MEM_COMMIT, VAS_PAGE_READWRITE),
                      VAS_ERROR_COMMITMENT_LIMIT);
    CHECK_FAILS_CLEAN(&f, vas_virtual_alloc(f.p, 0, 0x4000, VAS_MEM_COMMIT | VAS_MEM_TOP_DOWN, VAS_PAGE_READWRITE),
                      VAS_ERROR_COMMITMENT_LIMIT);
    uint64_t base = 0, size = 0x4000;
    CHECK_NT_FAILS(&f, vas_nt_allocate_virtual_memory(f.p, &base, 0, &size, VAS_MEM_COMMIT, VAS_PAGE_READWRITE),
                   VAS_STATUS_COMMITMENT_LIMIT);
    CHECK_EQ(base, 0);
    CHECK_EQ(size, 0x4000);
    /* Commit inside a reservation past the limit: the reservation stays as it was. */
    uint64_t r = vas_virtual_alloc(f.p, 0, 0x10000, VAS_MEM_RESERVE, VAS_PAGE_READWRITE);
    CHECK(r != 0);
    CHECK_FAILS_CLEAN(&f, vas_virtual_alloc(f.p, r, 0x4000, VAS_MEM_COMMIT, VAS_PAGE_READWRITE),
                      VAS_ERROR_COMMITMENT_LIMIT);
    CHECK_MBI(vq(f.p, r), r, r, VAS_PAGE_READWRITE, 0x10000, VAS_MEM_RESERVE, 0, VAS_MEM_PRIVATE);
    /* Up to the limit exactly is fine. */
    CHECK_EQ(vas_virtual_alloc(f.p, r, 0x3000, VAS_MEM_COMMIT, VAS_PAGE_READONLY), r);
    CHECK_CHARGE(&f, LIMIT);
    CHECK_EQ(status_of(f.m).avail_commit, 0);
    CHECK_FAILS_CLEAN(&f, vas_virtual_alloc(f.p, r + 0x3000, 0x1000, VAS_MEM_COMMIT, VAS_PAGE_READWRITE),
                      VAS_ERROR_COMMITMENT_LIMIT);
    /* A range that is partly committed already, needing one new page: refused, and the
       committed part keeps its protection. */
    CHECK_FAILS_CLEAN(&f, vas_virtual_alloc(f.p, r, 0x4000, VAS_MEM_COMMIT, VAS_PAGE_EXECUTE_READ),
                      VAS_ERROR_COMMITMENT_LIMIT);
    CHECK_MBI(vq(f.p, r), r, r, VAS_PAGE_READWRITE, 0x3000, VAS_MEM_COMMIT, VAS_PAGE_READONLY, VAS_MEM_PRIVATE);
    /* Committing what is committed needs no new charge, even at the limit. */
    CHECK_EQ(vas_virtual_alloc(f.p, r, 0x3000, VAS_MEM_COMMIT, VAS_PAGE_READWRITE), r);
    CHECK_MBI(vq(f.p, r), r, r, VAS_PAGE_READWRITE, 0x3000, VAS_MEM_COMMIT, VAS_PAGE_READWRITE, VAS_MEM_PRIVATE);
    /* Reserving still works; giving pages back makes room again. */
    CHECK(vas_virtual_alloc(f.p, 0, 0x100000, VAS_MEM_RESERVE, VAS_PAGE_READWRITE) != 0);
    CHECK(vas_virtual_free(f.p, big, 0x2000, VAS_MEM_DECOMMIT));
    CHECK_EQ(vas_virtual_alloc(f.p, r + 0x3000, 0x2000, VAS_MEM_COMMIT, VAS_PAGE_READWRITE), r + 0x3000);
    CHECK_CHARGE(&f, LIMIT);
    CHECK_EQ(counters_of(f.p).peak_commit_charge, LIMIT);
    fx_close(&f);
}

static void nt_checklist_38_the_limit_is_machine_wide(void)
{
    fx f = small_machine();
    fx g = {f.m, vas_process_create(f.m, NULL)};
    CHECK(g.p != NULL);
    CHECK_EQ(status_of(f.m).process_count, 2);
    CHECK(vas_virtual_alloc(f.p, 0, LIMIT - 0x10000, VAS_MEM_COMMIT, VAS_PAGE_READWRITE) != 0);
    uint64_t b = vas_virtual_alloc(g.p, 0, 0x8000, VAS_MEM_COMMIT, VAS_PAGE_READWRITE);
    CHECK(b != 0);
    CHECK_EQ(counters_of(g.p).commit_charge, 0x8000);
    CHECK_EQ(status_of(f.m).commit_total, LIMIT - 0x8000);
    CHECK_FAILS_CLEAN(&g, vas_virtual_alloc(g.p, 0, 0x9000, VAS_MEM_COMMIT, VAS_PAGE_READWRITE),
                      VAS_ERROR_COMMITMENT_LIMIT);
    /* The first process going away frees its share for the second. */
    vas_process_destroy(f.p);
    CHECK_EQ(status_of(f.m).commit_total, 0x8000);
    CHECK_EQ(status_of(f.m).process_count, 1);
    CHECK(vas_virtual_alloc(g.p, 0, 0x9000, VAS_MEM_COMMIT, VAS_PAGE_READWRITE) != 0);
    CHECK_EQ(counters_of(g.p).commit_charge, 0x11000);
    CHECK_EQ(status_of(f.m).commit_peak, LIMIT - 0x8000);
    CHECK_EQ(vas_check(f.m), 0);
    vas_machine_destroy(f.m);
}

static const check_test tests[] = {
    TEST(nt_checklist_38_limit_is_ram_plus_paging_files),
    TEST(nt_checklist_39_committed_pages_are_charged_reserved_are_not),
    TEST(nt_checklist_4_recommit_is_not_charged_twice),
    TEST(nt_checklist_13_decommit_and_release_return_committed_pages),
    TEST(nt_checklist_38_exceeding_the_limit_commits_nothing),
    TEST(nt_checklist_38_the_limit_is_machine_wide),
};

CHECK_MAIN(tests)
