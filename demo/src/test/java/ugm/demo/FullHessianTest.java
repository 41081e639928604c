package ugm.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The demo's dense Hessian, Hessian-vector product and Cholesky solve, against computations written here. */
class FullHessianTest {
    private static final int K = 3;
    private static final int D = 4;
    private static final int N = K * (D + 1);
    private final SoftmaxRegression model = new SoftmaxRegression(K, D);

    private static Dataset data(SplittableRandom r, int n) {
        double[] x = new double[n * D];
        int[] y = new int[n];
        for (int i = 0; i < n; i++) {
            for (int f = 0; f < D; f++) {
                x[i * D + f] = r.nextDouble() < 0.3 ? 0 : r.nextGaussian(); // some zero inputs, as pixels have
            }
            y[i] = r.nextInt(K);
        }
        return new Dataset(x, y, D);
    }

    private static double[] theta(SplittableRandom r) {
        double[] t = new double[N];
        for (int j = 0; j < N; j++) {
            t[j] = 0.5 * r.nextGaussian();
        }
        return t;
    }

    /** The summed cross-entropy's gradient, written out: (p − e_y) x for the weights, p − e_y for the biases. */
    private static double[] gradient(double[] theta, Dataset data) {
        double[] g = new double[N];
        for (int i = 0; i < data.size(); i++) {
            double[] z = new double[K];
            double sum = 0;
            for (int k = 0; k < K; k++) {
                z[k] = theta[K * D + k];
                for (int f = 0; f < D; f++) {
                    z[k] += theta[k * D + f] * data.x()[i * D + f];
                }
                z[k] = Math.exp(z[k]);
                sum += z[k];
            }
            for (int k = 0; k < K; k++) {
                double rk = z[k] / sum - (data.y()[i] == k ? 1 : 0);
                for (int f = 0; f < D; f++) {
                    g[k * D + f] += rk * data.x()[i * D + f];
                }
                g[K * D + k] += rk;
            }
        }
        return g;
    }

    /** Column j of the Hessian by central differences of {@link #gradient}. */
    private static double[] hessianColumn(double[] theta, Dataset data, int j) {
        double eps = 1e-5;
        double[] plus = theta.clone();
        double[] minus = theta.clone();
        plus[j] += eps;
        minus[j] -= eps;
        double[] gp = gradient(plus, data);
        double[] gm = gradient(minus, data);
        double[] col = new double[N];
        for (int i = 0; i < N; i++) {
            col[i] = (gp[i] - gm[i]) / (2 * eps);
        }
        return col;
    }

    @Test
    void denseHessianIsTheSumOfTheTasksFiniteDifferenceHessians() {
        SplittableRandom r = new SplittableRandom(21);
        List<Dataset> data = List.of(data(r, 9), data(r, 6)); // 9 rows: two blocks of four and one left over
        List<double[]> thetas = List.of(theta(r), theta(r));
        double[] h = FullHessian.hessian(model, thetas, data);
        for (int j = 0; j < N; j++) {
            double[] c0 = hessianColumn(thetas.get(0), data.get(0), j);
            double[] c1 = hessianColumn(thetas.get(1), data.get(1), j);
            for (int i = 0; i < N; i++) {
                assertEquals(c0[i] + c1[i], h[i * N + j], 1e-7, "element " + i + "," + j);
            }
        }
    }

    @Test
    void hessianVectorProductIsTheDenseProduct() {
        SplittableRandom r = new SplittableRandom(22);
        Dataset d = data(r, 11);
        double[] theta = theta(r);
        double[] v = theta(r);
        double[] hv = FullHessian.hessianVector(model, theta, d, v);
        for (int i = 0; i < N; i++) {
            double want = 0;
            for (int j = 0; j < N; j++) {
                want += hessianColumn(theta, d, j)[i] * v[j];
            }
            assertEquals(want, hv[i], 1e-7, "element " + i);
        }
    }

    @Test
    void choleskySolveLeavesASmallResidual() {
        SplittableRandom r = new SplittableRandom(23);
        int n = 37;
        double[] b = new double[n * n];
        for (int i = 0; i < b.length; i++) {
            b[i] = r.nextGaussian();
        }
        double[] a = new double[n * n]; // BᵀB + I
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                double s = i == j ? 1 : 0;
                for (int k = 0; k < n; k++) {
                    s += b[k * n + i] * b[k * n + j];
                }
                a[i * n + j] = s;
            }
        }
        double[] rhs = new double[n];
        for (int i = 0; i < n; i++) {
            rhs[i] = r.nextGaussian();
        }
        double[] x = FullHessian.solve(a.clone(), n, rhs);
        for (int i = 0; i < n; i++) {
            double s = 0;
            for (int j = 0; j < n; j++) {
                s += a[i * n + j] * x[j];
            }
            assertEquals(rhs[i], s, 1e-10, "row " + i);
        }
    }

    @Test
    void mergeSolvesTheGradientMatchingEquation() {
        // (P0 + λ Σ Ht)(θ − θ0) = Σ λ (P0 + Ht)(θt − θ0), with Ht from finite differences here.
        SplittableRandom r = new SplittableRandom(24);
        List<Dataset> data = List.of(data(r, 8), data(r, 5), data(r, 12));
        List<double[]> thetas = List.of(theta(r), theta(r), theta(r));
        double[] theta0 = theta(r);
        double[] p0 = new double[N];
        for (int j = 0; j < N; j++) {
            p0[j] = 0.5 + r.nextDouble();
        }
        double lambda = 0.8;
        double[] merged = FullHessian.merge(model, theta0, p0, thetas, data, lambda);
        double[][][] h = new double[3][N][];
        for (int t = 0; t < 3; t++) {
            for (int j = 0; j < N; j++) {
                h[t][j] = hessianColumn(thetas.get(t), data.get(t), j);
            }
        }
        for (int i = 0; i < N; i++) {
            double left = p0[i] * (merged[i] - theta0[i]);
            double right = 0;
            for (int t = 0; t < 3; t++) {
                right += lambda * p0[i] * (thetas.get(t)[i] - theta0[i]);
                for (int j = 0; j < N; j++) {
                    left += lambda * h[t][j][i] * (merged[j] - theta0[j]);
                    right += lambda * h[t][j][i] * (thetas.get(t)[j] - theta0[j]);
                }
            }
            assertEquals(right, left, 1e-7 * (1 + Math.abs(right)), "row " + i);
        }
    }
}
