package ugm.core.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import ugm.core.DType;

/**
 * {@link Kernels#gradientMatchingDirect}, scalar and every vector width, against the general
 * path it stands in for (scalar decode of each input in its dtype, {@link Kernels#gradientMatching},
 * encode): the same bytes where it accepts a range, and a refusal wherever the general path has
 * something to report or fall back on. Every operand's dtype is its own ({@link Layout}). Sizes
 * (up to 3 x 16 lanes and odd) and offsets hit every vector tail.
 */
class DirectKernelTest {
    static final int[] SIZES = {0, 1, 2, 7, 15, 16, 17, 33, 47, 49, 64, 207, 300, 513, 4097};
    static final int SLACK = 19; // elements before and after the range that must stay untouched
    static final Kernels SCALAR = Kernels.scalar();
    static final DType BF16 = DType.BF16;
    static final DType F16 = DType.F16;
    static final DType F32 = DType.F32;

    /**
     * The dtype of every operand: the base, the base Fisher, model t ({@code x[t % x.length]}),
     * Fisher t (likewise), the output.
     */
    record Layout(DType base, DType baseFisher, DType[] x, DType[] fisher, DType out) {
        static Layout all(DType type) {
            return new Layout(type, type, new DType[] {type}, new DType[] {type}, type);
        }

        DType x(int t) {
            return x[t % x.length];
        }

        DType fisher(int t) {
            return fisher[t % fisher.length];
        }

        @Override
        public String toString() {
            return "base " + base + " H0 " + baseFisher + " x " + java.util.Arrays.toString(x) + " H "
                    + java.util.Arrays.toString(fisher) + " out " + out;
        }
    }

    /** The common cases and some mixtures, every dtype in every position somewhere. */
    static final Layout[] LAYOUTS = {
        Layout.all(BF16), Layout.all(F16), Layout.all(F32),
        new Layout(BF16, F32, new DType[] {BF16}, new DType[] {F32}, BF16), // BF16 weights, F32 Fishers
        new Layout(BF16, F32, new DType[] {BF16}, new DType[] {BF16}, BF16), // an F32 base Fisher
        new Layout(F16, F32, new DType[] {F16}, new DType[] {F32}, F16),
        new Layout(F32, F32, new DType[] {F32}, new DType[] {F32}, BF16),
        new Layout(F32, BF16, new DType[] {F32}, new DType[] {F32}, F16),
        new Layout(F16, BF16, new DType[] {BF16, F16, F32}, new DType[] {F32, BF16, F16}, F32),
    };

    /** The inputs of one range, each encoded in its dtype at element offset {@code from}. */
    private record Encoded(Kernels.Operand base, Kernels.Operand baseFisher, Kernels.Operand[] x, Kernels.Operand[] fisher) {
    }

    @Test
    void acceptsFiniteRangesAndWritesTheGeneralPathsBytesIncludingTheHbarFallback() {
        int accepted = 0;
        int hbarZero = 0;
        try (Arena arena = Arena.ofConfined()) {
            for (Layout type : LAYOUTS) {
                for (int models = 1; models <= 5; models++) {
                    for (int n : SIZES) {
                        for (long from : new long[] {0, 3, 16}) {
                            // zeros: about one element in eight has every Fisher 0, so with delta0 = 0
                            // its Hbar is 0 and it takes the task-arithmetic value
                            boolean zeros = from != 3;
                            float delta0 = from == 0 ? 0f : 1e-12f;
                            MethodData d = MethodData.random(new SplittableRandom(n * 31L + models), models, n, zeros, false);
                            GradientMatching p = new GradientMatching(d.alphas, d.scales, 25_000f, delta0, false, 1f);
                            if (delta0 == 0f) {
                                hbarZero += allFishersZero(d);
                            }
                            Encoded in = encode(arena, type, d, from, n);
                            for (boolean withBaseFisher : new boolean[] {true, false}) {
                                Kernels.Operand h0 = withBaseFisher ? in.baseFisher : null;
                                MemorySegment expected = general(arena, type, p, in, h0, from, n);
                                for (Kernels k : Implementations.all()) {
                                    String what = k.name() + " " + type + " T=" + models + " n=" + n + " from=" + from
                                            + " H0=" + withBaseFisher;
                                    MemorySegment out = sentinel(arena, type.out, from, n);
                                    assertEquals(0, k.gradientMatchingDirect(p, in.base, h0, in.x, in.fisher,
                                            new Kernels.Operand(out, type.out), from, n), what + ": refused a finite range");
                                    assertSameBytes(expected, out, what);
                                    accepted++;
                                }
                            }
                        }
                    }
                }
            }
        }
        assertTrue(accepted > 10_000);
        assertTrue(hbarZero > 100, "the task-arithmetic fallback was exercised " + hbarZero + " times");
    }

    private static int allFishersZero(MethodData d) {
        int count = 0;
        for (int i = 0; i < d.base.length; i++) {
            boolean zero = d.baseFisher[i] == 0f;
            for (float[] f : d.fisher) {
                zero &= f[i] == 0f;
            }
            count += zero ? 1 : 0;
        }
        return count;
    }

    @Test
    void refusesRangesTheGeneralPathMustReportOrFallBackOn() {
        // (the kernels test no input for being finite: a NaN or an infinity must show in Hbar, the
        // numerator or theta wherever it stands, of a weight 0 too, and where Hbar is 0)
        String[] faults = {"NaN model", "infinite model", "infinite model of weight 0", "NaN model where Hbar is 0",
            "infinite base", "NaN base", "NaN base Fisher", "infinite base Fisher", "infinite Fisher", "NaN Fisher",
            "infinite Fisher of weight 0", "negative Fisher", "-0.0 Fisher", "beyond the output"};
        try (Arena arena = Arena.ofConfined()) {
            for (Layout type : LAYOUTS) {
                for (int n : new int[] {1, 15, 16, 17, 64, 300}) {
                    for (String fault : faults) {
                        SplittableRandom rnd = new SplittableRandom(n * 7L + fault.length());
                        MethodData d = MethodData.random(rnd, 3, n, false, false);
                        float[] alphas = d.alphas.clone();
                        if (fault.endsWith("of weight 0")) {
                            alphas[1] = 0f;
                        }
                        GradientMatching p = new GradientMatching(alphas, d.scales, 25_000f, fault.endsWith("Hbar is 0") ? 0f : 1e-12f,
                                false, 1f);
                        for (int at : new int[] {0, n / 2, n - 1}) { // in the vector body and in the tail
                            MethodData e = copy(d);
                            if (!inject(e, fault, at, type)) {
                                continue;
                            }
                            Encoded in = encode(arena, type, e, 0, n);
                            MemorySegment expected = general(arena, type, p, in, in.baseFisher, 0, n);
                            for (Kernels k : Implementations.all()) {
                                MemorySegment out = sentinel(arena, type.out, 0, n);
                                assertEquals(-1, k.gradientMatchingDirect(p, in.base, in.baseFisher, in.x, in.fisher,
                                        new Kernels.Operand(out, type.out), 0, n),
                                        k.name() + " " + type + " n=" + n + " accepted a range with a " + fault + " at " + at);
                            }
                            if (fault.equals("beyond the output")) { // what the general path then counts
                                float[] theta = new float[n];
                                SCALAR.decode(type.out, expected, 0, theta, n);
                                assertTrue(Float.isInfinite(theta[at]), type + ": " + theta[at]);
                            }
                        }
                    }
                }
            }
        }
    }

    /**
     * F16 output: results across F16's subnormals and normals up to its largest value, half of
     * them exactly halfway between two F16 values (ties go to even), and results that round to
     * F16's smallest normal or round up into the next binade.
     */
    @Test
    void roundsToF16AsTheGeneralPathDoes() {
        try (Arena arena = Arena.ofConfined()) {
            for (int n : new int[] {16, 49, 300, 4097}) {
                SplittableRandom rnd = new SplittableRandom(n);
                MethodData d = MethodData.random(rnd, 1, n, false, false);
                for (int i = 0; i < n; i++) {
                    // exponents -30 to 15: below F16's smallest subnormal (2^-24) up to its largest binade
                    int e = 127 - 30 + rnd.nextInt(46);
                    int mantissa = rnd.nextInt(0x80_0000);
                    if (rnd.nextBoolean()) {
                        mantissa = mantissa & ~0x1FFF | 0x1000; // a tie for the normals' 13 dropped bits
                    }
                    float v = Float.intBitsToFloat(e << 23 | mantissa);
                    d.x[0][i] = Math.min(rnd.nextBoolean() ? v : -v, 65504f);
                    d.base[i] = 0f;
                }
                d.x[0][0] = Math.nextDown(0x1p-14f); // rounds up to the smallest normal
                d.x[0][1] = 65519f; // rounds down to the largest finite value
                // one model, delta0 = 0, no base Fisher, and a Fisher of 1: theta = (s·1·a·x) / (s·1·a), exactly x
                java.util.Arrays.fill(d.fisher[0], 1f);
                GradientMatching p = new GradientMatching(new float[] {1f}, new float[] {1f}, 1f, 0f, false, 1f);
                Layout type = new Layout(F32, F32, new DType[] {F32}, new DType[] {F32}, F16);
                Encoded in = encode(arena, type, d, 0, n);
                MemorySegment expected = general(arena, type, p, in, null, 0, n);
                for (int i = 0; i < n; i++) {
                    assertEquals(Float.floatToFloat16(d.x[0][i]), expected.get(ValueLayout.JAVA_SHORT_UNALIGNED, 2L * i),
                            "the general path at " + i + ": " + d.x[0][i]);
                }
                for (Kernels k : Implementations.all()) {
                    MemorySegment out = sentinel(arena, F16, 0, n);
                    assertEquals(0, k.gradientMatchingDirect(p, in.base, null, in.x, in.fisher, new Kernels.Operand(out, F16), 0, n),
                            k.name() + " n=" + n);
                    assertSameBytes(expected, out, k.name() + " n=" + n);
                }
            }
        }
    }

    @Test
    void leavesOtherDtypesToTheGeneralPath() {
        try (Arena arena = Arena.ofConfined()) {
            MethodData d = MethodData.random(new SplittableRandom(5), 2, 64, false, false);
            Layout bf16 = Layout.all(BF16);
            Encoded in = encode(arena, bf16, d, 0, 64);
            Encoded f64 = encode(arena, Layout.all(DType.F64), d, 0, 64);
            GradientMatching merge = new GradientMatching(d.alphas, d.scales, 25_000f, 1e-12f, false, 1f);
            for (Kernels k : Implementations.all()) {
                Kernels.Operand out = new Kernels.Operand(sentinel(arena, BF16, 0, 64), BF16);
                assertEquals(-1, k.gradientMatchingDirect(merge, in.base, f64.baseFisher, in.x, in.fisher, out, 0, 64), k.name() + " F64 H0");
                assertEquals(-1, k.gradientMatchingDirect(merge, in.base, in.baseFisher, in.x, f64.fisher, out, 0, 64), k.name() + " F64 H");
                assertEquals(-1, k.gradientMatchingDirect(merge, in.base, in.baseFisher, in.x, in.fisher,
                        new Kernels.Operand(sentinel(arena, DType.F64, 0, 64), DType.F64), 0, 64), k.name() + " F64 out");
            }
        }
    }

    /**
     * Removal ({@code remove}) and merges with some negative weight, where the safeguard clamps Hbar
     * or falls back: where the kernel accepts a range it writes the general path's bytes and
     * returns the count the general path returns. It refuses only ranges where the general path
     * has something to do that the kernel does not: a clamp limit below the smallest normal float
     * (the careful twin), or a result the output dtype cannot hold (clamped removals do make
     * large results; the general path counts them).
     */
    @Test
    void removesTasksAsTheGeneralPathDoesAndCountsTheSameClamps() {
        long clamped = 0;
        long fellBack = 0;
        int accepted = 0;
        try (Arena arena = Arena.ofConfined()) {
            for (Layout type : LAYOUTS) {
                for (int models = 1; models <= 4; models++) {
                    for (int n : SIZES) {
                        for (long from : new long[] {0, 5}) {
                            MethodData d = MethodData.random(new SplittableRandom(n * 17L + models + from), models, n, true, false);
                            float[] signed = d.alphas.clone();
                            boolean remove = from == 0;
                            if (!remove) {
                                signed[0] = -signed[0]; // one task subtracted, the others added
                            }
                            // delta0 = 0: where the base Fisher is 0 the kept precision is too, and the fallback decides
                            float delta0 = models % 2 == 0 ? 0f : 1e-12f;
                            GradientMatching p = new GradientMatching(signed, d.scales, 25_000f, delta0, remove, 0.1f);
                            Encoded in = encode(arena, type, d, from, n);
                            for (boolean withBaseFisher : new boolean[] {true, false}) {
                                Kernels.Operand h0 = withBaseFisher ? in.baseFisher : null;
                                Decoded v = decode(in, h0, from, n);
                                float[] theta = new float[n];
                                long expectedCount = SCALAR.gradientMatching(p, v.base, v.baseFisher, v.x, v.fisher, theta, n);
                                boolean mayRefuse = tinyClampLimit(p, v.baseFisher, v.fisher, n) || beyond(theta, type.out);
                                fellBack += fallbacks(p, v.baseFisher, v.fisher, n);
                                MemorySegment expected = encoded(arena, type, theta, from, n);
                                for (Kernels k : Implementations.all()) {
                                    String what = k.name() + " " + type + " T=" + models + " n=" + n + " from=" + from
                                            + " H0=" + withBaseFisher + " remove=" + remove;
                                    MemorySegment out = sentinel(arena, type.out, from, n);
                                    long count = k.gradientMatchingDirect(p, in.base, h0, in.x, in.fisher,
                                            new Kernels.Operand(out, type.out), from, n);
                                    if (count < 0) {
                                        assertTrue(mayRefuse, what + ": refused a range the kernel can do");
                                        continue;
                                    }
                                    assertEquals(expectedCount, count, what + ": elements clamped or replaced");
                                    assertSameBytes(expected, out, what);
                                    accepted++;
                                    clamped += count;
                                }
                            }
                        }
                    }
                }
            }
        }
        assertTrue(accepted > 5_000, accepted + " ranges accepted");
        assertTrue(clamped > 10_000, "the safeguard acted on " + clamped + " elements of accepted ranges");
        assertTrue(fellBack > 100, "the fallback (kept precision not positive) was taken " + fellBack + " times");
    }

    /**
     * A clamp limit below the smallest normal float: every kernel refuses the range, wherever the
     * element stands (vector body, tail).
     */
    @Test
    void refusesAClampLimitBelowTheNormalFloats() {
        try (Arena arena = Arena.ofConfined()) {
            for (Layout type : new Layout[] {Layout.all(BF16), Layout.all(F32)}) {
                for (int n : new int[] {1, 17, 64, 300}) {
                    for (int at : new int[] {0, n / 2, n - 1}) {
                        MethodData d = MethodData.random(new SplittableRandom(n + at), 2, n, false, false);
                        // P0 = 1e-37 (kept precision), Hbar = 1e-37 - 0.5 x 1: clamped at 0.1 x 1e-37, a subnormal
                        d.baseFisher[at] = 1e-37f;
                        d.fisher[0][at] = 1f;
                        GradientMatching p = new GradientMatching(new float[] {0.5f, 0.5f}, new float[] {1f, 1f}, 1f, 0f, true, 0.1f);
                        Encoded in = encode(arena, type, d, 0, n);
                        for (Kernels k : Implementations.all()) {
                            assertEquals(-1, k.gradientMatchingDirect(p, in.base, in.baseFisher, in.x, in.fisher,
                                    new Kernels.Operand(sentinel(arena, type.out, 0, n), type.out), 0, n),
                                    k.name() + " " + type + " n=" + n + " at " + at);
                        }
                    }
                }
            }
        }
    }

    /** Whether some result is not finite or beyond what {@code type} holds. */
    private static boolean beyond(float[] theta, DType type) {
        for (float v : theta) {
            if (!Float.isFinite(v) || Math.abs(v) > Codecs.largestEncodable(type)) {
                return true;
            }
        }
        return false;
    }

    /** Whether some element's clamp limit (clampRel times the kept precision) is below the smallest normal float where it clamps. */
    private static boolean tinyClampLimit(GradientMatching p, float[] h0, float[][] fisher, int n) {
        for (int i = 0; i < n; i++) {
            double[] hk = hbarAndKept(p, h0, fisher, i);
            double lim = (float) hk[1] * p.clampRel();
            if (hk[1] > 0 && hk[0] < lim && lim < Float.MIN_NORMAL) {
                return true;
            }
        }
        return false;
    }

    /** How many elements take the fallback: kept precision and Hbar both not positive. */
    private static int fallbacks(GradientMatching p, float[] h0, float[][] fisher, int n) {
        int count = 0;
        for (int i = 0; i < n; i++) {
            double[] hk = hbarAndKept(p, h0, fisher, i);
            count += hk[1] <= 0 && hk[0] <= 0 ? 1 : 0;
        }
        return count;
    }

    /** Hbar and the kept precision of element i, in float as the kernels sum them (docs/method.md, "Removing tasks"). */
    private static double[] hbarAndKept(GradientMatching p, float[] h0, float[][] fisher, int i) {
        float p0 = h0 == null ? p.delta0() : p.delta0() + h0[i] * p.baseScale();
        float hbar = p0;
        float kept = p0;
        for (int t = 0; t < fisher.length; t++) {
            float hc = fisher[t][i] * p.fisherWeights()[t];
            hbar += hc;
            if (p.signedAlphas()[t] > 0f) {
                kept += hc;
            }
        }
        return new double[] {hbar, kept};
    }

    /** Puts the fault at element {@code at}; false where the layout cannot hold it. */
    private static boolean inject(MethodData d, String fault, int at, Layout type) {
        switch (fault) {
            case "NaN model" -> d.x[1][at] = Float.NaN;
            case "infinite model" -> d.x[0][at] = Float.POSITIVE_INFINITY;
            case "infinite model of weight 0" -> d.x[1][at] = Float.NEGATIVE_INFINITY;
            case "NaN model where Hbar is 0" -> { // delta0 = 0 and every Fisher 0: the task-arithmetic value
                d.baseFisher[at] = 0f;
                for (float[] f : d.fisher) {
                    f[at] = 0f;
                }
                d.x[2][at] = Float.NaN;
            }
            case "infinite base" -> d.base[at] = Float.NEGATIVE_INFINITY;
            case "NaN base" -> d.base[at] = Float.NaN;
            case "NaN base Fisher" -> d.baseFisher[at] = Float.NaN;
            case "infinite base Fisher" -> d.baseFisher[at] = Float.POSITIVE_INFINITY;
            case "infinite Fisher" -> d.fisher[2][at] = Float.POSITIVE_INFINITY;
            case "NaN Fisher" -> d.fisher[0][at] = Float.NaN;
            case "infinite Fisher of weight 0" -> d.fisher[1][at] = Float.POSITIVE_INFINITY;
            case "negative Fisher" -> d.fisher[0][at] = -1e-3f;
            case "-0.0 Fisher" -> d.fisher[1][at] = -0.0f;
            case "beyond the output" -> { // finite inputs whose result F16 cannot hold (every model equal to the base: theta = the base)
                if (type.out != F16 || type.base == F16 || type.x(0) == F16 || type.x(1) == F16 || type.x(2) == F16) {
                    return false;
                }
                d.base[at] = 70_000f;
                for (float[] xt : d.x) {
                    xt[at] = 70_000f;
                }
            }
            default -> throw new IllegalArgumentException(fault);
        }
        return true;
    }

    private static MethodData copy(MethodData d) {
        MethodData c = MethodData.random(new SplittableRandom(0), d.x.length, d.base.length, false, false);
        System.arraycopy(d.base, 0, c.base, 0, d.base.length);
        System.arraycopy(d.baseFisher, 0, c.baseFisher, 0, d.base.length);
        for (int t = 0; t < d.x.length; t++) {
            System.arraycopy(d.x[t], 0, c.x[t], 0, d.base.length);
            System.arraycopy(d.fisher[t], 0, c.fisher[t], 0, d.base.length);
        }
        return c;
    }

    /**
     * The general path over the encoded inputs (each decoded from its dtype), written in the
     * output dtype at element offset {@code from} of a sentinel-filled segment.
     */
    private static MemorySegment general(Arena arena, Layout type, GradientMatching p, Encoded in, Kernels.Operand h0,
                                         long from, int n) {
        Decoded v = decode(in, h0, from, n);
        float[] out = new float[n];
        SCALAR.gradientMatching(p, v.base, v.baseFisher, v.x, v.fisher, out, n);
        return encoded(arena, type, out, from, n);
    }

    /** The inputs of one range as the general path reads them: each decoded from its dtype; {@code baseFisher} null without one. */
    private record Decoded(float[] base, float[] baseFisher, float[][] x, float[][] fisher) {
    }

    private static Decoded decode(Encoded in, Kernels.Operand h0, long from, int n) {
        int models = in.x.length;
        float[][] x = new float[models][];
        float[][] fisher = new float[models][];
        for (int t = 0; t < models; t++) {
            x[t] = decode(in.x[t], from, n);
            fisher[t] = decode(in.fisher[t], from, n);
        }
        return new Decoded(decode(in.base, from, n), h0 == null ? null : decode(h0, from, n), x, fisher);
    }

    /** {@code theta} written in the output dtype at element offset {@code from} of a sentinel-filled segment. */
    private static MemorySegment encoded(Arena arena, Layout type, float[] theta, long from, int n) {
        MemorySegment s = sentinel(arena, type.out, from, n);
        SCALAR.encode(theta, n, type.out, s, from * type.out.byteWidth());
        return s;
    }

    private static float[] decode(Kernels.Operand in, long from, int n) {
        float[] v = new float[n];
        SCALAR.decode(in.type(), in.data(), from * in.type().byteWidth(), v, n);
        return v;
    }

    private static Encoded encode(Arena arena, Layout type, MethodData d, long from, int n) {
        Kernels.Operand[] x = new Kernels.Operand[d.x.length];
        Kernels.Operand[] fisher = new Kernels.Operand[d.x.length];
        for (int t = 0; t < x.length; t++) {
            x[t] = encode(arena, type.x(t), d.x[t], from, n);
            fisher[t] = encode(arena, type.fisher(t), d.fisher[t], from, n);
        }
        return new Encoded(encode(arena, type.base, d.base, from, n), encode(arena, type.baseFisher, d.baseFisher, from, n), x, fisher);
    }

    private static Kernels.Operand encode(Arena arena, DType type, float[] values, long from, int n) {
        return new Kernels.Operand(encodeValues(arena, type, values, from, n), type);
    }

    /** {@code values[0, n)} encoded at element offset {@code from}; elements around them hold other finite values. */
    static MemorySegment encodeValues(Arena arena, DType type, float[] values, long from, int n) {
        long elements = from + n + SLACK;
        MemorySegment s = arena.allocate(elements * type.byteWidth(), 8);
        float[] filler = new float[(int) elements];
        java.util.Arrays.fill(filler, 0.25f);
        SCALAR.encode(filler, filler.length, type, s, 0);
        SCALAR.encode(values, n, type, s, from * type.byteWidth());
        return s;
    }

    static MemorySegment sentinel(Arena arena, DType type, long from, int n) {
        MemorySegment s = arena.allocate((from + n + SLACK) * type.byteWidth(), 8);
        s.fill((byte) 0x5A);
        return s;
    }

    static void assertSameBytes(MemorySegment expected, MemorySegment actual, String what) {
        assertEquals(expected.byteSize(), actual.byteSize());
        long at = expected.mismatch(actual);
        if (at >= 0) {
            fail(what + ": first differing byte " + at + ": expected " + expected.get(ValueLayout.JAVA_BYTE, at)
                    + " but was " + actual.get(ValueLayout.JAVA_BYTE, at));
        }
    }
}
