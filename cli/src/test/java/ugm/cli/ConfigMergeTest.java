package ugm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import ugm.job.config.ConfigParser;
import ugm.job.config.MergeConfig;
import ugm.core.DType;
import ugm.core.TensorInfo;
import ugm.core.merge.Reference;
import ugm.core.merge.methods.Method;
import ugm.io.Checkpoint;

/** The YAML form: same bytes as the flags, per-tensor parameters, the files beside the output, the dry run. */
class ConfigMergeTest {
    @TempDir
    static Path tmp;
    static Path family;

    @BeforeAll
    static void writeFamily() {
        family = tmp.resolve("family");
        Run r = Run.of("family", family.toString(), "--size", "10MB", "--tasks", "2", "--shard-size", "500kB");
        assertEquals(0, r.code(), r::toString);
    }

    /** Every file of a folder by name, as bytes, for byte-for-byte comparison of outputs. */
    static TreeMap<String, byte[]> files(Path dir, String... skip) throws IOException {
        TreeMap<String, byte[]> m = new TreeMap<>();
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : s.toList()) {
                if (!List.of(skip).contains(p.getFileName().toString())) {
                    m.put(p.getFileName().toString(), Files.readAllBytes(p));
                }
            }
        }
        return m;
    }

    static void assertSameFiles(TreeMap<String, byte[]> a, TreeMap<String, byte[]> b) {
        assertEquals(a.keySet(), b.keySet());
        for (String k : a.keySet()) {
            assertTrue(java.util.Arrays.equals(a.get(k), b.get(k)), k + " differs");
        }
    }

    private static Path config(String name, String yaml) throws IOException {
        Path p = tmp.resolve(name);
        Files.writeString(p, Configs.absolute(yaml, tmp));
        return p;
    }

    @ParameterizedTest
    @EnumSource(value = Method.class, names = {"LINEAR", "TASK_ARITHMETIC", "FISHER", "FISHER_WITH_BASE", "GRADIENT_MATCHING"}) // the element-wise kernels; the others: TaskVectorMethodsTest
    void yamlAndFlagsGiveTheSameBytes(Method m) throws IOException {
        boolean fishers = m.needsFishers();
        Path cfg = config("same-" + m.id() + ".yml", """
                merge_method: %s
                base_model: family/base
                models:
                  - model: family/task-1
                    parameters:
                      weight: 0.7
                      %s
                  - model: family/task-2
                    parameters:
                      weight: 0.4
                      %s
                parameters:
                  %s
                out_dtype: float32
                """.formatted(m.id(), fishers ? "fisher_scale: 3" : "", fishers ? "fisher_scale: 0.5" : "",
                switch (m) {
                    case GRADIENT_MATCHING -> "lambda: 0.9\n  delta0: 1.0e-5\n  base_fisher_scale: 2";
                    case TASK_ARITHMETIC -> "lambda: 0.9";
                    case FISHER_WITH_BASE -> "base_fisher_scale: 2";
                    default -> "{}";
                }));
        Path yamlOut = tmp.resolve("yaml-" + m.id());
        Run y = Run.of("merge", cfg.toString(), yamlOut.toString(), "--quiet", "--shard-size", "1MB");
        assertEquals(0, y.code(), y::toString);
        List<String> flags = new ArrayList<>(List.of("merge", "--method", m.id(), "--base", family.resolve("base").toString(),
                "--model", family.resolve("task-1").toString(), "--model", family.resolve("task-2").toString(),
                "--weight", "0.7", "--weight", "0.4", "--out-dtype", "f32", "--shard-size", "1MB", "--quiet",
                "--out", tmp.resolve("flags-" + m.id()).toString()));
        if (fishers) {
            flags.addAll(List.of("--fisher-scale", "3", "--fisher-scale", "0.5"));
        }
        switch (m) {
            case GRADIENT_MATCHING -> flags.addAll(List.of("--lambda", "0.9", "--delta0", "1e-5", "--base-fisher-scale", "2"));
            case TASK_ARITHMETIC -> flags.addAll(List.of("--lambda", "0.9"));
            case FISHER_WITH_BASE -> flags.addAll(List.of("--base-fisher-scale", "2"));
            default -> { }
        }
        Run f = Run.of(flags.toArray(String[]::new));
        assertEquals(0, f.code(), f::toString);
        TreeMap<String, byte[]> a = files(yamlOut, "ugm_config.yml", "README.md");
        assertTrue(a.keySet().stream().filter(k -> k.endsWith(".safetensors")).count() > 1, a.keySet()::toString);
        assertSameFiles(a, files(tmp.resolve("flags-" + m.id()), "ugm_config.yml", "README.md"));

        // The config written beside the output runs the same merge again, from anywhere.
        Path again = tmp.resolve("again-" + m.id());
        Run r = Run.of("merge", yamlOut.resolve("ugm_config.yml").toString(), again.toString(), "--quiet", "--shard-size", "1MB");
        assertEquals(0, r.code(), r::toString);
        assertSameFiles(a, files(again, "ugm_config.yml", "README.md"));
    }

    private static final Pattern LAYER = Pattern.compile("layers\\.(\\d+)\\.");

    /** mergekit's layer position, computed here independently: layer i of L at i/(L-1), every other tensor 0. */
    private static double t(String name, int layers) {
        Matcher mm = LAYER.matcher(name);
        if (mm.find()) {
            return Integer.parseInt(mm.group(1)) / (double) (layers - 1);
        }
        return 0;
    }

    /** The gradient [1, 0, 0.5]: 1 -> 0 over the first half, 0 -> 0.5 over the second. */
    private static double g3(double t) {
        return t <= 0.5 ? 1 - 2 * t : (2 * t - 1) * 0.5;
    }

    @Test
    void gradientsAndFilterListsGiveEveryTensorItsOwnValues() throws IOException {
        Path cfg = config("per-tensor.yml", """
                merge_method: task_arithmetic
                base_model: family/base
                models:
                  - model: family/task-1
                  - model: family/task-2
                    parameters:
                      weight:
                        - filter: mlp
                          value: 0.25
                        - filter: self_attn
                          value: [0, 1]
                parameters:
                  weight: [1, 0, 0.5]
                  lambda:
                    - filter: embed
                      value: 0.5
                dtype: float32
                """);
        Path out = tmp.resolve("per-tensor");
        Run r = Run.of("merge", cfg.toString(), out.toString(), "--quiet");
        assertEquals(0, r.code(), r::toString);
        try (Checkpoint merged = Checkpoint.open(out); Checkpoint base = Checkpoint.open(family.resolve("base"));
             Checkpoint m1 = Checkpoint.open(family.resolve("task-1")); Checkpoint m2 = Checkpoint.open(family.resolve("task-2"))) {
            int layers = (int) base.tensors().stream().filter(x -> x.name().endsWith("q_proj.weight")).count();
            assertTrue(layers >= 3, "layers: " + layers);
            int distinct = 0;
            for (TensorInfo info : base.tensors()) {
                String n = info.name();
                if (info.dtype() != DType.BF16) {
                    continue;
                }
                assertEquals(DType.F32, merged.info(n).dtype(), "dtype: float32 is the output dtype without out_dtype");
                double t = t(n, layers);
                double w1 = g3(t);
                double w2 = n.contains("mlp") ? 0.25 : n.contains("self_attn") ? t : g3(t);
                double lambda = n.contains("embed") ? 0.5 : 1;
                distinct += w1 != w2 ? 1 : 0;
                Reference.Params p = new Reference.Params(new double[] {(float) w1, (float) w2}, lambda, new double[] {1, 1}, 1, 0,
                        false, 0.1, false, false);
                MemorySegment got = merged.data(n);
                for (long i = 0; i < info.elementCount(); i += 7) {
                    double b = MergeCommandTest.bf16(base.data(n), i);
                    double[] x = {MergeCommandTest.bf16(m1.data(n), i), MergeCommandTest.bf16(m2.data(n), i)};
                    double e = Reference.value(Method.TASK_ARITHMETIC, p, b, 0, x, new double[2], new long[1]);
                    double g = got.getAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED, i);
                    assertEquals(e, g, 1e-6 * (Math.abs(b) + Math.abs(x[0]) + Math.abs(x[1])), n + "[" + i + "]");
                }
            }
            assertTrue(distinct > 10, "the two models' weights differ on most tensors: " + distinct);
        }
    }

    @Test
    void aMergekitConfigRunsUnchanged() throws IOException {
        // As mergekit users write it: base listed among the models, normalize, dtype. (The synthetic family has no
        // tokenizer for tokenizer_source to choose: TokenizerFilesTest covers it.)
        Path cfg = config("mergekit.yml", """
                models:
                  - model: family/base
                  - model: family/task-1
                    parameters:
                      weight: 0.5
                  - model: family/task-2
                    parameters:
                      weight: 1.5
                merge_method: task_arithmetic
                base_model: family/base
                parameters:
                  normalize: true
                  int8_mask: true
                dtype: bfloat16
                """);
        Run r = Run.of("merge", cfg.toString(), tmp.resolve("mk").toString());
        assertEquals(0, r.code(), r::toString);
        assertTrue(r.err().contains("also in models") && r.err().contains("'int8_mask' does not apply"), r.err());
        assertTrue(r.err().lines().anyMatch(l -> l.startsWith("ugm: merged ") && l.contains("GB/s") && l.contains("threads")), r.err());
        // normalize divides by the weights' sum (2): the flags form with weights 0.25 and 0.75 is the same merge.
        Run f = Run.of("merge", "--method", "task_arithmetic", "--base", family.resolve("base").toString(), "--model",
                family.resolve("task-1").toString(), "--model", family.resolve("task-2").toString(), "--weight", "0.25",
                "--weight", "0.75", "--out-dtype", "bf16", "--quiet", "--out", tmp.resolve("mk-flags").toString());
        assertEquals(0, f.code(), f::toString);
        assertSameFiles(files(tmp.resolve("mk"), "ugm_config.yml", "README.md", "config.json"),
                files(tmp.resolve("mk-flags"), "ugm_config.yml", "README.md", "config.json"));
    }

    @Test
    void theOutputHoldsTheConfigUsedAndAModelCard() throws IOException {
        Path out = tmp.resolve("card");
        Run r = Run.of("merge", "--method", "gradient_matching", "--base", family.resolve("base").toString(), "--model",
                family.resolve("task-1").toString(), "--model", family.resolve("task-2").toString(), "--weight", "1",
                "--weight", "0.5", "--delta0", "1e-4", "--quiet", "--out", out.toString());
        assertEquals(0, r.code(), r::toString);
        MergeConfig c = ConfigParser.read(out.resolve("ugm_config.yml"));
        assertEquals(Method.GRADIENT_MATCHING, c.method());
        assertEquals(family.resolve("base").toAbsolutePath().normalize(), c.base().path());
        assertEquals(2, c.models().size());
        assertEquals(0.5, c.models().get(1).parameters().get("weight").evaluate("x", 0));
        assertEquals(1e-4, c.parameters().get("delta0").evaluate("x", 0));
        String card = Files.readString(out.resolve("README.md"));
        assertTrue(card.contains("`gradient_matching`") && card.contains(family.resolve("task-2").toAbsolutePath().toString())
                && card.contains("ugm " + Cli.version()) && card.contains("delta0"), card);
        assertFalse(Cli.version().equals("unknown"));
    }

    @Test
    void aDryRunPrintsThePlanAndWritesNothing() throws IOException {
        Path out = tmp.resolve("dry");
        Path cfg = config("dry.yml", "merge_method: gradient_matching\nbase_model: family/base\nmodels:\n"
                + "  - model: family/task-1\n  - model: family/task-2\nout_dtype: float16\n");
        Run r = Run.of("merge", cfg.toString(), out.toString(), "--dry-run", "--threads", "2");
        assertEquals(0, r.code(), r::toString);
        assertFalse(Files.exists(out));
        try (Checkpoint base = Checkpoint.open(family.resolve("base"))) {
            for (TensorInfo t : base.tensors()) {
                assertTrue(r.out().lines().anyMatch(l -> l.startsWith("  " + t.name() + " ")), "tensor " + t.name() + " listed");
            }
            long bytes = base.tensors().stream().mapToLong(TensorInfo::byteSize).sum();
            // 2 models, 2 Fishers, base and base Fisher: each read once.
            assertTrue(r.out().contains("read: " + Sizes.format(6 * bytes)), r.out());
        }
        assertTrue(r.out().contains("models BF16 x2, Fishers BF16 x2, base Fisher BF16 -> F16"), r.out());
        assertTrue(r.out().contains("model.position_ids [1, 64] copy I64"), r.out());
        assertTrue(r.out().contains("expected peak memory: ") && r.out().contains("2 threads x 7 buffers"), r.out());
        assertTrue(r.out().contains("problems: none found"), r.out());

        // With problems: all listed, exit 3, still nothing written.
        new Checkpoints().put("model.norm.weight", 1, 2).write(tmp.resolve("odd"));
        Path bad = config("dry-bad.yml", "merge_method: linear\nbase_model: family/base\nmodels:\n"
                + "  - model: family/task-1\n  - model: odd\n");
        Run b = Run.of("merge", bad.toString(), out.toString(), "--dry-run");
        assertEquals(ExitCodes.INVALID_INPUT, b.code(), b::toString);
        assertTrue(b.out().contains("tensor 'model.norm.weight' has shape [2]"), b.out());
        assertTrue(b.out().contains("tensor 'lm_head.weight' is missing from model 2"), b.out());
        assertFalse(Files.exists(out));

        // A parameter out of range is the planner's problem too, named with its tensor: della's epsilon on the head
        Path eps = config("dry-eps.yml", "merge_method: della\nbase_model: family/base\nmodels:\n"
                + "  - model: family/task-1\n    parameters: {density: 0.5, epsilon: [{filter: lm_head, value: 0.6}, {value: 0.1}]}\n");
        Run e = Run.of("merge", eps.toString(), out.toString(), "--dry-run");
        assertEquals(ExitCodes.INVALID_INPUT, e.code(), e::toString);
        assertTrue(e.out().contains("tensor 'lm_head.weight': della needs 0 < density ± epsilon < 1"), e.out());
        assertFalse(e.out().contains("tensor 'model.norm.weight': della"), e.out());
        assertFalse(Files.exists(out));
    }

    @Test
    void progressLines() {
        assertEquals("ugm: merge 25% 1.00 GB of 4.00 GB written, 3/12 tensors, 1.50 GB/s, ETA 6 s",
                Progress.line("merge", 1_000_000_000L, 4_000_000_000L, 3, 12, 3.0, 2.0));
        assertEquals("ugm: convert 0% 0 B of 10 B written, 0.00 GB/s, ETA unknown", Progress.line("convert", 0, 10, 0, 0, 1, 0));
    }
}
