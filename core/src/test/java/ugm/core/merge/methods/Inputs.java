package ugm.core.merge.methods;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;
import ugm.core.DType;
import ugm.core.MemoryTensors;
import ugm.core.merge.MergeRequest;
import ugm.core.merge.Merger;

/** Test helpers: one-tensor F32 checkpoints of a given shape, and one tensor merged by the engine. */
final class Inputs {
    private Inputs() {
    }

    /** A checkpoint holding tensor {@code w} of {@code shape} with {@code values} rounded to float. */
    static MemoryTensors tensor(String name, long[] shape, double[] values) {
        MemorySegment s = Arena.ofAuto().allocate(4L * Math.max(1, values.length), 4);
        for (int j = 0; j < values.length; j++) {
            s.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, j, (float) values[j]);
        }
        return new MemoryTensors(name).add("w", DType.F32, shape, s.asSlice(0, 4L * values.length));
    }

    /** Tensor {@code w} ({@code count} elements) as the request merges it, read back as doubles. */
    static double[] merge(MergeRequest r, int count) {
        MemorySegment out = Arena.ofAuto().allocate(4L * Math.max(1, count), 4);
        Merger.mergeTensor(r, "w", out.asSlice(0, 4L * count));
        double[] v = new double[count];
        for (int j = 0; j < count; j++) {
            v[j] = out.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, j);
        }
        return v;
    }

    /** {@code count} Gaussian values, each rounded to float (what the engine reads). */
    static double[] gaussian(int count, double sigma, SplittableRandom rnd) {
        double[] v = new double[count];
        for (int j = 0; j < count; j++) {
            v[j] = (float) (sigma * rnd.nextGaussian());
        }
        return v;
    }

    static double dot(double[] a, double[] b) {
        double s = 0;
        for (int j = 0; j < a.length; j++) {
            s += a[j] * b[j];
        }
        return s;
    }
}
