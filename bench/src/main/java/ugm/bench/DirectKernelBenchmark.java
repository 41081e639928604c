package ugm.bench;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
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
import ugm.core.kernel.Kernels.Operand;
import ugm.core.merge.Merger;

/**
 * Gradient matching over one tensor per input (base, base Fisher, 3 models, 3 Fishers), on one
 * thread, in blocks as the merge executor does them: {@code direct} is what a merge runs (the
 * direct kernel, and the general path where it declines), {@code general} the general path alone
 * (decode every input, check the Fishers, scan the inputs and the output, compute, encode), and
 * {@code copy} moves the bytes both read with {@code MemorySegment.copy}: the floor. The three run
 * side by side in each fork, so their ratios hold on a loaded machine.
 *
 * <p>Cases: every operand BF16, F16 or F32; BF16 weights with F32 Fishers (and an F32 base
 * Fisher); and BF16 removal (a task subtracted: the safeguard).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
public class DirectKernelBenchmark {
    private static final int MODELS = 3;

    @Param({"BF16", "F16", "F32", "BF16+F32_FISHERS", "BF16_REMOVAL"})
    public String layout;

    /** Elements of each tensor: 8 Mi makes 16 MiB per BF16 input, far beyond the caches. */
    @Param({"8388608"})
    public int elements;

    private Arena arena;
    private Kernels kernels;
    private GradientMatching p;
    private Operand base;
    private Operand baseFisher;
    private Operand[] x;
    private Operand[] fisher;
    private Operand out;
    private MemorySegment copySrc;
    private MemorySegment copyDst;
    private int block;
    private float[] b;
    private float[] h0;
    private float[][] xs;
    private float[][] hs;
    private float[] theta;

    @Setup
    public void setUp() {
        DType weights = layout.startsWith("F16") ? DType.F16 : layout.startsWith("F32") ? DType.F32 : DType.BF16;
        DType fishers = layout.equals("BF16+F32_FISHERS") ? DType.F32 : weights;
        kernels = Kernels.get();
        arena = Arena.ofShared();
        SplittableRandom rnd = new SplittableRandom(42);
        base = tensor(weights, rnd, 0.02, false);
        baseFisher = tensor(fishers, rnd, 1e-6, true);
        x = new Operand[MODELS];
        fisher = new Operand[MODELS];
        for (int t = 0; t < MODELS; t++) {
            x[t] = tensor(weights, rnd, 0.02, false);
            fisher[t] = tensor(fishers, rnd, 1e-6, true);
        }
        out = new Operand(arena.allocate((long) elements * weights.byteWidth(), 64), weights);
        boolean remove = layout.endsWith("REMOVAL");
        p = new GradientMatching(new float[] {0.5f, 0.3f, 0.2f}, new float[] {8530f, 25_000f, 67_000f}, 25_000f, 1e-12f,
                remove, remove ? 0.1f : 1f);
        long read = (long) elements * ((1L + MODELS) * weights.byteWidth() + (1L + MODELS) * fishers.byteWidth());
        copySrc = arena.allocate(read, 64);
        copyDst = arena.allocate(read, 64);
        copySrc.fill((byte) 1);
        copyDst.fill((byte) 2);
        block = Merger.bufferElements();
        b = new float[block];
        h0 = new float[block];
        theta = new float[block];
        xs = new float[MODELS][block];
        hs = new float[MODELS][block];
        System.out.println("# kernels " + kernels.name() + ", bytes read per op " + read);
    }

    private Operand tensor(DType type, SplittableRandom rnd, double sigma, boolean positive) {
        MemorySegment s = arena.allocate((long) elements * type.byteWidth(), 64);
        float[] values = new float[32_768];
        for (int i = 0; i < values.length; i++) {
            double v = rnd.nextGaussian() * sigma;
            values[i] = (float) (positive ? Math.abs(v) : v);
        }
        for (long e = 0; e < elements; e += values.length) {
            int n = (int) Math.min(values.length, elements - e);
            Kernels.scalar().encode(values, n, type, s, e * type.byteWidth());
        }
        return new Operand(s, type);
    }

    @TearDown
    public void tearDown() {
        arena.close();
    }

    /** What a merge runs: the direct kernel, the general path where it declines a block. */
    @Benchmark
    public MemorySegment direct() {
        for (long at = 0; at < elements; at += block) {
            int n = (int) Math.min(block, elements - at);
            if (kernels.gradientMatchingDirect(p, base, baseFisher, x, fisher, out, at, n) < 0) {
                general(at, n);
            }
        }
        return out.data();
    }

    /** The general path alone. */
    @Benchmark
    public MemorySegment general() {
        for (long at = 0; at < elements; at += block) {
            general(at, (int) Math.min(block, elements - at));
        }
        return out.data();
    }

    /** As the merge executor's general path: decode, check the Fishers, scan the inputs, compute, scan the output, encode. */
    private long general(long at, int n) {
        int bad = decode(base, at, b, n) + decode(baseFisher, at, h0, n) + kernels.indexOfNegativeOrNaN(h0, n);
        for (int t = 0; t < MODELS; t++) {
            bad += decode(x[t], at, xs[t], n) + decode(fisher[t], at, hs[t], n) + kernels.indexOfNegativeOrNaN(hs[t], n);
        }
        long clamped = kernels.gradientMatching(p, b, h0, xs, hs, theta, n);
        bad += kernels.countNonFiniteAs(out.type(), theta, n);
        kernels.encode(theta, n, out.type(), out.data(), at * out.type().byteWidth());
        return clamped + bad;
    }

    private int decode(Operand in, long at, float[] dst, int n) {
        kernels.decode(in.type(), in.data(), at * in.type().byteWidth(), dst, n);
        return kernels.countNonFinite(dst, n);
    }

    /** The floor: copying as many bytes as the merge reads. */
    @Benchmark
    public MemorySegment copy() {
        MemorySegment.copy(copySrc, 0, copyDst, 0, copySrc.byteSize());
        return copyDst;
    }
}
