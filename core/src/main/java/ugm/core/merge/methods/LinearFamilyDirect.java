package ugm.core.merge.methods;

import java.lang.foreign.MemorySegment;
import ugm.core.DType;
import ugm.core.kernel.DirectKernel;
import ugm.core.kernel.Kernels;
import ugm.core.kernel.Kernels.Operand;
import ugm.core.merge.MergePlan.TensorPlan;
import ugm.core.merge.TensorMerge;

/**
 * linear and task_arithmetic in one pass from the mappings ({@link Kernels#linearDirect} without a
 * base, {@link Kernels#taskArithmeticDirect} with one), where every input and the output are BF16,
 * F16 or F32 (each its own); {@code general}, the method's general path, does the ranges the
 * kernel declines, with the same bits.
 */
final class LinearFamilyDirect implements TensorMerge {
    private final Operand base;
    private final Operand[] x;
    private final float[] w;
    private final TensorMerge general;
    private final DirectOperands.Target output = new DirectOperands.Target();

    private LinearFamilyDirect(Operand base, Operand[] x, float[] w, TensorMerge general) {
        this.base = base;
        this.x = x;
        this.w = w;
        this.general = general;
    }

    /**
     * Tensor t's merge: the direct one where its dtypes allow, else {@code general}. {@code withBase}:
     * task arithmetic (its base is an input), else linear (no base, and no other input read).
     */
    static TensorMerge of(TensorPlan t, boolean withBase, float[] w, TensorMerge general) {
        if (!DirectOperands.readable(t) || (t.base() != null) != withBase || !t.fishers().isEmpty() || t.baseFisher() != null) {
            return general; // (an input the kernel does not read would go unscanned)
        }
        return new LinearFamilyDirect(withBase ? DirectOperands.of(t.base()) : null, DirectOperands.of(t.models()), w, general);
    }

    @Override
    public long apply(Kernels k, long from, int n, float[] base, float[][] models, float[][] fishers, float[] baseFisher,
                      float[] out) {
        return general.apply(k, from, n, base, models, fishers, baseFisher, out);
    }

    @Override
    public long direct(Kernels k, DType type, MemorySegment target, long from, int n) {
        Operand out = output.of(target, type);
        return (base == null ? k.linearDirect(x, w, out, from, n) : k.taskArithmeticDirect(base, x, w, out, from, n)) ? 0 : -1;
    }

    @Override
    public DirectKernel directKernel() {
        return DirectKernel.LINEAR;
    }
}
