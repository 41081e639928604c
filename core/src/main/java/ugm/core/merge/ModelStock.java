package ugm.core.merge;

import ugm.core.merge.MergePlan.TensorPlan;

/**
 * model_stock: with the task vectors d_i = x_i − base, cos = the mean over pairs i < j of
 * {@code d_i·d_j / max(‖d_i‖‖d_j‖, 1e-6)}, {@code t = N·cos / (1 + (N − 1)·cos)} and
 * {@code out = t·mean(x_i) + (1 − t)·base}. The first pass accumulates the Gram matrix of the
 * task vectors in double.
 */
final class ModelStock implements ElementPass {
    private final double t;

    private ModelStock(double t) {
        this.t = t;
    }

    static ElementPass prepare(MergeRequest r, TensorPlan plan) {
        int models = plan.models().size();
        long count = plan.output().elementCount();
        int block = TensorPasses.BLOCK;
        float[] base = new float[block];
        float[][] d = new float[models][block];
        double[][] gram = new double[models][models];
        for (long at = 0; at < count; at += block) {
            int n = (int) Math.min(block, count - at);
            TensorPasses.decode(plan.base(), at, n, base);
            for (int i = 0; i < models; i++) {
                TensorPasses.decode(plan.models().get(i), at, n, d[i]);
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
        }
        double cos = 0;
        int pairs = 0;
        for (int i = 0; i < models; i++) {
            for (int k = i + 1; k < models; k++) {
                cos += gram[i][k] / Math.max(Math.sqrt(gram[i][i]) * Math.sqrt(gram[k][k]), 1e-6);
                pairs++;
            }
        }
        cos /= pairs;
        return new ModelStock(models * cos / (1 + (models - 1) * cos));
    }

    @Override
    public void apply(long from, int n, float[] base, float[][] models, float[][] fishers, float[] baseFisher, float[] out) {
        int m = models.length;
        for (int j = 0; j < n; j++) {
            double mean = 0;
            for (float[] x : models) {
                mean += x[j];
            }
            mean /= m;
            out[j] = (float) (t * mean + (1 - t) * base[j]);
        }
    }
}
