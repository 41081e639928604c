package ugm.demo;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.w3c.dom.Document;
import picocli.CommandLine;
import ugm.core.DType;
import ugm.core.TensorInfo;
import ugm.io.SafetensorsFile;

/** Runs {@code demo --quick} once as a table and once as JSON, and checks what it claims to write. */
class DemoPipelineTest {
    static final List<String> METHODS = List.of("linear", "task_arithmetic", "task_arithmetic_tuned", "fisher",
            "fisher_with_base", "gradient_matching", "gradient_matching_empirical_fisher", "gradient_matching_tuned",
            "gradient_matching_full_hessian");
    static final List<String> SCORE_KEYS = List.of("mean_accuracy", "distance_to_target", "per_task_accuracy",
            "gradient_mismatch", "validation_accuracy");

    @TempDir
    static Path tmp;
    static Path tableDir;
    static Path jsonDir;
    static String tableOut;
    static String jsonOut;
    static Setup setup = Setup.quick(7);

    @BeforeAll
    static void runTwice() {
        tableDir = tmp.resolve("table");
        jsonDir = tmp.resolve("json");
        tableOut = run("--quick", "--out", tableDir.toString());
        jsonOut = run("--quick", "--json", "--out", jsonDir.toString());
    }

    private static String run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cl = new CommandLine(new DemoCommand());
        cl.setOut(new PrintWriter(out));
        cl.setErr(new PrintWriter(err));
        int code = cl.execute(args);
        assertEquals(0, code, "demo failed: " + err);
        return out.toString();
    }

    @Test
    void writesEveryModelFolderItClaims() {
        List<Path> folders = new ArrayList<>(List.of(Path.of("base"), Path.of("target")));
        for (int t = 0; t < setup.tasks(); t++) {
            folders.add(Path.of("task-" + (t + 1)));
        }
        for (String m : List.of("linear", "task_arithmetic", "fisher", "fisher_with_base", "gradient_matching",
                "gradient_matching-empirical-fisher", "gradient_matching-full-hessian")) {
            folders.add(Path.of("merged-" + m));
        }
        for (double lambda : setup.lambdas()) {
            String tag = Experiment.lambdaTag(lambda);
            folders.add(Path.of("sweep", "task_arithmetic-" + tag));
            folders.add(Path.of("sweep", "gradient_matching-" + tag));
        }
        for (double lambda : Setup.REMOVAL_LAMBDAS) {
            String tag = Experiment.lambdaTag(lambda);
            folders.add(Path.of("removal", "task_arithmetic-" + tag));
            folders.add(Path.of("removal", "gradient_matching-" + tag));
        }
        List<TensorInfo> expected = List.of(new TensorInfo("layer.weight", DType.F32, new long[] {setup.classes(), setup.features()}),
                new TensorInfo("layer.bias", DType.F32, new long[] {setup.classes()}));
        for (Path f : folders) {
            assertSafetensors(jsonDir.resolve(f).resolve("model.safetensors"), expected);
        }
        for (String name : List.of("base", "task-1", "task-" + setup.tasks())) {
            assertSafetensors(jsonDir.resolve(name).resolve("hessian").resolve("model.safetensors"), expected);
            assertSafetensors(jsonDir.resolve(name).resolve("hessian-empirical").resolve("model.safetensors"), expected);
        }
        assertTrue(Files.isRegularFile(jsonDir.resolve("results.json")));
        assertTrue(Files.isRegularFile(jsonDir.resolve("sweep.svg")));
        assertTrue(Files.isRegularFile(jsonDir.resolve("removal.svg")));
    }

    private static void assertSafetensors(Path file, List<TensorInfo> expected) {
        assertTrue(Files.isRegularFile(file), "missing " + file);
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertEquals(Set.copyOf(expected), Set.copyOf(f.tensors()), file.toString());
        }
    }

    @Test
    void jsonHasTheIssuesShapeAndConsistentNumbers() throws Exception {
        String file = Files.readString(jsonDir.resolve("results.json"));
        assertEquals(file.strip(), jsonOut.strip(), "--json prints what results.json holds");
        Map<String, Object> root = Json.object(Json.parse(file));
        Map<String, Object> methods = Json.object(root.get("methods"));
        assertEquals(METHODS, List.copyOf(methods.keySet()));
        for (Object scores : methods.values()) {
            checkScores(Json.object(scores));
        }
        Map<String, Object> target = Json.object(root.get("target"));
        checkScores(target);
        assertEquals(0.0, Json.number(target.get("distance_to_target")));
        assertTrue(Json.number(target.get("gradient_mismatch")) < 1e-4, "the target solves the joint objective");

        List<Object> sweep = Json.array(root.get("sweep"));
        assertEquals(14, sweep.size());
        for (int i = 0; i < sweep.size(); i++) {
            Map<String, Object> p = Json.object(sweep.get(i));
            assertEquals((i + 2) / 10.0, Json.number(p.get("lambda")), 1e-12);
            checkScores(Json.object(p.get("task_arithmetic")));
            checkScores(Json.object(p.get("gradient_matching")));
        }
        // λ = 1 in the sweep is the same merge as the methods table's.
        Map<String, Object> atOne = Json.object(sweep.get(8));
        assertEquals(methods.get("gradient_matching"), atOne.get("gradient_matching"));
        assertEquals(methods.get("task_arithmetic"), atOne.get("task_arithmetic"));

        Map<String, Object> removal = Json.object(root.get("removal"));
        assertEquals(List.of("base", "task_arithmetic", "gradient_matching"), List.copyOf(Json.object(removal.get("models")).keySet()));
        List<Object> removalSweep = Json.array(removal.get("sweep"));
        assertEquals(Setup.REMOVAL_LAMBDAS.length, removalSweep.size());
        for (Object o : removalSweep) {
            Map<String, Object> models = Json.object(Json.object(o).get("models"));
            Map<String, Object> ta = Json.object(models.get("task_arithmetic"));
            Map<String, Object> gm = Json.object(models.get("gradient_matching"));
            assertEquals(0.0, Json.number(ta.get("clamped_elements")));
            double share = Json.number(gm.get("clamped_share_of_step"));
            assertTrue(share >= 0 && share <= 1, "share " + share);
            assertEquals(Json.number(gm.get("clamped_elements")) == 0, share == 0, "a share without clamped elements or none with them");
        }

        // One seed: the mean is that seed's run, and nothing is paired.
        List<Object> runs = Json.array(root.get("runs"));
        assertEquals(1, runs.size());
        assertEquals(root.get("methods"), Json.object(runs.get(0)).get("methods"));
        assertEquals(List.of(7.0), Json.array(root.get("seeds")));
        assertEquals("synthetic", root.get("data"));
        Map<String, Object> tuned = Json.object(root.get("tuned_lambda"));
        for (String key : List.of("task_arithmetic_tuned", "gradient_matching_tuned")) {
            double lambda = Json.number(tuned.get(key));
            String method = key.replace("_tuned", "");
            // The tuned line is the sweep point at that λ, the one with the best validation accuracy.
            double best = -1;
            Object atTuned = null;
            for (Object p : sweep) {
                Map<String, Object> point = Json.object(p);
                double v = Json.number(Json.object(point.get(method)).get("validation_accuracy"));
                best = Math.max(best, v);
                if (Json.number(point.get("lambda")) == lambda) {
                    atTuned = point.get(method);
                }
            }
            assertEquals(atTuned, methods.get(key));
            assertEquals(best, Json.number(Json.object(atTuned).get("validation_accuracy")));
        }
    }

    private static void checkScores(Map<String, Object> s) {
        assertEquals(SCORE_KEYS, List.copyOf(s.keySet()));
        List<Object> perTask = Json.array(s.get("per_task_accuracy"));
        assertEquals(setup.tasks(), perTask.size());
        double mean = 0;
        for (Object a : perTask) {
            double v = Json.number(a);
            assertTrue(v >= 0 && v <= 1, "accuracy " + v);
            mean += v / perTask.size();
        }
        assertEquals(mean, Json.number(s.get("mean_accuracy")), 1e-12);
        assertTrue(Json.number(s.get("distance_to_target")) >= 0);
        assertTrue(Json.number(s.get("gradient_mismatch")) >= 0);
    }

    @Test
    void sameSeedGivesTheSameResultsWhateverTheOutputMode() throws Exception {
        assertEquals(Files.readString(tableDir.resolve("results.json")), Files.readString(jsonDir.resolve("results.json")));
        Layout layout = new SoftmaxRegression(setup.classes(), setup.features()).layout();
        assertArrayEquals(Checkpoints.read(tableDir.resolve("merged-gradient_matching/model.safetensors"), layout),
                Checkpoints.read(jsonDir.resolve("merged-gradient_matching/model.safetensors"), layout));
    }

    @Test
    void tableListsEveryMethodAndWhereTheFilesAre() {
        for (String row : List.of("base (pretrained)", "target (joint training)", "linear (averaging)",
                "task_arithmetic (lambda = 1)", "task_arithmetic (lambda tuned)", "fisher_with_base",
                "gradient_matching (alpha = 1)", "gradient_matching (empirical Fisher)", "gradient_matching (lambda tuned)",
                "gradient_matching (full Hessian)", "Removal: task 1")) {
            assertTrue(tableOut.contains(row), "table lacks " + row + ":\n" + tableOut);
        }
        assertTrue(tableOut.contains(tableDir.resolve("sweep.svg").toString()), tableOut);
        assertTrue(tableOut.contains(tableDir.resolve("removal.svg").toString()), tableOut);
        assertTrue(tableOut.contains("lambda"), tableOut);
    }

    @Test
    void taskArithmeticFileIsTheBasePlusTheTaskVectors() {
        Layout layout = new SoftmaxRegression(setup.classes(), setup.features()).layout();
        double[] base = Checkpoints.read(jsonDir.resolve("base/model.safetensors"), layout);
        double[] want = base.clone();
        for (int t = 0; t < setup.tasks(); t++) {
            double[] task = Checkpoints.read(jsonDir.resolve("task-" + (t + 1) + "/model.safetensors"), layout);
            for (int j = 0; j < want.length; j++) {
                want[j] += task[j] - base[j];
            }
        }
        double[] got = Checkpoints.read(jsonDir.resolve("merged-task_arithmetic/model.safetensors"), layout);
        for (int j = 0; j < want.length; j++) {
            assertEquals(want[j], got[j], 1e-5 * (1 + Math.abs(want[j])), "element " + j);
        }
    }

    @Test
    void chartsAreWellFormedSvgWithTheirCurves() throws Exception {
        DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
        f.setNamespaceAware(true);
        Document svg = f.newDocumentBuilder().parse(jsonDir.resolve("sweep.svg").toFile());
        assertEquals("svg", svg.getDocumentElement().getLocalName());
        // Accuracy panel: target, base, both methods; distance panel: both methods.
        assertEquals(6, svg.getElementsByTagName("polyline").getLength());
        String text = Files.readString(jsonDir.resolve("sweep.svg"));
        assertTrue(text.contains(">task_arithmetic<") && text.contains(">gradient_matching<"), "legend");
        assertTrue(text.contains("λ (scaling factor)"), "x axis label");

        Document removal = f.newDocumentBuilder().parse(jsonDir.resolve("removal.svg").toFile());
        // Trade-off panel: both methods and the base; clamp panel: share of the step and clamped elements.
        assertEquals(5, removal.getElementsByTagName("polyline").getLength());
        String r = Files.readString(jsonDir.resolve("removal.svg"));
        assertTrue(r.contains("accuracy left on task1 (%)"), "x axis label");
    }
}
