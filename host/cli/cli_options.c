#include <stdio.h>

#include "cli/cli_options.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* getopt_long's `val` for an option without a short letter: past any char */
#define LONG_ONLY_BASE 256
/* the most options one command may declare (its getopt tables live on the stack,
   so the usage errors, which exit, leave nothing allocated behind) */
#define CLI_MAX_OPTIONS 64

static int count_options(const CliCommand *c) {
  int n = 0;
  while (c->options && c->options[n].name) n++;
  return n;
}

void cli_print_usage(const CliCommand *c, FILE *out) {
  fprintf(out, "usage: auratag %s %s\n\n%s\n\noptions:\n", c->name, c->synopsis, c->summary);
  for (int i = 0; i < count_options(c); i++) {
    const CliOption *o = &c->options[i];
    char left[128], letter[8] = "    ";
    if (o->letter) snprintf(letter, sizeof letter, "-%c, ", o->letter);
    snprintf(left, sizeof left, "%s--%s%s%s", letter, o->name, o->value ? " " : "", o->value ? o->value : "");
    fprintf(out, "  %-32s %s", left, o->help);
    if (o->dflt) fprintf(out, " (default: %s)", o->dflt);
    fputc('\n', out);
  }
  fprintf(out, "  %-32s %s\n", "-h, --help", "print this help and exit");
  fprintf(out, "global options (every command): --backend cpu|cuda|auto (default: auto, or the experiment's "
               "train.backend), --device N (default: 0), --quiet (no progress output)\n");
  fprintf(out, "\nexample:\n  %s\n", c->example);
}

void cli_usage_error(const CliCommand *c, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "auratag: error: %s: ", c->name);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\n\n");
  cli_print_usage(c, stderr);
  exit(2);
}

void cli_parse(const CliCommand *c, int argc, char **argv, CliArgs *out) {
  memset(out, 0, sizeof *out);
  out->command = c;
  const int n = count_options(c);
  if (argc + 1 >= CLI_MAX_ARGS) cli_usage_error(c, "too many arguments (%d)", argc);
  if (n > CLI_MAX_OPTIONS) {
    fprintf(stderr, "auratag: internal error: %s declares %d options (at most %d)\n", c->name, n, CLI_MAX_OPTIONS);
    exit(1);
  }
  struct option longs[CLI_MAX_OPTIONS + 2] = {{0}};
  char shorts[2 * CLI_MAX_OPTIONS + 4] = ":h"; /* ':' first: a missing value is reported as ':' */
  size_t ns = strlen(shorts);
  for (int i = 0; i < n; i++) {
    const CliOption *o = &c->options[i];
    longs[i] = (struct option){o->name, o->value ? required_argument : no_argument, NULL,
                               o->letter ? o->letter : LONG_ONLY_BASE + i};
    if (o->letter && ns + 3 < sizeof shorts) {
      shorts[ns++] = o->letter;
      if (o->value) shorts[ns++] = ':';
      shorts[ns] = '\0';
    }
  }
  longs[n] = (struct option){"help", no_argument, NULL, 'h'};
  /* getopt_long wants a program name in argv[0] and may permute the rest */
  char *args[CLI_MAX_ARGS + 1] = {0};
  args[0] = (char *)c->name;
  for (int i = 0; i < argc; i++) args[i + 1] = argv[i];
  opterr = 0;
  optind = 0; /* GNU: a full reinitialisation */
  int ch, long_index;
  while ((ch = getopt_long(argc + 1, args, shorts, longs, &long_index)) != -1) {
    if (ch == 'h') {
      cli_print_usage(c, stdout);
      exit(0);
    }
    if (ch == '?' || ch == ':') {
      const char *token = args[optind - 1];
      int known = -1;
      for (int i = 0; i < n; i++)
        if ((optopt && optopt == (c->options[i].letter ? c->options[i].letter : LONG_ONLY_BASE + i)) ||
            (!strncmp(token, "--", 2) && !strcmp(token + 2, c->options[i].name)))
          known = i;
      if (ch == ':' && known >= 0)
        cli_usage_error(c, "--%s needs a value (%s)", c->options[known].name, c->options[known].value);
      cli_usage_error(c, "unknown option '%s'", token);
    }
    int index = -1;
    for (int i = 0; i < n; i++)
      if (ch == (c->options[i].letter ? c->options[i].letter : LONG_ONLY_BASE + i)) index = i;
    out->option[out->n_options] = c->options[index].name;
    out->value[out->n_options] = c->options[index].value ? optarg : NULL;
    out->n_options++;
  }
  for (int i = optind; i < argc + 1; i++) out->positional[out->n_positional++] = args[i];
}

int cli_is(const CliArgs *a, int i, const char *name) { return !strcmp(a->option[i], name); }

void cli_require_positionals(const CliArgs *a, int min, int max) {
  if (a->n_positional < min) cli_usage_error(a->command, "missing arguments: %s", a->command->synopsis);
  if (max >= 0 && a->n_positional > max)
    cli_usage_error(a->command, "'%s' is one argument too many", a->positional[max]);
}

long cli_long(const CliArgs *a, int i, long lo, long hi) {
  const char *v = a->value[i];
  char *end;
  errno = 0;
  long x = strtol(v, &end, 10);
  if (errno || *end || end == v || x < lo || x > hi)
    cli_usage_error(a->command, "--%s '%s' must be an integer in [%ld, %ld]", a->option[i], v, lo, hi);
  return x;
}

double cli_real(const CliArgs *a, int i, double lo, double hi) {
  const char *v = a->value[i];
  char *end;
  errno = 0;
  double x = strtod(v, &end);
  if (errno || *end || end == v || !(x >= lo && x <= hi))
    cli_usage_error(a->command, "--%s '%s' must be a number in [%g, %g]", a->option[i], v, lo, hi);
  return x;
}
