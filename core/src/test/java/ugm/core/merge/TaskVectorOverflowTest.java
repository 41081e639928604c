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
import ugm.core.OutOfRange;
import ugm.core.merge.methods.Method;

/**
 * The task-vector family, model_stock and sparsified gradient matching where θ_t − θ0 or the
 * gradient-matching terms overflow float32, and tensors with no elements.
 */
class TaskVectorOverflowTest {
    /**
     * A base of -3e38 and models near +3e38: θ_t − θ0 overflows float32 while every result is a
     * float. The task-vector methods, model_stock and sparsified gradient matching give the double
     * evaluation.
     */
    @Test
    void taskVectorsBeyondTheFloatRangeStillMergeExactly() {
        int n = 64;
        double[] b = new double[n];
        double[] x1 = new double[n];
        double[] x2 = new double[n];
        for (int i = 0; i < n; i++) {
            b[i] = i % 2 == 0 ? -3e38 : 0.5;
            x1[i] = i % 2 == 0 ? 3e38 : 0.75;
            x2[i] = i % 2 == 0 ? 2.5e38 : 0.25;
        }
        double[] sb = Tensors.stored(DType.F32, b);
        double[] s1 = Tensors.stored(DType.F32, x1);
        double[] s2 = Tensors.stored(DType.F32, x2);
        MemoryTensors base = tensor("base", "w", DType.F32, b);
        MemoryTensors m1 = tensor("m1", "w", DType.F32, x1);
        MemoryTensors m2 = tensor("m2", "w", DType.F32, x2);
        // ties with density 1 and normalize: b + (Δ1 + Δ2) / 2 where the signs agree
        double[] want = new double[n];
        for (int i = 0; i < n; i++) {
            double d1 = s1[i] - sb[i];
            double d2 = s2[i] - sb[i];
            want[i] = Math.signum(d1) == Math.signum(d2) ? sb[i] + (d1 + d2) / 2 : Double.NaN;
        }
        MergeReport[] report = new MergeReport[1];
        double[] ties = Tensors.decode(DType.F32, merge(MergeRequest.builder(Method.TIES).base(base).model(m1).model(m2).build(),
                report).get("w"));
        assertMatches("ties", keepDefined(want, ties), ties, 1e-6, 0);
        assertEquals(List.of(), report[0].nonFinite());
        // dare_linear with density 1 (nothing dropped): b + Δ1 + Δ2, beyond the range where both deltas are near 6e38
        for (int i = 0; i < n; i++) {
            want[i] = sb[i] + (s1[i] - sb[i]) + (s2[i] - sb[i]);
        }
        double[] dare = Tensors.decode(DType.F32, merge(MergeRequest.builder(Method.DARE_LINEAR).base(base).model(m1).model(m2)
                .densities(1f, 1f).build(), report).get("w"));
        assertEquals(n / 2, assertMatches("dare_linear", want, dare, 1e-6, 0));
        assertEquals(List.of(new OutOfRange("w", DType.F32, n / 2, 0)), report[0].nonFinite());
        // breadcrumbs keeping 90% with rescale: the L1 norms are taken in double
        double[] crumbs = Tensors.decode(DType.F32, merge(MergeRequest.builder(Method.BREADCRUMBS).base(base).model(m1)
                .densities(0.9f).gammas(0.05f).lambda(0.5f).rescale(true).build(), report).get("w"));
        for (double v : crumbs) {
            assertTrue(Double.isFinite(v), "breadcrumbs " + v);
        }
        // model_stock over the whole tensor, against the double evaluation
        double[] stock = Tensors.decode(DType.F32, merge(MergeRequest.builder(Method.MODEL_STOCK).base(base).model(m1).model(m2)
                .build(), report).get("w"));
        assertMatches("model_stock", ModelStockCancelTest.modelStockRow(b, new double[][] {x1, x2}, 0, n), stock, 1e-6, 1e-30);
    }

    private static double[] keepDefined(double[] want, double[] got) {
        double[] w = want.clone();
        for (int i = 0; i < w.length; i++) {
            if (Double.isNaN(w[i])) {
                w[i] = got[i];
            }
        }
        return w;
    }

    /** Sparsified gradient matching where the float terms overflow: with density 1 it is gradient matching, bit for bit. */
    @Test
    void sparsifiedGradientMatchingOverflowsLikeGradientMatching() {
        Random r = new Random(31);
        int n = 3000;
        double[] b = gaussian(r, n, 0, 0.02);
        double[] x1 = gaussian(r, n, 0.01, 0.02);
        double[] x2 = gaussian(r, n, 0.01, 0.02);
        double[] h1 = new double[n];
        double[] h2 = new double[n];
        for (int i = 0; i < n; i++) {
            h1[i] = i % 2 == 0 ? 3e38 : Math.abs(r.nextGaussian());
            h2[i] = i % 3 == 0 ? 3.3e38 : Math.abs(r.nextGaussian());
        }
        List<MemoryTensors> in = List.of(tensor("base", "w", DType.F32, b), tensor("m1", "w", DType.F32, x1),
                tensor("m2", "w", DType.F32, x2), tensor("h1", "w", DType.F32, h1), tensor("h2", "w", DType.F32, h2));
        MemorySegment gm = merge(MergeRequest.builder(Method.GRADIENT_MATCHING).base(in.get(0)).model(in.get(1)).model(in.get(2))
                .fisher(in.get(3)).fisher(in.get(4)).delta0(1e-6f).build(), new MergeReport[1]).get("w");
        double[] gmValues = Tensors.decode(DType.F32, gm);
        for (double v : gmValues) {
            assertTrue(Double.isFinite(v));
        }
        MemorySegment dare = merge(MergeRequest.builder(Method.DARE_GRADIENT_MATCHING).base(in.get(0)).model(in.get(1))
                .model(in.get(2)).fisher(in.get(3)).fisher(in.get(4)).delta0(1e-6f).densities(1f, 1f).build(), new MergeReport[1]).get("w");
        assertEquals(-1, gm.mismatch(dare), "dare_gradient_matching at density 1");
        for (Method m : new Method[] {Method.TIES_GRADIENT_MATCHING, Method.DARE_GRADIENT_MATCHING}) {
            MergeReport[] report = new MergeReport[1];
            double[] half = Tensors.decode(DType.F32, merge(MergeRequest.builder(m).base(in.get(0)).model(in.get(1)).model(in.get(2))
                    .fisher(in.get(3)).fisher(in.get(4)).delta0(1e-6f).densities(0.5f, 0.5f).build(), report).get("w"));
            for (int i = 0; i < n; i++) {
                assertTrue(Double.isFinite(half[i]), m + " element " + i + " is " + half[i]);
            }
            assertEquals(List.of(), report[0].nonFinite(), m.id());
        }
    }

    @Test
    void tiesMergesTensorsWithNoElements() {
        for (Method m : new Method[] {Method.TIES, Method.TIES_GRADIENT_MATCHING, Method.BREADCRUMBS, Method.DELLA}) {
            MemoryTensors base = new MemoryTensors("base");
            MemoryTensors x = new MemoryTensors("m");
            MemoryTensors h = new MemoryTensors("h");
            for (MemoryTensors t : List.of(base, x, h)) {
                t.add("empty", DType.F32, new long[] {0}, Tensors.encode(DType.F32, new double[0]));
                t.add("empty2d", DType.BF16, new long[] {0, 4}, Tensors.encode(DType.BF16, new double[0]));
                t.add("w", DType.F32, new long[] {4}, Tensors.encode(DType.F32, new double[] {1, 2, 3, 4}));
            }
            MergeRequest.Builder req = MergeRequest.builder(m).base(base).model(x).densities(0.5f);
            if (m.needsFishers()) {
                req.fisher(h);
            }
            MergePlan plan = MergePlan.of(req.build());
            assertEquals(List.of(), plan.problems(), m.id());
            Map<String, MemorySegment> out = merge(req.build(), new MergeReport[1]);
            assertEquals(0, out.get("empty").byteSize());
            assertEquals(0, out.get("empty2d").byteSize());
            assertEquals(16, out.get("w").byteSize());
        }
    }
}
