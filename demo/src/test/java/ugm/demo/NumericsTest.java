package ugm.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import ugm.demo.SoftmaxRegression.FisherKind;

/** The demo's math against independent computations. */
class NumericsTest {
    private static final int K = 4;
    private static final int D = 5;
    private final SoftmaxRegression model = new SoftmaxRegression(K, D);

    private static Dataset randomData(SplittableRandom r, int n) {
        double[] x = new double[n * D];
        int[] y = new int[n];
        for (int i = 0; i < n; i++) {
            for (int f = 0; f < D; f++) {
                x[i * D + f] = r.nextGaussian();
            }
            y[i] = r.nextInt(K);
        }
        return new Dataset(x, y, D);
    }

    private double[] randomTheta(SplittableRandom r) {
        double[] theta = new double[model.size()];
        for (int j = 0; j < theta.length; j++) {
            theta[j] = 0.7 * r.nextGaussian();
        }
        return theta;
    }

    /** Cross-entropy written out directly: −log softmax(W x + b)_y, summed. */
    private static double crossEntropy(double[] theta, Dataset data) {
        double loss = 0;
        for (int i = 0; i < data.size(); i++) {
            double[] z = new double[K];
            for (int k = 0; k < K; k++) {
                z[k] = theta[K * D + k];
                for (int f = 0; f < D; f++) {
                    z[k] += theta[k * D + f] * data.x()[i * D + f];
                }
            }
            double logSum = 0;
            for (int k = 0; k < K; k++) {
                logSum += Math.exp(z[k]);
            }
            loss += Math.log(logSum) - z[data.y()[i]];
        }
        return loss;
    }

    /** softmax(W x_i + b), written out. */
    private static double[] softmax(double[] theta, Dataset data, int i) {
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
            z[k] /= sum;
        }
        return z;
    }

    @Test
    void gradientMatchesFiniteDifferences() {
        SplittableRandom r = new SplittableRandom(3);
        Dataset data = randomData(r, 600); // more than one parallel chunk
        double[] theta = randomTheta(r);
        double[] grad = new double[model.size()];
        double loss = model.lossAndGradient(theta, data, grad);
        assertEquals(crossEntropy(theta, data), loss, 1e-9 * Math.abs(loss));
        double eps = 1e-5;
        for (int j = 0; j < theta.length; j++) {
            double[] plus = theta.clone();
            double[] minus = theta.clone();
            plus[j] += eps;
            minus[j] -= eps;
            double numeric = (crossEntropy(plus, data) - crossEntropy(minus, data)) / (2 * eps);
            assertEquals(numeric, grad[j], 1e-5 * (1 + Math.abs(numeric)), "parameter " + j);
        }
    }

    @Test
    void sampledFisherConvergesToTheExpectedSquaredGradient() {
        SplittableRandom r = new SplittableRandom(5);
        Dataset few = randomData(r, 3);
        double[] theta = randomTheta(r);
        // With r = p_k − [y=k]: E[r²] = p(1−p) and E[r⁴] = p(1−p)⁴ + (1−p)p⁴, so the expectation
        // and the Monte Carlo variance of each element follow exactly.
        int copies = 1 << 14;
        int n = few.size() * copies;
        double[] exact = new double[model.size()];
        double[] variance = new double[model.size()];
        double[] p = new double[K];
        for (int i = 0; i < few.size(); i++) {
            model.probabilities(theta, few, i, p);
            for (int k = 0; k < K; k++) {
                double m2 = p[k] * (1 - p[k]);
                double m4 = p[k] * Math.pow(1 - p[k], 4) + (1 - p[k]) * Math.pow(p[k], 4);
                for (int f = 0; f <= D; f++) {
                    double x2 = f < D ? Math.pow(few.x()[i * D + f], 2) : 1;
                    int j = f < D ? k * D + f : K * D + k;
                    exact[j] += m2 * x2 / few.size();
                    variance[j] += copies * (m4 - m2 * m2) * x2 * x2 / ((double) n * n);
                }
            }
        }
        Dataset many = few;
        for (int i = 0; i < 14; i++) {
            many = many.concat(many);
        }
        double[] sampled = model.fisher(theta, many, FisherKind.SAMPLED, new SplittableRandom(1));
        for (int j = 0; j < exact.length; j++) {
            assertEquals(exact[j], sampled[j], 4.5 * Math.sqrt(variance[j]) + 1e-12, "element " + j);
        }
    }

    /** The summed loss's second derivative in parameter j, by central second differences of {@link #crossEntropy}. */
    private static double secondDifference(double[] theta, Dataset data, int j, double eps) {
        double[] plus = theta.clone();
        double[] minus = theta.clone();
        plus[j] += eps;
        minus[j] -= eps;
        return (crossEntropy(plus, data) - 2 * crossEntropy(theta, data) + crossEntropy(minus, data)) / (eps * eps);
    }

    @Test
    void exactFisherIsTheLossCurvatureByFiniteDifferences() {
        // For softmax regression the expected squared score equals the Hessian of the loss (which
        // does not depend on the labels): its diagonal, per example, is the closed-form Fisher.
        SplittableRandom r = new SplittableRandom(12);
        Dataset data = randomData(r, 7);
        double[] theta = randomTheta(r);
        double[] exact = model.fisher(theta, data, FisherKind.EXACT, null);
        for (int j = 0; j < theta.length; j++) {
            double numeric = secondDifference(theta, data, j, 1e-4) / data.size();
            assertEquals(numeric, exact[j], 2e-6 * (1 + numeric), "element " + j);
        }
    }

    @Test
    void exactFisherIsTheExpectationOfTheSampledOne() {
        // The sampled Fisher draws y ~ p for each example; its expectation is Σ_y p_y · g_y², with
        // g_y the per-example gradient for label y: written out here label by label.
        SplittableRandom r = new SplittableRandom(13);
        Dataset data = randomData(r, 6);
        double[] theta = randomTheta(r);
        double[] want = new double[model.size()];
        for (int i = 0; i < data.size(); i++) {
            double[] p = softmax(theta, data, i);
            for (int y = 0; y < K; y++) {
                for (int k = 0; k < K; k++) {
                    double rk = p[k] - (k == y ? 1 : 0); // dℓ/dz_k for label y
                    for (int f = 0; f < D; f++) {
                        double g = rk * data.x()[i * D + f];
                        want[k * D + f] += p[y] * g * g / data.size();
                    }
                    want[K * D + k] += p[y] * rk * rk / data.size();
                }
            }
        }
        double[] exact = model.fisher(theta, data, FisherKind.EXACT, null);
        for (int j = 0; j < want.length; j++) {
            assertEquals(want[j], exact[j], 1e-12 * (1 + want[j]), "element " + j);
        }
    }

    @Test
    void empiricalFisherIsTheMeanSquaredPerExampleGradient() {
        SplittableRandom r = new SplittableRandom(8);
        Dataset data = randomData(r, 9);
        double[] theta = randomTheta(r);
        double[] want = new double[model.size()];
        for (int i = 0; i < data.size(); i++) {
            Dataset one = new Dataset(java.util.Arrays.copyOfRange(data.x(), i * D, (i + 1) * D), new int[] {data.y()[i]}, D);
            double[] g = new double[model.size()];
            model.lossAndGradient(theta, one, g);
            for (int j = 0; j < g.length; j++) {
                want[j] += g[j] * g[j] / data.size();
            }
        }
        double[] got = model.fisher(theta, data, FisherKind.EMPIRICAL, new SplittableRandom(0));
        for (int j = 0; j < want.length; j++) {
            assertEquals(want[j], got[j], 1e-12 * (1 + want[j]), "element " + j);
        }
    }

    @Test
    void lbfgsFindsTheMinimumOfAnIllConditionedQuadratic() {
        int n = 30;
        double[] a = new double[n];
        double[] c = new double[n];
        for (int i = 0; i < n; i++) {
            a[i] = Math.pow(10, 3.0 * i / (n - 1)); // condition number 1000
            c[i] = Math.sin(i);
        }
        // f(x) = ½ Σ a_i (x_i − c_i)² + ¼ (Σ x_i)², minimum solves a_i (x_i − c_i) + ½ S = 0 with S = Σ x_i.
        Lbfgs.Result res = Lbfgs.minimize((x, g) -> {
            double s = 0;
            for (double v : x) {
                s += v;
            }
            double f = 0.25 * s * s;
            for (int i = 0; i < n; i++) {
                f += 0.5 * a[i] * (x[i] - c[i]) * (x[i] - c[i]);
                g[i] = a[i] * (x[i] - c[i]) + 0.5 * s;
            }
            return f;
        }, new double[n], 1e-10, 1000);
        // Closed form: x_i = c_i − S/(2 a_i), so S = Σc − (S/2) Σ 1/a_i.
        double sumC = 0;
        double sumInv = 0;
        for (int i = 0; i < n; i++) {
            sumC += c[i];
            sumInv += 1 / a[i];
        }
        double s = sumC / (1 + sumInv / 2);
        for (int i = 0; i < n; i++) {
            // Armijo compares values of f ~ 10: below |g| ~ 1e-8 decreases vanish in rounding.
            assertEquals(c[i] - s / (2 * a[i]), res.theta()[i], 1e-7, "x" + i);
        }
        assertTrue(res.iterations() < 1000);
    }

    @Test
    void chartTicksAreRoundStepsInsideTheRange() {
        org.junit.jupiter.api.Assertions.assertArrayEquals(new double[] {0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.4},
                SweepChart.ticks(0.2, 1.5, 10), 1e-12);
        org.junit.jupiter.api.Assertions.assertArrayEquals(new double[] {70, 72, 74, 76, 78, 80},
                SweepChart.ticks(69.1, 81.2, 8), 1e-12);
    }
}
