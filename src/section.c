/*
 * section.c - section objects: memory-mapped files, memory shared between processes, and
 * copy-on-write views (CreateFileMapping, OpenFileMapping, MapViewOfFile, UnmapViewOfFile,
 * FlushViewOfFile).
 *
 * Data structure. A section object is what handles name: a size, a protection, attributes, an
 * optional name. Its pages live in a control area (NT's control area and segment in one): one
 * per file, shared by every section over that file (host files are told apart by device and
 * inode) so that all their views are coherent, and one per paging-file section. A control area
 * holds one prototype PTE per page, in host memory, and the list of every view of its pages.
 * Every view, in any process, is a MEM_MAPPED allocation whose section_view links it to its
 * section; a page of the view whose process PTE is 0 (never touched) or PTE_PROTO_LOOKUP (left
 * this working set) is "look at the prototype", so that the first touch through any view
 * brings the page in once and every later touch, through any view, maps the same frame:
 *
 *   prototype PTE         meaning
 *   0                     a SEC_RESERVE page not committed yet
 *   demand zero           committed, never touched (paging-file sections)
 *   PROTO_IN_FILE         the page is in its file (file sections), read on the first touch
 *   paging-file PTE       the page is in a paging file (paging-file sections)
 *   transition            the frame is on standby or modified: mapped by no process
 *   valid                 the frame is mapped by share_count process PTEs (valid ones only)
 *
 * A section frame's PFN entry names the control area and the page (is_prototype). When its last
 * process PTE goes (trimmed, unmapped, protected anew) the prototype becomes a transition PTE
 * and the frame goes to standby, or to modified if it was written; process PTEs never become
 * transition PTEs of their own, as in NT. A modified file page is written to its file (never
 * to a paging file) by the modified page writer, by FlushViewOfFile, when the file's last view
 * goes and when its last section goes; a clean one is simply dropped when its frame is reused.
 *
 * Copy-on-write: a view page with PAGE_WRITECOPY (or PAGE_EXECUTE_WRITECOPY) maps the section's
 * frame read-only; the first write gives the process a private frame with a copy, and the page
 * becomes PAGE_READWRITE (PAGE_EXECUTE_READWRITE) in that view only. Private copies are ordinary
 * private pages from then on (they page to the paging file). A view that may copy is charged
 * for all its pages when it is mapped, or when VirtualProtect first makes a page write-copy.
 *
 * Commit: a paging-file section charges the system's commit for its committed pages (all of
 * them at creation with SEC_COMMIT, page by page through VirtualAlloc on a view with
 * SEC_RESERVE), not any process; a file section charges nothing: its file backs it.
 *
 * Invariants (checked by section_check_all):
 *   1. A control area's resident_pages is the number of its valid prototype PTEs; each names an
 *      active frame whose PFN entry points back at the control area and the page, with
 *      share_count >= 1; a transition prototype names a parked frame that points back likewise.
 *   2. committed_pages (paging-file sections) is the number of nonzero prototype PTEs.
 *   3. View counts match the views listed; a section with no handle and no view is gone, and so
 *      is a control area with no section.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_SECTION_BYTES (1ull << 44) /* 16 TB: beyond it, STATUS_SECTION_TOO_BIG */
#define SEC_FLAGS (VAS_SEC_FILE | VAS_SEC_IMAGE | VAS_SEC_RESERVE | VAS_SEC_COMMIT | VAS_SEC_NOCACHE | \
                   VAS_SEC_WRITECOMBINE | VAS_SEC_LARGE_PAGES)
#define SECTION_MAP_ANY_EXECUTE (VAS_SECTION_MAP_EXECUTE | VAS_FILE_MAP_EXECUTE)

/* ---- Protections and rights ------------------------------------------------------------------ */

enum { ACCESS_R = 1, ACCESS_W = 2, ACCESS_X = 4 };

/* The rights a protection gives (spec fact 103): write-copy reads, execute implies read. */
static uint32_t access_of(uint32_t protect)
{
    switch (protect_base(protect)) {
    case VAS_PAGE_READONLY: case VAS_PAGE_WRITECOPY: return ACCESS_R;
    case VAS_PAGE_READWRITE: return ACCESS_R | ACCESS_W;
    case VAS_PAGE_EXECUTE: case VAS_PAGE_EXECUTE_READ: case VAS_PAGE_EXECUTE_WRITECOPY: return ACCESS_R | ACCESS_X;
    case VAS_PAGE_EXECUTE_READWRITE: return ACCESS_R | ACCESS_W | ACCESS_X;
    default: return 0;
    }
}

static bool access_within(uint32_t protect, uint32_t limit) { return !(access_of(protect) & ~access_of(limit)); }

/* The handle rights a view with this protection needs (NtMapViewOfSection): read for read-only,
   write-copy and no-access views, write for read-write ones, execute for executable ones. */
static bool rights_allow(uint32_t rights, uint32_t view_protect)
{
    uint32_t base = protect_base(view_protect);
    bool writes = base & (VAS_PAGE_READWRITE | VAS_PAGE_EXECUTE_READWRITE);
    if (!(rights & (writes ? VAS_SECTION_MAP_WRITE : VAS_SECTION_MAP_READ)))
        return false;
    return !(access_of(base) & ACCESS_X) || (rights & SECTION_MAP_ANY_EXECUTE);
}

/* The rights of a handle CreateFileMapping returns: what the section's protection allows. */
static uint32_t rights_of_section(uint32_t protect)
{
    uint32_t a = access_of(protect), rights = VAS_SECTION_QUERY | VAS_SECTION_MAP_READ | 0x000F0000u;
    if (a & ACCESS_W)
        rights |= VAS_SECTION_MAP_WRITE | VAS_SECTION_EXTEND_SIZE;
    if (a & ACCESS_X)
        rights |= VAS_SECTION_MAP_EXECUTE;
    return rights;
}

/* MapViewOfFile's desired access as a page protection: FILE_MAP_COPY alone is copy-on-write
   (FILE_MAP_COPY with read or write is not), then write, then read, else no access; with
   FILE_MAP_EXECUTE the executable variant. */
static uint32_t view_protect_of(uint32_t desired_access)
{
    bool execute = desired_access & VAS_FILE_MAP_EXECUTE;
    uint32_t rest = desired_access & ~VAS_FILE_MAP_EXECUTE, protect;
    if (rest == VAS_FILE_MAP_COPY)
        protect = VAS_PAGE_WRITECOPY;
    else if (rest & VAS_FILE_MAP_WRITE)
        protect = VAS_PAGE_READWRITE;
    else if (rest & VAS_FILE_MAP_READ)
        protect = VAS_PAGE_READONLY;
    else
        return VAS_PAGE_NOACCESS;
    return execute ? protect << 4 : protect; /* READONLY -> EXECUTE_READ, and so on */
}

/* CreateFileMapping's protect argument (spec facts 71, 79, 80). */
static uint32_t check_create_protect(uint32_t protect, bool file, uint32_t *attributes)
{
    uint32_t base = protect_base(protect), sec = protect & SEC_FLAGS;
    if (protect & ~(0xFFu | SEC_FLAGS))
        return VAS_STATUS_INVALID_PAGE_PROTECTION; /* page modifiers: guard, no-cache ... */
    if (base != VAS_PAGE_READONLY && base != VAS_PAGE_READWRITE && base != VAS_PAGE_WRITECOPY &&
        base != VAS_PAGE_EXECUTE_READ && base != VAS_PAGE_EXECUTE_READWRITE && base != VAS_PAGE_EXECUTE_WRITECOPY)
        return VAS_STATUS_INVALID_PAGE_PROTECTION;
    uint32_t cache = sec & (VAS_SEC_NOCACHE | VAS_SEC_WRITECOMBINE);
    uint32_t kind = sec & (VAS_SEC_RESERVE | VAS_SEC_COMMIT);
    if ((sec & VAS_SEC_FILE) || kind == (VAS_SEC_RESERVE | VAS_SEC_COMMIT) ||
        cache == (VAS_SEC_NOCACHE | VAS_SEC_WRITECOMBINE))
        return VAS_STATUS_INVALID_PARAMETER;
    if (sec & VAS_SEC_IMAGE) {
        if (kind || (sec & (VAS_SEC_WRITECOMBINE | VAS_SEC_LARGE_PAGES)))
            return VAS_STATUS_INVALID_PARAMETER;
        *attributes = VAS_SEC_FILE | VAS_SEC_IMAGE; /* the file decides the rest (check_image) */
        return VAS_STATUS_SUCCESS;
    }
    if ((sec & VAS_SEC_LARGE_PAGES) && (file || kind != VAS_SEC_COMMIT))
        return VAS_STATUS_INVALID_PARAMETER;
    if (sec & VAS_SEC_LARGE_PAGES)
        return VAS_STATUS_PRIVILEGE_NOT_HELD; /* no process holds SeLockMemoryPrivilege */
    if (cache && !kind)
        return VAS_STATUS_INVALID_PARAMETER; /* a cache flag needs SEC_COMMIT or SEC_RESERVE */
    if (file)
        *attributes = VAS_SEC_FILE | cache; /* SEC_RESERVE means nothing for a file */
    else
        *attributes = (kind ? kind : VAS_SEC_COMMIT) | cache;
    return VAS_STATUS_SUCCESS;
}

/* The PAGE_* cache modifier a section's views carry. */
static uint32_t cache_modifier(const section_object *s)
{
    if (s->attributes & VAS_SEC_NOCACHE)
        return VAS_PAGE_NOCACHE;
    return s->attributes & VAS_SEC_WRITECOMBINE ? VAS_PAGE_WRITECOMBINE : 0;
}

/* ---- Sections and handles -------------------------------------------------------------------- */

static section_object *find_named(vas_machine *m, const char *name)
{
    for (section_object *s = m->sections; s; s = s->next)
        if (s->name && strcmp(s->name, name) == 0) /* names are case-sensitive, as NT's are */
            return s;
    return NULL;
}

static vas_section *new_handle(section_object *s, uint32_t rights)
{
    vas_section *h = malloc(sizeof *h);
    if (!h)
        return NULL;
    *h = (vas_section){HANDLE_MAGIC, rights, s, s->machine->handles};
    s->machine->handles = h;
    s->handle_count++;
    return h;
}

/* The file's size now: a host file may shrink under the section; a caller's store says so by
   failing the read. */
static uint64_t file_size(const control_area *c)
{
    return c->host_file ? host_file_size(c->file) : UINT64_MAX;
}

/* Writes a modified file page back; false when the file refused it. */
static bool write_back(control_area *c, uint64_t index, uint64_t frame)
{
    physical_memory *pm = &c->machine->physical;
    uint64_t offset = index << pm->page_shift, length = c->size - offset;
    if (length > pm->page_size)
        length = pm->page_size; /* the last page: only the bytes the file holds */
    if (c->ops->write(c->file, offset, physical_bytes(pm, frame), (size_t)length) != 0)
        return false;
    pm->pfn[frame].modified = 0;
    return true;
}

/* Writes every modified page of a file that no process maps (at the last view's unmap, and when
   the control area goes): they are on the modified list, which is short next to a large file.
   Pages whose write fails stay modified for a later try. */
static void write_back_parked(control_area *c)
{
    physical_memory *pm = &c->machine->physical;
    for (uint64_t frame = pm->list_head[FRAME_MODIFIED], next; c->ops && !c->image && frame; frame = next) {
        next = pm->pfn[frame].next;
        const pfn_entry *e = &pm->pfn[frame];
        if (e->is_prototype && e->control == c && write_back(c, e->pte_address, frame))
            physical_move(pm, frame, FRAME_STANDBY);
    }
}

/* A new control area of `pages` prototype PTEs set to `initial`, on the machine's list; NULL
   when the host is out of memory. */
static control_area *control_new(vas_machine *m, uint64_t pages, uint64_t initial)
{
    control_area *c = calloc(1, sizeof *c);
    uint64_t *prototype = c ? calloc(pages, sizeof *prototype) : NULL;
    if (!prototype) {
        free(c);
        return NULL;
    }
    for (uint64_t i = 0; initial && i < pages; i++)
        prototype[i] = initial;
    *c = (control_area){.machine = m, .next = m->controls, .prototype = prototype, .page_count = pages};
    if (m->controls)
        m->controls->prev = c;
    m->controls = c;
    return c;
}

/* Covers a file grown to `size` bytes: the new pages are in the file. */
static bool control_grow(control_area *c, uint64_t size)
{
    uint32_t page_size = c->machine->physical.page_size;
    uint64_t pages = align_up(size, page_size) / page_size;
    if (pages > c->page_count) {
        uint64_t *grown = realloc(c->prototype, pages * sizeof *grown);
        if (!grown)
            return false;
        for (uint64_t i = c->page_count; i < pages; i++)
            grown[i] = PROTO_IN_FILE;
        c->prototype = grown; /* frames name their page by index, so moving the array is safe */
        c->page_count = pages;
    }
    if (size > c->size)
        c->size = size;
    return true;
}

/* The last section over it went: its frames, its paging-file slots, its commit, its file. */
static void control_destroy(control_area *c)
{
    vas_machine *m = c->machine;
    physical_memory *pm = &m->physical;
    write_back_parked(c);
    for (uint64_t i = 0; i < c->page_count; i++) {
        uint64_t proto = c->prototype[i];
        uint32_t file;
        uint64_t slot;
        if (proto & PTE_TRANSITION) {
            uint64_t frame = proto >> pm->page_shift;
            frame_drop_copy(m, frame);
            physical_release(pm, frame);
        } else if (pagefile_pte_decode(m, proto, &file, &slot)) {
            pagefile_free(m, file, slot);
        }
    }
    m->commit_total -= c->committed_pages << pm->page_shift;
    if (c->ops && c->ops->close)
        c->ops->close(c->file);
    if (c->prev)
        c->prev->next = c->next;
    else
        m->controls = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c->prototype);
    free(c->path);
    if (c->image) {
        pe_free(c->image);
        free(c->image);
    }
    free(c);
}

/* The section goes (no handle, no view); its control area with the last section over it. */
static void section_destroy(section_object *s)
{
    vas_machine *m = s->machine;
    if (s->prev)
        s->prev->next = s->next;
    else
        m->sections = s->next;
    if (s->next)
        s->next->prev = s->prev;
    if (--s->control->section_count == 0)
        control_destroy(s->control);
    free(s->name);
    s->magic = 0;
    free(s);
}

static void section_release_if_unused(section_object *s)
{
    if (s->handle_count == 0 && s->view_count == 0)
        section_destroy(s);
}

static vas_section *create_failed(vas_machine *m, uint32_t status, const vas_backing_ops *ops, void *file)
{
    if (m)
        pthread_mutex_unlock(&m->lock);
    if (ops && ops->close && file)
        ops->close(file);
    vas_set_last_error(vas_nt_status_to_dos_error(status));
    return NULL;
}


/* The control area for a section of `size` bytes over ops/file (NULL: the paging file). Takes
   the file: when a control area for it exists, the file's handle goes (or replaces the control
   area's, if that one cannot write and this one can). NULL when the host is out of memory. */
static control_area *control_for(vas_machine *m, const vas_backing_ops *ops, void **file, const file_identity *id,
                                 uint64_t size, uint64_t initial)
{
    for (control_area *c = m->controls; id->known && c; c = c->next) {
        if (!c->host_file || c->device != id->device || c->inode != id->inode || (c->image != NULL) != id->image ||
            c->delta != id->delta)
            continue;
        if (!control_grow(c, size))
            return NULL;
        if (id->writable && !c->writable) { /* write-backs need the writable handle */
            c->ops->close(c->file);
            c->file = *file;
            c->writable = true;
        } else {
            ops->close(*file);
        }
        *file = NULL;
        return c;
    }
    uint32_t page_size = m->physical.page_size;
    char *path = id->path ? strdup(id->path) : NULL;
    control_area *c = !id->path || path ? control_new(m, align_up(size, page_size) / page_size, initial) : NULL;
    if (!c) {
        free(path);
        return NULL;
    }
    c->path = path;
    c->size = size;
    c->ops = ops;
    c->file = *file;
    c->host_file = ops == &host_file_ops;
    c->writable = id->writable;
    c->device = id->device;
    c->inode = id->inode;
    *file = NULL;
    return c;
}

/* Both forms of CreateFileMapping. file NULL with ops NULL: a paging-file section. The machine
   lock is taken here; ops and file belong to the section from here on (closed on failure). */
static vas_section *create_section(vas_machine *m, const vas_backing_ops *ops, void *file, uint64_t current,
                                   const file_identity *id, uint32_t protect, uint64_t maximum_size, const char *name)
{
    uint32_t attributes = 0;
    uint32_t status = check_create_protect(protect, ops != NULL, &attributes);
    pe_image *img = NULL;
    if (!status && (attributes & VAS_SEC_IMAGE)) { /* the file must be an image (pe.c) */
        img = calloc(1, sizeof *img);
        status = !ops ? VAS_STATUS_INVALID_FILE_FOR_SECTION : !img ? VAS_STATUS_NO_MEMORY
               : pe_parse(&(pe_file){ops, file, current}, m->layout->page_size, img);
        if (status) {
            free(img);
            img = NULL;
        }
    }
    if (status)
        return create_failed(NULL, status, ops, file);
    pthread_mutex_lock(&m->lock);
    section_object *existing = name ? find_named(m, name) : NULL;
    if (existing && img) {
        pe_free(img);
        free(img);
        img = NULL;
    }
    if (existing) { /* the named section, whatever the other arguments say; the handle has the
                       rights this call's protection asks for, as kernel32 opens it */
        vas_section *h = new_handle(existing, rights_of_section(protect_base(protect)));
        if (!h)
            return create_failed(m, VAS_STATUS_NO_MEMORY, ops, file);
        pthread_mutex_unlock(&m->lock);
        if (ops && ops->close && file)
            ops->close(file);
        vas_set_last_error(VAS_ERROR_ALREADY_EXISTS);
        return h;
    }
    uint32_t page_size = m->physical.page_size;
    uint64_t size = maximum_size;
    if (img) {
        size = img->size_of_image; /* an image section is the image, whatever the size asked */
    } else if (ops) {
        if (!size && !current)
            return create_failed(m, VAS_STATUS_MAPPED_FILE_SIZE_ZERO, ops, file);
        if (!size)
            size = current;
        if (size > MAX_SECTION_BYTES)
            return create_failed(m, VAS_STATUS_SECTION_TOO_BIG, ops, file);
        if (size > current) {
            /* Past the file's end: a writable section extends the file, others refuse. */
            if (!(access_of(protect) & ACCESS_W))
                return create_failed(m, VAS_STATUS_SECTION_TOO_BIG, ops, file);
            uint8_t zero = 0;
            if (ops->write(file, size - 1, &zero, 1) != 0)
                return create_failed(m, VAS_STATUS_DISK_FULL, ops, file);
        }
    } else {
        if (!size)
            return create_failed(m, VAS_STATUS_INVALID_PARAMETER, ops, file);
        if (size > MAX_SECTION_BYTES)
            return create_failed(m, VAS_STATUS_SECTION_TOO_BIG, ops, file);
        size = align_up(size, page_size);
    }
    uint64_t pages = align_up(size, page_size) / page_size;
    bool commit_now = !ops && (attributes & VAS_SEC_COMMIT);
    if (commit_now && machine_commit(m, pages * page_size))
        return create_failed(m, VAS_STATUS_COMMITMENT_LIMIT, ops, file);
    section_object *s = calloc(1, sizeof *s);
    char *copy = name && s ? strdup(name) : NULL;
    uint64_t initial = ops ? PROTO_IN_FILE : commit_now ? pte_make_demand_zero(VAS_PAGE_READWRITE) : 0;
    file_identity image_id = *id;
    image_id.image = img != NULL;
    control_area *c = s && (copy || !name) ? control_for(m, ops, &file, &image_id, size, initial) : NULL;
    if (c && img && !c->image) {
        c->image = img;
        c->file_bytes = current;
        img = NULL;
    }
    if (img) { /* not kept: failed, or the file's image is laid out already */
        pe_free(img);
        free(img);
    }
    vas_section *h = NULL;
    if (c) {
        *s = (section_object){.magic = SECTION_MAGIC, .machine = m, .next = m->sections, .name = copy,
                              .protect = protect_base(protect), .attributes = attributes, .size = size, .control = c};
        h = new_handle(s, rights_of_section(s->protect));
    }
    if (!h) {
        free(s);
        free(copy);
        if (c && c->section_count == 0)
            control_destroy(c); /* a new one (it closes the file it took) */
        m->commit_total -= commit_now ? pages * page_size : 0;
        return create_failed(m, VAS_STATUS_NO_MEMORY, ops, file);
    }
    c->section_count++;
    if (commit_now)
        c->committed_pages = pages;
    if (m->sections)
        m->sections->prev = s;
    m->sections = s;
    pthread_mutex_unlock(&m->lock);
    vas_set_last_error(VAS_ERROR_SUCCESS);
    return h;
}

static bool machine_ok(vas_machine *m) { return m && m->magic == MACHINE_MAGIC; }

/* CreateFile's errors for a file that cannot be opened: ERROR_FILE_NOT_FOUND when its folder
   exists, ERROR_PATH_NOT_FOUND when the folder does not, ERROR_ACCESS_DENIED for a folder. */
static uint32_t open_error(const char *path, int err)
{
    if (err == EISDIR)
        return VAS_ERROR_ACCESS_DENIED;
    if (err != ENOENT)
        return host_error_of(err);
    char folder[4096];
    const char *slash = strrchr(path, '/');
    size_t length = slash ? (size_t)(slash - path) : 0;
    if (!slash || length >= sizeof folder)
        return VAS_ERROR_FILE_NOT_FOUND;
    memcpy(folder, path, length);
    folder[length] = '\0';
    struct stat st;
    return length == 0 || (stat(folder, &st) == 0 && S_ISDIR(st.st_mode)) ? VAS_ERROR_FILE_NOT_FOUND
                                                                         : VAS_ERROR_PATH_NOT_FOUND;
}

vas_section *vas_create_file_mapping(vas_machine *m, const char *file_path, uint32_t protect, uint64_t maximum_size,
                                     const char *name)
{
    if (!machine_ok(m))
        return create_failed(NULL, VAS_STATUS_INVALID_HANDLE, NULL, NULL);
    if (!file_path)
        return create_section(m, NULL, NULL, 0, &(file_identity){0}, protect, maximum_size, name);
    uint32_t attributes;
    uint32_t status = check_create_protect(protect, true, &attributes);
    if (status)
        return create_failed(NULL, status, NULL, NULL);
    /* The file is opened for what the section may do with it: writing only when its pages may
       be written back (a write-copy section never writes the file). */
    int fd = open(file_path, ((access_of(protect) & ACCESS_W) ? O_RDWR : O_RDONLY) | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
        uint32_t error = fd < 0 ? open_error(file_path, errno) : VAS_ERROR_ACCESS_DENIED;
        if (fd >= 0)
            close(fd);
        vas_set_last_error(error);
        return NULL;
    }
    void *file = host_file_wrap(fd);
    if (!file)
        return create_failed(NULL, VAS_STATUS_NO_MEMORY, NULL, NULL);
    file_identity id = {true, (access_of(protect) & ACCESS_W) != 0, (uint64_t)st.st_dev, (uint64_t)st.st_ino,
                        file_path, false, 0};
    return create_section(m, &host_file_ops, file, (uint64_t)st.st_size, &id, protect, maximum_size, name);
}

vas_section *vas_create_file_mapping_ops(vas_machine *m, const vas_backing_ops *ops, void *file, uint64_t file_size,
                                         uint32_t protect, uint64_t maximum_size, const char *name)
{
    if (!machine_ok(m))
        return create_failed(NULL, VAS_STATUS_INVALID_HANDLE, ops, file);
    if (!ops || !ops->read || !ops->write)
        return create_failed(NULL, VAS_STATUS_INVALID_PARAMETER, ops, file);
    return create_section(m, ops, file, file_size, &(file_identity){0}, protect, maximum_size, name);
}

vas_section *vas_open_file_mapping(vas_machine *m, uint32_t desired_access, const char *name)
{
    if (!machine_ok(m))
        return create_failed(NULL, VAS_STATUS_INVALID_HANDLE, NULL, NULL);
    if (!name)
        return create_failed(NULL, VAS_STATUS_INVALID_PARAMETER, NULL, NULL);
    pthread_mutex_lock(&m->lock);
    section_object *s = find_named(m, name);
    if (!s)
        return create_failed(m, VAS_STATUS_OBJECT_NAME_NOT_FOUND, NULL, NULL);
    vas_section *h = new_handle(s, desired_access);
    if (!h)
        return create_failed(m, VAS_STATUS_NO_MEMORY, NULL, NULL);
    pthread_mutex_unlock(&m->lock);
    return h;
}

/* Takes the machine lock for a live handle; NULL (nothing locked) for a bad or closed one. */
static section_object *handle_enter(vas_section *h)
{
    if (!h || h->magic != HANDLE_MAGIC)
        return NULL;
    pthread_mutex_lock(&h->object->machine->lock);
    return h->object;
}

int vas_close_section(vas_section *h)
{
    section_object *s = handle_enter(h);
    if (!s) {
        vas_set_last_error(VAS_ERROR_INVALID_HANDLE);
        return 0;
    }
    vas_machine *m = s->machine;
    h->magic = HANDLE_CLOSED; /* kept until the machine goes, so a second close is detected */
    h->object = NULL;
    if (--s->handle_count == 0) {
        free(s->name); /* the name goes with the last handle; the views stay */
        s->name = NULL;
    }
    section_release_if_unused(s);
#ifdef VAS_DEBUG
    if (machine_check_locked(m, true))
        abort();
#endif
    pthread_mutex_unlock(&m->lock);
    return 1;
}

uint32_t vas_nt_query_section(vas_section *h, vas_section_information *info)
{
    section_object *s = handle_enter(h);
    if (!s)
        return VAS_STATUS_INVALID_HANDLE;
    uint32_t status = VAS_STATUS_SUCCESS;
    if (!(h->access & VAS_SECTION_QUERY))
        status = VAS_STATUS_ACCESS_DENIED;
    else if (!info)
        status = VAS_STATUS_ACCESS_VIOLATION;
    else
        *info = (vas_section_information){0, s->attributes, s->size};
    pthread_mutex_unlock(&s->machine->lock);
    return status;
}

void section_destroy_all(vas_machine *m)
{
    while (m->sections) {
        m->sections->view_count = 0; /* the processes, and so the views, are gone already */
        section_destroy(m->sections);
    }
    for (vas_section *h = m->handles, *next; h; h = next) {
        next = h->next;
        free(h);
    }
    m->handles = NULL;
}

/* ---- Views ------------------------------------------------------------------------------------ */

static uint64_t proto_index(const vad *v, uint64_t index) { return v->view->first_page + index; }

bool view_page_committed(const vad *v, uint64_t index)
{
    return v->view->section->control->prototype[proto_index(v, index)] != 0;
}

uint64_t view_count_committed(const vad *v, uint64_t first, uint64_t count)
{
    const section_object *s = v->view->section;
    if (s->control->ops || (s->attributes & VAS_SEC_COMMIT))
        return count; /* every page of a file or SEC_COMMIT section is committed */
    uint64_t committed = 0;
    for (uint64_t i = first; i < first + count; i++)
        committed += view_page_committed(v, i);
    return committed;
}

uint64_t vad_charged_pages(const vad *v)
{
    if (v->view)
        return v->view->charged_pages;
    return v->flags & VAD_SYSTEM ? 0 : v->committed_pages;
}

static uint32_t map_image_section(vas_process *p, section_object *s, uint64_t base, uint64_t *start);

/* Links a new view (its VAD's runs set) to its section and into the process. Cannot fail. */
static void attach_view(vas_process *p, section_object *s, vad *v, section_view *view, uint64_t first_page,
                        uint64_t charged_pages)
{
    control_area *c = s->control;
    *view = (section_view){s, p, v, first_page, charged_pages, c->views, NULL};
    if (c->views)
        c->views->prev = view;
    c->views = view;
    c->view_count++;
    s->view_count++;
    v->view = view;
    vad_insert(&p->vads, v);
    p->virtual_size += v->end - v->start;
    if (p->virtual_size > p->peak_virtual_size)
        p->peak_virtual_size = p->virtual_size;
}

uint64_t vas_map_view_of_file(vas_process *p, vas_section *h, uint32_t desired_access, uint64_t offset,
                              uint64_t size, uint64_t base)
{
    if (!h || h->magic != HANDLE_MAGIC || process_enter(p)) {
        vas_set_last_error(VAS_ERROR_INVALID_HANDLE);
        return 0;
    }
    section_object *s = h->magic == HANDLE_MAGIC ? h->object : NULL; /* closed meanwhile? */
    uint32_t status = VAS_STATUS_SUCCESS;
    uint32_t protect = view_protect_of(desired_access);
    uint64_t length = 0, start = 0;
    if (!s || s->machine != p->machine)
        status = VAS_STATUS_INVALID_HANDLE;
    else if (!rights_allow(h->access, protect) || !access_within(protect, s->protect))
        status = VAS_STATUS_ACCESS_DENIED;
    else if (s->attributes & VAS_SEC_IMAGE) { /* the whole image, laid out as the loader lays it */
        if (offset || base % GRANULARITY)
            status = offset % GRANULARITY || base % GRANULARITY ? VAS_STATUS_MAPPED_ALIGNMENT
                                                                  : VAS_STATUS_INVALID_PARAMETER;
        else if (!(status = map_image_section(p, s, base, &start)))
            loader_add_image(p, s->control->path, start);
        process_leave(p, !status);
        if (status)
            vas_set_last_error(vas_nt_status_to_dos_error(status));
        return status ? 0 : start;
    }
    else if (offset % GRANULARITY || base % GRANULARITY) /* checked before any overlap */
        status = VAS_STATUS_MAPPED_ALIGNMENT;
    else if (offset >= s->size)
        status = VAS_STATUS_INVALID_PARAMETER;
    else if (size > s->size - offset)
        status = VAS_STATUS_INVALID_VIEW_SIZE; /* to the byte, even inside the last page */
    if (!status) {
        length = align_up(size ? size : s->size - offset, p->page_size);
        if (base) {
            start = base;
            if (start >= p->shape.vad_limit)
                status = VAS_STATUS_INVALID_PARAMETER_3; /* not a user address at all */
            else if (start < p->shape.lowest || length > p->shape.vad_limit - start ||
                     vad_overlaps(&p->vads, start, start + length))
                status = VAS_STATUS_CONFLICTING_ADDRESSES;
        } else if (!vad_find_free(&p->vads, length, GRANULARITY, p->shape.lowest, p->shape.vad_limit, false,
                                  &start)) {
            status = VAS_STATUS_NO_MEMORY;
        }
    }
    bool copies = protect_is_write_copy(protect);
    if (!status && copies)
        status = commit_charge(p, length); /* every page could become a private copy */
    vad *v = NULL;
    section_view *view = NULL;
    if (!status) {
        uint32_t page_protect = protect | cache_modifier(s);
        v = vad_new(start, start + length, page_protect, VAS_MEM_MAPPED);
        view = malloc(sizeof *view);
        if (!v || !view) {
            vad_free(v);
            free(view);
            if (copies)
                commit_release(p, length);
            status = VAS_STATUS_NO_MEMORY;
        }
    }
    if (status) {
        process_leave(p, false);
        vas_set_last_error(vas_nt_status_to_dos_error(status));
        return 0;
    }
    v->runs[0].protect = v->allocation_protect;
    v->committed_pages = length >> p->page_shift;
    attach_view(p, s, v, view, offset >> p->page_shift, copies ? length >> p->page_shift : 0);
    process_leave(p, true);
    return start;
}

void view_detach(vas_process *p, vad *v)
{
    section_view *view = v->view;
    section_object *s = view->section;
    control_area *c = s->control;
    pagetable_unmap(p, v->start, v->end);
    tlb_walked(p);
    commit_release(p, view->charged_pages << p->page_shift);
    if (v->type == VAS_MEM_IMAGE)
        loader_forget_module(p, v->start);
    if (view->prev)
        view->prev->next = view->next;
    else
        c->views = view->next;
    if (view->next)
        view->next->prev = view->prev;
    free(view);
    v->view = NULL;
    if (--c->view_count == 0)
        write_back_parked(c); /* the file's last view: its modified pages go to the file */
    s->view_count--;
    section_release_if_unused(s);
}

bool vas_unmap_view_locked(vas_process *p, uint64_t address)
{
    vad *v = address <= p->shape.highest ? vad_find(&p->vads, address) : NULL;
    if (!v || !v->view)
        return false;
    vad_remove(&p->vads, v);
    p->virtual_size -= v->end - v->start;
    view_detach(p, v);
    vad_free(v);
    return true;
}

int vas_unmap_view_of_file(vas_process *p, uint64_t base)
{
    if (process_enter(p)) {
        vas_set_last_error(VAS_ERROR_INVALID_HANDLE);
        return 0;
    }
    bool unmapped = vas_unmap_view_locked(p, base);
    process_leave(p, unmapped);
    if (!unmapped)
        vas_set_last_error(vas_nt_status_to_dos_error(VAS_STATUS_NOT_MAPPED_VIEW));
    return unmapped;
}

/* After a page was written to its file: every process PTE mapping the frame loses its Dirty
   bit and its TLB write permission, so the next write through any view marks it modified. */
static void clean_mappings(control_area *c, uint64_t index, uint64_t frame)
{
    uint32_t mappings = c->machine->physical.pfn[frame].share_count; /* stop once all are found */
    for (section_view *view = c->views; view && mappings; view = view->next) {
        vas_process *q = view->process;
        uint64_t pages = (view->vad->end - view->vad->start) >> q->page_shift;
        if (index < view->first_page || index >= view->first_page + pages)
            continue;
        uint64_t va = view->vad->start + ((index - view->first_page) << q->page_shift);
        uint64_t leaf = pagetable_leaf(q, va, false);
        uint64_t pte = leaf ? pagetable_read(q, leaf, pagetable_index(q, va, q->pt->levels - 1)) : 0;
        if ((pte & PTE_VALID) && pte_frame(q, pte) == frame) {
            pagetable_set(q, leaf, va, pte & ~PTE_DIRTY);
            tlb_invalidate(q, va, va + q->page_size);
            mappings--;
        }
    }
}

int vas_flush_view_of_file(vas_process *p, uint64_t base, uint64_t size)
{
    if (process_enter(p)) {
        vas_set_last_error(VAS_ERROR_INVALID_HANDLE);
        return 0;
    }
    uint32_t status = VAS_STATUS_SUCCESS;
    vad *v = base <= p->shape.highest ? vad_find(&p->vads, base) : NULL;
    uint64_t start = align_down(base, p->page_size), end = 0;
    if (!v || !v->view)
        status = VAS_STATUS_NOT_MAPPED_VIEW;
    else if (size > v->end - base)
        status = VAS_STATUS_INVALID_PARAMETER; /* past the view's end */
    else
        end = size ? align_up(base + size, p->page_size) : v->end;
    control_area *c = v && v->view ? v->view->section->control : NULL;
    physical_memory *pm = &p->machine->physical;
    for (uint64_t va = start; !status && c->ops && !c->image && va < end; va += p->page_size) {
        uint64_t index = proto_index(v, (va - v->start) >> p->page_shift), proto = c->prototype[index];
        if (!(proto & (PTE_VALID | PTE_TRANSITION)))
            continue;
        uint64_t frame = proto >> pm->page_shift;
        if (!pm->pfn[frame].modified)
            continue;
        if (!write_back(c, index, frame)) {
            status = VAS_STATUS_IN_PAGE_ERROR; /* the file refused the write: the page stays modified */
            break;
        }
        if (pm->pfn[frame].list == FRAME_MODIFIED)
            physical_move(pm, frame, FRAME_STANDBY);
        else
            clean_mappings(c, index, frame);
    }
    process_leave(p, !status);
    if (status) {
        vas_set_last_error(vas_nt_status_to_dos_error(status));
        return 0;
    }
    return 1;
}

size_t vas_get_mapped_file_name(vas_process *p, uint64_t address, char *buffer, size_t size)
{
    if (process_enter(p)) {
        vas_set_last_error(VAS_ERROR_INVALID_HANDLE);
        return 0;
    }
    vad *v = address <= p->shape.highest ? vad_find(&p->vads, address) : NULL;
    const char *path = v && v->view ? v->view->section->control->path : NULL;
    uint32_t status = !v || !v->view ? VAS_STATUS_INVALID_ADDRESS
                    : !path          ? VAS_STATUS_FILE_INVALID
                    : !buffer || !size ? VAS_STATUS_INVALID_PARAMETER : VAS_STATUS_SUCCESS;
    size_t length = 0;
    if (!status) {
        length = strlen(path) < size - 1 ? strlen(path) : size - 1;
        memcpy(buffer, path, length);
        buffer[length] = '\0';
    }
    process_leave(p, false);
    if (status)
        vas_set_last_error(vas_nt_status_to_dos_error(status));
    return length;
}

/* ---- Images ---------------------------------------------------------------------------------
 * An image section is a control area of its own (per file and per relocation delta) whose pages
 * are laid out from the PE file by pe.c; its view is MEM_IMAGE with AllocationProtect
 * PAGE_EXECUTE_WRITECOPY and each page the protection of its PE section. Image pages are never
 * written back to the file: a written shared page pages to a paging file, and a written
 * write-copy page becomes the process's own copy. */

/* Sets the runs of an image view from the section table: the headers read-only, each section
   its protection, anything else no-access. Returns the write-copy pages, or UINT64_MAX when the
   host is out of memory. */
static uint64_t lay_out_image(vad *v, const pe_image *img, uint32_t page_shift)
{
    uint64_t pages = (v->end - v->start) >> page_shift, headers = align_up(img->size_of_headers,
                                                                            img->section_alignment) >> page_shift;
    v->committed_pages = pages;
    if (img->section_alignment < (1u << page_shift)) { /* the whole file, one write-copy region */
        v->runs[0].protect = VAS_PAGE_EXECUTE_WRITECOPY;
        return pages;
    }
    v->runs[0].protect = VAS_PAGE_NOACCESS;
    if (!vad_reserve_runs(v, 2 * img->section_count + 4) ||
        !vad_set_pages(v, page_shift, 0, headers < pages ? headers : pages, VAS_PAGE_READONLY))
        return UINT64_MAX;
    uint64_t write_copy = 0;
    for (uint32_t i = 0; i < img->section_count; i++) {
        const pe_section *sec = &img->sections[i];
        uint64_t first = sec->rva >> page_shift;
        uint64_t end = align_up((uint64_t)sec->rva + sec->virtual_size, img->section_alignment) >> page_shift;
        uint32_t protect = pe_section_protect(sec->characteristics);
        if (end > pages)
            end = pages;
        if (first >= end)
            continue;
        if (!vad_set_pages(v, page_shift, first, end - first, protect))
            return UINT64_MAX;
        write_copy += protect_is_write_copy(protect) ? end - first : 0;
    }
    return write_copy;
}

/* Where an image view goes (wanted, else its preferred base when that range is free, else
   where a view with no base would go, if it can be relocated), and its VAD with the runs of its
   layout, its write-copy pages charged. */
static uint32_t new_image_view(vas_process *p, const pe_image *img, uint64_t wanted, vad **out, uint64_t *charged)
{
    uint64_t size = align_up(img->size_of_image, p->page_size), base = wanted ? wanted : img->image_base;
    uint64_t limit = p->shape.vad_limit;
    if (!img->pe32_plus && limit > 0x100000000ull)
        limit = 0x100000000ull;
    bool free_there = base >= p->shape.lowest && base < limit && size <= limit - base &&
                      !vad_overlaps(&p->vads, base, base + size);
    if (!free_there && (wanted || !img->relocatable))
        return VAS_STATUS_CONFLICTING_ADDRESSES; /* no relocations: it loads at its base or not at all */
    if (!free_there && !vad_find_free(&p->vads, size, GRANULARITY, p->shape.lowest, limit, false, &base))
        return VAS_STATUS_NO_MEMORY;
    vad *v = vad_new(base, base + size, VAS_PAGE_EXECUTE_WRITECOPY, VAS_MEM_IMAGE);
    uint64_t pages = v ? lay_out_image(v, img, p->page_shift) : UINT64_MAX;
    uint32_t status = pages == UINT64_MAX ? VAS_STATUS_NO_MEMORY : commit_charge(p, pages << p->page_shift);
    if (status) {
        vad_free(v);
        return status;
    }
    *out = v;
    *charged = pages;
    return VAS_STATUS_SUCCESS;
}

static uint32_t image_result(vas_process *p, const vad *v, const pe_image *img, image_mapping *out)
{
    (void)p;
    *out = (image_mapping){v->start, v->end - v->start, img->image_base,
                           img->entry_point ? v->start + img->entry_point : 0, v->start != img->image_base, img};
    return out->relocated ? VAS_STATUS_IMAGE_NOT_AT_BASE : VAS_STATUS_SUCCESS;
}

uint32_t image_map(vas_process *p, const vas_backing_ops *ops, void *file, uint64_t file_size, const char *path,
                   const file_identity *identity, uint64_t wanted, image_mapping *out)
{
    vas_machine *m = p->machine;
    pe_file f = {ops, file, file_size};
    pe_image img;
    vad *v = NULL;
    uint64_t charged = 0;
    uint32_t status = pe_parse(&f, p->page_size, &img);
    if (status) {
        if (ops->close)
            ops->close(file);
        return status;
    }
    if (img.pe32_plus && p->bits == 32)
        status = VAS_STATUS_INVALID_IMAGE_FORMAT; /* a 64-bit image in a 32-bit process */
    if (!status)
        status = new_image_view(p, &img, wanted, &v, &charged);
    section_view *view = status ? NULL : malloc(sizeof *view);
    section_object *s = view ? calloc(1, sizeof *s) : NULL;
    pe_image *kept = s ? malloc(sizeof *kept) : NULL;
    file_identity id = *identity;
    id.image = true;
    id.delta = v ? (int64_t)(v->start - img.image_base) : 0;
    control_area *c = kept ? control_for(m, ops, &file, &id, img.size_of_image, PROTO_IN_FILE) : NULL;
    if (!c) {
        if (v) {
            commit_release(p, charged << p->page_shift);
            status = VAS_STATUS_NO_MEMORY;
        }
        vad_free(v);
        free(view);
        free(s);
        free(kept);
        pe_free(&img);
        if (file && ops->close)
            ops->close(file);
        return status;
    }
    if (c->image) { /* an image already laid out at this delta: share its pages */
        pe_free(&img);
        free(kept);
    } else {
        *kept = img;
        c->image = kept;
        c->delta = id.delta;
        c->file_bytes = file_size;
    }
    *s = (section_object){.magic = SECTION_MAGIC, .machine = m, .next = m->sections,
                          .protect = VAS_PAGE_EXECUTE_WRITECOPY, .attributes = VAS_SEC_FILE | VAS_SEC_IMAGE,
                          .size = c->image->size_of_image, .control = c};
    if (m->sections)
        m->sections->prev = s;
    m->sections = s;
    c->section_count++;
    attach_view(p, s, v, view, 0, charged);
    (void)path;
    return image_result(p, v, c->image, out);
}

static uint32_t image_map_path_at(vas_process *p, const char *path, uint64_t wanted, image_mapping *out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
        int err = fd < 0 ? errno : EISDIR;
        if (fd >= 0)
            close(fd);
        uint32_t error = open_error(path, err);
        return error == VAS_ERROR_FILE_NOT_FOUND ? VAS_STATUS_OBJECT_NAME_NOT_FOUND
             : error == VAS_ERROR_PATH_NOT_FOUND ? VAS_STATUS_OBJECT_PATH_NOT_FOUND
                                                 : VAS_STATUS_ACCESS_DENIED;
    }
    void *file = host_file_wrap(fd);
    if (!file)
        return VAS_STATUS_NO_MEMORY;
    file_identity id = {true, false, (uint64_t)st.st_dev, (uint64_t)st.st_ino, path, true, 0};
    return image_map(p, &host_file_ops, file, (uint64_t)st.st_size, path, &id, wanted, out);
}

uint32_t image_map_path(vas_process *p, const char *path, image_mapping *out)
{
    return image_map_path_at(p, path, 0, out);
}

/* MapViewOfFile of a SEC_IMAGE section: the whole image, at its preferred base (or `base`)
   sharing the section's pages; elsewhere relocated, through a control area of that delta. */
static uint32_t map_image_section(vas_process *p, section_object *s, uint64_t base, uint64_t *start)
{
    const pe_image *img = s->control->image;
    vad *v = NULL;
    uint64_t charged = 0;
    uint32_t status = img->pe32_plus && p->bits == 32 ? VAS_STATUS_INVALID_IMAGE_FORMAT
                                                      : new_image_view(p, img, base, &v, &charged);
    if (status)
        return status;
    section_view *view = v->start == img->image_base ? malloc(sizeof *view) : NULL;
    if (view) {
        attach_view(p, s, v, view, 0, charged);
        *start = v->start;
        return VAS_STATUS_SUCCESS;
    }
    /* Relocated (or out of memory): a view of the file laid out at that delta. */
    uint64_t at = v->start;
    bool relocated = v->start != img->image_base;
    commit_release(p, charged << p->page_shift);
    vad_free(v);
    if (!relocated)
        return VAS_STATUS_NO_MEMORY;
    if (!s->control->path)
        return VAS_STATUS_CONFLICTING_ADDRESSES; /* a caller's store: one layout only */
    image_mapping out = {0};
    status = image_map_path_at(p, s->control->path, at, &out);
    *start = out.base;
    return status == VAS_STATUS_IMAGE_NOT_AT_BASE ? VAS_STATUS_SUCCESS : status;
}

/* ---- Region calls on views ------------------------------------------------------------------ */

uint32_t view_check_protect(vas_process *p, vad *v, uint32_t protect)
{
    (void)p;
    return access_within(protect, v->allocation_protect) ? VAS_STATUS_SUCCESS : VAS_STATUS_INVALID_PAGE_PROTECTION;
}

uint32_t view_commit(vas_process *p, vad *v, uint64_t first, uint64_t count, uint32_t protect)
{
    control_area *c = v->view->section->control;
    if (c->ops)
        return VAS_STATUS_ACCESS_DENIED; /* a file's pages are committed by the file */
    uint32_t status = view_check_protect(p, v, protect);
    if (status)
        return status;
    protect = (protect & ~PROTECT_CACHE_MODIFIERS) | (v->allocation_protect & PROTECT_CACHE_MODIFIERS);
    uint64_t new_pages = count - view_count_committed(v, first, count);
    if (!vad_reserve_runs(v, v->run_count + 2))
        return VAS_STATUS_NO_MEMORY;
    if ((status = machine_commit(p->machine, new_pages << p->page_shift)))
        return status;
    /* The section's pages are committed for every view; this view takes the protection. */
    for (uint64_t i = first; i < first + count; i++)
        if (!view_page_committed(v, i))
            c->prototype[proto_index(v, i)] = pte_make_demand_zero(VAS_PAGE_READWRITE);
    c->committed_pages += new_pages;
    vad_set_pages(v, p->page_shift, first, count, protect);
    pagetable_protect(p, v->start + (first << p->page_shift), v->start + ((first + count) << p->page_shift), protect);
    return VAS_STATUS_SUCCESS;
}

/* ---- Faults ---------------------------------------------------------------------------------- */

/* Reads a file page into frame; false when the file no longer holds it (it shrank) or the read
   failed: the caller raises STATUS_IN_PAGE_ERROR. Bytes past the section's end read as zero. */
static bool read_file_page(control_area *c, uint64_t index, uint64_t frame)
{
    physical_memory *pm = &c->machine->physical;
    uint64_t offset = index << pm->page_shift, length = c->size - offset;
    if (length > pm->page_size)
        length = pm->page_size;
    uint64_t current = file_size(c);
    if (current != UINT64_MAX && current < offset + length)
        return false;
    uint8_t *bytes = physical_bytes(pm, frame);
    if (c->ops->read(c->file, offset, bytes, (size_t)length) != 0)
        return false;
    memset(bytes + length, 0, pm->page_size - length);
    return true;
}

/* An image page: laid out from its section's file data and relocated (pe.c). */
static bool read_image_page(control_area *c, uint64_t index, uint64_t frame)
{
    physical_memory *pm = &c->machine->physical;
    uint64_t current = file_size(c);
    pe_file f = {c->ops, c->file, current < c->file_bytes ? current : c->file_bytes};
    return pe_read_page(&f, c->image, index << pm->page_shift, physical_bytes(pm, frame), pm->page_size, c->delta);
}

uint64_t view_page_in(vas_process *p, vad *v, uint64_t page, uint32_t protect, uint32_t *status)
{
    vas_machine *m = p->machine;
    physical_memory *pm = &m->physical;
    control_area *c = v->view->section->control;
    uint64_t index = proto_index(v, (page - v->start) >> p->page_shift), proto = c->prototype[index], frame;
    uint32_t file;
    uint64_t slot;
    if (proto & PTE_VALID) { /* mapped through another view already */
        frame = proto >> pm->page_shift;
        p->soft_faults++;
    } else if (proto & PTE_TRANSITION) { /* on standby or modified */
        frame = proto >> pm->page_shift;
        physical_unpark(pm, frame);
        c->prototype[index] = frame << pm->page_shift | PTE_VALID;
        c->resident_pages++;
        p->soft_faults++;
    } else {
        bool in_file = proto == PROTO_IN_FILE, in_pagefile = pagefile_pte_decode(m, proto, &file, &slot);
        frame = physical_take(pm, in_file || in_pagefile ? FRAME_FOR_OVERWRITE : FRAME_FOR_ZERO);
        if (!frame) {
            *status = VAS_STATUS_NO_MEMORY;
            return 0;
        }
        bool read = in_file ? (c->image ? read_image_page(c, index, frame) : read_file_page(c, index, frame))
                  : in_pagefile ? pagefile_read(m, file, slot, physical_bytes(pm, frame)) : true;
        if (!read) { /* the page stays where it was; a later touch may succeed */
            physical_release(pm, frame);
            p->in_page_errors++;
            *status = VAS_STATUS_IN_PAGE_ERROR;
            return 0;
        }
        if (in_file || in_pagefile)
            p->hard_faults++;
        else
            p->demand_zero_faults++;
        pfn_entry *e = &pm->pfn[frame];
        e->is_prototype = 1;
        e->control = c;
        e->pte_address = index;
        e->original_pte = proto; /* the file, the paging-file slot, or demand zero */
        c->prototype[index] = frame << pm->page_shift | PTE_VALID;
        c->resident_pages++;
    }
    pm->pfn[frame].share_count++;
    if (!ws_insert(p, page, frame)) {
        shared_frame_unmapped(m, frame);
        *status = VAS_STATUS_NO_MEMORY;
        return 0;
    }
    p->fault_count++;
    return pte_make(p, frame, protect, false);
}

uint64_t view_copy_on_write(vas_process *p, vad *v, uint64_t page, uint64_t leaf, uint64_t pte, uint32_t protect,
                            uint32_t *status)
{
    vas_machine *m = p->machine;
    physical_memory *pm = &m->physical;
    uint64_t shared = pte_frame(p, pte), index = (page - v->start) >> p->page_shift;
    uint32_t base = protect_base(protect);
    uint32_t copied = (protect & ~0xFFu) |
                      (base == VAS_PAGE_EXECUTE_WRITECOPY ? VAS_PAGE_EXECUTE_READWRITE : VAS_PAGE_READWRITE);
    uint64_t frame = physical_take(pm, FRAME_FOR_OVERWRITE);
    if (!frame || !vad_set_pages(v, p->page_shift, index, 1, copied)) {
        if (frame)
            physical_release(pm, frame);
        *status = VAS_STATUS_NO_MEMORY;
        return 0;
    }
    memcpy(physical_bytes(pm, frame), physical_bytes(pm, shared), pm->page_size);
    ws_remove(p, page, shared);
    pagetable_set(p, leaf, page, 0);
    shared_frame_unmapped(m, shared);
    pfn_entry *e = &pm->pfn[frame];
    e->original_pte = pte_make_demand_zero(copied);
    e->modified = 1; /* no copy of it exists anywhere yet */
    e->share_count = 1;
    ws_insert(p, page, frame); /* cannot fail: an entry was just given back */
    tlb_invalidate(p, page, page + p->page_size);
    p->fault_count++;
    return pte_make(p, frame, copied, true);
}

void shared_frame_unmapped(vas_machine *m, uint64_t frame)
{
    physical_memory *pm = &m->physical;
    pfn_entry *e = &pm->pfn[frame];
    if (--e->share_count)
        return;
    e->control->prototype[e->pte_address] = frame << pm->page_shift | PTE_TRANSITION;
    e->control->resident_pages--;
    physical_park(pm, frame);
}

bool section_write_frame(vas_machine *m, uint64_t frame)
{
    pfn_entry *e = &m->physical.pfn[frame];
    return write_back(e->control, e->pte_address, frame);
}

/* ---- Invariant checking ------------------------------------------------------------------------ */

int section_check_all(vas_machine *m, bool full, uint64_t *commit_pages, uint64_t *resident)
{
    const physical_memory *pm = &m->physical;
    int errors = 0;
    for (section_object *s = m->sections; s; s = s->next) {
        uint32_t views = 0;
        for (section_view *view = s->control->views; view; view = view->next)
            views += view->section == s && view->vad->view == view;
        if (s->magic != SECTION_MAGIC || views != s->view_count || (!s->handle_count && !s->view_count)) {
            fprintf(stderr, "vas: section invariant 3 failed: %u views listed, %u counted, %u handles\n", views,
                    s->view_count, s->handle_count);
            errors++;
        }
    }
    for (control_area *c = m->controls; c; c = c->next) {
        *commit_pages += c->committed_pages;
        *resident += c->resident_pages;
        uint32_t views = 0;
        for (section_view *view = c->views; view; view = view->next)
            views++;
        if (views != c->view_count || c->section_count == 0) {
            fprintf(stderr, "vas: section invariant 3 failed: a control area with %u views (count %u), %u sections\n",
                    views, c->view_count, c->section_count);
            errors++;
        }
        if (!full)
            continue;
        uint64_t valid = 0, committed = 0;
        for (uint64_t i = 0; i < c->page_count; i++) {
            uint64_t proto = c->prototype[i];
            committed += proto != 0;
            if (!(proto & (PTE_VALID | PTE_TRANSITION)))
                continue;
            uint64_t frame = proto >> pm->page_shift;
            const pfn_entry *e = &pm->pfn[frame];
            bool active = e->list == FRAME_ACTIVE && e->share_count >= 1;
            bool parked = e->list == FRAME_STANDBY || e->list == FRAME_MODIFIED;
            valid += (proto & PTE_VALID) != 0;
            if (frame >= pm->frame_count || !e->is_prototype || e->control != c || e->pte_address != i ||
                ((proto & PTE_VALID) ? !active : !parked)) {
                fprintf(stderr, "vas: section invariant 1 failed: page %llu, prototype %#llx\n",
                        (unsigned long long)i, (unsigned long long)proto);
                errors++;
            }
        }
        if (valid != c->resident_pages || (!c->ops && committed != c->committed_pages)) {
            fprintf(stderr, "vas: section invariant 1/2 failed: %llu valid (count %llu), %llu committed (count %llu)\n",
                    (unsigned long long)valid, (unsigned long long)c->resident_pages,
                    (unsigned long long)committed, (unsigned long long)c->committed_pages);
            errors++;
        }
    }
    return errors;
}
