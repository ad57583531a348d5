#include "train/prototypical.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

static double squared_distance(const float *a, const double *b, int dim) {
  double s = 0;
  for (int j = 0; j < dim; j++) {
    const double d = (double)a[j] - b[j];
    s += d * d;
  }
  return s;
}

double proto_episode_loss(const float *emb, int ways, int shots, int queries, int dim, float *grad, double *accuracy) {
  AT_ASSERT(ways >= 2 && shots >= 1 && queries >= 1 && dim >= 1);
  const int per_way = shots + queries;
  double *protos = at_calloc((size_t)ways * dim, sizeof(double), "prototypes");
  double *dprotos = at_calloc((size_t)ways * dim, sizeof(double), "prototype gradients");
  double *p = at_malloc(sizeof(double) * (size_t)ways, "query probabilities");
  for (int w = 0; w < ways; w++)
    for (int s = 0; s < shots; s++)
      for (int j = 0; j < dim; j++) protos[(size_t)w * dim + j] += (double)emb[((size_t)w * per_way + s) * dim + j] / shots;
  if (grad) memset(grad, 0, sizeof(float) * (size_t)ways * per_way * dim);
  const double n_queries = (double)ways * queries;
  double loss = 0;
  int right = 0;
  for (int w = 0; w < ways; w++)
    for (int q = 0; q < queries; q++) {
      const size_t row = (size_t)w * per_way + shots + q;
      const float *x = emb + row * dim;
      double top = -INFINITY;
      int nearest = 0;
      for (int v = 0; v < ways; v++) { /* logits -d, kept in p */
        p[v] = -squared_distance(x, protos + (size_t)v * dim, dim);
        if (p[v] > top) top = p[v], nearest = v;
      }
      right += nearest == w;
      double sum = 0;
      for (int v = 0; v < ways; v++) sum += exp(p[v] - top);
      loss += -(p[w] - top - log(sum));
      if (!grad) continue;
      for (int v = 0; v < ways; v++) p[v] = exp(p[v] - top) / sum;
      /* d loss / d logit_v = (p_v - [v = w]) / Q; logit_v = -||x - c_v||^2 */
      for (int v = 0; v < ways; v++) {
        const double g = (p[v] - (v == w)) / n_queries;
        for (int j = 0; j < dim; j++) {
          const double diff = (double)x[j] - protos[(size_t)v * dim + j];
          grad[row * dim + j] += (float)(-2.0 * g * diff);
          dprotos[(size_t)v * dim + j] += 2.0 * g * diff;
        }
      }
    }
  if (grad) /* a prototype is the mean of its support rows */
    for (int w = 0; w < ways; w++)
      for (int s = 0; s < shots; s++)
        for (int j = 0; j < dim; j++) grad[((size_t)w * per_way + s) * dim + j] = (float)(dprotos[(size_t)w * dim + j] / shots);
  if (accuracy) *accuracy = right / n_queries;
  free(p);
  free(dprotos);
  free(protos);
  return loss / n_queries;
}

void proto_prototypes(const float *emb, const int *label, int n, int classes, int dim, float *protos, int *counts) {
  double *sum = at_calloc((size_t)classes * dim + 1, sizeof(double), "prototype sums");
  memset(counts, 0, sizeof(int) * (size_t)classes);
  for (int i = 0; i < n; i++) {
    AT_ASSERT(label[i] >= 0 && label[i] < classes);
    counts[label[i]]++;
    for (int j = 0; j < dim; j++) sum[(size_t)label[i] * dim + j] += emb[(size_t)i * dim + j];
  }
  for (int c = 0; c < classes; c++)
    for (int j = 0; j < dim; j++)
      protos[(size_t)c * dim + j] = counts[c] ? (float)(sum[(size_t)c * dim + j] / counts[c]) : 0.0f;
  free(sum);
}

void proto_scores(const float *emb, int n, const float *protos, int classes, int dim, float *scores) {
  for (int i = 0; i < n; i++)
    for (int c = 0; c < classes; c++) {
      double s = 0;
      for (int j = 0; j < dim; j++) {
        const double d = (double)emb[(size_t)i * dim + j] - protos[(size_t)c * dim + j];
        s += d * d;
      }
      scores[(size_t)i * classes + c] = (float)-s;
    }
}
