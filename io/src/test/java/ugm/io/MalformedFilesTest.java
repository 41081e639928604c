package ugm.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import ugm.core.UgmException;
import ugm.io.SafetensorsException.Rule;

/** Each corruption is rejected with its own rule, naming the file and (when one is at fault) the tensor. */
class MalformedFilesTest {

    @TempDir
    Path dir;

    static final String OK_ENTRY = "\"dtype\":\"I32\",\"shape\":[2,2],\"data_offsets\":[0,16]";

    static String one(String entry) {
        return "{\"t\":{" + entry + "}}";
    }

    static Arguments bad(String label, Rule rule, String tensor, byte[] file) {
        return Arguments.of(label, rule, tensor, file);
    }

    static Arguments bad(String label, Rule rule, String tensor, String json, int dataBytes) {
        return bad(label, rule, tensor, Bytes.file(json, new byte[dataBytes]));
    }

    static byte[] withHeaderBytes(byte[] header, int dataBytes) {
        return Bytes.file(header.length, header, new byte[dataBytes]);
    }

    static Stream<Arguments> corruptions() {
        List<Arguments> cases = new ArrayList<>();
        byte[] v1 = Bytes.file(ReferenceVectorsTest.V1, 4, new byte[16]);
        cases.add(bad("empty file", Rule.FILE_TOO_SHORT, null, new byte[0]));
        cases.add(bad("length cut short", Rule.FILE_TOO_SHORT, null, new byte[] {64, 0, 0, 0, 0}));
        cases.add(bad("header past end", Rule.HEADER_PAST_END, null, Bytes.file(1000, new byte[10], new byte[0])));
        cases.add(bad("N over 100,000,000", Rule.HEADER_TOO_LARGE, null, Bytes.file(100_000_001L, new byte[16], new byte[0])));
        cases.add(bad("N over 2^63 unsigned", Rule.HEADER_TOO_LARGE, null, Bytes.file(-2L, new byte[16], new byte[0])));
        cases.add(bad("bad UTF-8 byte", Rule.BAD_UTF8, null, withHeaderBytes(
                Bytes.concat("{\"t\u00e9".getBytes(StandardCharsets.UTF_8), new byte[] {(byte) 0xFF}, "\":{}}".getBytes(StandardCharsets.UTF_8)), 0)));
        cases.add(bad("overlong UTF-8", Rule.BAD_UTF8, null, withHeaderBytes(
                Bytes.concat("{\"".getBytes(StandardCharsets.UTF_8), new byte[] {(byte) 0xC0, (byte) 0xAF}, "\":{}}".getBytes(StandardCharsets.UTF_8)), 0)));
        cases.add(bad("UTF-8 cut in the middle of a character", Rule.BAD_UTF8, null, withHeaderBytes(
                Bytes.concat("{}  ".getBytes(StandardCharsets.UTF_8), new byte[] {(byte) 0xE2, (byte) 0x82}), 0)));
        cases.add(bad("bad JSON", Rule.BAD_JSON, null, "{\"t\":{\"dtype\":\"I32\",", 16));
        cases.add(bad("empty header", Rule.BAD_JSON, null, Bytes.file(0, new byte[0], new byte[0])));
        cases.add(bad("single quotes", Rule.BAD_JSON, null, "{'t':{}}", 0));
        cases.add(bad("content after the object", Rule.BAD_JSON, null, ReferenceVectorsTest.V1 + "x", 16));
        cases.add(bad("second object", Rule.BAD_JSON, null, ReferenceVectorsTest.V1 + "{}", 16));
        cases.add(bad("NUL padding", Rule.BAD_JSON, null, ReferenceVectorsTest.V1 + "\0\0\0\0", 16));
        cases.add(bad("byte order mark", Rule.BAD_JSON, null, "\uFEFF" + ReferenceVectorsTest.V1, 16));
        cases.add(bad("deeply nested in an ignored key", Rule.BAD_JSON, null,
                one(OK_ENTRY + ",\"x\":" + "[".repeat(100_000) + "]".repeat(100_000)), 16));
        cases.add(bad("header an array", Rule.NOT_OBJECT, null, "[]", 0));
        cases.add(bad("header a string", Rule.NOT_OBJECT, null, "\"abc\"", 0));
        cases.add(bad("entry a number", Rule.NOT_OBJECT, "t", "{\"t\":5}", 0));
        cases.add(bad("missing dtype", Rule.MISSING_FIELD, "t", one("\"shape\":[2,2],\"data_offsets\":[0,16]"), 16));
        cases.add(bad("missing shape", Rule.MISSING_FIELD, "t", one("\"dtype\":\"I32\",\"data_offsets\":[0,16]"), 16));
        cases.add(bad("missing offsets", Rule.MISSING_FIELD, "t", one("\"dtype\":\"I32\",\"shape\":[2,2]"), 16));
        cases.add(bad("unknown dtype", Rule.BAD_DTYPE, "t", one("\"dtype\":\"F128\",\"shape\":[2,2],\"data_offsets\":[0,16]"), 16));
        cases.add(bad("lower-case dtype", Rule.BAD_DTYPE, "t", one("\"dtype\":\"i32\",\"shape\":[2,2],\"data_offsets\":[0,16]"), 16));
        cases.add(bad("dtype not a string", Rule.BAD_DTYPE, "t", one("\"dtype\":32,\"shape\":[2,2],\"data_offsets\":[0,16]"), 16));
        cases.add(bad("negative dimension", Rule.BAD_SHAPE, "t", one("\"dtype\":\"I32\",\"shape\":[-2,-2],\"data_offsets\":[0,16]"), 16));
        cases.add(bad("fractional dimension", Rule.BAD_SHAPE, "t", one("\"dtype\":\"I32\",\"shape\":[2.5,2],\"data_offsets\":[0,16]"), 16));
        cases.add(bad("integral float dimension", Rule.BAD_SHAPE, "t", one("\"dtype\":\"I32\",\"shape\":[2.0,2],\"data_offsets\":[0,16]"), 16));
        cases.add(bad("dimension beyond a long", Rule.BAD_SHAPE, "t",
                one("\"dtype\":\"I32\",\"shape\":[9223372036854775808],\"data_offsets\":[0,16]"), 16));
        cases.add(bad("shape product overflows", Rule.BAD_SHAPE, "t",
                one("\"dtype\":\"I32\",\"shape\":[1099511627776,1099511627776],\"data_offsets\":[0,16]"), 16));
        cases.add(bad("byte size overflows", Rule.BAD_SHAPE, "t",
                one("\"dtype\":\"I64\",\"shape\":[4611686018427387904],\"data_offsets\":[0,16]"), 16));
        cases.add(bad("F4 with an odd element count", Rule.BAD_SHAPE, "t", one("\"dtype\":\"F4\",\"shape\":[3],\"data_offsets\":[0,2]"), 2));
        cases.add(bad("shape not an array", Rule.BAD_SHAPE, "t", one("\"dtype\":\"I32\",\"shape\":4,\"data_offsets\":[0,16]"), 16));
        cases.add(bad("one offset", Rule.BAD_OFFSETS, "t", one("\"dtype\":\"I32\",\"shape\":[2,2],\"data_offsets\":[16]"), 16));
        cases.add(bad("three offsets", Rule.BAD_OFFSETS, "t", one("\"dtype\":\"I32\",\"shape\":[2,2],\"data_offsets\":[0,16,32]"), 16));
        cases.add(bad("negative offset", Rule.BAD_OFFSETS, "t", one("\"dtype\":\"I32\",\"shape\":[2,2],\"data_offsets\":[-16,0]"), 16));
        cases.add(bad("string offset", Rule.BAD_OFFSETS, "t", one("\"dtype\":\"I32\",\"shape\":[2,2],\"data_offsets\":[\"0\",16]"), 16));
        cases.add(bad("end before begin", Rule.BAD_OFFSETS, "t", one("\"dtype\":\"I32\",\"shape\":[2,2],\"data_offsets\":[16,0]"), 16));
        cases.add(bad("size mismatch", Rule.SIZE_MISMATCH, "t", one("\"dtype\":\"I32\",\"shape\":[2,2],\"data_offsets\":[0,12]"), 12));
        cases.add(bad("first not at 0", Rule.GAP_OR_OVERLAP, "t", one("\"dtype\":\"I32\",\"shape\":[2,2],\"data_offsets\":[4,20]"), 20));
        cases.add(bad("gap between tensors", Rule.GAP_OR_OVERLAP, "b",
                "{\"a\":{" + OK_ENTRY + "},\"b\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[20,24]}}", 24));
        cases.add(bad("overlap", Rule.GAP_OR_OVERLAP, "b",
                "{\"a\":{" + OK_ENTRY + "},\"b\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[12,16]}}", 16));
        cases.add(bad("trailing bytes", Rule.TRAILING_BYTES, "test", Bytes.concat(v1, new byte[1])));
        cases.add(bad("truncated data", Rule.TRUNCATED, "test", java.util.Arrays.copyOf(v1, v1.length - 1)));
        cases.add(bad("end offset at 2^59 in a tiny file", Rule.TRUNCATED, "t",
                one("\"dtype\":\"U8\",\"shape\":[576460752303423488],\"data_offsets\":[0,576460752303423488]"), 0));
        cases.add(bad("duplicate names", Rule.DUPLICATE_NAME, "t",
                "{\"t\":{" + OK_ENTRY + "},\"t\":{\"dtype\":\"I32\",\"shape\":[2,2],\"data_offsets\":[16,32]}}", 32));
        cases.add(bad("duplicate field in an entry", Rule.DUPLICATE_KEY, "t", one(OK_ENTRY + ",\"dtype\":\"I32\""), 16));
        cases.add(bad("__metadata__ twice", Rule.DUPLICATE_KEY, null, "{\"__metadata__\":{},\"__metadata__\":{}}", 0));
        cases.add(bad("non-string metadata value", Rule.BAD_METADATA, null, "{\"__metadata__\":{\"epochs\":3}}", 0));
        cases.add(bad("metadata an array", Rule.BAD_METADATA, null, "{\"__metadata__\":[\"pt\"]}", 0));
        cases.add(bad("metadata null", Rule.BAD_METADATA, null, "{\"__metadata__\":null}", 0));
        return cases.stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("corruptions")
    void rejected(String label, Rule rule, String tensor, byte[] bytes) throws IOException {
        Path file = dir.resolve("bad.safetensors");
        Files.write(file, bytes);
        SafetensorsException e = assertThrows(SafetensorsException.class, () -> SafetensorsFile.open(file).close(), label);
        String message = e.getMessage();
        assertEquals(rule, e.rule(), message);
        assertEquals(UgmException.Kind.INVALID_INPUT, e.kind());
        assertEquals(file.toString(), e.file());
        assertTrue(message.startsWith(file + ": "), message);
        assertFalse(message.contains("\n") || message.contains("\r"), message);
        assertEquals(tensor, e.tensor(), message);
        if (tensor != null) {
            assertTrue(message.startsWith(file + ": tensor '" + tensor + "': "), message);
        } else {
            assertFalse(message.contains("tensor '"), message);
        }
        // The parser alone, on bytes in memory, agrees.
        SafetensorsException direct = assertThrows(SafetensorsException.class, () -> SafetensorsHeader.parse(bytes, "mem"));
        assertEquals(rule, direct.rule());
        assertTrue(direct.getMessage().startsWith("mem: "), direct.getMessage());
    }

    @Test
    void catalogueCoversEnoughDistinctCorruptionsAndRules() {
        List<Arguments> all = corruptions().toList();
        assertTrue(all.size() >= 25, "cases: " + all.size());
        long rules = all.stream().map(a -> a.get()[1]).distinct().count();
        assertTrue(rules >= 16, "distinct rules: " + rules);
    }

    @Test
    void missingFileIsAnIoErrorNamingIt() {
        Path file = dir.resolve("absent.safetensors");
        UgmException e = assertThrows(UgmException.class, () -> SafetensorsFile.open(file));
        assertEquals(UgmException.Kind.IO, e.kind());
        assertTrue(e.getMessage().startsWith(file + ": "), e.getMessage());
    }

    @Test
    void tensorNamesWithNewlinesStayOnOneLine() throws IOException {
        Path file = dir.resolve("nl.safetensors");
        Files.write(file, Bytes.file("{\"a\\nb\":{\"dtype\":\"x\",\"shape\":[],\"data_offsets\":[0,0]}}", new byte[0]));
        SafetensorsException e = assertThrows(SafetensorsException.class, () -> SafetensorsFile.open(file));
        assertEquals("a\nb", e.tensor());
        assertEquals(Rule.BAD_DTYPE, e.rule());
        assertTrue(e.getMessage().contains("tensor 'a\\x0ab'"), e.getMessage());
    }

    @Test
    void terminalControlsInNamesAndValuesAreShownEscaped() throws IOException {
        Path file = dir.resolve("esc.safetensors");
        // ESC [2J (clear screen), BEL, CR, NEL (a C1 control), DEL in the name; an unknown dtype with ESC in it.
        Files.write(file, Bytes.file("{\"a\\u001b[2J\\u0007\\r\u0085\u007fz\":{\"dtype\":\"\\u001b]0;x\",\"shape\":[],\"data_offsets\":[0,0]}}",
                new byte[0]));
        SafetensorsException e = assertThrows(SafetensorsException.class, () -> SafetensorsFile.open(file));
        assertEquals("a\u001b[2J\u0007\r\u0085\u007fz", e.tensor());
        assertEquals(file + ": tensor 'a\\x1b[2J\\x07\\x0d\\u0085\\x7fz': unknown dtype \"\\x1b]0;x\"", e.getMessage());
    }

    /** JSON escapes (backslash-u) that leave half of a surrogate pair: text no UTF-8 can hold, refused as the reference refuses it. */
    static Stream<Arguments> unpairedSurrogates() {
        String entry = "\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[0,4]";
        return Stream.of(
                Arguments.of("lone high surrogate in a name", "{\"a\\ud800\":{" + entry + "}}", "a\uD800"),
                Arguments.of("lone low surrogate in a name", "{\"\\udc00b\":{" + entry + "}}", "\uDC00b"),
                Arguments.of("high surrogate then a letter", "{\"\\ud83d\\u0041\":{" + entry + "}}", "\uD83DA"),
                Arguments.of("pair reversed", "{\"\\ude00\\ud83d\":{" + entry + "}}", "\uDE00\uD83D"),
                Arguments.of("in the dtype", "{\"t\":{\"dtype\":\"I32\\ud800\",\"shape\":[1],\"data_offsets\":[0,4]}}", "t"),
                Arguments.of("in a field name of an entry", "{\"t\":{" + entry + ",\"x\\udbff\":1}}", "t"),
                Arguments.of("in a metadata key", "{\"__metadata__\":{\"k\\ud800\":\"v\"},\"t\":{" + entry + "}}", null),
                Arguments.of("in a metadata value", "{\"__metadata__\":{\"k\":\"v\\udfff\"},\"t\":{" + entry + "}}", null));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("unpairedSurrogates")
    void unpairedSurrogatesAreAnInvalidHeader(String label, String json, String tensor) throws IOException {
        Path file = dir.resolve("surrogate.safetensors");
        Files.write(file, Bytes.file(json, new byte[4]));
        SafetensorsException e = assertThrows(SafetensorsException.class, () -> SafetensorsFile.open(file).close(), label);
        assertEquals(Rule.BAD_JSON, e.rule(), e.getMessage());
        assertEquals(UgmException.Kind.INVALID_INPUT, e.kind());
        assertEquals(tensor, e.tensor(), e.getMessage());
        String shown = tensor == null ? "" : "tensor '" + ugm.core.Printable.of(tensor) + "': ";
        assertTrue(e.getMessage().startsWith(file + ": " + shown), e.getMessage());
        assertTrue(e.getMessage().contains("unpaired surrogate"), e.getMessage());
        // the message is printable: escaped, valid UTF-8
        assertEquals(e.getMessage(), ugm.core.Printable.of(e.getMessage()));
        assertTrue(StandardCharsets.UTF_8.newEncoder().canEncode(e.getMessage()), e.getMessage());
    }

    @Test
    void escapedSurrogatePairsAreText() {
        SafetensorsHeader h = SafetensorsHeader.parse(Bytes.file(
                "{\"__metadata__\":{\"\\ud83d\\ude00\":\"\\udbff\\udfff\"},\"\\ud83d\\ude00\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
                new byte[4]), "pairs");
        assertEquals("\uD83D\uDE00", h.entries().getFirst().name());
        assertEquals("\uDBFF\uDFFF", h.metadata().get("\uD83D\uDE00"));
    }
}
