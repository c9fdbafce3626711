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
#include "report.h"
#include "views.h"

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

/* The same, and the process's GetSystemInfo. */
static vas_process *start_process_with_info(vas_machine **machine, const vas_machine_config *machine_config,
                                            const vas_process_config *process_config, vas_system_info *system)
{
    vas_process *process = start_process(machine, machine_config, process_config);
    if (process)
        vas_get_system_info(process, system);
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

/* VMMap's name for a region of a VirtualQuery walk (views.c decides the kinds for every view of
   the tool). A free region that starts inside a 64 KB granule is the tail of a smaller
   reservation: nothing can ever be reserved there, and VMMap calls it "Unusable". */
static const char *vmmap_type(vas_process *process, const vas_memory_basic_information *region,
                              uint32_t granularity)
{
    if (region->state == VAS_MEM_FREE) /* the walk gives a free range from its start */
        return region->base_address % granularity ? "Unusable" : "Free";
    char details[8];
    return kind_name(view_region_kind(process, region, region->base_address, details, sizeof details));
}

/* What a walk may say about a region beyond its kind: VMMap's Details column (`details` starts
   empty). */
typedef void (*region_notes)(void *context, const vas_memory_basic_information *region, char *details,
                             size_t size);

/* The VirtualQuery walk, as VMMap shows it: one row per region from `from` up to the first
   region starting at or past `to`, or to the top of user space. A free region that starts
   inside a granule is split at the granule's end, into its Unusable part and the Free rest.
   With `notes`, the table gains a Details column. */
static void print_walk_noted(vas_process *process, uint64_t from, uint64_t to, region_notes notes, void *context)
{
    vas_system_info system;
    vas_get_system_info(process, &system);
    int bits = vas_process_bits(process);
    table t;
    if (notes)
        table_begin(&t, "Address", "Size", "State", "Protect", "Type", "Allocation base", "Details", NULL);
    else
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
        char details[TABLE_CELL_SIZE] = "";
        if (notes)
            notes(context, &region, details, sizeof details);
        int is_free = region.state == VAS_MEM_FREE;
        table_row(&t, address_label(region.base_address, bits).s,
                  size_label(end - region.base_address).s, vas_state_name(region.state),
                  protect_label(region.protect).s, type,
                  is_free ? "-" : address_label(region.allocation_base, bits).s, details);
        address = end;
    }
    table_print(&t);
}

static void print_walk(vas_process *process, uint64_t from, uint64_t to)
{
    print_walk_noted(process, from, to, NULL, NULL);
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
    vas_system_info system;
    vas_process *process = start_process_with_info(&machine, NULL, NULL, &system);
    if (!process)
        return;
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
    vas_system_info system;
    vas_process *process = start_process_with_info(&machine, NULL, NULL, &system);
    if (!process)
        return;
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
    vas_system_info system;
    vas_process *process = start_process_with_info(&machine, NULL, NULL, &system);
    if (!process)
        return;
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
    vas_system_info system;
    vas_process *process = start_process_with_info(&machine, NULL, NULL, &system);
    if (!process)
        return;
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
    vas_system_info system;
    vas_process *process = start_process_with_info(&machine, NULL, NULL, &system);
    if (!process)
        return;
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

/* A new directory of the tour's own under $TMPDIR (or /tmp), named by mkdtemp; 0 (reported) if
   it cannot be made. */
static int make_temp_directory(char *directory, size_t size)
{
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp || strlen(tmp) > size - 32)
        tmp = "/tmp";
    snprintf(directory, size, "%s/vas-tour-XXXXXX", tmp);
    if (!mkdtemp(directory)) {
        fprintf(stderr, "vas tour: cannot make a directory under %s: %s\n", tmp, strerror(errno));
        problems++;
        return 0;
    }
    return 1;
}

/* Writes NOTES_BYTES of text, lines of NOTES_LINE bytes: "notes.txt, line 001......\n". */
static int make_data_file(data_file *f)
{
    f->named = 0;
    f->fd = -1;
    if (!make_temp_directory(f->directory, sizeof f->directory))
        return 0;
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

/* ---- 10. Images: a program, its DLLs and its threads' stacks -------------------------------- */

/* The tour's PE files. With no Windows linker at hand, the tour writes them itself: small but
   valid PE32 images, laid out as a linker lays them out. Each section takes one page in memory
   (SectionAlignment) and one 512-byte unit in the file (FileAlignment), in this order. */
#define PE_NT_OFFSET 0x80u          /* e_lfanew: the PE signature, after the DOS program */
#define PE_HEADERS_SIZE 0x400u      /* SizeOfHeaders */
#define PE_FILE_ALIGNMENT 0x200u
#define PE_SECTION_ALIGNMENT 0x1000u
#define PE_OPTIONAL_SIZE 0xE0u      /* IMAGE_OPTIONAL_HEADER32, with its 16 data directories */
#define PE_TEXT_RVA 0x1000u
#define PE_RDATA_RVA 0x2000u
#define PE_DATA_RVA 0x3000u
#define PE_RELOC_RVA 0x4000u
#define PE_MAX_SECTIONS 4
#define PE_MAX_IMAGE 0x5000u        /* the largest SizeOfImage */
#define PE_MAX_FILE (PE_HEADERS_SIZE + PE_MAX_SECTIONS * PE_FILE_ALIGNMENT)
#define PE_STACK_RESERVE 0x100000u  /* the header's stack and heap sizes: the linkers' defaults */
#define PE_STACK_COMMIT 0x1000u
/* .data: two pointers, which a DLL's relocations list (a const char * to the string at the start
   of .rdata, and a function pointer to the entry point), then a global string. */
#define PE_DATA_MESSAGE 0x0u
#define PE_DATA_ENTRY 0x4u
#define PE_DATA_GLOBAL 0x10u
#define PE_GLOBAL_TEXT "global data, as linked"
#define PE_GLOBAL_EDIT "global data, rewritten" /* as long as the text it replaces */
#define PE_SHOWN 32 /* bytes of .rdata shown */
/* winnt.h */
#define PE_FILE_RELOCS_STRIPPED 0x0001u
#define PE_FILE_EXECUTABLE_IMAGE 0x0002u
#define PE_FILE_32BIT_MACHINE 0x0100u
#define PE_FILE_DLL 0x2000u
#define PE_SCN_CNT_CODE 0x00000020u
#define PE_SCN_CNT_INITIALIZED_DATA 0x00000040u
#define PE_SCN_MEM_DISCARDABLE 0x02000000u
#define PE_SCN_MEM_EXECUTE 0x20000000u
#define PE_SCN_MEM_READ 0x40000000u
#define PE_SCN_MEM_WRITE 0x80000000u
#define PE_REL_BASED_HIGHLOW 3u
#define PE_DIRECTORY_IMPORT 1
#define PE_DIRECTORY_BASERELOC 5
#define PE_DIRECTORY_IAT 12
#define TEB_STACK_BASE 0x04u /* NT_TIB fields of a 32-bit TEB */
#define TEB_STACK_LIMIT 0x08u

typedef struct pe_section_header {
    char name[9];
    uint32_t rva, virtual_size, raw_offset, raw_size, characteristics;
} pe_section_header;

typedef struct tour_image {
    const char *name;            /* the file's name */
    uint32_t image_base;         /* the preferred base */
    int dll;
    const char *imports[2];      /* the DLLs it imports, NULL after the last */
    /* What write_image wrote. */
    uint32_t size_of_image, file_size, characteristics;
    size_t section_count;
    pe_section_header sections[PE_MAX_SECTIONS];
    char message[PE_SHOWN + 1];  /* the string at the start of .rdata */
    int named;                   /* the file exists */
    int fd;                      /* open for reading, -1 if not */
} tour_image;

enum { IMAGE_APP, IMAGE_KBASE, IMAGE_UBASE, IMAGE_COUNT };

static void put16(uint8_t *at, uint32_t value)
{
    at[0] = (uint8_t)value;
    at[1] = (uint8_t)(value >> 8);
}

static void put32(uint8_t *at, uint32_t value)
{
    put16(at, value);
    put16(at + 2, value >> 16);
}

static uint32_t get32(const uint8_t *at) { return (uint32_t)at[0] | (uint32_t)at[1] << 8 | (uint32_t)at[2] << 16 | (uint32_t)at[3] << 24; }

static void add_section(tour_image *img, const char *name, uint32_t rva, uint32_t used, uint32_t characteristics)
{
    pe_section_header *s = &img->sections[img->section_count];
    snprintf(s->name, sizeof s->name, "%s", name);
    s->rva = rva;
    s->virtual_size = used;
    s->raw_offset = PE_HEADERS_SIZE + (uint32_t)img->section_count * PE_FILE_ALIGNMENT;
    s->raw_size = PE_FILE_ALIGNMENT;
    s->characteristics = characteristics;
    img->section_count++;
}

/* Lays the image out as it will be in memory, then packs it into `file` as a linker would: the
   headers, then each section's raw data at its PointerToRawData. Returns the file's size. */
static uint32_t build_image(tour_image *img, uint8_t *file)
{
    static uint8_t memory[PE_MAX_IMAGE];
    memset(memory, 0, sizeof memory);
    img->section_count = 0;
    uint32_t base = img->image_base;

    /* .text: the entry point; DllMain returns TRUE (mov eax, 1; ret 12), main returns 0
       (xor eax, eax; ret), then INT3s, as linkers pad code. */
    static const uint8_t dll_main[] = {0xB8, 0x01, 0x00, 0x00, 0x00, 0xC2, 0x0C, 0x00};
    static const uint8_t exe_main[] = {0x33, 0xC0, 0xC3};
    memset(memory + PE_TEXT_RVA, 0xCC, 16);
    memcpy(memory + PE_TEXT_RVA, img->dll ? dll_main : exe_main, img->dll ? sizeof dll_main : sizeof exe_main);
    add_section(img, ".text", PE_TEXT_RVA, 16, PE_SCN_CNT_CODE | PE_SCN_MEM_EXECUTE | PE_SCN_MEM_READ);

    /* .rdata: a string, then the import directory: one descriptor per DLL and an empty one,
       each DLL's lookup table and address table (empty: nothing is imported by name), its name. */
    uint8_t *rdata = memory + PE_RDATA_RVA;
    snprintf(img->message, sizeof img->message, "Hello from %s's .rdata", img->name);
    memcpy(rdata, img->message, strlen(img->message) + 1);
    uint32_t count = 0, used = (uint32_t)strlen(img->message) + 1, descriptors = 0x40, iat = 0;
    while (count < COUNT_OF(img->imports) && img->imports[count])
        count++;
    if (count) {
        uint32_t lookup = descriptors + 20 * (count + 1);
        iat = lookup + 4 * count;
        used = iat + 4 * count;
        for (uint32_t k = 0; k < count; k++) {
            uint8_t *d = rdata + descriptors + 20 * k;
            put32(d, PE_RDATA_RVA + lookup + 4 * k); /* OriginalFirstThunk */
            put32(d + 12, PE_RDATA_RVA + used);      /* Name */
            put32(d + 16, PE_RDATA_RVA + iat + 4 * k); /* FirstThunk */
            memcpy(rdata + used, img->imports[k], strlen(img->imports[k]) + 1);
            used += (uint32_t)strlen(img->imports[k]) + 1;
        }
    }
    add_section(img, ".rdata", PE_RDATA_RVA, used, PE_SCN_CNT_INITIALIZED_DATA | PE_SCN_MEM_READ);

    /* .data: absolute addresses, right for the preferred base only, and a global. */
    uint8_t *data = memory + PE_DATA_RVA;
    put32(data + PE_DATA_MESSAGE, base + PE_RDATA_RVA);
    put32(data + PE_DATA_ENTRY, base + PE_TEXT_RVA);
    memcpy(data + PE_DATA_GLOBAL, PE_GLOBAL_TEXT, sizeof PE_GLOBAL_TEXT);
    add_section(img, ".data", PE_DATA_RVA, PE_DATA_GLOBAL + (uint32_t)sizeof PE_GLOBAL_TEXT,
                PE_SCN_CNT_INITIALIZED_DATA | PE_SCN_MEM_READ | PE_SCN_MEM_WRITE);

    /* .reloc (DLLs): one block for .data's page, a HIGHLOW fixup for each pointer. */
    if (img->dll) {
        uint8_t *reloc = memory + PE_RELOC_RVA;
        put32(reloc, PE_DATA_RVA);
        put32(reloc + 4, 12);
        put16(reloc + 8, PE_REL_BASED_HIGHLOW << 12 | PE_DATA_MESSAGE);
        put16(reloc + 10, PE_REL_BASED_HIGHLOW << 12 | PE_DATA_ENTRY);
        add_section(img, ".reloc", PE_RELOC_RVA, 12,
                    PE_SCN_CNT_INITIALIZED_DATA | PE_SCN_MEM_DISCARDABLE | PE_SCN_MEM_READ);
    }
    const pe_section_header *last = &img->sections[img->section_count - 1];
    img->size_of_image = (uint32_t)round_up(last->rva + last->virtual_size, PE_SECTION_ALIGNMENT);

    /* The headers: MS-DOS header and program, "PE\0\0", the COFF header, the optional header and
       its data directories, the section table. */
    static const uint8_t dos_program[] = {0x0E, 0x1F, 0xBA, 0x0E, 0x00, 0xB4, 0x09, 0xCD, 0x21, 0xB8, 0x01, 0x4C, 0xCD, 0x21};
    static const char dos_message[] = "This program cannot be run in DOS mode.\r\r\n$";
    memcpy(memory, "MZ", 2);
    put16(memory + 0x02, 0x90);  /* e_cblp */
    put16(memory + 0x04, 3);     /* e_cp */
    put16(memory + 0x08, 4);     /* e_cparhdr */
    put16(memory + 0x0C, 0xFFFF); /* e_maxalloc */
    put16(memory + 0x10, 0xB8);  /* e_sp */
    put16(memory + 0x18, 0x40);  /* e_lfarlc */
    put32(memory + 0x3C, PE_NT_OFFSET);
    memcpy(memory + 0x40, dos_program, sizeof dos_program);
    memcpy(memory + 0x40 + sizeof dos_program, dos_message, sizeof dos_message - 1);
    uint8_t *nt = memory + PE_NT_OFFSET, *coff = nt + 4, *optional = coff + 20;
    memcpy(nt, "PE\0\0", 4);
    img->characteristics = PE_FILE_EXECUTABLE_IMAGE | PE_FILE_32BIT_MACHINE |
                           (img->dll ? PE_FILE_DLL : PE_FILE_RELOCS_STRIPPED);
    put16(coff, 0x14C); /* IMAGE_FILE_MACHINE_I386 */
    put16(coff + 2, (uint32_t)img->section_count);
    put16(coff + 16, PE_OPTIONAL_SIZE);
    put16(coff + 18, img->characteristics);
    put16(optional, 0x10B); /* PE32 */
    optional[2] = 14;       /* linker 14.0 */
    put32(optional + 4, PE_FILE_ALIGNMENT); /* SizeOfCode */
    put32(optional + 8, (uint32_t)(img->section_count - 1) * PE_FILE_ALIGNMENT); /* SizeOfInitializedData */
    put32(optional + 16, PE_TEXT_RVA); /* AddressOfEntryPoint */
    put32(optional + 20, PE_TEXT_RVA); /* BaseOfCode */
    put32(optional + 24, PE_RDATA_RVA); /* BaseOfData */
    put32(optional + 28, base);
    put32(optional + 32, PE_SECTION_ALIGNMENT);
    put32(optional + 36, PE_FILE_ALIGNMENT);
    put16(optional + 40, 6); /* Windows Vista and later */
    put16(optional + 48, 6);
    put32(optional + 56, img->size_of_image);
    put32(optional + 60, PE_HEADERS_SIZE);
    put16(optional + 68, 3);      /* IMAGE_SUBSYSTEM_WINDOWS_CUI */
    put16(optional + 70, 0x0100); /* IMAGE_DLLCHARACTERISTICS_NX_COMPAT; no DYNAMIC_BASE: no ASLR */
    put32(optional + 72, PE_STACK_RESERVE);
    put32(optional + 76, PE_STACK_COMMIT);
    put32(optional + 80, PE_STACK_RESERVE); /* the heap's, alike */
    put32(optional + 84, PE_STACK_COMMIT);
    put32(optional + 92, 16); /* NumberOfRvaAndSizes */
    uint8_t *directories = optional + 96;
    if (count) {
        put32(directories + 8 * PE_DIRECTORY_IMPORT, PE_RDATA_RVA + descriptors);
        put32(directories + 8 * PE_DIRECTORY_IMPORT + 4, 20 * (count + 1));
        put32(directories + 8 * PE_DIRECTORY_IAT, PE_RDATA_RVA + iat);
        put32(directories + 8 * PE_DIRECTORY_IAT + 4, 4 * count);
    }
    if (img->dll) {
        put32(directories + 8 * PE_DIRECTORY_BASERELOC, PE_RELOC_RVA);
        put32(directories + 8 * PE_DIRECTORY_BASERELOC + 4, 12);
    }
    for (size_t i = 0; i < img->section_count; i++) {
        const pe_section_header *s = &img->sections[i];
        uint8_t *h = optional + PE_OPTIONAL_SIZE + 40 * i;
        memcpy(h, s->name, strlen(s->name));
        put32(h + 8, s->virtual_size);
        put32(h + 12, s->rva);
        put32(h + 16, s->raw_size);
        put32(h + 20, s->raw_offset);
        put32(h + 36, s->characteristics);
    }

    memcpy(file, memory, PE_HEADERS_SIZE);
    for (size_t i = 0; i < img->section_count; i++)
        memcpy(file + img->sections[i].raw_offset, memory + img->sections[i].rva, img->sections[i].raw_size);
    return PE_HEADERS_SIZE + (uint32_t)img->section_count * PE_FILE_ALIGNMENT;
}

/* Everything the section's parts share. */
typedef struct image_tour {
    char directory[512];
    tour_image images[IMAGE_COUNT];
    vas_machine *machine;
    vas_process *process;
    vas_process *second;           /* another process made from app.exe */
    int bits;
    uint64_t page;
    vas_module_info modules[IMAGE_COUNT + 1];
    size_t module_count;
    vas_process_info info;
    vas_thread_info threads[2]; /* the first thread's, and one the tour creates */
    size_t thread_count;
} image_tour;

static void image_path(const image_tour *t, const tour_image *img, char *path, size_t size)
{
    snprintf(path, size, "%s/%s", t->directory, img->name);
}

/* Removes the files and their directory as soon as the processes are made, as section 9 does:
   the processes keep the files open, and so does the tour, to read what is on disk. */
static void unlink_image_files(image_tour *t)
{
    for (int i = 0; i < IMAGE_COUNT; i++) {
        tour_image *img = &t->images[i];
        char path[600];
        image_path(t, img, path, sizeof path);
        if (img->named && remove(path) != 0) {
            fprintf(stderr, "vas tour: cannot remove %s: %s\n", path, strerror(errno));
            problems++;
        }
        img->named = 0;
    }
    if (t->directory[0] && rmdir(t->directory) != 0) {
        fprintf(stderr, "vas tour: cannot remove %s: %s\n", t->directory, strerror(errno));
        problems++;
    }
    t->directory[0] = '\0';
}

static void close_image_files(image_tour *t)
{
    unlink_image_files(t);
    for (int i = 0; i < IMAGE_COUNT; i++) {
        if (t->images[i].fd >= 0)
            close(t->images[i].fd);
        t->images[i].fd = -1;
    }
}

static int write_image_files(image_tour *t)
{
    static const tour_image specs[IMAGE_COUNT] = {
        {.name = "app.exe", .image_base = 0x400000, .imports = {"kbase.dll", "ubase.dll"}},
        {.name = "kbase.dll", .image_base = 0x10000000, .dll = 1},
        {.name = "ubase.dll", .image_base = 0x10000000, .dll = 1, .imports = {"kbase.dll"}},
    };
    for (int i = 0; i < IMAGE_COUNT; i++) {
        t->images[i] = specs[i];
        t->images[i].fd = -1;
    }
    if (!make_temp_directory(t->directory, sizeof t->directory)) {
        t->directory[0] = '\0';
        return 0;
    }
    for (int i = 0; i < IMAGE_COUNT; i++) {
        tour_image *img = &t->images[i];
        static uint8_t file[PE_MAX_FILE];
        img->file_size = build_image(img, file);
        char path[600];
        image_path(t, img, path, sizeof path);
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        img->named = fd >= 0;
        int ok = fd >= 0 && write(fd, file, img->file_size) == (ssize_t)img->file_size;
        if (fd >= 0 && close(fd) != 0)
            ok = 0;
        if (ok)
            ok = (img->fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0;
        if (!ok) {
            fprintf(stderr, "vas tour: cannot write %s: %s\n", path, strerror(errno));
            problems++;
            close_image_files(t);
            return 0;
        }
    }
    return 1;
}

/* Bytes of an image file as they are on disk. */
static void read_image_file(const tour_image *img, uint64_t offset, void *buffer, size_t size)
{
    if (pread(img->fd, buffer, size, (off_t)offset) != (ssize_t)size) {
        fprintf(stderr, "vas tour: cannot read %s back\n", img->name);
        problems++;
        memset(buffer, 0, size);
    }
}

static uint32_t read_u32(vas_process *process, uint64_t address)
{
    uint32_t value = 0;
    vas_exception e;
    expect_status(vas_read(process, address, &value, sizeof value, &e), VAS_STATUS_SUCCESS, "vas_read");
    return value;
}

static label bytes_label(const uint8_t *bytes, size_t count)
{
    label l;
    size_t used = 0;
    for (size_t i = 0; i < count && used + 3 < sizeof l.s; i++)
        used += (size_t)snprintf(l.s + used, sizeof l.s - used, i ? " %02X" : "%02X", bytes[i]);
    l.s[used] = '\0';
    return l;
}

/* The protection Windows gives a PE section (when it is not shared). */
static uint32_t section_protect(uint32_t characteristics)
{
    if (characteristics & PE_SCN_MEM_WRITE)
        return characteristics & PE_SCN_MEM_EXECUTE ? VAS_PAGE_EXECUTE_WRITECOPY : VAS_PAGE_WRITECOPY;
    return characteristics & PE_SCN_MEM_EXECUTE ? VAS_PAGE_EXECUTE_READ : VAS_PAGE_READONLY;
}

static const char *section_meaning(uint32_t characteristics)
{
    if (characteristics & PE_SCN_MEM_EXECUTE)
        return "code, execute, read";
    if (characteristics & PE_SCN_MEM_WRITE)
        return "data, read, write";
    if (characteristics & PE_SCN_MEM_DISCARDABLE)
        return "data, discardable, read";
    return "data, read";
}

static const vas_module_info *module_at(const image_tour *t, uint64_t address)
{
    for (size_t i = 0; i < t->module_count; i++)
        if (address >= t->modules[i].base && address - t->modules[i].base < t->modules[i].size)
            return &t->modules[i];
    return NULL;
}

static tour_image *image_named(image_tour *t, const char *name)
{
    for (int i = 0; i < IMAGE_COUNT; i++)
        if (strcmp(t->images[i].name, name) == 0)
            return &t->images[i];
    return NULL;
}

static const vas_module_info *module_named(const image_tour *t, const char *name)
{
    for (size_t i = 0; i < t->module_count; i++)
        if (strcmp(t->modules[i].name, name) == 0)
            return &t->modules[i];
    return NULL;
}

/* The PE section that holds rva, NULL for the headers. */
static const pe_section_header *section_at(const tour_image *img, uint64_t rva)
{
    for (size_t i = 0; i < img->section_count; i++) {
        const pe_section_header *s = &img->sections[i];
        if (rva >= s->rva && rva < round_up(s->rva + s->virtual_size, PE_SECTION_ALIGNMENT))
            return s;
    }
    return NULL;
}

static const pe_section_header *section_named(const tour_image *img, const char *name)
{
    for (size_t i = 0; i < img->section_count; i++)
        if (strcmp(img->sections[i].name, name) == 0)
            return &img->sections[i];
    return NULL;
}

/* The walk's notes: which module and PE section an image region is (and whether its protection
   is the one its section asks for), and what the loader's private regions are. */
static void image_region_notes(void *context, const vas_memory_basic_information *region, char *details,
                               size_t size)
{
    image_tour *t = context;
    uint64_t address = region->base_address;
    if (region->state == VAS_MEM_FREE)
        return;
    if (region->type == VAS_MEM_IMAGE) {
        const vas_module_info *m = module_at(t, address);
        tour_image *img = m ? image_named(t, m->name) : NULL;
        if (!img) {
            fprintf(stderr, "vas tour: an image region at %#" PRIx64 " that no module holds\n", address);
            problems++;
            return;
        }
        const pe_section_header *s = section_at(img, address - m->base);
        uint32_t want = s ? section_protect(s->characteristics) : VAS_PAGE_READONLY;
        snprintf(details, size, "%s %s", m->name, s ? s->name : "headers");
        if (region->protect != want || region->state != VAS_MEM_COMMIT || region->region_size != t->page ||
            region->allocation_protect != VAS_PAGE_EXECUTE_WRITECOPY || region->allocation_base != m->base) {
            fprintf(stderr, "vas tour: %s: VirtualQuery says %s, %s, %#" PRIx64 " bytes, allocation %#" PRIx64
                    " %s; the section asks for %s\n", details, vas_state_name(region->state),
                    protect_label(region->protect).s, region->region_size, region->allocation_base,
                    protect_label(region->allocation_protect).s, protect_label(want).s);
            problems++;
        }
        return;
    }
    if (address == t->info.peb) {
        snprintf(details, size, "PEB");
        return;
    }
    if (t->info.heap_base && region->allocation_base == t->info.heap_base) {
        snprintf(details, size, "process heap");
        return;
    }
    for (size_t i = 0; i < t->thread_count; i++) {
        if (address == t->threads[i].teb) {
            snprintf(details, size, "TEB of thread %" PRIu32, t->threads[i].thread_id);
            return;
        }
        if (region->allocation_base == t->threads[i].deallocation_stack) {
            snprintf(details, size, "stack of thread %" PRIu32, t->threads[i].thread_id);
            return;
        }
    }
    if (region->allocation_base == KUSER_SHARED_DATA)
        snprintf(details, size, "KUSER_SHARED_DATA");
}

/* The files the tour wrote, and kbase.dll's section table. */
static void show_image_files(image_tour *t)
{
    print_text("Programs and DLLs are not read into memory: they are mapped. A PE file, the format of "
               "every .exe and .dll, becomes a section object like notes.txt in section 9, made with "
               "SEC_IMAGE: the memory manager lays the file out as the program expects to find itself "
               "in memory, each of its PE sections (.text for code, .rdata for constants, .data for "
               "global variables) at its own page-aligned address with the protection its header asks "
               "for. Pages are read from the file when first touched; the paging file never backs them, "
               "the executable itself does.");
    print_text("With no Windows linker at hand, the tour writes three small but valid 32-bit PE files "
               "into a temporary directory: app.exe, which imports kbase.dll and ubase.dll (stand-ins for "
               "kernel32.dll and user32.dll); ubase.dll imports kbase.dll too. Each has a few bytes of "
               "code in .text, a string in .rdata (and there the import directory), two pointers and a "
               "string in .data; the DLLs also list in .reloc where those pointers are. All three are "
               "IMAGE_FILE_EXECUTABLE_IMAGE (0x0002) for a 32BIT_MACHINE (0x0100); the DLLs add "
               "IMAGE_FILE_DLL (0x2000), app.exe IMAGE_FILE_RELOCS_STRIPPED (0x0001). The two DLLs ask "
               "for the same base address:");
    table f;
    table_begin(&f, "File", ">File size", "ImageBase", ">SizeOfImage", "Characteristics", "Imports", NULL);
    for (int i = 0; i < IMAGE_COUNT; i++) {
        const tour_image *img = &t->images[i];
        char flags[TABLE_CELL_SIZE], imports[TABLE_CELL_SIZE];
        snprintf(flags, sizeof flags, "0x%04" PRIX32 " %s", img->characteristics,
                 img->dll ? "DLL" : "RELOCS_STRIPPED");
        snprintf(imports, sizeof imports, "%s%s%s", img->imports[0] ? img->imports[0] : "-",
                 img->imports[1] ? ", " : "", img->imports[1] ? img->imports[1] : "");
        table_row(&f, img->name, size_label(img->file_size).s, address_label(img->image_base, 32).s,
                  size_label(img->size_of_image).s, flags, imports);
    }
    table_print(&f);
    const tour_image *kbase = &t->images[IMAGE_KBASE];
    print_text("kbase.dll's section table, as dumpbin /headers would show it. The headers take the first "
               "%s of the file; sections start at multiples of %s in memory (SectionAlignment) but of %s "
               "in the file (FileAlignment):",
               size_label(PE_HEADERS_SIZE).s, size_label(PE_SECTION_ALIGNMENT).s, size_label(PE_FILE_ALIGNMENT).s);
    table s;
    table_begin(&s, "Section", ">VirtualAddress", ">VirtualSize", ">PointerToRawData", ">SizeOfRawData",
                "Characteristics", NULL);
    for (size_t i = 0; i < kbase->section_count; i++) {
        const pe_section_header *h = &kbase->sections[i];
        char flags[TABLE_CELL_SIZE];
        snprintf(flags, sizeof flags, "0x%08" PRIX32 " %s", h->characteristics, section_meaning(h->characteristics));
        table_row(&s, h->name, hex_label(h->rva, 0).s, hex_label(h->virtual_size, 0).s,
                  hex_label(h->raw_offset, 0).s, hex_label(h->raw_size, 0).s, flags);
    }
    table_print(&s);
}

/* The process made from app.exe: its modules and its address space. */
static void show_modules(image_tour *t)
{
    const vas_module_info *app = module_named(t, "app.exe"), *kbase = module_named(t, "kbase.dll"),
                          *ubase = module_named(t, "ubase.dll");
    print_text("On an x86 machine, CreateProcess of app.exe (vas_process_create_from_image) maps the "
               "executable at its preferred base, then the DLLs it imports and theirs, each once, and "
               "creates a PEB, a process heap and a first thread. A debugger's module list (WinDbg's lm) "
               "shows what the loader put where:");
    table m;
    table_begin(&m, "Module", "Base", ">Size", "Preferred base", "Relocated", "Entry point", NULL);
    for (size_t i = 0; i < t->module_count; i++) {
        const vas_module_info *mod = &t->modules[i];
        table_row(&m, mod->name, address_label(mod->base, t->bits).s, size_label(mod->size).s,
                  address_label(mod->preferred_base, t->bits).s, mod->relocated ? "yes" : "no",
                  address_label(mod->entry_point, t->bits).s);
    }
    table_print(&m);
    print_text("%s got its base, %s, and so did %s. %s asked for %s too, but %s was there: the loader "
               "mapped it at the lowest free 64 KB boundary, %s, and relocated it (below). The executable, "
               "like most before ASLR, was linked without relocations (IMAGE_FILE_RELOCS_STRIPPED): it "
               "loads at its base or not at all, which is why it goes first, into an empty address space.",
               app->name, address_label(app->base, t->bits).s, kbase->name, ubase->name,
               address_label(ubase->preferred_base, t->bits).s, kbase->name, address_label(ubase->base, t->bits).s);
    print_text("The whole address space, as VMMap shows it, with the tour's notes on what each region "
               "is. Stack and Heap are VMMap's names for private memory it knows the purpose of:");
    print_walk_noted(t->process, 0, UINT64_MAX, image_region_notes, t);
    vas_memory_region_information heap = {0}, stack = {0};
    expect_status(vas_nt_query_region_information(t->process, t->info.heap_base, &heap), VAS_STATUS_SUCCESS,
                  "NtQueryVirtualMemory(MemoryRegionInformation)");
    expect_status(vas_nt_query_region_information(t->process, t->threads[0].deallocation_stack, &stack),
                  VAS_STATUS_SUCCESS, "NtQueryVirtualMemory(MemoryRegionInformation)");
    if (heap.region_size != PE_STACK_RESERVE || stack.region_size != PE_STACK_RESERVE ||
        t->threads[0].stack_base - t->threads[0].stack_limit != PE_STACK_COMMIT) {
        fprintf(stderr, "vas tour: the heap or the first stack is not what app.exe's header asks for\n");
        problems++;
    }
    print_text("Each image is one allocation of type MEM_IMAGE, whose allocation base is the module's "
               "base and whose AllocationProtect is %s, cut into one region per PE section: the headers "
               "%s, code %s, constants and relocations %s, global variables %s. The rest of each image's "
               "64 KB granule is Unusable. The heap and the first thread's stack are reservations of the "
               "sizes app.exe's header asks for (%s each); the PEB and the thread's TEB take a page each "
               "at the top of user space.",
               protect_label(VAS_PAGE_EXECUTE_WRITECOPY).s, protect_label(VAS_PAGE_READONLY).s,
               protect_label(VAS_PAGE_EXECUTE_READ).s, protect_label(VAS_PAGE_READONLY).s,
               protect_label(VAS_PAGE_WRITECOPY).s, size_label(PE_STACK_RESERVE).s);
}

/* Image pages traced to their file: .rdata, a relocated pointer, a written .data page. */
static void show_image_pages(image_tour *t)
{
    vas_process *process = t->process;
    vas_exception e;
    print_text("An image page comes from its file at the offset the section table gives, "
               "PointerToRawData, not at the offset of its address. The string at the start of each "
               "module's .rdata, read through the view (the first touch of the page, a hard fault: it "
               "was read from the file) and straight from the file on disk:");
    table r;
    table_begin(&r, "Module", "Address", "Read through the view", ">Hard faults", ">File offset",
                "Read from the file", NULL);
    for (size_t i = 0; i < t->module_count; i++) {
        const vas_module_info *mod = &t->modules[i];
        const tour_image *img = image_named(t, mod->name);
        const pe_section_header *rdata = img ? section_named(img, ".rdata") : NULL;
        if (!rdata)
            continue;
        char memory[PE_SHOWN], disk[PE_SHOWN];
        vas_process_counters before = {0}, after = {0};
        expect(vas_process_get_counters(process, &before), "vas_process_get_counters");
        uint64_t address = mod->base + rdata->rva;
        if (!expect_status(vas_read(process, address, memory, sizeof memory, &e), VAS_STATUS_SUCCESS, "vas_read"))
            memset(memory, '?', sizeof memory);
        expect(vas_process_get_counters(process, &after), "vas_process_get_counters");
        read_image_file(img, rdata->raw_offset, disk, sizeof disk);
        size_t shown = strlen(img->message);
        table_row(&r, mod->name, address_label(address, t->bits).s, quoted_label(memory, shown).s,
                  count_label(after.hard_faults - before.hard_faults).s, hex_label(rdata->raw_offset, 0).s,
                  quoted_label(disk, shown).s);
        if (memcmp(memory, disk, sizeof memory) != 0 || after.hard_faults - before.hard_faults != 1) {
            fprintf(stderr, "vas tour: %s's .rdata page is not the file's\n", mod->name);
            problems++;
        }
    }
    table_print(&r);

    const vas_module_info *ubase = module_named(t, "ubase.dll"), *kbase = module_named(t, "kbase.dll");
    int64_t delta = (int64_t)(ubase->base - ubase->preferred_base);
    print_text("A relocated image's pages are not quite the file's. .data holds absolute addresses, "
               "right for the preferred base only: in C, `const char *message = \"Hello...\";` and a "
               "function pointer. The DLLs' .reloc section lists where they are (one block for page "
               "0x%X, two IMAGE_REL_BASED_HIGHLOW entries), and as each such page comes in from the file "
               "the memory manager adds the difference between the image's base and its preferred base, "
               "here %s%s (%s - %s), to each:",
               PE_DATA_RVA, delta < 0 ? "-" : "", hex_label(delta < 0 ? (uint64_t)-delta : (uint64_t)delta, 8).s,
               address_label(ubase->base, t->bits).s, address_label(ubase->preferred_base, t->bits).s);
    table p;
    table_begin(&p, "Pointer", ">In the file", ">In memory", "What it points at in memory", NULL);
    const struct {
        const vas_module_info *mod;
        uint32_t offset;
    } pointers[] = {{kbase, PE_DATA_MESSAGE}, {ubase, PE_DATA_MESSAGE}, {ubase, PE_DATA_ENTRY}};
    for (size_t i = 0; i < COUNT_OF(pointers); i++) {
        const vas_module_info *mod = pointers[i].mod;
        const tour_image *img = image_named(t, mod->name);
        const pe_section_header *data = section_named(img, ".data");
        uint8_t raw[4];
        read_image_file(img, data->raw_offset + pointers[i].offset, raw, sizeof raw);
        uint32_t in_file = get32(raw), in_memory = read_u32(process, mod->base + data->rva + pointers[i].offset);
        uint8_t target[PE_SHOWN] = {0};
        expect_status(vas_read(process, in_memory, target, sizeof target, &e), VAS_STATUS_SUCCESS,
                      "vas_read through a relocated pointer");
        label seen = pointers[i].offset == PE_DATA_ENTRY ? bytes_label(target, 8)
                                                        : quoted_label((const char *)target, strlen(img->message));
        char where[TABLE_CELL_SIZE];
        snprintf(where, sizeof where, "%s .data+%" PRIu32, mod->name, pointers[i].offset);
        table_row(&p, where, hex_label(in_file, 8).s, hex_label(in_memory, 8).s, seen.s);
        if ((uint64_t)in_memory != (uint64_t)((int64_t)in_file + (mod->relocated ? delta : 0))) {
            fprintf(stderr, "vas tour: %s: a fixup was not applied as it should be\n", where);
            problems++;
        }
    }
    table_print(&p);
    print_text("kbase.dll, at its preferred base, needed no fixup; in ubase.dll both pointers moved by "
               "the delta and reach the string and the entry point's code (mov eax, 1; ret 12: DllMain "
               "returning TRUE) where they are now. The fixed-up page is still an image page, %s like "
               "the rest of .data: not a private copy, but the image section's page for this base, which "
               "every process that maps ubase.dll there shares.",
               query_protect(process, ubase->base + PE_DATA_RVA).s);
}

/* A write into app.exe's .data, then a second process from the same file. */
static void show_image_copy_on_write(image_tour *t)
{
    vas_process *process = t->process;
    const vas_module_info *app = module_named(t, "app.exe"), *kbase = module_named(t, "kbase.dll"),
                          *ubase = module_named(t, "ubase.dll");
    const tour_image *img = image_named(t, "app.exe");
    const pe_section_header *data = section_named(img, ".data");
    uint64_t global = app->base + data->rva + PE_DATA_GLOBAL;
    size_t length = strlen(PE_GLOBAL_TEXT);
    vas_exception e;
    char bytes[3][2][PE_SHOWN];
    label protect[2];
    protect[0] = query_protect(process, global);
    expect_status(vas_read(process, global, bytes[0][0], length, &e), VAS_STATUS_SUCCESS, "vas_read");
    read_image_file(img, data->raw_offset + PE_DATA_GLOBAL, bytes[1][0], length);
    expect_status(vas_write(process, global, PE_GLOBAL_EDIT, length, &e), VAS_STATUS_SUCCESS, "vas_write");
    protect[1] = query_protect(process, global);
    expect_status(vas_read(process, global, bytes[0][1], length, &e), VAS_STATUS_SUCCESS, "vas_read");
    read_image_file(img, data->raw_offset + PE_DATA_GLOBAL, bytes[1][1], length);

    print_text("app.exe's global variables are in its .data, %s: readable, and shared with every other "
               "process running app.exe until written. The program changes one:\n"
               "  strcpy(global, \"%s\");   /* global = %s */",
               protect[0].s, PE_GLOBAL_EDIT, address_label(global, t->bits).s);
    table w;
    table_begin(&w, "", "Before", "After the write", NULL);
    table_row(&w, "VirtualQuery(global)", protect[0].s, protect[1].s);
    table_row(&w, "global, in memory", quoted_label(bytes[0][0], length).s, quoted_label(bytes[0][1], length).s);
    table_row(&w, "app.exe on disk", quoted_label(bytes[1][0], length).s, quoted_label(bytes[1][1], length).s);
    table_print(&w);
    if (strcmp(protect[0].s, protect_label(VAS_PAGE_WRITECOPY).s) != 0 ||
        strcmp(protect[1].s, protect_label(VAS_PAGE_READWRITE).s) != 0 || memcmp(bytes[0][1], PE_GLOBAL_EDIT, length) ||
        memcmp(bytes[1][1], PE_GLOBAL_TEXT, length)) {
        fprintf(stderr, "vas tour: a write into an image's .data did not make a private copy\n");
        problems++;
    }

    /* The second process from the same file: the same layout, the same frames but for the copy. */
    vas_process *second = t->second;
    const struct {
        const vas_module_info *mod;
        uint32_t rva;
        const char *what;
    } pages[] = {{kbase, PE_TEXT_RVA, "kbase.dll .text"},
                 {ubase, PE_DATA_RVA, "ubase.dll .data (relocated)"},
                 {app, PE_DATA_RVA, "app.exe .data (written)"}};
    char headers[2][TABLE_CELL_SIZE];
    vas_process *both[2] = {process, second};
    for (int i = 0; i < 2; i++)
        snprintf(headers[i], sizeof headers[i], ">Frame in id %" PRIu32, vas_process_id(both[i]));
    table f;
    table_begin(&f, "Page", headers[0], "Protect", headers[1], "Protect", NULL);
    uint64_t frames[COUNT_OF(pages)][2];
    for (size_t i = 0; i < COUNT_OF(pages); i++) {
        uint64_t address = pages[i].mod->base + pages[i].rva;
        label protects[2];
        for (int k = 0; k < 2; k++) {
            char byte;
            expect_status(vas_read(both[k], address, &byte, 1, &e), VAS_STATUS_SUCCESS, "vas_read");
            frames[i][k] = frame_of(both[k], address, t->page);
            protects[k] = query_protect(both[k], address);
        }
        table_row(&f, pages[i].what, hex_label(frames[i][0], 0).s, protects[0].s, hex_label(frames[i][1], 0).s,
                  protects[1].s);
    }
    print_text("The page became %s, a private copy: the write went to a new frame and app.exe on disk "
               "is unchanged, as with the copy-on-write view of section 9. Image pages are never written "
               "back to their file; trimmed, this copy would go to the paging file. The tour started a "
               "second process from the same app.exe along with the first (id %" PRIu32 "): it has the "
               "same layout, and when it touches these pages it gets the same frames, but for the copy:",
               protect[1].s, vas_process_id(second));
    table_print(&f);
    print_text("Ten processes running app.exe hold one copy of each page of its code and constants, "
               "and of kbase.dll's and ubase.dll's: an image section's pages are shared by every process "
               "that maps it at the same base (relocated ones included, once per base). Only pages "
               "written since are each process's own.");
    if (frames[0][0] != frames[0][1] || frames[1][0] != frames[1][1] || frames[2][0] == frames[2][1]) {
        fprintf(stderr, "vas tour: image pages are not shared between processes as they should be\n");
        problems++;
    }
}

/* The PEB and the first thread's TEB, read from the process's memory. */
static void show_peb_teb(image_tour *t)
{
    vas_process *process = t->process;
    const vas_thread_info *main_thread = &t->threads[0];
    uint64_t peb = t->info.peb, teb = main_thread->teb;
    print_text("At the top of user space, just below KUSER_SHARED_DATA, the kernel put the PEB (process "
               "environment block: the process's own view of itself) at %s and the first thread's TEB "
               "(thread environment block) below it at %s, where 32-bit processes had them until Windows "
               "XP SP2 began to pick the PEB's page at random among 16 (vas does too when given a random "
               "seed). Code reaches the TEB through the FS register, and the PEB from it (fs:[0x30]). "
               "Some of their fields, read from the process's memory:",
               address_label(peb, t->bits).s, address_label(teb, t->bits).s);
    struct {
        const char *structure;
        uint64_t address;
        const char *field;
        uint64_t want; /* what the library says elsewhere */
    } fields[] = {
        {"PEB", peb + 0x08, "ImageBaseAddress", t->info.image_base},
        {"PEB", peb + 0x18, "ProcessHeap", t->info.heap_base},
        {"TEB", teb + TEB_STACK_BASE, "NtTib.StackBase", main_thread->stack_base},
        {"TEB", teb + TEB_STACK_LIMIT, "NtTib.StackLimit", main_thread->stack_limit},
        {"TEB", teb + 0x18, "NtTib.Self", teb},
        {"TEB", teb + 0x20, "ClientId.UniqueProcess", vas_process_id(process)},
        {"TEB", teb + 0x24, "ClientId.UniqueThread", main_thread->thread_id},
        {"TEB", teb + 0x30, "ProcessEnvironmentBlock", peb},
    };
    table f;
    table_begin(&f, "Structure", "Address", "Field", ">Value", NULL);
    for (size_t i = 0; i < COUNT_OF(fields); i++) {
        uint32_t value = read_u32(process, fields[i].address);
        char shown[TABLE_CELL_SIZE];
        if (strncmp(fields[i].field, "ClientId", 8) == 0)
            snprintf(shown, sizeof shown, "%" PRIu32, value);
        else
            snprintf(shown, sizeof shown, "%s", address_label(value, t->bits).s);
        table_row(&f, fields[i].structure, address_label(fields[i].address, t->bits).s, fields[i].field, shown);
        if (value != fields[i].want) {
            fprintf(stderr, "vas tour: %s.%s is %#" PRIx32 ", the library says %#" PRIx64 "\n",
                    fields[i].structure, fields[i].field, value, fields[i].want);
            problems++;
        }
    }
    table_print(&f);
    if (peb + t->page != KUSER_SHARED_DATA || teb + t->page != peb) {
        fprintf(stderr, "vas tour: the PEB and TEB are not just below KUSER_SHARED_DATA\n");
        problems++;
    }
}

/* The base of the stack's guard region, 0 if it has none. */
static uint64_t stack_guard(vas_process *process, const vas_thread_info *thread)
{
    vas_memory_basic_information region;
    for (uint64_t at = thread->deallocation_stack;
         at < thread->stack_base && vas_virtual_query(process, at, &region, sizeof region);
         at = region.base_address + region.region_size)
        if (region.protect & VAS_PAGE_GUARD)
            return region.base_address;
    return 0;
}

static uint64_t stack_committed(vas_process *process, const vas_thread_info *thread)
{
    vas_memory_region_information region = {0};
    expect_status(vas_nt_query_region_information(process, thread->deallocation_stack, &region), VAS_STATUS_SUCCESS,
                  "NtQueryVirtualMemory(MemoryRegionInformation)");
    return region.commit_size;
}

/* A second thread's stack, grown page by page through its guard page until it overflows. */
static void show_stack_growth(image_tour *t)
{
    vas_process *process = t->process;
    uint64_t page = t->page, reserve = 64 * KB, commit = page;
    vas_thread_info *th = &t->threads[t->thread_count];
    if (!expect(vas_thread_create(process, reserve, commit, th), "CreateThread"))
        return;
    t->thread_count++;
    print_text("A thread's stack is a reservation of its own: the top pages committed, and below them "
               "one committed PAGE_GUARD page; the rest is only reserved. The first thread's is %s, as "
               "app.exe's header asks (SizeOfStackReserve), with %s committed (SizeOfStackCommit). A "
               "second thread, with a smaller stack:\n"
               "  CreateThread(NULL, %s, f, NULL, STACK_SIZE_PARAM_IS_A_RESERVATION, &id)   /* id = %" PRIu32
               " */\n"
               "gets a TEB at %s, below the first one's, and this stack:",
               size_label(PE_STACK_RESERVE).s, size_label(PE_STACK_COMMIT).s, size_label(reserve).s,
               th->thread_id, address_label(th->teb, t->bits).s);
    print_walk_noted(process, th->deallocation_stack, th->stack_base, image_region_notes, t);
    if (th->teb >= t->threads[0].teb || th->stack_base - th->deallocation_stack != reserve ||
        th->stack_base - th->stack_limit != commit) {
        fprintf(stderr, "vas tour: the second thread's TEB or stack is not where it should be\n");
        problems++;
    }

    print_text("StackBase (%s) is the top; StackLimit (%s) the lowest page the thread may use without "
               "a fault. As f calls deeper, a push below StackLimit touches the guard page. The fault takes "
               "PAGE_GUARD off that page (it is committed already), commits the page below as the new "
               "guard page, records the new StackLimit in the TEB and lets the push go on: no exception "
               "reaches the thread. The tour pushes a DWORD just below StackLimit, again and again:",
               address_label(th->stack_base, t->bits).s, address_label(th->stack_limit, t->bits).s);
    table g;
    table_begin(&g, ">Push", "Address", "Result", "StackLimit (TEB)", "Guard page", ">Committed", NULL);
    uint64_t bottom = th->deallocation_stack;
    uint32_t status = VAS_STATUS_SUCCESS, pushes = 0;
    uint64_t overflow_at = 0;
    vas_exception e = {0};
    vas_process_counters before = {0}, after = {0};
    expect(vas_process_get_counters(process, &before), "vas_process_get_counters");
    uint64_t limit = read_u32(process, th->teb + TEB_STACK_LIMIT);
    while (status == VAS_STATUS_SUCCESS && limit > bottom && pushes < 2 * reserve / page) {
        uint64_t guard_before = stack_guard(process, th), committed_before = stack_committed(process, th);
        uint64_t address = limit - sizeof(uint32_t);
        uint32_t value = 0xC0FFEE00u + pushes;
        status = vas_write(process, address, &value, sizeof value, &e);
        pushes++;
        uint64_t new_limit = read_u32(process, th->teb + TEB_STACK_LIMIT), guard = stack_guard(process, th);
        uint64_t committed = stack_committed(process, th);
        char number[16];
        snprintf(number, sizeof number, "%" PRIu32, pushes);
        table_row(&g, number, address_label(address, t->bits).s, vas_status_name(status),
                  address_label(new_limit, t->bits).s, guard ? address_label(guard, t->bits).s : "none",
                  size_label(committed).s);
        vas_thread_info now;
        expect(vas_thread_get_info(process, th->thread_id, &now), "vas_thread_get_info");
        int ok = now.stack_limit == new_limit && guard_before == limit - page && committed == committed_before + page;
        if (status == VAS_STATUS_SUCCESS)
            ok = ok && new_limit == limit - page && guard == new_limit - page && read_u32(process, address) == value;
        else
            ok = ok && status == VAS_STATUS_STACK_OVERFLOW && guard == 0 && new_limit == bottom + page &&
                 e.code == status && e.address == address;
        if (!ok) {
            fprintf(stderr, "vas tour: push %" PRIu32 " at %#" PRIx64 ": the stack did not grow as it should\n",
                    pushes, address);
            problems++;
        }
        if (status)
            overflow_at = address;
        limit = new_limit;
    }
    table_print(&g);
    expect(vas_process_get_counters(process, &after), "vas_process_get_counters");
    if (!expect_status(status, VAS_STATUS_STACK_OVERFLOW, "the last push"))
        return;
    uint32_t value = 1;
    uint32_t retry = vas_write(process, overflow_at, &value, sizeof value, &e);
    uint32_t beyond = vas_write(process, bottom + page - sizeof value, &value, sizeof value, &e);
    vas_memory_basic_information last = {0};
    expect(vas_virtual_query(process, bottom, &last, sizeof last) != 0, "VirtualQuery");
    print_text("The process counted %" PRIu64 " guard-page faults: %" PRIu32 " that each gave the stack a page "
               "more, then the last. That guard page was two pages above the bottom of the reservation, "
               "with no room left below it for another guard, and touching it raised %s (0x%08" PRIX32 ") in "
               "the thread instead: it lost its PAGE_GUARD like the others, no new guard was placed, the "
               "page just above the bottom was committed for the exception's handler to run on and became "
               "StackLimit, and the push itself did not happen (a retry of it %s). The bottom page, %s, is "
               "never committed, so going further is %s, and with no stack left to run a handler on, "
               "Windows ends the process. The stack now:",
               after.guard_page_faults - before.guard_page_faults, pushes - 1,
               vas_status_name(VAS_STATUS_STACK_OVERFLOW),
               VAS_STATUS_STACK_OVERFLOW, retry ? vas_status_name(retry) : "succeeds",
               vas_state_name(last.state), vas_status_name(beyond));
    print_walk_noted(process, th->deallocation_stack, th->stack_base, image_region_notes, t);
    if (retry != VAS_STATUS_SUCCESS || beyond != VAS_STATUS_ACCESS_VIOLATION || last.state != VAS_MEM_RESERVE ||
        last.region_size != page) {
        fprintf(stderr, "vas tour: the stack's last pages are not as Windows leaves them\n");
        problems++;
    }

    expect(vas_thread_exit(process, th->thread_id), "ExitThread");
    t->thread_count--;
    vas_memory_basic_information stack = {0}, teb = {0};
    expect(vas_virtual_query(process, th->deallocation_stack, &stack, sizeof stack) != 0, "VirtualQuery");
    expect(vas_virtual_query(process, th->teb, &teb, sizeof teb) != 0, "VirtualQuery");
    print_text("When the thread exits, its stack and its TEB go: VirtualQuery reports %s at both.",
               stack.state == teb.state ? vas_state_name(stack.state) : "different states");
    if (stack.state != VAS_MEM_FREE || teb.state != VAS_MEM_FREE) {
        fprintf(stderr, "vas tour: ExitThread left the stack or the TEB behind\n");
        problems++;
    }
}

static void tour_images(void)
{
    image_tour t = {0};
    if (!write_image_files(&t))
        return;
    show_image_files(&t);
    t.machine = vas_machine_create(&(vas_machine_config){.layout = "x86"});
    char exe[600];
    image_path(&t, &t.images[IMAGE_APP], exe, sizeof exe);
    t.process = t.machine ? vas_process_create_from_image(t.machine, exe, NULL) : NULL;
    t.second = t.process ? vas_process_create_from_image(t.machine, exe, NULL) : NULL;
    unlink_image_files(&t);
    if (!expect(t.machine != NULL, "vas_machine_create") ||
        !expect(t.process != NULL && t.second != NULL, "vas_process_create_from_image")) {
        if (t.machine)
            vas_machine_destroy(t.machine);
        close_image_files(&t);
        return;
    }
    vas_system_info system;
    vas_get_system_info(t.process, &system);
    t.bits = vas_process_bits(t.process);
    t.page = system.page_size;
    t.module_count = vas_process_modules(t.process, t.modules, COUNT_OF(t.modules));
    expect(vas_process_get_info(t.process, &t.info), "vas_process_get_info");
    t.thread_count = expect(vas_thread_get_info(t.process, t.info.main_thread_id, &t.threads[0]),
                            "vas_thread_get_info");
    const vas_module_info *app = module_named(&t, "app.exe"), *kbase = module_named(&t, "kbase.dll"),
                          *ubase = module_named(&t, "ubase.dll");
    if (t.module_count != IMAGE_COUNT || !app || !kbase || !ubase || t.modules[0].base != t.info.image_base ||
        app->relocated || kbase->relocated || !ubase->relocated || ubase->base == ubase->preferred_base ||
        t.bits != 32 || t.thread_count != 1) {
        fprintf(stderr, "vas tour: app.exe's process is not as the loader should make it\n");
        problems++;
    } else {
        show_modules(&t);
        show_image_pages(&t);
        show_image_copy_on_write(&t);
        show_peb_teb(&t);
        show_stack_growth(&t);
    }
    finish_machine(t.machine);
    close_image_files(&t);
}

/* ---- 11. System space: pools and the driver's view ------------------------------------------- */

/* The kernel partitions of section 1's machines, one row each. */
static const layout_example system_layouts[] = {
    {"x64, 8.1 and later", {.layout = "x64"}, {.bits = 64}},
    {"x64, Vista to 8", {.layout = "x64-win7"}, {.bits = 64}},
    {"x86, default boot", {.layout = "x86"}, {.large_address_aware = 1}},
    {"x86, IncreaseUserVa 3072", {.layout = "x86", .increase_user_va_mb = 3072}, {.large_address_aware = 1}},
    {"IA-64", {.layout = "ia64"}, {.bits = 64}},
    {"Windows 95/98", {.layout = "win9x"}, {0}},
};

/* Four characters as a pool tag: the first in the low byte, as in the C literal 'Tour' reversed. */
static uint32_t pool_tag(const char *name)
{
    return (uint32_t)(uint8_t)name[0] | (uint32_t)(uint8_t)name[1] << 8 | (uint32_t)(uint8_t)name[2] << 16 |
           (uint32_t)(uint8_t)name[3] << 24;
}

static label tag_label(uint32_t tag)
{
    label l;
    for (int i = 0; i < 4; i++) {
        char c = (char)(tag >> 8 * i);
        l.s[i] = c >= ' ' && c <= '~' ? c : '.';
    }
    l.s[4] = '\0';
    return l;
}

/* The tag as C code writes it: a multi-character constant, last character first ('ruoT' for Tour). */
static label tag_literal(uint32_t tag)
{
    label l;
    snprintf(l.s, sizeof l.s, "'%c%c%c%c'", (char)(tag >> 24), (char)(tag >> 16), (char)(tag >> 8), (char)tag);
    return l;
}

static const char *pool_name(int type) { return type == VAS_NONPAGED_POOL ? "Nonp" : "Paged"; }

static void show_system_partitions(void)
{
    print_text("Above user space, every process has the same thing: system space, where the kernel, "
               "the drivers and their data live. Its page tables are shared by all processes, so a "
               "system address means the same page whichever process is running, and only code in "
               "kernel mode may use it. Where it starts is the kernel variable MmSystemRangeStart "
               "(vas_get_machine_info's system_range_start); where it ends, the top of the kernel "
               "partition of section 1 (vas_get_partitions). The last column is what a user-mode read "
               "of the first byte of system space raises:");
    table t;
    table_begin(&t, "Machine", "MmSystemRangeStart", "Kernel partition from", "To", "Size", "User-mode read", NULL);
    const char *win7 = NULL;
    label win7_start = {""}, win7_first = {""};
    int all_refused = 1;
    for (size_t i = 0; i < COUNT_OF(system_layouts); i++) {
        const layout_example *example = &system_layouts[i];
        vas_machine *machine;
        vas_process *process = start_process(&machine, &example->machine, &example->process);
        if (!process)
            continue;
        vas_machine_info info;
        vas_get_machine_info(machine, &info);
        vas_partition partitions[8];
        size_t count = vas_get_partitions(process, partitions, COUNT_OF(partitions));
        const vas_partition *kernel = NULL;
        for (size_t k = 0; k < count && k < COUNT_OF(partitions); k++)
            if (partitions[k].kind == VAS_PARTITION_KERNEL)
                kernel = &partitions[k];
        int bits = info.native_bits;
        uint8_t byte;
        vas_exception e;
        uint32_t status = vas_read(process, info.system_range_start, &byte, 1, &e);
        all_refused &= status == VAS_STATUS_ACCESS_VIOLATION && e.address == info.system_range_start;
        if (!expect(kernel != NULL, "vas_get_partitions (a kernel partition)")) {
            finish_machine(machine);
            continue;
        }
        if (kernel->first != info.system_range_start) {
            win7 = example->title;
            win7_start = address_label(info.system_range_start, bits);
            win7_first = address_label(kernel->first, bits);
        }
        table_row(&t, example->title, address_label(info.system_range_start, bits).s,
                  address_label(kernel->first, bits).s, address_label(kernel->last, bits).s,
                  size_label(kernel->last - kernel->first + 1).s, vas_status_name(status));
        finish_machine(machine);
    }
    table_print(&t);
    if (!all_refused) {
        fprintf(stderr, "vas tour: a user-mode read of system space did not raise an access violation\n");
        problems++;
    }
    char note[320] = "";
    if (win7)
        snprintf(note, sizeof note, " On %s, MmSystemRangeStart is %s, inside the non-canonical hole: "
                 "the first system address the processor accepts is %s.", win7, win7_start.s, win7_first.s);
    print_text("On x86 the boot option that gives large-address-aware programs 3 GB takes it from the "
               "kernel, which must then fit in 1 GB.%s On Windows NT and its successors user code reaches "
               "none of system space. Windows 95/98 were different: their shared area (2 GB to 3 GB) held "
               "the memory-mapped files of every process, and the system's own memory above it was not "
               "protected from user code either. vas keeps NT's rule on every layout, as the last column "
               "shows, and maps 95/98's views in user space.",
               note);
}

/* A pool page reached through two processes in kernel mode, and refused to user mode. */
static void show_system_page(void)
{
    vas_machine *machine;
    vas_process_config a_config = {.name = "notepad.exe"}, b_config = {.name = "MyApp.exe"};
    vas_process *a = start_process(&machine, NULL, &a_config);
    if (!a)
        return;
    vas_process *b = vas_process_create(machine, &b_config);
    if (!expect(b != NULL, "vas_process_create")) {
        vas_machine_destroy(machine);
        return;
    }
    int bits = vas_process_bits(a);
    static const char text[] = "kernel data, one copy";
    uint32_t tag = pool_tag("Tour");
    uint64_t block = vas_pool_alloc(machine, VAS_NONPAGED_POOL, sizeof text, tag);
    if (!expect(block != 0, "ExAllocatePoolWithTag")) {
        finish_machine(machine);
        return;
    }
    vas_exception e;
    expect_status(vas_kernel_write(machine, a, block, text, sizeof text, &e), VAS_STATUS_SUCCESS,
                  "vas_kernel_write");
    print_text("A driver allocates %zu bytes of nonpaged pool (below) and fills them while %s is the "
               "current process:\n"
               "  p = ExAllocatePoolWithTag(NonPagedPool, %zu, %s) = %s\n"
               "  strcpy(p, \"%s\");\n"
               "Then kernel-mode code reads the same address with each process current in turn "
               "(vas_kernel_read's `current`), and each process tries it from user mode:",
               sizeof text, vas_process_name(a), sizeof text, tag_literal(tag).s, address_label(block, bits).s, text);
    table t;
    table_begin(&t, "Current process", "Mode", "Address", "Result", "Read", NULL);
    vas_process *processes[2] = {a, b};
    int same = 1;
    for (int i = 0; i < 2; i++) {
        char back[sizeof text] = "";
        uint32_t status = vas_kernel_read(machine, processes[i], block, back, sizeof back, &e);
        expect_status(status, VAS_STATUS_SUCCESS, "vas_kernel_read");
        same &= memcmp(back, text, sizeof text) == 0;
        table_row(&t, vas_process_name(processes[i]), "kernel", address_label(block, bits).s,
                  vas_status_name(status), quoted_label(back, strlen(back)).s);
    }
    vas_exception user[2];
    uint32_t user_status[2];
    for (int i = 0; i < 2; i++) {
        char back[sizeof text] = "";
        user_status[i] = vas_read(processes[i], block, back, sizeof back, &user[i]);
        table_row(&t, vas_process_name(processes[i]), "user", address_label(block, bits).s,
                  vas_status_name(user_status[i]), back[0] ? quoted_label(back, strlen(back)).s : "nothing");
    }
    table_print(&t);
    if (!same) {
        fprintf(stderr, "vas tour: a system page reads differently in two processes\n");
        problems++;
    }
    printf("  The user-mode read, from %s:\n", vas_process_name(b));
    char call[96];
    snprintf(call, sizeof call, "memcpy(buffer, (void *)%s, %zu);", address_label(block, bits).s, sizeof text);
    show_exception(call, user_status[1], &user[1],
                   &(vas_exception){VAS_STATUS_ACCESS_VIOLATION, VAS_EXCEPTION_READ_FAULT, block}, bits);
    expect(user_status[0] == VAS_STATUS_ACCESS_VIOLATION, "a user-mode read of system space (refused)");
    print_text("Both processes see the one copy: the address leads to the same frame through the "
               "shared system page tables, whose entries lack the User bit, so the processor refuses "
               "any access to it from user mode.");
    expect(vas_pool_free(machine, block, tag), "ExFreePoolWithTag");
    finish_machine(machine);
}

/* One pool allocation of the tour: its pool, size and tag. */
typedef struct pool_request {
    int type;
    uint64_t size;
    const char *tag;
} pool_request;

static void print_pool_tags(vas_machine *machine)
{
    vas_pool_tag_info tags[16];
    size_t count = vas_pool_tags(machine, tags, COUNT_OF(tags));
    if (!expect(count <= COUNT_OF(tags), "vas_pool_tags (more tags than the tour can show)"))
        count = COUNT_OF(tags);
    table t;
    table_begin(&t, "Tag", "Type", ">Allocs", ">Frees", ">Diff", ">Bytes", ">Per Alloc", NULL);
    for (size_t i = 0; i < count; i++) {
        uint64_t live = tags[i].allocs - tags[i].frees;
        table_row(&t, tag_label(tags[i].tag).s, pool_name(tags[i].pool_type), count_label(tags[i].allocs).s,
                  count_label(tags[i].frees).s, count_label(live).s, count_label(tags[i].bytes).s,
                  count_label(live ? tags[i].bytes / live : 0).s);
    }
    table_print(&t);
}

/* Pool blocks by tag, their headers, a big block, frees and bad frees. */
static void show_pools(void)
{
    vas_machine *machine = vas_machine_create(NULL);
    if (!expect(machine != NULL, "vas_machine_create"))
        return;
    vas_machine_info info;
    vas_get_machine_info(machine, &info);
    int bits = info.native_bits;
    uint64_t unit = bits == 32 ? 8 : 16, page = info.page_size;
    vas_pool_status status;
    vas_get_pool_status(machine, &status);
    static const pool_request requests[] = {
        {VAS_NONPAGED_POOL, 0x118, "Irp "}, {VAS_NONPAGED_POOL, 0x118, "Irp "}, {VAS_NONPAGED_POOL, 0x118, "Irp "},
        {VAS_NONPAGED_POOL, 40, "Tour"},    {VAS_PAGED_POOL, 0x3C0, "Toke"},    {VAS_PAGED_POOL, 0x3C0, "Toke"},
        {VAS_PAGED_POOL, 20 * KB, "MmSt"},
    };
    enum { REQUESTS = COUNT_OF(requests) };
    uint64_t blocks[REQUESTS];
    print_text("Drivers and the kernel allocate from two pools in system space: nonpaged pool, whose "
               "pages are always in RAM (code that runs when no page fault may be taken needs it), and "
               "paged pool, whose pages may go to the paging file like any user page. On this x64 "
               "machine nonpaged pool is the %s at %s, paged pool the %s at %s. Every allocation "
               "carries a tag, four characters chosen by the caller, so that poolmon can tell who "
               "uses what, and a leak can be traced to its driver. C writes a tag as a multi-character "
               "constant, last character first (%s for \"%s\"), so that its bytes in memory read in order. "
               "A few allocations, as drivers make them:",
               size_label(status.size[VAS_NONPAGED_POOL]).s, address_label(status.base[VAS_NONPAGED_POOL], bits).s,
               size_label(status.size[VAS_PAGED_POOL]).s, address_label(status.base[VAS_PAGED_POOL], bits).s,
               tag_literal(pool_tag(requests[3].tag)).s, requests[3].tag);
    table t;
    table_begin(&t, "ExAllocatePoolWithTag(type, size, tag)", ">Takes", "Returned", "Header (the unit before)", NULL);
    for (int i = 0; i < REQUESTS; i++) {
        const pool_request *r = &requests[i];
        uint32_t tag = pool_tag(r->tag);
        blocks[i] = vas_pool_alloc(machine, r->type, r->size, tag);
        if (!expect(blocks[i] != 0, "ExAllocatePoolWithTag")) {
            vas_machine_destroy(machine);
            return;
        }
        char call[160], header[64] = "none: whole pages";
        snprintf(call, sizeof call, "%s, %s, %s", r->type == VAS_NONPAGED_POOL ? "NonPagedPool" : "PagedPool",
                 hex_label(r->size, 0).s, tag_literal(tag).s);
        uint64_t need = round_up(r->size, unit) + unit;
        if (need <= page) {
            uint8_t bytes[16] = {0};
            vas_exception e;
            expect_status(vas_kernel_read(machine, NULL, blocks[i] - unit, bytes, (size_t)unit, &e),
                          VAS_STATUS_SUCCESS, "vas_kernel_read of a pool header");
            snprintf(header, sizeof header, "%s", bytes_label(bytes, 8).s);
            uint64_t units = (uint64_t)bytes[0] | (uint64_t)bytes[1] << 8;
            if (units * unit != need || bytes[2] != r->type + 1 || get32(bytes + 4) != tag) {
                fprintf(stderr, "vas tour: the header of the '%s' block is not what it should be\n", r->tag);
                problems++;
            }
        } else if (blocks[i] % page) {
            fprintf(stderr, "vas tour: a big pool block is not page-aligned\n");
            problems++;
        }
        table_row(&t, call, hex_label(need <= page ? need : round_up(r->size, page), 0).s,
                  address_label(blocks[i], bits).s, header);
    }
    table_print(&t);
    uint64_t tour_need = round_up(requests[3].size, unit) + unit;
    print_text("A small request is rounded up to %" PRIu64 "-byte units, plus one unit for a header "
               "just before the address returned; blocks are carved from a pool page one after the other. "
               "vas's header is the block's size in units in its first two bytes, the pool type plus one "
               "in the third (0 marks a free block) and the tag in the last four, read here with "
               "vas_kernel_read: the Tour block of %" PRIu64 " bytes takes %" PRIu64 " units (%s), type "
               "%d is %s, and \"%s\" is the tag's bytes in memory order. (Windows' POOL_HEADER holds the "
               "same facts, with the previous block's size too, which is how a debugger's !pool walks a "
               "page.) The %s request does not fit in a page: it takes whole pages, %s, page-aligned, "
               "with no header. poolmon's view (vas_pool_tags), Bytes counting headers and rounding:",
               unit, requests[3].size, tour_need / unit, size_label(tour_need).s, requests[3].type + 1,
               "NonPagedPool + 1", requests[3].tag, size_label(requests[6].size).s,
               size_label(round_up(requests[6].size, page)).s);
    print_pool_tags(machine);

    print_text("Then the driver frees one IRP and the big block:\n"
               "  ExFreePoolWithTag(%s, %s)\n  ExFreePoolWithTag(%s, %s)",
               address_label(blocks[1], bits).s, tag_literal(pool_tag("Irp ")).s, address_label(blocks[6], bits).s,
               tag_literal(pool_tag("MmSt")).s);
    expect(vas_pool_free(machine, blocks[1], pool_tag("Irp ")), "ExFreePoolWithTag");
    expect(vas_pool_free(machine, blocks[6], pool_tag("MmSt")), "ExFreePoolWithTag");
    print_pool_tags(machine);

    print_text("A free names the tag it expects, and Windows checks it against the header. A mistake "
               "there stops Windows with the blue screen BAD_POOL_CALLER (bug check 0xC2); vas refuses "
               "the call instead, and changes nothing:");
    show_attempt(vas_pool_free(machine, blocks[3], pool_tag("Toke")), VAS_ERROR_INVALID_PARAMETER,
                 "Free the Tour block with Toke's tag:", "ExFreePoolWithTag(%s, %s)",
                 address_label(blocks[3], bits).s, tag_literal(pool_tag("Toke")).s);
    show_attempt(vas_pool_free(machine, blocks[1], pool_tag("Irp ")), VAS_ERROR_INVALID_BLOCK,
                 "Free the IRP freed above again:", "ExFreePoolWithTag(%s, %s)",
                 address_label(blocks[1], bits).s, tag_literal(pool_tag("Irp ")).s);
    show_attempt(vas_pool_free(machine, blocks[3] + unit, pool_tag("Tour")), VAS_ERROR_INVALID_ADDRESS,
                 "Free an address inside a block:", "ExFreePoolWithTag(%s, %s)",
                 address_label(blocks[3] + unit, bits).s, tag_literal(pool_tag("Tour")).s);
    vas_pool_tag_info tags[16];
    size_t count = vas_pool_tags(machine, tags, COUNT_OF(tags));
    uint64_t live = 0;
    for (size_t i = 0; i < count && i < COUNT_OF(tags); i++)
        live += tags[i].allocs - tags[i].frees;
    vas_get_pool_status(machine, &status);
    expect(live == status.blocks[0] + status.blocks[1] && live == REQUESTS - 2, "pool block counts");
    print_text("The counts are as they were: %" PRIu64 " blocks live, %" PRIu64 " in nonpaged pool and %" PRIu64
               " in paged pool (vas_get_pool_status), which has %s committed in nonpaged pool and %s in paged "
               "pool.",
               live, status.blocks[VAS_NONPAGED_POOL], status.blocks[VAS_PAGED_POOL],
               size_label(status.committed[VAS_NONPAGED_POOL]).s, size_label(status.committed[VAS_PAGED_POOL]).s);
    finish_machine(machine);
}

/* Pool pages under memory pressure: nonpaged stays, paged goes to the paging file and comes back. */
typedef struct pool_moment {
    vas_pool_status pool;
    vas_paging_status paging;
} pool_moment;

static void take_pool_moment(vas_machine *machine, pool_moment *m)
{
    vas_get_pool_status(machine, &m->pool);
    vas_get_paging_status(machine, &m->paging);
}

/* Kernel-mode reads of the first 8 bytes of every page of [base, base + size); 1 if each held its
   page number. */
static int check_pool_pages(vas_machine *machine, uint64_t base, uint64_t size, uint64_t page)
{
    int intact = 1;
    for (uint64_t i = 0; i < size / page; i++) {
        uint64_t value = 0;
        vas_exception e;
        expect_status(vas_kernel_read(machine, NULL, base + i * page, &value, sizeof value, &e), VAS_STATUS_SUCCESS,
                      "vas_kernel_read");
        intact &= value == i + 1;
    }
    return intact;
}

static void show_pool_pressure(void)
{
    vas_machine_config config = {.ram_bytes = PAGING_RAM, .pagefile_bytes = PAGING_FILE};
    vas_machine *machine = vas_machine_create(&config);
    if (!expect(machine != NULL, "vas_machine_create"))
        return;
    vas_machine_info info;
    vas_get_machine_info(machine, &info);
    int bits = info.native_bits;
    uint64_t page = info.page_size;
    const uint64_t pool_sizes[2] = {1 * MB, PAGING_RAM + PAGING_RAM / 2};
    static const char *const tags[2] = {"NpBf", "PgBf"};
    uint64_t bases[2];
    pool_moment s[4];
    for (int type = 0; type < 2; type++) {
        bases[type] = vas_pool_alloc(machine, type, pool_sizes[type], pool_tag(tags[type]));
        if (!expect(bases[type] != 0, "ExAllocatePoolWithTag")) {
            finish_machine(machine);
            return;
        }
        for (uint64_t i = 0; i < pool_sizes[type] / page; i++) {
            uint64_t value = i + 1;
            vas_exception e;
            expect_status(vas_kernel_write(machine, NULL, bases[type] + i * page, &value, sizeof value, &e),
                          VAS_STATUS_SUCCESS, "vas_kernel_write");
        }
        take_pool_moment(machine, &s[type]);
    }
    int intact[2];
    for (int type = 0; type < 2; type++) {
        intact[type] = check_pool_pages(machine, bases[type], pool_sizes[type], page);
        take_pool_moment(machine, &s[2 + type]);
    }

    print_text("Under memory pressure the two pools behave differently. On section 8's small machine (%s "
               "of RAM, a %s paging file) a driver allocates %s of nonpaged pool, then %s of paged pool, "
               "more than the RAM (tags %s and %s, big blocks at %s and %s), and writes each page's number "
               "into them; then it reads its nonpaged pages back, and its paged ones. The system working "
               "set (vas_get_pool_status's resident) is the pool pages in RAM:",
               size_label(PAGING_RAM).s, size_label(PAGING_FILE).s, size_label(pool_sizes[0]).s,
               size_label(pool_sizes[1]).s, tags[0], tags[1], address_label(bases[0], bits).s,
               address_label(bases[1], bits).s);
    table t;
    table_begin(&t, "Counter", ">Nonpaged written", ">Paged written", ">Nonpaged read", ">Paged read", NULL);
    snapshot_row(&t, "Nonpaged pool committed",
                 (const uint64_t[4]){s[0].pool.committed[0], s[1].pool.committed[0], s[2].pool.committed[0],
                                     s[3].pool.committed[0]}, AS_SIZE);
    snapshot_row(&t, "Paged pool committed",
                 (const uint64_t[4]){s[0].pool.committed[1], s[1].pool.committed[1], s[2].pool.committed[1],
                                     s[3].pool.committed[1]}, AS_SIZE);
    snapshot_row(&t, "System working set",
                 (const uint64_t[4]){s[0].pool.resident, s[1].pool.resident, s[2].pool.resident, s[3].pool.resident},
                 AS_SIZE);
    snapshot_row(&t, "Pages written to the paging file",
                 (const uint64_t[4]){s[0].paging.pages_written, s[1].paging.pages_written, s[2].paging.pages_written,
                                     s[3].paging.pages_written}, AS_COUNT);
    snapshot_row(&t, "Paging-file reads",
                 (const uint64_t[4]){s[0].paging.reads, s[1].paging.reads, s[2].paging.reads, s[3].paging.reads},
                 AS_COUNT);
    table_print(&t);
    uint64_t nonpaged = s[0].pool.committed[0], pooled = s[1].pool.committed[0] + s[1].pool.committed[1];
    uint64_t reads_nonpaged = s[2].paging.reads - s[1].paging.reads, reads_paged = s[3].paging.reads - s[2].paging.reads;
    int ok = intact[0] && intact[1] && s[0].pool.resident == nonpaged && s[1].pool.resident < pooled &&
             reads_nonpaged == 0 && s[2].pool.resident == s[1].pool.resident && reads_paged > 0;
    for (int i = 1; i < 4; i++)
        ok = ok && s[i].pool.resident >= nonpaged;
    if (!ok) {
        fprintf(stderr, "vas tour: pool pages did not behave as they should under pressure\n");
        problems++;
    }
    print_text("Of the %s of pool, %s fit in RAM: the rest of the paged pool went to the paging file "
               "(%" PRIu64 " pages written), trimmed from the system working set like the pages of a "
               "process. None of it was nonpaged pool: those pages are locked in RAM from the moment they "
               "are committed, and reading all %s of them back took %" PRIu64 " paging-file reads and left "
               "the system working set as it was. Reading the %" PRIu64 " pages of paged pool back took %" PRIu64
               " reads, hard faults in kernel mode: as in section 8's sweeps, bringing the first pages back "
               "pushed later ones out before their turn. Every page of both pools still held its number%s. "
               "This is why code that may not wait for the disk (an interrupt handler, say) must use "
               "nonpaged pool.",
               size_label(pooled).s, size_label(s[1].pool.resident).s, s[1].paging.pages_written,
               size_label(nonpaged).s, reads_nonpaged, pool_sizes[1] / page, reads_paged,
               intact[0] && intact[1] ? "" : " (NOT: a bug)");
    finish_machine(machine);
}

#define DRIVER_BYTES 32 /* the request's length */

typedef struct driver_tour {
    vas_machine *machine;
    vas_process *a, *b, *c; /* the requester, a process with memory at the same address, one without */
    uint64_t buffer;
    int bits;
} driver_tour;

static label buffer_text(driver_tour *d, vas_process *process)
{
    char bytes[DRIVER_BYTES] = "";
    vas_exception e;
    if (vas_read(process, d->buffer, bytes, sizeof bytes, &e) != VAS_STATUS_SUCCESS)
        return (label){"nothing there"};
    return quoted_label(bytes, strnlen(bytes, sizeof bytes));
}

/* A completion's outcome: what each process now holds at the buffer's address. */
static void driver_row(table *t, driver_tour *d, const char *way, vas_process *current, uint64_t address,
                       uint32_t status)
{
    table_row(t, way, vas_process_name(current), address_label(address, d->bits).s, vas_status_name(status),
              buffer_text(d, d->a).s, buffer_text(d, d->b).s);
}

static int buffer_holds(driver_tour *d, vas_process *process, const char *text)
{
    char bytes[DRIVER_BYTES] = "";
    vas_exception e;
    return vas_read(process, d->buffer, bytes, sizeof bytes, &e) == VAS_STATUS_SUCCESS &&
           strncmp(bytes, text, sizeof bytes) == 0;
}

static void show_driver(void)
{
    driver_tour d = {0};
    vas_process_config configs[3] = {{.name = "notepad.exe"}, {.name = "MyApp.exe"}, {.name = "calc.exe"}};
    d.a = start_process(&d.machine, NULL, &configs[0]);
    if (!d.a)
        return;
    d.b = vas_process_create(d.machine, &configs[1]);
    d.c = vas_process_create(d.machine, &configs[2]);
    if (!expect(d.b && d.c, "vas_process_create")) {
        vas_machine_destroy(d.machine);
        return;
    }
    vas_machine *machine = d.machine;
    d.bits = vas_process_bits(d.a);
    vas_system_info system;
    vas_get_system_info(d.a, &system);
    uint64_t page = system.page_size;
    static const char a_text[DRIVER_BYTES] = "notepad's buffer, empty", b_text[DRIVER_BYTES] = "MyApp's own data",
                      data[DRIVER_BYTES] = "data from the device", more[DRIVER_BYTES] = "more data, via an MDL";
    d.buffer = vas_virtual_alloc(d.a, 0, page, VAS_MEM_RESERVE | VAS_MEM_COMMIT, VAS_PAGE_READWRITE);
    uint64_t b_buffer = vas_virtual_alloc(d.b, 0, page, VAS_MEM_RESERVE | VAS_MEM_COMMIT, VAS_PAGE_READWRITE);
    vas_exception e;
    if (!expect(d.buffer != 0 && b_buffer == d.buffer, "VirtualAlloc (the same address in two processes)") ||
        !expect_status(vas_write(d.a, d.buffer, a_text, sizeof a_text, &e), VAS_STATUS_SUCCESS, "vas_write") ||
        !expect_status(vas_write(d.b, d.buffer, b_text, sizeof b_text, &e), VAS_STATUS_SUCCESS, "vas_write")) {
        finish_machine(machine);
        return;
    }
    uint64_t document_pages = 16; /* notepad.exe's other memory, in its working set */
    uint64_t document = vas_virtual_alloc(d.a, 0, document_pages * page, VAS_MEM_RESERVE | VAS_MEM_COMMIT,
                                          VAS_PAGE_READWRITE);
    if (expect(document != 0, "VirtualAlloc"))
        sweep_pages(d.a, document, document_pages * page, page, 1);
    label at = address_label(d.buffer, d.bits);
    print_text("Now the hazard Windows' documentation spells out for drivers. A user address means "
               "something only in its own process, and a driver's code does not always run in the process "
               "that called it. Three processes: %s and %s each have a page at %s (the first free "
               "address, so the same in both) holding a text; %s has nothing there. Step by step:\n"
               "  1. %s asks a device for %d bytes:\n"
               "       ReadFile(h, buf, %d, NULL, &overlapped);   /* buf = %s */\n"
               "     The I/O manager hands the driver an IRP carrying buf (Irp->UserBuffer).\n"
               "  2. The driver starts the device, queues the IRP and returns STATUS_PENDING.\n"
               "  3. The data arrives later; the completion runs in whatever thread the\n"
               "     processor happened to be running: the current process is %s.\n"
               "  4. It copies the data to Irp->UserBuffer (vas_kernel_write), %s current.\n"
               "Then the same completion, had %s been current:",
               vas_process_name(d.a), vas_process_name(d.b), at.s, vas_process_name(d.c), vas_process_name(d.a),
               DRIVER_BYTES, DRIVER_BYTES, at.s, vas_process_name(d.b), vas_process_name(d.b),
               vas_process_name(d.c));
    table t;
    table_begin(&t, "Completion", "Current", "Writes to", "Result", "notepad.exe's buf", "MyApp.exe's, same address",
                NULL);
    table_row(&t, "(before)", "-", "-", "-", buffer_text(&d, d.a).s, buffer_text(&d, d.b).s);
    vas_process *current = d.b;
    uint32_t status = vas_kernel_write(machine, current, d.buffer, data, sizeof data, &e);
    driver_row(&t, &d, "copy to the user address", current, d.buffer, status);
    int wrong_way = status == VAS_STATUS_SUCCESS && buffer_holds(&d, d.a, a_text) && buffer_holds(&d, d.b, data);
    expect(vas_write(d.b, d.buffer, b_text, sizeof b_text, &e) == VAS_STATUS_SUCCESS, "vas_write"); /* undo */
    current = d.c;
    vas_exception fault;
    uint32_t faulted = vas_kernel_write(machine, current, d.buffer, data, sizeof data, &fault);
    driver_row(&t, &d, "copy to the user address", current, d.buffer, faulted);
    table_print(&t);
    if (!wrong_way) {
        fprintf(stderr, "vas tour: the completion with the wrong process current did not land in its memory\n");
        problems++;
    }
    print_text("With %s current, the data went into %s's memory: its text is overwritten (the tour "
               "restores it for the next rows) and %s still waits with an untouched buffer. Nothing failed, "
               "which is what makes the bug so hard to find. With %s current, the address leads nowhere:",
               vas_process_name(d.b), vas_process_name(d.b), vas_process_name(d.a), vas_process_name(d.c));
    char call[96];
    snprintf(call, sizeof call, "RtlCopyMemory(Irp->UserBuffer, data, %d);   /* calc.exe current */", DRIVER_BYTES);
    show_exception(call, faulted, &fault,
                   &(vas_exception){VAS_STATUS_ACCESS_VIOLATION, VAS_EXCEPTION_WRITE_FAULT, d.buffer}, d.bits);
    print_text("In a driver without __try around the copy, that exception brings the whole system down "
               "with a blue screen.");

    /* The right ways. */
    table_begin(&t, "Completion", "Current", "Writes to", "Result", "notepad.exe's buf", "MyApp.exe's, same address",
                NULL);
    current = d.b;
    vas_apc_state state;
    vas_ke_stack_attach_process(&current, d.a, &state);
    vas_process *attached = current;
    status = vas_kernel_write(machine, current, d.buffer, data, sizeof data, &e);
    vas_ke_unstack_detach_process(&current, &state);
    driver_row(&t, &d, "attached to notepad.exe", attached, d.buffer, status);
    int attach_ok = status == VAS_STATUS_SUCCESS && attached == d.a && current == d.b &&
                    buffer_holds(&d, d.a, data) && buffer_holds(&d, d.b, b_text);

    /* The MDL: built at dispatch time, while notepad.exe is current. */
    vas_process_counters before, emptied;
    vas_mdl *mdl = vas_io_allocate_mdl(d.a, d.buffer, DRIVER_BYTES);
    uint64_t system_address = 0, frame_before = 0, frame_after = 0;
    uint32_t locked = VAS_STATUS_INVALID_HANDLE, to_before = 0, to_after = 0;
    if (expect(mdl != NULL, "IoAllocateMdl")) {
        locked = vas_mm_probe_and_lock_pages(mdl, VAS_EXCEPTION_WRITE_FAULT, &e);
        expect_status(locked, VAS_STATUS_SUCCESS, "MmProbeAndLockPages");
        system_address = vas_mm_get_system_address_for_mdl_safe(mdl);
        expect(system_address != 0, "MmGetSystemAddressForMdlSafe");
    }
    expect(vas_process_get_counters(d.a, &before), "vas_process_get_counters");
    to_before = vas_virtual_to_physical(d.a, d.buffer, &frame_before);
    expect(vas_empty_working_set(d.a), "EmptyWorkingSet");
    expect(vas_process_get_counters(d.a, &emptied), "vas_process_get_counters");
    to_after = vas_virtual_to_physical(d.a, d.buffer, &frame_after);
    current = d.b;
    status = system_address ? vas_kernel_write(machine, current, system_address, more, sizeof more, &e)
                            : VAS_STATUS_INVALID_PARAMETER;
    driver_row(&t, &d, "through the MDL", current, system_address, status);
    int mdl_ok = status == VAS_STATUS_SUCCESS && buffer_holds(&d, d.a, more) && buffer_holds(&d, d.b, b_text);
    if (mdl) {
        vas_mm_unlock_pages(mdl);
        vas_io_free_mdl(mdl);
    }
    print_text("The right ways. A driver that must reach the requester's memory from elsewhere can attach "
               "to its process for the copy:\n"
               "  KeStackAttachProcess(notepad, &state);   /* current: %s */\n"
               "  RtlCopyMemory(Irp->UserBuffer, data, %d);\n"
               "  KeUnstackDetachProcess(&state);          /* current: %s again */\n"
               "Better, the I/O manager's direct I/O: at dispatch time, while %s is still current, the "
               "driver describes the buffer with an MDL, locks its pages in RAM for writing and maps them "
               "into system space; the completion, wherever it runs, writes through the system address:\n"
               "  mdl = IoAllocateMdl(buf, %d, FALSE, FALSE, Irp);\n"
               "  MmProbeAndLockPages(mdl, UserMode, IoWriteAccess);   /* %s */\n"
               "  va = MmGetSystemAddressForMdlSafe(mdl, NormalPagePriority) = %s\n"
               "  ... later, with %s current:\n"
               "  RtlCopyMemory(va, data, %d); MmUnlockPages(mdl); IoFreeMdl(mdl);",
               vas_process_name(attached), DRIVER_BYTES, vas_process_name(current), vas_process_name(d.a),
               DRIVER_BYTES, vas_status_name(locked), address_label(system_address, d.bits).s,
               vas_process_name(d.b), DRIVER_BYTES);
    table_print(&t);
    int resident = to_before == VAS_STATUS_SUCCESS && to_after == VAS_STATUS_SUCCESS && frame_before == frame_after &&
                   emptied.working_set_size == page;
    if (!attach_ok || !mdl_ok || !resident) {
        fprintf(stderr, "vas tour: a right way to complete the request did not reach notepad.exe's buffer\n");
        problems++;
    }
    print_text("Both reached %s's buffer and left %s's page alone. Locked pages stay in RAM until "
               "unlocked, so the device (or the completion) never meets a page that is on disk: between "
               "the lock and the completion, EmptyWorkingSet(notepad) took %s's working set from %s to %s, "
               "and that %s is the locked page, still at physical address %s. MmUnlockPages lets it go "
               "like any other, and unmaps va.",
               vas_process_name(d.a), vas_process_name(d.b), vas_process_name(d.a),
               size_label(before.working_set_size).s, size_label(emptied.working_set_size).s,
               size_label(emptied.working_set_size).s, hex_label(frame_after, 0).s);

    uint64_t readonly = vas_virtual_alloc(d.a, 0, page, VAS_MEM_RESERVE | VAS_MEM_COMMIT, VAS_PAGE_READONLY);
    expect(readonly != 0, "VirtualAlloc(PAGE_READONLY)");
    print_text("A driver that uses a user address directly checks it first, inside __try: ProbeForWrite "
               "checks that the range lies in user space and is aligned, and touches each page for "
               "writing. %s passes a read-only page instead of a buffer (ro = %s):",
               vas_process_name(d.a), address_label(readonly, d.bits).s);
    vas_exception probed;
    status = vas_probe_for_write(d.a, readonly, DRIVER_BYTES, 4, &probed);
    snprintf(call, sizeof call, "ProbeForWrite(ro, %d, sizeof(ULONG));", DRIVER_BYTES);
    show_exception(call, status, &probed,
                   &(vas_exception){VAS_STATUS_ACCESS_VIOLATION, VAS_EXCEPTION_WRITE_FAULT, readonly}, d.bits);
    expect_status(vas_probe_for_write(d.a, d.buffer, DRIVER_BYTES, 4, &probed), VAS_STATUS_SUCCESS,
                  "ProbeForWrite(buf)");
    print_text("The __except block fails the request with that status, and the system stays up. On buf "
               "itself the same probe succeeds.");
    finish_machine(machine);
}

static void tour_system(void)
{
    show_system_partitions();
    show_system_page();
    show_pools();
    show_pool_pressure();
    show_driver();
}

/* ---- 12. Scripts, maps and the report ---------------------------------------------------- */

static const char tour_scenario[] =
    "# A small machine: an editor and a viewer sharing a buffer\n"
    "machine layout=x86 ram=32M pagefile=64M\n"
    "process editor name=\"editor.exe\" bits=32\n"
    "heap = alloc 0 1M MEM_RESERVE PAGE_READWRITE\n"
    "alloc heap 64K MEM_COMMIT PAGE_READWRITE\n"
    "touch heap 64K write\n"
    "small = alloc 0 4K MEM_COMMIT|MEM_RESERVE PAGE_READWRITE\n"
    "t = thread\n"
    "shared = section size=256K name=\"Local\\\\EditorText\"\n"
    "view = map_view shared FILE_MAP_WRITE\n"
    "write view \"shared text\"\n"
    "process viewer name=\"viewer.exe\" bits=32\n"
    "text = open_section \"Local\\\\EditorText\" FILE_MAP_READ\n"
    "view2 = map_view text FILE_MAP_READ\n"
    "expect read view2 11 == \"shared text\"\n"
    "pool = pool_alloc paged 200 \"Edit\"\n";

#define TOUR_REPORT "vas-tour.html"

static void show_pictures(vas_machine *machine, const view_process *processes, size_t count, void *context)
{
    (void)context;
    view_options options = {.colour = cli.colour};
    print_text("The editor's address space as Sysinternals VMMap shows it: a summary by kind of memory, "
               "then every allocation with its sub-blocks. The 4 KB allocation left the rest of its 64 KB "
               "granule Unusable; the thread's stack and the shared view have kinds of their own.");
    view_map(processes[0].process, &options);
    print_text("\nThe fragmentation view draws user space one cell per 64 KB granule; runs of free rows "
               "are folded into one line, and the largest free block is the number that says whether a "
               "big allocation can still succeed.");
    view_frag(processes[0].process, &options);
    print_text("\nAnd physical memory, frame by frame: whose each page is, and which frames are free, "
               "zeroed, on standby or modified.");
    view_physical(machine, processes, count, &options);
    int error = report_write_html(TOUR_REPORT, machine, processes, count, "vas tour");
    if (error)
        print_text("The HTML report could not be written to %s (%s); `vas report --html FILE SCRIPT` "
                   "writes one anywhere.", TOUR_REPORT, strerror(error));
    else
        print_text("\nLast, the whole machine as one self-contained web page, with a bar of each address "
                   "space, the physical frame map and the figures: open %s in a browser (it needs no "
                   "network). `vas report --html FILE SCRIPT` writes one for any scenario.", TOUR_REPORT);
}

static void tour_pictures(void)
{
    print_text("Everything in this tour can be driven by a scenario script: one line per call, Windows' "
               "own constant names, variables for the addresses calls return, and expect lines that make "
               "a script a test (docs/scenario.md). `vas run FILE` runs one and `vas shell` takes the "
               "lines as you type them. This one builds the final machine of the tour:");
    int status = script_run_string("tour", tour_scenario, 1, show_pictures, NULL);
    if (status) {
        fprintf(stderr, "vas tour: the closing scenario stopped with exit code %d\n", status);
        problems++;
    }
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
    {"Images: a program, its DLLs and its threads' stacks", tour_images},
    {"System space: pools and the driver's view", tour_system},
    {"Scripts, maps and the report", tour_pictures},
};

int cli_tour(int argc, char **argv)
{
    if (argc > 1) {
        fprintf(stderr, "usage: vas tour\n");
        return EXIT_USAGE;
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
    return problems ? EXIT_PROBLEM : EXIT_OK;
}
