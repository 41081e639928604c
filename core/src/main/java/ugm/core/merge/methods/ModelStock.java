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
 * tensor) at a time, and keeps one t per row.
 */
final class ModelStock extends AbstractMergeMethod {
    ModelStock() {
        super("model_stock", "t·mean(θ_t) + (1 − t)·θ0, t from the task vectors' mean cosine (--filter-wise: per row)",
                true, false, Parameter.WEIGHT, Parameter.FILTER_WISE);
    }

    @Override
    public String modelCountProblem(int models) {
        return models >= 2 ? null : "model_stock needs at least two models besides the base";
    }

    @Override
    public boolean firstPass() {
        return true;
    }

    @Override
    public TensorMerge prepare(MergeRequest r, TensorPlan plan) {
        int models = plan.models().size();
        long count = plan.output().elementCount();
        long[] shape = plan.output().shape();
        long span = r.filterWise() && shape.length > 0 && count > 0 ? shape[shape.length - 1] : Math.max(count, 1);
        double[] ts = new double[(int) Math.max(1, count / span)];
        int block = Blocks.BLOCK;
        float[] base = new float[block];
        float[][] d = new float[models][block];
        double[][] gram = new double[models][models];
        long at = 0;
        while (at < count) {
            long segmentEnd = (at / span + 1) * span;
            int n = (int) Math.min(block, Math.min(count, segmentEnd) - at);
            Blocks.decode(plan.base(), at, n, base);
            for (int i = 0; i < models; i++) {
                Blocks.decode(plan.models().get(i), at, n, d[i]);
                for (int j = 0; j < n; j++) {
                    d[i][j] -= base[j];
                }
            }
            for (int i = 0; i < models; i++) {
                for (int k = i; k < models; k++) {
                    double s = 0;
                    for (int j = 0; j < n; j++) {
                        s += (double) d[i][j] * d[k][j];
                    }
                    gram[i][k] += s;
                }
            }
            at += n;
            if (at == segmentEnd || at == count) {
                ts[(int) ((at - 1) / span)] = t(gram);
                for (double[] g : gram) {
                    java.util.Arrays.fill(g, 0);
                }
            }
        }
        return new Interpolation(ts, span);
    }

    /** t from the Gram matrix of the task vectors (upper triangle). */
    private static double t(double[][] gram) {
        int models = gram.length;
        double cos = 0;
        int pairs = 0;
        for (int i = 0; i < models; i++) {
            for (int k = i + 1; k < models; k++) {
                cos += gram[i][k] / Math.max(Math.sqrt(gram[i][i]) * Math.sqrt(gram[k][k]), 1e-6);
                pairs++;
            }
        }
        cos /= pairs;
        return models * cos / (1 + (models - 1) * cos);
    }

    /** The element pass: {@code t·mean(θ_t) + (1 − t)·θ0}, one t per span of elements. */
    private record Interpolation(double[] t, long span) implements TensorMerge {
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
