package ugm.demo;

import java.util.List;
import java.util.stream.IntStream;

/**
 * Gradient matching with the tasks' full Hessians instead of diagonal Fishers, for the demo's
 * small softmax regressions only (a dense {@code n × n} matrix, n = classes·(features + 1), in
 * double precision):
 * {@code θ = θ0 + (P0 + λ Σt Ht)⁻¹ Σt λ (P0 + Ht)(θt − θ0)}, with {@code Ht} the Hessian of task
 * t's summed loss at θt and {@code P0} the base's diagonal precision (the prior every fine-tune
 * and the target were trained under). It shows how much of gradient matching's remaining gap
 * to the target comes from the diagonal approximation.
 *
 * <p>The Hessian of softmax regression is {@code Σi Ai ⊗ x̃i x̃iᵀ}, with {@code Ai = diag(pi) −
 * pi piᵀ} and {@code x̃i = (xi, 1)}: block (k, l) is {@code Σi Ai,kl x̃i x̃iᵀ}.
 */
final class FullHessian {

    private FullHessian() {
    }

    /** The merge for one λ; {@code tasks[t]} is the model fine-tuned on {@code data.get(t)}. */
    static double[] merge(SoftmaxRegression m, double[] theta0, double[] p0, List<double[]> tasks, List<Dataset> data,
                          double lambda) {
        int n = m.size();
        double[] a = hessian(m, tasks, data);
        for (int j = 0; j < a.length; j++) {
            a[j] *= lambda;
        }
        for (int j = 0; j < n; j++) {
            a[j * n + j] += p0[j];
        }
        double[] rhs = new double[n];
        for (int t = 0; t < tasks.size(); t++) {
            double[] delta = new double[n];
            for (int j = 0; j < n; j++) {
                delta[j] = tasks.get(t)[j] - theta0[j];
            }
            double[] hd = hessianVector(m, tasks.get(t), data.get(t), delta);
            for (int j = 0; j < n; j++) {
                rhs[j] += lambda * (p0[j] * delta[j] + hd[j]);
            }
        }
        double[] step = solve(a, n, rhs);
        double[] theta = theta0.clone();
        for (int j = 0; j < n; j++) {
            theta[j] += step[j];
        }
        return theta;
    }

    /** The index of parameter (class k, input a) in the flat vector; a = features is the bias. */
    private static int index(SoftmaxRegression m, int k, int a) {
        return a < m.features ? k * m.features + a : m.classes * m.features + k;
    }

    /**
     * {@code Σt} (the Hessian of the summed loss over {@code data.get(t)} at {@code thetas.get(t)}),
     * as a dense row-major {@code n × n} matrix.
     */
    static double[] hessian(SoftmaxRegression m, List<double[]> thetas, List<Dataset> data) {
        int kk = m.classes;
        int e = m.features + 1;
        int total = 0;
        for (Dataset d : data) {
            total += d.size();
        }
        // Rows x̃i = (xi, 1) and the predictive distributions pi, for every example of every task.
        double[] xs = new double[total * e];
        double[] ps = new double[total * kk];
        int at = 0;
        double[] p = new double[kk];
        for (int t = 0; t < data.size(); t++) {
            Dataset d = data.get(t);
            for (int i = 0; i < d.size(); i++, at++) {
                System.arraycopy(d.x(), i * m.features, xs, at * e, m.features);
                xs[at * e + m.features] = 1;
                m.probabilities(thetas.get(t), d, i, p);
                System.arraycopy(p, 0, ps, at * kk, kk);
            }
        }
        int pairs = kk * (kk + 1) / 2;
        int[] pk = new int[pairs];
        int[] pl = new int[pairs];
        for (int k = 0, q = 0; k < kk; k++) {
            for (int l = k; l < kk; l++, q++) {
                pk[q] = k;
                pl[q] = l;
            }
        }
        int n = m.size();
        double[] h = new double[n * n];
        int rows = total;
        IntStream.range(0, pairs).parallel().forEach(q -> {
            int k = pk[q];
            int l = pl[q];
            double[] w = new double[rows];
            for (int i = 0; i < rows; i++) {
                w[i] = ps[i * kk + k] * ((k == l ? 1 : 0) - ps[i * kk + l]);
            }
            double[] block = weightedGram(xs, w, rows, e);
            for (int a = 0; a < e; a++) {
                for (int b = a; b < e; b++) {
                    double v = block[a * e + b];
                    int ka = index(m, k, a);
                    int lb = index(m, l, b);
                    int la = index(m, l, a);
                    int kb = index(m, k, b);
                    // Block (k, l) at (a, b) and (b, a); block (l, k) is its transpose.
                    h[ka * n + lb] = v;
                    h[kb * n + la] = v;
                    h[lb * n + ka] = v;
                    h[la * n + kb] = v;
                }
            }
        });
        return h;
    }

    /**
     * The upper triangle (b ≥ a) of {@code Σi w[i]·x̃i x̃iᵀ} over the {@code rows} rows of {@code xs}
     * ({@code e} wide), as an {@code e × e} array. Four rows at a time, so that each pass over
     * the accumulator does four multiply-adds per element.
     */
    static double[] weightedGram(double[] xs, double[] w, int rows, int e) {
        double[] acc = new double[e * e];
        int i = 0;
        for (; i + 4 <= rows; i += 4) {
            int r0 = i * e;
            int r1 = r0 + e;
            int r2 = r1 + e;
            int r3 = r2 + e;
            double w0 = w[i];
            double w1 = w[i + 1];
            double w2 = w[i + 2];
            double w3 = w[i + 3];
            for (int a = 0; a < e; a++) {
                double c0 = w0 * xs[r0 + a];
                double c1 = w1 * xs[r1 + a];
                double c2 = w2 * xs[r2 + a];
                double c3 = w3 * xs[r3 + a];
                if (c0 == 0 && c1 == 0 && c2 == 0 && c3 == 0) {
                    continue;
                }
                Linalg.axpy4(c0, c1, c2, c3, xs, r0 + a, r1 + a, r2 + a, r3 + a, acc, a * e + a, e - a);
            }
        }
        for (; i < rows; i++) {
            int r0 = i * e;
            for (int a = 0; a < e; a++) {
                double c0 = w[i] * xs[r0 + a];
                Linalg.axpy(c0, xs, r0 + a, acc, a * e + a, e - a);
            }
        }
        return acc;
    }

    /** The Hessian of the summed loss over {@code data} at {@code theta}, times {@code v}. */
    static double[] hessianVector(SoftmaxRegression m, double[] theta, Dataset data, double[] v) {
        int kk = m.classes;
        int d = m.features;
        int bias = kk * d;
        double[] out = new double[m.size()];
        double[] p = new double[kk];
        double[] u = new double[kk];
        double[] x = data.x();
        for (int i = 0; i < data.size(); i++) {
            m.probabilities(theta, data, i, p);
            int row = i * d;
            double pu = 0;
            for (int k = 0; k < kk; k++) {
                double s = v[bias + k];
                for (int f = 0; f < d; f++) {
                    s += v[k * d + f] * x[row + f];
                }
                u[k] = s;
                pu += p[k] * s;
            }
            for (int k = 0; k < kk; k++) {
                double r = p[k] * (u[k] - pu); // (diag(p) − p pᵀ) u
                for (int f = 0; f < d; f++) {
                    out[k * d + f] += r * x[row + f];
                }
                out[bias + k] += r;
            }
        }
        return out;
    }

    /**
     * Solves {@code a·x = b} for a symmetric positive definite {@code n × n} row-major {@code a}
     * by Cholesky factorisation ({@code a} is overwritten by its factor).
     */
    static double[] solve(double[] a, int n, double[] b) {
        double[] col = new double[n];
        for (int k = 0; k < n; k++) {
            double akk = a[k * n + k];
            if (!(akk > 0)) {
                throw new ArithmeticException("matrix not positive definite at pivot " + k + " (" + akk + ")");
            }
            double lkk = Math.sqrt(akk);
            a[k * n + k] = lkk;
            for (int i = k + 1; i < n; i++) {
                a[i * n + k] /= lkk;
                col[i] = a[i * n + k];
            }
            // Trailing update of the lower triangle, row by row: a[i][j] −= l[i][k]·l[j][k], k < j ≤ i.
            int from = k + 1;
            IntStream.range(from, n).parallel().forEach(i -> Linalg.axpy(-col[i], col, from, a, i * n + from, i - from + 1));
        }
        double[] y = b.clone();
        for (int i = 0; i < n; i++) { // L·y = b
            double s = y[i];
            for (int j = 0; j < i; j++) {
                s -= a[i * n + j] * y[j];
            }
            y[i] = s / a[i * n + i];
        }
        for (int i = n - 1; i >= 0; i--) { // Lᵀ·x = y
            double s = y[i];
            for (int j = i + 1; j < n; j++) {
                s -= a[j * n + i] * y[j];
            }
            y[i] = s / a[i * n + i];
        }
        return y;
    }
}
