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

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

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
   smaller reservation: nothing can ever be reserved there, and VMMap calls it "Unusable". */
static const char *vmmap_type(const vas_memory_basic_information *region, uint32_t granularity)
{
    if (region->state == VAS_MEM_FREE)
        return region->base_address % granularity ? "Unusable" : "Free";
    switch (region->type) {
    case VAS_MEM_PRIVATE: return "Private Data";
    case VAS_MEM_MAPPED: return "Mapped";
    case VAS_MEM_IMAGE: return "Image";
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
        const char *type = vmmap_type(&region, system.allocation_granularity);
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
    vas_get_memory_status(machine, &memory);
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

typedef struct snapshot {
    vas_memory_status machine;
    vas_process_counters process;
} snapshot;

static void take_snapshot(vas_machine *machine, vas_process *process, snapshot *s)
{
    vas_get_memory_status(machine, &s->machine);
    expect(vas_process_get_counters(process, &s->process), "vas_process_get_counters");
}

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
               "is GlobalMemoryStatusEx's (vas_get_memory_status), the per-process one the "
               "process's counters (vas_process_get_counters). Four snapshots of one process on "
               "the default machine: at start, then after each of\n"
               "  base = VirtualAlloc(NULL, %s, MEM_RESERVE, PAGE_READWRITE) = %s\n"
               "  VirtualAlloc(base, %s, MEM_COMMIT, PAGE_READWRITE)\n"
               "  VirtualFree(base + %s, %s, MEM_DECOMMIT)",
               size_label(reserve_size).s, address_label(base, bits).s, size_label(commit_size).s,
               size_label(decommit_offset).s, size_label(decommit_size).s);
    table t;
    table_begin(&t, "Counter", ">Start", ">Reserved", ">Committed", ">Decommitted", NULL);
#define SNAPSHOT_ROW(name, field)                                                                  \
    table_row(&t, name, size_label(s[0].field).s, size_label(s[1].field).s, size_label(s[2].field).s, \
              size_label(s[3].field).s)
    SNAPSHOT_ROW("RAM (ullTotalPhys)", machine.total_phys);
    SNAPSHOT_ROW("Available RAM (ullAvailPhys)", machine.avail_phys);
    SNAPSHOT_ROW("Commit limit (ullTotalPageFile)", machine.commit_limit);
    SNAPSHOT_ROW("Commit charge, all processes", machine.commit_total);
    SNAPSHOT_ROW("Commit left (ullAvailPageFile)", machine.avail_commit);
    SNAPSHOT_ROW("Commit peak", machine.commit_peak);
    SNAPSHOT_ROW("Process virtual size", process.virtual_size);
    SNAPSHOT_ROW("Process peak virtual size", process.peak_virtual_size);
    SNAPSHOT_ROW("Process private bytes", process.commit_charge);
    SNAPSHOT_ROW("Process peak private bytes", process.peak_commit_charge);
#undef SNAPSHOT_ROW
    char load[4][16], allocations[4][24];
    for (int i = 0; i < 4; i++) {
        snprintf(load[i], sizeof load[i], "%" PRIu32 "%%", s[i].machine.memory_load);
        snprintf(allocations[i], sizeof allocations[i], "%" PRIu64, s[i].process.allocation_count);
    }
    table_row(&t, "Memory load (dwMemoryLoad)", load[0], load[1], load[2], load[3]);
    table_row(&t, "Process allocations (VADs)", allocations[0], allocations[1], allocations[2],
              allocations[3]);
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
