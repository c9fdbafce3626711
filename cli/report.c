/*
 * report.c - `vas report --html`: one self-contained HTML page of a machine. From top to
 * bottom it shows the machine's figures (layout, memory status, physical lists, paging, pools),
 * then for each process two bars and two tables, then the physical frame map, then every
 * process's counters side by side.
 *
 *   - The partition bar draws a process's whole address space, from the NULL-pointer partition
 *     to the top of kernel space. Widths in proportion to size would leave all but one or two
 *     partitions invisible on x64, so each partition's width is in proportion to log2 of its
 *     size: every doubling adds the same width.
 *   - The kind bar draws user space as VMMap's blocks (process_map, views.h) in address order,
 *     coloured by kind_rgb(). A block is MIN_BLOCK_PX wide plus a fixed width for each doubling
 *     of its size over one page, so a 4 KB allocation stays visible next to a 128 TB free
 *     range. That width is the one that fills one row, but never less than MIN_PX_PER_DOUBLING
 *     nor more than MAX_PX_PER_DOUBLING: past one row the bar wraps like text, a block never
 *     straddling two rows, and each row is labelled with the address of its first block.
 *   - The frame map is a grid of one cell per physical frame, or, past FRAME_CELLS_MAX frames,
 *     one cell per N frames: such a cell shows the category most of its frames have, the
 *     zeroed and free lists counting only when nothing else is there. Runs of one colour in a
 *     row are one rectangle, which keeps the file small.
 *
 * Rules the page keeps:
 *   (R1) self-contained: inline CSS and SVG, no script, no URL but SVG's namespace name, so it
 *        opens offline and looks the same everywhere;
 *   (R2) deterministic: no time, no host pointer, no floating point, no locale: the same
 *        machine gives the same bytes, so a golden file can pin a report;
 *   (R3) every string that comes from outside (title, labels, names, details) goes through
 *        put_text(), which escapes it for element content and quoted attributes alike.
 * A failure leaves no partial page behind: report_write_html() removes the file it was writing
 * (when it is a regular file, not a device such as /dev/stdout).
 */
#include "report.h"
#include "print.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define COUNT_OF(array) (sizeof(array) / sizeof(array)[0])

enum {
    BAR_PX = 1200,            /* the width of the two bars */
    PARTITION_BAR_PX = 46,    /* the partition bar's height */
    MIN_BLOCK_PX = 4,         /* a one-page block in the kind bar (1 px of it is the gap) */
    MIN_PX_PER_DOUBLING = 3, MAX_PX_PER_DOUBLING = 24, /* what each doubling of a block adds */
    KIND_ROW_PX = 18, KIND_ROW_PITCH_PX = 22,
    CELL_PX = 8, CELLS_PER_ROW = 128, FRAME_GUTTER_PX = 70, FRAME_LABEL_EVERY = 16,
    FRAME_CELLS_MAX = 16384,  /* past this many frames, a cell stands for several */
    FRAME_CHUNK = 4096        /* frames read per vas_get_frame_info call */
};

/* ---- Text ---------------------------------------------------------------------------------- */

/* (R3) s as HTML text, fit for element content and quoted attribute values. Control characters
   become U+FFFD: HTML text may not hold them. */
static void put_text(FILE *out, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        switch (c) {
        case '&': fputs("&amp;", out); break;
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '"': fputs("&quot;", out); break;
        case '\'': fputs("&#39;", out); break;
        default:
            if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7F)
                fputs("&#xFFFD;", out);
            else
                putc(c, out);
        }
    }
}

/* "65,536". */
static label count_label(uint64_t n)
{
    char digits[24];
    int length = snprintf(digits, sizeof digits, "%" PRIu64, n);
    label l;
    size_t at = 0;
    for (int i = 0; i < length; i++) {
        if (i > 0 && (length - i) % 3 == 0)
            l.s[at++] = ',';
        l.s[at++] = digits[i];
    }
    l.s[at] = '\0';
    return l;
}

/* Room for two labels and some words. */
typedef struct phrase {
    char s[2 * sizeof(label) + 16];
} phrase;

/* The size of [first, last]; the range of every address is 2^64, which size_label cannot take. */
static label range_size_label(uint64_t first, uint64_t last)
{
    uint64_t size = last - first + 1;
    label l = size_label(size);
    if (size == 0)
        snprintf(l.s, sizeof l.s, "16 EB");
    return l;
}

static phrase range_label(uint64_t first, uint64_t last, int bits)
{
    phrase p;
    snprintf(p.s, sizeof p.s, "%s - %s", address_label(first, bits).s, address_label(last, bits).s);
    return p;
}

static label protect_label(uint32_t protect)
{
    label l;
    if (protect)
        vas_protect_name(protect, l.s, sizeof l.s);
    else
        snprintf(l.s, sizeof l.s, "-");
    return l;
}

/* A process as the page names it: the script's label, then the process's own name. */
static void put_process_name(FILE *out, const view_process *p)
{
    if (p->label && *p->label) {
        put_text(out, p->label);
        fputs(" &middot; ", out);
    }
    put_text(out, vas_process_name(p->process));
}

/* The colour sample that makes a table row its own legend entry. */
static void swatch(FILE *out, const char *colour)
{
    fprintf(out, "<span class=\"sw\" style=\"background:%s\"></span>", colour);
}

/* A kind's sample, shorter: the style sheet has a class per kind (write_head). */
static void kind_swatch(FILE *out, map_kind kind)
{
    fprintf(out, "<span class=\"sw k%d\"></span>", (int)kind);
}

/* An SVG of width x height px, drawn one unit a pixel (the style sheet shrinks it on a narrow
   window). The namespace name is the page's only URL, and nothing fetches it. */
static void svg_begin(FILE *out, uint64_t width, uint64_t height)
{
    fprintf(out, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%" PRIu64 "\" height=\"%" PRIu64 "\" "
                 "viewBox=\"0 0 %" PRIu64 " %" PRIu64 "\">\n", width, height, width, height);
}

/* ---- Scales -------------------------------------------------------------------------------- */

/* log2(x) in 1/256ths for x >= 1; x == 0 stands for 2^64 (the size of a range that wraps). The
   integer part is the highest set bit. Squaring the mantissa doubles its logarithm, so whether
   the square reaches 2 gives the next bit of the fraction. Integers only (R2). */
static unsigned log2_256(uint64_t x)
{
    if (x == 0)
        return 64u << 8;
    unsigned e = 63u - (unsigned)__builtin_clzll(x);
    uint64_t m = e > 31 ? x >> (e - 31) : x << (31 - e); /* 1.31 fixed point, in [1, 2) */
    unsigned result = e << 8;
    for (unsigned bit = 128; bit; bit >>= 1) {
        m = (m * m) >> 31;
        if (m >= (2ull << 31)) {
            m >>= 1;
            result |= bit;
        }
    }
    return result;
}

/* How many times a block of size bytes doubles one page, in 1/256ths. */
static unsigned doublings_256(uint64_t size, uint32_t page_size)
{
    return size > page_size ? log2_256(size) - log2_256(page_size) : 0;
}

/* A block's width in the kind bar, for a scale in 1/256 px per doubling. */
static unsigned block_px(uint64_t size, uint32_t page_size, unsigned scale_256)
{
    return MIN_BLOCK_PX + (unsigned)(((uint64_t)scale_256 * doublings_256(size, page_size) + 32768) >> 16);
}

/* The kind bar's scale, in 1/256 px per doubling: the one that fills a row of row_px with the
   map's blocks (with a pixel of slack each for rounding), within the bounds. */
static unsigned kind_scale(const process_map *map, unsigned row_px)
{
    uint64_t doublings = 0, fixed_px = 0;
    for (size_t i = 0; i < map->block_count; i++) {
        doublings += doublings_256(map->blocks[i].size, map->page_size);
        fixed_px += MIN_BLOCK_PX + 1;
    }
    if (fixed_px >= row_px)
        return MIN_PX_PER_DOUBLING * 256;
    if (!doublings)
        return MAX_PX_PER_DOUBLING * 256;
    uint64_t scale = ((row_px - fixed_px) << 16) / doublings;
    if (scale < MIN_PX_PER_DOUBLING * 256)
        scale = MIN_PX_PER_DOUBLING * 256;
    if (scale > MAX_PX_PER_DOUBLING * 256)
        scale = MAX_PX_PER_DOUBLING * 256;
    return (unsigned)scale;
}

/* Whether that many characters of the bars' 11 px font fit a width, with a margin. */
static int text_fits(size_t characters, unsigned px)
{
    return characters * 7 + 10 <= px;
}

/* ---- Page frame ---------------------------------------------------------------------------- */

/* Short, as every page carries it. The details list's rows are grids of spans, aligned by
   position, which keeps each row short too. */
static const char style_sheet[] =
    "body{font:14px/1.4 system-ui,sans-serif;color:#222;background:#fff;max-width:1240px;"
    "margin:0 auto;padding:0 16px 40px}\n"
    "h1{font-size:24px;margin:18px 0 2px}h3{font-size:15px;margin:18px 0 4px}"
    "h2{font-size:19px;margin:32px 0 6px;border-bottom:2px solid #ccc}\n"
    "nav a{margin-right:14px}.note{color:#555;font-size:12px;margin:4px 0 8px}\n"
    "table{border-collapse:collapse;font-size:13px}"
    "th,td{padding:2px 8px;text-align:left;vertical-align:top}\n"
    ".n{text-align:right;font-variant-numeric:tabular-nums}"
    ".mono{font-family:ui-monospace,monospace;font-size:12px}\n"
    ".cards{display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start}.cards table{border:1px solid #ddd}"
    "caption{font-weight:bold;text-align:left;padding:4px 8px}.cards th{font-weight:normal;color:#444}\n"
    ".grid th{font-weight:normal}.grid tr:first-child th{font-weight:bold;border-bottom:1px solid #bbb}"
    ".grid tr:nth-child(even) td{background:#f5f5f5}"
    ".grid tr.total td{border-top:1px solid #bbb;font-weight:bold}\n"
    ".sw{display:inline-block;width:12px;height:12px;border:1px solid #0004;vertical-align:-2px;"
    "margin-right:6px}\n"
    "svg{display:block;max-width:100%;height:auto;margin:6px 0}svg text{font:11px system-ui,sans-serif}"
    "svg .a{font:10px ui-monospace,monospace;fill:#555}svg rect.f{stroke:#bbb;stroke-width:.5}\n"
    ".dl{font-size:12px}.dl :is(summary,.r,.h){display:grid;gap:0 6px;padding:1px 0;"
    "grid-template-columns:1.2em 13em 10em 7em 7em 7em 15em 1fr}\n"
    ".dl summary{cursor:pointer}.dl .h{font-weight:bold;border-bottom:1px solid #bbb}"
    ".dl summary::before{content:'\\25B8'}.dl details[open]>summary::before{content:'\\25BE'}"
    ".dl .r::before,.dl .h::before{content:''}\n"
    ".dl :is(summary,.r)>span:first-child{font-family:ui-monospace,monospace}"
    ".dl :is(summary,.r,.h)>span:nth-child(n+3):nth-child(-n+5){text-align:right}\n"
    ".dl .sub{margin:2px 0 6px 2.2em}.dl .sub td{padding:0 8px}\n";

static void write_head(FILE *out, const char *title, const view_process *processes, size_t count)
{
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>", out);
    put_text(out, title);
    fprintf(out, "</title>\n<style>\n%s", style_sheet);
    for (int kind = 0; kind < KIND_COUNT; kind++)
        fprintf(out, ".k%d{background:%s}", kind, kind_rgb((map_kind)kind));
    fputs("\n</style>\n</head>\n<body>\n<h1>", out);
    put_text(out, title);
    fputs("</h1>\n<nav><a href=\"#machine\">Machine</a>", out);
    for (size_t i = 0; i < count; i++) {
        fprintf(out, "<a href=\"#p%zu\">", i + 1);
        put_process_name(out, &processes[i]);
        fputs("</a>", out);
    }
    fputs("<a href=\"#physical\">Physical memory</a><a href=\"#figures\">Process figures</a></nav>\n", out);
}

/* ---- The machine's figures ----------------------------------------------------------------- */

static void write_pool_tags(FILE *out, vas_machine *machine)
{
    size_t count = vas_pool_tags(machine, NULL, 0);
    vas_pool_tag_info *tags = count ? calloc(count, sizeof *tags) : NULL;
    if (!tags)
        return;
    count = vas_pool_tags(machine, tags, count);
    fputs("<h3>Pool tags</h3>\n<table class=\"grid\"><tr><th>Tag</th><th>Pool</th><th class=\"n\">Allocations</th>"
          "<th class=\"n\">Frees</th><th class=\"n\">Bytes in use</th></tr>\n", out);
    for (size_t i = 0; i < count; i++) {
        char tag[5];
        for (int c = 0; c < 4; c++) { /* the first character in the low byte */
            unsigned char ch = (unsigned char)(tags[i].tag >> (8 * c));
            tag[c] = ch >= 0x20 && ch < 0x7F ? (char)ch : '.';
        }
        tag[4] = '\0';
        fputs("<tr><td class=\"mono\">", out);
        put_text(out, tag);
        fprintf(out, "</td><td>%s</td><td class=\"n\">%s</td><td class=\"n\">%s</td>"
                     "<td class=\"n\">%s</td></tr>\n",
                tags[i].pool_type == VAS_NONPAGED_POOL ? "Nonpaged" : "Paged", count_label(tags[i].allocs).s,
                count_label(tags[i].frees).s, count_label(tags[i].bytes).s);
    }
    fputs("</table>\n", out);
    free(tags);
}

/* One figure's value as the page shows it: sizes and counts short, addresses as the machine's
   width writes them. */
static void put_figure(FILE *out, const figure *fig, int bits)
{
    switch (fig->kind) {
    case FIGURE_BYTES: fputs(size_label(fig->value).s, out); break;
    case FIGURE_ADDRESS: fputs(address_label(fig->value, bits).s, out); break;
    case FIGURE_TEXT: put_text(out, fig->text ? fig->text : ""); break;
    default: fputs(count_label(fig->value).s, out); break;
    }
}

/* The machine's figures (views.h, as `vas stats` shows them): a card for each section. */
static void write_machine(FILE *out, vas_machine *machine)
{
    vas_machine_info info;
    vas_get_machine_info(machine, &info);
    figures f = {.count = 0};
    figures_collect(machine, NULL, &f);
    fputs("<section id=\"machine\"><h2>Machine</h2>\n<p>", out);
    put_text(out, info.description);
    fputs("</p>\n<div class=\"cards\">\n", out);
    for (size_t i = 0; i < f.count; i++) {
        const figure *fig = &f.list[i];
        if (i == 0 || strcmp(fig->section, f.list[i - 1].section) != 0) {
            fputs(i ? "</table>\n<table><caption>" : "<table><caption>", out);
            put_text(out, figure_section_title(fig->section));
            fputs("</caption>\n", out);
        }
        fputs("<tr><th>", out);
        put_text(out, fig->name);
        fputs("</th><td class=\"n\">", out);
        put_figure(out, fig, info.native_bits);
        fputs("</td></tr>\n", out);
    }
    fputs(f.count ? "</table>\n</div>\n" : "</div>\n", out);
    write_pool_tags(out, machine);
    fputs("</section>\n", out);
}

/* ---- A process: the partition bar ----------------------------------------------------------- */

typedef struct partition_style {
    const char *fill, *ink;
} partition_style;

/* By vas_partition_kind: reds for what traps, blue for user space, greys for what is not the
   process's to use, slate for the kernel. */
static const partition_style partition_styles[] = {
    [VAS_PARTITION_NULL] = {"#c0392b", "#fff"},         [VAS_PARTITION_DOS] = {"#e67e22", "#fff"},
    [VAS_PARTITION_USER] = {"#3b7dd8", "#fff"},         [VAS_PARTITION_OFF_LIMITS] = {"#7b1f1f", "#fff"},
    [VAS_PARTITION_UNUSABLE] = {"#9e9e9e", "#fff"},     [VAS_PARTITION_SHARED] = {"#27ae60", "#fff"},
    [VAS_PARTITION_NONCANONICAL] = {"#d5d5d5", "#333"}, [VAS_PARTITION_KERNEL] = {"#2c3e50", "#fff"},
};

static const partition_style *partition_style_of(vas_partition_kind kind)
{
    static const partition_style unknown = {"#777", "#fff"};
    if ((size_t)kind < COUNT_OF(partition_styles) && partition_styles[kind].fill)
        return &partition_styles[kind];
    return &unknown;
}

static void draw_partitions(FILE *out, vas_process *process, int bits)
{
    vas_partition parts[16];
    size_t count = vas_get_partitions(process, parts, COUNT_OF(parts));
    if (count > COUNT_OF(parts))
        count = COUNT_OF(parts);
    unsigned logs[COUNT_OF(parts)];
    uint64_t total = 0;
    for (size_t i = 0; i < count; i++)
        total += logs[i] = log2_256(parts[i].last - parts[i].first + 1);

    fputs("<h3>Address space by partition</h3>\n", out);
    svg_begin(out, BAR_PX, PARTITION_BAR_PX);
    uint64_t before = 0;
    for (size_t i = 0; i < count && total; i++) {
        /* Edges at cumulative shares, so the segments tile the bar exactly. */
        unsigned x = (unsigned)(before * BAR_PX / total);
        before += logs[i];
        unsigned w = (unsigned)(before * BAR_PX / total) - x;
        const partition_style *style = partition_style_of(parts[i].kind);
        label size = range_size_label(parts[i].first, parts[i].last);
        fputs("<g><title>", out);
        put_text(out, parts[i].name);
        fprintf(out, "\n%s\n%s</title>", range_label(parts[i].first, parts[i].last, bits).s, size.s);
        fprintf(out, "<rect x=\"%u\" width=\"%u\" height=\"%d\" fill=\"%s\" stroke=\"#fff\"/>", x, w,
                PARTITION_BAR_PX, style->fill);
        if (text_fits(strlen(parts[i].name), w)) {
            fprintf(out, "<text x=\"%u\" y=\"19\" fill=\"%s\" font-weight=\"bold\">", x + 5, style->ink);
            put_text(out, parts[i].name);
            fputs("</text>", out);
        }
        if (text_fits(strlen(size.s), w))
            fprintf(out, "<text x=\"%u\" y=\"36\" fill=\"%s\">%s</text>", x + 5, style->ink, size.s);
        fputs("</g>\n", out);
    }
    fputs("</svg>\n<p class=\"note\">Scale: each partition's width is proportional to log<sub>2</sub> of its "
          "size in bytes, so every doubling adds the same width; in proportion to size, the smaller "
          "partitions would not be seen at all.</p>\n"
          "<table class=\"grid\"><tr><th>Partition</th><th>First</th><th>Last</th><th class=\"n\">Size</th>"
          "<th class=\"n\">log<sub>2</sub> size</th></tr>\n", out);
    for (size_t i = 0; i < count; i++) {
        unsigned tenths = (logs[i] * 10 + 128) >> 8;
        fputs("<tr><td>", out);
        swatch(out, partition_style_of(parts[i].kind)->fill);
        put_text(out, parts[i].name);
        fprintf(out, "</td><td class=\"mono\">%s</td><td class=\"mono\">%s</td><td class=\"n\">%s</td>"
                     "<td class=\"n\">%u.%u</td></tr>\n",
                address_label(parts[i].first, bits).s, address_label(parts[i].last, bits).s,
                range_size_label(parts[i].first, parts[i].last).s, tenths / 10, tenths % 10);
    }
    fputs("</table>\n", out);
}

/* ---- A process: the kind bar, the summary and the details list ------------------------------ */

/* Where the kind bar puts its blocks: the measuring pass and the drawing pass both go through
   place_block(), so they cannot disagree on the rows. */
typedef struct kind_cursor {
    unsigned x, row, row_px;
} kind_cursor;

/* The x of a block w px wide; *starts_row says whether it opens a row. */
static unsigned place_block(kind_cursor *c, unsigned w, int *starts_row)
{
    if (c->x > 0 && c->x + w > c->row_px) {
        c->row++;
        c->x = 0;
    }
    *starts_row = c->x == 0;
    unsigned x = c->x;
    c->x += w;
    return x;
}

static void draw_kinds(FILE *out, const process_map *map)
{
    /* The gutter holds a row's first address: 0x7FFE0000, or 0x00000000`7FFE0000. */
    unsigned gutter = (map->bits == 32 ? 10 : 19) * 6 + 12;
    kind_cursor c = {0, 0, BAR_PX - gutter};
    unsigned scale = kind_scale(map, c.row_px);
    int starts_row;
    for (size_t i = 0; i < map->block_count; i++)
        place_block(&c, block_px(map->blocks[i].size, map->page_size, scale), &starts_row);
    unsigned height = (c.row + 1) * KIND_ROW_PITCH_PX;

    fputs("<h3>User space by kind</h3>\n", out);
    svg_begin(out, BAR_PX, height);
    c = (kind_cursor){0, 0, BAR_PX - gutter};
    for (size_t i = 0; i < map->block_count; i++) {
        const map_block *b = &map->blocks[i];
        unsigned w = block_px(b->size, map->page_size, scale);
        unsigned x = place_block(&c, w, &starts_row) + gutter, y = c.row * KIND_ROW_PITCH_PX;
        if (starts_row)
            fprintf(out, "<text class=\"a\" x=\"%u\" y=\"%u\" text-anchor=\"end\">%s</text>\n", gutter - 6,
                    y + 13, address_label(b->base, map->bits).s);
        fprintf(out, "<rect%s x=\"%u\" y=\"%u\" width=\"%u\" height=\"%d\" fill=\"%s\"><title>%s\n%s &middot; ",
                b->kind == KIND_FREE ? " class=\"f\"" : "", x, y, w - 1, KIND_ROW_PX, kind_rgb(b->kind),
                range_label(b->base, b->base + b->size - 1, map->bits).s, size_label(b->size).s);
        put_text(out, kind_name(b->kind));
        if (b->details[0]) {
            fputs(" &middot; ", out);
            put_text(out, b->details);
        }
        fputs("</title></rect>\n", out);
    }
    unsigned tenths = (scale * 10 + 128) >> 8;
    fprintf(out, "</svg>\n<p class=\"note\">Scale: blocks in address order, each %d px wide for one page (%s) "
                 "and %u.%u px more for every doubling of its size (64 KB: %u px, 1 MB: %u px, 1 GB: %u px), "
                 "so that small allocations stay visible; rows wrap, each starting with the address of its "
                 "first block. Hover over a block for its range and details.</p>\n",
            MIN_BLOCK_PX, size_label(map->page_size).s, tenths / 10, tenths % 10,
            block_px(1ull << 16, map->page_size, scale), block_px(1ull << 20, map->page_size, scale),
            block_px(1ull << 30, map->page_size, scale));
}

/* A row of the summary: a kind's, or the total's for kind KIND_COUNT. */
static void summary_row(FILE *out, int kind, const map_summary *s)
{
    if (kind < KIND_COUNT) {
        fputs("<tr><td>", out);
        kind_swatch(out, (map_kind)kind);
        put_text(out, kind_name((map_kind)kind));
    } else {
        fputs("<tr class=\"total\"><td>Total (all but Free and Unusable)", out);
    }
    fprintf(out, "</td><td class=\"n\">%s</td><td class=\"n\">%s</td>", size_label(s->size).s,
            size_label(s->committed).s);
    fprintf(out, "<td class=\"n\">%s</td><td class=\"n\">%s</td><td class=\"n\">%s</td></tr>\n",
            size_label(s->working_set).s, count_label(s->blocks).s, size_label(s->largest).s);
}

/* VMMap's summary by kind; its swatches are the kind bar's legend. */
static void write_summary(FILE *out, const process_map *map)
{
    fputs("<table class=\"grid\"><tr><th>Type</th><th class=\"n\">Size</th><th class=\"n\">Committed</th>"
          "<th class=\"n\">Working set</th><th class=\"n\">Blocks</th><th class=\"n\">Largest</th></tr>\n",
          out);
    for (int kind = 0; kind < KIND_COUNT; kind++)
        summary_row(out, kind, &map->summary[kind]);
    summary_row(out, KIND_COUNT, &map->total);
    fputs("</table>\n", out);
}

/* The details list stops after this many blocks: past it the page grows by megabytes that no
   one scrolls through, and `vas map` lists every block. */
#define DETAILS_MAX 2000

/* VMMap's details list: each allocation, and its regions when it has more than one. */
static void write_details(FILE *out, const process_map *map)
{
    size_t listed = 0, left_out = 0;
    fputs("<h3>Details</h3>\n<div class=\"dl\">\n<div class=\"h\"><span>Address</span><span>Type</span>"
          "<span>Size</span><span>Committed</span><span>Working set</span><span>Protection</span>"
          "<span>Details</span></div>\n", out);
    for (size_t i = 0; i < map->block_count; i++) {
        const map_block *b = &map->blocks[i];
        if (b->kind == KIND_FREE)
            continue;
        if (listed++ == DETAILS_MAX) {
            for (size_t k = i; k < map->block_count; k++)
                left_out += map->blocks[k].kind != KIND_FREE;
            fprintf(out, "<div class=\"r\"><span></span><span>... and %zu more blocks (`vas map` lists them "
                    "all)</span></div>\n", left_out);
            break;
        }
        int expands = b->region_count > 1;
        fputs(expands ? "<details><summary>" : "<div class=\"r\">", out);
        fprintf(out, "<span>%s</span><span>", address_label(b->base, map->bits).s);
        kind_swatch(out, b->kind);
        put_text(out, kind_name(b->kind));
        fprintf(out, "</span><span>%s</span><span>%s</span><span>%s</span><span>%s</span><span>",
                size_label(b->size).s, size_label(b->committed).s, size_label(b->working_set).s,
                protect_label(b->allocation_protect).s);
        put_text(out, b->details);
        fputs("</span>", out);
        if (!expands) {
            fputs("</div>\n", out);
            continue;
        }
        fputs("</summary>\n<table class=\"sub\"><tr><th>Address</th><th class=\"n\">Size</th><th>State</th>"
              "<th>Protection</th><th>Type</th><th class=\"n\">Working set</th></tr>\n", out);
        for (size_t r = b->first_region; r < b->first_region + b->region_count && r < map->region_count; r++) {
            const map_region *region = &map->regions[r];
            const vas_memory_basic_information *info = &region->info;
            fprintf(out, "<tr><td class=\"mono\">%s</td><td class=\"n\">%s</td>",
                    address_label(info->base_address, map->bits).s, size_label(info->region_size).s);
            fprintf(out, "<td>%s</td>", vas_state_name(info->state));
            fprintf(out, "<td>%s</td>", protect_label(info->protect).s);
            fprintf(out, "<td>%s</td>", info->type ? vas_type_name(info->type) : "-");
            fprintf(out, "<td class=\"n\">%s</td></tr>\n", size_label(region->working_set).s);
        }
        fputs("</table></details>\n", out);
    }
    fputs("</div>\n", out);
}

/* 0, or ENOMEM when the host cannot hold the process's map. */
static int write_process(FILE *out, const view_process *p, size_t index, int native_bits)
{
    process_map map;
    if (!process_map_build(p->process, &map))
        return ENOMEM;
    fprintf(out, "<section id=\"p%zu\"><h2>", index + 1);
    put_process_name(out, p);
    const char *width_note = "";
    if (map.bits == 32)
        width_note = vas_process_large_address_aware(p->process) ? ", large-address-aware"
                                                                   : ", not large-address-aware";
    fprintf(out, "</h2>\n<p>Process ID %" PRIu32 ", %d-bit%s%s; user space %s (%s); pages of %s, allocations "
                 "aligned to %s.</p>\n",
            map.process_id, map.bits, map.bits == 32 && native_bits == 64 ? " (WOW64)" : "", width_note,
            range_label(map.user_first, map.user_last, map.bits).s,
            range_size_label(map.user_first, map.user_last).s, size_label(map.page_size).s,
            size_label(map.granularity).s);
    draw_partitions(out, p->process, map.bits);
    draw_kinds(out, &map);
    write_summary(out, &map);
    write_details(out, &map);
    fputs("</section>\n", out);
    process_map_free(&map);
    return 0;
}

/* ---- The physical frame map ----------------------------------------------------------------- */

/* What a frame is drawn as. The lists come first: a frame on the standby or modified list is
   drawn as such whoever last owned it. Each process given has two categories from
   CAT_PROCESSES on: its private pages, then its page tables. */
enum {
    CAT_ZEROED, CAT_FREE, CAT_STANDBY, CAT_MODIFIED, CAT_SECTION, CAT_SYSTEM, CAT_LOCKED, CAT_OTHER,
    CAT_PROCESSES
};

static const struct {
    const char *name, *colour;
} fixed_categories[CAT_PROCESSES] = {
    [CAT_ZEROED] = {"Zeroed list", "#ffffff"},
    [CAT_FREE] = {"Free list", "#e3e3e3"},
    [CAT_STANDBY] = {"Standby list (clean, still named by their last owner)", "#aac4e2"},
    [CAT_MODIFIED] = {"Modified list (dirty, to be written to a paging file)", "#f0b67f"},
    [CAT_SECTION] = {"Section pages, shared through prototype PTEs", NULL}, /* Shareable's colour */
    [CAT_SYSTEM] = {"System space: pool pages and system page tables", "#4d4d4d"},
    [CAT_LOCKED] = {"Locked by an MDL after their process let them go", "#000000"},
    [CAT_OTHER] = {"Processes not in this report", "#9c8f70"},
};

/* A hue per process, spread around the wheel by the golden angle so that neighbours differ;
   page tables are the same hue, darker. */
static label category_colour(size_t category)
{
    label l;
    if (category < CAT_PROCESSES) {
        const char *colour = fixed_categories[category].colour;
        snprintf(l.s, sizeof l.s, "%s", colour ? colour : kind_rgb(KIND_SHAREABLE));
    } else {
        size_t process = (category - CAT_PROCESSES) / 2;
        unsigned hue = (unsigned)((process * 137 + 100) % 360);
        int page_tables = (category - CAT_PROCESSES) % 2;
        snprintf(l.s, sizeof l.s, "hsl(%u,70%%,%d%%)", hue, page_tables ? 30 : 52);
    }
    return l;
}

static void put_category_name(FILE *out, size_t category, const view_process *processes)
{
    if (category < CAT_PROCESSES) {
        fputs(fixed_categories[category].name, out);
        return;
    }
    put_process_name(out, &processes[(category - CAT_PROCESSES) / 2]);
    fputs((category - CAT_PROCESSES) % 2 ? ": page tables" : ": private pages", out);
}

static uint32_t frame_category(const vas_frame_info *f, const uint32_t *process_ids, size_t count)
{
    switch (f->list) {
    case VAS_FRAME_ZEROED: return CAT_ZEROED;
    case VAS_FRAME_FREE: return CAT_FREE;
    case VAS_FRAME_STANDBY: return CAT_STANDBY;
    case VAS_FRAME_MODIFIED: return CAT_MODIFIED;
    default: break;
    }
    switch (f->owner) {
    case VAS_FRAME_OWNER_SECTION: return CAT_SECTION;
    case VAS_FRAME_OWNER_SYSTEM: return CAT_SYSTEM;
    case VAS_FRAME_OWNER_LOCKED: return CAT_LOCKED;
    case VAS_FRAME_OWNER_PROCESS:
    case VAS_FRAME_OWNER_TABLE:
        for (size_t i = 0; i < count; i++)
            if (process_ids[i] == f->process_id)
                return (uint32_t)(CAT_PROCESSES + 2 * i + (f->owner == VAS_FRAME_OWNER_TABLE));
        return CAT_OTHER;
    default: return CAT_OTHER;
    }
}

/* The category a cell of frames [first, end) shows: the most common one but the zeroed and free
   lists, which show only when they are all there is. Ties go to the lower category. */
static uint32_t cell_category(const uint32_t *categories, uint64_t first, uint64_t end, uint64_t *tally,
                              size_t category_count)
{
    memset(tally, 0, category_count * sizeof *tally);
    for (uint64_t f = first; f < end; f++)
        tally[categories[f]]++;
    size_t best = tally[CAT_FREE] > tally[CAT_ZEROED] ? CAT_FREE : CAT_ZEROED;
    for (size_t c = CAT_STANDBY; c < category_count; c++)
        if (tally[c] && (best <= CAT_FREE || tally[c] > tally[best]))
            best = c;
    return (uint32_t)best;
}

static void draw_run(FILE *out, uint64_t first_cell, uint64_t cells, uint32_t category,
                     uint64_t frames_per_cell, uint64_t frame_count, const view_process *processes)
{
    uint64_t row = first_cell / CELLS_PER_ROW, column = first_cell % CELLS_PER_ROW;
    uint64_t first = first_cell * frames_per_cell, end = (first_cell + cells) * frames_per_cell;
    if (end > frame_count)
        end = frame_count;
    fprintf(out, "<rect x=\"%" PRIu64 "\" y=\"%" PRIu64 "\" width=\"%" PRIu64 "\" height=\"%d\" fill=\"%s\">"
                 "<title>frames 0x%" PRIX64 "-0x%" PRIX64 ": ",
            FRAME_GUTTER_PX + column * CELL_PX, 1 + row * CELL_PX, cells * CELL_PX, CELL_PX,
            category_colour(category).s, first, end - 1);
    put_category_name(out, category, processes);
    fputs("</title></rect>\n", out);
}

/* 0, or ENOMEM. */
static int write_frames(FILE *out, vas_machine *machine, const view_process *processes, size_t count)
{
    vas_physical_status lists;
    vas_get_physical_status(machine, &lists);
    uint64_t frame_count = lists.frame_count;
    size_t category_count = CAT_PROCESSES + 2 * count;
    uint32_t *categories = calloc(frame_count ? frame_count : 1, sizeof *categories); /* CAT_ZEROED */
    vas_frame_info *chunk = malloc(FRAME_CHUNK * sizeof *chunk);
    uint32_t *process_ids = malloc((count ? count : 1) * sizeof *process_ids);
    uint64_t *totals = calloc(category_count, sizeof *totals), *tally = calloc(category_count, sizeof *tally);
    int error = categories && chunk && process_ids && totals && tally ? 0 : ENOMEM;
    for (size_t i = 0; !error && i < count; i++)
        process_ids[i] = vas_process_id(processes[i].process);
    for (uint64_t f = 0; !error && f < frame_count;) {
        size_t got = vas_get_frame_info(machine, f, chunk, FRAME_CHUNK);
        if (got == 0)
            break;
        for (size_t i = 0; i < got && f < frame_count; i++, f++)
            categories[f] = frame_category(&chunk[i], process_ids, count);
    }
    for (uint64_t f = 0; !error && f < frame_count; f++)
        totals[categories[f]]++;
    if (error)
        goto done;

    uint64_t per_cell = (frame_count + FRAME_CELLS_MAX - 1) / FRAME_CELLS_MAX;
    if (per_cell == 0)
        per_cell = 1;
    uint64_t cells = (frame_count + per_cell - 1) / per_cell;
    uint64_t rows = (cells + CELLS_PER_ROW - 1) / CELLS_PER_ROW;
    unsigned width = FRAME_GUTTER_PX + CELLS_PER_ROW * CELL_PX + 1; /* cells 1 px in, for the outline */
    fputs("<section id=\"physical\"><h2>Physical memory</h2>\n<p class=\"note\">", out);
    if (per_cell == 1)
        fprintf(out, "One cell per frame (%s), frame 0 at the top left, %d frames a row.",
                size_label(lists.page_size).s, CELLS_PER_ROW);
    else
        fprintf(out, "One cell per %" PRIu64 " frames (%s), frame 0 at the top left, %" PRIu64 " frames a row; "
                     "a cell shows the category most of its frames have, the zeroed and free lists only when "
                     "nothing else is there.",
                per_cell, size_label(per_cell * lists.page_size).s, per_cell * CELLS_PER_ROW);
    fputs(" Hover over a run of cells for its frame numbers.</p>\n", out);
    svg_begin(out, width, rows * CELL_PX + 2);
    for (uint64_t row = 0; row < rows; row += FRAME_LABEL_EVERY)
        fprintf(out, "<text class=\"a\" x=\"%d\" y=\"%" PRIu64 "\" text-anchor=\"end\">0x%" PRIX64 "</text>\n",
                FRAME_GUTTER_PX - 6, row * CELL_PX + 10, row * CELLS_PER_ROW * per_cell);
    /* One rectangle per run of one category within a row. */
    uint64_t run_start = 0;
    uint32_t run_category = CAT_ZEROED;
    for (uint64_t cell = 0; cell < cells; cell++) {
        uint64_t end = (cell + 1) * per_cell < frame_count ? (cell + 1) * per_cell : frame_count;
        uint32_t category = cell_category(categories, cell * per_cell, end, tally, category_count);
        if (cell > run_start && (cell % CELLS_PER_ROW == 0 || category != run_category)) {
            draw_run(out, run_start, cell - run_start, run_category, per_cell, frame_count, processes);
            run_start = cell;
        }
        run_category = category;
    }
    if (cells)
        draw_run(out, run_start, cells - run_start, run_category, per_cell, frame_count, processes);
    /* An outline around the cells: the zeroed list is white. */
    fprintf(out, "<rect x=\"%d.5\" y=\".5\" width=\"%d\" height=\"%" PRIu64 "\" fill=\"none\" "
                 "stroke=\"#bbb\"/>\n</svg>\n", FRAME_GUTTER_PX - 1, CELLS_PER_ROW * CELL_PX + 1, rows * CELL_PX + 1);
    fputs("<table class=\"grid\"><tr><th>Frames</th><th class=\"n\">Count</th>"
          "<th class=\"n\">Bytes</th></tr>\n", out);
    for (size_t c = 0; c < category_count; c++) {
        fputs("<tr><td>", out);
        swatch(out, category_colour(c).s);
        put_category_name(out, c, processes);
        fprintf(out, "</td><td class=\"n\">%s</td><td class=\"n\">%s</td></tr>\n", count_label(totals[c]).s,
                size_label(totals[c] * lists.page_size).s);
    }
    fputs("</table>\n</section>\n", out);
done:
    free(categories);
    free(chunk);
    free(process_ids);
    free(totals);
    free(tally);
    return error;
}

/* ---- Every process's counters ----------------------------------------------------------------- */

/* The "process" section of each process's figures (views.h), side by side: every process gives
   the same rows in the same order. */
static void write_counters(FILE *out, vas_machine *machine, const view_process *processes, size_t count)
{
    figures *each = calloc(count ? count : 1, sizeof *each);
    if (!each)
        return; /* the table is left out rather than the page */
    size_t first = 0; /* where the process section starts */
    for (size_t i = 0; i < count; i++)
        figures_collect(machine, processes[i].process, &each[i]);
    while (count && first < each[0].count && strcmp(each[0].list[first].section, "process") != 0)
        first++;
    fputs("<section id=\"figures\"><h2>Process figures</h2>\n<table class=\"grid\"><tr><th></th>", out);
    for (size_t i = 0; i < count; i++) {
        fputs("<th class=\"n\">", out);
        put_process_name(out, &processes[i]);
        fputs("</th>", out);
    }
    fputs("</tr>\n", out);
    for (size_t r = first; count && r < each[0].count; r++) {
        fputs("<tr><th>", out);
        put_text(out, each[0].list[r].name);
        fputs("</th>", out);
        for (size_t i = 0; i < count; i++) {
            fputs("<td class=\"n\">", out);
            if (r < each[i].count)
                put_figure(out, &each[i].list[r], vas_process_bits(processes[i].process));
            fputs("</td>", out);
        }
        fputs("</tr>\n", out);
    }
    fputs("</table>\n</section>\n", out);
    free(each);
}

/* ---- The page ---------------------------------------------------------------------------------- */

static int write_page(FILE *out, vas_machine *machine, const view_process *processes, size_t count,
                      const char *title)
{
    vas_machine_info info;
    vas_get_machine_info(machine, &info);
    write_head(out, title, processes, count);
    write_machine(out, machine);
    for (size_t i = 0; i < count; i++) {
        int error = write_process(out, &processes[i], i, info.native_bits);
        if (error)
            return error;
    }
    int error = write_frames(out, machine, processes, count);
    if (error)
        return error;
    write_counters(out, machine, processes, count);
    fprintf(out, "<p class=\"note\">Written by vas %s.</p>\n</body>\n</html>\n", vas_version());
    return 0;
}

int report_write_html(const char *path, vas_machine *machine, const view_process *processes, size_t count,
                      const char *title)
{
    if (!path || !machine || (count && !processes))
        return EINVAL;
    FILE *out = fopen(path, "w");
    if (!out)
        return errno ? errno : EIO;
    struct stat st;
    int regular = fstat(fileno(out), &st) == 0 && S_ISREG(st.st_mode);
    errno = 0;
    int error = write_page(out, machine, processes, count, title ? title : "vas report");
    if (!error && ferror(out))
        error = errno ? errno : EIO;
    if (fclose(out) != 0 && !error)
        error = errno ? errno : EIO;
    if (error && regular) /* never a device such as /dev/stdout */
        remove(path);
    return error;
}
