package ugm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import ugm.core.TensorInfo;
import ugm.io.Checkpoint;
import ugm.job.config.ConfigParser;
import ugm.job.config.MergeConfig;

/**
 * {@code slices:} configs: mergekit's parameter resolution per slice (the source's own, the
 * slice's, the global one), layer gradients over each slice's own layers, the non-layer tensors
 * from the first slice (embeddings) and the last (the rest), config.json's layer count and
 * per-layer lists; and every mistake one line with exit code 2 and no output.
 */
class SlicesTest {
    static final int LAYERS = 4;
    static final List<String> PARTS = List.of("self_attn.w", "mlp.w");

    @TempDir
    Path tmp;

    @BeforeEach
    void models() throws IOException {
        model("a", 0);
        model("b", 100);
        new Checkpoints().put("w1", 1, 2).put("w2", 3).write(tmp.resolve("flat"));
    }

    /** Element e of {@code tensor} in the model with offset {@code o}: distinct everywhere, exact in float32. */
    private static float value(int o, String tensor, int e) {
        return o + (tensor.hashCode() & 0xff) / 4f + e;
    }

    private void model(String name, int o) throws IOException {
        Checkpoints c = new Checkpoints();
        for (String t : names(LAYERS)) {
            c.put(t, value(o, t, 0), value(o, t, 1), value(o, t, 2));
        }
        Path dir = c.write(tmp.resolve(name));
        Files.writeString(dir.resolve("config.json"), """
                {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "num_hidden_layers": 4,
                 "layer_types": ["%s0", "%s1", "%s2", "%s3"], "torch_dtype": "float32"}
                """.formatted(name, name, name, name));
    }

    private static List<String> names(int layers) {
        List<String> n = new java.util.ArrayList<>(List.of("model.embed_tokens.weight"));
        for (int l = 0; l < layers; l++) {
            for (String p : PARTS) {
                n.add("model.layers." + l + "." + p);
            }
        }
        n.addAll(List.of("model.norm.weight", "lm_head.weight"));
        return n;
    }

    private Run merge(String yaml) throws IOException {
        Path cfg = tmp.resolve("merge.yml");
        Files.writeString(cfg, Configs.absolute(yaml, tmp));
        Run r = Run.of("merge", cfg.toString(), tmp.resolve("out").toString(), "--quiet");
        assertFalse(r.err().contains("\tat "), () -> "no stack trace: " + r);
        return r;
    }

    @Test
    void eachSliceResolvesItsParametersOverItsOwnLayers() throws IOException {
        Run r = merge("""
                merge_method: linear
                slices:
                  - sources:
                      - model: a
                        layer_range: [0, 2]
                        parameters: {weight: 1}
                      - model: b
                        layer_range: [0, 2]
                        parameters: {weight: [0, 1]}
                  - sources:
                      - model: a
                        layer_range: [1, 4]
                      - model: b
                        layer_range: [1, 4]
                        parameters: {weight: [{filter: layers.3., value: 5}, {value: 2}]}
                    parameters: {weight: [1, 3]}
                parameters: {weight: 7}
                """);
        assertEquals(0, r.code(), r::toString);
        // name -> {source layer (-1: none), weight of a, weight of b}, from mergekit's resolution by hand:
        // slice 0: t = 0, 1 over output layers 0, 1; slice 1: t = 0, 0.5, 1 over output layers 2, 3, 4;
        // b's filter names its own layer 3 (output layer 4), as mergekit matches a source's parameters.
        Map<String, double[]> expected = new TreeMap<>();
        expected.put("model.embed_tokens.weight", new double[] {-1, 1, 0}); // slice 0 at t = 0
        expected.put("model.norm.weight", new double[] {-1, 1, 2}); // slice 1 at t = 0
        expected.put("lm_head.weight", new double[] {-1, 1, 2});
        double[][] layers = {{0, 1, 0}, {1, 1, 1}, {1, 1, 2}, {2, 2, 2}, {3, 3, 5}};
        for (int l = 0; l < layers.length; l++) {
            for (String p : PARTS) {
                expected.put("model.layers." + l + "." + p, layers[l]);
            }
        }
        Path out = tmp.resolve("out");
        try (Checkpoint merged = Checkpoint.open(out)) {
            assertEquals(expected.keySet(), new TreeSet<>(merged.tensors().stream().map(TensorInfo::name).toList()));
            for (Map.Entry<String, double[]> e : expected.entrySet()) {
                String name = e.getKey();
                double[] x = e.getValue();
                String source = x[0] < 0 ? name : name.replaceFirst("layers\\.\\d+\\.", "layers." + (int) x[0] + ".");
                MemorySegment got = merged.data(name);
                for (int j = 0; j < 3; j++) {
                    double want = (x[1] * value(0, source, j) + x[2] * value(100, source, j)) / (x[1] + x[2]);
                    assertEquals(want, got.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, j), 1e-4, name + "[" + j + "]");
                }
            }
        }
        JsonNode config = new ObjectMapper().readTree(out.resolve("config.json").toFile());
        assertEquals(5, config.get("num_hidden_layers").asInt());
        assertEquals("[\"a0\",\"a1\",\"a1\",\"a2\",\"a3\"]", config.get("layer_types").toString(),
                "the donor's per-layer list follows the output's layers (from the first source of each slice)");
        MergeConfig given = ConfigParser.read(tmp.resolve("merge.yml"));
        MergeConfig recorded = ConfigParser.read(out.resolve("ugm_config.yml"));
        assertEquals(given.slices(), recorded.slices(), "ugm_config.yml records the slices");
        assertEquals(given.parameters(), recorded.parameters());
    }

    /**
     * Gradient matching over slices reads each source's Fisher at the source's layers: every
     * output tensor has the bytes of the models: merge's tensor at its source layer.
     */
    @Test
    void gradientMatchingSlicesReadEachSourcesFisherAtItsLayers() throws IOException {
        model("c", 50);
        for (String m : List.of("a", "b", "c")) {
            Checkpoints h = new Checkpoints();
            int o = m.charAt(0) * 7;
            for (String t : names(LAYERS)) {
                h.put(t, 0.5f + value(o, t, 0) / 1000, 0.5f + value(o, t, 2) / 1000, 0.5f + value(o, t, 1) / 1000);
            }
            h.write(tmp.resolve(m).resolve("hessian"));
        }
        Path whole = tmp.resolve("whole.yml");
        Files.writeString(whole, Configs.absolute("merge_method: gradient_matching\nbase_model: c\nmodels:\n  - model: a\n  - model: b\n", tmp));
        Run r = Run.of("merge", whole.toString(), tmp.resolve("whole").toString(), "--quiet");
        assertEquals(0, r.code(), r::toString);
        String sources = "      - model: c\n        layer_range: [%1$d, %2$d]\n      - model: a\n        layer_range: [%1$d, %2$d]\n"
                + "      - model: b\n        layer_range: [%1$d, %2$d]\n";
        r = merge("merge_method: gradient_matching\nbase_model: c\nslices:\n  - sources:\n" + sources.formatted(0, 2)
                + "  - sources:\n" + sources.formatted(1, 4));
        assertEquals(0, r.code(), r::toString);
        int[] sourceLayer = {0, 1, 1, 2, 3};
        try (Checkpoint stacked = Checkpoint.open(tmp.resolve("out")); Checkpoint models = Checkpoint.open(tmp.resolve("whole"))) {
            assertEquals(names(5).size(), stacked.tensors().size());
            for (String name : names(5)) {
                String from = name.matches("model\\.layers\\.\\d+\\..*") ? name.replaceFirst("layers\\.(\\d+)\\.",
                        "layers." + sourceLayer[Integer.parseInt(name.split("\\.")[2])] + ".") : name;
                assertEquals(-1, stacked.data(name).mismatch(models.data(from)), name + " is the models: merge's " + from);
            }
        }
    }

    private void refused(String yaml, String words) throws IOException {
        Run r = merge(yaml);
        assertEquals(ExitCodes.USAGE, r.code(), r::toString);
        assertTrue(r.errLine().contains(words), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertFalse(Files.exists(tmp.resolve("out")));
    }

    private static String passthrough(String sources) {
        return "merge_method: passthrough\nslices:\n  - sources:\n" + sources;
    }

    @Test
    void mistakesAreOneLine() throws IOException {
        refused(passthrough("      - model: a\n        layer_range: [2, 6]\n"),
                "slices[0].sources[0].layer_range [2, 6] is beyond the 4 layers of");
        refused(passthrough("      - model: a\n        layer_range: [3, 1]\n"),
                "slices[0].sources[0].layer_range must be [A, B], whole numbers with 0 <= A < B");
        refused("merge_method: linear\nslices:\n  - sources:\n      - model: a\n        layer_range: [0, 2]\n"
                        + "      - model: b\n        layer_range: [0, 3]\n",
                "slices[0].sources[1].layer_range [0,3] has 3 layers, slices[0].sources[0] 2; the sources of a slice must have as many");
        refused(passthrough("      - model: flat\n        layer_range: [0, 1]\n"), "no layer tensors found (named model.layers.N.");
        refused(passthrough("      - model: a\n        layer_range: [0, 1]\n") + "models:\n  - model: a\n",
                "give either 'models' or 'slices', not both");
        refused("merge_method: slerp\nbase_model: b\nparameters: {t: 0.5}\nslices:\n  - sources:\n      - model: a\n"
                + "        layer_range: [0, 2]\n", "slices[0]: slerp needs a base, and base_model");
        refused("merge_method: linear\nslices:\n  - sources:\n      - model: a\n        layer_range: [0, 2]\n"
                        + "      - model: b\n        layer_range: [0, 2]\n  - sources:\n      - model: a\n        layer_range: [2, 4]\n",
                "slices[1] has 1 source(s) to merge, slices[0] 2; ugm needs every slice to have as many");
        refused("merge_method: gradient_matching\nbase_model: a\nslices:\n  - sources:\n      - model: a\n        layer_range: [0, 2]\n"
                + "      - model: b\n        layer_range: [0, 2]\n", "gradient_matching needs a Fisher for");
        refused(passthrough("      - model: a\n        layer_range: [0, 2]\n").replace("merge_method: passthrough", "merge_method: linear")
                + "    parameters: {normalize: false}\n", "slices[0].parameters.normalize: ugm reads normalize from the top-level");
    }
}
