package ugm.core.merge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static ugm.core.merge.Numerics.assertMatches;
import static ugm.core.merge.Numerics.gaussian;
import static ugm.core.merge.Numerics.merge;
import static ugm.core.merge.Numerics.tensor;

import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import ugm.core.DType;
import ugm.core.MemoryTensors;
import ugm.core.UgmException;
import ugm.core.merge.methods.Method;

/** Parameters that leave a method's result undefined are refused before anything is read; the others merge. */
class UndefinedParametersTest {
    @Test
    void fisherRefusesWeightsSummingToZeroAsLinearDoes() {
        MemoryTensors m1 = tensor("m1", "w", DType.F32, new double[] {1, 2});
        MemoryTensors m2 = tensor("m2", "w", DType.F32, new double[] {3, 4});
        MemoryTensors f = tensor("f", "w", DType.F32, new double[] {0, 1});
        UgmException e = assertThrows(UgmException.class, () -> MergeRequest.builder(Method.FISHER).model(m1).model(m2)
                .fisher(f).fisher(f).weights(1f, -1f).build());
        assertEquals(UgmException.Kind.USAGE, e.kind());
        assertTrue(e.getMessage().startsWith("fisher needs weights that do not sum to 0"), e.getMessage());
        // as the kernels add them (0.1 + 0.2 is 0.3 in float32) and exactly
        assertThrows(UgmException.class, () -> MergeRequest.builder(Method.FISHER).model(m1).model(m2).model(m1)
                .fisher(f).fisher(f).fisher(f).weights(0.1f, 0.2f, -0.3f).build());
        MemoryTensors base = tensor("base", "w", DType.F32, new double[] {0, 0});
        UgmException b = assertThrows(UgmException.class, () -> MergeRequest.builder(Method.FISHER_WITH_BASE).base(base)
                .baseFisher(f).model(m1).model(m2).fisher(f).fisher(f).weights(-0.5f, -0.5f).build());
        assertTrue(b.getMessage().startsWith("fisher_with_base needs weights that do not sum to -1"), b.getMessage());
        // per tensor: a plan problem naming the tensor
        MergePlan plan = MergePlan.of(MergeRequest.builder(Method.FISHER).model(m1).model(m2).fisher(f).fisher(f)
                .weights(TensorParameter.of(1f), name -> -1f).build());
        assertEquals(1, plan.problems().size(), plan.problems()::toString);
        assertTrue(plan.problems().get(0).startsWith("tensor 'w': fisher needs weights that do not sum to 0"), plan.problems().get(0));
    }

    /** Weights of both signs that do not sum to 0 merge: the plain average where the weighted Fishers cancel, never NaN. */
    @Test
    void fisherWithWeightsOfBothSignsMatchesTheDoubleEvaluation() {
        Random r = new Random(3);
        int n = 3000;
        double[] x1 = gaussian(r, n, 0, 1);
        double[] x2 = gaussian(r, n, 0, 1);
        double[] h1 = new double[n];
        double[] h2 = new double[n];
        for (int i = 0; i < n; i++) {
            h1[i] = i % 3 == 0 ? 0 : Math.abs(r.nextGaussian());
            h2[i] = i % 3 == 0 ? 0 : i % 3 == 1 ? 2 * h1[i] : Math.abs(r.nextGaussian()); // 2·H1 − 1·H2 = 0 where i % 3 == 1
        }
        MergeReport[] report = new MergeReport[1];
        Map<String, MemorySegment> out = merge(MergeRequest.builder(Method.FISHER).model(tensor("m1", "w", DType.F32, x1))
                .model(tensor("m2", "w", DType.F32, x2)).fisher(tensor("f1", "w", DType.F32, h1))
                .fisher(tensor("f2", "w", DType.F32, h2)).weights(2f, -1f).build(), report);
        double[] got = Tensors.decode(DType.F32, out.get("w"));
        double[] want = new double[n];
        double[] sx1 = Tensors.stored(DType.F32, x1);
        double[] sx2 = Tensors.stored(DType.F32, x2);
        double[] sh1 = Tensors.stored(DType.F32, h1);
        double[] sh2 = Tensors.stored(DType.F32, h2);
        int tiny = 0;
        for (int i = 0; i < n; i++) {
            double den = 2 * sh1[i] - sh2[i];
            want[i] = den == 0 ? (2 * sx1[i] - sx2[i]) / 1 : (2 * sh1[i] * sx1[i] - sh2[i] * sx2[i]) / den;
            if (Math.abs(den) < 1e-3 * (2 * sh1[i] + sh2[i])) {
                want[i] = got[i]; // where the weighted Fishers nearly cancel, float rounding of the denominator dominates
                tiny++;
            }
        }
        assertTrue(tiny < n / 2);
        assertMatches("fisher (2, -1)", want, got, 1e-3, 1e-5);
        for (double v : got) {
            assertFalse(Double.isNaN(v));
        }
    }

    /** A lambda × weight beyond float32 (3e38 × 2): the kernels could not even hold the coefficient. */
    @Test
    void aCoefficientBeyondFloat32IsRefused() {
        MemoryTensors base = tensor("base", "w", DType.F32, new double[] {0, 1});
        MemoryTensors m = tensor("m", "w", DType.F32, new double[] {1, 2});
        UgmException e = assertThrows(UgmException.class, () -> MergeRequest.builder(Method.TASK_ARITHMETIC).base(base).model(m)
                .lambda(3e38f).weights(2f).build());
        assertEquals(UgmException.Kind.USAGE, e.kind());
        assertEquals("lambda × weight of model 1 (3.0E38 × 2.0) is beyond the float32 range ugm computes in (±3.4028235E38)",
                e.getMessage());
        UgmException g = assertThrows(UgmException.class, () -> MergeRequest.builder(Method.GRADIENT_MATCHING).base(base).model(m)
                .fisher(m).lambda(-2f).weights(3e38f).build());
        assertTrue(g.getMessage().startsWith("lambda × weight of model 1 (-2.0 × 3.0E38)"), g.getMessage());
        // per tensor: a plan problem naming the tensor
        MergePlan plan = MergePlan.of(MergeRequest.builder(Method.TASK_ARITHMETIC).base(base).model(m)
                .lambda(name -> 3e38f).weights(2f).build());
        assertEquals(List.of("tensor 'w': lambda × weight of model 1 (3.0E38 × 2.0) is beyond the float32 range ugm computes in"
                + " (±3.4028235E38)"), plan.problems());
    }
}
