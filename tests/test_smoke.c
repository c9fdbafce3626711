#include "vas.h"
#include <stdio.h>
#include <stdlib.h>
#define CHECK(c) do { if (!(c)) { fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c); exit(1); } } while (0)
int main(void)
{
    vas_machine *m = vas_machine_create(NULL);
    CHECK(m);
    vas_process *p = vas_process_create(m, NULL);
    CHECK(p);
    uint64_t a = vas_virtual_alloc(p, 0, 0xFFFC, VAS_MEM_RESERVE, VAS_PAGE_NOACCESS);
    CHECK(a && a % 0x10000 == 0);
    vas_memory_basic_information mbi;
    CHECK(vas_virtual_query(p, a, &mbi, sizeof mbi) == sizeof mbi);
    CHECK(mbi.region_size == 0x10000 && mbi.state == VAS_MEM_RESERVE && mbi.protect == 0);
    CHECK(vas_virtual_alloc(p, a, 0x1000, VAS_MEM_COMMIT, VAS_PAGE_READWRITE) == a);
    uint32_t old;
    CHECK(vas_virtual_protect(p, a, 0x1000, VAS_PAGE_READONLY, &old) && old == VAS_PAGE_READWRITE);
    CHECK(vas_virtual_free(p, a, 0, VAS_MEM_RELEASE));
    CHECK(vas_check(m) == 0);
    vas_machine_destroy(m);
    printf("1 passed, 0 failed\n");
    return 0;
}
