package ugm.core.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * docs/method.md, "Why it works": for linear regression whose design matrices have orthogonal columns,
 * gradient matching with the exact diagonal Hessians (delta0 = 0, s = 1) reproduces the model
 * trained on all tasks jointly; task arithmetic and Fisher averaging do not.
 */
class ClosedFormTest {
    static final int D = 48;       // parameters
    static final int TASKS = 3;

    static List<Kernels> implementations() {
        return Implementations.all();
    }

    /** A linear-regression merge problem, solved in double. */
    static final class Problem {
        final double[][] x0;             // rows x D
        final double[][][] xt;
        final double[] y0;
        final double[][] yt;
        final double[] h0 = new double[D];
        final double[][] ht = new double[TASKS][D];
        final double[] theta0 = new double[D];
        final double[][] thetat = new double[TASKS][D];

        Problem(long seed) {
            Random rnd = new Random(seed);
            // base design: column j lives on rows 2j, 2j+1; task designs: column j on rows j, j+D, j+2D.
            // Disjoint row supports make every design's columns orthogonal.
            x0 = new double[2 * D][D];
            for (int j = 0; j < D; j++) {
                double c = Math.exp(rnd.nextGaussian());
                x0[2 * j][j] = c * rnd.nextGaussian();
                x0[2 * j + 1][j] = c * rnd.nextGaussian();
            }
            xt = new double[TASKS][3 * D][D];
            for (int t = 0; t < TASKS; t++) {
                for (int j = 0; j < D; j++) {
                    double c = Math.exp(1.5 * rnd.nextGaussian());
                    for (int r = 0; r < 3; r++) {
                        xt[t][j + r * D][j] = c * rnd.nextGaussian();
                    }
                }
            }
            double[] truth0 = gaussians(rnd, D, 1);
            y0 = plusNoise(rnd, times(x0, truth0));
            yt = new double[TASKS][];
            for (int t = 0; t < TASKS; t++) {
                double[] truth = gaussians(rnd, D, 1);
                yt[t] = plusNoise(rnd, times(xt[t], truth));
            }
            // H = X^T X, which must be diagonal
            double[][] g0 = gram(x0);
            for (int j = 0; j < D; j++) {
                h0[j] = g0[j][j];
            }
            for (int t = 0; t < TASKS; t++) {
                double[][] g = gram(xt[t]);
                for (int j = 0; j < D; j++) {
                    ht[t][j] = g[j][j];
                }
            }
            // base: minimise 1/2 |y0 - X0 theta|^2  =>  H0 theta0 = X0^T y0
            double[] b0 = transposeTimes(x0, y0);
            for (int j = 0; j < D; j++) {
                theta0[j] = b0[j] / h0[j];
            }
            // task t: minimise 1/2 |yt - Xt theta|^2 + 1/2 (theta - theta0)^T H0 (theta - theta0)
            //   =>  (Ht + H0) thetat = Xt^T yt + H0 theta0
            for (int t = 0; t < TASKS; t++) {
                double[] bt = transposeTimes(xt[t], yt[t]);
                for (int j = 0; j < D; j++) {
                    thetat[t][j] = (bt[j] + h0[j] * theta0[j]) / (ht[t][j] + h0[j]);
                }
            }
        }

        /**
         * The joint target: minimise 1/2 (theta - theta0)^T H0 (theta - theta0) + sign * sum_t a_t 1/2 |yt - Xt theta|^2,
         * i.e. (H0 + sign sum a_t Ht) theta = H0 theta0 + sign sum a_t Xt^T yt.
         */
        double[] target(double[] alphas, double sign) {
            double[] lhs = h0.clone();
            double[] rhs = new double[D];
            for (int j = 0; j < D; j++) {
                rhs[j] = h0[j] * theta0[j];
            }
            for (int t = 0; t < TASKS; t++) {
                double[] bt = transposeTimes(xt[t], yt[t]);
                for (int j = 0; j < D; j++) {
                    lhs[j] += sign * alphas[t] * ht[t][j];
                    rhs[j] += sign * alphas[t] * bt[j];
                }
            }
            double[] theta = new double[D];
            for (int j = 0; j < D; j++) {
                theta[j] = rhs[j] / lhs[j];
            }
            // it is the stationary point: H0 (theta - theta0) + sign sum a_t Xt^T (Xt theta - yt) = 0
            double[] grad = new double[D];
            for (int j = 0; j < D; j++) {
                grad[j] = h0[j] * (theta[j] - theta0[j]);
            }
            for (int t = 0; t < TASKS; t++) {
                double[] residual = times(xt[t], theta);
                for (int r = 0; r < residual.length; r++) {
                    residual[r] -= yt[t][r];
                }
                double[] g = transposeTimes(xt[t], residual);
                for (int j = 0; j < D; j++) {
                    grad[j] += sign * alphas[t] * g[j];
                }
            }
            for (int j = 0; j < D; j++) {
                assertEquals(0, grad[j], 1e-9 * (1 + Math.abs(rhs[j])), "gradient of the joint objective");
            }
            return theta;
        }
    }

    @ParameterizedTest
    @MethodSource("implementations")
    void gradientMatchingRecoversTheJointlyTrainedModel(Kernels k) {
        Problem pr = new Problem(11);
        for (double[] alphas : new double[][] {{1, 1, 1}, {0.5, 1, 2}}) {
            double[] target = pr.target(alphas, 1);
            float[] a = toFloats(alphas);
            float[] ones = {1f, 1f, 1f};
            float[] base = toFloats(pr.theta0);
            float[] h0 = toFloats(pr.h0);
            float[][] x = new float[TASKS][];
            float[][] h = new float[TASKS][];
            for (int t = 0; t < TASKS; t++) {
                x[t] = toFloats(pr.thetat[t]);
                h[t] = toFloats(pr.ht[t]);
            }
            float[] gm = new float[D];
            assertEquals(0, k.gradientMatching(new GradientMatching(a, ones, 1f, 0f, false, 0.1f), base, h0, x, h, gm, D));
            float[] ta = new float[D];
            k.taskArithmetic(base, x, a, ta, D);
            float[] fa = new float[D];
            k.fisher(x, h, a, ones, 0f, fa, D);
            float[] fab = new float[D];
            k.fisherWithBase(base, h0, 1f, x, h, a, ones, 0f, fab, D);

            double scale = maxAbs(target);
            double gmError = maxError(gm, target);
            assertTrue(gmError <= 2e-6 * scale, "gradient matching is off the joint model by " + gmError);
            for (float[] other : new float[][] {ta, fa, fab}) {
                double error = maxError(other, target);
                assertTrue(error > 1e-2 * scale && error > 1000 * gmError,
                        "another method came within " + error + " of the joint model");
            }
        }
    }

    @ParameterizedTest
    @MethodSource("implementations")
    void removalRecoversTheModelWithTheTaskLossesSubtracted(Kernels k) {
        Problem pr = new Problem(12);
        // keep H0 - sum a_t Ht >= 0.2 H0 everywhere so the clamp (0.1 P0) never acts
        double alpha = Double.POSITIVE_INFINITY;
        for (int j = 0; j < D; j++) {
            double sum = 0;
            for (int t = 0; t < TASKS; t++) {
                sum += pr.ht[t][j];
            }
            alpha = Math.min(alpha, 0.8 * pr.h0[j] / sum);
        }
        double[] alphas = {alpha, alpha, alpha};
        double[] target = pr.target(alphas, -1);
        float[][] x = new float[TASKS][];
        float[][] h = new float[TASKS][];
        for (int t = 0; t < TASKS; t++) {
            x[t] = toFloats(pr.thetat[t]);
            h[t] = toFloats(pr.ht[t]);
        }
        float[] gm = new float[D];
        GradientMatching p = new GradientMatching(toFloats(alphas), new float[] {1f, 1f, 1f}, 1f, 0f, true, 0.1f);
        assertEquals(0, k.gradientMatching(p, toFloats(pr.theta0), toFloats(pr.h0), x, h, gm, D));
        double scale = maxAbs(target);
        assertTrue(maxError(gm, target) <= 1e-5 * scale, "removal is off by " + maxError(gm, target));
    }

    // ---- small dense linear algebra ---------------------------------------------------------------

    static double[][] gram(double[][] x) {
        int cols = x[0].length;
        double[][] g = new double[cols][cols];
        for (double[] row : x) {
            for (int i = 0; i < cols; i++) {
                for (int j = 0; j < cols; j++) {
                    g[i][j] += row[i] * row[j];
                }
            }
        }
        for (int i = 0; i < cols; i++) {
            for (int j = 0; j < cols; j++) {
                if (i != j) {
                    assertEquals(0.0, g[i][j], "X^T X must be diagonal");
                }
            }
        }
        return g;
    }

    static double[] times(double[][] x, double[] v) {
        double[] r = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            for (int j = 0; j < v.length; j++) {
                r[i] += x[i][j] * v[j];
            }
        }
        return r;
    }

    static double[] transposeTimes(double[][] x, double[] v) {
        double[] r = new double[x[0].length];
        for (int i = 0; i < x.length; i++) {
            for (int j = 0; j < r.length; j++) {
                r[j] += x[i][j] * v[i];
            }
        }
        return r;
    }

    static double[] gaussians(Random rnd, int n, double sigma) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = sigma * rnd.nextGaussian();
        }
        return v;
    }

    static double[] plusNoise(Random rnd, double[] v) {
        for (int i = 0; i < v.length; i++) {
            v[i] += 0.1 * rnd.nextGaussian();
        }
        return v;
    }

    static float[] toFloats(double[] v) {
        float[] f = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            f[i] = (float) v[i];
        }
        return f;
    }

    static double maxAbs(double[] v) {
        double m = 0;
        for (double d : v) {
            m = Math.max(m, Math.abs(d));
        }
        return m;
    }

    static double maxError(float[] actual, double[] expected) {
        double m = 0;
        for (int i = 0; i < expected.length; i++) {
            m = Math.max(m, Math.abs(actual[i] - expected[i]));
        }
        return m;
    }
}
