/*
 * pagefile.c - paging files: where committed pages go when they leave RAM.
 *
 * Data structure. A machine has up to 16 paging files, as Windows does. Each is a backing
 * store reached only through a table of functions (vas_backing_ops: read, write, close), so
 * tests can put memory behind it and make any read or write fail; the default table reads and
 * writes a host file, created on first use (a temporary one, already unlinked, when no path is
 * given). Each file has a bitmap of page-sized slots. A slot is chosen when a page is written
 * (by the modified page writer), several contiguous slots for a cluster of pages written in
 * one call; a page keeps its slot while it stays clean, and gives it back when it is modified
 * again, decommitted or released.
 *
 * A paging-file PTE names the file (bits 1-4) and the slot + 1 (from the frame-number field
 * up), with the page's protection mask in bits 5-9, as NT's software PTEs do.
 *
 * Invariants (checked by pagefile_check):
 *   1. used is the number of set bits in the bitmap, and never exceeds slots.
 *   2. Every slot named by a PTE or a frame's original PTE is set in its file's bitmap
 *      (checked by the callers that walk PTEs: pagetable_check).
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- The default backing store: a host file ---------------------------------------------- */

typedef struct host_file {
    int fd;
} host_file;

static int host_read(void *file, uint64_t offset, void *buffer, size_t size)
{
    host_file *h = file;
    size_t done = 0;
    while (done < size) {
        ssize_t n = pread(h->fd, (uint8_t *)buffer + done, size - done, (off_t)(offset + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0) { /* never written: a sparse hole reads as zeros */
            memset((uint8_t *)buffer + done, 0, size - done);
            break;
        }
        done += (size_t)n;
    }
    return 0;
}

static int host_write(void *file, uint64_t offset, const void *buffer, size_t size)
{
    host_file *h = file;
    size_t done = 0;
    while (done < size) {
        ssize_t n = pwrite(h->fd, (const uint8_t *)buffer + done, size - done, (off_t)(offset + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        done += (size_t)n;
    }
    return 0;
}

static void host_close(void *file)
{
    host_file *h = file;
    close(h->fd);
    free(h);
}

uint64_t host_file_size(void *file)
{
    host_file *h = file;
    struct stat st;
    return fstat(h->fd, &st) == 0 ? (uint64_t)st.st_size : UINT64_MAX;
}

const vas_backing_ops host_file_ops = {host_read, host_write, host_close};

void *host_file_wrap(int fd)
{
    host_file *h = malloc(sizeof *h);
    if (!h) {
        close(fd);
        return NULL;
    }
    h->fd = fd;
    return h;
}

uint32_t host_error_of(int err)
{
    switch (err) {
    case ENOENT: case ENOTDIR: return VAS_ERROR_PATH_NOT_FOUND;
    case EACCES: case EPERM: case EROFS: return VAS_ERROR_ACCESS_DENIED;
    case ENOSPC: case EFBIG: return VAS_ERROR_DISK_FULL;
    default: return VAS_ERROR_OPEN_FAILED;
    }
}

/* Opens (creating) the host file of a paging file; a NULL path makes an unlinked temporary
   file, so that it goes with the machine whatever happens. Returns a Win32 error or 0. */
static uint32_t host_open(const char *path, uint64_t size, void **file)
{
    int fd;
    if (path) {
        fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    } else {
        const char *dir = getenv("TMPDIR");
        char name[4096];
        snprintf(name, sizeof name, "%s/vas-pagefile-XXXXXX", dir && *dir ? dir : "/tmp");
        fd = mkstemp(name);
        if (fd >= 0)
            unlink(name);
    }
    if (fd < 0)
        return host_error_of(errno);
    if (ftruncate(fd, (off_t)size) != 0) { /* sparse: disk is used as pages are written */
        uint32_t error = host_error_of(errno);
        close(fd);
        return error;
    }
    *file = host_file_wrap(fd);
    return *file ? 0 : VAS_ERROR_NOT_ENOUGH_MEMORY;
}

/* ---- Paging files ------------------------------------------------------------------------- */

uint32_t pagefile_add(vas_machine *m, const char *path, uint64_t size, const vas_backing_ops *ops, void *file)
{
    uint32_t page = m->physical.page_size;
    if (m->pagefile_count == MAX_PAGING_FILES)
        return VAS_ERROR_NOT_ENOUGH_MEMORY; /* Windows allows 16 */
    if (size == 0 || size % page || size > (1ull << 44) || (ops && (!ops->read || !ops->write)))
        return VAS_ERROR_INVALID_PARAMETER;
    uint64_t slots = size / page;
    if (m->physical.pte_size == 4 && slots >= (1ull << 20)) /* a 32-bit PTE holds a 20-bit slot */
        return VAS_ERROR_INVALID_PARAMETER;
    paging_file *f = &m->pagefiles[m->pagefile_count];
    *f = (paging_file){0};
    f->bitmap = calloc((slots + 63) / 64, sizeof *f->bitmap);
    if (!f->bitmap)
        return VAS_ERROR_NOT_ENOUGH_MEMORY;
    if (!ops) {
        uint32_t error = host_open(path, size, &file);
        if (error) {
            free(f->bitmap);
            return error;
        }
        ops = &host_file_ops;
    }
    f->ops = ops;
    f->file = file;
    f->slots = slots;
    m->pagefile_count++;
    m->commit_limit += size;
    return 0;
}

void pagefile_destroy_all(vas_machine *m)
{
    for (uint32_t i = 0; i < m->pagefile_count; i++) {
        paging_file *f = &m->pagefiles[i];
        if (f->ops->close)
            f->ops->close(f->file);
        free(f->bitmap);
    }
    m->pagefile_count = 0;
}

static bool slot_used(const paging_file *f, uint64_t slot) { return f->bitmap[slot / 64] >> (slot % 64) & 1; }

/* Finds up to `want` free contiguous slots in one file; returns how many (0: all full). */
uint32_t pagefile_allocate(vas_machine *m, uint32_t want, uint32_t *file_index, uint64_t *first_slot)
{
    for (uint32_t i = 0; i < m->pagefile_count; i++) {
        paging_file *f = &m->pagefiles[i];
        if (f->used == f->slots)
            continue;
        /* Next fit from the hint, so consecutive clusters land side by side. */
        for (uint64_t n = 0, slot = f->hint; n < f->slots; n++, slot = (slot + 1) % f->slots) {
            if (slot_used(f, slot))
                continue;
            uint32_t run = 0;
            while (run < want && slot + run < f->slots && !slot_used(f, slot + run)) {
                f->bitmap[(slot + run) / 64] |= 1ull << ((slot + run) % 64);
                run++;
            }
            f->used += run;
            f->hint = (slot + run) % f->slots;
            *file_index = i;
            *first_slot = slot;
            return run;
        }
    }
    return 0;
}

void pagefile_free(vas_machine *m, uint32_t file_index, uint64_t slot)
{
    paging_file *f = &m->pagefiles[file_index];
    f->bitmap[slot / 64] &= ~(1ull << (slot % 64));
    f->used--;
}

bool pagefile_read(vas_machine *m, uint32_t file_index, uint64_t slot, void *buffer)
{
    paging_file *f = &m->pagefiles[file_index];
    uint32_t page = m->physical.page_size;
    f->reads++;
    if (f->ops->read(f->file, slot * page, buffer, page) != 0) {
        f->read_errors++;
        return false;
    }
    return true;
}

bool pagefile_write(vas_machine *m, uint32_t file_index, uint64_t slot, const void *buffer, uint32_t pages)
{
    paging_file *f = &m->pagefiles[file_index];
    uint32_t page = m->physical.page_size;
    f->writes++;
    if (f->ops->write(f->file, slot * page, buffer, (size_t)pages * page) != 0) {
        f->write_errors++;
        return false;
    }
    f->pages_written += pages;
    return true;
}

/* ---- Paging-file PTEs --------------------------------------------------------------------- */

uint64_t pagefile_pte(const vas_machine *m, uint32_t file_index, uint64_t slot)
{
    return ((slot + 1) << m->physical.page_shift) | ((uint64_t)file_index << 1);
}

bool pagefile_pte_decode(const vas_machine *m, uint64_t pte, uint32_t *file_index, uint64_t *slot)
{
    if (pte & (PTE_VALID | PTE_TRANSITION | PTE_PROTOTYPE))
        return false;
    uint64_t field = pte >> m->physical.page_shift;
    if (m->physical.pte_size == 8)
        field &= (1ull << 40) - 1;
    if (field == 0)
        return false; /* a demand-zero PTE */
    *file_index = (uint32_t)(pte >> 1) & 0xF;
    *slot = field - 1;
    return true;
}

int pagefile_check(const vas_machine *m)
{
    int errors = 0;
    for (uint32_t i = 0; i < m->pagefile_count; i++) {
        const paging_file *f = &m->pagefiles[i];
        uint64_t used = 0;
        for (uint64_t w = 0; w < (f->slots + 63) / 64; w++)
            used += (uint64_t)__builtin_popcountll(f->bitmap[w]);
        if (used != f->used || used > f->slots) {
            fprintf(stderr, "vas: paging-file invariant 1 failed: file %u has %llu slots set, count %llu\n", i,
                    (unsigned long long)used, (unsigned long long)f->used);
            errors++;
        }
    }
    return errors;
}

/* ---- Public calls --------------------------------------------------------------------------- */

static int add_locked(vas_machine *m, const char *path, uint64_t size, const vas_backing_ops *ops, void *file)
{
    if (!m || m->magic != MACHINE_MAGIC) {
        vas_set_last_error(VAS_ERROR_INVALID_HANDLE);
        return 0;
    }
    pthread_mutex_lock(&m->lock);
    uint32_t error = pagefile_add(m, path, size, ops, file);
    pthread_mutex_unlock(&m->lock);
    if (error)
        vas_set_last_error(error);
    return !error;
}

int vas_add_paging_file(vas_machine *m, const char *path, uint64_t size)
{
    return add_locked(m, path, size, NULL, NULL);
}

int vas_add_paging_file_ops(vas_machine *m, const vas_backing_ops *ops, void *file, uint64_t size)
{
    if (!ops) {
        vas_set_last_error(VAS_ERROR_INVALID_PARAMETER);
        return 0;
    }
    return add_locked(m, NULL, size, ops, file);
}
