/*
 * test_report.c - the HTML report (cli/report.c) on x64, x86 and IA-64 machines with several
 * processes each: private allocations of many sizes (a 4 KB one leaves an Unusable tail), an
 * allocation split into regions by a protection change, a view of a paging-file section shared
 * by two processes, a thread, nonpaged and paged pool blocks, and pages trimmed to the standby
 * and modified lists. The page's structure is checked as text:
 *   - it starts with <!DOCTYPE html> and ends with </html>;
 *   - it is self-contained: no script, no stylesheet or image links, no URL but SVG's namespace;
 *   - one <svg> per bar: two per process (partitions, kinds) and the frame map;
 *   - every kind's name, every partition's name and every process's name is there, escaped:
 *     a process named a<b>&"c appears as a&lt;b&gt;&amp;&quot;c and never raw;
 *   - the tags it opens it closes (section, table, details, svg);
 *   - the frame map says how many frames a cell stands for;
 *   - the same machine gives the same bytes twice (a golden file could pin it);
 *   - an unwritable path gives its errno and leaves nothing; a full device gives ENOSPC.
 *
 *   test_report [OUTDIR]
 * With OUTDIR the reports stay there as report-x64.html, report-x86.html and report-ia64.html
 * (the Chromium test, tests/report/check_report.sh, opens them); without it they go to a
 * temporary directory that is removed at the end.
 */
#include "report.h"

#include "check.h"

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#define KB 1024ull
#define MB (1024ull * KB)
#define TAG(a, b, c, d) ((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)

static const char *out_dir;    /* where reports go */
static char temp_dir[64];      /* out_dir when the test made it */

/* ---- Machines ------------------------------------------------------------------------------ */

typedef struct scene {
    vas_machine *machine;
    view_process processes[4];
    size_t count;
} scene;

static vas_process *add_process(scene *s, const char *label, const char *name, int bits)
{
    vas_process_config config = {.name = name, .bits = bits};
    vas_process *p = vas_process_create(s->machine, &config);
    CHECK(p != NULL);
    s->processes[s->count++] = (view_process){p, label};
    return p;
}

/* Writes one byte to each page of [base, base + size). */
static void touch(vas_process *p, uint64_t base, uint64_t size, uint64_t page)
{
    for (uint64_t a = base; a < base + size; a += page) {
        uint8_t byte = (uint8_t)(a >> 12);
        CHECK_EQ(vas_write(p, a, &byte, 1, NULL), VAS_STATUS_SUCCESS);
    }
}

/* The allocations every process gets, of sizes from one page to several megabytes. */
static void populate(vas_process *p, uint64_t page, unsigned salt)
{
    uint64_t small = vas_virtual_alloc(p, 0, page, VAS_MEM_COMMIT | VAS_MEM_RESERVE, VAS_PAGE_READWRITE);
    CHECK(small != 0); /* the rest of its 64 KB granule is Unusable */
    touch(p, small, page, page);
    uint64_t data = vas_virtual_alloc(p, 0, 1 * MB, VAS_MEM_RESERVE, VAS_PAGE_READWRITE);
    CHECK(data != 0);
    CHECK(vas_virtual_alloc(p, data, 256 * KB, VAS_MEM_COMMIT, VAS_PAGE_READWRITE) == data);
    touch(p, data, (64 + 32 * salt) * KB, page);
    uint32_t old;
    CHECK(vas_virtual_protect(p, data + 16 * page, 4 * page, VAS_PAGE_READONLY, &old)); /* more regions */
    uint64_t big = vas_virtual_alloc(p, 0, 8 * MB, VAS_MEM_RESERVE, VAS_PAGE_NOACCESS);
    CHECK(big != 0);
    CHECK(vas_virtual_alloc(p, big, 16 * page, VAS_MEM_COMMIT, VAS_PAGE_EXECUTE_READ) == big);
    uint64_t heap = vas_virtual_alloc(p, 0, (1 + salt) * MB, VAS_MEM_COMMIT | VAS_MEM_RESERVE,
                                      VAS_PAGE_READWRITE);
    CHECK(heap != 0);
    touch(p, heap, (1 + salt) * MB / 2, page);
    vas_thread_info thread;
    CHECK(vas_thread_create(p, 0, 0, &thread));
}

/* Shares a paging-file section between a and b, each writing its first pages. */
static void share(scene *s, vas_process *a, vas_process *b, uint64_t page)
{
    vas_section *section = vas_create_file_mapping(s->machine, NULL, VAS_PAGE_READWRITE, 512 * KB, NULL);
    CHECK(section != NULL);
    uint64_t view_a = vas_map_view_of_file(a, section, VAS_FILE_MAP_ALL_ACCESS, 0, 0, 0);
    uint64_t view_b = vas_map_view_of_file(b, section, VAS_FILE_MAP_READ, 0, 0, 0);
    CHECK(view_a != 0 && view_b != 0);
    touch(a, view_a, 128 * KB, page);
    uint8_t byte;
    CHECK_EQ(vas_read(b, view_b, &byte, 1, NULL), VAS_STATUS_SUCCESS);
    CHECK(vas_close_section(section));
}

static void pools(scene *s)
{
    CHECK(vas_pool_alloc(s->machine, VAS_NONPAGED_POOL, 200, TAG('T', 'e', 's', 't')) != 0);
    CHECK(vas_pool_alloc(s->machine, VAS_NONPAGED_POOL, 3000, TAG('P', 'r', 'o', 'c')) != 0);
    CHECK(vas_pool_alloc(s->machine, VAS_PAGED_POOL, 5 * 4096, TAG('<', '&', '>', '"')) != 0);
}

/* The tour's cast: Notepad and MyApp sharing memory, a 32-bit program under WOW64; 32 MB of
   RAM, so the frame map has one cell per frame. */
static void make_x64(scene *s)
{
    vas_machine_config config = {.layout = "x64", .ram_bytes = 32 * MB};
    s->machine = vas_machine_create(&config);
    CHECK(s->machine != NULL);
    vas_process *notepad = add_process(s, "p1", "notepad.exe", 0);
    vas_process *myapp = add_process(s, "p2", "MyApp.exe", 0);
    vas_process *legacy = add_process(s, "p3", "legacy32.exe", 32);
    populate(notepad, 4 * KB, 0);
    populate(myapp, 4 * KB, 3);
    populate(legacy, 4 * KB, 1);
    share(s, notepad, myapp, 4 * KB);
    pools(s);
    CHECK(vas_empty_working_set(myapp)); /* its pages to the standby and modified lists */
}

/* 256 MB of 4 KB pages: four frames a cell. */
static void make_x86(scene *s)
{
    vas_machine_config config = {.layout = "x86"};
    s->machine = vas_machine_create(&config);
    CHECK(s->machine != NULL);
    vas_process *a = add_process(s, "p1", "a<b>&\"c", 0);
    vas_process *b = add_process(s, "p<2>", "server.exe", 0);
    populate(a, 4 * KB, 2);
    populate(b, 4 * KB, 1);
    share(s, a, b, 4 * KB);
    pools(s);
    CHECK(vas_empty_working_set(a));
    vas_write_modified_pages(s->machine); /* written, so on the standby list */
}

/* 256 MB of 8 KB pages: two frames a cell. */
static void make_ia64(scene *s)
{
    vas_machine_config config = {.layout = "ia64"};
    s->machine = vas_machine_create(&config);
    CHECK(s->machine != NULL);
    vas_process *a = add_process(s, "p1", "itanium.exe", 0);
    vas_process *b = add_process(s, "p2", "a<b>&\"c", 0);
    populate(a, 8 * KB, 1);
    populate(b, 8 * KB, 2);
    share(s, b, a, 8 * KB);
    pools(s);
    CHECK(vas_empty_working_set(b));
}

/* ---- Reading a report back ------------------------------------------------------------------- */

typedef struct text {
    char *bytes;
    size_t size;
} text;

static text read_file(const char *path)
{
    text t = {NULL, 0};
    FILE *f = fopen(path, "rb");
    if (!f)
        return t;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    t.bytes = malloc((size_t)size + 1);
    if (t.bytes && fread(t.bytes, 1, (size_t)size, f) == (size_t)size) {
        t.bytes[size] = '\0';
        t.size = (size_t)size;
    }
    fclose(f);
    return t;
}

static size_t count_of(const text *t, const char *needle)
{
    size_t n = 0, length = strlen(needle);
    for (const char *at = t->bytes; (at = strstr(at, needle)) != NULL; at += length)
        n++;
    return n;
}

static int contains(const text *t, const char *needle) { return strstr(t->bytes, needle) != NULL; }

/* s as the report must escape it. */
static void escape(const char *s, char *out, size_t size)
{
    size_t at = 0;
    for (; *s && at + 7 < size; s++) {
        const char *entity = *s == '<' ? "&lt;" : *s == '>' ? "&gt;" : *s == '&' ? "&amp;"
                           : *s == '"' ? "&quot;" : *s == '\'' ? "&#39;" : NULL;
        if (entity) {
            strcpy(out + at, entity);
            at += strlen(entity);
        } else {
            out[at++] = *s;
        }
    }
    out[at] = '\0';
}

static void report_path(char *path, size_t size, const char *name)
{
    snprintf(path, size, "%s/%s", out_dir, name);
}

/* Writes s's report as name and checks its structure; frames_per_cell is what the frame map
   must say. */
static void check_report(scene *s, const char *name, const char *title, unsigned frames_per_cell)
{
    char path[512], again[520];
    report_path(path, sizeof path, name);
    CHECK_EQ(report_write_html(path, s->machine, s->processes, s->count, title), 0);
    text t = read_file(path);
    CHECK(t.bytes != NULL);
    if (!t.bytes)
        return;
    printf("%s: %zu bytes\n", name, t.size);
    CHECK(t.size < 1024 * 1024); /* merged runs keep it small */
    CHECK(strncmp(t.bytes, "<!DOCTYPE html>", 15) == 0);
    CHECK(t.size > 8 && strcmp(t.bytes + t.size - 8, "</html>\n") == 0);

    /* Self-contained (R1): the only URL is SVG's namespace name, which nothing fetches. */
    size_t svgs = count_of(&t, "<svg ");
    CHECK_EQ(svgs, 2 * s->count + 1);
    CHECK_EQ(count_of(&t, "http://"), count_of(&t, "xmlns=\"http://www.w3.org/2000/svg\""));
    CHECK_EQ(count_of(&t, "xmlns=\"http://www.w3.org/2000/svg\""), svgs);
    CHECK(!contains(&t, "https://"));
    CHECK(!contains(&t, "<script"));
    CHECK(!contains(&t, "<link"));
    CHECK(!contains(&t, "<img"));
    CHECK(!contains(&t, " src="));
    CHECK(!contains(&t, "url("));
    CHECK(!contains(&t, "@import"));

    /* Balanced. */
    CHECK_EQ(count_of(&t, "</svg>"), svgs);
    CHECK_EQ(count_of(&t, "<section"), count_of(&t, "</section>"));
    CHECK_EQ(count_of(&t, "<section"), s->count + 3);
    CHECK_EQ(count_of(&t, "<table"), count_of(&t, "</table>"));
    CHECK_EQ(count_of(&t, "<details>"), count_of(&t, "</details>"));
    CHECK(count_of(&t, "<details>") >= s->count); /* populate() splits an allocation in regions */
    CHECK_EQ(count_of(&t, "<title>"), count_of(&t, "</title>"));

    /* Names: kinds (the summary lists them all), partitions, processes, title; all escaped. */
    char escaped[256], expect[512];
    for (int kind = 0; kind < KIND_COUNT; kind++)
        CHECK(contains(&t, kind_name((map_kind)kind)));
    for (size_t i = 0; i < s->count; i++) {
        vas_partition parts[16];
        size_t n = vas_get_partitions(s->processes[i].process, parts, 16);
        for (size_t j = 0; j < n && j < 16; j++)
            CHECK(contains(&t, parts[j].name));
        escape(vas_process_name(s->processes[i].process), escaped, sizeof escaped);
        CHECK(contains(&t, escaped));
        escape(s->processes[i].label, escaped, sizeof escaped);
        snprintf(expect, sizeof expect, ">%s &middot; ", escaped);
        CHECK(contains(&t, expect));
        /* Every kind the process has is drawn in its colour. */
        process_map map;
        CHECK(process_map_build(s->processes[i].process, &map));
        for (int kind = 0; kind < KIND_COUNT; kind++) {
            if (kind == KIND_PAGE_TABLE || map.summary[kind].blocks == 0)
                continue;
            snprintf(expect, sizeof expect, "fill=\"%s\"><title>", kind_rgb((map_kind)kind));
            CHECK(contains(&t, expect));
        }
        CHECK(map.summary[KIND_SHAREABLE].blocks + map.summary[KIND_STACK].blocks >= 1);
        process_map_free(&map);
    }
    CHECK(!contains(&t, "a<b>"));
    CHECK(!contains(&t, "<2>"));
    escape(title, escaped, sizeof escaped);
    snprintf(expect, sizeof expect, "<title>%s</title>", escaped);
    CHECK(contains(&t, expect));
    snprintf(expect, sizeof expect, "<h1>%s</h1>", escaped);
    CHECK(contains(&t, expect));

    /* The frame map's scale, and the lists in its legend. */
    if (frames_per_cell == 1)
        snprintf(expect, sizeof expect, "One cell per frame");
    else
        snprintf(expect, sizeof expect, "One cell per %u frames", frames_per_cell);
    CHECK(contains(&t, expect));
    CHECK(contains(&t, "Standby list"));
    CHECK(contains(&t, "Modified list"));
    CHECK(contains(&t, "Section pages"));
    CHECK(contains(&t, ": page tables"));
    CHECK(contains(&t, "Pool tags"));
    CHECK(contains(&t, "&lt;&amp;&gt;&quot;")); /* the pool tag <&>" */

    /* Deterministic (R2): a second report of the same machine is the same bytes. */
    snprintf(again, sizeof again, "%s.again", path);
    CHECK_EQ(report_write_html(again, s->machine, s->processes, s->count, title), 0);
    text u = read_file(again);
    CHECK(u.bytes && u.size == t.size && memcmp(u.bytes, t.bytes, t.size) == 0);
    remove(again);
    free(u.bytes);
    free(t.bytes);
    CHECK_EQ(vas_check(s->machine), 0);
}

/* ---- Tests --------------------------------------------------------------------------------- */

static void test_x64(void)
{
    scene s = {0};
    make_x64(&s);
    check_report(&s, "report-x64.html", "x64: notepad, MyApp and a WOW64 program", 1);
    vas_machine_destroy(s.machine);
}

static void test_x86(void)
{
    scene s = {0};
    make_x86(&s);
    check_report(&s, "report-x86.html", "x86 <two processes> & \"a section\"", 4);
    vas_machine_destroy(s.machine);
}

static void test_ia64(void)
{
    scene s = {0};
    make_ia64(&s);
    check_report(&s, "report-ia64.html", "IA-64, 8 KB pages", 2);
    vas_machine_destroy(s.machine);
}

/* No process: the machine's figures and the frame map alone. */
static void test_no_process(void)
{
    vas_machine *m = vas_machine_create(NULL);
    CHECK(m != NULL);
    char path[512];
    report_path(path, sizeof path, "report-empty.html");
    CHECK_EQ(report_write_html(path, m, NULL, 0, NULL), 0);
    text t = read_file(path);
    CHECK(t.bytes && strncmp(t.bytes, "<!DOCTYPE html>", 15) == 0);
    if (t.bytes) {
        CHECK_EQ(count_of(&t, "<svg "), 1);
        CHECK(contains(&t, "<title>vas report</title>"));
    }
    free(t.bytes);
    remove(path);
    vas_machine_destroy(m);
}

/* A fragmented process on a large machine: a thousand one-page allocations, each with its
   Unusable tail, wrap the kind bar into rows at the smallest scale, and 1 GB of RAM puts 16
   frames in a cell. The page stays a few hundred bytes a block. */
static void test_many_blocks(void)
{
    scene s = {0};
    vas_machine_config config = {.layout = "x64", .ram_bytes = 1024 * MB};
    s.machine = vas_machine_create(&config);
    CHECK(s.machine != NULL);
    vas_process *p = add_process(&s, "p1", "fragmented.exe", 0);
    enum { ALLOCATIONS = 1000 };
    for (int i = 0; i < ALLOCATIONS; i++) {
        uint64_t a = vas_virtual_alloc(p, 0, 4 * KB, VAS_MEM_COMMIT | VAS_MEM_RESERVE, VAS_PAGE_READWRITE);
        CHECK(a != 0);
        if (i % 3 == 0)
            touch(p, a, 4 * KB, 4 * KB);
    }
    char path[512];
    report_path(path, sizeof path, "report-many.html");
    CHECK_EQ(report_write_html(path, s.machine, s.processes, s.count, "fragmented"), 0);
    text t = read_file(path);
    CHECK(t.bytes != NULL);
    if (t.bytes) {
        printf("report-many.html: %zu bytes\n", t.size);
        CHECK(contains(&t, "One cell per 16 frames"));
        CHECK(contains(&t, "and 3.0 px more for every doubling")); /* the smallest scale */
        CHECK(count_of(&t, "text-anchor=\"end\">0x00000000`") > 10); /* rows, each labelled */
        CHECK(t.size < 600 * ALLOCATIONS * 2);
    }
    free(t.bytes);
    remove(path);
    vas_machine_destroy(s.machine);
}

/* A path that cannot be opened gives its errno and creates nothing; a write that fails (a full
   device) gives its errno and leaves the device alone. */
static void test_unwritable(void)
{
    scene s = {0};
    vas_machine_config config = {.layout = "x64", .ram_bytes = 16 * MB};
    s.machine = vas_machine_create(&config);
    CHECK(s.machine != NULL);
    add_process(&s, "p1", "notepad.exe", 0);
    CHECK_EQ(report_write_html("/nonexistent/dir/x.html", s.machine, s.processes, s.count, "x"), ENOENT);
    struct stat st;
    CHECK(stat("/nonexistent/dir/x.html", &st) != 0);
    if (stat("/dev/full", &st) == 0 && S_ISCHR(st.st_mode)) {
        CHECK_EQ(report_write_html("/dev/full", s.machine, s.processes, s.count, "x"), ENOSPC);
        CHECK(stat("/dev/full", &st) == 0 && S_ISCHR(st.st_mode));
    }
    CHECK_EQ(report_write_html(NULL, s.machine, s.processes, s.count, "x"), EINVAL);
    vas_machine_destroy(s.machine);
}

static const check_test tests[] = {
    TEST(test_x64),         TEST(test_x86),        TEST(test_ia64),
    TEST(test_no_process),  TEST(test_many_blocks), TEST(test_unwritable),
};

int main(int argc, char **argv)
{
    if (argc > 1) {
        out_dir = argv[1];
        mkdir(out_dir, 0777); /* may exist */
    } else {
        snprintf(temp_dir, sizeof temp_dir, "/tmp/vas-report-XXXXXX");
        if (!mkdtemp(temp_dir)) {
            perror("mkdtemp");
            return 1;
        }
        out_dir = temp_dir;
    }
    char *only[] = {argv[0], NULL};
    int status = check_run(tests, sizeof tests / sizeof tests[0], 1, only);
    if (temp_dir[0]) {
        static const char *const names[] = {"report-x64.html", "report-x86.html", "report-ia64.html"};
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
            char path[512];
            report_path(path, sizeof path, names[i]);
            remove(path);
        }
        rmdir(temp_dir);
    }
    return status;
}
