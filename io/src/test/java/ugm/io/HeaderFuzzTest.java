package ugm.io;

import com.code_intelligence.jazzer.junit.DictionaryEntries;
import com.code_intelligence.jazzer.junit.FuzzTest;
import ugm.core.TensorInfo;

/**
 * Coverage-guided fuzzing of the header parser (Jazzer). Every input must end in a parsed header
 * that can be written back, or a {@link SafetensorsException}: anything else thrown (an NPE, an arithmetic or index error,
 * an OutOfMemoryError from allocating per declared element) is a finding, and so is a hang.
 *
 * <p>Without {@code JAZZER_FUZZ} this runs as a regression test over the committed inputs in
 * {@code src/test/resources/ugm/io/HeaderFuzzTestInputs/}. The build fuzzes it for a bounded time
 * in its own JVM (see io/pom.xml); {@code -Dugm.fuzz.skip} skips that.
 *
 * <p>The committed inputs are hand-written seeds ({@code seed-*}) and, from the corpus the fuzzer
 * built, the smallest input for each distinct outcome it reached ({@code found-NNN-<rule>}: one
 * per rule and message shape). One would have failed the write-back invariant, added with its fix:
 * an unpaired surrogate escaped in a name or in metadata was accepted ({@code seed-unpaired-surrogate-*}).
 */
class HeaderFuzzTest {

    @FuzzTest(maxDuration = "25s")
    @DictionaryEntries({"{\"", "\":{\"dtype\":\"", "F32", "BF16", "F16", "F64", "I64", "U8", "BOOL", "F8_E4M3",
            "\",\"shape\":[", "],\"data_offsets\":[", "]}", "\"__metadata__\":{", "1000000000000", "18446744073709551615",
            "9223372036854775807", "-0", "1e3", "\\u0000", "\\ud800"})
    void parse(byte[] file) {
        try {
            SafetensorsHeader h = SafetensorsHeader.parse(file, "fuzz.safetensors");
            long size = h.dataStart();
            for (TensorEntry e : h.entries()) {
                TensorInfo info = e.info();
                if (info.byteSize() != e.byteSize() || e.begin() < 0 || size + e.end() > file.length) {
                    throw new AssertionError("accepted an inconsistent entry " + e);
                }
            }
            // What is accepted is text that can be written back (an unpaired surrogate cannot).
            SafetensorsLayout.of(h.entries().stream().map(TensorEntry::info).toList(), h.metadata());
        } catch (SafetensorsException expected) {
            if (expected.getMessage().contains("\n")) {
                throw new AssertionError("message is not one line: " + expected.getMessage());
            }
        }
    }
}
