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
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import ugm.core.UgmException;
import ugm.core.exec.ChunkExecutor;
import ugm.core.merge.MergeProgress;
import ugm.io.Checkpoint;
import ugm.job.MergeJob;

/**
 * Merges with a tokenizer source whose vocabularies differ, checked against mergekit's rules
 * (tokenizer/build.py, tokenizer/embed.py) computed here in double: each model's embedding and
 * head rows put in the output vocabulary's order, the tokens it lacks filled by the default
 * (a rule of tokenizer.tokens; the one model that has it; the base; the mean of those that have it),
 * padding rows the mean of the others; then the method's formula.
 */
class TokenizerUnionTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final int COLS = 3;
    static final String EMBED = "model.embed_tokens.weight";
    static final String HEAD = "lm_head.weight";

    @TempDir
    Path tmp;

    /** A model's vocabulary: its model tokens (ids 0..), then its added tokens (special), and its rows. */
    record Vocab(List<String> tokens, List<String> added, int rows) {
        List<String> all() {
            List<String> l = new ArrayList<>(tokens);
            l.addAll(added);
            return l;
        }
    }

    /** Element (r, c) of tensor {@code tensor} of the model numbered {@code m} (exact in float and bf16-free). */
    static float value(int m, String tensor, int r, int c) {
        return (tensor.equals(HEAD) ? -1 : 1) * (m * 16 + r + c * 0.25f) + 0.125f;
    }

    /** A model folder: embeddings and head ({@link #value}), a norm, config.json with vocab_size, a tokenizer. */
    Path model(String name, int m, Vocab v) throws IOException {
        Checkpoints c = new Checkpoints();
        for (String t : List.of(EMBED, HEAD)) {
            float[] data = new float[v.rows * COLS];
            for (int r = 0; r < v.rows; r++) {
                for (int k = 0; k < COLS; k++) {
                    data[r * COLS + k] = value(m, t, r, k);
                }
            }
            c.put(t, new long[] {v.rows, COLS}, data);
        }
        Path dir = c.put("model.norm.weight", m, m + 1).put("model.layers.0.mlp.weight", m, 2 * m).write(tmp.resolve(name));
        ObjectNode config = JSON.createObjectNode().put("vocab_size", v.rows).put("torch_dtype", "float32");
        config.putArray("architectures").add("LlamaForCausalLM");
        Files.writeString(dir.resolve("config.json"), JSON.writeValueAsString(config));
        ObjectNode tok = JSON.createObjectNode().put("version", "1.0");
        var added = tok.putArray("added_tokens");
        ObjectNode decoder = JSON.createObjectNode();
        for (int i = 0; i < v.added.size(); i++) {
            int id = v.tokens.size() + i;
            added.addObject().put("id", id).put("content", v.added.get(i)).put("single_word", false).put("lstrip", false)
                    .put("rstrip", false).put("normalized", false).put("special", true);
            decoder.putObject(Integer.toString(id)).put("content", v.added.get(i)).put("special", true);
        }
        ObjectNode mdl = tok.putObject("model").put("type", "BPE");
        ObjectNode vocab = mdl.putObject("vocab");
        for (int i = 0; i < v.tokens.size(); i++) {
            vocab.put(v.tokens.get(i), i);
        }
        mdl.putArray("merges");
        Files.writeString(dir.resolve("tokenizer.json"), JSON.writeValueAsString(tok));
        ObjectNode tc = JSON.createObjectNode().put("from", name);
        tc.set("added_tokens_decoder", decoder);
        Files.writeString(dir.resolve("tokenizer_config.json"), JSON.writeValueAsString(tc));
        return dir;
    }

    /** A Fisher for the model numbered {@code m}: positive, different from the weights. */
    Path fisher(String name, int m, int rows) {
        Checkpoints c = new Checkpoints();
        for (String t : List.of(EMBED, HEAD)) {
            float[] data = new float[rows * COLS];
            for (int r = 0; r < rows; r++) {
                for (int k = 0; k < COLS; k++) {
                    data[r * COLS + k] = fisherValue(m, t, r, k);
                }
            }
            c.put(t, new long[] {rows, COLS}, data);
        }
        return c.put("model.norm.weight", 1, 2).put("model.layers.0.mlp.weight", 1, 3).write(tmp.resolve(name));
    }

    static float fisherValue(int m, String tensor, int r, int c) {
        return (tensor.equals(HEAD) ? 2 : 1) * (1 + m + 0.5f * r + 0.25f * c);
    }

    MergeJob merge(String yaml, Path out) throws IOException {
        Path cfg = Files.writeString(tmp.resolve("merge.yml"), Configs.absolute(yaml, tmp));
        MergeJob job = MergeJob.open(cfg, 1);
        try (job) {
            job.writeTo(out, MergeJob.Options.defaults(), MergeProgress.NONE, ChunkExecutor.defaults());
        }
        return job;
    }

    static float[] read(Path out, String name) {
        try (Checkpoint c = Checkpoint.open(out)) {
            MemorySegment s = c.data(name);
            float[] f = new float[(int) (s.byteSize() / 4)];
            for (int i = 0; i < f.length; i++) {
                f[i] = s.get(F32, 4L * i);
            }
            return f;
        }
    }

    static JsonNode json(Path file) throws IOException {
        return JSON.readTree(file.toFile());
    }

    static final List<String> CHAT = List.of("<|im_start|>", "<|im_end|>", "<|system|>", "<|user|>");
    static final List<String> SPECIAL = List.of("<s>", "</s>");

    @Test
    void aUnionAddsTheChatTokensOfTheOneModelThatHasThem() throws IOException {
        List<String> words = List.of("a", "b", "ab", "c");
        List<String> chatAdded = new ArrayList<>(SPECIAL);
        chatAdded.addAll(CHAT);
        model("base", 0, new Vocab(words, SPECIAL, 6));
        model("chat", 1, new Vocab(words, chatAdded, 10));
        // The same model without its chat tokens, for the merge without union.
        model("plain", 1, new Vocab(words, SPECIAL, 6));
        Path union = tmp.resolve("union");
        MergeJob job = merge("""
                merge_method: linear
                base_model: base
                models:
                  - model: base
                    parameters: {weight: 0.25}
                  - model: chat
                    parameters: {weight: 0.75}
                tokenizer_source: union
                """, union);
        assertTrue(job.warnings().isEmpty(), job.warnings().toString());
        Path plain = tmp.resolve("plain-out");
        merge("""
                merge_method: linear
                base_model: base
                models:
                  - model: base
                    parameters: {weight: 0.25}
                  - model: plain
                    parameters: {weight: 0.75}
                """, plain);
        for (String t : List.of(EMBED, HEAD)) {
            float[] u = read(union, t);
            float[] p = read(plain, t);
            assertEquals(10 * COLS, u.length, t);
            assertArrayEquals(p, java.util.Arrays.copyOf(u, 6 * COLS), t + ": the shared rows merge as without union");
            for (int r = 6; r < 10; r++) {
                for (int c = 0; c < COLS; c++) {
                    // The base lacks the token: its default is the chat model's row (the one model that has it).
                    double expected = 0.25 * value(1, t, r, c) + 0.75 * value(1, t, r, c);
                    assertEquals((float) expected, u[r * COLS + c], t + " row " + r);
                }
            }
        }
        assertArrayEquals(read(plain, "model.norm.weight"), read(union, "model.norm.weight"));
        assertEquals(10, json(union.resolve("config.json")).get("vocab_size").asInt());
        JsonNode added = json(union.resolve("tokenizer.json")).get("added_tokens");
        assertEquals(6, added.size());
        JsonNode decoder = json(union.resolve("tokenizer_config.json")).get("added_tokens_decoder");
        for (int i = 0; i < CHAT.size(); i++) {
            JsonNode a = added.get(2 + i);
            assertEquals(6 + i, a.get("id").asInt());
            assertEquals(CHAT.get(i), a.get("content").asText());
            assertTrue(a.get("special").asBoolean());
            assertFalse(a.get("normalized").asBoolean());
            assertEquals(CHAT.get(i), decoder.get(Integer.toString(6 + i)).get("content").asText());
            assertTrue(decoder.get(Integer.toString(6 + i)).get("special").asBoolean());
        }
        assertEquals("base", json(union.resolve("tokenizer_config.json")).get("from").asText());
    }

    // Three vocabularies in different orders (each with <s> and </s> added after its model tokens).
    static final Vocab BASE = new Vocab(List.of("a", "b", "c", "d"), SPECIAL, 6);
    static final Vocab M1 = new Vocab(List.of("b", "a", "e", "c", "d"), SPECIAL, 7);
    static final Vocab M2 = new Vocab(List.of("c", "f", "a", "e", "b"), SPECIAL, 7);

    /** The row of {@code token} in model {@code v}, or -1. */
    static int row(Vocab v, String token) {
        return v.all().indexOf(token);
    }

    /** mergekit's default row of {@code token} (embed.py assign_embedding_sources), in double, for {@code tensor}. */
    static double[] defaultRow(String token, List<Vocab> vocabs, int base, String tensor, boolean fisher) {
        List<Integer> having = new ArrayList<>();
        for (int i = 0; i < vocabs.size(); i++) {
            if (row(vocabs.get(i), token) >= 0) {
                having.add(i);
            }
        }
        if (having.size() != 1 && base >= 0 && having.contains(base)) {
            having = List.of(base);
        }
        double[] out = new double[COLS];
        for (int i : having) {
            for (int c = 0; c < COLS; c++) {
                int r = row(vocabs.get(i), token);
                out[c] += (fisher ? fisherValue(i, tensor, r, c) : value(i, tensor, r, c)) / having.size();
            }
        }
        return out;
    }

    /** Input {@code i}'s row of output token {@code token}: its own, else the default. */
    static double[] permuted(int i, String token, List<Vocab> vocabs, int base, String tensor, boolean fisher) {
        int r = row(vocabs.get(i), token);
        if (r < 0) {
            return defaultRow(token, vocabs, base, tensor, fisher);
        }
        double[] out = new double[COLS];
        for (int c = 0; c < COLS; c++) {
            out[c] = fisher ? fisherValue(i, tensor, r, c) : value(i, tensor, r, c);
        }
        return out;
    }

    /** The output's tokens in id order: the base's (its added tokens last), then e (m1's) and f (m2's). */
    static List<String> outputOrder() {
        return List.of("a", "b", "c", "d", "<s>", "</s>", "e", "f");
    }

    @Test
    void differentVocabulariesWithABaseTakeTheBasesRowWhereOneLacksAToken() throws IOException {
        model("m1", 0, M1);
        model("m2", 1, M2);
        model("base", 2, BASE);
        Path out = tmp.resolve("out");
        merge("""
                merge_method: linear
                base_model: base
                models:
                  - model: m1
                    parameters: {weight: 1.0}
                  - model: m2
                    parameters: {weight: 3.0}
                tokenizer_source: union
                """, out);
        checkLinear(out, List.of(M1, M2, BASE), 2, new double[] {0.25, 0.75, 0});
        List<String> vocab = new ArrayList<>();
        json(out.resolve("tokenizer.json")).get("model").get("vocab").fieldNames().forEachRemaining(vocab::add);
        assertEquals(List.of("a", "b", "c", "d"), vocab);
        JsonNode added = json(out.resolve("tokenizer.json")).get("added_tokens");
        assertEquals("e", added.get(2).get("content").asText());
        assertEquals(6, added.get(2).get("id").asInt());
        assertFalse(added.get(2).get("special").asBoolean());
        assertTrue(added.get(2).get("normalized").asBoolean());
        assertEquals("f", added.get(3).get("content").asText());
        assertEquals(7, added.get(3).get("id").asInt());
    }

    @Test
    void differentVocabulariesWithoutABaseAverageTheModelsThatHaveAToken() throws IOException {
        model("m0", 2, BASE);
        model("m1", 0, M1);
        model("m2", 1, M2);
        Path out = tmp.resolve("out");
        // The first model stands for the base of the union (as in mergekit), but is no base of the defaults.
        merge("""
                merge_method: linear
                models:
                  - model: m1
                    parameters: {weight: 1.0}
                  - model: m2
                    parameters: {weight: 1.0}
                  - model: m0
                    parameters: {weight: 2.0}
                tokenizer:
                  source: union
                """, out);
        // The union starts from m1's tokenizer (the first model): b a e c d <s> </s>, then f.
        List<String> order = List.of("b", "a", "e", "c", "d", "<s>", "</s>", "f");
        List<Vocab> vocabs = List.of(M1, M2, BASE);
        int[] models = {0, 1, 2};
        double[] w = {0.25, 0.25, 0.5};
        for (String t : List.of(EMBED, HEAD)) {
            float[] got = read(out, t);
            assertEquals(order.size() * COLS, got.length);
            for (int id = 0; id < order.size(); id++) {
                double[] sum = new double[COLS];
                for (int i : models) {
                    double[] r = permuted(i, order.get(id), vocabs, -1, t, false);
                    for (int c = 0; c < COLS; c++) {
                        sum[c] += w[i] * r[c];
                    }
                }
                for (int c = 0; c < COLS; c++) {
                    assertEquals(sum[c], got[id * COLS + c], 1e-5, t + " token " + order.get(id));
                }
            }
        }
        // d is in m1 and m0 only: m2's row of it is their mean (no base to prefer).
        double[] d = defaultRow("d", vocabs, -1, EMBED, false);
        assertEquals((value(0, EMBED, 4, 0) + value(2, EMBED, 3, 0)) / 2, d[0], 1e-12);
    }

    /** out's embeddings and heads against the double oracle: Σ w[i]·permuted rows of the inputs, UNION's tokens in id order. */
    void checkLinear(Path out, List<Vocab> vocabs, int base, double[] w) {
        List<String> order = outputOrder();
        for (String t : List.of(EMBED, HEAD)) {
            float[] got = read(out, t);
            assertEquals(order.size() * COLS, got.length, t);
            for (int id = 0; id < order.size(); id++) {
                double[] sum = new double[COLS];
                for (int i = 0; i < vocabs.size(); i++) {
                    if (w[i] != 0) {
                        double[] r = permuted(i, order.get(id), vocabs, base, t, false);
                        for (int c = 0; c < COLS; c++) {
                            sum[c] += w[i] * r[c];
                        }
                    }
                }
                for (int c = 0; c < COLS; c++) {
                    assertEquals(sum[c], got[id * COLS + c], 1e-5, t + " token " + order.get(id) + " column " + c);
                }
            }
        }
    }

    @Test
    void gradientMatchingReadsTheFishersInTheOutputVocabularyToo() throws IOException {
        model("m1", 0, M1);
        model("m2", 1, M2);
        model("base", 2, BASE);
        fisher("f1", 0, M1.rows);
        fisher("f2", 1, M2.rows);
        fisher("f0", 2, BASE.rows);
        Path out = tmp.resolve("out");
        merge("""
                merge_method: gradient_matching
                base_model: base
                base_fisher: f0
                models:
                  - model: m1
                    fisher: f1
                  - model: m2
                    fisher: f2
                    parameters: {weight: 0.5}
                tokenizer_source: union
                """, out);
        List<Vocab> vocabs = List.of(M1, M2, BASE);
        double[] alpha = {1, 0.5};
        List<String> order = outputOrder();
        for (String t : List.of(EMBED, HEAD)) {
            float[] got = read(out, t);
            for (int id = 0; id < order.size(); id++) {
                String token = order.get(id);
                double[] th0 = permuted(2, token, vocabs, 2, t, false);
                double[] h0 = permuted(2, token, vocabs, 2, t, true);
                for (int c = 0; c < COLS; c++) {
                    double hbar = h0[c];
                    for (int m = 0; m < 2; m++) {
                        hbar += alpha[m] * permuted(m, token, vocabs, 2, t, true)[c];
                    }
                    double theta = th0[c];
                    for (int m = 0; m < 2; m++) {
                        double h = permuted(m, token, vocabs, 2, t, true)[c];
                        theta += alpha[m] * (h0[c] + h) / hbar * (permuted(m, token, vocabs, 2, t, false)[c] - th0[c]);
                    }
                    assertEquals(theta, got[id * COLS + c], 1e-4 * Math.max(1, Math.abs(theta)), t + " token " + token);
                }
            }
        }
    }

    @Test
    void tokensEntriesAndPaddingFollowMergekit() throws IOException {
        model("m1", 0, M1);
        model("m2", 1, M2);
        model("base", 2, BASE);
        Path out = tmp.resolve("out");
        MergeJob job = merge("""
                merge_method: linear
                base_model: base
                models:
                  - model: m1
                  - model: m2
                  - model: base
                tokenizer:
                  source: union
                  pad_to_multiple_of: 4
                  tokens:
                    c: {source: m1, force: true}
                    e:
                      source:
                        kind: model_token
                        model: m2
                        token: a
                    f:
                      source:
                        kind: zero
                    d:
                      source:
                        kind: model_token
                        model: base
                        token_id: 1
                      force: true
                    "<new>":
                      source:
                        kind: zero
                """, out);
        assertTrue(job.warnings().isEmpty(), job.warnings().toString());
        List<Vocab> vocabs = List.of(M1, M2, BASE);
        List<String> order = new ArrayList<>(outputOrder());
        order.add("<new>");
        for (String t : List.of(EMBED, HEAD)) {
            float[] got = read(out, t);
            assertEquals(12 * COLS, got.length, t + ": 9 tokens padded to 12 rows");
            double[][] mean = new double[12][COLS];
            for (int i = 0; i < 3; i++) {
                double[][] rows = new double[12][];
                for (int id = 0; id < 9; id++) {
                    String token = order.get(id);
                    rows[id] = switch (token) {
                        case "c" -> own(0, "c", t);
                        case "d" -> new double[] {value(2, t, 1, 0), value(2, t, 1, 1), value(2, t, 1, 2)};
                        case "e" -> row(vocabs.get(i), "e") >= 0 ? own(i, "e", t) : own(1, "a", t);
                        case "f", "<new>" -> row(vocabs.get(i), token) >= 0 ? own(i, token, t) : new double[COLS];
                        default -> permuted(i, token, vocabs, 2, t, false);
                    };
                }
                double[] pad = new double[COLS];
                for (int id = 0; id < 9; id++) {
                    for (int c = 0; c < COLS; c++) {
                        pad[c] += rows[id][c] / 9;
                    }
                }
                for (int id = 9; id < 12; id++) {
                    rows[id] = pad;
                }
                for (int id = 0; id < 12; id++) {
                    for (int c = 0; c < COLS; c++) {
                        mean[id][c] += rows[id][c] / 3;
                    }
                }
            }
            for (int id = 0; id < 12; id++) {
                for (int c = 0; c < COLS; c++) {
                    assertEquals(mean[id][c], got[id * COLS + c], 1e-5, t + " row " + id);
                }
            }
        }
        assertEquals(12, json(out.resolve("config.json")).get("vocab_size").asInt());
        JsonNode added = json(out.resolve("tokenizer.json")).get("added_tokens");
        assertEquals(5, added.size());
        assertEquals("<new>", added.get(4).get("content").asText());
        assertEquals(8, added.get(4).get("id").asInt());
        // ugm_config.yml says the same: merged again, it gives the same rows.
        Path again = tmp.resolve("again");
        merge(Files.readString(out.resolve("ugm_config.yml")), again);
        for (String t : List.of(EMBED, HEAD)) {
            assertArrayEquals(read(out, t), read(again, t), t);
        }
    }

    /** Model i's own row of {@code token}. */
    static double[] own(int i, String token, String tensor) {
        int r = row(List.of(M1, M2, BASE).get(i), token);
        assertTrue(r >= 0);
        return new double[] {value(i, tensor, r, 0), value(i, tensor, r, 1), value(i, tensor, r, 2)};
    }

    @Test
    void tokenizerSourceBaseDropsTheOtherModelsTokens() throws IOException {
        model("m1", 0, M1);
        model("base", 2, BASE);
        Path out = tmp.resolve("out");
        merge("""
                merge_method: task_arithmetic
                base_model: base
                models:
                  - model: m1
                tokenizer_source: base
                """, out);
        List<Vocab> vocabs = List.of(M1, BASE);
        List<String> order = List.of("a", "b", "c", "d", "<s>", "</s>");
        float[] got = read(out, EMBED);
        assertEquals(6 * COLS, got.length);
        for (int id = 0; id < 6; id++) {
            double[] b = permuted(1, order.get(id), vocabs, 1, EMBED, false);
            double[] m = permuted(0, order.get(id), vocabs, 1, EMBED, false);
            for (int c = 0; c < COLS; c++) {
                assertEquals(b[c] + (m[c] - b[c]), got[id * COLS + c], 1e-5);
            }
        }
        assertEquals(json(tmp.resolve("base/tokenizer.json")), json(out.resolve("tokenizer.json")));
    }

    /** The one line a config that cannot be merged gets, with no output written. */
    String refused(String yaml, UgmException.Kind kind) throws IOException {
        Path out = tmp.resolve("refused");
        UgmException e = assertThrows(UgmException.class, () -> merge(yaml, out));
        assertEquals(kind, e.kind(), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
        assertFalse(Files.exists(out));
        return e.getMessage();
    }

    @Test
    void badTokenEntriesAndMissingTokenizersAreOneLine() throws IOException {
        model("m1", 0, M1);
        model("m2", 1, M2);
        model("other", 3, M2);
        String head = "merge_method: linear\nmodels:\n  - model: m1\n  - model: m2\ntokenizer:\n  source: union\n  tokens:\n";
        String unknown = refused(head + "    a: {source: other}\n", UgmException.Kind.USAGE);
        assertTrue(unknown.startsWith("tokenizer.tokens.a.source: ") && unknown.endsWith("is not one of the merged models (nor the base)"),
                unknown);
        String missing = refused(head + "    a:\n      source:\n        kind: model_token\n        model: m2\n        token: d\n", UgmException.Kind.INVALID_INPUT);
        assertEquals("tokenizer.tokens: token 'a': its source token 'd' is not in the vocabulary of " + tmp.resolve("m2"), missing);
        String lacking = refused(head + "    d: {source: m2}\n", UgmException.Kind.INVALID_INPUT);
        assertEquals("tokenizer.tokens: token 'd' is not in the vocabulary of " + tmp.resolve("m2") + ", its source", lacking);
        String noSource = refused(head + "    a: {force: true}\n", UgmException.Kind.USAGE);
        assertTrue(noSource.contains("tokenizer.tokens.a has no source"), noSource);
        String badKind = refused(head + "    a:\n      source:\n        kind: average\n", UgmException.Kind.USAGE);
        assertTrue(badKind.contains("tokenizer.tokens.a.source.kind must be zero or model_token"), badKind);
        for (String f : List.of("tokenizer.json", "tokenizer_config.json")) {
            Files.delete(tmp.resolve("m1").resolve(f));
        }
        String none = refused("merge_method: linear\nmodels:\n  - model: m1\n  - model: m2\ntokenizer_source: union\n",
                UgmException.Kind.INVALID_INPUT);
        assertTrue(none.endsWith(tmp.resolve("m1") + " has no tokenizer files (tokenizer.json, vocab.json or vocab.txt)"), none);
    }

    @Test
    void aSlowOnlyOutputTokenizerThatWouldChangeIsRefused() throws IOException {
        model("m1", 0, M1);
        Path base = model("base", 2, BASE);
        Files.delete(base.resolve("tokenizer.json"));
        Map<String, Integer> vocab = new LinkedHashMap<>();
        for (int i = 0; i < BASE.tokens.size(); i++) {
            vocab.put(BASE.tokens.get(i), i);
        }
        Files.writeString(base.resolve("vocab.json"), JSON.writeValueAsString(vocab));
        String msg = refused("merge_method: linear\nbase_model: base\nmodels:\n  - model: m1\n  - model: base\ntokenizer_source: union\n",
                UgmException.Kind.INVALID_INPUT);
        assertTrue(msg.endsWith("writes those only into a tokenizer.json (a fast tokenizer); " + base + " has none"), msg);
    }

    static final Vocab SIX = new Vocab(List.of("a", "b", "c", "d"), SPECIAL, 6);
    static final Vocab TEN = new Vocab(List.of("a", "b", "c", "d", "e", "f", "g", "h"), SPECIAL, 10);

    @Test
    void withoutATokenizerSourceLinearMergesTheRowsAllModelsHave() throws IOException {
        model("small", 0, SIX);
        model("large", 1, TEN);
        Path out = tmp.resolve("out");
        MergeJob job = merge("merge_method: linear\nmodels:\n  - model: large\n  - model: small\n", out);
        for (String t : List.of(EMBED, HEAD)) {
            float[] got = read(out, t);
            assertEquals(6 * COLS, got.length, t);
            for (int r = 0; r < 6; r++) {
                for (int c = 0; c < COLS; c++) {
                    assertEquals((float) ((value(0, t, r, c) + (double) value(1, t, r, c)) / 2), got[r * COLS + c], t);
                }
            }
            assertTrue(job.warnings().contains("tensor '" + t + "' has 6 to 10 rows in the inputs: the first 6 rows, which all have,"
                    + " are merged (as mergekit takes the common submatrix of embeddings of different sizes)"), job.warnings().toString());
        }
    }

    @Test
    void withoutATokenizerSourceTaskArithmeticCutsTheModelsToTheBasesRows() throws IOException {
        model("small", 0, SIX);
        model("large", 1, TEN);
        Path out = tmp.resolve("out");
        MergeJob job = merge("merge_method: task_arithmetic\nbase_model: small\nmodels:\n  - model: large\n"
                + "    parameters: {weight: 0.5}\n", out);
        for (String t : List.of(EMBED, HEAD)) {
            float[] got = read(out, t);
            assertEquals(6 * COLS, got.length, t);
            for (int r = 0; r < 6; r++) {
                for (int c = 0; c < COLS; c++) {
                    double b = value(0, t, r, c);
                    assertEquals((float) (b + 0.5 * (value(1, t, r, c) - b)), got[r * COLS + c], t);
                }
            }
            assertTrue(job.warnings().contains("tensor '" + t + "' has 6 to 10 rows in the inputs: each model's is cut to the base's 6"
                    + " rows (as mergekit's task_arithmetic does with embeddings of different sizes)"), job.warnings().toString());
        }
        String smaller = refused("merge_method: task_arithmetic\nbase_model: large\nmodels:\n  - model: small\n",
                UgmException.Kind.INVALID_INPUT);
        assertTrue(smaller.startsWith("tensor 'lm_head.weight' has 6 rows in ") && smaller.contains("fewer than the base's 10")
                && smaller.endsWith("cannot grow them; give a tokenizer source (tokenizer_source: base) to rebuild them"), smaller);
        // Another method: the shapes must agree, as before.
        Path cfg = Files.writeString(tmp.resolve("nearswap.yml"), Configs.absolute(
                "merge_method: nearswap\nbase_model: large\nmodels:\n  - model: small\n", tmp));
        Run r = Run.of("merge", cfg.toString(), tmp.resolve("refused").toString());
        assertEquals(ExitCodes.INVALID_INPUT, r.code(), r::toString);
        assertTrue(r.err().contains("has shape [6, 3] in ") && r.err().contains("[10, 3]"), r::toString);
        assertFalse(Files.exists(tmp.resolve("refused")));
    }

    @Test
    void slicesTakeATokenizerSourceOnlyWhereItChangesNoEmbeddings() throws IOException {
        model("m1", 0, M1);
        model("m1b", 1, M1);
        model("m2", 2, M2);
        String slices = "merge_method: linear\nslices:\n  - sources:\n      - model: m1\n        layer_range: [0, 1]\n"
                + "      - model: %s\n        layer_range: [0, 1]\ntokenizer_source: union\n";
        Path out = tmp.resolve("same");
        merge(slices.formatted("m1b"), out);
        float[] got = read(out, EMBED);
        for (int i = 0; i < got.length; i++) {
            assertEquals((float) ((value(0, EMBED, i / COLS, i % COLS) + (double) value(1, EMBED, i / COLS, i % COLS)) / 2), got[i]);
        }
        String m = refused(slices.formatted("m2"), UgmException.Kind.USAGE);
        assertTrue(m.startsWith("tokenizer_source with slices is supported only when it changes no embeddings; ")
                && m.endsWith("'s would be rebuilt for the output vocabulary, which ugm does not do for slices yet"), m);
    }
}
