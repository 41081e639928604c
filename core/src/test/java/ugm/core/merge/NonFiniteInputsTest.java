package ugm.core.merge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import ugm.core.DType;
import ugm.core.MemoryTensors;
import ugm.core.TensorSink;
import ugm.core.merge.MergeReport.NonFinite;
import ugm.core.merge.methods.Method;

/** NaN and infinity in inputs are counted per tensor and input for the report; finite inputs never give NaN. */
class NonFiniteInputsTest {

    static final int A = 1000;
    static final int B = 5000;

    static double[] values(Random r, int n, double center, double spread) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = center + r.nextGaussian() * spread;
        }
        return v;
    }

    static Map<String, MemorySegment> merge(MergeRequest request, MergeReport[] report) {
        Map<String, MemorySegment> out = new HashMap<>();
        TensorSink sink = t -> out.computeIfAbsent(t.name(), k -> Arena.ofAuto().allocate(t.byteSize(), 8));
        report[0] = Merger.merge(request, sink);
        return out;
    }

    @Test
    void nanAndInfinityInInputsAreCountedPerTensorAndInput() {
        Random r = new Random(7);
        MemoryTensors base = new MemoryTensors("base");
        MemoryTensors m1 = new MemoryTensors("model-1");
        MemoryTensors m2 = new MemoryTensors("model-2");
        MemoryTensors f1 = new MemoryTensors("fisher-1");
        MemoryTensors f2 = new MemoryTensors("fisher-2");
        double[] baseA = values(r, A, 0, 1);
        baseA[999] = Double.POSITIVE_INFINITY;
        Tensors.add(base, "a", DType.F32, baseA);
        Tensors.add(base, "b", DType.F32, values(r, B, 0, 1));
        Tensors.add(m1, "a", DType.BF16, values(r, A, 0, 1));
        double[] m1b = values(r, B, 0, 1);
        m1b[0] = Double.NaN;
        m1b[600] = Double.NaN;
        m1b[4999] = Double.NaN;
        m1b[2000] = Double.NEGATIVE_INFINITY;
        m1b[2001] = Double.POSITIVE_INFINITY;
        Tensors.add(m1, "b", DType.BF16, m1b);
        Tensors.add(m2, "a", DType.F32, values(r, A, 0, 1));
        Tensors.add(m2, "b", DType.F16, values(r, B, 0, 1));
        Tensors.add(f1, "a", DType.F32, values(r, A, 2, 0.1));
        Tensors.add(f1, "b", DType.F32, values(r, B, 2, 0.1));
        double[] f2a = values(r, A, 2, 0.1);
        f2a[3] = Double.POSITIVE_INFINITY;
        Tensors.add(f2, "a", DType.F32, f2a);
        Tensors.add(f2, "b", DType.F32, values(r, B, 2, 0.1));

        for (int threads : new int[] {1, 2}) {
            MergeReport[] report = new MergeReport[1];
            Map<String, MemorySegment> out = merge(MergeRequest.builder(Method.GRADIENT_MATCHING).base(base).model(m1).model(m2)
                    .fisher(f1).fisher(f2).delta0(1e-3f).threads(threads).chunkElements(64).build(), report);
            assertEquals(List.of(new NonFinite("a", "fisher-2", 0, 1), new NonFinite("a", "base", 0, 1),
                    new NonFinite("b", "model-1", 3, 2)), report[0].nonFinite());
            assertEquals("tensor 'b' in model-1: 3 NaN and 2 infinite input values", report[0].nonFinite().get(2).toString());
            // Elements whose inputs are all finite stay finite.
            double[] b = Tensors.decode(DType.F32, out.get("b"));
            for (int i = 0; i < B; i++) {
                if (Double.isFinite(m1b[i])) {
                    assertTrue(Double.isFinite(b[i]), "b[" + i + "] = " + b[i]);
                }
            }
            assertTrue(Double.isNaN(b[600]));
        }

        MergeReport[] report = new MergeReport[1];
        merge(MergeRequest.builder(Method.TASK_ARITHMETIC).base(base).model(m1).model(m2).build(), report);
        assertEquals(List.of(new NonFinite("a", "base", 0, 1), new NonFinite("b", "model-1", 3, 2)), report[0].nonFinite());
    }

    /**
     * Inputs of one dtype with a base Fisher take the direct kernel; blocks holding NaN or
     * infinity are handed to the general path, which counts them, and the finite elements around
     * them still follow docs/method.md (checked against a double evaluation).
     */
    @Test
    void oneDtypeFamiliesStillCountNonFiniteInputsAndMergeTheRest() {
        for (DType type : new DType[] {DType.BF16, DType.F32}) {
            Random r = new Random(11);
            double[] b = values(r, B, 0, 0.02);
            double[] h0 = values(r, B, 0, 1e-3);
            double[] x1 = values(r, B, 0, 0.02);
            double[] x2 = values(r, B, 0, 0.02);
            double[] h1 = values(r, B, 0, 1e-3);
            double[] h2 = values(r, B, 0, 1e-3);
            for (double[] h : new double[][] {h0, h1, h2}) {
                for (int i = 0; i < B; i++) {
                    h[i] = i % 9 == 0 ? 0 : Math.abs(h[i]); // exact zeros: with delta0 = 0, Hbar is 0 where all are
                }
            }
            x1[0] = Double.NaN;
            x1[600] = Double.POSITIVE_INFINITY;
            x1[4999] = Double.NaN;
            MemoryTensors base = Tensors.add(new MemoryTensors("base"), "w", type, b);
            MemoryTensors bf = Tensors.add(new MemoryTensors("base-fisher"), "w", type, h0);
            MemoryTensors m1 = Tensors.add(new MemoryTensors("model-1"), "w", type, x1);
            MemoryTensors m2 = Tensors.add(new MemoryTensors("model-2"), "w", type, x2);
            MemoryTensors f1 = Tensors.add(new MemoryTensors("fisher-1"), "w", type, h1);
            MemoryTensors f2 = Tensors.add(new MemoryTensors("fisher-2"), "w", type, h2);
            for (int threads : new int[] {1, 2}) {
                MergeReport[] report = new MergeReport[1];
                Map<String, MemorySegment> out = merge(MergeRequest.builder(Method.GRADIENT_MATCHING).base(base).baseFisher(bf)
                        .model(m1).model(m2).fisher(f1).fisher(f2).weights(0.6f, 0.4f).delta0(0f).threads(threads)
                        .chunkElements(1024).build(), report);
                assertEquals(List.of(new NonFinite("w", "model-1", 2, 1)), report[0].nonFinite(), type + " threads " + threads);
                double[] got = Tensors.decode(type, out.get("w"));
                double[] sb = Tensors.stored(type, b);
                double[] sh0 = Tensors.stored(type, h0);
                double[][] sx = {Tensors.stored(type, x1), Tensors.stored(type, x2)};
                double[][] sh = {Tensors.stored(type, h1), Tensors.stored(type, h2)};
                Reference.Params p = new Reference.Params(new double[] {0.6, 0.4}, 1, new double[] {1, 1}, 1, 0, false, 0,
                        false, true);
                int fallbacks = 0;
                for (int i = 0; i < B; i++) {
                    if (i == 0 || i == 600 || i == 4999) {
                        assertFalse(Double.isFinite(got[i]), type + " element " + i);
                        continue;
                    }
                    double want = Reference.value(Method.GRADIENT_MATCHING, p, sb[i], sh0[i],
                            new double[] {sx[0][i], sx[1][i]}, new double[] {sh[0][i], sh[1][i]}, new long[1]);
                    fallbacks += i % 9 == 0 ? 1 : 0;
                    // output rounding, plus float32 rounding of the terms where they cancel
                    double terms = Math.abs(sb[i]) + Math.abs(sx[0][i]) + Math.abs(sx[1][i]);
                    double tolerance = (type == DType.BF16 ? 1.0 / 256 : 1e-7) * Math.abs(want) + 1e-6 * terms;
                    assertEquals(want, got[i], tolerance, type + " threads " + threads + " element " + i);
                }
                assertTrue(fallbacks > 500);
            }
        }
    }

    /** Degenerate but finite inputs: zero Fishers, zero prior, models equal to the base, removal, huge and tiny values. */
    @ParameterizedTest
    @EnumSource(Method.class)
    void finiteInputsNeverGiveNaN(Method m) {
        Random r = new Random(11);
        int n = 3000;
        MemoryTensors base = new MemoryTensors("base");
        MemoryTensors baseFisher = new MemoryTensors("base-fisher");
        MemoryTensors[] models = {new MemoryTensors("m1"), new MemoryTensors("m2")};
        MemoryTensors[] fishers = {new MemoryTensors("f1"), new MemoryTensors("f2")};
        double[] b = values(r, n, 0, 1);
        for (int i = 0; i < n; i += 7) {
            b[i] = i % 2 == 0 ? 1e30 : Float.MIN_VALUE;
        }
        Tensors.add(base, "w", DType.F32, b);
        Tensors.add(baseFisher, "w", DType.F32, new double[n]);
        for (int t = 0; t < 2; t++) {
            double[] x = b.clone();
            double[] h = new double[n];
            for (int i = 0; i < n; i++) {
                if (i % 3 != 0) {
                    x[i] += r.nextGaussian();
                }
                h[i] = i % 5 == 0 ? 0 : i % 5 == 1 ? Float.MIN_VALUE : i % 5 == 2 ? 1e30 : Math.abs(r.nextGaussian());
            }
            Tensors.add(models[t], "w", DType.F32, x);
            Tensors.add(fishers[t], "w", DType.F32, h);
        }
        for (boolean remove : new boolean[] {false, true}) {
            if (remove && !(m == Method.GRADIENT_MATCHING || m == Method.TASK_ARITHMETIC)) {
                continue;
            }
            MergeRequest.Builder req = MergeRequest.builder(m).base(base).remove(remove).outDtype(DType.F32);
            int count = m.modelCountProblem(2, true) == null ? 2 : 1; // slerp, nearswap, ... take one model beside the base
            for (int t = 0; t < count; t++) {
                req.model(models[t]);
                if (m.needsFishers()) {
                    req.fisher(fishers[t]);
                }
            }
            if (m.needsFishers()) {
                req.baseFisher(baseFisher);
            }
            MergeReport[] report = new MergeReport[1];
            double[] w = Tensors.decode(DType.F32, merge(req.build(), report).get("w"));
            assertEquals(List.of(), report[0].nonFinite());
            for (int i = 0; i < n; i++) {
                assertFalse(Double.isNaN(w[i]), m + (remove ? " removal" : "") + ": w[" + i + "] is NaN");
            }
        }
    }
}
