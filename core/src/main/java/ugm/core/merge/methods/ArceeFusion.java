package ugm.core.merge.methods;

import ugm.core.UgmException;
import ugm.core.merge.MergePlan.Input;
import ugm.core.merge.MergePlan.TensorPlan;
import ugm.core.merge.MergeRequest;
import ugm.core.merge.Parameter;
import ugm.core.merge.TensorMerge;
import ugm.core.merge.sparsify.OrderStatistics;

/**
 * arcee_fusion, mergekit's importance-based fusion of the base b and one model x: each element's
 * importance is {@code |x − b|·KL_row}, {@code KL_row = Σ p·log(p/q)} over its row (the last
 * dimension), {@code p = softmax(x_row) + 1e-8}, {@code q = softmax(b_row) + 1e-8}; the elements
 * whose importance is at least {@code median + 1.5·(Q3 − Q1)} of the tensor's importances take the
 * model's value {@code b + (x − b)}, the others keep the base's. The first pass computes each
 * row's KL (two passes over the row, in double; one double per row is kept) and the three
 * quantiles exactly ({@link OrderStatistics}; mergekit samples a million elements of larger
 * tensors at random).
 */
final class ArceeFusion extends BaseAndOneModel {
    ArceeFusion() {
        super("arcee_fusion", "the model where |θ1 − θ0| times its row's softmax KL divergence is an outlier"
                + " (median + 1.5·IQR), else the base", Parameter.WEIGHT);
    }

    @Override
    public boolean firstPass() {
        return true;
    }

    @Override
    public TensorMerge prepare(MergeRequest r, TensorPlan t) {
        long count = t.output().elementCount();
        long[] shape = t.output().shape();
        long cols = shape.length == 0 ? 1 : shape[shape.length - 1];
        if (count == 0) {
            return (k, from, n, base, models, fishers, baseFisher, out) -> 0;
        }
        long rows = count / cols;
        if (rows > Integer.MAX_VALUE - 8) {
            throw new UgmException(UgmException.Kind.INVALID_INPUT, "tensor '" + t.output().name() + "': arcee_fusion takes at most "
                    + (Integer.MAX_VALUE - 8) + " rows, not " + rows);
        }
        float[] b = new float[Blocks.BLOCK];
        float[] x = new float[Blocks.BLOCK];
        Input model = t.models().get(0);
        double[] kl = new double[(int) rows];
        for (int row = 0; row < rows; row++) {
            kl[row] = divergence(t.base(), model, row * cols, cols, b, x);
        }
        float[] q = OrderStatistics.ascending(new float[Blocks.BLOCK], count, (from, n, out) -> {
            Blocks.decode(t.base(), from, n, b);
            Blocks.decode(model, from, n, x);
            for (int j = 0; j < n; j++) {
                out[j] = importance(x[j], b[j], kl[(int) ((from + j) / cols)]);
            }
        }, (long) (0.25 * (count - 1)), (long) (0.5 * (count - 1)), (long) (0.75 * (count - 1)));
        double threshold = q[1] + 1.5 * ((double) q[2] - q[0]);
        return (k, from, n, base, models, fishers, baseFisher, out) -> {
            float[] m = models[0];
            for (int j = 0; j < n; j++) {
                boolean fuse = importance(m[j], base[j], kl[(int) ((from + j) / cols)]) >= threshold;
                out[j] = fuse ? base[j] + (m[j] - base[j]) : base[j];
            }
            return 0;
        };
    }

    /** {@code |x − b|·kl}, rounded to float: the same in the first pass and the element pass. */
    private static float importance(float x, float b, double kl) {
        return (float) (Math.abs((double) x - b) * kl);
    }

    /**
     * Σ p·log(p/q) over the row of {@code cols} elements from {@code start}, p and q the softmax of
     * the model's and the base's row plus 1e-8; at least 0 (it is, but for rounding).
     */
    private static double divergence(Input base, Input model, long start, long cols, float[] b, float[] x) {
        double maxX = Double.NEGATIVE_INFINITY;
        double maxB = Double.NEGATIVE_INFINITY;
        double sumX = 0;
        double sumB = 0;
        for (long at = start; at < start + cols; at += b.length) {
            int n = (int) Math.min(b.length, start + cols - at);
            Blocks.decode(base, at, n, b);
            Blocks.decode(model, at, n, x);
            for (int j = 0; j < n; j++) { // running log-sum-exp
                if (x[j] > maxX) {
                    sumX = sumX * Math.exp(maxX - x[j]);
                    maxX = x[j];
                }
                sumX += Math.exp(x[j] - maxX);
                if (b[j] > maxB) {
                    sumB = sumB * Math.exp(maxB - b[j]);
                    maxB = b[j];
                }
                sumB += Math.exp(b[j] - maxB);
            }
        }
        double kl = 0;
        for (long at = start; at < start + cols; at += b.length) {
            int n = (int) Math.min(b.length, start + cols - at);
            Blocks.decode(base, at, n, b);
            Blocks.decode(model, at, n, x);
            for (int j = 0; j < n; j++) {
                double p = Math.exp(x[j] - maxX) / sumX + 1e-8;
                double q = Math.exp(b[j] - maxB) / sumB + 1e-8;
                kl += p * Math.log(p / q);
            }
        }
        return Math.max(kl, 0);
    }
}
