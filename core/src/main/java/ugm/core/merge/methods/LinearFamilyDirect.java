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
final class LinearFamilyDirect implements TensorMerge {
    private final Operand base;
    private final Operand[] x;
    private final float[] w;
    private final TensorMerge general;
    /**
     * The output operand of the last call: every call of a tensor has the same target, and a new
     * one per call of 512 elements was most of what a merge allocated (26 bytes per block).
     * Racy on purpose: an Operand is immutable (final fields), so a thread sees either a whole
     * one or null, and makes its own where it is not this target's.
     */
    private Operand out;

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
        Operand out = this.out;
        if (out == null || out.data() != target || out.type() != type) {
            out = new Operand(target, type);
            this.out = out;
        }
        return base == null ? k.linearDirect(x, w, out, from, n) : k.taskArithmeticDirect(base, x, w, out, from, n);
    }

    @Override
    public DirectKernel directKernel() {
        return DirectKernel.LINEAR;
    }
}
