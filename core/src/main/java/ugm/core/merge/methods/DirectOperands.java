package ugm.core.merge.methods;

import java.lang.foreign.MemorySegment;
import ugm.core.DType;
import ugm.core.kernel.Kernels.Operand;
import ugm.core.merge.MergePlan.Action;
import ugm.core.merge.MergePlan.Input;
import ugm.core.merge.MergePlan.TensorPlan;

/** What the methods' direct kernels read and write: a tensor's operands, from its plan. */
final class DirectOperands {
    private DirectOperands() {
    }

    /** Whether tensor t is merged, and its output and every input are BF16, F16 or F32 (each its own): the dtypes the direct kernels take. */
    static boolean readable(TensorPlan t) {
        if (t.action() != Action.MERGE || !direct(t.output().dtype())) {
            return false;
        }
        for (Input in : t.all()) {
            if (!direct(in.dtype())) {
                return false; // (F64: the general path)
            }
        }
        return true;
    }

    /** Whether tensor t's output and every input are BF16: the layout with a direct kernel of its own. */
    static boolean allBf16(TensorPlan t) {
        if (t.output().dtype() != DType.BF16) {
            return false;
        }
        for (Input in : t.all()) {
            if (in.dtype() != DType.BF16) {
                return false;
            }
        }
        return true;
    }

    private static boolean direct(DType type) {
        return type == DType.BF16 || type == DType.F16 || type == DType.F32;
    }

    /** An input as an operand; null for null. */
    static Operand of(Input in) {
        return in == null ? null : new Operand(in.data(), in.dtype());
    }

    /** Each input as an operand. */
    static Operand[] of(java.util.List<Input> inputs) {
        return inputs.stream().map(DirectOperands::of).toArray(Operand[]::new);
    }

    /**
     * The output operand of a tensor's calls, made once: every call of a tensor has the same
     * target, and a new operand per call of 512 elements was most of what a merge allocated
     * (26 bytes per block). Racy on purpose: an Operand is immutable (final fields), so a thread
     * sees either a whole one or null, and makes its own where it is not this target's.
     */
    static final class Target {
        private Operand last;

        Operand of(MemorySegment target, DType type) {
            Operand out = last;
            if (out == null || out.data() != target || out.type() != type) {
                out = new Operand(target, type);
                last = out;
            }
            return out;
        }
    }
}
