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
 * path it stands in for (scalar decode, {@link Kernels#gradientMatching}, encode): the same bytes
 * where it accepts a range, and a refusal wherever the general path has something to report or
 * fall back on. Sizes and offsets hit every vector tail.
 */
class DirectKernelTest {
    static final int[] SIZES = {0, 1, 2, 7, 15, 16, 17, 33, 64, 207, 300, 513, 4097};
    static final int SLACK = 19; // elements before and after the range that must stay untouched
    static final Kernels SCALAR = Kernels.scalar();

    /** The inputs of one range, encoded as {@code type} at element offset {@code from}. */
    private record Encoded(MemorySegment base, MemorySegment baseFisher, MemorySegment[] x, MemorySegment[] fisher) {
    }

    @Test
    void acceptsFiniteRangesAndWritesTheGeneralPathsBytesIncludingTheHbarFallback() {
        int accepted = 0;
        int hbarZero = 0;
        try (Arena arena = Arena.ofConfined()) {
            for (DType type : new DType[] {DType.BF16, DType.F32}) {
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
                                MemorySegment h0 = withBaseFisher ? in.baseFisher : null;
                                MemorySegment expected = general(arena, type, p, in, h0, d, from, n);
                                for (Kernels k : Implementations.all()) {
                                    String what = k.name() + " " + type + " T=" + models + " n=" + n + " from=" + from
                                            + " H0=" + withBaseFisher;
                                    MemorySegment out = sentinel(arena, type, from, n);
                                    assertTrue(k.gradientMatchingDirect(p, type, in.base, h0, in.x, in.fisher, out, from, n),
                                            what + ": refused a finite range");
                                    assertSameBytes(expected, out, what);
                                    accepted++;
                                }
                            }
                        }
                    }
                }
            }
        }
        assertTrue(accepted > 1000);
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
        String[] faults = {"NaN model", "infinite base", "NaN base Fisher", "infinite Fisher", "negative Fisher",
            "-0.0 Fisher"};
        try (Arena arena = Arena.ofConfined()) {
            for (DType type : new DType[] {DType.BF16, DType.F32}) {
                for (int n : new int[] {1, 15, 16, 17, 64, 300}) {
                    for (String fault : faults) {
                        SplittableRandom rnd = new SplittableRandom(n * 7L + fault.length());
                        MethodData d = MethodData.random(rnd, 3, n, false, false);
                        GradientMatching p = new GradientMatching(d.alphas, d.scales, 25_000f, 1e-12f, false, 1f);
                        for (int at : new int[] {0, n / 2, n - 1}) { // in the vector body and in the tail
                            MethodData e = copy(d);
                            inject(e, fault, at);
                            Encoded in = encode(arena, type, e, 0, n);
                            for (Kernels k : Implementations.all()) {
                                MemorySegment out = sentinel(arena, type, 0, n);
                                assertFalse(k.gradientMatchingDirect(p, type, in.base, in.baseFisher, in.x, in.fisher, out, 0, n),
                                        k.name() + " " + type + " n=" + n + " accepted a range with a " + fault + " at " + at);
                            }
                        }
                    }
                }
            }
        }
    }

    @Test
    void leavesRemovalAndOtherDtypesToTheGeneralPath() {
        try (Arena arena = Arena.ofConfined()) {
            MethodData d = MethodData.random(new SplittableRandom(5), 2, 64, false, false);
            Encoded bf16 = encode(arena, DType.BF16, d, 0, 64);
            Encoded f16 = encode(arena, DType.F16, d, 0, 64);
            GradientMatching removal = new GradientMatching(d.alphas, d.scales, 25_000f, 1e-12f, true, 0.1f);
            GradientMatching merge = new GradientMatching(d.alphas, d.scales, 25_000f, 1e-12f, false, 1f);
            for (Kernels k : Implementations.all()) {
                assertFalse(k.gradientMatchingDirect(removal, DType.BF16, bf16.base, bf16.baseFisher, bf16.x, bf16.fisher,
                        sentinel(arena, DType.BF16, 0, 64), 0, 64), k.name() + " removal");
                assertFalse(k.gradientMatchingDirect(merge, DType.F16, f16.base, f16.baseFisher, f16.x, f16.fisher,
                        sentinel(arena, DType.F16, 0, 64), 0, 64), k.name() + " F16");
            }
        }
    }

    private static void inject(MethodData d, String fault, int at) {
        switch (fault) {
            case "NaN model" -> d.x[1][at] = Float.NaN;
            case "infinite base" -> d.base[at] = Float.NEGATIVE_INFINITY;
            case "NaN base Fisher" -> d.baseFisher[at] = Float.NaN;
            case "infinite Fisher" -> d.fisher[2][at] = Float.POSITIVE_INFINITY;
            case "negative Fisher" -> d.fisher[0][at] = -1e-3f;
            case "-0.0 Fisher" -> d.fisher[1][at] = -0.0f;
            default -> throw new IllegalArgumentException(fault);
        }
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

    /** The general path over the encoded inputs, written at element offset {@code from} of a sentinel-filled segment. */
    private static MemorySegment general(Arena arena, DType type, GradientMatching p, Encoded in, MemorySegment h0, MethodData d,
                                         long from, int n) {
        int models = d.x.length;
        long off = from * type.byteWidth();
        float[] base = new float[n];
        float[] baseFisher = new float[n];
        float[][] x = new float[models][n];
        float[][] fisher = new float[models][n];
        SCALAR.decode(type, in.base, off, base, n);
        if (h0 != null) {
            SCALAR.decode(type, h0, off, baseFisher, n);
        }
        for (int t = 0; t < models; t++) {
            SCALAR.decode(type, in.x[t], off, x[t], n);
            SCALAR.decode(type, in.fisher[t], off, fisher[t], n);
        }
        float[] out = new float[n];
        SCALAR.gradientMatching(p, base, h0 == null ? null : baseFisher, x, fisher, out, n);
        MemorySegment expected = sentinel(arena, type, from, n);
        SCALAR.encode(out, n, type, expected, off);
        return expected;
    }

    private static Encoded encode(Arena arena, DType type, MethodData d, long from, int n) {
        MemorySegment[] x = new MemorySegment[d.x.length];
        MemorySegment[] fisher = new MemorySegment[d.x.length];
        for (int t = 0; t < x.length; t++) {
            x[t] = encode(arena, type, d.x[t], from, n);
            fisher[t] = encode(arena, type, d.fisher[t], from, n);
        }
        return new Encoded(encode(arena, type, d.base, from, n), encode(arena, type, d.baseFisher, from, n), x, fisher);
    }

    /** {@code values[0, n)} encoded at element offset {@code from}; elements around them hold other finite values. */
    private static MemorySegment encode(Arena arena, DType type, float[] values, long from, int n) {
        long elements = from + n + SLACK;
        MemorySegment s = arena.allocate(elements * type.byteWidth(), 8);
        float[] filler = new float[(int) elements];
        java.util.Arrays.fill(filler, 0.25f);
        SCALAR.encode(filler, filler.length, type, s, 0);
        SCALAR.encode(values, n, type, s, from * type.byteWidth());
        return s;
    }

    private static MemorySegment sentinel(Arena arena, DType type, long from, int n) {
        MemorySegment s = arena.allocate((from + n + SLACK) * type.byteWidth(), 8);
        s.fill((byte) 0x5A);
        return s;
    }

    private static void assertSameBytes(MemorySegment expected, MemorySegment actual, String what) {
        assertEquals(expected.byteSize(), actual.byteSize());
        long at = expected.mismatch(actual);
        if (at >= 0) {
            fail(what + ": first differing byte " + at + ": expected " + expected.get(ValueLayout.JAVA_BYTE, at)
                    + " but was " + actual.get(ValueLayout.JAVA_BYTE, at));
        }
    }
}
