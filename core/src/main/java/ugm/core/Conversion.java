package ugm.core;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.LongConsumer;
import ugm.core.kernel.Kernels;

/**
 * Writes a source's tensors into a sink, each in the dtype the sink's tensor list asks for.
 * A tensor whose dtype does not change is copied byte for byte; a floating tensor whose dtype
 * changes is decoded and encoded by the scalar kernels (round to nearest even). Work is cut into chunks
 * taken in order by a few threads, each holding one small float buffer: no tensor is ever whole
 * on the heap.
 */
public final class Conversion {
    /** Elements per conversion chunk, and bytes per copy chunk. */
    private static final int CHUNK_ELEMENTS = 64 * 1024;
    private static final long COPY_BYTES = 4L * CHUNK_ELEMENTS;

    private Conversion() {
    }

    /**
     * Converts every tensor of {@code outputs} (named as in {@code source}) into {@code sink}.
     *
     * @param progress receives the bytes written per chunk, from any thread
     * @return the bytes written
     * @throws UgmException of kind INVALID_INPUT when a tensor is missing, changes shape, or would
     *                      change between a floating and a non-floating dtype
     */
    public static long run(TensorSource source, List<TensorInfo> outputs, TensorSink sink, int threads, LongConsumer progress) {
        List<Job> jobs = new ArrayList<>();
        long chunks = 0;
        for (TensorInfo out : outputs) {
            TensorInfo in = source.info(out.name());
            if (in == null || !in.sameShape(out)) {
                throw new UgmException(UgmException.Kind.INVALID_INPUT, "tensor '" + out.name() + "' "
                        + (in == null ? "is not in " : "has another shape in ") + source.describe());
            }
            boolean copy = in.dtype() == out.dtype();
            if (!copy && !(in.dtype().isMergeable() && out.dtype().isMergeable())) {
                throw new UgmException(UgmException.Kind.INVALID_INPUT, "tensor '" + out.name() + "' in "
                        + source.locate(out.name()) + ": " + in.dtype() + " cannot be converted to " + out.dtype()
                        + " (only BF16, F16, F32 and F64 convert)");
            }
            MemorySegment target = sink.target(out);
            long units = copy ? ceilDiv(out.byteSize(), COPY_BYTES) : ceilDiv(out.elementCount(), CHUNK_ELEMENTS);
            jobs.add(new Job(in, out, source.data(out.name()), target, chunks, copy));
            chunks += units;
        }
        new Pass(jobs, chunks, progress).run(Math.max(1, (int) Math.min(threads, chunks)));
        return outputs.stream().mapToLong(TensorInfo::byteSize).sum();
    }

    private static long ceilDiv(long a, long b) {
        return (a + b - 1) / b;
    }

    private record Job(TensorInfo in, TensorInfo out, MemorySegment src, MemorySegment dst, long firstChunk, boolean copy) {
    }

    private static final class Pass {
        final List<Job> jobs;
        final long chunks;
        final LongConsumer progress;
        final AtomicLong cursor = new AtomicLong();
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        /**
         * The scalar conversions: bit-identical to the vector ones, compiled in milliseconds, and
         * as fast on this memory-bound copy (the Vector API's long warm-up made a one-shot
         * conversion of 100 MB take 2.5 times as long).
         */
        final Kernels kernels = Kernels.scalar();

        Pass(List<Job> jobs, long chunks, LongConsumer progress) {
            this.jobs = jobs;
            this.chunks = chunks;
            this.progress = progress;
        }

        void run(int threads) {
            List<Thread> workers = new ArrayList<>();
            for (int i = 0; i < threads; i++) {
                workers.add(Thread.ofPlatform().name("ugm-convert-" + i).start(this::work));
            }
            for (Thread w : workers) {
                try {
                    w.join();
                } catch (InterruptedException e) {
                    failure.compareAndSet(null, new UgmException(UgmException.Kind.IO, "conversion interrupted"));
                    Thread.currentThread().interrupt();
                }
            }
            Throwable f = failure.get();
            if (f instanceof RuntimeException re) {
                throw re;
            }
            if (f instanceof Error e) {
                throw e;
            }
        }

        void work() {
            float[] buffer = new float[CHUNK_ELEMENTS];
            int j = 0;
            try {
                for (long g = cursor.getAndIncrement(); g < chunks && failure.get() == null; g = cursor.getAndIncrement()) {
                    while (j + 1 < jobs.size() && jobs.get(j + 1).firstChunk <= g) {
                        j++;
                    }
                    progress.accept(chunk(jobs.get(j), g - jobs.get(j).firstChunk, buffer));
                }
            } catch (Throwable e) {
                failure.compareAndSet(null, e);
            }
        }

        long chunk(Job job, long c, float[] buffer) {
            if (job.copy) {
                long from = c * COPY_BYTES;
                long n = Math.min(COPY_BYTES, job.dst.byteSize() - from);
                MemorySegment.copy(job.src, from, job.dst, from, n);
                return n;
            }
            long from = c * CHUNK_ELEMENTS;
            int n = (int) Math.min(CHUNK_ELEMENTS, job.out.elementCount() - from);
            kernels.decode(job.in.dtype(), job.src, from * job.in.dtype().byteWidth(), buffer, n);
            kernels.encode(buffer, n, job.out.dtype(), job.dst, from * job.out.dtype().byteWidth());
            return (long) n * job.out.dtype().byteWidth();
        }
    }
}
