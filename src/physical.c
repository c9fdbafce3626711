/*
 * physical.c - simulated physical memory: the frames and the PFN database.
 *
 * Data structure. RAM is one host mapping of frame_count frames of the layout's page size. The
 * PFN database has one pfn_entry per frame: the list the frame is on (zeroed, free, standby,
 * modified, active), its share count (how many valid PTEs map it; for a page-table page, how
 * many of its entries are in use), the physical address of the PTE that maps it, the PTE to
 * write there when the frame is reused, its owner and its place in the owner's working set.
 * The four lists of frames not in use are doubly linked through `next` and `prev`, so a soft
 * fault can take a frame out of the middle of standby or modified; pages join at the tail and
 * are reused from the head, oldest first. Active frames are on no list.
 *
 * Frame 0 is never handed out: a PFN of 0 means "no frame".
 *
 * Invariants (checked by physical_check; the list walks only when asked for a full check):
 *   1. Every frame but frame 0 is on exactly one list or active; each list's count matches its
 *      length and its links agree in both directions.
 *   2. A frame on the zeroed list holds only zero bytes (checked in debug builds).
 *   3. A frame on a list has share count 0. A frame on standby or modified still has the PTE
 *      address of its owner (or its section's prototype PTE), which is a transition PTE naming
 *      the frame; a standby frame is clean (not modified), a modified frame is dirty.
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

/* Freed frames are filled with this in debug builds, so reads through a stale mapping show. */
#define POISON_BYTE 0xA5

/* ---- Lists ----------------------------------------------------------------------------- */

static void push_tail(physical_memory *pm, frame_list list, uint64_t pfn)
{
    pfn_entry *e = &pm->pfn[pfn];
    e->list = (uint8_t)list;
    e->next = 0;
    e->prev = pm->list_tail[list];
    if (e->prev)
        pm->pfn[e->prev].next = pfn;
    else
        pm->list_head[list] = pfn;
    pm->list_tail[list] = pfn;
    pm->list_count[list]++;
}

static void unlink_frame(physical_memory *pm, uint64_t pfn)
{
    pfn_entry *e = &pm->pfn[pfn];
    frame_list list = (frame_list)e->list;
    if (e->prev)
        pm->pfn[e->prev].next = e->next;
    else
        pm->list_head[list] = e->next;
    if (e->next)
        pm->pfn[e->next].prev = e->prev;
    else
        pm->list_tail[list] = e->prev;
    e->next = e->prev = 0;
    pm->list_count[list]--;
}

static void make_active(physical_memory *pm, uint64_t pfn)
{
    pm->pfn[pfn].list = FRAME_ACTIVE;
    pm->list_count[FRAME_ACTIVE]++;
}

/* ---- Setup ----------------------------------------------------------------------------- */

uint32_t physical_init(physical_memory *pm, uint64_t ram_bytes, uint32_t page_size, uint32_t page_shift,
                       uint32_t pte_size)
{
    memset(pm, 0, sizeof *pm);
    pm->page_size = page_size;
    pm->page_shift = page_shift;
    pm->pte_size = pte_size;
    pm->frame_count = ram_bytes >> page_shift;
    /* The host gives zero pages lazily: untouched simulated RAM costs nothing. */
    void *frames = mmap(NULL, ram_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                        -1, 0);
    if (frames == MAP_FAILED)
        return VAS_STATUS_NO_MEMORY;
    pm->frames = frames;
    pm->pfn = calloc(pm->frame_count, sizeof *pm->pfn);
    if (!pm->pfn) {
        munmap(frames, ram_bytes);
        return VAS_STATUS_NO_MEMORY;
    }
    for (uint64_t pfn = 1; pfn < pm->frame_count; pfn++) /* every frame starts zeroed */
        push_tail(pm, FRAME_ZEROED, pfn);
    pm->pfn[0].list = FRAME_ACTIVE; /* reserved: PFN 0 means none; not counted */
    return VAS_STATUS_SUCCESS;
}

void physical_destroy(physical_memory *pm)
{
    if (pm->frames)
        munmap(pm->frames, pm->frame_count << pm->page_shift);
    free(pm->pfn);
    memset(pm, 0, sizeof *pm);
}

/* ---- PTEs by physical address ------------------------------------------------------------ */

uint64_t physical_read_pte(const physical_memory *pm, uint64_t pte_address)
{
    const uint8_t *at = pm->frames + pte_address;
    if (pm->pte_size == 4) {
        uint32_t v;
        memcpy(&v, at, 4);
        return v;
    }
    uint64_t v;
    memcpy(&v, at, 8);
    return v;
}

void physical_write_pte(physical_memory *pm, uint64_t pte_address, uint64_t pte)
{
    uint8_t *at = pm->frames + pte_address;
    if (pm->pte_size == 4) {
        uint32_t v = (uint32_t)pte;
        memcpy(at, &v, 4);
    } else {
        memcpy(at, &pte, 8);
    }
}

/* ---- Taking and giving back frames ------------------------------------------------------ */

static void check_zeroed(const physical_memory *pm, uint64_t pfn)
{
#ifdef VAS_DEBUG
    const uint8_t *bytes = physical_bytes(pm, pfn);
    for (uint32_t i = 0; i < pm->page_size; i++)
        if (bytes[i]) {
            fprintf(stderr, "vas: invariant 2 failed: frame %#llx on the zeroed list is not zero\n",
                    (unsigned long long)pfn);
            abort();
        }
#else
    (void)pm;
    (void)pfn;
#endif
}

uint64_t physical_take(physical_memory *pm, frame_use use)
{
    static const frame_list order[2][3] = {
        [FRAME_FOR_ZERO] = {FRAME_ZEROED, FRAME_FREE, FRAME_STANDBY},
        [FRAME_FOR_OVERWRITE] = {FRAME_FREE, FRAME_ZEROED, FRAME_STANDBY},
    };
    uint64_t pfn = 0;
    frame_list from = FRAME_ZEROED;
    for (int i = 0; i < 3 && !pfn; i++)
        if ((pfn = pm->list_head[order[use][i]]))
            from = order[use][i];
    if (!pfn)
        return 0;
    unlink_frame(pm, pfn);
    pfn_entry *e = &pm->pfn[pfn];
    if (from == FRAME_STANDBY) {
        /* Repurposing: the old owner's PTE (a section's prototype PTE for a section page) goes
           back to what it was before the frame came. */
        if (e->is_prototype)
            e->control->prototype[e->pte_address] = e->original_pte;
        else
            physical_write_pte(pm, e->pte_address, e->original_pte);
        pm->repurposed++;
    }
    if (from == FRAME_ZEROED)
        check_zeroed(pm, pfn);
    else if (use == FRAME_FOR_ZERO)
        memset(physical_bytes(pm, pfn), 0, pm->page_size); /* zeroed inline, as MiRemoveZeroPage does */
    *e = (pfn_entry){0};
    make_active(pm, pfn);
    return pfn;
}

void physical_release(physical_memory *pm, uint64_t pfn)
{
#ifdef VAS_DEBUG
    memset(physical_bytes(pm, pfn), POISON_BYTE, pm->page_size);
#endif
    pfn_entry *e = &pm->pfn[pfn];
    if (e->list == FRAME_ACTIVE)
        pm->list_count[FRAME_ACTIVE]--;
    else
        unlink_frame(pm, pfn);
    *e = (pfn_entry){0};
    push_tail(pm, FRAME_FREE, pfn);
}

void physical_park(physical_memory *pm, uint64_t pfn)
{
    pm->list_count[FRAME_ACTIVE]--;
    pm->pfn[pfn].share_count = 0;
    push_tail(pm, pm->pfn[pfn].modified ? FRAME_MODIFIED : FRAME_STANDBY, pfn);
}

void physical_unpark(physical_memory *pm, uint64_t pfn)
{
    unlink_frame(pm, pfn);
    make_active(pm, pfn);
}

void physical_move(physical_memory *pm, uint64_t pfn, frame_list to)
{
    unlink_frame(pm, pfn);
    push_tail(pm, to, pfn);
}

uint64_t physical_available(const physical_memory *pm)
{
    return pm->list_count[FRAME_ZEROED] + pm->list_count[FRAME_FREE] + pm->list_count[FRAME_STANDBY];
}

/* ---- Invariant checking ------------------------------------------------------------------ */

int physical_check(const physical_memory *pm, bool full)
{
    uint64_t total = 0;
    for (int list = 0; list < FRAME_LIST_COUNT; list++)
        total += pm->list_count[list];
    if (total != pm->frame_count - 1) {
        fprintf(stderr, "vas: invariant 1 failed: the lists count %llu frames of %llu\n",
                (unsigned long long)total, (unsigned long long)pm->frame_count - 1);
        return 1;
    }
    if (!full)
        return 0;
    int errors = 0;
    uint64_t seen[FRAME_LIST_COUNT] = {0};
    for (int list = 0; list < FRAME_ACTIVE; list++) {
        uint64_t previous = 0;
        for (uint64_t pfn = pm->list_head[list], steps = 0; pfn; pfn = pm->pfn[pfn].next, steps++) {
            const pfn_entry *e = &pm->pfn[pfn];
            if (pfn >= pm->frame_count || e->list != list || e->prev != previous || steps > pm->frame_count) {
                fprintf(stderr, "vas: invariant 1 failed: frame %#llx is misfiled on list %d\n",
                        (unsigned long long)pfn, list);
                return errors + 1;
            }
            bool parked = list == FRAME_STANDBY || list == FRAME_MODIFIED;
            if (e->share_count ||
                (parked && ((!e->pte_address && !e->is_prototype) || e->modified != (list == FRAME_MODIFIED)))) {
                fprintf(stderr, "vas: invariant 3 failed: frame %#llx on list %d\n", (unsigned long long)pfn, list);
                errors++;
            }
            if (parked) {
                uint64_t pte = e->is_prototype ? e->control->prototype[e->pte_address]
                                               : physical_read_pte(pm, e->pte_address);
                if ((pte & PTE_VALID) || !(pte & PTE_TRANSITION) || (pte >> pm->page_shift) % (1ull << 40) != pfn) {
                    fprintf(stderr, "vas: invariant 3 failed: frame %#llx is parked but its PTE is %#llx\n",
                            (unsigned long long)pfn, (unsigned long long)pte);
                    errors++;
                }
            }
            previous = pfn;
            seen[list]++;
        }
        if (previous != pm->list_tail[list]) {
            fprintf(stderr, "vas: invariant 1 failed: list %d ends at %#llx, its tail says %#llx\n", list,
                    (unsigned long long)previous, (unsigned long long)pm->list_tail[list]);
            errors++;
        }
    }
    for (uint64_t pfn = 1; pfn < pm->frame_count; pfn++)
        if (pm->pfn[pfn].list == FRAME_ACTIVE)
            seen[FRAME_ACTIVE]++;
    for (int list = 0; list < FRAME_LIST_COUNT; list++) {
        if (seen[list] != pm->list_count[list]) {
            fprintf(stderr, "vas: invariant 1 failed: list %d holds %llu frames, its count says %llu\n", list,
                    (unsigned long long)seen[list], (unsigned long long)pm->list_count[list]);
            errors++;
        }
    }
    return errors;
}
