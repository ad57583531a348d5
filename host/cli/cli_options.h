/* The one command-line parser of auratag: every command declares its
 * options in a table (long name, short letter, value placeholder, default,
 * help), parses argv with getopt_long through it, and prints its --help from
 * the same table, so the help cannot drift from what is accepted.
 *
 *   auratag COMMAND --help | -h   usage, every option with its default and an
 *                                 example on stdout; exit 0
 *   an unknown or malformed option, a missing value or argument:
 *                                 the message and the usage on stderr; exit 2
 *   a failure while running:      one "auratag: error:" line; exit 1 */
#ifndef AT_CLI_OPTIONS_H
#define AT_CLI_OPTIONS_H

typedef struct CliOption {
  const char *name;  /* long name, without "--" */
  char letter;       /* short form (-o), or 0 */
  const char *value; /* placeholder of its value ("N", "FILE"), or NULL for a flag */
  const char *dflt;  /* the default, as help shows it, or NULL */
  const char *help;
} CliOption;

typedef struct CliCommand {
  const char *name;
  const char *synopsis; /* the positional arguments and main options */
  const char *summary;  /* one line: what it does */
  const CliOption *options; /* ends with {NULL} */
  const char *example;  /* one command line */
} CliCommand;

#define CLI_MAX_ARGS 4096

/* argv parsed against a command's table, in command-line order. */
typedef struct CliArgs {
  const CliCommand *command;
  int n_options;
  const char *option[CLI_MAX_ARGS]; /* the long name of each option given */
  const char *value[CLI_MAX_ARGS];  /* its value, or NULL for a flag */
  int n_positional;
  const char *positional[CLI_MAX_ARGS];
} CliArgs;

/* Parses argc/argv (the arguments after the command's name). --help and -h
 * print the usage and exit 0; errors are usage errors (exit 2). */
void cli_parse(const CliCommand *command, int argc, char **argv, CliArgs *out);
/* Whether option i of the parse is the one called `name`. */
int cli_is(const CliArgs *a, int i, const char *name);
/* Prints the usage (synopsis, summary, options with defaults, example). */
void cli_print_usage(const CliCommand *command, FILE *out);
/* "auratag: error: COMMAND: message", then the usage, on stderr; exit 2. */
_Noreturn void cli_usage_error(const CliCommand *command, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Positional arguments: at least min and at most max (-1: no limit). */
void cli_require_positionals(const CliArgs *a, int min, int max);
/* A numeric option value in [lo, hi], else a usage error naming it. */
long cli_long(const CliArgs *a, int i, long lo, long hi);
double cli_real(const CliArgs *a, int i, double lo, double hi);

#endif
