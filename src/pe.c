/*
 * pe.c - a strict reader of PE32 and PE32+ images: headers, sections, base relocations and
 * imports, and the bytes of an image page as the loader lays them out.
 *
 * Data structure. pe_parse checks every field it uses against the file's size and against the
 * other fields, then keeps what mapping needs: the optional header's numbers, the section table,
 * every base-relocation fixup as one sorted array (RVA << 4 | type), and the names of the DLLs
 * imported. Nothing is read outside the file: every read goes through read_exact, which refuses
 * a range past the file's end.
 *
 * Invariants of a parsed image: sections are sorted by RVA, do not overlap, lie inside
 * SizeOfImage and after the headers; their raw data lies inside the file; every fixup lies
 * inside SizeOfImage; SizeOfImage and every RVA fit in 32 bits. An image whose sections are
 * aligned below the page size ("low alignment") has each section's data at its own RVA in the
 * file, and is mapped as the file lies (one write-copy region, section.c).
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>

#define MAX_SECTIONS 96                   /* Windows' loader refuses more */
#define MAX_IMAGE_BYTES 0x80000000u       /* 2 GB */
#define MAX_IMPORTS 1024
#define SCN_CNT_UNINITIALIZED 0x00000080u

static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t le32(const uint8_t *p) { return (uint32_t)le16(p) | (uint32_t)le16(p + 2) << 16; }
static uint64_t le64(const uint8_t *p) { return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32; }

static bool read_exact(const pe_file *f, uint64_t offset, void *buffer, uint64_t size)
{
    if (offset > f->size || size > f->size - offset)
        return false;
    return size == 0 || f->ops->read(f->file, offset, buffer, (size_t)size) == 0;
}

static bool power_of_two(uint32_t x) { return x && !(x & (x - 1)); }

void pe_free(pe_image *img)
{
    free(img->sections);
    free(img->fixups);
    for (uint32_t i = 0; i < img->import_count; i++)
        free(img->imports[i]);
    free(img->imports);
    memset(img, 0, sizeof *img);
}

/* The file offset of `size` bytes at rva, when they all lie in one section's raw data. */
static bool rva_to_offset(const pe_image *img, uint32_t rva, uint32_t size, uint64_t *offset)
{
    for (uint32_t i = 0; i < img->section_count; i++) {
        const pe_section *s = &img->sections[i];
        uint32_t raw = s->raw_size < s->virtual_size ? s->raw_size : s->virtual_size;
        if (rva >= s->rva && rva - s->rva < raw && size <= raw - (rva - s->rva)) {
            *offset = (uint64_t)s->raw_offset + (rva - s->rva);
            return true;
        }
    }
    if (rva < img->size_of_headers && size <= img->size_of_headers - rva) {
        *offset = rva;
        return true;
    }
    return false;
}

static int by_value(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint32_t parse_relocations(const pe_file *f, pe_image *img, uint32_t rva, uint32_t size)
{
    uint64_t offset;
    if (size == 0)
        return VAS_STATUS_SUCCESS;
    if (!rva_to_offset(img, rva, size, &offset))
        return VAS_STATUS_INVALID_IMAGE_FORMAT;
    uint8_t *blocks = malloc(size);
    img->fixups = malloc((size / 2 + 1) * sizeof *img->fixups);
    if (!blocks || !img->fixups) {
        free(blocks);
        return VAS_STATUS_NO_MEMORY;
    }
    uint32_t status = read_exact(f, offset, blocks, size) ? VAS_STATUS_SUCCESS : VAS_STATUS_INVALID_IMAGE_FORMAT;
    for (uint32_t at = 0; !status && at < size;) {
        if (size - at < 8) {
            status = VAS_STATUS_INVALID_IMAGE_FORMAT;
            break;
        }
        uint32_t page = le32(blocks + at), block = le32(blocks + at + 4);
        if (block < 8 || block % 2 || block > size - at || page % 0x1000 || page >= img->size_of_image) {
            status = VAS_STATUS_INVALID_IMAGE_FORMAT;
            break;
        }
        for (uint32_t e = at + 8; e + 2 <= at + block; e += 2) {
            uint16_t entry = le16(blocks + e);
            uint32_t type = entry >> 12, fixup = page + (entry & 0xFFF);
            uint32_t width = type == PE_FIXUP_DIR64 ? 8 : type == PE_FIXUP_HIGHLOW ? 4
                           : type == PE_FIXUP_HIGH || type == PE_FIXUP_LOW ? 2 : 0;
            if (type == PE_FIXUP_ABSOLUTE)
                continue; /* padding */
            if (!width || fixup > img->size_of_image - width) {
                status = VAS_STATUS_INVALID_IMAGE_FORMAT;
                break;
            }
            img->fixups[img->fixup_count++] = (uint64_t)fixup << 4 | type;
        }
        at += block;
    }
    free(blocks);
    if (!status)
        qsort(img->fixups, img->fixup_count, sizeof *img->fixups, by_value);
    return status;
}

/* A NUL-terminated ASCII name at rva, at most 255 characters; NULL if there is none. */
static char *read_name(const pe_file *f, const pe_image *img, uint32_t rva)
{
    char name[256];
    size_t length = 0;
    for (; length < sizeof name; length++) {
        uint64_t offset;
        if (!rva_to_offset(img, rva + (uint32_t)length, 1, &offset) || !read_exact(f, offset, &name[length], 1))
            return NULL;
        if (name[length] == 0)
            break;
        if ((unsigned char)name[length] < 0x20 || name[length] == '/' || name[length] == '\\')
            return NULL;
    }
    return length && length < sizeof name ? strdup(name) : NULL;
}

static uint32_t parse_imports(const pe_file *f, pe_image *img, uint32_t rva, uint32_t size)
{
    if (size == 0)
        return VAS_STATUS_SUCCESS;
    img->imports = calloc(MAX_IMPORTS, sizeof *img->imports);
    if (!img->imports)
        return VAS_STATUS_NO_MEMORY;
    for (uint32_t i = 0;; i++) {
        uint8_t d[20];
        uint64_t offset;
        if (i == MAX_IMPORTS || rva > UINT32_MAX - 20 * (i + 1) || !rva_to_offset(img, rva + 20 * i, 20, &offset) ||
            !read_exact(f, offset, d, 20))
            return VAS_STATUS_INVALID_IMAGE_FORMAT;
        uint32_t name_rva = le32(d + 12);
        bool last = true;
        for (int b = 0; b < 20; b++)
            last &= d[b] == 0;
        if (last)
            return VAS_STATUS_SUCCESS;
        char *name = read_name(f, img, name_rva);
        if (!name)
            return VAS_STATUS_INVALID_IMAGE_FORMAT;
        img->imports[img->import_count++] = name;
    }
}

uint32_t pe_parse(const pe_file *f, uint32_t page_size, pe_image *img)
{
    memset(img, 0, sizeof *img);
    uint8_t dos[64], nt[24 + 240];
    if (f->size == 0)
        return VAS_STATUS_INVALID_FILE_FOR_SECTION;
    if (!read_exact(f, 0, dos, sizeof dos) || dos[0] != 'M' || dos[1] != 'Z')
        return VAS_STATUS_INVALID_IMAGE_NOT_MZ;
    uint32_t nt_offset = le32(dos + 0x3C);
    if (nt_offset < sizeof dos || nt_offset % 4 || !read_exact(f, nt_offset, nt, 24) || memcmp(nt, "PE\0\0", 4))
        return VAS_STATUS_INVALID_IMAGE_FORMAT;
    img->machine = le16(nt + 4);
    uint32_t sections = le16(nt + 6), optional_size = le16(nt + 20);
    img->file_characteristics = le16(nt + 22);
    if (sections == 0 || sections > MAX_SECTIONS || optional_size < 96 || optional_size > 240 ||
        !(img->file_characteristics & PE_FILE_EXECUTABLE_IMAGE) || !read_exact(f, nt_offset + 24, nt + 24, optional_size))
        return VAS_STATUS_INVALID_IMAGE_FORMAT;
    const uint8_t *o = nt + 24;
    uint16_t magic = le16(o);
    img->pe32_plus = magic == 0x20B;
    if (magic != 0x10B && magic != 0x20B)
        return VAS_STATUS_INVALID_IMAGE_FORMAT;
    uint32_t directories_at = img->pe32_plus ? 112 : 96;
    if (optional_size < directories_at)
        return VAS_STATUS_INVALID_IMAGE_FORMAT;
    uint32_t directory_count = le32(o + directories_at - 4);
    if (directory_count > 16 || optional_size != directories_at + 8 * directory_count)
        return VAS_STATUS_INVALID_IMAGE_FORMAT;
    img->entry_point = le32(o + 16);
    img->image_base = img->pe32_plus ? le64(o + 24) : le32(o + 28);
    img->section_alignment = le32(o + 32);
    img->file_alignment = le32(o + 36);
    img->size_of_image = le32(o + 56);
    img->size_of_headers = le32(o + 60);
    img->subsystem = le16(o + 68);
    img->dll_characteristics = le16(o + 70);
    if (img->pe32_plus) {
        img->stack_reserve = le64(o + 72), img->stack_commit = le64(o + 80);
        img->heap_reserve = le64(o + 88), img->heap_commit = le64(o + 96);
    } else {
        img->stack_reserve = le32(o + 72), img->stack_commit = le32(o + 76);
        img->heap_reserve = le32(o + 80), img->heap_commit = le32(o + 84);
    }
    uint32_t header_end = nt_offset + 24 + optional_size + 40 * sections;
    if (!power_of_two(img->section_alignment) || !power_of_two(img->file_alignment) ||
        img->file_alignment > img->section_alignment ||
        (img->section_alignment < page_size && img->section_alignment != img->file_alignment) ||
        img->image_base % GRANULARITY || img->image_base == 0 ||
        (!img->pe32_plus && img->image_base + img->size_of_image > 0x100000000ull) ||
        img->image_base > UINT64_MAX - img->size_of_image || img->size_of_image == 0 ||
        img->size_of_image > MAX_IMAGE_BYTES || img->size_of_headers < header_end ||
        img->size_of_headers > img->size_of_image || img->size_of_headers > f->size ||
        img->entry_point >= img->size_of_image || img->stack_commit > img->stack_reserve ||
        img->heap_commit > img->heap_reserve)
        return VAS_STATUS_INVALID_IMAGE_FORMAT;

    uint8_t table[40 * MAX_SECTIONS];
    img->sections = calloc(sections, sizeof *img->sections);
    if (!img->sections)
        return VAS_STATUS_NO_MEMORY;
    if (!read_exact(f, nt_offset + 24 + optional_size, table, 40ull * sections)) {
        pe_free(img);
        return VAS_STATUS_INVALID_IMAGE_FORMAT;
    }
    uint64_t next_free = align_up(img->size_of_headers, img->section_alignment);
    for (uint32_t i = 0; i < sections; i++) {
        const uint8_t *t = table + 40 * i;
        pe_section *s = &img->sections[img->section_count++];
        memcpy(s->name, t, 8);
        s->virtual_size = le32(t + 8);
        s->rva = le32(t + 12);
        s->raw_size = le32(t + 16);
        s->raw_offset = le32(t + 20);
        s->characteristics = le32(t + 36);
        if (s->virtual_size == 0)
            s->virtual_size = s->raw_size;
        if (s->characteristics & SCN_CNT_UNINITIALIZED && s->raw_offset == 0)
            s->raw_size = 0;
        uint64_t end = align_up((uint64_t)s->rva + s->virtual_size, img->section_alignment);
        if (s->virtual_size == 0 || s->rva % img->section_alignment || s->rva < next_free ||
            end > img->size_of_image || (s->raw_size && ((uint64_t)s->raw_offset + s->raw_size > f->size ||
                                                         s->raw_offset < img->size_of_headers))) {
            pe_free(img);
            return VAS_STATUS_INVALID_IMAGE_FORMAT;
        }
        next_free = end;
        /* Sections aligned below the page size: the file is mapped as it lies, so each
           section's data must sit at its own RVA in the file. */
        if (img->section_alignment < page_size && s->raw_size && s->raw_offset != s->rva) {
            pe_free(img);
            return VAS_STATUS_INVALID_IMAGE_FORMAT;
        }
    }
    const uint8_t *dirs = o + directories_at;
    uint32_t status = VAS_STATUS_SUCCESS;
    if (directory_count > 5)
        status = parse_relocations(f, img, le32(dirs + 40), le32(dirs + 44));
    img->relocatable = !(img->file_characteristics & PE_FILE_RELOCS_STRIPPED) && directory_count > 5 &&
                       le32(dirs + 44) != 0;
    if (!status && directory_count > 1)
        status = parse_imports(f, img, le32(dirs + 8), le32(dirs + 12));
    if (status)
        pe_free(img);
    return status;
}

uint32_t pe_section_protect(uint32_t characteristics)
{
    bool r = characteristics & PE_SCN_MEM_READ, w = characteristics & PE_SCN_MEM_WRITE,
         x = characteristics & PE_SCN_MEM_EXECUTE, shared = characteristics & PE_SCN_MEM_SHARED;
    if (w && shared)
        return x ? VAS_PAGE_EXECUTE_READWRITE : VAS_PAGE_READWRITE;
    if (w)
        return x ? VAS_PAGE_EXECUTE_WRITECOPY : VAS_PAGE_WRITECOPY;
    if (x)
        return r ? VAS_PAGE_EXECUTE_READ : VAS_PAGE_EXECUTE;
    return r ? VAS_PAGE_READONLY : VAS_PAGE_NOACCESS;
}

/* The image's bytes at [rva, rva + size) before relocation: headers, section data, zeros. */
static bool image_bytes(const pe_file *f, const pe_image *img, uint64_t rva, uint8_t *out, uint64_t size)
{
    memset(out, 0, size);
    uint64_t end = rva + size;
    if (rva < img->size_of_headers) {
        uint64_t upto = end < img->size_of_headers ? end : img->size_of_headers;
        if (!read_exact(f, rva, out, upto - rva))
            return false;
    }
    for (uint32_t i = 0; i < img->section_count; i++) {
        const pe_section *s = &img->sections[i];
        uint64_t raw = s->raw_size < s->virtual_size ? s->raw_size : s->virtual_size;
        uint64_t from = rva > s->rva ? rva : s->rva, to = end < s->rva + raw ? end : s->rva + raw;
        if (from < to && !read_exact(f, s->raw_offset + (from - s->rva), out + (from - rva), to - from))
            return false;
    }
    return true;
}

static uint32_t fixup_width(uint32_t type)
{
    return type == PE_FIXUP_DIR64 ? 8 : type == PE_FIXUP_HIGHLOW ? 4 : 2;
}

bool pe_read_page(const pe_file *f, const pe_image *img, uint64_t rva, uint8_t *page, uint32_t page_size,
                  int64_t delta)
{
    if (!image_bytes(f, img, rva, page, page_size))
        return false;
    if (delta == 0 || img->fixup_count == 0)
        return true;
    /* The fixups that touch this page, those that start up to 7 bytes before it included. */
    uint64_t low = rva >= 7 ? rva - 7 : 0, first = 0, count = img->fixup_count;
    while (count) { /* the first fixup at or after low */
        uint64_t half = count / 2;
        if (img->fixups[first + half] >> 4 < low) {
            first += half + 1;
            count -= half + 1;
        } else {
            count = half;
        }
    }
    for (uint64_t i = first; i < img->fixup_count && img->fixups[i] >> 4 < rva + page_size; i++) {
        uint64_t at = img->fixups[i] >> 4;
        uint32_t type = img->fixups[i] & 0xF, width = fixup_width(type);
        uint8_t value[8];
        if (at + width <= rva || !image_bytes(f, img, at, value, width))
            continue;
        uint64_t v = width == 8 ? le64(value) : width == 4 ? le32(value) : le16(value);
        if (type == PE_FIXUP_DIR64 || type == PE_FIXUP_HIGHLOW)
            v += (uint64_t)delta;
        else if (type == PE_FIXUP_HIGH)
            v += (uint64_t)delta >> 16;
        else
            v += (uint64_t)delta;
        for (uint32_t b = 0; b < width; b++) /* the bytes of it that fall in this page */
            if (at + b >= rva && at + b < rva + page_size)
                page[at + b - rva] = (uint8_t)(v >> (8 * b));
    }
    return true;
}
