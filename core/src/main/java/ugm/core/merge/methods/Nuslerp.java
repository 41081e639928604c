package ugm.core.merge.methods;

import ugm.core.UgmException;
import ugm.core.merge.MergePlan.TensorPlan;
import ugm.core.merge.MergeRequest;
import ugm.core.merge.Parameter;
import ugm.core.merge.TensorMerge;

/**
 * nuslerp, mergekit's spherical interpolation of two models at {@code t = w2 / (w1 + w2)} (0.5
 * when {@code |w1 + w2| < 1e-6}); with a base, of their task vectors, added back to the base. The
 * vectors interpolated are the whole tensor ({@code nuslerp_flatten}, the default), else those
 * along its last dimension (its rows), or with {@code nuslerp_row_wise} those along its first (a
 * 2-D tensor's columns: mergekit's naming). Per vector: {@code cos = v0·v1 / (max(‖v0‖, 1e-7)·
 * max(‖v1‖, 1e-7))} clamped to [−1, 1], {@code θ = acos cos}; {@code out = (sin((1 − t)θ)·v0 +
 * sin(tθ)·v1) / sin θ}, or the lerp {@code (1 − t)·v0 + t·v1} where {@code |sin θ| < 1e-8}. The
 * first pass streams the tensor once for every vector's norms and dot product (in double) and
 * keeps two coefficients per vector; one model alone is returned as it is.
 */
final class Nuslerp extends AbstractMergeMethod {
    Nuslerp() {
        super("nuslerp", "spherical interpolation of two models (with a base: of their task vectors) at t = w2/(w1 + w2),"
                        + " over the tensor, its rows or its columns",
                false, false, Parameter.WEIGHT, Parameter.NUSLERP_FLATTEN, Parameter.NUSLERP_ROW_WISE);
    }

    @Override
    public boolean takesBase() {
        return true;
    }

    @Override
    public boolean defaultFlag(Parameter p) {
        return p == Parameter.NUSLERP_FLATTEN;
    }

    @Override
    public String modelCountProblem(int models, boolean base) {
        if (models == 2 || models == 1 && !base) {
            return null;
        }
        return "nuslerp interpolates two models (besides the base, when one is given), not " + models;
    }

    @Override
    public boolean firstPass() {
        return true;
    }

    @Override
    public TensorMerge prepare(MergeRequest r, TensorPlan t) {
        if (t.models().size() == 1) {
            return (k, from, n, base, models, fishers, baseFisher, out) -> {
                System.arraycopy(models[0], 0, out, 0, n);
                return 0;
            };
        }
        double w0 = Blocks.decimal(t.coefficients().weights()[0]);
        double w1 = Blocks.decimal(t.coefficients().weights()[1]);
        double tt = Math.abs(w0 + w1) < 1e-6 ? 0.5 : w1 / (w0 + w1);
        Vectors vectors = Vectors.of(t.output().shape(), t.output().elementCount(), r.flag(Parameter.NUSLERP_FLATTEN),
                r.flag(Parameter.NUSLERP_ROW_WISE));
        double[][] sums = sums(t, vectors); // per vector: ‖v0‖², ‖v1‖², v0·v1
        double[] a = new double[vectors.count];
        double[] b = new double[vectors.count];
        for (int g = 0; g < vectors.count; g++) {
            double cos = sums[2][g] / (Math.max(Math.sqrt(sums[0][g]), 1e-7) * Math.max(Math.sqrt(sums[1][g]), 1e-7));
            double theta = Math.acos(Math.min(1, Math.max(-1, cos)));
            double sin = Math.sin(theta);
            if (Math.abs(sin) < 1e-8) {
                a[g] = 1 - tt;
                b[g] = tt;
            } else {
                a[g] = Math.sin((1 - tt) * theta) / sin;
                b[g] = Math.sin(tt * theta) / sin;
            }
        }
        boolean hasBase = t.base() != null;
        return (k, from, n, base, models, fishers, baseFisher, out) -> {
            float[] x0 = models[0];
            float[] x1 = models[1];
            for (int j = 0; j < n; j++) {
                int g = vectors.of(from + j);
                double b0 = hasBase ? base[j] : 0;
                out[j] = (float) (b0 + a[g] * (x0[j] - b0) + b[g] * (x1[j] - b0));
            }
            return 0;
        };
    }

    /**
     * Which vector each element belongs to: all one ({@code stride} 0), consecutive runs of
     * {@code run} elements (rows), or every {@code stride}-th element (vectors along the first dimension).
     */
    private record Vectors(int count, long run, long stride) {
        static Vectors of(long[] shape, long elements, boolean flatten, boolean firstDimension) {
            if (flatten || shape.length <= 1 || elements == 0) {
                return new Vectors(1, Long.MAX_VALUE, 0);
            }
            long vectors = firstDimension ? elements / shape[0] : elements / shape[shape.length - 1];
            if (vectors > Integer.MAX_VALUE - 8) {
                throw new UgmException(UgmException.Kind.INVALID_INPUT, "nuslerp interpolates at most " + (Integer.MAX_VALUE - 8)
                        + " vectors per tensor, not " + vectors + "; use nuslerp_flatten");
            }
            return firstDimension ? new Vectors((int) vectors, 0, vectors) : new Vectors((int) vectors, shape[shape.length - 1], 0);
        }

        int of(long element) {
            return (int) (stride > 0 ? element % stride : element / run);
        }
    }

    /** Per vector, in double: the squared norms of the two vectors (less the base, if any) and their dot product. */
    private static double[][] sums(TensorPlan t, Vectors vectors) {
        long count = t.output().elementCount();
        boolean hasBase = t.base() != null;
        float[] base = new float[Blocks.BLOCK];
        float[] x0 = new float[Blocks.BLOCK];
        float[] x1 = new float[Blocks.BLOCK];
        double[][] s = new double[3][vectors.count];
        for (long at = 0; at < count; at += Blocks.BLOCK) {
            int n = (int) Math.min(Blocks.BLOCK, count - at);
            if (hasBase) {
                Blocks.decode(t.base(), at, n, base);
            }
            Blocks.decode(t.models().get(0), at, n, x0);
            Blocks.decode(t.models().get(1), at, n, x1);
            for (int j = 0; j < n; j++) {
                double b = hasBase ? base[j] : 0;
                double v0 = x0[j] - b;
                double v1 = x1[j] - b;
                int g = vectors.of(at + j);
                s[0][g] += v0 * v0;
                s[1][g] += v1 * v1;
                s[2][g] += v0 * v1;
            }
        }
        return s;
    }
}
