package ugm.core.merge.methods;

import ugm.core.kernel.DirectKernel;
import ugm.core.merge.MergePlan.Coefficients;
import ugm.core.merge.MergePlan.TensorPlan;
import ugm.core.merge.MergeRequest;
import ugm.core.merge.Parameter;
import ugm.core.merge.TensorMerge;

/**
 * linear: the weighted average {@code Σ w_t θ_t / Σ w_t}, or the weighted sum without normalize (mergekit's linear).
 * Where the models and the output are BF16, F16 or F32 the direct kernel merges in one pass ({@link LinearFamilyDirect}).
 */
final class Linear extends AbstractMergeMethod {
    Linear() {
        super("linear", "Σ w_t θ_t / Σ w_t (without the division when --no-normalize)", false, false,
                Parameter.WEIGHT, Parameter.NORMALIZE);
    }

    @Override
    public boolean defaultFlag(Parameter p) {
        return p == Parameter.NORMALIZE;
    }

    @Override
    public String weightsProblem(float[] weights, boolean normalize) {
        double sum = 0;
        for (float w : weights) {
            sum += w;
        }
        return normalize && sum == 0 ? "linear with normalize needs weights that do not sum to 0" : null;
    }

    /** With normalize, the weights divided by their sum. */
    @Override
    public Coefficients coefficients(TensorValues v) {
        float[] weights = v.weights().clone();
        if (v.normalize()) {
            double sum = 0;
            for (float w : weights) {
                sum += w;
            }
            for (int i = 0; i < weights.length; i++) {
                weights[i] = (float) (weights[i] / sum);
            }
        }
        return new Coefficients(weights, v.weights().clone(), v.scales(), v.baseScale(), v.floor(), null);
    }

    @Override
    public TensorMerge prepare(MergeRequest r, TensorPlan t) {
        float[] w = t.coefficients().weights();
        return LinearFamilyDirect.of(t, false, w, (k, from, n, base, models, fishers, baseFisher, out) -> {
            k.linear(models, w, out, n);
            return 0;
        });
    }

    @Override
    public DirectKernel directKernel(boolean subtracts) {
        return DirectKernel.LINEAR;
    }
}
