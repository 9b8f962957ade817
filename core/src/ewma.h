/* ewma.h: the exponentially weighted moving average both ABR controllers use for their
 * bandwidth estimate (hls.js EwmaBandWidthEstimator, shaka EwmaBandwidthEstimator: the same
 * formula, a zero-factor correcting the start). Each engine keeps a fast and a slow one and
 * takes the smaller. */
#ifndef KP_EWMA_H
#define KP_EWMA_H

typedef struct kp_ewma {
    double alpha, estimate, total_weight;
} kp_ewma;

/* half_life: in the unit of the sample weights (seconds). */
void kp_ewma_init(kp_ewma *e, double half_life);
void kp_ewma_sample(kp_ewma *e, double weight, double value);
/* The estimate, 0 before any sample. */
double kp_ewma_get(const kp_ewma *e);

#endif
