/*
 * bench_common.h - what the benchmarks (bench_region, bench_access, bench_paging) share: the
 * clock, medians, splitmix64, dying and progress lines, number formatting, the table of results
 * (one per measured case, one sample per repetition), the machine facts and the ratio table with
 * its PASS/MISS count.
 *
 * Each benchmark is one translation unit that includes this header once, so everything here is
 * static (static inline where a program may not use it). Before including it, a program defines:
 *   BENCH_NAME           its name, the prefix of its error and progress lines ("bench_region");
 *   BENCH_MAX_RESULTS    how many results it keeps;
 *   BENCH_IMPL_SIZE, BENCH_WHAT_SIZE, BENCH_NOTE_SIZE
 *                        the sizes of a result's strings (longer text is cut at that size);
 * and may define BENCH_FMT_NS_HUNDREDTHS: fmt_ns then prints two decimals below 10 ns.
 */
#ifndef VAS_BENCH_COMMON_H
#define VAS_BENCH_COMMON_H

#include "vas.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#ifdef VAS_BENCH_HAVE_UNICORN
#include <unicorn/unicorn.h>
#endif

#ifndef VAS_BENCH_BUILD_TYPE
#define VAS_BENCH_BUILD_TYPE "unknown"
#endif
#ifndef VAS_BENCH_DEBUG_CHECKER
#define VAS_BENCH_DEBUG_CHECKER 0
#endif

#if !defined(BENCH_NAME) || !defined(BENCH_MAX_RESULTS) || !defined(BENCH_IMPL_SIZE) || \
    !defined(BENCH_WHAT_SIZE) || !defined(BENCH_NOTE_SIZE)
#error "define BENCH_NAME, BENCH_MAX_RESULTS and BENCH_{IMPL,WHAT,NOTE}_SIZE before including bench_common.h"
#endif

#define PAGE 0x1000ull
#define MAX_SAMPLES 64

/* ---- Small tools ------------------------------------------------------------------------- */

static bool quick;        /* --quick: a smoke run */
static uint64_t run_start; /* now_ns() when the run began */

static inline uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t rng;
static inline uint64_t rng_next(void) /* splitmix64 */
{
    uint64_t z = (rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static inline double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, compare_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* keeps results the compiler would otherwise drop */
static volatile uint64_t sink __attribute__((unused));

static inline void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, BENCH_NAME ": ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static inline void progress(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, BENCH_NAME " [%5.1f s]: ", (double)(now_ns() - run_start) / 1e9);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
}

/* 1234567.8 -> "1,234,568"; below 100, one decimal (below 10, two with BENCH_FMT_NS_HUNDREDTHS). */
static inline const char *fmt_ns(double ns, char *buf, size_t size)
{
#ifdef BENCH_FMT_NS_HUNDREDTHS
    if (ns < 10) {
        snprintf(buf, size, "%.2f", ns);
        return buf;
    }
#endif
    if (ns < 100) {
        snprintf(buf, size, "%.1f", ns);
        return buf;
    }
    char digits[32];
    snprintf(digits, sizeof digits, "%.0f", ns);
    size_t len = strlen(digits), w = 0;
    for (size_t i = 0; i < len && w + 2 < size; i++) {
        if (i > 0 && (len - i) % 3 == 0)
            buf[w++] = ',';
        buf[w++] = digits[i];
    }
    buf[w] = 0;
    return buf;
}

/* Parses the command line of a program whose only option is --quick. Returns -1 to go on, or
   the exit status (after the usage line). */
static inline int parse_quick_only(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            quick = true;
        } else {
            fprintf(stderr, "usage: %s [--quick]\n", argv[0]);
            return strcmp(argv[i], "--help") == 0 ? 0 : 2;
        }
    }
    return -1;
}

/* ---- Results: one per measured case, one sample per repetition --------------------------- */

typedef struct result {
    char key[48];   /* for the ratios, e.g. "hot/vas-read" */
    char group;     /* the part, 'a', 'b', ... */
    char impl[BENCH_IMPL_SIZE]; /* "vas", "Linux", "host", "Unicorn 2.0", ... */
    char what[BENCH_WHAT_SIZE];
    long n;         /* allocations live, 0 when it does not apply */
    double samples[MAX_SAMPLES];
    int count;
    bool failed;    /* not measurable: the note says why */
    char note[BENCH_NOTE_SIZE];
} result;

static result results[BENCH_MAX_RESULTS];
static int result_count;

static inline result *find_result(const char *key)
{
    for (int i = 0; i < result_count; i++)
        if (strcmp(results[i].key, key) == 0)
            return &results[i];
    return NULL;
}

/* The result named key, made on first use. */
static inline result *get_result(const char *key, char group, const char *impl, const char *what)
{
    result *r = find_result(key);
    if (r)
        return r;
    if (result_count == (int)(sizeof results / sizeof results[0]))
        die("too many results");
    r = &results[result_count++];
    memset(r, 0, sizeof *r);
    snprintf(r->key, sizeof r->key, "%s", key);
    r->group = group;
    snprintf(r->impl, sizeof r->impl, "%s", impl);
    snprintf(r->what, sizeof r->what, "%s", what);
    return r;
}

static inline void add_sample(result *r, double ns)
{
    if (r->count < MAX_SAMPLES)
        r->samples[r->count++] = ns;
}

static inline void set_note(result *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->note, sizeof r->note, fmt, ap);
    va_end(ap);
}

/* The median of the samples; -1 when there are none. */
static inline double value_of(const result *r)
{
    if (!r || r->failed || r->count == 0)
        return -1;
    double copy[MAX_SAMPLES];
    memcpy(copy, r->samples, sizeof(double) * (size_t)r->count);
    return median(copy, r->count);
}

static inline double lookup(const char *key) { return value_of(find_result(key)); }

/* ---- Unicorn 2 --------------------------------------------------------------------------- */

#ifdef VAS_BENCH_HAVE_UNICORN
static char unicorn_name[32]; /* "Unicorn 2.0": set by unicorn_init_name */

static inline void unicorn_init_name(void)
{
    unsigned major, minor;
    uc_version(&major, &minor);
    snprintf(unicorn_name, sizeof unicorn_name, "Unicorn %u.%u", major, minor);
}

static inline void uc_must(uc_err e, const char *what)
{
    if (e)
        die("%s: %s", what, uc_strerror(e));
}
#endif

/* ---- Report ------------------------------------------------------------------------------ */

/* The first line of the file at path that starts with prefix, its value after "key : " (the
   whole line when prefix is empty), into out; out is left alone when there is none. */
static inline void read_line(const char *path, const char *prefix, char *out, size_t size)
{
    char line[256];
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f)) {
        if (strncmp(line, prefix, strlen(prefix)) != 0)
            continue;
        const char *v = line;
        if (prefix[0]) { /* "key : value" */
            v = strchr(line, ':');
            if (!v)
                break;
            v += 1 + (v[1] == ' ');
        }
        size_t len = strcspn(v, "\n");
        if (len >= size)
            len = size - 1;
        memcpy(out, v, len);
        out[len] = 0;
        break;
    }
    if (f)
        fclose(f);
}

/* The machine facts every benchmark starts its report with: the heading and the libvas line;
   the CPU model and uname for the host line, which each program prints its own way. */
static inline void print_heading(const char *title, const char *quick_note, char *model, size_t model_size,
                                 struct utsname *u)
{
    read_line("/proc/cpuinfo", "model name", model, model_size);
    uname(u);
    printf("# %s%s\n\n", title, quick ? quick_note : "");
    printf("- libvas %s, build type %s%s, compiler %s\n", vas_version(), VAS_BENCH_BUILD_TYPE,
           VAS_BENCH_DEBUG_CHECKER ? ", WITH the per-call invariant checker (the numbers mean nothing)" : "",
           __VERSION__);
}

static inline void print_unicorn_line(void)
{
#ifdef VAS_BENCH_HAVE_UNICORN
    printf("- Unicorn: %s (the installed libunicorn)\n", unicorn_name);
#else
    printf("- Unicorn: not built in (libunicorn-dev not found, or -DVAS_BENCH_UNICORN=OFF)\n");
#endif
}

/* The table of one part's results; unit heads the value column ("ns/op"), and with n_column an
   "N live" column shows each result's n. */
static inline void print_results(char group, const char *title, const char *unit, bool n_column)
{
    char v[32], nbuf[32];
    printf("\n## %s\n\n", title);
    printf("| implementation | operation |%s %s | reps | note |\n", n_column ? " N live |" : "", unit);
    printf("|---|---|%s---:|---:|---|\n", n_column ? "---:|" : "");
    for (int i = 0; i < result_count; i++) {
        const result *r = &results[i];
        if (r->group != group)
            continue;
        double ns = value_of(r);
        printf("| %s | %s |", r->impl, r->what);
        if (n_column)
            printf(" %s |", r->n ? fmt_ns((double)r->n, nbuf, sizeof nbuf) : "-");
        printf(" %s | %d | %s |\n", ns < 0 ? "n/a" : fmt_ns(ns, v, sizeof v), r->failed ? 0 : r->count, r->note);
    }
}

/* ---- Ratios and targets ------------------------------------------------------------------ */

static int targets_met, targets_missed;

#define INFO 2 /* a ratio_row `pass` value: no target, for information */

static inline double div_or_na(double a, double b) { return a < 0 || b <= 0 ? -1 : a / b; }

/* The heading of the ratio table; last_column names its last column ("note"). */
static inline void print_ratio_heading(const char *last_column)
{
    printf("\n## Ratios and targets\n\n");
    printf("| ratio | measured | target | result | %s |\n", last_column);
    printf("|---|---:|---|---|---|\n");
}

/* "PASS", "MISS" or "info"; counts the target met or missed. */
static inline const char *verdict(int pass)
{
    if (pass == INFO)
        return "info";
    if (pass)
        targets_met++;
    else
        targets_missed++;
    return pass ? "PASS" : "MISS";
}

/* One line of the ratio table; value < 0 means a side was not measured. */
static inline void ratio_row(const char *name, double value, const char *target, int pass, const char *note)
{
    char v[48];
    if (value < 0) {
        printf("| %s | n/a | %s | - | not measured in this run |\n", name, target);
        return;
    }
    if (value >= 100)
        fmt_ns(value, v, sizeof v);
    else if (value >= 0.01)
        snprintf(v, sizeof v, "%.2f", value);
    else
        snprintf(v, sizeof v, "%.2g", value);
    printf("| %s | %s | %s | %s | %s |\n", name, v, target, verdict(pass), note ? note : "");
}

static inline void print_targets_summary(void)
{
    printf("\n%d targets met, %d missed. (Timing never changes the exit status.)\n", targets_met, targets_missed);
}

static inline void print_whole_run(void) { printf("\nWhole run: %.1f s.\n", (double)(now_ns() - run_start) / 1e9); }


/* ---- Helpers the benchmarks share: a failure of any of them ends the run ------------------- */

static inline vas_machine *bench_machine(uint64_t ram_bytes, uint64_t pagefile_bytes)
{
    vas_machine_config mc = {0};
    mc.ram_bytes = ram_bytes;
    mc.pagefile_bytes = pagefile_bytes;
    vas_machine *m = vas_machine_create(&mc);
    if (!m)
        die("vas_machine_create(%llu MB RAM) failed: %s", (unsigned long long)(ram_bytes >> 20),
            vas_error_name(vas_last_error()));
    return m;
}

static inline vas_process *bench_process(vas_machine *m, const char *name, uint32_t tlb_entries)
{
    vas_process_config pc = {0};
    pc.name = name;
    pc.tlb_entries = tlb_entries;
    vas_process *p = vas_process_create(m, &pc);
    if (!p)
        die("vas_process_create(%s) failed: %s", name, vas_error_name(vas_last_error()));
    return p;
}

static inline uint64_t alloc_rw(vas_process *p, uint64_t size)
{
    uint64_t a = vas_virtual_alloc(p, 0, size, VAS_MEM_RESERVE | VAS_MEM_COMMIT, VAS_PAGE_READWRITE);
    if (!a)
        die("VirtualAlloc(%llu bytes) failed: %s", (unsigned long long)size, vas_error_name(vas_last_error()));
    return a;
}

static inline void release(vas_process *p, uint64_t a)
{
    if (!vas_virtual_free(p, a, 0, VAS_MEM_RELEASE))
        die("VirtualFree(%#llx) failed: %s", (unsigned long long)a, vas_error_name(vas_last_error()));
}

static inline void put64(vas_process *p, uint64_t address, uint64_t value)
{
    vas_exception e;
    if (vas_write(p, address, &value, 8, &e))
        die("vas_write(%#llx) raised %s", (unsigned long long)address, vas_status_name(e.code));
}

static inline uint64_t get64(vas_process *p, uint64_t address)
{
    uint64_t value;
    vas_exception e;
    if (vas_read(p, address, &value, 8, &e))
        die("vas_read(%#llx) raised %s", (unsigned long long)address, vas_status_name(e.code));
    return value;
}

static inline vas_process_counters counters(vas_process *p)
{
    vas_process_counters c;
    if (!vas_process_get_counters(p, &c))
        die("vas_process_get_counters failed");
    return c;
}

/* The number of lines of /proc/self/maps: the mappings (VMAs) of this process. */
static inline long count_vmas(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    long lines = 0;
    int c;
    while (f && (c = fgetc(f)) != EOF)
        lines += c == '\n';
    if (f)
        fclose(f);
    return lines;
}

#endif
