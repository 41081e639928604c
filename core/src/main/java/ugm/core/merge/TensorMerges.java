package ugm.core.merge;

import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import ugm.core.UgmException;
import ugm.core.merge.MergePlan.Action;
import ugm.core.merge.MergePlan.TensorPlan;

/**
 * The {@link TensorMerge} of every merged tensor of one merge. A method without a first pass is
 * prepared here at once (cheap: its coefficients); one with a first pass is prepared by the first
 * worker that reaches one of the tensor's chunks (the others wait for it) and shared from then on,
 * so the pass streams over the mapped inputs once, on a worker, holding nothing tensor-sized.
 */
final class TensorMerges {
    private final MergeRequest request;
    private final TensorMerge[] ready;
    private final ConcurrentHashMap<String, FutureTask<TensorMerge>> passes = new ConcurrentHashMap<>();

    TensorMerges(MergeRequest request, List<TensorPlan> tensors) {
        this.request = request;
        this.ready = new TensorMerge[tensors.size()];
        if (!request.method.firstPass()) {
            for (int i = 0; i < ready.length; i++) {
                TensorPlan t = tensors.get(i);
                ready[i] = t.action() == Action.MERGE ? request.method.prepare(request, t) : null;
            }
        }
    }

    /** Tensor {@code i}'s merge (plan {@code t}), preparing it first where the method makes a first pass. */
    TensorMerge of(int i, TensorPlan t) {
        TensorMerge m = ready[i];
        return m != null ? m : lazily(t);
    }

    private TensorMerge lazily(TensorPlan t) {
        FutureTask<TensorMerge> task = new FutureTask<>(() -> request.method.prepare(request, t));
        FutureTask<TensorMerge> existing = passes.putIfAbsent(t.output().name(), task);
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
            throw new UgmException(UgmException.Kind.IO, "merge interrupted");
        }
    }

    /** Tensor {@code i}'s merge where it has been prepared, else null; never prepares it. */
    TensorMerge prepared(int i, TensorPlan t) {
        if (ready[i] != null) {
            return ready[i];
        }
        FutureTask<TensorMerge> task = passes.get(t.output().name());
        if (task == null || !task.isDone()) {
            return null;
        }
        try {
            return task.get();
        } catch (ExecutionException e) {
            return null; // (the failure reaches the merge through the worker that ran the pass)
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt(); // (a done task does not wait)
            return null;
        }
    }

    /** Drops a finished tensor's pass. */
    void release(TensorPlan t) {
        passes.remove(t.output().name());
    }
}
