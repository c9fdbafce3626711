/*
 * views.h - what the vas tool shows of a machine, as text or JSON: VMMap's map of a process (a
 * summary by kind, then the details list of allocations and their sub-blocks), the fragmentation
 * view, the physical view (who owns each frame), counters and a region query. The HTML report
 * (report.c) draws from the same process_map.
 *
 * A process_map is a snapshot: built once by walking VirtualQuery over user space, it holds no
 * pointer into the library and stays valid after the process changes or goes.
 */
#ifndef VAS_CLI_VIEWS_H
#define VAS_CLI_VIEWS_H

#include "vas.h"

/* VMMap's memory types, in its summary order. */
typedef enum map_kind {
    KIND_IMAGE, KIND_MAPPED_FILE, KIND_SHAREABLE, KIND_HEAP, KIND_STACK, KIND_PRIVATE_DATA,
    KIND_PAGE_TABLE, KIND_UNUSABLE, KIND_FREE, KIND_COUNT
} map_kind;

const char *kind_name(map_kind kind);       /* "Image", "Mapped File", ... "Free" */
const char *kind_json_name(map_kind kind);  /* "image", "mapped_file", ... "free" */
const char *kind_rgb(map_kind kind);        /* "#rrggbb": one fixed palette for text and HTML */
const char *kind_ansi(map_kind kind);       /* the escape sequence that starts its colour */

typedef struct map_region {       /* one VirtualQuery region: a sub-block in VMMap's details */
    vas_memory_basic_information info;
    uint64_t working_set;         /* bytes of it resident */
} map_region;

typedef struct map_block {        /* an allocation, or a free or unusable range */
    map_kind kind;
    uint64_t base, size, committed, working_set;
    uint32_t allocation_protect;  /* 0 for free and unusable blocks */
    uint32_t type;                /* VAS_MEM_PRIVATE, _MAPPED, _IMAGE; 0 when free */
    char details[128];            /* the file mapped, "Thread 8", "PEB", "TEB of thread 8", "Heap" */
    size_t first_region, region_count; /* its sub-blocks in process_map.regions */
} map_block;

typedef struct map_summary {
    uint64_t size, committed, working_set, blocks, largest;
} map_summary;

typedef struct process_map {
    const char *name;             /* the process's name, as given */
    uint32_t process_id;
    int bits;
    uint32_t page_size, granularity;
    uint64_t user_first, user_last;   /* lowest and highest user address */
    map_block *blocks;            /* in address order, covering user space without gaps */
    size_t block_count;
    map_region *regions;
    size_t region_count;
    map_summary summary[KIND_COUNT];  /* KIND_PAGE_TABLE: the process's table pages */
    map_summary total;            /* every kind but Free and Unusable */
} process_map;

/* 0 when the host is out of memory. */
int  process_map_build(vas_process *process, process_map *map);
void process_map_free(process_map *map);

typedef struct view_options {
    int json;                     /* one JSON document instead of text */
    int colour;                   /* ANSI colours and a legend in text */
    int per_page;                 /* fragmentation view: one cell per page, not per 64 KB granule */
} view_options;

/* Every view prints to stdout (print.h's tables do). */

/* A process of a machine as the views name it. */
typedef struct view_process {
    vas_process *process;
    const char *label;            /* the script's name for it, e.g. "p1" */
} view_process;

void view_map(vas_process *process, const view_options *options);
void view_frag(vas_process *process, const view_options *options);
void view_physical(vas_machine *machine, const view_process *processes, size_t count,
                   const view_options *options);
/* The machine's figures (memory status, physical lists, paging, pools) and, if process is not
   NULL, its counters. */
void view_stats(vas_machine *machine, vas_process *process, const view_options *options);
/* ---- Figures: one list of named numbers behind `stats`, its JSON and the HTML report --------
 * Sections in order: "machine", "memory" (GlobalMemoryStatusEx), "physical" (the PFN lists),
 * "paging", "pools", and "process" (its counters) when a process is given. */
typedef enum figure_kind { FIGURE_COUNT, FIGURE_BYTES, FIGURE_ADDRESS, FIGURE_TEXT } figure_kind;

typedef struct figure {
    const char *section;          /* the JSON object it belongs to; a new one starts a table */
    const char *key, *name;       /* JSON key, text name */
    figure_kind kind;
    uint64_t value;
    const char *text;             /* FIGURE_TEXT */
} figure;

#define MAX_FIGURES 96 /* room to spare: figures_collect adds about 60 */

typedef struct figures {
    figure list[MAX_FIGURES];
    size_t count;
    const char *section;          /* the section figures are being added to */
} figures;

void figures_collect(vas_machine *machine, vas_process *process, figures *f);
const char *figure_section_title(const char *section); /* "Memory (GlobalMemoryStatusEx)" ... */

/* VMMap's kind of the VirtualQuery region info that holds address, with its details (the file,
   "Thread 8", "TEB of thread 8" ...). */
map_kind view_region_kind(vas_process *process, const vas_memory_basic_information *info, uint64_t address,
                          char *details, size_t details_size);

/* VirtualQuery at address: MEMORY_BASIC_INFORMATION with names and VMMap's kind, or the error. */
void view_query(vas_process *process, uint64_t address, const view_options *options);
/* VMMap's "Show Changes": what differs between two snapshots of one process: allocations added,
   removed, and changed (size, committed bytes, working set, sub-blocks), and the totals' deltas.
   Allocations are matched by base address. */
void view_diff(const process_map *before, const process_map *after, const view_options *options);

#endif
