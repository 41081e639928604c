package ugm.core.merge.methods;

import ugm.core.UgmException;
import ugm.core.kernel.Kernels;
import ugm.core.merge.MergePlan.TensorPlan;
import ugm.core.merge.MergeRequest;
import ugm.core.merge.Parameter;
import ugm.core.merge.TensorMerge;

/**
 * multislerp, mergekit's barycentric interpolation on the hypersphere: the models' vectors (less
 * the base, when one is given) are put on the unit sphere, {@code u_i = v_i / (‖v_i‖ + eps)},
 * their weighted mean {@code Σ w_i u_i} gives the direction, mapped back through the tangent
 * space there, and the result is scaled to the weighted mean norm {@code Σ w_i ‖v_i‖} (weights
 * divided by their sum with {@code normalize_weights}, the default). The weighted tangent vectors
 * sum to zero in exact arithmetic, so the result is {@code cos(eps)·Σ w_i ‖v_i‖ · m}, m the unit
 * mean direction: a per-tensor linear combination of the inputs. The first pass streams the
 * tensor once for the Gram matrix of the vectors (in double); the element pass combines.
 * A single model is returned as it is; where the mean vanishes (antipodal models whose weights
 * balance), two models fall back to {@code Σ w_i v_i} and more are an error, as in mergekit.
 */
final class Multislerp extends AbstractMergeMethod {
    Multislerp() {
        super("multislerp", "spherical barycentre of the models (less the base, if given): their weighted mean direction at"
                + " their weighted mean norm", false, false, Parameter.WEIGHT, Parameter.NORMALIZE_WEIGHTS, Parameter.EPS);
    }

    @Override
    public boolean takesBase() {
        return true;
    }

    @Override
    public boolean defaultFlag(Parameter p) {
        return p == Parameter.NORMALIZE_WEIGHTS;
    }

    @Override
    public String tensorProblem(MergeRequest r, String tensor, long count) {
        double eps = r.global(Parameter.EPS).valueFor(tensor);
        if (!(eps >= 0) || Double.isInfinite(eps)) {
            return "multislerp's eps must be a finite number >= 0, not " + eps;
        }
        if (r.flag(Parameter.NORMALIZE_WEIGHTS)) {
            double sum = 0;
            for (int i = 0; i < r.modelCount(); i++) {
                sum += r.perModel(Parameter.WEIGHT, i).valueFor(tensor);
            }
            if (sum == 0) {
                return "multislerp with normalize_weights needs weights that do not sum to 0";
            }
        }
        return null;
    }

    @Override
    public boolean firstPass() {
        return true;
    }

    @Override
    public TensorMerge prepare(MergeRequest r, TensorPlan t) {
        String name = t.output().name();
        int m = t.models().size();
        boolean hasBase = t.base() != null;
        if (m == 1) {
            return (k, from, n, base, models, fishers, baseFisher, out) -> {
                System.arraycopy(models[0], 0, out, 0, n);
                return 0;
            };
        }
        double eps = r.global(Parameter.EPS).valueFor(name);
        double[] w = new double[m];
        double sum = 0;
        for (int i = 0; i < m; i++) {
            w[i] = t.coefficients().weights()[i];
            sum += w[i];
        }
        if (r.flag(Parameter.NORMALIZE_WEIGHTS)) {
            for (int i = 0; i < m; i++) {
                w[i] /= sum;
            }
        }
        double[][] gram = Blocks.gram(t, hasBase);
        double[] scale = new double[m]; // 1 / (‖v_i‖ + eps)
        double meanNorm = 0;
        double avgNorm = 0;
        for (int i = 0; i < m; i++) {
            scale[i] = 1 / (Math.sqrt(gram[i][i]) + eps);
            avgNorm += w[i] * Math.sqrt(gram[i][i]);
        }
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < m; j++) {
                meanNorm += w[i] * w[j] * gram[i][j] * scale[i] * scale[j];
            }
        }
        meanNorm = Math.sqrt(Math.max(meanNorm, 0));
        double[] c = new double[m];
        if (meanNorm < eps) {
            if (m != 2) {
                throw new UgmException(UgmException.Kind.INVALID_INPUT, "tensor '" + name + "': multislerp: the weighted mean of"
                        + " the models' directions is zero (opposite models whose weights balance); change the weights");
            }
            System.arraycopy(w, 0, c, 0, m); // mergekit's fallback for two models: Σ w_i v_i
        } else {
            double factor = Math.cos(eps) * avgNorm / meanNorm;
            for (int i = 0; i < m; i++) {
                c[i] = factor * w[i] * scale[i];
            }
        }
        return (k, from, n, base, models, fishers, baseFisher, out) -> {
            for (int j = 0; j < n; j++) {
                double b = hasBase ? base[j] : 0;
                double v = b;
                for (int i = 0; i < m; i++) {
                    v += c[i] * (models[i][j] - b);
                }
                out[j] = (float) v;
            }
            return 0;
        };
    }
}
