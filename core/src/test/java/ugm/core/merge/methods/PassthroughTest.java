package ugm.core.merge.methods;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import ugm.core.DType;
import ugm.core.MemoryTensors;
import ugm.core.UgmException;
import ugm.core.merge.MergePlan;
import ugm.core.merge.Merger;
import ugm.core.merge.MergeRequest;
import ugm.core.merge.Parameter;
import ugm.core.merge.TensorParameter;

/** passthrough: the model's values, times its scale (the product in double, rounded once to float). */
class PassthroughTest {
    static final int N = 1031; // not a multiple of any block or vector width

    @Test
    void copiesTheModelAndScalesIt() {
        double[] x = Inputs.gaussian(N, 3, new SplittableRandom(1));
        MergeRequest.Builder b = MergeRequest.builder(Method.PASSTHROUGH).threads(2).chunkElements(64)
                .model(Inputs.tensor("m", new long[] {N}, x));
        assertArrayEquals(x, Inputs.merge(b.build(), N));
        double[] scaled = Inputs.merge(b.perModel(Parameter.SCALE, TensorParameter.of(0.3f)).build(), N);
        for (int j = 0; j < N; j++) {
            assertEquals((float) (x[j] * (double) 0.3f), scaled[j], 0, "element " + j);
        }
    }

    /**
     * Without a scale the model's bytes are the output's, whatever they hold: F64 values no float
     * can hold, and BF16 NaN payloads and a negative zero that a decode and encode would change.
     */
    @Test
    void withoutAScaleTheBytesAreCopiedAsTheyAre() {
        MemorySegment f64 = Arena.ofAuto().allocate(8L * 3, 8);
        double[] d = {0.1, 1e300, Math.nextUp(1.0)};
        for (int j = 0; j < 3; j++) {
            f64.setAtIndex(ValueLayout.JAVA_DOUBLE_UNALIGNED, j, d[j]);
        }
        MemorySegment bf16 = Arena.ofAuto().allocate(2L * 4, 2);
        short[] h = {(short) 0x7F81, (short) 0xFFC1, (short) 0x8000, (short) 0x3F80}; // signalling NaN, NaN with a payload, -0, 1
        for (int j = 0; j < 4; j++) {
            bf16.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, j, h[j]);
        }
        MemoryTensors m = new MemoryTensors("m").add("d", DType.F64, new long[] {3}, f64).add("h", DType.BF16, new long[] {4}, bf16);
        MergeRequest r = MergeRequest.builder(Method.PASSTHROUGH).model(m).build();
        for (String name : new String[] {"d", "h"}) {
            MemorySegment in = m.data(name);
            MemorySegment out = Arena.ofAuto().allocate(in.byteSize(), 8);
            Merger.mergeTensor(r, name, out);
            assertEquals(-1, in.mismatch(out), name);
        }
        assertEquals(MergePlan.Action.COPY, MergePlan.of(r).tensors().get(0).action());
    }

    @Test
    void theScaleMayDependOnTheTensor() {
        double[] x = {1, -2, 4};
        MergeRequest r = MergeRequest.builder(Method.PASSTHROUGH).model(Inputs.tensor("m", new long[] {3}, x))
                .perModel(Parameter.SCALE, name -> name.equals("w") ? -0.5f : 7f).build();
        assertArrayEquals(new double[] {-0.5, 1, -2}, Inputs.merge(r, 3));
    }

    @Test
    void oneModelOnlyAndAFiniteScale() {
        double[] x = {1, 2};
        UgmException two = assertThrows(UgmException.class, () -> MergeRequest.builder(Method.PASSTHROUGH)
                .model(Inputs.tensor("a", new long[] {2}, x)).model(Inputs.tensor("b", new long[] {2}, x)).build());
        assertTrue(two.getMessage().contains("exactly one model, not 2"), two.getMessage());
        MergeRequest r = MergeRequest.builder(Method.PASSTHROUGH).model(Inputs.tensor("a", new long[] {2}, x))
                .perModel(Parameter.SCALE, TensorParameter.of(Float.POSITIVE_INFINITY)).build();
        UgmException inf = assertThrows(UgmException.class, () -> Inputs.merge(r, 2));
        assertTrue(inf.getMessage().contains("tensor 'w': passthrough's scale must be a finite number"), inf.getMessage());
    }
}
