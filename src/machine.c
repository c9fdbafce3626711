/*
 * machine.c - machines, processes, the machine lock, commit charge and the invariant checker.
 *
 * Data structure. A vas_machine owns a lock, its layout, its commit accounting and two lists of
 * processes: the live ones and the destroyed ones. A destroyed process keeps its small header
 * (marked dead) until the machine goes, so a call through a stale handle is reported as
 * ERROR_INVALID_HANDLE instead of touching freed memory.
 *
 * Invariants (checked by machine_check_locked, after every changing call in debug builds):
 *   1. commit_total is the sum of the live processes' commit_charge and the sections' committed
 *      pages, and never exceeds commit_limit; commit_peak >= commit_total.
 *   2. A process's commit_charge is its committed pages times the page size; its virtual_size is
 *      the sum of its allocations' sizes; the peaks are at least the current values.
 *   3. Every process's allocation tree holds the invariants of vad.c, inside its user partition.
 *   4. process_count is the length of the live list; every live process has PROCESS_MAGIC.
 *   5. Frames are conserved: the active frames are exactly the processes' resident private
 *      pages, their page-table pages and the sections' resident pages (and physical.c's,
 *      pagetable.c's and section.c's own invariants hold).
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>

static _Thread_local uint32_t last_error;

uint32_t vas_last_error(void) { return last_error; }
void vas_set_last_error(uint32_t error) { last_error = error; }

const char *vas_version(void) { return VAS_VERSION_STRING; }

#define DEFAULT_RAM      (256ull << 20)
#define DEFAULT_PAGEFILE (512ull << 20)

/* What the system keeps for itself of RAM, and so keeps out of the commit limit: frame 0 and
   room for page tables, 1/64 of RAM. */
static uint64_t system_reserve(uint64_t ram, uint32_t page_size)
{
    return align_up(ram / 64 > page_size ? ram / 64 : page_size, page_size);
}

static uint32_t page_shift_of(uint32_t page_size)
{
    uint32_t shift = 0;
    while ((1u << shift) < page_size)
        shift++;
    return shift;
}

vas_machine *vas_machine_create(const vas_machine_config *config)
{
    vas_machine_config defaults = {0};
    if (!config)
        config = &defaults;
    const layout *l = layout_find(config->layout);
    if (!l) {
        vas_set_last_error(VAS_ERROR_INVALID_PARAMETER);
        return NULL;
    }
    uint32_t user_va = config->increase_user_va_mb;
    if (user_va && (l->native_bits != 32 || l->win9x || user_va < 2048 || user_va > 3072)) {
        vas_set_last_error(VAS_ERROR_INVALID_PARAMETER);
        return NULL;
    }
    uint64_t ram = config->ram_bytes ? config->ram_bytes : DEFAULT_RAM;
    uint64_t pagefile = config->pagefile_bytes == VAS_NO_PAGEFILE ? 0
                        : config->pagefile_bytes ? config->pagefile_bytes : DEFAULT_PAGEFILE;
    /* Whole pages, at least 16 of RAM, and a commit limit that cannot overflow. */
    if (ram % l->page_size || pagefile % l->page_size || ram < 16ull * l->page_size ||
        ram > (1ull << 48) || pagefile > (1ull << 48) || config->replacement_policy > VAS_REPLACE_LRU) {
        vas_set_last_error(VAS_ERROR_INVALID_PARAMETER);
        return NULL;
    }
    vas_machine *m = calloc(1, sizeof *m);
    if (!m) {
        vas_set_last_error(VAS_ERROR_NOT_ENOUGH_MEMORY);
        return NULL;
    }
    m->magic = MACHINE_MAGIC;
    pthread_mutex_init(&m->lock, NULL);
    m->layout = l;
    m->increase_user_va_mb = user_va ? user_va : 2048;
    m->ram_bytes = ram;
    m->pagefile_bytes = pagefile;
    m->commit_limit = ram - system_reserve(ram, l->page_size); /* paging files add theirs */
    m->next_process_id = 4; /* Windows process ids are multiples of 4 */
    m->policy = config->replacement_policy;
    uint64_t frames = ram / l->page_size;
    m->low_water = frames / 64 > 8 ? frames / 64 : 8;
    m->plenty = frames / 32 > 16 ? frames / 32 : 16;
    uint32_t pte_size = pagetable_format_of(l->page_tables)->entry_size;
    if (physical_init(&m->physical, ram, l->page_size, page_shift_of(l->page_size), pte_size)) {
        pthread_mutex_destroy(&m->lock);
        free(m);
        vas_set_last_error(VAS_ERROR_NOT_ENOUGH_MEMORY);
        return NULL;
    }
    uint32_t error = pagefile ? pagefile_add(m, config->pagefile_path, pagefile, config->pagefile_ops,
                                             config->pagefile_file)
                              : 0;
    if (!error && system_create(m))
        error = VAS_ERROR_NOT_ENOUGH_MEMORY;
    if (error) {
        vas_machine_destroy(m);
        vas_set_last_error(error);
        return NULL;
    }
    return m;
}

/* Frees everything a process holds but its header. The machine lock is held. */
static void process_teardown(vas_process *p)
{
    region_release_all(p);
    loader_release_all(p);
    pagetable_destroy(p);
    tlb_destroy(p);
    free(p->ws);
    p->ws = NULL;
    ws_free_shared(p);
}

void vas_machine_destroy(vas_machine *m)
{
    if (!m || m->magic != MACHINE_MAGIC)
        return;
    mdl_destroy_all(m); /* first: they name processes */
    for (vas_process *p = m->processes, *next; p; p = next) {
        next = p->next;
        process_teardown(p);
        free(p);
    }
    for (vas_process *p = m->dead, *next; p; p = next) {
        next = p->next;
        free(p);
    }
    if (m->system) { /* system space goes after the processes, which may have mapped it */
        process_teardown(m->system);
        free(m->system);
        m->system = NULL;
    }
    system_destroy(m);
    m->magic = 0;
    section_destroy_all(m);
    pagefile_destroy_all(m);
    physical_destroy(&m->physical);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

vas_process *vas_process_create(vas_machine *m, const vas_process_config *config)
{
    vas_process_config defaults = {0};
    if (!config)
        config = &defaults;
    if (!m || m->magic != MACHINE_MAGIC) {
        vas_set_last_error(VAS_ERROR_INVALID_HANDLE);
        return NULL;
    }
    const layout *l = m->layout;
    int bits = config->bits ? config->bits : l->native_bits;
    bool aware = config->large_address_aware > 0 || (config->large_address_aware == 0 && bits == 64);
    address_space_shape shape;
    uint32_t status = layout_shape(l, m->increase_user_va_mb, bits, aware, &shape);
    if (status) {
        vas_set_last_error(vas_nt_status_to_dos_error(status));
        return NULL;
    }
    vas_process *p = calloc(1, sizeof *p);
    if (!p) {
        vas_set_last_error(VAS_ERROR_NOT_ENOUGH_MEMORY);
        return NULL;
    }
    p->magic = PROCESS_MAGIC;
    p->machine = m;
    p->bits = bits;
    p->large_address_aware = aware;
    p->page_size = l->page_size;
    p->page_shift = page_shift_of(l->page_size);
    p->shape = shape;
    snprintf(p->name, sizeof p->name, "%s", config->name ? config->name : "process.exe");
    p->pt = pagetable_format_of(l->page_tables);
    /* DEP: always on for 64-bit processes; a 32-bit process may run without it. */
    if (config->dep < 0 && bits == 64) {
        free(p);
        vas_set_last_error(VAS_ERROR_NOT_SUPPORTED);
        return NULL;
    }
    p->dep_enabled = config->dep >= 0 && !l->win9x; /* Windows 95/98 predate NX */
    p->dep_permanent = bits == 64 || config->dep > 0;

    pthread_mutex_lock(&m->lock);
    loader_init(p, config);
    p->ws_minimum = 50; /* Windows' default working-set limits, in pages */
    p->ws_maximum = 345;
    /* Exact LRU must see every access, so its machines run without a TLB. */
    uint32_t tlb_entries = m->policy == VAS_REPLACE_LRU ? VAS_TLB_DISABLED : config->tlb_entries;
    if (!(status = tlb_create(p, tlb_entries)) && !(status = pagetable_create(p)))
        status = region_create_initial(p);
    if (status) {
        process_teardown(p);
        pthread_mutex_unlock(&m->lock);
        free(p);
        vas_set_last_error(vas_nt_status_to_dos_error(status));
        return NULL;
    }
    p->id = m->next_process_id;
    m->next_process_id += 4;
    p->next = m->processes;
    m->processes = p;
    m->process_count++;
    process_leave(p, true); /* unlocks */
    return p;
}

void vas_process_destroy(vas_process *p)
{
    if (!p || p->magic != PROCESS_MAGIC)
        return;
    vas_machine *m = p->machine;
    pthread_mutex_lock(&m->lock);
    process_teardown(p);
    for (vas_process **link = &m->processes; *link; link = &(*link)->next) {
        if (*link == p) {
            *link = p->next;
            break;
        }
    }
    m->process_count--;
    p->magic = PROCESS_DEAD;
    p->next = m->dead;
    m->dead = p;
#ifdef VAS_DEBUG
    if (machine_check_locked(m, true))
        abort();
#endif
    pthread_mutex_unlock(&m->lock);
}

uint32_t process_enter(vas_process *p)
{
    if (!p || p->magic != PROCESS_MAGIC)
        return VAS_STATUS_INVALID_HANDLE;
    pthread_mutex_lock(&p->machine->lock);
    return VAS_STATUS_SUCCESS;
}

void process_leave(vas_process *p, bool changed)
{
#ifdef VAS_DEBUG
    vas_machine *m = p->machine;
    if (changed && machine_check_locked(m, ++m->checks % FULL_CHECK_INTERVAL == 0)) {
        fprintf(stderr, "vas: the invariant checker failed after a call on process %u (%s)\n",
                p->id, p->name);
        abort();
    }
#else
    (void)changed;
#endif
    pthread_mutex_unlock(&p->machine->lock);
}

uint32_t machine_commit(vas_machine *m, uint64_t bytes)
{
    if (bytes > m->commit_limit - m->commit_total)
        return VAS_STATUS_COMMITMENT_LIMIT;
    m->commit_total += bytes;
    if (m->commit_total > m->commit_peak)
        m->commit_peak = m->commit_total;
    return VAS_STATUS_SUCCESS;
}

uint32_t commit_charge(vas_process *p, uint64_t bytes)
{
    uint32_t status = machine_commit(p->machine, bytes);
    if (status)
        return status;
    p->commit_charge += bytes;
    if (p->commit_charge > p->peak_commit_charge)
        p->peak_commit_charge = p->commit_charge;
    return VAS_STATUS_SUCCESS;
}

void commit_release(vas_process *p, uint64_t bytes)
{
    p->commit_charge -= bytes;
    p->machine->commit_total -= bytes;
}

/* ---- Queries --------------------------------------------------------------------------- */

void vas_get_system_info(vas_process *p, vas_system_info *info)
{
    if (!info)
        return;
    if (!p || p->magic != PROCESS_MAGIC) {
        memset(info, 0, sizeof *info);
        return;
    }
    info->page_size = p->page_size;
    info->allocation_granularity = GRANULARITY;
    info->minimum_application_address = p->shape.lowest;
    info->maximum_application_address = p->shape.highest;
}

size_t vas_get_partitions(vas_process *p, vas_partition *out, size_t max)
{
    if (!p || p->magic != PROCESS_MAGIC)
        return 0;
    for (size_t i = 0; i < p->shape.partition_count && i < max && out; i++)
        out[i] = p->shape.partitions[i];
    return p->shape.partition_count;
}

void vas_get_machine_info(vas_machine *m, vas_machine_info *info)
{
    if (!info)
        return;
    memset(info, 0, sizeof *info);
    if (!m || m->magic != MACHINE_MAGIC)
        return;
    info->layout = m->layout->name;
    info->description = m->layout->description;
    info->page_size = m->layout->page_size;
    info->allocation_granularity = GRANULARITY;
    info->native_bits = m->layout->native_bits;
    info->system_range_start = system_range_start(m);
    info->ram_bytes = m->ram_bytes;
    info->pagefile_bytes = m->pagefile_bytes;
}

int vas_process_get_counters(vas_process *p, vas_process_counters *c)
{
    uint32_t status = process_enter(p);
    if (status || !c) {
        if (!status)
            process_leave(p, false);
        vas_set_last_error(status ? VAS_ERROR_INVALID_HANDLE : VAS_ERROR_NOACCESS);
        return 0;
    }
    c->virtual_size = p->virtual_size;
    c->peak_virtual_size = p->peak_virtual_size;
    c->commit_charge = p->commit_charge;
    c->peak_commit_charge = p->peak_commit_charge;
    c->allocation_count = p->vads.count;
    c->working_set_size = (uint64_t)p->ws_count << p->page_shift;
    c->peak_working_set_size = p->peak_working_set_pages << p->page_shift;
    c->page_fault_count = p->fault_count;
    c->demand_zero_faults = p->demand_zero_faults;
    c->guard_page_faults = p->guard_page_faults;
    c->access_violations = p->access_violations;
    c->page_table_pages = p->page_table_pages;
    c->soft_faults = p->soft_faults;
    c->hard_faults = p->hard_faults;
    c->in_page_errors = p->in_page_errors;
    c->locked_pages = p->locked_pages;
    process_leave(p, false);
    return 1;
}

int vas_global_memory_status(vas_machine *m, vas_memory_status *s)
{
    if (!m || m->magic != MACHINE_MAGIC || !s) {
        vas_set_last_error(s ? VAS_ERROR_INVALID_HANDLE : VAS_ERROR_NOACCESS);
        return 0;
    }
    pthread_mutex_lock(&m->lock);
    *s = (vas_memory_status){0};
    s->total_phys = m->ram_bytes;
    s->avail_phys = physical_available(&m->physical) << m->physical.page_shift;
    s->commit_limit = m->commit_limit;
    s->commit_total = m->commit_total;
    s->commit_peak = m->commit_peak;
    s->avail_commit = m->commit_limit - m->commit_total;
    s->process_count = m->process_count;
    s->memory_load = (uint32_t)((s->total_phys - s->avail_phys) / (s->total_phys / 100)); /* rounds down */
    pthread_mutex_unlock(&m->lock);
    return 1;
}

int vas_get_process_memory_info(vas_process *p, vas_process_memory_counters *c)
{
    vas_process_counters all;
    if (!c) {
        vas_set_last_error(VAS_ERROR_NOACCESS);
        return 0;
    }
    if (!vas_process_get_counters(p, &all))
        return 0;
    *c = (vas_process_memory_counters){all.page_fault_count, all.working_set_size, all.peak_working_set_size,
                                       all.commit_charge, all.peak_commit_charge};
    return 1;
}

const char *vas_process_name(vas_process *p)
{
    return p && p->magic == PROCESS_MAGIC ? p->name : NULL;
}

uint32_t vas_process_id(vas_process *p)
{
    return p && p->magic == PROCESS_MAGIC ? p->id : 0;
}

int vas_process_bits(vas_process *p)
{
    return p && p->magic == PROCESS_MAGIC ? p->bits : 0;
}

int vas_process_large_address_aware(vas_process *p)
{
    return p && p->magic == PROCESS_MAGIC && p->large_address_aware;
}

/* ---- Invariant checking ---------------------------------------------------------------- */

typedef struct sums {
    uint64_t committed_pages, bytes;
} sums;

static void add_vad(vad *v, void *context)
{
    sums *s = context;
    s->committed_pages += vad_charged_pages(v);
    s->bytes += v->end - v->start;
}

/* The checks of one process (the System process included); adds its commit and frames. */
static int check_process(vas_process *p, bool full, uint64_t *commit, uint64_t *frames)
{
    int errors = 0;
    uint64_t end = p->shape.highest + 1 ? p->shape.highest + 1 : p->shape.vad_limit;
    errors += vad_check_tree(&p->vads, p->page_shift, p->shape.lowest, end);
    sums s = {0, 0};
    vad_for_each(&p->vads, add_vad, &s);
    if (s.committed_pages << p->page_shift != p->commit_charge || s.bytes != p->virtual_size ||
        p->peak_commit_charge < p->commit_charge || p->peak_virtual_size < p->virtual_size) {
        fprintf(stderr, "vas: invariant 2 failed for process %u: charge %llu for %llu pages, "
                "virtual size %llu for %llu bytes\n", p->id,
                (unsigned long long)p->commit_charge, (unsigned long long)s.committed_pages,
                (unsigned long long)p->virtual_size, (unsigned long long)s.bytes);
        errors++;
    }
    *commit += p->commit_charge;
    *frames += p->ws_count - p->shared_count + p->page_table_pages;
    if (full)
        errors += pagetable_check(p) + ws_check(p);
    return errors;
}

int machine_check_locked(vas_machine *m, bool full)
{
    int errors = 0;
    uint64_t commit = 0, frames = 0;
    uint32_t count = 0;
    for (vas_process *p = m->processes; p; p = p->next, count++) {
        if (p->magic != PROCESS_MAGIC) {
            fprintf(stderr, "vas: invariant 4 failed: a live process without its magic\n");
            return errors + 1;
        }
        errors += check_process(p, full, &commit, &frames);
    }
    if (m->system)
        errors += check_process(m->system, full, &commit, &frames) + system_check(m);
    frames += m->orphaned_frames;
    uint64_t section_pages = 0, section_frames = 0;
    errors += section_check_all(m, full, &section_pages, &section_frames);
    commit += section_pages << m->physical.page_shift;
    frames += section_frames;
    errors += physical_check(&m->physical, full) + pagefile_check(m);
    if (frames != m->physical.list_count[FRAME_ACTIVE]) {
        fprintf(stderr, "vas: invariant 5 failed: %llu active frames, processes hold %llu\n",
                (unsigned long long)m->physical.list_count[FRAME_ACTIVE], (unsigned long long)frames);
        errors++;
    }
    if (commit != m->commit_total || m->commit_total > m->commit_limit || m->commit_peak < m->commit_total) {
        fprintf(stderr, "vas: invariant 1 failed: commit total %llu, processes %llu, limit %llu\n",
                (unsigned long long)m->commit_total, (unsigned long long)commit,
                (unsigned long long)m->commit_limit);
        errors++;
    }
    if (count != m->process_count) {
        fprintf(stderr, "vas: invariant 4 failed: %u processes listed, count says %u\n", count,
                m->process_count);
        errors++;
    }
    return errors;
}

int vas_check(vas_machine *m)
{
    if (!m || m->magic != MACHINE_MAGIC)
        return -1;
    pthread_mutex_lock(&m->lock);
    int errors = machine_check_locked(m, true);
    pthread_mutex_unlock(&m->lock);
    return errors;
}
