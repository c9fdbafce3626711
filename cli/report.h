/* report.h - the HTML report: one self-contained page (inline SVG and CSS, no script, no
   network) with each process's address space by kind and partition, the physical frame map and
   the machine's figures. */
#ifndef VAS_CLI_REPORT_H
#define VAS_CLI_REPORT_H

#include "views.h"

/* Writes the report of machine and its processes to path. 0, or an errno value. */
int report_write_html(const char *path, vas_machine *machine, const view_process *processes, size_t count,
                      const char *title);

#endif
