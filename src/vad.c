/*
 * vad.c - the allocation tree: a process's virtual address descriptors (VADs).
 *
 * Data structure. Each allocation is a `vad` covering the page-aligned range [start, end). The
 * VADs of a process live in an AVL tree keyed by start, as NT keeps them. Every node also
 * summarises its subtree: the lowest start, the highest end, and the largest free gap between
 * two neighbours inside the subtree, measured from the 64 KB boundary at or above the lower
 * neighbour's end (a reservation can only start on such a boundary). The summaries let the
 * free-space search skip whole subtrees, so lookup, insert, remove and the search for room are
 * O(log n) at a million live allocations.
 *
 * Cost at a million nodes is cache misses, so a node keeps what it needs of its children: their
 * heights, and each child's largest gap already combined with the gap between that child's
 * subtree and the node (gap_left, gap_right; the subtree's largest gap is the larger of the two).
 * After an insert or a remove changed one child, re-summarising the node reads the node and that
 * child - both on the path just walked - and never the other child, which would be one more cold
 * node per level. The fields all this reads are the first 64 bytes of a vad.
 *
 * Inside an allocation the pages are described by runs (page_run): a sorted array of
 * (first page, protection) pairs, protection 0 meaning reserved. A 128 TB reservation with a
 * few committed ranges costs a few runs, not a byte per page.
 *
 * Invariants (checked by vad_check_tree):
 *   1. In-order, the VADs are sorted by start and do not overlap; start < end, both page aligned.
 *   2. Every node's height_left and height_right are its children's heights (0 for none; a
 *      node's height is 1 + the larger), and the two differ by at most 1.
 *   3. Every node's summaries (subtree_start, subtree_end, gap_left, gap_right) equal what its
 *      own range and its subtrees give; the checker recomputes them from the subtrees' nodes,
 *      not from the values those nodes keep.
 *   4. runs[0].first_page is 0; first_page strictly increases and stays below the page count;
 *      two neighbouring runs never have the same protection.
 *   5. committed_pages equals the pages of the runs whose protection is not 0.
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>

/* The 64 KB-aligned room between an allocation ending at lower_end and one starting at upper_start. */
static uint64_t usable_gap(uint64_t lower_end, uint64_t upper_start)
{
    uint64_t from = align_up(lower_end, GRANULARITY);
    return upper_start > from ? upper_start - from : 0;
}

static uint64_t max2(uint64_t a, uint64_t b) { return a > b ? a : b; }
static int height(const vad *v) { return v ? 1 + (v->height_left > v->height_right ? v->height_left : v->height_right) : 0; }
static uint64_t subtree_gap(const vad *v) { return max2(v->gap_left, v->gap_right); }

/* Refreshes what v keeps of its left child's summaries: reads v and v->left only. */
static void update_left(vad *v)
{
    const vad *l = v->left;
    v->subtree_start = l ? l->subtree_start : v->start;
    v->gap_left = l ? max2(subtree_gap(l), usable_gap(l->subtree_end, v->start)) : 0;
    v->height_left = (uint8_t)height(l);
}

/* Refreshes what v keeps of its right child's summaries: reads v and v->right only. */
static void update_right(vad *v)
{
    const vad *r = v->right;
    v->subtree_end = r ? r->subtree_end : v->end;
    v->gap_right = r ? max2(subtree_gap(r), usable_gap(v->end, r->subtree_start)) : 0;
    v->height_right = (uint8_t)height(r);
}

/* The rotations read the nodes they move and the subtree that changes parent, nothing else. */
static vad *rotate_right(vad *v)
{
    vad *l = v->left;
    v->left = l->right;
    update_left(v);
    l->right = v;
    update_right(l);
    return l;
}

static vad *rotate_left(vad *v)
{
    vad *r = v->right;
    v->right = r->left;
    update_right(v);
    r->left = v;
    update_left(r);
    return r;
}

/* Restores the AVL balance at v, whose summaries are up to date; returns the subtree's root. */
static vad *rebalance(vad *v)
{
    int balance = v->height_left - v->height_right;
    if (balance > 1) {
        if (v->left->height_left < v->left->height_right)
            v->left = rotate_left(v->left);
        return rotate_right(v);
    }
    if (balance < -1) {
        if (v->right->height_right < v->right->height_left)
            v->right = rotate_right(v->right);
        return rotate_left(v);
    }
    return v;
}

/* ---- Insert and remove ---------------------------------------------------------------
 * Both walk down once, recording the links they pass (the root pointer or a parent's left or
 * right), then walk back up that path: each node re-reads the one child that changed, is
 * rebalanced, and the walk stops at the first subtree whose summary is what its parent already
 * holds. An AVL tree of 2^64 nodes is below 94 levels high; a process cannot hold 2^57 vads. */
#define VAD_MAX_DEPTH 96

/* What a parent keeps of a subtree: a subtree whose summary did not change leaves its
   ancestors as they are. */
typedef struct summary {
    uint64_t start, end, gap;
    int height;
} summary;

static summary summary_of(const vad *v)
{
    return (summary){v->subtree_start, v->subtree_end, subtree_gap(v), height(v)};
}

static bool same_summary(summary a, summary b)
{
    return a.start == b.start && a.end == b.end && a.gap == b.gap && a.height == b.height;
}

/* Walks back up path[0 .. depth): path[i] is the link holding the node at depth i, and `below`
   the link under path[depth - 1] whose subtree changed. `replaced` (or NULL) is the link whose
   node took a removed node's place: its two children are both re-read, and the walk may not
   stop below it. */
static void retrace(vad **path[], int depth, vad **below, vad **replaced)
{
    bool may_stop = !replaced;
    while (depth-- > 0) {
        vad **link = path[depth], *n = *link;
        summary before = summary_of(n);
        if (link == replaced) {
            update_left(n);
            update_right(n);
            may_stop = true;
        } else if (below == &n->left) {
            update_left(n);
        } else {
            update_right(n);
        }
        *link = rebalance(n);
        if (may_stop && same_summary(before, summary_of(*link)))
            return;
        below = link;
    }
}

vad *vad_new(uint64_t start, uint64_t end, uint32_t allocation_protect, uint32_t type)
{
    vad *v = calloc(1, sizeof *v);
    if (!v)
        return NULL;
    v->start = v->subtree_start = start;
    v->end = v->subtree_end = end;
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

void vad_insert(vad_tree *t, vad *v)
{
    vad **path[VAD_MAX_DEPTH], **link = &t->root;
    int depth = 0;
    while (*link) {
        path[depth++] = link;
        link = v->start < (*link)->start ? &(*link)->left : &(*link)->right;
    }
    v->left = v->right = NULL;
    update_left(v);
    update_right(v);
    *link = v;
    retrace(path, depth, link, NULL);
    t->count++;
    t->hint = v;
}

void vad_remove(vad_tree *t, vad *v)
{
    vad **path[VAD_MAX_DEPTH], **link = &t->root;
    int depth = 0;
    while (*link != v) {
        path[depth++] = link;
        link = v->start < (*link)->start ? &(*link)->left : &(*link)->right;
    }
    if (!v->right) {
        *link = v->left; /* the left subtree moves up unchanged */
        retrace(path, depth, link, NULL);
    } else {
        /* The successor, the leftmost node of the right subtree, takes v's place. */
        int at = depth;
        path[depth++] = link;
        vad **s = &v->right;
        while ((*s)->left) {
            path[depth++] = s;
            s = &(*s)->left;
        }
        vad *successor = *s;
        *s = successor->right;
        /* It takes v's children and v's summaries, which are what v's parent holds. */
        successor->left = v->left;
        successor->right = v->right;
        successor->subtree_start = v->subtree_start;
        successor->subtree_end = v->subtree_end;
        successor->gap_left = v->gap_left;
        successor->gap_right = v->gap_right;
        successor->height_left = v->height_left;
        successor->height_right = v->height_right;
        *link = successor;
        /* Links into v on the path are now links into the successor. */
        if (depth > at + 1)
            path[at + 1] = &successor->right;
        if (s == &v->right)
            s = &successor->right;
        retrace(path, depth, s, link);
    }
    t->count--;
    if (t->hint == v)
        t->hint = NULL;
    v->left = v->right = NULL;
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
 * The lowest fit: walk in address order, skipping any subtree whose summaries show no gap of
 * `size` (the aligned fit can only be smaller than the summary, so skipping is safe). `below`
 * is the end of the allocation just before this subtree (or the window's low bound). */
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

static bool find_low(const vad *n, uint64_t below, search *s)
{
    if (!n || below >= s->high)
        return false;
    if (n->subtree_end <= s->low)
        return false; /* the whole subtree lies below the window */
    if (subtree_gap(n) < s->size && usable_gap(below, n->subtree_start) < s->size)
        return false;
    if (find_low(n->left, below, s))
        return true;
    if (fits(s, n->left ? n->left->subtree_end : below, n->start))
        return true;
    return find_low(n->right, n->end, s);
}

static bool find_high(const vad *n, uint64_t above, search *s)
{
    if (!n || above <= s->low)
        return false;
    if (n->subtree_start >= s->high)
        return false; /* the whole subtree lies above the window */
    if (subtree_gap(n) < s->size && usable_gap(n->subtree_end, above) < s->size)
        return false;
    if (find_high(n->right, above, s))
        return true;
    if (fits_top(s, n->end, n->right ? n->right->subtree_start : above))
        return true;
    return find_high(n->left, n->start, s);
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
        found = find_high(t->root, high, &s) || fits_top(&s, low, t->root->subtree_start);
    else
        found = find_low(t->root, low, &s) || fits(&s, t->root->subtree_end, high);
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
    t->root = NULL;
    t->count = 0;
    t->hint = NULL;
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
    const vad *previous;
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

/* What a subtree's summaries must be, computed from the subtree itself, never from the values
   its nodes keep. */
typedef struct subtree_truth {
    int height;
    uint64_t start, end, gap;
} subtree_truth;

static subtree_truth check_node(check_state *c, const vad *v)
{
    if (!v)
        return (subtree_truth){0, 0, 0, 0};
    subtree_truth l = check_node(c, v->left);
    if (v->start >= v->end || (v->start | v->end) & ((1ull << c->page_shift) - 1))
        report(c, v, "1: a range must be non-empty and page aligned");
    if (v->start < c->low || v->end > c->high)
        report(c, v, "1: an allocation must lie in user space");
    if (c->previous && c->previous->end > v->start)
        report(c, v, "1: allocations must be sorted and disjoint");
    c->previous = v;
    c->count++;
    check_runs(c, v);
    subtree_truth r = check_node(c, v->right);
    if (v->height_left != l.height || v->height_right != r.height || l.height - r.height > 1 ||
        r.height - l.height > 1)
        report(c, v, "2: the tree must be an AVL tree, each node knowing its children's heights");
    subtree_truth t = {1 + (l.height > r.height ? l.height : r.height),
                       v->left ? l.start : v->start, v->right ? r.end : v->end, 0};
    uint64_t gap_left = v->left ? max2(l.gap, usable_gap(l.end, v->start)) : 0;
    uint64_t gap_right = v->right ? max2(r.gap, usable_gap(v->end, r.start)) : 0;
    t.gap = max2(gap_left, gap_right);
    if (v->subtree_start != t.start || v->subtree_end != t.end || v->gap_left != gap_left ||
        v->gap_right != gap_right)
        report(c, v, "3: subtree summaries must match the children");
    return t;
}

int vad_check_tree(const vad_tree *t, uint64_t page_shift, uint64_t low, uint64_t high)
{
    check_state c = {page_shift, low, high, NULL, 0, 0};
    check_node(&c, t->root);
    if (c.count != t->count) {
        fprintf(stderr, "vas: invariant failed: tree holds %llu allocations, count says %llu\n",
                (unsigned long long)c.count, (unsigned long long)t->count);
        c.errors++;
    }
    return c.errors;
}
