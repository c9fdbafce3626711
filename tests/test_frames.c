/*
 * test_frames.c - the teaching views' data: vas_get_frame_info (who owns each frame, on which
 * list), vas_query_working_set_ex (which pages are in a working set) and vas_process_threads.
 * Each test builds a small machine, does something whose effect on frames Windows defines, and
 * checks the frame and working-set reports against the other figures the library gives.
 */
#include "check.h"

#define MB (1024ull * 1024)

static vas_machine *small_machine(const char *layout)
{
    vas_machine_config config = {.layout = layout, .ram_bytes = 16 * MB, .pagefile_bytes = 32 * MB};
    vas_machine *m = vas_machine_create(&config);
    CHECK(m != NULL);
    return m;
}

/* Counts frames by owner (and for one process id) over the whole of RAM. */
typedef struct frame_census {
    uint64_t by_owner[6], by_list[7], of_process, tables_of_process, frames;
} frame_census;

static frame_census census(vas_machine *m, uint32_t pid)
{
    frame_census c = {0};
    vas_physical_status ps;
    vas_get_physical_status(m, &ps);
    vas_frame_info batch[512];
    for (uint64_t first = 0; first < ps.frame_count;) {
        size_t n = vas_get_frame_info(m, first, batch, 512);
        CHECK(n > 0);
        if (!n)
            break;
        for (size_t i = 0; i < n; i++) {
            CHECK(batch[i].owner <= VAS_FRAME_OWNER_LOCKED);
            CHECK(batch[i].list <= VAS_FRAME_ACTIVE && batch[i].list != 4 && batch[i].list != 5);
            c.by_owner[batch[i].owner]++;
            c.by_list[batch[i].list]++;
            if (batch[i].process_id == pid && batch[i].owner == VAS_FRAME_OWNER_PROCESS)
                c.of_process++;
            if (batch[i].process_id == pid && batch[i].owner == VAS_FRAME_OWNER_TABLE)
                c.tables_of_process++;
        }
        first += n;
        c.frames += n;
    }
    return c;
}

static void test_frames_match_lists(void)
{
    static const char *const layouts[] = {"x64", "x86", "ia64"};
    for (size_t l = 0; l < 3; l++) {
        vas_machine *m = small_machine(layouts[l]);
        vas_process *p = vas_process_create(m, NULL);
        vas_system_info si;
        vas_get_system_info(p, &si);
        uint64_t a = vas_virtual_alloc(p, 0, 64 * si.page_size, VAS_MEM_COMMIT | VAS_MEM_RESERVE, VAS_PAGE_READWRITE);
        CHECK(a != 0);
        for (uint64_t i = 0; i < 40; i++)
            CHECK_EQ(vas_write(p, a + i * si.page_size, "x", 1, NULL), 0);
        vas_physical_status ps;
        vas_get_physical_status(m, &ps);
        frame_census c = census(m, vas_process_id(p));
        CHECK_EQ(c.frames, ps.frame_count);
        CHECK_EQ(c.by_list[VAS_FRAME_ZEROED], ps.zeroed);
        CHECK_EQ(c.by_list[VAS_FRAME_FREE], ps.free + 1); /* frame 0 reads as free */
        CHECK_EQ(c.by_list[VAS_FRAME_ACTIVE], ps.active);
        vas_process_counters pc;
        vas_process_get_counters(p, &pc);
        CHECK(c.of_process >= 40); /* the 40 pages written, and the shared user page's copy */
        CHECK_EQ(c.tables_of_process, pc.page_table_pages);
        /* Trimmed pages go to standby or modified, still the process's. */
        CHECK(vas_empty_working_set(p));
        frame_census after = census(m, vas_process_id(p));
        CHECK_EQ(after.of_process, c.of_process);
        vas_get_physical_status(m, &ps);
        CHECK_EQ(after.by_list[VAS_FRAME_MODIFIED], ps.modified);
        CHECK_EQ(after.by_list[VAS_FRAME_STANDBY], ps.standby);
        CHECK(after.by_list[VAS_FRAME_MODIFIED] + after.by_list[VAS_FRAME_STANDBY] >= 40);
        /* The frames of a destroyed process are nobody's. */
        uint32_t pid = vas_process_id(p);
        vas_process_destroy(p);
        frame_census gone = census(m, pid);
        CHECK_EQ(gone.of_process, 0);
        CHECK_EQ(gone.tables_of_process, 0);
        vas_machine_destroy(m);
    }
}

static void test_frames_of_sections_and_pools(void)
{
    vas_machine *m = small_machine("x64");
    vas_process *a = vas_process_create(m, NULL), *b = vas_process_create(m, NULL);
    vas_section *s = vas_create_file_mapping(m, NULL, VAS_PAGE_READWRITE, 8 * 4096, NULL);
    uint64_t va = vas_map_view_of_file(a, s, VAS_FILE_MAP_WRITE, 0, 0, 0);
    uint64_t vb = vas_map_view_of_file(b, s, VAS_FILE_MAP_READ, 0, 0, 0);
    CHECK(va && vb);
    for (int i = 0; i < 8; i++)
        CHECK_EQ(vas_write(a, va + (uint64_t)i * 4096, "s", 1, NULL), 0);
    char byte;
    CHECK_EQ(vas_read(b, vb, &byte, 1, NULL), 0);
    frame_census before = census(m, 0);
    CHECK_EQ(before.by_owner[VAS_FRAME_OWNER_SECTION], 8);
    uint64_t pool = vas_pool_alloc(m, VAS_NONPAGED_POOL, 3 * 4096, 0x74736554);
    CHECK(pool != 0);
    frame_census after = census(m, 0);
    CHECK(after.by_owner[VAS_FRAME_OWNER_SYSTEM] >= before.by_owner[VAS_FRAME_OWNER_SYSTEM] + 3);

    /* The working sets: a has all 8 view pages, b the one it read, both shared. */
    vas_working_set_ex_information w[9];
    for (int i = 0; i < 8; i++)
        w[i].virtual_address = vb + (uint64_t)i * 4096;
    w[8].virtual_address = 0xFFFF800000000000ull; /* not user space */
    CHECK(vas_query_working_set_ex(b, w, 9));
    CHECK_EQ(w[0].valid, 1);
    CHECK_EQ(w[0].shared, 1);
    CHECK_EQ(w[0].share_count, 2);
    for (int i = 1; i < 9; i++)
        CHECK_EQ(w[i].valid, 0);
    CHECK_FAILS(vas_query_working_set_ex(b, NULL, 1), VAS_ERROR_INVALID_PARAMETER);
    CHECK(vas_query_working_set_ex(b, NULL, 0));
    CHECK(vas_pool_free(m, pool, 0x74736554));
    CHECK(vas_unmap_view_of_file(a, va) && vas_unmap_view_of_file(b, vb));
    vas_close_section(s);
    vas_machine_destroy(m);
}

static void test_working_set_ex_private(void)
{
    vas_machine *m = small_machine("x86");
    vas_process *p = vas_process_create(m, NULL);
    uint64_t a = vas_virtual_alloc(p, 0, 4 * 4096, VAS_MEM_COMMIT | VAS_MEM_RESERVE, VAS_PAGE_READWRITE);
    CHECK_EQ(vas_write(p, a, "x", 1, NULL), 0);
    CHECK_EQ(vas_write(p, a + 4096, "x", 1, NULL), 0);
    uint32_t old;
    CHECK(vas_virtual_protect(p, a + 4096, 4096, VAS_PAGE_NOACCESS, &old)); /* keeps its frame */
    CHECK(vas_virtual_lock(p, a, 4096));
    vas_working_set_ex_information w[4] = {{.virtual_address = a}, {.virtual_address = a + 4096},
                                           {.virtual_address = a + 8192}, {.virtual_address = 0}};
    CHECK(vas_query_working_set_ex(p, w, 4));
    CHECK_EQ(w[0].valid, 1);
    CHECK_EQ(w[0].locked, 1);
    CHECK_EQ(w[0].shared, 0);
    CHECK_EQ(w[0].share_count, 1);
    CHECK_EQ(w[1].valid, 1);
    CHECK_EQ(w[1].locked, 0);
    CHECK_EQ(w[2].valid, 0); /* committed, never touched */
    CHECK_EQ(w[3].valid, 0);
    CHECK(vas_virtual_unlock(p, a, 4096));
    CHECK(vas_empty_working_set(p));
    CHECK(vas_query_working_set_ex(p, w, 2));
    CHECK_EQ(w[0].valid, 0);
    CHECK_EQ(w[1].valid, 0);
    vas_machine_destroy(m);
}

static void test_threads_listed(void)
{
    vas_machine *m = small_machine("x64");
    vas_process *p = vas_process_create(m, NULL);
    CHECK_EQ(vas_process_threads(p, NULL, 0), 0);
    vas_thread_info t[3], listed[3];
    for (int i = 0; i < 3; i++)
        CHECK(vas_thread_create(p, 0, 0, &t[i]));
    CHECK_EQ(vas_process_threads(p, listed, 3), 3);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(listed[i].thread_id, t[i].thread_id); /* oldest first */
        CHECK_EQ(listed[i].deallocation_stack, t[i].deallocation_stack);
    }
    CHECK_EQ(vas_process_threads(p, listed, 1), 3);
    CHECK_EQ(listed[0].thread_id, t[0].thread_id);
    CHECK(vas_thread_exit(p, t[1].thread_id));
    CHECK_EQ(vas_process_threads(p, listed, 3), 2);
    CHECK_EQ(listed[1].thread_id, t[2].thread_id);
    vas_machine_destroy(m);
}

static const check_test tests[] = {
    TEST(test_frames_match_lists),
    TEST(test_frames_of_sections_and_pools),
    TEST(test_working_set_ex_private),
    TEST(test_threads_listed),
};

CHECK_MAIN(tests)
