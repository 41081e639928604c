package ugm.core.merge;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import ugm.core.DType;
import ugm.core.MemoryTensors;

/** Test helpers: tensors from double values, written and read with simple independent conversions. */
final class Tensors {
    private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED;
    private static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ValueLayout.OfDouble DOUBLE = ValueLayout.JAVA_DOUBLE_UNALIGNED;

    private Tensors() {
    }

    /** Stores {@code values} as {@code type}; BF16 rounds to nearest even. */
    static MemorySegment encode(DType type, double[] values) {
        MemorySegment s = Arena.ofAuto().allocate(type.byteSize(values.length), 8);
        for (int i = 0; i < values.length; i++) {
            float f = (float) values[i];
            switch (type) {
                case BF16 -> {
                    int bits = Float.floatToRawIntBits(f);
                    int rounded = Float.isNaN(f) ? (bits >>> 16) | 0x40 : (bits + 0x7FFF + ((bits >>> 16) & 1)) >>> 16;
                    s.setAtIndex(SHORT, i, (short) rounded);
                }
                case F16 -> s.setAtIndex(SHORT, i, Float.floatToFloat16(f));
                case F32 -> s.setAtIndex(FLOAT, i, f);
                case F64 -> s.setAtIndex(DOUBLE, i, values[i]);
                default -> throw new IllegalArgumentException(type.name());
            }
        }
        return s;
    }

    static double[] decode(DType type, MemorySegment s) {
        int n = (int) (s.byteSize() / type.byteWidth());
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = switch (type) {
                case BF16 -> Float.intBitsToFloat((s.getAtIndex(SHORT, i) & 0xFFFF) << 16);
                case F16 -> Float.float16ToFloat(s.getAtIndex(SHORT, i));
                case F32 -> s.getAtIndex(FLOAT, i);
                case F64 -> s.getAtIndex(DOUBLE, i);
                default -> throw new IllegalArgumentException(type.name());
            };
        }
        return v;
    }

    /** The value after a round trip through {@code type}: what the engine actually reads. */
    static double[] stored(DType type, double[] values) {
        return decode(type, encode(type, values));
    }

    static MemoryTensors add(MemoryTensors m, String name, DType type, double[] values) {
        return m.add(name, type, new long[] {values.length}, encode(type, values));
    }

    /** Distance between a and b in units of the last place of {@code type} at b. */
    static double ulps(DType type, double a, double b) {
        double ulp = switch (type) {
            case BF16 -> Math.ulp((float) b) * 65536.0;
            case F16 -> Math.max(Math.ulp((float) b) * 8192.0, 0x1p-24);
            case F32 -> Math.ulp((float) b);
            case F64 -> Math.ulp(b);
            default -> throw new IllegalArgumentException(type.name());
        };
        return Math.abs(a - b) / ulp;
    }
}
