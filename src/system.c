/*
 * system.c - system space: the kernel's part of every address space, one per machine, and its
 * paged and nonpaged pools.
 *
 * Data structure. System space is kept by one internal process, the System process: its VADs
 * are the pools' reservations, its page tables the system page tables, its working set the
 * system working set. A kernel-mode access to an address at or above the system range start
 * resolves there, whichever process is current, so a page allocated in system space is at the
 * same address with the same bytes in every process; a user-mode access there is an access
 * violation (the process's own shape ends below). vas keeps the system page tables in that one
 * process rather than linking them into every process's top-level table: the translation is the
 * same, and no process can reach them from user mode.
 *
 * Each pool is a reservation in system space, committed a page at a time. Small requests are
 * carved from pool pages in units of 8 bytes (x86) or 16 (64-bit), each block preceded by a
 * header of one unit holding its size, pool type and tag (written into the page, where a kernel
 * debugger would find it); requests too large for a page take whole pages with no header, as
 * big pool allocations do. The pool's host-side index (per page, the allocated blocks that start
 * in it, sorted) is what frees are checked against. Nonpaged pool pages are faulted in and locked in the system
 * working set when committed, so they never leave RAM; paged pool pages are ordinary pages of the
 * system working set, trimmed and paged like any other. Pool pages are charged to commit.
 *
 * Invariants (checked by system_check):
 *   1. Blocks are sorted, disjoint, inside committed pages of their pool; a page holds either
 *      small blocks (and its free-byte count is the page less the blocks), or is part of one big
 *      block.
 *   2. Per tag, bytes in use equal the sizes of that tag's allocated blocks.
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>

enum { PAGE_FREE = 0, PAGE_SMALL = 1, PAGE_BIG = 2, PAGE_BIG_TAIL = 3 };

#define RECENTLY_FREED 64 /* freed block addresses remembered to tell a double free */

static uint64_t system_top(const layout *l)
{
    if (l->native_bits == 32)
        return 0xFFFFFFFFull;
    return l->page_tables == PT_IA64 ? (1ull << 43) - 1 : UINT64_MAX; /* IA-64's tables map 43 bits */
}

uint64_t system_range_start(const vas_machine *m)
{
    const layout *l = m->layout;
    return l->native_bits == 32 && !l->win9x ? (uint64_t)m->increase_user_va_mb << 20 : l->system_range_start;
}

static uint32_t pool_create(vas_machine *m, pool *pl, int type, uint64_t base, uint64_t size)
{
    vas_process *s = m->system;
    uint64_t at = base, length = size;
    uint32_t status = region_allocate(s, &at, 0, &length, VAS_MEM_RESERVE, VAS_PAGE_READWRITE, NULL);
    if (status)
        return status;
    *pl = (pool){.type = type, .base = at, .pages = length >> s->page_shift};
    pl->page_state = calloc(pl->pages, 1);
    pl->page_free = calloc(pl->pages, sizeof *pl->page_free);
    pl->page_blocks = calloc(pl->pages, sizeof *pl->page_blocks);
    return pl->page_state && pl->page_free && pl->page_blocks ? VAS_STATUS_SUCCESS : VAS_STATUS_NO_MEMORY;
}

uint32_t system_create(vas_machine *m)
{
    const layout *l = m->layout;
    vas_process *s = calloc(1, sizeof *s);
    if (!s)
        return VAS_STATUS_NO_MEMORY;
    m->system = s;
    s->magic = PROCESS_MAGIC;
    s->machine = m;
    snprintf(s->name, sizeof s->name, "System");
    s->bits = l->native_bits;
    s->large_address_aware = true;
    s->page_size = l->page_size;
    s->page_shift = m->physical.page_shift;
    s->pt = pagetable_format_of(l->page_tables);
    /* On x64 the system range may start in the non-canonical hole (Windows 7's 0xFFFF0800...):
       system space proper, and the System process's shape, start at the canonical upper half. */
    uint64_t top = system_top(l), lowest = system_range_start(m);
    if (l->page_tables == PT_X64 && lowest < 0xFFFF800000000000ull)
        lowest = 0xFFFF800000000000ull;
    s->shape = (address_space_shape){.lowest = lowest, .highest = top, .vad_limit = top - (GRANULARITY - 1)};
    s->dep_enabled = !l->win9x;
    s->ws_minimum = 0;
    s->ws_maximum = UINT64_MAX; /* the system working set: trimmed only when memory is short */
    uint32_t status = tlb_create(s, 0); /* the page tables come with the first system page */
    /* The pools: nonpaged pool near the start of system space, paged pool after it, each a
       quarter of system space up to 1 GB. */
    uint64_t space = s->shape.vad_limit - s->shape.lowest, size = space / 4 < (1ull << 30) ? space / 4 : 1ull << 30;
    size = align_down(size, GRANULARITY);
    uint64_t nonpaged = align_up(s->shape.lowest + (16u << 20), GRANULARITY);
    if (!status)
        status = pool_create(m, &m->pools[VAS_NONPAGED_POOL], VAS_NONPAGED_POOL, nonpaged, size);
    if (!status)
        status = pool_create(m, &m->pools[VAS_PAGED_POOL], VAS_PAGED_POOL, nonpaged + size, size);
    return status;
}

void system_destroy(vas_machine *m)
{
    for (int i = 0; i < 2; i++) {
        free(m->pools[i].page_state);
        free(m->pools[i].page_free);
        for (uint64_t k = 0; m->pools[i].page_blocks && k < m->pools[i].used_end; k++)
            free(m->pools[i].page_blocks[k].blocks);
        free(m->pools[i].page_blocks);
    }
    free(m->pool_tags);
    m->pool_tags = NULL;
}

/* ---- Pool pages -------------------------------------------------------------------------------- */

static uint64_t unit_of(const vas_machine *m) { return m->layout->native_bits == 32 ? 8 : 16; }

static uint64_t page_address(const vas_machine *m, const pool *pl, uint64_t page)
{
    return pl->base + (page << m->physical.page_shift);
}

/* Commits `count` pool pages from `first`; nonpaged ones are brought in and locked at once. */
static uint32_t commit_pages(vas_machine *m, pool *pl, uint64_t first, uint64_t count)
{
    vas_process *s = m->system;
    uint64_t at = page_address(m, pl, first), size = count << s->page_shift;
    uint32_t status = region_allocate(s, &at, 0, &size, VAS_MEM_COMMIT, VAS_PAGE_READWRITE, NULL);
    for (uint64_t i = 0; !status && pl->type == VAS_NONPAGED_POOL && i < count; i++) {
        uint64_t page = at + (i << s->page_shift);
        vas_exception e;
        if (!fault_in_page(s, page, &e) || !ws_lock_page(s, page))
            status = e.code ? e.code : VAS_STATUS_NO_MEMORY;
    }
    if (status && status != VAS_STATUS_COMMITMENT_LIMIT) { /* undo what was committed */
        uint64_t b = page_address(m, pl, first), z = count << s->page_shift;
        region_free(s, &b, &z, VAS_MEM_DECOMMIT);
    }
    if (!status) {
        pl->pages_committed += count;
        if (first + count > pl->used_end)
            pl->used_end = first + count;
    }
    return status;
}

static void decommit_pages(vas_machine *m, pool *pl, uint64_t first, uint64_t count)
{
    vas_process *s = m->system;
    uint64_t at = page_address(m, pl, first), size = count << s->page_shift;
    region_free(s, &at, &size, VAS_MEM_DECOMMIT);
    memset(pl->page_state + first, PAGE_FREE, count);
    pl->pages_committed -= count;
}

/* ---- The block index --------------------------------------------------------------------------
 * Each page lists the blocks that start in it, sorted: a small-block page its blocks (a few
 * dozen at most), a big block's first page that one block. Lookups and frees stay within a page. */

static uint64_t page_of_address(const vas_machine *m, const pool *pl, uint64_t address)
{
    return (address - pl->base) >> m->physical.page_shift;
}

/* The index in its page's list of the block starting at address, or the list's count. */
static uint32_t find_block(const struct pool_page *pp, uint64_t address)
{
    uint32_t i = 0;
    while (i < pp->count && pp->blocks[i].address < address)
        i++;
    return i < pp->count && pp->blocks[i].address == address ? i : pp->count;
}

static bool insert_block(const vas_machine *m, pool *pl, pool_block b)
{
    struct pool_page *pp = &pl->page_blocks[page_of_address(m, pl, b.address)];
    if (!grow_array((void **)&pp->blocks, &pp->capacity, pp->count, sizeof *pp->blocks, 4))
        return false;
    uint32_t i = 0;
    while (i < pp->count && pp->blocks[i].address < b.address)
        i++;
    memmove(&pp->blocks[i + 1], &pp->blocks[i], (pp->count - i) * sizeof *pp->blocks);
    pp->blocks[i] = b;
    pp->count++;
    pl->block_count++;
    return true;
}

static void remove_block(const vas_machine *m, pool *pl, uint64_t address)
{
    struct pool_page *pp = &pl->page_blocks[page_of_address(m, pl, address)];
    uint32_t i = find_block(pp, address);
    memmove(&pp->blocks[i], &pp->blocks[i + 1], (pp->count - i - 1) * sizeof *pp->blocks);
    pp->count--;
    pl->block_count--;
    if (pp->count == 0) { /* an empty page keeps no list */
        free(pp->blocks);
        *pp = (struct pool_page){NULL, 0, 0};
    }
}

/* The lowest offset in a small-block page where `need` bytes are free, or UINT64_MAX. */
static uint64_t find_gap(const vas_machine *m, const pool *pl, uint64_t page, uint64_t need)
{
    const struct pool_page *pp = &pl->page_blocks[page];
    uint64_t start = page_address(m, pl, page), end = start + m->physical.page_size, at = start;
    for (uint32_t i = 0; i < pp->count; i++) {
        if (pp->blocks[i].address - at >= need)
            return at - start;
        at = pp->blocks[i].address + pp->blocks[i].size;
    }
    return end - at >= need ? at - start : UINT64_MAX;
}

static pool_tag *tag_entry(vas_machine *m, uint32_t tag, int type, bool create)
{
    for (uint32_t i = 0; i < m->pool_tag_count; i++)
        if (m->pool_tags[i].tag == tag && m->pool_tags[i].pool_type == type)
            return &m->pool_tags[i];
    if (!create)
        return NULL;
    if (!grow_array((void **)&m->pool_tags, &m->pool_tag_capacity, m->pool_tag_count, sizeof *m->pool_tags, 32))
        return NULL;
    pool_tag *t = &m->pool_tags[m->pool_tag_count++];
    *t = (pool_tag){tag, type, 0, 0, 0};
    return t;
}

/* The block header as the page holds it: the block's size in units, its pool type, its tag. */
static void write_header(vas_machine *m, uint64_t block, uint64_t size, int type, uint32_t tag)
{
    uint8_t header[16] = {0};
    uint64_t unit = unit_of(m), units = size / unit;
    header[0] = (uint8_t)units;
    header[1] = (uint8_t)(units >> 8);
    header[2] = (uint8_t)(type + 1); /* 0 marks a free block */
    memcpy(header + 4, &tag, 4);
    process_write(m->system, block, header, (size_t)unit);
}

/* ---- Allocation --------------------------------------------------------------------------------- */

static uint32_t allocate_block(vas_machine *m, pool *pl, uint64_t size, uint32_t tag, uint64_t *out);

static uint32_t pool_alloc_locked(vas_machine *m, int type, uint64_t size, uint32_t tag, uint64_t *out)
{
    pool *pl = &m->pools[type];
    uint64_t unit = unit_of(m), page_size = m->physical.page_size, page_shift = m->physical.page_shift;
    if (size == 0)
        return VAS_STATUS_INVALID_PARAMETER;
    if (size > (pl->pages << page_shift))
        return VAS_STATUS_NO_MEMORY; /* more than the whole pool */
    uint32_t tags_before = m->pool_tag_count;
    pool_tag *t = tag_entry(m, tag, type, true);
    if (!t)
        return VAS_STATUS_NO_MEMORY;
    uint32_t status = allocate_block(m, pl, size, tag, out);
    if (status) {
        m->pool_tag_count = tags_before; /* a failed call leaves no trace in the tag list */
        return status;
    }
    t->allocs++;
    t->bytes += size <= page_size - unit ? align_up(size, unit) + unit : align_up(size, page_size);
    return VAS_STATUS_SUCCESS;
}

/* Carves the block (or the whole pages) out of the pool. */
static uint32_t allocate_block(vas_machine *m, pool *pl, uint64_t size, uint32_t tag, uint64_t *out)
{
    uint64_t unit = unit_of(m), page_size = m->physical.page_size, page_shift = m->physical.page_shift;
    int type = pl->type;
    uint64_t need = align_up(size, unit) + unit; /* the header comes first */
    if (need <= page_size) {
        uint64_t page = UINT64_MAX, offset = UINT64_MAX;
        /* Scans start at the first page that may have room (pages below it had less than two
           units free when last looked at) and stop at the pool's high-water mark. */
        while (pl->first_roomy < pl->used_end &&
               (pl->page_state[pl->first_roomy] != PAGE_SMALL || pl->page_free[pl->first_roomy] < 2 * unit) &&
               pl->page_state[pl->first_roomy] != PAGE_FREE)
            pl->first_roomy++;
        uint64_t last = pl->last_small; /* the page the previous block came from, first */
        if (last < pl->used_end && pl->page_state[last] == PAGE_SMALL && pl->page_free[last] >= need &&
            (offset = find_gap(m, pl, last, need)) != UINT64_MAX)
            page = last;
        for (uint64_t i = pl->first_roomy; i < pl->used_end && offset == UINT64_MAX; i++)
            if (pl->page_state[i] == PAGE_SMALL && pl->page_free[i] >= need &&
                (offset = find_gap(m, pl, i, need)) != UINT64_MAX)
                page = i;
        if (page == UINT64_MAX) { /* a new pool page */
            for (uint64_t i = pl->first_roomy; i < pl->pages && i <= pl->used_end && page == UINT64_MAX; i++)
                if (pl->page_state[i] == PAGE_FREE)
                    page = i;
            if (page == UINT64_MAX)
                return VAS_STATUS_NO_MEMORY; /* the pool is exhausted */
            uint32_t status = commit_pages(m, pl, page, 1);
            if (status)
                return status;
            pl->page_state[page] = PAGE_SMALL;
            pl->page_free[page] = (uint32_t)page_size;
            offset = 0;
        }
        uint64_t block = page_address(m, pl, page) + offset;
        if (!insert_block(m, pl, (pool_block){block, need, tag, false})) {
            if (pl->page_free[page] == page_size)
                decommit_pages(m, pl, page, 1);
            return VAS_STATUS_NO_MEMORY;
        }
        pl->page_free[page] -= (uint32_t)need;
        pl->last_small = page;
        write_header(m, block, need, type, tag);
        *out = block + unit;
    } else { /* whole pages, no header */
        uint64_t pages = align_up(size, page_size) >> page_shift, run = 0, first = 0;
        for (uint64_t i = 0; i < pl->pages && run < pages && i < pl->used_end + pages; i++) {
            run = pl->page_state[i] == PAGE_FREE ? run + 1 : 0;
            first = i + 1 - run;
        }
        if (run < pages)
            return VAS_STATUS_NO_MEMORY;
        uint32_t status = commit_pages(m, pl, first, pages);
        if (status)
            return status;
        uint64_t block = page_address(m, pl, first);
        if (!insert_block(m, pl, (pool_block){block, pages << page_shift, tag, true})) {
            decommit_pages(m, pl, first, pages);
            return VAS_STATUS_NO_MEMORY;
        }
        pl->page_state[first] = PAGE_BIG;
        memset(pl->page_state + first + 1, PAGE_BIG_TAIL, pages - 1);
        *out = block;
    }
    return VAS_STATUS_SUCCESS;
}

uint64_t vas_pool_alloc(vas_machine *m, int pool_type, uint64_t size, uint32_t tag)
{
    if (!m || m->magic != MACHINE_MAGIC) {
        vas_set_last_error(VAS_ERROR_INVALID_HANDLE);
        return 0;
    }
    uint64_t address = 0;
    uint32_t status = VAS_STATUS_INVALID_PARAMETER;
    if (pool_type == VAS_NONPAGED_POOL || pool_type == VAS_PAGED_POOL) {
        process_enter(m->system);
        status = pool_alloc_locked(m, pool_type, size, tag, &address);
        process_leave(m->system, status == VAS_STATUS_SUCCESS);
    } else {
        status = VAS_STATUS_INVALID_PARAMETER;
    }
    if (status) {
        vas_set_last_error(vas_nt_status_to_dos_error(status));
        return 0;
    }
    return address;
}

/* ---- Free ---------------------------------------------------------------------------------------- */

static pool *pool_of(vas_machine *m, uint64_t address)
{
    for (int i = 0; i < 2; i++) {
        pool *pl = &m->pools[i];
        if (address >= pl->base && address - pl->base < (pl->pages << m->physical.page_shift))
            return pl;
    }
    return NULL;
}

static bool recently_freed(const vas_machine *m, uint64_t address)
{
    for (int i = 0; i < RECENTLY_FREED; i++)
        if (m->freed_blocks[i] == address && address)
            return true;
    return false;
}

static uint32_t pool_free_locked(vas_machine *m, uint64_t address, uint32_t tag)
{
    pool *pl = pool_of(m, address);
    uint64_t unit = unit_of(m), page_size = m->physical.page_size, page_shift = m->physical.page_shift;
    if (!pl)
        return VAS_STATUS_INVALID_ADDRESS; /* BAD_POOL_CALLER: not a pool address */
    bool big = address % page_size == 0;
    uint64_t block = big ? address : address - unit;
    const struct pool_page *pp = &pl->page_blocks[page_of_address(m, pl, block)];
    uint32_t i = find_block(pp, block);
    if (i == pp->count || pp->blocks[i].big != big)
        return recently_freed(m, address) ? VAS_STATUS_INVALID_PAGE_PROTECTION  /* freed twice */
                                          : VAS_STATUS_INVALID_ADDRESS;        /* not a block */
    pool_block b = pp->blocks[i];
    if (b.tag != tag)
        return VAS_STATUS_INVALID_PARAMETER; /* BAD_POOL_CALLER: freed with the wrong tag */
    uint64_t freed_page = page_of_address(m, pl, block);
    if (freed_page < pl->first_roomy)
        pl->first_roomy = freed_page; /* it has room again */
    pool_tag *t = tag_entry(m, tag, pl->type, false);
    remove_block(m, pl, block);
    uint64_t page = (block - pl->base) >> page_shift;
    if (big) {
        decommit_pages(m, pl, page, b.size >> page_shift);
    } else {
        write_header(m, block, b.size, -1, tag); /* marked free, where a debugger would look */
        pl->page_free[page] += (uint32_t)b.size;
        if (pl->page_free[page] == page_size)
            decommit_pages(m, pl, page, 1);
    }
    if (t) {
        t->frees++;
        t->bytes -= b.size;
    }
    m->freed_blocks[m->freed_next++ % RECENTLY_FREED] = address;
    return VAS_STATUS_SUCCESS;
}

int vas_pool_free(vas_machine *m, uint64_t address, uint32_t tag)
{
    if (!m || m->magic != MACHINE_MAGIC) {
        vas_set_last_error(VAS_ERROR_INVALID_HANDLE);
        return 0;
    }
    process_enter(m->system);
    uint32_t status = pool_free_locked(m, address, tag);
    process_leave(m->system, status == VAS_STATUS_SUCCESS);
    if (status) {
        /* Windows would stop with BAD_POOL_CALLER (0xC2); the library reports it instead. */
        vas_set_last_error(status == VAS_STATUS_INVALID_PAGE_PROTECTION ? VAS_ERROR_INVALID_BLOCK
                           : vas_nt_status_to_dos_error(status));
        return 0;
    }
    return 1;
}

size_t vas_pool_tags(vas_machine *m, vas_pool_tag_info *out, size_t max)
{
    if (!m || m->magic != MACHINE_MAGIC)
        return 0;
    pthread_mutex_lock(&m->lock);
    size_t count = 0;
    for (uint32_t i = 0; i < m->pool_tag_count; i++) {
        const pool_tag *t = &m->pool_tags[i];
        if (out && count < max)
            out[count] = (vas_pool_tag_info){t->tag, t->pool_type, t->allocs, t->frees, t->bytes};
        count++;
    }
    pthread_mutex_unlock(&m->lock);
    return count;
}

void vas_get_pool_status(vas_machine *m, vas_pool_status *status)
{
    if (!status)
        return;
    memset(status, 0, sizeof *status);
    if (!m || m->magic != MACHINE_MAGIC)
        return;
    pthread_mutex_lock(&m->lock);
    for (int i = 0; i < 2; i++) {
        const pool *pl = &m->pools[i];
        status->base[i] = pl->base;
        status->size[i] = pl->pages << m->physical.page_shift;
        status->committed[i] = pl->pages_committed << m->physical.page_shift;
        status->blocks[i] = pl->block_count;
    }
    status->system_range_start = system_range_start(m);
    status->resident = (uint64_t)m->system->ws_count << m->physical.page_shift;
    pthread_mutex_unlock(&m->lock);
}

/* ---- The driver's view ------------------------------------------------------------------------------- */

void vas_ke_stack_attach_process(vas_process **current, vas_process *process, vas_apc_state *state)
{
    if (!current || !state)
        return;
    state->previous = *current;
    *current = process;
}

void vas_ke_unstack_detach_process(vas_process **current, const vas_apc_state *state)
{
    if (current && state)
        *current = state->previous;
}

static uint32_t probe(vas_process *p, uint64_t address, uint64_t length, uint32_t alignment, bool write,
                      vas_exception *exception)
{
    vas_exception ignored;
    if (!exception)
        exception = &ignored;
    *exception = (vas_exception){0, 0, 0};
    if (!p || p->magic != PROCESS_MAGIC)
        return exception->code = VAS_STATUS_INVALID_HANDLE;
    if (length == 0) /* nothing to probe, whatever the rest says */
        return VAS_STATUS_SUCCESS;
    if (alignment == 0 || alignment > 16 || (alignment & (alignment - 1)))
        return exception->code = VAS_STATUS_INVALID_PARAMETER;
    uint32_t kind = write ? VAS_EXCEPTION_WRITE_FAULT : VAS_EXCEPTION_READ_FAULT;
    if (address % alignment) {
        *exception = (vas_exception){VAS_STATUS_DATATYPE_MISALIGNMENT, kind, address};
        return exception->code;
    }
    uint64_t probe_limit = p->shape.highest + 1; /* MmUserProbeAddress: the 64 KB off-limits start */
    if (address > probe_limit || length > probe_limit - address) {
        /* Windows raises it at MmUserProbeAddress, whatever the address */
        *exception = (vas_exception){VAS_STATUS_ACCESS_VIOLATION, kind, probe_limit};
        return exception->code;
    }
    for (uint64_t page = align_down(address, p->page_size); write && page < address + length; page += p->page_size) {
        uint64_t at = page < address ? address : page;
        uint8_t byte;
        uint32_t status = vas_kernel_read(p->machine, p, at, &byte, 1, exception);
        if (!status)
            status = vas_kernel_write(p->machine, p, at, &byte, 1, exception);
        if (status)
            return status;
    }
    return VAS_STATUS_SUCCESS;
}

uint32_t vas_probe_for_read(vas_process *current, uint64_t address, uint64_t length, uint32_t alignment,
                            vas_exception *exception)
{
    return probe(current, address, length, alignment, false, exception);
}

uint32_t vas_probe_for_write(vas_process *current, uint64_t address, uint64_t length, uint32_t alignment,
                             vas_exception *exception)
{
    return probe(current, address, length, alignment, true, exception);
}

/* ---- MDLs: a user buffer locked and mapped into system space ----------------------------------------
 * An MDL describes a buffer of one process. Locking it (MmProbeAndLockPages) faults every page
 * in for the access asked, records its frame and marks the frame locked: its working-set entry
 * is locked (MDL lock, 3) so it is never trimmed, and its lock_count keeps the frame alive even
 * if the process decommits or frees the buffer, or dies (the frame is then "orphaned": active,
 * owned by nobody, until the unlock frees it). Mapping it (MmGetSystemAddressForMdlSafe) gives
 * a system-space range whose kernel-mode accesses go straight to those frames, whatever process
 * is current. Pages of mapped views and images are refused (STATUS_NOT_SUPPORTED). */

#define MDL_MAGIC 0x4D444C21u /* "MDL!" */

struct vas_mdl {
    uint32_t magic;
    vas_machine *machine;
    vas_process *process;
    uint64_t address, length, pages;
    uint64_t *frames;                 /* while locked */
    uint32_t access;
    uint64_t system_address;          /* while mapped, else 0 */
    struct vas_mdl *next;
};

vas_mdl *vas_io_allocate_mdl(vas_process *p, uint64_t address, uint64_t length)
{
    if (process_enter(p)) {
        vas_set_last_error(VAS_ERROR_INVALID_HANDLE);
        return NULL;
    }
    vas_machine *m = p->machine;
    uint64_t first = align_down(address, p->page_size);
    vas_mdl *mdl = NULL;
    if (length && address <= p->shape.highest && length - 1 <= p->shape.highest - address) {
        uint64_t pages = (align_up(address + length, p->page_size) - first) >> p->page_shift;
        mdl = calloc(1, sizeof *mdl);
        if (mdl) {
            *mdl = (vas_mdl){MDL_MAGIC, m, p, address, length, pages, NULL, 0, 0, m->mdls};
            m->mdls = mdl;
        }
    }
    process_leave(p, false);
    if (!mdl)
        vas_set_last_error(length ? VAS_ERROR_NOT_ENOUGH_MEMORY : VAS_ERROR_INVALID_PARAMETER);
    return mdl;
}

static void unlock_frames(vas_mdl *mdl, uint64_t count)
{
    vas_machine *m = mdl->machine;
    physical_memory *pm = &m->physical;
    vas_process *p = mdl->process->magic == PROCESS_MAGIC ? mdl->process : NULL;
    for (uint64_t i = 0; i < count; i++) {
        uint64_t frame = mdl->frames[i];
        pfn_entry *e = &pm->pfn[frame];
        if (--e->lock_count)
            continue;
        if (!e->owner) { /* orphaned: its process let it go meanwhile */
            frame_drop_copy(m, frame);
            physical_release(pm, frame);
            m->orphaned_frames--;
            continue;
        }
        uint64_t page = align_down(mdl->address, pm->page_size) + (i << pm->page_shift);
        ws_entry *w = p ? &p->ws[ws_index_of(p, page, frame)] : NULL;
        if (w && w->locked == 3) {
            w->locked = 0;
            p->locked_pages--;
        }
    }
    free(mdl->frames);
    mdl->frames = NULL;
}

void mdl_orphan_frame(vas_machine *m, uint64_t frame)
{
    m->physical.pfn[frame].owner = NULL;
    m->orphaned_frames++;
}

uint32_t vas_mm_probe_and_lock_pages(vas_mdl *mdl, uint32_t access, vas_exception *exception)
{
    vas_exception ignored;
    if (!exception)
        exception = &ignored;
    *exception = (vas_exception){0, 0, 0};
    if (!mdl || mdl->magic != MDL_MAGIC || process_enter(mdl->process))
        return exception->code = VAS_STATUS_INVALID_HANDLE;
    vas_process *p = mdl->process;
    physical_memory *pm = &p->machine->physical;
    uint32_t status = VAS_STATUS_SUCCESS;
    if (mdl->frames || (access != VAS_EXCEPTION_READ_FAULT && access != VAS_EXCEPTION_WRITE_FAULT))
        status = VAS_STATUS_INVALID_PARAMETER; /* locked already, or a bad access */
    else if (!(mdl->frames = calloc(mdl->pages, sizeof *mdl->frames)))
        status = VAS_STATUS_NO_MEMORY;
    uint64_t first = align_down(mdl->address, p->page_size), locked = 0;
    for (; !status && locked < mdl->pages; locked++) {
        uint64_t page = first + (locked << p->page_shift);
        uint64_t at = page < mdl->address ? mdl->address : page;
        vad *v = vad_find(&p->vads, page);
        if (v && v->view) {
            *exception = (vas_exception){VAS_STATUS_NOT_SUPPORTED, access, at};
            status = VAS_STATUS_NOT_SUPPORTED;
            break;
        }
        uint8_t byte;
        /* A kernel-mode touch of the page, as the probe makes it: faults it in (and copies a
           write-copy page), or raises the page's exception. */
        status = access_locked_kernel(p, at, &byte, access, exception);
        if (status)
            break;
        uint64_t leaf = pagetable_leaf(p, page, false);
        uint64_t frame = pte_frame(p, pagetable_read(p, leaf, pagetable_index(p, page, p->pt->levels - 1)));
        ws_entry *w = &p->ws[ws_index_of(p, page, frame)];
        if (!w->locked) {
            w->locked = 3;
            p->locked_pages++;
        }
        pm->pfn[frame].lock_count++;
        if (access == VAS_EXCEPTION_WRITE_FAULT && !pm->pfn[frame].modified)
            ws_forget_copy(p->machine, frame); /* the device may write: the page is dirty */
        mdl->frames[locked] = frame;
    }
    if (status && mdl->frames) { /* nothing stays locked */
        unlock_frames(mdl, locked);
    }
    if (!status)
        mdl->access = access;
    process_leave(p, true);
    return status;
}

uint64_t vas_mm_get_system_address_for_mdl_safe(vas_mdl *mdl)
{
    if (!mdl || mdl->magic != MDL_MAGIC) {
        vas_set_last_error(VAS_ERROR_INVALID_HANDLE);
        return 0;
    }
    vas_machine *m = mdl->machine;
    process_enter(m->system);
    uint64_t base = 0, size = mdl->pages << m->physical.page_shift;
    uint32_t status = !mdl->frames ? VAS_STATUS_INVALID_PARAMETER /* not locked */
                    : mdl->system_address ? VAS_STATUS_SUCCESS
                    : region_allocate(m->system, &base, 0, &size, VAS_MEM_RESERVE, VAS_PAGE_READWRITE, NULL);
    if (!status && !mdl->system_address) {
        vad_find(&m->system->vads, base)->flags |= VAD_NO_CHANGE; /* system PTEs: not for VirtualFree */
        mdl->system_address = base + (mdl->address & (m->physical.page_size - 1));
    }
    process_leave(m->system, !status);
    if (status) {
        vas_set_last_error(vas_nt_status_to_dos_error(status));
        return 0;
    }
    return mdl->system_address;
}

bool mdl_access(vas_machine *m, uint64_t address, uint8_t *buffer, size_t size, uint32_t kind,
                vas_exception *exception, uint32_t *status)
{
    physical_memory *pm = &m->physical;
    for (vas_mdl *mdl = m->mdls; mdl; mdl = mdl->next) {
        if (!mdl->system_address || address < mdl->system_address || address - mdl->system_address >= mdl->length)
            continue;
        uint64_t offset = address - mdl->system_address + (mdl->address & (pm->page_size - 1));
        if (size > mdl->length - (address - mdl->system_address) ||
            (kind == VAS_EXCEPTION_WRITE_FAULT && mdl->access != VAS_EXCEPTION_WRITE_FAULT) ||
            kind == VAS_EXCEPTION_EXECUTE_FAULT) {
            /* past the buffer, or a write through a read lock */
            *exception = (vas_exception){VAS_STATUS_ACCESS_VIOLATION, kind, address};
            *status = VAS_STATUS_ACCESS_VIOLATION;
            return true;
        }
        while (size) {
            uint64_t frame = mdl->frames[offset >> pm->page_shift], in_page = offset & (pm->page_size - 1);
            size_t chunk = (size_t)(pm->page_size - in_page) < size ? (size_t)(pm->page_size - in_page) : size;
            uint8_t *host = physical_bytes(pm, frame) + in_page;
            if (kind == VAS_EXCEPTION_WRITE_FAULT) {
                if (!pm->pfn[frame].modified)
                    ws_forget_copy(m, frame);
                memcpy(host, buffer, chunk);
            } else {
                memcpy(buffer, host, chunk);
            }
            buffer += chunk;
            offset += chunk;
            size -= chunk;
        }
        *status = VAS_STATUS_SUCCESS;
        return true;
    }
    return false;
}

static void unmap_mdl(vas_mdl *mdl)
{
    vas_process *s = mdl->machine->system;
    vad *v = vad_find(&s->vads, mdl->system_address);
    if (v)
        region_release_exact(s, v);
    mdl->system_address = 0;
}

void vas_mm_unlock_pages(vas_mdl *mdl)
{
    if (!mdl || mdl->magic != MDL_MAGIC)
        return;
    vas_machine *m = mdl->machine;
    pthread_mutex_lock(&m->lock);
    if (mdl->system_address)
        unmap_mdl(mdl);
    if (mdl->frames)
        unlock_frames(mdl, mdl->pages);
#ifdef VAS_DEBUG
    if (machine_check_locked(m, true))
        abort();
#endif
    pthread_mutex_unlock(&m->lock);
}

static void free_mdl(vas_mdl *mdl)
{
    vas_machine *m = mdl->machine;
    if (mdl->system_address)
        unmap_mdl(mdl);
    if (mdl->frames)
        unlock_frames(mdl, mdl->pages);
    for (vas_mdl **link = &m->mdls; *link; link = &(*link)->next)
        if (*link == mdl) {
            *link = mdl->next;
            break;
        }
    mdl->magic = 0;
    free(mdl);
}

void vas_io_free_mdl(vas_mdl *mdl)
{
    if (!mdl || mdl->magic != MDL_MAGIC)
        return;
    vas_machine *m = mdl->machine;
    pthread_mutex_lock(&m->lock);
    free_mdl(mdl);
    pthread_mutex_unlock(&m->lock);
}

void mdl_destroy_all(vas_machine *m)
{
    while (m->mdls)
        free_mdl(m->mdls);
}

/* ---- Invariant checking ------------------------------------------------------------------------------ */

int system_check(const vas_machine *m)
{
    int errors = 0;
    uint64_t page_size = m->physical.page_size, page_shift = m->physical.page_shift;
    for (int k = 0; k < 2; k++) {
        const pool *pl = &m->pools[k];
        uint64_t previous_end = 0, blocks = 0;
        for (uint64_t page = 0; page < pl->used_end; page++) {
            const struct pool_page *pp = &pl->page_blocks[page];
            for (uint32_t i = 0; i < pp->count; i++, blocks++) {
                const pool_block *b = &pp->blocks[i];
                bool ok = b->address >= previous_end && ((b->address - pl->base) >> page_shift) == page &&
                          (b->big ? pl->page_state[page] == PAGE_BIG && b->address % page_size == 0
                                  : pl->page_state[page] == PAGE_SMALL &&
                                        (b->address + b->size - 1) >> page_shift == b->address >> page_shift);
                if (!ok) {
                    fprintf(stderr, "vas: pool invariant 1 failed: block %#llx of %llu bytes\n",
                            (unsigned long long)b->address, (unsigned long long)b->size);
                    errors++;
                }
                previous_end = b->address + b->size;
            }
        }
        if (blocks != pl->block_count) {
            fprintf(stderr, "vas: pool invariant 1 failed: %llu blocks listed, count %llu\n",
                    (unsigned long long)blocks, (unsigned long long)pl->block_count);
            errors++;
        }
    }
    return errors;
}
