package ugm.core.exec;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.function.LongConsumer;
import ugm.core.DType;
import ugm.core.OutOfRange;
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
 * no tensor is ever whole on the heap. Finite values beyond the range of the new dtype (1e5 to
 * F16, an F64 value beyond the float32 range) become infinities; {@link #convert} counts them per
 * tensor ({@link Report#outOfRange()}).
 *
 * <p>Static and stateless: any number of conversions may run at once, from any threads.
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

    private static final ValueLayout.OfDouble DOUBLE_LE = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /**
     * What a conversion did.
     *
     * @param bytesWritten the bytes written
     * @param outOfRange   per tensor (in the outputs' order), the finite values beyond the range of
     *                     the new dtype, written as infinities; each one's {@code toString()} is its
     *                     warning line
     */
    public record Report(long bytesWritten, List<OutOfRange> outOfRange) {
        public Report {
            outOfRange = List.copyOf(outOfRange);
        }
    }

    /**
     * Converts every tensor of {@code outputs} (named as in {@code source}) into {@code sink}, with
     * the scalar kernels on platform threads. The same as {@link #convert} without its report of
     * the values beyond the new dtype's range: a caller that shows warnings wants {@code convert}.
     *
     * @param progress receives the bytes written per chunk, from any thread
     * @return the bytes written
     * @throws UgmException of kind INVALID_INPUT when a tensor is missing, changes shape, or would
     *                      change between a floating and a non-floating dtype
     */
    public static long run(TensorSource source, List<TensorInfo> outputs, TensorSink sink, int threads, LongConsumer progress) {
        return convert(source, outputs, sink, threads, progress, SCALAR).bytesWritten();
    }

    /** {@link #run(TensorSource, List, TensorSink, int, LongConsumer)} on {@code executor} (its threads and kernel policy). */
    public static long run(TensorSource source, List<TensorInfo> outputs, TensorSink sink, int threads, LongConsumer progress,
                           ChunkExecutor executor) {
        return convert(source, outputs, sink, threads, progress, executor).bytesWritten();
    }

    /**
     * Converts every tensor of {@code outputs} (named as in {@code source}) into {@code sink}, with
     * the scalar kernels on platform threads, and reports, per tensor, the finite values that
     * became infinities because they are beyond the range of the new dtype.
     *
     * @param progress receives the bytes written per chunk, from any thread
     * @throws UgmException of kind INVALID_INPUT when a tensor is missing, changes shape, or would
     *                      change between a floating and a non-floating dtype
     */
    public static Report convert(TensorSource source, List<TensorInfo> outputs, TensorSink sink, int threads,
                                 LongConsumer progress) {
        return convert(source, outputs, sink, threads, progress, SCALAR);
    }

    /** {@link #convert(TensorSource, List, TensorSink, int, LongConsumer)} on {@code executor} (its threads and kernel policy). */
    public static Report convert(TensorSource source, List<TensorInfo> outputs, TensorSink sink, int threads,
                                 LongConsumer progress, ChunkExecutor executor) {
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
        Pass pass = new Pass(jobs, new AtomicLongArray(jobs.size()));
        executor.run("conversion", chunked, read, threads, pass, progress, t -> { });
        List<OutOfRange> outOfRange = new ArrayList<>();
        for (int j = 0; j < jobs.size(); j++) {
            long n = pass.outOfRange.get(j);
            if (n > 0) {
                outOfRange.add(new OutOfRange(jobs.get(j).out.name(), jobs.get(j).out.dtype(), n, 0));
            }
        }
        return new Report(outputs.stream().mapToLong(TensorInfo::byteSize).sum(), outOfRange);
    }

    private static long ceilDiv(long a, long b) {
        return (a + b - 1) / b;
    }

    private record Job(TensorInfo in, TensorInfo out, MemorySegment src, MemorySegment dst, boolean copy) {
        long chunks() {
            return copy ? ceilDiv(out.byteSize(), COPY_BYTES) : ceilDiv(out.elementCount(), CHUNK_ELEMENTS);
        }
    }

    /**
     * A chunk: a byte range copied, or a range of elements decoded and encoded through one float
     * buffer, counting per job the finite values beyond the range of the new dtype.
     */
    private record Pass(List<Job> jobs, AtomicLongArray outOfRange) implements ChunkExecutor.Work<float[]> {
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
            int beyond = kernels.countNonFiniteAs(job.out.dtype(), buffer, n);
            if (beyond > 0) {
                // NaN and infinite inputs stay so; the rest were finite and overflowed
                outOfRange.addAndGet(j, beyond - nonFiniteInputs(kernels, job, from, buffer, n));
            }
            kernels.encode(buffer, n, job.out.dtype(), job.dst, from * job.out.dtype().byteWidth());
            worker.done(n);
            return (long) n * job.out.dtype().byteWidth();
        }

        /** How many of the n input values from element {@code from} are NaN or infinite in their own dtype. */
        private static int nonFiniteInputs(Kernels kernels, Job job, long from, float[] decoded, int n) {
            if (job.in.dtype() != DType.F64) {
                return kernels.countNonFinite(decoded, n); // BF16, F16 and F32 decode exactly
            }
            int c = 0;
            for (int i = 0; i < n; i++) {
                c += Double.isFinite(job.src.get(DOUBLE_LE, 8 * (from + i))) ? 0 : 1;
            }
            return c;
        }
    }
}
