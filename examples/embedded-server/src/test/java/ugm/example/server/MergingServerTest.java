package ugm.example.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import ugm.core.DType;
import ugm.core.TensorInfo;
import ugm.core.merge.TensorParameter;
import ugm.io.Checkpoint;
import ugm.io.SafetensorsWriter;

/**
 * The example server, run as the named module it is (on the module path, reading only what ugm
 * exports), serves what gradient matching computes in double precision here, and merges again
 * with other weights into the same memory.
 */
class MergingServerTest {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** Odd sizes, so that the kernels' vector loops and their tails both run. */
    private static final List<TensorInfo> TENSORS = List.of(
            new TensorInfo("model.layers.0.self_attn.q_proj.weight", DType.F32, new long[] {16, 24}),
            new TensorInfo("model.layers.0.mlp.up_proj.weight", DType.F32, new long[] {7, 13}),
            new TensorInfo("model.norm.weight", DType.F32, new long[] {37}));

    @TempDir
    Path tmp;

    private final Map<String, float[]> base = new HashMap<>();
    private final Map<String, float[][]> tasks = new HashMap<>();
    private final Map<String, float[][]> fishers = new HashMap<>();

    @Test
    void servesGradientMatchingTensorByTensorAndMergesAgainInTheSameMemory() {
        Random random = new Random(19);
        for (TensorInfo t : TENSORS) {
            int n = (int) t.elementCount();
            float[] b = new float[n];
            float[][] x = new float[2][n];
            float[][] h = new float[2][n];
            for (int i = 0; i < n; i++) {
                b[i] = (float) random.nextGaussian();
                for (int m = 0; m < 2; m++) {
                    x[m][i] = b[i] + 0.1f * (float) random.nextGaussian();
                    // Fishers spanning orders of magnitude, some exactly 0 (both 0: the task-arithmetic fallback).
                    h[m][i] = i % 11 == 0 ? 0f : (float) Math.exp(3 * random.nextGaussian());
                }
            }
            base.put(t.name(), b);
            tasks.put(t.name(), x);
            fishers.put(t.name(), h);
        }
        write(tmp.resolve("base"), name -> base.get(name));
        for (int m = 0; m < 2; m++) {
            int model = m;
            write(tmp.resolve("task-" + (m + 1)), name -> tasks.get(name)[model]);
            write(tmp.resolve("task-" + (m + 1)).resolve(Checkpoint.FISHER_FOLDER), name -> fishers.get(name)[model]);
        }

        try (MergingServer server = MergingServer.open(tmp.resolve("base"), List.of(tmp.resolve("task-1"), tmp.resolve("task-2")),
                Thread.ofPlatform().daemon().factory())) {
            TensorParameter lambda = name -> name.contains("mlp") ? 0.5f : 1f;
            Map<String, MemorySegment> first = new LinkedHashMap<>();
            server.serve(new float[] {1f, 0.5f}, lambda, (tensor, weights) -> {
                assertEquals(DType.F32, tensor.dtype());
                first.put(tensor.name(), weights);
                check(tensor, weights, new float[] {1f, 0.5f}, lambda);
            });
            assertEquals(server.tensors().stream().map(TensorInfo::name).toList(), List.copyOf(first.keySet()),
                    "every tensor of the base, in its order");
            assertEquals(TENSORS.stream().map(TensorInfo::name).sorted().toList(), first.keySet().stream().sorted().toList());

            TensorParameter other = name -> name.startsWith("model.norm") ? 2f : 0.25f;
            Map<String, MemorySegment> second = new LinkedHashMap<>();
            server.serve(new float[] {0.3f, 1.5f}, other, (tensor, weights) -> {
                second.put(tensor.name(), weights);
                check(tensor, weights, new float[] {0.3f, 1.5f}, other);
            });
            for (String name : first.keySet()) {
                assertEquals(first.get(name).address(), second.get(name).address(), "merged again into the same memory: " + name);
            }
        }
    }

    /** Gradient matching in double precision (docs/method.md; no base Fisher, δ0 = 0). */
    private void check(TensorInfo tensor, MemorySegment weights, float[] w, TensorParameter lambda) {
        float[] b = base.get(tensor.name());
        float[][] x = tasks.get(tensor.name());
        float[][] h = fishers.get(tensor.name());
        double l = lambda.valueFor(tensor.name());
        assertEquals(b.length * 4L, weights.byteSize(), tensor.name());
        for (int i = 0; i < b.length; i++) {
            double hbar = 0;
            for (int m = 0; m < 2; m++) {
                hbar += l * w[m] * h[m][i];
            }
            double expected = b[i];
            for (int m = 0; m < 2; m++) {
                double ratio = hbar > 0 ? h[m][i] / hbar : 1;
                expected += l * w[m] * ratio * ((double) x[m][i] - b[i]);
            }
            float got = weights.getAtIndex(F32, i);
            assertTrue(Math.abs(got - expected) <= 1e-6 * (1 + Math.abs(expected)),
                    tensor.name() + "[" + i + "]: " + got + ", expected " + expected);
        }
    }

    private interface Values {
        float[] of(String name);
    }

    private static void write(Path folder, Values values) {
        try {
            Files.createDirectories(folder);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        try (SafetensorsWriter out = SafetensorsWriter.create(folder.resolve(Checkpoint.SINGLE_FILE), TENSORS, Map.of())) {
            for (TensorInfo t : TENSORS) {
                MemorySegment target = out.target(t.name());
                float[] v = values.of(t.name());
                for (int i = 0; i < v.length; i++) {
                    target.setAtIndex(F32, i, v[i]);
                }
            }
            out.commit();
        }
    }
}
