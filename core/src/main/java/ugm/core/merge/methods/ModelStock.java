package ugm.core.merge.methods;

import ugm.core.kernel.Kernels;
import ugm.core.merge.MergeRequest;
import ugm.core.merge.MergePlan.TensorPlan;
import ugm.core.merge.Parameter;
import ugm.core.merge.TensorMerge;

/**
 * model_stock: with the task vectors d_i = x_i − base, cos = the mean over pairs i < j of
 * {@code d_i·d_j / max(‖d_i‖‖d_j‖, 1e-6)}, {@code t = N·cos / (1 + (N − 1)·cos)} and
 * {@code out = t·mean(x_i) + (1 − t)·base}. Over the whole tensor, or with {@code filter_wise}
 * per row (the last dimension; a 1-D tensor is one row), as mergekit. The first pass streams over
 * the tensor accumulating the Gram matrix of the task vectors in double, one row (or the whole
 * tensor) at a time, and keeps one t per row. Where the task vectors cancel out, t is undefined
 * ({@link #CANCELLED}): the row keeps the base's values and the report says how many rows did. A
 * task vector whose float difference overflows (values near the maximum of both signs) is taken
 * in double.
 */
final class ModelStock extends AbstractMergeMethod {
    ModelStock() {
        super("model_stock", "t·mean(θ_t) + (1 − t)·θ0, t from the task vectors' mean cosine (--filter-wise: per row)",
                true, false, Parameter.WEIGHT, Parameter.FILTER_WISE);
    }

    @Override
    public String modelCountProblem(int models, boolean base) {
        return models >= 2 ? null : "model_stock needs at least two models besides the base";
    }

    @Override
    public boolean firstPass() {
        return true;
    }

    /**
     * Where the unit task vectors cancel out, {@code 1 + (N − 1)·cos} is 0 (its least possible
     * value) and t divides by it: t is undefined. Within this of 0 (far above the rounding of the
     * Gram matrix, about 1e-11 even for 10^9 elements) it counts as 0, and the row (or tensor)
     * keeps the base's values (t = 0).
     */
    static final double CANCELLED = 1e-9;

    @Override
    public TensorMerge prepare(MergeRequest r, TensorPlan plan) {
        int models = plan.models().size();
        long count = plan.output().elementCount();
        long[] shape = plan.output().shape();
        long span = r.filterWise() && shape.length > 0 && count > 0 ? shape[shape.length - 1] : Math.max(count, 1);
        double[] ts = new double[(int) Math.max(1, count / span)];
        int block = Blocks.BLOCK;
        float[] base = new float[block];
        float[] x = new float[block];
        double[][] d = new double[models][block];
        double[][] gram = new double[models][models];
        long undefined = 0;
        long at = 0;
        while (at < count) {
            long segmentEnd = (at / span + 1) * span;
            int n = (int) Math.min(block, Math.min(count, segmentEnd) - at);
            Blocks.decode(plan.base(), at, n, base);
            for (int i = 0; i < models; i++) {
                Blocks.decode(plan.models().get(i), at, n, x);
                for (int j = 0; j < n; j++) {
                    float f = x[j] - base[j];
                    // the float difference, or in double where that of finite values overflowed
                    d[i][j] = Float.isInfinite(f) && Float.isFinite(x[j]) && Float.isFinite(base[j]) ? (double) x[j] - base[j] : f;
                }
            }
            for (int i = 0; i < models; i++) {
                for (int k = i; k < models; k++) {
                    double s = 0;
                    for (int j = 0; j < n; j++) {
                        s += d[i][j] * d[k][j];
                    }
                    gram[i][k] += s;
                }
            }
            at += n;
            if (at == segmentEnd || at == count) {
                double cos = meanCosine(gram);
                double den = 1 + (models - 1) * cos;
                double t = models * cos / den;
                if (den <= CANCELLED) {
                    undefined++;
                    t = 0;
                }
                ts[(int) ((at - 1) / span)] = t;
                for (double[] g : gram) {
                    java.util.Arrays.fill(g, 0);
                }
            }
        }
        String warning = null;
        if (undefined > 0) {
            String cause = "the task vectors cancel out (1 + (N − 1)·cos = 0 for N = " + models + ", so t = N·cos / (1 + (N − 1)·cos)"
                    + " is undefined)";
            warning = span >= count ? "model_stock's t is undefined: " + cause + "; the tensor keeps the base's values"
                    : "model_stock's t is undefined in " + undefined + " of " + ts.length + " rows: " + cause
                    + "; those rows keep the base's values";
        }
        return new Interpolation(ts, span, warning);
    }

    /** The mean pairwise cosine of the task vectors, from their Gram matrix (upper triangle). */
    private static double meanCosine(double[][] gram) {
        int models = gram.length;
        double cos = 0;
        int pairs = 0;
        for (int i = 0; i < models; i++) {
            for (int k = i + 1; k < models; k++) {
                cos += gram[i][k] / Math.max(Math.sqrt(gram[i][i]) * Math.sqrt(gram[k][k]), 1e-6);
                pairs++;
            }
        }
        return cos / pairs;
    }

    /** The element pass: {@code t·mean(θ_t) + (1 − t)·θ0}, one t per span of elements. */
    private record Interpolation(double[] t, long span, String warning) implements TensorMerge {
        @Override
        public long apply(Kernels k, long from, int n, float[] base, float[][] models, float[][] fishers, float[] baseFisher,
                          float[] out) {
            int m = models.length;
            for (int j = 0; j < n; j++) {
                double mean = 0;
                for (float[] x : models) {
                    mean += x[j];
                }
                mean /= m;
                double tj = t[(int) ((from + j) / span)];
                out[j] = (float) (tj * mean + (1 - tj) * base[j]);
            }
            return 0;
        }
    }
}
