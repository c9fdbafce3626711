/*
 * figures.h - the figures a test reads over and over: a process's counters, the machine's
 * paging, physical-memory and memory status. Each fails the current test if the call does.
 * Counters are read into a buffer filled with 0xEE first, so a field the library forgets to
 * write shows.
 */
#ifndef VAS_FIGURES_H
#define VAS_FIGURES_H

#include "check.h"

static inline vas_process_counters counters(vas_process *p)
{
    vas_process_counters c;
    memset(&c, 0xEE, sizeof c);
    CHECK(vas_process_get_counters(p, &c));
    return c;
}

static inline vas_paging_status paging(vas_machine *m)
{
    vas_paging_status s;
    vas_get_paging_status(m, &s);
    return s;
}

static inline vas_physical_status physical(vas_machine *m)
{
    vas_physical_status s;
    vas_get_physical_status(m, &s);
    return s;
}

static inline vas_memory_status memory(vas_machine *m)
{
    vas_memory_status s;
    memset(&s, 0, sizeof s);
    CHECK(vas_global_memory_status(m, &s));
    return s;
}

#endif /* VAS_FIGURES_H */
