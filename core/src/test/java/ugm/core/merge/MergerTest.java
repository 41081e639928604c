package ugm.core.merge;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import ugm.core.exec.ChunkExecutor;
import ugm.core.DType;
import ugm.core.MemoryTensors;
import ugm.core.TensorInfo;
import ugm.core.TensorSink;
import ugm.core.UgmException;
import ugm.core.kernel.KernelPolicy;
import ugm.core.kernel.Kernels;
import ugm.core.merge.methods.Method;

class MergerTest {
    /** Odd sizes: a scalar-like one, tails, several chunks with a ragged last one. */
    private static final int[] SIZES = {1, 7, 300, 4099, 40_001};
    private static final DType[] MODEL_TYPES = {DType.BF16, DType.F16, DType.F32};

    /** A random family: base, T models, their Fishers and a base Fisher, as doubles and as sources. */
    static final class Family {
        final int t;
        final Map<String, double[]> base = new HashMap<>();
        final Map<String, double[]> baseFisher = new HashMap<>();
        final List<Map<String, double[]>> models = new ArrayList<>();
        final List<Map<String, double[]>> fishers = new ArrayList<>();
        final MemoryTensors baseSrc = new MemoryTensors("base");
        final MemoryTensors baseFisherSrc = new MemoryTensors("base-fisher");
        final List<MemoryTensors> modelSrc = new ArrayList<>();
        final List<MemoryTensors> fisherSrc = new ArrayList<>();

        Family(long seed, int t, boolean zeroFishers) {
            this.t = t;
            Random r = new Random(seed);
            for (int i = 0; i < t; i++) {
                models.add(new HashMap<>());
                fishers.add(new HashMap<>());
                modelSrc.add(new MemoryTensors("model-" + i));
                fisherSrc.add(new MemoryTensors("fisher-" + i));
            }
            for (int k = 0; k < SIZES.length; k++) {
                String name = "layer" + k + ".weight";
                int n = SIZES[k];
                DType baseType = MODEL_TYPES[k % MODEL_TYPES.length];
                double[] b = new double[n];
                for (int j = 0; j < n; j++) {
                    b[j] = r.nextGaussian() * 0.5;
                }
                base.put(name, Tensors.stored(baseType, b));
                Tensors.add(baseSrc, name, baseType, b);
                double[] h0 = fisher(r, n, zeroFishers, 1.0);
                baseFisher.put(name, Tensors.stored(DType.F32, h0));
                Tensors.add(baseFisherSrc, name, DType.F32, h0);
                for (int i = 0; i < t; i++) {
                    DType mt = MODEL_TYPES[(k + i) % MODEL_TYPES.length]; // mixed dtypes within one tensor
                    double[] m = new double[n];
                    for (int j = 0; j < n; j++) {
                        m[j] = b[j] + r.nextGaussian() * 0.1;
                    }
                    models.get(i).put(name, Tensors.stored(mt, m));
                    Tensors.add(modelSrc.get(i), name, mt, m);
                    DType ft = i % 2 == 0 ? DType.F32 : DType.BF16;
                    double[] h = fisher(r, n, zeroFishers, 1.0 + i);
                    fishers.get(i).put(name, Tensors.stored(ft, h));
                    Tensors.add(fisherSrc.get(i), name, ft, h);
                }
            }
        }

        private static double[] fisher(Random r, int n, boolean zero, double scale) {
            double[] h = new double[n];
            if (!zero) {
                for (int j = 0; j < n; j++) {
                    h[j] = r.nextInt(5) == 0 ? 0 : Math.abs(r.nextGaussian()) * scale * 1e-2;
                }
            }
            return h;
        }

        MergeRequest.Builder request(Method m, boolean withBaseFisher) {
            MergeRequest.Builder b = MergeRequest.builder(m).base(baseSrc);
            modelSrc.forEach(b::model);
            if (m.needsFishers()) {
                fisherSrc.forEach(b::fisher);
                if (withBaseFisher) {
                    b.baseFisher(baseFisherSrc);
                }
            }
            return b;
        }
    }

    /** Merges into fresh memory and returns the outputs by name. */
    static Map<String, MemorySegment> run(MergeRequest r, long[] clampedOut) {
        return run(r, clampedOut, KernelPolicy.defaults());
    }

    static Map<String, MemorySegment> run(MergeRequest r, long[] clampedOut, KernelPolicy policy) {
        Map<String, MemorySegment> out = new HashMap<>();
        TensorSink sink = t -> out.computeIfAbsent(t.name(), k -> Arena.ofAuto().allocate(t.byteSize(), 8));
        MergeReport report = Merger.merge(r, sink, ChunkExecutor.of(policy));
        if (clampedOut != null) {
            clampedOut[0] = report.clampedElements();
        }
        return out;
    }

    private void checkAgainstReference(Family f, Method m, Reference.Params p, DType outType, MergeRequest r) {
        long[] clamped = new long[1];
        Map<String, MemorySegment> out = run(r, clamped);
        long[] expectedClamped = new long[1];
        for (int k = 0; k < SIZES.length; k++) {
            String name = "layer" + k + ".weight";
            DType type = outType != null ? outType : f.baseSrc.info(name).dtype();
            double[] got = Tensors.decode(type, out.get(name));
            double[] b = f.base.get(name);
            for (int j = 0; j < b.length; j++) {
                double[] x = new double[f.t];
                double[] h = new double[f.t];
                for (int i = 0; i < f.t; i++) {
                    x[i] = f.models.get(i).get(name)[j];
                    h[i] = f.fishers.get(i).get(name)[j];
                }
                double e = Reference.value(m, p, b[j], f.baseFisher.get(name)[j], x, h, expectedClamped);
                assertFalse(Double.isNaN(got[j]), () -> m + " produced NaN");
                // One rounding to the output type, or float32 arithmetic error on terms of this size.
                double ulps = Tensors.ulps(type, got[j], e);
                double abs = Math.abs(got[j] - e);
                int jj = j;
                double size = Reference.magnitude(m, p, b[j], f.baseFisher.get(name)[j], x, h);
                assertTrue(ulps <= 1.0 || abs <= 1e-6 * size,
                        () -> m + " " + name + "[" + jj + "] = " + got[jj] + ", expected " + e + " (" + ulps + " ulps)");
            }
        }
        assertEquals(expectedClamped[0], clamped[0], "clamped elements");
    }

    private static Reference.Params params(Family f, double lambda, boolean remove, boolean baseFisher, double delta0) {
        double[] w = new double[f.t];
        double[] s = new double[f.t];
        for (int i = 0; i < f.t; i++) {
            w[i] = (float) (0.3 + 0.2 * i);
            s[i] = (float) (1.0 + i * 0.5);
        }
        return new Reference.Params(w, lambda, s, 2.0, delta0, remove, 0.1f, true, baseFisher);
    }

    private static float[] floats(double[] d) {
        float[] f = new float[d.length];
        for (int i = 0; i < d.length; i++) {
            f[i] = (float) d[i];
        }
        return f;
    }

    private static MergeRequest build(Family f, Method m, Reference.Params p, DType outType) {
        MergeRequest.Builder b = f.request(m, p.baseFisher()).weights(floats(p.w())).fisherScales(floats(p.s()))
                .baseFisherScale((float) p.s0()).lambda((float) p.lambda()).delta0((float) p.delta0()).remove(p.remove())
                .outDtype(outType).chunkElements(1000).threads(2);
        if (m == Method.LINEAR) {
            b.normalize(p.normalize()); // the reference divides linear's sum only (task_arithmetic would divide its weights)
        }
        return b.build();
    }

    @ParameterizedTest
    @EnumSource(value = Method.class, names = {"LINEAR", "TASK_ARITHMETIC", "FISHER", "FISHER_WITH_BASE", "GRADIENT_MATCHING"}) // the element-wise kernels; the others: TaskVectorMethodsTest
    void everyMethodMatchesAnIndependentDoubleEvaluationForEveryOutputType(Method m) {
        Family f = new Family(42 + m.ordinal(), 3, false);
        Reference.Params p = params(f, 0.8, false, true, 1e-3);
        for (DType out : new DType[] {null, DType.F32, DType.BF16, DType.F16, DType.F64}) {
            checkAgainstReference(f, m, p, out, build(f, m, p, out));
        }
    }

    @Test
    void gradientMatchingWithoutBaseFisherAndWithOneOrFiveModels() {
        for (int t : new int[] {1, 5}) {
            Family f = new Family(7 + t, t, false);
            Reference.Params p = params(f, 1.3, false, false, 1e-4);
            checkAgainstReference(f, Method.GRADIENT_MATCHING, p, DType.F32, build(f, Method.GRADIENT_MATCHING, p, DType.F32));
        }
    }

    @Test
    void allZeroFishersGiveTheTaskArithmeticValueNeverNaN() {
        Family f = new Family(3, 3, true);
        Reference.Params p = params(f, 0.7, false, true, 0.0);
        Map<String, MemorySegment> gm = run(build(f, Method.GRADIENT_MATCHING, p, DType.F32), null);
        Map<String, MemorySegment> ta = run(build(f, Method.TASK_ARITHMETIC, p, DType.F32), null);
        for (String name : gm.keySet()) {
            double[] a = Tensors.decode(DType.F32, gm.get(name));
            double[] b = Tensors.decode(DType.F32, ta.get(name));
            for (int j = 0; j < a.length; j++) {
                assertFalse(Double.isNaN(a[j]));
                assertEquals(b[j], a[j], 1e-6 * (1 + Math.abs(b[j])), name + "[" + j + "]");
            }
        }
        checkAgainstReference(f, Method.GRADIENT_MATCHING, p, DType.F32, build(f, Method.GRADIENT_MATCHING, p, DType.F32));
        // Fisher averaging falls back to the weighted average where every Fisher is 0.
        checkAgainstReference(f, Method.FISHER, p, DType.F32, build(f, Method.FISHER, p, DType.F32));
    }

    @Test
    void removalClampsHbarAndCountsTheClampedElements() {
        Family f = new Family(11, 2, false);
        // Large task Fishers against a small base precision: many elements need the clamp.
        Reference.Params p = params(f, 1.0, true, true, 1e-4);
        long[] clamped = new long[1];
        run(build(f, Method.GRADIENT_MATCHING, p, DType.F32), clamped);
        assertTrue(clamped[0] > 1000, "expected many clamped elements, got " + clamped[0]);
        checkAgainstReference(f, Method.GRADIENT_MATCHING, p, DType.F32, build(f, Method.GRADIENT_MATCHING, p, DType.F32));
        checkAgainstReference(f, Method.TASK_ARITHMETIC, p, DType.F32, build(f, Method.TASK_ARITHMETIC, p, DType.F32));
        // Without any base precision the removal falls back to task arithmetic's, counted too.
        Reference.Params noPrior = params(f, 1.0, true, false, 0.0);
        checkAgainstReference(f, Method.GRADIENT_MATCHING, noPrior, DType.F32,
                build(f, Method.GRADIENT_MATCHING, noPrior, DType.F32));
    }

    @Test
    void outputDoesNotDependOnThreadsOrChunkSize() {
        Family f = new Family(5, 3, false);
        Reference.Params p = params(f, 1.0, false, true, 1e-3);
        MergeRequest.Builder one = f.request(Method.GRADIENT_MATCHING, true).threads(1).chunkElements(64);
        MergeRequest.Builder many = f.request(Method.GRADIENT_MATCHING, true).threads(4).chunkElements(16384);
        Map<String, MemorySegment> a = run(one.build(), null);
        Map<String, MemorySegment> b = run(many.build(), null);
        for (String name : a.keySet()) {
            assertEquals(-1, a.get(name).mismatch(b.get(name)), name);
        }
        assertTrue(p.w().length > 0);
    }

    @Test
    void theBytesDoNotDependOnWhetherOrWhenTheVectorKernelsTakeOver() {
        Family f = new Family(6, 3, false);
        Map<String, Map<String, MemorySegment>> outs = new HashMap<>();
        Kernels vector = Kernels.get();
        // 0: vector kernels from the start; 1: scalar first, the probe switches when they are
        // compiled; huge: the scalar twin throughout (as is the scalar-only policy).
        Map<String, KernelPolicy> policies = Map.of("0", KernelPolicy.vectorOnly(vector), "1", KernelPolicy.scalarFirst(vector, 1, null),
                "huge", KernelPolicy.scalarFirst(vector, Long.MAX_VALUE, null), "scalar", KernelPolicy.scalarOnly());
        for (Map.Entry<String, KernelPolicy> p : policies.entrySet()) {
            for (int rep = 0; rep < (p.getKey().equals("1") ? 3 : 1); rep++) {
                outs.put(p.getKey() + "/" + rep, run(f.request(Method.GRADIENT_MATCHING, true).threads(2).chunkElements(1024).build(),
                        null, p.getValue()));
            }
        }
        Map<String, MemorySegment> ref = outs.get("0/0");
        for (Map.Entry<String, Map<String, MemorySegment>> e : outs.entrySet()) {
            for (String name : ref.keySet()) {
                assertEquals(-1, ref.get(name).mismatch(e.getValue().get(name)), e.getKey() + " " + name);
            }
        }
    }

    /** A server's own threads (or executor) run the workers; the bytes are those of any other run. */
    @Test
    void aServersOwnThreadsRunTheMergeAndTheBytesAreTheSame() {
        Family f = new Family(7, 3, false);
        MergeRequest r = f.request(Method.GRADIENT_MATCHING, true).threads(3).chunkElements(512).build();
        Map<String, MemorySegment> plain = run(r, null);
        java.util.Set<String> threadNames = java.util.concurrent.ConcurrentHashMap.newKeySet();
        ChunkExecutor server = ChunkExecutor.defaults().withThreads(task -> Thread.ofVirtual().name("server").unstarted(() -> {
            threadNames.add(Thread.currentThread().getName());
            task.run();
        }));
        Map<String, MemorySegment> out = new HashMap<>();
        MergeReport report = Merger.merge(r, t -> out.computeIfAbsent(t.name(), k -> Arena.ofAuto().allocate(t.byteSize(), 8)), server);
        assertEquals(3, report.threads());
        assertEquals(java.util.Set.of("server"), threadNames);
        for (String name : plain.keySet()) {
            assertEquals(-1, plain.get(name).mismatch(out.get(name)), name);
        }
    }

    @Test
    void integerTensorsAreCopiedFromTheBase() {
        MemorySegment ids = Arena.ofAuto().allocate(8 * 5, 8);
        for (int i = 0; i < 5; i++) {
            ids.setAtIndex(java.lang.foreign.ValueLayout.JAVA_LONG, i, i * 3L - 1);
        }
        MemoryTensors base = Tensors.add(new MemoryTensors("base"), "w", DType.F32, new double[] {1, 2});
        base.add("ids", DType.I64, new long[] {5}, ids);
        MemoryTensors m = Tensors.add(new MemoryTensors("m"), "w", DType.F32, new double[] {3, 5});
        m.add("ids", DType.I64, new long[] {5}, ids);
        Map<String, MemorySegment> out = run(MergeRequest.builder(Method.TASK_ARITHMETIC).base(base).model(m).build(), null);
        assertEquals(-1, out.get("ids").mismatch(ids));
        assertArrayEquals(new double[] {3, 5}, Tensors.decode(DType.F32, out.get("w")));
    }

    @Test
    void everyPlanProblemIsReportedAtOnceNamingItsTensor() {
        MemoryTensors base = new MemoryTensors("base");
        Tensors.add(base, "a", DType.F32, new double[] {1, 2, 3});
        Tensors.add(base, "b", DType.F32, new double[] {1, 2});
        Tensors.add(base, "c", DType.F32, new double[] {1});
        base.add("ids", DType.I32, new long[] {1}, Tensors.encode(DType.F32, new double[] {1}));
        MemoryTensors m = new MemoryTensors("model-1");
        Tensors.add(m, "a", DType.F32, new double[] {1, 2, 3});
        Tensors.add(m, "b", DType.F32, new double[] {1, 2, 3}); // shape differs
        m.add("ids", DType.I32, new long[] {1}, Tensors.encode(DType.F32, new double[] {2})); // differs; c missing
        MemoryTensors h = new MemoryTensors("fisher-1");
        Tensors.add(h, "b", DType.F32, new double[] {1, 2});
        MergePlan plan = MergePlan.of(MergeRequest.builder(Method.GRADIENT_MATCHING).base(base).model(m).fisher(h).build());
        List<String> problems = plan.problems();
        assertEquals(4, problems.size(), problems.toString());
        assertTrue(problems.stream().anyMatch(s -> s.contains("'a'") && s.contains("missing from Fisher of model 1")), problems.toString());
        assertTrue(problems.stream().anyMatch(s -> s.contains("'b'") && s.contains("[3]") && s.contains("[2]")), problems.toString());
        assertTrue(problems.stream().anyMatch(s -> s.contains("'c'") && s.contains("missing from model 1")), problems.toString());
        assertTrue(problems.stream().anyMatch(s -> s.contains("'ids'") && s.contains("differs")), problems.toString());
        UgmException e = assertThrows(UgmException.class, plan::requireValid);
        assertEquals(UgmException.Kind.INVALID_INPUT, e.kind());
        assertTrue(e.getMessage().startsWith("4 problems"), e.getMessage());
    }

    @Test
    void aNegativeOrNaNFisherValueIsAnErrorNamingTensorAndElement() {
        // one dtype throughout with a base Fisher: the direct kernel refuses the block and the general path reports
        for (DType type : new DType[] {DType.F32, DType.BF16}) {
            for (boolean withBaseFisher : new boolean[] {false, true}) {
                for (double bad : new double[] {-0.5, Double.NaN}) {
                    MemoryTensors base = Tensors.add(new MemoryTensors("base"), "w", type, new double[] {1, 2, 3, 4});
                    MemoryTensors h0 = Tensors.add(new MemoryTensors("h0"), "w", type, new double[] {1, 1, 1, 1});
                    MemoryTensors m = Tensors.add(new MemoryTensors("m"), "w", type, new double[] {1, 2, 3, 4});
                    MemoryTensors h = Tensors.add(new MemoryTensors("h"), "w", type, new double[] {1, 1, bad, 1});
                    MergeRequest.Builder b = MergeRequest.builder(Method.GRADIENT_MATCHING).base(base).model(m).fisher(h);
                    if (withBaseFisher) {
                        b.baseFisher(h0);
                    }
                    UgmException e = assertThrows(UgmException.class, () -> run(b.build(), null));
                    assertTrue(e.getMessage().contains("'w'") && e.getMessage().contains("element 2"), e.getMessage());
                    assertEquals(UgmException.Kind.INVALID_INPUT, e.kind());
                }
            }
        }
    }

    @Test
    void oneTensorCanBeMergedOnDemandIntoCallerMemory() {
        Family f = new Family(9, 2, false);
        Reference.Params p = params(f, 1.0, false, true, 1e-3);
        MergeRequest r = build(f, Method.GRADIENT_MATCHING, p, DType.F32);
        Map<String, MemorySegment> all = run(r, null);
        String name = "layer3.weight";
        TensorInfo info = new TensorInfo(name, DType.F32, new long[] {SIZES[3]});
        MemorySegment mine = Arena.ofAuto().allocate(info.byteSize());
        MergeReport report = Merger.mergeTensor(r, name, mine);
        assertEquals(1, report.tensors());
        assertEquals(-1, mine.mismatch(all.get(name)));
        assertThrows(UgmException.class, () -> Merger.mergeTensor(r, name, Arena.ofAuto().allocate(8)));
        // Memory confined to the caller's thread works too: the merge then runs on that thread.
        try (Arena confined = Arena.ofConfined()) {
            MemorySegment own = confined.allocate(info.byteSize());
            Merger.mergeTensor(r, name, own);
            assertEquals(-1, own.mismatch(all.get(name)));
        }
    }
}
