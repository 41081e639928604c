package ugm.core.merge;

import ugm.core.merge.MergePlan.TensorPlan;

/**
 * slerp: spherical interpolation between the base (v0) and the other model (v1) over the whole
 * flattened tensor. The first pass computes the norms and the dot product (in double); the
 * element pass is {@code a·v0 + b·v1} with the two coefficients of the angle (plain lerp when the
 * normalised vectors are nearly colinear, |cos| > 0.9995, as mergekit).
 */
final class Slerp implements ElementPass {
    private final double a;
    private final double b;

    private Slerp(double a, double b) {
        this.a = a;
        this.b = b;
    }

    static ElementPass prepare(MergeRequest r, TensorPlan t) {
        double tt = TensorPasses.decimal(r.t.valueFor(t.output().name()));
        long count = t.output().elementCount();
        float[] v0 = new float[TensorPasses.BLOCK];
        float[] v1 = new float[TensorPasses.BLOCK];
        double n0 = 0;
        double n1 = 0;
        double dot = 0;
        for (long at = 0; at < count; at += v0.length) {
            int n = (int) Math.min(v0.length, count - at);
            TensorPasses.decode(t.base(), at, n, v0);
            TensorPasses.decode(t.models().get(0), at, n, v1);
            for (int j = 0; j < n; j++) {
                n0 += (double) v0[j] * v0[j];
                n1 += (double) v1[j] * v1[j];
                dot += (double) v0[j] * v1[j];
            }
        }
        n0 = Math.sqrt(n0);
        n1 = Math.sqrt(n1);
        double cos = dot / (n0 > 1e-8 ? n0 : 1) / (n1 > 1e-8 ? n1 : 1);
        if (Math.abs(cos) > 0.9995) {
            return new Slerp(1 - tt, tt);
        }
        double theta = Math.acos(cos);
        double sin = Math.sin(theta);
        return new Slerp(Math.sin((1 - tt) * theta) / sin, Math.sin(tt * theta) / sin);
    }

    @Override
    public void apply(long from, int n, float[] base, float[][] models, float[][] fishers, float[] baseFisher, float[] out) {
        float[] v1 = models[0];
        for (int j = 0; j < n; j++) {
            out[j] = (float) (a * base[j] + b * v1[j]);
        }
    }
}
