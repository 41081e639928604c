package ugm.io;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import java.io.IOException;
import java.io.InputStreamReader;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import ugm.core.DType;
import ugm.core.Printable;
import ugm.io.SafetensorsException.Rule;

/**
 * The parsed header of a safetensors file: its length N, the tensors in data order (by begin
 * offset) and the metadata in file order. {@link #parse} enforces every rule of the format,
 * against the whole file's bytes, without touching tensor data.
 *
 * <p>Immutable.
 *
 * @param headerLength N, the JSON header's length in bytes (padding included)
 * @param entries      the tensors, in the order of their data
 * @param metadata     {@code __metadata__}, keys in file order; empty when absent
 */
public record SafetensorsHeader(long headerLength, List<TensorEntry> entries, Map<String, String> metadata) {

    /** The reference implementation's limit on N. */
    public static final long MAX_HEADER_LENGTH = 100_000_000L;
    /** JSON nesting allowed in a header; real headers need 3. */
    static final int MAX_NESTING = 64;

    static final JsonFactory JSON = JsonFactory.builder()
            .streamReadConstraints(StreamReadConstraints.builder()
                    .maxNestingDepth(MAX_NESTING)
                    .maxStringLength((int) MAX_HEADER_LENGTH)
                    .maxNameLength((int) MAX_HEADER_LENGTH)
                    .build())
            // Plain strings for names: no symbol table to overflow with millions of tensors.
            .disable(JsonFactory.Feature.CANONICALIZE_FIELD_NAMES)
            .disable(JsonFactory.Feature.INTERN_FIELD_NAMES)
            .build();

    private static final ValueLayout.OfLong U64_LE = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    public SafetensorsHeader {
        entries = List.copyOf(entries);
        metadata = Collections.unmodifiableMap(new LinkedHashMap<>(metadata));
    }

    /** Where the data region starts in the file: 8 + N. */
    public long dataStart() {
        return 8 + headerLength;
    }

    /** Bytes of the data region: the last tensor's end offset. */
    public long dataLength() {
        return entries.isEmpty() ? 0 : entries.getLast().end();
    }

    /** Parses a whole file held in a byte array; see {@link #parse(MemorySegment, String)}. */
    public static SafetensorsHeader parse(byte[] file, String fileName) {
        return parse(MemorySegment.ofArray(file), fileName);
    }

    /**
     * Parses and validates the header of {@code file}, the whole file's bytes.
     *
     * @param fileName what to call the file in messages
     * @throws SafetensorsException when the file breaks any rule of the format
     */
    public static SafetensorsHeader parse(MemorySegment file, String fileName) {
        long size = file.byteSize();
        if (size < 8) {
            throw new SafetensorsException(Rule.FILE_TOO_SHORT, fileName,
                    "file has " + size + " bytes, fewer than the 8 of the header length");
        }
        long n = file.get(U64_LE, 0);
        if (n < 0 || n > MAX_HEADER_LENGTH) {
            throw new SafetensorsException(Rule.HEADER_TOO_LARGE, fileName,
                    "header length " + Long.toUnsignedString(n) + " exceeds the limit of " + MAX_HEADER_LENGTH);
        }
        if (n > size - 8) {
            throw new SafetensorsException(Rule.HEADER_PAST_END, fileName,
                    "header length " + n + " runs past the end of the " + size + "-byte file");
        }
        MemorySegment json = file.asSlice(8, n);
        long bad = firstInvalidUtf8(json);
        if (bad >= 0) {
            throw new SafetensorsException(Rule.BAD_UTF8, fileName,
                    "header is not valid UTF-8 (at byte " + bad + " of the header)");
        }
        JsonContent content = new JsonContent(fileName);
        content.read(json);
        List<TensorEntry> entries = layOut(content.entries, fileName);
        long end = entries.isEmpty() ? 0 : entries.getLast().end();
        long expected;
        try {
            expected = Math.addExact(8 + n, end);
        } catch (ArithmeticException e) {
            expected = Long.MAX_VALUE;
        }
        if (expected != size) {
            String last = entries.isEmpty() ? null : entries.getLast().name();
            if (expected < size) {
                throw new SafetensorsException(Rule.TRAILING_BYTES, fileName, last, (size - expected)
                        + " bytes follow the end of the data region (file has " + size + " bytes, tensors end at " + expected + ")");
            }
            throw new SafetensorsException(Rule.TRUNCATED, fileName, last,
                    "data ends at byte " + (expected == Long.MAX_VALUE ? "beyond " + Long.MAX_VALUE : expected)
                            + " but the file has only " + size + " bytes");
        }
        return new SafetensorsHeader(n, entries, content.metadata);
    }

    /** Checks sizes and tiling (rules 5 and 6 of docs/safetensors.md); returns the entries in data order. */
    private static List<TensorEntry> layOut(List<TensorEntry> inHeaderOrder, String fileName) {
        for (TensorEntry e : inHeaderOrder) {
            if (e.end() < e.begin()) {
                throw new SafetensorsException(Rule.BAD_OFFSETS, fileName, e.name(),
                        "data_offsets [" + e.begin() + ", " + e.end() + "] end before they begin");
            }
            long bytes;
            try {
                bytes = e.dtype().byteSize(DType.elementCount(e.shape()));
            } catch (ArithmeticException x) {
                throw new SafetensorsException(Rule.BAD_SHAPE, fileName, e.name(), "shape "
                        + Arrays.toString(e.shape()) + " of " + e.dtype() + " has no valid byte size: " + x.getMessage());
            }
            if (bytes != e.byteSize()) {
                throw new SafetensorsException(Rule.SIZE_MISMATCH, fileName, e.name(), "data_offsets [" + e.begin()
                        + ", " + e.end() + "] hold " + e.byteSize() + " bytes but " + e.dtype()
                        + Arrays.toString(e.shape()) + " needs " + bytes);
            }
        }
        List<TensorEntry> sorted = new ArrayList<>(inHeaderOrder);
        sorted.sort(Comparator.comparingLong(TensorEntry::begin).thenComparingLong(TensorEntry::end));
        long next = 0;
        String previous = null;
        for (TensorEntry e : sorted) {
            if (e.begin() != next) {
                String where = previous == null ? "the data region starts at 0"
                        : "tensor '" + previous + "' ends at " + next;
                String what = e.begin() > next ? "a gap" : "an overlap";
                throw new SafetensorsException(Rule.GAP_OR_OVERLAP, fileName, e.name(),
                        "data begins at " + e.begin() + " but " + where + " (" + what + ")");
            }
            next = e.end();
            previous = e.name();
        }
        return sorted;
    }

    /** Byte offset of the first byte that is not valid UTF-8, or -1 when all are. */
    static long firstInvalidUtf8(MemorySegment bytes) {
        CharsetDecoder decoder = strictUtf8();
        byte[] chunk = new byte[1 << 16];
        ByteBuffer in = ByteBuffer.wrap(chunk).limit(0);
        CharBuffer out = CharBuffer.allocate(1 << 16);
        long size = bytes.byteSize();
        long loaded = 0;
        long base = 0;
        while (true) {
            int rest = in.remaining();
            System.arraycopy(chunk, in.position(), chunk, 0, rest);
            base += in.position();
            int n = (int) Math.min(chunk.length - rest, size - loaded);
            MemorySegment.copy(bytes, ValueLayout.JAVA_BYTE, loaded, chunk, rest, n);
            loaded += n;
            in.limit(rest + n).position(0);
            boolean last = loaded == size;
            CoderResult result;
            do {
                out.clear();
                result = decoder.decode(in, out, last);
            } while (result.isOverflow());
            if (result.isError()) {
                return base + in.position();
            }
            if (last) {
                return in.hasRemaining() ? base + in.position() : -1;
            }
        }
    }

    static CharsetDecoder strictUtf8() {
        return StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
    }

    /** Jackson's message without its multi-line source excerpt, plus where the problem is. */
    static String jsonProblem(JsonProcessingException e) {
        JsonLocation at = e.getLocation();
        String where = at == null ? "" : " (line " + at.getLineNr() + ", column " + at.getColumnNr() + ")";
        return Printable.of(e.getOriginalMessage()) + where;
    }

    /** Reads the JSON object of a header: entries in header order, and metadata. */
    private static final class JsonContent {
        private final String fileName;
        final List<TensorEntry> entries = new ArrayList<>();
        final Map<String, String> metadata = new LinkedHashMap<>();
        private JsonParser p;

        JsonContent(String fileName) {
            this.fileName = fileName;
        }

        void read(MemorySegment json) {
            try (JsonParser parser = JSON.createParser(new InputStreamReader(new SegmentInputStream(json), strictUtf8()))) {
                p = parser;
                JsonToken first = p.nextToken();
                if (first == null) {
                    throw new SafetensorsException(Rule.BAD_JSON, fileName, "header is empty");
                }
                if (first != JsonToken.START_OBJECT) {
                    throw new SafetensorsException(Rule.NOT_OBJECT, fileName, "header is " + kind(first) + ", not a JSON object");
                }
                Set<String> names = new HashSet<>();
                boolean sawMetadata = false;
                while (p.nextToken() == JsonToken.FIELD_NAME) {
                    String name = p.currentName();
                    int half = JsonText.unpairedSurrogate(name);
                    if (half >= 0) {
                        throw new SafetensorsException(Rule.BAD_JSON, fileName, name, "name " + JsonText.surrogateProblem(name, half));
                    }
                    if (name.equals("__metadata__")) {
                        if (sawMetadata) {
                            throw new SafetensorsException(Rule.DUPLICATE_KEY, fileName, "__metadata__ appears twice");
                        }
                        sawMetadata = true;
                        readMetadata();
                    } else {
                        if (!names.add(name)) {
                            throw new SafetensorsException(Rule.DUPLICATE_NAME, fileName, name, "name appears twice in the header");
                        }
                        entries.add(readEntry(name));
                    }
                }
                if (p.nextToken() != null) {
                    throw new SafetensorsException(Rule.BAD_JSON, fileName, "content follows the header's JSON object");
                }
            } catch (JsonProcessingException e) {
                throw new SafetensorsException(Rule.BAD_JSON, fileName, "header is not valid JSON: " + jsonProblem(e));
            } catch (IOException e) {
                throw new SafetensorsException(Rule.BAD_JSON, fileName, "header cannot be read: " + e);
            }
        }

        private void readMetadata() throws IOException {
            JsonToken t = p.nextToken();
            if (t != JsonToken.START_OBJECT) {
                throw new SafetensorsException(Rule.BAD_METADATA, fileName, "__metadata__ is " + kind(t) + ", not an object of strings");
            }
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String key = unicode(p.currentName(), null, "__metadata__ key '" + p.currentName() + "'");
                JsonToken v = p.nextToken();
                if (v != JsonToken.VALUE_STRING) {
                    throw new SafetensorsException(Rule.BAD_METADATA, fileName,
                            "__metadata__ value of '" + key + "' is " + kind(v) + ", not a string");
                }
                if (metadata.putIfAbsent(key, unicode(p.getText(), null, "__metadata__ value of '" + key + "'")) != null) {
                    throw new SafetensorsException(Rule.DUPLICATE_KEY, fileName, "__metadata__ key '" + key + "' appears twice");
                }
            }
        }

        private TensorEntry readEntry(String name) throws IOException {
            JsonToken t = p.nextToken();
            if (t != JsonToken.START_OBJECT) {
                throw new SafetensorsException(Rule.NOT_OBJECT, fileName, name, "entry is " + kind(t) + ", not an object");
            }
            DType dtype = null;
            long[] shape = null;
            long[] offsets = null;
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String key = unicode(p.currentName(), name, "field name \"" + p.currentName() + "\"");
                JsonToken v = p.nextToken();
                switch (key) {
                    case "dtype" -> {
                        once(dtype, key, name);
                        if (v != JsonToken.VALUE_STRING) {
                            throw new SafetensorsException(Rule.BAD_DTYPE, fileName, name, "dtype is " + kind(v) + ", not a string");
                        }
                        dtype = DType.fromName(unicode(p.getText(), name, "dtype \"" + p.getText() + "\""));
                        if (dtype == null) {
                            throw new SafetensorsException(Rule.BAD_DTYPE, fileName, name, "unknown dtype \"" + p.getText() + "\"");
                        }
                    }
                    case "shape" -> {
                        once(shape, key, name);
                        shape = readIntegers(v, Rule.BAD_SHAPE, name, "shape", "dimension");
                    }
                    case "data_offsets" -> {
                        once(offsets, key, name);
                        offsets = readIntegers(v, Rule.BAD_OFFSETS, name, "data_offsets", "offset");
                        if (offsets.length != 2) {
                            throw new SafetensorsException(Rule.BAD_OFFSETS, fileName, name,
                                    "data_offsets has " + offsets.length + " numbers, not 2");
                        }
                    }
                    default -> p.skipChildren();
                }
            }
            String missing = dtype == null ? "dtype" : shape == null ? "shape" : offsets == null ? "data_offsets" : null;
            if (missing != null) {
                throw new SafetensorsException(Rule.MISSING_FIELD, fileName, name, "entry has no \"" + missing + "\"");
            }
            return new TensorEntry(name, dtype, shape, offsets[0], offsets[1]);
        }

        /**
         * {@code text}, refused as invalid JSON when it holds half of a surrogate pair, as the
         * reference refuses it; {@code tensor} is the entry it is in, if any.
         */
        private String unicode(String text, String tensor, String what) {
            int half = JsonText.unpairedSurrogate(text);
            if (half >= 0) {
                throw new SafetensorsException(Rule.BAD_JSON, fileName, tensor, what + " " + JsonText.surrogateProblem(text, half));
            }
            return text;
        }

        private void once(Object seen, String key, String name) {
            if (seen != null) {
                throw new SafetensorsException(Rule.DUPLICATE_KEY, fileName, name, "\"" + key + "\" appears twice");
            }
        }

        private long[] readIntegers(JsonToken start, Rule rule, String name, String field, String what) throws IOException {
            if (start != JsonToken.START_ARRAY) {
                throw new SafetensorsException(rule, fileName, name, field + " is " + kind(start) + ", not an array of integers");
            }
            long[] values = new long[4];
            int count = 0;
            JsonToken t;
            while ((t = p.nextToken()) != JsonToken.END_ARRAY) {
                if (count == values.length) {
                    values = Arrays.copyOf(values, count * 2);
                }
                values[count++] = readNonNegative(t, rule, name, what);
            }
            return Arrays.copyOf(values, count);
        }

        private long readNonNegative(JsonToken t, Rule rule, String name, String what) throws IOException {
            if (t == JsonToken.VALUE_NUMBER_FLOAT) {
                throw new SafetensorsException(rule, fileName, name, what + " " + p.getText() + " is not an integer");
            }
            if (t != JsonToken.VALUE_NUMBER_INT) {
                throw new SafetensorsException(rule, fileName, name, what + " is " + kind(t) + ", not an integer");
            }
            String text = p.getText();
            if (text.startsWith("-") && !text.matches("-0+")) {
                throw new SafetensorsException(rule, fileName, name, what + " " + text + " is negative");
            }
            if (p.getNumberType() == JsonParser.NumberType.BIG_INTEGER) {
                throw new SafetensorsException(rule, fileName, name, what + " " + text + " is larger than " + Long.MAX_VALUE);
            }
            return p.getLongValue();
        }

        private static String kind(JsonToken t) {
            if (t == null) {
                return "missing";
            }
            return switch (t) {
                case START_OBJECT -> "an object";
                case START_ARRAY -> "an array";
                case VALUE_STRING -> "a string";
                case VALUE_NUMBER_INT, VALUE_NUMBER_FLOAT -> "a number";
                case VALUE_TRUE, VALUE_FALSE -> "a boolean";
                case VALUE_NULL -> "null";
                default -> t.asString() == null ? t.name() : t.asString();
            };
        }
    }
}
