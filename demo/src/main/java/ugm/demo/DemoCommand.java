package ugm.demo;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.function.Supplier;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import ugm.core.exec.ChunkExecutor;
import ugm.core.UgmException;
import ugm.demo.SoftmaxRegression.FisherKind;

/** {@code ugm demo}: the built-in experiment, on synthetic data or on Fashion-MNIST. */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = {
                "Trains a small softmax classifier on a pretraining set and fine-tunes it on several tasks,"
                        + " writes every model and its Fisher as model folders, merges them with each method through"
                        + " the engine, and compares the merges with the model trained jointly on all tasks.",
                "Prints a table (or JSON), and writes results.json and the charts sweep.svg (lambda sweep) and"
                        + " removal.svg (removing a task) into the output folder."})
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

    @Option(names = "--data", paramLabel = "DATA", defaultValue = "synthetic",
            description = "'synthetic' (built in, the default), 'fashion-mnist' (the IDX files of Debian's"
                    + " dataset-fashion-mnist package, in /usr/share/datasets/fashion-mnist) or a folder holding"
                    + " Fashion-MNIST's four IDX files (gzipped or plain).")
    String data;

    @Option(names = "--seed", paramLabel = "N", defaultValue = "7", description = "Random seed (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--seeds", paramLabel = "N", defaultValue = "1",
            description = "Run the seeds --seed, --seed+1, ...: N of them, and report means, standard deviations and"
                    + " paired differences (default: ${DEFAULT-VALUE}).")
    int seeds;

    @Option(names = "--fisher", paramLabel = "KIND", defaultValue = "exact",
            description = "The stored diagonal Fisher: 'exact' (closed form, the expectation over the model's own"
                    + " predictions) or 'sampled' (one label per example drawn from them) (default: ${DEFAULT-VALUE}).")
    String fisher;

    @Option(names = "--quick", description = "A smaller experiment, for tests: synthetic 8 classes, 24 features, 4 tasks;"
            + " images pooled to 7x7, 1,000 base images and tasks of 500 down to 100.")
    boolean quick;

    @Override
    public Integer call() throws IOException {
        if (seeds < 1 || seeds > 1000) {
            throw usage("--seeds must be between 1 and 1000, not " + seeds);
        }
        FisherKind kind = switch (fisher) {
            case "exact" -> FisherKind.EXACT;
            case "sampled" -> FisherKind.SAMPLED;
            default -> throw usage("--fisher must be 'exact' or 'sampled', not '" + fisher + "'");
        };
        Setup first = setup(kind);
        Path dir = out != null ? Files.createDirectories(out) : Files.createTempDirectory("ugm-demo-");
        var err = spec.commandLine().getErr();
        var stdout = spec.commandLine().getOut();
        if (out == null) {
            err.println("ugm demo: writing to " + dir);
            err.flush();
        }
        List<Results> runs = new ArrayList<>();
        for (int i = 0; i < seeds; i++) {
            long s = seed + i;
            Path runDir = seeds == 1 ? dir : dir.resolve("seed-" + s);
            if (seeds > 1) {
                err.printf("ugm demo: seed %d (%d of %d)%n", s, i + 1, seeds);
                err.flush();
            }
            runs.add(new Experiment(first.withSeed(s), runDir, executor.get()).run());
        }
        Summary summary = Summary.of(runs);
        Summary report = new Summary(summary.runs(), withOut(summary.mean(), dir));
        ResultsJson.write(report, dir.resolve(Results.JSON));
        Files.writeString(dir.resolve(Results.CHART), SweepChart.svg(report));
        Files.writeString(dir.resolve(Results.REMOVAL_CHART), SweepChart.removalSvg(report));
        if (json) {
            stdout.println(ResultsJson.toJson(report));
        } else {
            ResultsTable.print(report, stdout);
        }
        stdout.flush();
        return 0;
    }

    private Setup setup(FisherKind kind) {
        Path folder = switch (data) {
            case "synthetic" -> null;
            case "fashion-mnist" -> ImageData.FASHION_MNIST_DIR;
            default -> {
                Path p = Path.of(data);
                if (!Files.isDirectory(p)) {
                    throw usage("--data must be 'synthetic', 'fashion-mnist' or a folder"
                            + " with the IDX files; '" + data + "' is none of these");
                }
                yield p;
            }
        };
        if (folder == null) {
            return (quick ? Setup.quick(seed) : Setup.standard(seed)).withFisher(kind);
        }
        ImageData images = ImageData.load("fashion-mnist", folder, quick ? 4 : 2, quick ? 100 : 500, quick ? 200 : 2000);
        return ImageData.setup(images, seed, quick, kind);
    }

    private static UgmException usage(String message) {
        return new UgmException(UgmException.Kind.USAGE, message);
    }

    private static Results withOut(Results r, Path dir) {
        return new Results(r.setup(), dir, r.base(), r.target(), r.taskModelOwnAccuracy(), r.methods(), r.tunedLambda(),
                r.sweep(), r.removedBase(), r.removal(), r.seconds());
    }
}
