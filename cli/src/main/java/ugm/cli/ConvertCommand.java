package ugm.cli;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;
import ugm.core.exec.Conversion;
import ugm.core.DType;
import ugm.core.Printable;
import ugm.core.TensorInfo;
import ugm.io.AdapterRef;
import ugm.io.Checkpoint;
import ugm.io.ModelFiles;
import ugm.io.OutputFolder;
import ugm.io.ShardedWriter;

@Command(name = "convert", mixinStandardHelpOptions = true, versionProvider = Cli.Version.class, sortOptions = false,
        description = {"Changes the dtype and/or the sharding of a checkpoint into a new folder.",
                "Tensors whose dtype does not change are copied byte for byte, and the input's __metadata__ is kept:",
                "converting with nothing changed reproduces a file written by the reference library byte for byte.",
                "Without --shard-size each output shard holds the tensors of the matching input shard.",
                "A PyTorch checkpoint (pytorch_model.bin, .bin/.pt) becomes safetensors; names that share a storage",
                "(tied weights) are each written, with their own copy of the bytes.",
                "The model's other files (config.json, tokenizer, ...) are copied, torch_dtype updated.",
                "IN may be BASE+ADAPTER, a PEFT LoRA adapter folder applied to BASE: the output is the full model,",
                "each adapted weight W + (lora_alpha/r)·B·A in W's dtype."},
        footer = {"", ExitCodes.HELP})
final class ConvertCommand implements Callable<Integer> {

    @Mixin
    VerboseOption verbose;

    @Parameters(index = "0", paramLabel = "IN", description = "A .safetensors or torch.save (.bin, .pt) file, a checkpoint folder, or BASE+ADAPTER (a LoRA adapter folder applied).")
    Path in;

    @Parameters(index = "1", paramLabel = "OUT_DIR", description = "The output folder.")
    Path out;

    @Option(names = "--dtype", paramLabel = "T", converter = DTypes.class,
            description = "New dtype of the floating tensors: bf16, f16, f32 or f64 (default: unchanged). Integer tensors are copied.")
    DType dtype;

    @Option(names = "--shard-size", paramLabel = "SIZE", converter = Sizes.class,
            description = "Largest output shard (default: the input's sharding).")
    Long shardSize;

    @Mixin
    RunOptions run;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        int threads = run.threads();
        OutputFolder.checkTarget(out, run.force);
        PrintWriter err = spec.commandLine().getErr();
        long start = System.nanoTime();
        int workers = threads > 0 ? threads : Runtime.getRuntime().availableProcessors();
        try (Checkpoint ck = AdapterRef.open(in)) {
            OutputFolder.requireApart(out, ck.inputs());
            // The other files (config.json checked) before any work.
            Path modelFolder = AdapterRef.modelFolder(in);
            ModelFiles modelFiles = Files.isDirectory(modelFolder) ? ModelFiles.scan(modelFolder) : null;
            if (modelFiles != null && !run.quiet) {
                modelFiles.warnings().forEach(w -> err.println("ugm: warning: " + Printable.of(w)));
                err.flush();
            }
            List<List<TensorInfo>> shards = new ArrayList<>();
            for (var file : ck.shards()) {
                shards.add(file.tensors().stream().map(this::converted).toList());
            }
            List<TensorInfo> all = shards.stream().flatMap(List::stream).toList();
            if (shardSize != null) {
                shards = ShardedWriter.split(all, shardSize);
            }
            Conversion.Report report;
            try (OutputFolder folder = OutputFolder.create(out, run.force)) {
                try (ShardedWriter w = ShardedWriter.createShards(folder.temp(), shards, metadata(ck))) {
                    long total = all.stream().mapToLong(TensorInfo::byteSize).sum();
                    long read = ck.tensors().stream().mapToLong(TensorInfo::byteSize).sum();
                    try (Progress p = Progress.start("convert", total, read, 0, err, run.quiet, Cli.stderrIsTerminal)) {
                        report = Conversion.convert(ck, all, w, workers, p::bytes, KernelSetup.conversionExecutor());
                    }
                    w.commit();
                }
                if (modelFiles != null) {
                    folder.copyModelFiles(modelFiles, dtype);
                }
                ck.requireUnchanged("conversion");
                folder.publish();
            }
            long written = report.bytesWritten();
            if (!run.quiet) {
                report.outOfRange().forEach(o -> err.println("ugm: warning: " + Printable.of(o.toString())));
                double seconds = (System.nanoTime() - start) / 1e9;
                long read = ck.tensors().stream().mapToLong(TensorInfo::byteSize).sum();
                err.print(Plain.format("ugm: converted %d tensors into %s (%d file(s)): read %s, wrote %s in %.2f s (%.2f GB/s, %d threads)%n",
                        all.size(), out, shards.size(), Sizes.format(read), Sizes.format(written), seconds,
                        (read + written) / seconds / 1e9, workers));
                err.flush();
            }
        }
        return ExitCodes.OK;
    }

    /**
     * The input's metadata; for a PyTorch input, which has none, {"format": "pt"} as Hugging Face's
     * save_pretrained writes it (transformers refuses safetensors metadata without a known format).
     */
    private static java.util.Map<String, String> metadata(Checkpoint ck) {
        return ck.format().equals(Checkpoint.SAFETENSORS) ? ck.metadata() : java.util.Map.of("format", "pt");
    }

    private TensorInfo converted(TensorInfo t) {
        return dtype != null && t.dtype().isMergeable() ? new TensorInfo(t.name(), dtype, t.shape()) : t;
    }
}
