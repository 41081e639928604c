package ugm.core.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import ugm.core.DType;

/**
 * Finite inputs whose float arithmetic overflows on the way (Fishers near 3e38, scales of 2e38,
 * values near the float maximum of opposite signs, coefficients of 3e38, a removal clamp of
 * 1e-40, negative weights): every implementation gives the scalar twin's bits, on sizes that hit
 * every vector tail, with overflowing elements among ordinary ones; and the values are those of
 * {@link DoubleReference}, a double-precision evaluation written in the tests: finite wherever the
 * exact result is within the float range, an infinity of the right sign where it is beyond, and
 * never NaN.
 */
class OverflowTest {
    static final int[] SIZES = TwinTest.SIZES;
    static final int SLACK = TwinTest.SLACK;
    static final Kernels SCALAR = Kernels.scalar();

    static List<Kernels> vectors() {
        return Implementations.vectors();
    }

    static List<Kernels> all() {
        return Implementations.all();
    }

    /** Magnitudes that overflow float products and sums, mixed with ordinary ones. */
    private static final float[] HUGE = {3e38f, 2.9e38f, 2e38f, 1.5e38f, 1e38f, 3.4e38f, Float.MAX_VALUE};

    /**
     * Inputs where about half of the elements overflow some float intermediate: values near the
     * float maximum of both signs, Fishers near it, tiny task deltas under huge Fishers (Hbar
     * overflows while the result does not), exact zeros; {@code nonFinite} adds a few NaN and
     * infinite inputs, which must still pass through.
     */
    static MethodData data(SplittableRandom rnd, int models, int length, boolean nonFinite) {
        MethodData d = MethodData.random(rnd, models, length, true, false);
        for (int i = 0; i < length; i++) {
            switch (rnd.nextInt(8)) {
                case 0 -> { // opposite values near the maximum: x - b overflows
                    d.base[i] = -pick(rnd);
                    for (int t = 0; t < models; t++) {
                        d.x[t][i] = rnd.nextBoolean() ? pick(rnd) : d.base[i] + (float) rnd.nextGaussian();
                    }
                }
                case 1 -> { // Fishers near the maximum: s_t * H_t and the sums overflow
                    for (int t = 0; t < models; t++) {
                        d.fisher[t][i] = rnd.nextBoolean() ? pick(rnd) : d.fisher[t][i];
                    }
                    d.baseFisher[i] = rnd.nextBoolean() ? pick(rnd) : 0f;
                }
                case 2 -> { // every Fisher huge, deltas tiny: Hbar overflows, the result is ordinary
                    for (int t = 0; t < models; t++) {
                        d.fisher[t][i] = pick(rnd);
                    }
                }
                case 3 -> { // values near the maximum, one sign: sums overflow
                    float sign = rnd.nextBoolean() ? 1f : -1f;
                    d.base[i] = sign * pick(rnd) * 0.5f;
                    for (int t = 0; t < models; t++) {
                        d.x[t][i] = sign * pick(rnd);
                        d.fisher[t][i] = pick(rnd);
                    }
                }
                default -> {
                }
            }
            if (nonFinite && rnd.nextInt(53) == 0) {
                float[] odd = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY};
                d.x[rnd.nextInt(models)][i] = odd[rnd.nextInt(odd.length)];
            }
        }
        return d;
    }

    private static float pick(SplittableRandom rnd) {
        return HUGE[rnd.nextInt(HUGE.length)] * (rnd.nextBoolean() ? 1f : 0.999f);
    }

    /** The parameter sets of gradient matching: ordinary, huge scales, removal, a clamp of 1e-40, negative weights. */
    static List<GradientMatching> gradientMatchings(MethodData d) {
        int models = d.alphas.length;
        float[] hugeScales = new float[models];
        float[] mixed = d.alphas.clone();
        float[] negative = d.alphas.clone();
        for (int t = 0; t < models; t++) {
            hugeScales[t] = t % 2 == 0 ? 2e38f : d.scales[t];
            mixed[t] = t % 2 == 1 ? -mixed[t] : mixed[t];
            negative[t] = -negative[t];
        }
        return List.of(
                new GradientMatching(d.alphas, d.scales, 25_000f, 1e-12f, false, 0.1f),
                new GradientMatching(d.alphas, hugeScales, 2e38f, 0f, false, 0.1f),
                new GradientMatching(d.alphas, d.scales, 25_000f, 1e-3f, true, 0.1f),
                new GradientMatching(d.alphas, d.scales, 25_000f, 1e-3f, true, 1e-40f),
                new GradientMatching(mixed, d.scales, 25_000f, 1e-12f, false, 0.1f),
                new GradientMatching(mixed, d.scales, 1f, 0f, false, 0.1f),
                new GradientMatching(negative, hugeScales, 25_000f, 0f, false, 0.25f));
    }

    // ---- vector lanes against the scalar twin ----------------------------------------------------

    @ParameterizedTest
    @MethodSource("vectors")
    void everyMethodMatchesItsScalarTwinWhereFloatArithmeticOverflows(Kernels v) {
        for (int models = 1; models <= 4; models++) {
            for (int n : SIZES) {
                MethodData d = data(new SplittableRandom(n * 59L + models), models, n + SLACK, n % 2 == 1);
                float[] weights = d.signedWeights.clone();
                weights[0] = 2f; // doubles values near the maximum
                String at = " T=" + models + " n=" + n;
                twin(v, "linear" + at, (k, out) -> k.linear(d.x, weights, out, n), n);
                twin(v, "task arithmetic" + at, (k, out) -> k.taskArithmetic(d.base, d.x, weights, out, n), n);
                twin(v, "fisher" + at, (k, out) -> k.fisher(d.x, d.fisher, d.alphas, d.scales, 0f, out, n), n);
                twin(v, "fisher with base" + at,
                        (k, out) -> k.fisherWithBase(d.base, d.baseFisher, 2f, d.x, d.fisher, d.alphas, d.scales, 1e-30f, out, n), n);
                for (GradientMatching p : gradientMatchings(d)) {
                    for (float[] h0 : new float[][] {null, d.baseFisher}) {
                        String what = "gradient matching" + at + " remove=" + p.remove() + " clamp=" + p.clampRel() + " s0="
                                + p.baseScale() + " alphas=" + java.util.Arrays.toString(p.alphas()) + " H0=" + (h0 != null);
                        float[] expected = TwinTest.filled(n + SLACK);
                        float[] actual = TwinTest.filled(n + SLACK);
                        long expectedCount = SCALAR.gradientMatching(p, d.base, h0, d.x, d.fisher, expected, n);
                        long actualCount = v.gradientMatching(p, d.base, h0, d.x, d.fisher, actual, n);
                        TwinTest.assertSameFloats(expected, actual, v.name() + " " + what);
                        assertEquals(expectedCount, actualCount, v.name() + " " + what + ": clamped count");
                        TwinTest.assertSlackUntouched(actual, n);
                    }
                }
            }
        }
    }

    private interface Call {
        void run(Kernels k, float[] out);
    }

    private static void twin(Kernels v, String what, Call call, int n) {
        float[] expected = TwinTest.filled(n + SLACK);
        float[] actual = TwinTest.filled(n + SLACK);
        call.run(SCALAR, expected);
        call.run(v, actual);
        TwinTest.assertSameFloats(expected, actual, v.name() + " " + what);
        TwinTest.assertSlackUntouched(actual, n);
    }

    // ---- values against the double-precision evaluation --------------------------------------

    @Test
    void finiteInputsGiveTheDoubleEvaluationFiniteWhereverItIsWithinTheFloatRange() {
        DoubleReference ref = new DoubleReference();
        int careful = 0;
        int beyond = 0;
        for (int models = 1; models <= 4; models++) {
            int n = 4097;
            MethodData d = data(new SplittableRandom(7 + models), models, n, false);
            float[] weights = d.signedWeights.clone();
            weights[0] = 2f;
            float[] out = new float[n];
            SCALAR.linear(d.x, weights, out, n);
            for (int i = 0; i < n; i++) {
                beyond += check("linear T=" + models, i, ref.linear(d.x, weights, i), ref.scale, out[i]);
            }
            SCALAR.taskArithmetic(d.base, d.x, weights, out, n);
            for (int i = 0; i < n; i++) {
                beyond += check("task arithmetic T=" + models, i, ref.taskArithmetic(d.base, d.x, weights, i), ref.scale, out[i]);
            }
            SCALAR.fisher(d.x, d.fisher, d.alphas, d.scales, 0f, out, n);
            for (int i = 0; i < n; i++) {
                beyond += check("fisher T=" + models, i, ref.fisher(d.x, d.fisher, d.alphas, d.scales, 0f, i), ref.scale, out[i]);
            }
            SCALAR.fisherWithBase(d.base, d.baseFisher, 2f, d.x, d.fisher, d.alphas, d.scales, 1e-30f, out, n);
            for (int i = 0; i < n; i++) {
                beyond += check("fisher with base T=" + models, i,
                        ref.fisherWithBase(d.base, d.baseFisher, 2f, d.x, d.fisher, d.alphas, d.scales, 1e-30f, i), ref.scale, out[i]);
            }
            for (GradientMatching p : gradientMatchings(d)) {
                for (float[] h0 : new float[][] {null, d.baseFisher}) {
                    String what = "gradient matching T=" + models + " remove=" + p.remove() + " clamp=" + p.clampRel()
                            + " alphas=" + java.util.Arrays.toString(p.alphas()) + " H0=" + (h0 != null);
                    long clamped = SCALAR.gradientMatching(p, d.base, h0, d.x, d.fisher, out, n);
                    long expectedClamped = 0;
                    long borderline = 0;
                    for (int i = 0; i < n; i++) {
                        double want = ref.gradientMatching(p, d.base, h0, d.x, d.fisher, i);
                        beyond += check(what, i, want, ref.scale, out[i]);
                        expectedClamped += ref.replaced ? 1 : 0;
                        borderline += ref.clampMargin < 1e-5 ? 1 : 0;
                        careful += overflowsInFloat(p, d, h0, i) ? 1 : 0;
                    }
                    if (Math.abs(clamped - expectedClamped) > borderline) {
                        fail(what + ": clamped " + clamped + " elements, expected " + expectedClamped);
                    }
                }
            }
        }
        assertTrue(careful > 1000, "elements whose float Hbar overflows: " + careful);
        assertTrue(beyond > 1000, "results beyond the float range: " + beyond);
    }

    /** Whether s_t * H_t, summed into Hbar in float, overflows at element i (a proxy for "the float path cannot be used"). */
    private static boolean overflowsInFloat(GradientMatching p, MethodData d, float[] h0, int i) {
        float hbar = p.delta0() + (h0 == null ? 0f : h0[i] * p.baseScale());
        for (int t = 0; t < d.x.length; t++) {
            hbar += d.fisher[t][i] * (p.scales()[t] * Math.abs(p.alphas()[t]));
        }
        return Float.isInfinite(hbar);
    }

    /**
     * One element against the double evaluation: within the float range (with a margin for
     * rounding) it must be finite and within 1e-5 of the summed terms' magnitude; beyond it, an
     * infinity of the same sign; never NaN. Returns 1 for a result beyond the float range.
     */
    private static int check(String what, int i, double want, double scale, float got) {
        assertFalse(Double.isNaN(want), what + ": the reference is NaN at " + i);
        if (Float.isNaN(got)) {
            fail(what + ": element " + i + " is NaN; the exact result is " + want);
        }
        double max = Float.MAX_VALUE;
        if (Math.abs(want) > max * (1 + 1e-6)) {
            if (got != (want > 0 ? Float.POSITIVE_INFINITY : Float.NEGATIVE_INFINITY)) {
                fail(what + ": element " + i + " is " + got + "; the exact result " + want + " is beyond the float range");
            }
            return 1;
        }
        if (Math.abs(want) < max * (1 - 1e-5)) {
            if (!Float.isFinite(got)) {
                fail(what + ": element " + i + " is " + got + "; the exact result " + want + " is a float");
            }
            double tolerance = 1e-5 * scale + Float.MIN_NORMAL;
            if (Math.abs(got - want) > tolerance) {
                fail(what + ": element " + i + " is " + got + ", expected " + want + " ± " + tolerance);
            }
        }
        return 0;
    }

    // ---- the direct kernel ------------------------------------------------------------------

    /**
     * The direct kernel declines every range where the float formula overflows (the general path
     * computes it carefully and reports what the output cannot hold) or a result rounds beyond the
     * output dtype; it takes ranges where a task is subtracted (a negative weight: the safeguard);
     * it accepts the same ranges once the overflowing element is ordinary again.
     */
    @Test
    void theDirectKernelLeavesOverflowToTheGeneralPath() {
        try (Arena arena = Arena.ofConfined()) {
            for (DType type : new DType[] {DType.BF16, DType.F32}) {
                for (int n : new int[] {1, 7, 15, 16, 17, 64, 300, 513}) {
                    MethodData d = MethodData.random(new SplittableRandom(n), 3, n, false, false);
                    GradientMatching p = new GradientMatching(d.alphas, d.scales, 25_000f, 1e-12f, false, 0.1f);
                    float[] negative = d.alphas.clone();
                    negative[1] = -negative[1];
                    GradientMatching subtract = new GradientMatching(negative, d.scales, 25_000f, 1e-12f, false, 0.1f);
                    for (Kernels k : all()) {
                        assertTrue(direct(arena, k, type, p, d, n), k.name() + " " + type + " n=" + n + ": an ordinary range");
                        assertTrue(direct(arena, k, type, subtract, d, n), k.name() + " " + type + " n=" + n + ": a negative weight");
                    }
                    for (int at : new int[] {0, n / 2, n - 1}) {
                        for (String fault : new String[] {"Hbar", "result", "rounding"}) {
                            MethodData e = MethodData.random(new SplittableRandom(n), 3, n, false, false);
                            switch (fault) {
                                case "Hbar" -> { // three Fishers of 3e38 add up past the maximum; the result stays ordinary
                                    for (int t = 0; t < 3; t++) {
                                        e.fisher[t][at] = 3e38f;
                                    }
                                }
                                case "result" -> { // the deltas themselves overflow
                                    e.base[at] = -3e38f;
                                    e.x[0][at] = 3e38f;
                                    e.x[1][at] = 3e38f;
                                }
                                default -> { // a finite float result that rounds to the BF16 infinity (F32 keeps it)
                                    e.base[at] = Float.intBitsToFloat(0x7F7E_0000); // BF16 values both: 254/128 and 255/128 × 2^127
                                    for (int t = 0; t < 3; t++) {
                                        e.fisher[t][at] = 0f; // Hbar = P0: theta = b + (1 + 0.5 + 0.25) × 2^120 = 255.75/128 × 2^127
                                        e.x[t][at] = Float.intBitsToFloat(0x7F7F_0000); // BF16 rounds up from 255.5/128 × 2^127
                                    }
                                }
                            }
                            GradientMatching q = new GradientMatching(new float[] {1f, 0.5f, 0.25f}, new float[] {1f, 1f, 1f}, 1f, 1e-12f,
                                    false, 0.1f);
                            // (F32 holds that result: nothing overflowed, the general path writes the same)
                            boolean declines = !fault.equals("rounding") || type == DType.BF16;
                            for (Kernels k : all()) {
                                assertEquals(declines, !direct(arena, k, type, q, e, n), k.name() + " " + type + " n=" + n + " " + fault
                                        + " at " + at);
                            }
                        }
                    }
                }
            }
        }
    }

    /**
     * Near the float maximum the direct kernels test no input's size: they see an overflow in what
     * they compute. For values and Fishers whose exponents climb from ordinary to the float
     * maximum, under parameters from ordinary to huge, every range they accept holds exactly the
     * general path's bytes; and every range whose every intermediate, bounded in double here (the
     * magnitudes summed without cancelling), stays below 2^120 is accepted (nothing can overflow
     * there). Both happen often.
     */
    @Test
    void nearTheFloatMaximumTheDirectKernelWritesTheGeneralPathsBytesOrDeclines() {
        SplittableRandom rnd = new SplittableRandom(23);
        float[][] scaleSets = {{1f, 1f, 1f}, {8530f, 25_000f, 180_000f}, {2e38f, 1f, 3e20f}, {0f, 0f, 0f}};
        float[][] alphaSets = {{1f, 1f, 1f}, {0.5f, 0.3f, 0.2f}, {1e30f, 2f, 0f}, {0f, 0f, 0f}};
        int accepts = 0;
        int declines = 0;
        int safe = 0;
        try (Arena arena = Arena.ofConfined()) {
            for (float[] scales : scaleSets) {
                for (float[] alphas : alphaSets) {
                    for (float s0 : new float[] {1f, 25_000f, 1e38f}) {
                        for (float delta0 : new float[] {0f, 1e-12f, 1e30f}) {
                            GradientMatching p = new GradientMatching(alphas, scales, s0, delta0, false, 0.1f);
                            int top = 127 + rnd.nextInt(128); // the largest exponent of this range's values
                            int topH = 1 + rnd.nextInt(254);
                            int n = 301;
                            MethodData d = MethodData.random(rnd, 3, n, false, false);
                            for (int i = 0; i < n; i++) {
                                d.base[i] = belowExponent(rnd, top);
                                d.baseFisher[i] = Math.abs(belowExponent(rnd, topH));
                                for (int t = 0; t < 3; t++) {
                                    d.x[t][i] = belowExponent(rnd, top);
                                    d.fisher[t][i] = Math.abs(belowExponent(rnd, topH));
                                }
                            }
                            for (DType type : new DType[] {DType.BF16, DType.F32}) {
                                float[] general = new float[n];
                                MethodData stored = stored(arena, type, d, n);
                                SCALAR.gradientMatching(p, stored.base, stored.baseFisher, stored.x, stored.fisher, general, n);
                                MemorySegment expected = encode(arena, type, general, n);
                                boolean mustAccept = true;
                                for (int i = 0; i < n; i++) {
                                    mustAccept &= largestIntermediate(p, stored, i) < 0x1p120;
                                }
                                safe += mustAccept ? 1 : 0;
                                for (Kernels k : all()) {
                                    String what = k.name() + " " + type + " scales " + java.util.Arrays.toString(scales) + " alphas "
                                            + java.util.Arrays.toString(alphas) + " s0 " + s0 + " delta0 " + delta0
                                            + " exponents below " + top + ", " + topH;
                                    MemorySegment out = arena.allocate((long) type.byteWidth() * n, 8);
                                    boolean accepted = k.gradientMatchingDirect(p, operand(encode(arena, type, stored.base, n), type),
                                            operand(encode(arena, type, stored.baseFisher, n), type),
                                            operands(encodeAll(arena, type, stored.x, n), type),
                                            operands(encodeAll(arena, type, stored.fisher, n), type), operand(out, type), 0, n) >= 0;
                                    if (accepted) {
                                        assertEquals(-1, expected.mismatch(out), what);
                                        accepts++;
                                    } else {
                                        assertFalse(mustAccept, what + ": declined, but nothing can overflow");
                                        declines++;
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        assertTrue(accepts > 300 && declines > 300 && safe > 50, accepts + " accepted, " + declines + " declined, " + safe + " safe");
    }

    /**
     * The largest magnitude any float intermediate of the rule can take at element i, bounded in
     * double from the inputs' magnitudes (sums of absolute values: no cancellation assumed).
     */
    private static double largestIntermediate(GradientMatching p, MethodData d, int i) {
        double b = Math.abs((double) d.base[i]);
        double p0 = p.delta0() + Math.abs((double) d.baseFisher[i] * p.baseScale());
        double hbar = p0;
        double num = 0;
        double ta = 0;
        double max = Math.max(b, p0);
        for (int t = 0; t < d.x.length; t++) {
            double a = Math.abs((double) p.alphas()[t]);
            double c = Math.abs((double) p.scales()[t] * a);
            double hc = Math.abs((double) d.fisher[t][i]) * c;
            double delta = Math.abs((double) d.x[t][i]) + b;
            double w = p0 * a + hc;
            hbar += hc;
            num += w * delta;
            ta += a * delta;
            max = Math.max(max, Math.max(Math.max(c, w), Math.max(delta, hbar)));
            max = Math.max(max, Math.max(num, ta + b));
        }
        // theta = b + num / Hbar, where Hbar is at least P0 (every weight >= 0): |num| / P0 bounds the update
        double update = p0 > 0 ? num / p0 : (num == 0 ? 0 : Double.POSITIVE_INFINITY);
        return Math.max(max, b + update);
    }

    /** A float of random sign with a biased exponent below {@code exponent}, within 24 of it, at least 1 (0 when nothing is below it). */
    private static float belowExponent(SplittableRandom rnd, int exponent) {
        if (exponent <= 1) {
            return 0f;
        }
        int e = Math.max(1, exponent - 1 - rnd.nextInt(24));
        int bits = e << 23 | rnd.nextInt(0x80_0000) & 0x7F_0000; // (BF16-representable: the low 16 bits clear)
        return Float.intBitsToFloat(rnd.nextBoolean() ? bits : bits | 0x8000_0000);
    }

    /** d's values as stored in {@code type}. */
    private static MethodData stored(Arena arena, DType type, MethodData d, int n) {
        MethodData c = MethodData.random(new SplittableRandom(0), d.x.length, n, false, false);
        round(arena, type, d.base, c.base, n);
        round(arena, type, d.baseFisher, c.baseFisher, n);
        for (int t = 0; t < d.x.length; t++) {
            round(arena, type, d.x[t], c.x[t], n);
            round(arena, type, d.fisher[t], c.fisher[t], n);
        }
        return c;
    }

    private static void round(Arena arena, DType type, float[] from, float[] to, int n) {
        SCALAR.decode(type, encode(arena, type, from, n), 0, to, n);
    }

    private static MemorySegment[] encodeAll(Arena arena, DType type, float[][] values, int n) {
        MemorySegment[] s = new MemorySegment[values.length];
        for (int t = 0; t < s.length; t++) {
            s[t] = encode(arena, type, values[t], n);
        }
        return s;
    }

    private static boolean direct(Arena arena, Kernels k, DType type, GradientMatching p, MethodData d, int n) {
        MemorySegment base = encode(arena, type, d.base, n);
        MemorySegment h0 = encode(arena, type, d.baseFisher, n);
        MemorySegment[] x = new MemorySegment[d.x.length];
        MemorySegment[] h = new MemorySegment[d.x.length];
        for (int t = 0; t < x.length; t++) {
            x[t] = encode(arena, type, d.x[t], n);
            h[t] = encode(arena, type, d.fisher[t], n);
        }
        return k.gradientMatchingDirect(p, operand(base, type), operand(h0, type), operands(x, type), operands(h, type),
                operand(arena.allocate((long) type.byteWidth() * n, 8), type), 0, n) >= 0;
    }

    private static Kernels.Operand operand(MemorySegment s, DType type) {
        return new Kernels.Operand(s, type);
    }

    private static Kernels.Operand[] operands(MemorySegment[] s, DType type) {
        Kernels.Operand[] o = new Kernels.Operand[s.length];
        for (int t = 0; t < s.length; t++) {
            o[t] = operand(s[t], type);
        }
        return o;
    }

    private static MemorySegment encode(Arena arena, DType type, float[] values, int n) {
        MemorySegment s = arena.allocate((long) type.byteWidth() * n, 8);
        SCALAR.encode(values, n, type, s, 0);
        return s;
    }

    // ---- counting what the output dtype cannot hold ------------------------------------------

    /** The limits against the encoders: the largest float that encodes finite, and the next one up that does not. */
    @Test
    void largestEncodableIsTheLastFloatEachEncoderKeepsFinite() {
        try (Arena arena = Arena.ofConfined()) {
            for (DType type : new DType[] {DType.BF16, DType.F16, DType.F32, DType.F64}) {
                float limit = Kernels.largestEncodable(type);
                MemorySegment seg = arena.allocate(8L * 4, 8);
                float[] values = {limit, -limit, Math.nextUp(limit), -Math.nextUp(limit)};
                SCALAR.encode(values, 4, type, seg, 0);
                float[] back = new float[4];
                SCALAR.decode(type, seg, 0, back, 4);
                assertTrue(Float.isFinite(back[0]) && Float.isFinite(back[1]), type + " keeps " + limit);
                assertEquals(Float.POSITIVE_INFINITY, back[2], type + " rounds " + Math.nextUp(limit) + " to infinity");
                assertEquals(Float.NEGATIVE_INFINITY, back[3], type.name());
            }
            assertEquals(65504f, Float.float16ToFloat(Float.floatToFloat16(Kernels.largestEncodable(DType.F16))));
        }
    }

    @ParameterizedTest
    @MethodSource("vectors")
    void countNonFiniteAsMatchesScalarAndTheEncoders(Kernels v) {
        SplittableRandom rnd = new SplittableRandom(3);
        try (Arena arena = Arena.ofConfined()) {
            for (DType type : new DType[] {DType.BF16, DType.F16, DType.F32, DType.F64}) {
                for (int n : SIZES) {
                    float[] x = new float[n + SLACK];
                    for (int i = 0; i < x.length; i++) {
                        x[i] = FloatPatterns.interesting(rnd);
                    }
                    MemorySegment seg = arena.allocate((long) type.byteWidth() * Math.max(n, 1), 8);
                    SCALAR.encode(x, n, type, seg, 0);
                    float[] back = new float[n];
                    SCALAR.decode(type, seg, 0, back, n);
                    int want = 0;
                    for (int i = 0; i < n; i++) {
                        want += Float.isFinite(back[i]) ? 0 : 1;
                    }
                    assertEquals(want, SCALAR.countNonFiniteAs(type, x, n), "scalar " + type + " n=" + n);
                    assertEquals(want, v.countNonFiniteAs(type, x, n), v.name() + " " + type + " n=" + n);
                }
            }
        }
    }
}
