package ugm.io.fisher;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import ugm.core.DType;
import ugm.core.Printable;
import ugm.core.UgmException;
import ugm.io.TorchValue;
import ugm.io.TorchValue.FloatValue;
import ugm.io.TorchValue.IntValue;
import ugm.io.TorchValue.TensorValue;

/** Reading numbers out of pickled values, and the one-line errors of this package. */
final class Values {
    static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private Values() {
    }

    /**
     * A Python number, or a one-element tensor (optimizers keep {@code step} as a float32 scalar
     * tensor); NaN when the value is neither.
     */
    static double number(TorchValue v) {
        return switch (v) {
            case IntValue i -> i.value();
            case FloatValue f -> f.value();
            case TensorValue t when t.data().byteSize() == t.dtype().byteWidth() && t.dtype().byteWidth() > 0 -> element(t.dtype(), t.data(), 0);
            case null, default -> Double.NaN;
        };
    }

    /** Element {@code i} of a tensor of a floating or integer dtype, as a double (exact for the floating dtypes). */
    static double element(DType dtype, MemorySegment s, long i) {
        return switch (dtype) {
            case F32 -> s.get(F32, 4 * i);
            case F64 -> s.get(F64, 8 * i);
            case BF16 -> Float.intBitsToFloat(s.get(I16, 2 * i) << 16);
            case F16 -> Float.float16ToFloat(s.get(I16, 2 * i));
            case I64 -> s.get(I64, 8 * i);
            case I32 -> s.get(I32, 4 * i);
            case I16 -> s.get(I16, 2 * i);
            case I8 -> s.get(ValueLayout.JAVA_BYTE, i);
            case U8 -> s.get(ValueLayout.JAVA_BYTE, i) & 0xFF;
            default -> Double.NaN;
        };
    }

    /** {@code file: parameter 'name': problem} as an invalid-input error (exit 3). */
    static UgmException invalid(String file, String parameter, String problem) {
        return new UgmException(UgmException.Kind.INVALID_INPUT, message(file, parameter, problem));
    }

    static UgmException usage(String message) {
        return new UgmException(UgmException.Kind.USAGE, message);
    }

    static String message(String file, String parameter, String problem) {
        StringBuilder sb = new StringBuilder(Printable.of(file)).append(": ");
        if (parameter != null) {
            sb.append("parameter '").append(Printable.of(parameter)).append("': ");
        }
        return sb.append(problem).toString();
    }

    static String shape(long[] s) {
        return Arrays.toString(s);
    }

    /** A number as short as it reads back: 0.98, 12, 1e-08. */
    static String format(double d) {
        if (d == Math.rint(d) && Math.abs(d) < 1e15) {
            return Long.toString((long) d);
        }
        return Double.toString(d);
    }
}
