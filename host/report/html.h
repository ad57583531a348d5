/* Writing a self-contained HTML page: escaped text, and pictures and sounds
 * inlined as data: URIs (base64), so that the page opens anywhere, offline,
 * as one file. */
#ifndef AT_HTML_H
#define AT_HTML_H

#include <stddef.h>
#include <stdio.h>

/* Text with <, >, &, " and ' escaped (for element content and attributes). */
void html_text(FILE *out, const char *s);
/* `<img alt="ALT" src="data:MIME;base64,...">` of bytes in memory. */
void html_image(FILE *out, const void *data, size_t size, const char *mime, const char *alt, const char *attributes);
/* The same for an SVG document (a NUL-terminated string). */
void html_svg(FILE *out, const char *svg, const char *alt);
/* An image or sound file inlined (<img> for PNG and SVG, <audio controls> for
 * WAV, told by its contents); returns 0, writing nothing, when the file is
 * missing, bigger than `limit` bytes or none of these. */
int html_file(FILE *out, const char *path, const char *alt, size_t limit);

#endif
