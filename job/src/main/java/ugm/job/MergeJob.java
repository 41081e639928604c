package ugm.job;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import ugm.core.UgmException;
import ugm.core.exec.ChunkExecutor;
import ugm.core.merge.MergePlan;
import ugm.core.merge.MergeProgress;
import ugm.core.merge.MergeReport;
import ugm.core.merge.MergeRequest;
import ugm.core.merge.Merger;
import ugm.io.OutputFolder;
import ugm.io.ShardedWriter;
import ugm.job.config.ConfigParser;
import ugm.job.config.MergeConfig;

/**
 * A merge as a mergekit-style config describes it, from the inputs to a published model folder:
 * what {@code ugm merge} does, as one library call. {@link #open} opens the checkpoints and plans
 * (problems are listed, not thrown, so a dry run can show them); {@link #writeTo} checks, merges
 * and publishes the folder: sharded safetensors, the other files of the base (or with no base of
 * the first model) as mergekit writes them ({@link OutputFiles}: config.json with {@code torch_dtype}
 * updated, tokenizer, chat template, ...), {@code ugm_config.yml} and a model card (unless
 * {@link Options#writeModelCard} is off). Closing
 * the job closes the checkpoints. Not thread-safe; one job per merge.
 *
 * <pre>{@code
 * try (MergeJob job = MergeJob.open(Path.of("merge.yml"), 0)) {
 *     job.writeTo(Path.of("merged"), MergeJob.Options.defaults(), MergeProgress.NONE, ChunkExecutor.defaults());
 * }
 * }</pre>
 */
public final class MergeJob implements AutoCloseable {
    private final MergeConfig config;
    /** The config file the merge was read from, or null. */
    private final Path configFile;
    private final MergeSetup setup;
    private final MergeRequest request;
    private final MergePlan plan;

    private MergeJob(MergeConfig config, Path configFile, MergeSetup setup, MergeRequest request, MergePlan plan) {
        this.config = config;
        this.configFile = configFile;
        this.setup = setup;
        this.request = request;
        this.plan = plan;
    }

    /**
     * How the output is written, with mergekit's defaults.
     *
     * @param force          replace an existing non-empty folder (only once the new one is complete)
     * @param shardBytes     largest output shard, in bytes of tensor data (a larger tensor gets a shard alone)
     * @param copyTokenizer  write the tokenizer's files (mergekit's {@code --copy-tokenizer}); a tokenizer
     *                       source in the config writes them whatever this says, as in mergekit
     * @param writeModelCard write the model card {@code README.md} (mergekit's {@code --write-model-card})
     * @param allowCrimes    allow models of different architectures (mergekit's {@code --allow-crimes})
     */
    public record Options(boolean force, long shardBytes, boolean copyTokenizer, boolean writeModelCard, boolean allowCrimes) {
        /** 5 GB shards (5·10⁹ bytes), the tokenizer copied, a model card, one architecture, an existing non-empty folder refused. */
        public static Options defaults() {
            return new Options(false, 5_000_000_000L, true, true, false);
        }
    }

    /** Reads the config at {@code file} and opens its merge: {@link #open(MergeConfig, int)}. */
    public static MergeJob open(Path file, int threads) {
        return open(ConfigParser.read(file), file, threads);
    }

    /**
     * Opens the checkpoints the config names, finds the Fishers, resolves every parameter per
     * tensor, and plans the merge with {@code threads} workers (0: all processors).
     *
     * @throws ugm.core.UgmException when an input is missing or unreadable, or the config cannot be used
     */
    public static MergeJob open(MergeConfig config, int threads) {
        return open(config, null, threads);
    }

    /** As {@link #open(MergeConfig, int)}, for a config read from {@code configFile} (an input like the checkpoints; null for none). */
    public static MergeJob open(MergeConfig config, Path configFile, int threads) {
        MergeSetup setup = new MergeSetup(config);
        try {
            MergeRequest request = setup.request(threads);
            return new MergeJob(config, configFile, setup, request, MergePlan.of(request));
        } catch (RuntimeException | Error e) {
            setup.close();
            throw e;
        }
    }

    public MergeConfig config() {
        return config;
    }

    public MergeRequest request() {
        return request;
    }

    /** The plan, with its problems (empty when the merge can run). */
    public MergePlan plan() {
        return plan;
    }

    /** What the user should hear before the merge (ignored parameters, extra tensors, skipped side files, ...). */
    public List<String> warnings() {
        List<String> w = new ArrayList<>(setup.warnings());
        w.addAll(plan.warnings());
        return w;
    }

    /** {@link #warnings()}, and what {@code options} leave undone (a chat template without the tokenizer copied). */
    public List<String> warnings(Options options) {
        List<String> w = warnings();
        w.addAll(setup.outputFiles().warnings(options.copyTokenizer()));
        return w;
    }

    /** Where each Fisher scale came from (given, a Fisher's recorded example count, the default), one line each. */
    public List<String> scaleSources() {
        return setup.scaleSources();
    }

    /** The scales taken from the Fishers' recorded example counts, one line each: worth telling the user. */
    public List<String> recordedScales() {
        return setup.recordedScales();
    }

    /** Every file and folder the merge reads (checkpoints, shards, Fishers, the config file): the output must lie apart. */
    public List<Path> inputs() {
        List<Path> inputs = new ArrayList<>(setup.inputs());
        if (configFile != null) {
            inputs.add(configFile);
        }
        return inputs;
    }

    /**
     * Everything {@link #writeTo} checks before it writes: the target is an empty or absent folder
     * (or {@code force}), it holds no input and lies in none, the inputs' architectures agree (or
     * {@code allowCrimes}), and the plan has no problem.
     *
     * @throws ugm.core.UgmException (usage for the target and the architectures, invalid input for the plan)
     */
    public void check(Path target, Options options) {
        OutputFolder.checkTarget(target, options.force());
        OutputFolder.requireApart(target, inputs());
        checkArchitectures(options);
        plan.requireValid();
    }

    /**
     * Refuses models (and a base) whose config.json name different architectures
     * ({@code architectures} or {@code model_type}), unless {@code allowCrimes}, as mergekit
     * does; then the difference is one of the {@link #warnings}. Inputs without a config.json
     * are not compared.
     *
     * @throws ugm.core.UgmException (usage) naming the two inputs and their architectures
     */
    public void checkArchitectures(Options options) {
        String mismatch = setup.architectureMismatch();
        if (mismatch != null && !options.allowCrimes()) {
            throw new UgmException(UgmException.Kind.USAGE, mismatch + "; --allow-crimes merges them anyway");
        }
    }

    /**
     * Merges into a new model folder at {@code target}, built beside it under a temporary name and
     * renamed into place only when complete (an existing folder is replaced only then, with
     * {@code force}). Before publishing, every input is checked to be the file that was read.
     */
    public MergeReport writeTo(Path target, Options options, MergeProgress progress, ChunkExecutor executor) {
        check(target, options);
        String yaml = config.toYaml();
        MergeReport report;
        try (OutputFolder folder = OutputFolder.create(target, options.force())) {
            Map<String, String> metadata = new LinkedHashMap<>();
            metadata.put("format", "pt");
            metadata.put("merge_method", config.method().id());
            try (ShardedWriter writer = folder.shards(plan.outputs(), metadata, options.shardBytes())) {
                report = Merger.execute(plan, writer, progress, executor);
                writer.commit();
            }
            setup.outputFiles().writeTo(folder, setup.outDtype(), options.copyTokenizer());
            folder.writeFile("ugm_config.yml", yaml.getBytes(StandardCharsets.UTF_8));
            if (options.writeModelCard()) {
                folder.writeFile("README.md", ModelCard.of(config, setup.fisherSources(), yaml, Version.of()).getBytes(StandardCharsets.UTF_8));
            }
            setup.requireUnchanged();
            folder.publish();
        }
        return report;
    }

    @Override
    public void close() {
        setup.close();
    }
}
