/*
 * test_pressure.c - the paging issue's integrity test, and the same scenario under fault
 * injection. Black-box: vas.h only.
 *
 *   test_pressure [full|small [test]]   small: a smaller machine and a shorter sweep (debug
 *                                        builds, where every call runs the checker)
 *
 * The scenario: four processes on a machine with little RAM each commit twice the RAM and
 * write their own pattern over all of it (in chunks that straddle pages, the processes taking
 * turns), overwrite every third page in part, going backwards, then read everything back in
 * another order (other processes first, other chunk sizes, a stride through the chunks). A
 * shadow copy of each process's memory says what every byte must be: a write that succeeds
 * updates it, a write that fails must have changed nothing, every byte read must match it.
 *
 * integrity: the scenario as is, for every replacement policy and on the x86, ia64 (8 KB pages)
 * and Windows 95/98 layouts, with vas_check() after every access: every byte identical, hard
 * faults happened, no exception at all.
 *
 * sweeps: the paging file is a store in memory that fails the Nth read (or write), once or from
 * then on, for N = 1, 2, 3, ... up to a bound and then powers of two, until the scenario no
 * longer reaches N. The only exceptions accepted are STATUS_IN_PAGE_ERROR (a failed read: the
 * access is tried again, up to 3 times) and STATUS_NO_MEMORY (writes failing for good: dirty
 * pages cannot leave RAM); a failed access names an address inside itself, and a failed read
 * fills nothing. Every byte that was read must be right, and vas_check() must hold.
 */
#include "check.h"

#include <stdbool.h>

#define MiB (1ull << 20)
#define PROCESSES 4
#define RETRIES 3

static bool small_run;

#include "memstore.h"


/* ---- The scenario ---------------------------------------------------------------------------- */

typedef struct scenario {
    const char *layout;       /* NULL: x64 */
    uint64_t ram;
    uint32_t policy;
    mem_store *store;         /* NULL: a temporary host file */
    uint64_t check_every;     /* vas_check() after every this many accesses */
} scenario;

typedef struct outcome {
    uint64_t accesses;
    uint64_t bytes_checked, wrong_bytes;
    uint64_t in_page_errors, no_memory;      /* exceptions seen (each try) */
    uint64_t gave_up;                        /* accesses left undone */
    uint64_t unexpected;                     /* any other result, or a bad exception record */
    uint64_t filled_on_failure;              /* failed reads that moved bytes */
    uint64_t check_failures;
    uint64_t hard_faults, soft_faults, library_in_page_errors;
} outcome;

typedef struct context {
    const scenario *sc;
    outcome *out;
    vas_machine *m;
    vas_process *p[PROCESSES];
    uint64_t base[PROCESSES];
    uint64_t region;          /* bytes per process */
    uint8_t *shadow[PROCESSES];
    uint8_t *buffer;
    size_t buffer_size;
    int reported;
} context;

static uint8_t pattern_byte(int k, uint64_t generation, uint64_t offset)
{
    uint64_t x = (offset >> 3) * 0x9E3779B97F4A7C15ull ^ ((uint64_t)k + 1) * 0xD1B54A32D192ED03ull ^
                 generation * 0xA24BAED4963EE407ull;
    x ^= x >> 31;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 29;
    return (uint8_t)(x >> (8 * (offset & 7)));
}

static void say(context *c, const char *what, int k, uint64_t offset, uint64_t a, uint64_t b)
{
    if (c->reported++ < 8)
        fprintf(stderr, "test_pressure: %s (process %d, offset %#llx: %#llx, %#llx)\n", what, k,
                (unsigned long long)offset, (unsigned long long)a, (unsigned long long)b);
}

/* One access, tried again after an in-page error; the shadow follows the writes that succeed. */
static void step(context *c, int k, uint64_t offset, size_t size, bool write, uint64_t generation)
{
    outcome *o = c->out;
    uint64_t va = c->base[k] + offset;
    uint8_t *want = c->shadow[k] + offset;
    if (write)
        for (size_t i = 0; i < size; i++)
            c->buffer[i] = pattern_byte(k, generation, offset + i);
    bool done = false;
    for (int attempt = 0; attempt <= RETRIES && !done; attempt++) {
        if (!write)
            memset(c->buffer, 0xCC, size);
        vas_exception e = {0, 0, 0};
        uint32_t status = write ? vas_write(c->p[k], va, c->buffer, size, &e) : vas_read(c->p[k], va, c->buffer, size, &e);
        o->accesses++;
        if (status == VAS_STATUS_SUCCESS) {
            done = true;
            if (write) {
                memcpy(want, c->buffer, size);
            } else {
                uint64_t wrong = 0;
                for (size_t i = 0; i < size; i++)
                    if (c->buffer[i] != want[i] && wrong++ == 0)
                        say(c, "a byte read back wrong", k, offset + i, c->buffer[i], want[i]);
                o->wrong_bytes += wrong;
                o->bytes_checked += size;
            }
            break;
        }
        if (status != VAS_STATUS_IN_PAGE_ERROR && status != VAS_STATUS_NO_MEMORY) {
            say(c, "an unexpected result", k, offset, status, e.address);
            o->unexpected++;
            break;
        }
        if (e.code != status || e.address < va || e.address >= va + size ||
            e.access != (write ? VAS_EXCEPTION_WRITE_FAULT : VAS_EXCEPTION_READ_FAULT)) {
            say(c, "a bad exception record", k, offset, e.code, e.address);
            o->unexpected++;
        }
        if (!write) {
            for (size_t i = 0; i < size; i++)
                if (c->buffer[i] != 0xCC) {
                    say(c, "a failed read filled bytes", k, offset + i, c->buffer[i], 0xCC);
                    o->filled_on_failure++;
                    break;
                }
        }
        if (status == VAS_STATUS_NO_MEMORY) {
            o->no_memory++;
            break; /* writes fail for good: the dirty pages have nowhere to go */
        }
        o->in_page_errors++;
    }
    o->gave_up += !done;
    if (c->sc->check_every && o->accesses % c->sc->check_every == 0 && vas_check(c->m) != 0) {
        say(c, "vas_check failed", k, offset, o->accesses, 0);
        o->check_failures++;
    }
}

static uint64_t gcd(uint64_t a, uint64_t b)
{
    while (b) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* Runs the scenario; false if the machine could not even be set up. */
static bool run(const scenario *sc, outcome *o)
{
    memset(o, 0, sizeof *o);
    context c = {0};
    c.sc = sc;
    c.out = o;
    vas_machine_config mc = {0};
    mc.layout = sc->layout;
    mc.ram_bytes = sc->ram;
    mc.pagefile_bytes = 10 * sc->ram;
    mc.replacement_policy = sc->policy;
    if (sc->store) {
        mc.pagefile_ops = &store_ops;
        mc.pagefile_file = sc->store;
    }
    c.m = vas_machine_create(&mc);
    if (!c.m) {
        fprintf(stderr, "test_pressure: cannot create the machine (error %u)\n", vas_last_error());
        return false;
    }
    vas_machine_info mi;
    vas_get_machine_info(c.m, &mi);
    uint64_t page = mi.page_size;
    c.region = 2 * sc->ram;
    c.buffer_size = 2 * page;
    c.buffer = malloc(c.buffer_size);
    bool ok = c.buffer != NULL;
    for (int k = 0; k < PROCESSES && ok; k++) {
        c.p[k] = vas_process_create(c.m, NULL);
        c.shadow[k] = calloc(1, c.region); /* committed memory reads as zero */
        c.base[k] = c.p[k] ? vas_virtual_alloc(c.p[k], 0, c.region, VAS_MEM_COMMIT | VAS_MEM_RESERVE,
                                               VAS_PAGE_READWRITE) : 0;
        ok = c.shadow[k] && c.base[k];
    }
    if (!ok) {
        fprintf(stderr, "test_pressure: cannot set the processes up (error %u)\n", vas_last_error());
    } else {
        /* 1. Every process writes all of its region, in chunks straddling pages, taking turns. */
        uint64_t chunk = page + page / 4;
        for (uint64_t at = 0; at < c.region; at += chunk)
            for (int k = 0; k < PROCESSES; k++)
                step(&c, k, at, (size_t)(c.region - at < chunk ? c.region - at : chunk), true, 1);
        /* 2. Every third page is partly overwritten, backwards, the last process first. */
        for (int k = PROCESSES - 1; k >= 0; k--)
            for (uint64_t pg = c.region / page; pg-- > 0;)
                if (pg % 3 == 0)
                    step(&c, k, pg * page + 1000, 256, true, 2);
        /* 3. Everything is read back: other processes first, 3000-byte chunks in a stride. */
        static const int order[PROCESSES] = {2, 0, 3, 1};
        uint64_t size = 3000, chunks = (c.region + size - 1) / size, stride = chunks / 3 + 1;
        while (gcd(stride, chunks) != 1)
            stride++;
        for (int j = 0; j < PROCESSES; j++)
            for (uint64_t i = 0; i < chunks; i++) {
                uint64_t at = (i * stride % chunks) * size;
                step(&c, order[j], at, (size_t)(c.region - at < size ? c.region - at : size), false, 0);
            }
        for (int k = 0; k < PROCESSES; k++) {
            vas_process_counters pc;
            if (vas_process_get_counters(c.p[k], &pc)) {
                o->hard_faults += pc.hard_faults;
                o->soft_faults += pc.soft_faults;
                o->library_in_page_errors += pc.in_page_errors;
            }
        }
        if (vas_check(c.m) != 0)
            o->check_failures++;
    }
    vas_machine_destroy(c.m);
    for (int k = 0; k < PROCESSES; k++)
        free(c.shadow[k]);
    free(c.buffer);
    return ok;
}

/* ---- The integrity test ------------------------------------------------------------------ */

static uint64_t integrity_ram(void) { return small_run ? 512 * 1024 : 2 * MiB; }

static void integrity_one(const char *layout, uint32_t policy, bool in_memory)
{
    mem_store store = {0};
    scenario sc = {layout, integrity_ram(), policy, NULL, 1};
    if (in_memory) {
        store.size = 10 * sc.ram;
        store.bytes = calloc(1, store.size);
        sc.store = &store;
    }
    outcome o;
    CHECK(run(&sc, &o));
    CHECK_EQ(o.bytes_checked, PROCESSES * 2 * sc.ram); /* every byte read back ... */
    CHECK_EQ(o.wrong_bytes, 0);                        /* ... identical */
    CHECK(o.hard_faults > 0);
    CHECK_EQ(o.in_page_errors + o.no_memory + o.gave_up + o.unexpected, 0);
    CHECK_EQ(o.check_failures, 0);
    CHECK_EQ(store.out_of_range, 0);
    if (check_failures_in_test)
        fprintf(stderr, "test_pressure: integrity failed on %s, policy %u%s\n", layout ? layout : "x64", policy,
                in_memory ? ", paging file in memory" : "");
    free(store.bytes);
}

static void integrity(void)
{
    for (uint32_t policy = VAS_REPLACE_WS_AGING; policy <= VAS_REPLACE_LRU; policy++)
        integrity_one(NULL, policy, false);
    integrity_one(NULL, VAS_REPLACE_WS_AGING, true);
    integrity_one("x86", VAS_REPLACE_WS_AGING, false);
    integrity_one("ia64", VAS_REPLACE_CLOCK, false);
    integrity_one("win9x", VAS_REPLACE_FIFO, false);
}

/* ---- The fault-injection sweeps ------------------------------------------------------------ */

static uint64_t sweep_ram(void) { return small_run ? 256 * 1024 : 512 * 1024; }
static uint64_t sweep_dense(void) { return small_run ? 16 : 64; } /* every N up to this, then 2^k */

static void sweep(bool reads, bool persistent)
{
    const char *what = reads ? "read" : "write";
    mem_store store;
    scenario sc = {NULL, sweep_ram(), VAS_REPLACE_WS_AGING, &store, small_run ? 256 : 64};
    uint64_t size = 10 * sc.ram;
    uint8_t *bytes = malloc(size);
    outcome o;

    /* The scenario without failures says how many I/Os there are. */
    store = (mem_store){.bytes = bytes, .size = size};
    memset(bytes, 0, size);
    CHECK(run(&sc, &o));
    uint64_t baseline = reads ? store.reads : store.writes;
    CHECK(baseline > 0);
    CHECK_EQ(o.wrong_bytes + o.in_page_errors + o.no_memory + o.gave_up + o.unexpected + o.check_failures, 0);

    uint64_t runs = 0, n = 1, failed_runs = 0;
    for (;; n = n < sweep_dense() ? n + 1 : n * 2) {
        store = (mem_store){.bytes = bytes, .size = size, .fail_read = reads ? n : 0, .fail_write = reads ? 0 : n,
                             .persistent = persistent};
        memset(bytes, 0, size);
        int failures_before = check_failures_in_test;
        CHECK(run(&sc, &o));
        runs++;
        uint64_t seen = reads ? store.reads : store.writes;
        uint64_t injected = reads ? store.read_failures : store.write_failures;
        CHECK_EQ(o.wrong_bytes, 0);
        CHECK_EQ(o.unexpected, 0);
        CHECK_EQ(o.filled_on_failure, 0);
        CHECK_EQ(o.check_failures, 0);
        CHECK_EQ(store.out_of_range, 0);
        CHECK(o.bytes_checked > 0);
        if (reads) {
            /* Every failed read is an in-page error of some access, never a lost byte. */
            CHECK_EQ(o.library_in_page_errors, injected);
            CHECK(o.in_page_errors >= injected);
            CHECK_EQ(o.no_memory, 0);
        } else {
            CHECK_EQ(o.in_page_errors, 0);
        }
        if (!persistent) { /* one failure: a retry, or the writer's next round, gets over it */
            CHECK_EQ(o.gave_up, 0);
            CHECK_EQ(o.no_memory, 0);
            CHECK_EQ(o.bytes_checked, PROCESSES * 2 * sc.ram);
        }
        if (check_failures_in_test != failures_before) {
            fprintf(stderr, "test_pressure: failing the %s number %llu%s went wrong\n", what,
                    (unsigned long long)n, persistent ? " and every one after it" : "");
            failed_runs++;
        }
        if (seen < n) { /* the scenario completed without reaching N */
            CHECK_EQ(injected, 0);
            break;
        }
        CHECK(injected >= 1);
        if (failed_runs >= 3)
            break;
    }
    CHECK(n > baseline);
    printf("sweep of %ss failing %s: %llu I/Os without failures, %llu runs, up to N = %llu\n", what,
           persistent ? "from N on" : "once", (unsigned long long)baseline, (unsigned long long)runs,
           (unsigned long long)n);
    free(bytes);
}

static void sweep_reads_once(void) { sweep(true, false); }
static void sweep_reads_persistent(void) { sweep(true, true); }
static void sweep_writes_once(void) { sweep(false, false); }
static void sweep_writes_persistent(void) { sweep(false, true); }

static const check_test tests[] = {
    TEST(integrity),
    TEST(sweep_reads_once),
    TEST(sweep_reads_persistent),
    TEST(sweep_writes_once),
    TEST(sweep_writes_persistent),
};

int main(int argc, char **argv)
{
    /* test_pressure [full|small [test]] */
    if (argc > 1 && (strcmp(argv[1], "small") == 0 || strcmp(argv[1], "full") == 0)) {
        small_run = strcmp(argv[1], "small") == 0;
        argc--;
        argv++;
    }
    return check_run(tests, sizeof tests / sizeof tests[0], argc, argv);
}
