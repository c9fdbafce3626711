/*
 * script.c - the scenario language of `vas run` and `vas shell` (docs/scenario.md), and the
 * views over a script's machine (`vas map SCRIPT`, `vas report --html FILE SCRIPT`).
 *
 * Data structure. A script is a list of lines; each line becomes a statement: an optional
 * variable to assign, a command from the command table, and its arguments. An argument is a run
 * of tokens: an expression (terms joined by |, + or -, as in MEM_COMMIT|MEM_RESERVE or a+4K), a
 * string, a name, or key=value. A whole file is parsed and checked before its first line runs, so
 * that a typo on line 40 stops the script before line 1 changes anything. A session is what a
 * script runs against: the machine, its processes by name, the sections by handle, the variables,
 * and the outcome of the last call, which `expect` lines test.
 *
 * Invariants. A statement that parsed names a known command with the arguments it takes, and
 * only constants, variables assigned on an earlier line and processes made on an earlier line
 * (there is no control flow, so "earlier" is exact: the parser keeps both lists as it goes). Variables hold 64-bit numbers: addresses, handles, thread ids. Every call's outcome
 * is one of: ok (with a value), failed (the Win32 error left in vas_last_error), or an exception
 * (its NTSTATUS code and address).
 */
#include "cli.h"
#include "json.h"
#include "print.h"
#include "progress.h"
#include "report.h"
#include "views.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef VAS_HAVE_LIBEDIT
#include <editline/readline.h>
#endif

cli_settings cli;

int parse_number(const char *text, uint64_t *value)
{
    if (!text || !isdigit((unsigned char)*text))
        return 0;
    char *end;
    errno = 0;
    bool hex = text[0] == '0' && (text[1] == 'x' || text[1] == 'X');
    unsigned long long n = strtoull(hex ? text + 2 : text, &end, hex ? 16 : 10); /* 010 is ten, not octal */
    if (errno || end == text + (hex ? 2 : 0))
        return 0;
    int shift = 0;
    switch (toupper((unsigned char)*end)) {
    case 'K': shift = 10; end++; break;
    case 'M': shift = 20; end++; break;
    case 'G': shift = 30; end++; break;
    case 'T': shift = 40; end++; break;
    default: break;
    }
    if (*end || (shift && n > (UINT64_MAX >> shift)))
        return 0;
    *value = (uint64_t)n << shift;
    return 1;
}

/* ---- Windows constants by name --------------------------------------------------------- */

typedef struct constant {
    const char *name;
    uint64_t value;
} constant;

#define C(name) {#name, VAS_##name}
static const constant constants[] = {
    C(MEM_COMMIT), C(MEM_RESERVE), C(MEM_DECOMMIT), C(MEM_RELEASE), C(MEM_FREE), C(MEM_PRIVATE), C(MEM_MAPPED),
    C(MEM_RESET), C(MEM_TOP_DOWN), C(MEM_WRITE_WATCH), C(MEM_PHYSICAL), C(MEM_RESET_UNDO), C(MEM_IMAGE),
    C(MEM_LARGE_PAGES), C(MEM_RESERVE_PLACEHOLDER), C(MEM_REPLACE_PLACEHOLDER), C(MEM_COALESCE_PLACEHOLDERS),
    C(MEM_PRESERVE_PLACEHOLDER), C(PAGE_NOACCESS), C(PAGE_READONLY), C(PAGE_READWRITE), C(PAGE_WRITECOPY),
    C(PAGE_EXECUTE), C(PAGE_EXECUTE_READ), C(PAGE_EXECUTE_READWRITE), C(PAGE_EXECUTE_WRITECOPY), C(PAGE_GUARD),
    C(PAGE_NOCACHE), C(PAGE_WRITECOMBINE), C(SEC_FILE), C(SEC_IMAGE), C(SEC_RESERVE), C(SEC_COMMIT),
    C(SEC_NOCACHE), C(SEC_WRITECOMBINE), C(SEC_LARGE_PAGES), C(SECTION_QUERY), C(SECTION_MAP_WRITE),
    C(SECTION_MAP_READ), C(SECTION_MAP_EXECUTE), C(SECTION_EXTEND_SIZE), C(SECTION_ALL_ACCESS), C(FILE_MAP_COPY),
    C(FILE_MAP_WRITE), C(FILE_MAP_READ), C(FILE_MAP_EXECUTE), C(FILE_MAP_ALL_ACCESS), C(ERROR_SUCCESS),
    C(ERROR_FILE_NOT_FOUND), C(ERROR_PATH_NOT_FOUND), C(ERROR_ACCESS_DENIED), C(ERROR_INVALID_HANDLE),
    C(ERROR_NOT_ENOUGH_MEMORY), C(ERROR_INVALID_BLOCK), C(ERROR_OUTOFMEMORY), C(ERROR_BAD_LENGTH),
    C(ERROR_NOT_SUPPORTED), C(ERROR_OPEN_FAILED), C(ERROR_DISK_FULL), C(ERROR_INVALID_PARAMETER),
    C(ERROR_MOD_NOT_FOUND), C(ERROR_MR_MID_NOT_FOUND), C(ERROR_PRIVILEGE_NOT_HELD), C(ERROR_NOT_LOCKED),
    C(ERROR_ALREADY_EXISTS), C(ERROR_BAD_EXE_FORMAT),
    C(ERROR_PARTIAL_COPY), C(ERROR_INVALID_ADDRESS), C(ERROR_NOACCESS), C(ERROR_SWAPERROR),
    C(ERROR_FILE_INVALID), C(ERROR_MAPPED_ALIGNMENT), C(ERROR_WORKING_SET_QUOTA), C(ERROR_COMMITMENT_LIMIT),
    C(STATUS_SUCCESS), C(STATUS_IMAGE_NOT_AT_BASE), C(STATUS_GUARD_PAGE_VIOLATION),
    C(STATUS_DATATYPE_MISALIGNMENT), C(STATUS_PARTIAL_COPY), C(STATUS_INFO_LENGTH_MISMATCH),
    C(STATUS_ACCESS_VIOLATION), C(STATUS_IN_PAGE_ERROR), C(STATUS_INVALID_HANDLE), C(STATUS_INVALID_PARAMETER),
    C(STATUS_NO_MEMORY), C(STATUS_CONFLICTING_ADDRESSES), C(STATUS_NOT_MAPPED_VIEW), C(STATUS_UNABLE_TO_FREE_VM),
    C(STATUS_INVALID_VIEW_SIZE), C(STATUS_INVALID_FILE_FOR_SECTION), C(STATUS_ALREADY_COMMITTED),
    C(STATUS_ACCESS_DENIED), C(STATUS_UNABLE_TO_DECOMMIT_VM), C(STATUS_NOT_COMMITTED), C(STATUS_SECTION_TOO_BIG),
    C(STATUS_INVALID_PAGE_PROTECTION), C(STATUS_SECTION_NOT_IMAGE), C(STATUS_FREE_VM_NOT_AT_BASE),
    C(STATUS_MEMORY_NOT_ALLOCATED), C(STATUS_NOT_SUPPORTED), C(STATUS_INVALID_PARAMETER_1),
    C(STATUS_INVALID_PARAMETER_2), C(STATUS_INVALID_PARAMETER_3), C(STATUS_INVALID_PARAMETER_4),
    C(STATUS_INVALID_PARAMETER_5), C(STATUS_INVALID_PARAMETER_6), C(STATUS_STACK_OVERFLOW),
    C(STATUS_MAPPED_FILE_SIZE_ZERO), C(STATUS_COMMITMENT_LIMIT), C(STATUS_INVALID_IMAGE_NOT_MZ),
    C(STATUS_INVALID_ADDRESS), C(STATUS_MAPPED_ALIGNMENT), C(STATUS_UNABLE_TO_DELETE_SECTION),
    C(STATUS_OBJECT_NAME_NOT_FOUND), C(STATUS_OBJECT_NAME_COLLISION), C(STATUS_SECTION_PROTECTION),
    C(STATUS_NOT_MAPPED_DATA), C(STATUS_FILE_INVALID), C(STATUS_BAD_INITIAL_STACK), C(STATUS_OBJECT_PATH_NOT_FOUND),
    C(STATUS_PRIVILEGE_NOT_HELD), C(STATUS_DISK_FULL), C(STATUS_INVALID_IMAGE_FORMAT), C(STATUS_DLL_NOT_FOUND),
    C(PROCESS_DEP_ENABLE), C(PROCESS_DEP_DISABLE_ATL_THUNK_EMULATION),
};
#undef C

static const constant *find_constant(const char *name)
{
    for (size_t i = 0; i < sizeof constants / sizeof constants[0]; i++)
        if (strcmp(constants[i].name, name) == 0)
            return &constants[i];
    return NULL;
}

/* ---- Tokens ------------------------------------------------------------------------------ */

#define TEXT_MAX 256   /* a word or a string's bytes */

typedef enum token_kind { TOKEN_WORD, TOKEN_NUMBER, TOKEN_STRING, TOKEN_OPERATOR } token_kind;

typedef struct token {
    token_kind kind;
    int column;                 /* 1-based, where the token starts */
    uint64_t number;            /* TOKEN_NUMBER */
    size_t length;              /* bytes in text (a string may hold zero bytes) */
    char text[TEXT_MAX];        /* the word, the string's bytes, the operator, the number as written */
} token;

/* Where a problem was found, and the exit code it means. */
typedef struct script_error {
    int line, column;
    char message[320];
} script_error;

static void set_error(script_error *e, int line, int column, const char *format, ...)
    __attribute__((format(printf, 4, 5)));
static void set_error(script_error *e, int line, int column, const char *format, ...)
{
    e->line = line;
    e->column = column;
    va_list args;
    va_start(args, format);
    vsnprintf(e->message, sizeof e->message, format, args);
    va_end(args);
}

/* How a token reads in a message: the word, "string \"...\"", "'=='". */
static const char *describe(const token *t)
{
    static char buffer[TEXT_MAX + 16];
    if (t->kind == TOKEN_STRING)
        return "a string";
    snprintf(buffer, sizeof buffer, "'%s'", t->text);
    return buffer;
}

static bool is_word_start(int c) { return isalpha(c) || c == '_'; }
static bool is_word_char(int c) { return isalnum(c) || c == '_' || c == '.'; }

/* Splits one line into tokens; a '#' outside a string ends it. Returns the count, -1 on error. */
static int tokenize(const char *line, int line_number, token **out, script_error *error)
{
    size_t capacity = 8, count = 0;
    token *tokens = malloc(capacity * sizeof *tokens);
    if (!tokens) {
        set_error(error, line_number, 1, "out of memory");
        return -1;
    }
    const char *p = line;
    while (*p) {
        if (isspace((unsigned char)*p)) {
            p++;
            continue;
        }
        if (*p == '#')
            break;
        if (count == capacity) {
            token *grown = realloc(tokens, 2 * capacity * sizeof *tokens);
            if (!grown) {
                free(tokens);
                set_error(error, line_number, 1, "out of memory");
                return -1;
            }
            tokens = grown;
            capacity *= 2;
        }
        token *t = &tokens[count];
        memset(t, 0, sizeof *t);
        t->column = (int)(p - line) + 1;
        const char *start = p;
        if (is_word_start((unsigned char)*p) || isdigit((unsigned char)*p)) {
            while (is_word_char((unsigned char)*p))
                p++;
            t->length = (size_t)(p - start);
            if (t->length >= TEXT_MAX) {
                set_error(error, line_number, t->column, "found a word of %zu characters, expected at most %d",
                          t->length, TEXT_MAX - 1);
                goto fail;
            }
            memcpy(t->text, start, t->length);
            if (isdigit((unsigned char)*start)) {
                t->kind = TOKEN_NUMBER;
                if (!parse_number(t->text, &t->number)) {
                    set_error(error, line_number, t->column,
                              "found '%s', expected a number (4096, 0x1000, 64K, 2M, 1G) below 2^64", t->text);
                    goto fail;
                }
            } else {
                t->kind = TOKEN_WORD;
            }
        } else if (*p == '"') {
            t->kind = TOKEN_STRING;
            for (p++; *p != '"'; p++) {
                if (!*p) {
                    set_error(error, line_number, (int)(p - line) + 1,
                              "found the end of the line, expected '\"' to close the string opened at column %d",
                              t->column);
                    goto fail;
                }
                int c = (unsigned char)*p;
                if (c == '\\') {
                    p++;
                    switch (*p) {
                    case 'n': c = '\n'; break;
                    case 't': c = '\t'; break;
                    case '0': c = 0; break;
                    case '\\': c = '\\'; break;
                    case '"': c = '"'; break;
                    case 'x':
                        if (isxdigit((unsigned char)p[1]) && isxdigit((unsigned char)p[2])) {
                            char hex[3] = {p[1], p[2], 0};
                            c = (int)strtol(hex, NULL, 16);
                            p += 2;
                            break;
                        }
                        /* fall through */
                    default:
                        set_error(error, line_number, (int)(p - line),
                                  "found '\\%c', expected an escape: \\n \\t \\0 \\\\ \\\" or \\xHH", *p ? *p : ' ');
                        goto fail;
                    }
                }
                if (t->length + 1 >= TEXT_MAX) {
                    set_error(error, line_number, t->column, "found a string of more than %d bytes, expected at most %d",
                              TEXT_MAX - 1, TEXT_MAX - 1);
                    goto fail;
                }
                t->text[t->length++] = (char)c;
            }
            p++;
        } else {
            static const char *const operators[] = {"==", "!=", "<=", ">=", "=", "|", "+", "-", "<", ">"};
            size_t i;
            for (i = 0; i < sizeof operators / sizeof operators[0]; i++)
                if (strncmp(p, operators[i], strlen(operators[i])) == 0)
                    break;
            if (i == sizeof operators / sizeof operators[0]) {
                set_error(error, line_number, t->column,
                          "found '%c', expected a command, a name, a number, a string or an operator", *p);
                goto fail;
            }
            t->kind = TOKEN_OPERATOR;
            t->length = strlen(operators[i]);
            memcpy(t->text, operators[i], t->length);
            p += t->length;
        }
        count++;
    }
    *out = tokens;
    return (int)count;
fail:
    free(tokens);
    return -1;
}

/* ---- Commands and their parameters ------------------------------------------------------
 * A parameter list is a string of words "kind:name", kinds: e expression, s string, n name,
 * p the name of a process made on an earlier line, c one of the words choices[] lists for the
 * parameter's name, h a command's name, d data (strings and byte values, to the end), t pool tag
 * (a string of up to 4 characters or a number). A leading '?' makes a positional parameter
 * optional, '*' lets it repeat; a list that starts with '!' belongs to a command that works on
 * the current process, so a process must have been made before it. Keywords use the same kinds. */

static const struct choice {
    const char *parameter;
    const char *words;
} choices[] = {
    {"layout", "x64 x64_win7 x86 ia64 win9x"}, {"policy", "aging fifo clock lru"}, {"laa", "yes no"},
    {"dep", "on off permanent"}, {"by", "granule page"}, {"access", "read write"}, {"pool", "paged nonpaged"},
};

static const char *choice_words(const char *parameter, int length)
{
    for (size_t i = 0; i < sizeof choices / sizeof choices[0]; i++)
        if ((int)strlen(choices[i].parameter) == length && strncmp(choices[i].parameter, parameter, (size_t)length) == 0)
            return choices[i].words;
    return "";
}

/* The place of word among the space-separated words, or -1. */
static int word_index(const char *word, const char *words)
{
    size_t n = strlen(word);
    int index = 0;
    for (const char *p = words; *p; index++) {
        const char *end = strchr(p, ' ');
        size_t length = end ? (size_t)(end - p) : strlen(p);
        if (length == n && strncmp(p, word, n) == 0)
            return index;
        p += length + (end != NULL);
    }
    return -1;
}

static int choice_index(const char *parameter, const char *word)
{
    return word_index(word, choice_words(parameter, (int)strlen(parameter)));
}

typedef struct session session;
typedef struct statement statement;
typedef int (*command_run)(session *s, const statement *st);

typedef struct command {
    const char *name;
    const char *positional;
    const char *keywords;
    command_run run;
    const char *synopsis;       /* for help */
    const char *help;
} command;

typedef struct argument {
    const char *key;            /* NULL for a positional argument */
    int column;
    int first, count;           /* its tokens */
} argument;

#define MAX_ARGUMENTS 24

struct statement {
    int line;
    const char *file;
    char *source;               /* the line as written, comment and blanks trimmed */
    token *tokens;
    int token_count;
    int first_argument_token;
    const char *assign;         /* the variable to assign, or NULL */
    int assign_column;
    const command *command;
    argument args[MAX_ARGUMENTS];
    int arg_count;
};

/* ---- Sessions ---------------------------------------------------------------------------- */

#define MAX_PROCESSES 64
#define MAX_SECTIONS 256
#define MAX_SNAPSHOTS 64
#define NAME_MAX_LENGTH 64

typedef struct named_process {
    char name[NAME_MAX_LENGTH];
    vas_process *process;
} named_process;

typedef struct variable {
    char name[NAME_MAX_LENGTH];
    uint64_t value;
} variable;

typedef enum outcome_kind { OUTCOME_NONE, OUTCOME_OK, OUTCOME_FAILED, OUTCOME_EXCEPTION } outcome_kind;

typedef struct outcome {
    outcome_kind kind;
    uint32_t code;              /* the Win32 error (failed) or NTSTATUS (exception) */
    uint64_t value;             /* what an ok call returned */
    vas_exception exception;
    uint32_t last_error;        /* vas_last_error() after the call (0 if it set none) */
} outcome;

struct session {
    vas_machine *machine;
    vas_machine_config config;
    named_process processes[MAX_PROCESSES];
    int process_count;
    int current;                /* index into processes, -1: none */
    int attached;               /* KeStackAttachProcess target for kernel accesses, -1: none */
    variable *variables;
    size_t variable_count, variable_capacity;
    uint32_t *variable_slots;   /* open addressing by name hash: index + 1, 0 empty; twice the capacity */
    char declared[MAX_PROCESSES][NAME_MAX_LENGTH]; /* processes made by the lines parsed so far */
    int declared_count;
    bool machine_parsed;        /* a `machine` line was parsed */
    struct { uint64_t handle; vas_section *section; } sections[MAX_SECTIONS];
    int section_count;
    uint64_t next_handle;
    struct { process_map map; vas_process *process; } snapshots[MAX_SNAPSHOTS]; /* ids 1, 2, ... */
    int snapshot_count;
    outcome last;
    bool echo;                  /* print outcomes, dumps and views (vas run, the shell) */
    bool hide_source;           /* ...but not the line itself (a terminal shows what was typed) */
};

static void session_init(session *s)
{
    memset(s, 0, sizeof *s);
    s->current = s->attached = -1;
    s->next_handle = 0x40; /* handle values look like Windows': multiples of 4 */
}

static void session_destroy(session *s)
{
    for (int i = 0; i < s->snapshot_count; i++)
        process_map_free(&s->snapshots[i].map);
    for (int i = 0; i < s->section_count; i++)
        vas_close_section(s->sections[i].section);
    if (s->machine)
        vas_machine_destroy(s->machine);
    free(s->variables);
    free(s->variable_slots);
    memset(s, 0, sizeof *s);
}

static uint32_t name_hash(const char *name)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *name; name++)
        h = (h ^ (uint8_t)*name) * 16777619u;
    return h;
}

/* The slot where name is, or the empty one where it would go. */
static uint32_t *variable_slot(session *s, const char *name)
{
    size_t mask = 2 * s->variable_capacity - 1;
    for (size_t i = name_hash(name) & mask;; i = (i + 1) & mask) {
        uint32_t *slot = &s->variable_slots[i];
        if (*slot == 0 || strcmp(s->variables[*slot - 1].name, name) == 0)
            return slot;
    }
}

static variable *find_variable(session *s, const char *name)
{
    if (!s->variable_count)
        return NULL;
    uint32_t slot = *variable_slot(s, name);
    return slot ? &s->variables[slot - 1] : NULL;
}

static variable *declare_variable(session *s, const char *name)
{
    variable *v = find_variable(s, name);
    if (v)
        return v;
    if (s->variable_count == s->variable_capacity) { /* grow, and hash every name again */
        size_t capacity = s->variable_capacity ? 2 * s->variable_capacity : 16;
        variable *grown = realloc(s->variables, capacity * sizeof *grown);
        uint32_t *slots = calloc(2 * capacity, sizeof *slots);
        if (!grown || !slots) {
            free(slots);
            if (grown)
                s->variables = grown;
            return NULL;
        }
        s->variables = grown;
        s->variable_capacity = capacity;
        free(s->variable_slots);
        s->variable_slots = slots;
        for (size_t i = 0; i < s->variable_count; i++)
            *variable_slot(s, s->variables[i].name) = (uint32_t)i + 1;
    }
    v = &s->variables[s->variable_count];
    snprintf(v->name, sizeof v->name, "%s", name);
    v->value = 0;
    *variable_slot(s, v->name) = (uint32_t)++s->variable_count;
    return v;
}

/* `t = thread` also sets t.teb, t.stack_base, t.stack_limit and t.deallocation_stack. */
static const char *const thread_fields[] = {"teb", "stack_base", "stack_limit", "deallocation_stack"};
#define THREAD_FIELD_COUNT (sizeof thread_fields / sizeof thread_fields[0])

static const char *thread_field_name(const char *variable_name, size_t field)
{
    static char name[NAME_MAX_LENGTH];
    snprintf(name, sizeof name, "%.39s.%s", variable_name, thread_fields[field]);
    return name;
}

/* Words the language keeps for itself: never variables. */
static bool is_reserved(const char *name)
{
    return strcmp(name, "result") == 0 || find_constant(name) != NULL;
}

/* ---- Parsing ----------------------------------------------------------------------------- */

static bool is_operator(const token *t, const char *op)
{
    return t->kind == TOKEN_OPERATOR && strcmp(t->text, op) == 0;
}

static bool is_joining_operator(const token *t)
{
    return is_operator(t, "|") || is_operator(t, "+") || is_operator(t, "-");
}

static bool is_comparison(const token *t)
{
    return t->kind == TOKEN_OPERATOR && (is_operator(t, "==") || is_operator(t, "!=") || is_operator(t, "<") ||
                                         is_operator(t, "<=") || is_operator(t, ">") || is_operator(t, ">="));
}

/* Finds "kind:name" for key in a parameter list; returns the kind, 0 if absent. */
static char keyword_kind(const char *list, const char *key)
{
    size_t key_length = strlen(key);
    for (const char *p = list; p && *p;) {
        while (*p == ' ')
            p++;
        const char *word = p;
        while (*p && *p != ' ')
            p++;
        if (word[0] && word[1] == ':' && (size_t)(p - word - 2) == key_length && strncmp(word + 2, key, key_length) == 0)
            return word[0];
        if (!*word)
            break;
    }
    return 0;
}

/* The positional parameters: kinds[i] and optional[i]; returns how many. */
static int positional_parameters(const char *list, char kinds[], bool optional[], const char *names[], int max)
{
    int n = 0;
    if (list && *list == '!')
        list++;
    for (const char *p = list; p && *p && n < max;) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        optional[n] = *p == '?' || *p == '*'; /* '*': any number, none included */
        if (*p == '?' || *p == '*')
            p++;
        kinds[n] = *p;
        names[n] = p + 2;
        n++;
        while (*p && *p != ' ')
            p++;
    }
    return n;
}

/* Length of a parameter name in a list (names end at a space or the end). */
static int name_length(const char *name)
{
    int n = 0;
    while (name[n] && name[n] != ' ')
        n++;
    return n;
}

/* Checks that tokens [first, first+count) form an expression: term (op term)*, where a term is a
   number, a constant, `result` or a variable known to the session. */
static bool check_expression(session *s, const statement *st, int first, int count, script_error *error)
{
    for (int i = 0; i < count; i++) {
        const token *t = &st->tokens[first + i];
        bool want_term = i % 2 == 0;
        if (want_term) {
            if (t->kind == TOKEN_NUMBER)
                continue;
            if (t->kind == TOKEN_WORD) {
                if (is_reserved(t->text) || find_variable(s, t->text))
                    continue;
                set_error(error, st->line, t->column,
                          "found '%s', expected a number, a Windows constant or a variable assigned earlier", t->text);
                return false;
            }
            set_error(error, st->line, t->column, "found %s, expected a number, a constant or a variable", describe(t));
            return false;
        }
        if (!is_joining_operator(t)) {
            set_error(error, st->line, t->column, "found %s, expected '|', '+' or '-' between terms", describe(t));
            return false;
        }
    }
    if (count % 2 == 0) {
        const token *last = &st->tokens[first + count - 1];
        set_error(error, st->line, last->column + (int)last->length,
                  "found the end of the argument, expected a term after '%s'", last->text);
        return false;
    }
    return true;
}

static const command *find_command(const char *name);

static int find_declared(const session *s, const char *name)
{
    for (int i = 0; i < s->declared_count; i++)
        if (strcmp(s->declared[i], name) == 0)
            return i;
    return -1;
}

static bool check_argument(session *s, const statement *st, const argument *a, char kind, const char *what,
                           script_error *error)
{
    const token *t = &st->tokens[a->first];
    switch (kind) {
    case 'e':
        return check_expression(s, st, a->first, a->count, error);
    case 's':
        if (a->count == 1 && t->kind == TOKEN_STRING)
            return true;
        set_error(error, st->line, a->column, "found %s, expected %.*s as a string in double quotes", describe(t),
                  name_length(what), what);
        return false;
    case 'n':
        if (a->count == 1 && t->kind == TOKEN_WORD)
            return true;
        set_error(error, st->line, a->column, "found %s, expected %.*s (a name)", describe(t), name_length(what), what);
        return false;
    case 't':
        if (a->count == 1 && t->kind == TOKEN_STRING) {
            if (t->length >= 1 && t->length <= 4)
                return true;
            set_error(error, st->line, a->column, "found a tag of %zu characters, expected 1 to 4", t->length);
            return false;
        }
        return check_expression(s, st, a->first, a->count, error);
    case 'd':
        if (a->count == 1 && t->kind == TOKEN_STRING)
            return true;
        if (a->count == 1 && t->kind == TOKEN_NUMBER && t->number > 0xFF) {
            set_error(error, st->line, a->column, "found %s, expected a byte value (0 to 0xFF) or a string", describe(t));
            return false;
        }
        return check_expression(s, st, a->first, a->count, error);
    case 'v':
        if (a->count == 1 && t->kind == TOKEN_STRING)
            return true;
        return check_expression(s, st, a->first, a->count, error);
    case 'c': {
        const char *words = choice_words(what, name_length(what));
        if (a->count == 1 && t->kind == TOKEN_WORD && word_index(t->text, words) >= 0)
            return true;
        set_error(error, st->line, a->column, "found %s, expected %.*s to be one of: %s", describe(t),
                  name_length(what), what, words);
        return false;
    }
    case 'p':
        if (a->count == 1 && t->kind == TOKEN_WORD && find_declared(s, t->text) >= 0)
            return true;
        set_error(error, st->line, a->column, "found %s, expected the name of a process made on an earlier line%s",
                  describe(t), s->declared_count ? "" : " (there is none yet)");
        return false;
    case 'h':
        if (a->count == 1 && t->kind == TOKEN_WORD && find_command(t->text))
            return true;
        set_error(error, st->line, a->column, "found %s, expected a command's name (help lists them)", describe(t));
        return false;
    default:
        return true;
    }
}

/* Cuts the tokens after the command into arguments: key=value, or a run of terms joined by
   operators; a comparison operator stands alone (expect uses them). */
static bool split_arguments(statement *st, script_error *error)
{
    int i = st->first_argument_token;
    while (i < st->token_count) {
        if (st->arg_count == MAX_ARGUMENTS) {
            set_error(error, st->line, st->tokens[i].column, "found more than %d arguments", MAX_ARGUMENTS);
            return false;
        }
        argument *a = &st->args[st->arg_count++];
        a->key = NULL;
        a->column = st->tokens[i].column;
        if (st->tokens[i].kind == TOKEN_WORD && i + 1 < st->token_count && is_operator(&st->tokens[i + 1], "=")) {
            a->key = st->tokens[i].text;
            i += 2;
            if (i >= st->token_count) {
                set_error(error, st->line, st->tokens[i - 1].column + 1, "found the end of the line, expected a value after '%s='",
                          a->key);
                return false;
            }
        }
        a->first = i;
        if (is_comparison(&st->tokens[i])) {
            a->count = 1;
            i++;
            continue;
        }
        if (st->tokens[i].kind == TOKEN_OPERATOR && !is_joining_operator(&st->tokens[i])) {
            set_error(error, st->line, st->tokens[i].column, "found %s, expected an argument", describe(&st->tokens[i]));
            return false;
        }
        i++;
        while (i < st->token_count && (is_joining_operator(&st->tokens[i]) || is_joining_operator(&st->tokens[i - 1])))
            i++;
        a->count = i - a->first;
    }
    return true;
}

static bool check_arguments(session *s, statement *st, script_error *error)
{
    const command *c = st->command;
    char kinds[MAX_ARGUMENTS];
    bool optional[MAX_ARGUMENTS];
    const char *names[MAX_ARGUMENTS];
    int n = positional_parameters(c->positional, kinds, optional, names, MAX_ARGUMENTS);
    int position = 0;
    for (int i = 0; i < st->arg_count; i++) {
        const argument *a = &st->args[i];
        if (a->key) {
            char kind = keyword_kind(c->keywords, a->key);
            if (!kind) {
                char list[256] = "";
                for (const char *k = c->keywords; *k;) { /* "n:layout e:ram" -> "layout=, ram=" */
                    int length = name_length(k + 2);
                    size_t used = strlen(list);
                    snprintf(list + used, sizeof list - used, "%s%.*s=", used ? ", " : "", length, k + 2);
                    k += 2 + length;
                    while (*k == ' ')
                        k++;
                }
                if (*list)
                    set_error(error, st->line, a->column, "found '%s=', expected one of %s", a->key, list);
                else
                    set_error(error, st->line, a->column, "found '%s=', expected no key=value: %s takes none", a->key,
                              c->name);
                return false;
            }
            for (int j = 0; j < i; j++)
                if (st->args[j].key && strcmp(st->args[j].key, a->key) == 0) {
                    set_error(error, st->line, a->column, "found '%s=' twice, expected it once", a->key);
                    return false;
                }
            if (!check_argument(s, st, a, kind, a->key, error))
                return false;
            continue;
        }
        if (position >= n) {
            set_error(error, st->line, a->column, "found %s, expected the end of the line (%s takes %d argument%s)",
                      describe(&st->tokens[a->first]), c->name, n, n == 1 ? "" : "s");
            return false;
        }
        if (!check_argument(s, st, a, kinds[position], names[position], error))
            return false;
        if (kinds[position] != 'd')
            position++;
    }
    if (position < n && !optional[position]) {
        const token *last = &st->tokens[st->token_count - 1];
        char wanted[NAME_MAX_LENGTH] = "";
        for (int i = 0; i < name_length(names[position]) && i < NAME_MAX_LENGTH - 1; i++)
            wanted[i] = (char)toupper((unsigned char)names[position][i]);
        const char *arrow = strstr(c->synopsis, " ->");
        set_error(error, st->line, last->column + (int)last->length, "found the end of the line, expected %s (%.*s)",
                  wanted, arrow ? (int)(arrow - c->synopsis) : (int)strlen(c->synopsis), c->synopsis);
        return false;
    }
    return true;
}

/* What a line means for the processes later lines may name: `process NAME` makes one, `destroy`
   ends it, and a command on the current process needs one to exist. */
static bool check_processes(session *s, const statement *st, script_error *error)
{
    const command *c = st->command;
    const token *name = &st->tokens[st->first_argument_token - 1];
    if (c->positional[0] == '!' && s->declared_count == 0) {
        set_error(error, st->line, name->column, "found %s with no process, expected `process NAME` on an earlier line",
                  c->name);
        return false;
    }
    if (strcmp(c->name, "machine") == 0) {
        if (s->declared_count || s->machine_parsed) {
            set_error(error, st->line, name->column, "found machine %s, expected it once, before the first process",
                      s->machine_parsed ? "a second time" : "after a process");
            return false;
        }
        s->machine_parsed = true;
    }
    if (strcmp(c->name, "process") == 0) {
        const token *t = &st->tokens[st->args[0].first];
        if (find_declared(s, t->text) >= 0) {
            set_error(error, st->line, t->column, "found '%s', expected a new process name (it names one already)",
                      t->text);
            return false;
        }
        if (strlen(t->text) >= NAME_MAX_LENGTH || s->declared_count == MAX_PROCESSES) {
            set_error(error, st->line, t->column, "found %s, expected a name under %d characters and at most %d processes",
                      describe(t), NAME_MAX_LENGTH, MAX_PROCESSES);
            return false;
        }
        snprintf(s->declared[s->declared_count++], NAME_MAX_LENGTH, "%.63s", t->text);
    } else if (strcmp(c->name, "destroy") == 0) {
        int i = find_declared(s, st->tokens[st->args[0].first].text);
        memmove(s->declared[i], s->declared[i + 1], (size_t)(s->declared_count - i - 1) * NAME_MAX_LENGTH);
        s->declared_count--;
    }
    return true;
}

static const command commands[];
static const size_t command_count;
static bool check_expect(session *s, statement *st, script_error *error);

static const command *find_command(const char *name)
{
    for (size_t i = 0; i < command_count; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

static void statement_free(statement *st)
{
    free(st->tokens);
    free(st->source);
    memset(st, 0, sizeof *st);
}

/* Parses one line into st. Returns 1 for a statement, 0 for a blank line, -1 on error. */
static int parse_line(session *s, const char *file, int line_number, const char *line, statement *st,
                      script_error *error)
{
    memset(st, 0, sizeof *st);
    st->line = line_number;
    st->file = file;
    int count = tokenize(line, line_number, &st->tokens, error);
    if (count < 0)
        return -1;
    st->token_count = count;
    if (count == 0) {
        free(st->tokens);
        st->tokens = NULL;
        return 0;
    }
    int first = 0;
    if (count >= 2 && st->tokens[0].kind == TOKEN_WORD && is_operator(&st->tokens[1], "=")) {
        const char *target = st->tokens[0].text;
        if (is_reserved(target) || find_command(target)) {
            set_error(error, line_number, st->tokens[0].column, "found '%s', expected a variable name (it is %s)", target,
                      find_command(target)               ? "a command"
                      : strcmp(target, "result") == 0    ? "the last call's value"
                                                         : "a Windows constant");
            goto fail;
        }
        if (strlen(target) >= NAME_MAX_LENGTH - 24) { /* room for the fields of a thread: t.deallocation_stack */
            set_error(error, line_number, st->tokens[0].column, "found a variable name of %zu characters, expected "
                      "fewer than %d", strlen(target), NAME_MAX_LENGTH - 24);
            goto fail;
        }
        st->assign = st->tokens[0].text;
        st->assign_column = st->tokens[0].column;
        first = 2;
        if (count == 2) {
            set_error(error, line_number, st->tokens[1].column + 1, "found the end of the line, expected a command after '='");
            goto fail;
        }
    }
    const token *name = &st->tokens[first];
    if (st->assign && !(name->kind == TOKEN_WORD && find_command(name->text))) {
        st->command = find_command("value"); /* x = a + 4K */
        st->first_argument_token = first;
    } else if (name->kind != TOKEN_WORD || !(st->command = find_command(name->text))) {
        set_error(error, line_number, name->column, "found %s, expected a command (try: help)", describe(name));
        goto fail;
    } else {
        st->first_argument_token = first + 1;
    }
    if (!split_arguments(st, error))
        goto fail;
    if (strcmp(st->command->name, "expect") == 0 ? !check_expect(s, st, error)
                                                  : !check_arguments(s, st, error) || !check_processes(s, st, error))
        goto fail;
    if (st->assign) {
        if (!st->command->synopsis || !strstr(st->command->synopsis, "->")) {
            set_error(error, line_number, st->assign_column, "found an assignment, expected none: %s returns nothing",
                      st->command->name);
            goto fail;
        }
        bool declared = declare_variable(s, st->assign) != NULL;
        if (strcmp(st->command->name, "thread") == 0) /* t.teb, t.stack_base, ... */
            for (size_t i = 0; i < THREAD_FIELD_COUNT; i++)
                declared = declared && declare_variable(s, thread_field_name(st->assign, i)) != NULL;
        if (!declared) {
            set_error(error, line_number, st->assign_column, "out of memory");
            goto fail;
        }
    }
    /* The source as written, for the transcript: from the first token to the end of the last. */
    const token *last = &st->tokens[st->token_count - 1];
    const char *end_of_last = line + last->column - 1;
    if (last->kind == TOKEN_STRING) { /* skip to the closing quote */
        end_of_last++;
        while (*end_of_last && *end_of_last != '"')
            end_of_last += *end_of_last == '\\' ? 2 : 1;
        end_of_last++;
    } else {
        end_of_last += last->length;
    }
    const char *begin = line;
    while (isspace((unsigned char)*begin))
        begin++;
    st->source = strndup(begin, (size_t)(end_of_last - begin));
    if (!st->source) {
        set_error(error, line_number, 1, "out of memory");
        goto fail;
    }
    return 1;
fail:
    statement_free(st);
    return -1;
}

/* ---- Evaluation -------------------------------------------------------------------------- */

static uint64_t term_value(session *s, const token *t)
{
    if (t->kind == TOKEN_NUMBER)
        return t->number;
    if (strcmp(t->text, "result") == 0)
        return s->last.value;
    const constant *c = find_constant(t->text);
    if (c)
        return c->value;
    variable *v = find_variable(s, t->text);
    return v ? v->value : 0; /* the parser let only known names through */
}

static uint64_t evaluate(session *s, const statement *st, const argument *a)
{
    const token *t = &st->tokens[a->first];
    uint64_t value = term_value(s, t);
    for (int i = 1; i + 1 < a->count; i += 2) {
        uint64_t next = term_value(s, &t[i + 1]);
        switch (t[i].text[0]) {
        case '|': value |= next; break;
        case '+': value += next; break;
        default: value -= next; break;
        }
    }
    return value;
}

/* The index-th positional argument, or NULL. */
static const argument *positional(const statement *st, int index)
{
    for (int i = 0; i < st->arg_count; i++)
        if (!st->args[i].key && index-- == 0)
            return &st->args[i];
    return NULL;
}

static const argument *keyword(const statement *st, const char *key)
{
    for (int i = 0; i < st->arg_count; i++)
        if (st->args[i].key && strcmp(st->args[i].key, key) == 0)
            return &st->args[i];
    return NULL;
}

static uint64_t number_at(session *s, const statement *st, int index, uint64_t fallback)
{
    const argument *a = positional(st, index);
    return a ? evaluate(s, st, a) : fallback;
}

static uint64_t number_of(session *s, const statement *st, const char *key, uint64_t fallback)
{
    const argument *a = keyword(st, key);
    return a ? evaluate(s, st, a) : fallback;
}

static const char *word_at(const statement *st, int index)
{
    const argument *a = positional(st, index);
    return a ? st->tokens[a->first].text : NULL;
}

static const char *word_of(const statement *st, const char *key)
{
    const argument *a = keyword(st, key);
    return a ? st->tokens[a->first].text : NULL;
}

/* A string argument as a C string (strings may not hold zero bytes here). */
static const char *string_of(const statement *st, const argument *a)
{
    return a ? st->tokens[a->first].text : NULL;
}

/* ---- Running: errors, outcomes, notes -------------------------------------------------- */

/* What the command that just ran wants said about it, besides its outcome. */
static char note[512];
static script_error run_error;

static int runtime_error(const statement *st, int column, const char *format, ...) __attribute__((format(printf, 3, 4)));
static int runtime_error(const statement *st, int column, const char *format, ...)
{
    run_error.line = st->line;
    run_error.column = column;
    va_list args;
    va_start(args, format);
    vsnprintf(run_error.message, sizeof run_error.message, format, args);
    va_end(args);
    return EXIT_SCRIPT_ERROR;
}

static void set_note(const char *format, ...) __attribute__((format(printf, 1, 2)));
static void set_note(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    vsnprintf(note, sizeof note, format, args);
    va_end(args);
}

static void outcome_ok(session *s, uint64_t value)
{
    s->last = (outcome){.kind = OUTCOME_OK, .value = value};
}

static void outcome_failed(session *s)
{
    s->last = (outcome){.kind = OUTCOME_FAILED, .code = vas_last_error()};
}

/* A Win32 call: ok with its value, or failed with its last error. */
static void outcome_of_call(session *s, int succeeded, uint64_t value)
{
    if (succeeded)
        outcome_ok(s, value);
    else
        outcome_failed(s);
}

static void outcome_of_access(session *s, uint32_t status, const vas_exception *e, uint64_t value)
{
    if (status == VAS_STATUS_SUCCESS)
        outcome_ok(s, value);
    else if (status == VAS_STATUS_INVALID_PARAMETER && e->code == 0)
        s->last = (outcome){.kind = OUTCOME_FAILED, .code = VAS_ERROR_INVALID_PARAMETER};
    else
        s->last = (outcome){.kind = OUTCOME_EXCEPTION, .code = status, .exception = *e};
}

static named_process *find_process(session *s, const char *name)
{
    for (int i = 0; i < s->process_count; i++)
        if (strcmp(s->processes[i].name, name) == 0)
            return &s->processes[i];
    return NULL;
}

static vas_process *current_process(session *s)
{
    return s->current >= 0 ? s->processes[s->current].process : NULL;
}

/* How wide addresses print: the current process's width, else the machine's. */
static int process_bits(session *s)
{
    vas_process *p = current_process(s);
    if (p)
        return vas_process_bits(p);
    vas_machine_info info = {.native_bits = 64};
    if (s->machine)
        vas_get_machine_info(s->machine, &info);
    return info.native_bits;
}

static label address_text(session *s, uint64_t address)
{
    return address_label(address, process_bits(s));
}

/* Commands on user memory need a process; this names the problem when there is none. */
#define NEED_PROCESS(s, st, p)                                                                              \
    vas_process *p = current_process(s);                                                                    \
    if (!p)                                                                                                 \
        return runtime_error(st, st->tokens[st->first_argument_token - 1].column,                            \
                             "found %s with no process, expected `process NAME` first", st->command->name)

/* A named process argument, or the current process when it is absent. */
static int process_argument(session *s, const statement *st, const argument *a, vas_process **out)
{
    if (!a) {
        if (!(*out = current_process(s)))
            return runtime_error(st, st->tokens[st->first_argument_token - 1].column,
                                 "found %s with no process, expected `process NAME` first", st->command->name);
        return 0;
    }
    named_process *np = find_process(s, st->tokens[a->first].text);
    if (!np)
        return runtime_error(st, a->column, "found '%s', expected the name of a process", st->tokens[a->first].text);
    *out = np->process;
    return 0;
}

/* The bytes of data arguments from positional index on: strings as their bytes, numbers as one
   byte each. */
static int data_bytes(session *s, const statement *st, int index, uint8_t *out, size_t max, size_t *length)
{
    *length = 0;
    for (const argument *a; (a = positional(st, index)); index++) {
        const token *t = &st->tokens[a->first];
        if (a->count == 1 && t->kind == TOKEN_STRING) {
            if (*length + t->length > max)
                return runtime_error(st, a->column, "found more than %zu bytes of data, expected fewer", max);
            memcpy(out + *length, t->text, t->length);
            *length += t->length;
            continue;
        }
        uint64_t value = evaluate(s, st, a);
        if (value > 0xFF)
            return runtime_error(st, a->column, "found %#" PRIx64 ", expected a byte value (0 to 0xFF) or a string", value);
        if (*length == max)
            return runtime_error(st, a->column, "found more than %zu bytes of data, expected fewer", max);
        out[(*length)++] = (uint8_t)value;
    }
    return 0;
}

static const char *access_name(uint32_t access)
{
    return access == VAS_EXCEPTION_WRITE_FAULT ? "write" : access == VAS_EXCEPTION_EXECUTE_FAULT ? "execute" : "read";
}

static void hex_dump(session *s, uint64_t address, const uint8_t *bytes, size_t length)
{
    for (size_t i = 0; i < length; i += 16) {
        printf("  %s ", address_text(s, address + i).s);
        for (size_t j = 0; j < 16; j++)
            if (i + j < length)
                printf(" %02X", bytes[i + j]);
            else
                printf("   ");
        printf("  ");
        for (size_t j = 0; j < 16 && i + j < length; j++)
            putchar(isprint(bytes[i + j]) ? bytes[i + j] : '.');
        putchar('\n');
    }
}

static view_options current_view_options(void)
{
    return (view_options){.json = cli.json, .colour = cli.colour};
}

/* ---- The machine, processes and threads -------------------------------------------------- */

static int run_machine(session *s, const statement *st)
{
    if (s->machine)
        return runtime_error(st, st->tokens[0].column, "found `machine` after the machine was made, expected it "
                                                       "before the first process");
    vas_machine_config *c = &s->config;
    const char *layout = word_of(st, "layout"); /* the parser checked it is one of choices[] */
    if (layout) {
        static const char *const layouts[] = {"x64", "x64-win7", "x86", "ia64", "win9x"};
        c->layout = layouts[choice_index("layout", layout)]; /* a word cannot hold '-' */
    }
    c->ram_bytes = number_of(s, st, "ram", 0);
    if (keyword(st, "pagefile")) {
        c->pagefile_bytes = number_of(s, st, "pagefile", 0);
        if (c->pagefile_bytes == 0)
            c->pagefile_bytes = VAS_NO_PAGEFILE;
    }
    c->increase_user_va_mb = (uint32_t)number_of(s, st, "increase_user_va", 0);
    const char *policy = word_of(st, "policy");
    if (policy) /* in the order of the VAS_REPLACE_* values */
        c->replacement_policy = (uint32_t)choice_index("policy", policy);
    s->machine = vas_machine_create(c);
    if (!s->machine)
        return runtime_error(st, st->tokens[0].column, "found a machine the library refuses (%" PRIu32 " %s), expected "
                             "RAM and a paging file within the layout's limits", vas_last_error(),
                             vas_error_name(vas_last_error()));
    vas_machine_info info;
    vas_get_machine_info(s->machine, &info);
    set_note("%s; RAM %s, paging file %s", info.description, size_label(info.ram_bytes).s,
             info.pagefile_bytes ? size_label(info.pagefile_bytes).s : "none");
    outcome_ok(s, 0);
    return 0;
}

static int ensure_machine(session *s, const statement *st)
{
    if (s->machine)
        return 0;
    s->machine = vas_machine_create(&s->config);
    if (!s->machine)
        return runtime_error(st, st->tokens[0].column, "the default machine cannot be made: %s",
                             vas_error_name(vas_last_error()));
    return 0;
}

static int run_process(session *s, const statement *st)
{
    const argument *name_arg = positional(st, 0);
    const char *name = st->tokens[name_arg->first].text;
    if (find_process(s, name))
        return runtime_error(st, name_arg->column, "found '%s', expected a new process name (it exists)", name);
    if (s->process_count == MAX_PROCESSES)
        return runtime_error(st, name_arg->column, "found a process too many, expected at most %d", MAX_PROCESSES);
    if (strlen(name) >= NAME_MAX_LENGTH)
        return runtime_error(st, name_arg->column, "found a name of %zu characters, expected fewer than %d",
                             strlen(name), NAME_MAX_LENGTH);
    int status = ensure_machine(s, st);
    if (status)
        return status;
    vas_process_config config = {0};
    config.name = string_of(st, keyword(st, "name"));
    config.bits = (int)number_of(s, st, "bits", 0);
    const char *laa = word_of(st, "laa"), *dep = word_of(st, "dep");
    config.large_address_aware = !laa ? 0 : strcmp(laa, "yes") == 0 ? 1 : -1;
    config.dep = !dep ? 0 : strcmp(dep, "off") == 0 ? -1 : strcmp(dep, "permanent") == 0 ? 1 : 0;
    config.dll_path = string_of(st, keyword(st, "dll_path"));
    config.random_seed = number_of(s, st, "seed", 0);
    config.tlb_entries = (uint32_t)number_of(s, st, "tlb", 0);
    const char *image = string_of(st, keyword(st, "image"));
    if (!config.name)
        config.name = name;
    vas_process *p = image ? vas_process_create_from_image(s->machine, image, &config)
                           : vas_process_create(s->machine, &config);
    if (!p) {
        outcome_failed(s);
        return 0;
    }
    named_process *np = &s->processes[s->process_count];
    snprintf(np->name, sizeof np->name, "%.63s", name);
    np->process = p;
    s->current = s->process_count++;
    outcome_ok(s, vas_process_id(p));
    bool renamed = strcmp(name, vas_process_name(p)) != 0;
    set_note("%s:%s%s pid %" PRIu32 ", %d-bit%s", name, renamed ? " " : "", renamed ? vas_process_name(p) : "",
             vas_process_id(p), vas_process_bits(p),
             vas_process_bits(p) == 32 ? (vas_process_large_address_aware(p) ? ", large-address-aware"
                                                                               : ", not large-address-aware")
                                       : "");
    return 0;
}

static int run_use(session *s, const statement *st)
{
    const argument *a = positional(st, 0);
    named_process *np = find_process(s, st->tokens[a->first].text);
    if (!np)
        return runtime_error(st, a->column, "found '%s', expected the name of a process", st->tokens[a->first].text);
    s->current = (int)(np - s->processes);
    outcome_ok(s, vas_process_id(np->process));
    set_note("now in %s (pid %" PRIu32 ")", np->name, vas_process_id(np->process));
    return 0;
}

static int run_destroy(session *s, const statement *st)
{
    const argument *a = positional(st, 0);
    named_process *np = find_process(s, st->tokens[a->first].text);
    if (!np)
        return runtime_error(st, a->column, "found '%s', expected the name of a process", st->tokens[a->first].text);
    int index = (int)(np - s->processes);
    vas_process_destroy(np->process);
    memmove(np, np + 1, (size_t)(s->process_count - index - 1) * sizeof *np);
    s->process_count--;
    if (s->current == index)
        s->current = s->process_count ? 0 : -1;
    else if (s->current > index)
        s->current--;
    if (s->attached == index)
        s->attached = -1;
    else if (s->attached > index)
        s->attached--;
    outcome_ok(s, 0);
    if (s->current >= 0)
        set_note("destroyed; now in %s", s->processes[s->current].name);
    return 0;
}

static int run_thread(session *s, const statement *st)
{
    NEED_PROCESS(s, st, p);
    vas_thread_info info;
    int ok = vas_thread_create(p, number_of(s, st, "stack", 0), number_of(s, st, "commit", 0), &info);
    outcome_of_call(s, ok, ok ? info.thread_id : 0);
    if (!ok)
        return 0;
    set_note("thread %" PRIu32 ": TEB %s, stack %s - %s", info.thread_id, address_text(s, info.teb).s,
             address_text(s, info.deallocation_stack).s, address_text(s, info.stack_base).s);
    const uint64_t values[THREAD_FIELD_COUNT] = {info.teb, info.stack_base, info.stack_limit, info.deallocation_stack};
    for (size_t i = 0; st->assign && i < THREAD_FIELD_COUNT; i++) {
        variable *v = find_variable(s, thread_field_name(st->assign, i));
        if (v)
            v->value = values[i];
    }
    return 0;
}

static int run_dep_policy(session *s, const statement *st)
{
    NEED_PROCESS(s, st, p);
    outcome_of_call(s, vas_set_process_dep_policy(p, (uint32_t)number_at(s, st, 0, 0)), 0);
    return 0;
}

static int run_value(session *s, const statement *st)
{
    uint64_t value = number_at(s, st, 0, 0);
    outcome_ok(s, value);
    set_note("%s%s%s", st->assign ? st->assign : "", st->assign ? " = " : "", address_text(s, value).s);
    return 0;
}

static int run_exit_thread(session *s, const statement *st)
{
    NEED_PROCESS(s, st, p);
    outcome_of_call(s, vas_thread_exit(p, (uint32_t)number_at(s, st, 0, 0)), 0);
    return 0;
}

/* ---- Regions ----------------------------------------------------------------------------- */

static void note_address(session *s, const statement *st, uint64_t address)
{
    if (s->last.kind == OUTCOME_OK)
        set_note("%s%s%s", st->assign ? st->assign : "", st->assign ? " = " : "", address_text(s, address).s);
}

static int run_alloc(session *s, const statement *st)
{
    NEED_PROCESS(s, st, p);
    uint64_t base = vas_virtual_alloc(p, number_at(s, st, 0, 0), number_at(s, st, 1, 0), (uint32_t)number_at(s, st, 2, 0),
                                      (uint32_t)number_at(s, st, 3, 0));
    outcome_of_call(s, base != 0, base);
    note_address(s, st, base);
    return 0;
}

static int run_free(session *s, const statement *st)
{
    NEED_PROCESS(s, st, p);
    outcome_of_call(s, vas_virtual_free(p, number_at(s, st, 0, 0), number_at(s, st, 1, 0), (uint32_t)number_at(s, st, 2, 0)), 0);
    return 0;
}

static int run_protect(session *s, const statement *st)
{
    NEED_PROCESS(s, st, p);
    uint32_t old = 0;
    int ok = vas_virtual_protect(p, number_at(s, st, 0, 0), number_at(s, st, 1, 0), (uint32_t)number_at(s, st, 2, 0), &old);
    outcome_of_call(s, ok, old);
    char name[96];
    if (ok)
        set_note("%s%s%s (the old protection)", st->assign ? st->assign : "", st->assign ? " = " : "",
                 vas_protect_name(old, name, sizeof name));
    return 0;
}

static int run_query(session *s, const statement *st)
{
    NEED_PROCESS(s, st, p);
    uint64_t address = number_at(s, st, 0, 0);
    vas_memory_basic_information info;
    outcome_of_call(s, vas_virtual_query(p, address, &info, sizeof info) != 0, 0);
    if (s->echo && s->last.kind == OUTCOME_OK) { /* a failure shows as the outcome */
        view_options options = current_view_options();
        view_query(p, address, &options);
    }
    return 0;
}

static int run_walk(session *s, const statement *st)
{
    NEED_PROCESS(s, st, p);
    uint64_t address = number_at(s, st, 0, 0);
    vas_page_walk walk;
    uint32_t status = vas_page_table_walk(p, address, &walk);
    if (status) {
        s->last = (outcome){.kind = OUTCOME_FAILED, .code = vas_nt_status_to_dos_error(status)};
        return 0;
    }
    outcome_ok(s, walk.resident ? walk.physical_address : 0);
    if (!s->echo || cli.json)
        return 0;
    for (uint32_t i = 0; i < walk.levels; i++)
        printf("  %-6s [%4" PRIu32 "] table at physical 0x%" PRIX64 ": 0x%016" PRIX64 "  %s\n", walk.level[i].name,
               walk.level[i].index, walk.level[i].table_physical, walk.level[i].entry, walk.level[i].meaning);
    if (walk.resident)
        set_note("physical address %#" PRIx64, walk.physical_address);
    else
        set_note("not resident");
    return 0;
}

#define DATA_MAX 4096

static int run_read(session *s, const statement *st)
{
    NEED_PROCESS(s, st, p);
    uint64_t address = number_at(s, st, 0, 0), size = number_at(s, st, 1, 0);
    if (size > DATA_MAX)
        return runtime_error(st, positional(st, 1)->column, "found a size of %" PRIu64 ", expected at most %d", size, DATA_MAX);
    uint8_t bytes[DATA_MAX];
    vas_exception e = {0};
    uint32_t status = vas_read(p, address, bytes, (size_t)size, &e);
    outcome_of_access(s, status, &e, size);
    if (!status && s->echo && !cli.json)
        hex_dump(s, address, bytes, (size_t)size);
    return 0;
}

static int run_write(session *s, const statement *st)
{
    NEED_PROCESS(s, st, p);
    uint8_t bytes[DATA_MAX];
    size_t length;
    int status = data_bytes(s, st, 1, bytes, sizeof bytes, &length);
    if (status)
        return status;
    vas_exception e = {0};
    outcome_of_access(s, vas_write(p, number_at(s, st, 0, 0), bytes, length, &e), &e, length);
    if (s->last.kind == OUTCOME_OK)
        set_note("%zu byte%s written", length, length == 1 ? "" : "s");
    return 0;
}

static int run_execute(session *s, const statement *st)
{
    NEED_PROCESS(s, st, p);
    uint8_t byte = 0;
    vas_exception e = {0};
    outcome_of_access(s, vas_execute(p, number_at(s, st, 0, 0), &byte, 1, &e), &e, byte);
    if (s->last.kind == OUTCOME_OK)
        set_note("fetched %02X", byte);
    return 0;
}

/* Touches one byte in every page of [address, address+size): reads, or writes with `write`;
   stops at the first exception. Working sets and paging show what touching does. */
static int run_touch(session *s, const statement *st)
{
    NEED_PROCESS(s, st, p);
    const char *mode = word_at(st, 2);
    bool writing = mode && strcmp(mode, "write") == 0;
    vas_system_info system;
    vas_get_system_info(p, &system);
    uint64_t address = number_at(s, st, 0, 0), size = number_at(s, st, 1, 0), pages = 0;
    uint64_t last = address + size - 1 < address ? UINT64_MAX : address + size - 1; /* a range past 2^64 ends there */
    uint64_t last_page = last - last % system.page_size;
    vas_exception e = {0};
    uint32_t status = 0;
    for (uint64_t page = address - address % system.page_size; size && !status; page += system.page_size) {
        uint8_t byte = 0;
        status = writing ? vas_write(p, page, &byte, 1, &e) : vas_read(p, page, &byte, 1, &e);
        pages += status == 0;
        if (page == last_page)
            break;
    }
    outcome_of_access(s, status, &e, pages);
    if (!status)
        set_note("%" PRIu64 " page%s %s", pages, pages == 1 ? "" : "s", writing ? "written" : "read");
    return 0;
}

static int run_lock(session *s, const statement *st)
{
    NEED_PROCESS(s, st, p);
    int unlock = strcmp(st->command->name, "unlock") == 0;
    uint64_t address = number_at(s, st, 0, 0), size = number_at(s, st, 1, 0);
    outcome_of_call(s, unlock ? vas_virtual_unlock(p, address, size) : vas_virtual_lock(p, address, size), 0);
    return 0;
}

static int run_trim(session *s, const statement *st)
{
    NEED_PROCESS(s, st, p);
    outcome_of_call(s, vas_empty_working_set(p), 0);
    return 0;
}

static int run_working_set(session *s, const statement *st)
{
    NEED_PROCESS(s, st, p);
    outcome_of_call(s, vas_set_process_working_set_size(p, number_at(s, st, 0, 0), number_at(s, st, 1, 0)), 0);
    return 0;
}

static int run_write_modified(session *s, const statement *st)
{
    int status = ensure_machine(s, st);
    if (status)
        return status;
    uint64_t pages = vas_write_modified_pages(s->machine);
    outcome_ok(s, pages);
    set_note("%" PRIu64 " page%s written", pages, pages == 1 ? "" : "s");
    return 0;
}

/* ---- Sections and images ----------------------------------------------------------------- */

static vas_section *find_section(session *s, uint64_t handle)
{
    for (int i = 0; i < s->section_count; i++)
        if (s->sections[i].handle == handle)
            return s->sections[i].section;
    return NULL;
}

static int add_section(session *s, const statement *st, vas_section *section)
{
    if (!section) {
        outcome_failed(s);
        return 0;
    }
    if (s->section_count == MAX_SECTIONS) {
        vas_close_section(section);
        return runtime_error(st, st->tokens[0].column, "found a section handle too many, expected at most %d open",
                             MAX_SECTIONS);
    }
    uint32_t error = vas_last_error();
    uint64_t handle = s->next_handle;
    s->next_handle += 4;
    s->sections[s->section_count].handle = handle;
    s->sections[s->section_count++].section = section;
    outcome_ok(s, handle);
    set_note("%s%shandle %#" PRIx64 "%s", st->assign ? st->assign : "", st->assign ? " = " : "", handle,
             error == VAS_ERROR_ALREADY_EXISTS ? " to the existing section (ERROR_ALREADY_EXISTS)" : "");
    return 0;
}

static int run_section(session *s, const statement *st)
{
    int status = ensure_machine(s, st);
    if (status)
        return status;
    uint32_t protect = (uint32_t)number_of(s, st, "protect", VAS_PAGE_READWRITE);
    vas_section *section = vas_create_file_mapping(s->machine, string_of(st, keyword(st, "file")), protect,
                                                   number_of(s, st, "size", 0), string_of(st, keyword(st, "name")));
    return add_section(s, st, section);
}

static int run_open_section(session *s, const statement *st)
{
    int status = ensure_machine(s, st);
    if (status)
        return status;
    uint32_t access = (uint32_t)number_at(s, st, 1, VAS_FILE_MAP_ALL_ACCESS);
    return add_section(s, st, vas_open_file_mapping(s->machine, access, string_of(st, positional(st, 0))));
}

static int run_close(session *s, const statement *st)
{
    uint64_t handle = number_at(s, st, 0, 0);
    for (int i = 0; i < s->section_count; i++)
        if (s->sections[i].handle == handle) {
            vas_close_section(s->sections[i].section);
            s->sections[i] = s->sections[--s->section_count];
            outcome_ok(s, 0);
            return 0;
        }
    s->last = (outcome){.kind = OUTCOME_FAILED, .code = VAS_ERROR_INVALID_HANDLE};
    return 0;
}

static int run_map_view(session *s, const statement *st)
{
    NEED_PROCESS(s, st, p);
    vas_section *section = find_section(s, number_at(s, st, 0, 0));
    if (!section) {
        s->last = (outcome){.kind = OUTCOME_FAILED, .code = VAS_ERROR_INVALID_HANDLE};
        return 0;
    }
    uint64_t base = vas_map_view_of_file(p, section, (uint32_t)number_at(s, st, 1, 0), number_of(s, st, "offset", 0),
                                         number_of(s, st, "size", 0), number_of(s, st, "base", 0));
    outcome_of_call(s, base != 0, base);
    note_address(s, st, base);
    return 0;
}

static int run_unmap(session *s, const statement *st)
{
    NEED_PROCESS(s, st, p);
    outcome_of_call(s, vas_unmap_view_of_file(p, number_at(s, st, 0, 0)), 0);
    return 0;
}

static int run_flush(session *s, const statement *st)
{
    NEED_PROCESS(s, st, p);
    outcome_of_call(s, vas_flush_view_of_file(p, number_at(s, st, 0, 0), number_at(s, st, 1, 0)), 0);
    return 0;
}

static int run_image(session *s, const statement *st)
{
    NEED_PROCESS(s, st, p);
    uint64_t base = vas_map_image(p, string_of(st, positional(st, 0)));
    outcome_of_call(s, base != 0, base);
    note_address(s, st, base);
    return 0;
}

/* ---- System space ------------------------------------------------------------------------ */

static uint32_t tag_of(session *s, const statement *st, const argument *a)
{
    const token *t = &st->tokens[a->first];
    if (a->count == 1 && t->kind == TOKEN_STRING) {
        uint32_t tag = 0;
        for (size_t i = 0; i < t->length; i++)
            tag |= (uint32_t)(uint8_t)t->text[i] << (8 * i);
        return tag;
    }
    return (uint32_t)evaluate(s, st, a);
}

static int run_pool_alloc(session *s, const statement *st)
{
    int status = ensure_machine(s, st);
    if (status)
        return status;
    int pool = strcmp(word_at(st, 0), "paged") == 0 ? VAS_PAGED_POOL : VAS_NONPAGED_POOL;
    uint64_t address = vas_pool_alloc(s->machine, pool, number_at(s, st, 1, 0), tag_of(s, st, positional(st, 2)));
    outcome_of_call(s, address != 0, address);
    note_address(s, st, address);
    return 0;
}

static int run_pool_free(session *s, const statement *st)
{
    int status = ensure_machine(s, st);
    if (status)
        return status;
    outcome_of_call(s, vas_pool_free(s->machine, number_at(s, st, 0, 0), tag_of(s, st, positional(st, 1))), 0);
    return 0;
}

static int run_attach(session *s, const statement *st)
{
    const argument *a = positional(st, 0);
    named_process *np = find_process(s, st->tokens[a->first].text);
    if (!np)
        return runtime_error(st, a->column, "found '%s', expected the name of a process", st->tokens[a->first].text);
    s->attached = (int)(np - s->processes);
    outcome_ok(s, 0);
    set_note("kernel accesses now run in %s's address space", np->name);
    return 0;
}

static int run_detach(session *s, const statement *st)
{
    if (s->attached < 0)
        return runtime_error(st, st->tokens[0].column, "found detach, expected attach before it");
    s->attached = -1;
    outcome_ok(s, 0);
    return 0;
}

/* Kernel-mode code runs in the attached process, else in the current one. */
static vas_process *kernel_context(session *s)
{
    return s->attached >= 0 ? s->processes[s->attached].process : current_process(s);
}

static int run_kread(session *s, const statement *st)
{
    int status = ensure_machine(s, st);
    if (status)
        return status;
    uint64_t address = number_at(s, st, 0, 0), size = number_at(s, st, 1, 0);
    if (size > DATA_MAX)
        return runtime_error(st, positional(st, 1)->column, "found a size of %" PRIu64 ", expected at most %d", size, DATA_MAX);
    uint8_t bytes[DATA_MAX];
    vas_exception e = {0};
    uint32_t result = vas_kernel_read(s->machine, kernel_context(s), address, bytes, (size_t)size, &e);
    outcome_of_access(s, result, &e, size);
    if (!result && s->echo && !cli.json)
        hex_dump(s, address, bytes, (size_t)size);
    return 0;
}

static int run_kwrite(session *s, const statement *st)
{
    int status = ensure_machine(s, st);
    if (status)
        return status;
    uint8_t bytes[DATA_MAX];
    size_t length;
    if ((status = data_bytes(s, st, 1, bytes, sizeof bytes, &length)))
        return status;
    vas_exception e = {0};
    outcome_of_access(s, vas_kernel_write(s->machine, kernel_context(s), number_at(s, st, 0, 0), bytes, length, &e), &e,
                      length);
    if (s->last.kind == OUTCOME_OK)
        set_note("%zu byte%s written", length, length == 1 ? "" : "s");
    return 0;
}

/* ---- Views ------------------------------------------------------------------------------- */

static size_t view_processes(session *s, view_process *out)
{
    for (int i = 0; i < s->process_count; i++)
        out[i] = (view_process){.process = s->processes[i].process, .label = s->processes[i].name};
    return (size_t)s->process_count;
}

static int run_map(session *s, const statement *st)
{
    vas_process *p;
    int status = process_argument(s, st, positional(st, 0), &p);
    s->last.kind = OUTCOME_NONE;
    if (status || !s->echo) /* views print during vas run and the shell, not under vas map SCRIPT */
        return status;
    view_options options = current_view_options();
    if (strcmp(st->command->name, "frag") == 0) {
        const char *by = word_of(st, "by");
        options.per_page = by && strcmp(by, "page") == 0;
        view_frag(p, &options);
    } else {
        view_map(p, &options);
    }
    return 0;
}

/* VMMap's snapshots: `snapshot` keeps the map of a process, `diff` shows what changed since. */
static int run_snapshot(session *s, const statement *st)
{
    vas_process *p;
    int status = process_argument(s, st, positional(st, 0), &p);
    if (status)
        return status;
    if (s->snapshot_count == MAX_SNAPSHOTS)
        return runtime_error(st, st->tokens[0].column, "found a snapshot too many, expected at most %d", MAX_SNAPSHOTS);
    if (!process_map_build(p, &s->snapshots[s->snapshot_count].map))
        return runtime_error(st, st->tokens[0].column, "out of memory");
    s->snapshots[s->snapshot_count].process = p;
    outcome_ok(s, (uint64_t)++s->snapshot_count);
    set_note("%s%ssnapshot %d of %s", st->assign ? st->assign : "", st->assign ? " = " : "", s->snapshot_count,
             vas_process_name(p));
    return 0;
}

static int snapshot_argument(session *s, const statement *st, int index, const process_map **map, vas_process **of)
{
    const argument *a = positional(st, index);
    uint64_t id = evaluate(s, st, a);
    if (id < 1 || id > (uint64_t)s->snapshot_count)
        return runtime_error(st, a->column, "found snapshot %" PRIu64 ", expected one taken earlier (1 to %d)", id,
                             s->snapshot_count);
    *map = &s->snapshots[id - 1].map;
    *of = s->snapshots[id - 1].process;
    return 0;
}

static int run_diff(session *s, const statement *st)
{
    const process_map *before = NULL, *after = NULL;
    vas_process *p = NULL, *q = NULL;
    int status = snapshot_argument(s, st, 0, &before, &p);
    if (status)
        return status;
    process_map now = {0};
    if (positional(st, 1)) {
        if ((status = snapshot_argument(s, st, 1, &after, &q)))
            return status;
        if (q != p)
            return runtime_error(st, positional(st, 1)->column, "found a snapshot of another process, expected two "
                                 "of one process");
    } else {
        bool alive = false;
        for (int i = 0; i < s->process_count; i++)
            alive |= s->processes[i].process == p;
        if (!alive)
            return runtime_error(st, positional(st, 0)->column, "found a snapshot of a process that has ended, "
                                 "expected one of a live process (or two snapshots)");
        if (!process_map_build(p, &now))
            return runtime_error(st, st->tokens[0].column, "out of memory");
        after = &now;
    }
    s->last.kind = OUTCOME_NONE;
    view_options options = current_view_options();
    if (s->echo)
        view_diff(before, after, &options);
    process_map_free(&now);
    return 0;
}

static int run_physical(session *s, const statement *st)
{
    int status = ensure_machine(s, st);
    if (status)
        return status;
    view_process processes[MAX_PROCESSES];
    size_t count = view_processes(s, processes);
    view_options options = current_view_options();
    if (s->echo)
        view_physical(s->machine, processes, count, &options);
    s->last.kind = OUTCOME_NONE;
    return 0;
}

static int run_stats(session *s, const statement *st)
{
    int status = ensure_machine(s, st);
    if (status)
        return status;
    vas_process *p = NULL;
    if (positional(st, 0) || current_process(s))
        if ((status = process_argument(s, st, positional(st, 0), &p)))
            return status;
    view_options options = current_view_options();
    if (s->echo)
        view_stats(s->machine, p, &options);
    s->last.kind = OUTCOME_NONE;
    return 0;
}

static int run_report(session *s, const statement *st)
{
    int status = ensure_machine(s, st);
    if (status)
        return status;
    view_process processes[MAX_PROCESSES];
    size_t count = view_processes(s, processes);
    const char *path = string_of(st, positional(st, 0));
    int error = report_write_html(path, s->machine, processes, count, st->file);
    if (error)
        return runtime_error(st, positional(st, 0)->column, "cannot write %s: %s", path, strerror(error));
    outcome_ok(s, 0);
    set_note("report written to %s", path);
    return 0;
}

static int run_print(session *s, const statement *st)
{
    char line[DATA_MAX] = "";
    size_t used = 0;
    for (int i = 0; i < st->arg_count && used < sizeof line - 1; i++) {
        const argument *a = &st->args[i];
        const token *t = &st->tokens[a->first];
        int n;
        if (a->count == 1 && t->kind == TOKEN_STRING)
            n = snprintf(line + used, sizeof line - used, "%s%.*s", i ? " " : "", (int)t->length, t->text);
        else
            n = snprintf(line + used, sizeof line - used, "%s%s", i ? " " : "", address_text(s, evaluate(s, st, a)).s);
        if (n < 0)
            break;
        used += (size_t)n < sizeof line - used ? (size_t)n : sizeof line - used - 1;
    }
    if (s->echo && !cli.json)
        printf("  %s\n", line);
    s->last.kind = OUTCOME_NONE;
    return 0;
}

/* ---- expect ------------------------------------------------------------------------------
 * expect ok | error E | last_error E | exception E [at E] [read|write|execute]
 *      | query E FIELD OP E | counter NAME OP E | read E E (==|!=) DATA... | E OP E */

typedef enum value_kind { VALUE_NUMBER, VALUE_PROTECT, VALUE_STATE, VALUE_TYPE, VALUE_SIZE } value_kind;

static const struct query_field {
    const char *name;
    size_t offset;
    int is_32;
    value_kind kind;
} query_fields[] = {
    {"base_address", offsetof(vas_memory_basic_information, base_address), 0, VALUE_NUMBER},
    {"allocation_base", offsetof(vas_memory_basic_information, allocation_base), 0, VALUE_NUMBER},
    {"allocation_protect", offsetof(vas_memory_basic_information, allocation_protect), 1, VALUE_PROTECT},
    {"region_size", offsetof(vas_memory_basic_information, region_size), 0, VALUE_SIZE},
    {"state", offsetof(vas_memory_basic_information, state), 1, VALUE_STATE},
    {"protect", offsetof(vas_memory_basic_information, protect), 1, VALUE_PROTECT},
    {"type", offsetof(vas_memory_basic_information, type), 1, VALUE_TYPE},
};

static const struct query_field *find_query_field(const char *name)
{
    for (size_t i = 0; i < sizeof query_fields / sizeof query_fields[0]; i++)
        if (strcmp(query_fields[i].name, name) == 0)
            return &query_fields[i];
    return NULL;
}

/* The figures `expect counter` may name: the current process's counters, then the machine's. */
typedef enum counter_source { FROM_PROCESS, FROM_MEMORY, FROM_PHYSICAL, FROM_PAGING } counter_source;
static const struct counter {
    const char *name;
    counter_source source;
    size_t offset;
    int is_32;
} counters[] = {
#define P(field) {#field, FROM_PROCESS, offsetof(vas_process_counters, field), 0}
    P(virtual_size), P(peak_virtual_size), P(commit_charge), P(peak_commit_charge), P(allocation_count),
    P(working_set_size), P(peak_working_set_size), P(page_fault_count), P(demand_zero_faults), P(guard_page_faults),
    P(access_violations), P(page_table_pages), P(soft_faults), P(hard_faults), P(in_page_errors), P(locked_pages),
#undef P
#define M(field, is_32) {#field, FROM_MEMORY, offsetof(vas_memory_status, field), is_32}
    M(total_phys, 0), M(avail_phys, 0), M(commit_limit, 0), M(commit_total, 0), M(commit_peak, 0),
    M(avail_commit, 0), M(process_count, 1), M(memory_load, 1),
#undef M
    {"frames_zeroed", FROM_PHYSICAL, offsetof(vas_physical_status, zeroed), 0},
    {"frames_free", FROM_PHYSICAL, offsetof(vas_physical_status, free), 0},
    {"frames_standby", FROM_PHYSICAL, offsetof(vas_physical_status, standby), 0},
    {"frames_modified", FROM_PHYSICAL, offsetof(vas_physical_status, modified), 0},
    {"frames_active", FROM_PHYSICAL, offsetof(vas_physical_status, active), 0},
    {"page_table_frames", FROM_PHYSICAL, offsetof(vas_physical_status, page_table_frames), 0},
    {"pagefile_used", FROM_PAGING, offsetof(vas_paging_status, pagefile_used), 0},
    {"pagefile_reads", FROM_PAGING, offsetof(vas_paging_status, reads), 0},
    {"pagefile_writes", FROM_PAGING, offsetof(vas_paging_status, writes), 0},
    {"pages_written", FROM_PAGING, offsetof(vas_paging_status, pages_written), 0},
    {"trimmed_pages", FROM_PAGING, offsetof(vas_paging_status, trimmed_pages), 0},
};

static const struct counter *find_counter(const char *name)
{
    for (size_t i = 0; i < sizeof counters / sizeof counters[0]; i++)
        if (strcmp(counters[i].name, name) == 0)
            return &counters[i];
    return NULL;
}

static uint64_t field_at(const void *base, size_t offset, int is_32)
{
    const char *p = (const char *)base + offset;
    if (is_32) {
        uint32_t v;
        memcpy(&v, p, sizeof v);
        return v;
    }
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static int counter_value(session *s, const statement *st, const argument *a, uint64_t *value)
{
    const struct counter *c = find_counter(st->tokens[a->first].text);
    union {
        vas_process_counters process;
        vas_memory_status memory;
        vas_physical_status physical;
        vas_paging_status paging;
    } source;
    memset(&source, 0, sizeof source);
    int status = ensure_machine(s, st);
    if (status)
        return status;
    switch (c->source) {
    case FROM_PROCESS: {
        vas_process *p = current_process(s);
        if (!p)
            return runtime_error(st, a->column, "found counter %s with no process, expected `process NAME` first", c->name);
        vas_process_get_counters(p, &source.process);
        break;
    }
    case FROM_MEMORY: vas_global_memory_status(s->machine, &source.memory); break;
    case FROM_PHYSICAL: vas_get_physical_status(s->machine, &source.physical); break;
    case FROM_PAGING: vas_get_paging_status(s->machine, &source.paging); break;
    }
    *value = field_at(&source, c->offset, c->is_32);
    return 0;
}

static const char *value_text(value_kind kind, uint64_t value)
{
    static char buffer[160];
    char name[96];
    switch (kind) {
    case VALUE_PROTECT:
        snprintf(buffer, sizeof buffer, "%s (%#" PRIx64 ")", vas_protect_name((uint32_t)value, name, sizeof name), value);
        break;
    case VALUE_STATE: snprintf(buffer, sizeof buffer, "%s (%#" PRIx64 ")", vas_state_name((uint32_t)value), value); break;
    case VALUE_TYPE: snprintf(buffer, sizeof buffer, "%s (%#" PRIx64 ")", vas_type_name((uint32_t)value), value); break;
    case VALUE_SIZE: snprintf(buffer, sizeof buffer, "%#" PRIx64 " (%s)", value, size_label(value).s); break;
    default: snprintf(buffer, sizeof buffer, "%#" PRIx64 " (%" PRIu64 ")", value, value); break;
    }
    return buffer;
}

static bool compare(const char *op, uint64_t a, uint64_t b)
{
    if (strcmp(op, "==") == 0) return a == b;
    if (strcmp(op, "!=") == 0) return a != b;
    if (strcmp(op, "<") == 0) return a < b;
    if (strcmp(op, "<=") == 0) return a <= b;
    if (strcmp(op, ">") == 0) return a > b;
    return a >= b;
}

static bool word_is(const statement *st, const argument *a, const char *word)
{
    return a && a->count == 1 && st->tokens[a->first].kind == TOKEN_WORD && strcmp(st->tokens[a->first].text, word) == 0;
}

static bool is_comparison_argument(const statement *st, const argument *a)
{
    return a && a->count == 1 && is_comparison(&st->tokens[a->first]);
}

static bool expect_shape_error(const statement *st, int index, const char *expected, script_error *error)
{
    const argument *a = index < st->arg_count ? &st->args[index] : NULL;
    if (a)
        set_error(error, st->line, a->column, "found %s, expected %s", describe(&st->tokens[a->first]), expected);
    else {
        const token *last = &st->tokens[st->token_count - 1];
        set_error(error, st->line, last->column + (int)last->length, "found the end of the line, expected %s", expected);
    }
    return false;
}

static bool check_expect(session *s, statement *st, script_error *error)
{
    const argument *a = st->args;
    int n = st->arg_count;
    for (int i = 0; i < n; i++)
        if (a[i].key) {
            set_error(error, st->line, a[i].column, "found '%s=', expected no key=value in expect", a[i].key);
            return false;
        }
    if ((word_is(st, &a[0], "query") || word_is(st, &a[0], "read")) && s->declared_count == 0) {
        set_error(error, st->line, a[0].column, "found expect %s with no process, expected `process NAME` on an "
                  "earlier line", st->tokens[a[0].first].text);
        return false;
    }
    if (n == 0)
        return expect_shape_error(st, 0, "ok, error, exception, query, counter, read or a comparison", error);
    if (word_is(st, &a[0], "ok"))
        return n == 1 || expect_shape_error(st, 1, "the end of the line", error);
    if (word_is(st, &a[0], "error") || word_is(st, &a[0], "last_error")) {
        if (n < 2)
            return expect_shape_error(st, 1, "an error such as ERROR_INVALID_ADDRESS", error);
        return check_expression(s, st, a[1].first, a[1].count, error) &&
               (n == 2 || expect_shape_error(st, 2, "the end of the line", error));
    }
    if (word_is(st, &a[0], "exception")) {
        if (n < 2)
            return expect_shape_error(st, 1, "an exception code such as STATUS_ACCESS_VIOLATION", error);
        if (!check_expression(s, st, a[1].first, a[1].count, error))
            return false;
        int next = 2;
        if (next < n && word_is(st, &a[next], "at")) {
            if (n < 4)
                return expect_shape_error(st, 3, "the faulting address", error);
            if (!check_expression(s, st, a[3].first, a[3].count, error))
                return false;
            next = 4;
        }
        if (next < n && (word_is(st, &a[next], "read") || word_is(st, &a[next], "write") ||
                         word_is(st, &a[next], "execute")))
            next++;
        return next == n || expect_shape_error(st, next, next == 2 ? "'at', read, write, execute or the end of the line"
                                                                    : "read, write, execute or the end of the line",
                                                error);
    }
    if (word_is(st, &a[0], "query")) {
        if (n < 2 || !check_expression(s, st, a[1].first, a[1].count, error))
            return n < 2 ? expect_shape_error(st, 1, "an address", error) : false;
        if (n < 3 || a[2].count != 1 || !find_query_field(st->tokens[a[2].first].text))
            return expect_shape_error(st, 2, "a field: base_address, allocation_base, allocation_protect, region_size, "
                                             "state, protect or type", error);
        if (!is_comparison_argument(st, n > 3 ? &a[3] : NULL))
            return expect_shape_error(st, 3, "a comparison: == != < <= > >=", error);
        if (n < 5)
            return expect_shape_error(st, 4, "a value", error);
        return check_expression(s, st, a[4].first, a[4].count, error) &&
               (n == 5 || expect_shape_error(st, 5, "the end of the line", error));
    }
    if (word_is(st, &a[0], "counter")) {
        if (n < 2 || a[1].count != 1 || !find_counter(st->tokens[a[1].first].text))
            return expect_shape_error(st, 1, "a counter name (see docs/scenario.md: commit_charge, working_set_size, "
                                             "commit_total, ...)", error);
        if (find_counter(st->tokens[a[1].first].text)->source == FROM_PROCESS && s->declared_count == 0) {
            set_error(error, st->line, a[1].column, "found the process counter %s with no process, expected `process "
                      "NAME` on an earlier line", st->tokens[a[1].first].text);
            return false;
        }
        if (!is_comparison_argument(st, n > 2 ? &a[2] : NULL))
            return expect_shape_error(st, 2, "a comparison: == != < <= > >=", error);
        if (n < 4)
            return expect_shape_error(st, 3, "a value", error);
        return check_expression(s, st, a[3].first, a[3].count, error) &&
               (n == 4 || expect_shape_error(st, 4, "the end of the line", error));
    }
    if (word_is(st, &a[0], "read")) {
        for (int i = 1; i <= 2; i++)
            if (n <= i || !check_expression(s, st, a[i].first, a[i].count, error))
                return n <= i ? expect_shape_error(st, i, i == 1 ? "an address" : "a size", error) : false;
        if (n < 4 || !(word_is(st, &a[3], "==") || is_operator(&st->tokens[a[3].first], "==") ||
                       is_operator(&st->tokens[a[3].first], "!=")))
            return expect_shape_error(st, 3, "== or !=", error);
        if (n < 5)
            return expect_shape_error(st, 4, "the bytes: a string or byte values", error);
        for (int i = 4; i < n; i++)
            if (!check_argument(s, st, &a[i], 'd', "data", error))
                return false;
        return true;
    }
    if (!check_expression(s, st, a[0].first, a[0].count, error))
        return false;
    if (!is_comparison_argument(st, n > 1 ? &a[1] : NULL))
        return expect_shape_error(st, 1, "a comparison: == != < <= > >=", error);
    if (n < 3)
        return expect_shape_error(st, 2, "a value", error);
    return check_expression(s, st, a[2].first, a[2].count, error) &&
           (n == 3 || expect_shape_error(st, 3, "the end of the line", error));
}

static const char *outcome_text(session *s, const outcome *o)
{
    static char buffer[200];
    switch (o->kind) {
    case OUTCOME_OK: snprintf(buffer, sizeof buffer, "the call succeeded"); break;
    case OUTCOME_FAILED:
        snprintf(buffer, sizeof buffer, "the call failed with %" PRIu32 " %s", o->code, vas_error_name(o->code));
        break;
    case OUTCOME_EXCEPTION:
        snprintf(buffer, sizeof buffer, "the access raised 0x%08" PRIX32 " %s (%s at %s)", o->code,
                 vas_status_name(o->code), access_name(o->exception.access), address_text(s, o->exception.address).s);
        break;
    default: snprintf(buffer, sizeof buffer, "the line before made no call"); break;
    }
    return buffer;
}

/* Bytes for a message: hex, then the printable ones in quotes ("68 65 6C 6C 6F (\"hello\")"). */
#define BYTES_SHOWN 16
#define BYTES_TEXT_MAX (4 * BYTES_SHOWN + 16)
static void bytes_text(const uint8_t *bytes, size_t length, char *out)
{
    size_t used = 0, shown = length < BYTES_SHOWN ? length : BYTES_SHOWN;
    for (size_t i = 0; i < shown; i++)
        used += (size_t)snprintf(out + used, BYTES_TEXT_MAX - used, "%s%02X", i ? " " : "", bytes[i]);
    used += (size_t)snprintf(out + used, BYTES_TEXT_MAX - used, "%s (\"", length > shown ? " ..." : "");
    for (size_t i = 0; i < shown; i++)
        out[used++] = isprint(bytes[i]) ? (char)bytes[i] : '.';
    snprintf(out + used, BYTES_TEXT_MAX - used, "\")");
}

/* An expression as written, for a message: "a+4K". */
static const char *argument_text(const statement *st, const argument *a)
{
    static char buffer[160];
    size_t used = 0;
    buffer[0] = 0;
    for (int i = 0; i < a->count && used < sizeof buffer; i++)
        used += (size_t)snprintf(buffer + used, sizeof buffer - used, "%s", st->tokens[a->first + i].text);
    return buffer;
}

static int expect_failed(const statement *st, const char *format, ...) __attribute__((format(printf, 2, 3)));
static int expect_failed(const statement *st, const char *format, ...)
{
    run_error.line = st->line;
    run_error.column = st->tokens[0].column;
    va_list args;
    va_start(args, format);
    vsnprintf(run_error.message, sizeof run_error.message, format, args);
    va_end(args);
    return EXIT_EXPECT_FAILED;
}

static int run_expect(session *s, const statement *st)
{
    const argument *a = st->args;
    outcome last = s->last;
    int status;
    if (word_is(st, &a[0], "ok")) {
        if (last.kind != OUTCOME_OK)
            return expect_failed(st, "%s, expected success", outcome_text(s, &last));
    } else if (word_is(st, &a[0], "error")) {
        uint64_t want = evaluate(s, st, &a[1]);
        if (last.kind != OUTCOME_FAILED || last.code != want)
            return expect_failed(st, "%s, expected it to fail with %" PRIu64 " %s", outcome_text(s, &last), want,
                                 vas_error_name((uint32_t)want));
    } else if (word_is(st, &a[0], "last_error")) {
        uint64_t want = evaluate(s, st, &a[1]);
        if (last.last_error != want)
            return expect_failed(st, "the last error is %" PRIu32 " %s, expected %" PRIu64 " %s", last.last_error,
                                 vas_error_name(last.last_error), want, vas_error_name((uint32_t)want));
    } else if (word_is(st, &a[0], "exception")) {
        uint64_t want = evaluate(s, st, &a[1]);
        if (last.kind != OUTCOME_EXCEPTION || last.code != want)
            return expect_failed(st, "%s, expected exception 0x%08" PRIX32 " %s", outcome_text(s, &last), (uint32_t)want,
                                 vas_status_name((uint32_t)want));
        int next = 2;
        if (next < st->arg_count && word_is(st, &a[next], "at")) {
            uint64_t at = evaluate(s, st, &a[3]);
            if (last.exception.address != at) {
                char got[48];
                snprintf(got, sizeof got, "%s", address_text(s, last.exception.address).s);
                return expect_failed(st, "the exception's address is %s, expected %s", got, address_text(s, at).s);
            }
            next = 4;
        }
        if (next < st->arg_count) {
            const char *access = st->tokens[a[next].first].text;
            if (strcmp(access, access_name(last.exception.access)) != 0)
                return expect_failed(st, "the exception is a %s fault, expected a %s fault",
                                     access_name(last.exception.access), access);
        }
    } else if (word_is(st, &a[0], "query")) {
        NEED_PROCESS(s, st, p);
        uint64_t address = evaluate(s, st, &a[1]);
        const struct query_field *f = find_query_field(st->tokens[a[2].first].text);
        vas_memory_basic_information info;
        if (!vas_virtual_query(p, address, &info, sizeof info))
            return expect_failed(st, "VirtualQuery(%s) failed with %" PRIu32 " %s, expected a %s", address_text(s, address).s,
                                 vas_last_error(), vas_error_name(vas_last_error()), f->name);
        uint64_t got = field_at(&info, f->offset, f->is_32), want = evaluate(s, st, &a[4]);
        const char *op = st->tokens[a[3].first].text;
        if (!compare(op, got, want)) {
            char got_text[160];
            snprintf(got_text, sizeof got_text, "%s", value_text(f->kind, got));
            return expect_failed(st, "%s of %s is %s, expected %s %s", f->name, address_text(s, address).s, got_text, op,
                                 value_text(f->kind, want));
        }
    } else if (word_is(st, &a[0], "counter")) {
        uint64_t got = 0;
        if ((status = counter_value(s, st, &a[1], &got)))
            return status;
        uint64_t want = evaluate(s, st, &a[3]);
        const char *op = st->tokens[a[2].first].text;
        if (!compare(op, got, want)) {
            char got_text[160];
            snprintf(got_text, sizeof got_text, "%s", value_text(VALUE_NUMBER, got));
            return expect_failed(st, "counter %s is %s, expected %s %s", st->tokens[a[1].first].text, got_text, op,
                                 value_text(VALUE_NUMBER, want));
        }
    } else if (word_is(st, &a[0], "read")) {
        NEED_PROCESS(s, st, p);
        uint8_t want[DATA_MAX], got[DATA_MAX];
        size_t length;
        if ((status = data_bytes(s, st, 4, want, sizeof want, &length)))
            return status;
        uint64_t address = evaluate(s, st, &a[1]), size = evaluate(s, st, &a[2]);
        if (size != length)
            return runtime_error(st, a[2].column, "found a size of %" PRIu64 ", expected the %zu bytes compared", size, length);
        vas_exception e = {0};
        uint32_t result = vas_read(p, address, got, length, &e);
        if (result)
            return expect_failed(st, "reading %s raised 0x%08" PRIX32 " %s, expected %zu bytes", address_text(s, address).s,
                                 result, vas_status_name(result), length);
        bool equal = memcmp(got, want, length) == 0;
        if (equal != is_operator(&st->tokens[a[3].first], "==")) {
            char got_text[BYTES_TEXT_MAX], want_text[BYTES_TEXT_MAX];
            bytes_text(got, length, got_text);
            bytes_text(want, length, want_text);
            return expect_failed(st, "the bytes at %s are %s, expected %s%s", address_text(s, address).s, got_text,
                                 equal ? "anything but " : "", want_text);
        }
    } else {
        uint64_t got = evaluate(s, st, &a[0]), want = evaluate(s, st, &a[2]);
        const char *op = st->tokens[a[1].first].text;
        if (!compare(op, got, want)) {
            char got_text[160];
            snprintf(got_text, sizeof got_text, "%s", value_text(VALUE_NUMBER, got));
            return expect_failed(st, "%s is %s, expected %s %s", argument_text(st, &a[0]), got_text, op,
                                 value_text(VALUE_NUMBER, want));
        }
    }
    s->last = last; /* an expect changes no outcome: several may test one call */
    set_note("holds");
    return 0;
}

/* ---- help -------------------------------------------------------------------------------- */

static void print_help(const char *name);

static int run_help(session *s, const statement *st)
{
    const char *name = word_at(st, 0);
    if (name && !find_command(name))
        return runtime_error(st, positional(st, 0)->column, "found '%s', expected a command name", name);
    print_help(name);
    s->last.kind = OUTCOME_NONE;
    return 0;
}

/* ---- The command table ------------------------------------------------------------------- */

static const command commands[] = {
    {"machine", "", "c:layout e:ram e:pagefile e:increase_user_va c:policy", run_machine,
     "machine [layout=x64|x64_win7|x86|ia64|win9x] [ram=SIZE] [pagefile=SIZE] [increase_user_va=MB] "
     "[policy=aging|fifo|clock|lru]",
     "Configures the machine; must come before the first process (else the defaults: x64, 256 MB of RAM, a "
     "512 MB paging file). pagefile=0 means no paging file."},
    {"process", "n:name", "s:name e:bits c:laa c:dep s:image s:dll_path e:seed e:tlb", run_process,
     "process NAME [bits=32|64] [laa=yes|no] [dep=on|off|permanent] [image=\"FILE.exe\"] [dll_path=\"DIRS\"] "
     "[name=\"notepad.exe\"] [seed=N] [tlb=N] -> pid",
     "Creates a process (from an executable with image=) and makes it the current one."},
    {"use", "p:process", "", run_use, "use PROCESS", "Makes PROCESS the current process."},
    {"destroy", "p:process", "", run_destroy, "destroy PROCESS", "Ends a process and frees all its memory."},
    {"thread", "!", "e:stack e:commit", run_thread, "thread [stack=SIZE] [commit=SIZE] -> thread id",
     "CreateThread's memory: a TEB and a stack with its guard page. `t = thread` also sets t.teb, t.stack_base, "
     "t.stack_limit and t.deallocation_stack."},
    {"exit_thread", "!e:id", "", run_exit_thread, "exit_thread ID", "Frees a thread's TEB and stack."},
    {"alloc", "!e:address e:size e:type e:protect", "", run_alloc, "alloc ADDRESS SIZE TYPE PROTECT -> address",
     "VirtualAlloc. Example: a = alloc 0 64K MEM_COMMIT|MEM_RESERVE PAGE_READWRITE"},
    {"free", "!e:address e:size e:type", "", run_free, "free ADDRESS SIZE MEM_DECOMMIT|MEM_RELEASE", "VirtualFree."},
    {"protect", "!e:address e:size e:protect", "", run_protect, "protect ADDRESS SIZE PROTECT -> old protection",
     "VirtualProtect."},
    {"query", "!e:address", "", run_query, "query ADDRESS", "VirtualQuery: prints MEMORY_BASIC_INFORMATION."},
    {"walk", "!e:address", "", run_walk, "walk ADDRESS -> physical address",
     "The page-table walk of an address, level by level (faults nothing in)."},
    {"read", "!e:address e:size", "", run_read, "read ADDRESS SIZE",
     "A user-mode read (at most 4096 bytes), printed as a hex dump; may raise an exception."},
    {"write", "!e:address *d:data", "", run_write, "write ADDRESS DATA...",
     "A user-mode write of strings (\"text\") and byte values (0x41); may raise an exception."},
    {"execute", "!e:address", "", run_execute, "execute ADDRESS",
     "An instruction fetch: DEP raises STATUS_ACCESS_VIOLATION on pages without execute access."},
    {"dep_policy", "!e:flags", "", run_dep_policy, "dep_policy FLAGS",
     "SetProcessDEPPolicy: 0, or PROCESS_DEP_ENABLE (|PROCESS_DEP_DISABLE_ATL_THUNK_EMULATION); 32-bit processes."},
    {"touch", "!e:address e:size ?c:access", "", run_touch, "touch ADDRESS SIZE [read|write] -> pages",
     "Reads (or writes) one byte in every page of the range; stops at the first exception."},
    {"lock", "!e:address e:size", "", run_lock, "lock ADDRESS SIZE", "VirtualLock."},
    {"unlock", "!e:address e:size", "", run_lock, "unlock ADDRESS SIZE", "VirtualUnlock."},
    {"trim", "!", "", run_trim, "trim", "EmptyWorkingSet of the current process."},
    {"working_set", "!e:minimum e:maximum", "", run_working_set, "working_set MINIMUM MAXIMUM",
     "SetProcessWorkingSetSize."},
    {"write_modified", "", "", run_write_modified, "write_modified -> pages",
     "Runs the modified page writer: every modified page goes to its paging file or mapped file."},
    {"section", "", "s:file e:size e:protect s:name", run_section,
     "section [file=\"PATH\"] [size=SIZE] [protect=PAGE_READWRITE|SEC_COMMIT] [name=\"NAME\"] -> handle",
     "CreateFileMapping: a section over a file, or over the paging file without file=."},
    {"open_section", "s:name ?e:access", "", run_open_section, "open_section \"NAME\" [ACCESS] -> handle",
     "OpenFileMapping."},
    {"close", "e:handle", "", run_close, "close HANDLE", "CloseHandle of a section."},
    {"map_view", "!e:section e:access", "e:offset e:size e:base", run_map_view,
     "map_view SECTION ACCESS [offset=N] [size=N] [base=ADDRESS] -> address",
     "MapViewOfFileEx. ACCESS: FILE_MAP_READ, FILE_MAP_WRITE, FILE_MAP_COPY, FILE_MAP_ALL_ACCESS, |FILE_MAP_EXECUTE."},
    {"unmap", "!e:address", "", run_unmap, "unmap ADDRESS", "UnmapViewOfFile."},
    {"flush", "!e:address ?e:size", "", run_flush, "flush ADDRESS [SIZE]", "FlushViewOfFile."},
    {"image", "!s:path", "", run_image, "image \"FILE.dll\" -> address", "Maps a PE file as an image (SEC_IMAGE)."},
    {"pool_alloc", "c:pool e:size t:tag", "", run_pool_alloc, "pool_alloc paged|nonpaged SIZE \"Tag\" -> address",
     "ExAllocatePoolWithTag."},
    {"pool_free", "e:address t:tag", "", run_pool_free, "pool_free ADDRESS \"Tag\"", "ExFreePoolWithTag."},
    {"attach", "p:process", "", run_attach, "attach PROCESS",
     "KeStackAttachProcess: kernel accesses (kread, kwrite) then run in PROCESS's address space."},
    {"detach", "", "", run_detach, "detach", "KeUnstackDetachProcess."},
    {"kread", "e:address e:size", "", run_kread, "kread ADDRESS SIZE",
     "A kernel-mode read: system space, and the user space of the attached (else current) process."},
    {"kwrite", "e:address *d:data", "", run_kwrite, "kwrite ADDRESS DATA...", "A kernel-mode write."},
    {"map", "!?p:process", "", run_map, "map [PROCESS]",
     "VMMap's view: the summary by kind, then every allocation and its sub-blocks."},
    {"frag", "!?p:process", "c:by", run_map, "frag [PROCESS] [by=granule|page]",
     "The fragmentation view: one cell per 64 KB granule (or page) of user space, with the largest free block."},
    {"physical", "", "", run_physical, "physical", "Who owns each physical frame, and the frame lists."},
    {"snapshot", "!?p:process", "", run_snapshot, "snapshot [PROCESS] -> snapshot id",
     "Keeps the map of a process, as VMMap's F5 does, for diff."},
    {"diff", "!e:snapshot ?e:snapshot", "", run_diff, "diff SNAPSHOT [SNAPSHOT]",
     "VMMap's Show Changes: allocations new, released and changed between a snapshot and now (or a second "
     "snapshot), and the totals' deltas."},
    {"stats", "?p:process", "", run_stats, "stats [PROCESS]", "The machine's figures and the process's counters."},
    {"report", "s:path", "", run_report, "report \"FILE.html\"",
     "Writes the HTML report of the machine: address spaces, physical memory, figures."},
    {"value", "e:value", "", run_value, "value EXPRESSION -> value",
     "The value of an expression; `x = a + 64K` is short for `x = value a + 64K`."},
    {"print", "*v:values", "", run_print, "print VALUE...", "Prints strings and values (as addresses)."},
    {"expect", "", "", run_expect,
     "expect ok | error E | last_error E | exception E [at ADDRESS] [read|write|execute] | "
     "query ADDRESS FIELD OP V | counter NAME OP V | read ADDRESS SIZE == DATA | V OP V",
     "Asserts the outcome of the call before, a VirtualQuery field, a counter, memory contents or a value; "
     "a failed expect stops the script with exit code 1."},
    {"help", "?h:command", "", run_help, "help [COMMAND]", "Lists the commands, or explains one."},
};
static const size_t command_count = sizeof commands / sizeof commands[0];

static void print_help(const char *name)
{
    if (cli.json) { /* one document: the commands asked for, with their synopsis and help */
        json_writer w;
        json_begin(&w, stdout);
        json_object_begin(&w, NULL);
        json_string(&w, "command", "help");
        json_array_begin(&w, "commands");
        for (size_t i = 0; i < command_count; i++) {
            if (name && strcmp(name, commands[i].name) != 0)
                continue;
            json_object_begin(&w, NULL);
            json_string(&w, "name", commands[i].name);
            json_string(&w, "synopsis", commands[i].synopsis);
            json_string(&w, "help", commands[i].help);
            json_object_end(&w);
        }
        json_array_end(&w);
        json_object_end(&w);
        json_end(&w);
        return;
    }
    if (name) {
        const command *c = find_command(name);
        printf("  %s\n    %s\n", c->synopsis, c->help);
        return;
    }
    printf("  Commands (help COMMAND for one; docs/scenario.md for the language):\n");
    for (size_t i = 0; i < command_count; i++)
        printf("    %s\n", commands[i].synopsis);
    printf("  Numbers: 4096, 0x1000, 64K, 2M, 1G. Constants: MEM_COMMIT|MEM_RESERVE, PAGE_READWRITE, ...\n"
           "  Variables: a = alloc ...; later lines use a, a+4K; `result` is the last call's value.\n");
}

/* ---- Running statements and scripts ------------------------------------------------------- */

static void print_outcome(session *s, const statement *st)
{
    if (cli.json) {
        if (s->last.kind == OUTCOME_NONE && strcmp(st->command->name, "expect") != 0)
            return; /* a view printed its own document */
        const outcome *o = &s->last;
        json_writer w;
        json_begin(&w, stdout);
        json_object_begin(&w, NULL);
        json_string(&w, "file", st->file);
        json_u64(&w, "line", (uint64_t)st->line);
        json_string(&w, "command", st->command->name);
        if (strcmp(st->command->name, "expect") == 0) {
            json_string(&w, "outcome", "holds");
        } else if (o->kind == OUTCOME_OK) {
            json_string(&w, "outcome", "ok");
            json_hex(&w, "value", o->value);
        } else if (o->kind == OUTCOME_FAILED) {
            json_string(&w, "outcome", "failed");
            json_u64(&w, "error", o->code);
            json_string(&w, "error_name", vas_error_name(o->code));
        } else {
            json_string(&w, "outcome", "exception");
            json_hex(&w, "code", o->code);
            json_string(&w, "code_name", vas_status_name(o->code));
            json_string(&w, "access", access_name(o->exception.access));
            json_hex(&w, "address", o->exception.address);
        }
        json_object_end(&w);
        json_end(&w);
        return;
    }
    const char *red = cli.colour ? "\033[31m" : "", *green = cli.colour ? "\033[32m" : "",
               *reset = cli.colour ? "\033[0m" : "";
    if (strcmp(st->command->name, "expect") == 0) {
        printf("  %sholds%s\n", green, reset);
        return;
    }
    switch (s->last.kind) {
    case OUTCOME_OK: printf("  %s\n", note[0] ? note : "ok"); break;
    case OUTCOME_FAILED:
        printf("  %sfails%s: %" PRIu32 " %s\n", red, reset, s->last.code, vas_error_name(s->last.code));
        break;
    case OUTCOME_EXCEPTION:
        printf("  %sexception%s 0x%08" PRIX32 " %s: %s at %s\n", red, reset, s->last.code, vas_status_name(s->last.code),
               access_name(s->last.exception.access), address_text(s, s->last.exception.address).s);
        break;
    default: break;
    }
}

static int run_statement(session *s, const statement *st)
{
    note[0] = 0;
    if (s->echo && !s->hide_source && !cli.json)
        printf("%s> %s%s\n", cli.colour ? "\033[1m" : "", st->source, cli.colour ? "\033[0m" : "");
    bool is_expect = strcmp(st->command->name, "expect") == 0;
    if (!is_expect)
        vas_set_last_error(0);
    int status = st->command->run(s, st);
    if (!is_expect)
        s->last.last_error = vas_last_error();
    if (st->assign && status == 0) {
        variable *v = declare_variable(s, st->assign);
        if (v)
            v->value = s->last.kind == OUTCOME_OK ? s->last.value : 0;
    }
    if (s->echo && status == 0)
        print_outcome(s, st);
    fflush(stdout);
    return status;
}

/* On stderr; with --json also as a last line of the stream, so a reader of stdout sees why it
   stopped. */
static void report_problem(const char *file, const script_error *e, int status)
{
    const char *what = status == EXIT_EXPECT_FAILED ? "expect failed" : "error";
    fflush(stdout);
    fprintf(stderr, "%s:%d:%d: %s: %s\n", file, e->line, e->column, what, e->message);
    if (!cli.json)
        return;
    json_writer w;
    json_begin(&w, stdout);
    json_object_begin(&w, NULL);
    json_string(&w, "file", file);
    json_u64(&w, "line", (uint64_t)e->line);
    json_u64(&w, "column", (uint64_t)e->column);
    json_string(&w, "outcome", status == EXIT_EXPECT_FAILED ? "expect_failed" : "error");
    json_string(&w, "message", e->message);
    json_object_end(&w);
    json_end(&w);
}

/* Parses every line of text, then (unless check_only) runs them in order; returns an exit code.
   A long run off a terminal shows its progress on stderr (on a terminal the transcript does). */
static int run_text(session *s, const char *file, char *text, bool check_only)
{
    size_t capacity = 64, count = 0;
    statement *statements = malloc(capacity * sizeof *statements);
    int status = statements ? EXIT_OK : EXIT_IO_ERROR;
    int line_number = 0;
    for (char *line = text; line && status == EXIT_OK;) {
        char *next = strchr(line, '\n');
        if (next)
            *next++ = 0;
        line_number++;
        if (count == capacity) {
            statement *grown = realloc(statements, 2 * capacity * sizeof *grown);
            if (!grown) {
                status = EXIT_IO_ERROR;
                break;
            }
            statements = grown;
            capacity *= 2;
        }
        script_error error;
        int parsed = parse_line(s, file, line_number, line, &statements[count], &error);
        if (parsed < 0) {
            report_problem(file, &error, EXIT_SCRIPT_ERROR);
            status = EXIT_SCRIPT_ERROR;
        } else if (parsed > 0) {
            count++;
        }
        line = next;
    }
    /* The parse declared the variables; they start at 0 again for the run. */
    for (size_t i = 0; i < s->variable_count; i++)
        s->variables[i].value = 0;
    bool show_progress = !s->echo || !isatty(STDOUT_FILENO);
    if (show_progress)
        progress_begin(file);
    for (size_t i = 0; i < count && status == EXIT_OK && !check_only; i++) {
        if (show_progress)
            progress_update("line %d (%zu of %zu)", statements[i].line, i + 1, count);
        status = run_statement(s, &statements[i]);
        if (status)
            report_problem(file, &run_error, status);
    }
    if (show_progress)
        progress_end();
    for (size_t i = 0; i < count; i++)
        statement_free(&statements[i]);
    free(statements);
    return status;
}

/* The whole of a file ("-": standard input), NUL-terminated; NULL with errno on failure. */
static char *read_file(const char *path)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f)
        return NULL;
    size_t capacity = 4096, length = 0;
    char *text = malloc(capacity);
    while (text) {
        size_t got = fread(text + length, 1, capacity - length - 1, f);
        length += got;
        if (length < capacity - 1) {
            if (ferror(f)) {
                free(text);
                text = NULL;
                errno = EIO;
            }
            break;
        }
        char *grown = realloc(text, capacity * 2);
        if (!grown) {
            free(text);
            text = NULL;
            break;
        }
        text = grown;
        capacity *= 2;
    }
    if (text) {
        text[length] = 0;
        if (strlen(text) != length) {
            free(text);
            text = NULL;
            errno = EILSEQ; /* a script is text: a zero byte means a wrong file */
        }
    }
    if (f != stdin)
        fclose(f);
    return text;
}

static int run_file(session *s, const char *path, bool check_only)
{
    char *text = read_file(path);
    if (!text) {
        fprintf(stderr, "vas: %s: %s\n", path, errno == EILSEQ ? "not a text file (it holds a zero byte)" : strerror(errno));
        return EXIT_IO_ERROR;
    }
    int status = run_text(s, strcmp(path, "-") == 0 ? "<stdin>" : path, text, check_only);
    free(text);
    return status;
}

int cli_run(int argc, char **argv)
{
    bool check_only = argc > 1 && strcmp(argv[1], "--check") == 0;
    int first = check_only ? 2 : 1;
    if (argc <= first || (argv[first][0] == '-' && argv[first][1])) {
        fprintf(stderr, "usage: vas run [--check] FILE...  (\"-\" reads standard input; --check: parse only)\n");
        return EXIT_USAGE;
    }
    int worst = EXIT_OK;
    json_one_line = 1; /* the run is a stream: one document a line */
    for (int i = first; i < argc; i++) {
        if (argc - first > 1 && !cli.json && !check_only)
            printf("%s# %s\n", i > first ? "\n" : "", argv[i]);
        session s;
        session_init(&s);
        s.echo = !check_only;
        int status = run_file(&s, argv[i], check_only);
        session_destroy(&s);
        if (status > worst)
            worst = status;
    }
    return worst;
}

/* ---- The shell --------------------------------------------------------------------------- */

#ifdef VAS_HAVE_LIBEDIT
#define LINE_EDITING 1
/* Tab completion: command names, Windows constants and the session's variables, each word
   completed on its own (after '|' too, as in MEM_COMMIT|MEM_RESERVE). */
static session *completing;

static char *complete_word(const char *prefix, int state)
{
    static size_t index;
    if (!state)
        index = 0;
    size_t length = strlen(prefix);
    size_t total = command_count + sizeof constants / sizeof constants[0] + completing->variable_count;
    while (index < total) {
        size_t i = index++;
        const char *word = i < command_count ? commands[i].name
                           : (i -= command_count) < sizeof constants / sizeof constants[0]
                               ? constants[i].name
                               : completing->variables[i - sizeof constants / sizeof constants[0]].name;
        if (strncmp(word, prefix, length) == 0)
            return strdup(word);
    }
    return NULL;
}
#else
#define LINE_EDITING 0
#endif

/* One line typed at the prompt, without its newline; NULL at the end of input. */
static char *read_line(const char *prompt, bool interactive)
{
#ifdef VAS_HAVE_LIBEDIT
    if (interactive) {
        char *line = readline(prompt);
        if (line && *line)
            add_history(line);
        return line;
    }
#endif
    if (interactive) {
        fputs(prompt, stdout);
        fflush(stdout);
    }
    size_t capacity = 0;
    char *line = NULL;
    ssize_t length = getline(&line, &capacity, stdin);
    if (length < 0) {
        free(line);
        return NULL;
    }
    if (length && line[length - 1] == '\n')
        line[length - 1] = 0;
    return line;
}

#ifdef VAS_HAVE_LIBEDIT
static char history_path[4096];
#endif

int cli_shell(int argc, char **argv)
{
    if (argc > 1) {
        fprintf(stderr, "usage: vas shell  (no arguments)\n");
        return EXIT_USAGE;
    }
    bool interactive = isatty(STDIN_FILENO);
    const char *home = getenv("HOME");
#ifdef VAS_HAVE_LIBEDIT
    if (interactive && home) {
        snprintf(history_path, sizeof history_path, "%s/.vas_history", home);
        read_history(history_path);
    }
    rl_completion_entry_function = complete_word;
    rl_basic_word_break_characters = " \t|=+-";
#endif
    (void)home;
    if (interactive)
        printf("vas %s shell: the scenario language, a line at a time. help lists the commands; quit ends.%s\n",
               vas_version(), LINE_EDITING ? "\nTab completes commands, constants and variables." : "");
    json_one_line = 1;
    session s;
    session_init(&s);
#ifdef VAS_HAVE_LIBEDIT
    completing = &s;
#endif
    s.echo = true;
    s.hide_source = interactive; /* a terminal shows the line already */
    int line_number = 0, worst = EXIT_OK;
    char prompt[NAME_MAX_LENGTH + 8];
    for (char *line; (snprintf(prompt, sizeof prompt, "%s> ", s.current >= 0 ? s.processes[s.current].name : "vas"),
                      line = read_line(prompt, interactive));
         free(line)) {
        line_number++;
        char word[8] = "";
        if (sscanf(line, " %7s %c", word, &(char){0}) == 1 && (strcmp(word, "quit") == 0 || strcmp(word, "exit") == 0)) {
            free(line);
            break;
        }
        statement st;
        script_error error;
        int parsed = parse_line(&s, "<shell>", line_number, line, &st, &error);
        if (parsed < 0) {
            report_problem("<shell>", &error, EXIT_SCRIPT_ERROR);
            worst = worst > EXIT_SCRIPT_ERROR ? worst : EXIT_SCRIPT_ERROR;
            continue;
        }
        if (parsed == 0)
            continue;
        int status = run_statement(&s, &st);
        if (status) {
            report_problem("<shell>", &run_error, status);
            worst = status > worst ? status : worst;
        }
        statement_free(&st);
    }
#ifdef VAS_HAVE_LIBEDIT
    if (interactive && history_path[0])
        write_history(history_path);
#endif
    session_destroy(&s);
    return interactive ? EXIT_OK : worst;
}

/* ---- Views over a script's machine -------------------------------------------------------- */

static named_process *process_named(session *s, const char *name)
{
    if (!name)
        return s->current >= 0 ? &s->processes[s->current] : NULL;
    return find_process(s, name);
}

int cli_view(int argc, char **argv)
{
    const char *view = argv[0];
    bool is_query = strcmp(view, "query") == 0, is_physical = strcmp(view, "physical") == 0;
    bool per_page = false;
    const char *positional_args[3] = {0};
    int count = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(view, "frag") == 0 && strcmp(argv[i], "--pages") == 0)
            per_page = true;
        else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "vas %s: unknown option %s\n", view, argv[i]);
            return EXIT_USAGE;
        } else if (count < 3)
            positional_args[count++] = argv[i];
        else
            count++;
    }
    int wanted_min = is_query ? 2 : 1, wanted_max = is_physical ? 1 : is_query ? 3 : 2;
    if (count < wanted_min || count > wanted_max) {
        fprintf(stderr, "usage: vas %s SCRIPT%s%s\n", view, is_query ? " ADDRESS" : "",
                is_physical ? "" : strcmp(view, "frag") == 0 ? " [PROCESS] [--pages]" : " [PROCESS]");
        return EXIT_USAGE;
    }
    session s;
    session_init(&s);
    int status = run_file(&s, positional_args[0], false);
    if (status == EXIT_OK) {
        view_options options = current_view_options();
        options.per_page = per_page;
        const char *process_name = positional_args[is_query ? 2 : 1];
        named_process *np = process_named(&s, process_name);
        if (is_physical) {
            view_process processes[MAX_PROCESSES];
            size_t n = view_processes(&s, processes);
            if (s.machine)
                view_physical(s.machine, processes, n, &options);
        } else if (!np) {
            char names[512] = "";
            for (int i = 0; i < s.process_count; i++) {
                size_t used = strlen(names);
                snprintf(names + used, sizeof names - used, "%s%s", i ? ", " : "", s.processes[i].name);
            }
            if (process_name)
                fprintf(stderr, "vas %s: found process '%s', expected one the script makes%s%s%s\n", view, process_name,
                        s.process_count ? " (" : " (it makes none)", names, s.process_count ? ")" : "");
            else
                fprintf(stderr, "vas %s: the script makes no process\n", view);
            status = EXIT_USAGE;
        } else if (is_query) {
            uint64_t address;
            variable *v = find_variable(&s, positional_args[1]);
            if (v)
                address = v->value;
            else if (!parse_number(positional_args[1], &address)) {
                fprintf(stderr, "vas query: %s: expected an address (0x10000) or a variable of the script\n",
                        positional_args[1]);
                status = EXIT_USAGE;
            }
            if (status == EXIT_OK)
                view_query(np->process, address, &options);
        } else if (strcmp(view, "map") == 0) {
            view_map(np->process, &options);
        } else if (strcmp(view, "frag") == 0) {
            view_frag(np->process, &options);
        } else {
            view_stats(s.machine, np->process, &options);
        }
    }
    session_destroy(&s);
    return status;
}

int cli_report(int argc, char **argv)
{
    const char *output = NULL;
    int first_script = argc;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--html") == 0 && i + 1 < argc) {
            output = argv[++i];
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "vas report: unknown option %s\n", argv[i]);
            return EXIT_USAGE;
        } else {
            first_script = i;
            break;
        }
    }
    if (!output) {
        fprintf(stderr, "usage: vas report --html FILE [SCRIPT...]  (no SCRIPT: standard input)\n");
        return EXIT_USAGE;
    }
    session s;
    session_init(&s);
    int status = EXIT_OK;
    if (first_script == argc)
        status = run_file(&s, "-", false);
    for (int i = first_script; i < argc && status == EXIT_OK; i++)
        status = run_file(&s, argv[i], false);
    if (status == EXIT_OK && !s.machine)
        s.machine = vas_machine_create(&s.config);
    if (status == EXIT_OK) {
        view_process processes[MAX_PROCESSES];
        size_t n = view_processes(&s, processes);
        int error = report_write_html(output, s.machine, processes, n, first_script < argc ? argv[first_script] : "vas");
        if (error) {
            fprintf(stderr, "vas report: %s: %s\n", output, strerror(error));
            status = EXIT_IO_ERROR;
        } else if (cli.json) {
            json_writer w;
            json_begin(&w, stdout);
            json_object_begin(&w, NULL);
            json_string(&w, "command", "report");
            json_string(&w, "file", output);
            json_u64(&w, "processes", n);
            json_object_end(&w);
            json_end(&w);
        } else {
            printf("report written to %s\n", output);
        }
    }
    session_destroy(&s);
    return status;
}

int script_run_string(const char *name, const char *text, int echo, script_then then, void *context)
{
    char *copy = strdup(text);
    if (!copy)
        return EXIT_IO_ERROR;
    session s;
    session_init(&s);
    s.echo = echo != 0;
    int status = run_text(&s, name, copy, false);
    if (status == EXIT_OK && then && s.machine) {
        view_process processes[MAX_PROCESSES];
        size_t count = view_processes(&s, processes);
        then(s.machine, processes, count, context);
    }
    session_destroy(&s);
    free(copy);
    return status;
}

int script_check_string(const char *name, const char *text)
{
    char *copy = strdup(text);
    if (!copy)
        return EXIT_IO_ERROR;
    session s;
    session_init(&s);
    int status = run_text(&s, name, copy, true);
    session_destroy(&s);
    free(copy);
    return status;
}
