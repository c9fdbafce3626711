/*
 * facts.h - helpers shared by the Windows-fact tests (test_alloc.c, test_state.c,
 * test_protect.c, test_query.c, test_commit.c). They use vas.h only.
 *
 *   - fx: a fresh machine with one process, so every test starts from a known state;
 *   - snapshot: everything a caller can observe of a process: its whole VirtualQuery walk, its
 *     counters and its machine's commit status;
 *   - CHECK_FAILS_CLEAN / CHECK_NT_FAILS: a call that must fail with an exact error or status
 *     and leave that observable state exactly as it was ("a failed call changes nothing");
 *   - CHECK_MBI: every field of one VirtualQuery record.
 */
#ifndef VAS_FACTS_H
#define VAS_FACTS_H

#include "check.h"

#define PAGE 0x1000ull
#define GRAN 0x10000ull

typedef struct fx {
    vas_machine *m;
    vas_process *p;
} fx;

static inline fx fx_open_with(const vas_machine_config *machine, const vas_process_config *process)
{
    fx f;
    f.m = vas_machine_create(machine);
    f.p = f.m ? vas_process_create(f.m, process) : NULL;
    if (!f.p) {
        fprintf(stderr, "facts.h: cannot create the test machine or process (error %u)\n",
                vas_last_error());
        exit(2);
    }
    return f;
}

static inline fx fx_open(void) { return fx_open_with(NULL, NULL); }

/* A machine of the given layout ("x64", "x86", ...) with one process of `bits` (0 = native). */
static inline fx fx_open_layout(const char *layout, int bits, int large_address_aware)
{
    vas_machine_config mc = {0};
    vas_process_config pc = {0};
    mc.layout = layout;
    pc.bits = bits;
    pc.large_address_aware = large_address_aware;
    return fx_open_with(&mc, &pc);
}

static inline void fx_close(fx *f)
{
    CHECK_EQ(vas_check(f->m), 0);
    vas_machine_destroy(f->m);
    f->m = NULL;
    f->p = NULL;
}

/* ---- Observable state -------------------------------------------------------------------- */

#define SNAP_MAX 256

typedef struct snapshot {
    size_t count;
    vas_memory_basic_information regions[SNAP_MAX];
    vas_process_counters counters;
    vas_memory_status status;
} snapshot;

/* Walks the process's whole user space with VirtualQuery. vas_last_error() is preserved. */
static inline void snap_take(const fx *f, snapshot *s)
{
    uint32_t saved = vas_last_error();
    vas_system_info si;
    vas_get_system_info(f->p, &si);
    memset(s, 0, sizeof *s);
    uint64_t address = 0;
    while (s->count < SNAP_MAX) {
        vas_memory_basic_information mbi;
        if (vas_virtual_query(f->p, address, &mbi, sizeof mbi) != sizeof mbi || mbi.region_size == 0)
            break;
        s->regions[s->count++] = mbi;
        uint64_t end = mbi.base_address + mbi.region_size;
        if (end - 1 >= si.maximum_application_address)
            break;
        address = end;
    }
    vas_process_get_counters(f->p, &s->counters); /* writes fields only: padding stays zero */
    vas_global_memory_status(f->m, &s->status);
    vas_set_last_error(saved);
}

static inline int mbi_equal(const vas_memory_basic_information *a, const vas_memory_basic_information *b)
{
    return a->base_address == b->base_address && a->allocation_base == b->allocation_base &&
           a->allocation_protect == b->allocation_protect && a->region_size == b->region_size &&
           a->state == b->state && a->protect == b->protect && a->type == b->type;
}

static inline void check_unchanged_(const fx *f, const snapshot *before, const char *file, int line)
{
    static snapshot after; /* the tests are single-threaded */
    snap_take(f, &after);
    int same = before->count == after.count;
    for (size_t i = 0; same && i < before->count; i++)
        same = mbi_equal(&before->regions[i], &after.regions[i]);
    /* Whole structures: both snapshots start zero-filled, so padding compares equal and fields
       added to vas.h later are covered too. */
    if (memcmp(&before->counters, &after.counters, sizeof after.counters) != 0) {
        fprintf(stderr, "%s:%d: the failed call changed the process counters\n", file, line);
        check_failures_in_test++;
    }
    if (memcmp(&before->status, &after.status, sizeof after.status) != 0) {
        fprintf(stderr, "%s:%d: the failed call changed the machine's memory status\n", file, line);
        check_failures_in_test++;
    }
    if (!same) {
        fprintf(stderr, "%s:%d: the failed call changed the VirtualQuery walk (%zu -> %zu regions)\n",
                file, line, before->count, after.count);
        check_failures_in_test++;
    }
}

#define CHECK_UNCHANGED(f, before) check_unchanged_((f), (before), __FILE__, __LINE__)

static snapshot facts_before_; /* the state before a call that must fail (not nested) */

/* A Win32 call that must return 0 with vas_last_error() == error and change nothing. */
#define CHECK_FAILS_CLEAN(f, call, error)                                                     \
    do {                                                                                      \
        snap_take((f), &facts_before_);                                                       \
        CHECK_FAILS(call, error);                                                             \
        CHECK_UNCHANGED((f), &facts_before_);                                                 \
    } while (0)

/* A native call that must return `status` and change nothing. */
#define CHECK_NT_FAILS(f, call, status)                                                       \
    do {                                                                                      \
        snap_take((f), &facts_before_);                                                       \
        CHECK_EQ((call), (status));                                                           \
        CHECK_UNCHANGED((f), &facts_before_);                                                 \
    } while (0)

/* ---- VirtualQuery ------------------------------------------------------------------------ */

/* VirtualQuery that must succeed; the record is filled with 0xCC first so nothing is left
   over from an earlier call. */
static inline vas_memory_basic_information vq_(vas_process *p, uint64_t address, const char *file, int line)
{
    vas_memory_basic_information m;
    memset(&m, 0xCC, sizeof m);
    size_t n = vas_virtual_query(p, address, &m, sizeof m);
    if (n != sizeof m) {
        fprintf(stderr, "%s:%d: VirtualQuery(0x%" PRIx64 ") returned %zu, error %u\n", file, line,
                address, n, vas_last_error());
        check_failures_in_test++;
    }
    return m;
}
#define vq(p, address) vq_((p), (address), __FILE__, __LINE__)

/* Every field of a VirtualQuery record. */
#define CHECK_MBI(mbi, base, alloc_base, alloc_protect, size, state_, protect_, type_)        \
    do {                                                                                      \
        vas_memory_basic_information check_m_ = (mbi);                                        \
        CHECK_EQ(check_m_.base_address, (base));                                              \
        CHECK_EQ(check_m_.allocation_base, (alloc_base));                                     \
        CHECK_EQ(check_m_.allocation_protect, (alloc_protect));                               \
        CHECK_EQ(check_m_.region_size, (size));                                               \
        CHECK_EQ(check_m_.state, (state_));                                                   \
        CHECK_EQ(check_m_.protect, (protect_));                                               \
        CHECK_EQ(check_m_.type, (type_));                                                     \
    } while (0)

/* The counters of a process and its machine, read in one go. */
static inline vas_process_counters counters_of(vas_process *p)
{
    vas_process_counters c;
    memset(&c, 0, sizeof c);
    CHECK(vas_process_get_counters(p, &c));
    return c;
}

static inline vas_memory_status status_of(vas_machine *m)
{
    vas_memory_status s;
    vas_global_memory_status(m, &s);
    return s;
}

#endif
