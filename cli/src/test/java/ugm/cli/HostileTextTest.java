package ugm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import ugm.core.DType;
import ugm.core.TensorInfo;
import ugm.io.ShardedWriter;

/**
 * Tensor names and metadata are text from the file: a hostile one holds terminal controls
 * (ESC sequences, BEL, CR, C1 controls, DEL). What ugm prints for a person shows them escaped;
 * {@code inspect --json} keeps the exact strings, as valid JSON.
 */
class HostileTextTest {
    /** Sets the window title, clears the screen, returns the cursor, a C1 CSI, DEL. */
    static final String NAME = "w\u001b]0;owned\u0007\u001b[2J\r\u009b31m\u0085\u007f.weight";
    static final String NAME_SHOWN = "w\\x1b]0;owned\\x07\\x1b[2J\\x0d\\u009b31m\\u0085\\x7f.weight";
    static final String KEY = "note\u001b[8m";
    static final String VALUE = "hidden\u001b[0m\nline two\u0090";

    @TempDir
    Path tmp;

    Path checkpoint(Path dir, long[] shape) {
        List<TensorInfo> infos = List.of(new TensorInfo(NAME, DType.F32, shape), new TensorInfo("plain", DType.F32, new long[] {2}));
        Map<String, String> metadata = new LinkedHashMap<>();
        metadata.put("format", "pt");
        metadata.put(KEY, VALUE);
        try (ShardedWriter w = ShardedWriter.create(dir, infos, metadata)) {
            infos.forEach(w::target);
            w.commit();
        }
        return dir;
    }

    /** No character a terminal acts on, but the newlines ending lines. */
    static void assertNoControls(String printed) {
        for (int i = 0; i < printed.length(); i++) {
            char c = printed.charAt(i);
            boolean control = (c < 0x20 && c != '\n') || (c >= 0x7F && c <= 0x9F);
            assertFalse(control, () -> "raw control U+" + Integer.toHexString(c) + " in: " + printed);
        }
    }

    @Test
    void inspectShowsNamesAndMetadataEscaped() {
        Path ck = checkpoint(tmp.resolve("ck"), new long[] {2});
        Run r = Run.of("inspect", ck.toString());
        assertEquals(0, r.code(), r::toString);
        assertNoControls(r.out());
        assertTrue(r.out().contains(NAME_SHOWN + "  F32"), r.out());
        assertTrue(r.out().contains("  note\\x1b[8m: hidden\\x1b[0m\\x0aline two\\u0090\n"), r.out());
    }

    @Test
    void inspectJsonKeepsTheExactStringsAsValidJson() throws IOException {
        Path ck = checkpoint(tmp.resolve("ck"), new long[] {2});
        Run r = Run.of("inspect", "--json", ck.toString());
        assertEquals(0, r.code(), r::toString);
        assertNoControls(r.out());
        List<String> names = new ArrayList<>();
        Map<String, String> metadata = new LinkedHashMap<>();
        try (JsonParser p = new JsonFactory().createParser(r.out())) {
            String field = null;
            String section = null;
            int depth = 0;
            for (JsonToken t = p.nextToken(); t != null; t = p.nextToken()) {
                switch (t) {
                    case START_OBJECT, START_ARRAY -> {
                        if (++depth == 2) {
                            section = field;
                        }
                    }
                    case END_OBJECT, END_ARRAY -> depth--;
                    case FIELD_NAME -> field = p.currentName();
                    case VALUE_STRING -> {
                        if ("tensors".equals(section) && "name".equals(field)) {
                            names.add(p.getText());
                        } else if ("metadata".equals(section)) {
                            metadata.put(field, p.getText());
                        }
                    }
                    default -> { }
                }
            }
        }
        assertEquals(java.util.Set.of(NAME, "plain"), java.util.Set.copyOf(names));
        assertEquals(Map.of("format", "pt", KEY, VALUE), metadata);
    }

    @Test
    void errorsAndDryRunsShowNamesEscaped() {
        Path base = checkpoint(tmp.resolve("base"), new long[] {2});
        Path model = checkpoint(tmp.resolve("model"), new long[] {1, 2}); // the same name, another shape
        List<String> args = List.of("merge", "--method", "linear", "--base", base.toString(), "--model", model.toString(),
                "--out", tmp.resolve("out").toString());
        Run r = Run.of(args.toArray(String[]::new));
        assertEquals(ExitCodes.INVALID_INPUT, r.code(), r::toString);
        assertNoControls(r.err());
        assertTrue(r.errLine().contains("tensor '" + NAME_SHOWN + "'"), r.err());

        List<String> dry = new ArrayList<>(args);
        dry.add("--dry-run");
        Run d = Run.of(dry.toArray(String[]::new));
        assertEquals(ExitCodes.INVALID_INPUT, d.code(), d::toString);
        assertNoControls(d.out());
        assertNoControls(d.err());
        assertTrue(d.out().contains(NAME_SHOWN), d.out());
    }

    /** A one-tensor F32 file whose header is {@code json} (the data: 8 zero bytes). */
    static Path file(Path path, String json) throws IOException {
        byte[] h = json.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + 8).order(ByteOrder.LITTLE_ENDIAN).putLong(h.length).put(h);
        Files.createDirectories(path.getParent());
        Files.write(path, b.array());
        return path;
    }

    @Test
    void unpairedSurrogatesAreInvalidInputForEveryCommand() throws IOException {
        String entry = "{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}";
        Path name = file(tmp.resolve("name/model.safetensors"), "{\"w\\ud800\":" + entry + "}");
        Path meta = file(tmp.resolve("meta/model.safetensors"), "{\"__metadata__\":{\"k\":\"\\udc00\"},\"w\":" + entry + "}");
        Path good = file(tmp.resolve("good/model.safetensors"), "{\"w\":" + entry + "}");
        for (Path bad : List.of(name, meta)) {
            String expected = "ugm: " + bad + ": " + (bad == name ? "tensor 'w\\ud800': name" : "__metadata__ value of 'k'")
                    + " holds an unpaired surrogate (\\u" + (bad == name ? "d800" : "dc00") + "), which is not Unicode text";
            for (List<String> args : List.of(List.of("validate", bad.toString()), List.of("inspect", bad.toString()),
                    List.of("convert", bad.getParent().toString(), tmp.resolve("out").toString()),
                    List.of("merge", "--method", "linear", "--base", good.getParent().toString(), "--model", bad.getParent().toString(),
                            "--out", tmp.resolve("out").toString()))) {
                Run r = Run.of(args.toArray(String[]::new));
                assertEquals(ExitCodes.INVALID_INPUT, r.code(), r::toString);
                assertEquals(expected, r.errLine(), args::toString);
                assertFalse(Files.exists(tmp.resolve("out")), "no output");
            }
        }
    }

    @Test
    void unpairedSurrogatesInAnIndexAreInvalidInput() throws IOException {
        Path folder = tmp.resolve("sharded");
        file(folder.resolve("s1.safetensors"), "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}");
        Path index = folder.resolve("model.safetensors.index.json");
        Files.writeString(index, "{\"weight_map\":{\"w\":\"s1.safetensors\",\"x\\udbff\":\"s1.safetensors\"}}");
        Run r = Run.of("validate", folder.toString());
        assertEquals(ExitCodes.INVALID_INPUT, r.code(), r::toString);
        assertEquals("ugm: " + index + ": tensor 'x\\udbff': name holds an unpaired surrogate (\\udbff), which is not Unicode text",
                r.errLine());
    }
}
