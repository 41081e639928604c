package ugm.io.fisher;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongConsumer;
import ugm.core.exec.ChunkExecutor;
import ugm.core.DType;
import ugm.core.TensorInfo;
import ugm.core.TensorSink;
import ugm.core.TensorSource;
import ugm.core.kernel.KernelPolicy;
import ugm.core.kernel.Kernels;
import ugm.io.fisher.FisherSource.Output;
import ugm.io.fisher.FisherSource.Scaled;

/**
 * Computes the Fisher tensors chunk by chunk, from the mapped optimizer storages straight into the
 * mapped output: each worker holds one buffer of {@value #CHUNK} floats, whatever the model size.
 *
 * <p>Each value is {@code stored x factor} in double precision, rounded once to the output dtype
 * (BF16 and F16 through float, as {@code convert} rounds). The factor is Adam's bias correction
 * {@code 1 / (1 - beta2^step)}, itself computed in double: so an F32 output is the exact product
 * correctly rounded (PyTorch's own {@code bias_correction2} is a Python double too), where a float
 * factor would add a second rounding. A value that is negative, NaN or infinite, or that
 * overflows the output dtype, stops the run naming the file and the parameter.
 */
final class FisherWriter {
    static final int CHUNK = 16 * 1024;
    /** The smallest value that F16 rounds to infinity (65504 is its largest finite value). */
    private static final double F16_OVERFLOW = 65520;

    /** The scalar kernels only: this pass is a multiply per element, bound by memory. */
    private static final ChunkExecutor EXECUTOR = ChunkExecutor.of(KernelPolicy.scalarOnly());

    private FisherWriter() {
    }

    static FisherSource.Written write(List<Output> outputs, TensorSink sink, int threads, LongConsumer progress) {
        List<ChunkExecutor.Job> jobs = new ArrayList<>();
        List<MemorySegment> targets = new ArrayList<>();
        long read = 0;
        for (Output o : outputs) {
            MemorySegment target = sink.target(o.info());
            targets.add(target);
            List<MemorySegment> memory = new ArrayList<>();
            memory.add(target);
            List<TensorSource> sources = new ArrayList<>();
            if (o.recipe() instanceof Scaled s) {
                if (s.data().byteSize() != s.dtype().byteSize(o.info().elementCount())) {
                    throw new IllegalStateException(o.info() + " from " + s.data().byteSize() + " bytes of " + s.dtype());
                }
                memory.add(s.data());
                sources.add(new Origin(s.file()));
                read += s.data().byteSize();
            }
            long n = o.info().elementCount();
            jobs.add(new ChunkExecutor.Job(o.info(), (n + CHUNK - 1) / CHUNK, sources, memory));
        }
        AtomicLong flushed = new AtomicLong();
        EXECUTOR.run("fisher", jobs, read, threads, new Pass(outputs, targets, flushed), progress, sink::release);
        return new FisherSource.Written(outputs.stream().mapToLong(o -> o.info().byteSize()).sum(), flushed.get());
    }

    /** The file a job reads, so a truncated or rewritten input is named ({@link TensorSource#changedFile}). */
    private record Origin(FisherSource.FileCheck file) implements TensorSource {
        @Override
        public String describe() {
            return file.path();
        }

        @Override
        public List<TensorInfo> tensors() {
            return List.of();
        }

        @Override
        public TensorInfo info(String name) {
            return null;
        }

        @Override
        public MemorySegment data(String name) {
            throw new IllegalArgumentException(name);
        }

        @Override
        public String changedFile(String name) {
            return file.changed().getAsBoolean() ? file.path() : null;
        }
    }

    private record Pass(List<Output> outputs, List<MemorySegment> targets, AtomicLong flushed) implements ChunkExecutor.Work<float[]> {
        @Override
        public float[] scratch() {
            return new float[CHUNK];
        }

        @Override
        public long chunk(int job, long chunk, float[] buffer, KernelPolicy.Worker worker) {
            Output o = outputs.get(job);
            DType out = o.info().dtype();
            MemorySegment dst = targets.get(job);
            long from = chunk * CHUNK;
            int n = (int) Math.min(CHUNK, o.info().elementCount() - from);
            int width = out.byteWidth();
            if (!(o.recipe() instanceof Scaled s)) {
                dst.asSlice(from * width, (long) n * width).fill((byte) 0);
                return (long) n * width;
            }
            Kernels kernels = worker.next(false);
            long zeros = 0;
            for (int i = 0; i < n; i++) {
                long e = from + i;
                double v = Values.element(s.dtype(), s.data(), e) * s.factor();
                if (!(v >= 0) || v == Double.POSITIVE_INFINITY) {
                    throw bad(s, e, Values.element(s.dtype(), s.data(), e), v);
                }
                if (out == DType.F64) {
                    dst.set(Values.F64, 8 * e, v);
                    continue;
                }
                float f = (float) v;
                if (f == 0 && v != 0) {
                    zeros++; // below float's range
                }
                if (f == Float.POSITIVE_INFINITY || (out == DType.F16 && v >= F16_OVERFLOW)) {
                    throw Values.invalid(s.file().path(), s.parameter(), "element " + e + " is " + v + ", too large for " + out);
                }
                buffer[i] = f;
            }
            if (out != DType.F64) {
                kernels.encode(buffer, n, out, dst, from * width);
                for (int i = 0; out != DType.F32 && i < n; i++) {
                    if (buffer[i] != 0 && encodedZero(out, dst, from + i)) {
                        zeros++;
                    }
                }
            }
            worker.done(n);
            if (zeros > 0) {
                flushed.addAndGet(zeros);
            }
            return (long) n * width;
        }

        private static boolean encodedZero(DType out, MemorySegment dst, long e) {
            return switch (out) {
                case F32 -> dst.get(Values.F32, 4 * e) == 0f;
                case BF16, F16 -> (dst.get(Values.I16, 2 * e) & 0x7FFF) == 0;
                default -> false;
            };
        }

        private static RuntimeException bad(Scaled s, long element, double stored, double value) {
            String what = Double.isNaN(value) ? "NaN" : value < 0 ? "negative (" + value + ")" : "infinite";
            String from = s.factor() == 1.0 ? "" : " (stored " + stored + " x bias correction " + s.factor() + ")";
            return Values.invalid(s.file().path(), s.parameter(), "element " + element + " of the Fisher is " + what + from
                    + "; a Fisher must be finite and >= 0");
        }
    }
}
