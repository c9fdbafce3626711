/*
 * tour.c - `vas tour`: a guided walk through what libvas does, for someone new to the Windows
 * virtual memory manager.
 *
 * The tour is a list of sections, one static function each, run in order and numbered by their
 * place in `sections[]`; a later part of the library (physical memory, paging, sections, images,
 * system space) adds its section by writing one more function and one more line there. Each
 * section builds its own machines and processes through the public header only, makes real
 * calls and prints what the library answers: every address, size, state and error shown is
 * computed live, never typed in. The only inputs are the configurations and calls themselves.
 *
 * The tour doubles as a smoke test. A call that should succeed and fails, a failure with an
 * error other than the one Windows gives, or an invariant-checker complaint is reported on
 * stderr and makes `vas tour` exit with status 1. The library is deterministic (no address
 * randomisation by default), so stdout is the same bytes on every run.
 */
#include "cli.h"
#include "print.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define KB 1024ull
#define MB (1024ull * KB)
#define COUNT_OF(array) (sizeof(array) / sizeof(array)[0])
#define KUSER_SHARED_DATA 0x7FFE0000ull /* the shared user page, at the same address in every process */

/* ---- Shared helpers ---------------------------------------------------------------------- */

static int problems; /* unexpected answers from the library; any make the tour fail */

/* Records that `what` failed when it should not have; returns ok. */
static int expect(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "vas tour: %s failed: %s\n", what, vas_error_name(vas_last_error()));
        problems++;
    }
    return ok;
}

/* A machine with one process on it, or NULL (reported) if the library refuses either. */
static vas_process *start_process(vas_machine **machine, const vas_machine_config *machine_config,
                                  const vas_process_config *process_config)
{
    *machine = vas_machine_create(machine_config);
    if (!expect(*machine != NULL, "vas_machine_create"))
        return NULL;
    vas_process *process = vas_process_create(*machine, process_config);
    if (!expect(process != NULL, "vas_process_create")) {
        vas_machine_destroy(*machine);
        *machine = NULL;
    }
    return process;
}

/* Runs the invariant checker over the machine, then destroys it. */
static void finish_machine(vas_machine *machine)
{
    expect(vas_check(machine) == 0, "vas_check");
    vas_machine_destroy(machine);
}

static label protect_label(uint32_t protect)
{
    label l;
    vas_protect_name(protect, l.s, sizeof l.s);
    return l;
}

static uint64_t round_up(uint64_t value, uint64_t alignment)
{
    return (value + alignment - 1) / alignment * alignment;
}

/* VMMap's name for a region. A free region that starts inside a 64 KB granule is the tail of a
   smaller reservation: nothing can ever be reserved there, and VMMap calls it "Unusable". A view
   is a "Mapped File" when GetMappedFileName finds its file, else "Shareable" (paging-file
   backed), as VMMap decides. */
static const char *vmmap_type(vas_process *process, const vas_memory_basic_information *region,
                              uint32_t granularity)
{
    char path[8];
    if (region->state == VAS_MEM_FREE)
        return region->base_address % granularity ? "Unusable" : "Free";
    switch (region->type) {
    case VAS_MEM_PRIVATE: return "Private Data";
    case VAS_MEM_IMAGE: return "Image";
    case VAS_MEM_MAPPED:
        return vas_get_mapped_file_name(process, region->base_address, path, sizeof path) ? "Mapped File"
                                                                                          : "Shareable";
    default: return vas_type_name(region->type);
    }
}

/* The VirtualQuery walk, as VMMap shows it: one row per region from `from` up to the first
   region starting at or past `to`, or to the top of user space. A free region that starts
   inside a granule is split at the granule's end, into its Unusable part and the Free rest. */
static void print_walk(vas_process *process, uint64_t from, uint64_t to)
{
    vas_system_info system;
    vas_get_system_info(process, &system);
    int bits = vas_process_bits(process);
    table t;
    table_begin(&t, "Address", "Size", "State", "Protect", "Type", "Allocation base", NULL);
    vas_memory_basic_information region;
    for (uint64_t address = from;
         address < to && vas_virtual_query(process, address, &region, sizeof region);) {
        uint64_t end = region.base_address + region.region_size;
        if (!expect(end > address, "VirtualQuery (a region that ends before it starts)"))
            break;
        const char *type = vmmap_type(process, &region, system.allocation_granularity);
        if (region.state == VAS_MEM_FREE && region.base_address % system.allocation_granularity) {
            uint64_t granule_end = round_up(region.base_address, system.allocation_granularity);
            if (granule_end < end)
                end = granule_end;
        }
        int is_free = region.state == VAS_MEM_FREE;
        table_row(&t, address_label(region.base_address, bits).s,
                  size_label(end - region.base_address).s, vas_state_name(region.state),
                  protect_label(region.protect).s, type,
                  is_free ? "-" : address_label(region.allocation_base, bits).s);
        address = end;
    }
    table_print(&t);
}

/* One attempted call, shown as Windows code would write it, with the error the library left in
   vas_last_error(). expected_error is what Windows gives (0: the call succeeds); a different
   outcome is a problem. */
__attribute__((format(printf, 4, 5)))
static void show_attempt(int succeeded, uint32_t expected_error, const char *what, const char *call_format, ...)
{
    uint32_t error = succeeded ? 0 : vas_last_error();
    char call[160];
    va_list args;
    va_start(args, call_format);
    vsnprintf(call, sizeof call, call_format, args);
    va_end(args);
    printf("  %s\n    %s\n", what, call);
    if (succeeded)
        printf("    -> succeeds\n\n");
    else
        printf("    -> fails; GetLastError() = %" PRIu32 " %s\n\n", error, vas_error_name(error));
    if (error != expected_error) {
        fprintf(stderr, "vas tour: %s: got %s, Windows gives %s\n", call, vas_error_name(error),
                vas_error_name(expected_error));
        problems++;
    }
}

/* ---- 1. Layouts and partitions ----------------------------------------------------------- */

typedef struct layout_example {
    const char *title;
    vas_machine_config machine;
    vas_process_config process;
} layout_example;

static const layout_example layout_examples[] = {
    {"x64, Windows 8.1 and later, 64-bit process", {.layout = "x64"}, {.bits = 64}},
    {"x64, Windows Vista to 8, 64-bit process", {.layout = "x64-win7"}, {.bits = 64}},
    {"x86, default boot, 32-bit process", {.layout = "x86"}, {.large_address_aware = -1}},
    {"x86, IncreaseUserVa 3072, large-address-aware process",
     {.layout = "x86", .increase_user_va_mb = 3072}, {.large_address_aware = 1}},
    {"x86, IncreaseUserVa 3072, process not large-address-aware",
     {.layout = "x86", .increase_user_va_mb = 3072}, {.large_address_aware = -1}},
    {"WOW64: 32-bit process on x64, not large-address-aware", {.layout = "x64"},
     {.bits = 32, .large_address_aware = -1}},
    {"WOW64: 32-bit process on x64, large-address-aware", {.layout = "x64"},
     {.bits = 32, .large_address_aware = 1}},
    {"IA-64 (Itanium), 64-bit process", {.layout = "ia64"}, {.bits = 64}},
    {"Windows 95/98, 32-bit process", {.layout = "win9x"}, {0}},
};

static void print_layout(const layout_example *example)
{
    vas_machine *machine;
    vas_process *process = start_process(&machine, &example->machine, &example->process);
    if (!process)
        return;
    vas_machine_info info;
    vas_system_info system;
    vas_partition partitions[8];
    vas_get_machine_info(machine, &info);
    vas_get_system_info(process, &system);
    size_t count = vas_get_partitions(process, partitions, COUNT_OF(partitions));
    if (!expect(count <= COUNT_OF(partitions), "vas_get_partitions (more than the tour can show)"))
        count = COUNT_OF(partitions);
    int bits = vas_process_bits(process);

    print_text("-- %s --\nMachine \"%s\": %s. Pages of %s, allocation granularity %s. "
               "GetSystemInfo: application addresses %s to %s.",
               example->title, info.layout, info.description, size_label(info.page_size).s,
               size_label(info.allocation_granularity).s,
               address_label(system.minimum_application_address, bits).s,
               address_label(system.maximum_application_address, bits).s);
    table t;
    table_begin(&t, "Partition", "First", "Last", "Size", NULL);
    for (size_t i = 0; i < count; i++)
        table_row(&t, partitions[i].name, address_label(partitions[i].first, bits).s,
                  address_label(partitions[i].last, bits).s,
                  size_label(partitions[i].last - partitions[i].first + 1).s);
    table_print(&t);
    finish_machine(machine);
}

static void tour_layouts(void)
{
    print_text("Every process has its own address space, cut into partitions. Only the user-mode "
               "partition can ever hold an allocation; the others are there to catch bad pointers "
               "(the NULL-pointer partition, the 64 KB below the kernel), belong to the kernel, "
               "or are simply out of reach. Where the lines fall depends on the processor, the "
               "Windows version, a boot option (IncreaseUserVa) and a flag in the program's header "
               "(/LARGEADDRESSAWARE). Each table below is one simulated machine and process, as "
               "vas_get_partitions reports it.");
    for (size_t i = 0; i < COUNT_OF(layout_examples); i++)
        print_layout(&layout_examples[i]);
    print_text("Note how the 3 GB boot option helps only large-address-aware programs, and how "
               "WOW64 gives such a 32-bit program almost the full 4 GB, since the 64-bit kernel "
               "lies far above it.");
}

/* ---- 2. A process, before and after ------------------------------------------------------ */

static void tour_process_walk(void)
{
    vas_machine *machine;
    vas_process_config config = {.name = "notepad.exe"};
    vas_process *process = start_process(&machine, NULL, &config);
    if (!process)
        return;
    vas_memory_basic_information shared, rest;
    int bits = vas_process_bits(process);
    if (expect(vas_virtual_query(process, KUSER_SHARED_DATA, &shared, sizeof shared) != 0, "VirtualQuery") &&
        expect(vas_virtual_query(process, shared.base_address + shared.region_size, &rest, sizeof rest) != 0,
               "VirtualQuery"))
        print_text("A new process, %s (id %" PRIu32 "), on the default machine. Walking its address "
                   "space with VirtualQuery, from address 0 upward, one region at a time, gives the "
                   "map below, as VMMap would show it. A region is a run of pages with the same "
                   "state and protection inside one allocation; free space is one region up to the "
                   "next allocation, however large, and the NULL-pointer partition counts as "
                   "free space too (though nothing may be allocated there, see section 4). "
                   "Protect is 0 for reserved pages: they have no protection until committed. "
                   "Type is VMMap's name: Private Data for MEM_PRIVATE, Free for MEM_FREE.\n"
                   "Even an empty process holds one allocation: VirtualQuery(%s) reports %s of %s, "
                   "%s. This is KUSER_SHARED_DATA, where the kernel publishes the time and the "
                   "Windows version to every process. The rest of its 64 KB granule (%s) is %s.",
                   vas_process_name(process), vas_process_id(process),
                   address_label(KUSER_SHARED_DATA, bits).s, size_label(shared.region_size).s,
                   vas_state_name(shared.state), protect_label(shared.protect).s,
                   size_label(rest.region_size).s, vas_state_name(rest.state));
    print_walk(process, 0, UINT64_MAX);

    uint64_t reservation_size = 1 * MB, commit_size = 16 * KB;
    uint64_t base = vas_virtual_alloc(process, 0, reservation_size, VAS_MEM_RESERVE, VAS_PAGE_READWRITE);
    expect(base != 0, "VirtualAlloc(MEM_RESERVE)");
    expect(vas_virtual_alloc(process, base, commit_size, VAS_MEM_COMMIT, VAS_PAGE_READWRITE) == base,
           "VirtualAlloc(MEM_COMMIT)");
    print_text("Now the program reserves %s, letting the system choose the address, and commits the "
               "first %s of it:\n"
               "  base = VirtualAlloc(NULL, %s, MEM_RESERVE, PAGE_READWRITE) = %s\n"
               "  VirtualAlloc(base, %s, MEM_COMMIT, PAGE_READWRITE)\n"
               "Reserving claims addresses only; committing pages is what is charged against "
               "memory (section 5). The reservation went to the lowest free 64 KB boundary; "
               "both of its regions share one allocation base.",
               size_label(reservation_size).s, size_label(commit_size).s,
               size_label(reservation_size).s, address_label(base, bits).s, size_label(commit_size).s);
    print_walk(process, 0, UINT64_MAX);
    finish_machine(machine);
}

/* ---- 3. Granularity, pages and protection ------------------------------------------------ */

static void tour_granularity(void)
{
    vas_machine *machine;
    vas_process *process = start_process(&machine, NULL, NULL);
    if (!process)
        return;
    vas_system_info system;
    vas_get_system_info(process, &system);
    int bits = vas_process_bits(process);
    uint64_t page = system.page_size, granule = system.allocation_granularity;

    uint64_t first = vas_virtual_alloc(process, 0, page, VAS_MEM_RESERVE, VAS_PAGE_READWRITE);
    uint64_t second = vas_virtual_alloc(process, 0, page, VAS_MEM_RESERVE, VAS_PAGE_READWRITE);
    expect(first && second, "VirtualAlloc(MEM_RESERVE)");
    print_text("Pages are %s, but reservations start on %s boundaries (the allocation "
               "granularity). Two reservations of one page each:\n"
               "  VirtualAlloc(NULL, %s, MEM_RESERVE, PAGE_READWRITE) = %s\n"
               "  VirtualAlloc(NULL, %s, MEM_RESERVE, PAGE_READWRITE) = %s\n"
               "The second starts %s after the first. The %s after each page stays free, yet no "
               "reservation can ever start there: VMMap calls it Unusable.",
               size_label(page).s, size_label(granule).s, size_label(page).s,
               address_label(first, bits).s, size_label(page).s, address_label(second, bits).s,
               size_label(second - first).s, size_label(granule - page).s);
    print_walk(process, first, second + granule);

    uint64_t base = vas_virtual_alloc(process, 0, granule, VAS_MEM_RESERVE, VAS_PAGE_READWRITE);
    expect(base != 0, "VirtualAlloc(MEM_RESERVE)");
    expect(vas_virtual_alloc(process, base + page, 3 * page, VAS_MEM_COMMIT, VAS_PAGE_READWRITE) != 0,
           "VirtualAlloc(MEM_COMMIT)");
    print_text("Inside a reservation, pages are committed one by one. Reserve %s at %s, then commit "
               "three pages starting at its second page:\n"
               "  VirtualAlloc(%s, %s, MEM_COMMIT, PAGE_READWRITE)",
               size_label(granule).s, address_label(base, bits).s,
               address_label(base + page, bits).s, size_label(3 * page).s);
    print_walk(process, base, base + granule);

    uint32_t old_protect = 0;
    expect(vas_virtual_protect(process, base + 2 * page, page, VAS_PAGE_READONLY, &old_protect),
           "VirtualProtect");
    print_text("VirtualProtect changes the protection of whole pages. Making the middle one of the "
               "three read-only splits the committed region into three runs:\n"
               "  VirtualProtect(%s, %s, PAGE_READONLY, &old) -> old = %s",
               address_label(base + 2 * page, bits).s, size_label(page).s, protect_label(old_protect).s);
    print_walk(process, base, base + granule);

    expect(vas_virtual_free(process, base + 2 * page, page, VAS_MEM_DECOMMIT), "VirtualFree(MEM_DECOMMIT)");
    print_text("Decommitting gives a page back but keeps its addresses reserved:\n"
               "  VirtualFree(%s, %s, MEM_DECOMMIT)",
               address_label(base + 2 * page, bits).s, size_label(page).s);
    print_walk(process, base, base + granule);

    expect(vas_virtual_free(process, base, 0, VAS_MEM_RELEASE), "VirtualFree(MEM_RELEASE)");
    print_text("Releasing frees the whole allocation at once, committed pages and all. It takes the "
               "allocation base and a size of 0:\n"
               "  VirtualFree(%s, 0, MEM_RELEASE)",
               address_label(base, bits).s);
    print_walk(process, base, base + granule);
    finish_machine(machine);
}

/* ---- 4. Failed calls --------------------------------------------------------------------- */

static void tour_errors(void)
{
    vas_machine *machine;
    vas_process *process = start_process(&machine, NULL, NULL);
    if (!process)
        return;
    vas_system_info system;
    vas_get_system_info(process, &system);
    int bits = vas_process_bits(process);
    uint64_t page = system.page_size, granule = system.allocation_granularity;
    uint64_t free_address = 0x50000000, null_address = 0x1000;
    uint64_t reserved = vas_virtual_alloc(process, 0, granule, VAS_MEM_RESERVE, VAS_PAGE_READWRITE);
    expect(reserved != 0, "VirtualAlloc(MEM_RESERVE)");
    vas_partition partitions[8];
    size_t count = vas_get_partitions(process, partitions, COUNT_OF(partitions));
    uint64_t kernel = 0;
    for (size_t i = 0; i < count && i < COUNT_OF(partitions); i++)
        if (partitions[i].kind == VAS_PARTITION_KERNEL)
            kernel = partitions[i].first;
    uint32_t old_protect;
    vas_memory_basic_information region;

    print_text("Win32 calls fail by returning 0 (NULL or FALSE) and leaving an error code for "
               "GetLastError; vas_last_error() plays that part, and vas_error_name() names the code. "
               "Some failures, on a process that has reserved %s at %s:",
               size_label(granule).s, address_label(reserved, bits).s);
    show_attempt(vas_virtual_alloc(process, free_address, page, VAS_MEM_COMMIT, VAS_PAGE_READWRITE) != 0,
                 VAS_ERROR_INVALID_ADDRESS, "Commit pages that were never reserved:",
                 "VirtualAlloc(%s, %s, MEM_COMMIT, PAGE_READWRITE)",
                 address_label(free_address, bits).s, size_label(page).s);
    show_attempt(vas_virtual_free(process, reserved, granule, VAS_MEM_RELEASE), VAS_ERROR_INVALID_PARAMETER,
                 "Release with a nonzero size (Win32 releases whole allocations only):",
                 "VirtualFree(%s, %s, MEM_RELEASE)", address_label(reserved, bits).s, size_label(granule).s);
    show_attempt(vas_virtual_protect(process, reserved, page, VAS_PAGE_READONLY, &old_protect),
                 VAS_ERROR_INVALID_ADDRESS, "Protect pages that are reserved but not committed:",
                 "VirtualProtect(%s, %s, PAGE_READONLY, &old)", address_label(reserved, bits).s,
                 size_label(page).s);
    show_attempt(vas_virtual_alloc(process, 0, 0, VAS_MEM_RESERVE, VAS_PAGE_READWRITE) != 0,
                 VAS_ERROR_INVALID_PARAMETER, "Reserve zero bytes:",
                 "VirtualAlloc(NULL, 0, MEM_RESERVE, PAGE_READWRITE)");
    show_attempt(vas_virtual_alloc(process, 0, page, VAS_MEM_RESERVE | VAS_MEM_COMMIT,
                                   VAS_PAGE_WRITECOPY) != 0,
                 VAS_ERROR_INVALID_PARAMETER,
                 "Ask for copy-on-write private memory (only views of sections can be copy-on-write):",
                 "VirtualAlloc(NULL, %s, MEM_RESERVE | MEM_COMMIT, PAGE_WRITECOPY)", size_label(page).s);
    show_attempt(vas_virtual_alloc(process, null_address, page, VAS_MEM_RESERVE | VAS_MEM_COMMIT,
                                   VAS_PAGE_READWRITE) != 0,
                 VAS_ERROR_INVALID_ADDRESS, "Allocate in the NULL-pointer partition:",
                 "VirtualAlloc(%s, %s, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE)",
                 address_label(null_address, bits).s, size_label(page).s);
    show_attempt(vas_virtual_query(process, kernel, &region, sizeof region) != 0,
                 VAS_ERROR_INVALID_PARAMETER, "Query an address above user space (the kernel's):",
                 "VirtualQuery(%s, &mbi, sizeof mbi)", address_label(kernel, bits).s);

    uint64_t base = free_address, size = page;
    uint32_t status = vas_nt_allocate_virtual_memory(process, &base, 0, &size, VAS_MEM_COMMIT,
                                                     VAS_PAGE_READWRITE);
    print_text("Underneath, each Win32 call is a native call that returns an NTSTATUS, which "
               "kernel32 turns into the Win32 error. The first failure above, made as "
               "NtAllocateVirtualMemory, returns 0x%08" PRIX32 " %s, and RtlNtStatusToDosError "
               "maps that to %" PRIu32 " %s.",
               status, vas_status_name(status), vas_nt_status_to_dos_error(status),
               vas_error_name(vas_nt_status_to_dos_error(status)));
    finish_machine(machine);

    vas_machine_config small = {.ram_bytes = 16 * MB, .pagefile_bytes = VAS_NO_PAGEFILE};
    process = start_process(&machine, &small, NULL);
    if (!process)
        return;
    vas_memory_status memory;
    vas_global_memory_status(machine, &memory);
    uint64_t want = 2 * memory.commit_limit;
    print_text("Committed memory must be backed by RAM or the paging file, so the system refuses "
               "to commit more than it could ever back. A small machine: %s of RAM, no paging "
               "file, so a commit limit of %s.",
               size_label(memory.total_phys).s, size_label(memory.commit_limit).s);
    show_attempt(vas_virtual_alloc(process, 0, want, VAS_MEM_RESERVE | VAS_MEM_COMMIT,
                                   VAS_PAGE_READWRITE) != 0,
                 VAS_ERROR_COMMITMENT_LIMIT, "Commit more than the commit limit:",
                 "VirtualAlloc(NULL, %s, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE)", size_label(want).s);
    show_attempt(vas_virtual_alloc(process, 0, want, VAS_MEM_RESERVE, VAS_PAGE_READWRITE) != 0, 0,
                 "Only reserve the same amount (address space costs no commit):",
                 "VirtualAlloc(NULL, %s, MEM_RESERVE, PAGE_READWRITE)", size_label(want).s);
    finish_machine(machine);
}

/* ---- 5. Commit charge -------------------------------------------------------------------- */

/* Everything the tables of sections 5, 7 and 8 show, taken at one moment. */
typedef struct snapshot {
    vas_memory_status machine;
    vas_physical_status physical;
    vas_paging_status paging;
    vas_process_counters process;
} snapshot;

static void take_snapshot(vas_machine *machine, vas_process *process, snapshot *s)
{
    vas_global_memory_status(machine, &s->machine);
    vas_get_physical_status(machine, &s->physical);
    vas_get_paging_status(machine, &s->paging);
    expect(vas_process_get_counters(process, &s->process), "vas_process_get_counters");
}

typedef enum value_format { AS_SIZE, AS_COUNT, AS_PERCENT } value_format;

/* One row of a four-snapshot table: a counter's name and its value in each snapshot. */
static void snapshot_row(table *t, const char *name, const uint64_t values[4], value_format format)
{
    label cells[4];
    for (int i = 0; i < 4; i++) {
        if (format == AS_SIZE)
            cells[i] = size_label(values[i]);
        else
            snprintf(cells[i].s, sizeof cells[i].s, "%" PRIu64 "%s", values[i], format == AS_PERCENT ? "%" : "");
    }
    table_row(t, name, cells[0].s, cells[1].s, cells[2].s, cells[3].s);
}
#define SNAPSHOT_ROW(t, s, name, field, format)                                                    \
    snapshot_row(t, name, (const uint64_t[4]){(s)[0].field, (s)[1].field, (s)[2].field, (s)[3].field}, format)

static void tour_commit_charge(void)
{
    vas_machine *machine;
    vas_process *process = start_process(&machine, NULL, NULL);
    if (!process)
        return;
    int bits = vas_process_bits(process);
    uint64_t reserve_size = 64 * MB, commit_size = 16 * MB, decommit_size = 8 * MB;
    snapshot s[4];
    take_snapshot(machine, process, &s[0]);
    uint64_t base = vas_virtual_alloc(process, 0, reserve_size, VAS_MEM_RESERVE, VAS_PAGE_READWRITE);
    expect(base != 0, "VirtualAlloc(MEM_RESERVE)");
    take_snapshot(machine, process, &s[1]);
    expect(vas_virtual_alloc(process, base, commit_size, VAS_MEM_COMMIT, VAS_PAGE_READWRITE) == base,
           "VirtualAlloc(MEM_COMMIT)");
    take_snapshot(machine, process, &s[2]);
    uint64_t decommit_offset = commit_size - decommit_size;
    expect(vas_virtual_free(process, base + decommit_offset, decommit_size, VAS_MEM_DECOMMIT),
           "VirtualFree(MEM_DECOMMIT)");
    take_snapshot(machine, process, &s[3]);

    print_text("Committed pages are charged against the machine's commit limit (RAM plus paging "
               "files) from the moment they are committed, touched or not. The machine-wide view "
               "is GlobalMemoryStatusEx's (vas_global_memory_status), the per-process one the "
               "process's counters (vas_process_get_counters). Four snapshots of one process on "
               "the default machine: at start, then after each of\n"
               "  base = VirtualAlloc(NULL, %s, MEM_RESERVE, PAGE_READWRITE) = %s\n"
               "  VirtualAlloc(base, %s, MEM_COMMIT, PAGE_READWRITE)\n"
               "  VirtualFree(base + %s, %s, MEM_DECOMMIT)",
               size_label(reserve_size).s, address_label(base, bits).s, size_label(commit_size).s,
               size_label(decommit_offset).s, size_label(decommit_size).s);
    table t;
    table_begin(&t, "Counter", ">Start", ">Reserved", ">Committed", ">Decommitted", NULL);
    SNAPSHOT_ROW(&t, s, "RAM (ullTotalPhys)", machine.total_phys, AS_SIZE);
    SNAPSHOT_ROW(&t, s, "Available RAM (ullAvailPhys)", machine.avail_phys, AS_SIZE);
    SNAPSHOT_ROW(&t, s, "Commit limit (ullTotalPageFile)", machine.commit_limit, AS_SIZE);
    SNAPSHOT_ROW(&t, s, "Commit charge, all processes", machine.commit_total, AS_SIZE);
    SNAPSHOT_ROW(&t, s, "Commit left (ullAvailPageFile)", machine.avail_commit, AS_SIZE);
    SNAPSHOT_ROW(&t, s, "Commit peak", machine.commit_peak, AS_SIZE);
    SNAPSHOT_ROW(&t, s, "Process virtual size", process.virtual_size, AS_SIZE);
    SNAPSHOT_ROW(&t, s, "Process peak virtual size", process.peak_virtual_size, AS_SIZE);
    SNAPSHOT_ROW(&t, s, "Process private bytes", process.commit_charge, AS_SIZE);
    SNAPSHOT_ROW(&t, s, "Process peak private bytes", process.peak_commit_charge, AS_SIZE);
    SNAPSHOT_ROW(&t, s, "Memory load (dwMemoryLoad)", machine.memory_load, AS_PERCENT);
    SNAPSHOT_ROW(&t, s, "Process allocations (VADs)", process.allocation_count, AS_COUNT);
    table_print(&t);
    uint64_t charged_by_reserve = s[1].machine.commit_total - s[0].machine.commit_total;
    uint64_t charged_by_commit = s[2].machine.commit_total - s[1].machine.commit_total;
    uint64_t returned_by_decommit = s[2].machine.commit_total - s[3].machine.commit_total;
    uint64_t ram_used_by_commit = s[1].machine.avail_phys - s[2].machine.avail_phys;
    print_text("Reserving %s added %s of commit; committing %s of it added %s, yet took %s of RAM: "
               "a committed page gets a physical page only when first touched. Decommitting %s "
               "gave back %s, while the peaks remember. The process starts with a virtual size of "
               "%s and no commit: that is the KUSER_SHARED_DATA allocation, whose page belongs to "
               "the system.",
               size_label(reserve_size).s, size_label(charged_by_reserve).s, size_label(commit_size).s,
               size_label(charged_by_commit).s, size_label(ram_used_by_commit).s,
               size_label(decommit_size).s, size_label(returned_by_decommit).s,
               size_label(s[0].process.virtual_size).s);
    finish_machine(machine);
}

/* ---- 6. Physical memory ------------------------------------------------------------------ */

/* The address of the picture of two address spaces in Windows' documentation ("Virtual address
   spaces", in the driver documentation): Notepad.exe and MyApp.exe both use it. */
#define PICTURE_ADDRESS 0x7F793950000ull
#define PICTURE_PAGES 3

static label hex_label(uint64_t value, int digits)
{
    label l;
    snprintf(l.s, sizeof l.s, "0x%0*" PRIX64, digits, value);
    return l;
}

/* Records a call that returned `got` where Windows (or the library's contract) gives `want`. */
static int expect_status(uint32_t got, uint32_t want, const char *what)
{
    if (got != want) {
        fprintf(stderr, "vas tour: %s: got 0x%08" PRIX32 " %s, expected 0x%08" PRIX32 " %s\n", what, got,
                vas_status_name(got), want, vas_status_name(want));
        problems++;
    }
    return got == want;
}

static unsigned log2_of(uint64_t power_of_two)
{
    unsigned bits = 0;
    while (power_of_two >> (bits + 1))
        bits++;
    return bits;
}

/* "0x6, 0xB and 0xD" (hex) or "15, 478 and 156": a list of numbers for prose. */
static void number_list(char *out, size_t size, const uint64_t *values, size_t count, int hex)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < count && used < size; i++) {
        const char *joiner = i == 0 ? "" : i + 1 == count ? " and " : ", ";
        int n = snprintf(out + used, size - used, hex ? "%s0x%" PRIX64 : "%s%" PRIu64, joiner, values[i]);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

/* How a process's page tables are built: the size of an entry and the bits each index takes. */
typedef struct table_format {
    unsigned entry_bytes, index_bits, offset_bits;
} table_format;

static table_format table_format_of(vas_machine *machine)
{
    vas_machine_info info;
    vas_get_machine_info(machine, &info);
    table_format f;
    f.entry_bytes = (unsigned)info.native_bits / 8; /* 32-bit x86 without PAE: 4-byte entries */
    f.offset_bits = log2_of(info.page_size);
    f.index_bits = log2_of(info.page_size / f.entry_bytes); /* a table fills one page */
    return f;
}

/* Walks the page tables for `address` and prints the walk, one row per level. A meaning longer
   than a cell continues on the next row, split after a comma. Returns 1 if the walk succeeded. */
static int print_page_walk(vas_process *process, uint64_t address, const table_format *format,
                           vas_page_walk *walk)
{
    if (!expect_status(vas_page_table_walk(process, address, walk), VAS_STATUS_SUCCESS, "vas_page_table_walk"))
        return 0;
    table t;
    table_begin(&t, "Entry", ">Index", ">Table at", ">Entry at", ">Value", "Meaning", NULL);
    for (uint32_t i = 0; i < walk->levels; i++) {
        const vas_page_walk_level *level = &walk->level[i];
        char index[16];
        snprintf(index, sizeof index, "%" PRIu32, level->index);
        const char *meaning = level->meaning;
        char piece[TABLE_CELL_SIZE];
        for (int first = 1; first || *meaning; first = 0) {
            size_t length = strlen(meaning);
            if (length >= sizeof piece) { /* cut after the last comma that fits */
                length = sizeof piece - 1;
                while (length > 0 && meaning[length - 1] != ',')
                    length--;
                if (length == 0)
                    length = sizeof piece - 1;
            }
            snprintf(piece, sizeof piece, "%.*s", (int)length, meaning);
            meaning += length;
            while (*meaning == ' ')
                meaning++;
            if (first)
                table_row(&t, level->name, index, hex_label(level->table_physical, 0).s,
                          hex_label(level->table_physical + (uint64_t)level->index * format->entry_bytes, 0).s,
                          hex_label(level->entry, 2 * (int)format->entry_bytes).s, piece);
            else
                table_row(&t, "", "", "", "", "", piece);
        }
    }
    table_print(&t);
    return 1;
}

/* The two processes of Windows' picture: the same virtual pages, different frames. */
static void show_two_processes(void)
{
    vas_machine *machine;
    vas_process_config notepad_config = {.name = "Notepad.exe"}, myapp_config = {.name = "MyApp.exe"};
    vas_process *processes[2];
    processes[0] = start_process(&machine, NULL, &notepad_config);
    if (!processes[0])
        return;
    processes[1] = vas_process_create(machine, &myapp_config);
    if (!expect(processes[1] != NULL, "vas_process_create")) {
        vas_machine_destroy(machine);
        return;
    }
    vas_system_info system;
    vas_get_system_info(processes[0], &system);
    int bits = vas_process_bits(processes[0]);
    uint64_t page = system.page_size, size = PICTURE_PAGES * page;
    table_format format = table_format_of(machine);

    uint32_t untouched[2];
    for (int p = 0; p < 2; p++) {
        expect(vas_virtual_alloc(processes[p], PICTURE_ADDRESS, size, VAS_MEM_RESERVE | VAS_MEM_COMMIT,
                                 VAS_PAGE_READWRITE) == PICTURE_ADDRESS,
               "VirtualAlloc(MEM_RESERVE | MEM_COMMIT)");
        uint64_t ignored;
        untouched[p] = vas_virtual_to_physical(processes[p], PICTURE_ADDRESS, &ignored);
        expect_status(untouched[p], VAS_STATUS_INVALID_ADDRESS, "vas_virtual_to_physical before any touch");
    }
    print_text("Every process has page tables of its own, so one virtual address can lead to different "
               "physical memory in different processes. Windows' documentation draws this with two "
               "processes, Notepad.exe and MyApp.exe, that both use pages at %s. Here are those two "
               "processes on one machine, each reserving and committing three pages at that very "
               "address:\n"
               "  VirtualAlloc(%s, %s, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE)\n"
               "Committed pages have no physical memory yet: vas_virtual_to_physical, which reads the "
               "page tables, answers %s in both processes. Then the two processes take turns writing "
               "a short text at the start of each page (Notepad.exe's first page, MyApp.exe's first "
               "page, Notepad.exe's second, and so on), and read them back once all six are written. "
               "The physical address is the frame number times the page size (%s) plus the offset:",
               address_label(PICTURE_ADDRESS, bits).s, address_label(PICTURE_ADDRESS, bits).s,
               size_label(size).s, vas_status_name(untouched[0]), size_label(page).s);

    char written[2][PICTURE_PAGES][24];
    for (int i = 0; i < PICTURE_PAGES; i++)
        for (int p = 0; p < 2; p++) {
            snprintf(written[p][i], sizeof written[p][i], "%s #%d", vas_process_name(processes[p]), i + 1);
            vas_exception e;
            expect_status(vas_write(processes[p], PICTURE_ADDRESS + (uint64_t)i * page, written[p][i],
                                    strlen(written[p][i]) + 1, &e),
                          VAS_STATUS_SUCCESS, "vas_write");
        }
    table t;
    table_begin(&t, ">Touch", "Process", "Virtual address", ">Physical address", ">Frame", "Wrote",
                "Read back", NULL);
    uint64_t frames[2][PICTURE_PAGES] = {{0}};
    int touch = 0, isolated = 1, contiguous[2] = {1, 1};
    for (int i = 0; i < PICTURE_PAGES; i++)
        for (int p = 0; p < 2; p++) {
            uint64_t virtual_address = PICTURE_ADDRESS + (uint64_t)i * page, physical = 0;
            expect_status(vas_virtual_to_physical(processes[p], virtual_address, &physical), VAS_STATUS_SUCCESS,
                          "vas_virtual_to_physical");
            char back[sizeof written[p][i]] = "";
            vas_exception e;
            expect_status(vas_read(processes[p], virtual_address, back, strlen(written[p][i]) + 1, &e),
                          VAS_STATUS_SUCCESS, "vas_read");
            if (strcmp(back, written[p][i]) != 0)
                isolated = 0;
            frames[p][i] = physical / page;
            if (i > 0 && frames[p][i] != frames[p][i - 1] + 1)
                contiguous[p] = 0;
            char touch_text[16], wrote[32], read_back[32];
            snprintf(touch_text, sizeof touch_text, "%d", ++touch);
            snprintf(wrote, sizeof wrote, "\"%s\"", written[p][i]);
            snprintf(read_back, sizeof read_back, "\"%s\"", back);
            table_row(&t, touch_text, vas_process_name(processes[p]), address_label(virtual_address, bits).s,
                      hex_label(physical, 0).s, hex_label(frames[p][i], 0).s, wrote, read_back);
        }
    table_print(&t);
    int shared_frame = 0;
    for (int i = 0; i < PICTURE_PAGES; i++)
        shared_frame |= frames[0][i] == frames[1][i];
    if (!isolated || shared_frame) {
        fprintf(stderr, "vas tour: two processes see each other's memory\n");
        problems++;
    }
    vas_process_counters counters[2];
    for (int p = 0; p < 2; p++)
        expect(vas_process_get_counters(processes[p], &counters[p]), "vas_process_get_counters");
    char lists[2][64], tables[48];
    for (int p = 0; p < 2; p++)
        number_list(lists[p], sizeof lists[p], frames[p], PICTURE_PAGES, 1);
    if (counters[0].page_table_pages == counters[1].page_table_pages)
        snprintf(tables, sizeof tables, "%" PRIu64 " table pages each", counters[0].page_table_pages);
    else
        snprintf(tables, sizeof tables, "%" PRIu64 " and %" PRIu64 " table pages", counters[0].page_table_pages,
                 counters[1].page_table_pages);
    print_text("Notepad.exe's pages went to frames %s; MyApp.exe's to frames %s. Contiguous in virtual "
               "memory, the pages %s in physical memory, and the same virtual page reaches %s frame in "
               "each process. A first touch takes whichever zeroed frame comes next; the frames in "
               "between went to page tables, which are built on demand too (the two processes now have %s, "
               "the roots included). Each process read back %s: neither "
               "can reach the other's frames, because no entry of its page tables names them.",
               lists[0], lists[1], contiguous[0] && contiguous[1] ? "happen to be contiguous" : "are scattered",
               shared_frame ? "the same" : "a different", tables, isolated ? "exactly its own texts" : "something else (a bug)");

    uint64_t address = PICTURE_ADDRESS + page + 0x234;
    vas_page_walk walk;
    print_text("The processor finds a frame by walking the page tables. On x64 a table is one %s page "
               "of %u entries of %u bytes, so each level's index takes %u bits of the address; four "
               "levels and a %u-bit offset cover the %u bits of a canonical address. The walk starts at "
               "the root table, whose physical address the processor keeps in its CR3 register while "
               "the process runs. Each entry gives the frame of the next table, and the last one (the "
               "PTE) the frame of the page itself. Here is the walk of %s in Notepad.exe, as "
               "vas_page_table_walk reports it (Entry at = Table at + Index x %u):",
               size_label(page).s, 1u << format.index_bits, format.entry_bytes, format.index_bits,
               format.offset_bits, 4 * format.index_bits + format.offset_bits, address_label(address, bits).s,
               format.entry_bytes);
    if (print_page_walk(processes[0], address, &format, &walk)) {
        char indexes[64];
        uint64_t index_values[4];
        for (uint32_t i = 0; i < walk.levels && i < 4; i++)
            index_values[i] = walk.level[i].index;
        number_list(indexes, sizeof indexes, index_values, walk.levels < 4 ? walk.levels : 4, 0);
        uint64_t physical = 0;
        expect_status(vas_virtual_to_physical(processes[0], address, &physical), VAS_STATUS_SUCCESS,
                      "vas_virtual_to_physical");
        if (!walk.resident || walk.physical_address != physical) {
            fprintf(stderr, "vas tour: the page-table walk and vas_virtual_to_physical disagree\n");
            problems++;
        }
        print_text("The address splits into the indexes %s and the offset 0x%" PRIX64 ". The PTE's frame "
                   "plus the offset is the physical address %s, as vas_virtual_to_physical says. In an "
                   "entry, bit 0 is Valid, bit 1 Write, bit 2 User (may be used from user mode), bit 5 "
                   "Accessed and bit 6 Dirty, both set by the processor; the frame number starts at bit "
                   "12, and bit 63 is No-Execute. Windows leaves the upper levels open (writable, "
                   "executable, user), so the PTE alone decides what may be done with its page.",
                   indexes, address & (page - 1), hex_label(walk.physical_address, 0).s);
    }
    finish_machine(machine);
}

/* The same walk on 32-bit x86, to compare the formats. */
static void show_x86_walk(void)
{
    vas_machine *machine;
    vas_machine_config machine_config = {.layout = "x86"};
    vas_process_config process_config = {.name = "MyApp.exe"};
    vas_process *process = start_process(&machine, &machine_config, &process_config);
    if (!process)
        return;
    int bits = vas_process_bits(process);
    table_format format = table_format_of(machine);
    vas_system_info system;
    vas_get_system_info(process, &system);
    uint64_t base = vas_virtual_alloc(process, 0, system.page_size, VAS_MEM_RESERVE | VAS_MEM_COMMIT,
                                      VAS_PAGE_READWRITE);
    expect(base != 0, "VirtualAlloc(MEM_RESERVE | MEM_COMMIT)");
    uint64_t address = base + 0x234;
    uint32_t value = 42;
    vas_exception e;
    expect_status(vas_write(process, address, &value, sizeof value, &e), VAS_STATUS_SUCCESS, "vas_write");
    print_text("On 32-bit x86 (without PAE) the pages are %s too, but entries take %u bytes, so a table "
               "holds %u of them and an index takes %u bits: two levels and the %u-bit offset cover a "
               "%u-bit address. MyApp.exe as a 32-bit process on an x86 machine, after committing a page "
               "at %s and writing to %s:",
               size_label(system.page_size).s, format.entry_bytes, 1u << format.index_bits, format.index_bits,
               format.offset_bits, 2 * format.index_bits + format.offset_bits, address_label(base, bits).s,
               address_label(address, bits).s);
    vas_page_walk walk;
    if (print_page_walk(process, address, &format, &walk))
        print_text("The flags sit in the same low bits, and the frame again starts at bit 12. A 4-byte "
                   "entry has no bit 63, though: real x86 hardware cannot refuse to execute a page in "
                   "this format (DEP needs PAE's 8-byte entries), so vas keeps the no-execute flag in "
                   "bit 9, one of the bits the processor leaves to the operating system.");
    finish_machine(machine);
}

static void tour_physical(void)
{
    show_two_processes();
    show_x86_walk();
}

/* ---- 7. Page faults and exceptions --------------------------------------------------------- */

/* Demand-zero faults as the pages of one allocation are first touched, and what decommit gives back. */
static void show_demand_zero(void)
{
    vas_machine *machine;
    vas_process *process = start_process(&machine, NULL, NULL);
    if (!process)
        return;
    vas_system_info system;
    vas_get_system_info(process, &system);
    int bits = vas_process_bits(process);
    uint64_t page = system.page_size, pages = 16, first_touched = 4, size = pages * page;
    snapshot s[4];
    uint64_t base = vas_virtual_alloc(process, 0, size, VAS_MEM_RESERVE | VAS_MEM_COMMIT, VAS_PAGE_READWRITE);
    expect(base != 0, "VirtualAlloc(MEM_RESERVE | MEM_COMMIT)");
    take_snapshot(machine, process, &s[0]);
    for (uint64_t i = 0; i < pages; i++) {
        if (i == first_touched)
            take_snapshot(machine, process, &s[1]);
        uint8_t byte = 1;
        vas_exception e;
        expect_status(vas_write(process, base + i * page, &byte, 1, &e), VAS_STATUS_SUCCESS, "vas_write");
    }
    take_snapshot(machine, process, &s[2]);
    expect(vas_virtual_free(process, base, size, VAS_MEM_DECOMMIT), "VirtualFree(MEM_DECOMMIT)");
    take_snapshot(machine, process, &s[3]);

    print_text("The first touch of a committed page is a page fault: the processor finds no valid PTE "
               "and calls the memory manager, which checks that the page is committed, takes a frame "
               "from the zeroed list, fills in the PTE and lets the access run again. This is a "
               "demand-zero fault, and it is why new memory always reads as zero. The counters of one "
               "process after\n"
               "  base = VirtualAlloc(NULL, %s, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE) = %s\n"
               "then after writing a byte to each of its first %" PRIu64 " pages, after writing to all %" PRIu64
               ", and after\n"
               "  VirtualFree(base, %s, MEM_DECOMMIT)\n"
               "The frame lists are the whole machine's (vas_get_physical_status).",
               size_label(size).s, address_label(base, bits).s, first_touched, pages, size_label(size).s);
    table t;
    char touched_some[24], touched_all[24];
    snprintf(touched_some, sizeof touched_some, ">%" PRIu64 " touched", first_touched);
    snprintf(touched_all, sizeof touched_all, ">%" PRIu64 " touched", pages);
    table_begin(&t, "Counter", ">Committed", touched_some, touched_all, ">Decommitted", NULL);
    SNAPSHOT_ROW(&t, s, "Process private bytes", process.commit_charge, AS_SIZE);
    SNAPSHOT_ROW(&t, s, "Working set", process.working_set_size, AS_SIZE);
    SNAPSHOT_ROW(&t, s, "Peak working set", process.peak_working_set_size, AS_SIZE);
    SNAPSHOT_ROW(&t, s, "Page faults, all kinds", process.page_fault_count, AS_COUNT);
    SNAPSHOT_ROW(&t, s, "Demand-zero faults", process.demand_zero_faults, AS_COUNT);
    SNAPSHOT_ROW(&t, s, "Page-table pages", process.page_table_pages, AS_COUNT);
    SNAPSHOT_ROW(&t, s, "Zeroed frames", physical.zeroed, AS_COUNT);
    SNAPSHOT_ROW(&t, s, "Free frames", physical.free, AS_COUNT);
    SNAPSHOT_ROW(&t, s, "Active frames", physical.active, AS_COUNT);
    SNAPSHOT_ROW(&t, s, "  of which page tables", physical.page_table_frames, AS_COUNT);
    table_print(&t);

    uint64_t taken_first = s[0].physical.zeroed - s[1].physical.zeroed;
    uint64_t tables_first = s[1].process.page_table_pages - s[0].process.page_table_pages;
    uint64_t taken_rest = s[1].physical.zeroed - s[2].physical.zeroed;
    uint64_t tables_rest = s[2].process.page_table_pages - s[1].process.page_table_pages;
    uint64_t returned = s[3].physical.free - s[2].physical.free;
    uint64_t tables_freed = s[2].process.page_table_pages - s[3].process.page_table_pages;
    char rest[96];
    if (tables_rest == 0)
        snprintf(rest, sizeof rest, "one each: the tables built for the first pages map these too");
    else
        snprintf(rest, sizeof rest, "%" PRIu64 " of them for new page tables", tables_rest);
    print_text("Committed but untouched, the pages take no frame: the working set is %s. The first "
               "%" PRIu64 " touches took %" PRIu64 " zeroed frames: one per page, plus %" PRIu64 " for the "
               "page tables needed to map them. The next %" PRIu64 " took %" PRIu64 ", %s. Decommitting "
               "put %" PRIu64 " frames back (the pages and the %" PRIu64 " tables left with nothing to map), "
               "but on the free list, not the zeroed one: they still hold old bytes, and must be zeroed "
               "before they can serve another demand-zero fault (Windows has a zero-page thread for "
               "that). The fault counts stay: they are totals.",
               size_label(s[0].process.working_set_size).s, first_touched, taken_first, tables_first,
               pages - first_touched, taken_rest, rest, returned, tables_freed);
    finish_machine(machine);
}

static const char *access_meaning(uint32_t access)
{
    switch (access) {
    case VAS_EXCEPTION_READ_FAULT: return "EXCEPTION_READ_FAULT: a read";
    case VAS_EXCEPTION_WRITE_FAULT: return "EXCEPTION_WRITE_FAULT: a write";
    case VAS_EXCEPTION_EXECUTE_FAULT: return "EXCEPTION_EXECUTE_FAULT: a fetch";
    default: return "unknown";
    }
}

/* A faulting access, shown as the code that made it and the EXCEPTION_RECORD it raised; anything
   but the exception Windows raises is a problem. */
static void show_exception(const char *call, uint32_t status, const vas_exception *got, const vas_exception *want,
                           int bits)
{
    printf("    %s\n    -> raises 0x%08" PRIX32 " %s\n\n", call, status, vas_status_name(status));
    table t;
    table_begin(&t, "EXCEPTION_RECORD", ">Value", "Meaning", NULL);
    char access[16];
    snprintf(access, sizeof access, "%" PRIu32, got->access);
    table_row(&t, "ExceptionCode", hex_label(got->code, 8).s, vas_status_name(got->code));
    table_row(&t, "ExceptionInformation[0]", access, access_meaning(got->access));
    table_row(&t, "ExceptionInformation[1]", address_label(got->address, bits).s, "the address touched");
    table_print(&t);
    if (status != got->code || got->code != want->code || got->access != want->access ||
        got->address != want->address) {
        fprintf(stderr, "vas tour: %s: raised 0x%08" PRIX32 " (%" PRIu32 ", %#" PRIx64 "), Windows raises 0x%08" PRIX32
                " (%" PRIu32 ", %#" PRIx64 ")\n", call, got->code, got->access, got->address, want->code,
                want->access, want->address);
        problems++;
    }
}

static label query_protect(vas_process *process, uint64_t address)
{
    vas_memory_basic_information region = {0};
    expect(vas_virtual_query(process, address, &region, sizeof region) != 0, "VirtualQuery");
    return protect_label(region.protect);
}

/* Accesses the memory manager refuses: each raises an exception in the thread that made it. */
static void show_exceptions(void)
{
    vas_machine *machine;
    vas_process *process = start_process(&machine, NULL, NULL);
    if (!process)
        return;
    vas_system_info system;
    vas_get_system_info(process, &system);
    int bits = vas_process_bits(process);
    uint64_t page = system.page_size;
    char call[160];
    vas_exception e;
    uint32_t status, value;

    print_text("Some accesses the memory manager will not allow. The fault then raises an exception "
               "in the thread, and a handler (__except in C) receives an EXCEPTION_RECORD: "
               "ExceptionCode says what happened; for an access violation or a guard page, "
               "ExceptionInformation[0] says what kind of access it was and ExceptionInformation[1] "
               "which address it touched. vas_read, vas_write and vas_execute return the code and "
               "fill a vas_exception with those three values. A faulting access does nothing at all: "
               "not one byte is read or written.");

    uint64_t readonly = vas_virtual_alloc(process, 0, page, VAS_MEM_RESERVE | VAS_MEM_COMMIT, VAS_PAGE_READONLY);
    expect(readonly != 0, "VirtualAlloc(PAGE_READONLY)");
    printf("  Writing to a read-only page:\n    ro = VirtualAlloc(NULL, %s, MEM_RESERVE | MEM_COMMIT, "
           "PAGE_READONLY) = %s\n", size_label(page).s, address_label(readonly, bits).s);
    value = 42;
    status = vas_write(process, readonly + 0x10, &value, sizeof value, &e);
    show_exception("*(DWORD *)(ro + 0x10) = 42;", status, &e,
                   &(vas_exception){VAS_STATUS_ACCESS_VIOLATION, VAS_EXCEPTION_WRITE_FAULT, readonly + 0x10}, bits);
    value = 1;
    expect_status(vas_read(process, readonly + 0x10, &value, sizeof value, &e), VAS_STATUS_SUCCESS, "vas_read");
    print_text("Reading the same DWORD is allowed, and gives %" PRIu32 ": the write did nothing.", value);

    uint64_t data = vas_virtual_alloc(process, 0, page, VAS_MEM_RESERVE | VAS_MEM_COMMIT, VAS_PAGE_READWRITE);
    expect(data != 0, "VirtualAlloc(PAGE_READWRITE)");
    uint8_t ret = 0xC3, fetched = 0; /* x86's one-byte RET instruction */
    expect_status(vas_write(process, data, &ret, 1, &e), VAS_STATUS_SUCCESS, "vas_write");
    printf("  Running code written into a read-write page (x86's RET instruction, the byte 0xC3):\n"
           "    code = VirtualAlloc(NULL, %s, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE) = %s\n"
           "    code[0] = 0xC3;\n",
           size_label(page).s, address_label(data, bits).s);
    status = vas_execute(process, data, &fetched, 1, &e);
    show_exception("((void (*)(void))code)();", status, &e,
                   &(vas_exception){VAS_STATUS_ACCESS_VIOLATION, VAS_EXCEPTION_EXECUTE_FAULT, data}, bits);
    uint32_t old_protect = 0;
    expect(vas_virtual_protect(process, data, page, VAS_PAGE_EXECUTE_READ, &old_protect), "VirtualProtect");
    status = vas_execute(process, data, &fetched, 1, &e);
    expect_status(status, VAS_STATUS_SUCCESS, "vas_execute after VirtualProtect(PAGE_EXECUTE_READ)");
    print_text("This is data execution prevention (DEP), always on for 64-bit processes: the PTE of "
               "every page without an EXECUTE protection has the No-Execute bit, and the processor "
               "refuses to fetch instructions there, which stops attacks that smuggle code in as "
               "data. A program that really makes code, a JIT compiler say, changes the protection "
               "first: after VirtualProtect(code, %s, PAGE_EXECUTE_READ, &old) (old = %s), the same "
               "call %s and fetches 0x%02X.",
               size_label(page).s, protect_label(old_protect).s, status ? "still fails" : "succeeds", fetched);

    uint64_t guard = vas_virtual_alloc(process, 0, page, VAS_MEM_RESERVE | VAS_MEM_COMMIT,
                                       VAS_PAGE_READWRITE | VAS_PAGE_GUARD);
    expect(guard != 0, "VirtualAlloc(PAGE_READWRITE | PAGE_GUARD)");
    label before = query_protect(process, guard);
    printf("  Touching a guard page (VirtualQuery reports its protection as %s):\n"
           "    g = VirtualAlloc(NULL, %s, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE | PAGE_GUARD) = %s\n",
           before.s, size_label(page).s, address_label(guard, bits).s);
    value = 7;
    status = vas_write(process, guard + 0x20, &value, sizeof value, &e);
    show_exception("*(DWORD *)(g + 0x20) = 7;", status, &e,
                   &(vas_exception){VAS_STATUS_GUARD_PAGE_VIOLATION, VAS_EXCEPTION_WRITE_FAULT, guard + 0x20},
                   bits);
    label after = query_protect(process, guard);
    uint32_t retry = vas_write(process, guard + 0x20, &value, sizeof value, &e);
    expect_status(retry, VAS_STATUS_SUCCESS, "vas_write after the guard-page exception");
    uint32_t stored = 0;
    expect_status(vas_read(process, guard + 0x20, &stored, sizeof stored, &e), VAS_STATUS_SUCCESS, "vas_read");
    snprintf(call, sizeof call, "%s", retry ? "fails again" : "succeeds");
    print_text("A guard page is a one-time alarm: the first touch raises %s (0x%08" PRIX32 ", a warning, "
               "not an error) without doing the write, and the guard is gone: VirtualQuery now reports "
               "%s. The retry %s, and the DWORD reads back as %" PRIu32 ". Thread stacks grow this way: "
               "the page below the stack is a guard page, and its exception tells Windows to commit one "
               "more page and move the guard down.",
               vas_status_name(VAS_STATUS_GUARD_PAGE_VIOLATION), VAS_STATUS_GUARD_PAGE_VIOLATION, after.s,
               call, stored);

    vas_partition partitions[8];
    size_t count = vas_get_partitions(process, partitions, COUNT_OF(partitions));
    uint64_t kernel = 0;
    for (size_t i = 0; i < count && i < COUNT_OF(partitions); i++)
        if (partitions[i].kind == VAS_PARTITION_KERNEL)
            kernel = partitions[i].first;
    uint64_t quad = 0;
    printf("  Reading the first kernel-mode address from user mode:\n");
    snprintf(call, sizeof call, "value = *(ULONG64 *)%s;", address_label(kernel, bits).s);
    status = vas_read(process, kernel, &quad, sizeof quad, &e);
    show_exception(call, status, &e,
                   &(vas_exception){VAS_STATUS_ACCESS_VIOLATION, VAS_EXCEPTION_READ_FAULT, kernel}, bits);

    vas_process_counters counters;
    expect(vas_process_get_counters(process, &counters), "vas_process_get_counters");
    print_text("System space is the same in every process, but only kernel-mode code may touch it: "
               "from user mode, any access there is an access violation. The process's counters "
               "recorded everything: %" PRIu64 " page faults, of which %" PRIu64 " demand-zero, %" PRIu64
               " guard-page and %" PRIu64 " access violations.",
               counters.page_fault_count, counters.demand_zero_faults, counters.guard_page_faults,
               counters.access_violations);
    finish_machine(machine);
}

static void tour_faults(void)
{
    show_demand_zero();
    show_exceptions();
}

/* ---- 8. Paging ------------------------------------------------------------------------------ */

#define PAGING_RAM (16 * MB)
#define PAGING_FILE (64 * MB)

static label count_label(uint64_t value)
{
    label l;
    snprintf(l.s, sizeof l.s, "%" PRIu64, value);
    return l;
}

/* Writes or reads one byte in every page of [base, base + size), lowest address first. */
static void sweep_pages(vas_process *process, uint64_t base, uint64_t size, uint64_t page, int write)
{
    uint8_t byte = 1;
    vas_exception e;
    for (uint64_t address = base; address < base + size; address += page) {
        uint32_t status = write ? vas_write(process, address, &byte, 1, &e) : vas_read(process, address, &byte, 1, &e);
        if (!expect_status(status, VAS_STATUS_SUCCESS, write ? "vas_write" : "vas_read"))
            return;
    }
}

/* A process commits and writes twice the RAM of its machine, sweeps over it again and again, and
   releases it: the machine at four moments, then what each sweep cost. */
static void show_more_than_ram(void)
{
    vas_machine *machine;
    vas_machine_config config = {.ram_bytes = PAGING_RAM, .pagefile_bytes = PAGING_FILE};
    vas_process *process = start_process(&machine, &config, NULL);
    if (!process)
        return;
    vas_system_info system;
    vas_get_system_info(process, &system);
    int bits = vas_process_bits(process);
    uint64_t page = system.page_size, size = 2 * PAGING_RAM, pages = size / page;
    static const int writes[] = {1, 0, 0, 1}; /* each sweep's access (the prose follows this order) */
    enum { SWEEPS = COUNT_OF(writes) };
    snapshot s[4], after[SWEEPS + 1]; /* after[0]: before the first sweep */
    take_snapshot(machine, process, &s[0]);
    uint64_t base = vas_virtual_alloc(process, 0, size, VAS_MEM_RESERVE | VAS_MEM_COMMIT, VAS_PAGE_READWRITE);
    if (!expect(base != 0, "VirtualAlloc(MEM_RESERVE | MEM_COMMIT)")) {
        finish_machine(machine);
        return;
    }
    take_snapshot(machine, process, &after[0]);
    for (int i = 0; i < SWEEPS; i++) {
        sweep_pages(process, base, size, page, writes[i]);
        take_snapshot(machine, process, &after[i + 1]);
    }
    expect(vas_virtual_free(process, base, 0, VAS_MEM_RELEASE), "VirtualFree(MEM_RELEASE)");
    s[1] = after[0];
    s[2] = after[1];
    take_snapshot(machine, process, &s[3]);
    uint64_t minimum = 0, maximum = 0;
    expect(vas_get_process_working_set_size(process, &minimum, &maximum), "GetProcessWorkingSetSize");

    uint64_t ram = s[0].machine.total_phys, pagefile = s[0].paging.pagefile_bytes;
    uint64_t kept = ram + pagefile - s[0].machine.commit_limit;
    print_text("A process may commit more memory than the machine has RAM. The commit limit is RAM "
               "plus the paging files, less the part of RAM the system keeps for itself (1/64 in vas): "
               "pages that are not in use wait in a paging file, on disk, and come back when touched. "
               "A machine with %s of RAM and a %s paging file keeps %s, so its commit limit is %s, "
               "while section 4's machine, with the same RAM and no paging file, could commit %s. One "
               "process commits %s, twice the RAM, and writes a byte to each of its %" PRIu64 " pages:\n"
               "  base = VirtualAlloc(NULL, %s, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE) = %s\n"
               "  for (p = base; p < base + %s; p += %s) *p = 1;\n"
               "Then it sweeps over its memory three more times (below) and releases it:\n"
               "  VirtualFree(base, 0, MEM_RELEASE)\n"
               "The machine at four moments, with the paging file's use (vas_get_paging_status):",
               size_label(ram).s, size_label(pagefile).s, size_label(kept).s,
               size_label(s[0].machine.commit_limit).s, size_label(ram - kept).s, size_label(size).s, pages,
               size_label(size).s, address_label(base, bits).s, size_label(size).s, size_label(page).s);
    table t;
    table_begin(&t, "Counter", ">Start", ">Committed", ">Written", ">Released", NULL);
    SNAPSHOT_ROW(&t, s, "Commit limit (ullTotalPageFile)", machine.commit_limit, AS_SIZE);
    SNAPSHOT_ROW(&t, s, "Commit charge, all processes", machine.commit_total, AS_SIZE);
    SNAPSHOT_ROW(&t, s, "Available RAM (ullAvailPhys)", machine.avail_phys, AS_SIZE);
    SNAPSHOT_ROW(&t, s, "Memory load (dwMemoryLoad)", machine.memory_load, AS_PERCENT);
    SNAPSHOT_ROW(&t, s, "Zeroed frames", physical.zeroed, AS_COUNT);
    SNAPSHOT_ROW(&t, s, "Free frames", physical.free, AS_COUNT);
    SNAPSHOT_ROW(&t, s, "Standby frames", physical.standby, AS_COUNT);
    SNAPSHOT_ROW(&t, s, "Modified frames", physical.modified, AS_COUNT);
    SNAPSHOT_ROW(&t, s, "Active frames", physical.active, AS_COUNT);
    SNAPSHOT_ROW(&t, s, "Process working set", process.working_set_size, AS_SIZE);
    SNAPSHOT_ROW(&t, s, "Paging file in use", paging.pagefile_used, AS_SIZE);
    table_print(&t);
    print_text("Writing %s through %s of RAM worked. Once the zeroed frames ran out, the memory manager "
               "trimmed the working set: the trimmed pages, written to, went to the modified list; the "
               "modified page writer saved them to the paging file (%" PRIu64 " pages in %" PRIu64 " writes), "
               "which moved their frames to the standby list, and from there the frames went to new pages "
               "(%" PRIu64 " times). RAM stays full, as it should: only a few frames are kept available "
               "for the next faults. The working set stopped at %s; the rest of the data is in the paging "
               "file. Releasing gave everything back: the commit, the paging-file space, and the frames, "
               "on the free list (they still hold old bytes).",
               size_label(size).s, size_label(ram).s, s[2].paging.pages_written, s[2].paging.writes,
               s[2].paging.repurposed, size_label(s[2].process.working_set_size).s);

    print_text("The sweeps, one row each: the faults the process took (demand-zero, soft and hard), the "
               "paging file's reads and the pages written to it, and the working set when the sweep was "
               "done:");
    table_begin(&t, ">Sweep", "Access", ">Demand-zero", ">Soft", ">Hard", ">Reads", ">Pages written",
                ">Working set", NULL);
    for (int i = 0; i < SWEEPS; i++) {
        const snapshot *a = &after[i], *b = &after[i + 1];
        table_row(&t, count_label((uint64_t)i + 1).s, writes[i] ? "write" : "read",
                  count_label(b->process.demand_zero_faults - a->process.demand_zero_faults).s,
                  count_label(b->process.soft_faults - a->process.soft_faults).s,
                  count_label(b->process.hard_faults - a->process.hard_faults).s,
                  count_label(b->paging.reads - a->paging.reads).s,
                  count_label(b->paging.pages_written - a->paging.pages_written).s,
                  size_label(b->process.working_set_size).s);
    }
    table_print(&t);
    uint64_t least = UINT64_MAX, most = 0; /* hard faults in a sweep after the first */
    for (int i = 1; i < SWEEPS; i++) {
        uint64_t hard = after[i + 1].process.hard_faults - after[i].process.hard_faults;
        least = hard < least ? hard : least;
        most = hard > most ? hard : most;
    }
    uint64_t written_by[SWEEPS];
    for (int i = 0; i < SWEEPS; i++)
        written_by[i] = after[i + 1].paging.pages_written - after[i].paging.pages_written;
    char share[64];
    if (least == pages)
        snprintf(share, sizeof share, "every one of the %" PRIu64 " touches was", pages);
    else
        snprintf(share, sizeof share, "%" PRIu64 " to %" PRIu64 " of the %" PRIu64 " touches were", least, most,
                 pages);
    uint64_t resident = after[SWEEPS].process.working_set_size / page;
    print_text("This is thrashing. In each sweep after the first, %s a hard fault, and the process's "
               "hard-fault counter, a total, climbed to %" PRIu64 ". A loop over more memory than RAM is the worst "
               "case: the page it needs next is always the one it left longest ago, which is the one "
               "trimmed first. A hard fault waits for the disk, thousands of times longer than a memory "
               "access, so a thrashing program crawls. The working set stayed near %s, what RAM allows "
               "once the page tables and a few available frames are counted: the process's maximum "
               "working set is %s (Windows' default), but that is a soft limit, which a process may pass "
               "while no other process needs the memory. The first reading sweep still wrote %" PRIu64 " "
               "pages: the dirty ones the first sweep had left in RAM, saved as they were trimmed. The "
               "second wrote %" PRIu64 ": a page read back from the paging file keeps its copy there while "
               "it stays clean, so trimming it again costs no write. The last sweep wrote to every page "
               "again, and %" PRIu64 " pages had to be saved again%s.",
               share, after[SWEEPS].process.hard_faults, size_label(after[SWEEPS].process.working_set_size).s,
               size_label(maximum).s, written_by[1], written_by[2], written_by[3],
               written_by[3] + resident == pages ? ": all but those still in the working set" : "");
    finish_machine(machine);
}

/* Trimmed pages wait on the standby and modified lists, and come back with soft faults. */
static void show_standby_cache(void)
{
    vas_machine *machine;
    vas_process *process = start_process(&machine, NULL, NULL);
    if (!process)
        return;
    vas_system_info system;
    vas_get_system_info(process, &system);
    enum { PAGES = 64, WRITTEN = 32 };
    uint64_t page = system.page_size, size = PAGES * page, written = WRITTEN * page;
    uint64_t base = vas_virtual_alloc(process, 0, size, VAS_MEM_RESERVE | VAS_MEM_COMMIT, VAS_PAGE_READWRITE);
    if (!expect(base != 0, "VirtualAlloc(MEM_RESERVE | MEM_COMMIT)")) {
        finish_machine(machine);
        return;
    }
    snapshot s[4];
    uint64_t frames[PAGES] = {0}, same = 0;
    sweep_pages(process, base, written, page, 1);
    sweep_pages(process, base + written, size - written, page, 0);
    for (int i = 0; i < PAGES; i++)
        expect_status(vas_virtual_to_physical(process, base + (uint64_t)i * page, &frames[i]), VAS_STATUS_SUCCESS,
                      "vas_virtual_to_physical");
    take_snapshot(machine, process, &s[0]);
    expect(vas_empty_working_set(process), "EmptyWorkingSet");
    take_snapshot(machine, process, &s[1]);
    sweep_pages(process, base, size, page, 0);
    for (int i = 0; i < PAGES; i++) {
        uint64_t physical = 0;
        expect_status(vas_virtual_to_physical(process, base + (uint64_t)i * page, &physical), VAS_STATUS_SUCCESS,
                      "vas_virtual_to_physical");
        same += physical == frames[i];
    }
    take_snapshot(machine, process, &s[2]);
    expect(vas_empty_working_set(process), "EmptyWorkingSet");
    uint64_t saved = vas_write_modified_pages(machine);
    take_snapshot(machine, process, &s[3]);

    print_text("A trimmed page does not leave RAM at once. Its frame waits on the standby list if it is "
               "clean (what it holds is already in the paging file, or is still all zeros), or on the "
               "modified list if it was written since; either way it keeps its bytes until the memory "
               "manager needs the frame. Until then, a touch takes the page back with a soft fault: no "
               "disk at all. A process on the default machine, where memory is plentiful, writes to the "
               "first %d of %d new pages and only reads the others. Then it empties its working set "
               "with EmptyWorkingSet (vas_empty_working_set), reads all %d pages again, empties it once "
               "more, and the modified page writer, a system thread on Windows, runs "
               "(vas_write_modified_pages runs it on demand):",
               WRITTEN, PAGES, PAGES);
    table t;
    table_begin(&t, "Counter", ">Touched", ">Emptied", ">Touched again", ">Emptied, written", NULL);
    SNAPSHOT_ROW(&t, s, "Process working set", process.working_set_size, AS_SIZE);
    SNAPSHOT_ROW(&t, s, "Standby frames", physical.standby, AS_COUNT);
    SNAPSHOT_ROW(&t, s, "Modified frames", physical.modified, AS_COUNT);
    SNAPSHOT_ROW(&t, s, "Demand-zero faults", process.demand_zero_faults, AS_COUNT);
    SNAPSHOT_ROW(&t, s, "Soft faults", process.soft_faults, AS_COUNT);
    SNAPSHOT_ROW(&t, s, "Hard faults", process.hard_faults, AS_COUNT);
    SNAPSHOT_ROW(&t, s, "Paging-file reads", paging.reads, AS_COUNT);
    SNAPSHOT_ROW(&t, s, "Pages written to the paging file", paging.pages_written, AS_COUNT);
    table_print(&t);
    print_text("Emptying the working set sent the %" PRIu64 " pages only read to standby and the %" PRIu64
               " written ones to modified. Touching them again cost %" PRIu64 " soft faults and %" PRIu64
               " paging-file reads: %" PRIu64 " of the %d pages came back in the very frame they had left, "
               "bytes and all. After the second emptying the modified page writer saved %" PRIu64 " pages, "
               "and their frames joined the others on standby: clean now, so they can be handed to new "
               "pages at once. That is why Windows counts standby frames as available memory, and why a "
               "program that comes back to its pages soon after a trim hardly notices: the standby list is "
               "a cache of recently trimmed pages.",
               s[1].physical.standby - s[0].physical.standby, s[1].physical.modified - s[0].physical.modified,
               s[2].process.soft_faults - s[1].process.soft_faults, s[2].paging.reads - s[1].paging.reads, same,
               PAGES, saved);
    finish_machine(machine);
}

static const struct {
    uint32_t policy;
    const char *header; /* a table header: '>' and the name */
} replacement_policies[] = {
    {VAS_REPLACE_WS_AGING, ">WS aging"},
    {VAS_REPLACE_FIFO, ">FIFO"},
    {VAS_REPLACE_CLOCK, ">Clock"},
    {VAS_REPLACE_LRU, ">LRU"},
};

/* A 64-bit linear congruential generator (Knuth's MMIX constants): the same numbers on every run. */
static uint32_t next_random(uint64_t *state)
{
    *state = *state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(*state >> 33);
}

#define WORKLOAD_SIZE (40 * MB)
#define WORKLOAD_ROUNDS 3

typedef struct workload_result {
    uint64_t hard_faults; /* UINT64_MAX: the library refused to set the workload up */
    uint64_t trims;       /* while reading */
} workload_result;

/* The rule-of-thumb workload on a machine of `ram` bytes: write every page of WORKLOAD_SIZE, then
   read WORKLOAD_ROUNDS times as many random pages, 3 in 4 of them in the first quarter. */
static workload_result run_workload(uint64_t ram, uint32_t policy, uint64_t *reads)
{
    workload_result result = {UINT64_MAX, 0};
    vas_machine *machine;
    vas_machine_config config = {.ram_bytes = ram, .pagefile_bytes = PAGING_FILE, .replacement_policy = policy};
    vas_process *process = start_process(&machine, &config, NULL);
    if (!process)
        return result;
    vas_system_info system;
    vas_get_system_info(process, &system);
    uint64_t page = system.page_size, pages = WORKLOAD_SIZE / page, state = 1;
    uint64_t base = vas_virtual_alloc(process, 0, WORKLOAD_SIZE, VAS_MEM_RESERVE | VAS_MEM_COMMIT,
                                      VAS_PAGE_READWRITE);
    if (!expect(base != 0, "VirtualAlloc(MEM_RESERVE | MEM_COMMIT)")) {
        finish_machine(machine);
        return result;
    }
    sweep_pages(process, base, WORKLOAD_SIZE, page, 1);
    vas_paging_status before, after;
    vas_get_paging_status(machine, &before);
    *reads = WORKLOAD_ROUNDS * pages;
    for (uint64_t i = 0; i < *reads; i++) {
        uint64_t span = next_random(&state) % 4 ? pages / 4 : pages;
        uint8_t byte;
        vas_exception e;
        if (!expect_status(vas_read(process, base + next_random(&state) % span * page, &byte, 1, &e),
                           VAS_STATUS_SUCCESS, "vas_read"))
            break;
    }
    vas_get_paging_status(machine, &after);
    vas_process_counters counters = {0};
    expect(vas_process_get_counters(process, &counters), "vas_process_get_counters");
    finish_machine(machine);
    result.hard_faults = counters.hard_faults;
    result.trims = after.trims - before.trims;
    return result;
}

static uint64_t percent_of(uint64_t part, uint64_t whole) { return whole ? part * 100 / whole : 0; }

/* The same workload with more and more RAM, under each replacement policy. */
static void show_rule_of_thumb(void)
{
    static const uint64_t rams[] = {16 * MB, 32 * MB, 64 * MB};
    enum { POLICIES = COUNT_OF(replacement_policies), RAMS = COUNT_OF(rams), AGING = 0, FIFO = 1 };
    workload_result runs[RAMS][POLICIES];
    uint64_t reads = 0;
    for (int r = 0; r < RAMS; r++)
        for (int p = 0; p < POLICIES; p++)
            runs[r][p] = run_workload(rams[r], replacement_policies[p].policy, &reads);

    print_text("The rule of thumb: more RAM, fewer hard faults, since more of the working set fits. "
               "One workload, on machines of %s, %s and %s (each with a %s paging file), under each "
               "of the four replacement policies vas offers, which choose the pages trimming takes "
               "first: Windows' working-set aging (the pages left unused for the most trims), FIFO (the "
               "page in longest), Clock (FIFO order, but a page accessed since the clock hand last "
               "passed is spared once) and LRU (the page least recently used). The process writes to "
               "every page of %s, then reads a byte of pages picked at random, with a fixed seed so "
               "that every run is the same: 3 reads in 4 go to the first quarter of the data, its hot "
               "part, and the others anywhere; %" PRIu64 " reads in all, %d per page. Hard faults, and "
               "their share of the reads:",
               size_label(rams[0]).s, size_label(rams[1]).s, size_label(rams[2]).s, size_label(PAGING_FILE).s,
               size_label(WORKLOAD_SIZE).s, reads, WORKLOAD_ROUNDS);
    table t;
    table_begin(&t, ">RAM", replacement_policies[0].header, replacement_policies[1].header,
                replacement_policies[2].header, replacement_policies[3].header, NULL);
    label cells[POLICIES];
    for (int r = 0; r < RAMS; r++) {
        for (int p = 0; p < POLICIES; p++)
            if (runs[r][p].hard_faults == UINT64_MAX)
                snprintf(cells[p].s, sizeof cells[p].s, "-");
            else
                snprintf(cells[p].s, sizeof cells[p].s, "%" PRIu64 " (%" PRIu64 "%%)", runs[r][p].hard_faults,
                         percent_of(runs[r][p].hard_faults, reads));
        table_row(&t, size_label(rams[r]).s, cells[0].s, cells[1].s, cells[2].s, cells[3].s);
    }
    table_print(&t);
    for (int r = 0; r < RAMS; r++)
        for (int p = 0; p < POLICIES; p++)
            if (runs[r][p].hard_faults == UINT64_MAX)
                return; /* already reported */

    uint64_t spread[RAMS]; /* what the best policy saved over the worst, in percent */
    int best = 0, worst = 0;
    for (int r = 0; r < RAMS; r++) {
        uint64_t low = UINT64_MAX, high = 0;
        for (int p = 0; p < POLICIES; p++) {
            uint64_t hard = runs[r][p].hard_faults;
            if (r == 0 && hard < runs[0][best].hard_faults)
                best = p;
            if (r == 0 && hard > runs[0][worst].hard_faults)
                worst = p;
            low = hard < low ? hard : low;
            high = hard > high ? hard : high;
        }
        spread[r] = high ? 100 - percent_of(low, high) : 0;
    }
    uint64_t by_ram = 100 - percent_of(runs[1][AGING].hard_faults, runs[0][AGING].hard_faults);
    print_text("With Windows' policy, hard faults fell from %" PRIu64 " with %s to %" PRIu64 " with %s, and "
               "to %" PRIu64 " with %s, where all %s fit. RAM mattered %s than the policy: doubling it from "
               "%s took away %" PRIu64 "%% of the hard faults, while at %s the best policy (%s) saved "
               "%" PRIu64 "%% over the worst (%s), and at %s the four are within %" PRIu64 "%% of each other. "
               "Once the hot part fits, the hard faults left are reads of the cold part, at random, which "
               "no policy can foresee; and a page trimmed by mistake is often saved by the standby list, "
               "coming back with a soft fault.",
               runs[0][AGING].hard_faults, size_label(rams[0]).s, runs[1][AGING].hard_faults,
               size_label(rams[1]).s, runs[2][AGING].hard_faults, size_label(rams[2]).s,
               size_label(WORKLOAD_SIZE).s, by_ram > spread[0] ? "more" : "less", size_label(rams[0]).s, by_ram,
               size_label(rams[0]).s, replacement_policies[best].header + 1, spread[0],
               replacement_policies[worst].header + 1, size_label(rams[1]).s, spread[1]);

    /* Aging sorts pages by age, then by arrival: if the pages are aged more often than the hot ones
       are used, every page reaches the oldest age and the order is FIFO's. */
    uint64_t aging = runs[0][AGING].hard_faults, fifo = runs[0][FIFO].hard_faults;
    uint64_t trims = runs[0][AGING].trims, hot_pages = reads / WORKLOAD_ROUNDS / 4;
    uint64_t reads_per_trim = trims ? reads / trims : reads, hot_reuse = hot_pages * 4 / 3;
    if (100 - percent_of(aging < fifo ? aging : fifo, aging > fifo ? aging : fifo) <= 1 && reads_per_trim < hot_reuse)
        print_text("Windows' aging did no better than FIFO at %s. Aging can tell hot pages from cold ones only "
                   "if it ages them less often than the hot ones are used. There, vas trimmed, and so aged, "
                   "the working set every %" PRIu64 " reads or so, while each page of the hot part was read "
                   "only about every %" PRIu64 ": between two reads a hot page grew as old as any cold page "
                   "(age 3, the most two bits hold), and among pages of the same age the first in goes first.",
                   size_label(rams[0]).s, reads_per_trim, hot_reuse);
    print_text("Exact LRU would need a time stamp at every access, which no processor keeps (vas turns "
               "its TLB off to do it, so LRU is slow); Clock and Windows' aging make do with the Accessed "
               "bit the processor sets in the PTE.");
}

static void tour_paging(void)
{
    show_more_than_ram();
    show_standby_cache();
    show_rule_of_thumb();
}

/* ---- 9. Sections: mapped files, copy-on-write and shared memory ---------------------------- */

#define NOTES_BYTES (10 * KB) /* the data file: two pages and a half */
#define NOTES_LINE 64         /* bytes per line of it */
#define NOTES_OFFSET 0x40     /* where the tour writes: the start of its second line */
#define NOTES_SHOWN 20        /* the bytes shown from there */
#define BOARD_BYTES (64 * KB) /* the shared memory */
#define BOARD_NAME "TourBoard"

/* The data file, in a directory of its own under $TMPDIR (or /tmp). Its path is never printed:
   mkdtemp names the directory differently on every run. Both go as soon as the section has the
   file open, so that nothing is left behind even when the tour is cut short (`vas tour | head`);
   the tour keeps a descriptor of its own to read what is on disk. */
typedef struct data_file {
    char directory[512];
    char path[576];
    int named; /* the path still exists */
    int fd;    /* open for reading, -1 if not */
} data_file;

/* Removes the file's name and its directory; the file lives on while something holds it open. */
static void unlink_data_file(data_file *f)
{
    if (!f->named)
        return;
    f->named = 0;
    if (remove(f->path) != 0 || rmdir(f->directory) != 0) {
        fprintf(stderr, "vas tour: cannot remove %s: %s\n", f->directory, strerror(errno));
        problems++;
    }
}

static void close_data_file(data_file *f)
{
    unlink_data_file(f);
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
}

/* Writes NOTES_BYTES of text, lines of NOTES_LINE bytes: "notes.txt, line 001......\n". */
static int make_data_file(data_file *f)
{
    f->named = 0;
    f->fd = -1;
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp || strlen(tmp) > sizeof f->directory - 32)
        tmp = "/tmp";
    snprintf(f->directory, sizeof f->directory, "%s/vas-tour-XXXXXX", tmp);
    if (!mkdtemp(f->directory)) {
        fprintf(stderr, "vas tour: cannot make a directory under %s: %s\n", tmp, strerror(errno));
        problems++;
        return 0;
    }
    snprintf(f->path, sizeof f->path, "%s/notes.txt", f->directory);
    f->named = 1;
    FILE *out = fopen(f->path, "wb");
    int ok = out != NULL;
    for (int line = 0; ok && line < (int)(NOTES_BYTES / NOTES_LINE); line++) {
        char text[NOTES_LINE + 1];
        int n = snprintf(text, sizeof text, "notes.txt, line %03d", line + 1);
        memset(text + n, '.', NOTES_LINE - 1 - (size_t)n);
        text[NOTES_LINE - 1] = '\n';
        ok = fwrite(text, 1, NOTES_LINE, out) == NOTES_LINE;
    }
    if (out && fclose(out) != 0)
        ok = 0;
    if (ok && (f->fd = open(f->path, O_RDONLY | O_CLOEXEC)) < 0)
        ok = 0;
    if (!ok) {
        fprintf(stderr, "vas tour: cannot write %s: %s\n", f->path, strerror(errno));
        problems++;
        close_data_file(f);
    }
    return ok;
}

/* Bytes as they are in the host's file, that is on disk: read around the machine. */
static void read_data_file(const data_file *f, uint64_t offset, char *buffer, size_t size)
{
    if (pread(f->fd, buffer, size, (off_t)offset) != (ssize_t)size) {
        fprintf(stderr, "vas tour: cannot read the data file back\n");
        problems++;
        memset(buffer, '?', size);
    }
}

/* Bytes as a quoted string, anything unprintable as a dot. */
static label quoted_label(const char *bytes, size_t size)
{
    label l;
    size_t n = size < sizeof l.s - 3 ? size : sizeof l.s - 3;
    l.s[0] = '"';
    for (size_t i = 0; i < n; i++)
        l.s[i + 1] = bytes[i] >= ' ' && bytes[i] <= '~' ? bytes[i] : '.';
    l.s[n + 1] = '"';
    l.s[n + 2] = '\0';
    return l;
}

/* NOTES_SHOWN bytes at address, read as the process would read them. */
static label view_bytes(vas_process *process, uint64_t address)
{
    char bytes[NOTES_SHOWN];
    vas_exception e;
    if (!expect_status(vas_read(process, address, bytes, sizeof bytes, &e), VAS_STATUS_SUCCESS, "vas_read"))
        memset(bytes, '?', sizeof bytes);
    return quoted_label(bytes, sizeof bytes);
}

static label disk_bytes(const data_file *f)
{
    char bytes[NOTES_SHOWN];
    read_data_file(f, NOTES_OFFSET, bytes, sizeof bytes);
    return quoted_label(bytes, sizeof bytes);
}

static void write_text(vas_process *process, uint64_t address, const char *text)
{
    vas_exception e;
    expect_status(vas_write(process, address, text, strlen(text), &e), VAS_STATUS_SUCCESS, "vas_write");
}

/* The frame behind a resident page (0 if it is not). */
static uint64_t frame_of(vas_process *process, uint64_t address, uint64_t page)
{
    uint64_t physical = 0;
    expect_status(vas_virtual_to_physical(process, address, &physical), VAS_STATUS_SUCCESS, "vas_virtual_to_physical");
    return physical / page;
}

/* The commit figures of the last table of this part of the tour, at one moment. */
typedef struct commit_point {
    uint64_t total, private_bytes[2], virtual_size[2];
} commit_point;

/* Everything the section's parts share: one machine, two processes, the file and its views. */
typedef struct mapping_tour {
    vas_machine *machine;
    vas_process *process[2]; /* notepad.exe and wordpad.exe */
    int bits;
    uint64_t page;
    data_file file;
    vas_section *notes;      /* the file section */
    uint64_t view_size;      /* of a whole view of it */
    uint64_t a, b, c;        /* notepad.exe's view, wordpad.exe's and wordpad.exe's copy-on-write one */
    commit_point points[5];
} mapping_tour;

static void take_commit_point(mapping_tour *t, commit_point *point)
{
    vas_memory_status memory;
    expect(vas_global_memory_status(t->machine, &memory), "GlobalMemoryStatusEx");
    point->total = memory.commit_total;
    for (int p = 0; p < 2; p++) {
        vas_process_counters counters = {0};
        expect(vas_process_get_counters(t->process[p], &counters), "vas_process_get_counters");
        point->private_bytes[p] = counters.commit_charge;
        point->virtual_size[p] = counters.virtual_size;
    }
}

/* One row of VirtualQuery's answer for a view, as a table row. */
static void query_row(table *t, vas_process *process, uint64_t address, const char *name, int bits)
{
    vas_memory_basic_information region = {0};
    expect(vas_virtual_query(process, address, &region, sizeof region) != 0, "VirtualQuery");
    table_row(t, vas_process_name(process), name, address_label(region.base_address, bits).s,
              size_label(region.region_size).s, vas_state_name(region.state), protect_label(region.protect).s,
              vas_type_name(region.type));
}

/* The leaf of a page-table walk as a table row: the PTE and what it says (x64 and x86 agree on
   the low bits). */
static void pte_row(table *t, vas_process *process, const char *view, uint64_t address, uint64_t page, int bits)
{
    vas_page_walk walk;
    if (!expect_status(vas_page_table_walk(process, address, &walk), VAS_STATUS_SUCCESS, "vas_page_table_walk") ||
        !expect(walk.levels == walk.table_levels && walk.resident, "vas_page_table_walk (a page just touched)"))
        return;
    const vas_page_walk_level *pte = &walk.level[walk.levels - 1];
    char meaning[TABLE_CELL_SIZE]; /* the Write (1) and Dirty (6) bits, as section 6 shows them */
    snprintf(meaning, sizeof meaning, "%s%s", pte->entry & 0x2 ? "writable" : "read-only",
             pte->entry & 0x40 ? ", dirty" : "");
    table_row(t, vas_process_name(process), view, address_label(address, bits).s, hex_label(pte->entry, 16).s,
              hex_label(walk.physical_address / page, 0).s, hex_label(walk.physical_address, 0).s, meaning);
}

/* A data file mapped into two processes: one writes, the other reads, then the file on disk. */
static void show_shared_file(mapping_tour *t)
{
    vas_process *notepad = t->process[0], *wordpad = t->process[1];
    int bits = t->bits;
    vas_section_information info = {0};
    expect_status(vas_nt_query_section(t->notes, &info), VAS_STATUS_SUCCESS, "NtQuerySection");
    t->a = vas_map_view_of_file(notepad, t->notes, VAS_FILE_MAP_WRITE, 0, 0, 0);
    t->b = vas_map_view_of_file(wordpad, t->notes, VAS_FILE_MAP_READ, 0, 0, 0);
    if (!expect(t->a && t->b, "MapViewOfFile"))
        return;
    vas_memory_basic_information region = {0};
    expect(vas_virtual_query(notepad, t->a, &region, sizeof region) != 0, "VirtualQuery");
    t->view_size = region.region_size;

    print_text("Until now every page belonged to one process. A section object, which Win32 calls a file "
               "mapping, is memory that any number of processes may map, each through a view of its own: "
               "every view of one page of the section reaches the same frame, so what one process writes "
               "there the others read at once. A section is backed either by a file, from which its pages "
               "are read on first touch and to which modified ones are written back, or by the paging file, "
               "which makes memory shared between processes with no file at all.");
    print_text("The tour writes a text file, notes.txt, of %s: %" PRIu64 " lines of %d bytes, \"notes.txt, "
               "line 001....\" and so on. Two processes on the default machine, %s and %s, map it (vas "
               "takes the file's path where Windows takes a handle from CreateFile):\n"
               "  h = CreateFileMapping(file, NULL, PAGE_READWRITE, 0, 0, NULL)\n"
               "  a = MapViewOfFile(h, FILE_MAP_WRITE, 0, 0, 0) = %s   in %s\n"
               "  b = MapViewOfFile(h, FILE_MAP_READ, 0, 0, 0) = %s    in %s\n"
               "A maximum size of 0 makes the section as large as the file (NtQuerySection says %s, "
               "attributes 0x%08" PRIX32 ", SEC_FILE), and a view size of 0 maps the whole section. Each view "
               "is an allocation of its own, at the lowest free 64 KB boundary of its process, and VirtualQuery "
               "reports its type as MEM_MAPPED:",
               size_label(NOTES_BYTES).s, (uint64_t)(NOTES_BYTES / NOTES_LINE), NOTES_LINE, vas_process_name(notepad),
               vas_process_name(wordpad), address_label(t->a, bits).s, vas_process_name(notepad),
               address_label(t->b, bits).s, vas_process_name(wordpad), size_label(info.size).s, info.attributes);
    table q;
    table_begin(&q, "Process", "View", "Base", "Size", "State", "Protect", "Type", NULL);
    query_row(&q, notepad, t->a, "a", bits);
    query_row(&q, wordpad, t->b, "b", bits);
    table_print(&q);
    print_text("A view is made of whole pages: %s, of which the last %s lie past the end of the file. "
               "They read as zeros and are never written to it. The protection follows the access asked "
               "for: FILE_MAP_WRITE gives %s, FILE_MAP_READ %s.",
               size_label(t->view_size).s, size_label(t->view_size - NOTES_BYTES).s,
               protect_label(VAS_PAGE_READWRITE).s, protect_label(VAS_PAGE_READONLY).s);

    vas_process_counters before[2], after[2];
    for (int p = 0; p < 2; p++)
        expect(vas_process_get_counters(t->process[p], &before[p]), "vas_process_get_counters");
    const char *edit = "notepad.exe was here";
    table bytes;
    table_begin(&bytes, "Read through", "Before", "After the write", "After the flush", NULL);
    label cells[3][3];
    cells[0][0] = view_bytes(notepad, t->a + NOTES_OFFSET);
    cells[1][0] = view_bytes(wordpad, t->b + NOTES_OFFSET);
    cells[2][0] = disk_bytes(&t->file);
    for (int p = 0; p < 2; p++)
        expect(vas_process_get_counters(t->process[p], &after[p]), "vas_process_get_counters");
    write_text(notepad, t->a + NOTES_OFFSET, edit);
    cells[0][1] = view_bytes(notepad, t->a + NOTES_OFFSET);
    cells[1][1] = view_bytes(wordpad, t->b + NOTES_OFFSET);
    cells[2][1] = disk_bytes(&t->file);
    table ptes;
    table_begin(&ptes, "Process", "View", "Virtual address", ">PTE", ">Frame", ">Physical address", "PTE says",
                NULL);
    pte_row(&ptes, notepad, "a", t->a + NOTES_OFFSET, t->page, bits);
    pte_row(&ptes, wordpad, "b", t->b + NOTES_OFFSET, t->page, bits);
    uint64_t frame_a = frame_of(notepad, t->a, t->page), frame_b = frame_of(wordpad, t->b, t->page);
    expect(vas_flush_view_of_file(notepad, t->a, 0), "FlushViewOfFile");
    cells[0][2] = view_bytes(notepad, t->a + NOTES_OFFSET);
    cells[1][2] = view_bytes(wordpad, t->b + NOTES_OFFSET);
    cells[2][2] = disk_bytes(&t->file);
    char offset[16];
    snprintf(offset, sizeof offset, "0x%X", NOTES_OFFSET);
    char rows[3][TABLE_CELL_SIZE];
    snprintf(rows[0], sizeof rows[0], "%s, a + %s", vas_process_name(notepad), offset);
    snprintf(rows[1], sizeof rows[1], "%s, b + %s", vas_process_name(wordpad), offset);
    snprintf(rows[2], sizeof rows[2], "notes.txt on disk, offset %s", offset);
    for (int r = 0; r < 3; r++)
        table_row(&bytes, rows[r], cells[r][0].s, cells[r][1].s, cells[r][2].s);
    take_commit_point(t, &t->points[1]);

    print_text("Now %s edits the file through its view, with an ordinary store into memory:\n"
               "  memcpy(a + %s, \"%s\", %zu);\n"
               "and later asks for the change to be written to the file:\n"
               "  FlushViewOfFile(a, 0)\n"
               "The %d bytes at offset %s, read through each view and straight from the file on the host's "
               "disk, before the write, after it and after the flush:",
               vas_process_name(notepad), offset, edit, strlen(edit), NOTES_SHOWN, offset);
    table_print(&bytes);
    print_text("%s saw the edit at once, with no call at all: its view and %s's reach the same physical "
               "page. The file on disk kept the old text until FlushViewOfFile wrote the modified page back; "
               "until then the change lived only in RAM. (On Windows a ReadFile of notes.txt would have seen "
               "it at once too, since the file cache holds those very pages; only the disk lags behind.) "
               "Without the flush the page would still reach the file, only later: Windows writes modified "
               "file pages in the background, and vas does when its modified page writer runs and when "
               "the last view of the section goes.",
               vas_process_name(wordpad), vas_process_name(notepad));

    print_text("The page-table walks of the two addresses, just after the write, end in these PTEs:");
    table_print(&ptes);
    print_text("Two processes, two page tables, %s, one frame (0x%" PRIX64 "%s). "
               "Each PTE carries its own view's rights: %s's is writable and dirty, since it wrote; %s's "
               "is read-only. Behind both stands the section's prototype PTE, one per page of the section, "
               "which holds the frame while the page is in RAM and says where the page is (here, in the "
               "file) when it is not. A process PTE that is still zero means \"ask the prototype\": the "
               "first touch through any view brings the page in once, and every later touch, through any "
               "view, maps that same frame. The fault counters of the two first reads show it:",
               t->a == t->b ? "the same virtual address (each view went to the lowest free 64 KB boundary of "
                              "its process, but nothing makes views of one section share an address)"
                            : "two different virtual addresses",
               frame_a, frame_a == frame_b ? "" : ", or so it should be: a bug", vas_process_name(notepad),
               vas_process_name(wordpad));
    table faults;
    table_begin(&faults, "First read of the page", ">Hard faults", ">Soft faults", ">Demand-zero",
                ">Working set", NULL);
    for (int p = 0; p < 2; p++)
        table_row(&faults, vas_process_name(t->process[p]),
                  count_label(after[p].hard_faults - before[p].hard_faults).s,
                  count_label(after[p].soft_faults - before[p].soft_faults).s,
                  count_label(after[p].demand_zero_faults - before[p].demand_zero_faults).s,
                  size_label(after[p].working_set_size).s);
    table_print(&faults);
    print_text("%s read first and took a hard fault: the page came from notes.txt. %s, touching the same "
               "page a moment later, took a soft fault: the prototype PTE already named a frame, so there "
               "was nothing to read. A page of a file section never goes to the paging file: clean, it is "
               "simply dropped, since the file has it; modified, it is written back to the file.",
               vas_process_name(notepad), vas_process_name(wordpad));
    if (frame_a != frame_b || strcmp(cells[1][1].s, cells[0][1].s) != 0 || strcmp(cells[2][2].s, cells[0][1].s) != 0) {
        fprintf(stderr, "vas tour: the views of one file section do not share their page\n");
        problems++;
    }
}

/* A copy-on-write view of the same file: it diverges on the first write, alone. */
static void show_copy_on_write(mapping_tour *t)
{
    vas_process *notepad = t->process[0], *wordpad = t->process[1];
    int bits = t->bits;
    uint64_t page = t->page;
    t->c = vas_map_view_of_file(wordpad, t->notes, VAS_FILE_MAP_COPY, 0, 0, 0);
    if (!expect(t->c != 0, "MapViewOfFile(FILE_MAP_COPY)"))
        return;
    take_commit_point(t, &t->points[2]);
    label before = query_protect(wordpad, t->c);
    char read_first[NOTES_SHOWN];
    vas_exception e;
    expect_status(vas_read(wordpad, t->c + NOTES_OFFSET, read_first, sizeof read_first, &e), VAS_STATUS_SUCCESS,
                  "vas_read");
    uint64_t shared_frame = frame_of(wordpad, t->c, page);
    const char *edit = "wordpad.exe's own...";
    write_text(wordpad, t->c + NOTES_OFFSET, edit);
    take_commit_point(t, &t->points[3]);
    expect(vas_flush_view_of_file(wordpad, t->c, 0), "FlushViewOfFile");

    print_text("A view may also be copy-on-write: it shows the file, but a write gives the process a copy "
               "of the page, private to it, and neither the file nor any other view ever sees the change. "
               "This is how Windows maps a program's writable global data, and how a program can edit a "
               "document in memory without touching the file until the user saves it. %s maps notes.txt a "
               "second time, copy-on-write, reads the %d bytes at offset 0x%X, writes over them, and even "
               "flushes the view:\n"
               "  c = MapViewOfFile(h, FILE_MAP_COPY, 0, 0, 0) = %s\n"
               "  memcpy(c + 0x%X, \"%s\", %zu);\n"
               "  FlushViewOfFile(c, 0)\n"
               "The whole view started out %s. Before the write, the page read through c was frame 0x%" PRIX64
               ", the section's, like everyone else's. After it, VirtualQuery splits the view in two:",
               vas_process_name(wordpad), NOTES_SHOWN, NOTES_OFFSET, address_label(t->c, bits).s, NOTES_OFFSET,
               edit, strlen(edit), before.s, shared_frame);
    print_walk(wordpad, t->c, t->c + t->view_size);
    print_text("Then each of the three views reads a byte of its second page as well. What each view shows "
               "at offset 0x%X, and the frames behind its first two pages:",
               NOTES_OFFSET);

    /* Every view reads its second page too, so that all three have it in their page tables. */
    uint64_t frames[3][2];
    const uint64_t bases[3] = {t->a, t->b, t->c};
    vas_process *owners[3] = {notepad, wordpad, wordpad};
    for (int v = 0; v < 3; v++) {
        char byte;
        expect_status(vas_read(owners[v], bases[v] + page, &byte, 1, &e), VAS_STATUS_SUCCESS, "vas_read");
        for (int i = 0; i < 2; i++)
            frames[v][i] = frame_of(owners[v], bases[v] + (uint64_t)i * page, page);
    }
    static const char *const names[3] = {"a", "b", "c (copy-on-write)"};
    char bytes_header[32];
    snprintf(bytes_header, sizeof bytes_header, "Bytes at 0x%X", NOTES_OFFSET);
    table tb;
    table_begin(&tb, "Process", "View", bytes_header, ">Page 0's frame", ">Page 1's frame", NULL);
    label seen[3];
    for (int v = 0; v < 3; v++) {
        seen[v] = view_bytes(owners[v], bases[v] + NOTES_OFFSET);
        table_row(&tb, vas_process_name(owners[v]), names[v], seen[v].s, hex_label(frames[v][0], 0).s,
                  hex_label(frames[v][1], 0).s);
    }
    label disk = disk_bytes(&t->file);
    table_row(&tb, "notes.txt on disk", "-", disk.s, "-", "-");
    table_print(&tb);
    print_text("The write into c faulted although the page was readable: its PTE was read-only, as for "
               "every write-copy page. The memory manager took a new frame (0x%" PRIX64 "), copied the "
               "section's page into it, pointed c's PTE at the copy, now writable, and let the write run "
               "again. Only that page became %s; its neighbour is still %s and still the section's frame, "
               "shared with a and b, and will stay so until it is written to in turn. a, b and the file "
               "still hold %s's text: FlushViewOfFile found no modified section page to write, because the "
               "copy is no longer part of the section. It is ordinary private memory now, which would go "
               "to the paging file if trimmed, never to notes.txt.",
               frames[2][0], query_protect(wordpad, t->c).s, query_protect(wordpad, t->c + page).s,
               vas_process_name(notepad));
    if (frames[2][0] == frames[0][0] || frames[2][1] != frames[0][1] || frames[1][0] != frames[0][0] ||
        strcmp(seen[0].s, disk.s) != 0 || strcmp(seen[0].s, seen[2].s) == 0) {
        fprintf(stderr, "vas tour: the copy-on-write view did not diverge as it should\n");
        problems++;
    }
}

/* Memory shared by name, backed by the paging file: one process creates it, another opens it. */
static void show_shared_memory(mapping_tour *t, uint64_t *d, uint64_t *r)
{
    vas_process *notepad = t->process[0], *wordpad = t->process[1];
    int bits = t->bits;
    vas_section *board = vas_create_file_mapping(t->machine, NULL, VAS_PAGE_READWRITE, BOARD_BYTES, BOARD_NAME);
    uint32_t created_error = vas_last_error();
    if (!expect(board != NULL, "CreateFileMapping(INVALID_HANDLE_VALUE)"))
        return;
    *d = vas_map_view_of_file(notepad, board, VAS_FILE_MAP_WRITE, 0, 0, 0);
    expect(*d != 0, "MapViewOfFile");
    const char *message = "hello from notepad.exe";
    write_text(notepad, *d, message);

    vas_section *again = vas_create_file_mapping(t->machine, NULL, VAS_PAGE_READWRITE, BOARD_BYTES, BOARD_NAME);
    uint32_t again_error = vas_last_error();
    expect(again != NULL, "CreateFileMapping of an existing name");
    vas_section *opened = vas_open_file_mapping(t->machine, VAS_FILE_MAP_READ, BOARD_NAME);
    if (!expect(opened != NULL, "OpenFileMapping"))
        return;
    *r = vas_map_view_of_file(wordpad, opened, VAS_FILE_MAP_READ, 0, 0, 0);
    expect(*r != 0, "MapViewOfFile");
    char text[32] = "";
    vas_exception e;
    expect_status(vas_read(wordpad, *r, text, strlen(message) + 1, &e), VAS_STATUS_SUCCESS, "vas_read");
    uint64_t frame_d = frame_of(notepad, *d, t->page), frame_r = frame_of(wordpad, *r, t->page);
    take_commit_point(t, &t->points[4]);

    char calls[3][96]; /* the calls made in one process or the other, padded to one width */
    snprintf(calls[0], sizeof calls[0], "d = MapViewOfFile(s, FILE_MAP_WRITE, 0, 0, 0) = %s", address_label(*d, bits).s);
    snprintf(calls[1], sizeof calls[1], "o = OpenFileMapping(FILE_MAP_READ, FALSE, \"%s\")", BOARD_NAME);
    snprintf(calls[2], sizeof calls[2], "r = MapViewOfFile(o, FILE_MAP_READ, 0, 0, 0) = %s", address_label(*r, bits).s);
    int width = 0;
    for (int i = 0; i < 3; i++)
        width = (int)strlen(calls[i]) > width ? (int)strlen(calls[i]) : width;
    print_text("Shared memory needs no file. Given no file (INVALID_HANDLE_VALUE on Windows, a NULL path "
               "in vas), CreateFileMapping makes a section backed by the paging file, of the size asked "
               "for; a name lets other processes find it. %s creates one, maps it and writes a message; "
               "%s opens it by name, for reading only, and maps it too:\n"
               "  s = CreateFileMapping(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0, %s, \"%s\")\n"
               "  %-*s   in %s\n"
               "  strcpy(d, \"%s\");\n"
               "  %-*s   in %s\n"
               "  %-*s   in %s\n"
               "%s reads \"%s\" at r: its page is frame 0x%" PRIX64 ", and so is %s's at d. GetLastError() "
               "was %" PRIu32 " after the first CreateFileMapping; a second call with the same name returns "
               "a handle to the same section and sets it to %" PRIu32 " %s, which is how a program tells "
               "whether it came first. Some calls that fail:",
               vas_process_name(notepad), vas_process_name(wordpad), size_label(BOARD_BYTES).s, BOARD_NAME,
               width, calls[0], vas_process_name(notepad), message, width, calls[1], vas_process_name(wordpad),
               width, calls[2], vas_process_name(wordpad), vas_process_name(wordpad), text, frame_r,
               vas_process_name(notepad), created_error, again_error, vas_error_name(again_error));
    if (frame_d != frame_r || strcmp(text, message) != 0 || created_error != VAS_ERROR_SUCCESS ||
        again_error != VAS_ERROR_ALREADY_EXISTS) {
        fprintf(stderr, "vas tour: a named section is not shared as it should be\n");
        problems++;
    }
    vas_section *missing = vas_open_file_mapping(t->machine, VAS_FILE_MAP_READ, "NoSuchBoard");
    show_attempt(missing != NULL, VAS_ERROR_FILE_NOT_FOUND, "Open a name that no section has:",
                 "OpenFileMapping(FILE_MAP_READ, FALSE, \"NoSuchBoard\")");
    uint64_t writable = vas_map_view_of_file(wordpad, opened, VAS_FILE_MAP_WRITE, 0, 0, 0);
    show_attempt(writable != 0, VAS_ERROR_ACCESS_DENIED,
                 "Map for writing through the handle opened for reading only:",
                 "MapViewOfFile(o, FILE_MAP_WRITE, 0, 0, 0)");
    uint64_t beyond = vas_map_view_of_file(wordpad, opened, VAS_FILE_MAP_READ, 0, 2 * BOARD_BYTES, 0);
    show_attempt(beyond != 0, VAS_ERROR_ACCESS_DENIED, "Map more than the section holds:",
                 "MapViewOfFile(o, FILE_MAP_READ, 0, 0, %s)", size_label(2 * BOARD_BYTES).s);
    uint64_t unaligned = vas_map_view_of_file(wordpad, opened, VAS_FILE_MAP_READ, t->page, 0, 0);
    show_attempt(unaligned != 0, VAS_ERROR_MAPPED_ALIGNMENT,
                 "Map from an offset that is not a multiple of 64 KB:",
                 "MapViewOfFile(o, FILE_MAP_READ, 0, %s, 0)", size_label(t->page).s);
    if (missing)
        vas_close_section(missing);
    const uint64_t unexpected[] = {writable, beyond, unaligned}; /* already reported if any */
    for (size_t i = 0; i < COUNT_OF(unexpected); i++)
        if (unexpected[i])
            vas_unmap_view_of_file(wordpad, unexpected[i]);
    expect(vas_close_section(again) && vas_close_section(opened) && vas_close_section(board), "CloseHandle");
}

/* One row of the commit table: a figure at each of the five moments. */
static void commit_row(table *t, const char *name, const uint64_t values[5])
{
    label cells[5];
    for (int i = 0; i < 5; i++)
        cells[i] = size_label(values[i]);
    table_row(t, name, cells[0].s, cells[1].s, cells[2].s, cells[3].s, cells[4].s);
}
#define COMMIT_ROW(t, name, points, field)                                                          \
    commit_row(t, name, (const uint64_t[5]){(points)[0].field, (points)[1].field, (points)[2].field, \
                                            (points)[3].field, (points)[4].field})

static void tour_sections(void)
{
    mapping_tour t = {0};
    vas_process_config configs[2] = {{.name = "notepad.exe"}, {.name = "wordpad.exe"}};
    if (!make_data_file(&t.file))
        return;
    t.process[0] = start_process(&t.machine, NULL, &configs[0]);
    if (!t.process[0]) {
        close_data_file(&t.file);
        return;
    }
    t.process[1] = vas_process_create(t.machine, &configs[1]);
    if (!expect(t.process[1] != NULL, "vas_process_create")) {
        finish_machine(t.machine);
        close_data_file(&t.file);
        return;
    }
    vas_system_info system;
    vas_get_system_info(t.process[0], &system);
    t.bits = vas_process_bits(t.process[0]);
    t.page = system.page_size;
    vas_process *notepad = t.process[0], *wordpad = t.process[1];

    take_commit_point(&t, &t.points[0]);
    t.notes = vas_create_file_mapping(t.machine, t.file.path, VAS_PAGE_READWRITE, 0, NULL);
    expect(t.notes != NULL, "CreateFileMapping(notes.txt)");
    unlink_data_file(&t.file);
    uint64_t d = 0, r = 0;
    if (t.notes)
        show_shared_file(&t);
    if (t.a && t.b)
        show_copy_on_write(&t);
    if (t.c)
        show_shared_memory(&t, &d, &r);
    if (!d || !r) { /* already reported */
        finish_machine(t.machine);
        close_data_file(&t.file);
        return;
    }

    print_text("What all this cost in commit, at five moments: at the start; with notes.txt mapped in both "
               "processes and edited; with the copy-on-write view mapped; after the write into it; and with "
               "the shared memory created and mapped in both:");
    table c;
    table_begin(&c, "Counter", ">Start", ">File views", ">Copy view", ">Copy written", ">Shared memory", NULL);
    char names[2][2][TABLE_CELL_SIZE];
    for (int i = 0; i < 2; i++) {
        snprintf(names[i][0], sizeof names[i][0], "%s private bytes", vas_process_name(t.process[i]));
        snprintf(names[i][1], sizeof names[i][1], "%s virtual size", vas_process_name(t.process[i]));
    }
    COMMIT_ROW(&c, "Commit charge, all processes", t.points, total);
    COMMIT_ROW(&c, names[0][0], t.points, private_bytes[0]);
    COMMIT_ROW(&c, names[1][0], t.points, private_bytes[1]);
    COMMIT_ROW(&c, names[0][1], t.points, virtual_size[0]);
    COMMIT_ROW(&c, names[1][1], t.points, virtual_size[1]);
    table_print(&c);
    const commit_point *p = t.points;
    print_text("Mapping the file in two processes charged %s: a file section is backed by its file, so "
               "it needs no room in the paging file, however many views it has and whatever is written "
               "through them. The copy-on-write view is another matter: any of its pages may become a "
               "private copy, which only the paging file could back, so all %s of it were charged to %s "
               "when it was mapped, before anything was written; the write itself charged %s more. The "
               "shared memory charged its %s when it was created, to the system and not to either process, "
               "since it belongs to no process: it outlives any of them while a handle or a view remains. "
               "Virtual size counts every view, in every process that maps it.",
               size_label(p[1].total - p[0].total).s, size_label(p[2].private_bytes[1] - p[1].private_bytes[1]).s,
               vas_process_name(wordpad), size_label(p[3].total - p[2].total).s,
               size_label(p[4].total - p[3].total).s);

    print_text("This is %s's address space now, as VMMap shows it. VirtualQuery calls every view "
               "MEM_MAPPED; VMMap tells them apart by what backs their section: Mapped File for a view of "
               "a file, Shareable for a view of memory backed by the paging file. Its other kinds are "
               "Private Data (MEM_PRIVATE), Image (MEM_IMAGE: programs and DLLs, which the loader maps) and "
               "Free. The copy-on-write view stays a Mapped File, its private page included:",
               vas_process_name(wordpad));
    print_walk(wordpad, 0, UINT64_MAX);

    uint64_t views[] = {t.a, t.b, t.c, d, r};
    vas_process *owners[] = {notepad, wordpad, wordpad, notepad, wordpad};
    for (size_t i = 0; i < COUNT_OF(views); i++)
        expect(vas_unmap_view_of_file(owners[i], views[i]), "UnmapViewOfFile");
    expect(vas_close_section(t.notes), "CloseHandle");
    vas_memory_status memory;
    expect(vas_global_memory_status(t.machine, &memory), "GlobalMemoryStatusEx");
    print_text("Unmapping the five views and closing the handles gives everything back: the commit "
               "charge is %s again. A section lives as long as a handle to it or a view of it does; "
               "then its pages go, the modified ones of a file to the file first.",
               size_label(memory.commit_total).s);
    if (memory.commit_total != t.points[0].total) {
        fprintf(stderr, "vas tour: unmapping every view left commit charged\n");
        problems++;
    }
    finish_machine(t.machine);
    close_data_file(&t.file);
}

/* ---- The tour ---------------------------------------------------------------------------- */

typedef struct section {
    const char *title;
    void (*run)(void);
} section;

static const section sections[] = {
    {"Address-space layouts and their partitions", tour_layouts},
    {"A process's address space, before and after", tour_process_walk},
    {"Reservations, pages and protection", tour_granularity},
    {"When calls fail", tour_errors},
    {"Commit charge", tour_commit_charge},
    {"Physical memory and page tables", tour_physical},
    {"Page faults and exceptions", tour_faults},
    {"Paging: more memory than RAM", tour_paging},
    {"Sections: mapped files, copy-on-write and shared memory", tour_sections},
};

int cli_tour(int argc, char **argv)
{
    if (argc > 1) {
        fprintf(stderr, "usage: vas tour\n");
        return 2;
    }
    (void)argv;
    printf("vas %s: a tour of the Windows virtual memory manager\n\n", vas_version());
    print_text("libvas reproduces, in user space, what Windows does when a program reserves, "
               "commits, protects, queries and frees virtual memory: the same layouts, the same "
               "rounding, the same results and error codes. Everything below is computed live by "
               "the library; the Win32 names (VirtualAlloc, ...) stand for its vas_virtual_alloc "
               "and friends.");
    for (size_t i = 0; i < COUNT_OF(sections); i++) {
        print_heading((int)i + 1, sections[i].title);
        sections[i].run();
    }
    if (problems)
        fprintf(stderr, "vas tour: %d unexpected results from the library\n", problems);
    return problems ? 1 : 0;
}
