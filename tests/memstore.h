/*
 * memstore.h - a paging file in memory for the tests: vas_backing_ops over a host buffer that
 * fails the Nth read or write (once, or from then on) when told to, and counts what it saw.
 */
#ifndef VAS_MEMSTORE_H
#define VAS_MEMSTORE_H

#include "vas.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

typedef struct mem_store {
    uint8_t *bytes;
    uint64_t size;
    uint64_t reads, writes;             /* calls seen */
    uint64_t fail_read, fail_write;     /* fail the call with this number (1-based), 0: none */
    bool persistent;                    /* ... and every one after it */
    uint64_t read_failures, write_failures;
    uint64_t out_of_range;              /* I/O past the end: a library bug */
    int closed;
} mem_store;

static bool store_fails(uint64_t call, uint64_t at, bool persistent)
{
    return at && (call == at || (persistent && call > at));
}

static int store_read(void *file, uint64_t offset, void *buffer, size_t size)
{
    mem_store *s = file;
    s->reads++;
    if (offset + size > s->size) {
        s->out_of_range++;
        return -1;
    }
    if (store_fails(s->reads, s->fail_read, s->persistent)) {
        s->read_failures++;
        memset(buffer, 0x5A, size); /* a failed read leaves garbage: it must not be used */
        return -1;
    }
    memcpy(buffer, s->bytes + offset, size);
    return 0;
}

static int store_write(void *file, uint64_t offset, const void *buffer, size_t size)
{
    mem_store *s = file;
    s->writes++;
    if (offset + size > s->size) {
        s->out_of_range++;
        return -1;
    }
    if (store_fails(s->writes, s->fail_write, s->persistent)) {
        s->write_failures++;
        memset(s->bytes + offset, 0x5A, size); /* a failed write may leave anything behind */
        return -1;
    }
    memcpy(s->bytes + offset, buffer, size);
    return 0;
}

static void store_close(void *file)
{
    ((mem_store *)file)->closed++;
}

static const vas_backing_ops store_ops = {store_read, store_write, store_close};

#endif
