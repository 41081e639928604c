package ugm.cli;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import ugm.core.kernel.WarmUp;

/**
 * Starts {@link WarmUp} for a merge command (and hands it to {@link KernelSetup}, whose policy the
 * merge runs with), on a small file mapping: the inputs and the output
 * of a merge are file mappings, and code compiled on another kind of memory would be thrown
 * away at the first real call. The scratch file is deleted as soon as it is mapped; the mapping
 * is closed when the warm-up ends.
 */
final class KernelWarmUp {
    private KernelWarmUp() {
    }

    /**
     * Whether the command line is a merge that will run (not a help, version or dry run): known
     * before parsing, so the warm-up can start with the JVM. Picocli still checks everything.
     */
    static boolean wanted(String[] args) {
        if (args.length == 0 || !args[0].equals("merge")) {
            return false;
        }
        for (String a : args) {
            if (a.equals("--help") || a.equals("-h") || a.equals("--dry-run") || a.equals("--version") || a.equals("-V")) {
                return false;
            }
        }
        return true;
    }

    /** Starts the warm-up unless {@code -Dugm.warm-up=false}; never fails (a hint only). */
    static void start() {
        if (!Boolean.parseBoolean(System.getProperty("ugm.warm-up", "true"))) {
            return;
        }
        Arena arena = Arena.ofShared();
        MemorySegment scratch;
        try {
            scratch = mapScratch(arena);
        } catch (IOException | RuntimeException e) {
            scratch = arena.allocate(WarmUp.SCRATCH_BYTES, 64); // no writable temporary folder: plain memory
        }
        KernelSetup.warmingUp(WarmUp.start(KernelSetup.kernels(), scratch, arena::close));
    }

    private static MemorySegment mapScratch(Arena arena) throws IOException {
        Path file = Files.createTempFile("ugm-warm-up-", ".bin");
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            return ch.map(FileChannel.MapMode.READ_WRITE, 0, WarmUp.SCRATCH_BYTES, arena); // grows the file to size
        } finally {
            Files.deleteIfExists(file);
        }
    }
}
