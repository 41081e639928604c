package ugm.cli;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.IntStream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;
import ugm.core.DType;
import ugm.core.TensorInfo;
import ugm.core.UgmException;
import ugm.core.kernel.Kernels;
import ugm.core.merge.sparsify.CounterRandom;
import ugm.io.Checkpoint;
import ugm.io.OutputFolder;
import ugm.io.ShardedWriter;

/**
 * Writes a synthetic family: a base, T task models fine-tuned from it, and a diagonal Fisher
 * beside each ({@code <model>/hessian}), shaped like a small transformer. For trying ugm and for
 * benchmarking merges of a chosen size; the values are noise, not a trained model.
 */
@Command(name = "family", mixinStandardHelpOptions = true, versionProvider = Cli.Version.class, sortOptions = false,
        description = {"Writes a synthetic family of checkpoints to try merges on and to benchmark.",
                "DIR/base and DIR/task-1 .. DIR/task-T, each with a Fisher in <model>/hessian, shaped like a",
                "small transformer (random values, not a trained model)."},
        footer = {"", ExitCodes.HELP})
final class FamilyCommand implements Callable<Integer> {

    @Mixin
    VerboseOption verbose;

    @Parameters(paramLabel = "DIR", description = "The folder to create.")
    Path dir;

    @Option(names = "--size", paramLabel = "SIZE", defaultValue = "32MB", converter = Sizes.class,
            description = "Total size of all the files of the family (default ${DEFAULT-VALUE}).")
    long size;

    @Option(names = "--tasks", paramLabel = "T", defaultValue = "3", description = "Number of task models (default ${DEFAULT-VALUE}).")
    int tasks;

    @Option(names = "--dtype", paramLabel = "T", defaultValue = "bf16", converter = DTypes.class,
            description = "dtype of the models and Fishers (default ${DEFAULT-VALUE}).")
    DType dtype;

    @Option(names = "--shard-size", paramLabel = "SIZE", defaultValue = "5GB", converter = Sizes.class,
            description = "Largest shard of each model (default ${DEFAULT-VALUE}).")
    long shardSize;

    @Option(names = "--seed", paramLabel = "N", defaultValue = "1", description = "Random seed (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--force", description = "Replace DIR if it exists and is not empty.")
    boolean force;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        if (tasks < 1 || tasks > 64) {
            throw new UgmException(UgmException.Kind.USAGE, "--tasks must be between 1 and 64");
        }
        List<TensorInfo> tensors = layout(size / (2L * tasks + 2) / dtype.byteWidth());
        long start = System.nanoTime();
        try (OutputFolder folder = OutputFolder.create(dir, force)) {
            write(folder, "base", tensors, 0, Role.BASE);
            write(folder, "base/" + Checkpoint.FISHER_FOLDER, tensors, 0, Role.FISHER);
            for (int t = 1; t <= tasks; t++) {
                write(folder, "task-" + t, tensors, t, Role.TASK);
                write(folder, "task-" + t + "/" + Checkpoint.FISHER_FOLDER, tensors, t, Role.FISHER);
            }
            folder.publish();
        }
        long bytes = tensors.stream().mapToLong(TensorInfo::byteSize).sum() * (2L * tasks + 2);
        spec.commandLine().getOut().printf(Locale.ROOT, "wrote %s: base and %d tasks, each with a Fisher in hessian/ (%d tensors each, %s in all) in %.1f s%n",
                dir, tasks, tensors.size(), Sizes.format(bytes), (System.nanoTime() - start) / 1e9);
        return ExitCodes.OK;
    }

    /** Transformer-like tensors totalling about {@code elements} floating elements, plus an integer one. */
    List<TensorInfo> layout(long elements) {
        int hidden = elements >= 64L << 20 ? 1024 : elements >= 4L << 20 ? 512 : 128;
        long perLayer = 8L * hidden * hidden + 2L * hidden;
        long vocab = 1000;
        int layers = (int) Math.max(1, (elements - 2 * vocab * hidden) / perLayer);
        List<TensorInfo> l = new ArrayList<>();
        l.add(new TensorInfo("model.embed_tokens.weight", dtype, new long[] {vocab, hidden}));
        for (int i = 0; i < layers; i++) {
            String p = "model.layers." + i + ".";
            for (String proj : new String[] {"q_proj", "k_proj", "v_proj", "o_proj"}) {
                l.add(new TensorInfo(p + "self_attn." + proj + ".weight", dtype, new long[] {hidden, hidden}));
            }
            l.add(new TensorInfo(p + "mlp.up_proj.weight", dtype, new long[] {2L * hidden, hidden}));
            l.add(new TensorInfo(p + "mlp.down_proj.weight", dtype, new long[] {hidden, 2L * hidden}));
            l.add(new TensorInfo(p + "input_layernorm.weight", dtype, new long[] {hidden}));
            l.add(new TensorInfo(p + "post_attention_layernorm.weight", dtype, new long[] {hidden}));
        }
        l.add(new TensorInfo("model.norm.weight", dtype, new long[] {hidden}));
        l.add(new TensorInfo("lm_head.weight", dtype, new long[] {vocab, hidden}));
        l.add(new TensorInfo("model.position_ids", DType.I64, new long[] {1, 64}));
        return l;
    }

    enum Role { BASE, TASK, FISHER }

    /** Writes one checkpoint into {@code name} inside the output's temporary folder (see {@link ugm.io.Temporaries}). */
    private void write(OutputFolder out, String name, List<TensorInfo> tensors, int model, Role role) {
        try (ShardedWriter w = ShardedWriter.create(out.temp().resolve(name), tensors, Map.of("format", "pt"), shardSize)) {
            IntStream.range(0, tensors.size()).parallel().forEach(i -> fill(w.target(tensors.get(i)), tensors.get(i), i, model, role));
            w.commit();
        }
        if (role != Role.FISHER) {
            out.writeFile(name + "/config.json", String.format(Locale.ROOT,
                    "{%n  \"model_type\": \"ugm-synthetic\",%n  \"torch_dtype\": \"%s\"%n}%n",
                    dtype.torchName()).getBytes(StandardCharsets.UTF_8));
        }
    }

    /** Deterministic values: base ~ 0.05·noise; task = base + 0.01·noise; Fisher = 1e-4·noise², an eighth exactly 0. */
    private void fill(MemorySegment out, TensorInfo t, int index, int model, Role role) {
        long n = t.elementCount();
        if (t.dtype() == DType.I64) {
            for (long i = 0; i < n; i++) {
                out.setAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, i, i);
            }
            return;
        }
        long baseKey = CounterRandom.mix(seed * 0x9E3779B97F4A7C15L + index);
        long taskKey = CounterRandom.mix(baseKey ^ (model * 0xD1B54A32D192ED03L + role.ordinal()));
        float[] buf = new float[8192];
        for (long from = 0; from < n; from += buf.length) {
            int len = (int) Math.min(buf.length, n - from);
            for (int j = 0; j < len; j++) {
                long i = from + j;
                float v = 0.05f * noise(baseKey, i);
                if (role == Role.TASK) {
                    v += 0.01f * noise(taskKey, i);
                } else if (role == Role.FISHER) {
                    float u = noise(taskKey, i);
                    v = (CounterRandom.mix(taskKey - i) & 7) == 0 ? 0f : 1e-4f * u * u;
                }
                buf[j] = v;
            }
            Kernels.scalar().encode(buf, len, t.dtype(), out, from * t.dtype().byteWidth());
        }
    }

    /** Roughly normal noise in [-2, 2): the sum of two uniforms from a hash of (key, i). */
    private static float noise(long key, long i) {
        long h = CounterRandom.mix(key + i * 0x9E3779B97F4A7C15L);
        float a = (h >>> 40) * 0x1p-24f;
        float b = ((h >>> 16) & 0xFFFFFF) * 0x1p-24f;
        return (a + b - 1f) * 2f;
    }
}
