package ugm.core.merge.methods;

import ugm.core.merge.MergePlan.TensorPlan;
import ugm.core.merge.MergeRequest;
import ugm.core.merge.Parameter;
import ugm.core.merge.TensorMerge;
import ugm.core.merge.sparsify.Rank;

/**
 * sce, mergekit's select, calculate, erase over the task vectors {@code Δ_i = x_i − base} (in
 * float, as mergekit): <b>select</b> keeps, with {@code select_topk} below 1, only the elements
 * whose Δ varies most across the models (population variance), {@code int(select_topk·Z)} of them,
 * Z the elements of nonzero variance (ties by lower index, as {@link Rank}); the others are zero in
 * every Δ_i. <b>calculate</b> weighs each model by the mean of its selected Δ_i² over the tensor,
 * divided by their sum (equal weights when that sum is below 1e-6). <b>erase</b> elects per element
 * the sign of {@code Σ Δ_i}, and {@code out = base + Σ' c_i Δ_i / max(Σ' c_i, 1e-6)} over the
 * models whose Δ_i has that sign. The first pass ranks the variances ({@link Rank}) and sums the
 * squares; the element pass elects and mixes. The models' weights are not read (mergekit's sce has none).
 */
final class Sce extends AbstractMergeMethod {
    Sce() {
        super("sce", "task vectors where they vary most across the models (select_topk), weighed by their mean square,"
                + " sign election", true, false, Parameter.WEIGHT, Parameter.SELECT_TOPK);
    }

    @Override
    public String tensorProblem(MergeRequest r, String tensor, long count) {
        double topk = Blocks.decimal(r.global(Parameter.SELECT_TOPK).valueFor(tensor));
        return Double.isFinite(topk) ? null : "sce's select_topk must be a finite number, not " + topk;
    }

    @Override
    public boolean firstPass() {
        return true;
    }

    @Override
    public TensorMerge prepare(MergeRequest r, TensorPlan t) {
        int m = t.models().size();
        long count = t.output().elementCount();
        double topk = Blocks.decimal(r.global(Parameter.SELECT_TOPK).valueFor(t.output().name()));
        float[] base = new float[Blocks.BLOCK];
        float[][] x = new float[m][Blocks.BLOCK];
        float[] variances = new float[Blocks.BLOCK];
        Rank selected = Rank.ALL;
        if (topk <= 0) {
            selected = Rank.NONE;
        } else if (topk < 1) {
            long nonzero = 0;
            for (long at = 0; at < count; at += Blocks.BLOCK) {
                int n = (int) Math.min(Blocks.BLOCK, count - at);
                read(t, at, n, base, x);
                for (int j = 0; j < n; j++) {
                    nonzero += variance(base, x, j) != 0 ? 1 : 0;
                }
            }
            selected = Rank.top(variances, count, (long) (nonzero * topk), (from, n, out) -> {
                read(t, from, n, base, x);
                for (int j = 0; j < n; j++) {
                    out[j] = variance(base, x, j);
                }
            });
        }
        double[] squares = new double[m];
        for (long at = 0; at < count && selected != Rank.NONE; at += Blocks.BLOCK) {
            int n = (int) Math.min(Blocks.BLOCK, count - at);
            read(t, at, n, base, x);
            for (int j = 0; j < n; j++) {
                if (selected == Rank.ALL || selected.contains(at + j, variance(base, x, j))) {
                    for (int i = 0; i < m; i++) {
                        double d = x[i][j] - base[j];
                        squares[i] += d * d;
                    }
                }
            }
        }
        double sum = 0;
        for (int i = 0; i < m; i++) {
            squares[i] /= count; // the mean square
            sum += squares[i];
        }
        double[] c = new double[m];
        for (int i = 0; i < m; i++) {
            c[i] = Math.abs(sum) < 1e-6 ? 1.0 / m : squares[i] / sum;
        }
        Rank keep = selected;
        return (k, from, n, b, models, fishers, baseFisher, out) -> {
            for (int j = 0; j < n; j++) {
                if (keep != Rank.ALL && !keep.contains(from + j, variance(b, models, j))) {
                    out[j] = b[j];
                    continue;
                }
                double elect = 0;
                for (float[] xi : models) {
                    elect += xi[j] - b[j];
                }
                double sign = elect >= 0 ? 1 : -1;
                double mixed = 0;
                double weights = 0;
                for (int i = 0; i < m; i++) {
                    float d = models[i][j] - b[j];
                    if (Math.signum(d) == sign) {
                        mixed += c[i] * d;
                        weights += c[i];
                    }
                }
                out[j] = (float) (b[j] + mixed / Math.max(weights, 1e-6));
            }
            return 0;
        };
    }

    private static void read(TensorPlan t, long from, int n, float[] base, float[][] x) {
        Blocks.decode(t.base(), from, n, base);
        for (int i = 0; i < x.length; i++) {
            Blocks.decode(t.models().get(i), from, n, x[i]);
        }
    }

    /** The population variance across the models of the task vectors at element j, rounded to float. */
    private static float variance(float[] base, float[][] x, int j) {
        double mean = 0;
        for (float[] xi : x) {
            mean += xi[j] - base[j];
        }
        mean /= x.length;
        double v = 0;
        for (float[] xi : x) {
            double d = (xi[j] - base[j]) - mean;
            v += d * d;
        }
        return (float) (v / x.length);
    }
}
