/*
 * win32.c - the public entry points: the native (Nt*) calls, the Win32 calls layered on them as
 * kernel32 layers on ntdll, the NTSTATUS -> Win32 error mapping, and printable names.
 *
 * Every entry point checks its handle, takes the machine lock, calls region.c and releases the
 * lock (running the invariant checker in debug builds when something may have changed). Win32
 * calls set vas_last_error() only when they fail, as Windows does.
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>

/* ---- NTSTATUS -> Win32 error (RtlNtStatusToDosError, spec group Q) ------------------------ */

typedef struct status_entry {
    uint32_t status;
    uint32_t error;
    const char *status_name;
} status_entry;

static const status_entry status_table[] = {
    {VAS_STATUS_SUCCESS, VAS_ERROR_SUCCESS, "STATUS_SUCCESS"},
    {VAS_STATUS_IMAGE_NOT_AT_BASE, VAS_ERROR_SUCCESS, "STATUS_IMAGE_NOT_AT_BASE"},
    {VAS_STATUS_GUARD_PAGE_VIOLATION, VAS_STATUS_GUARD_PAGE_VIOLATION, "STATUS_GUARD_PAGE_VIOLATION"},
    {VAS_STATUS_DATATYPE_MISALIGNMENT, VAS_ERROR_NOACCESS, "STATUS_DATATYPE_MISALIGNMENT"},
    {VAS_STATUS_PARTIAL_COPY, VAS_ERROR_PARTIAL_COPY, "STATUS_PARTIAL_COPY"},
    {VAS_STATUS_INFO_LENGTH_MISMATCH, VAS_ERROR_BAD_LENGTH, "STATUS_INFO_LENGTH_MISMATCH"},
    {VAS_STATUS_ACCESS_VIOLATION, VAS_ERROR_NOACCESS, "STATUS_ACCESS_VIOLATION"},
    {VAS_STATUS_IN_PAGE_ERROR, VAS_ERROR_SWAPERROR, "STATUS_IN_PAGE_ERROR"},
    {VAS_STATUS_INVALID_HANDLE, VAS_ERROR_INVALID_HANDLE, "STATUS_INVALID_HANDLE"},
    {VAS_STATUS_INVALID_PARAMETER, VAS_ERROR_INVALID_PARAMETER, "STATUS_INVALID_PARAMETER"},
    {VAS_STATUS_NO_MEMORY, VAS_ERROR_NOT_ENOUGH_MEMORY, "STATUS_NO_MEMORY"},
    {VAS_STATUS_CONFLICTING_ADDRESSES, VAS_ERROR_INVALID_ADDRESS, "STATUS_CONFLICTING_ADDRESSES"},
    {VAS_STATUS_NOT_MAPPED_VIEW, VAS_ERROR_INVALID_ADDRESS, "STATUS_NOT_MAPPED_VIEW"},
    {VAS_STATUS_UNABLE_TO_FREE_VM, VAS_ERROR_INVALID_PARAMETER, "STATUS_UNABLE_TO_FREE_VM"},
    {VAS_STATUS_INVALID_VIEW_SIZE, VAS_ERROR_ACCESS_DENIED, "STATUS_INVALID_VIEW_SIZE"},
    {VAS_STATUS_INVALID_FILE_FOR_SECTION, VAS_ERROR_BAD_EXE_FORMAT, "STATUS_INVALID_FILE_FOR_SECTION"},
    {VAS_STATUS_ALREADY_COMMITTED, VAS_ERROR_ACCESS_DENIED, "STATUS_ALREADY_COMMITTED"},
    {VAS_STATUS_ACCESS_DENIED, VAS_ERROR_ACCESS_DENIED, "STATUS_ACCESS_DENIED"},
    {VAS_STATUS_UNABLE_TO_DECOMMIT_VM, VAS_ERROR_INVALID_ADDRESS, "STATUS_UNABLE_TO_DECOMMIT_VM"},
    {VAS_STATUS_NOT_COMMITTED, VAS_ERROR_INVALID_ADDRESS, "STATUS_NOT_COMMITTED"},
    {VAS_STATUS_SECTION_TOO_BIG, VAS_ERROR_NOT_ENOUGH_MEMORY, "STATUS_SECTION_TOO_BIG"},
    {VAS_STATUS_INVALID_PAGE_PROTECTION, VAS_ERROR_INVALID_PARAMETER, "STATUS_INVALID_PAGE_PROTECTION"},
    {VAS_STATUS_SECTION_NOT_IMAGE, VAS_ERROR_INVALID_PARAMETER, "STATUS_SECTION_NOT_IMAGE"},
    {VAS_STATUS_FREE_VM_NOT_AT_BASE, VAS_ERROR_INVALID_ADDRESS, "STATUS_FREE_VM_NOT_AT_BASE"},
    {VAS_STATUS_MEMORY_NOT_ALLOCATED, VAS_ERROR_INVALID_ADDRESS, "STATUS_MEMORY_NOT_ALLOCATED"},
    {VAS_STATUS_NOT_SUPPORTED, VAS_ERROR_NOT_SUPPORTED, "STATUS_NOT_SUPPORTED"},
    {VAS_STATUS_INVALID_PARAMETER_1, VAS_ERROR_INVALID_PARAMETER, "STATUS_INVALID_PARAMETER_1"},
    {VAS_STATUS_INVALID_PARAMETER_2, VAS_ERROR_INVALID_PARAMETER, "STATUS_INVALID_PARAMETER_2"},
    {VAS_STATUS_INVALID_PARAMETER_3, VAS_ERROR_INVALID_PARAMETER, "STATUS_INVALID_PARAMETER_3"},
    {VAS_STATUS_INVALID_PARAMETER_4, VAS_ERROR_INVALID_PARAMETER, "STATUS_INVALID_PARAMETER_4"},
    {VAS_STATUS_INVALID_PARAMETER_5, VAS_ERROR_INVALID_PARAMETER, "STATUS_INVALID_PARAMETER_5"},
    {VAS_STATUS_INVALID_PARAMETER_6, VAS_ERROR_INVALID_PARAMETER, "STATUS_INVALID_PARAMETER_6"},
    {VAS_STATUS_STACK_OVERFLOW, 1001u /* ERROR_STACK_OVERFLOW */, "STATUS_STACK_OVERFLOW"},
    {VAS_STATUS_MAPPED_FILE_SIZE_ZERO, VAS_ERROR_FILE_INVALID, "STATUS_MAPPED_FILE_SIZE_ZERO"},
    {VAS_STATUS_COMMITMENT_LIMIT, VAS_ERROR_COMMITMENT_LIMIT, "STATUS_COMMITMENT_LIMIT"},
    {VAS_STATUS_INVALID_IMAGE_NOT_MZ, VAS_ERROR_BAD_EXE_FORMAT, "STATUS_INVALID_IMAGE_NOT_MZ"},
    {VAS_STATUS_INVALID_ADDRESS, VAS_ERROR_INVALID_ADDRESS, "STATUS_INVALID_ADDRESS"},
    {VAS_STATUS_MAPPED_ALIGNMENT, VAS_ERROR_MAPPED_ALIGNMENT, "STATUS_MAPPED_ALIGNMENT"},
    {VAS_STATUS_PRIVILEGE_NOT_HELD, VAS_ERROR_PRIVILEGE_NOT_HELD, "STATUS_PRIVILEGE_NOT_HELD"},
    {VAS_STATUS_UNABLE_TO_DELETE_SECTION, VAS_ERROR_INVALID_PARAMETER, "STATUS_UNABLE_TO_DELETE_SECTION"},
    {VAS_STATUS_OBJECT_NAME_NOT_FOUND, VAS_ERROR_FILE_NOT_FOUND, "STATUS_OBJECT_NAME_NOT_FOUND"},
    {VAS_STATUS_OBJECT_NAME_COLLISION, VAS_ERROR_ALREADY_EXISTS, "STATUS_OBJECT_NAME_COLLISION"},
    {VAS_STATUS_SECTION_PROTECTION, VAS_ERROR_INVALID_PARAMETER, "STATUS_SECTION_PROTECTION"},
    {VAS_STATUS_NOT_MAPPED_DATA, VAS_ERROR_INVALID_ADDRESS, "STATUS_NOT_MAPPED_DATA"},
    {VAS_STATUS_FILE_INVALID, VAS_ERROR_FILE_INVALID, "STATUS_FILE_INVALID"},
    {VAS_STATUS_INVALID_IMAGE_FORMAT, VAS_ERROR_BAD_EXE_FORMAT, "STATUS_INVALID_IMAGE_FORMAT"},
    {VAS_STATUS_DLL_NOT_FOUND, VAS_ERROR_MOD_NOT_FOUND, "STATUS_DLL_NOT_FOUND"},
    {VAS_STATUS_OBJECT_PATH_NOT_FOUND, VAS_ERROR_PATH_NOT_FOUND, "STATUS_OBJECT_PATH_NOT_FOUND"},
    {VAS_STATUS_DISK_FULL, VAS_ERROR_DISK_FULL, "STATUS_DISK_FULL"},
    {VAS_STATUS_BAD_INITIAL_STACK, 0, NULL},
};


uint32_t vas_nt_status_to_dos_error(uint32_t status)
{
    for (size_t i = 0; status_table[i].status_name; i++)
        if (status_table[i].status == status)
            return status_table[i].error;
    return VAS_ERROR_MR_MID_NOT_FOUND;
}

/* Records a failed Win32 call's error; returns 0 for the caller to return. */
static int fail(uint32_t status)
{
    vas_set_last_error(vas_nt_status_to_dos_error(status));
    return 0;
}

/* ---- Native calls ------------------------------------------------------------------------ */

/* The three native calls that act on a range share their frame: check the handle and the
   pointers, work on copies of *base and *size, and write them back only on success. */
typedef enum { RANGE_ALLOCATE, RANGE_FREE, RANGE_PROTECT } range_verb;

typedef struct range_call {
    range_verb verb;
    uint64_t zero_bits;
    uint32_t type;                    /* allocation or free type */
    uint32_t protect;
    const vas_address_requirements *requirements;
    uint32_t *old_protect;
} range_call;

static uint32_t run_range_call(vas_process *p, uint64_t *base, uint64_t *size, const range_call *c)
{
    uint32_t status = process_enter(p);
    if (status)
        return status;
    if (!base || !size) {
        process_leave(p, false);
        return VAS_STATUS_ACCESS_VIOLATION;
    }
    uint64_t b = *base, s = *size;
    switch (c->verb) {
    case RANGE_ALLOCATE:
        status = region_allocate(p, &b, c->zero_bits, &s, c->type, c->protect, c->requirements);
        break;
    case RANGE_FREE:
        status = region_free(p, &b, &s, c->type);
        break;
    case RANGE_PROTECT:
        status = region_protect(p, &b, &s, c->protect, c->old_protect);
        break;
    }
    if (!status) {
        *base = b;
        *size = s;
    }
    process_leave(p, status == VAS_STATUS_SUCCESS);
    return status;
}

uint32_t vas_nt_allocate_virtual_memory_ex(vas_process *p, uint64_t *base, uint64_t *size,
                                           uint32_t type, uint32_t protect,
                                           const vas_address_requirements *req)
{
    range_call c = {.verb = RANGE_ALLOCATE, .type = type, .protect = protect, .requirements = req};
    return run_range_call(p, base, size, &c);
}

uint32_t vas_nt_allocate_virtual_memory(vas_process *p, uint64_t *base, uint64_t zero_bits,
                                        uint64_t *size, uint32_t type, uint32_t protect)
{
    range_call c = {.verb = RANGE_ALLOCATE, .zero_bits = zero_bits, .type = type, .protect = protect};
    return run_range_call(p, base, size, &c);
}

uint32_t vas_nt_free_virtual_memory(vas_process *p, uint64_t *base, uint64_t *size, uint32_t free_type)
{
    range_call c = {.verb = RANGE_FREE, .type = free_type};
    return run_range_call(p, base, size, &c);
}

uint32_t vas_nt_protect_virtual_memory(vas_process *p, uint64_t *base, uint64_t *size,
                                       uint32_t new_protect, uint32_t *old_protect)
{
    range_call c = {.verb = RANGE_PROTECT, .protect = new_protect, .old_protect = old_protect};
    return run_range_call(p, base, size, &c);
}

uint32_t vas_nt_query_virtual_memory(vas_process *p, uint64_t address, vas_memory_basic_information *info,
                                     size_t info_size, size_t *return_length)
{
    uint32_t status = process_enter(p);
    if (status)
        return status;
    if (info_size < sizeof *info)
        status = VAS_STATUS_INFO_LENGTH_MISMATCH;
    else if (!info)
        status = VAS_STATUS_ACCESS_VIOLATION;
    else
        status = region_query(p, address, info);
    process_leave(p, false);
    if (return_length && !status)
        *return_length = sizeof *info;
    return status;
}

uint32_t vas_nt_query_region_information(vas_process *p, uint64_t address, vas_memory_region_information *info)
{
    uint32_t status = process_enter(p);
    if (status)
        return status;
    status = info ? region_query_allocation(p, address, info) : VAS_STATUS_ACCESS_VIOLATION;
    process_leave(p, false);
    return status;
}

/* ---- Win32 calls ------------------------------------------------------------------------- */

static bool is_win9x(vas_process *p)
{
    return p && p->magic == PROCESS_MAGIC && p->machine->layout->win9x;
}

uint64_t vas_virtual_alloc(vas_process *p, uint64_t address, uint64_t size, uint32_t type, uint32_t protect)
{
    if (size == 0 && is_win9x(p)) {
        vas_set_last_error(VAS_ERROR_NOT_ENOUGH_MEMORY); /* Windows 95/98's answer */
        return 0;
    }
    uint32_t status = vas_nt_allocate_virtual_memory(p, &address, 0, &size, type, protect);
    return status ? (uint64_t)fail(status) : address;
}

uint64_t vas_virtual_alloc2(vas_process *p, uint64_t address, uint64_t size, uint32_t type,
                            uint32_t protect, const vas_address_requirements *requirements)
{
    uint32_t status = vas_nt_allocate_virtual_memory_ex(p, &address, &size, type, protect, requirements);
    return status ? (uint64_t)fail(status) : address;
}

int vas_virtual_free(vas_process *p, uint64_t address, uint64_t size, uint32_t free_type)
{
    if (free_type == VAS_MEM_RELEASE && size != 0) {
        vas_set_last_error(VAS_ERROR_INVALID_PARAMETER); /* Win32 releases whole allocations only */
        return 0;
    }
    uint32_t status = vas_nt_free_virtual_memory(p, &address, &size, free_type);
    return status ? fail(status) : 1;
}

int vas_virtual_protect(vas_process *p, uint64_t address, uint64_t size, uint32_t new_protect,
                        uint32_t *old_protect)
{
    uint32_t status = vas_nt_protect_virtual_memory(p, &address, &size, new_protect, old_protect);
    if (status == VAS_STATUS_NOT_COMMITTED && is_win9x(p))
        status = VAS_STATUS_INVALID_PARAMETER; /* Windows 95/98 answer 87 here */
    return status ? fail(status) : 1;
}

size_t vas_virtual_query(vas_process *p, uint64_t address, vas_memory_basic_information *info, size_t info_size)
{
    size_t written = 0;
    uint32_t status = vas_nt_query_virtual_memory(p, address, info, info_size, &written);
    return status ? (size_t)fail(status) : written;
}

size_t vas_query_regions(vas_process *p, uint64_t address, vas_memory_basic_information *out, size_t max)
{
    uint32_t status = process_enter(p);
    if (status)
        return (size_t)fail(status);
    size_t n = 0;
    if (max && !out)
        status = VAS_STATUS_ACCESS_VIOLATION;
    else if (max && !(n = region_query_many(p, address, out, max)))
        status = VAS_STATUS_INVALID_PARAMETER; /* beyond user space, as VirtualQuery */
    process_leave(p, false);
    return status ? (size_t)fail(status) : n;
}

/* ---- Names ------------------------------------------------------------------------------- */

static _Thread_local char unknown_name[32];

const char *vas_status_name(uint32_t status)
{
    for (size_t i = 0; status_table[i].status_name; i++)
        if (status_table[i].status == status)
            return status_table[i].status_name;
    snprintf(unknown_name, sizeof unknown_name, "0x%08X", status);
    return unknown_name;
}

const char *vas_error_name(uint32_t error)
{
    static const struct { uint32_t error; const char *name; } names[] = {
        {VAS_ERROR_SUCCESS, "ERROR_SUCCESS"},
        {VAS_ERROR_FILE_NOT_FOUND, "ERROR_FILE_NOT_FOUND"},
        {VAS_ERROR_PATH_NOT_FOUND, "ERROR_PATH_NOT_FOUND"},
        {VAS_ERROR_ACCESS_DENIED, "ERROR_ACCESS_DENIED"},
        {VAS_ERROR_INVALID_HANDLE, "ERROR_INVALID_HANDLE"},
        {VAS_ERROR_NOT_ENOUGH_MEMORY, "ERROR_NOT_ENOUGH_MEMORY"},
        {VAS_ERROR_INVALID_BLOCK, "ERROR_INVALID_BLOCK"},
        {VAS_ERROR_MOD_NOT_FOUND, "ERROR_MOD_NOT_FOUND"},
        {VAS_ERROR_OUTOFMEMORY, "ERROR_OUTOFMEMORY"},
        {VAS_ERROR_BAD_LENGTH, "ERROR_BAD_LENGTH"},
        {VAS_ERROR_NOT_SUPPORTED, "ERROR_NOT_SUPPORTED"},
        {VAS_ERROR_OPEN_FAILED, "ERROR_OPEN_FAILED"},
        {VAS_ERROR_DISK_FULL, "ERROR_DISK_FULL"},
        {VAS_ERROR_NOT_LOCKED, "ERROR_NOT_LOCKED"},
        {VAS_ERROR_INVALID_PARAMETER, "ERROR_INVALID_PARAMETER"},
        {VAS_ERROR_ALREADY_EXISTS, "ERROR_ALREADY_EXISTS"},
        {VAS_ERROR_BAD_EXE_FORMAT, "ERROR_BAD_EXE_FORMAT"},
        {VAS_ERROR_PARTIAL_COPY, "ERROR_PARTIAL_COPY"},
        {VAS_ERROR_MR_MID_NOT_FOUND, "ERROR_MR_MID_NOT_FOUND"},
        {VAS_ERROR_INVALID_ADDRESS, "ERROR_INVALID_ADDRESS"},
        {VAS_ERROR_NOACCESS, "ERROR_NOACCESS"},
        {VAS_ERROR_SWAPERROR, "ERROR_SWAPERROR"},
        {1001u, "ERROR_STACK_OVERFLOW"},
        {VAS_ERROR_FILE_INVALID, "ERROR_FILE_INVALID"},
        {VAS_ERROR_MAPPED_ALIGNMENT, "ERROR_MAPPED_ALIGNMENT"},
        {VAS_ERROR_PRIVILEGE_NOT_HELD, "ERROR_PRIVILEGE_NOT_HELD"},
        {VAS_ERROR_WORKING_SET_QUOTA, "ERROR_WORKING_SET_QUOTA"},
        {VAS_ERROR_COMMITMENT_LIMIT, "ERROR_COMMITMENT_LIMIT"},
        {VAS_STATUS_GUARD_PAGE_VIOLATION, "STATUS_GUARD_PAGE_VIOLATION"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].error == error)
            return names[i].name;
    snprintf(unknown_name, sizeof unknown_name, "%u", error);
    return unknown_name;
}

const char *vas_state_name(uint32_t state)
{
    switch (state) {
    case VAS_MEM_COMMIT: return "MEM_COMMIT";
    case VAS_MEM_RESERVE: return "MEM_RESERVE";
    case VAS_MEM_FREE: return "MEM_FREE";
    default: break;
    }
    snprintf(unknown_name, sizeof unknown_name, "0x%X", state);
    return unknown_name;
}

const char *vas_type_name(uint32_t type)
{
    switch (type) {
    case 0: return "0";
    case VAS_MEM_PRIVATE: return "MEM_PRIVATE";
    case VAS_MEM_MAPPED: return "MEM_MAPPED";
    case VAS_MEM_IMAGE: return "MEM_IMAGE";
    default: break;
    }
    snprintf(unknown_name, sizeof unknown_name, "0x%X", type);
    return unknown_name;
}

char *vas_protect_name(uint32_t protect, char *buffer, size_t size)
{
    static const struct { uint32_t bit; const char *name; } bits[] = {
        {VAS_PAGE_NOACCESS, "PAGE_NOACCESS"}, {VAS_PAGE_READONLY, "PAGE_READONLY"},
        {VAS_PAGE_READWRITE, "PAGE_READWRITE"}, {VAS_PAGE_WRITECOPY, "PAGE_WRITECOPY"},
        {VAS_PAGE_EXECUTE, "PAGE_EXECUTE"}, {VAS_PAGE_EXECUTE_READ, "PAGE_EXECUTE_READ"},
        {VAS_PAGE_EXECUTE_READWRITE, "PAGE_EXECUTE_READWRITE"},
        {VAS_PAGE_EXECUTE_WRITECOPY, "PAGE_EXECUTE_WRITECOPY"}, {VAS_PAGE_GUARD, "PAGE_GUARD"},
        {VAS_PAGE_NOCACHE, "PAGE_NOCACHE"}, {VAS_PAGE_WRITECOMBINE, "PAGE_WRITECOMBINE"},
    };
    if (!buffer || size == 0)
        return buffer;
    buffer[0] = '\0';
    if (protect == 0) {
        snprintf(buffer, size, "0");
        return buffer;
    }
    size_t used = 0;
    uint32_t rest = protect;
    for (size_t i = 0; i < sizeof bits / sizeof bits[0]; i++) {
        if (!(protect & bits[i].bit))
            continue;
        rest &= ~bits[i].bit;
        int n = snprintf(buffer + used, size - used, "%s%s", used ? "|" : "", bits[i].name);
        if (n < 0 || (size_t)n >= size - used)
            return buffer;
        used += (size_t)n;
    }
    if (rest)
        snprintf(buffer + used, size - used, "%s0x%X", used ? "|" : "", rest);
    return buffer;
}
