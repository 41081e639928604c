package ugm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import ugm.job.config.ConfigParser;
import ugm.job.config.Setting;

/** Every user error of a config merge: one line naming what and where, its exit code, no stack trace. */
class ConfigErrorsTest {
    @TempDir
    Path tmp;

    @BeforeEach
    void models() {
        new Checkpoints().put("a.weight", 1, 2, 3).put("b.bias", 0.5f).write(tmp.resolve("base"));
        new Checkpoints().put("a.weight", 1, 2, 4).put("b.bias", 1).write(tmp.resolve("m1"));
        new Checkpoints().put("a.weight", 0.1f, 0.2f, 0.3f).put("b.bias", 0.25f).write(tmp.resolve("m1/hessian"));
        new Checkpoints().put("a.weight", 2, 2, 3).put("b.bias", 0).write(tmp.resolve("m2"));
        new Checkpoints().put("a.weight", 0.1f, 0.2f, 0.3f).put("b.bias", 0.25f).write(tmp.resolve("m2/hessian"));
    }

    private Run merge(String yaml, String... extra) throws IOException {
        Path cfg = tmp.resolve("merge.yml");
        Files.writeString(cfg, Configs.absolute(yaml, tmp));
        String[] args = Stream.concat(Stream.of("merge", cfg.toString(), tmp.resolve("out").toString()), Stream.of(extra))
                .toArray(String[]::new);
        Run r = Run.of(args);
        assertFalse(r.err().contains("\tat "), () -> "no stack trace without --verbose: " + r);
        return r;
    }

    private static String gm(String models) {
        return "merge_method: gradient_matching\nbase_model: base\nmodels:\n" + models;
    }

    private static final String TWO = "  - model: m1\n  - model: m2\n";

    @Test
    void theConfigAsGivenMerges() throws IOException {
        Run r = merge(gm(TWO), "--quiet");
        assertEquals(0, r.code(), r::toString);
        assertTrue(Files.exists(tmp.resolve("out/model.safetensors")));
    }

    @Test
    void unknownAndUnsupportedMethods() throws IOException {
        Run magic = merge("merge_method: task_arithmetc\nbase_model: base\nmodels:\n" + TWO);
        assertEquals(ExitCodes.USAGE, magic.code(), magic::toString);
        assertTrue(magic.errLine().contains("merge.yml") && magic.errLine().contains("unknown merge_method 'task_arithmetc'")
                && magic.errLine().contains("did you mean 'task_arithmetic'"), magic.err());
        assertFalse(Files.exists(tmp.resolve("out")));
    }

    /** ram's parameters: a negative epsilon, epsilons that differ per model, a misspelt name, no base: one line, exit 2, no output. */
    @Test
    void ramParametersAndBase() throws IOException {
        String[][] cases = {
                {"merge_method: ram\nbase_model: base\nmodels:\n" + TWO + "parameters: {epsilon: -1.0e-5}\n",
                        "ram's epsilon must be a finite number >= 0, not -1.0E-5"},
                {"merge_method: ramplus_tl\nbase_model: base\nmodels:\n  - {model: m1, parameters: {epsilon: 0.001}}\n  - model: m2\n",
                        "ramplus_tl's epsilon is one number for all models (mergekit reads it from the top-level parameters), not 0.001 and 1.0E-5"},
                {"merge_method: ramplus_tl\nbase_model: base\nmodels:\n" + TWO + "parameters: {alpah: 0.5}\n",
                        "unknown parameter 'alpah' in parameters"},
                {"merge_method: ram\nmodels:\n" + TWO, "ram needs a base model"}};
        for (String[] c : cases) {
            Run r = merge(c[0]);
            assertEquals(ExitCodes.USAGE, r.code(), r::toString);
            assertEquals(1, r.err().lines().count(), r::toString);
            assertTrue(r.errLine().contains(c[1]), r.err());
            assertFalse(Files.exists(tmp.resolve("out")));
        }
    }

    @Test
    void configTyposNameTheKeyAndSuggestTheNearest() throws IOException {
        Run param = merge(gm("  - model: m1\n    parameters:\n      wieght: 0.5\n  - model: m2\n"));
        assertEquals(ExitCodes.USAGE, param.code(), param::toString);
        assertTrue(param.errLine().contains("unknown parameter 'wieght' in models[0].parameters")
                && param.errLine().contains("did you mean 'weight'?"), param.err());
        Run top = merge("merge_methd: linear\nmodels:\n" + TWO);
        assertTrue(top.errLine().contains("unknown key 'merge_methd'") && top.errLine().contains("'merge_method'"), top.err());
        Run entry = merge(gm("  - modle: m1\n"));
        assertTrue(entry.errLine().contains("unknown key 'modle' in models[0]") && entry.errLine().contains("'model'"), entry.err());
        Run placed = merge(gm(TWO) + "delta0: 1e-6\n");
        assertTrue(placed.errLine().contains("'delta0' is a parameter: put it under 'parameters'"), placed.err());
        Run kind = merge(gm(TWO) + "parameters:\n  remove: 0.5\n");
        assertTrue(kind.errLine().contains("parameters.remove must be true or false"), kind.err());
        Run filter = merge(gm(TWO) + "parameters:\n  lambda:\n    - filtr: mlp\n      value: 1\n");
        assertTrue(filter.errLine().contains("unknown key 'filtr' in parameters.lambda[0]") && filter.errLine().contains("'filter'"),
                filter.err());
        Run yaml = merge("merge_method: [linear\n");
        assertEquals(ExitCodes.USAGE, yaml.code(), yaml::toString);
        assertTrue(yaml.errLine().contains("merge.yml: not valid YAML"), yaml.err());
    }

    @Test
    void aModelFolderThatDoesNotExist() throws IOException {
        Run r = merge(gm("  - model: m1\n  - model: m3\n"));
        assertEquals(ExitCodes.INVALID_INPUT, r.code(), r::toString);
        assertTrue(r.errLine().contains("model not found: " + tmp.resolve("m3")), r.err());
    }

    @Test
    void aTensorMissingFromOneModel() throws IOException {
        new Checkpoints().put("a.weight", 1, 2, 3).write(tmp.resolve("m3"));
        new Checkpoints().put("a.weight", 1, 2, 3).write(tmp.resolve("m3/hessian"));
        Run r = merge(gm("  - model: m1\n  - model: m3\n"));
        assertEquals(ExitCodes.INVALID_INPUT, r.code(), r::toString);
        assertTrue(r.errLine().contains("tensor 'b.bias' is missing from model 2") && r.errLine().contains("m3"), r.err());
    }

    @Test
    void aShapeMismatch() throws IOException {
        new Checkpoints().put("a.weight", new long[] {1, 3}, 1, 2, 3).put("b.bias", 1).write(tmp.resolve("m3"));
        Run r = merge("merge_method: linear\nmodels:\n  - model: m1\n  - model: m3\n");
        assertEquals(ExitCodes.INVALID_INPUT, r.code(), r::toString);
        assertTrue(r.errLine().contains("tensor 'a.weight' has shape [1, 3]") && r.errLine().contains("[3]"), r.err());
    }

    @Test
    void aMissingFisherTensor() throws IOException {
        new Checkpoints().put("a.weight", 1, 1, 1).write(tmp.resolve("h2"));
        Run r = merge(gm("  - model: m1\n  - model: m2\n    fisher: h2\n"));
        assertEquals(ExitCodes.INVALID_INPUT, r.code(), r::toString);
        assertTrue(r.errLine().contains("tensor 'b.bias' is missing from Fisher of model 2") && r.errLine().contains("h2"), r.err());
    }

    @Test
    void aNegativeOrNaNFisherValue() throws IOException {
        new Checkpoints().put("a.weight", 1, -0.5f, 1).put("b.bias", 1).write(tmp.resolve("neg"));
        new Checkpoints().put("a.weight", 1, 1, 1).put("b.bias", Float.NaN).write(tmp.resolve("nan"));
        Run neg = merge(gm("  - model: m1\n    fisher: neg\n  - model: m2\n"));
        assertEquals(ExitCodes.INVALID_INPUT, neg.code(), neg::toString);
        assertTrue(neg.errLine().contains("tensor 'a.weight'") && neg.errLine().contains("neg")
                && neg.errLine().contains("-0.5 at element 1 is negative"), neg.err());
        Run nan = merge(gm("  - model: m1\n  - model: m2\n    fisher: nan\n"));
        assertEquals(ExitCodes.INVALID_INPUT, nan.code(), nan::toString);
        assertTrue(nan.errLine().contains("tensor 'b.bias'") && nan.errLine().contains("at element 0 is NaN"), nan.err());
        assertFalse(Files.exists(tmp.resolve("out")));
    }

    @Test
    void aNonEmptyOutputFolderIsRefusedAndLeftUntouched() throws IOException {
        Files.createDirectories(tmp.resolve("out"));
        Files.writeString(tmp.resolve("out/keep.txt"), "mine");
        Run r = merge(gm(TWO));
        assertEquals(ExitCodes.USAGE, r.code(), r::toString);
        assertTrue(r.errLine().contains("out exists and is not empty; use --force"), r.err());
        try (Stream<Path> s = Files.list(tmp.resolve("out"))) {
            assertEquals(1, s.count());
        }
        assertEquals("mine", Files.readString(tmp.resolve("out/keep.txt")));
    }

    @Test
    void verboseAddsTheStackTrace() throws IOException {
        Files.writeString(tmp.resolve("merge.yml"), Configs.absolute(gm("  - model: m1\n  - model: m3\n"), tmp));
        Run r = Run.of("merge", tmp.resolve("merge.yml").toString(), tmp.resolve("out").toString(), "--verbose");
        assertEquals(ExitCodes.INVALID_INPUT, r.code(), r::toString);
        assertTrue(r.err().lines().findFirst().orElseThrow().contains("model not found"), r.err());
        assertTrue(r.err().contains("\tat ugm."), r.err());
    }

    @Test
    void configAndMergeFlagsTogetherAreRefused() throws IOException {
        Run r = merge(gm(TWO), "--method", "linear");
        assertEquals(ExitCodes.USAGE, r.code(), r::toString);
        assertTrue(r.errLine().contains("not both"), r.err());
    }

    @Test
    void aKeyGivenTwiceInOneMappingIsAnErrorNamingItAndItsLine() throws IOException {
        Run weight = merge(gm("  - model: m1\n    parameters:\n      weight: 0.5\n      weight: 2\n  - model: m2\n"));
        assertEquals(ExitCodes.USAGE, weight.code(), weight::toString);
        assertEquals("ugm: " + tmp.resolve("merge.yml") + ": duplicate key 'weight' at line 7", weight.errLine());
        Run top = merge(gm(TWO) + "merge_method: linear\n");
        assertEquals(ExitCodes.USAGE, top.code(), top::toString);
        assertTrue(top.errLine().endsWith("merge.yml: duplicate key 'merge_method' at line 6"), top.err());
        assertFalse(Files.exists(tmp.resolve("out")));
    }

    @Test
    void aSecondYamlDocumentIsAnErrorNotIgnored() throws IOException {
        Run two = merge(gm(TWO) + "---\nmerge_method: linear\nmodels:\n" + TWO);
        assertEquals(ExitCodes.USAGE, two.code(), two::toString);
        assertEquals("ugm: " + tmp.resolve("merge.yml") + " has 2 YAML documents; ugm reads one", two.errLine());
        Run three = merge(gm(TWO) + "---\n---\n");
        assertTrue(three.errLine().endsWith("merge.yml has 3 YAML documents; ugm reads one"), three.err());
        // One document, with its optional start and end markers, is a config.
        Run one = merge("---\n" + gm(TWO) + "...\n", "--quiet");
        assertEquals(0, one.code(), one::toString);
    }

    @Test
    void nanAndInfinityAreValidYamlButNotParameterValues() throws IOException {
        Run nan = merge(gm(TWO) + "parameters:\n  lambda: .nan\n");
        assertEquals(ExitCodes.USAGE, nan.code(), nan::toString);
        assertEquals("ugm: " + tmp.resolve("merge.yml") + ": parameters.lambda must be a finite number, not .nan", nan.errLine());
        Run inf = merge(gm("  - model: m1\n    parameters: {weight: [0, .inf]}\n  - model: m2\n"));
        assertTrue(inf.errLine().endsWith(": models[0].parameters.weight[1] must be a finite number, not .inf"), inf.err());
        Run minus = merge(gm(TWO) + "parameters:\n  delta0:\n    - filter: mlp\n      value: -.Inf\n");
        assertTrue(minus.errLine().endsWith(": parameters.delta0[0].value must be a finite number, not -.Inf"), minus.err());
        Run overflow = merge(gm(TWO) + "parameters:\n  base_fisher_scale: 1e400\n");
        assertEquals(ExitCodes.USAGE, overflow.code(), overflow::toString);
        assertTrue(overflow.errLine().endsWith(": parameters.base_fisher_scale must be a finite number, not 1E+400"), overflow.err());
        assertFalse(Files.exists(tmp.resolve("out")));
    }

    @Test
    void randomSeedIsReadExactlyAsA64BitInteger() throws IOException {
        float[] values = new float[256];
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) Math.sin(i);
        }
        new Checkpoints().put("w", values).write(tmp.resolve("db"));
        for (int i = 0; i < values.length; i++) {
            values[i] += 0.1f * (float) Math.cos(3 * i);
        }
        new Checkpoints().put("w", values).write(tmp.resolve("dx"));
        String dare = "merge_method: dare_linear\nbase_model: db\nmodels: [{model: dx, parameters: {density: 0.5}}]\n";
        // 2^53 and 2^53 + 1 are one double: read through one, both seeds dropped the same elements.
        Run a = merge(dare + "parameters: {random_seed: 9007199254740992}\n", "--quiet");
        assertEquals(0, a.code(), a::toString);
        byte[] first = Files.readAllBytes(tmp.resolve("out/model.safetensors"));
        Run b = merge(dare + "parameters: {random_seed: 9007199254740993}\n", "--quiet", "--force");
        assertEquals(0, b.code(), b::toString);
        assertFalse(java.util.Arrays.equals(first, Files.readAllBytes(tmp.resolve("out/model.safetensors"))),
                "seeds 2^53 and 2^53 + 1 gave the same merge");
        assertTrue(Files.readString(tmp.resolve("out/ugm_config.yml")).contains("random_seed: 9007199254740993"));
        Run max = merge(dare + "parameters: {random_seed: -9223372036854775808}\n", "--quiet", "--force");
        assertEquals(0, max.code(), max::toString);

        Run fraction = merge(dare + "parameters: {random_seed: 1.5}\n");
        assertEquals(ExitCodes.USAGE, fraction.code(), fraction::toString);
        assertTrue(fraction.errLine().endsWith(": parameters.random_seed must be a whole number (such as 42), not 1.5"), fraction.err());
        // A whole number written as a float (earlier ugm versions wrote seeds so into ugm_config.yml) is that number, exactly.
        Path cfg = tmp.resolve("seed.yml");
        Files.writeString(cfg, Configs.absolute(dare, tmp) + "parameters: {random_seed: 9007199254740993.0}\n");
        assertEquals(new Setting.Whole(9007199254740993L), ConfigParser.read(cfg).parameters().get("random_seed"));
        Files.writeString(cfg, Configs.absolute(dare, tmp) + "parameters: {random_seed: 4.2e1}\n");
        assertEquals(new Setting.Whole(42), ConfigParser.read(cfg).parameters().get("random_seed"));
        Run big = merge(dare + "parameters: {random_seed: 9223372036854775808}\n");
        assertEquals(ExitCodes.USAGE, big.code(), big::toString);
        assertTrue(big.errLine().endsWith(": parameters.random_seed must be a whole number from -9223372036854775808 to"
                + " 9223372036854775807, not 9223372036854775808"), big.err());
        Run bigFloat = merge(dare + "parameters: {random_seed: 1.0e19}\n");
        assertTrue(bigFloat.errLine().contains(": parameters.random_seed must be a whole number from -9223372036854775808 to"),
                bigFloat.err());
        Run text = merge(dare + "parameters: {random_seed: seven}\n");
        assertTrue(text.errLine().endsWith(": parameters.random_seed must be a whole number (such as 42), not 'seven'"), text.err());
    }

    @Test
    void aFolderGivenAsTheConfigIsAUsageError() {
        Run r = Run.of("merge", tmp.resolve("m1").toString(), tmp.resolve("out").toString());
        assertEquals(ExitCodes.USAGE, r.code(), r::toString);
        assertEquals("ugm: " + tmp.resolve("m1") + " is a folder, not a config file", r.errLine());
        assertFalse(Files.exists(tmp.resolve("out")));
    }

    @Test
    void aConfigThatIsNotUtf8IsAUsageError() throws IOException {
        Path cfg = tmp.resolve("merge.yml");
        Files.write(cfg, new byte[] {'m', 'o', 'd', 'e', 'l', 's', ':', ' ', (byte) 0xC3, '\n'});
        Run r = Run.of("merge", cfg.toString(), tmp.resolve("out").toString());
        assertEquals(ExitCodes.USAGE, r.code(), r::toString);
        assertEquals("ugm: " + cfg + " is not UTF-8 text", r.errLine());
    }

    @Test
    void aConfigOver256KibIsRefusedBeforeItIsParsed() throws IOException {
        // One comment line of 3.2 MB: the YAML reader takes time in the square of its length (27 s here before the limit).
        Path cfg = tmp.resolve("merge.yml");
        Files.writeString(cfg, Configs.absolute(gm(TWO), tmp) + "# " + "x".repeat(3_200_000) + "\n");
        long start = System.nanoTime();
        Run big = Run.of("merge", cfg.toString(), tmp.resolve("out").toString());
        double seconds = (System.nanoTime() - start) / 1e9;
        assertEquals(ExitCodes.USAGE, big.code(), big::toString);
        assertEquals("ugm: " + cfg + " is larger than 256 KiB, the most a config may be", big.errLine());
        assertTrue(seconds < 5, "refused in " + seconds + " s");
        // Just over the limit, in ordinary lines.
        Files.writeString(cfg, Configs.absolute(gm(TWO), tmp) + "# a comment line\n".repeat((256 << 10) / 17 + 1));
        assertTrue(Files.size(cfg) > 256 << 10);
        Run over = Run.of("merge", cfg.toString(), tmp.resolve("out").toString());
        assertEquals(ExitCodes.USAGE, over.code(), over::toString);
        assertEquals("ugm: " + cfg + " is larger than 256 KiB, the most a config may be", over.errLine());
        assertFalse(Files.exists(tmp.resolve("out")));
        // At the limit, the worst line there is (one comment) is read quickly: well under a second here.
        String config = Configs.absolute(gm(TWO), tmp) + "# ";
        Files.writeString(cfg, config + "x".repeat((256 << 10) - config.length() - 1) + "\n");
        assertEquals(256 << 10, Files.size(cfg));
        start = System.nanoTime();
        Run limit = Run.of("merge", cfg.toString(), tmp.resolve("out").toString(), "--dry-run");
        seconds = (System.nanoTime() - start) / 1e9;
        assertEquals(0, limit.code(), limit::toString);
        assertTrue(seconds < 10, "read in " + seconds + " s");
    }

    @Test
    void aConfigThatNeverEndsIsRefusedAfter256Kib() throws Exception {
        Path zero = Path.of("/dev/zero");
        if (Files.isReadable(zero)) {
            Run r = Run.of("merge", zero.toString(), tmp.resolve("out").toString());
            assertEquals(ExitCodes.USAGE, r.code(), r::toString);
            assertEquals("ugm: /dev/zero is larger than 256 KiB, the most a config may be", r.errLine());
        }
        // A pipe whose writer goes on and on: ugm stops reading at the limit.
        Path fifo = tmp.resolve("config.fifo");
        Process mkfifo = new ProcessBuilder("mkfifo", fifo.toString()).inheritIO().start();
        org.junit.jupiter.api.Assumptions.assumeTrue(mkfifo.waitFor() == 0, "mkfifo is not available");
        Thread writer = Thread.ofPlatform().daemon().start(() -> {
            try (var w = Files.newBufferedWriter(fifo)) {
                w.write(gm(TWO));
                for (int i = 0; i < 1_000_000; i++) {
                    w.write("# and more\n");
                }
            } catch (IOException readerClosed) {
                // ugm stopped reading: the pipe is broken, as it should be
            }
        });
        Run r = Run.of("merge", fifo.toString(), tmp.resolve("out").toString());
        assertEquals(ExitCodes.USAGE, r.code(), r::toString);
        assertEquals("ugm: " + fifo + " is larger than 256 KiB, the most a config may be", r.errLine());
        writer.join(10_000);
        assertFalse(Files.exists(tmp.resolve("out")));
    }
}
