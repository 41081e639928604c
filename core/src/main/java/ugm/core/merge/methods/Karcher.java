package ugm.core.merge.methods;

import ugm.core.merge.MergePlan.TensorPlan;
import ugm.core.merge.MergeRequest;
import ugm.core.merge.Parameter;
import ugm.core.merge.TensorMerge;

/**
 * karcher, mergekit's Karcher (Riemannian) mean of the models on the unit sphere, each model of
 * weight 1/N (mergekit reads no weights): the unit vectors {@code u_i = x_i / ‖x_i‖} of the models
 * whose norm exceeds {@code tol}; starting from their normalised mean, at most {@code max_iter}
 * steps {@code u ← cos‖T‖·u + sin‖T‖·T/‖T‖}, {@code T = Σ a_i·θ_i/sin θ_i·(u_i − cos θ_i·u)} over
 * the u_i at an angle θ_i ≥ tol from u, until {@code ‖T‖ < tol}; the result is
 * {@code (Σ ‖x_i‖/N)·u}. Every such u lies in the span of the u_i, so the iteration runs on
 * coefficients and the Gram matrix of the models, found by one first pass (in double); the
 * element pass combines the models. One model is returned as it is; where no model's norm
 * exceeds tol the result is zero.
 */
final class Karcher extends AbstractMergeMethod {
    Karcher() {
        super("karcher", "the Karcher mean of the models' directions on the sphere, at their mean norm",
                false, false, Parameter.WEIGHT, Parameter.MAX_ITER, Parameter.TOL);
    }

    @Override
    public String tensorProblem(MergeRequest r, String tensor, long count) {
        double iterations = r.global(Parameter.MAX_ITER).valueFor(tensor);
        if (!(iterations >= 0 && iterations <= 1_000_000 && iterations == Math.rint(iterations))) {
            return "karcher's max_iter must be a whole number from 0 to 1000000, not " + iterations;
        }
        double tol = Blocks.decimal(r.global(Parameter.TOL).valueFor(tensor));
        return tol >= 0 && !Double.isInfinite(tol) ? null : "karcher's tol must be a finite number >= 0, not " + tol;
    }

    @Override
    public boolean firstPass() {
        return true;
    }

    @Override
    public TensorMerge prepare(MergeRequest r, TensorPlan t) {
        String name = t.output().name();
        int m = t.models().size();
        double[] c = m == 1 ? new double[] {1}
                : coefficients(Blocks.gram(t, false), (int) r.global(Parameter.MAX_ITER).valueFor(name),
                        Blocks.decimal(r.global(Parameter.TOL).valueFor(name)));
        return (k, from, n, base, models, fishers, baseFisher, out) -> {
            for (int j = 0; j < n; j++) {
                double v = 0;
                for (int i = 0; i < m; i++) {
                    v += c[i] * models[i][j];
                }
                out[j] = (float) v;
            }
            return 0;
        };
    }

    /** The mean as {@code Σ c_i x_i}, from the models' Gram matrix {@code g}. */
    private static double[] coefficients(double[][] g, int maxIter, double tol) {
        int m = g.length;
        double[] norms = new double[m];
        double scale = 0;
        int valid = 0;
        for (int i = 0; i < m; i++) {
            norms[i] = Math.sqrt(g[i][i]);
            scale += norms[i] / m;
            valid += norms[i] > tol ? 1 : 0;
        }
        double[] c = new double[m];
        if (valid == 0) {
            return c;
        }
        // unit Gram matrix of the valid models; u = Σ c_i u_i
        double[][] unit = new double[m][m];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < m; j++) {
                unit[i][j] = norms[i] > tol && norms[j] > tol ? g[i][j] / (norms[i] * norms[j]) : 0;
            }
        }
        double a = 1.0 / valid;
        int first = -1;
        for (int i = 0; i < m; i++) {
            if (norms[i] > tol) {
                c[i] = a;
                first = first < 0 ? i : first;
            }
        }
        double norm = norm(unit, c);
        if (norm < tol) {
            c = new double[m];
            c[first] = 1;
        } else {
            scaleBy(c, 1 / norm);
        }
        for (int step = 0; step < maxIter; step++) {
            double[] tangent = new double[m];
            for (int i = 0; i < m; i++) {
                if (norms[i] <= tol) {
                    continue;
                }
                double dot = Math.max(-1, Math.min(1, product(unit, c, i)));
                double theta = Math.acos(dot);
                if (theta < tol) {
                    continue;
                }
                double f = a * theta / Math.sin(theta);
                for (int j = 0; j < m; j++) {
                    tangent[j] -= f * dot * c[j];
                }
                tangent[i] += f;
            }
            double tn = norm(unit, tangent);
            if (tn < tol) {
                break;
            }
            for (int j = 0; j < m; j++) {
                c[j] = Math.cos(tn) * c[j] + Math.sin(tn) * tangent[j] / tn;
            }
            double un = norm(unit, c);
            if (un > tol) {
                scaleBy(c, 1 / un);
            }
        }
        for (int i = 0; i < m; i++) {
            c[i] = norms[i] > tol ? scale * c[i] / norms[i] : 0;
        }
        return c;
    }

    /** {@code (U c)_i}: u·u_i. */
    private static double product(double[][] unit, double[] c, int i) {
        double s = 0;
        for (int j = 0; j < c.length; j++) {
            s += unit[i][j] * c[j];
        }
        return s;
    }

    /** ‖Σ c_i u_i‖. */
    private static double norm(double[][] unit, double[] c) {
        double s = 0;
        for (int i = 0; i < c.length; i++) {
            s += c[i] * product(unit, c, i);
        }
        return Math.sqrt(Math.max(s, 0));
    }

    private static void scaleBy(double[] c, double f) {
        for (int i = 0; i < c.length; i++) {
            c[i] *= f;
        }
    }
}
