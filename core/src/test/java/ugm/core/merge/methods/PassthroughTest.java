package ugm.core.merge.methods;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import ugm.core.UgmException;
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
