package ugm.core.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import ugm.core.DType;

/**
 * {@link Kernels#linearDirect} and {@link Kernels#taskArithmeticDirect}, scalar and every vector
 * width, against the general path they stand in for (scalar decode of each input in its dtype,
 * {@link Kernels#linear} or {@link Kernels#taskArithmetic}, encode): the same bytes where they
 * accept a range, and a refusal wherever the general path has something to count or compute in
 * double. Every operand's dtype is its own ({@link Layout}); sizes and offsets hit every vector tail.
 */
class LinearDirectKernelTest {
    static final int[] SIZES = {0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 33, 47, 49, 63, 64, 65, 207, 300, 513, 4097};
    static final int SLACK = DirectKernelTest.SLACK; // elements before and after the range that must stay untouched
    static final Kernels SCALAR = Kernels.scalar();
    static final DType BF16 = DType.BF16;
    static final DType F16 = DType.F16;
    static final DType F32 = DType.F32;

    /** The dtype of the base, of model t ({@code x[t % x.length]}) and of the output. */
    record Layout(DType base, DType[] x, DType out) {
        static Layout all(DType type) {
            return new Layout(type, new DType[] {type}, type);
        }

        DType x(int t) {
            return x[t % x.length];
        }

        boolean anyF16Input() {
            return base == F16 || Arrays.asList(x).contains(F16);
        }

        @Override
        public String toString() {
            return "base " + base + " x " + Arrays.toString(x) + " out " + out;
        }
    }

    static final Layout[] LAYOUTS = {
        Layout.all(BF16), Layout.all(F16), Layout.all(F32),
        new Layout(BF16, new DType[] {BF16}, F32),
        new Layout(F32, new DType[] {F32}, BF16),
        new Layout(F32, new DType[] {F32}, F16),
        new Layout(F16, new DType[] {BF16, F16, F32}, BF16),
        new Layout(BF16, new DType[] {F32, F16}, F16),
        new Layout(F16, new DType[] {F16, BF16}, F32),
    };

    /** The operands of one range, each encoded in its dtype at element offset {@code from}. */
    private record Encoded(Kernels.Operand base, Kernels.Operand[] x) {
    }

    /** Inputs: base and models near 0 at many magnitudes (F16 subnormals too), signed zeros; coefficients of both signs, and 0. */
    private static float[][] data(SplittableRandom rnd, int models, int n) {
        float[][] v = new float[models + 1][n]; // v[0]: the base
        for (int i = 0; i < n; i++) {
            double scale = Math.pow(10, -rnd.nextInt(7));
            v[0][i] = (float) (rnd.nextGaussian() * 0.02 * scale);
            for (int t = 1; t <= models; t++) {
                v[t][i] = v[0][i] + (float) (rnd.nextGaussian() * 1e-3 * scale);
                if (rnd.nextInt(50) == 0) {
                    v[t][i] = rnd.nextBoolean() ? 0f : -0f;
                }
            }
            if (rnd.nextInt(50) == 0) {
                v[0][i] = rnd.nextBoolean() ? 0f : -0f;
            }
        }
        return v;
    }

    private static float[] coefficients(SplittableRandom rnd, int models) {
        float[] w = new float[models];
        for (int t = 0; t < models; t++) {
            w[t] = rnd.nextInt(7) == 0 ? 0f : (float) (rnd.nextDouble() * 2 - 0.7);
        }
        return w;
    }

    @Test
    void acceptsFiniteRangesAndWritesTheGeneralPathsBytes() {
        int accepted = 0;
        try (Arena arena = Arena.ofConfined()) {
            for (Layout type : LAYOUTS) {
                for (int models = 1; models <= 5; models++) {
                    for (int n : SIZES) {
                        for (long from : new long[] {0, 3, 16}) {
                            SplittableRandom rnd = new SplittableRandom(n * 31L + models * 7L + from);
                            float[][] v = data(rnd, models, n);
                            float[] w = coefficients(rnd, models);
                            Encoded in = encode(arena, type, v, from, n);
                            for (boolean withBase : new boolean[] {false, true}) {
                                MemorySegment expected = general(arena, type, in, w, withBase, from, n);
                                for (Kernels k : Implementations.all()) {
                                    String what = k.name() + " " + type + " T=" + models + " n=" + n + " from=" + from
                                            + (withBase ? " task arithmetic" : " linear");
                                    MemorySegment out = DirectKernelTest.sentinel(arena, type.out, from, n);
                                    assertTrue(direct(k, in, w, withBase, new Kernels.Operand(out, type.out), from, n),
                                            what + ": refused a finite range");
                                    DirectKernelTest.assertSameBytes(expected, out, what);
                                    accepted++;
                                }
                            }
                        }
                    }
                }
            }
        }
        assertTrue(accepted > 5_000, accepted + " ranges");
    }

    /** Removal negates the alphas: the same kernel, negative coefficients (here all of them). */
    @Test
    void removalIsTheSameKernelWithNegatedAlphas() {
        try (Arena arena = Arena.ofConfined()) {
            for (Layout type : LAYOUTS) {
                SplittableRandom rnd = new SplittableRandom(11);
                float[][] v = data(rnd, 3, 300);
                float[] a = {-0.5f, -1f, -0.25f};
                Encoded in = encode(arena, type, v, 0, 300);
                MemorySegment expected = general(arena, type, in, a, true, 0, 300);
                for (Kernels k : Implementations.all()) {
                    MemorySegment out = DirectKernelTest.sentinel(arena, type.out, 0, 300);
                    assertTrue(direct(k, in, a, true, new Kernels.Operand(out, type.out), 0, 300), k.name() + " " + type);
                    DirectKernelTest.assertSameBytes(expected, out, k.name() + " " + type);
                }
            }
        }
    }

    /**
     * Against an independent evaluation in double of the decoded inputs: sum_t w_t x_t, and
     * b + sum_t a_t (x_t - b), within the float rounding of T + 1 operations on the terms' sizes
     * and the output's half ulp.
     */
    @Test
    void agreesWithADoubleEvaluation() {
        try (Arena arena = Arena.ofConfined()) {
            for (Layout type : LAYOUTS) {
                int n = 4097;
                int models = 5;
                SplittableRandom rnd = new SplittableRandom(99);
                float[][] v = data(rnd, models, n);
                float[] w = coefficients(rnd, models);
                Encoded in = encode(arena, type, v, 0, n);
                double[] b = decodeDouble(in.base, n);
                double[][] x = new double[models][];
                for (int t = 0; t < models; t++) {
                    x[t] = decodeDouble(in.x[t], n);
                }
                for (boolean withBase : new boolean[] {false, true}) {
                    for (Kernels k : Implementations.all()) {
                        MemorySegment out = DirectKernelTest.sentinel(arena, type.out, 0, n);
                        assertTrue(direct(k, in, w, withBase, new Kernels.Operand(out, type.out), 0, n));
                        double[] got = decodeDouble(new Kernels.Operand(out, type.out), n);
                        for (int i = 0; i < n; i++) {
                            double exact = withBase ? b[i] : 0;
                            double size = Math.abs(exact);
                            for (int t = 0; t < models; t++) {
                                double term = w[t] * (withBase ? x[t][i] - b[i] : x[t][i]);
                                exact += term;
                                size += Math.abs(term) + (withBase ? Math.abs(w[t] * b[i]) : 0);
                            }
                            double tolerance = (models + 2) * size * 0x1p-23 + halfUlp(type.out, exact);
                            assertEquals(exact, got[i], tolerance, k.name() + " " + type + " at " + i + (withBase ? " with base" : ""));
                        }
                    }
                }
            }
        }
    }

    /** Half the spacing of {@code type}'s values near v, F16's subnormals included (and a margin for v's own rounding). */
    private static double halfUlp(DType type, double v) {
        int mantissa = type == BF16 ? 7 : type == F16 ? 10 : 23;
        double smallest = type == F16 ? 0x1p-14 : Float.MIN_NORMAL;
        return Math.scalb(Math.max(Math.abs(v), smallest), -mantissa) * 0.51 + Float.MIN_VALUE;
    }

    @Test
    void refusesRangesTheGeneralPathMustCountOrComputeInDouble() {
        String[] faults = {"NaN model", "infinite model", "infinite model of weight 0", "NaN base", "infinite base",
            "overflow", "beyond F16", "beyond BF16"};
        int refused = 0;
        try (Arena arena = Arena.ofConfined()) {
            for (Layout type : LAYOUTS) {
                for (int n : new int[] {1, 15, 16, 17, 64, 300}) {
                    for (String fault : faults) {
                        for (boolean withBase : new boolean[] {false, true}) {
                            if (fault.endsWith("base") && !withBase) {
                                continue;
                            }
                            SplittableRandom rnd = new SplittableRandom(n * 7L + fault.length());
                            for (int at : new int[] {0, n / 2, n - 1}) { // in the vector body and in the tail
                                float[][] v = data(rnd, 3, n);
                                float[] w = {0.5f, 0.3f, 0.2f};
                                if (!inject(v, w, fault, at, type)) {
                                    continue;
                                }
                                Encoded in = encode(arena, type, v, 0, n);
                                MemorySegment expected = general(arena, type, in, w, withBase, 0, n);
                                for (Kernels k : Implementations.all()) {
                                    MemorySegment out = DirectKernelTest.sentinel(arena, type.out, 0, n);
                                    assertFalse(direct(k, in, w, withBase, new Kernels.Operand(out, type.out), 0, n),
                                            k.name() + " " + type + " n=" + n + (withBase ? " task arithmetic" : " linear")
                                                    + " accepted a range with " + fault + " at " + at);
                                    refused++;
                                }
                                float theta = decode(new Kernels.Operand(expected, type.out), 0, n)[at];
                                if (fault.equals("overflow")) { // the general path's double evaluation: finite, where float overflowed
                                    assertTrue(Float.isFinite(theta) || type.out != F32, type + ": " + theta);
                                } else if (fault.startsWith("beyond")) { // what the general path counts
                                    assertTrue(Float.isInfinite(theta), type + " " + fault + ": " + theta);
                                }
                            }
                        }
                    }
                }
            }
        }
        assertTrue(refused > 1000, refused + " refusals");
    }

    /** Puts the fault at element {@code at} (and sets the coefficients it needs); false where the layout cannot hold it. */
    private static boolean inject(float[][] v, float[] w, String fault, int at, Layout type) {
        float[] b = v[0];
        switch (fault) {
            case "NaN model" -> v[2][at] = Float.NaN;
            case "infinite model" -> v[3][at] = Float.POSITIVE_INFINITY;
            case "infinite model of weight 0" -> {
                v[1][at] = Float.NEGATIVE_INFINITY;
                w[0] = 0f; // 0·inf is NaN: declined all the same
            }
            case "NaN base" -> b[at] = Float.NaN;
            case "infinite base" -> b[at] = Float.NEGATIVE_INFINITY;
            case "overflow" -> { // finite inputs whose float sum overflows, though the exact result is finite
                b[at] = 0f;
                if (type.x(0) != F16 && type.x(1) != F16 && type.x(2) != F16) {
                    w[0] = w[1] = w[2] = 1f;
                    v[1][at] = 3e38f; // 3e38 + 3e38 = inf in float; - 3e38: 3e38 exactly
                    v[2][at] = 3e38f;
                    v[3][at] = -3e38f;
                } else if (type.out == F32) {
                    w[0] = w[1] = w[2] = 2e34f; // 2e34·60000 overflows in float, and inf - inf is NaN
                    v[1][at] = 60000f;
                    v[2][at] = -60000f;
                    v[3][at] = 1f;
                } else {
                    return false;
                }
            }
            case "beyond F16" -> { // finite inputs whose result F16 cannot hold (with a base: theta = the base)
                if (type.out != F16 || type.anyF16Input()) {
                    return false;
                }
                b[at] = 70_000f;
                for (int t = 1; t < v.length; t++) {
                    v[t][at] = 70_000f;
                }
                w[0] = 0.5f;
                w[1] = 0.5f;
                w[2] = 0.25f;
            }
            case "beyond BF16" -> { // a finite float result that rounds to BF16's infinity
                if (type.out != BF16 || type.base != F32 || type.x(0) != F32) {
                    return false;
                }
                b[at] = 3.4e38f;
                for (int t = 1; t < v.length; t++) {
                    v[t][at] = 3.4e38f;
                }
                w[0] = 0.5f;
                w[1] = 0.25f;
                w[2] = 0.25f;
            }
            default -> throw new IllegalArgumentException(fault);
        }
        return true;
    }

    @Test
    void leavesOtherDtypesToTheGeneralPath() {
        try (Arena arena = Arena.ofConfined()) {
            SplittableRandom rnd = new SplittableRandom(5);
            float[][] v = data(rnd, 2, 64);
            float[] w = {0.5f, 0.5f};
            Encoded in = encode(arena, Layout.all(BF16), v, 0, 64);
            Encoded f64 = encode(arena, Layout.all(DType.F64), v, 0, 64);
            for (Kernels k : Implementations.all()) {
                Kernels.Operand out = new Kernels.Operand(DirectKernelTest.sentinel(arena, BF16, 0, 64), BF16);
                Kernels.Operand[] mixed = {in.x[0], f64.x[1]};
                assertFalse(k.linearDirect(mixed, w, out, 0, 64), k.name() + " F64 model");
                assertFalse(k.taskArithmeticDirect(f64.base, in.x, w, out, 0, 64), k.name() + " F64 base");
                assertFalse(k.taskArithmeticDirect(in.base, in.x, w, new Kernels.Operand(DirectKernelTest.sentinel(arena, DType.F64, 0, 64), DType.F64),
                        0, 64), k.name() + " F64 out");
                assertTrue(k.linearDirect(in.x, w, out, 0, 64), k.name());
            }
        }
    }

    private static boolean direct(Kernels k, Encoded in, float[] w, boolean withBase, Kernels.Operand out, long from, int n) {
        return withBase ? k.taskArithmeticDirect(in.base, in.x, w, out, from, n) : k.linearDirect(in.x, w, out, from, n);
    }

    /** The general path over the encoded inputs, written in the output dtype at element offset {@code from} of a sentinel-filled segment. */
    private static MemorySegment general(Arena arena, Layout type, Encoded in, float[] w, boolean withBase, long from, int n) {
        float[][] x = new float[in.x.length][];
        for (int t = 0; t < x.length; t++) {
            x[t] = decode(in.x[t], from, n);
        }
        float[] out = new float[n];
        if (withBase) {
            SCALAR.taskArithmetic(decode(in.base, from, n), x, w, out, n);
        } else {
            SCALAR.linear(x, w, out, n);
        }
        MemorySegment expected = DirectKernelTest.sentinel(arena, type.out, from, n);
        SCALAR.encode(out, n, type.out, expected, from * type.out.byteWidth());
        return expected;
    }

    private static float[] decode(Kernels.Operand in, long from, int n) {
        float[] v = new float[n];
        SCALAR.decode(in.type(), in.data(), from * in.type().byteWidth(), v, n);
        return v;
    }

    private static double[] decodeDouble(Kernels.Operand in, int n) {
        float[] f = decode(in, 0, n);
        double[] d = new double[n];
        for (int i = 0; i < n; i++) {
            d[i] = f[i];
        }
        return d;
    }

    private static Encoded encode(Arena arena, Layout type, float[][] v, long from, int n) {
        Kernels.Operand[] x = new Kernels.Operand[v.length - 1];
        for (int t = 0; t < x.length; t++) {
            x[t] = new Kernels.Operand(DirectKernelTest.encodeValues(arena, type.x(t), v[t + 1], from, n), type.x(t));
        }
        return new Encoded(new Kernels.Operand(DirectKernelTest.encodeValues(arena, type.base, v[0], from, n), type.base), x);
    }
}
