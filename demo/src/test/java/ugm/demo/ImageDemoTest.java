package ugm.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;
import ugm.core.UgmException;
import ugm.core.merge.MergeReport;
import ugm.core.merge.methods.Method;

/**
 * {@code demo --data DIR --quick --seeds 2} on a small made-up image set in Fashion-MNIST's
 * format (gzipped IDX files): the whole image pipeline, without the real data set.
 */
class ImageDemoTest {
    @TempDir
    static Path tmp;
    static Path data;
    static Path out;
    static String table;
    static Map<String, Object> json;

    /** n 28×28 images of 10 classes: each class a bright bar at its own place, plus noise. */
    private static void write(Path dir, String prefix, int n, long seed) throws IOException {
        SplittableRandom r = new SplittableRandom(seed);
        byte[] images = new byte[n * 784];
        byte[] labels = new byte[n];
        for (int i = 0; i < n; i++) {
            int y = i % 10;
            labels[i] = (byte) y;
            for (int p = 0; p < 784; p++) {
                int row = p / 28;
                int col = p % 28;
                boolean bar = y < 5 ? Math.abs(row - (4 + 4 * y)) < 2 && col > 5 && col < 22
                        : Math.abs(col - (4 + 4 * (y - 5))) < 2 && row > 5 && row < 22;
                double v = (bar ? 160 : 20) + 60 * r.nextGaussian();
                images[i * 784 + p] = (byte) Math.max(0, Math.min(255, (int) v));
            }
        }
        Files.write(dir.resolve(prefix + "-images-idx3-ubyte.gz"), IdxTest.gzip(IdxTest.idx(new int[] {n, 28, 28}, images)));
        Files.write(dir.resolve(prefix + "-labels-idx1-ubyte.gz"), IdxTest.gzip(IdxTest.idx(new int[] {n}, labels)));
    }

    @BeforeAll
    static void run() throws Exception {
        data = Files.createDirectories(tmp.resolve("data"));
        write(data, "train", 3000, 1);
        write(data, "t10k", 1000, 2);
        out = tmp.resolve("out");
        table = run(0, "--data", data.toString(), "--quick", "--seeds", "2", "--out", out.toString());
        json = Json.object(Json.parse(Files.readString(out.resolve("results.json"))));
    }

    /** Runs the demo with the CLI's mapping of errors to one line and an exit code; checks the code. */
    private static String run(int expectedCode, String... args) {
        StringWriter o = new StringWriter();
        StringWriter e = new StringWriter();
        CommandLine cl = new CommandLine(new DemoCommand());
        cl.setOut(new PrintWriter(o));
        cl.setErr(new PrintWriter(e));
        cl.setExecutionExceptionHandler((ex, c, p) -> {
            if (ex instanceof UgmException u) {
                c.getErr().println("ugm: " + u.getMessage());
                return switch (u.kind()) { // the command line's codes
                    case USAGE -> 2;
                    case INVALID_INPUT -> 3;
                    case IO -> 4;
                };
            }
            throw ex;
        });
        int code = cl.execute(args);
        cl.getErr().flush();
        assertEquals(expectedCode, code, "exit code; stderr: " + e);
        return expectedCode == 0 ? o.toString() : e.toString();
    }

    @Test
    void everySeedWritesItsModelsFishersAndMerges() {
        for (String seed : List.of("seed-7", "seed-8")) {
            Path s = out.resolve(seed);
            List<Path> files = new ArrayList<>(List.of(Path.of("base", "model.safetensors"), Path.of("base", "hessian", "model.safetensors"),
                    Path.of("base", "hessian-empirical", "model.safetensors"), Path.of("target", "model.safetensors"),
                    Path.of("merged-gradient_matching-full-hessian", "model.safetensors"),
                    Path.of("removal", "gradient_matching-lambda-4.0", "model.safetensors"),
                    Path.of("sweep", "task_arithmetic-lambda-2.0", "model.safetensors")));
            for (int t = 1; t <= 5; t++) {
                files.add(Path.of("task-" + t, "hessian", "model.safetensors"));
            }
            for (Path f : files) {
                assertTrue(Files.isRegularFile(s.resolve(f)), "missing " + s.resolve(f));
            }
        }
        assertTrue(Files.isRegularFile(out.resolve("sweep.svg")) && Files.isRegularFile(out.resolve("removal.svg")));
    }

    @Test
    void jsonHasTheMeanTheRunsAndThePairs() {
        assertEquals("fashion-mnist", json.get("data"));
        assertEquals(List.of(7.0, 8.0), Json.array(json.get("seeds")));
        List<String> methods = DemoPipelineTest.METHODS;
        Map<String, Object> mean = Json.object(json.get("methods"));
        assertEquals(methods, List.copyOf(mean.keySet()));
        List<Object> runs = Json.array(json.get("runs"));
        assertEquals(2, runs.size());
        for (String key : methods) {
            double a = Json.number(Json.object(Json.object(Json.object(runs.get(0)).get("methods")).get(key)).get("mean_accuracy"));
            double b = Json.number(Json.object(Json.object(Json.object(runs.get(1)).get("methods")).get(key)).get("mean_accuracy"));
            assertEquals((a + b) / 2, Json.number(Json.object(mean.get(key)).get("mean_accuracy")), 1e-12, key);
            double sd = Json.number(Json.object(Json.object(Json.object(json.get("spread")).get("methods")).get(key)).get("mean_accuracy_sd"));
            assertEquals(Math.abs(a - b) / Math.sqrt(2), sd, 1e-12, key);
        }
        List<Object> paired = Json.array(json.get("paired"));
        assertEquals(5, paired.size());
        Map<String, Object> first = Json.object(paired.get(0));
        assertEquals("gradient_matching", first.get("a"));
        assertEquals("task_arithmetic", first.get("b"));
        double[] d = new double[2];
        for (int i = 0; i < 2; i++) {
            Map<String, Object> m = Json.object(Json.object(runs.get(i)).get("methods"));
            d[i] = Json.number(Json.object(m.get("gradient_matching")).get("mean_accuracy"))
                    - Json.number(Json.object(m.get("task_arithmetic")).get("mean_accuracy"));
        }
        assertEquals((d[0] + d[1]) / 2, Json.number(Json.object(first.get("mean_accuracy_difference")).get("mean")), 1e-12);
        assertEquals((d[0] > 0 ? 1 : 0) + (d[1] > 0 ? 1 : 0), Json.number(first.get("seeds_a_more_accurate")));
        Map<String, Object> setup = Json.object(json.get("setup"));
        assertEquals(49.0, Json.number(setup.get("features")));
        assertEquals(List.of("rot+15", "rot-15", "down3", "flip", "zoom"), Json.array(setup.get("task_names")));
    }

    @Test
    void theDataSetIsLearnedAndTheTargetSolvesTheJointObjective() {
        Map<String, Object> target = Json.object(json.get("target"));
        assertTrue(Json.number(target.get("mean_accuracy")) > 0.5, "the bars are easy: " + target);
        assertTrue(Json.number(target.get("gradient_mismatch")) < 1e-5, target.toString());
    }

    @Test
    void tableShowsTheSeedsThePairsAndTheFullHessianLine() {
        for (String s : List.of("Seeds 7, 8", "gradient_matching (full Hessian)", "Paired over the 2 seeds",
                "rot+15 rot-15  down3   flip   zoom", "TA, same", "fashion-mnist: 28x28 images averaged over 4x4 blocks to 7x7")) {
            assertTrue(table.contains(s), "table lacks '" + s + "':\n" + table);
        }
    }

    @Test
    void aMissingDataSetIsOneLineSayingWhatToInstall() throws IOException {
        Path empty = Files.createDirectories(tmp.resolve("empty"));
        String err = run(3, "--data", empty.toString(), "--out", tmp.resolve("x").toString());
        assertEquals(1, err.strip().lines().count(), err);
        assertTrue(err.contains("has no train-images-idx3-ubyte(.gz)") && err.contains("apt-get install dataset-fashion-mnist"), err);
        String usage = run(2, "--data", tmp.resolve("no-such-folder").toString(), "--out", tmp.resolve("y").toString());
        assertTrue(usage.contains("--data must be 'synthetic', 'fashion-mnist' or a folder"), usage);
        String truncated = run(3, "--data", truncatedCopy().toString(), "--out", tmp.resolve("z").toString());
        assertTrue(truncated.contains("t10k-labels-idx1-ubyte.gz: truncated"), truncated);
    }

    private static Path truncatedCopy() throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("truncated"));
        for (String f : ImageData.FILES) {
            Files.copy(data.resolve(f + ".gz"), dir.resolve(f + ".gz"));
        }
        byte[] labels = IdxTest.idx(new int[] {1000}, new byte[999]);
        Files.write(dir.resolve("t10k-labels-idx1-ubyte.gz"), IdxTest.gzip(labels));
        return dir;
    }

    @Test
    void theClampTheDemoMeasuresIsTheOneTheEngineApplies() {
        // Seed 7's removal sweep: the engine's count of clamped elements against the demo's own mask.
        Path s = out.resolve("seed-7");
        Layout layout = new SoftmaxRegression(10, 49).layout();
        double[] h0 = Checkpoints.read(Checkpoints.fisher(s.resolve("base"), Checkpoints.HESSIAN), layout);
        double[] h1 = Checkpoints.read(Checkpoints.fisher(s.resolve("task-1"), Checkpoints.HESSIAN), layout);
        EngineMerge merge = new EngineMerge(s.resolve("base"), List.of(s.resolve("task-1")), Checkpoints.HESSIAN,
                new float[] {500}, 1000, 1f, ugm.core.exec.ChunkExecutor.defaults());
        boolean any = false;
        for (double lambda : Setup.REMOVAL_LAMBDAS) {
            MergeReport report = merge.run(Method.GRADIENT_MATCHING, (float) lambda, true, tmp.resolve("clamp").resolve("model.safetensors"));
            long mine = 0;
            for (boolean b : Experiment.clamped(h0, h1, 1f, 1000, 500, (float) lambda)) {
                mine += b ? 1 : 0;
            }
            assertEquals(report.clampedElements(), mine, "lambda " + lambda);
            any |= mine > 0;
        }
        assertTrue(any, "some lambda clamps");
    }
}
