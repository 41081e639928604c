package ugm.demo;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import ugm.core.UgmException;

/** The IDX reader on small files written here, byte by byte, plain and gzipped. */
class IdxTest {
    @TempDir
    Path dir;

    /** An IDX file of unsigned bytes: 00 00 08 n, the dimensions big-endian, the values. */
    static byte[] idx(int[] dims, byte[] values) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        b.write(0);
        b.write(0);
        b.write(8);
        b.write(dims.length);
        for (int d : dims) {
            b.write(d >>> 24);
            b.write(d >>> 16);
            b.write(d >>> 8);
            b.write(d);
        }
        b.write(values, 0, values.length);
        return b.toByteArray();
    }

    static byte[] gzip(byte[] data) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        try (OutputStream z = new GZIPOutputStream(b)) {
            z.write(data);
        }
        return b.toByteArray();
    }

    private static byte[] values(int n) {
        byte[] v = new byte[n];
        for (int i = 0; i < n; i++) {
            v[i] = (byte) (i * 37 + 11); // crosses 127, so the values must be read unsigned
        }
        return v;
    }

    @Test
    void readsImagesPlainAndGzipped() throws IOException {
        byte[] v = values(3 * 2 * 5);
        byte[] file = idx(new int[] {3, 2, 5}, v);
        Path plain = Files.write(dir.resolve("images-idx3-ubyte"), file);
        Path gz = Files.write(dir.resolve("images-idx3-ubyte.gz"), gzip(file));
        for (Path p : new Path[] {plain, gz}) {
            Idx x = Idx.read(p);
            assertArrayEquals(new int[] {3, 2, 5}, x.dims(), p.toString());
            assertEquals(3, x.count());
            assertEquals(10, x.itemSize());
            for (int i = 0; i < 3; i++) {
                for (int j = 0; j < 10; j++) {
                    assertEquals((i * 10 + j) * 37 + 11 & 0xff, x.at(i, j), p + " item " + i + " value " + j);
                }
            }
        }
    }

    @Test
    void readsLabels() throws IOException {
        Path p = Files.write(dir.resolve("labels.gz"), gzip(idx(new int[] {4}, new byte[] {9, 0, 3, 7})));
        Idx x = Idx.read(p);
        assertArrayEquals(new int[] {4}, x.dims());
        assertEquals(1, x.itemSize());
        assertEquals(9, x.at(0, 0));
        assertEquals(7, x.at(3, 0));
    }

    @Test
    void refusesBadFilesNamingThem() throws IOException {
        byte[] good = idx(new int[] {2, 3}, values(6));
        byte[] truncated = Arrays.copyOf(good, good.length - 1);
        byte[] trailing = Arrays.copyOf(good, good.length + 1);
        byte[] floats = good.clone();
        floats[2] = 0x0d;
        byte[] notIdx = "hello, world".getBytes();
        byte[] brokenGzip = Arrays.copyOf(gzip(good), 12);
        Object[][] cases = {{truncated, "truncated"}, {trailing, "has data after"}, {floats, "type 0x0d"},
                {notIdx, "not an IDX file"}, {gzip(truncated), "truncated"}, {brokenGzip, ""}};
        int i = 0;
        for (Object[] c : cases) {
            Path p = Files.write(dir.resolve("bad-" + i++), (byte[]) c[0]);
            UgmException e = assertThrows(UgmException.class, () -> Idx.read(p));
            assertEquals(UgmException.Kind.INVALID_INPUT, e.kind(), e.getMessage());
            assertTrue(e.getMessage().startsWith(p.toString()) && e.getMessage().contains((String) c[1]), e.getMessage());
        }
        UgmException missing = assertThrows(UgmException.class, () -> Idx.read(dir.resolve("absent")));
        assertTrue(missing.getMessage().contains("absent: no such file"), missing.getMessage());
    }
}
