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
        double[] x = data.x();
        int row = i * features;
        int bias = classes * features;
        double max = Double.NEGATIVE_INFINITY;
        for (int k = 0; k < classes; k++) {
            double z = theta[bias + k];
            int w = k * features;
            for (int f = 0; f < features; f++) {
                z += theta[w + f] * x[row + f];
            }
            p[k] = z;
            max = Math.max(max, z);
        }
        double sum = 0;
        for (int k = 0; k < classes; k++) {
            p[k] = Math.exp(p[k] - max);
            sum += p[k];
        }
        for (int k = 0; k < classes; k++) {
            p[k] /= sum;
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

    private double accumulate(double[] theta, Dataset data, int from, int to, double[] g) {
        double[] p = new double[classes];
        double[] x = data.x();
        int bias = classes * features;
        double loss = 0;
        for (int i = from; i < to; i++) {
            probabilities(theta, data, i, p);
            int y = data.y()[i];
            loss -= Math.log(Math.max(p[y], Double.MIN_NORMAL));
            p[y] -= 1; // now dℓ/dz
            int row = i * features;
            for (int k = 0; k < classes; k++) {
                double r = p[k];
                int w = k * features;
                for (int f = 0; f < features; f++) {
                    g[w + f] += r * x[row + f];
                }
                g[bias + k] += r;
            }
        }
        return loss;
    }

    /** Which labels enter the squared gradients of a Fisher estimate. */
    enum FisherKind {
        /** Labels sampled from the model's own predictive distribution (the authors' default). */
        TRUE,
        /** The data's labels. */
        EMPIRICAL
    }

    /**
     * The diagonal Fisher: the average over {@code data} of the squared per-example gradient,
     * with one label per example chosen by {@code kind} ({@code rng} samples it for TRUE).
     */
    double[] fisher(double[] theta, Dataset data, FisherKind kind, SplittableRandom rng) {
        double[] h = new double[size()];
        double[] p = new double[classes];
        double[] x = data.x();
        int bias = classes * features;
        for (int i = 0; i < data.size(); i++) {
            probabilities(theta, data, i, p);
            int y = kind == FisherKind.TRUE ? sample(p, rng) : data.y()[i];
            p[y] -= 1;
            int row = i * features;
            for (int k = 0; k < classes; k++) {
                double r2 = p[k] * p[k];
                int w = k * features;
                for (int f = 0; f < features; f++) {
                    double v = x[row + f];
                    h[w + f] += r2 * v * v;
                }
                h[bias + k] += r2;
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
        double[] p = new double[classes];
        int right = 0;
        for (int i = 0; i < data.size(); i++) {
            probabilities(theta, data, i, p);
            int best = 0;
            for (int k = 1; k < classes; k++) {
                if (p[k] > p[best]) {
                    best = k;
                }
            }
            if (best == data.y()[i]) {
                right++;
            }
        }
        return right / (double) data.size();
    }
}
