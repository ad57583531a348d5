#include "config/ini_file.h"

#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"

#define AT_MAX_INCLUDE_DEPTH 8

/* ---- reading ---- */

typedef struct ParseState {
  IniFile *ini;
  FILE *fp;
  const char *file; /* owned by ini->files */
  int line;
  int current;      /* index of the section this file's keys go to, -1 = top level */
  int depth;
  int saw_section;  /* a header was seen in this file: includes must come first */
} ParseState;

static const char *remember_file(IniFile *ini, const char *path) {
  ini->files = at_realloc(ini->files, sizeof(char *) * (size_t)(ini->n_files + 1), "config file names");
  ini->files[ini->n_files] = at_strdup(path);
  return ini->files[ini->n_files++];
}

static IniSection *add_section(IniFile *ini, const char *type, const char *file, int line) {
  if (ini->n_sections == ini->cap_sections) {
    ini->cap_sections = ini->cap_sections ? 2 * ini->cap_sections : 16;
    ini->sections = at_realloc(ini->sections, sizeof(IniSection) * (size_t)ini->cap_sections, "config sections");
  }
  IniSection *s = &ini->sections[ini->n_sections++];
  memset(s, 0, sizeof(*s));
  s->type = at_strdup(type);
  s->file = file;
  s->line = line;
  return s;
}

static void add_entry(IniSection *s, const char *key, const char *value, const char *file, int line) {
  if (s->n_entries == s->cap_entries) {
    s->cap_entries = s->cap_entries ? 2 * s->cap_entries : 8;
    s->entries = at_realloc(s->entries, sizeof(IniEntry) * (size_t)s->cap_entries, "config entries");
  }
  IniEntry *e = &s->entries[s->n_entries++];
  e->key = at_strdup(key);
  e->value = at_strdup(value);
  e->file = file;
  e->line = line;
  e->used = 0;
}

static void load_into(IniFile *ini, const char *path, int depth);
static void apply_override(IniFile *ini, const char *assignment, const char *file, int line);

/* inih calls the reader once per line, so counting calls gives line numbers
 * (inih's own INI_HANDLER_LINENO is off in Debian's build). The reader also
 * sees section headers, which lets repeated and empty sections be recorded. */
static char *read_line(char *str, int num, void *stream) {
  ParseState *ps = stream;
  if (!fgets(str, num, ps->fp)) return NULL;
  ps->line++;
  size_t len = strlen(str);
  if (len == (size_t)num - 1 && str[len - 1] != '\n' && !feof(ps->fp))
    at_fatal("%s:%d: line longer than %d characters", ps->file, ps->line, num - 2);
  /* strip leading blanks: they would make inih treat the line as a continuation */
  char *p = str;
  while (*p == ' ' || *p == '\t') p++;
  memmove(str, p, strlen(p) + 1);
  /* Windows line endings */
  len = strlen(str);
  while (len && (str[len - 1] == '\n' || str[len - 1] == '\r')) str[--len] = '\0';
  /* inline '#' comments (inih only knows ';' inline) */
  for (char *c = str; *c; c++)
    if (*c == '#' && c > str && (c[-1] == ' ' || c[-1] == '\t')) {
      *c = '\0';
      break;
    }
  if (str[0] == '[') {
    char *end = strchr(str, ']');
    if (!end) at_fatal("%s:%d: section header '%s' has no closing ']'", ps->file, ps->line, str);
    *end = '\0';
    char *name = str + 1;
    while (*name == ' ') name++;
    for (char *t = end - 1; t >= name && *t == ' '; t--) *t = '\0';
    if (!*name) at_fatal("%s:%d: empty section name '[]'", ps->file, ps->line);
    add_section(ps->ini, name, ps->file, ps->line);
    ps->current = ps->ini->n_sections - 1;
    ps->saw_section = 1;
    *end = ']';
  }
  if (strlen(str) + 1 < (size_t)num) strcat(str, "\n");
  return str;
}

static int handle_entry(void *user, const char *section, const char *key, const char *value) {
  ParseState *ps = user;
  (void)section;
  if (ps->current < 0) {
    if (!strcmp(key, "set")) {
      IniFile *ini = ps->ini;
      ini->sets = at_realloc(ini->sets, sizeof(IniEntry) * (size_t)(ini->n_sets + 1), "config overrides");
      ini->sets[ini->n_sets++] = (IniEntry){at_strdup(key), at_strdup(value), ps->file, ps->line, 1};
      return 1;
    }
    if (strcmp(key, "include") != 0)
      at_fatal("%s:%d: key '%s' appears before any [section]; only 'include = FILE' and 'set = SECTION.KEY=VALUE' "
               "may stand there", ps->file, ps->line, key);
    if (ps->saw_section)
      at_fatal("%s:%d: 'include' must come before the first section", ps->file, ps->line);
    /* resolve relative to the including file's folder */
    char resolved[4096];
    const char *slash = strrchr(ps->file, '/');
    if (value[0] == '/' || !slash)
      snprintf(resolved, sizeof resolved, "%s", value);
    else
      snprintf(resolved, sizeof resolved, "%.*s/%s", (int)(slash - ps->file), ps->file, value);
    if (ps->depth >= AT_MAX_INCLUDE_DEPTH)
      at_fatal("%s:%d: includes nest deeper than %d levels (a cycle?)", ps->file, ps->line, AT_MAX_INCLUDE_DEPTH);
    load_into(ps->ini, resolved, ps->depth + 1);
    return 1;
  }
  IniSection *s = &ps->ini->sections[ps->current];
  for (int i = 0; i < s->n_entries; i++)
    if (strcmp(s->entries[i].key, key) == 0)
      at_fatal("%s:%d: [%s] key '%s' given twice (first at line %d)", ps->file, ps->line, s->type, key,
               s->entries[i].line);
  add_entry(s, key, value, ps->file, ps->line);
  return 1;
}

#define AT_MAX_CONFIG_BYTES (1 << 20)

/* Parses an open config; `name` is the file (or origin) named in messages. */
static void load_stream(IniFile *ini, FILE *fp, const char *name, int depth) {
  ParseState ps = {ini, fp, remember_file(ini, name), 0, -1, depth, 0};
  int rc = ini_parse_stream(read_line, &ps, handle_entry, &ps);
  fclose(fp);
  if (rc > 0) at_fatal("%s:%d: syntax error: expected '[section]', 'key = value' or a comment", ps.file, rc);
  if (rc < 0) at_fatal("cannot read config '%s'", name);
}

static void load_into(IniFile *ini, const char *path, int depth) {
  /* a folder reads as nothing, a device as no end (/dev/zero) and a pipe
   * blocks at open: only regular files of a sane size are configs (looked
   * at before opening) */
  struct stat st;
  if (stat(path, &st) != 0) at_fatal("cannot open config '%s': %s", path, strerror(errno));
  if (S_ISDIR(st.st_mode)) at_fatal("config '%s' is a folder; give a config file (.ini)", path);
  if (!S_ISREG(st.st_mode))
    at_fatal("config '%s' is not a regular file (a device, pipe or socket); give a config file (.ini)", path);
  if (st.st_size > AT_MAX_CONFIG_BYTES)
    at_fatal("config '%s' is %lld bytes; a config is a short text file (at most %d bytes): is it the right file?", path,
             (long long)st.st_size, AT_MAX_CONFIG_BYTES);
  FILE *fp = fopen(path, "r");
  if (!fp) at_fatal("cannot open config '%s': %s", path, strerror(errno));
  load_stream(ini, fp, path, depth);
}

static void assign_labels(IniFile *ini, const char *const *singletons) {
  for (int i = 0; i < ini->n_sections; i++) {
    IniSection *s = &ini->sections[i];
    int singleton = 0;
    for (const char *const *t = singletons; t && *t; t++) singleton |= strcmp(*t, s->type) == 0;
    if (singleton) { /* [model] keeps its label; its `name` key is its own business */
      s->label = at_strdup(s->type);
      continue;
    }
    IniEntry *name = NULL;
    for (int j = 0; j < s->n_entries; j++)
      if (strcmp(s->entries[j].key, "name") == 0) name = &s->entries[j];
    if (name) {
      name->used = 1;
      if (!name->value[0]) ini_fail(s, name, "'name' is empty");
      for (const char *c = name->value; *c; c++)
        if (!(*c == '_' || *c == '-' || (*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z')))
          ini_fail(s, name, "name '%s' may hold only letters, digits, '_' and '-'", name->value);
      s->label = at_strdup(name->value);
      continue;
    }
    int ordinal = 1;
    for (int j = 0; j < i; j++) ordinal += strcmp(ini->sections[j].type, s->type) == 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s%d", s->type, ordinal);
    s->label = at_strdup(buf);
  }
  for (int i = 0; i < ini->n_sections; i++)
    for (int j = 0; j < i; j++)
      if (strcmp(ini->sections[i].label, ini->sections[j].label) == 0)
        ini_fail(&ini->sections[i], NULL, "name '%s' is already used by the section at %s:%d",
                 ini->sections[i].label, ini->sections[j].file, ini->sections[j].line);
}

static IniFile *finish_load(IniFile *ini, const char *const *singleton_types) {
  assign_labels(ini, singleton_types);
  for (int i = 0; i < ini->n_sets; i++) apply_override(ini, ini->sets[i].value, ini->sets[i].file, ini->sets[i].line);
  return ini;
}

IniFile *ini_load(const char *path, const char *const *singleton_types) {
  IniFile *ini = at_calloc(1, sizeof(IniFile), "config");
  ini->path = at_strdup(path);
  load_into(ini, path, 0);
  return finish_load(ini, singleton_types);
}

/* Parsed from memory: messages name the origin (e.g. the weights file whose
 * `config` attribute this is). A stored config is resolved: no includes. */
IniFile *ini_load_text(const char *text, const char *origin, const char *const *singleton_types) {
  IniFile *ini = at_calloc(1, sizeof(IniFile), "config");
  ini->path = at_strdup(origin);
  /* fmemopen refuses an empty buffer on older C libraries */
  FILE *fp = *text ? fmemopen((void *)text, strlen(text), "r") : fmemopen((void *)"\n", 1, "r");
  if (!fp) at_fatal("cannot read the config of %s: %s", origin, strerror(errno));
  load_stream(ini, fp, origin, 0);
  return finish_load(ini, singleton_types);
}

void ini_free(IniFile *ini) {
  if (!ini) return;
  for (int i = 0; i < ini->n_sections; i++) {
    IniSection *s = &ini->sections[i];
    for (int j = 0; j < s->n_entries; j++) {
      free(s->entries[j].key);
      free(s->entries[j].value);
    }
    free(s->entries);
    free(s->type);
    free(s->label);
  }
  for (int i = 0; i < ini->n_sets; i++) {
    free(ini->sets[i].key);
    free(ini->sets[i].value);
  }
  free(ini->sets);
  for (int i = 0; i < ini->n_files; i++) free(ini->files[i]);
  free(ini->files);
  free(ini->sections);
  free(ini->path);
  free(ini);
}

/* ---- overrides ---- */

void ini_override(IniFile *ini, const char *assignment) { apply_override(ini, assignment, "command line (--set)", 0); }

static void apply_override(IniFile *ini, const char *assignment, const char *file, int line) {
  const char *eq = strchr(assignment, '=');
  const char *dot = eq ? memchr(assignment, '.', (size_t)(eq - assignment)) : NULL;
  char where[4200];
  if (line > 0) snprintf(where, sizeof where, "%s:%d: set", file, line);
  else snprintf(where, sizeof where, "--set");
  if (!eq || !dot || dot == assignment || eq == dot + 1)
    at_fatal("%s '%s': expected SECTION.KEY=VALUE, e.g. conv1.filters=64 or train.lr=1e-4", where, assignment);
  char label[256], key[256];
  snprintf(label, sizeof label, "%.*s", (int)(dot - assignment), assignment);
  snprintf(key, sizeof key, "%.*s", (int)(eq - dot - 1), dot + 1);
  IniSection *s = ini_section(ini, label);
  if (!s) {
    fprintf(stderr, "auratag: error: %s '%s': no section named '%s'. Sections of %s:", where, assignment, label, ini->path);
    for (int i = 0; i < ini->n_sections; i++) fprintf(stderr, " %s", ini->sections[i].label);
    fputc('\n', stderr);
    at_fatal_exit();
  }
  for (int j = 0; j < s->n_entries; j++)
    if (strcmp(s->entries[j].key, key) == 0) {
      free(s->entries[j].value);
      s->entries[j].value = at_strdup(eq + 1);
      s->entries[j].file = file;
      s->entries[j].line = line;
      return;
    }
  add_entry(s, key, eq + 1, file, line);
}

/* ---- lookup and typed getters ---- */

IniSection *ini_section(IniFile *ini, const char *label) {
  for (int i = 0; i < ini->n_sections; i++)
    if (strcmp(ini->sections[i].label, label) == 0) return &ini->sections[i];
  return NULL;
}

IniEntry *ini_entry(IniSection *s, const char *key) {
  for (int i = 0; i < s->n_entries; i++)
    if (strcmp(s->entries[i].key, key) == 0) {
      s->entries[i].used = 1;
      return &s->entries[i];
    }
  return NULL;
}

void ini_fail(const IniSection *s, const IniEntry *e, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fflush(stdout);
  if (e && e->line > 0)
    fprintf(stderr, "auratag: error: %s:%d: [%s] %s: ", e->file, e->line, s->label ? s->label : s->type, e->key);
  else if (e)
    fprintf(stderr, "auratag: error: %s: [%s] %s: ", e->file, s->label ? s->label : s->type, e->key);
  else
    fprintf(stderr, "auratag: error: %s:%d: [%s]: ", s->file, s->line, s->label ? s->label : s->type);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  at_fatal_exit();
}

static int parse_long(const char *text, long *out) {
  char *end;
  errno = 0;
  long v = strtol(text, &end, 10);
  if (errno || end == text || *end) return 0;
  *out = v;
  return 1;
}

long ini_get_int(IniSection *s, const char *key, long dflt, long min, long max) {
  IniEntry *e = ini_entry(s, key);
  if (!e) return dflt;
  long v;
  if (!parse_long(e->value, &v)) ini_fail(s, e, "'%s' is not an integer; expected an integer in [%ld, %ld]", e->value, min, max);
  if (v < min || v > max) ini_fail(s, e, "%ld is out of range; allowed: [%ld, %ld]", v, min, max);
  return v;
}

long ini_require_int(IniSection *s, const char *key, long min, long max) {
  if (!ini_entry(s, key)) ini_fail(s, NULL, "missing required key '%s' (an integer in [%ld, %ld])", key, min, max);
  return ini_get_int(s, key, 0, min, max);
}

double ini_get_float(IniSection *s, const char *key, double dflt, double min, double max) {
  IniEntry *e = ini_entry(s, key);
  if (!e) return dflt;
  char *end;
  errno = 0;
  double v = strtod(e->value, &end);
  if (errno || end == e->value || *end || !isfinite(v))
    ini_fail(s, e, "'%s' is not a number; expected a number in [%g, %g]", e->value, min, max);
  if (v < min || v > max) ini_fail(s, e, "%g is out of range; allowed: [%g, %g]", v, min, max);
  return v;
}

int ini_get_bool(IniSection *s, const char *key, int dflt) {
  static const char *const choices[] = {"0", "1", "false", "true", "no", "yes", "off", "on", NULL};
  if (!ini_entry(s, key)) return dflt;
  return ini_get_choice(s, key, 0, choices) & 1;
}

const char *ini_get_string(IniSection *s, const char *key, const char *dflt) {
  IniEntry *e = ini_entry(s, key);
  return e ? e->value : dflt;
}

int ini_get_choice(IniSection *s, const char *key, int dflt, const char *const *choices) {
  IniEntry *e = ini_entry(s, key);
  if (!e) return dflt;
  for (int i = 0; choices[i]; i++)
    if (strcmp(e->value, choices[i]) == 0) return i;
  char allowed[512] = "";
  for (int i = 0; choices[i]; i++) {
    strncat(allowed, i ? ", " : "", sizeof allowed - strlen(allowed) - 1);
    strncat(allowed, choices[i], sizeof allowed - strlen(allowed) - 1);
  }
  ini_fail(s, e, "'%s' is not allowed; choose one of: %s", e->value, allowed);
}

int ini_get_pair(IniSection *s, const char *key, int *h, int *w, int dflt_h, int dflt_w, int min, int max) {
  IniEntry *e = ini_entry(s, key);
  if (!e) {
    *h = dflt_h;
    *w = dflt_w;
    return 0;
  }
  long a, b;
  const char *x = strchr(e->value, 'x');
  if (!x) x = strchr(e->value, 'X');
  char first[64];
  if (x) {
    snprintf(first, sizeof first, "%.*s", (int)(x - e->value), e->value);
    if (!parse_long(first, &a) || !parse_long(x + 1, &b))
      ini_fail(s, e, "'%s' is not a size; write FREQxTIME (e.g. 3x3, 1x60) or one integer", e->value);
  } else {
    if (!parse_long(e->value, &a))
      ini_fail(s, e, "'%s' is not a size; write FREQxTIME (e.g. 3x3, 1x60) or one integer", e->value);
    b = a;
  }
  if (a < min || a > max || b < min || b > max)
    ini_fail(s, e, "%ldx%ld is out of range; each side must lie in [%d, %d]", a, b, min, max);
  *h = (int)a;
  *w = (int)b;
  return 1;
}

void ini_check_all_used(const IniFile *ini, const char *(*accepted_keys)(const char *type)) {
  for (int i = 0; i < ini->n_sections; i++) {
    const IniSection *s = &ini->sections[i];
    const char *accepted = accepted_keys(s->type);
    if (!accepted) continue;
    for (int j = 0; j < s->n_entries; j++)
      if (!s->entries[j].used)
        ini_fail(s, &s->entries[j], "unknown key for a [%s] section; accepted keys: %s", s->type, accepted);
  }
}

char *ini_to_text(const IniFile *ini, int (*skip)(const char *type)) {
  size_t cap = 4096, len = 0;
  char *out = at_malloc(cap, "config text");
  out[0] = '\0';
  int written = 0;
  for (int i = 0; i < ini->n_sections; i++) {
    const IniSection *s = &ini->sections[i];
    if (skip && skip(s->type)) continue;
    for (int j = -1; j < s->n_entries; j++) {
      char line[1024];
      int n = j < 0 ? snprintf(line, sizeof line, "%s[%s]\n", written++ ? "\n" : "", s->type)
                    : snprintf(line, sizeof line, "%s = %s\n", s->entries[j].key, s->entries[j].value);
      if (n < 0) continue;
      if ((size_t)n >= sizeof line) n = (int)sizeof line - 1;
      while (len + (size_t)n + 1 > cap) out = at_realloc(out, cap *= 2, "config text");
      memcpy(out + len, line, (size_t)n + 1);
      len += (size_t)n;
    }
  }
  return out;
}
