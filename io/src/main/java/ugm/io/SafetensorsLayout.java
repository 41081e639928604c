package ugm.io;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import ugm.core.TensorInfo;

/**
 * Where everything goes in a safetensors file written the reference's way: tensors sorted by
 * dtype alignment, largest first, then by name byte-wise; a compact header with
 * {@code __metadata__} first (keys in the given order); padded with spaces to a multiple of 8
 * (docs/safetensors.md, "How the reference writes").
 *
 * <p>Immutable.
 */
public final class SafetensorsLayout {

    /** Largest dtype first, then by name in UTF-8 byte order. */
    static final Comparator<TensorInfo> WRITE_ORDER = Comparator
            .comparing((TensorInfo t) -> t.dtype().ordinal(), Comparator.reverseOrder())
            .thenComparing(TensorInfo::name, JsonText.CODE_POINT_ORDER);

    private final byte[] header;
    private final List<TensorEntry> entries;
    private final Map<String, String> metadata;

    private SafetensorsLayout(byte[] header, List<TensorEntry> entries, Map<String, String> metadata) {
        this.header = header;
        this.entries = entries;
        this.metadata = metadata;
    }

    /**
     * Lays out a file holding {@code tensors} (in any order) and {@code metadata} (written in its
     * iteration order; an empty map writes no {@code __metadata__}).
     *
     * @throws IllegalArgumentException for duplicate names, a tensor called {@code __metadata__},
     *                                  a size that is not whole bytes or overflows, text that is not
     *                                  valid Unicode, or a header over the reference's limit
     */
    public static SafetensorsLayout of(List<TensorInfo> tensors, Map<String, String> metadata) {
        Set<String> names = new HashSet<>();
        for (TensorInfo t : tensors) {
            if (t.name().equals("__metadata__")) {
                throw new IllegalArgumentException("a tensor cannot be called __metadata__");
            }
            if (!names.add(t.name())) {
                throw new IllegalArgumentException(Messages.of("output", t.name(), "tensor given twice"));
            }
        }
        List<TensorInfo> sorted = new ArrayList<>(tensors);
        sorted.sort(WRITE_ORDER);
        List<TensorEntry> entries = new ArrayList<>(sorted.size());
        long offset = 0;
        for (TensorInfo t : sorted) {
            long size;
            try {
                size = t.byteSize();
            } catch (ArithmeticException e) {
                throw new IllegalArgumentException(Messages.of("output", t.name(), "no valid byte size: " + e.getMessage()), e);
            }
            long end = Math.addExact(offset, size);
            entries.add(new TensorEntry(t.name(), t.dtype(), t.shape(), offset, end));
            offset = end;
        }
        Map<String, String> meta = Collections.unmodifiableMap(new LinkedHashMap<>(metadata));
        return new SafetensorsLayout(headerBytes(entries, meta), List.copyOf(entries), meta);
    }

    private static byte[] headerBytes(List<TensorEntry> entries, Map<String, String> metadata) {
        StringBuilder sb = new StringBuilder(64 + 96 * entries.size()).append('{');
        if (!metadata.isEmpty()) {
            sb.append("\"__metadata__\":{");
            String sep = "";
            for (Map.Entry<String, String> m : metadata.entrySet()) {
                sb.append(sep);
                JsonText.appendSerde(sb, m.getKey());
                sb.append(':');
                JsonText.appendSerde(sb, m.getValue());
                sep = ",";
            }
            sb.append('}');
            if (!entries.isEmpty()) {
                sb.append(',');
            }
        }
        String sep = "";
        for (TensorEntry e : entries) {
            sb.append(sep);
            JsonText.appendSerde(sb, e.name());
            sb.append(":{\"dtype\":\"").append(e.dtype().name()).append("\",\"shape\":[");
            long[] shape = e.shape();
            for (int i = 0; i < shape.length; i++) {
                sb.append(i == 0 ? "" : ",").append(shape[i]);
            }
            sb.append("],\"data_offsets\":[").append(e.begin()).append(',').append(e.end()).append("]}");
            sep = ",";
        }
        sb.append('}');
        byte[] json = JsonText.utf8(sb);
        int padded = (json.length + 7) & ~7;
        if (json.length > SafetensorsHeader.MAX_HEADER_LENGTH || padded > SafetensorsHeader.MAX_HEADER_LENGTH) {
            throw new IllegalArgumentException("header of " + json.length + " bytes exceeds the format's limit of "
                    + SafetensorsHeader.MAX_HEADER_LENGTH);
        }
        byte[] header = Arrays.copyOf(json, padded);
        Arrays.fill(header, json.length, padded, (byte) ' ');
        return header;
    }

    /** N: the header's length, padding included. */
    public long headerLength() {
        return header.length;
    }

    /** The header's bytes (a copy), padding included, without the 8-byte length before it. */
    public byte[] header() {
        return header.clone();
    }

    /** The offset of the data region in the file: 8 plus the header length. */
    public long dataStart() {
        return 8 + (long) header.length;
    }

    /** The tensors in data order, offsets relative to the data region. */
    public List<TensorEntry> entries() {
        return entries;
    }

    /** The {@code __metadata__} entries, in order. */
    public Map<String, String> metadata() {
        return metadata;
    }

    /** The bytes of tensor data. */
    public long dataLength() {
        return entries.isEmpty() ? 0 : entries.getLast().end();
    }

    /** The whole file's size. */
    public long fileSize() {
        return Math.addExact(dataStart(), dataLength());
    }
}
