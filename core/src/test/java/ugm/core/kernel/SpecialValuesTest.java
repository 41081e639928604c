package ugm.core.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import ugm.core.DType;

/**
 * The edge cases of docs/method.md ("Hbar not positive", "Removing tasks", Fisher averaging with a
 * zero denominator, "Arithmetic and special values"), on chunks long enough that they land in
 * vector lanes and in tails.
 */
class SpecialValuesTest {
    static final int N = 301;

    static List<Kernels> implementations() {
        return Implementations.all();
    }

    @ParameterizedTest
    @MethodSource("implementations")
    void hbarZeroGivesTheTaskArithmeticValueNotNaN(Kernels k) {
        float[] base = new float[N];
        float[][] x = new float[2][N];
        float[][] fisher = new float[2][N];
        for (int i = 0; i < N; i++) {
            base[i] = 0.01f * (i - 150);
            x[0][i] = base[i] + 0.003f * (i % 7 - 3);
            x[1][i] = base[i] - 0.002f * (i % 5 - 2);
            boolean zero = i % 3 == 0; // every Fisher of this element is 0 and delta0 = 0: Hbar = 0
            fisher[0][i] = zero ? 0f : 1e-3f * (1 + i % 4);
            fisher[1][i] = zero ? 0f : 2e-3f;
        }
        float[] alphas = {0.7f, 1.3f};
        GradientMatching p = new GradientMatching(alphas, new float[] {1f, 1f}, 1f, 0f, false, 0.1f);
        float[] out = new float[N];
        long replaced = k.gradientMatching(p, base, null, x, fisher, out, N);
        float[] ta = new float[N];
        k.taskArithmetic(base, x, alphas, ta, N);
        assertEquals(0, replaced);
        for (int i = 0; i < N; i++) {
            assertFalse(Float.isNaN(out[i]), "element " + i + " is NaN");
            if (i % 3 == 0) {
                double expected = base[i] + 0.7 * ((double) x[0][i] - base[i]) + 1.3 * ((double) x[1][i] - base[i]);
                assertEquals(expected, out[i], 1e-7, "element " + i);
                assertEquals(Float.floatToRawIntBits(ta[i]), Float.floatToRawIntBits(out[i]), "exactly the task-arithmetic kernel's value");
            }
        }
    }

    @ParameterizedTest
    @MethodSource("implementations")
    void removalClampsHbarAtAFractionOfP0AndCountsIt(Kernels k) {
        // P0 = delta0 = 1, alpha = 1, s = 1, base 1, task 1.5, clampRel 0.25.
        // H = 2: Hbar = 1 - 2 = -1, clamped to 0.25: theta = 1 - (1 + 2) * 0.5 / 0.25 = -5.
        // H = 0.5: Hbar = 0.5 stays: theta = 1 - (1 + 0.5) * 0.5 / 0.5 = -0.5.
        // H = 0.75: Hbar = 0.25 = the limit itself: not clamped, theta = 1 - 1.75 * 0.5 / 0.25 = -2.5.
        float[] base = filled(1f);
        float[][] x = {filled(1.5f)};
        float[][] fisher = {new float[N]};
        int clamped = 0;
        for (int i = 0; i < N; i++) {
            fisher[0][i] = switch (i % 3) {
                case 0 -> 2f;
                case 1 -> 0.5f;
                default -> 0.75f;
            };
            clamped += i % 3 == 0 ? 1 : 0;
        }
        GradientMatching p = new GradientMatching(new float[] {1f}, new float[] {1f}, 1f, 1f, true, 0.25f);
        float[] out = new float[N];
        long replaced = k.gradientMatching(p, base, null, x, fisher, out, N);
        assertEquals(clamped, replaced);
        for (int i = 0; i < N; i++) {
            float expected = switch (i % 3) {
                case 0 -> -5f;
                case 1 -> -0.5f;
                default -> -2.5f;
            };
            assertEquals(expected, out[i], "element " + i);
        }
    }

    @ParameterizedTest
    @MethodSource("implementations")
    void removalWithoutPriorPrecisionFallsBackToTaskArithmeticAndCountsIt(Kernels k) {
        // delta0 = 0 and no base Fisher: P0 = 0, Hbar = -alpha*H <= 0 everywhere.
        float[] base = filled(1f);
        float[][] x = {filled(1.5f), filled(0.5f)};
        float[][] fisher = {new float[N], new float[N]};
        for (int i = 0; i < N; i++) {
            fisher[0][i] = i % 2 == 0 ? 0f : 3f;
            fisher[1][i] = i % 4 == 0 ? 0f : 1f;
        }
        // base - 0.5*(1.5 - 1) - 0.25*(0.5 - 1) = 1 - 0.25 + 0.125
        GradientMatching p = new GradientMatching(new float[] {0.5f, 0.25f}, new float[] {1f, 1f}, 1f, 0f, true, 0.1f);
        float[] out = new float[N];
        assertEquals(N, k.gradientMatching(p, base, null, x, fisher, out, N));
        for (int i = 0; i < N; i++) {
            assertEquals(0.875f, out[i], "element " + i);
        }
    }

    @ParameterizedTest
    @MethodSource("implementations")
    void fisherAveragingWithZeroDenominatorIsThePlainWeightedAverage(Kernels k) {
        float[] base = filled(2f);
        float[][] x = {filled(1f), filled(4f)};
        float[][] zeros = {new float[N], new float[N]};
        float[] a = {1f, 3f};
        float[] s = {1f, 1f};
        float[] out = new float[N];
        k.fisher(x, zeros, a, s, 0f, out, N);
        assertAll(out, (1 * 1 + 3 * 4) / 4f);
        k.fisherWithBase(base, new float[N], 5f, x, zeros, a, s, 0f, out, N);
        assertAll(out, (2 + 1 * 1 + 3 * 4) / 5f);
        k.fisherWithBase(base, null, 5f, x, zeros, a, s, 0f, out, N);
        assertAll(out, (2 + 1 * 1 + 3 * 4) / 5f);
        // a floor makes every Fisher equal instead: the same averages, by the other branch
        k.fisher(x, zeros, a, s, 1e-3f, out, N);
        assertAll(out, (1 * 1 + 3 * 4) / 4f);
        k.fisherWithBase(base, new float[N], 5f, x, zeros, a, s, 1e-3f, out, N);
        assertAll(out, (2 + 1 * 1 + 3 * 4) / 5f);
    }

    @ParameterizedTest
    @MethodSource("implementations")
    void nanInAModelPropagatesThroughEveryMethodAndEveryEncoding(Kernels k) {
        float[] base = filled(0.5f);
        float[][] x = {filled(0.25f), filled(0.75f)};
        float[][] fisher = {filled(1f), filled(2f)};
        int[] nanAt = {0, 5, 8, 17, 300};
        for (int i : nanAt) {
            x[i % 2][i] = Float.NaN;
        }
        float[] w = {0.5f, 0.5f};
        float[] s = {1f, 1f};
        float[][] outs = new float[6][N];
        k.linear(x, w, outs[0], N);
        k.taskArithmetic(base, x, w, outs[1], N);
        k.gradientMatching(new GradientMatching(w, s, 1f, 1e-12f, false, 0.1f), base, fisher[0], x, fisher, outs[2], N);
        k.gradientMatching(new GradientMatching(w, s, 1f, 1e-12f, true, 0.1f), base, fisher[0], x, fisher, outs[3], N);
        k.fisher(x, fisher, w, s, 0f, outs[4], N);
        k.fisherWithBase(base, fisher[0], 1f, x, fisher, w, s, 0f, outs[5], N);
        try (Arena arena = Arena.ofConfined()) {
            for (int m = 0; m < outs.length; m++) {
                for (int i = 0; i < N; i++) {
                    final int e = i;
                    boolean expectNaN = Arrays.stream(nanAt).anyMatch(j -> j == e);
                    assertEquals(expectNaN, Float.isNaN(outs[m][i]), "method " + m + " element " + i);
                }
                for (DType type : new DType[] {DType.BF16, DType.F16, DType.F32, DType.F64}) {
                    MemorySegment seg = arena.allocate((long) type.byteWidth() * N);
                    k.encode(outs[m], N, type, seg, 0);
                    float[] back = new float[N];
                    k.decode(type, seg, 0, back, N);
                    for (int i : nanAt) {
                        assertTrue(Float.isNaN(back[i]), type + " keeps NaN at " + i);
                    }
                    assertFalse(Float.isNaN(back[1]), type.name());
                }
            }
        }
    }

    @ParameterizedTest
    @MethodSource("implementations")
    void mismatchedArgumentsAreRejected(Kernels k) {
        float[][] x = {new float[8], new float[8]};
        assertThrows(IllegalArgumentException.class, () -> k.linear(x, new float[3], new float[8], 8));
        assertThrows(IndexOutOfBoundsException.class, () -> k.linear(x, new float[2], new float[8], 9));
        assertThrows(IllegalArgumentException.class, () -> k.fisher(x, new float[][] {new float[8]}, new float[2],
                new float[2], 0f, new float[8], 8));
        assertThrows(IllegalArgumentException.class,
                () -> new GradientMatching(new float[2], new float[1], 1f, 0f, false, 0.1f));
        assertThrows(IllegalArgumentException.class,
                () -> new GradientMatching(new float[1], new float[1], 1f, 0f, true, 0f));
        assertThrows(IllegalArgumentException.class,
                () -> new GradientMatching(new float[1], new float[1], 1f, -1f, false, 0.1f));
    }

    static float[] filled(float v) {
        float[] a = new float[N];
        Arrays.fill(a, v);
        return a;
    }

    static void assertAll(float[] out, float expected) {
        for (int i = 0; i < N; i++) {
            assertEquals(expected, out[i], 1e-6f, "element " + i);
        }
    }
}
