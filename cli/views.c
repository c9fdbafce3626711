/* views.c - (being written) */
#include "views.h"
void view_map(vas_process *process, const view_options *options) {}
void view_frag(vas_process *process, const view_options *options) {}
void view_physical(vas_machine *machine, const view_process *processes, size_t count, const view_options *options) {}
void view_stats(vas_machine *machine, vas_process *process, const view_options *options) {}
void view_query(vas_process *process, uint64_t address, const view_options *options) {}
