package ugm.core.merge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import ugm.core.DType;
import ugm.core.MemoryTensors;
import ugm.core.merge.methods.Method;

/** ties_gradient_matching and dare_gradient_matching reduce to gradient_matching when nothing is dropped. */
class SparsifiedGradientMatchingTest {

    @Test
    void dareWithDensityOneIsGradientMatchingBitForBit() {
        MergerTest.Family f = new MergerTest.Family(3, 3, false);
        Map<String, MemorySegment> gm = MergerTest.run(f.request(Method.GRADIENT_MATCHING, true).weights(0.7f, 1.2f, 0.4f)
                .fisherScales(2f, 1f, 3f).delta0(1e-3f).build(), null);
        Map<String, MemorySegment> dare = MergerTest.run(f.request(Method.DARE_GRADIENT_MATCHING, true).weights(0.7f, 1.2f, 0.4f)
                .fisherScales(2f, 1f, 3f).delta0(1e-3f).densities(1f, 1f, 1f).build(), null);
        gm.forEach((name, bytes) -> assertEquals(-1, bytes.mismatch(dare.get(name)), name));
    }

    /**
     * Where Hbar is 0 (every Fisher 0, delta0 = 0) gradient matching falls back to task arithmetic;
     * the sparsified pass takes its numerators from the same definition, so with nothing dropped it
     * gives the same bits there too: on a family whose Fishers are all 0, and on one where a few
     * elements have every Fisher 0.
     */
    @Test
    void dareWithDensityOneIsGradientMatchingBitForBitWhereHbarFallsBack() {
        for (boolean zeroFishers : new boolean[] {true, false}) {
            MergerTest.Family f = new MergerTest.Family(5, 3, zeroFishers);
            Map<String, MemorySegment> gm = MergerTest.run(f.request(Method.GRADIENT_MATCHING, true).weights(0.7f, 1.2f, 0.4f)
                    .fisherScales(2f, 1f, 3f).delta0(0f).build(), null);
            Map<String, MemorySegment> dare = MergerTest.run(f.request(Method.DARE_GRADIENT_MATCHING, true).weights(0.7f, 1.2f, 0.4f)
                    .fisherScales(2f, 1f, 3f).delta0(0f).densities(1f, 1f, 1f).build(), null);
            gm.forEach((name, bytes) -> assertEquals(-1, bytes.mismatch(dare.get(name)), name + " zeroFishers=" + zeroFishers));
        }
    }

    /** Models whose task vectors all share one sign per element, with Fishers (some zero), odd size. */
    @Test
    void tiesWithDensityOneAndAgreeingSignsIsGradientMatchingBitForBit() {
        int n = 1001;
        Random r = new Random(8);
        MemoryTensors base = new MemoryTensors("base");
        MemoryTensors[] xs = {new MemoryTensors("x0"), new MemoryTensors("x1")};
        MemoryTensors[] hs = {new MemoryTensors("h0"), new MemoryTensors("h1")};
        double[] b = new double[n];
        double[][] x = new double[2][n];
        double[][] h = new double[2][n];
        for (int j = 0; j < n; j++) {
            b[j] = r.nextGaussian();
            double sign = r.nextBoolean() ? 1 : -1;
            for (int i = 0; i < 2; i++) {
                x[i][j] = b[j] + sign * (0.01 + Math.abs(r.nextGaussian()) * 0.1);
                h[i][j] = r.nextInt(4) == 0 ? 0 : Math.abs(r.nextGaussian());
            }
        }
        Tensors.add(base, "w", DType.F32, b);
        for (int i = 0; i < 2; i++) {
            Tensors.add(xs[i], "w", DType.F32, x[i]);
            Tensors.add(hs[i], "w", DType.F32, h[i]);
        }
        Map<String, MemorySegment> gm = MergerTest.run(request(Method.GRADIENT_MATCHING, base, xs, hs).build(), null);
        Map<String, MemorySegment> ties = MergerTest.run(request(Method.TIES_GRADIENT_MATCHING, base, xs, hs).build(), null);
        assertEquals(-1, gm.get("w").mismatch(ties.get("w")));
        // And density < 1 really drops updates: the result moves towards the base.
        Map<String, MemorySegment> half = MergerTest.run(request(Method.TIES_GRADIENT_MATCHING, base, xs, hs)
                .densities(0.5f, 0.5f).build(), null);
        double[] full = Tensors.decode(DType.F32, gm.get("w"));
        double[] cut = Tensors.decode(DType.F32, half.get("w"));
        long atBase = 0;
        for (int j = 0; j < n; j++) {
            assertTrue(Math.abs(cut[j] - b[j]) <= Math.abs(full[j] - b[j]) + 1e-6, "element " + j);
            atBase += cut[j] == (float) b[j] ? 1 : 0;
        }
        assertTrue(atBase > 0, "some elements lose every update");
    }

    private static MergeRequest.Builder request(Method m, MemoryTensors base, MemoryTensors[] xs, MemoryTensors[] hs) {
        MergeRequest.Builder r = MergeRequest.builder(m).base(base).weights(0.8f, 1.1f).delta0(0.05f).chunkElements(64).threads(2);
        for (int i = 0; i < xs.length; i++) {
            r.model(xs[i]).fisher(hs[i]);
        }
        return r;
    }
}
