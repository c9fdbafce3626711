/*
 * test_mapped.c - sections in use: memory shared between processes, mapped files and their
 * contents on disk, copy-on-write views, memory pressure on mapped pages, failing backing
 * stores, and processes or machines that go with views still mapped. Black-box: vas.h only.
 *
 *   test_mapped [small|full] [seed=N] [test]
 *
 * small (the default of builds without NDEBUG, where the checker runs after every call) runs
 * fewer random operations and smaller files; full more. The random tests print their seed when
 * they fail; seed=N replays one.
 *
 * What is covered:
 *   - a byte model of two sections (a named paging-file section opened by name in a second
 *     process, and a file section), each mapped in two processes and twice in one, plus a
 *     copy-on-write view of the file: thousands of random writes (vas_write and
 *     WriteProcessMemory, some across pages) through random views, read back through other
 *     views and processes, with trims, the modified page writer and flushes between them; on
 *     x64, x86 and ia64 (8 KB pages), on machines with room to spare and on ones whose RAM holds
 *     a fraction of the sections (each replacement policy);
 *   - copy-on-write views: isolation from the file, the other views and the other process,
 *     VirtualQuery's split regions, copies paged to the paging file and back, and the frames,
 *     slots and commit released at unmap;
 *   - the file on disk: after FlushViewOfFile (all, and a sub-range), after the last view goes,
 *     after the last handle goes, after trimming and the modified page writer, never through
 *     the paging file; a file whose size is not a multiple of the page; two sections over one
 *     file share its pages (Windows keeps the views of any mapping of a file coherent);
 *   - memory pressure: files and paging-file sections many times larger than RAM;
 *   - soft faults: a resident section page mapped by another view or process takes no frame;
 *   - failures: the file shrinks under the mapping, a backing store whose reads or writes fail
 *     and then heal;
 *   - processes and machines destroyed with views mapped.
 * Host files live in a mkdtemp directory under $TMPDIR (or /tmp), removed at the end.
 */
#include "check.h"
#include "figures.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

#define KiB (1ull << 10)
#define MiB (1ull << 20)
#define GRAN (64 * KiB) /* the allocation granularity: view offsets and bases */

#ifdef NDEBUG
static bool full_run = true;
#else
static bool full_run = false;
#endif
static uint64_t seed = 0x5EC7104Eu;

/* ---- A deterministic generator and patterns ------------------------------------------------ */

typedef struct rng {
    uint64_t state;
} rng;

static uint64_t rng_next(rng *r) /* splitmix64 */
{
    uint64_t z = (r->state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t rng_below(rng *r, uint64_t n) { return n ? rng_next(r) % n : 0; }

static void rng_fill(rng *r, uint8_t *bytes, size_t size)
{
    uint64_t x = 0;
    for (size_t i = 0; i < size; i++) {
        if (i % 8 == 0)
            x = rng_next(r);
        bytes[i] = (uint8_t)(x >> (8 * (i % 8)));
    }
}

/* The byte at `offset` of the pattern `tag`: any range of it can be made on its own. */
static uint8_t pattern_byte(uint64_t tag, uint64_t offset)
{
    uint64_t x = (offset >> 3) * 0x9E3779B97F4A7C15ull ^ (tag + 1) * 0xD1B54A32D192ED03ull;
    x ^= x >> 29;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 32;
    return (uint8_t)(x >> ((offset & 7) * 8));
}

static void pattern(uint8_t *bytes, size_t size, uint64_t tag, uint64_t offset)
{
    for (size_t i = 0; i < size; i++)
        bytes[i] = pattern_byte(tag, offset + i);
}

static uint64_t align_up_to(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

/* ---- Host files ------------------------------------------------------------------------------ */

static char tmp_root[512];

static void tmp_path(char *out, size_t size, const char *name)
{
    if (!tmp_root[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(tmp_root, sizeof tmp_root, "%s/vas-mapped-XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(tmp_root)) {
            perror("test_mapped: mkdtemp");
            exit(2);
        }
    }
    snprintf(out, size, "%s/%s", tmp_root, name);
}

static void tmp_cleanup(void)
{
    if (!tmp_root[0])
        return;
    DIR *d = opendir(tmp_root);
    if (d) {
        struct dirent *e;
        char path[1024];
        while ((e = readdir(d))) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            snprintf(path, sizeof path, "%s/%s", tmp_root, e->d_name);
            unlink(path);
        }
        closedir(d);
    }
    rmdir(tmp_root);
}

static void host_create(const char *path, const uint8_t *bytes, uint64_t size)
{
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        perror("test_mapped: open");
        exit(2);
    }
    for (uint64_t done = 0; done < size;) {
        ssize_t n = pwrite(fd, bytes + done, (size_t)(size - done), (off_t)done);
        if (n <= 0) {
            perror("test_mapped: pwrite");
            exit(2);
        }
        done += (uint64_t)n;
    }
    close(fd);
}

static uint64_t host_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (uint64_t)st.st_size : UINT64_MAX;
}

/* Reads the host file with plain pread; bytes past its end read as 0xEE (never a model byte
   by chance in a whole range). */
static void host_read(const char *path, uint64_t offset, uint8_t *bytes, size_t size)
{
    memset(bytes, 0xEE, size);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return;
    for (size_t done = 0; done < size;) {
        ssize_t n = pread(fd, bytes + done, size - done, (off_t)(offset + done));
        if (n <= 0)
            break;
        done += (size_t)n;
    }
    close(fd);
}

/* True when the file holds `want` at `offset`; prints the first difference otherwise. */
static bool host_matches(const char *path, uint64_t offset, const uint8_t *want, uint64_t size, const char *what)
{
    uint8_t *got = malloc(size ? size : 1);
    host_read(path, offset, got, (size_t)size);
    bool same = memcmp(got, want, (size_t)size) == 0;
    if (!same) {
        uint64_t i = 0;
        while (got[i] == want[i])
            i++;
        fprintf(stderr, "test_mapped: %s: the file holds %#x at %#llx, expected %#x\n", what, got[i],
                (unsigned long long)(offset + i), want[i]);
    }
    free(got);
    return same;
}

/* ---- A backing store of our own, whose reads and writes can be made to fail ---------------- */

typedef struct fake_file {
    uint8_t *bytes;
    uint64_t size;
    bool fail_reads, fail_writes;
    uint64_t reads, writes, read_failures, write_failures;
    uint64_t out_of_range; /* I/O past the end: a library bug */
    int closed;
} fake_file;

static int fake_read(void *file, uint64_t offset, void *buffer, size_t size)
{
    fake_file *f = file;
    f->reads++;
    if (offset > f->size || size > f->size - offset) {
        f->out_of_range++;
        return -1;
    }
    if (f->fail_reads) {
        f->read_failures++;
        memset(buffer, 0x5A, size); /* garbage that must not be used */
        return -1;
    }
    memcpy(buffer, f->bytes + offset, size);
    return 0;
}

static int fake_write(void *file, uint64_t offset, const void *buffer, size_t size)
{
    fake_file *f = file;
    f->writes++;
    if (offset > f->size || size > f->size - offset) {
        f->out_of_range++;
        return -1;
    }
    if (f->fail_writes) {
        f->write_failures++;
        return -1;
    }
    memcpy(f->bytes + offset, buffer, size);
    return 0;
}

static void fake_close(void *file) { ((fake_file *)file)->closed++; }

static const vas_backing_ops fake_ops = {fake_read, fake_write, fake_close};

static fake_file *fake_new(uint64_t size, uint64_t tag)
{
    fake_file *f = calloc(1, sizeof *f);
    f->bytes = malloc(size);
    f->size = size;
    pattern(f->bytes, (size_t)size, tag, 0);
    return f;
}

static void fake_free(fake_file *f)
{
    free(f->bytes);
    free(f);
}

/* ---- Machines, processes and their numbers --------------------------------------------------- */

static vas_machine *machine_with_policy(const char *layout, uint64_t ram, uint64_t pagefile, uint32_t policy)
{
    vas_machine_config c = {0};
    c.layout = layout;
    c.ram_bytes = ram;
    c.pagefile_bytes = pagefile;
    c.replacement_policy = policy;
    vas_machine *m = vas_machine_create(&c);
    if (!m) {
        fprintf(stderr, "test_mapped: cannot create a %s machine (error %u)\n", layout, vas_last_error());
        exit(2);
    }
    return m;
}

static vas_machine *machine_new(const char *layout, uint64_t ram, uint64_t pagefile)
{
    return machine_with_policy(layout, ram, pagefile, VAS_REPLACE_WS_AGING);
}

static vas_process *process_new(vas_machine *m)
{
    vas_process *p = vas_process_create(m, NULL);
    if (!p) {
        fprintf(stderr, "test_mapped: cannot create a process (error %u)\n", vas_last_error());
        exit(2);
    }
    return p;
}

static uint32_t page_of(vas_machine *m)
{
    vas_machine_info info;
    vas_get_machine_info(m, &info);
    return info.page_size;
}

/* Active frames that hold data, not page tables. */
static uint64_t data_active(vas_machine *m)
{
    vas_physical_status s = physical(m);
    return s.active - s.page_table_frames;
}

static vas_memory_basic_information query(vas_process *p, uint64_t va)
{
    vas_memory_basic_information info;
    memset(&info, 0, sizeof info);
    CHECK_EQ(vas_virtual_query(p, va, &info, sizeof info), sizeof info);
    return info;
}

/* Guest reads and writes of any size, in chunks that memory can hold at once. */
#define CHUNK (32 * KiB)

static uint32_t guest_read(vas_process *p, uint64_t va, void *buffer, uint64_t size)
{
    for (uint64_t done = 0; done < size; done += CHUNK) {
        uint64_t n = size - done < CHUNK ? size - done : CHUNK;
        uint32_t status = vas_read(p, va + done, (uint8_t *)buffer + done, (size_t)n, NULL);
        if (status)
            return status;
    }
    return 0;
}

static uint32_t guest_write(vas_process *p, uint64_t va, const void *buffer, uint64_t size)
{
    for (uint64_t done = 0; done < size; done += CHUNK) {
        uint64_t n = size - done < CHUNK ? size - done : CHUNK;
        uint32_t status = vas_write(p, va + done, (const uint8_t *)buffer + done, (size_t)n, NULL);
        if (status)
            return status;
    }
    return 0;
}

/* True when the guest reads `want` at va; prints the first difference otherwise. */
static bool guest_matches(vas_process *p, uint64_t va, const uint8_t *want, uint64_t size, const char *what)
{
    uint8_t *got = malloc(size ? size : 1);
    uint32_t status = guest_read(p, va, got, size);
    bool same = status == 0 && memcmp(got, want, (size_t)size) == 0;
    if (status) {
        fprintf(stderr, "test_mapped: %s: reading %#llx raised %s\n", what, (unsigned long long)va,
                vas_status_name(status));
    } else if (!same) {
        uint64_t i = 0;
        while (got[i] == want[i])
            i++;
        fprintf(stderr, "test_mapped: %s: %#llx reads %#x, expected %#x\n", what, (unsigned long long)(va + i),
                got[i], want[i]);
    }
    free(got);
    return same;
}

/* Writes `bytes` at va and the same into the model. */
static void put(vas_process *p, uint64_t va, uint8_t *model, const uint8_t *bytes, uint64_t size)
{
    CHECK_EQ(guest_write(p, va, bytes, size), 0);
    memcpy(model, bytes, (size_t)size);
}

/* Writes `size` bytes of pattern `tag` at va (and into the model at model_offset). */
static void put_pattern(vas_process *p, uint64_t va, uint8_t *model, uint64_t model_offset, uint64_t size,
                        uint64_t tag)
{
    uint8_t *bytes = malloc(size);
    pattern(bytes, (size_t)size, tag, model_offset);
    put(p, va, model + model_offset, bytes, size);
    free(bytes);
}

/* Pushes every page that is not locked out of RAM: each process's working set is emptied, the
   modified pages written, then a passing process touches twice the machine's frames (clean
   demand-zero pages) so that every standby frame is reused. */
static void push_out(vas_machine *m, vas_process **processes, int count)
{
    for (int i = 0; i < count; i++)
        CHECK(vas_empty_working_set(processes[i]));
    vas_write_modified_pages(m);
    uint32_t page = page_of(m);
    uint64_t pages = 2 * physical(m).frame_count;
    vas_process *hog = process_new(m);
    uint64_t a = vas_virtual_alloc(hog, 0, pages * page, VAS_MEM_COMMIT | VAS_MEM_RESERVE, VAS_PAGE_READWRITE);
    CHECK(a != 0);
    for (uint64_t i = 0; a && i < pages; i++) {
        uint8_t b;
        CHECK_EQ(vas_read(hog, a + i * page, &b, 1, NULL), 0);
    }
    vas_process_destroy(hog);
}

static uint64_t map(vas_process *p, vas_section *s, uint32_t access, uint64_t offset, uint64_t size)
{
    uint64_t va = vas_map_view_of_file(p, s, access, offset, size, 0);
    if (!va)
        fprintf(stderr, "test_mapped: MapViewOfFile failed with %s\n", vas_error_name(vas_last_error()));
    CHECK(va != 0);
    return va;
}

/* ---- 1. Two processes share memory, against a byte model -------------------------------------- */

typedef struct model_view {
    vas_process *p;
    uint64_t base;   /* guest address */
    uint64_t offset; /* in the section */
    uint64_t size;   /* bytes of the section it shows */
} model_view;

typedef struct model_section {
    const char *kind;
    uint8_t *bytes; /* what every view must read */
    uint64_t size;
    const char *path; /* the host file, for a file section */
    model_view views[3];
} model_section;

typedef struct model_run {
    const char *layout;
    uint64_t ram, seed, op;
    int errors;
} model_run;

static void model_fail(model_run *run, const char *format, ...)
{
    check_failures_in_test++;
    if (run->errors++ >= 5)
        return;
    fprintf(stderr, "test_mapped: shared model (layout %s, ram %llu KB, seed=%llu), op %llu: ", run->layout,
            (unsigned long long)(run->ram / KiB), (unsigned long long)run->seed, (unsigned long long)run->op);
    va_list args;
    va_start(args, format);
    vfprintf(stderr, format, args);
    va_end(args);
    fputc('\n', stderr);
}

/* Reads [at, at + size) of the section through view w and compares it with the model. */
static bool model_check(model_run *run, const model_section *s, const model_view *w, uint64_t at, uint64_t size,
                        bool rpm, uint8_t *buffer)
{
    uint64_t va = w->base + (at - w->offset);
    if (rpm) {
        size_t got = 0;
        if (!vas_read_process_memory(w->p, va, buffer, (size_t)size, &got) || got != size) {
            model_fail(run, "%s: ReadProcessMemory(%#llx, %llu) failed with %s after %zu bytes", s->kind,
                       (unsigned long long)va, (unsigned long long)size, vas_error_name(vas_last_error()), got);
            return false;
        }
    } else {
        uint32_t status = guest_read(w->p, va, buffer, size);
        if (status) {
            model_fail(run, "%s: reading %#llx (%llu bytes) raised %s", s->kind, (unsigned long long)va,
                       (unsigned long long)size, vas_status_name(status));
            return false;
        }
    }
    if (memcmp(buffer, s->bytes + at, (size_t)size) == 0)
        return true;
    uint64_t i = 0;
    while (buffer[i] == s->bytes[at + i])
        i++;
    model_fail(run, "%s: process %u reads %#x at %#llx (section offset %#llx), the model says %#x", s->kind,
               vas_process_id(w->p), buffer[i], (unsigned long long)(va + i), (unsigned long long)(at + i),
               s->bytes[at + i]);
    return false;
}

/* A flush through a file view, all of it (size 0) or a random sub-range, then the file must
   hold the model over that range. */
static void model_flush(model_run *run, rng *r, const model_section *s, uint32_t page)
{
    const model_view *v = &s->views[rng_below(r, 3)];
    uint64_t from = 0, size = 0;
    if (rng_below(r, 2)) {
        from = rng_below(r, v->size);
        size = 1 + rng_below(r, v->size - from < 4 * page ? v->size - from : 4 * page);
    }
    if (!vas_flush_view_of_file(v->p, v->base + from, size)) {
        model_fail(run, "FlushViewOfFile(%#llx, %llu) failed with %s", (unsigned long long)(v->base + from),
                   (unsigned long long)size, vas_error_name(vas_last_error()));
        return;
    }
    uint64_t at = v->offset + from, n = size ? size : v->size - from;
    if (!host_matches(s->path, at, s->bytes + at, n, "after FlushViewOfFile"))
        model_fail(run, "the file lacks bytes of [%#llx, %#llx) after FlushViewOfFile", (unsigned long long)at,
                   (unsigned long long)(at + n));
}

/* A copy-on-write view of the file section: a page B has written is B's own (copied from the
   section as it was then); any other page shows the section. */
typedef struct copy_view {
    model_view view;
    const model_section *section;
    uint8_t *bytes;  /* the copied pages */
    uint8_t *copied; /* per page */
    uint64_t page;
} copy_view;

static void copy_write(copy_view *c, uint64_t at, const uint8_t *data, uint64_t size)
{
    for (uint64_t i = at / c->page; i <= (at + size - 1) / c->page; i++) {
        if (c->copied[i])
            continue;
        uint64_t from = i * c->page, n = c->section->size - from < c->page ? c->section->size - from : c->page;
        memcpy(c->bytes + from, c->section->bytes + from, (size_t)n);
        c->copied[i] = 1;
    }
    memcpy(c->bytes + at, data, (size_t)size);
}

static bool copy_check(model_run *run, const copy_view *c, uint64_t at, uint64_t size, uint8_t *buffer)
{
    uint32_t status = guest_read(c->view.p, c->view.base + at, buffer, size);
    if (status) {
        model_fail(run, "copy view: reading %#llx (%llu bytes) raised %s", (unsigned long long)(c->view.base + at),
                   (unsigned long long)size, vas_status_name(status));
        return false;
    }
    for (uint64_t i = 0; i < size; i++) {
        uint64_t o = at + i;
        uint8_t want = c->copied[o / c->page] ? c->bytes[o] : c->section->bytes[o];
        if (buffer[i] != want) {
            model_fail(run, "copy view: %#llx (offset %#llx, page %s) reads %#x, the model says %#x",
                       (unsigned long long)(c->view.base + o), (unsigned long long)o,
                       c->copied[o / c->page] ? "copied" : "not copied", buffer[i], want);
            return false;
        }
    }
    return true;
}

static void shared_model(const char *layout, uint32_t policy, uint64_t ram, uint64_t shm_size, uint64_t file_size,
                         uint64_t ops, bool small_ram)
{
    vas_machine *m = machine_with_policy(layout, ram, 32 * MiB, policy);
    uint32_t page = page_of(m);
    model_run run = {layout, ram, seed, 0, 0};
    int failures_before = check_failures_in_test;
    rng r = {seed ^ (ram * 0x2545F4914F6CDD1Dull) ^ (uint64_t)page << 40 ^ (uint64_t)(unsigned char)layout[1] ^
             (uint64_t)policy << 56};
    vas_process *a = process_new(m), *b = process_new(m);
    uint64_t commit_before = memory(m).commit_total;
    vas_paging_status paging_before = paging(m);

    /* The paging-file section: named, opened by name for B. */
    char name[96], path[1024];
    snprintf(name, sizeof name, "Local\\vas-mapped-%s-%llu", layout, (unsigned long long)ram);
    vas_section *shm = vas_create_file_mapping(m, NULL, VAS_PAGE_READWRITE, shm_size, name);
    CHECK(shm != NULL);
    CHECK_EQ(vas_last_error(), VAS_ERROR_SUCCESS);
    vas_section *shm_b = vas_open_file_mapping(m, VAS_FILE_MAP_ALL_ACCESS, name);
    CHECK(shm_b != NULL);
    CHECK_EQ(memory(m).commit_total, commit_before + align_up_to(shm_size, page)); /* SEC_COMMIT */

    /* The file section, over a file of random bytes (its size not a multiple of the page). */
    model_section sections[2] = {{"paging-file section", calloc(1, shm_size), shm_size, NULL, {{0}}},
                                 {"file section", malloc(file_size), file_size, path, {{0}}}};
    rng_fill(&r, sections[1].bytes, file_size);
    snprintf(name, sizeof name, "model-%s-%u-%llu.bin", layout, policy, (unsigned long long)ram);
    tmp_path(path, sizeof path, name);
    host_create(path, sections[1].bytes, file_size);
    vas_section *file = vas_create_file_mapping(m, path, VAS_PAGE_READWRITE, 0, NULL);
    CHECK(file != NULL);
    CHECK_EQ(memory(m).commit_total, commit_before + align_up_to(shm_size, page)); /* the file backs it */

    /* Each section: a whole view and a part in A, a whole view in B; and B's copy-on-write
       view of the file, whose pages show the file until B writes them. */
    uint64_t part = shm_size / 2 + 333;
    sections[0].views[0] = (model_view){a, shm ? map(a, shm, VAS_FILE_MAP_WRITE, 0, 0) : 0, 0, shm_size};
    sections[0].views[1] = (model_view){a, shm ? map(a, shm, VAS_FILE_MAP_ALL_ACCESS, GRAN, part) : 0, GRAN, part};
    sections[0].views[2] = (model_view){b, shm_b ? map(b, shm_b, VAS_FILE_MAP_WRITE, 0, 0) : 0, 0, shm_size};
    sections[1].views[0] = (model_view){a, file ? map(a, file, VAS_FILE_MAP_WRITE, 0, 0) : 0, 0, file_size};
    sections[1].views[1] =
        (model_view){a, file ? map(a, file, VAS_FILE_MAP_WRITE, 2 * GRAN, 0) : 0, 2 * GRAN, file_size - 2 * GRAN};
    sections[1].views[2] = (model_view){b, file ? map(b, file, VAS_FILE_MAP_ALL_ACCESS, 0, 0) : 0, 0, file_size};
    copy_view cv = {{b, file ? map(b, file, VAS_FILE_MAP_COPY, 0, 0) : 0, 0, file_size}, &sections[1], malloc(file_size),
                    calloc(align_up_to(file_size, page) / page, 1), page};
    bool mapped = cv.view.base != 0;
    for (int s = 0; s < 2; s++)
        for (int v = 0; v < 3; v++)
            mapped &= sections[s].views[v].base != 0;
    CHECK_EQ(memory(m).commit_total, commit_before + align_up_to(shm_size, page) + align_up_to(file_size, page));
    uint8_t *buffer = malloc(CHUNK + 4 * page), *data = malloc(4 * page);

    uint64_t event = 0, every = ops / 24 ? ops / 24 : 1;
    for (run.op = 0; mapped && run.op < ops && run.errors == 0; run.op++) {
        uint64_t which = rng_below(&r, 9); /* 0-3 the paging-file section, 4-7 the file, 8 the copy */
        model_section *s = &sections[which < 4 ? 0 : 1];
        model_view *v = which == 8 ? &cv.view : &s->views[rng_below(&r, 3)];
        uint64_t kind = rng_below(&r, 10);
        uint64_t size = kind < 6 ? 1 + rng_below(&r, 64) : kind < 9 ? 65 + rng_below(&r, page - 64)
                                                                    : page + 1 + rng_below(&r, 2 * page);
        if (size > v->size)
            size = v->size;
        uint64_t at; /* in the view */
        if (size > 1 && rng_below(&r, 3) == 0 && v->size > page) {
            uint64_t boundary = page * (1 + rng_below(&r, (v->size - 1) / page)), back = 1 + rng_below(&r, size - 1);
            at = back > boundary ? 0 : boundary - back; /* the write crosses `boundary` */
        } else {
            at = rng_below(&r, v->size - size + 1);
        }
        if (at + size > v->size)
            at = v->size - size;
        rng_fill(&r, data, (size_t)size);
        if (rng_below(&r, 8) == 0) {
            size_t written = 0;
            if (!vas_write_process_memory(v->p, v->base + at, data, (size_t)size, &written) || written != size)
                model_fail(&run, "%s: WriteProcessMemory(%#llx, %llu) failed with %s", s->kind,
                           (unsigned long long)(v->base + at), (unsigned long long)size,
                           vas_error_name(vas_last_error()));
        } else {
            vas_exception e;
            uint32_t status = vas_write(v->p, v->base + at, data, (size_t)size, &e);
            if (status)
                model_fail(&run, "%s: writing %#llx (%llu bytes) raised %s at %#llx", s->kind,
                           (unsigned long long)(v->base + at), (unsigned long long)size, vas_status_name(status),
                           (unsigned long long)e.address);
        }
        uint64_t section_at = v->offset + at;
        if (which == 8) {
            /* The copy view: B's private pages, and the file's pages as they were. */
            copy_write(&cv, at, data, size);
            copy_check(&run, &cv, at, size, buffer);
            model_check(&run, s, &s->views[0], at, size, false, buffer);
        } else {
            memcpy(s->bytes + section_at, data, (size_t)size);
            /* Read it back through another view that shows it, of the other process if it can. */
            model_view *w = NULL;
            for (int tries = 0; tries < 8 && !w; tries++) {
                model_view *c = &s->views[rng_below(&r, 3)];
                if (c != v && c->offset <= section_at && section_at + size <= c->offset + c->size &&
                    (c->p != v->p || tries >= 4))
                    w = c;
            }
            if (!w)
                w = &s->views[v == &s->views[2] ? 0 : 2]; /* the other process's whole view */
            model_check(&run, s, w, section_at, size, rng_below(&r, 6) == 0, buffer);
            if (s == &sections[1] && rng_below(&r, 4) == 0)
                copy_check(&run, &cv, section_at, size, buffer); /* seen by the copy where not copied */
        }

        /* Now and then, a random range through a random view. */
        if (rng_below(&r, 8) == 0) {
            model_view *x = &s->views[rng_below(&r, 3)];
            uint64_t n = 1 + rng_below(&r, x->size < 3 * page ? x->size : 3 * page);
            uint64_t from = rng_below(&r, x->size - n + 1);
            model_check(&run, s, x, x->offset + from, n, false, buffer);
        }

        /* And the memory manager's own work: trims, the modified page writer, flushes. */
        if (run.op % every == every - 1) {
            model_view *x = &sections[0].views[rng_below(&r, 3)];
            switch (event++ % 6) {
            case 0: CHECK(vas_empty_working_set(a)); break;
            case 1: CHECK(vas_empty_working_set(b)); break;
            case 2: vas_write_modified_pages(m); break;
            case 3: /* a paging-file section's view flushes too, with nothing to write */
                if (!vas_flush_view_of_file(x->p, x->base, 0))
                    model_fail(&run, "FlushViewOfFile of a paging-file section's view failed with %s",
                               vas_error_name(vas_last_error()));
                break;
            default: model_flush(&run, &r, &sections[1], page); break;
            }
        }
    }

    /* Every byte of every view, then the file once its last view is gone. */
    for (int s = 0; mapped && s < 2 && run.errors == 0; s++)
        for (int v = 0; v < 3 && run.errors == 0; v++) {
            model_view *w = &sections[s].views[v];
            for (uint64_t at = 0; at < w->size && run.errors == 0; at += CHUNK) {
                uint64_t n = w->size - at < CHUNK ? w->size - at : CHUNK;
                model_check(&run, &sections[s], w, w->offset + at, n, v == 1, buffer);
            }
        }
    for (uint64_t at = 0; mapped && at < file_size && run.errors == 0; at += CHUNK)
        copy_check(&run, &cv, at, file_size - at < CHUNK ? file_size - at : CHUNK, buffer);
    /* VirtualQuery: the copied pages are read-write, the others write-copy. */
    for (uint64_t at = 0; mapped && at < align_up_to(file_size, page) && run.errors == 0;) {
        vas_memory_basic_information info = query(b, cv.view.base + at);
        uint64_t first = at / page, pages = info.region_size / page;
        bool copied = cv.copied[first], same = info.region_size >= page;
        for (uint64_t i = first; i < first + pages && i < align_up_to(file_size, page) / page; i++)
            same &= cv.copied[i] == copied;
        if (!same || info.protect != (copied ? VAS_PAGE_READWRITE : VAS_PAGE_WRITECOPY) ||
            info.base_address != cv.view.base + at || info.type != VAS_MEM_MAPPED) {
            model_fail(&run, "copy view: VirtualQuery(%#llx) says %#x over %#llx bytes, page copied: %d",
                       (unsigned long long)(cv.view.base + at), info.protect, (unsigned long long)info.region_size,
                       (int)copied);
            break;
        }
        at += info.region_size;
    }
    vas_paging_status ps = paging(m);
    vas_process_counters ca = counters(a), cb = counters(b);
    if (getenv("VAS_MAPPED_STATS"))
        fprintf(stderr, "%s %llu KB: trimmed %llu, hard %llu, soft %llu, pages written %llu, reads %llu\n", layout,
                (unsigned long long)(ram / KiB), (unsigned long long)(ps.trimmed_pages - paging_before.trimmed_pages),
                (unsigned long long)(ca.hard_faults + cb.hard_faults), (unsigned long long)(ca.soft_faults + cb.soft_faults),
                (unsigned long long)(ps.pages_written - paging_before.pages_written),
                (unsigned long long)(ps.reads - paging_before.reads));
    if (small_ram) { /* the sections are larger than RAM: pages left and came back */
        CHECK(ps.trimmed_pages > paging_before.trimmed_pages);
        CHECK(ca.hard_faults + cb.hard_faults > 0);
        CHECK(ca.soft_faults + cb.soft_faults > 0);
        CHECK(ps.pages_written > paging_before.pages_written); /* the paging-file section's pages */
        CHECK(ps.reads > paging_before.reads);                 /* ... and back */
    }
    for (int s = 0; s < 2; s++)
        for (int v = 0; v < 3; v++)
            if (sections[s].views[v].base)
                CHECK(vas_unmap_view_of_file(sections[s].views[v].p, sections[s].views[v].base));
    if (cv.view.base)
        CHECK(vas_unmap_view_of_file(b, cv.view.base));
    CHECK(host_matches(path, 0, sections[1].bytes, file_size, "after the last view is unmapped"));
    CHECK_EQ(host_size(path), file_size);
    CHECK(file && vas_close_section(file));
    CHECK(shm && vas_close_section(shm));
    CHECK(shm_b && vas_close_section(shm_b));
    CHECK_EQ(memory(m).commit_total, commit_before);
    CHECK_EQ(paging(m).pagefile_used, paging_before.pagefile_used);
    CHECK_EQ(vas_check(m), 0);
    if (check_failures_in_test > failures_before)
        fprintf(stderr, "test_mapped: shared model (layout %s, policy %u, ram %llu KB) failed with seed=%llu\n",
                layout, policy, (unsigned long long)(ram / KiB), (unsigned long long)seed);
    vas_machine_destroy(m);
    free(sections[0].bytes);
    free(sections[1].bytes);
    free(cv.bytes);
    free(cv.copied);
    free(buffer);
    free(data);
}

static uint64_t model_ops(void) { return full_run ? 60000 : 12000; }

/* Plenty of RAM: the model alone. */
static void test_shared_model_x64(void)
{
    shared_model("x64", VAS_REPLACE_WS_AGING, 32 * MiB, 512 * KiB, 384 * KiB - 1000, model_ops(), false);
}

/* RAM holds a fraction of the sections: pages are trimmed, written and brought back (with
   Windows' working-set aging, and on the other layouts with the clock and FIFO policies). */
static void test_shared_model_x64_small_ram(void)
{
    shared_model("x64", VAS_REPLACE_WS_AGING, 1 * MiB, 3 * MiB, 5 * MiB / 2 - 1000, model_ops(), true);
}

static void test_shared_model_x86_small_ram(void)
{
    shared_model("x86", VAS_REPLACE_CLOCK, 1 * MiB, 3 * MiB, 5 * MiB / 2 - 1000, model_ops(), true);
}

static void test_shared_model_ia64_small_ram(void) /* 8 KB pages */
{
    shared_model("ia64", VAS_REPLACE_FIFO, 2 * MiB, 4 * MiB, 3 * MiB - 1000, model_ops(), true);
}

static void test_shared_model_ia64(void)
{
    shared_model("ia64", VAS_REPLACE_WS_AGING, 32 * MiB, 512 * KiB, 640 * KiB + 4321, model_ops() / 2, false);
}

static void test_shared_model_x86_lru(void) /* exact LRU: every access through the page tables */
{
    shared_model("x86", VAS_REPLACE_LRU, 1 * MiB, 2 * MiB, 3 * MiB / 2 + 77, model_ops() / 4, true);
}

/* ---- 2. Copy-on-write views ---------------------------------------------------------------------- */

static void test_copy_on_write_isolation(void)
{
    vas_machine *m = machine_new("x64", 2 * MiB, 16 * MiB);
    uint64_t page = page_of(m), size = GRAN;
    vas_process *a = process_new(m), *b = process_new(m);
    uint8_t *file_model = malloc(size), *ca_model = malloc(size), *cb_model = malloc(size), bytes[256];
    pattern(file_model, size, 21, 0);
    char path[1024];
    tmp_path(path, sizeof path, "cow.bin");
    host_create(path, file_model, size);
    vas_section *s = vas_create_file_mapping(m, path, VAS_PAGE_READWRITE, 0, NULL);
    CHECK(s != NULL);
    vas_memory_status mem0 = memory(m);
    vas_paging_status ps0 = paging(m);
    uint64_t charge_a = counters(a).commit_charge;

    uint64_t w = map(a, s, VAS_FILE_MAP_WRITE, 0, 0);
    uint64_t ca = map(a, s, VAS_FILE_MAP_COPY, 0, 0);
    uint64_t cb = map(b, s, VAS_FILE_MAP_COPY, 0, 0);
    uint64_t rb = map(b, s, VAS_FILE_MAP_READ, 0, 0);
    if (!w || !ca || !cb || !rb) {
        vas_machine_destroy(m);
        return;
    }
    /* A view that may copy is charged for every page it could copy. */
    CHECK_EQ(memory(m).commit_total, mem0.commit_total + 2 * size);
    CHECK_EQ(counters(a).commit_charge, charge_a + size);
    CHECK_EQ(query(a, ca).protect, VAS_PAGE_WRITECOPY);
    CHECK_EQ(query(a, ca).region_size, size);
    memcpy(ca_model, file_model, size);
    memcpy(cb_model, file_model, size);
    CHECK(guest_matches(a, ca, file_model, size, "a copy view before any write"));

    /* A's copy view writes page 3: A's own copy, seen nowhere else. */
    memset(bytes, 0xA3, sizeof bytes);
    put(a, ca + 3 * page + 50, ca_model + 3 * page + 50, bytes, 100);
    CHECK(guest_matches(a, ca, ca_model, size, "A's copy view after its write"));
    CHECK(guest_matches(a, w, file_model, size, "A's write view after a write through A's copy view"));
    CHECK(guest_matches(b, cb, file_model, size, "B's copy view after a write through A's copy view"));
    CHECK(guest_matches(b, rb, file_model, size, "B's read view after a write through A's copy view"));
    /* A read view is not written, not even by WriteProcessMemory. */
    vas_exception e;
    CHECK_EQ(vas_write(b, rb + 3 * page, bytes, 8, &e), VAS_STATUS_ACCESS_VIOLATION);
    CHECK_EQ(e.address, rb + 3 * page);
    size_t moved = 99;
    CHECK_FAILS(vas_write_process_memory(b, rb + 3 * page, bytes, 8, &moved), VAS_ERROR_NOACCESS);
    CHECK(guest_matches(b, rb, file_model, size, "B's read view after writes that failed"));
    CHECK(vas_flush_view_of_file(a, w, 0));
    CHECK(vas_flush_view_of_file(a, ca, 0));
    CHECK(host_matches(path, 0, file_model, size, "after a write through a copy view"));

    /* VirtualQuery: the copied page is read-write, the rest of the view write-copy. */
    vas_memory_basic_information info = query(a, ca);
    CHECK_EQ(info.region_size, 3 * page);
    CHECK_EQ(info.protect, VAS_PAGE_WRITECOPY);
    info = query(a, ca + 3 * page + 7);
    CHECK_EQ(info.base_address, ca + 3 * page);
    CHECK_EQ(info.region_size, page);
    CHECK_EQ(info.protect, VAS_PAGE_READWRITE);
    CHECK_EQ(info.allocation_base, ca);
    CHECK_EQ(info.allocation_protect, VAS_PAGE_WRITECOPY);
    CHECK_EQ(info.type, VAS_MEM_MAPPED);
    CHECK_EQ(info.state, VAS_MEM_COMMIT);
    info = query(a, ca + 4 * page);
    CHECK_EQ(info.region_size, size - 4 * page);
    CHECK_EQ(info.protect, VAS_PAGE_WRITECOPY);
    CHECK_EQ(query(b, cb).region_size, size);
    CHECK_EQ(query(b, cb).protect, VAS_PAGE_WRITECOPY);
    CHECK_EQ(query(a, w).protect, VAS_PAGE_READWRITE);
    CHECK_EQ(query(a, w).region_size, size);

    /* The write view writes pages 3 and 4: the copy keeps its page 3, sees the new page 4 (it
       has no copy of it); B's views see both. */
    memset(bytes, 0xB4, sizeof bytes);
    put(a, w + 3 * page + 1000, file_model + 3 * page + 1000, bytes, 200);
    put(a, w + 4 * page + 8, file_model + 4 * page + 8, bytes, 16);
    memcpy(ca_model + 4 * page + 8, bytes, 16);
    memcpy(cb_model + 3 * page + 1000, bytes, 200);
    memcpy(cb_model + 4 * page + 8, bytes, 16);
    CHECK(guest_matches(a, ca, ca_model, size, "A's copy view after the write view wrote its copied page"));
    CHECK(guest_matches(b, cb, cb_model, size, "B's copy view after a write through the write view"));
    CHECK(guest_matches(b, rb, file_model, size, "B's read view after a write through the write view"));
    CHECK(vas_flush_view_of_file(a, w, 0));
    CHECK(host_matches(path, 0, file_model, size, "after the write view's flush"));

    /* WriteProcessMemory on B's copy view copies too. */
    memset(bytes, 0xC7, sizeof bytes);
    size_t written = 0;
    CHECK(vas_write_process_memory(b, cb + 7 * page + 10, bytes, 20, &written));
    CHECK_EQ(written, 20);
    memcpy(cb_model + 7 * page + 10, bytes, 20);
    CHECK(guest_matches(b, cb, cb_model, size, "B's copy view after WriteProcessMemory"));
    CHECK(guest_matches(b, rb, file_model, size, "B's read view after WriteProcessMemory on the copy view"));
    CHECK(guest_matches(a, ca, ca_model, size, "A's copy view after WriteProcessMemory on B's"));
    CHECK(guest_matches(a, w, file_model, size, "A's write view after WriteProcessMemory on B's copy view"));
    CHECK_EQ(query(b, cb + 7 * page).protect, VAS_PAGE_READWRITE);
    CHECK_EQ(query(b, cb + 7 * page).region_size, page);
    CHECK_EQ(query(b, cb + 8 * page).protect, VAS_PAGE_WRITECOPY);

    /* The copies are private pages: trimmed, they go to the paging file (the two of them, and
       nothing of the file); pushed out of RAM, they come back intact. */
    CHECK(vas_empty_working_set(a));
    CHECK(vas_empty_working_set(b));
    vas_write_modified_pages(m);
    vas_paging_status ps1 = paging(m);
    CHECK_EQ(ps1.pages_written, ps0.pages_written + 2);
    CHECK_EQ(ps1.pagefile_used, ps0.pagefile_used + 2 * page);
    CHECK(host_matches(path, 0, file_model, size, "after the copies were paged"));
    vas_process *both[] = {a, b};
    push_out(m, both, 2);
    vas_process_counters c0 = counters(a);
    CHECK(guest_matches(a, ca + 3 * page, ca_model + 3 * page, page, "A's copied page back from the paging file"));
    CHECK(counters(a).hard_faults > c0.hard_faults);
    CHECK(paging(m).reads > ps1.reads);
    CHECK(guest_matches(b, cb, cb_model, size, "B's copy view back from the paging file"));
    CHECK(guest_matches(a, ca, ca_model, size, "A's copy view back from the paging file"));
    CHECK(guest_matches(a, w, file_model, size, "A's write view after paging"));
    CHECK_EQ(query(a, ca + 3 * page).protect, VAS_PAGE_READWRITE);

    /* Unmapping A's copy view releases its copy: its slot and its charge. */
    CHECK(vas_unmap_view_of_file(a, ca + 5)); /* any address inside the view */
    CHECK_EQ(memory(m).commit_total, mem0.commit_total + size);
    CHECK_EQ(counters(a).commit_charge, charge_a);
    CHECK_EQ(paging(m).pagefile_used, ps0.pagefile_used + page);

    /* B copies four more pages; with everything of B resident, unmapping its copy view frees
       exactly its five copies (the shared frames stay with B's read view). */
    memset(bytes, 0xD8, sizeof bytes);
    for (uint64_t i = 8; i < 12; i++)
        put(b, cb + i * page + i, cb_model + i * page + i, bytes, 64);
    CHECK(guest_matches(b, rb, file_model, size, "B's read view before the copy view goes"));
    CHECK(guest_matches(b, cb, cb_model, size, "B's copy view before it goes"));
    CHECK(guest_matches(a, w, file_model, size, "A's write view before B's copy view goes"));
    vas_physical_status ph0 = physical(m);
    uint64_t active0 = data_active(m);
    CHECK(vas_unmap_view_of_file(b, cb));
    vas_physical_status ph1 = physical(m);
    CHECK_EQ(data_active(m), active0 - 5);
    CHECK_EQ(ph1.modified, ph0.modified);
    CHECK_EQ(ph1.standby, ph0.standby);
    CHECK_EQ(memory(m).commit_total, mem0.commit_total);
    CHECK_EQ(paging(m).pagefile_used, ps0.pagefile_used);

    /* None of the copies ever reached the file. */
    CHECK(vas_unmap_view_of_file(a, w));
    CHECK(vas_unmap_view_of_file(b, rb));
    CHECK(vas_close_section(s));
    CHECK(host_matches(path, 0, file_model, size, "after every view is gone"));
    CHECK_EQ(memory(m).commit_total, mem0.commit_total);
    CHECK_EQ(vas_check(m), 0);
    vas_machine_destroy(m);
    free(file_model);
    free(ca_model);
    free(cb_model);
}

/* A section over a file opened read-only (PAGE_WRITECOPY): copy views only, and whatever they
   write, the file never changes. */
static void test_copy_on_write_section(void)
{
    vas_machine *m = machine_new("x64", 4 * MiB, 16 * MiB);
    uint64_t page = page_of(m), size = 2 * GRAN + 3 * page + 17;
    vas_process *a = process_new(m), *b = process_new(m);
    uint8_t *file_model = malloc(size), *model_a = malloc(size), *model_b = malloc(size);
    pattern(file_model, size, 22, 0);
    char path[1024];
    tmp_path(path, sizeof path, "cow-section.bin");
    host_create(path, file_model, size);
    chmod(path, 0444);
    vas_section *s = vas_create_file_mapping(m, path, VAS_PAGE_WRITECOPY, 0, NULL);
    CHECK(s != NULL);
    if (!s) {
        vas_machine_destroy(m);
        return;
    }
    vas_set_last_error(0);
    CHECK_EQ(vas_map_view_of_file(a, s, VAS_FILE_MAP_WRITE, 0, 0, 0), 0); /* no writing view of it */
    CHECK_EQ(vas_last_error(), VAS_ERROR_ACCESS_DENIED);
    uint64_t va = map(a, s, VAS_FILE_MAP_COPY, 0, 0), vb = map(b, s, VAS_FILE_MAP_COPY, 0, 0);
    uint64_t ra = map(a, s, VAS_FILE_MAP_READ, 0, 0);
    memcpy(model_a, file_model, size);
    memcpy(model_b, file_model, size);
    rng r = {seed ^ 22};
    uint8_t bytes[512];
    for (int i = 0; i < 200; i++) {
        uint64_t n = 1 + rng_below(&r, sizeof bytes), at = rng_below(&r, size - n + 1);
        rng_fill(&r, bytes, (size_t)n);
        if (i % 2)
            put(a, va + at, model_a + at, bytes, n);
        else
            put(b, vb + at, model_b + at, bytes, n);
    }
    CHECK(guest_matches(a, va, model_a, size, "A's copy view"));
    CHECK(guest_matches(b, vb, model_b, size, "B's copy view"));
    CHECK(guest_matches(a, ra, file_model, size, "A's read view"));
    vas_process *both[] = {a, b};
    push_out(m, both, 2);
    CHECK(guest_matches(a, va, model_a, size, "A's copy view after paging"));
    CHECK(guest_matches(b, vb, model_b, size, "B's copy view after paging"));
    CHECK(guest_matches(a, ra, file_model, size, "A's read view after paging"));
    CHECK(vas_flush_view_of_file(a, va, 0));
    CHECK(vas_unmap_view_of_file(a, va));
    CHECK(vas_unmap_view_of_file(a, ra));
    CHECK(vas_unmap_view_of_file(b, vb));
    CHECK(vas_close_section(s));
    CHECK(host_matches(path, 0, file_model, size, "a write-copy section's file"));
    CHECK_EQ(host_size(path), size);
    CHECK_EQ(vas_check(m), 0);
    vas_machine_destroy(m);
    chmod(path, 0644);
    free(file_model);
    free(model_a);
    free(model_b);
}

/* ---- 3. What the file holds ---------------------------------------------------------------------- */

static void test_file_contents(void)
{
    vas_machine *m = machine_new("x64", 8 * MiB, 16 * MiB);
    uint64_t page = page_of(m), size = 16 * page;
    vas_process *a = process_new(m), *b = process_new(m);
    vas_paging_status ps0 = paging(m);
    uint8_t *model = malloc(size), bytes[600];
    pattern(model, size, 31, 0);
    char path[1024];
    tmp_path(path, sizeof path, "contents.bin");
    host_create(path, model, size);
    vas_section *s = vas_create_file_mapping(m, path, VAS_PAGE_READWRITE, 0, NULL);
    CHECK(s != NULL);
    if (!s) {
        vas_machine_destroy(m);
        return;
    }
    uint64_t va = map(a, s, VAS_FILE_MAP_WRITE, 0, 0), vb = map(b, s, VAS_FILE_MAP_WRITE, 0, 0);

    /* FlushViewOfFile, size 0: everything written through the view is on disk. */
    memset(bytes, 0x11, sizeof bytes);
    put(a, va + page + 5, model + page + 5, bytes, 10);
    put(a, va + 2 * page - 300, model + 2 * page - 300, bytes, 600); /* pages 1 and 2 */
    put(a, va + 7 * page, model + 7 * page, bytes, page < sizeof bytes ? page : sizeof bytes);
    put(a, va + size - 1, model + size - 1, bytes, 1);
    CHECK(vas_flush_view_of_file(a, va, 0));
    CHECK(host_matches(path, 0, model, size, "after FlushViewOfFile(size 0)"));

    /* A sub-range: its bytes are on disk (those of other pages may or may not be). */
    memset(bytes, 0x22, sizeof bytes);
    put(a, va + 5 * page + 1000, model + 5 * page + 1000, bytes, 200);
    put(a, va + 9 * page + 3, model + 9 * page + 3, bytes, 50);
    CHECK(vas_flush_view_of_file(a, va + 5 * page + 1000, 200));
    CHECK(host_matches(path, 5 * page + 1000, model + 5 * page + 1000, 200, "after FlushViewOfFile of a sub-range"));
    put(a, va + 11 * page - 100, model + 11 * page - 100, bytes, 300); /* pages 10 and 11 */
    CHECK(vas_flush_view_of_file(a, va + 11 * page - 100, 300));
    CHECK(host_matches(path, 11 * page - 100, model + 11 * page - 100, 300, "after flushing a range over two pages"));
    /* Flushing B's view writes B's writes. */
    memset(bytes, 0x2B, sizeof bytes);
    put(b, vb + 13 * page + 1, model + 13 * page + 1, bytes, 77);
    CHECK(vas_flush_view_of_file(b, vb + 13 * page, page));
    CHECK(host_matches(path, 13 * page, model + 13 * page, page, "after B's flush"));
    CHECK(vas_flush_view_of_file(a, va, 0));
    CHECK(host_matches(path, 0, model, size, "after a second FlushViewOfFile(size 0)"));
    /* A flush past the view's end fails. */
    vas_set_last_error(0);
    CHECK_EQ(vas_flush_view_of_file(a, va, size + page), 0);

    /* The last view goes while the handle stays: the file has everything. */
    memset(bytes, 0x33, sizeof bytes);
    put(b, vb + 3 * page + 9, model + 3 * page + 9, bytes, 300);
    put(b, vb + 12 * page, model + 12 * page, bytes, 1);
    put(a, va + 4 * page + 4, model + 4 * page + 4, bytes, 44);
    CHECK(vas_unmap_view_of_file(a, va));
    CHECK(vas_unmap_view_of_file(b, vb));
    CHECK(host_matches(path, 0, model, size, "after the last view is unmapped, the handle open"));

    /* The handle goes first, a view stays: the section lives on until the view goes. */
    vb = map(b, s, VAS_FILE_MAP_WRITE, 0, 0);
    CHECK(guest_matches(b, vb, model, size, "a view mapped again"));
    CHECK(vas_close_section(s));
    memset(bytes, 0x44, sizeof bytes);
    put(b, vb + 6 * page + 6, model + 6 * page + 6, bytes, 66);
    put(b, vb + 14 * page - 1, model + 14 * page - 1, bytes, 2);
    CHECK(guest_matches(b, vb, model, size, "a view whose section has no handle left"));
    CHECK(vas_unmap_view_of_file(b, vb));
    CHECK(host_matches(path, 0, model, size, "after the section went with its last view"));

    /* Trimming: modified file pages go to the file, by the modified page writer, with the views
       still mapped. */
    s = vas_create_file_mapping(m, path, VAS_PAGE_READWRITE, 0, NULL);
    CHECK(s != NULL);
    va = map(a, s, VAS_FILE_MAP_WRITE, 0, 0);
    vb = map(b, s, VAS_FILE_MAP_WRITE, 0, 0);
    CHECK(guest_matches(a, va, model, size, "a new section over the file"));
    for (uint64_t i = 0; i < 16; i += 2)
        put_pattern(i % 4 ? a : b, (i % 4 ? va : vb) + i * page + i, model, i * page + i, 100 + i, 32);
    CHECK(vas_empty_working_set(a));
    CHECK(vas_empty_working_set(b));
    CHECK(physical(m).modified >= 8);
    CHECK(vas_write_modified_pages(m) >= 8);
    CHECK_EQ(physical(m).modified, 0);
    CHECK(host_matches(path, 0, model, size, "after trimming and the modified page writer"));
    CHECK(guest_matches(a, va, model, size, "A's view after trimming"));
    CHECK(guest_matches(b, vb, model, size, "B's view after trimming"));
    CHECK(vas_unmap_view_of_file(a, va));
    CHECK(vas_unmap_view_of_file(b, vb));
    CHECK(vas_close_section(s));
    CHECK(host_matches(path, 0, model, size, "at the end"));
    CHECK_EQ(host_size(path), size);

    /* Not one of those pages went to the paging file. */
    vas_paging_status ps1 = paging(m);
    CHECK_EQ(ps1.pages_written, ps0.pages_written);
    CHECK_EQ(ps1.pagefile_used, ps0.pagefile_used);
    CHECK_EQ(vas_check(m), 0);
    vas_machine_destroy(m);
    free(model);
}

/* A file whose size is not a multiple of the page: the last page's tail reads zero, and what is
   written there never reaches the file nor grows it. */
static void test_file_tail(void)
{
    vas_machine *m = machine_new("x64", 8 * MiB, 16 * MiB);
    uint64_t page = page_of(m), size = 5 * page + 123;
    vas_process *a = process_new(m);
    uint8_t *model = malloc(size), got[0x2000], bytes[64];
    pattern(model, size, 41, 0);
    char path[1024];
    tmp_path(path, sizeof path, "tail.bin");
    host_create(path, model, size);
    vas_section *s = vas_create_file_mapping(m, path, VAS_PAGE_READWRITE, 0, NULL);
    CHECK(s != NULL);
    if (!s) {
        vas_machine_destroy(m);
        return;
    }
    vas_section_information si;
    CHECK_EQ(vas_nt_query_section(s, &si), VAS_STATUS_SUCCESS);
    CHECK_EQ(si.size, size);
    CHECK_EQ(si.attributes & VAS_SEC_FILE, VAS_SEC_FILE);
    vas_set_last_error(0);
    CHECK_EQ(vas_map_view_of_file(a, s, VAS_FILE_MAP_WRITE, 0, size + 1, 0), 0); /* past the end, to the byte */
    CHECK_EQ(vas_last_error(), VAS_ERROR_ACCESS_DENIED);
    uint64_t va = map(a, s, VAS_FILE_MAP_WRITE, 0, 0);
    if (!va) {
        vas_machine_destroy(m);
        return;
    }
    CHECK_EQ(query(a, va).region_size, 6 * page);
    CHECK_EQ(vas_read(a, va + 5 * page, got, page, NULL), 0);
    CHECK(memcmp(got, model + 5 * page, 123) == 0);
    bool zero = true;
    for (uint64_t i = 123; i < page; i++)
        zero &= got[i] == 0;
    CHECK(zero);

    /* Writes over the end of the file and past it. */
    memset(bytes, 0x7E, sizeof bytes);
    put(a, va + 5 * page + 100, model + 5 * page + 100, bytes, 23); /* the file's last bytes */
    CHECK_EQ(vas_write(a, va + 5 * page + 123, bytes, 27, NULL), 0);
    CHECK_EQ(vas_write(a, va + 6 * page - 10, bytes, 10, NULL), 0);
    CHECK_EQ(vas_read(a, va + 6 * page - 10, got, 10, NULL), 0);
    CHECK(memcmp(got, bytes, 10) == 0); /* in memory, the page holds them */
    CHECK(vas_flush_view_of_file(a, va, 0));
    CHECK_EQ(host_size(path), size);
    CHECK(host_matches(path, 0, model, size, "the file after writes past its end"));
    CHECK(vas_unmap_view_of_file(a, va));
    CHECK(vas_close_section(s));
    CHECK_EQ(host_size(path), size);
    CHECK(host_matches(path, 0, model, size, "the file after the section went"));

    /* A section larger than the file grows a writable file; the new bytes read zero. */
    s = vas_create_file_mapping(m, path, VAS_PAGE_READWRITE, size + page + 5, NULL);
    CHECK(s != NULL);
    CHECK_EQ(host_size(path), size + page + 5);
    va = s ? map(a, s, VAS_FILE_MAP_READ, 0, 0) : 0;
    if (va) {
        CHECK(guest_matches(a, va, model, size, "the grown file's old bytes"));
        CHECK_EQ(vas_read(a, va + size, got, page + 5, NULL), 0);
        zero = true;
        for (uint64_t i = 0; i < page + 5; i++)
            zero &= got[i] == 0;
        CHECK(zero);
        CHECK(vas_unmap_view_of_file(a, va));
    }
    CHECK(s && vas_close_section(s));
    CHECK_EQ(host_size(path), size + page + 5);
    /* ... and a read-only one refuses. */
    vas_set_last_error(0);
    CHECK(vas_create_file_mapping(m, path, VAS_PAGE_READONLY, size + 4 * page, NULL) == NULL);
    CHECK_EQ(vas_last_error(), VAS_ERROR_NOT_ENOUGH_MEMORY);
    CHECK_EQ(vas_check(m), 0);
    vas_machine_destroy(m);
    free(model);
}

/* Two sections over one file are one set of pages, as on Windows (views of any mapping of the
   same file are coherent). */
static void test_same_file_two_sections(void)
{
    vas_machine *m = machine_new("x64", 8 * MiB, 16 * MiB);
    uint64_t page = page_of(m), size = 8 * page;
    vas_process *a = process_new(m), *b = process_new(m);
    uint8_t *model = malloc(size), bytes[100];
    pattern(model, size, 43, 0);
    char path[1024];
    tmp_path(path, sizeof path, "two-sections.bin");
    host_create(path, model, size);
    vas_section *sa = vas_create_file_mapping(m, path, VAS_PAGE_READWRITE, 0, NULL);
    vas_section *sb = vas_create_file_mapping(m, path, VAS_PAGE_READWRITE, 0, NULL);
    CHECK(sa && sb);
    uint64_t va = sa ? map(a, sa, VAS_FILE_MAP_WRITE, 0, 0) : 0, vb = sb ? map(b, sb, VAS_FILE_MAP_WRITE, 0, 0) : 0;
    if (va && vb) {
        CHECK(guest_matches(b, vb, model, size, "B's view first"));
        memset(bytes, 0x5C, sizeof bytes);
        put(a, va + 2 * page, model + 2 * page, bytes, sizeof bytes);
        CHECK(guest_matches(b, vb, model, size, "B's view of another section over the same file"));
        CHECK(vas_unmap_view_of_file(a, va));
        CHECK(vas_unmap_view_of_file(b, vb));
    }
    CHECK(sa && vas_close_section(sa));
    CHECK(sb && vas_close_section(sb));
    CHECK(host_matches(path, 0, model, size, "after both sections went"));
    CHECK_EQ(vas_check(m), 0);
    vas_machine_destroy(m);
    free(model);
}

/* ---- 4. Pressure ----------------------------------------------------------------------------------- */

/* A read-only file section many times larger than RAM, read completely several times: pages
   leave and come back from the file, never from the paging file. */
static void test_file_pressure_read(void)
{
    vas_machine *m = machine_new("x64", 1 * MiB, 16 * MiB);
    uint64_t page = page_of(m), size = (full_run ? 16 : 4) * MiB, pages = size / page, frames = physical(m).frame_count;
    int passes = full_run ? 4 : 3;
    vas_process *a = process_new(m), *b = process_new(m);
    uint8_t *model = malloc(size);
    rng r = {seed ^ 4};
    rng_fill(&r, model, size);
    char path[1024];
    tmp_path(path, sizeof path, "pressure-read.bin");
    host_create(path, model, size);
    vas_section *s = vas_create_file_mapping(m, path, VAS_PAGE_READONLY, 0, NULL);
    CHECK(s != NULL);
    uint64_t va = s ? map(a, s, VAS_FILE_MAP_READ, 0, 0) : 0, vb = s ? map(b, s, VAS_FILE_MAP_READ, 0, 0) : 0;
    vas_paging_status ps0 = paging(m);
    vas_process_counters ca0 = counters(a), cb0 = counters(b);
    uint8_t *buffer = malloc(16 * page);
    bool same = va && vb;
    for (int pass = 0; same && pass < passes; pass++) {
        for (uint64_t i = 0; same && i < pages; i += 16) {
            uint64_t at = pass % 2 ? (pages - 16 - i) * page : i * page; /* forward, then backward */
            vas_process *p = pass == 1 ? b : a;
            uint64_t base = pass == 1 ? vb : va;
            CHECK_EQ(vas_read(p, base + at, buffer, 16 * page, NULL), 0);
            same = memcmp(buffer, model + at, 16 * page) == 0;
        }
        CHECK(same);
    }
    vas_paging_status ps1 = paging(m);
    vas_process_counters ca = counters(a), cb = counters(b);
    uint64_t hard = ca.hard_faults - ca0.hard_faults + cb.hard_faults - cb0.hard_faults;
    CHECK(hard >= (uint64_t)passes * (pages - frames));
    CHECK(ps1.trimmed_pages > ps0.trimmed_pages);
    CHECK_EQ(ps1.reads, ps0.reads);                 /* nothing from the paging file */
    CHECK_EQ(ps1.pages_written, ps0.pages_written); /* nor to it */
    CHECK_EQ(ps1.pagefile_used, ps0.pagefile_used);
    CHECK_EQ(ca.in_page_errors + cb.in_page_errors, 0);
    if (va)
        CHECK(vas_unmap_view_of_file(a, va));
    if (vb)
        CHECK(vas_unmap_view_of_file(b, vb));
    CHECK(s && vas_close_section(s));
    CHECK(host_matches(path, 0, model, size, "a file only read"));
    CHECK_EQ(vas_check(m), 0);
    vas_machine_destroy(m);
    free(model);
    free(buffer);
}

/* A writable file section many times larger than RAM: the modified page writer writes its
   pages to the file as memory runs short, they come back from the file, and every byte
   written is in the file once the view goes. */
static void test_file_pressure_write(void)
{
    vas_machine *m = machine_new("x64", 1 * MiB, 16 * MiB);
    uint64_t page = page_of(m), size = (full_run ? 16 : 4) * MiB, pages = size / page, frames = physical(m).frame_count;
    vas_process *a = process_new(m), *b = process_new(m);
    uint8_t *model = calloc(1, size), *buffer = malloc(size);
    char path[1024];
    tmp_path(path, sizeof path, "pressure-write.bin");
    host_create(path, model, size);
    vas_section *s = vas_create_file_mapping(m, path, VAS_PAGE_READWRITE, 0, NULL);
    CHECK(s != NULL);
    uint64_t va = s ? map(a, s, VAS_FILE_MAP_WRITE, 0, 0) : 0, vb = s ? map(b, s, VAS_FILE_MAP_WRITE, 0, 0) : 0;
    if (!va || !vb) {
        vas_machine_destroy(m);
        free(model);
        free(buffer);
        return;
    }
    vas_paging_status ps0 = paging(m);

    /* Pass 1: every page, in order, four at a time through A. */
    for (uint64_t i = 0; i < pages; i += 4)
        put_pattern(a, va + i * page, model, i * page, 4 * page, 51);
    /* Memory held a quarter of them: the rest went to the file already. */
    host_read(path, 0, buffer, size);
    uint64_t on_disk = 0;
    for (uint64_t i = 0; i < pages; i++)
        on_disk += memcmp(buffer + i * page, model + i * page, page) == 0;
    CHECK(on_disk >= pages - frames);
    vas_process_counters cb0 = counters(b);
    CHECK(guest_matches(b, vb, model, size, "B's view after pass 1"));
    CHECK(counters(b).hard_faults - cb0.hard_faults >= pages - frames);

    /* Pass 2: scattered single pages and pieces of pages, through both processes. */
    rng r = {seed ^ 52};
    for (uint64_t k = 0; k < pages; k++) {
        uint64_t i = (k * 7919) % pages, from = rng_below(&r, page), n = 1 + rng_below(&r, page - from);
        put_pattern(k % 2 ? a : b, (k % 2 ? va : vb) + i * page + from, model, i * page + from, n, 53 + k);
    }
    CHECK(guest_matches(a, va, model, size, "A's view after pass 2"));
    CHECK(vas_unmap_view_of_file(a, va));
    CHECK(guest_matches(b, vb, model, size, "B's view after pass 2"));
    CHECK(vas_unmap_view_of_file(b, vb));
    CHECK(host_matches(path, 0, model, size, "every byte written, after the last view went"));
    CHECK(vas_close_section(s));
    CHECK_EQ(host_size(path), size);
    vas_paging_status ps1 = paging(m);
    CHECK_EQ(ps1.pages_written, ps0.pages_written); /* file pages never go to the paging file */
    CHECK_EQ(ps1.reads, ps0.reads);
    CHECK_EQ(ps1.pagefile_used, ps0.pagefile_used);
    CHECK_EQ(vas_check(m), 0);
    vas_machine_destroy(m);
    free(model);
    free(buffer);
}

/* A paging-file section larger than RAM pages through the paging file. */
static void test_shm_pressure(void)
{
    vas_machine *m = machine_new("x64", 1 * MiB, 32 * MiB);
    uint64_t page = page_of(m), size = (full_run ? 12 : 4) * MiB, pages = size / page, frames = physical(m).frame_count;
    vas_process *a = process_new(m), *b = process_new(m);
    vas_memory_status mem0 = memory(m);
    vas_paging_status ps0 = paging(m);
    vas_section *s = vas_create_file_mapping(m, NULL, VAS_PAGE_READWRITE, size, "Global\\vas-mapped-pressure");
    vas_section *sb = vas_open_file_mapping(m, VAS_FILE_MAP_WRITE, "Global\\vas-mapped-pressure");
    CHECK(s && sb);
    uint64_t va = s ? map(a, s, VAS_FILE_MAP_WRITE, 0, 0) : 0, vb = sb ? map(b, sb, VAS_FILE_MAP_WRITE, 0, 0) : 0;
    uint8_t *model = calloc(1, size);
    if (va && vb) {
        CHECK(guest_matches(b, vb, model, size, "a new paging-file section reads zero"));
        for (uint64_t i = 0; i < pages; i += 4)
            put_pattern(a, va + i * page, model, i * page, 4 * page, 61);
        vas_process_counters cb0 = counters(b);
        CHECK(guest_matches(b, vb, model, size, "B's view of A's writes"));
        CHECK(counters(b).hard_faults - cb0.hard_faults >= pages - frames);
        for (uint64_t k = 0; k < pages; k++)
            put_pattern(b, vb + (k * 7919) % pages * page + k % 100, model, (k * 7919) % pages * page + k % 100, 100, 62);
        CHECK(guest_matches(a, va, model, size, "A's view of B's writes"));
        vas_paging_status ps1 = paging(m);
        CHECK(ps1.pages_written - ps0.pages_written >= pages - frames);
        CHECK(ps1.reads > ps0.reads);
        CHECK(ps1.pagefile_used > ps0.pagefile_used);
        CHECK(vas_unmap_view_of_file(a, va));
        CHECK(vas_unmap_view_of_file(b, vb));
    }
    CHECK(s && vas_close_section(s));
    CHECK(sb && vas_close_section(sb));
    CHECK_EQ(paging(m).pagefile_used, ps0.pagefile_used);
    CHECK_EQ(memory(m).commit_total, mem0.commit_total);
    CHECK_EQ(vas_check(m), 0);
    vas_machine_destroy(m);
    free(model);
}

/* ---- 5. Soft faults --------------------------------------------------------------------------------- */

static void test_soft_faults(void)
{
    vas_machine *m = machine_new("x64", 8 * MiB, 16 * MiB);
    uint64_t page = page_of(m), size = 16 * page;
    vas_process *a = process_new(m), *b = process_new(m);
    uint8_t *model = malloc(size), byte, bytes[32];
    pattern(model, size, 71, 0);
    char path[1024];
    tmp_path(path, sizeof path, "soft.bin");
    host_create(path, model, size);
    vas_section *s = vas_create_file_mapping(m, path, VAS_PAGE_READWRITE, 0, NULL);
    CHECK(s != NULL);
    uint64_t va1 = s ? map(a, s, VAS_FILE_MAP_WRITE, 0, 0) : 0, va2 = s ? map(a, s, VAS_FILE_MAP_READ, 0, 0) : 0;
    uint64_t vb = s ? map(b, s, VAS_FILE_MAP_WRITE, 0, 0) : 0;
    if (!va1 || !va2 || !vb) {
        vas_machine_destroy(m);
        return;
    }
    /* Page tables for every view first, so that the frame counts below are the data's. */
    CHECK_EQ(vas_read(a, va1, &byte, 1, NULL), 0);
    CHECK_EQ(vas_read(a, va2, &byte, 1, NULL), 0);
    CHECK_EQ(vas_read(b, vb, &byte, 1, NULL), 0);

    /* The first touch reads the file: a hard fault and a frame. */
    vas_process_counters a0 = counters(a), b0 = counters(b);
    vas_paging_status ps0 = paging(m);
    uint64_t active0 = data_active(m);
    CHECK_EQ(vas_read(a, va1 + 2 * page + 5, &byte, 1, NULL), 0);
    CHECK_EQ(byte, model[2 * page + 5]);
    CHECK_EQ(counters(a).hard_faults, a0.hard_faults + 1);
    CHECK_EQ(data_active(m), active0 + 1);

    /* B maps it: a soft fault, no frame, no I/O. */
    CHECK_EQ(vas_read(b, vb + 2 * page + 6, &byte, 1, NULL), 0);
    CHECK_EQ(byte, model[2 * page + 6]);
    vas_process_counters b1 = counters(b);
    CHECK_EQ(b1.soft_faults, b0.soft_faults + 1);
    CHECK_EQ(b1.hard_faults, b0.hard_faults);
    CHECK_EQ(data_active(m), active0 + 1);
    uint64_t pa_a, pa_b;
    CHECK_EQ(vas_virtual_to_physical(a, va1 + 2 * page, &pa_a), VAS_STATUS_SUCCESS);
    CHECK_EQ(vas_virtual_to_physical(b, vb + 2 * page, &pa_b), VAS_STATUS_SUCCESS);
    CHECK_EQ(pa_a, pa_b); /* one frame behind both */

    /* A's second view of the same page: a soft fault too. */
    vas_process_counters a1 = counters(a);
    CHECK_EQ(vas_read(a, va2 + 2 * page, &byte, 1, NULL), 0);
    CHECK_EQ(counters(a).soft_faults, a1.soft_faults + 1);
    CHECK_EQ(counters(a).hard_faults, a1.hard_faults);
    CHECK_EQ(data_active(m), active0 + 1);

    /* B writes it: no copy, A sees the bytes at once. */
    memset(bytes, 0x9D, sizeof bytes);
    put(b, vb + 2 * page + 100, model + 2 * page + 100, bytes, sizeof bytes);
    CHECK(guest_matches(a, va2 + 2 * page, model + 2 * page, page, "A's other view of B's write"));
    CHECK_EQ(data_active(m), active0 + 1);

    /* Trimmed from every working set, the page waits on the modified list; the next touch, by
       either process, is a soft fault again, with no I/O. */
    CHECK(vas_empty_working_set(a));
    CHECK(vas_empty_working_set(b));
    CHECK_EQ(data_active(m), 0); /* the processes have no private pages */
    vas_process_counters b2 = counters(b);
    CHECK(guest_matches(b, vb + 2 * page, model + 2 * page, page, "B's view after trimming"));
    CHECK_EQ(counters(b).soft_faults, b2.soft_faults + 1);
    CHECK_EQ(counters(b).hard_faults, b2.hard_faults);
    CHECK_EQ(data_active(m), 1);
    vas_paging_status ps1 = paging(m);
    CHECK_EQ(ps1.reads, ps0.reads);
    CHECK_EQ(ps1.pages_written, ps0.pages_written);

    /* A paging-file section: a demand-zero page made by A is a soft fault for B. */
    vas_section *shm = vas_create_file_mapping(m, NULL, VAS_PAGE_READWRITE, size, NULL);
    CHECK(shm != NULL);
    uint64_t sa = shm ? map(a, shm, VAS_FILE_MAP_WRITE, 0, 0) : 0, sb = shm ? map(b, shm, VAS_FILE_MAP_WRITE, 0, 0) : 0;
    if (sa && sb) {
        CHECK_EQ(vas_read(a, sa, &byte, 1, NULL), 0);
        CHECK_EQ(vas_read(b, sb, &byte, 1, NULL), 0);
        vas_process_counters a3 = counters(a), b3 = counters(b);
        uint64_t active3 = data_active(m);
        CHECK_EQ(vas_write(a, sa + 5 * page, bytes, sizeof bytes, NULL), 0);
        CHECK_EQ(counters(a).demand_zero_faults, a3.demand_zero_faults + 1);
        CHECK_EQ(data_active(m), active3 + 1);
        uint8_t got[sizeof bytes];
        CHECK_EQ(vas_read(b, sb + 5 * page, got, sizeof got, NULL), 0);
        CHECK(memcmp(got, bytes, sizeof got) == 0);
        CHECK_EQ(counters(b).soft_faults, b3.soft_faults + 1);
        CHECK_EQ(counters(b).demand_zero_faults, b3.demand_zero_faults);
        CHECK_EQ(data_active(m), active3 + 1);
        CHECK(vas_unmap_view_of_file(a, sa));
        CHECK(vas_unmap_view_of_file(b, sb));
    }
    CHECK(shm && vas_close_section(shm));
    CHECK(vas_unmap_view_of_file(a, va1));
    CHECK(vas_unmap_view_of_file(a, va2));
    CHECK(vas_unmap_view_of_file(b, vb));
    CHECK(vas_close_section(s));
    CHECK(host_matches(path, 0, model, size, "the soft-fault file"));
    CHECK_EQ(vas_check(m), 0);
    vas_machine_destroy(m);
    free(model);
}

/* ---- 6. Failures ----------------------------------------------------------------------------------- */

/* The file shrinks under the mapping: a page past its new end is STATUS_IN_PAGE_ERROR, for
   reads and writes, at the exact address; the pages still in the file read well; when the
   file grows back the page can be read again. */
static void test_file_shrinks(void)
{
    vas_machine *m = machine_new("x64", 1 * MiB, 16 * MiB);
    uint64_t page = page_of(m), size = 8 * page;
    vas_process *a = process_new(m);
    uint8_t *model = malloc(size), got[64], bytes[64];
    pattern(model, size, 81, 0);
    char path[1024];
    tmp_path(path, sizeof path, "shrinks.bin");
    host_create(path, model, size);
    vas_section *s = vas_create_file_mapping(m, path, VAS_PAGE_READWRITE, 0, NULL);
    CHECK(s != NULL);
    uint64_t va = s ? map(a, s, VAS_FILE_MAP_WRITE, 0, 0) : 0;
    if (!va) {
        vas_machine_destroy(m);
        return;
    }
    CHECK(guest_matches(a, va, model, page, "page 0 before the file shrinks"));
    CHECK(guest_matches(a, va + 6 * page, model + 6 * page, page, "page 6 before the file shrinks"));
    CHECK_EQ(truncate(path, (off_t)(2 * page)), 0);
    vas_process_counters c0 = counters(a);

    vas_exception e;
    memset(got, 0xEE, sizeof got);
    CHECK_EQ(vas_read(a, va + 5 * page + 7, got, 10, &e), VAS_STATUS_IN_PAGE_ERROR);
    CHECK_EQ(e.code, VAS_STATUS_IN_PAGE_ERROR);
    CHECK_EQ(e.access, VAS_EXCEPTION_READ_FAULT);
    CHECK_EQ(e.address, va + 5 * page + 7);
    CHECK_EQ(got[0], 0xEE); /* a failed read fills nothing */
    memset(bytes, 0x3C, sizeof bytes);
    CHECK_EQ(vas_write(a, va + 7 * page + 1, bytes, 4, &e), VAS_STATUS_IN_PAGE_ERROR);
    CHECK_EQ(e.access, VAS_EXCEPTION_WRITE_FAULT);
    CHECK_EQ(e.address, va + 7 * page + 1);
    /* A read from a page in the file into one past its end moves nothing. */
    CHECK_EQ(vas_read(a, va + 2 * page - 4, got, 8, &e), VAS_STATUS_IN_PAGE_ERROR);
    CHECK_EQ(e.address, va + 2 * page);
    CHECK_EQ(got[0], 0xEE);
    size_t n = 99;
    CHECK_FAILS(vas_read_process_memory(a, va + 7 * page, got, 8, &n), VAS_ERROR_PARTIAL_COPY);
    CHECK_EQ(n, 0);
    CHECK(counters(a).in_page_errors >= c0.in_page_errors + 3);
    CHECK(guest_matches(a, va, model, 2 * page, "the pages still in the file"));
    /* Page 6 was in memory; once its frame is reused, it cannot come back. */
    vas_process *only_a[] = {a};
    push_out(m, only_a, 1);
    CHECK_EQ(vas_read(a, va + 6 * page + 1, got, 4, &e), VAS_STATUS_IN_PAGE_ERROR);
    CHECK_EQ(e.address, va + 6 * page + 1);
    CHECK(guest_matches(a, va, model, 2 * page, "the pages still in the file, read again"));

    /* The file grows back: the pages can be read again. */
    host_create(path, model, size);
    CHECK(guest_matches(a, va, model, size, "the whole view once the file is whole again"));
    CHECK(vas_unmap_view_of_file(a, va));
    CHECK(vas_close_section(s));
    CHECK_EQ(vas_check(m), 0);
    vas_machine_destroy(m);
    free(model);
}

/* A backing store whose reads fail: STATUS_IN_PAGE_ERROR, nothing moved, then the same access
   succeeds once it heals. */
static void test_store_read_fails(void)
{
    vas_machine *m = machine_new("x64", 4 * MiB, 16 * MiB);
    uint64_t page = page_of(m), size = 8 * page;
    vas_process *a = process_new(m), *b = process_new(m);
    fake_file *f = fake_new(size, 91);
    uint8_t *model = malloc(size), got[64];
    memcpy(model, f->bytes, size);
    vas_section *s = vas_create_file_mapping_ops(m, &fake_ops, f, size, VAS_PAGE_READWRITE, 0, NULL);
    CHECK(s != NULL);
    uint64_t va = s ? map(a, s, VAS_FILE_MAP_WRITE, 0, 0) : 0, vb = s ? map(b, s, VAS_FILE_MAP_READ, 0, 0) : 0;
    if (!va || !vb) {
        vas_machine_destroy(m);
        fake_free(f);
        return;
    }
    f->fail_reads = true;
    vas_exception e;
    memset(got, 0xEE, sizeof got);
    CHECK_EQ(vas_read(a, va + 3 * page + 5, got, 10, &e), VAS_STATUS_IN_PAGE_ERROR);
    CHECK_EQ(e.code, VAS_STATUS_IN_PAGE_ERROR);
    CHECK_EQ(e.access, VAS_EXCEPTION_READ_FAULT);
    CHECK_EQ(e.address, va + 3 * page + 5);
    CHECK_EQ(got[0], 0xEE);
    CHECK_EQ(vas_write(a, va + 4 * page, got, 10, &e), VAS_STATUS_IN_PAGE_ERROR);
    CHECK_EQ(e.access, VAS_EXCEPTION_WRITE_FAULT);
    CHECK_EQ(vas_read(b, vb + 3 * page, got, 1, &e), VAS_STATUS_IN_PAGE_ERROR);
    CHECK(f->read_failures >= 3);
    CHECK_EQ(counters(a).in_page_errors, 2);
    CHECK_EQ(vas_check(m), 0);

    /* Healed for one page, then failing again: a read across both moves nothing. */
    f->fail_reads = false;
    CHECK(guest_matches(a, va + page, model + page, page, "page 1 once the store heals"));
    f->fail_reads = true;
    CHECK(guest_matches(b, vb + page, model + page, page, "page 1 through B: resident, no read"));
    memset(got, 0xEE, sizeof got);
    CHECK_EQ(vas_read(a, va + 2 * page - 8, got, 16, &e), VAS_STATUS_IN_PAGE_ERROR);
    CHECK_EQ(e.address, va + 2 * page);
    CHECK_EQ(got[0], 0xEE);

    /* Healed: everything reads, the writes that failed can be made. */
    f->fail_reads = false;
    CHECK(guest_matches(a, va, model, size, "A's view once the store heals"));
    CHECK(guest_matches(b, vb, model, size, "B's view once the store heals"));
    put_pattern(a, va + 4 * page, model, 4 * page, 10, 92);
    CHECK(vas_unmap_view_of_file(a, va));
    CHECK(vas_unmap_view_of_file(b, vb));
    CHECK(memcmp(f->bytes, model, size) == 0);
    CHECK(vas_close_section(s));
    CHECK_EQ(f->closed, 1);
    CHECK_EQ(f->out_of_range, 0);
    CHECK_EQ(vas_check(m), 0);
    vas_machine_destroy(m);
    fake_free(f);
    free(model);
}

/* A backing store whose writes fail: the flush fails, nothing is lost, and the data reaches
   the store once it heals (by a flush, or by the modified page writer after the last view). */
static void test_store_write_fails(void)
{
    vas_machine *m = machine_new("x64", 4 * MiB, 16 * MiB);
    uint64_t page = page_of(m), size = 8 * page + 100;
    vas_process *a = process_new(m), *b = process_new(m);
    fake_file *f = fake_new(size, 93);
    uint8_t *model = malloc(size), *before = malloc(size);
    memcpy(model, f->bytes, size);
    vas_section *s = vas_create_file_mapping_ops(m, &fake_ops, f, size, VAS_PAGE_READWRITE, 0, NULL);
    CHECK(s != NULL);
    uint64_t va = s ? map(a, s, VAS_FILE_MAP_WRITE, 0, 0) : 0, vb = s ? map(b, s, VAS_FILE_MAP_READ, 0, 0) : 0;
    if (!va || !vb) {
        vas_machine_destroy(m);
        fake_free(f);
        return;
    }
    vas_paging_status ps0 = paging(m);
    for (uint64_t i = 0; i < 8; i += 2)
        put_pattern(a, va + i * page + 3 * i, model, i * page + 3 * i, 200, 94);
    put_pattern(a, va + 8 * page, model, 8 * page, 100, 95); /* the partial last page */
    f->fail_writes = true;
    memcpy(before, f->bytes, size);
    CHECK_EQ(vas_flush_view_of_file(a, va, 0), 0);
    CHECK(f->write_failures >= 1);
    CHECK(guest_matches(a, va, model, size, "A's view after a failed flush"));
    CHECK(guest_matches(b, vb, model, size, "B's view after a failed flush"));

    /* Trimmed, the pages wait on the modified list: the writer fails, and keeps them. */
    CHECK(vas_empty_working_set(a));
    CHECK(vas_empty_working_set(b));
    vas_write_modified_pages(m);
    CHECK(physical(m).modified >= 5);
    CHECK(guest_matches(b, vb, model, size, "B's view after failed writes of trimmed pages"));
    CHECK(memcmp(f->bytes, before, size) == 0);
    CHECK_EQ(vas_check(m), 0);

    /* Healed: the flush writes them all. */
    f->fail_writes = false;
    CHECK(vas_flush_view_of_file(a, va, 0));
    CHECK(memcmp(f->bytes, model, size) == 0);

    /* Failing again, and the last view goes: the pages stay modified until the store heals,
       then the modified page writer puts them in it. */
    put_pattern(a, va + 3 * page, model, 3 * page, 500, 96);
    put_pattern(a, va + 8 * page + 50, model, 8 * page + 50, 50, 97);
    f->fail_writes = true;
    memcpy(before, f->bytes, size);
    CHECK(vas_unmap_view_of_file(a, va));
    CHECK(vas_unmap_view_of_file(b, vb));
    vas_write_modified_pages(m);
    CHECK(memcmp(f->bytes, before, size) == 0);
    CHECK(physical(m).modified >= 2);
    f->fail_writes = false;
    vas_write_modified_pages(m);
    CHECK(memcmp(f->bytes, model, size) == 0);
    CHECK_EQ(physical(m).modified, 0);
    /* A new view reads what was written. */
    va = map(a, s, VAS_FILE_MAP_READ, 0, 0);
    if (va) {
        CHECK(guest_matches(a, va, model, size, "a new view after the store healed"));
        CHECK(vas_unmap_view_of_file(a, va));
    }
    CHECK(vas_close_section(s));
    CHECK_EQ(f->closed, 1);
    CHECK_EQ(f->out_of_range, 0);
    CHECK_EQ(paging(m).pages_written, ps0.pages_written); /* never the paging file */
    CHECK_EQ(vas_check(m), 0);
    vas_machine_destroy(m);
    fake_free(f);
    free(model);
    free(before);
}

/* ---- 7. Processes and machines that go with views mapped ------------------------------------------- */

static void test_process_destroy_with_views(void)
{
    vas_machine *m = machine_new("x64", 2 * MiB, 16 * MiB);
    uint64_t page = page_of(m), size = 4 * GRAN;
    vas_process *a = process_new(m), *b = process_new(m);
    vas_memory_status mem0 = memory(m);
    vas_paging_status ps0 = paging(m);
    const char *name = "Local\\vas-mapped-destroy";
    vas_section *shm = vas_create_file_mapping(m, NULL, VAS_PAGE_READWRITE, size, name);
    vas_section *shm_b = vas_open_file_mapping(m, VAS_FILE_MAP_WRITE, name);
    uint8_t *shm_model = calloc(1, size), *file_model = malloc(size), byte;
    pattern(file_model, size, 101, 0);
    char path[1024];
    tmp_path(path, sizeof path, "destroy.bin");
    host_create(path, file_model, size);
    vas_section *file = vas_create_file_mapping(m, path, VAS_PAGE_READWRITE, 0, NULL);
    CHECK(shm && shm_b && file);
    if (!shm || !shm_b || !file) {
        vas_machine_destroy(m);
        return;
    }
    uint64_t a1 = map(a, shm, VAS_FILE_MAP_WRITE, 0, 0), a2 = map(a, shm, VAS_FILE_MAP_READ, GRAN, 0);
    uint64_t a3 = map(a, file, VAS_FILE_MAP_WRITE, 0, 0), a4 = map(a, file, VAS_FILE_MAP_COPY, 0, 0);
    uint64_t b1 = map(b, shm_b, VAS_FILE_MAP_WRITE, 0, 0), b2 = map(b, file, VAS_FILE_MAP_WRITE, 0, 0);
    CHECK(a1 && a2 && a3 && a4 && b1 && b2);
    uint8_t *copy_model = malloc(size);
    for (uint64_t i = 0; i < size / page; i += 3) {
        put_pattern(a, a1 + i * page, shm_model, i * page, 64, 102);
        put_pattern(a, a3 + i * page + 64, file_model, i * page + 64, 64, 103);
    }
    memcpy(copy_model, file_model, size); /* the copy view sees the file until it copies */
    put_pattern(a, a4 + 2 * page, copy_model, 2 * page, page, 104); /* a private copy */
    CHECK(guest_matches(a, a2, shm_model + GRAN, size - GRAN, "A's second view"));
    CHECK(guest_matches(a, a4, copy_model, size, "A's copy view"));
    CHECK_EQ(memory(m).commit_total, mem0.commit_total + 2 * size); /* the paging-file section and the copy view */

    /* A goes with four views mapped (some of their pages, A's copy among them, in the paging
       file): its views go, B still sees everything. */
    vas_process *both[] = {a, b};
    push_out(m, both, 2);
    CHECK(paging(m).pagefile_used > ps0.pagefile_used);
    vas_process_destroy(a);
    CHECK_EQ(vas_check(m), 0);
    CHECK_EQ(memory(m).commit_total, mem0.commit_total + size);
    CHECK(guest_matches(b, b1, shm_model, size, "B's view of the paging-file section after A went"));
    CHECK(guest_matches(b, b2, file_model, size, "B's view of the file after A went"));

    /* The handles go, B's views stay: the name is gone, the sections live on. */
    CHECK(vas_close_section(shm));
    CHECK(vas_close_section(shm_b));
    CHECK(vas_close_section(file));
    vas_set_last_error(0);
    CHECK(vas_open_file_mapping(m, VAS_FILE_MAP_READ, name) == NULL);
    CHECK_EQ(vas_last_error(), VAS_ERROR_FILE_NOT_FOUND);
    vas_section *again = vas_create_file_mapping(m, NULL, VAS_PAGE_READWRITE, page, name);
    CHECK(again != NULL);
    CHECK_EQ(vas_last_error(), VAS_ERROR_SUCCESS); /* a new section, not the old one */
    if (again) {
        uint64_t v = map(b, again, VAS_FILE_MAP_READ, 0, 0);
        CHECK(v != 0);
        CHECK(v && vas_read(b, v + 7, &byte, 1, NULL) == 0 && byte == 0);
        CHECK(v && vas_unmap_view_of_file(b, v));
        CHECK(vas_close_section(again));
    }
    put_pattern(b, b1 + 5, shm_model, 5, 3 * page, 105);
    put_pattern(b, b2 + page + 5, file_model, page + 5, 3 * page, 106);
    CHECK(guest_matches(b, b1, shm_model, size, "B's view of the paging-file section without a handle"));
    CHECK(guest_matches(b, b2, file_model, size, "B's view of the file without a handle"));
    CHECK_EQ(memory(m).commit_total, mem0.commit_total + size);

    /* B goes: the last views, so the sections go, the file has every byte written. */
    vas_process_destroy(b);
    CHECK(host_matches(path, 0, file_model, size, "after the last process with a view went"));
    CHECK_EQ(memory(m).commit_total, mem0.commit_total);
    CHECK_EQ(paging(m).pagefile_used, ps0.pagefile_used);
    CHECK_EQ(physical(m).active, physical(m).page_table_frames); /* no data frame is left */
    CHECK_EQ(vas_check(m), 0);
    vas_machine_destroy(m);
    free(shm_model);
    free(file_model);
    free(copy_model);
}

/* The machine goes with sections, handles and views of every kind live, some of their pages
   in the paging file: nothing leaks (ASan), the stores are closed once, and the modified pages
   of the files are written. */
static void test_machine_destroy_with_views(void)
{
    static const char *const layouts[] = {"x64", "x86", "ia64"};
    for (int l = 0; l < 3; l++) {
        vas_machine *m = machine_new(layouts[l], 1 * MiB, 16 * MiB);
        uint64_t page = page_of(m), size = 32 * GRAN;
        vas_process *a = process_new(m), *b = process_new(m);
        fake_file *f = fake_new(size, 111);
        uint8_t *store_model = malloc(size), *file_model = malloc(size);
        memcpy(store_model, f->bytes, size);
        pattern(file_model, size, 112, 0);
        char path[1024], name[64];
        snprintf(name, sizeof name, "machine-destroy-%s.bin", layouts[l]);
        tmp_path(path, sizeof path, name);
        host_create(path, file_model, size);
        vas_section *shm = vas_create_file_mapping(m, NULL, VAS_PAGE_READWRITE, size, "vas-mapped-machine");
        vas_section *shm2 = vas_open_file_mapping(m, VAS_FILE_MAP_ALL_ACCESS, "vas-mapped-machine");
        vas_section *file = vas_create_file_mapping(m, path, VAS_PAGE_READWRITE, 0, NULL);
        vas_section *ops = vas_create_file_mapping_ops(m, &fake_ops, f, size, VAS_PAGE_READWRITE, 0, NULL);
        vas_section *reserve = vas_create_file_mapping(m, NULL, VAS_PAGE_READWRITE | VAS_SEC_RESERVE, size, NULL);
        fake_file *broken = fake_new(4 * GRAN, 116); /* its writes fail: its modified pages are lost */
        vas_section *stuck = vas_create_file_mapping_ops(m, &fake_ops, broken, 4 * GRAN, VAS_PAGE_READWRITE, 0, NULL);
        uint64_t stuck_view = stuck ? map(a, stuck, VAS_FILE_MAP_WRITE, 0, 0) : 0;
        if (stuck_view) {
            broken->fail_writes = true;
            CHECK_EQ(vas_write(a, stuck_view + 5, "lost", 4, NULL), 0);
            CHECK_EQ(vas_write(a, stuck_view + 3 * GRAN, "lost", 4, NULL), 0);
            CHECK_EQ(vas_flush_view_of_file(a, stuck_view, 0), 0);
            CHECK(vas_close_section(stuck)); /* the view keeps it */
        }
        CHECK(shm && shm2 && file && ops && reserve && stuck);
        uint64_t views[8] = {0};
        if (shm && shm2 && file && ops && reserve) {
            views[0] = map(a, shm, VAS_FILE_MAP_WRITE, 0, 0);
            views[1] = map(b, shm2, VAS_FILE_MAP_WRITE, GRAN, 0);
            views[2] = map(a, file, VAS_FILE_MAP_WRITE, 0, 0);
            views[3] = map(b, file, VAS_FILE_MAP_COPY, 0, 0);
            views[4] = map(a, ops, VAS_FILE_MAP_WRITE, 0, 0);
            views[5] = map(b, ops, VAS_FILE_MAP_COPY, 0, 0);
            views[6] = map(b, reserve, VAS_FILE_MAP_WRITE, 0, 0);
            views[7] = map(a, file, VAS_FILE_MAP_READ, 2 * GRAN, GRAN);
            if (views[6])
                CHECK(vas_virtual_alloc(b, views[6] + GRAN, 2 * GRAN, VAS_MEM_COMMIT, VAS_PAGE_READWRITE) != 0);
            uint8_t *junk = malloc(size);
            pattern(junk, size, 113, 0);
            for (uint64_t i = 0; i < size / page; i++) {
                if (views[0])
                    CHECK_EQ(vas_write(a, views[0] + i * page, junk, 16, NULL), 0);
                if (views[2])
                    put_pattern(a, views[2] + i * page + 8, file_model, i * page + 8, 16, 114);
                if (views[3] && i % 2)
                    CHECK_EQ(vas_write(b, views[3] + i * page, junk, 16, NULL), 0);
                if (views[4] && i % 3 == 0)
                    put_pattern(a, views[4] + i * page + 4, store_model, i * page + 4, 16, 115);
                if (views[5] && i % 5 == 0)
                    CHECK_EQ(vas_write(b, views[5] + i * page, junk, 16, NULL), 0);
            }
            if (views[6])
                CHECK_EQ(vas_write(b, views[6] + GRAN, junk, 2 * GRAN, NULL), 0);
            free(junk);
            CHECK(paging(m).pages_written > 0); /* memory was short: some pages are in the paging file */
        }
        CHECK_EQ(vas_check(m), 0);
        vas_machine_destroy(m);
        CHECK_EQ(f->closed, 1);
        CHECK_EQ(f->out_of_range, 0);
        CHECK(memcmp(f->bytes, store_model, size) == 0);
        CHECK_EQ(broken->closed, 1);
        CHECK_EQ(broken->out_of_range, 0);
        fake_free(broken);
        CHECK(host_matches(path, 0, file_model, size, "a file mapped when its machine went"));
        fake_free(f);
        free(store_model);
        free(file_model);
    }
}

/* GetMappedFileName: the path of a file view (truncated to the buffer), ERROR_FILE_INVALID for
   a view of a paging-file section, ERROR_INVALID_ADDRESS where no view is. */
static void test_mapped_file_name(void)
{
    vas_machine *m = machine_new("x64", 8 * MiB, 16 * MiB);
    vas_process *a = process_new(m);
    uint64_t page = page_of(m);
    uint8_t bytes[64] = {1};
    char path[1024], name[1024];
    tmp_path(path, sizeof path, "named.bin");
    host_create(path, bytes, sizeof bytes);
    vas_section *file = vas_create_file_mapping(m, path, VAS_PAGE_READONLY, 0, NULL);
    vas_section *shm = vas_create_file_mapping(m, NULL, VAS_PAGE_READWRITE, page, NULL);
    CHECK(file && shm);
    uint64_t vf = file ? map(a, file, VAS_FILE_MAP_READ, 0, 0) : 0, vs = shm ? map(a, shm, VAS_FILE_MAP_WRITE, 0, 0) : 0;
    CHECK_EQ(vas_get_mapped_file_name(a, vf + 10, name, sizeof name), strlen(path));
    CHECK(strcmp(name, path) == 0);
    CHECK_EQ(vas_get_mapped_file_name(a, vf, name, 5), 4);
    CHECK(strncmp(name, path, 4) == 0 && name[4] == 0);
    vas_set_last_error(0);
    CHECK_EQ(vas_get_mapped_file_name(a, vs, name, sizeof name), 0);
    CHECK_EQ(vas_last_error(), VAS_ERROR_FILE_INVALID);
    uint64_t private_memory = vas_virtual_alloc(a, 0, page, VAS_MEM_COMMIT | VAS_MEM_RESERVE, VAS_PAGE_READWRITE);
    CHECK_EQ(vas_get_mapped_file_name(a, private_memory, name, sizeof name), 0);
    CHECK_EQ(vas_last_error(), VAS_ERROR_INVALID_ADDRESS);
    CHECK_EQ(vas_get_mapped_file_name(a, 0xFFFFFFFFFFFF0000ull, name, sizeof name), 0);
    CHECK_EQ(vas_last_error(), VAS_ERROR_INVALID_ADDRESS);
    CHECK_EQ(vas_get_mapped_file_name(a, vf, NULL, 0), 0);
    CHECK_EQ(vas_last_error(), VAS_ERROR_INVALID_PARAMETER);
    CHECK(vas_close_section(file));
    CHECK(vas_close_section(shm));
    CHECK_EQ(vas_check(m), 0);
    vas_machine_destroy(m);
}

static const check_test tests[] = {
    TEST(test_mapped_file_name),
    TEST(test_shared_model_x64),
    TEST(test_shared_model_x64_small_ram),
    TEST(test_shared_model_x86_small_ram),
    TEST(test_shared_model_ia64_small_ram),
    TEST(test_shared_model_ia64),
    TEST(test_shared_model_x86_lru),
    TEST(test_copy_on_write_isolation),
    TEST(test_copy_on_write_section),
    TEST(test_file_contents),
    TEST(test_file_tail),
    TEST(test_same_file_two_sections),
    TEST(test_file_pressure_read),
    TEST(test_file_pressure_write),
    TEST(test_shm_pressure),
    TEST(test_soft_faults),
    TEST(test_file_shrinks),
    TEST(test_store_read_fails),
    TEST(test_store_write_fails),
    TEST(test_process_destroy_with_views),
    TEST(test_machine_destroy_with_views),
};

int main(int argc, char **argv)
{
    while (argc > 1) {
        if (strcmp(argv[1], "small") == 0 || strcmp(argv[1], "full") == 0)
            full_run = strcmp(argv[1], "full") == 0;
        else if (strncmp(argv[1], "seed=", 5) == 0)
            seed = strtoull(argv[1] + 5, NULL, 0);
        else
            break;
        argv[1] = argv[0];
        argv++;
        argc--;
    }
    int result = check_run(tests, sizeof tests / sizeof tests[0], argc, argv);
    tmp_cleanup();
    return result;
}
