package ugm.core.merge.methods;

import java.lang.foreign.MemorySegment;
import ugm.core.DType;
import ugm.core.kernel.DirectKernel;
import ugm.core.kernel.GradientMatching;
import ugm.core.kernel.Kernels;
import ugm.core.kernel.Kernels.Operand;
import ugm.core.merge.MergePlan.Coefficients;
import ugm.core.merge.MergePlan.TensorPlan;
import ugm.core.merge.MergeRequest;
import ugm.core.merge.Parameter;
import ugm.core.merge.TensorMerge;

/**
 * gradient_matching, the paper's rule: {@code θ0 + Σ α_t (P0 + s_t H_t)/(P0 + Σ α_t s_t H_t) (θ_t − θ0)},
 * {@code P0 = δ0 + s0 H0}, {@code α_t = λ·w_t}, and the removal rule (docs/method.md), which also
 * applies to the tasks whose α_t is negative (see {@link GradientMatching}). Where every input and
 * the output is BF16, F16 or F32 (each its own), the tensor is merged in one pass from the mappings
 * by the direct kernel (removal too); the general path does the ranges it declines.
 */
final class GradientMatchingMerge extends AbstractMergeMethod {
    GradientMatchingMerge() {
        super("gradient_matching", "θ0 + Σ α_t (P0 + s_t H_t)/(P0 + Σ α_t s_t H_t) (θ_t − θ0), P0 = delta0 + s0 H0,"
                + " α_t = lambda·weight_t (Daheim et al., ICLR 2024)", true, true, Parameter.WEIGHT, Parameter.FISHER_SCALE,
                Parameter.LAMBDA, Parameter.DELTA0, Parameter.BASE_FISHER_SCALE, Parameter.REMOVE, Parameter.CLAMP);
    }

    @Override
    public Coefficients coefficients(TensorValues v) {
        return gradientMatchingCoefficients(v);
    }

    /** α_t = λ·w_t and the rule's parameters; shared with the sparsified gradient-matching methods. */
    static Coefficients gradientMatchingCoefficients(TensorValues v) {
        float[] w = v.weights();
        float[] alphas = new float[w.length];
        for (int i = 0; i < w.length; i++) {
            alphas[i] = v.lambda() * w[i];
        }
        GradientMatching gm = new GradientMatching(alphas, v.scales().clone(), v.baseScale(), v.delta0(), v.remove(), v.clampRel());
        return new Coefficients(w.clone(), alphas, v.scales(), v.baseScale(), v.floor(), gm);
    }

    /** The kernel of an all-BF16 merge, the common case: what a warm-up compiles first (its tensors ask for the other where they need it). */
    @Override
    public DirectKernel directKernel(boolean subtracts) {
        return kernel(true, subtracts);
    }

    /**
     * The direct kernel of a tensor: the all-BF16 one where every operand is BF16 and no task is
     * subtracted, else the other, which also holds the removal safeguard (in the all-BF16 kernel it
     * made that kernel's compiled code a third larger and its compilation 40 % longer, which every
     * merge's start waits for). {@code VectorKernels.gradientMatchingDirect} dispatches the same way.
     */
    private static DirectKernel kernel(boolean allBf16, boolean subtracts) {
        return allBf16 && !subtracts ? DirectKernel.GRADIENT_MATCHING_BF16 : DirectKernel.GRADIENT_MATCHING;
    }

    @Override
    public TensorMerge prepare(MergeRequest r, TensorPlan t) {
        GradientMatching p = t.coefficients().gradientMatching();
        Direct d = Direct.of(t);
        return d != null ? d : (k, from, n, base, models, fishers, baseFisher, out) ->
                k.gradientMatching(p, base, baseFisher, models, fishers, out, n);
    }

    /**
     * The tensor's operands for {@link Kernels#gradientMatchingDirect}: every input and the output
     * BF16, F16 or F32 (each its own); baseFisher may be null.
     */
    private record Direct(GradientMatching p, Operand base, Operand baseFisher, Operand[] x, Operand[] fisher,
                          DirectOperands.Target output, DirectKernel directKernel) implements TensorMerge {

        static Direct of(TensorPlan t) {
            GradientMatching p = t.coefficients().gradientMatching();
            if (!DirectOperands.readable(t)) {
                return null;
            }
            return new Direct(p, DirectOperands.of(t.base()), DirectOperands.of(t.baseFisher()), DirectOperands.of(t.models()),
                    DirectOperands.of(t.fishers()), new DirectOperands.Target(),
                    kernel(DirectOperands.allBf16(t), p.safeguard()));
        }

        @Override
        public long apply(Kernels k, long from, int n, float[] base, float[][] models, float[][] fishers, float[] baseFisher,
                          float[] out) {
            return k.gradientMatching(p, base, baseFisher, models, fishers, out, n);
        }

        @Override
        public long direct(Kernels k, DType type, MemorySegment target, long from, int n) {
            return k.gradientMatchingDirect(p, base, baseFisher, x, fisher, output.of(target, type), from, n);
        }
    }
}
