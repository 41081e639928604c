package ugm.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import ugm.core.DType;

/** Unusual but valid files the reader must accept, and large offsets. */
class AcceptedFilesTest {

    @TempDir
    Path dir;

    SafetensorsHeader parse(String json, int dataBytes) {
        return SafetensorsHeader.parse(Bytes.file(json, new byte[dataBytes]), "mem");
    }

    static List<String> names(SafetensorsHeader h) {
        return h.entries().stream().map(TensorEntry::name).toList();
    }

    @Test
    void entriesComeInDataOrderWhateverTheHeaderOrder() {
        SafetensorsHeader h = parse("{\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]},"
                + "\"a\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 12);
        assertEquals(List.of("a", "b"), names(h));
        assertEquals(12, h.dataLength());
    }

    @Test
    void zeroSizedTensorsMayShareAnOffset() {
        SafetensorsHeader h = parse("{\"full\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]},"
                + "\"e2\":{\"dtype\":\"F32\",\"shape\":[3,0],\"data_offsets\":[0,0]},"
                + "\"e1\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]}}", 4);
        assertEquals(List.of("e2", "full", "e1"), names(h));
    }

    @Test
    void whitespaceAroundTheObjectAndUnknownKeysAreAccepted() {
        String entry = "{\"dtype\":\"I32\",\"x\":{\"nested\":[1,2,{\"y\":null}]},\"shape\":[2,2],\"data_offsets\":[0,16],\"z\":1.5}";
        SafetensorsHeader h = parse(" \n\t{ \"test\" : " + entry + " }\r\n\t  ", 16);
        assertEquals(List.of(new TensorEntry("test", DType.I32, new long[] {2, 2}, 0, 16)), h.entries());
    }

    @Test
    void metadataKeepsFileOrderAndIsUnmodifiable() {
        SafetensorsHeader h = parse("{\"t\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[0,1]},"
                + "\"__metadata__\":{\"zeta\":\"1\",\"alpha\":\"2\",\"mid\":\"3\"}}", 1);
        assertEquals(List.of("zeta", "alpha", "mid"), List.copyOf(h.metadata().keySet()));
        assertThrows(UnsupportedOperationException.class, () -> h.metadata().put("x", "y"));
        assertThrows(UnsupportedOperationException.class, () -> h.entries().add(null));
    }

    @Test
    void escapedNamesAreDecoded() {
        SafetensorsHeader h = parse("{\"a\\u00e9\\\"\":{\"dtype\":\"BOOL\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1);
        assertEquals("a\u00e9\"", h.entries().getFirst().name());
    }

    @Test
    void negativeZeroDimensionIsZero() {
        assertEquals(0, parse("{\"t\":{\"dtype\":\"U8\",\"shape\":[-0],\"data_offsets\":[0,0]}}", 0).dataLength());
    }

    /** A sparse file whose second tensor starts past 2^31 bytes: no int offsets anywhere. */
    @Test
    void offsetsBeyondTwoGigabytes() throws IOException {
        long big = (1L << 31) + 5;
        String json = "{\"a\":{\"dtype\":\"U8\",\"shape\":[" + big + "],\"data_offsets\":[0," + big + "]},"
                + "\"b\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[" + big + "," + (big + 16) + "]}}";
        byte[] header = json.getBytes(StandardCharsets.UTF_8);
        Path file = dir.resolve("sparse.safetensors");
        long dataStart = 8 + header.length;
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.setLength(dataStart + big + 16);
            raf.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(header.length).array());
            raf.write(header);
            raf.seek(dataStart + big + 8);
            raf.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0x0123456789ABCDEFL).array());
            raf.seek(dataStart + big - 1);
            raf.write(0x7F);
        }
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            TensorEntry b = f.entry("b");
            assertEquals(big, b.begin());
            assertTrue(f.dataStart() + b.begin() > Integer.MAX_VALUE);
            MemorySegment data = f.data("b");
            assertEquals(16, data.byteSize());
            assertEquals(0, data.get(ReferenceVectorsTest.I64, 0));
            assertEquals(0x0123456789ABCDEFL, data.get(ReferenceVectorsTest.I64, 8));
            MemorySegment a = f.data("a");
            assertEquals(big, a.byteSize());
            assertEquals(0x7F, a.get(java.lang.foreign.ValueLayout.JAVA_BYTE, big - 1));
        }
        assertTrue(Files.size(file) > (1L << 31));
    }

    @Test
    void dataSlicesAreReadOnlyAndDieWithTheFile() throws IOException {
        Path file = dir.resolve("v1.safetensors");
        Files.write(file, Bytes.file(ReferenceVectorsTest.V1, 4, new byte[16]));
        MemorySegment data;
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            data = f.data("test");
            MemorySegment d = data;
            assertThrows(IllegalArgumentException.class, () -> d.set(java.lang.foreign.ValueLayout.JAVA_BYTE, 0, (byte) 1));
            assertThrows(IllegalArgumentException.class, () -> f.data("nope"));
            assertEquals(null, f.info("nope"));
        }
        MemorySegment d = data;
        assertThrows(IllegalStateException.class, () -> d.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 0));
    }

    @Test
    void headerParsesFromTheWholeFileWithoutTouchingData() {
        SafetensorsHeader h = SafetensorsHeader.parse(Bytes.file(ReferenceVectorsTest.V3, 1, new byte[16]), "x");
        assertEquals(96, h.headerLength());
        assertEquals(104, h.dataStart());
        assertEquals(Map.of("framework", "pt"), h.metadata());
    }
}
