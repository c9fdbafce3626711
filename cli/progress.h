/* progress.h - a progress line on stderr for work that runs longer than a second, shown only
   when stderr is a terminal, redrawn at most ten times a second and erased at the end. */
#ifndef VAS_CLI_PROGRESS_H
#define VAS_CLI_PROGRESS_H

void progress_begin(const char *what);
/* Cheap to call often: it formats and draws only when a redraw is due. */
void progress_update(const char *format, ...) __attribute__((format(printf, 1, 2)));
void progress_end(void);

#endif
