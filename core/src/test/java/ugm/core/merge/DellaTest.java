package ugm.core.merge;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Comparator;
import java.util.Map;
import java.util.Random;
import java.util.stream.IntStream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;
import ugm.core.DType;
import ugm.core.MemoryTensors;
import ugm.core.UgmException;
import ugm.core.merge.methods.Method;
import ugm.core.merge.sparsify.CounterRandom;

/** della and della_linear against a double-precision twin that sorts each row, plus their statistics. */
class DellaTest {
    /** Shapes: 1-D, small 2-D, rows longer than a block, many short rows, a row of one element. */
    private static final long[][] SHAPES = {{7}, {5, 9}, {3, 301}, {2, 4099}, {13, 333}, {11, 1}};


    /** Which elements survive, row by row: sort the row by |Δ| ascending (equal |Δ|: higher index first), p from the rank. */
    static boolean[] twinKeep(float[] d, int cols, double density, double eps, long seed, String name, int model) {
        boolean[] keep = new boolean[d.length];
        CounterRandom rng = new CounterRandom(seed, name, model);
        for (int start = 0; start < d.length; start += cols) {
            int s = start;
            Integer[] order = IntStream.range(0, cols).boxed().toArray(Integer[]::new);
            Arrays.sort(order, Comparator.<Integer>comparingDouble(j -> Math.abs(d[s + j])).thenComparing(j -> -j));
            for (int pos = 0; pos < cols; pos++) {
                double rank = pos + 1;
                double rankNorm = cols == 1 ? 0.5 : (rank - 1) / (cols - 1.0);
                double p = density - eps + rankNorm * 2 * eps;
                keep[s + order[pos]] = rng.uniform(s + order[pos]) < p;
            }
        }
        return keep;
    }

    /** The task-vector family of docs/mergekit-methods.md with della_magprune, in double. */
    static double[] twin(double[] b, double[][] x, int cols, double[] w, double[] density, double[] eps, boolean consensus,
                         boolean normalize, boolean rescale, double lambda, long seed, String name) {
        return TaskVectorMethodsTest.mix(b, x, w, (d, i) -> twinKeep(d, cols, density[i], eps[i], seed, name, i),
                i -> rescale, consensus, normalize, lambda);
    }

    /** Weights exact in float, so that an exact tie of the sign vote (BF16 makes them) is one in the twin too. */
    private static void compare(Method m, boolean consensus, boolean normalize, boolean rescale, DType type) {
        TaskFamily f = TaskFamily.of(m.ordinal() * 17L + type.ordinal() + (rescale ? 1 : 0), 3, type, SHAPES);
        MergeRequest r = f.request(m).weights(0.875f, 0.5f, 1.25f).densities(0.4f, 0.7f, 0.55f).epsilons(0.15f, 0.2f, 0.05f)
                .normalize(normalize).rescale(rescale).lambda(1.5f).seed(7).build();
        Map<String, MemorySegment> out = MergerTest.run(r, null);
        for (long[] shape : SHAPES) {
            String name = TaskFamily.name(shape);
            int cols = (int) shape[shape.length - 1];
            double[] e = twin(f.b().get(name), f.x().get(name), cols, new double[] {0.875, 0.5, 1.25}, new double[] {0.4, 0.7, 0.55},
                    new double[] {0.15, 0.2, 0.05}, consensus, normalize, rescale, 1.5, 7, name);
            double[] got = Tensors.decode(type, out.get(name));
            for (int j = 0; j < got.length; j++) {
                int jj = j;
                assertTrue(Tensors.ulps(type, got[j], e[j]) <= 1.0 || Math.abs(got[j] - e[j]) < 1e-6,
                        () -> m + " " + name + "[" + jj + "] = " + got[jj] + ", expected " + e[jj]);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"F32", "BF16"})
    void dellaMatchesTwin(String type) {
        compare(Method.DELLA, true, true, true, DType.valueOf(type));
        compare(Method.DELLA, true, false, false, DType.valueOf(type));
        compare(Method.DELLA_LINEAR, false, false, true, DType.valueOf(type));
    }

    @Test
    void rowsWithTiesRankAsTheTwin() {
        Random r = new Random(4);
        int rows = 3;
        int cols = 4099;
        float[] d = new float[rows * cols];
        for (int j = 0; j < d.length; j++) {
            d[j] = (r.nextInt(41) - 20) / 64f; // few distinct magnitudes: long runs of ties
        }
        boolean[] expected = twinKeep(d, cols, 0.5, 0.3, 3, "w", 1);
        ugm.core.merge.sparsify.MagnitudeRows rows3 = new ugm.core.merge.sparsify.MagnitudeRows(cols, 4096, 0.5, 0.3,
                new CounterRandom(3, "w", 1), () -> (from, n, out) -> System.arraycopy(d, (int) from, out, 0, n));
        for (int j = d.length - 1; j >= 0; j--) {
            assertEquals(expected[j], rows3.keeps(j), "element " + j);
        }
    }

    @Test
    void defaultsAreMergekits() {
        TaskFamily f = TaskFamily.of(3, 2, DType.F32, SHAPES);
        // della: normalize and rescale on, epsilon 0.15; della_linear: rescale on, normalize off
        Map<String, MemorySegment> della = MergerTest.run(f.request(Method.DELLA).weights(1f, 0.5f).densities(0.5f, 0.6f).seed(1).build(), null);
        Map<String, MemorySegment> linear = MergerTest.run(f.request(Method.DELLA_LINEAR).weights(1f, 0.5f).densities(0.5f, 0.6f)
                .normalize(false).seed(1).build(), null);
        String name = TaskFamily.name(SHAPES[4]);
        double[] w = {1, 0.5};
        double[] d = {0.5, 0.6};
        double[] e = {0.15, 0.15};
        double[] ed = twin(f.b().get(name), f.x().get(name), 333, w, d, e, true, true, true, 1, 1, name);
        double[] el = twin(f.b().get(name), f.x().get(name), 333, w, d, e, false, false, true, 1, 1, name);
        double[] gd = Tensors.decode(DType.F32, della.get(name));
        double[] gl = Tensors.decode(DType.F32, linear.get(name));
        for (int j = 0; j < gd.length; j++) {
            assertEquals(ed[j], gd[j], 1e-6 * Math.max(1, Math.abs(ed[j])), "della " + j);
            assertEquals(el[j], gl[j], 1e-6 * Math.max(1, Math.abs(el[j])), "della_linear " + j);
        }
    }

    @Test
    void bytesDoNotDependOnThreadsOrChunks() {
        TaskFamily f = TaskFamily.of(11, 2, DType.F32, SHAPES);
        Map<String, MemorySegment> a = MergerTest.run(f.request(Method.DELLA).threads(1).chunkElements(16384)
                .densities(0.3f, 0.6f).seed(42).build(), null);
        Map<String, MemorySegment> b = MergerTest.run(f.request(Method.DELLA).threads(4).chunkElements(64)
                .densities(0.3f, 0.6f).seed(42).build(), null);
        Map<String, MemorySegment> c = MergerTest.run(f.request(Method.DELLA).threads(4).chunkElements(64)
                .densities(0.3f, 0.6f).seed(43).build(), null);
        for (long[] shape : SHAPES) {
            assertEquals(-1, a.get(TaskFamily.name(shape)).mismatch(b.get(TaskFamily.name(shape))), TaskFamily.name(shape));
        }
        assertTrue(a.get(TaskFamily.name(SHAPES[3])).mismatch(c.get(TaskFamily.name(SHAPES[3]))) >= 0, "another seed drops other elements");
    }

    /** One model on a zero base, della_linear: the output is the model's sparsified (and maybe rescaled) Δ. */
    private static double[] single(int rows, int cols, double[] d, float density, float eps, boolean rescale) {
        MemoryTensors base = new MemoryTensors("base").add("w", DType.F32, new long[] {rows, cols},
                Tensors.encode(DType.F32, new double[d.length]));
        MemoryTensors x = new MemoryTensors("x").add("w", DType.F32, new long[] {rows, cols}, Tensors.encode(DType.F32, d));
        MergeRequest r = MergeRequest.builder(Method.DELLA_LINEAR).base(base).model(x).densities(density).epsilons(eps)
                .rescale(rescale).normalize(false).seed(5).threads(2).build();
        return Tensors.decode(DType.F32, MergerTest.run(r, null).get("w"));
    }

    @Test
    void keptFractionAndRankPreferenceWithinStatisticalBounds() {
        int rows = 201;
        int cols = 199;
        Random r = new Random(8);
        double[] d = new double[rows * cols];
        for (int j = 0; j < d.length; j++) {
            d[j] = r.nextGaussian();
        }
        double density = 0.4;
        double eps = 0.2;
        double[] got = single(rows, cols, d, 0.4f, 0.2f, false);
        // per row: p runs linearly from 0.2 (smallest |Δ|) to 0.6 (largest); the mean is the density
        long kept = 0;
        long keptTop = 0;
        long keptBottom = 0;
        double varAll = 0;
        double meanTop = 0;
        double meanBottom = 0;
        double varHalf = 0;
        for (int row = 0; row < rows; row++) {
            double[] abs = new double[cols];
            for (int c = 0; c < cols; c++) {
                abs[c] = Math.abs((float) d[row * cols + c]);
            }
            double[] sorted = abs.clone();
            Arrays.sort(sorted);
            double median = sorted[cols / 2];
            for (int c = 0; c < cols; c++) {
                boolean k = got[row * cols + c] != 0;
                kept += k ? 1 : 0;
                keptTop += k && abs[c] > median ? 1 : 0;
                keptBottom += k && abs[c] < median ? 1 : 0;
            }
            for (int p = 0; p < cols; p++) {
                double q = density - eps + 2 * eps * p / (cols - 1.0);
                varAll += q * (1 - q);
                if (p != cols / 2) {
                    varHalf += q * (1 - q) / 2;
                    if (p > cols / 2) {
                        meanTop += q;
                    } else {
                        meanBottom += q;
                    }
                }
            }
        }
        double n = (double) rows * cols;
        assertTrue(Math.abs(kept - n * density) < 5 * Math.sqrt(varAll), kept + " kept of " + n);
        assertTrue(Math.abs(keptTop - meanTop) < 5 * Math.sqrt(varHalf), keptTop + " of the larger halves, expected " + meanTop);
        assertTrue(Math.abs(keptBottom - meanBottom) < 5 * Math.sqrt(varHalf), keptBottom + " of the smaller halves, expected " + meanBottom);
        for (int j = 0; j < d.length; j++) {
            assertTrue(got[j] == 0 || got[j] == (float) d[j], "element " + j + " is kept as is or dropped");
        }
    }

    @Test
    void rescaleKeepsTheTensorsL1Norm() {
        int rows = 37;
        int cols = 101;
        Random r = new Random(9);
        double[] d = new double[rows * cols];
        for (int j = 0; j < d.length; j++) {
            d[j] = r.nextGaussian() * (1 + j % 7);
        }
        double[] got = single(rows, cols, d, 0.3f, 0.1f, true);
        double l1In = Arrays.stream(Tensors.stored(DType.F32, d)).map(Math::abs).sum();
        assertEquals(l1In, Arrays.stream(got).map(Math::abs).sum(), 1e-5 * l1In);
        // the factor is one for the whole tensor, not one per row: rows keep different L1 norms
        double spread = 0;
        for (int row = 0; row < rows; row++) {
            double in = 0;
            double out = 0;
            for (int c = 0; c < cols; c++) {
                in += Math.abs((float) d[row * cols + c]);
                out += Math.abs(got[row * cols + c]);
            }
            spread = Math.max(spread, Math.abs(out / in - 1));
        }
        assertTrue(spread > 1e-3, "rows are not rescaled one by one");
        assertArrayEquals(Tensors.stored(DType.F32, d), single(rows, cols, d, 1f, 0.1f, true));
    }

    @Test
    void densityAndEpsilonOutOfRangeNameTheTensor() {
        double[] d = new double[12];
        Arrays.fill(d, 1);
        UgmException e = assertThrows(UgmException.class, () -> single(3, 4, d, 0.1f, 0.15f, true));
        assertTrue(e.getMessage().contains("tensor 'w'") && e.getMessage().contains("epsilon"), e.getMessage());
        assertEquals(1, e.getMessage().lines().count(), e.getMessage());
        assertThrows(UgmException.class, () -> single(3, 4, d, 0.9f, 0.15f, true));
        double[] none = single(3, 4, d, 0f, 0.15f, true);
        assertArrayEquals(new double[12], none, "density 0 keeps nothing, as in mergekit");
    }
}
