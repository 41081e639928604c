package ugm.core.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import ugm.core.DType;

/**
 * The vector kernels against their scalar twin and both against the one definition of each
 * formula ({@link Formulas}), bit for bit, at every supported width and on sizes that hit every
 * tail. Lanes do the same float operations in the same order as the formulas, so any difference
 * is a bug (NaNs are compared as NaN, not by payload).
 */
class TwinTest {
    static final int[] SIZES = {0, 1, 7, 8, 13, 31, 64, 207, 300, 4097, 16385};
    static final int SLACK = 37; // buffers are longer than n; the slack must stay untouched
    static final float SENTINEL = Float.intBitsToFloat(0x7F80_1234); // a signalling NaN nobody computes
    static final Kernels SCALAR = Kernels.scalar();

    static List<Kernels> vectors() {
        return Implementations.vectors();
    }

    @Test
    void thisMachineHasAVectorWidthToTest() {
        assertTrue(VectorKernels.preferredBits() >= 64);
        assertTrue(!vectors().isEmpty());
    }

    // ---- conversions --------------------------------------------------------------------------

    @ParameterizedTest
    @MethodSource("vectors")
    void decodeMatchesScalarForEveryDtypeSizeAndOffset(Kernels v) {
        SplittableRandom rnd = new SplittableRandom(1);
        try (Arena arena = Arena.ofConfined()) {
            for (DType type : new DType[] {DType.BF16, DType.F16, DType.F32, DType.F64}) {
                int w = type.byteWidth();
                for (int n : SIZES) {
                    for (long off : new long[] {0, w, 3L * w, 17L * w, 1, 3, w + 5L}) {
                        MemorySegment src = arena.allocate(off + (long) w * n + 8, 64);
                        for (long b = 0; b < src.byteSize(); b++) {
                            src.set(ValueLayout.JAVA_BYTE, b, (byte) rnd.nextInt());
                        }
                        float[] expected = filled(n + SLACK);
                        float[] actual = filled(n + SLACK);
                        SCALAR.decode(type, src, off, expected, n);
                        v.decode(type, src, off, actual, n);
                        assertSameBits(expected, actual, v.name() + " decode " + type + " n=" + n + " off=" + off);
                        assertSlackUntouched(actual, n);
                    }
                }
            }
        }
    }

    @ParameterizedTest
    @MethodSource("vectors")
    void encodeMatchesScalarForEveryDtypeSizeAndOffset(Kernels v) {
        SplittableRandom rnd = new SplittableRandom(2);
        try (Arena arena = Arena.ofConfined()) {
            for (DType type : new DType[] {DType.BF16, DType.F16, DType.F32, DType.F64}) {
                int w = type.byteWidth();
                for (int n : SIZES) {
                    for (long off : new long[] {0, w, 3L * w, 17L * w, 1, 3, w + 5L}) {
                        float[] src = new float[n + SLACK];
                        for (int i = 0; i < src.length; i++) {
                            src[i] = FloatPatterns.interesting(rnd);
                        }
                        long size = off + (long) w * n + 16;
                        MemorySegment expected = arena.allocate(size, 64);
                        MemorySegment actual = arena.allocate(size, 64);
                        expected.fill((byte) 0x5A);
                        actual.fill((byte) 0x5A);
                        SCALAR.encode(src, n, type, expected, off);
                        v.encode(src, n, type, actual, off);
                        long mismatch = expected.mismatch(actual);
                        if (mismatch >= 0) {
                            fail(v.name() + " encode " + type + " n=" + n + " off=" + off + ": first differing byte " + mismatch);
                        }
                        for (long b = off + (long) w * n; b < size; b++) {
                            assertEquals((byte) 0x5A, actual.get(ValueLayout.JAVA_BYTE, b), "byte after the end");
                        }
                    }
                }
            }
        }
    }

    // ---- methods ------------------------------------------------------------------------------

    @ParameterizedTest
    @MethodSource("vectors")
    void linearMatchesScalar(Kernels v) {
        for (int models = 1; models <= 5; models++) {
            for (int n : SIZES) {
                MethodData d = MethodData.random(new SplittableRandom(n * 31L + models), models, n + SLACK, true);
                float[] expected = filled(n + SLACK);
                float[] actual = filled(n + SLACK);
                SCALAR.linear(d.x, d.signedWeights, expected, n);
                v.linear(d.x, d.signedWeights, actual, n);
                assertSameFloats(defined(n, i -> Formulas.linear(d.x, d.signedWeights, i)), expected, "scalar linear T=" + models + " n=" + n);
                assertSameFloats(expected, actual, v.name() + " linear T=" + models + " n=" + n);
                assertSlackUntouched(actual, n);
            }
        }
    }

    @ParameterizedTest
    @MethodSource("vectors")
    void taskArithmeticMatchesScalar(Kernels v) {
        for (int models = 1; models <= 5; models++) {
            for (int n : SIZES) {
                MethodData d = MethodData.random(new SplittableRandom(n * 37L + models), models, n + SLACK, true);
                float[] expected = filled(n + SLACK);
                float[] actual = filled(n + SLACK);
                SCALAR.taskArithmetic(d.base, d.x, d.signedWeights, expected, n);
                v.taskArithmetic(d.base, d.x, d.signedWeights, actual, n);
                assertSameFloats(defined(n, i -> Formulas.taskArithmetic(d.base[i], d.x, d.signedWeights, 1f, i)), expected,
                        "scalar task arithmetic T=" + models + " n=" + n);
                assertSameFloats(expected, actual, v.name() + " task arithmetic T=" + models + " n=" + n);
                assertSlackUntouched(actual, n);
            }
        }
    }

    @ParameterizedTest
    @MethodSource("vectors")
    void gradientMatchingMatchesScalar(Kernels v) {
        for (int models = 1; models <= 5; models++) {
            for (int n : SIZES) {
                for (boolean remove : new boolean[] {false, true}) {
                    for (boolean withBaseFisher : new boolean[] {false, true}) {
                        for (float delta0 : new float[] {0f, 1e-12f, 0.5f}) {
                            boolean specials = n % 2 == 1;
                            MethodData d = MethodData.random(new SplittableRandom(n * 41L + models), models, n + SLACK, specials);
                            GradientMatching p = new GradientMatching(d.alphas, d.scales, 25_000f, delta0, remove, 0.1f);
                            float[] h0 = withBaseFisher ? d.baseFisher : null;
                            float[] expected = filled(n + SLACK);
                            float[] actual = filled(n + SLACK);
                            long expectedCount = SCALAR.gradientMatching(p, d.base, h0, d.x, d.fisher, expected, n);
                            long actualCount = v.gradientMatching(p, d.base, h0, d.x, d.fisher, actual, n);
                            String what = v.name() + " gradient matching T=" + models + " n=" + n + " remove=" + remove
                                    + " H0=" + withBaseFisher + " delta0=" + delta0;
                            float[] defined = filled(n + SLACK);
                            long definedCount = 0;
                            for (int i = 0; i < n; i++) {
                                definedCount += Formulas.gradientMatching(p, d.base, h0, d.x, d.fisher, defined, i);
                            }
                            assertSameFloats(defined, expected, "scalar: " + what);
                            assertEquals(definedCount, expectedCount, "scalar: " + what + ": replaced count");
                            assertSameFloats(expected, actual, what);
                            assertEquals(expectedCount, actualCount, what + ": replaced count");
                            assertSlackUntouched(actual, n);
                        }
                    }
                }
            }
        }
    }

    /**
     * The parts of gradient matching that the sparsified methods (ties_ and dare_gradient_matching)
     * drop or rescale per model: summed back from 0 in model order and divided by the returned
     * denominator, they give each implementation's value bit for bit, the fallbacks included.
     */
    @ParameterizedTest
    @MethodSource("all")
    void gradientMatchingTermsAddUpToTheKernelsValue(Kernels k) {
        int fallbacks = 0;
        for (int models = 1; models <= 5; models++) {
            for (int n : SIZES) {
                for (boolean remove : new boolean[] {false, true}) {
                    for (boolean withBaseFisher : new boolean[] {false, true}) {
                        for (float delta0 : new float[] {0f, 1e-12f, 0.5f}) {
                            MethodData d = MethodData.random(new SplittableRandom(n * 53L + models), models, n, n % 2 == 1);
                            GradientMatching p = new GradientMatching(d.alphas, d.scales, 25_000f, delta0, remove, 0.1f);
                            float[] h0 = withBaseFisher ? d.baseFisher : null;
                            float[] out = new float[n];
                            k.gradientMatching(p, d.base, h0, d.x, d.fisher, out, n);
                            float[] terms = new float[models + 1];
                            float[] rebuilt = new float[n];
                            for (int i = 0; i < n; i++) {
                                float den = Formulas.gradientMatchingTerms(p, d.base, h0, d.x, d.fisher, i, terms);
                                assertEquals(Float.floatToRawIntBits(den), Float.floatToRawIntBits(terms[models]), "denominator stored");
                                float num = 0f;
                                for (int t = 0; t < models; t++) {
                                    num += terms[t];
                                }
                                rebuilt[i] = d.base[i] + num / den;
                                fallbacks += den == 1f ? 1 : 0;
                            }
                            assertSameFloats(out, rebuilt, k.name() + " gradient matching terms T=" + models + " n=" + n
                                    + " remove=" + remove + " H0=" + withBaseFisher + " delta0=" + delta0);
                        }
                    }
                }
            }
        }
        assertTrue(fallbacks > 100, "the task-arithmetic fallback was rebuilt " + fallbacks + " times");
    }

    @ParameterizedTest
    @MethodSource("vectors")
    void fisherMatchesScalar(Kernels v) {
        for (int models = 1; models <= 5; models++) {
            for (int n : SIZES) {
                for (float floor : new float[] {0f, 1e-6f}) {
                    MethodData d = MethodData.random(new SplittableRandom(n * 43L + models), models, n + SLACK, n % 2 == 0);
                    float[] expected = filled(n + SLACK);
                    float[] actual = filled(n + SLACK);
                    SCALAR.fisher(d.x, d.fisher, d.alphas, d.scales, floor, expected, n);
                    v.fisher(d.x, d.fisher, d.alphas, d.scales, floor, actual, n);
                    float aSum = Formulas.sum(d.alphas);
                    assertSameFloats(defined(n, i -> Formulas.fisher(d.x, d.fisher, d.alphas, d.scales, floor, aSum, i)), expected,
                            "scalar fisher T=" + models + " n=" + n + " floor=" + floor);
                    assertSameFloats(expected, actual, v.name() + " fisher T=" + models + " n=" + n + " floor=" + floor);
                    assertSlackUntouched(actual, n);
                }
            }
        }
    }

    @ParameterizedTest
    @MethodSource("vectors")
    void fisherWithBaseMatchesScalar(Kernels v) {
        for (int models = 1; models <= 5; models++) {
            for (int n : SIZES) {
                for (float floor : new float[] {0f, 1e-6f}) {
                    for (boolean withBaseFisher : new boolean[] {false, true}) {
                        MethodData d = MethodData.random(new SplittableRandom(n * 47L + models), models, n + SLACK, n % 2 == 0);
                        float[] h0 = withBaseFisher ? d.baseFisher : null;
                        float[] expected = filled(n + SLACK);
                        float[] actual = filled(n + SLACK);
                        SCALAR.fisherWithBase(d.base, h0, 3f, d.x, d.fisher, d.alphas, d.scales, floor, expected, n);
                        v.fisherWithBase(d.base, h0, 3f, d.x, d.fisher, d.alphas, d.scales, floor, actual, n);
                        float aSum1 = 1f + Formulas.sum(d.alphas);
                        assertSameFloats(defined(n, i -> Formulas.fisherWithBase(d.base, h0, 3f, d.x, d.fisher, d.alphas, d.scales,
                                floor, aSum1, i)), expected, "scalar fisher with base T=" + models + " n=" + n);
                        assertSameFloats(expected, actual, v.name() + " fisher with base T=" + models + " n=" + n
                                + " floor=" + floor + " H0=" + withBaseFisher);
                        assertSlackUntouched(actual, n);
                    }
                }
            }
        }
    }

    // ---- helpers ------------------------------------------------------------------------------

    @ParameterizedTest
    @MethodSource("vectors")
    void indexOfNegativeOrNaNMatchesScalarAndTheDefinition(Kernels v) {
        float[] bad = {-1e-30f, -Float.MIN_VALUE, Float.NaN, Float.NEGATIVE_INFINITY, -3f};
        for (int n : SIZES) {
            float[] x = new float[n + SLACK];
            for (int i = 0; i < x.length; i++) {
                x[i] = i % 3 == 0 ? 0f : i % 3 == 1 ? -0f : 1e-20f * i; // -0.0 counts as non-negative
            }
            x[n + SLACK - 1] = -1f; // beyond n: must be ignored
            assertEquals(-1, SCALAR.indexOfNegativeOrNaN(x, n), "scalar n=" + n);
            for (int i = 0; i < n; i++) {
                assertFalse(Formulas.isNegativeOrNaN(x[i]), "the definition at " + i);
            }
            assertEquals(-1, v.indexOfNegativeOrNaN(x, n), v.name() + " n=" + n);
            for (int at : new int[] {0, n / 2, n - 1}) {
                if (at < 0 || n == 0) {
                    continue;
                }
                for (float b : bad) {
                    float[] y = x.clone();
                    y[at] = b;
                    if (at + 1 < n) {
                        y[n - 1] = -5f; // a later bad value: the first one wins
                    }
                    int want = at;
                    assertTrue(Formulas.isNegativeOrNaN(b), "the definition of " + b);
                    assertEquals(want, SCALAR.indexOfNegativeOrNaN(y, n), "scalar n=" + n + " at=" + at + " " + b);
                    assertEquals(want, v.indexOfNegativeOrNaN(y, n), v.name() + " n=" + n + " at=" + at + " " + b);
                }
            }
        }
    }

    @ParameterizedTest
    @MethodSource("vectors")
    void countNonFiniteMatchesScalarAndTheDefinition(Kernels v) {
        float[] bad = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.intBitsToFloat(0xFFC00001)};
        for (int n : SIZES) {
            float[] x = new float[n + SLACK];
            for (int i = 0; i < x.length; i++) {
                x[i] = i % 3 == 0 ? Float.MAX_VALUE : i % 3 == 1 ? -Float.MIN_VALUE : -1e30f * i;
            }
            x[n + SLACK - 1] = Float.NaN; // beyond n: must be ignored
            assertEquals(0, SCALAR.countNonFinite(x, n), "scalar n=" + n);
            assertEquals(0, v.countNonFinite(x, n), v.name() + " n=" + n);
            int want = 0;
            for (int at = 0; at < n; at += 1 + at / 2) {
                x[at] = bad[want % bad.length];
                assertTrue(Formulas.isNonFinite(x[at]), "the definition of " + x[at]);
                want++;
                assertEquals(want, SCALAR.countNonFinite(x, n), "scalar n=" + n + " at=" + at);
                assertEquals(want, v.countNonFinite(x, n), v.name() + " n=" + n + " at=" + at);
            }
        }
    }

    static List<Kernels> all() {
        return Implementations.all();
    }

    /** The definition's values at [0, n), the slack filled as {@link #filled}. */
    static float[] defined(int n, IntToFloat f) {
        float[] a = filled(n + SLACK);
        for (int i = 0; i < n; i++) {
            a[i] = f.at(i);
        }
        return a;
    }

    interface IntToFloat {
        float at(int i);
    }

    static float[] filled(int length) {
        float[] a = new float[length];
        Arrays.fill(a, SENTINEL);
        return a;
    }

    static void assertSlackUntouched(float[] a, int n) {
        for (int i = n; i < a.length; i++) {
            if (Float.floatToRawIntBits(a[i]) != Float.floatToRawIntBits(SENTINEL)) {
                fail("element " + i + " beyond n=" + n + " was written");
            }
        }
    }

    static void assertSameBits(float[] expected, float[] actual, String what) {
        for (int i = 0; i < expected.length; i++) {
            int e = Float.floatToRawIntBits(expected[i]);
            int a = Float.floatToRawIntBits(actual[i]);
            if (e != a) {
                fail(what + ": element " + i + " expected 0x" + Integer.toHexString(e) + " but was 0x" + Integer.toHexString(a));
            }
        }
    }

    static void assertSameFloats(float[] expected, float[] actual, String what) {
        for (int i = 0; i < expected.length; i++) {
            float e = expected[i];
            float a = actual[i];
            boolean same = Float.isNaN(e) ? Float.isNaN(a) : Float.floatToRawIntBits(e) == Float.floatToRawIntBits(a);
            if (!same) {
                fail(what + ": element " + i + " expected " + e + " (0x" + Integer.toHexString(Float.floatToRawIntBits(e))
                        + ") but was " + a + " (0x" + Integer.toHexString(Float.floatToRawIntBits(a)) + ")");
            }
        }
    }
}
