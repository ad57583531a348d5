/* Prototypical networks (Snell, Swersky, Zemel 2017), as Pons et al. used
 * them for audio with few examples ("Training neural audio classifiers with
 * few data", ICASSP 2019): a class is the mean embedding of its labelled
 * examples (its prototype), an example belongs to the nearest prototype in
 * squared Euclidean distance.
 *
 * An episode holds `ways` classes; its rows are class-major: for way w,
 * rows [w (shots + queries), w (shots + queries) + shots) are the support
 * examples and the next `queries` rows the queries. */
#ifndef AT_PROTOTYPICAL_H
#define AT_PROTOTYPICAL_H

/* The episode loss: the mean over the queries of the cross-entropy of the
 * softmax over the ways of -||query - prototype||^2. emb [rows, dim];
 * grad (NULL: not wanted) receives d loss / d emb [rows, dim]; accuracy
 * (NULL: not wanted) the fraction of queries nearest their own prototype.
 * Computed in double. */
double proto_episode_loss(const float *emb, int ways, int shots, int queries, int dim, float *grad, double *accuracy);

/* The prototypes of `classes` classes: the mean of the embeddings [n, dim]
 * whose label is the class. protos [classes, dim]; a class without examples
 * gets count 0 and a prototype of zeros (callers refuse it). counts[classes]. */
void proto_prototypes(const float *emb, const int *label, int n, int classes, int dim, float *protos, int *counts);

/* scores [n, classes] = -||emb_i - proto_c||^2: the argmax is the nearest prototype. */
void proto_scores(const float *emb, int n, const float *protos, int classes, int dim, float *scores);

#endif
