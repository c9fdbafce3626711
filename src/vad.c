/*
 * vad.c - the allocation tree: a process's virtual address descriptors (VADs).
 *
 * Data structure. Each allocation is a `vad` covering the page-aligned range [start, end). The
 * VADs of a process live in an AVL tree keyed by start, as NT keeps them, with parent links.
 * The free space is described by gaps, one below each allocation: from gap_start, the 64 KB
 * boundary at or above the previous allocation's end (a reservation can only start on such a
 * boundary), up to the allocation's start. Every node keeps the largest gap of its left and of
 * its right subtree, and the tree keeps its lowest and highest allocation, whose outer sides
 * bound the two gaps no allocation owns. The gap summaries let the free-space search skip whole
 * subtrees, so lookup, insert, remove and the search for room are O(log n) at a million live
 * allocations.
 *
 * What it costs at a million nodes. A node's kept values depend only on its subtrees' largest
 * gaps and heights - not on where its subtree begins or ends - so a reservation placed above all
 * others, or removed from there, changes them in a few nodes near the bottom of the tree, not
 * along the whole path. Updating a node reads the node and the child that changed, never the
 * other child (a cold node per level at this size). A remove starts from the node and reaches
 * its neighbours through the parent links rather than descending from the root; an insert above
 * the highest allocation attaches there directly. The fields this reads are the first 64 bytes
 * of a vad, and the heights.
 *
 * Inside an allocation the pages are described by runs (page_run): a sorted array of
 * (first page, protection) pairs, protection 0 meaning reserved. A 128 TB reservation with a
 * few committed ranges costs a few runs, not a byte per page.
 *
 * Invariants (checked by vad_check_tree):
 *   1. In-order, the VADs are sorted by start and do not overlap; start < end, both page aligned.
 *      The tree's lowest and highest are the first and the last of them.
 *   2. Every node's height_left and height_right are its children's heights (0 for none; a
 *      node's height is 1 + the larger), and the two differ by at most 1. Every node's parent
 *      is the node whose child it is (NULL for the root).
 *   3. Every node's gap_start is the 64 KB boundary at or above the previous allocation's end
 *      (its own start for the lowest), and gap_left and gap_right are the largest gap, start -
 *      gap_start, in its left and right subtree (0 for none); the checker recomputes them from
 *      the nodes, not from the values the nodes keep.
 *   4. runs[0].first_page is 0; first_page strictly increases and stays below the page count;
 *      two neighbouring runs never have the same protection.
 *   5. committed_pages equals the pages of the runs whose protection is not 0.
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>

static uint64_t max2(uint64_t a, uint64_t b) { return a > b ? a : b; }

/* The free gap just below v that a reservation could use: from gap_start up to v's start. */
static uint64_t own_gap(const vad *v) { return v->start > v->gap_start ? v->start - v->gap_start : 0; }

/* The largest such gap of any allocation in v's subtree. */
static uint64_t subtree_gap(const vad *v) { return max2(own_gap(v), max2(v->gap_left, v->gap_right)); }

static int height(const vad *v)
{
    return v ? 1 + (v->height_left > v->height_right ? v->height_left : v->height_right) : 0;
}

/* Refreshes what v keeps of its left subtree (largest gap, height), reading v and v->left only;
   returns whether anything changed. */
static bool update_left(vad *v)
{
    const vad *l = v->left;
    uint64_t gap = l ? subtree_gap(l) : 0;
    uint8_t h = (uint8_t)height(l);
    bool changed = gap != v->gap_left || h != v->height_left;
    v->gap_left = gap;
    v->height_left = h;
    return changed;
}

/* The same for the right subtree. */
static bool update_right(vad *v)
{
    const vad *r = v->right;
    uint64_t gap = r ? subtree_gap(r) : 0;
    uint8_t h = (uint8_t)height(r);
    bool changed = gap != v->gap_right || h != v->height_right;
    v->gap_right = gap;
    v->height_right = h;
    return changed;
}

/* Points whatever held `old` - the root pointer, or a child link of parent - at `node`. */
static void relink(vad_tree *t, vad *parent, const vad *old, vad *node)
{
    if (!parent)
        t->root = node;
    else if (parent->left == old)
        parent->left = node;
    else
        parent->right = node;
}

/* The rotations read the nodes they move and the subtree that changes parent, nothing else;
   the caller links the returned node where v was. */
static vad *rotate_right(vad *v)
{
    vad *l = v->left;
    v->left = l->right;
    if (v->left)
        v->left->parent = v;
    update_left(v);
    l->right = v;
    l->parent = v->parent;
    v->parent = l;
    update_right(l);
    return l;
}

static vad *rotate_left(vad *v)
{
    vad *r = v->right;
    v->right = r->left;
    if (v->right)
        v->right->parent = v;
    update_right(v);
    r->left = v;
    r->parent = v->parent;
    v->parent = r;
    update_left(r);
    return r;
}

/* Restores the AVL balance at v, whose kept values are up to date, linking the subtree's new
   root where v was; returns that root. */
static vad *rebalance(vad_tree *t, vad *v)
{
    int balance = v->height_left - v->height_right;
    vad *parent = v->parent, *root;
    if (balance > 1) {
        if (v->left->height_left < v->left->height_right)
            v->left = rotate_left(v->left);
        root = rotate_right(v);
    } else if (balance < -1) {
        if (v->right->height_right < v->right->height_left)
            v->right = rotate_right(v->right);
        root = rotate_left(v);
    } else {
        return v;
    }
    relink(t, parent, v, root);
    return root;
}

/* The subtree under `child` changed (its largest gap, its height or its root): brings the
   ancestors up to date and rebalanced, stopping at the first one whose kept values come out the
   same - that node is as it was, so the nodes above it are right already. */
static void propagate(vad_tree *t, vad *child)
{
    for (vad *p = child->parent; p; p = child->parent) {
        if (!(p->left == child ? update_left(p) : update_right(p)))
            return;
        child = rebalance(t, p);
    }
}

vad *vad_next(const vad *v)
{
    if (v->right) {
        for (v = v->right; v->left; v = v->left)
            ;
        return (vad *)v;
    }
    while (v->parent && v->parent->right == v)
        v = v->parent;
    return v->parent;
}

static vad *predecessor(const vad *v)
{
    if (v->left) {
        for (v = v->left; v->right; v = v->right)
            ;
        return (vad *)v;
    }
    while (v->parent && v->parent->left == v)
        v = v->parent;
    return v->parent;
}

vad *vad_new(uint64_t start, uint64_t end, uint32_t allocation_protect, uint32_t type)
{
    vad *v = calloc(1, sizeof *v);
    if (!v)
        return NULL;
    v->start = start;
    v->end = end;
    v->allocation_protect = allocation_protect;
    v->type = type;
    v->runs = &v->inline_run;
    v->run_count = v->run_capacity = 1;
    return v;
}

void vad_free(vad *v)
{
    if (v && v->runs != &v->inline_run)
        free(v->runs);
    free(v);
}

/* ---- Insert and remove -------------------------------------------------------------------
 * A change is made where it belongs and then propagated up through the parent links, each
 * ancestor re-reading only the child that changed; the walk stops at the first ancestor left as
 * it was. Heights usually stop changing within a level or two, and a gap summary only changes
 * where the largest gap of a subtree does, so an insert or remove usually touches a few nodes
 * above the changed one, not the whole path. An insert above the highest allocation (or below
 * the lowest), the usual place for a new reservation, does not descend at all; a remove starts
 * from the node itself (its successor is found below it or through its parents). */

void vad_insert(vad_tree *t, vad *v)
{
    vad *parent = NULL, *prev = NULL, *next = NULL;
    bool left = false;
    if (t->highest && v->start > t->highest->start) {
        parent = prev = t->highest;
    } else if (t->lowest && v->start < t->lowest->start) {
        parent = next = t->lowest;
        left = true;
    } else {
        for (vad *n = t->root; n; n = left ? n->left : n->right) {
            parent = n;
            left = v->start < n->start;
            if (left)
                next = n;
            else
                prev = n;
        }
    }
    v->left = v->right = NULL;
    v->parent = parent;
    v->gap_left = v->gap_right = 0;
    v->height_left = v->height_right = 0;
    v->gap_start = prev ? align_up(prev->end, GRANULARITY) : v->start;
    if (!prev)
        t->lowest = v;
    if (!next)
        t->highest = v;
    if (!parent)
        t->root = v;
    else if (left)
        parent->left = v;
    else
        parent->right = v;
    propagate(t, v);
    if (next) { /* the gap below the next allocation now ends at v */
        next->gap_start = align_up(v->end, GRANULARITY);
        propagate(t, next);
    }
    t->count++;
    t->hint = v;
}

void vad_remove(vad_tree *t, vad *v)
{
    vad *next = v == t->highest ? NULL : vad_next(v), *parent = v->parent;
    /* The gap below the next allocation grows down over v to where v's own gap began. */
    if (next)
        next->gap_start = v == t->lowest ? next->start : v->gap_start;
    if (v == t->lowest)
        t->lowest = next;
    if (v == t->highest)
        t->highest = predecessor(v);
    if (!v->left || !v->right) {
        vad *child = v->left ? v->left : v->right;
        bool was_left = parent && parent->left == v;
        if (child)
            child->parent = parent;
        relink(t, parent, v, child);
        if (parent && (was_left ? update_left(parent) : update_right(parent)))
            propagate(t, rebalance(t, parent));
    } else {
        /* next, the leftmost node of v's right subtree, takes v's place and v's kept values. */
        vad *next_parent = next->parent;
        if (next_parent != v) {
            next_parent->left = next->right;
            if (next->right)
                next->right->parent = next_parent;
            next->right = v->right;
            next->right->parent = next;
            next->gap_right = v->gap_right;
            next->height_right = v->height_right;
        }
        next->left = v->left;
        next->left->parent = next;
        next->gap_left = v->gap_left;
        next->height_left = v->height_left;
        next->parent = parent;
        relink(t, parent, v, next);
        if (next_parent != v) {
            if (update_left(next_parent))
                propagate(t, rebalance(t, next_parent));
        } else {
            propagate(t, rebalance(t, next)); /* its right subtree is one level lower than v's */
        }
    }
    if (next) /* its own gap grew: its ancestors may not know yet */
        propagate(t, next);
    t->count--;
    if (t->hint == v)
        t->hint = NULL;
    v->left = v->right = v->parent = NULL;
}

vad *vad_find(const vad_tree *t, uint64_t address)
{
    vad *n = t->hint;
    if (n && address >= n->start && address < n->end)
        return n;
    n = t->root;
    while (n) {
        if (address < n->start)
            n = n->left;
        else if (address >= n->end)
            n = n->right;
        else
            return n;
    }
    return NULL;
}

vad *vad_find_or_next(const vad_tree *t, uint64_t address)
{
    if (!t->highest || address >= t->highest->end)
        return NULL; /* above every allocation */
    vad *n = t->root, *next = NULL;
    while (n) {
        if (address < n->start) {
            next = n;
            n = n->left;
        } else if (address >= n->end) {
            n = n->right;
        } else {
            return n;
        }
    }
    return next;
}

vad *vad_first_ending_after(const vad_tree *t, uint64_t address)
{
    if (!t->highest || t->highest->end <= address)
        return NULL; /* above every allocation, as a new reservation usually is: no descent */
    vad *n = t->root, *best = NULL;
    while (n) {
        if (n->end > address) {
            best = n;
            n = n->left;
        } else {
            n = n->right;
        }
    }
    return best;
}

vad *vad_last_starting_before(const vad_tree *t, uint64_t address)
{
    if (!t->highest || t->highest->start < address)
        return t->highest;
    vad *n = t->root, *best = NULL;
    while (n) {
        if (n->start < address) {
            best = n;
            n = n->right;
        } else {
            n = n->left;
        }
    }
    return best;
}

bool vad_overlaps(const vad_tree *t, uint64_t start, uint64_t end)
{
    vad *v = vad_first_ending_after(t, start);
    return v && v->start < end;
}

/* ---- Free-space search -----------------------------------------------------------------
 * The lowest fit: walk the gaps below the allocations in address order, skipping any subtree
 * whose largest gap is smaller than `size` (an aligned fit can only be smaller than the gap) and
 * any part of the tree that lies wholly outside [low, high). The gap below the lowest allocation
 * and the one above the highest are tried by vad_find_free itself. Gaps are measured from a
 * 64 KB boundary, so `alignment` must be a multiple of 64 KB (a reservation's always is); then
 * aligning from gap_start or from the previous allocation's end gives the same base. */
typedef struct search {
    uint64_t size, alignment, low, high;
    uint64_t base;
} search;

static bool fits(search *s, uint64_t gap_start, uint64_t gap_end)
{
    if (gap_start < s->low)
        gap_start = s->low;
    if (gap_end > s->high)
        gap_end = s->high;
    if (gap_start >= gap_end)
        return false;
    uint64_t base = align_up(gap_start, s->alignment);
    if (base < gap_start || base >= gap_end || gap_end - base < s->size)
        return false;
    s->base = base;
    return true;
}

static bool fits_top(search *s, uint64_t gap_start, uint64_t gap_end)
{
    if (gap_start < s->low)
        gap_start = s->low;
    if (gap_end > s->high)
        gap_end = s->high;
    if (gap_start >= gap_end || gap_end - gap_start < s->size)
        return false;
    uint64_t base = align_down(gap_end - s->size, s->alignment);
    if (base < gap_start)
        return false;
    s->base = base;
    return true;
}

static bool find_low(const vad *n, search *s)
{
    if (!n || subtree_gap(n) < s->size)
        return false;
    if (n->start > s->low) { /* else n's gap and everything left of it end at or below low */
        if (n->gap_left >= s->size && find_low(n->left, s))
            return true;
        if (own_gap(n) >= s->size && fits(s, n->gap_start, n->start))
            return true;
    }
    if (n->end >= s->high)
        return false; /* the gaps right of n begin at or above its end */
    return n->gap_right >= s->size && find_low(n->right, s);
}

static bool find_high(const vad *n, search *s)
{
    if (!n || subtree_gap(n) < s->size)
        return false;
    if (n->end < s->high && n->gap_right >= s->size && find_high(n->right, s))
        return true;
    if (own_gap(n) >= s->size && fits_top(s, n->gap_start, n->start))
        return true;
    if (n->start <= s->low)
        return false; /* the gaps left of n end below its start */
    return n->gap_left >= s->size && find_high(n->left, s);
}

bool vad_find_free(const vad_tree *t, uint64_t size, uint64_t alignment, uint64_t low,
                   uint64_t high, bool top_down, uint64_t *base)
{
    search s = {size, alignment, low, high, 0};
    if (size == 0 || low >= high || high - low < size)
        return false;
    bool found;
    if (!t->root)
        found = top_down ? fits_top(&s, low, high) : fits(&s, low, high);
    else if (top_down)
        found = fits_top(&s, t->highest->end, high) || find_high(t->root, &s) ||
                fits_top(&s, low, t->lowest->start);
    else
        found = fits(&s, low, t->lowest->start) || find_low(t->root, &s) ||
                fits(&s, t->highest->end, high);
    if (found)
        *base = s.base;
    return found;
}

static void destroy_subtree(vad *n)
{
    while (n) {
        destroy_subtree(n->left);
        vad *r = n->right;
        vad_free(n);
        n = r;
    }
}

void vad_destroy_all(vad_tree *t)
{
    destroy_subtree(t->root);
    t->root = t->lowest = t->highest = t->hint = NULL;
    t->count = 0;
}

static void visit_subtree(vad *n, vad_visit_fn visit, void *context)
{
    while (n) {
        visit_subtree(n->left, visit, context);
        vad *r = n->right; /* visit may not change the tree, but read it first anyway */
        visit(n, context);
        n = r;
    }
}

void vad_for_each(const vad_tree *t, vad_visit_fn visit, void *context)
{
    visit_subtree(t->root, visit, context);
}

/* ---- Page runs ------------------------------------------------------------------------- */

uint32_t vad_run_index(const vad *v, uint64_t page)
{
    uint32_t lo = 0, hi = v->run_count; /* answer in [lo, hi) */
    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (v->runs[mid].first_page <= page)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

uint64_t vad_run_end(const vad *v, uint64_t page_shift, uint32_t index)
{
    return index + 1 < v->run_count ? v->runs[index + 1].first_page
                                    : (v->end - v->start) >> page_shift;
}

uint64_t vad_count_committed(const vad *v, uint64_t page_shift, uint64_t first, uint64_t count)
{
    uint64_t total = 0, last = first + count;
    for (uint32_t i = vad_run_index(v, first); i < v->run_count && v->runs[i].first_page < last; i++) {
        if (!v->runs[i].protect)
            continue;
        uint64_t a = v->runs[i].first_page > first ? v->runs[i].first_page : first;
        uint64_t b = vad_run_end(v, page_shift, i);
        if (b > last)
            b = last;
        total += b - a;
    }
    return total;
}

static bool reserve_runs(vad *v, uint32_t needed)
{
    if (needed <= v->run_capacity)
        return true;
    uint32_t capacity = v->run_capacity * 2 > needed ? v->run_capacity * 2 : needed;
    page_run *runs = malloc(capacity * sizeof *runs);
    if (!runs)
        return false;
    memcpy(runs, v->runs, v->run_count * sizeof *runs);
    if (v->runs != &v->inline_run)
        free(v->runs);
    v->runs = runs;
    v->run_capacity = capacity;
    return true;
}

bool vad_set_pages(vad *v, uint64_t page_shift, uint64_t first, uint64_t count, uint32_t protect)
{
    uint64_t last = first + count, pages = (v->end - v->start) >> page_shift;
    if (first == 0 && count == pages) {
        /* The whole allocation (the usual commit or decommit): one run, no room to reserve. */
        v->runs[0] = (page_run){0, protect};
        v->run_count = 1;
        v->committed_pages = protect ? pages : 0;
        return true;
    }
    /* The new runs: [keep runs before first] [head of the run holding first] [new run]
       [tail of the run holding last-1] [keep runs after]; then merge equal neighbours. */
    uint32_t i = vad_run_index(v, first);
    uint32_t j = last < pages ? vad_run_index(v, last) : v->run_count; /* run holding `last` */
    /* At most two runs are added (a split on each side); reserve before changing anything. */
    if (!reserve_runs(v, v->run_count + 2))
        return false;
    uint32_t tail_protect = last < pages ? v->runs[j].protect : 0;
    page_run built[3];
    uint32_t nbuilt = 0;
    if (v->runs[i].first_page < first)
        built[nbuilt++] = (page_run){v->runs[i].first_page, v->runs[i].protect};
    built[nbuilt++] = (page_run){first, protect};
    if (last < pages)
        built[nbuilt++] = (page_run){last, tail_protect};
    /* Replace runs [i, j_end) where j_end is one past the run holding last (or run_count). */
    uint32_t j_end = last < pages ? j + 1 : v->run_count;
    uint32_t after = v->run_count - j_end;
    memmove(&v->runs[i + nbuilt], &v->runs[j_end], after * sizeof *v->runs);
    memcpy(&v->runs[i], built, nbuilt * sizeof *built);
    v->run_count = i + nbuilt + after;
    /* Merge equal neighbours around the change: at most positions i-1 .. i+nbuilt. */
    uint32_t from = i > 0 ? i - 1 : 0, to = i + nbuilt + 1;
    if (to > v->run_count)
        to = v->run_count;
    uint32_t w = from + 1;
    for (uint32_t r = from + 1; r < v->run_count; r++) {
        if (r < to && v->runs[r].protect == v->runs[w - 1].protect)
            continue;
        v->runs[w++] = v->runs[r];
    }
    v->run_count = w;
    v->committed_pages = vad_count_committed(v, page_shift, 0, pages);
    return true;
}

vad *vad_new_tail(const vad *v)
{
    vad *tail = vad_new(v->start, v->end, v->allocation_protect, v->type);
    if (tail && !reserve_runs(tail, v->run_count)) {
        vad_free(tail);
        return NULL;
    }
    return tail;
}

bool vad_reserve_runs(vad *v, uint32_t runs) { return reserve_runs(v, runs); }

void vad_split(vad *v, uint64_t page_shift, uint64_t at, vad *tail)
{
    uint32_t i = vad_run_index(v, at);
    uint32_t n = v->run_count - i;
    tail->start = v->start + (at << page_shift); /* vad_insert sets the summaries */
    tail->end = v->end;
    tail->flags = v->flags;
    for (uint32_t k = 0; k < n; k++)
        tail->runs[k] = (page_run){k == 0 ? 0 : v->runs[i + k].first_page - at, v->runs[i + k].protect};
    tail->run_count = n;
    tail->committed_pages = vad_count_committed(tail, page_shift, 0, (tail->end - tail->start) >> page_shift);
    v->end = tail->start;
    v->run_count = v->runs[i].first_page < at ? i + 1 : i;
    v->committed_pages -= tail->committed_pages;
}

/* ---- Invariant checking ---------------------------------------------------------------- */

typedef struct check_state {
    uint64_t page_shift, low, high;
    const vad *first, *previous;
    uint64_t count;
    int errors;
} check_state;

static void report(check_state *c, const vad *v, const char *what)
{
    fprintf(stderr, "vas: invariant failed: %s (vad [%#llx, %#llx))\n", what,
            (unsigned long long)v->start, (unsigned long long)v->end);
    c->errors++;
}

static void check_runs(check_state *c, const vad *v)
{
    uint64_t pages = (v->end - v->start) >> c->page_shift, committed = 0;
    if (v->run_count == 0 || v->run_count > v->run_capacity || v->runs[0].first_page != 0) {
        report(c, v, "4: runs must start at page 0");
        return;
    }
    for (uint32_t i = 0; i < v->run_count; i++) {
        uint64_t end = vad_run_end(v, c->page_shift, i);
        if (v->runs[i].first_page >= end)
            report(c, v, "4: runs must increase and end inside the allocation");
        if (i > 0 && v->runs[i].protect == v->runs[i - 1].protect)
            report(c, v, "4: neighbouring runs must differ");
        if (v->runs[i].protect)
            committed += end - v->runs[i].first_page;
    }
    if (v->runs[v->run_count - 1].first_page >= pages)
        report(c, v, "4: the last run must start inside the allocation");
    if (committed != v->committed_pages)
        report(c, v, "5: committed_pages must match the runs");
}

/* What a subtree's kept values must be, computed from the subtree itself, never from the values
   its nodes keep. */
typedef struct subtree_truth {
    int height;
    uint64_t gap;
} subtree_truth;

static subtree_truth check_node(check_state *c, const vad *v, const vad *parent)
{
    if (!v)
        return (subtree_truth){0, 0};
    if (v->parent != parent)
        report(c, v, "2: every node must link back to its parent");
    subtree_truth l = check_node(c, v->left, v);
    if (v->start >= v->end || (v->start | v->end) & ((1ull << c->page_shift) - 1))
        report(c, v, "1: a range must be non-empty and page aligned");
    if (v->start < c->low || v->end > c->high)
        report(c, v, "1: an allocation must lie in user space");
    if (c->previous && c->previous->end > v->start)
        report(c, v, "1: allocations must be sorted and disjoint");
    uint64_t gap_start = c->previous ? align_up(c->previous->end, GRANULARITY) : v->start;
    if (v->gap_start != gap_start)
        report(c, v, "3: gap_start must be the 64 KB boundary at or above the previous end");
    if (!c->first)
        c->first = v;
    c->previous = v;
    c->count++;
    check_runs(c, v);
    subtree_truth r = check_node(c, v->right, v);
    if (v->height_left != l.height || v->height_right != r.height || l.height - r.height > 1 ||
        r.height - l.height > 1)
        report(c, v, "2: the tree must be an AVL tree, each node knowing its children's heights");
    if (v->gap_left != l.gap || v->gap_right != r.gap)
        report(c, v, "3: gap_left and gap_right must be the subtrees' largest gaps");
    uint64_t own = v->start > gap_start ? v->start - gap_start : 0;
    return (subtree_truth){1 + (l.height > r.height ? l.height : r.height), max2(own, max2(l.gap, r.gap))};
}

int vad_check_tree(const vad_tree *t, uint64_t page_shift, uint64_t low, uint64_t high)
{
    check_state c = {page_shift, low, high, NULL, NULL, 0, 0};
    check_node(&c, t->root, NULL);
    if (c.count != t->count) {
        fprintf(stderr, "vas: invariant failed: tree holds %llu allocations, count says %llu\n",
                (unsigned long long)c.count, (unsigned long long)t->count);
        c.errors++;
    }
    if (t->lowest != c.first || t->highest != c.previous) {
        fprintf(stderr, "vas: invariant failed: 1: lowest and highest must be the first and the "
                        "last allocation\n");
        c.errors++;
    }
    return c.errors;
}
