/* Pictures of spectrograms and feature maps, written as PNG (libpng):
 * frequency upward, time to the right, a perceptual colour map (viridis),
 * and axes labelled in seconds and Hz. */
#ifndef AT_PNG_IMAGE_H
#define AT_PNG_IMAGE_H

#include <stdint.h>

typedef struct Image {
  int w, h;
  uint8_t *rgb; /* h rows of w RGB triples, top row first */
} Image;

Image image_new(int w, int h, uint8_t grey); /* filled with one grey level */
void image_free(Image *im);

/* The colour of t in [0, 1] on the viridis map (NaN: mid grey). */
void colormap_viridis(float t, uint8_t rgb[3]);

/* Draws values[rows, cols] (row 0 = lowest frequency) into the box at
 * (x0, y0) of size bw x bh, scaled from lo (dark) to hi (bright). */
void image_draw_map(Image *im, int x0, int y0, int bw, int bh, const float *values, int rows, int cols, float lo,
                    float hi);

/* Text in a 5x7 pixel font (digits, letters, . - : / space), scale s. */
void image_draw_text(Image *im, int x, int y, const char *text, int s, const uint8_t rgb[3]);

/* Axes for a map in the box (x0, y0, bw, bh): time ticks in seconds below,
 * frequency ticks in Hz on the left (freq_of_row(r) gives the frequency of
 * row r; rows are drawn bottom-up). */
typedef double (*RowFrequency)(int row, const void *ctx);
void image_draw_axes(Image *im, int x0, int y0, int bw, int bh, int rows, double seconds, RowFrequency freq_of_row,
                     const void *ctx);

/* A whole figure: a title, the map with axes, a colour bar. lo/hi NaN: the
 * map's own range. Writes path (temporary name + rename; stops with a clear
 * message on failure). */
void png_write_spectrogram(const char *path, const char *title, const float *values, int rows, int cols, double seconds,
                           RowFrequency freq_of_row, const void *ctx, float lo, float hi);

/* Writes an image as an 8-bit RGB PNG. */
void image_save_png(const Image *im, const char *path);

#endif
