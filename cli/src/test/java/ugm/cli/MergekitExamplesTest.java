package ugm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;
import ugm.core.DType;
import ugm.core.TensorInfo;
import ugm.io.Checkpoint;
import ugm.job.config.ConfigException;
import ugm.job.config.ConfigParser;

/**
 * mergekit's example configs (examples/*.yml of arcee-ai/mergekit v0.1.4, in test resources
 * mergekit-examples/ with a note of each change), run by ugm on small Llama-shaped models and
 * compared, tensor by tensor and element by element, with mergekit's formulas (its source:
 * merge_methods/linear.py, generalized_task_arithmetic.py, sparsify.py, slerp.py; config.py's
 * evaluate_setting; plan.py's layer positions; and, for the methods added after 0.1.4, the current
 * merge_methods/passthrough.py, multislerp.py, nuslerp.py, karcher.py, sce.py, arcee_fusion.py, ram.py)
 * evaluated here in double precision; and so are the README's config examples of those methods.
 *
 * <p>The inputs are random values on the grid of the config's {@code dtype} (float16, or bfloat16
 * for arcee_fusion.yml), so mergekit's cast of its inputs to that dtype changes nothing; mergekit
 * then computes in that dtype, ugm in float32 (a documented difference), and both write it. Where
 * the config names no dtype (README examples) the inputs are on the float16 grid, stored as float32,
 * and both compute and write float32. The tolerance is one unit in the last place of the expected value
 * in the output dtype (the output's rounding, when ugm's float32 result lies on the other side of a
 * rounding boundary; none for float32) plus 1e-5 for float32 arithmetic on values of order 1.
 */
class MergekitExamplesTest {

    static final int LAYERS = 4;
    static final int HIDDEN = 12;
    static final int INTERMEDIATE = 24;
    static final int VOCAB = 40;

    /** mergekit's examples/*.yml at v0.1.4, every one: those ugm cannot run yet with the reason, and the words of its refusal. */
    static final Map<String, String[]> SKIPPED = Map.of();
    static final List<String> EXAMPLES = List.of("arcee_fusion.yml", "bio-merge.yml", "gradient-slerp.yml", "linear.yml",
            "orcamini-platy-44layer.yml", "ties.yml");

    @TempDir
    Path tmp;

    /** Every model the examples name, by local folder: tensor name to values (float16 values, as doubles). */
    private final Map<String, Map<String, double[]>> models = new LinkedHashMap<>();

    @TestFactory
    Stream<DynamicTest> everyMergekitExample() {
        return EXAMPLES.stream().map(name -> DynamicTest.dynamicTest(name, () -> {
            String[] skip = SKIPPED.get(name);
            if (skip != null) {
                Path cfg = tmp.resolve(name);
                Files.writeString(cfg, resource("skipped/" + name));
                ConfigException e = assertThrows(ConfigException.class, () -> ConfigParser.read(cfg));
                assertTrue(e.getMessage().contains(skip[1]), e.getMessage());
                Assumptions.abort("skipped: " + skip[0]);
            }
            switch (name) {
                case "linear.yml" -> linear();
                case "ties.yml" -> ties();
                case "bio-merge.yml" -> bioMerge();
                case "gradient-slerp.yml" -> gradientSlerp();
                case "orcamini-platy-44layer.yml" -> orcaminiPlaty();
                case "arcee_fusion.yml" -> check("arcee_fusion.yml", "model_a", List.of("model_b"),
                        (tensor, t, base, xs) -> arceeFusion(tensor, base, xs.get(0)));
                default -> throw new AssertionError("no check for " + name);
            }
        }));
    }

    /** The README's config examples (by the first word of their first line) that are not checked here, and why. */
    static final Map<String, String> README_NOT_CHECKED = Map.ofEntries(
            Map.entry("gradient_matching", "ugm's own method"),
            Map.entry("fisher", "ugm's own method"),
            Map.entry("fisher_with_base", "ugm's own method"),
            Map.entry("ties_gradient_matching", "ugm's own method"),
            Map.entry("dare_gradient_matching", "ugm's own method"),
            Map.entry("task_arithmetic", "it uses remove, ugm's own parameter"),
            Map.entry("dare_ties", "random masks: ugm's counter-based hash is not torch's generator, by design"),
            Map.entry("dare_linear", "random masks, as dare_ties"),
            Map.entry("della", "random masks, as dare_ties"),
            Map.entry("della_linear", "random masks, as dare_ties"),
            Map.entry("slices", "layer ranges of 32-layer models: orcamini-platy-44layer.yml checks such a stack here"));

    /** The README's config examples of the methods ugm shares with mergekit, on the same kind of models. */
    @TestFactory
    Stream<DynamicTest> theReadmeExamplesOfMergekitsMethods() throws IOException {
        String readme = Files.readString(Path.of(System.getProperty("maven.multiModuleProjectDirectory", "..")).resolve("README.md"));
        Map<String, String> examples = new LinkedHashMap<>();
        Matcher m = Pattern.compile("```yaml\\n# ([a-z_]+)[^\\n]*\\n(.*?)```", Pattern.DOTALL).matcher(readme);
        while (m.find()) {
            examples.put(m.group(1), m.group(0).substring("```yaml\n".length(), m.group(0).length() - 3));
        }
        Map<String, Runnable> checks = new LinkedHashMap<>();
        checks.put("linear", () -> readmeLinear(examples.get("linear")));
        checks.put("ties", () -> readmeTies(examples.get("ties")));
        checks.put("breadcrumbs", () -> readmeBreadcrumbs(examples.get("breadcrumbs")));
        checks.put("breadcrumbs_ties", () -> readmeBreadcrumbsTies(examples.get("breadcrumbs_ties")));
        checks.put("slerp", () -> readmeSlerp(examples.get("slerp")));
        checks.put("model_stock", () -> readmeModelStock(examples.get("model_stock")));
        checks.put("nearswap", () -> readmeNearswap(examples.get("nearswap")));
        checks.put("anchors", () -> readme("anchors", examples.get("anchors"), "llama-base", List.of("llama-math", "llama-code"),
                (name, t, base, xs) -> ties(base, xs, new double[] {0.5, 0.5}, new double[] {0.5, 0.7}, true)));
        checks.put("multislerp", () -> readme("multislerp", examples.get("multislerp"), "llama-base",
                List.of("llama-math", "llama-code"), (name, t, base, xs) -> multislerp(base, xs, new double[] {1, 0.5})));
        checks.put("passthrough", () -> readmePassthrough(examples.get("passthrough")));
        checks.put("nuslerp", () -> readme("nuslerp", examples.get("nuslerp"), "llama-base", List.of("llama-math", "llama-code"),
                (name, t, base, xs) -> nuslerpRows(name, 1 / (3.0 + 1), base, xs.get(0), xs.get(1))));
        checks.put("karcher", () -> readme("karcher", examples.get("karcher"), null, List.of("llama-math", "llama-code", "llama-chat"),
                (name, t, base, xs) -> karcher(xs, 20, 1e-6)));
        checks.put("sce", () -> readme("sce", examples.get("sce"), "llama-base", List.of("llama-math", "llama-code", "llama-chat"),
                (name, t, base, xs) -> sce(base, xs, 0.3)));
        checks.put("ram", () -> readme("ram", examples.get("ram"), "llama-base", List.of("agent-search", "agent-code"),
                (name, t, base, xs) -> ram(base, xs, 1e-5f, false, 0, 0)));
        checks.put("ramplus_tl", () -> readme("ramplus_tl", examples.get("ramplus_tl"), "llama-base",
                List.of("agent-search", "agent-code", "agent-math"), (name, t, base, xs) -> ram(base, xs, 1e-5f, true, 0.1, 0.5)));
        checks.put("arcee_fusion", () -> readme("arcee_fusion", examples.get("arcee_fusion"), "llama-base", List.of("llama-chat"),
                (name, t, base, xs) -> arceeFusion(name, base, xs.get(0))));
        Set<String> listed = new TreeSet<>(checks.keySet());
        listed.addAll(README_NOT_CHECKED.keySet());
        assertEquals(new TreeSet<>(examples.keySet()), listed, "every README example is checked or listed as not checked");
        return Stream.concat(checks.entrySet().stream().map(e -> DynamicTest.dynamicTest(e.getKey(), e.getValue()::run)),
                README_NOT_CHECKED.entrySet().stream().sorted(Map.Entry.comparingByKey()).map(e -> DynamicTest.dynamicTest(e.getKey(),
                        () -> Assumptions.abort("not checked: " + e.getValue()))));
    }

    private void readme(String label, String yaml, String base, List<String> others, Reference reference) {
        try {
            check("readme-" + label + ".yml", yaml, base, others, reference);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** linear with a filter list, no base. */
    private void readmeLinear(String yaml) {
        readme("linear", yaml, null, List.of("llama-math", "llama-code"), (name, t, base, xs) -> {
            double w0 = name.contains("self_attn") ? 0.7 : 0.5;
            double[] out = new double[xs.get(0).length];
            for (int j = 0; j < out.length; j++) {
                out[j] = (w0 * xs.get(0)[j] + 0.5 * xs.get(1)[j]) / (w0 + 0.5);
            }
            return out;
        });
    }

    /** passthrough.py: scale·x, the scale a filter list. */
    private void readmePassthrough(String yaml) {
        readme("passthrough", yaml, null, List.of("llama-chat"), (name, t, base, xs) -> {
            double scale = name.contains("down_proj") ? 0.5 : 1;
            return Arrays.stream(xs.get(0)).map(x -> scale * x).toArray();
        });
    }

    private void readmeTies(String yaml) {
        readme("ties", yaml, "llama-base", List.of("llama-math", "llama-code"),
                (name, t, base, xs) -> ties(base, xs, new double[] {0.5, 0.3}, new double[] {1, 0.7}, true));
    }

    private void readmeBreadcrumbs(String yaml) {
        readme("breadcrumbs", yaml, "llama-base", List.of("llama-math"),
                (name, t, base, xs) -> taskArithmetic(base, breadcrumbs(base, xs, 0.8, 0.01), new double[] {1}, false, false));
    }

    private void readmeBreadcrumbsTies(String yaml) {
        readme("breadcrumbs_ties", yaml, "llama-base", List.of("llama-math", "llama-code"),
                (name, t, base, xs) -> taskArithmetic(base, breadcrumbs(base, xs, 0.9, 0.02), new double[] {1, 1}, true, false));
    }

    private void readmeSlerp(String yaml) {
        readme("slerp", yaml, "llama-base", List.of("llama-chat"), (name, t, base, xs) ->
                slerp(name.contains("self_attn") ? gradient(t, 0, 0.5, 0.3, 0.7, 1) : 0.5, base, xs.get(0)));
    }

    /** model_stock.py over the whole tensor: t = N·cos/(1 + (N − 1)·cos), cos the mean pairwise cosine of the task vectors. */
    private void readmeModelStock(String yaml) {
        readme("model_stock", yaml, "llama-base", List.of("llama-math", "llama-code"), (name, t, base, xs) -> {
            int n = base.length;
            double[] d0 = new double[n];
            double[] d1 = new double[n];
            for (int j = 0; j < n; j++) {
                d0[j] = xs.get(0)[j] - base[j];
                d1[j] = xs.get(1)[j] - base[j];
            }
            double dot = 0;
            for (int j = 0; j < n; j++) {
                dot += d0[j] * d1[j];
            }
            double cos = Math.max(-1, Math.min(1, dot / Math.max(norm(d0) * norm(d1), 1e-6)));
            double tt = 2 * cos / (1 + cos);
            double[] out = new double[n];
            for (int j = 0; j < n; j++) {
                out[j] = tt * (xs.get(0)[j] + xs.get(1)[j]) / 2 + (1 - tt) * base[j];
            }
            return out;
        });
    }

    /** nearswap.py: w = clamp(t / max(|a − b|, 1e-6), 0, 1), w·b + (1 − w)·a, a the base. */
    private void readmeNearswap(String yaml) {
        readme("nearswap", yaml, "llama-base", List.of("llama-chat"), (name, t, base, xs) -> {
            double[] out = new double[base.length];
            for (int j = 0; j < out.length; j++) {
                double w = Math.max(0, Math.min(1, 0.0001 / Math.max(Math.abs(base[j] - xs.get(0)[j]), 1e-6)));
                out[j] = w * xs.get(0)[j] + (1 - w) * base[j];
            }
            return out;
        });
    }

    /** linear: Σ wi·xi / Σ wi, weights 1.0, 0.3, 0.5; no base. */
    private void linear() throws IOException {
        double[] w = {1.0, 0.3, 0.5};
        check("linear.yml", null, List.of("orca_mini_v3_13b", "WizardLM-13B-V1.2", "Platypus2-13B"), (name, t, base, xs) -> {
            double[] out = new double[xs.get(0).length];
            for (int j = 0; j < out.length; j++) {
                double sum = 0;
                for (int i = 0; i < xs.size(); i++) {
                    sum += w[i] * xs.get(i)[j];
                }
                out[j] = sum / (w[0] + w[1] + w[2]);
            }
            return out;
        });
    }

    /** ties with a density gradient, a weight gradient and a weight filter list; normalize. */
    private void ties() throws IOException {
        check("ties.yml", "Llama-2-13B-fp16", List.of("orca_mini_v3_13b", "Platypus2-13B", "WizardMath-13B-V1.0"),
                (name, t, base, xs) -> ties(base, xs,
                        new double[] {gradient(t, 1, 0.7, 0.1), 0.5, 0.33},
                        new double[] {1.0, gradient(t, 0, 0.3, 0.7, 1), name.contains("mlp") ? 0.5 : 0},
                        true));
    }

    /** bio-merge: ties of two models, density and weight 0.5, normalize false. */
    private void bioMerge() throws IOException {
        check("bio-merge.yml", "Mistral-7B-v0.1", List.of("Mistral-7B-Instruct-v0.2", "BioMistral-7B"),
                (name, t, base, xs) -> ties(base, xs, new double[] {0.5, 0.5}, new double[] {0.5, 0.5}, false));
    }

    /**
     * slerp from the base to the other model, t a filter list of layer gradients; the example's
     * one slice of every layer gives the same bytes as the models: form its comment names.
     */
    private void gradientSlerp() throws IOException {
        check("gradient-slerp.yml", "orca_mini_v3_13b", List.of("Platypus2-13B"), (name, t, base, xs) -> {
            double tt = name.contains("self_attn") ? gradient(t, 0, 0.5, 0.3, 0.7, 1)
                    : name.contains("mlp") ? gradient(t, 1, 0.5, 0.7, 0.3, 0) : 0.5;
            return slerp(tt, base, xs.get(0));
        });
        String models = resource("gradient-slerp.yml").replaceAll("(?s)\nslices:.*?\n# or[^\n]*\n", "\n")
                .replace("# models:", "models:").replace("#   - model", "  - model");
        assertTrue(models.contains("models:\n  - model: orca_mini_v3_13b\n  - model: Platypus2-13B\nmerge_method"), models);
        Path cfg = tmp.resolve("gradient-slerp-models.yml");
        Files.writeString(cfg, Configs.absolute(models, tmp));
        Path out = tmp.resolve("out-gradient-slerp-models");
        Run r = Run.of("merge", cfg.toString(), out.toString(), "--quiet");
        assertEquals(0, r.code(), r::toString);
        assertEquals(-1, Files.mismatch(out.resolve("model.safetensors"), tmp.resolve("out-gradient-slerp.yml/model.safetensors")),
                "the slices: and models: forms write the same bytes");
    }

    /**
     * Passthrough of two slices (a SOLAR-style stack): layers [0, 3) of one model then [1, 4) of the
     * other make the output's 6 layers, renumbered from 0; the embeddings come from the first
     * slice's model, the final norm and head from the last's (mergekit's plan.py); config.json
     * says 6 layers.
     */
    private void orcaminiPlaty() throws IOException {
        model("orca_mini_v3_13b", false);
        model("Platypus2-13B", false);
        Path cfg = tmp.resolve("orcamini-platy-44layer.yml");
        Files.writeString(cfg, Configs.absolute(resource("orcamini-platy-44layer.yml"), tmp));
        Path out = tmp.resolve("out-orcamini-platy");
        Run r = Run.of("merge", cfg.toString(), out.toString(), "--quiet");
        assertEquals(0, r.code(), r::toString);
        Map<String, double[]> expected = new java.util.TreeMap<>();
        Map<String, double[]> orca = models.get("orca_mini_v3_13b");
        Map<String, double[]> platy = models.get("Platypus2-13B");
        expected.put("model.embed_tokens.weight", orca.get("model.embed_tokens.weight"));
        expected.put("model.norm.weight", platy.get("model.norm.weight"));
        expected.put("lm_head.weight", platy.get("lm_head.weight"));
        for (String name : orca.keySet()) {
            Matcher m = Pattern.compile("^model\\.layers\\.(\\d+)\\.(.*)").matcher(name);
            if (m.matches()) {
                int l = Integer.parseInt(m.group(1));
                if (l < 3) {
                    expected.put("model.layers." + l + "." + m.group(2), orca.get(name));
                }
                if (l >= 1) {
                    expected.put("model.layers." + (l + 2) + "." + m.group(2), platy.get(name));
                }
            }
        }
        assertEquals(6 * 9 + 3, expected.size());
        try (Checkpoint merged = Checkpoint.open(out)) {
            assertEquals(expected.keySet(), new TreeSet<>(merged.tensors().stream().map(TensorInfo::name).toList()),
                    "the output has every tensor, and only those");
            for (Map.Entry<String, double[]> e : expected.entrySet()) {
                assertEquals(DType.F16, merged.info(e.getKey()).dtype(), e.getKey());
                MemorySegment got = merged.data(e.getKey());
                for (int j = 0; j < e.getValue().length; j++) {
                    assertEquals(e.getValue()[j], Float.float16ToFloat(got.getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, j)),
                            e.getKey() + "[" + j + "] is copied");
                }
            }
        }
        String config = Files.readString(out.resolve("config.json"));
        assertTrue(Pattern.compile("\"num_hidden_layers\"\\s*:\\s*6[,\\s]").matcher(config).find(), config);
        sideFiles(out, DType.F16);
    }

    /** The expected output tensor from the inputs; t is the tensor's layer position as mergekit's plan gives it. */
    interface Reference {
        double[] value(String tensor, double t, double[] base, List<double[]> models);
    }

    /**
     * Writes the models, runs ugm on the example, and compares every output tensor with {@code reference}.
     *
     * @param base   the base model's folder, or null
     * @param others the models besides the base, in the config's order
     */
    private void check(String example, String base, List<String> others, Reference reference) throws IOException {
        check(example, resource(example), base, others, reference);
    }

    /** As above, for the config {@code yaml}; the output dtype is the config's {@code dtype} (float16, bfloat16), else float32. */
    private void check(String example, String yaml, String base, List<String> others, Reference reference) throws IOException {
        DType dtype = yaml.contains("dtype: float16") ? DType.F16 : yaml.contains("dtype: bfloat16") ? DType.BF16 : DType.F32;
        List<String> all = new ArrayList<>(others);
        if (base != null) {
            all.add(base);
        }
        all.forEach(m -> model(m, dtype == DType.BF16));
        Path cfg = tmp.resolve(example);
        Files.writeString(cfg, Configs.absolute(yaml, tmp));
        Path out = tmp.resolve("out-" + example);
        Run r = Run.of("merge", cfg.toString(), out.toString(), "--quiet");
        assertEquals(0, r.code(), r::toString);
        int checked = 0;
        List<String> wrong = new ArrayList<>();
        try (Checkpoint merged = Checkpoint.open(out)) {
            assertEquals(models.get(all.get(0)).keySet(), new TreeSet<>(merged.tensors().stream().map(TensorInfo::name).toList()),
                    "the output has every tensor, and only those");
            for (String name : models.get(all.get(0)).keySet()) {
                assertEquals(dtype, merged.info(name).dtype(), name + ": the output dtype");
                double t = position(name);
                double[] expected = reference.value(name, t, base == null ? null : models.get(base).get(name),
                        others.stream().map(m -> models.get(m).get(name)).toList());
                MemorySegment got = merged.data(name);
                for (int j = 0; j < expected.length; j++) {
                    double g = switch (dtype) {
                        case F16 -> Float.float16ToFloat(got.getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, j));
                        case BF16 -> Float.intBitsToFloat(got.getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, j) << 16);
                        default -> got.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, j);
                    };
                    double e = expected[j];
                    double tolerance = ulp(e, dtype) + 1e-5;
                    if (!(Math.abs(g - e) <= tolerance)) {
                        wrong.add(name + "[" + j + "] is " + g + ", mergekit's formula gives " + e + " (t = " + t + ")");
                        break;
                    }
                    checked++;
                }
            }
        }
        assertEquals(List.of(), wrong, example + ": the tensors that differ from mergekit's");
        assertTrue(checked > 6000, "elements checked: " + checked);
        sideFiles(out, dtype);
    }

    /** mergekit writes the base's config.json (else a model's) with torch_dtype set to the dtype. */
    private static void sideFiles(Path out, DType dtype) throws IOException {
        Path config = out.resolve("config.json");
        assertTrue(Pattern.compile("\"torch_dtype\"\\s*:\\s*\"" + dtype.torchName() + "\"").matcher(Files.readString(config)).find(),
                Files.readString(config));
    }

    // ---- mergekit's formulas, in double precision ----

    /** mergekit's layer position: layer i of N at i/(N − 1); the embeddings at 0; after the last layer at 0 (plan.py). */
    private static double position(String tensor) {
        Matcher m = Pattern.compile("^model\\.layers\\.(\\d+)\\.").matcher(tensor);
        if (m.find()) {
            return Integer.parseInt(m.group(1)) / (double) (LAYERS - 1);
        }
        return 0;
    }

    /** config.py's evaluate_setting for a list of numbers: linear between the values at floor(t·(n − 1)) and the next. */
    private static double gradient(double t, double... values) {
        double scaled = t * (values.length - 1);
        int i0 = (int) scaled;
        int i1 = Math.min(values.length - 1, i0 + 1);
        double frac = scaled - i0;
        return (1 - frac) * values[i0] + frac * values[i1];
    }

    /**
     * generalized_task_arithmetic.py for ties: task vectors sparsified by magnitude (the int(density·N)
     * largest |Δ|, ties as {@link #keepRanks}), then {@link #taskArithmetic} with sign election.
     */
    private static double[] ties(double[] base, List<double[]> xs, double[] density, double[] weight, boolean normalize) {
        List<double[]> deltas = new ArrayList<>();
        for (int i = 0; i < xs.size(); i++) {
            double[] delta = delta(base, xs.get(i));
            if (density[i] < 1) {
                int k = (int) (density[i] * delta.length);
                assertTrue(k > 0, "mergekit keeps at least one element");
                keepRanks(delta, delta.length - k, delta.length);
            }
            deltas.add(delta);
        }
        return taskArithmetic(base, deltas, weight, true, normalize);
    }

    private static double[] delta(double[] base, double[] x) {
        double[] d = new double[base.length];
        for (int j = 0; j < d.length; j++) {
            d[j] = x[j] - base[j];
        }
        return d;
    }

    /**
     * Zeroes every element of {@code delta} outside the ascending |Δ| ranks [from, to); at equal |Δ|
     * the lower index counts as larger (torch's sort leaves that order open; ugm's documented rule).
     */
    private static void keepRanks(double[] delta, int from, int to) {
        Integer[] ascending = IntStream.range(0, delta.length).boxed()
                .sorted(Comparator.comparingDouble((Integer j) -> Math.abs(delta[j])).thenComparing(j -> -j)).toArray(Integer[]::new);
        boolean[] keep = new boolean[delta.length];
        for (int r = from; r < to; r++) {
            keep[ascending[r]] = true;
        }
        for (int j = 0; j < delta.length; j++) {
            delta[j] = keep[j] ? delta[j] : 0;
        }
    }

    /**
     * sparsify.py's magnitude_outliers, density and gamma for every model: ranks [n_bot, N − n_top)
     * kept. Where n_top = 0 mergekit's slice {@code [n_bot:-0]} keeps nothing; ugm keeps [n_bot, N) (a
     * deliberate difference, in the README), and so does this reference.
     */
    private static List<double[]> breadcrumbs(double[] base, List<double[]> xs, double density, double gamma) {
        List<double[]> deltas = new ArrayList<>();
        for (double[] x : xs) {
            double[] delta = delta(base, x);
            int n = delta.length;
            int target = (int) (density * n);
            int top = (int) (gamma * n);
            int bottom = n - target - top;
            if (bottom < 0) {
                top += bottom;
                bottom = 0;
            }
            keepRanks(delta, bottom, n - top);
            deltas.add(delta);
        }
        return deltas;
    }

    /**
     * generalized_task_arithmetic.py after sparsification: Wi = wi·Δi; with sign election the sign of
     * Σ Wi (≥ 0: +1) and only the Wi of that sign, divided (normalize) by their weights' sum (0: 1);
     * without it all, divided by Σ wi (|Σ wi| < 1e-8: 1); lambda 1.
     */
    private static double[] taskArithmetic(double[] base, List<double[]> deltas, double[] weight, boolean signElection,
                                           boolean normalize) {
        double[] out = new double[base.length];
        for (int j = 0; j < out.length; j++) {
            double sum = 0;
            for (int i = 0; i < deltas.size(); i++) {
                sum += weight[i] * deltas.get(i)[j];
            }
            double sign = sum >= 0 ? 1 : -1;
            double mixed = 0;
            double divisor = 0;
            for (int i = 0; i < deltas.size(); i++) {
                double w = weight[i] * deltas.get(i)[j];
                if (!signElection || Math.signum(w) == sign) {
                    mixed += w;
                    divisor += weight[i];
                }
            }
            boolean zero = signElection ? divisor == 0 : Math.abs(divisor) < 1e-8;
            out[j] = base[j] + (normalize ? mixed / (zero ? 1 : divisor) : mixed);
        }
        return out;
    }

    /** slerp.py: on the whole tensor; directions with norms above 1e-8; the lerp when |cos| > 0.9995. */
    private static double[] slerp(double t, double[] v0, double[] v1) {
        double n0 = norm(v0);
        double n1 = norm(v1);
        double dot = 0;
        for (int j = 0; j < v0.length; j++) {
            dot += (n0 > 1e-8 ? v0[j] / n0 : v0[j]) * (n1 > 1e-8 ? v1[j] / n1 : v1[j]);
        }
        double s0;
        double s1;
        if (Math.abs(dot) > 0.9995) {
            s0 = 1 - t;
            s1 = t;
        } else {
            double theta = Math.acos(dot);
            s0 = Math.sin(theta - theta * t) / Math.sin(theta);
            s1 = Math.sin(theta * t) / Math.sin(theta);
        }
        double[] out = new double[v0.length];
        for (int j = 0; j < out.length; j++) {
            out[j] = s0 * v0[j] + s1 * v1[j];
        }
        return out;
    }

    /**
     * multislerp.py on the whole tensor: vi = xi − base, weights divided by their sum, ui = vi/(‖vi‖ + eps),
     * m the normalised Σ wi·ui, the tangent Σ wi·(ui − (ui·m)·m) mapped back at m by the exponential map,
     * scaled by Σ wi·‖vi‖, plus the base; eps 1e-8. (The fallback for a mean below eps is not reached here.)
     */
    private static double[] multislerp(double[] base, List<double[]> xs, double[] weight) {
        double eps = 1e-8;
        int n = base.length;
        double wsum = Arrays.stream(weight).sum();
        double[] mean = new double[n];
        double[][] units = new double[xs.size()][];
        double avgNorm = 0;
        for (int i = 0; i < xs.size(); i++) {
            double[] v = delta(base, xs.get(i));
            double nv = norm(v);
            avgNorm += weight[i] / wsum * nv;
            units[i] = new double[n];
            for (int j = 0; j < n; j++) {
                units[i][j] = v[j] / (nv + eps);
                mean[j] += weight[i] / wsum * units[i][j];
            }
        }
        double meanNorm = norm(mean);
        assertTrue(meanNorm >= eps, "the models' directions do not cancel out");
        for (int j = 0; j < n; j++) {
            mean[j] /= meanNorm;
        }
        double[] tangent = new double[n];
        for (int i = 0; i < xs.size(); i++) {
            double dot = dot(units[i], mean);
            for (int j = 0; j < n; j++) {
                tangent[j] += weight[i] / wsum * (units[i][j] - dot * mean[j]);
            }
        }
        double tangentNorm = norm(tangent) + eps;
        double[] out = new double[n];
        for (int j = 0; j < n; j++) {
            out[j] = base[j] + avgNorm * (mean[j] * Math.cos(tangentNorm) + tangent[j] * Math.sin(tangentNorm) / tangentNorm);
        }
        return out;
    }

    /**
     * nuslerp.py with nuslerp_flatten false and nuslerp_row_wise false, with a base: per vector along
     * the last dimension (a 1-D tensor is one), vi = xi − base, cos = v1·v2/(max(‖v1‖, 1e-7)·max(‖v2‖, 1e-7))
     * clamped to [−1, 1], θ = acos cos, (sin((1 − t)θ)·v1 + sin(tθ)·v2)/sin θ, or the lerp where
     * |sin θ| < 1e-8; plus the base.
     */
    private static double[] nuslerpRows(String tensor, double t, double[] base, double[] x1, double[] x2) {
        long[] shape = llamaTensors().get(tensor);
        int cols = (int) shape[shape.length - 1];
        double[] v1 = delta(base, x1);
        double[] v2 = delta(base, x2);
        double[] out = new double[base.length];
        for (int r = 0; r < base.length; r += cols) {
            double[] a = Arrays.copyOfRange(v1, r, r + cols);
            double[] b = Arrays.copyOfRange(v2, r, r + cols);
            double cos = Math.max(-1, Math.min(1, dot(a, b) / (Math.max(norm(a), 1e-7) * Math.max(norm(b), 1e-7))));
            double theta = Math.acos(cos);
            double sin = Math.sin(theta);
            for (int c = 0; c < cols; c++) {
                double merged = Math.abs(sin) < 1e-8 ? (1 - t) * a[c] + t * b[c]
                        : (Math.sin((1 - t) * theta) * a[c] + Math.sin(t * theta) * b[c]) / sin;
                out[r + c] = base[r + c] + merged;
            }
        }
        return out;
    }

    /**
     * karcher.py's karcher_merge_tensors on the whole tensor, every model of weight 1/N: ui = xi/‖xi‖;
     * u from the normalised mean of the ui (those with ‖xi‖ > tol); at most maxIter steps
     * u ← cos‖T‖·u + sin‖T‖·T/‖T‖ (then normalised), T = Σ (1/K)·θi/sin θi·(ui − cos θi·u) over the ui at
     * an angle θi ≥ tol, stopping when ‖T‖ < tol; the result (Σ ‖xi‖/N)·u. mergekit also averages a
     * base_model in; ugm takes no base (documented), and this example names none.
     *
     * <p>The default tolerance holds: ugm runs the same iteration in double (on coefficients over the
     * models' Gram matrix), so it stops at the same step; where it stopped one step apart the results
     * would differ by about ‖T‖ < tol = 1e-6 per unit of norm, still within 1e-5.
     */
    private static double[] karcher(List<double[]> xs, int maxIter, double tol) {
        int n = xs.get(0).length;
        List<double[]> units = new ArrayList<>();
        double scale = 0;
        for (double[] x : xs) {
            double nx = norm(x);
            scale += nx / xs.size();
            if (nx > tol) {
                units.add(Arrays.stream(x).map(v -> v / nx).toArray());
            }
        }
        assertTrue(units.size() == xs.size(), "every model is valid");
        double a = 1.0 / units.size();
        double[] u = new double[n];
        for (double[] ui : units) {
            for (int j = 0; j < n; j++) {
                u[j] += a * ui[j];
            }
        }
        double nu = norm(u);
        for (int j = 0; j < n; j++) {
            u[j] = nu < tol ? units.get(0)[j] : u[j] / nu;
        }
        for (int iter = 0; iter < maxIter; iter++) {
            double[] tangent = new double[n];
            for (double[] ui : units) {
                double cos = Math.max(-1, Math.min(1, dot(u, ui)));
                double theta = Math.acos(cos);
                if (theta < tol) {
                    continue;
                }
                for (int j = 0; j < n; j++) {
                    tangent[j] += a * (theta / Math.sin(theta)) * (ui[j] - cos * u[j]);
                }
            }
            double nt = norm(tangent);
            if (nt < tol) {
                break;
            }
            for (int j = 0; j < n; j++) {
                u[j] = Math.cos(nt) * u[j] + Math.sin(nt) * tangent[j] / nt;
            }
            double un = norm(u);
            if (un > tol) {
                for (int j = 0; j < n; j++) {
                    u[j] /= un;
                }
            }
        }
        double s = scale;
        return Arrays.stream(u).map(v -> s * v).toArray();
    }

    /**
     * ram.py: τi = xi − base (float32), a change where |τi| > eps (eps as float32, as torch compares),
     * c the changes at an element; base + Σ τi·(c = 1 ? λi : 1/c) over the changes; λi = 1 for ram, for
     * ramplus_tl 1 + r·clamp(shared_i/max(unique_i, eps), 0, alpha), shared_i (unique_i) the elements
     * of the tensor model i changes with others (alone).
     */
    private static double[] ram(double[] base, List<double[]> xs, float eps, boolean plus, double r, double alpha) {
        int n = base.length;
        int models = xs.size();
        int[] c = new int[n];
        for (double[] x : xs) {
            for (int j = 0; j < n; j++) {
                c[j] += Math.abs((float) (x[j] - base[j])) > eps ? 1 : 0;
            }
        }
        double[] out = base.clone();
        for (int i = 0; i < models; i++) {
            double[] x = xs.get(i);
            int shared = 0;
            int unique = 0;
            for (int j = 0; j < n; j++) {
                if (Math.abs((float) (x[j] - base[j])) > eps) {
                    shared += c[j] > 1 ? 1 : 0;
                    unique += c[j] == 1 ? 1 : 0;
                }
            }
            double lambda = plus ? 1 + r * Math.min(Math.max(shared / Math.max(unique, eps), 0), alpha) : 1;
            for (int j = 0; j < n; j++) {
                double tau = (float) (x[j] - base[j]);
                if (Math.abs(tau) > eps) {
                    out[j] += c[j] == 1 ? lambda * tau : tau / c[j];
                }
            }
        }
        return out;
    }

    /**
     * sce.py (with generalized_task_arithmetic.py's get_mask, method "sum"): Δi = xi − base; select:
     * the int(topk·Z) elements of largest population variance of the Δi (Z those where it is not 0),
     * every Δi 0 elsewhere; ci = mean(Δi²) over the tensor, divided by Σ ci (below 1e-6: 1/M each);
     * erase: per element the sign of Σ Δi (≥ 0: +1), and base + Σ' ci·Δi / max(Σ' ci, 1e-6) over the Δi
     * of that sign. The variances are ranked rounded to float and at equal values the lower index counts
     * as larger (ugm's documented rule; torch's topk leaves the order open).
     */
    private static double[] sce(double[] base, List<double[]> xs, double topk) {
        int n = base.length;
        int models = xs.size();
        List<double[]> deltas = xs.stream().map(x -> delta(base, x)).toList();
        double[] variance = new double[n];
        for (int j = 0; j < n; j++) {
            double mean = 0;
            for (double[] d : deltas) {
                mean += d[j] / models;
            }
            double var = 0;
            for (double[] d : deltas) {
                var += (d[j] - mean) * (d[j] - mean) / models;
            }
            variance[j] = (float) var;
        }
        int nonzero = (int) Arrays.stream(variance).filter(v -> v != 0).count();
        keepRanks(variance, n - (int) (topk * nonzero), n);
        for (double[] d : deltas) {
            for (int j = 0; j < n; j++) {
                d[j] = variance[j] != 0 ? d[j] : 0;
            }
        }
        double[] c = new double[models];
        double csum = 0;
        for (int i = 0; i < models; i++) {
            c[i] = dot(deltas.get(i), deltas.get(i)) / n;
            csum += c[i];
        }
        for (int i = 0; i < models; i++) {
            c[i] = Math.abs(csum) < 1e-6 ? 1.0 / models : c[i] / csum;
        }
        double[] out = new double[n];
        for (int j = 0; j < n; j++) {
            double sum = 0;
            for (double[] d : deltas) {
                sum += d[j];
            }
            double sign = sum >= 0 ? 1 : -1;
            double mixed = 0;
            double divisor = 0;
            for (int i = 0; i < models; i++) {
                if (Math.signum(deltas.get(i)[j]) == sign) {
                    mixed += c[i] * deltas.get(i)[j];
                    divisor += c[i];
                }
            }
            out[j] = base[j] + mixed / Math.max(divisor, 1e-6);
        }
        return out;
    }

    /**
     * arcee_fusion.py with the base b and one model x: per row (the last dimension; a 1-D tensor is
     * one), p = softmax(x) + 1e-8, q = softmax(b) + 1e-8, KL = Σ p·log(p/q); importance |x − b|·KL;
     * Qk the ascending importances' value at index (long) (k·(N − 1)), threshold Q0.5 + 1.5·(Q0.75 − Q0.25);
     * x where the importance is at least the threshold, else b. mergekit takes the quantiles of a random
     * sample of a million elements where a tensor has more (ugm exactly over the tensor, documented);
     * these tensors are far smaller, so mergekit's quantiles are exact here too.
     */
    private static double[] arceeFusion(String tensor, double[] b, double[] x) {
        long[] shape = llamaTensors().get(tensor);
        int cols = (int) shape[shape.length - 1];
        int n = b.length;
        double[] importance = new double[n];
        for (int r = 0; r < n; r += cols) {
            double[] p = softmax(x, r, cols);
            double[] q = softmax(b, r, cols);
            double kl = 0;
            for (int c = 0; c < cols; c++) {
                kl += (p[c] + 1e-8) * Math.log((p[c] + 1e-8) / (q[c] + 1e-8));
            }
            for (int c = 0; c < cols; c++) {
                importance[r + c] = Math.abs(x[r + c] - b[r + c]) * kl;
            }
        }
        double[] sorted = importance.clone();
        Arrays.sort(sorted);
        double threshold = sorted[(int) (0.5 * (n - 1))] + 1.5 * (sorted[(int) (0.75 * (n - 1))] - sorted[(int) (0.25 * (n - 1))]);
        double[] out = new double[n];
        for (int j = 0; j < n; j++) {
            out[j] = importance[j] >= threshold ? x[j] : b[j];
        }
        return out;
    }

    private static double[] softmax(double[] v, int from, int length) {
        double max = Arrays.stream(v, from, from + length).max().orElseThrow();
        double[] e = new double[length];
        double sum = 0;
        for (int c = 0; c < length; c++) {
            e[c] = Math.exp(v[from + c] - max);
            sum += e[c];
        }
        for (int c = 0; c < length; c++) {
            e[c] /= sum;
        }
        return e;
    }

    private static double dot(double[] a, double[] b) {
        double s = 0;
        for (int j = 0; j < a.length; j++) {
            s += a[j] * b[j];
        }
        return s;
    }

    private static double norm(double[] v) {
        double s = 0;
        for (double x : v) {
            s += x * x;
        }
        return Math.sqrt(s);
    }

    /** The spacing of {@code dtype}'s values at |x| (float16: 2^-24 below the normal range; float32: 0, as exact here). */
    private static double ulp(double x, DType dtype) {
        int exponent = Math.getExponent((float) Math.abs(x));
        return switch (dtype) {
            case F16 -> Math.scalb(1.0, Math.max(exponent, -14) - 10);
            case BF16 -> Math.scalb(1.0, Math.max(exponent, -126) - 7);
            default -> 0;
        };
    }

    // ---- the models ----

    /** Llama's tensors for {@link #LAYERS} layers, with their shapes. */
    static Map<String, long[]> llamaTensors() {
        Map<String, long[]> t = new LinkedHashMap<>();
        t.put("model.embed_tokens.weight", new long[] {VOCAB, HIDDEN});
        for (int l = 0; l < LAYERS; l++) {
            String p = "model.layers." + l + ".";
            for (String proj : List.of("q_proj", "k_proj", "v_proj", "o_proj")) {
                t.put(p + "self_attn." + proj + ".weight", new long[] {HIDDEN, HIDDEN});
            }
            t.put(p + "mlp.gate_proj.weight", new long[] {INTERMEDIATE, HIDDEN});
            t.put(p + "mlp.up_proj.weight", new long[] {INTERMEDIATE, HIDDEN});
            t.put(p + "mlp.down_proj.weight", new long[] {HIDDEN, INTERMEDIATE});
            t.put(p + "input_layernorm.weight", new long[] {HIDDEN});
            t.put(p + "post_attention_layernorm.weight", new long[] {HIDDEN});
        }
        t.put("model.norm.weight", new long[] {HIDDEN});
        t.put("lm_head.weight", new long[] {VOCAB, HIDDEN});
        return t;
    }

    /**
     * Writes the model folder {@code name} (once): a shared pretrained value in [−1, 1] plus the
     * model's own change in [−0.25, 0.25], rounded to float16 (to bfloat16 if {@code bfloat16}),
     * seeded by the name; and a config.json.
     */
    private void model(String name, boolean bfloat16) {
        if (models.containsKey(name)) {
            return;
        }
        if (name.startsWith("agent-")) {
            agent(name, bfloat16);
            return;
        }
        Random shared = new Random(2024);
        Random own = new Random(name.hashCode());
        Map<String, double[]> values = new java.util.TreeMap<>();
        Checkpoints c = new Checkpoints();
        llamaTensors().forEach((tensor, shape) -> {
            int n = (int) (shape.length == 1 ? shape[0] : shape[0] * shape[1]);
            float[] v = new float[n];
            double[] d = new double[n];
            for (int j = 0; j < n; j++) {
                float x = (float) (2 * shared.nextDouble() - 1 + 0.5 * own.nextDouble() - 0.25);
                v[j] = bfloat16 ? bfloat16(x) : Float.float16ToFloat(Float.floatToFloat16(x));
                d[j] = v[j];
            }
            c.put(tensor, shape, v);
            values.put(tensor, d);
        });
        Path dir = c.write(tmp.resolve(name));
        try {
            Files.writeString(dir.resolve("config.json"), """
                    {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": %d,
                     "intermediate_size": %d, "num_hidden_layers": %d, "num_attention_heads": 2, "vocab_size": %d,
                     "torch_dtype": "float32"}
                    """.formatted(HIDDEN, INTERMEDIATE, LAYERS, VOCAB));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        models.put(name, values);
    }

    /**
     * An RL fine-tune of {@code llama-base} (ram's case): each tensor changes only some elements (a
     * tenth to three tenths of them, drawn per tensor), by up to 0.25, rounded as the base; the others
     * are the base's values exactly.
     */
    private void agent(String name, boolean bfloat16) {
        model("llama-base", bfloat16);
        Map<String, double[]> base = models.get("llama-base");
        Random own = new Random(name.hashCode());
        Map<String, double[]> values = new java.util.TreeMap<>();
        Checkpoints c = new Checkpoints();
        llamaTensors().forEach((tensor, shape) -> {
            double[] b = base.get(tensor);
            double changed = 0.1 + 0.1 * own.nextInt(3);
            float[] v = new float[b.length];
            double[] d = new double[b.length];
            for (int j = 0; j < b.length; j++) {
                float x = (float) (own.nextDouble() < changed ? b[j] + 0.5 * own.nextDouble() - 0.25 : b[j]);
                v[j] = bfloat16 ? bfloat16(x) : Float.float16ToFloat(Float.floatToFloat16(x));
                d[j] = v[j];
            }
            c.put(tensor, shape, v);
            values.put(tensor, d);
        });
        Path dir = c.write(tmp.resolve(name));
        try {
            Files.copy(tmp.resolve("llama-base/config.json"), dir.resolve("config.json"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        models.put(name, values);
    }

    /** x rounded to bfloat16 (to nearest, ties to even; the values here are finite). */
    private static float bfloat16(float x) {
        int bits = Float.floatToRawIntBits(x);
        return Float.intBitsToFloat((bits + 0x7FFF + ((bits >>> 16) & 1)) & 0xFFFF0000);
    }

    private static String resource(String name) throws IOException {
        try {
            return Files.readString(Path.of(MergekitExamplesTest.class.getResource("/mergekit-examples/" + name).toURI()));
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }
}
