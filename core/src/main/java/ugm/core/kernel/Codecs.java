package ugm.core.kernel;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import ugm.core.DType;

/**
 * The dtypes the kernels read and write, in one place: BF16, F16, F32 and F64, little-endian. The
 * per-element conversions to and from float, and the plain loops over a range that the scalar
 * kernels run and the vector kernels end in. Floats are rounded to nearest even; a NaN stays a
 * NaN, quiet, with its sign.
 */
final class Codecs {
    static final ValueLayout.OfShort SHORT_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt INT_LE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfFloat FLOAT_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfDouble DOUBLE_LE = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private Codecs() {
    }

    // ---- one element --------------------------------------------------------------------------

    static float bf16ToFloat(short h) {
        return Float.intBitsToFloat(h << 16);
    }

    /** Rounds to nearest even; a NaN keeps its sign and the top of its payload and becomes quiet. */
    static short floatToBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if ((bits & 0x7FFF_FFFF) > 0x7F80_0000) {
            return (short) ((bits >>> 16) | 0x40);
        }
        return (short) ((bits + 0x7FFF + ((bits >>> 16) & 1)) >>> 16);
    }

    static float f16ToFloat(short h) {
        return Float.float16ToFloat(h); // an intrinsic
    }

    /** Rounds to nearest even; a NaN becomes quiet. */
    static short floatToF16(float f) {
        short h = Float.floatToFloat16(f);
        return Float.isNaN(f) ? (short) (h | 0x200) : h;
    }

    /** The float bits of element i of a BF16, F16 or F32 tensor stored from byte 0 of {@code s} (exactly: F16 and BF16 widen). */
    static int floatBits(DType type, MemorySegment s, long i) {
        return switch (type) {
            case BF16 -> s.get(SHORT_LE, 2 * i) << 16;
            case F16 -> Float.floatToRawIntBits(f16ToFloat(s.get(SHORT_LE, 2 * i)));
            case F32 -> s.get(INT_LE, 4 * i);
            default -> throw unsupported(type);
        };
    }

    /**
     * The largest float that stays finite when encoded as {@code type} (rounding to nearest even):
     * a float beyond it in magnitude, or a NaN or an infinity, encodes as an infinity or a NaN.
     */
    static float largestEncodable(DType type) {
        return switch (type) {
            case BF16 -> Float.intBitsToFloat(0x7F7F_7FFF); // 0x7F7F_8000 rounds (to even) up to the infinity 0x7F80
            case F16 -> Math.nextDown(65520f); // 65520 lies halfway between 65504 and 65536 and rounds (to even) to infinity
            case F32, F64 -> Float.MAX_VALUE;
            default -> throw unsupported(type);
        };
    }

    // ---- a range ------------------------------------------------------------------------------

    /** Elements [from, to) of {@code type} at byte offset {@code off} of src (element 0 there) -> dst[from, to). */
    static void decode(DType type, MemorySegment src, long off, float[] dst, int from, int to) {
        switch (type) {
            case BF16 -> {
                for (int i = from; i < to; i++) {
                    dst[i] = bf16ToFloat(src.get(SHORT_LE, off + 2L * i));
                }
            }
            case F16 -> {
                for (int i = from; i < to; i++) {
                    dst[i] = f16ToFloat(src.get(SHORT_LE, off + 2L * i));
                }
            }
            case F32 -> {
                for (int i = from; i < to; i++) {
                    dst[i] = src.get(FLOAT_LE, off + 4L * i);
                }
            }
            case F64 -> {
                for (int i = from; i < to; i++) {
                    dst[i] = (float) src.get(DOUBLE_LE, off + 8L * i);
                }
            }
            default -> throw unsupported(type);
        }
    }

    /** src[from, to) -> elements [from, to) of {@code type} at byte offset {@code off} of dst (element 0 there). */
    static void encode(float[] src, int from, int to, DType type, MemorySegment dst, long off) {
        switch (type) {
            case BF16 -> {
                for (int i = from; i < to; i++) {
                    dst.set(SHORT_LE, off + 2L * i, floatToBf16(src[i]));
                }
            }
            case F16 -> {
                for (int i = from; i < to; i++) {
                    dst.set(SHORT_LE, off + 2L * i, floatToF16(src[i]));
                }
            }
            case F32 -> {
                for (int i = from; i < to; i++) {
                    dst.set(FLOAT_LE, off + 4L * i, src[i]);
                }
            }
            case F64 -> {
                for (int i = from; i < to; i++) {
                    dst.set(DOUBLE_LE, off + 8L * i, src[i]);
                }
            }
            default -> throw unsupported(type);
        }
    }

    static IllegalArgumentException unsupported(DType type) {
        return new IllegalArgumentException("the merge kernels do not convert " + type + " (only BF16, F16, F32, F64)");
    }
}
