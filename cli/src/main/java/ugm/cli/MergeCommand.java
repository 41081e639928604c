package ugm.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.TypeConversionException;
import ugm.core.DType;
import ugm.core.Printable;
import ugm.core.UgmException;
import ugm.core.merge.MergePlan;
import ugm.core.merge.MergeReport;
import ugm.core.merge.Parameter;
import ugm.core.merge.methods.Method;
import ugm.io.HubCache;
import ugm.io.OutputFolder;
import ugm.job.MergeJob;
import ugm.job.config.ConfigParser;
import ugm.job.config.MergeConfig;
import ugm.job.config.ModelRef;
import ugm.job.config.Setting;

@Command(name = "merge", mixinStandardHelpOptions = true, versionProvider = Cli.Version.class, sortOptions = false, usageHelpAutoWidth = true,
        customSynopsis = {"ugm merge CONFIG.yml OUT_DIR [--dry-run] [--force] [--quiet]",
                "          [--threads N] [--shard-size SIZE] [mergekit-yaml's flags]",
                "ugm merge --method M [--base DIR] --model DIR... [options] --out DIR"},
        footer = {"", MergekitFlags.FOOTER, "", ExitCodes.HELP})
final class MergeCommand implements Callable<Integer> {

    @Mixin
    VerboseOption verbose;

    @Parameters(index = "0", arity = "0..1", paramLabel = "CONFIG.yml", description = "A mergekit-style config (see the README).")
    Path config;

    @Parameters(index = "1", arity = "0..1", paramLabel = "OUT_DIR", description = "The output folder (with CONFIG.yml).")
    Path outDir;

    @Option(names = "--method", converter = MethodConverter.class, paramLabel = "M",
            description = "The method: one of those listed above.")
    Method method;

    @Option(names = "--base", paramLabel = "DIR", description = "The base (pretrained) model: a folder, a .safetensors or torch.save (.bin, .pt) file,"
            + " a Hugging Face model id (org/name[@revision]) in the local cache, or BASE+ADAPTER (a LoRA adapter folder applied to BASE).")
    String base;

    @Option(names = "--model", paramLabel = "DIR", description = "A fine-tuned model, as --base; repeat for each.")
    List<String> models = new ArrayList<>();

    @Option(names = "--weight", paramLabel = "W", description = "Weight of each model, in --model order (default 1).")
    List<Double> weights = new ArrayList<>();

    @Option(names = "--fisher", paramLabel = "DIR", description = "Fisher of each model, in --model order (default <model>/hessian).")
    List<String> fishers = new ArrayList<>();

    @Option(names = "--base-fisher", paramLabel = "DIR", description = "Fisher of the base (default <base>/hessian if it exists).")
    String baseFisher;

    @Option(names = "--fisher-scale", paramLabel = "S", description = "Scale of each model's Fisher, in --model order, e.g. its training-set size (default 1).")
    List<Double> fisherScales = new ArrayList<>();

    @Option(names = "--base-fisher-scale", paramLabel = "S", description = "Scale of the base Fisher (default 1).")
    Double baseFisherScale;

    @Option(names = "--lambda", paramLabel = "L", description = "Global factor on the weights (default 1).")
    Double lambda;

    @Option(names = "--delta0", paramLabel = "D", description = "Scalar prior precision δ0 >= 0 (default 0).")
    Double delta0;

    @Option(names = "--remove", description = "Remove the models' tasks instead of adding them (gradient_matching, task_arithmetic).")
    boolean remove;

    @Option(names = "--clamp", paramLabel = "R", description = "With --remove or a negative weight: clamp Hbar from below at R times the precision kept (P0 with --remove; default 0.1).")
    Double clampRel;

    @Option(names = "--fisher-floor", paramLabel = "F", description = "fisher, fisher_with_base: floor under every Fisher value (default 0).")
    Double fisherFloor;

    @Option(names = "--no-normalize", negatable = false, description = "linear, ties, ...: do not divide by the sum of the weights.")
    boolean noNormalize;

    @Option(names = "--normalize", negatable = false, description = "dare_*, breadcrumbs*, task_arithmetic: divide by the sum of the (surviving) weights.")
    boolean normalize;

    @Option(names = "--density", paramLabel = "D", description = "Fraction of each task vector kept, in --model order (ties, dare_*, breadcrumbs*, della*; default 1).")
    List<Double> densities = new ArrayList<>();

    @Option(names = "--gamma", paramLabel = "G", description = "breadcrumbs*: fraction of largest magnitudes dropped, in --model order (default 0.01).")
    List<Double> gammas = new ArrayList<>();

    @Option(names = "--epsilon", paramLabel = "E", description = "della*: half-width of the keep probabilities around the density, in --model order (default 0.15);"
            + " ram, ramplus_tl: the smallest |task vector| that counts as a change, the same for every model (default 1e-5).")
    List<Double> epsilons = new ArrayList<>();

    @Option(names = "--rescale", negatable = true, description = "Rescale the kept elements to the task vector's L1 norm (default: on for dare_* and della*, off otherwise).")
    Boolean rescale;

    @Option(names = "--t", paramLabel = "T", description = "slerp, nearswap: interpolation parameter (default 0.5).")
    Double t;

    @Option(names = "--filter-wise", description = "model_stock: one t per row (the last dimension) instead of one per tensor.")
    boolean filterWise;

    @Option(names = "--seed", paramLabel = "N", description = "Seed of the random sparsifiers (dare_*, della*; default 0).")
    Long seed;

    @Option(names = "--out-dtype", paramLabel = "T", converter = DTypes.class, description = "Output dtype of floating tensors: bf16, f16, f32 or f64 (default: the base's, per tensor).")
    DType outDtype;

    @Option(names = "--out", paramLabel = "DIR", description = "The output folder.")
    Path out;

    @Option(names = "--shard-size", paramLabel = "SIZE", converter = Sizes.class,
            description = "Largest output shard (default 5GB): 5GB or 5G or 5B (mergekit's) = 5·10^9 bytes, 2GiB, 500MB, 1.5GB, 1000000.")
    Long shardSize;

    @Option(names = "--dry-run", description = "Print the plan (every tensor's inputs and conversions, sizes, memory, problems) and write nothing.")
    boolean dryRun;

    @Mixin
    RunOptions run;

    @ArgGroup(exclusive = false, validate = false, heading = "%nmergekit-yaml's flags, with mergekit's meaning (the README has them all):%n")
    MergekitFlags mergekit = new MergekitFlags();

    picocli.CommandLine.Model.CommandSpec spec;

    /** picocli hands the command's model here as it builds it: the description lists the methods from {@link Method}. */
    @picocli.CommandLine.Spec
    void spec(picocli.CommandLine.Model.CommandSpec spec) {
        this.spec = spec;
        spec.usageMessage().description(description());
    }

    static String[] description() {
        List<String> lines = new ArrayList<>(List.of(
                "Merges fine-tuned models of one base into a new checkpoint folder, from a",
                "mergekit-style YAML config or from the options below.", "", "Methods:"));
        for (Method m : Method.values()) {
            wrap(String.format(Locale.ROOT, "  %-18s %s", m.id(), m.summary()), 21, lines);
        }
        lines.addAll(List.of("",
                "A model (or Fisher), in the config or the options, is a local path, relative to",
                "the working directory as in mergekit; else a Hugging Face model id org/name or",
                "org/name@revision in the local cache, found as huggingface_hub finds it",
                "(HF_HUB_CACHE, HF_HOME/hub, ~/.cache/huggingface/hub). ugm never downloads:",
                "fetch a model with huggingface-cli download ID.",
                "Fishers default to <model>/hessian and <base>/hessian when those folders exist.",
                "The output is built beside OUT_DIR under a temporary name and renamed into place",
                "only when complete; it also holds the config used (ugm_config.yml) and a model",
                "card (README.md, unless --no-write-model-card). An output that is, contains or",
                "lies inside an input is refused.", ""));
        return lines.toArray(String[]::new);
    }

    /** Breaks {@code text} at spaces into lines of at most 80 characters, later lines indented by {@code indent}. */
    static void wrap(String text, int indent, List<String> lines) {
        String rest = text;
        while (rest.length() > 80) {
            int cut = rest.lastIndexOf(' ', 80);
            if (cut <= indent) {
                break;
            }
            lines.add(rest.substring(0, cut));
            rest = " ".repeat(indent) + rest.substring(cut + 1);
        }
        lines.add(rest);
    }

    @Override
    public Integer call() {
        mergekit.check(run.quiet);
        int threads = mergekit.threads(run, spec.commandLine().getParseResult().hasMatchedOption("--threads"));
        MergeConfig cfg = config != null ? mergekit.seeded(fromConfig(), "the config's random_seed") : mergekit.seeded(fromFlags(), "--seed");
        Path target = outDir != null ? outDir : out;
        MergeJob.Options options = mergekit.options(run.force, mergekit.shardBytes(shardSize));
        if (!dryRun) {
            OutputFolder.checkTarget(target, run.force);
        }
        PrintWriter err = spec.commandLine().getErr();
        String note = mergekit.note();
        if (note != null && !run.quiet) {
            err.println(note);
        }
        try (MergeJob job = MergeJob.open(cfg, config, threads)) {
            if (dryRun) {
                return dryRun(job, target, options);
            }
            job.check(target, options);
            if (!run.quiet) {
                job.warnings(options).forEach(w -> err.println("ugm: warning: " + Printable.of(w)));
                job.recordedScales().forEach(l -> err.println("ugm: " + Printable.of(l)));
                err.flush();
            }
            MergePlan plan = job.plan();
            MergeReport report;
            try (Progress progress = Progress.start("merge", plan.bytesWritten(), plan.bytesRead(), plan.tensors().size(), err, run.quiet,
                    Cli.stderrIsTerminal)) {
                report = job.writeTo(target, options, progress, KernelSetup.executor());
            }
            if (!run.quiet) {
                report.nonFinite().forEach(w -> err.println("ugm: warning: " + Printable.of(w.toString())));
                // (Plain: the JDK's locale data, 25 ms, is not loaded for the last line of every merge)
                err.print(Plain.format("ugm: merged %d tensors with %s into %s: read %s, wrote %s in %.2f s (%.2f GB/s, %d threads, %s kernels)%n",
                        report.tensors(), job.config().method(), target, Sizes.format(report.bytesRead()), Sizes.format(report.bytesWritten()),
                        report.seconds(), report.gigabytesPerSecond(), report.threads(), report.kernels()));
                if (report.clampedElements() > 0) {
                    err.print(Plain.format("ugm: gradient matching: Hbar clamped from below on %d elements (tasks subtracted)%n", report.clampedElements()));
                }
                err.flush();
            }
        }
        return ExitCodes.OK;
    }

    private int dryRun(MergeJob job, Path target, MergeJob.Options options) {
        String status;
        boolean refused = false;
        try {
            OutputFolder.checkTarget(target, options.force());
            OutputFolder.requireApart(target, job.inputs());
            status = target + (java.nio.file.Files.exists(target) ? " (exists; would be replaced)" : " (would be created)");
        } catch (UgmException e) {
            status = target + ": " + e.getMessage();
            refused = true;
        }
        MergePlan plan = job.plan();
        job.scaleSources().forEach(l -> spec.commandLine().getOut().println("scale: " + Printable.of(l)));
        DryRun.print(plan, plan.request().method(), plan.request().threads(), status, job.warnings(options), spec.commandLine().getOut());
        PrintWriter err = spec.commandLine().getErr();
        if (!plan.problems().isEmpty()) {
            err.println("ugm: the dry run found " + plan.problems().size() + " problem(s), listed above");
            return ExitCodes.INVALID_INPUT;
        }
        try {
            job.checkArchitectures(options);
        } catch (UgmException e) {
            err.println("ugm: " + Printable.of(e.getMessage()));
            return ExitCodes.USAGE;
        }
        if (refused) {
            err.println("ugm: " + status);
            return ExitCodes.USAGE;
        }
        return ExitCodes.OK;
    }

    /** Options that do not describe the merge, so a config may come with them (and mergekit-yaml's flags). */
    private static final java.util.Set<String> RUN_OPTIONS = java.util.Set.of("--out", "--shard-size", "--dry-run", "--threads",
            "--force", "--quiet", "--verbose");

    /** The config form: no merge flags besides the run options and mergekit-yaml's flags. */
    private MergeConfig fromConfig() {
        boolean mergeOption = spec.commandLine().getParseResult().matchedOptions().stream()
                .anyMatch(o -> o.group() == null && !RUN_OPTIONS.contains(o.longestName()));
        if (mergeOption) {
            throw usage("give either CONFIG.yml OUT_DIR or the merge options (--method, --model, ...), not both");
        }
        if (outDir == null && out == null) {
            throw usage("the output folder is missing: ugm merge CONFIG.yml OUT_DIR");
        }
        if (outDir != null && out != null) {
            throw usage("give the output folder once: OUT_DIR or --out");
        }
        return ConfigParser.read(config, mergekit.cache());
    }

    /** The flags form, as the config it stands for (so both forms run the same code and write the same ugm_config.yml). */
    private MergeConfig fromFlags() {
        if (method == null) {
            throw usage("--method is required (or give CONFIG.yml OUT_DIR)");
        }
        if (models.isEmpty()) {
            throw usage("--model is required: give one per model to merge");
        }
        if (out == null) {
            throw usage("--out is required");
        }
        perModel(weights.size(), "--weight");
        perModel(fisherScales.size(), "--fisher-scale");
        perModel(fishers.size(), "--fisher");
        perModel(densities.size(), "--density");
        perModel(gammas.size(), "--gamma");
        perModel(epsilons.size(), "--epsilon");
        if (normalize && noNormalize) {
            throw usage("give --normalize or --no-normalize, not both");
        }
        HubCache cache = mergekit.cache();
        List<MergeConfig.Model> entries = new ArrayList<>();
        for (int i = 0; i < models.size(); i++) {
            Map<String, Setting> p = new LinkedHashMap<>();
            if (!weights.isEmpty()) {
                p.put(Parameter.WEIGHT.key(), new Setting.Number(weights.get(i)));
            }
            if (!fisherScales.isEmpty()) {
                p.put(Parameter.FISHER_SCALE.key(), new Setting.Number(fisherScales.get(i)));
            }
            if (!densities.isEmpty()) {
                p.put(Parameter.DENSITY.key(), new Setting.Number(densities.get(i)));
            }
            if (!gammas.isEmpty()) {
                p.put(Parameter.GAMMA.key(), new Setting.Number(gammas.get(i)));
            }
            if (!epsilons.isEmpty()) {
                p.put(Parameter.EPSILON.key(), new Setting.Number(epsilons.get(i)));
            }
            entries.add(new MergeConfig.Model(ref(models.get(i), cache), fishers.isEmpty() ? null : ref(fishers.get(i), cache), p));
        }
        Map<String, Setting> global = new LinkedHashMap<>();
        putNumber(global, Parameter.LAMBDA, lambda);
        putNumber(global, Parameter.DELTA0, delta0);
        putNumber(global, Parameter.BASE_FISHER_SCALE, baseFisherScale);
        putNumber(global, Parameter.CLAMP, clampRel);
        putNumber(global, Parameter.FISHER_FLOOR, fisherFloor);
        if (remove) {
            global.put(Parameter.REMOVE.key(), new Setting.Flag(true));
        }
        if (filterWise) {
            global.put(Parameter.FILTER_WISE.key(), new Setting.Flag(true));
        }
        if (noNormalize || normalize) {
            global.put(Parameter.NORMALIZE.key(), new Setting.Flag(normalize));
        }
        putNumber(global, Parameter.T, t);
        if (seed != null) {
            global.put(Parameter.RANDOM_SEED.key(), new Setting.Whole(seed));
        }
        if (rescale != null) {
            global.put(Parameter.RESCALE.key(), new Setting.Flag(rescale));
        }
        return new MergeConfig(method, ref(base, cache), ref(baseFisher, cache), entries, global, null,
                outDtype == null ? null : outDtype.torchName(), null, null, null);
    }

    private void perModel(int given, String option) {
        if (given != 0 && given != models.size()) {
            throw usage(given + " " + option + " for " + models.size() + " --model; give one per model, in order");
        }
    }

    private static void putNumber(Map<String, Setting> m, Parameter p, Double v) {
        if (v != null) {
            m.put(p.key(), new Setting.Number(v));
        }
    }

    private static ModelRef ref(String written, HubCache cache) {
        return written == null ? null : ModelRef.resolve(written, null, cache);
    }

    private static UgmException usage(String message) {
        return new UgmException(UgmException.Kind.USAGE, message);
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

}
