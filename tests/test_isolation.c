/*
 * test_isolation.c - processes do not share memory, and frames are conserved. Black-box
 * through vas.h only:
 *   - the same virtual address in two processes reaches two frames, and a write in one never
 *     shows in the other;
 *   - a seeded random property test: three processes make random writes, reads, fetches,
 *     commits, decommits, protection changes, queries and translations over the same few MB
 *     of address space, each checked against a shadow copy of that process's memory (the
 *     expected bytes and the expected exception, guard pages included);
 *   - frame conservation: destroying a process returns every frame and table page it held,
 *     and with every process gone all frames but frame 0 are zeroed or free again.
 * Every test runs on every layout.
 */
#include "check.h"
#include "figures.h"

#define R VAS_EXCEPTION_READ_FAULT
#define W VAS_EXCEPTION_WRITE_FAULT
#define X VAS_EXCEPTION_EXECUTE_FAULT
#define AV VAS_STATUS_ACCESS_VIOLATION

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

#define RAM (64ull << 20)

static vas_machine *new_machine_ram(const lcase *c, uint64_t ram)
{
    vas_machine_config mc;
    memset(&mc, 0, sizeof mc);
    mc.layout = c->layout;
    mc.ram_bytes = ram;
    vas_machine *m = vas_machine_create(&mc);
    if (!m) {
        fprintf(stderr, "test_isolation: cannot create a %s machine (error %u)\n", c->name, vas_last_error());
        exit(2);
    }
    return m;
}

static vas_machine *new_machine(const lcase *c) { return new_machine_ram(c, RAM); }

static vas_process *new_process(vas_machine *m, const lcase *c)
{
    vas_process_config pc;
    memset(&pc, 0, sizeof pc);
    pc.bits = c->bits;
    vas_process *p = vas_process_create(m, &pc);
    if (!p) {
        fprintf(stderr, "test_isolation: cannot create a %s process (error %u)\n", c->name, vas_last_error());
        exit(2);
    }
    return p;
}

static uint32_t page_size_of(vas_process *p)
{
    vas_system_info si;
    vas_get_system_info(p, &si);
    return si.page_size;
}

static vas_physical_status phys(vas_machine *m)
{
    vas_physical_status s;
    memset(&s, 0xEE, sizeof s);
    vas_get_physical_status(m, &s);
    return s;
}

/* Frames a process holds: its resident pages and its page tables. */
static uint64_t frames_of(vas_process *p)
{
    vas_process_counters c = counters(p);
    return c.working_set_size / page_size_of(p) + c.page_table_pages;
}

static uint32_t do_access(vas_process *p, uint32_t kind, uint64_t address, void *buf, size_t size,
                          vas_exception *ex)
{
    if (kind == W)
        return vas_write(p, address, buf, size, ex);
    if (kind == X)
        return vas_execute(p, address, buf, size, ex);
    return vas_read(p, address, buf, size, ex);
}

/* ---- Two processes, one address --------------------------------------------------------- */

static void case_same_address(const lcase *c)
{
    vas_machine *m = new_machine(c);
    vas_process *p = new_process(m, c), *q = new_process(m, c);
    uint64_t pg = page_size_of(p);
    const uint64_t base = 0x10000000;
    CHECK_EQ(vas_virtual_alloc(p, base, 4 * pg, VAS_MEM_COMMIT | VAS_MEM_RESERVE, VAS_PAGE_READWRITE), base);
    CHECK_EQ(vas_virtual_alloc(q, base, 4 * pg, VAS_MEM_COMMIT | VAS_MEM_RESERVE, VAS_PAGE_READWRITE), base);
    uint8_t one[16], two[16], buf[16];
    memset(one, 0x11, 16);
    memset(two, 0x22, 16);
    vas_exception x;
    CHECK_EQ(vas_write(p, base + 8, one, 16, &x), 0);
    /* q has not touched its page: it reads zero, and p's bytes are not there. */
    memset(buf, 0xCC, 16);
    CHECK_EQ(vas_read(q, base + 8, buf, 16, &x), 0);
    for (int i = 0; i < 16; i++)
        CHECK_EQ(buf[i], 0);
    CHECK_EQ(vas_write(q, base + 8, two, 16, &x), 0);
    memset(buf, 0xCC, 16);
    CHECK_EQ(vas_read(p, base + 8, buf, 16, &x), 0);
    CHECK(memcmp(buf, one, 16) == 0);
    memset(buf, 0xCC, 16);
    CHECK_EQ(vas_read(q, base + 8, buf, 16, &x), 0);
    CHECK(memcmp(buf, two, 16) == 0);
    /* Two frames: different physical addresses, different host bytes. */
    uint64_t pa = 0, qa = 0;
    CHECK_EQ(vas_virtual_to_physical(p, base + 8, &pa), 0);
    CHECK_EQ(vas_virtual_to_physical(q, base + 8, &qa), 0);
    CHECK(pa / pg != qa / pg);
    CHECK_EQ(pa % pg, 8);
    CHECK_EQ(qa % pg, 8);
    vas_translation tp, tq;
    memset(&tp, 0, sizeof tp);
    memset(&tq, 0, sizeof tq);
    CHECK_EQ(vas_translate(p, base + 8, W, &tp, &x), 0);
    CHECK_EQ(vas_translate(q, base + 8, W, &tq, &x), 0);
    CHECK(tp.host != tq.host);
    CHECK_EQ(tp.physical_address, pa);
    CHECK_EQ(tq.physical_address, qa);
    if (tp.host && tq.host) {
        tp.host[0] = 0x33; /* a write through p's translation */
        CHECK_EQ(tq.host[0], 0x22);
    }
    CHECK_EQ(vas_read(q, base + 8, buf, 1, &x), 0);
    CHECK_EQ(buf[0], 0x22);
    CHECK_EQ(vas_read(p, base + 8, buf, 1, &x), 0);
    CHECK_EQ(buf[0], 0x33);
    /* Their tables are theirs too. */
    vas_page_walk wp, wq;
    CHECK_EQ(vas_page_table_walk(p, base, &wp), 0);
    CHECK_EQ(vas_page_table_walk(q, base, &wq), 0);
    for (uint32_t l = 0; l < wp.levels && l < wq.levels && l < 4; l++)
        CHECK(wp.level[l].table_physical != wq.level[l].table_physical);
    /* Protection, decommit and release in one leave the other alone. */
    uint32_t old;
    CHECK(vas_virtual_protect(p, base, 4 * pg, VAS_PAGE_NOACCESS, &old));
    CHECK_EQ(vas_read(q, base + 8, buf, 16, &x), 0);
    CHECK(memcmp(buf, two, 16) == 0);
    CHECK_EQ(vas_write(q, base + 8, two, 16, &x), 0);
    CHECK(vas_virtual_free(p, base, 0, VAS_MEM_RELEASE));
    CHECK_EQ(vas_read(p, base + 8, buf, 1, &x), AV);
    CHECK_EQ(vas_read(q, base + 8, buf, 16, &x), 0);
    CHECK(memcmp(buf, two, 16) == 0);
    CHECK_EQ(vas_check(m), 0);
    vas_machine_destroy(m);
}

static void each_layout(void (*fn)(const lcase *))
{
    for (size_t i = 0; i < NCASES; i++) {
        int before = check_failures_in_test;
        fn(&CASES[i]);
        if (check_failures_in_test != before)
            fprintf(stderr, "  (the failures above are on layout %s)\n", CASES[i].name);
    }
}

static void test_same_address_different_frames(void) { each_layout(case_same_address); }

/* ---- The shadow model --------------------------------------------------------------------- */

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

#define BASE 0x10000000ull /* user space on every layout, Windows 95/98 included */
#define REGION_PAGES 512   /* 2 MB of 4 KB pages, 4 MB of 8 KB pages */

typedef struct shadow {
    vas_process *p;
    uint64_t page;
    uint64_t size;
    int dep;
    int win9x;
    uint8_t *bytes;          /* what every byte of the reservation holds */
    uint32_t prot[REGION_PAGES]; /* 0 = reserved, else the PAGE_* value, guard included */
} shadow;

static int allowed(uint32_t prot, uint32_t kind, int dep)
{
    uint32_t base = prot & 0xFF;
    if (base == VAS_PAGE_NOACCESS || base == 0)
        return 0;
    if (kind == W)
        return base == VAS_PAGE_READWRITE || base == VAS_PAGE_EXECUTE_READWRITE;
    if (kind == X && dep)
        return base == VAS_PAGE_EXECUTE || base == VAS_PAGE_EXECUTE_READ || base == VAS_PAGE_EXECUTE_READWRITE;
    return 1;
}

/* What an access must do: every page in order, the first refusal wins (a guard page loses its
   guard). Outside the reservation there is only free memory. */
static uint32_t expect_access(shadow *s, uint32_t kind, uint64_t address, uint64_t size, vas_exception *ex)
{
    uint32_t code_kind = kind == X && !s->dep ? R : kind;
    uint64_t last = address + size - 1;
    for (uint64_t at = address;;) {
        uint32_t status = 0;
        if (at < BASE || at >= BASE + s->size) {
            status = AV;
        } else {
            uint64_t i = (at - BASE) / s->page;
            if (!s->prot[i]) {
                status = AV;
            } else if (s->prot[i] & VAS_PAGE_GUARD) {
                s->prot[i] &= ~VAS_PAGE_GUARD;
                status = VAS_STATUS_GUARD_PAGE_VIOLATION;
            } else if (!allowed(s->prot[i], kind, s->dep)) {
                status = AV;
            }
        }
        if (status) {
            ex->code = status;
            ex->access = code_kind;
            ex->address = at;
            return status;
        }
        uint64_t next = (at & ~(s->page - 1)) + s->page;
        if (next > last)
            break;
        at = next;
    }
    ex->code = 0;
    return 0;
}

/* The protections the random test uses. Guard pages only with a base protection that allows
   every access, so the order of the guard and the access check does not matter (see
   test_access.c for the deterministic guard tests). */
static uint32_t random_protect(const shadow *s)
{
    static const uint32_t prots[] = {VAS_PAGE_NOACCESS, VAS_PAGE_READONLY, VAS_PAGE_READWRITE,
                                     VAS_PAGE_EXECUTE, VAS_PAGE_EXECUTE_READ, VAS_PAGE_EXECUTE_READWRITE,
                                     VAS_PAGE_READWRITE, VAS_PAGE_READWRITE | VAS_PAGE_GUARD,
                                     VAS_PAGE_EXECUTE_READWRITE | VAS_PAGE_GUARD};
    size_t n = sizeof prots / sizeof prots[0];
    if (s->win9x)
        n -= 2; /* no guard pages on Windows 95/98 in this model */
    return prots[below(n)];
}

typedef struct stats {
    uint64_t ok, faults, guards, commits, decommits, protects, protect_failures, queries, translations;
} stats;

static int report_mismatch(int step, const char *what, uint64_t address, uint64_t size)
{
    fprintf(stderr, "  step %d: %s at 0x%" PRIx64 " size 0x%" PRIx64 "\n", step, what, address, size);
    return 1;
}

/* A random access range: mostly inside the reservation, sometimes straddling its ends. */
static void random_range(const shadow *s, uint64_t *address, uint64_t *size)
{
    uint64_t r = below(100);
    if (r < 55)
        *size = (uint64_t)1 << below(4); /* 1, 2, 4, 8 */
    else if (r < 85)
        *size = 1 + below(64);
    else
        *size = 1 + below(3 * s->page);
    uint64_t slack = s->page;
    *address = BASE - slack + below(s->size + 2 * slack);
}

/* One random operation on one process, checked against its shadow. Returns nonzero when the
   process did not do what the shadow says. */
static int random_step(shadow *s, int step, uint8_t *buf, stats *st)
{
    vas_process *p = s->p;
    uint64_t op = below(100), address, size;
    vas_exception x, want;
    memset(&x, 0xEE, sizeof x);
    if (op < 62) { /* an access */
        uint32_t kind = op < 30 ? W : op < 55 ? R : X;
        random_range(s, &address, &size);
        uint32_t expected = expect_access(s, kind, address, size, &want);
        if (kind == W) {
            for (uint64_t i = 0; i < size; i++)
                buf[i] = (uint8_t)rnd();
        } else {
            memset(buf, 0xA7, size);
        }
        uint32_t status = do_access(p, kind, address, buf, size, &x);
        if (status != expected || x.code != want.code ||
            (expected && (x.access != want.access || x.address != want.address))) {
            fprintf(stderr, "  got %#x {%u, 0x%" PRIx64 "}, expected %#x {%u, 0x%" PRIx64 "}\n", status, x.access,
                    x.address, expected, want.access, want.address);
            return report_mismatch(step, kind == W ? "write" : kind == R ? "read" : "execute", address, size);
        }
        if (expected) {
            st->faults++;
            st->guards += expected == VAS_STATUS_GUARD_PAGE_VIOLATION;
            if (kind != W) /* a faulting read fills nothing */
                for (uint64_t i = 0; i < size; i++)
                    if (buf[i] != 0xA7)
                        return report_mismatch(step, "faulting read filled the buffer", address, size);
            return 0;
        }
        st->ok++;
        if (kind == W)
            memcpy(s->bytes + (address - BASE), buf, size);
        else if (memcmp(buf, s->bytes + (address - BASE), size) != 0)
            return report_mismatch(step, "bytes differ", address, size);
        return 0;
    }
    uint64_t first = below(REGION_PAGES), count = 1 + below(op < 90 ? 16 : 4);
    if (first + count > REGION_PAGES)
        count = REGION_PAGES - first;
    uint64_t start = BASE + first * s->page, length = count * s->page;
    /* Addresses need not be aligned: the range covers every page it touches. */
    uint64_t skew = below(2) ? below(s->page) : 0;
    if (op < 72) { /* commit */
        uint32_t prot = random_protect(s);
        uint64_t got = vas_virtual_alloc(p, start + skew, length - skew, VAS_MEM_COMMIT, prot);
        if (got != start)
            return report_mismatch(step, "commit", start, length);
        for (uint64_t i = first; i < first + count; i++)
            s->prot[i] = prot; /* bytes kept on committed pages, zero on the others */
        st->commits++;
        return 0;
    }
    if (op < 79) { /* decommit */
        if (!vas_virtual_free(p, start + skew, length - skew, VAS_MEM_DECOMMIT))
            return report_mismatch(step, "decommit", start, length);
        for (uint64_t i = first; i < first + count; i++)
            s->prot[i] = 0;
        memset(s->bytes + first * s->page, 0, length);
        st->decommits++;
        return 0;
    }
    if (op < 90) { /* protect */
        uint32_t prot = random_protect(s), old = 0xDEAD;
        int committed = 1;
        for (uint64_t i = first; i < first + count; i++)
            committed &= s->prot[i] != 0;
        vas_set_last_error(0);
        int ok = vas_virtual_protect(p, start + skew, length - skew, prot, &old);
        if (ok != committed)
            return report_mismatch(step, "protect result", start, length);
        if (!ok) {
            /* Windows 95/98 answer 87 here (spec section 3 item 1), NT 487 (fact 34). */
            if (vas_last_error() != (s->win9x ? VAS_ERROR_INVALID_PARAMETER : VAS_ERROR_INVALID_ADDRESS))
                return report_mismatch(step, "protect error", start, length);
            st->protect_failures++;
            return 0;
        }
        if (old != s->prot[first])
            return report_mismatch(step, "protect old value", start, length);
        for (uint64_t i = first; i < first + count; i++)
            s->prot[i] = prot;
        st->protects++;
        return 0;
    }
    if (op < 95) { /* query: state, protection and the run of equal pages */
        vas_memory_basic_information m;
        if (vas_virtual_query(p, start + skew, &m, sizeof m) != sizeof m)
            return report_mismatch(step, "query", start, 0);
        uint64_t run = first;
        while (run < REGION_PAGES && s->prot[run] == s->prot[first])
            run++;
        uint32_t want_protect = s->prot[first];
        if (!want_protect && s->win9x) /* Windows 95/98 report reserved pages as PAGE_NOACCESS */
            want_protect = VAS_PAGE_NOACCESS;
        if (m.base_address != start || m.allocation_base != BASE ||
            m.state != (s->prot[first] ? VAS_MEM_COMMIT : VAS_MEM_RESERVE) || m.protect != want_protect ||
            m.region_size != (run - first) * s->page || m.allocation_protect != VAS_PAGE_READWRITE)
            return report_mismatch(step, "query fields", start, 0);
        st->queries++;
        return 0;
    }
    /* translate, for a read or a write, and use the pointer at once */
    uint32_t kind = below(2) ? R : W;
    address = start + skew;
    uint32_t expected = expect_access(s, kind, address, 1, &want);
    vas_translation t;
    memset(&t, 0, sizeof t);
    uint32_t status = vas_translate(p, address, kind, &t, &x);
    if (status != expected || (expected && (x.access != want.access || x.address != want.address)))
        return report_mismatch(step, "translate", address, 1);
    if (expected)
        return 0;
    uint64_t in_page = s->page - (address & (s->page - 1));
    if (t.page_base != (address & ~(s->page - 1)) || t.protect != s->prot[first] ||
        memcmp(t.host, s->bytes + (address - BASE), in_page) != 0)
        return report_mismatch(step, "translation", address, 1);
    if (kind == W) {
        uint8_t v = (uint8_t)rnd();
        t.host[0] = v;
        s->bytes[address - BASE] = v;
    }
    st->translations++;
    return 0;
}

/* Reads every page of the reservation, looking under NOACCESS and guard protections, and
   compares with the shadow; the protections are put back. */
static int verify_all(shadow *s, uint8_t *buf)
{
    for (uint64_t i = 0; i < REGION_PAGES; i++) {
        uint64_t at = BASE + i * s->page;
        vas_exception x;
        if (!s->prot[i]) {
            if (vas_read(s->p, at, buf, 1, &x) != AV || x.address != at)
                return report_mismatch(-1, "reserved page readable", at, 1);
            continue;
        }
        uint32_t old = 0;
        if (!vas_virtual_protect(s->p, at, s->page, VAS_PAGE_READONLY, &old) || old != s->prot[i])
            return report_mismatch(-1, "final protect", at, s->page);
        if (vas_read(s->p, at, buf, s->page, &x) != 0 || memcmp(buf, s->bytes + i * s->page, s->page) != 0)
            return report_mismatch(-1, "final bytes", at, s->page);
        if (!vas_virtual_protect(s->p, at, s->page, s->prot[i], &old))
            return report_mismatch(-1, "final protect back", at, s->page);
    }
    return 0;
}

static void run_random(const lcase *c, uint64_t seed, int steps)
{
    rng_state = seed * 0x9E3779B97F4A7C15ull + 1;
    vas_machine *m = new_machine_ram(c, 32ull << 20); /* room for every page of the three */
    shadow sh[3];
    for (int i = 0; i < 3; i++) {
        shadow *s = &sh[i];
        memset(s, 0, sizeof *s);
        s->p = new_process(m, c);
        s->page = page_size_of(s->p);
        s->size = REGION_PAGES * s->page;
        s->dep = c->dep;
        s->win9x = strcmp(c->layout, "win9x") == 0;
        s->bytes = calloc(1, s->size);
        CHECK_EQ(vas_virtual_alloc(s->p, BASE, s->size, VAS_MEM_RESERVE, VAS_PAGE_READWRITE), BASE);
    }
    uint8_t *buf = malloc(4 * sh[0].page);
    stats st;
    memset(&st, 0, sizeof st);
    int failed = 0;
    for (int step = 0; step < steps && !failed; step++) {
        int who = (int)below(3);
        if (random_step(&sh[who], step, buf, &st)) {
            fprintf(stderr, "  (process %d, seed %" PRIu64 ")\n", who, seed);
            failed = 1;
        }
        if (step % 4096 == 4095 && vas_check(m) != 0) {
            fprintf(stderr, "  vas_check failed at step %d\n", step);
            failed = 1;
        }
    }
    CHECK(!failed);
    /* The run did all kinds of things. */
    CHECK(st.ok > (uint64_t)steps / 10);
    CHECK(st.faults > (uint64_t)steps / 50);
    CHECK(st.guards > 0 || sh[0].win9x);
    CHECK(st.commits > 0 && st.decommits > 0 && st.protects > 0 && st.protect_failures > 0);
    CHECK(st.queries > 0 && st.translations > 0);
    for (int i = 0; i < 3 && !failed; i++)
        CHECK(verify_all(&sh[i], buf) == 0);
    /* Frames: the processes hold exactly the active frames. */
    uint64_t held = 0;
    for (int i = 0; i < 3; i++)
        held += frames_of(sh[i].p);
    CHECK_EQ(phys(m).active, held);
    CHECK_EQ(vas_check(m), 0);
    for (int i = 0; i < 3; i++) {
        uint64_t before = phys(m).active, mine = frames_of(sh[i].p);
        vas_process_destroy(sh[i].p);
        CHECK_EQ(phys(m).active, before - mine);
        free(sh[i].bytes);
    }
    vas_physical_status ps = phys(m);
    CHECK_EQ(ps.active, 0);
    CHECK_EQ(ps.zeroed + ps.free, ps.frame_count - 1);
    CHECK_EQ(ps.page_table_frames, 0);
    CHECK_EQ(vas_check(m), 0);
    vas_machine_destroy(m);
    free(buf);
}

/* Debug builds run the library's invariant checker after every call that changes state. */
#ifdef NDEBUG
#define RANDOM_STEPS 60000
#define RANDOM_SEEDS 3
#else
#define RANDOM_STEPS 8000
#define RANDOM_SEEDS 2
#endif

static void case_random(const lcase *c)
{
    for (uint64_t seed = 1; seed <= RANDOM_SEEDS; seed++)
        run_random(c, seed + 100 * (uint64_t)(c - CASES), RANDOM_STEPS);
}
static void test_random_three_processes_against_shadows(void) { each_layout(case_random); }

/* ---- Frame conservation --------------------------------------------------------------------- */

static void case_conservation(const lcase *c)
{
    vas_machine *m = new_machine(c);
    vas_physical_status s0 = phys(m);
    CHECK_EQ(s0.frame_count, RAM / s0.page_size);
    CHECK_EQ(s0.active, 0);
    CHECK_EQ(s0.zeroed + s0.free, s0.frame_count - 1);
    vas_process *ps[4];
    for (int i = 0; i < 4; i++) {
        ps[i] = new_process(m, c);
        uint64_t pg = page_size_of(ps[i]);
        /* Different amounts, spread over tables: one allocation low, one far up. */
        uint64_t a = vas_virtual_alloc(ps[i], 0, (uint64_t)(i + 1) * 37 * pg, VAS_MEM_COMMIT | VAS_MEM_RESERVE,
                                       VAS_PAGE_READWRITE);
        CHECK(a != 0);
        uint64_t b = vas_virtual_alloc(ps[i], 0x40000000, 5 * pg, VAS_MEM_COMMIT | VAS_MEM_RESERVE,
                                       VAS_PAGE_READWRITE);
        CHECK_EQ(b, 0x40000000);
        uint8_t v = (uint8_t)(i + 1);
        for (uint64_t off = 0; off < (uint64_t)(i + 1) * 37 * pg; off += pg * (uint64_t)(i + 1))
            CHECK_EQ(vas_write(ps[i], a + off, &v, 1, NULL), 0);
        CHECK_EQ(vas_write(ps[i], b + 3 * pg, &v, 1, NULL), 0);
        /* A no-access page keeps its frame; a decommitted one gives it back. */
        uint32_t old;
        CHECK(vas_virtual_protect(ps[i], a, pg, VAS_PAGE_NOACCESS, &old));
        CHECK(vas_virtual_free(ps[i], b, 2 * pg, VAS_MEM_DECOMMIT));
    }
    uint64_t held = 0;
    for (int i = 0; i < 4; i++)
        held += frames_of(ps[i]);
    vas_physical_status s1 = phys(m);
    CHECK_EQ(s1.active, held);
    CHECK_EQ(s1.zeroed + s1.free + s1.standby + s1.modified + s1.active, s1.frame_count - 1);
    uint64_t tables = 0;
    for (int i = 0; i < 4; i++)
        tables += counters(ps[i]).page_table_pages;
    CHECK_EQ(s1.page_table_frames, tables);
    /* Destroy them in a different order from their creation. */
    int order[4] = {2, 0, 3, 1};
    for (int k = 0; k < 4; k++) {
        vas_process *p = ps[order[k]];
        uint64_t before = phys(m).active, mine = frames_of(p), mine_tables = counters(p).page_table_pages;
        uint64_t table_frames = phys(m).page_table_frames;
        vas_process_destroy(p);
        vas_physical_status s = phys(m);
        CHECK_EQ(s.active, before - mine);
        CHECK_EQ(s.page_table_frames, table_frames - mine_tables);
        CHECK_EQ(s.zeroed + s.free + s.standby + s.modified + s.active, s.frame_count - 1);
        CHECK_EQ(vas_check(m), 0);
    }
    vas_physical_status s2 = phys(m);
    CHECK_EQ(s2.active, 0);
    CHECK_EQ(s2.zeroed + s2.free, s2.frame_count - 1);
    CHECK_EQ(s2.standby + s2.modified, 0);
    CHECK_EQ(s2.page_table_frames, 0);
    /* Frames given back are handed out again, zeroed. */
    vas_process *p = new_process(m, c);
    uint64_t pg = page_size_of(p);
    uint64_t a = vas_virtual_alloc(p, 0, 64 * pg, VAS_MEM_COMMIT | VAS_MEM_RESERVE, VAS_PAGE_READWRITE);
    uint8_t *buf = malloc(64 * pg);
    memset(buf, 0xCC, 64 * pg);
    CHECK_EQ(vas_read(p, a, buf, 64 * pg, NULL), 0);
    int zero = 1;
    for (uint64_t i = 0; i < 64 * pg; i++)
        zero &= buf[i] == 0;
    CHECK(zero);
    free(buf);
    /* Destroying the machine with a live process is fine too. */
    CHECK_EQ(vas_check(m), 0);
    vas_machine_destroy(m);
}
static void test_frame_conservation(void) { each_layout(case_conservation); }

static const check_test tests[] = {
    TEST(test_same_address_different_frames),
    TEST(test_random_three_processes_against_shadows),
    TEST(test_frame_conservation),
};

CHECK_MAIN(tests)
