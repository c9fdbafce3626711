/*
 * test_access.c - memory access as a CPU makes it, black-box through vas.h only: demand-zero
 * reads, read/write/execute round trips, every kind of access violation with its exact
 * ExceptionInformation, DEP (spec group H), guard pages (group G, checklist 22), all-or-nothing
 * multi-page accesses, bad input, the fault counters, translation for emulators and the
 * physical-memory views. Every test runs on every layout: x64, x64-win7, x86, ia64, win9x, and
 * a WOW64 (32-bit) process on x64.
 */
#include "check.h"
#include "figures.h"

#define GRAN 0x10000ull

#define R VAS_EXCEPTION_READ_FAULT
#define W VAS_EXCEPTION_WRITE_FAULT
#define X VAS_EXCEPTION_EXECUTE_FAULT
#define AV VAS_STATUS_ACCESS_VIOLATION
#define GUARD_VIOLATION VAS_STATUS_GUARD_PAGE_VIOLATION

/* ---- Layouts ------------------------------------------------------------------------------ */

typedef struct lcase {
    const char *name;
    const char *layout;
    int bits;              /* 0 = native */
    int dep;               /* DEP on by default */
    int kuser;             /* KUSER_SHARED_DATA at 0x7FFE0000 */
    uint32_t table_levels; /* page-table levels */
    uint32_t entry_size;   /* bytes per page-table entry */
} lcase;

static const lcase CASES[] = {
    {"x64", "x64", 0, 1, 1, 4, 8},
    {"x64-win7", "x64-win7", 0, 1, 1, 4, 8},
    {"x86", "x86", 0, 1, 1, 2, 4},
    {"ia64", "ia64", 0, 1, 1, 3, 8},
    {"win9x", "win9x", 0, 0, 0, 2, 4},
    {"wow64", "x64", 32, 1, 1, 4, 8},
};
#define NCASES (sizeof CASES / sizeof CASES[0])

typedef struct env {
    vas_machine *m;
    vas_process *p;
    const lcase *c;
    uint64_t page;
    int dep;
} env;

static env env_open_cfg(const lcase *c, const vas_process_config *config)
{
    vas_machine_config mc;
    memset(&mc, 0, sizeof mc);
    mc.layout = c->layout;
    mc.ram_bytes = 64ull << 20;
    env e;
    memset(&e, 0, sizeof e);
    e.c = c;
    e.m = vas_machine_create(&mc);
    vas_process_config pc;
    memset(&pc, 0, sizeof pc);
    if (config)
        pc = *config;
    if (!pc.bits)
        pc.bits = c->bits;
    e.p = e.m ? vas_process_create(e.m, &pc) : NULL;
    if (!e.p) {
        fprintf(stderr, "test_access: cannot create a %s machine and process (error %u)\n", c->name,
                vas_last_error());
        exit(2);
    }
    vas_system_info si;
    vas_get_system_info(e.p, &si);
    e.page = si.page_size;
    e.dep = pc.dep < 0 ? 0 : c->dep;
    return e;
}

static env env_open(const lcase *c) { return env_open_cfg(c, NULL); }

static void env_close(env *e)
{
    CHECK_EQ(vas_check(e->m), 0);
    vas_machine_destroy(e->m);
    e->m = NULL;
    e->p = NULL;
}

/* Runs fn on every layout and names the layout when it failed there. */
static void each_layout(void (*fn)(const lcase *))
{
    for (size_t i = 0; i < NCASES; i++) {
        int before = check_failures_in_test;
        fn(&CASES[i]);
        if (check_failures_in_test != before)
            fprintf(stderr, "  (the failures above are on layout %s)\n", CASES[i].name);
    }
}

/* ---- Helpers ------------------------------------------------------------------------------ */

static uint64_t alloc(env *e, uint64_t size, uint32_t type, uint32_t protect)
{
    uint64_t a = vas_virtual_alloc(e->p, 0, size, type, protect);
    CHECK(a != 0);
    return a;
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

/* ExceptionInformation[0] of a faulting fetch: 8 with DEP, a read without it (fact 67). */
static uint32_t fetch_code(const env *e) { return e->dep ? X : R; }
static uint32_t reported(const env *e, uint32_t kind) { return kind == X ? fetch_code(e) : kind; }

static int all_bytes(const uint8_t *b, size_t n, uint8_t v)
{
    for (size_t i = 0; i < n; i++)
        if (b[i] != v)
            return 0;
    return 1;
}

static void fill_pattern(uint8_t *b, size_t n, uint32_t seed)
{
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)(seed * 131u + i * 7u + (i >> 8) + 1u);
}

/* The status, and every field of the exception record. */
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

static vas_exception fresh_exception(void)
{
    vas_exception x = {0xDEADBEEFu, 0xDEADBEEFu, 0xDEADBEEFDEADBEEFull};
    return x;
}

static vas_memory_basic_information query(vas_process *p, uint64_t address)
{
    vas_memory_basic_information m;
    memset(&m, 0xCC, sizeof m);
    CHECK_EQ(vas_virtual_query(p, address, &m, sizeof m), sizeof m);
    return m;
}

/* An address that is free: reserved, then released. */
static uint64_t free_address(env *e)
{
    uint64_t a = alloc(e, GRAN, VAS_MEM_RESERVE, VAS_PAGE_NOACCESS);
    CHECK(vas_virtual_free(e->p, a, 0, VAS_MEM_RELEASE));
    return a;
}

/* ---- Zero fill and round trips (checklist 10) ------------------------------------------- */

static void case_zero_until_written(const lcase *c)
{
    env e = env_open(c);
    uint64_t pg = e.page, a = alloc(&e, 4 * pg, VAS_MEM_COMMIT | VAS_MEM_RESERVE, VAS_PAGE_EXECUTE_READWRITE);
    uint8_t *buf = malloc(4 * pg), *pat = malloc(4 * pg);
    vas_exception x = fresh_exception();

    /* Every kind of access sees zeros before any write, in every page. */
    for (uint32_t k = 0; k < 3; k++) { /* read, fetch, read again (a TLB hit this time) */
        uint32_t kind = k == 1 ? X : R;
        memset(buf, 0xCC, 4 * pg);
        x = fresh_exception();
        CHECK_OK(do_access(e.p, kind, a, buf, 4 * pg, &x), x);
        CHECK(all_bytes(buf, 4 * pg, 0));
    }
    /* Small accesses at every width, aligned and not. */
    for (size_t size = 1; size <= 8; size *= 2) {
        memset(buf, 0xCC, 8);
        CHECK_OK(vas_read(e.p, a + 3 * pg + 13, buf, size, &x), x);
        CHECK(all_bytes(buf, size, 0));
    }

    /* Writes: one byte, then a pattern across a page boundary; the rest stays zero. */
    uint8_t one = 0x5A;
    CHECK_OK(vas_write(e.p, a + 7, &one, 1, &x), x);
    fill_pattern(pat, 2 * pg, 1);
    CHECK_OK(vas_write(e.p, a + pg + pg / 2, pat, pg, &x), x);
    memset(buf, 0xCC, 4 * pg);
    CHECK_OK(vas_read(e.p, a, buf, 4 * pg, &x), x);
    CHECK_EQ(buf[7], 0x5A);
    CHECK(all_bytes(buf, 7, 0));
    CHECK(all_bytes(buf + 8, pg + pg / 2 - 8, 0));
    CHECK(memcmp(buf + pg + pg / 2, pat, pg) == 0);
    CHECK(all_bytes(buf + 2 * pg + pg / 2, pg + pg / 2, 0));

    /* Execute fetches the same bytes. */
    memset(buf, 0xCC, pg);
    CHECK_OK(vas_execute(e.p, a + pg + pg / 2, buf, pg, &x), x);
    CHECK(memcmp(buf, pat, pg) == 0);

    /* Widths 1, 2, 4, 8 round trip, also straddling a page boundary. */
    uint64_t spots[] = {a + 16, a + pg - 1, a + 2 * pg - 3, a + 4 * pg - 8};
    for (size_t s = 0; s < sizeof spots / sizeof spots[0]; s++) {
        for (size_t size = 1; size <= 8; size *= 2) {
            if (spots[s] + size > a + 4 * pg)
                continue;
            uint8_t in[16], out[16]; /* 16: GCC cannot see that size stays <= 8 */
            fill_pattern(in, size, (uint32_t)(s * 10 + size));
            memset(out, 0xCC, sizeof out);
            CHECK_OK(vas_write(e.p, spots[s], in, size, &x), x);
            CHECK_OK(vas_read(e.p, spots[s], out, size, &x), x);
            CHECK(memcmp(in, out, size) == 0);
            memset(out, 0xCC, sizeof out);
            CHECK_OK(vas_execute(e.p, spots[s], out, size, &x), x);
            CHECK(memcmp(in, out, size) == 0);
        }
    }

    /* A second allocation is zero too, whatever the first one holds. */
    uint64_t b = alloc(&e, pg, VAS_MEM_COMMIT | VAS_MEM_RESERVE, VAS_PAGE_READWRITE);
    memset(buf, 0xCC, pg);
    CHECK_OK(vas_read(e.p, b, buf, pg, &x), x);
    CHECK(all_bytes(buf, pg, 0));

    /* Decommitted and committed again: zero again. */
    CHECK(vas_virtual_free(e.p, a + pg, pg, VAS_MEM_DECOMMIT));
    CHECK_EQ(vas_virtual_alloc(e.p, a + pg, pg, VAS_MEM_COMMIT, VAS_PAGE_READWRITE), a + pg);
    memset(buf, 0xCC, pg);
    CHECK_OK(vas_read(e.p, a + pg, buf, pg, &x), x);
    CHECK(all_bytes(buf, pg, 0));
    /* ...while its neighbour kept its bytes. */
    CHECK_OK(vas_read(e.p, a + 2 * pg + 8, buf, pg / 2 - 8, &x), x); /* past the round trips */
    CHECK(memcmp(buf, pat + pg / 2 + 8, pg / 2 - 8) == 0);

    free(buf);
    free(pat);
    env_close(&e);
}
static void test_committed_memory_reads_zero_until_written(void) { each_layout(case_zero_until_written); }

/* Every protection against every kind of access (checklist 23; facts 65, 67). */
static void case_protection_matrix(const lcase *c)
{
    static const uint32_t prots[] = {VAS_PAGE_NOACCESS, VAS_PAGE_READONLY, VAS_PAGE_READWRITE,
                                     VAS_PAGE_EXECUTE, VAS_PAGE_EXECUTE_READ, VAS_PAGE_EXECUTE_READWRITE};
    env e = env_open(c);
    for (size_t i = 0; i < sizeof prots / sizeof prots[0]; i++) {
        uint32_t prot = prots[i];
        int can_read = prot != VAS_PAGE_NOACCESS;
        int can_write = prot == VAS_PAGE_READWRITE || prot == VAS_PAGE_EXECUTE_READWRITE;
        int can_exec = e.dep ? (prot == VAS_PAGE_EXECUTE || prot == VAS_PAGE_EXECUTE_READ ||
                                prot == VAS_PAGE_EXECUTE_READWRITE)
                             : can_read;
        uint64_t a = alloc(&e, e.page, VAS_MEM_COMMIT | VAS_MEM_RESERVE, VAS_PAGE_READWRITE);
        uint64_t at = a + 0x123;
        uint8_t sig[16], other[16], buf[16];
        fill_pattern(sig, 16, (uint32_t)i + 1);
        fill_pattern(other, 16, (uint32_t)i + 100);
        vas_exception x = fresh_exception();
        CHECK_OK(vas_write(e.p, at, sig, 16, &x), x);
        uint32_t old = 0;
        CHECK(vas_virtual_protect(e.p, a, e.page, prot, &old));
        CHECK_EQ(old, VAS_PAGE_READWRITE);

        for (int round = 0; round < 2; round++) { /* the second round may hit a TLB */
            memset(buf, 0xCC, 16);
            x = fresh_exception();
            uint32_t s = vas_read(e.p, at, buf, 16, &x);
            if (can_read) {
                CHECK_OK(s, x);
                CHECK(memcmp(buf, sig, 16) == 0);
            } else {
                CHECK_EXC(s, x, AV, R, at);
                CHECK(all_bytes(buf, 16, 0xCC));
            }
            memset(buf, 0xCC, 16);
            x = fresh_exception();
            s = vas_execute(e.p, at + 1, buf, 15, &x);
            if (can_exec) {
                CHECK_OK(s, x);
                CHECK(memcmp(buf, sig + 1, 15) == 0);
            } else {
                CHECK_EXC(s, x, AV, fetch_code(&e), at + 1);
                CHECK(all_bytes(buf, 16, 0xCC));
            }
            x = fresh_exception();
            s = vas_write(e.p, at + 2, other, 14, &x);
            if (can_write) {
                CHECK_OK(s, x);
                memset(buf, 0xCC, 16);
                CHECK_OK(vas_read(e.p, at, buf, 16, &x), x);
                CHECK(memcmp(buf, sig, 2) == 0 && memcmp(buf + 2, other, 14) == 0);
                CHECK_OK(vas_write(e.p, at, sig, 16, &x), x); /* back to the signature */
            } else {
                CHECK_EXC(s, x, AV, W, at + 2);
            }
        }
        /* A refused write changed nothing: look under the protection. */
        CHECK(vas_virtual_protect(e.p, a, e.page, VAS_PAGE_READWRITE, &old));
        CHECK_EQ(old, prot);
        memset(buf, 0xCC, 16);
        CHECK_OK(vas_read(e.p, at, buf, 16, &x), x);
        CHECK(memcmp(buf, sig, 16) == 0);
    }
    env_close(&e);
}
static void test_read_write_execute_by_protection(void) { each_layout(case_protection_matrix); }

/* ---- Access violations ------------------------------------------------------------------- */

/* Free memory, reserved pages and decommitted pages (checklist 24). */
static void case_free_and_reserved(const lcase *c)
{
    env e = env_open(c);
    uint64_t pg = e.page;
    uint64_t f = free_address(&e);
    uint64_t r = alloc(&e, 4 * pg, VAS_MEM_RESERVE, VAS_PAGE_READWRITE);
    uint64_t d = alloc(&e, 2 * pg, VAS_MEM_COMMIT | VAS_MEM_RESERVE, VAS_PAGE_READWRITE);
    uint8_t data[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    vas_exception x = fresh_exception();
    CHECK_OK(vas_write(e.p, d + pg + 8, data, 8, &x), x);
    CHECK(vas_virtual_free(e.p, d + pg, pg, VAS_MEM_DECOMMIT));
    uint64_t spots[] = {f, f + 0x777, r, r + 2 * pg + 5, r + 4 * pg - 1, d + pg + 8};
    for (size_t i = 0; i < sizeof spots / sizeof spots[0]; i++) {
        for (uint32_t k = 0; k < 3; k++) {
            uint32_t kind = k == 0 ? R : k == 1 ? W : X;
            uint8_t buf[8];
            memset(buf, 0xCC, 8);
            size_t size = spots[i] == r + 4 * pg - 1 ? 1 : 8;
            x = fresh_exception();
            uint32_t s = do_access(e.p, kind, spots[i], kind == W ? data : buf, size, &x);
            CHECK_EXC(s, x, AV, reported(&e, kind), spots[i]);
            CHECK(all_bytes(buf, 8, 0xCC));
        }
    }
    /* The reserved pages are still reserved: a fault commits nothing. */
    vas_memory_basic_information m = query(e.p, r);
    CHECK_EQ(m.state, VAS_MEM_RESERVE);
    CHECK_EQ(m.region_size, 4 * pg);
    env_close(&e);
}
static void test_access_violation_on_free_and_reserved_memory(void) { each_layout(case_free_and_reserved); }

/* The NULL partition, the 64 KB off-limits block, unusable and non-canonical ranges and the
   kernel: every address faults with its exact ExceptionInformation. */
static void case_partitions(const lcase *c)
{
    env e = env_open(c);
    uint64_t spots[16];
    size_t n = 0;
    spots[n++] = 0;
    spots[n++] = 8;
    if (strcmp(c->name, "x64") == 0) {
        uint64_t s[] = {0xFFF8, 0x7FFFFFFF0000ull, 0x7FFFFFFFFFF8ull, 0x800000000000ull, 0xFFFF800000000000ull,
                        0xFFFFF78000000000ull, 0xFFFFFFFFFFFFFFF8ull};
        memcpy(spots + n, s, sizeof s);
        n += sizeof s / sizeof s[0];
    } else if (strcmp(c->name, "x64-win7") == 0) {
        uint64_t s[] = {0xFFF8, 0x7FFFFFF0000ull, 0x7FFFFFFFFF8ull, 0x80000000000ull, 0x7FFFFFFFFFF8ull,
                        0xFFFFF80000000000ull, 0xFFFFFFFFFFFFFFF8ull};
        memcpy(spots + n, s, sizeof s);
        n += sizeof s / sizeof s[0];
    } else if (strcmp(c->name, "x86") == 0) {
        uint64_t s[] = {0xFFF8, 0x7FFF0000, 0x7FFFFFF8, 0x80000000, 0xC0000000, 0xFFDF0000, 0xFFFFFFF8};
        memcpy(spots + n, s, sizeof s);
        n += sizeof s / sizeof s[0];
    } else if (strcmp(c->name, "wow64") == 0) {
        uint64_t s[] = {0xFFF8, 0x7FFF0000, 0x7FFFFFF8, 0x80000000, 0xC0000000, 0xFFFFFFF8};
        memcpy(spots + n, s, sizeof s);
        n += sizeof s / sizeof s[0];
    } else if (strcmp(c->name, "ia64") == 0) {
        uint64_t s[] = {0xFFF8, 0x6FBFFFF0000ull, 0x6FBFFFFFFF8ull, 0x6FC00000000ull, 0xE000000000000000ull,
                        0xFFFFFFFFFFFFFFF8ull};
        memcpy(spots + n, s, sizeof s);
        n += sizeof s / sizeof s[0];
    } else { /* win9x: a 4 KB NULL partition, then the MS-DOS area up to 4 MB */
        uint64_t s[] = {0xFF8, 0x1000, 0x3FFFF8, 0xC0000000, 0xFFFFFFF8};
        memcpy(spots + n, s, sizeof s);
        n += sizeof s / sizeof s[0];
    }
    uint8_t data[8] = {9, 9, 9, 9, 9, 9, 9, 9};
    for (size_t i = 0; i < n; i++) {
        for (uint32_t k = 0; k < 3; k++) {
            uint32_t kind = k == 0 ? R : k == 1 ? W : X;
            uint8_t buf[8];
            memset(buf, 0xCC, 8);
            vas_exception x = fresh_exception();
            int before = check_failures_in_test;
            uint32_t s = do_access(e.p, kind, spots[i], kind == W ? data : buf, 8, &x);
            CHECK_EXC(s, x, AV, reported(&e, kind), spots[i]);
            CHECK(all_bytes(buf, 8, 0xCC));
            if (check_failures_in_test != before)
                fprintf(stderr, "  at 0x%" PRIx64 ", access %u\n", spots[i], kind);
        }
    }
    /* Also through the partition table: the first and last bytes of every partition that is
       not user space fault, except the Windows 95/98 shared area, which holds nothing here. */
    vas_partition parts[16];
    size_t count = vas_get_partitions(e.p, parts, 16);
    CHECK(count > 2 && count <= 16);
    for (size_t i = 0; i < count && i < 16; i++) {
        if (parts[i].kind == VAS_PARTITION_USER)
            continue;
        uint64_t ends[2] = {parts[i].first, parts[i].last};
        for (int j = 0; j < 2; j++) {
            uint8_t b = 0xCC;
            vas_exception x = fresh_exception();
            CHECK_EXC(vas_read(e.p, ends[j], &b, 1, &x), x, AV, R, ends[j]);
            CHECK_EQ(b, 0xCC);
        }
    }
    env_close(&e);
}
static void test_access_violation_in_every_partition(void) { each_layout(case_partitions); }

/* Fact 64: 32-bit code touching 0xFFFFFFFC; 0xFFFFFFFD-0xFFFFFFFF run past 4 GB ({0 or 1, exact
   address}, with {0, 0xFFFFFFFF} also accepted, spec section 3 item 14). */
static void test_fact_64_kernel_address_from_32_bit_code(void)
{
    for (size_t i = 0; i < NCASES; i++) {
        const lcase *c = &CASES[i];
        int before = check_failures_in_test;
        env e = env_open(c);
        if (vas_process_bits(e.p) != 32) {
            env_close(&e);
            continue;
        }
        uint8_t buf[4] = {0xCC, 0xCC, 0xCC, 0xCC}, data[4] = {1, 2, 3, 4};
        vas_exception x = fresh_exception();
        CHECK_EXC(vas_read(e.p, 0xFFFFFFFCull, buf, 4, &x), x, AV, R, 0xFFFFFFFCull);
        CHECK(all_bytes(buf, 4, 0xCC));
        x = fresh_exception();
        CHECK_EXC(vas_write(e.p, 0xFFFFFFFCull, data, 4, &x), x, AV, W, 0xFFFFFFFCull);
        for (uint64_t a = 0xFFFFFFFDull; a <= 0xFFFFFFFFull; a++) {
            for (uint32_t kind = R; kind <= W; kind++) {
                x = fresh_exception();
                uint32_t s = do_access(e.p, kind, a, kind == W ? data : buf, 4, &x);
                CHECK_EQ(s, AV);
                CHECK_EQ(x.code, AV);
                CHECK((x.access == kind && x.address == a) || (x.access == R && x.address == 0xFFFFFFFFull));
                CHECK(all_bytes(buf, 4, 0xCC));
            }
        }
        if (check_failures_in_test != before)
            fprintf(stderr, "  (layout %s)\n", c->name);
        env_close(&e);
    }
}

/* KUSER_SHARED_DATA: one read-only page at 0x7FFE0000 in every NT process (checklist 55). */
static void case_kuser(const lcase *c)
{
    env e = env_open(c);
    const uint64_t k = 0x7FFE0000ull;
    uint8_t buf[8], data[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    memset(buf, 0xCC, 8);
    vas_exception x = fresh_exception();
    if (!c->kuser) { /* Windows 95/98: nothing there, plain free user memory */
        CHECK_EXC(vas_read(e.p, k + 0x14, buf, 4, &x), x, AV, R, k + 0x14);
        CHECK_EQ(query(e.p, k).state, VAS_MEM_FREE);
        env_close(&e);
        return;
    }
    CHECK_OK(vas_read(e.p, k + 0x14, buf, 8, &x), x);
    CHECK_OK(vas_read(e.p, k + e.page - 8, buf, 8, &x), x);
    x = fresh_exception();
    CHECK_EXC(vas_write(e.p, k + 0x14, data, 4, &x), x, AV, W, k + 0x14);
    x = fresh_exception(); /* again, after the read above has made the page valid */
    CHECK_EXC(vas_write(e.p, k, data, 1, &x), x, AV, W, k);
    x = fresh_exception();
    CHECK_EXC(vas_execute(e.p, k + 0x20, buf, 2, &x), x, AV, X, k + 0x20);
    /* A write straddling into it from below: from the free page below, the first byte faults. */
    x = fresh_exception();
    CHECK_EXC(vas_write(e.p, k - 4, data, 8, &x), x, AV, W, k - 4);
    /* The rest of its 64 KB block is reserved, not usable. */
    x = fresh_exception();
    CHECK_EXC(vas_read(e.p, k + e.page, buf, 1, &x), x, AV, R, k + e.page);
    x = fresh_exception();
    CHECK_EXC(vas_read(e.p, k + e.page - 4, buf, 8, &x), x, AV, R, k + e.page);
    vas_memory_basic_information m = query(e.p, k);
    CHECK_EQ(m.state, VAS_MEM_COMMIT);
    CHECK_EQ(m.protect, VAS_PAGE_READONLY);
    CHECK_EQ(m.region_size, e.page);
    env_close(&e);
}
static void test_kuser_shared_data_is_read_only(void) { each_layout(case_kuser); }

/* ---- DEP (facts 65, 67, 68) -------------------------------------------------------------- */

/* Fact 65: with DEP on, fetching from a page without execute access faults with 8. */
static void case_dep_on(const lcase *c)
{
    if (!c->dep)
        return;
    env e = env_open(c);
    static const uint32_t prots[] = {VAS_PAGE_NOACCESS, VAS_PAGE_READONLY, VAS_PAGE_READWRITE};
    for (size_t i = 0; i < 3; i++) {
        uint64_t a = alloc(&e, e.page, VAS_MEM_COMMIT | VAS_MEM_RESERVE, prots[i]);
        uint8_t ret = 0xC3, buf[4] = {0xCC, 0xCC, 0xCC, 0xCC};
        vas_exception x = fresh_exception();
        if (prots[i] != VAS_PAGE_NOACCESS) { /* touched first, so the fault is on a valid PTE */
            uint8_t tmp;
            CHECK_OK(vas_read(e.p, a, &tmp, 1, &x), x);
        }
        if (prots[i] == VAS_PAGE_READWRITE)
            CHECK_OK(vas_write(e.p, a + 0x40, &ret, 1, &x), x);
        x = fresh_exception();
        CHECK_EXC(vas_execute(e.p, a + 0x40, buf, 1, &x), x, AV, X, a + 0x40);
        CHECK_EQ(buf[0], 0xCC);
    }
    /* A 64-bit process cannot turn DEP off: not when created, not later. */
    if (vas_process_bits(e.p) == 64) {
        vas_process_config pc;
        memset(&pc, 0, sizeof pc);
        pc.dep = -1;
        CHECK_FAILS(vas_process_create(e.m, &pc), VAS_ERROR_NOT_SUPPORTED);
    }
    env_close(&e);
}
static void test_fact_65_dep_execute_fault_code_8(void) { each_layout(case_dep_on); }

/* Fact 67: DEP off (a 32-bit process created without it, one that turned it off, and Windows
   95/98): fetching from a PAGE_READWRITE page works; from PAGE_NOACCESS it faults as a read. */
static void dep_off_checks(env *e)
{
    uint64_t pg = e->page;
    uint64_t a = alloc(e, 2 * pg, VAS_MEM_COMMIT | VAS_MEM_RESERVE, VAS_PAGE_READWRITE);
    uint8_t code[4] = {0x90, 0x90, 0x90, 0xC3}, buf[4];
    vas_exception x = fresh_exception();
    CHECK_OK(vas_write(e->p, a + 0x10, code, 4, &x), x);
    memset(buf, 0xCC, 4);
    x = fresh_exception();
    CHECK_OK(vas_execute(e->p, a + 0x10, buf, 4, &x), x);
    CHECK(memcmp(buf, code, 4) == 0);
    uint32_t old = 0;
    CHECK(vas_virtual_protect(e->p, a + pg, pg, VAS_PAGE_NOACCESS, &old));
    x = fresh_exception();
    CHECK_EXC(vas_execute(e->p, a + pg + 0x10, buf, 1, &x), x, AV, R, a + pg + 0x10);
    /* A fetch that starts in the RW page and runs into the no-access one. */
    x = fresh_exception();
    memset(buf, 0xCC, 4);
    CHECK_EXC(vas_execute(e->p, a + pg - 2, buf, 4, &x), x, AV, R, a + pg);
    CHECK(all_bytes(buf, 4, 0xCC));
    /* READONLY executes too, and reserved memory faults as a read. */
    CHECK(vas_virtual_protect(e->p, a, pg, VAS_PAGE_READONLY, &old));
    CHECK_EQ(old, VAS_PAGE_READWRITE);
    CHECK_OK(vas_execute(e->p, a + 0x10, buf, 4, &x), x);
    CHECK(memcmp(buf, code, 4) == 0);
    uint64_t r = alloc(e, pg, VAS_MEM_RESERVE, VAS_PAGE_READWRITE);
    x = fresh_exception();
    CHECK_EXC(vas_execute(e->p, r + 1, buf, 1, &x), x, AV, R, r + 1);
}

static void test_fact_67_dep_off(void)
{
    vas_process_config pc;
    memset(&pc, 0, sizeof pc);
    pc.dep = -1;
    for (size_t i = 0; i < NCASES; i++) {
        const lcase *c = &CASES[i];
        int before = check_failures_in_test;
        env probe = env_open(c);
        int bits = vas_process_bits(probe.p);
        env_close(&probe);
        if (bits != 32)
            continue;
        /* Created without DEP. */
        env e = env_open_cfg(c, &pc);
        uint32_t flags = 99;
        int permanent = 99;
        CHECK(vas_get_process_dep_policy(e.p, &flags, &permanent));
        CHECK_EQ(flags, 0);
        CHECK_EQ(permanent, 0);
        dep_off_checks(&e);
        env_close(&e);
        /* Turned off with SetProcessDEPPolicy(0); Windows 95/98 has no DEP policy to set. */
        e = env_open(c);
        if (c->dep) {
            CHECK(vas_set_process_dep_policy(e.p, 0));
            e.dep = 0;
            dep_off_checks(&e);
        } else {
            CHECK_FAILS(vas_set_process_dep_policy(e.p, 0), VAS_ERROR_NOT_SUPPORTED);
        }
        env_close(&e);
        if (check_failures_in_test != before)
            fprintf(stderr, "  (layout %s)\n", c->name);
    }
}

/* Fact 68: after an execute fault on a PAGE_READWRITE page, VirtualProtect(address, 16,
   PAGE_EXECUTE_READWRITE) reports old = PAGE_READWRITE and the retried fetch runs. */
static void case_fact_68(const lcase *c)
{
    if (!c->dep)
        return;
    env e = env_open(c);
    uint64_t a = alloc(&e, 2 * e.page, VAS_MEM_COMMIT | VAS_MEM_RESERVE, VAS_PAGE_READWRITE);
    uint64_t code_at = a + e.page + 0x30;
    uint8_t thunk[13] = {0xC7, 0x44, 0x24, 0x04, 0x78, 0x56, 0x34, 0x12, 0xE9, 0, 0, 0, 0}, buf[13];
    vas_exception x = fresh_exception();
    CHECK_OK(vas_write(e.p, code_at, thunk, sizeof thunk, &x), x);
    x = fresh_exception();
    memset(buf, 0xCC, sizeof buf);
    CHECK_EXC(vas_execute(e.p, code_at, buf, sizeof buf, &x), x, AV, X, code_at);
    CHECK(all_bytes(buf, sizeof buf, 0xCC));
    uint32_t old = 0;
    CHECK(vas_virtual_protect(e.p, x.address, 16, VAS_PAGE_EXECUTE_READWRITE, &old));
    CHECK_EQ(old, VAS_PAGE_READWRITE);
    x = fresh_exception();
    CHECK_OK(vas_execute(e.p, code_at, buf, sizeof buf, &x), x);
    CHECK(memcmp(buf, thunk, sizeof thunk) == 0);
    /* Only that page changed. */
    CHECK_EQ(query(e.p, code_at).protect, VAS_PAGE_EXECUTE_READWRITE);
    CHECK_EQ(query(e.p, a).protect, VAS_PAGE_READWRITE);
    x = fresh_exception();
    CHECK_EXC(vas_execute(e.p, a + 4, buf, 1, &x), x, AV, X, a + 4);
    env_close(&e);
}
static void test_fact_68_protect_after_execute_fault(void) { each_layout(case_fact_68); }

/* SetProcessDEPPolicy / GetProcessDEPPolicy. */
static void test_dep_policy_api(void)
{
    for (size_t i = 0; i < NCASES; i++) {
        const lcase *c = &CASES[i];
        int before = check_failures_in_test;
        env e = env_open(c);
        if (vas_process_bits(e.p) == 64) {
            CHECK_FAILS(vas_set_process_dep_policy(e.p, 0), VAS_ERROR_NOT_SUPPORTED);
            CHECK_FAILS(vas_set_process_dep_policy(e.p, VAS_PROCESS_DEP_ENABLE), VAS_ERROR_NOT_SUPPORTED);
            /* Still on. */
            uint64_t a = alloc(&e, e.page, VAS_MEM_COMMIT | VAS_MEM_RESERVE, VAS_PAGE_READWRITE);
            uint8_t b;
            vas_exception x = fresh_exception();
            CHECK_EXC(vas_execute(e.p, a, &b, 1, &x), x, AV, X, a);
            env_close(&e);
            continue;
        }
        if (!c->dep) { /* Windows 95/98: nothing to test here (see the report's doubts) */
            env_close(&e);
            continue;
        }
        uint32_t flags = 99;
        int permanent = 99;
        CHECK(vas_get_process_dep_policy(e.p, &flags, &permanent));
        CHECK_EQ(flags, VAS_PROCESS_DEP_ENABLE);
        CHECK_EQ(permanent, 0);
        /* Unknown flags. */
        CHECK_FAILS(vas_set_process_dep_policy(e.p, 0x4), VAS_ERROR_INVALID_PARAMETER);
        CHECK_FAILS(vas_set_process_dep_policy(e.p, 0x80000000u | VAS_PROCESS_DEP_ENABLE),
                    VAS_ERROR_INVALID_PARAMETER);
        CHECK(vas_get_process_dep_policy(e.p, &flags, &permanent));
        CHECK_EQ(flags, VAS_PROCESS_DEP_ENABLE);
        CHECK_EQ(permanent, 0);
        /* Off, then on for good. */
        CHECK(vas_set_process_dep_policy(e.p, 0));
        CHECK(vas_get_process_dep_policy(e.p, &flags, &permanent));
        CHECK_EQ(flags, 0);
        CHECK_EQ(permanent, 0);
        CHECK(vas_set_process_dep_policy(e.p, VAS_PROCESS_DEP_ENABLE));
        CHECK(vas_get_process_dep_policy(e.p, &flags, &permanent));
        CHECK_EQ(flags & VAS_PROCESS_DEP_ENABLE, VAS_PROCESS_DEP_ENABLE);
        CHECK_EQ(permanent, 1);
        CHECK_FAILS(vas_set_process_dep_policy(e.p, 0), VAS_ERROR_ACCESS_DENIED);
        CHECK_FAILS(vas_set_process_dep_policy(e.p, VAS_PROCESS_DEP_ENABLE), VAS_ERROR_ACCESS_DENIED);
        uint64_t a = alloc(&e, e.page, VAS_MEM_COMMIT | VAS_MEM_RESERVE, VAS_PAGE_READWRITE);
        uint8_t b;
        vas_exception x = fresh_exception();
        CHECK_EXC(vas_execute(e.p, a, &b, 1, &x), x, AV, X, a);
        env_close(&e);

        /* Created with DEP permanent. */
        vas_process_config pc;
        memset(&pc, 0, sizeof pc);
        pc.dep = 1;
        e = env_open_cfg(c, &pc);
        CHECK(vas_get_process_dep_policy(e.p, &flags, &permanent));
        CHECK_EQ(flags & VAS_PROCESS_DEP_ENABLE, VAS_PROCESS_DEP_ENABLE);
        CHECK_EQ(permanent, 1);
        CHECK_FAILS(vas_set_process_dep_policy(e.p, 0), VAS_ERROR_ACCESS_DENIED);

        /* A destroyed process. */
        vas_process *q = vas_process_create(e.m, NULL);
        CHECK(q != NULL);
        vas_process_destroy(q);
        CHECK_FAILS(vas_set_process_dep_policy(q, 0), VAS_ERROR_INVALID_HANDLE);
        CHECK_FAILS(vas_get_process_dep_policy(q, &flags, &permanent), VAS_ERROR_INVALID_HANDLE);
        env_close(&e);
        if (check_failures_in_test != before)
            fprintf(stderr, "  (layout %s)\n", c->name);
    }
}

/* ---- Guard pages (group G, checklist 22) ---------------------------------------------------- */

static void case_guard(const lcase *c)
{
    env e = env_open(c);
    uint64_t pg = e.page;
    const uint32_t guarded = VAS_PAGE_READWRITE | VAS_PAGE_GUARD;
    uint64_t a = alloc(&e, 4 * pg, VAS_MEM_COMMIT | VAS_MEM_RESERVE, guarded);
    vas_process_counters c0 = counters(e.p);
    uint8_t buf[16], data[16];
    fill_pattern(data, 16, 3);

    /* A read: one guard exception with the access code and the exact address; nothing read. */
    memset(buf, 0xCC, 16);
    vas_exception x = fresh_exception();
    CHECK_EXC(vas_read(e.p, a + 0x10, buf, 4, &x), x, GUARD_VIOLATION, R, a + 0x10);
    CHECK(all_bytes(buf, 16, 0xCC));
    vas_process_counters c1 = counters(e.p);
    CHECK_EQ(c1.guard_page_faults, c0.guard_page_faults + 1);
    CHECK_EQ(c1.page_fault_count, c0.page_fault_count + 1);
    CHECK_EQ(c1.access_violations, c0.access_violations);
    /* The guard is gone from that page only; AllocationProtect keeps it (fact 19). */
    vas_memory_basic_information m = query(e.p, a);
    CHECK_EQ(m.protect, VAS_PAGE_READWRITE);
    CHECK_EQ(m.region_size, pg);
    CHECK_EQ(m.allocation_protect, guarded);
    CHECK_EQ(m.state, VAS_MEM_COMMIT);
    m = query(e.p, a + pg);
    CHECK_EQ(m.protect, guarded);
    CHECK_EQ(m.region_size, 3 * pg);
    CHECK_EQ(m.allocation_protect, guarded);
    /* The retry succeeds, and so does every later access. */
    x = fresh_exception();
    CHECK_OK(vas_read(e.p, a + 0x10, buf, 4, &x), x);
    CHECK(all_bytes(buf, 4, 0));
    CHECK_OK(vas_write(e.p, a + 0x10, data, 4, &x), x);
    CHECK_EQ(counters(e.p).guard_page_faults, c0.guard_page_faults + 1);

    /* A write: not performed; the retry is. */
    x = fresh_exception();
    CHECK_EXC(vas_write(e.p, a + pg + 8, data, 8, &x), x, GUARD_VIOLATION, W, a + pg + 8);
    memset(buf, 0xCC, 16);
    CHECK_OK(vas_read(e.p, a + pg, buf, 16, &x), x);
    CHECK(all_bytes(buf, 16, 0));
    CHECK_OK(vas_write(e.p, a + pg + 8, data, 8, &x), x);
    memset(buf, 0xCC, 16);
    CHECK_OK(vas_read(e.p, a + pg + 8, buf, 8, &x), x);
    CHECK(memcmp(buf, data, 8) == 0);
    CHECK_EQ(query(e.p, a + pg).protect, VAS_PAGE_READWRITE);
    CHECK_EQ(query(e.p, a + 2 * pg).protect, guarded);

    /* A two-page write whose second page is the guard page: the exception names that page's
       first byte and no byte moves, in either page. */
    x = fresh_exception();
    CHECK_EXC(vas_write(e.p, a + 2 * pg - 8, data, 16, &x), x, GUARD_VIOLATION, W, a + 2 * pg);
    memset(buf, 0xCC, 16);
    CHECK_OK(vas_read(e.p, a + 2 * pg - 8, buf, 16, &x), x); /* the guard is gone now */
    CHECK(all_bytes(buf, 16, 0));
    CHECK_OK(vas_write(e.p, a + 2 * pg - 8, data, 16, &x), x);
    memset(buf, 0xCC, 16);
    CHECK_OK(vas_read(e.p, a + 2 * pg - 8, buf, 16, &x), x);
    CHECK(memcmp(buf, data, 16) == 0);

    /* A two-page read whose second page is guarded: nothing read. */
    memset(buf, 0xCC, 16);
    x = fresh_exception();
    CHECK_EXC(vas_read(e.p, a + 3 * pg - 4, buf, 8, &x), x, GUARD_VIOLATION, R, a + 3 * pg);
    CHECK(all_bytes(buf, 16, 0xCC));
    CHECK_OK(vas_read(e.p, a + 3 * pg - 4, buf, 8, &x), x);
    CHECK(all_bytes(buf, 8, 0));
    CHECK_EQ(counters(e.p).guard_page_faults, c0.guard_page_faults + 4);
    for (int i = 0; i < 4; i++) {
        m = query(e.p, a + (uint64_t)i * pg);
        CHECK_EQ(m.protect, VAS_PAGE_READWRITE);
        CHECK_EQ(m.allocation_protect, guarded);
    }

    /* Guarding a page that holds data, with VirtualProtect: the data survives the guard. */
    uint32_t old = 0;
    CHECK(vas_virtual_protect(e.p, a + pg, pg, guarded, &old));
    CHECK_EQ(old, VAS_PAGE_READWRITE);
    x = fresh_exception();
    memset(buf, 0xCC, 16);
    CHECK_EXC(vas_read(e.p, a + pg + 8, buf, 8, &x), x, GUARD_VIOLATION, R, a + pg + 8);
    CHECK(all_bytes(buf, 8, 0xCC));
    CHECK_OK(vas_read(e.p, a + pg + 8, buf, 8, &x), x);
    CHECK(memcmp(buf, data, 8) == 0);
    /* Re-setting the guard reports the unguarded protection (fact 61). */
    CHECK(vas_virtual_protect(e.p, a + pg, pg, guarded, &old));
    CHECK_EQ(old, VAS_PAGE_READWRITE);
    CHECK(vas_virtual_protect(e.p, a + pg, pg, guarded, &old));
    CHECK_EQ(old, guarded);
    /* A guarded write to a page with data: the data is unchanged. */
    uint8_t other[8] = {0xEE, 0xEE, 0xEE, 0xEE, 0xEE, 0xEE, 0xEE, 0xEE};
    x = fresh_exception();
    CHECK_EXC(vas_write(e.p, a + pg + 8, other, 8, &x), x, GUARD_VIOLATION, W, a + pg + 8);
    CHECK_OK(vas_read(e.p, a + pg + 8, buf, 8, &x), x);
    CHECK(memcmp(buf, data, 8) == 0);

    /* A fetch from PAGE_EXECUTE_READWRITE|PAGE_GUARD: a guard exception with the fetch's code
       (8 with NX, 0 without: spec section 3 item 15), then the retry runs. */
    uint64_t g = alloc(&e, pg, VAS_MEM_COMMIT | VAS_MEM_RESERVE, VAS_PAGE_EXECUTE_READWRITE | VAS_PAGE_GUARD);
    x = fresh_exception();
    CHECK_EXC(vas_execute(e.p, g + 0x21, buf, 2, &x), x, GUARD_VIOLATION, fetch_code(&e), g + 0x21);
    CHECK_OK(vas_execute(e.p, g + 0x21, buf, 2, &x), x);
    CHECK_EQ(query(e.p, g).protect, VAS_PAGE_EXECUTE_READWRITE);
    CHECK_EQ(query(e.p, g).allocation_protect, VAS_PAGE_EXECUTE_READWRITE | VAS_PAGE_GUARD);

    /* A guard page behind a no-access page: the access violation comes first and the guard
       stays. */
    uint64_t h = alloc(&e, 2 * pg, VAS_MEM_COMMIT | VAS_MEM_RESERVE, VAS_PAGE_READWRITE);
    CHECK(vas_virtual_protect(e.p, h, pg, VAS_PAGE_NOACCESS, &old));
    CHECK(vas_virtual_protect(e.p, h + pg, pg, guarded, &old));
    x = fresh_exception();
    CHECK_EXC(vas_read(e.p, h + pg - 4, buf, 8, &x), x, AV, R, h + pg - 4);
    CHECK_EQ(query(e.p, h + pg).protect, guarded);
    env_close(&e);
}
static void test_guard_pages(void) { each_layout(case_guard); }

/* ---- Multi-page accesses are all or nothing --------------------------------------------- */

static void case_all_or_nothing(const lcase *c)
{
    env e = env_open(c);
    uint64_t pg = e.page;
    /* Pages: 0 RW, 1 RW, 2 READONLY, 3 NOACCESS, 4 EXECUTE_READ, 5 reserved; free memory after. */
    uint64_t a = alloc(&e, 6 * pg, VAS_MEM_RESERVE, VAS_PAGE_READWRITE);
    CHECK_EQ(vas_virtual_alloc(e.p, a, 5 * pg, VAS_MEM_COMMIT, VAS_PAGE_READWRITE), a);
    uint8_t *img = malloc(6 * pg), *buf = malloc(6 * pg), *junk = malloc(6 * pg);
    fill_pattern(img, 5 * pg, 11);
    fill_pattern(junk, 6 * pg, 12);
    vas_exception x = fresh_exception();
    CHECK_OK(vas_write(e.p, a, img, 5 * pg, &x), x);
    uint32_t old;
    CHECK(vas_virtual_protect(e.p, a + 2 * pg, pg, VAS_PAGE_READONLY, &old));
    CHECK(vas_virtual_protect(e.p, a + 3 * pg, pg, VAS_PAGE_NOACCESS, &old));
    CHECK(vas_virtual_protect(e.p, a + 4 * pg, pg, VAS_PAGE_EXECUTE_READ, &old));

    /* Each access: its start, its size, and the first byte that faults, with DEP and without
       (0: no fault). */
    struct {
        uint32_t kind;
        uint64_t start, size, fault_dep, fault_no_dep;
    } cases[] = {
        {W, a + 2 * pg - 8, 16, a + 2 * pg, a + 2 * pg},         /* RW into READONLY */
        {W, a + 8, 3 * pg, a + 2 * pg, a + 2 * pg},              /* three pages, the third read-only */
        {W, a + pg - 1, 3 * pg, a + 2 * pg, a + 2 * pg},         /* four pages */
        {W, a + 5 * pg - 4, 8, a + 5 * pg - 4, a + 5 * pg - 4},  /* starts in EXECUTE_READ */
        {R, a + 3 * pg - 4, 8, a + 3 * pg, a + 3 * pg},          /* READONLY into NOACCESS */
        {R, a, 4 * pg, a + 3 * pg, a + 3 * pg},
        {R, a + 4 * pg + 16, pg, a + 5 * pg, a + 5 * pg},        /* EXECUTE_READ into reserved */
        {R, a + 5 * pg - 1, 2, a + 5 * pg, a + 5 * pg},
        {R, a + pg / 2, 6 * pg, a + 3 * pg, a + 3 * pg},         /* into reserved, then free */
        {X, a + 4 * pg - 4, 8, a + 4 * pg - 4, a + 4 * pg - 4},  /* NOACCESS into EXECUTE_READ */
        {X, a + 5 * pg - 4, 8, a + 5 * pg, a + 5 * pg},          /* EXECUTE_READ into reserved */
        {X, a + 2 * pg - 4, 8, a + 2 * pg - 4, 0},               /* RW into READONLY */
        {X, a + 3 * pg - 4, 8, a + 3 * pg - 4, a + 3 * pg},      /* READONLY into NOACCESS */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint32_t kind = cases[i].kind;
        uint64_t fault = e.dep ? cases[i].fault_dep : cases[i].fault_no_dep;
        int before = check_failures_in_test;
        memcpy(buf, junk, 6 * pg);
        x = fresh_exception();
        uint32_t s = do_access(e.p, kind, cases[i].start, kind == W ? junk : buf, cases[i].size, &x);
        if (fault) {
            CHECK_EXC(s, x, AV, reported(&e, kind), fault);
            CHECK(memcmp(buf, junk, 6 * pg) == 0); /* a faulting read fills nothing */
        } else {
            CHECK_OK(s, x);
            CHECK(memcmp(buf, img + 2 * pg - 4, 8) == 0);
        }
        if (check_failures_in_test != before)
            fprintf(stderr, "  case %zu\n", i);
    }
    /* No faulting write changed a byte. */
    CHECK(vas_virtual_protect(e.p, a, 5 * pg, VAS_PAGE_READWRITE, &old));
    CHECK_EQ(old, VAS_PAGE_READWRITE);
    memset(buf, 0xCC, 5 * pg);
    CHECK_OK(vas_read(e.p, a, buf, 5 * pg, &x), x);
    CHECK(memcmp(buf, img, 5 * pg) == 0);

    /* A write from free memory into a committed page: the first byte faults, nothing moves. */
    uint64_t r = alloc(&e, 2 * GRAN, VAS_MEM_RESERVE, VAS_PAGE_NOACCESS);
    CHECK(vas_virtual_free(e.p, r, 0, VAS_MEM_RELEASE));
    CHECK_EQ(vas_virtual_alloc(e.p, r + GRAN, pg, VAS_MEM_COMMIT | VAS_MEM_RESERVE, VAS_PAGE_READWRITE), r + GRAN);
    x = fresh_exception();
    CHECK_EXC(vas_write(e.p, r + GRAN - 4, junk, 8, &x), x, AV, W, r + GRAN - 4);
    memset(buf, 0xCC, pg);
    CHECK_OK(vas_read(e.p, r + GRAN, buf, pg, &x), x);
    CHECK(all_bytes(buf, pg, 0));
    free(img);
    free(buf);
    free(junk);
    env_close(&e);
}
static void test_multi_page_accesses_are_all_or_nothing(void) { each_layout(case_all_or_nothing); }

/* ---- Bad input ----------------------------------------------------------------------------- */

static void case_bad_input(const lcase *c)
{
    env e = env_open(c);
    uint64_t pg = e.page;
    uint64_t a = alloc(&e, 2 * pg, VAS_MEM_RESERVE, VAS_PAGE_READWRITE);
    CHECK_EQ(vas_virtual_alloc(e.p, a, pg, VAS_MEM_COMMIT, VAS_PAGE_READWRITE), a);
    uint8_t data[8] = {1, 2, 3, 4, 5, 6, 7, 8}, buf[8];
    vas_exception x = fresh_exception();
    CHECK_OK(vas_write(e.p, a, data, 8, &x), x);
    vas_process_counters c0 = counters(e.p);

    /* A NULL buffer with a size: STATUS_INVALID_PARAMETER, no exception in the guest. */
    for (uint32_t k = 0; k < 3; k++) {
        uint32_t kind = k == 0 ? R : k == 1 ? W : X;
        x = fresh_exception();
        CHECK_EQ(do_access(e.p, kind, a, NULL, 4, &x), VAS_STATUS_INVALID_PARAMETER);
        CHECK_EQ(x.code, VAS_STATUS_INVALID_PARAMETER);
        CHECK_EQ(do_access(e.p, kind, a + 2 * pg, NULL, 4, NULL), VAS_STATUS_INVALID_PARAMETER);
    }
    vas_process_counters c1 = counters(e.p);
    CHECK_EQ(c1.page_fault_count, c0.page_fault_count);
    CHECK_EQ(c1.access_violations, c0.access_violations);
    memset(buf, 0xCC, 8);
    CHECK_OK(vas_read(e.p, a, buf, 8, &x), x);
    CHECK(memcmp(buf, data, 8) == 0);

    /* Size 0 succeeds anywhere, with or without a buffer. */
    for (uint32_t k = 0; k < 3; k++) {
        uint32_t kind = k == 0 ? R : k == 1 ? W : X;
        x = fresh_exception();
        CHECK_OK(do_access(e.p, kind, a, buf, 0, &x), x);
        x = fresh_exception();
        CHECK_OK(do_access(e.p, kind, 0, NULL, 0, &x), x);
        x = fresh_exception();
        CHECK_OK(do_access(e.p, kind, a + pg, buf, 0, &x), x); /* reserved */
        CHECK_EQ(do_access(e.p, kind, UINT64_MAX, buf, 0, NULL), 0);
    }
    c1 = counters(e.p);
    CHECK_EQ(c1.page_fault_count, c0.page_fault_count);

    /* A NULL exception pointer is accepted, on success and on failure, fast path or not. */
    CHECK_EQ(vas_read(e.p, a, buf, 8, NULL), 0);
    CHECK_EQ(vas_read(e.p, a, buf, 8, NULL), 0);
    CHECK_EQ(vas_write(e.p, a, data, 8, NULL), 0);
    CHECK_EQ(vas_write(e.p, a + pg, data, 8, NULL), AV);
    CHECK_EQ(vas_execute(e.p, a + pg, buf, 8, NULL), AV);
    CHECK_EQ(vas_read(e.p, 0, buf, 8, NULL), AV);

    /* Accesses that run past the top of the address space: the first byte that faults. */
    uint8_t big[0x4000];
    memset(big, 0xCC, sizeof big);
    x = fresh_exception();
    CHECK_EXC(vas_read(e.p, UINT64_MAX - 0xF, big, 0x20, &x), x, AV, R, UINT64_MAX - 0xF);
    x = fresh_exception();
    CHECK_EXC(vas_write(e.p, UINT64_MAX, big, 2, &x), x, AV, W, UINT64_MAX);
    x = fresh_exception();
    CHECK_EXC(vas_read(e.p, UINT64_MAX - 0x37FF, big, 0x4000, &x), x, AV, R, UINT64_MAX - 0x37FF);
    CHECK(all_bytes(big, sizeof big, 0xCC));
    /* From user space to beyond 2^64: every page is checked first, so the first page that
       faults is reported and nothing moves (the size is larger than the buffer on purpose:
       a faulting read must not touch the buffer at all). */
    x = fresh_exception();
    CHECK_EXC(vas_read(e.p, a + 8, big, (size_t)(0 - (a + 8)) + 0x10, &x), x, AV, R, a + pg);
    CHECK(all_bytes(big, sizeof big, 0xCC));
    x = fresh_exception();
    CHECK_EXC(vas_write(e.p, a + 8, big, (size_t)(0 - (a + 8)) + 0x10, &x), x, AV, W, a + pg);
    memset(buf, 0xCC, 8);
    CHECK_OK(vas_read(e.p, a, buf, 8, &x), x);
    CHECK(memcmp(buf, data, 8) == 0);

    /* A destroyed process and no process: STATUS_INVALID_HANDLE. */
    vas_process *q = vas_process_create(e.m, NULL);
    CHECK(q != NULL);
    uint64_t qa = vas_virtual_alloc(q, 0, pg, VAS_MEM_COMMIT | VAS_MEM_RESERVE, VAS_PAGE_READWRITE);
    CHECK(qa != 0);
    CHECK_EQ(vas_write(q, qa, data, 8, NULL), 0);
    CHECK_EQ(vas_read(q, qa, buf, 8, NULL), 0); /* its TLB holds the page now */
    vas_process_destroy(q);
    for (uint32_t k = 0; k < 3; k++) {
        uint32_t kind = k == 0 ? R : k == 1 ? W : X;
        x = fresh_exception();
        CHECK_EQ(do_access(q, kind, qa, buf, 8, &x), VAS_STATUS_INVALID_HANDLE);
        CHECK_EQ(x.code, VAS_STATUS_INVALID_HANDLE);
        CHECK_EQ(do_access(q, kind, qa, buf, 8, NULL), VAS_STATUS_INVALID_HANDLE);
        CHECK_EQ(do_access(NULL, kind, qa, buf, 8, NULL), VAS_STATUS_INVALID_HANDLE);
    }
    vas_translation t;
    CHECK_EQ(vas_translate(q, qa, R, &t, NULL), VAS_STATUS_INVALID_HANDLE);
    uint64_t phys;
    CHECK_EQ(vas_virtual_to_physical(q, qa, &phys), VAS_STATUS_INVALID_HANDLE);
    vas_page_walk walk;
    CHECK_EQ(vas_page_table_walk(q, qa, &walk), VAS_STATUS_INVALID_HANDLE);
    env_close(&e);
}
static void test_bad_input(void) { each_layout(case_bad_input); }

/* ---- Counters -------------------------------------------------------------------------------- */

static uint64_t tables_per_first_touch(const lcase *c) { return c->table_levels - 1; }

static vas_physical_status phys(vas_machine *m)
{
    vas_physical_status s;
    memset(&s, 0xEE, sizeof s);
    vas_get_physical_status(m, &s);
    return s;
}

static void check_frames(env *e)
{
    vas_process_counters c = counters(e->p);
    vas_physical_status s = phys(e->m);
    CHECK_EQ(s.active, c.working_set_size / e->page + c.page_table_pages);
    CHECK_EQ(s.page_table_frames, c.page_table_pages);
    CHECK_EQ(s.zeroed + s.free + s.standby + s.modified + s.active, s.frame_count - 1);
}

static void case_counters(const lcase *c)
{
    env e = env_open(c);
    uint64_t pg = e.page;
    vas_process_counters c0 = counters(e.p);
    CHECK_EQ(c0.page_table_pages, 1); /* the root, built with the process */
    CHECK_EQ(c0.working_set_size, 0);
    CHECK_EQ(c0.demand_zero_faults, 0);
    CHECK_EQ(c0.page_fault_count, 0);
    check_frames(&e);

    uint64_t a = alloc(&e, 16 * pg, VAS_MEM_COMMIT | VAS_MEM_RESERVE, VAS_PAGE_READWRITE);
    vas_process_counters c1 = counters(e.p);
    CHECK_EQ(c1.working_set_size, 0); /* committing touches nothing */
    CHECK_EQ(c1.demand_zero_faults, 0);
    CHECK_EQ(c1.page_table_pages, 1);

    /* First touch: one demand-zero fault, one page, the tables down to it. */
    uint8_t b[8];
    vas_exception x = fresh_exception();
    CHECK_OK(vas_read(e.p, a + 5, b, 1, &x), x);
    vas_process_counters c2 = counters(e.p);
    CHECK_EQ(c2.demand_zero_faults, 1);
    CHECK_EQ(c2.page_fault_count, 1);
    CHECK_EQ(c2.working_set_size, pg);
    CHECK_EQ(c2.peak_working_set_size, pg);
    CHECK_EQ(c2.page_table_pages, 1 + tables_per_first_touch(c));
    check_frames(&e);
    /* Touching it again, any way: nothing. */
    CHECK_OK(vas_write(e.p, a + 9, b, 4, &x), x);
    CHECK_OK(vas_read(e.p, a, b, 8, &x), x);
    vas_process_counters c3 = counters(e.p);
    CHECK_EQ(c3.demand_zero_faults, 1);
    CHECK_EQ(c3.page_fault_count, 1);
    CHECK_EQ(c3.working_set_size, pg);
    CHECK_EQ(c3.page_table_pages, c2.page_table_pages);
    /* A three-page write over new pages: three more. */
    uint8_t *big = calloc(1, 3 * pg);
    CHECK_OK(vas_write(e.p, a + 2 * pg + 1, big, 3 * pg - 2, &x), x);
    vas_process_counters c4 = counters(e.p);
    CHECK_EQ(c4.demand_zero_faults, 4);
    CHECK_EQ(c4.page_fault_count, 4);
    CHECK_EQ(c4.working_set_size, 4 * pg);
    CHECK_EQ(c4.page_table_pages, c2.page_table_pages);
    /* Access violations count as faults, not as demand-zero ones or pages. */
    CHECK_EQ(vas_read(e.p, 0, b, 1, NULL), AV);
    CHECK_EQ(vas_read(e.p, a + 16 * pg, b, 1, NULL), AV);
    vas_process_counters c5 = counters(e.p);
    CHECK_EQ(c5.access_violations, c4.access_violations + 2);
    CHECK_EQ(c5.page_fault_count, 6);
    CHECK_EQ(c5.demand_zero_faults, 4);
    CHECK_EQ(c5.working_set_size, 4 * pg);
    check_frames(&e);

    /* Decommit returns the frames; release returns the tables too. */
    vas_physical_status s5 = phys(e.m);
    CHECK(vas_virtual_free(e.p, a, 3 * pg, VAS_MEM_DECOMMIT)); /* pages 0 and 2 were touched */
    vas_process_counters c6 = counters(e.p);
    CHECK_EQ(c6.working_set_size, 2 * pg);
    CHECK_EQ(c6.peak_working_set_size, 4 * pg);
    CHECK_EQ(c6.page_table_pages, c2.page_table_pages);
    CHECK_EQ(phys(e.m).active, s5.active - 2);
    check_frames(&e);
    CHECK(vas_virtual_free(e.p, a, 0, VAS_MEM_RELEASE));
    vas_process_counters c7 = counters(e.p);
    CHECK_EQ(c7.working_set_size, 0);
    CHECK_EQ(c7.page_table_pages, 1);
    CHECK_EQ(phys(e.m).active, 1);
    CHECK_EQ(c7.demand_zero_faults, 4); /* counts are totals, not current values */
    check_frames(&e);

    /* Touching again builds the tables again. */
    uint64_t d = alloc(&e, pg, VAS_MEM_COMMIT | VAS_MEM_RESERVE, VAS_PAGE_READWRITE);
    CHECK_OK(vas_write(e.p, d, b, 1, &x), x);
    CHECK_EQ(counters(e.p).page_table_pages, 1 + tables_per_first_touch(c));
    CHECK(vas_virtual_free(e.p, d, pg, VAS_MEM_DECOMMIT));
    CHECK_EQ(counters(e.p).page_table_pages, 1); /* a decommit that empties a table frees it */
    check_frames(&e);
    free(big);
    env_close(&e);
}
static void test_counters_on_every_layout(void) { each_layout(case_counters); }

/* x64: one table per level below the root when a new 512 GB, 1 GB or 2 MB range is touched. */
static void test_counters_x64_tables_by_level(void)
{
    env e = env_open(&CASES[0]);
    const uint64_t base = 0x20000000000ull; /* 2 TB: its own PML4 entry */
    CHECK_EQ(vas_virtual_alloc(e.p, base, 4ull << 30, VAS_MEM_RESERVE, VAS_PAGE_READWRITE), base);
    uint64_t spots[] = {base, base + 0x1000, base + (2ull << 20), base + (1ull << 30), base + (1ull << 30) + 0x5000,
                        base + (3ull << 30) + (6ull << 20)};
    uint64_t added[] = {3, 0, 1, 2, 0, 2};
    vas_exception x = fresh_exception();
    for (size_t i = 0; i < sizeof spots / sizeof spots[0]; i++) {
        CHECK_EQ(vas_virtual_alloc(e.p, spots[i], 0x1000, VAS_MEM_COMMIT, VAS_PAGE_READWRITE), spots[i]);
        uint64_t before = counters(e.p).page_table_pages;
        uint8_t v = (uint8_t)i;
        int failures = check_failures_in_test;
        CHECK_OK(vas_write(e.p, spots[i], &v, 1, &x), x);
        CHECK_EQ(counters(e.p).page_table_pages, before + added[i]);
        if (check_failures_in_test != failures)
            fprintf(stderr, "  spot %zu\n", i);
    }
    CHECK_EQ(counters(e.p).page_table_pages, 1 + 8);
    CHECK_EQ(phys(e.m).page_table_frames, 9);
    /* Decommitting the one page under a 1 GB range frees its page table and directory. */
    CHECK(vas_virtual_free(e.p, spots[5], 0x1000, VAS_MEM_DECOMMIT));
    CHECK_EQ(counters(e.p).page_table_pages, 1 + 6);
    CHECK(vas_virtual_free(e.p, base, 0, VAS_MEM_RELEASE));
    CHECK_EQ(counters(e.p).page_table_pages, 1);
    CHECK_EQ(phys(e.m).active, 1);
    env_close(&e);
}

/* ---- Translation for emulators ------------------------------------------------------------- */

static void case_translate(const lcase *c)
{
    env e = env_open(c);
    vas_process *p = e.p;
    uint64_t pg = e.page;
    uint64_t a = alloc(&e, 4 * pg, VAS_MEM_COMMIT | VAS_MEM_RESERVE, VAS_PAGE_READWRITE);
    uint8_t *pat = malloc(pg), *buf = malloc(pg);
    fill_pattern(pat, pg, 21);
    vas_exception x = fresh_exception();
    CHECK_OK(vas_write(p, a, pat, pg, &x), x);
    uint64_t g0 = vas_mapping_generation(p);

    /* A read translation: the bytes vas_read sees, from the byte asked for to the page end. */
    vas_translation t;
    memset(&t, 0, sizeof t);
    x = fresh_exception();
    CHECK_OK(vas_translate(p, a + 0x101, R, &t, &x), x);
    CHECK(t.host != NULL);
    CHECK_EQ(t.page_base, a);
    CHECK_EQ(t.page_size, pg);
    CHECK_EQ(t.protect, VAS_PAGE_READWRITE);
    CHECK_EQ(t.generation, g0);
    CHECK_EQ(t.physical_address & (pg - 1), 0x101);
    if (t.host) {
        memset(buf, 0xCC, pg);
        CHECK_OK(vas_read(p, a + 0x101, buf, pg - 0x101, &x), x);
        CHECK(memcmp(t.host, buf, pg - 0x101) == 0);
        CHECK(memcmp(t.host, pat + 0x101, pg - 0x101) == 0);
    }
    uint64_t pa = 0;
    CHECK_EQ(vas_virtual_to_physical(p, a + 0x101, &pa), 0);
    CHECK_EQ(pa, t.physical_address);

    /* A write translation: writes through it are what vas_read returns. */
    vas_translation tw;
    memset(&tw, 0, sizeof tw);
    CHECK_OK(vas_translate(p, a + pg + 0x10, W, &tw, &x), x); /* a page never touched */
    CHECK(tw.host != NULL);
    if (tw.host) {
        CHECK(all_bytes(tw.host - 0x10, pg, 0)); /* demand zero */
        memcpy(tw.host, "translated", 10);
        memset(buf, 0xCC, 16);
        CHECK_OK(vas_read(p, a + pg + 0x10, buf, 10, &x), x);
        CHECK(memcmp(buf, "translated", 10) == 0);
    }
    CHECK_EQ(tw.generation, g0);

    /* Plain reads, first touches among them, leave the generation alone. */
    CHECK_OK(vas_read(p, a, buf, pg, &x), x);
    CHECK_OK(vas_read(p, a + 2 * pg, buf, 8, &x), x);
    CHECK_OK(vas_read(p, a + 2 * pg, buf, 8, &x), x);
    CHECK_OK(vas_execute(p, a + 3 * pg, buf, 0, &x), x);
    CHECK_EQ(vas_mapping_generation(p), g0);

    /* Refusals: a write to a read-only page, a fetch without DEP's leave, bad arguments. */
    uint32_t old;
    CHECK(vas_virtual_protect(p, a + 3 * pg, pg, VAS_PAGE_READONLY, &old));
    uint64_t g1 = vas_mapping_generation(p);
    CHECK(g1 != g0);
    x = fresh_exception();
    CHECK_EXC(vas_translate(p, a + 3 * pg + 4, W, &t, &x), x, AV, W, a + 3 * pg + 4);
    if (e.dep) {
        x = fresh_exception();
        CHECK_EXC(vas_translate(p, a + 4, X, &t, &x), x, AV, X, a + 4);
    } else {
        CHECK_OK(vas_translate(p, a + 4, X, &t, &x), x);
    }
    x = fresh_exception();
    CHECK_EXC(vas_translate(p, a + 4 * pg, R, &t, &x), x, AV, R, a + 4 * pg);
    CHECK_EQ(vas_translate(p, a, 2, &t, &x), VAS_STATUS_INVALID_PARAMETER);
    CHECK_EQ(vas_translate(p, a, R, NULL, &x), VAS_STATUS_INVALID_PARAMETER);
    CHECK_EQ(vas_mapping_generation(p), g1);

    /* Protect, decommit, release and guard consumption move the generation on. */
    CHECK(vas_virtual_protect(p, a, pg, VAS_PAGE_READONLY, &old));
    uint64_t g2 = vas_mapping_generation(p);
    CHECK(g2 != g1);
    CHECK(vas_virtual_free(p, a + 2 * pg, pg, VAS_MEM_DECOMMIT));
    uint64_t g3 = vas_mapping_generation(p);
    CHECK(g3 != g2);
    CHECK(vas_virtual_protect(p, a + pg, pg, VAS_PAGE_READWRITE | VAS_PAGE_GUARD, &old));
    uint64_t g4 = vas_mapping_generation(p);
    CHECK(g4 != g3);
    x = fresh_exception();
    CHECK_EXC(vas_translate(p, a + pg + 0x10, R, &t, &x), x, GUARD_VIOLATION, R, a + pg + 0x10);
    uint64_t g5 = vas_mapping_generation(p);
    CHECK(g5 != g4);
    memset(&t, 0, sizeof t);
    CHECK_OK(vas_translate(p, a + pg + 0x10, R, &t, &x), x);
    CHECK_EQ(t.generation, g5);
    if (t.host)
        CHECK(memcmp(t.host, "translated", 10) == 0);
    CHECK_EQ(vas_mapping_generation(p), g5);
    CHECK(vas_virtual_free(p, a, 0, VAS_MEM_RELEASE));
    CHECK(vas_mapping_generation(p) != g5);
    free(pat);
    free(buf);
    env_close(&e);
}
static void test_translate(void) { each_layout(case_translate); }

/* ---- Physical memory views ------------------------------------------------------------------- */

static uint64_t frame_mask(const env *e)
{
    return e->c->entry_size == 4 ? 0xFFFFF000ull & ~(e->page - 1) : 0x000FFFFFFFFFF000ull & ~(e->page - 1);
}

static uint32_t expected_index(const env *e, uint64_t va, uint32_t level)
{
    uint32_t shift = e->page == 0x2000 ? 13 : 12;
    uint32_t bits = e->c->entry_size == 4 || e->page == 0x2000 ? 10 : 9;
    uint32_t s = shift + bits * (e->c->table_levels - 1 - level);
    return (uint32_t)((va >> s) & ((1u << bits) - 1));
}

static void check_walk(env *e, uint64_t va, int writable, int executable)
{
    static const char *const x64[] = {"PML4E", "PDPTE", "PDE", "PTE"};
    static const char *const x86[] = {"PDE", "PTE"};
    static const char *const ia64[] = {"PPE", "PDE", "PTE"};
    vas_page_walk w;
    memset(&w, 0xCC, sizeof w);
    CHECK_EQ(vas_page_table_walk(e->p, va, &w), 0);
    CHECK_EQ(w.table_levels, e->c->table_levels);
    CHECK_EQ(w.levels, e->c->table_levels);
    CHECK_EQ(w.resident, 1);
    uint64_t mask = frame_mask(e);
    uint64_t ram = 64ull << 20;
    for (uint32_t l = 0; l < w.levels && l < 4; l++) {
        const vas_page_walk_level *lv = &w.level[l];
        CHECK(lv->name != NULL);
        if (lv->name && e->c->table_levels == 4)
            CHECK(strcmp(lv->name, x64[l]) == 0);
        if (lv->name && e->c->table_levels == 2)
            CHECK(strcmp(lv->name, x86[l]) == 0);
        if (lv->name && e->c->table_levels == 3)
            CHECK(strcmp(lv->name, ia64[l]) == 0);
        CHECK_EQ(lv->index, expected_index(e, va, l));
        CHECK_EQ(lv->table_physical & (e->page - 1), 0);
        CHECK(lv->table_physical != 0 && lv->table_physical < ram);
        CHECK_EQ(lv->entry & 1, 1); /* valid */
        if (e->c->entry_size == 4)
            CHECK(lv->entry <= 0xFFFFFFFFull);
        if (l + 1 < w.levels)
            CHECK_EQ(lv->entry & mask, w.level[l + 1].table_physical);
        CHECK(lv->meaning[0] != 0);
    }
    const vas_page_walk_level *leaf = &w.level[w.levels >= 1 && w.levels <= 4 ? w.levels - 1 : 0];
    CHECK_EQ(leaf->entry & mask, w.physical_address & ~(e->page - 1));
    CHECK_EQ(w.physical_address & (e->page - 1), va & (e->page - 1));
    CHECK(w.physical_address < ram);
    if (e->c->layout[0] != 'i') { /* the x86 and x64 hardware bits */
        CHECK_EQ((leaf->entry >> 1) & 1, (uint64_t)writable);
        CHECK_EQ((leaf->entry >> 2) & 1, 1); /* user */
    }
    if (e->c->entry_size == 8 && e->c->layout[0] == 'x')
        CHECK_EQ(leaf->entry >> 63, (uint64_t)!executable);
    uint64_t pa = 0;
    CHECK_EQ(vas_virtual_to_physical(e->p, va, &pa), 0);
    CHECK_EQ(pa, w.physical_address);
}

static void case_physical(const lcase *c)
{
    env e = env_open(c);
    uint64_t pg = e.page;
    uint64_t a = alloc(&e, 3 * pg, VAS_MEM_COMMIT | VAS_MEM_RESERVE, VAS_PAGE_READWRITE);
    uint64_t pa = 0x1234;
    /* Nothing is resident before the first touch. */
    CHECK_EQ(vas_virtual_to_physical(e.p, a + 5, &pa), VAS_STATUS_INVALID_ADDRESS);
    CHECK_EQ(pa, 0x1234);
    vas_page_walk w;
    memset(&w, 0xCC, sizeof w);
    CHECK_EQ(vas_page_table_walk(e.p, a + 5, &w), 0);
    CHECK_EQ(w.resident, 0);
    CHECK_EQ(w.table_levels, c->table_levels);
    CHECK(w.levels >= 1 && w.levels <= c->table_levels);
    CHECK_EQ(w.level[w.levels >= 1 && w.levels <= 4 ? w.levels - 1 : 0].entry & 1, 0);
    /* Walking does not fault anything in. */
    CHECK_EQ(counters(e.p).demand_zero_faults, 0);
    CHECK_EQ(counters(e.p).page_table_pages, 1);

    uint8_t v = 0x77;
    vas_exception x = fresh_exception();
    CHECK_OK(vas_write(e.p, a + 5, &v, 1, &x), x);
    check_walk(&e, a + 5, 1, 0);
    check_walk(&e, a + pg - 1, 1, 0);
    /* The frame holds the byte: the translation's physical address agrees. */
    vas_translation t;
    CHECK_OK(vas_translate(e.p, a + 5, R, &t, &x), x);
    CHECK_EQ(vas_virtual_to_physical(e.p, a + 5, &pa), 0);
    CHECK_EQ(t.physical_address, pa);
    if (t.host)
        CHECK_EQ(t.host[0], 0x77);
    /* Still unresident: the untouched neighbour (its walk reaches the leaf table now). */
    CHECK_EQ(vas_virtual_to_physical(e.p, a + pg, &pa), VAS_STATUS_INVALID_ADDRESS);
    memset(&w, 0xCC, sizeof w);
    CHECK_EQ(vas_page_table_walk(e.p, a + pg, &w), 0);
    CHECK_EQ(w.resident, 0);
    CHECK_EQ(w.levels, c->table_levels);
    /* Two pages, two frames; a protection change shows in the leaf entry. */
    CHECK_OK(vas_write(e.p, a + 2 * pg, &v, 1, &x), x);
    uint64_t p0 = 0, p2 = 0;
    CHECK_EQ(vas_virtual_to_physical(e.p, a, &p0), 0);
    CHECK_EQ(vas_virtual_to_physical(e.p, a + 2 * pg, &p2), 0);
    CHECK(p0 / pg != p2 / pg);
    uint32_t old;
    CHECK(vas_virtual_protect(e.p, a + 2 * pg, pg, VAS_PAGE_EXECUTE_READ, &old));
    check_walk(&e, a + 2 * pg + 3, 0, 1);
    uint64_t p2b = 0;
    CHECK_EQ(vas_virtual_to_physical(e.p, a + 2 * pg, &p2b), 0);
    CHECK_EQ(p2b, p2); /* the same frame */
    /* Decommitted: not resident any more. */
    CHECK(vas_virtual_free(e.p, a, pg, VAS_MEM_DECOMMIT));
    CHECK_EQ(vas_virtual_to_physical(e.p, a + 5, &pa), VAS_STATUS_INVALID_ADDRESS);
    env_close(&e);
}
static void test_physical_address_and_page_walk(void) { each_layout(case_physical); }

/* The leaf entry's Accessed (bit 5) and Dirty (bit 6) bits, as the CPU keeps them: a page only
   read is accessed and clean, a written one dirty; a protection change keeps a clean page clean
   (the bits of an invalid PTE, which hold its protection, are no dirty bit). */
static uint64_t leaf_entry(env *e, uint64_t va)
{
    vas_page_walk w;
    memset(&w, 0, sizeof w);
    CHECK_EQ(vas_page_table_walk(e->p, va, &w), 0);
    CHECK_EQ(w.resident, 1);
    return w.levels >= 1 && w.levels <= 4 ? w.level[w.levels - 1].entry : 0;
}

static void case_accessed_dirty(const lcase *c)
{
    env e = env_open(c);
    uint64_t pg = e.page;
    uint64_t a = alloc(&e, 2 * pg, VAS_MEM_COMMIT | VAS_MEM_RESERVE, VAS_PAGE_EXECUTE_READ);
    uint8_t b[4] = {1, 2, 3, 4};
    vas_exception x = fresh_exception();
    CHECK_OK(vas_read(e.p, a, b, 4, &x), x);
    uint64_t pte = leaf_entry(&e, a);
    CHECK_EQ((pte >> 5) & 1, 1);
    CHECK_EQ((pte >> 6) & 1, 0);
    /* Through guard and no-access protections and back: never written, so still clean. */
    static const uint32_t trip[] = {VAS_PAGE_EXECUTE_READ | VAS_PAGE_GUARD, VAS_PAGE_READWRITE,
                                    VAS_PAGE_EXECUTE_READWRITE | VAS_PAGE_GUARD, VAS_PAGE_EXECUTE_READ,
                                    VAS_PAGE_EXECUTE | VAS_PAGE_GUARD, VAS_PAGE_READONLY};
    for (size_t i = 0; i < sizeof trip / sizeof trip[0]; i++) {
        uint32_t old;
        CHECK(vas_virtual_protect(e.p, a, pg, trip[i], &old));
        if (!(trip[i] & VAS_PAGE_GUARD)) {
            pte = leaf_entry(&e, a);
            CHECK_EQ(pte & 1, 1);
            CHECK_EQ((pte >> 6) & 1, 0);
        }
    }
    CHECK_OK(vas_read(e.p, a, b, 4, &x), x);
    CHECK_EQ((leaf_entry(&e, a) >> 6) & 1, 0);
    /* Written: dirty, and still dirty when made read-only. */
    uint32_t old;
    CHECK(vas_virtual_protect(e.p, a + pg, pg, VAS_PAGE_READWRITE, &old));
    CHECK_OK(vas_write(e.p, a + pg + 3, b, 4, &x), x);
    pte = leaf_entry(&e, a + pg);
    CHECK_EQ((pte >> 5) & 1, 1);
    CHECK_EQ((pte >> 6) & 1, 1);
    CHECK(vas_virtual_protect(e.p, a + pg, pg, VAS_PAGE_READONLY, &old));
    pte = leaf_entry(&e, a + pg);
    CHECK_EQ((pte >> 6) & 1, 1);
    CHECK_EQ((pte >> 1) & 1, 0);
    env_close(&e);
}
static void test_accessed_and_dirty_bits(void) { each_layout(case_accessed_dirty); }

/* Frames freed by one process reach the next one zeroed, also when the zeroed list has run dry
   and they come from the free list (checklist 26). */
static void case_recycled_frames(const lcase *c)
{
    vas_machine_config mc;
    memset(&mc, 0, sizeof mc);
    mc.layout = c->layout;
    mc.ram_bytes = 1ull << 20;
    vas_machine *m = vas_machine_create(&mc);
    CHECK(m != NULL);
    if (!m)
        return;
    vas_physical_status s;
    vas_get_physical_status(m, &s);
    uint64_t frames = s.frame_count, pg = s.page_size;
    vas_process_config pc;
    memset(&pc, 0, sizeof pc);
    pc.bits = c->bits;
    for (int round = 0; round < 3; round++) {
        vas_process *p = vas_process_create(m, &pc);
        CHECK(p != NULL);
        if (!p)
            break;
        uint64_t n = frames - 16; /* every frame but room for the tables */
        uint64_t a = vas_virtual_alloc(p, 0, n * pg, VAS_MEM_COMMIT | VAS_MEM_RESERVE, VAS_PAGE_READWRITE);
        CHECK(a != 0);
        uint8_t *buf = malloc(pg);
        int zero = 1;
        for (uint64_t i = 0; i < n; i++) {
            memset(buf, 0xCC, pg);
            CHECK_EQ(vas_read(p, a + i * pg, buf, pg, NULL), 0);
            zero &= all_bytes(buf, pg, 0);
            memset(buf, 0xFF, pg);
            CHECK_EQ(vas_write(p, a + i * pg, buf, pg, NULL), 0);
        }
        CHECK(zero);
        /* Decommit half and commit it again in the same process: zero again. */
        CHECK(vas_virtual_free(p, a, n / 2 * pg, VAS_MEM_DECOMMIT));
        CHECK_EQ(vas_virtual_alloc(p, a, n / 2 * pg, VAS_MEM_COMMIT, VAS_PAGE_READWRITE), a);
        zero = 1;
        for (uint64_t i = 0; i < n / 2; i++) {
            CHECK_EQ(vas_read(p, a + i * pg, buf, pg, NULL), 0);
            zero &= all_bytes(buf, pg, 0);
        }
        CHECK(zero);
        free(buf);
        vas_process_destroy(p);
    }
    vas_get_physical_status(m, &s);
    CHECK_EQ(s.active, 0);
    CHECK_EQ(s.zeroed + s.free, s.frame_count - 1);
    CHECK_EQ(vas_check(m), 0);
    vas_machine_destroy(m);
}
static void test_recycled_frames_read_zero(void) { each_layout(case_recycled_frames); }

static const check_test tests[] = {
    TEST(test_committed_memory_reads_zero_until_written),
    TEST(test_read_write_execute_by_protection),
    TEST(test_access_violation_on_free_and_reserved_memory),
    TEST(test_access_violation_in_every_partition),
    TEST(test_fact_64_kernel_address_from_32_bit_code),
    TEST(test_kuser_shared_data_is_read_only),
    TEST(test_fact_65_dep_execute_fault_code_8),
    TEST(test_fact_67_dep_off),
    TEST(test_fact_68_protect_after_execute_fault),
    TEST(test_dep_policy_api),
    TEST(test_guard_pages),
    TEST(test_multi_page_accesses_are_all_or_nothing),
    TEST(test_bad_input),
    TEST(test_counters_on_every_layout),
    TEST(test_counters_x64_tables_by_level),
    TEST(test_translate),
    TEST(test_physical_address_and_page_walk),
    TEST(test_accessed_and_dirty_bits),
    TEST(test_recycled_frames_read_zero),
};

CHECK_MAIN(tests)
