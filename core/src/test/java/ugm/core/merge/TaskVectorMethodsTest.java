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
import java.util.function.IntPredicate;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import ugm.core.DType;
import ugm.core.MemoryTensors;
import ugm.core.UgmException;
import ugm.core.merge.methods.Method;
import ugm.core.merge.sparsify.CounterRandom;

/** ties, dare_*, breadcrumbs*, slerp, model_stock, nearswap against mergekit's cases and a double-precision twin written here. */
class TaskVectorMethodsTest {
    private static final int[] SIZES = {3, 7, 301, 4099};
    private static final long[][] SHAPES = Arrays.stream(SIZES).mapToObj(n -> new long[] {n}).toArray(long[][]::new);

    // ---- public cases of docs/mergekit-methods.md (the YAML path repeats them in the cli tests) ----

    private static double[] merge(Method m, double[] base, double[][] xs, java.util.function.UnaryOperator<MergeRequest.Builder> opts) {
        MemoryTensors b = new MemoryTensors("base");
        Tensors.add(b, "w", DType.F32, base);
        MergeRequest.Builder r = MergeRequest.builder(m).base(b).threads(1);
        for (int i = 0; i < xs.length; i++) {
            MemoryTensors x = new MemoryTensors("m" + i);
            Tensors.add(x, "w", DType.F32, xs[i]);
            r.model(x);
        }
        return Tensors.decode(DType.F32, MergerTest.run(opts.apply(r).build(), null).get("w"));
    }

    private static void close(double[] expected, double[] got) {
        assertEquals(expected.length, got.length);
        for (int i = 0; i < got.length; i++) {
            assertEquals(expected[i], got[i], 1e-6 * Math.max(1, Math.abs(expected[i])), "element " + i + " of " + Arrays.toString(got));
        }
    }

    @Test
    void tiesPublicCases() {
        double[] zero = new double[4];
        double[][] xs = {{1, -2, 0.5, 0}, {-3, 1, 0.25, 1.5}};
        close(new double[] {-3, -2, 0.375, 1.5}, merge(Method.TIES, zero, xs, r -> r.weights(1, 1)));
        close(new double[] {-3, -2, 0.75, 1.5}, merge(Method.TIES, zero, xs, r -> r.weights(1, 1).normalize(false)));
        close(new double[] {-3, -2, 0.416667, 1.5}, merge(Method.TIES, zero, xs, r -> r.weights(2, 1)));
        close(new double[] {-3, -2, 0, 1.5}, merge(Method.TIES, zero, xs, r -> r.weights(1, 1).densities(0.5f, 0.5f)));
        close(new double[] {-3.833333, -2.333333, 0, 1.916667},
                merge(Method.TIES, zero, xs, r -> r.weights(1, 1).densities(0.5f, 0.5f).rescale(true)));
    }

    @Test
    void breadcrumbsPublicCase() {
        double[] d = {0.1, -0.2, 0.3, -0.4, 0.5, -0.6, 0.7, -0.8, 0.9, -1.0};
        close(new double[] {0, 0, 0.3, -0.4, 0.5, -0.6, 0.7, -0.8, 0.9, 0},
                merge(Method.BREADCRUMBS, new double[10], new double[][] {d}, r -> r.densities(0.7f).gammas(0.1f).normalize(false)));
    }

    @Test
    void slerpModelStockNearswapPublicCases() {
        close(new double[] {0.7071068, 1.4142135}, merge(Method.SLERP, new double[] {1, 0}, new double[][] {{0, 2}}, r -> r.t(0.5f)));
        close(new double[] {0.9238795, 0.7653669}, merge(Method.SLERP, new double[] {1, 0}, new double[][] {{0, 2}}, r -> r.t(0.25f)));
        close(new double[] {1.3, 1.3}, merge(Method.SLERP, new double[] {1, 1}, new double[][] {{2, 2}}, r -> r.t(0.3f)));
        close(new double[] {1, 0}, merge(Method.SLERP, new double[] {1, 0}, new double[][] {{0, 2}}, r -> r.t(0f)));
        close(new double[] {1.8284271, 1.4142135, 1, 1},
                merge(Method.MODEL_STOCK, new double[] {1, 1, 1, 1}, new double[][] {{2, 2, 1, 1}, {2, 1, 1, 1}}, r -> r));
        double[] a = {1, 1, 1};
        double[][] b = {{1.00005, 1.5, 3}};
        close(new double[] {1.00005, 1.0001, 1.0001}, merge(Method.NEARSWAP, a, b, r -> r.t(1e-4f)));
        close(new double[] {1.00005, 1.25, 1.25}, merge(Method.NEARSWAP, a, b, r -> r.t(0.25f)));
    }

    @Test
    void densityThatKeepsNothingIsAnErrorNamingTheTensor() {
        UgmException e = assertThrows(UgmException.class,
                () -> merge(Method.TIES, new double[3], new double[][] {{1, 2, 3}}, r -> r.densities(0.2f)));
        assertTrue(e.getMessage().contains("tensor 'w'") && e.getMessage().contains("density"), e.getMessage());
    }

    // ---- randomized comparison with an independent double-precision implementation ----


    /** Which elements of Δ (float) survive, by sorting (|Δ| descending, index ascending), as the README documents. */
    static boolean[] twinKeep(float[] d, String sparsifier, double density, double gamma, long seed, String name, int model) {
        int n = d.length;
        boolean[] keep = new boolean[n];
        if (density >= 1 || sparsifier.equals("none")) {
            Arrays.fill(keep, true);
            return keep;
        }
        Integer[] order = IntStream.range(0, n).boxed().toArray(Integer[]::new);
        Arrays.sort(order, Comparator.<Integer>comparingDouble(i -> -Math.abs(d[i])).thenComparingInt(i -> i));
        switch (sparsifier) {
            case "magnitude" -> {
                for (int p = 0; p < (int) (density * n); p++) {
                    keep[order[p]] = true;
                }
            }
            case "outliers" -> {
                int top = (int) (gamma * n);
                int bottom = n - (int) (density * n) - top;
                if (bottom < 0) {
                    top += bottom;
                    bottom = 0;
                }
                for (int p = 0; p < n; p++) {
                    int ascending = n - 1 - p;
                    keep[order[p]] = ascending >= bottom && ascending < n - top;
                }
            }
            case "random" -> {
                CounterRandom rng = new CounterRandom(seed, name, model);
                for (int j = 0; j < n; j++) {
                    keep[j] = rng.uniform(j) < density;
                }
            }
            default -> throw new IllegalArgumentException(sparsifier);
        }
        return keep;
    }

    /** The task-vector family of docs/mergekit-methods.md, in double, elements one by one. */
    static double[] twin(double[] b, double[][] x, double[] w, double[] density, double[] gamma, String sparsifier,
                         boolean consensus, boolean normalize, boolean rescale, double lambda, long seed, String name) {
        return mix(b, x, w, (d, i) -> twinKeep(d, sparsifier, density[i], gamma[i], seed, name, i),
                i -> rescale && density[i] < 1, consensus, normalize, lambda);
    }

    /** Which elements of model i's task vector d survive its sparsifier. */
    interface Keep {
        boolean[] keep(float[] d, int model);
    }

    /**
     * The family's common part, in double: task vectors, sparsified by {@code keep}, rescaled to
     * their L1 norm where {@code rescale} says so, then sign consensus, normalisation and lambda.
     */
    static double[] mix(double[] b, double[][] x, double[] w, Keep keep, IntPredicate rescale,
                        boolean consensus, boolean normalize, double lambda) {
        int t = x.length;
        int n = b.length;
        double[][] kept = new double[t][n];
        for (int i = 0; i < t; i++) {
            float[] d = new float[n];
            for (int j = 0; j < n; j++) {
                d[j] = (float) x[i][j] - (float) b[j];
            }
            boolean[] k = keep.keep(d, i);
            double all = 0;
            double sum = 0;
            for (int j = 0; j < n; j++) {
                all += Math.abs(d[j]);
                sum += k[j] ? Math.abs(d[j]) : 0;
            }
            double f = rescale.test(i) && all >= 1e-7 && sum >= 1e-7 ? all / sum : 1;
            for (int j = 0; j < n; j++) {
                kept[i][j] = k[j] ? d[j] * f : 0;
            }
        }
        double[] out = new double[n];
        for (int j = 0; j < n; j++) {
            double total = 0;
            for (int i = 0; i < t; i++) {
                total += w[i] * kept[i][j];
            }
            double mixed = 0;
            double div = 0;
            for (int i = 0; i < t; i++) {
                double wi = w[i] * kept[i][j];
                boolean agrees = total >= 0 ? wi > 0 : wi < 0;
                if (!consensus || agrees) {
                    mixed += wi;
                    div += w[i];
                }
            }
            if (normalize) {
                if (consensus && div == 0 || !consensus && Math.abs(div) < 1e-8) {
                    div = 1;
                }
                mixed /= div;
            }
            out[j] = b[j] + lambda * mixed;
        }
        return out;
    }

    private static void compareFamily(Method m, String sparsifier, boolean consensus, boolean normalize, boolean rescale, DType type) {
        TaskFamily f = TaskFamily.of(m.ordinal() * 31L + type.ordinal(), 3, type, SHAPES);
        float[] w = {0.9f, 0.5f, 1.25f};
        float[] dens = {0.4f, 0.7f, 0.55f};
        float[] gam = {0.05f, 0.1f, 0f};
        double[] wd = {0.9, 0.5, 1.25};
        double[] dd = {0.4, 0.7, 0.55};
        double[] gd = {0.05, 0.1, 0};
        MergeRequest r = f.request(m).weights(w).densities(dens).gammas(gam).normalize(normalize).rescale(rescale)
                .lambda(1.5f).seed(7).build();
        Map<String, MemorySegment> out = MergerTest.run(r, null);
        for (int n : SIZES) {
            String name = "t" + n;
            double[] e = twin(f.b().get(name), f.x().get(name), wd, dd, gd, sparsifier, consensus, normalize, rescale, 1.5, 7, name);
            double[] got = Tensors.decode(type, out.get(name));
            for (int j = 0; j < n; j++) {
                double tol = Tensors.ulps(type, got[j], e[j]);
                int jj = j;
                assertTrue(tol <= 1.0 || Math.abs(got[j] - e[j]) < 1e-6,
                        () -> m + " " + name + "[" + jj + "] = " + got[jj] + ", expected " + e[jj]);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"F32", "BF16"})
    void tiesMatchesTwin(String type) {
        compareFamily(Method.TIES, "magnitude", true, true, false, DType.valueOf(type));
        compareFamily(Method.TIES, "magnitude", true, false, true, DType.valueOf(type));
    }

    @ParameterizedTest
    @ValueSource(strings = {"F32", "BF16"})
    void breadcrumbsMatchTwin(String type) {
        compareFamily(Method.BREADCRUMBS, "outliers", false, false, false, DType.valueOf(type));
        compareFamily(Method.BREADCRUMBS_TIES, "outliers", true, true, true, DType.valueOf(type));
    }

    @Test
    void dareMatchesTwin() {
        compareFamily(Method.DARE_LINEAR, "random", false, false, true, DType.F32);
        compareFamily(Method.DARE_TIES, "random", true, false, true, DType.F32);
        compareFamily(Method.DARE_TIES, "random", true, true, false, DType.F32);
    }

    // ---- DARE: reproducibility and statistics ----

    @Test
    void dareBytesDoNotDependOnThreadsOrChunks() {
        TaskFamily f = TaskFamily.of(11, 2, DType.F32, SHAPES);
        Map<String, MemorySegment> a = MergerTest.run(f.request(Method.DARE_TIES).threads(1).chunkElements(16384)
                .densities(0.3f, 0.6f).seed(42).build(), null);
        Map<String, MemorySegment> b = MergerTest.run(f.request(Method.DARE_TIES).threads(4).chunkElements(64)
                .densities(0.3f, 0.6f).seed(42).build(), null);
        Map<String, MemorySegment> c = MergerTest.run(f.request(Method.DARE_TIES).threads(4).chunkElements(64)
                .densities(0.3f, 0.6f).seed(43).build(), null);
        for (int n : SIZES) {
            assertEquals(-1, a.get("t" + n).mismatch(b.get("t" + n)), "t" + n);
        }
        assertTrue(a.get("t4099").mismatch(c.get("t4099")) >= 0, "another seed drops other elements");
    }

    @Test
    void dareRescaleKeepsTheL1NormAndTheKeptFraction() {
        int n = 40_001;
        Random r = new Random(5);
        double[] d = new double[n];
        for (int j = 0; j < n; j++) {
            d[j] = r.nextGaussian();
        }
        double density = 0.3;
        double[] got = merge(Method.DARE_LINEAR, new double[n], new double[][] {d}, q -> q.densities(0.3f).seed(9).normalize(false));
        double l1In = Arrays.stream(Tensors.stored(DType.F32, d)).map(Math::abs).sum();
        double l1Out = Arrays.stream(got).map(Math::abs).sum();
        assertEquals(l1In, l1Out, 1e-5 * l1In);
        long kept = Arrays.stream(got).filter(v -> v != 0).count();
        double sd = Math.sqrt(n * density * (1 - density));
        assertTrue(Math.abs(kept - n * density) < 5 * sd, kept + " kept of " + n);
        double[] same = merge(Method.DARE_LINEAR, new double[n], new double[][] {d}, q -> q.densities(1f).normalize(false));
        assertArrayEquals(Tensors.stored(DType.F32, d), same);
    }

    // ---- slerp, model_stock, nearswap against double twins on odd sizes ----

    @Test
    void slerpNearswapModelStockMatchTwins() {
        TaskFamily one = TaskFamily.of(21, 1, DType.F32, SHAPES);
        TaskFamily three = TaskFamily.of(22, 3, DType.F32, SHAPES);
        Map<String, MemorySegment> slerp = MergerTest.run(one.request(Method.SLERP).t(0.3f).build(), null);
        Map<String, MemorySegment> near = MergerTest.run(one.request(Method.NEARSWAP).t(0.04f).build(), null);
        Map<String, MemorySegment> stock = MergerTest.run(three.request(Method.MODEL_STOCK).build(), null);
        for (int n : SIZES) {
            String name = "t" + n;
            double[] b = one.b().get(name);
            double[] x = one.x().get(name)[0];
            double dot = 0;
            double nb = 0;
            double nx = 0;
            for (int j = 0; j < n; j++) {
                dot += b[j] * x[j];
                nb += b[j] * b[j];
                nx += x[j] * x[j];
            }
            double cos = dot / Math.sqrt(nb) / Math.sqrt(nx);
            double theta = Math.acos(cos);
            double[] es = new double[n];
            double[] en = new double[n];
            for (int j = 0; j < n; j++) {
                es[j] = Math.abs(cos) > 0.9995 ? 0.7 * b[j] + 0.3 * x[j]
                        : (Math.sin(0.7 * theta) * b[j] + Math.sin(0.3 * theta) * x[j]) / Math.sin(theta);
                double w = Math.min(1, 0.04 / Math.max(Math.abs(x[j] - b[j]), 1e-6));
                en[j] = w * x[j] + (1 - w) * b[j];
            }
            close(es, Tensors.decode(DType.F32, slerp.get(name)));
            close(en, Tensors.decode(DType.F32, near.get(name)));

            double[] b3 = three.b().get(name);
            double[][] x3 = three.x().get(name);
            double c = 0;
            for (int i = 0; i < 3; i++) {
                for (int k = i + 1; k < 3; k++) {
                    double d = 0;
                    double ni = 0;
                    double nk = 0;
                    for (int j = 0; j < n; j++) {
                        double di = x3[i][j] - b3[j];
                        double dk = x3[k][j] - b3[j];
                        d += di * dk;
                        ni += di * di;
                        nk += dk * dk;
                    }
                    c += d / Math.max(Math.sqrt(ni * nk), 1e-6) / 3;
                }
            }
            double t = 3 * c / (1 + 2 * c);
            double[] em = new double[n];
            for (int j = 0; j < n; j++) {
                em[j] = t * (x3[0][j] + x3[1][j] + x3[2][j]) / 3 + (1 - t) * b3[j];
            }
            close(em, Tensors.decode(DType.F32, stock.get(name)));
        }
    }
}
