/* classifier_internal.h - the classifier's shared internals (not public API). */
#ifndef POLYP_CLASSIFIER_INTERNAL_H
#define POLYP_CLASSIFIER_INTERNAL_H

#include "internal.h"
#include "rng.h"

#define POLYP_CLF_MAX_LAYERS 3          /* weight layers: up to two hidden + output */
#define POLYP_CLF_MAX_CLASSES 100000    /* refuse more labels than this */
#define POLYP_CLF_MAX_DIM (1u << 20)    /* refuse wider features */
#define POLYP_CLF_MAX_EPOCHS 100000
#define POLYP_MODEL_FORMAT "polyp-classifier"
#define POLYP_MODEL_VERSION 1

/* Output kinds (scikit-learn): softmax for >2 classes, logistic with one output unit for 2
 * (MLPClassifier's binary case); LR keeps raw one-vs-rest margins (decision_function). */
typedef enum clf_output { CLF_OUT_SOFTMAX, CLF_OUT_LOGISTIC, CLF_OUT_MARGIN } clf_output;

struct polyp_classifier {
    polyp_classifier_kind kind;
    size_t dim;
    size_t n_classes;
    char **labels;               /* n_classes, sorted, owned */
    clf_output output;
    size_t n_layers;             /* weight layers (hidden + 1) */
    size_t sizes[POLYP_CLF_MAX_LAYERS + 1]; /* sizes[0] = dim ... sizes[n_layers] = n_out */
    float *W[POLYP_CLF_MAX_LAYERS]; /* W[l]: sizes[l] x sizes[l+1], row-major (sklearn coefs_) */
    float *b[POLYP_CLF_MAX_LAYERS]; /* b[l]: sizes[l+1] */
    size_t n_cal;                /* calibrators: 1 when binary (positive class), else n_classes */
    double *cal_a, *cal_b;       /* Platt: p = 1 / (1 + exp(a * f + b)) */
    char *extractor_id;          /* owned */
    double *ref_acc;             /* n_epochs, owned */
    size_t n_epochs;
    double val_acc;              /* -1 when unknown */
    double learning_rate;
};

/* Allocates an empty classifier with the given layer sizes (weights zeroed). */
polyp_status clf_alloc(polyp_classifier_kind kind, size_t n_classes, const size_t *sizes,
                       size_t n_layers, polyp_classifier **out, polyp_error *err);

/* The forward pass (classifier.c). act[0] = X; act[l+1] = f(act[l] W[l] + b[l]) with ReLU
 * between layers and the output activation last; act[l] for l >= 1 are caller buffers of
 * n x sizes[l] (MLP backprop keeps them). */
void clf_forward_into(const polyp_classifier *clf, const float *X, size_t n, float **act,
                      const polyp_parallel *par);

/* Uncalibrated outputs of n points: out is n x sizes[n_layers] (softmax / logistic
 * probabilities, or margins), in blocks of rows through bounded scratch memory. */
polyp_status clf_forward(const polyp_classifier *clf, const float *X, size_t n, float *out,
                         const polyp_parallel *par, polyp_error *err);

/* Class index of the largest output (uncalibrated prediction), for n rows of outputs. */
size_t clf_argmax_output(const polyp_classifier *clf, const float *out_row);

/* ---------------------------------------------------------------- MLP (mlp.c) */
typedef struct mlp_trainer mlp_trainer;
polyp_status mlp_trainer_init(polyp_classifier *clf, double learning_rate, double alpha,
                              size_t max_batch, uint64_t seed, const polyp_parallel *par,
                              mlp_trainer **out, polyp_error *err);
/* Glorot-uniform init (scikit-learn's _init_coef, factor 6 for ReLU). */
void mlp_init_weights(polyp_classifier *clf, polyp_rng *rng);
/* One partial_fit pass over a chunk: shuffle, minibatches of min(max_batch, n), Adam. */
polyp_status mlp_partial_fit(mlp_trainer *t, const float *X, const uint32_t *y, size_t n,
                             polyp_error *err);
/* Loss and gradients of one batch (exposed for the finite-difference tests). Gradients
 * land in the trainer's buffers: mlp_grad_W(t, l), mlp_grad_b(t, l). */
double mlp_backprop(mlp_trainer *t, const float *X, const uint32_t *y, size_t n);
float *mlp_grad_W(mlp_trainer *t, size_t l);
float *mlp_grad_b(mlp_trainer *t, size_t l);
/* One Adam step with the current gradients. */
void mlp_adam_step(mlp_trainer *t);
void mlp_trainer_free(mlp_trainer *t);

/* Adam's update of one parameter array (scikit-learn AdamOptimizer, bias-corrected step
 * size lr_t = lr * sqrt(1 - b2^t) / (1 - b1^t)); t is the 1-based step number. */
void polyp_adam_update(float *restrict param, const float *restrict grad, float *restrict m, float *restrict v,
                       size_t n, double lr, double beta1, double beta2, double eps, uint64_t t);

/* ---------------------------------------------------------------- SGD (sgd.c) */
typedef struct sgd_trainer sgd_trainer;
polyp_status sgd_trainer_init(polyp_classifier *clf, double alpha, uint64_t seed,
                              const polyp_parallel *par, sgd_trainer **out, polyp_error *err);
polyp_status sgd_partial_fit(sgd_trainer *t, const float *X, const uint32_t *y, size_t n,
                             polyp_error *err);
/* Copies the averaged weights into clf (what predict uses). */
void sgd_export(sgd_trainer *t);
void sgd_trainer_free(sgd_trainer *t);

/* ---------------------------------------------------------------- calibration */
/* Platt sigmoid fit: f scores, y 0/1 targets, n points -> p = 1/(1+exp(a f + b)),
 * smoothed targets as Platt / scikit-learn _sigmoid_calibration. */
polyp_status polyp_platt_fit(const double *f, const uint8_t *y, size_t n, double *a, double *b,
                             polyp_error *err);
/* Fits clf's calibrators on reference outputs (n x n_out, from clf_forward) and labels. */
polyp_status clf_calibrate(polyp_classifier *clf, const float *outputs, const uint32_t *y,
                           size_t n, polyp_error *err);
/* Calibrated probabilities from outputs, in place into probs (n x n_classes). */
void clf_apply_calibration(const polyp_classifier *clf, const float *outputs, size_t n,
                           float *probs);

#endif /* POLYP_CLASSIFIER_INTERNAL_H */
