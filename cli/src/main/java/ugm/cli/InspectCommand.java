package ugm.cli;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.SerializableString;
import com.fasterxml.jackson.core.io.CharacterEscapes;
import com.fasterxml.jackson.core.io.SerializedString;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
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
import ugm.io.Checkpoint;
import ugm.io.CheckpointFile;
import ugm.io.TorchStateDict;

@Command(name = "inspect", mixinStandardHelpOptions = true, versionProvider = Cli.Version.class, description = "Lists a checkpoint's tensors (name, dtype, shape, size), totals by dtype and metadata.",
        footer = {"", ExitCodes.HELP})
final class InspectCommand implements Callable<Integer> {

    @Mixin
    VerboseOption verbose;

    @Parameters(paramLabel = "PATH", description = {"A .safetensors file, a torch.save file (.bin, .pt), or a checkpoint folder",
            "(model.safetensors, pytorch_model.bin, or a sharded index of either)."})
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
            width = Math.max(width, Printable.of(t.name()).length());
        }
        width = Math.min(width, 80);
        row(sb, width, "name", "dtype", "shape", "bytes");
        Map<DType, long[]> totals = new EnumMap<>(DType.class);
        for (TensorInfo t : ck.tensors()) {
            row(sb, width, Printable.of(t.name()), t.dtype().name(), t.shapeString(), Long.toString(t.byteSize()));
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
        sb.append("\nformat: ").append(ck.format());
        if (!ck.format().equals(Checkpoint.SAFETENSORS)) {
            sb.append(" (torch.save zip; its pickle read against an allow-list, never run)");
        }
        sb.append('\n');
        for (List<String> group : shared(ck)) {
            sb.append("shared storage (tied): ").append(String.join(" = ", group.stream().map(Printable::of).toList())).append('\n');
        }
        if (!ck.metadata().isEmpty()) {
            sb.append("\nmetadata:\n");
            ck.metadata().forEach((k, v) -> sb.append("  ").append(Printable.of(k)).append(": ").append(Printable.of(v)).append('\n'));
        }
        return sb.toString();
    }

    /** Names that share their bytes (tied weights of a torch.save file), per group. */
    private static List<List<String>> shared(Checkpoint ck) {
        List<List<String>> groups = new ArrayList<>();
        for (CheckpointFile f : ck.shards()) {
            if (f instanceof TorchStateDict sd) {
                groups.addAll(sd.sharedGroups());
            }
        }
        return groups;
    }

    /**
     * JSON escapes every C0 control already; DEL and the C1 controls are escaped too (as backslash-u
     * escapes), so the JSON on a terminal holds nothing it acts on, and parses to the exact strings.
     */
    private static final CharacterEscapes NO_RAW_CONTROLS = new CharacterEscapes() {
        private static final long serialVersionUID = 1L;
        private final int[] ascii = standardAsciiEscapesForJSON();

        {
            ascii[0x7F] = ESCAPE_STANDARD;
        }

        @Override
        public int[] getEscapeCodesForAscii() {
            return ascii;
        }

        @Override
        public SerializableString getEscapeSequence(int ch) {
            return ch >= 0x80 && ch <= 0x9F ? new SerializedString(String.format(Locale.ROOT, "\\u%04x", ch)) : null;
        }
    };

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
            g.setCharacterEscapes(NO_RAW_CONTROLS);
            g.writeStartObject();
            g.writeStringField("path", ck.describe());
            g.writeStringField("format", ck.format());
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
            g.writeArrayFieldStart("shared");
            for (List<String> group : shared(ck)) {
                g.writeStartArray();
                for (String n : group) {
                    g.writeString(n);
                }
                g.writeEndArray();
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
