package ugm.example.server;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadFactory;
import ugm.core.DType;
import ugm.core.TensorInfo;
import ugm.core.exec.ChunkExecutor;
import ugm.core.merge.MergePlan;
import ugm.core.merge.MergeProgress;
import ugm.core.merge.MergeRequest;
import ugm.core.merge.Merger;
import ugm.core.merge.TensorParameter;
import ugm.core.merge.methods.Method;
import ugm.io.Checkpoint;

/**
 * What an inference server does with ugm as a library: it opens a base model and its fine-tunes
 * (each with its Fisher) once, merges them by gradient matching one tensor at a time into memory
 * it owns, hands each merged tensor to its model loader as soon as it is ready, and merges again
 * with other weights into the same memory, without a restart.
 *
 * <p>Not thread-safe: a server calls {@link #serve} from one thread at a time (the merge itself
 * runs on the threads of the {@link ThreadFactory} given to {@link #open}).
 */
public final class MergingServer implements AutoCloseable {

    /**
     * The server's model loader: receives each merged tensor in memory the server owns, float32
     * (tensors that are not floating point, such as position ids, as the base holds them).
     */
    @FunctionalInterface
    public interface ModelLoader {
        /**
         * Takes one merged tensor. {@code weights} stays valid, and unchanged, until the next
         * {@link #serve} or {@link #close}.
         *
         * @param tensor  its name, dtype and shape
         * @param weights its values, {@code tensor.byteSize()} bytes
         */
        void load(TensorInfo tensor, MemorySegment weights);
    }

    private final List<Checkpoint> open = new ArrayList<>();
    private final Checkpoint base;
    private final List<Checkpoint> models = new ArrayList<>();
    private final List<Checkpoint> fishers = new ArrayList<>();
    private final ChunkExecutor executor;
    private final Arena arena = Arena.ofShared();
    private final Map<String, MemorySegment> served = new LinkedHashMap<>();

    private MergingServer(Path base, List<Path> fineTunes, ThreadFactory threads) {
        try {
            this.base = keep(Checkpoint.open(base));
            for (Path model : fineTunes) {
                models.add(keep(Checkpoint.open(model)));
                fishers.add(keep(Checkpoint.open(model.resolve(Checkpoint.FISHER_FOLDER))));
            }
        } catch (RuntimeException e) {
            close();
            throw e;
        }
        this.executor = ChunkExecutor.defaults().withThreads(threads);
    }

    /**
     * Opens {@code base} and the fine-tuned checkpoint folders {@code fineTunes}, each with its
     * Fisher in its {@code hessian/} folder. Nothing is read but the headers.
     *
     * @param threads the merge's worker threads (the calling thread is one of them)
     * @return the server, to be closed
     * @throws ugm.core.UgmException when a checkpoint is missing or malformed
     */
    public static MergingServer open(Path base, List<Path> fineTunes, ThreadFactory threads) {
        return new MergingServer(base, fineTunes, threads);
    }

    private Checkpoint keep(Checkpoint c) {
        open.add(c);
        return c;
    }

    /** The base's tensors, in file order: what {@link #serve} merges. */
    public List<TensorInfo> tensors() {
        return base.tensors();
    }

    /**
     * Merges every tensor by gradient matching, one at a time (each planned and checked alone, as
     * {@link Merger#mergeTensor} does), and hands each to {@code loader} as soon as it is merged. The first call allocates the server's memory for the merged model;
     * later calls merge into the same memory.
     *
     * @param weights one weight per fine-tune
     * @param lambda  λ for each tensor, by name
     * @param loader  receives each merged tensor
     */
    public void serve(float[] weights, TensorParameter lambda, ModelLoader loader) {
        MergeRequest.Builder b = MergeRequest.builder(Method.GRADIENT_MATCHING).base(base);
        for (int i = 0; i < models.size(); i++) {
            b.model(models.get(i)).fisher(fishers.get(i));
        }
        MergeRequest request = b.weights(weights).lambda(lambda).outDtype(DType.F32).build();
        for (TensorInfo t : base.tensors()) {
            MergePlan plan = MergePlan.ofTensor(request, t.name()).requireValid();
            TensorInfo out = plan.outputs().getFirst();
            MemorySegment memory = served.computeIfAbsent(t.name(), n -> arena.allocate(out.byteSize(), 64));
            Merger.execute(plan, tensor -> memory, MergeProgress.NONE, executor);
            loader.load(out, memory);
        }
    }

    @Override
    public void close() {
        served.clear();
        arena.close();
        for (Checkpoint c : open) {
            c.close();
        }
    }

    /**
     * Merges a family such as {@code ugm family DIR} writes (DIR/base, DIR/task-1, ...) twice, with
     * two sets of weights, and prints the time to the first merged tensor, the time to all of them
     * and the memory used.
     */
    public static void main(String[] args) throws Exception {
        if (args.length != 1) {
            System.err.println("usage: MergingServer FAMILY_DIR   (a family written by: ugm family FAMILY_DIR)");
            System.exit(2);
        }
        Path family = Path.of(args[0]);
        List<Path> tasks;
        try (var s = Files.list(family)) {
            tasks = s.filter(p -> p.getFileName().toString().startsWith("task-")).sorted().toList();
        }
        long opened = System.nanoTime();
        try (MergingServer server = open(family.resolve("base"), tasks, Thread.ofPlatform().daemon().factory())) {
            float[] even = new float[tasks.size()];
            java.util.Arrays.fill(even, 1f);
            float[] other = even.clone();
            for (int i = 1; i < other.length; i++) {
                other[i] = 0.25f;
            }
            report("round 1 (weights 1, λ 1)", server, even, name -> 1f, opened);
            report("round 2 (weights 1, 0.25, ..., λ 0.5 for mlp)", server, other,
                    name -> name.contains("mlp") ? 0.5f : 1f, System.nanoTime());
        }
    }

    private static void report(String round, MergingServer server, float[] weights, TensorParameter lambda, long start) {
        long[] first = {-1};
        long[] bytes = {0};
        server.serve(weights, lambda, (tensor, memory) -> {
            if (first[0] < 0) {
                first[0] = System.nanoTime();
            }
            bytes[0] += memory.byteSize();
        });
        long end = System.nanoTime();
        long heap = 0;
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            if (pool.getType() == MemoryType.HEAP) {
                heap += pool.getPeakUsage().getUsed();
            }
        }
        System.out.printf("%s: first tensor after %.3f s, all %d tensors (%.1f MB) after %.3f s; peak heap %.1f MB, peak RSS %s%n",
                round, (first[0] - start) / 1e9, server.tensors().size(), bytes[0] / 1e6, (end - start) / 1e9,
                heap / 1e6, peakRss());
    }

    /** The process's peak resident set (VmHWM), where /proc tells it. */
    private static String peakRss() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmHWM:")) {
                    return String.format("%.1f MB", Long.parseLong(line.replaceAll("\\D", "")) / 1e3);
                }
            }
        } catch (Exception e) {
            // not Linux: no figure
        }
        return "unknown";
    }
}
