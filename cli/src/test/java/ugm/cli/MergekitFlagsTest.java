package ugm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static ugm.cli.ConfigMergeTest.assertSameFiles;
import static ugm.cli.ConfigMergeTest.files;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;
import ugm.io.Checkpoint;
import ugm.job.MergeJob;

/** mergekit-yaml's command line: each of its flags honoured, mapped, accepted with one note, or refused, as the README says. */
class MergekitFlagsTest {
    @TempDir
    static Path tmp;
    static Path family;
    /** A dare_ties merge of the family without a random_seed. */
    static Path dare;
    static int tensors;

    @BeforeAll
    static void writeFamily() throws IOException {
        family = tmp.resolve("family");
        Run r = Run.of("family", family.toString(), "--size", "2MB", "--tasks", "2");
        assertEquals(0, r.code(), r::toString);
        dare = write("dare.yml", "");
        try (Checkpoint base = Checkpoint.open(family.resolve("base"))) {
            tensors = base.tensors().size();
        }
    }

    private static Path write(String name, String parameters) throws IOException {
        return Files.writeString(tmp.resolve(name), Configs.absolute("""
                merge_method: dare_ties
                base_model: family/base
                models:
                  - model: family/task-1
                    parameters: {weight: 0.6, density: 0.5}
                  - model: family/task-2
                    parameters: {weight: 0.4, density: 0.5}
                """, tmp) + parameters);
    }

    /** {@code ugm merge CONFIG OUT extra...}. */
    private static Run merge(Path config, String out, String... extra) {
        List<String> a = new ArrayList<>(List.of("merge", config.toString(), tmp.resolve(out).toString()));
        a.addAll(List.of(extra));
        return Run.of(a.toArray(String[]::new));
    }

    private static Run ok(Run r) {
        assertEquals(0, r.code(), r::toString);
        return r;
    }

    private static List<String> listing(String out) throws IOException {
        try (Stream<Path> s = Files.list(tmp.resolve(out))) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    /** The plain run every accepted flag must reproduce byte for byte. */
    private static TreeMap<String, byte[]> plain() throws IOException {
        if (!Files.exists(tmp.resolve("plain"))) {
            ok(merge(dare, "plain", "--quiet"));
        }
        return files(tmp.resolve("plain"));
    }

    private static void assertRefused(Run r, String line, String out) {
        assertEquals(ExitCodes.USAGE, r.code(), r::toString);
        assertEquals("ugm: " + line, r.errLine());
        assertFalse(Files.exists(tmp.resolve(out)), "nothing written");
    }

    @Test
    void outShardSizeCountsBillionsOfBytesAsMergekitDoes() throws IOException {
        ok(merge(dare, "one", "--quiet", "--out-shard-size", "1B"));
        assertEquals(List.of("README.md", "config.json", "model.safetensors", "ugm_config.yml"), listing("one"));
        assertSameFiles(plain(), files(tmp.resolve("one")));
        ok(merge(dare, "unlimited", "--quiet", "--out-shard-size", "0"));
        assertSameFiles(plain(), files(tmp.resolve("unlimited")));

        // ugm's --shard-size reads 5B the same way: one file, where 5 bytes gives one shard per tensor
        ok(merge(dare, "five-billion", "--quiet", "--shard-size", "5B"));
        assertSameFiles(plain(), files(tmp.resolve("five-billion")));
        ok(merge(dare, "five-bytes", "--quiet", "--shard-size", "5"));
        assertEquals(tensors, listing("five-bytes").stream().filter(n -> n.matches("model-\\d{5}-of-\\d{5}\\.safetensors")).count());

        assertRefused(merge(dare, "both", "--shard-size", "5GB", "--out-shard-size", "5B"), "give --shard-size or --out-shard-size, not both",
                "both");
        Run garbage = merge(dare, "garbage", "--out-shard-size", "5 bytes");
        assertEquals(ExitCodes.USAGE, garbage.code(), garbage::toString);
        assertEquals("ugm: Invalid value for option '--out-shard-size': '5 bytes' is not a size (examples: 5GB, 5B as mergekit writes it,"
                + " 500MB, 2GiB, 1000000)", garbage.err().lines().findFirst().orElseThrow());
        assertFalse(Files.exists(tmp.resolve("garbage")));
    }

    @Test
    void hardwareFlagsAreAcceptedWithOneNote() throws IOException {
        Run r = ok(merge(dare, "gpu", "--cuda", "--device", "cuda:0", "--low-cpu-memory", "--read-to-gpu", "--multi-gpu", "--gpu-rich",
                "--lazy-unpickle", "--async-write", "--write-threads", "4"));
        List<String> notes = r.err().lines().filter(l -> l.startsWith("ugm: note:")).toList();
        assertEquals(List.of("ugm: note: ignoring --cuda, --device cuda:0, --low-cpu-memory, --read-to-gpu, --multi-gpu, --gpu-rich,"
                + " --lazy-unpickle, --async-write, --write-threads 4: ugm always merges on the CPU, streaming from memory-mapped inputs"), notes);
        assertSameFiles(plain(), files(tmp.resolve("gpu")));

        Run one = ok(merge(dare, "cuda", "--cuda"));
        assertEquals(1, one.err().lines().filter(l -> l.startsWith("ugm: note: ignoring --cuda: ")).count(), one.err());
        Run quiet = ok(merge(dare, "cuda-quiet", "--cuda", "--lazy-unpickle", "--quiet"));
        assertEquals("", quiet.err());
    }

    @Test
    void flagsAskingForWhatUgmDoesAnywayAreAcceptedSilently() throws IOException {
        Run r = ok(merge(dare, "silent", "--no-cuda", "--device", "cpu", "--no-low-cpu-memory", "--no-read-to-gpu", "--no-multi-gpu",
                "--no-lazy-unpickle", "--no-async-write", "--clone-tensors", "--safe-serialization", "--no-trust-remote-code",
                "--no-allow-crimes", "--copy-tokenizer", "--write-model-card", "--no-quiet", "--transformers-cache", tmp.toString(),
                "--lora-merge-cache", tmp.toString(), "--lora-merge-dtype", "bfloat16"));
        assertFalse(r.err().contains("note"), r.err());
        assertSameFiles(plain(), files(tmp.resolve("silent")));
        ok(merge(dare, "no-clone", "--quiet", "--no-clone-tensors", "--no-copy-tokenizer", "--allow-crimes"));
        assertSameFiles(plain(), files(tmp.resolve("no-clone")));
    }

    @Test
    void whatUgmCannotDoIsRefusedInOneLine() {
        assertRefused(merge(dare, "trc", "--trust-remote-code", "--cuda"),
                "--trust-remote-code is refused: ugm runs no model code (it reads tensors and copies the base's files)", "trc");
        assertRefused(merge(dare, "pickle", "--no-safe-serialization"), "--no-safe-serialization is refused: ugm writes only safetensors",
                "pickle");
        assertRefused(merge(dare, "quiet", "--quiet", "--no-quiet"), "give --quiet or --no-quiet, not both", "quiet");
        assertRefused(merge(dare, "threads", "--threads", "1", "-j", "1"), "give --threads or -j/--num-threads, not both", "threads");
        assertRefused(merge(dare, "minus", "-j", "-1"), "-j/--num-threads must be >= 0", "minus");
        Run loader = merge(dare, "loader", "--lazy-loader"); // not one of mergekit-yaml's flags
        assertEquals(ExitCodes.USAGE, loader.code(), loader::toString);
        assertEquals("ugm: Unknown option: '--lazy-loader'", loader.err().lines().findFirst().orElseThrow());
    }

    @Test
    void noWriteModelCardLeavesOutTheReadmeOnly() throws IOException {
        ok(merge(dare, "no-card", "--quiet", "--no-write-model-card"));
        assertEquals(List.of("config.json", "model.safetensors", "ugm_config.yml"), listing("no-card"));
        TreeMap<String, byte[]> expected = plain();
        expected.remove("README.md");
        assertSameFiles(expected, files(tmp.resolve("no-card")));
    }

    @Test
    void jIsThreads() throws IOException {
        Run threads = ok(merge(dare, "threads-1", "--threads", "1"));
        Run j = ok(merge(dare, "j-1", "-j", "1"));
        Run numThreads = ok(merge(dare, "num-threads-1", "--num-threads", "1"));
        for (Run r : List.of(threads, j, numThreads)) {
            assertTrue(r.err().contains(" 1 threads, "), r.err());
        }
        assertSameFiles(files(tmp.resolve("threads-1")), files(tmp.resolve("j-1")));
        assertSameFiles(files(tmp.resolve("threads-1")), files(tmp.resolve("num-threads-1")));
        assertSameFiles(plain(), files(tmp.resolve("j-1")));
    }

    @Test
    void randomSeedIsTheConfigsRandomSeed() throws IOException {
        ok(merge(dare, "rs-7", "--quiet", "--random-seed", "7"));
        ok(merge(write("seed-7.yml", "parameters: {random_seed: 7}\n"), "config-7", "--quiet"));
        byte[] seven = Files.readAllBytes(tmp.resolve("rs-7/model.safetensors"));
        assertTrue(Arrays.equals(Files.readAllBytes(tmp.resolve("config-7/model.safetensors")), seven));
        assertFalse(Arrays.equals(plain().get("model.safetensors"), seven), "seed 7 dropped what the default seed 0 dropped");
        assertTrue(Files.readString(tmp.resolve("rs-7/ugm_config.yml")).contains("random_seed: 7"));

        // given twice: the same seed is fine, two seeds are a usage error naming both
        ok(merge(tmp.resolve("seed-7.yml"), "again-7", "--quiet", "--random-seed", "7"));
        assertSameFiles(files(tmp.resolve("config-7")), files(tmp.resolve("again-7")));
        assertRefused(merge(tmp.resolve("seed-7.yml"), "seed-8", "--random-seed", "8"),
                "--random-seed 8 and the config's random_seed 7 differ: give one seed", "seed-8");
        Path out = tmp.resolve("flags-seeds");
        Run flags = Run.of("merge", "--method", "dare_ties", "--base", family.resolve("base").toString(), "--model",
                family.resolve("task-1").toString(), "--density", "0.5", "--seed", "3", "--random-seed", "4", "--out", out.toString());
        assertRefused(flags, "--random-seed 4 and --seed 3 differ: give one seed", "flags-seeds");

        // methods that draw no random numbers ignore it, as mergekit's do, without a warning about random_seed
        Path linear = Files.writeString(tmp.resolve("linear.yml"),
                Configs.absolute("merge_method: linear\nmodels: [{model: family/task-1}, {model: family/task-2}]\n", tmp));
        Run r = ok(merge(linear, "linear", "--random-seed", "7"));
        assertFalse(r.err().contains("random_seed"), r.err());
        assertFalse(Files.readString(tmp.resolve("linear/ugm_config.yml")).contains("random_seed"));
    }

    @Test
    void theFlagsFormTakesThemToo() throws IOException {
        List<String> a = new ArrayList<>(List.of("merge", "--method", "dare_ties", "--base", family.resolve("base").toString(),
                "--model", family.resolve("task-1").toString(), "--model", family.resolve("task-2").toString(),
                "--weight", "0.6", "--weight", "0.4", "--density", "0.5", "--density", "0.5", "--out", tmp.resolve("flags").toString(),
                "--out-shard-size", "1B", "--no-write-model-card", "-j", "1", "--random-seed", "7", "--lazy-unpickle", "--quiet"));
        ok(Run.of(a.toArray(String[]::new)));
        ok(merge(write("seed-7-flags.yml", "parameters: {random_seed: 7}\n"), "config-7-flags", "--quiet"));
        assertEquals(List.of("config.json", "model.safetensors", "ugm_config.yml"), listing("flags"));
        assertTrue(Arrays.equals(Files.readAllBytes(tmp.resolve("config-7-flags/model.safetensors")),
                Files.readAllBytes(tmp.resolve("flags/model.safetensors"))));
    }

    @Test
    void theJobGetsTheOutputFlags() {
        assertEquals(MergeJob.Options.defaults(), options());
        assertEquals(new MergeJob.Options(false, 5_000_000_000L, true, true, false), options());
        assertEquals(new MergeJob.Options(true, 1_000_000_000L, false, false, true),
                options("--force", "--out-shard-size", "1B", "--no-copy-tokenizer", "--no-write-model-card", "--allow-crimes"));
        assertEquals(new MergeJob.Options(false, 3_000_000L, true, true, false), options("--shard-size", "3M", "--copy-tokenizer"));
    }

    private static MergeJob.Options options(String... flags) {
        MergeCommand c = new MergeCommand();
        List<String> a = new ArrayList<>(List.of("merge.yml", "out"));
        a.addAll(List.of(flags));
        new CommandLine(c).parseArgs(a.toArray(String[]::new));
        return c.mergekit.options(c.run.force, c.mergekit.shardBytes(c.shardSize));
    }

    @Test
    void mergekitsVerbosityFlagIsVerbose() throws IOException {
        ok(merge(dare, "vv", "--quiet", "-vv"));
        Run r = merge(tmp.resolve("missing.yml"), "missing", "-v");
        assertEquals(ExitCodes.USAGE, r.code(), r::toString);
        assertTrue(r.err().contains("\tat ugm."), "-v shows the stack trace: " + r.err());
    }

    @Test
    void helpListsEveryMergekitYamlFlag() {
        String help = Run.of("merge", "--help").out();
        for (String flag : new String[] {"--out-shard-size", "--[no-]copy-tokenizer", "--[no-]write-model-card", "--[no-]allow-crimes",
                "--random-seed", "-j, --num-threads", "--no-quiet", "--[no-]clone-tensors", "--[no-]safe-serialization",
                "--[no-]trust-remote-code", "-v, --verbose", "--[no-]cuda", "--device D", "--[no-]low-cpu-memory", "--[no-]read-to-gpu",
                "--[no-]multi-gpu", "--gpu-rich", "--[no-]lazy-unpickle", "--[no-]async-write", "--write-threads N",
                "--transformers-cache=DIR", "--lora-merge-cache DIR", "--lora-merge-dtype T", "mergekit-yaml's flags"}) {
            assertTrue(help.contains(flag), "merge --help lacks " + flag);
        }
    }
}
