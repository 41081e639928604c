package ugm.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import ugm.core.UgmException;
import ugm.core.exec.ChunkExecutor;
import ugm.core.merge.MergeProgress;
import ugm.job.MergeJob;
import ugm.job.config.ConfigParser;
import ugm.job.config.MergeConfig;

/**
 * The output's files besides the weights as mergekit writes them: from the base, or with no base
 * from the first model; the tokenizer from tokenizer_source; chat_template; copyTokenizer.
 * Each model folder here has an embedding of one row per token, config.json, generation_config.json
 * and a small BPE tokenizer (tokenizer.json, tokenizer_config.json, special_tokens_map.json), each
 * marked with the folder's name so the test can tell whose file the output got.
 */
class TokenizerFilesTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final List<String> VOCAB = List.of("<s>", "</s>", "a", "b", "ab", "c");

    @TempDir
    Path tmp;

    /** A model folder named {@code name}: {@code tokens} as its vocabulary (ids in order, the first two added tokens). */
    Path model(String name, List<String> tokens, int rows, String chatTemplate) throws IOException {
        float[] embed = new float[rows * 2];
        for (int i = 0; i < embed.length; i++) {
            embed[i] = name.length() + i;
        }
        Path dir = new Checkpoints().put("model.embed_tokens.weight", new long[] {rows, 2}, embed)
                .put("model.norm.weight", 1, 2).write(tmp.resolve(name));
        ObjectNode config = JSON.createObjectNode().put("_name_or_path", name).put("vocab_size", rows)
                .put("torch_dtype", "float32");
        config.putArray("architectures").add("LlamaForCausalLM");
        write(dir.resolve("config.json"), config);
        write(dir.resolve("generation_config.json"), JSON.createObjectNode().put("from", name));
        ObjectNode tok = JSON.createObjectNode().put("version", "1.0");
        var added = tok.putArray("added_tokens");
        for (int i = 0; i < 2; i++) {
            added.addObject().put("id", i).put("content", tokens.get(i)).put("special", true);
        }
        ObjectNode m = tok.putObject("model").put("type", "BPE");
        ObjectNode vocab = m.putObject("vocab");
        for (int i = 0; i < tokens.size(); i++) {
            vocab.put(tokens.get(i), i);
        }
        m.putArray("merges").add("a b");
        write(dir.resolve("tokenizer.json"), tok);
        ObjectNode tc = JSON.createObjectNode().put("from", name).put("bos_token", "<s>").put("eos_token", "</s>");
        if (chatTemplate != null) {
            tc.put("chat_template", chatTemplate);
        }
        write(dir.resolve("tokenizer_config.json"), tc);
        write(dir.resolve("special_tokens_map.json"), JSON.createObjectNode().put("from", name));
        return dir;
    }

    Path model(String name) throws IOException {
        return model(name, VOCAB, VOCAB.size(), null);
    }

    static void write(Path file, JsonNode node) throws IOException {
        Files.writeString(file, JSON.writeValueAsString(node));
    }

    static JsonNode json(Path file) throws IOException {
        return JSON.readTree(file.toFile());
    }

    static List<String> listing(Path folder) throws IOException {
        try (Stream<Path> s = Files.list(folder)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    Path config(String yaml) throws IOException {
        return Files.writeString(tmp.resolve("merge.yml"), Configs.absolute(yaml, tmp));
    }

    /** Merges the config {@code yaml} into {@code out} through the library, as {@code ugm merge} does. */
    MergeJob merge(String yaml, Path out, MergeJob.Options options) throws IOException {
        MergeJob job = MergeJob.open(config(yaml), 1);
        try (job) {
            job.writeTo(out, options, MergeProgress.NONE, ChunkExecutor.defaults());
        }
        return job;
    }

    static final List<String> TOKENIZER = List.of("special_tokens_map.json", "tokenizer.json", "tokenizer_config.json");

    static List<String> withWeights(List<String> side) {
        List<String> all = new java.util.ArrayList<>(side);
        all.addAll(List.of("README.md", "config.json", "generation_config.json", "model.safetensors", "ugm_config.yml"));
        return all.stream().sorted().toList();
    }

    @Test
    void aLinearMergeWithoutBaseTakesTheFirstModelsFiles() throws IOException {
        Path a = model("a");
        Path b = model("bb");
        Path out = tmp.resolve("out");
        merge("""
                merge_method: linear
                models:
                  - model: bb
                    parameters: {weight: 1.0}
                  - model: a
                    parameters: {weight: 1.0}
                out_dtype: bfloat16
                """, out, MergeJob.Options.defaults());
        assertEquals(withWeights(TOKENIZER), listing(out));
        JsonNode cfg = json(out.resolve("config.json"));
        assertEquals("bb", cfg.get("_name_or_path").asText());
        assertEquals("bfloat16", cfg.get("torch_dtype").asText());
        assertEquals(6, cfg.get("vocab_size").asInt());
        assertEquals("bb", json(out.resolve("generation_config.json")).get("from").asText());
        for (String f : TOKENIZER) {
            assertArrayEquals(Files.readAllBytes(b.resolve(f)), Files.readAllBytes(out.resolve(f)), f);
        }
        assertTrue(Files.exists(a.resolve("tokenizer.json")));
    }

    @Test
    void withABaseTheBaseGivesTheFiles() throws IOException {
        model("a");
        Path base = model("base");
        Path out = tmp.resolve("out");
        merge("""
                merge_method: task_arithmetic
                base_model: base
                models:
                  - model: a
                    parameters: {weight: 0.5}
                """, out, MergeJob.Options.defaults());
        assertEquals("base", json(out.resolve("config.json")).get("_name_or_path").asText());
        assertEquals("base", json(out.resolve("tokenizer_config.json")).get("from").asText());
    }

    @Test
    void tokenizerSourceBaseWithoutBaseIsTheFirstModelsAsInMergekit() throws IOException {
        model("a");
        model("bb");
        Path out = tmp.resolve("out");
        MergeJob job = merge("""
                merge_method: linear
                models:
                  - model: a
                  - model: bb
                tokenizer_source: base
                """, out, MergeJob.Options.defaults());
        assertEquals("a", json(out.resolve("tokenizer_config.json")).get("from").asText());
        assertEquals("a", json(out.resolve("special_tokens_map.json")).get("from").asText());
        assertEquals(MergeConfig.TokenizerSource.BASE, job.config().tokenizerSource());
    }

    @Test
    void tokenizerSourceAModelTakesThatModelsTokenizerAndTheBasesConfig() throws IOException {
        model("a");
        model("bb");
        Path tokens = model("tok");
        Files.writeString(tokens.resolve("merges.txt"), "a b\n");
        Path out = tmp.resolve("out");
        merge("""
                merge_method: linear
                models:
                  - model: a
                  - model: bb
                tokenizer_source: tok
                """, out, MergeJob.Options.defaults());
        assertEquals(withWeights(List.of("merges.txt", "special_tokens_map.json", "tokenizer.json", "tokenizer_config.json")),
                listing(out));
        assertEquals("a", json(out.resolve("config.json")).get("_name_or_path").asText());
        assertEquals("a", json(out.resolve("generation_config.json")).get("from").asText());
        assertEquals("tok", json(out.resolve("tokenizer_config.json")).get("from").asText());
        assertEquals("tok", json(out.resolve("special_tokens_map.json")).get("from").asText());
        assertEquals("a b\n", Files.readString(out.resolve("merges.txt")));
        // the same through the tokenizer: block, and ugm_config.yml gives the same merge back
        Path block = tmp.resolve("block");
        MergeJob job = merge("""
                merge_method: linear
                models:
                  - model: a
                  - model: bb
                tokenizer:
                  source: tok
                  pad_to_multiple_of: 3
                  tokens: {}
                """, block, MergeJob.Options.defaults());
        assertEquals("tok", json(block.resolve("tokenizer_config.json")).get("from").asText());
        MergeConfig again = ConfigParser.read(block.resolve("ugm_config.yml"));
        assertEquals(MergeConfig.TokenizerSource.Kind.MODEL, again.tokenizer().source().kind());
        assertEquals(tokens.toAbsolutePath().normalize(), again.tokenizer().source().model().path());
        assertEquals(3, again.tokenizer().padToMultipleOf());
        assertEquals(job.config().tokenizer(), again.tokenizer());
        assertEquals(null, again.tokenizerSource());
    }

    @Test
    void unionOfIdenticalVocabulariesIsTheBasesTokenizer() throws IOException {
        model("a");
        model("bb");
        model("base");
        Path out = tmp.resolve("out");
        merge("""
                merge_method: task_arithmetic
                base_model: base
                models:
                  - model: a
                  - model: bb
                tokenizer_source: union
                """, out, MergeJob.Options.defaults());
        assertEquals("base", json(out.resolve("tokenizer_config.json")).get("from").asText());
        assertEquals(withWeights(TOKENIZER), listing(out));
    }

    /** The one line a config that ugm cannot merge exactly gets, with no output written. */
    String refused(String yaml, UgmException.Kind kind) throws IOException {
        Path out = tmp.resolve("refused");
        UgmException e = assertThrows(UgmException.class, () -> merge(yaml, out, MergeJob.Options.defaults()));
        assertEquals(kind, e.kind(), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
        assertFalse(Files.exists(out));
        return e.getMessage();
    }

    @Test
    void differingVocabulariesAreReorderedToTheChosenTokenizer() throws IOException {
        model("a");
        model("bb", List.of("<s>", "</s>", "a", "b", "c", "ab"), 6, null);
        for (String source : List.of("tokenizer_source: union", "tokenizer:\n  source: base")) {
            Path out = tmp.resolve("reordered");
            merge("""
                    merge_method: linear
                    models:
                      - model: a
                      - model: bb
                    """ + source + "\n", out, MergeJob.Options.defaults());
            // a's ids: ab is 4 and c is 5, bb's the other way round; rows (model name length + element index)
            float[] got = embeddings(out);
            float[] expected = new float[12];
            int[] bbRow = {0, 1, 2, 3, 5, 4};
            for (int id = 0; id < 6; id++) {
                for (int c = 0; c < 2; c++) {
                    expected[id * 2 + c] = (float) ((1.0 + id * 2 + c) + (2.0 + bbRow[id] * 2 + c)) / 2;
                }
            }
            assertArrayEquals(expected, got, source);
            for (String f : TOKENIZER) {
                assertArrayEquals(Files.readAllBytes(tmp.resolve("a").resolve(f)), Files.readAllBytes(out.resolve(f)), f);
            }
            Files.walk(out).sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
        // without a tokenizer source the first model's tokenizer is copied as it is, as mergekit does
        Path plain = tmp.resolve("plain");
        merge("""
                merge_method: linear
                models:
                  - model: a
                  - model: bb
                """, plain, MergeJob.Options.defaults());
        assertEquals("a", json(plain.resolve("tokenizer_config.json")).get("from").asText());
    }

    static float[] embeddings(Path out) {
        try (ugm.io.Checkpoint c = ugm.io.Checkpoint.open(out)) {
            return TorchInputsTest.floats(c.data("model.embed_tokens.weight"));
        }
    }

    @Test
    void aTokenizerSourceCutsTheEmbeddingsToItsTokensOrPadsThem() throws IOException {
        // 6 tokens, 8 rows: mergekit cuts the embeddings to 6 rows, or pads them to a multiple
        model("a", VOCAB, 8, null);
        model("bb", VOCAB, 8, null);
        for (Integer pad : java.util.Arrays.asList(null, 4)) {
            Path out = tmp.resolve("cut" + pad);
            merge("""
                    merge_method: linear
                    models:
                      - model: a
                      - model: bb
                    tokenizer:
                      source: base
                    """ + (pad == null ? "" : "  pad_to_multiple_of: " + pad + "\n"), out, MergeJob.Options.defaults());
            int rows = pad == null ? 6 : 8;
            float[] got = embeddings(out);
            assertEquals(rows * 2, got.length);
            for (int c = 0; c < 2; c++) {
                double mean = 0;
                for (int r = 0; r < 6; r++) {
                    float v = (float) ((1.0 + r * 2 + c) + (2.0 + r * 2 + c)) / 2;
                    assertEquals(v, got[r * 2 + c]);
                    mean += v / 6.0;
                }
                for (int r = 6; r < rows; r++) {
                    assertEquals((float) mean, got[r * 2 + c], 1e-6, "padding row " + r);
                }
            }
            assertEquals(rows, json(out.resolve("config.json")).get("vocab_size").asInt());
        }
    }

    @Test
    void chatTemplateByNameIsWrittenAsTransformersSavesIt() throws IOException {
        model("a", VOCAB, VOCAB.size(), "{{ old template }}");
        Files.writeString(tmp.resolve("a/chat_template.jinja"), "{{ older }}");
        model("bb");
        Path out = tmp.resolve("out");
        merge("""
                merge_method: linear
                models:
                  - model: a
                  - model: bb
                chat_template: chatml
                """, out, MergeJob.Options.defaults());
        assertEquals(withWeights(List.of("chat_template.jinja", "special_tokens_map.json", "tokenizer.json",
                "tokenizer_config.json")), listing(out));
        String template = Files.readString(out.resolve("chat_template.jinja"));
        assertTrue(template.contains("<|im_start|>") && template.contains("<|im_end|>")
                && template.contains("'<|im_start|>assistant\\n'"), template);
        JsonNode tc = json(out.resolve("tokenizer_config.json"));
        assertFalse(tc.has("chat_template"), tc::toString);
        assertEquals("a", tc.get("from").asText());
        assertEquals("<s>", tc.get("bos_token").asText());
    }

    @Test
    void aLiteralChatTemplateIsWrittenAsGiven() throws IOException {
        model("a");
        model("bb");
        Path out = tmp.resolve("out");
        String literal = "{% for m in messages %}{{ m['role'] + \": \" }}\n{{ m['content'] }}\n{% endfor %}\n";
        MergeJob job = merge("merge_method: linear\nmodels:\n  - model: a\n  - model: bb\nchat_template: |\n  "
                + literal.strip().replace("\n", "\n  ") + "\n", out, MergeJob.Options.defaults());
        assertEquals(literal, Files.readString(out.resolve("chat_template.jinja")));
        assertEquals(literal, ConfigParser.read(out.resolve("ugm_config.yml")).chatTemplate());
        assertEquals(literal, job.config().chatTemplate());
    }

    @Test
    void autoTakesTheMostCommonTemplateOfTheModels() throws IOException {
        model("a", VOCAB, VOCAB.size(), "{{ one }}");
        model("bb", VOCAB, VOCAB.size(), "  {{ two }}\n");
        Path c = model("c");
        Files.writeString(c.resolve("chat_template.jinja"), "{{ two }}"); // the file, as transformers reads it
        Path out = tmp.resolve("out");
        merge("""
                merge_method: linear
                models:
                  - model: a
                  - model: bb
                  - model: c
                chat_template: auto
                """, out, MergeJob.Options.defaults());
        assertEquals("{{ two }}", Files.readString(out.resolve("chat_template.jinja")));
        assertFalse(json(out.resolve("tokenizer_config.json")).has("chat_template"));
        assertEquals("a", json(out.resolve("tokenizer_config.json")).get("from").asText());
        // none has a template: the tokenizer as it is
        Path none = tmp.resolve("none");
        model("d");
        model("e");
        merge("merge_method: linear\nmodels:\n  - model: d\n  - model: e\nchat_template: auto\n", none, MergeJob.Options.defaults());
        assertEquals(withWeights(TOKENIZER), listing(none));
        assertArrayEquals(Files.readAllBytes(tmp.resolve("d/tokenizer_config.json")), Files.readAllBytes(none.resolve("tokenizer_config.json")));
    }

    @Test
    void withoutCopyTokenizerNoTokenizerFileIsWritten() throws IOException {
        model("a");
        model("bb");
        MergeJob.Options noTokenizer = new MergeJob.Options(false, 5_000_000_000L, false, true, false);
        Path out = tmp.resolve("out");
        MergeJob job = merge("""
                merge_method: linear
                models:
                  - model: a
                  - model: bb
                chat_template: llama3
                """, out, noTokenizer);
        assertEquals(withWeights(List.of()), listing(out));
        assertEquals("a", json(out.resolve("config.json")).get("_name_or_path").asText());
        assertEquals(List.of("chat_template is not written: the tokenizer is not copied"), job.warnings(noTokenizer));
        assertEquals(List.of(), job.warnings(MergeJob.Options.defaults()));
        // a tokenizer source writes the tokenizer it chose whatever the option says, as mergekit does
        Path source = tmp.resolve("source");
        merge("merge_method: linear\nmodels:\n  - model: a\n  - model: bb\ntokenizer_source: bb\n", source, noTokenizer);
        assertEquals(withWeights(TOKENIZER), listing(source));
        assertEquals("bb", json(source.resolve("tokenizer_config.json")).get("from").asText());
    }

    @Test
    void tokenizerAndChatTemplateMistakesAreOneLineNamingTheKey() throws IOException {
        model("a");
        model("bb");
        String models = "merge_method: linear\nmodels:\n  - model: a\n  - model: bb\n";
        Path cfg = config(models + "chat_template: chatm1\n");
        assertEquals(cfg + ": chat_template 'chatm1' is not a template name ugm knows (did you mean 'chatml'?) nor a Jinja"
                + " template; use auto, alpaca, chatml, exaone, llama3, mistral, or the template's text", configError(cfg));
        cfg = config(models + "chat_template: '{{ short }}'\n");
        assertTrue(configError(cfg).contains("chat_template '{{ short }}' is not a template name ugm knows nor a Jinja template"));
        cfg = config(models + "tokenizer_source: base\ntokenizer: {source: base}\n");
        assertEquals(cfg + ": give either 'tokenizer_source' or 'tokenizer', not both (as in mergekit)", configError(cfg));
        cfg = config(models + "tokenizer:\n  source: base\n  tokens:\n    <|im_start|>: {source: a, forse: true}\n");
        assertEquals(cfg + ": unknown key 'forse' in tokenizer.tokens.<|im_start|>; did you mean 'force'?", configError(cfg));
        cfg = config(models + "tokenizer: {sourse: base}\n");
        assertEquals(cfg + ": unknown key 'sourse' in tokenizer; did you mean 'source'?", configError(cfg));
        cfg = config(models + "tokenizer: {source: base, pad_to_multiple_of: 0}\n");
        assertEquals(cfg + ": tokenizer.pad_to_multiple_of must be a whole number of at least 1, not 0", configError(cfg));
        Path bare = new Checkpoints().put("w", 1, 2).write(tmp.resolve("bare"));
        Files.writeString(bare.resolve("config.json"), "{\"vocab_size\": 6}");
        for (String source : List.of("bare", "base")) {
            String first = source.equals("base") ? "  - model: bare\n" : "";
            cfg = config("merge_method: linear\nmodels:\n" + first + "  - model: a\n  - model: bb\ntokenizer_source: " + source + "\n");
            Run r = Run.of("merge", cfg.toString(), tmp.resolve("out").toString());
            assertEquals(ExitCodes.INVALID_INPUT, r.code(), r::toString);
            assertEquals("ugm: tokenizer_source: " + (source.equals("base") ? "base: " : "") + bare + " has no tokenizer files"
                    + " (tokenizer.json, vocab.json or vocab.txt)", r.errLine());
        }
        cfg = config(models + "tokenizer_source: nowhere\n");
        Run r = Run.of("merge", cfg.toString(), tmp.resolve("out").toString());
        assertEquals(ExitCodes.USAGE, r.code(), r::toString);
        assertEquals("ugm: tokenizer_source: " + tmp.resolve("nowhere") + " is not a model folder", r.errLine());
        assertFalse(Files.exists(tmp.resolve("out")));
    }

    String configError(Path cfg) {
        UgmException e = assertThrows(UgmException.class, () -> ConfigParser.read(cfg));
        assertEquals(UgmException.Kind.USAGE, e.kind());
        return e.getMessage();
    }
}
