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

/* Makes room for one more item in a growing array (*items holds count of *capacity), doubling
   it (or starting at `first`); false, with nothing changed, when the host is out of memory. */
static inline bool grow_array(void **items, uint32_t *capacity, uint32_t count, size_t item_size, uint32_t first)
{
    if (count < *capacity)
        return true;
    uint32_t wanted = *capacity ? 2 * *capacity : first;
    void *grown = realloc(*items, (size_t)wanted * item_size);
    if (!grown)
        return false;
    *items = grown;
    *capacity = wanted;
    return true;
}
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
    VAD_NO_CHANGE = 1u << 0,          /* secured: no protect, no free (KUSER_SHARED_DATA, PEB, TEB) */
    VAD_WRITE_WATCH = 1u << 1,        /* reserved with MEM_WRITE_WATCH */
    VAD_SYSTEM = 1u << 2,             /* the system's page, not charged to the process (KUSER_SHARED_DATA) */
    VAD_STACK = 1u << 3,              /* a thread's stack: its guard page grows it (loader.c) */
};

typedef struct vad {
    /* The tree's fields first: a descent reads the first 32 bytes, the walk back up after an
       insert or a remove the first 64 and the heights (see vad.c). */
    struct vad *left, *right;
    uint64_t start, end;              /* page aligned, start < end */
    struct vad *parent;               /* NULL for the root */
    uint64_t gap_start;               /* where the free gap below this allocation begins: the
                                         64 KB boundary at or above the previous allocation's
                                         end; start itself for the lowest allocation */
    uint64_t gap_left, gap_right;     /* the largest such gap (gap_start to start) of any
                                         allocation in the left / right subtree; 0 for none */
    uint8_t height_left, height_right; /* the children's AVL heights, 0 for none */
    /* Rarely read by the tree: */
    uint32_t allocation_protect;      /* fixed at reservation */
    uint32_t type;                    /* VAS_MEM_PRIVATE, or VAS_MEM_MAPPED for a view */
    uint32_t flags;                   /* enum vad_flags */
    uint64_t committed_pages;         /* = pages of runs with protect != 0 */
    uint32_t run_count, run_capacity;
    page_run *runs;                   /* sorted, first_page of runs[0] is 0, neighbours differ */
    page_run inline_run;              /* storage for the common case of one run */
    struct section_view *view;        /* a view of a section, or NULL for private memory */
} vad;

/* The pages of an allocation charged to its process's commit: a private allocation's committed
   pages (the shared user page is the system's), a view's potential copy-on-write copies. */
VAS_INTERNAL uint64_t vad_charged_pages(const vad *v);

typedef struct vad_tree {
    vad *root;
    uint64_t count;
    vad *lowest, *highest;            /* the first and the last allocation, NULL when empty */
    vad *hint;                        /* the allocation inserted last, or NULL: vad_find looks
                                         there first (NT's VadHint), so the commit and free that
                                         follow a reservation skip the descent */
} vad_tree;

VAS_INTERNAL vad *vad_new(uint64_t start, uint64_t end, uint32_t allocation_protect, uint32_t type);
VAS_INTERNAL void vad_free(vad *v);
VAS_INTERNAL void vad_insert(vad_tree *t, vad *v);       /* v must overlap nothing */
VAS_INTERNAL void vad_remove(vad_tree *t, vad *v);       /* unlinks; does not free */
VAS_INTERNAL vad *vad_find(const vad_tree *t, uint64_t address);              /* containing */
VAS_INTERNAL vad *vad_first_ending_after(const vad_tree *t, uint64_t address); /* end > address */
/* The allocation holding address, or else the first one above it (NULL when there is none). */
VAS_INTERNAL vad *vad_find_or_next(const vad_tree *t, uint64_t address);
VAS_INTERNAL vad *vad_last_starting_before(const vad_tree *t, uint64_t address); /* start < address */
VAS_INTERNAL vad *vad_next(const vad *v);               /* the allocation above v, or NULL */
VAS_INTERNAL bool vad_overlaps(const vad_tree *t, uint64_t start, uint64_t end);
/* The lowest (or, top_down, the highest) base in [low, high) aligned to `alignment` (a multiple
   of 64 KB) where `size` bytes fit between allocations; false when there is none. */
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

/* ---- physical.c: frames and the PFN database -------------------------------------------- */

typedef enum frame_list {
    FRAME_ZEROED, FRAME_FREE, FRAME_STANDBY, FRAME_MODIFIED, FRAME_ACTIVE, FRAME_LIST_COUNT
} frame_list;

typedef struct pfn_entry {
    uint64_t next, prev;              /* neighbours on the same list, 0 at either end */
    uint64_t pte_address;             /* physical address of the PTE mapping the frame, 0 if none;
                                         for a section page, the index of its prototype PTE */
    uint64_t original_pte;            /* what that PTE becomes when the frame is reused: a
                                         demand-zero PTE, a paging-file PTE naming the slot that
                                         holds a clean copy, or (file sections) "in the file" */
    union {
        struct vas_process *owner;    /* whose PTE that is (private data pages) */
        struct control_area *control; /* whose prototype PTE that is (is_prototype) */
    };
    uint32_t share_count;             /* valid PTEs mapping it; for a table page, entries in use */
    uint32_t ws_index;                /* the owner's working-set entry (active private pages) */
    uint8_t list;                     /* frame_list */
    uint8_t is_page_table;
    uint8_t modified;                 /* differs from its backing copy, or has none */
    uint8_t is_prototype;             /* a section page, mapped through a prototype PTE */
    uint16_t lock_count;              /* MDLs holding it (MmProbeAndLockPages): never reused */
} pfn_entry;

typedef struct physical_memory {
    uint8_t *frames;                  /* frame_count pages of host memory */
    pfn_entry *pfn;
    uint64_t frame_count;
    uint32_t page_size, page_shift;
    uint32_t pte_size;                /* bytes per PTE on this machine: 4 or 8 */
    uint64_t list_head[FRAME_LIST_COUNT], list_tail[FRAME_LIST_COUNT];
    uint64_t list_count[FRAME_LIST_COUNT];
    uint64_t repurposed;              /* standby frames given to a new owner */
} physical_memory;

/* Why a frame is wanted, which decides the order of the lists it is taken from. */
typedef enum frame_use {
    FRAME_FOR_ZERO,                   /* demand zero: zeroed, free, standby (zeroed on the spot) */
    FRAME_FOR_OVERWRITE               /* about to be overwritten: free, zeroed, standby */
} frame_use;

VAS_INTERNAL uint32_t physical_init(physical_memory *pm, uint64_t ram_bytes, uint32_t page_size,
                                    uint32_t page_shift, uint32_t pte_size);
VAS_INTERNAL void physical_destroy(physical_memory *pm);
/* An active frame, or 0 when the zeroed, free and standby lists are all empty (the modified
   list is never taken from: its pages must be written first). Reusing a standby frame writes
   its original PTE back into the old owner's page table. */
VAS_INTERNAL uint64_t physical_take(physical_memory *pm, frame_use use);
/* An active frame back to the free list. */
VAS_INTERNAL void physical_release(physical_memory *pm, uint64_t pfn);
/* An active frame onto the tail of standby (clean) or modified (dirty). */
VAS_INTERNAL void physical_park(physical_memory *pm, uint64_t pfn);
/* A standby or modified frame back to active (a soft fault). */
VAS_INTERNAL void physical_unpark(physical_memory *pm, uint64_t pfn);
/* Moves a frame between the standby, modified and free lists (the modified page writer, and
   releases of trimmed pages). */
VAS_INTERNAL void physical_move(physical_memory *pm, uint64_t pfn, frame_list to);
VAS_INTERNAL uint64_t physical_available(const physical_memory *pm);
VAS_INTERNAL int physical_check(const physical_memory *pm, bool full);
static inline uint8_t *physical_bytes(const physical_memory *pm, uint64_t pfn)
{
    return pm->frames + (pfn << pm->page_shift);
}
/* Reads and writes a PTE by its physical address (page tables live in frames). */
VAS_INTERNAL uint64_t physical_read_pte(const physical_memory *pm, uint64_t pte_address);
VAS_INTERNAL void physical_write_pte(physical_memory *pm, uint64_t pte_address, uint64_t pte);

/* ---- pagetable.c: page tables in the hardware format ------------------------------------ */

typedef enum pagetable_kind { PT_X64, PT_X86, PT_IA64 } pagetable_kind;

typedef struct pagetable_format {
    int levels;
    int bits_per_level;
    uint32_t entry_size;              /* bytes: 8, or 4 for x86 */
    int nx_bit;                       /* 63, or software bit 9 in x86's 32-bit entries */
    const char *level_names[4];       /* top level first */
} pagetable_format;

#define PTE_VALID         (1ull << 0)
#define PTE_WRITE         (1ull << 1)
#define PTE_OWNER         (1ull << 2)
#define PTE_CACHE_DISABLE (1ull << 4)
#define PTE_ACCESSED      (1ull << 5)
#define PTE_DIRTY         (1ull << 6)
#define PTE_PROTOTYPE     (1ull << 10) /* invalid PTEs only */
/* A process PTE of a view page whose frame left this process's working set: "the section's
   prototype PTE says", as NT's prototype PTE pointers do (a zero PTE means the same for a page
   never touched; this one keeps its page table in use, as NT's does). */
#define PTE_PROTO_LOOKUP  PTE_PROTOTYPE
#define PTE_TRANSITION    (1ull << 11) /* invalid PTEs only */

VAS_INTERNAL const pagetable_format *pagetable_format_of(pagetable_kind kind);
VAS_INTERNAL uint32_t pagetable_create(vas_process *p);   /* the root table */
VAS_INTERNAL void pagetable_destroy(vas_process *p);      /* every frame and table */
/* The leaf table covering va (building missing levels when create); 0 when absent or when no
   frame is left for a table. */
VAS_INTERNAL uint64_t pagetable_leaf(vas_process *p, uint64_t va, bool create);
VAS_INTERNAL uint32_t pagetable_index(const vas_process *p, uint64_t va, int level);
VAS_INTERNAL uint64_t pagetable_read(const vas_process *p, uint64_t table, uint32_t index);
VAS_INTERNAL void pagetable_set(vas_process *p, uint64_t leaf, uint64_t va, uint64_t pte);
VAS_INTERNAL uint64_t pte_frame(const vas_process *p, uint64_t pte);
/* A demand-zero PTE: committed, no frame yet, with the protection mask. */
VAS_INTERNAL uint64_t pte_make_demand_zero(uint32_t protect);
/* The PTE that maps frame with protect: valid, or transition for no-access and guard pages. */
VAS_INTERNAL uint64_t pte_make(const vas_process *p, uint64_t frame, uint32_t protect, bool dirty);
/* Frees the leaf table of va, and the tables above it, when they hold no entry (after a fault
   built them and then failed). */
VAS_INTERNAL void pagetable_prune(vas_process *p, uint64_t va);
/* Frees every frame mapped in [start, end), and the tables left empty. */
VAS_INTERNAL void pagetable_unmap(vas_process *p, uint64_t start, uint64_t end);
/* Rewrites the PTEs of the frames mapped in [start, end) for a new protection. */
VAS_INTERNAL void pagetable_protect(vas_process *p, uint64_t start, uint64_t end, uint32_t protect);
/* MEM_RESET: the pages in [start, end) become clean and lose their paging-file copies. */
VAS_INTERNAL void pagetable_reset(vas_process *p, uint64_t start, uint64_t end);
VAS_INTERNAL int pagetable_check(const vas_process *p);

/* ---- access.c: faults, reads, writes, execution, the TLB -------------------------------- */

/* An empty slot: 0, allowing nothing, so a TLB fresh from calloc is empty and the host only
   commits the slots a process uses. */
#define TLB_EMPTY 0

/* One page's translation, 16 bytes so that a 16K-entry TLB stays small in the host's caches:
   tag = the virtual page number << 3 | the accesses that may go straight to the bytes. */
typedef struct tlb_entry {
    uint64_t tag;                     /* TLB_EMPTY, or page << 3 | TLB_READ | TLB_WRITE | TLB_EXECUTE */
    uint8_t *host;                    /* the page's bytes */
} tlb_entry;

enum { TLB_READ = 1, TLB_WRITE = 2, TLB_EXECUTE = 4 };

VAS_INTERNAL uint32_t tlb_create(vas_process *p, uint32_t entries);
VAS_INTERNAL void tlb_destroy(vas_process *p);
/* Forgets every translation of [start, end) and moves the mapping generation on. */
VAS_INTERNAL void tlb_invalidate(vas_process *p, uint64_t start, uint64_t end);
/* Brings a page in as a read would (VirtualLock); false with the exception filled in. */
VAS_INTERNAL bool fault_in_page(vas_process *p, uint64_t page, vas_exception *exception);
/* A write into the process as the system makes it (the PEB, a TEB): user page protections
   apply; returns STATUS_SUCCESS or the exception code. Machine lock held. */
VAS_INTERNAL uint32_t process_write(vas_process *p, uint64_t address, const void *buffer, size_t size);
/* One byte touched as a probe touches it (a write writes back what it read). Lock held. */
VAS_INTERNAL uint32_t access_locked_kernel(vas_process *p, uint64_t address, uint8_t *byte, uint32_t kind,
                                           vas_exception *exception);

/* ---- pagefile.c: paging files ---------------------------------------------------------- */

#define MAX_PAGING_FILES 16

typedef struct paging_file {
    const vas_backing_ops *ops;
    void *file;
    uint64_t slots, used, hint;
    uint64_t *bitmap;                 /* one bit per slot, set when in use */
    uint64_t reads, writes, read_errors, write_errors, pages_written;
} paging_file;

/* Returns a Win32 error, or 0. A NULL ops means a host file at path (NULL: temporary). */
VAS_INTERNAL uint32_t pagefile_add(vas_machine *m, const char *path, uint64_t size, const vas_backing_ops *ops,
                                   void *file);
VAS_INTERNAL void pagefile_destroy_all(vas_machine *m);
VAS_INTERNAL uint32_t pagefile_allocate(vas_machine *m, uint32_t want, uint32_t *file_index, uint64_t *first_slot);
VAS_INTERNAL void pagefile_free(vas_machine *m, uint32_t file_index, uint64_t slot);
VAS_INTERNAL bool pagefile_read(vas_machine *m, uint32_t file_index, uint64_t slot, void *buffer);
VAS_INTERNAL bool pagefile_write(vas_machine *m, uint32_t file_index, uint64_t slot, const void *buffer,
                                 uint32_t pages);
VAS_INTERNAL uint64_t pagefile_pte(const vas_machine *m, uint32_t file_index, uint64_t slot);
/* True when pte is a paging-file PTE (not valid, transition, prototype or demand-zero). */
VAS_INTERNAL bool pagefile_pte_decode(const vas_machine *m, uint64_t pte, uint32_t *file_index, uint64_t *slot);
VAS_INTERNAL int pagefile_check(const vas_machine *m);
/* A host file as a backing store (paging files and mapped files share it). */
VAS_INTERNAL extern const vas_backing_ops host_file_ops;
/* Wraps an open descriptor for host_file_ops; NULL when out of memory (fd is then closed). */
VAS_INTERNAL void *host_file_wrap(int fd);
/* A host file's size now, UINT64_MAX on an error. */
VAS_INTERNAL uint64_t host_file_size(void *file);
/* The Win32 error for a failed host open or I/O call's errno. */
VAS_INTERNAL uint32_t host_error_of(int err);

/* ---- workingset.c: working sets, trimming, the modified page writer, locking ------------- */

typedef struct ws_entry {
    uint64_t page;                    /* virtual address of the page */
    uint64_t tick;                    /* when it came in (FIFO), was last used (LRU), or was
                                         last found accessed by an aging pass (WS aging) */
    uint8_t age;                      /* 0..3, Windows' working-set aging */
    uint8_t locked;                   /* VirtualLock: never trimmed */
} ws_entry;

/* Adds a resident page; false when the host is out of memory. */
VAS_INTERNAL bool ws_insert(vas_process *p, uint64_t page, uint64_t frame);
/* Forgets the working-set entry of the page mapped to an active data frame. */
VAS_INTERNAL void ws_remove(vas_process *p, uint64_t page, uint64_t frame);
/* The working-set entry of a page mapped to an active data frame. */
VAS_INTERNAL uint32_t ws_index_of(const vas_process *p, uint64_t page, uint64_t frame);
/* Locks the resident page in its working set (never trimmed); false if it is not resident. */
VAS_INTERNAL bool ws_lock_page(vas_process *p, uint64_t page);
/* Frees the shared-page table of a process whose working set is empty. */
VAS_INTERNAL void ws_free_shared(vas_process *p);
/* Moves `want` pages (or all it can) out of the working set; returns how many. */
VAS_INTERNAL uint64_t ws_trim(vas_process *p, uint64_t want);
/* Makes sure at least `needed` frames are available, trimming working sets and writing modified
   pages as Windows' balance-set manager and modified page writer would; false when it cannot. */
VAS_INTERNAL bool ws_make_available(vas_machine *m, uint64_t needed);
/* The modified page writer: writes up to `max` modified pages and moves them to standby. */
VAS_INTERNAL uint64_t ws_write_modified(vas_machine *m, uint64_t max);
/* A frame's paging-file copy is no longer needed: give its slot back (the original PTE becomes
   a demand-zero PTE). */
VAS_INTERNAL void frame_drop_copy(vas_machine *m, uint64_t frame);
/* The page was written since it was last saved: drop the stale copy and mark it modified. */
VAS_INTERNAL void ws_forget_copy(vas_machine *m, uint64_t frame);
VAS_INTERNAL int ws_check(const vas_process *p);

/* ---- layout.c: address-space layouts and partitions ------------------------------------ */

typedef struct layout {
    const char *name;                 /* "x64", "x64-win7", "x86", "ia64", "win9x" */
    pagetable_kind page_tables;       /* of every process, WOW64 ones included */
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
    physical_memory physical;
    uint64_t checks;                  /* debug builds: changing calls checked so far */
    paging_file pagefiles[MAX_PAGING_FILES];
    uint32_t pagefile_count;
    uint32_t policy;                  /* VAS_REPLACE_* */
    uint64_t low_water, plenty;       /* available frames below which memory is short, and the
                                         number trimming and writing aim for */
    uint64_t trims, trimmed_pages;    /* trim passes, and pages they took out of working sets */
    struct vas_process *system;       /* system space: the System process (system.c) */
    struct pool {
        int type;                     /* VAS_NONPAGED_POOL or VAS_PAGED_POOL */
        uint64_t base, pages;         /* the pool's reservation in system space */
        uint8_t *page_state;          /* per page: free, small blocks, big block (first, rest) */
        uint32_t *page_free;          /* per small-block page: its free bytes */
        struct pool_page {            /* per page: the blocks that start in it, sorted */
            struct pool_block {
                uint64_t address, size;   /* the block, its header included */
                uint32_t tag;
                bool big;                 /* whole pages, no header */
            } *blocks;
            uint32_t count, capacity;
        } *page_blocks;
        uint64_t block_count, pages_committed;
        uint64_t used_end;            /* one past the highest page ever committed: scans stop there */
        uint64_t first_roomy;         /* no page below it is free or has two units free */
        uint64_t last_small;          /* where the last small block went: tried first */
    } pools[2];
    struct pool_tag {
        uint32_t tag;
        int pool_type;
        uint64_t allocs, frees, bytes;
    } *pool_tags;                     /* poolmon's view, one entry per tag and pool type */
    uint32_t pool_tag_count, pool_tag_capacity;
    struct vas_mdl *mdls;             /* MDLs allocated, locked or not (system.c) */
    uint64_t orphaned_frames;         /* locked pages whose process let them go: active until unlocked */
    uint64_t freed_blocks[64];        /* recently freed pool addresses: a second free is told */
    uint32_t freed_next;
    struct section_object *sections;  /* live sections, named or not (section.c) */
    struct control_area *controls;    /* their control areas */
    struct vas_section *handles;      /* every section handle, closed ones too (so that misuse
                                         is detected), freed with the machine */
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
    /* Page tables, translation and faults (pagetable.c, access.c) */
    const pagetable_format *pt;
    uint64_t table_root;              /* frame of the top-level table */
    uint64_t page_table_pages;
    uint64_t peak_working_set_pages;  /* the working set itself is ws_count pages */
    uint64_t fault_count, demand_zero_faults, guard_page_faults, access_violations;
    uint64_t soft_faults, hard_faults, in_page_errors;
    /* The working set (workingset.c) */
    ws_entry *ws;
    uint32_t ws_count, ws_capacity;
    uint64_t ws_minimum, ws_maximum;  /* pages; soft limits, as Windows' defaults are */
    uint64_t ws_clock;                /* ticks for ws_entry.tick */
    uint32_t ws_hand;                 /* the Clock policy's hand */
    uint64_t locked_pages;
    /* Shared (section) pages are in several working sets at once, so their PFN entry cannot
       hold a working-set index: an open-addressing table maps their address to it instead. */
    uint64_t *shared_pages;           /* keys: page addresses, 0 for an empty slot */
    uint32_t *shared_index;
    uint32_t shared_capacity, shared_count; /* a power of two, at most half full */
    bool dep_enabled, dep_permanent;
    uint32_t dep_flags;               /* as last set: PROCESS_DEP_ENABLE, _DISABLE_ATL_THUNK_EMULATION */
    /* What the loader made (loader.c) */
    struct module *modules;           /* mapped images, in load order */
    uint32_t module_count, module_capacity;
    struct thread *threads;           /* live threads, newest first */
    uint32_t thread_count, main_thread_id;
    uint64_t peb, heap_base, image_base;
    uint64_t stack_reserve, stack_commit; /* the defaults for new threads */
    uint64_t random_seed;
    uint64_t generation;              /* moves on whenever a translation is changed or removed */
    tlb_entry *tlb;                   /* tlb_mask + 1 entries, direct mapped by page number */
    uint64_t tlb_mask;
    bool tlb_enabled;
};

/* Takes the machine lock after checking the handle; returns STATUS_INVALID_HANDLE on a bad or
   destroyed one. Every public call that touches state goes through enter/leave. */
VAS_INTERNAL uint32_t process_enter(vas_process *p);
VAS_INTERNAL void process_leave(vas_process *p, bool changed);
/* Commit charge, in bytes: charge fails with STATUS_COMMITMENT_LIMIT and charges nothing.
   machine_commit charges the system alone (sections); its release is a plain subtraction. */
VAS_INTERNAL uint32_t machine_commit(vas_machine *m, uint64_t bytes);
VAS_INTERNAL uint32_t commit_charge(vas_process *p, uint64_t bytes);
VAS_INTERNAL void commit_release(vas_process *p, uint64_t bytes);
/* The invariant checker. A full check also walks the frame lists and every page table; debug
   builds run a full one after every FULL_CHECK_INTERVAL-th changing call and the cheap one after
   the others, so that debug runs of long workloads stay quick. */
#define FULL_CHECK_INTERVAL 64
VAS_INTERNAL int machine_check_locked(vas_machine *m, bool full);

/* ---- region.c: reserve, commit, decommit, release, protect, query ---------------------- */

VAS_INTERNAL uint32_t region_allocate(vas_process *p, uint64_t *base, uint64_t zero_bits, uint64_t *size,
                                      uint32_t type, uint32_t protect,
                                      const vas_address_requirements *req);
VAS_INTERNAL uint32_t region_free(vas_process *p, uint64_t *base, uint64_t *size, uint32_t free_type);
VAS_INTERNAL uint32_t region_protect(vas_process *p, uint64_t *base, uint64_t *size, uint32_t new_protect,
                                     uint32_t *old_protect);
VAS_INTERNAL uint32_t region_query(vas_process *p, uint64_t address, vas_memory_basic_information *info);
/* Consecutive regions from address, as repeated region_query calls would give them, in one
   in-order walk of the tree; returns how many it filled (0: address beyond user space). */
VAS_INTERNAL size_t region_query_many(vas_process *p, uint64_t address, vas_memory_basic_information *out,
                                      size_t max);
VAS_INTERNAL uint32_t region_query_allocation(vas_process *p, uint64_t address,
                                              vas_memory_region_information *info);
/* Releases every allocation of a dying process and its commit charge. */
VAS_INTERNAL void region_release_all(vas_process *p);
/* Adds the allocations every new process starts with (the shared user page). */
VAS_INTERNAL uint32_t region_create_initial(vas_process *p);
/* A private allocation of exactly [start, start + size), committed PAGE_READWRITE, with VAD
   flags (a PEB or TEB: VAD_NO_CHANGE, page granular); and its release, whatever its flags. */
VAS_INTERNAL uint32_t region_allocate_exact(vas_process *p, uint64_t start, uint64_t size, uint32_t flags);
VAS_INTERNAL void region_release_exact(vas_process *p, vad *v);

/* ---- region.c: protection values ------------------------------------------------------- */

/* The base protection (one of the eight access values) without modifiers. */
static inline uint32_t protect_base(uint32_t protect) { return protect & 0xFFu; }
#define PROTECT_CACHE_MODIFIERS (VAS_PAGE_NOCACHE | VAS_PAGE_WRITECOMBINE)
/* STATUS_SUCCESS when protect is valid for pages of private memory, else
   STATUS_INVALID_PAGE_PROTECTION. */
VAS_INTERNAL uint32_t protect_check_private(uint32_t protect);
/* The same, write-copy values allowed (for views). */
VAS_INTERNAL uint32_t protect_check_any(uint32_t protect);

/* ---- loader.c: images in processes, the PEB, threads and their stacks ------------------- */

typedef struct module {
    char *name, *path;
    uint64_t base, size, preferred_base, entry_point;
    bool relocated;
} module;

typedef struct thread {
    uint32_t id;
    uint64_t teb, teb_size;
    uint64_t stack_base, stack_limit, deallocation_stack;
    struct thread *next;
} thread;

/* A thread's stack met its guard page at `page` (whose guard the fault has just removed): the
   guard moves one page down and the TEB learns the new limit; STATUS_STACK_OVERFLOW when no
   page is left for a guard (the bottom page is never committed). Machine lock held. */
VAS_INTERNAL uint32_t stack_guard_hit(vas_process *p, vad *v, uint64_t page);
/* An image view went: forget its module. */
VAS_INTERNAL void loader_forget_module(vas_process *p, uint64_t base);
/* Frees the loader's records of a dying process (its memory goes with its allocations). */
VAS_INTERNAL void loader_release_all(vas_process *p);
/* Records the image view at base (mapped by MapViewOfFile of a SEC_IMAGE section) as a module. */
VAS_INTERNAL void loader_add_image(vas_process *p, const char *path, uint64_t base);
/* Sets a new process's loader defaults (stack sizes, the placement seed). */
VAS_INTERNAL void loader_init(vas_process *p, const vas_process_config *config);

/* ---- system.c: system space and pools -------------------------------------------------- */

typedef struct pool pool;
typedef struct pool_block pool_block;
typedef struct pool_tag pool_tag;

/* A kernel-mode access to an MDL's system address (MmGetSystemAddressForMdlSafe): true when
   address lies in one, with *status the result of the copy. */
VAS_INTERNAL bool mdl_access(vas_machine *m, uint64_t address, uint8_t *buffer, size_t size, uint32_t kind,
                             vas_exception *exception, uint32_t *status);
/* A private page locked by an MDL is being unmapped from its process: the frame stays, owned by
   no process, until the MDL unlocks it. */
VAS_INTERNAL void mdl_orphan_frame(vas_machine *m, uint64_t frame);
/* Frees every MDL of a dying machine. */
VAS_INTERNAL void mdl_destroy_all(vas_machine *m);
/* Makes the System process and the pools of a new machine; STATUS_NO_MEMORY on failure. */
VAS_INTERNAL uint32_t system_create(vas_machine *m);
/* Frees the pools' host-side records (the System process goes like any other). */
VAS_INTERNAL void system_destroy(vas_machine *m);
VAS_INTERNAL int system_check(const vas_machine *m);
/* The first kernel address of the machine's native processes. */
VAS_INTERNAL uint64_t system_range_start(const vas_machine *m);

/* ---- pe.c: PE32 and PE32+ images ---------------------------------------------------------- */

#define PE_FILE_RELOCS_STRIPPED     0x0001u
#define PE_FILE_EXECUTABLE_IMAGE    0x0002u
#define PE_FILE_LARGE_ADDRESS_AWARE 0x0020u
#define PE_FILE_DLL                 0x2000u
#define PE_SCN_MEM_SHARED           0x10000000u
#define PE_SCN_MEM_EXECUTE          0x20000000u
#define PE_SCN_MEM_READ             0x40000000u
#define PE_SCN_MEM_WRITE            0x80000000u
#define PE_MACHINE_I386             0x014Cu
#define PE_MACHINE_IA64             0x0200u
#define PE_MACHINE_AMD64            0x8664u
enum { PE_FIXUP_ABSOLUTE = 0, PE_FIXUP_HIGH = 1, PE_FIXUP_LOW = 2, PE_FIXUP_HIGHLOW = 3, PE_FIXUP_DIR64 = 10 };

typedef struct pe_file {             /* where an image's bytes are read from */
    const vas_backing_ops *ops;
    void *file;
    uint64_t size;
} pe_file;

typedef struct pe_section {
    char name[9];
    uint32_t rva, virtual_size, raw_offset, raw_size, characteristics;
} pe_section;

typedef struct pe_image {
    bool pe32_plus, relocatable;
    uint16_t machine, file_characteristics, dll_characteristics, subsystem;
    uint64_t image_base;
    uint32_t size_of_image, size_of_headers, section_alignment, file_alignment, entry_point;
    uint64_t stack_reserve, stack_commit, heap_reserve, heap_commit;
    uint32_t section_count;
    pe_section *sections;             /* sorted by RVA, disjoint */
    uint64_t *fixups;                 /* RVA << 4 | fixup type, sorted */
    uint64_t fixup_count;
    char **imports;                   /* the names of the DLLs imported */
    uint32_t import_count;
} pe_image;

/* Reads and checks an image (nothing outside the file is read). Returns an NTSTATUS:
   STATUS_INVALID_FILE_FOR_SECTION (empty), _INVALID_IMAGE_NOT_MZ, _INVALID_IMAGE_FORMAT, or
   STATUS_NO_MEMORY. page_size: the layout's; sections must be aligned at least to it. */
VAS_INTERNAL uint32_t pe_parse(const pe_file *f, uint32_t page_size, pe_image *img);
VAS_INTERNAL void pe_free(pe_image *img);
/* The page protection a section's characteristics give (spec fact 115). */
VAS_INTERNAL uint32_t pe_section_protect(uint32_t characteristics);
/* The bytes of the image page at rva, relocated by delta; false when the file could not be read. */
VAS_INTERNAL bool pe_read_page(const pe_file *f, const pe_image *img, uint64_t rva, uint8_t *page,
                               uint32_t page_size, int64_t delta);

/* ---- access.c: TLB helpers that need struct vas_process ---------------------------------- */

/* Forgets the translation of the page holding va, if the TLB has it. */
static inline void tlb_forget(vas_process *p, uint64_t va)
{
    uint64_t page = va >> p->page_shift;
    tlb_entry *e = &p->tlb[page & p->tlb_mask];
    if (e->tag >> 3 == page)
        *e = (tlb_entry){0, NULL};
}
/* After a page-table walk changed translations: the walk forgot the TLB entry of every valid
   PTE it touched (only those can be in the TLB), so only the generation is left to move. This
   keeps a release of a large, little-touched range from clearing the whole TLB. */
static inline void tlb_walked(vas_process *p) { p->generation++; }

/* ---- section.c: sections, views, copy-on-write ------------------------------------------ */

#define SECTION_MAGIC 0x53454354u /* "SECT" */
#define HANDLE_MAGIC  0x48534543u /* "HSEC" */
#define HANDLE_CLOSED 0x434C4F53u /* "CLOS" */

/* A prototype PTE (one per section page, in host memory) is 0 (a SEC_RESERVE page not
   committed), demand zero (committed, never touched), PROTO_IN_FILE (the page is in its file),
   a paging-file PTE, a transition PTE (the frame is on standby or modified) or a valid one
   (the frame is mapped by `share_count` process PTEs). */
#define PROTO_IN_FILE PTE_PROTOTYPE

/* NT's control area and segment: the pages of one file (or of one paging-file section), shared
   by every section object over that file, so that all their views are coherent. */
typedef struct control_area {
    vas_machine *machine;
    struct control_area *next, *prev; /* the machine's control areas */
    uint64_t *prototype;              /* page_count prototype PTEs */
    uint64_t page_count;
    uint64_t size;                    /* bytes the pages cover: the file's, or whole pages */
    uint64_t committed_pages;         /* paging-file sections: pages charged to the system's commit */
    uint64_t resident_pages;          /* valid prototype PTEs (active frames) */
    const vas_backing_ops *ops;       /* the file; NULL for a paging-file section */
    void *file;
    bool host_file;                   /* ops is host_file_ops: its size can be asked for */
    bool writable;                    /* the file was opened for writing */
    uint64_t device, inode;           /* a host file's identity */
    char *path;                       /* a host file's path, as given; NULL otherwise */
    pe_image *image;                  /* an image section's layout; NULL for data */
    int64_t delta;                    /* an image's relocation: its base less the preferred one */
    uint64_t file_bytes;              /* an image file's size when it was read */
    uint32_t section_count;           /* section objects using it */
    uint32_t view_count;
    struct section_view *views;       /* every view of every section over it, in any process */
} control_area;

/* A section object: what handles name. */
typedef struct section_object {
    uint32_t magic;
    vas_machine *machine;
    struct section_object *next, *prev; /* the machine's live sections */
    char *name;                       /* NULL when unnamed, or once the last handle is closed */
    uint32_t protect;                 /* the section's PAGE_* value */
    uint32_t attributes;              /* SEC_COMMIT or SEC_RESERVE, SEC_FILE, cache flags */
    uint64_t size;                    /* bytes: exact for a file, whole pages otherwise */
    control_area *control;
    uint32_t handle_count, view_count;
} section_object;

struct vas_section {                  /* a handle */
    uint32_t magic;
    uint32_t access;                  /* SECTION_* / FILE_MAP_* rights */
    section_object *object;
    struct vas_section *next;         /* on the machine's list of handles */
};

typedef struct section_view {
    section_object *section;
    vas_process *process;
    vad *vad;
    uint64_t first_page;              /* the section page at the view's start */
    uint64_t charged_pages;           /* charged to the process for copy-on-write copies: every
                                         page of a FILE_MAP_COPY view, an image's write-copy pages */
    struct section_view *next, *prev; /* the control area's views */
} section_view;

/* Who a file is: host files are told apart by device and inode, so that every data section
   over one file shares one control area (and every image section, per relocation delta); a
   caller's store is a file of its own. */
typedef struct file_identity {
    bool known;
    bool writable;                    /* opened for writing */
    uint64_t device, inode;
    const char *path;
    bool image;
    int64_t delta;
} file_identity;

/* Where an image went (image_map). */
typedef struct image_mapping {
    uint64_t base, size, preferred_base, entry_point;
    bool relocated;
    const pe_image *image;            /* valid while the view is mapped */
} image_mapping;

/* Maps a PE file as an image view (the machine lock is held): at its preferred base, else
   relocated (STATUS_IMAGE_NOT_AT_BASE, a success). Takes ops/file (closed on failure). */
VAS_INTERNAL uint32_t image_map(vas_process *p, const vas_backing_ops *ops, void *file, uint64_t file_size,
                                const char *path, const file_identity *identity, uint64_t wanted_base,
                                image_mapping *out);
VAS_INTERNAL uint32_t image_map_path(vas_process *p, const char *path, image_mapping *out);

static inline bool protect_is_write_copy(uint32_t protect)
{
    return protect_base(protect) & (VAS_PAGE_WRITECOPY | VAS_PAGE_EXECUTE_WRITECOPY);
}

/* Whether page `index` of view v is committed (the section says, for every view at once). */
VAS_INTERNAL bool view_page_committed(const vad *v, uint64_t index);
/* Pages of [first, first+count) of view v that are committed. */
VAS_INTERNAL uint64_t view_count_committed(const vad *v, uint64_t first, uint64_t count);
/* Committed pages of [first, first+count) of any allocation. */
static inline uint64_t allocation_count_committed(const vad *v, uint64_t page_shift, uint64_t first, uint64_t count)
{
    return v->view ? view_count_committed(v, first, count) : vad_count_committed(v, page_shift, first, count);
}
/* Maps the section page behind view page `page` (whose process PTE is 0) into the process: a
   soft fault when it is in memory, a hard fault from the file or the paging file, or a zeroed
   frame. Returns the new PTE (for the caller to store), or 0 with the exception code in
   *status. The caller has made frames available and built the tables. */
VAS_INTERNAL uint64_t view_page_in(vas_process *p, vad *v, uint64_t page, uint32_t protect, uint32_t *status);
/* A write to a copy-on-write page mapped (valid, read-only) to its section frame: gives the
   process its own copy. Returns the new PTE, or 0 with *status set. */
VAS_INTERNAL uint64_t view_copy_on_write(vas_process *p, vad *v, uint64_t page, uint64_t leaf, uint64_t pte,
                                         uint32_t protect, uint32_t *status);
/* A process PTE naming shared frame `frame` has just been cleared: one sharer fewer; at none
   the frame leaves memory's active use (standby or modified) behind a transition prototype. */
VAS_INTERNAL void shared_frame_unmapped(vas_machine *m, uint64_t frame);
/* The modified page writer's path for a file-backed frame: writes it to its file. */
VAS_INTERNAL bool section_write_frame(vas_machine *m, uint64_t frame);
/* Region calls on views (region.c delegates): MEM_COMMIT, VirtualProtect's check, release. */
VAS_INTERNAL uint32_t view_commit(vas_process *p, vad *v, uint64_t first, uint64_t count, uint32_t protect);
VAS_INTERNAL uint32_t view_check_protect(vas_process *p, vad *v, uint32_t protect);
VAS_INTERNAL void view_detach(vas_process *p, vad *v);
/* UnmapViewOfFile with the machine lock held; false when no view holds address. */
VAS_INTERNAL bool vas_unmap_view_locked(vas_process *p, uint64_t address);
VAS_INTERNAL void section_destroy_all(vas_machine *m);
/* Adds the sections' commit charge and resident frames; returns the errors found. */
VAS_INTERNAL int section_check_all(vas_machine *m, bool full, uint64_t *commit_pages, uint64_t *resident);

#endif /* VAS_INTERNAL_H */
