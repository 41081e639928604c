package ugm.core;

/**
 * Values written as infinities (or NaN) although every input they were computed from is finite:
 * the exact result lies beyond the range of the output dtype (F16 ends at 65504, BF16 at about
 * 3.39e38, F32 at about 3.40e38; ugm computes in float32, so F64 outputs end there too). Counted
 * per tensor by merges and conversions.
 *
 * <p>Immutable.
 *
 * @param tensor   the output tensor
 * @param dtype    its dtype
 * @param infinite values beyond the range, written as infinities
 * @param nan      NaN values from finite inputs (none are expected: a NaN here is a bug in ugm)
 */
public record OutOfRange(String tensor, DType dtype, long infinite, long nan) implements TensorWarning {

    /** The range the values left, as the warning names it, e.g. {@code the F16 range (largest finite 65504)}. */
    public String range() {
        return switch (dtype) {
            case F16 -> "the F16 range (largest finite 65504)";
            case BF16 -> "the BF16 range (largest finite 3.3895314E38)";
            case F32 -> "the F32 range (largest finite 3.4028235E38)";
            default -> "the float32 range ugm computes in (largest finite 3.4028235E38)";
        };
    }

    /** One warning line, e.g. {@code tensor 'w': 3 values beyond the F16 range (largest finite 65504) were written as infinity}. */
    @Override
    public String toString() {
        String s = "tensor '" + tensor + "': ";
        if (infinite > 0) {
            s += infinite + (infinite == 1 ? " value beyond " : " values beyond ") + range()
                    + (infinite == 1 ? " was" : " were") + " written as infinity";
        }
        if (nan > 0) {
            s += (infinite > 0 ? ", and " : "") + nan + " NaN from finite inputs (a bug in ugm: please report it)";
        }
        return s;
    }
}
