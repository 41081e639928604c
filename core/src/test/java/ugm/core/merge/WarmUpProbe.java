package ugm.core.merge;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import ugm.core.exec.ChunkExecutor;
import ugm.core.DType;
import ugm.core.MemoryTensors;
import ugm.core.kernel.DirectKernel;
import ugm.core.kernel.GradientMatching;
import ugm.core.kernel.KernelPolicy;
import ugm.core.kernel.Kernels;
import ugm.core.kernel.WarmUp;
import ugm.core.merge.methods.Method;

/**
 * Run in a fresh JVM by {@link WarmUpTest} (the test JVM has run every vector width, which a
 * real one never does): warms up the direct kernel {@code args[0]} names ({@link DirectKernel})
 * and no other, then merges a family that is too small for the in-merge probe and uses that
 * kernel (gradient matching on BF16, or on BF16 weights with F32 Fishers; task arithmetic for
 * the linear family), and prints whether the warm-up got hot, whether another kernel is hot too
 * (it must not be: nothing compiled it), which kernels the merge reports and whether its bytes
 * are those of the scalar twin's general path. With {@code args[1]}, the warm-up starts on that
 * kernel instead (a wrong guess) and is asked for {@code args[0]} at once, as a merge's policy
 * asks for the kernel its tensors use; that guess is not counted as another. With
 * {@code args[2]} "remove", the gradient-matching merge removes the tasks (the safeguard's
 * clamps and fallbacks), and the probe also prints whether the merge counted the general path's
 * clamps.
 */
public final class WarmUpProbe {
    /** Whether the merge removes the tasks (then every input is BF16: removal takes the general gradient-matching kernel on BF16 too). */
    private static boolean remove;

    private WarmUpProbe() {
    }

    public static void main(String[] args) throws Exception {
        Kernels vector = Kernels.get();
        DirectKernel kernel = DirectKernel.valueOf(args[0]);
        DirectKernel guess = args.length > 1 ? DirectKernel.valueOf(args[1]) : kernel;
        remove = args.length > 2 && args[2].equals("remove");
        WarmUp warmUp = WarmUp.start(vector, Arena.ofShared().allocate(WarmUp.SCRATCH_BYTES, 64), () -> Set.of(guess), () -> { });
        warmUp.want(kernel);
        boolean hot = warmUp.await() && warmUp.hot(kernel, DType.BF16);
        boolean other = false;
        for (DirectKernel k : DirectKernel.values()) {
            other |= k != kernel && k != guess && warmUp.hot(k, DType.BF16);
        }
        KernelPolicy policy = KernelPolicy.scalarFirst(vector, Long.MAX_VALUE, warmUp); // only the warm-up can switch

        Random r = new Random(3);
        int n = 40_000 + 13; // several chunks and a tail
        double[][] v = new double[8][n];
        for (int k = 0; k < 8; k++) {
            for (int i = 0; i < n; i++) {
                v[k][i] = k % 2 == 0 ? r.nextGaussian() * 0.02 : (i % 7 == 0 ? 0 : Math.abs(r.nextGaussian()) * 1e-3);
            }
        }
        String[] names = {"base", "base-fisher", "model-1", "fisher-1", "model-2", "fisher-2", "model-3", "fisher-3"};
        MemoryTensors[] m = new MemoryTensors[8];
        for (int k = 0; k < 8; k++) {
            m[k] = Tensors.add(new MemoryTensors(names[k]), "w", type(kernel, k), v[k]);
        }
        Map<String, MemorySegment> out = new HashMap<>();
        MergeRequest request = kernel == DirectKernel.LINEAR
                ? MergeRequest.builder(Method.TASK_ARITHMETIC).base(m[0]).model(m[2]).model(m[4]).model(m[6]).weights(0.5f, 0.3f, 0.2f)
                        .threads(2).chunkElements(4096).build()
                : MergeRequest.builder(Method.GRADIENT_MATCHING).base(m[0]).baseFisher(m[1]).model(m[2]).fisher(m[3]).model(m[4])
                        .fisher(m[5]).model(m[6]).fisher(m[7]).weights(0.5f, 0.3f, 0.2f).delta0(0f).remove(remove).clampRel(0.1f)
                        .threads(2).chunkElements(4096).build();
        MergeReport report = Merger.merge(request, t -> out.computeIfAbsent(t.name(), k -> Arena.ofAuto().allocate(t.byteSize(), 8)),
                ChunkExecutor.of(policy));

        // the scalar twin's general path: decode, gradient matching, encode
        Kernels scalar = Kernels.scalar();
        float[][] in = new float[8][n];
        for (int k = 0; k < 8; k++) {
            scalar.decode(type(kernel, k), m[k].data("w"), 0, in[k], n);
        }
        float[] theta = new float[n];
        GradientMatching p = new GradientMatching(new float[] {0.5f, 0.3f, 0.2f}, new float[] {1f, 1f, 1f}, 1f, 0f, remove, 0.1f);
        long clamped = 0;
        if (kernel == DirectKernel.LINEAR) {
            scalar.taskArithmetic(in[0], new float[][] {in[2], in[4], in[6]}, new float[] {0.5f, 0.3f, 0.2f}, theta, n);
        } else {
            clamped = scalar.gradientMatching(p, in[0], in[1], new float[][] {in[2], in[4], in[6]}, new float[][] {in[3], in[5], in[7]},
                    theta, n);
        }
        MemorySegment expected = Arena.ofAuto().allocate(2L * n, 8);
        scalar.encode(theta, n, DType.BF16, expected, 0);
        System.out.println("hot=" + hot + " other=" + other + " same=" + (expected.mismatch(out.get("w")) == -1) + " kernels=" + report.kernels()
                + (remove ? " clamps=" + (report.clampedElements() == clamped ? "same" : report.clampedElements() + " not " + clamped)
                        + (clamped > 1000 ? "" : " (few)") : ""));
    }

    /** The dtype of input k (even: weights, odd: Fishers): BF16, but F32 Fishers for the general gradient-matching kernel when adding. */
    private static DType type(DirectKernel kernel, int k) {
        return kernel == DirectKernel.GRADIENT_MATCHING && k % 2 == 1 && !remove ? DType.F32 : DType.BF16;
    }
}
