package ugm.core.merge.methods;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import ugm.core.UgmException;
import ugm.core.merge.MergeRequest;
import ugm.core.merge.Parameter;
import ugm.core.merge.TensorParameter;

/** karcher against mergekit's iteration written out in double on the whole vectors. */
class KarcherTest {
    static final int N = 1031;

    /** mergekit's karcher_merge_tensors with equal weights, step by step. */
    static double[] reference(double[][] x, int maxIter, double tol) {
        int m = x.length;
        int n = x[0].length;
        if (m == 1) {
            return x[0].clone();
        }
        double alpha = 1.0 / m;
        double[] norms = new double[m];
        double[][] units = new double[m][n];
        for (int i = 0; i < m; i++) {
            norms[i] = Math.sqrt(Inputs.dot(x[i], x[i]));
            for (int j = 0; j < n && norms[i] != 0; j++) {
                units[i][j] = x[i][j] / norms[i];
            }
        }
        java.util.List<Integer> valid = new java.util.ArrayList<>();
        for (int i = 0; i < m; i++) {
            if (norms[i] > tol) {
                valid.add(i);
            }
        }
        if (valid.isEmpty()) {
            return new double[n];
        }
        double a = 1.0 / valid.size(); // the valid alphas, normalised
        double[] u = new double[n];
        for (int i : valid) {
            for (int j = 0; j < n; j++) {
                u[j] += a * units[i][j];
            }
        }
        double normU = Math.sqrt(Inputs.dot(u, u));
        if (normU < tol) {
            u = units[valid.get(0)].clone();
        } else {
            for (int j = 0; j < n; j++) {
                u[j] /= normU;
            }
        }
        for (int step = 0; step < maxIter; step++) {
            double[] t = new double[n];
            for (int i : valid) {
                double dot = Math.max(-1, Math.min(1, Inputs.dot(u, units[i])));
                double theta = Math.acos(dot);
                if (theta < tol) {
                    continue;
                }
                for (int j = 0; j < n; j++) {
                    t[j] += a * (theta / Math.sin(theta)) * (units[i][j] - dot * u[j]);
                }
            }
            double normT = Math.sqrt(Inputs.dot(t, t));
            if (normT < tol) {
                break;
            }
            for (int j = 0; j < n; j++) {
                u[j] = Math.cos(normT) * u[j] + Math.sin(normT) * (t[j] / normT);
            }
            double un = Math.sqrt(Inputs.dot(u, u));
            if (un > tol) {
                for (int j = 0; j < n; j++) {
                    u[j] /= un;
                }
            }
        }
        double s = 0;
        for (int i = 0; i < m; i++) {
            s += alpha * norms[i];
        }
        double[] r = new double[n];
        for (int j = 0; j < n; j++) {
            r[j] = s * u[j];
        }
        return r;
    }

    static double[] merge(double[][] x, UnaryOperator<MergeRequest.Builder> opts) {
        MergeRequest.Builder b = MergeRequest.builder(Method.KARCHER).threads(2).chunkElements(64);
        for (int i = 0; i < x.length; i++) {
            b.model(Inputs.tensor("m" + i, new long[] {x[i].length}, x[i]));
        }
        return Inputs.merge(opts.apply(b).build(), x[0].length);
    }

    static void close(double[] expected, double[] got) {
        for (int j = 0; j < expected.length; j++) {
            assertEquals(expected[j], got[j], 1e-5 * (1 + Math.abs(expected[j])), "element " + j);
        }
    }

    static double[][] models(long seed, double... sigmas) {
        SplittableRandom rnd = new SplittableRandom(seed);
        double[][] x = new double[sigmas.length][];
        double[] common = Inputs.gaussian(N, 1, rnd);
        for (int i = 0; i < x.length; i++) {
            x[i] = Inputs.gaussian(N, sigmas[i], rnd);
            for (int j = 0; j < N; j++) {
                x[i][j] = (float) (x[i][j] + common[j]); // related models, as fine-tunes are
            }
        }
        return x;
    }

    @Test
    void followsMergekitsIterationAndItsParameters() {
        double[][] x = models(1, 0.5, 1, 2);
        double[] mean = reference(x, 10, 1e-5);
        double[] start = reference(x, 0, 1e-5);
        double moved = 0;
        for (int j = 0; j < N; j++) {
            moved = Math.max(moved, Math.abs(mean[j] - start[j]));
        }
        assertTrue(moved > 1e-2, "the iteration moves the mean by " + moved); // (so the cases below tell them apart)
        close(mean, merge(x, b -> b));
        close(reference(x, 0, 1e-5), merge(x, b -> b.parameter(Parameter.MAX_ITER, TensorParameter.of(0))));
        close(reference(x, 2, 1e-3), merge(x, b -> b.parameter(Parameter.MAX_ITER, TensorParameter.of(2))
                .parameter(Parameter.TOL, TensorParameter.of(1e-3f))));
        double[][] two = models(2, 3, 0.1);
        close(reference(two, 10, 1e-5), merge(two, b -> b));
    }

    @Test
    void weightsAreNotReadAndOneModelIsItself() {
        double[][] x = models(3, 1, 1);
        close(reference(x, 10, 1e-5), merge(x, b -> b.weights(5f, 0.1f)));
        double[][] one = models(4, 1);
        close(one[0], merge(one, b -> b));
    }

    @Test
    void zeroModelsCountInTheNormOnlyAndAllZeroGivesZero() {
        double[][] x = models(5, 1, 1);
        double[][] withZero = {x[0], x[1], new double[N]};
        double[] expected = reference(withZero, 10, 1e-5);
        close(expected, merge(withZero, b -> b));
        double[] twoThirds = reference(x, 10, 1e-5);
        assertEquals(twoThirds[7] * 2 / 3, expected[7], 1e-9 * (1 + Math.abs(expected[7])));
        close(new double[N], merge(new double[][] {new double[N], new double[N]}, b -> b));
    }

    @Test
    void maxIterIsAWholeNumber() {
        double[][] x = models(6, 1, 1);
        UgmException e = assertThrows(UgmException.class, () -> merge(x, b -> b.parameter(Parameter.MAX_ITER, TensorParameter.of(2.5f))));
        assertTrue(e.getMessage().contains("karcher's max_iter must be a whole number"), e.getMessage());
    }
}
