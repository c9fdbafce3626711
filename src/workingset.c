/*
 * workingset.c - working sets, trimming, the modified page writer, and locked pages.
 *
 * Data structure. Each process's working set is an array of entries, one per resident data
 * page (page tables are kept apart and never trimmed): the page's address, a tick (when it came
 * in, or for LRU when it was last used), a 2-bit age and a locked flag. A frame's PFN entry
 * holds the index of its working-set entry, so an entry leaves in O(1) by moving the last entry
 * into its place.
 *
 * Trimming takes pages out of a working set in the order the machine's policy gives (Windows'
 * aging by default): a page taken out keeps its frame behind a transition PTE, and the frame
 * goes to the tail of the standby list if it is clean or of the modified list if it was written
 * since it was last saved. Standby frames can be reused at once (the memory manager gives them
 * to a new owner and writes the old owner's PTE back); modified ones must first be written to a
 * paging file by the modified page writer, which then moves them to standby. All of this runs
 * as a deterministic step inside the calls that need frames (ws_make_available), and on demand.
 *
 * A section's frame can be in several working sets at once, so its PFN entry cannot say where
 * its entry is: each process keeps a small hash table from page address to entry for those.
 *
 * Invariants (checked by ws_check):
 *   1. Every entry names a page whose PTE holds an active data frame (valid, or transition for
 *      a no-access or guard page) whose PFN entry points back at the entry and at the process;
 *      for a section's frame, the process's shared-page table points at the entry.
 *   2. locked_pages is the number of locked entries.
 *   3. shared_count is the number of entries holding section frames.
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>

/* ---- Shared pages' entries ----------------------------------------------------------------
 * Open addressing with linear probing, keyed by the page's address (never 0: page 0 is never
 * mapped), at most half full; deletion shifts later entries back instead of leaving tombstones. */

static uint32_t shared_home(const vas_process *p, uint64_t page)
{
    return (uint32_t)(((page >> p->page_shift) * 0x9E3779B97F4A7C15ull) >> 32) & (p->shared_capacity - 1);
}

static uint32_t *shared_find(const vas_process *p, uint64_t page)
{
    for (uint32_t i = p->shared_capacity ? shared_home(p, page) : 0; p->shared_capacity;
         i = (i + 1) & (p->shared_capacity - 1)) {
        if (p->shared_pages[i] == page)
            return &p->shared_index[i];
        if (p->shared_pages[i] == 0)
            break;
    }
    return NULL;
}

static void shared_put(vas_process *p, uint64_t page, uint32_t index)
{
    uint32_t i = shared_home(p, page);
    while (p->shared_pages[i])
        i = (i + 1) & (p->shared_capacity - 1);
    p->shared_pages[i] = page;
    p->shared_index[i] = index;
}

static bool shared_add(vas_process *p, uint64_t page, uint32_t index)
{
    if (2 * (p->shared_count + 1) > p->shared_capacity) {
        uint32_t old_capacity = p->shared_capacity, capacity = old_capacity ? old_capacity * 2 : 64;
        uint64_t *pages = calloc(capacity, sizeof *pages), *old_pages = p->shared_pages;
        uint32_t *indexes = malloc(capacity * sizeof *indexes), *old_indexes = p->shared_index;
        if (!pages || !indexes) {
            free(pages);
            free(indexes);
            return false;
        }
        p->shared_pages = pages;
        p->shared_index = indexes;
        p->shared_capacity = capacity;
        for (uint32_t i = 0; i < old_capacity; i++)
            if (old_pages[i])
                shared_put(p, old_pages[i], old_indexes[i]);
        free(old_pages);
        free(old_indexes);
    }
    shared_put(p, page, index);
    p->shared_count++;
    return true;
}

static void shared_delete(vas_process *p, uint64_t page)
{
    uint32_t mask = p->shared_capacity - 1, hole = (uint32_t)(shared_find(p, page) - p->shared_index);
    p->shared_count--;
    /* Move back every later entry of the cluster that may sit in the hole (its home is not
       cyclically between the hole and itself). */
    for (uint32_t i = (hole + 1) & mask; p->shared_pages[i]; i = (i + 1) & mask) {
        uint32_t home = shared_home(p, p->shared_pages[i]);
        if (((i - home) & mask) >= ((i - hole) & mask)) {
            p->shared_pages[hole] = p->shared_pages[i];
            p->shared_index[hole] = p->shared_index[i];
            hole = i;
        }
    }
    p->shared_pages[hole] = 0;
}

void ws_free_shared(vas_process *p)
{
    free(p->shared_pages);
    free(p->shared_index);
    p->shared_pages = NULL;
    p->shared_index = NULL;
    p->shared_capacity = p->shared_count = 0;
}

/* ---- Entries ------------------------------------------------------------------------------ */

uint32_t ws_index_of(const vas_process *p, uint64_t page, uint64_t frame)
{
    const pfn_entry *e = &p->machine->physical.pfn[frame];
    return e->is_prototype ? *shared_find(p, page) : e->ws_index;
}

static void set_index(vas_process *p, uint64_t page, uint64_t frame, uint32_t index)
{
    pfn_entry *e = &p->machine->physical.pfn[frame];
    if (e->is_prototype) {
        *shared_find(p, page) = index;
    } else {
        e->owner = p;
        e->ws_index = index;
    }
}

bool ws_insert(vas_process *p, uint64_t page, uint64_t frame)
{
    if (!grow_array((void **)&p->ws, &p->ws_capacity, p->ws_count, sizeof *p->ws, 64))
        return false;
    if (p->machine->physical.pfn[frame].is_prototype) {
        if (!shared_add(p, page, p->ws_count))
            return false;
    } else {
        set_index(p, page, frame, p->ws_count);
    }
    p->ws[p->ws_count++] = (ws_entry){page, ++p->ws_clock, 0, 0};
    if (p->ws_count > p->peak_working_set_pages)
        p->peak_working_set_pages = p->ws_count;
    return true;
}

void ws_remove(vas_process *p, uint64_t page, uint64_t frame)
{
    uint32_t index = ws_index_of(p, page, frame);
    if (p->ws[index].locked)
        p->locked_pages--;
    if (p->machine->physical.pfn[frame].is_prototype)
        shared_delete(p, page);
    p->ws[index] = p->ws[--p->ws_count];
    if (index < p->ws_count) { /* the moved entry's frame must learn its new index */
        uint64_t moved = p->ws[index].page;
        uint64_t leaf = pagetable_leaf(p, moved, false);
        uint64_t pte = pagetable_read(p, leaf, pagetable_index(p, moved, p->pt->levels - 1));
        set_index(p, moved, pte_frame(p, pte), index);
    }
}

/* The PTE of a working-set page, and where it lives. */
static uint64_t entry_pte(vas_process *p, const ws_entry *w, uint64_t *leaf, uint32_t *index)
{
    *leaf = pagetable_leaf(p, w->page, false);
    *index = pagetable_index(p, w->page, p->pt->levels - 1);
    return pagetable_read(p, *leaf, *index);
}

void frame_drop_copy(vas_machine *m, uint64_t frame)
{
    pfn_entry *e = &m->physical.pfn[frame];
    uint32_t file;
    uint64_t slot;
    if (pagefile_pte_decode(m, e->original_pte, &file, &slot)) {
        pagefile_free(m, file, slot);
        e->original_pte &= 0x1Full << 5; /* a demand-zero PTE with the same protection mask */
    }
}

void ws_forget_copy(vas_machine *m, uint64_t frame)
{
    frame_drop_copy(m, frame);
    m->physical.pfn[frame].modified = 1;
}

/* Takes one page out of the working set: transition PTE, frame to standby or modified. */
static void evict(vas_process *p, uint32_t index)
{
    physical_memory *pm = &p->machine->physical;
    uint64_t leaf;
    uint32_t slot;
    uint64_t page = p->ws[index].page;
    uint64_t pte = entry_pte(p, &p->ws[index], &leaf, &slot);
    uint64_t frame = pte_frame(p, pte);
    if ((pte & PTE_VALID) && (pte & PTE_DIRTY) && !pm->pfn[frame].modified)
        ws_forget_copy(p->machine, frame); /* written since its last save: the copy is stale */
    ws_remove(p, page, frame);
    if (pm->pfn[frame].is_prototype) { /* a section's page: the PTE points at the prototype */
        pagetable_set(p, leaf, page, PTE_PROTO_LOOKUP);
        shared_frame_unmapped(p->machine, frame);
    } else {
        pagetable_set(p, leaf, page, (frame << p->page_shift) | PTE_TRANSITION);
        physical_park(pm, frame);
    }
    tlb_invalidate(p, page, page + p->page_size);
}

/* ---- Choosing pages to trim ---------------------------------------------------------------- */

/* One aging pass: an accessed page starts again at age 0 (and loses its Accessed bit and TLB
   entry, so the next touch sets the bit again); any other page grows older, up to 3. */
static void age_pages(vas_process *p)
{
    /* Entries come mostly in address order, so the leaf table of the last one is kept: nothing
       here adds or removes a table, and a leaf maps the pages that agree above `span`. */
    int span = (int)p->page_shift + p->pt->bits_per_level, last = p->pt->levels - 1;
    uint64_t leaf = 0, leaf_of = UINT64_MAX;
    for (uint32_t i = 0; i < p->ws_count; i++) {
        ws_entry *w = &p->ws[i];
        if (w->page >> span != leaf_of) {
            leaf = pagetable_leaf(p, w->page, false);
            leaf_of = w->page >> span;
        }
        uint64_t pte = pagetable_read(p, leaf, pagetable_index(p, w->page, last));
        if (pte & PTE_ACCESSED) {
            pagetable_set(p, leaf, w->page, pte & ~PTE_ACCESSED);
            tlb_invalidate(p, w->page, w->page + p->page_size);
            w->age = 0;
            w->tick = ++p->ws_clock; /* among pages of one age, the one seen in use last stays */
        } else if (w->age < 3) {
            w->age++;
        }
    }
}

typedef struct victim {
    uint64_t key;
    uint64_t page;
} victim;

static int by_key(const void *a, const void *b)
{
    const victim *x = a, *y = b;
    return x->key < y->key ? -1 : x->key > y->key;
}

/* Moves the `want` smallest keys of v[0..n) into v[0..want), in no particular order, in
   O(n log want): v[0..want) is kept as a max-heap of the smallest seen so far. A trim under
   memory pressure wants a few dozen pages of a working set of thousands, so sorting only those
   is much cheaper than sorting all of them; the keys are unique (ticks are), so the pages chosen
   and their order are the same as a full sort's. */
static void sift_down(victim *v, uint32_t size, uint32_t i)
{
    for (;;) {
        uint32_t child = 2 * i + 1;
        if (child >= size)
            return;
        if (child + 1 < size && v[child + 1].key > v[child].key)
            child++;
        if (v[child].key <= v[i].key)
            return;
        victim t = v[i];
        v[i] = v[child];
        v[child] = t;
        i = child;
    }
}

static void select_smallest(victim *v, uint32_t n, uint32_t want)
{
    for (uint32_t i = want / 2; i-- > 0;)
        sift_down(v, want, i);
    for (uint32_t i = want; i < n; i++)
        if (v[i].key < v[0].key) {
            v[0] = v[i];
            sift_down(v, want, 0);
        }
}

/* Finds the working-set index of a page (victims are chosen by page, evicted by index, which
   changes as entries move). */
static uint32_t index_of(vas_process *p, uint64_t page)
{
    uint64_t leaf = pagetable_leaf(p, page, false);
    uint64_t pte = pagetable_read(p, leaf, pagetable_index(p, page, p->pt->levels - 1));
    return ws_index_of(p, page, pte_frame(p, pte));
}

/* The Clock policy: the hand sweeps the entries, sparing (and clearing) accessed pages once. */
static uint64_t trim_clock(vas_process *p, uint64_t want)
{
    uint64_t done = 0;
    for (uint64_t steps = 0; done < want && p->ws_count && steps < 2ull * p->ws_count + 2; steps++) {
        if (p->ws_hand >= p->ws_count)
            p->ws_hand = 0;
        ws_entry *w = &p->ws[p->ws_hand];
        uint64_t leaf;
        uint32_t slot;
        uint64_t pte = entry_pte(p, w, &leaf, &slot);
        if (w->locked) {
            p->ws_hand++;
        } else if (pte & PTE_ACCESSED) {
            pagetable_set(p, leaf, w->page, pte & ~PTE_ACCESSED);
            tlb_invalidate(p, w->page, w->page + p->page_size);
            p->ws_hand++;
        } else {
            evict(p, p->ws_hand); /* the last entry moves under the hand */
            done++;
        }
    }
    return done;
}

uint64_t ws_trim(vas_process *p, uint64_t want)
{
    vas_machine *m = p->machine;
    if (want == 0 || p->ws_count == p->locked_pages)
        return 0;
    m->trims++;
    uint64_t done;
    if (m->policy == VAS_REPLACE_CLOCK) {
        done = trim_clock(p, want);
    } else {
        if (m->policy == VAS_REPLACE_WS_AGING)
            age_pages(p);
        victim *victims = malloc((size_t)p->ws_count * sizeof *victims);
        if (!victims)
            return 0;
        uint32_t n = 0;
        for (uint32_t i = 0; i < p->ws_count; i++) {
            const ws_entry *w = &p->ws[i];
            if (w->locked)
                continue;
            /* Oldest first: the highest age, then the earliest tick. */
            uint64_t key = m->policy == VAS_REPLACE_WS_AGING ? ((uint64_t)(3 - w->age) << 60) | w->tick : w->tick;
            victims[n++] = (victim){key, w->page};
        }
        if (want < n) { /* only the `want` oldest are needed: select them, then sort those */
            select_smallest(victims, n, (uint32_t)want);
            n = (uint32_t)want;
        }
        qsort(victims, n, sizeof *victims, by_key);
        done = n < want ? n : want;
        for (uint64_t i = 0; i < done; i++)
            evict(p, index_of(p, victims[i].page));
        free(victims);
    }
    m->trimmed_pages += done;
    return done;
}

/* ---- The modified page writer ---------------------------------------------------------------- */

#define WRITE_CLUSTER 16 /* pages written in one call where slots allow */

static bool is_file_page(const physical_memory *pm, uint64_t frame)
{
    const pfn_entry *e = &pm->pfn[frame];
    return e->is_prototype && e->control->ops && !e->control->image; /* image pages page to a paging file */
}

uint64_t ws_write_modified(vas_machine *m, uint64_t max)
{
    physical_memory *pm = &m->physical;
    static _Thread_local uint8_t *buffer;
    static _Thread_local size_t buffer_size;
    size_t needed = (size_t)WRITE_CLUSTER * pm->page_size;
    if (buffer_size < needed) {
        uint8_t *grown = realloc(buffer, needed);
        if (!grown)
            return 0;
        buffer = grown;
        buffer_size = needed;
    }
    uint64_t written = 0, failures = 0;
    while (written < max && pm->list_head[FRAME_MODIFIED] && failures < 4) {
        uint64_t head = pm->list_head[FRAME_MODIFIED];
        if (is_file_page(pm, head)) { /* a mapped file's page goes to its own file */
            if (section_write_frame(m, head)) {
                physical_move(pm, head, FRAME_STANDBY);
                written++;
            } else {
                physical_move(pm, head, FRAME_MODIFIED); /* behind the others, for a later try */
                failures++;
            }
            continue;
        }
        /* A cluster of the pages at the head that go to a paging file. */
        uint32_t want = 0;
        for (uint64_t pfn = head; pfn && want < WRITE_CLUSTER && want < max - written && !is_file_page(pm, pfn);
             pfn = pm->pfn[pfn].next)
            want++;
        uint32_t file;
        uint64_t slot;
        uint32_t run = pagefile_allocate(m, want, &file, &slot);
        if (run == 0)
            break; /* the paging files are full */
        uint64_t frames[WRITE_CLUSTER];
        uint64_t pfn = pm->list_head[FRAME_MODIFIED];
        for (uint32_t i = 0; i < run; i++, pfn = pm->pfn[pfn].next) {
            frames[i] = pfn;
            memcpy(buffer + (size_t)i * pm->page_size, physical_bytes(pm, pfn), pm->page_size);
        }
        if (!pagefile_write(m, file, slot, buffer, run)) {
            /* Nothing is lost: the pages stay modified (behind the others) for a later try. */
            for (uint32_t i = 0; i < run; i++) {
                pagefile_free(m, file, slot + i);
                physical_move(pm, frames[i], FRAME_MODIFIED);
            }
            failures++;
            continue;
        }
        for (uint32_t i = 0; i < run; i++) {
            pfn_entry *e = &pm->pfn[frames[i]];
            e->original_pte = pagefile_pte(m, file, slot + i) | (e->original_pte & (0x1Full << 5));
            e->modified = 0;
            physical_move(pm, frames[i], FRAME_STANDBY);
        }
        written += run;
    }
    return written;
}

/* ---- Keeping frames available ----------------------------------------------------------------- */

static uint64_t available(vas_machine *m) { return physical_available(&m->physical); }

/* How far the available frames, counting modified ones as soon available, fall below target. */
static uint64_t short_of(vas_machine *m, uint64_t target)
{
    uint64_t soon = available(m) + m->physical.list_count[FRAME_MODIFIED];
    return soon < target ? target - soon : 0;
}

/* Pages a process could give up above its maximum (or minimum), locked pages excepted. */
static uint64_t excess_of(const vas_process *p, bool above_maximum)
{
    uint64_t floor = above_maximum ? p->ws_maximum : p->ws_minimum;
    uint64_t excess = p->ws_count > floor ? p->ws_count - floor : 0;
    uint64_t unlocked = p->ws_count - p->locked_pages;
    return excess < unlocked ? excess : unlocked;
}

/* Trims the processes above their maximum (or minimum), the largest excess first, until
   `target` frames are available or will be once the modified ones are written. */
static void trim_excess(vas_machine *m, uint64_t target, bool above_maximum)
{
    uint64_t want;
    while ((want = short_of(m, target))) {
        vas_process *largest = NULL;
        for (vas_process *p = m->processes; p; p = p->next)
            if (excess_of(p, above_maximum) > (largest ? excess_of(largest, above_maximum) : 0))
                largest = p;
        vas_process *s = m->system; /* the system working set: paged pool */
        if (s && excess_of(s, above_maximum) > (largest ? excess_of(largest, above_maximum) : 0))
            largest = s;
        if (!largest)
            return;
        uint64_t excess = excess_of(largest, above_maximum);
        if (!ws_trim(largest, want < excess ? want : excess))
            return;
    }
}

bool ws_make_available(vas_machine *m, uint64_t needed)
{
    if (available(m) >= needed && available(m) >= m->low_water)
        return true;
    uint64_t target = needed > m->plenty ? needed : m->plenty;
    /* As Windows' balance-set manager: working sets above their maximum shrink to it, then those
       above their minimum shrink; then the modified page writer makes the dirty frames reusable. */
    trim_excess(m, target, true);
    trim_excess(m, target, false);
    if (available(m) < target)
        ws_write_modified(m, target - available(m));
    if (available(m) < needed) { /* the last resort: every unlocked page goes */
        for (vas_process *p = m->processes; p; p = p->next)
            ws_trim(p, p->ws_count);
        if (m->system)
            ws_trim(m->system, m->system->ws_count);
        ws_write_modified(m, UINT64_MAX);
    }
    return available(m) >= needed;
}

/* ---- Public calls --------------------------------------------------------------------------- */

void vas_get_paging_status(vas_machine *m, vas_paging_status *s)
{
    if (!s)
        return;
    *s = (vas_paging_status){0};
    if (!m || m->magic != MACHINE_MAGIC)
        return;
    pthread_mutex_lock(&m->lock);
    s->paging_files = m->pagefile_count;
    for (uint32_t i = 0; i < m->pagefile_count; i++) {
        const paging_file *f = &m->pagefiles[i];
        s->pagefile_bytes += f->slots * m->physical.page_size;
        s->pagefile_used += f->used * m->physical.page_size;
        s->reads += f->reads;
        s->writes += f->writes;
        s->pages_written += f->pages_written;
        s->read_errors += f->read_errors;
        s->write_errors += f->write_errors;
    }
    s->repurposed = m->physical.repurposed;
    s->trims = m->trims;
    s->trimmed_pages = m->trimmed_pages;
    pthread_mutex_unlock(&m->lock);
}

static int fail(uint32_t error)
{
    vas_set_last_error(error);
    return 0;
}

int vas_set_process_working_set_size(vas_process *p, uint64_t minimum, uint64_t maximum)
{
    if (process_enter(p))
        return fail(VAS_ERROR_INVALID_HANDLE);
    uint32_t error = 0;
    if (minimum == UINT64_MAX && maximum == UINT64_MAX) {
        ws_trim(p, p->ws_count); /* (SIZE_T)-1 twice: empty the working set */
    } else if (minimum > maximum || maximum > p->machine->ram_bytes || minimum < 20ull * p->page_size) {
        error = VAS_ERROR_INVALID_PARAMETER;
    } else {
        p->ws_minimum = minimum >> p->page_shift;
        p->ws_maximum = maximum >> p->page_shift;
        if (p->ws_count > p->ws_maximum)
            ws_trim(p, p->ws_count - p->ws_maximum);
    }
    process_leave(p, !error);
    return error ? fail(error) : 1;
}

int vas_get_process_working_set_size(vas_process *p, uint64_t *minimum, uint64_t *maximum)
{
    if (process_enter(p))
        return fail(VAS_ERROR_INVALID_HANDLE);
    if (!minimum || !maximum) {
        process_leave(p, false);
        return fail(VAS_ERROR_NOACCESS);
    }
    *minimum = p->ws_minimum << p->page_shift;
    *maximum = p->ws_maximum << p->page_shift;
    process_leave(p, false);
    return 1;
}

int vas_empty_working_set(vas_process *p)
{
    if (process_enter(p))
        return fail(VAS_ERROR_INVALID_HANDLE);
    ws_trim(p, p->ws_count);
    process_leave(p, true);
    return 1;
}

uint64_t vas_write_modified_pages(vas_machine *m)
{
    if (!m || m->magic != MACHINE_MAGIC)
        return 0;
    pthread_mutex_lock(&m->lock);
    uint64_t written = ws_write_modified(m, UINT64_MAX);
    pthread_mutex_unlock(&m->lock);
    return written;
}

/* The working-set entry of a resident page, or NULL. */
static ws_entry *entry_of(vas_process *p, uint64_t page)
{
    uint64_t leaf = pagetable_leaf(p, page, false);
    uint64_t pte = leaf ? pagetable_read(p, leaf, pagetable_index(p, page, p->pt->levels - 1)) : 0;
    if (!(pte & (PTE_VALID | PTE_TRANSITION)))
        return NULL;
    uint64_t frame = pte_frame(p, pte);
    const pfn_entry *e = &p->machine->physical.pfn[frame];
    if (e->list != FRAME_ACTIVE || (!e->is_prototype && e->owner != p))
        return NULL;
    return &p->ws[ws_index_of(p, page, frame)];
}

bool ws_lock_page(vas_process *p, uint64_t page)
{
    ws_entry *w = entry_of(p, page);
    if (!w)
        return false;
    if (!w->locked)
        p->locked_pages++;
    w->locked = 1;
    return true;
}

#define LOCK_OVERHEAD_PAGES 8 /* of the minimum working set, kept back from VirtualLock */

/* VirtualLock and VirtualUnlock share their checks: the range lies in one allocation and every
   page of it is committed and accessible. Returns a Win32 error or 0. */
static uint32_t check_lock_range(vas_process *p, uint64_t address, uint64_t size, uint64_t *start, uint64_t *end)
{
    if (size == 0 || address > p->shape.highest || size > p->shape.highest + 1 - address)
        return VAS_ERROR_INVALID_PARAMETER;
    *start = align_down(address, p->page_size);
    *end = align_up(address + size, p->page_size);
    vad *v = vad_find(&p->vads, *start);
    if (!v || *end > v->end)
        return VAS_ERROR_INVALID_ADDRESS;
    uint64_t first = (*start - v->start) >> p->page_shift, count = (*end - *start) >> p->page_shift;
    if (allocation_count_committed(v, p->page_shift, first, count) != count)
        return VAS_ERROR_NOACCESS;
    for (uint64_t page = first; page < first + count;) {
        uint32_t i = vad_run_index(v, page);
        if (protect_base(v->runs[i].protect) == VAS_PAGE_NOACCESS)
            return VAS_ERROR_NOACCESS;
        page = vad_run_end(v, p->page_shift, i);
    }
    return 0;
}

int vas_virtual_lock(vas_process *p, uint64_t address, uint64_t size)
{
    if (process_enter(p))
        return fail(VAS_ERROR_INVALID_HANDLE);
    uint64_t start = 0, end = 0;
    uint32_t error = check_lock_range(p, address, size, &start, &end);
    uint64_t quota = p->ws_minimum > LOCK_OVERHEAD_PAGES ? p->ws_minimum - LOCK_OVERHEAD_PAGES : 0;
    uint64_t newly = 0;
    for (uint64_t page = start; !error && page < end; page += p->page_size) {
        ws_entry *w = entry_of(p, page);
        newly += !(w && w->locked);
    }
    if (!error && p->locked_pages + newly > quota)
        error = VAS_ERROR_WORKING_SET_QUOTA;
    /* Fault every page in and lock it at once: bringing in the next pages may trim the working
       set (to the last unlocked page when memory is short), and must not take out the ones
       already brought in. A guard page stops the call, losing its guard, as on Windows; on any
       failure the pages this call locked (marked 2 meanwhile) are unlocked again. */
    vas_exception exception;
    uint64_t page = start;
    for (; !error && page < end; page += p->page_size) {
        if (!fault_in_page(p, page, &exception)) {
            error = exception.code == VAS_STATUS_GUARD_PAGE_VIOLATION ? VAS_STATUS_GUARD_PAGE_VIOLATION
                                                                       : vas_nt_status_to_dos_error(exception.code);
            break;
        }
        ws_entry *w = entry_of(p, page);
        if (w && !w->locked) {
            w->locked = 2;
            p->locked_pages++;
        }
    }
    for (uint64_t at = start; at < page && at < end; at += p->page_size) {
        ws_entry *w = entry_of(p, at);
        if (w && w->locked == 2) {
            w->locked = error ? 0 : 1;
            p->locked_pages -= error ? 1 : 0;
        }
    }
    process_leave(p, true);
    return error ? fail(error) : 1;
}

int vas_virtual_unlock(vas_process *p, uint64_t address, uint64_t size)
{
    if (process_enter(p))
        return fail(VAS_ERROR_INVALID_HANDLE);
    uint64_t start, end;
    uint32_t error = check_lock_range(p, address, size, &start, &end);
    bool any_locked = false;
    for (uint64_t page = start; !error && page < end; page += p->page_size) {
        ws_entry *w = entry_of(p, page);
        any_locked |= w && w->locked;
    }
    for (uint64_t page = start; !error && page < end; page += p->page_size) {
        ws_entry *w = entry_of(p, page);
        if (!w)
            continue;
        if (w->locked) {
            uint64_t leaf = pagetable_leaf(p, page, false);
            uint64_t frame = pte_frame(p, pagetable_read(p, leaf, pagetable_index(p, page, p->pt->levels - 1)));
            if (p->machine->physical.pfn[frame].lock_count) {
                w->locked = 3; /* an MDL's lock stays */
            } else {
                w->locked = 0;
                p->locked_pages--;
            }
        } else if (!any_locked) {
            /* Unlocking pages that are not locked takes them out of the working set. */
            evict(p, (uint32_t)(w - p->ws));
        }
    }
    if (!error && !any_locked)
        error = VAS_ERROR_NOT_LOCKED;
    process_leave(p, true);
    return error ? fail(error) : 1;
}

/* ---- Invariant checking ------------------------------------------------------------------------ */

int ws_check(const vas_process *p)
{
    const physical_memory *pm = &p->machine->physical;
    uint64_t locked = 0, shared = 0;
    int errors = 0;
    for (uint32_t i = 0; i < p->ws_count; i++) {
        const ws_entry *w = &p->ws[i];
        uint64_t leaf = pagetable_leaf((vas_process *)p, w->page, false);
        uint64_t pte = leaf ? pagetable_read(p, leaf, pagetable_index(p, w->page, p->pt->levels - 1)) : 0;
        uint64_t frame = pte_frame(p, pte);
        bool ok = (pte & (PTE_VALID | PTE_TRANSITION)) && frame < pm->frame_count &&
                  pm->pfn[frame].list == FRAME_ACTIVE;
        if (ok && pm->pfn[frame].is_prototype) {
            const uint32_t *index = shared_find(p, w->page);
            ok = (pte & PTE_VALID) && index && *index == i;
            shared++;
        } else if (ok) {
            ok = pm->pfn[frame].ws_index == i && pm->pfn[frame].owner == p;
        }
        if (!ok) {
            fprintf(stderr, "vas: working-set invariant 1 failed: entry %u (page %#llx, PTE %#llx)\n", i,
                    (unsigned long long)w->page, (unsigned long long)pte);
            errors++;
        }
        locked += w->locked != 0;
    }
    if (shared != p->shared_count) {
        fprintf(stderr, "vas: working-set invariant 3 failed: %llu shared pages, table holds %u\n",
                (unsigned long long)shared, p->shared_count);
        errors++;
    }
    if (locked != p->locked_pages) {
        fprintf(stderr, "vas: working-set invariant 2 failed: %llu locked, count %llu\n", (unsigned long long)locked,
                (unsigned long long)p->locked_pages);
        errors++;
    }
    return errors;
}
