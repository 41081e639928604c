package ugm.core.merge;

import ugm.core.merge.MergePlan.TensorPlan;

/**
 * nearswap: per element, {@code w = clamp(t / max(|a − b|, 1e-6), 0, 1)} and
 * {@code out = w·b + (1 − w)·a}, with a the base and b the other model: elements within t of the
 * base take the model's value, the others move t towards it. No first pass.
 */
final class Nearswap implements ElementPass {
    private final double t;

    private Nearswap(double t) {
        this.t = t;
    }

    static ElementPass prepare(MergeRequest r, TensorPlan plan) {
        String name = plan.output().name();
        double t = TensorPasses.decimal(r.t.valueFor(name));
        if (!(t >= 0) || Double.isInfinite(t)) {
            throw new ugm.core.UgmException(ugm.core.UgmException.Kind.USAGE,
                    "tensor '" + name + "': nearswap's t must be a finite number >= 0, not " + t);
        }
        return new Nearswap(t);
    }

    @Override
    public void apply(long from, int n, float[] base, float[][] models, float[][] fishers, float[] baseFisher, float[] out) {
        float[] b = models[0];
        for (int j = 0; j < n; j++) {
            double a = base[j];
            double w = Math.min(1, Math.max(0, t / Math.max(Math.abs(a - b[j]), 1e-6)));
            out[j] = (float) (w * b[j] + (1 - w) * a);
        }
    }
}
