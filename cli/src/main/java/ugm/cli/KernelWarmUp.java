package ugm.cli;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Locale;
import java.util.Set;
import ugm.core.kernel.DirectKernel;
import ugm.core.kernel.WarmUp;
import ugm.core.merge.methods.Method;
import ugm.job.config.ConfigParser;

/**
 * Starts {@link WarmUp} for a merge command (and hands it to {@link KernelSetup}, whose policy the
 * merge runs with), on a small file mapping: the inputs and the output
 * of a merge are file mappings, and code compiled on another kind of memory would be thrown
 * away at the first real call. The scratch file is deleted as soon as it is mapped; the mapping
 * is closed when the warm-up ends.
 *
 * <p>It compiles the one direct kernel the merge's method uses where its tensors are all BF16,
 * the common case ({@link #kernelFor}: the merge asks for another where its dtypes need it),
 * and nothing for a method without one: C2's time on a kernel the merge never calls would be a
 * fixed cost for nothing. The method is {@code --method}'s, known from the arguments, or a config's
 * {@code merge_method}, which the warm-up thread reads itself (on the other core, while the main
 * thread starts up and reads the whole config; the classes it loads serve both).
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

    /** Starts the warm-up of the merge {@code args} describe unless {@code -Dugm.warm-up=false}; never fails (a hint only). */
    static void start(String[] args) {
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
        KernelSetup.warmingUp(WarmUp.start(KernelSetup.kernels(), scratch, () -> {
            DirectKernel k = kernelFor(args);
            return k == null ? Set.of() : Set.of(k);
        }, arena::close));
    }

    /**
     * The direct kernel the merge {@code args} describe ({@link #wanted}) will use: that of
     * {@code --method}'s method, or else of the config's {@code merge_method} (the first argument
     * after {@code merge} that is a config naming one: the config comes before the output folder,
     * and option values are no configs), for a merge that subtracts its tasks where
     * {@code --remove} or the config's {@code remove: true} says so; null where the method has
     * none, or none is found. May read a file.
     */
    static DirectKernel kernelFor(String[] args) {
        for (int i = 1; i < args.length; i++) {
            if (args[i].equals("--method") && i + 1 < args.length) {
                return direct(args[i + 1], removes(args));
            }
            if (args[i].startsWith("--method=")) {
                return direct(args[i].substring("--method=".length()), removes(args));
            }
        }
        for (int i = 1; i < args.length; i++) {
            if (!args[i].startsWith("-")) {
                ConfigParser.NamedMethod named;
                try {
                    named = ConfigParser.methodOf(Path.of(args[i]));
                } catch (InvalidPathException e) {
                    continue;
                }
                if (named != null) {
                    return named.method().directKernel(named.removes() || removes(args));
                }
            }
        }
        return null;
    }

    /** Whether {@code --remove} subtracts the tasks. */
    private static boolean removes(String[] args) {
        for (String a : args) {
            if (a.equals("--remove") || a.equals("--remove=true")) {
                return true;
            }
        }
        return false;
    }

    private static DirectKernel direct(String method, boolean subtracts) {
        Method m = Method.byId(method.toLowerCase(Locale.ROOT));
        return m == null ? null : m.directKernel(subtracts);
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
