package ugm.core.merge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import ugm.core.DType;
import ugm.core.TensorInfo;
import ugm.core.merge.methods.Method;

/** Parameters that are functions of the tensor name: each tensor is merged with its own values. */
class PerTensorParameterTest {

    /** The k of "layerK.weight". */
    private static int layer(String name) {
        return Integer.parseInt(name.substring(5, name.indexOf('.')));
    }

    private static double weight(int model, int layer) {
        return (float) (0.25 + 0.5 * model + 0.125 * layer * (model == 1 ? -1 : 1));
    }

    private static double lambda(int layer) {
        return (float) (0.5 + 0.25 * layer);
    }

    private static double scale(int model, int layer) {
        return (float) (1 + model + layer);
    }

    @ParameterizedTest
    @EnumSource(value = Method.class, names = {"LINEAR", "TASK_ARITHMETIC", "FISHER", "FISHER_WITH_BASE", "GRADIENT_MATCHING"}) // the element-wise kernels; the others: TaskVectorMethodsTest
    void everyTensorIsMergedWithItsOwnParameters(Method m) {
        MergerTest.Family f = new MergerTest.Family(11 + m.ordinal(), 3, false);
        TensorParameter[] w = new TensorParameter[f.t];
        TensorParameter[] s = new TensorParameter[f.t];
        for (int i = 0; i < f.t; i++) {
            int model = i;
            w[i] = name -> (float) weight(model, layer(name));
            s[i] = name -> (float) scale(model, layer(name));
        }
        MergeRequest r = f.request(m, true).weights(w).fisherScales(s)
                .lambda(name -> (float) lambda(layer(name))).delta0(name -> layer(name) * 1e-3f)
                .baseFisherScale(name -> 2f + layer(name)).outDtype(DType.F32).chunkElements(1000).threads(2).build();
        Map<String, MemorySegment> out = MergerTest.run(r, null);
        int checked = 0;
        for (String name : f.base.keySet()) {
            int k = layer(name);
            double[] wk = new double[f.t];
            double[] sk = new double[f.t];
            for (int i = 0; i < f.t; i++) {
                wk[i] = weight(i, k);
                sk[i] = scale(i, k);
            }
            Reference.Params p = new Reference.Params(wk, lambda(k), sk, 2 + k, (float) (k * 1e-3), false, 0.1, true, true);
            double[] got = Tensors.decode(DType.F32, out.get(name));
            double[] b = f.base.get(name);
            for (int j = 0; j < b.length; j++) {
                double[] x = new double[f.t];
                double[] h = new double[f.t];
                for (int i = 0; i < f.t; i++) {
                    x[i] = f.models.get(i).get(name)[j];
                    h[i] = f.fishers.get(i).get(name)[j];
                }
                double h0 = f.baseFisher.get(name)[j];
                double e = Reference.value(m, p, b[j], h0, x, h, new long[1]);
                double tolerance = 4e-7 * Reference.magnitude(m, p, b[j], h0, x, h);
                assertTrue(Math.abs(got[j] - e) <= tolerance, m + " " + name + "[" + j + "] = " + got[j] + ", expected " + e);
                checked++;
            }
        }
        assertTrue(checked > 40_000);
    }

    @Test
    void constantsGiveTheSameBytesAsFunctionsReturningThem() {
        MergerTest.Family f = new MergerTest.Family(5, 2, false);
        MergeRequest plain = f.request(Method.GRADIENT_MATCHING, true).weights(0.5f, 1.5f).lambda(0.8f).build();
        MergeRequest functions = f.request(Method.GRADIENT_MATCHING, true)
                .weights(name -> 0.5f, name -> 1.5f).lambda(name -> 0.8f).build();
        Map<String, MemorySegment> a = MergerTest.run(plain, null);
        Map<String, MemorySegment> b = MergerTest.run(functions, null);
        for (String name : a.keySet()) {
            assertEquals(-1, a.get(name).mismatch(b.get(name)), name);
        }
    }

    @Test
    void aValueOutOfRangeForOneTensorIsAPlanProblemNamingIt() {
        MergerTest.Family f = new MergerTest.Family(6, 2, false);
        MergeRequest r = f.request(Method.GRADIENT_MATCHING, true)
                .fisherScales(name -> name.startsWith("layer3") ? -1f : 1f, name -> 1f)
                .lambda(name -> name.startsWith("layer1") ? Float.NaN : 1f).build();
        List<String> problems = MergePlan.of(r).problems();
        assertEquals(2, problems.size(), problems::toString);
        assertTrue(problems.stream().anyMatch(p -> p.contains("'layer3.weight'") && p.contains("Fisher scale of model 1")), problems::toString);
        assertTrue(problems.stream().anyMatch(p -> p.contains("'layer1.weight'") && p.contains("lambda")), problems::toString);
    }

    @Test
    void progressCountsEveryByteAndEveryTensorOnce() {
        MergerTest.Family f = new MergerTest.Family(8, 2, false);
        MergePlan plan = MergePlan.of(f.request(Method.TASK_ARITHMETIC, false).chunkElements(128).threads(2).build());
        AtomicLong bytes = new AtomicLong();
        Set<String> done = ConcurrentHashMap.newKeySet();
        AtomicLong calls = new AtomicLong();
        Map<String, MemorySegment> out = new HashMap<>();
        for (TensorInfo t : plan.outputs()) {
            out.put(t.name(), Arena.ofAuto().allocate(t.byteSize(), 8));
        }
        Merger.execute(plan, t -> out.get(t.name()), new MergeProgress() {
            @Override
            public void written(long n) {
                bytes.addAndGet(n);
            }

            @Override
            public void tensorDone(TensorInfo tensor) {
                calls.incrementAndGet();
                assertFalse(done.contains(tensor.name()));
                done.add(tensor.name());
            }
        });
        assertEquals(plan.bytesWritten(), bytes.get());
        assertEquals(plan.outputs().size(), calls.get());
        assertEquals(out.keySet(), done);
    }
}
