/* Where evaluation's crops lie in an example: the one rule shared by the
 * loader (eval batches), `auratag tag` and `auratag activations`, so that a
 * file is scored on the same frames everywhere. */
#ifndef AT_CROP_SPACING_H
#define AT_CROP_SPACING_H

/* The first frame of crop k of `crops` crops of `crop` frames, equally spaced
 * over `frames` frames: round(k * (frames - crop) / (crops - 1)), half up, so
 * the first starts at frame 0 and the last ends at the last frame. A single
 * crop is centred: floor((frames - crop) / 2). Needs crop <= frames. */
long crop_spaced_start(long frames, long crop, int crops, int k);

/* The default number of evaluation crops: enough to cover every frame
 * (ceil(frames / crop)), 1 when an example is no longer than a crop. */
int crop_covering_count(long frames, long crop);

#endif
