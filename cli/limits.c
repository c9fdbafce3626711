/*
 * limits.c - `vas limits`: Sysinternals TestLimit's three growth modes against a simulated
 * machine, run until a limit is hit, then which limit it was and why.
 *
 *   --reserve (TestLimit -r)  VirtualAlloc(MEM_RESERVE, PAGE_NOACCESS) chunk after chunk: only
 *                             address space is used, so the user-mode partition runs out;
 *   --commit  (TestLimit -m)  VirtualAlloc(MEM_COMMIT|MEM_RESERVE, PAGE_READWRITE), never touched:
 *                             the commit charge grows to the commit limit (or, for a 32-bit
 *                             process on a large machine, the address space ends first);
 *   --touch   (TestLimit -d)  the same, then a write to every page: the working set grows and the
 *                             memory manager trims pages to the paging file as RAM fills up.
 *
 * The run is one machine and one process made from the options; nothing is freed until the
 * machine goes, as TestLimit leaks on purpose. Invariants of the output: it depends only on the
 * options (no times, no host addresses, deterministic placement), so tests compare it with golden
 * files; the progress line goes to stderr and only to a terminal. Uses only the public header.
 */
#include "cli.h"
#include "json.h"
#include "print.h"
#include "progress.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* ---- Options ----------------------------------------------------------------------------- */

enum mode { MODE_NONE, MODE_RESERVE, MODE_COMMIT, MODE_TOUCH };

static const char *const mode_names[] = {"none", "reserve", "commit", "touch"};
static const char *const mode_switches[] = {"", "--reserve", "--commit", "--touch"};
static const char *const testlimit_switches[] = {"", "-r", "-m", "-d"};

static const char *const layouts[] = {"x64", "x64-win7", "x86", "ia64", "win9x"};
/* Indexed by VAS_REPLACE_*. */
static const char *const policies[] = {"aging", "fifo", "clock", "lru"};
static const char *const policy_descriptions[] = {
    "aging (Windows: accessed bit and age, oldest out first)", "fifo (first in, first out)",
    "clock (second chance on the accessed bit)", "lru (exact least recently used)"};

#define DEFAULT_CHUNK (1ull << 20)        /* TestLimit's 1 MB */
/* A reserve run on a 64-bit process doubles its default chunk until the user partition holds at
   most this many: 1 MB would mean 128M reservations of a 128 TB partition. */
#define RESERVE_MAX_CHUNKS (1ull << 20)
#define MAX_CHUNK (1ull << 48)            /* beyond any user space; keeps page rounding in range */

typedef struct options {
    enum mode mode;
    vas_machine_config machine;
    int bits;                     /* 0: the machine's native width */
    int large_address_aware;      /* vas_process_config's: 0 default, 1 yes, -1 no */
    uint64_t chunk;               /* 0: the default for the mode */
    uint64_t max_chunks;          /* --count; 0: until a limit */
} options;

static int usage(FILE *out)
{
    fprintf(out,
            "usage: vas limits --reserve|--commit|--touch [options]\n"
            "\n"
            "TestLimit against a simulated machine: allocate chunk after chunk until a limit is hit.\n"
            "  --reserve, -r          reserve address space only (TestLimit -r)\n"
            "  --commit, -m           commit without touching (TestLimit -m)\n"
            "  --touch, -d            commit and write every page (TestLimit -d)\n"
            "options:\n"
            "  --layout NAME          x64 (default), x64-win7, x86, ia64, win9x\n"
            "  --ram SIZE             simulated RAM (default 256M)\n"
            "  --pagefile SIZE|none   paging file (default 512M)\n"
            "  --increase-user-va MB  x86 only: 2048..3072, like bcdedit /set IncreaseUserVa\n"
            "  --bits 32|64           the process's width (default: the machine's)\n"
            "  --laa, --no-laa        a 32-bit process that is (not) large-address-aware\n"
            "  --chunk SIZE           bytes per VirtualAlloc (default 1M; more for --reserve\n"
            "                         on 64-bit, to stay below 1M reservations)\n"
            "  --count N, -c N        stop after N chunks\n"
            "  --policy NAME          page replacement: aging (default), fifo, clock, lru\n"
            "Sizes take K, M, G and T suffixes or 0x hex. --json gives one JSON document.\n");
    return out == stderr ? EXIT_USAGE : EXIT_OK;
}

static int bad_option(const char *option, const char *value, const char *expected)
{
    if (value)
        fprintf(stderr, "vas limits: %s '%s': expected %s\n", option, value, expected);
    else
        fprintf(stderr, "vas limits: %s: expected %s\n", option, expected);
    return EXIT_USAGE;
}

static int find_name(const char *const *names, size_t count, const char *name)
{
    for (size_t i = 0; i < count; i++)
        if (strcmp(names[i], name) == 0)
            return (int)i;
    return -1;
}

/* Reads argv into *o; EXIT_OK, EXIT_USAGE (after a message), or -1 for --help. */
static int parse_options(int argc, char **argv, options *o)
{
    memset(o, 0, sizeof *o);
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        /* "--name=value" and "--name value" both work; name is the part before any '='. */
        char name[32];
        const char *equals = strchr(arg, '=');
        size_t length = equals && arg[0] == '-' ? (size_t)(equals - arg) : strlen(arg);
        if (length >= sizeof name)
            length = sizeof name - 1;
        memcpy(name, arg, length);
        name[length] = '\0';
        const char *inline_value = equals && arg[0] == '-' ? equals + 1 : NULL;

        enum mode mode = MODE_NONE;
        if (strcmp(name, "--reserve") == 0 || strcmp(name, "-r") == 0)
            mode = MODE_RESERVE;
        else if (strcmp(name, "--commit") == 0 || strcmp(name, "-m") == 0)
            mode = MODE_COMMIT;
        else if (strcmp(name, "--touch") == 0 || strcmp(name, "-d") == 0)
            mode = MODE_TOUCH;
        if (mode != MODE_NONE || strcmp(name, "--laa") == 0 || strcmp(name, "--no-laa") == 0 ||
            strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
            if (inline_value)
                return bad_option(name, inline_value, "no value");
            if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0)
                return -1;
            if (strcmp(name, "--laa") == 0 || strcmp(name, "--no-laa") == 0) {
                o->large_address_aware = strcmp(name, "--laa") == 0 ? 1 : -1;
                continue;
            }
            if (o->mode != MODE_NONE && o->mode != mode) {
                fprintf(stderr,
                        "vas limits: %s and %s: expected only one of --reserve, --commit or --touch\n",
                        mode_switches[o->mode], mode_switches[mode]);
                return EXIT_USAGE;
            }
            o->mode = mode;
            continue;
        }

        static const char *const with_value[] = {"--layout", "--ram",  "--pagefile", "--increase-user-va",
                                                 "--bits",   "--chunk", "--count",   "-c", "--policy"};
        if (find_name(with_value, sizeof with_value / sizeof with_value[0], name) < 0) {
            if (arg[0] == '-')
                fprintf(stderr, "vas limits: unknown option '%s' (vas limits --help lists them)\n", arg);
            else
                fprintf(stderr, "vas limits: unexpected argument '%s': expected options only\n", arg);
            return EXIT_USAGE;
        }
        const char *value = inline_value;
        if (!value) {
            if (i + 1 == argc)
                return bad_option(name, NULL, "a value after it");
            value = argv[++i];
        }
        uint64_t n = 0;
        bool number = parse_number(value, &n);
        if (strcmp(name, "--layout") == 0) {
            int which = find_name(layouts, sizeof layouts / sizeof layouts[0], value);
            if (which < 0)
                return bad_option(name, value, "x64, x64-win7, x86, ia64 or win9x");
            o->machine.layout = layouts[which];
        } else if (strcmp(name, "--ram") == 0) {
            if (!number || n == 0)
                return bad_option(name, value, "a size such as 256M or 0x10000000");
            o->machine.ram_bytes = n;
        } else if (strcmp(name, "--pagefile") == 0) {
            if (strcmp(value, "none") == 0)
                o->machine.pagefile_bytes = VAS_NO_PAGEFILE;
            else if (!number)
                return bad_option(name, value, "a size such as 512M, or none");
            else /* 0 is no paging file too (the config's 0 would mean the default) */
                o->machine.pagefile_bytes = n ? n : VAS_NO_PAGEFILE;
        } else if (strcmp(name, "--increase-user-va") == 0) {
            if (!number || n < 2048 || n > 3072)
                return bad_option(name, value, "megabytes from 2048 to 3072");
            o->machine.increase_user_va_mb = (uint32_t)n;
        } else if (strcmp(name, "--bits") == 0) {
            if (!number || (n != 32 && n != 64))
                return bad_option(name, value, "32 or 64");
            o->bits = (int)n;
        } else if (strcmp(name, "--chunk") == 0) {
            if (!number || n == 0 || n > MAX_CHUNK)
                return bad_option(name, value, "a size from 1 to 256T such as 1M or 64K");
            o->chunk = n;
        } else if (strcmp(name, "--count") == 0 || strcmp(name, "-c") == 0) {
            if (!number || n == 0)
                return bad_option(name, value, "a number of chunks above 0");
            o->max_chunks = n;
        } else { /* --policy */
            int which = find_name(policies, sizeof policies / sizeof policies[0], value);
            if (which < 0)
                return bad_option(name, value, "aging, fifo, clock or lru");
            o->machine.replacement_policy = (uint32_t)which;
        }
    }
    if (o->machine.increase_user_va_mb && (!o->machine.layout || strcmp(o->machine.layout, "x86") != 0)) {
        fprintf(stderr, "vas limits: --increase-user-va: expected --layout x86 with it (the boot option "
                        "exists on 32-bit Windows only)\n");
        return EXIT_USAGE;
    }
    if (o->mode == MODE_NONE) {
        fprintf(stderr, "vas limits: expected a mode: --reserve, --commit or --touch\n");
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

/* ---- The run ----------------------------------------------------------------------------- */

enum limit { LIMIT_COUNT, LIMIT_ADDRESS_SPACE, LIMIT_COMMIT, LIMIT_OTHER };
static const char *const limit_keys[] = {"count", "address_space", "commit_limit", "other"};
static const char *const limit_titles[] = {"count reached", "address space", "commit limit", "other"};

/* Everything the report shows, gathered once at the end so text and JSON say the same. */
typedef struct run {
    const options *o;
    vas_machine_info machine;
    vas_system_info system;
    vas_partition user;           /* the user-mode partition */
    int bits, large_address_aware;
    const char *process_name;
    uint64_t chunk;
    uint32_t allocation_type, protect;

    uint64_t chunks;              /* VirtualAlloc calls that succeeded */
    uint64_t touched;             /* bytes written to, page by page */
    bool failed;
    const char *failed_call;      /* "VirtualAlloc", or "write" for a touch that raised */
    uint32_t error;               /* the Win32 error of the failure */
    uint32_t exception;           /* the NTSTATUS a touch raised, else 0 */
    uint64_t exception_address;

    enum limit limit;
    char reason[512];
    uint64_t largest_free;        /* the largest free block of user space at the end */
    uint64_t largest_usable;      /* the most of one that a new reservation could take */
    uint64_t system_reserve;      /* RAM the commit limit leaves out */

    vas_process_counters counters;
    vas_memory_status memory;
    vas_paging_status paging;
} run;

static uint64_t align_up(uint64_t value, uint64_t alignment)
{
    return (value + alignment - 1) / alignment * alignment;
}

/* Writes one byte into every page of [base, base + size): each write faults a demand-zero page
   in, and under pressure makes the working-set manager trim older pages to the paging file. */
static bool touch_pages(vas_process *p, run *r, uint64_t base, uint64_t size)
{
    uint8_t byte = (uint8_t)(r->chunks | 1); /* nonzero, so the page is plainly not a zero page */
    for (uint64_t offset = 0; offset < size; offset += r->system.page_size) {
        vas_exception exception = {.address = base + offset};
        uint32_t status = vas_write(p, base + offset, &byte, 1, &exception);
        if (status != VAS_STATUS_SUCCESS) { /* committed read-write memory: should not happen */
            r->failed = true;
            r->failed_call = "write";
            r->exception = status;
            r->exception_address = exception.address;
            r->error = vas_nt_status_to_dos_error(status);
            return false;
        }
        r->touched += r->system.page_size;
    }
    return true;
}

static void allocate_until_a_limit(vas_process *p, run *r)
{
    progress_begin("vas limits");
    for (;;) {
        if (r->o->max_chunks && r->chunks == r->o->max_chunks)
            break;
        uint64_t base = vas_virtual_alloc(p, 0, r->chunk, r->allocation_type, r->protect);
        if (!base) {
            r->failed = true;
            r->failed_call = "VirtualAlloc";
            r->error = vas_last_error();
            break;
        }
        r->chunks++;
        if (r->o->mode == MODE_TOUCH && !touch_pages(p, r, base, r->chunk))
            break;
        progress_update("%" PRIu64 " chunks, %s", r->chunks, size_label(r->chunks * r->chunk).s);
    }
    progress_end();
}

/* The largest free block of user space, walking VirtualQuery from the bottom (as VMMap does),
   and the largest part of one that a new reservation could take: it starts on an
   allocation-granularity boundary and ends at or below the highest VAD address, 64 KB under the
   top of user space (Windows' MM_HIGHEST_VAD_ADDRESS). */
static void find_largest_free(vas_process *p, run *r)
{
    uint64_t address = r->system.minimum_application_address, top = r->system.maximum_application_address;
    uint64_t vad_end = top + 1 - r->system.allocation_granularity;
    vas_memory_basic_information info;
    while (address <= top && vas_virtual_query(p, address, &info, sizeof info)) {
        uint64_t end = info.base_address + info.region_size; /* one past */
        if (end > top + 1)
            end = top + 1;
        if (info.state == VAS_MEM_FREE) {
            uint64_t size = end - info.base_address;
            uint64_t aligned = align_up(info.base_address, r->system.allocation_granularity);
            uint64_t usable_end = end < vad_end ? end : vad_end;
            if (size > r->largest_free)
                r->largest_free = size;
            if (aligned < usable_end && usable_end - aligned > r->largest_usable)
                r->largest_usable = usable_end - aligned;
        }
        if (end <= address)
            break; /* cannot happen; guards the loop against a zero-sized answer */
        address = end;
    }
}

/* Names the limit and writes the one-sentence reason. */
static void explain(run *r)
{
    char chunk[48], partition[48], largest[48];
    snprintf(chunk, sizeof chunk, "%s", size_label(r->chunk).s);
    snprintf(partition, sizeof partition, "%s", size_label(r->user.last - r->user.first + 1).s);
    snprintf(largest, sizeof largest, "%s", size_label(r->largest_free).s);
    if (!r->failed) {
        r->limit = LIMIT_COUNT;
        snprintf(r->reason, sizeof r->reason,
                 "Count: stopped after %" PRIu64 " chunks as --count asked; no limit was reached.",
                 r->chunks);
    } else if (!r->exception && r->error == VAS_ERROR_COMMITMENT_LIMIT) {
        r->limit = LIMIT_COMMIT;
        /* The limit's parts, as Windows adds them up: RAM, less what the system keeps, plus the
           paging files. */
        char kept[80] = "", pagefile[80] = ", no paging file";
        if (r->system_reserve)
            snprintf(kept, sizeof kept, " - %s the system keeps", size_label(r->system_reserve).s);
        if (r->paging.pagefile_bytes)
            snprintf(pagefile, sizeof pagefile, " + paging file %s", size_label(r->paging.pagefile_bytes).s);
        snprintf(r->reason, sizeof r->reason,
                 "Commit limit: commit charge %s + %s would pass the limit %s (RAM %s%s%s).",
                 size_label(r->memory.commit_total).s, chunk, size_label(r->memory.commit_limit).s,
                 size_label(r->machine.ram_bytes).s, kept, pagefile);
    } else if (!r->exception && r->error == VAS_ERROR_NOT_ENOUGH_MEMORY && r->largest_usable < r->chunk) {
        r->limit = LIMIT_ADDRESS_SPACE;
        if (r->largest_free >= r->chunk)
            snprintf(r->reason, sizeof r->reason,
                     "Address space: the %s user-mode partition has no %s free range left that an "
                     "allocation can use (largest free block %s, but allocations start on %s "
                     "boundaries and end 64 KB below the top).",
                     partition, chunk, largest, size_label(r->system.allocation_granularity).s);
        else
            snprintf(r->reason, sizeof r->reason,
                     "Address space: the %s user-mode partition has no %s free range left "
                     "(largest free block %s).",
                     partition, chunk, largest);
    } else {
        r->limit = LIMIT_OTHER;
        if (r->exception)
            snprintf(r->reason, sizeof r->reason, "Other: touching a page raised %s (0x%08" PRIX32 ").",
                     vas_status_name(r->exception), r->exception);
        else
            snprintf(r->reason, sizeof r->reason, "Other: %s failed with %s (%" PRIu32 ").", r->failed_call,
                     vas_error_name(r->error), r->error);
    }
}

static void gather_figures(vas_machine *m, vas_process *p, run *r)
{
    vas_process_get_counters(p, &r->counters);
    vas_global_memory_status(m, &r->memory);
    vas_get_paging_status(m, &r->paging);
    find_largest_free(p, r);
    uint64_t total = r->machine.ram_bytes + r->paging.pagefile_bytes;
    r->system_reserve = total > r->memory.commit_limit ? total - r->memory.commit_limit : 0;
}

/* ---- Text -------------------------------------------------------------------------------- */

#define NAME_WIDTH 28 /* the value column starts after the two-space indent and this */

/* Whether a line may break at the space text[i]: not inside a size such as "63 MB + 512 KB". */
static bool can_break(const char *text, size_t i)
{
    char before = i ? text[i - 1] : ' ', after = text[i + 1];
    return text[i] == ' ' && !isdigit((unsigned char)before) && before != '+' && before != '-' &&
           after != '+' && after != '-';
}

/* Prints text wrapped at PRINT_WIDTH: the first line after `prefix`, the others under it. */
static void print_wrapped(const char *prefix, const char *text)
{
    size_t indent = strlen(prefix), room = PRINT_WIDTH > indent + 20 ? PRINT_WIDTH - indent : 20;
    const char *p = text;
    do {
        size_t line = strlen(p);
        if (line > room) { /* break at the last space that fits, else at the first one after */
            size_t cut = room;
            while (cut > 0 && !can_break(p, cut))
                cut--;
            if (!cut)
                while (p[++cut] && !can_break(p, cut))
                    ;
            line = cut;
        }
        printf("%*s%.*s\n", (int)indent, p == text ? prefix : "", (int)line, p);
        p += line;
        while (*p == ' ')
            p++;
    } while (*p);
}

/* "  Name   value", the value wrapped with its continuation lines under it. */
static void row(const char *name, const char *format, ...) __attribute__((format(printf, 2, 3)));
static void row(const char *name, const char *format, ...)
{
    char prefix[64], value[600];
    snprintf(prefix, sizeof prefix, "  %-*s ", NAME_WIDTH, name);
    va_list args;
    va_start(args, format);
    vsnprintf(value, sizeof value, format, args);
    va_end(args);
    print_wrapped(prefix, value);
}

static const char *allocation_type_name(uint32_t type)
{
    return type == VAS_MEM_RESERVE ? "MEM_RESERVE" : "MEM_COMMIT|MEM_RESERVE";
}

static void print_text_report(const run *r)
{
    const options *o = r->o;
    static const char *const what[] = {
        "",
        "reserves address space chunk after chunk, never committing it",
        "commits private memory chunk after chunk, never touching it",
        "commits private memory chunk after chunk and writes to every page",
    };
    char intro[256];
    snprintf(intro, sizeof intro, "vas limits %s, like TestLimit %s, %s, until VirtualAlloc fails.",
             mode_switches[o->mode], testlimit_switches[o->mode], what[o->mode]);
    print_wrapped("", intro);

    print_heading(1, "Machine");
    row("Layout", "%s", r->machine.description);
    row("RAM", "%s", size_label(r->machine.ram_bytes).s);
    row("Paging file", "%s", r->paging.pagefile_bytes ? size_label(r->paging.pagefile_bytes).s : "none");
    row("Commit limit", "%s", size_label(r->memory.commit_limit).s);
    if (r->system_reserve)
        row("", "(RAM - %s the system keeps + paging file)", size_label(r->system_reserve).s);
    row("Page replacement", "%s", policy_descriptions[o->machine.replacement_policy]);

    print_heading(2, "Process");
    const char *wow64 = r->bits == 32 && r->machine.native_bits == 64 ? " (WOW64)" : "";
    row("Name", "%s", r->process_name);
    row("Width", "%d-bit%s", r->bits, wow64);
    row("Large-address-aware", "%s", r->large_address_aware ? "yes" : "no");
    row("User-mode partition", "%s", size_label(r->user.last - r->user.first + 1).s);
    row("", "%s - %s", address_label(r->user.first, r->bits).s, address_label(r->user.last, r->bits).s);

    print_heading(3, "Result");
    row("Chunk", "%s%s", size_label(r->chunk).s,
        o->chunk ? "" : o->mode == MODE_RESERVE && r->chunk != DEFAULT_CHUNK
                            ? " (the default, raised to stay below 1M reservations)" : " (the default)");
    row("Call", "VirtualAlloc(NULL, %s, %s, %s)", size_label(r->chunk).s,
        allocation_type_name(r->allocation_type),
        r->protect == VAS_PAGE_NOACCESS ? "PAGE_NOACCESS" : "PAGE_READWRITE");
    row("Chunks allocated", "%" PRIu64 "%s", r->chunks,
        o->max_chunks ? (r->failed ? " (a limit came before --count)" : " (--count)") : "");
    uint64_t bytes = r->chunks * r->chunk;
    row(o->mode == MODE_RESERVE ? "Reserved" : "Committed", "%s", size_label(bytes).s);
    if (o->mode == MODE_TOUCH)
        row("Touched", "%s", size_label(r->touched).s);
    if (!r->failed)
        row("Failing call", "none");
    else if (r->exception)
        row("Failing call", "write at %s raised %s (0x%08" PRIX32 ")",
            address_label(r->exception_address, r->bits).s,
            vas_status_name(r->exception), r->exception);
    else
        row("Failing call", "VirtualAlloc -> %" PRIu32 " %s", r->error, vas_error_name(r->error));
    row("Largest free block", "%s", size_label(r->largest_free).s);
    /* Bold only wraps the value, so the columns line up with colour on or off. */
    row("Limit", "%s%s%s", cli.colour ? "\033[1m" : "", limit_titles[r->limit], cli.colour ? "\033[0m" : "");
    row("Why", "%s", r->reason);

    print_heading(4, "Figures at the end");
    row("Virtual size", "%s", size_label(r->counters.virtual_size).s);
    row("Commit charge (process)", "%s", size_label(r->counters.commit_charge).s);
    row("Commit charge (system)", "%s of %s", size_label(r->memory.commit_total).s,
        size_label(r->memory.commit_limit).s);
    row("Available commit", "%s", size_label(r->memory.avail_commit).s);
    row("Working set", "%s (peak %s)", size_label(r->counters.working_set_size).s,
        size_label(r->counters.peak_working_set_size).s);
    row("Available RAM", "%s", size_label(r->memory.avail_phys).s);
    row("Page faults", "%" PRIu64, r->counters.page_fault_count);
    row("  demand-zero", "%" PRIu64, r->counters.demand_zero_faults);
    row("  soft (standby, modified)", "%" PRIu64, r->counters.soft_faults);
    row("  hard (paging-file reads)", "%" PRIu64, r->counters.hard_faults);
    row("Pages trimmed", "%" PRIu64, r->paging.trimmed_pages);
    row("Pages written to paging file", "%" PRIu64, r->paging.pages_written);
    row("Paging file in use", "%s", size_label(r->paging.pagefile_used).s);
    row("Page-table pages", "%" PRIu64, r->counters.page_table_pages);
    printf("\n");
}

/* ---- JSON -------------------------------------------------------------------------------- */

static void print_json_report(const run *r)
{
    const options *o = r->o;
    json_writer w;
    json_begin(&w, stdout);
    json_object_begin(&w, NULL);
    json_string(&w, "view", "limits");
    json_string(&w, "mode", mode_names[o->mode]);

    json_object_begin(&w, "machine");
    json_string(&w, "layout", r->machine.layout);
    json_string(&w, "description", r->machine.description);
    json_u64(&w, "page_size", r->machine.page_size);
    json_u64(&w, "allocation_granularity", r->machine.allocation_granularity);
    json_u64(&w, "ram", r->machine.ram_bytes);
    json_u64(&w, "pagefile", r->paging.pagefile_bytes);
    json_u64(&w, "commit_limit", r->memory.commit_limit);
    json_u64(&w, "system_reserve", r->system_reserve);
    json_string(&w, "policy", policies[o->machine.replacement_policy]);
    json_object_end(&w);

    json_object_begin(&w, "process");
    json_string(&w, "name", r->process_name);
    json_i64(&w, "bits", r->bits);
    json_bool(&w, "large_address_aware", r->large_address_aware);
    json_hex(&w, "user_first", r->user.first);
    json_hex(&w, "user_last", r->user.last);
    json_u64(&w, "user_size", r->user.last - r->user.first + 1);
    json_object_end(&w);

    json_u64(&w, "chunk", r->chunk);
    if (o->max_chunks)
        json_u64(&w, "max_chunks", o->max_chunks);
    else
        json_string(&w, "max_chunks", NULL);
    json_u64(&w, "chunks", r->chunks);
    json_u64(&w, "bytes", r->chunks * r->chunk);
    json_u64(&w, "touched", r->touched);

    if (r->failed) {
        json_object_begin(&w, "failure");
        json_string(&w, "call", r->failed_call);
        if (r->exception) {
            json_hex(&w, "address", r->exception_address);
            json_hex(&w, "exception", r->exception);
            json_string(&w, "exception_name", vas_status_name(r->exception));
        } else {
            json_u64(&w, "size", r->chunk);
            json_string(&w, "allocation_type", allocation_type_name(r->allocation_type));
            json_string(&w, "protect", r->protect == VAS_PAGE_NOACCESS ? "PAGE_NOACCESS" : "PAGE_READWRITE");
        }
        json_u64(&w, "error", r->error);
        json_string(&w, "error_name", vas_error_name(r->error));
        json_object_end(&w);
    } else {
        json_string(&w, "failure", NULL);
    }
    json_string(&w, "limit", limit_keys[r->limit]);
    json_string(&w, "reason", r->reason);
    json_u64(&w, "largest_free_block", r->largest_free);

    json_object_begin(&w, "figures");
    json_u64(&w, "virtual_size", r->counters.virtual_size);
    json_u64(&w, "commit_charge", r->counters.commit_charge);
    json_u64(&w, "commit_total", r->memory.commit_total);
    json_u64(&w, "commit_limit", r->memory.commit_limit);
    json_u64(&w, "avail_commit", r->memory.avail_commit);
    json_u64(&w, "working_set", r->counters.working_set_size);
    json_u64(&w, "peak_working_set", r->counters.peak_working_set_size);
    json_u64(&w, "avail_phys", r->memory.avail_phys);
    json_u64(&w, "page_faults", r->counters.page_fault_count);
    json_u64(&w, "demand_zero_faults", r->counters.demand_zero_faults);
    json_u64(&w, "soft_faults", r->counters.soft_faults);
    json_u64(&w, "hard_faults", r->counters.hard_faults);
    json_u64(&w, "trimmed_pages", r->paging.trimmed_pages);
    json_u64(&w, "pages_written", r->paging.pages_written);
    json_u64(&w, "pagefile_used", r->paging.pagefile_used);
    json_u64(&w, "page_table_pages", r->counters.page_table_pages);
    json_object_end(&w);

    json_object_end(&w);
    json_end(&w);
}

/* ---- The command ------------------------------------------------------------------------- */

/* A machine or process the library refuses: the options were wrong, so it is a usage error. */
static int cannot(const char *what, const char *hint)
{
    uint32_t error = vas_last_error();
    fprintf(stderr, "vas limits: cannot create the %s: %s (%" PRIu32 "): %s\n", what, vas_error_name(error),
            error, hint);
    return EXIT_USAGE;
}

int cli_limits(int argc, char **argv)
{
    options o;
    int status = parse_options(argc, argv, &o);
    if (status < 0)
        return usage(stdout);
    if (status != EXIT_OK)
        return status;

    vas_machine *m = vas_machine_create(&o.machine);
    if (!m)
        return cannot("machine", "expected RAM and paging file in whole pages (8 KB on ia64, else 4 KB), "
                                 "RAM of at least 16 pages, and sizes up to 256 TB");
    run r = {.o = &o};
    vas_get_machine_info(m, &r.machine);
    r.bits = o.bits ? o.bits : r.machine.native_bits;
    r.process_name = r.bits == 64 ? "TestLimit64.exe" : "TestLimit.exe";
    vas_process_config pc = {.name = r.process_name, .bits = r.bits,
                             .large_address_aware = o.large_address_aware};
    vas_process *p = vas_process_create(m, &pc);
    if (!p) {
        status = cannot("process", r.bits == 64 && r.machine.native_bits == 32
                                       ? "a 32-bit machine runs no 64-bit process (--bits 64)"
                                       : "the options --bits and --laa do not fit this machine");
        vas_machine_destroy(m);
        return status;
    }
    vas_get_system_info(p, &r.system);
    r.large_address_aware = vas_process_large_address_aware(p);
    vas_partition partitions[16];
    size_t count = vas_get_partitions(p, partitions, sizeof partitions / sizeof partitions[0]);
    for (size_t i = 0; i < count && i < sizeof partitions / sizeof partitions[0]; i++)
        if (partitions[i].kind == VAS_PARTITION_USER)
            r.user = partitions[i];

    /* VirtualAlloc rounds the size up to whole pages; show the chunk as it is charged. */
    r.chunk = align_up(o.chunk ? o.chunk : DEFAULT_CHUNK, r.system.page_size);
    if (!o.chunk && o.mode == MODE_RESERVE)
        while ((r.user.last - r.user.first + 1) / r.chunk > RESERVE_MAX_CHUNKS)
            r.chunk *= 2;
    r.allocation_type = o.mode == MODE_RESERVE ? VAS_MEM_RESERVE : VAS_MEM_COMMIT | VAS_MEM_RESERVE;
    r.protect = o.mode == MODE_RESERVE ? VAS_PAGE_NOACCESS : VAS_PAGE_READWRITE;

    allocate_until_a_limit(p, &r);
    gather_figures(m, p, &r);
    explain(&r);
    if (cli.json)
        print_json_report(&r);
    else
        print_text_report(&r);
    vas_machine_destroy(m);
    return EXIT_OK;
}
