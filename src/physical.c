/*
 * physical.c - simulated physical memory: the frames and the PFN database.
 *
 * Data structure. RAM is one host mapping of frame_count frames of the layout's page size. The
 * PFN database has one pfn_entry per frame: the list the frame is on (zeroed, free, standby,
 * modified, active), its share count (how many valid PTEs map it; for a page-table page, how
 * many of its entries are in use), the physical address of the PTE that maps it and the PTE to
 * restore when it leaves memory. Each list is a singly linked stack threaded through `next`;
 * standby and modified are used from the paging issue on.
 *
 * Frame 0 is never handed out: a PFN of 0 means "no frame".
 *
 * Invariants (checked by physical_check; the list walks only when asked for a full check):
 *   1. Every frame but frame 0 is on exactly one list, and each list's count matches its length.
 *   2. A frame on the zeroed list holds only zero bytes (checked in debug builds).
 *   3. An active frame has a nonzero share count or is a page-table page; a frame on any other
 *      list has share count 0.
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

/* Freed frames are filled with this in debug builds, so reads through a stale mapping show. */
#define POISON_BYTE 0xA5

uint32_t physical_init(physical_memory *pm, uint64_t ram_bytes, uint32_t page_size, uint32_t page_shift)
{
    memset(pm, 0, sizeof *pm);
    pm->page_size = page_size;
    pm->page_shift = page_shift;
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
    /* Every frame starts zeroed; push them so that the lowest frames come out first. */
    for (uint64_t pfn = pm->frame_count - 1; pfn >= 1; pfn--) {
        pm->pfn[pfn].list = FRAME_ZEROED;
        pm->pfn[pfn].next = pm->list_head[FRAME_ZEROED];
        pm->list_head[FRAME_ZEROED] = pfn;
    }
    pm->list_count[FRAME_ZEROED] = pm->frame_count - 1;
    pm->pfn[0].list = FRAME_ACTIVE; /* reserved: PFN 0 means none */
    return VAS_STATUS_SUCCESS;
}

void physical_destroy(physical_memory *pm)
{
    if (pm->frames)
        munmap(pm->frames, pm->frame_count << pm->page_shift);
    free(pm->pfn);
    memset(pm, 0, sizeof *pm);
}

static uint64_t pop(physical_memory *pm, frame_list list)
{
    uint64_t pfn = pm->list_head[list];
    if (pfn) {
        pm->list_head[list] = pm->pfn[pfn].next;
        pm->list_count[list]--;
        pm->pfn[pfn].next = 0;
    }
    return pfn;
}

uint64_t physical_take_zeroed(physical_memory *pm)
{
    uint64_t pfn = pop(pm, FRAME_ZEROED);
    if (!pfn) {
        pfn = pop(pm, FRAME_FREE);
        if (!pfn)
            return 0;
        memset(physical_bytes(pm, pfn), 0, pm->page_size); /* zeroed inline, as MiRemoveZeroPage does */
    }
#ifdef VAS_DEBUG
    else {
        const uint8_t *bytes = physical_bytes(pm, pfn);
        for (uint32_t i = 0; i < pm->page_size; i++)
            if (bytes[i]) {
                fprintf(stderr, "vas: invariant 2 failed: frame %#llx on the zeroed list is not zero\n",
                        (unsigned long long)pfn);
                abort();
            }
    }
#endif
    pfn_entry *e = &pm->pfn[pfn];
    e->list = FRAME_ACTIVE;
    e->share_count = 0;
    e->pte_address = 0;
    e->original_pte = 0;
    pm->list_count[FRAME_ACTIVE]++;
    return pfn;
}

void physical_release(physical_memory *pm, uint64_t pfn)
{
    pfn_entry *e = &pm->pfn[pfn];
#ifdef VAS_DEBUG
    memset(physical_bytes(pm, pfn), POISON_BYTE, pm->page_size);
#endif
    e->list = FRAME_FREE;
    e->share_count = 0;
    e->pte_address = 0;
    e->next = pm->list_head[FRAME_FREE];
    pm->list_head[FRAME_FREE] = pfn;
    pm->list_count[FRAME_FREE]++;
    pm->list_count[FRAME_ACTIVE]--;
}

uint64_t physical_available(const physical_memory *pm)
{
    return pm->list_count[FRAME_ZEROED] + pm->list_count[FRAME_FREE] + pm->list_count[FRAME_STANDBY];
}

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
        for (uint64_t pfn = pm->list_head[list], steps = 0; pfn; pfn = pm->pfn[pfn].next, steps++) {
            if (pfn >= pm->frame_count || pm->pfn[pfn].list != list || steps > pm->frame_count) {
                fprintf(stderr, "vas: invariant 1 failed: frame %#llx is misfiled on list %d\n",
                        (unsigned long long)pfn, list);
                return errors + 1;
            }
            if (pm->pfn[pfn].share_count) {
                fprintf(stderr, "vas: invariant 3 failed: free frame %#llx is shared\n", (unsigned long long)pfn);
                errors++;
            }
            seen[list]++;
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
