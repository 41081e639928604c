package ugm.core.merge.methods;

import java.lang.foreign.MemorySegment;
import ugm.core.DType;
import ugm.core.kernel.DirectKernel;
import ugm.core.kernel.Kernels;
import ugm.core.kernel.Kernels.Operand;
import ugm.core.merge.MergePlan.Action;
import ugm.core.merge.MergePlan.Input;
import ugm.core.merge.MergePlan.TensorPlan;
import ugm.core.merge.TensorMerge;

/**
 * linear and task_arithmetic in one pass from the mappings ({@link Kernels#linearDirect} without a
 * base, {@link Kernels#taskArithmeticDirect} with one), where every input and the output are BF16,
 * F16 or F32 (each its own); {@code general}, the method's general path, does the ranges the
 * kernel declines, with the same bits.
 */
record LinearFamilyDirect(Operand base, Operand[] x, float[] w, TensorMerge general) implements TensorMerge {

    /**
     * Tensor t's merge: the direct one where its dtypes allow, else {@code general}. {@code withBase}:
     * task arithmetic (its base is an input), else linear (no base, and no other input read).
     */
    static TensorMerge of(TensorPlan t, boolean withBase, float[] w, TensorMerge general) {
        if (t.action() != Action.MERGE || !direct(t.output().dtype()) || (t.base() != null) != withBase
                || !t.fishers().isEmpty() || t.baseFisher() != null) {
            return general; // (an input the kernel does not read would go unscanned)
        }
        for (Input in : t.all()) {
            if (!direct(in.dtype())) {
                return general; // (F64: the general path)
            }
        }
        return new LinearFamilyDirect(withBase ? operand(t.base()) : null,
                t.models().stream().map(LinearFamilyDirect::operand).toArray(Operand[]::new), w, general);
    }

    private static boolean direct(DType type) {
        return type == DType.BF16 || type == DType.F16 || type == DType.F32;
    }

    private static Operand operand(Input in) {
        return new Operand(in.data(), in.dtype());
    }

    @Override
    public long apply(Kernels k, long from, int n, float[] base, float[][] models, float[][] fishers, float[] baseFisher,
                      float[] out) {
        return general.apply(k, from, n, base, models, fishers, baseFisher, out);
    }

    @Override
    public boolean direct(Kernels k, DType type, MemorySegment target, long from, int n) {
        Operand out = new Operand(target, type);
        return base == null ? k.linearDirect(x, w, out, from, n) : k.taskArithmeticDirect(base, x, w, out, from, n);
    }

    @Override
    public DirectKernel directKernel() {
        return DirectKernel.LINEAR;
    }
}
