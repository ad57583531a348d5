/* Config files: INI text read with inih, kept with file and line numbers so
 * that every complaint can point at the line to fix.
 *
 *  - one section per layer, sections may repeat ([conv] ... [conv] ...);
 *  - `include = other.ini` before the first section splices another file in
 *    (path relative to the including file);
 *  - `set = SECTION.KEY=VALUE` before the first section overrides a key of the
 *    whole result, as --set does (applied after all includes, in order);
 *  - comments: a line starting with ';' or '#', or ' ;' / ' #' after a value;
 *  - every key must be read by someone: ini_check_all_used() turns the keys
 *    nobody asked for into an error (Darknet's typo detector, made strict). */
#ifndef AT_INI_FILE_H
#define AT_INI_FILE_H

typedef struct IniEntry {
  char *key;
  char *value;
  const char *file; /* file the entry came from ("command line" for --set) */
  int line;
  int used;
} IniEntry;

typedef struct IniSection {
  char *type;  /* the text between the brackets */
  char *label; /* `name =` if given, else type (unique types) or type + ordinal */
  const char *file;
  int line;
  IniEntry *entries;
  int n_entries, cap_entries;
} IniSection;

typedef struct IniFile {
  char *path;
  IniSection *sections;
  int n_sections, cap_sections;
  char **files; /* every file read, owned here (entries point into it) */
  int n_files;
  IniEntry *sets; /* pending `set =` lines */
  int n_sets;
} IniFile;

/* Reads path (and its includes). Syntax errors are fatal with file:line.
 * Labels: a section's `name` key, else its type followed by its ordinal among
 * sections of that type (conv1, conv2, ...) unless the type is listed in
 * singleton_types (NULL-terminated), which keep the bare type ([model]). */
IniFile *ini_load(const char *path, const char *const *singleton_types);
/* The same from text in memory (e.g. a config stored in a checkpoint);
 * messages name `origin`. */
IniFile *ini_load_text(const char *text, const char *origin, const char *const *singleton_types);
void ini_free(IniFile *ini);

/* Applies "label.key=value" (from --set); the section must exist. */
void ini_override(IniFile *ini, const char *assignment);

IniSection *ini_section(IniFile *ini, const char *label); /* NULL if absent */
IniEntry *ini_entry(IniSection *s, const char *key);      /* marks it used */

/* Fatal error for section s / entry e, prefixed with "file:line: [label]". */
void ini_fail(const IniSection *s, const IniEntry *e, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 3, 4)));

/* Typed getters. A missing key returns the default (required=1: error).
 * Values are range-checked; errors name the file, line, section and range. */
long ini_get_int(IniSection *s, const char *key, long dflt, long min, long max);
double ini_get_float(IniSection *s, const char *key, double dflt, double min, double max);
int ini_get_bool(IniSection *s, const char *key, int dflt);
const char *ini_get_string(IniSection *s, const char *key, const char *dflt);
/* One of the NULL-terminated choices; returns its index. */
int ini_get_choice(IniSection *s, const char *key, int dflt, const char *const *choices);
/* "HxW" (frequency x time) or a single "K" meaning KxK; each in [min, max]. */
int ini_get_pair(IniSection *s, const char *key, int *h, int *w, int dflt_h, int dflt_w, int min, int max);
long ini_require_int(IniSection *s, const char *key, long min, long max);

/* Every key of every section must have been read; otherwise a fatal error
 * listing the first unknown key and the keys that section accepts. Sections
 * for which accepted_keys returns NULL belong to another reader: skipped. */
void ini_check_all_used(const IniFile *ini, const char *(*accepted_keys)(const char *type));

/* The resolved configuration as INI text (after includes and overrides),
 * leaving out sections whose type `skip` accepts (skip may be NULL). */
char *ini_to_text(const IniFile *ini, int (*skip)(const char *type));

#endif
