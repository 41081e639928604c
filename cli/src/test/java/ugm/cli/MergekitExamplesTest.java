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
 * evaluate_setting; plan.py's layer positions) evaluated here in double precision.
 *
 * <p>The inputs are random values on the float16 grid, so mergekit's cast of its inputs to the
 * config's {@code dtype: float16} changes nothing; mergekit then computes in float16, ugm in float32
 * (a documented difference), and both write float16. The tolerance is one float16 unit in the last
 * place of the expected value (the output's rounding, when ugm's float32 result lies on the other
 * side of a rounding boundary) plus 1e-5 for float32 arithmetic on values of order 1.
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
                case "arcee_fusion.yml" -> Assumptions.abort("not compared here yet: ArceeFusionTest checks mergekit's steps");
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
            Map.entry("multislerp", "not covered here yet (MultislerpTest checks mergekit's cases)"),
            Map.entry("passthrough", "not covered here yet (PassthroughTest checks mergekit's steps)"),
            Map.entry("nuslerp", "not covered here yet (NuslerpTest checks mergekit's steps)"),
            Map.entry("karcher", "not covered here yet (KarcherTest checks mergekit's steps)"),
            Map.entry("sce", "not covered here yet (SceTest checks mergekit's steps)"),
            Map.entry("arcee_fusion", "not covered here yet (ArceeFusionTest checks mergekit's steps)"),
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
        Set<String> listed = new TreeSet<>(checks.keySet());
        listed.addAll(README_NOT_CHECKED.keySet());
        assertEquals(new TreeSet<>(examples.keySet()), listed, "every README example is checked or listed as not checked");
        return Stream.concat(checks.entrySet().stream().map(e -> DynamicTest.dynamicTest(e.getKey(), e.getValue()::run)),
                README_NOT_CHECKED.entrySet().stream().sorted(Map.Entry.comparingByKey()).map(e -> DynamicTest.dynamicTest(e.getKey(),
                        () -> Assumptions.abort("not checked: " + e.getValue()))));
    }

    private void readme(String label, String yaml, String base, List<String> others, Reference reference) {
        try {
            check("readme-" + label + ".yml", yaml, base, others, yaml.contains("dtype: float16") ? DType.F16 : DType.F32, reference);
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
        Files.writeString(cfg, models);
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
        model("orca_mini_v3_13b");
        model("Platypus2-13B");
        Path cfg = tmp.resolve("orcamini-platy-44layer.yml");
        Files.writeString(cfg, resource("orcamini-platy-44layer.yml"));
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
        sideFiles(out, null, DType.F16);
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
        check(example, resource(example), base, others, DType.F16, reference);
    }

    /** As above, for the config {@code yaml} whose output dtype is {@code dtype}. */
    private void check(String example, String yaml, String base, List<String> others, DType dtype, Reference reference)
            throws IOException {
        List<String> all = new ArrayList<>(others);
        if (base != null) {
            all.add(base);
        }
        all.forEach(this::model);
        Path cfg = tmp.resolve(example);
        Files.writeString(cfg, yaml);
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
                    double g = dtype == DType.F16 ? Float.float16ToFloat(got.getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, j))
                            : got.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, j);
                    double e = expected[j];
                    double tolerance = (dtype == DType.F16 ? ulp16(e) : 0) + 1e-5;
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
        sideFiles(out, base, dtype);
    }

    /** mergekit writes the base's config.json (else a model's) with torch_dtype set to the dtype. */
    private static void sideFiles(Path out, String base, DType dtype) throws IOException {
        Path config = out.resolve("config.json");
        String torchDtype = dtype == DType.F16 ? "float16" : "float32";
        assertTrue(Pattern.compile("\"torch_dtype\"\\s*:\\s*\"" + torchDtype + "\"").matcher(Files.readString(config)).find(),
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

    private static double norm(double[] v) {
        double s = 0;
        for (double x : v) {
            s += x * x;
        }
        return Math.sqrt(s);
    }

    /** The spacing of float16 values at |x| (2^-24 below the normal range). */
    private static double ulp16(double x) {
        return Math.scalb(1.0, Math.max(Math.getExponent((float) Math.abs(x)), -14) - 10);
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
     * model's own change in [−0.25, 0.25], rounded to float16, seeded by the name; and a config.json.
     */
    private void model(String name) {
        if (models.containsKey(name)) {
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
                v[j] = Float.float16ToFloat(Float.floatToFloat16((float) (2 * shared.nextDouble() - 1 + 0.5 * own.nextDouble() - 0.25)));
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

    private static String resource(String name) throws IOException {
        try {
            return Files.readString(Path.of(MergekitExamplesTest.class.getResource("/mergekit-examples/" + name).toURI()));
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }
}
