/*
 * access.c - reads, writes and instruction fetches as a CPU makes them: the software TLB, the
 * page-fault handler, translation for emulators, and the teaching views of physical memory.
 *
 * Data structure. Each process has a direct-mapped software TLB: entry (page number & mask)
 * holds one page's host address and a tag: the page number and the kinds of access (read,
 * write, execute) that may go straight to the bytes; an empty slot is 0. Write permission is only set
 * by a write, after the fault path has set the PTE's dirty bit, so a page written through the
 * TLB is always dirty in its PTE, as a CPU keeps it.
 *
 * An access that misses the TLB takes the machine lock and goes to the fault path (resolve):
 * walk the page tables; a valid PTE that allows the access refills the TLB; anything else asks
 * the allocation tree: free or reserved memory, a no-access page or a protection that forbids
 * the access raise STATUS_ACCESS_VIOLATION; a guard page loses its guard and raises
 * STATUS_GUARD_PAGE_VIOLATION without performing the access; a committed page never touched
 * takes a zeroed frame (a demand-zero fault). Every page of an access is resolved before any
 * byte moves, so a faulting access has no effect on the guest's memory.
 *
 * Invariants:
 *   1. A TLB entry's tag names its own slot's page, and every access it allows is allowed by the PTE
 *      now in the page tables (tlb_invalidate runs on every change that could break this).
 *   2. A process's generation moves on whenever one of its translations changes or goes away.
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>

#define DEFAULT_TLB_ENTRIES 16384u /* 64 MB of 4 KB pages */
#define MAX_TLB_ENTRIES (1u << 20)

/* ---- The TLB ------------------------------------------------------------------------------ */

static const tlb_entry empty_entry = {TLB_EMPTY, NULL};

uint32_t tlb_create(vas_process *p, uint32_t entries)
{
    bool disabled = entries == VAS_TLB_DISABLED;
    if (disabled)
        entries = 1; /* one slot that is never filled: every access takes the slow path */
    else if (entries == 0)
        entries = DEFAULT_TLB_ENTRIES;
    if (entries > MAX_TLB_ENTRIES || (entries & (entries - 1)))
        return VAS_STATUS_INVALID_PARAMETER;
    p->tlb = calloc(entries, sizeof *p->tlb); /* all empty */
    if (!p->tlb)
        return VAS_STATUS_NO_MEMORY;
    p->tlb_mask = entries - 1;
    p->tlb_enabled = !disabled;
    return VAS_STATUS_SUCCESS;
}

void tlb_destroy(vas_process *p)
{
    free(p->tlb);
    p->tlb = NULL;
}

void tlb_invalidate(vas_process *p, uint64_t start, uint64_t end)
{
    p->generation++;
    uint64_t first = start >> p->page_shift, last = (end - 1) >> p->page_shift;
    if (last - first >= p->tlb_mask) {
        memset(p->tlb, 0, (p->tlb_mask + 1) * sizeof *p->tlb);
        return;
    }
    for (uint64_t page = first; page <= last; page++) {
        tlb_entry *e = &p->tlb[page & p->tlb_mask];
        if (e->tag >> 3 == page)
            *e = empty_entry;
    }
}

static void tlb_fill(vas_process *p, uint64_t page, uint8_t *host, uint64_t pte, uint32_t kind)
{
    if (!p->tlb_enabled)
        return;
    tlb_entry *e = &p->tlb[page & p->tlb_mask];
    bool was_writable = e->tag >> 3 == page && (e->tag & TLB_WRITE);
    bool executable = !(pte & (1ull << p->pt->nx_bit)) || !p->dep_enabled;
    e->host = host;
    e->tag = page << 3 | TLB_READ | (kind == VAS_EXCEPTION_WRITE_FAULT || was_writable ? TLB_WRITE : 0) |
             (executable ? TLB_EXECUTE : 0);
}

/* ---- The fault path -------------------------------------------------------------------- */

static uint32_t raise(vas_process *p, vas_exception *exception, uint32_t code, uint32_t kind, uint64_t address)
{
    /* Without DEP an instruction fetch is a read, and is reported as one (spec fact 67). */
    if (kind == VAS_EXCEPTION_EXECUTE_FAULT && !p->dep_enabled)
        kind = VAS_EXCEPTION_READ_FAULT;
    *exception = (vas_exception){code, kind, address};
    p->fault_count++;
    if (code == VAS_STATUS_ACCESS_VIOLATION)
        p->access_violations++;
    return code;
}

static bool pte_allows(const vas_process *p, uint64_t pte, uint32_t kind)
{
    if (kind == VAS_EXCEPTION_WRITE_FAULT)
        return pte & PTE_WRITE;
    if (kind == VAS_EXCEPTION_EXECUTE_FAULT)
        return !(pte & (1ull << p->pt->nx_bit)) || !p->dep_enabled;
    return true;
}

/* Whether a page with this protection may be accessed so. A write to a write-copy page is
   allowed: it makes a private copy. */
static bool protect_allows(const vas_process *p, uint32_t protect, uint32_t kind)
{
    uint32_t base = protect_base(protect);
    if (base == VAS_PAGE_NOACCESS)
        return false;
    if (kind == VAS_EXCEPTION_WRITE_FAULT)
        return base & (VAS_PAGE_READWRITE | VAS_PAGE_EXECUTE_READWRITE | VAS_PAGE_WRITECOPY |
                       VAS_PAGE_EXECUTE_WRITECOPY);
    if (kind == VAS_EXCEPTION_EXECUTE_FAULT && p->dep_enabled)
        return base & (VAS_PAGE_EXECUTE | VAS_PAGE_EXECUTE_READ | VAS_PAGE_EXECUTE_READWRITE |
                       VAS_PAGE_EXECUTE_WRITECOPY);
    return true;
}

/* Gives a private page that may be accessed a frame: back from standby or modified (a soft
   fault), read from a paging file (a hard fault), or zeroed (a demand-zero fault). The caller
   has made frames available and built the tables. Returns the page's new PTE, or 0 after
   raising the exception. */
static uint64_t page_in(vas_process *p, uint64_t page, uint64_t pte, uint32_t protect, uint32_t kind,
                        uint64_t address, vas_exception *exception)
{
    vas_machine *m = p->machine;
    physical_memory *pm = &m->physical;
    uint64_t frame;
    if (pte & PTE_TRANSITION) {
        frame = pte_frame(p, pte);
        if (pm->pfn[frame].list != FRAME_ACTIVE) { /* trimmed, but still in memory */
            physical_unpark(pm, frame);
            if (!ws_insert(p, page, frame)) {
                physical_park(pm, frame);
                raise(p, exception, VAS_STATUS_NO_MEMORY, kind, address);
                return 0;
            }
            pm->pfn[frame].share_count = 1;
            p->soft_faults++;
            p->fault_count++;
        }
        return pte_make(p, frame, protect, false);
    }
    uint32_t file;
    uint64_t slot;
    if (pagefile_pte_decode(m, pte, &file, &slot)) {
        frame = physical_take(pm, FRAME_FOR_OVERWRITE);
        if (!pagefile_read(m, file, slot, physical_bytes(pm, frame))) {
            /* The page stays in the paging file; a later touch may succeed. */
            physical_release(pm, frame);
            p->in_page_errors++;
            raise(p, exception, VAS_STATUS_IN_PAGE_ERROR, kind, address);
            return 0;
        }
        pm->pfn[frame].original_pte = pte; /* the slot holds a clean copy while it stays clean */
        p->hard_faults++;
    } else {
        frame = physical_take(pm, FRAME_FOR_ZERO);
        pm->pfn[frame].original_pte = pte_make_demand_zero(protect);
        p->demand_zero_faults++;
    }
    pm->pfn[frame].share_count = 1;
    if (!ws_insert(p, page, frame)) {
        pm->pfn[frame].original_pte = 0; /* the paging-file copy, if any, stays where it was */
        physical_release(pm, frame);
        raise(p, exception, VAS_STATUS_NO_MEMORY, kind, address);
        return 0;
    }
    p->fault_count++;
    return pte_make(p, frame, protect, false);
}

/* The protection the allocation tree gives a page: 0 when it is not committed (free, reserved,
   or a view page whose section page is not committed). */
static uint32_t page_protect(const vad *v, uint64_t index)
{
    if (!v || (v->view && !view_page_committed(v, index)))
        return 0;
    return v->runs[vad_run_index(v, index)].protect;
}

/* Makes the page holding `address` accessible for `kind` and returns its bytes, or raises the
   exception (`address` is what the exception reports). The machine lock is held. */
static uint8_t *resolve(vas_process *p, uint64_t address, uint32_t kind, vas_exception *exception)
{
    uint64_t page = align_down(address, p->page_size);
    if (address < p->shape.lowest || address > p->shape.highest) {
        raise(p, exception, VAS_STATUS_ACCESS_VIOLATION, kind, address);
        return NULL;
    }
    vas_machine *m = p->machine;
    physical_memory *pm = &m->physical;
    uint64_t leaf = pagetable_leaf(p, page, false);
    uint64_t pte = leaf ? pagetable_read(p, leaf, pagetable_index(p, page, p->pt->levels - 1)) : 0;
    if (!(pte & PTE_VALID) || !pte_allows(p, pte, kind)) {
        /* Not valid, or valid but not for this access: the allocation tree says what the page
           may be. */
        vad *v = vad_find(&p->vads, page);
        uint64_t index = v ? (page - v->start) >> p->page_shift : 0;
        uint32_t protect = page_protect(v, index);
        bool kept = (pte & PTE_TRANSITION) && pm->pfn[pte_frame(p, pte)].list == FRAME_ACTIVE;
        if (protect & VAS_PAGE_GUARD) {
            /* The guard goes with the first touch, and the access is not performed; but a
               thread's stack grows through its guard page, and then the access goes on. */
            uint32_t unguarded = protect & ~VAS_PAGE_GUARD;
            if (!vad_set_pages(v, p->page_shift, index, 1, unguarded)) {
                raise(p, exception, VAS_STATUS_NO_MEMORY, kind, address);
                return NULL;
            }
            if (kept)
                pagetable_set(p, leaf, page, pte_make(p, pte_frame(p, pte), unguarded, false));
            tlb_invalidate(p, page, page + p->page_size);
            p->guard_page_faults++;
            uint32_t status = v->flags & VAD_STACK ? stack_guard_hit(p, v, page) : VAS_STATUS_GUARD_PAGE_VIOLATION;
            if (status) {
                raise(p, exception, status, kind, address);
                return NULL;
            }
            protect = unguarded;
            /* Writing the TEB may have faulted and trimmed: look at this page afresh. */
            leaf = pagetable_leaf(p, page, false);
            pte = leaf ? pagetable_read(p, leaf, pagetable_index(p, page, p->pt->levels - 1)) : 0;
            kept = (pte & PTE_TRANSITION) && pm->pfn[pte_frame(p, pte)].list == FRAME_ACTIVE;
        }
        if (!protect || !protect_allows(p, protect, kind)) {
            raise(p, exception, VAS_STATUS_ACCESS_VIOLATION, kind, address);
            return NULL;
        }
        /* A write to a write-copy page makes a copy (a page that has its copy is read-write). */
        bool copy = v->view && kind == VAS_EXCEPTION_WRITE_FAULT && protect_is_write_copy(protect);
        if (copy || !(pte & (PTE_VALID | PTE_TRANSITION))) {
            /* Frames are needed (tables, the page, the copy): make room first, as the balance
               set manager would, and build the tables, so that nothing taken below can trim or
               reuse what this fault maps. Making room may trim this very page: read it again. */
            if (!ws_make_available(m, (uint64_t)p->pt->levels + 2) || !(leaf = pagetable_leaf(p, page, true))) {
                raise(p, exception, VAS_STATUS_NO_MEMORY, kind, address); /* RAM full of locked pages */
                return NULL;
            }
            pte = pagetable_read(p, leaf, pagetable_index(p, page, p->pt->levels - 1));
        }
        uint32_t status = VAS_STATUS_SUCCESS;
        if (v->view && (pte == 0 || pte == PTE_PROTO_LOOKUP)) {
            pte = view_page_in(p, v, page, protect, &status);
        } else if (!(pte & PTE_VALID) && !(pte = page_in(p, page, pte, protect, kind, address, exception))) {
            pagetable_prune(p, page); /* tables this fault built for nothing */
            return NULL;
        }
        if (!status)
            pagetable_set(p, leaf, page, pte);
        if (!status && copy)
            pte = view_copy_on_write(p, v, page, leaf, pte, protect, &status);
        if (status) {
            pagetable_prune(p, page);
            raise(p, exception, status, kind, address);
            return NULL;
        }
        pagetable_set(p, leaf, page, pte);
    }
    if (!pte_allows(p, pte, kind)) {
        raise(p, exception, VAS_STATUS_ACCESS_VIOLATION, kind, address);
        return NULL;
    }
    uint64_t frame = pte_frame(p, pte);
    if (kind == VAS_EXCEPTION_WRITE_FAULT && pm->pfn[frame].is_prototype && !pm->pfn[frame].modified)
        ws_forget_copy(m, frame); /* a section page now differs from its file or paging-file copy */
    uint64_t updated = pte | PTE_ACCESSED | (kind == VAS_EXCEPTION_WRITE_FAULT ? PTE_DIRTY : 0);
    if (updated != pte)
        pagetable_set(p, leaf, page, updated);
    if (m->policy == VAS_REPLACE_LRU) /* exact LRU: every access is seen here */
        p->ws[ws_index_of(p, page, frame)].tick = ++p->ws_clock;
    uint8_t *host = physical_bytes(pm, frame);
    tlb_fill(p, page >> p->page_shift, host, updated, kind);
    return host;
}

bool fault_in_page(vas_process *p, uint64_t page, vas_exception *exception)
{
    return resolve(p, page, VAS_EXCEPTION_READ_FAULT, exception) != NULL;
}

/* While a multi-page access runs, each page its first pass has made accessible is held in the
   working set as VirtualLock holds the pages of a call in progress (locked = 2, counted in
   locked_pages): making room for the access's later pages must not trim it, or the second pass
   could have to bring it back, and fail (an in-page error, no memory) after bytes have moved.
   So the second pass finds every page where the first left it, and an access whose pages cannot
   all be resident at once fails in the first pass (STATUS_NO_MEMORY), having moved nothing. */
static void pin(vas_process *p, uint64_t page, const uint8_t *host)
{
    physical_memory *pm = &p->machine->physical;
    ws_entry *w = &p->ws[ws_index_of(p, page, (uint64_t)(host - pm->frames) >> p->page_shift)];
    if (!w->locked) {
        w->locked = 2;
        p->locked_pages++;
    }
}

static void unpin(vas_process *p, uint64_t first, uint64_t pages)
{
    for (uint64_t i = 0; i < pages; i++) {
        uint64_t page = first + i * p->page_size;
        uint64_t leaf = pagetable_leaf(p, page, false);
        uint64_t pte = leaf ? pagetable_read(p, leaf, pagetable_index(p, page, p->pt->levels - 1)) : 0;
        if (!(pte & PTE_VALID))
            continue;
        ws_entry *w = &p->ws[ws_index_of(p, page, pte_frame(p, pte))];
        if (w->locked == 2) {
            w->locked = 0;
            p->locked_pages--;
        }
    }
}

/* Moves bytes between the guest range and buf after checking every page it touches. */
static uint32_t access_locked(vas_process *p, uint64_t address, uint8_t *buf, size_t size, uint32_t kind,
                              vas_exception *exception)
{
    uint64_t last = address + (size - 1);
    bool wraps = last < address; /* runs past the top of the address space */
    if (wraps)
        last = UINT64_MAX; /* the pages up to the top are checked in order, as for any access:
                              the first one that faults is reported (the top page is system
                              space, so one always does) */
    uint64_t first = align_down(address, p->page_size), resolved = 0;
    bool pinning = align_down(last, p->page_size) != first;
    if (!pinning && !wraps) { /* one page: one resolve, then the copy */
        uint8_t *host = resolve(p, address, kind, exception);
        if (!host)
            return exception->code;
        host += address - first;
        if (kind == VAS_EXCEPTION_WRITE_FAULT)
            memcpy(host, buf, size);
        else
            memcpy(buf, host, size);
        return VAS_STATUS_SUCCESS;
    }
    uint32_t status = VAS_STATUS_SUCCESS;
    for (uint64_t at = address;;) {
        uint8_t *host = resolve(p, at, kind, exception);
        if (!host) {
            status = exception->code;
            break;
        }
        if (pinning)
            pin(p, align_down(at, p->page_size), host);
        resolved++;
        uint64_t next = align_down(at, p->page_size) + p->page_size;
        if (next == 0 || next > last)
            break;
        at = next;
    }
    if (!status && wraps) /* unreachable: no layout lets user mode reach the top page */
        status = raise(p, exception, VAS_STATUS_ACCESS_VIOLATION, kind, align_down(UINT64_MAX, p->page_size));
    for (uint64_t at = address; !status && at <= last && at >= address;) {
        uint64_t offset = at & (p->page_size - 1);
        size_t chunk = (size_t)(p->page_size - offset);
        if (chunk > last - at + 1)
            chunk = (size_t)(last - at + 1);
        /* Every page is still valid (pinned), so this only refills the TLB and sets the
           Accessed and Dirty bits the first pass may have seen cleared. */
        uint8_t *host = resolve(p, at, kind, exception);
        if (!host) {
            status = exception->code;
            break;
        }
        host += offset;
        if (kind == VAS_EXCEPTION_WRITE_FAULT)
            memcpy(host, buf, chunk);
        else
            memcpy(buf, host, chunk);
        buf += chunk;
        at += chunk;
    }
    if (pinning)
        unpin(p, first, resolved);
    return status;
}

/* Kept out of line so that the fast paths below stay small leaf functions. */
static __attribute__((noinline)) uint32_t access_slow(vas_process *p, uint64_t address, void *buf, size_t size,
                                                      uint32_t kind, vas_exception *exception)
{
    vas_exception ignored;
    if (!exception)
        exception = &ignored;
    *exception = (vas_exception){0, 0, 0};
    uint32_t status = process_enter(p);
    if (status)
        return exception->code = status;
    if (size && !buf)
        status = VAS_STATUS_INVALID_PARAMETER;
    else if (size)
        status = access_locked(p, address, buf, size, kind, exception);
    exception->code = status;
    process_leave(p, true);
    return status;
}

/* The fast path: one TLB probe, then a copy; everything else goes to access_slow. */
static inline uint8_t *tlb_hit(vas_process *p, uint64_t address, size_t size, uint64_t need)
{
    uint64_t page = address >> p->page_shift, offset = address & (p->page_size - 1);
    const tlb_entry *e = &p->tlb[page & p->tlb_mask];
    return e->tag >> 3 == page && (e->tag & need) && size <= p->page_size - offset ? e->host + offset : NULL;
}

static inline void copy_small(void *to, const void *from, size_t size)
{
    switch (size) { /* constant sizes become single moves */
    case 8: memcpy(to, from, 8); break;
    case 4: memcpy(to, from, 4); break;
    case 2: memcpy(to, from, 2); break;
    case 1: memcpy(to, from, 1); break;
    default: memcpy(to, from, size); break;
    }
}

/* One TLB probe and a copy, or false for the slow path; inlined, so `to_guest` folds away. */
static inline bool fast_access(vas_process *p, uint64_t address, void *buffer, size_t size, uint64_t need,
                               bool to_guest, vas_exception *exception)
{
    uint8_t *host;
    if (!p || p->magic != PROCESS_MAGIC || !buffer || !(host = tlb_hit(p, address, size, need)))
        return false;
    if (to_guest)
        copy_small(host, buffer, size);
    else
        copy_small(buffer, host, size);
    if (exception)
        exception->code = VAS_STATUS_SUCCESS;
    return true;
}

uint32_t vas_read(vas_process *p, uint64_t address, void *buffer, size_t size, vas_exception *exception)
{
    if (fast_access(p, address, buffer, size, TLB_READ, false, exception))
        return VAS_STATUS_SUCCESS;
    return access_slow(p, address, buffer, size, VAS_EXCEPTION_READ_FAULT, exception);
}

uint32_t vas_write(vas_process *p, uint64_t address, const void *buffer, size_t size, vas_exception *exception)
{
    void *bytes = (void *)(uintptr_t)buffer; /* only read from, as the slow path knows by the kind */
    if (fast_access(p, address, bytes, size, TLB_WRITE, true, exception))
        return VAS_STATUS_SUCCESS;
    return access_slow(p, address, bytes, size, VAS_EXCEPTION_WRITE_FAULT, exception);
}

uint32_t vas_execute(vas_process *p, uint64_t address, void *buffer, size_t size, vas_exception *exception)
{
    if (fast_access(p, address, buffer, size, TLB_EXECUTE, false, exception))
        return VAS_STATUS_SUCCESS;
    return access_slow(p, address, buffer, size, VAS_EXCEPTION_EXECUTE_FAULT, exception);
}

/* Kernel mode reaches the current process's user pages and system space (the System process's
   pages, system.c). */
static uint32_t kernel_access(vas_machine *m, vas_process *current, uint64_t address, void *buf, size_t size,
                              uint32_t kind, vas_exception *exception)
{
    vas_exception ignored;
    if (!exception)
        exception = &ignored;
    *exception = (vas_exception){0, 0, 0};
    if (!m || m->magic != MACHINE_MAGIC || (current && (current->magic != PROCESS_MAGIC || current->machine != m)))
        return exception->code = VAS_STATUS_INVALID_HANDLE;
    uint32_t status;
    if (address >= system_range_start(m) && address < m->system->shape.lowest) { /* x64's hole */
        *exception = (vas_exception){VAS_STATUS_ACCESS_VIOLATION, kind, address};
        return exception->code;
    }
    if (address >= m->system->shape.lowest) { /* system space: the same in every process */
        pthread_mutex_lock(&m->lock);
        bool mapped = mdl_access(m, address, buf, size, kind, exception, &status);
        pthread_mutex_unlock(&m->lock);
        if (mapped)
            return status;
        return access_slow(m->system, address, buf, size, kind, exception);
    }
    if (!current) {
        *exception = (vas_exception){VAS_STATUS_ACCESS_VIOLATION, kind, address};
        return exception->code;
    }
    return access_slow(current, address, buf, size, kind, exception);
}

uint32_t vas_kernel_read(vas_machine *m, vas_process *current, uint64_t address, void *buffer, size_t size,
                         vas_exception *exception)
{
    return kernel_access(m, current, address, buffer, size, VAS_EXCEPTION_READ_FAULT, exception);
}

uint32_t vas_kernel_write(vas_machine *m, vas_process *current, uint64_t address, const void *buffer, size_t size,
                          vas_exception *exception)
{
    return kernel_access(m, current, address, (void *)(uintptr_t)buffer, size, VAS_EXCEPTION_WRITE_FAULT, exception);
}

uint32_t access_locked_kernel(vas_process *p, uint64_t address, uint8_t *byte, uint32_t kind,
                              vas_exception *exception)
{
    if (kind == VAS_EXCEPTION_WRITE_FAULT) { /* the probe writes back what it read */
        uint32_t status = access_locked(p, address, byte, 1, VAS_EXCEPTION_READ_FAULT, exception);
        return status ? status : access_locked(p, address, byte, 1, VAS_EXCEPTION_WRITE_FAULT, exception);
    }
    return access_locked(p, address, byte, 1, kind, exception);
}

uint32_t process_write(vas_process *p, uint64_t address, const void *buffer, size_t size)
{
    vas_exception exception;
    return access_locked(p, address, (uint8_t *)(uintptr_t)buffer, size, VAS_EXCEPTION_WRITE_FAULT, &exception);
}

/* ---- Cross-process copies: Read/WriteProcessMemory ---------------------------------------
 * As Windows' MmCopyVirtualMemory: a read locks each chunk of 14 pages of the process before
 * copying it, so a chunk with a page it may not read copies nothing; a write goes page by page
 * and stops at the first page that faults. Either reports STATUS_PARTIAL_COPY with the bytes
 * moved before. The pages are reached through the process's own fault path: demand-zero,
 * paging in, copy-on-write, and guard pages (which lose their guard and stop the copy). */

#define COPY_CHUNK_PAGES 14

static uint32_t copy_virtual(vas_process *p, uint64_t address, uint8_t *buffer, size_t size, uint32_t kind,
                             size_t *done)
{
    *done = 0;
    if (size == 0)
        return VAS_STATUS_SUCCESS;
    if (address > p->shape.highest || size - 1 > p->shape.highest - address)
        return VAS_STATUS_ACCESS_VIOLATION; /* the probe of the range fails before any copy */
    vas_exception exception;
    while (*done < size) {
        uint64_t at = address + *done;
        uint64_t chunk = kind == VAS_EXCEPTION_READ_FAULT ? (uint64_t)COPY_CHUNK_PAGES * p->page_size
                                                          : p->page_size - (at & (p->page_size - 1));
        size_t n = chunk < size - *done ? (size_t)chunk : size - *done;
        if (access_locked(p, at, buffer + *done, n, kind, &exception))
            return VAS_STATUS_PARTIAL_COPY;
        *done += n;
    }
    return VAS_STATUS_SUCCESS;
}

static uint32_t nt_copy(vas_process *p, uint64_t address, uint8_t *buffer, size_t size, uint32_t kind,
                        size_t *bytes)
{
    size_t done = 0;
    uint32_t status = process_enter(p);
    if (status)
        return status;
    if (!buffer && size)
        status = VAS_STATUS_ACCESS_VIOLATION; /* the caller's buffer */
    else
        status = copy_virtual(p, address, buffer, size, kind, &done);
    process_leave(p, true);
    if (bytes)
        *bytes = done;
    return status;
}

uint32_t vas_nt_read_virtual_memory(vas_process *p, uint64_t address, void *buffer, size_t size, size_t *bytes_read)
{
    return nt_copy(p, address, buffer, size, VAS_EXCEPTION_READ_FAULT, bytes_read);
}

uint32_t vas_nt_write_virtual_memory(vas_process *p, uint64_t address, const void *buffer, size_t size,
                                     size_t *bytes_written)
{
    return nt_copy(p, address, (uint8_t *)(uintptr_t)buffer, size, VAS_EXCEPTION_WRITE_FAULT, bytes_written);
}

int vas_read_process_memory(vas_process *p, uint64_t address, void *buffer, size_t size, size_t *bytes_read)
{
    uint32_t status = vas_nt_read_virtual_memory(p, address, buffer, size, bytes_read);
    if (status)
        vas_set_last_error(vas_nt_status_to_dos_error(status));
    return status == VAS_STATUS_SUCCESS;
}

/* kernel32's WriteProcessMemory over NtWriteVirtualMemory: a first page that may be written is
   written straight away; a read-only, no-access, reserved or free one refuses the call with
   STATUS_ACCESS_VIOLATION; an executable one that may not be written (PAGE_EXECUTE,
   PAGE_EXECUTE_READ) is made PAGE_EXECUTE_READWRITE (PAGE_EXECUTE_WRITECOPY in a view) over
   the whole range for the copy, which then puts the first page's protection back over the
   whole range, as kernel32 does. */
int vas_write_process_memory(vas_process *p, uint64_t address, const void *buffer, size_t size,
                             size_t *bytes_written)
{
    uint32_t status = process_enter(p);
    if (status) {
        vas_set_last_error(VAS_ERROR_INVALID_HANDLE);
        return 0;
    }
    size_t done = 0;
    vas_memory_basic_information info;
    uint8_t *bytes = (uint8_t *)(uintptr_t)buffer;
    bool report = true; /* whether *bytes_written is written: not when the call is refused */
    if (size == 0) {
        status = VAS_STATUS_SUCCESS;
    } else if (!buffer) {
        status = VAS_STATUS_ACCESS_VIOLATION;
    } else if (region_query(p, address, &info) || info.state != VAS_MEM_COMMIT ||
               (protect_base(info.protect) & (VAS_PAGE_NOACCESS | VAS_PAGE_READONLY))) {
        status = VAS_STATUS_ACCESS_VIOLATION;
        report = false;
    } else if (protect_base(info.protect) & (VAS_PAGE_EXECUTE | VAS_PAGE_EXECUTE_READ)) {
        /* Mapped memory is lifted to copy-on-write, so that the write makes a private copy and
           never reaches the section (a debugger's breakpoint in a mapped image). */
        uint32_t lifted = info.type == VAS_MEM_PRIVATE ? VAS_PAGE_EXECUTE_READWRITE : VAS_PAGE_EXECUTE_WRITECOPY;
        uint64_t base = address, length = size;
        uint32_t old;
        if ((status = region_protect(p, &base, &length, lifted, &old))) {
            report = false;
        } else {
            status = copy_virtual(p, address, bytes, size, VAS_EXCEPTION_WRITE_FAULT, &done);
            region_protect(p, &base, &length, old, &old);
        }
    } else {
        status = copy_virtual(p, address, bytes, size, VAS_EXCEPTION_WRITE_FAULT, &done);
    }
    process_leave(p, true);
    if (bytes_written && report)
        *bytes_written = done;
    if (status)
        vas_set_last_error(vas_nt_status_to_dos_error(status));
    return status == VAS_STATUS_SUCCESS;
}

/* ---- Translation for emulators ------------------------------------------------------------ */

uint32_t vas_translate(vas_process *p, uint64_t address, uint32_t access, vas_translation *t,
                       vas_exception *exception)
{
    vas_exception ignored;
    if (!exception)
        exception = &ignored;
    *exception = (vas_exception){0, 0, 0};
    uint32_t status = process_enter(p);
    if (status)
        return exception->code = status;
    if (!t || (access != VAS_EXCEPTION_READ_FAULT && access != VAS_EXCEPTION_WRITE_FAULT &&
               access != VAS_EXCEPTION_EXECUTE_FAULT)) {
        process_leave(p, false);
        return exception->code = VAS_STATUS_INVALID_PARAMETER;
    }
    uint8_t *host = resolve(p, address, access, exception);
    if (host) {
        uint64_t page = align_down(address, p->page_size), offset = address - page;
        vad *v = vad_find(&p->vads, page);
        uint64_t frame = (uint64_t)(host - p->machine->physical.frames) >> p->page_shift;
        *t = (vas_translation){host + offset, (frame << p->page_shift) + offset,
                               v->runs[vad_run_index(v, (page - v->start) >> p->page_shift)].protect,
                               p->page_size, page, p->generation};
        status = VAS_STATUS_SUCCESS;
    } else {
        status = exception->code;
    }
    process_leave(p, true);
    return status;
}

uint64_t vas_mapping_generation(vas_process *p)
{
    return p && p->magic == PROCESS_MAGIC ? p->generation : 0;
}

const uint64_t *vas_mapping_generation_address(vas_process *p)
{
    return p && p->magic == PROCESS_MAGIC ? &p->generation : NULL;
}

void vas_tlb_flush(vas_process *p)
{
    if (process_enter(p))
        return;
    tlb_invalidate(p, 0, UINT64_MAX);
    process_leave(p, false);
}

/* ---- DEP policy --------------------------------------------------------------------------- */

int vas_set_process_dep_policy(vas_process *p, uint32_t flags)
{
    uint32_t error = 0;
    if (process_enter(p)) {
        vas_set_last_error(VAS_ERROR_INVALID_HANDLE);
        return 0;
    }
    if (p->bits == 64 || p->machine->layout->win9x)
        error = VAS_ERROR_NOT_SUPPORTED; /* always on, or (Windows 95/98) never there */
    else if (flags & ~(VAS_PROCESS_DEP_ENABLE | VAS_PROCESS_DEP_DISABLE_ATL_THUNK_EMULATION))
        error = VAS_ERROR_INVALID_PARAMETER;
    else if (p->dep_permanent)
        error = VAS_ERROR_ACCESS_DENIED;
    if (!error) {
        p->dep_enabled = p->dep_permanent = flags & VAS_PROCESS_DEP_ENABLE;
        p->dep_flags = flags;
        tlb_invalidate(p, 0, UINT64_MAX); /* execute tags depend on DEP */
    }
    process_leave(p, !error);
    if (error)
        vas_set_last_error(error);
    return !error;
}

int vas_get_process_dep_policy(vas_process *p, uint32_t *flags, int *permanent)
{
    if (process_enter(p)) {
        vas_set_last_error(VAS_ERROR_INVALID_HANDLE);
        return 0;
    }
    if (!flags || !permanent) {
        process_leave(p, false);
        vas_set_last_error(VAS_ERROR_NOACCESS);
        return 0;
    }
    *flags = p->dep_enabled ? VAS_PROCESS_DEP_ENABLE | (p->dep_flags & VAS_PROCESS_DEP_DISABLE_ATL_THUNK_EMULATION) : 0;
    *permanent = p->dep_permanent;
    process_leave(p, false);
    return 1;
}

/* ---- Physical memory views ------------------------------------------------------------------ */

uint32_t vas_virtual_to_physical(vas_process *p, uint64_t address, uint64_t *physical_address)
{
    vas_page_walk walk;
    uint32_t status = vas_page_table_walk(p, address, &walk);
    if (status)
        return status;
    if (!walk.resident)
        return VAS_STATUS_INVALID_ADDRESS;
    if (physical_address)
        *physical_address = walk.physical_address;
    return VAS_STATUS_SUCCESS;
}

static void describe_leaf(vas_process *p, uint64_t page, uint64_t pte, char *out, size_t size)
{
    const physical_memory *pm = &p->machine->physical;
    uint32_t file;
    uint64_t slot;
    vad *v = vad_find(&p->vads, page);
    if (pte & PTE_VALID) {
        snprintf(out, size, "valid, frame %#llx%s, %s, %s%s%s", (unsigned long long)pte_frame(p, pte),
                 pm->pfn[pte_frame(p, pte)].is_prototype ? " (a section's, shared)" : "",
                 pte & PTE_WRITE ? "writable" : "read-only",
                 pte & (1ull << p->pt->nx_bit) ? "no-execute" : "executable",
                 pte & PTE_ACCESSED ? ", accessed" : "", pte & PTE_DIRTY ? ", dirty" : "");
    } else if (pte & PTE_TRANSITION) {
        uint64_t frame = pte_frame(p, pte);
        uint8_t list = pm->pfn[frame].list;
        if (list == FRAME_ACTIVE)
            snprintf(out, size, "invalid, frame %#llx kept, protection mask %#llx (no access or guard)",
                     (unsigned long long)frame, (unsigned long long)((pte >> 5) & 0x1F));
        else
            snprintf(out, size, "transition: frame %#llx on the %s list (a touch is a soft fault)",
                     (unsigned long long)frame, list == FRAME_MODIFIED ? "modified" : "standby");
    } else if (pagefile_pte_decode(p->machine, pte, &file, &slot)) {
        snprintf(out, size, "paging file %u, slot %#llx (a touch is a hard fault)", file, (unsigned long long)slot);
    } else if (v && v->view && (pte == 0 || pte == PTE_PROTO_LOOKUP)) {
        snprintf(out, size, "%s: the section's prototype PTE says where the page is",
                 pte ? "prototype pointer" : "zero");
    } else if (pte) {
        snprintf(out, size, "demand zero: committed, no frame (the next touch takes a zeroed one)");
    } else {
        uint32_t protect = page_protect(v, v ? (page - v->start) >> p->page_shift : 0);
        snprintf(out, size, "zero: %s", !v ? "no allocation here"
                                        : protect ? "demand-zero (committed, never touched)"
                                                  : "reserved, not committed");
    }
}

uint32_t vas_page_table_walk(vas_process *p, uint64_t address, vas_page_walk *walk)
{
    uint32_t status = process_enter(p);
    if (status)
        return status;
    if (!walk || address < p->shape.lowest || address > p->shape.highest) {
        process_leave(p, false);
        return walk ? VAS_STATUS_INVALID_PARAMETER : VAS_STATUS_ACCESS_VIOLATION;
    }
    memset(walk, 0, sizeof *walk);
    walk->table_levels = (uint32_t)p->pt->levels;
    uint64_t table = p->table_root, page = align_down(address, p->page_size);
    for (int level = 0; level < p->pt->levels; level++) {
        vas_page_walk_level *l = &walk->level[walk->levels++];
        l->name = p->pt->level_names[level];
        l->index = pagetable_index(p, address, level);
        l->table_physical = table << p->page_shift;
        l->entry = pagetable_read(p, table, l->index);
        if (level == p->pt->levels - 1) {
            describe_leaf(p, page, l->entry, l->meaning, sizeof l->meaning);
            if (l->entry & (PTE_VALID | PTE_TRANSITION)) {
                walk->resident = 1;
                walk->physical_address = (pte_frame(p, l->entry) << p->page_shift) | (address - page);
            }
        } else if (l->entry & PTE_VALID) {
            table = pte_frame(p, l->entry);
            snprintf(l->meaning, sizeof l->meaning, "valid, next table in frame %#llx", (unsigned long long)table);
        } else {
            snprintf(l->meaning, sizeof l->meaning, "not present: no table below (nothing touched here)");
            break;
        }
    }
    process_leave(p, false);
    return VAS_STATUS_SUCCESS;
}

void vas_get_physical_status(vas_machine *m, vas_physical_status *s)
{
    if (!s)
        return;
    memset(s, 0, sizeof *s);
    if (!m || m->magic != MACHINE_MAGIC)
        return;
    pthread_mutex_lock(&m->lock);
    const physical_memory *pm = &m->physical;
    s->page_size = pm->page_size;
    s->frame_count = pm->frame_count;
    s->zeroed = pm->list_count[FRAME_ZEROED];
    s->free = pm->list_count[FRAME_FREE];
    s->standby = pm->list_count[FRAME_STANDBY];
    s->modified = pm->list_count[FRAME_MODIFIED];
    s->active = pm->list_count[FRAME_ACTIVE];
    for (vas_process *p = m->processes; p; p = p->next)
        s->page_table_frames += p->page_table_pages;
    s->page_table_frames += m->system->page_table_pages; /* the system page tables */
    pthread_mutex_unlock(&m->lock);
}

size_t vas_get_frame_info(vas_machine *m, uint64_t first, vas_frame_info *out, size_t count)
{
    if (!m || m->magic != MACHINE_MAGIC || !out)
        return 0;
    static const uint32_t list_values[FRAME_LIST_COUNT] = {
        [FRAME_ZEROED] = VAS_FRAME_ZEROED, [FRAME_FREE] = VAS_FRAME_FREE, [FRAME_STANDBY] = VAS_FRAME_STANDBY,
        [FRAME_MODIFIED] = VAS_FRAME_MODIFIED, [FRAME_ACTIVE] = VAS_FRAME_ACTIVE};
    pthread_mutex_lock(&m->lock);
    const physical_memory *pm = &m->physical;
    size_t filled = 0;
    for (uint64_t pfn = first; filled < count && pfn < pm->frame_count; pfn++, filled++) {
        const pfn_entry *e = &pm->pfn[pfn];
        vas_frame_info *f = &out[filled];
        memset(f, 0, sizeof *f);
        f->lock_count = e->lock_count;
        if (pfn == 0) { /* never handed out */
            f->list = VAS_FRAME_FREE;
            continue;
        }
        f->list = list_values[e->list];
        if (e->list == FRAME_ZEROED || e->list == FRAME_FREE)
            continue;
        if (e->is_prototype)
            f->owner = VAS_FRAME_OWNER_SECTION;
        else if (!e->owner)
            f->owner = VAS_FRAME_OWNER_LOCKED;
        else if (e->owner == m->system)
            f->owner = VAS_FRAME_OWNER_SYSTEM;
        else {
            f->owner = e->is_page_table ? VAS_FRAME_OWNER_TABLE : VAS_FRAME_OWNER_PROCESS;
            f->process_id = e->owner->id;
        }
    }
    pthread_mutex_unlock(&m->lock);
    return filled;
}

int vas_query_working_set_ex(vas_process *p, vas_working_set_ex_information *info, size_t count)
{
    if (!info && count) {
        vas_set_last_error(VAS_ERROR_INVALID_PARAMETER);
        return 0;
    }
    uint32_t status = process_enter(p);
    if (status) {
        vas_set_last_error(vas_nt_status_to_dos_error(status));
        return 0;
    }
    const physical_memory *pm = &p->machine->physical;
    for (size_t i = 0; i < count; i++) {
        vas_working_set_ex_information *w = &info[i];
        uint64_t va = w->virtual_address;
        w->valid = w->share_count = w->shared = w->locked = 0;
        if (va < p->shape.lowest || va > p->shape.highest)
            continue;
        uint64_t leaf = pagetable_leaf(p, va, false);
        if (!leaf)
            continue;
        uint64_t pte = pagetable_read(p, leaf, pagetable_index(p, va, p->pt->levels - 1));
        if (!(pte & (PTE_VALID | PTE_TRANSITION)))
            continue;
        uint64_t frame = pte_frame(p, pte);
        const pfn_entry *e = &pm->pfn[frame];
        /* An invalid PTE naming an active frame of this process: a no-access or guard page,
           still in the working set. */
        if (!(pte & PTE_VALID) && (e->list != FRAME_ACTIVE || e->is_prototype))
            continue;
        uint64_t page = align_down(va, p->page_size);
        w->valid = 1;
        w->shared = e->is_prototype;
        w->share_count = e->is_prototype ? (e->share_count < 7 ? e->share_count : 7) : 1;
        w->locked = p->ws[ws_index_of(p, page, frame)].locked;
    }
    process_leave(p, false);
    return 1;
}
