package ugm.core.merge.methods;

import ugm.core.DType;
import ugm.core.kernel.Kernels;
import ugm.core.merge.MergePlan.Input;
import ugm.core.merge.MergePlan.TensorPlan;

/** What the first passes share: their block size, decoding, the Gram matrix, and the reading of parameters as decimals. */
final class Blocks {
    /** Elements per block of a first pass. */
    static final int BLOCK = 4096;

    private Blocks() {
    }

    /** Decodes elements {@code [from, from + n)} of {@code in} into {@code dst}. */
    static void decode(Input in, long from, int n, float[] dst) {
        decode(Kernels.scalar(), in, from, n, dst);
    }

    /** Decodes elements {@code [from, from + n)} of {@code in} into {@code dst} with kernels {@code k} (the same floats whichever). */
    static void decode(Kernels k, Input in, long from, int n, float[] dst) {
        DType d = in.dtype();
        k.decode(d, in.data(), from * d.byteWidth(), dst, n);
    }

    /** The mergekit-style reading of a float parameter as the decimal the user wrote (0.7f is 0.7, not 0.699999988). */
    static double decimal(float v) {
        return Double.parseDouble(Float.toString(v));
    }

    /** The Gram matrix of the models (less the base, with {@code hasBase}), in double, streamed block by block. */
    static double[][] gram(TensorPlan t, boolean hasBase) {
        int m = t.models().size();
        long count = t.output().elementCount();
        float[] base = new float[BLOCK];
        float[][] v = new float[m][BLOCK];
        double[][] g = new double[m][m];
        for (long at = 0; at < count; at += BLOCK) {
            int n = (int) Math.min(BLOCK, count - at);
            if (hasBase) {
                decode(t.base(), at, n, base);
            }
            for (int i = 0; i < m; i++) {
                decode(t.models().get(i), at, n, v[i]);
                if (hasBase) {
                    for (int j = 0; j < n; j++) {
                        v[i][j] -= base[j];
                    }
                }
            }
            for (int i = 0; i < m; i++) {
                for (int k = i; k < m; k++) {
                    double s = 0;
                    for (int j = 0; j < n; j++) {
                        s += (double) v[i][j] * v[k][j];
                    }
                    g[i][k] += s;
                    g[k][i] = g[i][k];
                }
            }
        }
        return g;
    }
}
