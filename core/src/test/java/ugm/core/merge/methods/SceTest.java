package ugm.core.merge.methods;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Arrays;
import java.util.Comparator;
import java.util.SplittableRandom;
import java.util.function.UnaryOperator;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import ugm.core.merge.MergeRequest;
import ugm.core.merge.Parameter;
import ugm.core.merge.TensorParameter;

/** sce against mergekit's sce_merge written out in double: select by variance, calculate, erase. */
class SceTest {
    static final int N = 1031;

    static double[] reference(double[][] x, double[] base, double topk) {
        int m = x.length;
        int n = base.length;
        double[][] tv = new double[m][n];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                tv[i][j] = x[i][j] - base[j];
            }
        }
        if (topk < 1) {
            boolean[] keep = new boolean[n];
            if (topk > 0) {
                double[] var = new double[n];
                int nonzero = 0;
                for (int j = 0; j < n; j++) {
                    double mean = 0;
                    for (int i = 0; i < m; i++) {
                        mean += tv[i][j] / m;
                    }
                    for (int i = 0; i < m; i++) {
                        var[j] += (tv[i][j] - mean) * (tv[i][j] - mean) / m;
                    }
                    nonzero += var[j] != 0 ? 1 : 0;
                }
                int k = (int) (nonzero * topk);
                Integer[] order = IntStream.range(0, n).boxed().toArray(Integer[]::new);
                Arrays.sort(order, Comparator.comparingDouble((Integer j) -> -var[j]).thenComparing(j -> j));
                for (int r = 0; r < k; r++) {
                    keep[order[r]] = true;
                }
            }
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    tv[i][j] = keep[j] ? tv[i][j] : 0;
                }
            }
        }
        double[] w = new double[m];
        double sum = 0;
        for (int i = 0; i < m; i++) {
            w[i] = Inputs.dot(tv[i], tv[i]) / n;
            sum += w[i];
        }
        for (int i = 0; i < m; i++) {
            w[i] = Math.abs(sum) < 1e-6 ? 1.0 / m : w[i] / sum;
        }
        double[] out = new double[n];
        for (int j = 0; j < n; j++) {
            double s = 0;
            for (int i = 0; i < m; i++) {
                s += tv[i][j];
            }
            double majority = s >= 0 ? 1 : -1;
            double merged = 0;
            double weights = 0;
            for (int i = 0; i < m; i++) {
                if (Math.signum(tv[i][j]) == majority) {
                    merged += tv[i][j] * w[i];
                    weights += w[i];
                }
            }
            out[j] = base[j] + merged / Math.max(weights, 1e-6);
        }
        return out;
    }

    static double[] merge(double[][] x, double[] base, UnaryOperator<MergeRequest.Builder> opts) {
        MergeRequest.Builder b = MergeRequest.builder(Method.SCE).threads(2).chunkElements(64)
                .base(Inputs.tensor("base", new long[] {base.length}, base));
        for (int i = 0; i < x.length; i++) {
            b.model(Inputs.tensor("m" + i, new long[] {base.length}, x[i]));
        }
        return Inputs.merge(opts.apply(b).build(), base.length);
    }

    static void close(double[] expected, double[] got) {
        for (int j = 0; j < expected.length; j++) {
            assertEquals(expected[j], got[j], 1e-6 * (1 + Math.abs(expected[j])), "element " + j);
        }
    }

    /** A base and m models around it, the task vectors of scale sigma (and some elements where all agree). */
    static double[][] family(long seed, int m, double sigma) {
        SplittableRandom rnd = new SplittableRandom(seed);
        double[][] x = new double[m + 1][];
        x[m] = Inputs.gaussian(N, 1, rnd);
        for (int i = 0; i < m; i++) {
            double[] d = Inputs.gaussian(N, sigma * (i + 1), rnd);
            x[i] = new double[N];
            for (int j = 0; j < N; j++) {
                x[i][j] = (float) (x[m][j] + (j % 7 == 0 ? 2.5 * sigma : d[j]));
            }
        }
        return x;
    }

    static UnaryOperator<MergeRequest.Builder> topk(float k) {
        return b -> b.parameter(Parameter.SELECT_TOPK, TensorParameter.of(k));
    }

    @Test
    void followsMergekitWithAndWithoutSelection() {
        double[][] f = family(1, 3, 0.1);
        double[][] x = Arrays.copyOf(f, 3);
        double[] base = f[3];
        close(reference(x, base, 1), merge(x, base, b -> b));
        close(reference(x, base, 0.3), merge(x, base, topk(0.3f)));
        close(reference(x, base, 0.999), merge(x, base, topk(0.999f)));
        close(base, merge(x, base, topk(0)));
        close(reference(x, base, 1), merge(x, base, b -> b.weights(7f, 0f, -1f))); // weights are not read
    }

    @Test
    void tinyTaskVectorsWeighEquallyAndOneModelAlone() {
        double[][] f = family(2, 2, 3e-4);
        double[][] x = Arrays.copyOf(f, 2);
        // mean squares near 1.6e-7 and 3.9e-7 sum below 1e-6: equal weights, not about 1:2.4 (a difference near 1e-4 here)
        close(reference(x, f[2], 1), merge(x, f[2], b -> b));
        double[][] one = family(3, 1, 0.1);
        close(one[0], merge(new double[][] {one[0]}, one[1], b -> b));
        close(one[1], merge(new double[][] {one[0]}, one[1], topk(0.5f))); // one model varies nowhere: nothing selected
    }
}
