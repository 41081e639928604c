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
import ugm.core.kernel.Kernels;
import ugm.core.kernel.WarmUp;
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
     * Bytes of input from which a merge warms up the vector kernels itself, by the probe worker
     * (system property {@code ugm.vector.after}, read at each merge; default 4 GiB; 0 = vector
     * kernels from the first chunk). C2 needs about 4 CPU-seconds on this project's 2-core
     * machine to compile all the general-path kernels, so smaller merges finish sooner on the
     * scalar twin. The direct kernel does not wait for this: once {@link WarmUp} has compiled it,
     * merges of any size use it. See {@link Run#work}.
     */
    static long vectorAfter() {
        return Long.getLong("ugm.vector.after", 4L << 30);
    }
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

    /** Runs a checked plan, telling {@code progress} of every chunk and every finished tensor. */
    public static MergeReport execute(MergePlan plan, TensorSink sink, MergeProgress progress) {
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
        Run run = new Run(plan, sink, targets, firstChunk, chunk, Kernels.get(), progress, callerOnly);
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
        final Kernels vector;
        /** The kernels workers use now: scalar until the vector ones are compiled, then those. */
        volatile Kernels active;
        final long startNanos = System.nanoTime();
        volatile long switchNanos = -1;
        /** Whether direct kernels switched to the vector ones because {@link WarmUp} had compiled them. */
        volatile boolean warmedUp;
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
        /** Whether worker 0 warms up the vector kernels while the others run the scalar ones. */
        final boolean probeVector;

        final TensorSink sink;
        /** Per tensor, its operands for {@link Kernels#gradientMatchingDirect}, or null where only the general path applies. */
        final Direct[] direct;

        Run(MergePlan plan, TensorSink sink, MemorySegment[] targets, long[] firstChunk, int chunk, Kernels kernels,
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
            this.vector = kernels;
            long after = vectorAfter();
            boolean worthIt = after == 0 || plan.bytesRead() >= after;
            boolean startScalar = after > 0 && !kernels.isScalar();
            this.active = startScalar ? Kernels.scalar() : kernels;
            this.probeVector = startScalar && worthIt && !callerOnly;
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
            if (callerOnly || (threads == 1 && !probeVector)) {
                work(false); // one worker: no thread to start (small merges, servers merging a tensor)
                rethrow(failure.get());
                return;
            }
            List<Thread> workers = new ArrayList<>();
            for (int i = 0; i < threads; i++) {
                boolean probe = i == 0 && probeVector;
                workers.add(Thread.ofPlatform().name("ugm-merge-" + i).start(() -> work(probe)));
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
            if (active != vector && !warmedUp) {
                return active.name();
            }
            long sw = switchNanos;
            return sw < 0 ? vector.name() : String.format(java.util.Locale.ROOT, "%s (scalar for the first %.2f s)",
                    vector.name(), sw / 1e9);
        }

        /**
         * Takes chunks in order until none is left. The Vector API runs a hundred times slower
         * than scalar code until C2 has compiled it, and a one-shot merge gets a single pass;
         * so the workers start on the scalar kernels (bit-identical, compiled in milliseconds).
         * In a merge large enough to repay the compilation, the probe worker does its share
         * with the vector kernels in small calls, timing them; once its time per element stops
         * falling, every worker switches to the vector kernels. No work is done twice and the
         * bytes do not depend on when, or whether, the switch happens.
         */
        void work(boolean probe) {
            Scratch s = new Scratch(models, BLOCK);
            Probe timing = probe ? new Probe() : null;
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
                        } else if (timing != null && active != vector && !(direct[ti] != null && WarmUp.started())) {
                            bytes = probe(t, direct[ti], targets[ti], c, s, timing);
                        } else {
                            bytes = merge(t, direct[ti], targets[ti], c, s);
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

        /** The probe worker's timing of the vector kernels, in windows of calls. */
        private static final class Probe {
            static final int WINDOW = 64;
            int calls;
            long elements;
            long nanos;
            double previous = Double.MAX_VALUE;
            int windows;

            /** Records one call; true once a window was no faster per element than the one before. */
            boolean hot(int n, long dt) {
                calls++;
                elements += n;
                nanos += dt;
                if (calls < WINDOW) {
                    return false;
                }
                double perElement = (double) nanos / elements;
                boolean flat = windows >= 4 && perElement >= 0.9 * previous;
                previous = Math.min(previous, perElement);
                windows++;
                calls = 0;
                elements = 0;
                nanos = 0;
                return flat;
            }
        }

        long probe(TensorPlan t, Direct d, MemorySegment target, long c, Scratch s, Probe timing) {
            long from = c * chunk;
            long end = Math.min(from + chunk, t.output().elementCount());
            long bytes = 0;
            for (long at = from; at < end; at += BLOCK) {
                int n = (int) Math.min(BLOCK, end - at);
                long t0 = System.nanoTime();
                bytes += mergeRange(vector, t, d, target, at, n, s, clamped);
                if (timing.hot(n, System.nanoTime() - t0) && active != vector) {
                    switchNanos = System.nanoTime() - startNanos;
                    active = vector;
                }
            }
            return bytes;
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

        long merge(TensorPlan t, Direct d, MemorySegment target, long c, Scratch s) {
            long from = c * chunk;
            long end = Math.min(from + chunk, t.output().elementCount());
            Kernels k = active;
            long bytes = 0;
            for (long at = from; at < end; at += BLOCK) {
                bytes += mergeRange(k, t, d, target, at, (int) Math.min(BLOCK, end - at), s, clamped);
            }
            return bytes;
        }

        /**
         * Elements [from, from + n) of tensor t: in one pass by the direct kernel where it applies
         * and accepts the range, else by the general path (decode, check, compute, encode), which
         * gives the same bits and also reports, rejects or falls back where the data asks for it.
         */
        long mergeRange(Kernels kernels, TensorPlan t, Direct d, MemorySegment target, long from, int n, Scratch s,
                        LongAdder clampCount) {
            DType outType = t.output().dtype();
            if (d != null) {
                Kernels k = kernels;
                if (k != vector && WarmUp.hot(outType)) {
                    k = vector; // compiled ahead by the warm-up thread
                    if (!warmedUp) {
                        warmedUp = true;
                        switchNanos = System.nanoTime() - startNanos;
                    }
                }
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
