package ugm.io;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import ugm.core.DType;
import ugm.core.TensorInfo;
import ugm.core.kernel.Kernels;

/**
 * A PEFT LoRA adapter folder ({@code adapter_config.json} and {@code adapter_model.safetensors} or
 * {@code adapter_model.bin}) matched to the base checkpoint it adapts. A base tensor {@code W} whose
 * module has {@code lora_A} and {@code lora_B} becomes {@code W + s·B·A}, with {@code s} =
 * {@code lora_alpha / r} ({@code lora_alpha / √r} with use_rslora) and the product transposed
 * for {@code fan_in_fan_out} (Conv1D weights) and for embeddings ({@code lora_embedding_A/B});
 * a full tensor in the adapter ({@code modules_to_save}, trained biases) replaces the base's.
 *
 * <p>An adapted tensor is computed when its data are first asked for: the product summed in double
 * precision, added to {@code W}, and rounded to the base tensor's dtype (through float for BF16
 * and F16, as ugm's encoders take floats), row by row into an
 * unlinked temporary file in {@code java.io.tmpdir} that stays mapped until the adapter is closed.
 * The heap holds A and B (as doubles) and one row; the results live in the page cache, which the
 * kernel writes back to the temporary file under memory pressure.
 */
final class LoraAdapter implements AutoCloseable {
    static final String WEIGHTS = "adapter_model.safetensors";
    static final String TORCH_WEIGHTS = "adapter_model.bin";
    private static final String PREFIX = "base_model.model.";
    private static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** Elements decoded at a time when reading A, B or a replacement. */
    private static final int BLOCK = 1 << 14;

    /** How a base tensor changes. */
    private sealed interface Patch permits LowRank, Replacement {
    }

    /**
     * {@code W[i][j] += Σ_k left[i][k]·right[k][j]}: left = s·B and right = A, or for a transposed
     * product left = s·Aᵀ and right = Bᵀ.
     */
    private record LowRank(String a, String b, int rank, double scale, boolean transposed) implements Patch {
    }

    /** The base tensor is replaced by the adapter's tensor {@code tensor}, in the base's dtype. */
    private record Replacement(String tensor) implements Patch {
    }

    private final Path folder;
    private final LoraConfig config;
    private final FileIdentity configIdentity;
    private final CheckpointFile file;
    private final Map<String, Patch> patches;
    private final Map<String, MemorySegment> applied = new ConcurrentHashMap<>();
    private final Arena arena = Arena.ofShared();

    private LoraAdapter(Path folder, LoraConfig config, FileIdentity configIdentity, CheckpointFile file, Map<String, Patch> patches) {
        this.folder = folder;
        this.config = config;
        this.configIdentity = configIdentity;
        this.file = file;
        this.patches = patches;
    }

    /**
     * Reads the adapter folder and matches every adapter tensor to a tensor of {@code base}.
     *
     * @throws AdapterException when the folder is no PEFT LoRA adapter, or does not fit the base
     */
    static LoraAdapter open(Path folder, Checkpoint base) {
        if (!Files.isDirectory(folder)) {
            throw new AdapterException(folder, null, Files.exists(folder) ? "an adapter must be a folder (with "
                    + LoraConfig.FILE + " and " + WEIGHTS + ")" : "no such adapter folder");
        }
        Path configFile = folder.resolve(LoraConfig.FILE);
        if (!Files.isRegularFile(configFile)) {
            throw new AdapterException(folder, null, "adapter folder has no " + LoraConfig.FILE);
        }
        FileIdentity identity = FileIdentity.of(configFile);
        LoraConfig config = LoraConfig.read(configFile);
        Path weights = folder.resolve(WEIGHTS);
        if (!Files.isRegularFile(weights)) {
            weights = folder.resolve(TORCH_WEIGHTS);
            if (!Files.isRegularFile(weights)) {
                throw new AdapterException(folder, null, "adapter folder has neither " + WEIGHTS + " nor " + TORCH_WEIGHTS);
            }
        }
        CheckpointFile file = Checkpoint.openFile(weights);
        try {
            return new LoraAdapter(folder, config, identity, file, match(config, file, base));
        } catch (RuntimeException | Error e) {
            file.close();
            throw e;
        }
    }

    /** The patches by base tensor name, every adapter tensor used once. */
    private static Map<String, Patch> match(LoraConfig config, CheckpointFile file, Checkpoint base) {
        Path at = file.path();
        Map<String, String[]> modules = new LinkedHashMap<>(); // module -> {A, B, kind of A}
        Map<String, Patch> patches = new HashMap<>();
        for (TensorInfo t : file.tensors()) {
            String key = t.name();
            String name = key.startsWith(PREFIX) ? key.substring(PREFIX.length()) : key;
            String[] parts = name.split("\\.", -1);
            int kind = -1;
            for (int i = parts.length - 1; i > 0; i--) {
                if (parts[i].startsWith("lora_")) {
                    kind = i;
                    break;
                }
            }
            if (kind < 0) {
                String target = replaced(name, base);
                if (target == null) {
                    throw new AdapterException(at, key, "matches no tensor of the base " + base.describe());
                }
                requireFits(at, key, t, base.info(target), target);
                if (patches.put(target, new Replacement(key)) != null) {
                    throw new AdapterException(at, key, "replaces base tensor '" + target + "', which another adapter tensor changes too");
                }
                continue;
            }
            if (!t.dtype().isMergeable()) {
                throw new AdapterException(at, key, "dtype " + t.dtype() + "; LoRA weights must be BF16, F16, F32 or F64");
            }
            String module = String.join(".", Arrays.copyOfRange(parts, 0, kind));
            String role = parts[kind];
            List<String> rest = new ArrayList<>(Arrays.asList(parts).subList(kind + 1, parts.length));
            if (!rest.isEmpty() && rest.getLast().equals("bias")) {
                throw new AdapterException(at, key, "a LoRA bias; adapters with lora_bias are not supported");
            }
            if (!rest.isEmpty() && rest.getLast().equals("weight")) {
                rest.removeLast();
            }
            int slot = switch (role) {
                case "lora_A", "lora_embedding_A" -> 0;
                case "lora_B", "lora_embedding_B" -> 1;
                case "lora_magnitude_vector" -> throw new AdapterException(at, key, "a DoRA magnitude; DoRA adapters are not supported");
                default -> throw new AdapterException(at, key, "not a LoRA tensor ugm knows (lora_A, lora_B, lora_embedding_A, lora_embedding_B)");
            };
            if (rest.size() > 1 || t.shape().length != 2) {
                throw new AdapterException(at, key, rest.size() > 1 ? "not named as PEFT names LoRA weights (<module>." + role + "[.<adapter>].weight)"
                        : "has shape " + t.shapeString() + "; LoRA applies to 2-D weights (Linear, Conv1D, Embedding) only");
            }
            String[] entry = modules.computeIfAbsent(module, m -> new String[3]);
            if (entry[slot] != null) {
                throw new AdapterException(at, key, "a second " + role + " for module '" + module + "' (besides '" + entry[slot]
                        + "'); give an adapter with one adapter name");
            }
            entry[slot] = key;
            boolean embedding = role.startsWith("lora_embedding");
            String kindName = embedding ? "embedding" : "linear";
            if (entry[2] != null && !entry[2].equals(kindName)) {
                throw new AdapterException(at, key, "mixes lora_A/lora_B with lora_embedding_A/lora_embedding_B for module '" + module + "'");
            }
            entry[2] = kindName;
        }
        for (Map.Entry<String, String[]> m : modules.entrySet()) {
            String module = m.getKey();
            String a = m.getValue()[0];
            String b = m.getValue()[1];
            if (a == null || b == null) {
                String have = a != null ? a : b;
                throw new AdapterException(at, have, "has no " + (a == null ? "lora_A" : "lora_B") + " partner for module '" + module + "'");
            }
            String target = module + ".weight";
            TensorInfo w = base.info(target);
            if (w == null) {
                throw new AdapterException(at, a, "adapts '" + target + "', which the base " + base.describe() + " lacks");
            }
            if (!w.dtype().isMergeable() || w.shape().length != 2) {
                throw new AdapterException(at, a, "adapts '" + target + "' (" + w.dtype() + " " + w.shapeString()
                        + " in the base), which is no 2-D floating tensor");
            }
            boolean embedding = m.getValue()[2].equals("embedding");
            boolean transposed = embedding || config.fanInFanOut();
            long[] as = file.info(a).shape();
            long[] bs = file.info(b).shape();
            long rows = w.shape()[0];
            long cols = w.shape()[1];
            if (as[0] != bs[1]) {
                throw new AdapterException(at, b, "has shape " + file.info(b).shapeString() + " but its lora_A has "
                        + file.info(a).shapeString() + "; B's columns must be A's rows (the rank)");
            }
            boolean fits = transposed ? as[1] == rows && bs[0] == cols : bs[0] == rows && as[1] == cols;
            if (!fits) {
                throw new AdapterException(at, a, "B·A is " + bs[0] + "×" + as[1] + (transposed ? ", transposed " + as[1] + "×" + bs[0] : "")
                        + ", but base tensor '" + target + "' is " + w.shapeString()
                        + (embedding ? "" : " (fan_in_fan_out is " + config.fanInFanOut() + " in " + LoraConfig.FILE + ")"));
            }
            int rank = config.rank(module);
            if (as[0] != rank) {
                throw new AdapterException(at, a, "has rank " + as[0] + " but " + LoraConfig.FILE + " gives r = " + rank
                        + " for module '" + module + "'");
            }
            if (as[0] * (rows + cols) > Integer.MAX_VALUE || cols > Integer.MAX_VALUE / 2) {
                throw new AdapterException(at, a, "too large: rank × (rows + columns) must stay below 2^31");
            }
            if (patches.put(target, new LowRank(a, b, rank, config.scale(module), transposed)) != null) {
                throw new AdapterException(at, a, "adapts base tensor '" + target + "', which the adapter also replaces");
            }
        }
        return Map.copyOf(patches);
    }

    /** The base tensor an adapter tensor outside LoRA replaces: as named, or without PEFT's {@code modules_to_save[.<adapter>]}. */
    private static String replaced(String name, Checkpoint base) {
        List<String> candidates = new ArrayList<>();
        candidates.add(name);
        List<String> parts = Arrays.asList(name.split("\\.", -1));
        int i = parts.indexOf("modules_to_save");
        if (i >= 0) {
            List<String> without = new ArrayList<>(parts);
            without.remove(i);
            candidates.add(String.join(".", without));
            if (i < without.size() - 1) {
                without.remove(i); // the adapter name after modules_to_save
                candidates.add(String.join(".", without));
            }
        }
        return candidates.stream().filter(c -> base.info(c) != null).findFirst().orElse(null);
    }

    private static void requireFits(Path at, String key, TensorInfo t, TensorInfo w, String target) {
        if (!t.sameShape(w)) {
            throw new AdapterException(at, key, "has shape " + t.shapeString() + " but replaces base tensor '" + target + "' of shape "
                    + w.shapeString());
        }
        if (t.dtype() != w.dtype() && !(t.dtype().isMergeable() && w.dtype().isMergeable())) {
            throw new AdapterException(at, key, "is " + t.dtype() + " but replaces base tensor '" + target + "' of dtype " + w.dtype()
                    + "; only floating tensors change dtype");
        }
    }

    /** The adapter folder. */
    Path folder() {
        return folder;
    }

    /** The files read: the config and the weights. */
    List<Path> files() {
        return List.of(config.file(), file.path());
    }

    /** Whether the named base tensor changes. */
    boolean adapts(String name) {
        return patches.containsKey(name);
    }

    /** How many base tensors change. */
    int size() {
        return patches.size();
    }

    /**
     * The adapted data of base tensor {@code name} (which {@link #adapts}), whose base data
     * {@code base} holds: computed on the first call, the same segment after.
     */
    MemorySegment data(String name, CheckpointFile base) {
        return applied.computeIfAbsent(name, n -> {
            TensorInfo w = base.info(n);
            if (patches.get(n) instanceof Replacement r && file.info(r.tensor()).dtype() == w.dtype()) {
                return file.data(r.tensor()); // as stored in the adapter
            }
            MemorySegment out = allocate(w.byteSize());
            switch (patches.get(n)) {
                case LowRank p -> lowRank(p, w, base.data(n), out);
                case Replacement r -> convert(file.info(r.tensor()).dtype(), file.data(r.tensor()), w.dtype(), out, w.elementCount());
            }
            base.release(n);
            return out;
        });
    }

    /** Lets the kernel drop an adapted tensor's pages from the resident set (they stay in the temporary file). */
    void release(String name) {
        MemorySegment m = applied.get(name);
        if (m != null) {
            Pages.release(m);
        }
    }

    /** The adapter file that changed on disk since it was read, or null. */
    String changedFile() {
        if (file.changedOnDisk()) {
            return file.path().toString();
        }
        return configIdentity == null || !configIdentity.equals(FileIdentity.of(config.file())) ? config.file().toString() : null;
    }

    private MemorySegment allocate(long bytes) {
        return DiskSpace.temporaryMapping(bytes, arena, "ugm-lora-", "an adapted tensor");
    }

    /** out = W + left·right, row by row, the product summed in double and rounded to W's dtype. */
    private void lowRank(LowRank p, TensorInfo w, MemorySegment wData, MemorySegment out) {
        int rows = (int) w.shape()[0];
        int cols = (int) w.shape()[1];
        int r = p.rank();
        double[] a = new double[r * (p.transposed() ? rows : cols)];
        double[] b = new double[r * (p.transposed() ? cols : rows)];
        float[] buf = new float[BLOCK];
        read(file.info(p.a()).dtype(), file.data(p.a()), 0, a.length, a, buf);
        read(file.info(p.b()).dtype(), file.data(p.b()), 0, b.length, b, buf);
        double[] left = p.transposed() ? transpose(a, r, rows) : b;   // [rows, r]: s·B, or s·Aᵀ
        double[] right = p.transposed() ? transpose(b, cols, r) : a;  // [r, cols]: A, or Bᵀ
        for (int i = 0; i < left.length; i++) {
            left[i] *= p.scale();
        }
        double[] acc = new double[cols];
        double[] row = new double[cols];
        DType type = w.dtype();
        for (int i = 0; i < rows; i++) {
            productRow(left, right, i, r, acc);
            read(type, wData, (long) i * cols, cols, row, buf);
            for (int j = 0; j < cols; j++) {
                row[j] += acc[j];
            }
            write(type, row, cols, out, (long) i * cols, buf);
        }
    }

    /**
     * acc[j] = Σ_k left[i][k]·right[k][j] for one row i; left is [rows, r], right [r, cols], both
     * row-major. Four ranks at a time (acc is read and written once per four), then the rest;
     * the JIT vectorizes the loops over j.
     */
    static void productRow(double[] left, double[] right, int i, int r, double[] acc) {
        int cols = acc.length;
        Arrays.fill(acc, 0);
        int at = i * r;
        int k = 0;
        for (; k + 4 <= r; k += 4) {
            double l0 = left[at + k];
            double l1 = left[at + k + 1];
            double l2 = left[at + k + 2];
            double l3 = left[at + k + 3];
            int b0 = k * cols;
            int b1 = b0 + cols;
            int b2 = b1 + cols;
            int b3 = b2 + cols;
            for (int j = 0; j < cols; j++) {
                acc[j] += l0 * right[b0 + j] + l1 * right[b1 + j] + l2 * right[b2 + j] + l3 * right[b3 + j];
            }
        }
        for (; k < r; k++) {
            double l = left[at + k];
            int base = k * cols;
            for (int j = 0; j < cols; j++) {
                acc[j] += l * right[base + j];
            }
        }
    }

    /** The [n, m] row-major matrix x transposed, [m, n]. */
    private static double[] transpose(double[] x, int n, int m) {
        double[] t = new double[x.length];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < m; j++) {
                t[j * n + i] = x[i * m + j];
            }
        }
        return t;
    }

    /** Elements [from, from + n) of {@code type} in src as doubles into dst[0..n), through buf (BF16, F16, F32). */
    static void read(DType type, MemorySegment src, long from, int n, double[] dst, float[] buf) {
        for (int done = 0; done < n; done += buf.length) {
            int k = Math.min(buf.length, n - done);
            long at = from + done;
            if (type == DType.F64) {
                for (int i = 0; i < k; i++) {
                    dst[done + i] = src.get(F64, 8 * (at + i));
                }
            } else {
                Kernels.scalar().decode(type, src, type.byteSize(at), buf, k);
                for (int i = 0; i < k; i++) {
                    dst[done + i] = buf[i];
                }
            }
        }
    }

    /** src[0..n) as {@code type} into elements [from, from + n) of dst, rounded to nearest even (through float but for F64). */
    static void write(DType type, double[] src, int n, MemorySegment dst, long from, float[] buf) {
        for (int done = 0; done < n; done += buf.length) {
            int k = Math.min(buf.length, n - done);
            long at = from + done;
            if (type == DType.F64) {
                for (int i = 0; i < k; i++) {
                    dst.set(F64, 8 * (at + i), src[done + i]);
                }
            } else {
                for (int i = 0; i < k; i++) {
                    buf[i] = (float) src[done + i];
                }
                Kernels.scalar().encode(buf, k, type, dst, type.byteSize(at));
            }
        }
    }

    /** n elements of {@code from} in src, written as {@code to} (another floating dtype) into dst, block by block. */
    private static void convert(DType from, MemorySegment src, DType to, MemorySegment dst, long n) {
        float[] buf = new float[BLOCK];
        double[] values = new double[BLOCK];
        for (long at = 0; at < n; at += BLOCK) {
            int k = (int) Math.min(BLOCK, n - at);
            read(from, src, at, k, values, buf);
            write(to, values, k, dst, at, buf);
        }
    }

    @Override
    public void close() {
        try {
            file.close();
        } finally {
            arena.close();
        }
    }
}
