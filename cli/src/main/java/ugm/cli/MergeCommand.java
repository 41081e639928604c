package ugm.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.TypeConversionException;
import ugm.core.DType;
import ugm.core.UgmException;
import ugm.core.merge.MergePlan;
import ugm.core.merge.MergeReport;
import ugm.core.merge.MergeRequest;
import ugm.core.merge.Merger;
import ugm.core.merge.Method;
import ugm.io.Checkpoint;
import ugm.io.OutputFolder;
import ugm.io.ShardedWriter;

@Command(name = "merge", mixinStandardHelpOptions = true, versionProvider = Cli.Version.class, sortOptions = false, usageHelpAutoWidth = true,
        description = {"Merges fine-tuned models of one base into a new checkpoint folder.",
                "",
                "Methods:",
                "  gradient_matching  θ0 + Σ α_t (P0 + s_t H_t)/(P0 + Σ α_t s_t H_t) (θ_t − θ0),",
                "                     P0 = delta0 + s0 H0, α_t = lambda·weight_t (Daheim et al., ICLR 2024)",
                "  task_arithmetic    θ0 + Σ lambda·weight_t (θ_t − θ0)",
                "  linear             Σ w_t θ_t / Σ w_t (without the division when --no-normalize)",
                "  fisher             Σ w_t s_t H_t θ_t / Σ w_t s_t H_t",
                "  fisher_with_base   as fisher, with the base and its Fisher as one more model of weight 1",
                "",
                "Fishers default to <model>/hessian and <base>/hessian when those folders exist.",
                "The output is built beside --out under a temporary name and renamed into place only when complete.",
                ""},
        footer = {"", ExitCodes.HELP})
final class MergeCommand implements Callable<Integer> {

    @Mixin
    VerboseOption verbose;

    @Option(names = "--method", required = true, converter = MethodConverter.class, paramLabel = "M",
            description = "gradient_matching, task_arithmetic, linear, fisher or fisher_with_base.")
    Method method;

    @Option(names = "--base", paramLabel = "DIR", description = "The base (pretrained) model: a folder or a .safetensors file.")
    Path base;

    @Option(names = "--model", required = true, paramLabel = "DIR", description = "A fine-tuned model; repeat for each.")
    List<Path> models = new ArrayList<>();

    @Option(names = "--weight", paramLabel = "W", description = "Weight of each model, in --model order (default 1).")
    List<Float> weights = new ArrayList<>();

    @Option(names = "--fisher", paramLabel = "DIR", description = "Fisher of each model, in --model order (default <model>/hessian).")
    List<Path> fishers = new ArrayList<>();

    @Option(names = "--base-fisher", paramLabel = "DIR", description = "Fisher of the base (default <base>/hessian if it exists).")
    Path baseFisher;

    @Option(names = "--fisher-scale", paramLabel = "S", description = "Scale of each model's Fisher, in --model order, e.g. its training-set size (default 1).")
    List<Float> fisherScales = new ArrayList<>();

    @Option(names = "--base-fisher-scale", paramLabel = "S", defaultValue = "1", description = "Scale of the base Fisher (default ${DEFAULT-VALUE}).")
    float baseFisherScale;

    @Option(names = "--lambda", paramLabel = "L", defaultValue = "1", description = "Global factor on the weights (default ${DEFAULT-VALUE}).")
    float lambda;

    @Option(names = "--delta0", paramLabel = "D", defaultValue = "0", description = "Scalar prior precision δ0 >= 0 (default ${DEFAULT-VALUE}).")
    float delta0;

    @Option(names = "--remove", description = "Remove the models' tasks instead of adding them (gradient_matching, task_arithmetic).")
    boolean remove;

    @Option(names = "--clamp", paramLabel = "R", defaultValue = "0.1", description = "With --remove: clamp Hbar from below at R·P0 (default ${DEFAULT-VALUE}).")
    float clampRel;

    @Option(names = "--fisher-floor", paramLabel = "F", defaultValue = "0", description = "fisher, fisher_with_base: floor under every Fisher value (default ${DEFAULT-VALUE}).")
    float fisherFloor;

    @Option(names = "--no-normalize", negatable = false, description = "linear: do not divide by the sum of the weights.")
    boolean noNormalize;

    @Option(names = "--out-dtype", paramLabel = "T", converter = DTypeConverter.class, description = "Output dtype of floating tensors: bf16, f16, f32 or f64 (default: the base's, per tensor).")
    DType outDtype;

    @Option(names = "--shard-size", paramLabel = "SIZE", defaultValue = "5GB", converter = Sizes.class, description = "Largest output shard (default ${DEFAULT-VALUE}).")
    long shardSize;

    @Option(names = "--threads", paramLabel = "N", defaultValue = "0", description = "Worker threads (default: all processors).")
    int threads;

    @Option(names = "--force", description = "Replace a non-empty output folder (only once the merge has succeeded).")
    boolean force;

    @Option(names = "--quiet", description = "Print nothing but errors.")
    boolean quiet;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "The output folder.")
    Path out;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        if (threads < 0) {
            throw usage("--threads must be >= 0");
        }
        if (!fishers.isEmpty() && fishers.size() != models.size()) {
            throw usage(fishers.size() + " --fisher for " + models.size() + " --model; give one per model, in order");
        }
        OutputFolder.checkTarget(out, force);
        try (Inputs in = new Inputs()) {
            MergeRequest.Builder b = MergeRequest.builder(method)
                    .lambda(lambda).delta0(delta0).remove(remove).clampRel(clampRel).fisherFloor(fisherFloor)
                    .normalize(!noNormalize).baseFisherScale(baseFisherScale).outDtype(outDtype).threads(threads);
            Checkpoint baseCk = base == null ? null : in.open(base, "base model");
            b.base(baseCk);
            for (Path m : models) {
                b.model(in.open(m, "model"));
            }
            if (!weights.isEmpty()) {
                b.weights(floats(weights, "--weight"));
            }
            if (!fisherScales.isEmpty()) {
                b.fisherScales(floats(fisherScales, "--fisher-scale"));
            }
            if (method.needsFishers()) {
                for (int i = 0; i < models.size(); i++) {
                    Path f = fishers.isEmpty() ? models.get(i).resolve("hessian") : fishers.get(i);
                    if (fishers.isEmpty() && !Files.exists(f)) {
                        throw new UgmException(UgmException.Kind.USAGE, method + " needs a Fisher for " + models.get(i)
                                + ": give --fisher, or put it in " + f);
                    }
                    b.fisher(in.open(f, "Fisher"));
                }
                Path bf = baseFisher;
                if (bf == null && base != null && Files.isDirectory(base.resolve("hessian"))) {
                    bf = base.resolve("hessian");
                }
                if (bf != null) {
                    b.baseFisher(in.open(bf, "base Fisher"));
                }
            } else if (!fishers.isEmpty() || baseFisher != null) {
                throw usage(method + " takes no Fishers; drop --fisher/--base-fisher");
            }
            MergeRequest request = b.build();
            MergePlan plan = MergePlan.of(request).requireValid();
            if (!quiet) {
                plan.warnings().forEach(w -> spec.commandLine().getErr().println("ugm: warning: " + w));
            }
            MergeReport report;
            try (OutputFolder folder = OutputFolder.create(out, force)) {
                Map<String, String> metadata = new LinkedHashMap<>();
                metadata.put("format", "pt");
                metadata.put("merge_method", method.id());
                try (ShardedWriter writer = folder.shards(plan.outputs(), metadata, shardSize)) {
                    report = Merger.execute(plan, writer, bytes -> { });
                    writer.commit();
                }
                if (base != null && Files.isDirectory(base)) {
                    folder.copyModelFiles(base, outDtype);
                }
                folder.publish();
            }
            if (!quiet) {
                report.nonFinite().forEach(w -> spec.commandLine().getErr().println("ugm: warning: " + w));
                var pw = spec.commandLine().getOut();
                pw.printf(Locale.ROOT, "merged %d tensors with %s into %s: read %s, wrote %s in %.2f s (%.2f GB/s, %d threads, %s kernels)%n",
                        report.tensors(), method, out, Sizes.format(report.bytesRead()), Sizes.format(report.bytesWritten()),
                        report.seconds(), report.gigabytesPerSecond(), report.threads(), report.kernels());
                if (remove && method == Method.GRADIENT_MATCHING) {
                    pw.printf(Locale.ROOT, "removal: Hbar clamped at %s·P0 on %d elements%n", clampRel, report.clampedElements());
                }
            }
        }
        return ExitCodes.OK;
    }

    private static float[] floats(List<Float> l, String option) {
        float[] a = new float[l.size()];
        for (int i = 0; i < a.length; i++) {
            a[i] = l.get(i);
        }
        return a;
    }

    private static UgmException usage(String message) {
        return new UgmException(UgmException.Kind.USAGE, message);
    }

    /** The checkpoints this command opened, closed together. */
    private static final class Inputs implements AutoCloseable {
        private final List<Checkpoint> open = new ArrayList<>();

        Checkpoint open(Path p, String role) {
            if (!Files.exists(p)) {
                throw new UgmException(UgmException.Kind.INVALID_INPUT, role + " not found: " + p);
            }
            Checkpoint c = Checkpoint.open(p);
            open.add(c);
            return c;
        }

        @Override
        public void close() {
            for (Checkpoint c : open) {
                c.close();
            }
        }
    }

    static final class MethodConverter implements ITypeConverter<Method> {
        @Override
        public Method convert(String value) {
            Method m = Method.byId(value.toLowerCase(Locale.ROOT));
            if (m == null) {
                throw new TypeConversionException("unknown method '" + value + "'; known: " + Method.ids());
            }
            return m;
        }
    }

    static final class DTypeConverter implements ITypeConverter<DType> {
        @Override
        public DType convert(String value) {
            DType d = switch (value.toLowerCase(Locale.ROOT)) {
                case "bf16", "bfloat16" -> DType.BF16;
                case "f16", "fp16", "float16", "half" -> DType.F16;
                case "f32", "fp32", "float32", "float" -> DType.F32;
                case "f64", "fp64", "float64", "double" -> DType.F64;
                default -> null;
            };
            if (d == null) {
                throw new TypeConversionException("unknown dtype '" + value + "'; use bf16, f16, f32 or f64");
            }
            return d;
        }
    }
}
