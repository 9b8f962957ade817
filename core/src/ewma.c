/* ewma.c: the ABR bandwidth average (ewma.h). */
#include "ewma.h"

#include <math.h>

void kp_ewma_init(kp_ewma *e, double half_life)
{
    e->alpha = exp(log(0.5) / half_life);
    e->estimate = e->total_weight = 0;
}

void kp_ewma_sample(kp_ewma *e, double weight, double value)
{
    double adj = pow(e->alpha, weight);
    e->estimate = value * (1 - adj) + adj * e->estimate;
    e->total_weight += weight;
}

double kp_ewma_get(const kp_ewma *e)
{
    double zero = 1 - pow(e->alpha, e->total_weight);
    return zero > 0 ? e->estimate / zero : 0;
}
