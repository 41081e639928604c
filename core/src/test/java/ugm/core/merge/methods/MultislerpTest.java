package ugm.core.merge.methods;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.reflect.Modifier;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import ugm.core.DType;
import ugm.core.MemoryTensors;
import ugm.core.UgmException;
import ugm.core.merge.MergeMethod;
import ugm.core.merge.MergeRequest;
import ugm.core.merge.Merger;
import ugm.core.merge.Parameter;
import ugm.core.merge.TensorParameter;

/**
 * multislerp against mergekit's algorithm written out in double precision as mergekit states it:
 * unit vectors, their weighted mean, the tangent vectors at its direction, the exponential map
 * back, the weighted mean norm. (ugm uses that the weighted tangent vectors sum to zero.)
 */
class MultislerpTest {
    static final int N = 1000;

    /** mergekit's multislerp, step by step, in double. */
    static double[] reference(double[][] x, double[] base, double[] weight, boolean normalize, double eps) {
        int m = x.length;
        if (m == 1) {
            return x[0].clone();
        }
        double[][] v = new double[m][];
        for (int i = 0; i < m; i++) {
            v[i] = x[i].clone();
            if (base != null) {
                for (int j = 0; j < v[i].length; j++) {
                    v[i][j] -= base[j];
                }
            }
        }
        double[] w = weight.clone();
        if (normalize) {
            double s = Arrays.stream(w).sum();
            for (int i = 0; i < m; i++) {
                w[i] /= s;
            }
        }
        int n = v[0].length;
        double[] norms = new double[m];
        double[][] u = new double[m][n];
        for (int i = 0; i < m; i++) {
            norms[i] = Math.sqrt(dot(v[i], v[i]));
            for (int j = 0; j < n; j++) {
                u[i][j] = v[i][j] / (norms[i] + eps);
            }
        }
        double[] mean = new double[n];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                mean[j] += w[i] * u[i][j];
            }
        }
        double meanNorm = Math.sqrt(dot(mean, mean));
        double[] res = new double[n];
        if (meanNorm < eps) {
            for (int j = 0; j < n; j++) {
                res[j] = v[0][j] * w[0] + v[1][j] * w[1] + (base == null ? 0 : base[j]);
            }
            return res;
        }
        for (int j = 0; j < n; j++) {
            mean[j] /= meanNorm;
        }
        double[] tangent = new double[n];
        for (int i = 0; i < m; i++) {
            double d = dot(u[i], mean);
            for (int j = 0; j < n; j++) {
                tangent[j] += w[i] * (u[i][j] - d * mean[j]);
            }
        }
        double tn = Math.sqrt(dot(tangent, tangent)) + eps;
        double avg = 0;
        for (int i = 0; i < m; i++) {
            avg += norms[i] * w[i];
        }
        for (int j = 0; j < n; j++) {
            res[j] = (mean[j] * Math.cos(tn) + tangent[j] * Math.sin(tn) / tn) * avg + (base == null ? 0 : base[j]);
        }
        return res;
    }

    static double dot(double[] a, double[] b) {
        double s = 0;
        for (int j = 0; j < a.length; j++) {
            s += a[j] * b[j];
        }
        return s;
    }

    static MemoryTensors tensors(String name, double[] values) {
        MemorySegment s = Arena.ofAuto().allocate(4L * values.length, 4);
        for (int j = 0; j < values.length; j++) {
            s.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, j, (float) values[j]);
        }
        return new MemoryTensors(name).add("w", DType.F32, new long[] {values.length}, s);
    }

    static double[] merge(double[][] x, double[] base, UnaryOperator<MergeRequest.Builder> opts) {
        MergeRequest.Builder b = MergeRequest.builder(Method.MULTISLERP).threads(1).chunkElements(256);
        if (base != null) {
            b.base(tensors("base", base));
        }
        for (int i = 0; i < x.length; i++) {
            b.model(tensors("m" + i, x[i]));
        }
        Arena arena = Arena.ofAuto();
        MemorySegment out = arena.allocate(4L * N, 4);
        Merger.mergeTensor(opts.apply(b).build(), "w", out);
        double[] r = new double[N];
        for (int j = 0; j < N; j++) {
            r[j] = out.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, j);
        }
        return r;
    }

    static double[][] random(int m, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        double[][] x = new double[m][N];
        for (double[] row : x) {
            for (int j = 0; j < N; j++) {
                row[j] = (float) rnd.nextGaussian();
            }
        }
        return x;
    }

    static void close(double[] expected, double[] got) {
        for (int j = 0; j < N; j++) {
            assertEquals(expected[j], got[j], 1e-5 * (1 + Math.abs(expected[j])), "element " + j);
        }
    }

    @Test
    void threeModelsWithABaseAndTwoWithoutFollowMergekitsAlgorithm() {
        double[][] x = random(4, 3);
        double[] base = x[3];
        double[][] tasks = Arrays.copyOf(x, 3);
        close(reference(tasks, base, new double[] {1, 2, 0.5}, true, 1e-8),
                merge(tasks, base, b -> b.weights(1f, 2f, 0.5f)));
        double[][] two = Arrays.copyOf(x, 2);
        close(reference(two, null, new double[] {0.3, 0.9}, false, 1e-8),
                merge(two, null, b -> b.weights(0.3f, 0.9f).flag(Parameter.NORMALIZE_WEIGHTS, false)));
        close(reference(two, null, new double[] {1, 1}, true, 0.5),
                merge(two, null, b -> b.parameter(Parameter.EPS, TensorParameter.of(0.5f))));
    }

    @Test
    void oneModelIsItselfAndOppositeModelsFallBackOrFail() {
        double[][] x = random(1, 5);
        close(x[0], merge(x, null, b -> b));
        double[] a = random(1, 7)[0];
        double[] minus = Arrays.stream(a).map(d -> -d).toArray();
        double[][] opposite = {a, minus};
        close(reference(opposite, null, new double[] {1, 1}, true, 1e-8), merge(opposite, null, b -> b));
        double[][] three = {a, minus, a.clone()};
        UgmException e = assertThrows(UgmException.class,
                () -> merge(three, null, b -> b.weights(1f, 2f, 1f)));
        assertTrue(e.getMessage().contains("multislerp"), e.getMessage());
    }

    @Test
    void weightsSummingToZeroAreAPlanProblem() {
        double[][] x = random(2, 9);
        UgmException e = assertThrows(UgmException.class, () -> merge(x, null, b -> b.weights(1f, -1f)));
        assertTrue(e.getMessage().contains("normalize_weights"), e.getMessage());
    }

    /** The registry hands every question to the implementation: Method overrides every method MergeMethod declares. */
    @Test
    void theRegistryDelegatesEveryQuestion() throws NoSuchMethodException {
        for (java.lang.reflect.Method q : MergeMethod.class.getMethods()) {
            if (Modifier.isStatic(q.getModifiers())) {
                continue;
            }
            assertEquals(Method.class, Method.class.getMethod(q.getName(), q.getParameterTypes()).getDeclaringClass(), q.getName());
        }
    }
}
