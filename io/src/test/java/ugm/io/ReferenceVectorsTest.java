package ugm.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import ugm.core.DType;
import ugm.core.TensorInfo;

/** The test vectors of docs/safetensors.md ("Test vectors"), read and written byte for byte. */
class ReferenceVectorsTest {

    static final String V1 = "{\"test\":{\"dtype\":\"I32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}";
    static final String V2 = "{\"test1\":{\"dtype\":\"I32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
            + "\"test2\":{\"dtype\":\"F16\",\"shape\":[2,2],\"data_offsets\":[16,24]}}";
    static final String V3 = "{\"__metadata__\":{\"framework\":\"pt\"},\"test1\":{\"dtype\":\"I32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}";
    static final String V5 = "{\"some_ints\":{\"dtype\":\"I64\",\"shape\":[1,4],\"data_offsets\":[0,32]},"
            + "\"some_floats\":{\"dtype\":\"F32\",\"shape\":[1,2,2],\"data_offsets\":[32,48]}}";
    static final byte[] V5_DATA = Bytes.hex("ffffffffffffffff 0000000000000000 0100000000000000 0200000000000000"
            + "000080bf 00000000 0000803f 00000040");

    static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @TempDir
    Path dir;

    static TensorInfo t(String name, DType dtype, long... shape) {
        return new TensorInfo(name, dtype, shape);
    }

    /** Writes {@code tensors} with the writer, filling each with {@code data} taken in data order. */
    byte[] write(List<TensorInfo> tensors, Map<String, String> metadata, byte[] data) throws IOException {
        Path out = dir.resolve("out.safetensors");
        try (SafetensorsWriter w = SafetensorsWriter.create(out, tensors, metadata)) {
            for (TensorEntry e : w.layout().entries()) {
                MemorySegment.copy(data, (int) e.begin(), w.target(e.info()), ValueLayout.JAVA_BYTE, 0, (int) e.byteSize());
            }
            w.commit();
        }
        return Files.readAllBytes(out);
    }

    SafetensorsFile open(byte[] bytes) throws IOException {
        Path p = dir.resolve("in-" + System.nanoTime() + ".safetensors");
        Files.write(p, bytes);
        return SafetensorsFile.open(p);
    }

    @Test
    void vector1() throws IOException {
        byte[] expected = Bytes.file(V1, 4, new byte[16]);
        assertEquals(88, expected.length);
        assertEquals(0x40, expected[0]);
        assertArrayEquals(expected, write(List.of(t("test", DType.I32, 2, 2)), Map.of(), new byte[16]));

        byte[] withOne = expected.clone();
        withOne[84] = 1;
        try (SafetensorsFile f = open(withOne)) {
            assertEquals(64, f.headerLength());
            assertEquals(72, f.dataStart());
            assertEquals(List.of(new TensorEntry("test", DType.I32, new long[] {2, 2}, 0, 16)), f.entries());
            assertEquals(List.of(t("test", DType.I32, 2, 2)), f.tensors());
            assertTrue(f.metadata().isEmpty());
            MemorySegment d = f.data("test");
            assertEquals(16, d.byteSize());
            assertTrue(d.isReadOnly());
            assertEquals(0, d.get(I32, 0));
            assertEquals(1, d.get(I32, 12));
        }
    }

    @Test
    void vector2EitherOrder() throws IOException {
        byte[] expected = Bytes.file(V2, 6, new byte[24]);
        assertEquals(0x80, expected[0] & 0xFF);
        assertArrayEquals(expected, write(List.of(t("test1", DType.I32, 2, 2), t("test2", DType.F16, 2, 2)), Map.of(), new byte[24]));
        assertArrayEquals(expected, write(List.of(t("test2", DType.F16, 2, 2), t("test1", DType.I32, 2, 2)), Map.of(), new byte[24]));
        try (SafetensorsFile f = open(expected)) {
            assertEquals(List.of("test1", "test2"), f.entries().stream().map(TensorEntry::name).toList());
            assertEquals(16, f.entry("test2").begin());
            assertEquals(DType.F16, f.info("test2").dtype());
            assertEquals(8, f.data("test2").byteSize());
        }
    }

    @Test
    void vector3Metadata() throws IOException {
        byte[] expected = Bytes.file(V3, 1, new byte[16]);
        assertEquals(0x60, expected[0]);
        assertArrayEquals(expected, write(List.of(t("test1", DType.I32, 2, 2)), Map.of("framework", "pt"), new byte[16]));
        try (SafetensorsFile f = open(expected)) {
            assertEquals(Map.of("framework", "pt"), f.metadata());
            assertEquals(96, f.headerLength());
        }
    }

    @Test
    void vector4UnpaddedHeaderIsRead() throws IOException {
        byte[] file = Bytes.file(V1, new byte[16]);
        assertEquals(60, file[0]);
        try (SafetensorsFile f = open(file)) {
            assertEquals(60, f.headerLength());
            assertEquals(68, f.dataStart());
            assertEquals(16, f.data("test").byteSize());
        }
        // Written again, it gets the reference's padding: vector 1.
        assertArrayEquals(Bytes.file(V1, 4, new byte[16]), write(List.of(t("test", DType.I32, 2, 2)), Map.of(), new byte[16]));
    }

    @Test
    void vector5PythonSample() throws IOException {
        byte[] expected = Bytes.file(V5, 2, V5_DATA);
        assertEquals(192, expected.length);
        assertEquals(0x88, expected[0] & 0xFF);
        List<TensorInfo> given = List.of(t("some_floats", DType.F32, 1, 2, 2), t("some_ints", DType.I64, 1, 4));
        assertArrayEquals(expected, write(given, new LinkedHashMap<>(), V5_DATA));
        try (SafetensorsFile f = open(expected)) {
            MemorySegment ints = f.data("some_ints");
            assertEquals(List.of(-1L, 0L, 1L, 2L), List.of(ints.get(I64, 0), ints.get(I64, 8), ints.get(I64, 16), ints.get(I64, 24)));
            MemorySegment floats = f.data("some_floats");
            assertEquals(List.of(-1f, 0f, 1f, 2f), List.of(floats.get(F32, 0), floats.get(F32, 4), floats.get(F32, 8), floats.get(F32, 12)));
        }
    }
}
