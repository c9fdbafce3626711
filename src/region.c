/*
 * region.c - reserve, commit, decommit, release, protect and query: NtAllocateVirtualMemory,
 * NtFreeVirtualMemory, NtProtectVirtualMemory and NtQueryVirtualMemory over the allocation tree.
 *
 * Every function here runs with the machine lock held, checks everything first and only then
 * changes state, so a call that returns an error has changed nothing (the one exception is the
 * old protection that Windows itself writes back on some failures, see region_protect).
 *
 * Rounding, as Windows does it:
 *   - a reservation's base is rounded down to 64 KB; any other range [address, address+size)
 *     covers every page it touches: start rounded down, end rounded up to a page;
 *   - a reservation placed by the system takes size rounded up to whole pages.
 *
 * Protection values of private memory (PAGE_* in vas.h), as MiMakeProtectionMask accepts them:
 * exactly one of the eight base values, write-copy ones excluded; PAGE_GUARD, PAGE_NOCACHE and
 * PAGE_WRITECOMBINE as modifiers, not with PAGE_NOACCESS, NOCACHE not with WRITECOMBINE, GUARD
 * not with either cache modifier. Cache modifiers are fixed when pages are committed: a later
 * protect neither adds nor removes them (modern Windows, spec facts 43 and 44).
 */
#include "internal.h"

#include <string.h>

uint32_t protect_check_private(uint32_t protect)
{
    uint32_t base = protect_base(protect), modifiers = protect & ~0xFFu;
    if (modifiers & ~(VAS_PAGE_GUARD | PROTECT_CACHE_MODIFIERS))
        return VAS_STATUS_INVALID_PAGE_PROTECTION;
    if (base == 0 || (base & (base - 1)))
        return VAS_STATUS_INVALID_PAGE_PROTECTION; /* none, or two base values */
    if (base == VAS_PAGE_WRITECOPY || base == VAS_PAGE_EXECUTE_WRITECOPY)
        return VAS_STATUS_INVALID_PAGE_PROTECTION; /* write-copy needs a section */
    if (base == VAS_PAGE_NOACCESS && modifiers)
        return VAS_STATUS_INVALID_PAGE_PROTECTION;
    if ((modifiers & PROTECT_CACHE_MODIFIERS) == PROTECT_CACHE_MODIFIERS)
        return VAS_STATUS_INVALID_PAGE_PROTECTION;
    if ((modifiers & VAS_PAGE_GUARD) && (modifiers & PROTECT_CACHE_MODIFIERS))
        return VAS_STATUS_INVALID_PAGE_PROTECTION;
    return VAS_STATUS_SUCCESS;
}

uint32_t protect_check_any(uint32_t protect)
{
    uint32_t base = protect_base(protect), rest = protect & ~0xFFu;
    if (base == VAS_PAGE_WRITECOPY)
        return protect_check_private(rest | VAS_PAGE_READWRITE);
    if (base == VAS_PAGE_EXECUTE_WRITECOPY)
        return protect_check_private(rest | VAS_PAGE_EXECUTE_READWRITE);
    return protect_check_private(protect);
}

static uint64_t pages_of(const vas_process *p, uint64_t bytes) { return bytes >> p->page_shift; }

static void account_insert(vas_process *p, vad *v)
{
    vad_insert(&p->vads, v);
    p->virtual_size += v->end - v->start;
    if (p->virtual_size > p->peak_virtual_size)
        p->peak_virtual_size = p->virtual_size;
}

/* ---- Allocate ---------------------------------------------------------------------------- */

#define VALID_ALLOCATION_TYPES                                                                   \
    (VAS_MEM_COMMIT | VAS_MEM_RESERVE | VAS_MEM_RESET | VAS_MEM_RESET_UNDO | VAS_MEM_TOP_DOWN |     \
     VAS_MEM_WRITE_WATCH | VAS_MEM_PHYSICAL | VAS_MEM_LARGE_PAGES)

static uint32_t check_allocation_type(uint32_t type)
{
    if (type & ~VALID_ALLOCATION_TYPES)
        return VAS_STATUS_INVALID_PARAMETER_5; /* unknown bits, AT_ROUND_TO_PAGE among them */
    if (!(type & (VAS_MEM_COMMIT | VAS_MEM_RESERVE | VAS_MEM_RESET | VAS_MEM_RESET_UNDO)))
        return VAS_STATUS_INVALID_PARAMETER_5;
    if ((type & (VAS_MEM_RESET | VAS_MEM_RESET_UNDO)) && type != VAS_MEM_RESET && type != VAS_MEM_RESET_UNDO)
        return VAS_STATUS_INVALID_PARAMETER_5; /* MEM_RESET and MEM_RESET_UNDO stand alone */
    if ((type & VAS_MEM_WRITE_WATCH) && !(type & VAS_MEM_RESERVE))
        return VAS_STATUS_INVALID_PARAMETER_5;
    if ((type & VAS_MEM_LARGE_PAGES) && !(type & VAS_MEM_COMMIT))
        return VAS_STATUS_INVALID_PARAMETER_5;
    if ((type & VAS_MEM_PHYSICAL) &&
        (!(type & VAS_MEM_RESERVE) || (type & ~(VAS_MEM_RESERVE | VAS_MEM_PHYSICAL | VAS_MEM_TOP_DOWN))))
        return VAS_STATUS_INVALID_PARAMETER_5;
    return VAS_STATUS_SUCCESS;
}

/* zero_bits: 0 none; 1..21 the top address bits of 32 that must be zero; 32 and above (64-bit
   processes) a mask whose leading zeros count. *high receives the exclusive upper bound. */
static uint32_t zero_bits_limit(const vas_process *p, uint64_t zero_bits, uint64_t *high)
{
    if (zero_bits == 0)
        return VAS_STATUS_SUCCESS;
    if (zero_bits <= 21) {
        *high = 1ull << (32 - zero_bits);
        return VAS_STATUS_SUCCESS;
    }
    if (zero_bits < 32 || p->machine->layout->native_bits == 32)
        return VAS_STATUS_INVALID_PARAMETER_3;
    int leading = __builtin_clzll(zero_bits);
    *high = leading == 0 ? UINT64_MAX : 1ull << (64 - leading);
    return VAS_STATUS_SUCCESS;
}

/* The lowest address is a granule boundary; the highest (inclusive) need only end a page:
   Windows takes 0x20000FFF and then places the 64 KB-aligned reservation below 0x20001000. */
static uint32_t check_requirements(const vas_process *p, const vas_address_requirements *r)
{
    uint64_t top = p->shape.highest;
    if (r->lowest_starting_address % GRANULARITY || r->lowest_starting_address > top)
        return VAS_STATUS_INVALID_PARAMETER;
    if (r->highest_ending_address &&
        ((r->highest_ending_address + 1) % p->page_size || r->highest_ending_address > top))
        return VAS_STATUS_INVALID_PARAMETER;
    if (r->highest_ending_address && r->lowest_starting_address > r->highest_ending_address)
        return VAS_STATUS_INVALID_PARAMETER;
    if (r->alignment && (r->alignment < GRANULARITY || (r->alignment & (r->alignment - 1))))
        return VAS_STATUS_INVALID_PARAMETER;
    return VAS_STATUS_SUCCESS;
}

/* MEM_RESET / MEM_RESET_UNDO: the range must lie inside one allocation; its state and protection
   do not change. MEM_RESET makes the pages clean, so they are dropped rather than written when
   trimmed: their bytes stay until their frames are reused, then read as zeros. MEM_RESET_UNDO
   cannot bring back what was dropped and only checks the range. */
static uint32_t reset_range(vas_process *p, uint64_t *base, uint64_t *size, bool undo)
{
    uint64_t start = align_down(*base, p->page_size), end = align_up(*base + *size, p->page_size);
    vad *v = vad_find(&p->vads, start);
    if (!v || end > v->end)
        return VAS_STATUS_CONFLICTING_ADDRESSES;
    if (!undo) {
        pagetable_reset(p, start, end);
        tlb_walked(p); /* write tags assume a dirty PTE: the walk dropped them */
    }
    *base = start;
    *size = end - start;
    return VAS_STATUS_SUCCESS;
}

/* MEM_COMMIT inside an existing reservation. Already-committed pages take the new protection
   and are not charged again. */
static uint32_t commit_range(vas_process *p, uint64_t *base, uint64_t *size, uint32_t protect)
{
    uint64_t start = align_down(*base, p->page_size), end = align_up(*base + *size, p->page_size);
    vad *v = vad_find(&p->vads, start);
    if (!v || end > v->end || (v->flags & VAD_NO_CHANGE))
        return VAS_STATUS_CONFLICTING_ADDRESSES;
    uint64_t first = pages_of(p, start - v->start), count = pages_of(p, end - start);
    uint32_t status;
    if (v->view) {
        if ((status = view_commit(p, v, first, count, protect)))
            return status;
        tlb_walked(p);
        *base = start;
        *size = end - start;
        return VAS_STATUS_SUCCESS;
    }
    if (protect_is_write_copy(protect))
        return VAS_STATUS_INVALID_PAGE_PROTECTION; /* write-copy needs a section */
    uint64_t new_pages = count - vad_count_committed(v, p->page_shift, first, count);
    status = commit_charge(p, new_pages << p->page_shift);
    if (status)
        return status;
    if (!vad_set_pages(v, p->page_shift, first, count, protect)) {
        commit_release(p, new_pages << p->page_shift);
        return VAS_STATUS_NO_MEMORY;
    }
    if (new_pages != count) { /* some pages were committed already: they change protection */
        pagetable_protect(p, start, end, protect);
        tlb_walked(p);
    }
    *base = start;
    *size = end - start;
    return VAS_STATUS_SUCCESS;
}

uint32_t region_allocate(vas_process *p, uint64_t *base, uint64_t zero_bits, uint64_t *size,
                         uint32_t type, uint32_t protect, const vas_address_requirements *req)
{
    uint64_t high = p->shape.vad_limit;
    uint32_t status = zero_bits_limit(p, zero_bits, &high);
    if (!status)
        status = check_allocation_type(type);
    if (status)
        return status;
    if (p->machine->layout->win9x && (type & (VAS_MEM_RESET | VAS_MEM_RESET_UNDO)))
        return VAS_STATUS_INVALID_PARAMETER_5; /* Windows 95/98 have no MEM_RESET */
    if (*size == 0)
        return VAS_STATUS_INVALID_PARAMETER_4;
    bool resetting = type & (VAS_MEM_RESET | VAS_MEM_RESET_UNDO);
    if (!resetting && (status = protect_check_any(protect)))
        return status;
    if (type & VAS_MEM_LARGE_PAGES)
        return VAS_STATUS_PRIVILEGE_NOT_HELD; /* no process holds SeLockMemoryPrivilege */
    if (type & VAS_MEM_PHYSICAL)
        return protect == VAS_PAGE_READWRITE ? VAS_STATUS_NOT_SUPPORTED   /* AWE: not modelled */
                                             : VAS_STATUS_INVALID_PAGE_PROTECTION;

    /* Addresses: nothing may reach past the highest address an allocation can use. */
    uint64_t limit = p->shape.vad_limit;
    if (*base) {
        if (*base >= limit)
            return VAS_STATUS_INVALID_PARAMETER_2;
        if (*size > limit - *base)
            return VAS_STATUS_INVALID_PARAMETER_4;
    } else if (*size > limit - p->shape.lowest) {
        return VAS_STATUS_INVALID_PARAMETER_4;
    }
    if (req) {
        if (*base || ((type & VAS_MEM_COMMIT) && !(type & VAS_MEM_RESERVE)))
            return VAS_STATUS_INVALID_PARAMETER;
        if ((status = check_requirements(p, req)))
            return status;
    }
    if (resetting)
        return reset_range(p, base, size, type == VAS_MEM_RESET_UNDO);
    if (!(type & VAS_MEM_RESERVE) && *base)
        return commit_range(p, base, size, protect);

    /* A new reservation (MEM_COMMIT with no address reserves too). */
    if (protect_is_write_copy(protect))
        return VAS_STATUS_INVALID_PAGE_PROTECTION;
    uint64_t start, end;
    if (*base) {
        start = align_down(*base, GRANULARITY);
        end = align_up(*base + *size, p->page_size);
        if (start < p->shape.lowest || vad_overlaps(&p->vads, start, end))
            return VAS_STATUS_CONFLICTING_ADDRESSES;
    } else {
        uint64_t length = align_up(*size, p->page_size), low = p->shape.lowest, alignment = GRANULARITY;
        if (req) {
            if (req->lowest_starting_address > low)
                low = req->lowest_starting_address;
            if (req->highest_ending_address && req->highest_ending_address + 1 < high)
                high = req->highest_ending_address + 1;
            if (req->alignment)
                alignment = req->alignment;
        }
        if (high > limit)
            high = limit;
        if (!vad_find_free(&p->vads, length, alignment, low, high, type & VAS_MEM_TOP_DOWN, &start))
            return VAS_STATUS_NO_MEMORY;
        end = start + length;
    }
    bool commit = type & VAS_MEM_COMMIT;
    vad *v = vad_new(start, end, protect, VAS_MEM_PRIVATE);
    if (!v)
        return VAS_STATUS_NO_MEMORY;
    if (commit && (status = commit_charge(p, end - start))) {
        vad_free(v);
        return status;
    }
    if (commit) {
        v->runs[0].protect = protect;
        v->committed_pages = pages_of(p, end - start);
    }
    if (type & VAS_MEM_WRITE_WATCH)
        v->flags |= VAD_WRITE_WATCH;
    account_insert(p, v);
    *base = start;
    *size = end - start;
    return VAS_STATUS_SUCCESS;
}

/* ---- Free -------------------------------------------------------------------------------- */

/* Releases pages [start, end) of v: the whole allocation, its head, its tail or its middle. */
static uint32_t release_range(vas_process *p, vad *v, uint64_t start, uint64_t end)
{
    bool keep_head = start > v->start, keep_tail = end < v->end;
    vad *middle = NULL, *tail = NULL;
    if ((keep_head && !(middle = vad_new_tail(v))) || (keep_tail && !(tail = vad_new_tail(v)))) {
        vad_free(middle);
        return VAS_STATUS_NO_MEMORY;
    }
    uint64_t committed = vad_count_committed(v, p->page_shift, pages_of(p, start - v->start),
                                             pages_of(p, end - start));
    pagetable_unmap(p, start, end);
    tlb_walked(p);
    vad_remove(&p->vads, v);
    p->virtual_size -= v->end - v->start;
    vad *doomed = v;
    if (keep_head) {
        vad_split(v, p->page_shift, pages_of(p, start - v->start), middle);
        account_insert(p, v);
        doomed = middle;
    }
    if (keep_tail) {
        vad_split(doomed, p->page_shift, pages_of(p, end - doomed->start), tail);
        account_insert(p, tail);
    }
    vad_free(doomed);
    commit_release(p, committed << p->page_shift);
    return VAS_STATUS_SUCCESS;
}

uint32_t region_free(vas_process *p, uint64_t *base, uint64_t *size, uint32_t free_type)
{
    if (free_type != VAS_MEM_DECOMMIT && free_type != VAS_MEM_RELEASE)
        return VAS_STATUS_INVALID_PARAMETER_4; /* 0, MEM_FREE, both, placeholders */
    uint64_t address = *base, length = *size, top = p->shape.highest;
    if (address > top)
        return VAS_STATUS_INVALID_PARAMETER_2;
    if (length > top + 1 - address)
        return VAS_STATUS_INVALID_PARAMETER_3;
    uint64_t start = align_down(address, p->page_size);
    vad *v = vad_find(&p->vads, start);
    if (!v)
        return VAS_STATUS_MEMORY_NOT_ALLOCATED;
    if (v->view)
        return VAS_STATUS_UNABLE_TO_DELETE_SECTION; /* views go with UnmapViewOfFile */
    uint64_t end;
    if (length == 0) { /* the whole allocation, named by an address in its first page */
        if (start != v->start)
            return VAS_STATUS_FREE_VM_NOT_AT_BASE;
        end = v->end;
    } else {
        end = align_up(address + length, p->page_size);
        if (end > v->end) /* Windows answers this for a decommit too (Win32: 87, not 487) */
            return VAS_STATUS_UNABLE_TO_FREE_VM;
    }
    if (v->flags & VAD_NO_CHANGE)
        return free_type == VAS_MEM_RELEASE ? VAS_STATUS_UNABLE_TO_FREE_VM
                                            : VAS_STATUS_UNABLE_TO_DECOMMIT_VM;
    uint32_t status;
    if (free_type == VAS_MEM_RELEASE) {
        if ((status = release_range(p, v, start, end)))
            return status;
        *size = end - start;
    } else {
        uint64_t first = pages_of(p, start - v->start), count = pages_of(p, end - start);
        uint64_t committed = vad_count_committed(v, p->page_shift, first, count);
        if (!vad_set_pages(v, p->page_shift, first, count, 0))
            return VAS_STATUS_NO_MEMORY;
        pagetable_unmap(p, start, end);
        tlb_walked(p);
        commit_release(p, committed << p->page_shift);
        *size = length == 0 ? 0 : end - start; /* current Windows reports 0 for a whole decommit */
    }
    *base = start;
    return VAS_STATUS_SUCCESS;
}

/* ---- Protect ----------------------------------------------------------------------------- */

/* On a failure about the range (free, reserved, crossing an allocation's end), current Windows
   writes PAGE_NOACCESS to *old_protect; on argument errors it writes nothing. */
/* Whether view page va has a private copy: its PTE holds anything but nothing or the section's
   own frame. */
static bool view_page_copied(vas_process *p, uint64_t va)
{
    uint64_t leaf = pagetable_leaf(p, va, false);
    uint64_t pte = leaf ? pagetable_read(p, leaf, pagetable_index(p, va, p->pt->levels - 1)) : 0;
    if (pte == 0 || pte == PTE_PROTO_LOOKUP)
        return false;
    return !((pte & PTE_VALID) && p->machine->physical.pfn[pte_frame(p, pte)].is_prototype);
}

/* On an image, read-write requests become their write-copy equivalents. */
static uint32_t image_protect(uint32_t protect)
{
    uint32_t base = protect_base(protect), rest = protect & ~0xFFu;
    if (base == VAS_PAGE_READWRITE)
        return rest | VAS_PAGE_WRITECOPY;
    if (base == VAS_PAGE_EXECUTE_READWRITE)
        return rest | VAS_PAGE_EXECUTE_WRITECOPY;
    return protect;
}

/* A page that has its private copy stays private: write-copy requests become their read-write
   equivalents on it (spec fact 109). */
static uint32_t copied_protect(uint32_t protect)
{
    uint32_t base = protect_base(protect), rest = protect & ~0xFFu;
    return rest | (base == VAS_PAGE_EXECUTE_WRITECOPY ? VAS_PAGE_EXECUTE_READWRITE : VAS_PAGE_READWRITE);
}

uint32_t region_protect(vas_process *p, uint64_t *base, uint64_t *size, uint32_t new_protect,
                        uint32_t *old_protect)
{
    uint32_t status = protect_check_any(new_protect);
    if (status)
        return status;
    if (!old_protect)
        return VAS_STATUS_ACCESS_VIOLATION;
    uint64_t address = *base, length = *size, top = p->shape.highest;
    if (address > top)
        return VAS_STATUS_INVALID_PARAMETER_2;
    if (length == 0 || length > top + 1 - address)
        return VAS_STATUS_INVALID_PARAMETER_3;
    uint64_t start = align_down(address, p->page_size), end = align_up(address + length, p->page_size);
    vad *v = vad_find(&p->vads, start);
    if (!v || end > v->end) {
        *old_protect = VAS_PAGE_NOACCESS;
        return VAS_STATUS_CONFLICTING_ADDRESSES;
    }
    if (v->type == VAS_MEM_IMAGE) /* an image's writable pages copy on write (spec fact 116) */
        new_protect = image_protect(new_protect);
    bool write_copy = protect_is_write_copy(new_protect);
    if ((v->flags & VAD_NO_CHANGE) || (write_copy && !v->view))
        return VAS_STATUS_INVALID_PAGE_PROTECTION;
    uint64_t first = pages_of(p, start - v->start), count = pages_of(p, end - start);
    if (allocation_count_committed(v, p->page_shift, first, count) != count) {
        *old_protect = VAS_PAGE_NOACCESS;
        return VAS_STATUS_NOT_COMMITTED;
    }
    if (v->view && v->type != VAS_MEM_IMAGE && (status = view_check_protect(p, v, new_protect)))
        return status;
    uint64_t copied = 0;
    for (uint64_t page = first; write_copy && page < first + count; page++)
        copied += view_page_copied(p, v->start + (page << p->page_shift));
    uint32_t i = vad_run_index(v, first), old = v->runs[i].protect;
    /* Each run keeps its own cache modifiers; room for every split is reserved first so that
       the loop below cannot fail half-way. */
    uint32_t j = vad_run_index(v, first + count - 1);
    if (!vad_reserve_runs(v, v->run_count + 2 * (j - i + 1) + 2 * (uint32_t)copied + 2))
        return VAS_STATUS_NO_MEMORY;
    /* A view that may now copy on write is charged for every page, once. */
    bool charge = write_copy && !v->view->charged_pages;
    if (charge && (status = commit_charge(p, v->end - v->start)))
        return status;
    if (charge)
        v->view->charged_pages = (v->end - v->start) >> p->page_shift;
    uint64_t page = first, last = first + count;
    while (page < last) {
        i = vad_run_index(v, page);
        uint64_t run_end = vad_run_end(v, p->page_shift, i);
        if (run_end > last)
            run_end = last;
        uint32_t protect = (new_protect & ~PROTECT_CACHE_MODIFIERS) | (v->runs[i].protect & PROTECT_CACHE_MODIFIERS);
        vad_set_pages(v, p->page_shift, page, run_end - page, protect);
        pagetable_protect(p, v->start + (page << p->page_shift), v->start + (run_end << p->page_shift), protect);
        page = run_end;
    }
    for (page = first; copied && page < last; page++) {
        uint64_t va = v->start + (page << p->page_shift);
        if (view_page_copied(p, va)) {
            uint32_t protect = copied_protect(v->runs[vad_run_index(v, page)].protect);
            vad_set_pages(v, p->page_shift, page, 1, protect);
            pagetable_protect(p, va, va + p->page_size, protect);
            copied--;
        }
    }
    tlb_walked(p);
    *old_protect = old;
    *base = start;
    *size = end - start;
    return VAS_STATUS_SUCCESS;
}

/* ---- Query ------------------------------------------------------------------------------- */

/* The region at page, given v: the allocation holding page, or else the first one above it
   (NULL when there is none). */
static void describe_region(const vas_process *p, const vad *v, uint64_t page, vas_memory_basic_information *info)
{
    if (!v || v->start > page) {
        uint64_t end = v ? v->start : p->shape.highest + 1;
        *info = (vas_memory_basic_information){page, 0, 0, end - page, VAS_MEM_FREE, VAS_PAGE_NOACCESS, 0};
        return;
    }
    uint64_t offset = pages_of(p, page - v->start);
    uint32_t i = vad_run_index(v, offset), protect = v->runs[i].protect;
    uint64_t run_end = vad_run_end(v, p->page_shift, i);
    if (v->view && view_count_committed(v, offset, run_end - offset) != run_end - offset) {
        /* A SEC_RESERVE view: the region also ends where the section's commit state changes. */
        bool committed = view_page_committed(v, offset);
        uint64_t end = offset + 1;
        while (end < run_end && view_page_committed(v, end) == committed)
            end++;
        run_end = end;
        protect = committed ? protect : 0;
    }
    uint32_t state = protect ? VAS_MEM_COMMIT : VAS_MEM_RESERVE;
    if (!protect && p->machine->layout->win9x)
        protect = VAS_PAGE_NOACCESS; /* Windows 95/98 report reserved pages as no-access */
    *info = (vas_memory_basic_information){page, v->start, v->allocation_protect,
                                           v->start + (run_end << p->page_shift) - page, state, protect, v->type};
}

uint32_t region_query(vas_process *p, uint64_t address, vas_memory_basic_information *info)
{
    if (address > p->shape.highest)
        return VAS_STATUS_INVALID_PARAMETER;
    uint64_t page = align_down(address, p->page_size);
    describe_region(p, vad_find_or_next(&p->vads, page), page, info); /* one descent, free or used */
    return VAS_STATUS_SUCCESS;
}

size_t region_query_many(vas_process *p, uint64_t address, vas_memory_basic_information *out, size_t max)
{
    if (address > p->shape.highest)
        return 0;
    uint64_t page = align_down(address, p->page_size);
    const vad *v = vad_find_or_next(&p->vads, page);
    size_t n = 0;
    while (n < max) {
        describe_region(p, v, page, &out[n]);
        uint64_t end = page + out[n++].region_size;
        if (end > p->shape.highest || end < page) /* the last region of user space */
            break;
        page = end;
        if (v && page >= v->end)
            v = vad_next(v); /* the walk moves on in order, never descending again */
    }
    return n;
}

uint32_t region_query_allocation(vas_process *p, uint64_t address, vas_memory_region_information *info)
{
    if (address > p->shape.highest)
        return VAS_STATUS_INVALID_PARAMETER;
    vad *v = vad_find(&p->vads, address);
    if (!v)
        return VAS_STATUS_INVALID_ADDRESS;
    /* CommitSize: a view's is its copy-on-write charge (spec fact 113). */
    uint64_t commit = v->view ? vad_charged_pages(v) : v->committed_pages;
    *info = (vas_memory_region_information){v->start, v->allocation_protect, v->type, v->end - v->start,
                                            commit << p->page_shift};
    return VAS_STATUS_SUCCESS;
}

/* ---- Process start and end --------------------------------------------------------------- */

uint32_t region_create_initial(vas_process *p)
{
    if (p->machine->layout->win9x)
        return VAS_STATUS_SUCCESS;
    /* KUSER_SHARED_DATA: one read-only committed page; the rest of its 64 KB is unusable. The
       page is the system's, so it is not charged to the process. */
    vad *v = vad_new(KUSER_SHARED_DATA, KUSER_SHARED_DATA + GRANULARITY, VAS_PAGE_READONLY, VAS_MEM_PRIVATE);
    if (!v || !vad_set_pages(v, p->page_shift, 0, 1, VAS_PAGE_READONLY)) {
        vad_free(v);
        return VAS_STATUS_NO_MEMORY;
    }
    v->flags |= VAD_NO_CHANGE | VAD_SYSTEM;
    account_insert(p, v);
    return VAS_STATUS_SUCCESS;
}

uint32_t region_allocate_exact(vas_process *p, uint64_t start, uint64_t size, uint32_t flags)
{
    if (start < p->shape.lowest || start >= p->shape.vad_limit || size > p->shape.vad_limit - start ||
        vad_overlaps(&p->vads, start, start + size))
        return VAS_STATUS_CONFLICTING_ADDRESSES;
    vad *v = vad_new(start, start + size, VAS_PAGE_READWRITE, VAS_MEM_PRIVATE);
    if (!v)
        return VAS_STATUS_NO_MEMORY;
    uint32_t status = commit_charge(p, size);
    if (status) {
        vad_free(v);
        return status;
    }
    v->runs[0].protect = VAS_PAGE_READWRITE;
    v->committed_pages = pages_of(p, size);
    v->flags = flags;
    account_insert(p, v);
    return VAS_STATUS_SUCCESS;
}

void region_release_exact(vas_process *p, vad *v)
{
    release_range(p, v, v->start, v->end); /* a whole allocation: nothing to split, cannot fail */
}

static void sum_charged(vad *v, void *context)
{
    if (!v->view) /* a view gives its charge back itself */
        *(uint64_t *)context += vad_charged_pages(v);
}

static void detach_view(vad *v, void *context)
{
    if (v->view)
        view_detach(context, v);
}

void region_release_all(vas_process *p)
{
    uint64_t pages = 0;
    vad_for_each(&p->vads, sum_charged, &pages);
    vad_for_each(&p->vads, detach_view, p);
    commit_release(p, pages << p->page_shift);
    vad_destroy_all(&p->vads);
    p->virtual_size = 0;
}
