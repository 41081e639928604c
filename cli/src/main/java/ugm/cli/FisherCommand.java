package ugm.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;
import ugm.core.DType;
import ugm.core.Printable;
import ugm.core.TensorInfo;
import ugm.core.UgmException;
import ugm.io.OutputFolder;
import ugm.io.ShardedWriter;
import ugm.io.fisher.FisherSource;
import ugm.io.fisher.FisherSource.Output;

@Command(name = "fisher", mixinStandardHelpOptions = true, versionProvider = Cli.Version.class, sortOptions = false,
        description = {
                "Writes a diagonal Fisher checkpoint (the model's tensor names and shapes) from",
                "an optimizer state, for merge's --fisher or a model's hessian/ folder.",
                "CHECKPOINT is one of:",
                "- a Hugging Face Trainer checkpoint-N/ with optimizer.pt (Adam, AdamW):",
                "  exp_avg_sq / (1 - beta2^step), beta2 from the parameter's group, step from",
                "  its state. The parameters, saved by id, are named by rebuilding the",
                "  Trainer's order (llama, mistral, qwen2, gemma, gpt2, bert, roberta) or from",
                "  a pytorch_model.bin or --param-order, checked against the group sizes and",
                "  every state tensor's shape;",
                "- an IVON optimizer.pt: each group's hess, cut back into its parameters;",
                "- a DeepSpeed universal checkpoint (zero/<name>/exp_avg_sq.pt), as Adam's;",
                "- an exp_avg_sq.safetensors keyed by names (with --step and --beta2, or",
                "  --no-bias-correction).",
                "Names and shapes come from the model's weights in CHECKPOINT (model.safetensors",
                "or pytorch_model.bin, possibly sharded) or --model. The number of training",
                "examples (--examples, or trainer_state.json: global_step x batch / epoch) is",
                "recorded; merge takes it as the default fisher_scale. The output is built",
                "beside OUT_DIR and renamed into place when complete.", ""},
        footer = {"", ExitCodes.HELP})
final class FisherCommand implements Callable<Integer> {

    @Mixin
    VerboseOption verbose;

    @Parameters(index = "0", paramLabel = "CHECKPOINT",
            description = "A checkpoint folder (optimizer.pt, zero/, exp_avg_sq.safetensors) or one of those files.")
    Path checkpoint;

    @Parameters(index = "1", paramLabel = "OUT_DIR", description = "The output folder (a checkpoint folder).")
    Path out;

    @Option(names = "--dtype", paramLabel = "T", converter = DTypes.class,
            description = "Output dtype: f32 (default), f64, bf16 or f16 (squared gradients underflow in F16).")
    DType dtype;

    @Option(names = "--model", paramLabel = "DIR", description = "The model whose names and shapes the Fisher takes (default: CHECKPOINT's weights).")
    Path model;

    @Option(names = "--param-order", paramLabel = "FILE",
            description = "The parameter order of an optimizer saved by ids: names one per line (named_parameters() order of"
                    + " the trainable parameters), or a torch.save state dict (pytorch_model.bin) whose order carries it.")
    Path paramOrder;

    @Option(names = "--allow-missing", description = "Write zeros for parameters without optimizer state (frozen ones) instead of stopping.")
    boolean allowMissing;

    @Option(names = "--examples", paramLabel = "N", description = "The number of training examples to record (default: from trainer_state.json).")
    Long examples;

    @Option(names = "--batch", paramLabel = "N",
            description = "Examples per optimizer step, for the estimate from trainer_state.json (default: its train_batch_size;"
                    + " give it with gradient accumulation or several processes).")
    Long batch;

    @Option(names = "--step", paramLabel = "N", description = "The optimizer step, for a source that records none.")
    Long step;

    @Option(names = "--beta2", paramLabel = "B", description = "Adam's beta2, for a source that records none.")
    Double beta2;

    @Option(names = "--no-bias-correction", description = "Take exp_avg_sq as stored.")
    boolean noBiasCorrection;

    @Option(names = "--shard-size", paramLabel = "SIZE", defaultValue = "5GB", converter = Sizes.class,
            description = "Largest output shard (default ${DEFAULT-VALUE}).")
    long shardSize;

    @Mixin
    RunOptions run;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        int threads = run.threads();
        checkNumbers();
        OutputFolder.checkTarget(out, run.force);
        PrintWriter stdout = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        long start = System.nanoTime();
        DType outType = dtype == null ? DType.F32 : dtype;
        FisherSource.Options options = new FisherSource.Options(checkpoint, model, paramOrder, allowMissing, examples, batch, step,
                beta2, noBiasCorrection, outType);
        try (FisherSource source = FisherSource.open(options)) {
            List<Path> inputs = new java.util.ArrayList<>(source.inputs());
            inputs.add(checkpoint);
            OutputFolder.requireApart(out, inputs);
            if (!run.quiet) {
                source.findings().forEach(f -> stdout.println(Printable.of(f)));
                stdout.flush();
                source.warnings().forEach(w -> err.println("ugm: warning: " + Printable.of(w)));
                if (outType == DType.F16) {
                    err.println("ugm: warning: F16 holds nothing below 6e-8: small squared gradients become 0 (F32 or BF16 keep them)");
                }
                err.flush();
            }
            List<TensorInfo> tensors = source.outputs().stream().map(Output::info).toList();
            long total = tensors.stream().mapToLong(TensorInfo::byteSize).sum();
            FisherSource.Written result;
            try (OutputFolder folder = OutputFolder.create(out, run.force)) {
                try (ShardedWriter w = folder.shards(tensors, source.metadata(), shardSize)) {
                    try (Progress p = Progress.start("fisher", total, total, tensors.size(), err, run.quiet, Cli.stderrIsTerminal)) {
                        result = source.write(w, threads, p::bytes);
                    }
                    w.commit();
                }
                source.requireUnchanged();
                folder.publish();
            }
            if (!run.quiet) {
                if (result.flushedToZero() > 0) {
                    err.printf(Locale.ROOT, "ugm: warning: %d nonzero Fisher values are 0 in %s; F32 keeps them%n", result.flushedToZero(), outType);
                }
                double seconds = (System.nanoTime() - start) / 1e9;
                err.printf(Locale.ROOT, "ugm: wrote the Fisher of %d tensors (%s, %s) into %s in %.2f s%n", tensors.size(), outType,
                        Sizes.format(result.bytes()), out, seconds);
                err.flush();
            }
        }
        return ExitCodes.OK;
    }

    private void checkNumbers() {
        if (examples != null && examples < 1) {
            throw usage("--examples must be >= 1");
        }
        if (batch != null && batch < 1) {
            throw usage("--batch must be >= 1");
        }
        if (step != null && step < 1) {
            throw usage("--step must be >= 1");
        }
        if (beta2 != null && !(beta2 >= 0 && beta2 < 1)) {
            throw usage("--beta2 must be in [0, 1)");
        }
        if (noBiasCorrection && (step != null || beta2 != null)) {
            throw usage("--no-bias-correction takes no --step or --beta2");
        }
    }

    private static UgmException usage(String message) {
        return new UgmException(UgmException.Kind.USAGE, message);
    }
}
