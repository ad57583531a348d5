/* PNG pictures of spectrograms (see png_image.h). */
#include "explain/png_image.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

Image image_new(int w, int h, uint8_t grey) {
  Image im = {w, h, at_malloc((size_t)w * (size_t)h * 3, "an image")};
  memset(im.rgb, grey, (size_t)w * (size_t)h * 3);
  return im;
}

void image_free(Image *im) {
  free(im->rgb);
  im->rgb = NULL;
}

static void put(Image *im, int x, int y, const uint8_t c[3]) {
  if (x < 0 || y < 0 || x >= im->w || y >= im->h) return;
  memcpy(im->rgb + ((size_t)y * im->w + x) * 3, c, 3);
}

/* viridis (matplotlib's, public domain), 11 anchors, linear between them */
static const uint8_t k_viridis[11][3] = {{68, 1, 84},    {72, 36, 117},  {65, 68, 135},  {53, 95, 141},
                                         {42, 120, 142}, {33, 145, 140}, {34, 168, 132}, {68, 191, 112},
                                         {122, 209, 81}, {189, 223, 38}, {253, 231, 37}};

void colormap_viridis(float t, uint8_t rgb[3]) {
  if (isnan(t)) {
    rgb[0] = rgb[1] = rgb[2] = 128;
    return;
  }
  t = t < 0 ? 0 : t > 1 ? 1 : t;
  const float pos = t * 10.0f;
  int i = (int)pos;
  if (i > 9) i = 9;
  const float f = pos - (float)i;
  for (int c = 0; c < 3; c++) rgb[c] = (uint8_t)lrintf((1 - f) * k_viridis[i][c] + f * k_viridis[i + 1][c]);
}

void image_draw_map(Image *im, int x0, int y0, int bw, int bh, const float *values, int rows, int cols, float lo,
                    float hi) {
  const float span = hi > lo ? hi - lo : 1.0f;
  for (int y = 0; y < bh; y++) {
    /* frequency upward: the top pixel row shows the highest row */
    const int r = rows - 1 - (int)((long)y * rows / bh);
    for (int x = 0; x < bw; x++) {
      const int c = (int)((long)x * cols / bw);
      uint8_t rgb[3];
      colormap_viridis((values[(size_t)r * cols + c] - lo) / span, rgb);
      put(im, x0 + x, y0 + y, rgb);
    }
  }
}

/* ---- a 5x7 font: each glyph is 7 rows, bit 4 = leftmost pixel ---- */
typedef struct Glyph {
  char c;
  uint8_t rows[7];
} Glyph;

static const Glyph k_font[] = {
    {'0', {0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E}}, {'1', {0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E}},
    {'2', {0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F}}, {'3', {0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E}},
    {'4', {0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02}}, {'5', {0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E}},
    {'6', {0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E}}, {'7', {0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08}},
    {'8', {0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E}}, {'9', {0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C}},
    {'A', {0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11}}, {'B', {0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E}},
    {'C', {0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E}}, {'D', {0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C}},
    {'E', {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F}}, {'F', {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10}},
    {'G', {0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F}}, {'H', {0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11}},
    {'I', {0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E}}, {'J', {0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C}},
    {'K', {0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11}}, {'L', {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F}},
    {'M', {0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11}}, {'N', {0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11}},
    {'O', {0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E}}, {'P', {0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10}},
    {'Q', {0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D}}, {'R', {0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11}},
    {'S', {0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E}}, {'T', {0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04}},
    {'U', {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E}}, {'V', {0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04}},
    {'W', {0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A}}, {'X', {0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11}},
    {'Y', {0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04}}, {'Z', {0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F}},
    {'.', {0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C}}, {'-', {0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00}},
    {':', {0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00}}, {'/', {0x01, 0x01, 0x02, 0x04, 0x08, 0x10, 0x10}},
    {'_', {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1F}}, {'(', {0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02}},
    {')', {0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08}}, {'=', {0x00, 0x00, 0x1F, 0x00, 0x1F, 0x00, 0x00}},
    {',', {0x00, 0x00, 0x00, 0x00, 0x0C, 0x04, 0x08}}, {'+', {0x00, 0x04, 0x04, 0x1F, 0x04, 0x04, 0x00}},
};

static const uint8_t *glyph(char c) {
  c = (char)toupper((unsigned char)c);
  for (size_t i = 0; i < sizeof k_font / sizeof k_font[0]; i++)
    if (k_font[i].c == c) return k_font[i].rows;
  return NULL; /* space and anything unknown: blank */
}

void image_draw_text(Image *im, int x, int y, const char *text, int s, const uint8_t rgb[3]) {
  for (; *text; text++, x += 6 * s) {
    const uint8_t *g = glyph(*text);
    if (!g) continue;
    for (int r = 0; r < 7; r++)
      for (int c = 0; c < 5; c++)
        if (g[r] & (0x10 >> c))
          for (int dy = 0; dy < s; dy++)
            for (int dx = 0; dx < s; dx++) put(im, x + c * s + dx, y + r * s + dy, rgb);
  }
}

static const uint8_t k_ink[3] = {20, 20, 20};

/* A "nice" tick step (1, 2 or 5 times a power of ten) for about n ticks. */
static double tick_step(double span, int n) {
  double raw = span / n, p = pow(10.0, floor(log10(raw)));
  double m = raw / p;
  return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

void image_draw_axes(Image *im, int x0, int y0, int bw, int bh, int rows, double seconds, RowFrequency freq_of_row,
                     const void *ctx) {
  for (int x = x0 - 1; x <= x0 + bw; x++) put(im, x, y0 + bh, k_ink);
  for (int y = y0 - 1; y <= y0 + bh; y++) put(im, x0 - 1, y, k_ink);
  /* time ticks */
  const double step = tick_step(seconds, 6);
  for (double t = 0; t <= seconds + 1e-9; t += step) {
    int x = x0 + (int)lround(t / seconds * (bw - 1));
    for (int d = 1; d <= 4; d++) put(im, x, y0 + bh + d, k_ink);
    char label[32];
    snprintf(label, sizeof label, step < 1 ? "%.1f" : "%.0f", t);
    image_draw_text(im, x - 3 * (int)strlen(label), y0 + bh + 7, label, 1, k_ink);
  }
  image_draw_text(im, x0 + bw / 2 - 18, y0 + bh + 18, "TIME S", 1, k_ink);
  /* frequency ticks: rows are not linear in Hz for mel, so place each tick
   * at the row whose frequency is nearest */
  const double fmax = freq_of_row(rows - 1, ctx), fstep = tick_step(fmax, 5);
  for (double f = 0; f <= fmax + 1e-9; f += fstep) {
    int best = 0;
    for (int r = 1; r < rows; r++)
      if (fabs(freq_of_row(r, ctx) - f) < fabs(freq_of_row(best, ctx) - f)) best = r;
    int y = y0 + bh - 1 - (int)((long)best * bh / rows);
    for (int d = 1; d <= 4; d++) put(im, x0 - 1 - d, y, k_ink);
    char label[32];
    if (f >= 1000) snprintf(label, sizeof label, "%gK", f / 1000);
    else snprintf(label, sizeof label, "%g", f);
    image_draw_text(im, x0 - 8 - 6 * (int)strlen(label), y - 3, label, 1, k_ink);
  }
  image_draw_text(im, 2, y0 - 12, "HZ", 1, k_ink);
}

void png_write_spectrogram(const char *path, const char *title, const float *values, int rows, int cols, double seconds,
                           RowFrequency freq_of_row, const void *ctx, float lo, float hi) {
  if (isnan(lo) || isnan(hi)) {
    float mn = INFINITY, mx = -INFINITY;
    for (size_t i = 0; i < (size_t)rows * cols; i++) {
      if (values[i] < mn) mn = values[i];
      if (values[i] > mx) mx = values[i];
    }
    if (isnan(lo)) lo = mn;
    if (isnan(hi)) hi = mx;
  }
  const int bw = cols < 400 ? 2 * cols + (cols < 200 ? 2 * cols : 0) : cols;
  const int bh = rows < 200 ? (rows < 100 ? 4 * rows : 2 * rows) : rows;
  const int left = 60, top = 24, bar = 14;
  Image im = image_new(left + bw + 20 + bar + 50, top + bh + 34, 255);
  image_draw_text(&im, left, 6, title, 1, k_ink);
  image_draw_map(&im, left, top, bw, bh, values, rows, cols, lo, hi);
  image_draw_axes(&im, left, top, bw, bh, rows, seconds, freq_of_row, ctx);
  /* colour bar with its range */
  const int bx = left + bw + 20;
  for (int y = 0; y < bh; y++) {
    uint8_t rgb[3];
    colormap_viridis(1.0f - (float)y / (float)(bh - 1), rgb);
    for (int x = 0; x < bar; x++) put(&im, bx + x, top + y, rgb);
  }
  char label[32];
  snprintf(label, sizeof label, "%.3g", hi);
  image_draw_text(&im, bx + bar + 3, top, label, 1, k_ink);
  snprintf(label, sizeof label, "%.3g", lo);
  image_draw_text(&im, bx + bar + 3, top + bh - 7, label, 1, k_ink);
  image_save_png(&im, path);
  image_free(&im);
}

void image_save_png(const Image *im, const char *path) {
  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = fopen(tmp, "wb");
  if (!f) at_fatal("cannot create '%s': %s", tmp, strerror(errno));
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  png_infop info = png ? png_create_info_struct(png) : NULL;
  if (!png || !info) at_fatal("libpng: out of memory writing '%s'", path);
  if (setjmp(png_jmpbuf(png))) {
    fclose(f);
    remove(tmp);
    at_fatal("cannot write '%s' (libpng failed: is the disk full?)", path);
  }
  png_init_io(png, f);
  png_set_IHDR(png, info, (png_uint_32)im->w, (png_uint_32)im->h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (int y = 0; y < im->h; y++) png_write_row(png, im->rgb + (size_t)y * im->w * 3);
  png_write_end(png, NULL);
  png_destroy_write_struct(&png, &info);
  if (fclose(f) != 0) {
    remove(tmp);
    at_fatal("cannot finish writing '%s' (is the disk full?)", path);
  }
  if (rename(tmp, path) != 0) at_fatal("cannot rename '%s' to '%s': %s", tmp, path, strerror(errno));
}
