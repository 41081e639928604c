package ugm.demo;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.function.Supplier;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import ugm.core.exec.ChunkExecutor;

/** {@code ugm demo}: the built-in experiment. */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = {
                "Trains a small softmax classifier on a pretraining distribution and on several conflicting tasks,"
                        + " writes every model and its Fisher as model folders, merges them with each method through"
                        + " the engine, and compares the merges with the model trained jointly on all tasks.",
                "Prints a table (or JSON), and writes results.json and the lambda-sweep chart sweep.svg into the output folder."})
public final class DemoCommand implements Callable<Integer> {

    /** What runs the demo's merges: the command line passes its kernels and warm-up. */
    private final Supplier<ChunkExecutor> executor;

    public DemoCommand() {
        this(ChunkExecutor::defaults);
    }

    public DemoCommand(Supplier<ChunkExecutor> executor) {
        this.executor = executor;
    }

    @Spec
    CommandSpec spec;

    @Option(names = "--out", paramLabel = "DIR", description = "Output folder (default: a new temporary folder).")
    Path out;

    @Option(names = "--json", description = "Print the results as JSON instead of the table.")
    boolean json;

    @Option(names = "--seed", paramLabel = "N", defaultValue = "7", description = "Random seed (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--quick", description = "A smaller experiment (8 classes, 24 features, 4 tasks) that runs in about a second.")
    boolean quick;

    @Override
    public Integer call() throws IOException {
        Path dir = out != null ? Files.createDirectories(out) : Files.createTempDirectory("ugm-demo-");
        var err = spec.commandLine().getErr();
        var stdout = spec.commandLine().getOut();
        if (out == null) {
            err.println("ugm demo: writing to " + dir);
            err.flush();
        }
        Results r = new Experiment(quick ? Setup.quick(seed) : Setup.standard(seed), dir, executor.get()).run();
        ResultsJson.write(r, dir.resolve(Results.JSON));
        Files.writeString(dir.resolve(Results.CHART), SweepChart.svg(r));
        if (json) {
            stdout.println(ResultsJson.toJson(r));
        } else {
            ResultsTable.print(r, stdout);
        }
        stdout.flush();
        return 0;
    }
}
