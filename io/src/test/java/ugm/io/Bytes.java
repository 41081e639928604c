package ugm.io;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;

/** Builds safetensors files byte by byte for tests. */
final class Bytes {

    private Bytes() {
    }

    /** 8-byte little-endian length, then the header bytes exactly as given, then data. */
    static byte[] file(long n, byte[] header, byte[] data) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(n).array());
        out.writeBytes(header);
        out.writeBytes(data);
        return out.toByteArray();
    }

    /** A file whose header is {@code json} as UTF-8, N its exact length (no padding). */
    static byte[] file(String json, byte[] data) {
        byte[] h = json.getBytes(StandardCharsets.UTF_8);
        return file(h.length, h, data);
    }

    /** A file whose header is {@code json} padded with {@code spaces} spaces. */
    static byte[] file(String json, int spaces, byte[] data) {
        return file(json + " ".repeat(spaces), data);
    }

    static byte[] hex(String hex) {
        return HexFormat.of().parseHex(hex.replace(" ", ""));
    }

    static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }
}
