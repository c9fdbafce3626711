/* consumer.c - a program outside the project that uses an installed libvas. It checks that the
   header and the library it was linked with agree, and that a few calls behave. */
#include <vas.h>

#include <stdio.h>
#include <string.h>

int main(void)
{
    if (strcmp(vas_version(), VAS_VERSION_STRING) != 0) {
        fprintf(stderr, "consumer: header %s, library %s\n", VAS_VERSION_STRING, vas_version());
        return 1;
    }
    vas_machine *m = vas_machine_create(NULL);
    vas_process *p = m ? vas_process_create(m, NULL) : NULL;
    if (!p) {
        fprintf(stderr, "consumer: cannot create a machine and a process\n");
        return 1;
    }
    uint64_t a = vas_virtual_alloc(p, 0, 0xFFFC, VAS_MEM_RESERVE, VAS_PAGE_NOACCESS);
    vas_memory_basic_information mbi;
    int ok = a != 0 && a % 0x10000 == 0 && vas_virtual_query(p, a, &mbi, sizeof mbi) == sizeof mbi &&
             mbi.region_size == 0x10000 && mbi.state == VAS_MEM_RESERVE && mbi.protect == 0 &&
             vas_virtual_alloc(p, a, 0x1000, VAS_MEM_COMMIT, VAS_PAGE_READWRITE) == a &&
             vas_virtual_free(p, a, 1, VAS_MEM_RELEASE) == 0 &&
             vas_last_error() == VAS_ERROR_INVALID_PARAMETER &&
             vas_virtual_free(p, a, 0, VAS_MEM_RELEASE) == 1 && vas_check(m) == 0;
    vas_machine_destroy(m);
    printf("consumer: libvas %s %s\n", vas_version(), ok ? "works" : "FAILED");
    return ok ? 0 : 1;
}
