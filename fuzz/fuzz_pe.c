/*
 * fuzz_pe.c - a libFuzzer target over the PE image loader: the input is a PE file.
 *
 * Each input is mapped as an image (vas_map_image_ops, from an in-memory backing store over the
 * input) into a fresh process of an x64 machine and of an x86 machine. When it maps:
 *   - the view is walked with VirtualQuery: every region is MEM_IMAGE with AllocationProtect
 *     PAGE_EXECUTE_WRITECOPY, inside the view; the first page (the headers) is committed,
 *     PAGE_READONLY (PAGE_EXECUTE_WRITECOPY for an image whose SectionAlignment is below the
 *     page size, which Windows maps as one run), and starts with the file's DOS header when the
 *     image is at its preferred base;
 *   - every page of the view (up to MAX_TOUCH pages) is read: a page whose protection allows
 *     reading must read, a PAGE_NOACCESS one must raise STATUS_ACCESS_VIOLATION;
 *   - every writable page (PAGE_WRITECOPY, PAGE_READWRITE, and their execute forms) is written:
 *     the write must succeed and a write-copy page then queries as PAGE_READWRITE /
 *     PAGE_EXECUTE_READWRITE (spec fact 115); a page without write access must refuse it;
 *   - the working set is emptied and every page read again: clean pages come back from the file
 *     with the same bytes, written ones from the paging file with what was written;
 *   - vas_process_modules lists the view as one module: its base and size, the header's
 *     ImageBase, relocated exactly when the base differs, an entry point inside the view;
 *   - the image is mapped a second time in the same process: it must be relocated (a different
 *     base, the same size) or fail with ERROR_INVALID_ADDRESS (no relocations), ERROR_NOT_ENOUGH_MEMORY or
 *     ERROR_COMMITMENT_LIMIT, never with a format error the first mapping did not give;
 *   - both views are unmapped, the process destroyed, the machine destroyed.
 * When it does not map, the error must be one a caller can expect (ERROR_BAD_EXE_FORMAT and the
 * others vas.h lists) and nothing may be left behind. After every step vas_check() must be 0.
 * The backing store aborts on any read outside the file (the parser must never make one), and
 * every store must have been closed exactly once when its machine is gone.
 *
 * Seed corpus: pe_corpus/, replayed by ctest as fuzz_pe_replay. The files not named forge-* are
 * small valid images written by this file's own generator:
 *     cc -DFUZZ_PE_GENERATE -o /tmp/pe_gen fuzz/fuzz_pe.c && /tmp/pe_gen fuzz/pe_corpus
 * The libFuzzer binary (-DVAS_LIBFUZZER=ON, clang):
 *     build/fuzz/fuzz/fuzz_pe -max_total_time=60 /tmp/pe_new fuzz/pe_corpus
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef FUZZ_PE_GENERATE

#include "vas.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_TOUCH 256      /* pages of a view read, written and compared */
#define MAX_PAGE 0x2000

static void fail(const char *what, unsigned long long a, unsigned long long b)
{
    fprintf(stderr, "fuzz_pe: %s (0x%llx, 0x%llx)\n", what, a, b);
    abort();
}
#define REQUIRE(cond, a, b)                                                                    \
    do {                                                                                       \
        if (!(cond))                                                                           \
            fail(#cond, (unsigned long long)(a), (unsigned long long)(b));                     \
    } while (0)

/* ---- The backing store: the input, read-only ------------------------------------------------ */

typedef struct memfile {
    const uint8_t *data;
    uint64_t size;
    int *open;         /* stores not yet closed */
} memfile;

static int mem_read(void *file, uint64_t offset, void *buffer, size_t size)
{
    memfile *f = file;
    if (offset > f->size || size > f->size - offset) {
        /* The parser checks every range against the file's size first: a read past the end is
           a library bug (the issue: "never a read outside the file"). */
        fail("read outside the file", offset, size);
        return -1;
    }
    memcpy(buffer, f->data + offset, size);
    return 0;
}

static int mem_write(void *file, uint64_t offset, const void *buffer, size_t size)
{
    (void)file, (void)offset, (void)buffer, (void)size;
    return -1; /* an image's file is never written: its written pages go to the paging file */
}

static void mem_close(void *file)
{
    memfile *f = file;
    REQUIRE(*f->open > 0, *f->open, 0);
    (*f->open)--;
    free(f);
}

static const vas_backing_ops mem_ops = {mem_read, mem_write, mem_close};

static memfile *mem_open(const uint8_t *data, size_t size, int *open)
{
    memfile *f = malloc(sizeof *f);
    if (!f)
        abort();
    *f = (memfile){data, size, open};
    (*open)++;
    return f;
}

/* ---- Checks ------------------------------------------------------------------------------- */

static void checked(vas_machine *m, const char *step)
{
    if (vas_check(m) != 0) {
        fprintf(stderr, "fuzz_pe: vas_check failed after %s\n", step);
        abort();
    }
}

static int readable(uint32_t protect)
{
    switch (protect & 0xFF) {
    case VAS_PAGE_READONLY: case VAS_PAGE_READWRITE: case VAS_PAGE_WRITECOPY: case VAS_PAGE_EXECUTE_READ:
    case VAS_PAGE_EXECUTE_READWRITE: case VAS_PAGE_EXECUTE_WRITECOPY:
        return 1;
    default: /* PAGE_NOACCESS; PAGE_EXECUTE reads where the CPU allows, which is not asserted */
        return 0;
    }
}

static int writable(uint32_t protect)
{
    switch (protect & 0xFF) {
    case VAS_PAGE_READWRITE: case VAS_PAGE_WRITECOPY: case VAS_PAGE_EXECUTE_READWRITE:
    case VAS_PAGE_EXECUTE_WRITECOPY:
        return 1;
    default:
        return 0;
    }
}

/* The ImageBase field of a PE header, 0 when the input is too short to hold one. Only used to
   know whether the view is at its preferred base (no relocation touched its bytes). */
static uint64_t preferred_base(const uint8_t *data, size_t size)
{
    if (size < 0x40)
        return 0;
    uint32_t nt = (uint32_t)data[0x3C] | (uint32_t)data[0x3D] << 8 | (uint32_t)data[0x3E] << 16 |
                  (uint32_t)data[0x3F] << 24;
    if (nt > size || size - nt < 24 + 32)
        return 0;
    const uint8_t *o = data + nt + 24;
    uint16_t magic = (uint16_t)(o[0] | o[1] << 8);
    uint64_t base = 0;
    if (magic == 0x20B)
        for (int i = 7; i >= 0; i--)
            base = base << 8 | o[24 + i];
    else
        for (int i = 3; i >= 0; i--)
            base = base << 8 | o[28 + i];
    return base;
}

/* The SectionAlignment field, 0 when the input is too short to hold one. */
static uint32_t section_alignment(const uint8_t *data, size_t size)
{
    if (size < 0x40)
        return 0;
    uint32_t nt = (uint32_t)data[0x3C] | (uint32_t)data[0x3D] << 8 | (uint32_t)data[0x3E] << 16 |
                  (uint32_t)data[0x3F] << 24;
    if (nt > size || size - nt < 24 + 36)
        return 0;
    const uint8_t *o = data + nt + 24 + 32;
    return (uint32_t)o[0] | (uint32_t)o[1] << 8 | (uint32_t)o[2] << 16 | (uint32_t)o[3] << 24;
}

typedef struct view_pages {
    uint64_t count;                  /* pages remembered */
    uint8_t *bytes;                  /* count * page bytes, as last read or written */
    uint8_t *valid;                  /* 1 where bytes holds the page */
} view_pages;

/* Walks, reads and writes one image view; returns its size. */
static uint64_t exercise_view(vas_machine *m, vas_process *p, uint64_t base, uint32_t page,
                              const uint8_t *data, size_t size, int write, view_pages *pages)
{
    vas_memory_basic_information mbi;
    uint64_t at = base, view_size = 0;
    /* The regions of the view. */
    for (int regions = 0; regions < 100000; regions++) {
        memset(&mbi, 0xCC, sizeof mbi);
        if (vas_virtual_query(p, at, &mbi, sizeof mbi) != sizeof mbi)
            break;
        if (mbi.allocation_base != base || mbi.state == VAS_MEM_FREE)
            break;
        REQUIRE(mbi.base_address == at, mbi.base_address, at);
        REQUIRE(mbi.type == VAS_MEM_IMAGE, mbi.type, at);
        REQUIRE(mbi.allocation_protect == VAS_PAGE_EXECUTE_WRITECOPY, mbi.allocation_protect, at);
        REQUIRE(mbi.region_size && mbi.region_size % page == 0, mbi.region_size, at);
        if (at == base) {
            /* The headers are PAGE_READONLY (fact 52); an image whose sections are aligned below
               the page size maps as one PAGE_EXECUTE_WRITECOPY run, headers included. */
            REQUIRE(mbi.state == VAS_MEM_COMMIT, mbi.state, at);
            if (section_alignment(data, size) >= page)
                REQUIRE(mbi.protect == VAS_PAGE_READONLY, mbi.protect, at);
            else
                REQUIRE(mbi.protect == VAS_PAGE_EXECUTE_WRITECOPY, mbi.protect, at);
        }
        at += mbi.region_size;
        view_size += mbi.region_size;
    }
    REQUIRE(view_size > 0, base, 0);
    checked(m, "VirtualQuery of the view");

    /* Every page: read, and write where writable. */
    uint8_t buffer[MAX_PAGE], again[MAX_PAGE];
    uint64_t count = view_size / page < MAX_TOUCH ? view_size / page : MAX_TOUCH;
    for (uint64_t i = 0; i < count; i++) {
        uint64_t address = base + i * page;
        memset(&mbi, 0, sizeof mbi);
        REQUIRE(vas_virtual_query(p, address, &mbi, sizeof mbi) == sizeof mbi, address, 0);
        vas_exception x;
        memset(&x, 0, sizeof x);
        uint32_t status = vas_read(p, address, buffer, page, &x);
        if (mbi.state != VAS_MEM_COMMIT || !readable(mbi.protect)) {
            if ((mbi.protect & 0xFF) != VAS_PAGE_EXECUTE)
                REQUIRE(status == VAS_STATUS_ACCESS_VIOLATION, status, address);
            continue;
        }
        /* A readable image page reads (a full RAM is the only excuse). */
        REQUIRE(status == VAS_STATUS_SUCCESS || status == VAS_STATUS_NO_MEMORY, status, address);
        if (status)
            continue;
        if (i == 0 && base == preferred_base(data, size)) {
            size_t n = size < 64 ? size : 64;
            REQUIRE(memcmp(buffer, data, n) == 0, address, n); /* the DOS header, unrelocated */
        }
        if (write && writable(mbi.protect)) {
            uint8_t mark[8];
            for (int b = 0; b < 8; b++)
                mark[b] = (uint8_t)(0xA5 ^ i ^ (uint64_t)b << 4);
            uint64_t offset = (i * 8) % (page - 8);
            status = vas_write(p, address + offset, mark, sizeof mark, &x);
            REQUIRE(status == VAS_STATUS_SUCCESS || status == VAS_STATUS_NO_MEMORY ||
                    status == VAS_STATUS_COMMITMENT_LIMIT, status, address);
            if (status == VAS_STATUS_SUCCESS) {
                memcpy(buffer + offset, mark, sizeof mark);
                vas_memory_basic_information after;
                REQUIRE(vas_virtual_query(p, address, &after, sizeof after) == sizeof after, address, 1);
                uint32_t expected = mbi.protect;
                if ((mbi.protect & 0xFF) == VAS_PAGE_WRITECOPY)
                    expected = (mbi.protect & ~0xFFu) | VAS_PAGE_READWRITE;
                if ((mbi.protect & 0xFF) == VAS_PAGE_EXECUTE_WRITECOPY)
                    expected = (mbi.protect & ~0xFFu) | VAS_PAGE_EXECUTE_READWRITE;
                REQUIRE(after.protect == expected, after.protect, expected);
                REQUIRE(after.type == VAS_MEM_IMAGE, after.type, address);
                REQUIRE(vas_read(p, address, again, page, &x) == VAS_STATUS_SUCCESS, address, 2);
                REQUIRE(memcmp(again, buffer, page) == 0, address, 3);
            }
        } else if (write) {
            uint8_t one = 0x5A;
            status = vas_write(p, address, &one, 1, &x);
            REQUIRE(status == VAS_STATUS_ACCESS_VIOLATION, status, address);
        }
        if (pages && i < pages->count) {
            memcpy(pages->bytes + i * page, buffer, page);
            pages->valid[i] = 1;
        }
    }
    checked(m, "touching the view");
    return view_size;
}

/* Trims the working set, then reads every remembered page again: same bytes. */
static void reread(vas_machine *m, vas_process *p, uint64_t base, uint32_t page, const view_pages *pages)
{
    REQUIRE(vas_empty_working_set(p), base, 0);
    vas_write_modified_pages(m);
    checked(m, "trimming");
    uint8_t buffer[MAX_PAGE];
    for (uint64_t i = 0; i < pages->count; i++) {
        if (!pages->valid[i])
            continue;
        vas_exception x;
        uint32_t status = vas_read(p, base + i * page, buffer, page, &x);
        REQUIRE(status == VAS_STATUS_SUCCESS || status == VAS_STATUS_NO_MEMORY, status, base + i * page);
        if (!status)
            REQUIRE(memcmp(buffer, pages->bytes + i * page, page) == 0, base + i * page, i);
    }
    checked(m, "reading the view again");
}

/* What the loader recorded of the view at base: one module, matching the view. */
static void check_module(vas_process *p, uint64_t base, uint64_t view_size, const uint8_t *data, size_t size,
                         size_t expected_count)
{
    vas_module_info mods[4];
    memset(mods, 0, sizeof mods);
    size_t n = vas_process_modules(p, mods, 4);
    REQUIRE(n == expected_count, n, expected_count);
    size_t found = 0;
    for (size_t i = 0; i < n && i < 4; i++) {
        if (mods[i].base != base)
            continue;
        found++;
        REQUIRE(mods[i].size == view_size, mods[i].size, view_size);
        REQUIRE(mods[i].preferred_base == preferred_base(data, size), mods[i].preferred_base, base);
        REQUIRE(mods[i].relocated == (base != mods[i].preferred_base), mods[i].relocated, base);
        REQUIRE(mods[i].entry_point == 0 || (mods[i].entry_point >= base && mods[i].entry_point < base + view_size),
                mods[i].entry_point, base);
        REQUIRE(mods[i].name != NULL, base, i);
    }
    REQUIRE(found == 1, found, base);
}

static int expected_map_error(uint32_t error)
{
    return error == VAS_ERROR_BAD_EXE_FORMAT || error == VAS_ERROR_NOT_ENOUGH_MEMORY ||
           error == VAS_ERROR_OUTOFMEMORY || error == VAS_ERROR_COMMITMENT_LIMIT ||
           error == VAS_ERROR_INVALID_ADDRESS || error == VAS_ERROR_INVALID_PARAMETER;
}

static void run_on(const char *layout, int bits, const uint8_t *data, size_t size)
{
    int open = 0;
    vas_machine_config mc = {0};
    mc.layout = layout;
    mc.ram_bytes = 8ull << 20;         /* small: quick to set up, and trimming is real */
    mc.pagefile_bytes = 16ull << 20;
    vas_machine *m = vas_machine_create(&mc);
    REQUIRE(m != NULL, vas_last_error(), 0);
    vas_process_config pc = {0};
    pc.bits = bits;
    vas_process *p = vas_process_create(m, &pc);
    REQUIRE(p != NULL, vas_last_error(), 0);
    vas_machine_info mi;
    vas_get_machine_info(m, &mi);
    uint32_t page = mi.page_size;
    REQUIRE(page <= MAX_PAGE, page, 0);
    vas_process_counters before;
    REQUIRE(vas_process_get_counters(p, &before), 0, 0);

    vas_set_last_error(0xDEADBEEFu);
    uint64_t base = vas_map_image_ops(p, &mem_ops, mem_open(data, size, &open), size, "fuzz.exe");
    uint32_t error = vas_last_error();
    checked(m, "vas_map_image_ops");
    if (!base) {
        if (!expected_map_error(error))
            fail("unexpected error from vas_map_image_ops", error, size);
        REQUIRE(open == 0, open, error); /* closed by the call, also on failure */
        vas_process_counters after;
        REQUIRE(vas_process_get_counters(p, &after), 0, 0);
        REQUIRE(after.commit_charge == before.commit_charge, after.commit_charge, before.commit_charge);
        REQUIRE(after.virtual_size == before.virtual_size, after.virtual_size, before.virtual_size);
    } else {
        REQUIRE(base % 0x10000 == 0, base, 0);
        static view_pages pages;
        static uint8_t bytes[MAX_TOUCH * MAX_PAGE], valid[MAX_TOUCH];
        memset(valid, 0, sizeof valid);
        pages = (view_pages){MAX_TOUCH, bytes, valid};
        uint64_t view_size = exercise_view(m, p, base, page, data, size, 1, &pages);
        check_module(p, base, view_size, data, size, 1);
        reread(m, p, base, page, &pages);

        /* Again in the same process: the preferred base is taken now. */
        vas_set_last_error(0xDEADBEEFu);
        uint64_t second = vas_map_image_ops(p, &mem_ops, mem_open(data, size, &open), size, "fuzz2.dll");
        error = vas_last_error();
        checked(m, "a second vas_map_image_ops");
        if (second) {
            REQUIRE(second != base, second, base);
            REQUIRE(second >= base + view_size || second + 0x10000 <= base, second, base);
            uint64_t second_size = exercise_view(m, p, second, page, data, size, 1, NULL);
            REQUIRE(second_size == view_size, second_size, view_size);
            check_module(p, second, second_size, data, size, 2);
            REQUIRE(vas_unmap_view_of_file(p, second), second, vas_last_error());
            checked(m, "unmapping the second view");
            check_module(p, base, view_size, data, size, 1);
        } else {
            REQUIRE(error == VAS_ERROR_INVALID_ADDRESS || error == VAS_ERROR_NOT_ENOUGH_MEMORY ||
                    error == VAS_ERROR_OUTOFMEMORY || error == VAS_ERROR_COMMITMENT_LIMIT, error, base);
        }
        REQUIRE(vas_unmap_view_of_file(p, base + view_size / 2), base, vas_last_error());
        checked(m, "unmapping the view");
        REQUIRE(vas_process_modules(p, NULL, 0) == 0, base, 0); /* the module goes with its view */
        vas_memory_basic_information mbi;
        REQUIRE(vas_virtual_query(p, base, &mbi, sizeof mbi) == sizeof mbi, base, 0);
        REQUIRE(mbi.state == VAS_MEM_FREE, mbi.state, base);
        vas_process_counters after;
        REQUIRE(vas_process_get_counters(p, &after), 0, 0);
        REQUIRE(after.commit_charge == before.commit_charge, after.commit_charge, before.commit_charge);
        REQUIRE(after.virtual_size == before.virtual_size, after.virtual_size, before.virtual_size);
    }
    vas_process_destroy(p);
    checked(m, "vas_process_destroy");
    vas_memory_status status;
    REQUIRE(vas_global_memory_status(m, &status), 0, 0);
    REQUIRE(status.commit_total == 0, status.commit_total, 0);
    vas_machine_destroy(m);
    REQUIRE(open == 0, open, 0); /* every backing store closed, once */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    run_on("x64", 0, data, size);
    run_on("x86", 0, data, size);
    return 0;
}

#else /* FUZZ_PE_GENERATE: writes the seed corpus */

/* A small valid image: headers, then up to six sections (.text, .rdata with an import
   directory, .data with absolute pointers, .bss, a shared section, .reloc), 512-byte file
   alignment. Everything the strict parser checks is consistent. */
typedef struct spec {
    const char *name;
    int pe32_plus;
    uint16_t machine;
    uint64_t image_base;
    uint32_t section_alignment;
    uint16_t characteristics;     /* beyond IMAGE_FILE_EXECUTABLE_IMAGE */
    uint64_t stack_reserve, stack_commit;
    int relocations, imports, bss, shared, minimal;
} spec;

typedef struct secdef {
    const char *name;
    uint32_t vsize, raw, characteristics;
} secdef;

static uint8_t out[0x1000];

static void put16(uint32_t at, uint32_t v) { out[at] = (uint8_t)v, out[at + 1] = (uint8_t)(v >> 8); }
static void put32(uint32_t at, uint32_t v) { put16(at, v & 0xFFFF), put16(at + 2, v >> 16); }
static void put64(uint32_t at, uint64_t v) { put32(at, (uint32_t)v), put32(at + 4, (uint32_t)(v >> 32)); }
static uint32_t up(uint32_t x, uint32_t a) { return (x + a - 1) & ~(a - 1); }

static size_t build(const spec *s)
{
    memset(out, 0, sizeof out);
    const uint32_t fa = 0x200, sa = s->section_alignment, nt = 0x40;
    const uint32_t optional = s->pe32_plus ? 240 : 224, table = nt + 24 + optional;
    secdef sec[6];
    int n = 0;
    sec[n++] = (secdef){".text", 0x40, fa, 0x60000020};
    if (!s->minimal) {
        sec[n++] = (secdef){".rdata", 0x180, fa, 0x40000040};
        sec[n++] = (secdef){".data", 0x100, fa, 0xC0000040};
        if (s->bss)
            sec[n++] = (secdef){".bss", 0x1800, 0, 0xC0000080};
        if (s->shared)
            sec[n++] = (secdef){".shared", 0x80, fa, 0xD0000040};
        if (s->relocations)
            sec[n++] = (secdef){".reloc", 0x20, fa, 0x42000040};
    }
    uint32_t headers = up(table + 40u * (uint32_t)n, fa);
    uint32_t rva[6], offset[6], next_rva = up(headers, sa), next_offset = headers;
    for (int i = 0; i < n; i++) {
        rva[i] = next_rva;
        offset[i] = sec[i].raw ? next_offset : 0;
        next_rva = up(rva[i] + sec[i].vsize, sa);
        next_offset += sec[i].raw;
    }
    uint32_t image_size = next_rva, file_size = next_offset;
    if (file_size > sizeof out)
        abort();

    /* DOS header and the PE signature. */
    out[0] = 'M', out[1] = 'Z';
    put32(0x3C, nt);
    memcpy(out + nt, "PE\0\0", 4);
    /* File header. */
    put16(nt + 4, s->machine);
    put16(nt + 6, (uint32_t)n);
    put32(nt + 8, 0x5EED0006);
    put16(nt + 20, optional);
    put16(nt + 22, 0x0002u | s->characteristics | (s->pe32_plus ? 0 : 0x0100u));
    /* Optional header. */
    uint32_t o = nt + 24;
    put16(o, s->pe32_plus ? 0x20B : 0x10B);
    out[o + 2] = 2, out[o + 3] = 38;                    /* linker version */
    put32(o + 4, 0x200);                                /* SizeOfCode */
    put32(o + 16, rva[0]);                              /* AddressOfEntryPoint */
    put32(o + 20, rva[0]);                              /* BaseOfCode */
    if (s->pe32_plus) {
        put64(o + 24, s->image_base);
    } else {
        put32(o + 24, n > 1 ? rva[1] : rva[0]);         /* BaseOfData */
        put32(o + 28, (uint32_t)s->image_base);
    }
    put32(o + 32, sa);
    put32(o + 36, fa);
    put16(o + 40, 4), put16(o + 48, 4);                 /* OS and subsystem version 4.0 */
    put32(o + 56, image_size);
    put32(o + 60, headers);
    put16(o + 68, 3);                                   /* IMAGE_SUBSYSTEM_WINDOWS_CUI */
    put16(o + 70, s->relocations ? 0x0140 : 0x0100);    /* DYNAMIC_BASE (if relocatable), NX_COMPAT */
    uint32_t d;
    if (s->pe32_plus) {
        put64(o + 72, s->stack_reserve), put64(o + 80, s->stack_commit);
        put64(o + 88, 0x100000), put64(o + 96, 0x1000);
        put32(o + 108, 16);
        d = o + 112;
    } else {
        put32(o + 72, (uint32_t)s->stack_reserve), put32(o + 76, (uint32_t)s->stack_commit);
        put32(o + 80, 0x100000), put32(o + 84, 0x1000);
        put32(o + 92, 16);
        d = o + 96;
    }
    /* Section table and contents. */
    int rdata = -1, data = -1, reloc = -1;
    for (int i = 0; i < n; i++) {
        uint32_t t = table + 40u * (uint32_t)i;
        memcpy(out + t, sec[i].name, strlen(sec[i].name));
        put32(t + 8, sec[i].vsize);
        put32(t + 12, rva[i]);
        put32(t + 16, sec[i].raw);
        put32(t + 20, offset[i]);
        put32(t + 36, sec[i].characteristics);
        if (!strcmp(sec[i].name, ".rdata"))
            rdata = i;
        if (!strcmp(sec[i].name, ".data"))
            data = i;
        if (!strcmp(sec[i].name, ".reloc"))
            reloc = i;
        if (sec[i].raw) /* recognisable bytes: the section's index and the offset */
            for (uint32_t b = 0; b < sec[i].vsize && b < sec[i].raw; b++)
                out[offset[i] + b] = (uint8_t)(i * 0x20 + b);
    }
    static const uint8_t code[] = {0x31, 0xC0, 0xC3}; /* xor eax, eax; ret */
    memcpy(out + offset[0], code, sizeof code);
    if (rdata >= 0) {
        memset(out + offset[rdata], 0, 0x180);
        strcpy((char *)out + offset[rdata] + 0x100, "Hello from .rdata");
        if (s->imports) {
            /* One descriptor (kernel32.dll, one import by name) and the terminator. */
            uint32_t r = rva[rdata], f = offset[rdata];
            uint32_t ilt = r + 0x40, hint = r + 0x60, dll = r + 0x80, iat = r + 0xC0;
            put32(f + 0, ilt);
            put32(f + 12, dll);
            put32(f + 16, iat);
            if (s->pe32_plus) {
                put64(f + 0x40, hint);
                put64(f + 0xC0, hint);
            } else {
                put32(f + 0x40, hint);
                put32(f + 0xC0, hint);
            }
            put16(f + 0x60, 0);
            strcpy((char *)out + f + 0x62, "ExitProcess");
            strcpy((char *)out + f + 0x80, "kernel32.dll");
            put32(d + 8, r), put32(d + 12, 40);          /* IMAGE_DIRECTORY_ENTRY_IMPORT */
            put32(d + 96, iat), put32(d + 100, 16);      /* IMAGE_DIRECTORY_ENTRY_IAT */
        }
    }
    if (data >= 0 && rdata >= 0) {
        /* Absolute pointers to the .rdata string: what relocations fix up. */
        uint64_t target = s->image_base + rva[rdata] + 0x100;
        for (uint32_t k = 0; k < 4; k++) {
            if (s->pe32_plus)
                put64(offset[data] + 16 * k, target + k);
            else
                put32(offset[data] + 16 * k, (uint32_t)(target + k));
        }
    }
    if (reloc >= 0 && data >= 0) {
        uint32_t f = offset[reloc], type = s->pe32_plus ? 10u : 3u; /* DIR64 / HIGHLOW */
        put32(f, rva[data]);
        put32(f + 4, 8 + 2 * 4 + 2 * 2);                 /* four fixups, two padding entries */
        for (uint32_t k = 0; k < 4; k++)
            put16(f + 8 + 2 * k, type << 12 | (16 * k));
        put32(d + 40, rva[reloc]), put32(d + 44, 8 + 2 * 4 + 2 * 2);
    } else {
        /* No relocations: the loader must not move it. */
        put16(nt + 22, 0x0003u | s->characteristics | (s->pe32_plus ? 0 : 0x0100u));
    }
    return file_size;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIRECTORY\n", argv[0]);
        return 2;
    }
    static const spec specs[] = {
        /* name                     PE32+ machine  base               align   flags   stack            rel imp bss shr min */
        {"pe32plus-exe-amd64",      1, 0x8664, 0x140000000ull,  0x1000, 0x0020, 0x100000, 0x1000, 1, 1, 1, 0, 0},
        {"pe32plus-dll-amd64",      1, 0x8664, 0x180000000ull,  0x1000, 0x2020, 0x100000, 0x1000, 1, 0, 0, 1, 0},
        {"pe32plus-exe-norelocs",   1, 0x8664, 0x140000000ull,  0x1000, 0x0020, 0x40000,  0x2000, 0, 1, 0, 0, 0},
        {"pe32plus-ia64-8k",        1, 0x0200, 0x140000000ull,  0x2000, 0x0020, 0x400000, 0x4000, 1, 0, 1, 0, 0},
        {"pe32-exe-i386",           0, 0x014C, 0x400000ull,     0x1000, 0x0000, 0x100000, 0x1000, 1, 1, 1, 0, 0},
        {"pe32-exe-i386-laa",       0, 0x014C, 0x400000ull,     0x1000, 0x0020, 0x200000, 0x3000, 1, 1, 0, 0, 0},
        {"pe32-dll-i386-shared",    0, 0x014C, 0x10000000ull,   0x1000, 0x2000, 0x100000, 0x1000, 1, 0, 1, 1, 0},
        {"pe32-exe-i386-norelocs",  0, 0x014C, 0x400000ull,     0x1000, 0x0000, 0x100000, 0x1000, 0, 0, 0, 0, 0},
        {"pe32-exe-i386-minimal",   0, 0x014C, 0x400000ull,     0x1000, 0x0000, 0x100000, 0x1000, 0, 0, 0, 0, 1},
        {"pe32-exe-i386-highbase",  0, 0x014C, 0x7FFF0000ull,   0x1000, 0x0000, 0x100000, 0x1000, 1, 0, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        size_t size = build(&specs[i]);
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", argv[1], specs[i].name);
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(out, 1, size, f) != size || fclose(f) != 0) {
            perror(path);
            return 1;
        }
        printf("%s: %zu bytes\n", path, size);
    }
    return 0;
}

#endif /* FUZZ_PE_GENERATE */
