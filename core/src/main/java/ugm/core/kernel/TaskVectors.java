package ugm.core.kernel;

import java.util.Objects;

/**
 * Parameters of the task-vector family's element pass ({@link Kernels#taskVectors}: ties,
 * dare_*, breadcrumbs*, della*; docs/mergekit-methods.md), one tensor's worth.
 *
 * @param weights   weight_t, one per model
 * @param factors   the rescale factor of each model's vector (1 where not rescaled)
 * @param consensus elect a sign per element and keep only the vectors that agree with it
 * @param normalize divide by the sum of the weights of the vectors kept
 * @param lambda    the factor of the merged vector
 */
public record TaskVectors(float[] weights, double[] factors, boolean consensus, boolean normalize, double lambda) {
    public TaskVectors {
        Objects.requireNonNull(weights, "weights");
        Objects.requireNonNull(factors, "factors");
        if (weights.length != factors.length) {
            throw new IllegalArgumentException(weights.length + " weights but " + factors.length + " factors");
        }
        weights = weights.clone();
        factors = factors.clone();
    }

    /** Σ weight_t in double, in model order: every weight counts where signs are not elected. */
    double weightSum() {
        double all = 0;
        for (float w : weights) {
            all += w;
        }
        return all;
    }
}
