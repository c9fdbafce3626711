/*
 * pagetable.c - per-process page tables in the hardware format of the layout.
 *
 * Data structure. A process's page tables are a radix tree of table pages held in simulated
 * frames, rooted at `table_root` (created with the process, as Windows creates the page
 * directory with the process). Formats:
 *
 *   x64 (and WOW64)   4 levels x 9 bits, 8-byte entries, 4 KB pages:  PML4E > PDPTE > PDE > PTE
 *   x86, Windows 9x   2 levels x 10 bits, 4-byte entries, 4 KB pages: PDE > PTE
 *   IA-64             3 levels x 10 bits, 8-byte entries, 8 KB pages: PPE > PDE > PTE
 *
 * An entry (the leaf PTE and the upper levels alike):
 *
 *   valid:    bit 0 Valid, 1 Write, 2 Owner (user), 4 CacheDisable, 5 Accessed, 6 Dirty,
 *             bits 12+ (13+ on IA-64) the frame number, NX in bit 63 (x86's 32-bit format has
 *             no NX bit: vas keeps it in bit 9, one of the bits x86 leaves to software)
 *   invalid:  bit 0 clear; bits 5-9 the 5-bit NT protection mask; bit 10 Prototype; bit 11
 *             Transition (the frame, in bits 12+, is still in memory); for paging-file PTEs
 *             bits 1-4 the file and the high bits the offset (the paging issue).
 *
 * A zero PTE means "never touched: the allocation tree decides", as in NT: committed pages are
 * demand-zero until their first touch. A page that keeps its frame but may not be touched as it
 * is (PAGE_NOACCESS, PAGE_GUARD) holds a transition PTE, so only the fault path can reach it.
 *
 * Invariants (checked by pagetable_check):
 *   1. A table page's share_count is the number of nonzero entries in it; only the root may be
 *      empty (empty tables are freed with the range that emptied them).
 *   2. Every frame a valid or transition PTE names records that PTE's physical address, and is
 *      either resident (active, share count 1, owned by the process: in its working set) or,
 *      behind a transition PTE, parked on the standby or modified list. A section's frame is
 *      named only by valid PTEs, and records its prototype PTE instead (section.c).
 *   3. page_table_pages equals the number of table pages reachable from the root.
 *   4. Every paging-file PTE names a slot in use.
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>

static const pagetable_format formats[] = {
    [PT_X64] = {4, 9, 8, 63, {"PML4E", "PDPTE", "PDE", "PTE"}},
    [PT_X86] = {2, 10, 4, 9, {"PDE", "PTE"}},
    [PT_IA64] = {3, 10, 8, 63, {"PPE", "PDE", "PTE"}},
};

const pagetable_format *pagetable_format_of(pagetable_kind kind) { return &formats[kind]; }

/* ---- Entries ----------------------------------------------------------------------------- */

static uint64_t entry_address(const vas_process *p, uint64_t table, uint32_t index)
{
    return (table << p->page_shift) + (uint64_t)index * p->pt->entry_size;
}

uint64_t pagetable_read(const vas_process *p, uint64_t table, uint32_t index)
{
    const uint8_t *at = physical_bytes(&p->machine->physical, table) + (size_t)index * p->pt->entry_size;
    if (p->pt->entry_size == 4) {
        uint32_t v;
        memcpy(&v, at, 4);
        return v;
    }
    uint64_t v;
    memcpy(&v, at, 8);
    return v;
}

static void write_entry(vas_process *p, uint64_t table, uint32_t index, uint64_t value)
{
    uint8_t *at = physical_bytes(&p->machine->physical, table) + (size_t)index * p->pt->entry_size;
    pfn_entry *t = &p->machine->physical.pfn[table];
    bool was_used = pagetable_read(p, table, index) != 0, is_used = value != 0;
    if (p->pt->entry_size == 4) {
        uint32_t v = (uint32_t)value;
        memcpy(at, &v, 4);
    } else {
        memcpy(at, &value, 8);
    }
    if (is_used && !was_used)
        t->share_count++;
    else if (was_used && !is_used)
        t->share_count--;
}

uint32_t pagetable_index(const vas_process *p, uint64_t va, int level)
{
    int shift = (int)p->page_shift + p->pt->bits_per_level * (p->pt->levels - 1 - level);
    return (uint32_t)((va >> shift) & ((1u << p->pt->bits_per_level) - 1));
}

uint64_t pte_frame(const vas_process *p, uint64_t pte)
{
    uint64_t mask = p->pt->entry_size == 4 ? 0xFFFFFFFFull : 0x000FFFFFFFFFFFFFull;
    return (pte & mask) >> p->page_shift;
}

/* The 5-bit NT protection mask kept in an invalid PTE: access 1..7 (R, X, XR, RW, WC, XRW, XWC),
   +8 no-cache, +16 guard, +24 write-combine; no-access is 24 with access 0. */
static uint64_t protection_mask(uint32_t protect)
{
    uint64_t mask;
    switch (protect_base(protect)) {
    case VAS_PAGE_READONLY: mask = 1; break;
    case VAS_PAGE_EXECUTE: mask = 2; break;
    case VAS_PAGE_EXECUTE_READ: mask = 3; break;
    case VAS_PAGE_READWRITE: mask = 4; break;
    case VAS_PAGE_WRITECOPY: mask = 5; break;
    case VAS_PAGE_EXECUTE_READWRITE: mask = 6; break;
    case VAS_PAGE_EXECUTE_WRITECOPY: mask = 7; break;
    default: return 24; /* PAGE_NOACCESS */
    }
    if (protect & VAS_PAGE_GUARD)
        mask |= 16;
    if (protect & VAS_PAGE_WRITECOMBINE)
        mask |= 24;
    else if (protect & VAS_PAGE_NOCACHE)
        mask |= 8;
    return mask;
}

uint64_t pte_make_demand_zero(uint32_t protect)
{
    return protection_mask(protect) << 5;
}

uint64_t pte_make(const vas_process *p, uint64_t frame, uint32_t protect, bool dirty)
{
    uint32_t base = protect_base(protect);
    if (base == VAS_PAGE_NOACCESS || (protect & VAS_PAGE_GUARD))
        return (frame << p->page_shift) | PTE_TRANSITION | (protection_mask(protect) << 5);
    uint64_t pte = (frame << p->page_shift) | PTE_VALID | PTE_OWNER;
    if (base & (VAS_PAGE_READWRITE | VAS_PAGE_EXECUTE_READWRITE))
        pte |= PTE_WRITE;
    if (!(base & (VAS_PAGE_EXECUTE | VAS_PAGE_EXECUTE_READ | VAS_PAGE_EXECUTE_READWRITE | VAS_PAGE_EXECUTE_WRITECOPY)))
        pte |= 1ull << p->pt->nx_bit;
    if (protect & (VAS_PAGE_NOCACHE | VAS_PAGE_WRITECOMBINE))
        pte |= PTE_CACHE_DISABLE;
    if (dirty)
        pte |= PTE_DIRTY;
    return pte;
}

/* ---- Tables ------------------------------------------------------------------------------ */

static uint64_t new_table(vas_process *p)
{
    uint64_t frame = physical_take(&p->machine->physical, FRAME_FOR_ZERO);
    if (frame) {
        p->machine->physical.pfn[frame].is_page_table = 1;
        p->machine->physical.pfn[frame].owner = p; /* for the physical view only */
        p->page_table_pages++;
    }
    return frame;
}

static void free_table(vas_process *p, uint64_t table)
{
    p->machine->physical.pfn[table].is_page_table = 0;
    physical_release(&p->machine->physical, table);
    p->page_table_pages--;
}

uint32_t pagetable_create(vas_process *p)
{
    p->table_root = new_table(p);
    return p->table_root ? VAS_STATUS_SUCCESS : VAS_STATUS_NO_MEMORY;
}

uint64_t pagetable_leaf(vas_process *p, uint64_t va, bool create)
{
    if (!p->table_root && (!create || pagetable_create(p))) /* the System process makes its root late */
        return 0;
    uint64_t table = p->table_root;
    for (int level = 0; level < p->pt->levels - 1; level++) {
        uint32_t index = pagetable_index(p, va, level);
        uint64_t entry = pagetable_read(p, table, index);
        if (!(entry & PTE_VALID)) {
            if (!create)
                return 0;
            uint64_t next = new_table(p);
            if (!next)
                return 0;
            p->machine->physical.pfn[next].pte_address = entry_address(p, table, index);
            write_entry(p, table, index, (next << p->page_shift) | PTE_VALID | PTE_WRITE | PTE_OWNER);
            entry = pagetable_read(p, table, index);
        }
        table = pte_frame(p, entry);
    }
    return table;
}

void pagetable_prune(vas_process *p, uint64_t va)
{
    if (!p->table_root)
        return;
    uint64_t parents[4];
    uint32_t indexes[4];
    uint64_t table = p->table_root;
    int last = p->pt->levels - 1;
    for (int level = 0; level < last; level++) {
        parents[level] = table;
        indexes[level] = pagetable_index(p, va, level);
        uint64_t entry = pagetable_read(p, table, indexes[level]);
        if (!(entry & PTE_VALID))
            return;
        table = pte_frame(p, entry);
    }
    for (int level = last - 1; level >= 0 && p->machine->physical.pfn[table].share_count == 0; level--) {
        write_entry(p, parents[level], indexes[level], 0);
        free_table(p, table);
        table = parents[level]; /* the root itself is never freed */
    }
}

void pagetable_set(vas_process *p, uint64_t leaf, uint64_t va, uint64_t pte)
{
    uint32_t index = pagetable_index(p, va, p->pt->levels - 1);
    write_entry(p, leaf, index, pte);
    pfn_entry *e = pte ? &p->machine->physical.pfn[pte_frame(p, pte)] : NULL;
    if (e && !e->is_prototype) /* a section's frame stays tied to its prototype PTE */
        e->pte_address = entry_address(p, leaf, index);
}

/* ---- Ranges: protect and unmap ----------------------------------------------------------
 * Both walk only the tables that exist, level by level, so a range of terabytes with a few
 * touched pages costs a few tables, not a step per page. Each valid PTE they touch loses its TLB
 * entry on the way; the caller moves the generation on (tlb_walked). */

typedef struct range_op {
    vas_process *p;
    uint64_t start, end;              /* page aligned, [start, end) */
    enum { RANGE_UNMAP, RANGE_PROTECT, RANGE_RESET } verb;
    uint32_t protect;
} range_op;

/* The walk works on the bits the tables translate; x64's upper half (system space) is
   sign-extended from bit 47, so its addresses are walked without those copies and given them
   back where an address leaves the walk (the TLB, the working set). */
static uint64_t walk_bits(const vas_process *p) { return p->pt->levels == 4 ? 48 : 64; }

static uint64_t walk_address(const vas_process *p, uint64_t va)
{
    return walk_bits(p) == 64 ? va : va & ((1ull << 48) - 1);
}

static uint64_t full_address(const vas_process *p, uint64_t walked)
{
    return walk_bits(p) == 48 && (walked & (1ull << 47)) ? walked | 0xFFFF000000000000ull : walked;
}

static range_op make_op(vas_process *p, uint64_t start, uint64_t end, int verb, uint32_t protect)
{
    range_op op = {p, walk_address(p, start), walk_address(p, end - 1) + 1, verb, protect};
    return op;
}

static uint64_t level_span(const vas_process *p, int level)
{
    return 1ull << (p->page_shift + p->pt->bits_per_level * (p->pt->levels - 1 - level));
}

/* MEM_RESET: the contents no longer matter. The page is made clean and loses any paging-file
   copy, so it is never written out, and once its frame is reused it reads as zeros. */
static void reset_page(vas_process *p, uint64_t table, uint32_t i, uint64_t entry, uint64_t frame)
{
    vas_machine *m = p->machine;
    physical_memory *pm = &m->physical;
    uint32_t file;
    uint64_t slot;
    if (frame) {
        frame_drop_copy(m, frame);
        pm->pfn[frame].modified = 0;
        if (pm->pfn[frame].list == FRAME_MODIFIED)
            physical_move(pm, frame, FRAME_STANDBY);
        if (entry & PTE_VALID)
            write_entry(p, table, i, entry & ~PTE_DIRTY);
    } else if (pagefile_pte_decode(m, entry, &file, &slot)) {
        pagefile_free(m, file, slot);
        write_entry(p, table, i, entry & (0x1Full << 5)); /* demand zero, same protection mask */
    }
}

/* Returns true when the table became empty (and the caller should free it). */
static bool walk_range(range_op *op, uint64_t table, int level, uint64_t table_base)
{
    vas_process *p = op->p;
    uint64_t span = level_span(p, level);
    uint32_t entries = 1u << p->pt->bits_per_level;
    uint64_t first = op->start > table_base ? (op->start - table_base) / span : 0;
    for (uint64_t i = first; i < entries; i++) {
        uint64_t base = table_base + i * span;
        if (base >= op->end)
            break;
        uint64_t entry = pagetable_read(p, table, (uint32_t)i);
        if (!entry)
            continue;
        if (level < p->pt->levels - 1) {
            uint64_t child = pte_frame(p, entry);
            if (walk_range(op, child, level + 1, base)) {
                write_entry(p, table, (uint32_t)i, 0);
                free_table(p, child);
            }
            continue;
        }
        /* A leaf: valid, transition (resident, or parked on standby / modified), paging file,
           or demand zero. */
        vas_machine *m = p->machine;
        physical_memory *pm = &m->physical;
        uint64_t va = full_address(p, base);
        if (entry & PTE_VALID)
            tlb_forget(p, va); /* every verb changes or removes the translation */
        uint64_t frame = entry & (PTE_VALID | PTE_TRANSITION) ? pte_frame(p, entry) : 0;
        bool resident = frame && pm->pfn[frame].list == FRAME_ACTIVE;
        if (frame && pm->pfn[frame].is_prototype) {
            /* A section's page (always behind a valid PTE): unmapping and protecting both just
               drop this process's mapping, and the next touch maps it again through the
               prototype PTE with the protection of the moment. MEM_RESET leaves shared pages
               alone: their contents belong to the section. */
            if (op->verb != RANGE_RESET) {
                ws_remove(p, va, frame);
                write_entry(p, table, (uint32_t)i, 0);
                shared_frame_unmapped(m, frame);
            }
            continue;
        }
        if (op->verb == RANGE_UNMAP) {
            uint32_t file;
            uint64_t slot;
            if (frame && pm->pfn[frame].lock_count) { /* an MDL still holds it (system.c) */
                if (resident)
                    ws_remove(p, va, frame);
                mdl_orphan_frame(m, frame);
            } else if (frame) {
                if (resident)
                    ws_remove(p, va, frame);
                frame_drop_copy(m, frame);
                physical_release(pm, frame);
            } else if (pagefile_pte_decode(m, entry, &file, &slot)) {
                pagefile_free(m, file, slot);
            }
            write_entry(p, table, (uint32_t)i, 0);
        } else if (op->verb == RANGE_RESET) {
            reset_page(p, table, (uint32_t)i, entry, frame);
        } else if (resident) {
            /* Dirty stays with a valid PTE; a transition PTE has no Dirty bit (bit 6 is part of
               its protection mask), so then the frame itself remembers it was written. */
            bool dirty = (entry & PTE_VALID) && (entry & PTE_DIRTY);
            uint64_t next = pte_make(p, frame, op->protect, dirty);
            if (dirty && !(next & PTE_VALID) && !pm->pfn[frame].modified)
                ws_forget_copy(m, frame);
            write_entry(p, table, (uint32_t)i, next);
        }
        /* Pages out of memory keep their PTE: the fault path takes the protection from the
           allocation tree when it brings them back. */
    }
    return level > 0 && p->machine->physical.pfn[table].share_count == 0;
}

void pagetable_unmap(vas_process *p, uint64_t start, uint64_t end)
{
    range_op op = make_op(p, start, end, RANGE_UNMAP, 0);
    if (p->table_root)
        walk_range(&op, p->table_root, 0, 0);
}

void pagetable_protect(vas_process *p, uint64_t start, uint64_t end, uint32_t protect)
{
    range_op op = make_op(p, start, end, RANGE_PROTECT, protect);
    if (p->table_root)
        walk_range(&op, p->table_root, 0, 0);
}

void pagetable_reset(vas_process *p, uint64_t start, uint64_t end)
{
    range_op op = make_op(p, start, end, RANGE_RESET, 0);
    if (p->table_root)
        walk_range(&op, p->table_root, 0, 0);
}

void pagetable_destroy(vas_process *p)
{
    if (!p->table_root)
        return;
    pagetable_unmap(p, 0, UINT64_MAX);
    free_table(p, p->table_root);
    p->table_root = 0;
}

/* ---- Invariant checking ------------------------------------------------------------------ */

static int check_table(const vas_process *p, uint64_t table, int level, uint64_t *tables)
{
    const physical_memory *pm = &p->machine->physical;
    int errors = 0;
    uint32_t used = 0, entries = 1u << p->pt->bits_per_level;
    (*tables)++;
    if (pm->pfn[table].list != FRAME_ACTIVE || !pm->pfn[table].is_page_table) {
        fprintf(stderr, "vas: page-table invariant failed: table frame %#llx is not an active table\n",
                (unsigned long long)table);
        return 1;
    }
    for (uint32_t i = 0; i < entries; i++) {
        uint64_t entry = pagetable_read(p, table, i);
        if (!entry)
            continue;
        used++;
        uint64_t frame = pte_frame(p, entry);
        if (level < p->pt->levels - 1) {
            errors += check_table(p, frame, level + 1, tables);
        } else if ((entry & PTE_VALID) || (entry & PTE_TRANSITION)) {
            const pfn_entry *e = &pm->pfn[frame];
            if (frame < pm->frame_count && e->is_prototype) { /* a section's page: see section.c */
                if (!(entry & PTE_VALID) || e->list != FRAME_ACTIVE || e->share_count == 0) {
                    fprintf(stderr, "vas: page-table invariant 2 failed: PTE %#llx names a section frame badly\n",
                            (unsigned long long)entry);
                    errors++;
                }
                continue;
            }
            bool resident = e->list == FRAME_ACTIVE && e->share_count == 1 && e->owner == p;
            bool parked = !(entry & PTE_VALID) && (e->list == FRAME_STANDBY || e->list == FRAME_MODIFIED);
            if (frame == 0 || frame >= pm->frame_count || !(resident || parked) ||
                e->pte_address != entry_address(p, table, i)) {
                fprintf(stderr, "vas: page-table invariant 2 failed: PTE %#llx names frame %#llx badly\n",
                        (unsigned long long)entry, (unsigned long long)frame);
                errors++;
            }
        } else {
            uint32_t file;
            uint64_t slot;
            if (pagefile_pte_decode(p->machine, entry, &file, &slot) &&
                (file >= p->machine->pagefile_count || slot >= p->machine->pagefiles[file].slots ||
                 !(p->machine->pagefiles[file].bitmap[slot / 64] >> (slot % 64) & 1))) {
                fprintf(stderr, "vas: page-table invariant 4 failed: PTE %#llx names a free paging-file slot\n",
                        (unsigned long long)entry);
                errors++;
            }
        }
    }
    if (used != pm->pfn[table].share_count || (level > 0 && used == 0)) {
        fprintf(stderr, "vas: page-table invariant 1 failed: table %#llx has %u entries, count %u\n",
                (unsigned long long)table, used, pm->pfn[table].share_count);
        errors++;
    }
    return errors;
}

int pagetable_check(const vas_process *p)
{
    uint64_t tables = 0;
    int errors = p->table_root ? check_table(p, p->table_root, 0, &tables) : 0;
    if (tables != p->page_table_pages) {
        fprintf(stderr, "vas: page-table invariant 3 failed: %llu tables, count says %llu\n",
                (unsigned long long)tables, (unsigned long long)p->page_table_pages);
        errors++;
    }
    return errors;
}
