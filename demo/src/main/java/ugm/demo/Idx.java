package ugm.demo;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.zip.GZIPInputStream;
import ugm.core.UgmException;

/**
 * An IDX file of unsigned bytes (the format of MNIST and Fashion-MNIST), plain or gzipped: the
 * magic {@code 00 00 08 n}, n big-endian 32-bit dimensions, then the values in row-major order.
 * A file that starts with the gzip magic {@code 1f 8b} is decompressed on the fly.
 *
 * @param dims   the dimensions, e.g. {@code [60000, 28, 28]} for images or {@code [60000]} for labels
 * @param values the values, unsigned (0..255) in bytes
 */
record Idx(int[] dims, byte[] values) {
    private static final int UNSIGNED_BYTE = 0x08;
    private static final long MAX_VALUES = Integer.MAX_VALUE - 8;

    Idx {
        dims = dims.clone();
    }

    @Override
    public int[] dims() {
        return dims.clone();
    }

    /** How many items (the first dimension). */
    int count() {
        return dims[0];
    }

    /** Values per item: the product of the dimensions after the first (1 for labels). */
    int itemSize() {
        int n = 1;
        for (int i = 1; i < dims.length; i++) {
            n *= dims[i];
        }
        return n;
    }

    /** Value {@code j} of item {@code i}, 0..255. */
    int at(int i, int j) {
        return values[i * itemSize() + j] & 0xff;
    }

    /** Reads {@code file}; a missing, malformed or truncated file is an invalid input naming it. */
    static Idx read(Path file) {
        try (InputStream raw = new BufferedInputStream(Files.newInputStream(file), 1 << 16)) {
            raw.mark(2);
            int b0 = raw.read();
            int b1 = raw.read();
            raw.reset();
            InputStream in = b0 == 0x1f && b1 == 0x8b ? new BufferedInputStream(new GZIPInputStream(raw, 1 << 16), 1 << 16) : raw;
            return parse(new DataInputStream(in), file);
        } catch (NoSuchFileException e) {
            throw new UgmException(UgmException.Kind.INVALID_INPUT, file + ": no such file");
        } catch (EOFException e) {
            throw invalid(file, "truncated (ends before the values its header announces)");
        } catch (IOException e) {
            // A damaged gzip stream is reported as a ZipException, an IOException.
            throw invalid(file, "cannot be read: " + e.getMessage());
        }
    }

    private static Idx parse(DataInputStream in, Path file) throws IOException {
        int magic = in.readInt();
        if ((magic >>> 16) != 0) {
            throw invalid(file, String.format("not an IDX file (magic %08x)", magic));
        }
        int type = (magic >>> 8) & 0xff;
        if (type != UNSIGNED_BYTE) {
            throw invalid(file, String.format("IDX type 0x%02x is not supported (only unsigned bytes, 0x08)", type));
        }
        int n = magic & 0xff;
        if (n == 0) {
            throw invalid(file, "an IDX file with no dimensions");
        }
        int[] dims = new int[n];
        long total = 1;
        for (int i = 0; i < n; i++) {
            dims[i] = in.readInt();
            if (dims[i] < 0) {
                throw invalid(file, "negative dimension " + dims[i]);
            }
            total *= dims[i];
            if (total > MAX_VALUES) {
                throw invalid(file, "too large (more than " + MAX_VALUES + " values)");
            }
        }
        byte[] values = new byte[(int) total];
        in.readFully(values);
        if (in.read() != -1) {
            throw invalid(file, "has data after the " + total + " values its header announces");
        }
        return new Idx(dims, values);
    }

    private static UgmException invalid(Path file, String why) {
        return new UgmException(UgmException.Kind.INVALID_INPUT, file + ": " + why);
    }
}
