/*
 * bench_paging.c - how fast libvas pages: hard and soft faults, trimming and the modified page
 * writer, beside the host's own pread and pwrite of 4 KB on the same paging file.
 *
 * One run measures, side by side (ns per page; every paging file is a real host file in
 * $TMPDIR or /tmp, created by the library at a path this program chooses, so that the program can
 * open the very same file for the host side):
 *   (a) the hard fault: a page whose frame was repurposed, read back from the paging file.
 *       - isolated: 2,048 pages written, trimmed (vas_empty_working_set) and written out
 *         (vas_write_modified_pages); then a 2x-RAM region written page by page, which repurposes
 *         every one of their standby frames; that region is released (its frames go free). Timed:
 *         one 8-byte vas_read of each of the 2,048 pages, in chunks of 256: each read is one hard
 *         fault taking a free frame (no trimming, no writing: memory is not short any more);
 *       - sweep: RAM 16 MB, one 32 MB allocation (2x RAM) swept in address order, one 8-byte
 *         access per page. In the steady state every access is a hard fault (the counters are
 *         checked: faults per page = 1.00), and it pays its share of what memory pressure costs:
 *         the balance-set trimming that makes room, and, when the sweep writes, the modified page
 *         writer's write of the page that leaves. Timed: a whole sweep / its hard faults.
 *         A read sweep (pages come in clean and leave clean: no writes) and a write sweep (each
 *         page comes in, is dirtied, and is written out once);
 *       beside the same work as plain system calls on the same paging file, at the very slots the
 *       faults read (found with vas_page_table_walk), in the same order: pread of 4 KB (beside
 *       the isolated fault and the read sweep), and pread of 4 KB in + pwrite of 4 KB out (beside
 *       the write sweep). The file's pages are in the host page cache on both sides (they were
 *       written moments before), so every pread and pwrite is a system call and a memory copy.
 *       How fast that copy is depends on the CPU caches, so the host side is put in the sweep's
 *       state: the page written out is the one read in n/2 reads earlier (its buffer and file
 *       page have cooled, as the page leaving a working set has). A pwrite of the bytes just read
 *       straight back, both copies cache-hot, is shown too: a lower bound;
 *   (b) the soft fault: 8,192 resident pages, vas_empty_working_set, vas_write_modified_pages
 *       (so every frame is on the standby list), then one 8-byte read (or write) of each page:
 *       the frame comes back from standby, no I/O. For context, the demand-zero fault (the first
 *       8-byte write to each page of a fresh 1 MB allocation, in a machine whose frames have all
 *       been used once, so each is zeroed inline) and an 8-byte vas_read of a resident page (the
 *       call itself, a software-TLB hit);
 *   (c) a trim pass: vas_empty_working_set of 8,192 resident pages (dirty: to the modified list;
 *       clean: to the standby list), ns per page; the modified page writer:
 *       vas_write_modified_pages of 8,192 modified pages, ns per page, and pages per write call
 *       (its clustering), beside pwrite of 64 KB per call on the same file from buffers as cold
 *       as the frames the writer copies;
 * then the ratios, the target with PASS/MISS.
 *
 * Method: clock_gettime(CLOCK_MONOTONIC) around a whole pass (a sweep, a chunk, a trim, a write
 * of all modified pages); a repetition's value is the median of its passes; the value reported is
 * the median of the repetitions. Each repetition builds its machines afresh, and repetitions are
 * interleaved (repetition 1 of every case, then repetition 2, ...), so that a burst of other work
 * on the host hits all cases alike; inside a repetition the vas pass and the host pass it is
 * compared with alternate. Every page read is checked against what was written.
 *
 * Usage: bench_paging [--quick]
 *   --quick  a smoke run (about a second, small RAM and regions); what ctest runs as
 *            bench_paging_smoke. Its numbers are not measurements.
 * Timing never decides the exit status: a missed target is printed, not failed. The program
 * exits 1 only when a call that must succeed fails, or a page reads back wrong (a bug, not a
 * slow result).
 */
#define BENCH_NAME "bench_paging"
#define BENCH_MAX_RESULTS 32
#define BENCH_IMPL_SIZE 16
#define BENCH_WHAT_SIZE 160
#define BENCH_NOTE_SIZE 200
#include "bench_common.h"

#include <fcntl.h>

#define MB (1ull << 20)
#define TARGET_HARD 1.5 /* hard fault <= 1.5 x (pread + pwrite of 4 KB) */

/* ---- Results ----------------------------------------------------------------------------- */

/* Adds one repetition's value (the median of its passes) to the result named key. */
static result *add_rep(const char *key, char group, const char *impl, const char *what, double *passes, int n)
{
    result *r = get_result(key, group, impl, what);
    add_sample(r, median(passes, n));
    return r;
}

/* ---- Machines whose paging file the host side can open ----------------------------------- */

typedef struct rig {
    vas_machine *m;
    vas_process *p;
    int fd; /* the machine's paging file, opened again by this program */
} rig;

/* A machine with `ram` bytes of RAM and one paging file of `pagefile` bytes, a host file at a
   path chosen here; the file is opened a second time for the host side, then unlinked (both
   descriptors stay valid, and the file goes with them whatever happens). */
static rig rig_open(uint64_t ram, uint64_t pagefile)
{
    const char *dir = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/vas-bench-paging-XXXXXX", dir && *dir ? dir : "/tmp");
    int tmp = mkstemp(path);
    if (tmp < 0)
        die("mkstemp(%s): %s", path, strerror(errno));
    close(tmp);
    vas_machine_config mc = {0};
    mc.ram_bytes = ram;
    mc.pagefile_bytes = pagefile;
    mc.pagefile_path = path;
    rig r;
    r.m = vas_machine_create(&mc);
    if (!r.m) {
        unlink(path);
        die("vas_machine_create failed: %s", vas_error_name(vas_last_error()));
    }
    r.fd = open(path, O_RDWR | O_CLOEXEC);
    int err = errno;
    unlink(path);
    if (r.fd < 0)
        die("open(%s): %s", path, strerror(err));
    r.p = vas_process_create(r.m, NULL);
    if (!r.p)
        die("vas_process_create failed: %s", vas_error_name(vas_last_error()));
    return r;
}

static void rig_close(rig *r)
{
    vas_machine_destroy(r->m);
    close(r->fd);
}

static vas_paging_status paging(vas_machine *m)
{
    vas_paging_status s;
    vas_get_paging_status(m, &s);
    return s;
}

/* The paging-file slot holding a page that is out of memory, or -1 (resident, or never written).
   An x64 paging-file PTE: not valid, not transition, not prototype; slot + 1 from bit 12 up. */
static int64_t slot_of(vas_process *p, uint64_t page)
{
    vas_page_walk w;
    if (vas_page_table_walk(p, page, &w) || w.resident || w.levels != w.table_levels)
        return -1;
    uint64_t pte = w.level[w.levels - 1].entry;
    if (pte & (1ull | 1ull << 10 | 1ull << 11))
        return -1;
    uint64_t field = (pte >> 12) & ((1ull << 40) - 1);
    return field ? (int64_t)field - 1 : -1;
}

/* The slots of the pages [first, first + count) of the allocation at base that are out of memory,
   in address order; returns how many. */
static int gather_slots(vas_process *p, uint64_t base, int first, int count, uint64_t *slots)
{
    int n = 0;
    for (int i = first; i < first + count; i++) {
        int64_t s = slot_of(p, base + (uint64_t)i * PAGE);
        if (s >= 0)
            slots[n++] = (uint64_t)s;
    }
    return n;
}

/* ---- The host side: pread and pwrite on the paging file ----------------------------------
 * Every host pass reads and writes the paging file at slots that hold pages, and writes back
 * only bytes it has just read from the same place, so the file's contents never change (the
 * machine is idle meanwhile: one thread). What is compared must be in the same cache state on
 * both sides: the file's pages are in the host page cache on both, so each pread and pwrite is a
 * system call and a 4 KB memory copy, and the speed of that copy depends on whether its source
 * and destination are in the CPU caches. Hence the lags below. */

static uint8_t *pool; /* host pages standing for simulated RAM's frames */
static size_t pool_pages;

static void pool_ensure(size_t pages)
{
    if (pool_pages >= pages)
        return;
    free(pool);
    pool = aligned_alloc(PAGE, pages * PAGE);
    if (!pool)
        die("out of host memory");
    memset(pool, 1, pages * PAGE); /* resident, as simulated RAM's frames are */
    pool_pages = pages;
}

static void host_read(int fd, uint8_t *buf, uint64_t slot, size_t pages)
{
    if (pread(fd, buf, pages * PAGE, (off_t)(slot * PAGE)) != (ssize_t)(pages * PAGE))
        die("pread: %s", strerror(errno));
}

static void host_write(int fd, const uint8_t *buf, uint64_t slot, size_t pages)
{
    if (pwrite(fd, buf, pages * PAGE, (off_t)(slot * PAGE)) != (ssize_t)(pages * PAGE))
        die("pwrite: %s", strerror(errno));
}

/* pread 4 KB of each of slots[0 .. n) into pool pages at, at + 1, ... Returns ns per page. */
static double host_pread_pass(int fd, const uint64_t *slots, int n, size_t at)
{
    uint64_t t0 = now_ns();
    for (int i = 0; i < n; i++)
        host_read(fd, pool + ((at + (size_t)i) % pool_pages) * PAGE, slots[i], 1);
    return (double)(now_ns() - t0) / n;
}

/* What a hard fault that also costs a page-out does, as plain system calls: for each of
   slots[0 .. n), pread 4 KB of it in, and pwrite 4 KB out: the page read n/2 reads earlier, back
   to its slot (its buffer and its file page have cooled as the page leaving a working set has).
   Slot j's bytes are in pool page j (an untimed read of them all comes first). */
static double host_in_out_pass(int fd, const uint64_t *slots, int n)
{
    pool_ensure((size_t)n);
    for (int i = 0; i < n; i++)
        host_read(fd, pool + (size_t)i * PAGE, slots[i], 1);
    uint64_t t0 = now_ns();
    for (int i = 0; i < n; i++) {
        int j = (i + n / 2) % n;
        host_read(fd, pool + (size_t)i * PAGE, slots[i], 1);
        host_write(fd, pool + (size_t)j * PAGE, slots[j], 1);
    }
    return (double)(now_ns() - t0) / n;
}

/* The same with no lag: pread 4 KB, then pwrite those bytes straight back (both copies then run
   in the CPU caches: a lower bound). */
static double host_in_out_hot_pass(int fd, const uint64_t *slots, int n)
{
    uint64_t t0 = now_ns();
    for (int i = 0; i < n; i++) {
        uint8_t *buf = pool + ((size_t)i % pool_pages) * PAGE;
        host_read(fd, buf, slots[i], 1);
        host_write(fd, buf, slots[i], 1);
    }
    return (double)(now_ns() - t0) / n;
}

/* The modified page writer's I/O as one pwrite of 64 KB per cluster of 16 slots in [0, n): the
   bytes of all n slots are read first (untimed, in order), so that each cluster's buffer and file
   pages were last touched n pages earlier, as the frames the writer copies were. Returns ns per
   page of the pwrites. */
static double host_cluster_pass(int fd, int n)
{
    n -= n % 16;
    pool_ensure((size_t)n);
    for (int i = 0; i < n; i += 16)
        host_read(fd, pool + (size_t)i * PAGE, (uint64_t)i, 16);
    uint64_t t0 = now_ns();
    for (int i = 0; i < n; i += 16)
        host_write(fd, pool + (size_t)i * PAGE, (uint64_t)i, 16);
    return (double)(now_ns() - t0) / n;
}

/* ---- (a) Hard faults -------------------------------------------------------------------- */

#define HARD_WHAT_ISO "hard fault, isolated: 8-byte vas_read of a paged-out page whose frame was repurposed; a free frame, one pread"
#define HOST_WHAT_ISO_R "pread 4 KB, the same paging file, the same slots and order as the isolated faults"

static void bench_hard_isolated(void)
{
    uint64_t ram = quick ? 2 * MB : 16 * MB;
    int pages = quick ? 256 : 2048, chunk = quick ? 64 : 256, chunks = pages / chunk;
    rig r = rig_open(ram, 4 * ram);
    pool_ensure((size_t)(ram / PAGE));
    uint64_t a = alloc_rw(r.p, (uint64_t)pages * PAGE);
    for (int i = 0; i < pages; i++)
        put64(r.p, a + (uint64_t)i * PAGE, 0xA000000000000000ull | (uint64_t)i);
    if (!vas_empty_working_set(r.p))
        die("vas_empty_working_set failed");
    if (vas_write_modified_pages(r.m) < (uint64_t)pages)
        die("the modified page writer wrote fewer than %d pages", pages);
    /* Pressure: a region of twice RAM, written page by page, takes every standby frame. */
    uint64_t b = alloc_rw(r.p, 2 * ram);
    for (uint64_t off = 0; off < 2 * ram; off += PAGE)
        put64(r.p, b + off, off);
    release(r.p, b);
    uint64_t *slots = malloc(sizeof *slots * (size_t)pages);
    if (!slots)
        die("out of host memory");
    if (gather_slots(r.p, a, 0, pages, slots) != pages)
        die("the isolated pages were not all paged out (their frames were not repurposed)");

    /* Chunk by chunk, the faults and the preads of the same slots, in turn first (whichever goes
       second finds the chunk's file pages in the CPU caches). */
    double vas_ns[MAX_SAMPLES], pread_ns[MAX_SAMPLES];
    vas_process_counters c0 = counters(r.p);
    vas_paging_status s0 = paging(r.m);
    for (int k = 0; k < chunks; k++) {
        if (k % 2)
            pread_ns[k] = host_pread_pass(r.fd, slots + k * chunk, chunk, (size_t)k * chunk);
        uint64_t t0 = now_ns();
        for (int i = k * chunk; i < (k + 1) * chunk; i++)
            if (get64(r.p, a + (uint64_t)i * PAGE) != (0xA000000000000000ull | (uint64_t)i))
                die("isolated page %d read back wrong", i);
        vas_ns[k] = (double)(now_ns() - t0) / chunk;
        if (k % 2 == 0)
            pread_ns[k] = host_pread_pass(r.fd, slots + k * chunk, chunk, (size_t)k * chunk);
    }
    vas_process_counters c1 = counters(r.p);
    vas_paging_status s1 = paging(r.m);
    if (c1.hard_faults - c0.hard_faults != (uint64_t)pages || c1.soft_faults != c0.soft_faults)
        die("isolated: %llu hard and %llu soft faults for %d pages", (unsigned long long)(c1.hard_faults - c0.hard_faults),
            (unsigned long long)(c1.soft_faults - c0.soft_faults), pages);
    result *res = add_rep("hard/iso", 'a', "vas", HARD_WHAT_ISO, vas_ns, chunks);
    set_note(res, "%d pages, %d chunks of %d; %llu hard faults, %llu reads, %llu pages written, %llu repurposed",
             pages, chunks, chunk, (unsigned long long)(c1.hard_faults - c0.hard_faults),
             (unsigned long long)(s1.reads - s0.reads), (unsigned long long)(s1.pages_written - s0.pages_written),
             (unsigned long long)(s1.repurposed - s0.repurposed));
    res = add_rep("host/iso/pread", 'a', "host", HOST_WHAT_ISO_R, pread_ns, chunks);
    set_note(res, "%d chunks of %d, each timed beside the vas chunk of the same slots", chunks, chunk);
    free(slots);
    rig_close(&r);
}

#define SWEEP_WHAT_R "hard fault in a read sweep of 2x RAM: 8-byte vas_read per page; with its share of trimming (no writes)"
#define SWEEP_WHAT_W "hard fault in a write sweep of 2x RAM: 8-byte vas_write per page; with its share of trimming and of writing out"
#define HOST_WHAT_SW_R "pread 4 KB, the same paging file, the slots the sweep reads, in its order"
#define HOST_WHAT_SW_INOUT "pread 4 KB in + pwrite 4 KB out (the page read n/2 reads earlier), the same file, the slots the sweep reads, in its order"
#define HOST_WHAT_SW_HOT "pread 4 KB + pwrite of the same 4 KB straight back (cache-hot), the same file, the slots the sweep reads"

typedef struct sweep_state {
    rig r;
    uint64_t base;
    int pages;
    uint32_t tag; /* the write sweep whose values the pages hold */
} sweep_state;

/* One sweep in address order; returns ns per hard fault, and the counters' deltas. */
static double sweep(sweep_state *s, bool write, double *faults_per_page, double *written_per_fault,
                    double *pages_per_write)
{
    vas_process_counters c0 = counters(s->r.p);
    vas_paging_status s0 = paging(s->r.m);
    uint64_t t0 = now_ns();
    if (write) {
        s->tag++;
        for (int i = 0; i < s->pages; i++)
            put64(s->r.p, s->base + (uint64_t)i * PAGE, (uint64_t)s->tag << 32 | (uint64_t)i);
    } else {
        for (int i = 0; i < s->pages; i++)
            if (get64(s->r.p, s->base + (uint64_t)i * PAGE) != ((uint64_t)s->tag << 32 | (uint64_t)i))
                die("sweep: page %d read back wrong", i);
    }
    uint64_t t = now_ns() - t0;
    vas_process_counters c1 = counters(s->r.p);
    vas_paging_status s1 = paging(s->r.m);
    uint64_t hard = c1.hard_faults - c0.hard_faults;
    if (hard == 0) /* the first sweep: demand-zero faults */
        return -1;
    if (faults_per_page)
        *faults_per_page = (double)hard / s->pages;
    if (written_per_fault)
        *written_per_fault = (double)(s1.pages_written - s0.pages_written) / (double)hard;
    if (pages_per_write)
        *pages_per_write = s1.writes > s0.writes ? (double)(s1.pages_written - s0.pages_written) / (double)(s1.writes - s0.writes) : 0;
    return (double)t / (double)hard;
}

static void bench_hard_sweep(void)
{
    uint64_t ram = quick ? 2 * MB : 16 * MB;
    int passes = quick ? 2 : 5;
    sweep_state s = {0};
    s.r = rig_open(ram, 4 * ram);
    s.pages = (int)(2 * ram / PAGE);
    s.base = alloc_rw(s.r.p, 2 * ram);
    pool_ensure((size_t)s.pages);
    uint64_t *slots = malloc(sizeof *slots * (size_t)s.pages);
    if (!slots)
        die("out of host memory");
    /* Warm: the first sweep's faults are demand-zero; by the third every page is a hard fault. */
    for (int i = 0; i < 2; i++)
        sweep(&s, true, NULL, NULL, NULL);

    double w_ns[MAX_SAMPLES], r_ns[MAX_SAMPLES], hw_ns[MAX_SAMPLES], hot_ns[MAX_SAMPLES], hr_ns[MAX_SAMPLES];
    double w_fpp = 0, w_wpf = 0, w_ppw = 0, r_fpp = 0, r_wpf = 0, dummy;
    int n = 0;
    for (int k = 0; k < passes; k++) {
        n = gather_slots(s.r.p, s.base, 0, s.pages, slots); /* the pages this sweep reads back */
        if ((w_ns[k] = sweep(&s, true, &w_fpp, &w_wpf, &w_ppw)) < 0)
            die("a write sweep of 2x RAM took no hard fault");
        hw_ns[k] = host_in_out_pass(s.r.fd, slots, n);
        hot_ns[k] = host_in_out_hot_pass(s.r.fd, slots, n);
    }
    sweep(&s, false, NULL, NULL, &dummy); /* writes out the dirty pages left by the write sweeps */
    for (int k = 0; k < passes; k++) {
        n = gather_slots(s.r.p, s.base, 0, s.pages, slots);
        if ((r_ns[k] = sweep(&s, false, &r_fpp, &r_wpf, &dummy)) < 0)
            die("a read sweep of 2x RAM took no hard fault");
        hr_ns[k] = host_pread_pass(s.r.fd, slots, n, 0);
    }
    result *res = add_rep("hard/sweep/write", 'a', "vas", SWEEP_WHAT_W, w_ns, passes);
    set_note(res, "RAM %llu MB, %d pages; %.2f hard faults per page, %.2f pages written per fault, %.1f pages per write call",
             (unsigned long long)(ram / MB), s.pages, w_fpp, w_wpf, w_ppw);
    res = add_rep("hard/sweep/read", 'a', "vas", SWEEP_WHAT_R, r_ns, passes);
    set_note(res, "RAM %llu MB, %d pages; %.2f hard faults per page, %.2f pages written per fault",
             (unsigned long long)(ram / MB), s.pages, r_fpp, r_wpf);
    res = add_rep("host/sweep/inout", 'a', "host", HOST_WHAT_SW_INOUT, hw_ns, passes);
    set_note(res, "%d slots per pass (the pages out of memory when the sweep starts)", n);
    res = add_rep("host/sweep/hot", 'a', "host", HOST_WHAT_SW_HOT, hot_ns, passes);
    set_note(res, "%d slots per pass; a lower bound: both copies hit the CPU caches", n);
    res = add_rep("host/sweep/pread", 'a', "host", HOST_WHAT_SW_R, hr_ns, passes);
    set_note(res, "%d slots per pass", n);
    free(slots);
    rig_close(&s.r);
}

/* ---- (b) and (c): soft faults, trimming, the modified page writer ------------------------- */

static void bench_soft_trim(void)
{
    uint64_t ram = quick ? 16 * MB : 256 * MB;
    int pages = quick ? 512 : 8192, cycles = quick ? 2 : 5;
    rig r = rig_open(ram, 64 * MB);
    uint64_t a = alloc_rw(r.p, (uint64_t)pages * PAGE);
    for (int i = 0; i < pages; i++)
        put64(r.p, a + (uint64_t)i * PAGE, (uint64_t)i);

    double trim_dirty[MAX_SAMPLES], mpw[MAX_SAMPLES], soft_r[MAX_SAMPLES], trim_clean[MAX_SAMPLES],
        soft_w[MAX_SAMPLES], resident[MAX_SAMPLES], host_mpw[MAX_SAMPLES];
    double per_call = 0;
    uint64_t tag = 0;
    /* Cycle 0 warms up (its pages come from demand-zero faults, not from a paging-file copy). */
    for (int k = -1; k < cycles; k++) {
        int at = k < 0 ? 0 : k;
        uint64_t t0 = now_ns();
        if (!vas_empty_working_set(r.p))
            die("vas_empty_working_set failed");
        trim_dirty[at] = (double)(now_ns() - t0) / pages;

        vas_paging_status s0 = paging(r.m);
        t0 = now_ns();
        uint64_t written = vas_write_modified_pages(r.m);
        mpw[at] = (double)(now_ns() - t0) / pages;
        vas_paging_status s1 = paging(r.m);
        if (written != (uint64_t)pages)
            die("the modified page writer wrote %llu pages of %d", (unsigned long long)written, pages);
        per_call = (double)(s1.pages_written - s0.pages_written) / (double)(s1.writes - s0.writes);
        host_mpw[at] = host_cluster_pass(r.fd, pages);

        vas_process_counters c0 = counters(r.p);
        t0 = now_ns();
        for (int i = 0; i < pages; i++)
            if (get64(r.p, a + (uint64_t)i * PAGE) != (tag | (uint64_t)i))
                die("soft fault: page %d read back wrong", i);
        soft_r[at] = (double)(now_ns() - t0) / pages;
        vas_process_counters c1 = counters(r.p);
        if (c1.soft_faults - c0.soft_faults != (uint64_t)pages || c1.hard_faults != c0.hard_faults)
            die("soft read: %llu soft, %llu hard faults for %d pages",
                (unsigned long long)(c1.soft_faults - c0.soft_faults),
                (unsigned long long)(c1.hard_faults - c0.hard_faults), pages);

        t0 = now_ns();
        if (!vas_empty_working_set(r.p))
            die("vas_empty_working_set failed");
        trim_clean[at] = (double)(now_ns() - t0) / pages;

        tag = (uint64_t)(k + 2) << 32;
        t0 = now_ns();
        for (int i = 0; i < pages; i++)
            put64(r.p, a + (uint64_t)i * PAGE, tag | (uint64_t)i);
        soft_w[at] = (double)(now_ns() - t0) / pages;
        vas_process_counters c2 = counters(r.p);
        if (c2.soft_faults - c1.soft_faults != (uint64_t)pages)
            die("soft write: %llu soft faults for %d pages", (unsigned long long)(c2.soft_faults - c1.soft_faults), pages);

        t0 = now_ns();
        for (int i = 0; i < pages; i++)
            if (get64(r.p, a + (uint64_t)i * PAGE) != (tag | (uint64_t)i))
                die("resident: page %d read back wrong", i);
        resident[at] = (double)(now_ns() - t0) / pages;
    }
    char what[160];
    snprintf(what, sizeof what, "vas_empty_working_set of %d resident dirty pages (to the modified list), per page", pages);
    result *res = add_rep("trim/dirty", 'c', "vas", what, trim_dirty, cycles);
    set_note(res, "one call per cycle, %d cycles per rep", cycles);
    snprintf(what, sizeof what, "vas_empty_working_set of %d resident clean pages (to the standby list), per page", pages);
    res = add_rep("trim/clean", 'c', "vas", what, trim_clean, cycles);
    set_note(res, "one call per cycle, %d cycles per rep", cycles);
    snprintf(what, sizeof what, "vas_write_modified_pages of %d modified pages, per page", pages);
    res = add_rep("mpw", 'c', "vas", what, mpw, cycles);
    set_note(res, "%.1f pages per write call (pwrite of a cluster); includes the copy into the cluster buffer", per_call);
    res = add_rep("host/mpw", 'c', "host",
                     "pwrite 64 KB (16 pages) per call, of bytes read from the same slots a pass earlier, the same paging file, per page",
                     host_mpw, cycles);
    set_note(res, "slots 0 .. %d, written by the writer in earlier cycles", pages - 1);
    res = add_rep("soft/read", 'b', "vas", "soft fault: 8-byte vas_read of a page whose frame is on standby", soft_r, cycles);
    set_note(res, "%d pages after empty + write-modified, %d cycles per rep", pages, cycles);
    res = add_rep("soft/write", 'b', "vas", "soft fault: 8-byte vas_write of a page whose frame is on standby", soft_w,
                     cycles);
    set_note(res, "%d pages after an empty of clean pages, %d cycles per rep", pages, cycles);
    res = add_rep("resident", 'b', "vas", "8-byte vas_read of a resident page (software-TLB hit): the call alone",
                     resident, cycles);
    set_note(res, "%d pages in address order", pages);
    rig_close(&r);
}

static void bench_demand_zero(void)
{
    uint64_t ram = quick ? 2 * MB : 16 * MB, size = quick ? 256 * 1024 : MB;
    int batches = quick ? 5 : 21, pages = (int)(size / PAGE);
    rig r = rig_open(ram, 4 * ram);
    double ns[MAX_SAMPLES];
    /* Use every frame once first: the timed faults then zero a recycled frame inline (from the
       free list), as they will for the rest of a machine's life. */
    for (uint64_t done = 0; done < 3 * ram; done += size) {
        uint64_t a = alloc_rw(r.p, size);
        for (int i = 0; i < pages; i++)
            put64(r.p, a + (uint64_t)i * PAGE, 1);
        release(r.p, a);
    }
    for (int k = 0; k < batches; k++) {
        uint64_t a = alloc_rw(r.p, size);
        uint64_t t0 = now_ns();
        for (int i = 0; i < pages; i++)
            put64(r.p, a + (uint64_t)i * PAGE, 1);
        ns[k] = (double)(now_ns() - t0) / pages;
        release(r.p, a);
    }
    result *res = add_rep("dz", 'b', "vas", "demand-zero fault: first 8-byte vas_write to a page of a fresh allocation",
                             ns, batches);
    set_note(res, "%d batches of %d pages (one %llu KB allocation each, released after)", batches, pages,
             (unsigned long long)(size / 1024));
    rig_close(&r);
}

/* ---- Report ------------------------------------------------------------------------------ */

static void print_machine(const char *load_start)
{
    char model[128] = "unknown", load[64] = "unknown";
    read_line("/proc/loadavg", "", load, sizeof load);
    const char *dir = getenv("TMPDIR");
    struct utsname u;
    print_heading("vas paging benchmark", " (--quick: small sizes, a smoke run, not a measurement)", model,
                  sizeof model, &u);
    printf("- host: %ld CPUs online, %s, %s %s\n", sysconf(_SC_NPROCESSORS_ONLN), model, u.sysname, u.release);
    printf("- paging files: host files in %s (in the host page cache: every read and write is a memory copy)\n",
           dir && *dir ? dir : "/tmp");
    printf("- load average at the start: %s; at the end: %s (other work on the host skews timings)\n", load_start,
           load);
    printf("- ns per page: the median over reps; each rep is the median of its passes\n");
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

static void print_ratios(void)
{
    print_ratio_heading("values");
    double sw = lookup("hard/sweep/write"), sr = lookup("hard/sweep/read"), iso = lookup("hard/iso");
    double inout = lookup("host/sweep/inout"), hot = lookup("host/sweep/hot"), hr = lookup("host/sweep/pread");
    char target[64];
    snprintf(target, sizeof target, "<= %.1f", TARGET_HARD);
    ratio_row_ab("hard fault, write sweep (in, dirtied, written out) / pread in + pwrite out 4 KB", sw, inout, target,
              sw >= 0 && inout > 0 && sw / inout <= TARGET_HARD);
    ratio_row_ab("hard fault, write sweep / pread + pwrite of the same 4 KB straight back (cache-hot lower bound)", sw,
              hot, target, sw >= 0 && hot > 0 && sw / hot <= TARGET_HARD);
    ratio_row_ab("hard fault, read sweep (in, trimmed clean) / pread 4 KB", sr, hr, "none", INFO);
    ratio_row_ab("hard fault, isolated (in only, no pressure) / pread 4 KB", iso, lookup("host/iso/pread"), "none", INFO);
    ratio_row_ab("modified page writer per page / host pwrite of 64 KB per page", lookup("mpw"), lookup("host/mpw"),
              "none", INFO);
    ratio_row_ab("soft fault (read) / hard fault, isolated", lookup("soft/read"), iso, "none", INFO);
    ratio_row_ab("soft fault (read) / demand-zero fault", lookup("soft/read"), lookup("dz"), "none", INFO);
    ratio_row_ab("soft fault (read) / resident read", lookup("soft/read"), lookup("resident"), "none", INFO);
    print_targets_summary();
}

int main(int argc, char **argv)
{
    int status = parse_quick_only(argc, argv);
    if (status >= 0)
        return status;
    run_start = now_ns();
    char load_start[64] = "unknown";
    read_line("/proc/loadavg", "", load_start, sizeof load_start);
    int reps = quick ? 2 : 5;
    for (int r = 0; r < reps; r++) {
        progress("rep %d of %d: hard faults, isolated", r + 1, reps);
        bench_hard_isolated();
        progress("rep %d of %d: hard faults, sweeps", r + 1, reps);
        bench_hard_sweep();
        progress("rep %d of %d: soft faults, trimming, the modified page writer", r + 1, reps);
        bench_soft_trim();
        progress("rep %d of %d: demand-zero faults", r + 1, reps);
        bench_demand_zero();
    }
    print_machine(load_start);
    print_results('a', "(a) Hard faults, beside pread / pwrite of 4 KB on the same paging file", "ns/page", false);
    print_results('b', "(b) Soft faults, and for context the demand-zero fault and a resident read", "ns/page", false);
    print_results('c', "(c) Trimming and the modified page writer", "ns/page", false);
    print_ratios();
    print_whole_run();
    free(pool);
    return 0;
}
