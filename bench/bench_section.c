/*
 * bench_section.c - how fast libvas's sections are: mapping and unmapping views, the first touch
 * of a shared page through a second view (a soft fault), and copy-on-write, beside the host
 * kernel's mmap of a shared file and, for mapping, Unicorn 2's uc_mem_map_ptr.
 *
 * One run measures, side by side:
 *   (a) a map + unmap pair: MapViewOfFile (vas_map_view_of_file, FILE_MAP_WRITE, the whole
 *       section, placed by the system) + UnmapViewOfFile of a 64 MB section, while N other views
 *       are live in the process (N = 1,000 and 100,000), ns per pair. Two sections: backed by
 *       the paging file (SEC_COMMIT) and by a host file of 64 MB in $TMPDIR or /tmp. Two shapes
 *       of the N others: "same", N views of that very 64 MB section (100,000 x 64 MB = 6.4 TB of
 *       the x64 layout's 128 TB of user space); "other", N views of another section of 64 KB
 *       (the 64 MB section then has no view but the one timed, so each unmap is its last view).
 *       No page is touched: a pair is the bookkeeping of a view. Beside it, Linux: mmap(64 MB,
 *       MAP_SHARED) + munmap of a memfd and of a regular file of 64 MB with N other MAP_SHARED
 *       mappings live, of the same file (64 MB each) or of a 64 KB one. Linux refuses more than
 *       vm.max_map_count (65,530 by default) mappings: its big N is then the largest round number
 *       below that (60,000), and the row says so. And Unicorn: uc_mem_map_ptr + uc_mem_unmap of a
 *       64 MB host buffer with N regions of 64 KB live (uc_mem_map_ptr of one 64 KB buffer, 64 KB
 *       apart), at N = 1,000 only: Unicorn aborts the process past 4,095 regions. One more vas
 *       row: the paging-file / same case in a process with a 256-entry software TLB, which shows
 *       what the unmap's TLB invalidation costs (with the default 16,384 entries it clears them
 *       all for a range that large);
 *   (b) the first touch of a section page that is already resident: a paging-file section of
 *       16 MB, every page written through view A; then a second view B of it, in the same process
 *       and in another process, and the first 8-byte vas_read of each page through B, ns per
 *       page. Each read is a soft fault: the prototype PTE is valid, the frame is mapped again
 *       (the counters are checked: one soft fault per page, nothing else). Also: the first read
 *       through a new view after every view went (the frames are parked on the standby or
 *       modified list), and, for context, the demand-zero fault of a fresh private page
 *       (vas_virtual_alloc + first 8-byte vas_write) and of a never-touched section page (the
 *       first write through view A), in a machine whose every frame was used once first (so no
 *       fault takes simulated RAM the host has never touched). Beside: Linux's first touch of a
 *       MAP_SHARED memfd page already faulted in through another mapping (a read: Linux maps up
 *       to 16 pages per fault there, "fault-around"; and a write: one fault per page), in the same
 *       process and in a forked child, the first write to a fresh memfd page, and the first write
 *       to fresh anonymous memory (MADV_NOHUGEPAGE);
 *   (c) copy-on-write: a FILE_MAP_COPY view of that section, the first 8-byte vas_write of each
 *       page, after a read of it (the frame is mapped read-only: a copy is made) and with no
 *       read first; beside Linux's first store to a MAP_PRIVATE mapping of the memfd after a read
 *       (a write-protect fault that copies) and with no read first;
 * then the ratios, with the one target that applies (G2 of the performance anchors: a region
 * operation at 100k live costs <= 1.5x the same at 1k), the rest for information.
 *
 * Method: clock_gettime(CLOCK_MONOTONIC) around batches of pairs (a) or a whole pass over the
 * pages (b, c); a repetition's value is the median of its batches or passes; the value reported
 * is the median of the repetitions. Each repetition builds its machines, sections, views and
 * host mappings afresh, and repetitions are interleaved across cases (repetition 1 of every
 * case, then repetition 2, ...), so that a burst of other work on the host hits them alike.
 * Every page read back is checked against what was written. Unicorn runs once (filling an engine
 * costs about N^3 in all), each cycle one sample.
 *
 * Usage: bench_section [--quick]
 *   --quick  a smoke run (under a second in a release build: N = 100 and 1,000, a 1 MB section in
 *            (b) and (c)); what ctest runs as bench_section_smoke. Its numbers are not
 *            measurements.
 * Timing never decides the exit status: a missed target is printed, not failed. The program
 * exits 1 only when a call that must succeed fails, or a page reads back wrong (a bug, not a
 * slow result).
 */
#define BENCH_NAME "bench_section"
#define BENCH_MAX_RESULTS 64
#define BENCH_IMPL_SIZE 40
#define BENCH_WHAT_SIZE 160
#define BENCH_NOTE_SIZE 240
#include "bench_common.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>

#define MB (1ull << 20)
#define SECTION_SIZE (64 * MB)        /* (a): the section whose views are mapped and unmapped */
#define REGION 0x10000ull             /* 64 KB: the allocation granularity, the small section */
#define UNICORN_BASE 0x100000000ull   /* (a): 64 KB regions 64 KB apart from 4 GB */
#define UNICORN_STRIDE (2 * REGION)
#define TARGET_SCALING 1.5            /* G2: cost at 100k live <= 1.5 x cost at 1k */

/* ---- Small tools ------------------------------------------------------------------------- */

static long n_small, n_big;   /* (a): the two counts of other views (1k and 100k) */
static long n_host_big;       /* Linux's big count: n_big, or below vm.max_map_count */
static long max_map_count = -1;
static uint64_t fault_size;   /* (b), (c): the section's size */
static int fault_passes;      /* (b), (c): passes per repetition */

static long read_long(const char *path)
{
    char line[64] = "";
    read_line(path, "", line, sizeof line);
    return line[0] ? atol(line) : -1;
}

static const char *fmt_count(long n, char *buf, size_t size)
{
    if (n < 100) {
        snprintf(buf, size, "%ld", n);
        return buf;
    }
    return fmt_ns((double)n, buf, size);
}

static result *get_result_n(const char *key, char group, const char *impl, const char *what, long n)
{
    bool fresh = !find_result(key);
    result *r = get_result(key, group, impl, what);
    if (fresh)
        r->n = n;
    return r;
}

/* Adds one repetition's value (the median of its batches or passes) to the result named key. */
static result *add_rep(const char *key, char group, const char *impl, const char *what, long n, double *v, int count)
{
    result *r = get_result_n(key, group, impl, what, n);
    add_sample(r, median(v, count));
    return r;
}

/* Per result, what a note reports besides the value: medians over the repetitions. */
static double extra[BENCH_MAX_RESULTS][3][MAX_SAMPLES];
static int extra_count[BENCH_MAX_RESULTS][3];

static void add_extra(const result *r, int which, double v)
{
    int i = (int)(r - results);
    if (extra_count[i][which] < MAX_SAMPLES)
        extra[i][which][extra_count[i][which]++] = v;
}

static double extra_of(const result *r, int which)
{
    int i = (int)(r - results);
    double copy[MAX_SAMPLES];
    if (extra_count[i][which] == 0)
        return -1;
    memcpy(copy, extra[i][which], sizeof(double) * (size_t)extra_count[i][which]);
    return median(copy, extra_count[i][which]);
}

static const char *tmp_dir(void)
{
    const char *dir = getenv("TMPDIR");
    return dir && *dir ? dir : "/tmp";
}

/* A host file of `size` bytes (sparse) in $TMPDIR; its path into path (for vas), or, with path
   NULL, opened and unlinked at once (for the host side). Returns the open descriptor, or -1
   with path given (the file is closed then: vas opens it itself). */
static int tmp_file(uint64_t size, char *path, size_t path_size)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s/vas-bench-section-XXXXXX", tmp_dir());
    int fd = mkstemp(buf);
    if (fd < 0)
        die("mkstemp(%s): %s", buf, strerror(errno));
    if (ftruncate(fd, (off_t)size) != 0)
        die("ftruncate(%s): %s", buf, strerror(errno));
    if (path) {
        close(fd);
        snprintf(path, path_size, "%s", buf);
        return -1;
    }
    unlink(buf);
    return fd;
}

static int memfd_of(uint64_t size)
{
    int fd = memfd_create("vas-bench-section", MFD_CLOEXEC);
    if (fd < 0)
        die("memfd_create: %s", strerror(errno));
    if (ftruncate(fd, (off_t)size) != 0)
        die("ftruncate(memfd): %s", strerror(errno));
    return fd;
}

static long minor_faults(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_minflt;
}

/* ---- vas --------------------------------------------------------------------------------- */

/* A section backed by the paging file (SEC_COMMIT), or by a host file of `size` bytes. */
static vas_section *section_new(vas_machine *m, bool file, uint64_t size)
{
    vas_section *s;
    if (file) {
        char path[4096];
        tmp_file(size, path, sizeof path);
        s = vas_create_file_mapping(m, path, VAS_PAGE_READWRITE, 0, NULL);
        int err = (int)vas_last_error();
        unlink(path); /* the section holds the file open */
        if (!s)
            die("CreateFileMapping(%s) failed: %s", path, vas_error_name((uint32_t)err));
    } else {
        s = vas_create_file_mapping(m, NULL, VAS_PAGE_READWRITE, size, NULL);
        if (!s)
            die("CreateFileMapping(paging file, %llu bytes) failed: %s", (unsigned long long)size,
                vas_error_name(vas_last_error()));
    }
    return s;
}

static inline uint64_t map_view(vas_process *p, vas_section *s, uint32_t access)
{
    uint64_t a = vas_map_view_of_file(p, s, access, 0, 0, 0);
    if (!a)
        die("MapViewOfFile(%#x) failed: %s", access, vas_error_name(vas_last_error()));
    return a;
}

static inline void unmap_view(vas_process *p, uint64_t a)
{
    if (!vas_unmap_view_of_file(p, a))
        die("UnmapViewOfFile(%#llx) failed: %s", (unsigned long long)a, vas_error_name(vas_last_error()));
}

static void close_section(vas_section *s)
{
    if (!vas_close_section(s))
        die("CloseHandle(section) failed: %s", vas_error_name(vas_last_error()));
}

/* ---- (a) Map + unmap with N other views live --------------------------------------------- */

static int pair_batches(void) { return quick ? 3 : 11; }
static int pairs_per_batch(void) { return quick ? 20 : 100; }

static const char *backing_name(bool file) { return file ? "file" : "paging file"; }

/* One repetition: a machine with a 64 MB section, N other views, batches of map + unmap pairs of
   a whole view of the section. Extras: ns per view to map the N others, to unmap them.
   tlb_entries: the process's software TLB, 0 for the default (16,384 entries). */
static void vas_pair_rep(bool file, bool same, long n, uint32_t tlb_entries)
{
    char key[48], what[160];
    snprintf(key, sizeof key, "a/vas/%s/%s/%ld%s", file ? "file" : "pf", same ? "same" : "other", n,
             tlb_entries ? "/tlb" : "");
    snprintf(what, sizeof what, "MapViewOfFile + UnmapViewOfFile, 64 MB %s section; the N others: %s%s", backing_name(file),
             same ? "views of the same section (64 MB each)" : "views of another section (64 KB each)",
             tlb_entries ? "; a process with a 256-entry TLB" : "");
    vas_machine *m = bench_machine(64 * MB, 256 * MB);
    vas_process *p = bench_process(m, "views.exe", tlb_entries);
    vas_section *big = section_new(m, file, SECTION_SIZE);
    vas_section *small = same ? NULL : section_new(m, false, REGION);
    uint64_t *others = malloc(sizeof *others * (size_t)n);
    if (!others)
        die("out of host memory");
    uint64_t t0 = now_ns();
    for (long i = 0; i < n; i++)
        others[i] = map_view(p, same ? big : small, VAS_FILE_MAP_WRITE);
    double fill = (double)(now_ns() - t0) / (double)n;
    vas_process_counters c = counters(p);
    if (c.allocation_count < (uint64_t)n)
        die("%llu allocations after mapping %ld views", (unsigned long long)c.allocation_count, n);

    double ns[MAX_SAMPLES];
    int batches = pair_batches(), per = pairs_per_batch();
    for (int b = -1; b < batches; b++) {
        t0 = now_ns();
        for (int k = 0; k < per; k++)
            unmap_view(p, map_view(p, big, VAS_FILE_MAP_WRITE));
        if (b >= 0)
            ns[b] = (double)(now_ns() - t0) / per;
    }
    t0 = now_ns();
    for (long i = 0; i < n; i++)
        unmap_view(p, others[i]);
    double teardown = (double)(now_ns() - t0) / (double)n;
    free(others);
    close_section(big);
    if (small)
        close_section(small);
    vas_machine_destroy(m);
    result *r = add_rep(key, 'a', "vas", what, n, ns, batches);
    add_extra(r, 0, fill);
    add_extra(r, 1, teardown);
}

/* The host's files for (a): 64 MB and 64 KB, a memfd each and a regular file each. */
static int host_big_fd[2], host_small_fd[2]; /* [0] memfd, [1] regular file */

static void linux_pair_rep(bool file, bool same, long n)
{
    char key[48], what[160];
    snprintf(key, sizeof key, "a/linux/%s/%s/%ld", file ? "file" : "memfd", same ? "same" : "other", n);
    snprintf(what, sizeof what, "mmap(64 MB, MAP_SHARED) + munmap of a %s; the N others: MAP_SHARED mappings of %s",
             file ? "regular file" : "memfd", same ? "the same file (64 MB each)" : "another file (64 KB each)");
    result *r = get_result_n(key, 'a', "Linux", what, n);
    int fd = host_big_fd[file], ofd = same ? fd : host_small_fd[file];
    uint64_t osize = same ? SECTION_SIZE : REGION;
    void **others = malloc(sizeof *others * (size_t)n);
    if (!others)
        die("out of host memory");
    uint64_t t0 = now_ns();
    for (long i = 0; i < n; i++) {
        others[i] = mmap(NULL, osize, PROT_READ | PROT_WRITE, MAP_SHARED, ofd, 0);
        if (others[i] == MAP_FAILED) {
            int err = errno;
            for (long j = 0; j < i; j++)
                munmap(others[j], osize);
            free(others);
            r->failed = true;
            set_note(r, "fails after %ld mappings: %s (vm.max_map_count = %ld)", i, strerror(err), max_map_count);
            return;
        }
    }
    double fill = (double)(now_ns() - t0) / (double)n;
    if (extra_count[r - results][2] == 0)
        add_extra(r, 2, (double)count_vmas());

    double ns[MAX_SAMPLES];
    int batches = pair_batches(), per = pairs_per_batch();
    for (int b = -1; b < batches; b++) {
        t0 = now_ns();
        for (int k = 0; k < per; k++) {
            void *q = mmap(NULL, SECTION_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
            if (q == MAP_FAILED)
                die("mmap(64 MB, MAP_SHARED) with %ld mappings live: %s", n, strerror(errno));
            munmap(q, SECTION_SIZE);
        }
        if (b >= 0)
            ns[b] = (double)(now_ns() - t0) / per;
    }
    t0 = now_ns();
    for (long i = 0; i < n; i++)
        munmap(others[i], osize);
    double teardown = (double)(now_ns() - t0) / (double)n;
    free(others);
    add_sample(r, median(ns, batches));
    add_extra(r, 0, fill);
    add_extra(r, 1, teardown);
}

#define UNICORN_WHAT "uc_mem_map_ptr(64 MB host buffer) + uc_mem_unmap; the N others: uc_mem_map_ptr of one 64 KB buffer, 64 KB apart"

#ifdef VAS_BENCH_HAVE_UNICORN
/* One engine filled to N regions, then map + unmap cycles of a 64 MB region, each one sample,
   for at most `budget_ns` (at least 3 cycles). */
static void unicorn_pairs(long n, uint64_t budget_ns)
{
    char key[48];
    snprintf(key, sizeof key, "a/unicorn/%ld", n);
    result *r = get_result_n(key, 'a', unicorn_name, UNICORN_WHAT, n);
    uint8_t *small = mmap(NULL, REGION, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    uint8_t *big = mmap(NULL, SECTION_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (small == MAP_FAILED || big == MAP_FAILED)
        die("mmap: %s", strerror(errno));
    uc_engine *uc;
    uc_must(uc_open(UC_ARCH_X86, UC_MODE_64, &uc), "uc_open");
    /* Unicorn builds its machine on the first memory call: keep that out of the timings. */
    uc_must(uc_mem_map(uc, 0x7F0000000000ull, REGION, UC_PROT_ALL), "warm-up uc_mem_map");
    uc_must(uc_mem_unmap(uc, 0x7F0000000000ull, REGION), "warm-up uc_mem_unmap");
    uint64_t t0 = now_ns();
    for (long i = 0; i < n; i++)
        uc_must(uc_mem_map_ptr(uc, UNICORN_BASE + (uint64_t)i * UNICORN_STRIDE, REGION, UC_PROT_READ | UC_PROT_WRITE,
                               small),
                "uc_mem_map_ptr (fill)");
    double fill = (double)(now_ns() - t0);
    progress("  Unicorn: %ld regions mapped in %.1f s", n, fill / 1e9);
    uint64_t at = UNICORN_BASE + (uint64_t)n * UNICORN_STRIDE + SECTION_SIZE;
    at -= at % SECTION_SIZE;
    int cycles = 0;
    uint64_t start = now_ns();
    for (int c = -1; c < MAX_SAMPLES; c++) {
        uint64_t c0 = now_ns();
        uc_must(uc_mem_map_ptr(uc, at, SECTION_SIZE, UC_PROT_READ | UC_PROT_WRITE, big), "uc_mem_map_ptr (cycle)");
        uc_must(uc_mem_unmap(uc, at, SECTION_SIZE), "uc_mem_unmap (cycle)");
        if (c >= 0) {
            add_sample(r, (double)(now_ns() - c0));
            cycles++;
        }
        if (cycles >= (quick ? 5 : 31) || (cycles >= 3 && now_ns() - start > budget_ns))
            break;
    }
    char t[32];
    set_note(r, "median of %d cycles in one engine; filling it to N took %s ns per region", cycles,
             fmt_ns(fill / (double)n, t, sizeof t));
    uc_close(uc);
    munmap(small, REGION);
    munmap(big, SECTION_SIZE);
}
#endif

static void unicorn_part(void)
{
#ifdef VAS_BENCH_HAVE_UNICORN
    long n = quick ? 100 : 1000;
    progress("Unicorn: %ld regions, then map + unmap cycles of 64 MB", n);
    unicorn_pairs(n, quick ? 500000000ull : 10000000000ull);
    if (n_big > 4095) {
        char key[48];
        snprintf(key, sizeof key, "a/unicorn/%ld", n_big);
        result *r = get_result_n(key, 'a', unicorn_name, UNICORN_WHAT, n_big);
        r->failed = true;
        set_note(r, "not run: Unicorn aborts the process past 4,095 regions");
    }
#endif
}

/* ---- (b) and (c): first touches ---------------------------------------------------------- */

#define TAG 0x5EC7000000000000ull

/* Writes fresh pages 1 MB at a time until no frame is left on the zeroed list (simulated RAM
   the host has never touched), then releases them: from then on every fault takes a recycled
   frame (zeroed inline when it must be), as for the rest of a machine's life, and none is also a
   host page fault. Pages trimmed on the way go to the paging file. */
static void use_every_frame(vas_machine *m, vas_process *p)
{
    uint64_t chunks[4096];
    int n = 0;
    vas_physical_status ps;
    for (vas_get_physical_status(m, &ps); ps.zeroed > 0 && n < 4096; vas_get_physical_status(m, &ps)) {
        chunks[n] = alloc_rw(p, MB);
        for (uint64_t off = 0; off < MB; off += PAGE)
            put64(p, chunks[n] + off, off);
        n++;
    }
    if (ps.zeroed > 0)
        die("%llu frames still on the zeroed list after writing %d MB", (unsigned long long)ps.zeroed, n);
    while (n > 0)
        release(p, chunks[--n]);
}

/* One repetition of everything vas does in (b) and (c), in one machine. */
static void vas_fault_rep(void)
{
    uint64_t ram = quick ? 32 * MB : 128 * MB, size = fault_size;
    int pages = (int)(size / PAGE), passes = fault_passes;
    vas_machine *m = bench_machine(ram, 256 * MB);
    vas_process *pa = bench_process(m, "a.exe", 0), *pb = bench_process(m, "b.exe", 0);

    use_every_frame(m, pa);

    vas_section *s = section_new(m, false, size);
    uint64_t a = map_view(pa, s, VAS_FILE_MAP_WRITE);
    double sec_dz[1];
    uint64_t t0 = now_ns();
    for (int i = 0; i < pages; i++)
        put64(pa, a + (uint64_t)i * PAGE, TAG | (uint64_t)i);
    sec_dz[0] = (double)(now_ns() - t0) / pages;

    double same[MAX_SAMPLES], other[MAX_SAMPLES], dz[MAX_SAMPLES], cow_read[MAX_SAMPLES], cow_blind[MAX_SAMPLES],
        parked[MAX_SAMPLES];
    for (int k = 0; k < passes; k++) {
        for (int q = 0; q < 2; q++) { /* through view B, in process A, then in process B */
            vas_process *p = q ? pb : pa;
            uint64_t b = map_view(p, s, VAS_FILE_MAP_READ);
            vas_process_counters c0 = counters(p);
            t0 = now_ns();
            for (int i = 0; i < pages; i++)
                if (get64(p, b + (uint64_t)i * PAGE) != (TAG | (uint64_t)i))
                    die("view B: page %d read back wrong", i);
            (q ? other : same)[k] = (double)(now_ns() - t0) / pages;
            vas_process_counters c1 = counters(p);
            if (c1.soft_faults - c0.soft_faults != (uint64_t)pages || c1.hard_faults != c0.hard_faults ||
                c1.demand_zero_faults != c0.demand_zero_faults)
                die("view B: %llu soft, %llu hard, %llu demand-zero faults for %d pages",
                    (unsigned long long)(c1.soft_faults - c0.soft_faults),
                    (unsigned long long)(c1.hard_faults - c0.hard_faults),
                    (unsigned long long)(c1.demand_zero_faults - c0.demand_zero_faults), pages);
            unmap_view(p, b);
        }

        uint64_t x = alloc_rw(pa, size);
        vas_process_counters c0 = counters(pa);
        t0 = now_ns();
        for (int i = 0; i < pages; i++)
            put64(pa, x + (uint64_t)i * PAGE, (uint64_t)i);
        dz[k] = (double)(now_ns() - t0) / pages;
        if (counters(pa).demand_zero_faults - c0.demand_zero_faults != (uint64_t)pages)
            die("private: not one demand-zero fault per page");
        release(pa, x);

        /* (c): FILE_MAP_COPY, the first write after a read, and with no read first. */
        for (int blind = 0; blind < 2; blind++) {
            uint64_t c = map_view(pa, s, VAS_FILE_MAP_COPY);
            if (!blind)
                for (int i = 0; i < pages; i++)
                    if (get64(pa, c + (uint64_t)i * PAGE) != (TAG | (uint64_t)i))
                        die("copy-on-write view: page %d read back wrong", i);
            t0 = now_ns();
            for (int i = 0; i < pages; i++)
                put64(pa, c + (uint64_t)i * PAGE, (uint64_t)i);
            (blind ? cow_blind : cow_read)[k] = (double)(now_ns() - t0) / pages;
            for (int i = 0; i < pages; i += 97)
                if (get64(pa, c + (uint64_t)i * PAGE) != (uint64_t)i || get64(pa, a + (uint64_t)i * PAGE) != (TAG | (uint64_t)i))
                    die("copy-on-write: page %d wrong after the write (the copy, or the section)", i);
            unmap_view(pa, c);
        }
    }

    /* Every view gone: the section's frames are parked (modified: they were written). */
    unmap_view(pa, a);
    for (int k = 0; k < passes; k++) {
        uint64_t b = map_view(pb, s, VAS_FILE_MAP_READ);
        vas_process_counters c0 = counters(pb);
        t0 = now_ns();
        for (int i = 0; i < pages; i++)
            if (get64(pb, b + (uint64_t)i * PAGE) != (TAG | (uint64_t)i))
                die("parked: page %d read back wrong", i);
        parked[k] = (double)(now_ns() - t0) / pages;
        vas_process_counters c1 = counters(pb);
        if (c1.soft_faults - c0.soft_faults != (uint64_t)pages || c1.hard_faults != c0.hard_faults)
            die("parked: %llu soft, %llu hard faults for %d pages", (unsigned long long)(c1.soft_faults - c0.soft_faults),
                (unsigned long long)(c1.hard_faults - c0.hard_faults), pages);
        unmap_view(pb, b);
    }
    close_section(s);
    vas_machine_destroy(m);

    add_rep("b/vas/same", 'b', "vas",
            "soft fault: first 8-byte vas_read through view B of a page resident through view A, same process", 0,
            same, passes);
    add_rep("b/vas/other", 'b', "vas",
            "soft fault: first 8-byte vas_read through view B of a page resident through view A, another process", 0,
            other, passes);
    add_rep("b/vas/parked", 'b', "vas",
            "soft fault: first 8-byte vas_read through a new view, every view gone (frame on the modified list)", 0,
            parked, passes);
    add_rep("b/vas/dz", 'b', "vas", "demand-zero fault: vas_virtual_alloc + first 8-byte vas_write, private page", 0, dz,
            passes);
    add_rep("b/vas/sec-dz", 'b', "vas",
            "demand-zero fault of a section page: first 8-byte vas_write through view A, never touched", 0, sec_dz, 1);
    add_rep("c/vas/read", 'c', "vas", "copy-on-write: first 8-byte vas_write to a FILE_MAP_COPY view page, read first",
            0, cow_read, passes);
    add_rep("c/vas/blind", 'c', "vas",
            "copy-on-write: first 8-byte vas_write to a FILE_MAP_COPY view page, not read first", 0, cow_blind, passes);
}

/* Linux, through a new mapping of fd: the first 8-byte load (store) of each page; ns per page,
   and faults per page into *faults. */
static double linux_touch_pass(int fd, uint64_t size, int flags, bool write, bool read_first, double *faults)
{
    int pages = (int)(size / PAGE);
    uint8_t *q = mmap(NULL, size, PROT_READ | PROT_WRITE, flags, fd, 0);
    if (q == MAP_FAILED)
        die("mmap: %s", strerror(errno));
    uint64_t acc = 0;
    if (read_first)
        for (int i = 0; i < pages; i++)
            acc += *(volatile uint64_t *)(q + (size_t)i * PAGE);
    long f0 = minor_faults();
    uint64_t t0 = now_ns();
    if (write) {
        for (int i = 0; i < pages; i++)
            *(volatile uint64_t *)(q + (size_t)i * PAGE) = TAG | (uint64_t)i;
    } else {
        for (int i = 0; i < pages; i++)
            if (*(volatile uint64_t *)(q + (size_t)i * PAGE) != (TAG | (uint64_t)i))
                die("Linux: page %d of the shared mapping read back wrong", i);
    }
    double ns = (double)(now_ns() - t0) / pages;
    if (faults)
        *faults = (double)(minor_faults() - f0) / pages;
    sink += acc;
    munmap(q, size);
    return ns;
}

static void linux_fault_rep(void)
{
    uint64_t size = fault_size;
    int pages = (int)(size / PAGE), passes = fault_passes;
    int fd = memfd_of(size);
    uint8_t *a = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (a == MAP_FAILED)
        die("mmap: %s", strerror(errno));
    double shm_dz[1];
    uint64_t t0 = now_ns();
    for (int i = 0; i < pages; i++)
        *(volatile uint64_t *)(a + (size_t)i * PAGE) = TAG | (uint64_t)i;
    shm_dz[0] = (double)(now_ns() - t0) / pages;

    double rd[MAX_SAMPLES], wr[MAX_SAMPLES], crd[MAX_SAMPLES], cwr[MAX_SAMPLES], dz[MAX_SAMPLES], cow_read[MAX_SAMPLES],
        cow_blind[MAX_SAMPLES];
    double f_rd = 0, f_wr = 0, f_crd = 0, f_cwr = 0, f_dz = 0, f_cow = 0, f_blind = 0;
    for (int k = 0; k < passes; k++) {
        rd[k] = linux_touch_pass(fd, size, MAP_SHARED, false, false, &f_rd);
        wr[k] = linux_touch_pass(fd, size, MAP_SHARED, true, false, &f_wr);

        /* The same in another process: a child forked for the pass. */
        int pipefd[2];
        if (pipe(pipefd) != 0)
            die("pipe: %s", strerror(errno));
        pid_t child = fork();
        if (child < 0)
            die("fork: %s", strerror(errno));
        if (child == 0) {
            double v[4];
            v[0] = linux_touch_pass(fd, size, MAP_SHARED, false, false, &v[1]);
            v[2] = linux_touch_pass(fd, size, MAP_SHARED, true, false, &v[3]);
            _exit(write(pipefd[1], v, sizeof v) == (ssize_t)sizeof v ? 0 : 1);
        }
        double v[4];
        ssize_t got = read(pipefd[0], v, sizeof v);
        int status = 0;
        waitpid(child, &status, 0);
        close(pipefd[0]);
        close(pipefd[1]);
        if (got != (ssize_t)sizeof v || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
            die("the forked child's pass failed");
        crd[k] = v[0], f_crd = v[1], cwr[k] = v[2], f_cwr = v[3];

        uint8_t *x = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (x == MAP_FAILED)
            die("mmap: %s", strerror(errno));
#ifdef MADV_NOHUGEPAGE
        madvise(x, size, MADV_NOHUGEPAGE);
#endif
        long f0 = minor_faults();
        t0 = now_ns();
        for (int i = 0; i < pages; i++)
            *(volatile uint64_t *)(x + (size_t)i * PAGE) = (uint64_t)i;
        dz[k] = (double)(now_ns() - t0) / pages;
        f_dz = (double)(minor_faults() - f0) / pages;
        munmap(x, size);

        cow_read[k] = linux_touch_pass(fd, size, MAP_PRIVATE, true, true, &f_cow);
        cow_blind[k] = linux_touch_pass(fd, size, MAP_PRIVATE, true, false, &f_blind);
    }
    munmap(a, size);
    close(fd);

    result *r;
    r = add_rep("b/linux/read", 'b', "Linux",
                "first 8-byte load through a 2nd MAP_SHARED mapping of a memfd page resident through the 1st, same process",
                0, rd, passes);
    add_extra(r, 0, f_rd);
    r = add_rep("b/linux/write", 'b', "Linux",
                "first 8-byte store through a 2nd MAP_SHARED mapping of a memfd page resident through the 1st, same process",
                0, wr, passes);
    add_extra(r, 0, f_wr);
    r = add_rep("b/linux/child-read", 'b', "Linux",
                "first 8-byte load through a new MAP_SHARED mapping of a resident memfd page, in a forked child", 0, crd,
                passes);
    add_extra(r, 0, f_crd);
    r = add_rep("b/linux/child-write", 'b', "Linux",
                "first 8-byte store through a new MAP_SHARED mapping of a resident memfd page, in a forked child", 0, cwr,
                passes);
    add_extra(r, 0, f_cwr);
    r = add_rep("b/linux/dz", 'b', "Linux", "demand-zero fault: first 8-byte store to fresh anonymous memory", 0, dz,
                passes);
    add_extra(r, 0, f_dz);
    add_rep("b/linux/shm-dz", 'b', "Linux",
            "first 8-byte store to a fresh memfd page through MAP_SHARED (the page is allocated and zeroed)", 0, shm_dz, 1);
    r = add_rep("c/linux/read", 'c', "Linux",
                "first 8-byte store to a MAP_PRIVATE mapping of a resident memfd page, read first (copies)", 0, cow_read,
                passes);
    add_extra(r, 0, f_cow);
    r = add_rep("c/linux/blind", 'c', "Linux",
                "first 8-byte store to a MAP_PRIVATE mapping of a resident memfd page, not read first (copies)", 0,
                cow_blind, passes);
    add_extra(r, 0, f_blind);
}

/* ---- Report ------------------------------------------------------------------------------ */

static char load_at_start[64] = "unknown";

static void finish_notes(void)
{
    char t1[32], t2[32];
    for (int i = 0; i < result_count; i++) {
        result *r = &results[i];
        if (r->failed || r->note[0])
            continue;
        if (r->group == 'a') {
            double fill = extra_of(r, 0), tear = extra_of(r, 1), vmas = extra_of(r, 2);
            char vm[64] = "";
            if (vmas >= 0)
                snprintf(vm, sizeof vm, "; %.0f VMAs in the process with N live", vmas);
            set_note(r, "%d batches of %d pairs per rep; mapping the N others: %s ns each, unmapping them: %s ns each%s",
                     pair_batches(), pairs_per_batch(), fmt_ns(fill, t1, sizeof t1), fmt_ns(tear, t2, sizeof t2), vm);
            continue;
        }
        if (strncmp(r->key, "b/vas", 5) == 0 || strncmp(r->key, "c/vas", 5) == 0) {
            if (strcmp(r->key, "b/vas/sec-dz") == 0)
                set_note(r, "one pass of %llu pages per rep (a fresh SEC_COMMIT section, recycled frames)",
                         (unsigned long long)(fault_size / PAGE));
            else
                set_note(r, "%d passes of %llu pages per rep%s", fault_passes, (unsigned long long)(fault_size / PAGE),
                         strcmp(r->key, "b/vas/dz") == 0 ? " (recycled frames, zeroed inline)"
                         : r->group == 'b'            ? "; one soft fault per page (checked)"
                                                      : "; a private copy per page");
            continue;
        }
        double f = extra_of(r, 0);
        if (strcmp(r->key, "b/linux/shm-dz") == 0)
            set_note(r, "one pass of %llu pages per rep (a fresh memfd)", (unsigned long long)(fault_size / PAGE));
        else
            set_note(r, "%d passes of %llu pages per rep; %.3f minor faults per page%s", fault_passes,
                     (unsigned long long)(fault_size / PAGE), f,
                     f > 0 && f < 0.5 ? " (fault-around maps up to 16 pages per read fault)" : "");
    }
}

static void print_machine(void)
{
    char model[128] = "unknown", thp[128] = "unknown", shm[128] = "unknown", load[64] = "unknown", ns[32], nb[32], nh[32];
    read_line("/sys/kernel/mm/transparent_hugepage/enabled", "", thp, sizeof thp);
    read_line("/sys/kernel/mm/transparent_hugepage/shmem_enabled", "", shm, sizeof shm);
    read_line("/proc/loadavg", "", load, sizeof load);
    struct utsname u;
    print_heading("vas section benchmark", " (--quick: small N and sizes, a smoke run, not a measurement)", model,
                  sizeof model, &u);
    printf("- host: %ld CPUs online, %s, %s %s, vm.max_map_count = %ld, THP %s, shmem THP %s\n",
           sysconf(_SC_NPROCESSORS_ONLN), model, u.sysname, u.release, max_map_count, thp, shm);
    print_unicorn_line();
    printf("- host files (the file-backed section, Linux's regular file) in %s\n", tmp_dir());
    printf("- load average at the start: %s; at the end: %s (other work on the host skews timings)\n", load_at_start,
           load);
    printf("- (a): N = %s and %s other views; Linux's big N is %s%s\n", fmt_count(n_small, ns, sizeof ns),
           fmt_count(n_big, nb, sizeof nb), fmt_count(n_host_big, nh, sizeof nh),
           n_host_big < n_big ? " (vm.max_map_count stops it short of the vas N)" : "");
    printf("- (b), (c): a %llu MB section (%llu pages); ns: the median over reps, each the median of its batches or passes\n",
           (unsigned long long)(fault_size / MB), (unsigned long long)(fault_size / PAGE));
}

/* One line of the ratio table: a / b, with both values; a < 0 or b <= 0 means a side was not measured. */
static void ratio_row_ab(const char *name, double a, double b, const char *target, int pass)
{
    char t1[32], t2[32];
    if (a < 0 || b <= 0) {
        printf("| %s | n/a | %s | - | not measured in this run |\n", name, target);
        return;
    }
    printf("| %s | %.2f | %s | %s | %s ns vs %s ns |\n", name, a / b, target, verdict(pass), fmt_ns(a, t1, sizeof t1),
           fmt_ns(b, t2, sizeof t2));
}

static double lookup_fmt(const char *fmt, ...)
{
    char key[64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(key, sizeof key, fmt, ap);
    va_end(ap);
    return lookup(key);
}

static void print_ratios(void)
{
    char name[200], target[64], ns1[32], ns2[32], nh[32];
    print_ratio_heading("values");
    fmt_count(n_small, ns1, sizeof ns1);
    fmt_count(n_big, ns2, sizeof ns2);
    fmt_count(n_host_big, nh, sizeof nh);
    snprintf(target, sizeof target, "<= %.1f (G2)", TARGET_SCALING);
    for (int file = 0; file < 2; file++)
        for (int same = 1; same >= 0; same--) {
            const char *b = file ? "file" : "pf", *sh = same ? "same" : "other";
            double big = lookup_fmt("a/vas/%s/%s/%ld", b, sh, n_big), small = lookup_fmt("a/vas/%s/%s/%ld", b, sh, n_small);
            snprintf(name, sizeof name, "vas map+unmap, %s section, others %s: %s live / %s live", backing_name(file),
                     same ? "of the same section" : "of another", ns2, ns1);
            ratio_row_ab(name, big, small, target, big >= 0 && small > 0 && big / small <= TARGET_SCALING);
        }
    for (int file = 0; file < 2; file++)
        for (int same = 1; same >= 0; same--) {
            const char *b = file ? "file" : "pf", *hb = file ? "file" : "memfd", *sh = same ? "same" : "other";
            snprintf(name, sizeof name, "vas map+unmap / Linux mmap+munmap (%s), others %s, %s live", hb,
                     same ? "of the same" : "of another", ns1);
            ratio_row_ab(name, lookup_fmt("a/vas/%s/%s/%ld", b, sh, n_small),
                         lookup_fmt("a/linux/%s/%s/%ld", hb, sh, n_small), "none", INFO);
            snprintf(name, sizeof name, "vas map+unmap @%s / Linux mmap+munmap (%s) @%s, others %s", ns2, hb, nh,
                     same ? "of the same" : "of another");
            ratio_row_ab(name, lookup_fmt("a/vas/%s/%s/%ld", b, sh, n_big),
                         lookup_fmt("a/linux/%s/%s/%ld", hb, sh, n_host_big), "none", INFO);
        }
    for (int i = 0; i < 2; i++) {
        long n = i ? n_big : n_small;
        snprintf(name, sizeof name,
                 "vas map+unmap, 16,384-entry TLB (the default) / 256-entry TLB, paging file, others of the same, %s live",
                 i ? ns2 : ns1);
        ratio_row_ab(name, lookup_fmt("a/vas/pf/same/%ld", n), lookup_fmt("a/vas/pf/same/%ld/tlb", n), "none", INFO);
    }
    snprintf(name, sizeof name, "vas map+unmap with a 256-entry TLB @%s / Linux mmap+munmap (memfd) @%s, others of the same",
             ns2, nh);
    ratio_row_ab(name, lookup_fmt("a/vas/pf/same/%ld/tlb", n_big), lookup_fmt("a/linux/memfd/same/%ld", n_host_big),
                 "none", INFO);
    {
        long nu = quick ? 100 : 1000;
        char nus[32];
        fmt_count(nu, nus, sizeof nus);
        snprintf(name, sizeof name, "Unicorn map_ptr+unmap 64 MB @%s / vas map+unmap @%s (paging file, others of another)",
                 nus, nus);
#ifdef VAS_BENCH_HAVE_UNICORN
        ratio_row_ab(name, lookup_fmt("a/unicorn/%ld", nu), lookup_fmt("a/vas/pf/other/%ld", nu), "none", INFO);
#else
        printf("| %s | n/a | none | - | built without libunicorn-dev |\n", name);
#endif
    }
    double same = lookup("b/vas/same"), other = lookup("b/vas/other"), dz = lookup("b/vas/dz");
    ratio_row_ab("soft fault through view B, same process / private demand-zero fault", same, dz, "none", INFO);
    ratio_row_ab("soft fault through view B, another process / private demand-zero fault", other, dz, "none", INFO);
    ratio_row_ab("soft fault, frame parked (no view left) / soft fault, resident through view A", lookup("b/vas/parked"),
                 same, "none", INFO);
    ratio_row_ab("section demand-zero fault / private demand-zero fault", lookup("b/vas/sec-dz"), dz, "none", INFO);
    ratio_row_ab("vas soft fault (same process) / Linux first store, 2nd MAP_SHARED mapping (1 fault per page)", same,
                 lookup("b/linux/write"), "none", INFO);
    ratio_row_ab("vas soft fault (same process) / Linux first load, 2nd MAP_SHARED mapping (fault-around)", same,
                 lookup("b/linux/read"), "none", INFO);
    ratio_row_ab("vas soft fault (another process) / Linux first store in a forked child (1 fault per page)", other,
                 lookup("b/linux/child-write"), "none", INFO);
    ratio_row_ab("vas private demand-zero fault / Linux anonymous first store", dz, lookup("b/linux/dz"), "none", INFO);
    ratio_row_ab("Linux: soft fault (store, 2nd mapping) / anonymous demand-zero fault", lookup("b/linux/write"),
                 lookup("b/linux/dz"), "none", INFO);
    ratio_row_ab("vas copy-on-write after a read / Linux MAP_PRIVATE first store after a read", lookup("c/vas/read"),
                 lookup("c/linux/read"), "none", INFO);
    ratio_row_ab("vas copy-on-write, not read first / Linux MAP_PRIVATE first store, not read first",
                 lookup("c/vas/blind"), lookup("c/linux/blind"), "none", INFO);
    ratio_row_ab("vas copy-on-write after a read / vas private demand-zero fault", lookup("c/vas/read"), dz, "none",
                 INFO);
    print_targets_summary();
}

int main(int argc, char **argv)
{
    int status = parse_quick_only(argc, argv);
    if (status >= 0)
        return status;
#ifdef VAS_BENCH_HAVE_UNICORN
    unicorn_init_name();
#endif
    read_line("/proc/loadavg", "", load_at_start, sizeof load_at_start);
    run_start = now_ns();
    max_map_count = read_long("/proc/sys/vm/max_map_count");
    n_small = quick ? 100 : 1000;
    n_big = quick ? 1000 : 100000;
    n_host_big = n_big;
    /* Linux's limit counts every mapping of the process (a few dozen of its own, one per timed
       mmap): keep 5,000 spare, in round thousands (60,000 for the default 65,530). */
    if (max_map_count > 0 && n_big + 5000 > max_map_count)
        n_host_big = (max_map_count - 5000) / 10000 * 10000;
    fault_size = quick ? 1 * MB : 16 * MB;
    fault_passes = quick ? 2 : 5;
    host_big_fd[0] = memfd_of(SECTION_SIZE);
    host_small_fd[0] = memfd_of(REGION);
    host_big_fd[1] = tmp_file(SECTION_SIZE, NULL, 0);
    host_small_fd[1] = tmp_file(REGION, NULL, 0);

    int reps = quick ? 2 : 5;
    for (int r = 0; r < reps; r++) {
        long ns[2] = {n_small, n_big}, nh[2] = {n_small, n_host_big};
        for (int i = 0; i < 2; i++) {
            progress("rep %d of %d: (a) map + unmap with %ld other views / %ld mappings live", r + 1, reps, ns[i], nh[i]);
            for (int file = 0; file < 2; file++)
                for (int same = 1; same >= 0; same--) {
                    vas_pair_rep(file, same, ns[i], 0);
                    linux_pair_rep(file, same, nh[i]);
                }
            vas_pair_rep(false, true, ns[i], 256); /* what the unmap's TLB invalidation costs */
        }
        progress("rep %d of %d: (b), (c) first touches", r + 1, reps);
        vas_fault_rep();
        linux_fault_rep();
    }
    unicorn_part();

    finish_notes();
    print_machine();
    print_results('a', "(a) Map + unmap a view of a 64 MB section with N other views (mappings, regions) live", "ns/pair",
                  true);
    print_results('b', "(b) First touch of a shared page resident through another view, beside the demand-zero fault",
                  "ns/page", false);
    print_results('c', "(c) Copy-on-write: the first write to a page of a FILE_MAP_COPY view", "ns/page", false);
    print_ratios();
    print_whole_run();
    for (int i = 0; i < 2; i++) {
        close(host_big_fd[i]);
        close(host_small_fd[i]);
    }
    return 0;
}
