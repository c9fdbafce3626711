/*
 * test_section.c - sections and views: the Windows facts of groups I (CreateFileMapping),
 * J (MapViewOfFile, UnmapViewOfFile, commit through views), K (protection compatibility and
 * copy-on-write) and N (Read/WriteProcessMemory) of ../shared/spec/windows-behavior.md, fact 59
 * (MEM_RESET on views), and the finer detail Wine's conformance tests assert about sections
 * (kernel32 test_mapping, test_MapViewOfFile, test_CreateFileMapping(_protection),
 * test_shared_memory(_ro), test_VirtualAllocEx, test_ReadProcessMemory; ntdll
 * test_NtMapViewOfSection, test_query_region_information): the whole table of view
 * protections by desired access and section protection, the VirtualProtect and MEM_COMMIT
 * tables on views, handle rights, sizes, names, and the commit that sections and
 * copy-on-write views charge. Black-box: vas.h only.
 *
 * Windows objects vas has no handle for are mapped onto its API:
 *   - a file handle: vas_create_file_mapping opens the host file itself, for writing only when
 *     the protection may write; a read-only host file stands for a GENERIC_READ handle;
 *   - a duplicated handle with fewer rights: vas_open_file_mapping(desired_access) on a name;
 *   - another process: another vas_process of the same machine (sections and their names are
 *     machine-wide, like the object manager's namespace);
 *   - the caller's buffer of Read/WriteProcessMemory is host memory, which is always
 *     accessible, so Wine's cases of a partly inaccessible local buffer do not apply.
 * NT-only internals with no vas equivalent are skipped where they come up, with the reason.
 * Skipped outright: NtQuerySection's buffer lengths and SectionImageInformation (vas has one
 * fixed record); NtAreMappedFilesTheSame; NtCreateSection's OBJ_OPENIF status; image sections
 * of real PE files (SEC_IMAGE views, their protections; vas has no loader); AT_ROUND_TO_PAGE
 * views and MapViewOfFile3 / placeholders (no such vas calls); NtMapViewOfSection's own
 * protection argument (vas maps through MapViewOfFile's desired access only).
 *
 * Every failing call is also checked to change nothing a caller can observe (facts.h).
 * Temporary files live in a mkdtemp directory under $TMPDIR (or /tmp), removed at exit.
 */
#include "facts.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- Shorthands ------------------------------------------------------------------------------ */

#define NA  VAS_PAGE_NOACCESS
#define RO  VAS_PAGE_READONLY
#define RW  VAS_PAGE_READWRITE
#define WC  VAS_PAGE_WRITECOPY
#define EX  VAS_PAGE_EXECUTE
#define ER  VAS_PAGE_EXECUTE_READ
#define ERW VAS_PAGE_EXECUTE_READWRITE
#define EWC VAS_PAGE_EXECUTE_WRITECOPY
#define DENIED 0u

#define M_COPY  VAS_FILE_MAP_COPY
#define M_WRITE VAS_FILE_MAP_WRITE
#define M_READ  VAS_FILE_MAP_READ
#define M_SME   VAS_SECTION_MAP_EXECUTE
#define M_EXEC  VAS_FILE_MAP_EXECUTE

#define COMMIT   VAS_MEM_COMMIT
#define RESERVE  VAS_MEM_RESERVE
#define MAPPED   VAS_MEM_MAPPED
#define PRIVATE  VAS_MEM_PRIVATE

#define KERNEL_ADDRESS 0xFFFF800000000000ull

#define PTR(x) ((uintptr_t)(x))

/* Wine's order of the eight protections, and the six a section may have (the table's columns). */
static const uint32_t all_eight[8] = {NA, RO, RW, WC, EX, ER, ERW, EWC};
static const uint32_t six_sections[6] = {RO, WC, RW, ER, EWC, ERW};

/* Fact 103: the access classes behind every compatibility rule. */
enum { CLASS_R = 1, CLASS_W = 2, CLASS_X = 4 };

static unsigned access_class(uint32_t protect)
{
    switch (protect & 0xFFu) {
    case RO: case WC: return CLASS_R;
    case RW: return CLASS_R | CLASS_W;
    case EX: case ER: case EWC: return CLASS_R | CLASS_X;
    case ERW: return CLASS_R | CLASS_W | CLASS_X;
    default: return 0;
    }
}

static int within(uint32_t protect, uint32_t limit) { return !(access_class(protect) & ~access_class(limit)); }

static int single_protection(uint32_t p) { return p && p <= 0xFF && !(p & (p - 1)); }

static int valid_section_protection(uint32_t p)
{
    return p == RO || p == RW || p == WC || p == ER || p == ERW || p == EWC;
}

/* ---- Temporary files --------------------------------------------------------------------------- */

static char tmp_dir_[512];

static void tmp_remove_all(void)
{
    DIR *d = opendir(tmp_dir_);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char path[1024];
            if (snprintf(path, sizeof path, "%s/%s", tmp_dir_, e->d_name) >= (int)sizeof path)
                continue;
            if (unlink(path) != 0)
                rmdir(path);
        }
        closedir(d);
    }
    rmdir(tmp_dir_);
}

typedef struct tmp_path {
    char s[1024];
} tmp_path;

static tmp_path tmp_name(const char *name)
{
    if (!tmp_dir_[0]) {
        const char *dir = getenv("TMPDIR");
        if (snprintf(tmp_dir_, sizeof tmp_dir_, "%s/vas-test-section-XXXXXX", dir && *dir ? dir : "/tmp") >=
                (int)sizeof tmp_dir_ ||
            !mkdtemp(tmp_dir_)) {
            perror("test_section: mkdtemp");
            exit(2);
        }
        atexit(tmp_remove_all);
    }
    tmp_path t;
    if (snprintf(t.s, sizeof t.s, "%s/%s", tmp_dir_, name) >= (int)sizeof t.s) {
        fprintf(stderr, "test_section: temporary path too long\n");
        exit(2);
    }
    return t;
}

/* The bytes of every test file: a pattern that differs from page to page. */
static uint8_t pattern(uint64_t i) { return (uint8_t)(0x5Au ^ (i * 13u) ^ (i >> 9)); }

static tmp_path make_file(const char *name, uint64_t size)
{
    tmp_path t = tmp_name(name);
    int fd = open(t.s, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
    if (fd < 0) {
        perror(t.s);
        exit(2);
    }
    uint8_t buffer[4096];
    for (uint64_t done = 0; done < size;) {
        size_t n = size - done < sizeof buffer ? (size_t)(size - done) : sizeof buffer;
        for (size_t i = 0; i < n; i++)
            buffer[i] = pattern(done + i);
        if (write(fd, buffer, n) != (ssize_t)n) {
            perror(t.s);
            exit(2);
        }
        done += n;
    }
    close(fd);
    return t;
}

static uint64_t host_size(const tmp_path *t)
{
    struct stat st;
    return stat(t->s, &st) == 0 ? (uint64_t)st.st_size : UINT64_MAX;
}

static uint32_t host_read32(const tmp_path *t, uint64_t offset)
{
    uint32_t value = 0xDEADBEEF;
    int fd = open(t->s, O_RDONLY | O_CLOEXEC);
    CHECK(fd >= 0);
    if (fd >= 0) {
        CHECK_EQ(pread(fd, &value, sizeof value, (off_t)offset), sizeof value);
        close(fd);
    }
    return value;
}

static uint32_t pattern32(uint64_t offset)
{
    uint8_t b[4] = {pattern(offset), pattern(offset + 1), pattern(offset + 2), pattern(offset + 3)};
    uint32_t v;
    memcpy(&v, b, sizeof v);
    return v;
}

/* Whether the host file still holds exactly the pattern, size bytes of it. */
static int host_holds_pattern(const tmp_path *t, uint64_t size)
{
    int fd = open(t->s, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    int same = host_size(t) == size;
    uint8_t buffer[4096];
    for (uint64_t done = 0; same && done < size;) {
        size_t n = size - done < sizeof buffer ? (size_t)(size - done) : sizeof buffer;
        same = pread(fd, buffer, n, (off_t)done) == (ssize_t)n;
        for (size_t i = 0; same && i < n; i++)
            same = buffer[i] == pattern(done + i);
        done += n;
    }
    close(fd);
    return same;
}

static int can_open(const char *path, int flags)
{
    int fd = open(path, flags | O_CLOEXEC);
    if (fd >= 0)
        close(fd);
    return fd >= 0;
}

/* ---- Calls that must succeed --------------------------------------------------------------------- */

/* CreateFileMapping (path NULL: the paging file); GetLastError must be 0 for a new section. */
static vas_section *create_(vas_machine *m, const char *path, uint32_t protect, uint64_t size, const char *name,
                            const char *file, int line)
{
    vas_set_last_error(0xDEADBEEFu);
    vas_section *h = vas_create_file_mapping(m, path, protect, size, name);
    if (!h) {
        fprintf(stderr, "%s:%d: CreateFileMapping(%s, 0x%x, 0x%" PRIx64 ") failed with error %u\n", file, line,
                path ? path : "paging file", protect, size, vas_last_error());
        check_failures_in_test++;
    }
    return h;
}
#define create_ok(m, path, protect, size, name) create_((m), (path), (protect), (size), (name), __FILE__, __LINE__)

static vas_section *open_(vas_machine *m, uint32_t access, const char *name, const char *file, int line)
{
    vas_section *h = vas_open_file_mapping(m, access, name);
    if (!h) {
        fprintf(stderr, "%s:%d: OpenFileMapping(0x%x, %s) failed with error %u\n", file, line, access, name,
                vas_last_error());
        check_failures_in_test++;
    }
    return h;
}
#define open_ok(m, access, name) open_((m), (access), (name), __FILE__, __LINE__)

/* MapViewOfFileEx; views the system places are 64 KB aligned (ntdll test_NtMapViewOfSection). */
static uint64_t map_(vas_process *p, vas_section *h, uint32_t access, uint64_t offset, uint64_t size, uint64_t base,
                     const char *file, int line)
{
    uint64_t v = vas_map_view_of_file(p, h, access, offset, size, base);
    if (!v || v % GRAN || (base && v != base)) {
        fprintf(stderr,
                "%s:%d: MapViewOfFile(access 0x%x, offset 0x%" PRIx64 ", size 0x%" PRIx64 ", base 0x%" PRIx64
                ") returned 0x%" PRIx64 ", error %u\n",
                file, line, access, offset, size, base, v, vas_last_error());
        check_failures_in_test++;
    }
    return v;
}
#define map_ok(p, h, access, offset, size) map_((p), (h), (access), (offset), (size), 0, __FILE__, __LINE__)
#define map_at(p, h, access, offset, size, base) map_((p), (h), (access), (offset), (size), (base), __FILE__, __LINE__)

#define UNMAP(p, v) CHECK(vas_unmap_view_of_file((p), (v)))
#define CLOSE(h) CHECK(vas_close_section(h))

/* NtQuerySection's basic information, every field. */
#define CHECK_SECTION_INFO(h, attributes_, size_)                                                 \
    do {                                                                                          \
        vas_section_information si_;                                                              \
        memset(&si_, 0xCC, sizeof si_);                                                           \
        CHECK_EQ(vas_nt_query_section((h), &si_), VAS_STATUS_SUCCESS);                            \
        CHECK_EQ(si_.base_address, 0);                                                            \
        CHECK_EQ(si_.attributes, (attributes_));                                                  \
        CHECK_EQ(si_.size, (size_));                                                              \
    } while (0)

/* Guest accesses. */
#define CHECK_READ32(p, a, expected)                                                              \
    do {                                                                                          \
        uint32_t r32_ = 0xDEADBEEF;                                                               \
        CHECK_EQ(vas_read((p), (a), &r32_, sizeof r32_, NULL), VAS_STATUS_SUCCESS);               \
        CHECK_EQ(r32_, (expected));                                                               \
    } while (0)

#define WRITE32(p, a, value)                                                                      \
    do {                                                                                          \
        uint32_t w32_ = (value);                                                                  \
        CHECK_EQ(vas_write((p), (a), &w32_, sizeof w32_, NULL), VAS_STATUS_SUCCESS);              \
    } while (0)

/* An access that must raise an access violation at exactly that address, of that kind. */
#define CHECK_FAULT(fn, p, a, kind)                                                               \
    do {                                                                                          \
        uint8_t f8_[4] = {0};                                                                     \
        vas_exception fe_;                                                                        \
        memset(&fe_, 0xCC, sizeof fe_);                                                           \
        CHECK_EQ(fn((p), (a), f8_, 1, &fe_), VAS_STATUS_ACCESS_VIOLATION);                        \
        CHECK_EQ(fe_.code, VAS_STATUS_ACCESS_VIOLATION);                                          \
        CHECK_EQ(fe_.access, (kind));                                                             \
        CHECK_EQ(fe_.address, (a));                                                               \
    } while (0)
#define CHECK_READ_FAULT(p, a) CHECK_FAULT(vas_read, p, a, VAS_EXCEPTION_READ_FAULT)
#define CHECK_WRITE_FAULT(p, a) CHECK_FAULT(vas_write, p, a, VAS_EXCEPTION_WRITE_FAULT)
#define CHECK_EXECUTE_FAULT(p, a) CHECK_FAULT(vas_execute, p, a, VAS_EXCEPTION_EXECUTE_FAULT)

/* A view must be free after it was unmapped (facts 47, 95). */
#define CHECK_FREE(p, a)                                                                          \
    do {                                                                                          \
        vas_memory_basic_information fm_ = vq((p), (a));                                          \
        CHECK_EQ(fm_.base_address, (a));                                                          \
        CHECK_EQ(fm_.allocation_base, 0);                                                         \
        CHECK_EQ(fm_.allocation_protect, 0);                                                      \
        CHECK_EQ(fm_.state, VAS_MEM_FREE);                                                        \
        CHECK_EQ(fm_.protect, NA);                                                                \
        CHECK_EQ(fm_.type, 0);                                                                    \
    } while (0)

static vas_process *second_process(vas_machine *m)
{
    vas_process *q = vas_process_create(m, NULL);
    CHECK(q != NULL);
    return q;
}

static uint64_t commit_total(vas_machine *m) { return status_of(m).commit_total; }
static uint64_t process_charge(vas_process *p) { return counters_of(p).commit_charge; }

/* The VirtualQuery walks of two snapshots are the same (counters aside). */
static int same_regions(const snapshot *a, const snapshot *b)
{
    if (a->count != b->count)
        return 0;
    for (size_t i = 0; i < a->count; i++)
        if (!mbi_equal(&a->regions[i], &b->regions[i]))
            return 0;
    return 1;
}

/* ---- The view table (Wine's kernel32 test_mapping, spec facts 102 and 104) ---------------------- */

/* The protection MapViewOfFile gives a view, by desired access (rows) and section protection
   (columns RO, WC, RW, ER, EWC, ERW); DENIED: NULL with ERROR_ACCESS_DENIED. FILE_MAP_EXECUTE
   makes the executable variant; FILE_MAP_COPY alone is copy-on-write, with READ or WRITE it is
   ignored; SECTION_MAP_EXECUTE (0x08) neither executes nor lets COPY stand alone. */
typedef struct view_row {
    uint32_t access;
    uint32_t view[6];
} view_row;

#define ALL6(p) {p, p, p, p, p, p}
#define WRITABLE {DENIED, DENIED, RW, DENIED, DENIED, RW}
#define EXEC_WRITABLE {DENIED, DENIED, DENIED, DENIED, DENIED, ERW}
#define EXEC_READABLE(p) {DENIED, DENIED, DENIED, p, p, p}

static const view_row view_table[32] = {
    {0x00, ALL6(NA)},           {0x01, ALL6(WC)},           {0x02, WRITABLE},           {0x03, WRITABLE},
    {0x04, ALL6(RO)},           {0x05, ALL6(RO)},           {0x06, WRITABLE},           {0x07, WRITABLE},
    {0x08, ALL6(NA)},           {0x09, ALL6(NA)},           {0x0a, WRITABLE},           {0x0b, WRITABLE},
    {0x0c, ALL6(RO)},           {0x0d, ALL6(RO)},           {0x0e, WRITABLE},           {0x0f, WRITABLE},
    {0x20, ALL6(NA)},           {0x21, EXEC_READABLE(EWC)}, {0x22, EXEC_WRITABLE},      {0x23, EXEC_WRITABLE},
    {0x24, EXEC_READABLE(ER)},  {0x25, EXEC_READABLE(ER)},  {0x26, EXEC_WRITABLE},      {0x27, EXEC_WRITABLE},
    {0x28, ALL6(NA)},           {0x29, ALL6(NA)},           {0x2a, EXEC_WRITABLE},      {0x2b, EXEC_WRITABLE},
    {0x2c, EXEC_READABLE(ER)},  {0x2d, EXEC_READABLE(ER)},  {0x2e, EXEC_WRITABLE},      {0x2f, EXEC_WRITABLE},
};

/* One desired access per view protection a section may give, for the tests that need a view of
   each kind: NA, WC, RO, RW, EWC, ER, ERW. */
static const uint32_t one_access_per_view[7] = {0, M_COPY, M_READ, M_WRITE, M_EXEC | M_COPY, M_EXEC | M_READ,
                                               M_EXEC | M_WRITE};

static uint32_t table_view(uint32_t access, int column)
{
    for (size_t i = 0; i < sizeof view_table / sizeof view_table[0]; i++)
        if (view_table[i].access == access)
            return view_table[i].view[column];
    return DENIED;
}

/* The rights a view needs from the section handle (fact 85 and NT's section access table): read
   for no-access, read-only and write-copy views, write for read-write ones, and an execute
   right as well for executable ones. */
static int handle_allows(uint32_t rights, uint32_t view)
{
    int writes = view == RW || view == ERW;
    if (!(rights & (writes ? VAS_SECTION_MAP_WRITE : VAS_SECTION_MAP_READ)))
        return 0;
    return !(access_class(view) & CLASS_X) || (rights & (VAS_SECTION_MAP_EXECUTE | VAS_FILE_MAP_EXECUTE));
}

/* ======================================================================================== */
/* I. CreateFileMapping and sections                                                         */
/* ======================================================================================== */

/* Fact 71 and Wine's test_CreateFileMapping_protection: a section takes exactly PAGE_READONLY,
   _READWRITE, _WRITECOPY, _EXECUTE_READ, _EXECUTE_READWRITE and _EXECUTE_WRITECOPY; 0,
   PAGE_NOACCESS, PAGE_EXECUTE and every OR of two or more protections fail with 87. The same for
   paging-file and file sections; a new section sets GetLastError to 0. */
static void fact_71_section_protections(void)
{
    fx f = fx_open();
    tmp_path file = make_file("71.bin", 0x2000);
    for (uint32_t p = 0; p <= 0xFF; p++) {
        for (int on_file = 0; on_file < 2; on_file++) {
            const char *path = on_file ? file.s : NULL;
            uint64_t size = on_file ? 0 : 0x2000;
            if (valid_section_protection(p)) {
                vas_section *h = create_ok(f.m, path, p, size, NULL);
                CHECK_EQ(vas_last_error(), VAS_ERROR_SUCCESS);
                CLOSE(h);
            } else {
                CHECK_FAILS_CLEAN(&f, PTR(vas_create_file_mapping(f.m, path, p, size, NULL)),
                                  VAS_ERROR_INVALID_PARAMETER);
            }
        }
    }
    /* With an explicit SEC_COMMIT too. */
    CHECK_FAILS_CLEAN(&f, PTR(vas_create_file_mapping(f.m, NULL, NA | VAS_SEC_COMMIT, 0x1000, NULL)),
                      VAS_ERROR_INVALID_PARAMETER);
    CHECK_FAILS_CLEAN(&f, PTR(vas_create_file_mapping(f.m, NULL, EX | VAS_SEC_COMMIT, 0x1000, NULL)),
                      VAS_ERROR_INVALID_PARAMETER);
    CHECK_FAILS_CLEAN(&f, PTR(vas_create_file_mapping(f.m, file.s, NA | VAS_SEC_COMMIT, 0, NULL)),
                      VAS_ERROR_INVALID_PARAMETER);
    CHECK(host_holds_pattern(&file, 0x2000));
    fx_close(&f);
}

/* Fact 73: the file's own access is checked. A read-only host file stands for a file opened
   GENERIC_READ: PAGE_READWRITE and PAGE_EXECUTE_READWRITE sections fail with 5 (current
   Windows; 87 is an older answer), PAGE_READONLY and PAGE_WRITECOPY ones work. A file that
   cannot be opened at all stands for a handle with access 0: every protection fails with 5.
   Root ignores file modes, so those sub-checks are skipped when the host lets us open the file
   anyway. PAGE_EXECUTE_READ / PAGE_EXECUTE_WRITECOPY on a GENERIC_READ handle (5 on Windows: no
   FILE_EXECUTE right) are skipped: vas opens the file itself, and a host file's x bit has
   nothing to do with mapping it. */
static void fact_73_read_only_file(void)
{
    fx f = fx_open();
    tmp_path file = make_file("73-read-only.bin", 0x2000);
    CHECK_EQ(chmod(file.s, 0444), 0);

    vas_section *h = create_ok(f.m, file.s, RO, 0, NULL);
    uint64_t v = map_ok(f.p, h, M_READ, 0, 0);
    CHECK_READ32(f.p, v + 0x1000, pattern32(0x1000));
    UNMAP(f.p, v);
    CLOSE(h);

    h = create_ok(f.m, file.s, WC, 0, NULL);
    v = map_ok(f.p, h, M_COPY, 0, 0);
    CHECK_MBI(vq(f.p, v), v, v, WC, 0x2000, COMMIT, WC, MAPPED);
    WRITE32(f.p, v, 0x12345678); /* a private copy: the file is not written */
    CHECK_READ32(f.p, v, 0x12345678);
    UNMAP(f.p, v);
    CLOSE(h);
    CHECK(host_holds_pattern(&file, 0x2000));

    if (!can_open(file.s, O_RDWR)) {
        CHECK_FAILS_CLEAN(&f, PTR(vas_create_file_mapping(f.m, file.s, RW, 0, NULL)), VAS_ERROR_ACCESS_DENIED);
        CHECK_FAILS_CLEAN(&f, PTR(vas_create_file_mapping(f.m, file.s, ERW, 0, NULL)), VAS_ERROR_ACCESS_DENIED);
        CHECK_FAILS_CLEAN(&f, PTR(vas_create_file_mapping(f.m, file.s, RW, 0x3000, NULL)), VAS_ERROR_ACCESS_DENIED);
        CHECK_EQ(host_size(&file), 0x2000);
    } else {
        fprintf(stderr, "fact_73_read_only_file: a 0444 file opens for writing here (root?): "
                        "the PAGE_READWRITE refusal is not checked\n");
    }

    tmp_path closed = make_file("73-no-access.bin", 0x1000);
    CHECK_EQ(chmod(closed.s, 0), 0);
    if (!can_open(closed.s, O_RDONLY)) {
        static const uint32_t protections[] = {RO, RW, WC};
        for (size_t i = 0; i < 3; i++)
            CHECK_FAILS_CLEAN(&f, PTR(vas_create_file_mapping(f.m, closed.s, protections[i], 0, NULL)),
                              VAS_ERROR_ACCESS_DENIED);
    } else {
        fprintf(stderr, "fact_73_read_only_file: a 0000 file opens here (root?): not checked\n");
    }
    fx_close(&f);
}

/* Fact 74: paging-file sections are whole pages (4090 -> 4096, 0x3452 -> 0x4000, and a full
   view is 4096 bytes); file sections keep their size to the byte (36, the file's 0x3456 for
   size 0, 0x3452), with attributes SEC_FILE. */
static void fact_74_section_sizes(void)
{
    fx f = fx_open();
    vas_section *h = create_ok(f.m, NULL, RW, 4090, NULL);
    CHECK_SECTION_INFO(h, VAS_SEC_COMMIT, 4096);
    uint64_t v = map_ok(f.p, h, M_WRITE, 0, 0);
    CHECK_MBI(vq(f.p, v), v, v, RW, 0x1000, COMMIT, RW, MAPPED);
    WRITE32(f.p, v + 4092, 0xA5A5A5A5); /* the whole page is the section's */
    CHECK_READ32(f.p, v + 4092, 0xA5A5A5A5);
    UNMAP(f.p, v);
    CLOSE(h);

    h = create_ok(f.m, NULL, RW, 0x3452, NULL);
    CHECK_SECTION_INFO(h, VAS_SEC_COMMIT, 0x4000);
    v = map_ok(f.p, h, M_READ, 0, 0x4000); /* the rounded size is the section's size */
    CHECK_MBI(vq(f.p, v), v, v, RO, 0x4000, COMMIT, RO, MAPPED);
    UNMAP(f.p, v);
    CLOSE(h);

    tmp_path file = make_file("74.bin", 0x3456);
    h = create_ok(f.m, file.s, RO, 36, NULL);
    CHECK_SECTION_INFO(h, VAS_SEC_FILE, 36);
    v = map_ok(f.p, h, M_READ, 0, 0);
    CHECK_MBI(vq(f.p, v), v, v, RO, 0x1000, COMMIT, RO, MAPPED);
    CHECK_READ32(f.p, v + 32, pattern32(32));
    UNMAP(f.p, v);
    CHECK_FAILS_CLEAN(&f, vas_map_view_of_file(f.p, h, M_READ, 0, 37, 0), VAS_ERROR_ACCESS_DENIED);
    CLOSE(h);

    h = create_ok(f.m, file.s, RO, 0, NULL);
    CHECK_SECTION_INFO(h, VAS_SEC_FILE, 0x3456);
    v = map_ok(f.p, h, M_READ, 0, 0);
    CHECK_MBI(vq(f.p, v), v, v, RO, 0x4000, COMMIT, RO, MAPPED);
    CHECK_READ32(f.p, v + 0x3450, pattern32(0x3450));
    UNMAP(f.p, v);
    CLOSE(h);

    h = create_ok(f.m, file.s, RO, 0x3452, NULL);
    CHECK_SECTION_INFO(h, VAS_SEC_FILE, 0x3452);
    CLOSE(h);
    CHECK(host_holds_pattern(&file, 0x3456));
    fx_close(&f);
}

/* Fact 76: a read-only section may not be larger than its file (STATUS_SECTION_TOO_BIG, Win32
   ERROR_NOT_ENOUGH_MEMORY); a writable one may, and the file grows to the section's size
   (Wine's test_MapViewOfFile: 1 MB on a 4096-byte file, view RegionSize 0x100000; Microsoft
   documents the growth). */
static void fact_76_section_larger_than_file(void)
{
    fx f = fx_open();
    tmp_path file = make_file("76.bin", 0x3456);
    CHECK_FAILS_CLEAN(&f, PTR(vas_create_file_mapping(f.m, file.s, RO, 0x3457, NULL)), VAS_ERROR_NOT_ENOUGH_MEMORY);
    CHECK_FAILS_CLEAN(&f, PTR(vas_create_file_mapping(f.m, file.s, RO, 0x100000, NULL)),
                      VAS_ERROR_NOT_ENOUGH_MEMORY);
    CHECK(host_holds_pattern(&file, 0x3456));

    tmp_path small = make_file("76-grow.bin", 4096);
    vas_section *h = create_ok(f.m, small.s, RW, 0x100000, NULL);
    CHECK_SECTION_INFO(h, VAS_SEC_FILE, 0x100000);
    CHECK_EQ(host_size(&small), 0x100000);
    uint64_t v = map_ok(f.p, h, M_WRITE, 0, 0);
    CHECK_MBI(vq(f.p, v), v, v, RW, 0x100000, COMMIT, RW, MAPPED);
    CHECK_READ32(f.p, v, pattern32(0));
    CHECK_READ32(f.p, v + 0x80000, 0); /* the new part of the file reads as zeros */
    WRITE32(f.p, v + 0xFFFFC, 0xFEEDF00D);
    UNMAP(f.p, v);
    CLOSE(h);
    CHECK_EQ(host_size(&small), 0x100000);
    CHECK_EQ(host_read32(&small, 0xFFFFC), 0xFEEDF00D);
    CHECK_EQ(host_read32(&small, 0), pattern32(0));
    fx_close(&f);
}

/* Fact 77 and Wine's test_MapFile: an empty file with no size fails with ERROR_FILE_INVALID
   (1006), and with SEC_IMAGE with ERROR_BAD_EXE_FORMAT (193); given a size, a writable section
   makes the file that long and a read-only one fails as in fact 76. */
static void fact_77_empty_file(void)
{
    fx f = fx_open();
    tmp_path empty = make_file("77-empty.bin", 0);
    static const uint32_t protections[] = {RO, RW, WC, ER};
    for (size_t i = 0; i < 4; i++)
        CHECK_FAILS_CLEAN(&f, PTR(vas_create_file_mapping(f.m, empty.s, protections[i], 0, NULL)),
                          VAS_ERROR_FILE_INVALID);
    CHECK_FAILS_CLEAN(&f, PTR(vas_create_file_mapping(f.m, empty.s, RO | VAS_SEC_IMAGE, 0, NULL)),
                      VAS_ERROR_BAD_EXE_FORMAT);
    CHECK_FAILS_CLEAN(&f, PTR(vas_create_file_mapping(f.m, empty.s, RO, 0x1000, NULL)), VAS_ERROR_NOT_ENOUGH_MEMORY);
    CHECK_EQ(host_size(&empty), 0);
    vas_section *h = create_ok(f.m, empty.s, RW, 0x1000, NULL);
    CHECK_SECTION_INFO(h, VAS_SEC_FILE, 0x1000);
    CHECK_EQ(host_size(&empty), 0x1000);
    CLOSE(h);
    fx_close(&f);
}

/* Fact 79: SEC_* flags of paging-file sections. Accepted: none (reported SEC_COMMIT),
   SEC_COMMIT, SEC_RESERVE, either with SEC_NOCACHE or SEC_WRITECOMBINE, echoed by
   NtQuerySection; 87 for SEC_RESERVE|SEC_COMMIT, SEC_RESERVE|SEC_LARGE_PAGES, a cache flag or
   SEC_LARGE_PAGES alone, SEC_FILE with anything, SEC_IMAGE with SEC_RESERVE or SEC_COMMIT.
   SEC_IMAGE alone has no file to be an image: ERROR_BAD_EXE_FORMAT (Wine's test_CreateFileMapping).
   SEC_COMMIT|SEC_LARGE_PAGES depends on a privilege and is not a fact here. */
static void fact_79_sec_flags_of_pagefile_sections(void)
{
    fx f = fx_open();
    static const struct {
        uint32_t flags, attributes;
    } accepted[] = {
        {0, VAS_SEC_COMMIT},
        {VAS_SEC_COMMIT, VAS_SEC_COMMIT},
        {VAS_SEC_RESERVE, VAS_SEC_RESERVE},
        {VAS_SEC_COMMIT | VAS_SEC_NOCACHE, VAS_SEC_COMMIT | VAS_SEC_NOCACHE},
        {VAS_SEC_RESERVE | VAS_SEC_NOCACHE, VAS_SEC_RESERVE | VAS_SEC_NOCACHE},
        {VAS_SEC_COMMIT | VAS_SEC_WRITECOMBINE, VAS_SEC_COMMIT | VAS_SEC_WRITECOMBINE},
        {VAS_SEC_RESERVE | VAS_SEC_WRITECOMBINE, VAS_SEC_RESERVE | VAS_SEC_WRITECOMBINE},
    };
    for (size_t i = 0; i < sizeof accepted / sizeof accepted[0]; i++) {
        vas_section *h = create_ok(f.m, NULL, RW | accepted[i].flags, 0x1000, NULL);
        CHECK_SECTION_INFO(h, accepted[i].attributes, 0x1000);
        CLOSE(h);
    }
    static const uint32_t rejected[] = {
        VAS_SEC_RESERVE | VAS_SEC_COMMIT,   VAS_SEC_RESERVE | VAS_SEC_LARGE_PAGES, VAS_SEC_NOCACHE,
        VAS_SEC_LARGE_PAGES,                VAS_SEC_WRITECOMBINE,                  VAS_SEC_FILE,
        VAS_SEC_FILE | VAS_SEC_COMMIT,      VAS_SEC_FILE | VAS_SEC_RESERVE,        VAS_SEC_FILE | VAS_SEC_NOCACHE,
        VAS_SEC_FILE | VAS_SEC_LARGE_PAGES, VAS_SEC_FILE | VAS_SEC_IMAGE,          VAS_SEC_IMAGE | VAS_SEC_RESERVE,
        VAS_SEC_IMAGE | VAS_SEC_COMMIT,
    };
    for (size_t i = 0; i < sizeof rejected / sizeof rejected[0]; i++)
        CHECK_FAILS_CLEAN(&f, PTR(vas_create_file_mapping(f.m, NULL, RW | rejected[i], 0x1000, NULL)),
                          VAS_ERROR_INVALID_PARAMETER);
    CHECK_FAILS_CLEAN(&f, PTR(vas_create_file_mapping(f.m, NULL, RO | VAS_SEC_IMAGE, 0x1000, NULL)),
                      VAS_ERROR_BAD_EXE_FORMAT);
    fx_close(&f);
}

/* Fact 80: SEC_* flags of file sections. SEC_RESERVE, SEC_COMMIT or none give SEC_FILE (with
   SEC_NOCACHE / SEC_WRITECOMBINE kept): SEC_RESERVE means nothing for a file, whose views are
   committed. The combinations refused for paging-file sections are refused here too, and
   SEC_COMMIT|SEC_LARGE_PAGES, SEC_IMAGE with SEC_LARGE_PAGES or SEC_WRITECOMBINE. SEC_IMAGE on
   a file that is not a PE image: ERROR_BAD_EXE_FORMAT (STATUS_INVALID_IMAGE_NOT_MZ). Image
   sections of real PE files are not modelled by vas (no loader), so their facts are skipped. */
static void fact_80_sec_flags_of_file_sections(void)
{
    fx f = fx_open();
    tmp_path file = make_file("80.bin", 0x2000);
    static const struct {
        uint32_t flags, attributes;
    } accepted[] = {
        {0, VAS_SEC_FILE},
        {VAS_SEC_COMMIT, VAS_SEC_FILE},
        {VAS_SEC_RESERVE, VAS_SEC_FILE},
        {VAS_SEC_COMMIT | VAS_SEC_NOCACHE, VAS_SEC_FILE | VAS_SEC_NOCACHE},
        {VAS_SEC_RESERVE | VAS_SEC_NOCACHE, VAS_SEC_FILE | VAS_SEC_NOCACHE},
        {VAS_SEC_COMMIT | VAS_SEC_WRITECOMBINE, VAS_SEC_FILE | VAS_SEC_WRITECOMBINE},
        {VAS_SEC_RESERVE | VAS_SEC_WRITECOMBINE, VAS_SEC_FILE | VAS_SEC_WRITECOMBINE},
    };
    for (size_t i = 0; i < sizeof accepted / sizeof accepted[0]; i++) {
        vas_section *h = create_ok(f.m, file.s, RW | accepted[i].flags, 0, NULL);
        CHECK_SECTION_INFO(h, accepted[i].attributes, 0x2000);
        CLOSE(h);
    }
    /* SEC_RESERVE on a file: the view is committed all the same. */
    vas_section *h = create_ok(f.m, file.s, RW | VAS_SEC_RESERVE, 0, NULL);
    uint64_t v = map_ok(f.p, h, M_WRITE, 0, 0);
    CHECK_MBI(vq(f.p, v), v, v, RW, 0x2000, COMMIT, RW, MAPPED);
    CHECK_READ32(f.p, v + 0x1000, pattern32(0x1000));
    UNMAP(f.p, v);
    CLOSE(h);

    static const uint32_t rejected[] = {
        VAS_SEC_RESERVE | VAS_SEC_COMMIT,   VAS_SEC_RESERVE | VAS_SEC_LARGE_PAGES, VAS_SEC_COMMIT | VAS_SEC_LARGE_PAGES,
        VAS_SEC_NOCACHE,                    VAS_SEC_LARGE_PAGES,                   VAS_SEC_WRITECOMBINE,
        VAS_SEC_FILE,                       VAS_SEC_FILE | VAS_SEC_COMMIT,         VAS_SEC_FILE | VAS_SEC_RESERVE,
        VAS_SEC_FILE | VAS_SEC_NOCACHE,     VAS_SEC_IMAGE | VAS_SEC_FILE,          VAS_SEC_IMAGE | VAS_SEC_LARGE_PAGES,
        VAS_SEC_IMAGE | VAS_SEC_WRITECOMBINE, VAS_SEC_IMAGE | VAS_SEC_RESERVE,     VAS_SEC_IMAGE | VAS_SEC_COMMIT,
    };
    for (size_t i = 0; i < sizeof rejected / sizeof rejected[0]; i++) {
        CHECK_FAILS_CLEAN(&f, PTR(vas_create_file_mapping(f.m, file.s, RW | rejected[i], 0, NULL)),
                          VAS_ERROR_INVALID_PARAMETER);
        CHECK_FAILS_CLEAN(&f, PTR(vas_create_file_mapping(f.m, file.s, RO | rejected[i], 0, NULL)),
                          VAS_ERROR_INVALID_PARAMETER);
    }
    CHECK_FAILS_CLEAN(&f, PTR(vas_create_file_mapping(f.m, file.s, RO | VAS_SEC_IMAGE, 0, NULL)),
                      VAS_ERROR_BAD_EXE_FORMAT);
    CHECK_FAILS_CLEAN(&f, PTR(vas_create_file_mapping(f.m, file.s, RO | VAS_SEC_IMAGE | VAS_SEC_NOCACHE, 0, NULL)),
                      VAS_ERROR_BAD_EXE_FORMAT);
    CHECK(host_holds_pattern(&file, 0x2000));
    fx_close(&f);
}

/* Fact 82: closing every handle of a named section leaves its views fully usable, with the same
   VirtualQuery record, but takes its name: OpenFileMapping fails with 2 and CreateFileMapping
   of the name makes a new section (GetLastError 0). The same for a file section. */
static void fact_82_views_outlive_handles_but_not_names(void)
{
    fx f = fx_open();
    vas_section *h = create_ok(f.m, NULL, RW, 0x1000, "vas-fact-82");
    uint64_t v = map_ok(f.p, h, M_WRITE, 0, 0);
    WRITE32(f.p, v, 0x1234);
    CLOSE(h);
    CHECK_MBI(vq(f.p, v), v, v, RW, 0x1000, COMMIT, RW, MAPPED);
    CHECK_READ32(f.p, v, 0x1234);
    WRITE32(f.p, v + 4, 0x5678);
    CHECK_FAILS_CLEAN(&f, PTR(vas_open_file_mapping(f.m, VAS_FILE_MAP_ALL_ACCESS, "vas-fact-82")),
                      VAS_ERROR_FILE_NOT_FOUND);
    vas_section *again = create_ok(f.m, NULL, RW, 0x1000, "vas-fact-82");
    CHECK_EQ(vas_last_error(), VAS_ERROR_SUCCESS);
    uint64_t w = map_ok(f.p, again, M_READ, 0, 0);
    CHECK_READ32(f.p, w, 0); /* a new section: not the old one's memory */
    CHECK_READ32(f.p, v, 0x1234);
    UNMAP(f.p, w);
    UNMAP(f.p, v);
    CLOSE(again);

    tmp_path file = make_file("82.bin", 0x2000);
    h = create_ok(f.m, file.s, RW, 0, "vas-fact-82-file");
    v = map_ok(f.p, h, M_WRITE, 0, 0);
    CLOSE(h);
    CHECK_MBI(vq(f.p, v), v, v, RW, 0x2000, COMMIT, RW, MAPPED);
    CHECK_READ32(f.p, v + 0x1000, pattern32(0x1000));
    WRITE32(f.p, v, 0xCAFEF00D);
    CHECK_FAILS_CLEAN(&f, PTR(vas_open_file_mapping(f.m, M_READ, "vas-fact-82-file")), VAS_ERROR_FILE_NOT_FOUND);
    again = create_ok(f.m, file.s, RW, 0, "vas-fact-82-file");
    CHECK_EQ(vas_last_error(), VAS_ERROR_SUCCESS);
    CLOSE(again);
    UNMAP(f.p, v);
    CHECK_EQ(host_read32(&file, 0), 0xCAFEF00D);
    fx_close(&f);
}

/* Fact 83: NtQuerySection needs SECTION_QUERY. Handles opened with FILE_MAP_READ or
   FILE_MAP_WRITE alone get STATUS_ACCESS_DENIED and the buffer is left alone; with
   SECTION_QUERY added (FILE_MAP_COPY is the same bit), or the creator's handle: {BaseAddress 0,
   Attributes SEC_COMMIT, Size}. NtQuerySection's buffer-length checks and its other classes
   (SectionImageInformation) have no vas equivalent: vas_nt_query_section has one fixed record. */
static void fact_83_query_needs_section_query(void)
{
    fx f = fx_open();
    vas_section *h = create_ok(f.m, NULL, RW, 4090, "vas-fact-83");
    CHECK_SECTION_INFO(h, VAS_SEC_COMMIT, 4096);
    static const uint32_t denied[] = {M_READ, M_WRITE, M_READ | M_WRITE, M_EXEC, 0};
    for (size_t i = 0; i < sizeof denied / sizeof denied[0]; i++) {
        vas_section *o = open_ok(f.m, denied[i], "vas-fact-83");
        vas_section_information info;
        memset(&info, 0xCC, sizeof info);
        CHECK_EQ(vas_nt_query_section(o, &info), VAS_STATUS_ACCESS_DENIED);
        CHECK_EQ(info.base_address, 0xCCCCCCCCCCCCCCCCull);
        CHECK_EQ(info.size, 0xCCCCCCCCCCCCCCCCull);
        CLOSE(o);
    }
    static const uint32_t allowed[] = {M_READ | VAS_SECTION_QUERY, M_WRITE | VAS_SECTION_QUERY, M_COPY,
                                       VAS_FILE_MAP_ALL_ACCESS};
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++) {
        vas_section *o = open_ok(f.m, allowed[i], "vas-fact-83");
        CHECK_SECTION_INFO(o, VAS_SEC_COMMIT, 4096);
        CHECK_EQ(vas_nt_query_section(o, NULL), VAS_STATUS_ACCESS_VIOLATION);
        CLOSE(o);
    }
    CLOSE(h);
    fx_close(&f);
}

/* Names (Wine's test_CreateFileMapping, test_MapViewOfFile, ntdll om.c): creating an existing
   name returns a new handle to the same section with GetLastError ERROR_ALREADY_EXISTS (183), a
   new name sets 0; names are case-sensitive; OpenFileMapping of a missing name (or another case)
   fails with ERROR_FILE_NOT_FOUND; "Local\" names work; FILE_MAP_ALL_ACCESS opens. Names are
   machine-wide: another process opens them, another machine does not see them. The name lives
   while any handle does. */
static void names_exist_case_and_scope(void)
{
    fx f = fx_open();
    vas_section *h1 = create_ok(f.m, NULL, RW, 0x1000, "Vas-Name");
    CHECK_EQ(vas_last_error(), VAS_ERROR_SUCCESS);
    vas_set_last_error(0xDEADBEEF);
    vas_section *h2 = vas_create_file_mapping(f.m, NULL, RW, 0x1000, "Vas-Name");
    CHECK(h2 != NULL && h2 != h1);
    CHECK_EQ(vas_last_error(), VAS_ERROR_ALREADY_EXISTS);
    uint64_t v1 = map_ok(f.p, h1, M_WRITE, 0, 0), v2 = map_ok(f.p, h2, M_WRITE, 0, 0);
    CHECK(v1 != v2);
    WRITE32(f.p, v1, 0xABCD);
    CHECK_READ32(f.p, v2, 0xABCD);

    vas_section *h3 = create_ok(f.m, NULL, RW, 0x1000, "vas-name");
    CHECK_EQ(vas_last_error(), VAS_ERROR_SUCCESS);
    uint64_t v3 = map_ok(f.p, h3, M_READ, 0, 0);
    CHECK_READ32(f.p, v3, 0);
    CHECK_FAILS_CLEAN(&f, PTR(vas_open_file_mapping(f.m, M_READ, "VAS-NAME")), VAS_ERROR_FILE_NOT_FOUND);
    CHECK_FAILS_CLEAN(&f, PTR(vas_open_file_mapping(f.m, M_READ, "Vas-Nam")), VAS_ERROR_FILE_NOT_FOUND);
    CHECK_FAILS_CLEAN(&f, PTR(vas_open_file_mapping(f.m, M_READ, "no such section")), VAS_ERROR_FILE_NOT_FOUND);
    CHECK_FAILS_CLEAN(&f, PTR(vas_open_file_mapping(f.m, M_READ, NULL)), VAS_ERROR_INVALID_PARAMETER);

    /* Another process sees the name and the memory. */
    vas_process *q = second_process(f.m);
    vas_section *o = open_ok(f.m, VAS_FILE_MAP_ALL_ACCESS, "Vas-Name");
    uint64_t w = map_ok(q, o, M_WRITE, 0, 0);
    CHECK_READ32(q, w, 0xABCD);
    WRITE32(q, w + 8, 0x600D);
    CHECK_READ32(f.p, v1 + 8, 0x600D);
    CLOSE(o);

    /* Another machine is another system. */
    fx g = fx_open();
    CHECK_FAILS_CLEAN(&g, PTR(vas_open_file_mapping(g.m, M_READ, "Vas-Name")), VAS_ERROR_FILE_NOT_FOUND);
    vas_section *elsewhere = create_ok(g.m, NULL, RW, 0x1000, "Vas-Name");
    CHECK_EQ(vas_last_error(), VAS_ERROR_SUCCESS);
    CLOSE(elsewhere);
    fx_close(&g);

    vas_section *local = create_ok(f.m, NULL, RW, 0x1000, "Local\\vas-local");
    vas_section *local2 = open_ok(f.m, M_READ, "Local\\vas-local");
    CLOSE(local2);
    CLOSE(local);

    /* The name stays while a handle does. */
    CLOSE(h1);
    o = open_ok(f.m, M_READ, "Vas-Name");
    CLOSE(o);
    CLOSE(h2);
    CHECK_FAILS_CLEAN(&f, PTR(vas_open_file_mapping(f.m, M_READ, "Vas-Name")), VAS_ERROR_FILE_NOT_FOUND);
    CHECK_READ32(f.p, v2, 0xABCD); /* the views stay (fact 82) */
    CLOSE(h3);
    UNMAP(f.p, v1);
    UNMAP(f.p, v2);
    UNMAP(f.p, v3);
    UNMAP(q, w);
    fx_close(&f);
}

/* Files that cannot be mapped: a missing file (ERROR_FILE_NOT_FOUND 2), a missing directory on
   the way (CreateFile's ERROR_PATH_NOT_FOUND 3), a directory (CreateFile's ERROR_ACCESS_DENIED). */
static void bad_files(void)
{
    fx f = fx_open();
    tmp_path missing = tmp_name("no-such-file.bin");
    CHECK_FAILS_CLEAN(&f, PTR(vas_create_file_mapping(f.m, missing.s, RO, 0, NULL)), VAS_ERROR_FILE_NOT_FOUND);
    CHECK_FAILS_CLEAN(&f, PTR(vas_create_file_mapping(f.m, missing.s, RW, 0x1000, NULL)), VAS_ERROR_FILE_NOT_FOUND);
    CHECK(!can_open(missing.s, O_RDONLY)); /* not created either */
    tmp_path nested = tmp_name("no-such-dir/file.bin");
    CHECK_FAILS_CLEAN(&f, PTR(vas_create_file_mapping(f.m, nested.s, RO, 0, NULL)), VAS_ERROR_PATH_NOT_FOUND);
    tmp_path dir = tmp_name("a-directory");
    CHECK_EQ(mkdir(dir.s, 0755), 0);
    CHECK_FAILS_CLEAN(&f, PTR(vas_create_file_mapping(f.m, dir.s, RO, 0, NULL)), VAS_ERROR_ACCESS_DENIED);
    CHECK_FAILS_CLEAN(&f, PTR(vas_create_file_mapping(f.m, dir.s, RW, 0x1000, NULL)), VAS_ERROR_ACCESS_DENIED);
    fx_close(&f);
}

/* Sizes CreateFileMapping refuses: a paging-file section needs a size (87); sizes near 2^64 are
   STATUS_SECTION_TOO_BIG (ERROR_NOT_ENOUGH_MEMORY), whatever rounding them up would give; a file
   section that large cannot be read-only (fact 76) nor grow its file so far (8, or
   ERROR_DISK_FULL). Nothing changes, the file included. */
static void bad_section_sizes(void)
{
    fx f = fx_open();
    CHECK_FAILS_CLEAN(&f, PTR(vas_create_file_mapping(f.m, NULL, RW, 0, NULL)), VAS_ERROR_INVALID_PARAMETER);
    CHECK_FAILS_CLEAN(&f, PTR(vas_create_file_mapping(f.m, NULL, RW | VAS_SEC_RESERVE, 0, NULL)),
                      VAS_ERROR_INVALID_PARAMETER);
    CHECK_FAILS_CLEAN(&f, PTR(vas_create_file_mapping(f.m, NULL, RW, 0, "vas-no-size")), VAS_ERROR_INVALID_PARAMETER);
    CHECK_FAILS_CLEAN(&f, PTR(vas_open_file_mapping(f.m, M_READ, "vas-no-size")), VAS_ERROR_FILE_NOT_FOUND);
    static const uint64_t huge[] = {UINT64_MAX, UINT64_MAX - 0xFFE, UINT64_MAX - 0xFFF, 1ull << 63,
                                    (1ull << 63) + 0x1000};
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        CHECK_FAILS_CLEAN(&f, PTR(vas_create_file_mapping(f.m, NULL, RW, huge[i], NULL)), VAS_ERROR_NOT_ENOUGH_MEMORY);
        CHECK_FAILS_CLEAN(&f, PTR(vas_create_file_mapping(f.m, NULL, RW | VAS_SEC_RESERVE, huge[i], NULL)),
                          VAS_ERROR_NOT_ENOUGH_MEMORY);
    }
    tmp_path file = make_file("sizes.bin", 0x1000);
    CHECK_FAILS_CLEAN(&f, PTR(vas_create_file_mapping(f.m, file.s, RO, UINT64_MAX, NULL)), VAS_ERROR_NOT_ENOUGH_MEMORY);
    snap_take(&f, &facts_before_);
    vas_set_last_error(0xDEADBEEF);
    CHECK(vas_create_file_mapping(f.m, file.s, RW, UINT64_MAX, NULL) == NULL);
    uint32_t error = vas_last_error();
    CHECK(error == VAS_ERROR_NOT_ENOUGH_MEMORY || error == VAS_ERROR_DISK_FULL);
    CHECK_UNCHANGED(&f, &facts_before_);
    CHECK(host_holds_pattern(&file, 0x1000));
    fx_close(&f);
}

/* Handles that are not live sections: NULL, closed (also closed twice), or from another machine
   (another system's handle table) give ERROR_INVALID_HANDLE / STATUS_INVALID_HANDLE and change
   nothing. A NULL machine too. */
static void bad_section_handles(void)
{
    fx f = fx_open();
    vas_section_information info;
    CHECK_FAILS_CLEAN(&f, vas_map_view_of_file(f.p, NULL, M_READ, 0, 0, 0), VAS_ERROR_INVALID_HANDLE);
    CHECK_FAILS(vas_close_section(NULL), VAS_ERROR_INVALID_HANDLE);
    CHECK_EQ(vas_nt_query_section(NULL, &info), VAS_STATUS_INVALID_HANDLE);

    vas_section *h = create_ok(f.m, NULL, RW, 0x10000, "vas-closed");
    uint64_t v = map_ok(f.p, h, M_WRITE, 0, 0);
    CLOSE(h);
    CHECK_FAILS_CLEAN(&f, vas_close_section(h), VAS_ERROR_INVALID_HANDLE);
    CHECK_FAILS_CLEAN(&f, vas_map_view_of_file(f.p, h, M_READ, 0, 0, 0), VAS_ERROR_INVALID_HANDLE);
    CHECK_EQ(vas_nt_query_section(h, &info), VAS_STATUS_INVALID_HANDLE);
    UNMAP(f.p, v); /* the section goes now */
    CHECK_FAILS_CLEAN(&f, vas_close_section(h), VAS_ERROR_INVALID_HANDLE);
    CHECK_FAILS_CLEAN(&f, vas_map_view_of_file(f.p, h, M_READ, 0, 0, 0), VAS_ERROR_INVALID_HANDLE);

    fx g = fx_open();
    vas_section *foreign = create_ok(g.m, NULL, RW, 0x10000, NULL);
    CHECK_FAILS_CLEAN(&f, vas_map_view_of_file(f.p, foreign, M_READ, 0, 0, 0), VAS_ERROR_INVALID_HANDLE);
    CHECK_FAILS_CLEAN(&f, vas_map_view_of_file(f.p, foreign, M_WRITE, 0, 0x1000, 0x10000000),
                      VAS_ERROR_INVALID_HANDLE);
    uint64_t w = map_ok(g.p, foreign, M_WRITE, 0, 0);
    UNMAP(g.p, w);
    CLOSE(foreign);
    fx_close(&g);

    CHECK_FAILS(PTR(vas_create_file_mapping(NULL, NULL, RW, 0x1000, NULL)), VAS_ERROR_INVALID_HANDLE);
    CHECK_FAILS(PTR(vas_open_file_mapping(NULL, M_READ, "vas-closed")), VAS_ERROR_INVALID_HANDLE);
    fx_close(&f);
}

/* ======================================================================================== */
/* J. MapViewOfFile, UnmapViewOfFile, FlushViewOfFile; commit through views                    */
/* ======================================================================================== */

/* Fact 85: the handle's rights decide. A FILE_MAP_READ handle (Windows: a duplicate with that
   access; here OpenFileMapping) cannot map FILE_MAP_WRITE (5) but maps access 0; a handle with
   no access maps nothing, not even access 0; a FILE_MAP_READ|WRITE handle maps for writing; a
   FILE_MAP_WRITE handle cannot map FILE_MAP_READ but maps FILE_MAP_WRITE as {RW, RW, 4096,
   MEM_COMMIT}. */
static void fact_85_handle_rights_are_enforced(void)
{
    fx f = fx_open();
    vas_section *h = create_ok(f.m, NULL, RW, 4096, "vas-fact-85");

    vas_section *r = open_ok(f.m, M_READ, "vas-fact-85");
    CHECK_FAILS_CLEAN(&f, vas_map_view_of_file(f.p, r, M_WRITE, 0, 0, 0), VAS_ERROR_ACCESS_DENIED);
    uint64_t v = map_ok(f.p, r, 0, 0, 0);
    CHECK_MBI(vq(f.p, v), v, v, NA, 0x1000, COMMIT, NA, MAPPED);
    UNMAP(f.p, v);
    v = map_ok(f.p, r, M_READ, 0, 0);
    CHECK_MBI(vq(f.p, v), v, v, RO, 0x1000, COMMIT, RO, MAPPED);
    UNMAP(f.p, v);
    CLOSE(r);

    vas_section *none = open_ok(f.m, 0, "vas-fact-85");
    for (size_t i = 0; i < sizeof view_table / sizeof view_table[0]; i++)
        CHECK_FAILS_CLEAN(&f, vas_map_view_of_file(f.p, none, view_table[i].access, 0, 0, 0), VAS_ERROR_ACCESS_DENIED);
    CHECK_FAILS_CLEAN(&f, vas_map_view_of_file(f.p, none, VAS_FILE_MAP_ALL_ACCESS, 0, 0, 0), VAS_ERROR_ACCESS_DENIED);
    CLOSE(none);

    vas_section *rw = open_ok(f.m, M_READ | M_WRITE, "vas-fact-85");
    v = map_ok(f.p, rw, M_WRITE, 0, 0);
    CHECK_MBI(vq(f.p, v), v, v, RW, 0x1000, COMMIT, RW, MAPPED);
    UNMAP(f.p, v);
    CLOSE(rw);

    vas_section *w = open_ok(f.m, M_WRITE, "vas-fact-85");
    CHECK_FAILS_CLEAN(&f, vas_map_view_of_file(f.p, w, M_READ, 0, 0, 0), VAS_ERROR_ACCESS_DENIED);
    v = map_ok(f.p, w, M_WRITE, 0, 0);
    CHECK_MBI(vq(f.p, v), v, v, RW, 0x1000, COMMIT, RW, MAPPED);
    WRITE32(f.p, v, 85);
    UNMAP(f.p, v);
    CLOSE(w);
    CLOSE(h);
    fx_close(&f);
}

/* Handle rights against every desired access, on a PAGE_EXECUTE_READWRITE section (which
   allows every view, so only the handle decides): a view succeeds exactly when the handle holds
   the rights its protection needs (handle_allows); the view's protection is the table's. Handles
   with FILE_MAP_EXECUTE (SECTION_MAP_EXECUTE_EXPLICIT) but without SECTION_MAP_EXECUTE are left
   out: which of the two rights Windows' check asks for is not pinned down by any test. */
static void table_handle_rights(void)
{
    fx f = fx_open();
    vas_section *h = create_ok(f.m, NULL, ERW, 0x2000, "vas-rights");
    static const uint32_t exec_rights[3] = {0, VAS_SECTION_MAP_EXECUTE, VAS_SECTION_MAP_EXECUTE | VAS_FILE_MAP_EXECUTE};
    for (uint32_t low = 0; low < 8; low++) {
        for (int e = 0; e < 3; e++) {
            uint32_t rights = low | exec_rights[e];
            vas_section *o = open_ok(f.m, rights, "vas-rights");
            for (size_t i = 0; i < sizeof view_table / sizeof view_table[0]; i++) {
                uint32_t access = view_table[i].access, view = view_table[i].view[5];
                if (handle_allows(rights, view)) {
                    uint64_t v = map_ok(f.p, o, access, 0, 0);
                    CHECK_MBI(vq(f.p, v), v, v, view, 0x2000, COMMIT, view, MAPPED);
                    UNMAP(f.p, v);
                } else {
                    CHECK_FAILS_CLEAN(&f, vas_map_view_of_file(f.p, o, access, 0, 0, 0), VAS_ERROR_ACCESS_DENIED);
                }
            }
            CLOSE(o);
        }
    }
    vas_section *all = open_ok(f.m, VAS_FILE_MAP_ALL_ACCESS, "vas-rights");
    for (size_t i = 0; i < sizeof view_table / sizeof view_table[0]; i++) {
        uint64_t v = map_ok(f.p, all, view_table[i].access, 0, 0);
        CHECK_EQ(vq(f.p, v).protect, view_table[i].view[5]);
        UNMAP(f.p, v);
    }
    CLOSE(all);
    CLOSE(h);
    fx_close(&f);
}

/* Fact 86: size 0 maps the whole section: FILE_MAP_READ of the 4090-byte section is
   {view, view, RO, 4096, MEM_COMMIT, RO}. */
static void fact_86_size_zero_maps_the_whole_section(void)
{
    fx f = fx_open();
    vas_section *h = create_ok(f.m, NULL, RW, 4090, NULL);
    uint64_t v = map_ok(f.p, h, M_READ, 0, 0);
    CHECK_MBI(vq(f.p, v), v, v, RO, 4096, COMMIT, RO, MAPPED);
    UNMAP(f.p, v);
    /* With an offset, to the section's end. */
    CLOSE(h);
    h = create_ok(f.m, NULL, RW, 0x30000 - 10, NULL);
    v = map_ok(f.p, h, M_READ, 0x10000, 0);
    CHECK_MBI(vq(f.p, v), v, v, RO, 0x20000, COMMIT, RO, MAPPED);
    UNMAP(f.p, v);
    CLOSE(h);
    fx_close(&f);
}

/* Facts 88, 89 and 87: an explicit base and the offset must be 64 KB aligned
   (ERROR_MAPPED_ALIGNMENT 1132), checked before any overlap (offset 1 at an occupied base is
   still 1132); an aligned base that is taken gives ERROR_INVALID_ADDRESS (STATUS_CONFLICTING_
   ADDRESSES); a free aligned base is used exactly, with offset 0 or four granules; two views of
   one section get different addresses. */
static void fact_88_89_alignment_of_base_and_offset(void)
{
    fx f = fx_open();
    vas_section *h = create_ok(f.m, NULL, RW, 5 * GRAN, NULL);
    uint64_t v = map_ok(f.p, h, M_WRITE, 0, 0);
    uint64_t second = map_ok(f.p, h, M_WRITE, 0, 0);
    CHECK(second != v);
    WRITE32(f.p, v + 4 * GRAN, 89);

    static const uint64_t bad_offsets[] = {1, 0x1000, 0x8000, GRAN - 1, GRAN + 0x1000, 4 * GRAN + 0x1000};
    for (size_t i = 0; i < sizeof bad_offsets / sizeof bad_offsets[0]; i++) {
        CHECK_FAILS_CLEAN(&f, vas_map_view_of_file(f.p, h, M_READ, bad_offsets[i], 0x1000, 0),
                          VAS_ERROR_MAPPED_ALIGNMENT);
        CHECK_FAILS_CLEAN(&f, vas_map_view_of_file(f.p, h, M_READ, bad_offsets[i], 0x1000, v),
                          VAS_ERROR_MAPPED_ALIGNMENT);
    }
    static const uint64_t bad_bases[] = {42, 0x1000, 0x8000, GRAN - 1};
    for (size_t i = 0; i < sizeof bad_bases / sizeof bad_bases[0]; i++)
        CHECK_FAILS_CLEAN(&f, vas_map_view_of_file(f.p, h, M_READ, 0, 0x1000, v + bad_bases[i]),
                          VAS_ERROR_MAPPED_ALIGNMENT);
    CHECK_FAILS_CLEAN(&f, vas_map_view_of_file(f.p, h, M_READ, 0, 0, v), VAS_ERROR_INVALID_ADDRESS);
    CHECK_FAILS_CLEAN(&f, vas_map_view_of_file(f.p, h, M_READ, 0, 0x1000, v + GRAN), VAS_ERROR_INVALID_ADDRESS);
    CHECK_FAILS_CLEAN(&f, vas_map_view_of_file(f.p, h, M_COPY, 0, 0x1000, v + GRAN), VAS_ERROR_INVALID_ADDRESS);

    /* A private reservation is taken as well; so is a range that reaches into one. */
    uint64_t hole = vas_virtual_alloc(f.p, 0, 3 * GRAN, RESERVE, NA);
    CHECK(hole != 0);
    CHECK(vas_virtual_free(f.p, hole, 0, VAS_MEM_RELEASE));
    uint64_t blocker = vas_virtual_alloc(f.p, hole + 2 * GRAN, GRAN, RESERVE, NA);
    CHECK_EQ(blocker, hole + 2 * GRAN);
    CHECK_FAILS_CLEAN(&f, vas_map_view_of_file(f.p, h, M_READ, 0, 0x1000, blocker), VAS_ERROR_INVALID_ADDRESS);
    CHECK_FAILS_CLEAN(&f, vas_map_view_of_file(f.p, h, M_READ, 0, 3 * GRAN, hole), VAS_ERROR_INVALID_ADDRESS);

    /* Fact 89: a page-aligned base with a one-page offset: 1132; aligned ones map exactly there. */
    CHECK_FAILS_CLEAN(&f, vas_map_view_of_file(f.p, h, M_READ, 0x1000, 0x1000, hole + 0x1000),
                      VAS_ERROR_MAPPED_ALIGNMENT);
    uint64_t at = map_at(f.p, h, M_READ, 0, 2 * GRAN, hole);
    CHECK_MBI(vq(f.p, at), hole, hole, RO, 2 * GRAN, COMMIT, RO, MAPPED);
    UNMAP(f.p, at);
    at = map_at(f.p, h, M_READ, 4 * GRAN, 0, hole);
    CHECK_MBI(vq(f.p, at), hole, hole, RO, GRAN, COMMIT, RO, MAPPED);
    CHECK_READ32(f.p, hole, 89);
    UNMAP(f.p, at);

    UNMAP(f.p, v);
    UNMAP(f.p, second);
    CLOSE(h);
    fx_close(&f);
}

/* Fact 91: a view may not reach past the section's end, to the byte even inside the last page:
   0x3452 bytes of a 0x3452-byte file section map, 0x3453 give STATUS_INVALID_VIEW_SIZE
   (ERROR_ACCESS_DENIED). With an offset the limit is what lies past it; an offset at or past the
   end is ERROR_INVALID_PARAMETER; sizes near 2^64 (also ones that wrap with the offset) are
   refused like any size too large. */
static void fact_91_view_size_is_checked_to_the_byte(void)
{
    fx f = fx_open();
    tmp_path file = make_file("91.bin", 0x3452);
    vas_section *h = create_ok(f.m, file.s, RO, 0, NULL);
    uint64_t v = map_ok(f.p, h, M_READ, 0, 0x3452);
    CHECK_MBI(vq(f.p, v), v, v, RO, 0x4000, COMMIT, RO, MAPPED);
    UNMAP(f.p, v);
    static const uint64_t too_big[] = {0x3453, 0x4000, 0x10000, UINT64_MAX, UINT64_MAX - 0xFFF, 1ull << 63};
    for (size_t i = 0; i < sizeof too_big / sizeof too_big[0]; i++)
        CHECK_FAILS_CLEAN(&f, vas_map_view_of_file(f.p, h, M_READ, 0, too_big[i], 0), VAS_ERROR_ACCESS_DENIED);
    CHECK_FAILS_CLEAN(&f, vas_map_view_of_file(f.p, h, M_READ, GRAN, 0, 0), VAS_ERROR_INVALID_PARAMETER);
    CLOSE(h);

    h = create_ok(f.m, NULL, RW, 3 * GRAN, NULL);
    uint64_t whole = map_ok(f.p, h, M_WRITE, 0, 0);
    WRITE32(f.p, whole + GRAN, 0x91);
    v = map_ok(f.p, h, M_READ, GRAN, 2 * GRAN);
    CHECK_MBI(vq(f.p, v), v, v, RO, 2 * GRAN, COMMIT, RO, MAPPED);
    CHECK_READ32(f.p, v, 0x91);
    UNMAP(f.p, v);
    v = map_ok(f.p, h, M_READ, 2 * GRAN, 1);
    CHECK_MBI(vq(f.p, v), v, v, RO, 0x1000, COMMIT, RO, MAPPED);
    UNMAP(f.p, v);
    static const uint64_t bad_sizes[] = {2 * GRAN + 1, 3 * GRAN, UINT64_MAX, UINT64_MAX - GRAN + 1, 1ull << 63};
    for (size_t i = 0; i < sizeof bad_sizes / sizeof bad_sizes[0]; i++)
        CHECK_FAILS_CLEAN(&f, vas_map_view_of_file(f.p, h, M_READ, GRAN, bad_sizes[i], 0), VAS_ERROR_ACCESS_DENIED);
    static const uint64_t bad_offsets[] = {3 * GRAN, 4 * GRAN, 0x100000000ull, UINT64_MAX - GRAN + 1};
    for (size_t i = 0; i < sizeof bad_offsets / sizeof bad_offsets[0]; i++) {
        CHECK_FAILS_CLEAN(&f, vas_map_view_of_file(f.p, h, M_READ, bad_offsets[i], 0, 0), VAS_ERROR_INVALID_PARAMETER);
        CHECK_FAILS_CLEAN(&f, vas_map_view_of_file(f.p, h, M_READ, bad_offsets[i], 0x1000, 0),
                          VAS_ERROR_INVALID_PARAMETER);
    }
    UNMAP(f.p, whole);
    CLOSE(h);
    fx_close(&f);
}

/* A base outside user space (kernel, non-canonical or past the highest address a view may use):
   NtMapViewOfSection refuses the base argument itself, STATUS_INVALID_PARAMETER_3, Win32 87, as
   VirtualAlloc refuses such a base with 87. Nothing is mapped, nothing charged. */
static void map_at_kernel_addresses(void)
{
    fx f = fx_open();
    vas_section *h = create_ok(f.m, NULL, RW, GRAN, NULL);
    static const uint64_t bases[] = {0x800000000000ull, KERNEL_ADDRESS, 0xFFFFFFFFFFFF0000ull, 0x8000000000000000ull};
    for (size_t i = 0; i < sizeof bases / sizeof bases[0]; i++) {
        CHECK_FAILS_CLEAN(&f, vas_map_view_of_file(f.p, h, M_READ, 0, 0, bases[i]), VAS_ERROR_INVALID_PARAMETER);
        CHECK_FAILS_CLEAN(&f, vas_map_view_of_file(f.p, h, M_COPY, 0, 0x1000, bases[i]), VAS_ERROR_INVALID_PARAMETER);
    }
    CLOSE(h);
    fx_close(&f);
}

/* Fact 92 (and 136's UnmapViewOfFile2 part): a NULL process handle is ERROR_INVALID_HANDLE for
   mapping, unmapping and flushing. */
static void fact_92_null_process_handle(void)
{
    fx f = fx_open();
    vas_section *h = create_ok(f.m, NULL, RW, GRAN, NULL);
    CHECK_FAILS_CLEAN(&f, vas_map_view_of_file(NULL, h, M_READ, 0, 0, 0), VAS_ERROR_INVALID_HANDLE);
    uint64_t v = map_ok(f.p, h, M_WRITE, 0, 0);
    CHECK_FAILS_CLEAN(&f, vas_unmap_view_of_file(NULL, v), VAS_ERROR_INVALID_HANDLE);
    CHECK_FAILS_CLEAN(&f, vas_flush_view_of_file(NULL, v, 0), VAS_ERROR_INVALID_HANDLE);
    UNMAP(f.p, v);
    CLOSE(h);
    fx_close(&f);
}

/* Facts 94, 95 and 47: UnmapViewOfFile takes any address inside the view (view+100, +4096,
   +4196 of a 3-page view) and removes all of it; the range is then MEM_FREE {AllocationBase 0,
   AllocationProtect 0, Protect PAGE_NOACCESS, Type 0} and reading it faults. */
static void fact_94_95_unmap_from_an_interior_address(void)
{
    fx f = fx_open();
    vas_section *h = create_ok(f.m, NULL, RW, 0x3000, NULL);
    static const uint64_t inside[] = {100, 4096, 4196, 0x2FFF};
    for (size_t i = 0; i < sizeof inside / sizeof inside[0]; i++) {
        uint64_t v = map_ok(f.p, h, M_WRITE, 0, 0);
        WRITE32(f.p, v + 0x2000, 94);
        CHECK(vas_unmap_view_of_file(f.p, v + inside[i]));
        CHECK_FREE(f.p, v);
        CHECK_FREE(f.p, v + 0x2000);
        CHECK_READ_FAULT(f.p, v);
        CHECK_READ_FAULT(f.p, v + 0x2000);
        vas_memory_region_information info;
        memset(&info, 0xCC, sizeof info);
        CHECK_EQ(vas_nt_query_region_information(f.p, v, &info), VAS_STATUS_INVALID_ADDRESS);
        CHECK_EQ(info.allocation_base, 0xCCCCCCCCCCCCCCCCull); /* untouched (fact 53) */
    }
    CLOSE(h);
    fx_close(&f);
}

/* Wine's test_MapViewOfFile: UnmapViewOfFile of what is not a view fails with
   ERROR_INVALID_ADDRESS: private memory at its base or inside, 0xdeadbeef, a view already
   unmapped, NULL, a kernel address. */
static void unmap_what_is_not_a_view(void)
{
    fx f = fx_open();
    uint64_t a = vas_virtual_alloc(f.p, 0, GRAN, RESERVE | COMMIT, RW);
    CHECK(a != 0);
    CHECK_FAILS_CLEAN(&f, vas_unmap_view_of_file(f.p, a), VAS_ERROR_INVALID_ADDRESS);
    CHECK_FAILS_CLEAN(&f, vas_unmap_view_of_file(f.p, a + 0x3000), VAS_ERROR_INVALID_ADDRESS);
    CHECK_FAILS_CLEAN(&f, vas_unmap_view_of_file(f.p, 0xdeadbeef), VAS_ERROR_INVALID_ADDRESS);
    CHECK_FAILS_CLEAN(&f, vas_unmap_view_of_file(f.p, 0), VAS_ERROR_INVALID_ADDRESS);
    CHECK_FAILS_CLEAN(&f, vas_unmap_view_of_file(f.p, KERNEL_ADDRESS), VAS_ERROR_INVALID_ADDRESS);
    CHECK_FAILS_CLEAN(&f, vas_unmap_view_of_file(f.p, UINT64_MAX), VAS_ERROR_INVALID_ADDRESS);
    vas_section *h = create_ok(f.m, NULL, RW, GRAN, NULL);
    uint64_t v = map_ok(f.p, h, M_WRITE, 0, 0);
    UNMAP(f.p, v);
    CHECK_FAILS_CLEAN(&f, vas_unmap_view_of_file(f.p, v), VAS_ERROR_INVALID_ADDRESS);
    /* A view of another process is not this process's. */
    vas_process *q = second_process(f.m);
    uint64_t w = map_ok(q, h, M_WRITE, 0, 0);
    if (vq(f.p, w).state == VAS_MEM_FREE)
        CHECK_FAILS_CLEAN(&f, vas_unmap_view_of_file(f.p, w), VAS_ERROR_INVALID_ADDRESS);
    UNMAP(q, w);
    CLOSE(h);
    fx_close(&f);
}

/* Fact 97 and Wine's test_MapViewOfFile on SEC_RESERVE: a fresh view of a SEC_RESERVE section is
   {view, view, RW, the whole 0x100000, MEM_RESERVE, 0, MEM_MAPPED} and NtQuerySection says
   {0, SEC_RESERVE, 0x100000}. VirtualAlloc(MEM_COMMIT, PAGE_READONLY) through view A commits
   the section: A shows 0x10000 committed PAGE_READONLY, and view B (and any later view) the same
   pages committed with its own protection; the data is shared. Uncommitted pages fault, cannot
   be protected (487), and take only protections within the view's (87). */
static void fact_97_commit_through_one_view_is_shared(void)
{
    fx f = fx_open();
    vas_section *h = create_ok(f.m, NULL, RW | VAS_SEC_RESERVE, 0x100000, NULL);
    CHECK_SECTION_INFO(h, VAS_SEC_RESERVE, 0x100000);
    uint64_t a = map_ok(f.p, h, M_WRITE, 0, 0), b = map_ok(f.p, h, M_WRITE, 0, 0);
    CHECK(a != b);
    CHECK_MBI(vq(f.p, a), a, a, RW, 0x100000, RESERVE, 0, MAPPED);
    CHECK_MBI(vq(f.p, b), b, b, RW, 0x100000, RESERVE, 0, MAPPED);
    CHECK_READ_FAULT(f.p, a);
    CHECK_WRITE_FAULT(f.p, b + 0x5000);
    uint32_t old = 0;
    CHECK_FAILS_CLEAN(&f, vas_virtual_protect(f.p, a, 0x1000, RO, &old), VAS_ERROR_INVALID_ADDRESS);
    CHECK_FAILS_CLEAN(&f, vas_virtual_alloc(f.p, a, 0x10000, COMMIT, ERW), VAS_ERROR_INVALID_PARAMETER);

    CHECK_EQ(vas_virtual_alloc(f.p, a, 0x10000, COMMIT, RO), a);
    CHECK_MBI(vq(f.p, a), a, a, RW, 0x10000, COMMIT, RO, MAPPED);
    CHECK_MBI(vq(f.p, a + 0x10000), a + 0x10000, a, RW, 0xF0000, RESERVE, 0, MAPPED);
    CHECK_MBI(vq(f.p, b), b, b, RW, 0x10000, COMMIT, RW, MAPPED);
    CHECK_MBI(vq(f.p, b + 0x10000), b + 0x10000, b, RW, 0xF0000, RESERVE, 0, MAPPED);
    WRITE32(f.p, b + 0x100, 97);
    CHECK_READ32(f.p, a + 0x100, 97);
    CHECK_WRITE_FAULT(f.p, a + 0x100);
    uint64_t c = map_ok(f.p, h, M_READ, 0, 0);
    CHECK_MBI(vq(f.p, c), c, c, RO, 0x10000, COMMIT, RO, MAPPED);
    CHECK_READ32(f.p, c + 0x100, 97);

    /* Committing through B in the middle: A sees it too, with its own protection. */
    CHECK_EQ(vas_virtual_alloc(f.p, b + 0x20000, 0x1000, COMMIT, RW), b + 0x20000);
    CHECK_MBI(vq(f.p, a + 0x20000), a + 0x20000, a, RW, 0x1000, COMMIT, RW, MAPPED);
    CHECK_MBI(vq(f.p, a + 0x10000), a + 0x10000, a, RW, 0x10000, RESERVE, 0, MAPPED);
    CHECK_MBI(vq(f.p, c + 0x20000), c + 0x20000, c, RO, 0x1000, COMMIT, RO, MAPPED);
    UNMAP(f.p, a);
    UNMAP(f.p, b);
    UNMAP(f.p, c);
    CLOSE(h);
    fx_close(&f);
}

/* Fact 98 and Wine's SEC_NOCACHE case: on a committed view, MEM_COMMIT is a protection change:
   VirtualAlloc(view, 0x10000, MEM_COMMIT, PAGE_READONLY) returns the view, whose first 0x10000
   bytes are then PAGE_READONLY under AllocationProtect PAGE_READWRITE. Views of a
   SEC_COMMIT|SEC_NOCACHE section are PAGE_READWRITE|PAGE_NOCACHE (0x204), and keep the modifier
   through such a commit (0x202); SEC_WRITECOMBINE likewise with PAGE_WRITECOMBINE. */
static void fact_98_commit_on_a_committed_view_protects(void)
{
    fx f = fx_open();
    vas_section *h = create_ok(f.m, NULL, RW | VAS_SEC_COMMIT, 0x100000, NULL);
    uint64_t v = map_ok(f.p, h, M_WRITE, 0, 0);
    CHECK_MBI(vq(f.p, v), v, v, RW, 0x100000, COMMIT, RW, MAPPED);
    uint64_t total = commit_total(f.m);
    CHECK_EQ(vas_virtual_alloc(f.p, v, 0x10000, COMMIT, RO), v);
    CHECK_MBI(vq(f.p, v), v, v, RW, 0x10000, COMMIT, RO, MAPPED);
    CHECK_MBI(vq(f.p, v + 0x10000), v + 0x10000, v, RW, 0xF0000, COMMIT, RW, MAPPED);
    CHECK_EQ(commit_total(f.m), total); /* nothing new is committed */
    UNMAP(f.p, v);
    CLOSE(h);

    h = create_ok(f.m, NULL, RW | VAS_SEC_COMMIT | VAS_SEC_NOCACHE, 0x100000, NULL);
    v = map_ok(f.p, h, M_WRITE, 0, 0);
    CHECK_MBI(vq(f.p, v), v, v, RW | VAS_PAGE_NOCACHE, 0x100000, COMMIT, RW | VAS_PAGE_NOCACHE, MAPPED);
    CHECK_EQ(vas_virtual_alloc(f.p, v, 0x10000, COMMIT, RO), v);
    CHECK_MBI(vq(f.p, v), v, v, RW | VAS_PAGE_NOCACHE, 0x10000, COMMIT, RO | VAS_PAGE_NOCACHE, MAPPED);
    UNMAP(f.p, v);
    CLOSE(h);

    h = create_ok(f.m, NULL, RW | VAS_SEC_COMMIT | VAS_SEC_WRITECOMBINE, 0x100000, NULL);
    v = map_ok(f.p, h, M_WRITE, 0, 0);
    CHECK_MBI(vq(f.p, v), v, v, RW | VAS_PAGE_WRITECOMBINE, 0x100000, COMMIT, RW | VAS_PAGE_WRITECOMBINE, MAPPED);
    UNMAP(f.p, v);
    CLOSE(h);
    fx_close(&f);
}

/* Fact 100: views of file sections refuse VirtualAlloc(MEM_COMMIT) with ERROR_ACCESS_DENIED,
   whatever the protection, even the view's own. */
static void fact_100_file_views_refuse_commit(void)
{
    fx f = fx_open();
    tmp_path file = make_file("100.bin", 0x2000);
    for (int c = 0; c < 6; c++) {
        vas_section *h = create_ok(f.m, file.s, six_sections[c], 0, NULL);
        for (int k = 0; k < 7; k++) {
            uint32_t view = table_view(one_access_per_view[k], c);
            if (view == DENIED)
                continue;
            uint64_t v = map_ok(f.p, h, one_access_per_view[k], 0, 0);
            for (int i = 0; i < 8; i++)
                CHECK_FAILS_CLEAN(&f, vas_virtual_alloc(f.p, v, 0x1000, COMMIT, all_eight[i]), VAS_ERROR_ACCESS_DENIED);
            CHECK_FAILS_CLEAN(&f, vas_virtual_alloc(f.p, v, 0x2000, COMMIT, view), VAS_ERROR_ACCESS_DENIED);
            UNMAP(f.p, v);
        }
        CLOSE(h);
    }
    CHECK(host_holds_pattern(&file, 0x2000));
    fx_close(&f);
}

/* Fact 101 (classes of fact 103): on a view of a paging-file section, VirtualAlloc(MEM_COMMIT,
   p) of a page succeeds exactly when p's access is within the view's protection, and the page
   then has protection p; otherwise 87. Every section protection, every view, every p. */
static void fact_101_commit_on_pagefile_views_table(void)
{
    fx f = fx_open();
    for (int c = 0; c < 6; c++) {
        vas_section *h = create_ok(f.m, NULL, six_sections[c], 0x2000, NULL);
        for (int k = 0; k < 7; k++) {
            uint32_t view = table_view(one_access_per_view[k], c);
            if (view == DENIED)
                continue;
            uint64_t v = map_ok(f.p, h, one_access_per_view[k], 0, 0);
            for (int i = 0; i < 8; i++) {
                uint32_t p = all_eight[i];
                if (within(p, view)) {
                    CHECK_EQ(vas_virtual_alloc(f.p, v, 0x1000, COMMIT, p), v);
                    vas_memory_basic_information m = vq(f.p, v);
                    CHECK_EQ(m.protect, p);
                    CHECK_EQ(m.allocation_protect, view);
                    CHECK_EQ(m.state, COMMIT);
                    CHECK_EQ(m.type, MAPPED);
                    CHECK_EQ(vq(f.p, v + 0x1000).protect, view);
                } else {
                    CHECK_FAILS_CLEAN(&f, vas_virtual_alloc(f.p, v, 0x1000, COMMIT, p), VAS_ERROR_INVALID_PARAMETER);
                }
            }
            UNMAP(f.p, v);
        }
        CLOSE(h);
    }
    fx_close(&f);
}

/* Wine's test_MapViewOfFile: VirtualFree(view, 0x10000, MEM_DECOMMIT) fails with 87 on views of
   SEC_RESERVE and SEC_COMMIT sections; views are released by UnmapViewOfFile only, so
   MEM_RELEASE fails the same way (STATUS_UNABLE_TO_DELETE_SECTION), on file views too. */
static void views_cannot_be_freed(void)
{
    fx f = fx_open();
    tmp_path file = make_file("free.bin", 0x10000);
    vas_section *sections[3] = {
        create_ok(f.m, NULL, RW | VAS_SEC_RESERVE, 0x100000, NULL),
        create_ok(f.m, NULL, RW | VAS_SEC_COMMIT, 0x100000, NULL),
        create_ok(f.m, file.s, RW, 0, NULL),
    };
    for (int i = 0; i < 3; i++) {
        uint64_t v = map_ok(f.p, sections[i], M_WRITE, 0, 0);
        if (i == 0)
            CHECK_EQ(vas_virtual_alloc(f.p, v, 0x10000, COMMIT, RW), v);
        CHECK_FAILS_CLEAN(&f, vas_virtual_free(f.p, v, 0x10000, VAS_MEM_DECOMMIT), VAS_ERROR_INVALID_PARAMETER);
        CHECK_FAILS_CLEAN(&f, vas_virtual_free(f.p, v, 0, VAS_MEM_DECOMMIT), VAS_ERROR_INVALID_PARAMETER);
        CHECK_FAILS_CLEAN(&f, vas_virtual_free(f.p, v, 0, VAS_MEM_RELEASE), VAS_ERROR_INVALID_PARAMETER);
        UNMAP(f.p, v);
        CLOSE(sections[i]);
    }
    fx_close(&f);
}

/* Fact 59: VirtualAlloc(view, 0x100000, MEM_RESET, PAGE_READONLY) returns the view, for a partly
   committed SEC_RESERVE view and for a SEC_COMMIT view; like MEM_RESET on private memory
   (fact 56) it changes no state and no protection. */
static void fact_59_mem_reset_on_views(void)
{
    fx f = fx_open();
    vas_section *reserve = create_ok(f.m, NULL, RW | VAS_SEC_RESERVE, 0x100000, NULL);
    vas_section *commit = create_ok(f.m, NULL, RW | VAS_SEC_COMMIT, 0x100000, NULL);
    uint64_t r = map_ok(f.p, reserve, M_WRITE, 0, 0), c = map_ok(f.p, commit, M_WRITE, 0, 0);
    CHECK_EQ(vas_virtual_alloc(f.p, r, 0x10000, COMMIT, RW), r);
    WRITE32(f.p, r, 59);
    WRITE32(f.p, c, 59);
    uint64_t views[2] = {r, c};
    for (int i = 0; i < 2; i++) {
        snapshot before, after;
        snap_take(&f, &before);
        CHECK_EQ(vas_virtual_alloc(f.p, views[i], 0x100000, VAS_MEM_RESET, RO), views[i]);
        snap_take(&f, &after);
        CHECK(same_regions(&before, &after));
        uint32_t value = 0;
        CHECK_EQ(vas_read(f.p, views[i], &value, sizeof value, NULL), VAS_STATUS_SUCCESS);
        CHECK(value == 59 || value == 0); /* the data is kept or dropped */
    }
    CHECK_MBI(vq(f.p, r), r, r, RW, 0x10000, COMMIT, RW, MAPPED);
    CHECK_MBI(vq(f.p, r + 0x10000), r + 0x10000, r, RW, 0xF0000, RESERVE, 0, MAPPED);
    CHECK_MBI(vq(f.p, c), c, c, RW, 0x100000, COMMIT, RW, MAPPED);
    UNMAP(f.p, r);
    UNMAP(f.p, c);
    CLOSE(reserve);
    CLOSE(commit);
    fx_close(&f);
}

/* FlushViewOfFile (documented): the modified pages of the range are in the file when it returns;
   size 0 means to the view's end, from any address inside it; views of paging-file sections and
   read-only views flush with nothing to write; an address in no view fails with 487. */
static void flush_view_of_file(void)
{
    fx f = fx_open();
    tmp_path file = make_file("flush.bin", 0x3000);
    vas_section *h = create_ok(f.m, file.s, RW, 0, NULL);
    uint64_t v = map_ok(f.p, h, M_WRITE, 0, 0);
    WRITE32(f.p, v + 0x10, 0xAABBCCDD);
    WRITE32(f.p, v + 0x2010, 0x11223344);
    CHECK(vas_flush_view_of_file(f.p, v, 0));
    CHECK_EQ(host_read32(&file, 0x10), 0xAABBCCDD);
    CHECK_EQ(host_read32(&file, 0x2010), 0x11223344);
    CHECK_EQ(host_read32(&file, 0x1010), pattern32(0x1010));
    WRITE32(f.p, v + 0x1010, 0x55667788);
    CHECK(vas_flush_view_of_file(f.p, v + 0x1010, 4));
    CHECK_EQ(host_read32(&file, 0x1010), 0x55667788);
    WRITE32(f.p, v + 0x2FFC, 0x99AABBCC);
    CHECK(vas_flush_view_of_file(f.p, v + 0x1800, 0));
    CHECK_EQ(host_read32(&file, 0x2FFC), 0x99AABBCC);
    CHECK(vas_flush_view_of_file(f.p, v, 0)); /* nothing left to write */
    uint64_t r = map_ok(f.p, h, M_READ, 0, 0);
    CHECK_READ32(f.p, r + 0x10, 0xAABBCCDD);
    CHECK(vas_flush_view_of_file(f.p, r, 0));
    CHECK_EQ(host_size(&file), 0x3000);

    vas_section *pf = create_ok(f.m, NULL, RW, 0x2000, NULL);
    uint64_t p = map_ok(f.p, pf, M_WRITE, 0, 0);
    WRITE32(f.p, p, 1);
    CHECK(vas_flush_view_of_file(f.p, p, 0));

    uint64_t a = vas_virtual_alloc(f.p, 0, 0x2000, RESERVE | COMMIT, RW);
    CHECK(a != 0);
    CHECK_FAILS_CLEAN(&f, vas_flush_view_of_file(f.p, a, 0), VAS_ERROR_INVALID_ADDRESS);
    CHECK_FAILS_CLEAN(&f, vas_flush_view_of_file(f.p, 0xdeadbeef, 0), VAS_ERROR_INVALID_ADDRESS);
    CHECK_FAILS_CLEAN(&f, vas_flush_view_of_file(f.p, KERNEL_ADDRESS, 0), VAS_ERROR_INVALID_ADDRESS);
    UNMAP(f.p, p);
    CHECK_FAILS_CLEAN(&f, vas_flush_view_of_file(f.p, p, 0), VAS_ERROR_INVALID_ADDRESS);
    UNMAP(f.p, v);
    UNMAP(f.p, r);
    CLOSE(h);
    CLOSE(pf);
    fx_close(&f);
}

/* A file view shows the file; the bytes of the last page past the file's end read as zero, and
   writes there never reach the file, which keeps its size (documented for CreateFileMapping).
   Modified pages are in the file once the views and the handles are gone. */
static void file_views_show_the_file(void)
{
    fx f = fx_open();
    tmp_path file = make_file("data.bin", 0x3452);
    vas_section *h = create_ok(f.m, file.s, RW, 0, NULL);
    uint64_t r = map_ok(f.p, h, M_READ, 0, 0);
    static uint8_t bytes[0x4000];
    CHECK_EQ(vas_read(f.p, r, bytes, sizeof bytes, NULL), VAS_STATUS_SUCCESS);
    int same = 1;
    for (uint64_t i = 0; i < 0x3452; i++)
        same &= bytes[i] == pattern(i);
    for (uint64_t i = 0x3452; i < 0x4000; i++)
        same &= bytes[i] == 0;
    CHECK(same);
    CHECK_WRITE_FAULT(f.p, r + 0x1234);
    uint64_t w = map_ok(f.p, h, M_WRITE, 0, 0);
    WRITE32(f.p, w + 0x100, 0x0BADF00D);
    WRITE32(f.p, w + 0x3460, 0x7E57DA7A);
    CHECK_READ32(f.p, r + 0x100, 0x0BADF00D);
    CHECK_READ32(f.p, r + 0x3460, 0x7E57DA7A);
    UNMAP(f.p, r);
    UNMAP(f.p, w);
    CLOSE(h);
    CHECK_EQ(host_size(&file), 0x3452);
    CHECK_EQ(host_read32(&file, 0x100), 0x0BADF00D);
    CHECK_EQ(host_read32(&file, 0x3000), pattern32(0x3000));
    fx_close(&f);
}

/* Views share the section's pages (facts 87, 97, 111 and Wine's test_shared_memory): two views
   in one process have different addresses and the same bytes; another process mapping the name
   sees them too, and its writes are seen; the data outlives the views while a handle lives. */
static void views_share_pages(void)
{
    fx f = fx_open();
    vas_section *h = create_ok(f.m, NULL, RW, 0x10000, "vas-shared");
    uint64_t v1 = map_ok(f.p, h, M_WRITE, 0, 0), v2 = map_ok(f.p, h, M_WRITE, 0, 0);
    CHECK(v1 != v2);
    WRITE32(f.p, v1 + 0x4000, 111);
    CHECK_READ32(f.p, v2 + 0x4000, 111);
    WRITE32(f.p, v2 + 0xFFFC, 112);
    CHECK_READ32(f.p, v1 + 0xFFFC, 112);

    vas_process *q = second_process(f.m);
    vas_section *o = open_ok(f.m, M_READ | M_WRITE, "vas-shared");
    uint64_t w = map_ok(q, o, M_WRITE, 0, 0);
    CHECK_READ32(q, w + 0x4000, 111);
    WRITE32(q, w, 113);
    CHECK_READ32(f.p, v1, 113);
    CHECK_READ32(f.p, v2, 113);

    UNMAP(f.p, v1);
    UNMAP(f.p, v2);
    UNMAP(q, w);
    uint64_t again = map_ok(q, o, M_READ, 0, 0);
    CHECK_READ32(q, again, 113);
    CHECK_READ32(q, again + 0xFFFC, 112);
    UNMAP(q, again);
    CLOSE(o);
    CLOSE(h);
    fx_close(&f);
}

/* Wine's kernel32 test_mapping (spec facts 102 and 104): the whole table of view protections by
   desired access and section protection, on file and paging-file sections. A view has
   Protect == AllocationProtect == the table's value over the whole view, MEM_COMMIT,
   MEM_MAPPED; a DENIED cell fails with ERROR_ACCESS_DENIED. FILE_MAP_ALL_ACCESS maps read-write
   (documented as FILE_MAP_WRITE) and so needs a writable section. */
static void table_view_protection_by_access(void)
{
    fx f = fx_open();
    tmp_path file = make_file("table-a.bin", 0x2000);
    for (int on_file = 0; on_file < 2; on_file++) {
        for (int c = 0; c < 6; c++) {
            vas_section *h = create_ok(f.m, on_file ? file.s : NULL, six_sections[c], on_file ? 0 : 0x2000, NULL);
            for (size_t i = 0; i < sizeof view_table / sizeof view_table[0]; i++) {
                uint32_t view = view_table[i].view[c];
                if (view == DENIED) {
                    CHECK_FAILS_CLEAN(&f, vas_map_view_of_file(f.p, h, view_table[i].access, 0, 0, 0),
                                      VAS_ERROR_ACCESS_DENIED);
                    continue;
                }
                uint64_t v = map_ok(f.p, h, view_table[i].access, 0, 0);
                CHECK_MBI(vq(f.p, v), v, v, view, 0x2000, COMMIT, view, MAPPED);
                UNMAP(f.p, v);
            }
            if (six_sections[c] == RW || six_sections[c] == ERW) {
                uint64_t v = map_ok(f.p, h, VAS_FILE_MAP_ALL_ACCESS, 0, 0);
                CHECK_MBI(vq(f.p, v), v, v, RW, 0x2000, COMMIT, RW, MAPPED);
                UNMAP(f.p, v);
            } else {
                CHECK_FAILS_CLEAN(&f, vas_map_view_of_file(f.p, h, VAS_FILE_MAP_ALL_ACCESS, 0, 0, 0),
                                  VAS_ERROR_ACCESS_DENIED);
            }
            CLOSE(h);
        }
    }
    CHECK(host_holds_pattern(&file, 0x2000));
    fx_close(&f);
}

/* What the view's protection lets a CPU do: nothing on a no-access view, no write on a
   read-only one (the exact address and kind are reported), execution only on executable views
   (64-bit processes always run with DEP), and a write on a write-copy one. */
static void view_protections_at_work(void)
{
    fx f = fx_open();
    tmp_path file = make_file("work.bin", 0x2000);
    vas_section *h = create_ok(f.m, file.s, ERW, 0, NULL);
    uint64_t na = map_ok(f.p, h, 0, 0, 0);
    CHECK_READ_FAULT(f.p, na + 0x1001);
    CHECK_WRITE_FAULT(f.p, na);
    uint64_t ro = map_ok(f.p, h, M_READ, 0, 0);
    CHECK_READ32(f.p, ro + 0x1000, pattern32(0x1000));
    CHECK_WRITE_FAULT(f.p, ro + 0x1FFF);
    CHECK_EXECUTE_FAULT(f.p, ro);
    uint64_t rw = map_ok(f.p, h, M_WRITE, 0, 0);
    CHECK_EXECUTE_FAULT(f.p, rw + 0x10);
    uint64_t er = map_ok(f.p, h, M_EXEC | M_READ, 0, 0);
    uint8_t code[4];
    CHECK_EQ(vas_execute(f.p, er + 0x1000, code, sizeof code, NULL), VAS_STATUS_SUCCESS);
    CHECK_EQ(code[0], pattern(0x1000));
    CHECK_WRITE_FAULT(f.p, er);
    uint64_t wc = map_ok(f.p, h, M_COPY, 0, 0);
    WRITE32(f.p, wc, 0xC0FFEE);
    CHECK_READ32(f.p, wc, 0xC0FFEE);
    CHECK_READ32(f.p, ro, pattern32(0));
    uint64_t views[5] = {na, ro, rw, er, wc};
    for (int i = 0; i < 5; i++)
        UNMAP(f.p, views[i]);
    CLOSE(h);
    CHECK(host_holds_pattern(&file, 0x2000));
    fx_close(&f);
}

/* Region calls stay inside one view, as inside one allocation (facts 45 and 58 for private
   memory): VirtualProtect, MEM_COMMIT and MEM_RESET over a range that runs past the view's end,
   into free memory or into the next view of the same section, fail with ERROR_INVALID_ADDRESS
   and change nothing; VirtualProtect writes PAGE_NOACCESS as the old protection. */
static void region_calls_stay_inside_one_view(void)
{
    fx f = fx_open();
    vas_section *h = create_ok(f.m, NULL, RW, GRAN, NULL);
    uint64_t hole = vas_virtual_alloc(f.p, 0, 3 * GRAN, RESERVE, NA);
    CHECK(hole != 0);
    CHECK(vas_virtual_free(f.p, hole, 0, VAS_MEM_RELEASE));
    uint64_t a = map_at(f.p, h, M_WRITE, 0, 0, hole), b = map_at(f.p, h, M_WRITE, 0, 0, hole + GRAN);
    CHECK_EQ(vq(f.p, hole + 2 * GRAN).state, VAS_MEM_FREE);
    uint64_t ends[2] = {a, b}; /* a ends at b; b ends at free memory */
    for (int i = 0; i < 2; i++) {
        uint64_t last = ends[i] + GRAN - PAGE;
        uint32_t old = 0xDEADBEEF;
        CHECK_FAILS_CLEAN(&f, vas_virtual_protect(f.p, last, 2 * PAGE, RO, &old), VAS_ERROR_INVALID_ADDRESS);
        CHECK_EQ(old, NA);
        CHECK_FAILS_CLEAN(&f, vas_virtual_alloc(f.p, last, 2 * PAGE, COMMIT, RO), VAS_ERROR_INVALID_ADDRESS);
        CHECK_FAILS_CLEAN(&f, vas_virtual_alloc(f.p, last, 2 * PAGE, VAS_MEM_RESET, RO), VAS_ERROR_INVALID_ADDRESS);
        CHECK(vas_virtual_protect(f.p, last, PAGE, RO, &old)); /* the view's own last page is fine */
        CHECK_EQ(old, RW);
    }
    UNMAP(f.p, a);
    UNMAP(f.p, b);
    CLOSE(h);
    fx_close(&f);
}

/* Views in a 32-bit process (WOW64, not large-address-aware) are placed below 2 GB, 64 KB
   aligned; a view that cannot fit in its address space fails with ERROR_NOT_ENOUGH_MEMORY
   (STATUS_NO_MEMORY) and changes nothing. */
static void views_in_a_32_bit_process(void)
{
    fx f = fx_open_layout("x64", 32, 0);
    vas_section *h = create_ok(f.m, NULL, RW | VAS_SEC_RESERVE, 3ull << 30, NULL);
    CHECK_FAILS_CLEAN(&f, vas_map_view_of_file(f.p, h, M_WRITE, 0, 0, 0), VAS_ERROR_NOT_ENOUGH_MEMORY);
    uint64_t v = map_ok(f.p, h, M_WRITE, 0, 0x100000);
    CHECK(v + 0x100000 <= 0x7FFF0000ull);
    CHECK_MBI(vq(f.p, v), v, v, RW, 0x100000, RESERVE, 0, MAPPED);
    UNMAP(f.p, v);
    CLOSE(h);
    fx_close(&f);
}

/* Section pages leave the working set and come back unchanged: shared pages of a paging-file
   section (through the paging file), of a file section (written to their file, never to a
   paging file, by the modified page writer), and private copies of write-copy pages. */
static void section_pages_survive_trimming(void)
{
    fx f = fx_open();
    tmp_path file = make_file("trim.bin", 0x10000);
    vas_section *pf = create_ok(f.m, NULL, RW, 0x10000, NULL), *fs = create_ok(f.m, file.s, RW, 0, NULL);
    uint64_t p = map_ok(f.p, pf, M_WRITE, 0, 0), w = map_ok(f.p, fs, M_WRITE, 0, 0);
    uint64_t c = map_ok(f.p, fs, M_COPY, 0, 0);
    for (uint64_t o = 0; o < 0x10000; o += PAGE) {
        WRITE32(f.p, p + o, (uint32_t)(0x1000000 + o));
        WRITE32(f.p, c + o + 8, (uint32_t)(0x2000000 + o));
    }
    WRITE32(f.p, w + 0x5000, 0x3000000);
    CHECK(vas_empty_working_set(f.p));
    vas_write_modified_pages(f.m);
    CHECK_EQ(host_read32(&file, 0x5000), 0x3000000);
    CHECK_EQ(host_read32(&file, 0x6008), pattern32(0x6008));
    for (uint64_t o = 0; o < 0x10000; o += PAGE) {
        CHECK_READ32(f.p, p + o, (uint32_t)(0x1000000 + o));
        CHECK_READ32(f.p, c + o + 8, (uint32_t)(0x2000000 + o));
        CHECK_READ32(f.p, c + o, pattern32(o)); /* copied before the shared write */
        CHECK_READ32(f.p, w + o + 8, pattern32(o + 8));
    }
    UNMAP(f.p, p);
    UNMAP(f.p, w);
    UNMAP(f.p, c);
    CLOSE(pf);
    CLOSE(fs);
    fx_close(&f);
}

/* ======================================================================================== */
/* K. Section / view protection compatibility and copy-on-write                              */
/* ======================================================================================== */

/* Fact 104's examples, on file sections: PAGE_WRITECOPY section + FILE_MAP_WRITE -> 5;
   PAGE_READONLY section + FILE_MAP_COPY -> a PAGE_WRITECOPY view; PAGE_READWRITE section +
   FILE_MAP_EXECUTE|FILE_MAP_READ -> 5. */
static void fact_104_section_protection_limits_views(void)
{
    fx f = fx_open();
    tmp_path file = make_file("104.bin", 0x1000);
    vas_section *wc = create_ok(f.m, file.s, WC, 0, NULL);
    CHECK_FAILS_CLEAN(&f, vas_map_view_of_file(f.p, wc, M_WRITE, 0, 0, 0), VAS_ERROR_ACCESS_DENIED);
    vas_section *ro = create_ok(f.m, file.s, RO, 0, NULL);
    uint64_t v = map_ok(f.p, ro, M_COPY, 0, 0);
    CHECK_MBI(vq(f.p, v), v, v, WC, 0x1000, COMMIT, WC, MAPPED);
    UNMAP(f.p, v);
    vas_section *rw = create_ok(f.m, file.s, RW, 0, NULL);
    CHECK_FAILS_CLEAN(&f, vas_map_view_of_file(f.p, rw, M_EXEC | M_READ, 0, 0, 0), VAS_ERROR_ACCESS_DENIED);
    /* A handle with every right is still bounded by the section's protection. */
    vas_section *named = create_ok(f.m, file.s, RO, 0, "vas-fact-104");
    vas_section *all = open_ok(f.m, VAS_FILE_MAP_ALL_ACCESS | M_EXEC, "vas-fact-104");
    CHECK_FAILS_CLEAN(&f, vas_map_view_of_file(f.p, all, M_WRITE, 0, 0, 0), VAS_ERROR_ACCESS_DENIED);
    CHECK_FAILS_CLEAN(&f, vas_map_view_of_file(f.p, all, M_EXEC | M_READ, 0, 0, 0), VAS_ERROR_ACCESS_DENIED);
    v = map_ok(f.p, all, M_READ, 0, 0);
    CHECK_MBI(vq(f.p, v), v, v, RO, 0x1000, COMMIT, RO, MAPPED);
    UNMAP(f.p, v);
    CLOSE(all);
    CLOSE(named);
    CLOSE(wc);
    CLOSE(ro);
    CLOSE(rw);
    fx_close(&f);
}

/* VirtualProtect on page 0 of a two-page view, in Wine's order NA, RO, RW, WC, X, ER, ERW, EWC:
   it succeeds exactly when the new protection's access is within the view's (fact 105's table),
   old is the protection reported before, Protect is what was asked, AllocationProtect and page 1
   never change; otherwise 87. Invalid values (0, two protections) are 87 on any view. */
static void protect_sequence_on_view(fx *f, uint64_t v, uint32_t view)
{
    uint32_t current = view;
    for (int i = 0; i < 8; i++) {
        uint32_t p = all_eight[i], old = 0xDEADBEEF;
        if (within(p, view)) {
            CHECK(vas_virtual_protect(f->p, v, 0x1000, p, &old));
            CHECK_EQ(old, current);
            current = p;
            CHECK_MBI(vq(f->p, v), v, v, view, p == view ? 0x2000 : 0x1000, COMMIT, p, MAPPED);
        } else {
            CHECK_FAILS_CLEAN(f, vas_virtual_protect(f->p, v, 0x1000, p, &old), VAS_ERROR_INVALID_PARAMETER);
        }
        CHECK_MBI(vq(f->p, v + 0x1000), v + 0x1000, v, view, 0x1000, COMMIT, view, MAPPED);
    }
    static const uint32_t invalid[] = {0, NA | RO, RO | RW, RW | EWC, EX | ER, 0xFF, WC | EWC};
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        uint32_t old;
        CHECK_FAILS_CLEAN(f, vas_virtual_protect(f->p, v, 0x1000, invalid[i], &old), VAS_ERROR_INVALID_PARAMETER);
    }
}

/* Wine's test_mapping (spec facts 103, 105, 107, 109): the VirtualProtect table on views of
   every kind, file and paging-file. Then, on every view that allows write-copy: both pages made
   PAGE_WRITECOPY and page 0 written -> page 0 alone is PAGE_READWRITE (a private copy), page 1
   still PAGE_WRITECOPY; asking write-copy again for page 0 reports PAGE_READWRITE, and
   execute-write-copy PAGE_EXECUTE_READWRITE, old always the previous value. None of it reaches
   the file (fact 110). */
static void table_virtual_protect_on_views(void)
{
    fx f = fx_open();
    tmp_path file = make_file("table-b.bin", 0x2000);
    for (int on_file = 0; on_file < 2; on_file++) {
        for (int c = 0; c < 6; c++) {
            vas_section *h = create_ok(f.m, on_file ? file.s : NULL, six_sections[c], on_file ? 0 : 0x2000, NULL);
            for (int k = 0; k < 7; k++) {
                uint32_t view = table_view(one_access_per_view[k], c);
                if (view == DENIED)
                    continue;
                uint64_t v = map_ok(f.p, h, one_access_per_view[k], 0, 0);
                protect_sequence_on_view(&f, v, view);
                if (view == NA) {
                    UNMAP(f.p, v);
                    continue;
                }
                uint32_t old = 0xDEADBEEF, before = vq(f.p, v).protect;
                CHECK(vas_virtual_protect(f.p, v, 0x2000, WC, &old));
                CHECK_EQ(old, before);
                CHECK_MBI(vq(f.p, v), v, v, view, 0x2000, COMMIT, WC, MAPPED);
                uint8_t byte = 0xB7;
                CHECK_EQ(vas_write(f.p, v + 0x10, &byte, 1, NULL), VAS_STATUS_SUCCESS);
                CHECK_MBI(vq(f.p, v), v, v, view, 0x1000, COMMIT, RW, MAPPED);
                CHECK_MBI(vq(f.p, v + 0x1000), v + 0x1000, v, view, 0x1000, COMMIT, WC, MAPPED);
                CHECK(vas_virtual_protect(f.p, v, 0x1000, WC, &old));
                CHECK_EQ(old, RW);
                CHECK_EQ(vq(f.p, v).protect, RW);
                uint32_t reported = RW;
                if (within(EWC, view)) {
                    CHECK(vas_virtual_protect(f.p, v, 0x1000, EWC, &old));
                    CHECK_EQ(old, RW);
                    CHECK_EQ(vq(f.p, v).protect, ERW);
                    reported = ERW;
                }
                CHECK(vas_virtual_protect(f.p, v, 0x1000, RO, &old));
                CHECK_EQ(old, reported);
                CHECK_EQ(vq(f.p, v).protect, RO);
                CHECK_READ32(f.p, v + 0x10, 0xB7u | (pattern32(0x10) & 0xFFFFFF00u) * on_file);
                UNMAP(f.p, v);
            }
            CLOSE(h);
        }
    }
    CHECK(host_holds_pattern(&file, 0x2000));
    fx_close(&f);
}

/* Fact 106: a FILE_MAP_READ view of a file section of any of the six protections is
   {PAGE_READONLY, PAGE_READONLY, one page, MEM_COMMIT, MEM_MAPPED}; VirtualProtect to
   PAGE_READONLY or PAGE_WRITECOPY (or PAGE_NOACCESS, fact 105) succeeds, anything else is 87 -
   the section's own protection included. */
static void fact_106_read_views_of_file_sections(void)
{
    fx f = fx_open();
    tmp_path file = make_file("106.bin", 0x1000);
    for (int c = 0; c < 6; c++) {
        vas_section *h = create_ok(f.m, file.s, six_sections[c], 0, NULL);
        uint64_t v = map_ok(f.p, h, M_READ, 0, 0);
        CHECK_MBI(vq(f.p, v), v, v, RO, 0x1000, COMMIT, RO, MAPPED);
        for (int i = 0; i < 8; i++) {
            uint32_t p = all_eight[i], old = 0;
            if (p == RO || p == WC || p == NA) {
                CHECK(vas_virtual_protect(f.p, v, 0x1000, p, &old));
                CHECK_EQ(vq(f.p, v).protect, p);
                CHECK(vas_virtual_protect(f.p, v, 0x1000, RO, &old));
                CHECK_EQ(old, p);
            } else {
                CHECK_FAILS_CLEAN(&f, vas_virtual_protect(f.p, v, 0x1000, p, &old), VAS_ERROR_INVALID_PARAMETER);
            }
        }
        CHECK_MBI(vq(f.p, v), v, v, RO, 0x1000, COMMIT, RO, MAPPED);
        UNMAP(f.p, v);
        CLOSE(h);
    }
    fx_close(&f);
}

/* Fact 107: a READ|WRITE|EXECUTE view of a PAGE_EXECUTE_READWRITE file section is ERW (the first
   VirtualProtect reports old = ERW); every single protection is then accepted (old = NA each
   time, Protect as asked) and every other value is 87. PAGE_WRITECOPY becomes PAGE_READWRITE on
   the first write, PAGE_EXECUTE_WRITECOPY becomes PAGE_EXECUTE_READWRITE. */
static void fact_107_copy_on_first_write(void)
{
    fx f = fx_open();
    tmp_path file = make_file("107.bin", 0x2000);
    vas_section *h = create_ok(f.m, file.s, ERW, 0, NULL);
    uint64_t v = map_ok(f.p, h, M_READ | M_WRITE | M_EXEC, 0, 0);
    uint32_t old = 0;
    CHECK(vas_virtual_protect(f.p, v, 0x1000, NA, &old));
    CHECK_EQ(old, ERW);
    CHECK_EQ(vq(f.p, v).allocation_protect, ERW);
    for (uint32_t p = 0; p <= 0xFF; p++) {
        if (single_protection(p)) {
            CHECK(vas_virtual_protect(f.p, v, 0x1000, p, &old));
            CHECK_EQ(old, NA);
            CHECK_MBI(vq(f.p, v), v, v, ERW, p == ERW ? 0x2000 : 0x1000, COMMIT, p, MAPPED); /* page 1 is ERW */
            CHECK(vas_virtual_protect(f.p, v, 0x1000, NA, &old));
            CHECK_EQ(old, p);
        } else {
            CHECK_FAILS_CLEAN(&f, vas_virtual_protect(f.p, v, 0x1000, p, &old), VAS_ERROR_INVALID_PARAMETER);
        }
    }
    CHECK(vas_virtual_protect(f.p, v, 0x1000, WC, &old));
    CHECK_EQ(vq(f.p, v).protect, WC);
    uint8_t byte = 1;
    CHECK_EQ(vas_write(f.p, v, &byte, 1, NULL), VAS_STATUS_SUCCESS);
    CHECK_MBI(vq(f.p, v), v, v, ERW, 0x1000, COMMIT, RW, MAPPED);
    CHECK(vas_virtual_protect(f.p, v, 0x1000, NA, &old));
    CHECK_EQ(old, RW);

    CHECK(vas_virtual_protect(f.p, v + 0x1000, 0x1000, EWC, &old));
    CHECK_EQ(old, ERW);
    CHECK_EQ(vq(f.p, v + 0x1000).protect, EWC);
    CHECK_EQ(vas_write(f.p, v + 0x1000, &byte, 1, NULL), VAS_STATUS_SUCCESS);
    CHECK_MBI(vq(f.p, v + 0x1000), v + 0x1000, v, ERW, 0x1000, COMMIT, ERW, MAPPED);
    CHECK(vas_virtual_protect(f.p, v + 0x1000, 0x1000, NA, &old));
    CHECK_EQ(old, ERW);
    UNMAP(f.p, v);
    CLOSE(h);
    CHECK(host_holds_pattern(&file, 0x2000));
    fx_close(&f);
}

/* Fact 109: a page that has its private copy keeps it: later requests are checked against
   AllocationProtect as before, PAGE_WRITECOPY is reported PAGE_READWRITE and
   PAGE_EXECUTE_WRITECOPY PAGE_EXECUTE_READWRITE, the rest as asked; old is always the previous
   VirtualQuery value; the copy's bytes stay. On a PAGE_READWRITE view execute requests stay 87. */
static void fact_109_a_copied_page_stays_private(void)
{
    fx f = fx_open();
    tmp_path file = make_file("109.bin", 0x1000);
    vas_section *h = create_ok(f.m, file.s, ERW, 0, NULL);
    uint64_t v = map_ok(f.p, h, M_READ | M_WRITE | M_EXEC, 0, 0);
    uint32_t old = 0;
    CHECK(vas_virtual_protect(f.p, v, 0x1000, WC, &old));
    WRITE32(f.p, v, 109);
    uint32_t previous = RW;
    for (int i = 0; i < 8; i++) {
        uint32_t p = all_eight[i], reported = p == WC ? RW : p == EWC ? ERW : p;
        CHECK(vas_virtual_protect(f.p, v, 0x1000, p, &old));
        CHECK_EQ(old, previous);
        CHECK_MBI(vq(f.p, v), v, v, ERW, 0x1000, COMMIT, reported, MAPPED);
        previous = reported;
    }
    CHECK(vas_virtual_protect(f.p, v, 0x1000, WC, &old));
    CHECK_READ32(f.p, v, 109);
    uint32_t other = 0;
    uint64_t second = map_ok(f.p, h, M_READ, 0, 0);
    CHECK_EQ(vas_read(f.p, second, &other, sizeof other, NULL), VAS_STATUS_SUCCESS);
    CHECK_EQ(other, pattern32(0)); /* the section's page is untouched */
    UNMAP(f.p, second);
    UNMAP(f.p, v);
    CLOSE(h);

    h = create_ok(f.m, file.s, RW, 0, NULL);
    v = map_ok(f.p, h, M_WRITE, 0, 0);
    CHECK(vas_virtual_protect(f.p, v, 0x1000, WC, &old));
    WRITE32(f.p, v, 1090);
    CHECK_EQ(vq(f.p, v).protect, RW);
    CHECK_FAILS_CLEAN(&f, vas_virtual_protect(f.p, v, 0x1000, EWC, &old), VAS_ERROR_INVALID_PARAMETER);
    CHECK_FAILS_CLEAN(&f, vas_virtual_protect(f.p, v, 0x1000, ER, &old), VAS_ERROR_INVALID_PARAMETER);
    CHECK(vas_virtual_protect(f.p, v, 0x1000, WC, &old));
    CHECK_EQ(old, RW);
    CHECK_MBI(vq(f.p, v), v, v, RW, 0x1000, COMMIT, RW, MAPPED);
    CHECK_READ32(f.p, v, 1090);
    UNMAP(f.p, v);
    CLOSE(h);
    CHECK(host_holds_pattern(&file, 0x1000));
    fx_close(&f);
}

/* Fact 110: what is written through write-copy pages never reaches the file: not through a
   FILE_MAP_COPY view, not through pages made PAGE_WRITECOPY, not by flushing, not when the views
   and the section go. Other views keep seeing the file. */
static void fact_110_copy_on_write_never_reaches_the_file(void)
{
    fx f = fx_open();
    tmp_path file = make_file("110.bin", 0x2000);
    vas_section *h = create_ok(f.m, file.s, RW, 0, NULL);
    uint64_t copy = map_ok(f.p, h, M_COPY, 0, 0);
    uint64_t shared = map_ok(f.p, h, M_WRITE, 0, 0);
    WRITE32(f.p, copy, 0);
    WRITE32(f.p, copy + 0x1000, 0);
    CHECK(vas_virtual_protect(f.p, shared + 0x1000, 0x1000, WC, &(uint32_t){0}));
    WRITE32(f.p, shared + 0x1004, 0);
    CHECK_READ32(f.p, shared, pattern32(0));
    CHECK_READ32(f.p, shared + 0x1000, pattern32(0x1000)); /* the copy started as the file's page */
    CHECK(vas_flush_view_of_file(f.p, copy, 0));
    CHECK(vas_flush_view_of_file(f.p, shared, 0));
    CHECK(host_holds_pattern(&file, 0x2000));
    vas_process *q = second_process(f.m);
    uint64_t other = map_ok(q, h, M_READ, 0, 0);
    CHECK_READ32(q, other, pattern32(0));
    CHECK_READ32(q, other + 0x1004, pattern32(0x1004));
    UNMAP(q, other);
    UNMAP(f.p, copy);
    UNMAP(f.p, shared);
    CLOSE(h);
    CHECK(host_holds_pattern(&file, 0x2000));
    fx_close(&f);
}

/* Fact 112: between processes, a child's FILE_MAP_READ|FILE_MAP_WRITE view (or
   FILE_MAP_COPY|FILE_MAP_WRITE, which is read-write) writes what the parent's FILE_MAP_READ view
   reads; a FILE_MAP_COPY view's write stays the child's. */
static void fact_112_write_visibility_between_processes(void)
{
    fx f = fx_open();
    vas_section *h = create_ok(f.m, NULL, RW, 0x1000, "vas-fact-112");
    uint64_t parent = map_ok(f.p, h, M_READ, 0, 0);
    vas_process *child = second_process(f.m);
    vas_section *o = open_ok(f.m, VAS_FILE_MAP_ALL_ACCESS, "vas-fact-112");
    uint64_t rw = map_ok(child, o, M_READ | M_WRITE, 0, 0);
    WRITE32(child, rw, 0xDEADBEEF);
    CHECK_READ32(f.p, parent, 0xDEADBEEF);
    uint64_t cw = map_ok(child, o, M_COPY | M_WRITE, 0, 0);
    CHECK_MBI(vq(child, cw), cw, cw, RW, 0x1000, COMMIT, RW, MAPPED);
    WRITE32(child, cw + 4, 0xCAFEBABE);
    CHECK_READ32(f.p, parent + 4, 0xCAFEBABE);
    uint64_t copy = map_ok(child, o, M_COPY, 0, 0);
    WRITE32(child, copy + 8, 0x12345678);
    CHECK_READ32(child, copy + 8, 0x12345678);
    CHECK_READ32(child, copy, 0xDEADBEEF);
    CHECK_READ32(f.p, parent + 8, 0);
    CHECK_READ32(child, rw + 8, 0);
    UNMAP(child, rw);
    UNMAP(child, cw);
    UNMAP(child, copy);
    UNMAP(f.p, parent);
    CLOSE(o);
    CLOSE(h);
    fx_close(&f);
}

/* Fact 113 and Wine's test_query_region_information: MemoryRegionInformation of a paging-file
   view: a PAGE_READONLY view is {AllocationProtect RO, MEM_MAPPED, RegionSize 4096,
   CommitSize 0}; a PAGE_WRITECOPY view has CommitSize 4096 before and after a write; a
   PAGE_READWRITE view 0 after a write. */
static void fact_113_commit_size_of_views(void)
{
    fx f = fx_open();
    vas_section *h = create_ok(f.m, NULL, RW, 0x1000, NULL);
    vas_memory_region_information info;
    uint64_t ro = map_ok(f.p, h, M_READ, 0, 0);
    memset(&info, 0xCC, sizeof info);
    CHECK_EQ(vas_nt_query_region_information(f.p, ro, &info), VAS_STATUS_SUCCESS);
    CHECK_EQ(info.allocation_base, ro);
    CHECK_EQ(info.allocation_protect, RO);
    CHECK_EQ(info.region_type, MAPPED);
    CHECK_EQ(info.region_size, 4096);
    CHECK_EQ(info.commit_size, 0);

    uint64_t wc = map_ok(f.p, h, M_COPY, 0, 0);
    CHECK_EQ(vas_nt_query_region_information(f.p, wc, &info), VAS_STATUS_SUCCESS);
    CHECK_EQ(info.allocation_protect, WC);
    CHECK_EQ(info.commit_size, 4096);
    WRITE32(f.p, wc, 113);
    CHECK_EQ(vas_nt_query_region_information(f.p, wc + 0x800, &info), VAS_STATUS_SUCCESS);
    CHECK_EQ(info.allocation_base, wc);
    CHECK_EQ(info.commit_size, 4096);

    uint64_t rw = map_ok(f.p, h, M_WRITE, 0, 0);
    WRITE32(f.p, rw, 1);
    CHECK_EQ(vas_nt_query_region_information(f.p, rw, &info), VAS_STATUS_SUCCESS);
    CHECK_EQ(info.allocation_protect, RW);
    CHECK_EQ(info.region_size, 4096);
    CHECK_EQ(info.commit_size, 0);
    CHECK_READ32(f.p, ro, 1);
    UNMAP(f.p, ro);
    UNMAP(f.p, wc);
    UNMAP(f.p, rw);
    CLOSE(h);
    fx_close(&f);
}

/* ======================================================================================== */
/* Commit charge of sections and views (as Windows charges it)                               */
/* ======================================================================================== */

/* A SEC_COMMIT paging-file section charges the system's commit for all its pages when it is
   created - no process's - and gives it back when the section goes: its last handle closed
   and its last view unmapped, by UnmapViewOfFile or by its process's end. */
static void commit_of_sec_commit_sections(void)
{
    fx f = fx_open();
    uint64_t base = commit_total(f.m), charge = process_charge(f.p);
    vas_section *h = create_ok(f.m, NULL, RW | VAS_SEC_COMMIT, 0x100000, "vas-commit");
    CHECK_EQ(commit_total(f.m), base + 0x100000);
    CHECK_EQ(process_charge(f.p), charge);
    vas_section *o = open_ok(f.m, M_WRITE, "vas-commit");
    uint64_t v = map_ok(f.p, h, M_WRITE, 0, 0);
    for (uint64_t a = v; a < v + 0x100000; a += 0x10000)
        WRITE32(f.p, a, 1);
    CHECK_EQ(commit_total(f.m), base + 0x100000);
    CHECK_EQ(process_charge(f.p), charge);
    CLOSE(h);
    CHECK_EQ(commit_total(f.m), base + 0x100000);
    CLOSE(o);
    CHECK_EQ(commit_total(f.m), base + 0x100000); /* the view keeps the section */
    UNMAP(f.p, v);
    CHECK_EQ(commit_total(f.m), base);

    /* Whole pages: 4090 bytes charge 4096. */
    h = create_ok(f.m, NULL, RW, 4090, NULL);
    CHECK_EQ(commit_total(f.m), base + 4096);
    CLOSE(h);
    CHECK_EQ(commit_total(f.m), base);

    /* A process's end unmaps its views. */
    vas_process *q = second_process(f.m);
    h = create_ok(f.m, NULL, RW, 0x20000, NULL);
    v = map_ok(q, h, M_WRITE, 0, 0);
    WRITE32(q, v, 2);
    uint64_t copy = map_ok(q, h, M_COPY, 0, 0);
    WRITE32(q, copy + 0x1000, 3);
    CLOSE(h);
    CHECK_EQ(commit_total(f.m), base + 0x20000 + 0x20000); /* the section, and the copy view's charge */
    vas_process_destroy(q);
    CHECK_EQ(commit_total(f.m), base);
    fx_close(&f);
}

/* A SEC_RESERVE section charges nothing when created or mapped; VirtualAlloc(MEM_COMMIT) through
   a view charges the system for the pages newly committed (pages committed already, through any
   view, are not charged again), not the process; the charge goes with the section. */
static void commit_of_sec_reserve_sections(void)
{
    fx f = fx_open();
    uint64_t base = commit_total(f.m), charge = process_charge(f.p);
    vas_section *h = create_ok(f.m, NULL, RW | VAS_SEC_RESERVE, 0x100000, NULL);
    uint64_t a = map_ok(f.p, h, M_WRITE, 0, 0), b = map_ok(f.p, h, M_WRITE, 0, 0);
    CHECK_EQ(commit_total(f.m), base);
    CHECK_EQ(vas_virtual_alloc(f.p, a, 0x10000, COMMIT, RW), a);
    CHECK_EQ(commit_total(f.m), base + 0x10000);
    CHECK_EQ(process_charge(f.p), charge);
    CHECK_EQ(vas_virtual_alloc(f.p, a, 0x10000, COMMIT, RO), a);
    CHECK_EQ(vas_virtual_alloc(f.p, b, 0x8000, COMMIT, RW), b);
    CHECK_EQ(commit_total(f.m), base + 0x10000);
    CHECK_EQ(vas_virtual_alloc(f.p, b + 0x8000, 0x10000, COMMIT, RW), b + 0x8000);
    CHECK_EQ(commit_total(f.m), base + 0x18000);
    CHECK_EQ(process_charge(f.p), charge);
    UNMAP(f.p, a);
    UNMAP(f.p, b);
    CHECK_EQ(commit_total(f.m), base + 0x18000); /* the handle keeps the section */
    a = map_ok(f.p, h, M_READ, 0, 0);
    CHECK_MBI(vq(f.p, a), a, a, RO, 0x18000, COMMIT, RO, MAPPED);
    UNMAP(f.p, a);
    CLOSE(h);
    CHECK_EQ(commit_total(f.m), base);
    fx_close(&f);
}

/* A FILE_MAP_COPY view charges its process (and so the system) for the whole view when it is
   mapped - any page may become a private copy - and writing does not charge more; unmapping
   gives it back. The same for a file section. Shared views charge no process. */
static void commit_of_copy_on_write_views(void)
{
    fx f = fx_open();
    tmp_path file = make_file("commit-copy.bin", 0x30000);
    vas_section *sections[2] = {create_ok(f.m, NULL, RW, 0x30000, NULL), create_ok(f.m, file.s, RW, 0, NULL)};
    for (int i = 0; i < 2; i++) {
        uint64_t base = commit_total(f.m), charge = process_charge(f.p);
        uint64_t shared = map_ok(f.p, sections[i], M_WRITE, 0, 0);
        CHECK_EQ(commit_total(f.m), base);
        CHECK_EQ(process_charge(f.p), charge);
        uint64_t v = map_ok(f.p, sections[i], M_COPY, 0x10000, 0);
        CHECK_EQ(process_charge(f.p), charge + 0x20000);
        CHECK_EQ(commit_total(f.m), base + 0x20000);
        vas_process_memory_counters pmc;
        CHECK(vas_get_process_memory_info(f.p, &pmc));
        CHECK_EQ(pmc.pagefile_usage, charge + 0x20000);
        for (uint64_t a = v; a < v + 0x20000; a += 0x1000)
            WRITE32(f.p, a, 7);
        CHECK_EQ(process_charge(f.p), charge + 0x20000);
        CHECK_EQ(commit_total(f.m), base + 0x20000);
        UNMAP(f.p, v);
        CHECK_EQ(process_charge(f.p), charge);
        CHECK_EQ(commit_total(f.m), base);
        CHECK_READ32(f.p, shared + 0x10000, i ? pattern32(0x10000) : 0);
        UNMAP(f.p, shared);
        CLOSE(sections[i]);
    }
    CHECK(host_holds_pattern(&file, 0x30000));
    fx_close(&f);
}

/* File sections charge no commit: their file backs them, whatever is mapped or written. */
static void commit_of_file_sections_is_none(void)
{
    fx f = fx_open();
    uint64_t base = commit_total(f.m), charge = process_charge(f.p);
    tmp_path file = make_file("commit-file.bin", 0x40000);
    vas_section *h = create_ok(f.m, file.s, RW, 0, NULL);
    uint64_t v = map_ok(f.p, h, M_WRITE, 0, 0), r = map_ok(f.p, h, M_READ, 0, 0);
    for (uint64_t a = v; a < v + 0x40000; a += 0x1000)
        WRITE32(f.p, a, 3);
    CHECK(vas_flush_view_of_file(f.p, v, 0));
    CHECK_EQ(commit_total(f.m), base);
    CHECK_EQ(process_charge(f.p), charge);
    UNMAP(f.p, v);
    UNMAP(f.p, r);
    CLOSE(h);
    CHECK_EQ(commit_total(f.m), base);
    CHECK_EQ(host_read32(&file, 0x3F000), 3);
    fx_close(&f);
}

/* At the commit limit: a SEC_COMMIT section larger than the commit left fails with
   ERROR_COMMITMENT_LIMIT (1455); a SEC_RESERVE one of that size is created, but committing all
   of it through a view, or mapping it copy-on-write, fails with 1455. Nothing changes. */
static void commit_limit_of_sections(void)
{
    vas_machine_config mc = {0};
    mc.ram_bytes = 64ull << 20;
    mc.pagefile_bytes = 16ull << 20;
    fx f = fx_open_with(&mc, NULL);
    uint64_t left = status_of(f.m).avail_commit, too_much = (left | 0xFFFF) + 1 + GRAN;
    CHECK_FAILS_CLEAN(&f, PTR(vas_create_file_mapping(f.m, NULL, RW | VAS_SEC_COMMIT, too_much, NULL)),
                      VAS_ERROR_COMMITMENT_LIMIT);
    CHECK_FAILS_CLEAN(&f, PTR(vas_create_file_mapping(f.m, NULL, RW, too_much, "vas-limit")),
                      VAS_ERROR_COMMITMENT_LIMIT);
    CHECK_FAILS_CLEAN(&f, PTR(vas_open_file_mapping(f.m, M_READ, "vas-limit")), VAS_ERROR_FILE_NOT_FOUND);
    vas_section *h = create_ok(f.m, NULL, RW | VAS_SEC_RESERVE, too_much, NULL);
    uint64_t v = map_ok(f.p, h, M_WRITE, 0, 0);
    CHECK_FAILS_CLEAN(&f, vas_virtual_alloc(f.p, v, too_much, COMMIT, RW), VAS_ERROR_COMMITMENT_LIMIT);
    CHECK_FAILS_CLEAN(&f, vas_map_view_of_file(f.p, h, M_COPY, 0, 0, 0), VAS_ERROR_COMMITMENT_LIMIT);
    CHECK_EQ(vas_virtual_alloc(f.p, v, 0x10000, COMMIT, RW), v);
    WRITE32(f.p, v, 1);
    UNMAP(f.p, v);
    CLOSE(h);
    CHECK_EQ(status_of(f.m).avail_commit, left);
    fx_close(&f);
}

/* ======================================================================================== */
/* N. ReadProcessMemory / WriteProcessMemory                                                 */
/* The caller's buffer is host memory: Wine's cases of an inaccessible local buffer (pages of   */
/* it PAGE_NOACCESS) cannot be expressed and are not tested.                                   */
/* ======================================================================================== */

static uint8_t rpm_out[0x20000], rpm_in[0x20000];

static void fill_out(uint8_t seed)
{
    for (size_t i = 0; i < sizeof rpm_out; i++)
        rpm_out[i] = (uint8_t)(seed + i * 7 + (i >> 12));
}

/* The process's bytes [a, a+size) equal rpm_out[from, from+size). */
static int guest_holds(vas_process *p, uint64_t a, size_t from, size_t size)
{
    memset(rpm_in, 0xEE, size);
    if (vas_read(p, a, rpm_in, size, NULL) != VAS_STATUS_SUCCESS)
        return 0;
    return memcmp(rpm_in, rpm_out + from, size) == 0;
}

static int guest_is_zero(vas_process *p, uint64_t a, size_t size)
{
    memset(rpm_in, 0xEE, size);
    if (vas_read(p, a, rpm_in, size, NULL) != VAS_STATUS_SUCCESS)
        return 0;
    for (size_t i = 0; i < size; i++)
        if (rpm_in[i])
            return 0;
    return 1;
}

/* Wine's test_VirtualAllocEx: 0x8000 bytes of PAGE_EXECUTE_READWRITE memory are written and read
   back whole, through the Win32 and the native calls, which report every byte. The count may be
   NULL. */
static void rpm_wpm_whole_region(void)
{
    fx f = fx_open();
    uint64_t a = vas_virtual_alloc(f.p, 0, 0x8000, RESERVE | COMMIT, ERW);
    CHECK(a != 0);
    fill_out(1);
    size_t n = 0xDEAD;
    CHECK(vas_write_process_memory(f.p, a, rpm_out, 0x8000, &n));
    CHECK_EQ(n, 0x8000);
    memset(rpm_in, 0, 0x8000);
    n = 0xDEAD;
    CHECK(vas_read_process_memory(f.p, a, rpm_in, 0x8000, &n));
    CHECK_EQ(n, 0x8000);
    CHECK(memcmp(rpm_in, rpm_out, 0x8000) == 0);

    fill_out(2);
    n = 0xDEAD;
    CHECK_EQ(vas_nt_write_virtual_memory(f.p, a, rpm_out, 0x8000, &n), VAS_STATUS_SUCCESS);
    CHECK_EQ(n, 0x8000);
    n = 0xDEAD;
    memset(rpm_in, 0, 0x8000);
    CHECK_EQ(vas_nt_read_virtual_memory(f.p, a, rpm_in, 0x8000, &n), VAS_STATUS_SUCCESS);
    CHECK_EQ(n, 0x8000);
    CHECK(memcmp(rpm_in, rpm_out, 0x8000) == 0);

    fill_out(3);
    CHECK(vas_write_process_memory(f.p, a + 0x123, rpm_out, 0x4321, NULL));
    CHECK(vas_read_process_memory(f.p, a + 0x123, rpm_in, 0x4321, NULL));
    CHECK(memcmp(rpm_in, rpm_out, 0x4321) == 0);
    CHECK_MBI(vq(f.p, a), a, a, ERW, 0x8000, COMMIT, ERW, PRIVATE);
    fx_close(&f);
}

/* Fact 122 and Wine's test_VirtualAllocEx: WriteProcessMemory into PAGE_READONLY memory fails
   with ERROR_NOACCESS (998), writes nothing and leaves the count alone; so do no-access,
   reserved and free pages. Into PAGE_EXECUTE_READ (or PAGE_EXECUTE) memory it succeeds with every
   byte and the protection is as before. NtWriteVirtualMemory does not lift protections: both
   give STATUS_PARTIAL_COPY with 0 bytes. */
static void fact_122_wpm_read_only_and_execute_read(void)
{
    fx f = fx_open();
    fill_out(4);
    uint64_t ro = vas_virtual_alloc(f.p, 0, 0x8000, RESERVE | COMMIT, RO);
    CHECK(ro != 0);
    size_t n = 0x1234;
    CHECK_FAILS_CLEAN(&f, vas_write_process_memory(f.p, ro, rpm_out, 0x8000, &n), VAS_ERROR_NOACCESS);
    CHECK_EQ(n, 0x1234);
    CHECK_FAILS_CLEAN(&f, vas_write_process_memory(f.p, ro + 0x10, rpm_out, 4, &n), VAS_ERROR_NOACCESS);
    CHECK_EQ(n, 0x1234);
    CHECK_EQ(vas_nt_write_virtual_memory(f.p, ro, rpm_out, 0x8000, &n), VAS_STATUS_PARTIAL_COPY);
    CHECK_EQ(n, 0);
    CHECK(guest_is_zero(f.p, ro, 0x8000));
    CHECK_MBI(vq(f.p, ro), ro, ro, RO, 0x8000, COMMIT, RO, PRIVATE);

    uint64_t na = vas_virtual_alloc(f.p, 0, 0x2000, RESERVE | COMMIT, NA);
    uint64_t reserved = vas_virtual_alloc(f.p, 0, 0x2000, RESERVE, RW);
    uint64_t freed = vas_virtual_alloc(f.p, 0, 0x2000, RESERVE, RW);
    CHECK(na && reserved && freed);
    CHECK(vas_virtual_free(f.p, freed, 0, VAS_MEM_RELEASE));
    uint64_t refused[3] = {na, reserved, freed};
    for (int i = 0; i < 3; i++) {
        n = 0x1234;
        CHECK_FAILS_CLEAN(&f, vas_write_process_memory(f.p, refused[i], rpm_out, 0x2000, &n), VAS_ERROR_NOACCESS);
        CHECK_EQ(n, 0x1234);
    }

    uint64_t er = vas_virtual_alloc(f.p, 0, 0x8000, RESERVE | COMMIT, ER);
    CHECK(er != 0);
    uint64_t charge = process_charge(f.p);
    n = 0;
    CHECK(vas_write_process_memory(f.p, er, rpm_out, 0x8000, &n));
    CHECK_EQ(n, 0x8000);
    CHECK_MBI(vq(f.p, er), er, er, ER, 0x8000, COMMIT, ER, PRIVATE);
    CHECK(guest_holds(f.p, er, 0, 0x8000));
    CHECK_EQ(process_charge(f.p), charge);
    fill_out(5);
    n = 0x1234;
    CHECK_EQ(vas_nt_write_virtual_memory(f.p, er, rpm_out, 0x8000, &n), VAS_STATUS_PARTIAL_COPY);
    CHECK_EQ(n, 0);
    fill_out(4);
    CHECK(guest_holds(f.p, er, 0, 0x8000));
    CHECK_WRITE_FAULT(f.p, er);

    uint64_t x = vas_virtual_alloc(f.p, 0, 0x2000, RESERVE | COMMIT, EX);
    CHECK(x != 0);
    n = 0;
    CHECK(vas_write_process_memory(f.p, x + 0x800, rpm_out, 0x1000, &n));
    CHECK_EQ(n, 0x1000);
    CHECK_MBI(vq(f.p, x), x, x, EX, 0x2000, COMMIT, EX, PRIVATE);
    CHECK_EQ(vas_execute(f.p, x + 0x800, rpm_in, 0x1000, NULL), VAS_STATUS_SUCCESS);
    CHECK(memcmp(rpm_in, rpm_out, 0x1000) == 0);
    fx_close(&f);
}

/* Section 3 item 9 (current Windows): a write stops at the first page it may not write. The
   first 0x2000 bytes PAGE_EXECUTE_READWRITE and the rest PAGE_EXECUTE_READ or PAGE_READONLY:
   WriteProcessMemory fails with ERROR_PARTIAL_COPY; NtWriteVirtualMemory reports
   STATUS_PARTIAL_COPY with 0x2000 bytes, which are written, and nothing after them. The same
   into no-access and reserved pages; protections are left as they were. */
static void wpm_stops_at_the_faulting_page(void)
{
    fx f = fx_open();
    static const uint32_t rests[] = {ER, RO, NA};
    for (int i = 0; i < 3; i++) {
        uint64_t a = vas_virtual_alloc(f.p, 0, 0x8000, RESERVE | COMMIT, ERW);
        CHECK(a != 0);
        uint32_t old;
        CHECK(vas_virtual_protect(f.p, a + 0x2000, 0x6000, rests[i], &old));
        fill_out((uint8_t)(10 + i));
        size_t n = 0xDEAD;
        CHECK_FAILS(vas_write_process_memory(f.p, a, rpm_out, 0x8000, &n), VAS_ERROR_PARTIAL_COPY);
        CHECK_EQ(n, 0x2000); /* kernel32 hands its count to NtWriteVirtualMemory */
        CHECK(guest_holds(f.p, a, 0, 0x2000));
        CHECK_MBI(vq(f.p, a), a, a, ERW, 0x2000, COMMIT, ERW, PRIVATE);
        CHECK_MBI(vq(f.p, a + 0x2000), a + 0x2000, a, ERW, 0x6000, COMMIT, rests[i], PRIVATE);
        if (rests[i] != NA)
            CHECK(guest_is_zero(f.p, a + 0x2000, 0x6000));
        fill_out((uint8_t)(20 + i));
        n = 0xDEAD;
        CHECK_EQ(vas_nt_write_virtual_memory(f.p, a, rpm_out, 0x8000, &n), VAS_STATUS_PARTIAL_COPY);
        CHECK_EQ(n, 0x2000);
        CHECK(guest_holds(f.p, a, 0, 0x2000));
        if (rests[i] != NA)
            CHECK(guest_is_zero(f.p, a + 0x2000, 0x6000));
        /* From the middle of a page: the bytes up to the bad page. */
        n = 0xDEAD;
        CHECK_EQ(vas_nt_write_virtual_memory(f.p, a + 0x1800, rpm_out, 0x1000, &n), VAS_STATUS_PARTIAL_COPY);
        CHECK_EQ(n, 0x800);
    }
    /* Into reserved pages, and across 21 pages of which the last cannot be written. */
    uint64_t r = vas_virtual_alloc(f.p, 0, GRAN, RESERVE, NA);
    CHECK_EQ(vas_virtual_alloc(f.p, r, 0x2000, COMMIT, RW), r);
    size_t n = 0;
    CHECK_EQ(vas_nt_write_virtual_memory(f.p, r, rpm_out, 0x3000, &n), VAS_STATUS_PARTIAL_COPY);
    CHECK_EQ(n, 0x2000);
    CHECK_FAILS(vas_write_process_memory(f.p, r, rpm_out, 0x3000, &n), VAS_ERROR_PARTIAL_COPY);
    CHECK_EQ(n, 0x2000);
    uint64_t big = vas_virtual_alloc(f.p, 0, 21 * PAGE, RESERVE | COMMIT, RW);
    uint32_t old;
    CHECK(vas_virtual_protect(f.p, big + 20 * PAGE, PAGE, RO, &old));
    CHECK_EQ(vas_nt_write_virtual_memory(f.p, big, rpm_out, 21 * PAGE, &n), VAS_STATUS_PARTIAL_COPY);
    CHECK_EQ(n, 20 * PAGE);
    CHECK(guest_holds(f.p, big, 0, 20 * PAGE));
    fx_close(&f);
}

/* Fact 124: ReadProcessMemory of two pages whose second is PAGE_NOACCESS fails with
   ERROR_PARTIAL_COPY and copies nothing; the first page alone reads. The same for a reserved
   second page. */
static void fact_124_read_into_a_no_access_page_copies_nothing(void)
{
    fx f = fx_open();
    uint64_t a = vas_virtual_alloc(f.p, 0, 0x2000, RESERVE | COMMIT, RW);
    CHECK(a != 0);
    fill_out(6);
    CHECK(vas_write_process_memory(f.p, a, rpm_out, 0x2000, NULL));
    uint32_t old;
    CHECK(vas_virtual_protect(f.p, a + 0x1000, 0x1000, NA, &old));
    size_t n = 0xDEAD;
    memset(rpm_in, 0xEE, 0x2000);
    CHECK_FAILS(vas_read_process_memory(f.p, a, rpm_in, 0x2000, &n), VAS_ERROR_PARTIAL_COPY);
    CHECK_EQ(n, 0);
    CHECK_EQ(rpm_in[0], 0xEE); /* nothing copied */
    n = 0xDEAD;
    CHECK_EQ(vas_nt_read_virtual_memory(f.p, a, rpm_in, 0x2000, &n), VAS_STATUS_PARTIAL_COPY);
    CHECK_EQ(n, 0);
    n = 0;
    CHECK(vas_read_process_memory(f.p, a, rpm_in, 0x1000, &n));
    CHECK_EQ(n, 0x1000);
    CHECK(memcmp(rpm_in, rpm_out, 0x1000) == 0);

    uint64_t r = vas_virtual_alloc(f.p, 0, GRAN, RESERVE, RW);
    CHECK_EQ(vas_virtual_alloc(f.p, r, 0x1000, COMMIT, RW), r);
    n = 0xDEAD;
    CHECK_FAILS(vas_read_process_memory(f.p, r, rpm_in, 0x2000, &n), VAS_ERROR_PARTIAL_COPY);
    CHECK_EQ(n, 0);
    n = 0xDEAD;
    /* (Over 512 bytes: Windows copies smaller reads through a pool buffer instead.) */
    CHECK_FAILS(vas_read_process_memory(f.p, r + 0xE00, rpm_in, 0x400, &n), VAS_ERROR_PARTIAL_COPY);
    CHECK_EQ(n, 0);
    fx_close(&f);
}

/* Reads go in chunks of 14 pages, each locked whole before it is copied: a chunk holding a page
   that cannot be read copies nothing, and the count is that of the chunks before it. */
static void rpm_reads_in_chunks_of_14_pages(void)
{
    fx f = fx_open();
    uint64_t a = vas_virtual_alloc(f.p, 0, 32 * PAGE, RESERVE | COMMIT, RW);
    CHECK(a != 0);
    fill_out(7);
    CHECK(vas_write_process_memory(f.p, a, rpm_out, 32 * PAGE, NULL));
    uint32_t old;
    CHECK(vas_virtual_protect(f.p, a + 20 * PAGE, PAGE, NA, &old));
    size_t n = 0xDEAD;
    memset(rpm_in, 0xEE, sizeof rpm_in);
    CHECK_FAILS(vas_read_process_memory(f.p, a, rpm_in, 21 * PAGE, &n), VAS_ERROR_PARTIAL_COPY);
    CHECK_EQ(n, 14 * PAGE);
    CHECK(memcmp(rpm_in, rpm_out, 14 * PAGE) == 0);
    CHECK_EQ(rpm_in[14 * PAGE], 0xEE);
    CHECK_EQ(rpm_in[20 * PAGE - 1], 0xEE);
    n = 0xDEAD;
    CHECK_EQ(vas_nt_read_virtual_memory(f.p, a + 6 * PAGE, rpm_in, 15 * PAGE, &n), VAS_STATUS_PARTIAL_COPY);
    CHECK_EQ(n, 14 * PAGE);
    CHECK(memcmp(rpm_in, rpm_out + 6 * PAGE, 14 * PAGE) == 0);
    n = 0xDEAD;
    CHECK_EQ(vas_nt_read_virtual_memory(f.p, a + 7 * PAGE, rpm_in, 14 * PAGE, &n), VAS_STATUS_PARTIAL_COPY);
    CHECK_EQ(n, 0);
    n = 0xDEAD;
    CHECK_FAILS(vas_read_process_memory(f.p, a, rpm_in, 32 * PAGE, &n), VAS_ERROR_PARTIAL_COPY);
    CHECK_EQ(n, 14 * PAGE);
    n = 0;
    CHECK(vas_read_process_memory(f.p, a + 21 * PAGE, rpm_in, 11 * PAGE, &n));
    CHECK_EQ(n, 11 * PAGE);
    CHECK(memcmp(rpm_in, rpm_out + 21 * PAGE, 11 * PAGE) == 0);
    fx_close(&f);
}

/* Fact 125: zero length: both calls succeed with 0 bytes, Win32 and native. */
static void fact_125_zero_length(void)
{
    fx f = fx_open();
    uint64_t a = vas_virtual_alloc(f.p, 0, 0x8000, RESERVE | COMMIT, ERW);
    CHECK(a != 0);
    size_t n = 0xDEAD;
    CHECK(vas_write_process_memory(f.p, a, rpm_out, 0, &n));
    CHECK_EQ(n, 0);
    n = 0xDEAD;
    CHECK(vas_read_process_memory(f.p, a, rpm_in, 0, &n));
    CHECK_EQ(n, 0);
    n = 0xDEAD;
    CHECK_EQ(vas_nt_write_virtual_memory(f.p, a, rpm_out, 0, &n), VAS_STATUS_SUCCESS);
    CHECK_EQ(n, 0);
    n = 0xDEAD;
    CHECK_EQ(vas_nt_read_virtual_memory(f.p, a, rpm_in, 0, &n), VAS_STATUS_SUCCESS);
    CHECK_EQ(n, 0);
    CHECK(guest_is_zero(f.p, a, 0x8000));
    fx_close(&f);
}

/* Addresses outside user space: the kernel probes the whole range first, so
   ReadProcessMemory fails with ERROR_NOACCESS (STATUS_ACCESS_VIOLATION) before copying anything,
   for a kernel address, a range that runs from user space into it, and one that wraps.
   WriteProcessMemory fails too: ERROR_NOACCESS, or 87 when kernel32's query of the page is what
   refuses the address first (both are accepted). */
static void rpm_wpm_outside_user_space(void)
{
    fx f = fx_open();
    vas_system_info si;
    vas_get_system_info(f.p, &si);
    uint64_t last_page = (si.maximum_application_address & ~(PAGE - 1));
    uint64_t a = vas_virtual_alloc(f.p, 0, 0x2000, RESERVE | COMMIT, RW);
    CHECK(a != 0);
    const struct {
        uint64_t address;
        size_t size;
    } ranges[] = {{KERNEL_ADDRESS, 0x1000}, {0xFFFFFFFFFFFFF000ull, 0x1000}, {last_page, 0x2000},
                  {0x800000000000ull, 16}, {a, SIZE_MAX}};
    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
        size_t n = 0xDEAD;
        memset(rpm_in, 0xEE, 0x2000);
        CHECK_FAILS_CLEAN(&f, vas_read_process_memory(f.p, ranges[i].address, rpm_in, ranges[i].size, &n),
                          VAS_ERROR_NOACCESS);
        CHECK_EQ(rpm_in[0], 0xEE);
        CHECK_EQ(vas_nt_read_virtual_memory(f.p, ranges[i].address, rpm_in, ranges[i].size, &n),
                 VAS_STATUS_ACCESS_VIOLATION);
        CHECK_EQ(n, 0);
        if (ranges[i].size == SIZE_MAX)
            continue; /* the source buffer is not that long */
        CHECK_EQ(vas_nt_write_virtual_memory(f.p, ranges[i].address, rpm_out, ranges[i].size, &n),
                 VAS_STATUS_ACCESS_VIOLATION);
        CHECK_EQ(n, 0);
        snap_take(&f, &facts_before_);
        vas_set_last_error(0xDEADBEEF);
        CHECK(!vas_write_process_memory(f.p, ranges[i].address, rpm_out, ranges[i].size, &n));
        uint32_t error = vas_last_error();
        CHECK(error == VAS_ERROR_NOACCESS || error == VAS_ERROR_INVALID_PARAMETER);
        CHECK_UNCHANGED(&f, &facts_before_);
    }
    fx_close(&f);
}

/* WriteProcessMemory into a PAGE_WRITECOPY view page makes that process's private copy, as a
   write by the process would: the page turns PAGE_READWRITE, and the section - seen through
   another view or another process - keeps its bytes. The view was charged when mapped, so the
   copy charges nothing more. */
static void wpm_into_a_write_copy_view_copies(void)
{
    fx f = fx_open();
    vas_section *h = create_ok(f.m, NULL, RW, 0x2000, NULL);
    uint64_t shared = map_ok(f.p, h, M_WRITE, 0, 0), copy = map_ok(f.p, h, M_COPY, 0, 0);
    WRITE32(f.p, shared, 0x11111111);
    uint64_t charge = process_charge(f.p), total = commit_total(f.m);
    uint32_t value = 0x22222222;
    size_t n = 0;
    CHECK(vas_write_process_memory(f.p, copy, &value, sizeof value, &n));
    CHECK_EQ(n, sizeof value);
    CHECK_MBI(vq(f.p, copy), copy, copy, WC, 0x1000, COMMIT, RW, MAPPED);
    CHECK_MBI(vq(f.p, copy + 0x1000), copy + 0x1000, copy, WC, 0x1000, COMMIT, WC, MAPPED);
    CHECK_READ32(f.p, copy, 0x22222222);
    CHECK_READ32(f.p, shared, 0x11111111);
    vas_process *q = second_process(f.m);
    uint64_t other = map_ok(q, h, M_READ, 0, 0);
    CHECK_READ32(q, other, 0x11111111);
    CHECK_EQ(process_charge(f.p), charge);
    CHECK_EQ(commit_total(f.m), total);
    /* The native call copies on write as well. */
    value = 0x33333333;
    CHECK_EQ(vas_nt_write_virtual_memory(f.p, copy + 0x1000, &value, sizeof value, &n), VAS_STATUS_SUCCESS);
    CHECK_EQ(vq(f.p, copy + 0x1000).protect, RW);
    CHECK_READ32(q, other + 0x1000, 0);
    UNMAP(q, other);
    UNMAP(f.p, shared);
    UNMAP(f.p, copy);
    CLOSE(h);
    fx_close(&f);
}

/* WriteProcessMemory into a PAGE_EXECUTE_READ view (a debugger's breakpoint in mapped code):
   kernel32 lifts the page to copy-on-write, so the write lands in a private copy; the section
   and every other view keep their bytes, and the page is execute-read again afterwards. */
static void wpm_into_an_execute_read_view_copies(void)
{
    fx f = fx_open();
    vas_section *h = create_ok(f.m, NULL, ERW, 0x2000, NULL);
    uint64_t shared = map_ok(f.p, h, M_WRITE, 0, 0), code = map_ok(f.p, h, M_EXEC | M_READ, 0, 0);
    WRITE32(f.p, shared, 0x11111111);
    uint32_t value = 0xCCCCCCCC;
    size_t n = 0;
    CHECK(vas_write_process_memory(f.p, code, &value, sizeof value, &n));
    CHECK_EQ(n, sizeof value);
    CHECK_READ32(f.p, code, 0xCCCCCCCC);
    CHECK_READ32(f.p, shared, 0x11111111);
    CHECK_EQ(vq(f.p, code).protect, ER);
    CHECK_EQ(vq(f.p, code).region_size, 0x2000);
    UNMAP(f.p, shared);
    UNMAP(f.p, code);
    CLOSE(h);
    fx_close(&f);
}

/* ntdll's test_NtMapViewOfSection: ReadProcessMemory of a view in another process returns the
   file's data; WriteProcessMemory into a shared view writes the section, and so the file. */
static void rpm_wpm_views_of_another_process(void)
{
    fx f = fx_open();
    tmp_path file = make_file("rpm.bin", 0x3000);
    vas_section *h = create_ok(f.m, file.s, RW, 0, NULL);
    vas_process *q = second_process(f.m);
    uint64_t r = map_ok(q, h, M_READ, 0, 0), w = map_ok(q, h, M_WRITE, 0, 0);
    size_t n = 0;
    CHECK(vas_read_process_memory(q, r, rpm_in, 0x3000, &n));
    CHECK_EQ(n, 0x3000);
    int same = 1;
    for (size_t i = 0; i < 0x3000; i++)
        same &= rpm_in[i] == pattern(i);
    CHECK(same);
    uint32_t value = 0x0F0F0F0F;
    CHECK(vas_write_process_memory(q, w + 0x2000, &value, sizeof value, &n));
    CHECK_READ32(q, r + 0x2000, 0x0F0F0F0F);
    fx g = {f.m, q};
    n = 0x1234;
    CHECK_FAILS_CLEAN(&g, vas_write_process_memory(q, r, &value, sizeof value, &n), VAS_ERROR_NOACCESS);
    CHECK_EQ(n, 0x1234);
    UNMAP(q, r);
    UNMAP(q, w);
    CLOSE(h);
    CHECK_EQ(host_read32(&file, 0x2000), 0x0F0F0F0F);
    fx_close(&f);
}

static const check_test tests[] = {
    /* I */
    TEST(fact_71_section_protections),
    TEST(fact_73_read_only_file),
    TEST(fact_74_section_sizes),
    TEST(fact_76_section_larger_than_file),
    TEST(fact_77_empty_file),
    TEST(fact_79_sec_flags_of_pagefile_sections),
    TEST(fact_80_sec_flags_of_file_sections),
    TEST(fact_82_views_outlive_handles_but_not_names),
    TEST(fact_83_query_needs_section_query),
    TEST(names_exist_case_and_scope),
    TEST(bad_files),
    TEST(bad_section_sizes),
    TEST(bad_section_handles),
    /* J */
    TEST(fact_85_handle_rights_are_enforced),
    TEST(table_handle_rights),
    TEST(fact_86_size_zero_maps_the_whole_section),
    TEST(fact_88_89_alignment_of_base_and_offset),
    TEST(fact_91_view_size_is_checked_to_the_byte),
    TEST(map_at_kernel_addresses),
    TEST(fact_92_null_process_handle),
    TEST(fact_94_95_unmap_from_an_interior_address),
    TEST(unmap_what_is_not_a_view),
    TEST(fact_97_commit_through_one_view_is_shared),
    TEST(fact_98_commit_on_a_committed_view_protects),
    TEST(fact_100_file_views_refuse_commit),
    TEST(fact_101_commit_on_pagefile_views_table),
    TEST(views_cannot_be_freed),
    TEST(fact_59_mem_reset_on_views),
    TEST(flush_view_of_file),
    TEST(file_views_show_the_file),
    TEST(views_share_pages),
    TEST(table_view_protection_by_access),
    TEST(view_protections_at_work),
    TEST(region_calls_stay_inside_one_view),
    TEST(views_in_a_32_bit_process),
    TEST(section_pages_survive_trimming),
    /* K */
    TEST(fact_104_section_protection_limits_views),
    TEST(table_virtual_protect_on_views),
    TEST(fact_106_read_views_of_file_sections),
    TEST(fact_107_copy_on_first_write),
    TEST(fact_109_a_copied_page_stays_private),
    TEST(fact_110_copy_on_write_never_reaches_the_file),
    TEST(fact_112_write_visibility_between_processes),
    TEST(fact_113_commit_size_of_views),
    /* Commit charge */
    TEST(commit_of_sec_commit_sections),
    TEST(commit_of_sec_reserve_sections),
    TEST(commit_of_copy_on_write_views),
    TEST(commit_of_file_sections_is_none),
    TEST(commit_limit_of_sections),
    /* N */
    TEST(rpm_wpm_whole_region),
    TEST(fact_122_wpm_read_only_and_execute_read),
    TEST(wpm_stops_at_the_faulting_page),
    TEST(fact_124_read_into_a_no_access_page_copies_nothing),
    TEST(rpm_reads_in_chunks_of_14_pages),
    TEST(fact_125_zero_length),
    TEST(rpm_wpm_outside_user_space),
    TEST(wpm_into_a_write_copy_view_copies),
    TEST(wpm_into_an_execute_read_view_copies),
    TEST(rpm_wpm_views_of_another_process),
};

CHECK_MAIN(tests)
