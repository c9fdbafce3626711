/* report.c - (being written) */
#include "report.h"
int report_write_html(const char *path, vas_machine *machine, const view_process *processes, size_t count,
                      const char *title) { return 38; }
