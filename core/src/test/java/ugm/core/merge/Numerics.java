package ugm.core.merge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import ugm.core.DType;
import ugm.core.MemoryTensors;
import ugm.core.TensorSink;

/** Helpers of the numeric tests: merging into memory, tensors from doubles, and comparing against double evaluations. */
final class Numerics {
    private Numerics() {
    }

    static final double MAX = Float.MAX_VALUE;

    static Map<String, MemorySegment> merge(MergeRequest request, MergeReport[] report) {
        Map<String, MemorySegment> out = new HashMap<>();
        TensorSink sink = t -> out.computeIfAbsent(t.name(), k -> Arena.ofAuto().allocate(Math.max(1, t.byteSize()), 8)
                .asSlice(0, t.byteSize()));
        report[0] = Merger.merge(request, sink);
        return out;
    }

    static MemoryTensors tensor(String source, String name, DType type, double[] values) {
        return Tensors.add(new MemoryTensors(source), name, type, values);
    }

    static double[] gaussian(Random r, int n, double center, double spread) {
        return NonFiniteInputsTest.values(r, n, center, spread);
    }

    /** Asserts every element is finite and within {@code relative} of want (plus {@code absolute}), or an infinity of want's sign beyond the float range. */
    static int assertMatches(String what, double[] want, double[] got, double relative, double absolute) {
        double[] tolerance = new double[want.length];
        for (int i = 0; i < want.length; i++) {
            tolerance[i] = relative * Math.abs(want[i]) + absolute;
        }
        return assertMatches(what, want, got, tolerance);
    }

    /**
     * Asserts every element is finite and within its tolerance of want where want is within the
     * float range, an infinity of want's sign where it is beyond it, and never NaN; returns how
     * many are beyond.
     */
    static int assertMatches(String what, double[] want, double[] got, double[] tolerance) {
        int beyond = 0;
        for (int i = 0; i < want.length; i++) {
            assertFalse(Double.isNaN(want[i]), what + ": the reference is NaN at " + i);
            if (Double.isNaN(got[i])) {
                fail(what + ": element " + i + " is NaN; the exact result is " + want[i]);
            }
            if (Math.abs(want[i]) > MAX * (1 + 1e-6)) {
                assertEquals(Math.signum(want[i]) * Double.POSITIVE_INFINITY, got[i], what + ": element " + i + " (exact " + want[i] + ")");
                beyond++;
            } else if (Math.abs(want[i]) < MAX * (1 - 1e-5)) {
                assertTrue(Double.isFinite(got[i]), what + ": element " + i + " is " + got[i] + "; the exact result is " + want[i]);
                assertEquals(want[i], got[i], tolerance[i], what + ": element " + i);
            }
        }
        return beyond;
    }
}
