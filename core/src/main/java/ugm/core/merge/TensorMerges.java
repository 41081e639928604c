package ugm.core.merge;

import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import ugm.core.UgmException;
import ugm.core.kernel.Kernels;
import ugm.core.merge.MergePlan.Action;
import ugm.core.merge.MergePlan.TensorPlan;

/**
 * The {@link TensorMerge} of every merged tensor of one merge. A method without a first pass is
 * prepared here at once (cheap: its coefficients); one with a first pass is prepared by the first
 * worker that reaches one of the tensor's chunks and shared from then on, so the pass streams over
 * the mapped inputs once, on a worker, holding nothing tensor-sized. A worker that reaches a
 * tensor whose pass another is running does not wait idle: it runs the pass of a later tensor
 * nobody has started (at most {@link #AHEAD} tensors on), then waits. Workers take chunks in file
 * order, so without that every first pass ran on one thread while the others waited: a ties merge
 * with density below 1 used one core of many.
 */
final class TensorMerges {
    /** How many tensors beyond the one it waits for a worker may prepare (passes read what the merge soon reads again). */
    static final int AHEAD = 8;

    private final MergeRequest request;
    private final List<TensorPlan> tensors;
    private final TensorMerge[] ready;
    private final ConcurrentHashMap<String, FutureTask<TensorMerge>> passes = new ConcurrentHashMap<>();
    /** The tensors merged and released: a worker looking ahead must not run their passes again. */
    private final java.util.Set<String> released = ConcurrentHashMap.newKeySet();

    TensorMerges(MergeRequest request, List<TensorPlan> tensors) {
        this.request = request;
        this.tensors = tensors;
        this.ready = new TensorMerge[tensors.size()];
        if (!request.method.firstPass()) {
            for (int i = 0; i < ready.length; i++) {
                TensorPlan t = tensors.get(i);
                ready[i] = t.action() == Action.MERGE ? request.method.prepare(request, t) : null;
            }
        }
    }

    /**
     * Tensor {@code i}'s merge (plan {@code t}), preparing it first where the method makes a first
     * pass, on kernels {@code k} (the worker's, now).
     */
    TensorMerge of(int i, TensorPlan t, Kernels k) {
        TensorMerge m = ready[i];
        return m != null ? m : lazily(i, t, k);
    }

    private TensorMerge lazily(int i, TensorPlan t, Kernels k) {
        FutureTask<TensorMerge> existing = start(t, k);
        for (int ahead = i + 1; !existing.isDone() && ahead < Math.min(tensors.size(), i + 1 + AHEAD); ahead++) {
            start(tensors.get(ahead), k); // (a failure there reaches the merge through the worker that merges that tensor)
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

    /**
     * Tensor t's pass: runs it here where nobody has started it, else returns the one that exists;
     * null for a tensor this merge copies or has already merged and released (only a worker
     * looking ahead asks for those).
     */
    private FutureTask<TensorMerge> start(TensorPlan t, Kernels k) {
        if (t.action() != Action.MERGE || released.contains(t.output().name())) {
            return null;
        }
        FutureTask<TensorMerge> task = new FutureTask<>(() -> request.method.prepare(request, t, k));
        FutureTask<TensorMerge> existing = passes.putIfAbsent(t.output().name(), task);
        if (existing != null) {
            return existing;
        }
        task.run();
        return task;
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
        released.add(t.output().name());
        passes.remove(t.output().name());
    }
}
