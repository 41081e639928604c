package ugm.core.merge.methods;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import ugm.core.UgmException;
import ugm.core.merge.MergeRequest;

/** arcee_fusion against mergekit's steps written out in double: row softmaxes, KL, importance, quantiles, mask. */
class ArceeFusionTest {

    /** The importance of every element: |x − b| times its row's KL divergence. */
    static double[] importance(double[] x, double[] b, int cols) {
        double[] imp = new double[x.length];
        for (int start = 0; start < x.length; start += cols) {
            double[] p = softmax(x, start, cols);
            double[] q = softmax(b, start, cols);
            double kl = 0;
            for (int j = 0; j < cols; j++) {
                kl += (p[j] + 1e-8) * Math.log((p[j] + 1e-8) / (q[j] + 1e-8));
            }
            for (int j = 0; j < cols; j++) {
                imp[start + j] = Math.abs(x[start + j] - b[start + j]) * kl;
            }
        }
        return imp;
    }

    static double[] softmax(double[] v, int start, int cols) {
        double max = Double.NEGATIVE_INFINITY;
        for (int j = 0; j < cols; j++) {
            max = Math.max(max, v[start + j]);
        }
        double[] e = new double[cols];
        double sum = 0;
        for (int j = 0; j < cols; j++) {
            e[j] = Math.exp(v[start + j] - max);
            sum += e[j];
        }
        for (int j = 0; j < cols; j++) {
            e[j] /= sum;
        }
        return e;
    }

    /** median + 1.5·IQR of the importances, mergekit's quantiles: the sorted values at floor(q·(n − 1)). */
    static double threshold(double[] imp) {
        double[] s = imp.clone();
        Arrays.sort(s);
        int n = s.length;
        double q1 = s[(int) (0.25 * (n - 1))];
        double median = s[(int) (0.5 * (n - 1))];
        double q3 = s[(int) (0.75 * (n - 1))];
        return median + 1.5 * (q3 - q1);
    }

    /** Checks ugm's merge of x into b (shape rows × cols, or 1-D) against the steps above; returns how many elements took x. */
    static int check(double[] b, double[] x, long[] shape, int cols) {
        MergeRequest r = MergeRequest.builder(Method.ARCEE_FUSION).threads(2).chunkElements(64)
                .base(Inputs.tensor("b", shape, b)).model(Inputs.tensor("x", shape, x)).build();
        double[] got = Inputs.merge(r, b.length);
        double[] imp = importance(x, b, cols);
        double t = threshold(imp);
        int fused = 0;
        for (int j = 0; j < b.length; j++) {
            if (imp[j] != t && Math.abs(imp[j] - t) <= 1e-5 * Math.abs(t)) {
                assertTrue(got[j] == b[j] || Math.abs(got[j] - x[j]) <= 1e-6 * (1 + Math.abs(x[j])), "element " + j);
                continue; // at the threshold, within rounding: either
            }
            boolean take = imp[j] >= t;
            fused += take ? 1 : 0;
            assertEquals(take ? x[j] : b[j], got[j], take ? 1e-6 * (1 + Math.abs(x[j])) : 0, "element " + j);
        }
        return fused;
    }

    /** A base and a model differing by row-dependent amounts (every fifth row not at all). */
    static double[][] pair(int rows, int cols, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        double[] b = Inputs.gaussian(rows * cols, 1, rnd);
        double[] x = new double[b.length];
        for (int i = 0; i < rows; i++) {
            double sigma = i % 5 == 4 ? 0 : 0.05 * (1 + i % 3);
            for (int j = 0; j < cols; j++) {
                int e = i * cols + j;
                x[e] = (float) (b[e] + sigma * rnd.nextGaussian() * (rnd.nextInt(20) == 0 ? 10 : 1));
            }
        }
        return new double[][] {b, x};
    }

    @Test
    void matrixRowsLongRowsAndVectorsFollowMergekit() {
        int[][] shapes = {{13, 37}, {3, 5000}, {1, 1031}};
        for (int[] s : shapes) {
            double[][] p = pair(s[0], s[1], s[0] * 31L + s[1]);
            long[] shape = s[0] == 1 ? new long[] {s[1]} : new long[] {s[0], s[1]};
            int fused = check(p[0], p[1], shape, s[1]);
            assertTrue(fused > 0 && fused < p[0].length / 4, "fused " + fused + " of " + p[0].length);
        }
    }

    @Test
    void rowsOfOneElementHaveNoDivergenceAndTakeTheModel() {
        double[][] p = pair(7, 1, 5);
        assertEquals(7, check(p[0], p[1], new long[] {7, 1}, 1));
    }

    @Test
    void theBaseAndExactlyOneModel() {
        double[] v = {1, 2};
        UgmException e = org.junit.jupiter.api.Assertions.assertThrows(UgmException.class, () -> MergeRequest
                .builder(Method.ARCEE_FUSION).base(Inputs.tensor("b", new long[] {2}, v)).model(Inputs.tensor("x", new long[] {2}, v))
                .model(Inputs.tensor("y", new long[] {2}, v)).build());
        assertTrue(e.getMessage().contains("arcee_fusion takes the base and exactly one other model, not 2"), e.getMessage());
    }
}
