/*
 * bench_access.c - how fast libvas's memory accesses are, beside native loads and stores and
 * Unicorn 2's uc_mem_read / uc_mem_write.
 *
 * One run measures, side by side, 8-byte reads and writes (ns per access):
 *   (a) a hot 64 KB set: random 8-byte-aligned addresses inside the first 64 KB of the 64 MB
 *       space below, a 256K-entry list replayed (as the anchors do). Beside it, the floor of any
 *       library call on this machine: an empty noinline call with vas_read's five arguments, and
 *       a noinline call that copies 8 bytes from a host pointer (a library with free translation);
 *   (b) random over 64 MB: one 64 MB allocation, every page touched (written) first; 10 million
 *       pre-generated page + offset addresses (8-byte aligned, never crossing a page);
 *   (c) with N = 100 and N = 100,000 allocations of 64 KB live (reserved and committed by
 *       VirtualAlloc(NULL), so packed end to end), reads at random within them, in two shapes:
 *       "set": inside 100 of the allocations (all of them at N = 100, every (N/100)-th at
 *       N = 100k), every page of those touched first: the same 1,600 pages and the same host
 *       working set at every N, so only the count of allocations differs (the target's shape);
 *       "all": in one touched page of every one of the N allocations, so the working set grows
 *       with N (100 pages, then 100,000 = 400 MB, past the software TLB's 16,384 entries);
 *   (d) the TLB miss and refill: sweeps of one read (or write) on each page of a 64 MB allocation
 *       in random order right after vas_tlb_flush (every access misses), beside the same sweep
 *       with the TLB warm; the embedder's cache after the flush (every access refills through
 *       vas_translate); a ping-pong between two pages that share a slot of a 256-entry TLB (every
 *       access misses, everything stays in L1: the refill's own cost); steady random reads over
 *       64 MB in a process created with a 256-entry TLB (98 % misses) and with VAS_TLB_DISABLED
 *       (every access walks the page tables);
 *   (e) the demand-zero fault: the first 8-byte access to each page of 16 fresh 64 KB
 *       reservations (256 pages, committed, never touched) per batch, released after the batch;
 *       beside the host kernel's own first touch of fresh mmap pages and Unicorn's first
 *       uc_mem_write to freshly uc_mem_map'ped regions.
 * Each through vas_read / vas_write (the library call, which has its own software TLB) and
 * through the fast path an embedder would write: an inline per-page cache of vas_translate
 * pointers checked against *vas_mapping_generation_address(p), as in docs/api.md; beside native
 * loads and stores on host memory of the same shape, and beside uc_mem_read / uc_mem_write of 8
 * bytes (only when built with Unicorn). Then the ratios that the targets are stated in, each
 * with PASS/MISS.
 *
 * Method: clock_gettime(CLOCK_MONOTONIC) around batches of accesses (a pass over an address list
 * or part of one); a repetition's value is the median ns per access of its batches; the value
 * reported is the median of the repetitions. The cases a ratio compares run interleaved batch by
 * batch (batch 1 of every case, then batch 2, ...), and the repetitions are interleaved across all
 * parts, so that a burst of other work on the host hits the cases compared alike.
 * Every state is built, touched and warmed once before the first repetition. Addresses come
 * from splitmix64 with a fixed seed, so two runs do the same work.
 *
 * Usage: bench_access [--quick]
 *   --quick  a smoke run (a few seconds): a 4 MB "64 MB" space, N = 100 and 1,000, short lists;
 *            what ctest runs as bench_access_smoke. Its numbers are not measurements.
 * Timing never decides the exit status: a missed target is printed, not failed. The program
 * exits 1 only when a call that must succeed fails (a bug, not a slow result).
 */
#define BENCH_NAME "bench_access"
#define BENCH_MAX_RESULTS 96
#define BENCH_IMPL_SIZE 40
#define BENCH_WHAT_SIZE 128
#define BENCH_NOTE_SIZE 200
#define BENCH_FMT_NS_HUNDREDTHS
#include "bench_common.h"

#include <sys/mman.h>

/* A call the compiler must make: GCC's noipa also stops it from using what it knows of the body
   (that it is empty) at the call site; clang lacks noipa, and the asm below does that job. */
#if defined(__GNUC__) && !defined(__clang__)
#define BENCH_NOINLINE __attribute__((noipa))
#else
#define BENCH_NOINLINE __attribute__((noinline))
#endif
#define LIKELY(x) __builtin_expect(!!(x), 1)

#define PAGE_SHIFT 12
#define REGION 0x10000ull                 /* 64 KB: the allocation granularity */
#define HOT (64ull << 10)                 /* the hot set */
#define BATCH_PAGES 256                   /* (e): 16 reservations of 64 KB per batch */
#define BATCH_REGIONS (BATCH_PAGES * PAGE / REGION)
#define UNICORN_BIG_BASE 0x10000000ull
#define UNICORN_SET_BASE 0x100000000ull   /* (c): 64 KB regions 64 KB apart, as in the anchors */
#define UNICORN_DZ_BASE 0x200000000ull
#define SEED 0x76617361636365ull          /* "vasacce" */
#define SET_ALLOCATIONS 100               /* (c) "set": the allocations read at every N */

/* ---- Small tools ------------------------------------------------------------------------- */

static void *must_alloc(size_t size)
{
    void *q = calloc(1, size);
    if (!q)
        die("out of memory (%zu bytes)", size);
    return q;
}

/* A host mapping of anonymous memory with 4 KB pages (as simulated RAM has: THP is not asked
   for there either). */
static uint8_t *host_map(uint64_t size)
{
    void *q = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (q == MAP_FAILED)
        die("mmap(%llu bytes): %s", (unsigned long long)size, strerror(errno));
#ifdef MADV_NOHUGEPAGE
    madvise(q, size, MADV_NOHUGEPAGE);
#endif
    return q;
}

static const char *fmt_count(long n, char *buf, size_t size)
{
    if (n < 100) {
        snprintf(buf, size, "%ld", n);
        return buf;
    }
    return fmt_ns((double)n, buf, size);
}

/* ---- The embedder's fast path (docs/api.md, vas_mapping_generation) ------------------------ */

/* One direct-mapped cache per kind of access, indexed by page number: the host address of the
   page and the generation it was translated in. A hit is a tag compare, a generation compare
   and a host load or store, with no call; a miss translates with vas_translate, fills the slot
   and lets vas_read / vas_write do the access. */
typedef struct eslot {
    uint64_t page;
    uint8_t *host;
    uint64_t generation;
} eslot;

typedef struct ecache {
    vas_process *process;
    const uint64_t *generation;       /* vas_mapping_generation_address(process) */
    eslot *slot;
    uint64_t mask;
    uint32_t access;                  /* VAS_EXCEPTION_READ_FAULT or _WRITE_FAULT */
    uint64_t refills;
} ecache;

static void ecache_init(ecache *c, vas_process *p, uint64_t slots, uint32_t access)
{
    c->process = p;
    c->generation = vas_mapping_generation_address(p);
    if (!c->generation)
        die("vas_mapping_generation_address returned NULL");
    c->slot = must_alloc(sizeof *c->slot * slots); /* page 0 never matches: it is the NULL partition */
    c->mask = slots - 1;
    c->access = access;
    c->refills = 0;
}

static BENCH_NOINLINE uint32_t ecache_refill(ecache *c, uint64_t va, void *buffer)
{
    vas_translation t;
    vas_exception e;
    uint32_t status = vas_translate(c->process, va, c->access, &t, &e);
    if (status)
        return status; /* the guest's exception */
    c->slot[(va >> PAGE_SHIFT) & c->mask] = (eslot){va >> PAGE_SHIFT, t.host - (va - t.page_base), t.generation};
    c->refills++;
    if (c->access == VAS_EXCEPTION_WRITE_FAULT)
        return vas_write(c->process, va, buffer, 8, &e); /* also handles a page-crossing access */
    return vas_read(c->process, va, buffer, 8, &e);
}

static inline uint32_t guest_load64(ecache *c, uint64_t va, uint64_t *out)
{
    const eslot *s = &c->slot[(va >> PAGE_SHIFT) & c->mask];
    if (LIKELY(s->page == va >> PAGE_SHIFT && s->generation == *c->generation && (va & (PAGE - 1)) <= PAGE - 8)) {
        memcpy(out, s->host + (va & (PAGE - 1)), 8);
        return 0;
    }
    return ecache_refill(c, va, out);
}

static inline uint32_t guest_store64(ecache *c, uint64_t va, uint64_t value)
{
    const eslot *s = &c->slot[(va >> PAGE_SHIFT) & c->mask];
    if (LIKELY(s->page == va >> PAGE_SHIFT && s->generation == *c->generation && (va & (PAGE - 1)) <= PAGE - 8)) {
        memcpy(s->host + (va & (PAGE - 1)), &value, 8);
        return 0;
    }
    return ecache_refill(c, va, &value);
}

/* ---- The floor: what any library call costs here ----------------------------------------- */

/* vas_read's signature, an empty body. */
static BENCH_NOINLINE uint32_t empty_call(vas_process *p, uint64_t address, void *buffer, size_t size,
                                          vas_exception *exception)
{
    __asm__ __volatile__("");
    return 0;
}

/* vas_read's and vas_write's signatures; `address` is a host address: a library call whose
   translation costs nothing. */
static BENCH_NOINLINE uint32_t load_call(vas_process *p, uint64_t address, void *buffer, size_t size,
                                         vas_exception *exception)
{
    memcpy(buffer, (const void *)(uintptr_t)address, 8);
    return 0;
}

static BENCH_NOINLINE uint32_t store_call(vas_process *p, uint64_t address, const void *buffer, size_t size,
                                          vas_exception *exception)
{
    memcpy((void *)(uintptr_t)address, buffer, 8);
    return 0;
}

/* ---- The measured loops ------------------------------------------------------------------- */

typedef enum kind {
    NATIVE_LOAD, NATIVE_STORE, EMPTY_CALL, LOAD_CALL, STORE_CALL, VAS_READ, VAS_WRITE, FAST_READ, FAST_WRITE,
    UC_READ, UC_WRITE
} kind;

/* Where a case's accesses go: address = base + offset (base is 0 for lists of absolute addresses). */
typedef struct target {
    uint8_t *host;           /* native */
    vas_process *process;    /* vas_read / vas_write */
    ecache *reads, *writes;  /* the embedder's caches of that process */
#ifdef VAS_BENCH_HAVE_UNICORN
    uc_engine *uc;
#endif
    uint64_t base;           /* vas or Unicorn */
} target;

typedef struct address_list {
    uint64_t *offset;
    size_t count;
} address_list;

static uint64_t loop_native_load(const uint8_t *host, const uint64_t *off, size_t n)
{
    uint64_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc += *(const volatile uint64_t *)(host + off[i]);
    return acc;
}

static void loop_native_store(uint8_t *host, const uint64_t *off, size_t n)
{
    for (size_t i = 0; i < n; i++)
        *(volatile uint64_t *)(host + off[i]) = i;
}

static uint64_t loop_call(uint32_t (*call)(vas_process *, uint64_t, void *, size_t, vas_exception *),
                          uint64_t base, const uint64_t *off, size_t n)
{
    uint64_t acc = 0, v = 0;
    uint32_t status = 0;
    vas_exception e;
    for (size_t i = 0; i < n; i++) {
        status |= call(NULL, base + off[i], &v, 8, &e);
        acc += v;
    }
    return acc + status;
}

static uint64_t loop_vas_read(vas_process *p, uint64_t base, const uint64_t *off, size_t n, uint32_t *status)
{
    uint64_t acc = 0, v = 0;
    uint32_t st = 0;
    vas_exception e;
    for (size_t i = 0; i < n; i++) {
        st |= vas_read(p, base + off[i], &v, 8, &e);
        acc += v;
    }
    *status |= st;
    return acc;
}

static void loop_store_call(uint64_t base, const uint64_t *off, size_t n)
{
    uint32_t status = 0;
    vas_exception e;
    for (size_t i = 0; i < n; i++) {
        uint64_t v = i;
        status |= store_call(NULL, base + off[i], &v, 8, &e);
    }
    sink += status;
}

static void loop_vas_write(vas_process *p, uint64_t base, const uint64_t *off, size_t n, uint32_t *status)
{
    uint32_t st = 0;
    vas_exception e;
    for (size_t i = 0; i < n; i++) {
        uint64_t v = i;
        st |= vas_write(p, base + off[i], &v, 8, &e);
    }
    *status |= st;
}

static uint64_t loop_fast_read(ecache *c, uint64_t base, const uint64_t *off, size_t n, uint32_t *status)
{
    uint64_t acc = 0, v = 0;
    uint32_t st = 0;
    for (size_t i = 0; i < n; i++) {
        st |= guest_load64(c, base + off[i], &v);
        acc += v;
    }
    *status |= st;
    return acc;
}

static void loop_fast_write(ecache *c, uint64_t base, const uint64_t *off, size_t n, uint32_t *status)
{
    uint32_t st = 0;
    for (size_t i = 0; i < n; i++)
        st |= guest_store64(c, base + off[i], i);
    *status |= st;
}

#ifdef VAS_BENCH_HAVE_UNICORN
static uint64_t loop_uc_read(uc_engine *uc, uint64_t base, const uint64_t *off, size_t n, uint32_t *status)
{
    uint64_t acc = 0, v = 0;
    uint32_t st = 0;
    for (size_t i = 0; i < n; i++) {
        st |= (uint32_t)uc_mem_read(uc, base + off[i], &v, 8);
        acc += v;
    }
    *status |= st;
    return acc;
}

static void loop_uc_write(uc_engine *uc, uint64_t base, const uint64_t *off, size_t n, uint32_t *status)
{
    uint32_t st = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t v = i;
        st |= (uint32_t)uc_mem_write(uc, base + off[i], &v, 8);
    }
    *status |= st;
}
#endif

static const char *kind_name(kind k)
{
    static const char *names[] = {"native load", "native store", "empty call", "load call", "store call", "vas_read",
                                  "vas_write", "embedder load", "embedder store", "uc_mem_read", "uc_mem_write"};
    return names[k];
}

/* One timed batch: n accesses of off[0..n) through `k`; returns ns per access. */
static double run_batch(kind k, const target *t, const uint64_t *off, size_t n)
{
    uint32_t status = 0;
    uint64_t acc = 0;
    uint64_t t0 = now_ns();
    switch (k) {
    case NATIVE_LOAD: acc = loop_native_load(t->host, off, n); break;
    case NATIVE_STORE: loop_native_store(t->host, off, n); break;
    case EMPTY_CALL: acc = loop_call(empty_call, t->base, off, n); break;
    case LOAD_CALL: acc = loop_call(load_call, (uint64_t)(uintptr_t)t->host, off, n); break;
    case STORE_CALL: loop_store_call((uint64_t)(uintptr_t)t->host, off, n); break;
    case VAS_READ: acc = loop_vas_read(t->process, t->base, off, n, &status); break;
    case VAS_WRITE: loop_vas_write(t->process, t->base, off, n, &status); break;
    case FAST_READ: acc = loop_fast_read(t->reads, t->base, off, n, &status); break;
    case FAST_WRITE: loop_fast_write(t->writes, t->base, off, n, &status); break;
#ifdef VAS_BENCH_HAVE_UNICORN
    case UC_READ: acc = loop_uc_read(t->uc, t->base, off, n, &status); break;
    case UC_WRITE: loop_uc_write(t->uc, t->base, off, n, &status); break;
#else
    case UC_READ: case UC_WRITE: die("built without Unicorn"); break;
#endif
    }
    uint64_t elapsed = now_ns() - t0;
    sink += acc;
    if (status)
        die("%s failed in a timed loop (status bits %#x)", kind_name(k), status);
    return (double)elapsed / (double)n;
}

/* One repetition of a case: the list in batches of `batch` accesses, `passes` times over; the
   median ns per access of the batches becomes one sample of r. */
static void measure(result *r, kind k, const target *t, const address_list *list, size_t count, size_t batch,
                    int passes)
{
    double ns[MAX_SAMPLES];
    int nb = 0;
    if (count > list->count)
        count = list->count;
    for (int pass = 0; pass < passes; pass++)
        for (size_t i = 0; i + batch <= count && nb < MAX_SAMPLES; i += batch)
            ns[nb++] = run_batch(k, t, list->offset + i, batch);
    if (nb == 0)
        die("%s: a list of %zu addresses holds no batch of %zu", r->key, count, batch);
    add_sample(r, median(ns, nb));
}

/* Cases measured side by side: their batches are interleaved (batch 1 of every case, then batch
   2, ...), so that the cases a ratio compares see the same moments of the host's other work. */
typedef struct job {
    result *r;
    kind k;
    target t;
    const address_list *list;
    size_t count, batch;     /* the first `count` addresses of the list, in batches */
    int passes;
    double ns[MAX_SAMPLES];
    int nb;
} job;

static job *add_job(job *jobs, int *n, result *r, kind k, const target *t, const address_list *list, size_t count,
                    size_t batch, int passes)
{
    job *j = &jobs[(*n)++];
    memset(j, 0, sizeof *j);
    *j = (job){r, k, *t, list, count < list->count ? count : list->count, batch, passes, {0}, 0};
    if (j->count / j->batch == 0)
        die("%s: a list of %zu addresses holds no batch of %zu", r->key, j->count, j->batch);
    return j;
}

static void run_jobs(job *jobs, int n)
{
    for (int round = 0; round < MAX_SAMPLES; round++) {
        bool any = false;
        for (int i = 0; i < n; i++) {
            job *j = &jobs[i];
            int per_pass = (int)(j->count / j->batch);
            if (round >= per_pass * j->passes)
                continue;
            j->ns[j->nb++] = run_batch(j->k, &j->t, j->list->offset + (size_t)(round % per_pass) * j->batch, j->batch);
            any = true;
        }
        if (!any)
            break;
    }
    for (int i = 0; i < n; i++)
        add_sample(jobs[i].r, median(jobs[i].ns, jobs[i].nb));
}

/* Random 8-byte-aligned offsets in [0, span), never crossing a page (as the anchors' lists). */
static address_list make_random_list(size_t count, uint64_t span, uint64_t seed)
{
    address_list l = {must_alloc(sizeof(uint64_t) * count), count};
    rng = seed;
    uint64_t pages = span / PAGE;
    for (size_t i = 0; i < count; i++) {
        uint64_t x = rng_next();
        l.offset[i] = (x % pages) * PAGE + ((x >> 40) % (PAGE / 8)) * 8;
    }
    return l;
}

/* Of the accesses of the list's second pass, the share that a direct-mapped table of `entries`
   slots indexed by page number misses (the library's TLB and the embedder's cache are such). */
static double direct_mapped_miss_share(const address_list *l, uint64_t base, uint64_t entries)
{
    uint64_t *tag = must_alloc(sizeof *tag * entries), misses = 0;
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < l->count; i++) {
            uint64_t page = (base + l->offset[i]) >> PAGE_SHIFT;
            if (tag[page & (entries - 1)] != page) {
                misses += pass;
                tag[page & (entries - 1)] = page;
            }
        }
    free(tag);
    return (double)misses / (double)l->count;
}

/* ---- vas ---------------------------------------------------------------------------------- */

static vas_process *vas_process_with(vas_machine *m, const char *name, uint32_t tlb_entries)
{
    vas_process *p = bench_process(m, name, tlb_entries);
    vas_system_info si;
    vas_get_system_info(p, &si);
    if (si.page_size != PAGE)
        die("expected 4 KB pages, the layout has %u", si.page_size);
    return p;
}

static uint64_t vas_alloc_rw(vas_process *p, uint64_t size)
{
    uint64_t a = vas_virtual_alloc(p, 0, size, VAS_MEM_RESERVE | VAS_MEM_COMMIT, VAS_PAGE_READWRITE);
    if (!a)
        die("VirtualAlloc(%llu bytes, MEM_RESERVE|MEM_COMMIT) failed: %s", (unsigned long long)size,
            vas_error_name(vas_last_error()));
    return a;
}

static void vas_must_write(vas_process *p, uint64_t address, uint64_t value)
{
    vas_exception e;
    if (vas_write(p, address, &value, 8, &e))
        die("vas_write(%#llx) failed: %s at %#llx", (unsigned long long)address, vas_status_name(e.code),
            (unsigned long long)e.address);
}

/* Every page of [a, a + size) written once, so that it has a frame, and a real host page
   behind the frame (a read would leave the host's shared zero page there). */
static void vas_touch(vas_process *p, uint64_t a, uint64_t size)
{
    for (uint64_t off = 0; off < size; off += PAGE)
        vas_must_write(p, a + off, off * 131 + 7);
}

static void vas_free_must(vas_process *p, uint64_t a)
{
    if (!vas_virtual_free(p, a, 0, VAS_MEM_RELEASE))
        die("VirtualFree(%#llx, MEM_RELEASE) failed: %s", (unsigned long long)a, vas_error_name(vas_last_error()));
}

static uint64_t demand_zero_faults(vas_process *p)
{
    vas_process_counters c;
    if (!vas_process_get_counters(p, &c))
        die("vas_process_get_counters failed");
    return c.demand_zero_faults;
}

/* ---- Unicorn 2 ---------------------------------------------------------------------------- */

#ifdef VAS_BENCH_HAVE_UNICORN
static uc_engine *uc_new(void)
{
    uc_engine *uc;
    uc_must(uc_open(UC_ARCH_X86, UC_MODE_64, &uc), "uc_open");
    return uc;
}

static void uc_touch(uc_engine *uc, uint64_t base, uint64_t size)
{
    for (uint64_t off = 0; off < size; off += PAGE) {
        uint64_t v = off * 131 + 7;
        uc_must(uc_mem_write(uc, base + off, &v, 8), "uc_mem_write (touch)");
    }
}
#endif

/* ---- The state every repetition measures --------------------------------------------------- */

typedef struct count_state {     /* (c): N allocations live in one process */
    long n;
    vas_machine *machine;
    vas_process *process;
    ecache set_reads, all_reads; /* the embedder's caches, one per shape */
    address_list set, all;       /* absolute vas addresses */
    address_list native_set, native_all; /* offsets into `host` */
    uint8_t *host;               /* N * 64 KB of host address space, the used pages touched */
    uint64_t host_size;
    double set_miss, all_miss;   /* the direct-mapped share of misses, 16,384 entries */
} count_state;

static struct {
    uint64_t big;                /* the "64 MB" span (4 MB with --quick) */
    int reps;
    /* (a) and (b) */
    uint8_t *native;             /* big bytes, touched */
    vas_machine *machine;        /* main, sweep, tiny and off live here */
    vas_process *main;
    uint64_t main_base;
    ecache main_reads, main_writes;
    address_list hot, random;
    size_t random_slow_count;    /* how much of `random` the slower cases run */
    /* (c) */
    count_state counts[2];
    /* (d) */
    vas_process *sweep, *tiny, *off;
    uint64_t sweep_base, tiny_base, off_base;
    ecache sweep_reads, tiny_reads;
    address_list sweep_list;     /* one access per page of the span, pages in random order */
    address_list pingpong;       /* two pages 256 pages apart, alternately: one slot of a 256-entry TLB */
    double tiny_miss;
    /* (e) */
    vas_machine *dz_machine;
    vas_process *dz;             /* its simulated RAM recycled: no zeroed frame is left */
    uint64_t dz_offsets[BATCH_PAGES];
#ifdef VAS_BENCH_HAVE_UNICORN
    uc_engine *uc_big, *uc_set, *uc_dz;
#endif
} S;

static void setup_big(void)
{
    progress("setting up (a), (b): a %llu MB allocation and its host and Unicorn twins",
             (unsigned long long)(S.big >> 20));
    S.native = host_map(S.big);
    for (uint64_t i = 0; i < S.big; i += 8)
        *(uint64_t *)(S.native + i) = i * 131 + 7;
    /* main, sweep, tiny and off each hold one touched copy of the span, plus page tables */
    /* (small paging files in the smoke run: debug builds check them after every call) */
    S.machine = bench_machine(4 * S.big + (quick ? 8ull << 20 : 64ull << 20), quick ? 16ull << 20 : 0);
    S.main = vas_process_with(S.machine, "main.exe", 0);
    S.main_base = vas_alloc_rw(S.main, S.big);
    vas_touch(S.main, S.main_base, S.big);
    ecache_init(&S.main_reads, S.main, 16384, VAS_EXCEPTION_READ_FAULT);
    ecache_init(&S.main_writes, S.main, 16384, VAS_EXCEPTION_WRITE_FAULT);
    S.hot = make_random_list(1u << 18, HOT, SEED ^ 1);
    S.random = make_random_list(quick ? 200000 : 10000000, S.big, SEED ^ 2);
    S.random_slow_count = quick ? 8000 : 1000000;

    /* A check that both paths move the right bytes before anything is timed. */
    for (size_t i = 0; i < 4096 && i < S.random.count; i++) {
        uint64_t a = S.main_base + S.random.offset[i], v = a * 3 + 1, got = 0;
        vas_must_write(S.main, a, v);
        uint32_t st = guest_load64(&S.main_reads, a, &got);
        if (st || got != v)
            die("embedder load at %#llx: status %#x, read %#llx, wrote %#llx", (unsigned long long)a, st,
                (unsigned long long)got, (unsigned long long)v);
        if (guest_store64(&S.main_writes, a, v + 1))
            die("embedder store at %#llx failed", (unsigned long long)a);
        vas_exception e;
        if (vas_read(S.main, a, &got, 8, &e) || got != v + 1)
            die("vas_read at %#llx after an embedder store: %#llx, expected %#llx", (unsigned long long)a,
                (unsigned long long)got, (unsigned long long)(v + 1));
    }
#ifdef VAS_BENCH_HAVE_UNICORN
    S.uc_big = uc_new();
    uc_must(uc_mem_map(S.uc_big, UNICORN_BIG_BASE, S.big, UC_PROT_READ | UC_PROT_WRITE), "uc_mem_map (big)");
    uc_touch(S.uc_big, UNICORN_BIG_BASE, S.big);
#endif
}

/* (c) with n allocations of 64 KB live. */
static void setup_count(count_state *c, long n)
{
    progress("setting up (c): %ld allocations of 64 KB", n);
    c->n = n;
    long all_pages = n, set_pages = SET_ALLOCATIONS * (long)(REGION / PAGE);
    c->machine = bench_machine((uint64_t)(all_pages + set_pages) * PAGE + (quick ? 8ull << 20 : 64ull << 20),
                                  (uint64_t)n * REGION + (quick ? 16ull << 20 : 256ull << 20));
    c->process = vas_process_with(c->machine, "count.exe", 0);
    vas_process_counters pc;
    if (!vas_process_get_counters(c->process, &pc))
        die("vas_process_get_counters failed");
    uint64_t before = pc.allocation_count; /* a new process already holds a few */
    uint64_t *base = must_alloc(sizeof *base * (size_t)n);
    for (long i = 0; i < n; i++)
        base[i] = vas_alloc_rw(c->process, REGION);
    ecache_init(&c->set_reads, c->process, 16384, VAS_EXCEPTION_READ_FAULT);
    ecache_init(&c->all_reads, c->process, 16384, VAS_EXCEPTION_READ_FAULT);
    c->host_size = (uint64_t)n * REGION;
    c->host = host_map(c->host_size);

    /* "set": every page of allocations 0, n/100, 2n/100, ... touched; reads anywhere in them. */
    long step = n / SET_ALLOCATIONS;
    for (long k = 0; k < SET_ALLOCATIONS; k++) {
        vas_touch(c->process, base[k * step], REGION);
        memset(c->host + (uint64_t)(k * step) * REGION, 0x5A, REGION);
    }
    /* "all": one page of each allocation (page i mod 16 of allocation i), touched. */
    for (long i = 0; i < n; i++) {
        uint64_t page = (uint64_t)(i % 16) * PAGE;
        vas_must_write(c->process, base[i] + page, (uint64_t)i);
        c->host[(uint64_t)i * REGION + page] = 1;
    }
    size_t count = quick ? 50000 : 1000000;
    c->set = (address_list){must_alloc(sizeof(uint64_t) * count), count};
    c->native_set = (address_list){must_alloc(sizeof(uint64_t) * count), count};
    c->all = (address_list){must_alloc(sizeof(uint64_t) * count), count};
    c->native_all = (address_list){must_alloc(sizeof(uint64_t) * count), count};
    rng = SEED ^ 3;
    for (size_t i = 0; i < count; i++) {
        uint64_t x = rng_next();
        long k = (long)(x % SET_ALLOCATIONS) * step;
        uint64_t within = ((x >> 20) % (REGION / PAGE)) * PAGE + ((x >> 40) % (PAGE / 8)) * 8;
        c->set.offset[i] = base[k] + within;
        c->native_set.offset[i] = (uint64_t)k * REGION + within;
    }
    rng = SEED ^ 4;
    for (size_t i = 0; i < count; i++) {
        uint64_t x = rng_next();
        long k = (long)(x % (uint64_t)n);
        uint64_t within = (uint64_t)(k % 16) * PAGE + ((x >> 40) % (PAGE / 8)) * 8;
        c->all.offset[i] = base[k] + within;
        c->native_all.offset[i] = (uint64_t)k * REGION + within;
    }
    c->set_miss = direct_mapped_miss_share(&c->set, 0, 16384);
    c->all_miss = direct_mapped_miss_share(&c->all, 0, 16384);
    if (!vas_process_get_counters(c->process, &pc) || pc.allocation_count - before != (uint64_t)n)
        die("vas holds %llu allocations, %llu expected", (unsigned long long)pc.allocation_count,
            (unsigned long long)(before + (uint64_t)n));
    free(base);
}

static void setup_tlb(void)
{
    progress("setting up (d): processes with a flushed, a 256-entry and no TLB");
    S.sweep = vas_process_with(S.machine, "sweep.exe", 0);
    S.sweep_base = vas_alloc_rw(S.sweep, S.big);
    vas_touch(S.sweep, S.sweep_base, S.big);
    ecache_init(&S.sweep_reads, S.sweep, 16384, VAS_EXCEPTION_READ_FAULT);
    S.tiny = vas_process_with(S.machine, "tiny.exe", 256);
    S.tiny_base = vas_alloc_rw(S.tiny, S.big);
    vas_touch(S.tiny, S.tiny_base, S.big);
    S.off = vas_process_with(S.machine, "notlb.exe", VAS_TLB_DISABLED);
    S.off_base = vas_alloc_rw(S.off, S.big);
    vas_touch(S.off, S.off_base, S.big);
    /* one access per page, pages in a random order (Fisher-Yates), random offsets */
    size_t pages = (size_t)(S.big / PAGE);
    S.sweep_list = (address_list){must_alloc(sizeof(uint64_t) * pages), pages};
    rng = SEED ^ 5;
    for (size_t i = 0; i < pages; i++)
        S.sweep_list.offset[i] = (uint64_t)i * PAGE;
    for (size_t i = pages - 1; i > 0; i--) {
        size_t j = (size_t)(rng_next() % (i + 1));
        uint64_t t = S.sweep_list.offset[i];
        S.sweep_list.offset[i] = S.sweep_list.offset[j];
        S.sweep_list.offset[j] = t;
    }
    for (size_t i = 0; i < pages; i++)
        S.sweep_list.offset[i] += (rng_next() % (PAGE / 8)) * 8;
    address_list slow = {S.random.offset, S.random_slow_count};
    S.tiny_miss = direct_mapped_miss_share(&slow, S.tiny_base, 256);
    ecache_init(&S.tiny_reads, S.tiny, 256, VAS_EXCEPTION_READ_FAULT);
    size_t count = quick ? 4096 : 65536;
    S.pingpong = (address_list){must_alloc(sizeof(uint64_t) * count), count};
    for (size_t i = 0; i < count; i++)
        S.pingpong.offset[i] = (i & 1 ? 261 : 5) * PAGE + (rng_next() % (PAGE / 8)) * 8;
    if (direct_mapped_miss_share(&S.pingpong, S.tiny_base, 256) != 1.0)
        die("the ping-pong pages do not share a TLB slot");
}

/* One batch of (e) in the process: 16 fresh reservations, committed; the first access to each of
   their pages timed; released. Returns ns per fault. */
static double dz_batch(vas_process *p, bool write)
{
    uint64_t base[BATCH_REGIONS];
    for (size_t r = 0; r < BATCH_REGIONS; r++)
        base[r] = vas_alloc_rw(p, REGION);
    uint64_t faults = demand_zero_faults(p), v = 0, acc = 0;
    uint32_t status = 0;
    vas_exception e;
    uint64_t t0 = now_ns();
    for (size_t i = 0; i < BATCH_PAGES; i++) {
        uint64_t a = base[i / (REGION / PAGE)] + (i % (REGION / PAGE)) * PAGE + S.dz_offsets[i];
        if (write) {
            v = i;
            status |= vas_write(p, a, &v, 8, &e);
        } else {
            status |= vas_read(p, a, &v, 8, &e);
            acc += v;
        }
    }
    uint64_t elapsed = now_ns() - t0;
    sink += acc;
    if (status)
        die("a first %s of a committed page failed", write ? "write" : "read");
    if (demand_zero_faults(p) - faults != BATCH_PAGES)
        die("%llu demand-zero faults in a batch of %d first touches",
            (unsigned long long)(demand_zero_faults(p) - faults), BATCH_PAGES);
    for (size_t r = 0; r < BATCH_REGIONS; r++)
        vas_free_must(p, base[r]);
    return (double)elapsed / BATCH_PAGES;
}

static void setup_dz(void)
{
    progress("setting up (e): a machine whose zeroed frames are used up");
    for (size_t i = 0; i < BATCH_PAGES; i++)
        S.dz_offsets[i] = (rng_next() % (PAGE / 8)) * 8;
    S.dz_machine = bench_machine(8ull << 20, quick ? 16ull << 20 : 0);
    S.dz = vas_process_with(S.dz_machine, "fault.exe", 0);
    /* Simulated RAM starts as zeroed frames that the host has never touched. Use them all once,
       so that the measured faults take recycled frames and zero them (the steady state). */
    for (;;) {
        vas_physical_status ps;
        vas_get_physical_status(S.dz_machine, &ps);
        if (ps.zeroed == 0)
            break;
        dz_batch(S.dz, true);
    }
#ifdef VAS_BENCH_HAVE_UNICORN
    S.uc_dz = uc_new();
    /* Unicorn builds its machine on the first memory call: keep that out of the timings. */
    uc_must(uc_mem_map(S.uc_dz, UNICORN_DZ_BASE, REGION, UC_PROT_READ | UC_PROT_WRITE), "uc_mem_map (warm-up)");
    uc_must(uc_mem_unmap(S.uc_dz, UNICORN_DZ_BASE, REGION), "uc_mem_unmap (warm-up)");
#endif
}

#ifdef VAS_BENCH_HAVE_UNICORN
static void setup_unicorn_set(const count_state *c)
{
    /* (c) for Unicorn: 100 regions of 64 KB, 64 KB apart, every page touched. Unicorn cannot
       hold 100,000 regions (it aborts past 4,095), so it runs at N = 100 only. */
    S.uc_set = uc_new();
    for (long i = 0; i < c->n; i++) {
        uc_must(uc_mem_map(S.uc_set, UNICORN_SET_BASE + (uint64_t)i * 2 * REGION, REGION,
                           UC_PROT_READ | UC_PROT_WRITE), "uc_mem_map (set)");
        uc_touch(S.uc_set, UNICORN_SET_BASE + (uint64_t)i * 2 * REGION, REGION);
    }
}
#endif

/* ---- One repetition of every case ----------------------------------------------------------- */

static target vas_target(vas_process *p, uint64_t base, ecache *reads, ecache *writes)
{
    target t = {0};
    t.process = p;
    t.base = base;
    t.reads = reads;
    t.writes = writes;
    return t;
}

static void rep_hot(void)
{
    int passes = quick ? 2 : 8;
    size_t n = S.hot.count;
    target native = {0}, vas = vas_target(S.main, S.main_base, &S.main_reads, &S.main_writes);
    native.host = S.native;
    static const struct {
        kind k;
        const char *key, *impl, *what;
    } cases[] = {
        {NATIVE_LOAD, "hot/native-load", "native", "8-byte load (volatile), host buffer"},
        {NATIVE_STORE, "hot/native-store", "native", "8-byte store (volatile), host buffer"},
        {EMPTY_CALL, "hot/empty-call", "floor", "empty noinline call with vas_read's 5 arguments"},
        {LOAD_CALL, "hot/load-call", "floor", "noinline call copying 8 bytes from a host pointer to *buffer"},
        {STORE_CALL, "hot/store-call", "floor", "noinline call copying 8 bytes from *buffer to a host pointer"},
        {VAS_READ, "hot/vas-read", "vas", "vas_read 8 bytes"},
        {VAS_WRITE, "hot/vas-write", "vas", "vas_write 8 bytes"},
        {FAST_READ, "hot/fast-read", "embedder", "inline cache of vas_translate pointers, load"},
        {FAST_WRITE, "hot/fast-write", "embedder", "inline cache of vas_translate pointers, store"},
#ifdef VAS_BENCH_HAVE_UNICORN
        {UC_READ, "hot/uc-read", "Unicorn", "uc_mem_read 8 bytes"},
        {UC_WRITE, "hot/uc-write", "Unicorn", "uc_mem_write 8 bytes"},
#endif
    };
    job jobs[sizeof cases / sizeof cases[0]];
    int nj = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        result *r = get_result(cases[i].key, 'a', cases[i].impl, cases[i].what);
        kind k = cases[i].k;
        target t = k == NATIVE_LOAD || k == NATIVE_STORE || k == LOAD_CALL || k == STORE_CALL ? native : vas;
#ifdef VAS_BENCH_HAVE_UNICORN
        if (cases[i].k == UC_READ || cases[i].k == UC_WRITE) {
            t = (target){0};
            t.uc = S.uc_big;
            t.base = UNICORN_BIG_BASE;
        }
#endif
        add_job(jobs, &nj, r, k, &t, &S.hot, n, n, passes);
        set_note(r, "%d passes of %zu random addresses in 64 KB (16 pages) per rep", passes, n);
    }
    run_jobs(jobs, nj);
}

static void rep_big(void)
{
    size_t n = S.random.count, batch = quick ? 50000 : 1000000, slow = S.random_slow_count * 2;
    target native = {0}, vas = vas_target(S.main, S.main_base, &S.main_reads, &S.main_writes);
    native.host = S.native;
    static const struct {
        kind k;
        const char *key, *impl, *what;
        bool slow;
    } cases[] = {
        {NATIVE_LOAD, "big/native-load", "native", "8-byte load (volatile), host buffer, 4 KB pages", false},
        {NATIVE_STORE, "big/native-store", "native", "8-byte store (volatile), host buffer, 4 KB pages", false},
        {LOAD_CALL, "big/load-call", "floor", "noinline call copying 8 bytes from a host pointer to *buffer", false},
        {STORE_CALL, "big/store-call", "floor", "noinline call copying 8 bytes from *buffer to a host pointer", false},
        {VAS_READ, "big/vas-read", "vas", "vas_read 8 bytes (default TLB: 16,384 entries)", false},
        {VAS_WRITE, "big/vas-write", "vas", "vas_write 8 bytes (default TLB: 16,384 entries)", false},
        {FAST_READ, "big/fast-read", "embedder", "inline cache (16,384 slots) of vas_translate pointers, load", false},
        {FAST_WRITE, "big/fast-write", "embedder", "inline cache (16,384 slots) of vas_translate pointers, store",
         false},
#ifdef VAS_BENCH_HAVE_UNICORN
        {UC_READ, "big/uc-read", "Unicorn", "uc_mem_read 8 bytes", true},
        {UC_WRITE, "big/uc-write", "Unicorn", "uc_mem_write 8 bytes", true},
#endif
    };
    job jobs[sizeof cases / sizeof cases[0]];
    int nj = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        result *r = get_result(cases[i].key, 'b', cases[i].impl, cases[i].what);
        kind k = cases[i].k;
        target t = k == NATIVE_LOAD || k == NATIVE_STORE || k == LOAD_CALL || k == STORE_CALL ? native : vas;
#ifdef VAS_BENCH_HAVE_UNICORN
        if (cases[i].k == UC_READ || cases[i].k == UC_WRITE) {
            t = (target){0};
            t.uc = S.uc_big;
            t.base = UNICORN_BIG_BASE;
        }
#endif
        size_t count = cases[i].slow ? slow : n, b = count < 2 * batch ? count / 2 : batch;
        add_job(jobs, &nj, r, k, &t, &S.random, count, b, 1);
        char c1[32], c2[32];
        set_note(r, "%s random addresses per rep, batches of %s%s", fmt_count((long)count, c1, sizeof c1),
                 fmt_count((long)b, c2, sizeof c2), cases[i].slow ? " (the first part of the same list)" : "");
    }
    run_jobs(jobs, nj);
}

/* (c): the shapes one after the other (the two shapes of one process share its TLB and would
   evict each other), both N side by side within a shape. */
static void rep_count(void)
{
    size_t batch = quick ? 25000 : 250000;
    for (int shape = 0; shape < 2; shape++) {
        const char *sname = shape ? "all" : "set";
        const char *desc = shape ? "in 1 page of each of the N allocations" : "in 100 of the allocations (1,600 pages)";
        job jobs[8];
        int nj = 0;
        address_list unicorn = {NULL, 0};
        for (int s = 0; s < 2; s++) {
            count_state *c = &S.counts[s];
            char key[48], what[128], nbuf[32];
            fmt_count(c->n, nbuf, sizeof nbuf);
            const address_list *vl = shape ? &c->all : &c->set, *nl = shape ? &c->native_all : &c->native_set;
            ecache *cache = shape ? &c->all_reads : &c->set_reads;
            double miss = shape ? c->all_miss : c->set_miss;
            target native = {0}, vas = vas_target(c->process, 0, cache, NULL);
            native.host = c->host;
            /* refill what the other shape evicted, untimed */
            run_batch(VAS_READ, &vas, vl->offset, vl->count);
            run_batch(FAST_READ, &vas, vl->offset, vl->count);

            snprintf(key, sizeof key, "count/%s/native/%ld", sname, c->n);
            snprintf(what, sizeof what, "8-byte load, %s live, %s", nbuf, desc);
            result *r = get_result(key, 'c', "native", what);
            add_job(jobs, &nj, r, NATIVE_LOAD, &native, nl, nl->count, batch, 1);
            set_note(r, "host mapping of N x 64 KB, the same offsets");

            snprintf(key, sizeof key, "count/%s/vas-read/%ld", sname, c->n);
            snprintf(what, sizeof what, "vas_read 8 bytes, %s allocations live, %s", nbuf, desc);
            r = get_result(key, 'c', "vas", what);
            add_job(jobs, &nj, r, VAS_READ, &vas, vl, vl->count, batch, 1);
            set_note(r, "%.1f %% of reads miss a 16,384-entry direct-mapped TLB", 100 * miss);

            snprintf(key, sizeof key, "count/%s/fast-read/%ld", sname, c->n);
            snprintf(what, sizeof what, "embedder load, %s allocations live, %s", nbuf, desc);
            r = get_result(key, 'c', "embedder", what);
            add_job(jobs, &nj, r, FAST_READ, &vas, vl, vl->count, batch, 1);
            set_note(r, "%.1f %% of loads refilled through vas_translate (its own cache of 16,384 slots)", 100 * miss);
#ifdef VAS_BENCH_HAVE_UNICORN
            snprintf(key, sizeof key, "count/%s/uc-read/%ld", sname, c->n);
            snprintf(what, sizeof what, "uc_mem_read 8 bytes, %s regions mapped, %s", nbuf, desc);
            r = get_result(key, 'c', "Unicorn", what);
            if (s == 0) {
                /* the same reads, in Unicorn's layout (regions 64 KB apart) */
                target t = {0};
                t.uc = S.uc_set;
                t.base = UNICORN_SET_BASE;
                unicorn = (address_list){must_alloc(sizeof(uint64_t) * nl->count), nl->count};
                for (size_t i = 0; i < nl->count; i++)
                    unicorn.offset[i] = (nl->offset[i] / REGION) * 2 * REGION + nl->offset[i] % REGION;
                add_job(jobs, &nj, r, UC_READ, &t, &unicorn, unicorn.count, batch, 1);
                set_note(r, "regions 64 KB apart, every region mapped by uc_mem_map");
            } else {
                r->failed = true;
                set_note(r, "not run: Unicorn aborts the process past 4,095 regions");
            }
#endif
        }
        run_jobs(jobs, nj);
        free(unicorn.offset);
    }
}

/* One sweep per batch; `flush` empties the TLB (untimed) before each. */
static void measure_sweeps(result *r, kind k, vas_process *p, uint64_t base, ecache *cache, bool flush, int sweeps)
{
    target t = vas_target(p, base, cache, NULL);
    double ns[MAX_SAMPLES];
    if (!flush)
        run_batch(k, &t, S.sweep_list.offset, S.sweep_list.count); /* fill */
    for (int s = 0; s < sweeps; s++) {
        if (flush)
            vas_tlb_flush(p);
        ns[s] = run_batch(k, &t, S.sweep_list.offset, S.sweep_list.count);
    }
    add_sample(r, median(ns, sweeps));
}

static void rep_tlb(void)
{
    int sweeps = quick ? 3 : 11;
    char pages[32];
    fmt_count((long)S.sweep_list.count, pages, sizeof pages);
    result *r = get_result("tlb/flush-read", 'd', "vas", "vas_read sweep right after vas_tlb_flush: every read misses");
    measure_sweeps(r, VAS_READ, S.sweep, S.sweep_base, NULL, true, sweeps);
    set_note(r, "1 read on each of %s pages in random order; %d sweeps per rep, the flush untimed", pages, sweeps);
    r = get_result("tlb/flush-write", 'd', "vas", "vas_write sweep right after vas_tlb_flush: every write misses");
    measure_sweeps(r, VAS_WRITE, S.sweep, S.sweep_base, NULL, true, sweeps);
    set_note(r, "the same sweep, writes");
    r = get_result("tlb/warm-read", 'd', "vas", "vas_read, the same sweep with the TLB warm: every read hits");
    measure_sweeps(r, VAS_READ, S.sweep, S.sweep_base, NULL, false, sweeps);
    set_note(r, "the host's own cache and TLB misses are in this row too");
    uint64_t refills = S.sweep_reads.refills;
    r = get_result("tlb/flush-fast", 'd', "embedder",
                   "embedder load sweep right after vas_tlb_flush: every load refills (vas_translate + vas_read)");
    measure_sweeps(r, FAST_READ, S.sweep, S.sweep_base, &S.sweep_reads, true, sweeps);
    set_note(r, "the flush moves the generation on, so every slot is stale; %.0f refills per sweep",
             (double)(S.sweep_reads.refills - refills) / sweeps);
    r = get_result("tlb/warm-fast", 'd', "embedder", "embedder load, the same sweep with the cache warm");
    measure_sweeps(r, FAST_READ, S.sweep, S.sweep_base, &S.sweep_reads, false, sweeps);
    set_note(r, "every load hits");

    double ns[MAX_SAMPLES];
    for (int s = 0; s < sweeps; s++) {
        uint64_t t0 = now_ns();
        vas_tlb_flush(S.sweep);
        ns[s] = (double)(now_ns() - t0);
    }
    r = get_result("tlb/flush-call", 'd', "vas", "vas_tlb_flush itself (16,384 entries), ns per call");
    add_sample(r, median(ns, sweeps));
    set_note(r, "clears the whole table");

    address_list slow = {S.random.offset, S.random_slow_count};
    size_t batch = S.random_slow_count / 4;
    target t = vas_target(S.tiny, S.tiny_base, NULL, NULL);
    r = get_result("tlb/tiny-read", 'd', "vas", "vas_read, random over the span, process with a 256-entry TLB");
    measure(r, VAS_READ, &t, &slow, slow.count, batch, 1);
    set_note(r, "%.1f %% of reads miss (a direct-mapped model of the same list)", 100 * S.tiny_miss);
    r = get_result("tlb/tiny-write", 'd', "vas", "vas_write, random over the span, process with a 256-entry TLB");
    measure(r, VAS_WRITE, &t, &slow, slow.count, batch, 1);
    set_note(r, "as above, writes");
    /* The refill's own cost: two pages that share a slot, alternately, so that every access
       misses while the bytes, the page tables and the TLB slot stay in the L1 cache. */
    t = vas_target(S.tiny, S.tiny_base, &S.tiny_reads, NULL);
    size_t pp = S.pingpong.count, ppb = pp / 4;
    r = get_result("tlb/pingpong-read", 'd', "vas",
                   "vas_read alternating between 2 pages that share a slot of a 256-entry TLB: every read misses");
    measure(r, VAS_READ, &t, &S.pingpong, pp, ppb, 1);
    set_note(r, "the bytes, tables and slot stay in L1: the refill's own cost (lock, walk, fill, copy)");
    r = get_result("tlb/pingpong-write", 'd', "vas", "vas_write, the same 2 pages alternately: every write misses");
    measure(r, VAS_WRITE, &t, &S.pingpong, pp, ppb, 1);
    set_note(r, "as above, writes");
    r = get_result("tlb/pingpong-fast", 'd', "embedder",
                   "embedder load (256 slots), the same 2 pages alternately: every load refills");
    measure(r, FAST_READ, &t, &S.pingpong, pp, ppb, 1);
    set_note(r, "each refill is vas_translate (a TLB miss too) + vas_read (then a hit)");
    t = vas_target(S.off, S.off_base, NULL, NULL);
    r = get_result("tlb/off-read", 'd', "vas", "vas_read, random over the span, process with VAS_TLB_DISABLED");
    measure(r, VAS_READ, &t, &slow, slow.count, batch, 1);
    set_note(r, "every read takes the lock and walks the page tables; nothing is filled");
}

static void rep_dz(void)
{
    int batches = quick ? 3 : 21;
    double ns[MAX_SAMPLES];
    result *r = get_result("dz/vas-write", 'e', "vas", "first vas_write of 8 bytes to a committed page (recycled frame)");
    for (int b = 0; b < batches; b++)
        ns[b] = dz_batch(S.dz, true);
    add_sample(r, median(ns, batches));
    set_note(r, "%d batches of 16 fresh 64 KB reservations (256 faults); the frame is zeroed inline (memset)",
             batches);
    r = get_result("dz/vas-read", 'e', "vas", "first vas_read of 8 bytes from a committed page (recycled frame)");
    for (int b = 0; b < batches; b++)
        ns[b] = dz_batch(S.dz, false);
    add_sample(r, median(ns, batches));
    set_note(r, "a read of a demand-zero page also takes (and zeroes) a frame, as on Windows");

    /* A fresh machine: its simulated RAM has never been touched by the host, so the first write
       to each frame also takes a host page fault. */
    vas_machine *m = bench_machine(quick ? 16ull << 20 : 64ull << 20, quick ? 16ull << 20 : 0);
    vas_process *p = vas_process_with(m, "fresh.exe", 0);
    r = get_result("dz/vas-write-fresh", 'e', "vas", "first vas_write to a committed page (fresh simulated RAM)");
    for (int b = 0; b < batches; b++)
        ns[b] = dz_batch(p, true);
    add_sample(r, median(ns, batches));
    set_note(r, "a new machine per rep: the host also faults the frame in (its first write)");
    vas_machine_destroy(m);

    for (int load = 0; load < 2; load++) {
        r = get_result(load ? "dz/native-load" : "dz/native-store", 'e', "native",
                       load ? "first 8-byte load from a fresh mmap page (Linux maps its zero page)"
                            : "first 8-byte store to a fresh mmap page (Linux page fault)");
        for (int b = 0; b < batches; b++) {
            uint8_t *q[BATCH_REGIONS];
            for (size_t i = 0; i < BATCH_REGIONS; i++) {
                q[i] = mmap(NULL, REGION, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                if (q[i] == MAP_FAILED)
                    die("mmap: %s", strerror(errno));
            }
            uint64_t acc = 0, t0 = now_ns();
            for (size_t i = 0; i < BATCH_PAGES; i++) {
                volatile uint64_t *w = (volatile uint64_t *)(q[i / (REGION / PAGE)] + (i % (REGION / PAGE)) * PAGE +
                                                             S.dz_offsets[i]);
                if (load)
                    acc += *w;
                else
                    *w = i;
            }
            ns[b] = (double)(now_ns() - t0) / BATCH_PAGES;
            sink += acc;
            for (size_t i = 0; i < BATCH_REGIONS; i++)
                munmap(q[i], REGION);
        }
        add_sample(r, median(ns, batches));
        set_note(r, "16 fresh mmap(64 KB) per batch, munmap after");
    }
#ifdef VAS_BENCH_HAVE_UNICORN
    r = get_result("dz/uc-write", 'e', "Unicorn", "first uc_mem_write of 8 bytes to a freshly mapped page");
    for (int b = 0; b < batches; b++) {
        for (size_t i = 0; i < BATCH_REGIONS; i++)
            uc_must(uc_mem_map(S.uc_dz, UNICORN_DZ_BASE + i * REGION, REGION, UC_PROT_READ | UC_PROT_WRITE),
                    "uc_mem_map (dz)");
        uint32_t status = 0;
        uint64_t t0 = now_ns();
        for (size_t i = 0; i < BATCH_PAGES; i++) {
            uint64_t v = i;
            status |= (uint32_t)uc_mem_write(S.uc_dz, UNICORN_DZ_BASE + i * PAGE + S.dz_offsets[i], &v, 8);
        }
        ns[b] = (double)(now_ns() - t0) / BATCH_PAGES;
        if (status)
            die("uc_mem_write (dz) failed");
        for (size_t i = 0; i < BATCH_REGIONS; i++)
            uc_must(uc_mem_unmap(S.uc_dz, UNICORN_DZ_BASE + i * REGION, REGION), "uc_mem_unmap (dz)");
    }
    add_sample(r, median(ns, batches));
    set_note(r, "16 uc_mem_map(64 KB) per batch (untimed), unmapped after; the host faults the page in");
#endif
}

/* Every case once, untimed, so that caches, TLBs and Unicorn's own state are warm. */
static void warm_up(void)
{
    progress("warming up");
    target vas = vas_target(S.main, S.main_base, &S.main_reads, &S.main_writes);
    size_t n = S.random.count < 2000000 ? S.random.count : 2000000;
    for (kind k = VAS_READ; k <= FAST_WRITE; k++) {
        run_batch(k, &vas, S.random.offset, n);
        run_batch(k, &vas, S.hot.offset, S.hot.count);
    }
    for (int s = 0; s < 2; s++) {
        target t = vas_target(S.counts[s].process, 0, &S.counts[s].set_reads, NULL);
        run_batch(FAST_READ, &t, S.counts[s].set.offset, S.counts[s].set.count);
        run_batch(VAS_READ, &t, S.counts[s].set.offset, S.counts[s].set.count);
    }
}

/* ---- Report ------------------------------------------------------------------------------ */

static char load_at_start[64] = "unknown";

static void print_machine(void)
{
    char model[128] = "unknown", thp[128] = "unknown", load[64] = "unknown";
    read_line("/sys/kernel/mm/transparent_hugepage/enabled", "", thp, sizeof thp);
    read_line("/proc/loadavg", "", load, sizeof load);
    struct utsname u;
    print_heading("vas memory-access benchmark", " (--quick: a smoke run, not a measurement)", model, sizeof model, &u);
    printf("- host: %ld CPUs online, %s, %s %s, THP %s\n", sysconf(_SC_NPROCESSORS_ONLN), model, u.sysname,
           u.release, thp);
    print_unicorn_line();
    printf("- load average at the start: %s; at the end: %s (other work on the host skews timings)\n",
           load_at_start, load);
    printf("- the \"64 MB\" span is %llu MB; ns per access: the median over %d reps, each the median of its batches\n",
           (unsigned long long)(S.big >> 20), S.reps);
}

/* "a vs b" for a note, from two keys. */
static const char *versus(const char *a, const char *b, char *buf, size_t size)
{
    char x[32], y[32];
    double va = lookup(a), vb = lookup(b);
    snprintf(buf, size, "%s ns vs %s ns", va < 0 ? "n/a" : fmt_ns(va, x, sizeof x), vb < 0 ? "n/a" : fmt_ns(vb, y, sizeof y));
    return buf;
}

static void print_ratios(void)
{
    char note[160], name[160], t1[32], t2[32], t3[32];
    double floor_call = lookup("hot/empty-call"), copy = lookup("hot/load-call");
    printf("\n## Ratios and targets\n\n");
    double store = lookup("hot/store-call");
    printf("The floor in this run (hot set): an empty noinline call costs %s ns; noinline calls that copy 8 "
           "bytes from / to a host pointer, %s / %s ns. No library call (a call that is not inlined) can be "
           "cheaper than these.\n\n",
           floor_call < 0 ? "n/a" : fmt_ns(floor_call, t1, sizeof t1), copy < 0 ? "n/a" : fmt_ns(copy, t2, sizeof t2),
           store < 0 ? "n/a" : fmt_ns(store, t3, sizeof t3));
    printf("| ratio | measured | target | result | note |\n");
    printf("|---|---:|---|---|---|\n");

    static const struct {
        const char *key, *name;
    } hot[] = {
        {"hot/vas-read", "hot vas_read 8 B, ns"},
        {"hot/vas-write", "hot vas_write 8 B, ns"},
        {"hot/fast-read", "hot embedder load 8 B, ns"},
        {"hot/fast-write", "hot embedder store 8 B, ns"},
    };
    for (size_t i = 0; i < 4; i++) {
        double v = lookup(hot[i].key);
        snprintf(note, sizeof note, "floor: empty call %s ns", floor_call < 0 ? "n/a" : fmt_ns(floor_call, t1, sizeof t1));
        ratio_row(hot[i].name, v, "<= 2 ns (G5)", v >= 0 && v <= 2, i < 2 ? note : "no call on a hit");
    }
#ifdef VAS_BENCH_HAVE_UNICORN
    static const struct {
        const char *key, *uc, *name;
    } vs_uc[] = {
        {"hot/vas-read", "hot/uc-read", "hot uc_mem_read / vas_read"},
        {"hot/vas-write", "hot/uc-write", "hot uc_mem_write / vas_write"},
        {"hot/fast-read", "hot/uc-read", "hot uc_mem_read / embedder load"},
        {"hot/fast-write", "hot/uc-write", "hot uc_mem_write / embedder store"},
    };
    for (size_t i = 0; i < 4; i++) {
        double r = div_or_na(lookup(vs_uc[i].uc), lookup(vs_uc[i].key));
        ratio_row(vs_uc[i].name, r, ">= 10 (G5)", r >= 10, versus(vs_uc[i].uc, vs_uc[i].key, note, sizeof note));
    }
#else
    printf("| hot Unicorn / vas | n/a | >= 10 (G5) | - | built without libunicorn-dev |\n");
#endif
    static const struct {
        const char *key, *native, *name;
    } vs_native[] = {
        {"big/vas-read", "big/native-load", "64 MB random: vas_read / native load"},
        {"big/vas-write", "big/native-store", "64 MB random: vas_write / native store"},
        {"big/fast-read", "big/native-load", "64 MB random: embedder load / native load"},
        {"big/fast-write", "big/native-store", "64 MB random: embedder store / native store"},
    };
    for (size_t i = 0; i < 4; i++) {
        double r = div_or_na(lookup(vs_native[i].key), lookup(vs_native[i].native));
        ratio_row(vs_native[i].name, r, "<= 1.5 (G7)", r >= 0 && r <= 1.5,
                  versus(vs_native[i].key, vs_native[i].native, note, sizeof note));
    }
    char k100[48], kbig[48], nbuf[32];
    long nbig = S.counts[1].n;
    fmt_count(nbig, nbuf, sizeof nbuf);
    static const char *count_impl[] = {"vas-read", "fast-read"};
    static const char *count_name[] = {"vas_read", "embedder load"};
    for (int i = 0; i < 2; i++) {
        snprintf(k100, sizeof k100, "count/set/%s/100", count_impl[i]);
        snprintf(kbig, sizeof kbig, "count/set/%s/%ld", count_impl[i], nbig);
        double r = div_or_na(lookup(kbig), lookup(k100));
        snprintf(name, sizeof name, "%s with %s allocations live / with 100 (the same 100 allocations read)",
                 count_name[i], nbuf);
        ratio_row(name, r, "<= 1.2 (G8)", r >= 0 && r <= 1.2, versus(kbig, k100, note, sizeof note));
    }
    static const struct {
        const char *write, *read, *name;
    } wr[] = {
        {"hot/vas-write", "hot/vas-read", "hot vas_write / vas_read"},
        {"hot/fast-write", "hot/fast-read", "hot embedder store / load"},
        {"big/vas-write", "big/vas-read", "64 MB random vas_write / vas_read"},
        {"big/fast-write", "big/fast-read", "64 MB random embedder store / load"},
    };
    for (size_t i = 0; i < 4; i++) {
        double r = div_or_na(lookup(wr[i].write), lookup(wr[i].read));
        ratio_row(wr[i].name, r, "<= 1.5 (G10)", r >= 0 && r <= 1.5, versus(wr[i].write, wr[i].read, note, sizeof note));
    }

    /* For information: context the targets do not state. */
    double r = div_or_na(lookup("hot/vas-read"), lookup("hot/native-load"));
    ratio_row("hot vas_read / native load", r, "none (G5 says within 6x)", INFO,
              versus("hot/vas-read", "hot/native-load", note, sizeof note));
    r = div_or_na(lookup("hot/vas-read"), floor_call);
    ratio_row("hot vas_read / empty noinline call", r, "none", INFO, "how much of vas_read is the call itself");
    r = div_or_na(lookup("big/load-call"), lookup("big/native-load"));
    ratio_row("64 MB random: noinline load call (no translation) / native load", r, "none", INFO,
              versus("big/load-call", "big/native-load", note, sizeof note));
    r = div_or_na(lookup("big/store-call"), lookup("big/native-store"));
    ratio_row("64 MB random: noinline store call (no translation) / native store", r, "none", INFO,
              versus("big/store-call", "big/native-store", note, sizeof note));
#ifdef VAS_BENCH_HAVE_UNICORN
    r = div_or_na(lookup("big/uc-read"), lookup("big/vas-read"));
    ratio_row("64 MB random uc_mem_read / vas_read", r, "none (G7 says >= 6)", INFO,
              versus("big/uc-read", "big/vas-read", note, sizeof note));
    r = div_or_na(lookup("big/uc-write"), lookup("big/vas-write"));
    ratio_row("64 MB random uc_mem_write / vas_write", r, "none (G7 says >= 6)", INFO,
              versus("big/uc-write", "big/vas-write", note, sizeof note));
#endif
    snprintf(k100, sizeof k100, "count/all/vas-read/100");
    snprintf(kbig, sizeof kbig, "count/all/vas-read/%ld", nbig);
    r = div_or_na(lookup(kbig), lookup(k100));
    snprintf(name, sizeof name, "vas_read in 1 page of every allocation: %s live / 100 live", nbuf);
    ratio_row(name, r, "none (the working set grows with N)", INFO, versus(kbig, k100, note, sizeof note));
    snprintf(k100, sizeof k100, "count/all/native/%ld", nbig);
    r = div_or_na(lookup(kbig), lookup(k100));
    snprintf(name, sizeof name, "vas_read / native load, 1 page of every allocation, %s live", nbuf);
    ratio_row(name, r, "none", INFO, versus(kbig, k100, note, sizeof note));

    double refill = lookup("tlb/flush-read") - lookup("tlb/warm-read");
    ratio_row("TLB miss + refill through vas_read, ns (flushed sweep - warm sweep)",
              lookup("tlb/flush-read") < 0 ? -1 : refill, "none (G9 says <= 25 ns)", INFO,
              versus("tlb/flush-read", "tlb/warm-read", note, sizeof note));
    refill = lookup("tlb/flush-fast") - lookup("tlb/warm-fast");
    ratio_row("embedder refill (vas_translate + vas_read), ns (flushed sweep - warm sweep)",
              lookup("tlb/flush-fast") < 0 ? -1 : refill, "none", INFO,
              versus("tlb/flush-fast", "tlb/warm-fast", note, sizeof note));
    double pp = lookup("tlb/pingpong-read");
    ratio_row("TLB miss + refill through vas_read, data in L1 (ping-pong), ns", pp, "none (G9 says <= 25 ns)", INFO,
              "the refill's own cost: no memory latency in it");
    r = lookup("tlb/tiny-read") - lookup("big/vas-read");
    ratio_row("TLB miss with a 256-entry TLB, ns per miss (tiny - default) / miss share",
              lookup("tlb/tiny-read") < 0 || S.tiny_miss <= 0 ? -1 : r / S.tiny_miss, "none", INFO,
              versus("tlb/tiny-read", "big/vas-read", note, sizeof note));
    r = div_or_na(lookup("dz/vas-write"), lookup("dz/native-store"));
    ratio_row("demand-zero fault: first vas_write / Linux first store", r, "none", INFO,
              versus("dz/vas-write", "dz/native-store", note, sizeof note));
#ifdef VAS_BENCH_HAVE_UNICORN
    r = div_or_na(lookup("dz/uc-write"), lookup("dz/vas-write"));
    ratio_row("demand-zero fault: first uc_mem_write / first vas_write", r, "none", INFO,
              versus("dz/uc-write", "dz/vas-write", note, sizeof note));
#endif
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
    S.big = quick ? 4ull << 20 : 64ull << 20;
    S.reps = quick ? 2 : 7;

    setup_big();
    setup_count(&S.counts[0], 100);
    setup_count(&S.counts[1], quick ? 1000 : 100000);
#ifdef VAS_BENCH_HAVE_UNICORN
    setup_unicorn_set(&S.counts[0]);
#endif
    setup_tlb();
    setup_dz();
    warm_up();

    for (int r = 0; r < S.reps; r++) {
        progress("rep %d of %d", r + 1, S.reps);
        rep_hot();
        rep_big();
        rep_count();
        rep_tlb();
        rep_dz();
    }

    print_machine();
    print_results('a', "(a) Hot 64 KB set: random 8-byte accesses in 16 pages", "ns/access", false);
    print_results('b', "(b) Random 8-byte accesses over a 64 MB allocation, every page touched first", "ns/access",
                  false);
    print_results('c', "(c) Reads with N allocations of 64 KB live", "ns/access", false);
    print_results('d', "(d) TLB miss and refill", "ns/access", false);
    print_results('e', "(e) Demand-zero fault: the first touch of a committed page", "ns/access", false);
    print_ratios();
    print_whole_run();
    return 0;
}
