/*
 * progress.c - one progress line on stderr for work that runs longer than a second.
 *
 * State: the time progress_begin was called, the time of the last redraw, and whether a line is
 * on the screen. Invariants: nothing is ever drawn unless stderr is a terminal, so redirected
 * output and the tests' golden files never see a progress line; the first line appears one
 * second after progress_begin and later ones at least 100 ms apart; progress_end leaves the
 * cursor at the start of an empty line exactly when a line was drawn. stdout is never touched.
 */
#include "progress.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#define FIRST_DRAW_NS 1000000000ll /* quick work shows no line at all */
#define REDRAW_NS 100000000ll      /* ten redraws a second are enough for a human */

static struct {
    const char *what;
    bool terminal;      /* stderr is a terminal: otherwise progress_update returns at once */
    bool drawn;         /* a line is on the screen and progress_end must erase it */
    int64_t start_ns, last_ns;
} progress;

static int64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000ll + t.tv_nsec;
}

void progress_begin(const char *what)
{
    progress.what = what;
    progress.terminal = isatty(STDERR_FILENO);
    progress.drawn = false;
    progress.start_ns = progress.last_ns = now_ns();
}

void progress_update(const char *format, ...)
{
    if (!progress.terminal)
        return;
    /* clock_gettime(CLOCK_MONOTONIC) is a vDSO call of a few tens of nanoseconds: cheap
       enough to ask every time rather than count calls. */
    int64_t now = now_ns();
    if (now - progress.start_ns < FIRST_DRAW_NS || (progress.drawn && now - progress.last_ns < REDRAW_NS))
        return;
    char text[160];
    va_list args;
    va_start(args, format);
    vsnprintf(text, sizeof text, format, args);
    va_end(args);
    /* "\033[K" clears what a longer previous line left to the right. */
    fprintf(stderr, "\r%s: %s\033[K", progress.what ? progress.what : "working", text);
    fflush(stderr);
    progress.drawn = true;
    progress.last_ns = now;
}

void progress_end(void)
{
    if (progress.drawn) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
    }
    progress.drawn = false;
    progress.terminal = false;
}
