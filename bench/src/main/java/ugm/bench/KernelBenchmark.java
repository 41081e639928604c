package ugm.bench;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import ugm.core.DType;
import ugm.core.kernel.GradientMatching;
import ugm.core.kernel.Kernels;
import ugm.core.kernel.ScalarKernels;

/**
 * Gradient matching as the executor runs it, on BF16 tensors of 3 task models: per chunk, decode
 * base, base Fisher, 3 models and 3 Fishers (8 inputs), merge, encode the output. Next to it, in
 * the same fork, {@code copy} moves the same 8 inputs' bytes with {@code MemorySegment.copy}.
 *
 * <p>Traffic per op: the merge reads 8 x bytesPerInput and writes 1 x; the copy reads and writes
 * 8 x bytesPerInput each. JMH forks once per parameter set, so each fork sees one implementation.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class KernelBenchmark {
    private static final int MODELS = 3;
    private static final int CHUNK = 4096;
    private static final ValueLayout.OfShort SHORT_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** Bytes of each BF16 input tensor: 64 KiB fits in cache, 64 MiB does not. */
    @Param({"65536", "67108864"})
    public long bytesPerInput;

    /** {@code scalar}, or {@code vector}: what {@link Kernels#get()} selects (the preferred width unless ugm.vector.bits says otherwise). */
    @Param({"scalar", "vector"})
    public String kernels;

    private Arena arena;
    private Kernels k;
    private long elements;
    private MemorySegment base;
    private MemorySegment baseFisher;
    private final MemorySegment[] x = new MemorySegment[MODELS];
    private final MemorySegment[] fisher = new MemorySegment[MODELS];
    private MemorySegment out;
    private MemorySegment copySrc;
    private MemorySegment copyDst;
    private GradientMatching params;
    private float[] baseBuf;
    private float[] baseFisherBuf;
    private float[][] xBuf;
    private float[][] fisherBuf;
    private float[] outBuf;

    @Setup
    public void setUp() {
        k = kernels.equals("scalar") ? new ScalarKernels() : Kernels.get();
        System.out.println("# kernels: " + k.name());
        arena = Arena.ofShared();
        elements = bytesPerInput / 2;
        SplittableRandom rnd = new SplittableRandom(42);
        base = bf16(rnd, 0.02, false);
        baseFisher = bf16(rnd, 1e-6, true);
        for (int t = 0; t < MODELS; t++) {
            x[t] = bf16(rnd, 0.02, false);
            fisher[t] = bf16(rnd, 1e-6, true);
        }
        out = arena.allocate(bytesPerInput, 64);
        copySrc = arena.allocate(bytesPerInput * (2 + 2 * MODELS), 64);
        copyDst = arena.allocate(bytesPerInput * (2 + 2 * MODELS), 64);
        copySrc.fill((byte) 1);
        copyDst.fill((byte) 2);
        params = new GradientMatching(new float[] {0.5f, 0.3f, 0.2f}, new float[] {8530f, 25_000f, 67_000f}, 25_000f,
                1e-12f, false, 0.1f);
        baseBuf = new float[CHUNK];
        baseFisherBuf = new float[CHUNK];
        xBuf = new float[MODELS][CHUNK];
        fisherBuf = new float[MODELS][CHUNK];
        outBuf = new float[CHUNK];
    }

    /** A BF16 tensor of Gaussian values (absolute values for Fishers), from a 64 KiB random block repeated. */
    private MemorySegment bf16(SplittableRandom rnd, double sigma, boolean positive) {
        MemorySegment s = arena.allocate(bytesPerInput, 64);
        int block = (int) Math.min(elements, 32_768);
        for (int i = 0; i < block; i++) {
            double v = rnd.nextGaussian() * sigma;
            s.set(SHORT_LE, 2L * i, (short) (Float.floatToRawIntBits((float) (positive ? Math.abs(v) : v)) >>> 16));
        }
        for (long e = block; e < elements; e += block) {
            MemorySegment.copy(s, 0, s, 2 * e, 2L * Math.min(block, elements - e));
        }
        return s;
    }

    @TearDown
    public void tearDown() {
        arena.close();
    }

    @Benchmark
    public long gradientMatchingBf16() {
        long replaced = 0;
        for (long e = 0; e < elements; e += CHUNK) {
            int n = (int) Math.min(CHUNK, elements - e);
            long off = 2 * e;
            k.decode(DType.BF16, base, off, baseBuf, n);
            k.decode(DType.BF16, baseFisher, off, baseFisherBuf, n);
            for (int t = 0; t < MODELS; t++) {
                k.decode(DType.BF16, x[t], off, xBuf[t], n);
                k.decode(DType.BF16, fisher[t], off, fisherBuf[t], n);
            }
            replaced += k.gradientMatching(params, baseBuf, baseFisherBuf, xBuf, fisherBuf, outBuf, n);
            k.encode(outBuf, n, DType.BF16, out, off);
        }
        return replaced;
    }

    @Benchmark
    public MemorySegment copy() {
        MemorySegment.copy(copySrc, 0, copyDst, 0, copySrc.byteSize());
        return copyDst;
    }
}
