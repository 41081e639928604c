package ugm.core.merge;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongConsumer;
import ugm.core.DType;
import ugm.core.TensorSink;
import ugm.core.UgmException;
import ugm.core.kernel.GradientMatching;
import ugm.core.kernel.KernelPolicy;
import ugm.core.kernel.Kernels;
import ugm.core.merge.MergePlan.Action;
import ugm.core.merge.MergePlan.Coefficients;
import ugm.core.merge.MergePlan.Input;
import ugm.core.merge.MergePlan.TensorPlan;

/**
 * Executes a {@link MergePlan}: every tensor is cut into chunks of a few thousand elements, and a
 * pool of threads takes chunks in order, decodes each input chunk into small per-thread float
 * buffers, runs the method's kernel and encodes into the sink's segment. The heap holds only those
 * buffers, whatever the model size.
 */
public final class Merger {

    /**
     * Elements per kernel call: the decoded inputs of one call stay in L1, and the probe
     * worker's timed calls look exactly like every later call to the JIT.
     */
    private static final int BLOCK = Integer.getInteger("ugm.block", 512);

    private Merger() {
    }

    /** Floats per decode buffer: each worker holds (3 + 2 x models) of them, whatever the model size. */
    public static int bufferElements() {
        return BLOCK;
    }

    /** Plans, checks and runs a merge into {@code sink}. */
    public static MergeReport merge(MergeRequest request, TensorSink sink) {
        return execute(MergePlan.of(request).requireValid(), sink, bytes -> { });
    }

    /** Plans, checks and runs a merge into {@code sink} with the kernels {@code policy} chooses. */
    public static MergeReport merge(MergeRequest request, TensorSink sink, KernelPolicy policy) {
        return execute(MergePlan.of(request).requireValid(), sink, NO_PROGRESS, policy);
    }

    /**
     * Merges the single tensor {@code name} into {@code target}, which must be exactly the output
     * tensor's size (see {@link MergePlan#ofTensor}). For servers that merge layer by layer.
     */
    public static MergeReport mergeTensor(MergeRequest request, String name, MemorySegment target) {
        MergePlan plan = MergePlan.ofTensor(request, name).requireValid();
        long need = plan.tensors().get(0).output().byteSize();
        if (target.byteSize() != need) {
            throw new UgmException(UgmException.Kind.USAGE,
                    "target for tensor '" + name + "' has " + target.byteSize() + " bytes; it needs " + need);
        }
        return execute(plan, t -> target, bytes -> { });
    }

    /**
     * Runs a checked plan. {@code progress} receives the bytes written as chunks finish (from any
     * worker thread; it must be cheap and thread-safe).
     */
    public static MergeReport execute(MergePlan plan, TensorSink sink, LongConsumer progress) {
        return execute(plan, sink, new MergeProgress() {
            @Override
            public void written(long bytes) {
                progress.accept(bytes);
            }

            @Override
            public void tensorDone(ugm.core.TensorInfo tensor) {
            }
        });
    }

    private static final MergeProgress NO_PROGRESS = new MergeProgress() {
        @Override
        public void written(long bytes) {
        }

        @Override
        public void tensorDone(ugm.core.TensorInfo tensor) {
        }
    };

    /**
     * Runs a checked plan, telling {@code progress} of every chunk and every finished tensor, with
     * the default kernel policy ({@link KernelPolicy#defaults()}).
     */
    public static MergeReport execute(MergePlan plan, TensorSink sink, MergeProgress progress) {
        return execute(plan, sink, progress, KernelPolicy.defaults());
    }

    /** Runs a checked plan with the kernels {@code policy} chooses (the bytes do not depend on it). */
    public static MergeReport execute(MergePlan plan, TensorSink sink, MergeProgress progress, KernelPolicy policy) {
        plan.requireValid();
        long start = System.nanoTime();
        List<TensorPlan> tensors = plan.tensors();
        int chunk = plan.request().chunkElements;
        long[] firstChunk = new long[tensors.size() + 1];
        MemorySegment[] targets = new MemorySegment[tensors.size()];
        for (int i = 0; i < tensors.size(); i++) {
            TensorPlan t = tensors.get(i);
            targets[i] = sink.target(t.output());
            if (targets[i].byteSize() != t.output().byteSize()) {
                throw new IllegalStateException("sink gave " + targets[i].byteSize() + " bytes for " + t.output());
            }
            firstChunk[i + 1] = firstChunk[i] + chunks(t, chunk);
        }
        // Memory confined to the calling thread (Arena.ofConfined) can only be touched from it.
        boolean callerOnly = !sharedAccess(tensors, targets);
        Run run = new Run(plan, sink, targets, firstChunk, chunk, policy, progress, callerOnly);
        int threads = callerOnly ? 1 : (int) Math.max(1, Math.min(plan.request().threads, firstChunk[tensors.size()]));
        run.start(threads);
        return new MergeReport(tensors.size(), plan.bytesRead(), plan.bytesWritten(), System.nanoTime() - start,
                threads, run.kernelsUsed(), run.clamped.sum(), run.scan.findings());
    }

    private static boolean sharedAccess(List<TensorPlan> tensors, MemorySegment[] targets) {
        Thread other = Thread.ofPlatform().unstarted(() -> { });
        for (MemorySegment t : targets) {
            if (!t.isAccessibleBy(other)) {
                return false;
            }
        }
        for (TensorPlan t : tensors) {
            for (Input in : t.all()) {
                if (!in.data().isAccessibleBy(other)) {
                    return false;
                }
            }
        }
        return true;
    }

    private static long chunks(TensorPlan t, int chunk) {
        long units = t.action() == Action.COPY ? ceilDiv(t.output().byteSize(), 4L * chunk)
                : ceilDiv(t.output().elementCount(), chunk);
        return units;
    }

    private static long ceilDiv(long a, long b) {
        return (a + b - 1) / b;
    }

    /** One execution: the shared cursor over all chunks, and the workers. */
    private static final class Run {
        final List<TensorPlan> tensors;
        final MemorySegment[] targets;
        final long[] firstChunk;
        final int chunk;
        /** Which kernels the workers use, call by call. */
        final KernelPolicy.Switchover kernels;
        final MergeProgress progress;
        /** Chunks not yet written, per tensor. */
        final AtomicLongArray remaining;
        final Method method;
        final int models;
        final AtomicLong cursor = new AtomicLong();
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        final LongAdder clamped = new LongAdder();
        final InputScan scan;
        /** The per-tensor first passes of the methods that need one (see {@link TensorPasses}). */
        final TensorPasses passes;

        final boolean callerOnly;

        final TensorSink sink;
        /** Per tensor, its operands for {@link Kernels#gradientMatchingDirect}, or null where only the general path applies. */
        final Direct[] direct;

        Run(MergePlan plan, TensorSink sink, MemorySegment[] targets, long[] firstChunk, int chunk, KernelPolicy policy,
            MergeProgress progress, boolean callerOnly) {
            this.callerOnly = callerOnly;
            this.sink = sink;
            this.remaining = new AtomicLongArray(targets.length);
            for (int i = 0; i < targets.length; i++) {
                remaining.set(i, firstChunk[i + 1] - firstChunk[i]);
            }
            this.tensors = plan.tensors();
            this.scan = new InputScan(tensors);
            this.targets = targets;
            this.firstChunk = firstChunk;
            this.chunk = chunk;
            this.kernels = policy.start(plan.bytesRead(), !callerOnly);
            this.progress = progress;
            this.method = plan.request().method;
            this.models = plan.request().models.size();
            this.passes = new TensorPasses(plan.request());
            this.direct = new Direct[tensors.size()];
            for (int i = 0; i < direct.length; i++) {
                direct[i] = Direct.of(tensors.get(i), method);
            }
        }

        void start(int threads) {
            for (int i = 0; i < tensors.size(); i++) {
                if (remaining.get(i) == 0) {
                    progress.tensorDone(tensors.get(i).output()); // nothing to write
                }
            }
            if (callerOnly || threads == 1) {
                work(kernels.worker(true)); // one worker: no thread to start (small merges, servers merging a tensor)
                rethrow(failure.get());
                return;
            }
            List<Thread> workers = new ArrayList<>();
            for (int i = 0; i < threads; i++) {
                KernelPolicy.Worker worker = kernels.worker(i == 0);
                workers.add(Thread.ofPlatform().name("ugm-merge-" + i).start(() -> work(worker)));
            }
            boolean interrupted = false;
            for (Thread w : workers) {
                while (true) {
                    try {
                        w.join();
                        break;
                    } catch (InterruptedException e) {
                        interrupted = true;
                        failure.compareAndSet(null, new UgmException(UgmException.Kind.IO, "merge interrupted"));
                    }
                }
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
            rethrow(failure.get());
        }

        static void rethrow(Throwable f) {
            if (f instanceof RuntimeException re) {
                throw re;
            }
            if (f instanceof Error e) {
                throw e;
            }
            if (f != null) {
                throw new IllegalStateException(f);
            }
        }

        /** The kernels that did the work, e.g. "vector-256 (scalar for the first 0.41 s)". */
        String kernelsUsed() {
            return kernels.kernelsUsed();
        }

        /**
         * Takes chunks in order until none is left, each kernel call on the kernels the policy
         * gives this worker ({@link KernelPolicy}: scalar first, then vector once compiled). No
         * work is done twice and the bytes do not depend on when, or whether, the switch happens.
         */
        void work(KernelPolicy.Worker worker) {
            Scratch s = new Scratch(models, BLOCK);
            long total = firstChunk[firstChunk.length - 1];
            int ti = 0;
            try {
                for (long g = cursor.getAndIncrement(); g < total && failure.get() == null; g = cursor.getAndIncrement()) {
                    ti = tensorOf(g, ti);
                    long c = g - firstChunk[ti];
                    TensorPlan t = tensors.get(ti);
                    try {
                        long bytes;
                        if (t.action() == Action.COPY) {
                            bytes = copy(t, targets[ti], c);
                        } else {
                            bytes = merge(t, direct[ti], targets[ti], c, s, worker);
                        }
                        progress.written(bytes);
                        if (remaining.decrementAndGet(ti) == 0) {
                            release(t);
                            progress.tensorDone(t.output());
                        }
                    } catch (InternalError e) {
                        throw InputFault.of(t, e); // a mapped page that cannot be read: a file was truncated underneath
                    }
                }
            } catch (Throwable e) {
                // The fault can surface a little after the access that caused it.
                failure.compareAndSet(null, e instanceof InternalError ie ? InputFault.of(tensors.get(ti), ie) : e);
            }
        }

        /** Lets file-backed inputs and output drop a finished tensor's pages, so RSS stays bounded. */
        void release(TensorPlan t) {
            String name = t.output().name();
            for (Input in : t.action() == Action.COPY ? List.of(t.base()) : t.all()) {
                in.source().release(name);
            }
            sink.release(t.output());
            passes.release(t);
        }

        /** The tensor that owns global chunk g; chunks are taken in order, so start from the last one. */
        int tensorOf(long g, int hint) {
            if (g >= firstChunk[hint] && g < firstChunk[hint + 1]) {
                return hint;
            }
            int i = Arrays.binarySearch(firstChunk, g);
            i = i >= 0 ? i : -i - 2;
            while (firstChunk[i + 1] == firstChunk[i]) {
                i++; // skip tensors with no chunks
            }
            return i;
        }

        long copy(TensorPlan t, MemorySegment target, long c) {
            long step = 4L * chunk;
            long from = c * step;
            long n = Math.min(step, target.byteSize() - from);
            MemorySegment.copy(t.base().data(), from, target, from, n);
            return n;
        }

        long merge(TensorPlan t, Direct d, MemorySegment target, long c, Scratch s, KernelPolicy.Worker worker) {
            long from = c * chunk;
            long end = Math.min(from + chunk, t.output().elementCount());
            long bytes = 0;
            for (long at = from; at < end; at += BLOCK) {
                int n = (int) Math.min(BLOCK, end - at);
                // (the direct kernel is compiled ahead by the warm-up, if there is one: no probing it here)
                Kernels k = worker.next(d != null);
                bytes += mergeRange(k, worker, t, d, target, at, n, s, clamped);
                worker.done(n);
            }
            return bytes;
        }

        /**
         * Elements [from, from + n) of tensor t: in one pass by the direct kernel where it applies
         * and accepts the range, else by the general path (decode, check, compute, encode), which
         * gives the same bits and also reports, rejects or falls back where the data asks for it.
         */
        long mergeRange(Kernels kernels, KernelPolicy.Worker worker, TensorPlan t, Direct d, MemorySegment target, long from,
                        int n, Scratch s, LongAdder clampCount) {
            DType outType = t.output().dtype();
            if (d != null) {
                Kernels k = worker.direct(kernels, outType); // the vector kernel once the warm-up has compiled it
                if (k.gradientMatchingDirect(d.p, outType, d.base, d.baseFisher, d.x, d.fisher, target, from, n)) {
                    return (long) n * outType.byteWidth();
                }
            }
            String name = t.output().name();
            for (int i = 0; i < models; i++) {
                decode(kernels, t.models().get(i), from, s.models[i], n);
            }
            if (t.base() != null) {
                decode(kernels, t.base(), from, s.base, n);
            }
            for (int i = 0; i < t.fishers().size(); i++) {
                decode(kernels, t.fishers().get(i), from, s.fishers[i], n);
                checkFisher(kernels, t.fishers().get(i), name, s.fishers[i], n, from);
            }
            float[] baseFisher = null;
            if (t.baseFisher() != null) {
                decode(kernels, t.baseFisher(), from, s.baseFisher, n);
                checkFisher(kernels, t.baseFisher(), name, s.baseFisher, n, from);
                baseFisher = s.baseFisher;
            }
            scan.block(kernels, t, s.models, s.base, s.fishers, baseFisher, n);
            Coefficients k = t.coefficients();
            switch (method) {
                case LINEAR -> kernels.linear(s.models, k.weights(), s.out, n);
                case TASK_ARITHMETIC -> kernels.taskArithmetic(s.base, s.models, k.alphas(), s.out, n);
                case FISHER -> kernels.fisher(s.models, s.fishers, k.alphas(), k.scales(), k.floor(), s.out, n);
                case FISHER_WITH_BASE -> kernels.fisherWithBase(s.base, baseFisher, k.baseScale(), s.models, s.fishers,
                        k.alphas(), k.scales(), k.floor(), s.out, n);
                case GRADIENT_MATCHING -> {
                    long c = kernels.gradientMatching(k.gradientMatching(), s.base, baseFisher, s.models, s.fishers, s.out, n);
                    if (clampCount != null) {
                        clampCount.add(c);
                    }
                }
                default -> passes.of(t).apply(from, n, s.base, s.models, s.fishers, baseFisher, s.out); // first pass, then element-wise
            }
            kernels.encode(s.out, n, outType, target, from * outType.byteWidth());
            return (long) n * outType.byteWidth();
        }

        static void decode(Kernels kernels, Input in, long from, float[] dst, int n) {
            kernels.decode(in.dtype(), in.data(), from * in.dtype().byteWidth(), dst, n);
        }

        static void checkFisher(Kernels kernels, Input in, String name, float[] h, int n, long from) {
            int i = kernels.indexOfNegativeOrNaN(h, n);
            if (i >= 0) {
                throw new UgmException(UgmException.Kind.INVALID_INPUT, "tensor '" + name + "' in "
                        + in.source().locate(name) + ": Fisher value " + h[i] + " at element " + (from + i)
                        + (Float.isNaN(h[i]) ? " is NaN" : " is negative") + "; Fisher values must be >= 0");
            }
        }

    }

    /**
     * The operands of {@link Kernels#gradientMatchingDirect} for one tensor: gradient matching
     * (not removal), every input and the output of one dtype, BF16 or F32; baseFisher may be null.
     */
    private record Direct(GradientMatching p, MemorySegment base, MemorySegment baseFisher, MemorySegment[] x,
                          MemorySegment[] fisher) {

        static Direct of(TensorPlan t, Method method) {
            if (method != Method.GRADIENT_MATCHING || t.action() != Action.MERGE || t.coefficients().gradientMatching().remove()) {
                return null;
            }
            DType type = t.output().dtype();
            if (type != DType.BF16 && type != DType.F32
                    || t.baseFisher() == null && !Float.isFinite(t.coefficients().gradientMatching().baseScale())) {
                return null; // (without a base Fisher the kernel takes P0 = 0 * s0 + delta0)
            }
            for (Input in : t.all()) {
                if (in.dtype() != type) {
                    return null;
                }
            }
            return new Direct(t.coefficients().gradientMatching(), t.base().data(), t.baseFisher() == null ? null : t.baseFisher().data(),
                    t.models().stream().map(Input::data).toArray(MemorySegment[]::new),
                    t.fishers().stream().map(Input::data).toArray(MemorySegment[]::new));
        }
    }

    /** Per-thread decode buffers. */
    private static final class Scratch {
        final float[] base;
        final float[] baseFisher;
        final float[] out;
        final float[][] models;
        final float[][] fishers;

        Scratch(int n, int chunk) {
            base = new float[chunk];
            baseFisher = new float[chunk];
            out = new float[chunk];
            models = new float[n][chunk];
            fishers = new float[n][chunk];
        }
    }
}
