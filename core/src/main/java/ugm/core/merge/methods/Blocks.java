package ugm.core.merge.methods;

import ugm.core.DType;
import ugm.core.kernel.Kernels;
import ugm.core.merge.MergePlan.Input;

/** What the first passes share: their block size, decoding, and the reading of parameters as decimals. */
final class Blocks {
    /** Elements per block of a first pass. */
    static final int BLOCK = 4096;

    private Blocks() {
    }

    /** Decodes elements {@code [from, from + n)} of {@code in} into {@code dst}. */
    static void decode(Input in, long from, int n, float[] dst) {
        DType d = in.dtype();
        Kernels.scalar().decode(d, in.data(), from * d.byteWidth(), dst, n);
    }

    /** The mergekit-style reading of a float parameter as the decimal the user wrote (0.7f is 0.7, not 0.699999988). */
    static double decimal(float v) {
        return Double.parseDouble(Float.toString(v));
    }
}
