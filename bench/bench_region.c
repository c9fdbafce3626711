/*
 * bench_region.c - how fast libvas's region operations are, beside Linux and Unicorn 2.
 *
 * One run measures, and prints as markdown tables:
 *   (a) a reserve + commit + release cycle of one 64 KB region while N allocations are live
 *       (N = 100 .. 1M): vas_virtual_alloc(MEM_RESERVE) + vas_virtual_alloc(MEM_COMMIT) +
 *       vas_virtual_free(MEM_RELEASE), beside Linux mmap(PROT_NONE) + mprotect(RW) + munmap
 *       (kernel-placed regions, which the kernel merges into a few VMAs, and MAP_FIXED_NOREPLACE
 *       regions 64 KB apart, one VMA each, which vm.max_map_count stops), and beside Unicorn 2's
 *       uc_mem_map + uc_mem_unmap (only when built with Unicorn; it aborts the process past 4,095
 *       regions and each call costs O(N) or worse, so it runs at N <= 2,000, or 4,000 on request);
 *   (b) a change of protection of one resident page (RW <-> RO toggle) inside a 64 KB and a
 *       64 MB allocation: VirtualProtect, mprotect, uc_mem_protect;
 *   (c) VirtualQuery of one address with 100k allocations live (random addresses, and the same
 *       address again and again), and a walk of the whole address space with VirtualQuery;
 * then the ratios that the performance goals are stated in, each with its target and PASS/MISS.
 *
 * Method: clock_gettime(CLOCK_MONOTONIC). Cheap operations are timed in batches; a repetition's
 * value is the median ns/op of its batches; the value reported is the median of the repetitions.
 * Every repetition builds its N live regions afresh, and the repetitions of the cases that are
 * compared with each other are interleaved (rep 1 of every case, then rep 2, ...), so that a
 * burst of other work on the host hits all of them alike instead of one. Addresses are fixed or
 * drawn from splitmix64 with a fixed seed, so two runs do the same work.
 *
 * Usage: bench_region [--quick] [--unicorn-4000] [--only=abc]
 *   --quick         a smoke run with small N (seconds); what ctest runs as bench_smoke.
 *   --unicorn-4000  also measure Unicorn with 4,000 regions live. Filling one engine from 2,000
 *                   to 4,000 regions takes about two minutes, so the default run stops at 2,000.
 *   --only=LIST     run only the parts named, e.g. --only=bc (ratios needing the others: n/a).
 * Timing never decides the exit status: a missed target is printed, not failed. The program
 * exits 1 only when a call that must succeed fails (a bug, not a slow result).
 */
#define BENCH_NAME "bench_region"
#define BENCH_MAX_RESULTS 160
#define BENCH_IMPL_SIZE 40
#define BENCH_WHAT_SIZE 112
#define BENCH_NOTE_SIZE 160
#include "bench_common.h"

#include <sys/mman.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

#define REGION 0x10000ull                   /* 64 KB: the allocation granularity */
#define STRIDE (2 * REGION)                 /* gapped layouts: 64 KB region, 64 KB hole */
#define BIG (64ull << 20)                   /* the large allocation of (b) */
#define VAS_GAPPED_BASE 0x100000000ull      /* 4 GB */
#define LINUX_GAPPED_BASE 0x300000000000ull /* 48 TB: nothing else lives there */
#define UNICORN_BASE 0x100000000ull
#define SEED 0x76617362656e6368ull          /* "vasbench" */

/* ---- Small tools ------------------------------------------------------------------------- */

static bool unicorn_4000;         /* --unicorn-4000: also fill Unicorn to 4,000 regions */
static const char *only = "abc";  /* --only=LIST: the parts to run */

static const char *fmt_count(long n, char *buf, size_t size) { return fmt_ns((double)n, buf, size); }

/* The result named key, made on first use, with n allocations live. */
static result *get_result_n(const char *key, char group, const char *impl, const char *what, long n)
{
    bool fresh = !find_result(key);
    result *r = get_result(key, group, impl, what);
    if (fresh)
        r->n = n;
    return r;
}

/* Parameters of a batched measurement: reps are the outer loop of each part. */
static int reps_for(void) { return quick ? 2 : 5; }

/* ---- vas --------------------------------------------------------------------------------- */

/* A machine whose commit limit holds `regions` committed 64 KB regions and a 64 MB allocation, and
   one process in it. The room is paging file, not RAM: simulated RAM has a frame database sized
   by ram_bytes, while a paging file only raises the commit limit until pages are written out. */
static vas_process *vas_open(vas_machine **machine, long regions)
{
    vas_machine_config mc = {0};
    mc.pagefile_bytes = (uint64_t)regions * REGION + (1ull << 30);
    *machine = vas_machine_create(&mc);
    if (!*machine)
        die("vas_machine_create failed: %s", vas_error_name(vas_last_error()));
    vas_process *p = vas_process_create(*machine, NULL);
    if (!p)
        die("vas_process_create failed: %s", vas_error_name(vas_last_error()));
    return p;
}

/* Reserve then commit one 64 KB region, at `address` or (0) where the system puts it. */
static uint64_t vas_reserve_commit(vas_process *p, uint64_t address)
{
    uint64_t a = vas_virtual_alloc(p, address, REGION, VAS_MEM_RESERVE, VAS_PAGE_NOACCESS);
    if (!a)
        die("VirtualAlloc(%#llx, MEM_RESERVE) failed: %s", (unsigned long long)address,
            vas_error_name(vas_last_error()));
    if (vas_virtual_alloc(p, a, REGION, VAS_MEM_COMMIT, VAS_PAGE_READWRITE) != a)
        die("VirtualAlloc(%#llx, MEM_COMMIT) failed: %s", (unsigned long long)a,
            vas_error_name(vas_last_error()));
    return a;
}

/* N live allocations: packed (placed by the system, end to end) or gapped (64 KB apart). */
static void vas_fill(vas_process *p, long n, bool gapped)
{
    for (long i = 0; i < n; i++)
        vas_reserve_commit(p, gapped ? VAS_GAPPED_BASE + (uint64_t)i * STRIDE : 0);
}

static void vas_cycle(vas_process *p, uint64_t address)
{
    uint64_t a = vas_reserve_commit(p, address);
    if (!vas_virtual_free(p, a, 0, VAS_MEM_RELEASE))
        die("VirtualFree(%#llx, MEM_RELEASE) failed: %s", (unsigned long long)a,
            vas_error_name(vas_last_error()));
}

/* One repetition of the vas cycle with n live; returns the median ns per cycle of its batches. */
static double vas_cycle_rep(long n, bool gapped)
{
    int batches = quick ? 5 : 21, per_batch = quick ? 20 : 200;
    double batch_ns[MAX_SAMPLES];
    vas_machine *m;
    vas_process *p = vas_open(&m, n + 1);
    vas_fill(p, n, gapped);
    /* packed: VirtualAlloc(NULL), the system finds room after the N regions; gapped: at the next
       free slot of the layout, as MAP_FIXED_NOREPLACE does for Linux below */
    uint64_t at = gapped ? VAS_GAPPED_BASE + (uint64_t)n * STRIDE : 0;
    vas_cycle(p, at); /* warm the path */
    for (int b = 0; b < batches; b++) {
        uint64_t t0 = now_ns();
        for (int k = 0; k < per_batch; k++)
            vas_cycle(p, at);
        batch_ns[b] = (double)(now_ns() - t0) / per_batch;
    }
    vas_process_counters c;
    if (!vas_process_get_counters(p, &c) || c.allocation_count < (uint64_t)n)
        die("vas lost allocations: %llu live, %ld expected", (unsigned long long)c.allocation_count, n);
    vas_machine_destroy(m);
    return median(batch_ns, batches);
}

static void bench_vas_cycle(long n, bool gapped)
{
    char key[48];
    snprintf(key, sizeof key, "cycle/vas-%s/%ld", gapped ? "gapped" : "packed", n);
    result *r = get_result_n(key, 'a', "vas",
                           gapped ? "reserve+commit+release 64 KB; N live 64 KB apart, cycle at a fixed address"
                                  : "reserve+commit+release 64 KB; N live placed by the system, cycle at NULL",
                           n);
    add_sample(r, vas_cycle_rep(n, gapped));
    set_note(r, "%d batches of %d cycles per rep", quick ? 5 : 21, quick ? 20 : 200);
}

/* One repetition of VirtualProtect toggles on the middle page of a resident allocation. */
static void bench_vas_protect(uint64_t size, long live)
{
    char key[48], what[112];
    snprintf(key, sizeof key, "protect/vas/%s%s", size == BIG ? "64M" : "64K", live ? "/live" : "");
    snprintf(what, sizeof what, "VirtualProtect 1 page RW<->RO in a %s allocation%s",
             size == BIG ? "64 MB" : "64 KB", live ? ", allocations 64 KB apart live" : "");
    result *r = get_result_n(key, 'b', "vas", what, live);
    int batches = quick ? 5 : 21, per_batch = quick ? 100 : 1000;
    double batch_ns[MAX_SAMPLES];
    vas_machine *m;
    vas_process *p = vas_open(&m, live);
    vas_fill(p, live, true);
    uint64_t a = vas_virtual_alloc(p, 0, size, VAS_MEM_RESERVE | VAS_MEM_COMMIT, VAS_PAGE_READWRITE);
    if (!a)
        die("VirtualAlloc(%llu bytes) failed: %s", (unsigned long long)size, vas_error_name(vas_last_error()));
    /* Every page resident, as the Linux mapping below: the page tables are then full. (The smoke
       run touches only the pages around the one it changes: a debug build checks every page
       table after each call.) */
    uint64_t word = 0x5A5A5A5A5A5A5A5Aull;
    uint64_t from = quick ? size / 2 - PAGE : 0, to = quick ? size / 2 + 2 * PAGE : size;
    for (uint64_t offset = from; offset < to; offset += PAGE)
        if (vas_write(p, a + offset, &word, sizeof word, NULL))
            die("vas_write(%#llx) failed", (unsigned long long)(a + offset));
    uint64_t page = a + size / 2;
    uint32_t old, i = 0;
    for (int b = -1; b < batches; b++) { /* batch -1 warms up */
        uint64_t t0 = now_ns();
        for (int k = 0; k < per_batch; k++, i++)
            if (!vas_virtual_protect(p, page, PAGE, (i & 1) ? VAS_PAGE_READWRITE : VAS_PAGE_READONLY, &old))
                die("VirtualProtect failed: %s", vas_error_name(vas_last_error()));
        if (b >= 0)
            batch_ns[b] = (double)(now_ns() - t0) / per_batch;
    }
    vas_machine_destroy(m);
    add_sample(r, median(batch_ns, batches));
    set_note(r, "pages resident; each call splits or re-merges the page's run and rewrites its PTE");
}

/* One repetition of the VirtualQuery measurements with n allocations 64 KB apart. full: also the
   same address again and again, and the walk of the whole address space. */
static void bench_vas_query(long n, bool full)
{
    const long count = quick ? 100000 : n >= 1000000 ? 200000 : 500000, batch = 10000;
    uint64_t *addresses = malloc(sizeof *addresses * (size_t)count);
    uint64_t *holes = malloc(sizeof *holes * (size_t)count);
    if (!addresses || !holes)
        die("out of memory");
    rng = SEED ^ (uint64_t)n;
    for (long i = 0; i < count; i++) {
        uint64_t x = rng_next(), slot = VAS_GAPPED_BASE + (x % (uint64_t)n) * STRIDE;
        addresses[i] = slot + ((x >> 40) % REGION & ~7ull);       /* inside an allocation */
        holes[i] = slot + REGION + ((x >> 40) % REGION & ~7ull);  /* in the hole after it */
    }
    char key[48];
    vas_machine *m;
    vas_process *p = vas_open(&m, n);
    vas_fill(p, n, true);
    vas_memory_basic_information mbi;
    uint64_t acc = 0;
    double b_ns[128];
    for (int pass = 0; pass < 2; pass++) { /* 0: allocations, 1: holes */
        const uint64_t *list = pass ? holes : addresses;
        int nb = 0;
        for (long i = 0; i < count; i += batch) {
            uint64_t t0 = now_ns();
            for (long k = i; k < i + batch; k++) {
                if (vas_virtual_query(p, list[k], &mbi, sizeof mbi) != sizeof mbi)
                    die("VirtualQuery(%#llx) failed", (unsigned long long)list[k]);
                acc += mbi.region_size;
            }
            b_ns[nb++] = (double)(now_ns() - t0) / (double)batch;
        }
        snprintf(key, sizeof key, "query/vas/%s/%ld", pass ? "hole" : "random", n);
        result *r = get_result_n(key, 'c', "vas",
                               pass ? "VirtualQuery, random address in a free hole"
                                    : "VirtualQuery, random address inside an allocation", n);
        add_sample(r, median(b_ns, nb));
        set_note(r, "%ld addresses per rep, allocations 64 KB apart", count);
    }
    if (full) {
        uint64_t single = addresses[0];
        int nb = 0;
        for (long i = 0; i < count; i += batch) {
            uint64_t t0 = now_ns();
            for (long k = 0; k < batch; k++) {
                vas_virtual_query(p, single, &mbi, sizeof mbi);
                acc += mbi.state;
            }
            b_ns[nb++] = (double)(now_ns() - t0) / (double)batch;
        }
        snprintf(key, sizeof key, "query/vas/one/%ld", n);
        result *r = get_result_n(key, 'c', "vas", "VirtualQuery, the same address again and again", n);
        add_sample(r, median(b_ns, nb));
        set_note(r, "%ld calls per rep", count);

        vas_system_info si;
        vas_get_system_info(p, &si);
        uint64_t t0 = now_ns(), address = 0;
        long regions = 0;
        while (address <= si.maximum_application_address) {
            if (vas_virtual_query(p, address, &mbi, sizeof mbi) != sizeof mbi)
                die("VirtualQuery walk stopped at %#llx", (unsigned long long)address);
            regions++;
            address = mbi.base_address + mbi.region_size;
            if (address == 0)
                break;
        }
        double total = (double)(now_ns() - t0);
        snprintf(key, sizeof key, "walk/vas/region/%ld", n);
        r = get_result_n(key, 'c', "vas", "VirtualQuery walk of the whole address space, per region", n);
        add_sample(r, total / (double)regions);
        set_note(r, "%ld regions (allocations and free holes)", regions);
        snprintf(key, sizeof key, "walk/vas/total/%ld", n);
        r = get_result_n(key, 'c', "vas", "VirtualQuery walk of the whole address space, total", n);
        add_sample(r, total);
        set_note(r, "%ld regions", regions);

        /* The same walk in bulk: vas_query_regions, 4096 regions a call. */
        enum { BULK = 4096 };
        vas_memory_basic_information *bulk = malloc(BULK * sizeof *bulk);
        if (!bulk)
            die("out of memory");
        t0 = now_ns();
        long bulk_regions = 0;
        for (address = 0;;) {
            size_t got = vas_query_regions(p, address, bulk, BULK);
            if (!got)
                die("vas_query_regions stopped at %#llx", (unsigned long long)address);
            bulk_regions += (long)got;
            address = bulk[got - 1].base_address + bulk[got - 1].region_size;
            if (address == 0 || address > si.maximum_application_address)
                break;
        }
        total = (double)(now_ns() - t0);
        free(bulk);
        if (bulk_regions != regions)
            die("vas_query_regions saw %ld regions, VirtualQuery %ld", bulk_regions, regions);
        snprintf(key, sizeof key, "walk/vas-bulk/region/%ld", n);
        r = get_result_n(key, 'c', "vas", "vas_query_regions walk of the whole address space, per region", n);
        add_sample(r, total / (double)regions);
        set_note(r, "%ld regions, 4096 a call", regions);
        snprintf(key, sizeof key, "walk/vas-bulk/total/%ld", n);
        r = get_result_n(key, 'c', "vas", "vas_query_regions walk of the whole address space, total", n);
        add_sample(r, total);
        set_note(r, "%ld regions", regions);
    }
    sink = acc;
    vas_machine_destroy(m);
    free(addresses);
    free(holes);
}

/* ---- Linux ------------------------------------------------------------------------------- */

static long read_long(const char *path)
{
    FILE *f = fopen(path, "r");
    long v = -1;
    if (f) {
        if (fscanf(f, "%ld", &v) != 1)
            v = -1;
        fclose(f);
    }
    return v;
}

static void *linux_reserve(uint64_t at)
{
    int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | (at ? MAP_FIXED_NOREPLACE : 0);
    void *q = mmap((void *)(uintptr_t)at, REGION, PROT_NONE, flags, -1, 0);
    return q == MAP_FAILED ? NULL : q;
}

static bool linux_cycle_once(uint64_t at)
{
    void *q = linux_reserve(at);
    if (!q)
        return false;
    if (mprotect(q, REGION, PROT_READ | PROT_WRITE) != 0) {
        munmap(q, REGION);
        return false;
    }
    return munmap(q, REGION) == 0;
}

static long linux_gapped_stop; /* how many gapped regions Linux held before refusing, 0 if never */


/* One repetition of the Linux cycle with n regions live. */
static void bench_linux_cycle(long n, bool gapped)
{
    char key[48];
    snprintf(key, sizeof key, "cycle/linux-%s/%ld", gapped ? "gapped" : "merged", n);
    result *r = get_result_n(key, 'a', "Linux",
                           gapped ? "mmap PROT_NONE+mprotect RW+munmap 64 KB; N live 64 KB apart (MAP_FIXED_NOREPLACE)"
                                  : "mmap PROT_NONE+mprotect RW+munmap 64 KB; N live kernel-placed (VMAs merge)",
                           n);
    if (r->failed)
        return;
    if (gapped && linux_gapped_stop && n > linux_gapped_stop) {
        r->failed = true;
        set_note(r, "not run: Linux stops at %ld regions 64 KB apart (ENOMEM, vm.max_map_count = %ld)",
                 linux_gapped_stop, read_long("/proc/sys/vm/max_map_count"));
        return;
    }
    int batches = quick ? 5 : 21, per_batch = quick ? 20 : 100;
    void **live = malloc(sizeof *live * (size_t)n);
    if (!live)
        die("out of memory");
    long i;
    for (i = 0; i < n; i++) {
        live[i] = linux_reserve(gapped ? LINUX_GAPPED_BASE + (uint64_t)i * STRIDE : 0);
        if (!live[i] || mprotect(live[i], REGION, PROT_READ | PROT_WRITE) != 0)
            break;
    }
    if (i < n) { /* region i was not made, or not committed */
        int e = errno;
        if (live[i])
            munmap(live[i], REGION);
        for (long j = 0; j < i; j++)
            munmap(live[j], REGION);
        free(live);
        if (gapped)
            linux_gapped_stop = i;
        r->failed = true;
        set_note(r, "fails after %ld regions: %s (vm.max_map_count = %ld)", i, strerror(e),
                 read_long("/proc/sys/vm/max_map_count"));
        return;
    }
    long vmas = count_vmas();
    uint64_t at = gapped ? LINUX_GAPPED_BASE + (uint64_t)n * STRIDE : 0;
    double batch_ns[MAX_SAMPLES];
    for (int b = -1; b < batches; b++) {
        uint64_t t0 = now_ns();
        for (int k = 0; k < per_batch; k++)
            if (!linux_cycle_once(at))
                die("Linux cycle failed at N = %ld: %s", n, strerror(errno));
        if (b >= 0)
            batch_ns[b] = (double)(now_ns() - t0) / per_batch;
    }
    for (i = 0; i < n; i++)
        munmap(live[i], REGION);
    free(live);
    add_sample(r, median(batch_ns, batches));
    set_note(r, "%ld VMAs in the process with N live; %d batches of %d cycles per rep", vmas, batches, per_batch);
}

/* One repetition of mprotect toggles on the middle page of a resident mapping. */
static void bench_linux_protect(uint64_t size)
{
    result *r = get_result_n(size == BIG ? "protect/linux/64M" : "protect/linux/64K", 'b', "Linux",
                           size == BIG ? "mprotect 1 page RW<->RO in a 64 MB mapping"
                                       : "mprotect 1 page RW<->RO in a 64 KB mapping", 0);
    int batches = quick ? 5 : 21, per_batch = quick ? 100 : 1000;
    double batch_ns[MAX_SAMPLES];
    uint8_t *q = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (q == MAP_FAILED)
        die("mmap %llu: %s", (unsigned long long)size, strerror(errno));
    memset(q, 0x5A, size); /* resident, as a program's data would be */
    uint8_t *page = q + size / 2;
    uint32_t i = 0;
    for (int b = -1; b < batches; b++) {
        uint64_t t0 = now_ns();
        for (int k = 0; k < per_batch; k++, i++)
            if (mprotect(page, PAGE, (i & 1) ? PROT_READ | PROT_WRITE : PROT_READ) != 0)
                die("mprotect: %s", strerror(errno));
        if (b >= 0)
            batch_ns[b] = (double)(now_ns() - t0) / per_batch;
    }
    munmap(q, size);
    add_sample(r, median(batch_ns, batches));
    set_note(r, "pages resident; the VMA splits and merges each call");
}

/* ---- Unicorn 2 --------------------------------------------------------------------------- */

#define UNICORN_WHAT "uc_mem_map+uc_mem_unmap 64 KB; N live 64 KB apart"

#ifdef VAS_BENCH_HAVE_UNICORN
static uc_engine *uc_new(void)
{
    uc_engine *uc;
    uc_must(uc_open(UC_ARCH_X86, UC_MODE_64, &uc), "uc_open");
    /* Unicorn builds its machine on the first memory call: keep that out of the timings. */
    uc_must(uc_mem_map(uc, 0x7F0000000000ull, REGION, UC_PROT_ALL), "warm-up uc_mem_map");
    uc_must(uc_mem_unmap(uc, 0x7F0000000000ull, REGION), "warm-up uc_mem_unmap");
    return uc;
}

/* One engine filled step by step to each N (filling costs about N^3 in all, so it is done once):
   each cycle is one sample. */
static void bench_unicorn_cycles(const long *ns, int count)
{
    uc_engine *uc = uc_new();
    long live = 0;
    for (int s = 0; s < count; s++) {
        long n = ns[s];
        uint64_t t0 = now_ns();
        for (; live < n; live++)
            uc_must(uc_mem_map(uc, UNICORN_BASE + (uint64_t)live * STRIDE, REGION, UC_PROT_READ | UC_PROT_WRITE),
                    "uc_mem_map (fill)");
        progress("  Unicorn: %ld regions mapped (%.1f s for this step)", n, (double)(now_ns() - t0) / 1e9);
        char key[48];
        snprintf(key, sizeof key, "cycle/unicorn/%ld", n);
        result *r = get_result_n(key, 'a', unicorn_name, UNICORN_WHAT, n);
        int cycles = quick ? 5 : n <= 1000 ? 31 : 11;
        uint64_t at = UNICORN_BASE + (uint64_t)n * STRIDE;
        for (int c = -1; c < cycles; c++) {
            uint64_t c0 = now_ns();
            uc_must(uc_mem_map(uc, at, REGION, UC_PROT_READ | UC_PROT_WRITE), "uc_mem_map (cycle)");
            uc_must(uc_mem_unmap(uc, at, REGION), "uc_mem_unmap (cycle)");
            if (c >= 0)
                add_sample(r, (double)(now_ns() - c0));
        }
        set_note(r, "median of %d cycles in one filled engine", cycles);
        if (n != ns[count - 1])
            continue;
        snprintf(key, sizeof key, "walk/unicorn/region/%ld", n);
        r = get_result_n(key, 'c', unicorn_name, "uc_mem_regions (all regions in one call), per region", n);
        for (int c = 0; c < 11; c++) {
            uc_mem_region *regions;
            uint32_t got;
            uint64_t c0 = now_ns();
            uc_must(uc_mem_regions(uc, &regions, &got), "uc_mem_regions");
            uc_free(regions);
            add_sample(r, (double)(now_ns() - c0) / (double)n);
            if (got != (uint32_t)n)
                die("uc_mem_regions returned %u regions, %ld expected", got, n);
        }
        set_note(r, "a bulk copy of Unicorn's sorted array, + uc_free; 11 calls");
    }
    uc_close(uc);
}

static void bench_unicorn_protect(uint64_t size)
{
    int reps = quick ? 1 : size == BIG ? 3 : 5, per_batch = quick ? 20 : 200, batches = quick ? 3 : 11;
    const char *sz = size == BIG ? "64M" : "64K", *label = size == BIG ? "64 MB" : "64 KB";
    char key[48], what[112];
    snprintf(key, sizeof key, "protect/unicorn/split/%s", sz);
    snprintf(what, sizeof what, "uc_mem_protect 1 page, first call (splits the %s region)", label);
    result *split = get_result_n(key, 'b', unicorn_name, what, 0);
    set_note(split, "copies the whole region and maps up to 3 new ones");
    snprintf(key, sizeof key, "protect/unicorn/toggle/%s", sz);
    snprintf(what, sizeof what, "uc_mem_protect the same page again, RW<->RO (%s region)", label);
    result *toggle = get_result_n(key, 'b', unicorn_name, what, 0);
    set_note(toggle, "the page is its own region by now: flips its read-only flag");
    double batch_ns[MAX_SAMPLES];
    for (int r = 0; r < reps; r++) {
        uc_engine *uc = uc_new();
        uc_must(uc_mem_map(uc, UNICORN_BASE, size, UC_PROT_READ | UC_PROT_WRITE), "uc_mem_map");
        uint64_t page = UNICORN_BASE + size / 2;
        uint64_t t0 = now_ns();
        uc_must(uc_mem_protect(uc, page, PAGE, UC_PROT_READ), "uc_mem_protect (first)");
        add_sample(split, (double)(now_ns() - t0));
        uint32_t i = 0;
        for (int b = -1; b < batches; b++) {
            t0 = now_ns();
            for (int k = 0; k < per_batch; k++, i++)
                uc_must(uc_mem_protect(uc, page, PAGE, (i & 1) ? UC_PROT_READ : UC_PROT_READ | UC_PROT_WRITE),
                        "uc_mem_protect (toggle)");
            if (b >= 0)
                batch_ns[b] = (double)(now_ns() - t0) / per_batch;
        }
        add_sample(toggle, median(batch_ns, batches));
        uc_close(uc);
    }
}
#endif

/* ---- Report ------------------------------------------------------------------------------ */

static void print_machine(void)
{
    char model[128] = "unknown", thp[128] = "unknown", load[64] = "unknown";
    read_line("/sys/kernel/mm/transparent_hugepage/enabled", "", thp, sizeof thp);
    read_line("/proc/loadavg", "", load, sizeof load);
    struct utsname u;
    print_heading("vas region benchmark", " (--quick: small N, a smoke run, not a measurement)", model, sizeof model,
                  &u);
    printf("- host: %ld CPUs online, %s, %s %s, vm.max_map_count = %ld, THP %s\n",
           sysconf(_SC_NPROCESSORS_ONLN), model, u.sysname, u.release,
           read_long("/proc/sys/vm/max_map_count"), thp);
    print_unicorn_line();
    printf("- load average at the end: %s (other work on the host skews timings)\n", load);
    printf("- ns/op: the median over reps; each rep is the median of its batches\n");
}

static void print_ratios(long n_small, long n_mid, long n_big, int capacity, long n_capacity)
{
    char key[64], key2[64], name[160], note[160], t1[32], t2[32];
    print_ratio_heading("note");

    /* G1: the cycle beside Linux at n_mid (100k in a full run). Linux holds that many only
       kernel-placed (merged); both vas layouts are held against that. */
    snprintf(key2, sizeof key2, "cycle/linux-merged/%ld", n_mid);
    double linux_cycle = lookup(key2);
    for (int g = 0; g < 2; g++) {
        const char *layout = g ? "gapped" : "packed";
        snprintf(key, sizeof key, "cycle/vas-%s/%ld", layout, n_mid);
        double r = div_or_na(lookup(key), linux_cycle);
        snprintf(name, sizeof name, "vas cycle @%s (%s) / Linux cycle @%s (kernel-placed)",
                 fmt_count(n_mid, t1, sizeof t1), layout, t1);
        snprintf(note, sizeof note, "%s ns vs %s ns", fmt_ns(lookup(key), t1, sizeof t1),
                 fmt_ns(linux_cycle, t2, sizeof t2));
        ratio_row(name, r, "<= 1.0 (G1: <= 2, stretch <= 1)", r >= 0 && r <= 1.0, note);
    }
    /* G2: scaling of the cycle, 1k -> 1M (this benchmark's target) and 1k -> 100k (the anchors'). */
    for (int k = 0; k < 2; k++) {
        long n_far = k ? n_mid : n_big;
        if (k && n_mid == n_big)
            break;
        for (int g = 0; g < 2; g++) {
            const char *layout = g ? "gapped" : "packed";
            snprintf(key, sizeof key, "cycle/vas-%s/%ld", layout, n_far);
            snprintf(key2, sizeof key2, "cycle/vas-%s/%ld", layout, n_small);
            double r = div_or_na(lookup(key), lookup(key2));
            snprintf(name, sizeof name, "vas cycle @%s / vas cycle @%s (%s)", fmt_count(n_far, t1, sizeof t1),
                     fmt_count(n_small, t2, sizeof t2), layout);
            snprintf(note, sizeof note, "%s ns vs %s ns", fmt_ns(lookup(key), t1, sizeof t1),
                     fmt_ns(lookup(key2), t2, sizeof t2));
            ratio_row(name, r, "<= 1.5 (G2: O(log n))", r >= 0 && r <= 1.5, note);
        }
    }
    /* G3: capacity. */
    snprintf(name, sizeof name, "capacity: %s allocations live (reserved and committed)",
             fmt_count(n_capacity, t1, sizeof t1));
    char stop[64] = "";
    if (linux_gapped_stop)
        snprintf(stop, sizeof stop, "Linux (64 KB apart) stops at %s; ", fmt_count(linux_gapped_stop, t2, sizeof t2));
    if (capacity < 0) {
        printf("| %s | n/a | >= 100,000, stretch 1M (G3) | - | part (a) not run |\n", name);
    } else {
        printf("| %s | %s | >= 100,000, stretch 1M (G3) | %s | %sUnicorn aborts past 4,095 |\n", name,
               capacity ? "held" : "failed", verdict(capacity != 0), stop);
    }

    /* G4: protection of one page. */
    double p64k = lookup("protect/vas/64K"), p64m = lookup("protect/vas/64M");
    double r = div_or_na(p64m, p64k);
    snprintf(note, sizeof note, "%s ns vs %s ns", fmt_ns(p64m, t1, sizeof t1), fmt_ns(p64k, t2, sizeof t2));
    ratio_row("vas VirtualProtect 1 page: in 64 MB / in 64 KB", r, "~1.0 (0.8 .. 1.25: O(1) in the size)",
              r >= 0.8 && r <= 1.25, note);
    r = div_or_na(p64m, lookup("protect/linux/64M"));
    ratio_row("vas VirtualProtect / Linux mprotect, 1 page in 64 MB", r, "<= 0.5 (G4)", r >= 0 && r <= 0.5, NULL);
    ratio_row("vas VirtualProtect 1 page in 64 MB, ns", p64m, "<= 1,000 ns (G4)", p64m >= 0 && p64m <= 1000, NULL);

    /* G12 and G2: query. */
    snprintf(key, sizeof key, "query/vas/one/%ld", n_mid);
    double q = lookup(key);
    snprintf(name, sizeof name, "vas VirtualQuery ns @%s live, one address again and again",
             fmt_count(n_mid, t1, sizeof t1));
    ratio_row(name, q, "< 100 ns (G12)", q >= 0 && q < 100, NULL);
    snprintf(key, sizeof key, "query/vas/random/%ld", n_mid);
    q = lookup(key);
    snprintf(name, sizeof name, "vas VirtualQuery ns @%s live, random addresses", t1);
    ratio_row(name, q, "< 100 ns (G12)", q >= 0 && q < 100, "bound by memory latency: see docs/performance.md");
    snprintf(key2, sizeof key2, "query/vas/random/%ld", n_small);
    r = div_or_na(q, lookup(key2));
    snprintf(name, sizeof name, "vas VirtualQuery @%s / @%s (random addresses)", t1, fmt_count(n_small, t2, sizeof t2));
    ratio_row(name, r, "<= 1.5 (G2)", r >= 0 && r <= 1.5, NULL);
    snprintf(key, sizeof key, "walk/vas/region/%ld", n_mid);
    q = lookup(key);
    snprintf(name, sizeof name, "vas VirtualQuery walk @%s live, ns per region", t1);
    ratio_row(name, q, "<= 2 ns (G12: uc_mem_regions' bulk copy)", q >= 0 && q <= 2,
              "one locked call and one O(log n) lookup per region; needs a bulk enumeration call");
    snprintf(key, sizeof key, "walk/vas/total/%ld", n_mid);
    q = lookup(key);
    snprintf(name, sizeof name, "vas VirtualQuery walk @%s live, total ms", t1);
    ratio_row(name, q < 0 ? -1 : q / 1e6, "<= 0.2 ms (G12)", q >= 0 && q <= 0.2e6, NULL);
    snprintf(key, sizeof key, "walk/vas-bulk/region/%ld", n_mid);
    q = lookup(key);
    snprintf(name, sizeof name, "vas_query_regions walk @%s live, ns per region", t1);
    ratio_row(name, q, "<= 2 ns (G12: uc_mem_regions' bulk copy)", q >= 0 && q <= 2, NULL);
    snprintf(key, sizeof key, "walk/vas-bulk/total/%ld", n_mid);
    q = lookup(key);
    snprintf(name, sizeof name, "vas_query_regions walk @%s live, total ms", t1);
    ratio_row(name, q < 0 ? -1 : q / 1e6, "<= 0.2 ms (G12)", q >= 0 && q <= 0.2e6, NULL);

    /* Beside Unicorn (G1 and G4). */
#ifdef VAS_BENCH_HAVE_UNICORN
    static const long un[] = {100, 1000, 2000, 4000};
    static const double target[] = {0, 1.0 / 1500, 1.0 / 6000, 0};
    for (int i = 0; i < 4; i++) {
        snprintf(key, sizeof key, "cycle/vas-gapped/%ld", un[i]);
        snprintf(key2, sizeof key2, "cycle/unicorn/%ld", un[i]);
        r = div_or_na(lookup(key), lookup(key2));
        if (r < 0)
            continue;
        snprintf(name, sizeof name, "vas cycle / Unicorn map+unmap cycle @%s (both 64 KB apart)",
                 fmt_count(un[i], t1, sizeof t1));
        snprintf(note, sizeof note, "Unicorn is %s x slower", fmt_ns(1 / r, t2, sizeof t2));
        if (target[i] > 0) {
            char tt[64];
            snprintf(tt, sizeof tt, "<= 1/%s (G1)", fmt_ns(1 / target[i], t1, sizeof t1));
            ratio_row(name, r, tt, r <= target[i], note);
        } else {
            ratio_row(name, r, "none (G1 names 1k and 2k)", INFO, note);
        }
    }
    static const struct {
        const char *name, *key, *target;
        double limit;
        bool big;
    } protect_vs[] = {
        {"vas VirtualProtect / Unicorn first uc_mem_protect (a split), 64 KB", "protect/unicorn/split/64K",
         "<= 1/80 (G4)", 1.0 / 80, false},
        {"vas VirtualProtect / Unicorn first uc_mem_protect (a split), 64 MB", "protect/unicorn/split/64M",
         "<= 1/50,000 (G4)", 1.0 / 50000, true},
        {"vas VirtualProtect / Unicorn uc_mem_protect toggle, 64 KB", "protect/unicorn/toggle/64K", "<= 1/6 (G4)",
         1.0 / 6, false},
        {"vas VirtualProtect / Unicorn uc_mem_protect toggle, 64 MB", "protect/unicorn/toggle/64M", "<= 1/6 (G4)",
         1.0 / 6, true},
    };
    for (size_t i = 0; i < sizeof protect_vs / sizeof protect_vs[0]; i++) {
        r = div_or_na(protect_vs[i].big ? p64m : p64k, lookup(protect_vs[i].key));
        snprintf(note, sizeof note, "Unicorn is %s x slower", r > 0 ? fmt_ns(1 / r, t1, sizeof t1) : "?");
        ratio_row(protect_vs[i].name, r, protect_vs[i].target, r >= 0 && r <= protect_vs[i].limit, note);
    }
#else
    printf("| vas / Unicorn ratios | n/a | G1, G4 | - | built without libunicorn-dev |\n");
#endif
    print_targets_summary();
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            quick = true;
        } else if (strcmp(argv[i], "--unicorn-4000") == 0) {
            unicorn_4000 = true;
        } else if (strncmp(argv[i], "--only=", 7) == 0 && argv[i][7] && !argv[i][7 + strspn(argv[i] + 7, "abc")]) {
            only = argv[i] + 7;
        } else {
            fprintf(stderr, "usage: %s [--quick] [--unicorn-4000] [--only=abc]\n", argv[0]);
            return strcmp(argv[i], "--help") == 0 ? 0 : 2;
        }
    }
#ifdef VAS_BENCH_HAVE_UNICORN
    unicorn_init_name();
#endif
    run_start = now_ns();
    bool run_a = strchr(only, 'a'), run_b = strchr(only, 'b'), run_c = strchr(only, 'c');

    /* The sizes: N live allocations. Linux runs at the N of the anchors (1k and up). */
    static const long full_ns[] = {100, 1000, 2000, 4000, 10000, 100000, 1000000};
    static const long quick_ns[] = {100, 1000};
    const long *ns = quick ? quick_ns : full_ns;
    int n_count = quick ? 2 : 7, reps = reps_for();
    long n_small = quick ? 100 : 1000, n_mid = quick ? 1000 : 100000, n_big = quick ? 1000 : 1000000;

    progress("warming up");
    vas_cycle_rep(1000, false);

    /* (a) the cycle; reps outermost, so a burst of other work hits every case alike. */
    for (int r = 0; run_a && r < reps; r++) {
        progress("cycles, rep %d of %d", r + 1, reps);
        for (int i = 0; i < n_count; i++) {
            bench_vas_cycle(ns[i], false);
            bench_vas_cycle(ns[i], true);
            if (ns[i] >= 1000) {
                bench_linux_cycle(ns[i], false);
                bench_linux_cycle(ns[i], true);
            }
        }
    }
#ifdef VAS_BENCH_HAVE_UNICORN
    if (run_a) {
        static const long full_uc[] = {100, 1000, 2000, 4000};
        static const long quick_uc[] = {100};
        int uc_count = quick ? 1 : unicorn_4000 ? 4 : 3;
        progress("Unicorn cycles up to N = %ld (filling one engine to 2,000 regions takes 10-20 s)",
                 (quick ? quick_uc : full_uc)[uc_count - 1]);
        bench_unicorn_cycles(quick ? quick_uc : full_uc, uc_count);
        for (int i = 0; i < n_count; i++) {
            char key[48];
            snprintf(key, sizeof key, "cycle/unicorn/%ld", ns[i]);
            if (ns[i] <= 2000 || find_result(key))
                continue;
            result *u = get_result_n(key, 'a', unicorn_name, UNICORN_WHAT, ns[i]);
            u->failed = true;
            if (ns[i] <= 4000)
                set_note(u, "not run by default: filling 2,000 -> 4,000 regions takes about 2 minutes "
                            "(--unicorn-4000 runs it)");
            else
                set_note(u, "not run: Unicorn aborts the process past 4,095 regions");
        }
    }
#endif
    /* (b) protection. */
    for (int r = 0; run_b && r < reps; r++) {
        progress("protect, rep %d of %d", r + 1, reps);
        bench_vas_protect(REGION, 0);
        bench_vas_protect(BIG, 0);
        bench_vas_protect(BIG, n_mid);
        bench_linux_protect(REGION);
        bench_linux_protect(BIG);
    }
#ifdef VAS_BENCH_HAVE_UNICORN
    if (run_b) {
        progress("Unicorn protect");
        bench_unicorn_protect(REGION);
        bench_unicorn_protect(BIG);
    }
#endif
    /* (c) query. */
    for (int r = 0; run_c && r < reps; r++) {
        progress("query, rep %d of %d", r + 1, reps);
        bench_vas_query(n_small, false);
        bench_vas_query(n_mid, true);
        if (n_big != n_mid)
            bench_vas_query(n_big, false);
    }

    /* Capacity: the largest fill above held (vas_fill dies otherwise); unknown without (a). */
    char key[48];
    snprintf(key, sizeof key, "cycle/vas-gapped/%ld", ns[n_count - 1]);
    int capacity = run_a ? lookup(key) >= 0 : -1;

    print_machine();
    print_results('a', "(a) Reserve + commit + release cycle of a 64 KB region with N allocations live", "ns/op",
                  true);
    print_results('b', "(b) Change the protection of one resident 4 KB page", "ns/op", true);
    print_results('c', "(c) VirtualQuery", "ns/op", true);
    print_ratios(n_small, n_mid, n_big, capacity, ns[n_count - 1]);
    print_whole_run();
    return 0;
}
