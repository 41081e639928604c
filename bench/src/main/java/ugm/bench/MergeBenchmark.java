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
import ugm.core.MemoryTensors;
import ugm.core.TensorInfo;
import ugm.core.kernel.Kernels;
import ugm.core.merge.MergePlan;
import ugm.core.merge.MergeRequest;
import ugm.core.merge.Merger;
import ugm.core.merge.methods.Method;

/**
 * One method's kernel as the engine runs it, on one thread, from memory to memory: the executor's
 * real chunk path (decode every input, check the Fishers, compute, encode) over one tensor per
 * input, for {@code models} task models (3 unless asked: {@code -p models=2,8,32} for many).
 * {@code copy} moves the same bytes as the merge reads with {@code MemorySegment.copy}: the floor.
 * Every parameter set runs in its own fork, so {@code kernels=scalar} really runs the scalar twin.
 *
 * <p>Bytes read per op: {@code bytesPerInput x inputs}, printed at set-up: with T models,
 * gradient_matching and fisher_with_base read 2T + 2 inputs; fisher 2T; task_arithmetic T + 1;
 * linear T. Divide by the time per op for GB/s. {@code -prof gc} shows the heap allocated per op,
 * which should not grow with the models.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class MergeBenchmark {
    @Param({"gradient_matching", "task_arithmetic", "linear", "fisher", "fisher_with_base"})
    public String method;

    @Param({"BF16", "F16", "F32"})
    public String dtype;

    /** Bytes of each input tensor: 64 KiB stays in cache, 64 MiB does not. */
    @Param({"65536", "67108864"})
    public long bytesPerInput;

    @Param({"vector", "scalar"})
    public String kernels;

    /** Task models merged. */
    @Param({"3"})
    public int models;

    /** Fraction of each task vector kept, for the sparsifying methods (ties, dare_*, breadcrumbs*, della*). */
    @Param({"1"})
    public float density;

    private Arena arena;
    private MergePlan plan;
    private MemorySegment out;
    private MemorySegment copySrc;
    private MemorySegment copyDst;

    @Setup
    public void setUp() {
        // Before anything loads the kernels: this fork's implementation, used from the first chunk.
        System.setProperty("ugm.vector.bits", kernels.equals("scalar") ? "0" : "");
        System.setProperty("ugm.vector.after", "0"); // JMH warms up; no scalar phase
        DType type = DType.valueOf(dtype);
        Method m = Method.byId(method);
        arena = Arena.ofShared();
        long elements = bytesPerInput / type.byteWidth();
        SplittableRandom rnd = new SplittableRandom(42);
        MergeRequest.Builder b = MergeRequest.builder(m).threads(1);
        MemoryTensors base = tensor("base", type, elements, rnd, 0.02, false);
        b.base(base);
        long inputs = 1;
        if (m.needsFishers()) {
            b.baseFisher(tensor("base-fisher", type, elements, rnd, 1e-6, true));
            inputs++;
        }
        float[] weights = new float[models];
        float[] scales = new float[models];
        for (int t = 0; t < models; t++) {
            weights[t] = 1f / models;
            scales[t] = 8530f + 25_000f * t;
            b.model(tensor("model-" + t, type, elements, rnd, 0.02, false));
            inputs++;
            if (m.needsFishers()) {
                b.fisher(tensor("fisher-" + t, type, elements, rnd, 1e-6, true));
                inputs++;
            }
        }
        b.fisherScales(scales).baseFisherScale(25_000f).delta0(1e-12f).weights(weights);
        if (m.parameters().contains(ugm.core.merge.Parameter.DENSITY)) {
            float[] densities = new float[models];
            java.util.Arrays.fill(densities, density);
            b.densities(densities);
        }
        if (!m.needsBase()) {
            inputs--; // linear and fisher read the base only as the tensor list
        }
        plan = MergePlan.of(b.build()).requireValid();
        out = arena.allocate(bytesPerInput, 64);
        copySrc = arena.allocate(bytesPerInput * inputs, 64);
        copyDst = arena.allocate(bytesPerInput * inputs, 64);
        copySrc.fill((byte) 1);
        copyDst.fill((byte) 2);
        System.out.println("# kernels " + Kernels.get().name() + ", " + inputs + " inputs, bytes read per op " + bytesPerInput * inputs);
    }

    private MemoryTensors tensor(String name, DType type, long elements, SplittableRandom rnd, double sigma, boolean positive) {
        MemorySegment s = arena.allocate(bytesPerInput, 64);
        float[] block = new float[(int) Math.min(elements, 32_768)];
        for (int i = 0; i < block.length; i++) {
            double v = rnd.nextGaussian() * sigma;
            block[i] = (float) (positive ? Math.abs(v) : v);
        }
        for (long e = 0; e < elements; e += block.length) {
            int n = (int) Math.min(block.length, elements - e);
            Kernels.scalar().encode(block, n, type, s, e * type.byteWidth());
        }
        return new MemoryTensors(name).add("w", type, new long[] {elements}, s);
    }

    @TearDown
    public void tearDown() {
        arena.close();
    }

    @Benchmark
    public MemorySegment merge() {
        Merger.execute(plan, (TensorInfo t) -> out, bytes -> { });
        return out;
    }

    @Benchmark
    public MemorySegment copy() {
        MemorySegment.copy(copySrc, 0, copyDst, 0, copySrc.byteSize());
        return copyDst;
    }
}
