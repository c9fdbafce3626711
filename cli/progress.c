/* progress.c - (being written) */
#include "progress.h"
void progress_begin(const char *what) {}
void progress_update(const char *format, ...) {}
void progress_end(void) {}
