package ugm.core.merge.methods;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import ugm.core.UgmException;
import ugm.core.merge.MergeRequest;
import ugm.core.merge.Parameter;

/**
 * nuslerp against mergekit's steps written out in double: t from the weights, the vectors
 * (the whole tensor, its rows, or the vectors along its first dimension after mergekit's
 * transpose), each normalised, the angle, and slerp or, for colinear vectors, lerp.
 */
class NuslerpTest {

    /** mergekit's nuslerp of two vectors. */
    static double[] slerp(double t, double[] v0, double[] v1) {
        double n0 = Math.max(Math.sqrt(Inputs.dot(v0, v0)), 1e-7);
        double n1 = Math.max(Math.sqrt(Inputs.dot(v1, v1)), 1e-7);
        double cos = 0;
        for (int j = 0; j < v0.length; j++) {
            cos += v0[j] / n0 * (v1[j] / n1);
        }
        double theta = Math.acos(Math.max(-1, Math.min(1, cos)));
        double sin = Math.sin(theta);
        double[] r = new double[v0.length];
        for (int j = 0; j < r.length; j++) {
            r[j] = Math.abs(sin) < 1e-8 ? (1 - t) * v0[j] + t * v1[j]
                    : (Math.sin((1 - t) * theta) * v0[j] + Math.sin(t * theta) * v1[j]) / sin;
        }
        return r;
    }

    /**
     * The merge of x0 and x1 (shape {a, b, c}, row-major), less and plus the base when given:
     * mode 0 flattens, 1 takes the vectors along the last dimension, 2 along the first.
     */
    static double[] reference(double[] x0, double[] x1, double[] base, double w0, double w1, int[] shape, int mode) {
        double t = Math.abs(w0 + w1) < 1e-6 ? 0.5 : w1 / (w0 + w1);
        int a = shape[0];
        int b = shape[1];
        int c = shape[2];
        double[] out = new double[x0.length];
        // the vectors as lists of element indices
        int[][] vectors;
        if (mode == 0) {
            vectors = new int[1][x0.length];
            for (int e = 0; e < x0.length; e++) {
                vectors[0][e] = e;
            }
        } else if (mode == 1) {
            vectors = new int[a * b][c];
            for (int i = 0; i < a; i++) {
                for (int j = 0; j < b; j++) {
                    for (int k = 0; k < c; k++) {
                        vectors[i * b + j][k] = (i * b + j) * c + k;
                    }
                }
            }
        } else {
            vectors = new int[b * c][a];
            for (int j = 0; j < b; j++) {
                for (int k = 0; k < c; k++) {
                    for (int i = 0; i < a; i++) {
                        vectors[j * c + k][i] = (i * b + j) * c + k;
                    }
                }
            }
        }
        for (int[] vector : vectors) {
            double[] v0 = new double[vector.length];
            double[] v1 = new double[vector.length];
            for (int e = 0; e < vector.length; e++) {
                double b0 = base == null ? 0 : base[vector[e]];
                v0[e] = x0[vector[e]] - b0;
                v1[e] = x1[vector[e]] - b0;
            }
            double[] r = slerp(t, v0, v1);
            for (int e = 0; e < vector.length; e++) {
                out[vector[e]] = r[e] + (base == null ? 0 : base[vector[e]]);
            }
        }
        return out;
    }

    static double[] merge(long[] shape, double[] x0, double[] x1, double[] base, UnaryOperator<MergeRequest.Builder> opts) {
        MergeRequest.Builder b = MergeRequest.builder(Method.NUSLERP).threads(2).chunkElements(64)
                .model(Inputs.tensor("x0", shape, x0)).model(Inputs.tensor("x1", shape, x1));
        if (base != null) {
            b.base(Inputs.tensor("base", shape, base));
        }
        return Inputs.merge(opts.apply(b).build(), x0.length);
    }

    static void close(double[] expected, double[] got) {
        for (int j = 0; j < expected.length; j++) {
            assertEquals(expected[j], got[j], 2e-6 * (1 + Math.abs(expected[j])), "element " + j);
        }
    }

    @Test
    void everyModeWithAndWithoutABaseFollowsMergekit() {
        SplittableRandom rnd = new SplittableRandom(11);
        int[][] shapes = {{13, 1, 37}, {3, 5, 7}, {1, 1, 1031}};
        for (int[] s : shapes) {
            long[] shape = s[2] == 1031 ? new long[] {1031} : s[1] == 1 ? new long[] {s[0], s[2]} : new long[] {s[0], s[1], s[2]};
            int count = s[0] * s[1] * s[2];
            double[] base = Inputs.gaussian(count, 1, rnd);
            double[] x0 = Inputs.gaussian(count, 1, rnd);
            double[] x1 = Inputs.gaussian(count, 1, rnd);
            for (int mode = 0; mode < 3; mode++) {
                boolean flatten = mode == 0;
                boolean rowWise = mode == 2;
                int expectedMode = shape.length == 1 ? 0 : mode;
                UnaryOperator<MergeRequest.Builder> opts = b -> b.weights(1f, 3f).flag(Parameter.NUSLERP_FLATTEN, flatten)
                        .flag(Parameter.NUSLERP_ROW_WISE, rowWise);
                close(reference(x0, x1, null, 1, 3, s, expectedMode), merge(shape, x0, x1, null, opts));
                close(reference(x0, x1, base, 1, 3, s, expectedMode), merge(shape, x0, x1, base, opts));
            }
        }
    }

    @Test
    void theDefaultsFlattenAtOneHalfAndWeightsSummingToZeroGiveOneHalf() {
        SplittableRandom rnd = new SplittableRandom(12);
        int[] s = {7, 1, 9};
        double[] x0 = Inputs.gaussian(63, 1, rnd);
        double[] x1 = Inputs.gaussian(63, 1, rnd);
        close(reference(x0, x1, null, 1, 1, s, 0), merge(new long[] {7, 9}, x0, x1, null, b -> b));
        close(reference(x0, x1, null, 2, -2, s, 0), merge(new long[] {7, 9}, x0, x1, null, b -> b.weights(2f, -2f)));
    }

    @Test
    void colinearAndZeroVectorsAndOneModel() {
        double[] x0 = {1, 2, 0, 0, 3, -1};
        double[] x1 = {2, 4, 0, 0, 1, 1};
        int[] s = {3, 1, 2};
        double[] expected = reference(x0, x1, null, 3, 1, s, 1);
        assertEquals(1.25, expected[0], 1e-12); // the first row is colinear: lerp at t = 0.25
        close(expected, merge(new long[] {3, 2}, x0, x1, null, b -> b.weights(3f, 1f).flag(Parameter.NUSLERP_FLATTEN, false)));
        MergeRequest one = MergeRequest.builder(Method.NUSLERP).model(Inputs.tensor("x0", new long[] {6}, x0)).build();
        close(x0, Inputs.merge(one, 6));
    }

    @Test
    void twoModelsOrOneWithoutABase() {
        assertNull(Method.NUSLERP.modelCountProblem(1, false));
        assertNull(Method.NUSLERP.modelCountProblem(2, true));
        UgmException e = assertThrows(UgmException.class, () -> MergeRequest.builder(Method.NUSLERP)
                .base(Inputs.tensor("b", new long[] {1}, new double[] {1})).model(Inputs.tensor("x", new long[] {1}, new double[] {2}))
                .build());
        assertTrue(e.getMessage().contains("nuslerp interpolates two models (besides the base, when one is given), not 1"), e.getMessage());
        assertTrue(Method.NUSLERP.modelCountProblem(3, false) != null);
    }
}
