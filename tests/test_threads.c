/*
 * test_threads.c - several host threads hammering one machine at once.
 *
 *   test_threads [calls-per-thread [threads [seed]]]
 *
 * Each thread owns a process of its own and also allocates in one process that all threads
 * share. It keeps a small model of the allocations it made (one protection per page, 0 for
 * reserved) and only ever changes those, so every answer it gets about them is exact even while
 * the other threads are busy in the same process: reserve (system-placed, bottom-up or top-down),
 * commit, decommit, protect, release, NT partial release, queries of its own pages and of
 * anybody's, failing calls that must leave their error in this thread's vas_last_error(), and
 * short-lived processes created and destroyed on the side.
 *
 * At the end: vas_check() is 0, each process's commit charge and virtual size are what the
 * threads' models add up to, the machine's commit total is their sum, and every allocation of
 * every thread is still exactly as its thread left it.
 */
#include "check.h"

#include <pthread.h>
#include <stdbool.h>

#define MAX_THREADS 16
#define MAX_ALLOCS 256
#define MAX_PAGES 32
#define PAGE 0x1000ull

typedef struct allocation {
    uint64_t base;
    uint32_t pages;
    uint32_t aprot;
    uint32_t protect[MAX_PAGES];   /* 0 = reserved */
} allocation;

typedef struct arena {             /* a thread's allocations in one process */
    vas_process *process;
    allocation a[MAX_ALLOCS];
    int count;
} arena;

typedef struct worker {
    int index;
    uint64_t rng, calls;
    arena own, shared;
    int errors;
    uint64_t ephemeral;            /* short-lived processes made */
} worker;

static vas_machine *machine;
static vas_process *shared_process;
static worker workers[MAX_THREADS];

static uint64_t rnd(worker *w)
{
    uint64_t z = (w->rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static uint64_t below(worker *w, uint64_t n) { return n ? rnd(w) % n : 0; }

static void fail(worker *w, const char *what, uint64_t got, uint64_t want)
{
    if (w->errors++ < 5)
        fprintf(stderr, "thread %d: %s: got 0x%llx, expected 0x%llx\n", w->index, what,
                (unsigned long long)got, (unsigned long long)want);
}
#define EXPECT(w, what, got, want)                                                             \
    do {                                                                                       \
        uint64_t g_ = (uint64_t)(got), e_ = (uint64_t)(want);                                  \
        if (g_ != e_)                                                                          \
            fail(w, what, g_, e_);                                                             \
    } while (0)

static const uint32_t protects[] = {VAS_PAGE_NOACCESS, VAS_PAGE_READONLY, VAS_PAGE_READWRITE,
                                    VAS_PAGE_EXECUTE, VAS_PAGE_EXECUTE_READ,
                                    VAS_PAGE_EXECUTE_READWRITE, VAS_PAGE_READWRITE | VAS_PAGE_GUARD};

static uint32_t pick_protect(worker *w) { return protects[below(w, sizeof protects / sizeof protects[0])]; }

/* Checks one page of an allocation against the model, field by field. */
static void verify_page(worker *w, arena *ar, const allocation *al, uint32_t page)
{
    vas_memory_basic_information mbi;
    uint64_t address = al->base + page * PAGE + below(w, PAGE);
    if (vas_virtual_query(ar->process, address, &mbi, sizeof mbi) != sizeof mbi) {
        fail(w, "VirtualQuery of an own page", vas_last_error(), 0);
        return;
    }
    uint32_t end = page;
    while (end < al->pages && al->protect[end] == al->protect[page])
        end++;
    EXPECT(w, "query base", mbi.base_address, al->base + page * PAGE);
    EXPECT(w, "query allocation base", mbi.allocation_base, al->base);
    EXPECT(w, "query allocation protect", mbi.allocation_protect, al->aprot);
    EXPECT(w, "query region size", mbi.region_size, (uint64_t)(end - page) * PAGE);
    EXPECT(w, "query state", mbi.state, al->protect[page] ? VAS_MEM_COMMIT : VAS_MEM_RESERVE);
    EXPECT(w, "query protect", mbi.protect, al->protect[page]);
    EXPECT(w, "query type", mbi.type, VAS_MEM_PRIVATE);
}

static void verify_all(worker *w, arena *ar)
{
    for (int i = 0; i < ar->count; i++)
        for (uint32_t p = 0; p < ar->a[i].pages; p++)
            verify_page(w, ar, &ar->a[i], p);
}

static void remove_allocation(arena *ar, int i) { ar->a[i] = ar->a[--ar->count]; }

/* One random call on this thread's own allocations in `ar`. */
static void step(worker *w, arena *ar)
{
    vas_process *p = ar->process;
    unsigned r = (unsigned)below(w, 100);
    if (ar->count == 0 || (r < 25 && ar->count < MAX_ALLOCS)) {
        uint32_t pages = 1 + (uint32_t)below(w, MAX_PAGES), protect = pick_protect(w);
        uint32_t type = VAS_MEM_RESERVE | (below(w, 2) ? VAS_MEM_COMMIT : 0) |
                        (below(w, 4) == 0 ? VAS_MEM_TOP_DOWN : 0);
        uint64_t size = pages * PAGE - below(w, PAGE);
        uint64_t base = vas_virtual_alloc(p, 0, size, type, protect);
        if (!base) {
            fail(w, "VirtualAlloc", vas_last_error(), 0);
            return;
        }
        EXPECT(w, "reservation alignment", base % 0x10000, 0);
        allocation *al = &ar->a[ar->count++];
        al->base = base;
        al->pages = pages;
        al->aprot = protect;
        for (uint32_t i = 0; i < pages; i++)
            al->protect[i] = type & VAS_MEM_COMMIT ? protect : 0;
        verify_page(w, ar, al, 0);
        return;
    }
    int i = (int)below(w, (uint64_t)ar->count);
    allocation *al = &ar->a[i];
    uint32_t first = (uint32_t)below(w, al->pages), count = 1 + (uint32_t)below(w, al->pages - first);
    uint64_t start = al->base + first * PAGE;
    if (r < 45) { /* commit */
        uint32_t protect = pick_protect(w);
        EXPECT(w, "commit", vas_virtual_alloc(p, start + below(w, PAGE), (count - 1) * PAGE + 1,
                                              VAS_MEM_COMMIT, protect), start);
        for (uint32_t k = first; k < first + count; k++)
            al->protect[k] = protect;
    } else if (r < 55) { /* decommit */
        EXPECT(w, "decommit", vas_virtual_free(p, start, count * PAGE, VAS_MEM_DECOMMIT), 1);
        for (uint32_t k = first; k < first + count; k++)
            al->protect[k] = 0;
    } else if (r < 70) { /* protect: succeeds exactly when every page is committed */
        bool committed = true;
        for (uint32_t k = first; k < first + count; k++)
            committed &= al->protect[k] != 0;
        uint32_t protect = pick_protect(w), old = 0xDEADBEEFu;
        vas_set_last_error(0);
        int ok = vas_virtual_protect(p, start, count * PAGE, protect, &old);
        EXPECT(w, "protect result", ok, committed);
        EXPECT(w, "protect old", old, committed ? al->protect[first] : VAS_PAGE_NOACCESS);
        if (committed) {
            for (uint32_t k = first; k < first + count; k++)
                al->protect[k] = protect;
        } else {
            EXPECT(w, "protect error (this thread's)", vas_last_error(), VAS_ERROR_INVALID_ADDRESS);
        }
    } else if (r < 78) { /* release */
        EXPECT(w, "release", vas_virtual_free(p, al->base, 0, VAS_MEM_RELEASE), 1);
        remove_allocation(ar, i);
    } else if (r < 83 && count < al->pages && ar->count < MAX_ALLOCS) { /* NT partial release: split in two or trim */
        uint64_t b = start, s = count * PAGE;
        EXPECT(w, "NT partial release", vas_nt_free_virtual_memory(p, &b, &s, VAS_MEM_RELEASE), 0);
        allocation head = *al, tail = *al;
        head.pages = first;
        tail.base = start + count * PAGE;
        tail.pages = al->pages - first - count;
        memmove(tail.protect, al->protect + first + count, tail.pages * sizeof tail.protect[0]);
        remove_allocation(ar, i);
        if (head.pages)
            ar->a[ar->count++] = head;
        if (tail.pages)
            ar->a[ar->count++] = tail;
    } else if (r < 90) { /* a call that must fail, with this thread's own error */
        vas_set_last_error(0);
        EXPECT(w, "bad free", vas_virtual_free(p, al->base, 1, VAS_MEM_RELEASE), 0);
        EXPECT(w, "bad free error", vas_last_error(), VAS_ERROR_INVALID_PARAMETER);
        vas_set_last_error(0);
        EXPECT(w, "bad reserve", vas_virtual_alloc(p, al->base, PAGE, VAS_MEM_RESERVE, VAS_PAGE_READWRITE), 0);
        EXPECT(w, "bad reserve error", vas_last_error(), VAS_ERROR_INVALID_ADDRESS);
    } else if (r < 96) {
        verify_page(w, ar, al, first);
    } else { /* anybody's memory: the answer must at least be coherent */
        vas_memory_basic_information mbi;
        uint64_t address = 0x10000 + below(w, 256ull << 20);
        if (vas_virtual_query(p, address, &mbi, sizeof mbi) != sizeof mbi)
            fail(w, "query anywhere", vas_last_error(), 0);
        else if (mbi.state == VAS_MEM_FREE ? mbi.allocation_base != 0
                 : mbi.allocation_base > mbi.base_address || mbi.region_size == 0)
            fail(w, "query anywhere: incoherent", mbi.allocation_base, mbi.base_address);
    }
}

/* A process that lives for a few calls. */
static void ephemeral(worker *w)
{
    vas_process *p = vas_process_create(machine, NULL);
    if (!p) {
        fail(w, "process create", vas_last_error(), 0);
        return;
    }
    uint64_t a = vas_virtual_alloc(p, 0, 0x40000, VAS_MEM_RESERVE | VAS_MEM_COMMIT, VAS_PAGE_READWRITE);
    EXPECT(w, "ephemeral allocation", a != 0, 1);
    vas_process_counters c;
    vas_process_get_counters(p, &c);
    EXPECT(w, "ephemeral commit", c.commit_charge, 0x40000);
    if (below(w, 2))
        EXPECT(w, "ephemeral release", vas_virtual_free(p, a, 0, VAS_MEM_RELEASE), 1);
    vas_process_destroy(p);
    w->ephemeral++;
}

static void *run(void *arg)
{
    worker *w = arg;
    w->own.process = vas_process_create(machine, NULL);
    w->shared.process = shared_process;
    if (!w->own.process) {
        fail(w, "process create", vas_last_error(), 0);
        return NULL;
    }
    for (uint64_t i = 0; i < w->calls && w->errors == 0; i++) {
        unsigned r = (unsigned)below(w, 1000);
        if (r < 3)
            ephemeral(w);
        else
            step(w, r < 500 ? &w->own : &w->shared);
    }
    return NULL;
}

typedef struct totals {
    uint64_t committed, allocated;
} totals;

static totals sum(const arena *ar)
{
    totals t = {0, 0};
    for (int i = 0; i < ar->count; i++) {
        t.allocated += ar->a[i].pages * PAGE;
        for (uint32_t p = 0; p < ar->a[i].pages; p++)
            t.committed += ar->a[i].protect[p] ? PAGE : 0;
    }
    return t;
}

static uint64_t calls = 200000, seed = 1;
static int threads = 4;

static void test_threads(void)
{
    machine = vas_machine_create(NULL);
    CHECK(machine != NULL);
    shared_process = vas_process_create(machine, &(vas_process_config){.name = "shared.exe"});
    CHECK(shared_process != NULL);
    if (!machine || !shared_process)
        return;
    pthread_t t[MAX_THREADS];
    for (int i = 0; i < threads; i++) {
        workers[i] = (worker){.index = i, .rng = seed * 1000 + (uint64_t)i, .calls = calls};
        CHECK_EQ(pthread_create(&t[i], NULL, run, &workers[i]), 0);
    }
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);

    CHECK_EQ(vas_check(machine), 0);
    uint64_t machine_commit = 0, shared_commit = 0, shared_size = 0, ephemeral_count = 0;
    for (int i = 0; i < threads; i++) {
        worker *w = &workers[i];
        verify_all(w, &w->own);
        verify_all(w, &w->shared);
        CHECK_EQ(w->errors, 0);
        totals own = sum(&w->own), shared = sum(&w->shared);
        vas_process_counters c;
        CHECK(vas_process_get_counters(w->own.process, &c));
        CHECK_EQ(c.commit_charge, own.committed);
        CHECK_EQ(c.virtual_size, own.allocated + 0x10000); /* + the shared user page's 64 KB */
        CHECK_EQ(c.allocation_count, (uint64_t)w->own.count + 1);
        machine_commit += own.committed;
        shared_commit += shared.committed;
        shared_size += shared.allocated;
        ephemeral_count += w->ephemeral;
    }
    vas_process_counters c;
    CHECK(vas_process_get_counters(shared_process, &c));
    CHECK_EQ(c.commit_charge, shared_commit);
    CHECK_EQ(c.virtual_size, shared_size + 0x10000);
    vas_memory_status ms;
    vas_global_memory_status(machine, &ms);
    CHECK_EQ(ms.commit_total, machine_commit + shared_commit);
    CHECK_EQ(ms.process_count, (uint32_t)threads + 1);
    printf("test_threads: %d threads x %llu calls (seed %llu), %llu short-lived processes; "
           "commit at the end %llu KB\n", threads, (unsigned long long)calls,
           (unsigned long long)seed, (unsigned long long)ephemeral_count,
           (unsigned long long)(ms.commit_total >> 10));

    /* Tear down from several threads too: each destroys its own process. */
    for (int i = 0; i < threads; i++)
        vas_process_destroy(workers[i].own.process);
    vas_global_memory_status(machine, &ms);
    CHECK_EQ(ms.commit_total, shared_commit);
    CHECK_EQ(vas_check(machine), 0);
    vas_machine_destroy(machine);
}

static const check_test tests[] = {TEST(test_threads)};

int main(int argc, char **argv)
{
    if (argc > 1)
        calls = strtoull(argv[1], NULL, 0);
    if (argc > 2)
        threads = atoi(argv[2]);
    if (argc > 3)
        seed = strtoull(argv[3], NULL, 0);
    if (threads < 1 || threads > MAX_THREADS)
        threads = 4;
    return check_run(tests, sizeof tests / sizeof tests[0], 1, argv);
}
