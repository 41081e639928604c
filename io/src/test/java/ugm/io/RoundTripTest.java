package ugm.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import ugm.core.DType;
import ugm.core.TensorInfo;

/** What is written is read back identically, for every dtype and edge-case shape. */
class RoundTripTest {

    @TempDir
    Path dir;

    static byte[] randomBytes(Random random, long n) {
        byte[] b = new byte[(int) n];
        random.nextBytes(b);
        return b;
    }

    /** Writes the tensors with random contents, reads them back, returns what was written. */
    Map<String, byte[]> writeRandom(Path file, List<TensorInfo> tensors, Map<String, String> metadata, long seed) {
        Random random = new Random(seed);
        Map<String, byte[]> written = new HashMap<>();
        try (SafetensorsWriter w = SafetensorsWriter.create(file, tensors, metadata)) {
            for (TensorInfo t : tensors) {
                byte[] b = randomBytes(random, t.byteSize());
                MemorySegment target = w.target(t);
                assertEquals(t.byteSize(), target.byteSize());
                MemorySegment.copy(b, 0, target, ValueLayout.JAVA_BYTE, 0, b.length);
                written.put(t.name(), b);
            }
            w.commit();
        }
        return written;
    }

    @Test
    void everyDtypeWithScalarsAndEmptyTensors() {
        List<TensorInfo> tensors = new ArrayList<>();
        for (DType d : DType.values()) {
            tensors.add(new TensorInfo(d + ".vec", d, new long[] {8}));
            tensors.add(new TensorInfo(d + ".mat", d, new long[] {3, 4}));
            tensors.add(new TensorInfo(d + ".zero", d, new long[] {0}));
            tensors.add(new TensorInfo(d + ".zero2", d, new long[] {3, 0}));
            if (d.bits() % 8 == 0) {
                tensors.add(new TensorInfo(d + ".scalar", d, new long[] {}));
            }
        }
        assertEquals(22 * 4 + 19, tensors.size());
        Path file = dir.resolve("all.safetensors");
        Map<String, byte[]> written = writeRandom(file, tensors, Map.of("k", "v"), 42);
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertEquals(tensors.size(), f.entries().size());
            for (TensorInfo t : tensors) {
                assertEquals(t, f.info(t.name()));
                MemorySegment data = f.data(t.name());
                assertArrayEquals(written.get(t.name()), data.toArray(ValueLayout.JAVA_BYTE), t.name());
            }
            assertEquals(1, f.data("F32.scalar").byteSize() / 4);
            assertEquals(0, f.data("BF16.zero2").byteSize());
            assertEquals(3, f.data("F4.mat").byteSize() * 2 / 4);
            // Written in reference order: U64 first, sub-byte types last.
            assertEquals(DType.U64, f.entries().getFirst().dtype());
            assertEquals(DType.BOOL, f.entries().getLast().dtype());
            assertEquals(Map.of("k", "v"), f.metadata());
        }
    }

    @Test
    void emptyFileWithMetadataOnlyAndNothingAtAll() throws Exception {
        Path a = dir.resolve("a.safetensors");
        writeRandom(a, List.of(), new LinkedHashMap<>(Map.of("only", "meta")), 1);
        assertArrayEquals(Bytes.file("{\"__metadata__\":{\"only\":\"meta\"}}", 0, new byte[0]), Files.readAllBytes(a));
        Path b = dir.resolve("b.safetensors");
        writeRandom(b, List.of(), Map.of(), 1);
        assertArrayEquals(Bytes.file("{}", 6, new byte[0]), Files.readAllBytes(b));
        try (SafetensorsFile f = SafetensorsFile.open(b)) {
            assertTrue(f.entries().isEmpty());
            assertEquals(16, Files.size(b));
        }
    }

    @Test
    void namesSortByUtf8BytesAndEscapeAsSerde() throws Exception {
        // UTF-16 order would put the emoji (a surrogate pair) before U+FFFF; UTF-8 byte order does not.
        List<TensorInfo> tensors = List.of(
                new TensorInfo("\uD83D\uDE00", DType.U8, new long[] {1}),
                new TensorInfo("\uFFFF", DType.U8, new long[] {1}),
                new TensorInfo("\u00e9", DType.U8, new long[] {1}),
                new TensorInfo("q\"b\\s\n\t\u0001\u007f", DType.U8, new long[] {1}),
                new TensorInfo("Z", DType.U8, new long[] {1}));
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("z", "1");
        meta.put("a", "\u00fc\u0000");
        Path file = dir.resolve("names.safetensors");
        writeRandom(file, tensors, meta, 3);
        String expectedJson = "{\"__metadata__\":{\"z\":\"1\",\"a\":\"\u00fc\\u0000\"},"
                + "\"Z\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                + "\"q\\\"b\\\\s\\n\\t\\u0001\u007f\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]},"
                + "\"\u00e9\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[2,3]},"
                + "\"\uFFFF\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[3,4]},"
                + "\"\uD83D\uDE00\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[4,5]}}";
        byte[] bytes = Files.readAllBytes(file);
        int n = (int) java.nio.ByteBuffer.wrap(bytes).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong(0);
        String header = new String(bytes, 8, n, StandardCharsets.UTF_8);
        assertEquals(expectedJson, header.stripTrailing());
        assertEquals(0, n % 8);
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertEquals(List.of("Z", "q\"b\\s\n\t\u0001\u007f", "\u00e9", "\uFFFF", "\uD83D\uDE00"),
                    f.entries().stream().map(TensorEntry::name).toList());
            assertEquals(List.of("z", "a"), List.copyOf(f.metadata().keySet()));
            assertEquals("\u00fc\u0000", f.metadata().get("a"));
        }
    }
}
