package ugm.demo;

import java.util.SplittableRandom;
import java.util.stream.IntStream;

/**
 * Multinomial logistic regression: logits {@code z = W x + b}. A parameter vector holds W
 * ({@code classes × features}, row-major) followed by b ({@code classes}), the order of the
 * tensors {@code layer.weight} and {@code layer.bias}.
 */
final class SoftmaxRegression {
    /** Examples per unit of parallel work; sums are formed per chunk and added in chunk order, so results do not depend on threads. */
    private static final int CHUNK = 256;

    final int classes;
    final int features;

    SoftmaxRegression(int classes, int features) {
        this.classes = classes;
        this.features = features;
    }

    int size() {
        return classes * (features + 1);
    }

    Layout layout() {
        return new Layout(new Layout.Tensor("layer.weight", classes, features), new Layout.Tensor("layer.bias", classes));
    }

    /** The predictive distribution for row {@code i} of {@code data}, into {@code p}. */
    void probabilities(double[] theta, Dataset data, int i, double[] p) {
        int bias = classes * features;
        for (int k = 0; k < classes; k++) {
            p[k] = theta[bias + k] + Linalg.dot(theta, k * features, data.x(), i * features, features);
        }
        softmax(p, 0);
    }

    /**
     * The logits of rows {@code i .. i+3} of {@code data} into {@code z} (row e at {@code e·classes});
     * rows past the end are left out.
     */
    private void logits4(double[] theta, Dataset data, int i, double[] z, double[] tmp) {
        int bias = classes * features;
        int n = data.size() - i;
        if (n >= 4) {
            int r = i * features;
            for (int k = 0; k < classes; k++) {
                Linalg.dot4(theta, k * features, data.x(), r, r + features, r + 2 * features, r + 3 * features, features, tmp);
                for (int e = 0; e < 4; e++) {
                    z[e * classes + k] = theta[bias + k] + tmp[e];
                }
            }
        } else {
            for (int e = 0; e < n; e++) {
                for (int k = 0; k < classes; k++) {
                    z[e * classes + k] = theta[bias + k] + Linalg.dot(theta, k * features, data.x(), (i + e) * features, features);
                }
            }
        }
    }

    /** Logits {@code z[at .. at+classes)} become probabilities. */
    private void softmax(double[] z, int at) {
        double max = Double.NEGATIVE_INFINITY;
        for (int k = 0; k < classes; k++) {
            max = Math.max(max, z[at + k]);
        }
        double sum = 0;
        for (int k = 0; k < classes; k++) {
            z[at + k] = Math.exp(z[at + k] - max);
            sum += z[at + k];
        }
        for (int k = 0; k < classes; k++) {
            z[at + k] /= sum;
        }
    }

    /** The summed cross-entropy over {@code data}; its gradient is added to {@code grad}. */
    double lossAndGradient(double[] theta, Dataset data, double[] grad) {
        int chunks = (data.size() + CHUNK - 1) / CHUNK;
        double[][] partial = new double[chunks][];
        double[] losses = new double[chunks];
        IntStream.range(0, chunks).parallel().forEach(c -> {
            double[] g = new double[size()];
            losses[c] = accumulate(theta, data, c * CHUNK, Math.min(data.size(), (c + 1) * CHUNK), g);
            partial[c] = g;
        });
        double loss = 0;
        for (int c = 0; c < chunks; c++) {
            loss += losses[c];
            for (int j = 0; j < grad.length; j++) {
                grad[j] += partial[c][j];
            }
        }
        return loss;
    }

    /** Loss and gradient over rows {@code from .. to}, four rows at a time ({@code from} and {@code CHUNK} are multiples of 4). */
    private double accumulate(double[] theta, Dataset data, int from, int to, double[] g) {
        double[] z = new double[4 * classes];
        double[] tmp = new double[4];
        double[] x = data.x();
        int bias = classes * features;
        double loss = 0;
        for (int i = from; i < to; i += 4) {
            int m = Math.min(4, to - i);
            logits4(theta, data, i, z, tmp);
            for (int e = 0; e < m; e++) {
                softmax(z, e * classes);
                int y = data.y()[i + e];
                loss -= Math.log(Math.max(z[e * classes + y], Double.MIN_NORMAL));
                z[e * classes + y] -= 1; // now dℓ/dz
            }
            int r = i * features;
            for (int k = 0; k < classes; k++) {
                if (m == 4) {
                    Linalg.axpy4(z[k], z[classes + k], z[2 * classes + k], z[3 * classes + k], x, r, r + features,
                            r + 2 * features, r + 3 * features, g, k * features, features);
                } else {
                    for (int e = 0; e < m; e++) {
                        Linalg.axpy(z[e * classes + k], x, r + e * features, g, k * features, features);
                    }
                }
                for (int e = 0; e < m; e++) {
                    g[bias + k] += z[e * classes + k];
                }
            }
        }
        return loss;
    }

    /** How a diagonal Fisher is computed. */
    enum FisherKind {
        /**
         * The expectation over labels drawn from the model's own predictive distribution, in
         * closed form: for weight w_kj, the mean over examples of {@code x_j²·p_k(1−p_k)} (for the
         * bias b_k, {@code p_k(1−p_k)}). For softmax regression this is also the diagonal of the
         * loss's Hessian.
         */
        EXACT,
        /** One label per example sampled from the model's predictive distribution (an unbiased estimate of EXACT). */
        SAMPLED,
        /** The data's labels (the "empirical Fisher"). */
        EMPIRICAL
    }

    /**
     * The diagonal Fisher of {@code kind}: the average over {@code data} of the squared
     * per-example gradient, with the label chosen by {@code kind} ({@code rng} samples it for
     * SAMPLED), or its expectation for EXACT.
     */
    double[] fisher(double[] theta, Dataset data, FisherKind kind, SplittableRandom rng) {
        double[] h = new double[size()];
        double[] p = new double[classes];
        double[] r2 = new double[classes];
        double[] x = data.x();
        int bias = classes * features;
        for (int i = 0; i < data.size(); i++) {
            probabilities(theta, data, i, p);
            if (kind == FisherKind.EXACT) {
                for (int k = 0; k < classes; k++) {
                    r2[k] = p[k] * (1 - p[k]);
                }
            } else {
                int y = kind == FisherKind.SAMPLED ? sample(p, rng) : data.y()[i];
                p[y] -= 1;
                for (int k = 0; k < classes; k++) {
                    r2[k] = p[k] * p[k];
                }
            }
            int row = i * features;
            for (int k = 0; k < classes; k++) {
                int w = k * features;
                for (int f = 0; f < features; f++) {
                    double v = x[row + f];
                    h[w + f] += r2[k] * v * v;
                }
                h[bias + k] += r2[k];
            }
        }
        for (int j = 0; j < h.length; j++) {
            h[j] /= data.size();
        }
        return h;
    }

    private static int sample(double[] p, SplittableRandom rng) {
        double u = rng.nextDouble();
        double c = 0;
        for (int k = 0; k < p.length; k++) {
            c += p[k];
            if (u < c) {
                return k;
            }
        }
        return p.length - 1;
    }

    /** Fraction of {@code data} whose most probable class (over all classes) is the label. */
    double accuracy(double[] theta, Dataset data) {
        double[] z = new double[4 * classes];
        double[] tmp = new double[4];
        int right = 0;
        for (int i = 0; i < data.size(); i += 4) {
            logits4(theta, data, i, z, tmp);
            for (int e = 0; e < Math.min(4, data.size() - i); e++) {
                int best = 0;
                for (int k = 1; k < classes; k++) {
                    if (z[e * classes + k] > z[e * classes + best]) {
                        best = k;
                    }
                }
                if (best == data.y()[i + e]) {
                    right++;
                }
            }
        }
        return right / (double) data.size();
    }
}
