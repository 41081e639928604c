package ugm.io;

import com.code_intelligence.jazzer.junit.DictionaryEntries;
import com.code_intelligence.jazzer.junit.FuzzTest;
import java.lang.foreign.MemorySegment;
import java.util.Map;
import ugm.core.DType;
import ugm.io.TorchValue.TensorValue;

/**
 * Coverage-guided fuzzing of the torch.save reader (Jazzer). An input that starts like a zip is
 * read as a whole file (container and pickle); any other input is the pickle {@code data.pkl} of
 * a fixed, valid container holding storages {@code 0} (16 bytes) and {@code 1} (24 bytes), so the
 * fuzzer reaches the pickle machine without having to keep a zip intact. Invariants: only a
 * {@link TorchException} is thrown, its message is one line, and every tensor accepted holds
 * exactly its dtype's bytes for its shape, inside the input.
 *
 * <p>Without {@code JAZZER_FUZZ} this runs as a regression test over the committed inputs in
 * {@code src/test/resources/ugm/io/TorchFuzzTestInputs/read/}: the fixtures of
 * {@code src/test/resources/torch} whole ({@code seed-file-*}) and their pickles alone
 * ({@code seed-pickle-*}). The build fuzzes it for a bounded time in its own JVM (see
 * io/pom.xml); {@code -Dugm.fuzz.skip} skips that.
 */
class TorchFuzzTest {

    private static final Map<String, byte[]> STORAGES = Map.of("0", new byte[16], "1", new byte[24]);

    @FuzzTest(maxDuration = "25s")
    @DictionaryEntries({"PK\u0003\u0004", "PK\u0001\u0002", "PK\u0005\u0006", "PK\u0006\u0006", "PK\u0006\u0007",
            "archive/data.pkl", "archive/data/0", "archive/byteorder", "little", "big", "torch._utils", "_rebuild_tensor_v2",
            "_rebuild_tensor_v3", "_rebuild_parameter", "torch", "FloatStorage", "UntypedStorage", "uint16", "collections",
            "OrderedDict", "__builtin__", "set", "_codecs", "encode", "posix", "system", "X\u0007\u0000\u0000\u0000storage",
            "X\u0003\u0000\u0000\u0000cpu", "X\u0001\u0000\u0000\u00000", "X\u0001\u0000\u0000\u00001", "Q", "R", "b",
            "}q\u0000(", "u.", "K\u0004", "K\u0006"})
    void read(byte[] input) {
        byte[] file = input.length >= 2 && input[0] == 'P' && input[1] == 'K' ? input : TorchZips.torchZip(input, STORAGES);
        MemorySegment bytes = MemorySegment.ofArray(file);
        try {
            TorchValue root = TorchFile.read(bytes, "fuzz.pt");
            TorchFile.collect(root, (path, t) -> check(path, t, file.length));
        } catch (TorchException expected) {
            if (expected.getMessage().contains("\n")) {
                throw new AssertionError("message is not one line: " + expected.getMessage());
            }
        }
    }

    private static void check(String path, TensorValue t, long fileSize) {
        long elements = DType.elementCount(t.shape());
        long start = t.data().address();
        if (t.data().byteSize() != t.dtype().byteSize(elements) || start < 0 || start + t.data().byteSize() > fileSize) {
            throw new AssertionError("accepted an inconsistent tensor at " + path + ": " + t);
        }
    }
}
