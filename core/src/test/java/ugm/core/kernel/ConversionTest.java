package ugm.core.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.IntToDoubleFunction;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import ugm.core.DType;

/**
 * Decode and encode against independent definitions: 16-bit values from their sign, exponent
 * and mantissa fields, and rounding by searching the nearest representable value in double.
 */
class ConversionTest {
    static final ValueLayout.OfShort SHORT_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    static List<Kernels> implementations() {
        return Implementations.all();
    }

    /** The value of a BF16 pattern (NaN for the NaN patterns), from its fields. */
    static double bf16Value(int h) {
        return fieldValue(h, 8, 7);
    }

    /** The value of an F16 pattern, from its fields. */
    static double f16Value(int h) {
        return fieldValue(h, 5, 10);
    }

    static double fieldValue(int h, int exponentBits, int mantissaBits) {
        int sign = (h >>> (exponentBits + mantissaBits)) & 1;
        int e = (h >>> mantissaBits) & ((1 << exponentBits) - 1);
        int m = h & ((1 << mantissaBits) - 1);
        int bias = (1 << (exponentBits - 1)) - 1;
        double magnitude;
        if (e == (1 << exponentBits) - 1) {
            magnitude = m == 0 ? Double.POSITIVE_INFINITY : Double.NaN;
        } else if (e == 0) {
            magnitude = Math.scalb((double) m, 1 - bias - mantissaBits);
        } else {
            magnitude = Math.scalb(1.0 + Math.scalb((double) m, -mantissaBits), e - bias);
        }
        return sign == 1 ? -magnitude : magnitude;
    }

    /**
     * The 16-bit pattern nearest to v (ties to the even pattern), found by binary search over the
     * ordered non-negative finite patterns; the infinity pattern counts as the next power of two.
     */
    static int nearest(float v, IntToDoubleFunction value, int infinityPattern, int signBit) {
        int sign = Float.floatToRawIntBits(v) < 0 ? signBit : 0;
        double a = Math.abs((double) v);
        // the infinity pattern stands for the next power of two above the largest finite value
        double beyond = Math.scalb(1.0, Math.getExponent(value.applyAsDouble(infinityPattern - 1)) + 1);
        if (a >= beyond) {
            return sign | infinityPattern;
        }
        int lo = 0;
        int hi = infinityPattern - 1; // value(lo) <= a always holds (value(0) = 0)
        while (lo < hi) {
            int mid = (lo + hi + 1) >>> 1;
            if (value.applyAsDouble(mid) <= a) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        double below = value.applyAsDouble(lo);
        double above = lo + 1 == infinityPattern ? beyond : value.applyAsDouble(lo + 1);
        double dBelow = a - below;
        double dAbove = above - a;
        int pick = dBelow < dAbove ? lo : dAbove < dBelow ? lo + 1 : ((lo & 1) == 0 ? lo : lo + 1);
        return sign | pick;
    }

    // ---- exhaustive 16-bit ----------------------------------------------------------------------

    @ParameterizedTest
    @MethodSource("implementations")
    void everyBf16PatternDecodesToItsValueAndEncodesBack(Kernels k) {
        exhaustive(k, DType.BF16, ConversionTest::bf16Value, 0x40);
    }

    @ParameterizedTest
    @MethodSource("implementations")
    void everyF16PatternDecodesToItsValueAndEncodesBack(Kernels k) {
        exhaustive(k, DType.F16, ConversionTest::f16Value, 0x200);
    }

    private static void exhaustive(Kernels k, DType type, IntToDoubleFunction value, int quietBit) {
        int n = 65_536;
        long off = 6; // not a multiple of any vector size
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment src = arena.allocate(off + 2L * n);
            for (int h = 0; h < n; h++) {
                src.set(SHORT_LE, off + 2L * h, (short) h);
            }
            float[] decoded = new float[n];
            k.decode(type, src, off, decoded, n);
            int nans = 0;
            for (int h = 0; h < n; h++) {
                double expected = value.applyAsDouble(h);
                if (Double.isNaN(expected)) {
                    assertTrue(Float.isNaN(decoded[h]), "NaN pattern decoded to a number");
                    nans++;
                } else if ((double) decoded[h] != expected || (Float.floatToRawIntBits(decoded[h]) < 0) != ((h & 0x8000) != 0)) {
                    fail(k.name() + " " + type + " pattern 0x" + Integer.toHexString(h) + " decoded to " + decoded[h] + ", not " + expected);
                }
            }
            assertTrue(nans > 0);
            MemorySegment back = arena.allocate(off + 2L * n);
            k.encode(decoded, n, type, back, off);
            for (int h = 0; h < n; h++) {
                int e = back.get(SHORT_LE, off + 2L * h) & 0xFFFF;
                if (Double.isNaN(value.applyAsDouble(h))) {
                    assertTrue(Double.isNaN(value.applyAsDouble(e)), k.name() + " " + type + " NaN 0x" + Integer.toHexString(h) + " re-encoded as a number");
                    assertEquals(h & 0x8000, e & 0x8000, "NaN sign");
                    assertEquals(quietBit, e & quietBit, "NaN re-encoded quiet");
                } else {
                    if (h != e) {
                        fail(k.name() + " " + type + " pattern 0x" + Integer.toHexString(h) + " came back as 0x" + Integer.toHexString(e));
                    }
                }
            }
        }
    }

    // ---- rounding -------------------------------------------------------------------------------

    @ParameterizedTest
    @MethodSource("implementations")
    void bf16EncodeRoundsToNearestEven(Kernels k) {
        rounding(k, DType.BF16, ConversionTest::bf16Value, 0x7F80, 0x40);
    }

    @ParameterizedTest
    @MethodSource("implementations")
    void f16EncodeRoundsToNearestEven(Kernels k) {
        rounding(k, DType.F16, ConversionTest::f16Value, 0x7C00, 0x200);
    }

    private static void rounding(Kernels k, DType type, IntToDoubleFunction value, int infinity, int quietBit) {
        SplittableRandom rnd = new SplittableRandom(7);
        int n = 200_003;
        float[] src = new float[n];
        for (int i = 0; i < n; i++) {
            src[i] = FloatPatterns.interesting(rnd);
        }
        // a few ties written out: 1 + half an ulp rounds down to 1 (even), 1 + 3 half-ulps up
        src[0] = 1f + 0x1p-8f;
        src[1] = 1f + 3 * 0x1p-8f;
        src[2] = 1f + 0x1p-11f;
        src[3] = 1f + 3 * 0x1p-11f;
        try (Arena arena = Arena.ofConfined()) {
            long off = 10;
            MemorySegment dst = arena.allocate(off + 2L * n);
            k.encode(src, n, type, dst, off);
            for (int i = 0; i < n; i++) {
                int actual = dst.get(SHORT_LE, off + 2L * i) & 0xFFFF;
                float v = src[i];
                if (Float.isNaN(v)) {
                    assertTrue(Double.isNaN(value.applyAsDouble(actual)), "NaN stays NaN");
                    assertEquals(Float.floatToRawIntBits(v) < 0, (actual & 0x8000) != 0, "NaN keeps its sign");
                    assertEquals(quietBit, actual & quietBit, "NaN is quiet");
                } else {
                    int expected = nearest(v, value, infinity, 0x8000);
                    if (expected != actual) {
                        fail(k.name() + " " + type + " encode of " + v + " (0x" + Integer.toHexString(Float.floatToRawIntBits(v))
                                + ") gave 0x" + Integer.toHexString(actual) + ", nearest is 0x" + Integer.toHexString(expected));
                    }
                }
            }
        }
    }

    @Test
    void theRoundingReferenceKnowsTiesAndOverflow() {
        assertEquals(0x3F80, nearest(1f + 0x1p-8f, ConversionTest::bf16Value, 0x7F80, 0x8000));
        assertEquals(0x3F82, nearest(1f + 3 * 0x1p-8f, ConversionTest::bf16Value, 0x7F80, 0x8000));
        assertEquals(0x7F80, nearest(Float.MAX_VALUE, ConversionTest::bf16Value, 0x7F80, 0x8000));
        assertEquals(0x7BFF, nearest(65519f, ConversionTest::f16Value, 0x7C00, 0x8000));
        assertEquals(0x7C00, nearest(65520f, ConversionTest::f16Value, 0x7C00, 0x8000));
        assertEquals(0x8001, nearest(-0x1p-24f, ConversionTest::f16Value, 0x7C00, 0x8000));
        assertEquals(0x0000, nearest(0x1p-25f, ConversionTest::f16Value, 0x7C00, 0x8000));
        assertEquals(0x0001, nearest(0x1.8p-25f, ConversionTest::f16Value, 0x7C00, 0x8000));
    }

    // ---- F32 and F64 ----------------------------------------------------------------------------

    @ParameterizedTest
    @MethodSource("implementations")
    void f32IsALittleEndianBitCopyBothWays(Kernels k) {
        SplittableRandom rnd = new SplittableRandom(8);
        int n = 4099;
        float[] src = new float[n];
        for (int i = 0; i < n; i++) {
            src[i] = FloatPatterns.interesting(rnd);
        }
        try (Arena arena = Arena.ofConfined()) {
            long off = 12;
            MemorySegment seg = arena.allocate(off + 4L * n);
            k.encode(src, n, DType.F32, seg, off);
            ByteBuffer bytes = seg.asSlice(off).asByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < n; i++) {
                assertEquals(Float.floatToRawIntBits(src[i]), bytes.getInt(4 * i), "encoded bits");
            }
            float[] back = new float[n];
            k.decode(DType.F32, seg, off, back, n);
            for (int i = 0; i < n; i++) {
                assertEquals(Float.floatToRawIntBits(src[i]), Float.floatToRawIntBits(back[i]), "decoded bits");
            }
        }
    }

    @ParameterizedTest
    @MethodSource("implementations")
    void f64DecodeRoundsToNearestFloatAndEncodeIsExact(Kernels k) {
        double[] cases = {1 + 0x1p-24, 1 + 3 * 0x1p-24, 1 + 0x1p-24 + 0x1p-52, 1e300, -1e300, 1e-50, -1e-50,
            0x1p-149 * 0.5, 0x1p-149 * 0.75, Double.NaN, Double.POSITIVE_INFINITY, -0.0, Math.PI};
        float[] expected = {1f, 1f + 0x1p-22f, 1f + 0x1p-23f, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 0f, -0f,
            0f, 0x1p-149f, Float.NaN, Float.POSITIVE_INFINITY, -0f, 3.1415927f};
        int n = cases.length;
        try (Arena arena = Arena.ofConfined()) {
            long off = 8;
            MemorySegment seg = arena.allocate(off + 8L * n);
            ByteBuffer bytes = seg.asSlice(off).asByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < n; i++) {
                bytes.putDouble(8 * i, cases[i]);
            }
            float[] decoded = new float[n];
            k.decode(DType.F64, seg, off, decoded, n);
            for (int i = 0; i < n; i++) {
                assertEquals(Float.floatToIntBits(expected[i]), Float.floatToIntBits(decoded[i]), "F64 " + cases[i]);
            }
            SplittableRandom rnd = new SplittableRandom(9);
            int m = 1031;
            float[] src = new float[m];
            for (int i = 0; i < m; i++) {
                src[i] = FloatPatterns.interesting(rnd);
            }
            MemorySegment out = arena.allocate(off + 8L * m);
            k.encode(src, m, DType.F64, out, off);
            ByteBuffer outBytes = out.asSlice(off).asByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < m; i++) {
                double d = outBytes.getDouble(8 * i);
                if (Float.isNaN(src[i])) {
                    assertTrue(Double.isNaN(d));
                } else {
                    assertEquals(src[i], d, 0.0, "F64 encode is exact");
                    assertEquals(Float.floatToRawIntBits(src[i]) < 0, Double.doubleToRawLongBits(d) < 0, "sign");
                }
            }
        }
    }

    @ParameterizedTest
    @MethodSource("implementations")
    void otherDtypesAreRejected(Kernels k) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(64);
            for (DType type : new DType[] {DType.I32, DType.U8, DType.F8_E4M3, DType.BOOL}) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                        () -> k.decode(type, seg, 0, new float[4], 4));
                assertTrue(e.getMessage().contains(type.name()));
                assertThrows(IllegalArgumentException.class,
                        () -> k.encode(new float[4], 4, type, seg, 0));
            }
        }
    }
}
