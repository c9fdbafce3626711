/*
 * test_scale.c - sizes that a naive allocation list or page array could not take.
 *
 *   test_scale [allocations [seed]]     default 1,000,000 allocations
 *
 * reserve_128tb: one MEM_RESERVE of nearly the whole x64 user space (128 TB less the space below
 *   the shared user page), a few scattered commits, protects, decommits and queries: it must be
 *   exact, quick, and cost the host almost no memory (peak RSS grows by less than 16 MB).
 * million_allocations: that many live allocations in one x64 process (system-placed, bottom-up
 *   and top-down, some committed), a sample queried field by field, every counter checked, then
 *   all freed in random order with the counters checked along the way.
 */
#include "check.h"

#include <sys/resource.h>
#include <time.h>

#define PAGE 0x1000ull
#define GRAN 0x10000ull

static uint64_t count = 1000000, seed = 1;

static uint64_t rng_state;
static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long peak_rss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static void expect_query(vas_process *p, uint64_t address, uint64_t base, uint64_t allocation_base,
                         uint32_t allocation_protect, uint64_t size, uint32_t state, uint32_t protect)
{
    vas_memory_basic_information mbi;
    CHECK_EQ(vas_virtual_query(p, address, &mbi, sizeof mbi), sizeof mbi);
    CHECK_EQ(mbi.base_address, base);
    CHECK_EQ(mbi.allocation_base, allocation_base);
    CHECK_EQ(mbi.allocation_protect, allocation_protect);
    CHECK_EQ(mbi.region_size, size);
    CHECK_EQ(mbi.state, state);
    CHECK_EQ(mbi.protect, protect);
    CHECK_EQ(mbi.type, state == VAS_MEM_FREE ? 0 : VAS_MEM_PRIVATE);
}

static void reserve_128tb(void)
{
    long rss_before = peak_rss_kb();
    double t0 = now();
    vas_machine *m = vas_machine_create(NULL);
    vas_process *p = vas_process_create(m, NULL);
    CHECK(m && p);
    if (!m || !p)
        return;
    vas_system_info si;
    vas_get_system_info(p, &si);
    CHECK_EQ(si.maximum_application_address, 0x00007FFFFFFEFFFFull);
    /* Above the shared user page (0x7FFE0000, 64 KB) up to the highest VAD address. */
    uint64_t lo = 0x7FFF0000ull, hi = si.maximum_application_address + 1 - GRAN, size = hi - lo;
    CHECK(size > (127ull << 40));
    uint64_t a = vas_virtual_alloc(p, 0, size, VAS_MEM_RESERVE, VAS_PAGE_READWRITE);
    CHECK_EQ(a, lo);
    expect_query(p, a + 12345 * PAGE, a + 12345 * PAGE, a, VAS_PAGE_READWRITE, hi - a - 12345 * PAGE,
                 VAS_MEM_RESERVE, 0);
    /* Nothing more fits anywhere but below the shared user page. */
    CHECK_FAILS(vas_virtual_alloc(p, 0, 0x80000000ull, VAS_MEM_RESERVE, VAS_PAGE_READWRITE),
                VAS_ERROR_NOT_ENOUGH_MEMORY);

    /* Commits at the bottom, the middle and the very top. */
    uint64_t mid = a + (size / 2 & ~(PAGE - 1)), top = hi - 2 * PAGE;
    CHECK_EQ(vas_virtual_alloc(p, a, PAGE, VAS_MEM_COMMIT, VAS_PAGE_READWRITE), a);
    CHECK_EQ(vas_virtual_alloc(p, mid + 1, 3 * PAGE - 1, VAS_MEM_COMMIT, VAS_PAGE_EXECUTE_READ), mid);
    CHECK_EQ(vas_virtual_alloc(p, top, 2 * PAGE, VAS_MEM_COMMIT, VAS_PAGE_READONLY), top);
    uint32_t old = 0;
    CHECK(vas_virtual_protect(p, mid + PAGE, PAGE, VAS_PAGE_NOACCESS, &old));
    CHECK_EQ(old, VAS_PAGE_EXECUTE_READ);
    expect_query(p, a, a, a, VAS_PAGE_READWRITE, PAGE, VAS_MEM_COMMIT, VAS_PAGE_READWRITE);
    expect_query(p, a + PAGE, a + PAGE, a, VAS_PAGE_READWRITE, mid - a - PAGE, VAS_MEM_RESERVE, 0);
    expect_query(p, mid, mid, a, VAS_PAGE_READWRITE, PAGE, VAS_MEM_COMMIT, VAS_PAGE_EXECUTE_READ);
    expect_query(p, mid + PAGE, mid + PAGE, a, VAS_PAGE_READWRITE, PAGE, VAS_MEM_COMMIT, VAS_PAGE_NOACCESS);
    expect_query(p, mid + 2 * PAGE, mid + 2 * PAGE, a, VAS_PAGE_READWRITE, PAGE, VAS_MEM_COMMIT,
                 VAS_PAGE_EXECUTE_READ);
    expect_query(p, mid + 3 * PAGE, mid + 3 * PAGE, a, VAS_PAGE_READWRITE, top - mid - 3 * PAGE,
                 VAS_MEM_RESERVE, 0);
    expect_query(p, hi - 1, top + PAGE, a, VAS_PAGE_READWRITE, PAGE, VAS_MEM_COMMIT, VAS_PAGE_READONLY);
    expect_query(p, hi, hi, 0, 0, GRAN, VAS_MEM_FREE, VAS_PAGE_NOACCESS);

    vas_memory_region_information ri;
    CHECK_EQ(vas_nt_query_region_information(p, mid, &ri), VAS_STATUS_SUCCESS);
    CHECK_EQ(ri.region_size, size);
    CHECK_EQ(ri.commit_size, 6 * PAGE);
    vas_process_counters c;
    CHECK(vas_process_get_counters(p, &c));
    CHECK_EQ(c.commit_charge, 6 * PAGE);
    CHECK_EQ(c.virtual_size, size + GRAN);

    /* Decommit the whole reservation at once, then split it with an NT partial release. */
    CHECK(vas_virtual_free(p, a, size, VAS_MEM_DECOMMIT));
    CHECK(vas_process_get_counters(p, &c));
    CHECK_EQ(c.commit_charge, 0);
    uint64_t b = mid, s = PAGE;
    CHECK_EQ(vas_nt_free_virtual_memory(p, &b, &s, VAS_MEM_RELEASE), VAS_STATUS_SUCCESS);
    expect_query(p, mid, mid, 0, 0, PAGE, VAS_MEM_FREE, VAS_PAGE_NOACCESS);
    expect_query(p, mid + PAGE, mid + PAGE, mid + PAGE, VAS_PAGE_READWRITE, hi - mid - PAGE,
                 VAS_MEM_RESERVE, 0);
    CHECK(vas_virtual_free(p, a, 0, VAS_MEM_RELEASE));
    CHECK(vas_virtual_free(p, mid + PAGE, 0, VAS_MEM_RELEASE));
    CHECK(vas_process_get_counters(p, &c));
    CHECK_EQ(c.virtual_size, GRAN);
    CHECK_EQ(c.allocation_count, 1);
    CHECK_EQ(vas_check(m), 0);
    vas_machine_destroy(m);

    double seconds = now() - t0;
    long rss_growth = peak_rss_kb() - rss_before;
    printf("reserve_128tb: %.3f s, peak RSS grew by %ld KB\n", seconds, rss_growth);
    CHECK(rss_growth < 16 * 1024);
    CHECK(seconds < 5.0);
}

static void check_counters(vas_process *p, uint64_t allocations, uint64_t committed)
{
    vas_process_counters c;
    CHECK(vas_process_get_counters(p, &c));
    CHECK_EQ(c.allocation_count, allocations + 1);      /* + the shared user page */
    CHECK_EQ(c.virtual_size, allocations * PAGE + GRAN);
    CHECK_EQ(c.commit_charge, committed * PAGE);
}

static void million_allocations(void)
{
    rng_state = seed;
    vas_machine *m = vas_machine_create(NULL);
    vas_process *p = vas_process_create(m, NULL);
    uint64_t *bases = malloc(count * sizeof *bases);
    CHECK(m && p && bases);
    if (!m || !p || !bases)
        return;
    /* Every 16th allocation is committed; every 4th is placed top-down. */
    double t0 = now();
    uint64_t committed = 0, lowest = UINT64_MAX, highest = 0;
    for (uint64_t i = 0; i < count; i++) {
        uint32_t type = VAS_MEM_RESERVE | (i % 16 == 0 ? VAS_MEM_COMMIT : 0) |
                        (i % 4 == 3 ? VAS_MEM_TOP_DOWN : 0);
        bases[i] = vas_virtual_alloc(p, 0, PAGE, type, i % 2 ? VAS_PAGE_READWRITE : VAS_PAGE_READONLY);
        if (!bases[i]) {
            CHECK_EQ(vas_last_error(), 0);
            count = i;
            break;
        }
        committed += i % 16 == 0;
        lowest = bases[i] < lowest ? bases[i] : lowest;
        highest = bases[i] > highest ? bases[i] : highest;
    }
    double t1 = now();
    check_counters(p, count, committed);
    /* Bottom-up ones pack from 0x10000 (below the shared user page), top-down ones from the top. */
    CHECK_EQ(lowest, 0x10000);
    CHECK_EQ(highest, 0x00007FFFFFFEFFFFull + 1 - 2 * GRAN);

    /* A sample, field by field: the page, and the unusable rest of its granule. */
    for (int k = 0; k < 20000 && count; k++) {
        uint64_t i = rnd() % count, a = bases[i];
        uint32_t protect = i % 2 ? VAS_PAGE_READWRITE : VAS_PAGE_READONLY;
        expect_query(p, a + rnd() % PAGE, a, a, protect, PAGE,
                     i % 16 == 0 ? VAS_MEM_COMMIT : VAS_MEM_RESERVE, i % 16 == 0 ? protect : 0);
        vas_memory_basic_information mbi;
        CHECK_EQ(vas_virtual_query(p, a + PAGE, &mbi, sizeof mbi), sizeof mbi);
        CHECK_EQ(mbi.state, VAS_MEM_FREE);
        CHECK_EQ(mbi.region_size % PAGE, 0);
        CHECK(mbi.region_size >= GRAN - PAGE);
        if (i % 16 != 0) { /* and a commit that must fail past its end */
            CHECK_FAILS(vas_virtual_alloc(p, a, 2 * PAGE, VAS_MEM_COMMIT, VAS_PAGE_READWRITE),
                        VAS_ERROR_INVALID_ADDRESS);
        }
    }
    CHECK_EQ(vas_check(m), 0);
    double t2 = now();

    /* Free everything in random order (Fisher-Yates), checking the counters as they fall. */
    for (uint64_t i = count; i > 1; i--) {
        uint64_t j = rnd() % i, t = bases[i - 1];
        bases[i - 1] = bases[j];
        bases[j] = t;
    }
    uint64_t left = count;
    for (uint64_t i = 0; i < count; i++) {
        uint64_t a = bases[i];
        vas_memory_region_information ri;
        if (i % 1024 == 0) {
            CHECK_EQ(vas_nt_query_region_information(p, a, &ri), VAS_STATUS_SUCCESS);
            CHECK_EQ(ri.region_size, PAGE);
        }
        vas_memory_basic_information mbi;
        CHECK_EQ(vas_virtual_query(p, a, &mbi, sizeof mbi), sizeof mbi);
        committed -= mbi.state == VAS_MEM_COMMIT;
        if (!vas_virtual_free(p, a, 0, VAS_MEM_RELEASE)) {
            CHECK_EQ(vas_last_error(), 0);
            break;
        }
        left--;
        if (i % 65536 == 0)
            check_counters(p, left, committed);
    }
    check_counters(p, 0, 0);
    CHECK_EQ(vas_check(m), 0);
    double t3 = now();
    printf("million_allocations: %llu allocations: fill %.2f s, sample %.2f s, free %.2f s\n",
           (unsigned long long)count, t1 - t0, t2 - t1, t3 - t2);
    free(bases);
    vas_machine_destroy(m);
}

static const check_test tests[] = {TEST(reserve_128tb), TEST(million_allocations)};

int main(int argc, char **argv)
{
    if (argc > 1)
        count = strtoull(argv[1], NULL, 0);
    if (argc > 2)
        seed = strtoull(argv[2], NULL, 0);
    return check_run(tests, sizeof tests / sizeof tests[0], 1, argv);
}
