import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * Run by bench/inprocess.sh (java -cp cli/target/ugm.jar this file): the same merge command line
 * as `ugm merge`, several times in one JVM, as a server that embeds the library runs it: no
 * process start, and from the second run on, compiled kernels. Before each merge it runs the
 * floor command (a shell line) so that the two are measured side by side.
 *
 * Arguments: RUNS OUT_DIR FLOOR_COMMAND MERGE_ARGS... (MERGE_ARGS without "merge", ending in
 * "--out OUT_DIR"). Prints one line per run: "run N floor F merge M cpu C" in seconds, C the
 * process's CPU time during the merge (all threads, the compilers' too).
 */
public final class InProcessMerge {
    public static void main(String[] args) throws Exception {
        int runs = Integer.parseInt(args[0]);
        Path out = Path.of(args[1]);
        String floor = args[2];
        String[] merge = Stream.concat(Stream.of("merge"), Arrays.stream(args, 3, args.length)).toArray(String[]::new);
        for (int run = 1; run <= runs; run++) {
            double f = seconds(() -> {
                Process p = new ProcessBuilder("bash", "-c", floor).inheritIO().start();
                if (p.waitFor() != 0) {
                    throw new IllegalStateException("the floor command failed: " + floor);
                }
            });
            delete(out); // (replacing an output is not part of a merge's cost)
            StringWriter errors = new StringWriter();
            long cpu0 = cpuNanos();
            int[] code = new int[1];
            double m = seconds(() -> code[0] = ugm.cli.Cli.run(new PrintWriter(System.out, true, StandardCharsets.UTF_8),
                    new PrintWriter(errors, true), merge));
            if (code[0] != 0) {
                throw new IllegalStateException("ugm merge failed (exit " + code[0] + "): " + errors);
            }
            double cpu = (cpuNanos() - cpu0) / 1e9;
            System.out.printf(java.util.Locale.ROOT, "run %d floor %.3f merge %.3f cpu %.3f%n", run, f, m, cpu);
        }
        delete(out);
    }

    /** CPU time of this process so far, every thread (the JIT's too). */
    private static long cpuNanos() {
        return ProcessHandle.current().info().totalCpuDuration().orElseThrow().toNanos();
    }

    private interface Step {
        void run() throws Exception;
    }

    private static double seconds(Step step) throws Exception {
        long start = System.nanoTime();
        step.run();
        return (System.nanoTime() - start) / 1e9;
    }

    private static void delete(Path dir) throws IOException {
        if (Files.exists(dir)) {
            try (Stream<Path> all = Files.walk(dir)) {
                for (Path p : all.sorted(Comparator.reverseOrder()).toList()) {
                    Files.delete(p);
                }
            }
        }
    }
}
