package ugm.core.merge;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import ugm.core.DType;
import ugm.core.kernel.Kernels;
import ugm.core.merge.MergePlan.Input;
import ugm.core.merge.MergePlan.TensorPlan;

/**
 * The first passes of one merge: the {@link ElementPass} of every tensor, built by the first
 * worker that reaches one of its chunks (the others wait for it) and shared from then on. A first
 * pass streams over the mapped inputs in blocks; nothing tensor-sized is held.
 */
final class TensorPasses {
    /** Elements per block of a first pass. */
    static final int BLOCK = 4096;

    private final MergeRequest request;
    private final ConcurrentHashMap<String, FutureTask<ElementPass>> passes = new ConcurrentHashMap<>();

    TensorPasses(MergeRequest request) {
        this.request = request;
    }

    /** Whether {@code m} runs through a pass (else through the element-wise kernels). */
    static boolean handles(Method m) {
        return switch (m) {
            case LINEAR, TASK_ARITHMETIC, FISHER, FISHER_WITH_BASE, GRADIENT_MATCHING -> false;
            default -> true;
        };
    }

    ElementPass of(TensorPlan t) {
        FutureTask<ElementPass> task = new FutureTask<>(() -> build(t));
        FutureTask<ElementPass> existing = passes.putIfAbsent(t.output().name(), task);
        if (existing == null) {
            task.run();
            existing = task;
        }
        try {
            return existing.get();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException re) {
                throw re;
            }
            throw new IllegalStateException(e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ugm.core.UgmException(ugm.core.UgmException.Kind.IO, "merge interrupted");
        }
    }

    /** Drops a finished tensor's pass. */
    void release(TensorPlan t) {
        passes.remove(t.output().name());
    }

    private ElementPass build(TensorPlan t) {
        return switch (request.method) {
            case SLERP -> Slerp.prepare(request, t);
            case NEARSWAP -> Nearswap.prepare(request, t);
            case MODEL_STOCK -> ModelStock.prepare(request, t);
            default -> TaskVectorPass.prepare(request, t);
        };
    }

    /** Decodes elements {@code [from, from + n)} of {@code in} into {@code dst}. */
    static void decode(Input in, long from, int n, float[] dst) {
        DType d = in.dtype();
        Kernels.scalar().decode(d, in.data(), from * d.byteWidth(), dst, n);
    }

    /** The mergekit-style reading of a float parameter as the decimal the user wrote (0.7f is 0.7, not 0.699999988). */
    static double decimal(float v) {
        return Double.parseDouble(Float.toString(v));
    }
}
