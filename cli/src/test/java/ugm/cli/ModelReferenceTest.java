package ugm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import ugm.core.UgmException;
import ugm.core.exec.ChunkExecutor;
import ugm.core.merge.MergeProgress;
import ugm.io.Checkpoint;
import ugm.io.HubCache;
import ugm.job.MergeJob;
import ugm.job.config.ConfigParser;
import ugm.job.config.MergeConfig;

/**
 * Models named as mergekit names them: local paths relative to the working directory, Hugging
 * Face ids ({@code org/name[@revision]}) read from a local cache laid out as huggingface_hub lays
 * it out (snapshot files linking into blobs/), never downloaded.
 */
class ModelReferenceTest {
    @TempDir
    static Path tmp;
    static Path family;
    static Path root;
    static HubCache cache;

    static final String MAIN = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    static final String OTHER = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    /** A sharded family with Fishers, and a cache holding it as org/base, org/task-1, org/task-2; org/task-1 at v2 is task-2. */
    @BeforeAll
    static void familyAndCache() throws IOException {
        family = tmp.resolve("family");
        Run r = Run.of("family", family.toString(), "--size", "4MB", "--tasks", "2", "--shard-size", "300kB");
        assertEquals(0, r.code(), r::toString);
        root = tmp.resolve("hf/hub");
        put(root, "org/base", "main", MAIN, family.resolve("base"));
        put(root, "org/task-1", "main", MAIN, family.resolve("task-1"));
        put(root, "org/task-1", "v2", OTHER, family.resolve("task-2"));
        put(root, "org/task-2", "main", MAIN, family.resolve("task-2"));
        cache = new HubCache(root);
    }

    /** Puts the folder {@code local} into the cache as {@code id} at commit {@code sha}, which {@code refs/<branch>} names. */
    static void put(Path root, String id, String branch, String sha, Path local) throws IOException {
        Path repo = root.resolve("models--" + id.replace("/", "--"));
        Path snapshot = repo.resolve("snapshots").resolve(sha);
        try (Stream<Path> s = Files.walk(local)) {
            for (Path f : s.filter(Files::isRegularFile).toList()) {
                byte[] bytes = Files.readAllBytes(f);
                Path blob = Files.createDirectories(repo.resolve("blobs")).resolve(sha256(bytes));
                if (!Files.exists(blob)) {
                    Files.write(blob, bytes);
                }
                Path link = snapshot.resolve(local.relativize(f).toString());
                Files.createDirectories(link.getParent());
                Files.createSymbolicLink(link, link.getParent().relativize(blob));
            }
        }
        Files.createDirectories(repo.resolve("refs"));
        Files.writeString(repo.resolve("refs").resolve(branch), sha);
    }

    private static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }

    private static Path snapshot(String id, String sha) {
        return root.resolve("models--" + id.replace("/", "--")).resolve("snapshots").resolve(sha);
    }

    private static Path config(String name, String yaml) throws IOException {
        return Files.writeString(tmp.resolve(name), yaml);
    }

    /** The config's merge, through the library with the test's cache. */
    private static void merge(Path cfg, Path out) {
        try (MergeJob job = MergeJob.open(ConfigParser.read(cfg, cache), cfg, 0)) {
            job.writeTo(out, MergeJob.Options.defaults(), MergeProgress.NONE, ChunkExecutor.defaults());
        }
    }

    /** The same merge from the family's local folders, by the flags. */
    private static Path flags(String name, String... args) {
        Path out = tmp.resolve(name);
        List<String> a = new ArrayList<>(List.of("merge"));
        a.addAll(List.of(args));
        a.addAll(List.of("--quiet", "--out", out.toString()));
        Run r = Run.of(a.toArray(String[]::new));
        assertEquals(0, r.code(), r::toString);
        return out;
    }

    @Test
    void hubIdsMergeAsTheirSnapshotFoldersWithTheFishersInThem() throws IOException {
        Path cfg = config("hub.yml", "merge_method: gradient_matching\nbase_model: org/base\nmodels:\n"
                + "  - model: org/task-1\n  - model: org/task-2\n    parameters: {weight: 0.5}\n");
        Path out = tmp.resolve("from-hub");
        merge(cfg, out);
        Path local = flags("from-folders", "--method", "gradient_matching", "--base", family.resolve("base").toString(),
                "--model", family.resolve("task-1").toString(), "--model", family.resolve("task-2").toString(),
                "--weight", "1", "--weight", "0.5");
        ConfigMergeTest.assertSameFiles(ConfigMergeTest.files(out, "ugm_config.yml", "README.md"),
                ConfigMergeTest.files(local, "ugm_config.yml", "README.md"));
        assertTrue(Files.exists(out.resolve("config.json")), "the base's config.json, a link into blobs/, is copied");

        // ugm_config.yml names the models by their ids, so running it again reads the cache again.
        String yaml = Files.readString(out.resolve("ugm_config.yml"));
        assertTrue(yaml.contains("base_model: org/base\n") && yaml.contains("- model: org/task-1\n")
                && yaml.contains("- model: org/task-2\n"), yaml);
        MergeConfig again = ConfigParser.read(out.resolve("ugm_config.yml"), cache);
        assertEquals("org/base", again.base().hubId());
        assertEquals(snapshot("org/base", MAIN), again.base().path());
        assertEquals(List.of(snapshot("org/task-1", MAIN), snapshot("org/task-2", MAIN)),
                again.models().stream().map(m -> m.model().path()).toList());
        assertEquals(yaml, again.toYaml());

        // The card's front matter names the base by its id; its body names the inputs and the Fishers read.
        String card = Files.readString(out.resolve("README.md"));
        JsonNode front = frontMatter(card);
        assertEquals("org/base", front.get("base_model").asText());
        assertEquals("transformers", front.get("library_name").asText());
        assertTrue(card.contains("`org/task-1`") && card.contains(snapshot("org/task-2", MAIN).resolve("hessian").toString())
                && card.contains(snapshot("org/base", MAIN).resolve("hessian").toString()), card);
    }

    static JsonNode frontMatter(String card) throws IOException {
        assertTrue(card.startsWith("---\n"), card);
        int end = card.indexOf("\n---\n", 3);
        return new YAMLMapper().readTree(card.substring(4, end + 1));
    }

    @Test
    void mergekitsTransformersCacheNamesTheCache() throws IOException {
        Path out = tmp.resolve("from-transformers-cache");
        Run r = Run.of("merge", "--method", "linear", "--model", "org/task-1", "--model", "org/task-2",
                "--transformers-cache", root.toString(), "--quiet", "--out", out.toString());
        assertEquals(0, r.code(), r::toString);
        Path local = flags("linear-from-folders", "--method", "linear", "--model", family.resolve("task-1").toString(),
                "--model", family.resolve("task-2").toString());
        try (Checkpoint a = Checkpoint.open(out); Checkpoint b = Checkpoint.open(local)) {
            for (var t : b.tensors()) {
                assertEquals(-1, a.data(t.name()).mismatch(b.data(t.name())), t.name());
            }
        }
    }

    @Test
    void aRevisionIsABranchOrACommit() throws IOException {
        Path task2 = flags("task-2-alone", "--method", "linear", "--model", family.resolve("task-2").toString());
        for (String rev : new String[] {"v2", OTHER}) {
            Path out = tmp.resolve("rev-" + rev);
            merge(config("rev-" + rev + ".yml", "merge_method: linear\nmodels:\n  - model: org/task-1@" + rev + "\n"), out);
            ConfigMergeTest.assertSameFiles(ConfigMergeTest.files(out, "ugm_config.yml", "README.md"),
                    ConfigMergeTest.files(task2, "ugm_config.yml", "README.md"));
            String yaml = Files.readString(out.resolve("ugm_config.yml"));
            assertTrue(yaml.contains("- model: org/task-1@" + rev + "\n"), yaml);
            assertEquals(snapshot("org/task-1", OTHER), ConfigParser.read(out.resolve("ugm_config.yml"), cache).models().get(0).model().path());
        }
        Path main = tmp.resolve("rev-main");
        merge(config("rev-main.yml", "merge_method: linear\nmodels:\n  - model: org/task-1@main\n"), main);
        Path task1 = flags("task-1-alone", "--method", "linear", "--model", family.resolve("task-1").toString());
        ConfigMergeTest.assertSameFiles(ConfigMergeTest.files(main, "ugm_config.yml", "README.md"),
                ConfigMergeTest.files(task1, "ugm_config.yml", "README.md"));
        assertNull(frontMatter(Files.readString(main.resolve("README.md"))).get("base_model"), "no base, no base_model");
    }

    @Test
    void anIdOrRevisionTheCacheLacksIsOneLineSayingHowToFetchIt() throws IOException {
        Path cfg = config("absent.yml", "merge_method: linear\nmodels:\n  - model: org/task-1@v9\n  - model: org/task-2\n");
        UgmException e = assertThrows(UgmException.class, () -> merge(cfg, tmp.resolve("absent-out")));
        assertEquals(ExitCodes.INVALID_INPUT, ExitCodes.of(e.kind()));
        assertEquals("model org/task-1@v9 is not in the Hugging Face cache (" + root + ") and "
                + Path.of("org/task-1@v9").toAbsolutePath() + " does not exist; fetch it with: huggingface-cli download org/task-1 --revision v9",
                e.getMessage());
        assertFalse(Files.exists(tmp.resolve("absent-out")));

        // The command line, with the environment's cache (which does not hold this id).
        Run r = Run.of("merge", "--method", "linear", "--model", "nobody-here/no-such-model", "--model",
                family.resolve("task-1").toString(), "--out", tmp.resolve("absent-cli").toString());
        assertEquals(ExitCodes.INVALID_INPUT, r.code(), r::toString);
        assertTrue(r.errLine().startsWith("ugm: model nobody-here/no-such-model is not in the Hugging Face cache (")
                && r.errLine().endsWith("; fetch it with: huggingface-cli download nobody-here/no-such-model"), r.err());
        Run base = Run.of("merge", "--method", "task_arithmetic", "--base", "nobody-here/no-base@r1", "--model",
                family.resolve("task-1").toString(), "--out", tmp.resolve("absent-cli").toString());
        assertEquals(ExitCodes.INVALID_INPUT, base.code(), base::toString);
        assertTrue(base.errLine().startsWith("ugm: base model nobody-here/no-base@r1 is not in the Hugging Face cache (")
                && base.errLine().endsWith("huggingface-cli download nobody-here/no-base --revision r1"), base.err());
        assertFalse(Files.exists(tmp.resolve("absent-cli")));
    }

    @Test
    void aPathThatCannotBeAnIdIsSimplyNotFound() {
        for (String typo : new String[] {"famly/task-1/x", "./task-1", "/no/such/model", "a model"}) {
            Run r = Run.of("merge", "--method", "linear", "--model", typo, "--model", family.resolve("task-1").toString(),
                    "--out", tmp.resolve("typo").toString());
            assertEquals(ExitCodes.INVALID_INPUT, r.code(), r::toString);
            assertEquals("ugm: model not found: " + Path.of(typo).toAbsolutePath().normalize(), r.errLine());
        }
    }

    @Test
    void aLocalPathWinsOverTheCache() throws IOException {
        // A folder org/task-1 in the working directory is read, not the cache's org/task-1 (here by the flags).
        Path cwdRelative = tmp.resolve("cwd");
        Files.createDirectories(cwdRelative.resolve("org"));
        Files.createSymbolicLink(cwdRelative.resolve("org/task-1"), family.resolve("task-2"));
        Process p = ugm(cwdRelative, Map.of("HF_HUB_CACHE", root.toString()), "merge", "--method", "linear", "--model", "org/task-1",
                "--out", "out", "--quiet");
        assertEquals(0, p.exitValue(), () -> stderr(cwdRelative));
        Path task2 = flags("local-task-2", "--method", "linear", "--model", family.resolve("task-2").toString());
        ConfigMergeTest.assertSameFiles(ConfigMergeTest.files(cwdRelative.resolve("out"), "ugm_config.yml", "README.md"),
                ConfigMergeTest.files(task2, "ugm_config.yml", "README.md"));
        assertTrue(Files.readString(cwdRelative.resolve("out/ugm_config.yml")).contains("- model: " + cwdRelative.resolve("org/task-1")));
    }

    @Test
    void relativePathsAreRelativeToTheWorkingDirectoryNotTheConfig() throws IOException {
        // Run in tmp, the config in tmp/configs: its paths name tmp/family/...
        Files.createDirectories(tmp.resolve("configs"));
        Files.writeString(tmp.resolve("configs/merge.yml"), "merge_method: task_arithmetic\nbase_model: family/base\nmodels:\n"
                + "  - model: family/task-1\n  - model: family/task-2\n");
        Process p = ugm(tmp, Map.of(), "merge", "configs/merge.yml", "cwd-out", "--quiet");
        assertEquals(0, p.exitValue(), () -> stderr(tmp));
        Path local = flags("cwd-flags", "--method", "task_arithmetic", "--base", family.resolve("base").toString(),
                "--model", family.resolve("task-1").toString(), "--model", family.resolve("task-2").toString());
        ConfigMergeTest.assertSameFiles(ConfigMergeTest.files(tmp.resolve("cwd-out"), "README.md"),
                ConfigMergeTest.files(local, "README.md"));
    }

    @Test
    void aPathFoundOnlyBesideTheConfigSaysSoInOneLine() throws IOException {
        // The working directory (the module's) has no family/; the config's folder has.
        Path cfg = config("beside.yml", "merge_method: linear\nmodels:\n  - model: family/task-1\n  - model: family/task-2\n");
        Run r = Run.of("merge", cfg.toString(), tmp.resolve("beside-out").toString());
        assertEquals(ExitCodes.INVALID_INPUT, r.code(), r::toString);
        assertEquals("ugm: model not found: " + Path.of("family/task-1").toAbsolutePath() + " (paths are relative to the working"
                + " directory, as in mergekit; relative to the config file it is " + family.resolve("task-1") + ")", r.errLine());
        assertFalse(Files.exists(tmp.resolve("beside-out")));
        // An id the cache holds is the cache's, even with a folder of that name beside the config: no error, no hint.
        Path dir = Files.createDirectories(tmp.resolve("beside/org/task-1")).getParent().getParent();
        Path beside = Files.writeString(dir.resolve("merge.yml"), "merge_method: linear\nmodels:\n  - model: org/task-1\n");
        assertEquals(snapshot("org/task-1", MAIN), ConfigParser.read(beside, cache).models().get(0).model().path());
    }

    @Test
    void theCommandLineFindsTheCacheAsHuggingfaceHubDoes() throws IOException {
        // HF_HOME/hub holds the cache when HF_HUB_CACHE is unset...
        Path home = tmp.resolve("hf-home");
        put(home.resolve("hub"), "org/task-1", "main", MAIN, family.resolve("task-1"));
        Path work = Files.createDirectories(tmp.resolve("env-work"));
        Process p = ugm(work, Map.of("HF_HOME", home.toString()), "merge", "--method", "linear", "--model", "org/task-1",
                "--out", "out", "--quiet");
        assertEquals(0, p.exitValue(), () -> stderr(work));
        // ...and HF_HUB_CACHE, when set, instead.
        Path empty = Files.createDirectories(tmp.resolve("empty-cache"));
        Process q = ugm(work, Map.of("HF_HOME", home.toString(), "HF_HUB_CACHE", empty.toString()), "merge", "--method", "linear",
                "--model", "org/task-1", "--out", "out2");
        assertEquals(ExitCodes.INVALID_INPUT, q.exitValue(), () -> stderr(work));
        List<String> lines = Files.readString(work.resolve("err.txt")).lines().filter(l -> !l.contains("incubator")).toList();
        assertEquals(1, lines.size(), lines::toString);
        assertTrue(lines.get(0).startsWith("ugm: model org/task-1 is not in the Hugging Face cache (" + empty + ")"), lines.get(0));
    }

    /** ugm as a process in {@code cwd} with the Hugging Face variables unset but for {@code env}; stderr in cwd/err.txt. */
    static Process ugm(Path cwd, Map<String, String> env, String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElseThrow(),
                "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-XX:-UsePerfData",
                "-Dugm.warm-up=false", "-cp", System.getProperty("java.class.path"), Main.class.getName()));
        cmd.addAll(List.of(args));
        ProcessBuilder b = new ProcessBuilder(cmd).directory(cwd.toFile())
                .redirectOutput(cwd.resolve("out.txt").toFile()).redirectError(cwd.resolve("err.txt").toFile());
        for (String v : new String[] {"HF_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME"}) {
            b.environment().remove(v);
        }
        b.environment().putAll(env);
        Process p = b.start();
        try {
            if (!p.waitFor(3, TimeUnit.MINUTES)) {
                p.destroyForcibly();
                throw new AssertionError("ugm did not end");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
        return p;
    }

    private static String stderr(Path cwd) {
        try {
            return Files.readString(cwd.resolve("err.txt"));
        } catch (IOException e) {
            return e.toString();
        }
    }
}
