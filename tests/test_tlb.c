/*
 * test_tlb.c - the software TLB changes nothing but speed. Black-box through vas.h only:
 *   - one seeded workload (reads, writes, fetches, protection changes, guard pages, commits,
 *     decommits, releases, translations, flushes and DEP changes) run with the TLB at its
 *     default size, at tiny sizes and disabled gives the same bytes, the same exceptions, the
 *     same translations and the same counters, step by step;
 *   - invalidation: no stale entry survives VirtualProtect, decommit, release, guard pages or a
 *     DEP change, also when pages share a slot of a tiny TLB;
 *   - vas_tlb_flush changes no behaviour; a bad tlb_entries makes vas_process_create fail.
 * Every test runs on every layout.
 */
#include "check.h"
#include "figures.h"

#define R VAS_EXCEPTION_READ_FAULT
#define W VAS_EXCEPTION_WRITE_FAULT
#define X VAS_EXCEPTION_EXECUTE_FAULT
#define AV VAS_STATUS_ACCESS_VIOLATION
#define GUARD_VIOLATION VAS_STATUS_GUARD_PAGE_VIOLATION

typedef struct lcase {
    const char *name;
    const char *layout;
    int bits;
    int dep;
} lcase;

static const lcase CASES[] = {
    {"x64", "x64", 0, 1},    {"x64-win7", "x64-win7", 0, 1}, {"x86", "x86", 0, 1},
    {"ia64", "ia64", 0, 1},  {"win9x", "win9x", 0, 0},       {"wow64", "x64", 32, 1},
};
#define NCASES (sizeof CASES / sizeof CASES[0])

/* The TLB sizes tried: the default, tiny ones, a middling one, and none. */
static const uint32_t SIZES[] = {0, 4, 1, 16, VAS_TLB_DISABLED};
#define NSIZES (sizeof SIZES / sizeof SIZES[0])

#define BASE 0x10000000ull

typedef struct env {
    vas_machine *m;
    vas_process *p;
    const lcase *c;
    uint64_t page;
    int dep;
} env;

static env env_open(const lcase *c, uint32_t tlb_entries)
{
    vas_machine_config mc;
    memset(&mc, 0, sizeof mc);
    mc.layout = c->layout;
    mc.ram_bytes = 32ull << 20;
    env e;
    memset(&e, 0, sizeof e);
    e.c = c;
    e.m = vas_machine_create(&mc);
    vas_process_config pc;
    memset(&pc, 0, sizeof pc);
    pc.bits = c->bits;
    pc.tlb_entries = tlb_entries;
    e.p = e.m ? vas_process_create(e.m, &pc) : NULL;
    if (!e.p) {
        fprintf(stderr, "test_tlb: cannot create a %s machine and process (error %u)\n", c->name, vas_last_error());
        exit(2);
    }
    vas_system_info si;
    vas_get_system_info(e.p, &si);
    e.page = si.page_size;
    e.dep = c->dep;
    return e;
}

static void env_close(env *e)
{
    CHECK_EQ(vas_check(e->m), 0);
    vas_machine_destroy(e->m);
}

static const char *size_name(uint32_t size, char *buf)
{
    if (size == VAS_TLB_DISABLED)
        return "disabled";
    snprintf(buf, 16, "%u", size);
    return buf;
}

/* Runs fn on every layout with every TLB size and names them when it failed. */
static void each_layout_and_size(void (*fn)(const lcase *, uint32_t))
{
    for (size_t i = 0; i < NCASES; i++) {
        for (size_t j = 0; j < NSIZES; j++) {
            int before = check_failures_in_test;
            fn(&CASES[i], SIZES[j]);
            char buf[16];
            if (check_failures_in_test != before)
                fprintf(stderr, "  (the failures above are on layout %s, TLB size %s)\n", CASES[i].name,
                        size_name(SIZES[j], buf));
        }
    }
}

static int counters_equal(const vas_process_counters *a, const vas_process_counters *b)
{
    return a->virtual_size == b->virtual_size && a->peak_virtual_size == b->peak_virtual_size &&
           a->commit_charge == b->commit_charge && a->peak_commit_charge == b->peak_commit_charge &&
           a->allocation_count == b->allocation_count && a->working_set_size == b->working_set_size &&
           a->peak_working_set_size == b->peak_working_set_size && a->page_fault_count == b->page_fault_count &&
           a->demand_zero_faults == b->demand_zero_faults && a->guard_page_faults == b->guard_page_faults &&
           a->access_violations == b->access_violations && a->page_table_pages == b->page_table_pages;
}

static vas_exception fresh_exception(void)
{
    vas_exception x = {0xDEADBEEFu, 0xDEADBEEFu, 0xDEADBEEFDEADBEEFull};
    return x;
}

#define CHECK_EXC(status, ex, code_, access_, address_)                                       \
    do {                                                                                      \
        CHECK_EQ((status), (code_));                                                          \
        CHECK_EQ((ex).code, (code_));                                                         \
        CHECK_EQ((ex).access, (access_));                                                     \
        CHECK_EQ((ex).address, (address_));                                                   \
    } while (0)

#define CHECK_OK(status, ex)                                                                  \
    do {                                                                                      \
        CHECK_EQ((status), 0);                                                                \
        CHECK_EQ((ex).code, 0);                                                               \
    } while (0)

static uint32_t fetch_code(const env *e) { return e->dep ? X : R; }

/* ---- The same workload, with and without the TLB ---------------------------------------- */

static uint64_t rng_state;
static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545F4914F6CDD1Dull;
}
static uint64_t below(uint64_t n) { return n ? rnd() % n : 0; }

static uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
    return h * 0x100000001B3ull;
}

static uint64_t mix_bytes(uint64_t h, const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001B3ull;
    return h;
}

static uint64_t mix_counters(uint64_t h, const vas_process_counters *c)
{
    uint64_t v[] = {c->virtual_size, c->peak_virtual_size, c->commit_charge, c->peak_commit_charge,
                    c->allocation_count, c->working_set_size, c->peak_working_set_size, c->page_fault_count,
                    c->demand_zero_faults, c->guard_page_faults, c->access_violations, c->page_table_pages};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        h = mix(h, v[i]);
    return h;
}

#define WORK_PAGES 64

static const uint32_t PROTS[] = {VAS_PAGE_NOACCESS, VAS_PAGE_READONLY, VAS_PAGE_READWRITE, VAS_PAGE_EXECUTE,
                                 VAS_PAGE_EXECUTE_READ, VAS_PAGE_EXECUTE_READWRITE, VAS_PAGE_READWRITE,
                                 VAS_PAGE_READWRITE, VAS_PAGE_READWRITE | VAS_PAGE_GUARD,
                                 VAS_PAGE_EXECUTE_READWRITE | VAS_PAGE_GUARD, VAS_PAGE_READONLY | VAS_PAGE_GUARD};

typedef struct run_result {
    uint64_t *trace;             /* one hash per step: everything the step observed */
    vas_process_counters final;
    uint64_t final_hash;         /* the bytes of every page at the end */
    uint64_t hits;               /* steps whose accesses succeeded */
} run_result;

/* A page index: mostly a small hot set, so the TLB hits; sometimes anywhere. */
static uint64_t hot_page(void) { return below(10) < 7 ? below(6) : below(WORK_PAGES); }

static void run_workload(const lcase *c, uint32_t tlb_entries, uint64_t seed, int steps, run_result *out)
{
    rng_state = seed * 0x9E3779B97F4A7C15ull + 7;
    env e = env_open(c, tlb_entries);
    vas_process *p = e.p;
    uint64_t pg = e.page, size = WORK_PAGES * pg;
    CHECK_EQ(vas_virtual_alloc(p, BASE, size, VAS_MEM_COMMIT | VAS_MEM_RESERVE, VAS_PAGE_READWRITE), BASE);
    uint8_t *buf = malloc(3 * pg);
    int is32 = vas_process_bits(p) == 32 && c->dep;
    for (int step = 0; step < steps; step++) {
        uint64_t h = mix(0, (uint64_t)step), op = below(1000);
        vas_exception x = fresh_exception();
        if (is32 && step == steps / 3)
            h = mix(h, (uint64_t)vas_set_process_dep_policy(p, 0));
        if (is32 && step == 2 * steps / 3)
            h = mix(h, (uint64_t)vas_set_process_dep_policy(p, VAS_PROCESS_DEP_ENABLE));
        if (op < 700) { /* an access: mostly small and inside one page */
            uint32_t kind = op < 350 ? R : op < 600 ? W : X;
            uint64_t r = below(100), n;
            if (r < 70)
                n = (uint64_t)1 << below(4);
            else if (r < 92)
                n = 1 + below(48);
            else
                n = 1 + below(2 * pg);
            uint64_t address = BASE + hot_page() * pg + below(pg);
            if (below(50) == 0)
                address = BASE - pg + below(size + 2 * pg); /* now and then across the ends */
            uint32_t status;
            if (kind == W) {
                for (uint64_t i = 0; i < n; i++)
                    buf[i] = (uint8_t)rnd();
                status = vas_write(p, address, buf, n, &x);
            } else {
                memset(buf, 0x5C, n);
                status = kind == R ? vas_read(p, address, buf, n, &x) : vas_execute(p, address, buf, n, &x);
                h = mix_bytes(h, buf, n);
            }
            h = mix(mix(mix(mix(h, status), x.code), status ? x.access : 0), status ? x.address : 0);
            out->hits += status == 0;
        } else if (op < 760) { /* protect */
            uint64_t first = hot_page(), count = 1 + below(4);
            uint32_t old = 0;
            int ok = vas_virtual_protect(p, BASE + first * pg, count * pg, PROTS[below(sizeof PROTS / sizeof PROTS[0])],
                                         &old);
            h = mix(mix(h, (uint64_t)ok), ok ? old : vas_last_error());
        } else if (op < 800) { /* commit */
            uint64_t first = hot_page(), count = 1 + below(4);
            uint32_t prot = PROTS[below(sizeof PROTS / sizeof PROTS[0])];
            h = mix(h, vas_virtual_alloc(p, BASE + first * pg, count * pg, VAS_MEM_COMMIT, prot));
        } else if (op < 830) { /* decommit */
            uint64_t first = hot_page(), count = 1 + below(3);
            h = mix(h, (uint64_t)vas_virtual_free(p, BASE + first * pg, count * pg, VAS_MEM_DECOMMIT));
        } else if (op < 900) { /* translate, and use the pointer at once */
            uint32_t kind = below(3) == 0 ? X : below(2) ? R : W;
            uint64_t address = BASE + hot_page() * pg + below(pg);
            vas_translation t;
            memset(&t, 0, sizeof t);
            uint32_t status = vas_translate(p, address, kind, &t, &x);
            h = mix(mix(mix(h, status), x.code), status ? x.address : 0);
            if (!status) {
                h = mix(mix(mix(mix(h, t.physical_address), t.protect), t.page_base), t.generation);
                uint64_t in_page = pg - (address & (pg - 1));
                h = mix_bytes(h, t.host, in_page < 8 ? in_page : 8);
                if (kind == W)
                    t.host[0] = (uint8_t)rnd();
            }
        } else if (op < 905) { /* flush (rarely: stale entries must get a chance to show) */
            vas_tlb_flush(p);
        } else if (op < 990) { /* query */
            vas_memory_basic_information m;
            memset(&m, 0, sizeof m);
            vas_virtual_query(p, BASE + below(WORK_PAGES) * pg, &m, sizeof m);
            h = mix(mix(mix(h, m.state), m.protect), m.region_size);
        } else if (op < 993) { /* release and allocate again */
            h = mix(h, (uint64_t)vas_virtual_free(p, BASE, 0, VAS_MEM_RELEASE));
            h = mix(h, vas_virtual_alloc(p, BASE, size, VAS_MEM_COMMIT | VAS_MEM_RESERVE, VAS_PAGE_READWRITE));
        } else { /* the generation, and the counters */
            vas_process_counters cn = counters(p);
            h = mix(mix_counters(h, &cn), vas_mapping_generation(p));
        }
        out->trace[step] = h;
    }
    out->final = counters(p);
    /* The bytes of every committed page, looked at under its protection. */
    uint64_t fh = 0;
    for (uint64_t i = 0; i < WORK_PAGES; i++) {
        vas_memory_basic_information m;
        memset(&m, 0, sizeof m);
        CHECK_EQ(vas_virtual_query(p, BASE + i * pg, &m, sizeof m), sizeof m);
        fh = mix(mix(fh, m.state), m.protect);
        if (m.state != VAS_MEM_COMMIT)
            continue;
        uint32_t old;
        CHECK(vas_virtual_protect(p, BASE + i * pg, pg, VAS_PAGE_READONLY, &old));
        CHECK_EQ(vas_read(p, BASE + i * pg, buf, pg, NULL), 0);
        fh = mix_bytes(fh, buf, pg);
    }
    out->final_hash = fh;
    free(buf);
    env_close(&e);
}

#ifdef NDEBUG
#define WORK_STEPS 40000
#else
#define WORK_STEPS 5000
#endif

static void test_same_workload_with_and_without_tlb(void)
{
    run_result ref, run;
    ref.trace = malloc(WORK_STEPS * sizeof *ref.trace);
    run.trace = malloc(WORK_STEPS * sizeof *run.trace);
    for (size_t i = 0; i < NCASES; i++) {
        const lcase *c = &CASES[i];
        uint64_t seed = 1000 + i;
        ref.hits = 0;
        run_workload(c, VAS_TLB_DISABLED, seed, WORK_STEPS, &ref);
        /* The workload is worth something: many successes and many faults. */
        CHECK(ref.hits > WORK_STEPS / 5);
        CHECK(ref.final.access_violations > WORK_STEPS / 100);
        CHECK(ref.final.guard_page_faults > 0);
        CHECK(ref.final.demand_zero_faults > 0);
        for (size_t j = 0; j + 1 < NSIZES; j++) {
            char name[16];
            run.hits = 0;
            run_workload(c, SIZES[j], seed, WORK_STEPS, &run);
            int step = 0;
            while (step < WORK_STEPS && run.trace[step] == ref.trace[step])
                step++;
            if (step < WORK_STEPS) {
                fprintf(stderr, "  layout %s, TLB size %s: differs from the TLB-less run at step %d\n", c->name,
                        size_name(SIZES[j], name), step);
                check_failures_in_test++;
            }
            if (!counters_equal(&run.final, &ref.final)) {
                fprintf(stderr, "  layout %s, TLB size %s: the counters differ\n", c->name, size_name(SIZES[j], name));
                check_failures_in_test++;
            }
            CHECK_EQ(run.final.page_fault_count, ref.final.page_fault_count);
            CHECK_EQ(run.final.demand_zero_faults, ref.final.demand_zero_faults);
            CHECK_EQ(run.final.access_violations, ref.final.access_violations);
            CHECK_EQ(run.final_hash, ref.final_hash);
            CHECK_EQ(run.hits, ref.hits);
        }
    }
    free(ref.trace);
    free(run.trace);
}

/* ---- Invalidation ------------------------------------------------------------------------ */

static uint64_t commit(env *e, uint64_t pages, uint32_t prot)
{
    uint64_t a = vas_virtual_alloc(e->p, 0, pages * e->page, VAS_MEM_COMMIT | VAS_MEM_RESERVE, prot);
    CHECK(a != 0);
    return a;
}

/* Reads and writes twice, so the second of each may come from the TLB. */
static void warm(env *e, uint64_t address, const uint8_t *data, size_t n)
{
    uint8_t buf[16];
    vas_exception x = fresh_exception();
    for (int i = 0; i < 2; i++) {
        CHECK_OK(vas_write(e->p, address, data, n, &x), x);
        memset(buf, 0xCC, sizeof buf);
        CHECK_OK(vas_read(e->p, address, buf, n, &x), x);
        CHECK(memcmp(buf, data, n) == 0);
    }
}

static void case_protect(const lcase *c, uint32_t tlb)
{
    env e = env_open(c, tlb);
    uint64_t pg = e.page, a = commit(&e, 4, VAS_PAGE_READWRITE);
    uint8_t data[8] = {1, 2, 3, 4, 5, 6, 7, 8}, other[8] = {9, 9, 9, 9, 9, 9, 9, 9}, buf[8];
    vas_exception x;
    uint32_t old;
    warm(&e, a + 0x10, data, 8);
    /* READONLY: the page written a moment ago refuses writes, of every width. */
    CHECK(vas_virtual_protect(e.p, a, pg, VAS_PAGE_READONLY, &old));
    CHECK_EQ(old, VAS_PAGE_READWRITE);
    for (size_t n = 1; n <= 8; n *= 2) {
        x = fresh_exception();
        CHECK_EXC(vas_write(e.p, a + 0x10, other, n, &x), x, AV, W, a + 0x10);
    }
    memset(buf, 0xCC, 8);
    CHECK_OK(vas_read(e.p, a + 0x10, buf, 8, &x), x);
    CHECK(memcmp(buf, data, 8) == 0);
    /* Back to READWRITE: writable again. */
    CHECK(vas_virtual_protect(e.p, a, pg, VAS_PAGE_READWRITE, &old));
    CHECK_EQ(old, VAS_PAGE_READONLY);
    warm(&e, a + 0x10, other, 8);
    /* NOACCESS: nothing gets through. */
    CHECK(vas_virtual_protect(e.p, a, pg, VAS_PAGE_NOACCESS, &old));
    x = fresh_exception();
    CHECK_EXC(vas_read(e.p, a + 0x10, buf, 4, &x), x, AV, R, a + 0x10);
    x = fresh_exception();
    CHECK_EXC(vas_write(e.p, a + 0x10, data, 4, &x), x, AV, W, a + 0x10);
    x = fresh_exception();
    CHECK_EXC(vas_execute(e.p, a + 0x10, buf, 4, &x), x, AV, fetch_code(&e), a + 0x10);
    /* EXECUTE_READWRITE, fetched from; then READWRITE: with DEP, no more fetches. */
    CHECK(vas_virtual_protect(e.p, a, pg, VAS_PAGE_EXECUTE_READWRITE, &old));
    CHECK_EQ(old, VAS_PAGE_NOACCESS);
    for (int i = 0; i < 2; i++) {
        memset(buf, 0xCC, 8);
        CHECK_OK(vas_execute(e.p, a + 0x10, buf, 8, &x), x);
        CHECK(memcmp(buf, other, 8) == 0);
    }
    CHECK(vas_virtual_protect(e.p, a, pg, VAS_PAGE_READWRITE, &old));
    x = fresh_exception();
    if (e.dep)
        CHECK_EXC(vas_execute(e.p, a + 0x10, buf, 8, &x), x, AV, X, a + 0x10);
    else
        CHECK_OK(vas_execute(e.p, a + 0x10, buf, 8, &x), x);
    /* A guard on a page the TLB knows: the guard fires once. */
    warm(&e, a + pg + 8, data, 8);
    CHECK(vas_virtual_protect(e.p, a + pg, pg, VAS_PAGE_READWRITE | VAS_PAGE_GUARD, &old));
    x = fresh_exception();
    memset(buf, 0xCC, 8);
    CHECK_EXC(vas_read(e.p, a + pg + 8, buf, 8, &x), x, GUARD_VIOLATION, R, a + pg + 8);
    CHECK_OK(vas_read(e.p, a + pg + 8, buf, 8, &x), x);
    CHECK(memcmp(buf, data, 8) == 0);
    /* Committing again over committed pages changes their protection too. */
    warm(&e, a + 2 * pg, data, 8);
    CHECK_EQ(vas_virtual_alloc(e.p, a + 2 * pg, pg, VAS_MEM_COMMIT, VAS_PAGE_READONLY), a + 2 * pg);
    x = fresh_exception();
    CHECK_EXC(vas_write(e.p, a + 2 * pg, other, 1, &x), x, AV, W, a + 2 * pg);
    CHECK_OK(vas_read(e.p, a + 2 * pg, buf, 8, &x), x);
    CHECK(memcmp(buf, data, 8) == 0); /* and keeps their bytes */
    /* A protection change over many pages (more than a tiny TLB has slots). */
    for (uint64_t i = 0; i < 4; i++) {
        CHECK(vas_virtual_protect(e.p, a + i * pg, pg, VAS_PAGE_READWRITE, &old));
        warm(&e, a + i * pg + 0x20, data, 8);
    }
    CHECK(vas_virtual_protect(e.p, a, 4 * pg, VAS_PAGE_READONLY, &old));
    for (uint64_t i = 0; i < 4; i++) {
        x = fresh_exception();
        CHECK_EXC(vas_write(e.p, a + i * pg + 0x20, other, 8, &x), x, AV, W, a + i * pg + 0x20);
    }
    env_close(&e);
}
static void test_protect_invalidates(void) { each_layout_and_size(case_protect); }

static void case_decommit_release(const lcase *c, uint32_t tlb)
{
    env e = env_open(c, tlb);
    uint64_t pg = e.page, a = commit(&e, 3, VAS_PAGE_EXECUTE_READWRITE);
    uint8_t data[8] = {1, 2, 3, 4, 5, 6, 7, 8}, buf[8];
    vas_exception x;
    warm(&e, a + pg + 4, data, 8);
    CHECK_OK(vas_execute(e.p, a + pg + 4, buf, 8, &x), x);
    /* Decommitted: every kind of access faults. */
    CHECK(vas_virtual_free(e.p, a + pg, pg, VAS_MEM_DECOMMIT));
    x = fresh_exception();
    CHECK_EXC(vas_read(e.p, a + pg + 4, buf, 8, &x), x, AV, R, a + pg + 4);
    x = fresh_exception();
    CHECK_EXC(vas_write(e.p, a + pg + 4, data, 8, &x), x, AV, W, a + pg + 4);
    x = fresh_exception();
    CHECK_EXC(vas_execute(e.p, a + pg + 4, buf, 8, &x), x, AV, fetch_code(&e), a + pg + 4);
    /* Committed again: zero. */
    CHECK_EQ(vas_virtual_alloc(e.p, a + pg, pg, VAS_MEM_COMMIT, VAS_PAGE_READWRITE), a + pg);
    memset(buf, 0xCC, 8);
    CHECK_OK(vas_read(e.p, a + pg + 4, buf, 8, &x), x);
    for (int i = 0; i < 8; i++)
        CHECK_EQ(buf[i], 0);
    warm(&e, a + pg + 4, data, 8);
    /* Released: faults; allocated again at the same address: zero. */
    warm(&e, a + 2 * pg, data, 8);
    CHECK(vas_virtual_free(e.p, a, 0, VAS_MEM_RELEASE));
    for (uint64_t i = 0; i < 3; i++) {
        x = fresh_exception();
        CHECK_EXC(vas_read(e.p, a + i * pg + 4, buf, 4, &x), x, AV, R, a + i * pg + 4);
        x = fresh_exception();
        CHECK_EXC(vas_write(e.p, a + i * pg + 4, data, 4, &x), x, AV, W, a + i * pg + 4);
    }
    CHECK_EQ(vas_virtual_alloc(e.p, a, 3 * pg, VAS_MEM_COMMIT | VAS_MEM_RESERVE, VAS_PAGE_READWRITE), a);
    for (uint64_t i = 0; i < 3; i++) {
        memset(buf, 0xCC, 8);
        CHECK_OK(vas_read(e.p, a + i * pg + 4, buf, 8, &x), x);
        for (int k = 0; k < 8; k++)
            CHECK_EQ(buf[k], 0);
    }
    env_close(&e);
}
static void test_decommit_and_release_invalidate(void) { each_layout_and_size(case_decommit_release); }

/* DEP turned off, then on for good: fetches follow at once. */
static void case_dep(const lcase *c, uint32_t tlb)
{
    env e = env_open(c, tlb);
    if (vas_process_bits(e.p) != 32 || !c->dep) {
        env_close(&e);
        return;
    }
    uint64_t a = commit(&e, 1, VAS_PAGE_READWRITE);
    uint8_t data[4] = {0x90, 0x90, 0x90, 0xC3}, buf[4];
    vas_exception x;
    warm(&e, a, data, 4);
    x = fresh_exception();
    CHECK_EXC(vas_execute(e.p, a, buf, 4, &x), x, AV, X, a);
    CHECK(vas_set_process_dep_policy(e.p, 0));
    for (int i = 0; i < 2; i++) {
        memset(buf, 0, 4);
        CHECK_OK(vas_execute(e.p, a, buf, 4, &x), x);
        CHECK(memcmp(buf, data, 4) == 0);
    }
    CHECK(vas_set_process_dep_policy(e.p, VAS_PROCESS_DEP_ENABLE));
    x = fresh_exception();
    CHECK_EXC(vas_execute(e.p, a, buf, 4, &x), x, AV, X, a);
    x = fresh_exception();
    CHECK_EXC(vas_execute(e.p, a + 1, buf, 1, &x), x, AV, X, a + 1);
    env_close(&e);
}
static void test_dep_change_invalidates(void) { each_layout_and_size(case_dep); }

/* Pages that share a slot of a tiny TLB (pages 0, 4, 8 with 4 entries; every page with 1). */
static void case_aliasing(const lcase *c, uint32_t tlb)
{
    env e = env_open(c, tlb);
    uint64_t pg = e.page, a = commit(&e, 9, VAS_PAGE_READWRITE);
    uint8_t d0[8] = {0, 0, 0, 0, 0, 0, 0, 1}, d4[8] = {4, 4, 4, 4, 4, 4, 4, 4}, d8[8] = {8, 8, 8, 8, 8, 8, 8, 8};
    uint8_t buf[8];
    vas_exception x;
    uint32_t old;
    for (int round = 0; round < 3; round++) {
        warm(&e, a, d0, 8);
        warm(&e, a + 4 * pg, d4, 8);
        warm(&e, a + 8 * pg, d8, 8);
        CHECK_OK(vas_read(e.p, a, buf, 8, &x), x);
        CHECK(memcmp(buf, d0, 8) == 0);
        CHECK_OK(vas_read(e.p, a + 4 * pg, buf, 8, &x), x);
        CHECK(memcmp(buf, d4, 8) == 0);
    }
    /* Page 0 read-only while page 4 holds the slot, and while page 0 holds it. */
    CHECK(vas_virtual_protect(e.p, a, pg, VAS_PAGE_READONLY, &old));
    x = fresh_exception();
    CHECK_EXC(vas_write(e.p, a, d4, 8, &x), x, AV, W, a);
    CHECK_OK(vas_read(e.p, a, buf, 8, &x), x); /* page 0 takes the slot */
    x = fresh_exception();
    CHECK_EXC(vas_write(e.p, a, d4, 8, &x), x, AV, W, a);
    CHECK_OK(vas_write(e.p, a + 4 * pg, d8, 8, &x), x); /* page 4 takes it, writably */
    x = fresh_exception();
    CHECK_EXC(vas_write(e.p, a + 1, d4, 1, &x), x, AV, W, a + 1);
    CHECK_OK(vas_read(e.p, a + 4 * pg, buf, 8, &x), x);
    CHECK(memcmp(buf, d8, 8) == 0);
    /* Page 4 decommitted while page 8 holds the slot. */
    CHECK_OK(vas_read(e.p, a + 8 * pg, buf, 8, &x), x);
    CHECK(vas_virtual_free(e.p, a + 4 * pg, pg, VAS_MEM_DECOMMIT));
    x = fresh_exception();
    CHECK_EXC(vas_read(e.p, a + 4 * pg, buf, 8, &x), x, AV, R, a + 4 * pg);
    CHECK_OK(vas_read(e.p, a + 8 * pg, buf, 8, &x), x);
    CHECK(memcmp(buf, d8, 8) == 0);
    CHECK_OK(vas_read(e.p, a, buf, 8, &x), x);
    CHECK(memcmp(buf, d0, 8) == 0);
    env_close(&e);
}
static void test_slot_sharing(void) { each_layout_and_size(case_aliasing); }

/* Two processes with TLBs, one address: each sees its own bytes. */
static void case_two_processes(const lcase *c, uint32_t tlb)
{
    env e = env_open(c, tlb);
    vas_process_config pc;
    memset(&pc, 0, sizeof pc);
    pc.bits = c->bits;
    pc.tlb_entries = tlb;
    vas_process *q = vas_process_create(e.m, &pc);
    CHECK(q != NULL);
    uint64_t pg = e.page;
    CHECK_EQ(vas_virtual_alloc(e.p, BASE, pg, VAS_MEM_COMMIT | VAS_MEM_RESERVE, VAS_PAGE_READWRITE), BASE);
    CHECK_EQ(vas_virtual_alloc(q, BASE, pg, VAS_MEM_COMMIT | VAS_MEM_RESERVE, VAS_PAGE_READONLY), BASE);
    uint8_t data[8] = {7, 7, 7, 7, 7, 7, 7, 7}, buf[8];
    vas_exception x;
    warm(&e, BASE, data, 8);
    memset(buf, 0xCC, 8);
    CHECK_OK(vas_read(q, BASE, buf, 8, &x), x);
    for (int i = 0; i < 8; i++)
        CHECK_EQ(buf[i], 0);
    x = fresh_exception();
    CHECK_EXC(vas_write(q, BASE, data, 8, &x), x, AV, W, BASE);
    CHECK_OK(vas_read(e.p, BASE, buf, 8, &x), x);
    CHECK(memcmp(buf, data, 8) == 0);
    env_close(&e);
}
static void test_each_process_has_its_own_tlb(void) { each_layout_and_size(case_two_processes); }

/* The first page of the address space (the NULL partition) never hits the TLB, whatever the
   TLB holds: an empty slot must not pass for page 0. */
static void case_page_zero(const lcase *c, uint32_t tlb)
{
    env e = env_open(c, tlb);
    uint64_t a = commit(&e, 1, VAS_PAGE_EXECUTE_READWRITE);
    uint8_t data[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    warm(&e, a, data, 8); /* a filled slot somewhere */
    static const uint64_t spots[] = {0, 1, 8, 0x10, 0x7F8, 0xFF8, 0xFFF};
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < sizeof spots / sizeof spots[0]; i++) {
            for (uint32_t kind = 0; kind < 3; kind++) {
                uint32_t k = kind == 2 ? X : kind;
                uint8_t buf[8];
                memset(buf, 0xCC, 8);
                vas_exception x = fresh_exception();
                size_t n = spots[i] == 0xFFF ? 1 : 8;
                uint32_t s = k == W ? vas_write(e.p, spots[i], data, n, &x)
                             : k == R ? vas_read(e.p, spots[i], buf, n, &x) : vas_execute(e.p, spots[i], buf, n, &x);
                CHECK_EXC(s, x, AV, k == X ? fetch_code(&e) : k, spots[i]);
                for (int j = 0; j < 8; j++)
                    CHECK_EQ(buf[j], 0xCC);
            }
        }
        vas_tlb_flush(e.p); /* and with every slot emptied */
    }
    env_close(&e);
}
static void test_page_zero_never_hits(void) { each_layout_and_size(case_page_zero); }

/* ---- vas_tlb_flush ---------------------------------------------------------------------------- */

static void case_flush(const lcase *c, uint32_t tlb)
{
    env e = env_open(c, tlb);
    uint64_t pg = e.page, a = commit(&e, 8, VAS_PAGE_READWRITE);
    uint8_t *img = malloc(8 * pg), *buf = malloc(8 * pg);
    for (uint64_t i = 0; i < 8 * pg; i++)
        img[i] = (uint8_t)(i * 13 + 1);
    vas_exception x;
    CHECK_OK(vas_write(e.p, a, img, 8 * pg, &x), x);
    uint32_t old;
    CHECK(vas_virtual_protect(e.p, a + 7 * pg, pg, VAS_PAGE_READONLY, &old));
    for (uint64_t i = 0; i < 8; i++)
        CHECK_OK(vas_read(e.p, a + i * pg, buf, 8, &x), x);
    vas_process_counters before = counters(e.p);
    for (int round = 0; round < 3; round++) {
        vas_tlb_flush(e.p);
        memset(buf, 0xCC, 8 * pg);
        CHECK_OK(vas_read(e.p, a, buf, 8 * pg, &x), x);
        CHECK(memcmp(buf, img, 8 * pg) == 0);
        for (uint64_t i = 0; i < 8; i++) { /* small accesses: the fast path, when there is one */
            uint64_t v = 0, want;
            memcpy(&want, img + i * pg + 16, 8);
            CHECK_OK(vas_read(e.p, a + i * pg + 16, &v, 8, &x), x);
            CHECK_EQ(v, want);
        }
        x = fresh_exception();
        CHECK_EXC(vas_write(e.p, a + 7 * pg + 3, img, 2, &x), x, AV, W, a + 7 * pg + 3);
        CHECK_OK(vas_write(e.p, a + 6 * pg + 3, img + 6 * pg + 3, 2, &x), x);
    }
    /* A flush faults nothing in again: the counters moved only by the one refused write per
       round. */
    vas_process_counters after = counters(e.p);
    CHECK_EQ(after.demand_zero_faults, before.demand_zero_faults);
    CHECK_EQ(after.page_fault_count, before.page_fault_count + 3);
    CHECK_EQ(after.access_violations, before.access_violations + 3);
    CHECK_EQ(after.working_set_size, before.working_set_size);
    /* A flush of no process, or of a destroyed one, is harmless. */
    vas_tlb_flush(NULL);
    vas_process *q = vas_process_create(e.m, NULL);
    CHECK(q != NULL);
    vas_process_destroy(q);
    vas_tlb_flush(q);
    free(img);
    free(buf);
    env_close(&e);
}
static void test_flush_changes_no_behaviour(void) { each_layout_and_size(case_flush); }

/* ---- Configuration ---------------------------------------------------------------------------- */

static void test_bad_tlb_sizes(void)
{
    vas_machine *m = vas_machine_create(NULL);
    CHECK(m != NULL);
    static const uint32_t bad[] = {3, 5, 6, 12, 1000, 1023, 1025, (1u << 20) + 1, 1u << 21, 0x80000000u,
                                   VAS_TLB_DISABLED - 1};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        vas_process_config pc;
        memset(&pc, 0, sizeof pc);
        pc.tlb_entries = bad[i];
        CHECK_FAILS(vas_process_create(m, &pc), VAS_ERROR_INVALID_PARAMETER);
    }
    vas_memory_status s;
    vas_global_memory_status(m, &s);
    CHECK_EQ(s.process_count, 0);
    vas_physical_status ps;
    vas_get_physical_status(m, &ps);
    CHECK_EQ(ps.active, 0); /* a failed creation keeps no page table */
    static const uint32_t good[] = {0, 1, 2, 4, 64, 1024, 1u << 20, VAS_TLB_DISABLED};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        vas_process_config pc;
        memset(&pc, 0, sizeof pc);
        pc.tlb_entries = good[i];
        vas_process *p = vas_process_create(m, &pc);
        CHECK(p != NULL);
        if (!p)
            continue;
        uint64_t a = vas_virtual_alloc(p, 0, 0x1000, VAS_MEM_COMMIT | VAS_MEM_RESERVE, VAS_PAGE_READWRITE);
        uint32_t v = 0x12345678, r = 0;
        CHECK_EQ(vas_write(p, a, &v, 4, NULL), 0);
        CHECK_EQ(vas_read(p, a, &r, 4, NULL), 0);
        CHECK_EQ(r, v);
        vas_process_destroy(p);
    }
    CHECK_EQ(vas_check(m), 0);
    vas_machine_destroy(m);
}

static const check_test tests[] = {
    TEST(test_same_workload_with_and_without_tlb),
    TEST(test_protect_invalidates),
    TEST(test_decommit_and_release_invalidate),
    TEST(test_dep_change_invalidates),
    TEST(test_slot_sharing),
    TEST(test_each_process_has_its_own_tlb),
    TEST(test_page_zero_never_hits),
    TEST(test_flush_changes_no_behaviour),
    TEST(test_bad_tlb_sizes),
};

CHECK_MAIN(tests)
