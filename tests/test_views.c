/*
 * test_views.c - the numbers of the tool's snapshot (cli/views.c: process_map_build and the views
 * that print it) against the library's own answers.
 *
 * Each test runs the same deterministic workload (a fixed seed, a few hundred calls per machine)
 * on machines of every layout: x64, x64-win7, x86, ia64 and win9x, with two native processes
 * and, on 64-bit layouts, a WOW64 one. The workload reserves, commits, decommits and releases
 * (whole allocations, and pieces through NtFreeVirtualMemory), changes protections (guard pages
 * among them), leaves Unusable tails with sub-64 KB allocations, touches and locks pages, empties
 * working sets and runs the modified page writer, maps views of paging-file sections shared by
 * two processes and views of a real file, and creates threads, grows their stacks through their
 * guard pages and ends some of them. At checkpoints along the way each test checks its part:
 *
 *   test_map_covers_user_space  blocks in address order, contiguous, from the lowest to the
 *       highest user address; an allocation block's regions are contiguous, inside it, of its
 *       allocation base, and each is what VirtualQuery says there; a block is one whole
 *       allocation (NtQueryVirtualMemory's MemoryRegionInformation); free ranges query MEM_FREE;
 *       Unusable starts inside a granule and ends at its end or at an allocation, Free starts on
 *       a granule boundary. It also checks that the workload reached what it is for (Unusable
 *       tails, guard pages, locked pages, paging, views...; TEST_VIEWS_REACHED=1 prints it).
 *   test_map_sums  committed = the committed regions; a region's working set = the pages
 *       QueryWorkingSetEx reports valid, asked page by page; the summary is the sum of its
 *       blocks; the total is the sum of the kinds but Free and Unusable; against the counters:
 *       total size - page tables = virtual size, total working set - page tables = working set
 *       (the map counts the page tables in its total, as VMMap does; the counters keep them
 *       apart), the allocation count, and the commit charge (private committed pages but the
 *       system's KUSER_SHARED_DATA page, plus the views' copy-on-write pages).
 *   test_map_kinds  stacks (details "Thread <id>"), TEBs, paging-file views (Shareable), views of
 *       a file (Mapped File, its path in the details), KUSER_SHARED_DATA, private data.
 *   test_physical_owners  the PFN database's owners against the working sets: a process's active
 *       private frames are its private working-set pages, its table frames its page-table count,
 *       and the active section frames the distinct frames of resident view pages.
 *   test_views_print  every view in text, colour and JSON (and the fragmentation view per page)
 *       prints (stdout sent to a temporary file); the JSON documents parse (python3 -m json.tool
 *       over all of them as one array, skipped without python3); and the JSON carries the
 *       snapshot's numbers: the map's total; the fragmentation view's cells and runs, recomputed
 *       from the map, and its largest free block; the stats view's counters; the physical view's
 *       counts per process and per list; and the kind the query view gives the first, second and
 *       last page of every block.
 */
#include "views.h"

#include "json.h"

#include "check.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#define KB 1024ull
#define MB (1024ull * KB)
#define KUSER 0x7FFE0000ull

#define SEED 0x5EEDF00Dull
#define OPS_PER_LAYOUT 300
#define CHECK_EVERY 75

static const char *const layouts[] = {"x64", "x64-win7", "x86", "ia64", "win9x"};
#define LAYOUTS (sizeof layouts / sizeof layouts[0])

/* ---- A deterministic generator (xorshift64*) ------------------------------------------------ */

static uint64_t rng;

static uint64_t rand64(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545F4914F6CDD1Dull;
}

static uint64_t below(uint64_t n) { return n ? rand64() % n : 0; }
static int chance(unsigned percent) { return below(100) < percent; }

/* ---- Temporary files -------------------------------------------------------------------------- */

static char temp_dir[64];
static char file_path[160];   /* the file the file-backed views map: a name JSON must escape */
static char out_path[96];     /* where a view's output is captured */
static char json_path[96];    /* every JSON document, as the elements of one array */
static FILE *json_all;
static size_t json_documents;

#define FILE_BYTES (192 * KB + 123) /* not a whole number of pages */

static void temp_cleanup(void);

static void temp_setup(void)
{
    if (temp_dir[0])
        return;
    snprintf(temp_dir, sizeof temp_dir, "/tmp/vas-views-XXXXXX");
    if (!mkdtemp(temp_dir)) {
        perror("mkdtemp");
        exit(1);
    }
    atexit(temp_cleanup);
    snprintf(file_path, sizeof file_path, "%s/mapped \"file\" \\ \xC3\xA9t\xC3\xA9.dat", temp_dir);
    snprintf(out_path, sizeof out_path, "%s/out.txt", temp_dir);
    snprintf(json_path, sizeof json_path, "%s/all.json", temp_dir);
    FILE *f = fopen(file_path, "wb");
    CHECK(f != NULL);
    if (!f)
        exit(1);
    for (uint64_t i = 0; i < FILE_BYTES; i++)
        fputc((int)(i * 7 + (i >> 12)) & 0xFF, f);
    fclose(f);
}

static int keep_temp; /* a failure leaves the files to look at */

static void temp_cleanup(void)
{
    if (!temp_dir[0] || keep_temp)
        return;
    unlink(file_path);
    unlink(out_path);
    unlink(json_path);
    rmdir(temp_dir);
    temp_dir[0] = '\0';
}

/* ---- The world: a machine, its processes and what the workload made ------------------------ */

#define MAX_ACTORS 3
#define MAX_ALLOCS 96
#define MAX_VIEWS 48
#define MAX_LOCKS 8

typedef struct actor {
    vas_process *p;
    const char *label;
    uint64_t allocs[MAX_ALLOCS];  /* bases of the private allocations the workload made */
    size_t alloc_count;
    uint64_t views[MAX_VIEWS];
    int view_is_file[MAX_VIEWS];
    size_t view_count;
    uint64_t lock_base[MAX_LOCKS], lock_size[MAX_LOCKS];
    size_t lock_count;
} actor;

typedef struct world {
    const char *layout;
    vas_machine *m;
    actor a[MAX_ACTORS];
    size_t count;
    uint64_t page, granule;
    int nt;                       /* KUSER_SHARED_DATA is there (every layout but win9x) */
    vas_section *file_section;
} world;

static void world_create(world *w, const char *layout)
{
    memset(w, 0, sizeof *w);
    w->layout = layout;
    vas_machine_config config = {.layout = layout, .ram_bytes = 24 * MB, .pagefile_bytes = 48 * MB};
    w->m = vas_machine_create(&config);
    CHECK(w->m != NULL);
    if (!w->m)
        exit(1);
    vas_machine_info mi;
    vas_get_machine_info(w->m, &mi);
    w->page = mi.page_size;
    w->granule = mi.allocation_granularity;
    w->nt = strcmp(layout, "win9x") != 0;
    /* A name JSON must escape: a quote, a backslash, a tab, and UTF-8. */
    static const char *const names[] = {"alpha.exe", "q\"uo\\te\t\xC3\xA9.exe", "legacy32.exe"};
    static const char *const labels[] = {"p1", "p2", "p3"};
    size_t count = mi.native_bits == 64 ? 3 : 2;
    for (size_t i = 0; i < count; i++) {
        vas_process_config pc = {.name = names[i], .bits = i == 2 ? 32 : 0};
        w->a[i].p = vas_process_create(w->m, &pc);
        CHECK(w->a[i].p != NULL);
        w->a[i].label = labels[i];
    }
    w->count = count;
    w->file_section = vas_create_file_mapping(w->m, file_path, VAS_PAGE_READWRITE, 0, NULL);
    CHECK(w->file_section != NULL);
}

static void world_destroy(world *w)
{
    if (w->file_section)
        CHECK(vas_close_section(w->file_section));
    vas_machine_destroy(w->m);
    memset(w, 0, sizeof *w);
}

/* ---- The workload --------------------------------------------------------------------------- */

static const uint32_t protections[] = {
    VAS_PAGE_READWRITE, VAS_PAGE_READWRITE, VAS_PAGE_READONLY, VAS_PAGE_EXECUTE_READ,
    VAS_PAGE_EXECUTE_READWRITE, VAS_PAGE_NOACCESS, VAS_PAGE_READWRITE | VAS_PAGE_GUARD,
    VAS_PAGE_READONLY | VAS_PAGE_GUARD,
};

static uint32_t random_protect(void)
{
    return protections[below(sizeof protections / sizeof protections[0])];
}

static void remember_alloc(actor *a, uint64_t base)
{
    if (base && a->alloc_count < MAX_ALLOCS)
        a->allocs[a->alloc_count++] = base;
}

/* Whether base is a thread's stack reservation: once released, a workload allocation's
   address may be reused for one. */
static int is_stack(vas_process *p, uint64_t base)
{
    vas_thread_info threads[16];
    size_t n = vas_process_threads(p, threads, 16);
    for (size_t i = 0; i < n && i < 16; i++)
        if (threads[i].deallocation_stack == base)
            return 1;
    return 0;
}

/* Whether the workload's allocation at base is still there: private, and at that base. */
static int alloc_live(vas_process *p, uint64_t base, vas_memory_region_information *ri)
{
    return vas_nt_query_region_information(p, base, ri) == VAS_STATUS_SUCCESS && ri->allocation_base == base &&
           ri->region_type == VAS_MEM_PRIVATE && !is_stack(p, base);
}

/* A live allocation of the workload's, with its size and index; 0 when there is none.
   Allocations that are gone (released whole or in pieces) are forgotten on the way. */
static int pick_alloc_at(actor *a, uint64_t *base, uint64_t *size, size_t *index)
{
    while (a->alloc_count) {
        size_t i = (size_t)below(a->alloc_count);
        vas_memory_region_information ri;
        if (alloc_live(a->p, a->allocs[i], &ri)) {
            *base = ri.allocation_base;
            *size = ri.region_size;
            *index = i;
            return 1;
        }
        a->allocs[i] = a->allocs[--a->alloc_count];
    }
    return 0;
}

static int pick_alloc(actor *a, uint64_t *base, uint64_t *size)
{
    size_t index;
    return pick_alloc_at(a, base, size, &index);
}

/* A page-aligned piece of [base, base + size): up to `pages` pages. */
static void pick_range(const world *w, uint64_t base, uint64_t size, uint64_t pages, uint64_t *start,
                       uint64_t *length)
{
    uint64_t total = size / w->page;
    uint64_t first = below(total);
    uint64_t n = 1 + below(pages);
    if (n > total - first)
        n = total - first;
    *start = base + first * w->page;
    *length = n * w->page;
}

static void touch(vas_process *p, uint64_t start, uint64_t length, uint64_t page, int write)
{
    for (uint64_t a = start; a < start + length; a += page) {
        uint8_t byte = (uint8_t)(a >> 12);
        vas_exception ex;
        if (write)
            (void)vas_write(p, a + below(page), &byte, 1, &ex);
        else
            (void)vas_read(p, a + below(page), &byte, 1, &ex);
    }
}

static void op_share(world *w, size_t i)
{
    actor *a = &w->a[i], *b = &w->a[(i + 1) % w->count];
    if (a->view_count >= MAX_VIEWS || b->view_count >= MAX_VIEWS)
        return;
    uint64_t size = (1 + below(8)) * 64 * KB - (chance(50) ? below(4) * w->page : 0);
    vas_section *s = vas_create_file_mapping(w->m, NULL, VAS_PAGE_READWRITE, size, NULL);
    if (!s)
        return;
    uint64_t va = vas_map_view_of_file(a->p, s, VAS_FILE_MAP_ALL_ACCESS, 0, 0, 0);
    uint64_t vb = vas_map_view_of_file(b->p, s, chance(50) ? VAS_FILE_MAP_READ : VAS_FILE_MAP_WRITE, 0, 0, 0);
    if (va) {
        a->views[a->view_count] = va;
        a->view_is_file[a->view_count++] = 0;
        touch(a->p, va, (1 + below(size / w->page)) * w->page, w->page, 1);
    }
    if (vb) {
        b->views[b->view_count] = vb;
        b->view_is_file[b->view_count++] = 0;
        touch(b->p, vb, (1 + below(size / w->page)) * w->page, w->page, 0);
    }
    CHECK(vas_close_section(s)); /* the views keep it */
}

static void op_file_view(world *w, actor *a)
{
    if (!w->file_section || a->view_count >= MAX_VIEWS)
        return;
    int writable = chance(40);
    uint64_t offset = chance(50) ? 64 * KB : 0;
    uint64_t v = vas_map_view_of_file(a->p, w->file_section, writable ? VAS_FILE_MAP_WRITE : VAS_FILE_MAP_READ,
                                      offset, 0, 0);
    CHECK(v != 0);
    if (!v)
        return;
    a->views[a->view_count] = v;
    a->view_is_file[a->view_count++] = 1;
    touch(a->p, v, (1 + below(8)) * w->page, w->page, writable && chance(50));
}

static void op_unmap(actor *a)
{
    if (!a->view_count)
        return;
    size_t i = (size_t)below(a->view_count);
    CHECK(vas_unmap_view_of_file(a->p, a->views[i]));
    a->view_count--;
    a->views[i] = a->views[a->view_count];
    a->view_is_file[i] = a->view_is_file[a->view_count];
}

static void op_thread(world *w, actor *a)
{
    vas_thread_info threads[16];
    size_t n = vas_process_threads(a->p, threads, 16);
    if (n >= 6 || (n && chance(30))) {
        uint32_t id = threads[below(n < 16 ? n : 16)].thread_id;
        CHECK(vas_thread_exit(a->p, id));
        return;
    }
    uint64_t reserve = chance(50) ? 0 : (1 + below(8)) * 64 * KB;
    uint64_t commit = chance(50) ? 0 : (1 + below(3)) * w->page;
    vas_thread_info t;
    (void)vas_thread_create(a->p, reserve, commit, &t);
}

/* Touches the page below a thread's stack limit: its guard page, which moves down. */
static void op_stack(world *w, actor *a)
{
    vas_thread_info threads[16];
    size_t n = vas_process_threads(a->p, threads, 16);
    if (!n)
        return;
    const vas_thread_info *t = &threads[below(n < 16 ? n : 16)];
    for (uint64_t k = 1 + below(3); k; k--) {
        vas_thread_info now;
        if (!vas_thread_get_info(a->p, t->thread_id, &now))
            return;
        uint8_t byte = 1;
        vas_exception ex;
        (void)vas_write(a->p, now.stack_limit - w->page, &byte, 1, &ex);
    }
}

static void op_lock(world *w, actor *a)
{
    if (a->lock_count && (a->lock_count == MAX_LOCKS || chance(50))) {
        size_t i = (size_t)below(a->lock_count);
        (void)vas_virtual_unlock(a->p, a->lock_base[i], a->lock_size[i]);
        a->lock_count--;
        a->lock_base[i] = a->lock_base[a->lock_count];
        a->lock_size[i] = a->lock_size[a->lock_count];
        return;
    }
    uint64_t base, size, start, length;
    if (!pick_alloc(a, &base, &size))
        return;
    pick_range(w, base, size, 3, &start, &length);
    if (vas_virtual_lock(a->p, start, length)) {
        a->lock_base[a->lock_count] = start;
        a->lock_size[a->lock_count++] = length;
    }
}

/* A page of a view made no-access, read-only or a guard page, or given back its access. */
static void op_protect_view(world *w, actor *a)
{
    if (!a->view_count)
        return;
    uint64_t v = a->views[below(a->view_count)];
    vas_memory_basic_information info;
    if (!vas_virtual_query(a->p, v, &info, sizeof info))
        return;
    static const uint32_t choices[] = {VAS_PAGE_NOACCESS, VAS_PAGE_READONLY, VAS_PAGE_READONLY | VAS_PAGE_GUARD,
                                       VAS_PAGE_READWRITE, VAS_PAGE_WRITECOPY};
    uint64_t page = v + below(info.region_size / w->page) * w->page;
    uint32_t old;
    (void)vas_virtual_protect(a->p, page, w->page, choices[below(sizeof choices / sizeof choices[0])], &old);
    if (chance(50))
        touch(a->p, page, w->page, w->page, 0);
}

static void one_op(world *w)
{
    size_t i = (size_t)below(w->count);
    actor *a = &w->a[i];
    vas_process *p = a->p;
    uint64_t base, size, start, length;
    uint32_t old;
    unsigned op = (unsigned)below(100);
    if (op < 14) {                 /* a reservation, perhaps committed at once */
        uint64_t pages = chance(50) ? 1 + below(64) : 16 + below(1024);
        uint32_t type = VAS_MEM_RESERVE | (chance(30) ? VAS_MEM_COMMIT : 0) | (chance(20) ? VAS_MEM_TOP_DOWN : 0);
        remember_alloc(a, vas_virtual_alloc(p, 0, pages * w->page, type, random_protect() & ~VAS_PAGE_GUARD));
    } else if (op < 24) {          /* below 64 KB: the rest of its granule is Unusable */
        uint64_t pages = 1 + below(w->granule / w->page - 1);
        uint64_t b = vas_virtual_alloc(p, 0, pages * w->page, VAS_MEM_RESERVE | VAS_MEM_COMMIT, VAS_PAGE_READWRITE);
        remember_alloc(a, b);
        if (b && chance(60))
            touch(p, b, pages * w->page, w->page, 1);
    } else if (op < 36) {          /* commit a piece */
        if (pick_alloc(a, &base, &size)) {
            pick_range(w, base, size, 24, &start, &length);
            (void)vas_virtual_alloc(p, start, length, VAS_MEM_COMMIT, random_protect());
        }
    } else if (op < 42) {          /* decommit a piece */
        if (pick_alloc(a, &base, &size)) {
            pick_range(w, base, size, 8, &start, &length);
            (void)vas_virtual_free(p, start, length, VAS_MEM_DECOMMIT);
        }
    } else if (op < 47) {          /* release a whole allocation */
        size_t index;
        if (pick_alloc_at(a, &base, &size, &index)) {
            CHECK(vas_virtual_free(p, base, 0, VAS_MEM_RELEASE));
            a->allocs[index] = a->allocs[--a->alloc_count];
        }
    } else if (op < 50) {          /* release a piece: NtFreeVirtualMemory splits the allocation */
        if (pick_alloc(a, &base, &size) && size > w->page) {
            pick_range(w, base, size, 6, &start, &length);
            uint64_t b = start, s = length;
            if (vas_nt_free_virtual_memory(p, &b, &s, VAS_MEM_RELEASE) == VAS_STATUS_SUCCESS && b + s < base + size) {
                vas_memory_basic_information info;
                if (vas_virtual_query(p, b + s, &info, sizeof info) && info.state != VAS_MEM_FREE)
                    remember_alloc(a, info.allocation_base);
            }
        }
    } else if (op < 58) {          /* change a protection */
        if (pick_alloc(a, &base, &size)) {
            pick_range(w, base, size, 8, &start, &length);
            (void)vas_virtual_protect(p, start, length, random_protect(), &old);
        }
    } else if (op < 72) {          /* touch pages */
        if (pick_alloc(a, &base, &size)) {
            pick_range(w, base, size, 32, &start, &length);
            touch(p, start, length, w->page, chance(70));
        }
        if (w->nt && chance(10)) {
            uint8_t byte;
            CHECK_EQ(vas_read(p, KUSER, &byte, 1, NULL), VAS_STATUS_SUCCESS);
        }
    } else if (op < 74) {
        CHECK(vas_empty_working_set(p));
    } else if (op < 75) {
        (void)vas_write_modified_pages(w->m);
    } else if (op < 80) {
        op_share(w, i);
    } else if (op < 82) {
        op_unmap(a);
    } else if (op < 85) {
        op_file_view(w, a);
    } else if (op < 89) {
        op_thread(w, a);
    } else if (op < 93) {
        op_stack(w, a);
    } else if (op < 96) {
        op_lock(w, a);
    } else {
        op_protect_view(w, a);
    }
}

/* Runs the workload on every layout, calling check at every checkpoint and at the end. */
static void run_workload(void (*check)(world *w, int last))
{
    temp_setup();
    for (size_t l = 0; l < LAYOUTS; l++) {
        rng = SEED + l;
        int failures = check_failures_in_test;
        world w;
        world_create(&w, layouts[l]);
        /* Before anything: a fresh process. */
        check(&w, 0);
        for (int op = 1; op <= OPS_PER_LAYOUT; op++) {
            one_op(&w);
            /* Some paging, whatever the dice say: pages written out (so that later touches
               read them back), then a working set emptied onto the standby and modified lists. */
            if (op == OPS_PER_LAYOUT / 2 - 10)
                (void)vas_write_modified_pages(w.m);
            if (op == OPS_PER_LAYOUT - 10)
                CHECK(vas_empty_working_set(w.a[0].p));
            if (op % CHECK_EVERY == 0)
                check(&w, op == OPS_PER_LAYOUT);
        }
        world_destroy(&w);
        if (check_failures_in_test != failures)
            fprintf(stderr, "  (layout %s)\n", layouts[l]);
    }
}

/* ---- Helpers over a map ---------------------------------------------------------------------- */

static int is_allocation_kind(map_kind k) { return k < KIND_PAGE_TABLE; }
static uint64_t end_of(const map_block *b) { return b->base + b->size; }

static const map_block *block_at(const process_map *m, uint64_t address)
{
    for (size_t i = 0; i < m->block_count; i++)
        if (address - m->blocks[i].base < m->blocks[i].size)
            return &m->blocks[i];
    return NULL;
}

static int build(vas_process *p, process_map *m)
{
    int ok = process_map_build(p, m);
    CHECK(ok);
    return ok;
}

/* Whether a QueryWorkingSetEx entry for the one page at va says valid, asked alone. */
static int page_valid(vas_process *p, uint64_t va, vas_working_set_ex_information *out)
{
    vas_working_set_ex_information e = {.virtual_address = va};
    CHECK(vas_query_working_set_ex(p, &e, 1));
    if (out)
        *out = e;
    return e.valid != 0;
}

/* ---- 1. The map covers user space exactly --------------------------------------------------- */

/* What the workload reached on a layout, over its checkpoints: each must have happened. */
typedef struct reached {
    uint64_t unusable, unusable_before_allocation, free_mid_granule_end, guard, noaccess, reserved, stacks,
        shareable, mapped_files, writecopy, locked, standby, modified, pagefile, wow64, resident_views;
} reached;
static reached seen;

static void note_reached(world *w, const process_map *m, vas_process *p)
{
    for (size_t i = 0; i < m->block_count; i++) {
        const map_block *b = &m->blocks[i];
        const map_block *next = i + 1 < m->block_count ? &m->blocks[i + 1] : NULL;
        seen.unusable += b->kind == KIND_UNUSABLE;
        seen.unusable_before_allocation += b->kind == KIND_UNUSABLE && end_of(b) % m->granularity != 0;
        seen.free_mid_granule_end += b->kind == KIND_FREE && next && end_of(b) % m->granularity != 0;
        seen.stacks += b->kind == KIND_STACK;
        seen.shareable += b->kind == KIND_SHAREABLE;
        seen.mapped_files += b->kind == KIND_MAPPED_FILE;
        seen.resident_views += b->type == VAS_MEM_MAPPED && b->working_set > 0;
        for (size_t r = b->first_region; r < b->first_region + b->region_count; r++) {
            const vas_memory_basic_information *info = &m->regions[r].info;
            seen.guard += (info->protect & VAS_PAGE_GUARD) != 0;
            seen.noaccess += info->state == VAS_MEM_COMMIT && info->protect == VAS_PAGE_NOACCESS;
            seen.reserved += info->state == VAS_MEM_RESERVE;
            seen.writecopy += info->protect == VAS_PAGE_WRITECOPY;
        }
    }
    vas_process_counters c;
    CHECK(vas_process_get_counters(p, &c));
    seen.locked += c.locked_pages;
    seen.wow64 += w->count > 2 && m->bits == 32;
    vas_physical_status ps;
    vas_get_physical_status(w->m, &ps);
    seen.standby += ps.standby;
    seen.modified += ps.modified;
    vas_paging_status pg;
    vas_get_paging_status(w->m, &pg);
    seen.pagefile += pg.pages_written;
}

static void check_reached(world *w)
{
    int before = check_failures_in_test;
    CHECK(seen.unusable > 0);
    CHECK(seen.unusable_before_allocation > 0);
    CHECK(seen.guard > 0);
    CHECK(seen.noaccess > 0);
    CHECK(seen.reserved > 0);
    CHECK(seen.stacks > 0);
    CHECK(seen.shareable > 0);
    CHECK(seen.mapped_files > 0);
    CHECK(seen.writecopy > 0);
    CHECK(seen.locked > 0);
    CHECK(seen.standby > 0);
    CHECK(seen.modified > 0);
    CHECK(seen.pagefile > 0);
    CHECK(seen.resident_views > 0);
    CHECK(seen.free_mid_granule_end > 0);
    if (w->count > 2)
        CHECK(seen.wow64 > 0);
    if (check_failures_in_test != before || getenv("TEST_VIEWS_REACHED"))
        fprintf(stderr, "%s reached: unusable %" PRIu64 " (%" PRIu64 " before an allocation), free ending mid-granule %" PRIu64
                ", guard %" PRIu64 ", no-access %" PRIu64 ", reserved %" PRIu64 ", stacks %" PRIu64
                ", shareable %" PRIu64 ", mapped files %" PRIu64 ", write-copy %" PRIu64 ", locked %" PRIu64
                ", standby %" PRIu64 ", modified %" PRIu64 ", written %" PRIu64 ", resident views %" PRIu64 "\n",
                w->layout, seen.unusable, seen.unusable_before_allocation, seen.free_mid_granule_end, seen.guard,
                seen.noaccess, seen.reserved, seen.stacks, seen.shareable, seen.mapped_files, seen.writecopy,
                seen.locked, seen.standby, seen.modified, seen.pagefile, seen.resident_views);
    memset(&seen, 0, sizeof seen);
}

static void check_coverage(world *w, int last)
{
    for (size_t ai = 0; ai < w->count; ai++) {
        vas_process *p = w->a[ai].p;
        process_map m;
        if (!build(p, &m))
            continue;
        vas_system_info si;
        vas_get_system_info(p, &si);
        CHECK_EQ(m.user_first, si.minimum_application_address);
        CHECK_EQ(m.user_last, si.maximum_application_address);
        CHECK_EQ(m.page_size, si.page_size);
        CHECK_EQ(m.granularity, si.allocation_granularity);
        CHECK_EQ(m.process_id, vas_process_id(p));
        CHECK_EQ(m.bits, vas_process_bits(p));
        CHECK(strcmp(m.name, vas_process_name(p)) == 0);
        CHECK(m.block_count > 0);

        uint64_t expect = m.user_first, page = m.page_size, granule = m.granularity;
        size_t next_region = 0, allocations = 0;
        for (size_t i = 0; i < m.block_count; i++) {
            const map_block *b = &m.blocks[i];
            const map_block *prev = i ? &m.blocks[i - 1] : NULL;
            const map_block *next = i + 1 < m.block_count ? &m.blocks[i + 1] : NULL;
            CHECK_EQ(b->base, expect);
            CHECK(b->size > 0);
            CHECK(b->size % page == 0);
            CHECK(b->kind < KIND_COUNT && b->kind != KIND_PAGE_TABLE);
            expect = end_of(b);
            if (is_allocation_kind(b->kind)) {
                allocations++;
                CHECK(b->region_count > 0);
                CHECK_EQ(b->first_region, next_region);
                next_region += b->region_count;
                CHECK(b->type == VAS_MEM_PRIVATE || b->type == VAS_MEM_MAPPED || b->type == VAS_MEM_IMAGE);
                uint64_t at = b->base;
                for (size_t r = b->first_region; r < b->first_region + b->region_count && r < m.region_count; r++) {
                    const vas_memory_basic_information *ri = &m.regions[r].info;
                    CHECK_EQ(ri->base_address, at);
                    CHECK_EQ(ri->allocation_base, b->base);
                    CHECK_EQ(ri->allocation_protect, b->allocation_protect);
                    CHECK_EQ(ri->type, b->type);
                    CHECK(ri->state == VAS_MEM_COMMIT || ri->state == VAS_MEM_RESERVE);
                    CHECK(ri->region_size > 0 && ri->region_size % page == 0);
                    /* VirtualQuery agrees, at the region's first page and at its last. */
                    vas_memory_basic_information q;
                    CHECK_EQ(vas_virtual_query(p, at, &q, sizeof q), sizeof q);
                    CHECK_EQ(q.base_address, ri->base_address);
                    CHECK_EQ(q.allocation_base, ri->allocation_base);
                    CHECK_EQ(q.allocation_protect, ri->allocation_protect);
                    CHECK_EQ(q.region_size, ri->region_size);
                    CHECK_EQ(q.state, ri->state);
                    CHECK_EQ(q.protect, ri->protect);
                    CHECK_EQ(q.type, ri->type);
                    uint64_t last_page = at + ri->region_size - page;
                    CHECK_EQ(vas_virtual_query(p, last_page, &q, sizeof q), sizeof q);
                    CHECK_EQ(q.base_address, last_page);
                    CHECK_EQ(q.region_size, page);
                    CHECK_EQ(q.allocation_base, b->base);
                    CHECK_EQ(q.state, ri->state);
                    CHECK_EQ(q.protect, ri->protect);
                    /* A region is as long as VirtualQuery can make it: the next one differs. */
                    if (r + 1 < b->first_region + b->region_count) {
                        const vas_memory_basic_information *n = &m.regions[r + 1].info;
                        CHECK(n->state != ri->state || n->protect != ri->protect);
                    }
                    at += ri->region_size;
                }
                CHECK_EQ(at, end_of(b));
                /* One block, one whole allocation. */
                vas_memory_region_information alloc;
                CHECK_EQ(vas_nt_query_region_information(p, b->base, &alloc), VAS_STATUS_SUCCESS);
                CHECK_EQ(alloc.allocation_base, b->base);
                CHECK_EQ(alloc.region_size, b->size);
                CHECK_EQ(alloc.region_type, b->type);
                CHECK_EQ(alloc.allocation_protect, b->allocation_protect);
                if (b->type == VAS_MEM_PRIVATE)
                    CHECK_EQ(alloc.commit_size, b->committed);
            } else {
                CHECK_EQ(b->region_count, 0);
                CHECK_EQ(b->type, 0);
                CHECK_EQ(b->allocation_protect, 0);
                CHECK_EQ(b->committed, 0);
                CHECK_EQ(b->working_set, 0);
                CHECK_EQ(b->details[0], '\0');
                /* The range is free, and the free range goes on to the next allocation. */
                vas_memory_basic_information q;
                CHECK_EQ(vas_virtual_query(p, b->base, &q, sizeof q), sizeof q);
                CHECK_EQ(q.state, VAS_MEM_FREE);
                CHECK_EQ(q.base_address, b->base);
                CHECK(q.base_address + q.region_size >= end_of(b));
                CHECK_EQ(vas_virtual_query(p, end_of(b) - page, &q, sizeof q), sizeof q);
                CHECK_EQ(q.state, VAS_MEM_FREE);
                if (next && is_allocation_kind(next->kind))
                    CHECK_EQ(q.base_address + q.region_size, end_of(b));
                else if (!next)
                    CHECK_EQ(q.base_address + q.region_size, m.user_last + 1);
                uint64_t granule_end = b->base - b->base % granule + granule;
                if (b->kind == KIND_UNUSABLE) {
                    CHECK(b->base % granule != 0);
                    CHECK(prev && is_allocation_kind(prev->kind));
                    CHECK(end_of(b) == granule_end || (end_of(b) < granule_end && next && is_allocation_kind(next->kind)));
                } else {
                    CHECK(b->base % granule == 0 || b->base == m.user_first);
                    CHECK(!prev || prev->kind != KIND_FREE); /* free ranges are whole */
                }
            }
        }
        CHECK_EQ(expect, m.user_last + 1);
        CHECK_EQ(next_region, m.region_count);
        vas_process_counters c;
        CHECK(vas_process_get_counters(p, &c));
        CHECK_EQ(allocations, c.allocation_count);
        note_reached(w, &m, p);
        process_map_free(&m);
    }
    if (last)
        check_reached(w);
}

static void test_map_covers_user_space(void) { run_workload(check_coverage); }

/* ---- 2. The sums ------------------------------------------------------------------------------- */

static void summary_add(map_summary *s, uint64_t size, uint64_t committed, uint64_t working_set)
{
    s->size += size;
    s->committed += committed;
    s->working_set += working_set;
    s->blocks++;
    if (size > s->largest)
        s->largest = size;
}

static void check_summary(const map_summary *actual, const map_summary *expected, const char *what)
{
    int before = check_failures_in_test;
    CHECK_EQ(actual->size, expected->size);
    CHECK_EQ(actual->committed, expected->committed);
    CHECK_EQ(actual->working_set, expected->working_set);
    CHECK_EQ(actual->blocks, expected->blocks);
    CHECK_EQ(actual->largest, expected->largest);
    if (check_failures_in_test != before)
        fprintf(stderr, "  (summary of %s)\n", what);
}

/* The working set of [base, base + size), page by page: each page asked alone when committed;
   reserved pages in batches (they must all be out). */
static uint64_t pages_valid(vas_process *p, const vas_memory_basic_information *info, uint64_t page)
{
    uint64_t valid = 0, end = info->base_address + info->region_size;
    if (info->state == VAS_MEM_COMMIT) {
        for (uint64_t va = info->base_address; va < end; va += page)
            valid += (uint64_t)page_valid(p, va, NULL);
        return valid;
    }
    enum { BATCH = 256 };
    vas_working_set_ex_information batch[BATCH];
    for (uint64_t va = info->base_address; va < end;) {
        size_t n = 0;
        for (; n < BATCH && va < end; n++, va += page)
            batch[n] = (vas_working_set_ex_information){.virtual_address = va};
        CHECK(vas_query_working_set_ex(p, batch, n));
        for (size_t i = 0; i < n; i++)
            valid += batch[i].valid;
    }
    return valid;
}

static void check_sums(world *w, int last)
{
    (void)last;
    for (size_t ai = 0; ai < w->count; ai++) {
        vas_process *p = w->a[ai].p;
        process_map m;
        if (!build(p, &m))
            continue;
        uint64_t page = m.page_size;
        map_summary sums[KIND_COUNT];
        memset(sums, 0, sizeof sums);
        uint64_t private_committed = 0, view_charge = 0;
        for (size_t i = 0; i < m.block_count; i++) {
            const map_block *b = &m.blocks[i];
            uint64_t committed = 0, working_set = 0;
            for (size_t r = b->first_region; r < b->first_region + b->region_count && r < m.region_count; r++) {
                const map_region *region = &m.regions[r];
                if (region->info.state == VAS_MEM_COMMIT)
                    committed += region->info.region_size;
                working_set += region->working_set;
                uint64_t valid = pages_valid(p, &region->info, page);
                CHECK_EQ(region->working_set, valid * page);
                if (region->info.state != VAS_MEM_COMMIT)
                    CHECK_EQ(valid, 0); /* only committed pages can be resident */
            }
            CHECK_EQ(b->committed, committed);
            CHECK_EQ(b->working_set, working_set);
            if (b->type == VAS_MEM_PRIVATE)
                private_committed += committed;
            if (b->type == VAS_MEM_MAPPED) {
                /* A view's charge: its pages made copy-on-write (MemoryRegionInformation's
                   CommitSize), checked against the commit charge below. */
                vas_memory_region_information ri;
                CHECK_EQ(vas_nt_query_region_information(p, b->base, &ri), VAS_STATUS_SUCCESS);
                view_charge += ri.commit_size;
            }
            summary_add(&sums[b->kind], b->size, b->committed, b->working_set);
        }
        vas_process_counters c;
        CHECK(vas_process_get_counters(p, &c));
        uint64_t tables = c.page_table_pages * page;
        if (tables)
            summary_add(&sums[KIND_PAGE_TABLE], tables, tables, tables);
        map_summary total = {0, 0, 0, 0, 0};
        for (int k = 0; k < KIND_COUNT; k++) {
            check_summary(&m.summary[k], &sums[k], kind_name((map_kind)k));
            if (k == KIND_FREE || k == KIND_UNUSABLE)
                continue;
            total.size += sums[k].size;
            total.committed += sums[k].committed;
            total.working_set += sums[k].working_set;
            total.blocks += sums[k].blocks;
            if (sums[k].largest > total.largest)
                total.largest = sums[k].largest;
        }
        check_summary(&m.total, &total, "the total");
        /* Free and Unusable and the rest: all of user space. */
        CHECK_EQ(m.total.size - tables + m.summary[KIND_FREE].size + m.summary[KIND_UNUSABLE].size,
                 m.user_last + 1 - m.user_first);
        /* Against the process's counters. The total holds the page tables (VMMap's Page Table
           row), which the counters keep apart: */
        CHECK_EQ(m.total.size - tables, c.virtual_size);
        CHECK_EQ(m.total.working_set - tables, c.working_set_size);
        CHECK_EQ(m.total.blocks - (tables ? 1 : 0), c.allocation_count);
        /* Commit charge: the private committed pages but KUSER_SHARED_DATA's, which is the
           system's, and the views' copy-on-write pages (PAGE_WRITECOPY). */
        CHECK_EQ(private_committed - (w->nt ? page : 0) + view_charge, c.commit_charge);
        vas_process_memory_counters pmc;
        CHECK(vas_get_process_memory_info(p, &pmc));
        CHECK_EQ(pmc.working_set_size, c.working_set_size);
        process_map_free(&m);
    }
}

static void test_map_sums(void) { run_workload(check_sums); }

/* ---- 3. Kinds ---------------------------------------------------------------------------------- */

/* Whether details names "TEB of thread <id>" as one of its comma-separated items. */
static int names_item(const char *details, const char *item)
{
    size_t n = strlen(item);
    for (const char *s = details; (s = strstr(s, item)) != NULL; s++)
        if ((s == details || (s >= details + 2 && s[-2] == ',' && s[-1] == ' ')) && (s[n] == '\0' || s[n] == ','))
            return 1;
    return 0;
}

static void check_kinds(world *w, int last)
{
    (void)last;
    for (size_t ai = 0; ai < w->count; ai++) {
        actor *a = &w->a[ai];
        process_map m;
        if (!build(a->p, &m))
            continue;
        char expect[160];
        /* Threads: the stack reservation, and the TEB. */
        vas_thread_info threads[16];
        size_t thread_count = vas_process_threads(a->p, threads, 16);
        CHECK(thread_count <= 16);
        for (size_t t = 0; t < thread_count && t < 16; t++) {
            const map_block *stack = block_at(&m, threads[t].deallocation_stack);
            CHECK(stack != NULL);
            if (stack) {
                CHECK_EQ(stack->base, threads[t].deallocation_stack);
                CHECK_EQ(stack->kind, KIND_STACK);
                CHECK_EQ(stack->type, VAS_MEM_PRIVATE);
                CHECK(threads[t].stack_base <= end_of(stack) && threads[t].stack_limit >= stack->base);
                snprintf(expect, sizeof expect, "Thread %" PRIu32, threads[t].thread_id);
                CHECK(strcmp(stack->details, expect) == 0);
            }
            const map_block *teb = block_at(&m, threads[t].teb);
            CHECK(teb != NULL);
            if (teb) {
                CHECK_EQ(teb->kind, KIND_PRIVATE_DATA);
                snprintf(expect, sizeof expect, "TEB of thread %" PRIu32, threads[t].thread_id);
                CHECK(names_item(teb->details, expect));
            }
        }
        /* Views. */
        size_t file_views = 0, shared_views = 0;
        for (size_t v = 0; v < a->view_count; v++) {
            const map_block *b = block_at(&m, a->views[v]);
            CHECK(b != NULL);
            if (!b)
                continue;
            CHECK_EQ(b->base, a->views[v]);
            CHECK_EQ(b->type, VAS_MEM_MAPPED);
            if (a->view_is_file[v]) {
                file_views++;
                CHECK_EQ(b->kind, KIND_MAPPED_FILE);
                CHECK(strcmp(b->details, file_path) == 0);
            } else {
                shared_views++;
                CHECK_EQ(b->kind, KIND_SHAREABLE);
                CHECK_EQ(b->details[0], '\0');
            }
        }
        /* The workload's own private allocations (whatever is left of them). */
        for (size_t i = 0; i < a->alloc_count; i++) {
            vas_memory_region_information ri;
            if (!alloc_live(a->p, a->allocs[i], &ri))
                continue;
            const map_block *b = block_at(&m, a->allocs[i]);
            CHECK(b != NULL);
            if (b) {
                int before = check_failures_in_test;
                CHECK_EQ(b->base, a->allocs[i]);
                CHECK_EQ(b->kind, KIND_PRIVATE_DATA);
                CHECK_EQ(b->details[0], '\0');
                if (check_failures_in_test != before)
                    fprintf(stderr, "  the allocation at 0x%" PRIx64 " of %s on %s is %s, details \"%s\"\n",
                            b->base, a->label, w->layout, kind_name(b->kind), b->details);
            }
        }
        if (w->nt) {
            const map_block *b = block_at(&m, KUSER);
            CHECK(b != NULL);
            if (b) {
                CHECK_EQ(b->base, KUSER);
                CHECK_EQ(b->size, m.granularity);
                CHECK_EQ(b->kind, KIND_PRIVATE_DATA);
                CHECK(strcmp(b->details, "Shared user data") == 0);
            }
        }
        /* Every block's kind fits its type, and the counts add up. */
        size_t counted[KIND_COUNT] = {0};
        for (size_t i = 0; i < m.block_count; i++) {
            const map_block *b = &m.blocks[i];
            counted[b->kind]++;
            if (b->type == VAS_MEM_MAPPED)
                CHECK(b->kind == KIND_MAPPED_FILE || b->kind == KIND_SHAREABLE);
            else if (b->type == VAS_MEM_PRIVATE)
                CHECK(b->kind == KIND_PRIVATE_DATA || b->kind == KIND_STACK);
            else
                CHECK(b->kind == KIND_FREE || b->kind == KIND_UNUSABLE);
        }
        CHECK_EQ(counted[KIND_STACK], thread_count);
        CHECK_EQ(counted[KIND_MAPPED_FILE], file_views);
        CHECK_EQ(counted[KIND_SHAREABLE], shared_views);
        CHECK_EQ(counted[KIND_IMAGE], 0);
        CHECK_EQ(counted[KIND_HEAP], 0);
        process_map_free(&m);
    }
}

static void test_map_kinds(void) { run_workload(check_kinds); }

/* ---- 4. Physical memory --------------------------------------------------------------------- */

static int compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

typedef struct census {
    uint64_t private_active[MAX_ACTORS], tables[MAX_ACTORS], tables_active[MAX_ACTORS];
    uint64_t section_active, system_active, locked_active, active, strangers;
} census;

static census take_census(world *w)
{
    census c;
    memset(&c, 0, sizeof c);
    vas_physical_status ps;
    vas_get_physical_status(w->m, &ps);
    vas_frame_info batch[1024];
    for (uint64_t first = 0; first < ps.frame_count;) {
        size_t n = vas_get_frame_info(w->m, first, batch, 1024);
        CHECK(n > 0);
        if (!n)
            break;
        for (size_t i = 0; i < n; i++) {
            const vas_frame_info *f = &batch[i];
            int active = f->list == VAS_FRAME_ACTIVE;
            c.active += (uint64_t)active;
            if (f->owner == VAS_FRAME_OWNER_SECTION)
                c.section_active += (uint64_t)active;
            else if (f->owner == VAS_FRAME_OWNER_SYSTEM)
                c.system_active += (uint64_t)active;
            else if (f->owner == VAS_FRAME_OWNER_LOCKED)
                c.locked_active += (uint64_t)active;
            else if (f->owner == VAS_FRAME_OWNER_PROCESS || f->owner == VAS_FRAME_OWNER_TABLE) {
                size_t who = MAX_ACTORS;
                for (size_t a = 0; a < w->count; a++)
                    if (vas_process_id(w->a[a].p) == f->process_id)
                        who = a;
                if (who == MAX_ACTORS) {
                    c.strangers++;
                } else if (f->owner == VAS_FRAME_OWNER_PROCESS) {
                    c.private_active[who] += (uint64_t)active;
                } else {
                    c.tables[who]++;
                    c.tables_active[who] += (uint64_t)active;
                }
            }
        }
        first += n;
    }
    CHECK_EQ(c.active, ps.active);
    return c;
}

/* The private working-set pages of a process, and the frames of its resident section pages
   (appended to frames), page by page over its committed regions. */
static uint64_t resident_pages(vas_process *p, const process_map *m, uint64_t **frames, size_t *count,
                               size_t *capacity)
{
    uint64_t private_pages = 0;
    for (size_t r = 0; r < m->region_count; r++) {
        const vas_memory_basic_information *info = &m->regions[r].info;
        if (info->state != VAS_MEM_COMMIT)
            continue;
        for (uint64_t va = info->base_address; va < info->base_address + info->region_size; va += m->page_size) {
            vas_working_set_ex_information e;
            if (!page_valid(p, va, &e))
                continue;
            if (!e.shared) {
                private_pages++;
                CHECK_EQ(e.share_count, 1);
                continue;
            }
            CHECK_EQ(info->type, VAS_MEM_MAPPED);
            CHECK(e.share_count >= 1);
            uint64_t physical = 0;
            CHECK_EQ(vas_virtual_to_physical(p, va, &physical), VAS_STATUS_SUCCESS);
            if (*count == *capacity) {
                *capacity = *capacity ? *capacity * 2 : 256;
                *frames = realloc(*frames, *capacity * sizeof **frames);
                CHECK(*frames != NULL);
                if (!*frames)
                    exit(1);
            }
            (*frames)[(*count)++] = physical / m->page_size;
        }
    }
    return private_pages;
}

static void check_physical(world *w, int last)
{
    (void)last;
    census c = take_census(w);
    uint64_t *frames = NULL;
    size_t frame_count = 0, capacity = 0;
    uint64_t private_sum = 0, table_sum = 0;
    for (size_t a = 0; a < w->count; a++) {
        vas_process *p = w->a[a].p;
        process_map m;
        if (!build(p, &m))
            continue;
        vas_process_counters pc;
        CHECK(vas_process_get_counters(p, &pc));
        uint64_t private_pages = resident_pages(p, &m, &frames, &frame_count, &capacity);
        CHECK_EQ(c.private_active[a], private_pages);
        CHECK_EQ(c.tables[a], pc.page_table_pages);
        CHECK_EQ(c.tables_active[a], pc.page_table_pages);
        private_sum += private_pages;
        table_sum += pc.page_table_pages;
        process_map_free(&m);
    }
    if (frame_count)
        qsort(frames, frame_count, sizeof *frames, compare_u64);
    size_t distinct = 0;
    for (size_t i = 0; i < frame_count; i++)
        distinct += (size_t)(i == 0 || frames[i] != frames[i - 1]);
    free(frames);
    CHECK_EQ(c.section_active, distinct);
    CHECK_EQ(c.strangers, 0);
    CHECK_EQ(c.locked_active, 0);
    /* And nothing else is active but the system's frames. */
    CHECK_EQ(c.active, private_sum + table_sum + distinct + c.system_active);
}

static void test_physical_owners(void) { run_workload(check_physical); }

/* ---- 5. The views print --------------------------------------------------------------------- */

typedef enum view_id { VIEW_MAP, VIEW_FRAG, VIEW_PHYSICAL, VIEW_STATS, VIEW_STATS_MACHINE, VIEW_QUERY } view_id;

static char *slurp(const char *path, size_t *length)
{
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    if (!f)
        return NULL;
    size_t capacity = 4096, used = 0;
    char *text = malloc(capacity);
    for (size_t n; text && (n = fread(text + used, 1, capacity - used - 1, f)) > 0;) {
        used += n;
        if (capacity - used < 2) {
            char *bigger = realloc(text, capacity * 2);
            if (!bigger) {
                free(text);
                text = NULL;
                break;
            }
            text = bigger;
            capacity *= 2;
        }
    }
    fclose(f);
    CHECK(text != NULL);
    if (text)
        text[used] = '\0';
    if (length)
        *length = used;
    return text;
}

/* Runs one view with stdout sent to out_path; returns what it printed (to be freed). */
static char *capture(world *w, size_t actor_index, view_id id, const view_options *o, uint64_t address)
{
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(saved >= 0 && fd >= 0);
    if (saved < 0 || fd < 0)
        exit(1);
    dup2(fd, STDOUT_FILENO);
    close(fd);
    vas_process *p = w->a[actor_index].p;
    view_process processes[MAX_ACTORS];
    for (size_t i = 0; i < w->count; i++)
        processes[i] = (view_process){w->a[i].p, w->a[i].label};
    switch (id) {
    case VIEW_MAP: view_map(p, o); break;
    case VIEW_FRAG: view_frag(p, o); break;
    case VIEW_PHYSICAL: view_physical(w->m, processes, w->count, o); break;
    case VIEW_STATS: view_stats(w->m, p, o); break;
    case VIEW_STATS_MACHINE: view_stats(w->m, NULL, o); break;
    case VIEW_QUERY: view_query(p, address, o); break;
    }
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    size_t length = 0;
    char *text = slurp(out_path, &length);
    CHECK(length > 0);
    return text;
}

/* A JSON document joins the array of all of them, checked at the end. */
static void keep_json(const char *text)
{
    if (!json_all) {
        json_all = fopen(json_path, "w");
        CHECK(json_all != NULL);
        if (!json_all)
            return;
        fputs("[\n", json_all);
    } else {
        fputs(",\n", json_all);
    }
    fputs(text, json_all);
    json_documents++;
}

static int has(const char *text, const char *needle)
{
    int found = text && strstr(text, needle) != NULL;
    if (!found)
        fprintf(stderr, "  output lacks: %s\n", needle);
    return found;
}

/* Every view, every option; JSON kept for the parser. */
static void print_all(world *w)
{
    static const view_options options[] = {
        {.json = 0, .colour = 0, .per_page = 0}, {.json = 0, .colour = 1, .per_page = 0},
        {.json = 1, .colour = 0, .per_page = 0}, {.json = 0, .colour = 0, .per_page = 1},
        {.json = 0, .colour = 1, .per_page = 1}, {.json = 1, .colour = 0, .per_page = 1},
    };
    for (size_t oi = 0; oi < sizeof options / sizeof options[0]; oi++) {
        const view_options *o = &options[oi];
        for (size_t a = 0; a < w->count; a++) {
            vas_system_info si;
            vas_get_system_info(w->a[a].p, &si);
            uint64_t addresses[] = {si.minimum_application_address, w->nt ? KUSER : si.minimum_application_address,
                                    si.maximum_application_address, si.maximum_application_address + 1};
            view_id ids[] = {VIEW_MAP, VIEW_FRAG, VIEW_STATS, VIEW_QUERY, VIEW_QUERY, VIEW_QUERY, VIEW_QUERY};
            for (size_t v = 0; v < sizeof ids / sizeof ids[0]; v++) {
                if (o->per_page && ids[v] != VIEW_FRAG)
                    continue; /* per_page is the fragmentation view's */
                char *text = capture(w, a, ids[v], o, v >= 3 ? addresses[v - 3] : 0);
                if (text && o->json)
                    keep_json(text);
                int failing_query = v == 6; /* past user space */
                if (text && !o->json && o->colour && ids[v] != VIEW_STATS && !failing_query)
                    CHECK(strstr(text, "\033[") != NULL); /* the stats and a failed query have none */
                if (text && !o->colour)
                    CHECK(strstr(text, "\033[") == NULL);
                free(text);
            }
        }
        if (o->per_page)
            continue;
        view_id machine_views[] = {VIEW_PHYSICAL, VIEW_STATS_MACHINE};
        for (size_t v = 0; v < 2; v++) {
            char *text = capture(w, 0, machine_views[v], o, 0);
            if (text && o->json)
                keep_json(text);
            free(text);
        }
    }
}

/* ---- The fragmentation view's cells, recomputed from the map ----------------------------------
 * The rule (views.c's header of the view): a cell shows the kind of most of its bytes, any
 * allocation beating free and unusable bytes; ties go to the kind first in summary order, and
 * between free and unusable to free. Cells outside user space are blank. */

static int expected_cell(const process_map *m, uint64_t start, uint64_t size)
{
    uint64_t bytes[KIND_COUNT] = {0}, end = start + size;
    for (size_t i = 0; i < m->block_count; i++) {
        const map_block *b = &m->blocks[i];
        uint64_t from = b->base > start ? b->base : start, to = end_of(b) < end ? end_of(b) : end;
        if (from < to)
            bytes[b->kind] += to - from;
    }
    int best = -1;
    for (int k = 0; k < KIND_PAGE_TABLE; k++)
        if (bytes[k] && (best < 0 || bytes[k] > bytes[best]))
            best = k;
    if (best >= 0)
        return best;
    if (bytes[KIND_UNUSABLE] > bytes[KIND_FREE])
        return KIND_UNUSABLE;
    return bytes[KIND_FREE] ? KIND_FREE : -1;
}

/* The text after `"key":` at or after from, or NULL. */
static const char *after_key(const char *from, const char *key)
{
    char needle[64];
    snprintf(needle, sizeof needle, "\"%s\":", key);
    const char *at = from ? strstr(from, needle) : NULL;
    return at ? at + strlen(needle) : NULL;
}

static int kind_of_json_name(const char *name, size_t length)
{
    for (int k = 0; k < KIND_COUNT; k++)
        if (strlen(kind_json_name((map_kind)k)) == length && strncmp(kind_json_name((map_kind)k), name, length) == 0)
            return k;
    return -2;
}

/* Checks the rows of one-line fragmentation JSON against the map: each row of cells cell by
   cell, each run of rows for its kind, and that together they tile user space in order. */
static void check_frag(const process_map *m, const char *text, uint64_t cell, const char *what)
{
    int before = check_failures_in_test;
    int letter_kind[128];
    for (int i = 0; i < 128; i++)
        letter_kind[i] = -2;
    const char *p = after_key(text, "legend");
    CHECK(p && *p == '{');
    for (p = p ? p + 1 : NULL; p && *p == '"';) {
        char letter = p[1];
        const char *name = p + 5; /* "X":" */
        const char *close = strchr(name, '"');
        CHECK(close && p[2] == '"' && p[3] == ':' && p[4] == '"');
        if (!close)
            return;
        letter_kind[(unsigned char)letter & 127] =
            letter == ' ' ? -1 : kind_of_json_name(name, (size_t)(close - name));
        p = close + 1;
        if (*p == ',')
            p++;
    }
    uint64_t span = cell * 64, user_end = m->user_last + 1;
    uint64_t row = m->user_first - m->user_first % span;
    int previous_uniform = -1; /* the kind of the previous entry when it was all one kind */
    p = after_key(text, "rows");
    CHECK(p && *p == '[');
    size_t entries = 0;
    for (p = p ? p + 1 : NULL; p && *p == '{'; entries++) {
        uint64_t address = 0;
        const char *q = after_key(p, "address");
        CHECK(q && sscanf(q, "\"0x%" SCNx64 "\"", &address) == 1);
        const char *end_of_entry = strchr(p, '}');
        if (!q || !end_of_entry)
            break;
        const char *cells = after_key(p, "cells");
        if (cells && cells < end_of_entry) {
            /* One row, cell by cell. */
            CHECK_EQ(address, row);
            cells++;
            const char *cells_end = strchr(cells, '"');
            size_t n = cells_end ? (size_t)(cells_end - cells) : 0;
            size_t want = 0;
            while (want < 64 && row + want * cell < user_end)
                want++;
            CHECK_EQ(n, want);
            int uniform = -1, mixed = 0;
            for (size_t c = 0; c < n && c < want; c++) {
                int expect = expected_cell(m, row + c * cell, cell);
                int shown = letter_kind[(unsigned char)cells[c] & 127];
                if (shown != expect) {
                    CHECK_EQ(shown, expect);
                    fprintf(stderr, "  cell at 0x%" PRIx64 " of %s\n", row + c * cell, what);
                    break;
                }
                if (expect >= 0 && uniform >= 0 && expect != uniform)
                    mixed = 1;
                if (expect >= 0 && uniform < 0)
                    uniform = expect;
            }
            if (!mixed && uniform >= 0)
                CHECK(uniform != previous_uniform); /* two rows of one kind make a run */
            previous_uniform = mixed ? -1 : uniform;
            row += span;
        } else {
            /* A run of whole rows of one kind. */
            uint64_t last = 0, rows = 0, size = 0;
            const char *k = after_key(p, "kind");
            const char *l = after_key(p, "last");
            const char *r = after_key(p, "rows");
            const char *z = after_key(p, "size");
            CHECK(k && l && r && z && k < end_of_entry && z < end_of_entry);
            if (!k || !l || !r || !z)
                break;
            CHECK(sscanf(l, "\"0x%" SCNx64 "\"", &last) == 1);
            CHECK(sscanf(r, "%" SCNu64, &rows) == 1);
            CHECK(sscanf(z, "%" SCNu64, &size) == 1);
            const char *kind_end = strchr(k + 1, '"');
            int kind = kind_end ? kind_of_json_name(k + 1, (size_t)(kind_end - k - 1)) : -2;
            uint64_t first = row > m->user_first ? row : m->user_first;
            uint64_t end = row + rows * span < user_end ? row + rows * span : user_end;
            CHECK(rows >= 2);
            CHECK_EQ(address, first);
            CHECK_EQ(last + 1, end);
            CHECK_EQ(size, end - first);
            CHECK(kind != previous_uniform);
            /* Every cell of the run is of its kind: as each block it covers is one kind, the
               cells' kinds are those of the blocks, checked at every block boundary inside. */
            for (uint64_t at = first; at < end;) {
                int expect = expected_cell(m, at - at % cell, cell);
                if (expect != kind) {
                    CHECK_EQ(expect, kind);
                    fprintf(stderr, "  run cell at 0x%" PRIx64 " of %s\n", at, what);
                    break;
                }
                const map_block *b = block_at(m, at);
                uint64_t next = b ? end_of(b) : end;
                at = next - next % cell > at ? next - next % cell : at + cell;
                if (next % cell && at < end) {
                    /* the cell that straddles the boundary */
                    expect = expected_cell(m, at, cell);
                    if (expect != kind) {
                        CHECK_EQ(expect, kind);
                        fprintf(stderr, "  run cell at 0x%" PRIx64 " of %s\n", at, what);
                        break;
                    }
                    at += cell;
                }
            }
            previous_uniform = kind;
            row += rows * span;
        }
        p = end_of_entry + 1;
        if (*p == ',')
            p++;
    }
    CHECK(p && *p == ']');
    CHECK(entries > 0);
    CHECK(row >= user_end && row - span < user_end); /* to the end of user space, no further */
    if (check_failures_in_test != before)
        fprintf(stderr, "  (fragmentation view of %s)\n", what);
}

/* The JSON views, one line each, carry the snapshot's numbers. */
static void check_json_numbers(world *w)
{
    view_options o = {.json = 1, .colour = 0, .per_page = 0};
    char expect[512];
    json_one_line = 1;
    census c = take_census(w);
    char *physical = capture(w, 0, VIEW_PHYSICAL, &o, 0);
    for (size_t a = 0; a < w->count; a++) {
        vas_process *p = w->a[a].p;
        process_map m;
        if (!build(p, &m))
            continue;
        /* The map's total. */
        char *text = capture(w, a, VIEW_MAP, &o, 0);
        snprintf(expect, sizeof expect,
                 "\"total\":{\"size\":%" PRIu64 ",\"committed\":%" PRIu64 ",\"working_set\":%" PRIu64
                 ",\"blocks\":%" PRIu64 ",\"largest\":%" PRIu64 "}",
                 m.total.size, m.total.committed, m.total.working_set, m.total.blocks, m.total.largest);
        CHECK(has(text, expect));
        free(text);
        /* The largest free block. */
        const map_block *largest = NULL;
        for (size_t i = 0; i < m.block_count; i++)
            if (m.blocks[i].kind == KIND_FREE && (!largest || m.blocks[i].size > largest->size))
                largest = &m.blocks[i];
        for (int per_page = 0; per_page < 2; per_page++) {
            view_options f = {.json = 1, .colour = 0, .per_page = per_page};
            text = capture(w, a, VIEW_FRAG, &f, 0);
            if (largest)
                snprintf(expect, sizeof expect, "\"largest_free\":{\"base\":\"0x%" PRIx64 "\",\"size\":%" PRIu64 "}",
                         largest->base, largest->size);
            else
                snprintf(expect, sizeof expect, "\"largest_free\":null");
            CHECK(has(text, expect));
            uint64_t cell = per_page ? m.page_size : m.granularity;
            snprintf(expect, sizeof expect, "\"cell_size\":%" PRIu64 ",", cell);
            CHECK(has(text, expect));
            char what[96];
            snprintf(what, sizeof what, "%s on %s, %s", w->a[a].label, w->layout, per_page ? "per page" : "per granule");
            check_frag(&m, text, cell, what);
            free(text);
        }
        /* The stats view gives the counters. */
        vas_process_counters pc;
        CHECK(vas_process_get_counters(p, &pc));
        text = capture(w, a, VIEW_STATS, &o, 0);
        snprintf(expect, sizeof expect, "\"virtual_size\":%" PRIu64 ",", pc.virtual_size);
        CHECK(has(text, expect));
        snprintf(expect, sizeof expect, "\"commit_charge\":%" PRIu64 ",", pc.commit_charge);
        CHECK(has(text, expect));
        snprintf(expect, sizeof expect, "\"working_set_size\":%" PRIu64 ",", pc.working_set_size);
        CHECK(has(text, expect));
        snprintf(expect, sizeof expect, "\"page_table_pages\":%" PRIu64 ",", pc.page_table_pages);
        CHECK(has(text, expect));
        free(text);
        /* The physical view counts the process's frames as the census does. */
        snprintf(expect, sizeof expect, "\"id\":%" PRIu32 ",\"pages\":%" PRIu64 ",\"page_tables\":%" PRIu64,
                 vas_process_id(p), c.private_active[a], c.tables_active[a]);
        CHECK(has(physical, expect));
        /* VirtualQuery's view names each block's kind as the map does, at its first page, its
           second, and its last. */
        size_t wrong = 0;
        for (size_t i = 0; i < m.block_count; i++) {
            const map_block *b = &m.blocks[i];
            uint64_t probes[] = {b->base, b->base + m.page_size, end_of(b) - m.page_size};
            for (size_t k = 0; k < 3; k++) {
                if (k == 1 && b->size < 2 * m.page_size)
                    continue;
                text = capture(w, a, VIEW_QUERY, &o, probes[k]);
                snprintf(expect, sizeof expect, "\"kind\":\"%s\"", kind_json_name(b->kind));
                if (!text || !strstr(text, expect)) {
                    const char *said = text ? strstr(text, "\"kind\":") : NULL;
                    static int shown;
                    wrong++;
                    if (shown++ < 6)
                        fprintf(stderr, "  query at 0x%" PRIx64 " in the %s block 0x%" PRIx64 " + 0x%" PRIx64
                                " of %s on %s says %.24s\n", probes[k], kind_name(b->kind), b->base, b->size,
                                w->a[a].label, w->layout, said ? said : "nothing");
                }
                free(text);
            }
        }
        CHECK_EQ(wrong, 0);
        process_map_free(&m);
    }
    /* The physical view's other counts: every frame on the standby, modified, zeroed and free
       lists, the section and system frames in use, none locked or of another process. */
    vas_physical_status ps;
    vas_get_physical_status(w->m, &ps);
    snprintf(expect, sizeof expect,
             "\"counts\":{\"section\":%" PRIu64 ",\"system\":%" PRIu64 ",\"locked\":0,\"standby\":%" PRIu64
             ",\"modified\":%" PRIu64 ",\"other_processes\":0,\"zeroed\":%" PRIu64 ",\"free\":%" PRIu64
             ",\"frame_zero\":1}",
             c.section_active, c.system_active, ps.standby, ps.modified, ps.zeroed, ps.free);
    CHECK(has(physical, expect));
    free(physical);
    json_one_line = 0;
}

static void check_views(world *w, int last)
{
    check_json_numbers(w);
    if (last)
        print_all(w);
}

static void test_views_print(void)
{
    run_workload(check_views);
    if (!json_all) {
        CHECK(json_all != NULL);
        return;
    }
    fputs("]\n", json_all);
    fclose(json_all);
    json_all = NULL;
    CHECK(json_documents > 0);
    if (system("command -v python3 >/dev/null 2>&1") != 0) {
        fprintf(stderr, "test_views: no python3, the JSON is not parsed\n");
        return;
    }
    char command[256];
    snprintf(command, sizeof command, "python3 -m json.tool '%s' >/dev/null", json_path);
    int status = system(command);
    CHECK_EQ(status, 0);
    if (status) {
        fprintf(stderr, "  (the %zu JSON documents are in %s)\n", json_documents, json_path);
        keep_temp = 1;
    }
}

static const check_test tests[] = {
    TEST(test_map_covers_user_space),
    TEST(test_map_sums),
    TEST(test_map_kinds),
    TEST(test_physical_owners),
    TEST(test_views_print),
};

CHECK_MAIN(tests)
