/*
 * test_paging.c - paging files, working sets and memory pressure, as the paging issue and
 * nt-memory-manager.md sections 1-2 (checklist items 26-38) describe them. Black-box: vas.h only.
 *
 *   test_paging [full|small [test]]   small: the machines that touch all their commit shrink
 *                                      (debug builds, where every call runs the checker)
 *
 * What is covered:
 *   - the commit limit is RAM (less the 1/64 the system keeps) plus the paging files, and every
 *     byte committed up to it can be written and read back; past it ERROR_COMMITMENT_LIMIT with
 *     nothing changed; paging files are added (16 at most), refused on a bad path or size;
 *   - working sets: the 50/345-page defaults, SetProcessWorkingSetSize's checks, EmptyWorkingSet
 *     (soft faults afterwards), standby and modified lists, the modified page writer and its
 *     clusters, repurposed standby frames and the hard faults that bring their pages back;
 *   - which list a frame comes from (zeroed before free for demand-zero pages; modified frames
 *     never reused before they are written, even when every write fails);
 *   - what each replacement policy guarantees when it trims;
 *   - VirtualLock / VirtualUnlock: quota, errors, guard pages, locked pages staying put;
 *   - paging-file I/O that fails: STATUS_IN_PAGE_ERROR at the exact address, nothing lost, and
 *     a failed access moves no byte even when it spans more pages than memory holds at once.
 *
 * A page is "in the working set" when its leaf PTE is valid (vas_page_table_walk); a trimmed
 * page keeps its frame behind a transition PTE ("resident"), a paged-out one has neither.
 */
#include "check.h"
#include "figures.h"

#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

#define PAGE 0x1000ull
#define MiB (1ull << 20)
#define STATUS_GUARD_RAW 0x80000001u
#define ERROR_PATH_NOT_FOUND 3u

static bool small_run; /* debug builds: smaller machines where a test touches all its commit */

#include "memstore.h"


static mem_store *store_new(uint64_t size)
{
    mem_store *s = calloc(1, sizeof *s);
    s->bytes = calloc(1, size);
    s->size = size;
    return s;
}

static void store_free(mem_store *s)
{
    free(s->bytes);
    free(s);
}

/* ---- Helpers ------------------------------------------------------------------------------- */

/* A machine with `ram` bytes, a paging file of `pagefile` bytes (VAS_NO_PAGEFILE: none) that
   is a host file, or the store when one is given, and a replacement policy. */
static vas_machine *machine(uint64_t ram, uint64_t pagefile, uint32_t policy, mem_store *store)
{
    vas_machine_config c = {0};
    c.ram_bytes = ram;
    c.pagefile_bytes = pagefile;
    c.replacement_policy = policy;
    if (store) {
        c.pagefile_ops = &store_ops;
        c.pagefile_file = store;
    }
    vas_machine *m = vas_machine_create(&c);
    if (!m) {
        fprintf(stderr, "test_paging: cannot create a machine (error %u)\n", vas_last_error());
        exit(2);
    }
    return m;
}

static vas_process *process(vas_machine *m)
{
    vas_process *p = vas_process_create(m, NULL);
    if (!p) {
        fprintf(stderr, "test_paging: cannot create a process (error %u)\n", vas_last_error());
        exit(2);
    }
    return p;
}

static uint64_t commit(vas_process *p, uint64_t size)
{
    uint64_t a = vas_virtual_alloc(p, 0, size, VAS_MEM_COMMIT | VAS_MEM_RESERVE, VAS_PAGE_READWRITE);
    CHECK(a != 0);
    return a;
}

static uint64_t ws_pages(vas_process *p) { return counters(p).working_set_size / PAGE; }

/* The leaf PTE of a page, or 0 when the walk stops above it. */
static uint64_t leaf_pte(vas_process *p, uint64_t va)
{
    vas_page_walk w;
    CHECK_EQ(vas_page_table_walk(p, va, &w), VAS_STATUS_SUCCESS);
    return w.levels == w.table_levels ? w.level[w.levels - 1].entry : 0;
}

static bool in_working_set(vas_process *p, uint64_t va) { return leaf_pte(p, va) & 1; } /* Valid */

static bool resident(vas_process *p, uint64_t va)
{
    uint64_t pa;
    return vas_virtual_to_physical(p, va, &pa) == VAS_STATUS_SUCCESS;
}

/* The bytes every test writes: one 64-bit word per 8 bytes, from a tag and the page's address. */
static void pattern(uint8_t *buffer, uint64_t tag, uint64_t va, size_t size)
{
    for (size_t i = 0; i < size; i += 8) {
        uint64_t x = (va + i) * 0x9E3779B97F4A7C15ull ^ (tag + 1) * 0xD1B54A32D192ED03ull;
        x ^= x >> 29;
        memcpy(buffer + i, &x, size - i < 8 ? size - i : 8);
    }
}

static uint32_t write_page(vas_process *p, uint64_t va, uint64_t tag)
{
    uint8_t page[PAGE];
    pattern(page, tag, va, PAGE);
    return vas_write(p, va, page, PAGE, NULL);
}

/* Reads a page back: true when every byte is the tag's (tag UINT64_MAX: zeros). */
static bool page_is(vas_process *p, uint64_t va, uint64_t tag)
{
    uint8_t page[PAGE], want[PAGE];
    if (tag == UINT64_MAX)
        memset(want, 0, PAGE);
    else
        pattern(want, tag, va, PAGE);
    vas_exception e;
    uint32_t status = vas_read(p, va, page, PAGE, &e);
    if (status) {
        fprintf(stderr, "test_paging: reading %#llx raised %s\n", (unsigned long long)va, vas_status_name(status));
        return false;
    }
    return memcmp(page, want, PAGE) == 0;
}

/* Reads one byte of each page (a touch), without checking it. */
static void touch(vas_process *p, uint64_t va, uint64_t pages)
{
    for (uint64_t i = 0; i < pages; i++) {
        uint8_t b;
        CHECK_EQ(vas_read(p, va + i * PAGE, &b, 1, NULL), 0);
    }
}

/* Pushes every page of p out of memory: empty its working set, write the modified pages, then
   let a passing process read twice the machine's frames (clean pages, never written) so that
   every frame p left on standby is repurposed. The hog goes, its frames go to the free list. */
static void page_out(vas_machine *m, vas_process *p)
{
    CHECK(vas_empty_working_set(p));
    vas_write_modified_pages(m);
    vas_physical_status ph = physical(m);
    vas_process *hog = process(m);
    uint64_t pages = 2 * ph.frame_count;
    uint64_t a = commit(hog, pages * PAGE);
    touch(hog, a, pages);
    vas_process_destroy(hog);
}

/* ---- The commit limit and paging files (checklist 38, 63) ---------------------------------- */

/* Two processes commit everything the limit allows, write a pattern to every page and read it
   all back: the commit charge is a promise that every committed page has a home. */
static void commit_and_touch_everything(uint64_t ram, uint64_t pagefile)
{
    vas_machine *m = machine(ram, pagefile, VAS_REPLACE_WS_AGING, NULL);
    vas_process *p[2] = {process(m), process(m)};
    vas_memory_status s = memory(m);
    CHECK_EQ(s.total_phys, ram);
    CHECK_EQ(s.commit_limit, ram - ram / 64 + pagefile);
    CHECK_EQ(s.commit_total, 0);
    CHECK_EQ(s.avail_commit, s.commit_limit);

    /* Past the limit: refused, nothing reserved or charged. */
    vas_process_counters before = counters(p[0]);
    CHECK_FAILS(vas_virtual_alloc(p[0], 0, s.commit_limit + PAGE, VAS_MEM_COMMIT | VAS_MEM_RESERVE,
                                  VAS_PAGE_READWRITE), VAS_ERROR_COMMITMENT_LIMIT);
    CHECK_EQ(counters(p[0]).virtual_size, before.virtual_size);
    CHECK_EQ(counters(p[0]).commit_charge, 0);
    CHECK_EQ(memory(m).commit_total, 0);

    uint64_t size[2] = {(s.commit_limit / 2) & ~(PAGE - 1), 0};
    size[1] = s.commit_limit - size[0];
    uint64_t base[2] = {commit(p[0], size[0]), commit(p[1], size[1])};
    CHECK_EQ(memory(m).commit_total, s.commit_limit);
    CHECK_EQ(memory(m).avail_commit, 0);

    /* One page more, in a reservation: the reservation stays, the commit is refused. */
    uint64_t r = vas_virtual_alloc(p[1], 0, 0x10000, VAS_MEM_RESERVE, VAS_PAGE_READWRITE);
    CHECK(r != 0);
    CHECK_FAILS(vas_virtual_alloc(p[1], r, PAGE, VAS_MEM_COMMIT, VAS_PAGE_READWRITE), VAS_ERROR_COMMITMENT_LIMIT);
    vas_memory_basic_information mbi;
    CHECK_EQ(vas_virtual_query(p[1], r, &mbi, sizeof mbi), sizeof mbi);
    CHECK_EQ(mbi.state, VAS_MEM_RESERVE);
    CHECK_EQ(mbi.region_size, 0x10000);
    CHECK_EQ(memory(m).commit_total, s.commit_limit);
    CHECK(vas_virtual_free(p[1], r, 0, VAS_MEM_RELEASE));

    /* Every page written, every page read back, alternating between the processes. */
    uint64_t failures = 0;
    for (uint64_t i = 0; i < size[0] / PAGE || i < size[1] / PAGE; i++)
        for (int k = 0; k < 2; k++)
            if (i < size[k] / PAGE && write_page(p[k], base[k] + i * PAGE, (uint64_t)k) && failures++ < 5)
                fprintf(stderr, "test_paging: writing page %llu of process %d failed\n", (unsigned long long)i, k);
    CHECK_EQ(failures, 0);
    for (int k = 1; k >= 0; k--)
        for (uint64_t i = 0; i < size[k] / PAGE; i++)
            if (!page_is(p[k], base[k] + i * PAGE, (uint64_t)k) && failures++ < 5)
                fprintf(stderr, "test_paging: page %llu of process %d reads wrong\n", (unsigned long long)i, k);
    CHECK_EQ(failures, 0);
    vas_paging_status ps = paging(m);
    CHECK(ps.writes > 0);
    CHECK(ps.pages_written > ps.writes); /* clustered */
    CHECK(ps.reads > 0);
    CHECK_EQ(ps.read_errors + ps.write_errors, 0);
    CHECK(counters(p[0]).hard_faults + counters(p[1]).hard_faults > 0);
    CHECK_EQ(ps.pagefile_bytes, pagefile);
    CHECK(ps.pagefile_used <= pagefile);
    CHECK_EQ(vas_check(m), 0);
    vas_machine_destroy(m);
}

static void commit_limit_is_ram_plus_paging_file(void)
{
    /* The machine: 64 MB of RAM and a 256 MB paging file let processes commit
       319 MB (the system keeps 1 MB), all of which can be touched. */
    vas_machine *m = machine(64 * MiB, 256 * MiB, VAS_REPLACE_WS_AGING, NULL);
    CHECK_EQ(memory(m).commit_limit, 319 * MiB);
    vas_machine_info mi;
    vas_get_machine_info(m, &mi);
    CHECK_EQ(mi.pagefile_bytes, 256 * MiB);
    vas_paging_status ps = paging(m);
    CHECK_EQ(ps.paging_files, 1);
    CHECK_EQ(ps.pagefile_bytes, 256 * MiB);
    CHECK_EQ(ps.pagefile_used, 0);
    vas_machine_destroy(m);
    if (small_run)
        commit_and_touch_everything(16 * MiB, 64 * MiB);
    else
        commit_and_touch_everything(64 * MiB, 256 * MiB);
}

static void paging_files_grow_the_limit_up_to_sixteen(void)
{
    char dir[] = "/tmp/vas-paging-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    vas_machine *m = machine(2 * MiB, VAS_NO_PAGEFILE, VAS_REPLACE_WS_AGING, NULL);
    uint64_t limit = 2 * MiB - 2 * MiB / 64;
    CHECK_EQ(memory(m).commit_limit, limit);
    CHECK_EQ(paging(m).paging_files, 0);

    /* Refused: sizes not in whole pages, a path that cannot be, no backing-store functions. */
    CHECK_FAILS(vas_add_paging_file(m, NULL, MiB + 1), VAS_ERROR_INVALID_PARAMETER);
    CHECK_FAILS(vas_add_paging_file(m, NULL, 0), VAS_ERROR_INVALID_PARAMETER);
    CHECK_FAILS(vas_add_paging_file(m, "/nonexistent-vas-directory/pagefile.sys", MiB), ERROR_PATH_NOT_FOUND);
    CHECK_FAILS(vas_add_paging_file_ops(m, NULL, NULL, MiB), VAS_ERROR_INVALID_PARAMETER);
    vas_backing_ops half = {store_read, NULL, NULL};
    mem_store *store = store_new(MiB);
    CHECK_FAILS(vas_add_paging_file_ops(m, &half, store, MiB), VAS_ERROR_INVALID_PARAMETER);
    CHECK_FAILS(vas_add_paging_file(NULL, NULL, MiB), VAS_ERROR_INVALID_HANDLE);
    CHECK_EQ(memory(m).commit_limit, limit);
    CHECK_EQ(paging(m).paging_files, 0);
    CHECK_EQ(paging(m).pagefile_bytes, 0);

    /* Sixteen: host files at paths, temporary ones, and one in memory. */
    char paths[16][64];
    for (int i = 0; i < 16; i++) {
        snprintf(paths[i], sizeof paths[i], "%s/pagefile%d.sys", dir, i);
        int ok = i == 15 ? vas_add_paging_file_ops(m, &store_ops, store, MiB)
                         : vas_add_paging_file(m, i % 2 ? NULL : paths[i], MiB);
        CHECK(ok);
        CHECK_EQ(memory(m).commit_limit, limit + (uint64_t)(i + 1) * MiB);
        CHECK_EQ(paging(m).paging_files, (uint64_t)i + 1);
        if (i % 2 == 0 && i != 15) {
            struct stat st;
            CHECK_EQ(stat(paths[i], &st), 0);
            CHECK_EQ(st.st_size, MiB);
        }
    }
    CHECK_FAILS(vas_add_paging_file(m, NULL, MiB), VAS_ERROR_NOT_ENOUGH_MEMORY);
    CHECK_FAILS(vas_add_paging_file_ops(m, &store_ops, store, MiB), VAS_ERROR_NOT_ENOUGH_MEMORY);
    CHECK_EQ(memory(m).commit_limit, limit + 16 * MiB);
    CHECK_EQ(paging(m).paging_files, 16);
    CHECK_EQ(paging(m).pagefile_bytes, 16 * MiB);

    /* They hold pages: 12 MB on a 2 MB machine, written and read back. */
    vas_process *p = process(m);
    uint64_t pages = 12 * MiB / PAGE, a = commit(p, pages * PAGE), wrong = 0;
    for (uint64_t i = 0; i < pages; i++)
        CHECK_EQ(write_page(p, a + i * PAGE, 7), 0);
    for (uint64_t i = 0; i < pages; i++)
        wrong += !page_is(p, a + i * PAGE, 7);
    CHECK_EQ(wrong, 0);
    CHECK(paging(m).pagefile_used > 8 * MiB); /* more than eight files' worth */
    CHECK(counters(p).hard_faults > 0);
    CHECK_EQ(vas_check(m), 0);
    vas_machine_destroy(m);
    CHECK_EQ(store->closed, 1);
    CHECK_EQ(store->out_of_range, 0);
    store_free(store);
    for (int i = 0; i < 16; i += 2)
        unlink(paths[i]);
    rmdir(dir);
}

static void machine_creation_refuses_a_bad_paging_file(void)
{
    vas_machine_config c = {0};
    c.ram_bytes = 4 * MiB;
    c.pagefile_bytes = 4 * MiB;
    c.pagefile_path = "/nonexistent-vas-directory/pagefile.sys";
    vas_set_last_error(0);
    CHECK(vas_machine_create(&c) == NULL);
    CHECK_EQ(vas_last_error(), ERROR_PATH_NOT_FOUND);
    c.pagefile_path = NULL;
    c.pagefile_bytes = 4 * MiB + 1;
    vas_set_last_error(0);
    CHECK(vas_machine_create(&c) == NULL);
    CHECK_EQ(vas_last_error(), VAS_ERROR_INVALID_PARAMETER);

    /* A backing store given at creation is the first paging file, and is closed with the machine. */
    mem_store *store = store_new(4 * MiB);
    vas_machine *m = machine(4 * MiB, 4 * MiB, VAS_REPLACE_WS_AGING, store);
    CHECK_EQ(paging(m).paging_files, 1);
    CHECK_EQ(memory(m).commit_limit, 4 * MiB - 4 * MiB / 64 + 4 * MiB);
    vas_machine_destroy(m);
    CHECK_EQ(store->closed, 1);
    store_free(store);
}

/* ---- Working sets (checklist 27, 28, 36) --------------------------------------------------- */

static void working_set_size_defaults_and_checks(void)
{
    vas_machine *m = machine(64 * MiB, 64 * MiB, VAS_REPLACE_WS_AGING, NULL);
    vas_process *p = process(m);
    uint64_t lo = 0, hi = 0;
    CHECK(vas_get_process_working_set_size(p, &lo, &hi));
    CHECK_EQ(lo, 50 * PAGE);
    CHECK_EQ(hi, 345 * PAGE);
    CHECK(vas_set_process_working_set_size(p, 100 * PAGE, 200 * PAGE));
    CHECK(vas_get_process_working_set_size(p, &lo, &hi));
    CHECK_EQ(lo, 100 * PAGE);
    CHECK_EQ(hi, 200 * PAGE);
    CHECK_FAILS(vas_set_process_working_set_size(p, 300 * PAGE, 200 * PAGE), VAS_ERROR_INVALID_PARAMETER);
    CHECK_FAILS(vas_set_process_working_set_size(p, 100 * PAGE, 64 * MiB + PAGE), VAS_ERROR_INVALID_PARAMETER);
    CHECK(vas_get_process_working_set_size(p, &lo, &hi));
    CHECK_EQ(lo, 100 * PAGE);
    CHECK_EQ(hi, 200 * PAGE);
    CHECK_FAILS(vas_get_process_working_set_size(NULL, &lo, &hi), VAS_ERROR_INVALID_HANDLE);
    CHECK_FAILS(vas_set_process_working_set_size(NULL, 100 * PAGE, 200 * PAGE), VAS_ERROR_INVALID_HANDLE);
    CHECK_FAILS(vas_empty_working_set(NULL), VAS_ERROR_INVALID_HANDLE);
    CHECK(!vas_get_process_working_set_size(p, NULL, &hi));

    /* The working set counts the pages touched; the counters agree with each other. */
    uint64_t a = commit(p, 300 * PAGE);
    CHECK_EQ(ws_pages(p), 0);
    touch(p, a, 150);
    CHECK_EQ(ws_pages(p), 150);
    vas_process_memory_counters pmc;
    CHECK(vas_get_process_memory_info(p, &pmc));
    CHECK_EQ(pmc.working_set_size, 150 * PAGE);
    CHECK_EQ(pmc.peak_working_set_size, 150 * PAGE);
    CHECK_EQ(pmc.pagefile_usage, 300 * PAGE);

    /* A maximum below the working set trims it there. */
    CHECK(vas_set_process_working_set_size(p, 20 * PAGE, 120 * PAGE));
    CHECK(ws_pages(p) <= 120);
    CHECK(vas_get_process_memory_info(p, &pmc));
    CHECK_EQ(pmc.peak_working_set_size, 150 * PAGE);

    /* (SIZE_T)-1 twice empties the working set and leaves the limits alone. */
    CHECK(vas_set_process_working_set_size(p, UINT64_MAX, UINT64_MAX));
    CHECK_EQ(ws_pages(p), 0);
    CHECK(vas_get_process_working_set_size(p, &lo, &hi));
    CHECK_EQ(lo, 20 * PAGE);
    CHECK_EQ(hi, 120 * PAGE);
    CHECK_EQ(vas_check(m), 0);
    vas_machine_destroy(m);
}

static void empty_working_set_then_soft_faults(void)
{
    vas_machine *m = machine(64 * MiB, 64 * MiB, VAS_REPLACE_WS_AGING, NULL);
    vas_process *p = process(m);
    uint64_t a = commit(p, 64 * PAGE);
    for (uint64_t i = 0; i < 32; i++) /* 32 dirty pages, then 32 clean (read only) */
        CHECK_EQ(write_page(p, a + i * PAGE, 1), 0);
    touch(p, a + 32 * PAGE, 32);
    CHECK_EQ(ws_pages(p), 64);
    vas_physical_status before = physical(m);

    CHECK(vas_empty_working_set(p));
    CHECK_EQ(ws_pages(p), 0);
    vas_physical_status after = physical(m);
    CHECK_EQ(after.modified, before.modified + 32);
    CHECK_EQ(after.standby, before.standby + 32);
    CHECK_EQ(after.active, before.active - 64);
    for (uint64_t i = 0; i < 64; i++) {
        CHECK(!in_working_set(p, a + i * PAGE));
        CHECK(resident(p, a + i * PAGE)); /* the frame is kept behind a transition PTE */
    }
    CHECK(memory(m).avail_phys >= (after.zeroed + after.free + after.standby) * PAGE);

    /* Touching them again: soft faults, no paging-file I/O, the same bytes. */
    vas_process_counters c0 = counters(p);
    vas_paging_status ps0 = paging(m);
    for (uint64_t i = 0; i < 64; i++)
        CHECK(page_is(p, a + i * PAGE, i < 32 ? 1 : UINT64_MAX));
    vas_process_counters c1 = counters(p);
    CHECK_EQ(c1.soft_faults - c0.soft_faults, 64);
    CHECK_EQ(c1.hard_faults, c0.hard_faults);
    CHECK_EQ(c1.demand_zero_faults, c0.demand_zero_faults);
    CHECK_EQ(paging(m).reads, ps0.reads);
    CHECK_EQ(paging(m).writes, ps0.writes);
    CHECK_EQ(ws_pages(p), 64);
    CHECK_EQ(physical(m).modified, before.modified);
    CHECK_EQ(physical(m).standby, before.standby);

    /* Locked pages stay: the working set drops to them. */
    CHECK(vas_virtual_lock(p, a + 8 * PAGE, 10 * PAGE));
    CHECK(vas_empty_working_set(p));
    CHECK_EQ(ws_pages(p), 10);
    CHECK_EQ(counters(p).locked_pages, 10);
    for (uint64_t i = 0; i < 64; i++)
        CHECK_EQ(in_working_set(p, a + i * PAGE), i >= 8 && i < 18);
    CHECK_EQ(vas_check(m), 0);
    vas_machine_destroy(m);
}

static void modified_page_writer_clusters_then_standby(void)
{
    vas_machine *m = machine(64 * MiB, 64 * MiB, VAS_REPLACE_WS_AGING, NULL);
    vas_process *p = process(m);
    uint64_t a = commit(p, 256 * PAGE);
    for (uint64_t i = 0; i < 256; i++)
        CHECK_EQ(write_page(p, a + i * PAGE, 2), 0);
    vas_physical_status ph0 = physical(m);
    CHECK(vas_empty_working_set(p));
    CHECK_EQ(physical(m).modified, ph0.modified + 256);

    vas_paging_status ps0 = paging(m);
    CHECK_EQ(vas_write_modified_pages(m), 256);
    vas_paging_status ps1 = paging(m);
    CHECK_EQ(ps1.pages_written - ps0.pages_written, 256);
    CHECK(ps1.writes > ps0.writes);
    CHECK(ps1.pages_written - ps0.pages_written > ps1.writes - ps0.writes); /* clusters */
    CHECK_EQ(ps1.pagefile_used, 256 * PAGE);
    CHECK_EQ(ps1.write_errors, 0);
    vas_physical_status ph1 = physical(m);
    CHECK_EQ(ph1.modified, 0);
    CHECK_EQ(ph1.standby, ph0.standby + 256);
    CHECK_EQ(vas_write_modified_pages(m), 0); /* nothing left to write */
    CHECK_EQ(vas_write_modified_pages(NULL), 0);

    /* Back from standby: soft faults, no reads. */
    vas_process_counters c0 = counters(p);
    for (uint64_t i = 0; i < 256; i++)
        CHECK(page_is(p, a + i * PAGE, 2));
    CHECK_EQ(counters(p).soft_faults - c0.soft_faults, 256);
    CHECK_EQ(counters(p).hard_faults, c0.hard_faults);
    CHECK_EQ(paging(m).reads, ps1.reads);

    /* Pages written again lose their saved copy when they leave: modified once more. */
    for (uint64_t i = 0; i < 16; i++)
        CHECK_EQ(write_page(p, a + i * PAGE, 3), 0);
    CHECK(vas_empty_working_set(p));
    CHECK_EQ(physical(m).modified, 16);
    CHECK_EQ(paging(m).pagefile_used, 240 * PAGE);
    CHECK_EQ(vas_write_modified_pages(m), 16);
    CHECK_EQ(paging(m).pagefile_used, 256 * PAGE);
    for (uint64_t i = 0; i < 256; i++)
        CHECK(page_is(p, a + i * PAGE, i < 16 ? 3 : 2));

    /* Decommitting gives the slots and the frames back. */
    CHECK(vas_empty_working_set(p));
    CHECK(vas_virtual_free(p, a, 256 * PAGE, VAS_MEM_DECOMMIT));
    CHECK_EQ(paging(m).pagefile_used, 0);
    CHECK_EQ(physical(m).standby, ph0.standby);
    CHECK_EQ(physical(m).modified, 0);
    CHECK_EQ(vas_check(m), 0);
    vas_machine_destroy(m);
}

/* Checklist 30, 31: a standby frame given to a new owner; its old page comes back by a hard
   fault, with the same bytes. */
static void repurposed_standby_pages_come_back_by_hard_faults(void)
{
    vas_machine *m = machine(MiB, 8 * MiB, VAS_REPLACE_WS_AGING, NULL);
    vas_process *p = process(m);
    uint64_t a = commit(p, 128 * PAGE);
    for (uint64_t i = 0; i < 128; i++)
        CHECK_EQ(write_page(p, a + i * PAGE, 4), 0);
    page_out(m, p);
    vas_paging_status ps0 = paging(m);
    CHECK(ps0.repurposed >= 128);
    CHECK_EQ(ps0.pagefile_used, 128 * PAGE);
    for (uint64_t i = 0; i < 128; i++)
        CHECK(!resident(p, a + i * PAGE));

    vas_process_counters c0 = counters(p);
    for (uint64_t i = 0; i < 128; i++)
        CHECK(page_is(p, a + i * PAGE, 4));
    vas_process_counters c1 = counters(p);
    vas_paging_status ps1 = paging(m);
    CHECK_EQ(c1.hard_faults - c0.hard_faults, 128);
    CHECK_EQ(ps1.reads - ps0.reads, 128);
    CHECK_EQ(c1.in_page_errors, 0);
    CHECK_EQ(ps1.pagefile_used, 128 * PAGE); /* clean copies keep their slots */

    /* Read back clean: they leave for standby, not modified, and need no new write. */
    CHECK(vas_empty_working_set(p));
    CHECK_EQ(vas_write_modified_pages(m), 0);
    CHECK_EQ(vas_check(m), 0);
    vas_machine_destroy(m);
}

/* ---- Which frames are used (checklist 26, 29) --------------------------------------------- */

static void demand_zero_takes_zeroed_before_free(void)
{
    vas_machine *m = machine(MiB, VAS_NO_PAGEFILE, VAS_REPLACE_WS_AGING, NULL);
    vas_process *p = process(m);
    uint64_t a = commit(p, 240 * PAGE);
    for (uint64_t i = 0; i < 150; i++)
        CHECK_EQ(write_page(p, a + i * PAGE, 5), 0);
    vas_physical_status ph0 = physical(m);
    CHECK_EQ(ph0.free, 0);
    CHECK(ph0.zeroed >= 40);
    CHECK(vas_virtual_free(p, a, 100 * PAGE, VAS_MEM_DECOMMIT)); /* 100 frames to the free list */
    vas_physical_status ph1 = physical(m);
    CHECK_EQ(ph1.free, 100);
    CHECK_EQ(ph1.zeroed, ph0.zeroed);

    /* New pages take zeroed frames while there are any, then free ones, zeroed on the way. */
    touch(p, a + 150 * PAGE, 20);
    vas_physical_status ph2 = physical(m);
    CHECK_EQ(ph2.zeroed, ph1.zeroed - 20);
    CHECK_EQ(ph2.free, 100);
    CHECK(vas_virtual_alloc(p, a, 100 * PAGE, VAS_MEM_COMMIT, VAS_PAGE_READWRITE) == a);
    uint64_t more = ph2.zeroed + 30; /* pages 0..99 (recommitted), then 170.. (never touched) */
    CHECK(more <= 170);
    for (uint64_t i = 0; i < more; i++)
        CHECK(page_is(p, a + (i < 100 ? i : i + 70) * PAGE, UINT64_MAX)); /* free frames held pattern 5 */
    vas_physical_status ph3 = physical(m);
    CHECK_EQ(ph3.zeroed, 0);
    CHECK_EQ(ph3.free, 70);
    CHECK_EQ(vas_check(m), 0);
    vas_machine_destroy(m);
}

/* With a paging file whose every write fails, dirty pages cannot leave RAM: the modified list is
   never reused, so touching more than RAM runs out of memory (STATUS_NO_MEMORY from the access)
   instead of losing a byte. Once writes work again, everything goes on. */
static void modified_pages_are_never_reused_unwritten(void)
{
    mem_store *store = store_new(4 * MiB);
    store->fail_write = 1;
    store->persistent = true;
    vas_machine *m = machine(MiB, 4 * MiB, VAS_REPLACE_WS_AGING, store);
    vas_process *p = process(m);
    uint64_t pages = 768, a = commit(p, pages * PAGE), written = 0;
    vas_exception e = {0, 0, 0};
    uint8_t buffer[PAGE];
    for (; written < pages; written++) {
        pattern(buffer, 6, a + written * PAGE, PAGE);
        if (vas_write(p, a + written * PAGE, buffer, PAGE, &e))
            break;
    }
    CHECK(written > 100 && written < 256);
    CHECK_EQ(e.code, VAS_STATUS_NO_MEMORY);
    CHECK_EQ(e.access, VAS_EXCEPTION_WRITE_FAULT);
    CHECK_EQ(e.address, a + written * PAGE);
    vas_paging_status ps = paging(m);
    CHECK(ps.write_errors > 0);
    CHECK_EQ(ps.pages_written, 0);
    CHECK_EQ(ps.pagefile_used, 0);
    CHECK_EQ(ps.repurposed, 0);
    CHECK(physical(m).modified > 0);
    CHECK_EQ(vas_check(m), 0);

    /* Nothing lost: the written pages read back (from RAM); the failed one stays zero. */
    uint64_t wrong = 0;
    for (uint64_t i = 0; i < written; i++)
        wrong += !page_is(p, a + i * PAGE, 6);
    CHECK_EQ(wrong, 0);
    uint32_t status = vas_read(p, a + written * PAGE, buffer, PAGE, &e);
    CHECK(status == VAS_STATUS_NO_MEMORY || (status == 0 && buffer[0] == 0 && buffer[PAGE - 1] == 0));
    CHECK_EQ(counters(p).hard_faults, 0);

    /* The paging file heals: the writer saves the modified pages, and the rest can be written. */
    CHECK(vas_empty_working_set(p));
    store->fail_write = 0;
    CHECK(vas_write_modified_pages(m) > 0);
    CHECK_EQ(physical(m).modified, 0);
    for (uint64_t i = written; i < pages; i++)
        CHECK_EQ(write_page(p, a + i * PAGE, 6), 0);
    for (uint64_t i = 0; i < pages; i++)
        wrong += !page_is(p, a + i * PAGE, 6);
    CHECK_EQ(wrong, 0);
    CHECK(counters(p).hard_faults > 0);
    CHECK_EQ(store->out_of_range, 0);
    CHECK_EQ(vas_check(m), 0);
    vas_machine_destroy(m);
    store_free(store);
}

/* ---- Replacement policies (checklist 33) -------------------------------------------------- */

static const uint32_t policies[] = {VAS_REPLACE_WS_AGING, VAS_REPLACE_FIFO, VAS_REPLACE_CLOCK, VAS_REPLACE_LRU};
static const char *const policy_names[] = {"WS aging", "FIFO", "Clock", "LRU"};

/* Under pressure, every policy keeps every byte. */
static void every_policy_keeps_data_under_pressure(void)
{
    for (int k = 0; k < 4; k++) {
        vas_machine *m = machine(MiB, 8 * MiB, policies[k], NULL);
        vas_process *p = process(m);
        uint64_t pages = 768, a = commit(p, pages * PAGE), wrong = 0;
        for (uint64_t i = 0; i < pages; i++)
            CHECK_EQ(write_page(p, a + i * PAGE, 10 + (uint64_t)k), 0);
        for (uint64_t i = pages; i-- > 0;)
            wrong += !page_is(p, a + i * PAGE, 10 + (uint64_t)k);
        for (uint64_t i = 0; i < pages; i++) /* a stride through the pages */
            wrong += !page_is(p, a + (i * 97 % pages) * PAGE, 10 + (uint64_t)k);
        if (wrong)
            fprintf(stderr, "test_paging: %s: %llu pages wrong\n", policy_names[k], (unsigned long long)wrong);
        CHECK_EQ(wrong, 0);
        CHECK(counters(p).hard_faults > 0);
        CHECK(paging(m).trimmed_pages > 0);
        CHECK_EQ(vas_check(m), 0);
        vas_machine_destroy(m);
    }
}

/* A process with 64 pages touched in order trims to `keep` pages (a maximum of keep pages). */
static void trim_to(vas_process *p, uint64_t keep)
{
    CHECK(vas_set_process_working_set_size(p, 20 * PAGE, keep * PAGE));
    CHECK_EQ(ws_pages(p), keep);
}

static vas_process *sixty_four_pages(uint32_t policy, vas_machine **m, uint64_t *a)
{
    *m = machine(64 * MiB, 64 * MiB, policy, NULL);
    vas_process *p = process(*m);
    *a = commit(p, 64 * PAGE);
    for (uint64_t i = 0; i < 64; i++)
        CHECK_EQ(write_page(p, *a + i * PAGE, 20), 0);
    CHECK_EQ(ws_pages(p), 64);
    return p;
}

static void fifo_trims_the_earliest_pages(void)
{
    vas_machine *m;
    uint64_t a;
    vas_process *p = sixty_four_pages(VAS_REPLACE_FIFO, &m, &a);
    trim_to(p, 56);
    for (uint64_t i = 0; i < 64; i++)
        CHECK_EQ(in_working_set(p, a + i * PAGE), i >= 8);
    touch(p, a + 8 * PAGE, 1); /* use does not count: page 8 came in first of those left */
    trim_to(p, 48);
    for (uint64_t i = 0; i < 64; i++)
        CHECK_EQ(in_working_set(p, a + i * PAGE), i >= 16);
    touch(p, a, 1); /* page 0 comes back, the newest now */
    trim_to(p, 40);
    CHECK(in_working_set(p, a));
    for (uint64_t i = 16; i < 64; i++)
        CHECK_EQ(in_working_set(p, a + i * PAGE), i >= 25);
    for (uint64_t i = 0; i < 64; i++)
        CHECK(page_is(p, a + i * PAGE, 20));
    CHECK_EQ(vas_check(m), 0);
    vas_machine_destroy(m);
}

static void lru_trims_the_least_recently_used(void)
{
    vas_machine *m;
    uint64_t a;
    vas_process *p = sixty_four_pages(VAS_REPLACE_LRU, &m, &a);
    touch(p, a, 2); /* pages 0 and 1 used again: 2..9 are now the least recently used */
    trim_to(p, 56);
    for (uint64_t i = 0; i < 64; i++)
        CHECK_EQ(in_working_set(p, a + i * PAGE), i < 2 || i >= 10);
    touch(p, a + 40 * PAGE, 1);
    trim_to(p, 48); /* 10..17 go; 0, 1 and 40 stay */
    for (uint64_t i = 0; i < 64; i++)
        CHECK_EQ(in_working_set(p, a + i * PAGE), i < 2 || i >= 18);
    touch(p, a + 18 * PAGE, 1); /* every access counts, through the page tables */
    trim_to(p, 47);               /* so 19, untouched since it was written, goes */
    CHECK(in_working_set(p, a + 18 * PAGE));
    CHECK(!in_working_set(p, a + 19 * PAGE));
    CHECK(in_working_set(p, a + 0 * PAGE));
    for (uint64_t i = 0; i < 64; i++)
        CHECK(page_is(p, a + i * PAGE, 20));
    CHECK_EQ(vas_check(m), 0);
    vas_machine_destroy(m);
}

/* Clock and Windows' aging: a page used since the last trim survives a small one. */
static void recently_used_pages_survive_a_small_trim(uint32_t policy)
{
    vas_machine *m;
    uint64_t a;
    vas_process *p = sixty_four_pages(policy, &m, &a);
    trim_to(p, 56);
    uint64_t used[3], n = 0;
    for (uint64_t i = 0; i < 64 && n < 3; i += 9) /* three pages still in, spread out */
        if (in_working_set(p, a + i * PAGE))
            used[n++] = a + i * PAGE;
    CHECK_EQ(n, 3);
    for (uint64_t round = 0; round < 3; round++) {
        for (uint64_t i = 0; i < n; i++)
            touch(p, used[i], 1);
        trim_to(p, 48 - 8 * round);
        for (uint64_t i = 0; i < n; i++)
            CHECK(in_working_set(p, used[i]));
    }
    for (uint64_t i = 0; i < 64; i++)
        CHECK(page_is(p, a + i * PAGE, 20));
    CHECK_EQ(vas_check(m), 0);
    vas_machine_destroy(m);
}

static void clock_spares_accessed_pages(void) { recently_used_pages_survive_a_small_trim(VAS_REPLACE_CLOCK); }
static void ws_aging_spares_accessed_pages(void) { recently_used_pages_survive_a_small_trim(VAS_REPLACE_WS_AGING); }

/* ---- VirtualLock and VirtualUnlock (checklist 35) ----------------------------------------- */

static void virtual_lock_quota(void)
{
    vas_machine *m = machine(64 * MiB, 64 * MiB, VAS_REPLACE_WS_AGING, NULL);
    vas_process *p = process(m);
    uint64_t a = commit(p, 128 * PAGE);
    CHECK(vas_virtual_lock(p, a, 42 * PAGE)); /* 50 - 8 */
    CHECK_EQ(counters(p).locked_pages, 42);
    CHECK_EQ(ws_pages(p), 42);
    CHECK_FAILS(vas_virtual_lock(p, a + 42 * PAGE, PAGE), VAS_ERROR_WORKING_SET_QUOTA);
    CHECK(vas_virtual_lock(p, a + 10 * PAGE, 32 * PAGE)); /* already locked: no more quota */
    CHECK(vas_virtual_lock(p, a + 41 * PAGE + 5, 10)); /* the page of a byte range */
    CHECK_EQ(counters(p).locked_pages, 42);
    CHECK(vas_virtual_unlock(p, a, 42 * PAGE));
    CHECK_EQ(counters(p).locked_pages, 0);
    CHECK_EQ(ws_pages(p), 42); /* unlocked pages stay until trimmed */

    /* The quota follows the minimum working set. */
    CHECK(vas_set_process_working_set_size(p, 100 * PAGE, 200 * PAGE));
    CHECK(vas_virtual_lock(p, a, 92 * PAGE));
    CHECK_FAILS(vas_virtual_lock(p, a + 92 * PAGE, PAGE), VAS_ERROR_WORKING_SET_QUOTA);
    CHECK_EQ(counters(p).locked_pages, 92);
    CHECK(vas_virtual_unlock(p, a + 40 * PAGE, 10 * PAGE));
    CHECK_EQ(counters(p).locked_pages, 82);
    CHECK(vas_virtual_lock(p, a + 92 * PAGE, 10 * PAGE));
    CHECK_EQ(counters(p).locked_pages, 92);
    CHECK_EQ(vas_check(m), 0);
    vas_machine_destroy(m);
}

static void virtual_lock_errors(void)
{
    vas_machine *m = machine(64 * MiB, 64 * MiB, VAS_REPLACE_WS_AGING, NULL);
    vas_process *p = process(m);
    uint64_t r = vas_virtual_alloc(p, 0, 16 * PAGE, VAS_MEM_RESERVE, VAS_PAGE_READWRITE);
    CHECK(r != 0);
    CHECK(vas_virtual_alloc(p, r, 8 * PAGE, VAS_MEM_COMMIT, VAS_PAGE_READWRITE) == r);
    CHECK_FAILS(vas_virtual_lock(p, r, 16 * PAGE), VAS_ERROR_NOACCESS);     /* partly reserved */
    CHECK_FAILS(vas_virtual_lock(p, r + 8 * PAGE, PAGE), VAS_ERROR_NOACCESS); /* reserved */
    CHECK_EQ(counters(p).locked_pages, 0);
    CHECK_EQ(ws_pages(p), 0);

    uint64_t n = vas_virtual_alloc(p, 0, PAGE, VAS_MEM_COMMIT | VAS_MEM_RESERVE, VAS_PAGE_NOACCESS);
    CHECK(n != 0);
    CHECK_FAILS(vas_virtual_lock(p, n, PAGE), VAS_ERROR_NOACCESS);

    /* Spec fact 61: a guard page fails with the raw STATUS_GUARD_PAGE_VIOLATION and loses its
       guard; the second lock succeeds. */
    uint64_t g = vas_virtual_alloc(p, 0, 2 * PAGE, VAS_MEM_COMMIT | VAS_MEM_RESERVE,
                                   VAS_PAGE_READWRITE | VAS_PAGE_GUARD);
    CHECK(g != 0);
    CHECK_FAILS(vas_virtual_lock(p, g, PAGE), STATUS_GUARD_RAW);
    CHECK_EQ(counters(p).guard_page_faults, 1);
    CHECK_EQ(counters(p).locked_pages, 0);
    vas_memory_basic_information mbi;
    CHECK_EQ(vas_virtual_query(p, g, &mbi, sizeof mbi), sizeof mbi);
    CHECK_EQ(mbi.protect, VAS_PAGE_READWRITE);
    CHECK(vas_virtual_lock(p, g, PAGE));
    CHECK_EQ(counters(p).locked_pages, 1);
    CHECK_EQ(vas_virtual_query(p, g + PAGE, &mbi, sizeof mbi), sizeof mbi);
    CHECK_EQ(mbi.protect, VAS_PAGE_READWRITE | VAS_PAGE_GUARD); /* the next page keeps its guard */

    /* Unlocking pages that are not locked: ERROR_NOT_LOCKED, and they leave the working set. */
    CHECK_EQ(write_page(p, r, 30), 0);
    CHECK(in_working_set(p, r));
    CHECK_FAILS(vas_virtual_unlock(p, r, PAGE), VAS_ERROR_NOT_LOCKED);
    CHECK(!in_working_set(p, r));
    CHECK(page_is(p, r, 30));
    CHECK(vas_virtual_unlock(p, g, PAGE));
    CHECK_EQ(counters(p).locked_pages, 0);
    CHECK_FAILS(vas_virtual_unlock(p, g, PAGE), VAS_ERROR_NOT_LOCKED);
    CHECK_FAILS(vas_virtual_unlock(p, r + 8 * PAGE, PAGE), VAS_ERROR_NOACCESS);
    CHECK_FAILS(vas_virtual_lock(NULL, r, PAGE), VAS_ERROR_INVALID_HANDLE);
    CHECK_EQ(vas_check(m), 0);
    vas_machine_destroy(m);
}

/* Locked pages never leave: not for another process's pressure, not for EmptyWorkingSet. */
static void locked_pages_stay_under_pressure(void)
{
    vas_machine *m = machine(MiB, 8 * MiB, VAS_REPLACE_WS_AGING, NULL);
    vas_process *p = process(m);
    uint64_t a = commit(p, 64 * PAGE);
    for (uint64_t i = 0; i < 64; i++)
        CHECK_EQ(write_page(p, a + i * PAGE, 40), 0);
    CHECK(vas_virtual_lock(p, a, 40 * PAGE));

    vas_process *hog = process(m);
    uint64_t pages = 1024, h = commit(hog, pages * PAGE);
    for (uint64_t i = 0; i < pages; i++)
        CHECK_EQ(write_page(hog, h + i * PAGE, 41), 0);
    for (uint64_t i = 0; i < 40; i++)
        CHECK(in_working_set(p, a + i * PAGE));
    CHECK(vas_empty_working_set(p));
    CHECK_EQ(ws_pages(p), 40);
    CHECK_EQ(counters(p).locked_pages, 40);
    for (uint64_t i = 0; i < pages; i++)
        CHECK(page_is(hog, h + i * PAGE, 41));
    vas_process_counters c0 = counters(p);
    for (uint64_t i = 0; i < 40; i++)
        CHECK(page_is(p, a + i * PAGE, 40));
    CHECK_EQ(counters(p).page_fault_count, c0.page_fault_count); /* no fault at all */
    for (uint64_t i = 40; i < 64; i++)
        CHECK(page_is(p, a + i * PAGE, 40));
    CHECK_EQ(vas_check(m), 0);
    vas_machine_destroy(m);
}

/* VirtualLock when the pages it brings in leave little room: either every page is locked and in
   the working set when it returns TRUE, or it fails and locks nothing. */
static void virtual_lock_is_all_or_nothing_when_memory_is_short(void)
{
    for (int with_pagefile = 0; with_pagefile < 2; with_pagefile++) {
        vas_machine *m = machine(512 * 1024, with_pagefile ? 4 * MiB : VAS_NO_PAGEFILE, VAS_REPLACE_WS_AGING, NULL);
        vas_process *p = process(m);
        CHECK(vas_set_process_working_set_size(p, 100 * PAGE, 120 * PAGE)); /* quota: 92 pages */
        uint64_t x = commit(p, 66 * PAGE), y = commit(p, 56 * PAGE);
        for (uint64_t i = 0; i < 66; i++)
            CHECK_EQ(write_page(p, x + i * PAGE, 50), 0);
        vas_set_last_error(0);
        int ok = vas_virtual_lock(p, y, 56 * PAGE);
        uint64_t in = 0;
        for (uint64_t i = 0; i < 56; i++)
            in += in_working_set(p, y + i * PAGE);
        if (ok) {
            CHECK_EQ(counters(p).locked_pages, 56);
            CHECK_EQ(in, 56);
        } else {
            CHECK_EQ(vas_last_error(), VAS_ERROR_NOT_ENOUGH_MEMORY);
            CHECK_EQ(counters(p).locked_pages, 0);
        }
        if (with_pagefile) /* room can be made: the dirty pages go to the paging file */
            CHECK(ok);
        for (uint64_t i = 0; i < 66; i++)
            CHECK(page_is(p, x + i * PAGE, 50));
        CHECK_EQ(vas_check(m), 0);
        vas_machine_destroy(m);
    }
}

/* ---- Paging-file I/O that fails --------------------------------------------------------------- */

static void failed_reads_raise_in_page_errors(void)
{
    mem_store *store = store_new(8 * MiB);
    vas_machine *m = machine(MiB, 8 * MiB, VAS_REPLACE_WS_AGING, store);
    vas_process *p = process(m);
    uint64_t a = commit(p, 64 * PAGE);
    for (uint64_t i = 0; i < 64; i++)
        CHECK_EQ(write_page(p, a + i * PAGE, 60), 0);
    page_out(m, p);
    for (uint64_t i = 0; i < 64; i++)
        CHECK(!resident(p, a + i * PAGE));

    /* A read: the exception names the exact address; nothing is filled; the page stays out. */
    uint8_t buffer[256], want[PAGE];
    vas_exception e;
    memset(buffer, 0xCC, sizeof buffer);
    store->fail_read = store->reads + 1;
    uint64_t at = a + 5 * PAGE + 123;
    CHECK_EQ(vas_read(p, at, buffer, 100, &e), VAS_STATUS_IN_PAGE_ERROR);
    CHECK_EQ(e.code, VAS_STATUS_IN_PAGE_ERROR);
    CHECK_EQ(e.access, VAS_EXCEPTION_READ_FAULT);
    CHECK_EQ(e.address, at);
    CHECK_EQ(buffer[0], 0xCC);
    CHECK_EQ(buffer[99], 0xCC);
    CHECK_EQ(counters(p).in_page_errors, 1);
    CHECK_EQ(paging(m).read_errors, 1);
    CHECK(!resident(p, a + 5 * PAGE));
    CHECK_EQ(paging(m).pagefile_used, 64 * PAGE);
    CHECK_EQ(vas_nt_status_to_dos_error(VAS_STATUS_IN_PAGE_ERROR), VAS_ERROR_SWAPERROR);
    /* The retry succeeds: a hard fault. */
    vas_process_counters c0 = counters(p);
    CHECK_EQ(vas_read(p, at, buffer, 100, &e), 0);
    pattern(want, 60, a + 5 * PAGE, PAGE);
    CHECK(memcmp(buffer, want + 123, 100) == 0);
    CHECK_EQ(counters(p).hard_faults, c0.hard_faults + 1);

    /* A write to a page out of memory must read it first: it fails the same way, changing nothing. */
    store->fail_read = store->reads + 1;
    uint8_t ones[16];
    memset(ones, 0xFF, sizeof ones);
    at = a + 6 * PAGE + 7;
    CHECK_EQ(vas_write(p, at, ones, sizeof ones, &e), VAS_STATUS_IN_PAGE_ERROR);
    CHECK_EQ(e.access, VAS_EXCEPTION_WRITE_FAULT);
    CHECK_EQ(e.address, at);
    CHECK(page_is(p, a + 6 * PAGE, 60));

    /* Across two pages out of memory, the second failing: its first byte is named, nothing filled. */
    store->fail_read = store->reads + 2;
    memset(buffer, 0xCC, sizeof buffer);
    at = a + 8 * PAGE - 100;
    CHECK_EQ(vas_read(p, at, buffer, 200, &e), VAS_STATUS_IN_PAGE_ERROR);
    CHECK_EQ(e.address, a + 8 * PAGE);
    CHECK_EQ(buffer[0], 0xCC);
    CHECK_EQ(buffer[199], 0xCC);
    CHECK(!resident(p, a + 8 * PAGE));
    CHECK(page_is(p, a + 7 * PAGE, 60));
    CHECK(page_is(p, a + 8 * PAGE, 60));

    /* Every read failing: every touch fails, for as long as it lasts. */
    store->fail_read = store->reads + 1;
    store->persistent = true;
    for (int i = 0; i < 3; i++)
        CHECK_EQ(vas_read(p, a + 9 * PAGE, buffer, 1, &e), VAS_STATUS_IN_PAGE_ERROR);
    CHECK_EQ(counters(p).in_page_errors, 6);
    store->fail_read = 0;
    store->persistent = false;
    for (uint64_t i = 0; i < 64; i++)
        CHECK(page_is(p, a + i * PAGE, 60));
    CHECK_EQ(paging(m).read_errors, 6);
    CHECK_EQ(vas_check(m), 0);
    vas_machine_destroy(m);
    CHECK_EQ(store->out_of_range, 0);
    store_free(store);
}

static void failed_writes_keep_pages_modified(void)
{
    mem_store *store = store_new(8 * MiB);
    vas_machine *m = machine(MiB, 8 * MiB, VAS_REPLACE_WS_AGING, store);
    vas_process *p = process(m);
    uint64_t a = commit(p, 64 * PAGE);
    for (uint64_t i = 0; i < 64; i++)
        CHECK_EQ(write_page(p, a + i * PAGE, 70), 0);
    CHECK(vas_empty_working_set(p));

    /* Every write failing: nothing written, every page still modified, no slot kept. */
    store->fail_write = store->writes + 1;
    store->persistent = true;
    CHECK_EQ(vas_write_modified_pages(m), 0);
    CHECK_EQ(physical(m).modified, 64);
    CHECK(paging(m).write_errors > 0);
    CHECK_EQ(paging(m).pagefile_used, 0);
    CHECK_EQ(vas_check(m), 0);

    /* One write failing: the writer comes back to those pages. */
    store->persistent = false;
    store->fail_write = store->writes + 1;
    uint64_t errors = paging(m).write_errors;
    CHECK_EQ(vas_write_modified_pages(m), 64);
    CHECK_EQ(paging(m).write_errors, errors + 1);
    CHECK_EQ(physical(m).modified, 0);
    CHECK_EQ(paging(m).pagefile_used, 64 * PAGE);

    /* And the pages come back right from the paging file. */
    page_out(m, p);
    vas_process_counters c0 = counters(p);
    for (uint64_t i = 0; i < 64; i++)
        CHECK(page_is(p, a + i * PAGE, 70));
    CHECK_EQ(counters(p).hard_faults - c0.hard_faults, 64);
    CHECK_EQ(vas_check(m), 0);
    vas_machine_destroy(m);
    CHECK_EQ(store->out_of_range, 0);
    store_free(store);
}

/* One access of `span` pages (from the middle of page 3) on a machine of `frames` frames whose
   memory is full, with the nth paging-file read from then on failing. Returns its status, and
   counts in *wrong the bytes it moved although it failed (or moved wrongly). */
static uint32_t access_failing_nth_read(uint64_t frames, uint64_t span, bool write, uint64_t n, uint64_t *wrong)
{
    mem_store *store = store_new(MiB);
    vas_machine *m = machine(frames * PAGE, MiB, VAS_REPLACE_FIFO, store);
    vas_process *p = process(m);
    uint64_t pages = 32, a = commit(p, pages * PAGE);
    for (uint64_t i = 0; i < pages; i++)
        CHECK_EQ(write_page(p, a + i * PAGE, 80), 0);
    page_out(m, p);
    for (uint64_t i = 18; i < pages; i++) /* memory full again: the access must make room */
        CHECK(page_is(p, a + i * PAGE, 80));

    static uint8_t buffer[16 * PAGE], want[16 * PAGE];
    uint64_t size = span * PAGE - 2000, at = a + 3 * PAGE + 1000, first = a + 3 * PAGE;
    memset(buffer, write ? 0xEE : 0xCC, size);
    vas_exception e;
    store->fail_read = store->reads + n;
    uint32_t status = write ? vas_write(p, at, buffer, size, &e) : vas_read(p, at, buffer, size, &e);
    store->fail_read = 0;
    CHECK(status == 0 || status == VAS_STATUS_IN_PAGE_ERROR || status == VAS_STATUS_NO_MEMORY);
    if (status)
        CHECK(e.address >= at && e.address < at + size);

    /* What the pages under the access must hold now, and what the buffer must. */
    for (uint64_t pg = 0; pg < span; pg++)
        pattern(want + pg * PAGE, 80, first + pg * PAGE, PAGE);
    if (write && !status)
        memset(want + (at - first), 0xEE, size);
    *wrong = 0;
    if (!write) {
        for (uint64_t i = 0; i < size; i++)
            *wrong += buffer[i] != (status ? 0xCC : want[at - first + i]);
    } else {
        for (uint64_t pg = 0; pg < span; pg++) {
            CHECK_EQ(vas_read(p, first + pg * PAGE, buffer, PAGE, NULL), 0);
            *wrong += memcmp(buffer, want + pg * PAGE, PAGE) != 0;
        }
    }
    CHECK_EQ(vas_check(m), 0);
    vas_machine_destroy(m);
    store_free(store);
    return status;
}

/* "Every page the access touches is checked before any byte moves": under pressure too, for an
   access spanning more pages than a tiny machine can hold at once beside the rest, whichever
   paging-file read fails. (Making room for an access's later pages once trimmed its earlier
   ones, so its second pass had to read them again, and could fail halfway through the copy.)
   Such an access may succeed, raise STATUS_IN_PAGE_ERROR or STATUS_NO_MEMORY; a failure moves
   nothing. */
static void failed_accesses_move_nothing_under_pressure(void)
{
    static const uint64_t frames[] = {16, 24, 33}, spans[] = {2, 5, 8, 11, 14};
    uint64_t broken = 0, outcomes[3] = {0, 0, 0}; /* success, in-page error, no memory */
    for (size_t f = 0; f < sizeof frames / sizeof frames[0]; f++)
        for (size_t s = 0; s < sizeof spans / sizeof spans[0]; s++)
            for (int write = 0; write < 2; write++)
                for (uint64_t n = 1; n <= 2 * spans[s] + 4; n++) {
                    uint64_t wrong;
                    uint32_t status = access_failing_nth_read(frames[f], spans[s], write, n, &wrong);
                    outcomes[status == 0 ? 0 : status == VAS_STATUS_IN_PAGE_ERROR ? 1 : 2]++;
                    if (wrong && broken++ < 4)
                        fprintf(stderr, "test_paging: %llu frames: a %llu-page %s failing at read %llu (%s) moved bytes\n",
                                (unsigned long long)frames[f], (unsigned long long)spans[s], write ? "write" : "read",
                                (unsigned long long)n, vas_status_name(status));
                }
    CHECK_EQ(broken, 0);
    CHECK(outcomes[0] > 0 && outcomes[1] > 0 && outcomes[2] > 0); /* every way was taken */
}

static const check_test tests[] = {
    TEST(commit_limit_is_ram_plus_paging_file),
    TEST(paging_files_grow_the_limit_up_to_sixteen),
    TEST(machine_creation_refuses_a_bad_paging_file),
    TEST(working_set_size_defaults_and_checks),
    TEST(empty_working_set_then_soft_faults),
    TEST(modified_page_writer_clusters_then_standby),
    TEST(repurposed_standby_pages_come_back_by_hard_faults),
    TEST(demand_zero_takes_zeroed_before_free),
    TEST(modified_pages_are_never_reused_unwritten),
    TEST(every_policy_keeps_data_under_pressure),
    TEST(fifo_trims_the_earliest_pages),
    TEST(lru_trims_the_least_recently_used),
    TEST(clock_spares_accessed_pages),
    TEST(ws_aging_spares_accessed_pages),
    TEST(virtual_lock_quota),
    TEST(virtual_lock_errors),
    TEST(locked_pages_stay_under_pressure),
    TEST(virtual_lock_is_all_or_nothing_when_memory_is_short),
    TEST(failed_reads_raise_in_page_errors),
    TEST(failed_writes_keep_pages_modified),
    TEST(failed_accesses_move_nothing_under_pressure),
};

int main(int argc, char **argv)
{
    /* test_paging [full|small [test]] */
    if (argc > 1 && (strcmp(argv[1], "small") == 0 || strcmp(argv[1], "full") == 0)) {
        small_run = strcmp(argv[1], "small") == 0;
        argc--;
        argv++;
    }
    return check_run(tests, sizeof tests / sizeof tests[0], argc, argv);
}
