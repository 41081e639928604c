package ugm.core.merge;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongConsumer;
import ugm.core.exec.ChunkExecutor;
import ugm.core.DType;
import ugm.core.TensorInfo;
import ugm.core.TensorSink;
import ugm.core.TensorSource;
import ugm.core.UgmException;
import ugm.core.kernel.KernelPolicy;
import ugm.core.kernel.Kernels;
import ugm.core.merge.MergePlan.Action;
import ugm.core.merge.MergePlan.Input;
import ugm.core.merge.MergePlan.TensorPlan;

/**
 * Executes a {@link MergePlan}: every tensor is cut into chunks of a few thousand elements, and the
 * {@link ChunkExecutor}'s workers take chunks in order, decode each input chunk into small
 * per-thread float buffers, run the method's kernel and encode into the sink's segment. The heap
 * holds only those buffers, whatever the model size.
 *
 * <p>Static and stateless: any number of merges may run at once, from any threads, each on its own sink.
 */
public final class Merger {

    /**
     * Elements per kernel call: the decoded inputs of one call stay in L1, and the probe
     * worker's timed calls look exactly like every later call to the JIT.
     */
    private static final int BLOCK = Integer.getInteger("ugm.block", 512);

    private static final MergeProgress NO_PROGRESS = new MergeProgress() {
        @Override
        public void written(long bytes) {
        }

        @Override
        public void tensorDone(TensorInfo tensor) {
        }
    };

    private Merger() {
    }

    /** Floats per decode buffer: each worker holds (3 + 2 x models) of them, whatever the model size. */
    public static int bufferElements() {
        return BLOCK;
    }

    /** Plans, checks and runs a merge into {@code sink}. */
    public static MergeReport merge(MergeRequest request, TensorSink sink) {
        return merge(request, sink, ChunkExecutor.defaults());
    }

    /** Plans, checks and runs a merge into {@code sink} on {@code executor} (its threads and kernel policy). */
    public static MergeReport merge(MergeRequest request, TensorSink sink, ChunkExecutor executor) {
        return execute(MergePlan.of(request).requireValid(), sink, NO_PROGRESS, executor);
    }

    /**
     * Merges the single tensor {@code name} into {@code target}, which must be exactly the output
     * tensor's size (see {@link MergePlan#ofTensor}). For servers that merge layer by layer.
     */
    public static MergeReport mergeTensor(MergeRequest request, String name, MemorySegment target) {
        return mergeTensor(request, name, target, ChunkExecutor.defaults());
    }

    /** {@link #mergeTensor(MergeRequest, String, MemorySegment)} on {@code executor} (its threads and kernel policy). */
    public static MergeReport mergeTensor(MergeRequest request, String name, MemorySegment target, ChunkExecutor executor) {
        MergePlan plan = MergePlan.ofTensor(request, name).requireValid();
        long need = plan.tensors().get(0).output().byteSize();
        if (target.byteSize() != need) {
            throw new UgmException(UgmException.Kind.USAGE,
                    "target for tensor '" + name + "' has " + target.byteSize() + " bytes; it needs " + need);
        }
        return execute(plan, t -> target, NO_PROGRESS, executor);
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
            public void tensorDone(TensorInfo tensor) {
            }
        });
    }

    /**
     * Runs a checked plan, telling {@code progress} of every chunk and every finished tensor, on
     * the default executor ({@link ChunkExecutor#defaults()}).
     */
    public static MergeReport execute(MergePlan plan, TensorSink sink, MergeProgress progress) {
        return execute(plan, sink, progress, ChunkExecutor.defaults());
    }

    /**
     * Runs a checked plan on {@code executor}: its threads (the caller's alone for one worker) and
     * its kernel policy (the bytes do not depend on it).
     */
    public static MergeReport execute(MergePlan plan, TensorSink sink, MergeProgress progress, ChunkExecutor executor) {
        plan.requireValid();
        long start = System.nanoTime();
        Run run = new Run(plan, sink);
        ChunkExecutor.Result r = executor.run("merge", run.jobs, plan.bytesRead(), plan.request().threads, run,
                progress::written, progress::tensorDone);
        return new MergeReport(run.tensors.size(), plan.bytesRead(), plan.bytesWritten(), System.nanoTime() - start,
                r.threads(), r.kernels(), run.clamped.sum(), run.scan.findings());
    }

    private static long ceilDiv(long a, long b) {
        return (a + b - 1) / b;
    }

    /** One merge: its tensors as the executor's jobs, and what a worker does with a chunk of one. */
    private static final class Run implements ChunkExecutor.Work<Scratch> {
        final List<TensorPlan> tensors;
        final List<ChunkExecutor.Job> jobs = new ArrayList<>();
        final MemorySegment[] targets;
        final int chunk;
        final int models;
        final LongAdder clamped = new LongAdder();
        final InputScan scan;
        /** How each tensor is computed (see {@link TensorMerges}). */
        final TensorMerges merges;
        final TensorSink sink;

        Run(MergePlan plan, TensorSink sink) {
            this.sink = sink;
            this.tensors = plan.tensors();
            this.chunk = plan.request().chunkElements;
            this.targets = new MemorySegment[tensors.size()];
            for (int i = 0; i < tensors.size(); i++) {
                TensorPlan t = tensors.get(i);
                targets[i] = sink.target(t.output());
                if (targets[i].byteSize() != t.output().byteSize()) {
                    throw new IllegalStateException("sink gave " + targets[i].byteSize() + " bytes for " + t.output());
                }
                List<TensorSource> sources = new ArrayList<>();
                List<MemorySegment> memory = new ArrayList<>();
                memory.add(targets[i]);
                for (Input in : t.all()) {
                    sources.add(in.source());
                    memory.add(in.data());
                }
                jobs.add(new ChunkExecutor.Job(t.output(), chunks(t), sources, memory));
            }
            this.scan = new InputScan(tensors);
            this.models = plan.request().models.size();
            this.merges = new TensorMerges(plan.request(), tensors);
        }

        /** Chunks of {@code chunk} elements, or of 4 x {@code chunk} bytes for a copied tensor. */
        long chunks(TensorPlan t) {
            return t.action() == Action.COPY ? ceilDiv(t.output().byteSize(), 4L * chunk)
                    : ceilDiv(t.output().elementCount(), chunk);
        }

        @Override
        public Scratch scratch() {
            return new Scratch(models, BLOCK);
        }

        @Override
        public long chunk(int ti, long c, Scratch s, KernelPolicy.Worker worker) {
            TensorPlan t = tensors.get(ti);
            return t.action() == Action.COPY ? copy(t, targets[ti], c) : merge(t, merges.of(ti, t, worker.active()), targets[ti], c, s, worker);
        }

        /** Lets file-backed inputs and output drop a finished tensor's pages, so RSS stays bounded. */
        @Override
        public void finished(int ti) {
            TensorPlan t = tensors.get(ti);
            String name = t.output().name();
            for (Input in : t.action() == Action.COPY ? List.of(t.base()) : t.all()) {
                in.source().release(name);
            }
            sink.release(t.output());
            if (t.action() == Action.MERGE) {
                TensorMerge m = merges.prepared(ti, t);
                String warning = m == null ? null : m.warning();
                if (warning != null) {
                    scan.warn(t, new MergeReport.Undefined(name, warning));
                }
            }
            merges.release(t);
        }

        long copy(TensorPlan t, MemorySegment target, long c) {
            long step = 4L * chunk;
            long from = c * step;
            long n = Math.min(step, target.byteSize() - from);
            MemorySegment.copy(t.base().data(), from, target, from, n);
            return n;
        }

        /**
         * Elements of chunk c, one kernel call of up to {@link #BLOCK} elements at a time, each on
         * the kernels the policy gives this worker for it ({@link KernelPolicy}: scalar first, then
         * vector once compiled). No work is done twice and the bytes do not depend on when, or
         * whether, the switch happens.
         */
        long merge(TensorPlan t, TensorMerge m, MemorySegment target, long c, Scratch s, KernelPolicy.Worker worker) {
            long from = c * chunk;
            long end = Math.min(from + chunk, t.output().elementCount());
            long bytes = 0;
            for (long at = from; at < end; at += BLOCK) {
                int n = (int) Math.min(BLOCK, end - at);
                // (the direct kernel is compiled ahead by the warm-up, if there is one: no probing it here)
                Kernels k = worker.next(m.hasDirect());
                bytes += mergeRange(k, worker, t, m, target, at, n, s);
                worker.done(n);
            }
            return bytes;
        }

        /**
         * Elements [from, from + n) of tensor t: in one pass by the direct kernel where it applies
         * and accepts the range, else by the general path (decode, check, compute, encode), which
         * gives the same bits and also reports, rejects or falls back where the data asks for it
         * (non-finite inputs, values beyond the output dtype's range).
         */
        long mergeRange(Kernels kernels, KernelPolicy.Worker worker, TensorPlan t, TensorMerge m, MemorySegment target, long from,
                        int n, Scratch s) {
            DType outType = t.output().dtype();
            long direct = m.hasDirect() ? m.direct(worker.direct(kernels, m.directKernel(), outType), outType, target, from, n) : -1;
            if (direct >= 0) { // (the vector kernel once the warm-up has compiled it)
                if (direct != 0) {
                    clamped.add(direct);
                }
                return (long) n * outType.byteWidth();
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
            boolean nonFiniteInputs = scan.block(kernels, t, from, s.models, s.base, s.fishers, baseFisher, n);
            long c = m.apply(kernels, from, n, s.base, s.models, s.fishers, baseFisher, s.out);
            if (c != 0) {
                clamped.add(c);
            }
            scan.output(kernels, t, s.out, n, s.models, s.base, s.fishers, baseFisher, nonFiniteInputs);
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
