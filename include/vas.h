/*
 * vas.h - the public interface of libvas, the Windows virtual memory manager in user space.
 *
 * One header, opaque handles. Every constant carries its Windows numeric value under a VAS_
 * prefix. Guest addresses are uint64_t, never host pointers.
 *
 * Two levels, as on Windows:
 *   - the Win32 level (vas_virtual_alloc, ...) returns 0 on failure and leaves the ERROR_* code
 *     in vas_last_error(), like kernel32 and GetLastError;
 *   - the native level (vas_nt_*) returns an NTSTATUS and takes its address and size by pointer,
 *     like ntdll's Nt* calls, which round them and write back what they did.
 * The Win32 calls are thin layers over the native ones, exactly as kernel32 sits on ntdll.
 *
 * Threads: every call on one machine (and its processes) is serialised by a lock owned by the
 * machine, so any number of host threads may call in at once. vas_last_error() is per host
 * thread. Destroying a machine or a process while another thread still uses it is the caller's
 * bug, as closing a handle in use is on Windows.
 */
#ifndef VAS_H
#define VAS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VAS_VERSION_MAJOR 0
#define VAS_VERSION_MINOR 1
#define VAS_VERSION_PATCH 0
#define VAS_VERSION_STRING "0.1.0"
/* The version of the library linked in, as "major.minor.patch". */
const char *vas_version(void);

/* ---- Memory allocation and free types (winnt.h) ------------------------------------------ */
#define VAS_MEM_COMMIT             0x00001000u
#define VAS_MEM_RESERVE            0x00002000u
#define VAS_MEM_DECOMMIT           0x00004000u
#define VAS_MEM_RELEASE            0x00008000u
#define VAS_MEM_FREE               0x00010000u /* a state, refused as a free type */
#define VAS_MEM_PRIVATE            0x00020000u /* a type */
#define VAS_MEM_MAPPED             0x00040000u /* a type */
#define VAS_MEM_RESET              0x00080000u
#define VAS_MEM_TOP_DOWN           0x00100000u
#define VAS_MEM_WRITE_WATCH        0x00200000u
#define VAS_MEM_PHYSICAL           0x00400000u
#define VAS_MEM_RESET_UNDO         0x01000000u
#define VAS_MEM_IMAGE              0x01000000u /* a type (= SEC_IMAGE) */
#define VAS_MEM_LARGE_PAGES        0x20000000u
#define VAS_MEM_RESERVE_PLACEHOLDER   0x00040000u
#define VAS_MEM_REPLACE_PLACEHOLDER   0x00004000u
#define VAS_MEM_COALESCE_PLACEHOLDERS 0x00000001u
#define VAS_MEM_PRESERVE_PLACEHOLDER  0x00000002u
#define VAS_AT_ROUND_TO_PAGE       0x40000000u

/* ---- Page protections -------------------------------------------------------------------- */
#define VAS_PAGE_NOACCESS          0x01u
#define VAS_PAGE_READONLY          0x02u
#define VAS_PAGE_READWRITE         0x04u
#define VAS_PAGE_WRITECOPY         0x08u
#define VAS_PAGE_EXECUTE           0x10u
#define VAS_PAGE_EXECUTE_READ      0x20u
#define VAS_PAGE_EXECUTE_READWRITE 0x40u
#define VAS_PAGE_EXECUTE_WRITECOPY 0x80u
#define VAS_PAGE_GUARD             0x100u
#define VAS_PAGE_NOCACHE           0x200u
#define VAS_PAGE_WRITECOMBINE      0x400u

/* ---- Section attributes and access rights (winnt.h, memoryapi.h) --------------------------- */
#define VAS_SEC_FILE               0x00800000u
#define VAS_SEC_IMAGE              0x01000000u
#define VAS_SEC_RESERVE            0x04000000u
#define VAS_SEC_COMMIT             0x08000000u
#define VAS_SEC_NOCACHE            0x10000000u
#define VAS_SEC_WRITECOMBINE       0x40000000u
#define VAS_SEC_LARGE_PAGES        0x80000000u
#define VAS_SECTION_QUERY          0x0001u
#define VAS_SECTION_MAP_WRITE      0x0002u
#define VAS_SECTION_MAP_READ       0x0004u
#define VAS_SECTION_MAP_EXECUTE    0x0008u
#define VAS_SECTION_EXTEND_SIZE    0x0010u
#define VAS_SECTION_ALL_ACCESS     0x000F001Fu
#define VAS_FILE_MAP_COPY          0x0001u   /* = SECTION_QUERY */
#define VAS_FILE_MAP_WRITE         0x0002u
#define VAS_FILE_MAP_READ          0x0004u
#define VAS_FILE_MAP_EXECUTE       0x0020u   /* SECTION_MAP_EXECUTE_EXPLICIT */
#define VAS_FILE_MAP_ALL_ACCESS    0x000F001Fu

/* ---- Win32 errors (winerror.h) ----------------------------------------------------------- */
#define VAS_ERROR_SUCCESS            0u
#define VAS_ERROR_FILE_NOT_FOUND     2u
#define VAS_ERROR_PATH_NOT_FOUND     3u
#define VAS_ERROR_ACCESS_DENIED      5u
#define VAS_ERROR_INVALID_HANDLE     6u
#define VAS_ERROR_NOT_ENOUGH_MEMORY  8u
#define VAS_ERROR_INVALID_BLOCK      9u
#define VAS_ERROR_OUTOFMEMORY        14u
#define VAS_ERROR_BAD_LENGTH         24u
#define VAS_ERROR_NOT_SUPPORTED      50u
#define VAS_ERROR_OPEN_FAILED        110u
#define VAS_ERROR_DISK_FULL          112u
#define VAS_ERROR_INVALID_PARAMETER  87u
#define VAS_ERROR_MOD_NOT_FOUND      126u
#define VAS_ERROR_MR_MID_NOT_FOUND   317u   /* RtlNtStatusToDosError of an unknown status */
#define VAS_ERROR_NOT_LOCKED         158u
#define VAS_ERROR_ALREADY_EXISTS     183u
#define VAS_ERROR_BAD_EXE_FORMAT     193u
#define VAS_ERROR_PARTIAL_COPY       299u
#define VAS_ERROR_INVALID_ADDRESS    487u
#define VAS_ERROR_NOACCESS           998u
#define VAS_ERROR_SWAPERROR          999u
#define VAS_ERROR_FILE_INVALID       1006u
#define VAS_ERROR_MAPPED_ALIGNMENT   1132u
#define VAS_ERROR_PRIVILEGE_NOT_HELD 1314u
#define VAS_ERROR_WORKING_SET_QUOTA  1453u
#define VAS_ERROR_COMMITMENT_LIMIT   1455u

/* ---- NTSTATUS values (ntstatus.h) -------------------------------------------------------- */
#define VAS_STATUS_SUCCESS                 0x00000000u
#define VAS_STATUS_IMAGE_NOT_AT_BASE       0x40000003u
#define VAS_STATUS_GUARD_PAGE_VIOLATION    0x80000001u
#define VAS_STATUS_DATATYPE_MISALIGNMENT   0x80000002u
#define VAS_STATUS_PARTIAL_COPY            0x8000000Du
#define VAS_STATUS_INFO_LENGTH_MISMATCH    0xC0000004u
#define VAS_STATUS_ACCESS_VIOLATION        0xC0000005u
#define VAS_STATUS_IN_PAGE_ERROR           0xC0000006u
#define VAS_STATUS_INVALID_HANDLE          0xC0000008u
#define VAS_STATUS_BAD_INITIAL_STACK       0xC0000009u
#define VAS_STATUS_INVALID_PARAMETER       0xC000000Du
#define VAS_STATUS_NO_MEMORY               0xC0000017u
#define VAS_STATUS_CONFLICTING_ADDRESSES   0xC0000018u
#define VAS_STATUS_NOT_MAPPED_VIEW         0xC0000019u
#define VAS_STATUS_UNABLE_TO_FREE_VM       0xC000001Au
#define VAS_STATUS_INVALID_VIEW_SIZE       0xC000001Fu
#define VAS_STATUS_INVALID_FILE_FOR_SECTION 0xC0000020u
#define VAS_STATUS_ALREADY_COMMITTED       0xC0000021u
#define VAS_STATUS_ACCESS_DENIED           0xC0000022u
#define VAS_STATUS_UNABLE_TO_DECOMMIT_VM   0xC000002Cu
#define VAS_STATUS_NOT_COMMITTED           0xC000002Du
#define VAS_STATUS_SECTION_TOO_BIG         0xC0000040u
#define VAS_STATUS_INVALID_PAGE_PROTECTION 0xC0000045u
#define VAS_STATUS_SECTION_NOT_IMAGE       0xC0000049u
#define VAS_STATUS_FREE_VM_NOT_AT_BASE     0xC000009Fu
#define VAS_STATUS_MEMORY_NOT_ALLOCATED    0xC00000A0u
#define VAS_STATUS_NOT_SUPPORTED           0xC00000BBu
#define VAS_STATUS_INVALID_PARAMETER_1     0xC00000EFu
#define VAS_STATUS_INVALID_PARAMETER_2     0xC00000F0u
#define VAS_STATUS_INVALID_PARAMETER_3     0xC00000F1u
#define VAS_STATUS_INVALID_PARAMETER_4     0xC00000F2u
#define VAS_STATUS_INVALID_PARAMETER_5     0xC00000F3u
#define VAS_STATUS_INVALID_PARAMETER_6     0xC00000F4u
#define VAS_STATUS_STACK_OVERFLOW          0xC00000FDu
#define VAS_STATUS_MAPPED_FILE_SIZE_ZERO   0xC000011Eu
#define VAS_STATUS_COMMITMENT_LIMIT        0xC000012Du
#define VAS_STATUS_INVALID_IMAGE_NOT_MZ    0xC000012Fu
#define VAS_STATUS_INVALID_ADDRESS         0xC0000141u
#define VAS_STATUS_MAPPED_ALIGNMENT        0xC0000220u
#define VAS_STATUS_UNABLE_TO_DELETE_SECTION 0xC000001Bu
#define VAS_STATUS_OBJECT_NAME_NOT_FOUND   0xC0000034u
#define VAS_STATUS_OBJECT_NAME_COLLISION   0xC0000035u
#define VAS_STATUS_OBJECT_PATH_NOT_FOUND   0xC000003Au
#define VAS_STATUS_PRIVILEGE_NOT_HELD      0xC0000061u
#define VAS_STATUS_DISK_FULL               0xC000007Fu
#define VAS_STATUS_SECTION_PROTECTION      0xC000004Eu
#define VAS_STATUS_NOT_MAPPED_DATA         0xC0000088u
#define VAS_STATUS_FILE_INVALID            0xC0000098u
#define VAS_STATUS_INVALID_IMAGE_FORMAT    0xC000007Bu
#define VAS_STATUS_DLL_NOT_FOUND           0xC0000135u

/* ---- Machines and processes -------------------------------------------------------------- */
typedef struct vas_machine vas_machine;
typedef struct vas_process vas_process;

#define VAS_NO_PAGEFILE UINT64_MAX

typedef struct vas_machine_config {   /* a zeroed struct means the defaults */
    const char *layout;           /* NULL or "x64" (Windows 8.1 and later, the default), "x64-win7",
                                     "x86", "ia64", "win9x" */
    uint32_t increase_user_va_mb; /* x86 only, like bcdedit /set IncreaseUserVa: 2048..3072; 0 = 2048 */
    uint64_t ram_bytes;           /* simulated physical memory; 0 = 256 MiB */
    uint64_t pagefile_bytes;      /* 0 = 512 MiB; VAS_NO_PAGEFILE for none */
    const char *pagefile_path;    /* NULL = a temporary file, removed with the machine */
    /* your fields follow */
    const struct vas_backing_ops *pagefile_ops; /* non-NULL: the first paging file is this backing
                                     store (with pagefile_file) instead of a host file */
    void *pagefile_file;
    uint32_t replacement_policy;  /* VAS_REPLACE_WS_AGING (0, Windows), _FIFO, _CLOCK, _LRU */
} vas_machine_config;

/* Page replacement policies: which pages trimming takes out of a working set first. */
#define VAS_REPLACE_WS_AGING 0u   /* Windows: accessed bit and a 2-bit age, oldest out first */
#define VAS_REPLACE_FIFO     1u   /* the page that came in first */
#define VAS_REPLACE_CLOCK    2u   /* second chance on the accessed bit */
#define VAS_REPLACE_LRU      3u   /* exact least recently used: every access goes through the
                                     page tables (the TLB is off), so it is slow by design */

typedef struct vas_process_config {   /* a zeroed struct means the defaults */
    const char *name;             /* e.g. "notepad.exe"; NULL = "process.exe" */
    int bits;                     /* 0 = the machine's native width; 32 on an x64 machine = WOW64 */
    int large_address_aware;      /* 0 = the default (yes for 64-bit, no for 32-bit), 1 = yes, -1 = no */
    int dep;                      /* data execution prevention: 0 = the default (on), 1 = on and
                                     permanent, -1 = off (32-bit processes only, as on Windows) */
    uint32_t tlb_entries;         /* software TLB size, a power of two up to 2^20; 0 = 16384;
                                     VAS_TLB_DISABLED runs every access through the page tables */
    const char *dll_path;         /* vas_process_create_from_image: folders searched for DLLs
                                     after the executable's own, separated by ':'; NULL: none */
    uint64_t random_seed;         /* 0: deterministic placement (no ASLR); else the seed of the
                                     PEB's randomised page, as Windows picks it */
} vas_process_config;

#define VAS_TLB_DISABLED UINT32_MAX

/* NULL on failure, with vas_last_error() set (an unknown layout, an out-of-range value). */
vas_machine *vas_machine_create(const vas_machine_config *config);   /* NULL: defaults */
void         vas_machine_destroy(vas_machine *machine);              /* also destroys its processes */
vas_process *vas_process_create(vas_machine *machine, const vas_process_config *config); /* NULL: defaults */
void         vas_process_destroy(vas_process *process);

/* Per host thread, like GetLastError / SetLastError: the ERROR_* of the last failed call. */
uint32_t vas_last_error(void);
void     vas_set_last_error(uint32_t error);

/* ---- The Win32 region API (memoryapi.h) -------------------------------------------------- */
uint64_t vas_virtual_alloc(vas_process *process, uint64_t address, uint64_t size,
                           uint32_t allocation_type, uint32_t protect);       /* 0 on failure */
int      vas_virtual_free(vas_process *process, uint64_t address, uint64_t size,
                          uint32_t free_type);                                /* 0 on failure */
int      vas_virtual_protect(vas_process *process, uint64_t address, uint64_t size,
                             uint32_t new_protect, uint32_t *old_protect);    /* 0 on failure */

typedef struct vas_memory_basic_information {
    uint64_t base_address;
    uint64_t allocation_base;
    uint32_t allocation_protect;
    uint64_t region_size;
    uint32_t state;        /* VAS_MEM_COMMIT, VAS_MEM_RESERVE, VAS_MEM_FREE */
    uint32_t protect;
    uint32_t type;         /* VAS_MEM_PRIVATE, VAS_MEM_MAPPED, VAS_MEM_IMAGE, or 0 when free */
} vas_memory_basic_information;

/* Returns the bytes written (sizeof(vas_memory_basic_information)), 0 on failure. */
size_t   vas_virtual_query(vas_process *process, uint64_t address,
                           vas_memory_basic_information *info, size_t info_size);

/* The walk VirtualQuery callers write (query, go to base + size, repeat) in one call: fills up to
   max consecutive regions from address, exactly as those VirtualQuery calls would, and returns
   how many it filled, stopping at the end of user space. One in-order pass over the allocations,
   so a walk of 100,000 regions costs a few ns a region, not a locked call and a tree descent
   each. 0 on failure: ERROR_INVALID_PARAMETER beyond user space, ERROR_NOACCESS for a NULL
   buffer (max 0 returns 0 and sets nothing). */
size_t   vas_query_regions(vas_process *process, uint64_t address, vas_memory_basic_information *out,
                           size_t max);

/* VirtualAlloc2's MEM_ADDRESS_REQUIREMENTS: where a reservation may be placed.
   lowest_starting_address: 64 KB aligned, 0 = no bound; highest_ending_address: a multiple of
   the page size minus 1, 0 = no bound; alignment: 0 or a power of two of at least 64 KB. */
typedef struct vas_address_requirements {
    uint64_t lowest_starting_address;
    uint64_t highest_ending_address;
    uint64_t alignment;
} vas_address_requirements;
/* VirtualAlloc2 with one MemExtendedParameterAddressRequirements (requirements may be NULL). */
uint64_t vas_virtual_alloc2(vas_process *process, uint64_t address, uint64_t size,
                            uint32_t allocation_type, uint32_t protect,
                            const vas_address_requirements *requirements); /* 0 on failure */

/* ---- The native API (ntdll), NTSTATUS results ---------------------------------------------
 * *base and *size are rounded and written back as Windows does; on failure they are unchanged. */
uint32_t vas_nt_allocate_virtual_memory(vas_process *process, uint64_t *base, uint64_t zero_bits,
                                        uint64_t *size, uint32_t allocation_type, uint32_t protect);
uint32_t vas_nt_allocate_virtual_memory_ex(vas_process *process, uint64_t *base, uint64_t *size,
                                           uint32_t allocation_type, uint32_t protect,
                                           const vas_address_requirements *requirements);
/* NT-level release may take a nonzero size: it then releases just those pages, splitting the
   allocation (Win32 VirtualFree refuses that). */
uint32_t vas_nt_free_virtual_memory(vas_process *process, uint64_t *base, uint64_t *size,
                                    uint32_t free_type);
uint32_t vas_nt_protect_virtual_memory(vas_process *process, uint64_t *base, uint64_t *size,
                                       uint32_t new_protect, uint32_t *old_protect);
/* MemoryBasicInformation; *return_length (may be NULL) receives the bytes written. */
uint32_t vas_nt_query_virtual_memory(vas_process *process, uint64_t address,
                                     vas_memory_basic_information *info, size_t info_size,
                                     size_t *return_length);

/* MemoryRegionInformation: the whole allocation that holds address. */
typedef struct vas_memory_region_information {
    uint64_t allocation_base;
    uint32_t allocation_protect;
    uint32_t region_type;   /* VAS_MEM_PRIVATE, VAS_MEM_MAPPED or VAS_MEM_IMAGE */
    uint64_t region_size;   /* of the allocation */
    uint64_t commit_size;   /* its committed bytes */
} vas_memory_region_information;
uint32_t vas_nt_query_region_information(vas_process *process, uint64_t address,
                                         vas_memory_region_information *info);

/* RtlNtStatusToDosError for the codes vas produces; unknown codes give ERROR_MR_MID_NOT_FOUND (317). */
uint32_t vas_nt_status_to_dos_error(uint32_t status);

/* ---- Memory access, as a CPU makes it ----------------------------------------------------- */

#define VAS_EXCEPTION_READ_FAULT    0u  /* ExceptionInformation[0] values */
#define VAS_EXCEPTION_WRITE_FAULT   1u
#define VAS_EXCEPTION_EXECUTE_FAULT 8u

typedef struct vas_exception {
    uint32_t code;      /* NTSTATUS: VAS_STATUS_ACCESS_VIOLATION 0xC0000005, VAS_STATUS_GUARD_PAGE_VIOLATION 0x80000001,
                           VAS_STATUS_IN_PAGE_ERROR 0xC0000006, VAS_STATUS_STACK_OVERFLOW 0xC00000FD */
    uint32_t access;    /* ExceptionInformation[0]: 0 read, 1 write, 8 execute */
    uint64_t address;   /* ExceptionInformation[1]: the exact faulting virtual address */
} vas_exception;

/* User-mode accesses. Return 0 (STATUS_SUCCESS) or the exception code, also stored in *exception
   (which may be NULL). Every page the access touches is checked before any byte moves, so a
   faulting write changes nothing and a faulting read fills nothing. A NULL buffer with a nonzero
   size gives STATUS_INVALID_PARAMETER (no exception is raised in the guest).
   Thread rule: accesses to one process, and the calls that change its mappings, must not run
   at the same time on different host threads (the process is one CPU); different processes
   may be used from different threads freely. */
uint32_t vas_read(vas_process *process, uint64_t address, void *buffer, size_t size, vas_exception *exception);
uint32_t vas_write(vas_process *process, uint64_t address, const void *buffer, size_t size, vas_exception *exception);
uint32_t vas_execute(vas_process *process, uint64_t address, void *buffer, size_t size, vas_exception *exception);

/* Kernel-mode accesses made while `current` is the current process (NULL: no user space): they
   may touch current's user pages (page protections still apply) and system space. */
uint32_t vas_kernel_read(vas_machine *machine, vas_process *current, uint64_t address, void *buffer,
                         size_t size, vas_exception *exception);
uint32_t vas_kernel_write(vas_machine *machine, vas_process *current, uint64_t address, const void *buffer,
                          size_t size, vas_exception *exception);

/* Translation for emulators: the host pointer behind one guest page, for one kind of access
   (VAS_EXCEPTION_READ_FAULT, _WRITE_FAULT or _EXECUTE_FAULT), faulting the page in as that access
   would. The pointer stays valid, for that kind of access and for the bytes of that page only,
   while vas_mapping_generation(process) still returns `generation`: the generation moves on
   whenever any translation of the process is changed or removed (protect, decommit, release,
   guard-page consumption, trimming). */
typedef struct vas_translation {
    uint8_t *host;              /* the byte at the address */
    uint64_t physical_address;  /* the same byte in simulated RAM */
    uint32_t protect;           /* the page's PAGE_* protection */
    uint32_t page_size;
    uint64_t page_base;         /* the virtual address of the page */
    uint64_t generation;
} vas_translation;
uint32_t vas_translate(vas_process *process, uint64_t address, uint32_t access, vas_translation *translation,
                       vas_exception *exception);
uint64_t vas_mapping_generation(vas_process *process);
/* The address of that counter, so that an embedder's own inline fast path can check a cached
   translation without a call: `if (*generation == t.generation) use t.host`. It stays valid for
   the life of the process. */
const uint64_t *vas_mapping_generation_address(vas_process *process);
void     vas_tlb_flush(vas_process *process);

/* SetProcessDEPPolicy for 32-bit processes: 0 turns DEP off, VAS_PROCESS_DEP_ENABLE turns it on for
   good. 64-bit processes always run with DEP, Windows 95/98 ones never (ERROR_NOT_SUPPORTED); once
   permanent, changes fail with ERROR_ACCESS_DENIED. */
#define VAS_PROCESS_DEP_ENABLE                      0x1u
#define VAS_PROCESS_DEP_DISABLE_ATL_THUNK_EMULATION 0x2u
int vas_set_process_dep_policy(vas_process *process, uint32_t flags);               /* 0 on failure */
int vas_get_process_dep_policy(vas_process *process, uint32_t *flags, int *permanent); /* 0 on failure */

/* ---- Paging files, working sets and memory pressure --------------------------------------- */

/* A backing store for a paging file: all page I/O goes through these, so tests can put memory
   behind a paging file and make any read or write fail. Each returns 0 on success. */
typedef struct vas_backing_ops {
    int (*read)(void *file, uint64_t offset, void *buffer, size_t size);
    int (*write)(void *file, uint64_t offset, const void *buffer, size_t size);
    void (*close)(void *file);    /* may be NULL; called when the machine (or, for a mapped
                                     file, its section) goes */
} vas_backing_ops;

/* Adds a paging file (up to 16 per machine, as on Windows): a host file at path (NULL: a
   temporary file), or a backing store. size: whole pages. The commit limit grows by size.
   0 on failure: ERROR_PATH_NOT_FOUND (3), ERROR_ACCESS_DENIED, ERROR_DISK_FULL (112),
   ERROR_INVALID_PARAMETER, ERROR_NOT_ENOUGH_MEMORY past 16 files. */
int vas_add_paging_file(vas_machine *machine, const char *path, uint64_t size);
int vas_add_paging_file_ops(vas_machine *machine, const vas_backing_ops *ops, void *file, uint64_t size);

typedef struct vas_paging_status {
    uint32_t paging_files;
    uint64_t pagefile_bytes;      /* all paging files */
    uint64_t pagefile_used;       /* bytes of slots holding pages */
    uint64_t reads, writes;       /* I/O calls (a write may carry several pages) */
    uint64_t pages_written;
    uint64_t read_errors, write_errors;
    uint64_t repurposed;          /* standby frames given to a new owner */
    uint64_t trims, trimmed_pages;
} vas_paging_status;
void vas_get_paging_status(vas_machine *machine, vas_paging_status *status);

/* SetProcessWorkingSetSize / GetProcessWorkingSetSize, in bytes. Windows' defaults: 50 and 345
   pages, soft limits (a working set may grow past its maximum while memory is plentiful).
   Both (uint64_t)-1 empties the working set. 0 on failure (87: minimum above maximum, or a
   maximum beyond RAM). */
int vas_set_process_working_set_size(vas_process *process, uint64_t minimum, uint64_t maximum);
int vas_get_process_working_set_size(vas_process *process, uint64_t *minimum, uint64_t *maximum);
/* EmptyWorkingSet: trims every unlocked page of the process. */
int vas_empty_working_set(vas_process *process);
/* The modified page writer, on demand: writes every modified page to the paging files. Returns
   the pages written. */
uint64_t vas_write_modified_pages(vas_machine *machine);

/* VirtualLock / VirtualUnlock: locked pages stay in the working set and are never trimmed. All
   pages must be committed and accessible (ERROR_NOACCESS 998; a guard page fails with the raw
   STATUS_GUARD_PAGE_VIOLATION and loses its guard); a process may lock its minimum working set
   less 8 pages (ERROR_WORKING_SET_QUOTA 1453). Unlocking pages that are not locked fails with
   ERROR_NOT_LOCKED (158) and takes them out of the working set. */
int vas_virtual_lock(vas_process *process, uint64_t address, uint64_t size);
int vas_virtual_unlock(vas_process *process, uint64_t address, uint64_t size);

/* ---- Physical memory, for teaching --------------------------------------------------------- */

/* The physical address behind a virtual one, if its page is resident: STATUS_SUCCESS, else
   STATUS_INVALID_ADDRESS (not touched yet, or not committed); STATUS_INVALID_PARAMETER outside
   user space. Faults nothing in. */
uint32_t vas_virtual_to_physical(vas_process *process, uint64_t address, uint64_t *physical_address);

typedef struct vas_page_walk_level {
    const char *name;           /* "PML4E", "PDPTE", "PDE", "PTE" (x64); "PDE", "PTE" (x86) ... */
    uint32_t index;             /* the entry's index in its table */
    uint64_t table_physical;    /* the table's physical address */
    uint64_t entry;             /* the entry's raw value */
    char meaning[96];           /* e.g. "valid, frame 0x1a3, writable, no-execute, dirty" */
} vas_page_walk_level;

typedef struct vas_page_walk {
    uint32_t levels;            /* entries walked (the walk stops at the first invalid one) */
    uint32_t table_levels;      /* levels of this format */
    vas_page_walk_level level[4];
    int resident;               /* 1 when the walk reached a valid or transition PTE */
    uint64_t physical_address;  /* the byte's physical address, when resident */
} vas_page_walk;
/* The page-table walk of an address, level by level. Faults nothing in. */
uint32_t vas_page_table_walk(vas_process *process, uint64_t address, vas_page_walk *walk);

/* Frames by list: the PFN database's view. */
typedef struct vas_physical_status {
    uint32_t page_size;
    uint64_t frame_count;       /* RAM in frames (frame 0 is never used: it means "none") */
    uint64_t zeroed, free, standby, modified, active;
    uint64_t page_table_frames; /* active frames holding page tables */
} vas_physical_status;
void vas_get_physical_status(vas_machine *machine, vas_physical_status *status);

/* One frame of the PFN database, as a teaching view of physical memory shows it. */
#define VAS_FRAME_ZEROED   0u  /* MMLISTS values: ZeroedPageList */
#define VAS_FRAME_FREE     1u  /* FreePageList */
#define VAS_FRAME_STANDBY  2u  /* StandbyPageList: clean, still named by its owner's transition PTE */
#define VAS_FRAME_MODIFIED 3u  /* ModifiedPageList: dirty, to be written before reuse */
#define VAS_FRAME_ACTIVE   6u  /* ActiveAndValid */
#define VAS_FRAME_OWNER_NONE     0u  /* frame 0, and frames on the zeroed and free lists */
#define VAS_FRAME_OWNER_PROCESS  1u  /* a private page (or one a process last had) of process_id */
#define VAS_FRAME_OWNER_TABLE    2u  /* a page table of process_id */
#define VAS_FRAME_OWNER_SECTION  3u  /* a section's page, shared through its prototype PTE */
#define VAS_FRAME_OWNER_SYSTEM   4u  /* system space: pool pages and system page tables */
#define VAS_FRAME_OWNER_LOCKED   5u  /* locked by an MDL after its process let the page go */
typedef struct vas_frame_info {
    uint32_t list;              /* VAS_FRAME_ZEROED ... VAS_FRAME_ACTIVE */
    uint32_t owner;             /* VAS_FRAME_OWNER_* */
    uint32_t process_id;        /* for OWNER_PROCESS and OWNER_TABLE, else 0 */
    uint32_t lock_count;        /* MDLs holding the frame */
} vas_frame_info;
/* Fills out[i] for frames first .. first+count-1 (stopping at the end of RAM); returns how many
   it filled. */
size_t vas_get_frame_info(vas_machine *machine, uint64_t first, vas_frame_info *out, size_t count);

/* QueryWorkingSetEx: for each entry's virtual_address, whether its page is in the process's
   working set now. Faults nothing in. 0 on failure (ERROR_INVALID_PARAMETER for NULL). */
typedef struct vas_working_set_ex_information {
    uint64_t virtual_address;   /* in */
    uint32_t valid;             /* the page is in the working set */
    uint32_t share_count;       /* processes mapping its frame, up to 7 (a 3-bit field on Windows) */
    uint32_t shared;            /* a section page */
    uint32_t locked;            /* VirtualLock */
} vas_working_set_ex_information;
int vas_query_working_set_ex(vas_process *process, vas_working_set_ex_information *info, size_t count);

/* ---- Sections: mapped files, shared memory, copy-on-write (memoryapi.h) -------------------
 * A section is memory that views in any number of processes share page for page: every view
 * of a section page reaches the same frame, through the section's prototype PTE. A section is
 * backed by a file (its pages are read from it and written back to it, never to a paging file)
 * or by the paging file (file_path NULL: shared memory). Views of a section are MEM_MAPPED. */
typedef struct vas_section vas_section;

/* CreateFileMapping. file_path NULL: a section backed by the paging file (needs maximum_size).
   protect: PAGE_READONLY, _READWRITE, _WRITECOPY, _EXECUTE_READ, _EXECUTE_READWRITE or
   _EXECUTE_WRITECOPY, optionally with SEC_COMMIT (the default) or SEC_RESERVE, and SEC_NOCACHE
   or SEC_WRITECOMBINE. maximum_size 0: the file's size; larger than the file: the file grows
   (writable sections) or ERROR_NOT_ENOUGH_MEMORY. name NULL: unnamed; a name is visible
   machine-wide: when it exists, the call returns a new handle to that section and sets
   vas_last_error() to ERROR_ALREADY_EXISTS (183); otherwise to 0. NULL on failure. */
vas_section *vas_create_file_mapping(vas_machine *machine, const char *file_path, uint32_t protect,
                                     uint64_t maximum_size, const char *name);
/* The same over a caller's backing store holding file_size bytes; the section closes it when
   it goes (also when the call fails). Lets emulators map files they keep themselves, and tests
   make any page read or write fail (a failed read is STATUS_IN_PAGE_ERROR on access). */
vas_section *vas_create_file_mapping_ops(vas_machine *machine, const vas_backing_ops *ops, void *file,
                                         uint64_t file_size, uint32_t protect, uint64_t maximum_size,
                                         const char *name);
/* OpenFileMapping: a new handle with desired_access (FILE_MAP_* / SECTION_* rights) to the
   named section; NULL with ERROR_FILE_NOT_FOUND (2) when there is none. */
vas_section *vas_open_file_mapping(vas_machine *machine, uint32_t desired_access, const char *name);
/* CloseHandle. The section lives on while views exist; its name goes with its last handle. */
int          vas_close_section(vas_section *section);

/* MapViewOfFileEx. desired_access: FILE_MAP_READ, FILE_MAP_WRITE, FILE_MAP_COPY (copy-on-write),
   FILE_MAP_ALL_ACCESS, each optionally with FILE_MAP_EXECUTE. offset: a multiple of 64 KB.
   size 0: to the end of the section. base 0: anywhere, else a multiple of 64 KB.
   Returns the view's base, 0 on failure: ERROR_ACCESS_DENIED (the handle's rights or the
   section's protection do not allow the access; a view past the section's end),
   ERROR_MAPPED_ALIGNMENT (1132), ERROR_INVALID_ADDRESS (the range is taken),
   ERROR_NOT_ENOUGH_MEMORY, ERROR_COMMITMENT_LIMIT (copy-on-write views are charged). */
uint64_t vas_map_view_of_file(vas_process *process, vas_section *section, uint32_t desired_access,
                              uint64_t offset, uint64_t size, uint64_t base);
/* UnmapViewOfFile: base may be any address inside the view. */
int      vas_unmap_view_of_file(vas_process *process, uint64_t base);
/* FlushViewOfFile: writes the modified pages of [base, base+size) (size 0: to the view's end)
   to the file; they are on disk when it returns. */
int      vas_flush_view_of_file(vas_process *process, uint64_t base, uint64_t size);

/* GetMappedFileName: copies the path of the file a view maps (as given to
   vas_create_file_mapping) into buffer, truncated to size - 1 characters and terminated; returns
   the characters copied, 0 on failure: ERROR_FILE_INVALID (1006) for a view of a paging-file
   section or of a caller's backing store (which have no path), ERROR_INVALID_ADDRESS (487) where
   no view is. VMMap tells "Mapped File" from "Shareable" this way. */
size_t vas_get_mapped_file_name(vas_process *process, uint64_t address, char *buffer, size_t size);

/* NtQuerySection's SectionBasicInformation. */
typedef struct vas_section_information {
    uint64_t base_address;           /* 0: not a based section */
    uint32_t attributes;             /* SEC_COMMIT or SEC_RESERVE, or SEC_FILE, with SEC_NOCACHE ... */
    uint64_t size;                   /* bytes */
} vas_section_information;
/* STATUS_ACCESS_DENIED without SECTION_QUERY on the handle. */
uint32_t vas_nt_query_section(vas_section *section, vas_section_information *info);

/* ReadProcessMemory / WriteProcessMemory: copy between the caller's buffer and the process's
   user space, as Windows does: in chunks of 14 pages, each one all or nothing, so that a failure
   gives ERROR_PARTIAL_COPY (299) with the bytes of the chunks before it (*bytes may be NULL).
   WriteProcessMemory writes through PAGE_EXECUTE_READ and PAGE_EXECUTE pages as kernel32 does
   (it lifts the protection for the copy and puts the first page's back), refuses read-only and
   no-access ones (ERROR_NOACCESS, *bytes_written untouched), and copies on write on
   PAGE_WRITECOPY ones. A size of 0 succeeds with 0 bytes. */
int vas_read_process_memory(vas_process *process, uint64_t address, void *buffer, size_t size, size_t *bytes_read);
int vas_write_process_memory(vas_process *process, uint64_t address, const void *buffer, size_t size,
                             size_t *bytes_written);
/* NtReadVirtualMemory / NtWriteVirtualMemory: the copy alone, STATUS_PARTIAL_COPY on a fault. */
uint32_t vas_nt_read_virtual_memory(vas_process *process, uint64_t address, void *buffer, size_t size,
                                    size_t *bytes_read);
uint32_t vas_nt_write_virtual_memory(vas_process *process, uint64_t address, const void *buffer, size_t size,
                                     size_t *bytes_written);

/* ---- Executable images, processes, threads (the loader's view) -----------------------------
 * A PE32 or PE32+ file maps as an image section (SEC_IMAGE): its headers PAGE_READONLY, each
 * section with the protection its characteristics give (code PAGE_EXECUTE_READ, read-only data
 * PAGE_READONLY, writable data PAGE_WRITECOPY, shared writable data PAGE_READWRITE), the whole
 * view MEM_IMAGE with AllocationProtect PAGE_EXECUTE_WRITECOPY. Pages come from the file (at
 * their section's file offset) and are relocated as they come in when the image could not load
 * at its preferred base. No code is ever run. */

/* Maps a PE32 or PE32+ file as an image view: at its preferred base when that range is free,
   else relocated by its base relocations (vas_last_error() is then STATUS_IMAGE_NOT_AT_BASE's
   Win32 value, 0, as Windows' loader sees it). Returns the image base, 0 on failure:
   ERROR_BAD_EXE_FORMAT (193) for a file that is not a valid image (every header field is
   checked; nothing outside the file is ever read), ERROR_INVALID_ADDRESS (487) for an image
   without relocations whose base is taken, ERROR_FILE_NOT_FOUND / ERROR_PATH_NOT_FOUND,
   ERROR_NOT_ENOUGH_MEMORY, ERROR_COMMITMENT_LIMIT (its writable pages are charged). */
uint64_t vas_map_image(vas_process *process, const char *path);

/* The same from a caller's backing store of file_size bytes (closed by the call, also on
   failure): an emulator can map an image it holds in memory. name names the module. */
uint64_t vas_map_image_ops(vas_process *process, const vas_backing_ops *ops, void *file, uint64_t file_size,
                           const char *name);

/* Creates a process whose address space holds the executable and the DLLs it imports (found,
   case-insensitively, in the executable's folder and then in config->dll_path), each once, a
   PEB, a process heap region (the image's SizeOfHeapReserve / Commit) and a first thread. The
   image decides the process's width (PE32: 32-bit, WOW64 on x64) and, for 32-bit processes, its
   large-address-awareness (IMAGE_FILE_LARGE_ADDRESS_AWARE); config's bits and
   large_address_aware are ignored. NULL on failure: the errors of vas_map_image, and
   ERROR_MOD_NOT_FOUND (126) when an imported DLL is missing. */
vas_process *vas_process_create_from_image(vas_machine *machine, const char *exe_path,
                                           const vas_process_config *config);

typedef struct vas_thread_info {
    uint32_t thread_id;
    uint64_t teb;
    uint64_t stack_base;          /* the top of the stack (NT_TIB.StackBase) */
    uint64_t stack_limit;         /* the lowest committed page that is not the guard (NT_TIB.StackLimit) */
    uint64_t deallocation_stack;  /* the base of the stack's reservation */
} vas_thread_info;
/* CreateThread's memory: a TEB and a stack. 0 for reserve/commit: the image's defaults
   (SizeOfStackReserve/Commit), else 1 MB / 4 KB. The reserve is rounded up to 64 KB, the commit
   to pages; the top `commit` bytes are committed PAGE_READWRITE with one PAGE_READWRITE|
   PAGE_GUARD page below. A user access that touches the guard page commits it, moves the guard
   down, updates the TEB's StackLimit and performs the access; at the bottom of the reservation
   the access raises STATUS_STACK_OVERFLOW (0xC00000FD). 0 on failure. */
int vas_thread_create(vas_process *process, uint64_t stack_reserve, uint64_t stack_commit, vas_thread_info *info);
int vas_thread_get_info(vas_process *process, uint32_t thread_id, vas_thread_info *info);
/* Fills up to max threads, oldest first; returns how many there are. */
size_t vas_process_threads(vas_process *process, vas_thread_info *out, size_t max);
/* Frees the thread's TEB and stack. ERROR_INVALID_PARAMETER for an unknown thread. */
int vas_thread_exit(vas_process *process, uint32_t thread_id);

/* What the loader put in a process. */
typedef struct vas_module_info {
    const char *name;             /* the file's name, e.g. "kernel32.dll" (valid while the process lives) */
    const char *path;             /* as it was opened */
    uint64_t base, size;          /* the image view */
    uint64_t preferred_base;      /* the header's ImageBase */
    uint64_t entry_point;         /* an address, 0 when the image has none */
    int relocated;                /* 1 when base != preferred_base */
} vas_module_info;
/* Fills up to max modules, the executable first, then in load order; returns how many there are. */
size_t vas_process_modules(vas_process *process, vas_module_info *out, size_t max);

typedef struct vas_process_info {
    uint64_t peb;
    uint64_t image_base;          /* 0 for a process not made from an image */
    uint64_t heap_base;           /* the process heap's region, 0 when none */
    uint32_t thread_count;
    uint32_t main_thread_id;
} vas_process_info;
int vas_process_get_info(vas_process *process, vas_process_info *info);

/* ---- System space and pools -----------------------------------------------------------------
 * System space is shared by every process: a page allocated there is at the same address, with
 * the same bytes, in each. Only kernel-mode accesses (vas_kernel_read / vas_kernel_write) reach
 * it; user-mode ones raise STATUS_ACCESS_VIOLATION. Its pools: nonpaged pool, always resident,
 * and paged pool, part of the system working set and paged like any other memory. */
enum { VAS_NONPAGED_POOL = 0, VAS_PAGED_POOL = 1 };
/* ExAllocatePoolWithTag. Blocks of 8-byte units (x86) or 16-byte units (64-bit) with a header
   carrying their size, pool type and tag, or whole pages for requests that do not fit a page.
   Charged to commit. 0 on failure: ERROR_INVALID_PARAMETER (size 0, an unknown pool type),
   ERROR_NOT_ENOUGH_MEMORY (the pool is full), ERROR_COMMITMENT_LIMIT. */
uint64_t vas_pool_alloc(vas_machine *machine, int pool_type, uint64_t size, uint32_t tag);
/* ExFreePoolWithTag. Where Windows would stop with BAD_POOL_CALLER (0xC2), this fails and
   changes nothing: ERROR_INVALID_PARAMETER for the wrong tag, ERROR_INVALID_BLOCK (9) for a block
   freed twice, ERROR_INVALID_ADDRESS (487) for an address that is no block. */
int      vas_pool_free(vas_machine *machine, uint64_t address, uint32_t tag);

/* Per tag and pool type, as poolmon shows them. */
typedef struct vas_pool_tag_info {
    uint32_t tag;                 /* four characters, the first in the low byte ('Proc' = 0x636F7250) */
    int pool_type;
    uint64_t allocs, frees;
    uint64_t bytes;               /* in use now, headers and rounding included */
} vas_pool_tag_info;
/* Fills up to max entries; returns how many there are. */
size_t vas_pool_tags(vas_machine *machine, vas_pool_tag_info *out, size_t max);

typedef struct vas_pool_status {
    uint64_t system_range_start;
    uint64_t base[2], size[2];    /* each pool's range, by pool type */
    uint64_t committed[2];        /* bytes of pool pages committed */
    uint64_t blocks[2];           /* allocations live */
    uint64_t resident;            /* the system working set, in bytes */
} vas_pool_status;
void vas_get_pool_status(vas_machine *machine, vas_pool_status *status);

/* The driver's view of user memory. Kernel code "in an arbitrary thread" runs with whatever
   process is current: `current` in vas_kernel_read / vas_kernel_write. KeStackAttachProcess makes
   another process current until the matching KeUnstackDetachProcess; here the caller's own
   `current` variable is what changes. */
typedef struct vas_apc_state {
    vas_process *previous;        /* the process that was current */
} vas_apc_state;
void vas_ke_stack_attach_process(vas_process **current, vas_process *process, vas_apc_state *state);
void vas_ke_unstack_detach_process(vas_process **current, const vas_apc_state *state);

/* The MDL pattern: describe a user buffer of a process (IoAllocateMdl), lock its pages in memory
   for a kind of access (MmProbeAndLockPages: VAS_EXCEPTION_READ_FAULT or _WRITE_FAULT; faults
   them in, copies write-copy pages for a write; returns 0 or the exception, locking nothing
   then), map them into system space (MmGetSystemAddressForMdlSafe: 0 on failure), then unlock
   (MmUnlockPages, which unmaps the system address too) and free. A kernel-mode access to the
   system address reaches the buffer's pages whatever process is current; locked pages are never
   paged out, and stay valid even if the process frees the buffer or exits. Pages of mapped views
   and images are refused (STATUS_NOT_SUPPORTED). */
typedef struct vas_mdl vas_mdl;
vas_mdl *vas_io_allocate_mdl(vas_process *process, uint64_t address, uint64_t length);
uint32_t vas_mm_probe_and_lock_pages(vas_mdl *mdl, uint32_t access, vas_exception *exception);
uint64_t vas_mm_get_system_address_for_mdl_safe(vas_mdl *mdl);
void     vas_mm_unlock_pages(vas_mdl *mdl);
void     vas_io_free_mdl(vas_mdl *mdl);

/* ProbeForRead / ProbeForWrite on `current`'s user space: nothing for length 0; else
   STATUS_DATATYPE_MISALIGNMENT (0x80000002) when address is not a multiple of alignment (1, 2,
   4, 8 or 16), STATUS_ACCESS_VIOLATION when the range reaches past the end of user space
   (MmUserProbeAddress, where the 64 KB off-limits area begins) or wraps. ProbeForWrite then touches every page of the range for writing
   (faulting it in, or raising its exception). Returns 0 or the exception code, also in
   *exception (which may be NULL). */
uint32_t vas_probe_for_read(vas_process *current, uint64_t address, uint64_t length, uint32_t alignment,
                            vas_exception *exception);
uint32_t vas_probe_for_write(vas_process *current, uint64_t address, uint64_t length, uint32_t alignment,
                             vas_exception *exception);

/* ---- System information and layout ------------------------------------------------------- */
typedef struct vas_system_info {
    uint32_t page_size;
    uint32_t allocation_granularity;
    uint64_t minimum_application_address;
    uint64_t maximum_application_address;
} vas_system_info;
void vas_get_system_info(vas_process *process, vas_system_info *info);

/* The partitions of a process's address space, lowest first (Windows via C/C++, table 13-1). */
typedef enum vas_partition_kind {
    VAS_PARTITION_NULL = 0,        /* NULL-pointer assignment: always inaccessible */
    VAS_PARTITION_DOS,             /* Windows 95/98: MS-DOS / 16-bit Windows compatibility */
    VAS_PARTITION_USER,            /* user mode: where allocations go */
    VAS_PARTITION_OFF_LIMITS,      /* the 64 KB just below the kernel boundary */
    VAS_PARTITION_UNUSABLE,        /* addressable but not given to this process (e.g. above 2 GB
                                      for a process that is not large-address-aware) */
    VAS_PARTITION_SHARED,          /* Windows 95/98: memory-mapped files shared by all processes */
    VAS_PARTITION_NONCANONICAL,    /* x64: addresses the CPU refuses */
    VAS_PARTITION_KERNEL           /* kernel mode: system space */
} vas_partition_kind;

typedef struct vas_partition {
    vas_partition_kind kind;
    const char *name;              /* "NULL-pointer assignment", "User mode", ... */
    uint64_t first;                /* first address */
    uint64_t last;                 /* last address (inclusive: the top partition ends at 2^64-1) */
} vas_partition;
/* Fills up to max entries; returns how many partitions there are. */
size_t vas_get_partitions(vas_process *process, vas_partition *out, size_t max);

/* Machine-wide facts. */
typedef struct vas_machine_info {
    const char *layout;              /* the canonical layout name */
    const char *description;         /* e.g. "x64, Windows 8.1 and later (128 TB user space)" */
    uint32_t page_size;
    uint32_t allocation_granularity;
    int native_bits;                 /* 32 or 64 */
    uint64_t system_range_start;     /* first kernel address for native processes */
    uint64_t ram_bytes;
    uint64_t pagefile_bytes;         /* 0 with no paging file */
} vas_machine_info;
void vas_get_machine_info(vas_machine *machine, vas_machine_info *info);

/* ---- Counters ------------------------------------------------------------------------------ */
typedef struct vas_process_counters {
    uint64_t virtual_size;           /* bytes in allocations (reserved or committed) */
    uint64_t peak_virtual_size;
    uint64_t commit_charge;          /* bytes of commit charged to the process (private bytes) */
    uint64_t peak_commit_charge;
    uint64_t allocation_count;       /* allocations (VADs) live */
    uint64_t working_set_size;       /* bytes of resident pages */
    uint64_t peak_working_set_size;
    uint64_t page_fault_count;       /* every fault: demand-zero, guard and access violations */
    uint64_t demand_zero_faults;
    uint64_t guard_page_faults;
    uint64_t access_violations;
    uint64_t page_table_pages;       /* table pages, the root included (VMMap's "Page Table") */
    uint64_t soft_faults;            /* pages taken back from standby or modified: no I/O */
    uint64_t hard_faults;            /* pages read back from a paging file */
    uint64_t in_page_errors;         /* paging-file reads that failed */
    uint64_t locked_pages;           /* VirtualLock */
} vas_process_counters;
int vas_process_get_counters(vas_process *process, vas_process_counters *counters); /* 0 on failure */

/* GlobalMemoryStatusEx: bytes, like MEMORYSTATUSEX. 0 on failure (a bad handle or NULL). */
typedef struct vas_memory_status {
    uint64_t total_phys;             /* RAM */
    uint64_t avail_phys;             /* zeroed + free + standby frames (ullAvailPhys) */
    uint64_t commit_limit;           /* RAM + paging files (ullTotalPageFile) */
    uint64_t commit_total;           /* commit charged now */
    uint64_t commit_peak;
    uint64_t avail_commit;           /* limit - total (ullAvailPageFile) */
    uint32_t process_count;
    uint32_t memory_load;            /* percent of RAM in use (dwMemoryLoad) */
} vas_memory_status;
int vas_global_memory_status(vas_machine *machine, vas_memory_status *status);

/* GetProcessMemoryInfo: bytes, like PROCESS_MEMORY_COUNTERS. 0 on failure. */
typedef struct vas_process_memory_counters {
    uint64_t page_fault_count;
    uint64_t working_set_size;
    uint64_t peak_working_set_size;
    uint64_t pagefile_usage;         /* the process's commit charge */
    uint64_t peak_pagefile_usage;
} vas_process_memory_counters;
int vas_get_process_memory_info(vas_process *process, vas_process_memory_counters *counters);

/* Process identity. */
const char *vas_process_name(vas_process *process);
uint32_t    vas_process_id(vas_process *process);
int         vas_process_bits(vas_process *process);      /* 32 or 64 */
int         vas_process_large_address_aware(vas_process *process); /* 1 or 0, the default applied */

/* ---- Diagnostics ------------------------------------------------------------------------- */
/* Runs the invariant checker over the whole machine now; 0 when every invariant holds. Debug
   builds run it after every call that changes state and abort with a report if it fails. */
int vas_check(vas_machine *machine);

/* Names for printing: "ERROR_INVALID_ADDRESS", "STATUS_NO_MEMORY", "MEM_COMMIT", and protections
   as "PAGE_READWRITE|PAGE_GUARD". Unknown values print as numbers: errors in decimal, as Windows
   documents them, everything else in hex. vas_protect_name writes into buffer and returns it;
   the others return a string that stays valid until the thread's next call. */
const char *vas_error_name(uint32_t error);
const char *vas_status_name(uint32_t status);
const char *vas_state_name(uint32_t state);
const char *vas_type_name(uint32_t type);
char       *vas_protect_name(uint32_t protect, char *buffer, size_t size);

#ifdef __cplusplus
}
#endif
#endif /* VAS_H */
