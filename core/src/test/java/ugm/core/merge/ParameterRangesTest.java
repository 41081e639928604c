package ugm.core.merge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import ugm.core.DType;
import ugm.core.MemoryTensors;
import ugm.core.merge.methods.Method;

/** density, gamma, epsilon and t out of range are plan problems naming the tensor, found before any pass runs. */
class ParameterRangesTest {
    private static List<String> problems(Method m, int models, UnaryOperator<MergeRequest.Builder> opts) {
        MemoryTensors base = new MemoryTensors("base");
        Tensors.add(base, "small", DType.F32, new double[] {1, 2, 3});
        Tensors.add(base, "large", DType.F32, new double[100]);
        MergeRequest.Builder b = MergeRequest.builder(m).base(base);
        for (int i = 0; i < models; i++) {
            MemoryTensors x = new MemoryTensors("m" + i);
            Tensors.add(x, "small", DType.F32, new double[] {2, 2, 2});
            Tensors.add(x, "large", DType.F32, new double[100]);
            b.model(x);
        }
        return MergePlan.of(opts.apply(b).build()).problems();
    }

    private static void one(List<String> problems, String... parts) {
        assertEquals(1, problems.size(), problems::toString);
        String p = problems.get(0);
        assertEquals(1, p.lines().count(), p);
        for (String part : parts) {
            assertTrue(p.contains(part), p);
        }
    }

    @Test
    void magnitudeDensityKeepingNothingOnlyWhereTheTensorIsTooSmall() {
        one(problems(Method.TIES, 1, b -> b.densities(0.2f)), "tensor 'small'", "keeps no element of its 3");
        one(problems(Method.TIES_GRADIENT_MATCHING, 1, b -> b.densities(TensorParameter.of(0.2f)).fisher(fisher())),
                "tensor 'small'", "density 0.2");
        assertEquals(List.of(), problems(Method.TIES, 1, b -> b.densities(0.4f)));
    }

    private static MemoryTensors fisher() {
        MemoryTensors h = new MemoryTensors("h");
        Tensors.add(h, "small", DType.F32, new double[] {1, 1, 1});
        Tensors.add(h, "large", DType.F32, new double[100]);
        return h;
    }

    @Test
    void dellaEpsilonGammaDensityAndT() {
        List<String> della = problems(Method.DELLA, 2, b -> b.densities(0.5f, 0.5f).epsilons(0.1f, 0.5f));
        assertEquals(2, della.size(), della::toString);
        one(della.subList(1, 2), "tensor 'large'", "model 2 has density 0.5, epsilon 0.5");
        assertEquals(List.of(), problems(Method.DELLA, 2, b -> b.densities(1f, 0f).epsilons(0.9f, 0.9f)),
                "density 1 and 0 need no epsilon check, as mergekit");
        assertEquals(2, problems(Method.DELLA_LINEAR, 1, b -> b.densities(0.1f)).size(), "epsilon 0.15 > density 0.1: every tensor");
        one(problems(Method.BREADCRUMBS, 1, b -> b.densities(0.5f).gammas(1.5f)).subList(0, 1), "gamma of model 1", "1.5");
        one(problems(Method.DARE_TIES, 1, b -> b.densities(Float.NaN)).subList(0, 1), "density of model 1", "NaN");
        one(problems(Method.NEARSWAP, 1, b -> b.t(TensorParameter.of(-1f))).subList(0, 1), "nearswap's t", ">= 0");
        assertEquals(List.of(), problems(Method.SLERP, 1, b -> b.t(1.5f)), "slerp extrapolates, as mergekit");
    }
}
