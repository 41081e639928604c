package ugm.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;
import ugm.core.TensorInfo;
import ugm.io.Checkpoint;

@Command(name = "validate", mixinStandardHelpOptions = true, versionProvider = Cli.Version.class, description = {"Checks a safetensors or torch.save file, or a checkpoint folder, against every rule of its format.",
        "Header, dtypes, shapes, offsets, sizes, shards and index are checked. Prints one line: OK with a summary, or the reason."},
        footer = {"", ExitCodes.HELP})
final class ValidateCommand implements Callable<Integer> {

    @Mixin
    VerboseOption verbose;

    @Parameters(paramLabel = "PATH", description = "A .safetensors or torch.save (.bin, .pt) file, or a checkpoint folder.")
    Path path;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        return run(spec.commandLine().getOut());
    }

    /** The command, its line to {@code out} (also run without picocli: {@link QuickCommands}). */
    int run(PrintWriter out) {
        try (Checkpoint ck = Checkpoint.open(path)) {
            long bytes = 0;
            long elements = 0;
            for (TensorInfo t : ck.tensors()) {
                bytes += t.byteSize();
                elements += t.elementCount();
            }
            out.print(Plain.format("OK %s: %d tensors, %d elements, %s in %d file(s)%n",
                    path, ck.tensors().size(), elements, Sizes.format(bytes), ck.files().size()));
            out.flush();
        }
        return ExitCodes.OK;
    }
}
