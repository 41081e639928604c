package ugm.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Option;
import ugm.core.UgmException;
import ugm.core.merge.Parameter;
import ugm.core.merge.methods.Method;
import ugm.io.HubCache;
import ugm.job.MergeJob;
import ugm.job.config.MergeConfig;
import ugm.job.config.Setting;

/**
 * mergekit-yaml's flags as {@code ugm merge} takes them, in either form of the merge, with
 * mergekit's meaning: honoured, mapped onto ugm's own, accepted with no effect where ugm already
 * does what they ask, accepted with one note where they tune hardware ugm does not use, or
 * refused where ugm cannot do what they ask.
 */
final class MergekitFlags {

    @Option(names = "--out-shard-size", paramLabel = "SIZE", converter = Sizes.ShardLimit.class,
            description = "mergekit's --shard-size: 5B, 500M, 1K (10^9, 10^6, 10^3 bytes) or any size --shard-size takes; 0: one file.")
    Long outShardSize;

    @Option(names = "--copy-tokenizer", negatable = true, description = "Copy the base's tokenizer files (default: on).")
    Boolean copyTokenizer;

    @Option(names = "--write-model-card", negatable = true, description = "Write the model card README.md (default: on).")
    Boolean writeModelCard;

    @Option(names = "--allow-crimes", negatable = true, description = "Merge models whose config.json name different architectures (refused otherwise, as in mergekit).")
    boolean allowCrimes;

    @Option(names = "--random-seed", paramLabel = "N",
            description = "random_seed of dare_* and della* (as --seed); refused when the config's differs.")
    Long randomSeed;

    @Option(names = {"-j", "--num-threads"}, paramLabel = "N", description = "Same as --threads.")
    Integer numThreads;

    @Option(names = "--no-quiet", description = "The default: progress, warnings and summary.")
    boolean noQuiet;

    @Option(names = "--clone-tensors", negatable = true, description = "No effect: ugm never writes two tensors from one buffer.")
    boolean cloneTensors;

    @Option(names = "--safe-serialization", negatable = true,
            description = "ugm always writes safetensors: --no-safe-serialization is refused.")
    Boolean safeSerialization;

    @Option(names = "--trust-remote-code", negatable = true, description = "Refused: ugm runs no model code.")
    boolean trustRemoteCode;

    // Hardware and memory tuning ugm has no use for: listed together in the command's footer.

    @Option(names = "--cuda", negatable = true, hidden = true)
    boolean cuda;

    @Option(names = "--device", hidden = true)
    String device;

    @Option(names = "--low-cpu-memory", negatable = true, hidden = true)
    boolean lowCpuMemory;

    @Option(names = "--read-to-gpu", negatable = true, hidden = true)
    boolean readToGpu;

    @Option(names = "--multi-gpu", negatable = true, hidden = true)
    boolean multiGpu;

    @Option(names = "--gpu-rich", hidden = true)
    boolean gpuRich;

    @Option(names = "--lazy-unpickle", negatable = true, hidden = true)
    boolean lazyUnpickle;

    @Option(names = "--async-write", negatable = true, hidden = true)
    boolean asyncWrite;

    @Option(names = "--write-threads", hidden = true)
    Integer writeThreads;

    /** mergekit's cache folder for hub models: ugm reads models from it (it never downloads). */
    @Option(names = "--transformers-cache", paramLabel = "DIR",
            description = "The Hugging Face cache to read model ids from (default: $HF_HUB_CACHE, $HF_HOME/hub, ~/.cache/huggingface/hub).")
    String transformersCache;

    // Where mergekit applies LoRA adapters: ugm applies them while reading (BASE+ADAPTER).

    @Option(names = "--lora-merge-cache", hidden = true)
    String loraMergeCache;

    @Option(names = "--lora-merge-dtype", hidden = true)
    String loraMergeDtype;

    /** What {@code ugm merge --help} says of the hidden flags, after the listed ones. */
    static final String FOOTER = """
            Also accepted as mergekit-yaml takes them, with one note on stderr (ugm always
            merges on the CPU, streaming from memory-mapped inputs): --[no-]cuda,
            --device D, --[no-]low-cpu-memory, --[no-]read-to-gpu, --[no-]multi-gpu,
            --gpu-rich, --[no-]lazy-unpickle, --[no-]async-write, --write-threads N.
            Accepted with no effect (ugm applies LoRA adapters while reading):
            --lora-merge-cache DIR, --lora-merge-dtype T.
            A shard size below the largest tensor is legal: that tensor gets a shard alone.""";

    /** Where model ids are looked up: {@code --transformers-cache}, else the environment's cache. */
    HubCache cache() {
        return transformersCache == null ? HubCache.fromEnvironment() : new HubCache(Path.of(transformersCache).toAbsolutePath());
    }

    /** Refuses what ugm cannot do, one line each (exit 2). */
    void check(boolean quiet) {
        if (trustRemoteCode) {
            throw usage("--trust-remote-code is refused: ugm runs no model code (it reads tensors and copies the base's files)");
        }
        if (Boolean.FALSE.equals(safeSerialization)) {
            throw usage("--no-safe-serialization is refused: ugm writes only safetensors");
        }
        if (quiet && noQuiet) {
            throw usage("give --quiet or --no-quiet, not both");
        }
    }

    /** The note for the hardware flags given (ugm never uses what they ask for), or null when none was. */
    String note() {
        List<String> given = new ArrayList<>();
        add(given, cuda, "--cuda");
        add(given, device != null && !device.equals("cpu"), "--device " + device);
        add(given, lowCpuMemory, "--low-cpu-memory");
        add(given, readToGpu, "--read-to-gpu");
        add(given, multiGpu, "--multi-gpu");
        add(given, gpuRich, "--gpu-rich");
        add(given, lazyUnpickle, "--lazy-unpickle");
        add(given, asyncWrite, "--async-write");
        add(given, writeThreads != null, "--write-threads " + writeThreads);
        return given.isEmpty() ? null
                : "ugm: note: ignoring " + String.join(", ", given) + ": ugm always merges on the CPU, streaming from memory-mapped inputs";
    }

    private static void add(List<String> given, boolean asked, String flag) {
        if (asked) {
            given.add(flag);
        }
    }

    /** The thread count: {@code -j}/{@code --num-threads} or ugm's {@code --threads} (given or not). */
    int threads(RunOptions run, boolean threadsGiven) {
        if (numThreads == null) {
            return run.threads();
        }
        if (threadsGiven) {
            throw usage("give --threads or -j/--num-threads, not both");
        }
        if (numThreads < 0) {
            throw usage("-j/--num-threads must be >= 0");
        }
        return numThreads;
    }

    /** The shard size: {@code --out-shard-size}, ugm's {@code --shard-size} (null when not given), or the default. */
    long shardBytes(Long shardSize) {
        if (shardSize != null && outShardSize != null) {
            throw usage("give --shard-size or --out-shard-size, not both");
        }
        return shardSize != null ? shardSize : outShardSize != null ? outShardSize : MergeJob.Options.defaults().shardBytes();
    }

    MergeJob.Options options(boolean force, long shardBytes) {
        MergeJob.Options d = MergeJob.Options.defaults();
        return new MergeJob.Options(force, shardBytes, copyTokenizer == null ? d.copyTokenizer() : copyTokenizer,
                writeModelCard == null ? d.writeModelCard() : writeModelCard, allowCrimes);
    }

    /**
     * {@code cfg} with {@code --random-seed} as its {@code random_seed} when its method draws
     * random numbers (mergekit seeds its random generator; the other methods draw none).
     *
     * @param seedSource what set the config's seed, for the error: {@code --seed} or the config's
     */
    MergeConfig seeded(MergeConfig cfg, String seedSource) {
        if (randomSeed == null) {
            return cfg;
        }
        if (cfg.parameters().get(Parameter.RANDOM_SEED.key()) instanceof Setting.Whole(long own)) {
            if (own != randomSeed) {
                throw usage("--random-seed " + randomSeed + " and " + seedSource + " " + own + " differ: give one seed");
            }
            return cfg;
        }
        Method method = cfg.method();
        return method.parameters().contains(Parameter.RANDOM_SEED)
                ? cfg.withParameter(Parameter.RANDOM_SEED.key(), new Setting.Whole(randomSeed)) : cfg;
    }

    private static UgmException usage(String message) {
        return new UgmException(UgmException.Kind.USAGE, message);
    }
}
