package ugm.cli;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;
import ugm.core.DType;
import ugm.core.TensorInfo;
import ugm.io.Checkpoint;

@Command(name = "inspect", mixinStandardHelpOptions = true, versionProvider = Cli.Version.class, description = "Lists a checkpoint's tensors (name, dtype, shape, size), totals by dtype and metadata.",
        footer = {"", ExitCodes.HELP})
final class InspectCommand implements Callable<Integer> {

    @Mixin
    VerboseOption verbose;

    @Parameters(paramLabel = "PATH", description = "A .safetensors file, or a checkpoint folder (model.safetensors or a sharded index).")
    Path path;

    @Option(names = "--json", description = "Machine-readable output.")
    boolean json;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        return run(spec.commandLine().getOut());
    }

    /** The command, its output to {@code out} (also run without picocli: {@link QuickCommands}). */
    int run(PrintWriter out) throws Exception {
        try (Checkpoint ck = Checkpoint.open(path)) {
            out.print(json ? json(ck) : text(ck));
            out.flush();
        }
        return ExitCodes.OK;
    }

    private static String text(Checkpoint ck) {
        StringBuilder sb = new StringBuilder();
        int width = 4;
        for (TensorInfo t : ck.tensors()) {
            width = Math.max(width, t.name().length());
        }
        width = Math.min(width, 80);
        row(sb, width, "name", "dtype", "shape", "bytes");
        Map<DType, long[]> totals = new EnumMap<>(DType.class);
        for (TensorInfo t : ck.tensors()) {
            row(sb, width, t.name(), t.dtype().name(), t.shapeString(), Long.toString(t.byteSize()));
            long[] tot = totals.computeIfAbsent(t.dtype(), d -> new long[3]);
            tot[0]++;
            tot[1] += t.elementCount();
            tot[2] += t.byteSize();
        }
        sb.append('\n');
        long tensors = 0;
        long elements = 0;
        long bytes = 0;
        for (Map.Entry<DType, long[]> e : totals.entrySet()) {
            long[] v = e.getValue();
            sb.append(Plain.format("%-11s %6d tensors %16d elements %16d bytes%n", e.getKey(), v[0], v[1], v[2]));
            tensors += v[0];
            elements += v[1];
            bytes += v[2];
        }
        sb.append(Plain.format("%-11s %6d tensors %16d elements %16d bytes (%s) in %d file(s)%n", "total",
                tensors, elements, bytes, Sizes.format(bytes), ck.files().size()));
        if (!ck.metadata().isEmpty()) {
            sb.append("\nmetadata:\n");
            ck.metadata().forEach((k, v) -> sb.append("  ").append(k).append(": ").append(v).append('\n'));
        }
        return sb.toString();
    }

    /**
     * One row of the table, as {@code String.format("%-<width>s  %-11s  %-20s  %12s%n", ...)} prints
     * it, without a Formatter per tensor (it parses its pattern on every call, slowly while the
     * JVM is cold, and a model has hundreds of tensors).
     */
    static void row(StringBuilder sb, int width, String name, String dtype, String shape, String bytes) {
        sb.append(name).repeat(' ', Math.max(0, width - name.length())).append("  ");
        sb.append(dtype).repeat(' ', Math.max(0, 11 - dtype.length())).append("  ");
        sb.append(shape).repeat(' ', Math.max(0, 20 - shape.length())).append("  ");
        sb.repeat(' ', Math.max(0, 12 - bytes.length())).append(bytes).append(System.lineSeparator());
    }

    private static String json(Checkpoint ck) throws java.io.IOException {
        StringWriter w = new StringWriter();
        try (JsonGenerator g = new JsonFactory().createGenerator(w)) {
            g.useDefaultPrettyPrinter();
            g.writeStartObject();
            g.writeStringField("path", ck.describe());
            g.writeArrayFieldStart("files");
            for (Path f : ck.files()) {
                g.writeString(f.toString());
            }
            g.writeEndArray();
            g.writeObjectFieldStart("metadata");
            for (Map.Entry<String, String> e : ck.metadata().entrySet()) {
                g.writeStringField(e.getKey(), e.getValue());
            }
            g.writeEndObject();
            g.writeArrayFieldStart("tensors");
            long bytes = 0;
            long elements = 0;
            for (TensorInfo t : ck.tensors()) {
                g.writeStartObject();
                g.writeStringField("name", t.name());
                g.writeStringField("dtype", t.dtype().name());
                g.writeArrayFieldStart("shape");
                for (long d : t.shape()) {
                    g.writeNumber(d);
                }
                g.writeEndArray();
                g.writeNumberField("elements", t.elementCount());
                g.writeNumberField("bytes", t.byteSize());
                g.writeStringField("file", ck.locate(t.name()));
                g.writeEndObject();
                bytes += t.byteSize();
                elements += t.elementCount();
            }
            g.writeEndArray();
            g.writeObjectFieldStart("totals");
            g.writeNumberField("tensors", ck.tensors().size());
            g.writeNumberField("elements", elements);
            g.writeNumberField("bytes", bytes);
            g.writeEndObject();
            g.writeEndObject();
        }
        return w + "\n";
    }
}
