package ugm.core.merge.methods;

import ugm.core.kernel.Kernels;
import ugm.core.merge.MergeRequest;
import ugm.core.merge.MergePlan.TensorPlan;
import ugm.core.merge.Parameter;
import ugm.core.merge.TensorMerge;

/**
 * slerp: spherical interpolation between the base (v0) and the other model (v1) over the whole
 * flattened tensor. The first pass computes the norms and the dot product (in double); the
 * element pass is {@code a·v0 + b·v1} with the two coefficients of the angle (plain lerp when the
 * normalised vectors are nearly colinear, |cos| > 0.9995, as mergekit).
 */
final class Slerp extends BaseAndOneModel {
    Slerp() {
        super("slerp", "spherical interpolation from the base (--t 0) to the one model (--t 1)",
                Parameter.WEIGHT, Parameter.T);
    }

    @Override
    public String tensorProblem(MergeRequest r, String tensor, long count) {
        double t = Blocks.decimal(r.global(Parameter.T).valueFor(tensor));
        return Double.isFinite(t) ? null : "slerp's t must be a finite number, not " + t;
    }

    @Override
    public boolean firstPass() {
        return true;
    }

    /** The element pass: {@code a·v0 + b·v1}. */
    private record Mix(double a, double b) implements TensorMerge {
        @Override
        public long apply(Kernels k, long from, int n, float[] base, float[][] models, float[][] fishers, float[] baseFisher,
                          float[] out) {
            float[] v1 = models[0];
            for (int j = 0; j < n; j++) {
                out[j] = (float) (a * base[j] + b * v1[j]);
            }
            return 0;
        }
    }

    @Override
    public TensorMerge prepare(MergeRequest r, TensorPlan t) {
        double tt = Blocks.decimal(r.global(Parameter.T).valueFor(t.output().name()));
        long count = t.output().elementCount();
        float[] v0 = new float[Blocks.BLOCK];
        float[] v1 = new float[Blocks.BLOCK];
        double n0 = 0;
        double n1 = 0;
        double dot = 0;
        for (long at = 0; at < count; at += v0.length) {
            int n = (int) Math.min(v0.length, count - at);
            Blocks.decode(t.base(), at, n, v0);
            Blocks.decode(t.models().get(0), at, n, v1);
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
            return new Mix(1 - tt, tt);
        }
        double theta = Math.acos(cos);
        double sin = Math.sin(theta);
        return new Mix(Math.sin((1 - tt) * theta) / sin, Math.sin(tt * theta) / sin);
    }
}
