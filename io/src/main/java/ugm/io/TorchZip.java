package ugm.io;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import ugm.io.TorchException.Rule;

/**
 * The zip container of a {@code torch.save} file, read from its mapping: the end record (zip64
 * too, which PyTorch's writer always emits), the central directory, and each entry's local header.
 * Nothing is copied: an entry's bytes are a slice of the mapping. Every offset and size read is
 * checked against the file before it is used, and the number of entries is bounded, so a
 * truncated or hostile container is one {@link TorchException}, never a fault.
 */
final class TorchZip {

    /** More entries than any torch.save file has (one per storage, plus five). */
    static final int MAX_ENTRIES = 1 << 20;

    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private static final int LOCAL = 0x04034b50;
    private static final int CENTRAL = 0x02014b50;
    private static final int END = 0x06054b50;
    private static final int END64 = 0x06064b50;
    private static final int LOCATOR64 = 0x07064b50;
    private static final long MAX32 = 0xFFFFFFFFL;

    /** One entry of the central directory. */
    record Entry(String name, int method, int flags, long localHeader, long compressedSize, long size) {
    }

    private final MemorySegment file;
    private final String fileName;
    private final Map<String, Entry> entries;
    /** Where the central directory starts: every entry's data must end before it. */
    private final long directoryStart;

    private TorchZip(MemorySegment file, String fileName, Map<String, Entry> entries, long directoryStart) {
        this.file = file;
        this.fileName = fileName;
        this.entries = entries;
        this.directoryStart = directoryStart;
    }

    /** Whether the bytes start like a zip (a local file header), as torch.load tells its format. */
    static boolean looksLikeZip(MemorySegment file) {
        return file.byteSize() >= 4 && file.get(U32, 0) == LOCAL;
    }

    /**
     * Reads the central directory.
     *
     * @throws TorchException when the file is not a zip, or its directory is malformed
     */
    static TorchZip read(MemorySegment file, String fileName) {
        long size = file.byteSize();
        if (!looksLikeZip(file)) {
            throw new TorchException(Rule.NOT_TORCH_ZIP, fileName, notZip(file));
        }
        long end = findEnd(file);
        if (end < 0) {
            throw new TorchException(Rule.BAD_ZIP, fileName,
                    "no zip end-of-central-directory record (the file is truncated or not a zip)");
        }
        long count = u16(file, end + 10);
        long dirSize = u32(file, end + 12);
        long dirOffset = u32(file, end + 16);
        if (u16(file, end + 4) != 0 || u16(file, end + 6) != 0) {
            throw new TorchException(Rule.BAD_ZIP, fileName, "multi-part zip archives are not supported");
        }
        long directoryEnd = end;
        if (end >= 20 && file.get(U32, end - 20) == LOCATOR64) {
            long at = file.get(U64, end - 12);
            if (at < 0 || at > end - 20 - 56 || file.get(U32, at) != END64) {
                throw new TorchException(Rule.BAD_ZIP, fileName, "zip64 end record locator points outside the file");
            }
            if (file.get(U32, at + 16) != 0 || file.get(U32, at + 20) != 0) {
                throw new TorchException(Rule.BAD_ZIP, fileName, "multi-part zip archives are not supported");
            }
            count = file.get(U64, at + 32);
            dirSize = file.get(U64, at + 40);
            dirOffset = file.get(U64, at + 48);
            directoryEnd = at;
        }
        if (dirOffset < 0 || dirSize < 0 || dirOffset > directoryEnd || dirSize > directoryEnd - dirOffset) {
            throw new TorchException(Rule.BAD_ZIP, fileName, "central directory (" + dirSize + " bytes at " + dirOffset
                    + ") lies outside the file's " + size + " bytes");
        }
        if (count < 0 || count > MAX_ENTRIES || count > dirSize / 46) {
            throw new TorchException(Rule.BAD_ZIP, fileName, "central directory claims " + Long.toUnsignedString(count)
                    + " entries, more than its " + dirSize + " bytes can hold" + (count > MAX_ENTRIES ? " (or ugm reads)" : ""));
        }
        Map<String, Entry> entries = new LinkedHashMap<>();
        long p = dirOffset;
        long dirEnd = dirOffset + dirSize;
        for (long i = 0; i < count; i++) {
            if (p > dirEnd - 46 || file.get(U32, p) != CENTRAL) {
                throw new TorchException(Rule.BAD_ZIP, fileName, "central directory entry " + i + " of " + count + " is missing or malformed");
            }
            int flags = u16(file, p + 8);
            int method = u16(file, p + 10);
            long compressed = u32(file, p + 20);
            long uncompressed = u32(file, p + 24);
            int nameLength = u16(file, p + 28);
            int extraLength = u16(file, p + 30);
            int commentLength = u16(file, p + 32);
            int disk = u16(file, p + 34);
            long local = u32(file, p + 42);
            long next = p + 46 + nameLength + extraLength + commentLength;
            if (next > dirEnd) {
                throw new TorchException(Rule.BAD_ZIP, fileName, "central directory entry " + i + " runs past the directory's end");
            }
            String name = name(file, p + 46, nameLength, fileName);
            // zip64: the fields that hold 0xFFFFFFFF are in the extra field 0x0001, in this order.
            if (compressed == MAX32 || uncompressed == MAX32 || local == MAX32 || disk == 0xFFFF) {
                long x = p + 46 + nameLength;
                long xEnd = x + extraLength;
                boolean found = false;
                while (x + 4 <= xEnd) {
                    int id = u16(file, x);
                    int len = u16(file, x + 2);
                    if (x + 4 + len > xEnd) {
                        break;
                    }
                    if (id == 1) {
                        long q = x + 4;
                        long qEnd = q + len;
                        if (uncompressed == MAX32) {
                            uncompressed = q + 8 <= qEnd ? file.get(U64, q) : -1;
                            q += 8;
                        }
                        if (compressed == MAX32) {
                            compressed = q + 8 <= qEnd ? file.get(U64, q) : -1;
                            q += 8;
                        }
                        if (local == MAX32) {
                            local = q + 8 <= qEnd ? file.get(U64, q) : -1;
                            q += 8;
                        }
                        if (disk == 0xFFFF) {
                            disk = q + 4 <= qEnd ? file.get(U32, q) : -1;
                        }
                        found = true;
                        break;
                    }
                    x += 4 + len;
                }
                if (!found || uncompressed < 0 || compressed < 0 || local < 0) {
                    throw new TorchException(Rule.BAD_ZIP, fileName, "entry " + name + ": zip64 sizes are missing or malformed");
                }
            }
            if (disk != 0) {
                throw new TorchException(Rule.BAD_ZIP, fileName, "multi-part zip archives are not supported");
            }
            if (local > dirOffset) {
                throw new TorchException(Rule.BAD_ZIP, fileName, "entry " + name + ": local header at " + local
                        + " lies past the central directory");
            }
            if (entries.putIfAbsent(name, new Entry(name, method, flags, local, compressed, uncompressed)) != null) {
                throw new TorchException(Rule.BAD_ZIP, fileName, "entry " + name + " appears twice in the zip");
            }
            p = next;
        }
        return new TorchZip(file, fileName, Collections.unmodifiableMap(entries), dirOffset);
    }

    /** Every entry, in central directory order. */
    Map<String, Entry> entries() {
        return entries;
    }

    /** The entry called {@code name}, or null. */
    Entry entry(String name) {
        return entries.get(name);
    }

    /**
     * An entry's bytes, a slice of the mapping, after checking its local header.
     *
     * @throws TorchException when the entry is compressed or encrypted, or its header or data lie outside the file
     */
    MemorySegment data(Entry e) {
        if ((e.flags() & 1) != 0) {
            throw new TorchException(Rule.NOT_STORED, fileName, "entry " + e.name() + " is encrypted");
        }
        if (e.method() != 0) {
            throw new TorchException(Rule.NOT_STORED, fileName, "entry " + e.name() + " is compressed (zip method " + e.method()
                    + "); torch.save stores entries uncompressed, and ugm maps them in place");
        }
        if (e.compressedSize() != e.size()) {
            throw new TorchException(Rule.BAD_ZIP, fileName, "entry " + e.name() + " is stored but its sizes differ ("
                    + e.compressedSize() + " and " + e.size() + ")");
        }
        long h = e.localHeader();
        if (h > directoryStart - 30 || file.get(U32, h) != LOCAL) {
            throw new TorchException(Rule.BAD_ZIP, fileName, "entry " + e.name() + ": no local header at " + h);
        }
        int nameLength = u16(file, h + 26);
        int extraLength = u16(file, h + 28);
        long start = h + 30 + nameLength + extraLength;
        if (start > directoryStart || e.size() > directoryStart - start) {
            throw new TorchException(Rule.BAD_ZIP, fileName, "entry " + e.name() + ": its " + e.size() + " bytes at " + start
                    + " run past the end of the entries (" + directoryStart + ")");
        }
        byte[] central = e.name().getBytes(StandardCharsets.UTF_8);
        if (nameLength != central.length
                || MemorySegment.ofArray(central).mismatch(file.asSlice(h + 30, nameLength)) != -1) {
            throw new TorchException(Rule.BAD_ZIP, fileName, "entry " + e.name() + ": its local header names another file");
        }
        return file.asSlice(start, e.size()).asReadOnly();
    }

    /** Finds the end-of-central-directory record: its signature, with its comment reaching the file's end. */
    private static long findEnd(MemorySegment file) {
        long size = file.byteSize();
        long lowest = Math.max(0, size - 22 - 0xFFFF);
        for (long p = size - 22; p >= lowest; p--) {
            if (file.get(U32, p) == END && p + 22 + u16(file, p + 20) == size) {
                return p;
            }
        }
        return -1;
    }

    private static String name(MemorySegment file, long at, int length, String fileName) {
        ByteBuffer bytes = file.asSlice(at, length).asByteBuffer();
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(bytes).toString();
        } catch (CharacterCodingException e) {
            throw new TorchException(Rule.BAD_ZIP, fileName, "an entry name is not UTF-8 (at byte " + at + ")");
        }
    }

    private static String notZip(MemorySegment file) {
        if (file.byteSize() >= 2 && file.get(ValueLayout.JAVA_BYTE, 0) == (byte) 0x80 && file.get(ValueLayout.JAVA_BYTE, 1) <= 5) {
            return "not a zip: a torch.save file in the legacy format (PyTorch before 1.6, or "
                    + "_use_new_zipfile_serialization=False), which ugm does not read; load and save it again with a current PyTorch";
        }
        if (file.byteSize() >= 262 && file.asSlice(257, 5).mismatch(MemorySegment.ofArray("ustar".getBytes(StandardCharsets.US_ASCII))) == -1) {
            return "not a zip: a torch.save tar file (PyTorch before 0.4), which ugm does not read";
        }
        return "not a torch.save file (it does not start with a zip header)";
    }

    private static int u16(MemorySegment s, long at) {
        return Short.toUnsignedInt(s.get(U16, at));
    }

    private static long u32(MemorySegment s, long at) {
        return Integer.toUnsignedLong(s.get(U32, at));
    }
}
