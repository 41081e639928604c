package ugm.core.merge;

import static org.junit.jupiter.api.Assertions.assertEquals;
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
import ugm.core.merge.methods.Method;

/** Negative gradient-matching weights subtract their tasks, as remove does, with its safeguard. */
class NegativeWeightsTest {
    /**
     * A negative weight subtracts its task exactly as remove does: weight -1 gives the bytes of
     * remove with weight 1 (and remove with weight -1 those of weight 1), on the one-dtype families
     * the direct kernel serves too; the plan says so once.
     */
    @Test
    void aNegativeWeightIsRemovalByteForByte() {
        Random r = new Random(13);
        int n = 3000;
        double[] b = gaussian(r, n, 0, 0.05);
        double[] x = gaussian(r, n, 0, 0.05);
        double[] h0 = new double[n];
        double[] h = new double[n];
        for (int i = 0; i < n; i++) {
            h0[i] = Math.abs(r.nextGaussian()) * 1e-3;
            h[i] = Math.abs(r.nextGaussian()) * 1e-2;
        }
        for (DType type : new DType[] {DType.BF16, DType.F32, DType.F16}) {
            MemoryTensors base = tensor("base", "w", type, b);
            MemoryTensors bf = tensor("h0", "w", type, h0);
            MemoryTensors m = tensor("m", "w", type, x);
            MemoryTensors f = tensor("h", "w", type, h);
            MergeReport[] negative = new MergeReport[1];
            MergeReport[] removal = new MergeReport[1];
            MergeRequest.Builder minus = MergeRequest.builder(Method.GRADIENT_MATCHING).base(base).baseFisher(bf).model(m).fisher(f)
                    .weights(-1f).fisherScales(30f);
            MemorySegment a = merge(minus.build(), negative).get("w");
            MemorySegment c = merge(MergeRequest.builder(Method.GRADIENT_MATCHING).base(base).baseFisher(bf).model(m).fisher(f)
                    .weights(1f).fisherScales(30f).remove(true).build(), removal).get("w");
            assertEquals(-1, a.mismatch(c), type + ": weight -1 against remove");
            assertTrue(negative[0].clampedElements() > 100, "clamped " + negative[0].clampedElements());
            assertEquals(removal[0].clampedElements(), negative[0].clampedElements());
            MemorySegment plus = merge(MergeRequest.builder(Method.GRADIENT_MATCHING).base(base).baseFisher(bf).model(m).fisher(f)
                    .fisherScales(30f).build(), new MergeReport[1]).get("w");
            MemorySegment doubleNegative = merge(MergeRequest.builder(Method.GRADIENT_MATCHING).base(base).baseFisher(bf).model(m)
                    .fisher(f).weights(-1f).fisherScales(30f).remove(true).build(), new MergeReport[1]).get("w");
            assertEquals(-1, plus.mismatch(doubleNegative), type + ": remove with weight -1 adds the task");
            List<String> warnings = MergePlan.of(minus.build()).warnings();
            assertEquals(List.of("gradient_matching: model 1 (lambda × weight = -1.0) has a negative weight, so its task is subtracted,"
                    + " as remove subtracts tasks: Hbar is clamped from below at clamp (0.1) × the precision of the added part"
                    + " (P0 + Σ α_t·s_t·H_t over the α_t > 0), and the merge reports how many elements were clamped"), warnings);
        }
    }

    /**
     * Adding one task and subtracting another in one merge: Hbar is clamped at a tenth of the
     * precision of what is added (P0 is tiny here: a clamp relative to P0 alone would bound
     * nothing), so a small Hbar no longer amplifies the step without bound; against the double
     * evaluation of the documented rule, written out here.
     */
    @Test
    void mixedSignsClampHbarAtAFractionOfTheAddedPrecision() {
        Random r = new Random(17);
        int n = 4000;
        double[] b = gaussian(r, n, 0, 0.05);
        double[] x1 = gaussian(r, n, 0, 0.05);
        double[] x2 = gaussian(r, n, 0, 0.05);
        double[] h1 = new double[n];
        double[] h2 = new double[n];
        for (int i = 0; i < n; i++) {
            h1[i] = Math.abs(r.nextGaussian()) * 1e-2;
            h2[i] = i % 7 == 0 ? h1[i] : Math.abs(r.nextGaussian()) * 1e-2; // equal Fishers: Hbar = P0 alone
        }
        MergeReport[] report = new MergeReport[1];
        Map<String, MemorySegment> out = merge(MergeRequest.builder(Method.GRADIENT_MATCHING).base(tensor("base", "w", DType.F32, b))
                .model(tensor("m1", "w", DType.F32, x1)).model(tensor("m2", "w", DType.F32, x2))
                .fisher(tensor("h1", "w", DType.F32, h1)).fisher(tensor("h2", "w", DType.F32, h2)).weights(1f, -1f)
                .delta0(1e-12f).build(), report);
        double[] got = Tensors.decode(DType.F32, out.get("w"));
        double[] sh1 = Tensors.stored(DType.F32, h1);
        double[] sh2 = Tensors.stored(DType.F32, h2);
        double[] want = new double[n];
        long clamped = 0;
        for (int i = 0; i < n; i++) {
            // the rule, written out: a = (1, -1), P0 = delta0, K = P0 + H1, Hbar = max(P0 + H1 - H2, 0.1·K)
            double p0 = (double) 1e-12f;
            double kept = p0 + sh1[i];
            double hbar = p0 + sh1[i] - sh2[i];
            if (hbar < 0.1f * kept) {
                hbar = 0.1f * kept;
                clamped++;
            }
            want[i] = (float) b[i] + ((p0 + sh1[i]) * ((float) x1[i] - (float) b[i]) - (p0 + sh2[i]) * ((float) x2[i] - (float) b[i])) / hbar;
        }
        assertMatches("weights (1, -1)", want, got, 1e-4, 1e-6);
        assertEquals(clamped, report[0].clampedElements(), 5);
        assertTrue(clamped > 1000, "clamped " + clamped);
    }
}
