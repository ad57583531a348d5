/* Self-contained HTML pieces (report/html.h). */
#include "report/html.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "core/files.h"

void html_text(FILE *out, const char *s) {
  for (; s && *s; s++) {
    switch (*s) {
    case '<': fputs("&lt;", out); break;
    case '>': fputs("&gt;", out); break;
    case '&': fputs("&amp;", out); break;
    case '"': fputs("&quot;", out); break;
    case '\'': fputs("&#39;", out); break;
    default: fputc(*s, out);
    }
  }
}

/* RFC 4648 base64, padded. */
static void base64(FILE *out, const unsigned char *p, size_t n) {
  static const char digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t i = 0;
  for (; i + 2 < n; i += 3) {
    unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
    fputc(digits[v >> 18], out), fputc(digits[(v >> 12) & 63], out);
    fputc(digits[(v >> 6) & 63], out), fputc(digits[v & 63], out);
  }
  if (i < n) {
    unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0u);
    fputc(digits[v >> 18], out), fputc(digits[(v >> 12) & 63], out);
    fputc(i + 1 < n ? digits[(v >> 6) & 63] : '=', out), fputc('=', out);
  }
}

void html_image(FILE *out, const void *data, size_t size, const char *mime, const char *alt, const char *attributes) {
  fputs("<img alt=\"", out);
  html_text(out, alt);
  fprintf(out, "\"%s%s src=\"data:%s;base64,", attributes ? " " : "", attributes ? attributes : "", mime);
  base64(out, data, size);
  fputs("\">", out);
}

void html_svg(FILE *out, const char *svg, const char *alt) { html_image(out, svg, strlen(svg), "image/svg+xml", alt, NULL); }

/* What a file holds, by its first bytes (not its name): a PNG, an SVG
 * document or a RIFF WAVE; NULL for anything else. */
static const char *media_type(const unsigned char *p, size_t n) {
  if (n >= 8 && !memcmp(p, "\x89PNG\r\n\x1a\n", 8)) return "image/png";
  if (n >= 12 && !memcmp(p, "RIFF", 4) && !memcmp(p + 8, "WAVE", 4)) return "audio/wav";
  size_t i = 0;
  while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r')) i++;
  if (n - i >= 5 && (!memcmp(p + i, "<svg", 4) || !memcmp(p + i, "<?xml", 5))) return "image/svg+xml";
  return NULL;
}

int html_file(FILE *out, const char *path, const char *alt, size_t limit) {
  struct stat st;
  if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > limit) return 0;
  size_t size;
  void *data = at_read_file(path, limit, &size);
  const char *type = media_type(data, size);
  if (!type) {
    free(data);
    return 0;
  }
  if (!strcmp(type, "audio/wav")) {
    fputs("<audio controls preload=\"metadata\" title=\"", out);
    html_text(out, alt);
    fputs("\" src=\"data:audio/wav;base64,", out);
    base64(out, data, size);
    fputs("\"></audio>", out);
  } else {
    html_image(out, data, size, type, alt, NULL);
  }
  free(data);
  return 1;
}
