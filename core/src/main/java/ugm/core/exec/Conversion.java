package ugm.core.exec;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.function.LongConsumer;
import ugm.core.TensorInfo;
import ugm.core.TensorSink;
import ugm.core.TensorSource;
import ugm.core.UgmException;
import ugm.core.kernel.KernelPolicy;
import ugm.core.kernel.Kernels;

/**
 * Writes a source's tensors into a sink, each in the dtype the sink's tensor list asks for.
 * A tensor whose dtype does not change is copied byte for byte; a floating tensor whose dtype
 * changes is decoded and encoded by the kernels (round to nearest even). Work is cut into chunks
 * taken in order by the workers of a {@link ChunkExecutor}, each holding one small float buffer:
 * no tensor is ever whole on the heap.
 */
public final class Conversion {
    /** Elements per conversion chunk, and bytes per copy chunk. */
    private static final int CHUNK_ELEMENTS = 64 * 1024;
    private static final long COPY_BYTES = 4L * CHUNK_ELEMENTS;

    /**
     * The default executor of conversions: the scalar kernels throughout, on platform threads.
     * They are bit-identical to the vector ones, compiled in milliseconds, and as fast on this
     * memory-bound copy (the Vector API's long warm-up made a one-shot conversion of 100 MB take
     * 2.5 times as long).
     */
    private static final ChunkExecutor SCALAR = ChunkExecutor.of(KernelPolicy.scalarOnly());

    private Conversion() {
    }

    /**
     * Converts every tensor of {@code outputs} (named as in {@code source}) into {@code sink}, with
     * the scalar kernels on platform threads.
     *
     * @param progress receives the bytes written per chunk, from any thread
     * @return the bytes written
     * @throws UgmException of kind INVALID_INPUT when a tensor is missing, changes shape, or would
     *                      change between a floating and a non-floating dtype
     */
    public static long run(TensorSource source, List<TensorInfo> outputs, TensorSink sink, int threads, LongConsumer progress) {
        return run(source, outputs, sink, threads, progress, SCALAR);
    }

    /** {@link #run(TensorSource, List, TensorSink, int, LongConsumer)} on {@code executor} (its threads and kernel policy). */
    public static long run(TensorSource source, List<TensorInfo> outputs, TensorSink sink, int threads, LongConsumer progress,
                           ChunkExecutor executor) {
        List<Job> jobs = new ArrayList<>();
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
            jobs.add(new Job(in, out, source.data(out.name()), target, copy));
        }
        long read = jobs.stream().mapToLong(j -> j.in.byteSize()).sum();
        List<ChunkExecutor.Job> chunked = jobs.stream().map(j -> new ChunkExecutor.Job(j.out, j.chunks(), List.of(source),
                List.of(j.src, j.dst))).toList();
        executor.run("conversion", chunked, read, threads, new Pass(jobs), progress, t -> { });
        return outputs.stream().mapToLong(TensorInfo::byteSize).sum();
    }

    private static long ceilDiv(long a, long b) {
        return (a + b - 1) / b;
    }

    private record Job(TensorInfo in, TensorInfo out, MemorySegment src, MemorySegment dst, boolean copy) {
        long chunks() {
            return copy ? ceilDiv(out.byteSize(), COPY_BYTES) : ceilDiv(out.elementCount(), CHUNK_ELEMENTS);
        }
    }

    /** A chunk: a byte range copied, or a range of elements decoded and encoded through one float buffer. */
    private record Pass(List<Job> jobs) implements ChunkExecutor.Work<float[]> {
        @Override
        public float[] scratch() {
            return new float[CHUNK_ELEMENTS];
        }

        @Override
        public long chunk(int j, long c, float[] buffer, KernelPolicy.Worker worker) {
            Job job = jobs.get(j);
            if (job.copy) {
                long from = c * COPY_BYTES;
                long n = Math.min(COPY_BYTES, job.dst.byteSize() - from);
                MemorySegment.copy(job.src, from, job.dst, from, n);
                return n;
            }
            long from = c * CHUNK_ELEMENTS;
            int n = (int) Math.min(CHUNK_ELEMENTS, job.out.elementCount() - from);
            Kernels kernels = worker.next(false);
            kernels.decode(job.in.dtype(), job.src, from * job.in.dtype().byteWidth(), buffer, n);
            kernels.encode(buffer, n, job.out.dtype(), job.dst, from * job.out.dtype().byteWidth());
            worker.done(n);
            return (long) n * job.out.dtype().byteWidth();
        }
    }
}
