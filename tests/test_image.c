/*
 * test_image.c - executable images (issue 6), black-box through vas.h: real PE32 and PE32+
 * files built by mingw-w64 (tests/pe/, see tests/CMakeLists.txt), checked against the file
 * itself as this test reads it (its own small PE reader, below), and a corpus of malformed
 * images made from them by mutation.
 *
 *   test_image FIXTURES [CORPUS|- [test]]
 *
 * FIXTURES holds 32/ and 64/ with the fixtures ("-": none were built, the test skips with 77).
 * CORPUS, when given, receives every malformed image made here (forge-*.dll / .exe), seeds for
 * the PE fuzz target. Host files live in a mkdtemp directory under $TMPDIR (or /tmp), removed
 * at the end.
 *
 * What is covered (Windows facts from ../shared/spec/windows-behavior.md, groups E and L):
 *   - every region VirtualQuery reports over each fixture's view, against the section table:
 *     headers PAGE_READONLY, each section with the protection of fact 115, one region per run
 *     of equal protections, MEM_COMMIT, MEM_IMAGE, AllocationBase the image base,
 *     AllocationProtect PAGE_EXECUTE_WRITECOPY, the view SizeOfImage rounded to pages; and
 *     every byte of the view against the file (zero past SizeOfRawData and SizeOfHeaders);
 *   - fact 115 over every combination of section characteristics; writes turning
 *     PAGE_WRITECOPY into PAGE_READWRITE and PAGE_EXECUTE_WRITECOPY into
 *     PAGE_EXECUTE_READWRITE, privately (the file and another process keep the original);
 *     a shared section PAGE_READWRITE and one memory for every process; fact 116 (VirtualProtect
 *     of image pages);
 *   - preferred bases; relocation when the base is taken (every fixup site holds value + delta,
 *     one straddling a page boundary); an image without relocations at a taken base fails with
 *     ERROR_INVALID_ADDRESS;
 *   - processes from executables: the modules (each DLL once, an import loop, a missing DLL,
 *     the DLL search path, case-insensitive names), the width and large-address-awareness from
 *     the image (x64 WOW64 and x86 with 3 GB), the PEB, the heap and the first thread from the
 *     header's numbers; PE32+ refused on x86;
 *   - an image mapped twice (the second view relocated), a low-alignment image (SectionAlignment
 *     below the page: one PAGE_EXECUTE_WRITECOPY region, as Windows maps it), a backing store of
 *     the caller's, CreateFileMapping(SEC_IMAGE) + MapViewOfFile;
 *   - the commit charge of an image's writable pages (ERROR_COMMITMENT_LIMIT when it is not
 *     there), DEP on image pages, WriteProcessMemory into image code (a private copy), threads
 *     with the image's stack sizes, a process destroyed giving everything back;
 *   - image pages dropped under memory pressure and read back from the file (hard faults),
 *     relocated ones too;
 *   - malformed images (headers, sections, sizes, alignments, relocations, imports): each fails
 *     cleanly with the error Windows gives, leaves the address space as it was, never reads
 *     outside the file (a backing store that counts reads past its end).
 */
#include "facts.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

#define MiB (1ull << 20)

#define RO VAS_PAGE_READONLY
#define RW VAS_PAGE_READWRITE
#define WC VAS_PAGE_WRITECOPY
#define NA VAS_PAGE_NOACCESS
#define EX VAS_PAGE_EXECUTE
#define ER VAS_PAGE_EXECUTE_READ
#define ERW VAS_PAGE_EXECUTE_READWRITE
#define EWC VAS_PAGE_EXECUTE_WRITECOPY
#define IMAGE VAS_MEM_IMAGE
#define COMMIT VAS_MEM_COMMIT

/* Section characteristics (winnt.h). */
#define SCN_CNT_CODE 0x00000020u
#define SCN_CNT_INITIALIZED_DATA 0x00000040u
#define SCN_CNT_UNINITIALIZED_DATA 0x00000080u
#define SCN_MEM_SHARED 0x10000000u
#define SCN_MEM_EXECUTE 0x20000000u
#define SCN_MEM_READ 0x40000000u
#define SCN_MEM_WRITE 0x80000000u
#define FILE_RELOCS_STRIPPED 0x0001u
#define FILE_LARGE_ADDRESS_AWARE 0x0020u
#define FILE_DLL 0x2000u
#define DIR_IMPORT 1
#define DIR_BASERELOC 5

static const char *fixtures;   /* argv[1] */
static const char *corpus_dir; /* argv[2], may be NULL */
static char tmp_dir[512];

/* ---- Host files ------------------------------------------------------------------------------ */

typedef struct buf {
    uint8_t *bytes;
    size_t size;
} buf;

static buf file_read(const char *path)
{
    buf b = {NULL, 0};
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "test_image: cannot open %s: %s\n", path, strerror(errno));
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    b.size = (size_t)n;
    b.bytes = malloc(b.size ? b.size : 1);
    if (!b.bytes || fread(b.bytes, 1, b.size, f) != b.size) {
        fprintf(stderr, "test_image: cannot read %s\n", path);
        exit(2);
    }
    fclose(f);
    return b;
}

static void file_write(const char *path, const void *bytes, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(bytes, 1, size, f) != size) || fclose(f) != 0) {
        fprintf(stderr, "test_image: cannot write %s: %s\n", path, strerror(errno));
        exit(2);
    }
}

static buf buf_copy(buf b)
{
    buf c = {malloc(b.size ? b.size : 1), b.size};
    if (b.size)
        memcpy(c.bytes, b.bytes, b.size);
    return c;
}

static void buf_free(buf *b)
{
    free(b->bytes);
    b->bytes = NULL;
    b->size = 0;
}

/* A fixture's path: FIXTURES/bits/name. */
static const char *fixture(int bits, const char *name)
{
    static char paths[8][1024];
    static int next;
    char *p = paths[next++ & 7];
    snprintf(p, sizeof paths[0], "%s/%d/%s", fixtures, bits, name);
    return p;
}

/* A path in the temporary directory (a folder under it is made when sub is not NULL). */
static const char *tmp_file(const char *sub, const char *name)
{
    static char paths[8][1024];
    static int next;
    char *p = paths[next++ & 7];
    if (sub) {
        snprintf(p, sizeof paths[0], "%s/%s", tmp_dir, sub);
        mkdir(p, 0700);
        snprintf(p, sizeof paths[0], "%s/%s/%s", tmp_dir, sub, name);
    } else {
        snprintf(p, sizeof paths[0], "%s/%s", tmp_dir, name);
    }
    return p;
}

static void copy_file(const char *from, const char *to)
{
    buf b = file_read(from);
    file_write(to, b.bytes, b.size);
    buf_free(&b);
}

static void remove_tree(const char *path)
{
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char child[1024];
            snprintf(child, sizeof child, "%s/%s", path, e->d_name);
            remove_tree(child);
        }
        closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

static void cleanup(void)
{
    if (tmp_dir[0])
        remove_tree(tmp_dir);
}

/* ---- The test's own PE reader ----------------------------------------------------------------
 * Just enough of the format to know what a loader must do with a file: the headers, the section
 * table, the base relocations and the imported DLLs' names. It trusts nothing it reads. */

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const uint8_t *p) { return (uint32_t)rd16(p) | (uint32_t)rd16(p + 2) << 16; }
static uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }
static void wr16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void wr32(uint8_t *p, uint32_t v) { wr16(p, v); wr16(p + 2, v >> 16); }
static void wr64(uint8_t *p, uint64_t v) { wr32(p, (uint32_t)v); wr32(p + 4, (uint32_t)(v >> 32)); }

#define PE_MAX_SECTIONS 96

typedef struct pe_section {
    char name[9];
    uint32_t virtual_size, rva, raw_size, raw_offset, characteristics;
    uint32_t header; /* the file offset of its section-table entry */
} pe_section;

typedef struct pe_info {
    const uint8_t *bytes;
    size_t size;
    int bits;                    /* 32 (PE32) or 64 (PE32+) */
    uint32_t nt, file_header, optional, section_table; /* file offsets */
    uint16_t machine, characteristics, section_count, optional_size, dll_characteristics;
    uint64_t image_base;
    uint32_t image_base_offset;  /* where ImageBase lies in the file (and the mapped headers) */
    uint32_t entry, section_alignment, file_alignment, size_of_image, size_of_headers;
    uint64_t stack_reserve, stack_commit, heap_reserve, heap_commit;
    uint32_t dir_count, dir_offset; /* dir_offset: the file offset of the data directory */
    uint32_t dir_rva[16], dir_size[16];
    pe_section sections[PE_MAX_SECTIONS];
} pe_info;

static bool in_file(const pe_info *pe, uint64_t offset, uint64_t size)
{
    return offset <= pe->size && size <= pe->size - offset;
}

/* Parses a valid image; false (with a reason) for anything this reader does not accept. */
static bool pe_parse(pe_info *pe, const uint8_t *bytes, size_t size, char *why, size_t why_size)
{
    memset(pe, 0, sizeof *pe);
    pe->bytes = bytes;
    pe->size = size;
#define PE_FAIL(...) do { snprintf(why, why_size, __VA_ARGS__); return false; } while (0)
    if (!in_file(pe, 0, 64) || bytes[0] != 'M' || bytes[1] != 'Z')
        PE_FAIL("no MZ header");
    pe->nt = rd32(bytes + 0x3C);
    if (!in_file(pe, pe->nt, 24) || memcmp(bytes + pe->nt, "PE\0\0", 4) != 0)
        PE_FAIL("no PE signature");
    pe->file_header = pe->nt + 4;
    const uint8_t *fh = bytes + pe->file_header;
    pe->machine = rd16(fh);
    pe->section_count = rd16(fh + 2);
    pe->optional_size = rd16(fh + 16);
    pe->characteristics = rd16(fh + 18);
    pe->optional = pe->nt + 24;
    if (!in_file(pe, pe->optional, pe->optional_size) || pe->optional_size < 2)
        PE_FAIL("optional header past the file");
    const uint8_t *oh = bytes + pe->optional;
    uint16_t magic = rd16(oh);
    uint32_t fixed;
    if (magic == 0x10B) {
        pe->bits = 32;
        fixed = 96;
    } else if (magic == 0x20B) {
        pe->bits = 64;
        fixed = 112;
    } else {
        PE_FAIL("optional header magic 0x%x", magic);
    }
    if (pe->optional_size < fixed)
        PE_FAIL("optional header of %u bytes", pe->optional_size);
    pe->entry = rd32(oh + 16);
    if (pe->bits == 32) {
        pe->image_base_offset = pe->optional + 28;
        pe->image_base = rd32(oh + 28);
        pe->stack_reserve = rd32(oh + 72);
        pe->stack_commit = rd32(oh + 76);
        pe->heap_reserve = rd32(oh + 80);
        pe->heap_commit = rd32(oh + 84);
        pe->dir_count = rd32(oh + 92);
    } else {
        pe->image_base_offset = pe->optional + 24;
        pe->image_base = rd64(oh + 24);
        pe->stack_reserve = rd64(oh + 72);
        pe->stack_commit = rd64(oh + 80);
        pe->heap_reserve = rd64(oh + 88);
        pe->heap_commit = rd64(oh + 96);
        pe->dir_count = rd32(oh + 108);
    }
    pe->section_alignment = rd32(oh + 32);
    pe->file_alignment = rd32(oh + 36);
    pe->size_of_image = rd32(oh + 56);
    pe->size_of_headers = rd32(oh + 60);
    pe->dll_characteristics = rd16(oh + 70);
    pe->dir_offset = pe->optional + fixed;
    if (pe->dir_count > 16)
        pe->dir_count = 16;
    if (fixed + 8ull * pe->dir_count > pe->optional_size)
        PE_FAIL("data directory past the optional header");
    for (uint32_t i = 0; i < pe->dir_count; i++) {
        pe->dir_rva[i] = rd32(bytes + pe->dir_offset + 8 * i);
        pe->dir_size[i] = rd32(bytes + pe->dir_offset + 8 * i + 4);
    }
    pe->section_table = pe->optional + pe->optional_size;
    if (pe->section_count == 0 || pe->section_count > PE_MAX_SECTIONS ||
        !in_file(pe, pe->section_table, 40ull * pe->section_count))
        PE_FAIL("%u sections", pe->section_count);
    for (uint32_t i = 0; i < pe->section_count; i++) {
        const uint8_t *sh = bytes + pe->section_table + 40 * i;
        pe_section *s = &pe->sections[i];
        memcpy(s->name, sh, 8);
        s->virtual_size = rd32(sh + 8);
        s->rva = rd32(sh + 12);
        s->raw_size = rd32(sh + 16);
        s->raw_offset = rd32(sh + 20);
        s->characteristics = rd32(sh + 36);
        s->header = pe->section_table + 40 * i;
        if (s->raw_size && !in_file(pe, s->raw_offset, s->raw_size))
            PE_FAIL("section %s: raw data past the file", s->name);
        if (s->virtual_size == 0)
            PE_FAIL("section %s: no virtual size", s->name); /* none in the fixtures */
    }
    return true;
#undef PE_FAIL
}

static uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) & ~(a - 1); }

/* The view's size: SizeOfImage rounded to pages. */
static uint64_t pe_view_size(const pe_info *pe) { return align_up(pe->size_of_image, PAGE); }

static const pe_section *pe_find(const pe_info *pe, const char *name)
{
    for (uint32_t i = 0; i < pe->section_count; i++)
        if (strncmp(pe->sections[i].name, name, 8) == 0)
            return &pe->sections[i];
    return NULL;
}

/* Fact 115: a section's characteristics give its pages' first protection; CNT_* bits do not
   matter. A writable shared section is not copy-on-write: one set of pages for every view. */
static uint32_t section_protect(uint32_t c)
{
    bool r = c & SCN_MEM_READ, w = c & SCN_MEM_WRITE, x = c & SCN_MEM_EXECUTE, shared = c & SCN_MEM_SHARED;
    if (x)
        return w ? (shared ? ERW : EWC) : r ? ER : EX;
    if (w)
        return shared ? RW : WC;
    return r ? RO : NA;
}

/* The protection the loader gives each page of the view: headers PAGE_READONLY, then each
   section's pages (VirtualSize rounded to SectionAlignment). 0 where no section lies. */
static uint32_t *pe_page_protections(const pe_info *pe)
{
    size_t pages = (size_t)(pe_view_size(pe) / PAGE);
    uint32_t *prot = calloc(pages ? pages : 1, sizeof *prot);
    for (uint64_t a = 0; a < align_up(pe->size_of_headers, PAGE) && a / PAGE < pages; a += PAGE)
        prot[a / PAGE] = RO;
    for (uint32_t i = 0; i < pe->section_count; i++) {
        const pe_section *s = &pe->sections[i];
        uint64_t end = s->rva + align_up(s->virtual_size, pe->section_alignment);
        for (uint64_t a = s->rva; a < end && a / PAGE < pages; a += PAGE)
            prot[a / PAGE] = section_protect(s->characteristics);
    }
    return prot;
}

/* The fixups of the base-relocation directory: RVA and width (4 or 8) of each. */
typedef struct fixup {
    uint32_t rva;
    uint32_t width;
} fixup;

static size_t pe_fixups(const pe_info *pe, fixup **out)
{
    *out = NULL;
    if (pe->dir_count <= DIR_BASERELOC || pe->dir_size[DIR_BASERELOC] == 0)
        return 0;
    uint32_t rva = pe->dir_rva[DIR_BASERELOC], size = pe->dir_size[DIR_BASERELOC];
    /* The directory lies in one section's raw data in the fixtures. */
    const uint8_t *dir = NULL;
    for (uint32_t i = 0; i < pe->section_count; i++) {
        const pe_section *s = &pe->sections[i];
        if (rva >= s->rva && rva - s->rva + (uint64_t)size <= s->raw_size)
            dir = pe->bytes + s->raw_offset + (rva - s->rva);
    }
    if (!dir)
        return 0;
    size_t count = 0, cap = size / 2 + 1;
    fixup *f = malloc(cap * sizeof *f);
    for (uint32_t at = 0; at + 8 <= size;) {
        uint32_t page = rd32(dir + at), block = rd32(dir + at + 4);
        if (block < 8 || block > size - at)
            break;
        for (uint32_t e = 8; e + 2 <= block; e += 2) {
            uint16_t entry = rd16(dir + at + e);
            uint32_t type = entry >> 12, width = type == 3 ? 4 : type == 10 ? 8 : 0;
            if (width)
                f[count++] = (fixup){page + (entry & 0xFFF), width};
        }
        at += block;
    }
    *out = f;
    return count;
}

/* The bytes the view must hold at `base`: the headers (SizeOfHeaders bytes, zero after), each
   section's raw data (SizeOfRawData bytes, no further than its page-rounded VirtualSize, zero
   after: as Windows and Wine lay an image out), with every fixup moved by base - ImageBase. */
static uint8_t *pe_expected_view(const pe_info *pe, uint64_t base)
{
    uint64_t size = pe_view_size(pe);
    uint8_t *view = calloc(size, 1);
    uint64_t headers = pe->size_of_headers < pe->size ? pe->size_of_headers : pe->size;
    memcpy(view, pe->bytes, headers < size ? headers : size);
    for (uint32_t i = 0; i < pe->section_count; i++) {
        const pe_section *s = &pe->sections[i];
        uint64_t n = s->raw_size;
        if (n > align_up(s->virtual_size, PAGE))
            n = align_up(s->virtual_size, PAGE);
        if (s->rva + n > size)
            n = size - s->rva;
        memcpy(view + s->rva, pe->bytes + s->raw_offset, n);
    }
    uint64_t delta = base - pe->image_base;
    if (delta) {
        fixup *f;
        size_t count = pe_fixups(pe, &f);
        for (size_t i = 0; i < count; i++) {
            if (f[i].rva + f[i].width > size)
                continue;
            if (f[i].width == 4)
                wr32(view + f[i].rva, rd32(view + f[i].rva) + (uint32_t)delta);
            else
                wr64(view + f[i].rva, rd64(view + f[i].rva) + delta);
        }
        free(f);
    }
    return view;
}

/* The names of the DLLs an image imports (the fixtures' import directories lie in raw data). */
static size_t pe_imports(const pe_info *pe, char names[][64], size_t max)
{
    if (pe->dir_count <= DIR_IMPORT || pe->dir_rva[DIR_IMPORT] == 0)
        return 0;
    uint8_t *view = pe_expected_view(pe, pe->image_base);
    uint64_t size = pe_view_size(pe);
    size_t n = 0;
    for (uint64_t d = pe->dir_rva[DIR_IMPORT]; d + 20 <= size && n < max; d += 20) {
        uint32_t name = rd32(view + d + 12);
        if (name == 0)
            break;
        snprintf(names[n++], 64, "%.63s", name < size ? (const char *)view + name : "?");
    }
    free(view);
    return n;
}

/* A fixture, read and parsed. */
typedef struct image_file {
    buf file;
    pe_info pe;
    char *path; /* a copy: fixture() and tmp_file() reuse their buffers */
} image_file;

static image_file image_open(const char *path)
{
    image_file im;
    im.path = strdup(path);
    im.file = file_read(path);
    char why[128];
    if (!pe_parse(&im.pe, im.file.bytes, im.file.size, why, sizeof why)) {
        fprintf(stderr, "test_image: the fixture %s does not parse: %s\n", path, why);
        exit(2);
    }
    return im;
}

static void image_close(image_file *im)
{
    buf_free(&im->file);
    free(im->path);
    im->path = NULL;
}

/* ---- Machines, processes, checks ----------------------------------------------------------- */

static vas_machine *machine_new(const char *layout, uint64_t ram, uint32_t increase_user_va_mb)
{
    vas_machine_config c = {0};
    c.layout = layout;
    c.ram_bytes = ram;
    c.increase_user_va_mb = increase_user_va_mb;
    vas_machine *m = vas_machine_create(&c);
    if (!m) {
        fprintf(stderr, "test_image: cannot create a %s machine (error %u)\n", layout, vas_last_error());
        exit(2);
    }
    return m;
}

static vas_process *process_new(vas_machine *m, int bits)
{
    vas_process_config c = {0};
    c.bits = bits;
    vas_process *p = vas_process_create(m, &c);
    if (!p) {
        fprintf(stderr, "test_image: cannot create a %d-bit process (error %u)\n", bits, vas_last_error());
        exit(2);
    }
    return p;
}

/* An x64 machine with one process of the image's width (32: WOW64). */
static fx fx_bits(int bits) { return fx_open_layout("x64", bits, 0); }

/* A failure with context: the test is marked failed. */
static void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("  ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    check_failures_in_test++;
}

static uint64_t map_image(vas_process *p, const char *path)
{
    vas_set_last_error(0xDEADBEEFu);
    uint64_t base = vas_map_image(p, path);
    if (!base)
        fail("vas_map_image(%s) failed: %s", path, vas_error_name(vas_last_error()));
    return base;
}

static const char *prot_name(uint32_t p)
{
    static char names[4][64];
    static int next;
    char *s = names[next++ & 3];
    return vas_protect_name(p, s, sizeof names[0]);
}

/* Every region VirtualQuery reports over the view at base, against the section table: one
   region per run of pages of one protection (`prot`, from pe_page_protections and the test's
   own changes), each {AllocationBase base, AllocationProtect PAGE_EXECUTE_WRITECOPY, MEM_COMMIT,
   MEM_IMAGE}; then the first page past the view is not the image's. */
static void check_regions_with(vas_process *p, uint64_t base, const pe_info *pe, const uint32_t *prot,
                               const char *what)
{
    uint64_t size = pe_view_size(pe), pages = size / PAGE;
    int failures = check_failures_in_test;
    for (uint64_t i = 0; i < pages;) {
        uint64_t j = i + 1;
        while (j < pages && prot[j] == prot[i])
            j++;
        /* The run's first page, and one inside it (its region starts there, ends with the run). */
        uint64_t probes[2] = {i, i + (j - i) / 2};
        for (int k = 0; k < 2; k++) {
            uint64_t at = base + probes[k] * PAGE;
            vas_memory_basic_information m;
            memset(&m, 0xCC, sizeof m);
            if (vas_virtual_query(p, at + 0x123, &m, sizeof m) != sizeof m) {
                fail("%s: VirtualQuery(rva 0x%" PRIx64 ") failed: %s", what, at - base, vas_error_name(vas_last_error()));
                continue;
            }
            uint64_t want_size = (j - probes[k]) * PAGE;
            if (m.base_address != at || m.allocation_base != base || m.allocation_protect != EWC ||
                m.region_size != want_size || m.state != COMMIT || m.protect != prot[i] || m.type != IMAGE)
                fail("%s: rva 0x%" PRIx64 ": VirtualQuery {base 0x%" PRIx64 ", allocation base 0x%" PRIx64
                     ", %s, size 0x%" PRIx64 ", %s, %s, %s}, expected {0x%" PRIx64 ", 0x%" PRIx64
                     ", PAGE_EXECUTE_WRITECOPY, 0x%" PRIx64 ", MEM_COMMIT, %s, MEM_IMAGE}",
                     what, at - base, m.base_address, m.allocation_base, prot_name(m.allocation_protect),
                     m.region_size, vas_state_name(m.state), prot_name(m.protect), vas_type_name(m.type), at, base,
                     want_size, prot_name(prot[i]));
        }
        i = j;
    }
    vas_memory_basic_information after;
    memset(&after, 0, sizeof after);
    if (vas_virtual_query(p, base + size, &after, sizeof after) == sizeof after &&
        after.allocation_base == base && after.state != VAS_MEM_FREE)
        fail("%s: the view goes on past SizeOfImage (0x%" PRIx64 ")", what, size);
    if (check_failures_in_test != failures)
        fprintf(stderr, "  (%s: %u sections, SizeOfImage 0x%x)\n", what, pe->section_count, pe->size_of_image);
}

static void check_regions(vas_process *p, uint64_t base, const pe_info *pe, const char *what)
{
    uint32_t *prot = pe_page_protections(pe);
    for (uint64_t i = 0; i < pe_view_size(pe) / PAGE; i++)
        if (prot[i] == 0)
            fail("%s: the fixture has a page (rva 0x%" PRIx64 ") in no section", what, i * PAGE);
    check_regions_with(p, base, pe, prot, what);
    free(prot);
}

/* Every readable byte of the view against the file (relocated to base). The ImageBase field of
   the mapped headers may hold either base: Windows updates it when the kernel relocates (ASLR)
   and leaves it when ntdll does. */
static void check_bytes_against(vas_process *p, uint64_t base, const pe_info *pe, const uint8_t *want,
                                const char *what)
{
    uint64_t size = pe_view_size(pe);
    uint32_t *prot = pe_page_protections(pe);
    uint8_t *got = malloc(PAGE);
    int reported = 0;
    for (uint64_t off = 0; off < size; off += PAGE) {
        if (prot[off / PAGE] == NA || prot[off / PAGE] == EX)
            continue;
        vas_exception e;
        uint32_t st = vas_read(p, base + off, got, PAGE, &e);
        if (st != 0) {
            fail("%s: reading rva 0x%" PRIx64 " raised %s at 0x%" PRIx64, what, off, vas_status_name(st), e.address);
            continue;
        }
        for (uint64_t i = 0; i < PAGE; i++) {
            uint64_t rva = off + i;
            if (got[i] == want[rva])
                continue;
            uint32_t ib = pe->image_base_offset, w = pe->bits / 8;
            if (rva >= ib && rva < ib + w) {
                uint8_t alt[8];
                wr64(alt, base);
                if (got[i] == alt[rva - ib])
                    continue;
            }
            if (reported++ < 8)
                fail("%s: byte at rva 0x%" PRIx64 " is 0x%02x, expected 0x%02x", what, rva, got[i], want[rva]);
        }
    }
    if (reported > 8)
        fprintf(stderr, "  (%s: %d bytes differ)\n", what, reported);
    free(got);
    free(prot);
}

static void check_bytes(vas_process *p, uint64_t base, const pe_info *pe, const char *what)
{
    uint8_t *want = pe_expected_view(pe, base);
    check_bytes_against(p, base, pe, want, what);
    free(want);
}

static void check_view(vas_process *p, uint64_t base, const pe_info *pe, const char *what)
{
    check_regions(p, base, pe, what);
    check_bytes(p, base, pe, what);
}

/* The process's module record of the image at base; NULL (a failure) when there is none. */
static bool module_at(vas_process *p, uint64_t base, vas_module_info *out)
{
    vas_module_info mods[32];
    size_t n = vas_process_modules(p, mods, 32);
    for (size_t i = 0; i < n && i < 32; i++)
        if (mods[i].base == base) {
            *out = mods[i];
            return true;
        }
    fail("no module at 0x%" PRIx64 " (%zu modules)", base, n);
    return false;
}

static void check_module(vas_process *p, uint64_t base, const pe_info *pe, const char *name, const char *what)
{
    vas_module_info mi;
    if (!module_at(p, base, &mi))
        return;
    if (!mi.name || strcmp(mi.name, name) != 0)
        fail("%s: module name %s, expected %s", what, mi.name ? mi.name : "(null)", name);
    if (mi.size != pe_view_size(pe))
        fail("%s: module size 0x%" PRIx64 ", expected 0x%" PRIx64, what, mi.size, pe_view_size(pe));
    if (mi.preferred_base != pe->image_base)
        fail("%s: preferred base 0x%" PRIx64 ", expected 0x%" PRIx64, what, mi.preferred_base, pe->image_base);
    if (mi.relocated != (base != pe->image_base))
        fail("%s: relocated %d at 0x%" PRIx64 " (preferred 0x%" PRIx64 ")", what, mi.relocated, base, pe->image_base);
    if (mi.entry_point != (pe->entry ? base + pe->entry : 0))
        fail("%s: entry point 0x%" PRIx64 ", expected 0x%" PRIx64, what, mi.entry_point,
             pe->entry ? base + pe->entry : 0);
}

static uint32_t read32(vas_process *p, uint64_t va)
{
    uint32_t v = 0;
    vas_exception e;
    uint32_t st = vas_read(p, va, &v, 4, &e);
    if (st)
        fail("read at 0x%" PRIx64 " raised %s", va, vas_status_name(st));
    return v;
}

static void write32(vas_process *p, uint64_t va, uint32_t v)
{
    vas_exception e;
    uint32_t st = vas_write(p, va, &v, 4, &e);
    if (st)
        fail("write at 0x%" PRIx64 " raised %s", va, vas_status_name(st));
}

static uint32_t protect_at(vas_process *p, uint64_t va)
{
    vas_memory_basic_information m;
    memset(&m, 0, sizeof m);
    vas_virtual_query(p, va, &m, sizeof m);
    return m.protect;
}

static const char *const dll_names[] = {"kbase.dll", "ubase.dll", "rbase.dll", "norel.dll", "shrd.dll",
                                        "loopa.dll", "loopb.dll"};
static const char *const exe_names[] = {"app.exe", "loop.exe", "missing.exe"};

/* ---- The fixtures are what they claim ----------------------------------------------------------- */

/* Before anything is asserted of the library: each fixture has the property it was built for
   (read by this test's reader), so a change of toolchain cannot hollow the tests out. */
static void fixtures_are_what_they_claim(void)
{
    for (int bits = 32; bits <= 64; bits += 32) {
        uint16_t machine = bits == 32 ? 0x14C : 0x8664;
        uint64_t dll_base = bits == 32 ? 0x10000000u : 0x180000000u;
        uint64_t exe_base = bits == 32 ? 0x400000u : 0x140000000u;
        for (size_t i = 0; i < sizeof dll_names / sizeof dll_names[0]; i++) {
            image_file im = image_open(fixture(bits, dll_names[i]));
            CHECK_EQ(im.pe.bits, bits);
            CHECK_EQ(im.pe.machine, machine);
            CHECK(im.pe.characteristics & FILE_DLL);
            CHECK_EQ(im.pe.section_alignment, PAGE);
            CHECK_EQ(im.pe.file_alignment, 0x200);
            CHECK_EQ(im.pe.image_base % GRAN, 0);
            image_close(&im);
        }
        for (size_t i = 0; i < sizeof exe_names / sizeof exe_names[0]; i++) {
            image_file im = image_open(fixture(bits, exe_names[i]));
            CHECK_EQ(im.pe.bits, bits);
            CHECK_EQ(im.pe.machine, machine);
            CHECK(!(im.pe.characteristics & FILE_DLL));
            CHECK_EQ(im.pe.image_base, exe_base);
            image_close(&im);
        }
        /* kbase: every kind of section. */
        image_file k = image_open(fixture(bits, "kbase.dll"));
        CHECK_EQ(k.pe.image_base, dll_base);
        const pe_section *s;
        CHECK((s = pe_find(&k.pe, ".text")) && section_protect(s->characteristics) == ER);
        CHECK((s = pe_find(&k.pe, ".rdata")) && section_protect(s->characteristics) == RO);
        CHECK((s = pe_find(&k.pe, ".data")) && section_protect(s->characteristics) == WC);
        CHECK((s = pe_find(&k.pe, ".xdat")) && section_protect(s->characteristics) == EWC);
        CHECK((s = pe_find(&k.pe, ".bss")) && s->raw_size == 0 && s->virtual_size >= 2 * PAGE &&
              section_protect(s->characteristics) == WC);
        fixup *f;
        CHECK(pe_fixups(&k.pe, &f) >= 3);
        free(f);
        image_close(&k);
        /* rbase: kbase's base, many fixups, one across a page boundary. */
        image_file r = image_open(fixture(bits, "rbase.dll"));
        CHECK_EQ(r.pe.image_base, dll_base);
        size_t n = pe_fixups(&r.pe, &f), straddling = 0;
        CHECK(n >= 1536);
        for (size_t i = 0; i < n; i++)
            straddling += (f[i].rva & (PAGE - 1)) + f[i].width > PAGE;
        CHECK(straddling >= 1);
        free(f);
        image_close(&r);
        /* norel: kbase's base, no relocations. */
        image_file nr = image_open(fixture(bits, "norel.dll"));
        CHECK_EQ(nr.pe.image_base, dll_base);
        CHECK(nr.pe.dir_rva[DIR_BASERELOC] == 0 && nr.pe.dir_size[DIR_BASERELOC] == 0);
        CHECK(pe_find(&nr.pe, ".reloc") == NULL);
        image_close(&nr);
        /* shrd: a shared writable section. */
        image_file sh = image_open(fixture(bits, "shrd.dll"));
        CHECK((s = pe_find(&sh.pe, ".shr")) && (s->characteristics & SCN_MEM_SHARED) &&
              section_protect(s->characteristics) == RW);
        image_close(&sh);
        /* The imports. */
        static const struct {
            const char *file, *imports[2];
        } imp[] = {
            {"app.exe", {"kbase.dll", "ubase.dll"}}, {"ubase.dll", {"kbase.dll", NULL}},
            {"loop.exe", {"loopa.dll", NULL}},       {"loopa.dll", {"loopb.dll", NULL}},
            {"loopb.dll", {"loopa.dll", NULL}},      {"missing.exe", {"kbase.dll", "gone.dll"}},
            {"kbase.dll", {NULL, NULL}},
        };
        for (size_t i = 0; i < sizeof imp / sizeof imp[0]; i++) {
            image_file im = image_open(fixture(bits, imp[i].file));
            char names[8][64];
            size_t count = pe_imports(&im.pe, names, 8), want = 0;
            for (size_t j = 0; j < 2 && imp[i].imports[j]; j++, want++) {
                bool found = false;
                for (size_t k2 = 0; k2 < count; k2++)
                    found |= strcmp(names[k2], imp[i].imports[j]) == 0;
                if (!found)
                    fail("%d-bit %s does not import %s", bits, imp[i].file, imp[i].imports[j]);
            }
            CHECK_EQ(count, want);
            image_close(&im);
        }
        image_file app = image_open(fixture(bits, "app.exe"));
        CHECK_EQ(app.pe.stack_reserve, 0x180000);
        CHECK_EQ(app.pe.stack_commit, 0x3000);
        CHECK_EQ(app.pe.heap_reserve, 0x240000);
        CHECK_EQ(app.pe.heap_commit, 0x5000);
        CHECK_EQ(!!(app.pe.characteristics & FILE_LARGE_ADDRESS_AWARE), bits == 64);
        image_close(&app);
    }
    image_file laa = image_open(fixture(32, "app-laa.exe"));
    CHECK(laa.pe.characteristics & FILE_LARGE_ADDRESS_AWARE);
    image_close(&laa);
}

/* ---- Views of images ------------------------------------------------------------------------ */

/* Each fixture alone in a fresh process of its width: at its preferred base, every region and
   every byte as the section table says, a module record. */
static void images_map_at_their_preferred_bases(void)
{
    static const char *const all[] = {"kbase.dll", "ubase.dll", "rbase.dll", "norel.dll", "shrd.dll",
                                      "loopa.dll", "loopb.dll", "app.exe", "loop.exe", "missing.exe"};
    for (int bits = 32; bits <= 64; bits += 32) {
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
            image_file im = image_open(fixture(bits, all[i]));
            fx f = fx_bits(bits);
            uint64_t base = map_image(f.p, im.path);
            char what[128];
            snprintf(what, sizeof what, "%d-bit %s", bits, all[i]);
            if (base) {
                if (base != im.pe.image_base)
                    fail("%s mapped at 0x%" PRIx64 ", not its base 0x%" PRIx64, what, base, im.pe.image_base);
                check_view(f.p, base, &im.pe, what);
                check_module(f.p, base, &im.pe, all[i], what);
                /* GetMappedFileName works on image views: the path the image was opened by. */
                char name[1024];
                size_t n = vas_get_mapped_file_name(f.p, base + pe_view_size(&im.pe) - 1, name, sizeof name);
                if (n != strlen(im.path) || strcmp(name, im.path) != 0)
                    fail("%s: GetMappedFileName gives \"%s\" (%zu), expected \"%s\"", what, n ? name : "", n, im.path);
            }
            fx_close(&f);
            image_close(&im);
        }
    }
}

/* Fact 115 over every combination of characteristics: kbase.dll with its .data section's
   characteristics replaced, mapped in a fresh process; the page's first protection and, for the
   writable ones, the protection after a write (copy-on-write: PAGE_WRITECOPY -> PAGE_READWRITE,
   PAGE_EXECUTE_WRITECOPY -> PAGE_EXECUTE_READWRITE; shared sections are not copied). */
static void fact_115_section_characteristics(void)
{
    static const struct {
        uint32_t characteristics, protect, after_write;
    } cases[] = {
        {0, NA, 0},
        {SCN_MEM_READ, RO, 0},
        {SCN_MEM_WRITE, WC, RW},
        {SCN_MEM_READ | SCN_MEM_WRITE, WC, RW},
        {SCN_MEM_EXECUTE, EX, 0},
        {SCN_MEM_READ | SCN_MEM_EXECUTE, ER, 0},
        {SCN_MEM_WRITE | SCN_MEM_EXECUTE, EWC, ERW},
        {SCN_MEM_READ | SCN_MEM_WRITE | SCN_MEM_EXECUTE, EWC, ERW},
        /* The CNT_* content flags do not matter. */
        {SCN_CNT_CODE | SCN_MEM_READ, RO, 0},
        {SCN_CNT_CODE | SCN_CNT_INITIALIZED_DATA | SCN_CNT_UNINITIALIZED_DATA, NA, 0},
        {SCN_CNT_UNINITIALIZED_DATA | SCN_MEM_READ | SCN_MEM_WRITE, WC, RW},
        {SCN_CNT_INITIALIZED_DATA | SCN_MEM_READ | SCN_MEM_EXECUTE, ER, 0},
        {SCN_CNT_CODE | SCN_MEM_READ | SCN_MEM_WRITE | SCN_MEM_EXECUTE, EWC, ERW},
        /* Shared: writable pages are not copy-on-write. */
        {SCN_MEM_SHARED | SCN_MEM_READ, RO, 0},
        {SCN_MEM_SHARED | SCN_MEM_READ | SCN_MEM_WRITE, RW, RW},
        {SCN_MEM_SHARED | SCN_MEM_READ | SCN_MEM_WRITE | SCN_MEM_EXECUTE, ERW, ERW},
    };
    for (int bits = 32; bits <= 64; bits += 32) {
        image_file im = image_open(fixture(bits, "kbase.dll"));
        const pe_section *data = pe_find(&im.pe, ".data");
        vas_machine *m = machine_new("x64", 0, 0);
        for (size_t i = 0; data && i < sizeof cases / sizeof cases[0]; i++) {
            buf b = buf_copy(im.file);
            wr32(b.bytes + data->header + 36, cases[i].characteristics);
            char name[64], what[128];
            snprintf(name, sizeof name, "115-%d-%08x.dll", bits, cases[i].characteristics);
            snprintf(what, sizeof what, "%d-bit .data with characteristics 0x%08x", bits, cases[i].characteristics);
            const char *path = tmp_file("115", name);
            file_write(path, b.bytes, b.size);
            pe_info pe;
            char why[128];
            CHECK(pe_parse(&pe, b.bytes, b.size, why, sizeof why));
            vas_process *p = process_new(m, bits);
            uint64_t base = map_image(p, path);
            if (base) {
                uint64_t page = base + data->rva;
                if (protect_at(p, page) != cases[i].protect)
                    fail("%s: %s, expected %s", what, prot_name(protect_at(p, page)), prot_name(cases[i].protect));
                check_view(p, base, &pe, what);
                if (cases[i].after_write) {
                    uint32_t before = read32(p, page + 8);
                    write32(p, page + 8, before ^ 0x5A5A5A5Au);
                    CHECK_EQ(read32(p, page + 8), before ^ 0x5A5A5A5Au);
                    if (protect_at(p, page) != cases[i].after_write)
                        fail("%s: after a write %s, expected %s", what, prot_name(protect_at(p, page)),
                             prot_name(cases[i].after_write));
                    vas_memory_basic_information mbi = vq(p, page);
                    CHECK_EQ(mbi.type, IMAGE);
                    CHECK_EQ(mbi.allocation_protect, EWC);
                } else if (cases[i].protect != NA) {
                    /* Not writable: the write faults and changes nothing. */
                    uint32_t v = 0x12345678, before = read32(p, page + 8);
                    vas_exception e;
                    CHECK_EQ(vas_write(p, page + 8, &v, 4, &e), VAS_STATUS_ACCESS_VIOLATION);
                    CHECK_EQ(e.access, VAS_EXCEPTION_WRITE_FAULT);
                    CHECK_EQ(read32(p, page + 8), before);
                    CHECK_EQ(protect_at(p, page), cases[i].protect);
                } else {
                    uint32_t v;
                    vas_exception e;
                    CHECK_EQ(vas_read(p, page, &v, 4, &e), VAS_STATUS_ACCESS_VIOLATION);
                }
            }
            vas_process_destroy(p);
            buf_free(&b);
        }
        CHECK_EQ(vas_check(m), 0);
        vas_machine_destroy(m);
        image_close(&im);
    }
}

/* Copy-on-write of an image's data: a write to a PAGE_WRITECOPY page (.data), to an
   uninitialised one (.bss) and to a PAGE_EXECUTE_WRITECOPY one (.xdat) makes a private copy:
   that page alone turns PAGE_READWRITE / PAGE_EXECUTE_READWRITE (its own region), the process
   reads its bytes, another process's view and the file keep the original, also after the copy
   has been paged out and back. Read-only and code pages refuse writes. */
static void image_data_is_copy_on_write(void)
{
    for (int bits = 32; bits <= 64; bits += 32) {
        image_file im = image_open(fixture(bits, "kbase.dll"));
        vas_machine *m = machine_new("x64", 0, 0);
        vas_process *a = process_new(m, bits), *b = process_new(m, bits);
        uint64_t va = map_image(a, im.path), vb = map_image(b, im.path);
        const pe_section *data = pe_find(&im.pe, ".data"), *bss = pe_find(&im.pe, ".bss"),
                         *xdat = pe_find(&im.pe, ".xdat"), *rdata = pe_find(&im.pe, ".rdata"),
                         *text = pe_find(&im.pe, ".text");
        if (va && vb && data && bss && xdat && rdata && text) {
            uint32_t *prot = pe_page_protections(&im.pe);
            uint8_t *want = pe_expected_view(&im.pe, va);
            /* Each write: 4 bytes at `off` into a page. */
            const struct {
                uint32_t rva, protect_after;
            } writes[] = {{data->rva + 4, RW}, {bss->rva + PAGE + 12, RW}, {xdat->rva + 4, ERW}};
            for (size_t i = 0; i < 3; i++) {
                uint32_t v = 0xC0DE0000u + (uint32_t)i;
                write32(a, va + writes[i].rva, v);
                wr32(want + writes[i].rva, v);
                prot[writes[i].rva / PAGE] = writes[i].protect_after;
            }
            char what[96];
            snprintf(what, sizeof what, "%d-bit kbase.dll after writes", bits);
            check_regions_with(a, va, &im.pe, prot, what);
            check_bytes_against(a, va, &im.pe, want, what);
            snprintf(what, sizeof what, "%d-bit kbase.dll in the other process", bits);
            check_view(b, vb, &im.pe, what);
            /* Not writable: read-only data, code, headers. */
            uint64_t refused[] = {va + rdata->rva, va + text->rva, va};
            for (size_t i = 0; i < 3; i++) {
                uint32_t v = 1;
                vas_exception e;
                CHECK_EQ(vas_write(a, refused[i], &v, 4, &e), VAS_STATUS_ACCESS_VIOLATION);
            }
            /* The copies are private pages: paged out and back, they hold the written bytes,
               and the file never sees them. */
            CHECK(vas_empty_working_set(a));
            CHECK(vas_empty_working_set(b));
            vas_write_modified_pages(m);
            snprintf(what, sizeof what, "%d-bit kbase.dll after paging", bits);
            check_regions_with(a, va, &im.pe, prot, what);
            check_bytes_against(a, va, &im.pe, want, what);
            check_view(b, vb, &im.pe, what);
            buf now = file_read(im.path);
            CHECK(now.size == im.file.size && memcmp(now.bytes, im.file.bytes, now.size) == 0);
            buf_free(&now);
            /* Fact 109: a copied page keeps its copy; PAGE_WRITECOPY is reported PAGE_READWRITE. */
            uint32_t old = 0;
            CHECK(vas_virtual_protect(a, va + data->rva, PAGE, WC, &old));
            CHECK_EQ(old, RW);
            CHECK_EQ(protect_at(a, va + data->rva), RW);
            CHECK_EQ(read32(a, va + data->rva + 4), 0xC0DE0000u);
            free(want);
            free(prot);
        }
        CHECK_EQ(vas_check(m), 0);
        vas_machine_destroy(m);
        image_close(&im);
    }
}

/* A shared section (IMAGE_SCN_MEM_SHARED, writable): PAGE_READWRITE, and one memory for every
   process that maps the image (a write in one is read by the others, also one mapping later);
   the image's .data beside it stays private (PAGE_WRITECOPY). Neither reaches the file. */
static void shared_section_is_shared_between_processes(void)
{
    for (int bits = 32; bits <= 64; bits += 32) {
        image_file im = image_open(fixture(bits, "shrd.dll"));
        const pe_section *shr = pe_find(&im.pe, ".shr"), *data = pe_find(&im.pe, ".data");
        vas_machine *m = machine_new("x64", 0, 0);
        vas_process *a = process_new(m, bits), *b = process_new(m, bits);
        uint64_t va = map_image(a, im.path), vb = map_image(b, im.path);
        if (va && vb && shr && data) {
            char what[96];
            snprintf(what, sizeof what, "%d-bit shrd.dll", bits);
            check_view(a, va, &im.pe, what);
            check_view(b, vb, &im.pe, what);
            CHECK_EQ(protect_at(a, va + shr->rva), RW);
            CHECK_EQ(protect_at(a, va + data->rva), WC);
            CHECK_EQ(read32(b, vb + shr->rva), 0x53485244u);
            write32(a, va + shr->rva, 0xAAAA0001u);
            CHECK_EQ(read32(b, vb + shr->rva), 0xAAAA0001u);
            write32(b, vb + shr->rva + 4, 0xBBBB0002u);
            CHECK_EQ(read32(a, va + shr->rva + 4), 0xBBBB0002u);
            CHECK_EQ(protect_at(a, va + shr->rva), RW); /* no copy was made */
            CHECK_EQ(vq(a, va + shr->rva).region_size, align_up(shr->virtual_size, PAGE));
            /* .data is private. */
            write32(a, va + data->rva, 0xAAAA0003u);
            CHECK_EQ(read32(b, vb + data->rva), 0x50525654u);
            CHECK_EQ(protect_at(a, va + data->rva), RW);
            CHECK_EQ(protect_at(b, vb + data->rva), WC);
            /* A third process sees the shared writes, also after trimming. */
            CHECK(vas_empty_working_set(a));
            CHECK(vas_empty_working_set(b));
            vas_write_modified_pages(m);
            vas_process *c = process_new(m, bits);
            uint64_t vc = map_image(c, im.path);
            if (vc) {
                CHECK_EQ(read32(c, vc + shr->rva), 0xAAAA0001u);
                CHECK_EQ(read32(c, vc + shr->rva + 4), 0xBBBB0002u);
                CHECK_EQ(read32(c, vc + data->rva), 0x50525654u);
            }
            CHECK_EQ(read32(a, va + data->rva), 0xAAAA0003u);
            buf now = file_read(im.path);
            CHECK(now.size == im.file.size && memcmp(now.bytes, im.file.bytes, now.size) == 0);
            buf_free(&now);
        }
        CHECK_EQ(vas_check(m), 0);
        vas_machine_destroy(m);
        image_close(&im);
    }
}

/* Fact 116: VirtualProtect on image pages. From PAGE_NOACCESS, each single protection succeeds
   and VirtualQuery reports it, except PAGE_READWRITE (reported PAGE_WRITECOPY) and
   PAGE_EXECUTE_READWRITE (PAGE_EXECUTE_WRITECOPY): an image page is never shared writable;
   0 and combinations fail with ERROR_INVALID_PARAMETER; AllocationProtect stays
   PAGE_EXECUTE_WRITECOPY and Type MEM_IMAGE. */
static void fact_116_virtual_protect_on_image_pages(void)
{
    static const struct {
        uint32_t request, reported;
    } singles[] = {{NA, NA}, {RO, RO}, {RW, WC}, {WC, WC}, {EX, EX}, {ER, ER}, {ERW, EWC}, {EWC, EWC}};
    for (int bits = 32; bits <= 64; bits += 32) {
        image_file im = image_open(fixture(bits, "kbase.dll"));
        fx f = fx_bits(bits);
        uint64_t base = map_image(f.p, im.path);
        const pe_section *rdata = pe_find(&im.pe, ".rdata");
        if (base && rdata) {
            uint64_t page = base + rdata->rva;
            uint32_t *prot = pe_page_protections(&im.pe);
            uint32_t old = 0;
            CHECK(vas_virtual_protect(f.p, page, PAGE, NA, &old));
            CHECK_EQ(old, RO);
            for (size_t i = 0; i < sizeof singles / sizeof singles[0]; i++) {
                CHECK(vas_virtual_protect(f.p, page, PAGE, NA, &old));
                CHECK(vas_virtual_protect(f.p, page, PAGE, singles[i].request, &old));
                CHECK_EQ(old, NA);
                vas_memory_basic_information m = vq(f.p, page);
                CHECK_EQ(m.base_address, page);
                CHECK_EQ(m.allocation_base, base);
                CHECK_EQ(m.allocation_protect, EWC);
                CHECK_EQ(m.state, COMMIT);
                CHECK_EQ(m.type, IMAGE);
                if (m.protect != singles[i].reported)
                    fail("%d-bit: VirtualProtect(%s) gives %s, expected %s", bits, prot_name(singles[i].request),
                         prot_name(m.protect), prot_name(singles[i].reported));
                /* Every region of the view: the page is a region of its own unless its neighbours
                   have the same protection. */
                prot[rdata->rva / PAGE] = singles[i].reported;
                char what[96];
                snprintf(what, sizeof what, "%d-bit kbase.dll after VirtualProtect(%s)", bits,
                         prot_name(singles[i].request));
                check_regions_with(f.p, base, &im.pe, prot, what);
            }
            static const uint32_t refused[] = {0, RO | RW, RW | WC, ER | ERW, NA | RO, EX | ER, 0x1000};
            for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
                CHECK_FAILS_CLEAN(&f, vas_virtual_protect(f.p, page, PAGE, refused[i], &old),
                                  VAS_ERROR_INVALID_PARAMETER);
            /* Made PAGE_WRITECOPY by VirtualProtect, the read-only data is copied on write too. */
            CHECK(vas_virtual_protect(f.p, page, PAGE, RW, &old));
            uint32_t before = read32(f.p, page);
            write32(f.p, page, ~before);
            CHECK_EQ(protect_at(f.p, page), RW);
            CHECK_EQ(read32(f.p, page), ~before);
            buf now = file_read(im.path);
            CHECK(now.size == im.file.size && memcmp(now.bytes, im.file.bytes, now.size) == 0);
            buf_free(&now);
            free(prot);
        }
        fx_close(&f);
        image_close(&im);
    }
}

/* ---- Relocation ------------------------------------------------------------------------------ */

/* Every fixup site of the view at base holds the file's value plus base - ImageBase. */
static void check_fixups(vas_process *p, uint64_t base, const pe_info *pe, const char *what)
{
    fixup *f;
    size_t n = pe_fixups(pe, &f);
    uint8_t *file_view = pe_expected_view(pe, pe->image_base);
    uint64_t delta = base - pe->image_base;
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t got[8] = {0};
        vas_exception e;
        if (vas_read(p, base + f[i].rva, got, f[i].width, &e) != 0) {
            if (bad++ < 4)
                fail("%s: cannot read the fixup at rva 0x%x", what, f[i].rva);
            continue;
        }
        uint64_t want = f[i].width == 4 ? (uint32_t)(rd32(file_view + f[i].rva) + (uint32_t)delta)
                                        : rd64(file_view + f[i].rva) + delta;
        uint64_t have = f[i].width == 4 ? rd32(got) : rd64(got);
        if (have != want && bad++ < 4)
            fail("%s: the fixup at rva 0x%x%s holds 0x%" PRIx64 ", expected 0x%" PRIx64, what, f[i].rva,
                 (f[i].rva & (PAGE - 1)) + f[i].width > PAGE ? " (across a page boundary)" : "", have, want);
    }
    if (bad > 4)
        fprintf(stderr, "  (%s: %d of %zu fixups wrong)\n", what, bad, n);
    free(file_view);
    free(f);
}

/* rbase.dll has kbase.dll's base: mapped after it, it is relocated (vas_last_error() 0, as
   for STATUS_IMAGE_NOT_AT_BASE), every region as at its base, every byte the file's with every
   fixup moved by the delta (one across a page boundary; 32-bit code too), while another process
   maps it unrelocated at the same time from the same file. norel.dll, with no relocations, fails
   where kbase.dll is (ERROR_INVALID_ADDRESS: Windows' STATUS_CONFLICTING_ADDRESSES) and changes
   nothing, and loads at its base elsewhere. */
static void relocation_when_the_base_is_taken(void)
{
    for (int bits = 32; bits <= 64; bits += 32) {
        image_file k = image_open(fixture(bits, "kbase.dll")), r = image_open(fixture(bits, "rbase.dll")),
                   nr = image_open(fixture(bits, "norel.dll"));
        vas_machine *m = machine_new("x64", 0, 0);
        fx a = {m, process_new(m, bits)};
        vas_process *b = process_new(m, bits);
        char what[96];
        uint64_t kb = map_image(a.p, k.path);
        CHECK_EQ(kb, k.pe.image_base);
        vas_set_last_error(0xDEADBEEFu);
        uint64_t rb = vas_map_image(a.p, r.path);
        CHECK(rb != 0);
        CHECK_EQ(vas_last_error(), 0);
        uint64_t rb2 = map_image(b, r.path); /* alone: at its base */
        CHECK_EQ(rb2, r.pe.image_base);
        if (rb) {
            CHECK(rb != r.pe.image_base);
            CHECK_EQ(rb % GRAN, 0);
            CHECK(rb + pe_view_size(&r.pe) <= kb || rb >= kb + pe_view_size(&k.pe));
            if (bits == 32)
                CHECK(rb + pe_view_size(&r.pe) <= 0x80000000u);
            snprintf(what, sizeof what, "%d-bit rbase.dll relocated to 0x%" PRIx64, bits, rb);
            check_view(a.p, rb, &r.pe, what);
            check_fixups(a.p, rb, &r.pe, what);
            check_module(a.p, rb, &r.pe, "rbase.dll", what);
        }
        snprintf(what, sizeof what, "%d-bit kbase.dll beside it", bits);
        check_view(a.p, kb, &k.pe, what);
        if (rb2) {
            snprintf(what, sizeof what, "%d-bit rbase.dll at its base in another process", bits);
            check_view(b, rb2, &r.pe, what);
            check_module(b, rb2, &r.pe, "rbase.dll", what);
        }
        /* A third process relocating rbase.dll the same way: it may share the relocated pages
           with the first, but its writes stay its own. */
        vas_process *d = process_new(m, bits);
        uint64_t kd = map_image(d, k.path), rd = map_image(d, r.path);
        const pe_section *rdata_r = pe_find(&r.pe, ".data");
        if (kd && rd && rb && rdata_r) {
            snprintf(what, sizeof what, "%d-bit rbase.dll relocated in a third process", bits);
            check_view(d, rd, &r.pe, what);
            uint32_t v = read32(a.p, rb + rdata_r->rva);
            write32(d, rd + rdata_r->rva, 0x0BADF00Du);
            CHECK_EQ(read32(a.p, rb + rdata_r->rva), v);
            CHECK_EQ(read32(d, rd + rdata_r->rva), 0x0BADF00Du);
            CHECK(vas_empty_working_set(a.p));
            CHECK(vas_empty_working_set(d));
            vas_write_modified_pages(m);
            snprintf(what, sizeof what, "%d-bit rbase.dll relocated, after the third process wrote", bits);
            check_view(a.p, rb, &r.pe, what);
            CHECK_EQ(read32(d, rd + rdata_r->rva), 0x0BADF00Du);
        }
        vas_process_destroy(d);
        /* No relocations: refused where the base is taken. */
        CHECK_FAILS_CLEAN(&a, vas_map_image(a.p, nr.path), VAS_ERROR_INVALID_ADDRESS);
        vas_process *c = process_new(m, bits);
        uint64_t nb = map_image(c, nr.path);
        CHECK_EQ(nb, nr.pe.image_base);
        if (nb) {
            snprintf(what, sizeof what, "%d-bit norel.dll", bits);
            check_view(c, nb, &nr.pe, what);
        }
        /* Unmapped, the range is free again, and the next image takes it. */
        if (rb) {
            CHECK(vas_unmap_view_of_file(a.p, rb));
            CHECK_EQ(vq(a.p, rb).state, VAS_MEM_FREE);
        }
        CHECK(vas_unmap_view_of_file(a.p, kb));
        CHECK_EQ(vq(a.p, kb).state, VAS_MEM_FREE);
        uint64_t again = map_image(a.p, r.path);
        CHECK_EQ(again, r.pe.image_base);
        if (again)
            check_view(a.p, again, &r.pe, "rbase.dll at its base once kbase.dll is gone");
        fx_close(&a);
        image_close(&k);
        image_close(&r);
        image_close(&nr);
    }
}

/* ---- Memory pressure ----------------------------------------------------------------------- */

/* Pushes every trimmable page of the machine out of RAM: the working sets emptied, modified
   pages written, then a process that touches twice the RAM. */
static void push_out(vas_machine *m, vas_process **ps, int count)
{
    for (int i = 0; i < count; i++)
        CHECK(vas_empty_working_set(ps[i]));
    vas_write_modified_pages(m);
    vas_physical_status phys;
    vas_get_physical_status(m, &phys);
    uint64_t pages = 2 * phys.frame_count;
    vas_process *hog = process_new(m, 0);
    uint64_t a = vas_virtual_alloc(hog, 0, pages * PAGE, VAS_MEM_COMMIT | VAS_MEM_RESERVE, RW);
    CHECK(a != 0);
    for (uint64_t i = 0; a && i < pages; i++) {
        uint8_t byte = (uint8_t)i;
        CHECK_EQ(vas_write(hog, a + i * PAGE, &byte, 1, NULL), 0);
    }
    vas_process_destroy(hog);
}

/* Image pages come from the file: on a 2 MB machine, each first read is a hard fault; dropped
   (trimmed, their frames taken by another process), clean pages are read again from the file,
   relocated ones relocated again, and a written page keeps its copy (from the paging file). */
static void image_pages_come_back_from_the_file(void)
{
    for (int bits = 32; bits <= 64; bits += 32) {
        image_file k = image_open(fixture(bits, "kbase.dll")), r = image_open(fixture(bits, "rbase.dll"));
        vas_machine *m = machine_new("x64", 2 * MiB, 0);
        vas_process *p = process_new(m, bits);
        uint64_t kb = map_image(p, k.path), rb = map_image(p, r.path);
        const pe_section *data = pe_find(&k.pe, ".data");
        if (kb && rb && data) {
            CHECK(rb != r.pe.image_base);
            vas_process_counters c0 = counters_of(p);
            check_bytes(p, rb, &r.pe, "rbase.dll, first touch");
            vas_process_counters c1 = counters_of(p);
            if (c1.hard_faults <= c0.hard_faults)
                fail("%d-bit: reading an image for the first time took no hard fault", bits);
            uint8_t *want = pe_expected_view(&k.pe, kb);
            uint32_t *prot = pe_page_protections(&k.pe);
            write32(p, kb + data->rva + 16, 0xFEEDF00Du);
            wr32(want + data->rva + 16, 0xFEEDF00Du);
            prot[data->rva / PAGE] = RW;
            for (int round = 0; round < 2; round++) {
                push_out(m, &p, 1);
                vas_process_counters c2 = counters_of(p);
                char what[96];
                snprintf(what, sizeof what, "%d-bit rbase.dll (relocated) after pressure", bits);
                check_bytes(p, rb, &r.pe, what);
                check_regions(p, rb, &r.pe, what);
                snprintf(what, sizeof what, "%d-bit kbase.dll after pressure", bits);
                check_bytes_against(p, kb, &k.pe, want, what);
                check_regions_with(p, kb, &k.pe, prot, what);
                vas_process_counters c3 = counters_of(p);
                if (c3.hard_faults <= c2.hard_faults)
                    fail("%d-bit: image pages read back after pressure took no hard fault", bits);
            }
            buf now = file_read(k.path);
            CHECK(now.size == k.file.size && memcmp(now.bytes, k.file.bytes, now.size) == 0);
            buf_free(&now);
            free(want);
            free(prot);
        }
        CHECK_EQ(vas_check(m), 0);
        vas_machine_destroy(m);
        image_close(&k);
        image_close(&r);
    }
}

/* ---- Processes from executables ------------------------------------------------------------- */

static vas_process *create_from(vas_machine *m, const char *exe, const char *dll_path)
{
    vas_process_config c = {0};
    c.dll_path = dll_path;
    vas_set_last_error(0xDEADBEEFu);
    vas_process *p = vas_process_create_from_image(m, exe, &c);
    if (!p)
        fail("vas_process_create_from_image(%s) failed: %s", exe, vas_error_name(vas_last_error()));
    return p;
}

/* The process's modules are exactly `names` (the executable first), each once, each at its
   preferred base and mapped as its file says. */
static void check_modules(vas_process *p, const char *folder, const char *const *names, size_t count,
                          const char *what)
{
    vas_module_info mods[16];
    size_t n = vas_process_modules(p, mods, 16);
    if (n != count)
        fail("%s: %zu modules, expected %zu", what, n, count);
    if (n > 16)
        n = 16;
    if (n > 0 && (!mods[0].name || strcmp(mods[0].name, names[0]) != 0))
        fail("%s: the first module is %s, not the executable %s", what, mods[0].name ? mods[0].name : "(null)",
             names[0]);
    for (size_t i = 0; i < count; i++) {
        size_t seen = 0, at = 0;
        for (size_t j = 0; j < n; j++)
            if (mods[j].name && strcmp(mods[j].name, names[i]) == 0) {
                seen++;
                at = j;
            }
        if (seen != 1) {
            fail("%s: %s is loaded %zu times", what, names[i], seen);
            continue;
        }
        char path[4200], label[160];
        snprintf(path, sizeof path, "%s/%s", folder, names[i]);
        image_file im = image_open(path);
        snprintf(label, sizeof label, "%s: %s", what, names[i]);
        if (mods[at].base != im.pe.image_base)
            fail("%s at 0x%" PRIx64 ", not its base 0x%" PRIx64, label, mods[at].base, im.pe.image_base);
        check_module(p, mods[at].base, &im.pe, names[i], label);
        check_view(p, mods[at].base, &im.pe, label);
        image_close(&im);
    }
}

/* A private committed PAGE_READWRITE page (the PEB, a TEB). */
static void check_private_rw(vas_process *p, uint64_t va, const char *what)
{
    vas_memory_basic_information m = vq(p, va);
    if (va == 0 || va % PAGE || m.state != COMMIT || m.protect != RW || m.type != VAS_MEM_PRIVATE ||
        m.allocation_protect != RW)
        fail("%s at 0x%" PRIx64 ": %s %s %s (allocation %s), expected a committed PAGE_READWRITE private page", what,
             va, vas_state_name(m.state), prot_name(m.protect), vas_type_name(m.type), prot_name(m.allocation_protect));
}

/* The thread's stack: [deallocation_stack, stack_base) reserved (reserve rounded to 64 KB), the
   top `commit` bytes committed PAGE_READWRITE, one PAGE_READWRITE|PAGE_GUARD page below. */
static void check_stack(vas_process *p, const vas_thread_info *t, uint64_t reserve, uint64_t commit,
                        const char *what)
{
    check_private_rw(p, t->teb, what);
    if (t->stack_base - t->deallocation_stack != align_up(reserve, GRAN))
        fail("%s: a stack of 0x%" PRIx64 " bytes, expected 0x%" PRIx64, what, t->stack_base - t->deallocation_stack,
             align_up(reserve, GRAN));
    if (t->stack_base - t->stack_limit != commit)
        fail("%s: 0x%" PRIx64 " bytes committed, expected 0x%" PRIx64, what, t->stack_base - t->stack_limit, commit);
    CHECK_MBI(vq(p, t->stack_limit), t->stack_limit, t->deallocation_stack, RW, commit, COMMIT, RW, VAS_MEM_PRIVATE);
    CHECK_MBI(vq(p, t->stack_limit - PAGE), t->stack_limit - PAGE, t->deallocation_stack, RW, PAGE, COMMIT,
              RW | VAS_PAGE_GUARD, VAS_MEM_PRIVATE);
    CHECK_MBI(vq(p, t->deallocation_stack), t->deallocation_stack, t->deallocation_stack, RW,
              t->stack_limit - PAGE - t->deallocation_stack, VAS_MEM_RESERVE, 0, VAS_MEM_PRIVATE);
}

/* What the process from app.exe must hold: the PEB, the executable's base, the process heap of
   the header's reserve (0x240000) with its commit (0x5000) committed, one thread whose stack has
   the header's numbers (0x180000 / 0x3000). */
static void check_app_process(vas_process *p, int bits, const char *what)
{
    image_file app = image_open(fixture(bits, "app.exe"));
    vas_process_info info;
    memset(&info, 0, sizeof info);
    CHECK(vas_process_get_info(p, &info));
    check_private_rw(p, info.peb, "the PEB");
    CHECK_EQ(info.image_base, app.pe.image_base);
    CHECK_EQ(info.thread_count, 1);
    CHECK(info.main_thread_id != 0);
    CHECK(info.heap_base != 0 && info.heap_base % GRAN == 0);
    if (info.heap_base) {
        CHECK_MBI(vq(p, info.heap_base), info.heap_base, info.heap_base, RW, app.pe.heap_commit, COMMIT, RW,
                  VAS_MEM_PRIVATE);
        CHECK_MBI(vq(p, info.heap_base + app.pe.heap_commit), info.heap_base + app.pe.heap_commit, info.heap_base,
                  RW, app.pe.heap_reserve - app.pe.heap_commit, VAS_MEM_RESERVE, 0, VAS_MEM_PRIVATE);
    }
    vas_thread_info t;
    memset(&t, 0, sizeof t);
    if (vas_thread_get_info(p, info.main_thread_id, &t)) {
        CHECK_EQ(t.thread_id, info.main_thread_id);
        check_stack(p, &t, app.pe.stack_reserve, app.pe.stack_commit, what);
    } else {
        fail("%s: no main thread (%s)", what, vas_error_name(vas_last_error()));
    }
    if (bits == 32) {
        vas_system_info si;
        vas_get_system_info(p, &si);
        CHECK(info.peb <= si.maximum_application_address && t.teb <= si.maximum_application_address);
    }
    image_close(&app);
}

/* app.exe on x64 (64-bit, and 32-bit under WOW64): the executable first, kbase.dll and
   ubase.dll once each (kbase.dll is imported twice), at their bases, mapped as their files say;
   the width from the image; the PEB, heap and first thread. */
static void process_from_app_exe(void)
{
    static const char *const names[] = {"app.exe", "kbase.dll", "ubase.dll"};
    for (int bits = 32; bits <= 64; bits += 32) {
        vas_machine *m = machine_new("x64", 0, 0);
        vas_process *p = create_from(m, fixture(bits, "app.exe"), NULL);
        if (p) {
            char what[64], folder[1024];
            snprintf(what, sizeof what, "%d-bit app.exe", bits);
            snprintf(folder, sizeof folder, "%s/%d", fixtures, bits);
            CHECK_EQ(vas_process_bits(p), bits);
            CHECK_EQ(vas_process_large_address_aware(p), bits == 64);
            check_modules(p, folder, names, 3, what);
            check_app_process(p, bits, what);
            /* A second process from the same files: its own address space, the same layout. */
            vas_process *q = create_from(m, fixture(bits, "app.exe"), NULL);
            if (q) {
                check_modules(q, folder, names, 3, what);
                vas_process_destroy(q);
            }
            vas_process_destroy(p);
        }
        CHECK_EQ(vas_check(m), 0);
        vas_machine_destroy(m);
    }
}

/* Large-address-awareness comes from the image (IMAGE_FILE_LARGE_ADDRESS_AWARE): under WOW64 a
   32-bit process gets 4 GB less 64 KB with it and 2 GB without; on x86 booted with
   IncreaseUserVa=3072, 3 GB with it; on a plain x86, 2 GB either way. The config's bits and
   large_address_aware are ignored. On x86 a PE32+ executable or image is refused with
   ERROR_BAD_EXE_FORMAT and changes nothing. */
static void large_address_awareness_from_the_image(void)
{
    static const struct {
        const char *layout;
        uint32_t increase;
        const char *exe;
        int laa;
        uint64_t highest;
    } cases[] = {
        {"x64", 0, "app.exe", 0, 0x7FFEFFFF},     {"x64", 0, "app-laa.exe", 1, 0xFFFEFFFF},
        {"x86", 3072, "app.exe", 0, 0x7FFEFFFF},  {"x86", 3072, "app-laa.exe", 1, 0xBFFEFFFF},
        {"x86", 0, "app.exe", 0, 0x7FFEFFFF},     {"x86", 0, "app-laa.exe", 1, 0x7FFEFFFF},
    };
    static const char *const app_names[] = {"app.exe", "kbase.dll", "ubase.dll"};
    static const char *const laa_names[] = {"app-laa.exe", "kbase.dll", "ubase.dll"};
    char folder[1024];
    snprintf(folder, sizeof folder, "%s/32", fixtures);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vas_machine *m = machine_new(cases[i].layout, 0, cases[i].increase);
        vas_process_config c = {0};
        c.bits = 64;                     /* ignored */
        c.large_address_aware = cases[i].laa ? -1 : 1; /* ignored */
        vas_process *p = vas_process_create_from_image(m, fixture(32, cases[i].exe), &c);
        char what[128];
        snprintf(what, sizeof what, "%s on %s (IncreaseUserVa %u)", cases[i].exe, cases[i].layout, cases[i].increase);
        if (!p) {
            fail("%s: %s", what, vas_error_name(vas_last_error()));
        } else {
            CHECK_EQ(vas_process_bits(p), 32);
            if (vas_process_large_address_aware(p) != cases[i].laa)
                fail("%s: large-address-aware %d", what, vas_process_large_address_aware(p));
            vas_system_info si;
            vas_get_system_info(p, &si);
            if (si.maximum_application_address != cases[i].highest)
                fail("%s: highest address 0x%" PRIx64 ", expected 0x%" PRIx64, what, si.maximum_application_address,
                     cases[i].highest);
            check_modules(p, folder, cases[i].laa ? laa_names : app_names, 3, what);
            check_app_process(p, 32, what);
            /* Deterministic placement on x86 (nt-memory-manager.md: PEB 0x7FFDF000 and the first
               TEB 0x7FFDE000 with no randomisation in a 2 GB space). */
            if (strcmp(cases[i].layout, "x86") == 0 && cases[i].highest == 0x7FFEFFFF) {
                vas_process_info info;
                vas_thread_info t;
                CHECK(vas_process_get_info(p, &info));
                CHECK_EQ(info.peb, 0x7FFDF000u);
                if (vas_thread_get_info(p, info.main_thread_id, &t))
                    CHECK_EQ(t.teb, 0x7FFDE000u);
            }
        }
        if (strcmp(cases[i].layout, "x86") == 0) {
            vas_memory_status s0 = status_of(m);
            CHECK_FAILS(vas_process_create_from_image(m, fixture(64, "app.exe"), NULL), VAS_ERROR_BAD_EXE_FORMAT);
            vas_memory_status s1 = status_of(m);
            CHECK_EQ(s1.process_count, s0.process_count);
            CHECK_EQ(s1.commit_total, s0.commit_total);
            CHECK_EQ(s1.avail_phys, s0.avail_phys);
            fx f = {m, process_new(m, 0)};
            CHECK_FAILS_CLEAN(&f, vas_map_image(f.p, fixture(64, "kbase.dll")), VAS_ERROR_BAD_EXE_FORMAT);
            CHECK_FAILS_CLEAN(&f, vas_map_image(f.p, fixture(64, "app.exe")), VAS_ERROR_BAD_EXE_FORMAT);
        }
        CHECK_EQ(vas_check(m), 0);
        vas_machine_destroy(m);
    }
}

/* loop.exe imports loopa.dll, which imports loopb.dll, which imports loopa.dll: each is loaded
   once and creation ends. */
static void import_loop_loads_each_dll_once(void)
{
    static const char *const names[] = {"loop.exe", "loopa.dll", "loopb.dll"};
    for (int bits = 32; bits <= 64; bits += 32) {
        vas_machine *m = machine_new("x64", 0, 0);
        vas_process *p = create_from(m, fixture(bits, "loop.exe"), NULL);
        if (p) {
            char what[64], folder[1024];
            snprintf(what, sizeof what, "%d-bit loop.exe", bits);
            snprintf(folder, sizeof folder, "%s/%d", fixtures, bits);
            check_modules(p, folder, names, 3, what);
        }
        CHECK_EQ(vas_check(m), 0);
        vas_machine_destroy(m);
    }
}

/* A creation that must fail with `error` and leave the machine as it was (no process, no
   commit, no frames). */
static void check_create_fails(vas_machine *m, const char *exe, const char *dll_path, uint32_t error,
                               const char *what)
{
    vas_memory_status s0 = status_of(m);
    vas_physical_status f0, f1;
    vas_get_physical_status(m, &f0);
    vas_process_config c = {0};
    c.dll_path = dll_path;
    vas_set_last_error(0xDEADBEEFu);
    vas_process *p = vas_process_create_from_image(m, exe, &c);
    if (p) {
        fail("%s: the process was created", what);
        vas_process_destroy(p);
        return;
    }
    if (vas_last_error() != error)
        fail("%s: %s, expected %s", what, vas_error_name(vas_last_error()), vas_error_name(error));
    vas_memory_status s1 = status_of(m);
    vas_get_physical_status(m, &f1);
    if (s1.process_count != s0.process_count || s1.commit_total != s0.commit_total ||
        s1.avail_phys != s0.avail_phys || f1.active != f0.active)
        fail("%s: the failed creation left something behind (processes %u -> %u, commit 0x%" PRIx64 " -> 0x%" PRIx64
             ", available 0x%" PRIx64 " -> 0x%" PRIx64 ")",
             what, s0.process_count, s1.process_count, s0.commit_total, s1.commit_total, s0.avail_phys, s1.avail_phys);
    CHECK_EQ(vas_check(m), 0);
}

/* A missing DLL fails creation with ERROR_MOD_NOT_FOUND (STATUS_DLL_NOT_FOUND): imported by the
   executable (missing.exe imports gone.dll), or by a DLL it imports (ubase.dll without
   kbase.dll beside it). An executable that does not exist: ERROR_FILE_NOT_FOUND. */
static void missing_dll_fails_creation(void)
{
    for (int bits = 32; bits <= 64; bits += 32) {
        vas_machine *m = machine_new("x64", 0, 0);
        char what[96];
        snprintf(what, sizeof what, "%d-bit missing.exe", bits);
        check_create_fails(m, fixture(bits, "missing.exe"), NULL, VAS_ERROR_MOD_NOT_FOUND, what);
        char sub[32];
        snprintf(sub, sizeof sub, "nokbase%d", bits);
        copy_file(fixture(bits, "app.exe"), tmp_file(sub, "app.exe"));
        copy_file(fixture(bits, "ubase.dll"), tmp_file(sub, "ubase.dll"));
        snprintf(what, sizeof what, "%d-bit app.exe without kbase.dll", bits);
        check_create_fails(m, tmp_file(sub, "app.exe"), NULL, VAS_ERROR_MOD_NOT_FOUND, what);
        snprintf(what, sizeof what, "%d-bit app.exe without kbase.dll, a search path without it too", bits);
        check_create_fails(m, tmp_file(sub, "app.exe"), tmp_dir, VAS_ERROR_MOD_NOT_FOUND, what);
        check_create_fails(m, tmp_file(sub, "nothere.exe"), NULL, VAS_ERROR_FILE_NOT_FOUND, "a missing executable");
        /* The machine is still usable. */
        vas_process *p = create_from(m, fixture(bits, "app.exe"), NULL);
        if (p)
            vas_process_destroy(p);
        vas_machine_destroy(m);
    }
}

/* DLLs are found in the executable's folder, then in the config's dll_path (folders separated
   by ':'), by name, case-insensitively. */
static void dlls_are_found_on_the_search_path(void)
{
    for (int bits = 32; bits <= 64; bits += 32) {
        vas_machine *m = machine_new("x64", 0, 0);
        char sub[32], folder[1024], path[2048], what[96];
        snprintf(sub, sizeof sub, "alone%d", bits);
        copy_file(fixture(bits, "app.exe"), tmp_file(sub, "app.exe"));
        snprintf(what, sizeof what, "%d-bit app.exe alone", bits);
        check_create_fails(m, tmp_file(sub, "app.exe"), NULL, VAS_ERROR_MOD_NOT_FOUND, what);
        snprintf(folder, sizeof folder, "%s/%d", fixtures, bits);
        snprintf(path, sizeof path, "%s/nowhere:%s", tmp_dir, folder);
        vas_process *p = create_from(m, tmp_file(sub, "app.exe"), path);
        if (p) {
            vas_module_info mods[8];
            size_t n = vas_process_modules(p, mods, 8);
            CHECK_EQ(n, 3);
            for (size_t i = 1; i < n && i < 8; i++)
                CHECK(mods[i].path && strncmp(mods[i].path, folder, strlen(folder)) == 0);
            vas_process_destroy(p);
        }
        /* The executable's folder comes first: a copy of the DLLs there is the one loaded. */
        copy_file(fixture(bits, "kbase.dll"), tmp_file(sub, "kbase.dll"));
        p = create_from(m, tmp_file(sub, "app.exe"), path);
        if (p) {
            vas_module_info mods[8];
            size_t n = vas_process_modules(p, mods, 8);
            for (size_t i = 1; i < n && i < 8; i++)
                if (mods[i].name && strcmp(mods[i].name, "kbase.dll") == 0)
                    CHECK(mods[i].path && strncmp(mods[i].path, tmp_dir, strlen(tmp_dir)) == 0);
            vas_process_destroy(p);
        }
        /* Names differ in case only. */
        snprintf(sub, sizeof sub, "case%d", bits);
        copy_file(fixture(bits, "app.exe"), tmp_file(sub, "app.exe"));
        copy_file(fixture(bits, "kbase.dll"), tmp_file(sub, "KBASE.DLL"));
        copy_file(fixture(bits, "ubase.dll"), tmp_file(sub, "UBase.Dll"));
        p = create_from(m, tmp_file(sub, "app.exe"), NULL);
        if (p) {
            CHECK_EQ(vas_process_modules(p, NULL, 0), 3);
            vas_process_destroy(p);
        }
        CHECK_EQ(vas_check(m), 0);
        vas_machine_destroy(m);
    }
}

/* Threads of a process from an image: the image's stack numbers by default (0x180000 /
   0x3000), explicit ones otherwise; exiting frees the TEB and the stack; an unknown thread is
   ERROR_INVALID_PARAMETER. A process not made from an image takes 1 MB / 4 KB. */
static void threads_take_the_image_stack_sizes(void)
{
    for (int bits = 32; bits <= 64; bits += 32) {
        vas_machine *m = machine_new("x64", 0, 0);
        vas_process *p = create_from(m, fixture(bits, "app.exe"), NULL);
        if (p) {
            vas_thread_info t, u;
            memset(&t, 0, sizeof t);
            memset(&u, 0, sizeof u);
            CHECK(vas_thread_create(p, 0, 0, &t));
            check_stack(p, &t, 0x180000, 0x3000, "a thread with the image's stack");
            CHECK(vas_thread_create(p, 0x50000, 0x2000, &u));
            check_stack(p, &u, 0x50000, 0x2000, "a thread of 0x50000 / 0x2000");
            CHECK(t.thread_id != u.thread_id && t.teb != u.teb);
            vas_process_info info;
            CHECK(vas_process_get_info(p, &info));
            CHECK_EQ(info.thread_count, 3);
            CHECK(vas_thread_exit(p, t.thread_id));
            CHECK_EQ(vq(p, t.teb).state, VAS_MEM_FREE);
            CHECK_EQ(vq(p, t.deallocation_stack).state, VAS_MEM_FREE);
            CHECK(vas_process_get_info(p, &info));
            CHECK_EQ(info.thread_count, 2);
            CHECK_FAILS(vas_thread_exit(p, t.thread_id), VAS_ERROR_INVALID_PARAMETER);
            vas_thread_info none;
            CHECK_FAILS(vas_thread_get_info(p, t.thread_id, &none), VAS_ERROR_INVALID_PARAMETER);
            vas_process_destroy(p);
        }
        vas_process *q = process_new(m, bits);
        vas_thread_info t;
        memset(&t, 0, sizeof t);
        CHECK(vas_thread_create(q, 0, 0, &t));
        check_stack(q, &t, 0x100000, 0x1000, "a thread of a process without an image");
        CHECK_EQ(vas_check(m), 0);
        vas_machine_destroy(m);
    }
}

/* The same images through the other doors: a backing store of the caller's (vas_map_image_ops,
   closed by the section when it goes) and CreateFileMapping(SEC_IMAGE) + MapViewOfFile (fact
   80: attributes SEC_FILE|SEC_IMAGE; the view is an image view at the preferred base). */
typedef struct mem_file {
    const uint8_t *bytes;
    uint64_t size;
    int closed;
    int reads_outside; /* reads that reached past the end of the file */
    uint64_t reads;
} mem_file;

static int mem_read(void *file, uint64_t offset, void *buffer, size_t size)
{
    mem_file *f = file;
    f->reads++;
    if (offset > f->size || size > f->size - offset) {
        f->reads_outside++;
        return -1;
    }
    memcpy(buffer, f->bytes + offset, size);
    return 0;
}

static int mem_write(void *file, uint64_t offset, const void *buffer, size_t size)
{
    (void)file;
    (void)offset;
    (void)buffer;
    (void)size;
    return -1; /* an image is never written back */
}

static void mem_close(void *file) { ((mem_file *)file)->closed++; }

static const vas_backing_ops mem_ops = {mem_read, mem_write, mem_close};

static void images_through_a_backing_store(void)
{
    for (int bits = 32; bits <= 64; bits += 32) {
        image_file im = image_open(fixture(bits, "kbase.dll"));
        vas_machine *m = machine_new("x64", 0, 0);
        vas_process *p = process_new(m, bits);
        mem_file mf = {im.file.bytes, im.file.size, 0, 0, 0};
        uint64_t base = vas_map_image_ops(p, &mem_ops, &mf, mf.size, "kbase.dll");
        CHECK_EQ(base, im.pe.image_base);
        if (base) {
            check_view(p, base, &im.pe, "kbase.dll from a backing store");
            check_module(p, base, &im.pe, "kbase.dll", "kbase.dll from a backing store");
            /* GetMappedFileName: a caller's backing store has no path. */
            char name[64];
            CHECK_FAILS(vas_get_mapped_file_name(p, base, name, sizeof name), VAS_ERROR_FILE_INVALID);
            CHECK(mf.reads > 0);
            CHECK(vas_unmap_view_of_file(p, base));
        } else {
            fail("vas_map_image_ops: %s", vas_error_name(vas_last_error()));
        }
        vas_process_destroy(p);
        CHECK_EQ(mf.reads_outside, 0);
        vas_machine_destroy(m);
        CHECK_EQ(mf.closed, 1);
        image_close(&im);
    }
}

/* Fact 80 and group L: CreateFileMapping(SEC_IMAGE) of a PE file makes an image section
   (NtQuerySection: SEC_FILE|SEC_IMAGE), and MapViewOfFile maps it as an image view, at its
   preferred base, with the protections of its sections (the view's access does not matter:
   "page protection for views of an executable image file is determined by the file itself"). */
static void sec_image_sections_map_as_images(void)
{
    for (int bits = 32; bits <= 64; bits += 32) {
        image_file im = image_open(fixture(bits, "kbase.dll"));
        vas_machine *m = machine_new("x64", 0, 0);
        vas_section *s = vas_create_file_mapping(m, im.path, RO | VAS_SEC_IMAGE, 0, NULL);
        if (!s) {
            fail("CreateFileMapping(SEC_IMAGE) of %d-bit kbase.dll: %s", bits, vas_error_name(vas_last_error()));
        } else {
            vas_section_information si;
            memset(&si, 0, sizeof si);
            CHECK_EQ(vas_nt_query_section(s, &si), VAS_STATUS_SUCCESS);
            CHECK_EQ(si.attributes, VAS_SEC_FILE | VAS_SEC_IMAGE);
            vas_process *a = process_new(m, bits);
            uint64_t v = vas_map_view_of_file(a, s, VAS_FILE_MAP_READ, 0, 0, 0);
            if (!v) {
                fail("MapViewOfFile of a SEC_IMAGE section: %s", vas_error_name(vas_last_error()));
            } else {
                CHECK_EQ(v, im.pe.image_base);
                check_view(a, v, &im.pe, "kbase.dll through CreateFileMapping(SEC_IMAGE)");
            }
            CHECK(vas_close_section(s));
        }
        vas_machine_destroy(m);
        image_close(&im);
    }
}

/* ---- More of an image's life ---------------------------------------------------------------- */

/* lowal.dll has SectionAlignment = FileAlignment = 0x200: several sections share a page, so
   Windows cannot protect them one by one and maps the whole image, headers included, as one
   PAGE_EXECUTE_WRITECOPY region (MiCreateImageFileMap for images aligned below the page; Wine
   does the same); the bytes are the file's, one to one. */
static void low_alignment_image_is_one_writecopy_region(void)
{
    for (int bits = 32; bits <= 64; bits += 32) {
        image_file im = image_open(fixture(bits, "lowal.dll"));
        CHECK_EQ(im.pe.section_alignment, 0x200);
        CHECK_EQ(im.pe.file_alignment, 0x200);
        for (uint32_t i = 0; i < im.pe.section_count; i++)
            CHECK_EQ(im.pe.sections[i].rva, im.pe.sections[i].raw_offset);
        fx f = fx_bits(bits);
        uint64_t base = map_image(f.p, im.path);
        CHECK_EQ(base, im.pe.image_base);
        if (base) {
            uint64_t pages = pe_view_size(&im.pe) / PAGE;
            uint32_t *prot = calloc(pages, sizeof *prot);
            for (uint64_t i = 0; i < pages; i++)
                prot[i] = EWC;
            char what[64];
            snprintf(what, sizeof what, "%d-bit lowal.dll", bits);
            check_regions_with(f.p, base, &im.pe, prot, what);
            uint8_t *want = pe_expected_view(&im.pe, base);
            check_bytes_against(f.p, base, &im.pe, want, what);
            /* Writable anywhere, by copy: the header page too. */
            write32(f.p, base + 0x200, 0x11223344u);
            CHECK_EQ(protect_at(f.p, base), ERW);
            CHECK_EQ(read32(f.p, base + 0x200), 0x11223344u);
            free(want);
            free(prot);
        }
        fx_close(&f);
        image_close(&im);
    }
}

/* The writable pages of an image (copy-on-write, not shared) are charged to the commit when the
   view is mapped and returned when it goes; with no commit left, mapping fails with
   ERROR_COMMITMENT_LIMIT and changes nothing. Read-only and code pages are not charged: their
   backing store is the file. */
static void image_writable_pages_are_charged(void)
{
    for (int bits = 32; bits <= 64; bits += 32) {
        image_file im = image_open(fixture(bits, "kbase.dll"));
        uint32_t *prot = pe_page_protections(&im.pe);
        uint64_t writable = 0;
        for (uint64_t i = 0; i < pe_view_size(&im.pe) / PAGE; i++)
            writable += prot[i] == WC || prot[i] == EWC;
        free(prot);
        vas_machine_config mc = {0};
        mc.layout = "x64";
        mc.ram_bytes = 4 * MiB;
        mc.pagefile_bytes = VAS_NO_PAGEFILE;
        vas_process_config pc = {0};
        pc.bits = bits;
        fx f = fx_open_with(&mc, &pc);
        vas_memory_status s0 = status_of(f.m);
        uint64_t base = map_image(f.p, im.path);
        vas_memory_status s1 = status_of(f.m);
        if (s1.commit_total - s0.commit_total != writable * PAGE)
            fail("%d-bit kbase.dll: mapping charged 0x%" PRIx64 " bytes of commit, expected 0x%" PRIx64
                 " (its %" PRIu64 " writable pages)",
                 bits, s1.commit_total - s0.commit_total, writable * PAGE, writable);
        if (base) {
            CHECK(vas_unmap_view_of_file(f.p, base));
            CHECK_EQ(status_of(f.m).commit_total, s0.commit_total);
        }
        /* Leave one writable page's worth too little. */
        uint64_t left = status_of(f.m).avail_commit;
        uint64_t eat = left - (writable - 1) * PAGE;
        uint64_t a = vas_virtual_alloc(f.p, 0, eat, VAS_MEM_RESERVE | VAS_MEM_COMMIT, RW);
        CHECK(a != 0);
        CHECK_FAILS_CLEAN(&f, vas_map_image(f.p, im.path), VAS_ERROR_COMMITMENT_LIMIT);
        CHECK(vas_virtual_free(f.p, a, 0, VAS_MEM_RELEASE));
        base = map_image(f.p, im.path);
        CHECK_EQ(base, im.pe.image_base);
        fx_close(&f);
        image_close(&im);
    }
}

/* DEP: image code executes (.text, and the writable code of .xdat), data does not. */
static void image_code_executes_and_data_does_not(void)
{
    for (int bits = 32; bits <= 64; bits += 32) {
        image_file im = image_open(fixture(bits, "kbase.dll"));
        fx f = fx_bits(bits);
        uint64_t base = map_image(f.p, im.path);
        const pe_section *text = pe_find(&im.pe, ".text"), *xdat = pe_find(&im.pe, ".xdat"),
                         *data = pe_find(&im.pe, ".data"), *rdata = pe_find(&im.pe, ".rdata");
        if (base && text && xdat && data && rdata) {
            uint8_t code[16];
            vas_exception e;
            CHECK_EQ(vas_execute(f.p, base + text->rva, code, sizeof code, &e), 0);
            CHECK(memcmp(code, im.file.bytes + text->raw_offset, sizeof code) == 0);
            CHECK_EQ(vas_execute(f.p, base + xdat->rva, code, 4, &e), 0);
            CHECK_EQ(code[0], 0xC3);
            CHECK_EQ(vas_execute(f.p, base + data->rva, code, 4, &e), VAS_STATUS_ACCESS_VIOLATION);
            CHECK_EQ(e.access, VAS_EXCEPTION_EXECUTE_FAULT);
            CHECK_EQ(e.address, base + data->rva);
            CHECK_EQ(vas_execute(f.p, base + rdata->rva, code, 4, &e), VAS_STATUS_ACCESS_VIOLATION);
            CHECK_EQ(vas_execute(f.p, base, code, 4, &e), VAS_STATUS_ACCESS_VIOLATION);
        }
        fx_close(&f);
        image_close(&im);
    }
}

/* WriteProcessMemory into image code, as a debugger sets a breakpoint: kernel32 lifts the
   page's protection (PAGE_EXECUTE_READWRITE, on an image page PAGE_EXECUTE_WRITECOPY), the write
   makes a private copy, and the protection is put back (PAGE_EXECUTE_READ). The other
   process's view and the file keep the original code. */
static void write_process_memory_into_image_code_is_private(void)
{
    for (int bits = 32; bits <= 64; bits += 32) {
        image_file im = image_open(fixture(bits, "kbase.dll"));
        const pe_section *text = pe_find(&im.pe, ".text");
        vas_machine *m = machine_new("x64", 0, 0);
        vas_process *a = process_new(m, bits), *b = process_new(m, bits);
        uint64_t va = map_image(a, im.path), vb = map_image(b, im.path);
        if (va && vb && text) {
            uint8_t int3 = 0xCC;
            size_t written = 0;
            CHECK(vas_write_process_memory(a, va + text->rva + 1, &int3, 1, &written));
            CHECK_EQ(written, 1);
            uint8_t got = 0;
            CHECK_EQ(vas_read(a, va + text->rva + 1, &got, 1, NULL), 0);
            CHECK_EQ(got, 0xCC);
            CHECK_EQ(protect_at(a, va + text->rva), ER);
            uint8_t *want = pe_expected_view(&im.pe, va);
            want[text->rva + 1] = 0xCC;
            check_bytes_against(a, va, &im.pe, want, "kbase.dll with a breakpoint");
            check_regions(a, va, &im.pe, "kbase.dll with a breakpoint");
            check_view(b, vb, &im.pe, "kbase.dll in the other process");
            buf now = file_read(im.path);
            CHECK(now.size == im.file.size && memcmp(now.bytes, im.file.bytes, now.size) == 0);
            buf_free(&now);
            free(want);
        }
        CHECK_EQ(vas_check(m), 0);
        vas_machine_destroy(m);
        image_close(&im);
    }
}

/* Mapping an image that is already mapped maps it again (NtMapViewOfSection, not LoadLibrary):
   the second view cannot have the base, so it is relocated; both are whole images. */
static void the_same_image_twice_in_a_process(void)
{
    for (int bits = 32; bits <= 64; bits += 32) {
        image_file im = image_open(fixture(bits, "kbase.dll"));
        fx f = fx_bits(bits);
        uint64_t first = map_image(f.p, im.path), second = map_image(f.p, im.path);
        CHECK_EQ(first, im.pe.image_base);
        CHECK(second != 0 && second != first);
        if (first && second) {
            check_view(f.p, first, &im.pe, "kbase.dll, the first view");
            check_view(f.p, second, &im.pe, "kbase.dll, the second view");
            check_fixups(f.p, second, &im.pe, "kbase.dll, the second view");
            /* One copy-on-write page in the first view leaves the second alone. */
            const pe_section *data = pe_find(&im.pe, ".data");
            if (data) {
                uint32_t v = read32(f.p, second + data->rva + 4);
                write32(f.p, first + data->rva + 4, ~v);
                CHECK_EQ(read32(f.p, second + data->rva + 4), v);
            }
        }
        fx_close(&f);
        image_close(&im);
    }
}

/* Destroying a process made from an image gives everything back: commit, frames, the process. */
static void destroying_a_process_from_an_image_frees_everything(void)
{
    for (int bits = 32; bits <= 64; bits += 32) {
        vas_machine *m = machine_new("x64", 0, 0);
        vas_memory_status s0 = status_of(m);
        vas_physical_status f0, f1;
        vas_get_physical_status(m, &f0);
        vas_process *p = create_from(m, fixture(bits, "app.exe"), NULL);
        if (p) {
            vas_thread_info t;
            CHECK(vas_thread_create(p, 0, 0, &t));
            image_file r = image_open(fixture(bits, "rbase.dll"));
            uint64_t base = map_image(p, r.path);
            if (base)
                check_bytes(p, base, &r.pe, "rbase.dll in a process from app.exe");
            image_close(&r);
            vas_process_destroy(p);
        }
        vas_memory_status s1 = status_of(m);
        vas_get_physical_status(m, &f1);
        CHECK_EQ(s1.process_count, s0.process_count);
        CHECK_EQ(s1.commit_total, s0.commit_total);
        CHECK_EQ(f1.active, f0.active);
        CHECK_EQ(vas_check(m), 0);
        vas_machine_destroy(m);
    }
}

/* ---- Malformed images ----------------------------------------------------------------------- *
 * Each mutation makes a broken image from a valid fixture. Every one must fail with
 * ERROR_BAD_EXE_FORMAT (193): Windows' NtCreateSection(SEC_IMAGE) gives
 * STATUS_INVALID_IMAGE_NOT_MZ for a file without a DOS header, STATUS_INVALID_FILE_FOR_SECTION
 * for an empty one (fact 77) and STATUS_INVALID_IMAGE_FORMAT for the rest, all 193 (fact 137);
 * its loader gives STATUS_INVALID_IMAGE_FORMAT for relocations and imports it cannot apply.
 * The notes say where Windows' reason differs. */

typedef bool (*mutator)(buf *b, const pe_info *pe);

static void put32(buf *b, uint64_t off, uint32_t v)
{
    if (off + 4 <= b->size)
        wr32(b->bytes + off, v);
}

static void put16(buf *b, uint64_t off, uint32_t v)
{
    if (off + 2 <= b->size)
        wr16(b->bytes + off, v);
}

/* The file offset of an RVA inside some section's raw data (0: none). */
static uint64_t rva_offset(const pe_info *pe, uint32_t rva)
{
    for (uint32_t i = 0; i < pe->section_count; i++) {
        const pe_section *s = &pe->sections[i];
        if (rva >= s->rva && rva - s->rva < s->raw_size)
            return s->raw_offset + (rva - s->rva);
    }
    return 0;
}

static const pe_section *last_section(const pe_info *pe) { return &pe->sections[pe->section_count - 1]; }

/* Adds a read-only section of one page of 'A's at the end of the image (the header has room
   for one more entry in every fixture); returns its RVA, 0 when it cannot. */
static uint32_t add_filler_section(buf *b, const pe_info *pe)
{
    uint64_t entry = pe->section_table + 40ull * pe->section_count;
    if (entry + 40 > pe->size_of_headers || entry + 40 > pe->sections[0].raw_offset)
        return 0;
    uint32_t rva = (uint32_t)pe_view_size(pe);
    uint64_t raw = align_up(b->size, pe->file_alignment);
    uint8_t *bytes = realloc(b->bytes, raw + PAGE);
    if (!bytes)
        return 0;
    memset(bytes + b->size, 0, raw - b->size);
    memset(bytes + raw, 'A', PAGE);
    b->bytes = bytes;
    b->size = raw + PAGE;
    memset(b->bytes + entry, 0, 40);
    memcpy(b->bytes + entry, ".fill", 5);
    wr32(b->bytes + entry + 8, PAGE);
    wr32(b->bytes + entry + 12, rva);
    wr32(b->bytes + entry + 16, PAGE);
    wr32(b->bytes + entry + 20, (uint32_t)raw);
    wr32(b->bytes + entry + 36, SCN_CNT_INITIALIZED_DATA | SCN_MEM_READ);
    put16(b, pe->file_header + 2, pe->section_count + 1u);
    put32(b, pe->optional + 56, rva + (uint32_t)PAGE);
    return rva;
}

/* The headers. */
static bool m_empty(buf *b, const pe_info *pe) { (void)pe; b->size = 0; return true; }
static bool m_dos_truncated(buf *b, const pe_info *pe) { (void)pe; b->size = 32; return true; }
static bool m_dos_lfanew_cut(buf *b, const pe_info *pe) { (void)pe; b->size = 0x3E; return true; }
static bool m_bad_mz(buf *b, const pe_info *pe) { (void)pe; b->bytes[1] = 'X'; return true; }
static bool m_bad_pe_signature(buf *b, const pe_info *pe) { b->bytes[pe->nt + 2] = 'X'; return true; }
static bool m_pe_signature_cut(buf *b, const pe_info *pe) { b->size = pe->nt + 2; return true; }
static bool m_file_header_cut(buf *b, const pe_info *pe) { b->size = pe->file_header + 10; return true; }
static bool m_lfanew_past_end(buf *b, const pe_info *pe) { (void)pe; put32(b, 0x3C, (uint32_t)b->size + 0x40); return true; }
static bool m_lfanew_absurd(buf *b, const pe_info *pe) { (void)pe; put32(b, 0x3C, 0xFFFFFFF8u); return true; }
static bool m_lfanew_negative(buf *b, const pe_info *pe) { (void)pe; put32(b, 0x3C, 0x80000000u); return true; }
static bool m_lfanew_zero(buf *b, const pe_info *pe) { (void)pe; put32(b, 0x3C, 0); return true; }
/* A signature in the file's last four bytes: nothing after it. */
static bool m_lfanew_at_end(buf *b, const pe_info *pe)
{
    (void)pe;
    memcpy(b->bytes + b->size - 4, "PE\0\0", 4);
    put32(b, 0x3C, (uint32_t)b->size - 4);
    return true;
}
static bool m_optional_cut(buf *b, const pe_info *pe) { b->size = pe->optional + 40; return true; }
static bool m_optional_magic(buf *b, const pe_info *pe) { put16(b, pe->optional, 0x10C); return true; }
/* The other width's magic: PE32's optional header read as PE32+ (too short for it), or PE32+'s
   read as PE32 (ImageBase then 1, and the machine is AMD64). */
static bool m_optional_magic_swapped(buf *b, const pe_info *pe)
{
    put16(b, pe->optional, pe->bits == 32 ? 0x20B : 0x10B);
    return true;
}
static bool m_optional_size_huge(buf *b, const pe_info *pe) { put16(b, pe->file_header + 16, 0xFFFF); return true; }
/* The section table then ends 20 bytes past the end of the file. */
static bool m_optional_size_past_file(buf *b, const pe_info *pe)
{
    uint64_t size = b->size - pe->optional + 20 - 40ull * pe->section_count;
    if (size > 0xFFFF)
        return false;
    put16(b, pe->file_header + 16, (uint32_t)size);
    return true;
}
/* No sections: the data directories (imports, relocations, exports) point at RVAs nothing is
   mapped at. (Windows maps a sectionless image only when the whole file is its headers, with
   SectionAlignment = FileAlignment below a page; in this layout it is STATUS_INVALID_IMAGE_FORMAT.) */
static bool m_sections_zero(buf *b, const pe_info *pe) { put16(b, pe->file_header + 2, 0); return true; }
static bool m_sections_huge(buf *b, const pe_info *pe) { put16(b, pe->file_header + 2, 0xFFFF); return true; }
/* One more section, its table entry all zeros: VirtualAddress 0, inside the headers. */
static bool m_section_extra_zeroed(buf *b, const pe_info *pe)
{
    uint64_t entry = pe->section_table + 40ull * pe->section_count;
    if (entry + 40 > pe->sections[0].raw_offset)
        return false;
    memset(b->bytes + entry, 0, 40);
    put16(b, pe->file_header + 2, pe->section_count + 1u);
    return true;
}
static bool m_truncated_section_table(buf *b, const pe_info *pe) { b->size = pe->section_table + 60; return true; }
/* Sections. */
static bool m_raw_past_end(buf *b, const pe_info *pe)
{
    put32(b, last_section(pe)->header + 20, (uint32_t)align_up(b->size, 0x200) + 0x200);
    return true;
}
static bool m_raw_size_past_end(buf *b, const pe_info *pe) { put32(b, pe->sections[0].header + 16, 0x7FFFFE00u); return true; }
static bool m_raw_size_wraps(buf *b, const pe_info *pe) { put32(b, pe->sections[0].header + 16, 0xFFFFFE00u); return true; }
static bool m_raw_offset_wraps(buf *b, const pe_info *pe) { put32(b, pe->sections[0].header + 20, 0xFFFFFE00u); return true; }
/* The file ends 8 bytes into the last section's raw data. */
static bool m_truncated_in_section(buf *b, const pe_info *pe)
{
    const pe_section *s = last_section(pe);
    if (s->raw_size <= 8)
        return false;
    b->size = s->raw_offset + 8;
    return true;
}
static bool m_sections_overlap(buf *b, const pe_info *pe) { put32(b, pe->sections[1].header + 12, pe->sections[0].rva); return true; }
/* Sections in descending order of address (Windows requires them ascending and contiguous). */
static bool m_sections_descending(buf *b, const pe_info *pe)
{
    put32(b, pe->sections[0].header + 12, pe->sections[1].rva);
    put32(b, pe->sections[1].header + 12, pe->sections[0].rva);
    return true;
}
static bool m_section_in_headers(buf *b, const pe_info *pe) { put32(b, pe->sections[0].header + 12, 0); return true; }
static bool m_image_size_small(buf *b, const pe_info *pe) { put32(b, pe->optional + 56, last_section(pe)->rva); return true; }
static bool m_image_size_headers_only(buf *b, const pe_info *pe) { put32(b, pe->optional + 56, (uint32_t)PAGE); return true; }
static bool m_image_size_zero(buf *b, const pe_info *pe) { put32(b, pe->optional + 56, 0); return true; }
static bool m_section_vsize_absurd(buf *b, const pe_info *pe) { put32(b, last_section(pe)->header + 8, 0xFFFFF000u); return true; }
static bool m_section_rva_absurd(buf *b, const pe_info *pe) { put32(b, last_section(pe)->header + 12, 0xFFFFF000u); return true; }
static bool m_headers_size_absurd(buf *b, const pe_info *pe) { put32(b, pe->optional + 60, 0xFFFFFE00u); return true; }
/* Alignments. */
static bool m_section_alignment_npot(buf *b, const pe_info *pe) { put32(b, pe->optional + 32, 0x1800); return true; }
static bool m_section_alignment_zero(buf *b, const pe_info *pe) { put32(b, pe->optional + 32, 0); return true; }
/* SectionAlignment below the page and different from FileAlignment. */
static bool m_section_alignment_below_file(buf *b, const pe_info *pe) { put32(b, pe->optional + 32, 0x100); return true; }
static bool m_file_alignment_npot(buf *b, const pe_info *pe) { put32(b, pe->optional + 36, 0x300); return true; }
static bool m_file_alignment_zero(buf *b, const pe_info *pe) { put32(b, pe->optional + 36, 0); return true; }
static bool m_file_alignment_above_section(buf *b, const pe_info *pe) { put32(b, pe->optional + 36, 0x2000); return true; }

/* Relocations (applied to rbase.dll). A DYNAMIC_BASE image is relocated by Windows' kernel when
   its section is made (ASLR), so a broken table fails wherever the image goes; the test maps
   each both where the base is free and where it is taken. */
static uint64_t reloc_dir(const pe_info *pe) { return rva_offset(pe, pe->dir_rva[DIR_BASERELOC]); }
static bool m_reloc_block_past_image(buf *b, const pe_info *pe) { put32(b, reloc_dir(pe), pe->size_of_image + 0x10000); return true; }
static bool m_reloc_block_size_zero(buf *b, const pe_info *pe) { put32(b, reloc_dir(pe) + 4, 0); return true; }
static bool m_reloc_block_size_small(buf *b, const pe_info *pe) { put32(b, reloc_dir(pe) + 4, 4); return true; }
static bool m_reloc_block_size_past_dir(buf *b, const pe_info *pe)
{
    put32(b, reloc_dir(pe) + 4, pe->dir_size[DIR_BASERELOC] + 0x100);
    return true;
}
static bool m_reloc_dir_past_image(buf *b, const pe_info *pe) { put32(b, pe->dir_offset + 8 * DIR_BASERELOC, 0x7FFF0000u); return true; }
static bool m_reloc_dir_size_huge(buf *b, const pe_info *pe) { put32(b, pe->dir_offset + 8 * DIR_BASERELOC + 4, 0x7FFFFFF0u); (void)pe; return true; }
/* A fixup type no x86 or x64 loader knows (13): LdrProcessRelocationBlock refuses it. */
static bool m_reloc_type_unknown(buf *b, const pe_info *pe)
{
    uint64_t entry = reloc_dir(pe) + 8;
    if (entry + 2 > b->size)
        return false;
    put16(b, entry, 0xD000u | (rd16(b->bytes + entry) & 0xFFF));
    return true;
}
/* A fixup whose bytes run past SizeOfImage (its block's page is the image's last, offset
   0xFFE). Windows' loader would fault writing it; a strict loader refuses the table. */
static bool m_reloc_site_past_image(buf *b, const pe_info *pe)
{
    uint64_t dir = reloc_dir(pe);
    put32(b, dir, (uint32_t)(pe_view_size(pe) - PAGE));
    put16(b, dir + 8, (pe->bits == 64 ? 0xA000u : 0x3000u) | 0xFFE);
    return true;
}

/* Imports (applied to ubase.dll, which imports kbase.dll). */
static uint64_t import_dir(const pe_info *pe) { return rva_offset(pe, pe->dir_rva[DIR_IMPORT]); }
static bool m_import_dir_past_image(buf *b, const pe_info *pe) { put32(b, pe->dir_offset + 8 * DIR_IMPORT, 0x7FFF0000u); return true; }
/* The descriptor array starts 8 bytes before the end of the image. */
static bool m_import_dir_straddles_end(buf *b, const pe_info *pe)
{
    put32(b, pe->dir_offset + 8 * DIR_IMPORT, (uint32_t)pe_view_size(pe) - 8);
    return true;
}
static bool m_import_name_past_image(buf *b, const pe_info *pe) { put32(b, import_dir(pe) + 12, 0x7FFF0000u); return true; }
/* The DLL's name runs to the end of the image without a terminating zero. */
static bool m_import_name_unterminated(buf *b, const pe_info *pe)
{
    uint64_t dir = import_dir(pe);
    uint32_t rva = add_filler_section(b, pe);
    if (!rva || !dir)
        return false;
    put32(b, dir + 12, rva);
    return true;
}
/* The descriptor array is 'A's to the end of the image: names at 0x41414141, no terminator. */
static bool m_import_descriptors_unterminated(buf *b, const pe_info *pe)
{
    uint32_t rva = add_filler_section(b, pe);
    if (!rva)
        return false;
    put32(b, pe->dir_offset + 8 * DIR_IMPORT, rva);
    return true;
}

typedef struct mutation {
    const char *name;
    mutator apply;
} mutation;

#define MUT(name) {#name, m_##name}
static const mutation header_mutations[] = {
    MUT(empty), MUT(dos_truncated), MUT(dos_lfanew_cut), MUT(bad_mz), MUT(bad_pe_signature),
    MUT(pe_signature_cut), MUT(file_header_cut), MUT(lfanew_past_end), MUT(lfanew_absurd),
    MUT(lfanew_negative), MUT(lfanew_zero), MUT(lfanew_at_end), MUT(optional_cut), MUT(optional_magic),
    MUT(optional_magic_swapped), MUT(optional_size_huge), MUT(optional_size_past_file), MUT(sections_zero),
    MUT(sections_huge), MUT(section_extra_zeroed), MUT(truncated_section_table), MUT(raw_past_end),
    MUT(raw_size_past_end), MUT(raw_size_wraps), MUT(raw_offset_wraps), MUT(truncated_in_section),
    MUT(sections_overlap), MUT(sections_descending), MUT(section_in_headers), MUT(image_size_small),
    MUT(image_size_headers_only), MUT(image_size_zero), MUT(section_vsize_absurd), MUT(section_rva_absurd),
    MUT(headers_size_absurd), MUT(section_alignment_npot), MUT(section_alignment_zero),
    MUT(section_alignment_below_file), MUT(file_alignment_npot), MUT(file_alignment_zero),
    MUT(file_alignment_above_section),
};
static const mutation reloc_mutations[] = {
    MUT(reloc_block_past_image), MUT(reloc_block_size_zero), MUT(reloc_block_size_small),
    MUT(reloc_block_size_past_dir), MUT(reloc_dir_past_image), MUT(reloc_dir_size_huge),
    MUT(reloc_type_unknown), MUT(reloc_site_past_image),
};
static const mutation import_mutations[] = {
    MUT(import_dir_past_image), MUT(import_dir_straddles_end), MUT(import_name_past_image),
    MUT(import_name_unterminated), MUT(import_descriptors_unterminated),
};

/* Makes the mutant (false when the mutation does not apply to this fixture), writes it to the
   temporary directory and to the corpus as forge-<name>-<tag><bits>.<ext>. */
static bool forge(const mutation *mu, const image_file *from, const char *tag, int bits, const char *ext, buf *out,
                  const char **path)
{
    *out = buf_copy(from->file);
    if (!mu->apply(out, &from->pe)) {
        buf_free(out);
        return false;
    }
    char name[128];
    snprintf(name, sizeof name, "forge-%s-%s%d.%s", mu->name, tag, bits, ext);
    for (char *c = name; *c; c++)
        if (*c == '_')
            *c = '-';
    *path = tmp_file("forge", name);
    file_write(*path, out->bytes, out->size);
    if (corpus_dir) {
        char corpus_path[1024];
        snprintf(corpus_path, sizeof corpus_path, "%s/%s", corpus_dir, name);
        file_write(corpus_path, out->bytes, out->size);
    }
    return true;
}

/* The mutant must fail to map with ERROR_BAD_EXE_FORMAT, by path and from a backing store,
   leave f's process as it was, and never read past the end of the file. */
static void check_mutant_refused(fx *f, const char *path, const buf *b, const char *what)
{
    int before = check_failures_in_test;
    CHECK_FAILS_CLEAN(f, vas_map_image(f->p, path), VAS_ERROR_BAD_EXE_FORMAT);
    mem_file mf = {b->bytes, b->size, 0, 0, 0};
    CHECK_FAILS_CLEAN(f, vas_map_image_ops(f->p, &mem_ops, &mf, mf.size, "mutant.dll"), VAS_ERROR_BAD_EXE_FORMAT);
    CHECK_EQ(mf.closed, 1);
    CHECK_EQ(mf.reads_outside, 0);
    if (check_failures_in_test != before)
        fprintf(stderr, "  (the mutant: %s)\n", what);
}

/* Header and section mutations of kbase.dll, by vas_map_image in a fresh process of the image's
   width; of app.exe, by vas_process_create_from_image beside its valid DLLs. */
static void malformed_headers_and_sections_fail_cleanly(void)
{
    for (int bits = 32; bits <= 64; bits += 32) {
        image_file k = image_open(fixture(bits, "kbase.dll")), app = image_open(fixture(bits, "app.exe"));
        fx f = fx_bits(bits);
        vas_machine *m = machine_new("x64", 0, 0);
        char sub[32];
        snprintf(sub, sizeof sub, "exe%d", bits);
        copy_file(fixture(bits, "kbase.dll"), tmp_file(sub, "kbase.dll"));
        copy_file(fixture(bits, "ubase.dll"), tmp_file(sub, "ubase.dll"));
        for (size_t i = 0; i < sizeof header_mutations / sizeof header_mutations[0]; i++) {
            buf b;
            const char *path;
            if (!forge(&header_mutations[i], &k, "kbase", bits, "dll", &b, &path))
                continue;
            char what[128];
            snprintf(what, sizeof what, "%s of %d-bit kbase.dll", header_mutations[i].name, bits);
            check_mutant_refused(&f, path, &b, what);
            buf_free(&b);
            /* The executable. */
            buf e = buf_copy(app.file);
            if (header_mutations[i].apply(&e, &app.pe)) {
                const char *exe = tmp_file(sub, "app.exe");
                file_write(exe, e.bytes, e.size);
                snprintf(what, sizeof what, "%s of %d-bit app.exe", header_mutations[i].name, bits);
                check_create_fails(m, exe, NULL, VAS_ERROR_BAD_EXE_FORMAT, what);
            }
            buf_free(&e);
        }
        vas_machine_destroy(m);
        fx_close(&f);
        image_close(&k);
        image_close(&app);
    }
}

/* Relocation mutations of rbase.dll (thousands of fixups) and kbase.dll (one block), which
   share a base: refused where the base is taken (by the other, so that the mutant must be
   relocated) and where it is free; the process as it was either way. */
static void malformed_relocations_fail_cleanly(void)
{
    static const char *const pairs[2][2] = {{"rbase", "kbase"}, {"kbase", "rbase"}};
    for (int run = 0; run < 4; run++) {
        int bits = run < 2 ? 32 : 64, pair = run & 1;
        char file[32], blocker[32];
        snprintf(file, sizeof file, "%s.dll", pairs[pair][0]);
        snprintf(blocker, sizeof blocker, "%s.dll", pairs[pair][1]);
        image_file r = image_open(fixture(bits, file));
        fx free_base = fx_bits(bits), taken = fx_bits(bits);
        CHECK_EQ(map_image(taken.p, fixture(bits, blocker)), r.pe.image_base);
        for (size_t i = 0; i < sizeof reloc_mutations / sizeof reloc_mutations[0]; i++) {
            buf b;
            const char *path;
            if (!forge(&reloc_mutations[i], &r, pairs[pair][0], bits, "dll", &b, &path))
                continue;
            char what[128];
            snprintf(what, sizeof what, "%s of %d-bit %s, its base taken", reloc_mutations[i].name, bits, file);
            check_mutant_refused(&taken, path, &b, what);
            snprintf(what, sizeof what, "%s of %d-bit %s, its base free", reloc_mutations[i].name, bits, file);
            check_mutant_refused(&free_base, path, &b, what);
            buf_free(&b);
        }
        fx_close(&free_base);
        fx_close(&taken);
        image_close(&r);
    }
}

/* Import mutations of ubase.dll: refused by vas_map_image, and by process creation of app.exe
   beside it (and a valid kbase.dll): Windows' loader fails with STATUS_INVALID_IMAGE_FORMAT. */
static void malformed_imports_fail_cleanly(void)
{
    for (int bits = 32; bits <= 64; bits += 32) {
        image_file u = image_open(fixture(bits, "ubase.dll"));
        fx f = fx_bits(bits);
        vas_machine *m = machine_new("x64", 0, 0);
        char sub[32];
        snprintf(sub, sizeof sub, "imp%d", bits);
        copy_file(fixture(bits, "kbase.dll"), tmp_file(sub, "kbase.dll"));
        copy_file(fixture(bits, "app.exe"), tmp_file(sub, "app.exe"));
        for (size_t i = 0; i < sizeof import_mutations / sizeof import_mutations[0]; i++) {
            buf b;
            const char *path;
            if (!forge(&import_mutations[i], &u, "ubase", bits, "dll", &b, &path)) {
                fail("%s does not apply to %d-bit ubase.dll", import_mutations[i].name, bits);
                continue;
            }
            char what[128];
            snprintf(what, sizeof what, "%s of %d-bit ubase.dll", import_mutations[i].name, bits);
            check_mutant_refused(&f, path, &b, what);
            file_write(tmp_file(sub, "ubase.dll"), b.bytes, b.size);
            check_create_fails(m, tmp_file(sub, "app.exe"), NULL, VAS_ERROR_BAD_EXE_FORMAT, what);
            buf_free(&b);
        }
        vas_machine_destroy(m);
        fx_close(&f);
        image_close(&u);
    }
}

/* The valid fixtures go to the corpus too (forge-valid-*), as seeds that parse. */
static void valid_seeds_for_the_corpus(void)
{
    if (!corpus_dir)
        return;
    static const char *const seeds[] = {"kbase.dll", "ubase.dll", "norel.dll", "shrd.dll", "lowal.dll", "app.exe"};
    for (int bits = 32; bits <= 64; bits += 32)
        for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
            char name[1024];
            snprintf(name, sizeof name, "%s/forge-valid-%d-%s", corpus_dir, bits, seeds[i]);
            copy_file(fixture(bits, seeds[i]), name);
        }
}

static const check_test tests[] = {
    TEST(fixtures_are_what_they_claim),
    TEST(images_map_at_their_preferred_bases),
    TEST(fact_115_section_characteristics),
    TEST(image_data_is_copy_on_write),
    TEST(shared_section_is_shared_between_processes),
    TEST(fact_116_virtual_protect_on_image_pages),
    TEST(relocation_when_the_base_is_taken),
    TEST(image_pages_come_back_from_the_file),
    TEST(process_from_app_exe),
    TEST(large_address_awareness_from_the_image),
    TEST(import_loop_loads_each_dll_once),
    TEST(missing_dll_fails_creation),
    TEST(dlls_are_found_on_the_search_path),
    TEST(threads_take_the_image_stack_sizes),
    TEST(images_through_a_backing_store),
    TEST(sec_image_sections_map_as_images),
    TEST(low_alignment_image_is_one_writecopy_region),
    TEST(image_writable_pages_are_charged),
    TEST(image_code_executes_and_data_does_not),
    TEST(write_process_memory_into_image_code_is_private),
    TEST(the_same_image_twice_in_a_process),
    TEST(destroying_a_process_from_an_image_frees_everything),
    TEST(malformed_headers_and_sections_fail_cleanly),
    TEST(malformed_relocations_fail_cleanly),
    TEST(malformed_imports_fail_cleanly),
    TEST(valid_seeds_for_the_corpus),
};

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "-") == 0) {
        printf("test_image: no PE fixtures (mingw-w64 was not found when the tests were configured): skipped\n");
        return 77;
    }
    fixtures = argv[1];
    struct stat st;
    char probe[1024];
    snprintf(probe, sizeof probe, "%s/64/kbase.dll", fixtures);
    if (stat(probe, &st) != 0) {
        fprintf(stderr, "test_image: no fixtures in %s (build the pe_fixtures target)\n", fixtures);
        return 2;
    }
    if (argc > 2 && strcmp(argv[2], "-") != 0) {
        corpus_dir = argv[2];
        mkdir(corpus_dir, 0755);
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(tmp_dir, sizeof tmp_dir, "%s/vas-image-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(tmp_dir)) {
        fprintf(stderr, "test_image: mkdtemp: %s\n", strerror(errno));
        return 2;
    }
    atexit(cleanup);
    /* check_run reads an optional test name in its argv[1]: the third argument here. */
    int rest = argc > 2 ? argc - 2 : 1;
    int status = check_run(tests, sizeof tests / sizeof tests[0], rest, argc > 2 ? argv + 2 : argv);
    fflush(stdout); /* before LeakSanitizer, which exits without flushing, reports anything */
    return status;
}
