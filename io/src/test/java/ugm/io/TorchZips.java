package ugm.io;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/** Builds torch.save-shaped zips (stored entries under {@code archive/}) and pickles byte by byte, for tests. */
final class TorchZips {

    /** Where make_fixtures.py wrote the fixtures (test resources, copied to target/test-classes). */
    static final Path FIXTURES = fixtures();

    private TorchZips() {
    }

    private static Path fixtures() {
        try {
            return Path.of(TorchZips.class.getResource("/torch/make_fixtures.py").toURI()).getParent();
        } catch (java.net.URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    static Path fixture(String name) {
        return FIXTURES.resolve(name);
    }

    /** A zip of stored entries, in the given order. */
    static byte[] zip(Map<String, byte[]> entries) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (ZipOutputStream z = new ZipOutputStream(out)) {
            for (Map.Entry<String, byte[]> e : entries.entrySet()) {
                ZipEntry ze = new ZipEntry(e.getKey());
                ze.setMethod(ZipEntry.STORED);
                ze.setSize(e.getValue().length);
                CRC32 crc = new CRC32();
                crc.update(e.getValue());
                ze.setCrc(crc.getValue());
                z.putNextEntry(ze);
                z.write(e.getValue());
                z.closeEntry();
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    /** A torch.save zip: {@code archive/data.pkl} holding {@code pickle}, and storages {@code archive/data/<key>}. */
    static byte[] torchZip(byte[] pickle, Map<String, byte[]> storages) {
        Map<String, byte[]> entries = new LinkedHashMap<>();
        entries.put("archive/data.pkl", pickle);
        entries.put("archive/byteorder", "little".getBytes());
        storages.forEach((k, v) -> entries.put("archive/data/" + k, v));
        entries.put("archive/version", "3\n".getBytes());
        return zip(entries);
    }

    static Path write(Path file, byte[] bytes) {
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
            return Files.write(file, bytes);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Pickle opcodes, written as protocol 2 does. */
    static final class Pickle {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();

        Pickle() {
            op(0x80, 2);
        }

        Pickle op(int... bytes) {
            for (int b : bytes) {
                out.write(b);
            }
            return this;
        }

        Pickle global(String module, String name) {
            op('c');
            out.writeBytes((module + "\n" + name + "\n").getBytes());
            return this;
        }

        Pickle str(String s) {
            byte[] b = s.getBytes(java.nio.charset.StandardCharsets.UTF_8);
            op('X', b.length & 0xFF, (b.length >> 8) & 0xFF, (b.length >> 16) & 0xFF, b.length >>> 24);
            out.writeBytes(b);
            return this;
        }

        Pickle int1(int v) {
            return op('K', v);
        }

        /** {@code ('storage', torch.<type>, key, 'cpu', numel)} BINPERSID. */
        Pickle storage(String type, String key, int numel) {
            op('(');
            str("storage");
            global("torch", type);
            str(key);
            str("cpu");
            op('J', numel & 0xFF, (numel >> 8) & 0xFF, (numel >> 16) & 0xFF, numel >>> 24);
            return op('t', 'Q');
        }

        /** {@code _rebuild_tensor_v2(storage, offset, (dims), (strides), False, OrderedDict())} over a FloatStorage. */
        Pickle tensor(String key, int storageElements, int offset, int[] shape, int[] stride) {
            global("torch._utils", "_rebuild_tensor_v2");
            op('(');
            storage("FloatStorage", key, storageElements);
            int1(offset);
            op('(');
            for (int d : shape) {
                int1(d);
            }
            op('t', '(');
            for (int s : stride) {
                int1(s);
            }
            op('t', 0x89);
            global("collections", "OrderedDict");
            op(')', 'R', 't', 'R');
            return this;
        }

        byte[] bytes() {
            return out.toByteArray();
        }

        /** The opcodes so far, then STOP. */
        byte[] stop() {
            op('.');
            return bytes();
        }
    }
}
