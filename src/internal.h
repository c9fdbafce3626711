/*
 * internal.h - the structures shared by libvas's files, and their cross-file functions, grouped
 * by the file that defines them. Nothing here is visible to users of vas.h.
 *
 * Conventions used throughout:
 *   - ranges are half-open, [start, end), in bytes; starts and ends of allocations are page
 *     aligned; a page count is a uint64_t;
 *   - internal calls return an NTSTATUS (VAS_STATUS_*); the Win32 layer maps it to ERROR_*;
 *   - a call that fails leaves no trace: every check happens before the first change.
 */
#ifndef VAS_INTERNAL_H
#define VAS_INTERNAL_H

#include "vas.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#define VAS_INTERNAL __attribute__((visibility("hidden")))

#define GRANULARITY 0x10000u          /* allocation granularity on every layout: 64 KB */
#define KUSER_SHARED_DATA 0x7FFE0000u /* the shared user page, read-only in every NT process */

static inline uint64_t align_down(uint64_t x, uint64_t a) { return x & ~(a - 1); }
/* Saturates at the top of the address space instead of wrapping to 0. */
static inline uint64_t align_up(uint64_t x, uint64_t a)
{
    uint64_t r = (x + (a - 1)) & ~(a - 1);
    return r < x ? align_down(UINT64_MAX, a) : r;
}

/* ---- vad.c: the allocation tree -------------------------------------------------------- */

/* A run of pages inside an allocation with one state: protect 0 means reserved, anything else
   means committed with that PAGE_* value (modifiers included). A run ends where the next
   begins; the last ends at the allocation's end. */
typedef struct page_run {
    uint64_t first_page;              /* page index from the allocation's start */
    uint32_t protect;
} page_run;

enum vad_flags {
    VAD_NO_CHANGE = 1u << 0,          /* secured: no protect, no free (KUSER_SHARED_DATA) */
    VAD_WRITE_WATCH = 1u << 1,        /* reserved with MEM_WRITE_WATCH */
};

typedef struct vad {
    struct vad *left, *right;
    uint64_t start, end;              /* page aligned, start < end */
    /* Subtree summaries, a pure function of the node and its children: */
    uint64_t subtree_start;           /* the lowest start in the subtree */
    uint64_t subtree_end;             /* the highest end in the subtree */
    uint64_t subtree_gap;             /* the largest 64 KB-aligned free gap between two
                                         neighbours that are both in the subtree */
    int height;
    uint32_t allocation_protect;      /* fixed at reservation */
    uint32_t type;                    /* VAS_MEM_PRIVATE for now */
    uint32_t flags;                   /* enum vad_flags */
    uint64_t committed_pages;         /* = pages of runs with protect != 0 */
    uint32_t run_count, run_capacity;
    page_run *runs;                   /* sorted, first_page of runs[0] is 0, neighbours differ */
    page_run inline_run;              /* storage for the common case of one run */
} vad;

/* Whether an allocation's committed pages are charged to its process (the shared user page is
   the system's). */
static inline bool vad_is_charged(const vad *v) { return !(v->flags & VAD_NO_CHANGE); }

typedef struct vad_tree {
    vad *root;
    uint64_t count;
} vad_tree;

VAS_INTERNAL vad *vad_new(uint64_t start, uint64_t end, uint32_t allocation_protect, uint32_t type);
VAS_INTERNAL void vad_free(vad *v);
VAS_INTERNAL void vad_insert(vad_tree *t, vad *v);       /* v must overlap nothing */
VAS_INTERNAL void vad_remove(vad_tree *t, vad *v);       /* unlinks; does not free */
VAS_INTERNAL vad *vad_find(const vad_tree *t, uint64_t address);              /* containing */
VAS_INTERNAL vad *vad_first_ending_after(const vad_tree *t, uint64_t address); /* end > address */
VAS_INTERNAL vad *vad_last_starting_before(const vad_tree *t, uint64_t address); /* start < address */
VAS_INTERNAL bool vad_overlaps(const vad_tree *t, uint64_t start, uint64_t end);
/* The lowest (or, top_down, the highest) base in [low, high) aligned to `alignment` where
   `size` bytes fit between allocations; false when there is none. */
VAS_INTERNAL bool vad_find_free(const vad_tree *t, uint64_t size, uint64_t alignment, uint64_t low,
                                uint64_t high, bool top_down, uint64_t *base);
VAS_INTERNAL void vad_destroy_all(vad_tree *t);
typedef void (*vad_visit_fn)(vad *v, void *context);
VAS_INTERNAL void vad_for_each(const vad_tree *t, vad_visit_fn visit, void *context);

/* Page runs of one allocation. Pages are counted in the process's page size. */
VAS_INTERNAL uint32_t vad_run_index(const vad *v, uint64_t page);   /* the run holding page */
VAS_INTERNAL uint64_t vad_run_end(const vad *v, uint64_t page_shift, uint32_t index); /* in pages */
/* Sets pages [first, first+count) to protect (0 = reserved). Returns false only when the host
   is out of memory, in which case nothing changed. */
VAS_INTERNAL bool vad_set_pages(vad *v, uint64_t page_shift, uint64_t first, uint64_t count,
                                uint32_t protect);
/* Pages in [first, first+count) that are committed. */
VAS_INTERNAL uint64_t vad_count_committed(const vad *v, uint64_t page_shift, uint64_t first,
                                          uint64_t count);
/* Makes sure the allocation can hold `runs` runs; false (nothing changed) when the host is out
   of memory. */
VAS_INTERNAL bool vad_reserve_runs(vad *v, uint32_t runs);
/* A blank allocation able to take the tail of v in vad_split (NULL when out of memory). */
VAS_INTERNAL vad *vad_new_tail(const vad *v);
/* Splits v, which is not in a tree, at page `at` (0 < at < pages): v keeps the head and `tail`
   (from vad_new_tail) receives the rest as an allocation of its own. Cannot fail. */
VAS_INTERNAL void vad_split(vad *v, uint64_t page_shift, uint64_t at, vad *tail);
/* 0 when the tree and every allocation's runs hold their invariants; prints what failed. */
VAS_INTERNAL int vad_check_tree(const vad_tree *t, uint64_t page_shift, uint64_t low, uint64_t high);

/* ---- layout.c: address-space layouts and partitions ------------------------------------ */

typedef struct layout {
    const char *name;                 /* "x64", "x64-win7", "x86", "ia64", "win9x" */
    const char *description;
    uint32_t page_size;
    int native_bits;
    bool win9x;                       /* Windows 95/98 semantics where they differ from NT */
    uint64_t user_last;               /* highest user address of a native large-address-aware process */
    uint64_t system_range_start;      /* first kernel address */
} layout;

#define MAX_PARTITIONS 8

/* What one process sees: its bounds and its partitions. */
typedef struct address_space_shape {
    uint64_t lowest;                  /* lowest user address (0x10000, or 0x400000 on Win9x) */
    uint64_t highest;                 /* highest user address, inclusive */
    uint64_t vad_limit;               /* allocations end at or below this (exclusive) */
    size_t partition_count;
    vas_partition partitions[MAX_PARTITIONS];
} address_space_shape;

VAS_INTERNAL const layout *layout_find(const char *name);
/* 0 on success, else an NTSTATUS: bits not supported by the layout. */
VAS_INTERNAL uint32_t layout_shape(const layout *l, uint32_t increase_user_va_mb, int bits,
                                   bool large_address_aware, address_space_shape *shape);

/* ---- machine.c: machines, processes, the lock, commit charge, the checker -------------- */

#define MACHINE_MAGIC 0x4D414348u /* "MACH" */
#define PROCESS_MAGIC 0x50524F43u /* "PROC" */
#define PROCESS_DEAD  0x44454144u /* "DEAD": destroyed, kept until its machine goes */

struct vas_machine {
    uint32_t magic;
    pthread_mutex_t lock;
    const layout *layout;
    uint32_t increase_user_va_mb;
    uint64_t ram_bytes;
    uint64_t pagefile_bytes;
    uint64_t commit_limit;            /* bytes */
    uint64_t commit_total;            /* bytes charged now */
    uint64_t commit_peak;
    uint32_t next_process_id;
    uint32_t process_count;
    struct vas_process *processes;    /* live, newest first */
    struct vas_process *dead;         /* destroyed handles, so misuse is detected, not UB */
};

struct vas_process {
    uint32_t magic;
    uint32_t id;
    vas_machine *machine;
    struct vas_process *next;
    char name[64];
    int bits;
    bool large_address_aware;
    uint32_t page_size;
    uint32_t page_shift;
    address_space_shape shape;
    vad_tree vads;
    uint64_t virtual_size, peak_virtual_size;   /* bytes */
    uint64_t commit_charge, peak_commit_charge; /* bytes */
};

/* Takes the machine lock after checking the handle; returns STATUS_INVALID_HANDLE on a bad or
   destroyed one. Every public call that touches state goes through enter/leave. */
VAS_INTERNAL uint32_t process_enter(vas_process *p);
VAS_INTERNAL void process_leave(vas_process *p, bool changed);
/* Commit charge, in bytes: charge fails with STATUS_COMMITMENT_LIMIT and charges nothing. */
VAS_INTERNAL uint32_t commit_charge(vas_process *p, uint64_t bytes);
VAS_INTERNAL void commit_release(vas_process *p, uint64_t bytes);
VAS_INTERNAL int machine_check_locked(vas_machine *m);

/* ---- region.c: reserve, commit, decommit, release, protect, query ---------------------- */

VAS_INTERNAL uint32_t region_allocate(vas_process *p, uint64_t *base, uint64_t zero_bits, uint64_t *size,
                                      uint32_t type, uint32_t protect,
                                      const vas_address_requirements *req);
VAS_INTERNAL uint32_t region_free(vas_process *p, uint64_t *base, uint64_t *size, uint32_t free_type);
VAS_INTERNAL uint32_t region_protect(vas_process *p, uint64_t *base, uint64_t *size, uint32_t new_protect,
                                     uint32_t *old_protect);
VAS_INTERNAL uint32_t region_query(vas_process *p, uint64_t address, vas_memory_basic_information *info);
VAS_INTERNAL uint32_t region_query_allocation(vas_process *p, uint64_t address,
                                              vas_memory_region_information *info);
/* Releases every allocation of a dying process and its commit charge. */
VAS_INTERNAL void region_release_all(vas_process *p);
/* Adds the allocations every new process starts with (the shared user page). */
VAS_INTERNAL uint32_t region_create_initial(vas_process *p);

/* ---- region.c: protection values ------------------------------------------------------- */

/* The base protection (one of the eight access values) without modifiers. */
static inline uint32_t protect_base(uint32_t protect) { return protect & 0xFFu; }
#define PROTECT_CACHE_MODIFIERS (VAS_PAGE_NOCACHE | VAS_PAGE_WRITECOMBINE)
/* STATUS_SUCCESS when protect is valid for pages of private memory, else
   STATUS_INVALID_PAGE_PROTECTION. */
VAS_INTERNAL uint32_t protect_check_private(uint32_t protect);

#endif /* VAS_INTERNAL_H */
