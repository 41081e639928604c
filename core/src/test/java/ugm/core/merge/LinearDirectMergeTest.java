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
import ugm.core.DType;
import ugm.core.MemoryTensors;
import ugm.core.exec.ChunkExecutor;
import ugm.core.kernel.DirectKernel;
import ugm.core.kernel.KernelPolicy;
import ugm.core.kernel.Kernels;
import ugm.core.merge.methods.Method;

/**
 * linear and task_arithmetic through {@link Merger}: with every input BF16, F16 or F32 the
 * direct kernel merges, with one model stored as F64 (the same values) the general path does;
 * both give the same bytes and the same report, non-finite inputs and values beyond the output's
 * range included, on the vector kernels and on the scalar twin.
 */
class LinearDirectMergeTest {

    private record Case(String what, Method method, boolean remove, float[] weights) {
    }

    private static final List<Case> CASES = List.of(
            new Case("linear", Method.LINEAR, false, new float[] {0.5f, 0.3f, 0.2f}),
            new Case("linear, not normalised", Method.LINEAR, false, new float[] {1f, 1f, 0.5f}),
            new Case("task_arithmetic", Method.TASK_ARITHMETIC, false, new float[] {1f, 0.5f, 0.7f}),
            new Case("task_arithmetic, remove", Method.TASK_ARITHMETIC, true, new float[] {1f, 0.5f, 0.7f}));

    @Test
    void theDirectKernelWritesTheGeneralPathsBytesAndReport() {
        int n = 3 * 4096 + 77; // several chunks, and a tail
        for (DType type : new DType[] {DType.BF16, DType.F16, DType.F32}) {
            Random r = new Random(type.ordinal());
            double[][] v = new double[4][n]; // the base, three models
            for (int i = 0; i < n; i++) {
                v[0][i] = r.nextGaussian() * 0.02;
                for (int t = 1; t < 4; t++) {
                    v[t][i] = v[0][i] + r.nextGaussian() * 1e-3;
                }
            }
            v[2][100] = Double.NaN; // counted for the report
            v[3][5000] = Double.POSITIVE_INFINITY;
            v[0][9000] = Double.NEGATIVE_INFINITY;
            for (int t = 0; t < 4; t++) { // beyond F16 once summed with the weights that are not normalised (and beyond F16 where F32)
                v[t][7000] = type == DType.F16 ? 60_000 : 1e5;
            }
            for (Case c : CASES) {
                for (KernelPolicy policy : new KernelPolicy[] {KernelPolicy.vectorOnly(Kernels.get()), KernelPolicy.scalarOnly()}) {
                    String what = c.what() + " " + type + " " + policy;
                    MergeRequest direct = request(c, type, v, false);
                    MergeRequest general = request(c, type, v, true);
                    assertTrue(prepared(direct).hasDirect(), what);
                    assertEquals(DirectKernel.LINEAR, prepared(direct).directKernel(), what);
                    assertFalse(prepared(general).hasDirect(), what + " with an F64 model");
                    MergeReport[] reports = new MergeReport[2];
                    MemorySegment a = merge(direct, policy, reports, 0);
                    MemorySegment b = merge(general, policy, reports, 1);
                    assertEquals(-1, a.mismatch(b), what + ": first differing byte");
                    assertEquals(reports[1].nonFinite().toString(), reports[0].nonFinite().toString(), what);
                    assertFalse(reports[0].nonFinite().isEmpty(), what + ": the non-finite inputs were reported");
                }
            }
        }
    }

    /** The case's merge of tensor "w", every input in {@code type} or, with {@code f64Model}, the first model in F64 (same values). */
    private static MergeRequest request(Case c, DType type, double[][] v, boolean f64Model) {
        MergeRequest.Builder b = MergeRequest.builder(c.method()).weights(c.weights()).outDtype(type).threads(2).chunkElements(4096);
        if (c.method() == Method.LINEAR) {
            b.normalize(!c.what().contains("not normalised"));
        } else {
            b.base(Tensors.add(new MemoryTensors("base"), "w", type, v[0])).remove(c.remove());
        }
        for (int t = 1; t < 4; t++) {
            DType as = t == 1 && f64Model ? DType.F64 : type;
            b.model(Tensors.add(new MemoryTensors("model-" + t), "w", as, Tensors.stored(type, v[t])));
        }
        return b.build();
    }

    private static ugm.core.merge.TensorMerge prepared(MergeRequest r) {
        MergePlan plan = MergePlan.of(r).requireValid();
        return r.method.prepare(r, plan.tensors().get(0));
    }

    private static MemorySegment merge(MergeRequest r, KernelPolicy policy, MergeReport[] reports, int i) {
        Map<String, MemorySegment> out = new HashMap<>();
        reports[i] = Merger.merge(r, t -> out.computeIfAbsent(t.name(), k -> Arena.ofAuto().allocate(t.byteSize(), 8)),
                ChunkExecutor.of(policy));
        return out.get("w");
    }
}
