/*
 * views.c - what the vas tool shows of a machine: VMMap's map of a process, the fragmentation
 * view, the physical view, the figures, and a region query; each as text or as one JSON
 * document (docs/cli.md describes both).
 *
 * The data structure is the process_map (views.h), a snapshot of one VirtualQuery walk over
 * user space. Its invariants:
 *   (M1) blocks are in address order and cover [user_first, user_last] without gaps or overlap;
 *   (M2) an allocation block holds the VirtualQuery regions of one allocation (one
 *        AllocationBase), in order: regions[first_region .. first_region + region_count - 1],
 *        whose sizes add up to the block's size;
 *   (M3) free and unusable blocks hold no regions; an unusable block lies inside one 64 KB
 *        granule and ends at that granule's end or at an allocation (VMMap's "Unusable": the
 *        tail of a granule whose start went to a smaller allocation, which nothing can reserve);
 *   (M4) committed and working_set of a block are the sums over its regions; working sets are
 *        counted only over committed pages, so building a map costs O(regions + committed
 *        pages) however large the reservations are.
 * The views read only the map and the public API; nothing here holds a pointer into the library
 * past the call that made it.
 */
#include "views.h"

#include "json.h"
#include "print.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ANSI_RESET "\033[0m"
#define KUSER_SHARED_DATA 0x7FFE0000u /* the same user address on every NT layout */

/* ---- Kinds ------------------------------------------------------------------------------- */

/* One fixed palette, VMMap's where it is known (Private Data yellow, Unusable grey). The letter
   is the fragmentation view's; Page Table has none, as it lives outside user space. */
static const struct kind_style {
    const char *name, *json, *rgb, *ansi;
    char letter;
} kinds[KIND_COUNT] = {
    [KIND_IMAGE] = {"Image", "image", "#a35ccf", "\033[35m", 'I'},
    [KIND_MAPPED_FILE] = {"Mapped File", "mapped_file", "#4f8fe8", "\033[94m", 'M'},
    [KIND_SHAREABLE] = {"Shareable", "shareable", "#2aa9a0", "\033[36m", 'S'},
    [KIND_HEAP] = {"Heap", "heap", "#d9534f", "\033[31m", 'H'},
    [KIND_STACK] = {"Stack", "stack", "#4caf50", "\033[32m", 'T'},
    [KIND_PRIVATE_DATA] = {"Private Data", "private_data", "#e6c229", "\033[33m", 'P'},
    [KIND_PAGE_TABLE] = {"Page Table", "page_table", "#e377c2", "\033[95m", '\0'},
    [KIND_UNUSABLE] = {"Unusable", "unusable", "#9e9e9e", "\033[90m", 'u'},
    [KIND_FREE] = {"Free", "free", "#f2f2f2", "\033[2m", '.'},
};

const char *kind_name(map_kind kind) { return (unsigned)kind < KIND_COUNT ? kinds[kind].name : "?"; }
const char *kind_json_name(map_kind kind) { return (unsigned)kind < KIND_COUNT ? kinds[kind].json : "?"; }
const char *kind_rgb(map_kind kind) { return (unsigned)kind < KIND_COUNT ? kinds[kind].rgb : "#000000"; }
const char *kind_ansi(map_kind kind) { return (unsigned)kind < KIND_COUNT ? kinds[kind].ansi : ""; }

static bool is_allocation(map_kind kind) { return kind < KIND_PAGE_TABLE; }

/* ---- Small helpers ----------------------------------------------------------------------- */

static uint64_t block_end(const map_block *b) { return b->base + b->size; }
static bool contains(uint64_t base, uint64_t size, uint64_t address) { return address - base < size; }

/* vas_state_name and vas_type_name share one buffer for unknown values; labels copy them so
   that two may appear in one call. */
static label text_label(const char *text)
{
    label l;
    snprintf(l.s, sizeof l.s, "%s", text);
    return l;
}

static label protect_label(uint32_t protect)
{
    label l;
    vas_protect_name(protect, l.s, sizeof l.s);
    return l;
}

static label count_label(uint64_t count)
{
    label l;
    snprintf(l.s, sizeof l.s, "%" PRIu64, count);
    return l;
}

/* A size in a table cell: blank when zero, so that the figures that matter stand out. */
static label size_cell(uint64_t bytes) { return bytes ? size_label(bytes) : text_label(""); }

/* A size with its exact byte count, "2 GB - 64 KB (2147418112)": longer than a label holds. */
typedef struct long_label {
    char s[96];
} long_label;

static long_label exact_size_label(uint64_t bytes)
{
    long_label l;
    snprintf(l.s, sizeof l.s, "%s (%" PRIu64 ")", size_label(bytes).s, bytes);
    return l;
}

/* Grows an array to hold at least `needed` elements; NULL (the array untouched) when the host
   is out of memory. */
static void *grow(void *array, size_t *capacity, size_t needed, size_t element)
{
    if (needed <= *capacity)
        return array;
    size_t wanted = *capacity ? *capacity : 64;
    while (wanted < needed)
        wanted *= 2;
    if (wanted > SIZE_MAX / element)
        return NULL;
    void *bigger = realloc(array, wanted * element);
    if (bigger)
        *capacity = wanted;
    return bigger;
}

/* Appends printf-formatted text to a details string, after ", " when it already says something. */
__attribute__((format(printf, 3, 4)))
static void append_detail(char *details, size_t size, const char *format, ...)
{
    size_t used = strlen(details);
    if (used && used + 2 < size) {
        memcpy(details + used, ", ", 3);
        used += 2;
    }
    va_list args;
    va_start(args, format);
    vsnprintf(details + used, size - used, format, args);
    va_end(args);
}

/* ---- Aligned tables, with colour ----------------------------------------------------------
 * print.h's tables have fixed room (40 rows, 48-character cells) and measure cells in bytes,
 * which colour codes would skew. These grow as needed, and colour one column at print time,
 * after the widths have been measured on the plain text. */
#define GRID_COLUMNS 8
#define GRID_CELL 144

typedef struct grid_row {
    char cell[GRID_COLUMNS][GRID_CELL];
    const char *ansi;             /* the colour of the coloured column; NULL: plain */
} grid_row;

typedef struct grid {
    size_t columns, colour_column;
    const char *headers[GRID_COLUMNS]; /* a '>' in front right-aligns the column */
    grid_row *rows;
    size_t count, capacity, dropped;
} grid;

/* The headers follow colour_column, then NULL. */
static void grid_begin(grid *g, size_t colour_column, ...)
{
    memset(g, 0, sizeof *g);
    g->colour_column = colour_column;
    va_list args;
    va_start(args, colour_column);
    for (const char *header; g->columns < GRID_COLUMNS && (header = va_arg(args, const char *));)
        g->headers[g->columns++] = header;
    va_end(args);
}

/* Exactly g->columns strings follow ansi. A row the host has no memory for is counted and
   reported instead of printed. */
static void grid_add(grid *g, const char *ansi, ...)
{
    grid_row *rows = grow(g->rows, &g->capacity, g->count + 1, sizeof *rows);
    if (!rows) {
        g->dropped++;
        return;
    }
    g->rows = rows;
    grid_row *row = &rows[g->count++];
    row->ansi = ansi;
    va_list args;
    va_start(args, ansi);
    for (size_t c = 0; c < g->columns; c++)
        snprintf(row->cell[c], GRID_CELL, "%s", va_arg(args, const char *));
    va_end(args);
}

static const char *header_text(const char *header) { return header[0] == '>' ? header + 1 : header; }

/* One line: cells padded to their column's width, two spaces apart, indented by two; empty
   cells at the end are left out and the last cell is not padded, so no line ends in spaces. */
static void grid_line(const grid *g, const size_t *widths, const char *const *cells, const char *ansi)
{
    size_t columns = g->columns;
    while (columns > 1 && cells[columns - 1][0] == '\0')
        columns--;
    fputs("  ", stdout);
    for (size_t c = 0; c < columns; c++) {
        bool last = c + 1 == columns, right = g->headers[c][0] == '>';
        int width = last && !right ? 0 : (int)widths[c];
        bool coloured = ansi && c == g->colour_column && cells[c][0];
        if (coloured)
            fputs(ansi, stdout);
        printf(right ? "%*s" : "%-*s", width, cells[c]);
        if (coloured)
            fputs(ANSI_RESET, stdout);
        fputs(last ? "\n" : "  ", stdout);
    }
}

/* Prints the table, then a blank line; with colour, rows show their colour. */
static void grid_print(const grid *g, int colour)
{
    size_t widths[GRID_COLUMNS];
    const char *cells[GRID_COLUMNS];
    char rules[GRID_COLUMNS][GRID_CELL];
    for (size_t c = 0; c < g->columns; c++) {
        widths[c] = strlen(header_text(g->headers[c]));
        for (size_t r = 0; r < g->count; r++) {
            size_t length = strlen(g->rows[r].cell[c]);
            if (length > widths[c])
                widths[c] = length;
        }
        memset(rules[c], '-', widths[c]);
        rules[c][widths[c]] = '\0';
        cells[c] = header_text(g->headers[c]);
    }
    grid_line(g, widths, cells, NULL);
    for (size_t c = 0; c < g->columns; c++)
        cells[c] = rules[c];
    grid_line(g, widths, cells, NULL);
    for (size_t r = 0; r < g->count; r++) {
        for (size_t c = 0; c < g->columns; c++)
            cells[c] = g->rows[r].cell[c];
        grid_line(g, widths, cells, colour ? g->rows[r].ansi : NULL);
    }
    if (g->dropped)
        printf("  (%zu more rows: out of memory)\n", g->dropped);
    putchar('\n');
}

static void grid_free(grid *g)
{
    free(g->rows);
    g->rows = NULL;
    g->count = g->capacity = 0;
}

/* ---- What a process's allocations are ------------------------------------------------------
 * VirtualQuery says MEM_PRIVATE, MEM_MAPPED or MEM_IMAGE; VMMap's finer kinds and its Details
 * column come from what the process knows of itself: its heap, its threads' stacks and TEBs,
 * its PEB, its modules, and the files its views map. */
typedef struct process_facts {
    vas_process_info info;        /* zeroed when the process has none (not made from an image) */
    vas_thread_info *threads;
    size_t thread_count;
    vas_module_info *modules;     /* names and paths valid while the process lives */
    size_t module_count;
    bool shared_user_data;        /* KUSER_SHARED_DATA is mapped: NT, not Windows 95/98 */
} process_facts;

static void facts_free(process_facts *f)
{
    free(f->threads);
    free(f->modules);
    memset(f, 0, sizeof *f);
}

/* 0 when the host is out of memory. */
static int facts_load(vas_process *process, process_facts *f)
{
    memset(f, 0, sizeof *f);
    /* Windows 95/98 (the layout with an MS-DOS partition) have no shared user page: an
       allocation of the program's own may sit at its address. */
    vas_partition partitions[8];
    size_t partition_count = vas_get_partitions(process, partitions, 8);
    f->shared_user_data = true;
    for (size_t i = 0; i < partition_count && i < 8; i++)
        if (partitions[i].kind == VAS_PARTITION_DOS)
            f->shared_user_data = false;
    if (!vas_process_get_info(process, &f->info))
        memset(&f->info, 0, sizeof f->info);
    size_t threads = vas_process_threads(process, NULL, 0);
    if (threads) {
        f->threads = calloc(threads, sizeof *f->threads);
        if (!f->threads)
            return 0;
        size_t filled = vas_process_threads(process, f->threads, threads);
        f->thread_count = filled < threads ? filled : threads;
    }
    size_t modules = vas_process_modules(process, NULL, 0);
    if (modules) {
        f->modules = calloc(modules, sizeof *f->modules);
        if (!f->modules) {
            facts_free(f);
            return 0;
        }
        size_t filled = vas_process_modules(process, f->modules, modules);
        f->module_count = filled < modules ? filled : modules;
    }
    return 1;
}

/* VMMap's kind of the allocation [base, base + size) of `type`, and its details. */
static map_kind classify(vas_process *process, const process_facts *f, uint64_t base, uint64_t size,
                         uint32_t type, char *details, size_t details_size)
{
    details[0] = '\0';
    if (type == VAS_MEM_IMAGE) {
        for (size_t i = 0; i < f->module_count; i++) {
            const vas_module_info *mod = &f->modules[i];
            if (contains(base, size, mod->base)) {
                snprintf(details, details_size, "%s", mod->path && *mod->path ? mod->path : mod->name);
                break;
            }
        }
        return KIND_IMAGE;
    }
    if (type == VAS_MEM_MAPPED) {
        if (vas_get_mapped_file_name(process, base, details, details_size))
            return KIND_MAPPED_FILE;
        details[0] = '\0';
        return KIND_SHAREABLE;    /* a paging-file section: no file behind it */
    }
    if (f->info.heap_base && contains(base, size, f->info.heap_base)) {
        snprintf(details, details_size, "Process heap");
        return KIND_HEAP;
    }
    for (size_t i = 0; i < f->thread_count; i++) {
        if (f->threads[i].deallocation_stack && contains(base, size, f->threads[i].deallocation_stack)) {
            snprintf(details, details_size, "Thread %" PRIu32, f->threads[i].thread_id);
            return KIND_STACK;
        }
    }
    if (f->info.peb && contains(base, size, f->info.peb))
        append_detail(details, details_size, "PEB");
    for (size_t i = 0; i < f->thread_count; i++)
        if (f->threads[i].teb && contains(base, size, f->threads[i].teb))
            append_detail(details, details_size, "TEB of thread %" PRIu32, f->threads[i].thread_id);
    if (f->shared_user_data && base == KUSER_SHARED_DATA)
        append_detail(details, details_size, "Shared user data");
    return KIND_PRIVATE_DATA;
}

/* ---- Building a process map --------------------------------------------------------------- */

typedef struct map_builder {
    process_map *map;
    size_t block_capacity, region_capacity;
} map_builder;

static map_block *new_block(map_builder *b, map_kind kind, uint64_t base, uint64_t size)
{
    process_map *m = b->map;
    map_block *blocks = grow(m->blocks, &b->block_capacity, m->block_count + 1, sizeof *blocks);
    if (!blocks)
        return NULL;
    m->blocks = blocks;
    map_block *block = &blocks[m->block_count++];
    memset(block, 0, sizeof *block);
    block->kind = kind;
    block->base = base;
    block->size = size;
    block->first_region = m->region_count;
    return block;
}

/* A free range of the walk: its part inside a granule whose start is taken is Unusable (M3),
   the rest Free. */
static int add_free_range(map_builder *b, uint64_t start, uint64_t end)
{
    uint64_t granule = b->map->granularity;
    if (start % granule) {
        uint64_t tail_end = start - start % granule + granule;
        if (tail_end > end)
            tail_end = end;
        if (!new_block(b, KIND_UNUSABLE, start, tail_end - start))
            return 0;
        start = tail_end;
    }
    return start == end || new_block(b, KIND_FREE, start, end - start) != NULL;
}

/* The bytes of the committed range [base, base + size) in the working set: QueryWorkingSetEx in
   batches, one entry a page. */
static uint64_t resident_bytes(vas_process *process, uint64_t base, uint64_t size, uint32_t page_size)
{
    enum { BATCH = 512 };
    vas_working_set_ex_information batch[BATCH];
    uint64_t pages = size / page_size, resident = 0;
    for (uint64_t done = 0; done < pages;) {
        size_t n = pages - done < BATCH ? (size_t)(pages - done) : BATCH;
        for (size_t i = 0; i < n; i++)
            batch[i] = (vas_working_set_ex_information){.virtual_address = base + (done + i) * page_size};
        if (vas_query_working_set_ex(process, batch, n))
            for (size_t i = 0; i < n; i++)
                resident += batch[i].valid ? page_size : 0;
        done += n;
    }
    return resident;
}

/* A region of an allocation: into the allocation's block (M2), which starts here if the previous
   block is another allocation or free. */
static int add_region(map_builder *b, vas_process *process, const vas_memory_basic_information *info)
{
    process_map *m = b->map;
    map_block *block = m->block_count ? &m->blocks[m->block_count - 1] : NULL;
    if (!block || !is_allocation(block->kind) ||
        m->regions[block->first_region].info.allocation_base != info->allocation_base) {
        /* The kind is settled once the allocation is whole (classify needs its size). */
        block = new_block(b, KIND_PRIVATE_DATA, info->base_address, 0);
        if (!block)
            return 0;
        block->allocation_protect = info->allocation_protect;
        block->type = info->type;
    }
    map_region *regions = grow(m->regions, &b->region_capacity, m->region_count + 1, sizeof *regions);
    if (!regions)
        return 0;
    m->regions = regions;
    map_region *region = &regions[m->region_count++];
    region->info = *info;
    region->working_set = 0;
    if (info->state == VAS_MEM_COMMIT) {
        region->working_set = resident_bytes(process, info->base_address, info->region_size, m->page_size);
        block->committed += info->region_size;
        block->working_set += region->working_set;
    }
    block->size += info->region_size;
    block->region_count++;
    return 1;
}

static void summary_add(map_summary *s, uint64_t size, uint64_t committed, uint64_t working_set)
{
    s->size += size;
    s->committed += committed;
    s->working_set += working_set;
    s->blocks++;
    if (size > s->largest)
        s->largest = size;
}

static void summarise(vas_process *process, process_map *m)
{
    for (size_t i = 0; i < m->block_count; i++) {
        const map_block *b = &m->blocks[i];
        summary_add(&m->summary[b->kind], b->size, b->committed, b->working_set);
    }
    /* The page tables: resident and committed whole, one block if any. */
    vas_process_counters counters;
    if (vas_process_get_counters(process, &counters) && counters.page_table_pages) {
        uint64_t bytes = counters.page_table_pages * m->page_size;
        summary_add(&m->summary[KIND_PAGE_TABLE], bytes, bytes, bytes);
    }
    for (int k = 0; k < KIND_COUNT; k++) {
        const map_summary *s = &m->summary[k];
        if (k == KIND_FREE || k == KIND_UNUSABLE)
            continue;
        m->total.size += s->size;
        m->total.committed += s->committed;
        m->total.working_set += s->working_set;
        m->total.blocks += s->blocks;
        if (s->largest > m->total.largest)
            m->total.largest = s->largest;
    }
}

int process_map_build(vas_process *process, process_map *map)
{
    memset(map, 0, sizeof *map);
    vas_system_info system;
    vas_get_system_info(process, &system);
    const char *name = vas_process_name(process);
    size_t name_length = strlen(name ? name : "");
    char *name_copy = malloc(name_length + 1);
    if (!name_copy)
        return 0;
    memcpy(name_copy, name ? name : "", name_length + 1);
    map->name = name_copy;
    map->process_id = vas_process_id(process);
    map->bits = vas_process_bits(process);
    map->page_size = system.page_size;
    map->granularity = system.allocation_granularity;
    map->user_first = system.minimum_application_address;
    map->user_last = system.maximum_application_address;

    map_builder b = {map, 0, 0};
    uint64_t user_end = map->user_last + 1;
    enum { BATCH = 256 }; /* regions a vas_query_regions call brings: the VirtualQuery walk, in bulk */
    vas_memory_basic_information batch[BATCH];
    size_t got = 0, next = 0;
    for (uint64_t address = map->user_first; address < user_end;) {
        if (next == got) {
            got = vas_query_regions(process, address, batch, BATCH);
            next = 0;
            if (!got)
                break; /* cannot happen inside user space; the map then ends here */
        }
        const vas_memory_basic_information *info = &batch[next++];
        /* The first free region may start below user space, the last end above it. */
        uint64_t end = info->base_address + info->region_size;
        if (end > user_end || end < info->base_address)
            end = user_end;
        if (end <= address)
            break;
        int added = info->state == VAS_MEM_FREE ? add_free_range(&b, address, end) : add_region(&b, process, info);
        if (!added)
            goto out_of_memory;
        address = end;
    }

    process_facts facts;
    if (!facts_load(process, &facts))
        goto out_of_memory;
    for (size_t i = 0; i < map->block_count; i++) {
        map_block *block = &map->blocks[i];
        if (is_allocation(block->kind))
            block->kind = classify(process, &facts, block->base, block->size, block->type, block->details,
                                   sizeof block->details);
    }
    facts_free(&facts);
    summarise(process, map);
    return 1;

out_of_memory:
    process_map_free(map);
    return 0;
}

void process_map_free(process_map *map)
{
    free((void *)map->name);
    free(map->blocks);
    free(map->regions);
    memset(map, 0, sizeof *map);
}

/* Builds the map or says why not; 0 when there is none. */
static int build_or_complain(vas_process *process, process_map *map)
{
    if (process_map_build(process, map))
        return 1;
    fprintf(stderr, "vas: out of memory building the map of a process\n");
    return 0;
}

/* ---- Shared by the views -------------------------------------------------------------------- */

static void json_process(json_writer *w, vas_process *process)
{
    vas_system_info system;
    vas_get_system_info(process, &system);
    json_object_begin(w, "process");
    json_string(w, "name", vas_process_name(process));
    json_u64(w, "id", vas_process_id(process));
    json_u64(w, "bits", (uint64_t)vas_process_bits(process));
    json_u64(w, "page_size", system.page_size);
    json_u64(w, "allocation_granularity", system.allocation_granularity);
    json_hex(w, "user_first", system.minimum_application_address);
    json_hex(w, "user_last", system.maximum_application_address);
    json_object_end(w);
}

static void print_process_title(const process_map *m)
{
    printf("%s (pid %" PRIu32 ", %d-bit): user space %s - %s\n\n", m->name, m->process_id, m->bits,
           address_label(m->user_first, m->bits).s, address_label(m->user_last, m->bits).s);
}

/* "Legend: Image  Mapped File ..." with each name in its colour; with letters, "I Image". */
static void print_kind_legend(bool letters)
{
    fputs("Legend:", stdout);
    for (int k = 0; k < KIND_COUNT; k++) {
        if (letters && !kinds[k].letter)
            continue;
        fputs("  ", stdout);
        if (letters)
            printf("%s%c" ANSI_RESET " %s", kinds[k].ansi, kinds[k].letter, kinds[k].name);
        else
            printf("%s%s" ANSI_RESET, kinds[k].ansi, kinds[k].name);
    }
    fputs(letters ? "  (blank: outside user space)\n\n" : "\n\n", stdout);
}

/* ---- The map: VMMap's summary and details --------------------------------------------------- */

/* A summary row as an object; kind NULL for the total. */
static void json_summary(json_writer *w, const char *key, const char *kind, const map_summary *s)
{
    json_object_begin(w, key);
    if (kind)
        json_string(w, "kind", kind);
    json_u64(w, "size", s->size);
    json_u64(w, "committed", s->committed);
    json_u64(w, "working_set", s->working_set);
    json_u64(w, "blocks", s->blocks);
    json_u64(w, "largest", s->largest);
    json_object_end(w);
}

static void map_json(vas_process *process, const process_map *m)
{
    json_writer w;
    json_begin(&w, stdout);
    json_object_begin(&w, NULL);
    json_string(&w, "view", "map");
    json_process(&w, process);
    json_array_begin(&w, "summary");
    for (int k = 0; k < KIND_COUNT; k++)
        json_summary(&w, NULL, kinds[k].json, &m->summary[k]);
    json_array_end(&w);
    json_summary(&w, "total", NULL, &m->total);
    json_array_begin(&w, "blocks");
    for (size_t i = 0; i < m->block_count; i++) {
        const map_block *b = &m->blocks[i];
        bool allocation = is_allocation(b->kind);
        json_object_begin(&w, NULL);
        json_hex(&w, "base", b->base);
        json_u64(&w, "size", b->size);
        json_string(&w, "kind", kinds[b->kind].json);
        json_string(&w, "type", allocation ? vas_type_name(b->type) : NULL);
        json_string(&w, "allocation_protect", allocation ? protect_label(b->allocation_protect).s : NULL);
        json_u64(&w, "committed", b->committed);
        json_u64(&w, "working_set", b->working_set);
        json_string(&w, "details", b->details);
        json_array_begin(&w, "regions");
        for (size_t r = b->first_region; r < b->first_region + b->region_count; r++) {
            const map_region *region = &m->regions[r];
            json_object_begin(&w, NULL);
            json_hex(&w, "base", region->info.base_address);
            json_u64(&w, "size", region->info.region_size);
            json_string(&w, "state", vas_state_name(region->info.state));
            json_string(&w, "protect", protect_label(region->info.protect).s);
            json_string(&w, "type", vas_type_name(region->info.type));
            json_u64(&w, "working_set", region->working_set);
            json_object_end(&w);
        }
        json_array_end(&w);
        json_object_end(&w);
    }
    json_array_end(&w);
    json_object_end(&w);
    json_end(&w);
}

static void map_summary_row(grid *g, const char *name, const char *ansi, const map_summary *s)
{
    grid_add(g, ansi, name, size_cell(s->size).s, size_cell(s->committed).s, size_cell(s->working_set).s,
             count_label(s->blocks).s, size_cell(s->largest).s);
}

static void map_text(const process_map *m, int colour)
{
    print_process_title(m);
    if (colour)
        print_kind_legend(false);

    /* Total sums the rows above it; Unusable and Free follow, as they are not memory in use. */
    grid summary;
    grid_begin(&summary, 0, "Type", ">Size", ">Committed", ">Working set", ">Blocks", ">Largest", NULL);
    for (int k = 0; k <= KIND_PAGE_TABLE; k++)
        map_summary_row(&summary, kinds[k].name, kinds[k].ansi, &m->summary[k]);
    map_summary_row(&summary, "Total", NULL, &m->total);
    map_summary_row(&summary, kinds[KIND_UNUSABLE].name, kinds[KIND_UNUSABLE].ansi, &m->summary[KIND_UNUSABLE]);
    map_summary_row(&summary, kinds[KIND_FREE].name, kinds[KIND_FREE].ansi, &m->summary[KIND_FREE]);
    grid_print(&summary, colour);
    grid_free(&summary);

    /* One line per block; an allocation of several regions lists them under it, indented, with
       each region's protection and state. */
    grid details;
    grid_begin(&details, 1, "Address", "Type", ">Size", ">Committed", ">WS", "Protection", "Details", NULL);
    for (size_t i = 0; i < m->block_count; i++) {
        const map_block *b = &m->blocks[i];
        bool allocation = is_allocation(b->kind);
        grid_add(&details, kinds[b->kind].ansi, address_label(b->base, m->bits).s, kinds[b->kind].name,
                 size_label(b->size).s, size_cell(b->committed).s, size_cell(b->working_set).s,
                 allocation ? protect_label(b->allocation_protect).s : "-", b->details);
        if (b->region_count < 2)
            continue;
        for (size_t r = b->first_region; r < b->first_region + b->region_count; r++) {
            const vas_memory_basic_information *info = &m->regions[r].info;
            bool committed = info->state == VAS_MEM_COMMIT;
            label address = address_label(info->base_address, m->bits);
            char indented[sizeof address.s + 2];
            snprintf(indented, sizeof indented, "  %s", address.s);
            grid_add(&details, NULL, indented, "", size_label(info->region_size).s,
                     committed ? size_label(info->region_size).s : "", size_cell(m->regions[r].working_set).s,
                     committed ? protect_label(info->protect).s : "-", text_label(vas_state_name(info->state)).s);
        }
    }
    grid_print(&details, colour);
    grid_free(&details);
}

void view_map(vas_process *process, const view_options *options)
{
    process_map m;
    if (!build_or_complain(process, &m))
        return;
    if (options->json)
        map_json(process, &m);
    else
        map_text(&m, options->colour);
    process_map_free(&m);
}

/* ---- The fragmentation view ------------------------------------------------------------------
 * One cell per granule (or page), FRAG_CELLS_PER_ROW to a row. A cell shows the kind of most of
 * its bytes, but any allocation beats free and unusable bytes, so that a 4 KB allocation is
 * never hidden by the 60 KB it leaves unusable. Runs of two or more rows whose cells all show
 * one kind (a big free range, a big reservation) become one line; rows that lie inside one
 * block are skipped in one step, so 128 TB of free space costs no more than a line. */
#define FRAG_CELLS_PER_ROW 64

typedef struct frag_row {
    uint64_t address;             /* of the row's first cell */
    size_t length;                /* cells up to the last one that starts inside user space */
    char cells[FRAG_CELLS_PER_ROW + 1];
    int kind[FRAG_CELLS_PER_ROW]; /* -1: outside user space (blank) */
    int uniform;                  /* the kind of every cell inside user space, or -1 */
} frag_row;

typedef struct frag_run {         /* rows of one kind, to be shown as one line */
    int kind;                     /* -1: no run pending */
    uint64_t first, end;          /* the user-space bytes the rows cover */
    uint64_t rows;
    size_t cursor;                /* a block index at or before first, to redraw a single row */
} frag_run;

typedef struct frag_view {
    const process_map *map;
    uint64_t cell, span, user_end; /* cell and row sizes in bytes; the end of user space */
    json_writer *json;            /* NULL: text */
    int colour;
    frag_run run;
} frag_view;

/* The kind a cell shows, or -1 outside user space. *cursor is a block index at or before the
   cell, moved forward past the blocks that end before it. */
static int cell_kind(const process_map *m, size_t *cursor, uint64_t start, uint64_t size)
{
    uint64_t end = start + size, bytes[KIND_COUNT] = {0};
    while (*cursor < m->block_count && block_end(&m->blocks[*cursor]) <= start)
        (*cursor)++;
    for (size_t i = *cursor; i < m->block_count && m->blocks[i].base < end; i++) {
        const map_block *b = &m->blocks[i];
        uint64_t from = b->base > start ? b->base : start, to = block_end(b) < end ? block_end(b) : end;
        bytes[b->kind] += to - from;
    }
    /* The allocation kind with the most bytes (ties: the first in summary order); free and
       unusable bytes count only in a cell without any allocation. */
    int best = -1;
    for (int k = 0; k < KIND_PAGE_TABLE; k++)
        if (bytes[k] && (best < 0 || bytes[k] > bytes[best]))
            best = k;
    if (best < 0 && (bytes[KIND_UNUSABLE] || bytes[KIND_FREE]))
        best = bytes[KIND_UNUSABLE] > bytes[KIND_FREE] ? KIND_UNUSABLE : KIND_FREE;
    return best;
}

static void frag_row_build(const frag_view *v, size_t *cursor, uint64_t address, frag_row *row)
{
    row->address = address;
    row->length = 0;
    row->uniform = -1;
    bool mixed = false;
    for (size_t c = 0; c < FRAG_CELLS_PER_ROW; c++) {
        uint64_t start = address + c * v->cell;
        if (start >= v->user_end)
            break;
        int kind = cell_kind(v->map, cursor, start, v->cell);
        row->kind[c] = kind;
        row->cells[c] = kind < 0 ? ' ' : kinds[kind].letter;
        row->length = c + 1;
        if (kind >= 0 && row->uniform >= 0 && kind != row->uniform)
            mixed = true;
        if (kind >= 0 && row->uniform < 0)
            row->uniform = kind;
    }
    row->cells[row->length] = '\0';
    if (mixed)
        row->uniform = -1;
}

static void frag_print_row(const frag_view *v, const frag_row *row)
{
    if (v->json) {
        json_object_begin(v->json, NULL);
        json_hex(v->json, "address", row->address);
        json_string(v->json, "cells", row->cells);
        json_object_end(v->json);
        return;
    }
    printf("%s  ", address_label(row->address, v->map->bits).s);
    int shown = -1; /* the colour in effect */
    for (size_t c = 0; c < row->length; c++) {
        if (v->colour && row->kind[c] >= 0 && row->kind[c] != shown) {
            fputs(kinds[row->kind[c]].ansi, stdout);
            shown = row->kind[c];
        }
        putchar(row->cells[c]);
    }
    fputs(shown >= 0 ? ANSI_RESET "\n" : "\n", stdout);
}

/* Shows the pending run: a single row as it is, longer runs as one line. */
static void frag_flush(frag_view *v)
{
    frag_run *run = &v->run;
    if (run->kind < 0)
        return;
    if (run->rows == 1) {
        frag_row row;
        size_t cursor = run->cursor;
        frag_row_build(v, &cursor, run->first - run->first % v->span, &row);
        frag_print_row(v, &row);
    } else if (v->json) {
        json_object_begin(v->json, NULL);
        json_hex(v->json, "address", run->first);
        json_hex(v->json, "last", run->end - 1);
        json_string(v->json, "kind", kinds[run->kind].json);
        json_u64(v->json, "rows", run->rows);
        json_u64(v->json, "size", run->end - run->first);
        json_object_end(v->json);
    } else {
        const char *ansi = v->colour ? kinds[run->kind].ansi : "";
        printf("%s  ... %s  %s%s%s (%s)\n", address_label(run->first, v->map->bits).s,
               address_label(run->end - 1, v->map->bits).s, ansi, kinds[run->kind].name, v->colour ? ANSI_RESET : "",
               size_label(run->end - run->first).s);
    }
    run->kind = -1;
}

/* Rows [first, end) of user space, all of one kind: they extend the pending run or start one. */
static void frag_add_run(frag_view *v, int kind, uint64_t first, uint64_t end, uint64_t rows, size_t cursor)
{
    frag_run *run = &v->run;
    if (run->kind == kind && run->end == first) {
        run->end = end;
        run->rows += rows;
        return;
    }
    frag_flush(v);
    *run = (frag_run){kind, first, end, rows, cursor};
}

static void frag_rows(frag_view *v)
{
    const process_map *m = v->map;
    size_t cursor = 0;
    v->run.kind = -1;
    for (uint64_t address = m->user_first - m->user_first % v->span; address < v->user_end;) {
        while (cursor < m->block_count && block_end(&m->blocks[cursor]) <= address)
            cursor++;
        const map_block *b = cursor < m->block_count ? &m->blocks[cursor] : NULL;
        if (b && b->base <= address && block_end(b) - address >= v->span) {
            /* Whole rows inside one block: all its kind, taken in one step. */
            uint64_t rows = (block_end(b) - address) / v->span;
            frag_add_run(v, (int)b->kind, address, address + rows * v->span, rows, cursor);
            address += rows * v->span;
            continue;
        }
        size_t row_cursor = cursor;
        frag_row row;
        frag_row_build(v, &row_cursor, address, &row);
        if (row.uniform >= 0) {
            uint64_t first = address > m->user_first ? address : m->user_first;
            uint64_t end = address + v->span < v->user_end ? address + v->span : v->user_end;
            frag_add_run(v, row.uniform, first, end, 1, cursor);
        } else {
            frag_flush(v);
            frag_print_row(v, &row);
        }
        address += v->span;
    }
    frag_flush(v);
}

/* The largest free block, the number that says whether a big reservation can still succeed. */
static const map_block *largest_free(const process_map *m)
{
    const map_block *best = NULL;
    for (size_t i = 0; i < m->block_count; i++)
        if (m->blocks[i].kind == KIND_FREE && (!best || m->blocks[i].size > best->size))
            best = &m->blocks[i];
    return best;
}

void view_frag(vas_process *process, const view_options *options)
{
    process_map m;
    if (!build_or_complain(process, &m))
        return;
    json_writer w;
    frag_view v = {.map = &m, .colour = options->colour, .json = options->json ? &w : NULL};
    v.cell = options->per_page ? m.page_size : m.granularity;
    v.span = v.cell * FRAG_CELLS_PER_ROW;
    v.user_end = m.user_last + 1;
    const map_block *largest = largest_free(&m);

    if (v.json) {
        json_begin(&w, stdout);
        json_object_begin(&w, NULL);
        json_string(&w, "view", "frag");
        json_process(&w, process);
        json_u64(&w, "cell_size", v.cell);
        json_u64(&w, "cells_per_row", FRAG_CELLS_PER_ROW);
        json_object_begin(&w, "legend");
        for (int k = 0; k < KIND_COUNT; k++) {
            char letter[2] = {kinds[k].letter, '\0'};
            if (kinds[k].letter)
                json_string(&w, letter, kinds[k].json);
        }
        json_string(&w, " ", "outside");
        json_object_end(&w);
        json_array_begin(&w, "rows");
        frag_rows(&v);
        json_array_end(&w);
        if (largest) {
            json_object_begin(&w, "largest_free");
            json_hex(&w, "base", largest->base);
            json_u64(&w, "size", largest->size);
            json_object_end(&w);
        } else {
            json_string(&w, "largest_free", NULL);
        }
        json_object_end(&w);
        json_end(&w);
    } else {
        print_process_title(&m);
        printf("One cell = %s, %d cells a row (%s).\n", size_label(v.cell).s, FRAG_CELLS_PER_ROW,
               size_label(v.span).s);
        if (v.colour) {
            print_kind_legend(true);
        } else {
            fputs("Legend:", stdout);
            for (int k = 0; k < KIND_COUNT; k++)
                if (kinds[k].letter)
                    printf("  %c %s", kinds[k].letter, kinds[k].name);
            fputs("  (blank: outside user space)\n\n", stdout);
        }
        frag_rows(&v);
        if (largest)
            printf("\nLargest free block: %s at %s\n", size_label(largest->size).s,
                   address_label(largest->base, m.bits).s);
        else
            printf("\nLargest free block: none\n");
    }
    process_map_free(&m);
}

/* ---- The physical view ---------------------------------------------------------------------
 * One symbol per frame (or per group of frames when RAM has more than PHYSICAL_MAX_CELLS): its
 * owner when it is in use, its list when it is not. Standby and modified frames show their
 * list: that they can be taken matters more than whose they were. */
#define PHYSICAL_MAX_CELLS 4096
#define PHYSICAL_CELLS_PER_ROW 64

/* The processes' letters, in the order the view is given them: the alphabet without S and L,
   which stand for system and locked frames. A process's page tables are its letter in lower
   case. Processes past these show as '?'. */
static const char process_letters[] = "ABCDEFGHIJKMNOPQRTUVWXYZ";
#define PHYSICAL_MAX_LETTERS (sizeof process_letters - 1)
static char table_letter(char letter) { return (char)(letter - 'A' + 'a'); }

/* The symbols that are no process's, in legend order. An idle frame (zeroed, free, frame 0)
   loses to any other in a cell of many frames. */
static const struct physical_symbol {
    char symbol;
    const char *key, *name, *ansi;
    bool idle;
} physical_symbols[] = {
    {'=', "section", "section (shared) pages", "\033[94m", false},
    {'S', "system", "system space: pools and system page tables", "\033[91m", false},
    {'L', "locked", "locked by an MDL after its process let go", "\033[95m", false},
    {'~', "standby", "standby", "\033[90m", false},
    {'!', "modified", "modified", "\033[93m", false},
    {'?', "other_processes", "pages of a process not listed", "\033[2m", false},
    {'.', "zeroed", "zeroed", "\033[2m", true},
    {'_', "free", "free", "\033[2m", true},
    {'#', "frame_zero", "frame 0 (never used)", "\033[2m", true},
};
#define PHYSICAL_SYMBOLS (sizeof physical_symbols / sizeof physical_symbols[0])

static const char *physical_symbol_ansi(char s)
{
    static const char *const palette[] = {"\033[36m", "\033[33m", "\033[35m", "\033[32m", "\033[34m", "\033[31m"};
    unsigned char c = (unsigned char)s;
    const char *letter = isalpha(c) ? strchr(process_letters, toupper(c)) : NULL;
    if (letter)
        return palette[(size_t)(letter - process_letters) % 6];
    for (size_t i = 0; i < PHYSICAL_SYMBOLS; i++)
        if (physical_symbols[i].symbol == s)
            return physical_symbols[i].ansi;
    return "";
}

static char frame_symbol(const vas_frame_info *f, uint64_t pfn, const uint32_t *process_ids, size_t letters)
{
    if (pfn == 0)
        return '#';
    if (f->owner == VAS_FRAME_OWNER_LOCKED)
        return 'L';
    switch (f->list) {
    case VAS_FRAME_ZEROED: return '.';
    case VAS_FRAME_FREE: return '_';
    case VAS_FRAME_STANDBY: return '~';
    case VAS_FRAME_MODIFIED: return '!';
    default: break;
    }
    switch (f->owner) {
    case VAS_FRAME_OWNER_SECTION: return '=';
    case VAS_FRAME_OWNER_SYSTEM: return 'S';
    case VAS_FRAME_OWNER_PROCESS:
    case VAS_FRAME_OWNER_TABLE:
        for (size_t i = 0; i < letters; i++)
            if (process_ids[i] == f->process_id)
                return f->owner == VAS_FRAME_OWNER_TABLE ? table_letter(process_letters[i]) : process_letters[i];
        return '?';
    default: return '?';
    }
}

/* Every symbol the view may show, in legend order: the processes' letters, their page tables',
   then physical_symbols. Returns how many. */
static size_t symbol_order(size_t letters, char *order)
{
    size_t n = 0;
    for (size_t i = 0; i < letters; i++)
        order[n++] = process_letters[i];
    for (size_t i = 0; i < letters; i++)
        order[n++] = table_letter(process_letters[i]);
    for (size_t i = 0; i < PHYSICAL_SYMBOLS; i++)
        order[n++] = physical_symbols[i].symbol;
    return n;
}

static bool idle_symbol(char s)
{
    for (size_t i = 0; i < PHYSICAL_SYMBOLS; i++)
        if (physical_symbols[i].symbol == s)
            return physical_symbols[i].idle;
    return false;
}

/* The symbol a cell shows: the most common among its frames, any frame in use beating the idle
   ones; ties go to the first in legend order. */
static char cell_symbol(const uint64_t *tally, const char *order, size_t symbols)
{
    char best = ' ';
    for (int pass = 0; pass < 2 && best == ' '; pass++) {
        uint64_t most = 0;
        for (size_t i = 0; i < symbols; i++) {
            unsigned char s = (unsigned char)order[i];
            if (idle_symbol((char)s) == (pass == 1) && tally[s] > most) {
                most = tally[s];
                best = (char)s;
            }
        }
    }
    return best;
}

/* The legend's words for a symbol: "p1 notepad.exe (pid 4)", "... : page tables", or the
   symbol's name. */
static void symbol_owner(char s, const view_process *processes, char *text, size_t size)
{
    const char *letter = isalpha((unsigned char)s) ? strchr(process_letters, toupper((unsigned char)s)) : NULL;
    if (letter) {
        const view_process *vp = &processes[letter - process_letters];
        const char *name = vas_process_name(vp->process);
        bool same = !vp->label || strcmp(vp->label, name) == 0; /* say a name once */
        snprintf(text, size, "%s%s%s (pid %" PRIu32 ")%s", same ? "" : vp->label, same ? "" : " ", name,
                 vas_process_id(vp->process), islower((unsigned char)s) ? ": page tables" : "");
        return;
    }
    for (size_t i = 0; i < PHYSICAL_SYMBOLS; i++)
        if (physical_symbols[i].symbol == s)
            snprintf(text, size, "%s", physical_symbols[i].name);
}

static void physical_json(const vas_physical_status *status, uint64_t per_cell, const char *cell, size_t cells,
                          const uint64_t *totals, const view_process *processes, size_t letters,
                          const char *order, size_t symbols)
{
    json_writer w;
    json_begin(&w, stdout);
    json_object_begin(&w, NULL);
    json_string(&w, "view", "physical");
    json_u64(&w, "page_size", status->page_size);
    json_u64(&w, "frame_count", status->frame_count);
    json_u64(&w, "frames_per_cell", per_cell);
    json_u64(&w, "cells_per_row", PHYSICAL_CELLS_PER_ROW);
    json_object_begin(&w, "legend");
    for (size_t i = 0; i < symbols; i++) {
        char key[2] = {order[i], '\0'}, owner[GRID_CELL] = "";
        symbol_owner(order[i], processes, owner, sizeof owner);
        json_string(&w, key, owner);
    }
    json_object_end(&w);
    json_array_begin(&w, "processes");
    for (size_t i = 0; i < letters; i++) {
        char letter[2] = {process_letters[i], '\0'};
        json_object_begin(&w, NULL);
        json_string(&w, "letter", letter);
        json_string(&w, "label", processes[i].label);
        json_string(&w, "name", vas_process_name(processes[i].process));
        json_u64(&w, "id", vas_process_id(processes[i].process));
        json_u64(&w, "pages", totals[(unsigned char)process_letters[i]]);
        json_u64(&w, "page_tables", totals[(unsigned char)table_letter(process_letters[i])]);
        json_object_end(&w);
    }
    json_array_end(&w);
    json_object_begin(&w, "counts");
    for (size_t i = 0; i < PHYSICAL_SYMBOLS; i++)
        json_u64(&w, physical_symbols[i].key, totals[(unsigned char)physical_symbols[i].symbol]);
    json_object_end(&w);
    json_array_begin(&w, "rows");
    for (size_t c = 0; c < cells; c += PHYSICAL_CELLS_PER_ROW) {
        size_t n = cells - c < PHYSICAL_CELLS_PER_ROW ? cells - c : PHYSICAL_CELLS_PER_ROW;
        char row[PHYSICAL_CELLS_PER_ROW + 1];
        memcpy(row, cell + c, n);
        row[n] = '\0';
        json_object_begin(&w, NULL);
        json_hex(&w, "address", (uint64_t)c * per_cell * status->page_size);
        json_string(&w, "cells", row);
        json_object_end(&w);
    }
    json_array_end(&w);
    json_object_end(&w);
    json_end(&w);
}

static bool uniform_row(const char *row, char symbol)
{
    for (size_t i = 0; i < PHYSICAL_CELLS_PER_ROW; i++)
        if (row[i] != symbol)
            return false;
    return true;
}

static void physical_text(const vas_physical_status *status, uint64_t per_cell, const char *cell, size_t cells,
                          const uint64_t *totals, const view_process *processes, const char *order,
                          size_t symbols, int colour)
{
    uint64_t frames = status->frame_count, page = status->page_size;
    printf("Physical memory: %s, %" PRIu64 " frames of %s.\n", size_label(frames * page).s, frames,
           size_label(page).s);
    if (per_cell > 1)
        printf("One cell = %" PRIu64 " frames (%s): the most common owner among them, any frame in use "
               "before idle ones.\n\n", per_cell, size_label(per_cell * page).s);
    else
        printf("One cell = one frame.\n\n");

    /* The legend is the table of counts. */
    grid counts;
    grid_begin(&counts, 0, "Symbol", "Owner", ">Frames", ">Size", NULL);
    for (size_t i = 0; i < symbols; i++) {
        char symbol[2] = {order[i], '\0'}, owner[GRID_CELL] = "";
        symbol_owner(order[i], processes, owner, sizeof owner);
        uint64_t n = totals[(unsigned char)order[i]];
        grid_add(&counts, physical_symbol_ansi(order[i]), symbol, owner, count_label(n).s, size_cell(n * page).s);
    }
    grid_print(&counts, colour);
    grid_free(&counts);

    int address_bits = frames * page > (UINT64_C(1) << 32) ? 64 : 32;
    for (size_t c = 0; c < cells; c += PHYSICAL_CELLS_PER_ROW) {
        size_t n = cells - c < PHYSICAL_CELLS_PER_ROW ? cells - c : PHYSICAL_CELLS_PER_ROW;
        /* Two or more full rows of one symbol fold into one line, as in the fragmentation view. */
        size_t run = c;
        while (run + PHYSICAL_CELLS_PER_ROW <= cells &&
               uniform_row(cell + run, cell[c]))
            run += PHYSICAL_CELLS_PER_ROW;
        if (run - c >= 2 * PHYSICAL_CELLS_PER_ROW) {
            char owner[GRID_CELL] = "";
            symbol_owner(cell[c], processes, owner, sizeof owner);
            printf("%s  ... %s  all '%c' (%s, %s)\n", address_label((uint64_t)c * per_cell * page, address_bits).s,
                   address_label((uint64_t)run * per_cell * page - 1, address_bits).s, cell[c], owner,
                   size_label((uint64_t)(run - c) * per_cell * page).s);
            c = run - PHYSICAL_CELLS_PER_ROW;
            continue;
        }
        printf("%s  ", address_label((uint64_t)c * per_cell * page, address_bits).s);
        char shown = 0; /* the symbol whose colour is in effect */
        for (size_t i = 0; i < n; i++) {
            char s = cell[c + i];
            if (colour && s != shown) {
                fputs(physical_symbol_ansi(s), stdout);
                shown = s;
            }
            putchar(s);
        }
        fputs(shown ? ANSI_RESET "\n" : "\n", stdout);
    }
}

void view_physical(vas_machine *machine, const view_process *processes, size_t count,
                   const view_options *options)
{
    vas_physical_status status;
    vas_get_physical_status(machine, &status);
    uint64_t frames = status.frame_count, per_cell = 1;
    while ((frames + per_cell - 1) / per_cell > PHYSICAL_MAX_CELLS)
        per_cell *= 2;
    size_t cells = (size_t)((frames + per_cell - 1) / per_cell);
    size_t letters = count < PHYSICAL_MAX_LETTERS ? count : PHYSICAL_MAX_LETTERS;
    uint32_t process_ids[PHYSICAL_MAX_LETTERS];
    for (size_t i = 0; i < letters; i++)
        process_ids[i] = vas_process_id(processes[i].process);
    char order[2 * PHYSICAL_MAX_LETTERS + PHYSICAL_SYMBOLS];
    size_t symbols = symbol_order(letters, order);
    char *cell = calloc(cells + 1, 1);
    if (!cell) {
        fprintf(stderr, "vas: out of memory drawing physical memory\n");
        return;
    }

    /* One pass over the PFN database, in batches: the totals, and each cell's tally. */
    uint64_t totals[128] = {0}, tally[128] = {0};
    enum { BATCH = 1024 };
    vas_frame_info batch[BATCH];
    for (uint64_t first = 0; first < frames;) {
        size_t filled = vas_get_frame_info(machine, first, batch, BATCH);
        if (filled == 0)
            break;
        for (size_t i = 0; i < filled; i++) {
            uint64_t pfn = first + i;
            unsigned char s = (unsigned char)frame_symbol(&batch[i], pfn, process_ids, letters);
            totals[s]++;
            tally[s]++;
            if ((pfn + 1) % per_cell == 0 || pfn + 1 == frames) {
                cell[pfn / per_cell] = cell_symbol(tally, order, symbols);
                memset(tally, 0, sizeof tally);
            }
        }
        first += filled;
    }

    if (options->json)
        physical_json(&status, per_cell, cell, cells, totals, processes, letters, order, symbols);
    else
        physical_text(&status, per_cell, cell, cells, totals, processes, order, symbols, options->colour);
    free(cell);
}

/* ---- The figures ------------------------------------------------------------------------------
 * One list of (section, name, value) rows (views.h) serves every output: text shows each section
 * as a two-column table, JSON as an object of numbers, the HTML report as cards. */

static void figure_add(figures *f, const char *key, const char *name, figure_kind kind, uint64_t value)
{
    if (f->count < MAX_FIGURES)
        f->list[f->count++] = (figure){f->section, key, name, kind, value, NULL};
}

static void figure_text(figures *f, const char *key, const char *name, const char *text)
{
    if (f->count < MAX_FIGURES)
        f->list[f->count++] = (figure){f->section, key, name, FIGURE_TEXT, 0, text};
}

const char *figure_section_title(const char *section)
{
    static const struct { const char *section, *title; } titles[] = {
        {"machine", "Machine"},
        {"memory", "Memory (GlobalMemoryStatusEx)"},
        {"physical", "Physical memory (the PFN database's lists)"},
        {"paging", "Paging files"},
        {"pools", "Pools and the system working set"},
        {"process", "Process counters"},
    };
    for (size_t i = 0; i < sizeof titles / sizeof titles[0]; i++)
        if (strcmp(titles[i].section, section) == 0)
            return titles[i].title;
    return section;
}

void figures_collect(vas_machine *machine, vas_process *process, figures *f)
{
    vas_machine_info machine_info;
    vas_get_machine_info(machine, &machine_info);
    f->section = "machine";
    figure_text(f, "layout", "Layout", machine_info.layout);
    figure_text(f, "description", "Description", machine_info.description);
    figure_add(f, "page_size", "Page size", FIGURE_BYTES, machine_info.page_size);
    figure_add(f, "allocation_granularity", "Allocation granularity", FIGURE_BYTES,
               machine_info.allocation_granularity);
    figure_add(f, "system_range_start", "System range start", FIGURE_ADDRESS, machine_info.system_range_start);

    vas_memory_status memory;
    if (!vas_global_memory_status(machine, &memory))
        memset(&memory, 0, sizeof memory);
    f->section = "memory";
    figure_add(f, "total_phys", "Physical memory", FIGURE_BYTES, memory.total_phys);
    figure_add(f, "avail_phys", "Available", FIGURE_BYTES, memory.avail_phys);
    figure_add(f, "memory_load", "Memory load (%)", FIGURE_COUNT, memory.memory_load);
    figure_add(f, "commit_limit", "Commit limit", FIGURE_BYTES, memory.commit_limit);
    figure_add(f, "commit_total", "Commit charge", FIGURE_BYTES, memory.commit_total);
    figure_add(f, "commit_peak", "Commit peak", FIGURE_BYTES, memory.commit_peak);
    figure_add(f, "avail_commit", "Commit available", FIGURE_BYTES, memory.avail_commit);
    figure_add(f, "process_count", "Processes", FIGURE_COUNT, memory.process_count);

    vas_physical_status physical;
    vas_get_physical_status(machine, &physical);
    f->section = "physical";
    figure_add(f, "frame_count", "Frames", FIGURE_COUNT, physical.frame_count);
    figure_add(f, "zeroed", "Zeroed", FIGURE_COUNT, physical.zeroed);
    figure_add(f, "free", "Free", FIGURE_COUNT, physical.free);
    figure_add(f, "standby", "Standby", FIGURE_COUNT, physical.standby);
    figure_add(f, "modified", "Modified", FIGURE_COUNT, physical.modified);
    figure_add(f, "active", "Active", FIGURE_COUNT, physical.active);
    figure_add(f, "page_table_frames", "Active: page tables", FIGURE_COUNT, physical.page_table_frames);

    vas_paging_status paging;
    vas_get_paging_status(machine, &paging);
    f->section = "paging";
    figure_add(f, "paging_files", "Paging files", FIGURE_COUNT, paging.paging_files);
    figure_add(f, "pagefile_bytes", "Size", FIGURE_BYTES, paging.pagefile_bytes);
    figure_add(f, "pagefile_used", "In use", FIGURE_BYTES, paging.pagefile_used);
    figure_add(f, "reads", "Reads", FIGURE_COUNT, paging.reads);
    figure_add(f, "writes", "Writes", FIGURE_COUNT, paging.writes);
    figure_add(f, "pages_written", "Pages written", FIGURE_COUNT, paging.pages_written);
    figure_add(f, "read_errors", "Read errors", FIGURE_COUNT, paging.read_errors);
    figure_add(f, "write_errors", "Write errors", FIGURE_COUNT, paging.write_errors);
    figure_add(f, "repurposed", "Standby pages repurposed", FIGURE_COUNT, paging.repurposed);
    figure_add(f, "trims", "Working set trims", FIGURE_COUNT, paging.trims);
    figure_add(f, "trimmed_pages", "Pages trimmed", FIGURE_COUNT, paging.trimmed_pages);

    vas_pool_status pools;
    vas_get_pool_status(machine, &pools);
    f->section = "pools";
    figure_add(f, "nonpaged_base", "Nonpaged pool at", FIGURE_ADDRESS, pools.base[VAS_NONPAGED_POOL]);
    figure_add(f, "nonpaged_size", "Nonpaged pool range", FIGURE_BYTES, pools.size[VAS_NONPAGED_POOL]);
    figure_add(f, "nonpaged_committed", "Nonpaged pool committed", FIGURE_BYTES,
               pools.committed[VAS_NONPAGED_POOL]);
    figure_add(f, "nonpaged_blocks", "Nonpaged pool blocks", FIGURE_COUNT, pools.blocks[VAS_NONPAGED_POOL]);
    figure_add(f, "paged_base", "Paged pool at", FIGURE_ADDRESS, pools.base[VAS_PAGED_POOL]);
    figure_add(f, "paged_size", "Paged pool range", FIGURE_BYTES, pools.size[VAS_PAGED_POOL]);
    figure_add(f, "paged_committed", "Paged pool committed", FIGURE_BYTES, pools.committed[VAS_PAGED_POOL]);
    figure_add(f, "paged_blocks", "Paged pool blocks", FIGURE_COUNT, pools.blocks[VAS_PAGED_POOL]);
    figure_add(f, "resident", "System working set", FIGURE_BYTES, pools.resident);

    vas_process_counters c;
    if (!process || !vas_process_get_counters(process, &c))
        return;
    f->section = "process";
    figure_text(f, "name", "Name", vas_process_name(process));
    figure_add(f, "id", "Process id", FIGURE_COUNT, vas_process_id(process));
    figure_add(f, "bits", "Bits", FIGURE_COUNT, (uint64_t)vas_process_bits(process));
    figure_add(f, "virtual_size", "Virtual size", FIGURE_BYTES, c.virtual_size);
    figure_add(f, "peak_virtual_size", "Peak virtual size", FIGURE_BYTES, c.peak_virtual_size);
    figure_add(f, "commit_charge", "Commit charge (private bytes)", FIGURE_BYTES, c.commit_charge);
    figure_add(f, "peak_commit_charge", "Peak commit charge", FIGURE_BYTES, c.peak_commit_charge);
    figure_add(f, "allocation_count", "Allocations (VADs)", FIGURE_COUNT, c.allocation_count);
    figure_add(f, "working_set_size", "Working set", FIGURE_BYTES, c.working_set_size);
    figure_add(f, "peak_working_set_size", "Peak working set", FIGURE_BYTES, c.peak_working_set_size);
    figure_add(f, "page_fault_count", "Page faults", FIGURE_COUNT, c.page_fault_count);
    figure_add(f, "demand_zero_faults", "Demand-zero faults", FIGURE_COUNT, c.demand_zero_faults);
    figure_add(f, "guard_page_faults", "Guard-page faults", FIGURE_COUNT, c.guard_page_faults);
    figure_add(f, "access_violations", "Access violations", FIGURE_COUNT, c.access_violations);
    figure_add(f, "soft_faults", "Soft faults", FIGURE_COUNT, c.soft_faults);
    figure_add(f, "hard_faults", "Hard faults", FIGURE_COUNT, c.hard_faults);
    figure_add(f, "in_page_errors", "In-page errors", FIGURE_COUNT, c.in_page_errors);
    figure_add(f, "page_table_pages", "Page table pages", FIGURE_COUNT, c.page_table_pages);
    figure_add(f, "locked_pages", "Locked pages", FIGURE_COUNT, c.locked_pages);
}

void view_stats(vas_machine *machine, vas_process *process, const view_options *options)
{
    figures f = {.count = 0};
    figures_collect(machine, process, &f);
    if (options->json) {
        json_writer w;
        json_begin(&w, stdout);
        json_object_begin(&w, NULL);
        json_string(&w, "view", "stats");
        for (size_t i = 0; i < f.count; i++) {
            const figure *fig = &f.list[i];
            if (i == 0 || strcmp(fig->section, f.list[i - 1].section) != 0) {
                if (i)
                    json_object_end(&w);
                json_object_begin(&w, fig->section);
            }
            switch (fig->kind) {
            case FIGURE_ADDRESS: json_hex(&w, fig->key, fig->value); break;
            case FIGURE_TEXT: json_string(&w, fig->key, fig->text); break;
            default: json_u64(&w, fig->key, fig->value); break;
            }
        }
        if (f.count)
            json_object_end(&w);
        if (!process)
            json_string(&w, "process", NULL);
        json_object_end(&w);
        json_end(&w);
        return;
    }
    vas_machine_info machine_info;
    vas_get_machine_info(machine, &machine_info);
    int bits = machine_info.native_bits;
    for (size_t i = 0; i < f.count;) {
        const char *section = f.list[i].section;
        printf("%s\n\n", figure_section_title(section));
        grid g;
        grid_begin(&g, 0, "Name", "Value", NULL);
        for (; i < f.count && strcmp(f.list[i].section, section) == 0; i++) {
            const figure *fig = &f.list[i];
            switch (fig->kind) {
            case FIGURE_BYTES: grid_add(&g, NULL, fig->name, exact_size_label(fig->value).s); break;
            case FIGURE_ADDRESS: grid_add(&g, NULL, fig->name, address_label(fig->value, bits).s); break;
            case FIGURE_TEXT: grid_add(&g, NULL, fig->name, fig->text ? fig->text : ""); break;
            default: grid_add(&g, NULL, fig->name, count_label(fig->value).s); break;
            }
        }
        grid_print(&g, 0);
        grid_free(&g);
    }
}

/* ---- A region query -------------------------------------------------------------------------- */

/* VMMap's kind of a VirtualQuery region, and its details, for the byte at address. */
map_kind view_region_kind(vas_process *process, const vas_memory_basic_information *info, uint64_t address,
                            char *details, size_t details_size)
{
    details[0] = '\0';
    if (info->state == VAS_MEM_FREE) {
        /* VirtualQuery starts a free region at the page asked about, not where the free range
           begins; the address is Unusable (M3) when something is allocated between the start
           of its granule and it, that is when the free range holding it does not reach back
           to the granule's start. */
        vas_system_info system;
        vas_get_system_info(process, &system);
        uint64_t granule_start = address - address % system.allocation_granularity;
        vas_memory_basic_information start;
        bool free_from_start = vas_virtual_query(process, granule_start, &start, sizeof start) &&
                               start.state == VAS_MEM_FREE && start.base_address + start.region_size > address;
        return free_from_start ? KIND_FREE : KIND_UNUSABLE;
    }
    vas_memory_region_information allocation;
    uint64_t size = info->region_size;
    if (vas_nt_query_region_information(process, info->allocation_base, &allocation) == VAS_STATUS_SUCCESS)
        size = allocation.region_size;
    process_facts facts;
    if (!facts_load(process, &facts))
        memset(&facts, 0, sizeof facts); /* out of memory: the kind without the finer details */
    map_kind kind = classify(process, &facts, info->allocation_base, size, info->type, details, details_size);
    facts_free(&facts);
    return kind;
}

/* One field of MEMORY_BASIC_INFORMATION: its name, then the value's, then the value in hex. */
static void print_code(const char *field, const char *name, uint32_t value)
{
    if (value)
        printf("  %-17s  %s (0x%" PRIX32 ")\n", field, name, value);
    else
        printf("  %-17s  0\n", field);
}

void view_query(vas_process *process, uint64_t address, const view_options *options)
{
    vas_memory_basic_information info;
    int bits = vas_process_bits(process);
    bool ok = vas_virtual_query(process, address, &info, sizeof info) != 0;
    uint32_t error = ok ? 0 : vas_last_error();
    char details[128] = "";
    map_kind kind = ok ? view_region_kind(process, &info, address, details, sizeof details) : KIND_FREE;

    if (options->json) {
        json_writer w;
        json_begin(&w, stdout);
        json_object_begin(&w, NULL);
        json_string(&w, "view", "query");
        json_process(&w, process);
        json_hex(&w, "address", address);
        json_bool(&w, "ok", ok);
        if (ok) {
            bool is_free = info.state == VAS_MEM_FREE;
            json_object_begin(&w, "info");
            json_hex(&w, "base_address", info.base_address);
            json_hex(&w, "allocation_base", info.allocation_base);
            json_string(&w, "allocation_protect", is_free ? NULL : protect_label(info.allocation_protect).s);
            json_u64(&w, "region_size", info.region_size);
            json_string(&w, "state", vas_state_name(info.state));
            json_string(&w, "protect", protect_label(info.protect).s);
            json_string(&w, "type", is_free ? NULL : vas_type_name(info.type));
            json_object_end(&w);
            json_string(&w, "kind", kinds[kind].json);
            json_string(&w, "details", details);
        } else {
            json_u64(&w, "error", error);
            json_string(&w, "error_name", vas_error_name(error));
        }
        json_object_end(&w);
        json_end(&w);
        return;
    }
    if (!ok) {
        printf("VirtualQuery(%s) fails: %" PRIu32 " %s\n", address_label(address, bits).s, error,
               vas_error_name(error));
        return;
    }
    printf("VirtualQuery(%s) in %s (pid %" PRIu32 "):\n", address_label(address, bits).s,
           vas_process_name(process), vas_process_id(process));
    const char *ansi = options->colour ? kinds[kind].ansi : "";
    printf("  BaseAddress        %s\n", address_label(info.base_address, bits).s);
    printf("  AllocationBase     %s\n", address_label(info.allocation_base, bits).s);
    print_code("AllocationProtect", protect_label(info.allocation_protect).s, info.allocation_protect);
    printf("  RegionSize         %s (0x%" PRIX64 ")\n", size_label(info.region_size).s, info.region_size);
    print_code("State", vas_state_name(info.state), info.state);
    print_code("Protect", protect_label(info.protect).s, info.protect);
    print_code("Type", vas_type_name(info.type), info.type);
    printf("  VMMap type         %s%s%s%s%s\n", ansi, kinds[kind].name, options->colour ? ANSI_RESET : "",
           details[0] ? ": " : "", details);
}

/* ---- Changes between two snapshots ----------------------------------------------------------
 * Both maps list their blocks in address order, so one merge walk pairs allocations by base:
 * a base only in `before` was released, only in `after` is new, in both may have changed. Free
 * and Unusable blocks are not listed: they are what allocations leave. */

static const map_block *next_allocation(const process_map *m, size_t *i)
{
    while (*i < m->block_count && !is_allocation(m->blocks[*i].kind))
        (*i)++;
    return *i < m->block_count ? &m->blocks[*i] : NULL;
}

/* Whether two allocations at one base differ in anything the map shows. */
static bool block_changed(const process_map *ma, const map_block *a, const process_map *mb, const map_block *b)
{
    if (a->size != b->size || a->committed != b->committed || a->working_set != b->working_set ||
        a->kind != b->kind || a->region_count != b->region_count)
        return true;
    for (size_t r = 0; r < a->region_count; r++) {
        const vas_memory_basic_information *x = &ma->regions[a->first_region + r].info,
                                           *y = &mb->regions[b->first_region + r].info;
        if (x->base_address != y->base_address || x->region_size != y->region_size || x->state != y->state ||
            x->protect != y->protect)
            return true;
    }
    return false;
}

/* "+64 KB", "-4 KB" or "0". */
static label delta_label(uint64_t before, uint64_t after)
{
    label l;
    if (before == after)
        snprintf(l.s, sizeof l.s, "0");
    else
        snprintf(l.s, sizeof l.s, "%c%.46s", after > before ? '+' : '-',
                 size_label(after > before ? after - before : before - after).s);
    return l;
}

static void json_block_figures(json_writer *w, const char *key, const map_block *b)
{
    json_object_begin(w, key);
    json_u64(w, "size", b->size);
    json_u64(w, "committed", b->committed);
    json_u64(w, "working_set", b->working_set);
    json_u64(w, "regions", b->region_count);
    json_object_end(w);
}

static void json_delta(json_writer *w, const char *key, uint64_t before, uint64_t after)
{
    if (after >= before)
        json_u64(w, key, after - before); /* a delta past 2^63 cannot happen: sizes fit user space */
    else
        json_i64(w, key, -(int64_t)(before - after));
}

void view_diff(const process_map *before, const process_map *after, const view_options *options)
{
    json_writer w;
    grid g;
    if (options->json) {
        json_begin(&w, stdout);
        json_object_begin(&w, NULL);
        json_string(&w, "view", "diff");
        json_object_begin(&w, "process");
        json_string(&w, "name", after->name);
        json_u64(&w, "id", after->process_id);
        json_u64(&w, "bits", (uint64_t)after->bits);
        json_object_end(&w);
        json_array_begin(&w, "changes");
    } else {
        printf("Changes in %s (pid %" PRIu32 "):\n\n", after->name, after->process_id);
        grid_begin(&g, 2, "", "Address", "Type", ">Size", ">Committed", ">WS", "Change", NULL);
    }
    size_t i = 0, j = 0, changes = 0;
    for (;;) {
        const map_block *a = next_allocation(before, &i), *b = next_allocation(after, &j);
        if (!a && !b)
            break;
        const char *what;
        const map_block *shown;
        if (a && (!b || a->base < b->base)) {
            what = "released";
            shown = a;
            i++;
        } else if (b && (!a || b->base < a->base)) {
            what = "new";
            shown = b;
            j++;
        } else {
            i++, j++;
            if (!block_changed(before, a, after, b))
                continue;
            what = "changed";
            shown = b;
        }
        changes++;
        bool changed = what[0] == 'c';
        if (options->json) {
            json_object_begin(&w, NULL);
            json_string(&w, "change", what);
            json_hex(&w, "base", shown->base);
            json_string(&w, "kind", kind_json_name(shown->kind));
            json_string(&w, "details", shown->details);
            if (what[0] != 'n')
                json_block_figures(&w, "before", a);
            if (what[0] != 'r')
                json_block_figures(&w, "after", b);
            json_object_end(&w);
            continue;
        }
        char change[GRID_CELL];
        if (changed)
            snprintf(change, sizeof change, "changed: %zu -> %zu sub-block%s", a->region_count, b->region_count,
                     b->region_count == 1 ? "" : "s");
        else
            snprintf(change, sizeof change, "%s%s%s", what, shown->details[0] ? ": " : "", shown->details);
        grid_add(&g, kinds[shown->kind].ansi, what[0] == 'n' ? "+" : what[0] == 'r' ? "-" : "~",
                 address_label(shown->base, after->bits).s, kinds[shown->kind].name,
                 changed ? delta_label(a->size, b->size).s : size_label(shown->size).s,
                 changed ? delta_label(a->committed, b->committed).s : size_cell(shown->committed).s,
                 changed ? delta_label(a->working_set, b->working_set).s : size_cell(shown->working_set).s, change);
    }
    const map_summary *t0 = &before->total, *t1 = &after->total;
    if (options->json) {
        json_array_end(&w);
        json_object_begin(&w, "totals");
        json_delta(&w, "size", t0->size, t1->size);
        json_delta(&w, "committed", t0->committed, t1->committed);
        json_delta(&w, "working_set", t0->working_set, t1->working_set);
        json_delta(&w, "blocks", t0->blocks, t1->blocks);
        json_object_end(&w);
        json_object_end(&w);
        json_end(&w);
        return;
    }
    if (changes)
        grid_print(&g, options->colour);
    else
        printf("  no allocation changed\n\n");
    grid_free(&g);
    printf("Totals: size %s, committed %s, working set %s (page tables included), allocations %s%" PRIu64 "\n",
           delta_label(t0->size, t1->size).s, delta_label(t0->committed, t1->committed).s,
           delta_label(t0->working_set, t1->working_set).s, t1->blocks >= t0->blocks ? "+" : "-",
           t1->blocks >= t0->blocks ? t1->blocks - t0->blocks : t0->blocks - t1->blocks);
}
