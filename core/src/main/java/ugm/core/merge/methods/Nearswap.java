package ugm.core.merge.methods;

import ugm.core.merge.MergeRequest;
import ugm.core.merge.MergePlan.TensorPlan;
import ugm.core.merge.Parameter;
import ugm.core.merge.TensorMerge;

/**
 * nearswap: per element, {@code w = clamp(t / max(|a − b|, 1e-6), 0, 1)} and
 * {@code out = w·b + (1 − w)·a}, with a the base and b the other model: elements within t of the
 * base take the model's value, the others move t towards it. No first pass.
 */
final class Nearswap extends BaseAndOneModel {
    Nearswap() {
        super("nearswap", "the model where it is within --t of the base, else moved towards the base",
                Parameter.WEIGHT, Parameter.T);
    }

    @Override
    public String tensorProblem(MergeRequest r, String tensor, long count) {
        double t = Blocks.decimal(r.global(Parameter.T).valueFor(tensor));
        return t >= 0 && !Double.isInfinite(t) ? null : "nearswap's t must be a finite number >= 0, not " + t;
    }

    @Override
    public TensorMerge prepare(MergeRequest r, TensorPlan plan) {
        double t = Blocks.decimal(r.global(Parameter.T).valueFor(plan.output().name()));
        return (k, from, n, base, models, fishers, baseFisher, out) -> {
            float[] b = models[0];
            for (int j = 0; j < n; j++) {
                double a = base[j];
                double w = Math.min(1, Math.max(0, t / Math.max(Math.abs(a - b[j]), 1e-6)));
                out[j] = (float) (w * b[j] + (1 - w) * a);
            }
            return 0;
        };
    }
}
