/*
 * loader.c - what the loader and process creation put in an address space: image views and
 * their imports, the PEB, the process heap's region, and threads with a TEB and a stack that
 * grows through its guard page. No code is ever run.
 *
 * Data structure. A process keeps its modules (one per mapped image, in load order: the
 * executable first) and its threads (a list, newest first). A module records where its image
 * view is and what its header asked for; the view itself is an image view (section.c), and
 * unmapping it forgets the module. A thread records its TEB and its stack, a private
 * reservation flagged VAD_STACK: the fault path calls stack_guard_hit when the stack's guard
 * page is touched. The PEB and TEBs are private, committed, read-write and secured
 * (VAD_NO_CHANGE: no VirtualProtect, no VirtualFree), page granular, placed top-down below the
 * highest address a VAD may reach (below KUSER_SHARED_DATA for 32-bit processes), as
 * MiCreatePebOrTeb places them; with a random seed the PEB takes one of the 16 pages there.
 *
 * Invariants: every module's base is the base of a MEM_IMAGE view; every thread's TEB is a
 * secured allocation; stack_limit is the lowest committed page of the stack above its guard.
 */
#include "internal.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_STACK_RESERVE 0x100000u   /* 1 MB */
#define DEFAULT_STACK_COMMIT  0x1000u
#define IA64_STACK_RESERVE    0x400000u   /* 4 MB */
#define IA64_STACK_COMMIT     0x4000u     /* 16 KB */

static int fail(uint32_t status)
{
    vas_set_last_error(vas_nt_status_to_dos_error(status));
    return 0;
}

/* ---- Modules --------------------------------------------------------------------------------- */

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static bool add_module(vas_process *p, const char *name, const char *path, const image_mapping *m)
{
    if (!grow_array((void **)&p->modules, &p->module_capacity, p->module_count, sizeof *p->modules, 8))
        return false;
    module *mod = &p->modules[p->module_count];
    *mod = (module){strdup(name), strdup(path ? path : name), m->base, m->size, m->preferred_base, m->entry_point,
                    m->relocated};
    if (!mod->name || !mod->path) {
        free(mod->name);
        free(mod->path);
        return false;
    }
    p->module_count++;
    return true;
}

void loader_forget_module(vas_process *p, uint64_t base)
{
    for (uint32_t i = 0; i < p->module_count; i++) {
        if (p->modules[i].base != base)
            continue;
        free(p->modules[i].name);
        free(p->modules[i].path);
        memmove(&p->modules[i], &p->modules[i + 1], (p->module_count - i - 1) * sizeof *p->modules);
        p->module_count--;
        return;
    }
}

static module *find_module(vas_process *p, const char *name)
{
    for (uint32_t i = 0; i < p->module_count; i++)
        if (strcasecmp(p->modules[i].name, name) == 0) /* Windows' names ignore case */
            return &p->modules[i];
    return NULL;
}

/* Maps an image and records its module; the error of image_map, or STATUS_NO_MEMORY. */
static uint32_t load(vas_process *p, const char *path, image_mapping *out)
{
    uint32_t status = image_map_path(p, path, out);
    if (status && status != VAS_STATUS_IMAGE_NOT_AT_BASE)
        return status;
    if (!add_module(p, base_name(path), path, out)) {
        vas_unmap_view_locked(p, out->base);
        return VAS_STATUS_NO_MEMORY;
    }
    return status;
}

void loader_add_image(vas_process *p, const char *path, uint64_t base)
{
    vad *v = vad_find(&p->vads, base);
    const pe_image *img = v->view->section->control->image;
    image_mapping m = {v->start, v->end - v->start, img->image_base,
                       img->entry_point ? v->start + img->entry_point : 0, v->start != img->image_base, img};
    add_module(p, path ? base_name(path) : "image", path, &m); /* out of memory: not listed */
}

uint64_t vas_map_image(vas_process *p, const char *path)
{
    if (process_enter(p))
        return (uint64_t)fail(VAS_STATUS_INVALID_HANDLE);
    image_mapping out;
    uint32_t status = path ? load(p, path, &out) : VAS_STATUS_INVALID_PARAMETER;
    process_leave(p, status == VAS_STATUS_SUCCESS || status == VAS_STATUS_IMAGE_NOT_AT_BASE);
    if (status && status != VAS_STATUS_IMAGE_NOT_AT_BASE)
        return (uint64_t)fail(status);
    vas_set_last_error(VAS_ERROR_SUCCESS);
    return out.base;
}

uint64_t vas_map_image_ops(vas_process *p, const vas_backing_ops *ops, void *file, uint64_t file_size, const char *name)
{
    if (!ops || !ops->read) {
        if (ops && ops->close)
            ops->close(file);
        return (uint64_t)fail(VAS_STATUS_INVALID_PARAMETER);
    }
    if (process_enter(p)) {
        if (ops->close)
            ops->close(file);
        return (uint64_t)fail(VAS_STATUS_INVALID_HANDLE);
    }
    image_mapping out;
    uint32_t status = image_map(p, ops, file, file_size, NULL, &(file_identity){0}, 0, &out);
    bool mapped = status == VAS_STATUS_SUCCESS || status == VAS_STATUS_IMAGE_NOT_AT_BASE;
    if (mapped && !add_module(p, name ? name : "image", NULL, &out)) {
        vas_unmap_view_locked(p, out.base);
        status = VAS_STATUS_NO_MEMORY;
        mapped = false;
    }
    process_leave(p, mapped);
    if (!mapped)
        return (uint64_t)fail(status);
    vas_set_last_error(VAS_ERROR_SUCCESS);
    return out.base;
}

size_t vas_process_modules(vas_process *p, vas_module_info *out, size_t max)
{
    if (process_enter(p))
        return 0;
    for (size_t i = 0; out && i < p->module_count && i < max; i++) {
        const module *mod = &p->modules[i];
        out[i] = (vas_module_info){mod->name, mod->path, mod->base, mod->size, mod->preferred_base,
                                   mod->entry_point, mod->relocated};
    }
    size_t count = p->module_count;
    process_leave(p, false);
    return count;
}

/* ---- Imports --------------------------------------------------------------------------------- */

/* Looks for `name` (ignoring case) in folder; writes the path found into out. */
static bool find_in_folder(const char *folder, size_t folder_length, const char *name, char *out, size_t size)
{
    char dir_path[4096];
    if (folder_length == 0 || folder_length >= sizeof dir_path)
        return false;
    memcpy(dir_path, folder, folder_length);
    dir_path[folder_length] = 0;
    DIR *dir = opendir(dir_path);
    if (!dir)
        return false;
    bool found = false;
    for (struct dirent *e; !found && (e = readdir(dir));)
        if (strcasecmp(e->d_name, name) == 0)
            found = (size_t)snprintf(out, size, "%s/%s", dir_path, e->d_name) < size;
    closedir(dir);
    return found;
}

/* The DLL search: the executable's folder, then each folder of dll_path (':'-separated). */
static bool find_dll(const char *exe_folder, size_t exe_folder_length, const char *dll_path, const char *name,
                     char *out, size_t size)
{
    if (find_in_folder(exe_folder, exe_folder_length, name, out, size))
        return true;
    for (const char *at = dll_path; at && *at;) {
        const char *end = strchr(at, ':');
        size_t length = end ? (size_t)(end - at) : strlen(at);
        if (find_in_folder(at, length, name, out, size))
            return true;
        at = end ? end + 1 : at + length;
    }
    return false;
}

/* Maps every DLL the loaded modules import, breadth first, each once. */
static uint32_t load_imports(vas_process *p, const char *exe_path, const char *dll_path)
{
    const char *slash = strrchr(exe_path, '/');
    const char *folder = slash ? exe_path : ".";
    size_t folder_length = slash ? (size_t)(slash - exe_path) : 1;
    for (uint32_t i = 0; i < p->module_count; i++) {
        vad *v = vad_find(&p->vads, p->modules[i].base);
        const pe_image *img = v->view->section->control->image;
        for (uint32_t k = 0; k < img->import_count; k++) {
            const char *name = img->imports[k];
            if (find_module(p, name))
                continue; /* loaded already: an import loop ends here */
            char path[4096];
            if (!find_dll(folder, folder_length, dll_path, name, path, sizeof path))
                return VAS_STATUS_DLL_NOT_FOUND;
            image_mapping out;
            uint32_t status = load(p, path, &out);
            if (status && status != VAS_STATUS_IMAGE_NOT_AT_BASE)
                return status;
            img = vad_find(&p->vads, p->modules[i].base)->view->section->control->image;
        }
    }
    return VAS_STATUS_SUCCESS;
}

/* ---- The PEB, TEBs and stacks ----------------------------------------------------------------- */

/* Where secured pages go: top-down below the highest VAD address (below the shared user page
   for 32-bit processes, as on Windows). */
static uint64_t secured_bound(const vas_process *p)
{
    uint64_t bound = p->shape.vad_limit;
    return p->bits == 32 && bound > KUSER_SHARED_DATA ? KUSER_SHARED_DATA : bound;
}

/* The highest page-aligned place below `below` where size bytes are free: secured pages fill
   any hole, even one inside a 64 KB granule that a reservation could not use. */
static bool find_secured(const vas_process *p, uint64_t size, uint64_t below, uint64_t *base)
{
    for (uint64_t top = below; top > p->shape.lowest;) {
        vad *v = vad_last_starting_before(&p->vads, top);
        uint64_t floor = v ? v->end : p->shape.lowest;
        if (floor < top && top - floor >= size) {
            *base = top - size;
            return true;
        }
        if (!v)
            return false;
        top = v->start;
    }
    return false;
}

static uint32_t allocate_secured(vas_process *p, uint64_t size, uint64_t below, uint64_t *base)
{
    if (!find_secured(p, size, below, base))
        return VAS_STATUS_NO_MEMORY;
    return region_allocate_exact(p, *base, size, VAD_NO_CHANGE);
}

static uint64_t splitmix(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

/* Writes a pointer-sized value (4 bytes in a 32-bit process) into the process. */
static void put_pointer(vas_process *p, uint64_t address, uint64_t value)
{
    if (p->bits == 64) {
        process_write(p, address, &value, 8);
    } else {
        uint32_t narrow = (uint32_t)value;
        process_write(p, address, &narrow, 4);
    }
}

/* PEB fields: ImageBaseAddress, ProcessHeap. */
static void write_peb(vas_process *p)
{
    bool wide = p->bits == 64;
    put_pointer(p, p->peb + (wide ? 0x10 : 0x08), p->image_base);
    put_pointer(p, p->peb + (wide ? 0x30 : 0x18), p->heap_base);
}

static uint32_t create_peb(vas_process *p)
{
    uint64_t bound = secured_bound(p);
    if (p->random_seed) /* one of the 16 pages below the bound, as Windows randomises it */
        bound -= (splitmix(p->random_seed) % 16) * p->page_size;
    return allocate_secured(p, p->page_size, bound, &p->peb);
}

/* NT_TIB and the fields after it: StackBase, StackLimit, Self, ClientId, the PEB. */
static void write_teb(vas_process *p, const thread *t)
{
    bool wide = p->bits == 64;
    uint64_t unit = wide ? 8 : 4;
    put_pointer(p, t->teb, wide ? 0 : 0xFFFFFFFFu); /* ExceptionList: none yet */
    put_pointer(p, t->teb + unit, t->stack_base);
    put_pointer(p, t->teb + 2 * unit, t->stack_limit);
    put_pointer(p, t->teb + 6 * unit, t->teb);      /* Self */
    put_pointer(p, t->teb + (wide ? 0x40 : 0x20), p->id);
    put_pointer(p, t->teb + (wide ? 0x48 : 0x24), t->id);
    put_pointer(p, t->teb + (wide ? 0x60 : 0x30), p->peb);
    put_pointer(p, t->teb + (wide ? 0x1478 : 0xE0C), t->deallocation_stack); /* DeallocationStack */
}

static thread *find_thread(vas_process *p, uint32_t id)
{
    for (thread *t = p->threads; t; t = t->next)
        if (t->id == id)
            return t;
    return NULL;
}

/* Commits one page of a stack (unless something committed it already), charging it. */
static uint32_t commit_stack_page(vas_process *p, vad *v, uint64_t index, uint32_t protect)
{
    if (vad_count_committed(v, p->page_shift, index, 1) == 1)
        return VAS_STATUS_SUCCESS;
    uint32_t status = commit_charge(p, p->page_size);
    if (!status && !vad_set_pages(v, p->page_shift, index, 1, protect)) {
        commit_release(p, p->page_size);
        status = VAS_STATUS_NO_MEMORY;
    }
    return status;
}

static void set_stack_limit(vas_process *p, thread *t, uint64_t limit)
{
    if (!t)
        return;
    t->stack_limit = limit;
    put_pointer(p, t->teb + (p->bits == 64 ? 0x10 : 0x08), limit);
}

uint32_t stack_guard_hit(vas_process *p, vad *v, uint64_t page)
{
    thread *t = p->threads;
    while (t && t->deallocation_stack != v->start)
        t = t->next;
    uint64_t P = p->page_size, below = page - P;
    if (below - P > v->start) { /* the guard moves one page down */
        uint32_t status = commit_stack_page(p, v, (below - v->start) >> p->page_shift,
                                            VAS_PAGE_READWRITE | VAS_PAGE_GUARD);
        if (!status)
            set_stack_limit(p, t, page);
        return status;
    }
    /* No room for another guard above the bottom page: the page just above the bottom is
       committed for the exception's handler and becomes the limit, and the thread overflows (as
       MiCheckForUserStackOverflow does). The bottom page is never committed. */
    uint64_t limit = v->start + P;
    uint32_t status = limit < page ? commit_stack_page(p, v, 1, VAS_PAGE_READWRITE) : VAS_STATUS_SUCCESS;
    if (status)
        return status;
    set_stack_limit(p, t, limit);
    return VAS_STATUS_STACK_OVERFLOW;
}

/* CreateThread's memory, as BaseCreateStack lays it out. Machine lock held. */
static uint32_t create_thread(vas_process *p, uint64_t reserve, uint64_t commit, thread **out)
{
    uint64_t page = p->page_size;
    if (reserve == 0)
        reserve = p->stack_reserve;
    if (commit == 0)
        commit = p->stack_commit;
    commit = align_up(commit, page);
    /* As BaseCreateStack: a commit at least the reserve makes the reserve the commit rounded up
       to 1 MB; a guard page goes below the commit only where the reserve leaves room. */
    if (commit >= reserve)
        reserve = align_up(commit, 0x100000);
    reserve = align_up(reserve, GRANULARITY);
    thread *t = calloc(1, sizeof *t);
    if (!t)
        return VAS_STATUS_NO_MEMORY;
    /* The TEB: 0x2000 bytes for a 64-bit thread, 0x1000 for a 32-bit one; a WOW64 thread has
       both, the 32-bit one (the one its code sees) 0x2000 bytes in. */
    bool wow64 = p->bits == 32 && p->machine->layout->native_bits == 64;
    uint64_t teb_size = align_up(p->bits == 64 ? 0x2000 : wow64 ? 0x3000 : 0x1000, page);
    /* Both places are found, and the commit is known to fit, before either is taken: a thread
       that cannot be made changes nothing. TEBs go top-down below the PEB, into the highest free
       pages; the stack goes bottom-up, below the TEB. */
    uint64_t base = 0, size = reserve, teb_base = 0;
    uint64_t high = p->shape.vad_limit;
    vas_machine *m = p->machine;
    uint32_t status = find_secured(p, teb_size, p->peb ? p->peb : secured_bound(p), &teb_base)
                          ? VAS_STATUS_SUCCESS : VAS_STATUS_NO_MEMORY;
    if (!status && reserve <= p->shape.vad_limit && reserve > 0 &&
        !vad_find_free(&p->vads, reserve, GRANULARITY, p->shape.lowest, teb_base, false, &base) &&
        vad_find_free(&p->vads, reserve, GRANULARITY, p->shape.lowest, high, false, &base))
        status = VAS_STATUS_NO_MEMORY; /* room only where the TEB would go */
    if (!status && reserve > p->shape.vad_limit - p->shape.lowest)
        status = VAS_STATUS_INVALID_PARAMETER_4; /* what NtAllocateVirtualMemory says of it */
    if (!status && teb_size + commit + page > m->commit_limit - m->commit_total)
        status = VAS_STATUS_COMMITMENT_LIMIT;
    base = 0;
    if (!status)
        status = region_allocate(p, &base, 0, &size, VAS_MEM_RESERVE, VAS_PAGE_READWRITE, NULL);
    if (!status && base + size > teb_base && base < teb_base + teb_size) {
        region_release_exact(p, vad_find(&p->vads, base));
        status = VAS_STATUS_NO_MEMORY;
    }
    if (!status) {
        uint64_t top = base + size, guard = top - commit - page;
        uint64_t b = top - commit, s = commit;
        status = region_allocate(p, &b, 0, &s, VAS_MEM_COMMIT, VAS_PAGE_READWRITE, NULL);
        b = guard, s = page;
        if (!status && size > commit)
            status = region_allocate(p, &b, 0, &s, VAS_MEM_COMMIT, VAS_PAGE_READWRITE | VAS_PAGE_GUARD, NULL);
        if (!status)
            status = region_allocate_exact(p, teb_base, teb_size, VAD_NO_CHANGE);
        if (status) {
            region_release_exact(p, vad_find(&p->vads, base));
        } else {
            vad_find(&p->vads, base)->flags |= VAD_STACK;
            t->teb = teb_base + (wow64 ? 0x2000 : 0);
            t->stack_base = top;
            t->stack_limit = top - commit;
            t->deallocation_stack = base;
        }
    }
    if (status) {
        free(t);
        return status;
    }
    t->teb_size = teb_size;
    t->id = p->machine->next_process_id; /* thread and process ids come from one table */
    p->machine->next_process_id += 4;
    t->next = p->threads;
    p->threads = t;
    p->thread_count++;
    write_teb(p, t);
    *out = t;
    return VAS_STATUS_SUCCESS;
}

static void info_of(const thread *t, vas_thread_info *info)
{
    *info = (vas_thread_info){t->id, t->teb, t->stack_base, t->stack_limit, t->deallocation_stack};
}

int vas_thread_create(vas_process *p, uint64_t stack_reserve, uint64_t stack_commit, vas_thread_info *info)
{
    if (process_enter(p))
        return fail(VAS_STATUS_INVALID_HANDLE);
    thread *t = NULL;
    uint32_t status = info ? create_thread(p, stack_reserve, stack_commit, &t) : VAS_STATUS_ACCESS_VIOLATION;
    if (!status)
        info_of(t, info);
    process_leave(p, !status);
    return status ? fail(status) : 1;
}

int vas_thread_get_info(vas_process *p, uint32_t thread_id, vas_thread_info *info)
{
    if (process_enter(p))
        return fail(VAS_STATUS_INVALID_HANDLE);
    thread *t = find_thread(p, thread_id);
    if (t && info)
        info_of(t, info);
    process_leave(p, false);
    return t && info ? 1 : fail(info ? VAS_STATUS_INVALID_PARAMETER : VAS_STATUS_ACCESS_VIOLATION);
}

size_t vas_process_threads(vas_process *p, vas_thread_info *out, size_t max)
{
    if (process_enter(p))
        return 0;
    size_t count = 0;
    for (thread *t = p->threads; t; t = t->next)
        count++;
    size_t i = count; /* the list is newest first; fill oldest first */
    for (thread *t = p->threads; t; t = t->next) {
        i--;
        if (out && i < max)
            info_of(t, &out[i]);
    }
    process_leave(p, false);
    return count;
}

static void destroy_thread(vas_process *p, thread *t)
{
    vad *stack = vad_find(&p->vads, t->deallocation_stack);
    if (stack && (stack->flags & VAD_STACK) && stack->start == t->deallocation_stack)
        region_release_exact(p, stack); /* unless the program released it itself */
    vad *teb = vad_find(&p->vads, t->teb);
    if (teb)
        region_release_exact(p, teb);
    for (thread **link = &p->threads; *link; link = &(*link)->next)
        if (*link == t) {
            *link = t->next;
            break;
        }
    p->thread_count--;
    free(t);
}

int vas_thread_exit(vas_process *p, uint32_t thread_id)
{
    if (process_enter(p))
        return fail(VAS_STATUS_INVALID_HANDLE);
    thread *t = find_thread(p, thread_id);
    if (t)
        destroy_thread(p, t);
    process_leave(p, t != NULL);
    return t ? 1 : fail(VAS_STATUS_INVALID_PARAMETER);
}

int vas_process_get_info(vas_process *p, vas_process_info *info)
{
    if (process_enter(p))
        return fail(VAS_STATUS_INVALID_HANDLE);
    if (info)
        *info = (vas_process_info){p->peb, p->image_base, p->heap_base, p->thread_count, p->main_thread_id};
    process_leave(p, false);
    return info ? 1 : fail(VAS_STATUS_ACCESS_VIOLATION);
}

void loader_release_all(vas_process *p)
{
    while (p->threads) {
        thread *t = p->threads;
        p->threads = t->next;
        free(t);
    }
    for (uint32_t i = 0; i < p->module_count; i++) {
        free(p->modules[i].name);
        free(p->modules[i].path);
    }
    free(p->modules);
    p->modules = NULL;
    p->module_count = p->module_capacity = 0;
    p->thread_count = 0;
}

void loader_init(vas_process *p, const vas_process_config *config)
{
    bool ia64 = p->machine->layout->page_size == 0x2000;
    p->stack_reserve = ia64 ? IA64_STACK_RESERVE : DEFAULT_STACK_RESERVE;
    p->stack_commit = ia64 ? IA64_STACK_COMMIT : DEFAULT_STACK_COMMIT;
    p->random_seed = config ? config->random_seed : 0;
}

/* ---- Processes from images ---------------------------------------------------------------------- */

/* Reads an executable's header to decide the process's shape before the process exists. */
static uint32_t peek_executable(vas_machine *m, const char *path, pe_image *img)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return VAS_STATUS_OBJECT_NAME_NOT_FOUND;
    struct stat st;
    void *file = fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode) ? host_file_wrap(fd) : NULL;
    if (!file) {
        close(fd);
        return VAS_STATUS_ACCESS_DENIED;
    }
    pe_file f = {&host_file_ops, file, (uint64_t)st.st_size};
    uint32_t status = pe_parse(&f, m->layout->page_size, img);
    host_file_ops.close(file);
    return status;
}

vas_process *vas_process_create_from_image(vas_machine *m, const char *exe_path, const vas_process_config *config)
{
    vas_process_config defaults = {0};
    if (!config)
        config = &defaults;
    if (!m || m->magic != MACHINE_MAGIC) {
        fail(VAS_STATUS_INVALID_HANDLE);
        return NULL;
    }
    if (!exe_path) {
        fail(VAS_STATUS_INVALID_PARAMETER);
        return NULL;
    }
    pe_image img;
    uint32_t status = peek_executable(m, exe_path, &img);
    if (status) {
        vas_set_last_error(status == VAS_STATUS_OBJECT_NAME_NOT_FOUND ? VAS_ERROR_FILE_NOT_FOUND
                                                                      : vas_nt_status_to_dos_error(status));
        return NULL;
    }
    /* The image decides the process's width and, for 32-bit processes, its user space. */
    const layout *l = m->layout;
    bool native64 = l->native_bits == 64, ia64 = l->page_size == 0x2000;
    bool ok = img.pe32_plus ? native64 && img.machine == (ia64 ? PE_MACHINE_IA64 : PE_MACHINE_AMD64)
                            : img.machine == PE_MACHINE_I386;
    vas_process_config c = *config;
    c.bits = img.pe32_plus ? 64 : 32;
    c.large_address_aware = img.pe32_plus || (img.file_characteristics & PE_FILE_LARGE_ADDRESS_AWARE) ? 1 : -1;
    uint64_t stack_reserve = img.stack_reserve, stack_commit = img.stack_commit;
    uint64_t heap_reserve = img.heap_reserve, heap_commit = img.heap_commit;
    pe_free(&img);
    if (!ok) {
        fail(VAS_STATUS_INVALID_IMAGE_FORMAT);
        return NULL;
    }
    if (!c.name)
        c.name = base_name(exe_path);
    vas_process *p = vas_process_create(m, &c);
    if (!p)
        return NULL;
    process_enter(p);
    /* As CreateProcess and the loader do it: the executable, the PEB, the heap and the first
       thread's stack, and only then the DLLs (ntdll's loader maps them in the new thread). */
    image_mapping exe;
    status = load(p, exe_path, &exe);
    if (status == VAS_STATUS_IMAGE_NOT_AT_BASE)
        status = VAS_STATUS_SUCCESS;
    if (!status) {
        p->image_base = exe.base;
        if (stack_reserve)
            p->stack_reserve = stack_reserve;
        if (stack_commit)
            p->stack_commit = stack_commit;
        status = create_peb(p);
    }
    if (!status && heap_reserve) { /* the process heap's region, where RtlCreateHeap puts it */
        uint64_t base = 0, size = heap_reserve, at, length = align_up(heap_commit ? heap_commit : 1, p->page_size);
        status = region_allocate(p, &base, 0, &size, VAS_MEM_RESERVE, VAS_PAGE_READWRITE, NULL);
        at = base;
        if (!status)
            status = region_allocate(p, &at, 0, &length, VAS_MEM_COMMIT, VAS_PAGE_READWRITE, NULL);
        if (!status)
            p->heap_base = base;
    }
    thread *t = NULL;
    if (!status) /* CreateProcess gives the first thread at least 256 KB of stack */
        status = create_thread(p, p->stack_reserve < 0x40000 ? 0x40000 : p->stack_reserve, 0, &t);
    if (!status) {
        p->main_thread_id = t->id;
        write_peb(p);
        status = load_imports(p, exe_path, config->dll_path);
    }
    process_leave(p, true);
    if (status) {
        vas_process_destroy(p);
        vas_set_last_error(status == VAS_STATUS_DLL_NOT_FOUND ? VAS_ERROR_MOD_NOT_FOUND
                                                              : vas_nt_status_to_dos_error(status));
        return NULL;
    }
    return p;
}
